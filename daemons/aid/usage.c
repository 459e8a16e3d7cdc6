/*
 * usage.c - the usage table: one row per generation, written by a worker
 * of its own so that neither the event loop nor the curl thread ever
 * waits on the store.  The generation's events (chat.generation.started,
 * .first_token, and .completed, .stopped or .failed with the row) go
 * through the same queue into the same batch transaction: an event and
 * its row commit together, the numbers in the end event are the row's,
 * and no request gains a commit of its own.  So an event is written (its
 * time) at most USAGE_FLUSH_MS after what it tells.
 *
 * Rows wait in a queue; one drain job at a time writes all that are
 * waiting in one transaction (a commit per batch, not per row).  The job
 * first lets rows gather for up to USAGE_FLUSH_MS (less when a batch is
 * full or aid stops): a commit is a sync of the store, and one per
 * request, even off the loop, took the machine from the requests
 * themselves (bench/chat.sh's added latency).  A crash can lose the rows
 * of that last quarter second; a clean stop writes them all.  The writer is a
 * one-thread pool created at start and freed after the engine
 * (engine_release), so that generations ended by the shutdown still find
 * it.  Rows beyond the queue's ceiling are dropped with a warning: usage
 * is accounting, never a reason to fail an answer.
 */
#include "aid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define USAGE_QUEUE_MAX 100000		/* rows waiting */
#define USAGE_BATCH_MAX 500		/* rows per transaction */
#define USAGE_DB_WAIT_MS 5000
#define USAGE_FLUSH_MS 250		/* longest wait before a commit */

static const char sql_insert[] =
	"INSERT INTO usage (id, user_id, model, provider, purpose,"
	" prompt_tokens, completion_tokens, ttft_ms, latency_ms, status,"
	" created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

struct usage_job {
	struct usage_rec r;
	struct usage_job *next;
};

/* The end event's type by the row's status: a success, the client's
 * stop (its going away), else a failure. */
static const struct {
	const char *status;
	const char *type;
} usage_end_types[] = {
	{ "complete", "chat.generation.completed" },
	{ "length", "chat.generation.completed" },
	{ "stopped", "chat.generation.stopped" },
};

static int usage_insert(struct db_conn *c, const struct usage_rec *r)
{
	struct db_param p[] = {
		db_p_text(r->id), db_p_text(r->user_id),
		db_p_text(r->model), db_p_text(r->provider),
		db_p_text(r->purpose), DB_P_INT(r->prompt_tokens),
		DB_P_INT(r->completion_tokens),
		r->ttft_ms >= 0 ? DB_P_INT(r->ttft_ms) : DB_P_NULL,
		DB_P_INT(r->latency_ms), db_p_text(r->status),
		DB_P_INT(r->created_at),
	};

	return db_exec(c, sql_insert, p, sizeof(p) / sizeof(p[0]), NULL);
}

static const char *usage_event_type(const struct usage_rec *r)
{
	size_t i;

	if (r->kind == USAGE_STARTED)
		return "chat.generation.started";
	if (r->kind == USAGE_FIRST_TOKEN)
		return "chat.generation.first_token";
	for (i = 0; i < sizeof(usage_end_types) / sizeof(usage_end_types[0]);
	     i++)
		if (strcmp(usage_end_types[i].status, r->status) == 0)
			return usage_end_types[i].type;
	return "chat.generation.failed";
}

/* key: s, or nothing when s is "" (not told). */
static bool usage_add_opt(cJSON *o, const char *key, const char *s)
{
	return !*s || cJSON_AddStringToObject(o, key, s);
}

/* key: v, or null when v < 0 (no token came). */
static bool usage_add_ms(cJSON *o, const char *key, int64_t v)
{
	if (v < 0)
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddNumberToObject(o, key, (double)v) != NULL;
}

/* The record's event, in c's open transaction; for USAGE_END the numbers
 * are exactly the row's.  "at" is when it happened (the row's
 * created_at): the event's time is the batch's write, up to
 * USAGE_FLUSH_MS later, which around midnight is another day. */
