/*
 * test-pool.c - the worker pool: jobs run, a full queue refuses more with
 * CHAT_EBUSY (callers answer 503 with it), pool_free runs what it
 * accepted, bad sizes are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>

#include "err.h"
#include "pool.h"

/* A job that holds its worker until the gate opens. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	int started;			/* jobs that began */
	int ran;			/* jobs that finished */
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = false;
	g->started = g->ran = 0;
}

static void gate_release(struct gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

static void gate_job(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->lock);
	g->started++;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	g->ran++;
	pthread_mutex_unlock(&g->lock);
}

static void gate_wait_started(struct gate *g, int n)
{
	pthread_mutex_lock(&g->lock);
	while (g->started < n)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void test_pool__full_queue_refuses(void **state)
{
	struct pool *p = NULL;
	struct gate g;

	(void)state;
	gate_init(&g);
	assert_int_equal(pool_new(1, 2, &p), 0);
	/* the one worker takes the first job and holds it */
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	gate_wait_started(&g, 1);
	/* two may wait, the third is refused at once */
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	assert_int_equal(pool_submit(p, gate_job, &g), CHAT_EBUSY);
	assert_int_equal(pool_submit(p, gate_job, &g), CHAT_EBUSY);
	/* once the worker is free, the queue takes jobs again */
	gate_open(&g);
	gate_wait_started(&g, 3);
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	pool_free(p);
	/* every accepted job ran, the refused ones never */
	assert_int_equal(g.ran, 4);
	gate_release(&g);
}

static void test_pool__free_runs_the_queue(void **state)
{
	struct pool *p = NULL;
	struct gate g;
	int i;

	(void)state;
	gate_init(&g);
	g.open = true;
	assert_int_equal(pool_new(2, 64, &p), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(pool_submit(p, gate_job, &g), 0);
	pool_free(p);
	assert_int_equal(g.ran, 50);
	gate_release(&g);
}

static void test_pool__bad_sizes(void **state)
{
	struct pool *p = (struct pool *)&p;

	(void)state;
	assert_int_equal(pool_new(0, 8, &p), CHAT_EINVAL);
	assert_null(p);
	assert_int_equal(pool_new(1, 0, &p), CHAT_EINVAL);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool__full_queue_refuses),
		cmocka_unit_test(test_pool__free_runs_the_queue),
		cmocka_unit_test(test_pool__bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
