/*
 * queue-amqp.c - the delivery queue on RabbitMQ (queue.h's backend when
 * rabbitmq.url is set), through the run-time module chat-amqp.so
 * (shared/mq-amqp.h: the topology, publisher confirms, manual acks).
 *
 * Where a job is:
 *   put       a row of webhook_jobs (state 0) in the caller's
 *             transaction: the outbox.  After the commit (queue_kick)
 *             the background thread publishes every outbox row and
 *             deletes it once the broker confirmed it, so a job put while
 *             the broker is down waits in the store, never lost, and goes
 *             out when the broker is back (a crash between the confirm
 *             and the delete publishes it again: at least once).
 *   due later PREFIX.delay.<ms>: the largest delay queue whose TTL fits
 *             the wait, which dead-letters it into the work queue; a job
 *             that comes back before its time (a wait longer than every
 *             TTL, or the jitter's remainder) goes round again, the last
 *             stretch in the shortest delay queue with a per-message
 *             expiration of what is left.  So a job is never taken
 *             before its next_ms.
 *   due now   PREFIX.work, consumed with a prefetch: deliveries wait in
 *             memory for queue_take; a taken job is acked only by
 *             done, retry or dead, which the deliverer calls after it
 *             recorded the attempt in the store.  A notifyd killed with
 *             jobs unacked gets them again (its connection closed).
 *   retry     published to its delay queue (confirmed) with attempts + 1,
 *             then the old message acked; if the broker cannot take it,
 *             written to the outbox instead, then acked.
 *   dead      a webhook_jobs row with state 1 (what queue_list shows,
 *             as with the store backend), a copy in PREFIX.dead for the
 *             operator, then acked.
 *
 * Threads: one background thread owns the consumer connection (poll on
 * its socket and an eventfd; acks are handed to it), connects again
 * with a back-off of 250 ms doubling to 8 s after a broker restart or a
 * dropped connection (declaring the topology again), and publishes the
 * outbox after every kick, every (re)connect and every
 * QA_FLUSH_EVERY_MS.  The publisher connection is shared under a mutex
 * by that thread and the deliverers' retry and dead.  Deliveries of a
 * connection that dropped are forgotten: the broker gives them out again
 * with their attempts as they were, so done, retry and dead of one do
 * nothing (a retry published too would make two copies of the job).
 *
 * The URL holds a password: it is never logged, messages name the
 * broker's host and port only (mq-amqp.c does the same).
 */
#include "queue.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "module.h"
#include "mq-amqp.h"
#include "util.h"
#include "webhook.h"
#include "banned.h"

#define QA_PREFIX "chat.notifyd"	/* exchange and queue names */
#define QA_DB_WAIT_MS 5000		/* for a store connection */
#define QA_TIMEOUT_MS 10000		/* connect, each RPC, a confirm */
#define QA_BACKOFF_MIN_MS 250		/* first wait before reconnecting */
#define QA_BACKOFF_MAX_MS 8000
#define QA_FLUSH_EVERY_MS 5000		/* outbox pass without a kick */
#define QA_FLUSH_BATCH 100		/* outbox rows per query */
#define QA_LOG_EVERY_MS 30000		/* one line per outage period */
#define QA_DEFAULT_SCHEDULE "5,300,1800,7200,18000,36000"

/* the thread calls next at least every QA_BACKOFF_MAX_MS, which is when
 * librabbitmq sends and checks the consumer's heartbeats */
_Static_assert(QA_BACKOFF_MAX_MS < MQ_AMQP_HEARTBEAT_S * 1000 / 2,
	       "poll more often than the heartbeat");

/* A delivery waiting for queue_take, or taken and not yet acked. */
struct qa_item {
	struct qa_item *next;
	struct queue_job job;
	uint64_t gen;			/* the consumer connection's */
	uint64_t tag;			/* its delivery tag there */
};

struct queue_amqp {
	const struct mq_amqp_ops *ops;
	struct queue *q;
	char *url;			/* owned; holds a password */
	char where[160];		/* host:port, for the log */
	int64_t delays[MQ_AMQP_DELAYS_MAX];	/* sorted, distinct */
	struct mq_amqp_topology topo;
	int prefetch;			/* rabbitmq.prefetch */
	int wakefd;			/* eventfd: wakes the thread */
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;		/* guards the fields below */
	pthread_cond_t cond;		/* takers: ready, or stopping */
	struct qa_item *ready, *ready_tail;	/* owned */
	struct qa_item *taken;		/* owned */
	struct qa_item *acks;		/* owned: tags to ack */
	uint64_t gen;			/* consumer connection; 0: none */
	bool stop;
	bool flush;			/* an outbox pass is wanted */

