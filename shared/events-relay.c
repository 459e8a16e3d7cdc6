/*
 * events-relay.c - the daemon kit's half of the event backbone
 * (events.h, events-relay.h): the relay that gives committed outbox rows
 * their positions, hands them to Kafka when kafka.brokers is set and
 * prunes them; the pull API consumers read the outbox through, with
 * long-polls that hold no worker; the stats route; the system events.
 *
 * Threads.  A timer on the loop thread ticks every EVENTS_RELAY_MS: it
 * answers long-polls whose deadline passed (no store access: an empty
 * answer) and queues one relay job on the worker pool when this process
 * emitted lately (events_kit_wake) or EVENTS_IDLE_MS passed since the
 * last (rows of other processes on the same store, rows a kill -9 left,
 * Kafka retries).  At most one relay job runs at a time (ev->running).
 * The pull handler runs on a worker; with nothing to read and wait_ms it
 * parks its request in ev->waiters and returns; the relay, after giving
 * out new positions, answers the parked requests that can now read
 * something.  ev->lock guards the waiters, head and stopping, so that a
 * request is answered (its final call) exactly once.
 *
 * Order.  The relay stamps pos under a store lock (SQLite: BEGIN
 * IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock per schema),
 * so that pos is given in an order no later commit can undercut: see
 * events.h for why consumers read by pos and not by seq.
 */
#include "events-relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "daemon.h"
#include "db.h"
#include "err.h"
#include "events.h"
#include "http-server.h"
#include "log.h"
#include "module.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

#define EVENTS_IDLE_MS 1000		/* relay at least this often */
#define EVENTS_HOT_MS 1000		/* after an emit, relay every tick */
#define EVENTS_PRUNE_MS 1000		/* look for rows to prune */
#define EVENTS_STAMP_BATCH 1000		/* positions per transaction */
#define EVENTS_STAMP_PASSES 20		/* transactions per relay pass */
#define EVENTS_DB_WAIT_MS 2000
#define EVENTS_ANSWER_MAX (8u << 20)	/* bytes of one pull answer */
#define EVENTS_WAITERS_MAX 256		/* parked long-polls */
#define EVENTS_CONSUMER_MAX 64		/* a consumer's name */
#define EVENTS_BACKOFF_MS 250		/* first Kafka retry wait */
#define EVENTS_BACKOFF_MAX_MS 30000
#define EVENTS_SEEN_REFRESH_MS 60000	/* seen_ms is rewritten this often */

/* A parked long-poll. */
struct events_waiter {
	struct http_res *res;		/* answered exactly once */
	int64_t after;
	int limit;
	int64_t deadline;		/* mono_ms */
	struct events_waiter *next;
};

struct events {
	struct daemon *d;		/* borrowed */
	int64_t retention_ms;
	const struct events_publisher *pub;	/* NULL: embedded */
	void *pub_h;			/* pub's handle */
	pthread_mutex_t lock;		/* the four below */
	struct events_waiter *waiters;	/* owned list */
	size_t nwaiters;
	int64_t head;			/* highest pos known */
	bool stopping;			/* no more parking */
	atomic_bool running;		/* a relay job is queued or running */
	atomic_llong hot_until;		/* mono_ms; events_kit_wake */
	int64_t last_queued;		/* loop thread: mono_ms */
	/* the relay's own (one at a time) */
	int64_t last_prune;		/* mono_ms */
	int64_t backoff_ms;		/* Kafka: current wait, 0 none */
	int64_t retry_at;		/* Kafka: mono_ms of the next try */
};

static void events_tick(void *arg);

/* the highest pos ever given, kept apart from the rows: pruning the
 * newest row must not hand its pos out again */
static const char sql_head[] = "SELECT pos FROM outbox_head WHERE id = 1";
static const char sql_head_set[] =
	"UPDATE outbox_head SET pos = $1 WHERE id = 1";
static const char sql_unstamped[] =
	"SELECT seq FROM outbox WHERE pos IS NULL ORDER BY seq LIMIT $1";
static const char sql_stamp[] = "UPDATE outbox SET pos = $1 WHERE seq = $2";
static const char sql_read[] =
	"SELECT pos, event FROM outbox WHERE pos > $1 ORDER BY pos LIMIT $2";
static const char sql_unrelayed[] =
	"SELECT pos, id, type, user_id, event FROM outbox"
	" WHERE relayed_ms IS NULL AND pos IS NOT NULL ORDER BY pos LIMIT $1";
