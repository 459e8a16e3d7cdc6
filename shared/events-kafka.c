/*
 * events-kafka.c - the event backbone's Kafka client on librdkafka: the
 * relay's publisher and the consumer transport's group member
 * (events-kafka.h).  Built into the run-time module chat-kafka.so
 * (module.h), whose one exported symbol is chat_module_kafka_v2, so that a
 * daemon maps librdkafka and its threads only when kafka.brokers is set.
 *
 * The publisher remembers every event it handed to librdkafka and has not
 * yet seen a delivery report for (a hash of ids, "flights"): publish
 * produces a row only when no flight of its id is pending, so a relay
 * that hands the same rows again while a broker is down waits for the
 * first copies instead of queueing more.  Delivery reports run inside
 * rd_kafka_poll, which only publish calls, on the publisher's one thread:
 * the flights need no lock.
 */
#include "events-kafka.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "module-ext.h"
#include "banned.h"

MODULE_EXT_INIT;

/* the symbol's name below carries the version */
_Static_assert(EVENTS_KAFKA_VERSION == 2, "rename chat_module_kafka_v2");

#define KAFKA_BUCKETS 1024		/* flight hash buckets */
#define KAFKA_POLL_MS 20		/* delivery report wait slices */
#define KAFKA_SWEEP_AT 2048		/* flights before finished ones go */
#define KAFKA_DONE_KEEP_MS 60000	/* a finished flight kept this long */
#define KAFKA_CLOSE_MS 1000		/* flush on close */
#define KAFKA_KEY_MAX 256		/* a subject used as key */
#define KAFKA_ERR_EVERY_MS 30000	/* one line per error kind per period */
#define KAFKA_LEAVE_MS 2000		/* close waits this long for a leave */

enum kafka_flight_state {
	KAFKA_PENDING,			/* produced, no report yet */
	KAFKA_ACKED,			/* report: in the log */
	KAFKA_FAILED,			/* report: not (or maybe) in the log */
};

/* One event handed to librdkafka (its opaque), until a publish of the
 * same id has seen its report. */
struct kafka_flight {
	struct kafka_flight *next;	/* hash chain */
	enum kafka_flight_state state;
	int64_t done_ms;		/* when the report came (mono) */
	char id[];			/* the event's id */
};

/* A handle's last reported error, so that an outage logs a line per
 * period and not per reconnect attempt.  First member of both handles
 * (librdkafka's opaque), used by error_cb only, which runs inside the
 * handle's poll on its one thread. */
struct kafka_errlog {
	int last;			/* rd_kafka_resp_err_t logged last */
	int64_t at;			/* when (mono) */
	unsigned more;			/* the same since, not logged */
};

struct kafka_producer {
	struct kafka_errlog errlog;	/* first: see above */
	rd_kafka_t *rk;			/* NULL after a fatal error */
	char *brokers;			/* owned; to start again */
	char *client_id;		/* owned */
	struct kafka_flight *buckets[KAFKA_BUCKETS];	/* owned */
	size_t nflights;
	size_t npending;		/* flights librdkafka holds */
};

struct kafka_consumer {
	struct kafka_errlog errlog;	/* first: see above */
	rd_kafka_t *rk;
};

/* A consumer's leave, on a thread of its own (kafka_con_close); freed by
 * whichever of the two is done with it last. */
struct kafka_leave {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct kafka_consumer *k;	/* owned by the leaving thread */
	bool done;			/* under mu */
	int refs;			/* under mu: 2, then 1, then 0 */
};

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
			 const char *buf);
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
			   void *opaque);
static int kafka_conf(rd_kafka_conf_t *conf, const char *const *kv,
		      char *err, size_t errlen);
static uint32_t kafka_hash(const char *s);
static struct kafka_flight *kafka_flight_find(struct kafka_producer *p,
					      const char *id);
static void kafka_flight_drop(struct kafka_producer *p,
			      struct kafka_flight *f);
