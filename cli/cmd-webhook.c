/*
 * cmd-webhook.c - `chatctl webhook`: the account's webhook endpoints
 * (/v1/webhooks, notifyd):
 *   add URL [--event TYPE]... [--json]   prints the id and the secret,
 *                                        which is never shown again
 *   ls                                   the endpoints
 *   rm ID...                             deletes them
 *   test ID                              a webhook.test message now
 *   deliveries ID [--limit N]            the delivery log, newest first
 *   redeliver ID [MSG | --since TIME]    one message again, or every one
 *                                        since TIME (same webhook-id)
 *   rotate ID                            a new secret (shown once); the
 *                                        old one signs beside it a while
 * Without --event an endpoint gets every event type of its owner ("*").
 */
#include "chatctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define WH_LIMIT_MAX 100	/* the server's page */

/* The endpoint's path (plus tail) into path; CLI_USAGE when too long. */
static int wh_path(const char *id, const char *tail, char *path,
		   size_t len)
{
	char esc[200];

	if (api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("webhook id '%.40s...' too long", id);
		return CLI_USAGE;
	}
	snprintf(path, len, "/v1/webhooks/%s%s", esc, tail);
	return CLI_OK;
}

static int wh_rm_path(const char *id, char *out, size_t outlen)
{
	return wh_path(id, "", out, outlen);
}

/* Prints an answer that carries a secret: "ID SECRET" (or the JSON). */
static int wh_print_secret(struct cli_ctx *ctx, const struct cli_args *a,
			   const cJSON *ep)
{
	const char *id = json_str(ep, "id"), *secret = json_str(ep, "secret");

	if (a->count[OPT_JSON])
		return out_json(ctx, ep);
	if (!id || !secret) {
		cli_error("the server's answer holds no secret");
		return CLI_SERVER;
	}
	printf("%s %s\n", id, secret);
	if (ctx->stderr_tty)
		fprintf(stderr, "chatctl: keep the secret now: it cannot be "
				"shown again\n");
	return CLI_OK;
}

static int wh_add(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *body = cJSON_CreateObject(), *ev, *ep = NULL;
	int i, rc = CLI_SERVER;

	ev = body ? cJSON_AddArrayToObject(body, "events") : NULL;
	if (!ev || !cJSON_AddStringToObject(body, "url", a->pos[0]))
		goto nomem;
	for (i = 0; i < a->nevents; i++)
		if (!cJSON_AddItemToArray(ev, cJSON_CreateString(a->events[i])))
			goto nomem;
	if (!a->nevents && !cJSON_AddItemToArray(ev, cJSON_CreateString("*")))
		goto nomem;
	rc = api_json(ctx, "POST", "/v1/webhooks", body, &ep);
	if (rc == CLI_OK)
		rc = wh_print_secret(ctx, a, ep);
	goto out;
nomem:
	cli_error("out of memory");
out:
	cJSON_Delete(body);
	cJSON_Delete(ep);
	return rc;
}

static int wh_row(struct table *t, const cJSON *ep)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(ep, "events"), *e;
	char events[256], when[64];
	const char *row[5];
	size_t off = 0;
	int n;

	events[0] = '\0';
	cJSON_ArrayForEach(e, ev) {
		if (!cJSON_IsString(e) || off >= sizeof(events))
			continue;
		n = snprintf(events + off, sizeof(events) - off, "%s%s",
			     off ? "," : "", e->valuestring);
		off += n > 0 ? (size_t)n : 0;
	}
	out_time(json_str(ep, "created_at"), when, sizeof(when));
	row[0] = json_str(ep, "id");
	row[1] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ep, "enabled")) ?
		 "yes" : "no";
	row[2] = when;
	row[3] = events;
	row[4] = json_str(ep, "url");
	return table_add(t, row);
}

static int wh_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "ENABLED", "CREATED",
					    "EVENTS", "URL" };
	cJSON *page = NULL;
	int rc;

	(void)a;
	rc = api_json(ctx, "GET", "/v1/webhooks", NULL, &page);
	if (rc == CLI_OK &&
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(page, "data"))) {
		cli_error("the server's list is malformed");
		rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		rc = out_list(ctx, page, false, head, 5, wh_row, 200);
	cJSON_Delete(page);
	return rc;
}

static int wh_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	return api_delete_each(ctx, a->pos, a->npos, wh_rm_path);
}

/* POST to the endpoint's tail with body (may be NULL); prints the
 * answer's JSON with --json, else its field `field`. */
static int wh_post(struct cli_ctx *ctx, const struct cli_args *a,
		   const char *tail, const cJSON *body, const char *field)
{
	char path[300];
	cJSON *res = NULL;
	const cJSON *v;
	int rc = wh_path(a->pos[0], tail, path, sizeof(path));

	if (rc == CLI_OK)
		rc = api_json(ctx, "POST", path, body, &res);
	if (rc == CLI_OK && a->count[OPT_JSON]) {
		rc = out_json(ctx, res);
	} else if (rc == CLI_OK) {
		v = cJSON_GetObjectItemCaseSensitive(res, field);
		if (cJSON_IsString(v))
			printf("%s\n", v->valuestring);
		else if (cJSON_IsNumber(v))
			printf("%d\n", v->valueint);
	}
	cJSON_Delete(res);
	return rc;
}

