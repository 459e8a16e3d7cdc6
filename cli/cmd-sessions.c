/*
 * cmd-sessions.c - `chatctl sessions ls|rm`: the device sessions of the
 * account (GET /v1/sessions, every page), the current one marked, and
 * their revocation (DELETE /v1/sessions/{id}), one by one or every one
 * but the current with --others.  Sessions need a signed-in login: with
 * CHAT_API_KEY the server answers 403 (exit 2).
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define SESSIONS_PAGE 100
#define SESSIONS_PAGES_MAX 100	/* 10000 sessions: far past any account */

/* Every session into *all ({"data":[...]}, the first page's object with
 * the others' items moved in). */
static int sessions_fetch(struct cli_ctx *ctx, cJSON **all)
{
	char path[1024], cur[600];
	cJSON *page = NULL, *data, *items;
	const char *next;
	int rc = CLI_OK, n;

	*all = NULL;
	cur[0] = '\0';
	for (n = 0; n < SESSIONS_PAGES_MAX; n++) {
		snprintf(path, sizeof(path), "/v1/sessions?limit=%d%s%s",
			 SESSIONS_PAGE, cur[0] ? "&cursor=" : "", cur);
		rc = api_json(ctx, "GET", path, NULL, &page);
		if (rc != CLI_OK)
			break;
		data = cJSON_GetObjectItemCaseSensitive(page, "data");
		if (!cJSON_IsArray(data)) {
			cli_error("the server's list is malformed");
			rc = CLI_SERVER;
			break;
		}
		next = json_str(page, "next_cursor");
		cur[0] = '\0';
		if (next && next[0] && api_escape(next, cur, sizeof(cur)) < 0) {
			cli_error("the server's cursor is too long");
			rc = CLI_SERVER;
			break;
		}
		if (!*all) {
			*all = page;
		} else {
			items = cJSON_GetObjectItemCaseSensitive(*all, "data");
			while (cJSON_GetArraySize(data) > 0)
				cJSON_AddItemToArray(
					items, cJSON_DetachItemFromArray(data, 0));
			cJSON_Delete(page);
		}
		page = NULL;
		if (!cur[0])
			break;
	}
	cJSON_Delete(page);
	if (rc != CLI_OK) {
		cJSON_Delete(*all);
		*all = NULL;
	}
	return rc;
}

static bool sessions_current(const cJSON *s)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "current"));
}

static int sessions_row(struct table *t, const cJSON *s)
{
	char seen[64], created[64];
	const char *row[6];

	out_time(json_str(s, "last_used_at"), seen, sizeof(seen));
	out_time(json_str(s, "created_at"), created, sizeof(created));
	row[0] = json_str(s, "id");
	row[1] = sessions_current(s) ? "*" : "";
	row[2] = seen;
	row[3] = created;
	row[4] = json_str(s, "ip") ? json_str(s, "ip") : "-";
	row[5] = json_str(s, "user_agent") ? json_str(s, "user_agent") : "-";
	return table_add(t, row);
}

static int sessions_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "CURRENT", "LAST SEEN",
					    "CREATED", "ADDRESS", "DEVICE" };
	cJSON *all = NULL;
	int rc;

	(void)a;	/* --json and --output: ctx->out_format */
	rc = sessions_fetch(ctx, &all);
	if (rc == CLI_OK)
		rc = out_list(ctx, all, false, head, 6, sessions_row, 60);
	cJSON_Delete(all);
	return rc;
}

/* "/v1/sessions/<escaped id>" */
static int sessions_path(const char *id, char *out, size_t outlen)
{
	char esc[200];

	if (api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("session id '%.40s...' too long", id);
		return CLI_USAGE;
	}
	snprintf(out, outlen, "/v1/sessions/%s", esc);
	return CLI_OK;
}

/* Revokes every session but the current one. */
static int sessions_rm_others(struct cli_ctx *ctx)
{
	const cJSON *s, *data;
	cJSON *all = NULL;
	char **ids = NULL;
	int n = 0, rc;

	rc = sessions_fetch(ctx, &all);
	if (rc != CLI_OK)
		return rc;
	data = cJSON_GetObjectItemCaseSensitive(all, "data");
	ids = calloc((size_t)cJSON_GetArraySize(data) + 1, sizeof(*ids));
	if (!ids) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	cJSON_ArrayForEach(s, data) {
		/* the list's strings live as long as all */
		if (!sessions_current(s) && json_str(s, "id"))
			ids[n++] = (char *)json_str(s, "id");
	}
	rc = api_delete_each(ctx, ids, n, sessions_path);
	if (rc == CLI_OK)
		fprintf(stderr, "chatctl: revoked %d other session%s\n", n,
			n == 1 ? "" : "s");
out:
	free(ids);
	cJSON_Delete(all);
	return rc;
}

static int sessions_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	if (a->count[OPT_OTHERS] && a->npos) {
		cli_error("give either session ids or --others, not both");
		return CLI_USAGE;
	}
	if (a->count[OPT_OTHERS])
		return sessions_rm_others(ctx);
	if (!a->npos) {
		cli_error("'sessions rm' needs ID... or --others (see "
			  "'chatctl sessions rm --help')");
		return CLI_USAGE;
	}
	return api_delete_each(ctx, a->pos, a->npos, sessions_path);
}

static const struct cli_cmd sessions_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the device sessions, the current one marked",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = sessions_ls,
	},
	{
		.name = "rm",
		.args = "ID...|--others",
		.summary = "revoke device sessions (--others: all but this)",
		.opts = (const int[]){ OPT_OTHERS, 0 },
		.min_pos = 0,
		.max_pos = -1,
		.exec = sessions_rm,
	},
	{ 0 },
};

const struct cli_cmd cmd_sessions = {
	.name = "sessions",
	.args = "",
	.summary = "the device sessions of the account",
	.opts = (const int[]){ 0 },
	.verbs = sessions_verbs,
};
