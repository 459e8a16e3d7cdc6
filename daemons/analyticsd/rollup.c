/*
 * rollup.c - what an event adds to analyticsd's rollups, and the upserts
 * that add it.  rollup_from_event is pure (an event and the price table
 * in, a struct rollup_delta out), so the arithmetic is unit-tested
 * without a store; rollup_handle adds a delta to its batch's sums
 * (agg.c), which rollup_batch_end writes in the consumer's batch
 * transaction, beside the inbox rows of the events (events-consumer.h).
 * The batch is the thread's own: each consumer thread runs one batch at
 * a time, from rollup_batch_begin to rollup_batch_end.
 *
 * The day of every count is the event's own time, not the time it was
 * consumed, so a replay (--rebuild) lands each count on the same day.
 * Which types count for what is the table at the end of the file.
 */
#include "analyticsd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "sketch.h"
#include "banned.h"

#define ROLLUP_TOKENS_MAX (INT64_C(1) << 40)	/* of one generation */
#define ROLLUP_MS_MAX (INT64_C(1) << 40)
#define ROLLUP_PRICE_MAX_MICRO (INT64_C(1000000) * 1000000)	/* $1M/M */
#define ROLLUP_CLASS_MAX 64
#define ROLLUP_STR_(x) #x
#define ROLLUP_STR(x) ROLLUP_STR_(x)

typedef int (*rollup_fill_fn)(const struct prices *p, const cJSON *data,
			      struct rollup_delta *d);

struct rollup_type {
	const char *type;
	rollup_fill_fn fill;
	bool active;			/* marks its user active that day */
};

static const struct rollup_type *rollup_type_find(const char *type);

/* The batch this thread is running, NULL outside one (owned). */
static _Thread_local struct agg *rollup_batch;

/* data[key] as a whole number in [0, max]; *out = def when absent or
 * null; CHAT_EINVAL when of another type or out of range. */
static int data_int(const cJSON *data, const char *key, int64_t max,
		    int64_t def, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	*out = def;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    v->valuedouble > (double)max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return CHAT_EINVAL;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* data[key] as a short string, "" when absent or null. */
static int data_str(const cJSON *data, const char *key, size_t max,
		    const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	*out = "";
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= max)
		return CHAT_EINVAL;
	*out = v->valuestring;
	return 0;
}

/* A generation's end: completed, stopped or failed. */
static int fill_generation(const struct prices *p, const cJSON *data,
			   struct rollup_delta *d)
{
	const struct price *pr;
	int64_t in, out;
	int rc;

	rc = data_str(data, "model", ANALYTICSD_MODEL_MAX, &d->model);
	if (rc == 0 && !*d->model)
		rc = CHAT_EINVAL;	/* a generation always has a model */
	if (rc == 0)
		rc = data_int(data, "prompt_tokens", ROLLUP_TOKENS_MAX, 0,
			      &d->prompt_tokens);
	if (rc == 0)
		rc = data_int(data, "completion_tokens", ROLLUP_TOKENS_MAX, 0,
			      &d->completion_tokens);
	if (rc == 0)
		rc = data_int(data, "ttft_ms", ROLLUP_MS_MAX, -1, &d->ttft_ms);
	if (rc == 0)
		rc = data_int(data, "latency_ms", ROLLUP_MS_MAX, -1,
			      &d->latency_ms);
	if (rc < 0)
		return CHAT_EINVAL;
	d->requests = 1;
	d->usage = true;
	pr = rollup_price(p, d->model);
	if (!pr) {
		d->unpriced = 1;
		return 0;
	}
	/* tokens up to 2^40 at up to $1M/M do not fit in pico-USD: such a
	 * cost (over $9M for one generation) is a garbled event, and an
	 * overflow would be undefined (found by tests/fuzz/fuzz-event.c) */
	if (__builtin_mul_overflow(d->prompt_tokens, pr->input_micro, &in) ||
	    __builtin_mul_overflow(d->completion_tokens, pr->output_micro,
				   &out) ||
	    __builtin_add_overflow(in, out, &d->cost_pusd))
		return CHAT_EINVAL;
	return 0;
}

static int fill_completed(const struct prices *p, const cJSON *data,
			  struct rollup_delta *d)
{
	d->completed = 1;
	return fill_generation(p, data, d);
}

