/*
 * test-notifyd-queue-store.c - notifyd's delivery queue in its store
 * (daemons/notifyd/queue-store.c), on SQLite: the hand-over in memory of
 * the jobs a consumer's batch puts (queue.h), which saves their first
 * take the query for due jobs and the lease transaction.  A handed job
 * is leased in the store from its commit on (a crash loses nothing: the
 * restart makes it due), a rolled-back one is never taken, a thread
 * hands only its own, and past QUEUE_HAND_MAX the jobs are put as usual.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"
#include "db.h"
#include "util.h"
#include "../../daemons/notifyd/queue.h"
#include "banned.h"

static const char sql_schema[] =
	"CREATE TABLE webhook_jobs (id TEXT PRIMARY KEY,"
	" msg_id TEXT NOT NULL, endpoint_id TEXT NOT NULL,"
	" attempts INTEGER NOT NULL, created_ms BIGINT NOT NULL,"
	" next_ms BIGINT NOT NULL, state INTEGER NOT NULL)";

struct fx {
	char dir[64];
	struct daemon d;
	struct queue q;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct db_conn *c = NULL;
	char err[256];

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/chat-qs.XXXXXX");
	if (!mkdtemp(fx->dir) ||
	    db_open("sqlite", fx->dir, "nq", 2, &fx->d.db, err,
		    sizeof(err)) < 0 ||
	    db_acquire(fx->d.db, 1000, &c) < 0 ||
	    db_exec(c, sql_schema, NULL, 0, NULL) < 0) {
		db_release(c);
		free(fx);
		return -1;
	}
	db_release(c);
	fx->q.ops = &queue_store_ops;
	fx->q.d = &fx->d;
	if (fx->q.ops->open(&fx->q) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	char path[128];

	fx->q.ops->close(&fx->q);
	db_close(fx->d.db);
	snprintf(path, sizeof(path), "%s/nq.db", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nq.db-wal", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nq.db-shm", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct queue_job job_of(const char *id)
{
	struct queue_job j;

	memset(&j, 0, sizeof(j));
	snprintf(j.id, sizeof(j.id), "%s", id);
	snprintf(j.msg_id, sizeof(j.msg_id), "msg_%s", id);
	snprintf(j.endpoint_id, sizeof(j.endpoint_id), "ep");
	j.created_ms = now_ms();
	j.next_ms = j.created_ms;
	return j;
}

/* put_mine of the jobs ids[0..n) in one transaction, committed or not;
 * asserts each answer is want. */
static void put_mine(struct fx *fx, const char *const *ids, size_t n,
		     bool commit, int want)
{
	struct db_conn *c = NULL;
	struct queue_job j;
	size_t i;

	assert_int_equal(db_acquire(fx->d.db, 1000, &c), 0);
	assert_int_equal(db_begin(c), 0);
	for (i = 0; i < n; i++) {
		j = job_of(ids[i]);
		assert_int_equal(fx->q.ops->put_mine(&fx->q, c, &j), want);
	}
	if (commit)
		assert_int_equal(db_commit(c), 0);
	db_release(c);			/* rolls back what is open */
}

/* The job's row: state and next_ms; -1 when there is none. */
static int64_t row_state(struct fx *fx, const char *id, int64_t *next)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[1] = { DB_P_TEXT(id) };
	int64_t st = -1;

	assert_int_equal(db_acquire(fx->d.db, 1000, &c), 0);
	assert_int_equal(db_query(c, "SELECT state, next_ms FROM webhook_jobs"
				  " WHERE id = $1", p, 1, &r), 0);
	if (db_rows_count(r) == 1) {
		st = db_rows_int(r, 0, 0, -1);
		if (next)
			*next = db_rows_int(r, 0, 1, 0);
	}
	db_rows_free(r);
	db_release(c);
	return st;
}

static size_t take(struct fx *fx, struct queue_job *out, size_t max)
{
	size_t n = 0;

	assert_int_equal(fx->q.ops->take(&fx->q, out, max, &n, 0), 0);
	return n;
}

/* Committed and handed: taken at once, leased in the store since its
 * put (the first take needs no lease transaction), gone when done. */
