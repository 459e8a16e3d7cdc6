/*
 * test-http-server.c - the libwebsockets HTTP server, end to end over
 * loopback with libcurl as the client: routing, permissions, bodies and
 * their ceiling, streaming, keep-alive, request ids, a client that leaves;
 * and with raw sockets as a hostile client: every refusal, requests that
 * must never run, chunked bodies, pipelining, deadlines, a slow reader;
 * the loop itself: epoll by default (its set holds every connection),
 * lws's poll() loop as the fallback, a port taken, descriptors running
 * out.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "crypto.h"
#include "http-server.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "sync.h"

#define SECRET "test-internal-secret"

static struct http_server *srv;
static struct pool *pool;
static pthread_t loop_thread;
static int port;
static struct sync_value saw_closed = SYNC_VALUE_INIT; /* h_forever saw it */

static void h_hello(struct http_req *req, struct http_res *res)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "hello", "world");
	cJSON_AddStringToObject(o, "method", req->method);
	http_res_json(res, 200, o);
}

static void h_echo(struct http_req *req, struct http_res *res)
{
	char *copy = malloc(req->body_len + 1);

	memcpy(copy, req->body, req->body_len);
	http_res_send(res, 200, "application/octet-stream", copy,
		      req->body_len);
}

static void h_item(struct http_req *req, struct http_res *res)
{
	char q[64] = "";
	cJSON *o = cJSON_CreateObject();

	http_req_query(req, "q", q, sizeof(q));
	cJSON_AddStringToObject(o, "id", http_req_param(req, "id"));
	cJSON_AddStringToObject(o, "q", q);
	http_res_json(res, 200, o);
}

static void h_whoami(struct http_req *req, struct http_res *res)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "user", req->user_id);
	cJSON_AddStringToObject(o, "role", req->role);
	http_res_json(res, 200, o);
}

static void h_nocontent(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_json(res, 204, NULL);
}

static void h_stream(struct http_req *req, struct http_res *res)
{
	int i;

	(void)req;
	http_res_begin(res, 200, "text/event-stream");
	for (i = 0; i < 5; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "data: %d\n\n", i);

		http_res_write(res, line, (size_t)n);
		usleep(20000);
	}
	http_res_end(res);
}

/* Writes until the client is gone, then notes it. */
static void h_forever(struct http_req *req, struct http_res *res)
{
	int i;

	(void)req;
	http_res_begin(res, 200, "text/plain");
	for (i = 0; i < 500; i++) {
		if (http_res_write(res, "tick\n", 5) == CHAT_ECLOSED ||
		    http_res_closed(res)) {
			sync_value_set(&saw_closed, 1);
			break;
		}
		usleep(10000);
	}
	http_res_end(res);
}

/* Answers a body after a while, as argon2id-bound handlers do. */
static void h_slow_echo(struct http_req *req, struct http_res *res)
{
	usleep(100000);
	h_echo(req, res);
}

/* The whole announced body, then the final call a while later: the
 * client has its answer and sends the next request before the end. */
static void h_late_end(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_header(res, "Content-Length", "5");
	http_res_begin(res, 200, "text/plain");
	http_res_write(res, "early", 5);
	usleep(200000);
	http_res_end(res);
}

static void h_onloop(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_send(res, 200, "text/plain", strdup("loop"), 4);
}

/* Every request header back as "name: value" lines, and as many
 * response headers as the request had. */
static void h_headers(struct http_req *req, struct http_res *res)
{
	struct buf b;
	char **h, name[32];
	size_t n = 0, i;

	buf_init(&b, 64 * 1024);
	h = http_req_headers(req, &n);
	for (i = 0; h && i < n; i++) {
		buf_puts(&b, h[i]);
		buf_puts(&b, "\n");
		snprintf(name, sizeof(name), "X-Out-%zu", i);
		http_res_header(res, name, h[i]);
	}
	http_headers_free(h, n);
	http_res_send(res, 200, "text/plain", buf_detach(&b, NULL), b.len);
}

/* A line break in any header value, Content-Type included, is refused
 * (the header would end early and the rest become headers). */
static void h_bad_header(struct http_req *req, struct http_res *res)
{
	(void)req;
	if (http_res_header(res, "Content-Type", "text/plain\r\nX-Evil: 1") ==
	    CHAT_EINVAL &&
	    http_res_header(res, "X-Other", "a\nX-Evil: 1") == CHAT_EINVAL)
		http_res_send(res, 200, "text/plain", strdup("refused"), 7);
	else
		http_res_send(res, 500, "text/plain", strdup("accepted"), 8);
}

/* Counts the requests that reached a handler: a refused one never may. */
static struct sync_value count_runs = SYNC_VALUE_INIT;

static void h_count(struct http_req *req, struct http_res *res)
{
	(void)req;
	sync_value_add(&count_runs, 1);
	http_res_json(res, 201, NULL);
}

/* Writes 64 KiB pieces until the server refuses (a client that does not
 * read is cut off) or 64 MiB went out; flood_rc is the last result. */
static struct sync_value flood_rc = { PTHREAD_MUTEX_INITIALIZER,
				      PTHREAD_COND_INITIALIZER, 1 };
