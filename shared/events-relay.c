/*
 * events-relay.c - the daemon kit's half of the event backbone
 * (events.h, events-relay.h): the relay that gives committed outbox rows
 * their positions, hands them to Kafka when kafka.brokers is set and
 * prunes them; the pull API consumers read the outbox through, with
 * long-polls that hold no worker; the stats route; the system events.
 *
 * Threads.  A timer on the loop thread ticks every EVENTS_RELAY_MS: it
 * answers long-polls whose deadline passed (no store access: an empty
 * answer) and queues one relay job on the worker pool every
 * EVENTS_HOT_EVERY_MS while this process emitted lately
 * (events_kit_wake; every tick where emits give positions, see Order),
 * else when EVENTS_IDLE_MS passed since the last
 * (rows of other processes on the same store, rows a kill -9 left, Kafka
 * retries).  At most one relay job runs at a time (ev->running).
 *
 * Writes.  A relay pass reads first and then writes what it found in one
 * transaction, none when it found nothing (events_write); a pull of a
 * known consumer writes nothing, its cursor goes with the relay's next
 * transaction (events_consumer_note).  Every write transaction of this
 * file is one that the daemon's request transactions may have to wait
 * for (SQLite has one writer), so there are as few as can be.
 * The pull handler runs on a worker; with nothing to read and wait_ms it
 * parks its request in ev->waiters and returns; the relay, after giving
 * out new positions, answers the parked requests that can now read
 * something.  ev->lock guards the waiters, head, stopping and the
 * cursors, so that a request is answered (its final call) exactly once.
 *
 * Order.  The relay stamps pos under a store lock (SQLite: BEGIN
 * IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock per schema),
 * so that pos is given in an order no later commit can undercut: see
 * events.h for why consumers read by pos and not by seq.  On SQLite
 * events_emit gives pos itself (one writer: insert order is commit
 * order), so the relay stamps only rows written without one (another
 * process's, an older version's); a hot pass there only reads the head
 * and answers the parked polls, every tick instead of every
 * EVENTS_HOT_EVERY_MS, and a consumer sees a row within a tick.
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
#define EVENTS_HOT_MS 1000		/* after an emit, relay more often: */
#define EVENTS_HOT_EVERY_MS 200		/* every this many ms (a pass that
					 * writes is a commit, an fsync, that
					 * the requests' writes wait for:
					 * fewer under load, docs/PERFORMANCE) */
#define EVENTS_PRUNE_MS 1000		/* look for rows to prune */
#define EVENTS_CURSOR_MS 1000		/* write moved cursors at most this
					 * often, unless a transaction is
					 * open anyway: pruning and stats
					 * read them from memory, the store
					 * keeps them for a restart */
#define EVENTS_STAMP_MAX 20000		/* positions per transaction */
#define EVENTS_STAMP_PASSES 20		/* transactions per relay pass */
#define EVENTS_DB_WAIT_MS 2000
#define EVENTS_ANSWER_MAX (8u << 20)	/* bytes of one pull answer */
#define EVENTS_WAITERS_MAX 256		/* parked long-polls */
#define EVENTS_CONSUMER_MAX 64		/* a consumer's name */
#define EVENTS_CURSORS_MAX 32		/* consumers kept in memory */
#define EVENTS_BACKOFF_MS 250		/* first Kafka retry wait */
#define EVENTS_BACKOFF_MAX_MS 30000

/* A parked long-poll. */
struct events_waiter {
	struct http_res *res;		/* answered exactly once */
	int64_t after;
	int limit;
	int64_t deadline;		/* mono_ms */
	struct events_waiter *next;
};

/* A registered consumer's cursor as its pulls last said it, and as
 * outbox_consumers holds it: the relay writes the difference in its own
 * transaction, so that a pull never writes (but the first of a name). */
struct events_cursor {
	char name[EVENTS_CONSUMER_MAX + 1];
	int64_t pos;			/* the last pull's after */
	int64_t seen_ms;		/* its time */
	int64_t stored_pos;		/* what the store holds */
	int64_t stored_ms;
};

