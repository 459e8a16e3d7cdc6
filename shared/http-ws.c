/*
 * http-ws.c - WebSocket connections on the HTTP server's lws loop, both
 * the server side of HTTP_ROUTE_WEBSOCKET routes and outbound clients
 * (see http-ws.h for the contract).
 *
 * Every WebSocket wsi carries its struct http_ws as lws "opaque user
 * data"; http-server.c hands each lws callback to http_ws_lws_callback
 * first, which takes those of such wsis.  Client wsis get it from the
 * connect info, server wsis from http_ws_upgrade during the handshake.
 *
 * Threads: lws calls and the app's callbacks happen on the loop thread.
 * http_ws_send / http_ws_close append to the queue under ws->lock and
 * wake the loop through http_server_defer, whose function asks lws for a
 * writable callback.  Only the loop thread takes messages off the queue.
 *
 * Lifetime: refs counts the connection (dropped when lws closes the wsi),
 * the owner (http_ws_release), a pending server-side decision (the
 * registry, dropped by http_ws_accept / http_ws_refuse) and a scheduled
 * wake-up; the last one frees.
 *
 * Pending decisions: a handler that returns without deciding leaves its
 * WebSocket in the registry, keyed by its struct http_res, where the
 * later http_ws_accept / http_ws_refuse find it.  A handler that accepts
 * before returning also puts it there, for http_ws_upgrade to pick up
 * and bind to the connection.
 */
#include "http-ws.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "url.h"
#include "utf8.h"
#include "util.h"
#include "ws-frame.h"
#include "banned.h"

#define WS_WRITE_CHUNK		(32 * 1024)	/* one frame per writable */
#define WS_MAX_HEADERS		32		/* client handshake headers */
#define WS_REASON_MAX		120		/* close reason, bytes */
#define WS_URL_MAX		4096
/* Server side: an idle client is pinged, and closed when nothing at all
 * (a pong included) has come for WS_IDLE_S. */
#define WS_PING_MS		30000
#define WS_IDLE_S		75
#define WS_CLOSE_WAIT_S		2	/* for the peer's close frame */
#define WS_PATH_LOG_MAX		255	/* bytes of a path kept for the log */

enum ws_state {
	WS_PENDING,		/* server: 101 sent, handler not decided */
	WS_ACCEPTED,		/* accepted, on_open not yet called */
	WS_OPEN,		/* on_open called */
	WS_GONE,		/* connection closed */
};

struct ws_msg {
	struct ws_msg *next;
	size_t len;
	size_t off;		/* bytes written so far */
	bool binary;
	unsigned char data[];	/* LWS_PRE headroom, then len bytes */
};

/* A control frame being read and the pong owed.  Most connections only
 * ever get the pongs of the server's pings, so these 250 bytes are made
 * when a control frame arrives and given back when nothing is owed. */
struct ws_ctl {
	unsigned char ctl[WS_CONTROL_MAX];	/* a control frame's payload */
	size_t ctl_len;
	unsigned char pong[WS_CONTROL_MAX];	/* the pong owed */
	size_t pong_len;
};

/* Sized for an idle connection (issue 16: memory per idle WebSocket):
 * what only some connections need, or only for a moment, is allocated
 * on demand - the close reason, the control frame, the client's
 * handshake headers, the strings for the log. */
struct http_ws {
	struct http_server *srv;
	pthread_mutex_t lock;
	int refs;			/* under lock */
	bool client;
	enum ws_state state;		/* loop thread */
	struct lws *wsi;		/* loop thread; NULL once gone */
	bool established;		/* lws opened it; loop thread */
	bool connecting;		/* inside lws_client_connect_via_info */
	const struct http_ws_ops *ops;	/* NULL while pending */
	void *arg;
	struct http_res *res;		/* pending decision; registry key */
	struct http_ws *next_reg;	/* registry link */
	bool in_registry;

	/* outgoing, under lock */
	struct ws_msg *out_head, *out_tail;
	size_t queued;
	bool closing;			/* no more sends */
	bool close_now;			/* drop the queue, close at once */
	int close_code;
	char *close_reason;		/* owned, NULL: none */
	bool wake_pending;

	/* incoming, loop thread */
	struct buf rx;
	bool rx_binary;
	struct ws_msg *held_head, *held_tail;	/* while pending */
	size_t held;
	int peer_code;			/* 0 until the peer's close */
	int sent_code;			/* 0 until we closed */
	bool open_due;			/* accepted: on_open at next chance */
	bool close_due;			/* client failed inside connect */
	int due_code;

	/* server side: frames read and written here (ws-frame.h) on the
	 * HTTP server's raw connection; loop thread */
	bool raw;
	struct ws_frame_parser fp;
	struct ws_ctl *cf;		/* owned, NULL: no control frame */
	bool pong_due, ping_due;
	bool close_sent, peer_closed;
	int64_t last_rx_ms;
	lws_sorted_usec_list_t ping_sul;

