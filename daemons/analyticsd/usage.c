/*
 * usage.c - analyticsd's read routes: a user's own usage
 * (GET /v1/users/me/usage), the admins' usage table (GET
 * /v1/admin/analytics/usage, JSON or CSV) and summary (GET
 * /v1/admin/analytics/summary), and the rebuild (POST
 * /v1/admin/analytics/rebuild).  Worker threads: they read the store.
 *
 * Every number is a SUM over the rollup rows of the range, read from the
 * narrowest table that has the group and the filters (usage_tables):
 * the per-day tables hold a few hundred or thousand rows of a month
 * where usage_daily holds every day x user x model; costs are
 * pico-USD in the store and USD in answers, null when a request of the
 * group had no price; quantiles come from the merged histogram buckets.
 */
#include "analyticsd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "sketch.h"
#include "util.h"
#include "banned.h"

#define USAGE_CSV_MAX (16u << 20)

/* group_by= values and the column each groups by. */
static const struct {
	const char *name;
	const char *column;
	bool admin_only;
} usage_groups[] = {
	{ "day", "day", false },
	{ "model", "model", false },
	{ "user", "user_id", true },
};

/* The usage tables, narrowest first, and what each can answer beside
 * day and the sums. */
static const struct {
	const char *table;
	bool user;			/* has user_id */
	bool model;			/* has model */
	bool user_filter;		/* an index for user=: (user_id, day) */
} usage_tables[] = {
	{ "usage_model_daily", false, true, false },
	{ "usage_user_daily", true, false, false },
	/* a user's month is 150 rows of its key (SQLite: user_id
	 * first) or of its (user_id, day) index (PostgreSQL) */
	{ "usage_daily", true, true, true },
};

/* The sums every usage row has, in SELECT order after the group. */
static const char *const usage_sums[] = {
	"requests", "completed", "stopped", "failed", "prompt_tokens",
	"completion_tokens", "cost_pusd", "unpriced", "conversations",
	"messages",
};
#define USAGE_NSUMS (sizeof(usage_sums) / sizeof(usage_sums[0]))
enum {
	U_REQ, U_COMPLETED, U_STOPPED, U_FAILED, U_PROMPT, U_COMPLETION,
	U_COST, U_UNPRICED, U_CONVS, U_MSGS,
};

struct usage_query {
	int64_t from, to;		/* days */
	char from_s[DAY_LEN], to_s[DAY_LEN];
	const char *group;		/* group_by name */
	const char *column;		/* its column */
	const char *user;		/* filter or NULL */
	const char *model;		/* filter or NULL */
	bool csv;
	char user_buf[80], model_buf[ANALYTICSD_MODEL_MAX];
};

static int64_t usage_today(void)
{
	return range_day_of_ms(now_ms());
}

/* Reads from, to, group_by (and, for admins, user, model, format). */
static int usage_query_parse(struct http_req *req, bool admin,
			     struct usage_query *q, char *err, size_t errlen)
{
	char v[32];
	size_t i;
	int rc;

	memset(q, 0, sizeof(*q));
	rc = range_parse(req, usage_today(), &q->from, &q->to, err, errlen);
	if (rc < 0)
		return rc;
	range_day_format(q->from, q->from_s);
	range_day_format(q->to, q->to_s);
	q->group = "day";
	q->column = "day";
	rc = http_req_query(req, "group_by", v, sizeof(v));
	if (rc == 0) {
		q->group = NULL;
		for (i = 0; i < sizeof(usage_groups) / sizeof(usage_groups[0]);
		     i++)
			if (strcmp(v, usage_groups[i].name) == 0 &&
			    (admin || !usage_groups[i].admin_only)) {
				q->group = usage_groups[i].name;
				q->column = usage_groups[i].column;
			}
		if (!q->group) {
			chat_errf(err, errlen, "'group_by' must be %s",
				  admin ? "day, user or model" :
					  "day or model");
			return CHAT_EINVAL;
		}
	} else if (rc != CHAT_ENOTFOUND) {
		chat_errf(err, errlen, "'group_by' must be day%s or model",
			  admin ? ", user" : "");
		return CHAT_EINVAL;
	}
	if (!admin)
		return 0;
	rc = http_req_query(req, "user", q->user_buf, sizeof(q->user_buf));
	if (rc == 0 && q->user_buf[0])
		q->user = q->user_buf;
	else if (rc < 0 && rc != CHAT_ENOTFOUND) {
		chat_errf(err, errlen, "'user' is not a user id");
		return CHAT_EINVAL;
	}
	rc = http_req_query(req, "model", q->model_buf, sizeof(q->model_buf));
	if (rc == 0 && q->model_buf[0])
		q->model = q->model_buf;
	else if (rc < 0 && rc != CHAT_ENOTFOUND) {
		chat_errf(err, errlen, "'model' is too long");
		return CHAT_EINVAL;
	}
	rc = http_req_query(req, "format", v, sizeof(v));
	if (rc == 0 && strcmp(v, "csv") == 0)
		q->csv = true;
	else if ((rc == 0 && strcmp(v, "json") != 0) ||
		 (rc < 0 && rc != CHAT_ENOTFOUND)) {
		chat_errf(err, errlen, "'format' must be json or csv");
		return CHAT_EINVAL;
	}
	return 0;
}

