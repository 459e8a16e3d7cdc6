/*
 * queue-store.c - the delivery queue in notifyd's own store (queue.h's
 * default backend): table webhook_jobs (migrations.c), one row per job.
 *
 * Taking a job leases it: state QS_TAKEN, its next_ms QUEUE_LEASE_MS
 * ahead, by an UPDATE that names the state and next_ms it read, so of two
 * takers one wins.  A deliverer stuck past its lease loses the job to the
 * next taker; a notifyd killed mid-delivery finds its taken jobs at the
 * next start and makes them due at once (queue open): at least once,
 * never lost.  That reset assumes one notifyd per store, as the embedded
 * transport does; several instances share a queue through RabbitMQ.
 * done deletes the row; retry and dead count the attempt.
 *
 * Waiting: takers sleep on a condition variable until the earliest
 * due time of the pending jobs (read from the store), at most the
 * caller's wait, and a kick (a put committed, or stopping) wakes them at
 * once.  A generation counter read before the query closes the window
 * between "nothing is due" and the sleep.  Nothing wakes a taker for a
 * job that comes due later (a retry) but the taker itself: pending
 * tells the last one whether it must stay.
 *
 * The hand-over (queue.h): put_mine inserts the job as taken (QS_TAKEN,
 * leased) and notes it, with the putting thread, in `staged`; hand moves
 * that thread's notes to the `ready` ring after its commit and wakes the
 * takers, which take from the ring first, without a query.  A hand wakes
 * them with its own counter: a taker that finds the ring emptied by
 * another sleeps again without asking the store.  While the ring keeps
 * them busy, a take asks the store too every QS_STORE_EVERY_MS, so that
 * retries coming due are not starved by a steady stream.
 */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define QS_DB_WAIT_MS 5000		/* for a store connection */
#define QS_TAKEN 2			/* webhook_jobs.state of a leased
					 * job (beside enum queue_state) */
#define QS_STORE_EVERY_MS 100		/* a busy taker asks the store too */

/* A job put_mine noted for the thread whose transaction put it. */
struct qs_staged {
	pthread_t owner;
	struct queue_job job;
};

/* A handed job and when it was handed (mono). */
struct qs_ready {
	struct queue_job job;
	int64_t at;
};

struct queue_store {
	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	uint64_t gen;			/* bumped by every kick */
	uint64_t hands;			/* bumped by every hand that gave */
	struct qs_staged *staged;	/* owned, QUEUE_HAND_MAX; NULL until
					 * the first put_mine */
	size_t nstaged;
	struct qs_ready *ready;		/* owned ring, QUEUE_HAND_MAX */
	size_t rhead, nready;		/* nstaged + nready <= the max */
	int64_t store_at;		/* mono: a take with handed jobs asks
					 * the store too from then on */
};

static const char sql_put[] =
	"INSERT INTO webhook_jobs (id, msg_id, endpoint_id, attempts,"
	" created_ms, next_ms, state) VALUES ($1, $2, $3, 0, $4, $5, $6)";
static const char sql_due[] =
	"SELECT id, msg_id, endpoint_id, attempts, created_ms, next_ms"
	", state FROM webhook_jobs WHERE state IN (0, 2) AND next_ms <= $1"
	" ORDER BY next_ms LIMIT $2";
static const char sql_lease[] =
	"UPDATE webhook_jobs SET next_ms = $3, state = 2 WHERE id = $1"
	" AND next_ms = $2 AND state = $4";
static const char sql_next[] =
	"SELECT MIN(next_ms) FROM webhook_jobs WHERE state IN (0, 2)";
static const char sql_pending[] =
	"SELECT id FROM webhook_jobs WHERE state IN (0, 2) LIMIT 1";
static const char sql_unlease[] =
	"UPDATE webhook_jobs SET state = 0, next_ms = $1 WHERE state = 2";
static const char sql_done[] = "DELETE FROM webhook_jobs WHERE id = $1";
static const char sql_retry[] =
	"UPDATE webhook_jobs SET attempts = attempts + 1, next_ms = $2,"
	" state = 0 WHERE id = $1";
static const char sql_dead[] =
	"UPDATE webhook_jobs SET attempts = attempts + 1, state = 1"
	" WHERE id = $1";
static const char sql_list_all[] =
	"SELECT id, msg_id, endpoint_id, attempts, created_ms, next_ms"
	" FROM webhook_jobs WHERE state = $1 ORDER BY created_ms DESC, id DESC"
	" LIMIT $2";
