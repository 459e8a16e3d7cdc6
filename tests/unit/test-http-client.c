/*
 * test-http-client.c - the HTTP client (the libcurl module chat-curl.so for
 * the asynchronous calls and Unix sockets, the curl-free http-fetch.c
 * for blocking calls to http://<IPv4|localhost>) against a tiny HTTP/1.1 server
 * that runs inside the test (plain sockets, a thread per connection, on a
 * loopback ephemeral port and on a Unix socket).
 *
 * The server's answers are chosen by path (see server_routes): fixed
 * bodies, an echo, chunked streams with pauses, oversized bodies, a
 * request it never answers, a 1xx head before the final one.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "http-client.h"
#include "util.h"

/* ---- the test server ----------------------------------------------------- */

struct srv_req {
	char method[16];
	char path[256];
	char echo_in[128];		/* value of X-Test-In */
	char *body;			/* points into the connection buffer */
	size_t body_len;
};

typedef void (*srv_handler)(int fd, const struct srv_req *r);

static int srv_port;
static int srv_fd = -1;
static int srv_ufd = -1;
static char srv_unix_path[108];
static atomic_int srv_accepts;		/* connections accepted so far */

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void send_fixed(int fd, int status, const char *extra,
		       const char *body, size_t len)
{
	char head[512];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n%s"
		 "Content-Length: %zu\r\n\r\n", status, extra, len);
	if (send_str(fd, head) == 0)
		send_all(fd, body, len);
}

static int send_chunk(int fd, const char *data, size_t len)
{
	char size[32];

	snprintf(size, sizeof(size), "%zx\r\n", len);
	if (send_str(fd, size) != 0 || send_all(fd, data, len) != 0)
		return -1;
	return send_str(fd, "\r\n");
}

static void h_hello(int fd, const struct srv_req *r)
{
	(void)r;
	send_fixed(fd, 200, "X-Test: yes\r\n", "hello", 5);
}

static void h_echo(int fd, const struct srv_req *r)
{
	char extra[256], body[8192];
	int n;

	snprintf(extra, sizeof(extra), "X-Got: %s\r\n", r->echo_in);
	n = snprintf(body, sizeof(body), "%s:%.*s", r->method,
		     (int)r->body_len, r->body);
	send_fixed(fd, 201, extra, body, (size_t)n);
}

static void h_chunked(int fd, const struct srv_req *r)
{
	static const char *const pieces[] = { "one,", "two,", "three" };
	size_t i;

	(void)r;
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 3; i++) {
		sleep_ms(60);
		if (send_chunk(fd, pieces[i], strlen(pieces[i])) != 0)
			return;
	}
	send_str(fd, "0\r\n\r\n");
}

static void h_big(int fd, const struct srv_req *r)
{
	static char body[100000];

	(void)r;
	memset(body, 'b', sizeof(body));
	send_fixed(fd, 200, "", body, sizeof(body));
}

static void h_big_chunked(int fd, const struct srv_req *r)
{
	char piece[1000];
	int i;

	(void)r;
	memset(piece, 'c', sizeof(piece));
	send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 100; i++)
		if (send_chunk(fd, piece, sizeof(piece)) != 0)
			return;
	send_str(fd, "0\r\n\r\n");
}

/* Never answers; holds the connection for a while. */
static void h_silent(int fd, const struct srv_req *r)
{
	(void)fd;
	(void)r;
	sleep_ms(3000);
}

/* A piece every 50 ms for 5 s, or until the client hangs up. */
static void h_drip(int fd, const struct srv_req *r)
{
	int i;

	(void)r;
	send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 100; i++) {
		if (send_chunk(fd, "drop", 4) != 0)
			return;
		sleep_ms(50);
	}
	send_str(fd, "0\r\n\r\n");
}

