/*
 * test-http-loop.c - the loop-thread HTTP/1.1 client against the test's
 * own HTTP server: the client runs on that server's loop and calls the
 * server's port, whose handlers answer on the worker pool.
 *
 * Framing oddities (chunked, 1xx, until-close, broken heads) are covered
 * end to end by tests/integration/gateway-proxy.bats; here: which URLs
 * it takes, the request copied at the start, keep-alive reuse, refused
 * connections, the three timeouts, keep_going, bad arguments, and free
 * ending running calls.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
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
#include <sys/socket.h>
#include <cmocka.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "http-loop.h"
#include "http-server.h"
#include "log.h"
#include "pool.h"
#include "util.h"

static struct http_server *srv;
static struct http_loop *hl;
static struct pool *pool;
static pthread_t loop_thread;
static int port;

/* ---- the server ---------------------------------------------------------- */

/* Established connections from a client to the server's port, by
 * /proc/net/tcp. */
static int client_conns(void)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned lport, rport, st;
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*8x:%x %*8x:%x %x", &lport, &rport,
			   &st) == 3 && rport == (unsigned)port && st == 1)
			n++;
	fclose(f);
	return n;
}

static void h_hello(struct http_req *req, struct http_res *res)
{
	char *body = strdup("hello");

	(void)req;
	http_res_header(res, "X-Test", "yes");
	http_res_send(res, 200, "text/plain", body, 5);
}

/* "METHOD:body" */
static void h_echo(struct http_req *req, struct http_res *res)
{
	struct buf b;
	size_t len = 0;
	char *body;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "%s:", req->method);
	buf_append(&b, req->body, req->body_len);
	body = buf_detach(&b, &len);
	http_res_send(res, 201, "text/plain", body, len);
}

/* A streamed answer with pauses (chunked on the wire). */
static void h_stream(struct http_req *req, struct http_res *res)
{
	int i;

	(void)req;
	http_res_begin(res, 200, "text/plain");
	for (i = 0; i < 3; i++) {
		usleep(50000);
		http_res_write(res, "tick,", 5);
	}
	http_res_end(res);
}

/* Answers after 400 ms of silence. */
static void h_slow(struct http_req *req, struct http_res *res)
{
	(void)req;
	usleep(400000);
	http_res_send(res, 200, "text/plain", strdup("late"), 4);
}

static const struct http_route routes[] = {
	{ "GET", "/hello", HTTP_PERM_PUBLIC, h_hello, 0 },
	{ NULL, "/echo", HTTP_PERM_PUBLIC, h_echo, 0 },
	{ "GET", "/stream", HTTP_PERM_PUBLIC, h_stream, 0 },
	{ "GET", "/slow", HTTP_PERM_PUBLIC, h_slow, 0 },
};

/* A port that was just free. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static void *loop_main(void *arg)
{
	(void)arg;
	http_server_run(srv);
	return NULL;
}

/* ---- one call, made on the loop thread ------------------------------------ */

struct call {
	/* in */
	struct http_request req;
	bool abort_at_once;		/* keep_going says no */
	char *body_copy;		/* scribbled over after the start */
	/* out */
	int start_rc;
	int status;
	bool saw_x_test;
	bool head_on_loop;
	struct buf body;
	int done_rc;
	int dones;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished;			/* start failed or on_done ran */
};

static int c_head(void *arg, int status, const char *const *h, size_t n)
{
	struct call *c = arg;
	size_t i;

	c->status = status;
	c->head_on_loop = pthread_equal(pthread_self(), loop_thread);
	for (i = 0; i < n; i++)
		if (strcasecmp(h[i], "x-test: yes") == 0)
			c->saw_x_test = true;
	return 0;
}

static int c_data(void *arg, const char *data, size_t len)
{
	struct call *c = arg;

	return buf_append(&c->body, data, len) != 0;
}