	/* client handshake headers, owned (the array and each) */
	char **headers;
	size_t nheaders;

	/* for the log, owned; NULL when none (or out of memory) */
	char *path;
	char *request_id;
	int64_t t_start;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_ws *registry;

/* ------------------------------------------------------------------ */
/* lifetime */

static void msgs_free(struct ws_msg *m)
{
	struct ws_msg *next;

	for (; m; m = next) {
		next = m->next;
		free(m);
	}
}

static void ws_headers_free(struct http_ws *ws)
{
	size_t i;

	for (i = 0; i < ws->nheaders; i++)
		free(ws->headers[i]);
	free(ws->headers);
	ws->headers = NULL;
	ws->nheaders = 0;
}

static void ws_free(struct http_ws *ws)
{
	msgs_free(ws->out_head);
	msgs_free(ws->held_head);
	buf_release(&ws->rx);
	ws_headers_free(ws);
	free(ws->close_reason);
	free(ws->cf);
	free(ws->path);
	free(ws->request_id);
	pthread_mutex_destroy(&ws->lock);
	free(ws);
}

/* *dst = a copy of src, at most max bytes of it (0: all); NULL for an
 * empty src, or when out of memory: these strings are for the log and
 * the close frame, which do without them. */
static void ws_set_str(char **dst, const char *src, size_t max)
{
	size_t n = src ? strlen(src) : 0;

	free(*dst);
	*dst = NULL;
	if (max && n > max)
		n = max;
	if (n == 0)
		return;
	*dst = malloc(n + 1);
	if (*dst) {
		memcpy(*dst, src, n);
		(*dst)[n] = '\0';
	}
}

static const char *ws_path(const struct http_ws *ws)
{
	return ws->path ? ws->path : "";
}

/* Gives the control frame's memory back once nothing is owed. */
static void ws_ctl_trim(struct http_ws *ws)
{
	if (ws->cf && ws->cf->ctl_len == 0 && !ws->pong_due) {
		free(ws->cf);
		ws->cf = NULL;
	}
}

static void ws_ref(struct http_ws *ws)
{
	pthread_mutex_lock(&ws->lock);
	ws->refs++;
	pthread_mutex_unlock(&ws->lock);
}

static void ws_unref(struct http_ws *ws)
{
	int left;

	pthread_mutex_lock(&ws->lock);
	left = --ws->refs;
	pthread_mutex_unlock(&ws->lock);
	if (left == 0)
		ws_free(ws);
}

static struct http_ws *ws_new(struct http_server *srv, int refs)
{
	struct http_ws *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return NULL;
	ws->srv = srv;
	ws->refs = refs;
	pthread_mutex_init(&ws->lock, NULL);
	buf_init(&ws->rx, HTTP_WS_MAX_MESSAGE);
	ws->t_start = mono_ms();
	return ws;
}

/* ---- registry of server-side decisions, keyed by the exchange ---- */

static struct http_ws *registry_find(struct http_res *res)
{
	struct http_ws *ws;

	pthread_mutex_lock(&registry_lock);
	for (ws = registry; ws && ws->res != res; ws = ws->next_reg)
		;
	pthread_mutex_unlock(&registry_lock);
	return ws;
}

static void registry_add(struct http_ws *ws, struct http_res *res)
{
	pthread_mutex_lock(&registry_lock);
	ws->res = res;
	ws->in_registry = true;
	ws->next_reg = registry;
	registry = ws;
	pthread_mutex_unlock(&registry_lock);
}

/* Takes ws out; the registry's reference passes to the caller. */
static void registry_remove(struct http_ws *ws)
{
	struct http_ws **pp;

	pthread_mutex_lock(&registry_lock);
	for (pp = &registry; *pp; pp = &(*pp)->next_reg)
		if (*pp == ws) {
			*pp = ws->next_reg;
			break;
		}
	ws->in_registry = false;
	ws->res = NULL;
	pthread_mutex_unlock(&registry_lock);
}

/* ------------------------------------------------------------------ */
/* waking the loop */

static void ws_open(struct http_ws *ws);

/* Loop thread: whatever other threads asked for. */
static void ws_wake_run(void *arg)
{
	struct http_ws *ws = arg;

	pthread_mutex_lock(&ws->lock);
	ws->wake_pending = false;
	pthread_mutex_unlock(&ws->lock);
	if (ws->close_due) {
		ws->close_due = false;
		if (ws->ops && ws->ops->on_close)
			ws->ops->on_close(ws->arg, ws, ws->due_code);
	}
	if (ws->open_due && ws->wsi && ws->established)
		ws_open(ws);
	if (ws->wsi)
		lws_callback_on_writable(ws->wsi);
	ws_unref(ws);
}

static void ws_wake(struct http_ws *ws)
{
	bool schedule = false;

	pthread_mutex_lock(&ws->lock);
	if (!ws->wake_pending) {
		ws->wake_pending = true;
		ws->refs++;
		schedule = true;
	}
	pthread_mutex_unlock(&ws->lock);
	if (schedule && http_server_defer(ws->srv, ws_wake_run, ws) != 0) {
		pthread_mutex_lock(&ws->lock);
		ws->wake_pending = false;
		ws->refs--;		/* the caller still holds one */
		pthread_mutex_unlock(&ws->lock);
	}
}

/* ------------------------------------------------------------------ */
/* the connection, loop thread */

/* on_open, then the messages that came while the decision was pending. */
static void ws_open(struct http_ws *ws)
{
	struct ws_msg *m, *next;

	ws->open_due = false;
	ws->state = WS_OPEN;
	ws_ref(ws);			/* callbacks may release the owner's */
	if (ws->ops->on_open)
		ws->ops->on_open(ws->arg, ws);
	m = ws->held_head;
	ws->held_head = ws->held_tail = NULL;
	ws->held = 0;
	for (; m; m = next) {
		next = m->next;
		if (ws->state == WS_OPEN && ws->ops->on_message)
			ws->ops->on_message(ws->arg, ws,
					    (const char *)m->data + LWS_PRE,
					    m->len, m->binary);
		free(m);
	}
	ws_unref(ws);
}

static struct ws_msg *msg_new(const void *data, size_t len, bool binary)
{
	struct ws_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m)
		return NULL;
	m->next = NULL;
	m->len = len;
	m->off = 0;
	m->binary = binary;
	if (len)
		memcpy(m->data + LWS_PRE, data, len);
	return m;
}

