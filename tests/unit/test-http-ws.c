/*
 * test-http-ws.c - http-ws in one process: a server with WebSocket
 * routes and http_ws_connect clients on the same loop, over loopback.
 * Echo, messages fragmented over many frames, the message ceiling (1009),
 * sends from another thread, refusals now and later, a peer that is not
 * there; and raw frames as a client may send them: the handshake's
 * accept value, pings mid-message, the closing handshake, and the
 * protocol errors that close with 1002 (unmasked, reserved bits, unknown
 * opcodes, stray continuations) or 1007 (text that is not UTF-8).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "http-server.h"
#include "http-ws.h"
#include "log.h"
#include "ws-frame.h"
#include "sync.h"

static struct http_server *srv;
static pthread_t loop_thread;
static int port;
/* checks made on the server's and the sender threads, asserted by the
 * test's thread (a cmocka assertion elsewhere would crash the binary) */
static struct sync_report thread_checks = SYNC_REPORT_INIT;

/* ---- server side: echo, with refusals on request ---- */

static void echo_message(void *arg, struct http_ws *ws, const char *data,
			 size_t len, bool binary)
{
	(void)arg;
	http_ws_send(ws, data, len, binary);
}

static void echo_close(void *arg, struct http_ws *ws, int code)
{
	(void)arg;
	(void)code;
	http_ws_release(ws);
}

static const struct http_ws_ops echo_ops = {
	.on_message = echo_message,
	.on_close = echo_close,
};

static void decide_later(void *arg)
{
	struct http_req *req = arg;
	struct http_ws *ws;

	if (strcmp(req->query, "refuse") == 0)
		http_ws_refuse(req, 403, "no", "refused later");
	else
		http_ws_accept(req, &echo_ops, NULL, &ws);
}

static void h_ws(struct http_req *req, struct http_res *res)
{
	struct http_ws *ws;

	if (strcmp(req->path, "/refuse") == 0) {
		http_res_error(res, 403, "forbidden", "refused now");
		return;
	}
	if (strcmp(req->path, "/later") == 0) {
		http_server_defer(req->server, decide_later, req);
		return;
	}
	/* the server's thread: a failure is reported, see WAIT_FOR */
	SYNC_CHECK(&thread_checks,
		   http_ws_accept(req, &echo_ops, NULL, &ws) == 0);
}

static const struct http_route routes[] = {
	{ "GET", "/echo", HTTP_PERM_PUBLIC, h_ws, HTTP_ROUTE_WEBSOCKET },
	{ "GET", "/refuse", HTTP_PERM_PUBLIC, h_ws, HTTP_ROUTE_WEBSOCKET },
	{ "GET", "/later", HTTP_PERM_PUBLIC, h_ws, HTTP_ROUTE_WEBSOCKET },
	{ "GET", "/guest", HTTP_PERM_GUEST, h_ws, HTTP_ROUTE_WEBSOCKET },
};

/* ---- client side: what arrived, for the test thread ---- */

struct client {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *url;
	struct http_ws *ws;
	bool opened;
	int closed;			/* close code, 0 while open */
	int messages;
	char *last;			/* owned */
	size_t last_len;
	bool last_binary;
};