static void c_finish(struct call *c)
{
	pthread_mutex_lock(&c->lock);
	c->finished = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void c_done(void *arg, int rc)
{
	struct call *c = arg;

	c->done_rc = rc;
	c->dones++;
	c_finish(c);
}

static int c_keep_going(void *arg)
{
	struct call *c = arg;

	return !c->abort_at_once;
}

static const struct http_client_cb cbs = {
	.on_head = c_head,
	.on_data = c_data,
	.on_done = c_done,
	.keep_going = c_keep_going,
};

static void c_start(void *arg)
{
	struct call *c = arg;
	int rc;

	rc = http_loop_start(hl, &c->req, &cbs, c);
	if (c->body_copy)		/* the client must have copied it */
		memset(c->body_copy, 'X', c->req.body_len);
	c->start_rc = rc;
	if (rc != 0)
		c_finish(c);
}

static void call_init(struct call *c, const char *method, const char *path)
{
	static char url[8][128];
	static int next;
	char *u = url[next++ % 8];

	memset(c, 0, sizeof(*c));
	snprintf(u, 128, "http://127.0.0.1:%d%s", port, path);
	c->req.method = method;
	c->req.url = u;
	buf_init(&c->body, 1 << 20);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

/* Runs fn(c) on the loop and waits (5 s at most) until c finished. */
static void call_run_with(struct call *c, void (*fn)(void *))
{
	struct timespec until;
	bool finished;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	assert_int_equal(http_server_defer(srv, fn, c), 0);
	pthread_mutex_lock(&c->lock);
	while (!c->finished)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &until) != 0)
			break;
	finished = c->finished;
	pthread_mutex_unlock(&c->lock);
	assert_true(finished);
}

static void call_run(struct call *c)
{
	call_run_with(c, c_start);
}

