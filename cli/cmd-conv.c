/*
 * cmd-conv.c - `chatctl conv ls|show|rm|rename|archive|unarchive|
 * regenerate|branch` (export and import: conv-io.c): the conversations
 * of the account.  ls is a table (newest first) or JSON, following the
 * cursor through every page with --all; show prints the current branch
 * as "role: text" blocks; branch shows where the current branch has
 * alternatives and switches to another; regenerate asks for another
 * answer to the last question.  Ids may be given by a unique prefix
 * (idprefix.c).
 */
#include "chatctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define CTL_CONV_PAGE_MAX 100
#define CONV_TITLE_PIPE_MAX 60	/* title columns when not on a terminal */

/* "/v1/conversations/<escaped id><suffix>" */
static int ctl_conv_path(const char *id, const char *suffix, char *out,
			 size_t outlen)
{
	char esc[200];

	if (api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("conversation id '%.40s...' too long", id);
		return CLI_USAGE;
	}
	snprintf(out, outlen, "/v1/conversations/%s%s", esc, suffix);
	return CLI_OK;
}

static int ctl_conv_limit(const struct cli_args *a, long *out)
{
	const char *s = a->val[OPT_LIMIT];
	char *end;
	long n;

	*out = a->count[OPT_ALL] ? CTL_CONV_PAGE_MAX : 20;
	if (!s)
		return CLI_OK;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 1 || n > CTL_CONV_PAGE_MAX) {
		cli_error("'--limit' must be a number from 1 to %d, not '%s'",
			  CTL_CONV_PAGE_MAX, s);
		return CLI_USAGE;
	}
	*out = n;
	return CLI_OK;
}

/* Fetches the list into *all ({"data":[...],"next_cursor":...}): one
 * page, or every page with --all. */
static int ctl_conv_fetch(struct cli_ctx *ctx, const struct cli_args *a,
			  long limit, cJSON **all)
{
	char path[2048], cursor[512] = "", q[1024] = "", cur[600];
	cJSON *page = NULL, *data, *items, *next;
	bool more;
	int rc;

	*all = NULL;
	if (a->val[OPT_QUERY] &&
	    api_escape(a->val[OPT_QUERY], q, sizeof(q)) < 0) {
		cli_error("the query is too long");
		return CLI_USAGE;
	}
	for (;;) {
		cur[0] = '\0';
		if (cursor[0] && api_escape(cursor, cur, sizeof(cur)) < 0) {
			rc = CLI_SERVER;
			cli_error("the server's cursor is too long");
			break;
		}
		snprintf(path, sizeof(path),
			 "/v1/conversations?limit=%ld%s%s%s%s%s", limit,
			 a->count[OPT_ARCHIVED] ? "&archived=true" : "",
			 q[0] ? "&q=" : "", q, cur[0] ? "&cursor=" : "", cur);
		rc = api_json(ctx, "GET", path, NULL, &page);
		if (rc != CLI_OK)
			break;
		data = cJSON_GetObjectItemCaseSensitive(page, "data");
		next = cJSON_GetObjectItemCaseSensitive(page, "next_cursor");
		if (!cJSON_IsArray(data)) {
			cli_error("the server's list is malformed");
			rc = CLI_SERVER;
			break;
		}
		/* the next cursor, copied before this page may be freed */
		more = a->count[OPT_ALL] && cJSON_IsString(next) &&
		       next->valuestring[0];
		if (more && strlen(next->valuestring) >= sizeof(cursor)) {
			cli_error("the server's cursor is too long");
			rc = CLI_SERVER;
			break;
		}
		if (more)
			snprintf(cursor, sizeof(cursor), "%s",
				 next->valuestring);
		if (!*all) {
			*all = page;
			page = NULL;
		} else {
			/* move this page's items to the first page's array */
			items = cJSON_GetObjectItemCaseSensitive(*all, "data");
			while (cJSON_GetArraySize(data) > 0) {
				cJSON *it = cJSON_DetachItemFromArray(data, 0);

				cJSON_AddItemToArray(items, it);
			}
			cJSON_ReplaceItemInObjectCaseSensitive(
				*all, "next_cursor", cJSON_Duplicate(next, 1));
			cJSON_Delete(page);
			page = NULL;
		}
		if (!more)
			break;
	}
	cJSON_Delete(page);
	if (rc != CLI_OK) {
		cJSON_Delete(*all);
		*all = NULL;
	}
	return rc;
}

