/*
 * test-gatewayd-web-path.c - the web page's request paths, types,
 * hashed names, entity tags and Accept-Encoding (daemons/gatewayd/
 * web-path.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../daemons/gatewayd/web-path.h"
#include "banned.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct key_case {
	const char *path;		/* as the server decoded it */
	enum web_path_kind want;
	const char *want_key;		/* for FILE and ROUTE */
};

static const struct key_case key_cases[] = {
	{ "/", WEB_PATH_FILE, "index.html" },
	{ "/index.html", WEB_PATH_FILE, "index.html" },
	{ "/js/app.js", WEB_PATH_FILE, "js/app.js" },
	{ "/vendor/dompurify-0123abcd.min.js", WEB_PATH_FILE,
	  "vendor/dompurify-0123abcd.min.js" },
	{ "/c/01900000-0000-7000-8000-000000000001", WEB_PATH_ROUTE,
	  "c/01900000-0000-7000-8000-000000000001" },
	{ "/settings", WEB_PATH_ROUTE, "settings" },
	{ "/js", WEB_PATH_ROUTE, "js" },
	{ "/a.b/c", WEB_PATH_ROUTE, "a.b/c" },	/* the last segment counts */
	{ "/caf\xc3\xa9.txt", WEB_PATH_FILE, "caf\xc3\xa9.txt" },
	/* dot segments, as sent and as decoded from %2e */
	{ "/..", WEB_PATH_BAD, NULL },
	{ "/../etc/passwd", WEB_PATH_BAD, NULL },
	{ "/js/../index.html", WEB_PATH_BAD, NULL },
	{ "/js/..", WEB_PATH_BAD, NULL },
	{ "/.", WEB_PATH_BAD, NULL },
	{ "/./index.html", WEB_PATH_BAD, NULL },
	{ "/js/.", WEB_PATH_BAD, NULL },
	{ "/...", WEB_PATH_BAD, NULL },
	{ "/.git/config", WEB_PATH_BAD, NULL },
	{ "/js/.env", WEB_PATH_BAD, NULL },
	/* empty segments */
	{ "//index.html", WEB_PATH_BAD, NULL },
	{ "/js//app.js", WEB_PATH_BAD, NULL },
	{ "/js/", WEB_PATH_BAD, NULL },
	{ "//", WEB_PATH_BAD, NULL },
	/* backslashes, a second layer of encoding, control bytes */
	{ "/..\\..\\etc\\passwd", WEB_PATH_BAD, NULL },
	{ "/js\\app.js", WEB_PATH_BAD, NULL },
	{ "/%2e%2e/etc/passwd", WEB_PATH_BAD, NULL },
	{ "/js%2fapp.js", WEB_PATH_BAD, NULL },
	{ "/index.html%00", WEB_PATH_BAD, NULL },
	{ "/a\tb", WEB_PATH_BAD, NULL },
	{ "/a\x7f", WEB_PATH_BAD, NULL },
	{ "/a\rb", WEB_PATH_BAD, NULL },
	/* not a path */
	{ "", WEB_PATH_BAD, NULL },
	{ "index.html", WEB_PATH_BAD, NULL },
	{ "*", WEB_PATH_BAD, NULL },
};

static void test_gatewayd_web_path__key(void **state)
{
	char key[WEB_PATH_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(key_cases); i++) {
		const struct key_case *c = &key_cases[i];
		enum web_path_kind got;

		memset(key, 'x', sizeof(key));
		key[sizeof(key) - 1] = '\0';
		got = web_path_key(c->path, key, sizeof(key));
		if (got != c->want)
			fail_msg("case %zu '%s': got kind %d, want %d", i,
				 c->path, got, c->want);
		if (c->want_key && strcmp(key, c->want_key) != 0)
			fail_msg("case %zu '%s': got key '%s', want '%s'", i,
				 c->path, key, c->want_key);
	}
}

static void test_gatewayd_web_path__key_lengths(void **state)
{
	char path[WEB_PATH_MAX + 2], key[WEB_PATH_MAX], small[8];

	(void)state;
	/* WEB_PATH_MAX bytes: the longest path that is read */
	path[0] = '/';
	memset(path + 1, 'a', WEB_PATH_MAX - 1);
	path[WEB_PATH_MAX] = '\0';
	assert_int_equal(web_path_key(path, key, sizeof(key)),
			 WEB_PATH_ROUTE);
	assert_int_equal(strlen(key), WEB_PATH_MAX - 1);
	/* one more: 414 */
	path[WEB_PATH_MAX] = 'a';
	path[WEB_PATH_MAX + 1] = '\0';
	assert_int_equal(web_path_key(path, key, sizeof(key)),
			 WEB_PATH_TOO_LONG);
	/* a key buffer too small is never overrun */
	assert_int_equal(web_path_key("/abcdefgh", small, sizeof(small)),
			 WEB_PATH_TOO_LONG);
	assert_int_equal(web_path_key("/abcdefg", small, sizeof(small)),
			 WEB_PATH_ROUTE);
	assert_string_equal(small, "abcdefg");
	assert_int_equal(web_path_key("/", small, sizeof(small)),
			 WEB_PATH_BAD);
	assert_int_equal(web_path_key(NULL, key, sizeof(key)), WEB_PATH_BAD);
}