static void call_release(struct call *c)
{
	buf_release(&c->body);
	free(c->body_copy);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

/* ---- tests --------------------------------------------------------------- */

static void test_http_loop__can(void **state)
{
	static const struct {
		const char *url;
		bool ok;
	} cases[] = {
		{ "http://127.0.0.1:80", true },
		{ "http://localhost:8080/v1/chat", true },
		{ "HTTP://10.1.2.3:1/", true },
		/* url.c's grammar, the blocking client's too: a query right
		 * after the host, the scheme's port when none is written */
		{ "http://127.0.0.1:65535?x", true },
		{ "http://127.0.0.1/", true },
		{ "https://127.0.0.1:443/", false },
		{ "http://example.com:80/", false },
		{ "http://127.0.0.1:/", false },
		{ "http://127.0.0.1:0/", false },
		{ "http://127.0.0.1:70000/", false },
		{ "http://127.0.0.1:-1/", false },
		{ "http://127.0.0.1:80x/", false },
		{ "http://[::1]:80/", false },
		{ "http://127.1:80/", false },
		{ "http://127.0.0.1:80/a b", false },
		{ "http://127.0.0.1:80/a\r\nX: y", false },
		{ "", false },
		{ NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (http_loop_can(cases[i].url) != cases[i].ok)
			fail_msg("'%s': expected %s", cases[i].url ?
				 cases[i].url : "(null)",
				 cases[i].ok ? "yes" : "no");
}

static void test_http_loop__get(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/hello");
	call_run(&c);
	assert_int_equal(c.start_rc, 0);
	assert_int_equal(c.done_rc, 0);
	assert_int_equal(c.dones, 1);
	assert_int_equal(c.status, 200);
	assert_true(c.saw_x_test);
	assert_true(c.head_on_loop);
	assert_int_equal(c.body.len, 5);
	assert_memory_equal(c.body.data, "hello", 5);
	call_release(&c);
}

static void test_http_loop__post_copied(void **state)
{
	static const char *const headers[] = { "Content-Type: text/plain",
		NULL };
	struct call c;

	(void)state;
	call_init(&c, "POST", "/echo");
	c.body_copy = strdup("a body");
	c.req.body = c.body_copy;
	c.req.body_len = 6;
	c.req.headers = headers;
	call_run(&c);
	assert_int_equal(c.done_rc, 0);
	assert_int_equal(c.status, 201);
	assert_int_equal(c.body.len, 11);
	assert_memory_equal(c.body.data, "POST:a body", 11);
	call_release(&c);
}

/* A header that would split the request is refused at the start (no
 * callback), as by http_client_start and http_fetch, not dropped. */
static void test_http_loop__header_split(void **state)
{
	static const char *const bad[] = { "X-Test: 1", "X-A: 1\r\nX-B: 2",
		NULL };
	struct call c;

	(void)state;
	call_init(&c, "GET", "/hello");
	c.req.headers = bad;
	call_run(&c);
	assert_int_equal(c.start_rc, CHAT_EINVAL);
	assert_int_equal(c.dones, 0);
	call_release(&c);
}

static void test_http_loop__stream(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/stream");
	call_run(&c);
	assert_int_equal(c.done_rc, 0);
	assert_int_equal(c.body.len, 15);
	assert_memory_equal(c.body.data, "tick,tick,tick,", 15);
	call_release(&c);
}

static void test_http_loop__keep_alive(void **state)
{
	struct call c;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		call_init(&c, "GET", "/hello");
		call_run(&c);
		assert_int_equal(c.done_rc, 0);
		call_release(&c);
	}
	/* one after another: one connection, parked and taken again */
	assert_int_equal(client_conns(), 1);
}

static void test_http_loop__refused(void **state)
{
	char url[64];
	struct call c;

	(void)state;
	/* nobody listens there */
	snprintf(url, sizeof(url), "http://localhost:%d/", free_port());
	call_init(&c, "GET", "/");
	c.req.url = url;
	call_run(&c);
	assert_int_equal(c.start_rc, 0);
	assert_int_equal(c.done_rc, CHAT_EUPSTREAM);
	assert_int_equal(c.dones, 1);
	assert_int_equal(c.status, 0);
	call_release(&c);
}

static void test_http_loop__connect_timeout(void **state)
{
	struct call c;
	int64_t t0;

	(void)state;
	/* TEST-NET-1: nothing answers, the SYN goes unanswered */
	call_init(&c, "GET", "/");
	c.req.url = "http://192.0.2.1:9/";
	c.req.connect_timeout_ms = 200;
	t0 = mono_ms();
	call_run(&c);
	assert_int_equal(c.done_rc, CHAT_EUPSTREAM);
	assert_true(mono_ms() - t0 < 2000);
	call_release(&c);
}

#define BUSY_CALLS 4

/* Starts BUSY_CALLS calls (more than the idle connections earlier tests
 * left, so some connect afresh), then keeps the loop thread busy for
 * 400 ms: the kernel completes the connects meanwhile, the loop sees
 * them only afterwards. */
static void c_start_then_block(void *arg)
{
	struct call *c = arg;
	int i;

	for (i = 0; i < BUSY_CALLS; i++)
		c_start(&c[i]);
	usleep(400000);
}

/* A loop too busy to notice its connects in time does not fail the
 * calls: the deadline is the network's, not the loop's (under load,
 * chatd's calls to aid failed with upstream_unavailable although aid's
 * kernel had accepted them). */
static void test_http_loop__busy_loop_connect(void **state)
{
	struct call c[BUSY_CALLS];
	int i;

	(void)state;
	for (i = 0; i < BUSY_CALLS; i++) {
		call_init(&c[i], "GET", "/hello");
		c[i].req.connect_timeout_ms = 100;
	}
	/* waits for the first; the others are checked below */
	call_run_with(&c[0], c_start_then_block);
	for (i = 0; i < BUSY_CALLS; i++) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		pthread_mutex_lock(&c[i].lock);
		while (!c[i].finished)
			if (pthread_cond_timedwait(&c[i].cond, &c[i].lock,
						   &until) != 0)
				break;
		pthread_mutex_unlock(&c[i].lock);
		assert_true(c[i].finished);
		assert_int_equal(c[i].start_rc, 0);
		assert_int_equal(c[i].done_rc, 0);
		assert_int_equal(c[i].status, 200);
		call_release(&c[i]);
	}
}

static void test_http_loop__idle_timeout(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/slow");
	c.req.idle_timeout_ms = 150;
	call_run(&c);
	assert_int_equal(c.done_rc, CHAT_ETIMEDOUT);
	call_release(&c);
}

static void test_http_loop__total_timeout(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/stream");	/* bytes every 50 ms, 150 ms */
	c.req.idle_timeout_ms = 1000;
	c.req.timeout_ms = 80;
	call_run(&c);
	assert_int_equal(c.done_rc, CHAT_ETIMEDOUT);
	call_release(&c);
}

static void test_http_loop__keep_going(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/slow");
	c.abort_at_once = true;
	call_run(&c);
	assert_int_equal(c.done_rc, CHAT_ECANCELED);
	assert_int_equal(c.dones, 1);
	call_release(&c);
}

static void test_http_loop__ceiling(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/hello");
	c.req.max_response = 10;	/* the head alone is more */
	call_run(&c);
	assert_int_equal(c.done_rc, CHAT_ETOOBIG);
	call_release(&c);
}

static void test_http_loop__bad_args(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/hello");
	c.req.url = "https://127.0.0.1:1/";
	call_run(&c);
	assert_int_equal(c.start_rc, CHAT_EINVAL);
	assert_int_equal(c.dones, 0);
	call_release(&c);

	call_init(&c, "GET", "/hello");
	c.req.unix_socket = "/tmp/nowhere.sock";
	call_run(&c);
	assert_int_equal(c.start_rc, CHAT_EINVAL);
	assert_int_equal(c.dones, 0);
	call_release(&c);

	call_init(&c, "GET /x", "/hello");
	call_run(&c);
	assert_int_equal(c.start_rc, CHAT_EINVAL);
	assert_int_equal(c.dones, 0);
	call_release(&c);
}

/* Starts the call, then frees the client with it running; a new client
 * serves what follows. */
static void c_start_and_free(void *arg)
{
	struct call *c = arg;

	c_start(c);
	http_loop_free(hl);
	hl = NULL;
	if (http_loop_new(srv, &hl) != 0)
		c->start_rc = CHAT_ENOMEM;	/* seen by the test */
}

static void test_http_loop__free_cancels(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, "GET", "/slow");
	call_run_with(&c, c_start_and_free);
	assert_int_equal(c.start_rc, 0);
	assert_int_equal(c.done_rc, CHAT_ECANCELED);
	assert_int_equal(c.dones, 1);
	call_release(&c);
}