static const char sql_relayed[] =
	"UPDATE outbox SET relayed_ms = $1 WHERE pos = $2";
static const char sql_consumer_touch[] =
	"UPDATE outbox_consumers SET pos = $2, seen_ms = $3"
	" WHERE name = $1 AND (pos <> $2 OR seen_ms < $4)";
static const char sql_consumer_add[] =
	"INSERT INTO outbox_consumers (name, pos, seen_ms) VALUES ($1, $2, $3)"
	" ON CONFLICT (name) DO NOTHING";
static const char sql_prune_state[] =
	"SELECT (SELECT MIN(pos) FROM outbox),"
	" (SELECT MIN(time_ms) FROM outbox),"
	" (SELECT COUNT(*) FROM outbox_consumers),"
	" (SELECT MIN(pos) FROM outbox_consumers)";
static const char sql_prune_old[] = "DELETE FROM outbox WHERE time_ms < $1";
static const char sql_prune_read[] =
	"DELETE FROM outbox WHERE pos <= $1";
static const char sql_prune_read_relayed[] =
	"DELETE FROM outbox WHERE pos <= $1 AND relayed_ms IS NOT NULL";
static const char sql_prune_relayed[] =
	"DELETE FROM outbox WHERE relayed_ms IS NOT NULL";
static const char sql_pg_lock[] =
	"SELECT pg_advisory_xact_lock(hashtext('chat.outbox.' ||"
	" current_schema()))";

/* ---- answers ----------------------------------------------------------- */

/* {"events":[{"pos":P,"event":{...}},...],"last":L,"head":H} from rows of
 * (pos, event); the events are stored JSON and go in as they are. */
static int events_answer_body(struct db_rows *rows, int64_t after,
			      int64_t head, struct buf *b)
{
	size_t n = rows ? db_rows_count(rows) : 0, i;
	int64_t last = after;
	int rc;

	rc = buf_puts(b, "{\"events\":[");
	for (i = 0; rc == 0 && i < n; i++) {
		const char *event = db_rows_get(rows, i, 1);
		int64_t pos = db_rows_int(rows, i, 0, 0);

		if (!event)
			continue;
		/* one row always goes, so a big one cannot stall a reader */
		if (i > 0 && b->len + strlen(event) + 64 > EVENTS_ANSWER_MAX)
			break;
		rc = buf_printf(b, "%s{\"pos\":%lld,\"event\":%s}",
				i ? "," : "", (long long)pos, event);
		last = pos;
	}
	if (rc == 0)
		rc = buf_printf(b, "],\"last\":%lld,\"head\":%lld}",
				(long long)last,
				(long long)(head > last ? head : last));
	return rc;
}

static void events_send(struct http_res *res, struct buf *b)
{
	size_t len = 0;
	char *body = buf_detach(b, &len);

	http_res_header(res, "Cache-Control", "no-store");
	http_res_send(res, 200, "application/json", body, len);
}