static const char sql_list_ep[] =
	"SELECT id, msg_id, endpoint_id, attempts, created_ms, next_ms"
	" FROM webhook_jobs WHERE state = $1 AND endpoint_id = $3"
	" ORDER BY created_ms DESC, id DESC LIMIT $2";

static int qs_open(struct queue *q)
{
	struct queue_store *s = calloc(1, sizeof(*s));
	struct db_conn *c = NULL;
	struct db_param now = DB_P_INT(now_ms());
	pthread_condattr_t ca;
	int rc = CHAT_EIO;

	if (!s)
		return CHAT_ENOMEM;
	/* the jobs a killed notifyd had taken are due again now */
	rc = db_acquire(q->d->db, QS_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_exec(c, sql_unlease, &now, 1, NULL);
	db_release(c);
	if (rc < 0)
		goto fail;
	rc = CHAT_EIO;
	if (pthread_condattr_init(&ca) != 0)
		goto fail;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&s->cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto fail;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_cond_destroy(&s->cond);
		goto fail;
	}
	q->impl = s;
	return 0;
fail:
	free(s);
	return rc;
}

static void qs_close(struct queue *q)
{
	struct queue_store *s = q->impl;

	if (!s)
		return;
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	free(s->staged);
	free(s->ready);
	free(s);
	q->impl = NULL;
}

static int qs_put(struct queue *q, struct db_conn *c,
		  const struct queue_job *job)
{
	struct db_param p[6] = {
		db_p_text(job->id), db_p_text(job->msg_id),
		db_p_text(job->endpoint_id), DB_P_INT(job->created_ms),
		DB_P_INT(job->next_ms), DB_P_INT(QUEUE_PENDING),
	};

	(void)q;
	return db_exec(c, sql_put, p, 6, NULL);
}

/* Removes the staged note at i (order does not matter); under mu. */
static void qs_unstage(struct queue_store *s, size_t i)
{
	s->staged[i] = s->staged[--s->nstaged];
}

static int qs_put_mine(struct queue *q, struct db_conn *c,
		       const struct queue_job *job)
{
	struct queue_store *s = q->impl;
	pthread_t self = pthread_self();
	struct db_param p[6] = {
		db_p_text(job->id), db_p_text(job->msg_id),
		db_p_text(job->endpoint_id), DB_P_INT(job->created_ms),
		DB_P_INT(now_ms() + QUEUE_LEASE_MS), DB_P_INT(QS_TAKEN),
	};
	bool room;
	size_t i;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (!s->staged) {
		/* on the first use: an idle notifyd holds neither */
		s->staged = calloc(QUEUE_HAND_MAX, sizeof(*s->staged));
		s->ready = calloc(QUEUE_HAND_MAX, sizeof(*s->ready));
		if (!s->staged || !s->ready) {
			free(s->staged);
			free(s->ready);
			s->staged = NULL;
			s->ready = NULL;
		}
	}
	room = s->staged && s->nstaged + s->nready < QUEUE_HAND_MAX;
	if (room) {
		s->staged[s->nstaged].owner = self;
		s->staged[s->nstaged].job = *job;
		s->nstaged++;
	}
	pthread_mutex_unlock(&s->mu);
	if (!room)
		return qs_put(q, c, job);
	rc = db_exec(c, sql_put, p, 6, NULL);
	if (rc == 0)
		return 1;
	pthread_mutex_lock(&s->mu);
	for (i = s->nstaged; i-- > 0;)
		if (pthread_equal(s->staged[i].owner, self) &&
		    strcmp(s->staged[i].job.id, job->id) == 0) {
			qs_unstage(s, i);
			break;
		}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static size_t qs_hand(struct queue *q, bool ok)
{
	struct queue_store *s = q->impl;
	pthread_t self = pthread_self();
	int64_t now = mono_ms();
	size_t i, kept = 0, gave = 0;

	pthread_mutex_lock(&s->mu);
	/* in the order they were put; the others' notes stay */
	for (i = 0; i < s->nstaged; i++) {
		if (!pthread_equal(s->staged[i].owner, self)) {
			s->staged[kept++] = s->staged[i];
			continue;
		}
		if (!ok)
			continue;
		/* room was kept for it when it was staged */
		s->ready[(s->rhead + s->nready) % QUEUE_HAND_MAX] =
			(struct qs_ready){ s->staged[i].job, now };
		s->nready++;
		gave++;
	}
	s->nstaged = kept;
	if (gave) {
		s->hands++;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->mu);
	return gave;
}

/* Up to max handed jobs into out, oldest first; one handed too long ago
 * is left to its lease.  Under mu. */
static size_t qs_pop(struct queue_store *s, struct queue_job *out,
		     size_t max)
{
	int64_t now = mono_ms();
	struct qs_ready *r;
	size_t n = 0;

	while (n < max && s->nready > 0) {
		r = &s->ready[s->rhead];
		s->rhead = (s->rhead + 1) % QUEUE_HAND_MAX;
		s->nready--;
		if (now - r->at > QUEUE_HAND_FRESH_MS) {
			log_debug("webhook job '%s' waited %lld ms in memory:"
				  " left to its lease", r->job.id,
				  (long long)(now - r->at));
			continue;
		}
		out[n++] = r->job;
	}
	return n;
}

/* Row i of a job query into *j. */
static void qs_row(const struct db_rows *r, size_t i, struct queue_job *j,
		   enum queue_state state)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", db_rows_get(r, i, 0));
	snprintf(j->msg_id, sizeof(j->msg_id), "%s", db_rows_get(r, i, 1));
	snprintf(j->endpoint_id, sizeof(j->endpoint_id), "%s",
		 db_rows_get(r, i, 2));
	j->attempts = (int)db_rows_int(r, i, 3, 0);
	j->created_ms = db_rows_int(r, i, 4, 0);
	j->next_ms = db_rows_int(r, i, 5, 0);
	j->state = state;
}

