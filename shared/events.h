/*
 * events.h - the event backbone's contract (issue 13): every producing
 * daemon's transactional outbox of CloudEvents, its relay, the internal
 * pull API consumers read it through, and the consumer side's inbox.
 *
 * Producing: a handler that changes state calls events_emit() with the
 * same open transaction as the change, so the event and the change
 * commit together or not at all.  events_emit() only INSERTs a row; it
 * never commits, syncs or talks to the network, so no request path gains
 * an fsync.
 *
 * The table (both stores; created by the daemon kit for every spec with
 * .events = 1, see events_kit_migrate() in events-relay.h):
 *
 *   outbox(seq   autoincrement primary key,  -- insert order
 *          id    TEXT UNIQUE,     -- the event's UUIDv7 (CloudEvents id)
 *          type  TEXT,            -- "chat.user.registered"
 *          user_id TEXT NULL,     -- the user it concerns (Kafka key)
 *          time_ms INTEGER,
 *          event TEXT,            -- the whole CloudEvents JSON object
 *          pos   INTEGER NULL UNIQUE,  -- SQLite: at insert; PostgreSQL:
 *                                      -- by the relay, see below
 *          relayed_ms INTEGER NULL)    -- acknowledged by Kafka
 *   outbox_consumers(name TEXT PRIMARY KEY, pos INTEGER, seen_ms INTEGER)
 *   outbox_head(id = 1, pos INTEGER,  -- the highest pos ever given, so
 *                                     -- pruning never lets one be reused
 *               store TEXT)           -- the outbox's identity, random,
 *                                     -- made with the outbox
 *
 * Why a store identity: positions count from 1 in every new store, so a
 * producer whose store was replaced (a restored backup, a recreated
 * database) would give positions a consumer's cursor has already passed,
 * and the consumer would wait forever past the head.  Every answer names
 * the store; a consumer that sees another one than its cursor's starts
 * again from position 0 of the new store (its inbox drops what it has).
 *
 * Why pos and not seq as the consumers' cursor: on PostgreSQL two
 * transactions can commit their rows in the other order than their
 * sequence numbers were drawn, so a reader that has seen seq 6 may later
 * find a newly committed seq 5 and skip it.  The relay (one per store,
 * serialized by a store lock) gives committed rows positions in the
 * order it sees them, which is a commit order: pos never has a hole a
 * later commit fills.  SQLite has one writer at a time (BEGIN IMMEDIATE),
 * so there events_emit gives the row its pos in the insert's transaction
 * (outbox_head counts), and the relay stamps only rows written without
 * one.
 *
 * The relay (a worker job of the daemon kit, events-relay.c: every 200 ms
 * for a second after an emit in this process (every 50 ms tick on SQLite
 * without Kafka, where a pass has nothing to stamp), else once a second,
 * which also catches rows of other processes on the same store and rows
 * a crash left): in ONE transaction per pass, and none when there is
 * nothing to write, stamps pos on rows without one, records the
 * consumers' cursors that moved (at most once a second) and prunes;
 * with kafka.brokers set, also publishes rows without relayed_ms to
 * their topic (events_topic) and marks them only after the broker
 * acknowledged them; prunes rows every registered consumer has read
 * (embedded) or that Kafka acknowledged (Kafka), and any row older than
 * events.retention_s.  A broker that is down never fails a request: rows
 * wait, the relay retries with backoff.
 *
 * Pull API of every producing daemon (internal secret required):
 *
 *   GET /internal/events?after=POS&limit=N&wait_ms=MS&consumer=NAME
 *                        &store=STORE_ID
 *   200 {"events":[{"pos":P,"event":{...CloudEvent...}}, ...],
 *        "last":P_or_after, "head":HIGHEST_POS, "store":STORE_ID}
 *
 * at-least-once: "after" is the highest pos the consumer has durably
 * handled; naming consumer=NAME records it in outbox_consumers (the
 * consumer is then registered and pruning waits for it; a known name's
 * later positions are written by the relay's next pass, not by the
 * pull, so that polls add no write transaction to the store; with
 * store= naming another store than this one, after is a position of
 * that other store and is not recorded).  With nothing
 * after POS the call waits up to wait_ms (<= 30000) for new rows.
 * limit defaults to 500, at most 5000.  A waiting call holds no worker
 * thread: it is parked and answered by the relay's wakeup or at its
 * deadline.
 *
 *   GET /internal/events/stats
 *   200 {"head":P,"depth":ROWS_WITHOUT_POS,"unrelayed":ROWS_NOT_ACKED,
 *        "rows":ROWS,"transport":"embedded"|"kafka","store":STORE_ID,
 *        "consumers":[{"name":N,"pos":P,"lag":HEAD-P,"seen_ms":MS}, ...]}
 * ("unrelayed" counts only with kafka.brokers set, else 0).
 *
 * Each event (CloudEvents 1.0, structured JSON):
 *   {"specversion":"1.0","id":UUIDv7,"source":"/chat/<daemon>",
 *    "type":"chat.<noun>.<verb>","time":RFC3339 with ms, "subject":...,
 *    "datacontenttype":"application/json","userid":USER_ID_or_absent,
 *    "data":{...}}
 * "userid" is a CloudEvents extension attribute (lowercase alphanumeric,
 * as the spec asks).  Never a secret in data: no password, token, key or
 * upstream key; message text only with events.include_text = 1.
 * docs/events.md lists every type with its data.
 *
 * Topics (Kafka): by the type's noun, events_topic():
 *   chat.user.*, chat.session.*, chat.apikey.*   -> user-events
 *   chat.conversation.*, chat.message.*          -> chat-events
 *   chat.generation.*                            -> ai-events
 *   chat.system.*                                -> system-events
 */
