/*
 * test-http-answer.c - the answer parsers of the two outbound HTTP/1.1
 * clients, http_fetch_parse (shared/http-fetch.c) and http_loop_parse
 * (shared/http-loop.c), on answers in memory: framing (length, chunked,
 * until close, 1xx, HEAD), the same result whatever the read size, and
 * the inputs tests/fuzz/fuzz-http-response.c found, each kept here so
 * that it stays fixed.
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
#include "http-fetch.h"
#include "http-loop.h"

/* What one parser makes of an answer. */
struct result {
	int rc;
	int status;			/* when rc is 0 */
	const char *body;		/* when rc is 0 */
};

struct answer {
	const char *name;
	const char *text;
	size_t len;			/* 0: strlen(text) */
	bool head_only;
	struct result loop, fetch;
	bool keep_alive;		/* http_loop_parse's */
};

/* both parsers agree */
#define BOTH(rc, status, body) { rc, status, body }, { rc, status, body }

static const struct answer answers[] = {
	{ "length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0,
	  false, BOTH(0, 200, "hello"), true },
	{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\nT: 1\r\n\r\n", 0, false,
	  BOTH(0, 200, "hello"), true },
	{ "until close", "HTTP/1.0 200 OK\nServer: x\n\nto the end", 0,
	  false, BOTH(0, 200, "to the end"), false },
	{ "1xx skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created"
	  "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 0, false,
	  BOTH(0, 201, "{}"), false },
	{ "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, true,
	  BOTH(0, 200, ""), true },
	{ "cut short", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 0,
	  false, BOTH(CHAT_EUPSTREAM, 0, NULL), false },
	{ "no status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false,
	  BOTH(CHAT_EUPSTREAM, 0, NULL), false },
	/* fuzz-http-response: a NUL in a head line made hl_call_parse_head's
	 * strchr() for the line end return NULL, and it wrote through it.
	 * http-fetch.c read such a line up to the NUL; both read answers
	 * with http1-response.c now, which refuses it. */
	{ "NUL in a header", "HTTP/1.1 200 OK\r\nContent-\0\0: 1\r\n\r\nx",
	  35, false, BOTH(CHAT_EUPSTREAM, 0, NULL), false },
	{ "NUL in the status line", "HTTP/1.1 200 O\0K\r\n\r\n", 20, false,
	  BOTH(CHAT_EUPSTREAM, 0, NULL), false },
	/* fuzz-http-response: a CR not followed by LF stayed in the header
	 * line handed to on_head ("chunked\r\r1ad"), where the gateway
	 * copies some headers to its client as they are */
	{ "bare CR in a header", "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n"
	  "Content-Length: 1\r\n\r\nx", 0, false,
	  BOTH(CHAT_EUPSTREAM, 0, NULL), false },
	/* the two readers used to differ here: http-fetch.c took a folded
	 * line and a Transfer-Encoding beside a Content-Length */
	{ "obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 1"
	  "\r\n\r\nx", 0, false, BOTH(CHAT_EUPSTREAM, 0, NULL), false },
	{ "CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 0, false,
	  BOTH(CHAT_EUPSTREAM, 0, NULL), false },
};

struct got {
	struct buf body;
	int status;
};

static int on_head(void *arg, int status, const char *const *headers,
		   size_t n)
{
	struct got *g = arg;

	(void)headers;
	(void)n;
	g->status = status;
	return 0;
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct got *g = arg;

	return buf_append(&g->body, data, len);
}

static void check_loop(const struct answer *a, size_t len, size_t piece)
{
	static const struct http_client_cb cb = {
		.on_head = on_head, .on_data = on_data,
	};
	struct got g = { .status = 0 };
	bool keep = true;
	int rc;

	buf_init(&g.body, 1 << 20);
	rc = http_loop_parse(a->text, len, piece, a->head_only, 0, &cb, &g,
			     &keep);
	if (rc != a->loop.rc)
		fail_msg("loop '%s' in reads of %zu: %d, want %d", a->name,
			 piece, rc, a->loop.rc);
	if (rc == 0) {
		assert_int_equal(g.status, a->loop.status);
		assert_int_equal(g.body.len, strlen(a->loop.body));
		assert_memory_equal(g.body.data ? g.body.data : "",
				    a->loop.body, g.body.len);
		if (keep != a->keep_alive)
			fail_msg("loop '%s': keep-alive %d", a->name, keep);
	}
	buf_release(&g.body);
}

static void check_fetch(const struct answer *a, size_t len, size_t piece)
{
	struct buf body;
	int status = -1, rc;

	buf_init(&body, 1 << 20);
	rc = http_fetch_parse(a->text, len, piece, a->head_only, 0, &status,
			      &body);
	if (rc != a->fetch.rc)
		fail_msg("fetch '%s' in reads of %zu: %d, want %d", a->name,
			 piece, rc, a->fetch.rc);
	if (rc == 0) {
		assert_int_equal(status, a->fetch.status);
		assert_int_equal(body.len, strlen(a->fetch.body));
		assert_memory_equal(body.data ? body.data : "",
				    a->fetch.body, body.len);
	}
	buf_release(&body);
}

/* Each answer at once and in reads of 1, 2, 3 and 7 bytes. */
static void test_http_answer__table(void **state)
{
	static const size_t pieces[] = { 0, 1, 2, 3, 7 };
	size_t i, k, len;

	(void)state;
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		len = answers[i].len ? answers[i].len
				     : strlen(answers[i].text);
		for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
			check_loop(&answers[i], len, pieces[k]);
			check_fetch(&answers[i], len, pieces[k]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_answer__table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
