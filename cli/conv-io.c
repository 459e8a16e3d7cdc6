/*
 * conv-io.c - `chatctl conv export` and `conv import`: a conversation out
 * as its whole tree (JSON, GET /v1/conversations/{id}/export) or its
 * current branch as Markdown, and conversations in from a file: our own
 * JSON export, or a ChatGPT data export's conversations.json, whose
 * `mapping` trees are converted here into our form before chatd's
 * POST /v1/conversations/import stores each (whole or not at all).
 *
 * The whole file is read and converted before anything is sent, so a
 * file that is not JSON, or not one of the two forms, stores nothing.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define CONVIO_FILE_MAX ((size_t)256 << 20)	/* a large ChatGPT export */
#define CONVIO_DEPTH_MAX 20000	/* nodes on one path: the stack it takes */

/* ---- export ---- */

/* Writes s, then a newline when it lacks one. */
static int convio_block(struct cli_ctx *ctx, const char *s)
{
	size_t n = strlen(s);
	int rc = out_text(ctx, s, n);

	if (rc == CLI_OK && (n == 0 || s[n - 1] != '\n'))
		rc = out_text(ctx, "\n", 1);
	return rc;
}

/* The current branch as Markdown: the title, the system prompt as a
 * quote, then a heading per message. */
static int convio_markdown(struct cli_ctx *ctx, const cJSON *conv)
{
	const cJSON *m, *msgs = cJSON_GetObjectItemCaseSensitive(conv,
								 "messages");
	const char *title = json_str(conv, "title"), *sys, *role, *model;
	char head[256];
	int rc;

	snprintf(head, sizeof(head), "# %s\n", title ? title : "Untitled");
	rc = out_text(ctx, head, strlen(head));
	sys = json_str(conv, "system_prompt");
	if (rc == CLI_OK && sys && sys[0]) {
		rc = out_text(ctx, "\n> **System:** ", 15);
		if (rc == CLI_OK)
			rc = convio_block(ctx, sys);
	}
	cJSON_ArrayForEach(m, msgs) {
		if (rc != CLI_OK)
			break;
		role = json_str(m, "role");
		model = json_str(m, "model");
		if (role && strcmp(role, "assistant") == 0)
			snprintf(head, sizeof(head), "\n## Assistant%s%s%s\n\n",
				 model ? " (" : "", model ? model : "",
				 model ? ")" : "");
		else
			snprintf(head, sizeof(head), "\n## User\n\n");
		rc = out_text(ctx, head, strlen(head));
		if (rc == CLI_OK)
			rc = convio_block(ctx, json_str(m, "content") ?
						       json_str(m, "content") :
						       "");
	}
	return rc;
}

int ctl_conv_export(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *fmt = a->val[OPT_FORMAT] ? a->val[OPT_FORMAT] : "json";
	char id[IDPREFIX_ID_MAX], esc[200], path[300];
	bool md = strcmp(fmt, "md") == 0;
	cJSON *conv = NULL;
	int rc;

	if (!md && strcmp(fmt, "json") != 0) {
		cli_error("'--format' must be md or json, not '%s'", fmt);
		return CLI_USAGE;
	}
	rc = idprefix_conv(ctx, a->pos[0], id, sizeof(id));
	if (rc != CLI_OK)
		return rc;
	if (api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("conversation id too long");
		return CLI_USAGE;
	}
	/* Markdown is the branch one reads; JSON the whole tree */
	snprintf(path, sizeof(path), "/v1/conversations/%s%s", esc,
		 md ? "" : "/export");
	rc = api_json(ctx, "GET", path, NULL, &conv);
	if (rc == CLI_OK)
		rc = md ? convio_markdown(ctx, conv) : out_json(ctx, conv);
	cJSON_Delete(conv);
	return rc;
}

/* ---- ChatGPT's conversations.json ---- */

/* The text of a ChatGPT message: its string parts joined by newlines
 * (images and other objects left out), or content.text; NULL when it
 * has none. */
static char *convio_gpt_text(const cJSON *msg)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(content, "parts");
	const cJSON *p;
	struct buf b;
	char *out = NULL;
	size_t len = 0;

	buf_init(&b, CLI_CONTENT_MAX);
	cJSON_ArrayForEach(p, parts) {
		if (!cJSON_IsString(p) || !p->valuestring[0])
			continue;
		if (buf_printf(&b, "%s%s", b.len ? "\n" : "",
			       p->valuestring) < 0)
			break;
	}
	if (!b.len && json_str(content, "text"))
		buf_puts(&b, json_str(content, "text"));
	if (b.len)
		out = buf_detach(&b, &len);
	buf_release(&b);
	return out;
}