/* Runs the grouped sums of q; *out is the caller's. */
static int usage_run(struct db_conn *c, const struct usage_query *q,
		     struct db_rows **out)
{
	bool by_user = q->user || strcmp(q->column, "user_id") == 0;
	bool by_model = q->model || strcmp(q->column, "model") == 0;
	const char *table = "usage_daily";
	struct buf sql;
	struct db_param p[4];
	size_t np = 0, i;
	int rc;

	for (i = 0; i < sizeof(usage_tables) / sizeof(usage_tables[0]); i++)
		if ((!by_user || usage_tables[i].user) &&
		    (!by_model || usage_tables[i].model) &&
		    (!q->user || usage_tables[i].user_filter)) {
			table = usage_tables[i].table;
			break;
		}
	buf_init(&sql, 4096);
	rc = buf_printf(&sql, "SELECT %s", q->column);
	for (i = 0; rc == 0 && i < USAGE_NSUMS; i++)
		rc = buf_printf(&sql, ", SUM(%s)", usage_sums[i]);
	p[np++] = db_p_text(q->from_s);
	p[np++] = db_p_text(q->to_s);
	if (rc == 0)
		rc = buf_printf(&sql, " FROM %s WHERE day BETWEEN $1"
				" AND $2", table);
	if (rc == 0 && q->user) {
		p[np++] = db_p_text(q->user);
		rc = buf_printf(&sql, " AND user_id = $%zu", np);
	}
	if (rc == 0 && q->model) {
		p[np++] = db_p_text(q->model);
		rc = buf_printf(&sql, " AND model = $%zu", np);
	}
	if (rc == 0)
		rc = buf_printf(&sql, " GROUP BY %s ORDER BY %s", q->column,
				q->column);
	if (rc == 0)
		rc = buf_append(&sql, "", 1);
	if (rc == 0)
		rc = db_query(c, sql.data, p, np, out);
	buf_release(&sql);
	return rc;
}

/* A sum's cost in USD, or null when part of it had no price. */
static bool usage_add_cost(cJSON *o, int64_t pusd, int64_t unpriced)
{
	if (unpriced > 0)
		return cJSON_AddNullToObject(o, "cost") != NULL;
	return cJSON_AddNumberToObject(o, "cost", (double)pusd / 1e12) !=
	       NULL;
}

/* The counters of one row (sums start at column first). */
static bool usage_add_sums(cJSON *o, const int64_t *v)
{
	return cJSON_AddNumberToObject(o, "requests", (double)v[U_REQ]) &&
	       cJSON_AddNumberToObject(o, "completed",
				       (double)v[U_COMPLETED]) &&
	       cJSON_AddNumberToObject(o, "stopped", (double)v[U_STOPPED]) &&
	       cJSON_AddNumberToObject(o, "failed", (double)v[U_FAILED]) &&
	       cJSON_AddNumberToObject(o, "prompt_tokens",
				       (double)v[U_PROMPT]) &&
	       cJSON_AddNumberToObject(o, "completion_tokens",
				       (double)v[U_COMPLETION]) &&
	       cJSON_AddNumberToObject(o, "total_tokens",
				       (double)(v[U_PROMPT] +
						v[U_COMPLETION])) &&
	       usage_add_cost(o, v[U_COST], v[U_UNPRICED]) &&
	       cJSON_AddNumberToObject(o, "conversations",
				       (double)v[U_CONVS]) &&
	       cJSON_AddNumberToObject(o, "messages", (double)v[U_MSGS]);
}