	pthread_mutex_t pub_mu;		/* guards pub */
	void *pub;			/* publisher handle, or NULL */

	int64_t logged_at;		/* under mu: last failure logged */
	unsigned unlogged;		/* under mu: failures since */
};

static const char sql_put[] =
	"INSERT INTO webhook_jobs (id, msg_id, endpoint_id, attempts,"
	" created_ms, next_ms, state) VALUES ($1, $2, $3, $4, $5, $6, 0)";
static const char sql_outbox[] =
	"SELECT id, msg_id, endpoint_id, attempts, created_ms, next_ms"
	" FROM webhook_jobs WHERE state = 0 ORDER BY next_ms, id LIMIT $1";
static const char sql_sent[] =
	"DELETE FROM webhook_jobs WHERE id = $1 AND state = 0";
static const char sql_dead[] =
	"INSERT INTO webhook_jobs (id, msg_id, endpoint_id, attempts,"
	" created_ms, next_ms, state) VALUES ($1, $2, $3, $4, $5, $6, 1)"
	" ON CONFLICT (id) DO UPDATE SET state = 1,"
	" attempts = excluded.attempts";
static const char sql_list_all[] =
	"SELECT id, msg_id, endpoint_id, attempts, created_ms, next_ms"
	" FROM webhook_jobs WHERE state = $1 ORDER BY created_ms DESC, id DESC"
	" LIMIT $2";
static const char sql_list_ep[] =
	"SELECT id, msg_id, endpoint_id, attempts, created_ms, next_ms"
	" FROM webhook_jobs WHERE state = $1 AND endpoint_id = $3"
	" ORDER BY created_ms DESC, id DESC LIMIT $2";

/* ---- small helpers ----------------------------------------------- */

