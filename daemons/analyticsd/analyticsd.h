/*
 * analyticsd.h - the analytics daemon (issue 13): it consumes the events
 * of userd, sessiond, chatd and aid (events-consumer.h) into rollups of
 * its own store and answers the usage and analytics routes.
 *
 * Files: main.c (spec, config, consumer, rebuild), migrations.c,
 * rollup.c (an event -> its rollup delta), agg.c (a batch's deltas
 * gathered in memory; the store's upserts), retain.c (the inbox's
 * retention),
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
	/* the first day whose events the inbox still has in full (days
	 * since 1970-01-01; 0: every day): rollups of the days before are
	 * final, a rebuild keeps them and a late event of theirs counts
	 * no more (retain.c) */
	atomic_int_fast64_t horizon;
	int64_t retention_days;			/* 0: the inbox keeps all */
	atomic_bool pruning;			/* a retain job is queued */
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
	int64_t days;			/* day, as days since 1970-01-01 */
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
/* Writes a delta in c's open transaction (at once: outside a batch). */
int rollup_store(struct db_conn *c, const struct rollup_delta *d);
/* The events_handle_fn of analyticsd (app is the struct analyticsd):
 * inside a batch (rollup_batch_begin on this thread) the delta goes to
 * the batch's sums, else straight to the store. */
int rollup_handle(void *app, struct db_conn *c, const cJSON *event);
/* events_batch_fn: a batch of this thread starts in c's transaction
 * (SQLite: the larger page cache of ANALYTICSD_CACHE_KIB set on c). */
int rollup_batch_begin(void *app, struct db_conn *c);
/* events_batch_end_fn: ok, the batch's sums written in c's transaction
 * before its commit; not ok, dropped (the batch rolls back). */
int rollup_batch_end(void *app, struct db_conn *c, int ok);
/* Deletes the rollups of the days from `from` on (days since
 * 1970-01-01; 0: all) in c's open transaction (a rebuild). */
int rollup_clear(struct db_conn *c, int64_t from);
/* Applies every event kept in the inbox again, in c's open transaction
 * (after rollup_clear), but those of days before a->horizon; *n gets
 * how many counted. */
int rollup_replay(struct analyticsd *a, struct db_conn *c, int64_t *n);

/* --- agg.c: a batch's deltas summed per row of each rollup table --- */
struct agg_entry;
struct agg {
	struct agg_entry *e;		/* owned; open addressing */
	size_t cap, n;			/* slots (a power of 2), entries */
};
/* Adds a delta (its strings are copied).  CHAT_ENOMEM, CHAT_ETOOBIG
 * (key columns over 512 bytes). */
int agg_add(struct agg *g, const struct rollup_delta *d);
/* The batch's memory of whether user_id is erased: *state points to 0
 * (not looked up yet: the caller looks up and sets it), 1 (not erased)
 * or 2 (erased); valid until the next agg_ call.  A flush forgets. */
#define AGG_SEEN_UNKNOWN 0
#define AGG_SEEN_KEPT 1
#define AGG_SEEN_ERASED 2
int agg_user_seen(struct agg *g, const char *user_id, int64_t **state);
/* Whether it holds enough rows to be written before the batch ends. */
bool agg_full(const struct agg *g);
/* Writes every row, sorted by key, in c's open transaction; empties g
 * when it succeeded. */
int agg_flush(struct agg *g, struct db_conn *c);
void agg_reset(struct agg *g);		/* empties, nothing written */
void agg_release(struct agg *g);	/* empties and frees the table */

/* The counters of the usage tables (usage_daily, usage_model_daily,
 * usage_user_daily), in this order everywhere. */
#define ROLLUP_NSUMS 10
#define ROLLUP_SUM_NAMES \
	"requests, completed, stopped, failed, prompt_tokens," \
	" completion_tokens, cost_pusd, unpriced, conversations, messages"
#define ROLLUP_SUM_SUMS \
	"SUM(requests), SUM(completed), SUM(stopped), SUM(failed)," \
	" SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_pusd)," \
	" SUM(unpriced), SUM(conversations), SUM(messages)"
#define ROLLUP_SUM_COLUMNS \
	" requests BIGINT NOT NULL DEFAULT 0," \
	" completed BIGINT NOT NULL DEFAULT 0," \
	" stopped BIGINT NOT NULL DEFAULT 0," \
	" failed BIGINT NOT NULL DEFAULT 0," \
	" prompt_tokens BIGINT NOT NULL DEFAULT 0," \
	" completion_tokens BIGINT NOT NULL DEFAULT 0," \
	" cost_pusd BIGINT NOT NULL DEFAULT 0," \
	" unpriced BIGINT NOT NULL DEFAULT 0," \
	" conversations BIGINT NOT NULL DEFAULT 0," \
	" messages BIGINT NOT NULL DEFAULT 0"
/* The SET list of a usage table t's upserts: every counter added. */
#define ROLLUP_SUMS(t) \
	"requests = " t ".requests + excluded.requests," \
	" completed = " t ".completed + excluded.completed," \
	" stopped = " t ".stopped + excluded.stopped," \
	" failed = " t ".failed + excluded.failed," \
	" prompt_tokens = " t ".prompt_tokens + excluded.prompt_tokens," \
	" completion_tokens = " t ".completion_tokens" \
	" + excluded.completion_tokens," \
	" cost_pusd = " t ".cost_pusd + excluded.cost_pusd," \
	" unpriced = " t ".unpriced + excluded.unpriced," \
	" conversations = " t ".conversations + excluded.conversations," \
	" messages = " t ".messages + excluded.messages"
#define ROLLUP_USAGE_SUMS ROLLUP_SUMS("usage_daily")

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

/* --- retain.c: the inbox's retention (analyticsd.inbox_retention_days)
 * --- */
#define ANALYTICSD_CACHE_KIB 32768	/* SQLite page cache of a batch */
#define ANALYTICSD_WAL_PAGES 16384	/* its WAL's checkpoint, in pages */
#define ANALYTICSD_KAFKA_BATCH 20000	/* events a batch from Kafka */
/* Reads the config and the stored horizon into a; before the consumer
 * starts.  CHAT_EINVAL (the key, err says), CHAT_EDB and the like. */
int retain_init(struct analyticsd *a, char *err, size_t errlen);
/* The cron: queues a pruning job on the worker pool unless one is. */
void retain_cron(struct analyticsd *a);
/* Prunes now, every page (for tests and the job itself): inbox rows
 * whose event is older than the retention go, 500 a transaction, and
 * the horizon moves to the first day kept in full.  *pruned gets how
 * many rows went.  Worker thread. */
int retain_prune(struct analyticsd *a, int64_t *pruned);

/* --- usage.c: handlers --- */
void usage_me_handler(struct http_req *req, struct http_res *res);
void usage_admin_handler(struct http_req *req, struct http_res *res);
void usage_summary_handler(struct http_req *req, struct http_res *res);
void usage_rebuild_handler(struct http_req *req, struct http_res *res);

/* --- main.c --- */
/* Stops the consumer, clears the rollups from the inbox's horizon on,
 * applies every event of the inbox of those days again, and starts the
 * consumer from position 0 of every producer (what their retention kept
 * and the inbox lacks is added).  *from gets the horizon (0: every day
 * was rebuilt).  One transaction: readers see the old totals until the
 * new ones.  Worker thread. */
int analyticsd_rebuild(struct analyticsd *a, int64_t *from);

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