static volatile size_t flood_written;

static void h_flood(struct http_req *req, struct http_res *res)
{
	static char piece[64 * 1024];
	size_t written = 0;
	int i, rc = 0;

	(void)req;
	memset(piece, 'x', sizeof(piece));
	http_res_begin(res, 200, "text/event-stream");
	for (i = 0; i < 1024 && rc == 0; i++) {
		rc = http_res_write(res, piece, sizeof(piece));
		if (rc == 0)
			written += sizeof(piece);
		usleep(20000);
	}
	flood_written = written;
	sync_value_set(&flood_rc, rc);
	http_res_end(res);
}

static const struct http_route routes[] = {
	{ "POST", "/count", HTTP_PERM_PUBLIC, h_count, 0 },
	{ "GET", "/flood", HTTP_PERM_PUBLIC, h_flood, 0 },
	{ "GET", "/ws", HTTP_PERM_PUBLIC, h_hello, HTTP_ROUTE_WEBSOCKET },
	{ "GET", "/headers", HTTP_PERM_PUBLIC, h_headers, 0 },
	{ "GET", "/bad-header", HTTP_PERM_PUBLIC, h_bad_header, 0 },
	{ "GET", "/hello", HTTP_PERM_PUBLIC, h_hello, 0 },
	{ "POST", "/echo", HTTP_PERM_PUBLIC, h_echo, 0 },
	{ "PATCH", "/echo", HTTP_PERM_PUBLIC, h_echo, 0 },
	{ "POST", "/slow-echo", HTTP_PERM_PUBLIC, h_slow_echo, 0 },
	{ "POST", "/late-end", HTTP_PERM_PUBLIC, h_late_end, 0 },
	{ "GET", "/items/{id}", HTTP_PERM_PUBLIC, h_item, 0 },
	{ "GET", "/me", HTTP_PERM_USER, h_whoami, 0 },
	{ "GET", "/admin", HTTP_PERM_ADMIN, h_whoami, 0 },
	{ "GET", "/signed-in", HTTP_PERM_GUEST, h_whoami, HTTP_ROUTE_SESSION },
	{ "GET", "/internal", HTTP_PERM_INTERNAL, h_whoami, 0 },
	{ "DELETE", "/thing", HTTP_PERM_PUBLIC, h_nocontent, 0 },
	{ "GET", "/stream", HTTP_PERM_PUBLIC, h_stream, 0 },
	{ "GET", "/forever", HTTP_PERM_PUBLIC, h_forever, 0 },
	{ "GET", "/loop", HTTP_PERM_PUBLIC, h_onloop, HTTP_ROUTE_ON_LOOP },
};