static void events_send_empty(struct http_res *res, int64_t after,
			      int64_t head)
{
	struct buf b;

	buf_init(&b, 256);
	if (events_answer_body(NULL, after, head, &b) < 0) {
		buf_release(&b);
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	events_send(res, &b);
}

static int events_read(struct db_conn *c, int64_t after, int limit,
		       struct db_rows **rows)
{
	struct db_param p[2];

	p[0] = DB_P_INT(after);
	p[1] = DB_P_INT(limit);
	return db_query(c, sql_read, p, 2, rows);
}

/* Reads after w->after and answers w (its final call); frees w. */
static void events_answer(struct events *ev, struct db_conn *c,
			  struct events_waiter *w)
{
	struct db_rows *rows = NULL;
	struct buf b;
	int64_t head;
	int rc;

	buf_init(&b, EVENTS_ANSWER_MAX + 4096);
	rc = events_read(c, w->after, w->limit, &rows);
	pthread_mutex_lock(&ev->lock);
	head = ev->head;
	pthread_mutex_unlock(&ev->lock);
	if (rc == 0)
		rc = events_answer_body(rows, w->after, head, &b);
	if (rc < 0) {
		buf_release(&b);
		http_res_chat_error(w->res, rc, "cannot read the outbox");
	} else {
		events_send(w->res, &b);
	}
	db_rows_free(rows);
	free(w);
}

/* Takes the parked requests that can read something now (after < head,
 * or all with everything) off the list; the caller answers them. */
static struct events_waiter *events_take(struct events *ev, bool all)
{
	struct events_waiter *out = NULL, **pp;

	pthread_mutex_lock(&ev->lock);
	pp = &ev->waiters;
	while (*pp) {
		struct events_waiter *w = *pp;

		if (all || w->after < ev->head) {
			*pp = w->next;
			w->next = out;
			out = w;
			ev->nwaiters--;
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&ev->lock);
	return out;
}

/* ---- the relay --------------------------------------------------------- */

static int events_query_int(struct db_conn *c, const char *sql,
			    int64_t *out)
{
	struct db_rows *rows = NULL;
	int rc = db_query(c, sql, NULL, 0, &rows);

	if (rc == 0)
		*out = db_rows_int(rows, 0, 0, 0);
	db_rows_free(rows);
	return rc;
}

/* Gives positions to committed rows without one; *head gets the highest
 * pos.  Returns the number stamped or a negative error. */
static int events_stamp(struct events *ev, struct db_conn *c, int64_t *head)
{
	struct db_rows *rows = NULL, *lock = NULL;
	struct db_param p[2];
	int64_t top = 0;
	size_t n = 0, i;
	int rc;

	/* nothing waiting: no write transaction at all */
	p[0] = DB_P_INT(1);
	rc = db_query(c, sql_unstamped, p, 1, &rows);
	if (rc < 0)
		goto out;
	if (db_rows_count(rows) == 0) {
		rc = events_query_int(c, sql_head, head);
		goto out;
	}
	db_rows_free(rows);
	rows = NULL;
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	if (strcmp(db_backend(ev->d->db), "postgres") == 0) {
		rc = db_query(c, sql_pg_lock, NULL, 0, &lock);
		if (rc < 0)
			goto out;
	}
	rc = events_query_int(c, sql_head, &top);
	if (rc < 0)
		goto out;
	p[0] = DB_P_INT(EVENTS_STAMP_BATCH);
	rc = db_query(c, sql_unstamped, p, 1, &rows);
	if (rc < 0)
		goto out;
	n = db_rows_count(rows);
	for (i = 0; i < n && rc == 0; i++) {
		p[0] = DB_P_INT(top + 1);
		p[1] = DB_P_INT(db_rows_int(rows, i, 0, 0));
		rc = db_exec(c, sql_stamp, p, 2, NULL);
		if (rc == 0)
			top++;
	}
	p[0] = DB_P_INT(top);
	if (rc == 0)
		rc = db_exec(c, sql_head_set, p, 1, NULL);
	if (rc == 0)
		rc = db_commit(c);
	if (rc == 0)
		*head = top;
out:
	if (rc < 0)
		db_rollback(c);
	db_rows_free(lock);
	db_rows_free(rows);
	return rc < 0 ? rc : (int)n;
}

/* Kafka: hands rows not yet acknowledged to the publisher, in pos order,
 * and marks those it acknowledged.  A failure sets the back-off. */
static void events_publish(struct events *ev, struct db_conn *c)
{
	struct events_out_row *out = NULL;
	struct db_rows *rows = NULL;
	struct db_param p[2];
	size_t n, i, acked = 0;
	int64_t now = mono_ms();
	int rc, prc = 0;

	if (!ev->pub || now < ev->retry_at)
		return;
	p[0] = DB_P_INT(EVENTS_PUBLISH_BATCH);
	rc = db_query(c, sql_unrelayed, p, 1, &rows);
	if (rc < 0)
		goto out;
	n = db_rows_count(rows);
	if (n == 0)
		goto out;
	out = calloc(n, sizeof(*out));
	if (!out) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		out[i] = (struct events_out_row){
			.pos = db_rows_int(rows, i, 0, 0),
			.id = db_rows_get(rows, i, 1),
			.type = db_rows_get(rows, i, 2),
			.topic = events_topic(db_rows_get(rows, i, 2)),
			.key = db_rows_get(rows, i, 3),
			.event = db_rows_get(rows, i, 4),
		};
		out[i].event_len = out[i].event ? strlen(out[i].event) : 0;
		if (!out[i].topic)
			out[i].topic = "system-events";
	}
	prc = ev->pub->publish(ev->pub_h, out, n, EVENTS_PUBLISH_TIMEOUT_MS);
	rc = db_begin(c);
	for (i = 0; i < n && rc == 0; i++) {
		if (!out[i].acked)
			continue;
		p[0] = DB_P_INT(now_ms());
		p[1] = DB_P_INT(out[i].pos);
		rc = db_exec(c, sql_relayed, p, 2, NULL);
		acked++;
	}
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
out:
	if (rc < 0 || prc < 0) {
		ev->backoff_ms = ev->backoff_ms ? ev->backoff_ms * 2
						: EVENTS_BACKOFF_MS;
		if (ev->backoff_ms > EVENTS_BACKOFF_MAX_MS)
			ev->backoff_ms = EVENTS_BACKOFF_MAX_MS;
		ev->retry_at = mono_ms() + ev->backoff_ms;
		log_warn("events: relay to kafka: %zu acknowledged, retry in "
			 "%lld ms: %s", acked, (long long)ev->backoff_ms,
			 chat_strerror(rc < 0 ? rc : prc));
	} else {
		ev->backoff_ms = 0;
		ev->retry_at = 0;
	}
	free(out);
	db_rows_free(rows);
}

/* Deletes rows every registered consumer has read (Kafka: and the broker
 * acknowledged) and rows older than the retention. */
static void events_prune(struct events *ev, struct db_conn *c)
{
	struct db_rows *st = NULL;
	struct db_param p[1];
	int64_t now = mono_ms(), lowest, oldest, nconsumers, min_read;
	int64_t cut = now_ms() - ev->retention_ms, gone = 0, more = 0;
	int rc;

	if (now - ev->last_prune < EVENTS_PRUNE_MS)
		return;
	ev->last_prune = now;
	rc = db_query(c, sql_prune_state, NULL, 0, &st);
	if (rc < 0)
		goto out;
	lowest = db_rows_int(st, 0, 0, -1);
	oldest = db_rows_int(st, 0, 1, -1);
	nconsumers = db_rows_int(st, 0, 2, 0);
	min_read = db_rows_int(st, 0, 3, 0);
	if (oldest >= 0 && oldest < cut) {
		p[0] = DB_P_INT(cut);
		rc = db_exec(c, sql_prune_old, p, 1, &gone);
		if (rc < 0)
			goto out;
	}
	if (nconsumers > 0 && lowest >= 0 && lowest <= min_read) {
		p[0] = DB_P_INT(min_read);
		rc = db_exec(c, ev->pub ? sql_prune_read_relayed
					: sql_prune_read, p, 1, &more);
	} else if (nconsumers == 0 && ev->pub && lowest >= 0) {
		rc = db_exec(c, sql_prune_relayed, NULL, 0, &more);
	}
out:
	if (rc < 0)
		log_warn("events: cannot prune the outbox: %s",
			 chat_strerror(rc));
	else if (gone + more > 0)
		log_debug("events: pruned %lld rows",
			  (long long)(gone + more));
	db_rows_free(st);
}

/* One relay pass: positions, wakeups, Kafka (unless !publish: the last
 * pass at a stop, which must not wait on a broker), pruning.  The caller
 * holds ev->running. */
static void events_relay(struct events *ev, bool publish)
{
	struct events_waiter *ready, *next;
	struct db_conn *c = NULL;
	int64_t head = 0;
	int rc, i;

	rc = db_acquire(ev->d->db, EVENTS_DB_WAIT_MS, &c);
	if (rc < 0) {
		log_warn("events: no store connection for the relay: %s",
			 chat_strerror(rc));
		return;
	}
	/* a backlog (rows a crash left, a burst) goes in one pass */
	for (i = 0; i < EVENTS_STAMP_PASSES; i++) {
		rc = events_stamp(ev, c, &head);
		if (rc < EVENTS_STAMP_BATCH)
			break;
	}
	if (rc < 0) {
		log_warn("events: cannot stamp the outbox: %s",
			 chat_strerror(rc));
	} else {
		pthread_mutex_lock(&ev->lock);
		if (head > ev->head)
			ev->head = head;
		pthread_mutex_unlock(&ev->lock);
		for (ready = events_take(ev, false); ready; ready = next) {
			next = ready->next;
			events_answer(ev, c, ready);
		}
	}
	if (publish)
		events_publish(ev, c);
	events_prune(ev, c);
	db_release(c);
}

static void events_relay_job(void *arg)
{
	struct events *ev = arg;

	events_relay(ev, true);
	atomic_store(&ev->running, false);
}

/* Loop thread, every EVENTS_RELAY_MS: expired long-polls get their empty
 * answer; a relay job when one is due. */
static void events_tick(void *arg)
{
	struct events *ev = arg;
	struct events_waiter *expired = NULL, **pp, *w;
	int64_t now = mono_ms(), head;
	bool stopping;

	pthread_mutex_lock(&ev->lock);
	stopping = ev->stopping;
	head = ev->head;
	pp = &ev->waiters;
	while (*pp) {
		w = *pp;
		if (w->deadline <= now) {
			*pp = w->next;
			w->next = expired;
			expired = w;
			ev->nwaiters--;
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&ev->lock);
	while (expired) {
		w = expired;
		expired = w->next;
		events_send_empty(w->res, w->after, head);
		free(w);
	}
	if (stopping)
		return;
	if ((atomic_load(&ev->hot_until) > now ||
	     now - ev->last_queued >= EVENTS_IDLE_MS) &&
	    !atomic_exchange(&ev->running, true)) {
		ev->last_queued = now;
		if (pool_submit(ev->d->pool, events_relay_job, ev) < 0)
			atomic_store(&ev->running, false);
	}
	if (http_server_after(ev->d->server, EVENTS_RELAY_MS, events_tick,
			      ev) < 0)
		log_error("events: cannot re-arm the relay timer");
}

/* ---- routes ------------------------------------------------------------ */

/* A query parameter as an integer within [lo, hi]; def when absent. */
static int events_param(const struct http_req *req, const char *name,
			int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
	char text[32], *end = NULL;
	long long v;
	int rc;

	*out = def;
	rc = http_req_query(req, name, text, sizeof(text));
	if (rc == CHAT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return CHAT_EINVAL;
	if (text[0] < '0' || text[0] > '9')
		return CHAT_EINVAL;
	v = strtoll(text, &end, 10);
	if (*end || v < lo || v > hi)
		return CHAT_EINVAL;
	*out = v;
	return 0;
}

static bool events_consumer_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > EVENTS_CONSUMER_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      strchr("._-", s[i])))
			return false;
	return true;
}

