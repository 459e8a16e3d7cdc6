/*
 * pool.h - a fixed pool of worker threads for blocking work (database,
 * argon2id, file I/O, synchronous calls to other services).
 *
 * Jobs run in FIFO order on any worker.  Results go back to the event loop
 * through whatever the job itself uses (http_res_* are thread-safe).
 */
#ifndef CHAT_POOL_H
#define CHAT_POOL_H

typedef void (*pool_fn)(void *arg);

struct pool;

/* nthreads >= 1; max_queued bounds the backlog (submit gives CHAT_EBUSY). */
int pool_new(int nthreads, int max_queued, struct pool **out);
/* Queues fn(arg).  Any thread.  CHAT_EBUSY when the queue is full. */
int pool_submit(struct pool *p, pool_fn fn, void *arg);
/* Runs the queued jobs to the end, joins the threads, frees p. */
void pool_free(struct pool *p);

#endif