static void usage_row_sums(const struct db_rows *r, size_t row, int64_t *v)
{
	size_t i;

	for (i = 0; i < USAGE_NSUMS; i++)
		v[i] = db_rows_int(r, row, i + 1, 0);
}

static cJSON *usage_json(const struct usage_query *q,
			 const struct db_rows *r)
{
	cJSON *root = cJSON_CreateObject(), *data, *row, *tot;
	int64_t v[USAGE_NSUMS], sum[USAGE_NSUMS] = { 0 };
	size_t i, j;
	const char *g;

	if (!root || !cJSON_AddStringToObject(root, "from", q->from_s) ||
	    !cJSON_AddStringToObject(root, "to", q->to_s) ||
	    !cJSON_AddStringToObject(root, "group_by", q->group))
		goto fail;
	data = cJSON_AddArrayToObject(root, "data");
	if (!data)
		goto fail;
	for (i = 0; i < db_rows_count(r); i++) {
		row = cJSON_CreateObject();
		if (!row)
			goto fail;
		cJSON_AddItemToArray(data, row);
		g = db_rows_get(r, i, 0);
		if (g && *g) {
			if (!cJSON_AddStringToObject(row, q->group, g))
				goto fail;
		} else if (!cJSON_AddNullToObject(row, q->group)) {
			goto fail;	/* counts without a model */
		}
		usage_row_sums(r, i, v);
		for (j = 0; j < USAGE_NSUMS; j++)
			sum[j] += v[j];
		if (!usage_add_sums(row, v))
			goto fail;
	}
	tot = cJSON_AddObjectToObject(root, "totals");
	if (!tot || !usage_add_sums(tot, sum))
		goto fail;
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static int usage_csv_field(struct buf *b, const char *s)
{
	int rc = 0;

	if (!strpbrk(s, ",\"\r\n"))
		return buf_puts(b, s);
	rc = buf_puts(b, "\"");
	for (; rc == 0 && *s; s++)
		rc = *s == '"' ? buf_puts(b, "\"\"") : buf_append(b, s, 1);
	return rc == 0 ? buf_puts(b, "\"") : rc;
}

static int usage_csv(const struct usage_query *q, const struct db_rows *r,
		     struct buf *b)
{
	int64_t v[USAGE_NSUMS];
	size_t i;
	const char *g;
	int rc;

	rc = buf_printf(b, "%s,requests,completed,stopped,failed,"
			"prompt_tokens,completion_tokens,total_tokens,cost,"
			"conversations,messages\r\n", q->group);
	for (i = 0; rc == 0 && i < db_rows_count(r); i++) {
		g = db_rows_get(r, i, 0);
		usage_row_sums(r, i, v);
		rc = usage_csv_field(b, g ? g : "");
		if (rc == 0)
			rc = buf_printf(b, ",%lld,%lld,%lld,%lld,%lld,%lld,"
					"%lld,", (long long)v[U_REQ],
					(long long)v[U_COMPLETED],
					(long long)v[U_STOPPED],
					(long long)v[U_FAILED],
					(long long)v[U_PROMPT],
					(long long)v[U_COMPLETION],
					(long long)(v[U_PROMPT] +
						    v[U_COMPLETION]));
		/* an unknown cost is an empty field, never 0 */
		if (rc == 0 && v[U_UNPRICED] == 0)
			rc = buf_printf(b, "%lld.%012lld",
					(long long)(v[U_COST] / 1000000000000),
					(long long)(v[U_COST] % 1000000000000));
		if (rc == 0)
			rc = buf_printf(b, ",%lld,%lld\r\n",
					(long long)v[U_CONVS],
					(long long)v[U_MSGS]);
	}
	return rc;
}

static void usage_answer(struct http_req *req, struct http_res *res,
			 bool admin)
{
	struct usage_query q;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char err[128];
	struct buf b;
	size_t len = 0;
	char *text;
	cJSON *json;
	int rc;

	rc = usage_query_parse(req, admin, &q, err, sizeof(err));
	if (rc < 0) {
		http_res_error(res, 400, "invalid_request", "%s", err);
		return;
	}
	if (!admin)
		q.user = req->user_id;
	if (daemon_db(req, &c))
		return;
	rc = usage_run(c, &q, &r);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the usage");
		return;
	}
	if (q.csv) {
		buf_init(&b, USAGE_CSV_MAX);
		rc = usage_csv(&q, r, &b);
		db_rows_free(r);
		if (rc < 0) {
			buf_release(&b);
			http_res_chat_error(res, rc, "cannot write the CSV");
			return;
		}
		text = buf_detach(&b, &len);
		http_res_send(res, 200, "text/csv; charset=utf-8", text, len);
		return;
	}
	json = usage_json(&q, r);
	db_rows_free(r);
	if (!json) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		return;
	}
	http_res_json(res, 200, json);
}

