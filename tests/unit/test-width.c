/* test-width.c - grapheme clusters and display widths (shared/width.c)
 * for each kind of cluster, invalid bytes, cutting, and speed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "width.h"

/* One case: the text, its clusters' byte lengths and columns (0-ended). */
struct width_case {
	const char *name;
	const char *s;
	size_t len;
	int total;
	size_t bytes[12];
	int cols[12];
};

#define B(s) s, sizeof(s) - 1

static const struct width_case width_cases[] = {
	{ "empty", B(""), 0, { 0 }, { 0 } },
	{ "ascii", B("ab"), 2, { 1, 1 }, { 1, 1 } },
	{ "control counts 0", B("a\tb"), 2, { 1, 1, 1 }, { 1, 0, 1 } },
	{ "latin-1", B("\xC3\xA9t\xC3\xA9"), 3, { 2, 1, 2 }, { 1, 1, 1 } },
	{ "combining acute", B("e\xCC\x81x"), 2, { 3, 1 }, { 1, 1 } },
	{ "three combining marks",
	  B("a\xCC\x81\xCC\x82\xCC\x83!"), 2, { 7, 1 }, { 1, 1 } },
	{ "lone combining mark", B("\xCC\x81"), 0, { 2 }, { 0 } },
	{ "cjk", B("\xE4\xB8\xAD\xE6\x96\x87"), 4, { 3, 3 }, { 2, 2 } },
	{ "hangul syllable", B("\xED\x95\x9C"), 2, { 3 }, { 2 } },
	{ "hangul jamo L V T", B("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), 2,
	  { 9 }, { 2 } },
	{ "emoji", B("\xF0\x9F\x98\x80" "a"), 3, { 4, 1 }, { 2, 1 } },
	{ "heart text style", B("\xE2\x9D\xA4"), 1, { 3 }, { 1 } },
	{ "heart VS16", B("\xE2\x9D\xA4\xEF\xB8\x8F"), 2, { 6 }, { 2 } },
	{ "smiley VS15", B("\xE2\x98\xBA\xEF\xB8\x8E"), 1, { 6 }, { 1 } },
	{ "keycap one", B("1\xEF\xB8\x8F\xE2\x83\xA3" "2"), 3, { 7, 1 },
	  { 2, 1 } },
	{ "skin tone", B("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), 2, { 8 },
	  { 2 } },
	{ "zwj family",
	  B("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
	    "\xF0\x9F\x91\xA7"), 2, { 18 }, { 2 } },
	{ "zwj family of four",
	  B("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
	    "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6" "a"), 3,
	  { 25, 1 }, { 2, 1 } },
	{ "C1 control and DEL count 0", B("\xC2\x9B" "a\x7F"), 1,
	  { 2, 1, 1 }, { 0, 1, 0 } },
	{ "zwj with skin tones",
	  B("\xF0\x9F\xA7\x91\xF0\x9F\x8F\xBB\xE2\x80\x8D\xF0\x9F\x92\xBB"
	    "x"), 3, { 15, 1 }, { 2, 1 } },
	{ "flag", B("\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA"), 2, { 8 }, { 2 } },
	{ "two flags",
	  B("\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"),
	  4, { 8, 8 }, { 2, 2 } },
	{ "three regional indicators",
	  B("\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA\xF0\x9F\x87\xAB"), 3, { 8, 4 },
	  { 2, 1 } },
	{ "tag flag england",
	  B("\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7\xF3\xA0\x81\xA2\xF3\xA0\x81\xA5"
	    "\xF3\xA0\x81\xAE\xF3\xA0\x81\xA7\xF3\xA0\x81\xBF"), 2, { 28 },
	  { 2 } },
	{ "zwj after text is no join", B("a\xE2\x80\x8D\xF0\x9F\x98\x80"), 3,
	  { 4, 4 }, { 1, 2 } },
	{ "invalid byte", B("\xFF"), 1, { 1 }, { 1 } },
	{ "truncated sequence", B("\xE2\x82z"), 3, { 1, 1, 1 }, { 1, 1, 1 } },
	{ "stray continuation", B("a\x80" "b"), 3, { 1, 1, 1 }, { 1, 1, 1 } },
	{ "overlong", B("\xC0\x80"), 2, { 1, 1 }, { 1, 1 } },
	{ "surrogate", B("\xED\xA0\x80"), 3, { 1, 1, 1 }, { 1, 1, 1 } },
	{ "truncated at end", B("ok\xF0\x9F\x98"), 5, { 1, 1, 1, 1, 1 },
	  { 1, 1, 1, 1, 1 } },
	{ "mark after invalid", B("\xFF\xCC\x81"), 1, { 1, 2 }, { 1, 0 } },
	/* fuzz-markdown: wrapping and a row's prefix ("• ", "│ ") measure
	 * the text before a VS16 apart from it, so VS16 widens only what
	 * it makes an emoji */
	{ "space VS16", B(" \xEF\xB8\x8F" "x"), 2, { 4, 1 }, { 1, 1 } },
	{ "lone mark VS16", B("\xCC\x81\xEF\xB8\x8F"), 0, { 5 }, { 0 } },
	{ "letter VS16", B("a\xEF\xB8\x8F"), 1, { 4 }, { 1 } },
	{ "hash VS16", B("#\xEF\xB8\x8F"), 2, { 4 }, { 2 } },
};

static void test_width__clusters(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(width_cases) / sizeof(width_cases[0]);
	     i++) {
		const struct width_case *c = &width_cases[i];
		size_t off = 0;
		size_t k = 0;
		size_t starts[16];

		if (width_cols(c->s, c->len) != c->total)
			fail_msg("case '%s': width %d, want %d", c->name,
				 width_cols(c->s, c->len), c->total);
		while (off < c->len) {
			int cols = -1;
			size_t end = width_next(c->s, c->len, off, &cols);

			if (k >= 12 || c->bytes[k] == 0)
				fail_msg("case '%s': too many clusters",
					 c->name);
			if (end - off != c->bytes[k] || cols != c->cols[k])
				fail_msg("case '%s': cluster %zu is %zu bytes "
					 "%d cols, want %zu bytes %d cols",
					 c->name, k, end - off, cols,
					 c->bytes[k], c->cols[k]);
			starts[k++] = off;
			off = end;
		}
		if (k < 12 && c->bytes[k] != 0)
			fail_msg("case '%s': too few clusters", c->name);
		/* walking back finds the same boundaries */
		off = c->len;
		while (k > 0) {
			size_t p = width_prev(c->s, c->len, off);

			k--;
			if (p != starts[k])
				fail_msg("case '%s': prev of %zu is %zu, want "
					 "%zu", c->name, off, p, starts[k]);
			off = p;
		}
	}
}

static void test_width__next_at_end(void **state)
{
	int cols = 7;

	(void)state;
	assert_int_equal(width_next("ab", 2, 2, &cols), 2);
	assert_int_equal(cols, 0);
	assert_int_equal(width_prev("ab", 2, 0), 0);
}

/* Only len bytes are read: a sequence cut by len is invalid bytes. */
static void test_width__length_bound(void **state)
{
	const char s[] = "\xE4\xB8\xAD";
	int cols;

	(void)state;
	assert_int_equal(width_cols(s, 2), 2);
	assert_int_equal(width_next(s, 2, 0, &cols), 1);
	assert_int_equal(cols, 1);
	/* a mark just past len does not join */
	assert_int_equal(width_next("e\xCC\x81", 1, 0, &cols), 1);
}

static void test_width__fit(void **state)
{
	/* "a" "中" "e + acute" "👍🏽" "b" */
	const char s[] = "a\xE4\xB8\xAD" "e\xCC\x81"
			 "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD" "b";
	size_t len = sizeof(s) - 1;
	int used = -1;

	(void)state;
	assert_int_equal(width_fit(s, len, 0, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(width_fit(s, len, 1, &used), 1);
	assert_int_equal(used, 1);
	/* the wide character does not fit in 2: never half of it */
	assert_int_equal(width_fit(s, len, 2, &used), 1);
	assert_int_equal(used, 1);
	assert_int_equal(width_fit(s, len, 3, &used), 4);
	assert_int_equal(used, 3);
	/* the combining mark comes with its base */
	assert_int_equal(width_fit(s, len, 4, &used), 7);
	assert_int_equal(used, 4);
	assert_int_equal(width_fit(s, len, 5, &used), 7);
	assert_int_equal(width_fit(s, len, 6, &used), 15);
	assert_int_equal(used, 6);
	assert_int_equal(width_fit(s, len, 100, NULL), len);
}

/* Without a UTF-8 locale wcwidth() fails: the built-in tables still
 * give wide CJK and zero-width marks. */
static void test_width__c_locale_fallback(void **state)
{
	(void)state;
	assert_non_null(setlocale(LC_ALL, "C"));
	assert_int_equal(width_cols(B("\xE4\xB8\xAD")), 2);
	assert_int_equal(width_cols(B("e\xCC\x81")), 1);
	assert_int_equal(width_cols(B("\xF0\x9F\x98\x80")), 2);
	assert_int_equal(width_cols(B("\xC3\xA9")), 1);
	assert_non_null(setlocale(LC_ALL, "C.UTF-8"));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Linear on big inputs, including walking back over text with no ASCII
 * in it and a cluster of a hundred thousand marks.  A quadratic walk of
 * 1 MiB would take minutes; the 10 s bounds are guards against that, not
 * benchmarks, so a loaded sanitizer build still passes. */
#define WIDTH_LINEAR_MS 10000
static void test_width__speed(void **state)
{
	size_t n = 1 << 20;
	char *s = malloc(n);
	double t0;
	size_t off;
	size_t count = 0;

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + i % 26);
	t0 = now_ms();
	assert_int_equal(width_cols(s, n), (int)n);
	assert_true(now_ms() - t0 < WIDTH_LINEAR_MS);

	/* CJK only, walked back cluster by cluster */
	for (size_t i = 0; i + 3 <= n; i += 3)
		memcpy(s + i, "\xE4\xB8\xAD", 3);
	n -= n % 3;
	t0 = now_ms();
	assert_int_equal(width_cols(s, n), (int)(n / 3 * 2));
	off = n;
	while (off > 0) {
		off = width_prev(s, n, off);
		count++;
	}
	assert_int_equal(count, n / 3);
	assert_true(now_ms() - t0 < WIDTH_LINEAR_MS);

	/* one base and many marks: one cluster */
	s[0] = 'x';
	for (size_t i = 1; i + 2 <= n; i += 2)
		memcpy(s + i, "\xCC\x81", 2);
	n = 1 + (n - 1) / 2 * 2;
	t0 = now_ms();
	assert_int_equal(width_cols(s, n), 1);
	assert_int_equal(width_prev(s, n, n), 0);
	assert_true(now_ms() - t0 < WIDTH_LINEAR_MS);
	free(s);
}

static int setup(void **state)
{
	(void)state;
	return setlocale(LC_ALL, "C.UTF-8") ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width__clusters),
		cmocka_unit_test(test_width__next_at_end),
		cmocka_unit_test(test_width__length_bound),
		cmocka_unit_test(test_width__fit),
		cmocka_unit_test(test_width__c_locale_fallback),
		cmocka_unit_test(test_width__speed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
