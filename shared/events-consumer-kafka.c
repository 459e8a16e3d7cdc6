/*
 * events-consumer-kafka.c - the consumer side of the event backbone on
 * Kafka (events-kafka.h): a consumer-group member on its own thread
 * polls the four topics, applies each batch in one transaction of the
 * consumer's store through events_consumer_apply (the inbox), and stores
 * each message's offset only after that transaction committed.
 *
 * Why threads of our own: a batch's transaction blocks on the store and
 * rd_kafka_consumer_poll blocks on the network, which neither the loop
 * nor a request's worker may do for long.  Why two, a pipeline of
 * ECK_DEPTH batches: the fetch thread polls and parses the next batch
 * while the store thread applies and commits the one before (a quarter
 * of a batch's CPU is cJSON's, the rest the store's: on two cores the
 * two overlap, docs/PERFORMANCE.md, issue 13).  The order and the
 * exactly-once rules are the one thread's: batches are applied in the
 * order they were polled, by one thread, and a batch's offsets are
 * stored by that thread only after its transaction committed; a batch
 * polled but not applied when the consumer stops (or dies) has no
 * offset stored and is read again.  Why retry a failed batch from
 * memory rather than seek back: the messages are at hand, and a seek
 * would race with the fetcher (librdkafka advises against storing
 * offsets around one).  A member that stays away from poll past
 * max.poll.interval.ms (a store down for minutes) leaves the group; its
 * partitions go to another member, which reads from the last committed
 * offset, and the inbox turns the repeats into no-ops.
 *
 * The inbox keeps each message's value as it came (a copy with a NUL,
 * in one buffer per batch), not the parsed event printed again: at
 * 50,000 events a second the printing was a tenth of the consumer's time
 * (docs/PERFORMANCE.md, issue 13).
 *
 * librdkafka itself is in the run-time module chat-kafka.so, loaded at
 * start; this file only calls its ops.
 */
#include "events-kafka.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "daemon.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "module.h"
#include "util.h"
#include "banned.h"

#define ECK_POLL_MS 200			/* a wait, to look at stopping */
#define ECK_BACKOFF_MS 250		/* first wait after a failed batch */
#define ECK_BACKOFF_MAX_MS 8000
#define ECK_LOG_EVERY_MS 30000		/* one poll error line per period */
/* batches in the pipeline: one applied while the next is polled and
 * parsed; more would only hold more memory (a batch is up to
 * kafka_limit messages and their parsed events) */
#define ECK_DEPTH 2

static const char *const eck_topics[] = {
	"user-events", "chat-events", "ai-events", "system-events", NULL,
};

/* One batch of the pipeline: filled by the fetch thread while it is
 * out of the ring, applied by the store thread while it is in it. */
struct eck_batch {
	struct events_kafka_msg *msgs;	/* owned, limit of them */
	cJSON **events;			/* owned, parsed msgs[i].value */
	char **texts;			/* owned, msgs[i].value with a NUL,
					 * pointing into text_buf */
	char *text_buf;			/* owned */
	size_t text_cap;		/* of text_buf */
	signed char *applied;		/* owned, apply's answer per msg */
	size_t n;			/* messages in it */
};

struct eck {
	struct events_consumer *ec;	/* borrowed */
	const struct events_kafka *kafka;	/* the module's ops */
	void *h;			/* the module's consumer */
	pthread_t fetcher;		/* polls and parses */
	pthread_t storer;		/* applies, commits, stores offsets */
	bool fetching, storing;		/* threads made */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* stop wakes a backoff */
	pthread_cond_t moved;		/* a batch entered or left the ring */
	bool stopping;			/* under lock */
	atomic_int connected;		/* the last poll had no error */
	struct events_kafka_msg *batch;	/* the fetch thread's: the msgs of
					 * the batch eck_fill fills */
	struct eck_batch b[ECK_DEPTH];
	size_t head;			/* under lock: the ring's oldest */
	size_t count;			/* under lock: batches in the ring,
					 * parsed, waiting or being applied */
	size_t limit;			/* messages a batch */
	int64_t batch_ms;		/* kafka.batch_ms: the longest a
					 * lagging batch waits for more */
	int64_t last_err_ms;		/* when a poll error was logged */
};

static bool eck_sleep(struct eck *k, int64_t ms);
static bool eck_caught_up(struct eck *k);
static size_t eck_fill(struct eck *k, size_t limit);
static int eck_texts(struct eck_batch *b);
static int eck_apply(struct eck *k, struct eck_batch *b);
static void eck_done(struct eck *k, struct eck_batch *b);
static void eck_clear(struct eck *k, struct eck_batch *b);
static void *eck_fetch_main(void *arg);
static void *eck_store_main(void *arg);
static int eck_start(struct events_consumer *ec);
static void eck_stop(struct events_consumer *ec);
static size_t eck_stats(struct events_consumer *ec,
			struct events_consumer_stat *out, size_t n);