/* The connection is closed: no more lws calls on it. */
static void ws_gone(struct http_ws *ws, struct lws *wsi, int code)
{
	bool had_ops = ws->ops != NULL, was_open = ws->state == WS_OPEN;
	enum ws_state prev = ws->state;

	lws_set_opaque_user_data(wsi, NULL);
	ws->wsi = NULL;
	ws->state = WS_GONE;
	pthread_mutex_lock(&ws->lock);
	ws->closing = true;
	msgs_free(ws->out_head);
	ws->out_head = ws->out_tail = NULL;
	ws->queued = 0;
	pthread_mutex_unlock(&ws->lock);
	msgs_free(ws->held_head);
	ws->held_head = ws->held_tail = NULL;
	buf_release(&ws->rx);
	if (!ws->client) {
		log_set_request_id(ws->request_id);
		log_info("websocket %s closed %d after %" PRId64 "ms%s",
			 ws_path(ws), code, mono_ms() - ws->t_start,
			 prev == WS_PENDING ? " (undecided)" : "");
		log_set_request_id(NULL);
	}
	if (had_ops && ws->ops->on_close && (was_open || ws->client ||
					     prev == WS_ACCEPTED)) {
		if (ws->connecting) {
			/* never from within http_ws_connect: later */
			ws->close_due = true;
			ws->due_code = code;
			ws_wake(ws);
		} else {
			ws->ops->on_close(ws->arg, ws, code);
		}
	}
	ws_unref(ws);			/* the connection's reference */
}

/* The close code to report: the peer's, else ours, else abnormal. */
static int ws_final_code(const struct http_ws *ws)
{
	if (ws->peer_code)
		return ws->peer_code;
	if (ws->sent_code)
		return ws->sent_code;
	return HTTP_WS_ABNORMAL;
}

static int ws_close_wsi(struct http_ws *ws, struct lws *wsi, int code,
			const char *reason)
{
	ws->sent_code = code;
	lws_close_reason(wsi, (enum lws_close_status)code,
			 (unsigned char *)reason, reason ? strlen(reason) : 0);
	return -1;
}

/*
 * The whole message in ws->rx: to on_message when open, else held for
 * on_open.  0, or the close code to close with (*reason says why).
 */
static int ws_deliver(struct http_ws *ws, const char **reason)
{
	struct ws_msg *m;

	if (ws->state == WS_OPEN) {
		ws_ref(ws);
		if (ws->ops->on_message)
			ws->ops->on_message(ws->arg, ws,
					    ws->rx.data ? ws->rx.data : "",
					    ws->rx.len, ws->rx_binary);
		buf_reset(&ws->rx);
		ws_unref(ws);
		return 0;
	}
	if (ws->held + ws->rx.len > HTTP_WS_MAX_QUEUED) {
		*reason = "too much early data";
		return HTTP_WS_POLICY;
	}
	m = msg_new(ws->rx.data, ws->rx.len, ws->rx_binary);
	if (!m) {
		*reason = "out of memory";
		return HTTP_WS_INTERNAL;
	}
	if (ws->held_tail)
		ws->held_tail->next = m;
	else
		ws->held_head = m;
	ws->held_tail = m;
	ws->held += m->len;
	buf_reset(&ws->rx);
	return 0;
}

