/*
 * cmd-conv.c - `chatctl conv ls|show|rm|rename`: the conversations of
 * the account.  ls is a table (newest first) or JSON, following the
 * cursor through every page with --all; show prints the current branch
 * as "role: text" blocks.
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
			 "/v1/conversations?limit=%ld%s%s%s%s", limit,
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
	char path[256], head[96];
	const cJSON *msgs, *m;
	const char *role, *content, *status;
	cJSON *conv = NULL;
	size_t len;
	bool first = true;
	int rc;

	rc = ctl_conv_path(a->pos[0], "", path, sizeof(path));
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
	return api_delete_each(ctx, a->pos, a->npos, ctl_conv_id_path);
}

static int ctl_conv_rename(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct buf title;
	int i, rc = CLI_OK;

	buf_init(&title, 64 * 1024);
	for (i = 1; i < a->npos && rc == CLI_OK; i++)
		if (buf_printf(&title, "%s%s", i > 1 ? " " : "",
			       a->pos[i]) < 0) {
			cli_error("the title is too long");
			rc = CLI_USAGE;
		}
	if (rc == CLI_OK)
		rc = ctl_conv_patch_string(ctx, a->pos[0], "title",
					   title.data ? title.data : "");
	buf_release(&title);
	return rc;
}

static const struct cli_cmd ctl_conv_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the conversations, newest first",
		.opts = (const int[]){ OPT_LIMIT, OPT_ALL, OPT_QUERY,
				       OUT_OPTS, 0 },
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
	{ 0 },
};

const struct cli_cmd cmd_conv = {
	.name = "conv",
	.args = "",
	.summary = "the conversations of the account",
	.opts = (const int[]){ 0 },
	.verbs = ctl_conv_verbs,
};
