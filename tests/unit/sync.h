/*
 * sync.h - for unit tests with threads, header only.
 *
 * A failure report: cmocka's assertions jump back into the test's own
 * stack, so one that fails on another thread (a handler on the server's
 * loop or pool, a sender thread) crashes the whole test binary instead
 * of failing the case.  Other threads SYNC_CHECK into a report; the
 * test's thread asserts it with sync_report_assert.
 *
 * A waitable value: a thread sets or adds to it under its lock and
 * wakes waiters; the test waits for it to reach a value, with a
 * deadline, instead of sleeping and looking again.
 */
#ifndef CHAT_TEST_SYNC_H
#define CHAT_TEST_SYNC_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

/* ---- failure report --------------------------------------------------- */

struct sync_report {
	pthread_mutex_t lock;
	int failures;		/* checks failed since the last assert */
	char first[256];	/* the first one, "file:line: what" */
};

#define SYNC_REPORT_INIT { PTHREAD_MUTEX_INITIALIZER, 0, "" }

/* Any thread: records a failure. */
static inline void sync_report_fail(struct sync_report *r, const char *file,
				    int line, const char *what)
{
	pthread_mutex_lock(&r->lock);
	if (r->failures++ == 0)
		snprintf(r->first, sizeof(r->first), "%s:%d: %s", file, line,
			 what);
	pthread_mutex_unlock(&r->lock);
}

/* Any thread: expr must hold; if not, r gets it. */
#define SYNC_CHECK(r, expr) do { \
	if (!(expr)) \
		sync_report_fail((r), __FILE__, __LINE__, #expr); \
} while (0)

/* The test's thread: fails the case when a check failed since the last
 * call (and clears the report for the next case). */
static inline void sync_report_assert(struct sync_report *r)
{
	char first[256];
	int n;

	pthread_mutex_lock(&r->lock);
	n = r->failures;
	snprintf(first, sizeof(first), "%s", r->first);
	r->failures = 0;
	r->first[0] = '\0';
	pthread_mutex_unlock(&r->lock);
	if (n)
		fail_msg("%d check(s) failed on another thread, first %s", n,
			 first);
}

/* ---- waitable value --------------------------------------------------- */

struct sync_value {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* broadcast on every change */
	long v;
};

#define SYNC_VALUE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void sync_value_set(struct sync_value *s, long v)
{
	pthread_mutex_lock(&s->lock);
	s->v = v;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Adds n; returns the value before, as a ticket (an index for the
 * caller's own bookkeeping, done under no lock of ours). */
static inline long sync_value_add(struct sync_value *s, long n)
{
	long before;

	pthread_mutex_lock(&s->lock);
	before = s->v;
	s->v += n;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return before;
}

static inline long sync_value_get(struct sync_value *s)
{
	long v;

	pthread_mutex_lock(&s->lock);
	v = s->v;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* Waits up to ms for the value to be at least min (ne false) or to
 * differ from min (ne true); returns the value it ended with. */
static inline long sync_value_wait_(struct sync_value *s, long min, bool ne,
				    int ms)
{
	struct timespec until;
	long v;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (ne ? s->v == min : s->v < min)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
			break;
	v = s->v;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* Waits up to ms for the value to reach min; returns it. */
static inline long sync_value_wait(struct sync_value *s, long min, int ms)
{
	return sync_value_wait_(s, min, false, ms);
}

/* Waits up to ms for the value to leave v; returns it. */
static inline long sync_value_wait_change(struct sync_value *s, long v,
					  int ms)
{
	return sync_value_wait_(s, v, true, ms);
}

#endif
