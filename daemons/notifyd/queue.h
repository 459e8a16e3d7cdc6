/*
 * queue.h - notifyd's delivery queue: jobs "deliver message M to
 * endpoint E", each with its attempts so far and the time it is due,
 * taken by delivery threads started when there is work
 * (webhook-deliver.c).
 *
 * One interface, backends behind a struct queue_ops (one file each):
 *   store   (default, queue-store.c) the jobs are rows of notifyd's own
 *           store (table webhook_jobs), so they survive a restart; a
 *           taken job is leased (its due time moves QUEUE_LEASE_MS
 *           ahead), so a job whose deliverer died (kill -9) is due
 *           again when the lease runs out: at least once, never lost;
 *   amqp    (rabbitmq.url set) RabbitMQ through librabbitmq: durable
 *           queues, persistent messages, publisher confirms, manual acks
 *           after the outcome is recorded, per-delay retry queues with
 *           TTL and dead-lettering, a dead-letter queue.
 *
 * What is the queue's and what is not: the message itself (its
 * webhook-id, its body, the endpoint) is a row of webhook_messages in the
 * store whatever the backend; a job carries ids, never the body or a
 * secret.  The delivery log (webhook_attempts) is the deliverer's, also
 * in the store.
 *
 * Exactly-once effect: queue_put runs inside the caller's transaction
 * (the consumer's batch, which also writes the event's inbox row and the
 * message): a redelivered event finds its inbox row and puts nothing.  A
 * backend that is not the store keeps what it must publish in that
 * transaction (an outbox row) and publishes it after the commit; the
 * caller calls queue_kick after every commit that put jobs.
 *
 * Hand-over in memory (the store backend): a job the consumer's batch
 * makes is put already leased to this process (queue_put_mine) and, once
 * that transaction committed, handed to the takers in memory
 * (queue_hand), so that its first attempt costs no query for due jobs
 * and no lease transaction with its sync: the job is in the store from
 * the commit on, so a crash loses nothing (the restart's reset makes it
 * due).  A job that waited in memory past QUEUE_HAND_FRESH_MS is left to
 * its lease (taken from the store when it runs out: late, never lost).
 *
 * Threads: new and free on the owner's thread (free after every taker
 * returned: queue_stop, then join the takers); everything else from any
 * thread.
 */
#ifndef CHAT_NOTIFYD_QUEUE_H
#define CHAT_NOTIFYD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct db_conn;
struct queue;

#define QUEUE_ID_MAX 48			/* bytes of an id, NUL included */
/* how long a taken job is someone's: more than a whole batch of
 * deliveries that all time out (8 x notifyd.webhook_timeout_ms, at most
 * 30 s), so that only a dead deliverer's job is taken again.  A restart
 * makes the jobs it had taken due at once (queue-store.c), so the length
 * costs nothing after a crash; it was 60 s, which held a batch to 3 jobs
 * with the default 15 s timeout and cost a sync per 3 deliveries */
#define QUEUE_LEASE_MS 300000
/* a handed job older than this is not taken from memory: what remains
 * of its lease must still hold a whole batch (webhook-deliver.c keeps
 * 10 s of it spare) */
#define QUEUE_HAND_FRESH_MS 5000
/* jobs put with put_mine and not yet taken, at most; past it put_mine
 * puts as put does */
#define QUEUE_HAND_MAX 512

enum queue_state {
	QUEUE_PENDING = 0,		/* waiting for its due time, or taken */
	QUEUE_DEAD = 1,			/* out of attempts, or its endpoint
					 * was disabled: kept for the list */
};

struct queue_job {
	char id[QUEUE_ID_MAX];		/* the job's own id (UUIDv7) */
	char msg_id[QUEUE_ID_MAX];	/* webhook_messages.id: the
					 * webhook-id, the same for every
					 * job of one message */
	char endpoint_id[QUEUE_ID_MAX];	/* webhook_endpoints.id */
	int attempts;			/* attempts made before this one */
	int64_t created_ms;		/* when the job was put */
	int64_t next_ms;		/* when it is due */
	enum queue_state state;		/* for queue_list */
};

