/*
 * test-http-out.c - a daemon's outbound door against the test's own HTTP
 * server: which transport takes a call (the loop client for the server's
 * own port, libcurl for a Unix socket), a start from another thread
 * deferred to the loop, a start on the loop begun at once, keep_going
 * before a deferred start, the blocking form (refused on the loop, never
 * waiting on a loop that does not run), and close ending the starts a
 * loop never ran, with nothing leaked.
 *
 * The server's loop runs on loop_thread, which attaches the door before
 * it runs the loop, as daemon_main does on its own thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "http-out.h"
#include "http-server.h"
#include "log.h"
#include "pool.h"
#include "sync.h"

static struct http_server *srv;
static struct http_out *out;
static struct pool *pool;
static pthread_t loop_thread;
static int port;
static struct sync_report report = SYNC_REPORT_INIT;
static struct sync_value attached = SYNC_VALUE_INIT;

/* ---- the server ---------------------------------------------------------- */

static void h_hello(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_send(res, 200, "text/plain", strdup("hello"), 5);
}

static const struct http_route routes[] = {
	{ "GET", "/hello", HTTP_PERM_PUBLIC, h_hello, 0 },
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

static struct http_server *server_new(int p)
{
	struct http_server_config cfg = {
		.name = "test", .host = "127.0.0.1", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.max_body = 1024 * 1024, .pool = pool, .port = p,
	};
	struct http_server *s = NULL;
	char err[256];

	if (http_server_new(&cfg, &s, err, sizeof(err)))
		fail_msg("server: %s", err);
	return s;
}

/* The loop thread: attaches the door first, as daemon_main does. */
static void *loop_main(void *arg)
{
	(void)arg;
	http_out_attach(out, srv);
	sync_value_set(&attached, 1);
	http_server_run(srv);
	return NULL;
}

/* ---- one call ------------------------------------------------------------ */

enum where { NOWHERE, ON_TEST, ON_LOOP, ELSEWHERE };

struct call {
	char url[128];
	struct http_request req;
	bool stop_at_once;		/* keep_going says no */
	int start_rc;			/* from a start made on the loop */
	int status;
	enum where head_on;
	enum where done_on;
	struct buf body;
	int done_rc;
	struct sync_value dones;	/* on_done runs */
	struct sync_value started;	/* a start on the loop returned */
};

static enum where here(pthread_t test)
{
	if (pthread_equal(pthread_self(), test))
		return ON_TEST;
	if (pthread_equal(pthread_self(), loop_thread))
		return ON_LOOP;
	return ELSEWHERE;
}

static pthread_t test_thread;

static int c_head(void *arg, int status, const char *const *h, size_t n)
{
	struct call *c = arg;

	(void)h;
	(void)n;
	c->status = status;
	c->head_on = here(test_thread);
	return 0;
}

static int c_data(void *arg, const char *data, size_t len)
{
	struct call *c = arg;

	return buf_append(&c->body, data, len) != 0;
}

static void c_done(void *arg, int rc)
{
	struct call *c = arg;

	c->done_rc = rc;
	c->done_on = here(test_thread);
	sync_value_add(&c->dones, 1);
}

static int c_keep_going(void *arg)
{
	struct call *c = arg;

	return !c->stop_at_once;
}

static const struct http_client_cb cbs = {
	.on_head = c_head,
	.on_data = c_data,
	.on_done = c_done,
	.keep_going = c_keep_going,
};

static void call_init(struct call *c, int p, const char *path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d%s", p, path);
	c->req.method = "GET";
	c->req.url = c->url;
	c->req.connect_timeout_ms = 2000;
	c->req.timeout_ms = 5000;
	buf_init(&c->body, 1 << 20);
	c->dones = (struct sync_value)SYNC_VALUE_INIT;
	c->started = (struct sync_value)SYNC_VALUE_INIT;
}

/* on_done ran once within 5 s, and no more after a moment. */
static void call_wait_done(struct call *c)
{
	assert_int_equal(sync_value_wait(&c->dones, 1, 5000), 1);
	usleep(20000);
	assert_int_equal(sync_value_get(&c->dones), 1);
}

/* On the loop: a start, whose on_done may run before it returns. */
static void c_start_on_loop(void *arg)
{
	struct call *c = arg;

	c->start_rc = http_out_start(out, &c->req, &cbs, c);
	sync_value_set(&c->started, 1);
}

/* On the loop: the blocking form, which must refuse. */
static void c_fetch_on_loop(void *arg)
{
	struct call *c = arg;
	int status = -1;

	c->start_rc = http_out_fetch(out, &c->req, &status, &c->body);
	SYNC_CHECK(&report, status == 0);
	sync_value_set(&c->started, 1);
}

/* ---- tests --------------------------------------------------------------- */

/* Started off the loop, a call to the server's port runs on the loop. */
static void test_http_out__deferred_to_loop(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, port, "/hello");
	assert_int_equal(http_out_start(out, &c.req, &cbs, &c), 0);
	call_wait_done(&c);
	assert_int_equal(c.done_rc, 0);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.head_on, ON_LOOP);
	assert_int_equal(c.done_on, ON_LOOP);
	assert_int_equal(c.body.len, 5);
	assert_memory_equal(c.body.data, "hello", 5);
	buf_release(&c.body);
}