static void c_open(void *arg, struct http_ws *ws)
{
	struct client *c = arg;

	(void)ws;
	pthread_mutex_lock(&c->lock);
	c->opened = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void c_message(void *arg, struct http_ws *ws, const char *data,
		      size_t len, bool binary)
{
	struct client *c = arg;

	(void)ws;
	pthread_mutex_lock(&c->lock);
	free(c->last);
	c->last = malloc(len + 1);
	memcpy(c->last, data, len);
	c->last[len] = '\0';
	c->last_len = len;
	c->last_binary = binary;
	c->messages++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void c_close(void *arg, struct http_ws *ws, int code)
{
	struct client *c = arg;

	(void)ws;
	pthread_mutex_lock(&c->lock);
	c->closed = code;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static const struct http_ws_ops client_ops = {
	.on_open = c_open,
	.on_message = c_message,
	.on_close = c_close,
};

static void connect_on_loop(void *arg)
{
	struct client *c = arg;

	SYNC_CHECK(&thread_checks, http_ws_connect(srv, c->url, NULL,
						   &client_ops, c,
						   &c->ws) == 0);
}

static struct client *client_start(const char *path, int to_port)
{
	struct client *c = calloc(1, sizeof(*c));
	char *url;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	assert_true(asprintf(&url, "ws://127.0.0.1:%d%s", to_port, path) > 0);
	c->url = url;
	http_server_defer(srv, connect_on_loop, c);
	return c;
}

static void client_free(struct client *c)
{
	http_ws_release(c->ws);
	free(c->last);
	free((char *)c->url);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Waits up to 5 s for *flag (an int or bool field) to become true. */
#define WAIT_FOR(c, cond_expr) do { \
	struct timespec ts_; \
	clock_gettime(CLOCK_REALTIME, &ts_); \
	ts_.tv_sec += 5; \
	pthread_mutex_lock(&(c)->lock); \
	while (!(cond_expr)) \
		if (pthread_cond_timedwait(&(c)->cond, &(c)->lock, &ts_)) \
			break; \
	pthread_mutex_unlock(&(c)->lock); \
	sync_report_assert(&thread_checks); \
	assert_true(cond_expr); \
} while (0)

/* Closes c and waits for its on_close. */
static void client_finish(struct client *c)
{
	http_ws_close(c->ws, HTTP_WS_NORMAL, NULL);
	WAIT_FOR(c, c->closed != 0);
	client_free(c);
}

/* ---- tests ---- */

static void test_echo_text_and_binary(void **state)
{
	struct client *c = client_start("/echo", port);

	(void)state;
	WAIT_FOR(c, c->opened);
	assert_int_equal(http_ws_send(c->ws, "hello", 5, false), 0);
	WAIT_FOR(c, c->messages == 1);
	assert_string_equal(c->last, "hello");
	assert_false(c->last_binary);
	assert_int_equal(http_ws_send(c->ws, "\0\1\2", 3, true), 0);
	WAIT_FOR(c, c->messages == 2);
	assert_int_equal(c->last_len, 3);
	assert_true(c->last_binary);
	assert_memory_equal(c->last, "\0\1\2", 3);
	client_finish(c);
}

/* 200 KiB goes out in 32 KiB frames and must come back whole. */
static void test_fragmented_message(void **state)
{
	struct client *c = client_start("/echo", port);
	size_t n = 200 * 1024, i;
	char *big = malloc(n);

	(void)state;
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	WAIT_FOR(c, c->opened);
	assert_int_equal(http_ws_send(c->ws, big, n, false), 0);
	WAIT_FOR(c, c->messages == 1);
	assert_int_equal(c->last_len, n);
	assert_memory_equal(c->last, big, n);
	free(big);
	client_finish(c);
}

static void test_too_big_closes_1009(void **state)
{
	struct client *c = client_start("/echo", port);
	size_t n = HTTP_WS_MAX_MESSAGE + 1;
	char *big = calloc(1, n);

	(void)state;
	WAIT_FOR(c, c->opened);
	assert_int_equal(http_ws_send(c->ws, big, n, true), 0);
	WAIT_FOR(c, c->closed != 0);
	assert_int_equal(c->closed, HTTP_WS_TOO_BIG);
	assert_int_equal(c->messages, 0);
	assert_int_equal(http_ws_send(c->ws, "x", 1, false), CHAT_ECLOSED);
	free(big);
	client_free(c);
}

struct sender {
	struct http_ws *ws;
	int n;
};

static void *send_many(void *arg)
{
	struct sender *s = arg;
	char msg[32];
	int i;

	for (i = 0; i < s->n; i++) {
		int len = snprintf(msg, sizeof(msg), "m%d", i);

		SYNC_CHECK(&thread_checks,
			   http_ws_send(s->ws, msg, (size_t)len, false) == 0);
	}
	return NULL;
}

static void test_send_from_other_threads(void **state)
{
	struct client *c = client_start("/echo", port);
	struct sender s;
	pthread_t t1, t2;

	(void)state;
	WAIT_FOR(c, c->opened);
	s.ws = c->ws;
	s.n = 200;
	pthread_create(&t1, NULL, send_many, &s);
	pthread_create(&t2, NULL, send_many, &s);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	sync_report_assert(&thread_checks);
	WAIT_FOR(c, c->messages == 400);
	client_finish(c);
}

static void test_refused_now_and_later(void **state)
{
	struct client *now = client_start("/refuse", port);
	struct client *guest = client_start("/guest", port);
	struct client *later = client_start("/later?refuse", port);
	struct client *ok = client_start("/later", port);

	(void)state;
	/* before the handler returned: an HTTP status */
	WAIT_FOR(now, now->closed != 0);
	assert_int_equal(now->closed, HTTP_WS_REFUSED_BASE + 403);
	assert_false(now->opened);
	WAIT_FOR(guest, guest->closed != 0);
	assert_int_equal(guest->closed, HTTP_WS_REFUSED_BASE + 401);
	/* after: the 101 went out, then the close says it */
	WAIT_FOR(later, later->closed != 0);
	assert_int_equal(later->closed, HTTP_WS_REFUSED_BASE + 403);
	/* accepted later: messages sent before are held, then echoed */
	WAIT_FOR(ok, ok->opened);
	assert_int_equal(http_ws_send(ok->ws, "early", 5, false), 0);
	WAIT_FOR(ok, ok->messages == 1);
	assert_string_equal(ok->last, "early");
	client_free(now);
	client_free(guest);
	client_free(later);
	client_finish(ok);
}

static void test_nobody_there(void **state)
{
	struct client *c = client_start("/echo", port + 1);
	struct client *bad = calloc(1, sizeof(*bad));

	(void)state;
	WAIT_FOR(c, c->closed != 0);
	assert_int_equal(c->closed, HTTP_WS_BAD_GATEWAY);
	assert_false(c->opened);
	client_free(c);
	/* a URL that is not ws:// is refused at once (from any thread is
	 * not allowed, but the check comes before anything lws) */
	assert_int_equal(http_ws_connect(srv, "ftp://x/", NULL, &client_ops,
					 bad, &bad->ws), CHAT_EINVAL);
	assert_null(bad->ws);
	free(bad);
}

/* ---- setup ---- */

static void *run_loop(void *arg)
{
	(void)arg;
	http_server_run(srv);
	return NULL;
}

static int setup(void **state)
{
	struct http_server_config cfg = {
		.name = "test-ws",
		.host = "127.0.0.1",
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
	};
	char err[256];
	int i;

	(void)state;
	log_init("test-http-ws", LOG_LWARN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (i = 0; i < 50 && !srv; i++) {
		port = 20000 + rand() % 9000;
		cfg.port = port;
		if (http_server_new(&cfg, &srv, err, sizeof(err)) != 0)
			srv = NULL;
	}
	assert_non_null(srv);
	pthread_create(&loop_thread, NULL, run_loop, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	http_server_stop(srv);
	pthread_join(loop_thread, NULL);
	http_server_free(srv);
	return 0;
}


/* ---- raw clients: the frames a careless or hostile client sends ---- */

/* Connects and upgrades /echo; the 101 must carry RFC 6455's accept
 * value for its sample key. */
static int raw_upgrade(void)
{
	static const char req[] =
		"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: "
		"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	char head[1024];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(write(fd, req, sizeof(req) - 1),
			 (ssize_t)sizeof(req) - 1);
	/* byte by byte up to the head's end: frames stay in the socket */
	while (got < sizeof(head) - 1 && (n = read(fd, head + got, 1)) == 1) {
		got++;
		if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[got] = '\0';
	assert_true(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
	assert_non_null(strcasestr(head, "\r\nsec-websocket-accept: "
				   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	return fd;
}

/* Sends one frame; mask NULL sends it unmasked (a protocol error). */
static void raw_frame_send(int fd, int opcode, bool fin, int rsv,
			   const void *data, size_t len,
			   const unsigned char *mask)
{
	unsigned char buf[256];
	size_t h;

	assert_true(len <= sizeof(buf) - WS_FRAME_MAX_HEADER);
	h = ws_frame_header(buf, opcode, fin, len, mask);
	buf[0] |= (unsigned char)(rsv << 4);
	memcpy(buf + h, data, len);
	if (mask)
		ws_frame_mask(buf + h, len, mask, 0);
	assert_int_equal(write(fd, buf, h + len), (ssize_t)(h + len));
}

/* Reads one (unmasked, unfragmented) frame of the server's: its opcode,
 * payload into out (up to 256 bytes); -1 at EOF. */
static int raw_frame_read(int fd, unsigned char *out, size_t *len)
{
	unsigned char h[2];
	size_t n, got = 0;

	if (read(fd, h, 2) != 2)
		return -1;
	assert_int_equal(h[1] & 0x80, 0);	/* a server never masks */
	n = h[1] & 0x7f;
	assert_true(n < 126);
	while (got < n) {
		ssize_t r = read(fd, out + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	*len = n;
	return h[0] & 0x0f;
}

/* The close frame the server sends, then the end of the connection. */
static void expect_close(int fd, int code)
{
	unsigned char p[256];
	size_t len;
	int op;

	while ((op = raw_frame_read(fd, p, &len)) == WS_OP_PING)
		;
	assert_int_equal(op, WS_OP_CLOSE);
	assert_true(len >= 2);
	assert_int_equal(p[0] << 8 | p[1], code);
	assert_true(read(fd, p, sizeof(p)) <= 0);
}

static void test_raw_frames(void **state)
{
	static const unsigned char mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	unsigned char p[256];
	size_t len;
	int fd;

	(void)state;
	/* masked text echoes; a ping gets its pong, also mid-message */
	fd = raw_upgrade();
	raw_frame_send(fd, WS_OP_TEXT, true, 0, "hello", 5, mask);
	assert_int_equal(raw_frame_read(fd, p, &len), WS_OP_TEXT);
	assert_memory_equal(p, "hello", 5);
	raw_frame_send(fd, WS_OP_TEXT, false, 0, "ab", 2, mask);
	raw_frame_send(fd, WS_OP_PING, true, 0, "xyz", 3, mask);
	assert_int_equal(raw_frame_read(fd, p, &len), WS_OP_PONG);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "xyz", 3);
	raw_frame_send(fd, WS_OP_CONT, true, 0, "cd", 2, mask);
	assert_int_equal(raw_frame_read(fd, p, &len), WS_OP_TEXT);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "abcd", 4);
	/* a close is answered with the same code */
	raw_frame_send(fd, WS_OP_CLOSE, true, 0, "\x0b\xb8", 2, mask);
	expect_close(fd, 3000);
	close(fd);

	/* an unmasked client frame: 1002 */
	fd = raw_upgrade();
	raw_frame_send(fd, WS_OP_TEXT, true, 0, "hi", 2, NULL);
	expect_close(fd, 1002);
	close(fd);
	/* reserved bits, an unknown opcode, a continuation of nothing */
	fd = raw_upgrade();
	raw_frame_send(fd, WS_OP_TEXT, true, 4, "hi", 2, mask);
	expect_close(fd, 1002);
	close(fd);
	fd = raw_upgrade();
	raw_frame_send(fd, 0x3, true, 0, "hi", 2, mask);
	expect_close(fd, 1002);
	close(fd);
	fd = raw_upgrade();
	raw_frame_send(fd, WS_OP_CONT, true, 0, "hi", 2, mask);
	expect_close(fd, 1002);
	close(fd);
	/* text that is not UTF-8: 1007 */
	fd = raw_upgrade();
	raw_frame_send(fd, WS_OP_TEXT, true, 0, "\xc3\x28", 2, mask);
	expect_close(fd, 1007);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_text_and_binary),
		cmocka_unit_test(test_fragmented_message),
		cmocka_unit_test(test_too_big_closes_1009),
		cmocka_unit_test(test_send_from_other_threads),
		cmocka_unit_test(test_refused_now_and_later),
		cmocka_unit_test(test_nobody_there),
		cmocka_unit_test(test_raw_frames),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