static void kafka_flights_sweep(struct kafka_producer *p, bool all);
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque);
static int kafka_producer_start(struct kafka_producer *p, char *err,
				size_t errlen);
static void kafka_producer_stop(struct kafka_producer *p);
static size_t kafka_subject_key(const char *event, size_t len, char *out,
				size_t outlen);
static int kafka_produce(struct kafka_producer *p,
			 const struct events_out_row *row,
			 struct kafka_flight **out);
static int kafka_pub_open(const char *brokers, const char *client_id,
			  void **out, char *err, size_t errlen);
static int kafka_pub_publish(void *h, struct events_out_row *rows, size_t n,
			     int timeout_ms);
static void kafka_pub_close(void *h);
static int kafka_con_open(const char *brokers, const char *client_id,
			  const char *group, const char *const *topics,
			  int fetch_wait_ms, void **out, char *err,
			  size_t errlen);
static int kafka_con_poll(void *h, int timeout_ms,
			  struct events_kafka_msg *out, char *err,
			  size_t errlen);
static void kafka_con_msg_free(struct events_kafka_msg *m);
static int kafka_con_store(void *h, const char *topic, int32_t partition,
			   int64_t offset);
static int kafka_con_progress(void *h, const char *topic, int64_t *pos,
			      int64_t *head);
static void kafka_leave_unref(struct kafka_leave *l);
static void kafka_leave_run(struct kafka_consumer *k);
static void *kafka_leave_main(void *arg);
static void kafka_con_close(void *h);

/* librdkafka's syslog levels into ours; its threads call this, and
 * log_write is thread-safe.  Its FAIL lines (a connection failed) say
 * again what error_cb reports, there once per period: debug here. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
			 const char *buf)
{
	int ours = strcmp(fac, "FAIL") == 0 ? LOG_LDEBUG :
		   level <= LOG_ERR ? LOG_LERROR :
		   level == LOG_WARNING ? LOG_LWARN :
		   level <= LOG_INFO ? LOG_LINFO : LOG_LDEBUG;

	log_at(ours, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Errors librdkafka reports (it retries them itself): "all brokers
 * down" and the like are the normal state of an outage, warnings, one
 * line per kind per KAFKA_ERR_EVERY_MS; a fatal error ends a producer
 * (the next publish starts a new one) and is always logged. */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
			   void *opaque)
{
	struct kafka_errlog *e = opaque;
	int64_t now = mono_ms();

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		log_error("kafka %s: fatal: %s", rd_kafka_name(rk), reason);
		return;
	}
	if (e && err == e->last && now - e->at < KAFKA_ERR_EVERY_MS) {
		e->more++;
		return;
	}
	if (e && e->more)
		log_warn("kafka %s: %s: %s (and %u more errors of the kind "
			 "before)", rd_kafka_name(rk),
			 rd_kafka_err2name((rd_kafka_resp_err_t)err), reason,
			 e->more);
	else
		log_warn("kafka %s: %s: %s", rd_kafka_name(rk),
			 rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
	if (e) {
		e->last = err;
		e->at = now;
		e->more = 0;
	}
}

/* Sets name/value pairs (NULL-terminated list) on conf. */
static int kafka_conf(rd_kafka_conf_t *conf, const char *const *kv,
		      char *err, size_t errlen)
{
	char why[256];
	size_t i;

	for (i = 0; kv[i]; i += 2) {
		if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], why,
				      sizeof(why)) != RD_KAFKA_CONF_OK) {
			chat_errf(err, errlen, "kafka: '%s': %s", kv[i], why);
			return CHAT_EINVAL;
		}
	}
	return 0;
}

/* FNV-1a; the ids are UUIDv7, whose time bits alone would cluster. */
static uint32_t kafka_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct kafka_flight *kafka_flight_find(struct kafka_producer *p,
					      const char *id)
{
	struct kafka_flight *f = p->buckets[kafka_hash(id) % KAFKA_BUCKETS];

	while (f && strcmp(f->id, id) != 0)
		f = f->next;
	return f;
}