/* On the loop a start begins at once: a refused connection may end it
 * before the start returns, and its on_done runs exactly once. */
static void test_http_out__on_loop_at_once(void **state)
{
	struct call c, d;

	(void)state;
	call_init(&c, port, "/hello");
	assert_int_equal(http_server_defer(srv, c_start_on_loop, &c), 0);
	call_wait_done(&c);
	assert_int_equal(sync_value_wait(&c.started, 1, 5000), 1);
	assert_int_equal(c.start_rc, 0);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.done_on, ON_LOOP);
	buf_release(&c.body);

	call_init(&d, free_port(), "/hello");
	assert_int_equal(http_server_defer(srv, c_start_on_loop, &d), 0);
	call_wait_done(&d);
	assert_int_equal(sync_value_wait(&d.started, 1, 5000), 1);
	assert_int_equal(d.start_rc, 0);
	assert_int_equal(d.done_rc, CHAT_EUPSTREAM);
	assert_int_equal(d.done_on, ON_LOOP);
	buf_release(&d.body);
}

/* What the loop client cannot take (a Unix socket) goes to libcurl's
 * thread, whichever thread starts it. */
static void test_http_out__curl_for_the_rest(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, port, "/hello");
	c.req.unix_socket = "/nonexistent/chat-test.sock";
	assert_int_equal(http_out_start(out, &c.req, &cbs, &c), 0);
	call_wait_done(&c);
	assert_int_equal(c.done_rc, CHAT_EUPSTREAM);
	assert_int_equal(c.done_on, ELSEWHERE);
	buf_release(&c.body);
}

/* A deferred start asks keep_going first: a caller gone meanwhile is
 * CHAT_ECANCELED, no connection made. */
static void test_http_out__keep_going_before_start(void **state)
{
	struct call c;

	(void)state;
	call_init(&c, port, "/hello");
	c.stop_at_once = true;
	assert_int_equal(http_out_start(out, &c.req, &cbs, &c), 0);
	call_wait_done(&c);
	assert_int_equal(c.done_rc, CHAT_ECANCELED);
	assert_int_equal(c.done_on, ON_LOOP);
	assert_int_equal(c.status, 0);
	buf_release(&c.body);
}

static void test_http_out__bad_args(void **state)
{
	static const struct http_client_cb no_done = { .on_head = c_head };
	const char *split[] = { "X-A: 1\r\nX-B: 2", NULL };
	struct call c;

	(void)state;
	call_init(&c, port, "/hello");
	assert_int_equal(http_out_start(NULL, &c.req, &cbs, &c), CHAT_EINVAL);
	assert_int_equal(http_out_start(out, &c.req, &no_done, &c),
			 CHAT_EINVAL);
	c.req.headers = split;
	assert_int_equal(http_out_start(out, &c.req, &cbs, &c), CHAT_EINVAL);
	usleep(20000);
	assert_int_equal(sync_value_get(&c.dones), 0);
	buf_release(&c.body);
}