static int ws_on_receive(struct http_ws *ws, struct lws *wsi, const void *in,
			 size_t len)
{
	const char *reason;
	int code;

	if (lws_is_first_fragment(wsi)) {
		buf_reset(&ws->rx);
		ws->rx_binary = lws_frame_is_binary(wsi) != 0;
	}
	if (len && buf_append(&ws->rx, in, len) != 0)
		return ws_close_wsi(ws, wsi, HTTP_WS_TOO_BIG,
				    "message too big");
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	code = ws_deliver(ws, &reason);
	return code ? ws_close_wsi(ws, wsi, code, reason) : 0;
}

/* chunk bytes of m, the queue's head, are out (the last ones when
 * last): m leaves the queue.  True when more waits to be written. */
static bool msg_sent(struct http_ws *ws, struct ws_msg *m, size_t chunk,
		     bool last)
{
	bool more;

	pthread_mutex_lock(&ws->lock);
	m->off += chunk;
	if (last) {
		ws->out_head = m->next;
		if (!ws->out_head)
			ws->out_tail = NULL;
		ws->queued -= m->len;
		free(m);
	}
	more = ws->out_head || ws->closing;
	pthread_mutex_unlock(&ws->lock);
	return more;
}

/* One frame of the head message, or the close; -1 closes. */
static int ws_on_writable(struct http_ws *ws, struct lws *wsi)
{
	struct ws_msg *m;
	size_t chunk;
	bool first, last, more;
	int flags, code;
	char reason[WS_REASON_MAX + 1];

	if (ws->state != WS_OPEN && ws->state != WS_PENDING)
		return 0;
	pthread_mutex_lock(&ws->lock);
	m = ws->out_head;
	if (ws->close_now || (!m && ws->closing)) {
		code = ws->close_code;
		snprintf(reason, sizeof(reason), "%s",
			 ws->close_reason ? ws->close_reason : "");
		pthread_mutex_unlock(&ws->lock);
		if (!code)
			return -1;	/* closed without a reason */
		return ws_close_wsi(ws, wsi, code, reason[0] ? reason : NULL);
	}
	pthread_mutex_unlock(&ws->lock);
	if (!m || ws->state != WS_OPEN)
		return 0;
	/* m stays at the head: only this thread takes messages off */
	chunk = m->len - m->off;
	if (chunk > WS_WRITE_CHUNK)
		chunk = WS_WRITE_CHUNK;
	first = m->off == 0;
	last = m->off + chunk == m->len;
	flags = lws_write_ws_flags(m->binary ? LWS_WRITE_BINARY :
				   LWS_WRITE_TEXT, first, last);
	/* the LWS_PRE bytes before the chunk are headroom or already sent */
	if (lws_write(wsi, m->data + LWS_PRE + m->off, chunk,
		      (enum lws_write_protocol)flags) < (int)chunk)
		return -1;
	more = msg_sent(ws, m, chunk, last);
	if (more)
		lws_callback_on_writable(wsi);
	return 0;
}

static int ws_append_headers(struct http_ws *ws, void *in, size_t len)
{
	char **p = in, *end = *p + len;
	size_t i, n;

	for (i = 0; i < ws->nheaders; i++) {
		n = strlen(ws->headers[i]);
		if ((size_t)(end - *p) < n + 3)
			return -1;
		memcpy(*p, ws->headers[i], n);
		memcpy(*p + n, "\r\n", 2);
		*p += n + 2;
	}
	return 0;
}

bool http_ws_lws_callback(struct http_server *s, struct lws *wsi,
			  int reason, void *in, size_t len, int *ret)
{
	struct http_ws *ws = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	unsigned int status;

	(void)s;
	if (!ws)
		return false;
	if (!ws->wsi && ws->state != WS_GONE)
		ws->wsi = wsi;		/* a client's first callback */
	*ret = 0;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws->established = true;
		ws_headers_free(ws);	/* the handshake is over */
		if (ws->state == WS_ACCEPTED)
			ws_open(ws);
		pthread_mutex_lock(&ws->lock);
		if (ws->out_head || ws->closing)
			lws_callback_on_writable(wsi);
		pthread_mutex_unlock(&ws->lock);
		return true;
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_CLIENT_RECEIVE:
		*ret = ws_on_receive(ws, wsi, in, len);
		return true;
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		*ret = ws_on_writable(ws, wsi);
		return true;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		ws->peer_code = HTTP_WS_NO_STATUS;
		if (len >= 2)
			ws->peer_code = ((const unsigned char *)in)[0] << 8 |
					((const unsigned char *)in)[1];
		return true;		/* 0: lws echoes the close */
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		*ret = ws_append_headers(ws, in, len);
		return true;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		status = lws_http_client_http_response(wsi);
		log_debug("websocket client error: %s (status %u)",
			  in ? (const char *)in : "-", status);
		ws_gone(ws, wsi, status >= 100 && status < 1000 ?
			HTTP_WS_REFUSED_BASE + (int)status :
			HTTP_WS_BAD_GATEWAY);
		return true;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		ws_gone(ws, wsi, ws->established ? ws_final_code(ws) :
			(ws->client ? HTTP_WS_BAD_GATEWAY : HTTP_WS_ABNORMAL));
		return true;
	default:
		break;
	}
	return false;			/* lws's defaults (http-server.c) */
}

