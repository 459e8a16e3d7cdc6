/*
 * events-consumer.c - the consumer side of the event backbone (see
 * events-consumer.h): the inbox logic both transports share, and the
 * embedded transport, one thread per producer long-polling its outbox
 * through GET /internal/events.
 *
 * Why threads of our own and not the worker pool: a long-poll holds its
 * thread for up to wait_ms, and four of them would take the whole pool
 * from the request handlers.  Why not the loop's outbound client: the
 * batch's transaction blocks on the store, which the loop never may.
 */
#include "events-consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "err.h"
#include "events-kafka.h"
#include "http-out.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define EC_WAIT_MS 2000		/* default long-poll wait */
#define EC_BACKOFF_MS 250	/* first wait after a failure */
#define EC_BACKOFF_MAX_MS 8000	/* ceiling, doubling in between */
#define EC_MAX_PRODUCERS 8
/* a whole batch at the largest limit, with room for the envelope */
#define EC_MAX_ANSWER ((size_t)EVENTS_PULL_LIMIT_MAX * EVENTS_MAX_BYTES / 4)

struct events_consumer {
	struct daemon *d;			/* borrowed */
	struct events_consumer_config cfg;	/* strings borrowed */
	const struct events_consumer_ops *ops;
	void *transport;			/* the transport's own */
	atomic_uint_fast64_t skipped;		/* bad events since start */
	atomic_uint_fast64_t store_changes;	/* producers' stores replaced */
	/* start, stop and stats: the stats of a transport being stopped
	 * (a rebuild) would read what its stop frees */
	pthread_mutex_t lock;
	bool started;				/* under lock */
};

/* The embedded transport: one of these per producer. */
struct ec_pull {
	struct events_consumer *ec;
	char producer[32];
	char url[512];				/* the producer's base URL */
	pthread_t thread;
	bool running;				/* thread made */
	char store[EVENTS_STORE_ID_MAX + 1];	/* the cursor's store: the
						 * producer's outbox identity,
						 * "" before the first */
	atomic_int_fast64_t pos;		/* durably handled */
	atomic_int_fast64_t head;		/* producer's newest seen */
	atomic_int connected;
};

struct ec_embedded {
	pthread_mutex_t lock;
	pthread_cond_t cond;			/* stop wakes sleepers */
	bool stopping;				/* under lock */
	/* readable once stopping: a long-poll in flight ends at once
	 * rather than when its producer answers (two daemons consuming
	 * each other would otherwise wait on each other's long-polls
	 * while both stop) */
	int stop_pipe[2];
	size_t n;
	struct ec_pull pulls[EC_MAX_PRODUCERS];
};

/* ------------------------------------------------------------------ */
/* The inbox, shared by the transports                                 */
/* ------------------------------------------------------------------ */

bool events_consumer_sleep(pthread_mutex_t *lock, pthread_cond_t *cond,
			   const bool *stopping, int64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(lock);
	while (!*stopping)
		if (pthread_cond_timedwait(cond, lock, &ts) != 0)
			break;
	stop = *stopping;
	pthread_mutex_unlock(lock);
	return stop;
}

int events_consumer_apply(struct events_consumer *ec, struct db_conn *c,
			  const struct cJSON *event)
{
	return events_consumer_apply_text(ec, c, event, NULL);
}

int events_consumer_apply_text(struct events_consumer *ec,
			       struct db_conn *c, const struct cJSON *event,
			       const char *raw)
{
	const char *source = json_str(event, "source");
	const char *id = json_str(event, "id");
	const char *type = json_str(event, "type");
	struct db_param p[4];
	int64_t changes = 0;
	char *text = NULL;
	int rc;

	if (!cJSON_IsObject(event) || !source || !id || !type || !*id ||
	    !*source) {
		atomic_fetch_add(&ec->skipped, 1);
		log_warn("skipped an event without source, id or type");
		return 0;
	}
	if (ec->cfg.keep_events && !raw) {
		text = json_print(event);
		if (!text)
			return CHAT_ENOMEM;
	}
	p[0] = db_p_text(source);
	p[1] = db_p_text(id);
	p[2] = db_p_text(json_str(event, "userid"));
	p[3] = db_p_text(ec->cfg.keep_events ? (raw ? raw : text) : NULL);
	/* ON CONFLICT, not a unique violation: on PostgreSQL that would
	 * abort the whole batch's transaction */
	rc = db_exec(c, "INSERT INTO inbox (source, id, user_id, event)"
		     " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", p, 4,
		     &changes);
	cJSON_free(text);
	if (rc < 0)
		return rc;
	if (changes == 0)
		return 0;	/* seen before: at-least-once delivery */
	rc = ec->cfg.handle(ec->cfg.app, c, event);
	if (rc == CHAT_EINVAL || rc == CHAT_EPARSE) {
		atomic_fetch_add(&ec->skipped, 1);
		log_warn("skipped event '%s' of type '%s': it fails its schema",
			 id, type);
		return 0;
	}
	return rc < 0 ? rc : 1;
}

