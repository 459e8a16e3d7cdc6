/*
 * ws-proxy.c - the WebSocket passthrough of /v1/ws (and any other path
 * routed to an HTTP_ROUTE_WEBSOCKET route of the gateway).
 *
 *   0. a browser's handshake (one with an Origin header) must come from
 *      an allowed origin (origin.c), else 403 "origin_refused".
 *   1. the caller is authenticated: "Authorization: Bearer ..." or, as
 *      browsers cannot set headers on a WebSocket, ?access_token=...;
 *      access tokens and API keys alike (auth.c).  No or a bad credential
 *      is refused with 401 before any upstream contact.
 *   2. a quick probe of the upstream's port (a non-blocking connect,
 *      which on loopback fails at once when nobody listens): refused with
 *      503 "upstream_unavailable".
 *   3. the same path (minus access_token) is opened at the upstream with
 *      the gateway's identity headers (X-Chat-Internal, -User-Id, -Role,
 *      -Session-Id, X-Request-Id, X-Forwarded-For).
 *   4. once the upstream accepted, the client is accepted and frames are
 *      relayed both ways, text and binary as they are.
 *
 * Steps 1 and 2 are answered as HTTP refusals when they can be decided
 * before the handler returns (no credential, a bad token, a cached one).
 * Otherwise - an API key userd has to check, the upstream's handshake -
 * the decision is pending (http-ws.h): the client's handshake completes
 * at once, its frames are held, and a refusal arrives as a close with
 * 4000 + the status (4401, 4503, or the upstream's own 4xxx).
 *
 * Closing: either side's close closes the other with the same code
 * (1005/1006, which cannot be sent, become 1000/1011).  A side whose send
 * queue passes its ceiling closes both (1008).
 *
 * Revocation: an accepted connection is watched (revoke.c).  When its
 * session or API key is revoked, its user changes (API keys), or its
 * access token expires, the client is closed with 4401 and the reason
 * names why ("session_revoked", "credential_revoked", "token_expired");
 * frames it sends meanwhile are dropped.  A client keeps its connection
 * past the token's expiry by sending a fresh access token of the same
 * user in-band, {"type":"auth","ref":R,"token":"..."}: answered here
 * (never relayed) with {"type":"auth_ok","ref":R,"data":{"expires_in":S}}
 * or an error frame, the connection then lives by the new token.
 *
 * Threads: everything here runs on the loop thread; the auth verdict,
 * which may come from the curl thread, is brought back with
 * http_server_defer.
 */
#include "gatewayd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "http-ws.h"
#include "json.h"
#include "log.h"
#include "url.h"
#include "util.h"
#include "banned.h"

#define WSP_TOKEN_MAX 4096
#define WSP_URL_MAX 16384
#define WSP_HEADERS 6
#define WSP_CUT_CODE 4401		/* 4000 + 401, as for a refusal */
#define WSP_AUTH_FRAME_MAX 8192		/* larger frames are never "auth" */

struct wsp {
	struct gatewayd *gw;
	struct http_server *srv;
	struct http_req *req;		/* until decided; NULL after */
	struct gw_upstream *up;
	pthread_mutex_t lock;		/* in_handler, auth_sync */
	bool in_handler;		/* the handler has not returned */
	bool auth_sync;			/* the verdict came within auth_check */
	enum gw_auth_result auth;
	struct gw_identity id;
	bool anonymous;
	struct http_ws *client;		/* toward the caller; owner ref */
	struct http_ws *upstream;	/* toward the daemon; owner ref */
	struct gw_live live;		/* watched while the client is open */
	bool watched;
	int refs;			/* decision + each live ws + each
					 * in-band auth in flight */
	char request_id[129];
	char peer[64];
	char *url;			/* owned */
};

static void wsp_unref(struct wsp *w)
{
	if (--w->refs > 0)
		return;
	pthread_mutex_destroy(&w->lock);
	free(w->url);
	free(w);
}

/* The code to pass on: 1005 and 1006 are not for close frames. */
static int relay_code(int code)
{
	if (code == HTTP_WS_NO_STATUS)
		return HTTP_WS_NORMAL;
	if (code == HTTP_WS_ABNORMAL || code < 1000 || code > 4999)
		return HTTP_WS_INTERNAL;
	return code;
}

