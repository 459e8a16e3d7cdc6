/*
 * cmd-notifications.c - `chatctl notifications ls|read`: the account's
 * in-app notifications (GET /v1/notifications, newest first, the unread
 * ones marked and counted on stderr) and marking them read (POST
 * /v1/notifications/{id}/read, one by one, or POST
 * /v1/notifications/read-all with --all).  `chatctl admin broadcast` is
 * cmd-admin.c's.
 */
#include "chatctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define NOTES_LIMIT_MAX 100	/* the server's page */

static int notes_row(struct table *t, const cJSON *n)
{
	char when[64];
	const char *row[5];

	out_time(json_str(n, "created_at"), when, sizeof(when));
	row[0] = json_str(n, "id");
	row[1] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "read")) ?
		 "" : "*";
	row[2] = when;
	row[3] = json_str(n, "category");
	row[4] = json_str(n, "kind") &&
		 strcmp(json_str(n, "kind"), "broadcast") == 0 ?
		 json_str(n, "body") : json_str(n, "title");
	return table_add(t, row);
}

static int notes_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "NEW", "WHEN", "CATEGORY",
					    "WHAT" };
	const char *s = a->val[OPT_LIMIT];
	const cJSON *unread;
	cJSON *page = NULL;
	char path[128], *end;
	long limit = 20;
	int rc;

	if (s) {
		errno = 0;
		limit = strtol(s, &end, 10);
		if (errno || end == s || *end || limit < 1 ||
		    limit > NOTES_LIMIT_MAX) {
			cli_error("'--limit' must be a number from 1 to %d, "
				  "not '%s'", NOTES_LIMIT_MAX, s);
			return CLI_USAGE;
		}
	}
	snprintf(path, sizeof(path), "/v1/notifications?limit=%ld%s", limit,
		 a->count[OPT_UNREAD] ? "&unread=true" : "");
	rc = api_json(ctx, "GET", path, NULL, &page);
	if (rc != CLI_OK)
		goto out;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(page, "data"))) {
		cli_error("the server's list is malformed");
		rc = CLI_SERVER;
		goto out;
	}
	rc = out_list(ctx, page, false, head, 5, notes_row, 80);
	unread = cJSON_GetObjectItemCaseSensitive(page, "unread");
	if (rc == CLI_OK && !out_is_json(ctx) && cJSON_IsNumber(unread))
		fprintf(stderr, "chatctl: %d unread\n", unread->valueint);
out:
	cJSON_Delete(page);
	return rc;
}

static int notes_read(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[300], esc[200];
	cJSON *res = NULL;
	int i, rc = CLI_OK, one;

	if (a->count[OPT_ALL] && a->npos) {
		cli_error("give either notification ids or --all, not both");
		return CLI_USAGE;
	}
	if (a->count[OPT_ALL]) {
		rc = api_json(ctx, "POST", "/v1/notifications/read-all", NULL,
			      &res);
		cJSON_Delete(res);
		return rc;
	}
	if (!a->npos) {
		cli_error("'notifications read' needs ID... or --all (see "
			  "'chatctl notifications read --help')");
		return CLI_USAGE;
	}
	for (i = 0; i < a->npos; i++) {
		if (api_escape(a->pos[i], esc, sizeof(esc)) < 0) {
			cli_error("notification id '%.40s...' too long",
				  a->pos[i]);
			one = CLI_USAGE;
		} else {
			snprintf(path, sizeof(path),
				 "/v1/notifications/%s/read", esc);
			one = api_json(ctx, "POST", path, NULL, &res);
			cJSON_Delete(res);
			res = NULL;
		}
		if (one != CLI_OK && rc == CLI_OK)
			rc = one;
		/* the next ones would fail the same way */
		if (one == CLI_AUTH || one == CLI_INTERRUPTED)
			break;
	}
	return rc;
}

static const struct cli_cmd notes_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the notifications, newest first, the unread "
			   "marked",
		.opts = (const int[]){ OPT_UNREAD, OPT_LIMIT, OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = notes_ls,
	},
	{
		.name = "read",
		.args = "ID...|--all",
		.summary = "mark notifications read (--all: every one)",
		.opts = (const int[]){ OPT_ALL, 0 },
		.min_pos = 0,
		.max_pos = -1,
		.exec = notes_read,
	},
	{ 0 },
};

const struct cli_cmd cmd_notifications = {
	.name = "notifications",
	.args = "",
	.summary = "the account's in-app notifications",
	.opts = (const int[]){ 0 },
	.verbs = notes_verbs,
};
