/*
 * http-server.c - the HTTP/1.1 server of every daemon, on the
 * libwebsockets event loop.
 *
 * Connections: libwebsockets accepts them as raw sockets and hands us
 * their bytes; the request heads and bodies are read by our own strict
 * reader (http1.h), because lws's parser accepts what two readers could
 * frame two ways (bare LF, a space before a colon, a NUL in a value,
 * Content-Length beside Transfer-Encoding) and cannot answer 414 or 431.
 * A connection reads one request at a time: bytes of a pipelined next
 * request wait in its buffer until the answer before it is complete.
 * Every state has a deadline (see the HTTP_*_TIMEOUT values).  A
 * WebSocket upgrade is read, checked and decided here too; once its
 * handler has not refused it, the socket is handed to libwebsockets
 * (a duplicate descriptor adopted with the head replayed) for the
 * handshake and the frames (http-ws.c).
 *
 * Refusals: a request refused by the reader is answered once, with
 * "Connection: close", and nothing after it on that connection is read
 * for a handler: the connection only lingers (write side shut, input
 * discarded) so that the answer reaches the client, then closes.
 *
 * The loop: libwebsockets on a libuv loop of ours (epoll), so that a
 * wake-up costs what has news, not a poll() over every descriptor held
 * (at 1,000 streams that poll was 35-40 % of the daemons' CPU; at 9,000
 * idle WebSockets it cut the accept rate to 59/s).  The loop is lws's
 * "foreign" loop, not one lws makes itself: lws 4.1's libuv plugin does
 * not export lws_uv_getloop, so on its own loop only destroying the
 * context could end lws_service (http_server_stop would close every
 * connection before the daemon's shutdown ran), and lws would install
 * its own handlers for SIGINT, SIGTERM, SIGHUP, SIGSEGV and SIGFPE.
 * Why libuv and not libev: lws 4.1's libev glue re-arms its one timer
 * with ev_timer_start on a watcher that may be active, which libev
 * ignores (a timer due sooner waited seconds for a later one);
 * uv_timer_start restarts an active timer.  lws's own poll() loop stays
 * as the fallback when the plugin (libwebsockets-evlib-uv) is missing.
 *
 * Threads: all lws calls happen on the loop thread.  Handlers on worker
 * threads (and the curl thread of the gateway) only touch an exchange
 * under srv->lock and then wake the loop with lws_cancel_service(); the
 * loop picks the exchange from the pending list and asks lws for a
 * writable callback on its connection.
 *
 * Lifetime: an exchange (struct http_res, which embeds the request) holds
 * one reference for the connection, one for the handler until its final
 * call, and one while it sits on the pending list.  It is freed when the
 * last one goes, so neither a closed connection nor a slow handler can
 * leave the other side with a dangling pointer.
 */
#include "http-server.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <uv.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "http-route.h"
#include "http-ws.h"
#include "http1.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "uuid.h"
#include "ws-frame.h"
#include "banned.h"

#define HTTP_DEFAULT_MAX_BODY	(1024 * 1024)
#define HTTP_MAX_PENDING_OUT	(16 * 1024 * 1024)	/* one whole answer */
/* Unsent bytes of a streamed answer (http_res_write), per connection and
 * for the whole server: a client that stops reading an event stream is
 * cut off there (it resumes later with Last-Event-ID) instead of making
 * the server hold what it does not read. */
#define HTTP_MAX_STREAM_BACKLOG	(1024 * 1024)
#define HTTP_MAX_OUT_TOTAL	(64 * 1024 * 1024)
#define HTTP_STALL_MS		1000
#define HTTP_WRITE_CHUNK	(32 * 1024)
#define HTTP_REQUEST_ID_MAX	128
#define HTTP_RAW_PROTOCOL	"chat-http1"	/* our client connections */
#define HTTP_WS_CLIENT_RX	1024	/* outbound WebSocket rx buffer */
#define HTTP_WS_CLIENT_TX	(64 * 1024)	/* one send at most */
/* Received bytes a connection holds: a head, or what a pipelining
 * client sent ahead; reading pauses past HTTP_CONN_PAUSE_IN. */
#define HTTP_CONN_MAX_IN	(HTTP1_MAX_HEAD + 128 * 1024)
#define HTTP_CONN_PAUSE_IN	(64 * 1024)
/* Deadlines, seconds: a head must be complete this long after its first
 * byte (slow heads hold a descriptor), a body must make progress, an
 * idle keep-alive connection is closed, a refused one lingers so long
 * for the client to read its answer.  The first and the third are the
 * defaults of http_server_config's. */
#define HTTP_HEAD_TIMEOUT	10
#define HTTP_BODY_TIMEOUT	30
#define HTTP_IDLE_TIMEOUT	60
#define HTTP_LINGER_TIMEOUT	2
/* Descriptors kept free below the process's limit: a client whose
 * socket lands among them is closed at once.  At the limit itself
 * accept() fails with EMFILE, lws logs it and returns, and the listener,
 * still readable, wakes the loop again at once: a loop at 100 % writing
 * a log line per turn (gigabytes a minute).  The reserve also leaves
 * room for the daemon's own files, its outbound sockets and a
 * WebSocket's duplicate descriptor. */
#define HTTP_FD_RESERVE		32
#define HTTP_FD_WARN_MS		10000	/* one warning so often at most */

/* One allocation per header: name then value, each NUL-terminated. */
struct http_hdr {
	char *name;		/* owned; lowercase, no colon */
	char *value;		/* inside name's allocation */
	size_t name_len, value_len;
};

struct http_defer {
	void (*fn)(void *);
	void *arg;
	struct http_defer *next;
};

/* A timer of http_server_after: armed on the loop thread, listed there
 * until it fires so that http_server_free can release unfired ones. */
struct http_timer {
	lws_sorted_usec_list_t sul;
	struct http_server *srv;
	void (*fn)(void *);
	void *arg;
	int64_t delay_ms;
	struct http_timer *prev, *next;
};

struct http_res {
	struct http_req req;		/* embedded; req.res points back */
	struct http_server *srv;
	int refs;			/* under srv->lock */
	struct lws *wsi;		/* loop thread; NULL once closed */
	bool closed;			/* client gone; under lock */
	int64_t t_start;		/* mono_ms at the request line */

	/* request storage, written on the loop before dispatch */
	char method[16];
	char *path;			/* owned */
	char *query;			/* owned */
	struct buf body;
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char peer[64];
	char note[96];			/* for the access log; under lock */
	struct http_hdr *hdrs;		/* owned request headers */
	size_t nhdrs;
	char *params;			/* owned storage of param names/values */
	const struct http_route *route;
	bool http10;			/* HTTP/1.0 client: no chunked */
	bool head_only;			/* HEAD: headers without body */
	bool must_close;		/* close the connection after this */
	bool dispatched;		/* handed to the route or an error */
	bool upgrade;			/* a WebSocket upgrade (http-ws.h) */

	/* response; under srv->lock */
	int status;
	char ctype[128];
	struct http_hdr *rhdrs;		/* owned response headers */
	size_t nrhdrs;
	struct buf out;			/* body bytes not yet written */
	size_t out_off;			/* written prefix of out */
	int64_t sent;			/* body bytes handed to lws */
	int64_t content_length;		/* -1: unknown (chunked or close) */
	bool begun;			/* status decided */
	bool final;			/* nothing more will be appended */
	bool aborted;			/* end the connection, not the body */
	bool cut;			/* ... at once: a client too slow */
	int64_t progress_ms;		/* mono_ms the socket last took bytes */
	bool head_sent;			/* loop thread only */
	bool chunked;			/* loop thread only */
	bool done;			/* loop thread: transaction completed */
	bool pending;			/* on srv->pending */
	bool kick;			/* loop thread: ask for writable */
	struct http_res *next_pending;
};

enum conn_state {
	CONN_HEAD,		/* reading a request head (or idle) */
	CONN_BODY,		/* reading its body */
	CONN_WAIT,		/* answering it; input waits */
	CONN_LINGER,		/* refused: answer, then close */
	CONN_WS,		/* upgraded: WebSocket frames (http-ws.c) */
};