static int fill_stopped(const struct prices *p, const cJSON *data,
			struct rollup_delta *d)
{
	d->stopped = 1;
	return fill_generation(p, data, d);
}

static int fill_failed(const struct prices *p, const cJSON *data,
		       struct rollup_delta *d)
{
	const char *cls = "";
	int rc;

	d->failed = 1;
	/* aid's class of a failure is its usage row's status (timeout,
	 * unavailable, truncated, error); "error" is the answer's code */
	rc = data_str(data, "error_class", ROLLUP_CLASS_MAX, &cls);
	if (rc == 0 && !*cls)
		rc = data_str(data, "status", ROLLUP_CLASS_MAX, &cls);
	if (rc == 0 && !*cls)
		rc = data_str(data, "error", ROLLUP_CLASS_MAX, &cls);
	if (rc < 0)
		return CHAT_EINVAL;
	d->error_class = *cls ? cls : "unknown";
	return fill_generation(p, data, d);
}

static int fill_conversation(const struct prices *p, const cJSON *data,
			     struct rollup_delta *d)
{
	(void)p;
	if (data_str(data, "model", ANALYTICSD_MODEL_MAX, &d->model) < 0)
		return CHAT_EINVAL;
	d->conversations = 1;
	d->usage = true;
	return 0;
}

static int fill_message(const struct prices *p, const cJSON *data,
			struct rollup_delta *d)
{
	(void)p;
	if (data_str(data, "model", ANALYTICSD_MODEL_MAX, &d->model) < 0)
		return CHAT_EINVAL;
	d->messages = 1;
	d->usage = true;
	return 0;
}

static int fill_registered(const struct prices *p, const cJSON *data,
			   struct rollup_delta *d)
{
	(void)p;
	(void)data;
	d->registrations = 1;
	return 0;
}

static int fill_login(const struct prices *p, const cJSON *data,
		      struct rollup_delta *d)
{
	(void)p;
	(void)data;
	d->logins = 1;
	return 0;
}

static int fill_login_failed(const struct prices *p, const cJSON *data,
			     struct rollup_delta *d)
{
	(void)p;
	(void)data;
	d->failed_logins = 1;
	return 0;
}

/* Any other event of a user: activity only. */
static int fill_nothing(const struct prices *p, const cJSON *data,
			struct rollup_delta *d)
{
	(void)p;
	(void)data;
	(void)d;
	return 0;
}

int rollup_price_parse(const char *s, int64_t *micro)
{
	int64_t whole = 0, frac = 0;
	int nfrac = 0;
	const char *c = s;

	if (!s || !*s)
		return CHAT_EINVAL;
	for (; *c >= '0' && *c <= '9'; c++) {
		whole = whole * 10 + (*c - '0');
		if (whole > ROLLUP_PRICE_MAX_MICRO / 1000000)
			return CHAT_EINVAL;
	}
	if (c == s)
		return CHAT_EINVAL;
	if (*c == '.') {
		c++;
		if (*c < '0' || *c > '9')
			return CHAT_EINVAL;
		for (; *c >= '0' && *c <= '9'; c++) {
			if (++nfrac > 6)
				return CHAT_EINVAL;	/* below a micro-USD */
			frac = frac * 10 + (*c - '0');
		}
	}
	if (*c)
		return CHAT_EINVAL;
	for (; nfrac < 6; nfrac++)
		frac *= 10;
	*micro = whole * 1000000 + frac;
	return 0;
}

const struct price *rollup_price(const struct prices *p, const char *model)
{
	size_t i;

	for (i = 0; model && i < p->n; i++)
		if (strcmp(p->p[i].model, model) == 0)
			return &p->p[i];
	return NULL;
}

int rollup_from_event(const struct prices *p, const cJSON *event,
		      struct rollup_delta *out)
{
	const char *type = json_str(event, "type");
	const char *time = json_str(event, "time");
	const char *user = json_str(event, "userid");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	const struct rollup_type *t;
	const char *by, *at;
	int64_t day, at_day;
	int rc;