/* Records that consumer has handled everything up to pos; rewritten only
 * when pos moves or seen_ms is old, so an idle poll writes nothing. */
static int events_consumer_record(struct db_conn *c, const char *name,
				  int64_t pos)
{
	struct db_param p[4];
	int64_t now = now_ms(), changed = 0;
	int rc;

	p[0] = db_p_text(name);
	p[1] = DB_P_INT(pos);
	p[2] = DB_P_INT(now);
	p[3] = DB_P_INT(now - EVENTS_SEEN_REFRESH_MS);
	rc = db_exec(c, sql_consumer_touch, p, 4, &changed);
	if (rc == 0 && changed == 0)
		rc = db_exec(c, sql_consumer_add, p, 3, NULL);
	return rc;
}

/* GET /internal/events?after=&limit=&wait_ms=&consumer= (internal) */
static void events_pull(struct http_req *req, struct http_res *res)
{
	struct daemon *d = req->app;
	struct events *ev = d->events;
	struct events_waiter *w = NULL;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	char consumer[EVENTS_CONSUMER_MAX + 2] = "";
	int64_t after, limit, wait_ms, head;
	bool parked = false;
	struct buf b;
	int rc;

	buf_init(&b, EVENTS_ANSWER_MAX + 4096);
	if (events_param(req, "after", 0, INT64_MAX, 0, &after) < 0 ||
	    events_param(req, "limit", 1, EVENTS_PULL_LIMIT_MAX,
			 EVENTS_PULL_LIMIT, &limit) < 0 ||
	    events_param(req, "wait_ms", 0, EVENTS_WAIT_MAX_MS, 0,
			 &wait_ms) < 0) {
		http_res_error(res, 400, "invalid_field",
			       "after, limit (1-%d) and wait_ms (0-%d) are "
			       "whole numbers", EVENTS_PULL_LIMIT_MAX,
			       EVENTS_WAIT_MAX_MS);
		return;
	}
	rc = http_req_query(req, "consumer", consumer, sizeof(consumer));
	if ((rc < 0 && rc != CHAT_ENOTFOUND) ||
	    (rc == 0 && !events_consumer_valid(consumer))) {
		http_res_error(res, 400, "invalid_field",
			       "consumer is 1-%d letters, digits, '.', '_' "
			       "or '-'", EVENTS_CONSUMER_MAX);
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	if (consumer[0]) {
		rc = events_consumer_record(c, consumer, after);
		if (rc < 0)
			goto out;
	}
	rc = events_read(c, after, (int)limit, &rows);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&ev->lock);
	head = ev->head;
	/* park only when nothing came and nothing came since (the relay
	 * raises head before it looks at the waiters, under this lock) */
	if (db_rows_count(rows) == 0 && wait_ms > 0 && head <= after &&
	    !ev->stopping && ev->nwaiters < EVENTS_WAITERS_MAX) {
		w = calloc(1, sizeof(*w));
		if (w) {
			*w = (struct events_waiter){
				.res = res, .after = after, .limit = (int)limit,
				.deadline = mono_ms() + wait_ms,
				.next = ev->waiters,
			};
			ev->waiters = w;
			ev->nwaiters++;
			parked = true;
		}
	}
	pthread_mutex_unlock(&ev->lock);
	if (parked)
		goto out;
	if (db_rows_count(rows) == 0 && head > after) {
		/* positions came between the read and the lock */
		db_rows_free(rows);
		rows = NULL;
		rc = events_read(c, after, (int)limit, &rows);
		if (rc < 0)
			goto out;
	}
	rc = events_answer_body(rows, after, head, &b);
	if (rc == 0)
		events_send(res, &b);
out:
	if (rc < 0)
		http_res_chat_error(res, rc, "cannot read the outbox");
	buf_release(&b);
	db_rows_free(rows);
	db_release(c);
}

