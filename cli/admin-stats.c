/*
 * admin-stats.c - two verbs of `chatctl admin` (cmd-admin.c) over
 * analyticsd's admin routes (docs/api/openapi.yaml):
 *
 *   admin stats: the summary (GET /v1/admin/analytics/summary: today,
 *     the last 7 and 30 days) when no usage option is given, else the
 *     usage table (GET /v1/admin/analytics/usage) by day, user or model,
 *     printed by usage.c, or the server's CSV with --csv;
 *   admin events: the live tail (GET /v1/admin/events, SSE), one line an
 *     event.  The route has no backlog, only what happens from the call
 *     on, so without -f the tail is watched for EVENTS_WINDOW_MS and
 *     ends (like a `kubectl get events` that can only see the present);
 *     with -f it runs until Ctrl-C, which is its normal end (exit 0).
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "err.h"
#include "sse-parse.h"
#include "banned.h"

#define STATS_PATH_MAX 1024	/* a usage path and its query, bytes */
#define EVENTS_WINDOW_MS 2000	/* how long a tail without -f watches */
#define EVENTS_EVENT_MAX (256u * 1024)	/* one event, bytes */
#define EVENTS_CELL_MAX 256	/* a field of an event's line, bytes */

/* ---- admin stats ---- */

/* The rows of the summary table: a field of each AnalyticsWindow. */
static const struct {
	const char *field;
	const char *name;
} stats_rows[] = {
	{ "active_users", "active users" },
	{ "requests", "requests" },
	{ "failed", "failed" },
	{ "error_rate", "error rate" },
	{ "prompt_tokens", "prompt tokens" },
	{ "completion_tokens", "completion tokens" },
	{ "cost", "cost (USD)" },
	{ "registrations", "registrations" },
	{ "logins", "logins" },
	{ "failed_logins", "failed logins" },
	{ "ttft_ms_p50", "time to first token p50 (ms)" },
	{ "ttft_ms_p95", "time to first token p95 (ms)" },
	{ "latency_ms_p50", "latency p50 (ms)" },
	{ "latency_ms_p95", "latency p95 (ms)" },
};

/* The summary's windows, the table's columns after the first. */
static const struct {
	const char *field;
	const char *head;
} stats_windows[] = {
	{ "today", "TODAY" },
	{ "last_7_days", "7 DAYS" },
	{ "last_30_days", "30 DAYS" },
};
#define STATS_NWINDOWS (sizeof(stats_windows) / sizeof(stats_windows[0]))

/* A figure as a cell: "-" when null (no data, no price). */
static void stats_cell(const cJSON *w, const char *field, char *out,
		       size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, field);

	if (!cJSON_IsNumber(v))
		snprintf(out, outlen, "-");
	else if (strcmp(field, "cost") == 0)
		snprintf(out, outlen, "%.6f", v->valuedouble);
	else if (v->valuedouble == (double)(long long)v->valuedouble)
		snprintf(out, outlen, "%.0f", v->valuedouble);
	else
		snprintf(out, outlen, "%.4g", v->valuedouble);
}

static int stats_summary(struct cli_ctx *ctx)
{
	const char *row[STATS_NWINDOWS + 1];
	char cells[STATS_NWINDOWS][32];
	struct table t;
	cJSON *sum = NULL;
	size_t i, j;
	int rc;

	rc = admin_call(ctx, "GET", "/v1/admin/analytics/summary", NULL,
			&sum);
	if (rc != CLI_OK)
		return rc;
	if (out_is_json(ctx)) {
		rc = out_json(ctx, sum);
		cJSON_Delete(sum);
		return rc;
	}
	table_init(&t, STATS_NWINDOWS + 1);
	row[0] = "";
	for (j = 0; j < STATS_NWINDOWS; j++)
		row[j + 1] = stats_windows[j].head;
	rc = table_add(&t, row);
	for (i = 0; i < sizeof(stats_rows) / sizeof(stats_rows[0]) && rc == 0;
	     i++) {
		row[0] = stats_rows[i].name;
		for (j = 0; j < STATS_NWINDOWS; j++) {
			stats_cell(cJSON_GetObjectItemCaseSensitive(
					   sum, stats_windows[j].field),
				   stats_rows[i].field, cells[j],
				   sizeof(cells[j]));
			row[j + 1] = cells[j];
		}
		rc = table_add(&t, row);
	}
	if (rc < 0) {
		cli_error("out of memory");
		rc = CLI_SERVER;
	} else {
		rc = table_print(ctx, &t, 0);
	}
	table_release(&t);
	cJSON_Delete(sum);
	return rc;
}