void usage_me_handler(struct http_req *req, struct http_res *res)
{
	usage_answer(req, res, false);
}

void usage_admin_handler(struct http_req *req, struct http_res *res)
{
	usage_answer(req, res, true);
}

/* ------------------------------------------------------------------ */
/* Summary                                                             */
/* ------------------------------------------------------------------ */

/* The p-quantiles of a metric's merged buckets over [from, to]. */
static int summary_quantiles(struct db_conn *c, const char *from,
			     const char *to, const char *metric, cJSON *o,
			     const char *k50, const char *k95)
{
	struct db_param p[3] = {
		db_p_text(from), db_p_text(to), db_p_text(metric),
	};
	struct db_rows *r = NULL;
	struct sketch s;
	double v;
	size_t i;
	int rc;

	sketch_init(&s);
	rc = db_query(c, "SELECT bucket, SUM(count) FROM usage_hist_daily"
		      " WHERE day BETWEEN $1 AND $2 AND metric = $3"
		      " GROUP BY bucket", p, 3, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r); i++) {
		int64_t n = db_rows_int(r, i, 1, 0);

		if (n > 0)
			rc = sketch_add_bucket(&s, (int32_t)db_rows_int(
						       r, i, 0, 0), n);
	}
	if (rc == 0 && sketch_quantile(&s, 0.5, &v) == 0) {
		if (!cJSON_AddNumberToObject(o, k50, v))
			rc = CHAT_ENOMEM;
		if (rc == 0 && sketch_quantile(&s, 0.95, &v) == 0 &&
		    !cJSON_AddNumberToObject(o, k95, v))
			rc = CHAT_ENOMEM;
	} else if (rc == 0) {
		if (!cJSON_AddNullToObject(o, k50) ||
		    !cJSON_AddNullToObject(o, k95))
			rc = CHAT_ENOMEM;
	}
	sketch_release(&s);
	db_rows_free(r);
	return rc;
}

/* failed_by_class: {"class": count, ...} of the range in p. */
static int summary_errors(struct db_conn *c, const struct db_param *p,
			  cJSON *o)
{
	struct db_rows *r = NULL;
	cJSON *by;
	size_t i;
	int rc;

	by = cJSON_AddObjectToObject(o, "failed_by_class");
	if (!by)
		return CHAT_ENOMEM;
	rc = db_query(c, "SELECT error_class, SUM(count)"
		      " FROM usage_errors_daily WHERE day BETWEEN $1 AND $2"
		      " GROUP BY error_class ORDER BY error_class", p, 2, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r); i++)
		if (!cJSON_AddNumberToObject(by, db_rows_get(r, i, 0),
					     (double)db_rows_int(r, i, 1, 0)))
			rc = CHAT_ENOMEM;
	db_rows_free(r);
	return rc;
}