/* Unlinks and frees a flight librdkafka no longer holds. */
static void kafka_flight_drop(struct kafka_producer *p,
			      struct kafka_flight *f)
{
	struct kafka_flight **pp = &p->buckets[kafka_hash(f->id) %
					       KAFKA_BUCKETS];

	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	p->nflights--;
	free(f);
}

/* Drops finished flights whose rows the relay has not asked about for a
 * while (rows pruned meanwhile, or acknowledged after publish gave up on
 * them and marked by nobody: the relay hands those again, and they are
 * produced once more, a duplicate the consumers' inbox absorbs); all:
 * every flight, pending ones too (only once the producer is gone). */
static void kafka_flights_sweep(struct kafka_producer *p, bool all)
{
	int64_t old = mono_ms() - KAFKA_DONE_KEEP_MS;
	struct kafka_flight **pp, *f;
	size_t b;

	for (b = 0; b < KAFKA_BUCKETS; b++) {
		pp = &p->buckets[b];
		while ((f = *pp)) {
			if (all || (f->state != KAFKA_PENDING &&
				    f->done_ms < old)) {
				*pp = f->next;
				p->nflights--;
				free(f);
			} else {
				pp = &f->next;
			}
		}
	}
}

/* A delivery report (inside rd_kafka_poll, on the publisher's thread). */
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	struct kafka_producer *p = opaque;
	struct kafka_flight *f = m->_private;

	(void)rk;
	if (!f)
		return;
	f->done_ms = mono_ms();
	p->npending--;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		f->state = KAFKA_ACKED;
		return;
	}
	f->state = KAFKA_FAILED;
	if (rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED)
		log_warn("kafka: event '%s' to '%s' maybe in the log (%s): "
			 "sending it again with the same id", f->id,
			 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	else
		log_warn("kafka: event '%s' to '%s' not delivered: %s; "
			 "sending it again", f->id,
			 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

static int kafka_producer_start(struct kafka_producer *p, char *err,
				size_t errlen)
{
	const char *const settings[] = {
		"bootstrap.servers", p->brokers,
		"client.id", p->client_id,
		"enable.idempotence", "true",
		"acks", "all",
		"partitioner", "murmur2_random",
		/* a broker back after an outage is found within 2 s, not
		 * librdkafka's 10 */
		"reconnect.backoff.max.ms", "2000",
		NULL,
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[512];
	int rc;

	rc = kafka_conf(conf, settings, err, errlen);
	if (rc < 0) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (!p->rk) {
		rd_kafka_conf_destroy(conf);
		chat_errf(err, errlen, "kafka: cannot make a producer: %s",
			  why);
		return CHAT_EINVAL;
	}
	return 0;
}

/* Ends the producer: what librdkafka still holds is purged and its
 * flights fail (a later publish produces them again). */
static void kafka_producer_stop(struct kafka_producer *p)
{
	if (!p->rk)
		return;
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE |
		       RD_KAFKA_PURGE_F_INFLIGHT);
	/* the purged messages' reports, so every flight is finished */
	rd_kafka_poll(p->rk, 0);
	rd_kafka_destroy(p->rk);
	p->rk = NULL;
	p->npending = 0;
	/* no report can come any more: every flight goes, pending ones
	 * too, and a later publish produces their rows anew */
	kafka_flights_sweep(p, true);
}

/* The event's "subject", as a key for an event that concerns no user;
 * its length, 0 when there is none (or it is not a short string). */
static size_t kafka_subject_key(const char *event, size_t len, char *out,
				size_t outlen)
{
	cJSON *root = cJSON_ParseWithLength(event, len);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "subject");
	size_t n = 0;

	if (cJSON_IsString(s) && s->valuestring[0] &&
	    strlen(s->valuestring) < outlen) {
		n = strlen(s->valuestring);
		memcpy(out, s->valuestring, n + 1);
	}
	cJSON_Delete(root);
	return n;
}

/* Hands one row to librdkafka with a new flight; CHAT_EBUSY when its
 * queue is full, CHAT_ENOMEM, or CHAT_EINVAL for a row librdkafka will
 * never take (logged). */
static int kafka_produce(struct kafka_producer *p,
			 const struct events_out_row *row,
			 struct kafka_flight **out)
{
	size_t idlen = strlen(row->id);
	struct kafka_flight *f;
	char subject[KAFKA_KEY_MAX];
	const char *key = row->key;
	size_t keylen = key ? strlen(key) : 0;
	rd_kafka_resp_err_t e;
	uint32_t b;

	if (!key) {
		keylen = kafka_subject_key(row->event, row->event_len,
					   subject, sizeof(subject));
		key = keylen ? subject : NULL;
	}
	f = calloc(1, sizeof(*f) + idlen + 1);
	if (!f)
		return CHAT_ENOMEM;
	memcpy(f->id, row->id, idlen + 1);
	f->state = KAFKA_PENDING;
	e = rd_kafka_producev(p->rk,
			      RD_KAFKA_V_TOPIC(row->topic),
			      RD_KAFKA_V_KEY(key, keylen),
			      RD_KAFKA_V_VALUE((void *)row->event,
					       row->event_len),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			      RD_KAFKA_V_HEADER("content-type",
						EVENTS_KAFKA_CONTENT_TYPE, -1),
			      RD_KAFKA_V_OPAQUE(f),
			      RD_KAFKA_V_END);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		free(f);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return CHAT_EBUSY;
		log_error("kafka: cannot produce event '%s' to '%s': %s",
			  row->id, row->topic, rd_kafka_err2str(e));
		return CHAT_EINVAL;
	}
	b = kafka_hash(f->id) % KAFKA_BUCKETS;
	f->next = p->buckets[b];
	p->buckets[b] = f;
	p->nflights++;
	p->npending++;
	*out = f;
	return 0;
}

