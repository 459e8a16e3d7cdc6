/*
 * test-http1.c - the strict HTTP/1.1 request-head parser and the chunked
 * body decoder (shared/http1.c), against the contract in http1.h.
 *
 * Every head, valid or not, is also parsed in pieces (every split point,
 * byte by byte) and must give what it gives whole; every piece is a copy
 * of exactly its own length, so that a sanitizer build sees any read
 * past the bytes a call was given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

/* ------------------------------------------------------------------ */
/* helpers: heads */

/* s[0..n) in a block of exactly n bytes. */
static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	if (n)
		memcpy(p, s, n);
	return p;
}

/* A parse's outcome with the request's pointers as offsets, so that
 * parses of different copies of the same bytes compare. */
struct flat {
	long rc;
	const char *why;
	size_t method, method_len, target, target_len;
	int minor;
	size_t nfields;
	size_t name[HTTP1_MAX_FIELDS], name_len[HTTP1_MAX_FIELDS];
	size_t value[HTTP1_MAX_FIELDS], value_len[HTTP1_MAX_FIELDS];
	int64_t content_length;
	bool chunked, keep_alive, expect_continue, websocket;
};

/* Offset of p in base[0..len), which it must point into. */
static size_t off_in(const char *base, size_t len, const char *p, size_t n)
{
	assert_non_null(p);
	assert_true(p >= base && p + n <= base + len);
	return (size_t)(p - base);
}

static void flatten(struct flat *f, long rc, const char *why,
		    const struct http1_request *req, const char *base)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->rc = rc;
	f->why = why;
	if (rc <= 0) {
		/* a refusal says why, an incomplete head does not */
		if (rc < 0)
			assert_true(why != NULL && why[0] != '\0');
		else
			assert_null(why);
		return;
	}
	assert_null(why);
	f->method = off_in(base, (size_t)rc, req->method, req->method_len);
	f->method_len = req->method_len;
	f->target = off_in(base, (size_t)rc, req->target, req->target_len);
	f->target_len = req->target_len;
	assert_true(req->method_len > 0 && req->target_len > 0);
	f->minor = req->minor;
	f->nfields = req->nfields;
	assert_true(req->nfields <= HTTP1_MAX_FIELDS);
	for (i = 0; i < req->nfields; i++) {
		const struct http1_field *fl = &req->fields[i];

		f->name[i] = off_in(base, (size_t)rc, fl->name, fl->name_len);
		f->name_len[i] = fl->name_len;
		if (fl->value_len)
			f->value[i] = off_in(base, (size_t)rc, fl->value,
					     fl->value_len);
		f->value_len[i] = fl->value_len;
	}
	f->content_length = req->content_length;
	f->chunked = req->chunked;
	f->keep_alive = req->keep_alive;
	f->expect_continue = req->expect_continue;
	f->websocket = req->websocket;
	assert_true(f->content_length >= -1);
	assert_false(f->chunked && f->content_length >= 0);
}

static void assert_same(const struct flat *a, const struct flat *b,
			const char *how)
{
	size_t i;

	if (a->rc != b->rc)
		fail_msg("%s: rc %ld (%s), whole %ld (%s)", how, a->rc,
			 a->why ? a->why : "-", b->rc, b->why ? b->why : "-");
	if (a->why || b->why) {
		assert_non_null(a->why);
		assert_non_null(b->why);
		assert_string_equal(a->why, b->why);
	}
	assert_int_equal(a->method, b->method);
	assert_int_equal(a->method_len, b->method_len);
	assert_int_equal(a->target, b->target);
	assert_int_equal(a->target_len, b->target_len);
	assert_int_equal(a->minor, b->minor);
	assert_int_equal(a->nfields, b->nfields);
	for (i = 0; i < a->nfields; i++) {
		assert_int_equal(a->name[i], b->name[i]);
		assert_int_equal(a->name_len[i], b->name_len[i]);
		assert_int_equal(a->value[i], b->value[i]);
		assert_int_equal(a->value_len[i], b->value_len[i]);
	}
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->chunked, b->chunked);
	assert_int_equal(a->keep_alive, b->keep_alive);
	assert_int_equal(a->expect_continue, b->expect_continue);
	assert_int_equal(a->websocket, b->websocket);
}

/* s[0..n) in one call. */
static void parse_whole(const char *s, size_t n, struct flat *out)
{
	struct http1_request req;
	struct http1_scan scan;
	const char *why = "not set";
	char *buf = dup_exact(s, n);
	long rc;

	memset(&scan, 0, sizeof(scan));
	rc = http1_parse_request(buf, n, &scan, &req, &why);
	assert_true(rc <= (long)n);
	flatten(out, rc, why, &req, buf);
	free(buf);
}

/* s[0..n) in calls on the prefixes cuts[0..ncuts) (ascending, each a
 * fresh copy of its length) and then on all n bytes, with one scan, up
 * to the first call that does not ask for more. */
static void parse_cuts(const char *s, size_t n, const size_t *cuts,
		       size_t ncuts, struct flat *out)
{
	struct http1_request req;
	struct http1_scan scan;
	const char *why;
	size_t k, len;
	long rc = 0;
	char *buf;

	memset(&scan, 0, sizeof(scan));
	for (k = 0; k <= ncuts; k++) {
		len = k < ncuts ? cuts[k] : n;
		buf = dup_exact(s, len);
		why = "not set";
		rc = http1_parse_request(buf, len, &scan, &req, &why);
		assert_true(rc <= (long)len);
		flatten(out, rc, why, &req, buf);
		free(buf);
		if (rc != 0)
			return;
	}
}

/* Byte by byte on one copy of s (one call per length 1..n). */
static void parse_bytes(const char *s, size_t n, struct flat *out)
{
	struct http1_request req;
	struct http1_scan scan;
	const char *why;
	char *buf = dup_exact(s, n);
	size_t len;
	long rc = 0;

	memset(&scan, 0, sizeof(scan));
	memset(out, 0, sizeof(*out));
	for (len = 1; len <= n; len++) {
		why = "not set";
		rc = http1_parse_request(buf, len, &scan, &req, &why);
		flatten(out, rc, why, &req, buf);
		if (rc != 0)
			break;
	}
	free(buf);
}