/* GET path as CSV: the server's text as it is. */
static int stats_csv(struct cli_ctx *ctx, const char *path)
{
	struct api_req req = { "GET", path, NULL, API_QUIET, NULL, NULL,
			       NULL };
	struct api_res res;
	int rc;

	rc = api_call(ctx, &req, &res);
	if (rc != CLI_OK)
		admin_say_error(&res, rc);
	else if (res.body.len)
		rc = out_text(ctx, res.body.data, res.body.len);
	api_res_release(&res);
	return rc;
}

int ctl_admin_stats(struct cli_ctx *ctx, const struct cli_args *a)
{
	char id[128], esc[400];
	cJSON *report = NULL;
	struct buf path;
	int rc;

	if (a->count[OPT_CSV] && (a->count[OPT_JSON] || a->val[OPT_OUTPUT])) {
		cli_error("'--csv' is a format of its own: not with '--json' "
			  "or '--output'");
		return CLI_USAGE;
	}
	if (!a->val[OPT_BY] && !a->val[OPT_FROM] && !a->val[OPT_TO] &&
	    !a->val[OPT_USER] && !a->count[OPT_CSV])
		return stats_summary(ctx);
	buf_init(&path, STATS_PATH_MAX);
	if (buf_puts(&path, "/v1/admin/analytics/usage?") < 0) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	rc = ctl_usage_query(a, "day|user|model", &path);
	if (rc == CLI_OK && a->val[OPT_USER]) {
		rc = admin_user_id(ctx, a->val[OPT_USER], id, sizeof(id));
		if (rc == CLI_OK && (api_escape(id, esc, sizeof(esc)) < 0 ||
				     buf_printf(&path, "%suser=%s",
						strchr(path.data, '?') ? "&" :
						"?", esc) < 0)) {
			cli_error("the usage query is too long");
			rc = CLI_SERVER;
		}
	}
	if (rc == CLI_OK && a->count[OPT_CSV]) {
		if (buf_printf(&path, "%sformat=csv",
			       strchr(path.data, '?') ? "&" : "?") < 0) {
			cli_error("the usage query is too long");
			rc = CLI_SERVER;
		} else {
			rc = stats_csv(ctx, path.data);
		}
		goto out;
	}
	if (rc == CLI_OK)
		rc = admin_call(ctx, "GET", path.data, NULL, &report);
	if (rc == CLI_OK)
		rc = ctl_usage_print(ctx, report);
out:
	cJSON_Delete(report);
	buf_release(&path);
	return rc;
}

/* ---- admin events ---- */

struct events_tail {
	struct cli_ctx *ctx;
	struct sse_parser parser;
	bool follow;			/* -f: no window */
	bool headed;			/* the heading is out */
	bool window_over;		/* the cancel poll ended the window */
	struct timespec start;		/* CLOCK_MONOTONIC */
};

static long events_elapsed_ms(const struct events_tail *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->start.tv_sec) * 1000 +
	       (now.tv_nsec - t->start.tv_nsec) / 1000000;
}

/* Polled by the transfer: Ctrl-C, or the end of the window. */
static bool events_cancel(void *arg)
{
	struct events_tail *t = arg;

	if (cli_interrupted)
		return true;
	if (!t->follow && events_elapsed_ms(t) >= EVENTS_WINDOW_MS)
		t->window_over = true;
	return t->window_over;
}

/* A field of the line, control characters as spaces so that an event
 * stays one line (server text is untrusted), "-" when absent. */
static void events_field(const cJSON *ev, const char *field, char *out,
			 size_t outlen)
{
	const char *s = json_str(ev, field);
	size_t i;

	snprintf(out, outlen, "%s", s && s[0] ? s : "-");
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
}

/* The event's time in local time to the second; the text as it is when
 * it is not RFC 3339. */
static void events_time(const char *rfc3339, char *out, size_t outlen)
{
	struct tm tm, local;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
	t = end ? timegm(&tm) : (time_t)-1;
	if (t == (time_t)-1 || !localtime_r(&t, &local) ||
	    !strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &local))
		snprintf(out, outlen, "%s", rfc3339);
}