/* ------------------------------------------------------------------ */
/* The embedded transport                                              */
/* ------------------------------------------------------------------ */

/* Sleeps up to ms unless stopping; returns true when stopping. */
static bool ec_sleep(struct ec_embedded *em, int64_t ms)
{
	return events_consumer_sleep(&em->lock, &em->cond, &em->stopping, ms);
}

static bool ec_stopping(struct ec_embedded *em)
{
	bool stop;

	pthread_mutex_lock(&em->lock);
	stop = em->stopping;
	pthread_mutex_unlock(&em->lock);
	return stop;
}

/* The cursor stored for the producer (0 and no store when none) into
 * *pos and pl->store. */
static int ec_cursor_load(struct ec_pull *pl, int64_t *pos)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p = db_p_text(pl->producer);
	const char *store;
	int rc;

	*pos = 0;
	pl->store[0] = '\0';
	rc = db_acquire(pl->ec->d->db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_query(c, "SELECT pos, store FROM event_cursors"
		      " WHERE producer = $1", &p, 1, &r);
	if (rc == 0 && db_rows_count(r) > 0) {
		*pos = db_rows_int(r, 0, 0, 0);
		store = db_rows_get(r, 0, 1);
		snprintf(pl->store, sizeof(pl->store), "%s",
			 store ? store : "");
	}
	db_rows_free(r);
	db_release(c);
	return rc;
}

