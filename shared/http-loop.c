/*
 * http-loop.c - an HTTP/1.1 client on the server's loop thread for
 * http://<IPv4 address | localhost>[:port] URLs.
 *
 * Why: through libcurl (http-client.c) every call crosses threads twice
 * (loop -> curl thread -> loop) and pays for curl's own poll over its
 * sockets; on a VM where a system call costs ~10 us that was a third of
 * the gateway's time.  Here the server's socket is one more descriptor
 * of the loop (adopted into libwebsockets as a raw socket on a vhost of
 * its own): the request is written straight from the caller, the answer
 * is parsed as it arrives and handed to the callbacks on the same
 * thread.  Anything else (https, host names, unix sockets) is for
 * http-client.c; http_loop_can tells which.
 *
 * A call: the request (head and body) is copied into one buffer; an
 * idle keep-alive connection to that address is taken (the newest
 * first) or a new one is connected without blocking.  A reused
 * connection that closes before any answer byte (the server dropped it
 * while idle) is retried once on a fresh one, as libcurl does.  URLs
 * are read by url.c, the request head written by http1-request.c and
 * the answer read by http1-response.c (status line and headers, 64 KiB
 * at most, then a body by Content-Length, chunked, or until the
 * connection closes), the same as http-fetch.c's.  A
 * connection goes back to the idle list only when the exchange ended
 * cleanly.  Idle connections are kept per address for up to
 * HL_HOSTS addresses (beyond that, connections are not reused).
 *
 * Timeouts, checked every HL_SWEEP_MS while calls run: no connection
 * within connect_timeout_ms is CHAT_EUPSTREAM (one the kernel has
 * established but a busy loop has not seen yet is not failed: the
 * deadline is the network's, not the loop's), no byte for
 * idle_timeout_ms or a call longer than timeout_ms is CHAT_ETIMEDOUT,
 * and keep_going returning 0 is CHAT_ECANCELED.  Idle connections are
 * closed after HL_IDLE_KEEP_MS, before a server's usual keep-alive
 * timeout (60 s) would.
 *
 * Threads: everything here runs on the loop thread.
 */
#include "http-loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "buf.h"
#include "err.h"
#include "http-ws.h"
#include "http1-request.h"
#include "http1-response.h"
#include "log.h"
#include "url.h"
#include "util.h"
#include "banned.h"

#define HL_PROTOCOL "http-loop"
#define HL_HEAD_MAX (64 * 1024)		/* the request head's ceiling */
#define HL_IDLE_MAX 128			/* idle connections per address */
#define HL_HOSTS 64			/* addresses with idle connections */
#define HL_IDLE_KEEP_MS 30000
#define HL_SWEEP_MS 100
#define HL_IDLE_SWEEP_MS 1000

struct hl_call;

/* One TCP connection to a server. */
struct hl_conn {
	struct http_loop *client;
	struct hl_host *host;		/* NULL: not kept after its call */
	struct lws *wsi;
	int fd;
	struct hl_call *call;		/* NULL while idle */
	bool connected;			/* the connect is known to have worked */
	bool reused;			/* served a call before this one */
	bool in_callback;		/* inside its lws callback */
	bool closing;			/* close asked for: return -1 */
	int64_t idle_since;
	struct hl_conn *prev, *next;	/* host's idle list */
};

/* One server address and its idle connections; a slot with no
 * connection at all (nconns 0) is free for another address. */
struct hl_host {
	struct sockaddr_in addr;
	size_t nconns;			/* connections that point here */
	struct hl_conn *idle;		/* newest first */
	size_t nidle;
};

/* Where a URL goes. */
struct hl_url {
	struct sockaddr_in addr;
	struct url url;			/* its parts, for the request head */
};