/* One window's figures into o. */
static int summary_window(struct db_conn *c, int64_t from_d, int64_t to_d,
			  cJSON *o)
{
	char from[DAY_LEN], to[DAY_LEN];
	struct db_param p[2];
	struct db_rows *r = NULL;
	int64_t req, failed, unpriced;
	int rc;

	range_day_format(from_d, from);
	range_day_format(to_d, to);
	p[0] = db_p_text(from);
	p[1] = db_p_text(to);
	if (!cJSON_AddStringToObject(o, "from", from) ||
	    !cJSON_AddStringToObject(o, "to", to))
		return CHAT_ENOMEM;
	rc = db_query(c, "SELECT COUNT(DISTINCT user_id) FROM active"
		      " WHERE day BETWEEN $1 AND $2", p, 2, &r);
	if (rc < 0)
		goto out;
	if (!cJSON_AddNumberToObject(o, "active_users",
				     (double)db_rows_int(r, 0, 0, 0))) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	db_rows_free(r);
	r = NULL;
	rc = db_query(c, "SELECT SUM(requests), SUM(failed),"
		      " SUM(prompt_tokens), SUM(completion_tokens),"
		      " SUM(cost_pusd), SUM(unpriced) FROM usage_model_daily"
		      " WHERE day BETWEEN $1 AND $2", p, 2, &r);
	if (rc < 0)
		goto out;
	req = db_rows_int(r, 0, 0, 0);
	failed = db_rows_int(r, 0, 1, 0);
	unpriced = db_rows_int(r, 0, 5, 0);
	if (!cJSON_AddNumberToObject(o, "requests", (double)req) ||
	    !cJSON_AddNumberToObject(o, "failed", (double)failed) ||
	    !cJSON_AddNumberToObject(o, "prompt_tokens",
				     (double)db_rows_int(r, 0, 2, 0)) ||
	    !cJSON_AddNumberToObject(o, "completion_tokens",
				     (double)db_rows_int(r, 0, 3, 0)) ||
	    !usage_add_cost(o, db_rows_int(r, 0, 4, 0), unpriced) ||
	    !(req > 0 ? cJSON_AddNumberToObject(o, "error_rate",
						(double)failed / (double)req) :
			cJSON_AddNullToObject(o, "error_rate"))) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	db_rows_free(r);
	r = NULL;
	rc = db_query(c, "SELECT SUM(registrations), SUM(logins),"
		      " SUM(failed_logins) FROM daily"
		      " WHERE day BETWEEN $1 AND $2", p, 2, &r);
	if (rc < 0)
		goto out;
	if (!cJSON_AddNumberToObject(o, "registrations",
				     (double)db_rows_int(r, 0, 0, 0)) ||
	    !cJSON_AddNumberToObject(o, "logins",
				     (double)db_rows_int(r, 0, 1, 0)) ||
	    !cJSON_AddNumberToObject(o, "failed_logins",
				     (double)db_rows_int(r, 0, 2, 0))) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	db_rows_free(r);
	r = NULL;
	rc = summary_errors(c, p, o);
	if (rc == 0)
		rc = summary_quantiles(c, from, to, "t", o, "ttft_ms_p50",
				       "ttft_ms_p95");
	if (rc == 0)
		rc = summary_quantiles(c, from, to, "l", o, "latency_ms_p50",
				       "latency_ms_p95");
out:
	db_rows_free(r);
	return rc;
}

void usage_summary_handler(struct http_req *req, struct http_res *res)
{
	static const struct {
		const char *name;
		int days;
	} windows[] = {
		{ "today", 1 }, { "last_7_days", 7 }, { "last_30_days", 30 },
	};
	int64_t today = usage_today();
	struct db_conn *c = NULL;
	cJSON *root = cJSON_CreateObject(), *w;
	size_t i;
	int rc = root ? 0 : CHAT_ENOMEM;

	if (rc == 0 && daemon_db(req, &c)) {
		cJSON_Delete(root);
		return;
	}
	for (i = 0; rc == 0 && i < sizeof(windows) / sizeof(windows[0]);
	     i++) {
		w = cJSON_AddObjectToObject(root, windows[i].name);
		rc = w ? summary_window(c, today - (windows[i].days - 1),
					today, w) : CHAT_ENOMEM;
	}
	if (c)
		db_release(c);
	if (rc < 0) {
		cJSON_Delete(root);
		http_res_chat_error(res, rc, "cannot read the summary");
		return;
	}
	http_res_json(res, 200, root);
}

void usage_rebuild_handler(struct http_req *req, struct http_res *res)
{
	struct analyticsd *a = req->app;
	char day[DAY_LEN];
	int64_t horizon;
	cJSON *o;
	bool ok;
	int rc;

	rc = analyticsd_rebuild(a, &horizon);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot rebuild the rollups");
		return;
	}
	log_info("rollups rebuilt at an admin's request");
	o = cJSON_CreateObject();
	ok = o && cJSON_AddBoolToObject(o, "rebuilding", true);
	/* the days before the inbox's horizon were kept as they were: the
	 * answer says from which day the rollups are recomputed */
	range_day_format(horizon, day);
	if (ok && horizon > 0)
		ok = cJSON_AddStringToObject(o, "rebuilt_from", day) != NULL;
	else if (ok)
		ok = cJSON_AddNullToObject(o, "rebuilt_from") != NULL;
	if (!ok) {
		cJSON_Delete(o);
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		return;
	}
	http_res_json(res, 202, o);
}