/* The final call on the client's request: a refusal. */
static void wsp_refuse(struct wsp *w, int status, const char *code,
		       const char *message)
{
	struct http_req *req = w->req;

	w->req = NULL;
	metrics_count_request(&w->gw->metrics, status);
	if (status == 401)
		http_res_header(req->res, "WWW-Authenticate", "Bearer");
	http_ws_refuse(req, status, code, "%s", message);
	wsp_unref(w);			/* the decision's reference */
}

/* ---- the two sides ------------------------------------------------- */

static void relay(struct wsp *w, struct http_ws *to, const char *data,
		  size_t len, bool binary)
{
	int rc = http_ws_send(to, data, len, binary);

	if (rc == CHAT_ETOOBIG) {
		/* the receiving side does not keep up: give up on both */
		log_set_request_id(w->request_id);
		log_warn("websocket relay queue full, closing both sides");
		log_set_request_id(NULL);
		if (w->client)
			http_ws_close(w->client, HTTP_WS_POLICY, "queue full");
		if (w->upstream)
			http_ws_close(w->upstream, HTTP_WS_POLICY,
				      "queue full");
	}
}

/* ---- revocation and in-band auth ------------------------------------ */

/* Under the watch list's lock, loop thread (revoke.c): both sides go. */
static void wsp_cut(struct gw_live *l, enum gw_cut why)
{
	struct wsp *w = (struct wsp *)((char *)l - offsetof(struct wsp, live));

	log_set_request_id(w->request_id);
	log_info("websocket of user '%s' cut: %s", l->id.user_id,
		 revoke_cut_code(why));
	log_set_request_id(NULL);
	if (w->client)
		http_ws_close(w->client, WSP_CUT_CODE, revoke_cut_code(why));
	if (w->upstream)
		http_ws_close(w->upstream, HTTP_WS_NORMAL,
			      "credential revoked");
}

/* An in-band auth frame being checked; holds a reference on w. */
struct wsp_auth {
	struct wsp *w;
	cJSON *ref;			/* owned: the frame's "ref" */
	enum gw_auth_result r;
	struct gw_identity id;
	bool have_id;
};

static void wsp_send_frame(struct wsp *w, cJSON *frame)
{
	char *text = frame ? json_print(frame) : NULL;

	if (text && w->client)
		relay(w, w->client, text, strlen(text), false);
	free(text);
	cJSON_Delete(frame);
}

/* Loop thread: the verdict on a fresh token for this connection. */
static void wsp_auth_finish(struct wsp_auth *a)
{
	struct wsp *w = a->w;
	cJSON *frame = cJSON_CreateObject(), *data, *err;
	const char *code = NULL, *message = NULL;
	enum gw_auth_result r = a->r;

	if (r == GW_AUTH_OK && !a->have_id)
		r = GW_AUTH_INVALID_TOKEN;
	if (r == GW_AUTH_OK)
		r = auth_admit(w->gw, &a->id, "WEBSOCKET", "/v1/ws");
	if (r != GW_AUTH_OK)
		auth_error(r, &code, &message);
	else if (a->id.key_id[0] || !a->id.expires_ms)
		code = "invalid_field", message = "'token' must be an access "
						  "token, not an API key";
	else if (strcmp(a->id.user_id, w->live.id.user_id) != 0)
		code = "forbidden", message = "the token is another user's";
	else if (atomic_load(&w->live.why) != GW_CUT_NONE)
		code = "session_revoked", message = "the connection is closing";
	if (!code && w->client) {
		revoke_update(w->gw, &w->live, &a->id);
		w->id = a->id;
	}
	if (!frame || !w->client)
		goto out;
	cJSON_AddStringToObject(frame, "type", code ? "error" : "auth_ok");
	cJSON_AddItemToObject(frame, "ref", a->ref ? a->ref :
			      cJSON_CreateNull());
	a->ref = NULL;
	data = cJSON_AddObjectToObject(frame, "data");
	if (data && !code) {
		cJSON_AddNumberToObject(data, "expires_in",
					(double)((a->id.expires_ms - now_ms()) /
						 1000));
	} else if (data) {
		err = cJSON_AddObjectToObject(data, "error");
		if (err) {
			cJSON_AddStringToObject(err, "code", code);
			cJSON_AddStringToObject(err, "message", message);
		}
	}
	wsp_send_frame(w, frame);
	frame = NULL;
out:
	cJSON_Delete(frame);
	cJSON_Delete(a->ref);
	free(a);
	wsp_unref(w);
}

