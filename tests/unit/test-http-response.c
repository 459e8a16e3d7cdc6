/*
 * test-http-response.c - the outbound clients' HTTP/1.1 answer reader
 * (shared/http1-response.c) on its own: a table of answers, each fed
 * whole, cut in two at every split point and byte by byte, which must
 * all end the same (result, status, header lines, body, keep-alive,
 * the bytes that belong to the answer); the ceiling; callbacks that
 * stop; the end of the connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "http1-response.h"

/* What the reader made of an answer. */
struct got {
	int rc;				/* of feed, then close when it ended */
	int status;
	struct buf heads;		/* header lines, '|' after each */
	struct buf body;
	bool keep_alive;
	size_t used;			/* bytes that were the answer's */
	int stop_at_head;		/* on_head returns it */
};

static int on_head(void *arg, int status, const char *const *lines,
		   size_t n)
{
	struct got *g = arg;
	size_t i;

	g->status = status;
	for (i = 0; i < n; i++) {
		assert_int_equal(buf_puts(&g->heads, lines[i]), 0);
		assert_int_equal(buf_puts(&g->heads, "|"), 0);
	}
	return g->stop_at_head;
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct got *g = arg;

	assert_true(len > 0);
	return buf_append(&g->body, data, len);
}

/* Feeds text in the pieces cuts[] says (0-terminated lengths; the rest
 * last), then closes when the answer wants more. */
static void run(const char *text, size_t len, const size_t *cuts,
		bool head_only, size_t max, struct got *g)
{
	struct http1_response r;
	size_t pos = 0, piece, used;
	int rc = 0;

	buf_init(&g->heads, 1 << 20);
	buf_init(&g->body, 1 << 24);
	g->status = 0;
	g->used = 0;
	http1_response_init(&r, head_only, max, on_head, on_data, g);
	while (rc == 0 && pos < len) {
		piece = cuts && *cuts ? *cuts++ : len - pos;
		if (piece > len - pos)
			piece = len - pos;
		rc = http1_response_feed(&r, text + pos, piece, &used);
		assert_true(used <= piece);
		if (rc == 0)
			assert_int_equal(used, piece);
		pos += used;
	}
	if (rc == 1)
		rc = 0;
	else if (rc == 0)
		rc = http1_response_close(&r);
	g->rc = rc;
	g->used = pos;
	g->keep_alive = r.keep_alive && pos == len;
	http1_response_release(&r);
}

static void got_release(struct got *g)
{
	buf_release(&g->heads);
	buf_release(&g->body);
}

struct answer {
	const char *name;
	const char *text;
	size_t len;			/* 0: strlen(text) */
	bool head_only;
	int rc;
	int status;			/* when rc is 0 */
	const char *heads;		/* when rc is 0 */
	const char *body;		/* when rc is 0 */
	bool keep_alive;
	size_t used;			/* 0: all of it */
};