static void qa_wake(struct queue_amqp *a)
{
	uint64_t one = 1;

	if (write(a->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("rabbitmq: cannot wake the queue thread: %s",
			 strerror(errno));
}

/* "host:port" of url into out, without user or password. */
static void qa_where(const char *url, char *out, size_t outlen)
{
	const char *h = strstr(url, "://"), *at, *end;

	h = h ? h + 3 : url;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	snprintf(out, outlen, "%.*s", (int)(end - h), h);
}

/* A connection failure: one line per QA_LOG_EVERY_MS, counting the rest. */
static void qa_log_failure(struct queue_amqp *a, const char *what,
			   const char *err)
{
	int64_t now = mono_ms();
	unsigned more;

	pthread_mutex_lock(&a->mu);
	if (a->logged_at && now - a->logged_at < QA_LOG_EVERY_MS) {
		a->unlogged++;
		pthread_mutex_unlock(&a->mu);
		return;
	}
	more = a->unlogged;
	a->logged_at = now;
	a->unlogged = 0;
	pthread_mutex_unlock(&a->mu);
	if (more)
		log_warn("rabbitmq: %s: %s (and %u more failures)", what, err,
			 more);
	else
		log_warn("rabbitmq: %s: %s", what, err);
}

/* ---- publishing -------------------------------------------------- */

/* Publishes job where its next_ms says, confirmed.  Opens the publisher
 * connection when there is none, and tries once more on a fresh one
 * when the old one turns out to be dead (a broker restart since its
 * last use).  to_dead: the dead-letter queue instead. */
static int qa_publish(struct queue_amqp *a, const struct queue_job *job,
		      bool to_dead, char *err, size_t errlen)
{
	char key[48];
	int64_t expiration = 0;
	char *body = queue_amqp_job_encode(job);
	int rc = CHAT_ENOMEM, round;

	if (!body)
		return CHAT_ENOMEM;
	if (to_dead)
		snprintf(key, sizeof(key), "dead");
	else
		queue_amqp_route(a->delays, a->topo.ndelays,
				 job->next_ms - now_ms(), key, sizeof(key),
				 &expiration);
	pthread_mutex_lock(&a->pub_mu);
	for (round = 0; round < 2; round++) {
		bool fresh = !a->pub;

		if (!a->pub) {
			rc = a->ops->open(a->url, &a->topo, MQ_AMQP_PUBLISHER,
					  0, QA_TIMEOUT_MS, &a->pub, err,
					  errlen);
			if (rc < 0)
				break;
		}
		rc = a->ops->publish(a->pub, key, job->id, body, strlen(body),
				     expiration, QA_TIMEOUT_MS, err, errlen);
		if (rc != CHAT_ECLOSED && rc != CHAT_ETIMEDOUT)
			break;
		a->ops->close(a->pub);
		a->pub = NULL;
		if (fresh)
			break;
	}
	pthread_mutex_unlock(&a->pub_mu);
	free(body);
	return rc;
}

/* job into the outbox (its own transaction), for the thread to publish
 * when the broker takes it. */
static int qa_outbox_put(struct queue_amqp *a, const struct queue_job *job)
{
	struct db_conn *c = NULL;
	struct db_param p[6] = {
		db_p_text(job->id), db_p_text(job->msg_id),
		db_p_text(job->endpoint_id), DB_P_INT(job->attempts),
		DB_P_INT(job->created_ms), DB_P_INT(job->next_ms),
	};
	int rc = db_acquire(a->q->d->db, QA_DB_WAIT_MS, &c);

	if (rc == 0)
		rc = db_exec(c, sql_put, p, 6, NULL);
	db_release(c);
	if (rc == 0) {
		pthread_mutex_lock(&a->mu);
		a->flush = true;
		pthread_mutex_unlock(&a->mu);
	}
	return rc;
}

/* One outbox pass: publishes what the store holds, deleting each row
 * the broker confirmed.  Returns how many rows are left (the broker
 * refused one: try again later), 0 when it emptied the outbox. */
static int qa_flush(struct queue_amqp *a)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[1];
	struct queue_job job;
	char err[256];
	size_t i, n = 0;
	int rc, left = 0;

	for (;;) {
		rc = db_acquire(a->q->d->db, QA_DB_WAIT_MS, &c);
		if (rc < 0)
			return 1;
		p[0] = DB_P_INT(QA_FLUSH_BATCH);
		rc = db_query(c, sql_outbox, p, 1, &r);
		db_release(c);
		c = NULL;
		if (rc < 0) {
			log_warn("rabbitmq: reading the outbox: %s",
				 chat_strerror(rc));
			return 1;
		}
		n = db_rows_count(r);
		for (i = 0; i < n; i++) {
			memset(&job, 0, sizeof(job));
			snprintf(job.id, sizeof(job.id), "%s",
				 db_rows_get(r, i, 0));
			snprintf(job.msg_id, sizeof(job.msg_id), "%s",
				 db_rows_get(r, i, 1));
			snprintf(job.endpoint_id, sizeof(job.endpoint_id), "%s",
				 db_rows_get(r, i, 2));
			job.attempts = (int)db_rows_int(r, i, 3, 0);
			job.created_ms = db_rows_int(r, i, 4, 0);
			job.next_ms = db_rows_int(r, i, 5, 0);
			rc = qa_publish(a, &job, false, err, sizeof(err));
			if (rc < 0) {
				qa_log_failure(a, "publishing the outbox",
					       err);
				left = 1;
				break;
			}
			p[0] = db_p_text(job.id);
			rc = db_acquire(a->q->d->db, QA_DB_WAIT_MS, &c);
			if (rc == 0)
				rc = db_exec(c, sql_sent, p, 1, NULL);
			db_release(c);
			c = NULL;
			if (rc < 0) {
				/* published: sent again next pass */
				left = 1;
				break;
			}
		}
		db_rows_free(r);
		r = NULL;
		if (left || n < QA_FLUSH_BATCH)
			return left;
	}
}

/* ---- the background thread ---------------------------------------- */

static void qa_items_free(struct qa_item *it)
{
	while (it) {
		struct qa_item *next = it->next;

		free(it);
		it = next;
	}
}

/* The consumer connection dropped: its deliveries are the broker's
 * again (it gives them out anew), so they are forgotten here. */
static void qa_disconnected(struct queue_amqp *a)
{
	struct qa_item *ready, *taken, *acks;

	pthread_mutex_lock(&a->mu);
	ready = a->ready;
	taken = a->taken;
	acks = a->acks;
	a->ready = a->ready_tail = NULL;
	a->taken = NULL;
	a->acks = NULL;
	a->gen = 0;
	pthread_mutex_unlock(&a->mu);
	qa_items_free(ready);
	qa_items_free(taken);
	qa_items_free(acks);
}

/* Hands ack of (gen, tag) to the thread. */
static int qa_ack_later(struct queue_amqp *a, uint64_t gen, uint64_t tag)
{
	struct qa_item *it = calloc(1, sizeof(*it));

	if (!it)
		return CHAT_ENOMEM;
	it->gen = gen;
	it->tag = tag;
	pthread_mutex_lock(&a->mu);
	it->next = a->acks;
	a->acks = it;
	pthread_mutex_unlock(&a->mu);
	qa_wake(a);
	return 0;
}

/* A delivery: ready for the takers when due, else round again through
 * a delay queue (or, when the broker will not take it, the outbox). */
static void qa_delivered(struct queue_amqp *a, void *con, uint64_t gen,
			 struct mq_amqp_delivery *dv)
{
	struct qa_item *it;
	char err[256];
	int rc;

	it = calloc(1, sizeof(*it));
	if (!it)
		return;			/* unacked: given out again later */
	if (queue_amqp_job_decode(dv->body, &it->job) < 0) {
		log_warn("rabbitmq: dropped a message that is not a job "
			 "(%zu bytes)", dv->len);
		a->ops->ack(con, dv->tag);
		free(it);
		return;
	}
	if (it->job.next_ms > now_ms() + QUEUE_AMQP_EARLY_MS) {
		rc = qa_publish(a, &it->job, false, err, sizeof(err));
		if (rc < 0) {
			qa_log_failure(a, "delaying a job", err);
			rc = qa_outbox_put(a, &it->job);
		}
		if (rc == 0)
			a->ops->ack(con, dv->tag);
		free(it);
		return;
	}
	it->gen = gen;
	it->tag = dv->tag;
	pthread_mutex_lock(&a->mu);
	if (a->ready_tail)
		a->ready_tail->next = it;
	else
		a->ready = it;
	a->ready_tail = it;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	/* no put of ours announced it: the owner may have no taker */
	if (a->q->on_ready)
		a->q->on_ready(a->q->on_ready_arg);
}

/* Sleeps ms or until woken; false when stopping. */
static bool qa_nap(struct queue_amqp *a, int ms)
{
	struct pollfd pfd = { .fd = a->wakefd, .events = POLLIN };
	uint64_t v;
	bool stop;

	if (poll(&pfd, 1, ms) > 0 && read(a->wakefd, &v, sizeof(v)) < 0 &&
	    errno != EAGAIN)
		log_warn("rabbitmq: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&a->mu);
	stop = a->stop;
	pthread_mutex_unlock(&a->mu);
	return !stop;
}

static void *qa_run(void *arg)
{
	struct queue_amqp *a = arg;
	void *con = NULL;
	int backoff = QA_BACKOFF_MIN_MS, rc, left = 1;
	int64_t flushed_at = 0;
	uint64_t gen = 0, gens = 0;
	char err[256];

	for (;;) {
		struct qa_item *acks, *it;
		struct mq_amqp_delivery dv;
		struct pollfd pfd[2];
		bool stop, flush;
		unsigned more;
		int wait, i;

		err[0] = '\0';
		pthread_mutex_lock(&a->mu);
		stop = a->stop;
		flush = a->flush;
		a->flush = false;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			break;
		if (!con) {
			rc = a->ops->open(a->url, &a->topo, MQ_AMQP_CONSUMER,
					  a->prefetch, QA_TIMEOUT_MS, &con, err,
					  sizeof(err));
			if (rc < 0) {
				con = NULL;
				qa_log_failure(a, "connecting", err);
				if (!qa_nap(a, backoff))
					break;
				backoff = backoff * 2 > QA_BACKOFF_MAX_MS ?
					QA_BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			gen = ++gens;
			pthread_mutex_lock(&a->mu);
			a->gen = gen;
			more = a->unlogged;
			a->logged_at = 0;
			a->unlogged = 0;
			pthread_mutex_unlock(&a->mu);
			log_info("rabbitmq: consuming from %s", a->where);
			if (more)
				log_info("rabbitmq: %u failures not logged",
					 more);
			backoff = QA_BACKOFF_MIN_MS;
			flush = true;
		}

		/* acks the deliverers handed over, of this connection */
		pthread_mutex_lock(&a->mu);
		acks = a->acks;
		a->acks = NULL;
		pthread_mutex_unlock(&a->mu);
		rc = 0;
		for (it = acks; it && rc == 0; it = it->next)
			if (it->gen == gen)
				rc = a->ops->ack(con, it->tag);
		qa_items_free(acks);

		if (rc == 0 && (flush || left ||
				mono_ms() - flushed_at >= QA_FLUSH_EVERY_MS)) {
			left = qa_flush(a);
			flushed_at = mono_ms();
		}

		/* what the broker sent: no wait, the poll below waits */
		for (i = 0; rc == 0 && i < a->prefetch + 1; i++) {
			rc = a->ops->next(con, 0, &dv, err, sizeof(err));
			if (rc == 1) {
				qa_delivered(a, con, gen, &dv);
				free(dv.body);
				rc = 0;
			} else if (rc == 0) {
				break;
			}
		}
		if (rc < 0) {
			qa_log_failure(a, "connection lost", err[0] ? err :
				       chat_strerror(rc));
			a->ops->close(con);
			con = NULL;
			gen = 0;
			qa_disconnected(a);
			if (!qa_nap(a, backoff))
				break;
			continue;
		}
		if (a->ops->buffered(con))
			continue;
		wait = left ? QA_BACKOFF_MAX_MS : QA_FLUSH_EVERY_MS;
		pfd[0].fd = a->ops->fd(con);
		pfd[0].events = POLLIN;
		pfd[1].fd = a->wakefd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, wait) > 0 && (pfd[1].revents & POLLIN)) {
			uint64_t v;

			if (read(a->wakefd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				log_warn("rabbitmq: eventfd: %s",
					 strerror(errno));
		}
	}
	if (con)
		a->ops->close(con);
	return NULL;
}

/* ---- the queue_ops ----------------------------------------------- */

static int qa_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

/* The delay queues: one per distinct step of the webhook schedule. */
static int qa_delays(struct queue_amqp *a, const struct config *cfg)
{
	const char *s = config_key_str(cfg, "notifyd.webhook_retry_schedule");
	int64_t ms[WH_RETRY_MAX];
	size_t n = 0, i, k = 0;
	char err[200];
	int rc;

	rc = wh_schedule_parse(s && *s ? s : QA_DEFAULT_SCHEDULE, ms, &n, err,
			       sizeof(err));
	if (rc < 0) {
		log_error("rabbitmq: %s", err);
		return rc;
	}
	qsort(ms, n, sizeof(ms[0]), qa_cmp);
	for (i = 0; i < n && k < MQ_AMQP_DELAYS_MAX; i++)
		if (k == 0 || a->delays[k - 1] != ms[i])
			a->delays[k++] = ms[i];
	a->topo.prefix = QA_PREFIX;
	a->topo.delays_ms = a->delays;
	a->topo.ndelays = k;
	return 0;
}

static void qa_free(struct queue_amqp *a)
{
	if (!a)
		return;
	if (a->pub)
		a->ops->close(a->pub);
	qa_items_free(a->ready);
	qa_items_free(a->taken);
	qa_items_free(a->acks);
	if (a->wakefd >= 0)
		close(a->wakefd);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->pub_mu);
	free(a->url);
	free(a);
}

static int qa_open(struct queue *q)
{
	struct queue_amqp *a = calloc(1, sizeof(*a));
	const char *url = config_key_str(q->d->cfg, "rabbitmq.url");
	const void *ops = NULL;
	pthread_condattr_t ca;
	void *probe = NULL;
	long prefetch = 32;
	char err[512];
	int rc;

	if (!a)
		return CHAT_ENOMEM;
	a->q = q;
	a->wakefd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->pub_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	a->url = strdup(url ? url : "");
	if (!a->url) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	qa_where(a->url, a->where, sizeof(a->where));
	rc = config_key_int(q->d->cfg, "rabbitmq.prefetch", &prefetch, err,
			    sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		goto out;
	}
	a->prefetch = (int)prefetch;
	rc = qa_delays(a, q->d->cfg);
	if (rc < 0)
		goto out;
	rc = module_load(MQ_AMQP_MODULE, MQ_AMQP_VERSION, &ops, err,
			 sizeof(err));
	if (rc < 0) {
		log_error("rabbitmq.url is set but %s", err);
		goto out;
	}
	a->ops = ops;
	a->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->wakefd < 0) {
		rc = CHAT_EIO;
		goto out;
	}
	/* A login the broker refuses, or a URL that is not one, is a
	 * mistake of the config: notifyd does not start.  A broker that is
	 * down is an outage: jobs wait in the store until it is up. */
	rc = a->ops->open(a->url, &a->topo, MQ_AMQP_PUBLISHER, 0,
			  QA_TIMEOUT_MS, &probe, err, sizeof(err));
	if (rc == CHAT_EINVAL || rc == CHAT_EAUTH || rc == CHAT_ENOMEM) {
		log_error("rabbitmq.url: %s", err);
		goto out;
	}
	if (rc < 0) {
		log_warn("rabbitmq: %s; jobs wait in the store until the "
			 "broker is up", err);
		a->logged_at = mono_ms();
	} else {
		a->pub = probe;
	}
	rc = 0;
	q->impl = a;
	if (pthread_create(&a->thread, NULL, qa_run, a) != 0) {
		q->impl = NULL;
		rc = CHAT_EIO;
		goto out;
	}
	a->started = true;
	log_info("rabbitmq: delivery queue on %s, %zu delay queues, "
		 "prefetch %d", a->where, a->topo.ndelays, a->prefetch);
out:
	if (rc < 0)
		qa_free(a);
	return rc;
}

static void qa_close(struct queue *q)
{
	struct queue_amqp *a = q->impl;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	qa_wake(a);
	if (a->started)
		pthread_join(a->thread, NULL);
	qa_free(a);
	q->impl = NULL;
}

static int qa_put(struct queue *q, struct db_conn *c,
		  const struct queue_job *job)
{
	struct db_param p[6] = {
		db_p_text(job->id), db_p_text(job->msg_id),
		db_p_text(job->endpoint_id), DB_P_INT(0),
		DB_P_INT(job->created_ms), DB_P_INT(job->next_ms),
	};

	(void)q;
	return db_exec(c, sql_put, p, 6, NULL);
}

static int qa_take(struct queue *q, struct queue_job *out, size_t max,
		   size_t *n, int wait_ms)
{
	struct queue_amqp *a = q->impl;
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (int64_t)ts.tv_nsec + (int64_t)(wait_ms % 1000) * 1000000;
	ts.tv_sec += wait_ms / 1000 + ns / 1000000000;
	ts.tv_nsec = (long)(ns % 1000000000);
	pthread_mutex_lock(&a->mu);
	while (!a->ready && !a->stop && !q->stopping)
		if (pthread_cond_timedwait(&a->cond, &a->mu, &ts) ==
		    ETIMEDOUT)
			break;
	while (a->ready && *n < max) {
		struct qa_item *it = a->ready;

		a->ready = it->next;
		if (!a->ready)
			a->ready_tail = NULL;
		out[(*n)++] = it->job;
		it->next = a->taken;
		a->taken = it;
	}
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* Takes job's delivery out of the taken list: *gen 0 when it is not
 * there (its connection dropped: the broker gives it out again). */
static void qa_untake(struct queue_amqp *a, const struct queue_job *job,
		      uint64_t *gen, uint64_t *tag)
{
	struct qa_item **pp, *it;

	*gen = 0;
	*tag = 0;
	pthread_mutex_lock(&a->mu);
	for (pp = &a->taken; *pp; pp = &(*pp)->next) {
		it = *pp;
		if (strcmp(it->job.id, job->id) != 0)
			continue;
		*pp = it->next;
		if (it->gen == a->gen) {
			*gen = it->gen;
			*tag = it->tag;
		}
		free(it);
		break;
	}
	pthread_mutex_unlock(&a->mu);
}

static int qa_done(struct queue *q, const struct queue_job *job)
{
	struct queue_amqp *a = q->impl;
	uint64_t gen, tag;

	qa_untake(a, job, &gen, &tag);
	return gen ? qa_ack_later(a, gen, tag) : 0;
}

static int qa_retry(struct queue *q, const struct queue_job *job,
		    int64_t at_ms)
{
	struct queue_amqp *a = q->impl;
	struct queue_job next = *job;
	uint64_t gen, tag;
	char err[256];
	int rc;

	/* A delivery whose connection dropped is the broker's again: it
	 * comes back with its attempts as they were.  Publishing its retry
	 * too would make two copies of the job, each retried on its own. */
	qa_untake(a, job, &gen, &tag);
	if (!gen)
		return 0;
	next.attempts = job->attempts + 1;
	next.next_ms = at_ms;
	rc = qa_publish(a, &next, false, err, sizeof(err));
	if (rc < 0) {
		qa_log_failure(a, "publishing a retry", err);
		rc = qa_outbox_put(a, &next);
		if (rc < 0)
			return rc;	/* unacked until the connection
					 * drops, then given out again */
		qa_wake(a);
	}
	return qa_ack_later(a, gen, tag);
}

static int qa_dead(struct queue *q, const struct queue_job *job)
{
	struct queue_amqp *a = q->impl;
	struct queue_job last = *job;
	struct db_conn *c = NULL;
	struct db_param p[6];
	uint64_t gen, tag;
	char err[256];
	int rc;

	qa_untake(a, job, &gen, &tag);
	if (!gen)
		return 0;		/* the broker's again (qa_retry) */
	last.attempts = job->attempts + 1;
	last.state = QUEUE_DEAD;
	p[0] = db_p_text(last.id);
	p[1] = db_p_text(last.msg_id);
	p[2] = db_p_text(last.endpoint_id);
	p[3] = DB_P_INT(last.attempts);
	p[4] = DB_P_INT(last.created_ms);
	p[5] = DB_P_INT(last.next_ms);
	rc = db_acquire(q->d->db, QA_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_exec(c, sql_dead, p, 6, NULL);
	db_release(c);
	if (rc < 0)
		return rc;		/* unacked: as in qa_retry */
	/* the operator's copy; the store's row is the record */
	rc = qa_publish(a, &last, true, err, sizeof(err));
	if (rc < 0)
		qa_log_failure(a, "publishing to the dead-letter queue", err);
	return qa_ack_later(a, gen, tag);
}

static int qa_list(struct queue *q, const char *endpoint_id,
		   enum queue_state state, struct queue_job *out, size_t max,
		   size_t *n)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[3] = {
		DB_P_INT((int64_t)state), DB_P_INT((int64_t)max),
		db_p_text(endpoint_id),
	};
	size_t i;
	int rc = db_acquire(q->d->db, QA_DB_WAIT_MS, &c);

	if (rc < 0)
		return rc;
	rc = endpoint_id ? db_query(c, sql_list_ep, p, 3, &r) :
			   db_query(c, sql_list_all, p, 2, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r) && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].id, sizeof(out[i].id), "%s",
			 db_rows_get(r, i, 0));
		snprintf(out[i].msg_id, sizeof(out[i].msg_id), "%s",
			 db_rows_get(r, i, 1));
		snprintf(out[i].endpoint_id, sizeof(out[i].endpoint_id), "%s",
			 db_rows_get(r, i, 2));
		out[i].attempts = (int)db_rows_int(r, i, 3, 0);
		out[i].created_ms = db_rows_int(r, i, 4, 0);
		out[i].next_ms = db_rows_int(r, i, 5, 0);
		out[i].state = state;
	}
	if (rc == 0)
		*n = i;
	db_release(c);
	db_rows_free(r);
	return rc;
}

static void qa_kick(struct queue *q)
{
	struct queue_amqp *a = q->impl;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->flush = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	qa_wake(a);
}

/* What waits for a taker is in memory (the broker keeps the rest and
 * gives it out through on_ready). */
static int qa_pending(struct queue *q, bool *any)
{
	struct queue_amqp *a = q->impl;

	pthread_mutex_lock(&a->mu);
	*any = a->ready != NULL;
	pthread_mutex_unlock(&a->mu);
	return 0;
}

const struct queue_ops queue_amqp_ops = {
	.name = "amqp",
	.open = qa_open,
	.close = qa_close,
	.put = qa_put,
	.take = qa_take,
	.done = qa_done,
	.retry = qa_retry,
	.dead = qa_dead,
	.list = qa_list,
	.kick = qa_kick,
	.pending = qa_pending,
};
