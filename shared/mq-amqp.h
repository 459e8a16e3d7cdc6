/*
 * mq-amqp.h - an AMQP 0-9-1 connection to RabbitMQ for a durable work
 * queue with delayed retries: what the run-time module chat-amqp.so
 * (shared/mq-amqp.c, module.h) exports, so that only a daemon with
 * rabbitmq.url set maps librabbitmq.  notifyd's delivery queue
 * (daemons/notifyd/queue-amqp.c) is its user.
 *
 * The module speaks AMQP and nothing else: jobs, the store and threads
 * stay with the caller.  Its one ops symbol is chat_module_amqp_v<N>.
 *
 * Topology, declared idempotently by every open (the same arguments each
 * time, so a second declaration is a no-op; a changed schedule makes new
 * delay queues, the old ones drain into the work queue as before):
 *   exchange PREFIX              direct, durable
 *   queue    PREFIX.work         durable; routing key "work"
 *   queue    PREFIX.dead         durable; routing key "dead": jobs out of
 *                                attempts, kept for an operator
 *   queue    PREFIX.delay.<ms>   durable, x-message-ttl <ms>,
 *                                x-dead-letter-exchange PREFIX,
 *                                x-dead-letter-routing-key "work"; routing
 *                                key "delay.<ms>": one per step of the
 *                                retry schedule.  A message waits there
 *                                <ms> (or its own shorter expiration),
 *                                then the broker moves it to the work
 *                                queue.
 * Messages are persistent (delivery mode 2) and published mandatory, so
 * that a missing binding is a failed publish, not a silent drop.
 *
 * A handle is one connection and one channel, in one of two roles:
 *   MQ_AMQP_PUBLISHER  confirm mode: publish returns 0 only once the
 *                      broker confirmed the message (written to disk for
 *                      a durable queue);
 *   MQ_AMQP_CONSUMER   consumes PREFIX.work with manual acks and a
 *                      prefetch: next gives deliveries, ack acks them.
 * A broker that stops or restarts closes the socket, which the next call
 * sees.  A consumer also asks for heartbeats every MQ_AMQP_HEARTBEAT_S
 * (librabbitmq sends and checks them inside next, which its caller must
 * call at least that often), so a broker gone silent (a partition, no
 * reset) ends it too; a publisher asks for none (it is idle between
 * publishes, and a publish on a connection the broker dropped fails and
 * is made again on a new one).  A handle whose call failed with
 * CHAT_ECLOSED is dead (close it and open another).
 *
 * The URL's password is never written into an error: messages name the
 * host, port and virtual host only.
 *
 * Threads: a handle is used by one thread at a time.
 */
#ifndef CHAT_MQ_AMQP_H
#define CHAT_MQ_AMQP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQ_AMQP_MODULE "amqp"
#define MQ_AMQP_VERSION 1
#define MQ_AMQP_DELAYS_MAX 16		/* delay queues */
#define MQ_AMQP_PREFIX_MAX 100		/* bytes of a prefix */
#define MQ_AMQP_HEARTBEAT_S 30		/* a consumer's heartbeat */

enum mq_amqp_role {
	MQ_AMQP_PUBLISHER = 0,
	MQ_AMQP_CONSUMER = 1,
};

struct mq_amqp_topology {
	const char *prefix;		/* names, see above */
	const int64_t *delays_ms;	/* the delay queues' TTLs (> 0) */
	size_t ndelays;			/* at most MQ_AMQP_DELAYS_MAX */
};

/* One consumed message. */
struct mq_amqp_delivery {
	uint64_t tag;			/* for ack, on this handle only */
	bool redelivered;		/* the broker gave it out before */
	char *body;			/* malloc'd, NUL-terminated; the
					 * caller's (free) */
	size_t len;
};

struct mq_amqp_ops {
	/* Connects to url (amqp://user:password@host:port/vhost), logs in,
	 * opens channel 1, declares the topology, then confirm.select
	 * (publisher) or basic.qos prefetch + basic.consume on the work
	 * queue (consumer).  Waits up to timeout_ms for each step.
	 * Returns 0 with *out set, or CHAT_EINVAL (a URL that is not one,
	 * amqps://), CHAT_EAUTH (the broker refused the login),
	 * CHAT_EUPSTREAM (cannot connect, or the broker refused a
	 * declaration: err says which), CHAT_ENOMEM. */
	int (*open)(const char *url, const struct mq_amqp_topology *topo,
		    enum mq_amqp_role role, int prefetch, int timeout_ms,
		    void **out, char *err, size_t errlen);
	/* Publishes body persistently to the topology's exchange with
	 * routing key key ("work", "dead", "delay.<ms>"), message_id id;
	 * expiration_ms > 0 sets a per-message TTL.  Waits up to
	 * timeout_ms for the broker's confirm: 0 confirmed, CHAT_EUPSTREAM
	 * nacked or unroutable, CHAT_ETIMEDOUT or CHAT_ECLOSED (the
	 * handle is dead; the message may or may not be in the queue). */
	int (*publish)(void *h, const char *key, const char *id,
		       const void *body, size_t len, int64_t expiration_ms,
		       int timeout_ms, char *err, size_t errlen);
	/* Waits up to timeout_ms (0: what is already there) for the next
	 * delivery: 1 with *out filled, 0 none, CHAT_ECLOSED (the handle
	 * is dead), CHAT_ENOMEM. */
	int (*next)(void *h, int timeout_ms, struct mq_amqp_delivery *out,
		    char *err, size_t errlen);
	/* Acks the delivery tag (consumer).  CHAT_ECLOSED: dead handle
	 * (the broker gives the message out again). */
	int (*ack)(void *h, uint64_t tag);
	/* Messages ready in PREFIX.<suffix> ("work", "dead", "delay.5000")
	 * into *n (a passive declare). */
	int (*depth)(void *h, const char *suffix, uint64_t *n, char *err,
		     size_t errlen);
	/* The socket, for poll(); and whether frames already read wait in
	 * the handle's buffers (then next has something without the
	 * socket being readable). */
	int (*fd)(void *h);
	bool (*buffered)(void *h);
	/* Closes the connection (politely when it is alive) and frees h. */
	void (*close)(void *h);
};

#endif