/* Sleeps up to ms unless stopping; returns true when stopping. */
static bool eck_sleep(struct eck *k, int64_t ms)
{
	return events_consumer_sleep(&k->lock, &k->cond, &k->stopping, ms);
}

/* True when the member has read every message its partitions had at
 * their last fetch: nothing more is on the way, so a batch that waited
 * would only add latency. */
static bool eck_caught_up(struct eck *k)
{
	int64_t pos, head;
	size_t i;

	for (i = 0; eck_topics[i]; i++) {
		k->kafka->consumer.progress(k->h, eck_topics[i], &pos, &head);
		if (head > pos)
			return false;
	}
	return true;
}

/* Polls up to limit messages: waits ECK_POLL_MS for the first, then
 * takes what librdkafka has fetched already, and waits for more (up to
 * k->batch_ms from the first) only while the member lags: at a low rate
 * a batch is one fetch's messages, at once; behind, it fills up.
 * Returns how many. */
static size_t eck_fill(struct eck *k, size_t limit)
{
	const struct events_kafka_consumer_ops *ops = &k->kafka->consumer;
	int64_t until = 0, now;
	char why[512];
	size_t n = 0;
	int rc, wait = ECK_POLL_MS;

	while (n < limit) {
		rc = ops->poll(k->h, wait, &k->batch[n], why, sizeof(why));
		if (rc < 0) {
			/* a broker outage reports on every poll: a line
			 * per period, not per poll */
			now = mono_ms();
			atomic_store(&k->connected, 0);
			if (now - k->last_err_ms >= ECK_LOG_EVERY_MS) {
				log_warn("events: %s", why);
				k->last_err_ms = now;
			}
		} else if (rc == 1) {
			atomic_store(&k->connected, 1);
			n++;
		}
		if (n == 0) {
			if (rc <= 0)
				return 0;
			continue;
		}
		now = mono_ms();
		if (!until)
			until = now + k->batch_ms;
		if (rc == 1) {
			wait = 0;	/* the fetched ones first */
			continue;
		}
		/* none fetched is left: wait only for a lag's rest */
		if (now >= until || (wait == 0 && eck_caught_up(k)))
			break;
		wait = (int)(until - now);
	}
	return n;
}

/* b->texts[i]: the values of the batch's messages, each with a NUL
 * (NULL for a message without one), copied into b->text_buf. */
static int eck_texts(struct eck_batch *b)
{
	const struct events_kafka_msg *m = b->msgs;
	size_t need = 0, at = 0, i;
	char *buf;

	for (i = 0; i < b->n; i++)
		need += m[i].value ? m[i].value_len + 1 : 0;
	if (need > b->text_cap) {
		buf = realloc(b->text_buf, need);
		if (!buf)
			return CHAT_ENOMEM;
		b->text_buf = buf;
		b->text_cap = need;
	}
	for (i = 0; i < b->n; i++) {
		b->texts[i] = NULL;
		if (!m[i].value)
			continue;
		b->texts[i] = b->text_buf + at;
		memcpy(b->texts[i], m[i].value, m[i].value_len);
		b->texts[i][m[i].value_len] = '\0';
		at += m[i].value_len + 1;
	}
	return 0;
}

/* The batch in one transaction; fills k->applied.  A value that is not
 * JSON goes to events_consumer_apply as JSON null, which it counts as a
 * bad event and skips (skipped events are counted in one place for every
 * transport); the line naming where the message was is written here. */