/* GET /internal/events/stats (internal) */
static void events_stats(struct http_req *req, struct http_res *res)
{
	struct daemon *d = req->app;
	struct events *ev = d->events;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	cJSON *o = NULL, *list;
	int64_t head = 0, depth = 0, unrelayed = 0, total = 0;
	size_t i;
	int rc;

	if (daemon_db(req, &c) < 0)
		return;
	rc = events_query_int(c, sql_head, &head);
	if (rc == 0)
		rc = events_query_int(c, "SELECT COUNT(*) FROM outbox"
				      " WHERE pos IS NULL", &depth);
	if (rc == 0 && ev->pub)
		rc = events_query_int(c, "SELECT COUNT(*) FROM outbox"
				      " WHERE relayed_ms IS NULL", &unrelayed);
	if (rc == 0)
		rc = events_query_int(c, "SELECT COUNT(*) FROM outbox",
				      &total);
	if (rc == 0)
		rc = db_query(c, "SELECT name, pos, seen_ms FROM"
			      " outbox_consumers ORDER BY name", NULL, 0,
			      &rows);
	if (rc < 0)
		goto out;
	o = cJSON_CreateObject();
	list = o ? cJSON_AddArrayToObject(o, "consumers") : NULL;
	if (!list) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	cJSON_AddNumberToObject(o, "head", (double)head);
	cJSON_AddNumberToObject(o, "depth", (double)depth);
	cJSON_AddNumberToObject(o, "unrelayed", (double)unrelayed);
	cJSON_AddNumberToObject(o, "rows", (double)total);
	cJSON_AddStringToObject(o, "transport", ev->pub ? "kafka"
							: "embedded");
	for (i = 0; i < db_rows_count(rows); i++) {
		cJSON *it = cJSON_CreateObject();
		int64_t pos = db_rows_int(rows, i, 1, 0);

		if (!it || !cJSON_AddItemToArray(list, it)) {
			cJSON_Delete(it);
			rc = CHAT_ENOMEM;
			goto out;
		}
		cJSON_AddStringToObject(it, "name", db_rows_get(rows, i, 0));
		cJSON_AddNumberToObject(it, "pos", (double)pos);
		cJSON_AddNumberToObject(it, "lag",
					(double)(head > pos ? head - pos : 0));
		cJSON_AddNumberToObject(it, "seen_ms",
					(double)db_rows_int(rows, i, 2, 0));
	}
	http_res_json(res, 200, o);
	o = NULL;
out:
	if (rc < 0)
		http_res_chat_error(res, rc, "cannot read the outbox");
	cJSON_Delete(o);
	db_rows_free(rows);
	db_release(c);
}