static void wsp_auth_deferred(void *arg)
{
	wsp_auth_finish(arg);
}

static void wsp_auth_done(void *arg, enum gw_auth_result r,
			  const struct gw_identity *id)
{
	struct wsp_auth *a = arg;

	a->r = r;
	a->have_id = id != NULL;
	if (id)
		a->id = *id;
	if (pthread_equal(pthread_self(), a->w->gw->loop_thread)) {
		wsp_auth_finish(a);
		return;
	}
	if (http_server_defer(a->w->srv, wsp_auth_deferred, a) != 0)
		log_error("cannot defer an in-band auth verdict: the "
			  "connection keeps its old credential");
}

/* True when the frame was an auth frame (handled here, never relayed). */
static bool wsp_auth_frame(struct wsp *w, const char *data, size_t len)
{
	const cJSON *type, *token;
	struct wsp_auth *a;
	char authz[4096 + 16];
	cJSON *o = NULL;
	char err[128];

	if (len > WSP_AUTH_FRAME_MAX ||
	    json_parse_object(data, len, &o, err, sizeof(err)) != 0)
		return false;		/* chatd answers what it cannot read */
	type = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "auth") != 0) {
		cJSON_Delete(o);
		return false;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		cJSON_Delete(o);
		return true;
	}
	a->w = w;
	a->ref = cJSON_DetachItemFromObjectCaseSensitive(o, "ref");
	token = cJSON_GetObjectItemCaseSensitive(o, "token");
	w->refs++;			/* the check's */
	if (!cJSON_IsString(token) || !*token->valuestring ||
	    strlen(token->valuestring) > 4096) {
		a->r = GW_AUTH_INVALID_TOKEN;
		wsp_auth_finish(a);
	} else {
		snprintf(authz, sizeof(authz), "Bearer %s",
			 token->valuestring);
		auth_check(w->gw, authz, w->request_id, wsp_auth_done, a);
	}
	cJSON_Delete(o);
	return true;
}

static void client_message(void *arg, struct http_ws *ws, const char *data,
			   size_t len, bool binary)
{
	struct wsp *w = arg;

	(void)ws;
	if (atomic_load(&w->live.why) != GW_CUT_NONE)
		return;			/* revoked: nothing more goes up */
	if (!binary && wsp_auth_frame(w, data, len))
		return;
	if (w->upstream)
		relay(w, w->upstream, data, len, binary);
}

static void client_close(void *arg, struct http_ws *ws, int code)
{
	struct wsp *w = arg;

	if (w->watched) {
		revoke_unwatch(w->gw, &w->live);
		w->watched = false;
	}

	if (w->upstream)
		http_ws_close(w->upstream, relay_code(code), "client closed");
	w->client = NULL;
	http_ws_release(ws);
	wsp_unref(w);
}

static const struct http_ws_ops client_ops = {
	.on_message = client_message,
	.on_close = client_close,
};

static void upstream_open(void *arg, struct http_ws *ws)
{
	struct wsp *w = arg;
	struct http_req *req = w->req;
	int rc;

	(void)ws;
	if (!req)
		return;
	w->req = NULL;
	metrics_count_request(&w->gw->metrics, 101);
	w->refs++;			/* the client's side */
	rc = http_ws_accept(req, &client_ops, w, &w->client);
	if (rc != 0) {			/* the caller left meanwhile */
		w->refs--;
		w->client = NULL;
		http_ws_close(w->upstream, HTTP_WS_GOING_AWAY, "client left");
	} else {
		/* from now on a revocation or the token's expiry ends it */
		w->live.id = w->id;
		w->live.on_expiry = true;
		w->watched = true;
		revoke_watch(w->gw, &w->live);
	}
	wsp_unref(w);			/* the decision's reference */
}

static void upstream_message(void *arg, struct http_ws *ws,
			     const char *data, size_t len, bool binary)
{
	struct wsp *w = arg;

	(void)ws;
	if (w->client)
		relay(w, w->client, data, len, binary);
}

