/*
 * feed.c - the revocation feed the gateways hold open:
 *
 *   GET /internal/revocations/feed?since=MS   (internal) text/event-stream
 *
 *   event: hello    data: {"keep_ms":N,"now":MS}
 *   event: revoked  data: {"sessions":[id...],"users":[id...],
 *                          "keys":[id...],"now":MS}
 *   : beat          (a comment, every second)
 *
 * so that a revoked session, a disabled or demoted user and a revoked API
 * key reach every gateway within a second.  A gateway that reconnects
 * asks with since = the last "now" it saw and misses nothing; keep_ms
 * says how long a revoked session matters (the access-token lifetime
 * plus a margin): its tokens are expired after that.
 *
 * The store is the source of truth.  Every FEED_TICK_MS while someone
 * listens, one worker reads what was revoked since its last read, minus
 * FEED_MARGIN_MS (a transaction still open at the last read commits with
 * an earlier revoked_at: every revoking transaction takes its time after
 * it holds the write lock, feed_begin, so only a transaction longer than
 * the margin, or a sessiond whose clock is that far behind, could slip
 * through), and sends what it has not sent before to every
 * listener; a revocation made by this process wakes it at once
 * (feed_notify).  Reading the store instead of trusting notifications
 * means that every code path that revokes - and every other sessiond
 * instance on the same store - is seen alike.
 *
 * Threads: the handler and the reads run on the worker pool, the tick on
 * the loop thread.  Every write to a listener's answer happens under
 * feed->lock, so that a listener is ended (its final call) exactly once
 * and never written after.
 */
#include "sessiond.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

#define FEED_TICK_MS 250
#define FEED_BEAT_MS 1000
#define FEED_MARGIN_MS 5000
#define FEED_MAX_ROWS 10000		/* one read; the next goes on */
#define FEED_MAX_LISTENERS 256
#define FEED_KEY_MAX 96			/* "kind:id" */

/* Session revocations live in sessions.revoked_at; users' and API keys'
 * in the revocations table.  Both come as (kind, id, revoked_at). */
static const char sql_read[] =
	"SELECT 'session', id, revoked_at FROM sessions"
	" WHERE revoked_at >= $1"
	" UNION ALL"
	" SELECT kind, subject, revoked_at FROM revocations"
	" WHERE revoked_at >= $1"
	" ORDER BY 3 LIMIT $2";
static const char sql_insert[] =
	"INSERT INTO revocations (kind, subject, user_id, revoked_at)"
	" VALUES ($1, $2, $3, $4)";
static const char sql_cleanup[] =
	"DELETE FROM revocations WHERE revoked_at < $1";

/* Keys sent within the margin: an open-addressed set rebuilt per read. */
struct feed_seen {
	char key[FEED_KEY_MAX];		/* "" when free */
	int64_t at;
};

struct feed {
	struct sessiond *s;
	pthread_mutex_t lock;		/* listeners, beat_ms */
	struct http_res *listeners[FEED_MAX_LISTENERS];
	size_t nlisteners;
	int64_t beat_ms;		/* last beat written */
	atomic_bool reading;		/* a read is queued or running */
	atomic_bool wake;		/* read again, now */
	bool ticking;			/* loop thread: the timer is armed */
	/* the reader's own (one read at a time) */
	int64_t cursor;			/* next read from cursor - margin */
	struct feed_seen *seen;
	size_t seen_cap;		/* power of two, or 0 */
};

/* ---- what was already sent ------------------------------------------ */

static uint64_t feed_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* True when key is in the set; else adds it (when there is room). */
static bool seen_check_add(struct feed_seen *set, size_t cap,
			   const char *key, int64_t at)
{
	size_t i;

	if (!cap)
		return false;
	for (i = feed_hash(key) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		if (!set[i].key[0]) {
			snprintf(set[i].key, sizeof(set[i].key), "%s", key);
			set[i].at = at;
			return false;
		}
		if (strcmp(set[i].key, key) == 0)
			return true;
	}
}