struct events {
	struct daemon *d;		/* borrowed */
	int64_t retention_ms;
	bool hold;			/* events.relay_hold: no relay */
	char store[EVENTS_STORE_ID_MAX + 1];	/* the outbox's identity */
	const struct events_publisher *pub;	/* NULL: embedded */
	void *pub_h;			/* pub's handle */
	pthread_mutex_t lock;		/* the six below */
	struct events_waiter *waiters;	/* owned list */
	size_t nwaiters;
	int64_t head;			/* highest pos known */
	bool stopping;			/* no more parking */
	struct events_cursor cursors[EVENTS_CURSORS_MAX];
	size_t ncursors;
	atomic_bool running;		/* a relay job is queued or running */
	atomic_llong hot_until;		/* mono_ms; events_kit_wake */
	int64_t last_queued;		/* loop thread: mono_ms */
	/* the relay's own (one at a time) */
	int64_t last_prune;		/* mono_ms */
	int64_t last_cursors;		/* mono_ms: cursors written */
	bool stamped;			/* rows get pos at insert (SQLite,
					 * events.c): a hot pass reads */
	int64_t backoff_ms;		/* Kafka: current wait, 0 none */
	int64_t retry_at;		/* Kafka: mono_ms of the next try */
};

/* What one relay pass writes, found before its transaction begins, so
 * that the transaction holds the store's write lock for the writes only
 * and a pass with nothing new opens none. */
struct events_plan {
	bool stamp;			/* rows without a position */
	struct events_cursor dirty[EVENTS_CURSORS_MAX];	/* moved cursors */
	size_t ndirty;
	int64_t prune_before;		/* time_ms cut, 0: none */
	const char *prune_sql;		/* pruning by the cursors, or NULL */
	int64_t prune_pos;		/* its $1 */
};

static void events_tick(void *arg);

/* the highest pos ever given, kept apart from the rows: pruning the
 * newest row must not hand its pos out again; store is the outbox's
 * identity, made with it (see events.h) */
static const char sql_head[] = "SELECT pos FROM outbox_head WHERE id = 1";
static const char sql_head_store[] =
	"SELECT pos, store FROM outbox_head WHERE id = 1";
static const char sql_head_set[] =
	"UPDATE outbox_head SET pos = $1 WHERE id = 1";
static const char sql_unstamped[] =
	"SELECT seq FROM outbox WHERE pos IS NULL ORDER BY seq LIMIT 1";
/* every row without a position gets the next one, in seq order, in one
 * statement: the write lock is held for one pass over the index */
static const char sql_stamp[] =
	"UPDATE outbox SET pos = s.p FROM (SELECT seq,"
	" $1 + row_number() OVER (ORDER BY seq) AS p FROM outbox"
	" WHERE pos IS NULL ORDER BY seq LIMIT $2) AS s"
	" WHERE outbox.seq = s.seq";
static const char sql_read[] =
	"SELECT pos, event FROM outbox WHERE pos > $1 ORDER BY pos LIMIT $2";
static const char sql_unrelayed[] =
	"SELECT pos, id, type, user_id, event FROM outbox"
	" WHERE relayed_ms IS NULL AND pos IS NOT NULL ORDER BY pos LIMIT $1";
static const char sql_relayed[] =
	"UPDATE outbox SET relayed_ms = $1 WHERE pos = $2";
static const char sql_consumer_put[] =
	"INSERT INTO outbox_consumers (name, pos, seen_ms) VALUES ($1, $2, $3)"
	" ON CONFLICT (name) DO UPDATE SET pos = excluded.pos,"
	" seen_ms = excluded.seen_ms";
static const char sql_consumers[] =
	"SELECT name, pos FROM outbox_consumers";
/* lowest pos, oldest time, lowest pos Kafka acknowledged */
static const char sql_prune_state[] =
	"SELECT (SELECT MIN(pos) FROM outbox),"
	" (SELECT MIN(time_ms) FROM outbox), NULL";