static void *loop_main(void *arg)
{
	(void)arg;
	http_server_run(srv);
	return NULL;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static int setup(void **state)
{
	struct http_server_config cfg = {
		.name = "test", .host = "127.0.0.1", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.max_body = 1024 * 1024, .internal_secret = SECRET,
		.head_timeout_s = 1,
	};
	char err[256];

	(void)state;
	log_init("test", getenv("TEST_DEBUG") ? LOG_LDEBUG : LOG_LERROR);
	crypto_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	assert_int_equal(pool_new(4, 64, &pool), 0);
	cfg.pool = pool;
	port = free_port();
	cfg.port = port;
	if (http_server_new(&cfg, &srv, err, sizeof(err)))
		fail_msg("server: %s", err);
	pthread_create(&loop_thread, NULL, loop_main, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	http_server_stop(srv);
	pthread_join(loop_thread, NULL);
	pool_free(pool);
	http_server_free(srv);
	curl_global_cleanup();
	return 0;
}

struct reply {
	long status;
	struct buf body;
	struct buf head;
	long connects;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;

	return buf_append(&r->body, p, sz * n) ? 0 : sz * n;
}

static size_t on_head(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;

	return buf_append(&r->head, p, sz * n) ? 0 : sz * n;
}

/* One request; headers is NULL-terminated; reuses *easy when given. */
static void request(CURL *easy, const char *method, const char *path,
		    const char *const *headers, const char *body,
		    size_t body_len, struct reply *r)
{
	struct curl_slist *hl = NULL;
	char url[256];
	CURL *c = easy ? easy : curl_easy_init();

	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 8 << 20);
	buf_init(&r->head, 1 << 16);
	buf_puts(&r->body, "");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	for (; headers && *headers; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_NOBODY,
				 strcmp(method, "HEAD") == 0 ? 1L : 0L);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
	curl_slist_free_all(hl);
	if (!easy)
		curl_easy_cleanup(c);
}

static void reply_release(struct reply *r)
{
	buf_release(&r->body);
	buf_release(&r->head);
}

static void test_http_server__json_and_request_id(void **state)
{
	static const char *const keep[] = { "X-Request-Id: abc-123.x_y", NULL };
	static const char *const bad[] = { "X-Request-Id: no spaces!", NULL };
	struct reply r;

	(void)state;
	request(NULL, "GET", "/hello", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"hello\":\"world\",\"method\":\"GET\"}");
	assert_non_null(strcasestr(r.head.data, "content-type: application/json"));
	assert_non_null(strcasestr(r.head.data, "x-request-id: "));
	reply_release(&r);

	request(NULL, "GET", "/hello", keep, NULL, 0, &r);
	assert_non_null(strcasestr(r.head.data, "x-request-id: abc-123.x_y\r\n"));
	reply_release(&r);

	request(NULL, "GET", "/hello", bad, NULL, 0, &r);
	assert_null(strstr(r.head.data, "no spaces"));
	assert_non_null(strcasestr(r.head.data, "x-request-id: "));
	reply_release(&r);
}

/* Many headers, common and unknown ones, read once each, names
 * lowercased, values whole; as many response headers go back. */
static void test_http_server__many_headers(void **state)
{
	static const char *const in[] = {
		"Accept: text/plain", "Accept-Language: en", "Cookie: a=1",
		"Origin: http://x", "Referer: http://x/y", "User-Agent: t/1",
		"Authorization: Bearer abc", "Cache-Control: no-cache",
		"X-Request-Id: many-1", "Idempotency-Key: key-1",
		"Last-Event-Id: 42", "X-Api-Key: k", "X-Forwarded-Proto: https",
		"X-Forwarded-Host: h.example", "X-Unknown-Header: kept",
		NULL,
	};
	static const char *const want[] = {
		"accept: text/plain", "accept-language: en", "cookie: a=1",
		"origin: http://x", "referer: http://x/y", "user-agent: t/1",
		"authorization: Bearer abc", "cache-control: no-cache",
		"x-request-id: many-1", "idempotency-key: key-1",
		"last-event-id: 42", "x-api-key: k",
		"x-forwarded-proto: https", "x-forwarded-host: h.example",
		"x-unknown-header: kept",
	};
	struct reply r;
	size_t i, lines = 0;
	const char *p;

	(void)state;
	request(NULL, "GET", "/headers", in, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[128];

		if (!strstr(r.body.data, want[i]))
			fail_msg("'%s' missing from:\n%s", want[i], r.body.data);
		snprintf(line, sizeof(line), ": %s\r\n", want[i]);
		if (!strstr(r.head.data, line))
			fail_msg("'%s' not answered in:\n%s", want[i],
				 r.head.data);
	}
	for (p = r.body.data; (p = strchr(p, '\n')); p++)
		lines++;
	assert_true(lines >= sizeof(want) / sizeof(want[0]));
	assert_non_null(strcasestr(r.head.data, "x-out-13: "));
	reply_release(&r);
	request(NULL, "GET", "/bad-header", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_null(strcasestr(r.head.data, "x-evil"));
	reply_release(&r);
}

static void test_http_server__errors(void **state)
{
	struct reply r;

	(void)state;
	request(NULL, "GET", "/nope", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body.data, "\"code\":\"not_found\""));
	assert_non_null(strstr(r.body.data, "\"request_id\":\""));
	reply_release(&r);

	request(NULL, "PUT", "/hello", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.body.data, "\"code\":\"method_not_allowed\""));
	reply_release(&r);
}

static void test_http_server__bodies(void **state)
{
	static const char *const ct[] = { "Content-Type: text/plain", NULL };
	size_t big = 2 * 1024 * 1024, edge = 1024 * 1024;
	char *data = malloc(big);
	struct reply r;

	(void)state;
	memset(data, 'x', big);
	request(NULL, "POST", "/echo", ct, "hello body", 10, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "hello body");
	reply_release(&r);

	/* no body at all, over a kept connection */
	{
		CURL *c = curl_easy_init();
		int i;

		for (i = 0; i < 3; i++) {
			request(c, "POST", "/echo", ct, "", 0, &r);
			assert_int_equal(r.status, 200);
			assert_int_equal(r.body.len, 0);
			reply_release(&r);
		}
		curl_easy_cleanup(c);
	}

	request(NULL, "PATCH", "/echo", ct, "patched", 7, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "patched");
	reply_release(&r);

	request(NULL, "POST", "/echo", ct, data, edge, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, edge);
	reply_release(&r);

	request(NULL, "POST", "/echo", ct, data, big, &r);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body.data, "\"code\":\"payload_too_large\""));
	reply_release(&r);
	free(data);

	/* the server is still fine afterwards */
	request(NULL, "GET", "/hello", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
}

static void test_http_server__params_and_query(void **state)
{
	struct reply r;

	(void)state;
	request(NULL, "GET", "/items/42?q=a%26b%3Dc+d&z=1", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"id\":\"42\",\"q\":\"a&b=c d\"}");
	reply_release(&r);
}