/* A new set holding what the old one had at or after floor, with room
 * for n more.  Keeps the old set when memory runs out (repeats are
 * harmless, only wasteful). */
static void seen_rebuild(struct feed *f, int64_t floor, size_t n)
{
	struct feed_seen *set;
	size_t cap = 64, kept = 0, i;

	for (i = 0; i < f->seen_cap; i++)
		if (f->seen[i].key[0] && f->seen[i].at >= floor)
			kept++;
	while (cap < 2 * (kept + n) + 1)
		cap *= 2;
	set = calloc(cap, sizeof(*set));
	if (!set)
		return;
	for (i = 0; i < f->seen_cap; i++)
		if (f->seen[i].key[0] && f->seen[i].at >= floor)
			seen_check_add(set, cap, f->seen[i].key,
				       f->seen[i].at);
	free(f->seen);
	f->seen = set;
	f->seen_cap = cap;
}

/* ---- listeners -------------------------------------------------------- */

/* Under f->lock: listener i is done (its final call). */
static void feed_drop(struct feed *f, size_t i)
{
	http_res_end(f->listeners[i]);
	f->listeners[i] = f->listeners[--f->nlisteners];
}

/* Under f->lock: text to every listener; those that are gone or cut
 * off are ended. */
static void feed_broadcast(struct feed *f, const char *text, size_t len)
{
	size_t i = 0;

	while (i < f->nlisteners) {
		if (http_res_closed(f->listeners[i]) ||
		    http_res_write(f->listeners[i], text, len) != 0)
			feed_drop(f, i);
		else
			i++;
	}
}

/* ---- reading the store ------------------------------------------------ */

/* The revoked rows as one event (kinds sorted into their arrays); skip
 * says which rows were sent already.  NULL when out of memory. */
static char *feed_event(struct db_rows *rows, const bool *skip,
			int64_t now, size_t *len)
{
	static const char *const kinds[][2] = {
		{ "session", "sessions" },
		{ "user", "users" },
		{ "apikey", "keys" },
	};
	cJSON *o = cJSON_CreateObject(), *arr[3];
	struct buf b;
	char *json = NULL, *out = NULL;
	size_t i, k, n = db_rows_count(rows);

	if (!o)
		return NULL;
	for (k = 0; k < 3; k++)
		if (!(arr[k] = cJSON_AddArrayToObject(o, kinds[k][1])))
			goto out;
	if (!cJSON_AddNumberToObject(o, "now", (double)now))
		goto out;
	for (i = 0; i < n; i++) {
		const char *kind = db_rows_get(rows, i, 0);
		cJSON *id;

		if (skip && skip[i])
			continue;
		for (k = 0; k < 3; k++)
			if (kind && strcmp(kind, kinds[k][0]) == 0)
				break;
		if (k == 3)
			continue;	/* a kind of a newer version */
		id = cJSON_CreateString(db_rows_get(rows, i, 1));
		if (!id)
			goto out;
		cJSON_AddItemToArray(arr[k], id);
	}
	json = cJSON_PrintUnformatted(o);
	if (!json)
		goto out;
	buf_init(&b, strlen(json) + 64);
	if (buf_printf(&b, "event: revoked\ndata: %s\n\n", json) == 0)
		out = buf_detach(&b, len);
	else
		buf_release(&b);
out:
	free(json);
	cJSON_Delete(o);
	return out;
}

/* Rows revoked at or after since, oldest first. */
static int feed_query(struct sessiond *s, int64_t since,
		      struct db_rows **rows)
{
	struct db_conn *c = NULL;
	struct db_param p[2];
	int rc;