static int events_print(struct events_tail *t, const cJSON *ev)
{
	struct cli_ctx *ctx = t->ctx;
	char raw[EVENTS_CELL_MAX], when[EVENTS_CELL_MAX];
	char type[EVENTS_CELL_MAX];
	char user[EVENTS_CELL_MAX], subject[EVENTS_CELL_MAX];
	char line[4 * EVENTS_CELL_MAX + 16];
	char *text;
	int rc;

	if (out_is_json(ctx)) {
		/* JSON escapes every control character: one line */
		text = cJSON_PrintUnformatted(ev);
		if (!text) {
			cli_error("out of memory");
			return CLI_SERVER;
		}
		rc = out_text(ctx, text, strlen(text));
		cJSON_free(text);
		return rc == CLI_OK ? out_text(ctx, "\n", 1) : rc;
	}
	events_field(ev, "time", raw, sizeof(raw));
	events_time(raw, when, sizeof(when));
	events_field(ev, "type", type, sizeof(type));
	events_field(ev, "userid", user, sizeof(user));
	events_field(ev, "subject", subject, sizeof(subject));
	if (ctx->out_format == OUT_TSV)
		snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\n", when, type,
			 user, subject);
	else
		snprintf(line, sizeof(line), "%-19s  %-30s  %-36s  %s\n", when,
			 type, user, subject);
	return out_text(ctx, line, strlen(line));
}

static int events_on_event(void *arg, const struct sse_event *sse)
{
	struct events_tail *t = arg;
	cJSON *ev;
	int rc;

	ev = cJSON_ParseWithLength(sse->data, sse->data_len);
	if (!cJSON_IsObject(ev)) {
		cJSON_Delete(ev);
		cli_error("malformed event from the server");
		return CLI_SERVER;
	}
	rc = events_print(t, ev);
	cJSON_Delete(ev);
	return rc;
}

static int events_on_data(void *arg, const char *data, size_t len)
{
	struct events_tail *t = arg;
	struct cli_ctx *ctx = t->ctx;
	char head[160];
	int rc;

	/* the heading once the server has taken the tail, as kubectl's */
	if (!t->headed && ctx->out_format == OUT_TABLE) {
		snprintf(head, sizeof(head), "%s%-19s  %-30s  %-36s  %s%s\n",
			 ctx->color ? "\033[1m" : "", "TIME", "TYPE", "USER",
			 "SUBJECT", ctx->color ? "\033[0m" : "");
		rc = out_text(ctx, head, strlen(head));
		if (rc != CLI_OK)
			return rc;
	}
	t->headed = true;
	rc = sse_parse_feed(&t->parser, data, len);
	if (rc == CHAT_ETOOBIG)
		cli_error("an event from the server is too large");
	return rc;
}

int ctl_admin_events(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct events_tail t;
	struct api_req req = { "GET", NULL, NULL, API_QUIET | API_SSE, NULL,
			       events_on_data, &t };
	struct api_res res;
	struct client *cl = ctx->curl;
	client_cancel_fn old_cancel = cl->cancel;
	void *old_arg = cl->cancel_arg;
	char id[128], esc[400];
	struct buf path;
	int rc = CLI_OK;

	memset(&t, 0, sizeof(t));
	memset(&res, 0, sizeof(res));
	t.ctx = ctx;
	t.follow = a->count['f'] > 0;
	sse_parse_init(&t.parser, EVENTS_EVENT_MAX, events_on_event, NULL, &t);
	buf_init(&path, STATS_PATH_MAX);
	if (buf_puts(&path, "/v1/admin/events") < 0)
		goto nomem;
	if (a->val[OPT_TYPE]) {
		if (api_escape(a->val[OPT_TYPE], esc, sizeof(esc)) < 0 ||
		    buf_printf(&path, "?type=%s", esc) < 0) {
			cli_error("'--type' is too long");
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (a->val[OPT_USER]) {
		rc = admin_user_id(ctx, a->val[OPT_USER], id, sizeof(id));
		if (rc != CLI_OK)
			goto out;
		if (api_escape(id, esc, sizeof(esc)) < 0 ||
		    buf_printf(&path, "%cuser=%s",
			       a->val[OPT_TYPE] ? '&' : '?', esc) < 0)
			goto nomem;
	}
	req.path = path.data;
	cli_catch_interrupt();
	clock_gettime(CLOCK_MONOTONIC, &t.start);
	/* the window ends through the transfer's cancel poll, which runs
	 * even while no byte arrives */
	cl->cancel = events_cancel;
	cl->cancel_arg = &t;
	rc = api_call(ctx, &req, &res);
	cl->cancel = old_cancel;
	cl->cancel_arg = old_arg;
	if (rc == CLI_INTERRUPTED && (t.window_over || cli_interrupted)) {
		/* the window's end, or Ctrl-C: the ways a tail ends */
		rc = CLI_OK;
	} else if (rc == CLI_OK) {
		cli_error("the server ended the event stream");
		rc = CLI_SERVER;
	} else if (res.status < 200 || res.status >= 300 || res.message[0]) {
		admin_say_error(&res, rc);
	}
	/* else on_data failed and has said why (no message then) */
	goto out;
nomem:
	cli_error("out of memory");
	rc = CLI_SERVER;
out:
	sse_parse_release(&t.parser);
	api_res_release(&res);
	buf_release(&path);
	return rc;
}