/* ------------------------------------------------------------------ */
/* server side */

static void ping_fire(lws_sorted_usec_list_t *sul)
{
	struct http_ws *ws = lws_container_of(sul, struct http_ws, ping_sul);

	if (!ws->wsi)
		return;
	if (mono_ms() - ws->last_rx_ms >= WS_PING_MS - 100) {
		ws->ping_due = true;
		lws_callback_on_writable(ws->wsi);
	}
	lws_sul_schedule(http_server_lws_context(ws->srv), 0, &ws->ping_sul,
			 ping_fire, (lws_usec_t)WS_PING_MS * LWS_US_PER_MS);
}

struct http_ws *http_ws_raw_open(struct http_server *s, struct lws *wsi,
				 struct http_res *res, const char *path)
{
	struct http_ws *ws = registry_find(res);

	if (ws) {
		/* accepted by the handler: the registry's reference becomes
		 * the connection's */
		registry_remove(ws);
	} else {
		/* pending: one reference for the connection, one for the
		 * registry until the handler decides */
		ws = ws_new(s, 2);
		if (!ws)
			return NULL;
		ws->state = WS_PENDING;
		registry_add(ws, res);
		ws_set_str(&ws->path, path, WS_PATH_LOG_MAX);
	}
	ws->wsi = wsi;
	ws->raw = true;
	ws->established = true;
	ws->fp.masked_in = true;	/* a client's frames are masked */
	ws->last_rx_ms = mono_ms();
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WS_IDLE_S);
	lws_sul_schedule(http_server_lws_context(s), 0, &ws->ping_sul,
			 ping_fire, (lws_usec_t)WS_PING_MS * LWS_US_PER_MS);
	if (ws->state == WS_ACCEPTED)
		ws_open(ws);
	pthread_mutex_lock(&ws->lock);
	if (ws->out_head || ws->closing)
		lws_callback_on_writable(wsi);
	pthread_mutex_unlock(&ws->lock);
	return ws;
}

/* Ends the connection with code: the close frame goes out at the next
 * writable, then the connection closes without waiting for the peer. */
static void raw_fail(struct http_ws *ws, int code, const char *reason)
{
	pthread_mutex_lock(&ws->lock);
	ws->closing = true;
	ws->close_now = true;
	ws->close_code = code;
	ws_set_str(&ws->close_reason, reason, WS_REASON_MAX);
	pthread_mutex_unlock(&ws->lock);
	lws_callback_on_writable(ws->wsi);
}

/* True for valid UTF-8 (NUL allowed: it is text; JSON refuses it). */
static bool text_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_decode(s + i, len - i, NULL);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* A whole message from a client: checked, then delivered. */
static int raw_message(struct http_ws *ws)
{
	const char *reason;
	int code;

	if (!ws->rx_binary && !text_valid(ws->rx.data ? ws->rx.data : "",
					  ws->rx.len)) {
		raw_fail(ws, 1007, "invalid UTF-8");
		return 0;
	}
	code = ws_deliver(ws, &reason);
	if (code)
		raw_fail(ws, code, reason);
	return 0;
}

/* A whole control frame (its payload in ws->cf->ctl); -1 closes now. */
static int raw_control(struct http_ws *ws, int opcode)
{
	struct ws_ctl *cf = ws->cf;
	int code;

	switch (opcode) {
	case WS_OP_PING:
		memcpy(cf->pong, cf->ctl, cf->ctl_len);
		cf->pong_len = cf->ctl_len;
		ws->pong_due = true;
		lws_callback_on_writable(ws->wsi);
		return 0;
	case WS_OP_CLOSE:
		if (ws_frame_close_code(cf->ctl, cf->ctl_len, &code) != 0 ||
		    (cf->ctl_len > 2 &&
		     !text_valid((const char *)cf->ctl + 2, cf->ctl_len - 2))) {
			ws->peer_closed = true;
			raw_fail(ws, 1002, "malformed close frame");
			return 0;
		}
		ws->peer_code = code;
		ws->peer_closed = true;
		if (ws->close_sent)
			return -1;	/* the closing handshake is done */
		/* echo it: the queue is dropped, the peer is leaving */
		pthread_mutex_lock(&ws->lock);
		ws->closing = true;
		ws->close_now = true;
		ws->close_code = code == HTTP_WS_NO_STATUS ? HTTP_WS_NORMAL :
				 code;
		ws_set_str(&ws->close_reason, NULL, 0);
		pthread_mutex_unlock(&ws->lock);
		lws_callback_on_writable(ws->wsi);
		return 0;
	default:		/* a pong: proof of life, already counted */
		return 0;
	}
}