/* A client connection: the per-session data of the raw protocol. */
struct http_conn {
	struct http_server *srv;
	struct lws *wsi;
	enum conn_state state;
	struct buf in;			/* received, not yet consumed */
	struct http1_scan scan;		/* of the head being read */
	bool head_timer;		/* its deadline is set */
	struct http_res *ex;		/* the exchange read or answered */
	struct http_ws *ws;		/* CONN_WS: the connection's ref */
	int64_t body_left;		/* Content-Length bytes to read */
	bool body_chunked;
	struct http1_chunked chunk;
	bool paused;			/* lws_rx_flow_control off */
	bool shut;			/* lingering: write side shut */
	char peer[48];
};

struct http_server {
	struct http_server_config cfg;	/* copy; strings borrowed */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct lws_protocols protocols[3];
	pthread_mutex_t lock;
	struct http_res *pending;	/* exchanges with news for the loop */
	bool woken;			/* a wake-up is on its way to the loop */
	struct http_defer *defers;	/* functions to run on the loop */
	volatile sig_atomic_t stop;
	lws_sorted_usec_list_t cron_sul;
	struct http_timer *timers;	/* armed timers; loop thread only */
	size_t out_total;		/* unsent answer bytes; under lock */
	int port;
	uv_loop_t *uv;			/* owned; NULL: lws's poll() loop */
	void *foreign_loops[1];		/* uv, as lws's info wants it */
	int fd_ceiling;			/* clients' sockets from here: closed */
	int64_t fd_warned_ms;		/* mono_ms of the last warning; loop */
	long fd_refused;		/* clients closed since; loop thread */
};

static void ex_release(struct http_res *ex);
static bool ex_mark_pending_locked(struct http_res *ex);

/* The server whose loop runs on this thread (http_server_run). */
static __thread struct http_server *loop_server;

/* ------------------------------------------------------------------ */
/* exchange lifetime */

static void hdrs_free(struct http_hdr *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

static void ex_free(struct http_res *ex)
{
	pthread_mutex_lock(&ex->srv->lock);
	ex->srv->out_total -= ex->out.len - ex->out_off;
	pthread_mutex_unlock(&ex->srv->lock);
	free(ex->path);
	free(ex->query);
	buf_release(&ex->body);
	hdrs_free(ex->hdrs, ex->nhdrs);
	hdrs_free(ex->rhdrs, ex->nrhdrs);
	free(ex->params);
	buf_release(&ex->out);
	free(ex);
}

static void ex_release(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	int left;

	pthread_mutex_lock(&srv->lock);
	left = --ex->refs;
	pthread_mutex_unlock(&srv->lock);
	if (left == 0)
		ex_free(ex);
}

/*
 * Puts ex on the pending list, taking a reference.  True when the caller
 * must wake the loop: only the first exchange queued since the loop last
 * drained the list needs a wake-up, the others ride along.
 */
static bool ex_mark_pending_locked(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	bool wake;

	if (loop_server == srv) {
		/* on the loop thread itself (ON_LOOP handlers, deferred
		 * work): no queue and no wake-up, ex_kick asks lws for a
		 * writable callback once the lock is released */
		ex->kick = true;
		return false;
	}
	if (ex->pending)
		return false;
	ex->pending = true;
	ex->refs++;
	ex->next_pending = srv->pending;
	srv->pending = ex;
	wake = !srv->woken;
	srv->woken = true;
	return wake;
}

/* After ex_mark_pending_locked, with the lock released: the writable
 * request of the loop thread's own answers, or the wake-up of the loop
 * for another thread's. */
static void ex_kick(struct http_res *ex, bool wake)
{
	if (ex->kick) {
		ex->kick = false;	/* loop thread only */
		if (ex->wsi)
			lws_callback_on_writable(ex->wsi);
	} else if (wake) {
		lws_cancel_service(ex->srv->ctx);
	}
}

static void ex_wake(struct http_res *ex)
{
	bool wake;

	pthread_mutex_lock(&ex->srv->lock);
	wake = ex_mark_pending_locked(ex);
	pthread_mutex_unlock(&ex->srv->lock);
	ex_kick(ex, wake);
}

/* ------------------------------------------------------------------ */
/* request parsing, loop thread */

static int hdr_add(struct http_hdr **list, size_t *n, const char *name,
		   size_t nlen, const char *value, size_t vlen)
{
	struct http_hdr *h;
	char *mem;
	size_t i;

	/* capacity doubles from 8: a request's headers cost a few
	 * reallocs, not one each */
	if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) {
		struct http_hdr *grown;

		grown = realloc(*list, (*n < 8 ? 8 : *n * 2) * sizeof(**list));
		if (!grown)
			return CHAT_ENOMEM;
		*list = grown;
	}
	mem = malloc(nlen + vlen + 2);
	if (!mem)
		return CHAT_ENOMEM;
	for (i = 0; i < nlen; i++)
		mem[i] = (char)tolower((unsigned char)name[i]);
	mem[nlen] = '\0';
	memcpy(mem + nlen + 1, value, vlen);
	mem[nlen + 1 + vlen] = '\0';
	h = &(*list)[*n];
	h->name = mem;
	h->name_len = nlen;
	h->value = mem + nlen + 1;
	h->value_len = vlen;
	(*n)++;
	return 0;
}