static int usage_emit(struct aid *a, struct db_conn *c,
		      const struct usage_rec *r)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *d = cJSON_CreateObject();
	bool ok;
	int rc = CHAT_ENOMEM;

	ok = d && cJSON_AddStringToObject(d, "generation_id", r->id) &&
	     cJSON_AddStringToObject(d, "model", r->model) &&
	     cJSON_AddStringToObject(d, "provider", r->provider) &&
	     cJSON_AddStringToObject(d, "purpose", r->purpose) &&
	     usage_add_opt(d, "conversation_id", r->conversation_id) &&
	     usage_add_opt(d, "message_id", r->message_id) &&
	     json_add_time(d, "at", r->created_at);
	if (ok && r->kind == USAGE_FIRST_TOKEN)
		ok = usage_add_ms(d, "ttft_ms", r->ttft_ms);
	if (ok && r->kind == USAGE_END)
		ok = cJSON_AddStringToObject(d, "status", r->status) &&
		     cJSON_AddNumberToObject(d, "prompt_tokens",
					     (double)r->prompt_tokens) &&
		     cJSON_AddNumberToObject(d, "completion_tokens",
					     (double)r->completion_tokens) &&
		     usage_add_ms(d, "ttft_ms", r->ttft_ms) &&
		     usage_add_ms(d, "latency_ms", r->latency_ms) &&
		     usage_add_opt(d, "finish_reason", r->finish) &&
		     usage_add_opt(d, "error", r->error);
	if (!ok)
		goto out;
	snprintf(subject, sizeof(subject), "generations/%s", r->id);
	rc = events_emit(c, &a->d, usage_event_type(r),
			 r->user_id[0] ? r->user_id : NULL, subject, d);
out:
	cJSON_Delete(d);
	return rc;
}

/* Writes one batch (the list is freed); the rows of a failed batch are
 * lost, with a warning. */
static void usage_write(struct aid *a, struct usage_job *list, size_t n)
{
	struct usage_job *j, *next;
	struct db_conn *c = NULL;
	int rc;

	rc = db_acquire(a->d.db, USAGE_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_begin(c);
	for (j = list; rc == 0 && j; j = j->next) {
		if (j->r.kind == USAGE_END)
			rc = usage_insert(c, &j->r);
		if (rc == 0)
			rc = usage_emit(a, c, &j->r);
	}
	if (rc == 0)
		rc = db_commit(c);
	if (c)
		db_release(c);		/* rolls back a failed batch */
	if (rc < 0)
		log_warn("cannot record usage (%zu rows and events): %s", n,
			 chat_strerror(rc));
	for (j = list; j; j = next) {
		next = j->next;
		free(j);
	}
}

/* Under usage_lock: lets rows gather until USAGE_FLUSH_MS from now, a
 * full batch, or the stop. */
static void usage_gather_locked(struct aid *a)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)USAGE_FLUSH_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (a->usage_head && !a->usage_stopping &&
	       a->usage_queued < USAGE_BATCH_MAX)
		if (pthread_cond_timedwait(&a->usage_cond, &a->usage_lock,
					   &until) != 0)
			break;		/* the time is up */
}

/* Writer thread: batches until the queue is empty. */
static void usage_drain(void *arg)
{
	struct aid *a = arg;
	struct usage_job *list, *last;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&a->usage_lock);
		usage_gather_locked(a);
		list = a->usage_head;
		for (n = 0, last = list; last && n + 1 < USAGE_BATCH_MAX &&
		     last->next; n++)
			last = last->next;
		if (!list) {
			a->usage_draining = false;
			pthread_mutex_unlock(&a->usage_lock);
			return;
		}
		n++;
		a->usage_head = last->next;
		if (!a->usage_head)
			a->usage_tail = NULL;
		a->usage_queued -= n;
		last->next = NULL;
		pthread_mutex_unlock(&a->usage_lock);
		usage_write(a, list, n);
	}
}

/* Whether user_id was erased lately: its rows must not come back. */
static bool usage_erased_locked(struct aid *a, const char *user_id)
{
	int64_t now = mono_ms();
	size_t i;

	for (i = 0; i < AID_ERASED_MAX; i++)
		if (a->usage_erased_until[i] > now &&
		    strcmp(a->usage_erased[i], user_id) == 0)
			return true;
	return false;
}

