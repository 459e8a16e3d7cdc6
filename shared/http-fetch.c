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
 * connect timeout), send the request with "Connection: close", read the
 * head line by line, then the body as the head says (chunked,
 * Content-Length, or until the server closes).  Every wait is a poll
 * bounded by the idle timeout and the whole-call deadline.
 */
#include "http-fetch.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "err.h"
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
	char host[FETCH_HOST_MAX];	/* as written, for Host: */
	const char *path;		/* into the URL; "" means "/" */
};

/* One call's connection and its read buffer. */
struct fetch_conn {
	int fd;
	int64_t deadline;		/* mono_ms; 0: none */
	long idle_ms;			/* 0: none */
	size_t max;			/* ceiling of head + body */
	size_t received;		/* head and body bytes so far */
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

/* http://host[:port][path]; host is a dotted IPv4 address or localhost. */
static int fetch_url_parse(const char *url, struct fetch_url *u)
{
	const char *h, *end, *colon;
	size_t hlen;
	unsigned long port = 80;
	char *pend;

	memset(u, 0, sizeof(*u));
	if (!url || strncmp(url, "http://", 7) != 0)
		return CHAT_EINVAL;
	h = url + 7;
	end = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(end - h)))
		return CHAT_EINVAL;		/* user info: curl's job */
	colon = memchr(h, ':', (size_t)(end - h));
	hlen = (size_t)((colon ? colon : end) - h);
	if (hlen == 0 || hlen >= sizeof(u->host))
		return CHAT_EINVAL;
	if (colon) {
		if (colon + 1 == end || colon[1] < '0' || colon[1] > '9')
			return CHAT_EINVAL;
		errno = 0;
		port = strtoul(colon + 1, &pend, 10);
		if (errno || pend != end || port < 1 || port > 65535)
			return CHAT_EINVAL;
	}
	memcpy(u->host, h, hlen);
	u->host[hlen] = '\0';
	u->addr.sin_family = AF_INET;
	u->addr.sin_port = htons((uint16_t)port);
	if (strcasecmp(u->host, "localhost") == 0)
		u->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, u->host, &u->addr.sin_addr) != 1)
		return CHAT_EINVAL;
	if (colon)
		snprintf(u->host + hlen, sizeof(u->host) - hlen, ":%lu", port);
	u->path = end;
	return 0;
}

bool http_fetch_plain_can(const struct http_request *req)
{
	struct fetch_url u;

	return req && !req->unix_socket &&
	       fetch_url_parse(req->url, &u) == 0;
}

/* No control bytes (a tab is fine where spaces are) and, in a request
 * line's parts, no spaces: nothing can split or inject a line. */
static bool fetch_text_ok(const char *s, bool spaces)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == 0x7f || (ch < 0x20 && !(spaces && ch == '\t')) ||
		    (ch == ' ' && !spaces))
			return false;
	}
	return true;
}

static bool fetch_has_header(const char *const *h, const char *name)
{
	size_t n = strlen(name);

	for (; h && *h; h++)
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
			return true;
	return false;
}

/* The request head into out. */
static int fetch_head_build(const struct http_request *req, const char *method,
			    const struct fetch_url *u, struct buf *out)
{
	const char *const *h;
	const char *path = u->path;
	bool body_len = req->body || strcmp(method, "POST") == 0 ||
			strcmp(method, "PUT") == 0 ||
			strcmp(method, "PATCH") == 0;
	int rc;

	if (!*method || !fetch_text_ok(method, false) ||
	    !fetch_text_ok(path, false))
		return CHAT_EINVAL;
	/* the fragment is the client's, never sent */
	rc = buf_printf(out, "%s %s%.*s HTTP/1.1\r\nHost: %s\r\n", method,
			*path == '/' ? "" : "/", (int)strcspn(path, "#"),
			path, u->host);
	for (h = req->headers; rc == 0 && h && *h; h++) {
		if (!fetch_text_ok(*h, true) || !strchr(*h, ':'))
			return CHAT_EINVAL;
		rc = buf_printf(out, "%s\r\n", *h);
	}
	if (rc == 0 && body_len && !fetch_has_header(req->headers,
						     "Content-Length"))
		rc = buf_printf(out, "Content-Length: %zu\r\n",
				req->body ? req->body_len : 0);
	if (rc == 0)
		rc = buf_puts(out, "Connection: close\r\n\r\n");
	return rc;
}