/* The role of a ChatGPT node: "user", "assistant", "system", or NULL
 * for a node to leave out (no message, a tool's answer or a call to a
 * tool, no text); its text into *text (the caller's). */
static const char *convio_gpt_role(const cJSON *node, char **text)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(node, "message");
	const cJSON *author = cJSON_GetObjectItemCaseSensitive(msg, "author");
	const char *role = json_str(author, "role");
	static const char *const kept[] = { "user", "assistant", "system" };
	size_t i;

	*text = NULL;
	if (!cJSON_IsObject(msg) || !role)
		return NULL;
	/* a message to a tool (a browsing call) is no turn of the talk */
	if (json_str(msg, "recipient") &&
	    strcmp(json_str(msg, "recipient"), "all") != 0)
		return NULL;
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcmp(role, kept[i]) == 0)
			break;
	if (i == sizeof(kept) / sizeof(kept[0]))
		return NULL;
	*text = convio_gpt_text(msg);
	return *text ? kept[i] : NULL;
}

/* The state of converting one ChatGPT conversation. */
struct convio_gpt {
	const cJSON *mapping;
	cJSON *messages;		/* our array, being filled */
	char *system;			/* the first system text */
	const char *current;		/* current_node */
	const char *leaf;		/* its nearest kept node */
	cJSON *seen;			/* ids walked: each node once */
};

/* Walks node id (depth first, children in order) under our message
 * parent (NULL: a root): kept nodes become messages, left-out ones pass
 * their children on to parent.  -1 on a malformed tree. */
static int convio_gpt_walk(struct convio_gpt *g, const char *id,
			   const char *parent, int depth)
{
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(g->mapping, id);
	const cJSON *kids = cJSON_GetObjectItemCaseSensitive(node, "children");
	const cJSON *msg, *meta, *k;
	const char *role, *under = parent;
	char *text = NULL;
	cJSON *m;

	/* a node reached twice (a loop, a child of two parents or listed
	 * twice, a key twice in the mapping) would become two messages
	 * with one id: no tree */
	if (!cJSON_IsObject(node) || depth > CONVIO_DEPTH_MAX ||
	    cJSON_GetObjectItemCaseSensitive(g->seen, id) ||
	    !cJSON_AddNullToObject(g->seen, id))
		return -1;
	role = convio_gpt_role(node, &text);
	if (role && strcmp(role, "system") == 0) {
		/* a system message becomes the system prompt, not a turn */
		if (!g->system)
			g->system = text;
		else
			free(text);
		role = NULL;
		text = NULL;
	}
	if (role) {
		msg = cJSON_GetObjectItemCaseSensitive(node, "message");
		meta = cJSON_GetObjectItemCaseSensitive(msg, "metadata");
		m = cJSON_CreateObject();
		if (!m || !cJSON_AddStringToObject(m, "id", id) ||
		    !(parent ? cJSON_AddStringToObject(m, "parent_id", parent) :
			       cJSON_AddNullToObject(m, "parent_id")) ||
		    !cJSON_AddStringToObject(m, "role", role) ||
		    !cJSON_AddStringToObject(m, "content", text) ||
		    (json_str(meta, "model_slug") &&
		     !cJSON_AddStringToObject(m, "model",
					      json_str(meta, "model_slug")))) {
			cJSON_Delete(m);
			free(text);
			return -1;
		}
		cJSON_AddItemToArray(g->messages, m);
		under = json_str(m, "id");
	}
	free(text);
	if (g->current && strcmp(g->current, id) == 0)
		g->leaf = under;
	cJSON_ArrayForEach(k, kids) {
		if (!cJSON_IsString(k) ||
		    convio_gpt_walk(g, k->valuestring, under, depth + 1) < 0)
			return -1;
	}
	return 0;
}

/* One ChatGPT conversation (an object with "mapping") in our form, NULL
 * when malformed or without a message left. */