/* One backend.  Every function returns 0 or a negative CHAT_E* code. */
struct queue_ops {
	const char *name;		/* "store", "amqp" */
	/* the backend's state into q->impl (q->d is set) */
	int (*open)(struct queue *q);
	void (*close)(struct queue *q);
	/* adds job (id, msg_id, endpoint_id, next_ms set; attempts 0) in
	 * c's open transaction: it becomes takeable when c commits */
	int (*put)(struct queue *q, struct db_conn *c,
		   const struct queue_job *job);
	/* up to max due jobs into out (*n of them), leased to the caller;
	 * waits up to wait_ms for one when none is due (returns early on
	 * queue_kick or queue_stop: then *n may be 0) */
	int (*take)(struct queue *q, struct queue_job *out, size_t max,
		    size_t *n, int wait_ms);
	/* the job's attempt succeeded (or it is to be dropped): removed */
	int (*done)(struct queue *q, const struct queue_job *job);
	/* the job's attempt failed: due again at at_ms with attempts + 1 */
	int (*retry)(struct queue *q, const struct queue_job *job,
		     int64_t at_ms);
	/* out of attempts, or the endpoint is disabled: dead-lettered */
	int (*dead)(struct queue *q, const struct queue_job *job);
	/* jobs of endpoint_id (NULL: every endpoint) in state, newest
	 * first, up to max into out */
	int (*list)(struct queue *q, const char *endpoint_id,
		    enum queue_state state, struct queue_job *out,
		    size_t max, size_t *n);
	/* wakes the takers (a job was put, or stopping) */
	void (*kick)(struct queue *q);
	/* optional (NULL: the backend has none): done, retry and dead in
	 * c's open transaction, the one that records the attempt, so that
	 * the log and the outcome commit together (one sync for a batch
	 * of deliveries); the store backend has them */
	int (*done_in)(struct queue *q, struct db_conn *c,
		       const struct queue_job *job);
	int (*retry_in)(struct queue *q, struct db_conn *c,
			const struct queue_job *job, int64_t at_ms);
	int (*dead_in)(struct queue *q, struct db_conn *c,
		       const struct queue_job *job);
	/* whether any job is waiting, due or not, that only a taker will
	 * see (the store's rows); a backend that hands its jobs over
	 * itself (on_ready) answers false once none waits in memory */
	int (*pending)(struct queue *q, bool *any);
	/* optional (NULL: put, and nothing to hand): put_mine adds job
	 * leased to this process in c's open transaction and notes it for
	 * the calling thread: 1, or 0 when it was put as put does (no room
	 * in memory); hand, after that thread's transaction committed
	 * (ok) or rolled back (!ok), gives its noted jobs to the takers,
	 * or forgets them; returns how many it gave */
	int (*put_mine)(struct queue *q, struct db_conn *c,
			const struct queue_job *job);
	size_t (*hand)(struct queue *q, bool ok);
};

struct queue {
	const struct queue_ops *ops;
	struct daemon *d;		/* notifyd's daemon: store, config */
	void *impl;			/* the backend's */
	bool stopping;			/* set by queue_stop */
	/* called by a backend that got a job no put of ours announced (the
	 * broker gave one out): the owner starts a taker if none runs.
	 * From the backend's thread, with none of its locks held. */
	void (*on_ready)(void *arg);
	void *on_ready_arg;
};

/* The backends. */
extern const struct queue_ops queue_store_ops;
extern const struct queue_ops queue_amqp_ops;	/* queue-amqp.c */

/* The RabbitMQ backend's pure parts (queue-amqp-job.c).  A delivery
 * this close to its next_ms, or past it, is due. */
#define QUEUE_AMQP_EARLY_MS 5
/* job as a message body: JSON of its ids, attempts and times (never the
 * webhook's body); malloc'd, the caller's (free); NULL: no memory. */
char *queue_amqp_job_encode(const struct queue_job *j);
/* A body back into *j (state QUEUE_PENDING); CHAT_EINVAL, *j zeroed,
 * for anything else (not JSON, an id missing, empty or too long, a time
 * that is not a whole non-negative number). */
int queue_amqp_job_decode(const char *body, struct queue_job *j);
/* Where a job due in wait_ms goes, as a routing key into key: "work"
 * when due (wait_ms <= QUEUE_AMQP_EARLY_MS) or with no delay queues;
 * else "delay.<ms>" of the largest of delays[] (n, ascending) not past
 * the wait; else (a wait shorter than every delay) the shortest, with
 * *expiration = wait_ms, the message's own TTL (0 otherwise). */
void queue_amqp_route(const int64_t *delays, size_t n, int64_t wait_ms,
		      char *key, size_t keylen, int64_t *expiration);

/*
 * Opens the queue of daemon d with the backend its config names (the
 * store unless rabbitmq.url is set); *out is the caller's (queue_free).
 * on_ready(arg) (NULL: none) as in struct queue, set before the backend
 * starts.  CHAT_EINVAL with err filled when the backend cannot be set up.
 */
int queue_new(struct daemon *d, void (*on_ready)(void *arg), void *arg,
	      struct queue **out, char *err, size_t errlen);
/* Closes the backend and frees q (NULL: nothing); every taker returned. */
void queue_free(struct queue *q);
/* Makes every take return at once, now and from now on. */
void queue_stop(struct queue *q);

/* The backend's calls, named after the ops above (same contracts). */
int queue_put(struct queue *q, struct db_conn *c, const struct queue_job *job);
int queue_take(struct queue *q, struct queue_job *out, size_t max,
	       size_t *n, int wait_ms);
int queue_done(struct queue *q, const struct queue_job *job);
int queue_retry(struct queue *q, const struct queue_job *job, int64_t at_ms);
int queue_dead(struct queue *q, const struct queue_job *job);
int queue_list(struct queue *q, const char *endpoint_id,
	       enum queue_state state, struct queue_job *out, size_t max,
	       size_t *n);
void queue_kick(struct queue *q);
/* The _in ops in c's transaction: 0 done, 1 when the backend has no
 * such op (call queue_done... after the commit), or an error. */
int queue_done_in(struct queue *q, struct db_conn *c,
		  const struct queue_job *job);
int queue_retry_in(struct queue *q, struct db_conn *c,
		   const struct queue_job *job, int64_t at_ms);
int queue_dead_in(struct queue *q, struct db_conn *c,
		  const struct queue_job *job);
/* Whether a job waits for a taker (the pending op); from any thread. */
int queue_pending(struct queue *q, bool *any);
/* The hand-over (above): put_mine as queue_put, in c's transaction, on
 * the thread that will call queue_hand after it (1: noted, 0: put as
 * usual, or an error); queue_hand wakes the takers when it gave any. */
int queue_put_mine(struct queue *q, struct db_conn *c,
		   const struct queue_job *job);
size_t queue_hand(struct queue *q, bool ok);

#endif
