/*
 * events-consumer.h - the consumer side of the event backbone (see
 * events.h): a consumer daemon (analyticsd) hands every event of the
 * producers to its events_handle_fn, inside a transaction of its own
 * store that also records the event in the inbox, so an event redelivered
 * after a crash is skipped and never counts twice.
 *
 * Two transports behind one struct events_consumer_ops, chosen by
 * events_consumer_new:
 *   embedded  (default) one thread per producer long-polls the producer's
 *             GET /internal/events?after=POS&consumer=NAME&wait_ms=MS,
 *             applies the batch in one transaction together with the
 *             inbox rows and the cursor (event_cursors.pos), then asks
 *             for the next one after the new position; a producer that
 *             is down is retried with backoff (250 ms doubling to 8 s);
 *             an answer naming another store than the cursor's (the
 *             producer's store was replaced) sends the cursor back to 0;
 *   kafka     (kafka.brokers or CHAT_KAFKA_BROKERS set) a consumer group
 *             named after the consumer reads the four topics; offsets
 *             are committed only after the transaction commits.  Its ops
 *             come from the Kafka module (events_consumer_kafka_ops).
 *
 * Tables (the consumer daemon's migrations create them, see
 * EVENTS_CONSUMER_MIGRATION_SQL):
 *   inbox(source TEXT, id TEXT, user_id TEXT NULL, event TEXT NULL,
 *         PRIMARY KEY (source, id))
 *     user_id: the event's userid, so that an erased user's rows are
 *     found; event: the whole event when the consumer keeps them
 *     (keep_events), so that it can rebuild its state from its own copy
 *     whatever the producers' retention pruned since
 *   event_cursors(producer TEXT PRIMARY KEY, pos BIGINT, store TEXT)
 *     store: the producer's outbox identity the cursor counts in (the
 *     "store" of its answers; added by events_consumer_new's own
 *     migration, EVENTS_CONSUMER_MIGRATION_BASE): another one means the
 *     producer's store was replaced, and the cursor starts again at 0
 *
 * Threads: start, stop and the stats from any thread (a lock orders
 * them; stop waits for the running batches); new and free from the
 * owner's.  The handler and on_applied run on the consumer's threads.
 */
#ifndef CHAT_EVENTS_CONSUMER_H
#define CHAT_EVENTS_CONSUMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"

struct cJSON;
struct daemon;
struct db_conn;
struct events_consumer;

/* The consumer's own schema_migrations versions (events_consumer_new
 * applies them after the daemon's), apart from the producers' outbox
 * (EVENTS_MIGRATION_BASE) and from a daemon's own (below it). */
#define EVENTS_CONSUMER_MIGRATION_BASE 1001000

/* The inbox and cursor tables, one SQL text for both stores. */
#define EVENTS_CONSUMER_MIGRATION_SQL \
	"CREATE TABLE inbox (" \
	" source TEXT NOT NULL," \
	" id TEXT NOT NULL," \
	" user_id TEXT," \
	" event TEXT," \
	" PRIMARY KEY (source, id)" \
	");" \
	"CREATE INDEX inbox_user_idx ON inbox (user_id);" \
	"CREATE TABLE event_cursors (" \
	" producer TEXT PRIMARY KEY," \
	" pos BIGINT NOT NULL" \
	")"

/* Called after a batch committed, once per event it applied (not for the
 * skipped ones), in order; for fan-out (analyticsd's live tail).  The
 * event is borrowed for the call. */
typedef void (*events_applied_fn)(void *app, const struct cJSON *event);

/* For a handler that sums a batch in memory and writes the sums once
 * (analyticsd): begin runs after the batch's BEGIN, before its first
 * event; end runs once after each begin that succeeded, with ok set
 * before the cursor and the COMMIT (what it writes is in the batch's
 * transaction; an error rolls the batch back), with ok 0 when the batch
 * is rolled back (drop what was gathered).  On the batch's thread. */
typedef int (*events_batch_fn)(void *app, struct db_conn *c);
typedef int (*events_batch_end_fn)(void *app, struct db_conn *c, int ok);

