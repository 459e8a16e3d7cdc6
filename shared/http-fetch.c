/*
 * http-fetch.c - blocking HTTP/1.1 without libcurl, for http_fetch calls
 * to http://<IPv4 | localhost>[:port] (http-fetch.h).
 *
 * Why: the daemons' blocking calls go to each other (userd -> sessiond,
 * chatd -> userd, aid -> a local model server) over loopback; linking
 * libcurl for them cost every daemon ~4 MiB of RSS in libraries it
 * never used otherwise.
 *
 * One call is one connection: connect (non-blocking, poll with the
 * connect timeout), send the request with "Connection: close", then
 * feed what the server sends to the answer reader, which frames the
 * body as the head says (chunked, Content-Length, or until the server
 * closes).  URLs, the request head and the answer are url.c's,
 * http1-request.c's and http1-response.c's, as for http-loop.c.  Every
 * wait is a poll bounded by the idle timeout and the whole-call
 * deadline.
 */
#include "http-fetch.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "err.h"
#include "http1-request.h"
#include "http1-response.h"
#include "url.h"
#include "util.h"
#include "banned.h"

#define FETCH_CONNECT_MS 1000		/* default connect timeout */
#define FETCH_MAX_RESPONSE (8u << 20)	/* default ceiling */
#define FETCH_HEAD_MAX (64 * 1024)	/* one response head, bytes */
#define FETCH_LINE_MAX 8192		/* one head or chunk-size line */
#define FETCH_HOST_MAX 64
#define FETCH_RBUF 16384

struct fetch_url {
	struct sockaddr_in addr;
	struct url url;			/* its parts, for the request head */
};

/* One call's connection and its read buffer. */
struct fetch_conn {
	int fd;
	int cancel_fd;			/* readable: give up; -1: none */
	int64_t deadline;		/* mono_ms; 0: none */
	long idle_ms;			/* 0: none */
	size_t max;			/* ceiling of head + body */
	char rbuf[FETCH_RBUF];
	size_t pos, len;
	int eof;
	/* http_fetch_parse: the answer comes from memory, not from fd */
	bool from_mem;
	const char *mem;		/* what is left of it */
	size_t mem_len;
	size_t mem_piece;		/* bytes per fill, 1..FETCH_RBUF */
};

static int fetch_url_parse(const char *url, struct fetch_url *u);
static int fetch_wait(struct fetch_conn *c, short events, long limit_ms);

/* http://<IPv4 | localhost>[:port][path][?query] (url.h's grammar). */
static int fetch_url_parse(const char *url, struct fetch_url *u)
{
	int rc = url_parse(url, &u->url, NULL);

	if (rc == 0 && u->url.scheme != URL_HTTP)
		rc = CHAT_EINVAL;
	if (rc == 0)
		rc = url_ipv4(&u->url, &u->addr);
	return rc;
}

bool http_fetch_plain_can(const struct http_request *req)
{
	struct fetch_url u;

	return req && !req->unix_socket &&
	       fetch_url_parse(req->url, &u) == 0;
}

/* Polls c->fd for events within limit_ms (<0: no own limit), the idle
 * timeout and the deadline.  0 when ready; CHAT_ETIMEDOUT otherwise
 * (the connect step maps it). */
static int fetch_wait(struct fetch_conn *c, short events, long limit_ms)
{
	struct pollfd p[2] = { { .fd = c->fd, .events = events },
			       { .fd = c->cancel_fd, .events = POLLIN } };
	int64_t start = mono_ms(), now, left;
	bool bounded;
	int64_t t;
	int n;

	for (;;) {
		now = mono_ms();
		bounded = false;
		t = 0;
		if (limit_ms >= 0) {
			t = limit_ms - (now - start);
			bounded = true;
		}
		if (c->idle_ms > 0) {
			left = c->idle_ms - (now - start);
			if (!bounded || left < t)
				t = left;
			bounded = true;
		}
		if (c->deadline) {
			left = c->deadline - now;
			if (!bounded || left < t)
				t = left;
			bounded = true;
		}
		if (bounded && t <= 0)
			return CHAT_ETIMEDOUT;
		n = poll(p, c->cancel_fd >= 0 ? 2 : 1,
			 bounded ? (int)(t > INT32_MAX ? INT32_MAX : t) : -1);
		if (n > 0 && p[1].revents)
			return CHAT_ECANCELED;
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return CHAT_EUPSTREAM;
	}
}

static int fetch_connect(struct fetch_conn *c, const struct fetch_url *u,
			 long connect_ms)
{
	int one = 1, soerr = 0, rc;
	socklen_t len = sizeof(soerr);

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return CHAT_EIO;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&u->addr,
		    sizeof(u->addr)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return CHAT_EUPSTREAM;
	rc = fetch_wait(c, POLLOUT, connect_ms);
	if (rc == CHAT_ECANCELED)
		return rc;
	if (rc < 0)
		return CHAT_EUPSTREAM;		/* a connect timeout too */
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
	    soerr != 0)
		return CHAT_EUPSTREAM;
	return 0;
}