int http_ws_raw_rx(struct http_ws *ws, unsigned char *in, size_t len)
{
	struct ws_frame_event ev;
	long used;

	ws->last_rx_ms = mono_ms();
	lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, WS_IDLE_S);
	while (len && !ws->close_now) {
		used = ws_frame_feed(&ws->fp, in, len, &ev);
		if (used < 0) {
			raw_fail(ws, (int)-used, "protocol error");
			return 0;
		}
		in += used;
		len -= (size_t)used;
		if (!ev.data)
			continue;
		if (ev.opcode >= WS_OP_CLOSE) {
			if (!ws->cf && !(ws->cf = calloc(1, sizeof(*ws->cf)))) {
				raw_fail(ws, 1011, "out of memory");
				return 0;
			}
			memcpy(ws->cf->ctl + ws->cf->ctl_len, ev.bytes, ev.len);
			ws->cf->ctl_len += ev.len; /* <= 125: the parser's */
			if (ev.end) {
				int rc = raw_control(ws, ev.opcode);

				ws->cf->ctl_len = 0;
				ws_ctl_trim(ws);
				if (rc)
					return rc;
			}
			continue;
		}
		if (ev.start && ev.opcode != WS_OP_CONT)
			buf_reset(&ws->rx);	/* a new message */
		ws->rx_binary = ev.message_opcode == WS_OP_BINARY;
		if (ev.len && buf_append(&ws->rx, ev.bytes, ev.len) != 0) {
			raw_fail(ws, HTTP_WS_TOO_BIG, "message too big");
			return 0;
		}
		if (ev.end && ev.fin && raw_message(ws))
			return -1;
	}
	return 0;
}

/* Writes one frame (header and payload) on the raw connection. */
static int raw_frame(struct http_ws *ws, int opcode, bool fin,
		     const void *data, size_t len)
{
	unsigned char *buf = malloc(LWS_PRE + WS_FRAME_MAX_HEADER + len);
	size_t h;
	int n;

	if (!buf)
		return -1;
	h = ws_frame_header(buf + LWS_PRE, opcode, fin, len, NULL);
	if (len)
		memcpy(buf + LWS_PRE + h, data, len);
	n = lws_write(ws->wsi, buf + LWS_PRE, h + len, LWS_WRITE_RAW);
	free(buf);
	return n < (int)(h + len) ? -1 : 0;
}

int http_ws_raw_writable(struct http_ws *ws)
{
	unsigned char close[2 + WS_REASON_MAX];
	struct ws_msg *m;
	size_t chunk, clen;
	bool first, last, more;
	int code;

	if (ws->close_sent)
		return 0;		/* waiting for the peer's close */
	if (ws->pong_due) {		/* control frames go first */
		ws->pong_due = false;
		if (raw_frame(ws, WS_OP_PONG, true, ws->cf->pong,
			      ws->cf->pong_len))
			return -1;
		ws_ctl_trim(ws);
		lws_callback_on_writable(ws->wsi);
		return 0;
	}
	if (ws->ping_due) {
		ws->ping_due = false;
		if (raw_frame(ws, WS_OP_PING, true, NULL, 0))
			return -1;
	}
	pthread_mutex_lock(&ws->lock);
	m = ws->out_head;
	if (ws->close_now || (!m && ws->closing)) {
		code = ws->close_code ? ws->close_code : HTTP_WS_NORMAL;
		clen = ws->close_reason ? strlen(ws->close_reason) : 0;
		close[0] = (unsigned char)(code >> 8);
		close[1] = (unsigned char)code;
		if (clen)
			memcpy(close + 2, ws->close_reason, clen);
		pthread_mutex_unlock(&ws->lock);
		ws->sent_code = code;
		ws->close_sent = true;
		if (raw_frame(ws, WS_OP_CLOSE, true, close, 2 + clen) ||
		    ws->peer_closed)
			return -1;
		if (code == 1002 || code == 1007 || code == HTTP_WS_TOO_BIG)
			return 1;	/* the peer may still be sending */
		lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK,
				WS_CLOSE_WAIT_S);
		return 0;
	}
	pthread_mutex_unlock(&ws->lock);
	if (!m || ws->state != WS_OPEN)
		return 0;
	/* m stays at the head: only this thread takes messages off; a
	 * large message goes out in fragments, one per writable */
	chunk = m->len - m->off;
	if (chunk > WS_WRITE_CHUNK)
		chunk = WS_WRITE_CHUNK;
	first = m->off == 0;
	last = m->off + chunk == m->len;
	if (raw_frame(ws, first ? (m->binary ? WS_OP_BINARY : WS_OP_TEXT) :
		      WS_OP_CONT, last, m->data + LWS_PRE + m->off, chunk))
		return -1;
	more = msg_sent(ws, m, chunk, last);
	if (more)
		lws_callback_on_writable(ws->wsi);
	return 0;
}

