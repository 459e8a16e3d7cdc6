/*
 * rest.c - chatui's REST worker: one thread, one API client
 * (shared/client.h: a libcurl handle whose calls share a kept-alive
 * connection), calls taken in order from a queue the
 * UI fills, each answer posted back to the UI's event queue.  The access
 * token comes from auth.c, refreshed before it expires and once more
 * when the server answers 401 token_expired.
 */
#include "chatui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

static void rest_free_req(struct rest_req *q)
{
	if (!q)
		return;
	if (q->body && (q->kind == RQ_LOGIN || q->kind == RQ_REGISTER)) {
		const cJSON *pw = cJSON_GetObjectItemCaseSensitive(q->body,
								   "password");

		if (cJSON_IsString(pw))
			memset(pw->valuestring, 0, strlen(pw->valuestring));
	}
	cJSON_Delete(q->body);
	free(q);
}

/* A call with the login's token, refreshed once on token_expired. */
static int rest_authed(struct rest *r, struct client *cl,
		       const char *method, const char *path,
		       const cJSON *body, struct client_res *res)
{
	struct client_req req = { .method = method, .path = path,
				  .json = body };
	char token[4096], err[256];
	int rc, attempt;

	for (attempt = 0;; attempt++) {
		err[0] = '\0';
		rc = ui_auth_token(r->auth, attempt > 0, token, sizeof(token),
				   err, sizeof(err));
		if (rc < 0) {
			memset(res, 0, sizeof(*res));
			buf_init(&res->body, 1);
			res->status = rc == CHAT_EAUTH ? 401 : 0;
			snprintf(res->code, sizeof(res->code), "%s",
				 rc == CHAT_EAUTH ? "unauthorized" : "");
			snprintf(res->message, sizeof(res->message), "%s",
				 err[0] ? err : chat_strerror(rc));
			break;
		}
		req.token = token;
		rc = client_call(cl, &req, res);
		memset(token, 0, sizeof(token));
		if (rc == CHAT_EAUTH && attempt == 0 &&
		    strcmp(res->code, "token_expired") == 0) {
			client_res_release(res);
			continue;
		}
		/* a 2xx whose body broke off or passed its ceiling is no
		 * answer to the UI */
		if (rc < 0 && res->status >= 200 && res->status < 300)
			res->status = 0;
		break;
	}
	return rc;
}

static void rest_run(struct rest *r, struct client *cl, struct rest_req *q)
{
	struct ui_event *ev = ui_event_new(EV_REST);
	struct client_res res = { 0 };
	const cJSON *u, *p;
	char path[1200];
	int rc;

	if (!ev)
		return;
	ev->req = q->kind;
	ev->seq = q->seq;
	snprintf(ev->tag, sizeof(ev->tag), "%s", q->tag);
	ev->to = q->to;
	if (q->kind == RQ_LOGIN || q->kind == RQ_REGISTER) {
		u = cJSON_GetObjectItemCaseSensitive(q->body, "username");
		p = cJSON_GetObjectItemCaseSensitive(q->body, "password");
		rc = ui_auth_login(r->auth, cJSON_IsString(u) ?
				   u->valuestring : "", cJSON_IsString(p) ?
				   p->valuestring : "", q->kind == RQ_REGISTER,
				   ev->message, sizeof(ev->message));
		ev->status = rc == 0 ? 200 : 401;
		evq_post(r->evq, ev);
		return;
	}
	if (q->kind == RQ_LOGOUT) {
		rc = ui_auth_logout(r->auth, ev->message, sizeof(ev->message));
		ev->status = rc == 0 ? 204 : 500;
		evq_post(r->evq, ev);
		return;
	}
	rc = rest_authed(r, cl, q->method, q->path, q->body, &res);
	if (rc == 0 && q->kind == RQ_BRANCH) {
		/* the leaf moved: the branch to show comes from a GET */
		client_res_release(&res);
		snprintf(path, sizeof(path), "/v1/conversations/%s?messages=%d",
			 q->tag, CHATUI_PAGE);
		rc = rest_authed(r, cl, "GET", path, NULL, &res);
	}
	ev->status = res.status;
	snprintf(ev->code, sizeof(ev->code), "%s", res.code);
	snprintf(ev->message, sizeof(ev->message), "%.255s", res.message);
	ev->json = res.json;
	res.json = NULL;
	client_res_release(&res);
	if (rc == CHAT_EAUTH && !ui_auth_have(r->auth))
		evq_post(r->evq, ui_event_new(EV_AUTH_LOST));
	evq_post(r->evq, ev);
}

static void *rest_main(void *arg)
{
	struct rest *r = arg;
	struct rest_req *q;
	struct client client;
	bool ok = ui_auth_client_init(&client, r->auth->server) == 0;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (!r->head && !r->quit)
			pthread_cond_wait(&r->cond, &r->mu);
		if (r->quit) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		q = r->head;
		r->head = q->next;
		if (!r->head)
			r->tail = NULL;
		pthread_mutex_unlock(&r->mu);
		if (ok) {
			rest_run(r, &client, q);
		} else {
			struct ui_event *ev = ui_event_new(EV_REST);

			if (ev) {
				ev->req = q->kind;
				ev->seq = q->seq;
				ev->to = q->to;
				snprintf(ev->message, sizeof(ev->message),
					 "out of memory");
				evq_post(r->evq, ev);
			}
		}
		rest_free_req(q);
	}
	if (ok)
		client_release(&client);
	return NULL;
}

int rest_start(struct rest *r, struct auth *auth, struct evq *evq)
{
	memset(r, 0, sizeof(*r));
	r->auth = auth;
	r->evq = evq;
	r->next_seq = 1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (pthread_create(&r->thread, NULL, rest_main, r) != 0)
		return CHAT_ENOMEM;
	r->started = true;
	return 0;
}

void rest_stop(struct rest *r)
{
	struct rest_req *q, *next;

	if (!r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->quit = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	/* a call in flight ends within curl's timeouts */
	pthread_join(r->thread, NULL);
	for (q = r->head; q; q = next) {
		next = q->next;
		rest_free_req(q);
	}
	r->head = r->tail = NULL;
	r->started = false;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
}

uint64_t rest_submit(struct rest *r, enum rq_kind kind, const char *method,
		     const char *path, cJSON *body, const char *tag,
		     struct pane *to)
{
	struct rest_req *q = calloc(1, sizeof(*q));
	uint64_t seq;

	if (!q) {
		cJSON_Delete(body);
		return 0;
	}
	q->kind = kind;
	q->seq = seq = r->next_seq++;
	snprintf(q->method, sizeof(q->method), "%s", method);
	snprintf(q->path, sizeof(q->path), "%s", path);
	snprintf(q->tag, sizeof(q->tag), "%s", tag ? tag : "");
	q->body = body;
	q->to = to;
	pthread_mutex_lock(&r->mu);
	if (r->tail)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	/* not q->seq: once unlocked, the worker may have run and freed q */
	return seq;
}
