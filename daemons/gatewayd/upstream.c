/*
 * upstream.c - the gateway's own HTTP/1.1 client for proxied calls, on
 * the server's loop thread.
 *
 * Why: through the shared libcurl client every proxied request crossed
 * threads twice (loop -> curl thread -> loop) and paid for curl's own
 * poll over its sockets; on a VM where a system call costs ~10 us that
 * was a third of the gateway's time.  Here the upstream socket is one
 * more descriptor of the loop (adopted into libwebsockets as a raw
 * socket on a vhost of its own): the request is written straight from
 * the handler, the answer is parsed as it arrives and handed to the
 * proxy's callbacks on the same thread.
 *
 * Scope: upstreams whose URL is http://<IPv4 address or localhost>:<port>
 * [/path] - every daemon of the stack.  Anything else (https, host
 * names) still goes through libcurl (proxy.c asks upstream_direct).
 *
 * A call: the request head is built once (the body is the caller's and
 * stays valid until on_done); an idle keep-alive connection of that
 * upstream is taken (the newest first) or a new one is connected without
 * blocking.  A reused connection that closes before any answer byte
 * (the upstream dropped it while idle) is retried once on a fresh one,
 * as libcurl does.  The answer: status line and headers (64 KiB at
 * most), then a body by Content-Length, chunked (decoded: the server
 * frames it again), or until the connection closes.  A connection goes
 * back to the idle list only when the exchange ended cleanly.
 *
 * Timeouts, checked every UP_SWEEP_MS while calls run: no connection
 * within connect_timeout_ms is CHAT_EUPSTREAM (the proxy's 503 within
 * 1 s), no byte for idle_timeout_ms is CHAT_ETIMEDOUT, and keep_going
 * returning 0 (the client left) is CHAT_ECANCELED.  Idle connections are
 * closed after UP_IDLE_KEEP_MS, before the upstream's own keep-alive
 * timeout (60 s) would.
 *
 * Threads: everything here runs on the loop thread.
 */
#include "gatewayd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include "log.h"
#include "util.h"
#include "banned.h"

#define UP_PROTOCOL "gw-upstream"
#define UP_HEAD_MAX (64 * 1024)		/* status line and headers */
#define UP_HEAD_LINES 100
#define UP_IDLE_MAX 128			/* idle connections per upstream */
#define UP_IDLE_KEEP_MS 30000
#define UP_SWEEP_MS 100
#define UP_CHUNK_LINE_MAX 256		/* chunk size line with extensions */

enum up_body {
	UP_BODY_NONE,			/* HEAD, 1xx, 204, 304 */
	UP_BODY_LENGTH,			/* Content-Length */
	UP_BODY_CHUNKED,
	UP_BODY_CLOSE,			/* until the connection closes */
};

enum up_chunk {
	UP_CHUNK_SIZE,			/* reading "hex[;ext]\r\n" */
	UP_CHUNK_DATA,
	UP_CHUNK_DATA_END,		/* the CRLF after the data */
	UP_CHUNK_TRAILER,		/* trailer lines until an empty one */
};

struct up_call;

/* One TCP connection to an upstream. */
struct up_conn {
	struct up_client *client;
	struct up_host *host;
	struct lws *wsi;
	int fd;
	struct up_call *call;		/* NULL while idle */
	bool connected;			/* the connect is known to have worked */
	bool reused;			/* served a call before this one */
	bool in_callback;		/* inside its lws callback */
	bool closing;			/* close asked for: return -1 */
	int64_t idle_since;
	struct up_conn *prev, *next;	/* host's idle list */
};

/* What the client knows of one upstream. */
struct up_host {
	bool direct;			/* callable here */
	struct sockaddr_in addr;
	char host_header[GW_URL_MAX];	/* "127.0.0.1:8081" */
	size_t url_len;			/* strlen of the upstream's url */
	char base[GW_URL_MAX];		/* path before the request's; "" */
	struct up_conn *idle;		/* newest first */
	size_t nidle;
};

