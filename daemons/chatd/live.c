/*
 * live.c - the live side's frame: live_init/live_release, the registry
 * of running generations (at most one per conversation), and the writer
 * thread that stores what the generations produce.
 *
 * Why a writer thread of its own rather than the worker pool: the
 * daemon frees its pool before live_release runs, while calls to aid
 * still deliver; a thread live owns can outlive the pool and finish
 * every generation's last write at shutdown.  It also batches: every
 * GEN_WRITE_MS it writes the new text of all streaming answers in one
 * transaction, and one thread keeps each answer's writes in order.
 *
 * Lock order: live->lock, then the hub's lock (gen_finish publishes the
 * end of a generation and leaves the registry in one step, so a new
 * generation of that conversation can never be told of an older one's
 * end), then the server's (hub sends are queued under live->lock).  No
 * call to aid starts under live->lock.
 *
 * Calls to aid go through the daemon's outbound door (http-out.h): on
 * the server's loop thread whenever aid's URL allows (a stack's
 * default), deferred there from the workers and the writer that start
 * them; libcurl only for URLs the loop client cannot serve.
 * live_release closes the door, which ends the calls still running and
 * those the stopped loop never started.
 */
#include "live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

struct live_title {
	struct live_title *next;
	char user_id[65];
	char conv_id[UUID_STR_LEN];
	char *title;			/* cleaned answer, or NULL */
	char *fallback;			/* first words, or NULL */
};

/* ---- registry ----------------------------------------------------------- */

static struct chat_gen *live_find_locked(struct live *l, const char *conv_id)
{
	struct chat_gen *g;

	for (g = l->gens; g; g = g->next_reg)
		if (strcmp(g->conv_id, conv_id) == 0)
			return g;
	return NULL;
}

int live_gen_reserve(struct chatd *cd, const char *conv_id,
		     struct chat_gen **out)
{
	struct live *l = cd->live;
	struct chat_gen *g = NULL;
	int rc;

