/*
 * events-relay.h - the relay's side of the event backbone (events.h):
 * what the daemon kit runs for a spec with .events = 1, and the one
 * struct of function pointers through which the relay hands rows to a
 * broker (Kafka, in the run-time module chat-kafka.so, module.h).
 *
 * The kit (daemon.c) calls, in this order:
 *   events_kit_migrate   after the daemon's own migrations: the outbox
 *                        tables, in the version range EVENTS_MIGRATION_BASE
 *                        and up of schema_migrations (a daemon's own
 *                        versions stay below it)
 *   events_kit_new       after spec->init: reads events.* and
 *                        kafka.brokers (loading chat-kafka.so when set)
 *   events_kit_routes    the routes it adds to the daemon's table
 *   events_kit_start     once the server exists: arms the relay timer,
 *                        emits chat.system.started
 *   events_kit_stop      after the loop ended, before the pool is freed:
 *                        emits chat.system.stopping, runs a last relay,
 *                        answers every parked long-poll
 *   events_kit_free      after the pool is freed
 *
 * Publisher contract (chat-kafka.so exports
 * `const struct events_publisher chat_module_kafka_v2`, version
 * EVENTS_PUBLISHER_VERSION):
 *   open     makes a producer for brokers (a comma-separated bootstrap
 *            list): idempotent, acks=all, client id = client_id.  err
 *            gets the reason of a failure.  Called once, by the relay.
 *   publish  sends rows[0..n) to rows[i].topic, key rows[i].key (the user
 *            id; NULL: no key), value rows[i].event (CloudEvents
 *            structured mode, header content-type:
 *            application/cloudevents+json), and waits at most timeout_ms
 *            for the broker's acknowledgements.  Sets rows[i].acked = 1
 *            for each row the broker acknowledged (only those are marked
 *            relayed; the others are sent again later, so a duplicate is
 *            possible: at-least-once).  Returns 0 when every row was
 *            acknowledged, else a negative CHAT_E* code.  Never called
 *            concurrently on one handle; runs on a worker thread, so it
 *            may block up to timeout_ms.
 *   close    flushes for at most a second and frees the handle.
 */
#ifndef CHAT_EVENTS_RELAY_H
#define CHAT_EVENTS_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct db;
struct events;
struct http_route;

/* schema_migrations versions of the kit's outbox tables start here */
#define EVENTS_MIGRATION_BASE 1000000

#define EVENTS_PUBLISHER_VERSION 2
#define EVENTS_PUBLISH_BATCH 500	/* rows per publish call */
#define EVENTS_PUBLISH_TIMEOUT_MS 2000	/* a stop waits for at most one */

/* One outbox row handed to a publisher; every pointer is borrowed for
 * the call only. */
struct events_out_row {
	int64_t pos;			/* the row's position */
	const char *id;			/* the event's id (UUIDv7) */
	const char *type;		/* "chat.user.registered" */
	const char *topic;		/* events_topic(type) */
	const char *key;		/* the user id, or NULL */
	const char *event;		/* the CloudEvents JSON */
	size_t event_len;
	int acked;			/* out: the broker acknowledged it */
};

struct events_publisher {
	int (*open)(const char *brokers, const char *client_id, void **out,
		    char *err, size_t errlen);
	int (*publish)(void *h, struct events_out_row *rows, size_t n,
		       int timeout_ms);
	void (*close)(void *h);
};

/* The kit's hooks (see above); all but stop/free run on the main thread
 * before the loop.  err gets the reason of a failure. */
int events_kit_migrate(struct db *db, char *err, size_t errlen);
int events_kit_new(struct daemon *d, struct events **out, char *err,
		   size_t errlen);
/* The routes to append to the daemon's table (static storage). */
const struct http_route *events_kit_routes(size_t *n);
int events_kit_start(struct events *ev);
/* An emit happened in this process: relay soon (any thread). */
void events_kit_wake(struct events *ev);
void events_kit_stop(struct events *ev);
void events_kit_free(struct events *ev);

#endif
