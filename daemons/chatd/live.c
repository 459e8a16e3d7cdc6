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
 * One owner per struct: struct live and struct live_gen are this file's.
 * A generation (struct chat_gen) is gen.c's; live drives it through
 * gen_* calls, and it reports back only through the two callbacks of
 * the struct gen_owner live gives it (live_gen_note, live_gen_call) and
 * through gen_finish's struct gen_end.  The lists a generation is on -
 * the registry, the writer's insert, dirty and final queues - are the
 * writer's, so their links live in struct live_gen, the wrapper live
 * makes for every generation it reserves.
 *
 * Lock order: live->lock, then the hub's lock (live_finish publishes
 * the end of a generation and leaves the registry in one step, so a new
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

struct live {
	struct chatd *cd;
	struct hub *hub;
	pthread_mutex_t lock;		/* the lists below */
	pthread_cond_t wake;		/* the writer has work */
	pthread_t writer;
	bool writer_started;
	bool stopping;			/* live_release began */
	bool calls_ended;		/* live_release ended every aid
					 * call: nothing more can come */
	struct live_gen *gens;		/* registry: one per conversation */
	struct live_gen *finals;	/* ended, final write due */
	struct live_gen *inserts;	/* new rows to store */
	struct live_gen *dirty;		/* text not yet stored */
	struct live_title *titles;	/* titles to store */
	int64_t last_round_ms;		/* mono: the last batched write */
};

/* A client waiting for the end of a stop it asked for. */
struct live_stop_waiter {
	struct live_stop_waiter *next;
	struct http_res *res;
};

/* One generation as live holds it: the links of live's lists (under
 * live->lock), the generation itself (gen.c's), freed together by the
 * writer after the final write. */
struct live_gen {
	struct live *live;
	struct chat_gen *gen;		/* owned */
	char conv_id[UUID_STR_LEN];	/* the registry's key */
	struct live_gen *next_reg;	/* the registry */
	struct live_gen *next_dirty;	/* text to store */
	struct live_gen *next_final;	/* ended, final write due */
	struct live_gen *next_insert;	/* new rows to store */
	bool in_dirty;
	struct live_stop_waiter *stop_waiters;
};

struct live_title {
	struct live_title *next;
	char user_id[65];
	char conv_id[UUID_STR_LEN];
	char *title;			/* cleaned answer, or NULL */
	char *fallback;			/* first words, or NULL */
};

static void live_mark_insert(struct live *l, struct live_gen *lg);
static void live_mark_dirty(struct live *l, struct live_gen *lg);
static void live_mark_final(struct live *l, struct live_gen *lg);

/* ---- registry ----------------------------------------------------------- */

static struct live_gen *live_find_locked(struct live *l, const char *conv_id)
{
	struct live_gen *lg;

	for (lg = l->gens; lg; lg = lg->next_reg)
		if (strcmp(lg->conv_id, conv_id) == 0)
			return lg;
	return NULL;
}

/* gen_owner.note: what a generation reports, onto the writer's queues. */
static void live_gen_note(void *arg, enum gen_note what)
{
	static void (*const queue[])(struct live *, struct live_gen *) = {
		[GEN_NOTE_ROWS] = live_mark_insert,
		[GEN_NOTE_TEXT] = live_mark_dirty,
		[GEN_NOTE_END] = live_mark_final,
	};
	struct live_gen *lg = arg;

	queue[what](lg->live, lg);
}

/* gen_owner.call: a generation's request to aid. */
static int live_gen_call(void *arg, const struct http_request *req,
			 const struct http_client_cb *cb, void *cb_arg)
{
	struct live_gen *lg = arg;

	return live_call_start(lg->live, req, cb, cb_arg);
}

static void live_gen_free(struct live_gen *lg)
{
	if (!lg)
		return;
	gen_free(lg->gen);
	free(lg);
}

int live_gen_reserve(struct chatd *cd, const char *conv_id,
		     struct live_gen **out)
{
	struct live *l = cd->live;
	struct live_gen *lg;
	struct gen_owner owner;
	int rc;

