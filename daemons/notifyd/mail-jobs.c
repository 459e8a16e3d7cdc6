/*
 * mail-jobs.c - the mail channel's jobs and the one thread that sends
 * them.
 *
 * A job is a row of mail_jobs, written in the transaction that decided
 * the mail (the consumer's batch for a notice, POST /internal/mail for a
 * code), so a mail is never lost to a crash and never made twice from
 * one event.  The sender thread takes due rows oldest first, sends each
 * (mail-send.c) with no store connection held, then deletes the row
 * (sent, or nothing to send) or moves it to its next attempt: the wait
 * is smtp.retry_ms doubled per attempt, capped at an hour, and after
 * smtp.attempts the job is dropped with a log line.  A code's row
 * expires after MAIL_CODE_TTL_MS whether or not it was sent: a code is
 * kept exactly as long as it is worth mailing.
 *
 * At least once: a notifyd killed between the server's "250" and the
 * row's delete sends that mail again after its restart.
 *
 * The thread sleeps until the next due job (at most MAIL_POLL_MS) or a
 * mailer_kick.  It runs only while there is mail: a kick starts it
 * (every commit that stores a job kicks), and after smtp.idle_ms with
 * no job stored at all (none due later either) it ends, so an idle
 * notifyd has no sender thread (issue 15's idle RSS).  Sending never
 * runs on the event loop.
 */
#include "mail.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "module.h"
#include "smtp-curl.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define MAIL_BATCH 16			/* jobs taken at once */
#define MAIL_POLL_MS 5000		/* the longest sleep: stored jobs
					 * kick the thread */
#define MAIL_DB_WAIT_MS 5000		/* for a store connection */

struct mailer {
	struct daemon *d;		/* borrowed */
	struct mail_config cfg;		/* owned */
	const struct smtp_curl_ops *smtp;	/* the module's */
	bool on;			/* smtp.url set: email is on */
	pthread_mutex_t mu;		/* guards the fields below */
	pthread_cond_t cv;
	pthread_t thread;
	bool started;			/* thread made, not joined */
	bool running;			/* thread made, not ending */
	bool stop;
	bool kicked;
};

static const char sql_job_add[] =
	"INSERT INTO mail_jobs (id, user_id, kind, category, rcpt, code,"
	" data, attempts, next_ms, expires_ms, created_ms)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $8)";
static const char sql_jobs_due[] =
	"SELECT id, user_id, kind, category, rcpt, code, data, attempts"
	" FROM mail_jobs WHERE next_ms <= $1 ORDER BY next_ms, id LIMIT 16";
static const char sql_job_done[] = "DELETE FROM mail_jobs WHERE id = $1";
static const char sql_job_retry[] =
	"UPDATE mail_jobs SET attempts = $2, next_ms = $3 WHERE id = $1";
static const char sql_jobs_expired[] =
	"DELETE FROM mail_jobs WHERE expires_ms IS NOT NULL"
	" AND expires_ms <= $1";
static const char sql_jobs_next[] = "SELECT MIN(next_ms) FROM mail_jobs";

int mail_job_put(struct db_conn *c, struct mail_job *job, int64_t ttl_ms)
{
	int64_t now = now_ms();
	struct db_param p[9];
	int rc;

	rc = uuid_v7(job->id);
	if (rc < 0)
		return rc;
	job->attempts = 0;
	p[0] = db_p_text(job->id);
	p[1] = db_p_text(job->user_id);
	p[2] = db_p_text(job->kind);
	p[3] = db_p_text(job->category);
	p[4] = job->rcpt ? db_p_text(job->rcpt) : DB_P_NULL;
	p[5] = job->code ? db_p_text(job->code) : DB_P_NULL;
	p[6] = db_p_text(job->data ? job->data : "{}");
	p[7] = DB_P_INT(now);
	p[8] = ttl_ms > 0 ? DB_P_INT(now + ttl_ms) : DB_P_NULL;
	return db_exec(c, sql_job_add, p, 9, NULL);
}

void mail_job_release(struct mail_job *job)
{
	free(job->rcpt);
	if (job->code) {
		memset(job->code, 0, strlen(job->code));
		free(job->code);
	}
	free(job->data);
	job->rcpt = job->code = job->data = NULL;
}