/* Sends all of data; CHAT_EUPSTREAM when the peer is gone. */
static int fetch_send(struct fetch_conn *c, const char *data, size_t len)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = fetch_wait(c, POLLOUT, -1);
			if (rc < 0)
				return rc;
			continue;
		}
		return CHAT_EUPSTREAM;
	}
	return 0;
}

/* Refills the read buffer when it is empty; sets c->eof at the end. */
static int fetch_fill(struct fetch_conn *c)
{
	ssize_t n;
	int rc;

	if (c->pos < c->len || c->eof)
		return 0;
	if (c->from_mem) {
		n = (ssize_t)(c->mem_len < c->mem_piece ? c->mem_len
							 : c->mem_piece);
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		memcpy(c->rbuf, c->mem, (size_t)n);
		c->mem += n;
		c->mem_len -= (size_t)n;
		c->pos = 0;
		c->len = (size_t)n;
		return 0;
	}
	for (;;) {
		n = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
		if (n > 0) {
			c->pos = 0;
			c->len = (size_t)n;
			return 0;
		}
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return CHAT_EUPSTREAM;
		rc = fetch_wait(c, POLLIN, -1);
		if (rc < 0)
			return rc;
	}
}

/* What the answer reader hands over. */
struct fetch_got {
	const struct http_request *req;	/* NULL: keep no header */
	struct buf *body;
	int status;
};

static int fetch_on_head(void *arg, int status, const char *const *lines,
			 size_t n)
{
	struct fetch_got *g = arg;

	if (g->req)
		http_request_keep(g->req, lines, n);
	g->status = status;
	return 0;
}

static int fetch_on_data(void *arg, const char *data, size_t len)
{
	struct fetch_got *g = arg;

	return buf_append(g->body, data, len);
}

/* The answer to a request that went out, read until it is complete or
 * the server closes. */
static int fetch_answer(struct fetch_conn *c, const struct http_request *req,
			bool head_only, int *status, struct buf *body)
{
	struct http1_response r;
	struct fetch_got g = { .req = req, .body = body };
	int rc;

	http1_response_init(&r, head_only, c->max, fetch_on_head,
			    fetch_on_data, &g);
	for (;;) {
		rc = fetch_fill(c);
		if (rc < 0)
			break;
		if (c->eof) {
			rc = http1_response_close(&r);
			break;
		}
		/* a complete answer ends the call: the bytes after it
		 * (there should be none) are dropped with the connection */
		rc = http1_response_feed(&r, c->rbuf + c->pos, c->len - c->pos,
					 NULL);
		c->pos = c->len;
		if (rc != 0)
			break;
	}
	if (rc == 1)
		rc = 0;
	if (rc == 0)
		*status = g.status;
	http1_response_release(&r);
	return rc;
}

int http_fetch_plain(const struct http_request *req, int *status,
		     struct buf *body)
{
	struct fetch_conn *c = NULL;
	struct fetch_url u;
	struct buf head;
	const char *method = req->method ? req->method : "GET";
	long connect_ms;
	int rc = 0, send_rc;

	*status = 0;
	buf_init(&head, FETCH_HEAD_MAX);
	rc = fetch_url_parse(req->url, &u);
	if (rc == 0 && req->unix_socket)
		rc = CHAT_EINVAL;
	if (rc == 0)
		rc = http1_request_head(&head, method, &u.url, req->headers,
					req->body, req->body_len, true);
	if (rc == CHAT_ETOOBIG)
		rc = CHAT_EINVAL;
	if (rc < 0)
		goto out;
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	c->fd = -1;
	c->cancel_fd = req->cancel_fd ? *req->cancel_fd : -1;
	c->idle_ms = req->idle_timeout_ms > 0 ? req->idle_timeout_ms : 0;
	c->deadline = req->timeout_ms > 0 ? mono_ms() + req->timeout_ms : 0;
	c->max = req->max_response ? req->max_response : FETCH_MAX_RESPONSE;
	connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
						 : FETCH_CONNECT_MS;
	rc = fetch_connect(c, &u, connect_ms);
	if (rc < 0)
		goto out;
	/* a server may answer (413...) and close before taking the whole
	 * body: its answer still counts, so a failed send reads on */
	send_rc = fetch_send(c, head.data, head.len);
	if (send_rc == 0 && req->body && req->body_len)
		send_rc = fetch_send(c, req->body, req->body_len);
	if (send_rc == CHAT_ETIMEDOUT) {
		rc = send_rc;
		goto out;
	}
	rc = fetch_answer(c, req, strcmp(method, "HEAD") == 0, status,
				  body);
out:
	if (c && c->fd >= 0)
		close(c->fd);
	free(c);
	buf_release(&head);
	return rc;
}

int http_fetch_parse(const char *data, size_t len, size_t piece,
		     bool head_only, size_t max_response, int *status,
		     struct buf *body)
{
	struct fetch_conn *c;
	int rc;

	*status = 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return CHAT_ENOMEM;
	c->fd = -1;
	c->cancel_fd = -1;
	c->max = max_response ? max_response : FETCH_MAX_RESPONSE;
	c->from_mem = true;
	c->mem = data;
	c->mem_len = data ? len : 0;
	c->mem_piece = piece && piece < FETCH_RBUF ? piece : FETCH_RBUF;
	rc = fetch_answer(c, NULL, head_only, status, body);
	free(c);
	return rc;
}