/*
 * Every way of feeding s[0..n) gives what one call gives: each prefix
 * on its own is incomplete or already the final answer (and stays so
 * once it is), a prefix and then the rest, two prefixes and the rest
 * (for short heads), and byte by byte.  step > 1 thins the split points
 * of long inputs (all of the first and last 64 are kept).
 */
static void check_splits_step(const char *s, size_t n, size_t step)
{
	struct flat whole, got;
	size_t k, a, cuts[2];
	bool answered = false;
	char how[64];

	parse_whole(s, n, &whole);
	for (k = 0; k <= n; k++) {
		if (k % step && k > 64 && k + 64 < n)
			continue;
		/* the prefix on its own */
		parse_whole(s, k, &got);
		if (got.rc != 0) {
			snprintf(how, sizeof(how), "prefix %zu of %zu", k, n);
			assert_same(&got, &whole, how);
			answered = true;
		} else if (answered) {
			fail_msg("prefix %zu of %zu incomplete after an "
				 "answer", k, n);
		}
		/* then the whole with the same scan */
		cuts[0] = k;
		parse_cuts(s, n, cuts, 1, &got);
		snprintf(how, sizeof(how), "split at %zu of %zu", k, n);
		assert_same(&got, &whole, how);
	}
	if (n <= 160) {
		for (a = 0; a <= n; a++) {
			for (k = a; k <= n; k++) {
				cuts[0] = a;
				cuts[1] = k;
				parse_cuts(s, n, cuts, 2, &got);
				snprintf(how, sizeof(how),
					 "split at %zu and %zu of %zu", a, k,
					 n);
				assert_same(&got, &whole, how);
			}
		}
	}
	parse_bytes(s, n, &got);
	assert_same(&got, &whole, "byte by byte");
}

static void check_splits(const char *s, size_t n)
{
	check_splits_step(s, n, 1);
}

/* A valid head of head_len bytes at the start of s[0..n): parsed whole
 * into req (whose pointers point into s), and in pieces to the same. */
static void parse_ok(const char *s, size_t n, size_t head_len,
		     struct http1_request *req)
{
	struct http1_scan scan;
	const char *why = "not set";
	long rc;

	memset(&scan, 0, sizeof(scan));
	rc = http1_parse_request(s, n, &scan, req, &why);
	if (rc != (long)head_len)
		fail_msg("'%.*s': rc %ld (%s), want %zu", (int)n, s, rc,
			 why ? why : "-", head_len);
	assert_null(why);
	check_splits(s, n);
}

#define HEAD_OK(lit, req) parse_ok(lit, sizeof(lit) - 1, sizeof(lit) - 1, req)

/* s[0..n) is refused with status, whole and in every piece. */
static void refused_n(const char *s, size_t n, long status, size_t step)
{
	struct flat whole;

	parse_whole(s, n, &whole);
	if (whole.rc != -status)
		fail_msg("'%.*s': rc %ld (%s), want %ld",
			 n > 200 ? 200 : (int)n, s, whole.rc,
			 whole.why ? whole.why : "-", -status);
	check_splits_step(s, n, step);
}

#define REFUSED(lit, status) refused_n(lit, sizeof(lit) - 1, status, 1)

/* Field name of req has exactly the value want. */
static void assert_field(const struct http1_request *req, const char *name,
			 const char *want)
{
	const struct http1_field *f = http1_field(req, name);

	if (!f)
		fail_msg("no field '%s'", name);
	if (f->value_len != strlen(want) ||
	    memcmp(f->value, want, f->value_len) != 0)
		fail_msg("field '%s' is '%.*s', want '%s'", name,
			 (int)f->value_len, f->value, want);
}

static void assert_span(const char *p, size_t n, const char *want)
{
	if (n != strlen(want) || memcmp(p, want, n) != 0)
		fail_msg("'%.*s', want '%s'", (int)n, p, want);
}

/* A growable string for the long heads. */
struct str {
	char *p;
	size_t n, cap;
};

static void str_add(struct str *s, const char *t, size_t n)
{
	if (s->n + n + 1 > s->cap) {
		s->cap = (s->n + n + 1) * 2;
		s->p = realloc(s->p, s->cap);
		assert_non_null(s->p);
	}
	memcpy(s->p + s->n, t, n);
	s->n += n;
	s->p[s->n] = '\0';
}

static void str_puts(struct str *s, const char *t)
{
	str_add(s, t, strlen(t));
}

static void str_fill(struct str *s, char c, size_t n)
{
	while (n--)
		str_add(s, &c, 1);
}

/* ------------------------------------------------------------------ */
/* valid heads */

static void test_http1__simple_get(void **state)
{
	static const char s[] = "GET /index.html?q=1&r=%20 HTTP/1.1\r\n"
				"Host: example.com\r\n"
				"Accept: */*\r\n"
				"\r\n";
	struct http1_request req;

	(void)state;
	HEAD_OK(s, &req);
	assert_span(req.method, req.method_len, "GET");
	assert_span(req.target, req.target_len, "/index.html?q=1&r=%20");
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nfields, 2);
	assert_span(req.fields[0].name, req.fields[0].name_len, "Host");
	assert_span(req.fields[0].value, req.fields[0].value_len,
		    "example.com");
	assert_span(req.fields[1].name, req.fields[1].name_len, "Accept");
	assert_int_equal(req.content_length, -1);
	assert_false(req.chunked);
	assert_true(req.keep_alive);
	assert_false(req.expect_continue);
	assert_false(req.websocket);
}

static void test_http1__every_method(void **state)
{
	static const char *const ok[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
	};
	struct http1_request req;
	struct http1_scan scan;
	const char *why;
	char s[128];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = snprintf(s, sizeof(s), "%s /x HTTP/1.1\r\nHost: a\r\n\r\n",
			     ok[i]);
		memset(&scan, 0, sizeof(scan));
		assert_int_equal(http1_parse_request(s, (size_t)n, &scan, &req,
						     &why), n);
		assert_span(req.method, req.method_len, ok[i]);
	}
}