	rc = db_acquire(s->d.db, SESSIOND_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	p[0] = DB_P_INT(since);
	p[1] = DB_P_INT(FEED_MAX_ROWS);
	rc = db_query(c, sql_read, p, 2, rows);
	db_release(c);
	return rc;
}

/* The cursor after a read at now: a full read means more is waiting
 * from its last row on. */
static int64_t feed_next_cursor(struct db_rows *rows, int64_t now)
{
	size_t n = db_rows_count(rows);

	if (n >= FEED_MAX_ROWS)
		return db_rows_int(rows, n - 1, 2, now) + FEED_MARGIN_MS;
	return now;
}

/* Worker: one read, what is new to every listener, and the beat. */
static void feed_read_job(void *arg)
{
	struct feed *f = arg;
	struct db_rows *rows = NULL;
	bool *skip = NULL;
	char *event = NULL;
	size_t n = 0, nnew = 0, len = 0, i;
	int64_t now = now_ms(), since, floor;
	char key[FEED_KEY_MAX];
	int rc;

	atomic_store(&f->wake, false);
	floor = now - f->s->access_ttl_ms - FEED_MARGIN_MS;
	since = f->cursor - FEED_MARGIN_MS;
	if (since < floor)
		since = floor;
	rc = feed_query(f->s, since, &rows);
	if (rc < 0) {
		log_warn("cannot read the revocations: %s", chat_strerror(rc));
		goto beat;
	}
	n = db_rows_count(rows);
	seen_rebuild(f, since, n);
	skip = calloc(n ? n : 1, sizeof(*skip));
	if (!skip)
		goto beat;
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s:%s", db_rows_get(rows, i, 0),
			 db_rows_get(rows, i, 1));
		skip[i] = seen_check_add(f->seen, f->seen_cap, key,
					 db_rows_int(rows, i, 2, now));
		nnew += !skip[i];
	}
	f->cursor = feed_next_cursor(rows, now);
	if (nnew)
		event = feed_event(rows, skip, f->cursor, &len);
beat:
	pthread_mutex_lock(&f->lock);
	if (event) {
		feed_broadcast(f, event, len);
		f->beat_ms = now;
	} else if (now - f->beat_ms >= FEED_BEAT_MS) {
		feed_broadcast(f, ": beat\n\n", 8);
		f->beat_ms = now;
	}
	pthread_mutex_unlock(&f->lock);
	if (nnew)
		log_info("revocation feed: %zu new, sent", nnew);
	free(event);
	free(skip);
	db_rows_free(rows);
	atomic_store(&f->reading, false);
}

/* Loop thread: a read, unless one is queued or running. */
static void feed_start_read(struct feed *f)
{
	int rc;

	if (atomic_exchange(&f->reading, true))
		return;
	rc = pool_submit(f->s->d.pool, feed_read_job, f);
	if (rc < 0) {
		atomic_store(&f->reading, false);
		log_warn("cannot queue a revocation read: %s",
			 chat_strerror(rc));
	}
}

/* Loop thread, every FEED_TICK_MS while someone listens. */
static void feed_tick(void *arg)
{
	struct feed *f = arg;
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->nlisteners;
	pthread_mutex_unlock(&f->lock);
	if (n == 0) {
		f->ticking = false;
		return;
	}
	feed_start_read(f);
	if (http_server_after(f->s->d.server, FEED_TICK_MS, feed_tick, f) != 0)
		f->ticking = false;
}

/* Loop thread: make sure the timer runs. */
static void feed_arm(void *arg)
{
	struct feed *f = arg;

	if (f->ticking)
		return;
	f->ticking = true;
	feed_tick(f);
}

static void feed_wake(void *arg)
{
	struct feed *f = arg;

	feed_start_read(f);
}

/* ---- public ----------------------------------------------------------- */

int feed_new(struct sessiond *s, struct feed **out)
{
	struct feed *f = calloc(1, sizeof(*f));

	if (!f)
		return CHAT_ENOMEM;
	f->s = s;
	pthread_mutex_init(&f->lock, NULL);
	atomic_init(&f->reading, false);
	atomic_init(&f->wake, false);
	f->cursor = now_ms();
	*out = f;
	return 0;
}