/* Leases up to max due jobs; *next the earliest due time of the rest
 * (INT64_MAX: none) when none was due. */
static int qs_claim(struct queue *q, struct queue_job *out, size_t max,
		    size_t *n, int64_t *next)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL, *m = NULL;
	int64_t now = now_ms(), changed;
	struct db_param p[4];
	size_t i, rows;
	int rc;

	*next = INT64_MAX;
	rc = db_acquire(q->d->db, QS_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	p[0] = DB_P_INT(now);
	p[1] = DB_P_INT((int64_t)max);
	rc = db_query(c, sql_due, p, 2, &r);
	rows = rc == 0 ? db_rows_count(r) : 0;
	/* the leases of a batch in one transaction: one sync, not one
	 * each */
	if (rows > 0)
		rc = db_begin(c);
	for (i = 0; rc == 0 && i < rows; i++) {
		qs_row(r, i, &out[*n], QUEUE_PENDING);
		p[0] = db_p_text(out[*n].id);
		p[1] = DB_P_INT(out[*n].next_ms);
		p[2] = DB_P_INT(now + QUEUE_LEASE_MS);
		p[3] = DB_P_INT(db_rows_int(r, i, 6, 0));
		changed = 0;
		rc = db_exec(c, sql_lease, p, 4, &changed);
		if (rc == 0 && changed == 1)
			(*n)++;			/* ours; else another's */
	}
	if (rc == 0 && rows > 0)
		rc = db_commit(c);
	if (rc < 0)
		*n = 0;				/* rolled back: none is ours */
	if (rc == 0 && *n == 0) {
		rc = db_query(c, sql_next, NULL, 0, &m);
		if (rc == 0 && db_rows_get(m, 0, 0))
			*next = db_rows_int(m, 0, 0, INT64_MAX);
	}
	db_release(c);
	db_rows_free(r);
	db_rows_free(m);
	return rc;
}

static int qs_take(struct queue *q, struct queue_job *out, size_t max,
		   size_t *n, int wait_ms)
{
	struct queue_store *s = q->impl;
	int64_t next = INT64_MAX, wait, due, deadline = mono_ms() + wait_ms;
	struct timespec ts;
	uint64_t gen, hands;
	size_t got = 0;
	bool ask = true, timed_out;
	int rc;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		gen = s->gen;
		hands = s->hands;
		got = qs_pop(s, out, max);
		if (got > 0) {
			/* busy with handed jobs: the store now and then */
			ask = got < max && mono_ms() >= s->store_at;
		}
		if (ask)
			s->store_at = mono_ms() + QS_STORE_EVERY_MS;
		pthread_mutex_unlock(&s->mu);
		if (got > 0 && !ask) {
			*n = got;
			return 0;
		}
		if (got > 0) {
			/* the handed ones are this taker's already: a
			 * failing store must not keep them from it */
			rc = qs_claim(q, out + got, max - got, n, &next);
			*n = rc == 0 ? *n + got : got;
			return 0;
		}
		if (ask) {
			rc = qs_claim(q, out, max, n, &next);
			if (rc < 0 || *n > 0 || q->stopping)
				return rc;
		}
		wait = deadline - mono_ms();
		if (wait <= 0 || q->stopping)
			return 0;
		if (next != INT64_MAX) {
			due = next - now_ms();
			if (due <= 0) {
				ask = true;	/* came due meanwhile */
				continue;
			}
			if (due < wait)
				wait = due;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->mu);
		rc = 0;
		while (s->gen == gen && s->hands == hands && !q->stopping &&
		       rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&s->cond, &s->mu, &ts);
		timed_out = rc == ETIMEDOUT;
		/* woken by a hand alone: the ring, not the store */
		ask = s->gen != gen || timed_out;
		pthread_mutex_unlock(&s->mu);
		if (q->stopping)
			return 0;
	}
}