static void test_http1__post_content_length(void **state)
{
	/* the body's first bytes come in the same read: not the head's */
	static const char s[] = "POST /v1/chat HTTP/1.1\r\n"
				"Host: api\r\n"
				"Content-Type: application/json\r\n"
				"Content-Length: 13\r\n"
				"\r\n"
				"{\"a\":\"hello\"}";
	struct http1_request req;

	(void)state;
	parse_ok(s, sizeof(s) - 1, sizeof(s) - 1 - 13, &req);
	assert_span(req.method, req.method_len, "POST");
	assert_int_equal(req.content_length, 13);
	assert_false(req.chunked);
	assert_true(req.keep_alive);
	assert_field(&req, "content-type", "application/json");
}

static void test_http1__chunked_request(void **state)
{
	static const char s[] = "PUT /f HTTP/1.1\r\nHost: a\r\n"
				"Transfer-Encoding: Chunked\r\n\r\n"
				"5\r\nhello\r\n0\r\n\r\n";
	struct http1_request req;

	(void)state;
	parse_ok(s, sizeof(s) - 1, sizeof(s) - 1 - 15, &req);
	assert_true(req.chunked);
	assert_int_equal(req.content_length, -1);
}

static void test_http1__http10(void **state)
{
	struct http1_request req;

	(void)state;
	/* no Host needed, and no keep-alive unless asked for */
	HEAD_OK("GET / HTTP/1.0\r\n\r\n", &req);
	assert_int_equal(req.minor, 0);
	assert_int_equal(req.nfields, 0);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req);
	assert_true(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req);
	assert_true(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
		&req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nConnection: close\r\n\r\n", &req);
	assert_false(req.keep_alive);
	HEAD_OK("POST /p HTTP/1.0\r\nContent-Length: 0\r\n\r\n", &req);
	assert_int_equal(req.content_length, 0);
}

static void test_http1__connection_close(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		&req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n",
		&req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: te, close\r\n\r\n",
		&req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
		&req);
	assert_true(req.keep_alive);
	/* a token that only starts with close is not close */
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
		&req);
	assert_true(req.keep_alive);
}

/* Connection is a list that may come in several lines (RFC 9110 5.3):
 * a close in any of them closes (RFC 9112 9.6: MUST). */
static void test_http1__connection_in_two_lines(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
		"Connection: close\r\n\r\n", &req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
		"Connection: close\r\n\r\n", &req);
	assert_false(req.keep_alive);
	HEAD_OK("GET / HTTP/1.0\r\nConnection: te\r\n"
		"Connection: keep-alive\r\n\r\n", &req);
	assert_true(req.keep_alive);
}

static void test_http1__leading_empty_lines(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &req);
	assert_span(req.method, req.method_len, "GET");
	HEAD_OK("\r\n\r\n\r\n\r\nGET /four HTTP/1.1\r\nHost: a\r\n\r\n", &req);
	assert_span(req.target, req.target_len, "/four");
	REFUSED("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	/* only empty lines so far: more is needed */
	{
		struct http1_scan scan;
		const char *why;

		memset(&scan, 0, sizeof(scan));
		assert_int_equal(http1_parse_request("\r\n\r\n\r\n\r\n", 8,
						     &scan, &req, &why), 0);
	}
}

static void test_http1__whitespace_trimmed(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("GET / HTTP/1.1\r\n"
		"Host:example.com\r\n"
		"X-A:  \t a b \t \r\n"
		"X-Empty:\r\n"
		"X-Blank: \t \r\n"
		"X-Tab:\tin\tside\t\r\n"
		"\r\n", &req);
	assert_int_equal(req.nfields, 5);
	assert_field(&req, "host", "example.com");
	assert_field(&req, "x-a", "a b");
	assert_field(&req, "x-empty", "");
	assert_field(&req, "x-blank", "");
	assert_field(&req, "x-tab", "in\tside");
}

static void test_http1__obs_text(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\n"
		"X-Name: caf\xc3\xa9 \x80\xff\r\n\r\n", &req);
	assert_field(&req, "X-Name", "caf\xc3\xa9 \x80\xff");
}

static void test_http1__token_chars_in_names(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\n"
		"!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", &req);
	assert_field(&req, "!#$%&'*+-.^_`|~09AZAZ", "v");
}

static void test_http1__content_length(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		"content-length: 5\r\n\r\n", &req);
	assert_int_equal(req.content_length, 5);
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		&req);
	assert_int_equal(req.content_length, 0);
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
		&req);
	assert_int_equal(req.content_length, 7);
	/* 18 digits is the most */
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\n"
		"Content-Length: 999999999999999999\r\n\r\n", &req);
	assert_int_equal(req.content_length, INT64_C(999999999999999999));
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t12 \r\n\r\n",
		&req);
	assert_int_equal(req.content_length, 12);
}

static void test_http1__expect_continue(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		"Expect: 100-continue\r\n\r\n", &req);
	assert_true(req.expect_continue);
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		"Expect: 100-Continue\r\n\r\n", &req);
	assert_true(req.expect_continue);
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
		&req);
	assert_false(req.expect_continue);
	/* RFC 9110 10.1.1: a server MUST ignore it in an HTTP/1.0 request */
	HEAD_OK("POST / HTTP/1.0\r\nContent-Length: 3\r\n"
		"Expect: 100-continue\r\n\r\n", &req);
	assert_false(req.expect_continue);
}

static void test_http1__websocket(void **state)
{
	struct http1_request req;

	(void)state;
	HEAD_OK("GET /v1/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", &req);
	assert_true(req.websocket);
	assert_true(req.keep_alive);
	/* Firefox's form */
	HEAD_OK("GET /v1/ws HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n"
		"Connection: keep-alive, Upgrade\r\n\r\n", &req);
	assert_true(req.websocket);
	/* the list in two lines */
	HEAD_OK("GET /v1/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: keep-alive\r\nConnection: upgrade\r\n\r\n", &req);
	assert_true(req.websocket);
	/* other upgrades are ignored */
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n"
		"Connection: Upgrade, HTTP2-Settings\r\n"
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", &req);
	assert_false(req.websocket);
	assert_true(req.keep_alive);
	/* only on GET */
	HEAD_OK("POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nContent-Length: 0\r\n\r\n", &req);
	assert_false(req.websocket);
	/* both fields needed */
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
		&req);
	assert_false(req.websocket);
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n",
		&req);
	assert_false(req.websocket);
	HEAD_OK("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: keep-alive\r\n\r\n", &req);
	assert_false(req.websocket);
	/* RFC 9110 7.8: Upgrade MUST be ignored in an HTTP/1.0 request */
	HEAD_OK("GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n\r\n", &req);
	assert_false(req.websocket);
}