static const struct http_route events_routes[] = {
	{ "GET", "/internal/events", HTTP_PERM_INTERNAL, events_pull, 0 },
	{ "GET", "/internal/events/stats", HTTP_PERM_INTERNAL, events_stats,
	  0 },
};

/* ---- system events ----------------------------------------------------- */

/* One system event in its own small transaction. */
static int events_system(struct events *ev, const char *type)
{
	struct db_conn *c = NULL;
	cJSON *data = cJSON_CreateObject();
	int rc;

	if (!data)
		return CHAT_ENOMEM;
	if (!cJSON_AddStringToObject(data, "version", CHAT_VERSION) ||
	    !cJSON_AddNumberToObject(data, "pid", (double)getpid()) ||
	    !cJSON_AddStringToObject(data, "store",
				     db_backend(ev->d->db))) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = db_acquire(ev->d->db, EVENTS_DB_WAIT_MS, &c);
	if (rc < 0)
		goto out;
	rc = db_begin(c);
	if (rc == 0)
		rc = events_emit(c, ev->d, type, NULL, ev->d->spec->name,
				 data);
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
out:
	if (rc < 0)
		log_warn("events: cannot record %s: %s", type,
			 chat_strerror(rc));
	db_release(c);
	cJSON_Delete(data);
	return rc;
}