void http_ws_raw_closed(struct http_ws *ws, struct lws *wsi)
{
	lws_sul_cancel(&ws->ping_sul);
	ws_gone(ws, wsi, ws_final_code(ws));
}

static void ws_set_ids(struct http_ws *ws, const struct http_req *req)
{
	ws_set_str(&ws->path, req->path, WS_PATH_LOG_MAX);
	ws_set_str(&ws->request_id, req->request_id, 0);
}

int http_ws_accept(struct http_req *req, const struct http_ws_ops *ops,
		   void *arg, struct http_ws **out)
{
	struct http_res *res = req->res;
	struct http_ws *ws = registry_find(res);

	*out = NULL;
	if (!ws && http_res_closed(res)) {
		/* the handshake was lost (http_ws_abandon) */
		http_res_end(res);
		return CHAT_ECLOSED;
	}
	if (!ws) {
		/* before the handler returned: http_ws_upgrade binds it */
		ws = ws_new(req->server, 2);	/* owner + registry */
		if (!ws) {
			http_res_error(res, 500, "internal", "out of memory");
			return CHAT_ENOMEM;
		}
		ws->state = WS_ACCEPTED;
		ws->ops = ops;
		ws->arg = arg;
		ws_set_ids(ws, req);
		registry_add(ws, res);
		log_set_request_id(req->request_id);
		log_info("websocket %s accepted", req->path);
		log_set_request_id(NULL);
		*out = ws;
		http_res_end(res);
		return 0;
	}
	/* a pending decision: the registry's reference becomes the owner's */
	registry_remove(ws);
	ws_set_ids(ws, req);
	http_res_end(res);
	if (ws->state == WS_GONE) {
		ws_unref(ws);
		return CHAT_ECLOSED;
	}
	ws->ops = ops;
	ws->arg = arg;
	ws->state = WS_ACCEPTED;
	ws->open_due = true;
	log_set_request_id(ws->request_id);
	log_info("websocket %s accepted after %" PRId64 "ms", ws_path(ws),
		 mono_ms() - ws->t_start);
	log_set_request_id(NULL);
	*out = ws;
	ws_wake(ws);			/* on_open from the loop, not here */
	return 0;
}

void http_ws_refuse(struct http_req *req, int status, const char *code,
		    const char *fmt, ...)
{
	struct http_res *res = req->res;
	struct http_ws *ws = registry_find(res);
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ws) {
		/* the handshake still waits: a real HTTP answer */
		http_res_error(res, status, code, "%s", msg);
		return;
	}
	if (ws->state != WS_PENDING && ws->state != WS_GONE) {
		/* accepted already: res has had its final call */
		log_error("websocket %s refused after it was accepted",
			  ws_path(ws));
		return;
	}
	registry_remove(ws);
	ws_set_ids(ws, req);
	log_set_request_id(ws->request_id);
	log_info("websocket %s refused %d %s: %s", ws_path(ws), status, code,
		 msg);
	log_set_request_id(NULL);
	http_res_end(res);
	if (status < 100 || status > 999)
		status = 500;
	http_ws_close(ws, HTTP_WS_REFUSED_BASE + status, code);
	ws_unref(ws);			/* the registry's reference */
}

/* ------------------------------------------------------------------ */
/* client side */

/* "ws://host[:port][/path][?query]" (or http://; url.h's grammar) ->
 * the host, the port (the scheme's by default) and the request target
 * ("/" when the URL has no path). */
static int ws_url_split(const char *url, char *host, size_t hostlen,
			int *port, char *target, size_t targetlen)
{
	struct url u;
	int n;

	if (url_parse(url, &u, NULL) != 0 ||
	    (u.scheme != URL_WS && u.scheme != URL_HTTP) ||
	    strlen(u.host) >= hostlen)
		return CHAT_EINVAL;
	snprintf(host, hostlen, "%s", u.host);
	*port = u.port;
	n = snprintf(target, targetlen, "%.*s%s%s%.*s", (int)u.path_len,
		     u.path, u.path_len ? "" : "/", u.query ? "?" : "",
		     (int)u.query_len, u.query ? u.query : "");
	return n < 0 || (size_t)n >= targetlen ? CHAT_EINVAL : 0;
}