/* The MODEL of conversations that name none: the model that will answer
 * them (ctl_model_default), set by ls before the rows are made. */
static char ctl_conv_default_model[128] = "default";

static int ctl_conv_row(struct table *t, const cJSON *c)
{
	char updated[64];
	const char *row[4];

	out_time(json_str(c, "updated_at"), updated, sizeof(updated));
	row[0] = json_str(c, "id");
	row[1] = updated;
	row[2] = json_str(c, "model") ? json_str(c, "model") :
					ctl_conv_default_model;
	row[3] = json_str(c, "title") ? json_str(c, "title") : "(untitled)";
	return table_add(t, row);
}

/* Whether a conversation of the list names no model. */
static bool ctl_conv_any_unset(const cJSON *list)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(list, "data"))
		if (!json_str(c, "model"))
			return true;
	return false;
}

static int ctl_conv_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "UPDATED", "MODEL",
					    "TITLE" };
	cJSON *all = NULL;
	long limit;
	int rc;

	rc = ctl_conv_limit(a, &limit);
	if (rc == CLI_OK)
		rc = ctl_conv_fetch(ctx, a, limit, &all);
	if (rc == CLI_OK && ctl_conv_any_unset(all))
		ctl_model_default(ctx, ctl_conv_default_model,
				  sizeof(ctl_conv_default_model));
	if (rc == CLI_OK)
		rc = out_list(ctx, all, false, head, 4,
			      ctl_conv_row, CONV_TITLE_PIPE_MAX);
	cJSON_Delete(all);
	return rc;
}

static int ctl_conv_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[256], head[96], id[IDPREFIX_ID_MAX];
	const cJSON *msgs, *m;
	const char *role, *content, *status;
	cJSON *conv = NULL;
	size_t len;
	bool first = true;
	int rc;

	rc = idprefix_conv(ctx, a->pos[0], id, sizeof(id));
	if (rc == CLI_OK)
		rc = ctl_conv_path(id, "", path, sizeof(path));
	if (rc == CLI_OK)
		rc = api_json(ctx, "GET", path, NULL, &conv);
	if (rc != CLI_OK)
		return rc;
	if (out_is_json(ctx)) {
		rc = out_json(ctx, conv);
		cJSON_Delete(conv);
		return rc;
	}
	msgs = cJSON_GetObjectItemCaseSensitive(conv, "messages");
	cJSON_ArrayForEach(m, msgs) {
		role = json_str(m, "role");
		content = json_str(m, "content");
		status = json_str(m, "status");
		if (!content)
			content = "";
		/* an answer that is not complete says so in its heading */
		if (status && strcmp(status, "complete") != 0)
			snprintf(head, sizeof(head), "%s%s (%s): ",
				 first ? "" : "\n", role ? role : "?", status);
		else
			snprintf(head, sizeof(head), "%s%s: ",
				 first ? "" : "\n", role ? role : "?");
		first = false;
		len = strlen(content);
		rc = out_text(ctx, head, strlen(head));
		if (rc == CLI_OK)
			rc = out_text(ctx, content, len);
		if (rc == CLI_OK && (len == 0 || content[len - 1] != '\n'))
			rc = out_text(ctx, "\n", 1);
		if (rc != CLI_OK)
			break;
	}
	cJSON_Delete(conv);
	return rc;
}

/* "/v1/conversations/<escaped id>" */
static int ctl_conv_id_path(const char *id, char *out, size_t outlen)
{
	return ctl_conv_path(id, "", out, outlen);
}