static void test_http_server__permissions(void **state)
{
	static const char *const forged[] = {
		"X-Chat-User-Id: u1", "X-Chat-Role: admin", NULL };
	static const char *const wrong[] = {
		"X-Chat-Internal: nope", "X-Chat-User-Id: u1",
		"X-Chat-Role: admin", NULL };
	static const char *const user[] = {
		"X-Chat-Internal: " SECRET, "X-Chat-User-Id: u1",
		"X-Chat-Role: user", NULL };
	static const char *const guest[] = {
		"X-Chat-Internal: " SECRET, "X-Chat-User-Id: u2",
		"X-Chat-Role: guest", NULL };
	static const char *const internal[] = {
		"X-Chat-Internal: " SECRET, NULL };
	struct reply r;

	(void)state;
	request(NULL, "GET", "/me", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	reply_release(&r);
	request(NULL, "GET", "/me", forged, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	reply_release(&r);
	request(NULL, "GET", "/me", wrong, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	reply_release(&r);
	request(NULL, "GET", "/me", user, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"user\":\"u1\",\"role\":\"user\"}");
	reply_release(&r);
	request(NULL, "GET", "/me", guest, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	reply_release(&r);
	request(NULL, "GET", "/admin", user, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	reply_release(&r);
	request(NULL, "GET", "/internal", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	reply_release(&r);
	request(NULL, "GET", "/internal", internal, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
}

/* HTTP_ROUTE_SESSION: an identity without a session id (an API key
 * behind the gateway) is refused; one with a session passes. */
static void test_http_server__session_routes(void **state)
{
	static const char *const key[] = {
		"X-Chat-Internal: " SECRET, "X-Chat-User-Id: u1",
		"X-Chat-Role: user", NULL };
	static const char *const empty[] = {
		"X-Chat-Internal: " SECRET, "X-Chat-User-Id: u1",
		"X-Chat-Role: user", "X-Chat-Session-Id: ", NULL };
	static const char *const session[] = {
		"X-Chat-Internal: " SECRET, "X-Chat-User-Id: u1",
		"X-Chat-Role: guest", "X-Chat-Session-Id: s1", NULL };
	static const char *const forged[] = {
		"X-Chat-User-Id: u1", "X-Chat-Role: user",
		"X-Chat-Session-Id: s1", NULL };
	struct reply r;

	(void)state;
	request(NULL, "GET", "/signed-in", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	reply_release(&r);
	request(NULL, "GET", "/signed-in", forged, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	reply_release(&r);
	request(NULL, "GET", "/signed-in", key, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body.data,
			       "\"code\":\"interactive_login_required\""));
	reply_release(&r);
	request(NULL, "GET", "/signed-in", empty, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	reply_release(&r);
	request(NULL, "GET", "/signed-in", session, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data,
			    "{\"user\":\"u1\",\"role\":\"guest\"}");
	reply_release(&r);
	/* routes without the flag take API keys as before */
	request(NULL, "GET", "/me", key, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
}

static void test_http_server__keepalive_and_204(void **state)
{
	CURL *c = curl_easy_init();
	struct reply r;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		request(c, "DELETE", "/thing", NULL, NULL, 0, &r);
		assert_int_equal(r.status, 204);
		assert_int_equal(r.body.len, 0);
		assert_null(strcasestr(r.head.data, "content-length"));
		reply_release(&r);
		request(c, "GET", "/hello", NULL, NULL, 0, &r);
		assert_int_equal(r.status, 200);
		/* only the very first request opens a connection */
		assert_int_equal(r.connects, 0);
		reply_release(&r);
		request(c, "GET", "/loop", NULL, NULL, 0, &r);
		assert_string_equal(r.body.data, "loop");
		assert_int_equal(r.connects, 0);
		reply_release(&r);
	}
	curl_easy_cleanup(c);
}

static void test_http_server__streaming(void **state)
{
	CURL *c = curl_easy_init();
	struct reply r;

	(void)state;
	request(c, "GET", "/stream", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "data: 0\n\ndata: 1\n\ndata: 2\n\n"
					 "data: 3\n\ndata: 4\n\n");
	assert_non_null(strcasestr(r.head.data, "transfer-encoding: chunked"));
	reply_release(&r);
	/* chunked responses keep the connection too */
	request(c, "GET", "/hello", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.connects, 0);
	reply_release(&r);
	curl_easy_cleanup(c);
}

static void test_http_server__client_leaves(void **state)
{
	CURL *c = curl_easy_init();
	struct reply r;
	char url[128];

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 1 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/forever", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
	assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
	curl_easy_cleanup(c);
	assert_true(r.body.len > 0);
	assert_int_equal(sync_value_wait(&saw_closed, 1, 3000), 1);
	buf_release(&r.body);
}

static void test_http_server__concurrent(void **state)
{
	enum { N = 64 };
	CURLM *m = curl_multi_init();
	CURL *e[N];
	struct reply r[N];
	char url[128];
	int running = 1, i, ok = 0;
	CURLMsg *msg;
	int left;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stream", port);
	for (i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		buf_init(&r[i].body, 1 << 16);
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &r[i]);
		curl_multi_add_handle(m, e[i]);
	}
	while (running) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
			ok++;
	assert_int_equal(ok, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].body.len, 5 * strlen("data: 0\n\n"));
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
		buf_release(&r[i].body);
	}
	curl_multi_cleanup(m);
}

static void test_http_server__next_request_before_end(void **state)
{
	static const char *const ct[] = { "Content-Type: text/plain", NULL };
	CURL *c = curl_easy_init();
	struct reply r;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		request(c, "POST", "/late-end", ct, "x", 1, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body.data, "early");
		reply_release(&r);
	}
	curl_easy_cleanup(c);
}

/* A client that pipelines a second request behind a body must not wedge
 * the loop: whatever happens to that connection, others are served. */
/* Timers: each fires once, on the loop thread, not before its delay,
 * in delay order whatever the order they were set in. */
struct timer_probe {
	int64_t set_ms;
	int64_t delay_ms;
	int64_t fired_ms;
};

static int timer_order[3];
static struct sync_value timers_fired = SYNC_VALUE_INIT;

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static struct timer_probe timer_probes[3];

static void timer_hit(void *arg)
{
	struct timer_probe *p = arg;

	long n = sync_value_get(&timers_fired);

	/* timers fire on the loop thread only: n stays this one's */
	p->fired_ms = wall_ms();
	if (n < 3)
		timer_order[n] = (int)(p - timer_probes);
	sync_value_add(&timers_fired, 1);
}

static void test_http_server__timers(void **state)
{
	static const int64_t delays[3] = { 120, 10, 60 };
	int i;

	(void)state;
	sync_value_set(&timers_fired, 0);
	for (i = 0; i < 3; i++) {
		timer_probes[i].set_ms = wall_ms();
		timer_probes[i].delay_ms = delays[i];
		assert_int_equal(http_server_after(srv, delays[i], timer_hit,
						   &timer_probes[i]), 0);
	}
	assert_int_equal(sync_value_wait(&timers_fired, 3, 2000), 3);
	assert_int_equal(timer_order[0], 1);
	assert_int_equal(timer_order[1], 2);
	assert_int_equal(timer_order[2], 0);
	for (i = 0; i < 3; i++)
		assert_true(timer_probes[i].fired_ms - timer_probes[i].set_ms >=
			    timer_probes[i].delay_ms - 1);
}

static void test_http_server__pipelined_after_body(void **state)
{
	static const char post[] =
		"POST /slow-echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
		"hello";
	static const char get[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 2 };
	char got[4096];
	struct reply r;
	int fd, i;

	(void)state;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 3; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(write(fd, post, sizeof(post) - 1),
				 (ssize_t)sizeof(post) - 1);
		usleep(20000);	/* the handler is busy when the next arrives */
		assert_int_equal(write(fd, get, sizeof(get) - 1),
				 (ssize_t)sizeof(get) - 1);
		/* the first answer arrives, or the connection is closed */
		assert_true(read(fd, got, sizeof(got)) >= 0);
		close(fd);
	}
	request(NULL, "GET", "/hello", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
}


/* ---- raw clients: what a hostile or careless client sends ---- */

static int raw_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
	assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Everything the server sends until it closes (or 5 s pass: *closed
 * false), NUL-terminated, into b. */
static void raw_read_all(int fd, struct buf *b, bool *closed)
{
	char chunk[4096];
	ssize_t n;

	buf_init(b, 1 << 20);
	*closed = false;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(b, chunk, (size_t)n), 0);
	*closed = n == 0;
	if (!b->data)
		buf_append(b, "", 0);
}

/* Sends req (len bytes) on a new connection; the answer must start with
 * "HTTP/1.1 <status>" and the server must close the connection. */
static void expect_refused(const char *req, size_t len, int status)
{
	char want[32];
	struct buf b;
	bool closed;
	int fd = raw_connect();

	raw_send(fd, req, len);
	raw_read_all(fd, &b, &closed);
	close(fd);
	snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
	if (strncmp(b.data, want, strlen(want)) != 0 || !closed ||
	    !strcasestr(b.data, "\r\nconnection: close\r\n"))
		fail_msg("%.*s...: wanted %d and a close, got %s:\n%s",
			 (int)(len < 60 ? len : 60), req, status,
			 closed ? "closed" : "still open", b.data);
	buf_release(&b);
}

#define REFUSED(lit, status) expect_refused(lit, sizeof(lit) - 1, status)

/* A request refused for its framing is answered once and never reaches
 * its handler, whatever follows it on the connection. */
static void test_http_server__refused_never_runs(void **state)
{
	static const char *const bad[] = {
		"Content-Length: abc\r\n", "Content-Length: +2\r\n",
		"Content-Length: 0x2\r\n", "Content-Length: \r\n",
		"Content-Length: 2 2\r\n", "Content-Length: -1\r\n",
		"Content-Length: 2\r\nContent-Length: 3\r\n",
		"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
		"Transfer-Encoding : chunked\r\n", "Content-Length : 2\r\n",
		"X-A: a\001b\r\nContent-Length: 2\r\n",
		"X-Folded: a\r\n b\r\nContent-Length: 2\r\n",
		"Bad Name: x\r\nContent-Length: 2\r\n",
	};
	char req[512];
	size_t i;
	int n;

	(void)state;
	sync_value_set(&count_runs, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(req, sizeof(req), "POST /count HTTP/1.1\r\n"
			     "Host: x\r\n%s\r\n{}", bad[i]);
		expect_refused(req, (size_t)n, 400);
	}
	/* a NUL in a value, bare LFs */
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n"
		"Content-Length: 2\r\n\r\n{}", 400);
	REFUSED("POST /count HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}", 400);
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 2\n\r\n{}",
		400);
	/* Transfer-Encoding in HTTP/1.0, Host missing or twice */
	REFUSED("POST /count HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
		"2\r\n{}\r\n0\r\n\r\n", 400);
	REFUSED("POST /count HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400);
	REFUSED("POST /count HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
		"Content-Length: 2\r\n\r\n{}", 400);
	/* a refusal then a valid request on the same connection: neither
	 * runs */
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
		"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		400);
	/* and the same handler does run for a well-formed request: once
	 * it has, a refused one that ran (answered before it was sent)
	 * would have counted too */
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
		"Connection: close\r\n\r\n{}", 201);
	assert_int_equal(sync_value_wait(&count_runs, 1, 5000), 1);
}

/* Each refusal with its status, the connection closed after it. */
static void test_http_server__refusal_statuses(void **state)
{
	struct buf b;
	char *big;
	int i, n;

	(void)state;
	REFUSED("CONNECT x:80 HTTP/1.1\r\nHost: x\r\n\r\n", 501);
	REFUSED("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501);
	REFUSED("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
	REFUSED("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
		"\r\n", 501);
	REFUSED("POST /echo HTTP/1.1\r\nHost: x\r\n"
		"Transfer-Encoding: chunked, gzip\r\n\r\n", 501);
	REFUSED("GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	REFUSED("GET /hello HTTP/1.2\r\nHost: x\r\n\r\n", 505);
	REFUSED("GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("GET /hello http/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("GET http://x/hello HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
		"Content-Length: 1\r\n\r\nx", 417);
	REFUSED("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
		"\r\n", 413);
	/* a 20 KiB URL, a 64 KiB header line, 2,000 headers */
	big = malloc(200 * 1024);
	assert_non_null(big);
	n = sprintf(big, "GET /");
	for (i = 0; i < 20 * 1024; i++)
		big[n++] = 'a';
	n += sprintf(big + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_refused(big, (size_t)n, 414);
	n = sprintf(big, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
	for (i = 0; i < 64 * 1024; i++)
		big[n++] = 'a';
	n += sprintf(big + n, "\r\n\r\n");
	expect_refused(big, (size_t)n, 431);
	n = sprintf(big, "GET /hello HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < 2000; i++)
		n += sprintf(big + n, "X-%d: y\r\n", i);
	n += sprintf(big + n, "\r\n");
	expect_refused(big, (size_t)n, 431);
	free(big);
	/* WebSocket: only version 13, with a key */
	REFUSED("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: "
		"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
		426);
	REFUSED("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
		400);
	{
		static const char v7[] =
			"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket"
			"\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
			"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7"
			"\r\n\r\n";
		int fd = raw_connect();
		bool closed;

		raw_send(fd, v7, sizeof(v7) - 1);
		raw_read_all(fd, &b, &closed);
		close(fd);
		assert_non_null(strcasestr(b.data,
					   "\r\nsec-websocket-version: 13\r\n"));
		buf_release(&b);
	}
}

/* h2c and other upgrades are ignored: the request gets its answer. */
static void test_http_server__h2c_ignored(void **state)
{
	static const char req[] =
		"GET /hello HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
		"Connection: Upgrade, HTTP2-Settings, close\r\n"
		"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
	struct buf b;
	bool closed;
	int fd = raw_connect();

	(void)state;
	raw_send(fd, req, sizeof(req) - 1);
	raw_read_all(fd, &b, &closed);
	close(fd);
	assert_true(strncmp(b.data, "HTTP/1.1 200 ", 13) == 0);
	assert_null(strstr(b.data, " 101 "));
	buf_release(&b);
}

/* Chunked bodies within max_body; pipelined requests after a body and
 * 100-continue, answered in order on one connection. */
static void test_http_server__chunked_and_pipelined(void **state)
{
	static const char req[] =
		"POST /echo HTTP/1.1\r\nHost: x\r\n"
		"Transfer-Encoding: chunked\r\n\r\n"
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		"Expect: 100-continue\r\n\r\nxyz"
		"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	const char *p1, *p2, *p3, *p4;
	struct buf b;
	bool closed;
	char *big;
	int fd = raw_connect(), i, n;

	(void)state;
	raw_send(fd, req, sizeof(req) - 1);
	raw_read_all(fd, &b, &closed);
	close(fd);
	assert_true(closed);
	p1 = strstr(b.data, "\r\n\r\nhello world");
	p2 = strstr(b.data, "\r\n\r\nabc");
	p3 = strstr(b.data, "HTTP/1.1 100 Continue\r\n\r\n");
	p4 = strstr(b.data, "\"hello\":\"world\"");
	if (!p1 || !p2 || !p3 || !p4 || !(p1 < p2 && p2 < p3 && p3 < p4))
		fail_msg("out of order or missing:\n%s", b.data);
	assert_non_null(strstr(p3, "\r\n\r\nxyz"));
	buf_release(&b);
	/* over max_body, in chunks: 413; a malformed chunk: 400 */
	big = malloc(1200 * 1024);
	assert_non_null(big);
	n = sprintf(big, "POST /count HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 17; i++) {
		n += sprintf(big + n, "10000\r\n");
		memset(big + n, 'z', 0x10000);
		n += 0x10000;
		n += sprintf(big + n, "\r\n");
	}
	n += sprintf(big + n, "0\r\n\r\n");
	sync_value_set(&count_runs, 0);
	expect_refused(big, (size_t)n, 413);
	free(big);
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		"chunked\r\n\r\n+2\r\n{}\r\n0\r\n\r\n", 400);
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		"chunked\r\n\r\n2\n{}\r\n0\r\n\r\n", 400);
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		"chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400);
	/* a well-formed request last: once its handler ran, a refused
	 * one that ran would have counted too */
	REFUSED("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
		"Connection: close\r\n\r\n{}", 201);
	assert_int_equal(sync_value_wait(&count_runs, 1, 5000), 1);
}

/* A head that never ends is closed at its deadline (1 s here). */
static void test_http_server__head_deadline(void **state)
{
	int64_t t0 = mono_ms();
	struct buf b;
	bool closed;
	int fd = raw_connect();

	(void)state;
	raw_send(fd, "GET /hello HTTP/1.1\r\nHo", 23);
	raw_read_all(fd, &b, &closed);
	close(fd);
	assert_true(closed);
	assert_true(mono_ms() - t0 < 4000);
	buf_release(&b);
}

/* A client that stops reading a stream is cut off: the handler's
 * writes fail with CHAT_ETOOBIG instead of the server holding what the
 * client does not read. */
static void test_http_server__slow_reader_cut_off(void **state)
{
	static const char req[] = "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = raw_connect(), rc, rcvbuf = 4096;

	(void)state;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sync_value_set(&flood_rc, 1);
	raw_send(fd, req, sizeof(req) - 1);
	rc = (int)sync_value_wait_change(&flood_rc, 1, 20000);
	close(fd);
	assert_int_equal(rc, CHAT_ETOOBIG);
	/* cut at the stall (1 MiB unread, nothing read for a second), well
	 * before the 16 MiB one answer may hold */
	if (flood_written > 10 * 1024 * 1024)
		fail_msg("cut off only after %zu bytes", flood_written);
}

/* Descriptors registered in the epoll sets of this process: the "tfd:"
 * lines of /proc/self/fdinfo of every eventpoll descriptor. */
static int epoll_registered(void)
{
	char path[PATH_MAX], target[64], line[256];
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int total = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		FILE *f;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[eventpoll]") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "tfd:", 4) == 0)
				total++;
		fclose(f);
	}
	closedir(d);
	return total;
}

/* Sends GET /hello on fd and waits for the start of its answer. */
static void raw_hello(int fd)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	char got[16];

	raw_send(fd, req, sizeof(req) - 1);
	assert_int_equal(recv(fd, got, 12, MSG_WAITALL), 12);
	got[12] = '\0';
	assert_string_equal(got, "HTTP/1.1 200");
}

/* The loop waits with epoll: every connection it holds is in its epoll
 * set, so a wake-up costs what has news, not a look at all of them
 * (lws's poll() loop had no epoll set at all). */
static void test_http_server__epoll(void **state)
{
	enum { N = 64 };
	int fds[N], i, n;

	(void)state;
	for (i = 0; i < N; i++) {
		fds[i] = raw_connect();
		raw_hello(fds[i]);
	}
	n = epoll_registered();
	if (n < N)
		fail_msg("%d descriptors in epoll sets with %d connections "
			 "open", n, N);
	assert_string_equal(http_server_loop_name(srv), "epoll");
	for (i = 0; i < N; i++)
		close(fds[i]);
}

static void *poll_loop_main(void *arg)
{
	http_server_run(arg);
	return NULL;
}

static void poll_timer_hit(void *arg)
{
	sync_value_add(arg, 1);
}

/* lws's own poll() loop (the fallback when its libuv plugin is missing)
 * still serves, runs timers and stops. */
static void test_http_server__poll_loop(void **state)
{
	static struct sync_value fired = SYNC_VALUE_INIT;
	struct http_server_config cfg = {
		.name = "poll", .host = "127.0.0.1", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.port = free_port(), .poll_loop = true,
	};
	struct http_server *s;
	pthread_t t;
	char err[256];
	int keep = port, fd;

	(void)state;
	sync_value_set(&fired, 0);
	if (http_server_new(&cfg, &s, err, sizeof(err)))
		fail_msg("server: %s", err);
	assert_string_equal(http_server_loop_name(s), "poll");
	assert_int_equal(pthread_create(&t, NULL, poll_loop_main, s), 0);
	port = cfg.port;	/* raw_connect's */
	fd = raw_connect();
	port = keep;
	raw_hello(fd);
	close(fd);
	assert_int_equal(http_server_after(s, 10, poll_timer_hit, &fired), 0);
	assert_int_equal(sync_value_wait(&fired, 1, 5000), 1);
	http_server_stop(s);
	assert_int_equal(pthread_join(t, NULL), 0);
	http_server_free(s);
}

/* A port already taken fails the server with its cause, and leaves
 * nothing behind (on epoll lws returns a context it has begun to
 * destroy).  Not on lws's poll() loop: lws 4.1 itself leaks 72 bytes
 * there when its vhost fails. */
static void test_http_server__port_taken(void **state)
{
	struct http_server_config cfg = {
		.name = "taken", .host = "127.0.0.1", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]), .port = port,
	};
	struct http_server *s = NULL;
	char err[256] = "";

	(void)state;
	assert_int_not_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
	assert_null(s);
	assert_non_null(strstr(err, "cannot listen on"));
}

static int open_fds(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* In a child process (its own descriptors, the limit raised again):
 * n clients to port send GET /hello; what became of them within 10 s
 * (a loaded sanitizer build's margin; it ends when all are settled)
 * goes to out as "served closed hung". */
static void fd_clients(int port_to, int n, const struct rlimit *lim,
		       int out)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	int served = 0, closed = 0, left, i;
	int64_t end;
	char line[64], got[16];

	setrlimit(RLIMIT_NOFILE, lim);
	a.sin_port = htons((uint16_t)port_to);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; p && i < n; i++) {
		p[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		p[i].events = POLLIN;
		if (p[i].fd < 0 ||
		    connect(p[i].fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    send(p[i].fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0)
			_exit(2);
	}
	left = n;
	end = wall_ms() + 10000;
	while (p && left > 0 && wall_ms() < end) {
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			ssize_t r;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = recv(p[i].fd, got, sizeof(got), 0);
			if (r > 0 && strncmp(got, "HTTP/1.1 200", 12) == 0)
				served++;
			else
				closed++;
			p[i].fd = -1;
			left--;
		}
	}
	snprintf(line, sizeof(line), "%d %d %d\n", served, closed, left);
	if (write(out, line, strlen(line)) < 0)
		_exit(3);
	_exit(0);
}

/* Descriptors running out: clients past the server's reserve below the
 * limit are closed at once, those before it served, none is left
 * waiting unaccepted (at the limit itself lws's listener spun on
 * EMFILE, the backlog never served); with the clients gone the server
 * serves again. */
static void test_http_server__fd_limit(void **state)
{
	enum { CLIENTS = 100 };
	struct http_server_config cfg = {
		.name = "fdlimit", .host = "127.0.0.1", .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.port = free_port(),
	};
	struct rlimit old, low;
	struct http_server *s;
	pthread_t t;
	pid_t child;
	char err[256], line[64] = "";
	int pipefd[2], served = -1, closed = -1, hung = -1, keep = port, fd;
	ssize_t n;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)open_fds() + 60;	/* ~20 clients' room */
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	if (http_server_new(&cfg, &s, err, sizeof(err))) {
		setrlimit(RLIMIT_NOFILE, &old);
		fail_msg("server: %s", err);
	}
	assert_int_equal(pthread_create(&t, NULL, poll_loop_main, s), 0);
	child = fork();
	if (child == 0)
		fd_clients(cfg.port, CLIENTS, &old, pipefd[1]);
	close(pipefd[1]);
	n = read(pipefd[0], line, sizeof(line) - 1);
	close(pipefd[0]);
	waitpid(child, NULL, 0);
	setrlimit(RLIMIT_NOFILE, &old);
	if (n > 0)
		sscanf(line, "%d %d %d", &served, &closed, &hung);
	if (served <= 0 || closed <= 0 || hung != 0)
		fail_msg("%d clients: %d served, %d closed, %d left waiting",
			 CLIENTS, served, closed, hung);
	port = cfg.port;	/* raw_connect's */
	fd = raw_connect();
	port = keep;
	raw_hello(fd);
	close(fd);
	http_server_stop(s);
	assert_int_equal(pthread_join(t, NULL), 0);
	http_server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_server__json_and_request_id),
		cmocka_unit_test(test_http_server__many_headers),
		cmocka_unit_test(test_http_server__errors),
		cmocka_unit_test(test_http_server__bodies),
		cmocka_unit_test(test_http_server__params_and_query),
		cmocka_unit_test(test_http_server__permissions),
		cmocka_unit_test(test_http_server__session_routes),
		cmocka_unit_test(test_http_server__keepalive_and_204),
		cmocka_unit_test(test_http_server__streaming),
		cmocka_unit_test(test_http_server__client_leaves),
		cmocka_unit_test(test_http_server__concurrent),
		cmocka_unit_test(test_http_server__next_request_before_end),
		cmocka_unit_test(test_http_server__pipelined_after_body),
		cmocka_unit_test(test_http_server__timers),
		cmocka_unit_test(test_http_server__refused_never_runs),
		cmocka_unit_test(test_http_server__refusal_statuses),
		cmocka_unit_test(test_http_server__h2c_ignored),
		cmocka_unit_test(test_http_server__chunked_and_pipelined),
		cmocka_unit_test(test_http_server__head_deadline),
		cmocka_unit_test(test_http_server__slow_reader_cut_off),
		cmocka_unit_test(test_http_server__epoll),
		cmocka_unit_test(test_http_server__poll_loop),
		cmocka_unit_test(test_http_server__port_taken),
		cmocka_unit_test(test_http_server__fd_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
