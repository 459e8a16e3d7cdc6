/* test-tui-usage.c - the usage screen's bars (tui/usage-bar.c): their
 * width in columns against the value, eighth blocks for the rest, '#'
 * without UTF-8, a value above 0 never drawn empty, the buffer's end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../tui/pane.h"

#define FULL "\xe2\x96\x88"		/* U+2588 full block */
#define HALF "\xe2\x96\x8c"		/* U+258C left half block */
#define EIGHTH "\xe2\x96\x8f"		/* U+258F left one eighth block */
#define SEVEN "\xe2\x96\x89"		/* U+2589 left seven eighths */

static void test_tui_usage__bar(void **state)
{
	static const struct {
		long long value, max;
		int cols;
		bool utf8;
		const char *want;
	} cases[] = {
		{ 10, 10, 4, true, FULL FULL FULL FULL },
		{ 5, 10, 4, true, FULL FULL },
		{ 5, 10, 3, true, FULL HALF },		/* 1.5 cells */
		{ 1, 80, 1, true, EIGHTH },		/* 1/80: still seen */
		{ 1, 1000000, 40, true, EIGHTH },
		{ 7, 8, 1, true, SEVEN },
		{ 0, 10, 4, true, "" },
		{ 10, 0, 4, true, "" },
		{ 10, 10, 0, true, "" },
		{ 20, 10, 2, true, FULL FULL },		/* above max: cut */
		{ 10, 10, 4, false, "####" },
		{ 5, 10, 3, false, "##" },		/* 1.5 rounds up */
		{ 1, 1000, 10, false, "#" },
		{ 0, 10, 4, false, "" },
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		usage_bar(cases[i].value, cases[i].max, cases[i].cols,
			  cases[i].utf8, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out,
				 cases[i].want);
	}
}

static void test_tui_usage__bar_buffer_end(void **state)
{
	char out[8];

	(void)state;
	/* two full blocks fit with the NUL, a third does not */
	memset(out, 'x', sizeof(out));
	usage_bar(10, 10, 10, true, out, sizeof(out));
	assert_string_equal(out, FULL FULL);
	usage_bar(10, 10, 100, false, out, sizeof(out));
	assert_string_equal(out, "#######");
	usage_bar(10, 10, 100, false, out, 1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tui_usage__bar),
		cmocka_unit_test(test_tui_usage__bar_buffer_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