struct hl_call {
	struct http_loop *client;
	struct sockaddr_in addr;	/* where it goes */
	struct hl_conn *conn;		/* NULL between connections */
	struct http_client_cb cb;
	void *arg;
	char *out;			/* owned request: head and body */
	size_t out_len;
	size_t sent;			/* of out_len */
	bool head_only;			/* a HEAD request */
	bool retried;			/* one fresh connection after a stale */
	long connect_timeout_ms;
	long timeout_ms;
	long idle_timeout_ms;
	size_t max_response;
	int64_t begin_ms;		/* of the call */
	int64_t start_ms;		/* of the current connection attempt */
	int64_t last_io_ms;
	struct http1_response resp;	/* the answer being read */
	struct hl_call *prev, *next;	/* client's running list */
};

struct http_loop {
	struct http_server *srv;
	struct lws_context *ctx;	/* NULL until the first call */
	struct lws_vhost *vhost;
	struct lws_protocols protocols[2];
	lws_sorted_usec_list_t sweep;
	bool sweeping;			/* the sweep timer is armed */
	bool sweep_fast;		/* at HL_SWEEP_MS */
	bool stopping;
	struct hl_call *running;
	size_t nidle;			/* idle connections of all hosts */
	struct hl_host hosts[HL_HOSTS];
};

static void hl_call_lost(struct hl_call *call);
static int hl_call_connect(struct hl_call *call);
static void hl_sweep_arm(struct http_loop *c);

/* ---- URLs ---------------------------------------------------------------- */

/* http://<a.b.c.d | localhost>[:port][/path][?query]: the only URLs
 * served here (url.h's grammar). */
static bool hl_parse_url(const char *url, struct hl_url *u)
{
	return url_parse(url, &u->url, NULL) == 0 &&
	       u->url.scheme == URL_HTTP && url_ipv4(&u->url, &u->addr) == 0;
}

static bool hl_same_addr(const struct sockaddr_in *a,
			 const struct sockaddr_in *b)
{
	return a->sin_port == b->sin_port &&
	       a->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* The host slot of addr, a free one for it, or NULL when all are taken
 * by other addresses. */
static struct hl_host *hl_host_get(struct http_loop *c,
				   const struct sockaddr_in *addr)
{
	struct hl_host *free_slot = NULL;
	size_t i;

	for (i = 0; i < HL_HOSTS; i++) {
		struct hl_host *h = &c->hosts[i];

		if (h->nconns == 0) {
			if (!free_slot)
				free_slot = h;
			continue;
		}
		if (hl_same_addr(&h->addr, addr))
			return h;
	}
	if (free_slot)
		free_slot->addr = *addr;
	return free_slot;
}

/* ---- connections ----------------------------------------------------- */

static void hl_idle_unlink(struct hl_conn *conn)
{
	struct hl_host *h = conn->host;

	if (!h)
		return;
	if (conn->prev)
		conn->prev->next = conn->next;
	else if (h->idle == conn)
		h->idle = conn->next;
	else
		return;			/* not listed */
	if (conn->next)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	h->nidle--;
	conn->client->nidle--;
}

/* Closes conn (no call on it any more).  Inside its own callback the
 * callback's -1 does it; elsewhere lws closes it now, and RAW_CLOSE frees
 * conn before this returns. */
static void hl_conn_close(struct hl_conn *conn)
{
	hl_idle_unlink(conn);
	conn->call = NULL;
	conn->closing = true;
	if (!conn->in_callback)
		lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_SYNC);
}

static void hl_conn_park(struct hl_conn *conn)
{
	struct hl_host *h = conn->host;

	conn->call = NULL;
	if (!h || h->nidle >= HL_IDLE_MAX || conn->client->stopping) {
		hl_conn_close(conn);
		return;
	}
	conn->reused = true;
	conn->idle_since = mono_ms();
	conn->prev = NULL;
	conn->next = h->idle;
	if (h->idle)
		h->idle->prev = conn;
	h->idle = conn;
	h->nidle++;
	conn->client->nidle++;
	hl_sweep_arm(conn->client);	/* it expires */
}

/* ---- the end of a call --------------------------------------------------- */