/* Polls c->fd for events within limit_ms (<0: no own limit), the idle
 * timeout and the deadline.  0 when ready; CHAT_ETIMEDOUT otherwise
 * (the connect step maps it). */
static int fetch_wait(struct fetch_conn *c, short events, long limit_ms)
{
	struct pollfd p = { .fd = c->fd, .events = events };
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
		n = poll(&p, 1, bounded ? (int)(t > INT32_MAX ? INT32_MAX : t)
					: -1);
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

/* Counts n more bytes of the answer against the ceiling. */
static int fetch_count(struct fetch_conn *c, size_t n)
{
	if (n > c->max - c->received)
		return CHAT_ETOOBIG;
	c->received += n;
	return 0;
}

/* One line without its CR LF into line (reset first); CHAT_EUPSTREAM at
 * the end of the stream, CHAT_ETOOBIG past FETCH_LINE_MAX. */
static int fetch_line(struct fetch_conn *c, struct buf *line)
{
	const char *nl;
	size_t n;
	int rc;

	buf_reset(line);
	for (;;) {
		rc = fetch_fill(c);
		if (rc < 0)
			return rc;
		if (c->eof)
			return CHAT_EUPSTREAM;
		nl = memchr(c->rbuf + c->pos, '\n', c->len - c->pos);
		n = nl ? (size_t)(nl - (c->rbuf + c->pos)) + 1 : c->len - c->pos;
		rc = fetch_count(c, n);
		if (rc == 0)
			rc = buf_append(line, c->rbuf + c->pos, n);
		if (rc < 0)
			return rc;
		c->pos += n;
		if (nl)
			break;
	}
	/* line->data is set: at least the LF went in */
	while (line->len > 0 && (line->data[line->len - 1] == '\n' ||
				 line->data[line->len - 1] == '\r'))
		line->data[--line->len] = '\0';
	return 0;
}

/* What a head says about the body that follows. */
struct fetch_head {
	int status;
	bool chunked;
	bool has_length;
	size_t length;
};

/* Reads heads until the final (non-1xx) one. */
static int fetch_head_read(struct fetch_conn *c, struct fetch_head *fh)
{
	struct buf line;
	size_t head_bytes;
	int rc = 0;
	char *end;
	unsigned long long v;

	buf_init(&line, FETCH_LINE_MAX);
	for (;;) {
		memset(fh, 0, sizeof(*fh));
		head_bytes = c->received;
		rc = fetch_line(c, &line);
		if (rc < 0)
			goto out;
		if (line.len < 12 || strncmp(line.data, "HTTP/1.", 7) != 0 ||
		    line.data[8] != ' ' || line.data[9] < '1' ||
		    line.data[9] > '5' || line.data[10] < '0' ||
		    line.data[10] > '9' || line.data[11] < '0' ||
		    line.data[11] > '9' || (line.len > 12 &&
					   line.data[12] != ' ')) {
			rc = CHAT_EUPSTREAM;
			goto out;
		}
		fh->status = atoi(line.data + 9);
		for (;;) {
			rc = fetch_line(c, &line);
			if (rc < 0)
				goto out;
			if (c->received - head_bytes > FETCH_HEAD_MAX) {
				rc = CHAT_ETOOBIG;
				goto out;
			}
			if (line.len == 0)
				break;
			if (strncasecmp(line.data, "Content-Length:", 15) == 0) {
				const char *p = line.data + 15;

				p += strspn(p, " \t");
				errno = 0;
				v = strtoull(p, &end, 10);
				end += strspn(end, " \t");
				if (*p < '0' || *p > '9' || errno || *end ||
				    (fh->has_length && fh->length != v)) {
					rc = CHAT_EUPSTREAM;
					goto out;
				}
				/* an announced body past the ceiling is
				 * refused now, not after reading up to it */
				if (v > c->max - c->received) {
					rc = CHAT_ETOOBIG;
					goto out;
				}
				fh->has_length = true;
				fh->length = (size_t)v;
			} else if (strncasecmp(line.data,
					       "Transfer-Encoding:", 18) == 0) {
				fh->chunked = strcasestr(line.data + 18,
							 "chunked") != NULL;
			}
		}
		if (fh->status >= 200 || fh->status == 101)
			break;
	}
out:
	buf_release(&line);
	return rc;
}

/* n body bytes from the buffer into body, counted. */
static int fetch_take(struct fetch_conn *c, struct buf *body, size_t n)
{
	int rc = fetch_count(c, n);

	if (rc == 0)
		rc = buf_append(body, c->rbuf + c->pos, n);
	c->pos += n;
	return rc;
}

/* Exactly len bytes, or (!has_length) until the server closes. */
static int fetch_body_plain(struct fetch_conn *c, struct buf *body,
			    bool has_length, size_t len)
{
	size_t n;
	int rc;

	while (!has_length || len > 0) {
		rc = fetch_fill(c);
		if (rc < 0)
			return rc;
		if (c->eof)
			return has_length ? CHAT_EUPSTREAM : 0;
		n = c->len - c->pos;
		if (has_length && n > len)
			n = len;
		rc = fetch_take(c, body, n);
		if (rc < 0)
			return rc;
		if (has_length)
			len -= n;
	}
	return 0;
}

static int fetch_body_chunked(struct fetch_conn *c, struct buf *body)
{
	struct buf line;
	unsigned long long size;
	char *end;
	int rc = 0;

	buf_init(&line, FETCH_LINE_MAX);
	for (;;) {
		rc = fetch_line(c, &line);
		if (rc < 0)
			goto out;
		errno = 0;
		size = strtoull(line.data, &end, 16);
		if (end == line.data || errno || (*end && *end != ';' &&
						  *end != ' ' && *end != '\t')) {
			rc = CHAT_EUPSTREAM;
			goto out;
		}
		if (size == 0)
			break;
		if (size > c->max - c->received) {
			rc = CHAT_ETOOBIG;
			goto out;
		}
		rc = fetch_body_plain(c, body, true, (size_t)size);
		if (rc == 0)
			rc = fetch_line(c, &line);
		if (rc == 0 && line.len != 0)
			rc = CHAT_EUPSTREAM;
		if (rc < 0)
			goto out;
	}
	/* trailers, up to the blank line */
	do {
		rc = fetch_line(c, &line);
	} while (rc == 0 && line.len > 0);
out:
	buf_release(&line);
	return rc;
}

/* The answer to a request that went out: heads, then the body as the
 * final head frames it. */
static int fetch_answer(struct fetch_conn *c, bool head_only, int *status,
			struct buf *body)
{
	struct fetch_head fh = { 0 };
	int rc;

	rc = fetch_head_read(c, &fh);
	if (rc < 0)
		return rc;
	if (head_only || fh.status == 204 || fh.status == 304 ||
	    fh.status == 101)
		rc = 0;
	else if (fh.chunked)
		rc = fetch_body_chunked(c, body);
	else
		rc = fetch_body_plain(c, body, fh.has_length, fh.length);
	if (rc == 0)
		*status = fh.status;
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
		rc = fetch_head_build(req, method, &u, &head);
	if (rc < 0)
		goto out;
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	c->fd = -1;
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
	rc = fetch_answer(c, strcmp(method, "HEAD") == 0, status, body);
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
	c->max = max_response ? max_response : FETCH_MAX_RESPONSE;
	c->from_mem = true;
	c->mem = data;
	c->mem_len = data ? len : 0;
	c->mem_piece = piece && piece < FETCH_RBUF ? piece : FETCH_RBUF;
	rc = fetch_answer(c, head_only, status, body);
	free(c);
	return rc;
}