	*out = NULL;
	rc = gen_new(l, conv_id, &g);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&l->lock);
	if (l->stopping)
		rc = CHAT_EBUSY;
	else if (live_find_locked(l, conv_id))
		rc = CHAT_ECONFLICT;
	if (rc == 0) {
		g->next_reg = l->gens;
		l->gens = g;
	}
	pthread_mutex_unlock(&l->lock);
	if (rc < 0) {
		gen_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void live_unregister_locked(struct live *l, struct chat_gen *g)
{
	struct chat_gen **pp;

	for (pp = &l->gens; *pp; pp = &(*pp)->next_reg)
		if (*pp == g) {
			*pp = g->next_reg;
			g->next_reg = NULL;
			return;
		}
}

static void live_answer_stopped(struct http_res *res, bool stopped)
{
	cJSON *o = cJSON_CreateObject();

	if (o)
		cJSON_AddBoolToObject(o, "stopped", stopped);
	if (o)
		http_res_json(res, 200, o);
	else
		http_res_error(res, 500, "internal", "out of memory");
}

void live_gen_cancel(struct chatd *cd, struct chat_gen *g)
{
	struct live *l = cd->live;
	struct gen_stop_waiter *w, *next;

	pthread_mutex_lock(&l->lock);
	live_unregister_locked(l, g);
	w = g->stop_waiters;
	g->stop_waiters = NULL;
	pthread_mutex_unlock(&l->lock);
	for (; w; w = next) {
		next = w->next;
		live_answer_stopped(w->res, false);
		free(w);
	}
	gen_free(g);
}

bool live_stop(struct chatd *cd, const char *conv_id)
{
	struct live *l = cd->live;
	struct chat_gen *g;
	char id[UUID_STR_LEN];

	if (!l || !uuid_norm(conv_id, id))
		return false;
	pthread_mutex_lock(&l->lock);
	g = live_find_locked(l, id);
	if (g)
		gen_request_stop(g, GEN_STOP_CLIENT);
	pthread_mutex_unlock(&l->lock);
	return g != NULL;
}

void live_stop_answer(struct chatd *cd, const char *conv_id,
		      struct http_res *res)
{
	struct live *l = cd->live;
	struct gen_stop_waiter *w = calloc(1, sizeof(*w));
	struct chat_gen *g;
	char id[UUID_STR_LEN];

	if (!w) {
		live_stop(cd, conv_id);
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	w->res = res;
	g = NULL;
	if (uuid_norm(conv_id, id)) {
		pthread_mutex_lock(&l->lock);
		g = live_find_locked(l, id);
		if (g) {
			gen_request_stop(g, GEN_STOP_CLIENT);
			w->next = g->stop_waiters;
			g->stop_waiters = w;
		}
		pthread_mutex_unlock(&l->lock);
	}
	if (!g) {
		free(w);
		live_answer_stopped(res, false);
	}
}

/* ---- events ----------------------------------------------------------- */

void live_conversation_event(struct chatd *cd, const char *user_id,
			     const char *conv_id,
			     const struct chat_conv *conv)
{
	cJSON *o;
	char *text = NULL;

	if (!cd->live)
		return;
	if (conv) {
		o = chat_conv_json(conv);
	} else {
		o = cJSON_CreateObject();
		if (o && !cJSON_AddStringToObject(o, "id", conv_id)) {
			cJSON_Delete(o);
			o = NULL;
		}
	}
	if (o)
		text = json_print(o);
	cJSON_Delete(o);
	if (!text ||
	    hub_publish(cd->live->hub, user_id, conv ? conv->id : conv_id,
			conv ? EV_CONVERSATION : EV_CONV_DELETED, text,
			NULL) < 0)
		log_error("cannot publish a change of conversation '%s'",
			  conv_id);
	free(text);
}

struct hub *live_hub(struct chatd *cd)
{
	return cd->live->hub;
}

/* ---- calls to aid ----------------------------------------------------- */

int live_call_start(struct live *l, const struct http_request *req,
		    const struct http_client_cb *cb, void *arg)
{
	bool stopping;

	pthread_mutex_lock(&l->lock);
	stopping = l->stopping;
	pthread_mutex_unlock(&l->lock);
	if (stopping)
		return CHAT_ECANCELED;
	/* not under l->lock: on the loop thread on_done may run at once */
	return http_out_start(l->cd->d.out, req, cb, arg);
}

/* ---- the writer's queues -------------------------------------------- */

void live_mark_insert(struct live *l, struct chat_gen *g)
{
	pthread_mutex_lock(&l->lock);
	g->next_insert = l->inserts;
	l->inserts = g;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
}

void live_mark_dirty(struct live *l, struct chat_gen *g)
{
	bool wake = false;

	pthread_mutex_lock(&l->lock);
	if (!g->in_dirty) {
		wake = !l->dirty;	/* the writer may sleep for good */
		g->in_dirty = true;
		g->next_dirty = l->dirty;
		l->dirty = g;
	}
	pthread_mutex_unlock(&l->lock);
	if (wake)
		pthread_cond_signal(&l->wake);
}

void live_mark_final(struct live *l, struct chat_gen *g)
{
	struct chat_gen **pp;

	pthread_mutex_lock(&l->lock);
	if (g->in_dirty) {
		/* the final write stores the text: no separate write */
		for (pp = &l->dirty; *pp; pp = &(*pp)->next_dirty)
			if (*pp == g) {
				*pp = g->next_dirty;
				break;
			}
		g->in_dirty = false;
	}
	g->next_final = l->finals;
	l->finals = g;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
}

void live_title_done(struct live *l, const char *user_id,
		     const char *conv_id, const char *title,
		     const char *fallback)
{
	struct live_title *t = calloc(1, sizeof(*t));

	if (!t) {
		log_error("no memory for the title of '%s'", conv_id);
		return;
	}
	snprintf(t->user_id, sizeof(t->user_id), "%s", user_id);
	snprintf(t->conv_id, sizeof(t->conv_id), "%s", conv_id);
	t->title = title && *title ? strdup(title) : NULL;
	t->fallback = fallback && *fallback ? strdup(fallback) : NULL;
	pthread_mutex_lock(&l->lock);
	if (l->stopping) {
		pthread_mutex_unlock(&l->lock);
		free(t->title);
		free(t->fallback);
		free(t);
		return;
	}
	t->next = l->titles;
	l->titles = t;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
}

/* ---- the writer ------------------------------------------------------ */

/* Stores a title unless the conversation has one by now. */
static void live_store_title(struct live *l, struct db_conn *c,
			     const struct live_title *t)
{
	const char *title = t->title ? t->title : t->fallback;
	struct chat_conv conv;
	int rc;

	if (!title)
		return;
	rc = store_conv_get(c, t->user_id, t->conv_id, &conv);
	if (rc < 0)
		return;			/* deleted meanwhile */
	if (conv.title) {
		chat_conv_release(&conv);
		return;			/* named meanwhile */
	}
	chat_conv_release(&conv);
	rc = store_conv_set_title(c, t->conv_id, title, now_ms());
	if (rc == 0)
		rc = store_conv_get(c, t->user_id, t->conv_id, &conv);
	if (rc < 0) {
		if (rc != CHAT_ENOTFOUND)
			log_error("cannot store the title of '%s': %s",
				  t->conv_id, chat_strerror(rc));
		return;
	}
	live_conversation_event(l->cd, t->user_id, t->conv_id, &conv);
	chat_conv_release(&conv);
}

/* Stores the new rows of generations, all in one transaction; when
 * that fails, one by one, so that only the bad ones fail. */
static void live_store_inserts(struct db_conn *c, struct chat_gen *ins)
{
	struct chat_gen *g;
	int rc;

	if (!ins)
		return;
	if (!c) {
		for (g = ins; g; g = g->next_insert)
			gen_store_failed(g, CHAT_EBUSY);
		return;
	}
	rc = db_begin(c);
	for (g = ins; rc == 0 && g; g = g->next_insert)
		rc = gen_store_rows(g, c);
	if (rc == 0)
		rc = db_commit(c);
	if (rc == 0) {
		for (g = ins; g; g = g->next_insert)
			g->stored = true;
		return;
	}
	db_rollback(c);
	for (g = ins; g; g = g->next_insert) {
		rc = db_begin(c);
		if (rc == 0)
			rc = gen_store_rows(g, c);
		if (rc == 0)
			rc = db_commit(c);
		if (rc == 0) {
			g->stored = true;
		} else {
			db_rollback(c);
			gen_store_failed(g, rc);
		}
	}
}

/* One round: new rows, the batched text writes, the ends, titles. */
static void live_writer_round(struct live *l, struct chat_gen *inserts,
			      struct chat_gen **dirty, size_t ndirty,
			      struct chat_gen *finals,
			      struct live_title *titles)
{
	struct db_conn *c = NULL;
	struct live_title *t, *tnext;
	struct chat_gen *g, *next;
	size_t i;
	int rc;

	rc = db_acquire(l->cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc < 0) {
		log_error("no store connection for the answers: %s",
			  chat_strerror(rc));
		c = NULL;
	}
	live_store_inserts(c, inserts);
	if (c && ndirty > 0) {
		rc = db_begin(c);
		for (i = 0; rc == 0 && i < ndirty; i++) {
			rc = gen_write_text(dirty[i], c);
			if (rc == CHAT_ENOTFOUND)
				rc = 0;		/* deleted meanwhile */
		}
		if (rc == 0)
			rc = db_commit(c);
		if (rc < 0) {
			log_error("cannot store the answers so far: %s",
				  chat_strerror(rc));
			db_rollback(c);
		}
	}
	for (g = finals; g; g = next) {
		next = g->next_final;
		gen_finish(g, c);
		gen_free(g);
	}
	for (t = titles; t; t = tnext) {
		tnext = t->next;
		if (c)
			live_store_title(l, c, t);
		free(t->title);
		free(t->fallback);
		free(t);
	}
	if (c)
		db_release(c);
}

/* Reverses a list of finals (they are pushed, newest first). */
static struct chat_gen *live_fifo_gens(struct chat_gen *g)
{
	struct chat_gen *out = NULL, *next;

	for (; g; g = next) {
		next = g->next_final;
		g->next_final = out;
		out = g;
	}
	return out;
}

static struct chat_gen *live_fifo_inserts(struct chat_gen *g)
{
	struct chat_gen *out = NULL, *next;

	for (; g; g = next) {
		next = g->next_insert;
		g->next_insert = out;
		out = g;
	}
	return out;
}

static struct live_title *live_fifo_titles(struct live_title *t)
{
	struct live_title *out = NULL, *next;

	for (; t; t = next) {
		next = t->next;
		t->next = out;
		out = t;
	}
	return out;
}

static void live_timedwait(struct live *l, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&l->wake, &l->lock, &ts);
}

static void *live_writer_main(void *arg)
{
	struct live *l = arg;
	struct chat_gen **dirty = NULL, **grown, *g, *finals, *inserts;
	struct live_title *titles;
	size_t ndirty, cap = 0;
	int64_t now, wait_ms;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		now = mono_ms();
		wait_ms = l->last_round_ms + GEN_WRITE_MS - now;
		if (!l->inserts && !l->finals && !l->titles &&
		    (!l->dirty || wait_ms > 0)) {
			if (l->calls_ended)
				break;	/* nothing more can come */
			if (l->dirty)
				live_timedwait(l, wait_ms);
			else
				pthread_cond_wait(&l->wake, &l->lock);
			continue;
		}
		inserts = live_fifo_inserts(l->inserts);
		l->inserts = NULL;
		finals = live_fifo_gens(l->finals);
		l->finals = NULL;
		titles = live_fifo_titles(l->titles);
		l->titles = NULL;
		ndirty = 0;
		if (l->dirty && wait_ms <= 0) {
			l->last_round_ms = now;
			while (l->dirty) {
				if (ndirty == cap) {
					size_t ncap = cap ? cap * 2 : 64;

					grown = realloc(dirty, ncap *
							sizeof(*dirty));
					if (!grown)
						break;	/* rest: later */
					dirty = grown;
					cap = ncap;
				}
				g = l->dirty;
				l->dirty = g->next_dirty;
				g->next_dirty = NULL;
				g->in_dirty = false;
				dirty[ndirty++] = g;
			}
		}
		pthread_mutex_unlock(&l->lock);
		live_writer_round(l, inserts, dirty, ndirty, finals, titles);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	free(dirty);
	return NULL;
}

/* ---- lifetime -------------------------------------------------------- */

int live_init(struct chatd *cd, char *err, size_t errlen)
{
	struct live *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;
	int rc = 0;

	if (!l) {
		chat_errf(err, errlen, "no memory for the live state");
		return CHAT_ENOMEM;
	}
	l->cd = cd;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = hub_new(&l->hub);
	if (rc < 0) {
		chat_errf(err, errlen, "cannot set up the live state: %s",
			  chat_strerror(rc));
		goto fail;
	}
	if (pthread_create(&l->writer, NULL, live_writer_main, l) != 0) {
		rc = CHAT_EIO;
		chat_errf(err, errlen, "cannot start the answer writer");
		goto fail;
	}
	l->writer_started = true;
	cd->live = l;
	return 0;
fail:
	if (l->hub)
		hub_free(l->hub);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return rc;
}

void live_release(struct chatd *cd)
{
	struct live *l = cd->live;
	struct chat_gen *g;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	for (g = l->gens; g; g = g->next_reg)
		gen_request_stop(g, GEN_STOP_EXIT);
	pthread_mutex_unlock(&l->lock);
	/* every call ends here, also the starts the stopped loop never
	 * ran: their on_done queue the final writes.  daemon_main runs this
	 * after the loop stopped, on its thread, before the server is freed,
	 * as http_out_close requires */
	http_out_close(cd->d.out);
	pthread_mutex_lock(&l->lock);
	l->calls_ended = true;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
	if (l->writer_started)
		pthread_join(l->writer, NULL);
	if (l->gens)
		log_error("a generation outlived chatd's stop");
	hub_free(l->hub);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
	cd->live = NULL;
}

void live_cron(struct chatd *cd)
{
	if (cd->live)
		hub_cron(cd->live->hub);
}