int http_ws_connect(struct http_server *s, const char *url,
		    const char *const *headers, const struct http_ws_ops *ops,
		    void *arg, struct http_ws **out)
{
	static const lws_retry_bo_t keepalive = {
		.secs_since_valid_ping = 30,
		.secs_since_valid_hangup = 70,
	};
	struct lws_client_connect_info ci;
	struct lws_context *ctx;
	struct http_ws *ws;
	struct lws *wsi;
	char host[256], path[256];	/* path: as ws->path, refused past */
	int port, rc;
	size_t i;

	*out = NULL;
	if (strlen(url) > WS_URL_MAX)
		return CHAT_EINVAL;
	rc = ws_url_split(url, host, sizeof(host), &port, path, sizeof(path));
	if (rc)
		return rc;
	ws = ws_new(s, 2);		/* connection + owner */
	if (!ws)
		return CHAT_ENOMEM;
	ws->client = true;
	/* our peers are the stack's daemons, whose events carry whole
	 * messages: a client's limit would cut every socket they serve */
	ws->rx.max = HTTP_WS_MAX_PEER_MESSAGE;
	ws->state = WS_ACCEPTED;
	ws->ops = ops;
	ws->arg = arg;
	ws_set_str(&ws->path, path, WS_PATH_LOG_MAX);
	for (i = 0; headers && headers[i]; i++)
		;
	if (i > WS_MAX_HEADERS) {
		rc = CHAT_EINVAL;
		goto fail;
	}
	if (i && !(ws->headers = calloc(i, sizeof(*ws->headers)))) {
		rc = CHAT_ENOMEM;
		goto fail;
	}
	for (i = 0; headers && headers[i]; i++) {
		if (i == WS_MAX_HEADERS || strpbrk(headers[i], "\r\n") ||
		    !strchr(headers[i], ':')) {
			rc = CHAT_EINVAL;
			goto fail;
		}
		ws->headers[i] = strdup(headers[i]);
		if (!ws->headers[i]) {
			rc = CHAT_ENOMEM;
			goto fail;
		}
		ws->nheaders = i + 1;
	}
	ctx = http_server_lws_context(s);
	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = host;
	ci.port = port;
	ci.path = path;
	ci.host = host;
	ci.ietf_version_or_minus_one = -1;
	ci.local_protocol_name = "http";
	ci.opaque_user_data = ws;
	ci.retry_and_idle_policy = &keepalive;
	ws->connecting = true;
	wsi = lws_client_connect_via_info(&ci);
	ws->connecting = false;
	if (!wsi && ws->state != WS_GONE) {
		/* failed before any callback: report it like the others */
		ws->state = WS_GONE;
		ws->close_due = true;
		ws->due_code = HTTP_WS_BAD_GATEWAY;
		pthread_mutex_lock(&ws->lock);
		ws->closing = true;
		pthread_mutex_unlock(&ws->lock);
		ws_wake(ws);
		ws_unref(ws);		/* no connection */
	} else if (wsi && ws->state != WS_GONE) {
		ws->wsi = wsi;
	}
	*out = ws;
	return 0;
fail:
	ws_free(ws);
	return rc;
}

/* ------------------------------------------------------------------ */
/* both sides, any thread */

int http_ws_send(struct http_ws *ws, const void *data, size_t len,
		 bool binary)
{
	struct ws_msg *m;
	int rc = 0;

	m = msg_new(data, len, binary);
	if (!m)
		return CHAT_ENOMEM;
	pthread_mutex_lock(&ws->lock);
	if (ws->closing) {
		rc = CHAT_ECLOSED;
	} else if (ws->queued > HTTP_WS_MAX_QUEUED) {
		/* a peer that does not read: give up on it (a big message
		 * to one that does gets in whole) */
		rc = CHAT_ETOOBIG;
		ws->closing = true;
		ws->close_now = true;
		ws->close_code = HTTP_WS_POLICY;
		ws_set_str(&ws->close_reason, "send queue full", 0);
	} else {
		if (ws->out_tail)
			ws->out_tail->next = m;
		else
			ws->out_head = m;
		ws->out_tail = m;
		ws->queued += len;
		m = NULL;
	}
	pthread_mutex_unlock(&ws->lock);
	free(m);
	if (rc == 0 || rc == CHAT_ETOOBIG)
		ws_wake(ws);
	return rc;
}

void http_ws_close(struct http_ws *ws, int code, const char *reason)
{
	bool wake = false;

	pthread_mutex_lock(&ws->lock);
	if (!ws->closing) {
		ws->closing = true;
		ws->close_code = code;
		ws_set_str(&ws->close_reason, reason, WS_REASON_MAX);
		wake = true;
	}
	pthread_mutex_unlock(&ws->lock);
	if (wake)
		ws_wake(ws);
}

size_t http_ws_queued(struct http_ws *ws)
{
	size_t n;

	pthread_mutex_lock(&ws->lock);
	n = ws->queued;
	pthread_mutex_unlock(&ws->lock);
	return n;
}

void http_ws_release(struct http_ws *ws)
{
	if (ws)
		ws_unref(ws);
}