static int ctl_conv_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	char (*ids)[IDPREFIX_ID_MAX] = NULL;
	char **ptrs = NULL;
	int i, rc = CLI_OK;

	/* every id resolved before the first is deleted: a typo in the
	 * third must not leave the first two gone */
	ids = calloc((size_t)a->npos, sizeof(*ids));
	ptrs = calloc((size_t)a->npos, sizeof(*ptrs));
	if (!ids || !ptrs) {
		cli_error("out of memory");
		rc = CLI_SERVER;
	}
	for (i = 0; i < a->npos && rc == CLI_OK; i++) {
		rc = idprefix_conv(ctx, a->pos[i], ids[i], sizeof(ids[i]));
		ptrs[i] = ids[i];
	}
	if (rc == CLI_OK)
		rc = api_delete_each(ctx, ptrs, a->npos, ctl_conv_id_path);
	free(ptrs);
	free(ids);
	return rc;
}

static int ctl_conv_rename(struct cli_ctx *ctx, const struct cli_args *a)
{
	char id[IDPREFIX_ID_MAX];
	struct buf title;
	int i, rc;

	rc = idprefix_conv(ctx, a->pos[0], id, sizeof(id));
	if (rc != CLI_OK)
		return rc;
	buf_init(&title, 64 * 1024);
	for (i = 1; i < a->npos && rc == CLI_OK; i++)
		if (buf_printf(&title, "%s%s", i > 1 ? " " : "",
			       a->pos[i]) < 0) {
			cli_error("the title is too long");
			rc = CLI_USAGE;
		}
	if (rc == CLI_OK)
		rc = ctl_conv_patch_string(ctx, id, "title",
					   title.data ? title.data : "");
	buf_release(&title);
	return rc;
}

/* PATCH {"archived": archived} on each conversation of a->pos. */
static int ctl_conv_set_archived(struct cli_ctx *ctx,
				 const struct cli_args *a, bool archived)
{
	char id[IDPREFIX_ID_MAX], path[256];
	cJSON *body = cJSON_CreateObject(), *conv = NULL;
	int i, rc = CLI_OK, worst = CLI_OK;

	if (!body || !cJSON_AddBoolToObject(body, "archived", archived)) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	for (i = 0; i < a->npos; i++) {
		rc = idprefix_conv(ctx, a->pos[i], id, sizeof(id));
		if (rc == CLI_OK)
			rc = ctl_conv_path(id, "", path, sizeof(path));
		if (rc == CLI_OK)
			rc = api_json(ctx, "PATCH", path, body, &conv);
		cJSON_Delete(conv);
		conv = NULL;
		if (rc != CLI_OK && worst == CLI_OK)
			worst = rc;
		if (rc == CLI_AUTH || rc == CLI_INTERRUPTED)
			break;	/* the next ones would fail alike */
	}
	cJSON_Delete(body);
	return worst;
}

static int ctl_conv_archive(struct cli_ctx *ctx, const struct cli_args *a)
{
	return ctl_conv_set_archived(ctx, a, true);
}

static int ctl_conv_unarchive(struct cli_ctx *ctx, const struct cli_args *a)
{
	return ctl_conv_set_archived(ctx, a, false);
}

/* The conversation arg names (a prefix will do), with its current
 * branch, into *conv (the caller's); its id into id. */
static int ctl_conv_get(struct cli_ctx *ctx, const char *arg, char *id,
			size_t idlen, cJSON **conv)
{
	char path[256];
	int rc;

	*conv = NULL;
	rc = idprefix_conv(ctx, arg, id, idlen);
	if (rc == CLI_OK)
		rc = ctl_conv_path(id, "", path, sizeof(path));
	if (rc == CLI_OK)
		rc = api_json(ctx, "GET", path, NULL, conv);
	return rc;
}

/* The length of the shortest prefixes that tell every message id of
 * the branch and of their siblings apart (at least 8): UUIDv7 ids made
 * in the same moment share their first dozen characters. */