#ifndef CHAT_EVENTS_H
#define CHAT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct daemon;
struct db_conn;
struct db_migration;

#define EVENTS_RELAY_MS 50
#define EVENTS_PULL_LIMIT 500
#define EVENTS_PULL_LIMIT_MAX 5000
#define EVENTS_WAIT_MAX_MS 30000
#define EVENTS_MAX_BYTES 65536		/* CloudEvents' forwarding floor */
#define EVENTS_STORE_ID_MAX 64		/* an outbox's store identity */

/*
 * Writes one event in c's open transaction (the caller's; never commits).
 * d names the source; type is "chat.<noun>.<verb>"; user_id the user the
 * event concerns (NULL for none); subject what it is about, such as
 * "conversations/<id>" (NULL for none); data is borrowed, serialized here
 * (NULL: {}).  Wakes this process's relay after the caller commits (the
 * relay polls in any case).  Returns 0, CHAT_EINVAL (bad type, data not
 * an object, an event over EVENTS_MAX_BYTES), CHAT_ENOMEM or the store's
 * error (the caller then rolls back).  Any thread.
 */
int events_emit(struct db_conn *c, const struct daemon *d, const char *type,
		const char *user_id, const char *subject,
		const struct cJSON *data);

/*
 * The serialized CloudEvents object events_emit writes (for tests and
 * tools): daemon names the source, id the event's id, ms its time.
 * *out is the caller's (free).  Errors as events_emit's.
 */
int events_envelope(const char *daemon, const char *id, int64_t ms,
		    const char *type, const char *user_id,
		    const char *subject, const struct cJSON *data,
		    char **out);

/*
 * Erasure (DELETE /v1/admin/users/{id}): deletes the outbox rows
 * concerning user_id in c's open transaction, so that a service's
 * POST /internal/users/{id}/erase leaves no event naming the user; call
 * it in the erase's own transaction.  userd then writes
 * chat.user.deleted (only ids), the tombstone consumers erase their own
 * data on.  0 (also for a daemon without .events) or the store's error.
 */
int events_erase_user(struct db_conn *c, const struct daemon *d,
		      const char *user_id);

/* Whether message text may go into events (events.include_text). */
int events_include_text(const struct daemon *d);

/* The Kafka topic of an event type; NULL for a type outside the four. */
const char *events_topic(const char *type);

/*
 * The consumer side (events-consumer.c): a consumer daemon (analyticsd)
 * names a handler that applies one event inside an open transaction of
 * its own store.  The consumer runs the handler and, in the same
 * transaction, inserts (source, id) into its inbox table and advances its
 * cursor (embedded: the producer's pos; Kafka: nothing, the offset is
 * stored only after the commit), so a redelivered event is skipped and
 * never counts twice.  An event that does not parse or fails its schema
 * is logged, counted (events_consumer_skipped) and skipped, never retried
 * forever and never a crash.
 *
 *   inbox(source TEXT, id TEXT, PRIMARY KEY (source, id))
 *   event_cursors(producer TEXT PRIMARY KEY, pos INTEGER,
 *                 store TEXT NULL)  -- the producer's store identity
 *
 * handle returns 0 (applied), CHAT_EINVAL (bad event: skipped and
 * counted, the transaction still commits the inbox row) or another error
 * (the batch is rolled back and retried with backoff).
 */
typedef int (*events_handle_fn)(void *app, struct db_conn *c,
				const struct cJSON *event);

#endif
