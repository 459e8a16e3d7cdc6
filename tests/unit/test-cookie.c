/* test-cookie.c - reading one cookie out of a Cookie header. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cookie.h"
#include "err.h"

/* header, name -> rc, value (when rc is 0) */
static const struct {
	const char *header;
	const char *name;
	int rc;
	const char *value;
} cookie_cases[] = {
	{ "a=1", "a", 0, "1" },
	{ "a=1; b=2", "b", 0, "2" },
	{ "a=1;b=2", "b", 0, "2" },
	{ " a = 1 ;\tb=2 ", "a", 0, "1" },
	{ "a=\"q v\"", "a", 0, "q v" },
	{ "a=", "a", 0, "" },
	{ "a=x=y", "a", 0, "x=y" },
	{ "A=1", "a", CHAT_ENOTFOUND, NULL },
	{ "ab=1; xa=2", "a", CHAT_ENOTFOUND, NULL },
	{ "a", "a", CHAT_ENOTFOUND, NULL },
	{ "noeq; a=3", "a", 0, "3" },
	{ ";;; a=4;;", "a", 0, "4" },
	{ "", "a", CHAT_ENOTFOUND, NULL },
	{ NULL, "a", CHAT_ENOTFOUND, NULL },
	{ "a=1; a=2", "a", CHAT_ECONFLICT, NULL },
	{ "a=1; b=2; a=1", "a", CHAT_ECONFLICT, NULL },
	{ "a=0123456789abcdef", "a", CHAT_ETOOBIG, NULL },
	{ "__Secure-chat_refresh=tok; chat_refresh=x",
	  COOKIE_REFRESH_NAME, 0, "tok" },
	{ "chat_refresh=x", COOKIE_REFRESH_NAME, CHAT_ENOTFOUND, NULL },
};

static void test_cookie__get_table(void **state)
{
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cookie_cases) / sizeof(cookie_cases[0]); i++) {
		int rc = cookie_get(cookie_cases[i].header,
				    cookie_cases[i].name, out, sizeof(out));

		if (rc != cookie_cases[i].rc)
			fail_msg("case %zu '%s': rc %d, expected %d", i,
				 cookie_cases[i].header ? cookie_cases[i].header
							: "(null)",
				 rc, cookie_cases[i].rc);
		if (rc == 0)
			assert_string_equal(out, cookie_cases[i].value);
	}
}

/* A value of exactly outlen - 1 bytes fits; one more does not, and out
 * is never left holding a cut value. */
static void test_cookie__fits_exactly(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(cookie_get("a=xyz", "a", out, sizeof(out)), 0);
	assert_string_equal(out, "xyz");
	assert_int_equal(cookie_get("a=wxyz", "a", out, sizeof(out)),
			 CHAT_ETOOBIG);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie__get_table),
		cmocka_unit_test(test_cookie__fits_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