static const struct answer answers[] = {
	{ "length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0,
	  false, 0, 200, "Content-Length: 5|", "hello", true, 0 },
	{ "empty length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
	  false, 0, 200, "Content-Length: 0|", "", true, 0 },
	{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\nT: 1\r\n\r\n", 0, false, 0, 200,
	  "Transfer-Encoding: chunked|", "hello", true, 0 },
	{ "until close", "HTTP/1.0 200 OK\nServer: x\n\nto the end", 0, false,
	  0, 200, "Server: x|", "to the end", false, 0 },
	{ "1xx skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 P\r\nA: b"
	  "\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: "
	  "close\r\n\r\n{}", 0, false, 0, 201,
	  "Content-Length: 2|Connection: close|", "{}", false, 0 },
	{ "101 has no body", "HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n",
	  0, false, 0, 101, "Upgrade: x|", "", true, 0 },
	{ "204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 0, false, 0,
	  204, "", "", true, 0 },
	{ "304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9"
	  "\r\n\r\n", 0, false, 0, 304, "Content-Length: 9|", "", true, 0 },
	{ "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, true,
	  0, 200, "Content-Length: 1000|", "", true, 0 },
	{ "no reason", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", 0, false,
	  0, 200, "Content-Length: 1|", "x", true, 0 },
	{ "value whitespace kept", "HTTP/1.1 200 OK\r\nX-A:  b c \r\n"
	  "Content-Length: 0\r\n\r\n", 0, false, 0, 200,
	  "X-A:  b c |Content-Length: 0|", "", true, 0 },
	{ "same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	  "Content-Length: 1\r\n\r\nx", 0, false, 0, 200,
	  "Content-Length: 1|Content-Length: 1|", "x", true, 0 },
	{ "connection close", "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, "
	  "CLOSE\r\nContent-Length: 0\r\n\r\n", 0, false, 0, 200,
	  "Connection: Keep-Alive, CLOSE|Content-Length: 0|", "", false, 0 },
	{ "other coding until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	  "gzip\r\n\r\nzz", 0, false, 0, 200, "Transfer-Encoding: gzip|", "zz",
	  false, 0 },
	/* bytes after a complete answer are not the answer's */
	{ "bytes after", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
	  0, false, 0, 200, "Content-Length: 2|", "ok", false, 40 },
	{ "bytes after chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	  "chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nHTTP", 0, false, 0, 200,
	  "Transfer-Encoding: chunked|", "x", false, 58 },
	/* malformed: every one refused */
	{ "cut short", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 0,
	  false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "head cut short", "HTTP/1.1 200 OK\r\nContent-Len", 0, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "chunked cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	  "\r\n\r\n5\r\nab", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false,
	  0 },
	{ "nothing", "", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "empty status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "no status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0,
	  NULL, NULL, false, 0 },
	{ "status 600", "HTTP/1.1 600 X\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0,
	  NULL, NULL, false, 0 },
	{ "HTTP/2", "HTTP/2 200 OK\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0, NULL,
	  NULL, false, 0 },
	{ "HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0,
	  NULL, NULL, false, 0 },
	{ "status digits run on", "HTTP/1.1 2000 OK\r\n\r\n", 0, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0"
	  "\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n"
	  "\r\nx", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "empty name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", 0, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n0\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "lengths disagree", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	  "Content-Length: 2\r\n\r\nxy", 0, false, CHAT_EUPSTREAM, 0, NULL,
	  NULL, false, 0 },
	{ "signed length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", 0,
	  false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx",
	  0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 0,
	  false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "NUL in a header", "HTTP/1.1 200 OK\r\nContent-\0\0: 1\r\n\r\nx", 35,
	  false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "NUL in the status line", "HTTP/1.1 200 O\0K\r\n\r\n", 20, false,
	  CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "bare CR in a header", "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n"
	  "Content-Length: 1\r\n\r\nx", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL,
	  false, 0 },
	{ "CR CR LF", "HTTP/1.1 200 OK\r\r\n\r\n", 0, false, CHAT_EUPSTREAM,
	  0, NULL, NULL, false, 0 },
	{ "control byte in a value", "HTTP/1.1 200 OK\r\nX-A: b\x01\r\n\r\n",
	  0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "\r\nzz\r\n", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false, 0 },
	{ "signed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	  "\r\n\r\n-1\r\n", 0, false, CHAT_EUPSTREAM, 0, NULL, NULL, false,
	  0 },
	{ "chunk size of 17 digits", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	  "chunked\r\n\r\n00000000000000001\r\n", 0, false, CHAT_EUPSTREAM,
	  0, NULL, NULL, false, 0 },
	{ "bare LF after a chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding:"
	  " chunked\r\n\r\n1\nx\r\n0\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0,
	  NULL, NULL, false, 0 },
	{ "chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	  "chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n", 0, false, CHAT_EUPSTREAM, 0,
	  NULL, NULL, false, 0 },
	/* past the 8 MiB default before a byte of it came */
	{ "length past the ceiling", "HTTP/1.1 200 OK\r\nContent-Length: "
	  "9000000\r\n\r\n", 0, false, CHAT_ETOOBIG, 0, NULL, NULL, false, 0 },
	{ "length past uint64_t", "HTTP/1.1 200 OK\r\nContent-Length: "
	  "18446744073709551616\r\n\r\nfour", 0, false, CHAT_ETOOBIG, 0, NULL,
	  NULL, false, 0 },
	{ "chunk past the ceiling", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	  "chunked\r\n\r\n900000\r\n", 0, false, CHAT_ETOOBIG, 0, NULL, NULL,
	  false, 0 },
};

#define NANSWERS (sizeof(answers) / sizeof(answers[0]))

static void check(const struct answer *a, size_t len, const struct got *g,
		  const char *how, size_t at)
{
	if (g->rc != a->rc)
		fail_msg("'%s' %s %zu: %d, want %d", a->name, how, at, g->rc,
			 a->rc);
	if (g->rc != 0)
		return;
	if (g->status != a->status)
		fail_msg("'%s' %s %zu: status %d", a->name, how, at,
			 g->status);
	assert_string_equal(g->heads.data ? g->heads.data : "", a->heads);
	assert_int_equal(g->body.len, strlen(a->body));
	assert_memory_equal(g->body.data ? g->body.data : "", a->body,
			    g->body.len);
	if (g->keep_alive != a->keep_alive)
		fail_msg("'%s' %s %zu: keep-alive %d", a->name, how, at,
			 g->keep_alive);
	assert_int_equal(g->used, a->used ? a->used : len);
}

/* Every answer whole, in two pieces cut at every point, byte by byte. */
static void test_http_response__every_split(void **state)
{
	size_t i, at, len, cuts[2], ones[2048];
	struct got g = { 0 };

	(void)state;
	for (i = 0; i < sizeof(ones) / sizeof(ones[0]); i++)
		ones[i] = 1;
	for (i = 0; i < NANSWERS; i++) {
		const struct answer *a = &answers[i];

		len = a->len ? a->len : strlen(a->text);
		assert_true(len < sizeof(ones) / sizeof(ones[0]));
		run(a->text, len, NULL, a->head_only, 0, &g);
		check(a, len, &g, "whole", len);
		got_release(&g);
		for (at = 1; at < len; at++) {
			cuts[0] = at;
			cuts[1] = 0;
			run(a->text, len, cuts, a->head_only, 0, &g);
			check(a, len, &g, "cut at", at);
			got_release(&g);
		}
		ones[len] = 0;
		run(a->text, len, ones, a->head_only, 0, &g);
		check(a, len, &g, "byte by byte", 1);
		got_release(&g);
		ones[len] = 1;
	}
}

