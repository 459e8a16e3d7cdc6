/*
 * retain.c - the inbox's retention (analyticsd.inbox_retention_days):
 * inbox rows whose event is older than that many whole days are
 * deleted, a page of RETAIN_PAGE rows per transaction, by a job on the
 * worker pool that the cron queues (never on the loop, never in a
 * request), so that the inbox no longer grows with every event ever
 * consumed.
 *
 * An event's age is its id's: producers give UUIDv7 ids (uuid.h), whose
 * lowercase text sorts by their unix milliseconds, so "older than day D"
 * is `id < '<D's first millisecond>-0000-...'`, a range of the inbox's
 * primary key (source, id) per source.  Ids that are no UUIDv7 sort as
 * what their first hex digits say.
 *
 * The horizon: once events before day H may have left the inbox, a
 * rebuild cannot recompute the rollups of the days before H.  So the
 * horizon (table inbox_horizon, and a->horizon) moves to H before the
 * first row goes: a rebuild clears and replays only the days from H on
 * and keeps the rollups before it as they are, and an event of a day
 * before H that comes (again) later counts no more, since the inbox can
 * no longer tell whether it counted already (rollup.c).  An event's day
 * is never after its id's time, so every event of a day from H on is
 * still in the inbox.
 */
#include "analyticsd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define RETAIN_PAGE 500			/* rows a transaction */
#define RETAIN_STR_(x) #x
#define RETAIN_STR(x) RETAIN_STR_(x)
#define RETAIN_PAGES 20			/* transactions a job */
#define RETAIN_EVERY_MS 60000		/* between jobs with nothing left */

static int64_t retain_last_ms;		/* loop thread: the last job */
static atomic_bool retain_more;		/* the last job left rows */

int retain_init(struct analyticsd *a, char *err, size_t errlen)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	long days = 0;
	int rc;

	rc = config_key_int(a->d.cfg, "analyticsd.inbox_retention_days",
			    &days, err, errlen);
	if (rc < 0)
		return rc;
	a->retention_days = days;
	atomic_init(&a->pruning, false);
	atomic_init(&a->horizon, 0);
	rc = db_acquire(a->d.db, DAEMON_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_query(c, "SELECT horizon FROM inbox_horizon"
			      " WHERE id = 1", NULL, 0, &r);
	if (rc == 0 && db_rows_count(r) > 0)
		atomic_store(&a->horizon, db_rows_int(r, 0, 0, 0));
	db_rows_free(r);
	if (c)
		db_release(c);
	if (rc < 0)
		chat_errf(err, errlen, "cannot read the inbox's horizon: %s",
			  chat_strerror(rc));
	return rc;
}

