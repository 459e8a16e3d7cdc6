/*
 * analyticsd.h - the analytics daemon (issue 13): it consumes the events
 * of userd, sessiond, chatd and aid (events-consumer.h) into rollups of
 * its own store and answers the usage and analytics routes.
 *
 * Files: main.c (spec, config, consumer, rebuild), migrations.c,
 * rollup.c (an event -> its rollup delta; the store's upserts),
 * erase.c (a user's erasure),
 * sketch.c (latency histograms), range.c (days and query ranges),
 * usage.c (the usage and summary routes), tail.c (the live SSE tail),
 * metrics.c (/metrics).
 */
#ifndef CHAT_ANALYTICSD_H
#define CHAT_ANALYTICSD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "http-server.h"

struct events_consumer;
struct tail;

#define ANALYTICSD_MODEL_MAX 128	/* bytes of a model name */
#define ANALYTICSD_MAX_PRICES 256
#define ANALYTICSD_MAX_DAYS 366		/* longest query range */

/* A model's price per million tokens, in micro-USD (exact to 6
 * decimals of a dollar). */
struct price {
	char model[ANALYTICSD_MODEL_MAX];
	int64_t input_micro;
	int64_t output_micro;
};

struct prices {
	struct price p[ANALYTICSD_MAX_PRICES];
	size_t n;
};

/* Business counters since start, for /metrics; one per model seen. */
#define ANALYTICSD_METRIC_MODELS 64
struct model_counter {
	char model[ANALYTICSD_MODEL_MAX];
	int64_t requests;
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t cost_pusd;
	int64_t unpriced;
};

struct analyticsd {
	struct daemon d;			/* first: req->app */
	struct prices prices;
	struct events_consumer *consumer;	/* owned */
	struct tail *tail;			/* owned */
	pthread_mutex_t rebuild_lock;		/* one rebuild at a time */
	pthread_mutex_t counters_lock;
	struct model_counter counters[ANALYTICSD_METRIC_MODELS];
	size_t ncounters;			/* under counters_lock */
	const char *metrics_token;		/* cfg's, NULL: no /metrics */
};

/* The producers analyticsd consumes, NULL-terminated. */
extern const char *const analyticsd_producers[];

/* --- range.c: days as "YYYY-MM-DD" (UTC) --- */
#define DAY_LEN 11
/* Days since 1970-01-01 of a strict "YYYY-MM-DD"; CHAT_EINVAL. */
int range_day_parse(const char *s, int64_t *days);
void range_day_format(int64_t days, char out[DAY_LEN]);
/* The UTC day of a unix time in ms. */
int64_t range_day_of_ms(int64_t ms);
/* The UTC day of an RFC 3339 time ("2026-12-07T15:04:05.123Z"; an
 * offset is applied); CHAT_EINVAL when malformed. */
int range_day_of_time(const char *rfc3339, int64_t *days);
/* from= and to= of a query into [from, to] days: defaults to the 30
 * days up to today; CHAT_EINVAL with the reason in err for a malformed
 * date, to before from, or more than ANALYTICSD_MAX_DAYS days. */
int range_parse(const struct http_req *req, int64_t today, int64_t *from,
		int64_t *to, char *err, size_t errlen);

/* --- rollup.c --- */
/* What one event adds to the rollups. */
struct rollup_delta {
	char day[DAY_LEN];
	const char *user_id;		/* "" for none; points into the event */
	const char *model;		/* "" for none; points into the event */
	int64_t requests, completed, stopped, failed;
	const char *error_class;	/* a failure's, else NULL */
	int64_t prompt_tokens, completion_tokens;
	int64_t cost_pusd;		/* pico-USD, when priced */
	int64_t unpriced;		/* requests without a price */
	int64_t ttft_ms, latency_ms;	/* -1: none */
	int64_t conversations, messages;
	int64_t registrations, logins, failed_logins;
	bool active;			/* user_id was active that day */
	bool usage;			/* touches usage_daily */
};