/* The blocking form: from a worker it answers; on the loop it refuses
 * rather than wait on its own thread. */
static void test_http_out__fetch(void **state)
{
	struct call c;
	int status = 0;

	(void)state;
	call_init(&c, port, "/hello");
	assert_int_equal(http_out_fetch(out, &c.req, &status, &c.body), 0);
	assert_int_equal(status, 200);
	assert_int_equal(c.body.len, 5);
	assert_memory_equal(c.body.data, "hello", 5);
	buf_reset(&c.body);

	c.req.unix_socket = "/nonexistent/chat-test.sock";
	assert_int_equal(http_out_fetch(out, &c.req, &status, &c.body),
			 CHAT_EUPSTREAM);
	assert_int_equal(status, 0);
	c.req.unix_socket = NULL;

	assert_int_equal(http_server_defer(srv, c_fetch_on_loop, &c), 0);
	assert_int_equal(sync_value_wait(&c.started, 1, 5000), 1);
	sync_report_assert(&report);
	assert_int_equal(c.start_rc, CHAT_EINVAL);
	buf_release(&c.body);
}

/* A door whose loop never runs (a daemon stopping): the blocking form
 * still answers (it never waits on the loop), a start from another
 * thread waits in the defer queue, close ends it with CHAT_ECANCELED
 * exactly once, later calls are refused, and freeing the door after
 * the server leaves nothing behind (the ASan build checks). */
static struct http_server *idle;

static void *attach_elsewhere(void *arg)
{
	/* this thread would run the idle server's loop; it never does */
	http_out_attach(arg, idle);
	return NULL;
}

static void test_http_out__close_ends_deferred(void **state)
{
	struct http_out *o = NULL;
	struct call c, f;
	pthread_t t;
	int status = 0;

	(void)state;
	idle = server_new(free_port());
	assert_int_equal(http_out_new(&o), 0);
	assert_int_equal(pthread_create(&t, NULL, attach_elsewhere, o), 0);
	pthread_join(t, NULL);

	call_init(&f, port, "/hello");
	assert_int_equal(http_out_fetch(o, &f.req, &status, &f.body), 0);
	assert_int_equal(status, 200);
	buf_release(&f.body);

	call_init(&c, port, "/hello");
	assert_int_equal(http_out_start(o, &c.req, &cbs, &c), 0);
	usleep(20000);
	assert_int_equal(sync_value_get(&c.dones), 0);	/* waiting */

	http_out_close(o);
	assert_int_equal(sync_value_get(&c.dones), 1);
	assert_int_equal(c.done_rc, CHAT_ECANCELED);
	assert_int_equal(http_out_start(o, &c.req, &cbs, &c), CHAT_ECANCELED);
	assert_int_equal(http_out_fetch(o, &f.req, &status, &f.body),
			 CHAT_ECANCELED);
	http_out_close(o);		/* idempotent */
	assert_int_equal(sync_value_get(&c.dones), 1);
	http_server_free(idle);
	http_out_free(o);
	buf_release(&c.body);
}

/* ---- main ---------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	log_init("test", getenv("TEST_DEBUG") ? LOG_LDEBUG : LOG_LERROR);
	crypto_init();
	test_thread = pthread_self();
	assert_int_equal(pool_new(4, 64, &pool), 0);
	port = free_port();
	srv = server_new(port);
	assert_int_equal(http_out_new(&out), 0);
	pthread_create(&loop_thread, NULL, loop_main, NULL);
	assert_int_equal(sync_value_wait(&attached, 1, 5000), 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	http_server_stop(srv);
	pthread_join(loop_thread, NULL);
	http_out_close(out);	/* the stopped loop's thread stands in */
	pool_free(pool);
	http_server_free(srv);
	http_out_free(out);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_out__deferred_to_loop),
		cmocka_unit_test(test_http_out__on_loop_at_once),
		cmocka_unit_test(test_http_out__curl_for_the_rest),
		cmocka_unit_test(test_http_out__keep_going_before_start),
		cmocka_unit_test(test_http_out__bad_args),
		cmocka_unit_test(test_http_out__fetch),
		cmocka_unit_test(test_http_out__close_ends_deferred),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