/* The ceiling counts the head and the body, whatever the framing. */
static void test_http_response__ceiling(void **state)
{
	static const char len10[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
	static const char chunked10[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
	static const char close10[] = "HTTP/1.1 200 OK\r\n\r\n0123456789";
	static const char *const cases[] = { len10, chunked10, close10 };
	struct got g = { 0 };
	size_t i, head;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* chunk framing is not counted, only head and data */
		head = (size_t)(strstr(cases[i], "\r\n\r\n") - cases[i]) + 4;
		run(cases[i], strlen(cases[i]), NULL, false, head + 10, &g);
		assert_int_equal(g.rc, 0);
		assert_int_equal(g.body.len, 10);
		got_release(&g);
		run(cases[i], strlen(cases[i]), NULL, false, head + 9, &g);
		assert_int_equal(g.rc, CHAT_ETOOBIG);
		assert_true(g.body.len <= 9);
		got_release(&g);
	}
	/* a head alone past the ceiling */
	run(close10, strlen(close10), NULL, false, 5, &g);
	assert_int_equal(g.rc, CHAT_ETOOBIG);
	got_release(&g);
}

/* A head past 64 KiB, or with more than 100 lines, is too big. */
static void test_http_response__head_limits(void **state)
{
	struct buf b;
	struct got g = { 0 };
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, "HTTP/1.1 200 OK\r\n"), 0);
	for (i = 0; i < HTTP1_RESPONSE_LINES; i++)
		assert_int_equal(buf_printf(&b, "X-%zu: y\r\n", i), 0);
	assert_int_equal(buf_puts(&b, "\r\n"), 0);
	run(b.data, b.len, NULL, false, 0, &g);
	assert_int_equal(g.rc, 0);		/* no body: until close */
	assert_int_equal(g.status, 200);
	got_release(&g);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "HTTP/1.1 200 OK\r\n"), 0);
	for (i = 0; i <= HTTP1_RESPONSE_LINES; i++)
		assert_int_equal(buf_printf(&b, "X-%zu: y\r\n", i), 0);
	assert_int_equal(buf_puts(&b, "Content-Length: 0\r\n\r\n"), 0);
	run(b.data, b.len, NULL, false, 0, &g);
	assert_int_equal(g.rc, CHAT_ETOOBIG);
	got_release(&g);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "HTTP/1.1 200 OK\r\nX-Big: "), 0);
	for (i = 0; i < HTTP1_RESPONSE_HEAD_MAX; i++)
		assert_int_equal(buf_append(&b, "a", 1), 0);
	assert_int_equal(buf_puts(&b, "\r\n\r\n"), 0);
	run(b.data, b.len, NULL, false, 0, &g);
	assert_int_equal(g.rc, CHAT_ETOOBIG);
	got_release(&g);
	buf_release(&b);
}

/* A callback's nonzero return ends the answer with that value; the
 * reader refuses every byte after an error. */
static void test_http_response__callbacks_stop(void **state)
{
	static const char text[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct http1_response r;
	struct got g = { 0 };

	(void)state;
	g.stop_at_head = CHAT_ECANCELED;
	run(text, strlen(text), NULL, false, 0, &g);
	assert_int_equal(g.rc, CHAT_ECANCELED);
	assert_int_equal(g.body.len, 0);
	got_release(&g);
	/* on_data's error: the body buffer's ceiling */
	g.stop_at_head = 0;
	http1_response_init(&r, false, 0, on_head, on_data, &g);
	buf_init(&g.heads, 1 << 10);
	buf_init(&g.body, 1);
	assert_int_equal(http1_response_feed(&r, text, strlen(text), NULL),
			 CHAT_ETOOBIG);
	assert_int_equal(http1_response_feed(&r, "x", 1, NULL),
			 CHAT_EUPSTREAM);
	assert_int_equal(http1_response_close(&r), CHAT_EUPSTREAM);
	assert_false(r.keep_alive);
	http1_response_release(&r);
	got_release(&g);
}

/* seen tells a connection that closed before any answer byte (a stale
 * keep-alive one, worth a retry) from one that closed mid-answer. */
static void test_http_response__seen(void **state)
{
	struct http1_response r;

	(void)state;
	http1_response_init(&r, false, 0, NULL, NULL, NULL);
	assert_int_equal(r.seen, 0);
	assert_int_equal(http1_response_feed(&r, "HTTP/1.1", 8, NULL), 0);
	assert_int_equal(r.seen, 8);
	assert_int_equal(http1_response_close(&r), CHAT_EUPSTREAM);
	http1_response_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_response__every_split),
		cmocka_unit_test(test_http_response__ceiling),
		cmocka_unit_test(test_http_response__head_limits),
		cmocka_unit_test(test_http_response__callbacks_stop),
		cmocka_unit_test(test_http_response__seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