/* Stores the cursor (pos, store) in a transaction of its own. */
static int ec_cursor_save(struct ec_pull *pl, int64_t pos, const char *store)
{
	struct db_conn *c = NULL;
	struct db_param p[3];
	int rc;

	rc = db_acquire(pl->ec->d->db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	p[0] = db_p_text(pl->producer);
	p[1] = DB_P_INT(pos);
	p[2] = db_p_text(store);
	rc = db_exec(c, "INSERT INTO event_cursors (producer, pos, store)"
		     " VALUES ($1, $2, $3) ON CONFLICT (producer)"
		     " DO UPDATE SET pos = excluded.pos,"
		     " store = excluded.store", p, 3, NULL);
	db_release(c);
	return rc;
}

/* The store an answer names against the cursor's.  The first one seen
 * is kept (a cursor from before store identities, or a new one); another
 * one means the producer's store was replaced and positions count from 1
 * again, so the cursor, past the new head, would wait there forever:
 * logged, counted, and the cursor goes back to 0 of the new store (the
 * inbox drops the events it already has).  Returns 1 when *pos went
 * back (the answer is stale: ask again), 0, or the store's error. */
static int ec_check_store(struct ec_pull *pl, const cJSON *answer,
			  int64_t *pos)
{
	const char *store = json_str(answer, "store");
	int64_t to;
	int rc;

	if (!store || !*store || strlen(store) > EVENTS_STORE_ID_MAX ||
	    strcmp(store, pl->store) == 0)
		return 0;	/* the same, or a producer without one */
	to = pl->store[0] ? 0 : *pos;
	rc = ec_cursor_save(pl, to, store);
	if (rc < 0)
		return rc;
	if (pl->store[0]) {
		atomic_fetch_add(&pl->ec->store_changes, 1);
		log_warn("%s: its event store was replaced (store %s, was %s;"
			 " cursor %lld): reading its events again from the "
			 "start", pl->producer, store, pl->store,
			 (long long)*pos);
	}
	snprintf(pl->store, sizeof(pl->store), "%s", store);
	if (to == *pos)
		return 0;
	*pos = to;
	atomic_store(&pl->pos, to);
	return 1;
}

/* One GET /internal/events; *answer is the caller's. */
static int ec_fetch(struct ec_pull *pl, int64_t after, cJSON **answer)
{
	struct events_consumer *ec = pl->ec;
	char url[768], h_internal[128];
	const char *headers[2];
	struct http_request hr = { 0 };
	struct buf b;
	int status = 0, rc;

	*answer = NULL;
	buf_init(&b, EC_MAX_ANSWER);
	/* store=: a producer whose store is another one then does not
	 * take after for a position of its own (events.h) */
	if ((size_t)snprintf(url, sizeof(url), "%s/internal/events?after=%lld"
			     "&limit=%d&wait_ms=%d&consumer=%s%s%s", pl->url,
			     (long long)after, ec->cfg.limit, ec->cfg.wait_ms,
			     ec->cfg.name, pl->store[0] ? "&store=" : "",
			     pl->store) >= sizeof(url)) {
		rc = CHAT_EINVAL;
		goto out;
	}
	snprintf(h_internal, sizeof(h_internal), "%s: %s", HTTP_H_INTERNAL,
		 ec->d->internal_secret);
	headers[0] = h_internal;
	headers[1] = NULL;
	hr.method = "GET";
	hr.url = url;
	hr.headers = headers;
	hr.cancel_fd = &((struct ec_embedded *)ec->transport)->stop_pipe[0];
	hr.connect_timeout_ms = 1000;
	hr.timeout_ms = ec->cfg.wait_ms + 10000;
	hr.max_response = EC_MAX_ANSWER;
	rc = http_out_fetch(ec->d->out, &hr, &status, &b);
	if (rc < 0)
		goto out;
	if (status != 200) {
		log_warn("%s: GET /internal/events answered %d", pl->producer,
			 status);
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	*answer = cJSON_ParseWithLength(b.data, b.len);
	if (!cJSON_IsObject(*answer) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*answer,
							     "events"))) {
		log_warn("%s: GET /internal/events: not an event batch",
			 pl->producer);
		rc = CHAT_EUPSTREAM;
	}
out:
	if (rc < 0) {
		cJSON_Delete(*answer);
		*answer = NULL;
	}
	buf_release(&b);
	return rc;
}

/* Applies a batch in one transaction with the cursor at last; then hands
 * the applied events to on_applied.  Positions must grow. */
static int ec_apply_batch(struct ec_pull *pl, const cJSON *events,
			  int64_t last)
{
	struct events_consumer *ec = pl->ec;
	struct db_conn *c = NULL;
	struct db_param p[3];
	const cJSON *item;
	size_t n = 0, i = 0;
	bool *applied = NULL, begun = false;
	int rc;

	n = (size_t)cJSON_GetArraySize(events);
	if (n > 0) {
		applied = calloc(n, sizeof(*applied));
		if (!applied)
			return CHAT_ENOMEM;
	}
	rc = db_acquire(ec->d->db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		goto out;
	rc = db_begin(c);
	if (rc == 0 && ec->cfg.batch_begin && ec->cfg.batch_end) {
		rc = ec->cfg.batch_begin(ec->cfg.app, c);
		begun = rc == 0;
	}
	if (rc < 0)
		goto out;
	cJSON_ArrayForEach(item, events) {
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(item,
								   "event");

		if (!cJSON_IsObject(ev)) {
			atomic_fetch_add(&ec->skipped, 1);
			log_warn("%s: skipped a batch entry without an event",
				 pl->producer);
			i++;
			continue;
		}
		rc = events_consumer_apply(ec, c, ev);
		if (rc < 0)
			goto out;
		applied[i++] = rc == 1;
	}
	if (begun) {
		begun = false;
		rc = ec->cfg.batch_end(ec->cfg.app, c, 1);
		if (rc < 0)
			goto out;
	}
	p[0] = db_p_text(pl->producer);
	p[1] = DB_P_INT(last);
	p[2] = db_p_text(pl->store[0] ? pl->store : NULL);
	rc = db_exec(c, "INSERT INTO event_cursors (producer, pos, store)"
		     " VALUES ($1, $2, $3) ON CONFLICT (producer)"
		     " DO UPDATE SET pos = excluded.pos,"
		     " store = excluded.store", p, 3, NULL);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc < 0)
		goto out;
	db_release(c);
	c = NULL;
	atomic_store(&pl->pos, last);
	if (ec->cfg.on_applied) {
		i = 0;
		cJSON_ArrayForEach(item, events) {
			if (applied[i++])
				ec->cfg.on_applied(ec->cfg.app,
					cJSON_GetObjectItemCaseSensitive(
						item, "event"));
		}
	}
out:
	if (begun)
		ec->cfg.batch_end(ec->cfg.app, c, 0);
	if (c)
		db_release(c);	/* rolls back what is open */
	free(applied);
	return rc;
}