struct up_call {
	struct up_client *client;
	struct up_host *host;
	struct up_conn *conn;		/* NULL between connections */
	struct http_client_cb cb;
	void *arg;
	char *head_out;			/* owned request head */
	size_t head_out_len;
	const char *body;		/* the caller's, until on_done */
	size_t body_len;
	size_t sent;			/* of head_out_len + body_len */
	bool head_only;			/* a HEAD request */
	bool retried;			/* one fresh connection after a stale */
	long connect_timeout_ms;
	long idle_timeout_ms;
	size_t max_response;
	int64_t start_ms;		/* of the current connection attempt */
	int64_t last_io_ms;
	/* the answer */
	size_t received;		/* head and body bytes */
	struct buf head;		/* the head so far */
	bool head_done;
	bool keep_alive;		/* the connection may serve again */
	enum up_body body_mode;
	uint64_t remaining;		/* LENGTH: body left; CHUNKED: chunk */
	enum up_chunk chunk_state;
	char chunk_line[UP_CHUNK_LINE_MAX];
	size_t chunk_line_len;
	struct up_call *prev, *next;	/* client's running list */
};

struct up_client {
	struct gatewayd *gw;
	struct lws_context *ctx;	/* NULL until the first call */
	struct lws_vhost *vhost;
	struct lws_protocols protocols[2];
	lws_sorted_usec_list_t sweep;
	bool sweeping;			/* the sweep timer is armed */
	bool stopping;
	struct up_call *running;
	struct up_host hosts[GW_MAX_UPSTREAMS];
};

static void up_call_lost(struct up_call *call);
static int up_call_connect(struct up_call *call);

/* ---- upstream URLs ------------------------------------------------------ */

/* http://<a.b.c.d | localhost>:<port>[/path]: the only URLs served here. */
static bool up_parse_url(const char *url, struct up_host *h)
{
	const char *p = url, *colon, *slash;
	char host[64];
	char *end;
	long port;
	size_t n;

	if (strncasecmp(p, "http://", 7) != 0)
		return false;
	p += 7;
	colon = strchr(p, ':');
	slash = strchr(p, '/');
	if (!colon || (slash && slash < colon))
		return false;
	n = (size_t)(colon - p);
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	memset(&h->addr, 0, sizeof(h->addr));
	h->addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &h->addr.sin_addr) != 1)
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || port < 1 || port > 65535 ||
	    (*end && *end != '/'))
		return false;
	h->addr.sin_port = htons((uint16_t)port);
	if ((size_t)snprintf(h->host_header, sizeof(h->host_header), "%.*s",
			     (int)(end - p), p) >= sizeof(h->host_header))
		return false;
	snprintf(h->base, sizeof(h->base), "%s", end);
	n = strlen(h->base);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';	/* the request path brings its own */
	h->url_len = strlen(url);
	return true;
}

/* ---- connections ----------------------------------------------------- */

static void up_idle_unlink(struct up_conn *conn)
{
	struct up_host *h = conn->host;

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
}

/* Closes conn (no call on it any more).  Inside its own callback the
 * callback's -1 does it; elsewhere lws closes it now, and RAW_CLOSE frees
 * conn before this returns. */
static void up_conn_close(struct up_conn *conn)
{
	up_idle_unlink(conn);
	conn->call = NULL;
	conn->closing = true;
	if (!conn->in_callback)
		lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_SYNC);
}