/* One statement on job id ($1) with an optional $2. */
static int qs_exec(struct queue *q, const char *sql, const char *id,
		   const struct db_param *p2)
{
	struct db_conn *c = NULL;
	struct db_param p[2] = { db_p_text(id), DB_P_NULL };
	int rc = db_acquire(q->d->db, QS_DB_WAIT_MS, &c);

	if (rc < 0)
		return rc;
	if (p2)
		p[1] = *p2;
	rc = db_exec(c, sql, p, p2 ? 2 : 1, NULL);
	db_release(c);
	return rc;
}

static int qs_done(struct queue *q, const struct queue_job *job)
{
	return qs_exec(q, sql_done, job->id, NULL);
}

static int qs_retry(struct queue *q, const struct queue_job *job,
		    int64_t at_ms)
{
	struct db_param at = DB_P_INT(at_ms);
	int rc = qs_exec(q, sql_retry, job->id, &at);

	if (rc == 0)
		queue_kick(q);		/* a sleeping taker's wait may be
					 * longer than this one's */
	return rc;
}

static int qs_dead(struct queue *q, const struct queue_job *job)
{
	return qs_exec(q, sql_dead, job->id, NULL);
}

static int qs_list(struct queue *q, const char *endpoint_id,
		   enum queue_state state, struct queue_job *out,
		   size_t max, size_t *n)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[3] = {
		DB_P_INT((int64_t)state), DB_P_INT((int64_t)max),
		db_p_text(endpoint_id),
	};
	size_t i;
	int rc = db_acquire(q->d->db, QS_DB_WAIT_MS, &c);

	if (rc < 0)
		return rc;
	rc = endpoint_id ? db_query(c, sql_list_ep, p, 3, &r) :
			   db_query(c, sql_list_all, p, 2, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r) && i < max; i++)
		qs_row(r, i, &out[i], state);
	if (rc == 0)
		*n = i;
	db_release(c);
	db_rows_free(r);
	return rc;
}

static int qs_done_in(struct queue *q, struct db_conn *c,
		      const struct queue_job *job)
{
	struct db_param p[1] = { db_p_text(job->id) };

	(void)q;
	return db_exec(c, sql_done, p, 1, NULL);
}

static int qs_retry_in(struct queue *q, struct db_conn *c,
		       const struct queue_job *job, int64_t at_ms)
{
	struct db_param p[2] = { db_p_text(job->id), DB_P_INT(at_ms) };

	(void)q;
	return db_exec(c, sql_retry, p, 2, NULL);
}

static int qs_dead_in(struct queue *q, struct db_conn *c,
		      const struct queue_job *job)
{
	struct db_param p[1] = { db_p_text(job->id) };

	(void)q;
	return db_exec(c, sql_dead, p, 1, NULL);
}

static int qs_pending(struct queue *q, bool *any)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	int rc = db_acquire(q->d->db, QS_DB_WAIT_MS, &c);

	if (rc < 0)
		return rc;
	rc = db_query(c, sql_pending, NULL, 0, &r);
	if (rc == 0)
		*any = db_rows_count(r) > 0;
	db_release(c);
	db_rows_free(r);
	return rc;
}

static void qs_kick(struct queue *q)
{
	struct queue_store *s = q->impl;

	pthread_mutex_lock(&s->mu);
	s->gen++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

const struct queue_ops queue_store_ops = {
	.name = "store",
	.open = qs_open,
	.close = qs_close,
	.put = qs_put,
	.take = qs_take,
	.done = qs_done,
	.retry = qs_retry,
	.dead = qs_dead,
	.list = qs_list,
	.kick = qs_kick,
	.done_in = qs_done_in,
	.retry_in = qs_retry_in,
	.dead_in = qs_dead_in,
	.pending = qs_pending,
	.put_mine = qs_put_mine,
	.hand = qs_hand,
};