	memset(out, 0, sizeof(*out));
	out->user_id = "";
	out->model = "";
	out->ttft_ms = out->latency_ms = -1;
	if (!type || range_day_of_time(time, &day) < 0)
		return CHAT_EINVAL;
	if (data && !cJSON_IsObject(data))
		return CHAT_EINVAL;
	/* userd writes login events in batches: "at" is when the login
	 * happened, which a batch around midnight puts on the day before */
	at = json_str(data, "at");
	if (at && range_day_of_time(at, &at_day) == 0)
		day = at_day;
	if (user && (!*user || strlen(user) > 64))
		return CHAT_EINVAL;
	range_day_format(day, out->day);
	out->days = day;
	if (user)
		out->user_id = user;
	t = rollup_type_find(type);
	if (!t)
		t = rollup_type_find("");
	rc = t->fill(p, data, out);
	if (rc < 0)
		return rc;
	/* a change an admin made ("by") is no activity of the user's */
	by = json_str(data, "by");
	out->active = t->active && user && (!by || strcmp(by, user) == 0);
	return 0;
}

int rollup_store(struct db_conn *c, const struct rollup_delta *d)
{
	struct agg g = { 0 };
	int rc;

	rc = agg_add(&g, d);
	if (rc == 0)
		rc = agg_flush(&g, c);
	agg_release(&g);
	return rc;
}

int rollup_batch_begin(void *app, struct db_conn *c)
{
	struct analyticsd *a = app;
	int rc = 0;

	if (!rollup_batch) {
		rollup_batch = calloc(1, sizeof(*rollup_batch));
		if (!rollup_batch)
			return CHAT_ENOMEM;
	}
	agg_reset(rollup_batch);
	/* a batch's upserts land all over a store of 100+ MB: SQLite's
	 * 2 MB default cache reread pages from disk for each (per
	 * connection; negative: KiB) */
	if (strcmp(db_backend(a->d.db), "sqlite") == 0)
		rc = db_exec(c, "PRAGMA cache_size = -"
			     ROLLUP_STR(ANALYTICSD_CACHE_KIB), NULL, 0, NULL);
	/* and they rewrite the same rollup pages batch after batch: with
	 * the default checkpoint past 1,000 WAL pages every batch's commit
	 * copied its pages into the file and synced it again; a larger
	 * WAL copies each page once for many batches (issue 13) */
	if (rc == 0 && strcmp(db_backend(a->d.db), "sqlite") == 0)
		rc = db_exec(c, "PRAGMA wal_autocheckpoint = "
			     ROLLUP_STR(ANALYTICSD_WAL_PAGES), NULL, 0, NULL);
	if (rc < 0)	/* no end follows a failed begin */
		rollup_batch_end(app, c, 0);
	return rc;
}

int rollup_batch_end(void *app, struct db_conn *c, int ok)
{
	int rc = 0;

	(void)app;
	if (!rollup_batch)
		return ok ? CHAT_EINVAL : 0;	/* no begin */
	if (ok)
		rc = agg_flush(rollup_batch, c);
	/* freed after each batch: the consumer's threads end at every
	 * rebuild, and a thread's own pointer would leak with them */
	agg_release(rollup_batch);
	free(rollup_batch);
	rollup_batch = NULL;
	return rc;
}

/* erase_is_erased, once per user and batch. */
static int rollup_is_erased(struct db_conn *c, const char *user, bool *yes)
{
	int64_t *seen = NULL;
	int rc;

	if (!rollup_batch)
		return erase_is_erased(c, user, yes);
	rc = agg_user_seen(rollup_batch, user, &seen);
	if (rc == 0 && *seen != AGG_SEEN_UNKNOWN) {
		*yes = *seen == AGG_SEEN_ERASED;
		return 0;
	}
	if (rc == 0)
		rc = erase_is_erased(c, user, yes);
	if (rc == 0)	/* the lookup left the batch's table alone */
		*seen = *yes ? AGG_SEEN_ERASED : AGG_SEEN_KEPT;
	return rc;
}