struct events_consumer_config {
	const char *name;		/* consumer name: "analyticsd" (the
					 * pull's consumer=, Kafka's group) */
	const char *const *producers;	/* daemon names, NULL-terminated */
	events_handle_fn handle;	/* required */
	events_applied_fn on_applied;	/* may be NULL */
	void *app;			/* first argument of both */
	int wait_ms;			/* long-poll wait (0: 2000; a stop
					 * waits for the pull in flight) */
	int limit;			/* batch size (0: EVENTS_PULL_LIMIT) */
	int kafka_limit;		/* batch size on Kafka (0: limit): not
					 * bound by a pull's answer, only by the
					 * memory of the batch's messages */
	int keep_events;		/* store each event in inbox.event */
	events_batch_fn batch_begin;	/* may be NULL */
	events_batch_end_fn batch_end;	/* may be NULL */
	int nice;			/* of the transport's threads (0: the
					 * daemon's): a consumer that may lag
					 * yields the CPU to the routes */
};

/* Per producer, for /metrics and the readiness of the consumer. */
struct events_consumer_stat {
	char producer[32];
	int64_t pos;			/* handled up to here */
	int64_t head;			/* the producer's newest, last seen */
	int connected;			/* last pull answered */
};

/* One transport.  The embedded one is in events-consumer.c; the Kafka
 * module fills the same struct. */
struct events_consumer_ops {
	const char *name;		/* "embedded", "kafka" */
	/* starts the transport's threads; ec is set up (config, daemon) */
	int (*start)(struct events_consumer *ec);
	/* stops and joins them; idempotent */
	void (*stop)(struct events_consumer *ec);
	/* fills up to n stats; returns how many */
	size_t (*stats)(struct events_consumer *ec,
			struct events_consumer_stat *out, size_t n);
};

/*
 * Makes a consumer for daemon d (its store, peers and config) without
 * starting it; applies the consumer tables' later migrations to d's store
 * (which must hold EVENTS_CONSUMER_MIGRATION_SQL's tables).  Picks the
 * transport from the config.  *out is the caller's
 * (events_consumer_free).  CHAT_EINVAL (no handler, no producer, a Kafka
 * config without the Kafka module, a failed migration; err says), or
 * CHAT_ENOMEM.  The owner's thread, before the loop.
 */
int events_consumer_new(struct daemon *d,
			const struct events_consumer_config *cfg,
			struct events_consumer **out, char *err,
			size_t errlen);
int events_consumer_start(struct events_consumer *ec);
/* Stops pulling and waits for the current batch to finish; may take up
 * to a pull's timeout.  Idempotent. */
void events_consumer_stop(struct events_consumer *ec);
void events_consumer_free(struct events_consumer *ec);	/* stops first */

/* Per-producer stats; returns how many were written (<= n). */
size_t events_consumer_stats(struct events_consumer *ec,
			     struct events_consumer_stat *out, size_t n);
/* Events skipped as malformed or failing their schema, since start. */
uint64_t events_consumer_skipped(const struct events_consumer *ec);
/* Producers' stores found replaced (embedded: an answer naming another
 * store than the cursor's), since start; each sent its cursor to 0. */
uint64_t events_consumer_store_changes(const struct events_consumer *ec);

/*
 * Applies one event inside c's open transaction: inserts (source, id)
 * into the inbox and, when it was not there, runs the handler.  Returns
 * 1 when applied, 0 when skipped (a duplicate, or a bad event: counted),
 * or the handler's or the store's error (the caller rolls back).  For
 * the transports, the embedded one and Kafka's alike.
 */
int events_consumer_apply(struct events_consumer *ec, struct db_conn *c,
			  const struct cJSON *event);
/* The same, with the event's text as it came (a Kafka message's value,
 * NUL-terminated) kept in the inbox instead of the event printed again;
 * text NULL: printed. */
int events_consumer_apply_text(struct events_consumer *ec,
			       struct db_conn *c, const struct cJSON *event,
			       const char *text);

/* For a transport's thread: waits on cond up to ms, unless *stopping
 * (read under lock, which the caller does not hold; whoever sets it
 * broadcasts cond).  Returns *stopping as last seen. */
bool events_consumer_sleep(pthread_mutex_t *lock, pthread_cond_t *cond,
			   const bool *stopping, int64_t ms);

/* For a transport's thread, once at its start: lowers the calling
 * thread's own priority to the config's nice (Linux: a thread's nice is
 * its own); a failure is logged, not fatal. */
void events_consumer_nice(struct events_consumer *ec);

/* For a transport: the consumer's daemon, config and private slot. */
struct daemon *events_consumer_daemon(struct events_consumer *ec);
const struct events_consumer_config *
events_consumer_config(struct events_consumer *ec);
void **events_consumer_transport(struct events_consumer *ec);

#endif