static void upstream_close(void *arg, struct http_ws *ws, int code)
{
	struct wsp *w = arg;

	w->upstream = NULL;
	if (w->req) {
		/* never opened: refused or unreachable */
		atomic_fetch_add(&w->up->errors, 1);
		if (code > HTTP_WS_REFUSED_BASE &&
		    code < HTTP_WS_REFUSED_BASE + 600)
			wsp_refuse(w, code - HTTP_WS_REFUSED_BASE,
				   "upstream_refused",
				   "the upstream refused the WebSocket");
		else
			wsp_refuse(w, 503, "upstream_unavailable",
				   "the upstream is not reachable");
	} else if (w->client) {
		http_ws_close(w->client, relay_code(code), "upstream closed");
	}
	http_ws_release(ws);
	wsp_unref(w);
}

static const struct http_ws_ops upstream_ops = {
	.on_open = upstream_open,
	.on_message = upstream_message,
	.on_close = upstream_close,
};

/* ---- opening the upstream side ------------------------------------- */

/* False when nothing listens on the upstream's loopback port: there a
 * non-blocking connect is refused within the call (or shows the refusal
 * to a poll of no time).  Other addresses are
 * not probed (true). */
static bool upstream_listening(const char *url)
{
	struct sockaddr_in sa;
	struct url u;
	int fd;
	bool up = true;

	/* url.h's grammar, as the client that will connect reads it */
	if (url_parse(url, &u, NULL) != 0 ||
	    (u.scheme != URL_HTTP && u.scheme != URL_WS) ||
	    url_ipv4(&u, &sa) != 0 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
		return true;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == ECONNREFUSED) {
			up = false;
		} else if (errno == EINPROGRESS) {
			/* loopback answers within the call: look, never wait */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int soerr = 0;
			socklen_t sl = sizeof(soerr);

			if (poll(&pfd, 1, 0) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
				       &sl) == 0 && soerr == ECONNREFUSED)
				up = false;
		}
	}
	close(fd);
	return up;
}

/* "ws" URL of the upstream: its base URL, the path, the query without
 * access_token (the upstream gets the identity in headers instead). */
static int build_url(struct wsp *w, const struct http_req *req)
{
	struct buf b;
	const char *p = req->query;
	bool first = true;
	int rc;

	buf_init(&b, WSP_URL_MAX);
	rc = buf_printf(&b, "%s%s", w->up->url, req->path);
	while (rc == 0 && p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (!(n >= 12 && strncmp(p, "access_token", 12) == 0 &&
		      (n == 12 || p[12] == '='))) {
			rc = buf_printf(&b, "%c%.*s", first ? '?' : '&',
					(int)n, p);
			first = false;
		}
		p = amp ? amp + 1 : NULL;
	}
	if (rc != 0) {
		buf_release(&b);
		return rc;
	}
	w->url = buf_detach(&b, NULL);
	return 0;
}

static void connect_upstream(struct wsp *w)
{
	char h[WSP_HEADERS][GW_ID_MAX + 128];
	const char *headers[WSP_HEADERS + 1];
	size_t n = 0;
	int rc;

	snprintf(h[n], sizeof(h[n]), HTTP_H_INTERNAL ": %s",
		 w->gw->d.internal_secret);
	n++;
	snprintf(h[n], sizeof(h[n]), HTTP_H_REQUEST_ID ": %s", w->request_id);
	n++;
	if (w->peer[0]) {
		snprintf(h[n], sizeof(h[n]), "X-Forwarded-For: %s", w->peer);
		n++;
	}
	if (!w->anonymous) {
		snprintf(h[n], sizeof(h[n]), HTTP_H_USER_ID ": %s",
			 w->id.user_id);
		n++;
		snprintf(h[n], sizeof(h[n]), HTTP_H_ROLE ": %s", w->id.role);
		n++;
		if (w->id.session_id[0]) {
			snprintf(h[n], sizeof(h[n]), HTTP_H_SESSION_ID ": %s",
				 w->id.session_id);
			n++;
		}
	}
	for (size_t i = 0; i < n; i++)
		headers[i] = h[i];
	headers[n] = NULL;
	w->refs++;			/* the upstream's side */
	rc = http_ws_connect(w->srv, w->url, headers, &upstream_ops, w,
			     &w->upstream);
	if (rc != 0) {
		w->refs--;
		wsp_refuse(w, 503, "upstream_unavailable",
			   "cannot open the upstream WebSocket");
	}
}