static int eck_apply(struct eck *k, struct eck_batch *b)
{
	static cJSON null_event = { .type = cJSON_NULL };
	struct events_consumer *ec = k->ec;
	const struct events_consumer_config *cfg = events_consumer_config(ec);
	struct daemon *d = events_consumer_daemon(ec);
	struct db_conn *c = NULL;
	const cJSON *ev;
	bool begun = false;
	size_t i;
	int rc;

	rc = db_acquire(d->db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		goto out;
	rc = db_begin(c);
	if (rc == 0 && cfg->batch_begin && cfg->batch_end) {
		rc = cfg->batch_begin(cfg->app, c);
		begun = rc == 0;
	}
	if (rc < 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		ev = b->events[i];
		if (!ev) {
			log_warn("events: skipped the message at offset %lld "
				 "of '%s' [%d]: not a JSON event",
				 (long long)b->msgs[i].offset,
				 b->msgs[i].topic, (int)b->msgs[i].partition);
			ev = &null_event;
		}
		rc = events_consumer_apply_text(ec, c, ev,
						ev == b->events[i] ?
						b->texts[i] : NULL);
		if (rc < 0)
			goto out;
		b->applied[i] = (signed char)rc;
	}
	if (begun) {
		begun = false;
		rc = cfg->batch_end(cfg->app, c, 1);
		if (rc < 0)
			goto out;
	}
	rc = db_commit(c);
out:
	if (begun)
		cfg->batch_end(cfg->app, c, 0);
	if (c)
		db_release(c);	/* rolls back what is open */
	return rc;
}

/* After a batch committed: its offsets stored and the applied events
 * to on_applied, in order.  The store thread's. */
static void eck_done(struct eck *k, struct eck_batch *b)
{
	const struct events_consumer_config *cfg =
		events_consumer_config(k->ec);
	size_t i;

	for (i = 0; i < b->n; i++) {
		k->kafka->consumer.store(k->h, b->msgs[i].topic,
					 b->msgs[i].partition,
					 b->msgs[i].offset);
		if (b->applied[i] == 1 && cfg->on_applied)
			cfg->on_applied(cfg->app, b->events[i]);
	}
}

/* Frees what a batch held: its events and messages.  By the fetch
 * thread before it fills the batch again (the store thread's time goes
 * to the store), or by stop once both threads ended. */
static void eck_clear(struct eck *k, struct eck_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		cJSON_Delete(b->events[i]);
		b->events[i] = NULL;
		k->kafka->consumer.msg_free(&b->msgs[i]);
	}
	b->n = 0;
}

/* The fetch thread: a batch out of the ring polled, parsed and put at
 * the ring's tail; waits while the ring is full. */
static void *eck_fetch_main(void *arg)
{
	struct eck *k = arg;
	struct eck_batch *b;
	int64_t backoff;
	size_t i, n, tail = 0;
	bool stop;

	events_consumer_nice(k->ec);
	for (;;) {
		pthread_mutex_lock(&k->lock);
		while (k->count == ECK_DEPTH && !k->stopping)
			pthread_cond_wait(&k->moved, &k->lock);
		stop = k->stopping;
		pthread_mutex_unlock(&k->lock);
		if (stop)
			break;
		b = &k->b[tail];
		eck_clear(k, b);
		k->batch = b->msgs;
		n = eck_fill(k, k->limit);
		if (n == 0)
			continue;
		b->n = n;
		for (i = 0; i < n; i++) {
			b->applied[i] = 0;
			b->events[i] = b->msgs[i].value ?
				cJSON_ParseWithLength(b->msgs[i].value,
						      b->msgs[i].value_len) :
				NULL;
		}
		backoff = ECK_BACKOFF_MS;
		while (eck_texts(b) < 0) {
			log_warn("events: no memory for %zu events from kafka,"
				 " retry in %lld ms", n, (long long)backoff);
			if (eck_sleep(k, backoff))
				goto out;
			backoff = backoff * 2 > ECK_BACKOFF_MAX_MS ?
				  ECK_BACKOFF_MAX_MS : backoff * 2;
		}
		pthread_mutex_lock(&k->lock);
		k->count++;
		pthread_cond_broadcast(&k->moved);
		pthread_mutex_unlock(&k->lock);
		tail = (tail + 1) % ECK_DEPTH;
	}
out:
	return NULL;
}

/* The store thread: the ring's oldest batch applied in one transaction
 * (retried until it commits or the consumer stops), then its offsets
 * stored, then it leaves the ring for the fetch thread to refill. */
static void *eck_store_main(void *arg)
{
	struct eck *k = arg;
	struct eck_batch *b;
	int64_t backoff;
	int rc;

	events_consumer_nice(k->ec);
	for (;;) {
		pthread_mutex_lock(&k->lock);
		while (k->count == 0 && !k->stopping)
			pthread_cond_wait(&k->moved, &k->lock);
		/* stopping: what is in the ring has no offset stored, and
		 * the next start reads it again */
		b = k->stopping ? NULL : &k->b[k->head];
		pthread_mutex_unlock(&k->lock);
		if (!b)
			break;
		backoff = ECK_BACKOFF_MS;
		for (;;) {
			rc = eck_apply(k, b);
			if (rc == 0)
				break;
			log_warn("events: cannot apply %zu events from kafka,"
				 " retry in %lld ms: %s", b->n,
				 (long long)backoff, chat_strerror(rc));
			if (eck_sleep(k, backoff))
				break;
			backoff = backoff * 2 > ECK_BACKOFF_MAX_MS ?
				  ECK_BACKOFF_MAX_MS : backoff * 2;
		}
		if (rc < 0)
			break;	/* stopped before it committed */
		eck_done(k, b);
		pthread_mutex_lock(&k->lock);
		k->head = (k->head + 1) % ECK_DEPTH;
		k->count--;
		pthread_cond_broadcast(&k->moved);
		pthread_mutex_unlock(&k->lock);
	}
	return NULL;
}