static void test_notifyd_queue_store__handover(void **state)
{
	struct fx *fx = *state;
	static const char *const ids[] = { "a1", "a2" };
	struct queue_job out[8];
	int64_t next = 0;

	put_mine(fx, ids, 2, true, 1);
	assert_int_equal(row_state(fx, "a1", &next), 2);
	assert_true(next >= now_ms() + QUEUE_LEASE_MS - 60000);
	/* not due in the store: only the hand-over gives it out */
	assert_int_equal(take(fx, out, 8), 0);
	assert_int_equal(fx->q.ops->hand(&fx->q, true), 2);
	assert_int_equal(fx->q.ops->hand(&fx->q, true), 0);
	assert_int_equal(take(fx, out, 8), 2);
	assert_string_equal(out[0].id, "a1");
	assert_string_equal(out[0].msg_id, "msg_a1");
	assert_string_equal(out[1].id, "a2");
	assert_int_equal(out[0].attempts, 0);
	assert_int_equal(take(fx, out, 8), 0);
	assert_int_equal(fx->q.ops->done(&fx->q, &out[0]), 0);
	assert_int_equal(row_state(fx, "a1", NULL), -1);
}

/* Rolled back: nothing in the store, nothing handed, nothing taken. */
static void test_notifyd_queue_store__rollback(void **state)
{
	struct fx *fx = *state;
	static const char *const ids[] = { "b1" };
	struct queue_job out[8];

	put_mine(fx, ids, 1, false, 1);
	assert_int_equal(fx->q.ops->hand(&fx->q, false), 0);
	assert_int_equal(fx->q.ops->hand(&fx->q, true), 0);
	assert_int_equal(row_state(fx, "b1", NULL), -1);
	assert_int_equal(take(fx, out, 8), 0);
}

/* A crash after the commit, before or after the hand: the next open
 * makes the job due, and a take finds it in the store. */
static void test_notifyd_queue_store__restart(void **state)
{
	struct fx *fx = *state;
	static const char *const ids[] = { "c1" };
	struct queue_job out[8];

	put_mine(fx, ids, 1, true, 1);
	assert_int_equal(fx->q.ops->hand(&fx->q, true), 1);
	fx->q.ops->close(&fx->q);	/* the memory is gone */
	assert_int_equal(fx->q.ops->open(&fx->q), 0);
	assert_int_equal(row_state(fx, "c1", NULL), 0);
	assert_int_equal(take(fx, out, 8), 1);
	assert_string_equal(out[0].id, "c1");
}

struct other {
	struct fx *fx;
	size_t handed;
};

static void *other_thread(void *arg)
{
	struct other *o = arg;
	static const char *const ids[] = { "d2" };

	put_mine(o->fx, ids, 1, true, 1);
	o->handed = o->fx->q.ops->hand(&o->fx->q, true);
	return NULL;
}

/* A thread hands the jobs its own transactions put, not another's. */
static void test_notifyd_queue_store__own_thread(void **state)
{
	struct fx *fx = *state;
	static const char *const ids[] = { "d1" };
	struct other o = { .fx = fx };
	struct queue_job out[8];
	pthread_t t;

	put_mine(fx, ids, 1, true, 1);
	assert_int_equal(pthread_create(&t, NULL, other_thread, &o), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.handed, 1);
	assert_int_equal(take(fx, out, 8), 1);
	assert_string_equal(out[0].id, "d2");
	assert_int_equal(fx->q.ops->hand(&fx->q, true), 1);
	assert_int_equal(take(fx, out, 8), 1);
	assert_string_equal(out[0].id, "d1");
}

/* Past QUEUE_HAND_MAX notes, a job is put as put does: due in the
 * store, where a take finds it. */
static void test_notifyd_queue_store__full(void **state)
{
	struct fx *fx = *state;
	static char names[QUEUE_HAND_MAX][16];
	static const char *ids[QUEUE_HAND_MAX];
	static const char *const extra[] = { "e-extra" };
	struct queue_job out[8];
	size_t i, n = 0, got;

	for (i = 0; i < QUEUE_HAND_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "e%zu", i);
		ids[i] = names[i];
	}
	put_mine(fx, ids, QUEUE_HAND_MAX, true, 1);
	put_mine(fx, extra, 1, true, 0);
	assert_int_equal(row_state(fx, "e-extra", NULL), 0);
	assert_int_equal(fx->q.ops->hand(&fx->q, true), QUEUE_HAND_MAX);
	while ((got = take(fx, out, 8)) > 0)
		n += got;
	/* the store's due one too (a take asks it beside the ring's) */
	assert_int_equal(n, QUEUE_HAND_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_notifyd_queue_store__handover, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_notifyd_queue_store__rollback, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_notifyd_queue_store__restart, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_notifyd_queue_store__own_thread, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_notifyd_queue_store__full, fx_setup,
			fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