static const char sql_prune_state_kafka[] =
	"SELECT (SELECT MIN(pos) FROM outbox),"
	" (SELECT MIN(time_ms) FROM outbox),"
	" (SELECT MIN(pos) FROM outbox WHERE relayed_ms IS NOT NULL)";
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

/* {"events":[{"pos":P,"event":{...}},...],"last":L,"head":H,"store":S}
 * from rows of (pos, event); the events are stored JSON and go in as
 * they are; store is the outbox's identity (hex, nothing to escape). */
static int events_answer_body(struct db_rows *rows, int64_t after,
			      int64_t head, const char *store, struct buf *b)
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
		rc = buf_printf(b, "],\"last\":%lld,\"head\":%lld,"
				"\"store\":\"%s\"}", (long long)last,
				(long long)(head > last ? head : last), store);
	return rc;
}

static void events_send(struct http_res *res, struct buf *b)
{
	size_t len = 0;
	char *body = buf_detach(b, &len);

	http_res_header(res, "Cache-Control", "no-store");
	http_res_send(res, 200, "application/json", body, len);
}

static void events_send_empty(struct events *ev, struct http_res *res,
			      int64_t after, int64_t head)
{
	struct buf b;

	buf_init(&b, 256);
	if (events_answer_body(NULL, after, head, ev->store, &b) < 0) {
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
		rc = events_answer_body(rows, w->after, head, ev->store, &b);
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

/* ---- cursors ---------------------------------------------------------- */

/* The slot of consumer name, or NULL; the caller holds ev->lock. */
static struct events_cursor *events_cursor_find(struct events *ev,
						const char *name)
{
	size_t i;

	for (i = 0; i < ev->ncursors; i++)
		if (strcmp(ev->cursors[i].name, name) == 0)
			return &ev->cursors[i];
	return NULL;
}

/* Copies the cursors the store does not hold yet into plan: their pos
 * moved since the last write (once per EVENTS_CURSOR_MS), or (refresh: a
 * transaction is open anyway) also only their seen_ms.  An idle
 * consumer's polls write nothing, a busy one's a transaction a second;
 * the stats route and pruning read the cursors from memory. */
static void events_cursors_dirty(struct events *ev, struct events_plan *plan,
				 bool refresh)
{
	bool moved = refresh ||
		     mono_ms() - ev->last_cursors >= EVENTS_CURSOR_MS;
	size_t i;

	plan->ndirty = 0;
	pthread_mutex_lock(&ev->lock);
	for (i = 0; i < ev->ncursors; i++) {
		struct events_cursor *cu = &ev->cursors[i];

		if ((moved && cu->pos != cu->stored_pos) ||
		    (refresh && cu->seen_ms != cu->stored_ms))
			plan->dirty[plan->ndirty++] = *cu;
	}
	pthread_mutex_unlock(&ev->lock);
}

/* After the commit: what plan wrote is what the store holds. */
static void events_cursors_stored(struct events *ev,
				  const struct events_plan *plan)
{
	struct events_cursor *cu;
	size_t i;

	pthread_mutex_lock(&ev->lock);
	for (i = 0; i < plan->ndirty; i++) {
		cu = events_cursor_find(ev, plan->dirty[i].name);
		if (cu) {
			cu->stored_pos = plan->dirty[i].pos;
			cu->stored_ms = plan->dirty[i].seen_ms;
		}
	}
	pthread_mutex_unlock(&ev->lock);
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

/* Pruning's part of plan, from reads only: rows older than the
 * retention, and rows every registered consumer has read (as its last
 * pull said, written or not yet; Kafka: and the broker acknowledged).
 * Looks once per EVENTS_PRUNE_MS. */
static int events_plan_prune(struct events *ev, struct db_conn *c,
			     struct events_plan *plan)
{
	struct db_rows *st = NULL, *cons = NULL;
	int64_t now = mono_ms(), cut = now_ms() - ev->retention_ms;
	int64_t lowest, oldest, lowest_acked, min_read = INT64_MAX;
	size_t i, n;
	int rc;

	if (now - ev->last_prune < EVENTS_PRUNE_MS)
		return 0;
	ev->last_prune = now;
	rc = db_query(c, ev->pub ? sql_prune_state_kafka : sql_prune_state,
		      NULL, 0, &st);
	if (rc < 0)
		goto out;
	lowest = db_rows_int(st, 0, 0, -1);
	oldest = db_rows_int(st, 0, 1, -1);
	lowest_acked = db_rows_int(st, 0, 2, -1);
	if (oldest >= 0 && oldest < cut)
		plan->prune_before = cut;
	if (lowest < 0)
		goto out;	/* no row has a position: none was read */
	rc = db_query(c, sql_consumers, NULL, 0, &cons);
	if (rc < 0)
		goto out;
	n = db_rows_count(cons);
	pthread_mutex_lock(&ev->lock);
	for (i = 0; i < n; i++) {
		const char *name = db_rows_get(cons, i, 0);
		struct events_cursor *cu = name ? events_cursor_find(ev, name)
						: NULL;
		int64_t pos = cu ? cu->pos : db_rows_int(cons, i, 1, 0);

		if (pos < min_read)
			min_read = pos;
	}
	pthread_mutex_unlock(&ev->lock);
	if (n > 0 && !ev->pub && lowest <= min_read) {
		plan->prune_sql = sql_prune_read;
		plan->prune_pos = min_read;
	} else if (n > 0 && ev->pub && lowest_acked >= 0 &&
		   lowest_acked <= min_read) {
		plan->prune_sql = sql_prune_read_relayed;
		plan->prune_pos = min_read;
	} else if (n == 0 && ev->pub && lowest_acked >= 0) {
		plan->prune_sql = sql_prune_relayed;
	}
out:
	db_rows_free(cons);
	db_rows_free(st);
	return rc;
}

/* One relay pass's writes in ONE transaction, and none when there is
 * nothing to write: positions for every committed row without one (in
 * one statement, under the store lock), the consumers' cursors that
 * moved, pruning.  Everything it can learn by reading is read before
 * BEGIN (IMMEDIATE on SQLite, which takes the write lock), so chatd's
 * and aid's request writes wait for it as briefly as can be.  *head gets
 * the highest pos.  Returns the number of rows stamped or an error. */
static int events_write(struct events *ev, struct db_conn *c, int64_t *head)
{
	struct events_plan *plan = NULL;
	struct db_rows *rows = NULL, *lock = NULL;
	struct db_param p[3];
	int64_t top = 0, n = 0, pruned = 0, k;
	size_t i;
	int rc;

	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return CHAT_ENOMEM;
	rc = db_query(c, sql_unstamped, NULL, 0, &rows);
	if (rc < 0)
		goto out;
	plan->stamp = db_rows_count(rows) > 0;
	rc = events_plan_prune(ev, c, plan);
	if (rc < 0)
		goto out;
	events_cursors_dirty(ev, plan, plan->stamp || plan->prune_sql ||
					       plan->prune_before);
	if (!plan->stamp && !plan->prune_sql && !plan->prune_before &&
	    plan->ndirty == 0) {
		rc = events_query_int(c, sql_head, head);
		goto out;
	}
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	if (plan->stamp && strcmp(db_backend(ev->d->db), "postgres") == 0) {
		rc = db_query(c, sql_pg_lock, NULL, 0, &lock);
		if (rc < 0)
			goto out;
	}
	rc = events_query_int(c, sql_head, &top);
	if (rc < 0)
		goto out;
	if (plan->stamp) {
		p[0] = DB_P_INT(top);
		p[1] = DB_P_INT(EVENTS_STAMP_MAX);
		rc = db_exec(c, sql_stamp, p, 2, &n);
		if (rc < 0)
			goto out;
		p[0] = DB_P_INT(top + n);
		if (n > 0)
			rc = db_exec(c, sql_head_set, p, 1, NULL);
		if (rc < 0)
			goto out;
	}
	for (i = 0; i < plan->ndirty && rc == 0; i++) {
		p[0] = db_p_text(plan->dirty[i].name);
		p[1] = DB_P_INT(plan->dirty[i].pos);
		p[2] = DB_P_INT(plan->dirty[i].seen_ms);
		rc = db_exec(c, sql_consumer_put, p, 3, NULL);
	}
	if (rc == 0 && plan->prune_before) {
		p[0] = DB_P_INT(plan->prune_before);
		rc = db_exec(c, sql_prune_old, p, 1, &k);
		pruned += rc == 0 ? k : 0;
	}
	if (rc == 0 && plan->prune_sql) {
		p[0] = DB_P_INT(plan->prune_pos);
		rc = db_exec(c, plan->prune_sql, p,
			     plan->prune_sql == sql_prune_relayed ? 0 : 1, &k);
		pruned += rc == 0 ? k : 0;
	}
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		goto out;
	*head = top + n;
	if (plan->ndirty > 0)
		ev->last_cursors = mono_ms();
	events_cursors_stored(ev, plan);
	if (pruned > 0)
		log_debug("events: pruned %lld rows", (long long)pruned);
out:
	if (rc < 0)
		db_rollback(c);
	db_rows_free(lock);
	db_rows_free(rows);
	free(plan);
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

/* One relay pass: its writes (events_write), wakeups, Kafka (unless
 * !publish: the last pass at a stop, which must not wait on a broker).
 * The caller holds ev->running.  With events.relay_hold (tests) it does
 * nothing: rows keep no position (PostgreSQL; on SQLite they have one
 * from the insert) and parked polls wait, as when a crash comes first. */
static void events_relay(struct events *ev, bool publish)
{
	struct events_waiter *ready, *next;
	struct db_conn *c = NULL;
	int64_t head = 0;
	int rc, i;

	if (ev->hold)
		return;
	rc = db_acquire(ev->d->db, EVENTS_DB_WAIT_MS, &c);
	if (rc < 0) {
		log_warn("events: no store connection for the relay: %s",
			 chat_strerror(rc));
		return;
	}
	/* a backlog past EVENTS_STAMP_MAX (rows a crash left, a burst)
	 * goes in a few more transactions */
	for (i = 0; i < EVENTS_STAMP_PASSES; i++) {
		rc = events_write(ev, c, &head);
		if (rc < EVENTS_STAMP_MAX)
			break;
	}
	if (rc < 0) {
		log_warn("events: cannot write the outbox's positions: %s",
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
	int64_t now = mono_ms(), head, hot_every;
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
		events_send_empty(ev, w->res, w->after, head);
		free(w);
	}
	if (stopping)
		return;
	/* rows with a position at insert and no Kafka: a hot pass only
	 * reads (head, then the parked polls), so it runs every tick */
	hot_every = ev->stamped && !ev->pub ? EVENTS_RELAY_MS :
		    EVENTS_HOT_EVERY_MS;
	if (((atomic_load(&ev->hot_until) > now &&
	      now - ev->last_queued >= hot_every) ||
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

/* Notes that consumer has handled everything up to pos.  A name this
 * process already knows is noted in memory only, and the relay writes
 * it in its next pass (within EVENTS_IDLE_MS, in the transaction it
 * opens anyway), so a pull never takes the store's write lock from
 * chatd's requests; a long-poll that did not move writes nothing at all.
 * A new name is written at once: from this answer on, pruning waits for
 * it.  Past EVENTS_CURSORS_MAX names every pull writes. */
static int events_consumer_note(struct events *ev, struct db_conn *c,
				const char *name, int64_t pos)
{
	struct events_cursor *cu;
	struct db_param p[3];
	int64_t now = now_ms();
	int rc;

	pthread_mutex_lock(&ev->lock);
	cu = events_cursor_find(ev, name);
	if (cu) {
		cu->pos = pos;
		cu->seen_ms = now;
	}
	pthread_mutex_unlock(&ev->lock);
	if (cu)
		return 0;
	p[0] = db_p_text(name);
	p[1] = DB_P_INT(pos);
	p[2] = DB_P_INT(now);
	rc = db_exec(c, sql_consumer_put, p, 3, NULL);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ev->lock);
	if (!events_cursor_find(ev, name) &&
	    ev->ncursors < EVENTS_CURSORS_MAX) {
		/* the route refused names past EVENTS_CONSUMER_MAX; strnlen
		 * keeps the copy bounded where gcc cannot see that */
		size_t n = strnlen(name, EVENTS_CONSUMER_MAX);

		cu = &ev->cursors[ev->ncursors++];
		memcpy(cu->name, name, n);
		cu->name[n] = '\0';
		cu->pos = cu->stored_pos = pos;
		cu->seen_ms = cu->stored_ms = now;
	}
	pthread_mutex_unlock(&ev->lock);
	return 0;
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
	char store[EVENTS_STORE_ID_MAX + 2] = "";
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
	/* store=: the store the consumer's after counts in.  Another one
	 * (this store replaced the one it read) makes after no position
	 * here: it is not recorded, or pruning would take rows up to it
	 * before the consumer, told of the new store, asks from 0. */
	rc = http_req_query(req, "store", store, sizeof(store));
	if ((rc < 0 && rc != CHAT_ENOTFOUND) ||
	    (rc == 0 && strspn(store, "0123456789abcdef") != strlen(store))) {
		http_res_error(res, 400, "invalid_field",
			       "store is at most %d hex digits",
			       EVENTS_STORE_ID_MAX);
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	if (consumer[0] && (!store[0] || strcmp(store, ev->store) == 0)) {
		rc = events_consumer_note(ev, c, consumer, after);
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
	rc = events_answer_body(rows, after, head, ev->store, &b);
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
	cJSON_AddStringToObject(o, "store", ev->store);
	for (i = 0; i < db_rows_count(rows); i++) {
		cJSON *it = cJSON_CreateObject();
		const char *name = db_rows_get(rows, i, 0);
		int64_t pos = db_rows_int(rows, i, 1, 0);
		int64_t seen = db_rows_int(rows, i, 2, 0);
		struct events_cursor *cu;

		if (!it || !cJSON_AddItemToArray(list, it)) {
			cJSON_Delete(it);
			rc = CHAT_ENOMEM;
			goto out;
		}
		/* the last pull's, which the relay may not have written */
		pthread_mutex_lock(&ev->lock);
		cu = name ? events_cursor_find(ev, name) : NULL;
		if (cu) {
			pos = cu->pos;
			seen = cu->seen_ms;
		}
		pthread_mutex_unlock(&ev->lock);
		cJSON_AddStringToObject(it, "name", name ? name : "");
		cJSON_AddNumberToObject(it, "pos", (double)pos);
		cJSON_AddNumberToObject(it, "lag",
					(double)(head > pos ? head - pos : 0));
		cJSON_AddNumberToObject(it, "seen_ms", (double)seen);
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
	ev->stamped = d->db && strcmp(db_backend(d->db), "sqlite") == 0;
	rc = config_key_bool(d->cfg, "events.relay_hold", &ev->hold, err,
			     errlen);
	if (rc < 0)
		goto out;
	if (ev->hold)
		log_warn("events: events.relay_hold is set: the outbox is not "
			 "relayed (a test setting)");
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
	struct db_rows *rows = NULL;
	const char *store;
	int64_t head = 0;
	int rc;

	rc = db_acquire(ev->d->db, EVENTS_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_query(c, sql_head_store, NULL, 0, &rows);
	if (rc == 0) {
		head = db_rows_int(rows, 0, 0, 0);
		store = db_rows_get(rows, 0, 1);
		/* made by the outbox's migration; a store without one
		 * would make every consumer's check meaningless */
		if (!store || !*store || strlen(store) > EVENTS_STORE_ID_MAX)
			rc = CHAT_EINVAL;
		else
			snprintf(ev->store, sizeof(ev->store), "%s", store);
	}
	db_rows_free(rows);
	db_release(c);
	if (rc < 0) {
		log_error("events: cannot read the outbox's head and store: %s",
			  chat_strerror(rc));
		return rc;
	}
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
		events_send_empty(ev, w->res, w->after, head);
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
		events_send_empty(ev, w->res, w->after, ev->head);
		free(w);
	}
	if (ev->pub)
		ev->pub->close(ev->pub_h);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}
