/* test-cli-usage.c - the query of chatctl's usage reports (cli/usage.c):
 * --from and --to must be real calendar days written YYYY-MM-DD, --by
 * one of the verb's groups, and the parameters are appended after the
 * path's '?' (which goes when nothing follows it). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../cli/chatctl.h"
#include "cli-main-stub.h"

static const struct {
	const char *from, *to, *by;	/* NULL: not given */
	const char *groups;
	int exit;
	const char *path;		/* when CLI_OK */
} usage_cases[] = {
	{ NULL, NULL, NULL, "day|model", CLI_OK, "/u" },
	{ "2025-01-31", NULL, NULL, "day|model", CLI_OK, "/u?from=2025-01-31" },
	{ "2024-02-29", "2024-03-01", "model", "day|model", CLI_OK,
	  "/u?from=2024-02-29&to=2024-03-01&group_by=model" },
	{ NULL, "2025-12-31", "user", "day|user|model", CLI_OK,
	  "/u?to=2025-12-31&group_by=user" },
	{ "2025-02-29", NULL, NULL, "day|model", CLI_USAGE, NULL },
	{ "2025-13-01", NULL, NULL, "day|model", CLI_USAGE, NULL },
	{ "2025-04-31", NULL, NULL, "day|model", CLI_USAGE, NULL },
	{ "2025-1-01", NULL, NULL, "day|model", CLI_USAGE, NULL },
	{ "2025-01-01x", NULL, NULL, "day|model", CLI_USAGE, NULL },
	{ NULL, "yesterday", NULL, "day|model", CLI_USAGE, NULL },
	{ NULL, "", NULL, "day|model", CLI_USAGE, NULL },
	{ NULL, NULL, "user", "day|model", CLI_USAGE, NULL },
	{ NULL, NULL, "da", "day|model", CLI_USAGE, NULL },
	{ NULL, NULL, "", "day|model", CLI_USAGE, NULL },
	{ NULL, NULL, "day&x=1", "day|model", CLI_USAGE, NULL },
};

static void test_usage__query(void **state)
{
	struct cli_args a;
	struct buf path;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.val[OPT_FROM] = usage_cases[i].from;
		a.val[OPT_TO] = usage_cases[i].to;
		a.val[OPT_BY] = usage_cases[i].by;
		buf_init(&path, 256);
		assert_int_equal(buf_puts(&path, "/u?"), 0);
		rc = ctl_usage_query(&a, usage_cases[i].groups, &path);
		if (rc != usage_cases[i].exit)
			fail_msg("case %zu: exit %d, want %d", i, rc,
				 usage_cases[i].exit);
		if (rc == CLI_OK && strcmp(path.data, usage_cases[i].path) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, path.data,
				 usage_cases[i].path);
		buf_release(&path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage__query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
