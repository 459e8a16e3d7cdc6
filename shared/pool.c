/*
 * pool.c - fixed worker pool for blocking work.
 *
 * A mutex-protected FIFO ring of jobs and a condition variable; workers
 * sleep on it.  pool_free drains the queue before joining so no accepted
 * job is ever dropped.
 */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "err.h"
#include "banned.h"

struct pool_job {
	pool_fn fn;
	void *arg;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pool_job *ring;		/* owned, max_queued slots */
	int max_queued;
	int head;			/* next job to run */
	int count;			/* jobs queued */
	bool stopping;
	int nthreads;
	pthread_t *threads;		/* owned */
};

static void *pool_worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		struct pool_job job;

		pthread_mutex_lock(&p->lock);
		while (p->count == 0 && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->count == 0) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		job = p->ring[p->head];
		p->head = (p->head + 1) % p->max_queued;
		p->count--;
		pthread_mutex_unlock(&p->lock);
		job.fn(job.arg);
	}
}

int pool_new(int nthreads, int max_queued, struct pool **out)
{
	struct pool *p;
	int i;

	*out = NULL;
	if (nthreads < 1 || max_queued < 1)
		return CHAT_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return CHAT_ENOMEM;
	p->ring = calloc((size_t)max_queued, sizeof(*p->ring));
	p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
	if (!p->ring || !p->threads) {
		free(p->ring);
		free(p->threads);
		free(p);
		return CHAT_ENOMEM;
	}
	p->max_queued = max_queued;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_worker, p))
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		pool_free(p);
		return CHAT_EIO;
	}
	*out = p;
	return 0;
}

int pool_submit(struct pool *p, pool_fn fn, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->count == p->max_queued) {
		rc = CHAT_EBUSY;
		goto out;
	}
	p->ring[(p->head + p->count) % p->max_queued] =
		(struct pool_job){ .fn = fn, .arg = arg };
	p->count++;
	pthread_cond_signal(&p->cond);
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void pool_free(struct pool *p)
{
	int i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->ring);
	free(p->threads);
	free(p);
}
