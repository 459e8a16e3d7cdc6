/*
 * http-out.c - a daemon's one door for outbound HTTP (see http-out.h):
 * which client takes a call, the hand-off of a start to the loop thread,
 * the loop client made on first use, the blocking form, the shutdown.
 *
 * A start from another thread for the loop client is copied and queued
 * on the server's defer list; o->pending lists those copies so that
 * http_out_close can end the ones the stopped loop will never run.  Their
 * deferred function then finds the copy orphaned (pc->out NULL) and does
 * nothing: http_server_free drops unrun defers without running them, so
 * the orphans are freed by http_out_free, which comes after it.
 */
#include "http-out.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http-fetch.h"
#include "http-loop.h"
#include "log.h"
#include "banned.h"

/* A start on its way to the loop thread: the request copied. */
struct http_out_pending {
	struct http_out_pending *prev, *next;	/* o->pending or o->orphans */
	struct http_out *out;		/* NULL once http_out_close ended it */
	struct http_request req;	/* points into the copies below */
	char *method;
	char *url;
	char *body;
	char **headers;			/* NULL-terminated */
	struct http_client_cb cb;
	void *arg;
};

struct http_out {
	pthread_mutex_t mu;		/* guards the fields below but loop */
	struct http_server *srv;	/* borrowed; NULL before attach */
	pthread_t loop_thread;		/* runs srv's loop (after attach) */
	struct http_client *client;	/* owned; NULL once closed */
	struct http_loop *loop;		/* owned; loop thread only, made
					 * by the first call there */
	struct http_out_pending *pending;	/* deferred, not yet run */
	struct http_out_pending *orphans;	/* ended by close, unrun */
	bool closed;			/* http_out_close has begun */
};

/* What a blocking call over the curl thread waits for. */
struct http_out_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int rc;
	int status;
	struct buf *body;
};

/* ---- deferred starts --------------------------------------------------- */

static void pending_free(struct http_out_pending *pc)
{
	char **h;

	for (h = pc->headers; h && *h; h++)
		free(*h);
	free(pc->headers);
	free(pc->method);
	free(pc->url);
	free(pc->body);
	free(pc);
}

/* A copy of req, cb and arg (NULL without memory). */
static struct http_out_pending *pending_new(const struct http_request *req,
					    const struct http_client_cb *cb,
					    void *arg)
{
	struct http_out_pending *pc = calloc(1, sizeof(*pc));
	size_t i, n = 0;

	if (!pc)
		return NULL;
	while (req->headers && req->headers[n])
		n++;
	pc->req = *req;
	pc->cb = *cb;
	pc->arg = arg;
	pc->method = strdup(req->method ? req->method : "GET");
	pc->url = strdup(req->url);
	pc->headers = calloc(n + 1, sizeof(*pc->headers));
	if (req->body && req->body_len) {
		pc->body = malloc(req->body_len);
		if (pc->body)
			memcpy(pc->body, req->body, req->body_len);
	}
	if (!pc->method || !pc->url || !pc->headers ||
	    (req->body_len && !pc->body))
		goto fail;
	for (i = 0; i < n; i++) {
		pc->headers[i] = strdup(req->headers[i]);
		if (!pc->headers[i])
			goto fail;
	}
	pc->req.method = pc->method;
	pc->req.url = pc->url;
	pc->req.headers = (const char *const *)pc->headers;
	pc->req.body = pc->body;
	pc->req.body_len = pc->body ? req->body_len : 0;
	return pc;
fail:
	pending_free(pc);
	return NULL;
}

static void pending_link(struct http_out_pending **head,
			 struct http_out_pending *pc)
{
	pc->prev = NULL;
	pc->next = *head;
	if (*head)
		(*head)->prev = pc;
	*head = pc;
}

static void pending_unlink(struct http_out_pending **head,
			   struct http_out_pending *pc)
{
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		*head = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	pc->prev = pc->next = NULL;
}

static bool http_out_on_loop(const struct http_out *o)
{
	return pthread_equal(pthread_self(), o->loop_thread);
}

/* Loop thread: a start on the loop client, which is made by the first. */
static int http_out_loop_start(struct http_out *o,
			       const struct http_request *req,
			       const struct http_client_cb *cb, void *arg)
{
	int rc;

	if (!o->loop) {
		rc = http_loop_new(o->srv, &o->loop);
		if (rc < 0)
			return rc;
	}
	return http_loop_start(o->loop, req, cb, arg);
}

/* Loop thread, through http_server_defer: the start itself.  Only this
 * thread closes o, so o->closed needs the lock only against starts. */
static void http_out_deferred(void *arg)
{
	struct http_out_pending *pc = arg;
	struct http_out *o = pc->out;
	int rc = 0;

	if (!o)
		return;			/* ended by close; an orphan */
	pthread_mutex_lock(&o->mu);
	pending_unlink(&o->pending, pc);
	if (o->closed)
		rc = CHAT_ECANCELED;
	pthread_mutex_unlock(&o->mu);
	if (rc == 0 && pc->cb.keep_going && !pc->cb.keep_going(pc->arg))
		rc = CHAT_ECANCELED;	/* stopped before it began */
	/* on_done may run before this returns: pc->arg is then gone */
	if (rc == 0)
		rc = http_out_loop_start(o, &pc->req, &pc->cb, pc->arg);
	if (rc < 0) {
		if (rc != CHAT_ECANCELED)
			log_error("cannot call '%s': %s", pc->url,
				  chat_strerror(rc));
		pc->cb.on_done(pc->arg, rc == CHAT_ECANCELED ? rc :
			       CHAT_EUPSTREAM);
	}
	pending_free(pc);
}