/* ---- public ------------------------------------------------------------ */

const struct http_route *events_kit_routes(size_t *n)
{
	*n = sizeof(events_routes) / sizeof(events_routes[0]);
	return events_routes;
}

int events_kit_new(struct daemon *d, struct events **out, char *err,
		   size_t errlen)
{
	struct events *ev = NULL;
	const char *brokers;
	const void *ops = NULL;
	long retention = 0;
	int rc;

	*out = NULL;
	rc = config_key_int(d->cfg, "events.retention_s", &retention, err,
			    errlen);
	if (rc < 0)
		return rc;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return CHAT_ENOMEM;
	ev->d = d;
	ev->retention_ms = (int64_t)retention * 1000;
	pthread_mutex_init(&ev->lock, NULL);
	atomic_init(&ev->running, false);
	atomic_init(&ev->hot_until, 0);
	brokers = config_key_str(d->cfg, "kafka.brokers");
	if (brokers && *brokers) {
		rc = module_load("kafka", EVENTS_PUBLISHER_VERSION, &ops, err,
				 errlen);
		if (rc < 0)
			goto out;
		ev->pub = ops;
		rc = ev->pub->open(brokers, d->spec->name, &ev->pub_h, err,
				   errlen);
		if (rc < 0) {
			ev->pub = NULL;
			goto out;
		}
		log_info("events: relaying to kafka at %s", brokers);
	}
out:
	if (rc < 0) {
		events_kit_free(ev);
		return rc;
	}
	*out = ev;
	return 0;
}

int events_kit_start(struct events *ev)
{
	struct db_conn *c = NULL;
	int64_t head = 0;
	int rc;

	rc = db_acquire(ev->d->db, EVENTS_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = events_query_int(c, sql_head, &head);
	db_release(c);
	if (rc < 0)
		return rc;
	ev->head = head;
	events_system(ev, "chat.system.started");
	ev->last_queued = mono_ms() - EVENTS_IDLE_MS;
	return http_server_after(ev->d->server, EVENTS_RELAY_MS, events_tick,
				 ev);
}

void events_kit_wake(struct events *ev)
{
	atomic_store(&ev->hot_until, mono_ms() + EVENTS_HOT_MS);
}

void events_kit_stop(struct events *ev)
{
	struct events_waiter *w, *next;
	int64_t head;
	int i;

	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->stopping = true;
	pthread_mutex_unlock(&ev->lock);
	events_system(ev, "chat.system.stopping");
	/* a last pass, so that the stop is stamped now (Kafka gets it
	 * after the next start); a relay job still running has the store
	 * for at most a few s */
	for (i = 0; i < 500 && atomic_exchange(&ev->running, true); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (i < 500) {
		events_relay(ev, false);
		atomic_store(&ev->running, false);
	}
	pthread_mutex_lock(&ev->lock);
	head = ev->head;
	pthread_mutex_unlock(&ev->lock);
	for (w = events_take(ev, true); w; w = next) {
		next = w->next;
		events_send_empty(w->res, w->after, head);
		free(w);
	}
}

void events_kit_free(struct events *ev)
{
	struct events_waiter *w, *next;

	if (!ev)
		return;
	for (w = events_take(ev, true); w; w = next) {
		next = w->next;
		events_send_empty(w->res, w->after, ev->head);
		free(w);
	}
	if (ev->pub)
		ev->pub->close(ev->pub_h);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}
