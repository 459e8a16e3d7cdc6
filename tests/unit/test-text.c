/* test-text.c - text_clean: client text made display-safe, against a
 * table of inputs and random bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "utf8.h"

#define R "\xEF\xBF\xBD"	/* U+FFFD */
#define B(s) s, sizeof(s) - 1

struct text_case {
	const char *name;
	const char *in;
	size_t len;
	size_t outlen;		/* the buffer given to text_clean */
	const char *want;
};

static const struct text_case text_cases[] = {
	{ "empty", B(""), 16, "" },
	{ "plain ascii", B("curl/8.5.0"), 64, "curl/8.5.0" },
	{ "valid utf-8 kept", B("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"),
	  64, "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80" },
	{ "html is text, left alone", B("<script>alert(1)</script>"), 64,
	  "<script>alert(1)</script>" },
	{ "ESC sequence", B("a\x1b[31mred\x1b]0;t\x07"), 64,
	  "a" R "[31mred" R "]0;t" R },
	{ "tab, CR, LF", B("a\tb\r\nc"), 64, "a" R "b" R R "c" },
	{ "NUL inside", B("a\0b"), 64, "a" R "b" },
	{ "DEL", B("a\x7f"), 64, "a" R },
	{ "C1 NEL and CSI", B("\xC2\x85x\xC2\x9B" "2J"), 64, R "x" R "2J" },
	{ "U+00A0 is not C1", B("\xC2\xA0"), 64, "\xC2\xA0" },
	{ "lone FF", B("\xFF"), 64, R },
	{ "stray continuation", B("a\x80z"), 64, "a" R "z" },
	{ "overlong slash", B("\xC0\xAF"), 64, R R },
	{ "surrogate", B("\xED\xA0\x80"), 64, R R R },
	{ "truncated at end", B("ok\xE2\x82"), 64, "ok" R R },
	{ "bad byte does not eat the next", B("\xE2z"), 64, R "z" },
	{ "cut to outlen - 1", B("abcdef"), 4, "abc" },
	{ "cut before a 2-byte character", B("ab\xC3\xA9"), 4, "ab" },
	{ "2-byte character just fits", B("a\xC3\xA9"), 4, "a\xC3\xA9" },
	{ "cut before a replacement", B("a\x1b"), 4, "a" },
	{ "replacement just fits", B("\x1b" "b"), 4, R },
	{ "outlen 1: empty", B("abc"), 1, "" },
};

static void test_text__table(void **state)
{
	char out[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *c = &text_cases[i];

		memset(out, 'X', sizeof(out));
		n = text_clean(c->in, c->len, out, c->outlen);
		if (n != strlen(c->want) || strcmp(out, c->want) != 0)
			fail_msg("case '%s': got '%s' (%zu bytes)", c->name,
				 out, n);
		/* nothing past the NUL is written */
		if (n + 1 < sizeof(out) && out[n + 1] != 'X')
			fail_msg("case '%s': wrote past the NUL", c->name);
	}
}

static void test_text__edges(void **state)
{
	char out[4] = "XYZ";

	(void)state;
	/* outlen 0: nothing written at all */
	assert_int_equal(text_clean("abc", 3, out, 0), 0);
	assert_string_equal(out, "XYZ");
	/* no input */
	assert_int_equal(text_clean(NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* A 10 KB user agent full of escapes comes out capped and escape-free. */
static void test_text__big_user_agent(void **state)
{
	char in[10240], out[TEXT_USER_AGENT_MAX + 1];
	size_t i, n;

	(void)state;
	for (i = 0; i + 4 <= sizeof(in); i += 4)
		memcpy(in + i, "\x1b[2J", 4);
	n = text_clean(in, sizeof(in), out, sizeof(out));
	assert_true(n <= TEXT_USER_AGENT_MAX);
	assert_true(n > TEXT_USER_AGENT_MAX - 4);
	assert_null(memchr(out, 0x1b, n));
	assert_true(utf8_valid(out, n));
}

/* Whether the clean text s[0..n) holds a control code point. */
static bool has_control(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0)
			return true;	/* not even UTF-8 */
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return true;
		i += k;
	}
	return false;
}

/* Random bytes (biased towards UTF-8 lead bytes and controls): the
 * output is valid UTF-8 without controls, within the bound, and
 * cleaning it again changes nothing. */
static void test_text__random(void **state)
{
	static const unsigned char pool[] = {
		0x00, 0x07, 0x1b, 0x7f, 0x80, 0x9b, 0xbf, 0xc2, 0xc3, 0xe2,
		0xed, 0xf0, 0xf4, 0xff, 'a', '[', '<',
	};
	char in[64], out[40], again[40];
	unsigned seed = 12345;
	size_t iter, i, len, outlen, n, n2;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		len = (seed = seed * 1103515245u + 12345u) >> 16 & 63;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)pool[(seed >> 16) % sizeof(pool)];
		}
		seed = seed * 1103515245u + 12345u;
		outlen = 1 + (seed >> 16) % sizeof(out);
		n = text_clean(in, len, out, outlen);
		assert_true(n < outlen);
		assert_int_equal(strlen(out), n);
		assert_true(utf8_valid(out, n));
		assert_false(has_control(out, n));
		n2 = text_clean(out, n, again, outlen);
		assert_int_equal(n2, n);
		assert_memory_equal(again, out, n + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text__table),
		cmocka_unit_test(test_text__edges),
		cmocka_unit_test(test_text__big_user_agent),
		cmocka_unit_test(test_text__random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