/* "last" and "head" of an answer; the highest pos of the events when
 * "last" is missing. */
static int ec_positions(const cJSON *answer, int64_t after, int64_t *last,
			int64_t *head)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(answer, "last");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(answer, "head");
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(answer,
							       "events");
	const cJSON *item;
	int64_t top = after;

	cJSON_ArrayForEach(item, events) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(item, "pos");

		if (!cJSON_IsNumber(p) || p->valuedouble <= (double)top)
			return CHAT_EUPSTREAM;	/* must grow: a bad answer */
		top = (int64_t)p->valuedouble;
	}
	*last = cJSON_IsNumber(l) ? (int64_t)l->valuedouble : top;
	if (*last < top)
		*last = top;
	*head = cJSON_IsNumber(h) ? (int64_t)h->valuedouble : *last;
	return 0;
}

static void *ec_pull_main(void *arg)
{
	struct ec_pull *pl = arg;
	struct events_consumer *ec = pl->ec;
	struct ec_embedded *em = ec->transport;
	int64_t backoff = EC_BACKOFF_MS, pos = 0, last, head;
	bool have_pos = false;
	cJSON *answer = NULL;
	int rc;

	events_consumer_nice(ec);
	while (!ec_stopping(em)) {
		if (!have_pos) {
			rc = ec_cursor_load(pl, &pos);
			if (rc < 0)
				goto fail;
			atomic_store(&pl->pos, pos);
			have_pos = true;
		}
		rc = ec_fetch(pl, pos, &answer);
		if (rc < 0)
			goto fail;
		atomic_store(&pl->connected, 1);
		rc = ec_check_store(pl, answer, &pos);
		if (rc < 0) {
			log_warn("%s: cannot record its store: %s",
				 pl->producer, chat_strerror(rc));
			goto fail;
		}
		if (rc == 1) {
			cJSON_Delete(answer);
			answer = NULL;
			continue;
		}
		rc = ec_positions(answer, pos, &last, &head);
		if (rc < 0) {
			log_warn("%s: an event batch out of order",
				 pl->producer);
			goto fail;
		}
		atomic_store(&pl->head, head);
		if (last == pos && head > pos &&
		    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
			    answer, "events")) == 0) {
			/* nothing after pos although the head is past it: the
			 * rows are gone (retention, an erasure); asking again
			 * would spin on the gap, so go on after it */
			log_warn("%s: its events %lld to %lld are gone from its "
				 "outbox (pruned or erased): going on after "
				 "them", pl->producer, (long long)pos + 1,
				 (long long)head);
			last = head;
		}
		if (last > pos) {
			rc = ec_apply_batch(pl, cJSON_GetObjectItemCaseSensitive(
					     answer, "events"), last);
			if (rc < 0) {
				log_warn("%s: cannot apply events after %lld:"
					 " %s", pl->producer, (long long)pos,
					 chat_strerror(rc));
				goto fail;
			}
			pos = last;
		}
		cJSON_Delete(answer);
		answer = NULL;
		backoff = EC_BACKOFF_MS;
		continue;
fail:
		cJSON_Delete(answer);
		answer = NULL;
		if (rc != CHAT_ECANCELED)
			atomic_store(&pl->connected, 0);
		/* the cursor is reread: a failed batch left it unchanged */
		have_pos = false;
		if (ec_sleep(em, backoff))
			break;
		backoff = backoff * 2 > EC_BACKOFF_MAX_MS ? EC_BACKOFF_MAX_MS :
			  backoff * 2;
	}
	return NULL;
}