	*out = NULL;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return CHAT_ENOMEM;
	lg->live = l;
	snprintf(lg->conv_id, sizeof(lg->conv_id), "%s", conv_id);
	owner.note = live_gen_note;
	owner.call = live_gen_call;
	owner.arg = lg;
	rc = gen_new(cd, l->hub, conv_id, &owner, &lg->gen);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&l->lock);
	if (l->stopping)
		rc = CHAT_EBUSY;
	else if (live_find_locked(l, conv_id))
		rc = CHAT_ECONFLICT;
	if (rc == 0) {
		lg->next_reg = l->gens;
		l->gens = lg;
	}
	pthread_mutex_unlock(&l->lock);
out:
	if (rc < 0) {
		live_gen_free(lg);
		return rc;
	}
	*out = lg;
	return 0;
}

void live_gen_start(struct live_gen *lg, const struct gen_spec *spec,
		    uint64_t *message_id)
{
	gen_start(lg->gen, spec, message_id);
}

/* Under l->lock: takes lg out of the registry. */
static void live_unregister_locked(struct live *l, struct live_gen *lg)
{
	struct live_gen **pp;

	for (pp = &l->gens; *pp; pp = &(*pp)->next_reg)
		if (*pp == lg) {
			*pp = lg->next_reg;
			lg->next_reg = NULL;
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

/* Answers and frees the stop waiters taken off a generation. */
static void live_answer_waiters(struct live_stop_waiter *w, bool stopped)
{
	struct live_stop_waiter *next;

	for (; w; w = next) {
		next = w->next;
		live_answer_stopped(w->res, stopped);
		free(w);
	}
}

void live_gen_cancel(struct chatd *cd, struct live_gen *lg)
{
	struct live *l = cd->live;
	struct live_stop_waiter *w;

	pthread_mutex_lock(&l->lock);
	live_unregister_locked(l, lg);
	w = lg->stop_waiters;
	lg->stop_waiters = NULL;
	pthread_mutex_unlock(&l->lock);
	live_answer_waiters(w, false);
	live_gen_free(lg);
}

bool live_stop(struct chatd *cd, const char *conv_id)
{
	struct live *l = cd->live;
	struct live_gen *lg;
	char id[UUID_STR_LEN];

	if (!l || !uuid_norm(conv_id, id))
		return false;
	pthread_mutex_lock(&l->lock);
	lg = live_find_locked(l, id);
	if (lg)
		gen_request_stop(lg->gen, GEN_STOP_CLIENT);
	pthread_mutex_unlock(&l->lock);
	return lg != NULL;
}

void live_stop_answer(struct chatd *cd, const char *conv_id,
		      struct http_res *res)
{
	struct live *l = cd->live;
	struct live_stop_waiter *w = calloc(1, sizeof(*w));
	struct live_gen *lg;
	char id[UUID_STR_LEN];

	if (!w) {
		live_stop(cd, conv_id);
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	w->res = res;
	lg = NULL;
	if (uuid_norm(conv_id, id)) {
		pthread_mutex_lock(&l->lock);
		lg = live_find_locked(l, id);
		if (lg) {
			gen_request_stop(lg->gen, GEN_STOP_CLIENT);
			w->next = lg->stop_waiters;
			lg->stop_waiters = w;
		}
		pthread_mutex_unlock(&l->lock);
	}
	if (!lg) {
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

static void live_mark_insert(struct live *l, struct live_gen *lg)
{
	pthread_mutex_lock(&l->lock);
	lg->next_insert = l->inserts;
	l->inserts = lg;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_signal(&l->wake);
}

static void live_mark_dirty(struct live *l, struct live_gen *lg)
{
	bool wake = false;

	pthread_mutex_lock(&l->lock);
	if (!lg->in_dirty) {
		wake = !l->dirty;	/* the writer may sleep for good */
		lg->in_dirty = true;
		lg->next_dirty = l->dirty;
		l->dirty = lg;
	}
	pthread_mutex_unlock(&l->lock);
	if (wake)
		pthread_cond_signal(&l->wake);
}

static void live_mark_final(struct live *l, struct live_gen *lg)
{
	struct live_gen **pp;

	pthread_mutex_lock(&l->lock);
	if (lg->in_dirty) {
		/* the final write stores the text: no separate write */
		for (pp = &l->dirty; *pp; pp = &(*pp)->next_dirty)
			if (*pp == lg) {
				*pp = lg->next_dirty;
				break;
			}
		lg->in_dirty = false;
	}
	lg->next_final = l->finals;
	l->finals = lg;
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
static void live_store_inserts(struct db_conn *c, struct live_gen *ins)
{
	struct live_gen *lg;
	int rc;

	if (!ins)
		return;
	if (!c) {
		for (lg = ins; lg; lg = lg->next_insert)
			gen_store_failed(lg->gen, CHAT_EBUSY);
		return;
	}
	rc = db_begin(c);
	for (lg = ins; rc == 0 && lg; lg = lg->next_insert)
		rc = gen_store_rows(lg->gen, c);
	if (rc == 0)
		rc = db_commit(c);
	if (rc == 0) {
		for (lg = ins; lg; lg = lg->next_insert)
			gen_rows_stored(lg->gen);
		return;
	}
	db_rollback(c);
	for (lg = ins; lg; lg = lg->next_insert) {
		rc = db_begin(c);
		if (rc == 0)
			rc = gen_store_rows(lg->gen, c);
		if (rc == 0)
			rc = db_commit(c);
		if (rc == 0) {
			gen_rows_stored(lg->gen);
		} else {
			db_rollback(c);
			gen_store_failed(lg->gen, rc);
		}
	}
}

/*
 * The end of lg's generation: the final write, then, under live->lock
 * in one step, the end event and the registry removal (so a new
 * generation of that conversation can never be told of an older one's
 * end), then the stop answers, the 201 form's answer and the title.
 * Frees lg.
 */
static void live_finish(struct live *l, struct db_conn *c,
			struct live_gen *lg)
{
	struct live_stop_waiter *w;
	struct gen_end end;

	gen_finish(lg->gen, c, &end);
	pthread_mutex_lock(&l->lock);
	if (!end.data || hub_publish(l->hub, end.user_id, lg->conv_id,
				     end.event, end.data, NULL) < 0)
		log_error("cannot publish the end of '%s'", end.message_id);
	live_unregister_locked(l, lg);
	w = lg->stop_waiters;
	lg->stop_waiters = NULL;
	pthread_mutex_unlock(&l->lock);
	live_answer_waiters(w, end.stopped);
	gen_reply(lg->gen);
	if (end.want_title)
		title_start(l, l->cd, end.user_id, end.role, end.request_id,
			    lg->conv_id, end.question, end.model);
	gen_end_release(&end);
	live_gen_free(lg);
}

/* One round: new rows, the batched text writes, the ends, titles. */
static void live_writer_round(struct live *l, struct live_gen *inserts,
			      struct live_gen **dirty, size_t ndirty,
			      struct live_gen *finals,
			      struct live_title *titles)
{
	struct db_conn *c = NULL;
	struct live_title *t, *tnext;
	struct live_gen *lg, *next;
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
			rc = gen_write_text(dirty[i]->gen, c);
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
	for (lg = finals; lg; lg = next) {
		next = lg->next_final;
		live_finish(l, c, lg);
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
static struct live_gen *live_fifo_finals(struct live_gen *lg)
{
	struct live_gen *out = NULL, *next;

	for (; lg; lg = next) {
		next = lg->next_final;
		lg->next_final = out;
		out = lg;
	}
	return out;
}

static struct live_gen *live_fifo_inserts(struct live_gen *lg)
{
	struct live_gen *out = NULL, *next;

	for (; lg; lg = next) {
		next = lg->next_insert;
		lg->next_insert = out;
		out = lg;
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
	struct live_gen **dirty = NULL, **grown, *lg, *finals, *inserts;
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
		finals = live_fifo_finals(l->finals);
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
				lg = l->dirty;
				l->dirty = lg->next_dirty;
				lg->next_dirty = NULL;
				lg->in_dirty = false;
				dirty[ndirty++] = lg;
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
	struct live_gen *lg;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	for (lg = l->gens; lg; lg = lg->next_reg)
		gen_request_stop(lg->gen, GEN_STOP_EXIT);
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