void usage_record(struct aid *a, const struct usage_rec *r)
{
	struct usage_job *j;
	bool start = false;

	if (!a->usage_pool || !a->d.db)
		return;
	j = malloc(sizeof(*j));
	if (!j) {
		log_warn("cannot record usage: %s", chat_strerror(CHAT_ENOMEM));
		return;
	}
	j->r = *r;
	j->next = NULL;
	pthread_mutex_lock(&a->usage_lock);
	if (usage_erased_locked(a, r->user_id)) {
		pthread_mutex_unlock(&a->usage_lock);
		free(j);
		return;
	}
	if (a->usage_queued >= USAGE_QUEUE_MAX) {
		pthread_mutex_unlock(&a->usage_lock);
		free(j);
		log_warn("usage queue full: a row is dropped");
		return;
	}
	if (a->usage_tail)
		a->usage_tail->next = j;
	else
		a->usage_head = j;
	a->usage_tail = j;
	a->usage_queued++;
	if (a->usage_queued == USAGE_BATCH_MAX)
		pthread_cond_signal(&a->usage_cond);	/* a batch is full */
	if (!a->usage_draining) {
		a->usage_draining = true;
		start = true;
	}
	pthread_mutex_unlock(&a->usage_lock);
	if (start && pool_submit(a->usage_pool, usage_drain, a) < 0) {
		/* the rows stay queued for the next record's drain */
		pthread_mutex_lock(&a->usage_lock);
		a->usage_draining = false;
		pthread_mutex_unlock(&a->usage_lock);
		log_warn("cannot start the usage writer");
	}
}

int usage_init(struct aid *a, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&a->usage_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->usage_cond, &ca);
	pthread_condattr_destroy(&ca);
	a->usage_stopping = false;
	a->usage_head = a->usage_tail = NULL;
	a->usage_queued = 0;
	a->usage_draining = false;
	memset(a->usage_erased_until, 0, sizeof(a->usage_erased_until));
	a->usage_erased_next = 0;
	rc = pool_new(1, 16, &a->usage_pool);
	if (rc < 0) {
		chat_errf(err, errlen, "cannot start the usage writer");
		pthread_cond_destroy(&a->usage_cond);
		pthread_mutex_destroy(&a->usage_lock);
	}
	return rc;
}

void usage_release(struct aid *a)
{
	struct usage_job *j, *next;

	if (!a->usage_pool)
		return;
	pthread_mutex_lock(&a->usage_lock);
	a->usage_stopping = true;	/* a gathering drain writes now */
	pthread_cond_signal(&a->usage_cond);
	pthread_mutex_unlock(&a->usage_lock);
	pool_free(a->usage_pool);	/* the drain job ends the queue */
	a->usage_pool = NULL;
	for (j = a->usage_head; j; j = next) {	/* a drain never started */
		next = j->next;
		free(j);
	}
	a->usage_head = a->usage_tail = NULL;
	pthread_cond_destroy(&a->usage_cond);
	pthread_mutex_destroy(&a->usage_lock);
}

void usage_forget_user(struct aid *a, const char *user_id, int64_t wait_ms)
{
	struct usage_job **pj, *j;
	int64_t until = mono_ms() + wait_ms;
	bool busy;

	if (!a->usage_pool)
		return;
	pthread_mutex_lock(&a->usage_lock);
	/* the oldest slot goes: past AID_ERASED_MAX erasures in the keep
	 * time, a late row of the first one may be written */
	snprintf(a->usage_erased[a->usage_erased_next],
		 sizeof(a->usage_erased[0]), "%s", user_id);
	a->usage_erased_until[a->usage_erased_next] =
		mono_ms() + AID_ERASED_KEEP_MS;
	a->usage_erased_next = (a->usage_erased_next + 1) % AID_ERASED_MAX;
	a->usage_tail = NULL;
	for (pj = &a->usage_head; (j = *pj);) {
		if (strcmp(j->r.user_id, user_id) == 0) {
			*pj = j->next;
			a->usage_queued--;
			free(j);
			continue;
		}
		a->usage_tail = j;
		pj = &j->next;
	}
	busy = a->usage_draining;
	pthread_mutex_unlock(&a->usage_lock);
	/* a batch taken before may hold the user's rows: let it land, so
	 * that the caller's delete comes after it */
	while (busy && mono_ms() < until) {
		nanosleep(&(struct timespec){ .tv_nsec = 10000000L }, NULL);
		pthread_mutex_lock(&a->usage_lock);
		busy = a->usage_draining;
		pthread_mutex_unlock(&a->usage_lock);
	}
}