static void h_early(int fd, const struct srv_req *r)
{
	(void)r;
	send_str(fd, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n");
	send_fixed(fd, 200, "X-Final: 1\r\n", "late", 4);
}

static void h_nobody(int fd, const struct srv_req *r)
{
	(void)r;
	send_str(fd, "HTTP/1.1 204 No Content\r\nX-Empty: 1\r\n\r\n");
}

/* A Content-Length it does not keep: 4 of 10 bytes, then the end. */
static void h_short(int fd, const struct srv_req *r)
{
	(void)r;
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfour");
	shutdown(fd, SHUT_WR);
}

/* A length no ceiling allows (SIZE_MAX itself), a short body, then
 * the end: refused for its length, never taken for "until close". */
static void h_huge(int fd, const struct srv_req *r)
{
	(void)r;
	send_str(fd, "HTTP/1.1 200 OK\r\n"
		 "Content-Length: 18446744073709551615\r\n\r\nfour");
	shutdown(fd, SHUT_WR);
}

/* No length, no chunks: the body ends when the connection does. */
static void h_until_close(int fd, const struct srv_req *r)
{
	(void)r;
	send_str(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
		 "until the end");
	shutdown(fd, SHUT_WR);
}

/* Not HTTP at all. */
static void h_garbage(int fd, const struct srv_req *r)
{
	(void)r;
	send_str(fd, "SSH-2.0-OpenSSH\r\n\r\n");
	shutdown(fd, SHUT_WR);
}

static const struct {
	const char *path;
	srv_handler fn;
} server_routes[] = {
	{ "/hello", h_hello },
	{ "/echo", h_echo },
	{ "/chunked", h_chunked },
	{ "/big", h_big },
	{ "/bigchunked", h_big_chunked },
	{ "/silent", h_silent },
	{ "/drip", h_drip },
	{ "/early", h_early },
	{ "/nobody", h_nobody },
	{ "/short", h_short },
	{ "/huge", h_huge },
	{ "/untilclose", h_until_close },
	{ "/garbage", h_garbage },
};

/* Parses the request head at the start of buf (NUL-terminated) into r,
 * from a copy of it; returns the head's length or 0 when incomplete. */
static size_t srv_parse_head(const char *buf, struct srv_req *r,
			     size_t *clen)
{
	const char *end = strstr(buf, "\r\n\r\n");
	char head[8192], *line, *save = NULL;
	size_t head_len;

	if (!end || (size_t)(end - buf) >= sizeof(head))
		return 0;
	head_len = (size_t)(end - buf) + 4;
	memcpy(head, buf, head_len - 4);
	head[head_len - 4] = '\0';
	memset(r, 0, sizeof(*r));
	*clen = 0;
	line = strtok_r(head, "\r\n", &save);
	if (line)
		sscanf(line, "%15s %255s", r->method, r->path);
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			*clen = strtoul(line + 15, NULL, 10);
		else if (strncasecmp(line, "X-Test-In:", 10) == 0)
			snprintf(r->echo_in, sizeof(r->echo_in), "%s",
				 line + 11);
	}
	return head_len;
}