static bool request_id_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > HTTP_REQUEST_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static const char *hdr_find(const struct http_hdr *h, size_t n,
			    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static int role_level(const char *role)
{
	if (!role)
		return 0;
	if (strcmp(role, "admin") == 0)
		return 3;
	if (strcmp(role, "user") == 0)
		return 2;
	if (strcmp(role, "guest") == 0)
		return 1;
	return 0;
}

/* Identity headers count only with the internal secret. */
static void read_identity(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	struct http_req *req = &ex->req;
	const char *secret;

	if (!srv->cfg.internal_secret || !*srv->cfg.internal_secret)
		return;
	secret = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-internal");
	if (!secret || !crypto_str_equal(secret, srv->cfg.internal_secret))
		return;
	req->internal = true;
	req->user_id = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-user-id");
	req->role = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-role");
	req->session_id = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-session-id");
	if (req->user_id && (!*req->user_id || role_level(req->role) == 0)) {
		req->user_id = NULL;
		req->role = NULL;
		req->session_id = NULL;
	}
	if (req->session_id && !*req->session_id)
		req->session_id = NULL;
}

/* ------------------------------------------------------------------ */
/* dispatch */

static void run_handler(void *arg)
{
	struct http_res *ex = arg;

	log_set_request_id(ex->request_id);
	ex->route->handler(&ex->req, ex);
	log_set_request_id(NULL);
}

static int copy_params(struct http_res *ex, const struct http_route_match *m)
{
	size_t total = 0, off = 0;
	int i;

	for (i = 0; i < m->n; i++)
		total += m->name_lens[i] + m->value_lens[i] + 2;
	if (total == 0)
		return 0;
	ex->params = malloc(total);
	if (!ex->params)
		return CHAT_ENOMEM;
	for (i = 0; i < m->n; i++) {
		char *name = ex->params + off, *value;

		memcpy(name, m->names[i], m->name_lens[i]);
		name[m->name_lens[i]] = '\0';
		off += m->name_lens[i] + 1;
		value = ex->params + off;
		memcpy(value, m->values[i], m->value_lens[i]);
		value[m->value_lens[i]] = '\0';
		off += m->value_lens[i] + 1;
		ex->req.param_names[i] = name;
		ex->req.param_values[i] = value;
	}
	ex->req.nparams = m->n;
	return 0;
}

static void dispatch(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	struct http_req *req = &ex->req;
	const struct http_route *route = NULL;
	struct http_route_match m;
	enum http_route_result found;
	int rc;

	ex->dispatched = true;
	req->body = ex->body.data ? ex->body.data : "";
	req->body_len = ex->body.len;
	found = http_route_find(srv->cfg.routes, srv->cfg.nroutes,
				req->method, req->path, &route, &m);
	if (found == HTTP_ROUTE_NO_PATH && srv->cfg.fallback && !ex->upgrade) {
		srv->cfg.fallback(req, ex);	/* on the loop thread */
		return;
	}
	if (found == HTTP_ROUTE_NO_PATH) {
		http_res_error(ex, 404, "not_found", "no route for '%s %s'",
			       req->method, req->path);
		return;
	}
	if (found == HTTP_ROUTE_NO_METHOD) {
		http_res_error(ex, 405, "method_not_allowed",
			       "'%s' is not allowed on '%s'", req->method,
			       req->path);
		return;
	}
	rc = copy_params(ex, &m);
	if (rc) {
		http_res_chat_error(ex, rc, NULL);
		return;
	}
	/* WebSocket routes take upgrades only, and upgrades go nowhere else */
	if ((route->flags & HTTP_ROUTE_WEBSOCKET) && !ex->upgrade) {
		http_res_error(ex, 426, "upgrade_required",
			       "'%s' is a WebSocket endpoint", req->path);
		return;
	}
	if (!(route->flags & HTTP_ROUTE_WEBSOCKET) && ex->upgrade) {
		http_res_error(ex, 404, "not_found", "no WebSocket at '%s'",
			       req->path);
		return;
	}
	if (route->perm == HTTP_PERM_INTERNAL && !req->internal) {
		http_res_error(ex, 403, "forbidden", "internal route");
		return;
	}
	if (route->perm >= HTTP_PERM_GUEST && route->perm <= HTTP_PERM_ADMIN) {
		static const int need[] = {
			[HTTP_PERM_GUEST] = 1, [HTTP_PERM_USER] = 2,
			[HTTP_PERM_ADMIN] = 3,
		};

		if (!req->user_id) {
			http_res_error(ex, 401, "unauthorized",
				       "authentication required");
			return;
		}
		if (role_level(req->role) < need[route->perm]) {
			http_res_error(ex, 403, "forbidden",
				       "role '%s' may not do this", req->role);
			return;
		}
	}
	/* a leaked API key must not mint keys or manage sessions */
	if ((route->flags & HTTP_ROUTE_SESSION) && req->user_id &&
	    !req->session_id) {
		http_res_error(ex, 403, "interactive_login_required",
			       "this needs a signed-in session, not an API key");
		return;
	}
	ex->route = route;
	if ((route->flags & (HTTP_ROUTE_ON_LOOP | HTTP_ROUTE_WEBSOCKET)) ||
	    !srv->cfg.pool) {
		run_handler(ex);
		return;
	}
	rc = pool_submit(srv->cfg.pool, run_handler, ex);
	if (rc)
		http_res_error(ex, 503, "busy", "server is busy, retry later");
}

/* ------------------------------------------------------------------ */
/* writing, loop thread */

/*
 * Builds the status line and headers into a new buffer (LWS_PRE in front,
 * room bytes free after them): the first piece of the body goes out in
 * the same write.
 */
static int build_head(struct http_res *ex, size_t room, unsigned char **out,
		      size_t *out_len)
{
	bool nobody = ex->status == 204 || ex->status == 304 ||
		      (ex->status >= 100 && ex->status < 200);
	struct buf b;
	size_t i;
	int rc;

	buf_init(&b, SIZE_MAX);
	rc = buf_append(&b, "", 0);
	/* the headroom lws wants before the bytes it writes */
	for (i = 0; rc == 0 && i < LWS_PRE; i++)
		rc = buf_append(&b, "", 1);
	if (rc == 0)
		rc = buf_printf(&b, "HTTP/1.1 %d %s\r\n", ex->status,
				http1_reason(ex->status));
	if (rc == 0 && ex->ctype[0] && !nobody)
		rc = buf_printf(&b, "content-type: %s\r\n", ex->ctype);
	if (rc == 0)
		rc = buf_printf(&b, "x-request-id: %s\r\n", ex->request_id);
	for (i = 0; rc == 0 && i < ex->nrhdrs; i++)
		rc = buf_printf(&b, "%s: %s\r\n", ex->rhdrs[i].name,
				ex->rhdrs[i].value);
	if (rc) {
		/* nothing */
	} else if (nobody) {
		/* no length and no body */
	} else if (ex->content_length >= 0) {
		rc = buf_printf(&b, "content-length: %" PRId64 "\r\n",
				ex->content_length);
	} else if (ex->head_only) {
		/* HEAD of an answer of unknown length: nothing more to say */
	} else if (!ex->http10) {
		ex->chunked = true;
		rc = buf_puts(&b, "transfer-encoding: chunked\r\n");
	} else {
		ex->must_close = true;	/* the body ends at close */
	}
	if (rc == 0 && ex->must_close)
		rc = buf_puts(&b, "connection: close\r\n");
	else if (rc == 0 && ex->http10)
		rc = buf_puts(&b, "connection: keep-alive\r\n");
	if (rc == 0)
		rc = buf_puts(&b, "\r\n");
	*out_len = b.len - LWS_PRE;
	/* room for the first piece of the body */
	if (rc == 0 && b.cap < b.len + room + 1) {
		char *grown = realloc(b.data, b.len + room + 1);

		if (!grown)
			rc = CHAT_ENOMEM;
		else
			b.data = grown;
	}
	if (rc) {
		buf_release(&b);
		return -1;
	}
	ex->head_sent = true;
	if (nobody || ex->head_only) {
		pthread_mutex_lock(&ex->srv->lock);
		ex->srv->out_total -= ex->out.len - ex->out_off;
		ex->out_off = ex->out.len;
		pthread_mutex_unlock(&ex->srv->lock);
		ex->chunked = false;
	}
	*out = (unsigned char *)b.data;
	return 0;
}

static void log_access(struct http_res *ex)
{
	char note[sizeof(ex->note)];

	if (LOG_LINFO < log_level_current)
		return;
	pthread_mutex_lock(&ex->srv->lock);
	memcpy(note, ex->note, sizeof(note));
	pthread_mutex_unlock(&ex->srv->lock);
	log_set_request_id(ex->request_id);
	log_info("%s %s %d %" PRId64 "ms%s%s", ex->method, ex->path,
		 ex->status, mono_ms() - ex->t_start, note[0] ? " " : "", note);
	log_set_request_id(NULL);
}

static int conn_next(struct http_conn *c);

/* The exchange of c has been answered in full. */
static int conn_answered(struct http_conn *c)
{
	struct http_res *ex = c->ex;
	bool close_it = ex->must_close;

	ex->done = true;
	log_access(ex);
	c->ex = NULL;
	pthread_mutex_lock(&c->srv->lock);
	ex->wsi = NULL;
	pthread_mutex_unlock(&c->srv->lock);
	ex_release(ex);
	if (close_it || c->state == CONN_LINGER) {
		/* the answer leaves first: shut and linger at the next
		 * writable, which lws gives once its buffer is empty */
		c->state = CONN_LINGER;
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	return conn_next(c);
}

/* Writes what is pending of c's answer; -1 when the connection must
 * close at once. */
static int conn_write(struct http_conn *c)
{
	struct http_res *ex = c->ex;
	unsigned char *buf = NULL;
	size_t n = 0, hdr = 0, head = 0;
	bool last = false, aborted, cut, begun;

	if (!ex || ex->done)
		return 0;
	pthread_mutex_lock(&ex->srv->lock);
	aborted = ex->aborted;
	cut = ex->cut;
	begun = ex->begun;
	pthread_mutex_unlock(&ex->srv->lock);
	if (!begun && !aborted)
		return 0;
	if (cut || !begun) {
		/* a reader too slow, or a failure before any answer:
		 * nothing more is written */
		ex->status = ex->status ? ex->status : 500;
		log_access(ex);
		ex->done = true;
		return -1;
	}
	if (!ex->head_sent && build_head(ex, HTTP_WRITE_CHUNK + 32, &buf, &head))
		return -1;

	pthread_mutex_lock(&ex->srv->lock);
	n = ex->out.len - ex->out_off;
	if (n > HTTP_WRITE_CHUNK)
		n = HTTP_WRITE_CHUNK;
	last = ex->final && ex->out_off + n == ex->out.len;
	/* A known length, all of it written: the client may send its next
	 * request at once, so the transaction ends now, not at the final
	 * call (which is then a no-op). */
	if (ex->content_length >= 0 && !ex->head_only &&
	    ex->sent + (int64_t)n >= ex->content_length)
		last = true;
	ex->sent += (int64_t)n;
	if (!buf && (n || (last && ex->chunked))) {
		buf = malloc(LWS_PRE + n + 32);
		if (!buf) {
			pthread_mutex_unlock(&ex->srv->lock);
			return -1;
		}
	}
	if (n || (last && ex->chunked)) {
		if (ex->chunked && n)
			hdr = (size_t)snprintf((char *)buf + LWS_PRE + head, 20,
					       "%zx\r\n", n);
		if (n)		/* the last empty chunk has no data (NULL) */
			memcpy(buf + LWS_PRE + head + hdr,
			       ex->out.data + ex->out_off, n);
		ex->out_off += n;
		ex->srv->out_total -= n;
		if (ex->out_off == ex->out.len) {
			/* a long stream keeps no memory it no longer needs */
			if (ex->out.cap > 64 * 1024)
				buf_release(&ex->out);
			else
				buf_reset(&ex->out);
			ex->out_off = 0;
		}
	}
	pthread_mutex_unlock(&ex->srv->lock);

	if (buf) {
		size_t total = head + hdr + n;
		int wrote;

		if (ex->chunked && n) {
			memcpy(buf + LWS_PRE + total, "\r\n", 2);
			total += 2;
		}
		if (ex->chunked && last && !aborted) {
			memcpy(buf + LWS_PRE + total, "0\r\n\r\n", 5);
			total += 5;
		}
		wrote = lws_write(c->wsi, buf + LWS_PRE, total, LWS_WRITE_RAW);
		free(buf);
		if (wrote < (int)total)
			return -1;
		pthread_mutex_lock(&ex->srv->lock);
		ex->progress_ms = mono_ms();
		pthread_mutex_unlock(&ex->srv->lock);
	}
	if (!last) {
		pthread_mutex_lock(&ex->srv->lock);
		if (ex->out.len > ex->out_off || ex->aborted)
			lws_callback_on_writable(c->wsi);
		pthread_mutex_unlock(&ex->srv->lock);
		return 0;
	}
	/* aborted: what was written goes out, then the connection closes
	 * without the body's end (no last chunk, or short of the length) */
	if (aborted)
		ex->must_close = true;
	return conn_answered(c);
}

/* ------------------------------------------------------------------ */
/* connections, loop thread */

static struct http_res *ex_new(struct http_server *srv, struct lws *wsi)
{
	struct http_res *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	ex->srv = srv;
	ex->refs = 2;			/* connection + handler */
	ex->wsi = wsi;
	ex->t_start = mono_ms();
	ex->content_length = -1;
	buf_init(&ex->body, srv->cfg.max_body);
	buf_init(&ex->out, HTTP_MAX_PENDING_OUT);
	ex->req.res = ex;
	ex->req.server = srv;
	ex->req.app = srv->cfg.app;
	return ex;
}

static void conn_timeout(struct http_conn *c, int secs)
{
	lws_set_timeout(c->wsi, secs ? PENDING_TIMEOUT_USER_OK :
			NO_PENDING_TIMEOUT, secs);
}

static void conn_consume(struct http_conn *c, size_t n)
{
	if (n >= c->in.len) {
		/* an idle connection keeps no buffer */
		buf_release(&c->in);
		return;
	}
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	c->in.len -= n;
	c->in.data[c->in.len] = '\0';
}

static void conn_pause(struct http_conn *c, bool pause)
{
	if (c->paused == pause)
		return;
	c->paused = pause;
	lws_rx_flow_control(c->wsi, pause ? 0 : 1);
}

static const struct {
	int status;
	const char *code;
} refusal_codes[] = {
	{ 400, "bad_request" }, { 408, "request_timeout" },
	{ 413, "payload_too_large" }, { 414, "uri_too_long" },
	{ 417, "expectation_failed" }, { 426, "upgrade_required" },
	{ 431, "header_fields_too_large" }, { 501, "not_implemented" },
	{ 503, "busy" }, { 505, "http_version_not_supported" },
};

/*
 * Answers status and closes: the request (if its head was read) never
 * reaches a handler, and nothing more is read from this connection.
 * The exchange is c's, or a bare one made for the answer.
 */
static int conn_refuse(struct http_conn *c, int status, const char *why)
{
	struct http_res *ex = c->ex;
	const char *code = "bad_request";
	size_t i;

	for (i = 0; i < sizeof(refusal_codes) / sizeof(refusal_codes[0]); i++)
		if (refusal_codes[i].status == status)
			code = refusal_codes[i].code;
	if (!ex) {
		ex = ex_new(c->srv, c->wsi);
		if (!ex)
			return -1;
		c->ex = ex;
		snprintf(ex->method, sizeof(ex->method), "-");
	}
	/* a head refused before or while its exchange was filled in */
	if (!ex->path)
		ex->path = strdup("-");
	if (!ex->request_id[0] && uuid_v7(ex->request_id))
		return -1;		/* conn_closed frees ex */
	if (!ex->path)
		return -1;
	snprintf(ex->peer, sizeof(ex->peer), "%s", c->peer);
	ex->req.method = ex->method;
	ex->req.path = ex->path;
	ex->req.query = ex->query ? ex->query : "";
	ex->req.request_id = ex->request_id;
	ex->req.peer = ex->peer;
	log_set_request_id(ex->request_id);
	log_info("refused %d from %s: %s", status, c->peer, why);
	log_set_request_id(NULL);
	c->state = CONN_LINGER;
	conn_pause(c, false);		/* lingering drains what comes */
	ex->dispatched = true;
	ex->must_close = true;
	conn_timeout(c, HTTP_LINGER_TIMEOUT + HTTP_BODY_TIMEOUT);
	http_res_error(ex, status, code, "%s", why);
	return 0;
}

/* A new exchange for the head just read (its bytes still in c->in). */
static int conn_exchange(struct http_conn *c, const struct http1_request *h,
			 const char **why)
{
	struct http_res *ex;
	const char *q, *rid;
	size_t i, plen;
	bool bad = false;

	ex = ex_new(c->srv, c->wsi);
	if (!ex)
		return CHAT_ENOMEM;
	c->ex = ex;
	snprintf(ex->method, sizeof(ex->method), "%.*s", (int)h->method_len,
		 h->method);
	q = memchr(h->target, '?', h->target_len);
	plen = q ? (size_t)(q - h->target) : h->target_len;
	/* handlers and routes see decoded paths; the gateway encodes
	 * again when it forwards */
	ex->path = util_percent_decode(h->target, plen, &bad);
	if (bad) {
		*why = "malformed path";
		return CHAT_EINVAL;
	}
	ex->query = q ? strndup(q + 1, h->target_len - plen - 1) : strdup("");
	if (!ex->path || !ex->query)
		return CHAT_ENOMEM;
	for (i = 0; i < h->nfields; i++)
		if (hdr_add(&ex->hdrs, &ex->nhdrs, h->fields[i].name,
			    h->fields[i].name_len, h->fields[i].value,
			    h->fields[i].value_len))
			return CHAT_ENOMEM;
	ex->head_only = strcmp(ex->method, "HEAD") == 0;
	ex->http10 = h->minor == 0;
	ex->must_close = !h->keep_alive;
	ex->upgrade = h->websocket;
	snprintf(ex->peer, sizeof(ex->peer), "%s", c->peer);
	rid = hdr_find(ex->hdrs, ex->nhdrs, "x-request-id");
	if (rid && request_id_valid(rid))
		snprintf(ex->request_id, sizeof(ex->request_id), "%s", rid);
	else if (uuid_v7(ex->request_id))
		return CHAT_EIO;
	ex->req.method = ex->method;
	ex->req.path = ex->path;
	ex->req.query = ex->query;
	ex->req.request_id = ex->request_id;
	ex->req.peer = ex->peer;
	read_identity(ex);
	return 0;
}

/*
 * The upgrade request of c->ex is whole at the start of c->in (rc bytes):
 * checked, decided by its handler here; unless refused, the 101 goes out
 * and the connection carries WebSocket frames from now on (http-ws.c).
 */
static int conn_upgrade(struct http_conn *c, const struct http1_request *h,
			size_t head_len)
{
	struct http_server *srv = c->srv;
	struct http_res *ex = c->ex;
	const struct http1_field *ver = http1_field(h, "sec-websocket-version");
	const struct http1_field *key = http1_field(h, "sec-websocket-key");
	char accept[32];
	struct buf b;
	bool refused;
	int rc;

	if (h->content_length > 0 || h->chunked)
		return conn_refuse(c, 400, "an upgrade request has no body");
	if (!key || key->value_len != 24 ||
	    ws_frame_accept_key(key->value, key->value_len, accept))
		return conn_refuse(c, 400, "missing or malformed "
				   "Sec-WebSocket-Key");
	if (!ver || ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0) {
		http_res_header(ex, "sec-websocket-version", "13");
		return conn_refuse(c, 426, "only WebSocket version 13 is "
				   "supported");
	}
	conn_consume(c, head_len);
	c->state = CONN_WAIT;
	dispatch(ex);			/* WebSocket handlers run right here */
	pthread_mutex_lock(&srv->lock);
	refused = ex->begun;
	pthread_mutex_unlock(&srv->lock);
	if (refused) {
		ex->must_close = true;
		return 0;		/* the answer goes out as any other */
	}
	buf_init(&b, 1024);
	rc = buf_printf(&b, "%*sHTTP/1.1 101 Switching Protocols\r\n"
			"upgrade: websocket\r\nconnection: Upgrade\r\n"
			"sec-websocket-accept: %s\r\nx-request-id: %s\r\n\r\n",
			LWS_PRE, "", accept, ex->request_id);
	if (rc == 0 && lws_write(c->wsi, (unsigned char *)b.data + LWS_PRE,
				 b.len - LWS_PRE, LWS_WRITE_RAW) <
			       (int)(b.len - LWS_PRE))
		rc = -1;
	buf_release(&b);
	/* the exchange ends here: the WebSocket holds what it needs */
	c->ws = rc == 0 ? http_ws_raw_open(srv, c->wsi, ex, ex->path) : NULL;
	c->ex = NULL;
	pthread_mutex_lock(&srv->lock);
	ex->wsi = NULL;
	ex->closed = true;
	ex->done = true;
	pthread_mutex_unlock(&srv->lock);
	ex_release(ex);			/* the connection's reference */
	if (!c->ws)
		return -1;
	c->state = CONN_WS;
	conn_pause(c, false);
	if (c->in.len) {		/* frames sent before the 101 came */
		rc = http_ws_raw_rx(c->ws, (unsigned char *)c->in.data,
				    c->in.len);
		buf_release(&c->in);
		return rc;
	}
	buf_release(&c->in);
	return 0;
}

/* Reads what c has received as far as it goes; -1 closes c. */
static int conn_process(struct http_conn *c)
{
	struct http1_request h;
	const char *why = NULL;
	long rc;

	for (;;) {
		switch (c->state) {
		case CONN_HEAD:
			if (!c->in.len)
				return 0;
			rc = http1_parse_request(c->in.data, c->in.len,
						 &c->scan, &h, &why);
			if (rc == 0) {
				if (!c->head_timer) {
					c->head_timer = true;
					conn_timeout(c, c->srv->cfg.head_timeout_s);
				}
				return 0;
			}
			if (rc < 0)
				return conn_refuse(c, (int)-rc, why);
			if (conn_exchange(c, &h, &why))
				return why ? conn_refuse(c, 400, why) : -1;
			conn_timeout(c, 0);
			if (h.websocket)
				return conn_upgrade(c, &h, (size_t)rc);
			conn_consume(c, (size_t)rc);
			c->body_chunked = h.chunked;
			c->body_left = h.content_length > 0 ?
				       h.content_length : 0;
			memset(&c->chunk, 0, sizeof(c->chunk));
			if (c->body_left > (int64_t)c->srv->cfg.max_body)
				return conn_refuse(c, 413,
						   "request body too large");
			if (!c->body_chunked && !c->body_left) {
				c->state = CONN_WAIT;
				dispatch(c->ex);
				break;
			}
			c->state = CONN_BODY;
			conn_timeout(c, HTTP_BODY_TIMEOUT);
			if (h.expect_continue &&
			    lws_write(c->wsi, (unsigned char *)
				      "HTTP/1.1 100 Continue\r\n\r\n", 25,
				      LWS_WRITE_RAW) < 25)
				return -1;
			break;
		case CONN_BODY: {
			struct http_res *ex = c->ex;
			const char *data = c->in.data;
			size_t dlen = 0, used;
			bool done = false;

			if (!c->in.len)
				return 0;
			conn_timeout(c, HTTP_BODY_TIMEOUT);
			if (c->body_chunked) {
				rc = http1_chunked_feed(&c->chunk, c->in.data,
						c->in.len, c->srv->cfg.max_body,
						&data, &dlen, &done);
				if (rc == -413)
					return conn_refuse(c, 413, "request "
							   "body too large");
				if (rc < 0)
					return conn_refuse(c, 400, "malformed "
							   "chunked body");
				used = (size_t)rc;
			} else {
				dlen = c->in.len;
				if ((int64_t)dlen > c->body_left)
					dlen = (size_t)c->body_left;
				c->body_left -= (int64_t)dlen;
				used = dlen;
				done = c->body_left == 0;
			}
			if (dlen && buf_append(&ex->body, data, dlen))
				return conn_refuse(c, 413,
						   "request body too large");
			conn_consume(c, used);
			if (done) {
				conn_timeout(c, 0);
				c->state = CONN_WAIT;
				dispatch(ex);
			}
			break;
		}
		case CONN_WAIT:
			if (c->in.len >= HTTP_CONN_PAUSE_IN)
				conn_pause(c, true);
			return 0;
		case CONN_LINGER:
		case CONN_WS:
			buf_release(&c->in);
			return 0;
		}
	}
}

/* Ready for c's next request: read what a pipelining client sent. */
static int conn_next(struct http_conn *c)
{
	c->state = CONN_HEAD;
	memset(&c->scan, 0, sizeof(c->scan));
	c->head_timer = false;
	conn_pause(c, false);
	conn_timeout(c, c->srv->cfg.idle_timeout_s);
	return conn_process(c);
}

static int conn_rx(struct http_conn *c, void *in, size_t len)
{
	if (c->state == CONN_WS)
		return http_ws_raw_rx(c->ws, in, len);
	if (c->state == CONN_LINGER)
		return 0;		/* read and dropped */
	if (buf_append(&c->in, in, len))
		return -1;		/* past the pause: cannot happen */
	return conn_process(c);
}

static int conn_writable(struct http_conn *c)
{
	if (c->state == CONN_WS) {
		int rc = http_ws_raw_writable(c->ws);

		if (rc <= 0)
			return rc;
		c->state = CONN_LINGER;	/* shut at the next writable */
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->state == CONN_LINGER && !c->ex) {
		if (c->shut)
			return 0;
		/* all written: shut our side; the client's EOF or the
		 * deadline closes the connection */
		c->shut = true;
		shutdown((int)lws_get_socket_fd(c->wsi), SHUT_WR);
		conn_timeout(c, HTTP_LINGER_TIMEOUT);
		return 0;
	}
	return conn_write(c);
}

static void conn_closed(struct http_conn *c)
{
	struct http_res *ex = c->ex;

	buf_release(&c->in);
	if (c->ws) {
		http_ws_raw_closed(c->ws, c->wsi);
		c->ws = NULL;
	}
	if (!ex)
		return;
	c->ex = NULL;
	pthread_mutex_lock(&c->srv->lock);
	ex->wsi = NULL;
	ex->closed = true;
	pthread_mutex_unlock(&c->srv->lock);
	if (!ex->done) {
		ex->status = ex->status ? ex->status : 499;
		log_access(ex);
	}
	if (!ex->dispatched)
		ex_release(ex);		/* no handler will make a final call */
	ex_release(ex);
}

/* The loop's share of cross-thread work: pending exchanges and defers. */
static void drain_pending(struct http_server *srv)
{
	struct http_res *list, *ex, *next;
	struct http_defer *defers, *d, *dnext, *rev = NULL;

	pthread_mutex_lock(&srv->lock);
	list = srv->pending;
	srv->pending = NULL;
	srv->woken = false;
	defers = srv->defers;
	srv->defers = NULL;
	pthread_mutex_unlock(&srv->lock);

	for (ex = list; ex; ex = next) {
		/* next before pending = false: from then on another thread
		 * may put ex on the new list and rewrite next_pending */
		pthread_mutex_lock(&srv->lock);
		next = ex->next_pending;
		ex->pending = false;
		pthread_mutex_unlock(&srv->lock);
		if (ex->wsi)
			lws_callback_on_writable(ex->wsi);
		ex_release(ex);
	}
	for (d = defers; d; d = dnext) {	/* run in submission order */
		dnext = d->next;
		d->next = rev;
		rev = d;
	}
	for (d = rev; d; d = dnext) {
		dnext = d->next;
		d->fn(d->arg);
		free(d);
	}
}

/* ------------------------------------------------------------------ */
/* the lws callbacks */

/* A client refused for the descriptor reserve (its socket is fd):
 * counted, and warned about once in HTTP_FD_WARN_MS.  Loop thread. */
static void fd_refuse(struct http_server *srv, int fd)
{
	int64_t now = mono_ms();

	srv->fd_refused++;
	if (srv->fd_warned_ms && now - srv->fd_warned_ms < HTTP_FD_WARN_MS)
		return;
	log_warn("descriptors nearly exhausted (a client's socket is %d, "
		 "clients get up to %d): %ld closed at once since the last "
		 "warning", fd, srv->fd_ceiling - 1, srv->fd_refused);
	srv->fd_warned_ms = now;
	srv->fd_refused = 0;
}

/* The first descriptor number a client's socket may not have: the
 * process's limit (or cfg.max_fds, lws's table, when lower) less the
 * reserve. */
static int fd_ceiling(const struct http_server_config *cfg)
{
	struct rlimit rl;
	long limit = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT32_MAX
			? INT32_MAX : (long)rl.rlim_cur;
	if (cfg->max_fds > 0 && cfg->max_fds < limit)
		limit = cfg->max_fds;
	return limit > 2 * HTTP_FD_RESERVE ? (int)(limit - HTTP_FD_RESERVE)
					   : (int)(limit / 2);
}

/* Client connections, accepted by lws as raw sockets. */
static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len)
{
	struct http_conn *c = user;
	struct lws_context *ctx = lws_get_context(wsi);
	struct http_server *srv = ctx ? lws_context_user(ctx) : NULL;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		if (!c || !srv)
			return -1;
		if (lws_get_socket_fd(wsi) >= srv->fd_ceiling) {
			fd_refuse(srv, lws_get_socket_fd(wsi));
			return -1;	/* c stays zeroed: no RAW_CLOSE work */
		}
		memset(c, 0, sizeof(*c));
		c->srv = srv;
		c->wsi = wsi;
		buf_init(&c->in, HTTP_CONN_MAX_IN);
		lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
		conn_timeout(c, srv->cfg.head_timeout_s);
		c->head_timer = true;
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return c ? conn_rx(c, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c ? conn_writable(c) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		if (c && c->srv)
			conn_closed(c);
		return 0;
	default:		/* EVENT_WAIT_CANCELLED: http_callback's */
		return 0;
	}
}

/* lws's own connections: the WebSockets we open (http_ws_connect). */
static int http_callback(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct http_server *srv = ctx ? lws_context_user(ctx) : NULL;
	int ws_ret;

	/* WebSocket connections, server and client side: http-ws.c */
	if (http_ws_lws_callback(srv, wsi, (int)reason, in, len, &ws_ret))
		return ws_ret;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return -1;		/* never: clients are raw sockets */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (srv)
			drain_pending(srv);
		/* http_server_stop's wake-up: lws_service returns when
		 * the uv loop stops (the poll loop checks srv->stop) */
		if (srv && srv->stop && srv->uv)
			uv_stop(srv->uv);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ------------------------------------------------------------------ */
/* public: server */

static void cron_fire(lws_sorted_usec_list_t *sul)
{
	struct http_server *srv =
		lws_container_of(sul, struct http_server, cron_sul);

	srv->cfg.cron(srv->cfg.app);
	lws_sul_schedule(srv->ctx, 0, &srv->cron_sul, cron_fire,
			 (lws_usec_t)srv->cfg.cron_ms * LWS_US_PER_MS);
}

static void lws_log_to_ours(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_error("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

/* Runs the closes lws has started on the uv loop, until nothing is
 * left on it (a budget in case something stays active). */
static void server_uv_drain(struct http_server *s)
{
	int budget = 10000;

	while (budget-- > 0 && uv_run(s->uv, UV_RUN_NOWAIT) != 0)
		;
}

/*
 * Creates the lws context on a uv loop of ours, or on lws's own poll()
 * loop when cfg.poll_loop asks for it or lws cannot load its libuv
 * plugin (that fails the context before anything is on the loop, so it
 * is tried again without).
 */
static int server_ctx_create(struct http_server *srv,
			     struct lws_context_creation_info *info)
{
	if (!srv->cfg.poll_loop) {
		srv->uv = malloc(sizeof(*srv->uv));
		if (!srv->uv)
			return CHAT_ENOMEM;
		if (uv_loop_init(srv->uv) != 0) {
			free(srv->uv);
			srv->uv = NULL;
			return CHAT_EIO;
		}
		srv->foreign_loops[0] = srv->uv;
		info->foreign_loops = srv->foreign_loops;
		info->options |= LWS_SERVER_OPTION_LIBUV;
		srv->ctx = lws_create_context(info);
		if (srv->ctx)
			return 0;
		if (uv_loop_close(srv->uv) == 0)
			free(srv->uv);	/* else lws left a handle on it */
		srv->uv = NULL;
		info->foreign_loops = NULL;
		info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBUV;
		log_warn("libwebsockets cannot run on libuv (is "
			 "libwebsockets-evlib-uv installed?): the loop polls "
			 "every descriptor");
	}
	srv->ctx = lws_create_context(info);
	return srv->ctx ? 0 : CHAT_EIO;
}

/*
 * Ends the lws context and the uv loop.  On a foreign uv loop lws 4.1
 * closes its handles through the loop: lws_context_destroy starts the
 * closes, the loop runs them, and a second call frees what is left (the
 * first never does on a foreign loop: its static handles are still
 * closing when the last connection's close callback looks).  srv->ctx
 * turns NULL when the context is freed (info.pcontext).
 */
static void server_ctx_destroy(struct http_server *s)
{
	lws_context_destroy(s->ctx);
	if (s->uv) {
		server_uv_drain(s);
		if (s->ctx)
			lws_context_destroy(s->ctx);
		server_uv_drain(s);
		if (uv_loop_close(s->uv) == 0)
			free(s->uv);
		else
			log_warn("event loop closed with handles open");
		s->uv = NULL;
	}
	s->ctx = NULL;
}

int http_server_new(const struct http_server_config *cfg,
		    struct http_server **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct http_server *srv;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return CHAT_ENOMEM;
	srv->cfg = *cfg;
	srv->fd_ceiling = fd_ceiling(cfg);
	if (!srv->cfg.max_body)
		srv->cfg.max_body = HTTP_DEFAULT_MAX_BODY;
	if (srv->cfg.head_timeout_s <= 0)
		srv->cfg.head_timeout_s = HTTP_HEAD_TIMEOUT;
	if (srv->cfg.idle_timeout_s <= 0)
		srv->cfg.idle_timeout_s = HTTP_IDLE_TIMEOUT;
	pthread_mutex_init(&srv->lock, NULL);
	lws_set_log_level(LLL_ERR, lws_log_to_ours);
	/* Outbound WebSockets (http-ws.c) use this protocol, and lws gives
	 * each one an rx buffer of rx_buffer_size (4 KiB by default) for as
	 * long as it is open: 1 KiB keeps an idle relay small, and a long
	 * message arrives in more pieces, which http-ws.c joins anyway.
	 * tx_packet_size so that a send is not cut to the rx size. */
	srv->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = http_callback,
		.rx_buffer_size = HTTP_WS_CLIENT_RX,
		.tx_packet_size = HTTP_WS_CLIENT_TX,
	};
	srv->protocols[1] = (struct lws_protocols){
		.name = HTTP_RAW_PROTOCOL,
		.callback = raw_callback,
		.per_session_data_size = sizeof(struct http_conn),
	};
	memset(&info, 0, sizeof(info));
	info.protocols = srv->protocols;
	info.user = srv;
	info.pcontext = &srv->ctx;	/* NULL once lws frees it */
	/* lws parses only the heads of upgrades that http1.c let through */
	info.max_http_header_data = HTTP1_MAX_HEAD + 64;
	info.max_http_header_pool = 256;
	info.keepalive_timeout = 60;
	info.timeout_secs = 30;
	if (cfg->max_fds > 0)
		info.fd_limit_per_thread = (unsigned)cfg->max_fds;
	/* clients arrive as raw sockets of our protocol (see the top) */
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 |
		       LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = HTTP_RAW_PROTOCOL;
	if (cfg->unix_path) {
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = cfg->unix_path;
	} else {
		info.iface = cfg->host ? cfg->host : "127.0.0.1";
		info.port = cfg->port ? cfg->port : CONTEXT_PORT_NO_LISTEN_SERVER;
	}
	if (!cfg->unix_path && cfg->port == 0) {
		snprintf(err, errlen, "an ephemeral port is not supported");
		goto fail;
	}
	if (server_ctx_create(srv, &info) != 0) {
		snprintf(err, errlen, "cannot listen on '%s:%d'",
			 info.iface, cfg->port);
		goto fail;
	}
	/* on a foreign uv loop lws returns a context it has begun to
	 * destroy when the listen socket failed (no default vhost): its
	 * closes run first, then the destroy goes on from there */
	srv->vhost = lws_get_vhost_by_name(srv->ctx, "default");
	if (!srv->vhost) {
		snprintf(err, errlen, "cannot listen on '%s:%d'",
			 info.iface, cfg->port);
		if (srv->uv)
			server_uv_drain(srv);
		server_ctx_destroy(srv);
		goto fail;
	}
	srv->port = cfg->port;
	if (cfg->cron && cfg->cron_ms > 0)
		lws_sul_schedule(srv->ctx, 0, &srv->cron_sul, cron_fire,
				 (lws_usec_t)cfg->cron_ms * LWS_US_PER_MS);
	*out = srv;
	return 0;
fail:
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return CHAT_EIO;

}

struct lws_context *http_server_lws_context(struct http_server *s)
{
	return s->ctx;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_run(struct http_server *s)
{
	loop_server = s;
	/* on libuv, lws_service runs the uv loop until uv_stop */
	while (!s->stop)
		if (lws_service(s->ctx, 0) < 0)
			return CHAT_EIO;
	return 0;
}

const char *http_server_loop_name(const struct http_server *s)
{
	return s->uv ? "epoll" : "poll";
}

void http_server_stop(struct http_server *s)
{
	s->stop = 1;
	lws_cancel_service(s->ctx);
}

static void timer_fire(lws_sorted_usec_list_t *sul)
{
	struct http_timer *t = lws_container_of(sul, struct http_timer, sul);

	if (t->prev)
		t->prev->next = t->next;
	else
		t->srv->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->fn(t->arg);
	free(t);
}

/* Loop thread (through a defer): lists and schedules a timer. */
static void timer_arm(void *arg)
{
	struct http_timer *t = arg;

	t->prev = NULL;
	t->next = t->srv->timers;
	if (t->next)
		t->next->prev = t;
	t->srv->timers = t;
	lws_sul_schedule(t->srv->ctx, 0, &t->sul, timer_fire,
			 (lws_usec_t)t->delay_ms * LWS_US_PER_MS);
}

void http_server_free(struct http_server *s)
{
	struct http_defer *d, *next;
	struct http_timer *t, *tnext;

	if (!s)
		return;
	lws_sul_cancel(&s->cron_sul);
	for (t = s->timers; t; t = tnext) {
		tnext = t->next;
		lws_sul_cancel(&t->sul);
		free(t);
	}
	server_ctx_destroy(s);
	drain_pending(s);
	for (d = s->defers; d; d = next) {
		next = d->next;
		if (d->fn == timer_arm)
			free(d->arg);	/* a timer never armed */
		free(d);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int http_server_defer(struct http_server *s, void (*fn)(void *), void *arg)
{
	struct http_defer *d = malloc(sizeof(*d));

	if (!d)
		return CHAT_ENOMEM;
	d->fn = fn;
	d->arg = arg;
	pthread_mutex_lock(&s->lock);
	d->next = s->defers;
	s->defers = d;
	pthread_mutex_unlock(&s->lock);
	lws_cancel_service(s->ctx);
	return 0;
}

int http_server_after(struct http_server *s, int64_t delay_ms,
		      void (*fn)(void *), void *arg)
{
	struct http_timer *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return CHAT_ENOMEM;
	t->srv = s;
	t->fn = fn;
	t->arg = arg;
	t->delay_ms = delay_ms < 0 ? 0 : delay_ms;
	rc = http_server_defer(s, timer_arm, t);
	if (rc < 0)
		free(t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* public: request */

const char *http_req_header(struct http_req *req, const char *name)
{
	return hdr_find(req->res->hdrs, req->res->nhdrs, name);
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	int i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->param_names[i], name) == 0)
			return req->param_values[i];
	return NULL;
}

/* Decodes %XX and '+' of s[0..n) into out; CHAT_ETOOBIG if it won't fit. */
static int url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%' && i + 2 < n && util_hex_value(s[i + 1]) >= 0 &&
		    util_hex_value(s[i + 2]) >= 0) {
			c = util_hex_value(s[i + 1]) * 16 + util_hex_value(s[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= outlen)
			return CHAT_ETOOBIG;
		out[o++] = (char)c;
	}
	if (o >= outlen)
		return CHAT_ETOOBIG;
	out[o] = '\0';
	return 0;
}

int http_req_query(const struct http_req *req, const char *name, char *out,
		   size_t outlen)
{
	const char *p = req->query;
	size_t nlen = strlen(name);

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		char key[256];

		if (klen < sizeof(key) && url_decode(p, klen, key,
						     sizeof(key)) == 0 &&
		    strlen(key) == nlen && memcmp(key, name, nlen) == 0) {
			if (!eq)
				return url_decode("", 0, out, outlen);
			return url_decode(eq + 1, plen - klen - 1, out, outlen);
		}
		p = amp ? amp + 1 : NULL;
	}
	return CHAT_ENOTFOUND;
}

char **http_req_headers(struct http_req *req, size_t *n)
{
	struct http_res *ex = req->res;
	char **out;
	size_t i;

	*n = 0;
	out = calloc(ex->nhdrs + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < ex->nhdrs; i++) {
		const struct http_hdr *h = &ex->hdrs[i];

		out[i] = malloc(h->name_len + h->value_len + 3);
		if (!out[i]) {
			http_headers_free(out, i);
			return NULL;
		}
		memcpy(out[i], h->name, h->name_len);
		memcpy(out[i] + h->name_len, ": ", 2);
		memcpy(out[i] + h->name_len + 2, h->value, h->value_len + 1);
	}
	*n = ex->nhdrs;
	return out;
}

void http_headers_free(char **h, size_t n)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < n; i++)
		free(h[i]);
	free(h);
}

/* ------------------------------------------------------------------ */
/* public: response */

int http_res_header(struct http_res *res, const char *name, const char *value)
{
	int rc;

	if (strpbrk(value, "\r\n"))
		return CHAT_EINVAL;	/* whichever header: no line break */
	if (strcasecmp(name, "content-length") == 0) {
		char *endp;
		long long v = strtoll(value, &endp, 10);

		if (*endp || v < 0)
			return CHAT_EINVAL;
		pthread_mutex_lock(&res->srv->lock);
		res->content_length = v;
		pthread_mutex_unlock(&res->srv->lock);
		return 0;
	}
	if (strcasecmp(name, "content-type") == 0) {
		pthread_mutex_lock(&res->srv->lock);
		snprintf(res->ctype, sizeof(res->ctype), "%s", value);
		pthread_mutex_unlock(&res->srv->lock);
		return 0;
	}
	if (strlen(name) > 100 || strpbrk(name, "\r\n: "))
		return CHAT_EINVAL;
	pthread_mutex_lock(&res->srv->lock);
	rc = hdr_add(&res->rhdrs, &res->nrhdrs, name, strlen(name), value,
		     strlen(value));
	pthread_mutex_unlock(&res->srv->lock);
	return rc;
}

int http_res_begin(struct http_res *res, int status, const char *ctype)
{
	bool wake;

	pthread_mutex_lock(&res->srv->lock);
	if (res->begun) {
		pthread_mutex_unlock(&res->srv->lock);
		return CHAT_EINVAL;
	}
	res->status = status;
	if (ctype)
		snprintf(res->ctype, sizeof(res->ctype), "%s", ctype);
	res->begun = true;
	res->progress_ms = mono_ms();
	wake = ex_mark_pending_locked(res);
	pthread_mutex_unlock(&res->srv->lock);
	ex_kick(res, wake);
	return 0;
}

/*
 * Under srv->lock: whether res's client is too slow to be written to.
 * A fast writer may get ahead of a fast reader by megabytes for a few
 * milliseconds, so the per-answer backlog counts only once the socket
 * has taken nothing for HTTP_STALL_MS; past the whole server's total it
 * is cut at once (and one answer never holds more than
 * HTTP_MAX_PENDING_OUT: buf_append refuses).
 */
static bool out_stalled(const struct http_res *res)
{
	size_t backlog = res->out.len - res->out_off;

	if (res->srv->out_total > HTTP_MAX_OUT_TOTAL)
		return true;
	return backlog > HTTP_MAX_STREAM_BACKLOG &&
	       mono_ms() - res->progress_ms > HTTP_STALL_MS;
}

int http_res_write(struct http_res *res, const void *data, size_t len)
{
	struct http_server *srv = res->srv;
	bool wake = false;
	int rc = 0;

	pthread_mutex_lock(&srv->lock);
	if (res->closed || res->aborted) {
		rc = CHAT_ECLOSED;
	} else if (res->head_only) {
		rc = 0;
	} else if (!res->begun || res->final) {
		rc = CHAT_EINVAL;
	} else if (out_stalled(res)) {
		/* a reader too slow: cut off, not buffered for */
		res->aborted = true;
		res->cut = true;
		snprintf(res->note, sizeof(res->note),
			 "cut off: the client reads too slowly");
		rc = CHAT_ETOOBIG;
		wake = ex_mark_pending_locked(res);
	} else {
		rc = buf_append(&res->out, data, len);
		if (rc == 0)
			srv->out_total += len;
	}
	if (rc == 0 && !res->head_only)
		wake = ex_mark_pending_locked(res);
	pthread_mutex_unlock(&srv->lock);
	ex_kick(res, wake);
	return rc;
}

void http_res_abort(struct http_res *res)
{
	pthread_mutex_lock(&res->srv->lock);
	res->aborted = true;
	res->final = true;
	pthread_mutex_unlock(&res->srv->lock);
	ex_wake(res);
	ex_release(res);		/* the handler's reference */
}

void http_res_end(struct http_res *res)
{
	pthread_mutex_lock(&res->srv->lock);
	res->final = true;
	pthread_mutex_unlock(&res->srv->lock);
	ex_wake(res);
	ex_release(res);		/* the handler's reference */
}

bool http_res_closed(const struct http_res *res)
{
	bool closed;

	pthread_mutex_lock(&res->srv->lock);
	closed = res->closed;
	pthread_mutex_unlock(&res->srv->lock);
	return closed;
}

/* All of it under one lock, so the loop never sees half an answer. */
void http_res_note(struct http_res *res, const char *fmt, ...)
{
	char note[sizeof(res->note)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&res->srv->lock);
	memcpy(res->note, note, sizeof(note));
	pthread_mutex_unlock(&res->srv->lock);
}

void http_res_send(struct http_res *res, int status, const char *ctype,
		   char *body, size_t len)
{
	bool wake = false;

	pthread_mutex_lock(&res->srv->lock);
	if (!res->begun) {
		res->status = status;
		if (ctype)
			snprintf(res->ctype, sizeof(res->ctype), "%s", ctype);
		res->content_length = (int64_t)len;
		res->begun = true;
		if (len && !res->head_only && !res->closed) {
			if (buf_append(&res->out, body, len))
				res->content_length = (int64_t)res->out.len;
			res->srv->out_total += res->out.len;
		}
		res->final = true;
		wake = ex_mark_pending_locked(res);
	}
	pthread_mutex_unlock(&res->srv->lock);
	free(body);
	ex_kick(res, wake);
	ex_release(res);		/* the handler's reference */
}

void http_res_json(struct http_res *res, int status, cJSON *json)
{
	char *text = NULL;

	if (json) {
		text = json_print(json);
		cJSON_Delete(json);
		if (!text) {
			http_res_send(res, 500, "application/json",
				      strdup("{\"error\":{\"code\":\"internal\","
					     "\"message\":\"out of memory\"}}"),
				      56);
			return;
		}
	}
	http_res_send(res, status, text ? "application/json" : NULL, text,
		      text ? strlen(text) : 0);
}

void http_res_error(struct http_res *res, int status, const char *code,
		    const char *fmt, ...)
{
	char msg[512];
	cJSON *root, *err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	cJSON_AddStringToObject(err, "request_id", res->request_id);
	http_res_json(res, status, root);
}

static const struct {
	int rc;
	int status;
	const char *code;
} error_map[] = {
	{ CHAT_EINVAL, 400, "invalid_request" },
	{ CHAT_EPARSE, 400, "invalid_json" },
	{ CHAT_EAUTH, 401, "unauthorized" },
	{ CHAT_EEXPIRED, 401, "token_expired" },
	{ CHAT_ECRYPTO, 401, "invalid_token" },
	{ CHAT_EPERM, 403, "forbidden" },
	{ CHAT_ENOTFOUND, 404, "not_found" },
	{ CHAT_EEXIST, 409, "conflict" },
	{ CHAT_ECONFLICT, 409, "conflict" },
	{ CHAT_ETOOBIG, 413, "payload_too_large" },
	{ CHAT_EBUSY, 503, "busy" },
	{ CHAT_EUPSTREAM, 503, "upstream_unavailable" },
	{ CHAT_ETIMEDOUT, 504, "timeout" },
};

void http_res_chat_error(struct http_res *res, int rc, const char *message)
{
	size_t i;

	for (i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++)
		if (error_map[i].rc == rc) {
			http_res_error(res, error_map[i].status,
				       error_map[i].code, "%s",
				       message ? message : chat_strerror(rc));
			return;
		}
	http_res_error(res, 500, "internal", "%s",
		       message ? message : chat_strerror(rc));
}