/* A copy of the string at (row, col), NULL when it is NULL. */
static int mail_col(const struct db_rows *r, size_t row, size_t col,
		    char **out)
{
	const char *v = db_rows_get(r, row, col);

	*out = v ? strdup(v) : NULL;
	return !v || *out ? 0 : CHAT_ENOMEM;
}

static void mail_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* The due jobs into jobs (*n of them), expired codes deleted first. */
static int mail_take(struct mailer *m, struct mail_job *jobs, size_t *n)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[1] = { DB_P_INT(now_ms()) };
	int64_t gone = 0;
	size_t i;
	int rc;

	*n = 0;
	rc = db_acquire(m->d->db, MAIL_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_exec(c, sql_jobs_expired, p, 1, &gone);
	if (rc == 0 && gone > 0)
		log_info("mail: %lld code mail(s) expired unsent",
			 (long long)gone);
	if (rc == 0)
		rc = db_query(c, sql_jobs_due, p, 1, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r) && i < MAIL_BATCH; i++) {
		struct mail_job *j = &jobs[i];

		memset(j, 0, sizeof(*j));
		mail_copy(j->id, sizeof(j->id), db_rows_get(r, i, 0));
		mail_copy(j->user_id, sizeof(j->user_id), db_rows_get(r, i, 1));
		mail_copy(j->kind, sizeof(j->kind), db_rows_get(r, i, 2));
		mail_copy(j->category, sizeof(j->category),
			  db_rows_get(r, i, 3));
		rc = mail_col(r, i, 4, &j->rcpt);
		if (rc == 0)
			rc = mail_col(r, i, 5, &j->code);
		if (rc == 0)
			rc = mail_col(r, i, 6, &j->data);
		j->attempts = (int)db_rows_int(r, i, 7, 0);
		*n = i + 1;
	}
	db_rows_free(r);
	db_release(c);
	return rc;
}

/* The wait before attempt number attempts + 1. */
static int64_t mail_backoff(const struct mailer *m, int attempts)
{
	int64_t wait = m->cfg.retry_ms;
	int i;

	for (i = 1; i < attempts && wait < MAIL_RETRY_CAP_MS; i++)
		wait *= 2;
	return wait < MAIL_RETRY_CAP_MS ? wait : MAIL_RETRY_CAP_MS;
}

/* The outcome of one attempt into the job's row. */
static int mail_record(struct mailer *m, const struct mail_job *j,
		       enum mail_outcome o)
{
	struct db_conn *c = NULL;
	struct db_param p[3];
	int attempts = j->attempts + 1;
	int rc;

	rc = db_acquire(m->d->db, MAIL_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	p[0] = db_p_text(j->id);
	if (o == MAIL_RETRY && attempts >= m->cfg.attempts) {
		log_warn("mail '%s' (%s) dropped after %d attempts", j->id,
			 j->kind, attempts);
		o = MAIL_DROP;
	}
	if (o == MAIL_RETRY) {
		p[1] = DB_P_INT(attempts);
		p[2] = DB_P_INT(now_ms() + mail_backoff(m, attempts));
		rc = db_exec(c, sql_job_retry, p, 3, NULL);
	} else {
		rc = db_exec(c, sql_job_done, p, 1, NULL);
	}
	db_release(c);
	return rc;
}

/* How long to sleep: until the next due job, at most MAIL_POLL_MS;
 * *none when no job is stored at all (false when the store failed). */
static int mail_sleep_ms(struct mailer *m, bool *none)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	int64_t next, wait = MAIL_POLL_MS;

	*none = false;
	if (db_acquire(m->d->db, MAIL_DB_WAIT_MS, &c) < 0)
		return MAIL_POLL_MS;
	if (db_query(c, sql_jobs_next, NULL, 0, &r) == 0) {
		*none = !db_rows_get(r, 0, 0);
		if (!*none) {
			next = db_rows_int(r, 0, 0, 0) - now_ms();
			wait = next < 10 ? 10 : next < wait ? next : wait;
		}
	}
	db_rows_free(r);
	db_release(c);
	return (int)wait;
}

static void *mail_thread(void *arg);