static int kafka_pub_open(const char *brokers, const char *client_id,
			  void **out, char *err, size_t errlen)
{
	struct kafka_producer *p;
	int rc;

	*out = NULL;
	if (!brokers || !*brokers) {
		chat_errf(err, errlen, "kafka: no brokers");
		return CHAT_EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return CHAT_ENOMEM;
	p->brokers = strdup(brokers);
	p->client_id = strdup(client_id && *client_id ? client_id : "chat");
	if (!p->brokers || !p->client_id) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = kafka_producer_start(p, err, errlen);
out:
	if (rc < 0) {
		free(p->brokers);
		free(p->client_id);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int kafka_pub_publish(void *h, struct events_out_row *rows, size_t n,
			     int timeout_ms)
{
	struct kafka_producer *p = h;
	struct kafka_flight **mine = NULL, *f;
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int64_t left;
	char why[512];
	size_t i, waiting = 0, acked = 0;
	bool full = false;
	int rc = 0;

	for (i = 0; i < n; i++)
		rows[i].acked = 0;
	if (n == 0)
		return 0;
	if (p->rk && rd_kafka_fatal_error(p->rk, why, sizeof(why))) {
		log_error("kafka: producer failed (%s): starting a new one",
			  why);
		kafka_producer_stop(p);
	}
	if (!p->rk) {
		rc = kafka_producer_start(p, why, sizeof(why));
		if (rc < 0) {
			log_error("%s", why);
			return rc;
		}
	}
	if (p->nflights >= KAFKA_SWEEP_AT)
		kafka_flights_sweep(p, false);
	mine = calloc(n, sizeof(*mine));
	if (!mine)
		return CHAT_ENOMEM;
	/* what each row's flight is: done already, still pending, or new */
	for (i = 0; i < n; i++) {
		f = kafka_flight_find(p, rows[i].id);
		if (f && f->state == KAFKA_FAILED) {
			kafka_flight_drop(p, f);
			f = NULL;
		}
		if (!f && !full) {
			rc = kafka_produce(p, &rows[i], &f);
			if (rc == CHAT_EBUSY)
				full = true;	/* the rest next time */
			if (rc < 0)
				f = NULL;
		}
		mine[i] = f;
		if (f)
			waiting++;
	}
	/* the reports, until every row of ours has one or time is up */
	for (;;) {
		for (i = 0; i < n; i++) {
			f = mine[i];
			if (!f || f->state == KAFKA_PENDING)
				continue;
			if (f->state == KAFKA_ACKED) {
				rows[i].acked = 1;
				acked++;
			}
			/* a failure is produced again by a later call */
			kafka_flight_drop(p, f);
			mine[i] = NULL;
			waiting--;
		}
		left = deadline - mono_ms();
		if (waiting == 0 || left <= 0)
			break;
		rd_kafka_poll(p->rk, (int)(left < KAFKA_POLL_MS ?
					   left : KAFKA_POLL_MS));
	}
	free(mine);
	if (acked == n)
		return 0;
	return waiting ? CHAT_ETIMEDOUT : CHAT_EUPSTREAM;
}

static void kafka_pub_close(void *h)
{
	struct kafka_producer *p = h;

	if (!p)
		return;
	if (p->rk)
		rd_kafka_flush(p->rk, KAFKA_CLOSE_MS);
	kafka_producer_stop(p);
	free(p->brokers);
	free(p->client_id);
	free(p);
}

static int kafka_con_open(const char *brokers, const char *client_id,
			  const char *group, const char *const *topics,
			  int fetch_wait_ms, void **out, char *err,
			  size_t errlen)
{
	char commit_ms[16], fetch_wait[16], why[512];
	size_t wlen = sizeof(fetch_wait);
	const char *const settings[] = {
		"bootstrap.servers", brokers,
		"client.id", client_id && *client_id ? client_id : "chat",
		"group.id", group,
		"auto.offset.reset", "earliest",
		"enable.auto.offset.store", "false",
		"enable.auto.commit", "true",
		"auto.commit.interval.ms", commit_ms,
		/* a member that died (kill -9) gives its partitions away
		 * after 10 s, not 45; a restarted daemon's new member
		 * waits that long for them */
		"session.timeout.ms", "10000",
		"heartbeat.interval.ms", "2000",
		"reconnect.backoff.max.ms", "2000",
		/* librdkafka prefetches up to 64 MiB by default: 105 MiB
		 * of RSS while analyticsd caught up with 200,000 events;
		 * 8 MiB still holds several 5,000-event batches */
		"queued.max.messages.kbytes", "8192",
		/* a broker answers a fetch once data comes; the mock
		 * cluster only after this wait (events-kafka.h) */
		"fetch.wait.max.ms", fetch_wait,
		NULL,
	};
	struct kafka_consumer *k = NULL;
	rd_kafka_topic_partition_list_t *subs = NULL;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_resp_err_t e;
	size_t i;
	int rc;

	*out = NULL;
	if (!brokers || !*brokers || !group || !*group || !topics ||
	    !topics[0]) {
		chat_errf(err, errlen, "kafka: no brokers, group or topics");
		return CHAT_EINVAL;
	}
	snprintf(commit_ms, sizeof(commit_ms), "%d", EVENTS_KAFKA_COMMIT_MS);
	snprintf(fetch_wait, sizeof(fetch_wait), "%d", fetch_wait_ms);
	k = calloc(1, sizeof(*k));
	conf = rd_kafka_conf_new();
	if (!k || !conf) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = kafka_conf(conf, settings, err, errlen);
	if (rc < 0)
		goto out;
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_opaque(conf, &k->errlog);
	k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (!k->rk) {
		chat_errf(err, errlen, "kafka: cannot make a consumer: %s",
			  why);
		rc = CHAT_EINVAL;
		goto out;
	}
	conf = NULL;			/* the handle's now */
	/* what librdkafka itself took, read back from the handle: the
	 * setting a deployment tunes latency with, and the tests' proof
	 * that it arrived */
	if (rd_kafka_conf_get(rd_kafka_conf(k->rk), "fetch.wait.max.ms",
			      fetch_wait, &wlen) != RD_KAFKA_CONF_OK)
		snprintf(fetch_wait, sizeof(fetch_wait), "?");
	log_info("kafka: consumer '%s' of group '%s': fetch.wait.max.ms=%s",
		 client_id && *client_id ? client_id : "chat", group,
		 fetch_wait);
	/* the messages come through the consumer queue, poll() */
	rd_kafka_poll_set_consumer(k->rk);
	for (i = 0; topics[i]; i++)
		;
	subs = rd_kafka_topic_partition_list_new((int)i);
	for (i = 0; topics[i]; i++)
		rd_kafka_topic_partition_list_add(subs, topics[i],
						  RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(k->rk, subs);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		chat_errf(err, errlen, "kafka: cannot subscribe: %s",
			  rd_kafka_err2str(e));
		rc = CHAT_EINVAL;
		goto out;
	}
	*out = k;
	k = NULL;
out:
	if (subs)
		rd_kafka_topic_partition_list_destroy(subs);
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (k) {
		if (k->rk)
			rd_kafka_destroy(k->rk);
		free(k);
	}
	return rc;
}

static int kafka_con_poll(void *h, int timeout_ms,
			  struct events_kafka_msg *out, char *err,
			  size_t errlen)
{
	struct kafka_consumer *k = h;
	rd_kafka_message_t *m;
	rd_kafka_headers_t *hdrs = NULL;
	const void *ct = NULL;
	size_t ctlen = 0;

	memset(out, 0, sizeof(*out));
	m = rd_kafka_consumer_poll(k->rk, timeout_ms);
	if (!m)
		return 0;
	if (m->err) {
		chat_errf(err, errlen, "kafka: %s%s%s",
			  m->rkt ? rd_kafka_topic_name(m->rkt) : "",
			  m->rkt ? ": " : "", rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		return CHAT_EUPSTREAM;
	}
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, "content-type", &ct, &ctlen) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		ct = NULL;
		ctlen = 0;
	}
	out->topic = rd_kafka_topic_name(m->rkt);
	out->partition = m->partition;
	out->offset = m->offset;
	out->key = m->key;
	out->key_len = m->key ? m->key_len : 0;
	out->value = m->payload;
	out->value_len = m->payload ? m->len : 0;
	out->content_type = ct;
	out->content_type_len = ct ? ctlen : 0;
	out->priv = m;
	return 1;
}

static void kafka_con_msg_free(struct events_kafka_msg *m)
{
	if (m && m->priv)
		rd_kafka_message_destroy(m->priv);
	if (m)
		memset(m, 0, sizeof(*m));
}

static int kafka_con_store(void *h, const char *topic, int32_t partition,
			   int64_t offset)
{
	struct kafka_consumer *k = h;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;

	l = rd_kafka_topic_partition_list_new(1);
	/* the next offset to read: rd_kafka_offsets_store stores .offset
	 * as is (unlike rd_kafka_offset_store, which adds one) */
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset =
		offset + 1;
	e = rd_kafka_offsets_store(k->rk, l);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		e = l->elems[0].err;
	rd_kafka_topic_partition_list_destroy(l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_debug("kafka: offset %lld of '%s' [%d] not stored: %s",
			  (long long)offset, topic, (int)partition,
			  rd_kafka_err2str(e));
		return CHAT_EINVAL;
	}
	return 0;
}

static int kafka_con_progress(void *h, const char *topic, int64_t *pos,
			      int64_t *head)
{
	struct kafka_consumer *k = h;
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t lo, hi;
	int i, count = 0;

	*pos = 0;
	*head = 0;
	if (rd_kafka_assignment(k->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	if (rd_kafka_position(k->rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto out;
	for (i = 0; i < l->cnt; i++) {
		if (strcmp(l->elems[i].topic, topic) != 0)
			continue;
		count++;
		lo = hi = 0;
		if (rd_kafka_get_watermark_offsets(k->rk, topic,
						   l->elems[i].partition,
						   &lo, &hi) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
			hi = 0;
		/* nothing read from it since it was assigned: the position
		 * is unknown, and counts as caught up (the fetcher starts
		 * at the committed offset, and the first message it brings
		 * makes the position, and any real lag, known) */
		*pos += l->elems[i].offset >= 0 ? l->elems[i].offset : hi;
		*head += hi;
	}
out:
	rd_kafka_topic_partition_list_destroy(l);
	return count;
}

static void kafka_leave_unref(struct kafka_leave *l)
{
	bool last;

	pthread_mutex_lock(&l->mu);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (last) {
		pthread_cond_destroy(&l->cond);
		pthread_mutex_destroy(&l->mu);
		free(l);
	}
}

/* Leaves the group, committing the stored offsets, and frees k: as long
 * as the brokers make it (up to session.timeout.ms when they are down). */
static void kafka_leave_run(struct kafka_consumer *k)
{
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(k->rk);

	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("kafka: consumer close: %s", rd_kafka_err2str(e));
	rd_kafka_destroy(k->rk);
	free(k);
}

static void *kafka_leave_main(void *arg)
{
	struct kafka_leave *l = arg;

	kafka_leave_run(l->k);
	pthread_mutex_lock(&l->mu);
	l->done = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
	kafka_leave_unref(l);
	return NULL;
}

/* With the brokers down, rd_kafka_consumer_close (and rd_kafka_destroy,
 * once any group request is under way) waits up to session.timeout.ms,
 * past the stack's stop timeout.  So the leave runs on a detached thread
 * and close waits KAFKA_LEAVE_MS for it: a leave that takes longer goes
 * on in the background (the module is never unloaded) or ends with the
 * process.  Offsets it could not commit are read again by the next
 * member, which the inbox makes harmless. */
static void kafka_con_close(void *h)
{
	struct kafka_consumer *k = h;
	struct kafka_leave *l;
	struct timespec until;
	pthread_attr_t attr;
	pthread_t t;
	bool started = false, done;

	if (!k)
		return;
	l = calloc(1, sizeof(*l));
	if (l && pthread_attr_init(&attr) == 0) {
		pthread_mutex_init(&l->mu, NULL);
		pthread_cond_init(&l->cond, NULL);
		l->k = k;
		l->refs = 2;
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&t, &attr, kafka_leave_main, l) == 0;
		pthread_attr_destroy(&attr);
		if (!started) {
			pthread_cond_destroy(&l->cond);
			pthread_mutex_destroy(&l->mu);
		}
	}
	if (!started) {
		free(l);
		kafka_leave_run(k);	/* no thread: wait it out here */
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += KAFKA_LEAVE_MS / 1000;
	until.tv_nsec += (long)(KAFKA_LEAVE_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	while (!l->done)
		if (pthread_cond_timedwait(&l->cond, &l->mu, &until) != 0)
			break;
	done = l->done;
	pthread_mutex_unlock(&l->mu);
	if (!done)
		log_warn("kafka: still leaving the group after %d ms (brokers "
			 "unreachable?): going on without waiting",
			 KAFKA_LEAVE_MS);
	kafka_leave_unref(l);
}

__attribute__((visibility("default")))
const struct events_kafka chat_module_kafka_v2 = {
	.publisher = {
		.open = kafka_pub_open,
		.publish = kafka_pub_publish,
		.close = kafka_pub_close,
	},
	.consumer = {
		.open = kafka_con_open,
		.poll = kafka_con_poll,
		.msg_free = kafka_con_msg_free,
		.store = kafka_con_store,
		.progress = kafka_con_progress,
		.close = kafka_con_close,
	},
};