static cJSON *convio_gpt_conv(const cJSON *in)
{
	struct convio_gpt g = { 0 };
	const cJSON *node;
	cJSON *out = cJSON_CreateObject();
	const char *title = json_str(in, "title");

	g.mapping = cJSON_GetObjectItemCaseSensitive(in, "mapping");
	g.current = json_str(in, "current_node");
	g.messages = cJSON_CreateArray();
	g.seen = cJSON_CreateObject();
	if (!out || !g.messages || !g.seen || !cJSON_IsObject(g.mapping))
		goto fail;
	/* the roots: nodes whose parent is null or absent */
	cJSON_ArrayForEach(node, g.mapping) {
		const cJSON *parent = cJSON_GetObjectItemCaseSensitive(node,
								       "parent");

		if ((!parent || cJSON_IsNull(parent)) &&
		    convio_gpt_walk(&g, node->string, NULL, 0) < 0)
			goto fail;
	}
	if (cJSON_GetArraySize(g.messages) == 0)
		goto fail;
	if ((title && !cJSON_AddStringToObject(out, "title", title)) ||
	    (g.system && !cJSON_AddStringToObject(out, "system_prompt",
						  g.system)) ||
	    (g.leaf && !cJSON_AddStringToObject(out, "current_leaf_id",
						g.leaf)))
		goto fail;
	cJSON_AddItemToObject(out, "messages", g.messages);
	cJSON_Delete(g.seen);
	free(g.system);
	return out;
fail:
	cJSON_Delete(g.seen);
	cJSON_Delete(g.messages);
	cJSON_Delete(out);
	free(g.system);
	return NULL;
}

cJSON *ctl_conv_from_chatgpt(const cJSON *in, char *err, size_t errlen)
{
	const cJSON *c;
	cJSON *all = cJSON_CreateArray(), *one;
	int i = 0;

	if (!all) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cJSON_IsObject(in) &&
	    cJSON_GetObjectItemCaseSensitive(in, "mapping")) {
		one = convio_gpt_conv(in);
		if (!one) {
			snprintf(err, errlen, "its mapping is no message "
				 "tree");
			cJSON_Delete(all);
			return NULL;
		}
		cJSON_AddItemToArray(all, one);
		return all;
	}
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0) {
		snprintf(err, errlen, "it is neither a chatctl export nor a "
			 "ChatGPT conversations.json");
		cJSON_Delete(all);
		return NULL;
	}
	cJSON_ArrayForEach(c, in) {
		one = cJSON_IsObject(c) &&
		      cJSON_GetObjectItemCaseSensitive(c, "mapping") ?
			      convio_gpt_conv(c) : NULL;
		if (!one) {
			snprintf(err, errlen, "conversation %d of the array is "
				 "no ChatGPT conversation with messages", i);
			cJSON_Delete(all);
			return NULL;
		}
		cJSON_AddItemToArray(all, one);
		i++;
	}
	return all;
}

/* ---- import ---- */

cJSON *ctl_conv_parse(const char *text, size_t len, char *err,
		      size_t errlen)
{
	cJSON *in = cJSON_ParseWithLength(text, len), *all = NULL;

	if (!in) {
		snprintf(err, errlen, "it is not JSON");
		return NULL;
	}
	/* our export: one conversation with its messages, moved into the
	 * array so that the caller has one tree to free */
	if (cJSON_IsObject(in) &&
	    cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(in, "messages"))) {
		all = cJSON_CreateArray();
		if (!all || !cJSON_AddItemToArray(all, in)) {
			snprintf(err, errlen, "out of memory");
			cJSON_Delete(all);
			cJSON_Delete(in);
			return NULL;
		}
		return all;
	}
	all = ctl_conv_from_chatgpt(in, err, errlen);
	cJSON_Delete(in);
	return all;
}

int ctl_conv_import(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *file = a->pos[0];
	char *text = NULL, why[256];
	size_t len = 0;
	cJSON *all = NULL, *made = NULL;
	const cJSON *c;
	int rc, n = 0;

	rc = util_read_file(file, CONVIO_FILE_MAX, &text, &len);
	if (rc < 0) {
		cli_error("cannot read '%s': %s", file, chat_strerror(rc));
		return rc == CHAT_ENOTFOUND ? CLI_NOTFOUND : CLI_USAGE;
	}
	all = ctl_conv_parse(text, len, why, sizeof(why));
	free(text);
	if (!all) {
		cli_error("cannot import '%s': %s", file, why);
		return CLI_USAGE;
	}
	rc = api_need_creds(ctx);
	cJSON_ArrayForEach(c, all) {
		if (rc != CLI_OK)
			break;
		rc = api_json(ctx, "POST", "/v1/conversations/import", c,
			      &made);
		if (rc == CLI_OK && json_str(made, "id")) {
			printf("%s\n", json_str(made, "id"));
			n++;
		}
		cJSON_Delete(made);
		made = NULL;
	}
	if (n && ctx->stderr_tty)
		fprintf(stderr, "chatctl: imported %d conversation%s\n", n,
			n == 1 ? "" : "s");
	cJSON_Delete(all);
	return rc;
}