static void ec_embedded_stop(struct events_consumer *ec)
{
	struct ec_embedded *em = ec->transport;
	size_t i;

	if (!em)
		return;
	pthread_mutex_lock(&em->lock);
	em->stopping = true;
	pthread_cond_broadcast(&em->cond);
	pthread_mutex_unlock(&em->lock);
	if (em->stop_pipe[1] >= 0 && write(em->stop_pipe[1], "x", 1) < 0)
		log_warn("events: cannot wake the long-polls: %s",
			 strerror(errno));
	for (i = 0; i < em->n; i++)
		if (em->pulls[i].running) {
			pthread_join(em->pulls[i].thread, NULL);
			em->pulls[i].running = false;
		}
	for (i = 0; i < 2; i++)
		if (em->stop_pipe[i] >= 0)
			close(em->stop_pipe[i]);
	pthread_cond_destroy(&em->cond);
	pthread_mutex_destroy(&em->lock);
	free(em);
	ec->transport = NULL;
}

static int ec_embedded_start(struct events_consumer *ec)
{
	struct ec_embedded *em;
	size_t i;
	int rc = 0;

	em = calloc(1, sizeof(*em));
	if (!em)
		return CHAT_ENOMEM;
	pthread_mutex_init(&em->lock, NULL);
	pthread_cond_init(&em->cond, NULL);
	ec->transport = em;
	if (pipe2(em->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		em->stop_pipe[0] = em->stop_pipe[1] = -1;
		rc = CHAT_EIO;
		goto out;
	}
	for (i = 0; ec->cfg.producers[i] && i < EC_MAX_PRODUCERS; i++) {
		struct ec_pull *pl = &em->pulls[i];
		size_t len;

		pl->ec = ec;
		snprintf(pl->producer, sizeof(pl->producer), "%s",
			 ec->cfg.producers[i]);
		rc = daemon_peer_url(ec->d, pl->producer, pl->url,
				     sizeof(pl->url));
		if (rc < 0)
			goto out;
		len = strlen(pl->url);
		while (len > 0 && pl->url[len - 1] == '/')
			pl->url[--len] = '\0';
		em->n = i + 1;
	}
	for (i = 0; i < em->n; i++) {
		if (pthread_create(&em->pulls[i].thread, NULL, ec_pull_main,
				   &em->pulls[i]) != 0) {
			rc = CHAT_ENOMEM;
			goto out;
		}
		em->pulls[i].running = true;
	}
out:
	if (rc < 0)
		ec_embedded_stop(ec);
	return rc;
}

static size_t ec_embedded_stats(struct events_consumer *ec,
				struct events_consumer_stat *out, size_t n)
{
	struct ec_embedded *em = ec->transport;
	size_t i;

	if (!em)
		return 0;
	for (i = 0; i < em->n && i < n; i++) {
		snprintf(out[i].producer, sizeof(out[i].producer), "%s",
			 em->pulls[i].producer);
		out[i].pos = atomic_load(&em->pulls[i].pos);
		out[i].head = atomic_load(&em->pulls[i].head);
		if (out[i].head < out[i].pos)
			out[i].head = out[i].pos;
		out[i].connected = atomic_load(&em->pulls[i].connected);
	}
	return i;
}

static const struct events_consumer_ops ec_embedded_ops = {
	.name = "embedded",
	.start = ec_embedded_start,
	.stop = ec_embedded_stop,
	.stats = ec_embedded_stats,
};

/* The consumer tables' changes after EVENTS_CONSUMER_MIGRATION_SQL,
 * which the consumer daemons' first migration made: in the kit's range
 * of schema_migrations versions, applied by events_consumer_new, so that
 * every consumer daemon gets them without a migration of its own. */
static const struct db_migration ec_migrations[] = {
	{
		.version = EVENTS_CONSUMER_MIGRATION_BASE + 1,
		.name = "event_cursors store identity",
		.sql_sqlite = "ALTER TABLE event_cursors ADD COLUMN store TEXT",
		.sql_pg = "ALTER TABLE event_cursors ADD COLUMN store TEXT",
	},
};

/* The transports by name; the Kafka module's entry joins them. */
static const struct {
	const char *name;
	const struct events_consumer_ops *ops;
} ec_transports[] = {
	{ "embedded", &ec_embedded_ops },
	{ "kafka", &events_consumer_kafka_ops },	/* events-kafka.h */
};

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

int events_consumer_new(struct daemon *d,
			const struct events_consumer_config *cfg,
			struct events_consumer **out, char *err,
			size_t errlen)
{
	struct events_consumer *ec;
	const char *brokers = config_get(d->cfg, "kafka.brokers", NULL);
	const char *want = brokers && *brokers ? "kafka" : "embedded";
	const struct events_consumer_ops *ops = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (!cfg->handle || !cfg->name || !cfg->producers ||
	    !cfg->producers[0]) {
		chat_errf(err, errlen, "events consumer: no handler, name or "
			  "producer");
		return CHAT_EINVAL;
	}
	for (i = 0; i < sizeof(ec_transports) / sizeof(ec_transports[0]);
	     i++)
		if (strcmp(ec_transports[i].name, want) == 0)
			ops = ec_transports[i].ops;
	if (!ops) {
		chat_errf(err, errlen, "events consumer: no '%s' transport in "
			  "this build", want);
		return CHAT_EINVAL;
	}
	rc = db_migrate(d->db, ec_migrations, sizeof(ec_migrations) /
			sizeof(ec_migrations[0]), err, errlen);
	if (rc < 0)
		return rc;
	ec = calloc(1, sizeof(*ec));
	if (!ec)
		return CHAT_ENOMEM;
	ec->d = d;
	ec->cfg = *cfg;
	if (ec->cfg.wait_ms <= 0)
		ec->cfg.wait_ms = EC_WAIT_MS;
	if (ec->cfg.wait_ms > EVENTS_WAIT_MAX_MS)
		ec->cfg.wait_ms = EVENTS_WAIT_MAX_MS;
	if (ec->cfg.limit <= 0)
		ec->cfg.limit = EVENTS_PULL_LIMIT;
	if (ec->cfg.limit > EVENTS_PULL_LIMIT_MAX)
		ec->cfg.limit = EVENTS_PULL_LIMIT_MAX;
	ec->ops = ops;
	atomic_init(&ec->skipped, 0);
	atomic_init(&ec->store_changes, 0);
	pthread_mutex_init(&ec->lock, NULL);
	*out = ec;
	return 0;
}

int events_consumer_start(struct events_consumer *ec)
{
	int rc = 0;

	pthread_mutex_lock(&ec->lock);
	if (!ec->started) {
		rc = ec->ops->start(ec);
		if (rc == 0)
			ec->started = true;
	}
	pthread_mutex_unlock(&ec->lock);
	return rc;
}

void events_consumer_stop(struct events_consumer *ec)
{
	if (!ec)
		return;
	pthread_mutex_lock(&ec->lock);
	if (ec->started) {
		ec->ops->stop(ec);
		ec->started = false;
	}
	pthread_mutex_unlock(&ec->lock);
}

void events_consumer_free(struct events_consumer *ec)
{
	if (!ec)
		return;
	events_consumer_stop(ec);
	pthread_mutex_destroy(&ec->lock);
	free(ec);
}

size_t events_consumer_stats(struct events_consumer *ec,
			     struct events_consumer_stat *out, size_t n)
{
	size_t got = 0;

	pthread_mutex_lock(&ec->lock);
	if (ec->started)
		got = ec->ops->stats(ec, out, n);
	pthread_mutex_unlock(&ec->lock);
	return got;
}

uint64_t events_consumer_skipped(const struct events_consumer *ec)
{
	return atomic_load(&ec->skipped);
}

uint64_t events_consumer_store_changes(const struct events_consumer *ec)
{
	return atomic_load(&ec->store_changes);
}

struct daemon *events_consumer_daemon(struct events_consumer *ec)
{
	return ec->d;
}

const struct events_consumer_config *
events_consumer_config(struct events_consumer *ec)
{
	return &ec->cfg;
}

void events_consumer_nice(struct events_consumer *ec)
{
	if (ec->cfg.nice == 0)
		return;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), ec->cfg.nice) != 0)
		log_warn("events: cannot lower the consumer's priority: %s",
			 strerror(errno));
}

void **events_consumer_transport(struct events_consumer *ec)
{
	return &ec->transport;
}
