/* test-page.c - cursor pagination: ?limit= and ?cursor= read the same
 * way for every list route (page_parse), and the {"data", "next_cursor"}
 * answer (page_json), its cursor read back by page_parse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "b64url.h"
#include "err.h"
#include "page.h"

#define LIMIT_MSG "'limit' must be an integer from 1 to 100"
#define CURSOR_MSG "'cursor' is not a cursor this server gave"

/* The test's cursors are "ok..." (check says yes) or anything else. */
static bool page_check_ok(struct page *p, void *arg)
{
	int *calls = arg;

	(*calls)++;
	return strncmp(p->cursor, "ok", 2) == 0;
}

struct page_case {
	const char *query;
	int rc;			/* of page_parse */
	long limit;		/* when rc is 0 */
	const char *cursor;	/* decoded; NULL: none */
	const char *err;	/* when rc is not 0 */
};

/* base64url: "b2s" is "ok", "b2stMTI" "ok-12", "bm8" "no", "b2sA" "ok\0" */
static const struct page_case page_cases[] = {
	{ "", 0, 20, NULL, NULL },
	{ "limit=1", 0, 1, NULL, NULL },
	{ "limit=100", 0, 100, NULL, NULL },
	{ "limit=007", 0, 7, NULL, NULL },
	{ "x=1&limit=5&y=2", 0, 5, NULL, NULL },
	{ "limit=0", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=101", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=-1", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=%2B5", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=%205", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=5%20", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=abc", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=5x", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=1.5", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=99999999999999999999", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=%ZZ", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "limit=0&cursor=!!", CHAT_EINVAL, 0, NULL, LIMIT_MSG },
	{ "cursor=", 0, 20, NULL, NULL },
	{ "cursor=b2s", 0, 20, "ok", NULL },
	{ "limit=3&cursor=b2stMTI", 0, 3, "ok-12", NULL },
	{ "cursor=bm8", CHAT_EINVAL, 0, NULL, CURSOR_MSG },	/* "no" */
	{ "cursor=b2t", CHAT_EINVAL, 0, NULL, CURSOR_MSG },	/* bits */
	{ "cursor=b2s=", CHAT_EINVAL, 0, NULL, CURSOR_MSG },	/* padded */
	{ "cursor=b2s%2B", CHAT_EINVAL, 0, NULL, CURSOR_MSG },	/* '+' */
	{ "cursor=!!", CHAT_EINVAL, 0, NULL, CURSOR_MSG },
	{ "cursor=b2sA", CHAT_EINVAL, 0, NULL, CURSOR_MSG },	/* a NUL */
	{ "cursor=%ZZ", CHAT_EINVAL, 0, NULL, CURSOR_MSG },
};

static void test_page__parse(void **state)
{
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(page_cases) / sizeof(page_cases[0]);
	     i++) {
		const struct page_case *c = &page_cases[i];
		struct http_req req = { .query = c->query };
		struct page p;
		int calls = 0;
		int rc;

		err[0] = '\0';
		rc = page_parse(&req, 20, 100, page_check_ok, &calls, &p, err,
				sizeof(err));
		if (rc != c->rc)
			fail_msg("?%s: page_parse gave %d", c->query, rc);
		if (rc < 0) {
			if (strcmp(err, c->err) != 0)
				fail_msg("?%s: '%s'", c->query, err);
			assert_false(p.has_cursor);
			continue;
		}
		assert_int_equal(p.limit, c->limit);
		assert_int_equal(p.has_cursor, c->cursor != NULL);
		assert_int_equal(calls, c->cursor != NULL);
		assert_string_equal(p.cursor, c->cursor ? c->cursor : "");
		assert_int_equal(p.cursor_len, strlen(p.cursor));
	}
}

/* A cursor decoding to more than PAGE_CURSOR_MAX bytes is refused. */
static void test_page__cursor_too_long(void **state)
{
	char raw[PAGE_CURSOR_MAX + 2], text[B64URL_ENCODED_SIZE(sizeof(raw))];
	char query[sizeof(text) + 8], err[128];
	struct http_req req = { .query = query };
	struct page p;

	(void)state;
	for (size_t n = PAGE_CURSOR_MAX; n <= PAGE_CURSOR_MAX + 1; n++) {
		memset(raw, 'o', n);
		raw[0] = 'o';
		raw[1] = 'k';
		assert_int_equal(b64url_encode(raw, n, text, sizeof(text)), 0);
		snprintf(query, sizeof(query), "cursor=%s", text);
		assert_int_equal(page_parse(&req, 20, 100, NULL, NULL, &p, err,
					    sizeof(err)),
				 n <= PAGE_CURSOR_MAX ? 0 : CHAT_EINVAL);
		if (n <= PAGE_CURSOR_MAX)
			assert_int_equal(p.cursor_len, n);
	}
}

/* Without a check every well-formed cursor is taken. */
static void test_page__no_check(void **state)
{
	struct http_req req = { .query = "cursor=bm8" };
	struct page p;
	char err[128];

	(void)state;
	assert_int_equal(page_parse(&req, 20, 100, NULL, NULL, &p, err,
				    sizeof(err)), 0);
	assert_true(p.has_cursor);
	assert_string_equal(p.cursor, "no");
}

/* The answer: data and next_cursor, which page_parse reads back. */
static void test_page__json(void **state)
{
	char *s, query[256], err[128], big[PAGE_CURSOR_MAX + 1];
	struct http_req req = { .query = query };
	struct page p;
	cJSON *data, *obj;
	const cJSON *next;
	int calls = 0;

	(void)state;
	data = cJSON_CreateArray();
	assert_non_null(data);
	obj = page_json(data, NULL, 0);
	assert_non_null(obj);
	s = cJSON_PrintUnformatted(obj);
	assert_string_equal(s, "{\"data\":[],\"next_cursor\":null}");
	cJSON_free(s);
	cJSON_Delete(obj);

	data = cJSON_CreateArray();
	assert_non_null(data);
	cJSON_AddItemToArray(data, cJSON_CreateNumber(1));
	obj = page_json(data, "ok:1700000000000:x", 18);
	assert_non_null(obj);
	next = cJSON_GetObjectItemCaseSensitive(obj, "next_cursor");
	assert_true(cJSON_IsString(next));
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(obj, "data")), 1);
	snprintf(query, sizeof(query), "cursor=%s", next->valuestring);
	cJSON_Delete(obj);
	assert_int_equal(page_parse(&req, 20, 100, page_check_ok, &calls, &p,
				    err, sizeof(err)), 0);
	assert_string_equal(p.cursor, "ok:1700000000000:x");

	/* a cursor longer than any page_parse takes is not handed out;
	 * data is freed (the leak checkers would say otherwise) */
	memset(big, 'x', sizeof(big));
	data = cJSON_CreateArray();
	assert_non_null(data);
	assert_null(page_json(data, big, sizeof(big)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page__parse),
		cmocka_unit_test(test_page__cursor_too_long),
		cmocka_unit_test(test_page__no_check),
		cmocka_unit_test(test_page__json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