/* ---- main ---------------------------------------------------------------- */

static int setup(void **state)
{
	struct http_server_config cfg = {
		.name = "test", .host = "127.0.0.1", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.max_body = 1024 * 1024,
	};
	char err[256];

	(void)state;
	log_init("test", getenv("TEST_DEBUG") ? LOG_LDEBUG : LOG_LERROR);
	crypto_init();
	assert_int_equal(pool_new(4, 64, &pool), 0);
	cfg.pool = pool;
	port = free_port();
	cfg.port = port;
	if (http_server_new(&cfg, &srv, err, sizeof(err)))
		fail_msg("server: %s", err);
	assert_int_equal(http_loop_new(srv, &hl), 0);
	pthread_create(&loop_thread, NULL, loop_main, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	http_server_stop(srv);
	pthread_join(loop_thread, NULL);
	http_loop_free(hl);		/* the stopped loop's thread is this */
	pool_free(pool);
	http_server_free(srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_loop__can),
		cmocka_unit_test(test_http_loop__get),
		cmocka_unit_test(test_http_loop__header_split),
		cmocka_unit_test(test_http_loop__post_copied),
		cmocka_unit_test(test_http_loop__stream),
		cmocka_unit_test(test_http_loop__keep_alive),
		cmocka_unit_test(test_http_loop__refused),
		cmocka_unit_test(test_http_loop__connect_timeout),
		cmocka_unit_test(test_http_loop__busy_loop_connect),
		cmocka_unit_test(test_http_loop__idle_timeout),
		cmocka_unit_test(test_http_loop__total_timeout),
		cmocka_unit_test(test_http_loop__keep_going),
		cmocka_unit_test(test_http_loop__ceiling),
		cmocka_unit_test(test_http_loop__bad_args),
		cmocka_unit_test(test_http_loop__free_cancels),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
