/*
 * ws-proxy.c - the WebSocket passthrough of /v1/ws (and any other path
 * routed to an HTTP_ROUTE_WEBSOCKET route of the gateway).
 *
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
#include "log.h"
#include "banned.h"

#define WSP_TOKEN_MAX 4096
#define WSP_URL_MAX 16384
#define WSP_HEADERS 6

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
	int refs;			/* decision + each live ws */
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

static void client_message(void *arg, struct http_ws *ws, const char *data,
			   size_t len, bool binary)
{
	struct wsp *w = arg;

	(void)ws;
	if (w->upstream)
		relay(w, w->upstream, data, len, binary);
}

static void client_close(void *arg, struct http_ws *ws, int code)
{
	struct wsp *w = arg;

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
	char host[64];
	const char *p, *colon;
	int fd, port;
	bool up = true;

	if (strncmp(url, "http://", 7) != 0)
		return true;
	p = url + 7;
	colon = strchr(p, ':');
	if (!colon || (size_t)(colon - p) >= sizeof(host))
		return true;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	port = atoi(colon + 1);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
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
	const char *authz;
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
	snprintf(w->request_id, sizeof(w->request_id), "%s",
		 req->request_id);
	snprintf(w->peer, sizeof(w->peer), "%s", req->peer ? req->peer : "");
	if (build_url(w, req) != 0) {
		wsp_refuse(w, 414, "uri_too_long", "the URL is too long");
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
