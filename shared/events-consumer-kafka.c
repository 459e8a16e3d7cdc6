/*
 * events-consumer-kafka.c - the consumer side of the event backbone on
 * Kafka (events-kafka.h): a consumer-group member on its own thread
 * polls the four topics, applies each batch in one transaction of the
 * consumer's store through events_consumer_apply (the inbox), and stores
 * each message's offset only after that transaction committed.
 *
 * Why a thread of our own: a batch's transaction blocks on the store and
 * rd_kafka_consumer_poll blocks on the network, which neither the loop
 * nor a request's worker may do for long.  Why retry a failed batch from
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

static const char *const eck_topics[] = {
	"user-events", "chat-events", "ai-events", "system-events", NULL,
};

struct eck {
	struct events_consumer *ec;	/* borrowed */
	const struct events_kafka *kafka;	/* the module's ops */
	void *h;			/* the module's consumer */
	pthread_t thread;
	bool running;			/* thread made */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* stop wakes a backoff */
	bool stopping;			/* under lock */
	atomic_int connected;		/* the last poll had no error */
	struct events_kafka_msg *batch;	/* owned, cfg.limit of them */
	cJSON **events;			/* owned, parsed batch[i].value */
	char **texts;			/* owned, batch[i].value with a NUL,
					 * pointing into text_buf */
	char *text_buf;			/* owned */
	size_t text_cap;		/* of text_buf */
	signed char *applied;		/* owned, apply's answer per msg */
	size_t limit;			/* messages a batch */
	int64_t batch_ms;		/* kafka.batch_ms: the longest a
					 * lagging batch waits for more */
	int64_t last_err_ms;		/* when a poll error was logged */
};

static bool eck_sleep(struct eck *k, int64_t ms);
static bool eck_stopping(struct eck *k);
static bool eck_caught_up(struct eck *k);
static size_t eck_fill(struct eck *k, size_t limit);
static int eck_texts(struct eck *k, size_t n);
static int eck_apply(struct eck *k, size_t n);
static void eck_done(struct eck *k, size_t n, bool stored);
static void *eck_main(void *arg);
static int eck_start(struct events_consumer *ec);
static void eck_stop(struct events_consumer *ec);
static size_t eck_stats(struct events_consumer *ec,
			struct events_consumer_stat *out, size_t n);

/* Sleeps up to ms unless stopping; returns true when stopping. */
static bool eck_sleep(struct eck *k, int64_t ms)
{
	return events_consumer_sleep(&k->lock, &k->cond, &k->stopping, ms);
}

static bool eck_stopping(struct eck *k)
{
	bool stop;

	pthread_mutex_lock(&k->lock);
	stop = k->stopping;
	pthread_mutex_unlock(&k->lock);
	return stop;
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

/* k->texts[i]: the values of the batch's n messages, each with a NUL
 * (NULL for a message without one), copied into k->text_buf. */
static int eck_texts(struct eck *k, size_t n)
{
	size_t need = 0, at = 0, i;
	char *b;

	for (i = 0; i < n; i++)
		need += k->batch[i].value ? k->batch[i].value_len + 1 : 0;
	if (need > k->text_cap) {
		b = realloc(k->text_buf, need);
		if (!b)
			return CHAT_ENOMEM;
		k->text_buf = b;
		k->text_cap = need;
	}
	for (i = 0; i < n; i++) {
		k->texts[i] = NULL;
		if (!k->batch[i].value)
			continue;
		k->texts[i] = k->text_buf + at;
		memcpy(k->texts[i], k->batch[i].value, k->batch[i].value_len);
		k->texts[i][k->batch[i].value_len] = '\0';
		at += k->batch[i].value_len + 1;
	}
	return 0;
}

/* The batch in one transaction; fills k->applied.  A value that is not
 * JSON goes to events_consumer_apply as JSON null, which it counts as a
 * bad event and skips (skipped events are counted in one place for every
 * transport); the line naming where the message was is written here. */
static int eck_apply(struct eck *k, size_t n)
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
	for (i = 0; i < n; i++) {
		ev = k->events[i];
		if (!ev) {
			log_warn("events: skipped the message at offset %lld "
				 "of '%s' [%d]: not a JSON event",
				 (long long)k->batch[i].offset,
				 k->batch[i].topic, (int)k->batch[i].partition);
			ev = &null_event;
		}
		rc = events_consumer_apply_text(ec, c, ev,
						ev == k->events[i] ?
						k->texts[i] : NULL);
		if (rc < 0)
			goto out;
		k->applied[i] = (signed char)rc;
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

/* After a batch: its offsets (stored: the transaction committed), the
 * applied events to on_applied, and the messages freed. */
static void eck_done(struct eck *k, size_t n, bool stored)
{
	const struct events_consumer_config *cfg =
		events_consumer_config(k->ec);
	size_t i;

	for (i = 0; i < n; i++) {
		if (stored) {
			k->kafka->consumer.store(k->h, k->batch[i].topic,
						 k->batch[i].partition,
						 k->batch[i].offset);
			if (k->applied[i] == 1 && cfg->on_applied)
				cfg->on_applied(cfg->app, k->events[i]);
		}
		cJSON_Delete(k->events[i]);
		k->events[i] = NULL;
		k->kafka->consumer.msg_free(&k->batch[i]);
	}
}

static void *eck_main(void *arg)
{
	struct eck *k = arg;
	int64_t backoff;
	size_t n, i;
	int rc;

	while (!eck_stopping(k)) {
		n = eck_fill(k, k->limit);
		if (n == 0)
			continue;
		for (i = 0; i < n; i++) {
			k->applied[i] = 0;
			k->events[i] = k->batch[i].value ?
				cJSON_ParseWithLength(k->batch[i].value,
						      k->batch[i].value_len) :
				NULL;
		}
		backoff = ECK_BACKOFF_MS;
		for (;;) {
			rc = eck_texts(k, n);
			if (rc == 0)
				rc = eck_apply(k, n);
			if (rc == 0)
				break;
			log_warn("events: cannot apply %zu events from kafka,"
				 " retry in %lld ms: %s", n,
				 (long long)backoff, chat_strerror(rc));
			if (eck_sleep(k, backoff))
				break;
			backoff = backoff * 2 > ECK_BACKOFF_MAX_MS ?
				  ECK_BACKOFF_MAX_MS : backoff * 2;
		}
		/* stopped before it committed: the offsets stay where they
		 * were and the next start reads the batch again */
		eck_done(k, n, rc == 0);
	}
	return NULL;
}

static void eck_stop(struct events_consumer *ec)
{
	void **slot = events_consumer_transport(ec);
	struct eck *k = *slot;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (k->running)
		pthread_join(k->thread, NULL);
	if (k->h)
		k->kafka->consumer.close(k->h);	/* commits what is stored */
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k->batch);
	free(k->events);
	free(k->texts);
	free(k->text_buf);
	free(k->applied);
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
	size_t limit = cfg->limit > 0 ? (size_t)cfg->limit : 1;
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
	atomic_init(&k->connected, 0);
	*events_consumer_transport(ec) = k;
	k->batch = calloc(limit, sizeof(*k->batch));
	k->events = calloc(limit, sizeof(*k->events));
	k->applied = calloc(limit, sizeof(*k->applied));
	k->texts = calloc(limit, sizeof(*k->texts));
	if (!k->batch || !k->events || !k->applied || !k->texts) {
		rc = CHAT_ENOMEM;
		goto out;
	}
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
	if (pthread_create(&k->thread, NULL, eck_main, k) != 0) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	k->running = true;
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