static int ctl_conv_short_len(const cJSON *msgs)
{
	const cJSON *m, *s, *m2, *s2;
	size_t n;
	int len = 8;

	cJSON_ArrayForEach(m, msgs) {
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(
					      m, "sibling_ids")) {
			cJSON_ArrayForEach(m2, msgs) {
				cJSON_ArrayForEach(s2,
					cJSON_GetObjectItemCaseSensitive(
						m2, "sibling_ids")) {
					if (s == s2 || !cJSON_IsString(s) ||
					    !cJSON_IsString(s2))
						continue;
					for (n = 0; s->valuestring[n] &&
					     s->valuestring[n] ==
						     s2->valuestring[n];
					     n++)
						;
					if ((int)n + 1 > len)
						len = (int)n + 1;
				}
			}
		}
	}
	return len;
}

/* A row of `conv branch`: the message, its place among its siblings
 * ("2/3", empty when it has none), the others' ids cut to short, its
 * text's first line. */
static int ctl_conv_branch_row(struct table *t, const cJSON *m, int short_len)
{
	const cJSON *sib = cJSON_GetObjectItemCaseSensitive(m, "sibling_ids");
	const cJSON *s;
	const char *id = json_str(m, "id"), *text = json_str(m, "content");
	char place[32] = "", others[256] = "", line[512];
	const char *row[5];
	size_t off = 0;
	int n = cJSON_GetArraySize(sib), k = 0, at = 0, w;

	cJSON_ArrayForEach(s, sib) {
		k++;
		if (!cJSON_IsString(s))
			continue;
		if (id && strcmp(s->valuestring, id) == 0) {
			at = k;
			continue;
		}
		w = snprintf(others + off, sizeof(others) - off, "%s%.*s",
			     off ? " " : "", short_len, s->valuestring);
		if (w < 0 || (size_t)w >= sizeof(others) - off)
			break;	/* a cell has room for a few */
		off += (size_t)w;
	}
	if (n > 1)
		snprintf(place, sizeof(place), "%d/%d", at, n);
	snprintf(line, sizeof(line), "%.*s",
		 text ? (int)strcspn(text, "\n") : 0, text ? text : "");
	row[0] = id;
	row[1] = json_str(m, "role");
	row[2] = place;
	row[3] = others;
	row[4] = line;
	return table_add(t, row);
}

/* conv branch ID: the current branch, root first, with where it could
 * go another way; conv branch ID MSG: the current branch becomes the
 * newest one through message MSG (a sibling the first form shows). */
static int ctl_conv_branch(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "ROLE", "BRANCH", "OTHERS",
					    "TEXT" };
	char id[IDPREFIX_ID_MAX], mid[IDPREFIX_ID_MAX], path[256];
	cJSON *conv = NULL, *body = NULL, *after = NULL;
	const cJSON *msgs, *m;
	struct table t;
	int rc, short_len;

	rc = ctl_conv_get(ctx, a->pos[0], id, sizeof(id), &conv);
	if (rc != CLI_OK)
		goto out;
	msgs = cJSON_GetObjectItemCaseSensitive(conv, "messages");
	if (a->npos < 2 && out_is_json(ctx)) {
		rc = out_json(ctx, msgs);
		goto out;
	}
	if (a->npos < 2) {
		short_len = ctl_conv_short_len(msgs);
		table_init(&t, 5);
		rc = table_add(&t, head) < 0 ? CLI_SERVER : CLI_OK;
		cJSON_ArrayForEach(m, msgs) {
			if (rc == CLI_OK &&
			    ctl_conv_branch_row(&t, m, short_len) < 0)
				rc = CLI_SERVER;
		}
		if (rc == CLI_OK)
			rc = table_print(ctx, &t, 60);
		else
			cli_error("out of memory");
		table_release(&t);
		goto out;
	}
	rc = idprefix_msg(conv, a->pos[1], mid, sizeof(mid));
	if (rc != CLI_OK)
		goto out;
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "current_leaf_id", mid)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	rc = ctl_conv_path(id, "", path, sizeof(path));
	if (rc == CLI_OK)
		rc = api_json(ctx, "PATCH", path, body, &after);
	if (rc == CLI_OK && json_str(after, "current_leaf_id"))
		fprintf(stderr, "chatctl: the current branch now ends at %s\n",
			json_str(after, "current_leaf_id"));