static void hl_call_free(struct hl_call *call)
{
	http1_response_release(&call->resp);
	free(call->out);
	free(call);
}

/* Ends call with rc: its connection is kept for the next call only after
 * a clean exchange; on_done runs last (the body goes with it). */
static void hl_call_end(struct hl_call *call, int rc)
{
	struct http_loop *c = call->client;
	struct hl_conn *conn = call->conn;

	if (call->prev)
		call->prev->next = call->next;
	else
		c->running = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->conn = NULL;
	if (conn) {
		if (rc == 0 && call->resp.keep_alive &&
		    call->sent == call->out_len)
			hl_conn_park(conn);
		else
			hl_conn_close(conn);
	}
	call->cb.on_done(call->arg, rc);
	hl_call_free(call);
}

/* ---- writing the request ----------------------------------------------- */

/* Sends what the socket takes; 0 (more later on WRITEABLE) or a
 * negative error when the connection is broken. */
static int hl_call_write(struct hl_call *call)
{
	struct hl_conn *conn = call->conn;

	while (call->sent < call->out_len) {
		ssize_t w = send(conn->fd, call->out + call->sent,
				 call->out_len - call->sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			lws_callback_on_writable(conn->wsi);
			return 0;
		}
		if (w <= 0)
			return CHAT_EUPSTREAM;
		call->sent += (size_t)w;
		call->last_io_ms = mono_ms();
	}
	return 0;
}

/* ---- reading the answer --------------------------------------------------- */

/* The reader's callbacks: the caller's, whose nonzero return cancels. */
static int hl_on_head(void *arg, int status, const char *const *lines,
		      size_t n)
{
	struct hl_call *call = arg;

	if (call->cb.on_head &&
	    call->cb.on_head(call->arg, status, lines, n) != 0)
		return CHAT_ECANCELED;
	return 0;
}

static int hl_on_data(void *arg, const char *data, size_t len)
{
	struct hl_call *call = arg;

	if (call->cb.on_data && call->cb.on_data(call->arg, data, len) != 0)
		return CHAT_ECANCELED;
	return 0;
}

/*
 * Bytes from the upstream.  Returns 1 when the answer is complete (any
 * bytes after it make the connection unfit for reuse), 0 for more, or a
 * negative error.
 */
static int hl_call_feed(struct hl_call *call, const char *data, size_t len)
{
	size_t used;
	int rc;

	call->last_io_ms = mono_ms();
	rc = http1_response_feed(&call->resp, data, len, &used);
	if (rc == 1 && used < len)
		call->resp.keep_alive = false;
	return rc;
}

/* ---- the lws side ------------------------------------------------------- */

/* The connect of a fresh connection finished: did it work? */
static bool hl_conn_check_connect(struct hl_conn *conn)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0)
		return false;
	conn->connected = true;
	return true;
}

static int hl_on_rx(struct hl_conn *conn, const char *in, size_t len)
{
	struct hl_call *call = conn->call;
	int rc;

	if (!call)
		return -1;		/* an idle connection talks: drop it */
	conn->connected = true;
	rc = hl_call_feed(call, in, len);
	if (rc == 0)
		return 0;
	hl_call_end(call, rc == 1 ? 0 : rc);
	return 0;
}

static int hl_on_writeable(struct hl_conn *conn)
{
	struct hl_call *call = conn->call;

	if (!call)
		return 0;
	if (!conn->connected && !hl_conn_check_connect(conn))
		return -1;		/* RAW_CLOSE: lost */
	return hl_call_write(call) == 0 ? 0 : -1;
}

static void hl_on_close(struct hl_conn *conn)
{
	struct hl_call *call = conn->call;

	hl_idle_unlink(conn);
	if (call) {
		conn->call = NULL;
		call->conn = NULL;
		if (!conn->reused)
			call->retried = true;	/* fresh: no second try */
		hl_call_lost(call);
	}
	if (conn->host)
		conn->host->nconns--;
	free(conn);
}

