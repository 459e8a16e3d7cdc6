/*
 * usage.c - the usage table: one row per generation, written by a worker
 * of its own so that neither the event loop nor the curl thread ever
 * waits on the store.
 *
 * The writer is a one-thread pool created at start and freed after the
 * engine (engine_release), so that generations ended by the shutdown
 * still find it; rows that cannot be queued are dropped with a warning:
 * usage is accounting, never a reason to fail an answer.
 */
#include "aid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "pool.h"
#include "uuid.h"
#include "banned.h"

#define USAGE_QUEUE_MAX 8192
#define USAGE_DB_WAIT_MS 5000

static const char sql_insert[] =
	"INSERT INTO usage (id, user_id, model, provider, purpose,"
	" prompt_tokens, completion_tokens, ttft_ms, latency_ms, status,"
	" created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

struct usage_job {
	struct aid *a;
	struct usage_rec r;
};

/* Writer thread. */
static void usage_write(void *arg)
{
	struct usage_job *j = arg;
	struct usage_rec *r = &j->r;
	struct db_conn *c = NULL;
	char id[UUID_STR_LEN];
	int rc;

	rc = uuid_v7(id);
	if (rc == 0)
		rc = db_acquire(j->a->d.db, USAGE_DB_WAIT_MS, &c);
	if (rc == 0) {
		struct db_param p[] = {
			db_p_text(id), db_p_text(r->user_id),
			db_p_text(r->model), db_p_text(r->provider),
			db_p_text(r->purpose), DB_P_INT(r->prompt_tokens),
			DB_P_INT(r->completion_tokens),
			r->ttft_ms >= 0 ? DB_P_INT(r->ttft_ms) : DB_P_NULL,
			DB_P_INT(r->latency_ms), db_p_text(r->status),
			DB_P_INT(r->created_at),
		};

		rc = db_exec(c, sql_insert, p, sizeof(p) / sizeof(p[0]), NULL);
		db_release(c);
	}
	if (rc < 0)
		log_warn("cannot record usage: %s", chat_strerror(rc));
	free(j);
}

void usage_record(struct aid *a, const struct usage_rec *r)
{
	struct usage_job *j;

	if (!a->usage_pool || !a->d.db)
		return;
	j = malloc(sizeof(*j));
	if (!j) {
		log_warn("cannot record usage: %s", chat_strerror(CHAT_ENOMEM));
		return;
	}
	j->a = a;
	j->r = *r;
	if (pool_submit(a->usage_pool, usage_write, j) < 0) {
		log_warn("usage queue full: a row is dropped");
		free(j);
	}
}

int usage_init(struct aid *a, char *err, size_t errlen)
{
	int rc = pool_new(1, USAGE_QUEUE_MAX, &a->usage_pool);

	if (rc < 0)
		chat_errf(err, errlen, "cannot start the usage writer");
	return rc;
}

void usage_release(struct aid *a)
{
	if (a->usage_pool)
		pool_free(a->usage_pool);
	a->usage_pool = NULL;
}
