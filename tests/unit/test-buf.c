/* test-buf.c - struct buf: ceiling, growth, printf, detach. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

struct buf_append_case {
	const char *name;
	size_t max;
	const char *pieces[4];	/* appended in order, NULL-terminated */
	int rc;			/* rc of the last append */
	const char *want;	/* contents afterwards */
};

static const struct buf_append_case buf_append_cases[] = {
	{ "empty append", 10, { "" }, 0, "" },
	{ "fits", 10, { "hello" }, 0, "hello" },
	{ "exactly max", 10, { "hello", "world" }, 0, "helloworld" },
	{ "one past max", 10, { "hello", "world", "!" }, CHAT_ETOOBIG,
	  "helloworld" },
	{ "single piece too big", 4, { "hello" }, CHAT_ETOOBIG, "" },
	{ "zero ceiling", 0, { "x" }, CHAT_ETOOBIG, "" },
	{ "grows past the first allocation", 1000,
	  { "0123456789012345678901234567890123456789012345678901234567890123",
	    "456789" }, 0,
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "456789" },
};

static void test_buf__append_ceiling(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(buf_append_cases) / sizeof(buf_append_cases[0]);
	     i++) {
		const struct buf_append_case *c = &buf_append_cases[i];
		struct buf b;
		int rc = 0;

		buf_init(&b, c->max);
		for (k = 0; k < 4 && c->pieces[k]; k++)
			rc = buf_puts(&b, c->pieces[k]);
		if (rc != c->rc)
			fail_msg("case '%s': rc %d, want %d", c->name, rc,
				 c->rc);
		if (strcmp(b.data ? b.data : "", c->want) != 0 ||
		    b.len != strlen(c->want))
			fail_msg("case '%s': got '%s'", c->name,
				 b.data ? b.data : "(null)");
		if (b.data)
			assert_true(b.cap <= c->max + 1);
		buf_release(&b);
	}
}

static void test_buf__printf_growth(void **state)
{
	char want[4096];
	size_t wlen = 0;
	struct buf b;
	int i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < 300; i++) {
		assert_int_equal(buf_printf(&b, "%d,", i), 0);
		wlen += (size_t)snprintf(want + wlen, sizeof(want) - wlen,
					 "%d,", i);
	}
	assert_int_equal(b.len, wlen);
	assert_string_equal(b.data, want);

	/* One formatted piece much larger than the current allocation. */
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_printf(&b, "%3000s|", "x"), 0);
	assert_int_equal(b.len, 3001);
	assert_int_equal(b.data[2999], 'x');
	assert_int_equal(b.data[3000], '|');
	assert_int_equal(b.data[3001], '\0');
	buf_release(&b);
}

static void test_buf__printf_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%s", "abcd"), 0);
	/* Would fit in the allocation (64 bytes) but passes max. */
	assert_int_equal(buf_printf(&b, "%s", "efghi"), CHAT_ETOOBIG);
	assert_string_equal(b.data, "abcd");
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(b.data, "abcd1234");
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(buf_printf(&b, "x"), CHAT_ETOOBIG);
	buf_release(&b);

	/* A piece larger than the allocation and the ceiling. */
	buf_init(&b, 100);
	assert_int_equal(buf_printf(&b, "%200s", "y"), CHAT_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
}

static void test_buf__detach(void **state)
{
	struct buf b;
	size_t len = 99;
	char *p;

	(void)state;
	buf_init(&b, 100);
	p = buf_detach(&b, &len);	/* never appended: "" not NULL */
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);

	assert_int_equal(buf_append(&b, "ab\0cd", 5), 0);
	p = buf_detach(&b, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "ab\0cd", 6);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);	/* reusable, same ceiling */
	free(p);

	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf__append_ceiling),
		cmocka_unit_test(test_buf__printf_growth),
		cmocka_unit_test(test_buf__printf_ceiling),
		cmocka_unit_test(test_buf__detach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