int rollup_handle(void *app, struct db_conn *c, const cJSON *event)
{
	struct analyticsd *a = app;
	const char *type = json_str(event, "type");
	const char *user = json_str(event, "userid");
	struct rollup_delta d;
	cJSON *stripped = NULL;
	bool erased = false;
	int rc = 0;

	if (user && type && strcmp(type, "chat.user.deleted") == 0) {
		/* the batch's sums of the user first, so that the erasure
		 * merges them too */
		if (rollup_batch)
			rc = agg_flush(rollup_batch, c);
		if (rc == 0)
			rc = erase_user(c, user);
		erased = true;
	} else if (user) {
		/* a producer that had not heard of the erasure yet */
		rc = rollup_is_erased(c, user, &erased);
	}
	if (rc == 0 && erased) {
		rc = erase_strip(event, &stripped);
		if (rc == 0)
			rc = erase_rewrite(c, stripped);
		if (rc == 0)
			event = stripped;
	}
	if (rc < 0)
		goto out;
	rc = rollup_from_event(&a->prices, event, &d);
	if (rc < 0) {
		rc = CHAT_EINVAL;
		goto out;
	}
	/* the days before the horizon are final: their events left the
	 * inbox, so this one (a redelivery, or a rebuild's pull of an old
	 * outbox row) may have counted already */
	if (d.days < atomic_load(&a->horizon)) {
		log_debug("event '%s' of %s is before the inbox's horizon:"
			  " not counted", json_str(event, "id"), d.day);
		goto out;
	}
	/* /metrics counts after the commit (analyticsd_applied): a batch
	 * rolled back here is applied again */
	if (!rollup_batch) {
		rc = rollup_store(c, &d);
		goto out;
	}
	rc = agg_add(rollup_batch, &d);
	if (rc == 0 && agg_full(rollup_batch))
		rc = agg_flush(rollup_batch, c);
out:
	cJSON_Delete(stripped);
	return rc;
}

int rollup_clear(struct db_conn *c, int64_t from)
{
	static const char *const tables[] = {
		"usage_daily", "usage_model_daily", "usage_user_daily",
		"usage_errors", "usage_errors_daily", "usage_hist",
		"usage_hist_daily", "daily", "active",
	};
	char sql[96], day[DAY_LEN];
	struct db_param p;
	size_t i;
	int rc = 0;

	range_day_format(from, day);
	p = db_p_text(day);
	for (i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE day >= $1",
			 tables[i]);
		rc = db_exec(c, sql, &p, 1, NULL);
	}
	return rc;
}

int rollup_replay(struct analyticsd *a, struct db_conn *c, int64_t *n)
{
	char source[256] = "", id[128] = "";
	struct db_rows *r = NULL;
	struct db_param p[2];
	cJSON *ev;
	size_t i, got;
	int rc;

	*n = 0;
	do {
		p[0] = db_p_text(source);
		p[1] = db_p_text(id);
		/* keyset pages: an OFFSET would rescan what it skips */
		rc = db_query(c, "SELECT source, id, event FROM inbox"
			      " WHERE event IS NOT NULL AND (source > $1 OR"
			      " (source = $1 AND id > $2))"
			      " ORDER BY source, id LIMIT 1000", p, 2, &r);
		if (rc < 0)
			break;
		got = db_rows_count(r);
		for (i = 0; rc == 0 && i < got; i++) {
			const char *text = db_rows_get(r, i, 2);

			ev = text ? cJSON_Parse(text) : NULL;
			rc = ev ? rollup_handle(a, c, ev) : CHAT_EINVAL;
			cJSON_Delete(ev);
			if (rc == CHAT_EINVAL)
				rc = 0;	/* skipped when it came, too */
			else if (rc == 0)
				(*n)++;
		}
		if (rc == 0 && got > 0) {
			snprintf(source, sizeof(source), "%s",
				 db_rows_get(r, got - 1, 0));
			snprintf(id, sizeof(id), "%s",
				 db_rows_get(r, got - 1, 1));
		}
		db_rows_free(r);
		r = NULL;
	} while (rc == 0 && got > 0);
	return rc;
}

/* Sorted by type for the binary search; "" is every other type. */
static const struct rollup_type rollup_types[] = {
	{ "", fill_nothing, true },
	{ "chat.conversation.created", fill_conversation, true },
	{ "chat.generation.completed", fill_completed, true },
	{ "chat.generation.failed", fill_failed, true },
	{ "chat.generation.stopped", fill_stopped, true },
	{ "chat.message.created", fill_message, true },
	/* notifyd's, to the user (it comes on Kafka's system-events): no
	 * activity of theirs */
	{ "chat.notification.created", fill_nothing, false },
	{ "chat.user.logged_in", fill_login, true },
	/* the name tried may not be its owner's: no activity */
	{ "chat.user.login_failed", fill_login_failed, false },
	{ "chat.user.registered", fill_registered, true },
};

static const struct rollup_type *rollup_type_find(const char *type)
{
	size_t lo = 0, hi = sizeof(rollup_types) / sizeof(rollup_types[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(type, rollup_types[mid].type);

		if (cmp == 0)
			return &rollup_types[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