static int hl_callback(struct lws *wsi, enum lws_callback_reasons reason,
		       void *user, void *in, size_t len)
{
	struct hl_conn *conn = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	int rc = 0;

	(void)user;
	if (!conn)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX:
		conn->in_callback = true;
		rc = hl_on_rx(conn, in, len);
		conn->in_callback = false;
		break;
	case LWS_CALLBACK_RAW_WRITEABLE:
		conn->in_callback = true;
		rc = hl_on_writeable(conn);
		conn->in_callback = false;
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		hl_on_close(conn);
		return 0;
	default:
		return 0;
	}
	return conn->closing ? -1 : rc;
}

/* ---- calls -------------------------------------------------------------- */

/* The connection went away with call on it: the end of a body that runs
 * until close, a retry of a stale keep-alive connection, or a failure. */
static void hl_call_lost(struct hl_call *call)
{
	if (call->resp.seen > 0) {
		/* 0 for a body until close, else cut short */
		hl_call_end(call, http1_response_close(&call->resp));
		return;
	}
	if (!call->retried && !call->client->stopping) {
		call->retried = true;
		call->sent = 0;
		if (hl_call_connect(call) == 0)
			return;
	}
	hl_call_end(call, CHAT_EUPSTREAM);
}

static int hl_vhost(struct http_loop *c)
{
	struct lws_context_creation_info info;

	if (c->vhost)
		return 0;
	c->ctx = http_server_lws_context(c->srv);
	c->protocols[0] = (struct lws_protocols){
		.name = HL_PROTOCOL,
		.callback = hl_callback,
		.rx_buffer_size = 16384,
	};
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = c->protocols;
	info.vhost_name = HL_PROTOCOL;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	c->vhost = lws_create_vhost(c->ctx, &info);
	return c->vhost ? 0 : CHAT_ENOMEM;
}

/* Puts call on a connection: an idle one, else a new one.  0, or
 * CHAT_EUPSTREAM / CHAT_ENOMEM when it cannot even start (no callback). */
static int hl_call_connect(struct hl_call *call)
{
	struct hl_host *h = hl_host_get(call->client, &call->addr);
	struct hl_conn *conn = h ? h->idle : NULL;
	lws_adopt_desc_t desc;
	int fd, one = 1, rc;

	call->start_ms = call->last_io_ms = mono_ms();
	if (conn && !call->retried) {
		hl_idle_unlink(conn);
		conn->call = call;
		call->conn = conn;
		rc = hl_call_write(call);
		if (rc == 0)
			return 0;
		/* broken while idle: a fresh connection instead */
		call->conn = NULL;
		hl_conn_close(conn);
		call->retried = true;
		call->sent = 0;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CHAT_EUPSTREAM;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, (const struct sockaddr *)&call->addr,
		     sizeof(call->addr));
	if (rc != 0 && errno != EINPROGRESS) {
		close(fd);
		return CHAT_EUPSTREAM;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return CHAT_ENOMEM;
	}
	conn->client = call->client;
	conn->host = h;
	if (h)
		h->nconns++;
	conn->fd = fd;
	conn->connected = rc == 0;
	conn->call = call;
	call->conn = conn;
	memset(&desc, 0, sizeof(desc));
	desc.vh = call->client->vhost;
	desc.type = LWS_ADOPT_SOCKET;
	desc.fd.sockfd = fd;
	desc.vh_prot_name = HL_PROTOCOL;
	desc.opaque = conn;
	conn->wsi = lws_adopt_descriptor_vhost_via_info(&desc);
	if (!conn->wsi) {		/* lws closed fd */
		call->conn = NULL;
		if (h)
			h->nconns--;
		free(conn);
		return CHAT_ENOMEM;
	}
	/* the call's own clocks decide, not an lws default */
	lws_set_timeout(conn->wsi, NO_PENDING_TIMEOUT, 0);
	if (!conn->connected) {
		lws_callback_on_writable(conn->wsi);
		return 0;
	}
	rc = hl_call_write(call);
	if (rc != 0) {
		call->conn = NULL;
		hl_conn_close(conn);
	}
	return rc;
}