/* ---- the blocking form over the curl thread ---------------------------- */

static int wait_on_head(void *arg, int status, const char *const *headers,
			size_t n)
{
	struct http_out_wait *w = arg;

	(void)headers;
	(void)n;
	w->status = status;
	return 0;
}

static int wait_on_data(void *arg, const char *data, size_t len)
{
	struct http_out_wait *w = arg;
	int rc = buf_append(w->body, data, len);

	if (rc < 0)
		w->rc = rc;
	return rc;
}

static void wait_on_done(void *arg, int rc)
{
	struct http_out_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	if (w->rc == 0)
		w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* ---- public ------------------------------------------------------------ */

int http_out_new(struct http_out **out)
{
	struct http_out *o;
	int rc;

	*out = NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return CHAT_ENOMEM;
	rc = http_client_new(&o->client);
	if (rc < 0) {
		free(o);
		return rc;
	}
	pthread_mutex_init(&o->mu, NULL);
	*out = o;
	return 0;
}

void http_out_attach(struct http_out *o, struct http_server *srv)
{
	pthread_mutex_lock(&o->mu);
	o->srv = srv;
	o->loop_thread = pthread_self();
	pthread_mutex_unlock(&o->mu);
}

int http_out_start(struct http_out *o, const struct http_request *req,
		   const struct http_client_cb *cb, void *arg)
{
	struct http_out_pending *pc;
	bool loop;
	int rc = 0;

	if (!o || !cb || !cb->on_done || !http_request_safe(req))
		return CHAT_EINVAL;
	pthread_mutex_lock(&o->mu);
	loop = o->srv && !req->unix_socket && http_loop_can(req->url);
	if (o->closed)
		rc = CHAT_ECANCELED;
	else if (!loop)
		/* under the lock: close frees the client */
		rc = http_client_start(o->client, req, cb, arg);
	pthread_mutex_unlock(&o->mu);
	if (rc < 0 || !loop)
		return rc;
	/* not under the lock: on_done may run now and start again */
	if (http_out_on_loop(o))
		return http_out_loop_start(o, req, cb, arg);
	pc = pending_new(req, cb, arg);
	if (!pc)
		return CHAT_ENOMEM;
	pc->out = o;
	pthread_mutex_lock(&o->mu);
	if (o->closed) {
		rc = CHAT_ECANCELED;
	} else {
		pending_link(&o->pending, pc);
		rc = http_server_defer(o->srv, http_out_deferred, pc);
		if (rc < 0)
			pending_unlink(&o->pending, pc);
	}
	pthread_mutex_unlock(&o->mu);
	if (rc < 0)
		pending_free(pc);
	return rc;
}

int http_out_fetch(struct http_out *o, const struct http_request *req,
		   int *status, struct buf *body)
{
	static const struct http_client_cb cb = {
		.on_head = wait_on_head,
		.on_data = wait_on_data,
		.on_done = wait_on_done,
	};
	struct http_out_wait w = { .body = body };
	bool on_loop, closed;
	int rc = 0;

	*status = 0;
	if (!o || !http_request_safe(req))
		return http_fetch(req, status, body);
	pthread_mutex_lock(&o->mu);
	on_loop = o->srv && http_out_on_loop(o);
	closed = o->closed;
	pthread_mutex_unlock(&o->mu);
	if (on_loop)
		return CHAT_EINVAL;	/* it would wait on its own thread */
	if (closed)
		return CHAT_ECANCELED;
	if (http_fetch_plain_can(req))
		return http_fetch_plain(req, status, body);
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&o->mu);
	if (o->closed)
		rc = CHAT_ECANCELED;
	else
		rc = http_client_start(o->client, req, &cb, &w);
	pthread_mutex_unlock(&o->mu);
	if (rc == 0) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		rc = w.rc;
		*status = w.status;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	if (rc < 0)
		*status = 0;
	return rc;
}

void http_out_close(struct http_out *o)
{
	struct http_out_pending *pending, *pc;
	struct http_client *client;

	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	if (o->closed) {
		pthread_mutex_unlock(&o->mu);
		return;
	}
	o->closed = true;
	client = o->client;
	o->client = NULL;
	pending = o->pending;
	o->pending = NULL;
	for (pc = pending; pc; pc = pc->next)
		pc->out = NULL;
	pthread_mutex_unlock(&o->mu);
	/* running calls end here, through their on_done */
	http_loop_free(o->loop);
	o->loop = NULL;
	http_client_free(client);
	while (pending) {
		pc = pending;
		pending_unlink(&pending, pc);
		pc->cb.on_done(pc->arg, CHAT_ECANCELED);
		pending_link(&o->orphans, pc);
	}
}

void http_out_free(struct http_out *o)
{
	struct http_out_pending *pc;

	if (!o)
		return;
	http_out_close(o);
	while (o->orphans) {
		pc = o->orphans;
		pending_unlink(&o->orphans, pc);
		pending_free(pc);
	}
	pthread_mutex_destroy(&o->mu);
	free(o);
}