/* Starts the sender thread unless it runs; m->mu held. */
static void mail_start(struct mailer *m)
{
	if (m->running || m->stop)
		return;
	/* one that ended: it unlocked and returns, a short join */
	if (m->started)
		pthread_join(m->thread, NULL);
	m->started = false;
	if (pthread_create(&m->thread, NULL, mail_thread, m) != 0) {
		/* the next kick tries again; the jobs wait in the store */
		log_warn("mail: cannot start the sender thread");
		return;
	}
	m->started = m->running = true;
}

static void *mail_thread(void *arg)
{
	struct mailer *m = arg;
	struct mail_job jobs[MAIL_BATCH];
	struct timespec until;
	size_t n, i;
	int64_t wait, idle_since = mono_ms();
	bool stop = false, none;
	int rc;

	(void)pthread_setname_np(pthread_self(), "mail-send");
	while (!stop) {
		rc = mail_take(m, jobs, &n);
		if (rc < 0)
			log_warn("mail: cannot read the jobs: %s",
				 chat_strerror(rc));
		for (i = 0; i < n; i++) {
			enum mail_outcome o = mail_send_job(m, m->d, &jobs[i]);

			rc = mail_record(m, &jobs[i], o);
			if (rc < 0)
				log_warn("mail '%s': cannot record the "
					 "attempt: %s", jobs[i].id,
					 chat_strerror(rc));
			mail_job_release(&jobs[i]);
		}
		none = false;
		wait = n == MAIL_BATCH ? 0 : mail_sleep_ms(m, &none);
		if (!none)
			idle_since = mono_ms();
		else if (wait > m->cfg.idle_ms)
			wait = m->cfg.idle_ms;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait / 1000;
		until.tv_nsec += (wait % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&m->mu);
		while (wait > 0 && !m->stop && !m->kicked &&
		       pthread_cond_timedwait(&m->cv, &m->mu, &until) == 0)
			;
		/* nothing stored for a while and no kick since the look:
		 * end (a kick after this starts another) */
		if (none && !m->kicked && !m->stop &&
		    mono_ms() - idle_since >= m->cfg.idle_ms) {
			m->running = false;
			pthread_mutex_unlock(&m->mu);
			break;
		}
		m->kicked = false;
		stop = m->stop;
		pthread_mutex_unlock(&m->mu);
	}
	return NULL;
}

int mailer_new(struct daemon *d, struct mail_config *cfg,
	       struct mailer **out, char *err, size_t errlen)
{
	struct mailer *m = calloc(1, sizeof(*m));
	const void *ops = NULL;
	bool none = true;
	int rc = 0;

	*out = NULL;
	if (!m) {
		mail_config_release(cfg);
		chat_errf(err, errlen, "out of memory");
		return CHAT_ENOMEM;
	}
	m->d = d;
	m->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (!m->cfg.url) {
		log_info("email is off: smtp.url is not set");
		goto out;
	}
	rc = module_load(SMTP_CURL_MODULE, SMTP_CURL_MODULE_VERSION, &ops,
			 err, errlen);
	if (rc < 0)
		goto out;
	m->smtp = ops;
	m->on = true;
	/* mails a killed notifyd left: the thread now, else at a kick */
	(void)mail_sleep_ms(m, &none);
	if (!none) {
		pthread_mutex_lock(&m->mu);
		mail_start(m);
		pthread_mutex_unlock(&m->mu);
	}
	log_info("email is on: %s, STARTTLS %s", strncmp(m->cfg.url, "smtps",
		 5) == 0 ? "smtps" : "smtp", m->cfg.starttls_required ?
		 "required" : "opportunistic");
out:
	if (rc < 0) {
		mailer_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void mailer_free(struct mailer *m)
{
	if (!m)
		return;
	/* no thread starts after stop; the one made (running or ended)
	 * is joined */
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	if (m->started)
		pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	mail_config_release(&m->cfg);
	free(m);
}

bool mailer_on(const struct mailer *m)
{
	return m && m->on;
}

const struct mail_config *mailer_config(const struct mailer *m)
{
	return &m->cfg;
}

const struct smtp_curl_ops *mailer_smtp(const struct mailer *m)
{
	return m->smtp;
}

void mailer_kick(struct mailer *m)
{
	if (!mailer_on(m))
		return;
	pthread_mutex_lock(&m->mu);
	m->kicked = true;
	mail_start(m);
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}