static int wh_test(struct cli_ctx *ctx, const struct cli_args *a)
{
	return wh_post(ctx, a, "/test", NULL, "message_id");
}

static int wh_rotate(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[300];
	cJSON *ep = NULL;
	int rc = wh_path(a->pos[0], "/rotate-secret", path, sizeof(path));

	if (rc == CLI_OK)
		rc = api_json(ctx, "POST", path, NULL, &ep);
	if (rc == CLI_OK)
		rc = wh_print_secret(ctx, a, ep);
	cJSON_Delete(ep);
	return rc;
}

static int wh_redeliver(struct cli_ctx *ctx, const struct cli_args *a)
{
	char tail[200], esc[120];
	cJSON *body = NULL;
	int rc;

	if ((a->npos == 2) == (a->val[OPT_SINCE] != NULL)) {
		cli_error("give either a message id or --since TIME (see "
			  "'chatctl webhook redeliver --help')");
		return CLI_USAGE;
	}
	if (a->npos == 2) {
		if (api_escape(a->pos[1], esc, sizeof(esc)) < 0) {
			cli_error("message id '%.40s...' too long", a->pos[1]);
			return CLI_USAGE;
		}
		snprintf(tail, sizeof(tail), "/messages/%s/redeliver", esc);
		return wh_post(ctx, a, tail, NULL, "message_id");
	}
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "since",
					      a->val[OPT_SINCE])) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	rc = wh_post(ctx, a, "/redeliver", body, "messages");
	cJSON_Delete(body);
	return rc;
}

static int wh_log_row(struct table *t, const cJSON *d)
{
	char when[64], attempt[16], status[16], latency[24];
	const char *row[7];
	const cJSON *v;

	out_time(json_str(d, "at"), when, sizeof(when));
	v = cJSON_GetObjectItemCaseSensitive(d, "attempt");
	snprintf(attempt, sizeof(attempt), "%d", v ? v->valueint : 0);
	v = cJSON_GetObjectItemCaseSensitive(d, "status");
	snprintf(status, sizeof(status), "%d", v ? v->valueint : 0);
	v = cJSON_GetObjectItemCaseSensitive(d, "latency_ms");
	snprintf(latency, sizeof(latency), "%d", v ? v->valueint : 0);
	row[0] = when;
	row[1] = json_str(d, "message_id");
	row[2] = attempt;
	row[3] = status;
	row[4] = latency;
	row[5] = json_str(d, "outcome");
	row[6] = json_str(d, "response");
	return table_add(t, row);
}

static int wh_deliveries(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "AT", "MESSAGE", "ATTEMPT",
					    "STATUS", "MS", "OUTCOME",
					    "RESPONSE" };
	const char *s = a->val[OPT_LIMIT];
	char path[300], tail[40], *end;
	cJSON *page = NULL;
	long limit = 20;
	int rc;

	if (s) {
		errno = 0;
		limit = strtol(s, &end, 10);
		if (errno || end == s || *end || limit < 1 ||
		    limit > WH_LIMIT_MAX) {
			cli_error("'--limit' must be a number from 1 to %d, "
				  "not '%s'", WH_LIMIT_MAX, s);
			return CLI_USAGE;
		}
	}
	snprintf(tail, sizeof(tail), "/deliveries?limit=%ld", limit);
	rc = wh_path(a->pos[0], tail, path, sizeof(path));
	if (rc == CLI_OK)
		rc = api_json(ctx, "GET", path, NULL, &page);
	if (rc == CLI_OK &&
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(page, "data"))) {
		cli_error("the server's list is malformed");
		rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		rc = out_list(ctx, page, false, head, 7, wh_log_row, 60);
	cJSON_Delete(page);
	return rc;
}

static const struct cli_cmd wh_verbs[] = {
	{
		.name = "add",
		.args = "URL",
		.summary = "add an endpoint; prints its id and secret (once)",
		.opts = (const int[]){ OPT_EVENT, OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = wh_add,
	},
	{
		.name = "deliveries",
		.args = "ID",
		.summary = "the endpoint's delivery log, newest first",
		.opts = (const int[]){ OPT_LIMIT, OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = wh_deliveries,
	},
	{
		.name = "ls",
		.args = "",
		.summary = "list the endpoints",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = wh_ls,
	},
	{
		.name = "redeliver",
		.args = "ID [MSG|--since TIME]",
		.summary = "send a message again, or every one since TIME",
		.opts = (const int[]){ OPT_SINCE, OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 2,
		.exec = wh_redeliver,
	},
	{
		.name = "rm",
		.args = "ID...",
		.summary = "delete endpoints with their messages and log",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = wh_rm,
	},
	{
		.name = "rotate",
		.args = "ID",
		.summary = "a new secret (printed once); the old one signs "
			   "too for a while",
		.opts = (const int[]){ OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = wh_rotate,
	},
	{
		.name = "test",
		.args = "ID",
		.summary = "send a webhook.test message now; prints its id",
		.opts = (const int[]){ OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = wh_test,
	},
	{ 0 },
};

const struct cli_cmd cmd_webhook = {
	.name = "webhook",
	.args = "",
	.summary = "the account's webhook endpoints",
	.opts = (const int[]){ 0 },
	.verbs = wh_verbs,
};
