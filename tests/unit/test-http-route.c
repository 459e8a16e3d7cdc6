/*
 * test-http-route.c - route pattern matching and table lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http-route.h"

struct match_case {
	const char *pattern;
	bool prefix;
	const char *path;
	bool want;
	const char *want_param;		/* value of the first capture */
};

static const struct match_case match_cases[] = {
	{ "/healthz", false, "/healthz", true, NULL },
	{ "/healthz", false, "/healthz/", false, NULL },
	{ "/healthz", false, "/health", false, NULL },
	{ "/healthz", false, "/healthzz", false, NULL },
	{ "/v1/apikeys/{id}", false, "/v1/apikeys/abc", true, "abc" },
	{ "/v1/apikeys/{id}", false, "/v1/apikeys/", false, NULL },
	{ "/v1/apikeys/{id}", false, "/v1/apikeys", false, NULL },
	{ "/v1/apikeys/{id}", false, "/v1/apikeys/a/b", false, NULL },
	{ "/v1/c/{id}/messages/{mid}", false, "/v1/c/1/messages/2", true, "1" },
	{ "/v1/auth", true, "/v1/auth", true, NULL },
	{ "/v1/auth", true, "/v1/auth/login", true, NULL },
	{ "/v1/auth", true, "/v1/authx", false, NULL },
	{ "/", true, "/anything/at/all", true, NULL },
	{ "/", false, "/x", false, NULL },
	{ "/x", false, "x", false, NULL },
	{ "/x", false, "", false, NULL },
};

static void test_http_route__match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		struct http_route_match m;
		bool got = http_route_match(c->pattern, c->prefix, c->path, &m);

		if (got != c->want)
			fail_msg("case %zu: '%s' vs '%s': got %d", i,
				 c->pattern, c->path, got);
		if (got && c->want_param) {
			assert_true(m.n >= 1);
			assert_int_equal(m.value_lens[0], strlen(c->want_param));
			assert_memory_equal(m.values[0], c->want_param,
					    m.value_lens[0]);
		}
	}
}

static void handler_a(struct http_req *req, struct http_res *res)
{
	(void)req;
	(void)res;
}

static void handler_b(struct http_req *req, struct http_res *res)
{
	(void)req;
	(void)res;
}

static const struct http_route table[] = {
	{ "GET", "/v1/apikeys", HTTP_PERM_USER, handler_a, 0 },
	{ "POST", "/v1/apikeys", HTTP_PERM_USER, handler_b, 0 },
	{ "DELETE", "/v1/apikeys/{id}", HTTP_PERM_USER, handler_a, 0 },
	{ "*", "/v1/any", HTTP_PERM_PUBLIC, handler_b, HTTP_ROUTE_PREFIX },
};

static void test_http_route__find(void **state)
{
	const struct http_route *r;
	struct http_route_match m;

	(void)state;
	assert_int_equal(http_route_find(table, 4, "GET", "/v1/apikeys", &r, &m),
			 HTTP_ROUTE_FOUND);
	assert_ptr_equal(r, &table[0]);
	assert_int_equal(http_route_find(table, 4, "POST", "/v1/apikeys", &r,
					 &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(r, &table[1]);
	assert_int_equal(http_route_find(table, 4, "HEAD", "/v1/apikeys", &r,
					 &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(r, &table[0]);
	assert_int_equal(http_route_find(table, 4, "PATCH", "/v1/apikeys", &r,
					 &m), HTTP_ROUTE_NO_METHOD);
	assert_null(r);
	assert_int_equal(http_route_find(table, 4, "DELETE", "/v1/apikeys/k1",
					 &r, &m), HTTP_ROUTE_FOUND);
	assert_int_equal(m.n, 1);
	assert_int_equal(http_route_find(table, 4, "GET", "/v1/nope", &r, &m),
			 HTTP_ROUTE_NO_PATH);
	assert_int_equal(http_route_find(table, 4, "PUT", "/v1/any/x/y", &r,
					 &m), HTTP_ROUTE_FOUND);
	assert_ptr_equal(r, &table[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_route__match),
		cmocka_unit_test(test_http_route__find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