static void eck_stop(struct events_consumer *ec)
{
	void **slot = events_consumer_transport(ec);
	struct eck *k = *slot;
	size_t i;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_broadcast(&k->cond);
	pthread_cond_broadcast(&k->moved);
	pthread_mutex_unlock(&k->lock);
	if (k->fetching)
		pthread_join(k->fetcher, NULL);
	if (k->storing)
		pthread_join(k->storer, NULL);
	for (i = 0; i < ECK_DEPTH; i++) {
		/* the messages before the handle they came from */
		if (k->kafka)
			eck_clear(k, &k->b[i]);
		free(k->b[i].msgs);
		free(k->b[i].events);
		free(k->b[i].texts);
		free(k->b[i].text_buf);
		free(k->b[i].applied);
	}
	if (k->h)
		k->kafka->consumer.close(k->h);	/* commits what is stored */
	pthread_cond_destroy(&k->moved);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
	*slot = NULL;
}

static int eck_start(struct events_consumer *ec)
{
	const struct events_consumer_config *cfg = events_consumer_config(ec);
	struct daemon *d = events_consumer_daemon(ec);
	const char *brokers = config_get(d->cfg, "kafka.brokers", NULL);
	const void *ops = NULL;
	char err[512];
	struct eck *k;
	size_t limit = cfg->limit > 0 ? (size_t)cfg->limit : 1, i;
	long batch_ms = 0, fetch_wait_ms = 0;
	int rc;

	err[0] = '\0';
	rc = config_key_int(d->cfg, "kafka.batch_ms", &batch_ms, err,
			    sizeof(err));
	if (rc == 0)
		rc = config_key_int(d->cfg, "kafka.fetch_wait_ms",
				    &fetch_wait_ms, err, sizeof(err));
	if (rc < 0) {
		log_error("events: %s", err);
		return rc;
	}

	/* a pull's answer caps the embedded batch; here a larger one
	 * spreads a commit's pages and sync over more events */
	if (cfg->kafka_limit > 0)
		limit = (size_t)cfg->kafka_limit;

	k = calloc(1, sizeof(*k));
	if (!k)
		return CHAT_ENOMEM;
	k->ec = ec;
	k->limit = limit;
	k->batch_ms = batch_ms;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	pthread_cond_init(&k->moved, NULL);
	atomic_init(&k->connected, 0);
	*events_consumer_transport(ec) = k;
	for (i = 0; i < ECK_DEPTH; i++) {
		k->b[i].msgs = calloc(limit, sizeof(*k->b[i].msgs));
		k->b[i].events = calloc(limit, sizeof(*k->b[i].events));
		k->b[i].applied = calloc(limit, sizeof(*k->b[i].applied));
		k->b[i].texts = calloc(limit, sizeof(*k->b[i].texts));
		if (!k->b[i].msgs || !k->b[i].events || !k->b[i].applied ||
		    !k->b[i].texts)
			rc = CHAT_ENOMEM;
	}
	if (rc < 0)
		goto out;
	rc = module_load(EVENTS_KAFKA_MODULE, EVENTS_KAFKA_VERSION, &ops, err,
			 sizeof(err));
	if (rc < 0) {
		log_error("events: %s", err);
		goto out;
	}
	k->kafka = ops;
	rc = k->kafka->consumer.open(brokers, cfg->name, cfg->name,
				     eck_topics, (int)fetch_wait_ms, &k->h,
				     err, sizeof(err));
	if (rc < 0) {
		log_error("events: %s", err);
		goto out;
	}
	if (pthread_create(&k->storer, NULL, eck_store_main, k) != 0) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	k->storing = true;
	if (pthread_create(&k->fetcher, NULL, eck_fetch_main, k) != 0) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	k->fetching = true;
	log_info("events: consuming from kafka at %s as group '%s'", brokers,
		 cfg->name);
out:
	if (rc < 0)
		eck_stop(ec);
	return rc;
}

static size_t eck_stats(struct events_consumer *ec,
			struct events_consumer_stat *out, size_t n)
{
	struct eck *k = *events_consumer_transport(ec);
	size_t i;
	int parts;

	if (!k || !k->h)
		return 0;
	for (i = 0; eck_topics[i] && i < n; i++) {
		snprintf(out[i].producer, sizeof(out[i].producer), "%s",
			 eck_topics[i]);
		parts = k->kafka->consumer.progress(k->h, eck_topics[i],
						    &out[i].pos, &out[i].head);
		if (out[i].head < out[i].pos)
			out[i].head = out[i].pos;
		/* no partition of the topic assigned (yet): its lag of 0
		 * says nothing, and this member reads none of it */
		out[i].connected = parts > 0 && atomic_load(&k->connected);
	}
	return i;
}

const struct events_consumer_ops events_consumer_kafka_ops = {
	.name = "kafka",
	.start = eck_start,
	.stop = eck_stop,
	.stats = eck_stats,
};