/* A decimal price ("2.5", "0.15") into micro-USD; CHAT_EINVAL. */
int rollup_price_parse(const char *s, int64_t *micro);
/* The price of a model or NULL (cost unknown). */
const struct price *rollup_price(const struct prices *p, const char *model);
/* The delta of an event; CHAT_EINVAL when it fails the schema of its
 * type.  A type that counts for nothing gives a delta with nothing set
 * but maybe active. */
int rollup_from_event(const struct prices *p, const cJSON *event,
		      struct rollup_delta *out);
/* Writes a delta in c's open transaction. */
int rollup_store(struct db_conn *c, const struct rollup_delta *d);
/* The events_handle_fn of analyticsd (app is the struct analyticsd). */
int rollup_handle(void *app, struct db_conn *c, const cJSON *event);
/* Deletes every rollup in c's open transaction (a rebuild). */
int rollup_clear(struct db_conn *c);
/* Applies every event kept in the inbox again, in c's open transaction
 * (after rollup_clear); *n gets how many counted. */
int rollup_replay(struct analyticsd *a, struct db_conn *c, int64_t *n);

/* The SET list of usage_daily's upserts: every counter added. */
#define ROLLUP_USAGE_SUMS \
	"requests = usage_daily.requests + excluded.requests," \
	" completed = usage_daily.completed + excluded.completed," \
	" stopped = usage_daily.stopped + excluded.stopped," \
	" failed = usage_daily.failed + excluded.failed," \
	" prompt_tokens = usage_daily.prompt_tokens" \
	" + excluded.prompt_tokens," \
	" completion_tokens = usage_daily.completion_tokens" \
	" + excluded.completion_tokens," \
	" cost_pusd = usage_daily.cost_pusd + excluded.cost_pusd," \
	" unpriced = usage_daily.unpriced + excluded.unpriced," \
	" conversations = usage_daily.conversations" \
	" + excluded.conversations," \
	" messages = usage_daily.messages + excluded.messages"

/* --- erase.c: a user's erasure (chat.user.deleted) --- */
/* The event without its user: the envelope but userid and subject, and
 * only the data keys the rollups read.  *out is the caller's. */
int erase_strip(const cJSON *event, cJSON **out);
/* Whether the user was erased. */
int erase_is_erased(struct db_conn *c, const char *user_id, bool *yes);
/* The inbox row of stripped's (source, id) gets stripped's text and no
 * user. */
int erase_rewrite(struct db_conn *c, const cJSON *stripped);
/* In c's open transaction: the user's rollups merged into user '', the
 * active days deleted, the kept events stripped, the user recorded as
 * erased. */
int erase_user(struct db_conn *c, const char *user_id);

/* --- usage.c: handlers --- */
void usage_me_handler(struct http_req *req, struct http_res *res);
void usage_admin_handler(struct http_req *req, struct http_res *res);
void usage_summary_handler(struct http_req *req, struct http_res *res);
void usage_rebuild_handler(struct http_req *req, struct http_res *res);

/* --- main.c --- */
/* Stops the consumer, clears the rollups, applies every event of the
 * inbox again, and starts the consumer from position 0 of every
 * producer (what their retention kept and the inbox lacks is added).
 * One transaction: readers see the old totals until the new ones.
 * Worker thread, or the main thread before the loop. */
int analyticsd_rebuild(struct analyticsd *a);

/* --- tail.c: the live tail of GET /v1/admin/events --- */
int tail_new(struct tail **out);
/* Ends every stream; then frees. */
void tail_free(struct tail *t);
/* events_applied_fn: an event to every matching stream. */
void tail_publish(void *app, const cJSON *event);
/* The cron: keep-alives, and streams whose client left are ended. */
void tail_cron(struct tail *t);
void tail_handler(struct http_req *req, struct http_res *res);

/* --- metrics.c --- */
void metrics_count(struct analyticsd *a, const struct rollup_delta *d);
void metrics_handler(struct http_req *req, struct http_res *res);

/* migrations.c */
extern const struct db_migration analyticsd_migrations[];
extern const size_t analyticsd_migrations_count;

#endif