static void test_http1__field_lookup(void **state)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Dup: one\r\n"
				"x-dup: two\r\nX-Dupe: three\r\n\r\n";
	struct http1_request req;

	(void)state;
	HEAD_OK(s, &req);
	assert_field(&req, "Host", "h");
	assert_field(&req, "HOST", "h");
	assert_field(&req, "hOsT", "h");
	/* the first of two */
	assert_field(&req, "X-DUP", "one");
	assert_field(&req, "x-dupe", "three");
	/* whole names only */
	assert_null(http1_field(&req, "Hos"));
	assert_null(http1_field(&req, "Hosts"));
	assert_null(http1_field(&req, "X-Du"));
	assert_null(http1_field(&req, ""));
	assert_null(http1_field(&req, "Content-Length"));
	assert_true(http1_field(&req, "host") == &req.fields[0]);
}

static void test_http1__list_has(void **state)
{
	(void)state;
	assert_true(http1_list_has("close", 5, "close"));
	assert_true(http1_list_has("Close", 5, "close"));
	assert_true(http1_list_has("close", 5, "CLOSE"));
	assert_true(http1_list_has("keep-alive, Upgrade", 19, "upgrade"));
	assert_true(http1_list_has("keep-alive, Upgrade", 19, "keep-alive"));
	assert_true(http1_list_has("a ,b, c", 7, "b"));
	assert_true(http1_list_has("a ,b, c", 7, "c"));
	assert_true(http1_list_has("\t close \t", 9, "close"));
	assert_true(http1_list_has(",,close,,", 9, "close"));
	assert_false(http1_list_has("", 0, "close"));
	assert_false(http1_list_has(" , ,\t,", 6, "close"));
	assert_false(http1_list_has("closed", 6, "close"));
	assert_false(http1_list_has("xclose", 6, "close"));
	assert_false(http1_list_has("clo se", 6, "close"));
	assert_false(http1_list_has("keep-alive", 10, "alive"));
	/* only len bytes are read */
	assert_false(http1_list_has("close", 4, "close"));
	assert_true(http1_list_has("a, close, b", 8, "close"));
	assert_false(http1_list_has("a, close", 7, "close"));
}

/* A sample of valid heads, cut every way (parse_ok does it as well for
 * every head above; these are longer and mix everything). */
static void test_http1__valid_heads_split(void **state)
{
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\r\nPOST /v1/chat?x=y HTTP/1.1\r\nHost: api.example\r\n"
		"Content-Length: 4\r\nExpect: 100-continue\r\n"
		"X-Obs: \xe2\x82\xac\t \r\n\r\nbody",
		"GET /v1/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
		"Connection: keep-alive, Upgrade\r\n\r\n",
		"PATCH /c/1 HTTP/1.1\r\nhost:x\r\ntransfer-encoding:chunked"
		"\r\n\r\n0\r\n\r\n",
		"DELETE /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / ",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		check_splits(heads[i], strlen(heads[i]));
}

/* ------------------------------------------------------------------ */
/* refused heads */

static void test_http1__bare_lf(void **state)
{
	(void)state;
	REFUSED("\n", 400);
	REFUSED("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: b\nY: c\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
	REFUSED("GET / HTTP/1.1\n\n", 400);
	REFUSED("GET / HTTP/1.1\r\n\n", 400);
}

static void test_http1__bare_cr(void **state)
{
	(void)state;
	REFUSED("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
	REFUSED("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400);
	REFUSED("\r\n\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_http1__whitespace_before_colon(void **state)
{
	(void)state;
	REFUSED("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
	REFUSED("POST / HTTP/1.1\r\nHost: x\r\n"
		"Transfer-Encoding : chunked\r\n\r\n", 400);
	REFUSED("POST / HTTP/1.1\r\nHost: x\r\n"
		"Content-Length : 5\r\n\r\n", 400);
}

static void test_http1__obs_fold(void **state)
{
	(void)state;
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n", 400);
}

static void test_http1__ctl_in_value(void **state)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: a";
	static const char tail[] = "b\r\n\r\n";
	char s[128];
	unsigned c;

	(void)state;
	for (c = 0; c < 0x80; c++) {
		size_t n = 0;

		if (c == '\r' || c == '\n')
			continue;
		memcpy(s, head, sizeof(head) - 1);
		n = sizeof(head) - 1;
		s[n++] = (char)c;
		memcpy(s + n, tail, sizeof(tail) - 1);
		n += sizeof(tail) - 1;
		if (c == '\t' || c >= 0x20) {
			if (c != 0x7f) {
				struct flat f;

				parse_whole(s, n, &f);
				assert_int_equal(f.rc, (long)n);
				continue;
			}
		}
		refused_n(s, n, 400, 1);
	}
	/* at the start and end of a value too (not trimmed as space) */
	REFUSED("GET / HTTP/1.1\r\nHost: \0a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\x0b\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\x1f b\r\n\r\n", 400);
}

static void test_http1__bad_names(void **state)
{
	static const char bad[] = "@()<>,;\\\"/[]?={}\x01\x7f\x80\xff";
	char s[128];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(bad) - 1; i++) {
		n = snprintf(s, sizeof(s),
			     "GET / HTTP/1.1\r\nHost: a\r\nX%cY: v\r\n\r\n",
			     bad[i]);
		refused_n(s, (size_t)n, 400, 1);
		n = snprintf(s, sizeof(s),
			     "GET / HTTP/1.1\r\nHost: a\r\n%cXY: v\r\n\r\n",
			     bad[i]);
		refused_n(s, (size_t)n, 400, 1);
	}
	REFUSED("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\n: x\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n:\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nCaf\xc3\xa9: x\r\n\r\n", 400);
}

static void test_http1__bad_content_length(void **state)
{
	static const char *const bad[] = {
		"abc", "+2", "-1", "0x2", "", " ", "2 2", "1,1", "1, 1",
		"1.0", "1e3", "\xd9\xa1", "1234567890123456789",
		"9999999999999999999999",
	};
	char s[256];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(s, sizeof(s), "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length: %s\r\n\r\n", bad[i]);
		refused_n(s, (size_t)n, 400, 1);
	}
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400);
	/* two that differ */
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		"Content-Length: 2\r\n\r\n", 400);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
		"Content-Length: 00\r\nContent-Length: 1\r\n\r\n", 400);
	/* a good one and a bad one */
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		"Content-Length: x\r\n\r\n", 400);
}