out:
	cJSON_Delete(after);
	cJSON_Delete(body);
	cJSON_Delete(conv);
	return rc;
}

/* conv regenerate ID: another answer to the last question of the
 * current branch (a sibling of its answer, or the answer a failed
 * question never got), streamed to stdout as ask does. */
static int ctl_conv_regenerate(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct ctl_send_opts o = { 0 };
	struct ctl_send_result r;
	char id[IDPREFIX_ID_MAX];
	const cJSON *msgs, *last;
	cJSON *conv = NULL;
	int rc;

	ctl_send_result_init(&r);
	rc = ctl_conv_get(ctx, a->pos[0], id, sizeof(id), &conv);
	if (rc != CLI_OK)
		goto out;
	msgs = cJSON_GetObjectItemCaseSensitive(conv, "messages");
	last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
	if (!last || !json_str(last, "id")) {
		cli_error("conversation '%s' has no message to answer again",
			  id);
		rc = CLI_NOTFOUND;
		goto out;
	}
	cli_catch_interrupt();
	o.conversation_id = id;
	o.regenerate_id = json_str(last, "id");
	o.model = a->val['m'];
	o.stream = !a->count[OPT_NO_STREAM];
	o.print = true;
	rc = ctl_send_message(ctx, &o, &r);
	if (rc == CLI_OK && r.newline_pending)
		rc = out_text(ctx, "\n", 1);
out:
	ctl_send_result_release(&r);
	cJSON_Delete(conv);
	return rc;
}

static const struct cli_cmd ctl_conv_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the conversations, newest first",
		.opts = (const int[]){ OPT_LIMIT, OPT_ALL, OPT_QUERY,
				       OPT_ARCHIVED, OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = ctl_conv_ls,
	},
	{
		.name = "show",
		.args = "ID",
		.summary = "print a conversation's current branch",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = ctl_conv_show,
		.complete = "@conv-ids",
	},
	{
		.name = "rm",
		.args = "ID...",
		.summary = "delete conversations",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = ctl_conv_rm,
		.complete = "@conv-ids",
	},
	{
		.name = "rename",
		.args = "ID TITLE...",
		.summary = "set a conversation's title",
		.opts = (const int[]){ 0 },
		.min_pos = 2,
		.max_pos = -1,
		.exec = ctl_conv_rename,
		.complete = "@conv-ids",
	},
	{
		.name = "archive",
		.args = "ID...",
		.summary = "archive conversations (out of ls, kept)",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = ctl_conv_archive,
		.complete = "@conv-ids",
	},
	{
		.name = "unarchive",
		.args = "ID...",
		.summary = "bring archived conversations back",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = ctl_conv_unarchive,
		.complete = "@conv-ids",
	},
	{
		.name = "export",
		.args = "ID",
		.summary = "print a conversation: the whole tree, or Markdown",
		.opts = (const int[]){ OPT_FORMAT, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = ctl_conv_export,
		.complete = "@conv-ids",
	},
	{
		.name = "import",
		.args = "FILE",
		.summary = "store conversations from an export (ours, ChatGPT's)",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = ctl_conv_import,
	},
	{
		.name = "regenerate",
		.args = "ID",
		.summary = "answer the last question of a conversation again",
		.opts = (const int[]){ 'm', OPT_NO_STREAM, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = ctl_conv_regenerate,
		.complete = "@conv-ids",
	},
	{
		.name = "branch",
		.args = "ID [MSG]",
		.summary = "show the current branch, or switch to MSG's",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 2,
		.exec = ctl_conv_branch,
		.complete = "@conv-ids",
	},
	{ 0 },
};

const struct cli_cmd cmd_conv = {
	.name = "conv",
	.args = "",
	.summary = "the conversations of the account",
	.opts = (const int[]){ 0 },
	.verbs = ctl_conv_verbs,
};