/* Serves requests on one connection until the client closes it. */
static void *srv_conn(void *p)
{
	int fd = (int)(intptr_t)p;
	static const size_t cap = 65536;
	char *buf = malloc(cap + 1);
	size_t used = 0, head_len, clen = 0, i;
	struct srv_req r;
	ssize_t n;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (buf) {
		buf[used] = '\0';
		head_len = srv_parse_head(buf, &r, &clen);
		if (head_len && used >= head_len + clen) {
			r.body = buf + head_len;
			r.body_len = clen;
			for (i = 0; i < sizeof(server_routes) /
				     sizeof(server_routes[0]); i++)
				if (strcmp(server_routes[i].path, r.path) == 0)
					server_routes[i].fn(fd, &r);
			used -= head_len + clen;
			memmove(buf, buf + head_len + clen, used);
			continue;
		}
		if (used == cap)
			break;
		n = recv(fd, buf + used, cap - used, 0);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	free(buf);
	close(fd);
	return NULL;
}

static void *srv_accept(void *p)
{
	int lfd = (int)(intptr_t)p, fd;
	pthread_t t;

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		atomic_fetch_add(&srv_accepts, 1);
		if (pthread_create(&t, NULL, srv_conn,
				   (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* A listening loopback socket on an ephemeral port. */
static int listen_tcp(int backlog, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* A listener whose backlog is full (FULL_FILL connections waiting):
 * further SYNs are dropped, so a connect to it can only time out.  Its
 * port goes into *port; full_listener_close ends it. */
#define FULL_FILL 4

struct full_listener {
	int lfd;
	int fill[FULL_FILL];
};

static int full_listener_open(struct full_listener *f, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int i;

	f->lfd = listen_tcp(0, port);
	if (f->lfd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)*port);
	for (i = 0; i < FULL_FILL; i++) {
		f->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(f->fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	sleep_ms(50);
	return 0;
}

static void full_listener_close(struct full_listener *f)
{
	int i;

	for (i = 0; i < FULL_FILL; i++)
		close(f->fill[i]);
	close(f->lfd);
}

static int server_start(void **state)
{
	struct sockaddr_un ua = { .sun_family = AF_UNIX };
	pthread_t t;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	srv_fd = listen_tcp(512, &srv_port);
	if (srv_fd < 0)
		return -1;
	snprintf(srv_unix_path, sizeof(srv_unix_path),
		 "/tmp/test-http-client-%d.sock", (int)getpid());
	unlink(srv_unix_path);
	snprintf(ua.sun_path, sizeof(ua.sun_path), "%s", srv_unix_path);
	srv_ufd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (srv_ufd < 0 ||
	    bind(srv_ufd, (struct sockaddr *)&ua, sizeof(ua)) != 0 ||
	    listen(srv_ufd, 64) != 0)
		return -1;
	if (pthread_create(&t, NULL, srv_accept,
			   (void *)(intptr_t)srv_fd) != 0)
		return -1;
	pthread_detach(t);
	if (pthread_create(&t, NULL, srv_accept,
			   (void *)(intptr_t)srv_ufd) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

static int server_stop(void **state)
{
	(void)state;
	shutdown(srv_fd, SHUT_RDWR);
	shutdown(srv_ufd, SHUT_RDWR);
	unlink(srv_unix_path);
	return 0;
}

static void url_of(char *out, size_t len, const char *path)
{
	snprintf(out, len, "http://127.0.0.1:%d%s", srv_port, path);
}

/* ---- what the callbacks saw ---------------------------------------------- */

struct result {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int heads;			/* on_head calls */
	int status;
	char headers[2048];		/* lines joined by '\n' */
	char body[256 * 1024];
	size_t body_len;
	int pieces;			/* on_data calls */
	int dones;			/* on_done calls */
	int rc;
	int stop_after;			/* keep_going false after n pieces */
	int abort_head;			/* on_head returns nonzero */
};

static void result_init(struct result *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
}

static void result_release(struct result *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
}

static int on_head(void *arg, int status, const char *const *h, size_t n)
{
	struct result *r = arg;
	size_t i, used;

	pthread_mutex_lock(&r->mu);
	r->heads++;
	r->status = status;
	for (i = 0; i < n; i++) {
		used = strlen(r->headers);
		snprintf(r->headers + used, sizeof(r->headers) - used,
			 "%s\n", h[i]);
	}
	pthread_mutex_unlock(&r->mu);
	return r->abort_head;
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct result *r = arg;

	pthread_mutex_lock(&r->mu);
	if (r->body_len + len <= sizeof(r->body)) {
		memcpy(r->body + r->body_len, data, len);
		r->body_len += len;
	}
	r->pieces++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static void on_done(void *arg, int rc)
{
	struct result *r = arg;

	pthread_mutex_lock(&r->mu);
	r->dones++;
	r->rc = rc;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static int keep_going(void *arg)
{
	struct result *r = arg;
	int go;

	pthread_mutex_lock(&r->mu);
	go = !r->stop_after || r->pieces < r->stop_after;
	pthread_mutex_unlock(&r->mu);
	return go;
}

static const struct http_client_cb test_cb = {
	.on_head = on_head,
	.on_data = on_data,
	.on_done = on_done,
	.keep_going = keep_going,
};

/* Waits for on_done (at most 5 s), then a little longer so that a second
 * on_done would be seen. */
static void result_wait(struct result *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&r->mu);
	while (r->dones == 0)
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&r->mu);
	sleep_ms(20);
	pthread_mutex_lock(&r->mu);
	assert_int_equal(r->dones, 1);
	pthread_mutex_unlock(&r->mu);
}

/* One asynchronous call on a fresh client; fills r. */
static void run_call(struct http_request *req, struct result *r)
{
	struct http_client *c = NULL;

	assert_int_equal(http_client_new(&c), 0);
	assert_int_equal(http_client_start(c, req, &test_cb, r), 0);
	result_wait(r);
	http_client_free(c);
	assert_int_equal(r->dones, 1);
}

/* ---- cases --------------------------------------------------------------- */

static void test_http_client__get(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/hello");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->headers, "X-Test: yes\n"));
	assert_non_null(strstr(r->headers, "Content-Type: text/plain\n"));
	assert_null(strstr(r->headers, "HTTP/1.1"));
	assert_int_equal(r->body_len, 5);
	assert_memory_equal(r->body, "hello", 5);
	result_release(r);
	free(r);
}

static void test_http_client__post_body(void **state)
{
	static const char *const hdrs[] = {
		"X-Test-In: forty-two", "Content-Type: application/json", NULL
	};
	char body[] = "{\"a\":1}";
	struct http_request req = {
		.method = "POST", .headers = hdrs,
		.body = body, .body_len = strlen(body),
	};
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/echo");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->status, 201);
	assert_non_null(strstr(r->headers, "X-Got: forty-two\n"));
	assert_int_equal(r->body_len, strlen("POST:{\"a\":1}"));
	assert_memory_equal(r->body, "POST:{\"a\":1}", r->body_len);
	result_release(r);
	free(r);
}

/* The request is copied at start: the caller's memory may change. */
static void test_http_client__request_copied(void **state)
{
	char url[128], body[16] = "patched";
	char hdr[64] = "X-Test-In: original";
	const char *hdrs[] = { hdr, NULL };
	struct http_request req = {
		.method = "PATCH", .headers = hdrs,
		.body = body, .body_len = strlen(body),
	};
	struct http_client *c = NULL;
	struct result *r = malloc(sizeof(*r));

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/echo");
	req.url = url;
	assert_int_equal(http_client_new(&c), 0);
	assert_int_equal(http_client_start(c, &req, &test_cb, r), 0);
	memset(url, 'x', sizeof(url) - 1);
	memset(body, 'y', sizeof(body) - 1);
	memset(hdr, 'z', sizeof(hdr) - 1);
	result_wait(r);
	http_client_free(c);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->status, 201);
	assert_non_null(strstr(r->headers, "X-Got: original\n"));
	assert_memory_equal(r->body, "PATCH:patched", r->body_len);
	result_release(r);
	free(r);
}

static void test_http_client__chunked_stream(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/chunked");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->pieces, 3);
	assert_int_equal(r->body_len, strlen("one,two,three"));
	assert_memory_equal(r->body, "one,two,three", r->body_len);
	result_release(r);
	free(r);
}

static void test_http_client__informational_head(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/early");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->status, 200);
	assert_null(strstr(r->headers, "Link:"));
	assert_non_null(strstr(r->headers, "X-Final: 1\n"));
	assert_memory_equal(r->body, "late", 4);
	result_release(r);
	free(r);
}

static void test_http_client__no_content(void **state)
{
	struct http_request req = { .method = "DELETE" };
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/nobody");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->status, 204);
	assert_non_null(strstr(r->headers, "X-Empty: 1\n"));
	assert_int_equal(r->pieces, 0);
	result_release(r);
	free(r);
}

static void test_http_client__ceiling(void **state)
{
	static const char *const paths[] = { "/big", "/bigchunked" };
	struct http_request req = { .method = "GET", .max_response = 5000 };
	struct result *r = malloc(sizeof(*r));
	char url[128];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		result_init(r);
		url_of(url, sizeof(url), paths[i]);
		req.url = url;
		run_call(&req, r);
		assert_int_equal(r->rc, CHAT_ETOOBIG);
		assert_true(r->body_len <= 5000);
		result_release(r);
	}
	free(r);
}

static void test_http_client__refused(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result *r = malloc(sizeof(*r));
	char url[128];
	int port, fd = listen_tcp(1, &port);
	int64_t t0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);			/* nobody listens there now */
	result_init(r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	req.url = url;
	t0 = mono_ms();
	run_call(&req, r);
	assert_true(mono_ms() - t0 < 1000);
	assert_int_equal(r->rc, CHAT_EUPSTREAM);
	assert_int_equal(r->heads, 0);
	result_release(r);
	free(r);
}

/* A full backlog drops SYNs: the connect times out, which is a connect
 * failure (CHAT_EUPSTREAM), not a slow answer. */
static void test_http_client__connect_timeout(void **state)
{
	struct http_request req = { .method = "GET",
				    .connect_timeout_ms = 300 };
	struct result *r = malloc(sizeof(*r));
	struct full_listener full;
	int port;
	char url[128];
	int64_t t0, took;

	(void)state;
	assert_int_equal(full_listener_open(&full, &port), 0);
	result_init(r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	req.url = url;
	t0 = mono_ms();
	run_call(&req, r);
	took = mono_ms() - t0;
	assert_int_equal(r->rc, CHAT_EUPSTREAM);
	assert_true(took >= 250 && took < 1500);
	full_listener_close(&full);
	result_release(r);
	free(r);
}

static void test_http_client__idle_timeout(void **state)
{
	struct http_request req = { .method = "GET", .idle_timeout_ms = 200 };
	struct result *r = malloc(sizeof(*r));
	char url[128];
	int64_t t0, took;

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/silent");
	req.url = url;
	t0 = mono_ms();
	run_call(&req, r);
	took = mono_ms() - t0;
	assert_int_equal(r->rc, CHAT_ETIMEDOUT);
	assert_int_equal(r->heads, 0);
	assert_true(took >= 190 && took < 1000);
	result_release(r);
	free(r);
}

/* A stream that keeps sending is not idle, but the whole-transfer
 * deadline still ends it. */
static void test_http_client__total_timeout(void **state)
{
	struct http_request req = { .method = "GET", .timeout_ms = 300,
				    .idle_timeout_ms = 200 };
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/drip");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, CHAT_ETIMEDOUT);
	assert_int_equal(r->status, 200);
	assert_true(r->pieces >= 3);
	result_release(r);
	free(r);
}

static void test_http_client__keep_going_abort(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result *r = malloc(sizeof(*r));
	char url[128];
	int64_t t0;

	(void)state;
	result_init(r);
	r->stop_after = 2;
	url_of(url, sizeof(url), "/drip");
	req.url = url;
	t0 = mono_ms();
	run_call(&req, r);
	assert_int_equal(r->rc, CHAT_ECANCELED);
	assert_true(mono_ms() - t0 < 1000);
	assert_true(r->pieces >= 2 && r->pieces < 20);
	result_release(r);
	free(r);
}

static void test_http_client__head_abort(void **state)
{
	struct http_request req = { .method = "GET" };
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	r->abort_head = 1;
	url_of(url, sizeof(url), "/hello");
	req.url = url;
	run_call(&req, r);
	assert_int_equal(r->rc, CHAT_ECANCELED);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->pieces, 0);
	result_release(r);
	free(r);
}

static void test_http_client__unix_socket(void **state)
{
	struct http_request req = { .method = "GET",
				    .url = "http://localhost/hello" };
	struct result *r = malloc(sizeof(*r));

	(void)state;
	result_init(r);
	req.unix_socket = srv_unix_path;
	run_call(&req, r);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->status, 200);
	assert_memory_equal(r->body, "hello", 5);
	result_release(r);
	free(r);
}

/* Sequential calls on one client share one connection. */
static void test_http_client__keep_alive(void **state)
{
	struct http_request req = { .method = "GET" };
	struct http_client *c = NULL;
	struct result *r = malloc(sizeof(*r));
	char url[128];
	int i, before;

	(void)state;
	url_of(url, sizeof(url), "/hello");
	req.url = url;
	assert_int_equal(http_client_new(&c), 0);
	before = atomic_load(&srv_accepts);
	for (i = 0; i < 10; i++) {
		result_init(r);
		assert_int_equal(http_client_start(c, &req, &test_cb, r), 0);
		result_wait(r);
		assert_int_equal(r->rc, 0);
		assert_int_equal(r->status, 200);
		result_release(r);
	}
	assert_int_equal(atomic_load(&srv_accepts) - before, 1);
	http_client_free(c);
	free(r);
}

/* Freeing the client ends running calls with CHAT_ECANCELED, once. */
static void test_http_client__free_cancels(void **state)
{
	struct http_request req = { .method = "GET" };
	struct http_client *c = NULL;
	struct result *r = malloc(sizeof(*r));
	char url[128];

	(void)state;
	result_init(r);
	url_of(url, sizeof(url), "/silent");
	req.url = url;
	assert_int_equal(http_client_new(&c), 0);
	assert_int_equal(http_client_start(c, &req, &test_cb, r), 0);
	sleep_ms(100);
	http_client_free(c);
	assert_int_equal(r->dones, 1);
	assert_int_equal(r->rc, CHAT_ECANCELED);
	result_release(r);
	free(r);
}

static void test_http_client__bad_args(void **state)
{
	struct http_request req = { .method = "GET" };
	struct http_client_cb no_done = { .on_head = on_head };
	struct http_client *c = NULL;
	struct result r;

	(void)state;
	result_init(&r);
	assert_int_equal(http_client_new(&c), 0);
	assert_int_equal(http_client_start(c, &req, &test_cb, &r),
			 CHAT_EINVAL);
	req.url = "http://127.0.0.1:1/";
	assert_int_equal(http_client_start(c, &req, &no_done, &r),
			 CHAT_EINVAL);
	/* a line break anywhere would split the request libcurl sends: the
	 * same refusal as the other two paths (http-loop, http-fetch) */
	{
		static const char *const bad[] = { "X-A: 1\r\nX-B: 2", NULL };
		static const char *const nocolon[] = { "X-A 1", NULL };
		struct http_request q = { .method = "GET",
					  .url = "https://example.invalid/" };

		q.headers = bad;
		assert_int_equal(http_client_start(c, &q, &test_cb, &r),
				 CHAT_EINVAL);
		q.headers = nocolon;
		assert_int_equal(http_client_start(c, &q, &test_cb, &r),
				 CHAT_EINVAL);
		q.headers = NULL;
		q.method = "GET\r\nX-B: 2";
		assert_int_equal(http_client_start(c, &q, &test_cb, &r),
				 CHAT_EINVAL);
		q.method = "GET";
		q.url = "https://example.invalid/\r\nX-B: 2";
		assert_int_equal(http_client_start(c, &q, &test_cb, &r),
				 CHAT_EINVAL);
		q.url = "https://example.invalid/";
		q.headers = bad;
		{
			struct buf b;
			int st;

			buf_init(&b, 1024);
			assert_int_equal(http_fetch(&q, &st, &b), CHAT_EINVAL);
			buf_release(&b);
		}
	}
	req.url = "file:///etc/passwd";
	assert_int_equal(http_client_start(c, &req, &test_cb, &r), 0);
	result_wait(&r);
	assert_int_equal(r.rc, CHAT_EINVAL);
	assert_int_equal(r.heads, 0);
	http_client_free(c);
	result_release(&r);
}

#define MANY 200

static void test_http_client__many_concurrent(void **state)
{
	struct http_request req = { .method = "GET" };
	struct http_client *c = NULL;
	struct result *r = calloc(MANY, sizeof(*r));
	char url[128];
	int i;

	(void)state;
	assert_non_null(r);
	url_of(url, sizeof(url), "/chunked");
	req.url = url;
	assert_int_equal(http_client_new(&c), 0);
	for (i = 0; i < MANY; i++) {
		result_init(&r[i]);
		assert_int_equal(http_client_start(c, &req, &test_cb, &r[i]),
				 0);
	}
	for (i = 0; i < MANY; i++) {
		result_wait(&r[i]);
		assert_int_equal(r[i].rc, 0);
		assert_int_equal(r[i].status, 200);
		assert_memory_equal(r[i].body, "one,two,three", 13);
	}
	http_client_free(c);
	for (i = 0; i < MANY; i++) {
		assert_int_equal(r[i].dones, 1);
		result_release(&r[i]);
	}
	free(r);
}

static void test_http_client__fetch(void **state)
{
	static const char *const hdrs[] = { "X-Test-In: fetched", NULL };
	struct http_request req = { .method = "GET" };
	struct buf body;
	char url[128];
	int status = 0, port, fd, i;

	(void)state;
	buf_init(&body, 1 << 20);
	url_of(url, sizeof(url), "/hello");
	req.url = url;
	for (i = 0; i < 2; i++) {	/* twice: the cached handle */
		buf_reset(&body);
		assert_int_equal(http_fetch(&req, &status, &body), 0);
		assert_int_equal(status, 200);
		assert_int_equal(body.len, 5);
		assert_string_equal(body.data, "hello");
	}

	buf_reset(&body);
	url_of(url, sizeof(url), "/echo");
	req.method = "POST";
	req.headers = hdrs;
	req.body = "abc";
	req.body_len = 3;
	assert_int_equal(http_fetch(&req, &status, &body), 0);
	assert_int_equal(status, 201);
	assert_string_equal(body.data, "POST:abc");

	buf_reset(&body);
	url_of(url, sizeof(url), "/chunked");
	req.method = "GET";
	req.body = NULL;
	req.body_len = 0;
	assert_int_equal(http_fetch(&req, &status, &body), 0);
	assert_string_equal(body.data, "one,two,three");

	/* the request's ceiling, then the buffer's own */
	url_of(url, sizeof(url), "/bigchunked");
	req.max_response = 5000;
	buf_reset(&body);
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_ETOOBIG);
	req.max_response = 0;
	buf_release(&body);
	buf_init(&body, 3000);
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_ETOOBIG);
	buf_release(&body);
	buf_init(&body, 1 << 20);

	url_of(url, sizeof(url), "/silent");
	req.idle_timeout_ms = 500;
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_ETIMEDOUT);
	req.idle_timeout_ms = 0;

	fd = listen_tcp(1, &port);
	assert_true(fd >= 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_EUPSTREAM);
	assert_int_equal(status, 0);
	buf_release(&body);
}

/* The curl-free path's other answers and failures. */
static void test_http_client__fetch_plain(void **state)
{
	static const struct {
		const char *path;
		const char *method;
		long timeout_ms;
		size_t max_response;
		int rc;
		int status;
		const char *body;
	} cases[] = {
		{ "/early", "GET", 0, 0, 0, 200, "late" },
		{ "/nobody", "GET", 0, 0, 0, 204, "" },
		{ "/hello", "HEAD", 0, 0, 0, 200, "" },
		{ "/untilclose", "GET", 0, 0, 0, 200, "until the end" },
		{ "/big", "GET", 0, 5000, CHAT_ETOOBIG, 0, NULL },
		{ "/big", "GET", 0, 200000, 0, 200, NULL },
		{ "/short", "GET", 0, 0, CHAT_EUPSTREAM, 0, NULL },
		{ "/huge", "GET", 0, 0, CHAT_ETOOBIG, 0, NULL },
		{ "/garbage", "GET", 0, 0, CHAT_EUPSTREAM, 0, NULL },
		{ "/drip", "GET", 300, 0, CHAT_ETIMEDOUT, 0, NULL },
		{ "/silent", "GET", 300, 0, CHAT_ETIMEDOUT, 0, NULL },
	};
	struct http_request req = { 0 };
	struct buf body;
	char url[128];
	int status;
	size_t i;
	int64_t t0;

	(void)state;
	buf_init(&body, 1 << 20);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		url_of(url, sizeof(url), cases[i].path);
		req.url = url;
		req.method = cases[i].method;
		req.timeout_ms = cases[i].timeout_ms;
		req.max_response = cases[i].max_response;
		buf_reset(&body);
		status = -1;
		t0 = mono_ms();
		if (http_fetch(&req, &status, &body) != cases[i].rc)
			fail_msg("case %zu (%s): wrong result", i,
				 cases[i].path);
		assert_int_equal(status, cases[i].status);
		if (cases[i].body)
			assert_string_equal(body.data ? body.data : "",
					    cases[i].body);
		if (cases[i].timeout_ms)
			assert_true(mono_ms() - t0 < cases[i].timeout_ms + 700);
	}
	req = (struct http_request){ .method = "GET" };

	/* localhost is 127.0.0.1 */
	snprintf(url, sizeof(url), "http://localhost:%d/hello", srv_port);
	req.url = url;
	buf_reset(&body);
	assert_int_equal(http_fetch(&req, &status, &body), 0);
	assert_string_equal(body.data, "hello");

	/* nothing that could split the request */
	{
		static const char *const bad[] = { "X-A: 1\r\nX-B: 2", NULL };

		url_of(url, sizeof(url), "/hello");
		req.headers = bad;
		assert_int_equal(http_fetch(&req, &status, &body),
				 CHAT_EINVAL);
		req.headers = NULL;
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/a b",
			 srv_port);
		assert_int_equal(http_fetch(&req, &status, &body),
				 CHAT_EINVAL);
		req.method = "GE T";
		url_of(url, sizeof(url), "/hello");
		assert_int_equal(http_fetch(&req, &status, &body),
				 CHAT_EINVAL);
		req.method = "GET";
	}

	/* a Unix socket goes through libcurl (chat-curl.so) */
	req.url = "http://localhost/hello";
	req.unix_socket = srv_unix_path;
	buf_reset(&body);
	assert_int_equal(http_fetch(&req, &status, &body), 0);
	assert_int_equal(status, 200);
	assert_string_equal(body.data, "hello");
	buf_release(&body);
}

/* keep_header: one header of the answer, on both paths (plain sockets,
 * and libcurl through a Unix socket), "" when absent, cut to fit. */
static void test_http_client__fetch_keep_header(void **state)
{
	static const struct {
		const char *name;
		size_t len;
		const char *want;
	} cases[] = {
		{ "X-Test", 16, "yes" },
		{ "x-test", 16, "yes" },	/* names ignore case */
		{ "X-Tes", 16, "" },		/* a prefix is not the name */
		{ "X-Missing", 16, "" },
		{ "X-Test", 3, "ye" },		/* cut to the buffer */
	};
	struct http_request req = { .method = "GET" };
	struct buf body;
	char url[128], value[16];
	int status, path;
	size_t i;

	(void)state;
	buf_init(&body, 1 << 20);
	for (path = 0; path < 2; path++) {
		if (path == 0) {
			url_of(url, sizeof(url), "/hello");
			req.url = url;
		} else {
			req.url = "http://localhost/hello";
			req.unix_socket = srv_unix_path;
		}
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			memset(value, 'z', sizeof(value));
			req.keep_header = cases[i].name;
			req.header_value = value;
			req.header_len = cases[i].len;
			buf_reset(&body);
			assert_int_equal(http_fetch(&req, &status, &body), 0);
			assert_int_equal(status, 200);
			if (strcmp(value, cases[i].want) != 0)
				fail_msg("path %d, case %zu: '%s'", path, i,
					 value);
		}
	}
	/* no answer: "" all the same */
	url_of(url, sizeof(url), "/garbage");
	req.url = url;
	req.unix_socket = NULL;
	memset(value, 'z', sizeof(value));
	req.header_len = sizeof(value);
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_EUPSTREAM);
	assert_string_equal(value, "");
	buf_release(&body);
}