static void test_gatewayd_web_path__type(void **state)
{
	static const struct {
		const char *name;
		const char *type;
		bool compress;
	} cases[] = {
		{ "index.html", "text/html; charset=utf-8", true },
		{ "js/app.js", "text/javascript; charset=utf-8", true },
		{ "app.css", "text/css; charset=utf-8", true },
		{ "i.svg", "image/svg+xml", true },
		{ "i.png", "image/png", false },
		{ "favicon.ico", "image/x-icon", true },
		{ "d.json", "application/json", true },
		{ "f.woff2", "font/woff2", false },
		{ "LICENSE.txt", "text/plain; charset=utf-8", true },
		{ "js/app.js.map", "application/json", true },
		{ "x.JS", "application/octet-stream", false },
		{ "LICENSE", "application/octet-stream", false },
		{ "a.b/LICENSE", "application/octet-stream", false },
		{ "a.", "application/octet-stream", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		bool compress = !cases[i].compress;

		assert_string_equal(web_path_type(cases[i].name, &compress),
				    cases[i].type);
		if (compress != cases[i].compress)
			fail_msg("'%s': compress %d", cases[i].name, compress);
	}
}

static void test_gatewayd_web_path__hashed(void **state)
{
	static const struct {
		const char *name;
		bool want;
	} cases[] = {
		{ "vendor/marked-0123abcd.js", true },
		{ "vendor/marked-0123456789abcdef.js", true },
		{ "vendor/marked-0123ABCD.js", true },
		{ "vendor/dompurify-0123abcd.min.js", true },
		{ "vendor/my-lib-0123abcd.js", true },
		{ "app-0123abcd.js.map", true },
		{ "vendor/marked-0123abc.js", false },	/* 7 digits */
		{ "vendor/marked-0123456789abcdef0.js", false },	/* 17 */
		{ "vendor/marked-0123abcg.js", false },
		{ "vendor/marked-0123abcd", false },	/* no extension */
		{ "vendor/marked-0123abcd.", false },
		{ "-0123abcd.js", false },		/* no stem */
		{ "vendor/-0123abcd.js", false },
		{ "0123abcd-x/app.js", false },		/* a directory's */
		{ "app.js", false },
		{ "vendor/marked-0123abcd.x-y", false },
		{ "", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (web_path_hashed(cases[i].name) != cases[i].want)
			fail_msg("'%s': want %d", cases[i].name, cases[i].want);
}

static void test_gatewayd_web_path__etag_match(void **state)
{
	static const struct {
		const char *inm;
		bool want;
	} cases[] = {
		{ "\"abc\"", true },
		{ "W/\"abc\"", true },
		{ "\"x\", \"abc\"", true },
		{ "\"x\",\"abc\"", true },
		{ "  \"x\" ,\t\"abc\"  ", true },
		{ "*", true },
		{ "\"abcd\"", false },
		{ "\"ab\"", false },
		{ "abc", false },
		{ "\"abc", false },
		{ "\"x\" junk, \"abc\"", false },
		{ "", false },
		{ ",,,", false },
		{ "W/", false },
		{ NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (web_etag_match(cases[i].inm, "\"abc\"") != cases[i].want)
			fail_msg("'%s': want %d", cases[i].inm ? cases[i].inm :
				 "(null)", cases[i].want);
}

static void test_gatewayd_web_path__accepts_gzip(void **state)
{
	static const struct {
		const char *ae;
		bool want;
	} cases[] = {
		{ "gzip", true },
		{ "gzip, deflate, br", true },
		{ "br, GZIP", true },
		{ "x-gzip", true },
		{ "gzip;q=0.5", true },
		{ "gzip; q=1", true },
		{ "gzip;q=0.001", true },
		{ "*", true },
		{ "br, *;q=0.1", true },
		{ "gzip;q=0", false },
		{ "gzip;q=0.0", false },
		{ "gzip;q=0.000", false },
		{ "gzip;q=0, *", false },	/* named and refused */
		{ "*;q=0", false },
		{ "identity", false },
		{ "br, deflate", false },
		{ "gzipx", false },
		{ "xgzip", false },
		{ "", false },
		{ NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (web_accepts_gzip(cases[i].ae) != cases[i].want)
			fail_msg("'%s': want %d", cases[i].ae ? cases[i].ae :
				 "(null)", cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gatewayd_web_path__key),
		cmocka_unit_test(test_gatewayd_web_path__key_lengths),
		cmocka_unit_test(test_gatewayd_web_path__type),
		cmocka_unit_test(test_gatewayd_web_path__hashed),
		cmocka_unit_test(test_gatewayd_web_path__etag_match),
		cmocka_unit_test(test_gatewayd_web_path__accepts_gzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
