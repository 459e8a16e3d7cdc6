/*
 * events-kafka.h - the event backbone's Kafka transport (events.h): what
 * the run-time module chat-kafka.so (shared/events-kafka.c, module.h)
 * exports, so that only a daemon with kafka.brokers set maps librdkafka.
 *
 * The module's one ops symbol, chat_module_kafka_v<EVENTS_KAFKA_VERSION>,
 * is a struct events_kafka whose first member is the relay's
 * struct events_publisher (events-relay.h): the relay loads the module
 * and reads the symbol as that struct (a pointer to a struct is a
 * pointer to its first member), the Kafka consumer transport
 * (events-consumer-kafka.c) as the whole.  Both are thin: the module
 * speaks Kafka and nothing else; outbox rows, transactions and the inbox
 * stay in the library.
 *
 * Producer (publisher.open/publish/close, contract in events-relay.h):
 *   enable.idempotence=true and acks=all (librdkafka retries inside the
 *   producer without duplicates or reordering), partitioner
 *   murmur2_random (Java's: other clients agree on a key's partition).
 *   Key: the row's user id; none: the event's "subject"; neither: no key.
 *   Value: the whole CloudEvent (structured mode) with the header
 *   content-type: application/cloudevents+json; charset=UTF-8.
 *   A row counts as acknowledged only once its delivery report succeeded.
 *   An event still in flight when publish gives up (its timeout) stays in
 *   librdkafka's queue and is never produced a second time by a later
 *   publish of the same id: that call waits for its report instead, so a
 *   broker that is down for a while costs no duplicates.  A failed report
 *   (a timeout, also RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED: maybe in the
 *   log) makes the next publish of the row produce it again with the same
 *   id; consumers dedupe on id.  A fatal producer error (the idempotent
 *   producer's sequence lost) makes the next publish start a new producer.
 *
 * Consumer (consumer.*): a consumer-group member reading the topics,
 *   auto.offset.reset=earliest (a new group reads what is there),
 *   enable.auto.offset.store=false: an offset is stored only by store(),
 *   which the transport calls after the transaction that applied the
 *   message committed; auto-commit then commits stored offsets every
 *   EVENTS_KAFKA_COMMIT_MS and on a rebalance.  store(offset) stores
 *   offset + 1, the next message to read (librdkafka's
 *   rd_kafka_offsets_store takes the next offset as is; storing the
 *   message's own would read it again after every restart).
 *
 * Threads: a publisher handle is used by one thread at a time (the relay
 * worker); a consumer handle's poll and msg_free by one thread, store
 * by one other at most (librdkafka's calls are thread-safe: the
 * transport's store thread stores offsets while its fetch thread
 * polls), close once both ended, progress by any thread.
 */
#ifndef CHAT_EVENTS_KAFKA_H
#define CHAT_EVENTS_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "events-consumer.h"
#include "events-relay.h"

#define EVENTS_KAFKA_MODULE "kafka"
/* The relay loads the same symbol with EVENTS_PUBLISHER_VERSION: bump
 * both together with any change to either struct. */
#define EVENTS_KAFKA_VERSION EVENTS_PUBLISHER_VERSION
#define EVENTS_KAFKA_CONTENT_TYPE "application/cloudevents+json; charset=UTF-8"
#define EVENTS_KAFKA_COMMIT_MS 1000	/* auto-commit of stored offsets */

/* One consumed message; every pointer is the module's, valid until
 * msg_free. */
struct events_kafka_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *key;		/* NULL: no key */
	size_t key_len;
	const char *value;		/* NULL: a null value (tombstone) */
	size_t value_len;
	const char *content_type;	/* the header's value; NULL: none */
	size_t content_type_len;
	void *priv;			/* the module's message */
};

struct events_kafka_consumer_ops {
	/* Joins consumer group `group` on brokers and subscribes to
	 * topics (NULL-terminated).  fetch_wait_ms is librdkafka's
	 * fetch.wait.max.ms, the longest a broker holds a fetch that found
	 * nothing (a broker answers as soon as data comes; librdkafka's
	 * mock cluster only after this wait); the handle's value, as
	 * librdkafka took it, is logged at info.  Returns 0, or CHAT_EINVAL
	 * (a setting librdkafka refused) / CHAT_ENOMEM with err saying
	 * why.  Does not wait for the brokers. */
	int (*open)(const char *brokers, const char *client_id,
		    const char *group, const char *const *topics,
		    int fetch_wait_ms, void **out, char *err, size_t errlen);
	/* Waits up to timeout_ms for the next message: 1 and *out set (the
	 * caller's until msg_free), 0 when none came, or a negative CHAT_E*
	 * code for an error the consumer reported (err says; transient ones
	 * too: the caller logs and polls on). */
	int (*poll)(void *h, int timeout_ms, struct events_kafka_msg *out,
		    char *err, size_t errlen);
	void (*msg_free)(struct events_kafka_msg *m);
	/* Marks (topic, partition) handled up to and including offset (the
	 * next auto-commit commits offset + 1).  CHAT_EINVAL for a partition
	 * no longer assigned to this member (its new owner reads it again:
	 * the inbox makes that harmless). */
	int (*store)(void *h, const char *topic, int32_t partition,
		     int64_t offset);
	/* Over the partitions of topic assigned to this member: *pos the
	 * sum of their next offsets to read, *head of their high
	 * watermarks (last known; no network call), so head - pos is the
	 * lag; a partition nothing was read from since it was assigned
	 * counts as caught up.  Returns how many partitions of topic are
	 * assigned. */
	int (*progress)(void *h, const char *topic, int64_t *pos,
			int64_t *head);
	/* Leaves the group (committing what was stored) and frees h. */
	void (*close)(void *h);
};

struct events_kafka {
	struct events_publisher publisher;	/* first: see above */
	struct events_kafka_consumer_ops consumer;
};

/*
 * The consumer transport on Kafka (events-consumer-kafka.c), behind
 * events-consumer.h's struct events_consumer_ops: a fetch thread polls
 * and parses a batch while a store thread applies the one before in one
 * transaction of the consumer's store through events_consumer_apply,
 * commits, then stores each partition's offset (a pipeline of two
 * batches, applied in the order they were polled).
 * A batch is every message librdkafka has fetched, up to the config's
 * limit; it waits for more only while the member lags (a high watermark
 * past its position) and kafka.batch_ms since its first message has not
 * passed, so a caught-up consumer applies each fetch at once.
 * kafka.fetch_wait_ms goes to the module's open.  A failed transaction is retried with the same
 * messages (250 ms doubling to 8 s), never skipped.  A value that is not
 * JSON is logged, counted as skipped and its offset stored like any.
 * The group is the consumer's name; the topics are the four of events.h.
 * Progress per topic (events_consumer_stat.producer = the topic's name).
 */
extern const struct events_consumer_ops events_consumer_kafka_ops;

#endif