void feed_free(struct feed *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	while (f->nlisteners)
		feed_drop(f, 0);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_destroy(&f->lock);
	free(f->seen);
	free(f);
}

void feed_notify(struct sessiond *s)
{
	if (!s->feed || atomic_exchange(&s->feed->wake, true))
		return;
	if (http_server_defer(s->d.server, feed_wake, s->feed) != 0)
		atomic_store(&s->feed->wake, false);
}

int feed_begin(struct db_conn *c, int64_t *now)
{
	int rc = db_begin(c);

	/* the time is taken once the store's write lock is ours, so that
	 * it is at most the transaction's own length before its commit */
	*now = now_ms();
	return rc;
}

int feed_record(struct db_conn *c, const char *kind, const char *subject,
		const char *user_id, int64_t now)
{
	struct db_param p[4];

	p[0] = db_p_text(kind);
	p[1] = db_p_text(subject);
	p[2] = db_p_text(user_id);
	p[3] = DB_P_INT(now);
	return db_exec(c, sql_insert, p, 4, NULL);
}

int feed_cleanup(struct db_conn *c, int64_t before)
{
	struct db_param p[1];

	p[0] = DB_P_INT(before);
	return db_exec(c, sql_cleanup, p, 1, NULL);
}

/* GET /internal/revocations/feed?since=MS (internal).  The listener is
 * added before the backlog is read, so that nothing revoked in between
 * is missed (a repeat is harmless). */
void feed_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct feed *f = s->feed;
	struct db_rows *rows = NULL;
	char *event = NULL, hello[128], err[160];
	int64_t since, now = now_ms(), floor;
	size_t len = 0;
	bool full, began = false;
	int rc, n;

	if (revocations_since(req, &since, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	/* what committed late with an earlier time must come again */
	since -= FEED_MARGIN_MS;
	floor = now - s->access_ttl_ms - FEED_MARGIN_MS;
	if (since < floor)
		since = floor;
	n = snprintf(hello, sizeof(hello),
		     "event: hello\ndata: {\"keep_ms\":%lld,\"now\":%lld}\n\n",
		     (long long)(s->access_ttl_ms + FEED_MARGIN_MS),
		     (long long)now);
	http_res_header(res, "Cache-Control", "no-store");
	pthread_mutex_lock(&f->lock);
	full = f->nlisteners >= FEED_MAX_LISTENERS;
	if (!full) {
		began = http_res_begin(res, 200, "text/event-stream") == 0;
		if (began && http_res_write(res, hello, (size_t)n) == 0)
			f->listeners[f->nlisteners++] = res;
		else if (began)
			http_res_end(res);	/* gone already */
	}
	pthread_mutex_unlock(&f->lock);
	if (full)
		http_res_error(res, 503, "unavailable",
			       "too many revocation listeners");
	else if (!began)
		http_res_error(res, 500, "internal", "cannot start the feed");
	if (full || !began)
		return;
	rc = feed_query(s, since, &rows);
	if (rc == 0) {
		event = feed_event(rows, NULL, feed_next_cursor(rows, now),
				   &len);
		if (!event)
			rc = CHAT_ENOMEM;
	}
	pthread_mutex_lock(&f->lock);
	/* still ours unless a broadcast found it gone and ended it */
	for (size_t i = 0; i < f->nlisteners; i++) {
		if (f->listeners[i] != res)
			continue;
		/* a listener that cannot have its backlog must not look
		 * up to date: end it, the gateway reconnects */
		if (rc < 0 || http_res_write(res, event, len) != 0)
			feed_drop(f, i);
		break;
	}
	pthread_mutex_unlock(&f->lock);
	if (rc < 0)
		log_warn("cannot read the revocation backlog: %s",
			 chat_strerror(rc));
	free(event);
	db_rows_free(rows);
	if (http_server_defer(s->d.server, feed_arm, f) != 0)
		log_warn("cannot start the revocation feed's timer");
}