static void hl_sweep(lws_sorted_usec_list_t *sul);

/* The sweep runs while calls run (HL_SWEEP_MS) or connections idle
 * (HL_IDLE_SWEEP_MS).  Not before the first call: no context yet. */
static void hl_sweep_arm(struct http_loop *c)
{
	bool fast = c->running != NULL;

	if (!c->ctx || c->stopping || (!fast && !c->nidle))
		return;
	if (c->sweeping && (c->sweep_fast || !fast))
		return;
	c->sweeping = true;
	c->sweep_fast = fast;		/* a call came: sooner than planned */
	lws_sul_schedule(c->ctx, 0, &c->sweep, hl_sweep,
			 (lws_usec_t)(c->running ? HL_SWEEP_MS :
				      HL_IDLE_SWEEP_MS) * LWS_US_PER_MS);
}

/* Closes connections idle for longer than HL_IDLE_KEEP_MS. */
static void hl_expire_idle(struct http_loop *c, int64_t now)
{
	struct hl_conn *conn, *next;
	size_t i;

	for (i = 0; i < HL_HOSTS && c->nidle; i++)
		for (conn = c->hosts[i].idle; conn; conn = next) {
			next = conn->next;
			if (now - conn->idle_since > HL_IDLE_KEEP_MS)
				hl_conn_close(conn);
		}
}

/* Whether a connect still in progress for the loop has in fact worked:
 * a loop busy for longer than the deadline sees the connect's event
 * only after the sweep has run (a loaded chatd failed its calls to aid
 * that way).  Its own event then marks it connected. */
