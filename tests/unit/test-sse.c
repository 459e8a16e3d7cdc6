/* test-sse.c - text/event-stream framing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "sse.h"

struct sse_case {
	const char *name;
	const char *id;
	const char *event;
	const char *data;
	size_t len;		/* 0: strlen(data) */
	const char *want;
};

static const struct sse_case sse_cases[] = {
	{ "all fields", "42", "message", "hello", 0,
	  "id: 42\nevent: message\ndata: hello\n\n" },
	{ "data only", NULL, NULL, "hello", 0, "data: hello\n\n" },
	{ "id and data", "7", NULL, "{\"a\":1}", 0,
	  "id: 7\ndata: {\"a\":1}\n\n" },
	{ "empty data", "1", NULL, "", 0, "id: 1\ndata:\n\n" },
	{ "LF splits", NULL, NULL, "a\nb\nc", 0,
	  "data: a\ndata: b\ndata: c\n\n" },
	{ "CRLF splits once", NULL, NULL, "a\r\nb", 0,
	  "data: a\ndata: b\n\n" },
	{ "CR splits", NULL, NULL, "a\rb", 0, "data: a\ndata: b\n\n" },
	{ "LF CR is two breaks", NULL, NULL, "a\n\rb", 0,
	  "data: a\ndata:\ndata: b\n\n" },
	{ "blank line inside", NULL, NULL, "a\n\nb", 0,
	  "data: a\ndata:\ndata: b\n\n" },
	{ "trailing newline kept", NULL, NULL, "a\n", 0,
	  "data: a\ndata:\n\n" },
	{ "only a newline", NULL, NULL, "\r\n", 0, "data:\ndata:\n\n" },
	{ "leading space kept", NULL, NULL, " x", 0, "data:  x\n\n" },
	{ "colon in data", NULL, "e", "a: b", 0,
	  "event: e\ndata: a: b\n\n" },
	{ "length bound", NULL, NULL, "abcdef", 3, "data: abc\n\n" },
};

static void test_sse__format_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sse_cases) / sizeof(sse_cases[0]); i++) {
		const struct sse_case *c = &sse_cases[i];
		struct buf b;
		int rc;

		buf_init(&b, 4096);
		rc = sse_format(&b, c->id, c->event, c->data,
				c->len ? c->len : strlen(c->data));
		if (rc != 0 || strcmp(b.data, c->want) != 0)
			fail_msg("case '%s': rc %d, got '%s'", c->name, rc,
				 b.data ? b.data : "(null)");
		buf_release(&b);
	}
}

static void test_sse__appends(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(sse_format(&b, "1", NULL, "a", 1), 0);
	assert_int_equal(sse_comment(&b, "keep-alive"), 0);
	assert_int_equal(sse_format(&b, "2", "done", "[DONE]", 6), 0);
	assert_string_equal(b.data, "id: 1\ndata: a\n\n: keep-alive\n\n"
			    "id: 2\nevent: done\ndata: [DONE]\n\n");
	buf_reset(&b);
	assert_int_equal(sse_comment(&b, "two\nlines"), 0);
	assert_string_equal(b.data, ": two\n: lines\n\n");
	buf_release(&b);
}

static void test_sse__bad_fields(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(sse_format(&b, "1\n2", NULL, "x", 1), CHAT_EINVAL);
	assert_int_equal(sse_format(&b, "1", "a\rb", "x", 1), CHAT_EINVAL);
	assert_int_equal(sse_format(&b, "1", NULL, NULL, 3), CHAT_EINVAL);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

/* An event that does not fit is not half written. */
static void test_sse__ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 30);
	assert_int_equal(sse_format(&b, "1", NULL, "short", 5), 0);
	assert_string_equal(b.data, "id: 1\ndata: short\n\n");
	assert_int_equal(sse_format(&b, "2", NULL, "far too long", 12),
			 CHAT_ETOOBIG);
	assert_string_equal(b.data, "id: 1\ndata: short\n\n");
	assert_int_equal(b.len, strlen("id: 1\ndata: short\n\n"));
	assert_int_equal(sse_comment(&b, "also too long"), CHAT_ETOOBIG);
	assert_string_equal(b.data, "id: 1\ndata: short\n\n");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse__format_table),
		cmocka_unit_test(test_sse__appends),
		cmocka_unit_test(test_sse__bad_fields),
		cmocka_unit_test(test_sse__ceiling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