static void up_conn_park(struct up_conn *conn)
{
	struct up_host *h = conn->host;

	conn->call = NULL;
	if (h->nidle >= UP_IDLE_MAX || conn->client->stopping) {
		up_conn_close(conn);
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
}

/* ---- the end of a call --------------------------------------------------- */

static void up_call_free(struct up_call *call)
{
	buf_release(&call->head);
	free(call->head_out);
	free(call);
}

/* Ends call with rc: its connection is kept for the next call only after
 * a clean exchange; on_done runs last (the body goes with it). */
static void up_call_end(struct up_call *call, int rc)
{
	struct up_client *c = call->client;
	struct up_conn *conn = call->conn;

	if (call->prev)
		call->prev->next = call->next;
	else
		c->running = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->conn = NULL;
	if (conn) {
		if (rc == 0 && call->keep_alive &&
		    call->sent == call->head_out_len + call->body_len)
			up_conn_park(conn);
		else
			up_conn_close(conn);
	}
	call->cb.on_done(call->arg, rc);
	up_call_free(call);
}

/* ---- writing the request ----------------------------------------------- */

/* Sends what the socket takes; 0 (more later on WRITEABLE) or a
 * negative error when the connection is broken. */
static int up_call_write(struct up_call *call)
{
	struct up_conn *conn = call->conn;
	size_t total = call->head_out_len + call->body_len;

	while (call->sent < total) {
		const char *p;
		size_t n;
		ssize_t w;

		if (call->sent < call->head_out_len) {
			p = call->head_out + call->sent;
			n = call->head_out_len - call->sent;
		} else {
			p = call->body + (call->sent - call->head_out_len);
			n = total - call->sent;
		}
		w = send(conn->fd, p, n, MSG_NOSIGNAL);
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

static bool up_token_has(const char *value, const char *word)
{
	size_t n = strlen(word);
	const char *p = value;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, word, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
		     p[n] == '\t' || p[n] == ';'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/*
 * The head is complete in call->head (lines ended by '\n', the blank
 * line included).  Decides how the body is framed and runs on_head;
 * 1 when it was a 1xx head to skip, 0 when on_head ran, else an error.
 */
static int up_call_parse_head(struct up_call *call)
{
	const char *lines[UP_HEAD_LINES];
	char *p = call->head.data, *eol, *colon, *value;
	bool http10, chunked = false, have_len = false, close = false;
	unsigned long long len = 0;
	size_t n = 0;
	int status;

	/* the status line: HTTP/1.x SSS reason */
	eol = strchr(p, '\n');
	*eol = '\0';
	if (eol > p && eol[-1] == '\r')
		eol[-1] = '\0';
	if (strncmp(p, "HTTP/1.", 7) != 0 || !p[7] || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (p[12] && p[12] != ' '))
		return CHAT_EUPSTREAM;
	http10 = p[7] == '0';
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (status >= 100 && status < 200 && status != 101) {
		buf_reset(&call->head);
		return 1;
	}
	for (p = eol + 1; *p; p = eol + 1) {
		eol = strchr(p, '\n');
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		if (!*p)
			break;		/* the blank line */
		if (*p == ' ' || *p == '\t')
			continue;	/* obsolete line folding */
		colon = strchr(p, ':');
		if (!colon || colon == p)
			return CHAT_EUPSTREAM;
		if (n == UP_HEAD_LINES)
			return CHAT_ETOOBIG;
		lines[n++] = p;
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		if ((size_t)(colon - p) == 17 &&
		    strncasecmp(p, "transfer-encoding", 17) == 0) {
			chunked = up_token_has(value, "chunked");
		} else if ((size_t)(colon - p) == 14 &&
			   strncasecmp(p, "content-length", 14) == 0) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(value, &end, 10);
			while (*end == ' ' || *end == '\t')
				end++;
			if (errno || end == value || *end || *value == '-' ||
			    (have_len && v != len))
				return CHAT_EUPSTREAM;
			len = v;
			have_len = true;
		} else if ((size_t)(colon - p) == 10 &&
			   strncasecmp(p, "connection", 10) == 0) {
			close = up_token_has(value, "close");
		}
	}
	call->keep_alive = !http10 && !close;
	if (call->head_only || status == 204 || status == 304 ||
	    status == 101) {
		call->body_mode = UP_BODY_NONE;
	} else if (chunked) {
		call->body_mode = UP_BODY_CHUNKED;
		call->chunk_state = UP_CHUNK_SIZE;
		call->chunk_line_len = 0;
	} else if (have_len) {
		if (len > call->max_response)
			return CHAT_ETOOBIG;
		call->body_mode = UP_BODY_LENGTH;
		call->remaining = len;
	} else {
		call->body_mode = UP_BODY_CLOSE;
		call->keep_alive = false;
	}
	call->head_done = true;
	if (call->cb.on_head &&
	    call->cb.on_head(call->arg, status, lines, n) != 0)
		return CHAT_ECANCELED;
	buf_release(&call->head);
	return 0;
}

static int up_call_data(struct up_call *call, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	if (len > call->max_response - call->received)
		return CHAT_ETOOBIG;
	call->received += len;
	if (call->cb.on_data && call->cb.on_data(call->arg, data, len) != 0)
		return CHAT_ECANCELED;
	return 0;
}

/* A chunk-size line (without its CRLF): the size, or -1. */
static long long up_chunk_size(const char *line)
{
	unsigned long long v = 0;
	const char *p = line;

	if (!isxdigit((unsigned char)*p))
		return -1;
	for (; isxdigit((unsigned char)*p); p++) {
		if (v > (1ULL << 40))
			return -1;
		v = v * 16 + (unsigned)(isdigit((unsigned char)*p) ?
			*p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p && *p != ';')
		return -1;
	return (long long)v;
}

/* Reads a line into chunk_line; returns the bytes of data used and sets
 * *done once the line (CRLF or LF ended) is complete. */
static int up_chunk_line(struct up_call *call, const char *data, size_t len,
			 size_t *used, bool *done)
{
	const char *nl = memchr(data, '\n', len);
	size_t take = nl ? (size_t)(nl - data) + 1 : len;

	*done = nl != NULL;
	*used = take;
	if (call->chunk_line_len + take >= sizeof(call->chunk_line))
		return CHAT_EUPSTREAM;
	memcpy(call->chunk_line + call->chunk_line_len, data, take);
	call->chunk_line_len += take;
	call->chunk_line[call->chunk_line_len] = '\0';
	if (*done) {
		size_t n = call->chunk_line_len - 1;	/* the '\n' */

		if (n > 0 && call->chunk_line[n - 1] == '\r')
			n--;
		call->chunk_line[n] = '\0';
		call->chunk_line_len = 0;
	}
	return 0;
}

/* Chunked body bytes; 1 once the last chunk and the trailers are in. */
static int up_call_chunked(struct up_call *call, const char *data,
			   size_t len, size_t *used_out)
{
	size_t used = 0, u;
	bool done;
	long long size;
	int rc;

	while (used < len) {
		switch (call->chunk_state) {
		case UP_CHUNK_SIZE:
			rc = up_chunk_line(call, data + used, len - used, &u,
					   &done);
			if (rc)
				return rc;
			used += u;
			if (!done)
				break;
			size = up_chunk_size(call->chunk_line);
			if (size < 0)
				return CHAT_EUPSTREAM;
			call->remaining = (uint64_t)size;
			call->chunk_state = size ? UP_CHUNK_DATA :
						   UP_CHUNK_TRAILER;
			break;
		case UP_CHUNK_DATA:
			u = len - used;
			if (u > call->remaining)
				u = (size_t)call->remaining;
			rc = up_call_data(call, data + used, u);
			if (rc)
				return rc;
			used += u;
			call->remaining -= u;
			if (call->remaining == 0)
				call->chunk_state = UP_CHUNK_DATA_END;
			break;
		case UP_CHUNK_DATA_END:
			rc = up_chunk_line(call, data + used, len - used, &u,
					   &done);
			if (rc)
				return rc;
			used += u;
			if (!done)
				break;
			if (call->chunk_line[0])
				return CHAT_EUPSTREAM;
			call->chunk_state = UP_CHUNK_SIZE;
			break;
		case UP_CHUNK_TRAILER:
			rc = up_chunk_line(call, data + used, len - used, &u,
					   &done);
			if (rc)
				return rc;
			used += u;
			if (done && !call->chunk_line[0]) {
				*used_out = used;
				return 1;
			}
			break;
		}
	}
	*used_out = used;
	return 0;
}

/*
 * Bytes from the upstream.  Returns 1 when the answer is complete (any
 * bytes after it make the connection unfit for reuse), 0 for more, or a
 * negative error.
 */
static int up_call_feed(struct up_call *call, const char *data, size_t len)
{
	size_t used = 0, start, take;
	const char *end;
	int rc;

	call->last_io_ms = mono_ms();
	while (!call->head_done) {
		if (len == 0)
			return 0;
		start = call->head.len > 3 ? call->head.len - 3 : 0;
		take = len;
		if (call->head.len + take > UP_HEAD_MAX)
			take = UP_HEAD_MAX - call->head.len;
		if (take == 0)
			return CHAT_ETOOBIG;
		if (buf_append(&call->head, data, take) != 0)
			return CHAT_ETOOBIG;
		end = NULL;
		for (size_t i = start; i + 1 < call->head.len; i++) {
			const char *q = call->head.data + i;

			if (q[0] == '\n' && q[1] == '\n') {
				end = q + 2;
				break;
			}
			if (i + 3 < call->head.len && q[0] == '\r' &&
			    q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
				end = q + 4;
				break;
			}
		}
		if (!end) {
			if (call->head.len >= UP_HEAD_MAX)
				return CHAT_ETOOBIG;
			call->received += take;
			data += take;
			len -= take;
			continue;
		}
		/* the bytes of this piece that belong to the head */
		used = (size_t)(end - call->head.data) - (call->head.len - take);
		call->head.len = (size_t)(end - call->head.data);
		call->head.data[call->head.len] = '\0';
		call->received += used;
		if (call->received > call->max_response)
			return CHAT_ETOOBIG;
		data += used;
		len -= used;
		rc = up_call_parse_head(call);
		if (rc < 0)
			return rc;
		/* 1: a 1xx head went, the next one follows */
	}
	switch (call->body_mode) {
	case UP_BODY_NONE:
		if (len)
			call->keep_alive = false;
		return 1;
	case UP_BODY_LENGTH:
		take = len;
		if (take > call->remaining)
			take = (size_t)call->remaining;
		rc = up_call_data(call, data, take);
		if (rc)
			return rc;
		call->remaining -= take;
		if (call->remaining > 0)
			return 0;
		if (len > take)
			call->keep_alive = false;
		return 1;
	case UP_BODY_CHUNKED:
		rc = up_call_chunked(call, data, len, &used);
		if (rc == 1 && used < len)
			call->keep_alive = false;
		return rc;
	case UP_BODY_CLOSE:
		return up_call_data(call, data, len);
	}
	return CHAT_EUPSTREAM;
}

/* ---- the lws side ------------------------------------------------------- */

/* The connect of a fresh connection finished: did it work? */
static bool up_conn_check_connect(struct up_conn *conn)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0)
		return false;
	conn->connected = true;
	return true;
}

static int up_on_rx(struct up_conn *conn, const char *in, size_t len)
{
	struct up_call *call = conn->call;
	int rc;

	if (!call)
		return -1;		/* an idle connection talks: drop it */
	conn->connected = true;
	rc = up_call_feed(call, in, len);
	if (rc == 0)
		return 0;
	up_call_end(call, rc == 1 ? 0 : rc);
	return 0;
}

static int up_on_writeable(struct up_conn *conn)
{
	struct up_call *call = conn->call;

	if (!call)
		return 0;
	if (!conn->connected && !up_conn_check_connect(conn))
		return -1;		/* RAW_CLOSE: lost */
	return up_call_write(call) == 0 ? 0 : -1;
}

static void up_on_close(struct up_conn *conn)
{
	struct up_call *call = conn->call;

	up_idle_unlink(conn);
	if (call) {
		conn->call = NULL;
		call->conn = NULL;
		if (!conn->reused)
			call->retried = true;	/* fresh: no second try */
		up_call_lost(call);
	}
	free(conn);
}

static int up_callback(struct lws *wsi, enum lws_callback_reasons reason,
		       void *user, void *in, size_t len)
{
	struct up_conn *conn = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	int rc = 0;

	(void)user;
	if (!conn)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX:
		conn->in_callback = true;
		rc = up_on_rx(conn, in, len);
		conn->in_callback = false;
		break;
	case LWS_CALLBACK_RAW_WRITEABLE:
		conn->in_callback = true;
		rc = up_on_writeable(conn);
		conn->in_callback = false;
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		up_on_close(conn);
		return 0;
	default:
		return 0;
	}
	return conn->closing ? -1 : rc;
}

/* ---- calls -------------------------------------------------------------- */

/* The connection went away with call on it: the end of a body that runs
 * until close, a retry of a stale keep-alive connection, or a failure. */
static void up_call_lost(struct up_call *call)
{
	if (call->head_done && call->body_mode == UP_BODY_CLOSE) {
		up_call_end(call, 0);
		return;
	}
	if (!call->retried && call->received == 0 && !call->head.len &&
	    !call->client->stopping) {
		call->retried = true;
		call->sent = 0;
		if (up_call_connect(call) == 0)
			return;
	}
	up_call_end(call, CHAT_EUPSTREAM);
}

static int up_vhost(struct up_client *c)
{
	struct lws_context_creation_info info;

	if (c->vhost)
		return 0;
	c->ctx = http_server_lws_context(c->gw->d.server);
	c->protocols[0] = (struct lws_protocols){
		.name = UP_PROTOCOL,
		.callback = up_callback,
		.rx_buffer_size = 16384,
	};
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = c->protocols;
	info.vhost_name = UP_PROTOCOL;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	c->vhost = lws_create_vhost(c->ctx, &info);
	return c->vhost ? 0 : CHAT_ENOMEM;
}

/* Puts call on a connection: an idle one, else a new one.  0, or
 * CHAT_EUPSTREAM / CHAT_ENOMEM when it cannot even start (no callback). */
static int up_call_connect(struct up_call *call)
{
	struct up_host *h = call->host;
	struct up_conn *conn = h->idle;
	lws_adopt_desc_t desc;
	int fd, one = 1, rc;

	call->start_ms = call->last_io_ms = mono_ms();
	if (conn && !call->retried) {
		up_idle_unlink(conn);
		conn->call = call;
		call->conn = conn;
		rc = up_call_write(call);
		if (rc == 0)
			return 0;
		/* broken while idle: a fresh connection instead */
		call->conn = NULL;
		up_conn_close(conn);
		call->retried = true;
		call->sent = 0;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CHAT_EUPSTREAM;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, (const struct sockaddr *)&h->addr, sizeof(h->addr));
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
	conn->fd = fd;
	conn->connected = rc == 0;
	conn->call = call;
	call->conn = conn;
	memset(&desc, 0, sizeof(desc));
	desc.vh = call->client->vhost;
	desc.type = LWS_ADOPT_SOCKET;
	desc.fd.sockfd = fd;
	desc.vh_prot_name = UP_PROTOCOL;
	desc.opaque = conn;
	conn->wsi = lws_adopt_descriptor_vhost_via_info(&desc);
	if (!conn->wsi) {		/* lws closed fd */
		call->conn = NULL;
		free(conn);
		return CHAT_ENOMEM;
	}
	/* the call's own clocks decide, not an lws default */
	lws_set_timeout(conn->wsi, NO_PENDING_TIMEOUT, 0);
	if (!conn->connected) {
		lws_callback_on_writable(conn->wsi);
		return 0;
	}
	rc = up_call_write(call);
	if (rc != 0) {
		call->conn = NULL;
		up_conn_close(conn);
	}
	return rc;
}

static void up_sweep(lws_sorted_usec_list_t *sul);

static void up_sweep_arm(struct up_client *c)
{
	if (c->sweeping || !c->running)
		return;
	c->sweeping = true;
	lws_sul_schedule(c->ctx, 0, &c->sweep, up_sweep,
			 (lws_usec_t)UP_SWEEP_MS * LWS_US_PER_MS);
}

/* Connect deadlines, idle timeouts and callers who left. */
static void up_sweep(lws_sorted_usec_list_t *sul)
{
	struct up_client *c = lws_container_of(sul, struct up_client, sweep);
	struct up_call *call, *next;
	int64_t now = mono_ms();

	c->sweeping = false;
	for (call = c->running; call; call = next) {
		next = call->next;
		if (call->cb.keep_going && !call->cb.keep_going(call->arg))
			up_call_end(call, CHAT_ECANCELED);
		else if (call->conn && !call->conn->connected &&
			 now - call->start_ms > call->connect_timeout_ms)
			up_call_end(call, CHAT_EUPSTREAM);
		else if (call->idle_timeout_ms &&
			 now - call->last_io_ms > call->idle_timeout_ms)
			up_call_end(call, CHAT_ETIMEDOUT);
	}
	up_sweep_arm(c);
}

/* ---- public ------------------------------------------------------------- */

int upstream_new(struct gatewayd *gw, struct up_client **out)
{
	struct up_client *c = calloc(1, sizeof(*c));
	size_t i;

	*out = NULL;
	if (!c)
		return CHAT_ENOMEM;
	c->gw = gw;
	for (i = 0; i < gw->nups; i++) {
		c->hosts[i].direct = up_parse_url(gw->ups[i].url,
						  &c->hosts[i]);
		if (!c->hosts[i].direct)
			log_info("upstream '%s' at %s goes through libcurl",
				 gw->ups[i].name, gw->ups[i].url);
	}
	*out = c;
	return 0;
}

void upstream_free(struct up_client *c)
{
	size_t i;

	if (!c)
		return;
	c->stopping = true;
	while (c->running)
		up_call_end(c->running, CHAT_ECANCELED);
	for (i = 0; i < GW_MAX_UPSTREAMS; i++)
		while (c->hosts[i].idle)
			up_conn_close(c->hosts[i].idle);
	if (c->ctx)
		lws_sul_cancel(&c->sweep);
	free(c);
}

bool upstream_direct(const struct up_client *c, const struct gw_upstream *up,
		     const char *url)
{
	const struct up_host *h = &c->hosts[up - c->gw->ups];

	return h->direct && strncmp(url, up->url, h->url_len) == 0;
}

void upstream_cron(struct up_client *c)
{
	int64_t now = mono_ms();
	struct up_conn *conn, *next;
	size_t i;

	for (i = 0; i < GW_MAX_UPSTREAMS; i++)
		for (conn = c->hosts[i].idle; conn; conn = next) {
			next = conn->next;
			if (now - conn->idle_since > UP_IDLE_KEEP_MS)
				up_conn_close(conn);
		}
}

/* "METHOD base+rest HTTP/1.1", Host, the caller's headers, the length. */
static int up_build_head(struct up_call *call, const struct http_request *req)
{
	const char *m = req->method ? req->method : "GET";
	const char *const *hp;
	struct buf b;
	bool with_len;
	int rc;

	buf_init(&b, UP_HEAD_MAX + GW_URL_MAX + 16384);
	rc = buf_printf(&b, "%s %s%s HTTP/1.1\r\nHost: %s\r\n", m,
			call->host->base, req->url + call->host->url_len,
			call->host->host_header);
	for (hp = req->headers; rc == 0 && hp && *hp; hp++) {
		if (strpbrk(*hp, "\r\n"))
			continue;
		rc = buf_printf(&b, "%s\r\n", *hp);
	}
	with_len = req->body_len > 0 || strcmp(m, "POST") == 0 ||
		   strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
	if (rc == 0 && with_len)
		rc = buf_printf(&b, "Content-Length: %zu\r\n", req->body_len);
	if (rc == 0)
		rc = buf_puts(&b, "\r\n");
	if (rc != 0) {
		buf_release(&b);
		return rc;
	}
	call->head_out = buf_detach(&b, &call->head_out_len);
	return 0;
}

int upstream_start(struct up_client *c, struct gw_upstream *up,
		   const struct http_request *req,
		   const struct http_client_cb *cb, void *arg)
{
	struct up_call *call;
	int rc;

	if (!cb || !cb->on_done || !req->url)
		return CHAT_EINVAL;
	if (c->stopping)
		return CHAT_ECANCELED;
	rc = up_vhost(c);
	if (rc != 0)
		return rc;
	call = calloc(1, sizeof(*call));
	if (!call)
		return CHAT_ENOMEM;
	call->client = c;
	call->host = &c->hosts[up - c->gw->ups];
	call->cb = *cb;
	call->arg = arg;
	call->body = req->body;
	call->body_len = req->body ? req->body_len : 0;
	call->head_only = req->method && strcmp(req->method, "HEAD") == 0;
	call->connect_timeout_ms = req->connect_timeout_ms > 0 ?
		req->connect_timeout_ms : 1000;
	call->idle_timeout_ms = req->idle_timeout_ms;
	call->max_response = req->max_response ? req->max_response :
		(8u << 20);
	buf_init(&call->head, UP_HEAD_MAX + 1);
	rc = up_build_head(call, req);
	if (rc != 0) {
		up_call_free(call);
		return rc;
	}
	/* running from here on: every way out goes through on_done */
	call->next = c->running;
	if (c->running)
		c->running->prev = call;
	c->running = call;
	up_sweep_arm(c);
	rc = up_call_connect(call);
	if (rc != 0)
		up_call_end(call, rc == CHAT_ENOMEM ? rc : CHAT_EUPSTREAM);
	return 0;
}