/* The horizon to day, stored (it never moves back). */
static int retain_horizon(struct analyticsd *a, int64_t day)
{
	struct db_conn *c = NULL;
	struct db_param p = DB_P_INT(day);
	int rc;

	if (day <= atomic_load(&a->horizon))
		return 0;
	rc = db_acquire(a->d.db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_exec(c, "INSERT INTO inbox_horizon (id, horizon)"
		     " VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET"
		     " horizon = excluded.horizon"
		     " WHERE inbox_horizon.horizon < excluded.horizon",
		     &p, 1, NULL);
	db_release(c);
	if (rc == 0) {
		atomic_store(&a->horizon, day);
		log_info("the inbox's horizon moved to day %" PRId64
			 ": rollups of the days before are final", day);
	}
	return rc;
}

/* One page of source's rows with an id below cutoff; *n how many. */
static int retain_page(struct analyticsd *a, const char *source,
		       const char *cutoff, int64_t *n)
{
	struct db_param p[2] = { db_p_text(source), db_p_text(cutoff) };
	struct db_conn *c = NULL;
	int rc;

	*n = 0;
	rc = db_acquire(a->d.db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c, "DELETE FROM inbox WHERE source = $1 AND id IN"
			     " (SELECT id FROM inbox WHERE source = $1"
			     " AND id < $2 ORDER BY id LIMIT "
			     RETAIN_STR(RETAIN_PAGE) ")", p, 2, n);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	return rc;
}

/* The source after `after` ("" for the first); *found false at the
 * end.  An index seek each: the inbox holds a handful of sources. */
static int retain_next_source(struct analyticsd *a, const char *after,
			      char *out, size_t outlen, bool *found)
{
	struct db_param p = db_p_text(after);
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	const char *s;
	int rc;

	*found = false;
	rc = db_acquire(a->d.db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_query(c, "SELECT MIN(source) FROM inbox WHERE source > $1",
		      &p, 1, &r);
	s = rc == 0 ? db_rows_get(r, 0, 0) : NULL;
	if (s && strlen(s) < outlen) {
		memcpy(out, s, strlen(s) + 1);
		*found = true;
	}
	db_rows_free(r);
	db_release(c);
	return rc;
}

int retain_prune(struct analyticsd *a, int64_t *pruned)
{
	char source[256] = "", next[256], cutoff[UUID_STR_LEN];
	int64_t day, ms, n = 0;
	bool found = true;
	int pages = 0, rc = 0;

	*pruned = 0;
	if (a->retention_days <= 0)
		return 0;
	day = range_day_of_ms(now_ms()) - a->retention_days;
	ms = day * INT64_C(86400000);
	/* 48 bits of milliseconds: 8 and 4 hex digits */
	snprintf(cutoff, sizeof(cutoff), "%08x-%04x-0000-0000-000000000000",
		 (unsigned)(((uint64_t)ms >> 16) & 0xffffffffu),
		 (unsigned)((uint64_t)ms & 0xffff));
	/* first the horizon, then the rows: a rebuild in between keeps
	 * days it could still have recomputed, never the other way */
	rc = retain_horizon(a, day);
	while (rc == 0 && found) {
		rc = retain_next_source(a, source, next, sizeof(next), &found);
		if (rc < 0 || !found)
			break;
		memcpy(source, next, sizeof(source));
		do {
			rc = retain_page(a, source, cutoff, &n);
			*pruned += n;
		} while (rc == 0 && n == RETAIN_PAGE && ++pages < RETAIN_PAGES);
		if (rc == 0 && n == RETAIN_PAGE) {
			atomic_store(&retain_more, true);	/* next tick */
			break;
		}
	}
	return rc;
}

/* The pool's job; a rebuild running keeps it off the inbox (it reads the
 * rows it would delete, with the horizon it had). */
static void retain_job(void *arg)
{
	struct analyticsd *a = arg;
	int64_t n = 0;
	int rc;

	atomic_store(&retain_more, false);
	if (pthread_mutex_trylock(&a->rebuild_lock) != 0) {
		atomic_store(&retain_more, true);
		goto out;
	}
	rc = retain_prune(a, &n);
	pthread_mutex_unlock(&a->rebuild_lock);
	if (rc < 0)
		log_warn("cannot prune the inbox: %s", chat_strerror(rc));
	else if (n > 0)
		log_info("pruned %" PRId64 " inbox rows older than %" PRId64
			 " days", n, a->retention_days);
out:
	atomic_store(&a->pruning, false);
}

void retain_cron(struct analyticsd *a)
{
	int64_t now = mono_ms();
	int rc;

	if (a->retention_days <= 0)
		return;
	if (retain_last_ms != 0 && !atomic_load(&retain_more) &&
	    now - retain_last_ms < RETAIN_EVERY_MS)
		return;
	if (atomic_exchange(&a->pruning, true))
		return;		/* the previous job is still going */
	retain_last_ms = now;
	rc = pool_submit(a->d.pool, retain_job, a);
	if (rc < 0) {
		atomic_store(&a->pruning, false);
		log_warn("cannot queue the inbox's pruning: %s",
			 chat_strerror(rc));
	}
}