/* A full backlog: the blocking connect gives up as a connect failure. */
static void test_http_client__fetch_connect_timeout(void **state)
{
	struct http_request req = { .method = "GET",
				    .connect_timeout_ms = 300 };
	struct full_listener full;
	int port, status;
	struct buf body;
	char url[128];
	int64_t t0, took;

	(void)state;
	assert_int_equal(full_listener_open(&full, &port), 0);
	buf_init(&body, 1024);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	req.url = url;
	t0 = mono_ms();
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_EUPSTREAM);
	took = mono_ms() - t0;
	assert_true(took >= 250 && took < 1500);
	full_listener_close(&full);
	buf_release(&body);
}

/* A readable cancel descriptor ends a blocking call at once, whatever
 * the server does; an empty one changes nothing. */
static void test_http_client__fetch_cancel(void **state)
{
	struct http_request req = { .method = "GET", .timeout_ms = 10000 };
	int fds[2], status;
	struct buf body;
	char url[128];
	int64_t t0;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	buf_init(&body, 1024);
	req.cancel_fd = &fds[0];
	url_of(url, sizeof(url), "/hello");
	req.url = url;
	assert_int_equal(http_fetch(&req, &status, &body), 0);
	assert_string_equal(body.data, "hello");
	assert_int_equal(write(fds[1], "x", 1), 1);
	url_of(url, sizeof(url), "/silent");
	buf_reset(&body);
	t0 = mono_ms();
	assert_int_equal(http_fetch(&req, &status, &body), CHAT_ECANCELED);
	assert_true(mono_ms() - t0 < 2000);
	close(fds[0]);
	close(fds[1]);
	buf_release(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_client__get),
		cmocka_unit_test(test_http_client__post_body),
		cmocka_unit_test(test_http_client__request_copied),
		cmocka_unit_test(test_http_client__chunked_stream),
		cmocka_unit_test(test_http_client__informational_head),
		cmocka_unit_test(test_http_client__no_content),
		cmocka_unit_test(test_http_client__ceiling),
		cmocka_unit_test(test_http_client__refused),
		cmocka_unit_test(test_http_client__connect_timeout),
		cmocka_unit_test(test_http_client__idle_timeout),
		cmocka_unit_test(test_http_client__total_timeout),
		cmocka_unit_test(test_http_client__keep_going_abort),
		cmocka_unit_test(test_http_client__head_abort),
		cmocka_unit_test(test_http_client__unix_socket),
		cmocka_unit_test(test_http_client__keep_alive),
		cmocka_unit_test(test_http_client__free_cancels),
		cmocka_unit_test(test_http_client__bad_args),
		cmocka_unit_test(test_http_client__many_concurrent),
		cmocka_unit_test(test_http_client__fetch_keep_header),
		cmocka_unit_test(test_http_client__fetch),
		cmocka_unit_test(test_http_client__fetch_plain),
		cmocka_unit_test(test_http_client__fetch_connect_timeout),
		cmocka_unit_test(test_http_client__fetch_cancel),
	};

	return cmocka_run_group_tests(tests, server_start, server_stop);
}