static bool hl_conn_established(const struct hl_conn *conn)
{
	struct pollfd p = { .fd = conn->fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	return conn->fd >= 0 && poll(&p, 1, 0) == 1 &&
	       (p.revents & POLLOUT) &&
	       !(p.revents & (POLLERR | POLLHUP)) &&
	       getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	       err == 0;
}

/* Connect deadlines, timeouts, callers who left, old idle connections. */
static void hl_sweep(lws_sorted_usec_list_t *sul)
{
	struct http_loop *c = lws_container_of(sul, struct http_loop, sweep);
	struct hl_call *call, *next;
	int64_t now = mono_ms();

	c->sweeping = false;
	for (call = c->running; call; call = next) {
		next = call->next;
		if (call->cb.keep_going && !call->cb.keep_going(call->arg))
			hl_call_end(call, CHAT_ECANCELED);
		else if (call->conn && !call->conn->connected &&
			 now - call->start_ms > call->connect_timeout_ms &&
			 !hl_conn_established(call->conn))
			hl_call_end(call, CHAT_EUPSTREAM);
		else if ((call->idle_timeout_ms &&
			  now - call->last_io_ms > call->idle_timeout_ms) ||
			 (call->timeout_ms &&
			  now - call->begin_ms > call->timeout_ms))
			hl_call_end(call, CHAT_ETIMEDOUT);
	}
	hl_expire_idle(c, now);
	hl_sweep_arm(c);
}

/* ---- public ------------------------------------------------------------- */

int http_loop_new(struct http_server *srv, struct http_loop **out)
{
	struct http_loop *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return CHAT_ENOMEM;
	c->srv = srv;
	*out = c;
	return 0;
}

void http_loop_free(struct http_loop *c)
{
	size_t i;

	if (!c)
		return;
	c->stopping = true;
	while (c->running)
		hl_call_end(c->running, CHAT_ECANCELED);
	for (i = 0; i < HL_HOSTS; i++)
		while (c->hosts[i].idle)
			hl_conn_close(c->hosts[i].idle);
	if (c->ctx)
		lws_sul_cancel(&c->sweep);
	free(c);
}

bool http_loop_can(const char *url)
{
	struct hl_url u;

	return hl_parse_url(url, &u);
}

/* The request (http1_request_head) and its body, in one buffer. */
static int hl_build(struct hl_call *call, const struct hl_url *u,
		    const struct http_request *req)
{
	size_t body_len = req->body ? req->body_len : 0;
	struct buf b;
	int rc;

	buf_init(&b, HL_HEAD_MAX + URL_MAX + body_len + 64);
	rc = http1_request_head(&b, req->method ? req->method : "GET", &u->url,
				req->headers, req->body, body_len, false);
	if (rc == 0 && body_len)
		rc = buf_append(&b, req->body, body_len);
	if (rc != 0) {
		buf_release(&b);
		return rc == CHAT_ETOOBIG ? CHAT_EINVAL : rc;
	}
	call->out = buf_detach(&b, &call->out_len);
	return 0;
}

int http_loop_start(struct http_loop *c, const struct http_request *req,
		    const struct http_client_cb *cb, void *arg)
{
	struct hl_call *call;
	struct hl_url u;
	int rc;

	if (!cb || !cb->on_done || !http_request_safe(req) ||
	    req->unix_socket || !hl_parse_url(req->url, &u))
		return CHAT_EINVAL;
	if (c->stopping)
		return CHAT_ECANCELED;
	rc = hl_vhost(c);
	if (rc != 0)
		return rc;
	call = calloc(1, sizeof(*call));
	if (!call)
		return CHAT_ENOMEM;
	call->client = c;
	call->addr = u.addr;
	call->cb = *cb;
	call->arg = arg;
	call->head_only = req->method && strcmp(req->method, "HEAD") == 0;
	call->connect_timeout_ms = req->connect_timeout_ms > 0 ?
		req->connect_timeout_ms : 1000;
	call->timeout_ms = req->timeout_ms;
	call->idle_timeout_ms = req->idle_timeout_ms;
	call->max_response = req->max_response ? req->max_response :
		(8u << 20);
	call->begin_ms = mono_ms();
	http1_response_init(&call->resp, call->head_only, call->max_response,
			    hl_on_head, hl_on_data, call);
	rc = hl_build(call, &u, req);
	if (rc != 0) {
		hl_call_free(call);
		return rc;
	}
	/* running from here on: every way out goes through on_done */
	call->next = c->running;
	if (c->running)
		c->running->prev = call;
	c->running = call;
	hl_sweep_arm(c);
	rc = hl_call_connect(call);
	if (rc != 0)
		hl_call_end(call, rc == CHAT_ENOMEM ? rc : CHAT_EUPSTREAM);
	return 0;
}

int http_loop_parse(const char *data, size_t len, size_t piece,
		    bool head_only, size_t max_response,
		    const struct http_client_cb *cb, void *arg,
		    bool *keep_alive)
{
	struct hl_call *call;
	size_t n;
	int rc = 0;

	*keep_alive = false;
	call = calloc(1, sizeof(*call));
	if (!call)
		return CHAT_ENOMEM;
	if (cb)
		call->cb = *cb;
	call->arg = arg;
	call->head_only = head_only;
	call->max_response = max_response ? max_response : (8u << 20);
	http1_response_init(&call->resp, head_only, call->max_response,
			    hl_on_head, hl_on_data, call);
	/* as hl_on_rx gets the bytes, one read at a time */
	while (rc == 0 && len > 0) {
		n = piece && piece < len ? piece : len;
		rc = hl_call_feed(call, data, n);
		data += n;
		len -= n;
	}
	if (rc == 1) {
		/* bytes after the answer: hl_call_feed saw them in its
		 * piece, or hl_on_rx would drop the idle connection */
		*keep_alive = call->resp.keep_alive && len == 0;
		rc = 0;
	} else if (rc == 0) {
		/* the server closed, as hl_call_lost sees it */
		rc = http1_response_close(&call->resp);
	}
	hl_call_free(call);
	return rc;
}