static void test_http1__transfer_encoding(void **state)
{
	(void)state;
	/* CL and TE, either order */
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		"Transfer-Encoding: chunked\r\n\r\n", 400);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 5\r\n\r\n", 400);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
		"Content-Length: 5\r\n\r\n", 400);
	/* TE in HTTP/1.0 */
	REFUSED("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	/* codings other than chunked alone */
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
		501);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\n"
		"Transfer-Encoding: chunked, gzip\r\n\r\n", 501);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\n"
		"Transfer-Encoding: gzip, chunked\r\n\r\n", 501);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"Transfer-Encoding: chunked\r\n\r\n", 501);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
		"Transfer-Encoding: chunked\r\n\r\n", 501);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
		501);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\n"
		"Transfer-Encoding: chunkedx\r\n\r\n", 501);
}

static void test_http1__host(void **state)
{
	(void)state;
	REFUSED("GET / HTTP/1.1\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

static void test_http1__methods(void **state)
{
	(void)state;
	REFUSED("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	REFUSED("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	REFUSED("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	REFUSED("BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	REFUSED("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	REFUSED("GETS / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	REFUSED("GE / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
}

static void test_http1__request_line(void **state)
{
	(void)state;
	REFUSED("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET /\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / \r\nHost: a\r\n\r\n", 400);
	REFUSED("GET\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
	REFUSED(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / XTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400);
	REFUSED("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	REFUSED("GET / HTTP/1.1\r\n", 0);	/* incomplete, not refused */
}

static void test_http1__versions(void **state)
{
	(void)state;
	REFUSED("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	REFUSED("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
	REFUSED("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
	REFUSED("GET / HTTP/3.0\r\n\r\n", 505);
}

static void test_http1__target_form(void **state)
{
	(void)state;
	REFUSED("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("GET ?a=b HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

static void test_http1__expectation(void **state)
{
	(void)state;
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-x\r\n"
		"Content-Length: 1\r\n\r\n", 417);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", 417);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n", 417);
	REFUSED("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
		"Expect: 200-ok\r\n\r\n", 417);
}

/* A request line of n bytes: "GET /aaa...a HTTP/1.1". */
static void request_line(struct str *s, size_t n)
{
	size_t at = s->n;

	str_puts(s, "GET /");
	str_fill(s, 'a', n - strlen("GET / HTTP/1.1"));
	str_puts(s, " HTTP/1.1");
	assert_int_equal(s->n - at, n);
}

static void test_http1__line_too_long(void **state)
{
	struct str s = { 0 };
	struct flat f;

	(void)state;
	/* the longest line */
	request_line(&s, HTTP1_MAX_LINE);
	str_puts(&s, "\r\nHost: a\r\n\r\n");
	parse_whole(s.p, s.n, &f);
	assert_int_equal(f.rc, (long)s.n);
	assert_int_equal(f.target_len, HTTP1_MAX_LINE - 13);
	check_splits_step(s.p, s.n, 31);
	s.n = 0;
	/* one more */
	request_line(&s, HTTP1_MAX_LINE + 1);
	str_puts(&s, "\r\nHost: a\r\n\r\n");
	refused_n(s.p, s.n, 414, 31);
	/* after four empty lines: the line is measured, not the head */
	s.n = 0;
	str_puts(&s, "\r\n\r\n\r\n\r\n");
	request_line(&s, HTTP1_MAX_LINE);
	str_puts(&s, "\r\nHost: a\r\n\r\n");
	parse_whole(s.p, s.n, &f);
	assert_int_equal(f.rc, (long)s.n);
	/* 9 KiB without a line end: refused at once, not waited on */
	s.n = 0;
	str_fill(&s, 'G', 9 * 1024);
	parse_whole(s.p, s.n, &f);
	assert_int_equal(f.rc, -414);
	refused_n(s.p, s.n, 414, 31);
	/* and as soon as the line cannot end in time */
	s.n = 0;
	str_puts(&s, "GET /");
	str_fill(&s, 'a', HTTP1_MAX_LINE);
	parse_whole(s.p, HTTP1_MAX_LINE + 1, &f);
	assert_int_equal(f.rc, 0);
	parse_whole(s.p, HTTP1_MAX_LINE + 2, &f);
	assert_int_equal(f.rc, -414);
	/* an error inside a line already too long: 414 however it is cut */
	s.n = 0;
	request_line(&s, 9000);
	s.p[8500] = '\n';
	str_puts(&s, "\r\nHost: a\r\n\r\n");
	refused_n(s.p, s.n, 414, 31);
	free(s.p);
}

/* The field lines of a head with a short request line, fields_len bytes
 * in all with their CRLFs, in lines of at most 200 bytes. */
static void long_fields(struct str *s, size_t fields_len, bool end)
{
	size_t left = fields_len, line;
	char name[16];
	int i = 0;

	str_puts(s, "GET / HTTP/1.1\r\nHost: a\r\n");
	left -= strlen("Host: a\r\n");
	while (left) {
		line = left > 200 ? 200 : left;
		if (left - line > 0 && left - line < 12)
			line -= 12;	/* leave room for a last line */
		snprintf(name, sizeof(name), "X-%04d: ", i++);
		str_puts(s, name);
		str_fill(s, 'v', line - strlen(name) - 2);
		str_puts(s, "\r\n");
		left -= line;
	}
	if (end)
		str_puts(s, "\r\n");
}

static void test_http1__fields_too_large(void **state)
{
	struct str s = { 0 };
	struct flat f;

	(void)state;
	/* the most */
	long_fields(&s, HTTP1_MAX_FIELDS_LEN, true);
	parse_whole(s.p, s.n, &f);
	assert_int_equal(f.rc, (long)s.n);
	assert_int_equal(s.n, strlen("GET / HTTP/1.1\r\n") +
				   HTTP1_MAX_FIELDS_LEN + 2);
	check_splits_step(s.p, s.n, 97);
	/* one byte more, whole or in pieces */
	s.n = 0;
	long_fields(&s, HTTP1_MAX_FIELDS_LEN + 1, true);
	refused_n(s.p, s.n, 431, 97);
	s.n = 0;
	long_fields(&s, 3 * HTTP1_MAX_FIELDS_LEN, true);
	refused_n(s.p, s.n, 431, 97);
	/* refused before the head is complete */
	s.n = 0;
	long_fields(&s, 17 * 1024, false);
	parse_whole(s.p, s.n, &f);
	assert_int_equal(f.rc, -431);
	/* one long field */
	s.n = 0;
	str_puts(&s, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	str_fill(&s, 'v', HTTP1_MAX_FIELDS_LEN);
	parse_whole(s.p, s.n, &f);
	assert_int_equal(f.rc, -431);
	str_puts(&s, "\r\n\r\n");
	refused_n(s.p, s.n, 431, 97);
	free(s.p);
}

static void test_http1__too_many_fields(void **state)
{
	struct str s = { 0 };
	struct http1_request req;
	struct http1_scan scan;
	const char *why;
	char line[32];
	int i;

	(void)state;
	str_puts(&s, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < HTTP1_MAX_FIELDS; i++) {
		snprintf(line, sizeof(line), "X-%d: %d\r\n", i, i);
		str_puts(&s, line);
	}
	str_puts(&s, "\r\n");
	memset(&scan, 0, sizeof(scan));
	assert_int_equal(http1_parse_request(s.p, s.n, &scan, &req, &why),
			 (long)s.n);
	assert_int_equal(req.nfields, HTTP1_MAX_FIELDS);
	assert_field(&req, "x-99", "99");
	check_splits_step(s.p, s.n, 7);
	/* one more */
	s.n -= 2;
	str_puts(&s, "X-100: 100\r\n\r\n");
	refused_n(s.p, s.n, 431, 7);
	free(s.p);
}

/* Statuses against each other: the one for the first thing wrong. */
static void test_http1__first_error_wins(void **state)
{
	(void)state;
	/* a framing error in the line ends beats everything in the fields */
	REFUSED("BREW / HTTP/1.1\r\nHost: a\n\r\n", 400);
	/* the version before the method */
	REFUSED("BREW / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	/* the method before the target */
	REFUSED("BREW * HTTP/1.1\r\nHost: a\r\n\r\n", 501);
}

/* ------------------------------------------------------------------ */
/* chunked bodies */

struct body {
	long rc;		/* bytes consumed, or the refusal */
	bool done;
	char data[8192];
	size_t dlen;
};

/* Feeds in[0..n) (a copy of exactly n bytes) to c, calling again after
 * each piece of data, up to the end of the body or a refusal; adds to
 * b->data and b->done and returns the bytes consumed or the refusal. */
static long feed_piece(struct http1_chunked *c, const char *in, size_t n,
		       uint64_t max, struct body *b)
{
	char *copy = dup_exact(in, n);
	size_t off = 0;
	long rc = 0;

	while (off < n && !b->done) {
		const char *data = NULL;
		size_t dlen = 1234;
		bool done = false;

		rc = http1_chunked_feed(c, copy + off, n - off, max, &data,
					&dlen, &done);
		if (rc < 0)
			break;
		assert_true((size_t)rc <= n - off);
		if (dlen) {
			assert_non_null(data);
			assert_true(data >= copy + off &&
				    data + dlen <= copy + off + rc);
			assert_true(b->dlen + dlen <= sizeof(b->data));
			memcpy(b->data + b->dlen, data, dlen);
			b->dlen += dlen;
		}
		assert_true(rc > 0 || done);
		b->done = done;
		off += (size_t)rc;
	}
	free(copy);
	return rc < 0 ? rc : (long)off;
}

/* in[0..n) in the pieces cut at cuts[0..ncuts) (ascending). */
static void decode_cuts(const char *in, size_t n, uint64_t max,
			const size_t *cuts, size_t ncuts, struct body *b)
{
	struct http1_chunked c;
	size_t at = 0, k, end;
	long rc;

	memset(&c, 0, sizeof(c));
	memset(b, 0, sizeof(*b));
	for (k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : n;
		rc = feed_piece(&c, in + at, end - at, max, b);
		if (rc < 0) {
			b->rc = rc;
			return;
		}
		b->rc += rc;
		if (b->done)
			return;
		at = end;
	}
}

static void assert_same_body(const struct body *a, const struct body *w,
			     const char *how)
{
	if (a->rc != w->rc || a->done != w->done || a->dlen != w->dlen ||
	    memcmp(a->data, w->data, a->dlen) != 0)
		fail_msg("%s: rc %ld done %d data %zu '%.*s'; whole: rc %ld "
			 "done %d data %zu '%.*s'", how, a->rc, a->done,
			 a->dlen, (int)a->dlen, a->data, w->rc, w->done,
			 w->dlen, (int)w->dlen, w->data);
}

/* in[0..n) decoded whole, at every split point and byte by byte, all
 * the same; the whole answer in *w. */
static void decode_all_ways(const char *in, size_t n, uint64_t max,
			    struct body *w)
{
	static struct body b;
	size_t cuts[2], *every, k, a;
	char how[64];

	decode_cuts(in, n, max, NULL, 0, w);
	for (k = 0; k <= n; k++) {
		cuts[0] = k;
		decode_cuts(in, n, max, cuts, 1, &b);
		snprintf(how, sizeof(how), "split at %zu of %zu", k, n);
		assert_same_body(&b, w, how);
	}
	if (n <= 120) {
		for (a = 0; a <= n; a++) {
			for (k = a; k <= n; k++) {
				cuts[0] = a;
				cuts[1] = k;
				decode_cuts(in, n, max, cuts, 2, &b);
				snprintf(how, sizeof(how),
					 "split at %zu and %zu of %zu", a, k,
					 n);
				assert_same_body(&b, w, how);
			}
		}
	}
	every = malloc((n + 1) * sizeof(*every));
	assert_non_null(every);
	for (k = 0; k < n; k++)
		every[k] = k + 1;
	decode_cuts(in, n, max, every, n, &b);
	assert_same_body(&b, w, "byte by byte");
	free(every);
}

/* A complete body: its data is want and it ends after end bytes. */
static void body_ok(const char *in, size_t n, size_t end, const char *want,
		    size_t want_len)
{
	static struct body w;

	decode_all_ways(in, n, UINT64_MAX, &w);
	if (w.rc != (long)end || !w.done)
		fail_msg("'%.*s': rc %ld done %d, want %zu", (int)n, in, w.rc,
			 w.done, end);
	assert_int_equal(w.dlen, want_len);
	assert_memory_equal(w.data, want, want_len);
	/* the most data allowed is exactly enough */
	decode_all_ways(in, n, want_len, &w);
	assert_int_equal(w.rc, (long)end);
}

#define BODY_OK(lit, data) \
	body_ok(lit, sizeof(lit) - 1, sizeof(lit) - 1, data, sizeof(data) - 1)

static void body_refused(const char *in, size_t n, uint64_t max, long status)
{
	static struct body w;

	decode_all_ways(in, n, max, &w);
	if (w.rc != -status)
		fail_msg("'%.*s': rc %ld, want %ld", (int)n, in, w.rc,
			 -status);
}

#define BODY_REFUSED(lit, status) \
	body_refused(lit, sizeof(lit) - 1, UINT64_MAX, status)
#define BODY_REFUSED_MAX(lit, max, status) \
	body_refused(lit, sizeof(lit) - 1, max, status)

static void test_http1__chunked_valid(void **state)
{
	(void)state;
	BODY_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
	BODY_OK("0\r\n\r\n", "");
	BODY_OK("1\r\nx\r\n0\r\n\r\n", "x");
	/* hex either case, leading zeros */
	BODY_OK("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
		"0123456789abcdefghij");
	BODY_OK("1a\r\nabcdefghijklmnopqrstuvwxyz\r\n1A\r\n"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n0\r\n\r\n",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	BODY_OK("0003\r\nabc\r\n000\r\n\r\n", "abc");
	BODY_OK("000000000000000F\r\n0123456789abcde\r\n0\r\n\r\n",
		"0123456789abcde");
	/* extensions */
	BODY_OK("3;a=b\r\nabc\r\n2;name=\"quoted value\";flag\r\nde\r\n"
		"0;last\r\n\r\n", "abcde");
	BODY_OK("3 ;a=b\r\nabc\r\n0\t;x\r\n\r\n", "abc");
	BODY_OK("3 \t \r\nabc\r\n0 \r\n\r\n", "abc");
	BODY_OK("3;a=\xc3\xa9\r\nabc\r\n0\r\n\r\n", "abc");
	/* trailers */
	BODY_OK("3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: two words\r\n\r\n",
		"abc");
	BODY_OK("0\r\nX:\r\n\r\n", "");
	/* data bytes are data, whatever they are */
	BODY_OK("6\r\n\r\n0\r\n\n\r\n0\r\n\r\n", "\r\n0\r\n\n");
	BODY_OK("3\r\na\0b\r\n0\r\n\r\n", "a\0b");
}

static void test_http1__chunked_stops_at_end(void **state)
{
	static const char s[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
	struct http1_chunked c;
	static struct body w;
	const char *data;
	size_t dlen;
	bool done;
	long rc;

	(void)state;
	body_ok(s, sizeof(s) - 1, 13, "abc", 3);
	/* by hand: data first, then the end, then nothing more */
	memset(&c, 0, sizeof(c));
	rc = http1_chunked_feed(&c, s, sizeof(s) - 1, 100, &data, &dlen,
				&done);
	assert_int_equal(rc, 6);
	assert_true(data == s + 3);
	assert_int_equal(dlen, 3);
	assert_false(done);
	rc = http1_chunked_feed(&c, s + 6, sizeof(s) - 1 - 6, 100, &data,
				&dlen, &done);
	assert_int_equal(rc, 7);
	assert_int_equal(dlen, 0);
	assert_true(done);
	rc = http1_chunked_feed(&c, s + 13, sizeof(s) - 1 - 13, 100, &data,
				&dlen, &done);
	assert_int_equal(rc, 0);
	assert_int_equal(dlen, 0);
	assert_true(done);
	/* an empty call is no error */
	memset(&c, 0, sizeof(c));
	rc = http1_chunked_feed(&c, s, 0, 100, &data, &dlen, &done);
	assert_int_equal(rc, 0);
	assert_false(done);
	/* the next request right after a zero-length body */
	decode_all_ways("0\r\n\r\nPOST", 9, 0, &w);
	assert_int_equal(w.rc, 5);
	assert_true(w.done);
}

static void test_http1__chunked_malformed(void **state)
{
	(void)state;
	/* bare LF */
	BODY_REFUSED("1\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1;a=b\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1\r\nx\n0\r\n\r\n", 400);
	BODY_REFUSED("1\r\nx\r\n0\n\r\n", 400);
	BODY_REFUSED("0\r\nX: a\n\r\n", 400);
	BODY_REFUSED("0\r\n\n", 400);
	BODY_REFUSED("0\r\nX: a\r\n\n", 400);
	/* CR without LF */
	BODY_REFUSED("1\rx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1\r\nx\rx0\r\n\r\n", 400);
	BODY_REFUSED("0\r\n\rx", 400);
	BODY_REFUSED("0\r\nX: a\rb\r\n\r\n", 400);
	/* sizes that are not hex digits */
	BODY_REFUSED("+1\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("-1\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("0x1\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED(";a\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED(" 1\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("\t1\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("g\r\n", 400);
	BODY_REFUSED("1g\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1 2\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1 x\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("00000000000000001\r\nx\r\n0\r\n\r\n", 400);
	/* the data not followed by CRLF */
	BODY_REFUSED("1\r\nxy\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1\r\nx0\r\n\r\n", 400);
	BODY_REFUSED("2\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1\r\nxx\n0\r\n\r\n", 400);
	BODY_REFUSED("1\r\nx\n\n0\r\n\r\n", 400);
	/* control bytes in an extension */
	BODY_REFUSED("1;a\x01\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1;a=\x7f\r\nx\r\n0\r\n\r\n", 400);
	BODY_REFUSED("1;\0\r\nx\r\n0\r\n\r\n", 400);
	/* trailers: folded, without a name, with control bytes */
	BODY_REFUSED("0\r\n X: a\r\n\r\n", 400);
	BODY_REFUSED("0\r\n\tX: a\r\n\r\n", 400);
	BODY_REFUSED("0\r\nX: a\r\n b\r\n\r\n", 400);
	BODY_REFUSED("0\r\n: a\r\n\r\n", 400);
	BODY_REFUSED("0\r\nX: \x01\r\n\r\n", 400);
	/* the size line and the trailers are bounded */
	{
		struct str s = { 0 };

		str_puts(&s, "1;");
		str_fill(&s, 'e', 5000);
		str_puts(&s, "\r\nx\r\n0\r\n\r\n");
		body_refused(s.p, s.n, UINT64_MAX, 400);
		s.n = 0;
		str_puts(&s, "1");
		str_fill(&s, ' ', 5000);
		str_puts(&s, "\r\nx\r\n0\r\n\r\n");
		body_refused(s.p, s.n, UINT64_MAX, 400);
		s.n = 0;
		str_puts(&s, "0\r\n");
		while (s.n < 5000)
			str_puts(&s, "X-Trailer: value\r\n");
		str_puts(&s, "\r\n");
		body_refused(s.p, s.n, UINT64_MAX, 400);
		free(s.p);
	}
}

static void test_http1__chunked_too_large(void **state)
{
	static struct body w;
	struct http1_chunked c;
	const char *data;
	size_t dlen;
	bool done;

	(void)state;
	/* the data of two chunks over max */
	BODY_REFUSED_MAX("6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n", 10, 413);
	/* exactly max is fine */
	decode_all_ways("6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n", 25, 10, &w);
	assert_int_equal(w.rc, 25);
	assert_true(w.done);
	/* one chunk bigger than max: refused from its size alone */
	memset(&c, 0, sizeof(c));
	assert_int_equal(http1_chunked_feed(&c, "100000\r\n", 8, 1000, &data,
					    &dlen, &done), -413);
	assert_int_equal(dlen, 0);
	BODY_REFUSED_MAX("b\r\n", 10, 413);
	BODY_REFUSED_MAX("0000b\r\n", 10, 413);
	BODY_REFUSED_MAX("1\r\nx\r\n1\r\ny\r\n", 1, 413);
	BODY_REFUSED_MAX("FFFFFFFFFFFFFFFF\r\n", UINT64_MAX - 1, 413);
	/* a zero max allows only the empty body */
	BODY_REFUSED_MAX("1\r\nx\r\n0\r\n\r\n", 0, 413);
	decode_all_ways("0\r\n\r\n", 5, 0, &w);
	assert_int_equal(w.rc, 5);
	/* the biggest size there is waits for its data */
	memset(&c, 0, sizeof(c));
	assert_int_equal(http1_chunked_feed(&c, "FFFFFFFFFFFFFFFF\r\nab", 20,
					    UINT64_MAX, &data, &dlen, &done),
			 20);
	assert_int_equal(dlen, 2);
	assert_false(done);
}

/* ------------------------------------------------------------------ */

static void test_http1__reason(void **state)
{
	static const int refusals[] = { 400, 413, 414, 417, 431, 501, 505 };
	size_t i;

	(void)state;
	assert_string_equal(http1_reason(200), "OK");
	assert_string_equal(http1_reason(101), "Switching Protocols");
	assert_string_equal(http1_reason(404), "Not Found");
	assert_string_equal(http1_reason(414), "URI Too Long");
	assert_string_equal(http1_reason(431),
			    "Request Header Fields Too Large");
	assert_string_equal(http1_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http1_reason(0), "");
	assert_string_equal(http1_reason(-400), "");
	assert_string_equal(http1_reason(299), "");
	assert_string_equal(http1_reason(418), "");
	assert_string_equal(http1_reason(999), "");
	/* every status the parsers answer has a phrase */
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		assert_true(http1_reason(refusals[i])[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http1__simple_get),
		cmocka_unit_test(test_http1__every_method),
		cmocka_unit_test(test_http1__post_content_length),
		cmocka_unit_test(test_http1__chunked_request),
		cmocka_unit_test(test_http1__http10),
		cmocka_unit_test(test_http1__connection_close),
		cmocka_unit_test(test_http1__connection_in_two_lines),
		cmocka_unit_test(test_http1__leading_empty_lines),
		cmocka_unit_test(test_http1__whitespace_trimmed),
		cmocka_unit_test(test_http1__obs_text),
		cmocka_unit_test(test_http1__token_chars_in_names),
		cmocka_unit_test(test_http1__content_length),
		cmocka_unit_test(test_http1__expect_continue),
		cmocka_unit_test(test_http1__websocket),
		cmocka_unit_test(test_http1__field_lookup),
		cmocka_unit_test(test_http1__list_has),
		cmocka_unit_test(test_http1__valid_heads_split),
		cmocka_unit_test(test_http1__bare_lf),
		cmocka_unit_test(test_http1__bare_cr),
		cmocka_unit_test(test_http1__whitespace_before_colon),
		cmocka_unit_test(test_http1__obs_fold),
		cmocka_unit_test(test_http1__ctl_in_value),
		cmocka_unit_test(test_http1__bad_names),
		cmocka_unit_test(test_http1__bad_content_length),
		cmocka_unit_test(test_http1__transfer_encoding),
		cmocka_unit_test(test_http1__host),
		cmocka_unit_test(test_http1__methods),
		cmocka_unit_test(test_http1__request_line),
		cmocka_unit_test(test_http1__versions),
		cmocka_unit_test(test_http1__target_form),
		cmocka_unit_test(test_http1__expectation),
		cmocka_unit_test(test_http1__line_too_long),
		cmocka_unit_test(test_http1__fields_too_large),
		cmocka_unit_test(test_http1__too_many_fields),
		cmocka_unit_test(test_http1__first_error_wins),
		cmocka_unit_test(test_http1__chunked_valid),
		cmocka_unit_test(test_http1__chunked_stops_at_end),
		cmocka_unit_test(test_http1__chunked_malformed),
		cmocka_unit_test(test_http1__chunked_too_large),
		cmocka_unit_test(test_http1__reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