/* The caller is known: on to the upstream.  Loop thread. */
static void auth_verdict(struct wsp *w)
{
	const char *code, *message;
	int status;

	if (w->auth != GW_AUTH_OK) {
		atomic_fetch_add(&w->gw->metrics.auth_failures[w->auth], 1);
		status = auth_error(w->auth, &code, &message);
		wsp_refuse(w, status, code, message);
		return;
	}
	if (w->anonymous) {
		/* a live feed is always someone's */
		wsp_refuse(w, 401, "unauthorized", "authentication required");
		return;
	}
	w->auth = auth_admit(w->gw, &w->id, "WEBSOCKET", "/v1/ws");
	if (w->auth != GW_AUTH_OK) {
		atomic_fetch_add(&w->gw->metrics.auth_failures[w->auth], 1);
		status = auth_error(w->auth, &code, &message);
		wsp_refuse(w, status, code, message);
		return;
	}
	if (!upstream_listening(w->up->url)) {
		atomic_fetch_add(&w->up->errors, 1);
		wsp_refuse(w, 503, "upstream_unavailable",
			   "the upstream is not reachable");
		return;
	}
	connect_upstream(w);
}

static void auth_verdict_deferred(void *arg)
{
	auth_verdict(arg);
}

/* auth_check's answer: loop thread (within the handler) or curl thread. */
static void auth_done(void *arg, enum gw_auth_result r,
		      const struct gw_identity *id)
{
	struct wsp *w = arg;

	w->auth = r;
	w->anonymous = id == NULL;
	if (id)
		w->id = *id;
	pthread_mutex_lock(&w->lock);
	if (w->in_handler) {
		w->auth_sync = true;	/* the handler goes on with it */
		pthread_mutex_unlock(&w->lock);
		return;
	}
	pthread_mutex_unlock(&w->lock);
	if (http_server_defer(w->srv, auth_verdict_deferred, w) != 0)
		log_error("cannot defer a WebSocket's auth verdict: the "
			  "connection is left undecided");
}

void ws_proxy_handler(struct http_req *req, struct http_res *res)
{
	struct gatewayd *gw = req->app;
	const struct gw_route *route = routes_find(gw, req->path);
	char token[WSP_TOKEN_MAX + 16];
	const char *authz, *origin;
	struct wsp *w;
	bool sync;

	if (!route) {
		metrics_count_request(&gw->metrics, 404);
		http_res_error(res, 404, "not_found", "no route for '%s'",
			       req->path);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	w->gw = gw;
	w->srv = req->server;
	w->req = req;
	w->up = route->up;
	w->refs = 1;			/* the decision */
	pthread_mutex_init(&w->lock, NULL);
	w->live.cut = wsp_cut;
	atomic_init(&w->live.why, GW_CUT_NONE);
	snprintf(w->request_id, sizeof(w->request_id), "%s",
		 req->request_id);
	snprintf(w->peer, sizeof(w->peer), "%s", req->peer ? req->peer : "");
	if (build_url(w, req) != 0) {
		wsp_refuse(w, 414, "uri_too_long", "the URL is too long");
		return;
	}
	/* a page of another site must not open the feed with a token it
	 * got hold of; clients without Origin (chatui, chatctl) are no
	 * browsers */
	origin = http_req_header(req, "origin");
	if (origin && !origin_allowed(gw, req, origin)) {
		wsp_refuse(w, 403, "origin_refused",
			   "WebSockets from this origin are not accepted");
		return;
	}
	authz = http_req_header(req, "authorization");
	if (!authz) {
		int rc = http_req_query(req, "access_token", token + 7,
					sizeof(token) - 7);

		if (rc == 0) {
			memcpy(token, "Bearer ", 7);
			authz = token;
		} else if (rc == CHAT_ETOOBIG) {
			w->auth = GW_AUTH_INVALID_TOKEN;
			auth_verdict(w);
			return;
		}
	}
	w->in_handler = true;
	auth_check(gw, authz, w->request_id, auth_done, w);
	pthread_mutex_lock(&w->lock);
	w->in_handler = false;
	sync = w->auth_sync;
	pthread_mutex_unlock(&w->lock);
	if (sync)
		auth_verdict(w);	/* decided within auth_check */
}
