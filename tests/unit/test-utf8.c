/* test-utf8.c - strict UTF-8 validation against a table of sequences. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "utf8.h"

struct utf8_case {
	const char *name;
	const char *bytes;
	size_t len;		/* 0: strlen(bytes) */
	bool valid;
};

#define B(s) s, sizeof(s) - 1

static const struct utf8_case utf8_cases[] = {
	{ "empty", B(""), true },
	{ "ascii", B("hello, world"), true },
	{ "2-byte min U+0080", B("\xC2\x80"), true },
	{ "2-byte max U+07FF", B("\xDF\xBF"), true },
	{ "3-byte min U+0800", B("\xE0\xA0\x80"), true },
	{ "3-byte U+D7FF before surrogates", B("\xED\x9F\xBF"), true },
	{ "3-byte U+E000 after surrogates", B("\xEE\x80\x80"), true },
	{ "3-byte max U+FFFF", B("\xEF\xBF\xBF"), true },
	{ "4-byte min U+10000", B("\xF0\x90\x80\x80"), true },
	{ "4-byte max U+10FFFF", B("\xF4\x8F\xBF\xBF"), true },
	{ "mixed text", B("gr\xC3\xBC\xC3\x9F dich \xE2\x82\xAC \xF0\x9F\x98\x80"),
	  true },
	{ "embedded NUL", B("a\0b"), false },
	{ "lone NUL", B("\0"), false },
	{ "overlong NUL C0 80", B("\xC0\x80"), false },
	{ "overlong C1 BF", B("\xC1\xBF"), false },
	{ "overlong 3-byte E0 80 AF", B("\xE0\x80\xAF"), false },
	{ "overlong 3-byte E0 9F BF", B("\xE0\x9F\xBF"), false },
	{ "overlong 4-byte F0 80 80 AF", B("\xF0\x80\x80\xAF"), false },
	{ "overlong 4-byte F0 8F BF BF", B("\xF0\x8F\xBF\xBF"), false },
	{ "surrogate U+D800", B("\xED\xA0\x80"), false },
	{ "surrogate U+DFFF", B("\xED\xBF\xBF"), false },
	{ "surrogate pair as CESU-8", B("\xED\xA0\xBD\xED\xB8\x80"), false },
	{ "U+110000", B("\xF4\x90\x80\x80"), false },
	{ "F5 lead", B("\xF5\x80\x80\x80"), false },
	{ "FF byte", B("\xFF"), false },
	{ "FE byte", B("\xFE"), false },
	{ "5-byte form", B("\xF8\x88\x80\x80\x80"), false },
	{ "stray continuation", B("\x80"), false },
	{ "continuation after ascii", B("a\xBF"), false },
	{ "truncated 2-byte", B("\xC3"), false },
	{ "truncated 3-byte", B("\xE2\x82"), false },
	{ "truncated 4-byte", B("\xF0\x9F\x98"), false },
	{ "truncated then ascii", B("\xE2\x82z"), false },
	{ "bad second of 4", B("\xF0\x9F\x28\x80"), false },
	{ "bad third of 3", B("\xE2\x82\x28"), false },
	{ "bad fourth of 4", B("\xF0\x9F\x98\x28"), false },
	{ "valid then broken", B("ok \xC3\xA9 \xC3"), false },
};

static void test_utf8__table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		const struct utf8_case *c = &utf8_cases[i];

		if (utf8_valid(c->bytes, c->len) != c->valid)
			fail_msg("case '%s': want %s", c->name,
				 c->valid ? "valid" : "invalid");
	}
}

/* Only len bytes are looked at, never the byte after them. */
static void test_utf8__length_bound(void **state)
{
	const char s[] = "\xE2\x82\xAC";

	(void)state;
	assert_true(utf8_valid(s, 3));
	assert_false(utf8_valid(s, 2));
	assert_false(utf8_valid(s, 1));
	assert_true(utf8_valid(s, 0));
	assert_true(utf8_valid(NULL, 0));
}

/* Every code point encodes to something valid, surrogates excepted. */
static void test_utf8__all_code_points(void **state)
{
	unsigned long cp;

	(void)state;
	for (cp = 1; cp <= 0x10FFFF; cp++) {
		unsigned char b[4];
		size_t n;

		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xC0 | cp >> 6);
			b[1] = (unsigned char)(0x80 | (cp & 0x3F));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xE0 | cp >> 12);
			b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
			b[2] = (unsigned char)(0x80 | (cp & 0x3F));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xF0 | cp >> 18);
			b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
			b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
			b[3] = (unsigned char)(0x80 | (cp & 0x3F));
			n = 4;
		}
		if (utf8_valid((const char *)b, n) !=
		    !(cp >= 0xD800 && cp <= 0xDFFF))
			fail_msg("code point U+%04lX", cp);
		/* decoding gives it back, with its length; cut short: 0 */
		{
			uint32_t got = 0;
			size_t want = cp >= 0xD800 && cp <= 0xDFFF ? 0 : n;

			if (utf8_decode((const char *)b, n, &got) != want ||
			    (want && got != cp) ||
			    (n > 1 && utf8_decode((const char *)b, n - 1,
						  NULL) != 0))
				fail_msg("decoding U+%04lX", cp);
		}
	}
}

/* Sequences decode refuses; NUL decodes as U+0000 (validation alone
 * refuses NUL). */
static void test_utf8__decode_invalid(void **state)
{
	static const char *const bad[] = {
		"\x80", "\xBF", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF",
		"\xED\xA0\x80", "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80",
		"\xF5\x80\x80\x80", "\xFF", "\xC3\x28", "\xE2\x82\x28",
	};
	uint32_t cp = 1;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (utf8_decode(bad[i], strlen(bad[i]), NULL) != 0)
			fail_msg("accepted case %zu", i);
	assert_int_equal(utf8_decode("", 1, &cp), 1);
	assert_int_equal(cp, 0);
	assert_int_equal(utf8_decode("x", 0, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8__table),
		cmocka_unit_test(test_utf8__length_bound),
		cmocka_unit_test(test_utf8__all_code_points),
		cmocka_unit_test(test_utf8__decode_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
