/* test-json.c - request body parsing, field getters, RFC 3339 times. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "json.h"

struct json_parse_case {
	const char *name;
	const char *body;
	size_t len;		/* 0: strlen(body) */
	int rc;
	const char *err;	/* expected message prefix */
};

static const struct json_parse_case json_parse_cases[] = {
	{ "object", "{\"a\":1}", 0, 0, NULL },
	{ "object with blanks", " \n\t{ \"a\" : [1, {\"b\": null}] }\r\n ", 0,
	  0, NULL },
	{ "empty object", "{}", 0, 0, NULL },
	{ "unicode escapes", "{\"a\":\"\\u00e9\\ud83d\\ude00\"}", 0, 0, NULL },
	{ "empty body", "", 0, CHAT_EPARSE, "malformed JSON" },
	{ "blank body", "   ", 0, CHAT_EPARSE, "malformed JSON" },
	{ "unclosed object", "{\"a\":1", 0, CHAT_EPARSE, "malformed JSON" },
	{ "single quotes", "{'a':1}", 0, CHAT_EPARSE, "malformed JSON" },
	{ "trailing comma", "{\"a\":1,}", 0, CHAT_EPARSE, "malformed JSON" },
	{ "trailing garbage", "{\"a\":1}x", 0, CHAT_EPARSE, "malformed JSON" },
	{ "two objects", "{}{}", 0, CHAT_EPARSE, "malformed JSON" },
	{ "trailing garbage after blank", "{} 1", 0, CHAT_EPARSE,
	  "malformed JSON" },
	{ "array", "[1,2]", 0, CHAT_EPARSE, "body must be a JSON object" },
	{ "string", "\"x\"", 0, CHAT_EPARSE, "body must be a JSON object" },
	{ "number", "42", 0, CHAT_EPARSE, "body must be a JSON object" },
	{ "null", "null", 0, CHAT_EPARSE, "body must be a JSON object" },
	{ "broken UTF-8 in string", "{\"a\":\"\xC3\"}", 0, CHAT_EPARSE,
	  "body is not valid UTF-8" },
	{ "overlong in key", "{\"\xC0\xAF\":1}", 0, CHAT_EPARSE,
	  "body is not valid UTF-8" },
	{ "surrogate bytes", "{\"a\":\"\xED\xA0\x80\"}", 0, CHAT_EPARSE,
	  "body is not valid UTF-8" },
	{ "NUL byte inside", "{\"a\":1}\0garbage", 15, CHAT_EPARSE,
	  "body is not valid UTF-8" },
	{ "lone low surrogate escape", "{\"a\":\"\\udc00\"}", 0, CHAT_EPARSE,
	  "malformed JSON" },
	{ "keys equal once cut at a NUL", "{\"a\\u0000b\":1,\"a\\u0000c\":2}",
	  0, CHAT_EPARSE, "duplicate key 'a'" },
};

static void test_json__parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(json_parse_cases) / sizeof(json_parse_cases[0]);
	     i++) {
		const struct json_parse_case *c = &json_parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->body);
		char err[128] = "";
		cJSON *obj = (cJSON *)1;
		int rc;

		rc = json_parse_object(c->body, len, &obj, err, sizeof(err));
		if (rc != c->rc)
			fail_msg("case '%s': rc %d, want %d (%s)", c->name, rc,
				 c->rc, err);
		if (rc == 0) {
			if (!cJSON_IsObject(obj))
				fail_msg("case '%s': no object", c->name);
			cJSON_Delete(obj);
			continue;
		}
		if (obj)
			fail_msg("case '%s': *out not NULL", c->name);
		if (strncmp(err, c->err, strlen(c->err)) != 0)
			fail_msg("case '%s': message '%s', want '%s'", c->name,
				 err, c->err);
	}
}

/* The body is not NUL-terminated: only len bytes may be read. */
static void test_json__parse_length_bound(void **state)
{
	const char text[] = "{\"a\":1}{\"b\":2}";
	char err[128];
	cJSON *obj;

	(void)state;
	assert_int_equal(json_parse_object(text, 7, &obj, err, sizeof(err)), 0);
	assert_non_null(cJSON_GetObjectItem(obj, "a"));
	cJSON_Delete(obj);
	assert_int_equal(json_parse_object(text, 6, &obj, err, sizeof(err)),
			 CHAT_EPARSE);
}

/* {"a":[[...]]} nested depth levels deep ({"a":1} for 1). */
static char *json_deep(int depth)
{
	char *s = malloc((size_t)depth * 2 + 8);
	size_t n = 0;
	int i;

	s[n++] = '{';
	memcpy(s + n, "\"a\":", 4);
	n += 4;
	for (i = 1; i < depth; i++)
		s[n++] = '[';
	for (i = 1; i < depth; i++)
		s[n++] = ']';
	if (depth == 1) {
		memcpy(s + n, "1", 1);
		n += 1;
	}
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

static void test_json__deep_nesting(void **state)
{
	static const struct {
		int depth;
		int rc;
	} cases[] = {
		{ 1, 0 }, { 2, 0 }, { 64, 0 }, { 65, CHAT_EPARSE },
		{ 100000, CHAT_EPARSE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = json_deep(cases[i].depth), err[128] = "";
		cJSON *obj = NULL;
		int rc = json_parse_object(s, strlen(s), &obj, err,
					   sizeof(err));

		if (rc != cases[i].rc)
			fail_msg("depth %d: rc %d (%s)", cases[i].depth, rc,
				 err);
		if (rc < 0)
			assert_non_null(strstr(err, "nested"));
		cJSON_Delete(obj);
		free(s);
	}
	/* Brackets inside strings do not count. */
	{
		char body[300], err[128];
		cJSON *obj = NULL;
		size_t n = 0;
		int i2;

		n += (size_t)snprintf(body, sizeof(body), "{\"a\":\"");
		for (i2 = 0; i2 < 200; i2++)
			body[n++] = '[';
		body[n++] = '"';
		body[n++] = '}';
		body[n] = '\0';
		assert_int_equal(json_parse_object(body, n, &obj, err,
						   sizeof(err)), 0);
		cJSON_Delete(obj);
	}
}

static const char json_fields[] =
	"{\"username\":\"alice\",\"n\":42,\"neg\":-7,\"frac\":1.5,"
	"\"big\":1e300,\"flag\":true,\"nul\":null,\"arr\":[],"
	"\"empty\":\"\",\"num_str\":\"42\"}";

struct json_get_case {
	const char *name;
	char kind;		/* 's' string, 'b' bool, 'i' int */
	const char *key;
	bool required;
	int rc;
	const char *err;	/* exact message, or NULL */
};

static const struct json_get_case json_get_cases[] = {
	{ "string ok", 's', "username", true, 0, NULL },
	{ "string missing required", 's', "password", true, CHAT_EINVAL,
	  "'password' is required" },
	{ "string missing optional", 's', "password", false, CHAT_ENOTFOUND,
	  NULL },
	{ "string is number", 's', "n", true, CHAT_EINVAL,
	  "'n' must be a string" },
	{ "string is null", 's', "nul", false, CHAT_EINVAL,
	  "'nul' must be a string" },
	{ "string too short", 's', "empty", true, CHAT_EINVAL,
	  "'empty' must be 1 to 8 bytes" },
	{ "bool ok", 'b', "flag", true, 0, NULL },
	{ "bool is string", 'b', "username", true, CHAT_EINVAL,
	  "'username' must be a boolean" },
	{ "bool missing required", 'b', "other", true, CHAT_EINVAL,
	  "'other' is required" },
	{ "bool missing optional", 'b', "other", false, CHAT_ENOTFOUND, NULL },
	{ "int ok", 'i', "n", true, 0, NULL },
	{ "int below min", 'i', "neg", true, CHAT_EINVAL,
	  "'neg' must be an integer from 0 to 100" },
	{ "int fraction", 'i', "frac", true, CHAT_EINVAL,
	  "'frac' must be an integer from 0 to 100" },
	{ "int huge", 'i', "big", true, CHAT_EINVAL,
	  "'big' must be an integer from 0 to 100" },
	{ "int as string", 'i', "num_str", true, CHAT_EINVAL,
	  "'num_str' must be an integer from 0 to 100" },
	{ "int is array", 'i', "arr", true, CHAT_EINVAL,
	  "'arr' must be an integer from 0 to 100" },
	{ "int missing required", 'i', "limit", true, CHAT_EINVAL,
	  "'limit' is required" },
};

static void test_json__getters(void **state)
{
	cJSON *obj;
	char err[128];
	size_t i;

	(void)state;
	assert_int_equal(json_parse_object(json_fields, strlen(json_fields),
					   &obj, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(json_get_cases) / sizeof(json_get_cases[0]);
	     i++) {
		const struct json_get_case *c = &json_get_cases[i];
		const char *s = "untouched";
		bool b = false;
		int64_t n = -1;
		int rc = 0;

		err[0] = '\0';
		if (c->kind == 's')
			rc = json_get_string(obj, c->key, c->required, 1, 8, &s,
					     err, sizeof(err));
		else if (c->kind == 'b')
			rc = json_get_bool(obj, c->key, c->required, &b, err,
					   sizeof(err));
		else
			rc = json_get_int(obj, c->key, c->required, 0, 100, &n,
					  err, sizeof(err));
		if (rc != c->rc)
			fail_msg("case '%s': rc %d, want %d (%s)", c->name, rc,
				 c->rc, err);
		if (c->err && strcmp(err, c->err) != 0)
			fail_msg("case '%s': message '%s', want '%s'", c->name,
				 err, c->err);
		if (rc == CHAT_ENOTFOUND &&
		    (strcmp(s, "untouched") != 0 || b || n != -1))
			fail_msg("case '%s': out was touched", c->name);
	}
	{
		const char *s = NULL;
		bool b = false;
		int64_t n = 0;

		assert_int_equal(json_get_string(obj, "username", true, 3, 64,
						 &s, err, sizeof(err)), 0);
		assert_string_equal(s, "alice");
		assert_int_equal(json_get_string(obj, "username", true, 1, 4,
						 &s, err, sizeof(err)),
				 CHAT_EINVAL);
		assert_string_equal(err, "'username' must be 1 to 4 bytes");
		assert_int_equal(json_get_string(obj, "username", true, 0, 4,
						 &s, err, sizeof(err)),
				 CHAT_EINVAL);
		assert_string_equal(err, "'username' must be at most 4 bytes");
		assert_int_equal(json_get_bool(obj, "flag", true, &b, err,
					       sizeof(err)), 0);
		assert_true(b);
		assert_int_equal(json_get_int(obj, "neg", true, INT64_MIN,
					      INT64_MAX, &n, err, sizeof(err)),
				 0);
		assert_int_equal(n, -7);
	}
	cJSON_Delete(obj);
}

/* json_parse_body: json_parse_object, and no \u0000 escape unless the
 * backslash is itself escaped. */
static void test_json__parse_body(void **state)
{
	static const struct {
		const char *name;
		const char *body;
		int rc;
		const char *err;
	} cases[] = {
		{ "plain", "{\"a\":\"x\"}", 0, NULL },
		{ "other escapes", "{\"a\":\"\\u0001\\u00e9\\n\"}", 0, NULL },
		{ "nul escape", "{\"a\":\"x\\u0000y\"}", CHAT_EPARSE,
		  "strings must not contain '\\u0000'" },
		{ "nul escape in a key", "{\"a\\u0000\":1}", CHAT_EPARSE,
		  "strings must not contain '\\u0000'" },
		{ "escaped backslash then u0000", "{\"a\":\"\\\\u0000\"}", 0,
		  NULL },
		{ "three backslashes then u0000",
		  "{\"a\":\"\\\\\\u0000\"}", CHAT_EPARSE,
		  "strings must not contain '\\u0000'" },
		{ "malformed first", "{\"a\":\"\\u0000\"", CHAT_EPARSE,
		  "malformed JSON" },
		{ "not an object", "[\"\\u0000\"]", CHAT_EPARSE,
		  "body must be a JSON object" },
		{ "nul in duplicated keys", "{\"a\\u0000b\":1,\"a\\u0000c\":2}",
		  CHAT_EPARSE, "strings must not contain '\\u0000'" },
	};
	cJSON *obj;
	char err[128];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		obj = (cJSON *)1;
		rc = json_parse_body(cases[i].body, strlen(cases[i].body),
				     &obj, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case '%s': rc %d, want %d (%s)",
				 cases[i].name, rc, cases[i].rc, err);
		if (rc == 0 && !cJSON_IsObject(obj))
			fail_msg("case '%s': no object", cases[i].name);
		if (rc < 0 && obj)
			fail_msg("case '%s': object left on failure",
				 cases[i].name);
		if (cases[i].err && strcmp(err, cases[i].err) != 0)
			fail_msg("case '%s': message '%s', want '%s'",
				 cases[i].name, err, cases[i].err);
		if (rc == 0)
			cJSON_Delete(obj);
	}
}

/* A key twice in one object, at any depth, is refused by both parsers
 * with a message naming it; the same key in different objects, or in
 * another case, is not a duplicate. */
static void test_json__duplicate_keys(void **state)
{
	static const struct {
		const char *name;
		const char *body;
		const char *err;	/* NULL: accepted */
	} cases[] = {
		{ "top level", "{\"role\":\"admin\",\"role\":\"user\"}",
		  "duplicate key 'role'" },
		{ "apart",
		  "{\"a\":1,\"role\":\"admin\",\"b\":2,\"role\":\"x\"}",
		  "duplicate key 'role'" },
		{ "same value", "{\"a\":null,\"a\":null}",
		  "duplicate key 'a'" },
		{ "empty key", "{\"\":1,\"\":2}", "duplicate key ''" },
		{ "nested", "{\"p\":{\"theme\":\"dark\",\"theme\":\"light\"}}",
		  "duplicate key 'theme'" },
		{ "in an array",
		  "{\"m\":[1,{\"k\":1},{\"k\":2,\"x\":0,\"k\":3}]}",
		  "duplicate key 'k'" },
		{ "arrays in arrays",
		  "{\"m\":[[[{\"a\":{\"b\":[{\"c\":1,\"c\":2}]}}]]]}",
		  "duplicate key 'c'" },
		{ "escaped spelling", "{\"a\":1,\"\\u0061\":2}",
		  "duplicate key 'a'" },
		{ "non-ASCII",
		  "{\"\xC3\xA9t\xC3\xA9\":1,\"\\u00e9t\\u00e9\":2}",
		  "duplicate key '\xC3\xA9t\xC3\xA9'" },
		{ "other case",
		  "{\"role\":\"a\",\"Role\":\"b\",\"ROLE\":\"c\"}",
		  NULL },
		{ "prefixes", "{\"ab\":1,\"a\":2,\"abc\":3,\"\":4}", NULL },
		{ "same key in siblings",
		  "{\"k\":0,\"a\":{\"k\":1},\"b\":[{\"k\":2},{\"k\":3}]}",
		  NULL },
		{ "key equal to a value", "{\"a\":\"b\",\"b\":\"a\"}", NULL },
		{ "duplicate strings in an array", "{\"a\":[\"x\",\"x\"]}",
		  NULL },
	};
	int (*parse[])(const char *, size_t, cJSON **, char *, size_t) = {
		json_parse_object, json_parse_body,
	};
	cJSON *obj;
	char err[128];
	size_t i, p;
	int rc;

	(void)state;
	for (p = 0; p < 2; p++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			err[0] = '\0';
			obj = (cJSON *)1;
			rc = parse[p](cases[i].body, strlen(cases[i].body),
				      &obj, err, sizeof(err));
			if (rc != (cases[i].err ? CHAT_EPARSE : 0))
				fail_msg("parser %zu, case '%s': rc %d (%s)",
					 p, cases[i].name, rc, err);
			if (rc == 0) {
				cJSON_Delete(obj);
				continue;
			}
			if (obj)
				fail_msg("parser %zu, case '%s': object left",
					 p, cases[i].name);
			if (strcmp(err, cases[i].err) != 0)
				fail_msg("parser %zu, case '%s': message '%s'",
					 p, cases[i].name, err);
		}
	}
}

/* A long duplicated key is quoted up to 64 bytes, cut before a
 * character that would straddle the limit. */
static void test_json__duplicate_key_message(void **state)
{
	char key[80], body[256], want[128];
	cJSON *obj = NULL;
	char err[128];

	(void)state;
	/* 63 ASCII bytes then a 2-byte character over the 64th */
	memset(key, 'x', 63);
	memcpy(key + 63, "\xC3\xA9yz", 5);
	snprintf(body, sizeof(body), "{\"%s\":1,\"%s\":2}", key, key);
	assert_int_equal(json_parse_object(body, strlen(body), &obj, err,
					   sizeof(err)), CHAT_EPARSE);
	assert_null(obj);
	snprintf(want, sizeof(want), "duplicate key '%.63s'", key);
	assert_string_equal(err, want);
}

/* "{"k0":0,"k1":1,...}" with n keys; key dup_of repeated at the end
 * when dup_of >= 0.  Caller frees. */
static char *json_many_keys(size_t n, long dup_of)
{
	size_t cap = n * 24 + 64, len = 0, i;
	char *s = malloc(cap);

	assert_non_null(s);
	s[len++] = '{';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"k%zu\":%zu",
					i ? "," : "", i, i);
	if (dup_of >= 0)
		len += (size_t)snprintf(s + len, cap - len, ",\"k%ld\":0",
					dup_of);
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* Big objects: every key kept, a duplicate found wherever it is, and in
 * O(n log n): a pairwise check of 200000 keys would take minutes. */
static void test_json__many_keys(void **state)
{
	static const long dups[] = { -1, 0, 123456, 199999 };
	const size_t n = 200000;
	clock_t start = clock();
	cJSON *obj;
	char err[128], want[64], *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
		s = json_many_keys(n, dups[i]);
		obj = NULL;
		if (dups[i] < 0) {
			assert_int_equal(json_parse_body(s, strlen(s), &obj,
							 err, sizeof(err)), 0);
			assert_int_equal(cJSON_GetArraySize(obj), (int)n);
			assert_non_null(cJSON_GetObjectItemCaseSensitive(
				obj, "k199999"));
		} else {
			assert_int_equal(json_parse_body(s, strlen(s), &obj,
							 err, sizeof(err)),
					 CHAT_EPARSE);
			snprintf(want, sizeof(want), "duplicate key 'k%ld'",
				 dups[i]);
			assert_string_equal(err, want);
		}
		cJSON_Delete(obj);
		free(s);
	}
	assert_true((clock() - start) / CLOCKS_PER_SEC < 20);
	/* a small object after a big one (the key array is reused) */
	s = json_many_keys(1000, -1);
	{
		char *body = malloc(strlen(s) + 64);

		assert_non_null(body);
		snprintf(body, strlen(s) + 64, "{\"a\":[%s,{\"b\":1,\"b\":2}]}",
			 s);
		assert_int_equal(json_parse_object(body, strlen(body), &obj,
						   err, sizeof(err)),
				 CHAT_EPARSE);
		assert_string_equal(err, "duplicate key 'b'");
		free(body);
	}
	free(s);
}

/* json_str: the string or NULL, whatever else stands there. */
static void test_json__str(void **state)
{
	static const struct {
		const char *key;
		const char *want;	/* NULL: no string */
	} cases[] = {
		{ "username", "alice" },
		{ "empty", "" },
		{ "num_str", "42" },
		{ "n", NULL },
		{ "flag", NULL },
		{ "nul", NULL },
		{ "arr", NULL },
		{ "missing", NULL },
		{ "USERNAME", NULL },	/* keys are case-sensitive */
	};
	cJSON *obj, *arr;
	char err[128];
	size_t i;

	(void)state;
	assert_int_equal(json_parse_object(json_fields, strlen(json_fields),
					   &obj, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = json_str(obj, cases[i].key);

		if (!cases[i].want && got)
			fail_msg("key '%s': '%s', want NULL", cases[i].key,
				 got);
		if (cases[i].want &&
		    (!got || strcmp(got, cases[i].want) != 0))
			fail_msg("key '%s': '%s', want '%s'", cases[i].key,
				 got ? got : "(null)", cases[i].want);
	}
	/* not an object: NULL, no crash */
	assert_null(json_str(NULL, "username"));
	arr = cJSON_GetObjectItemCaseSensitive(obj, "arr");
	assert_null(json_str(arr, "username"));
	cJSON_Delete(obj);
}

static void test_json__time(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 1795494661123LL, "2026-11-24T04:31:01.123Z" },
		{ 951782400000LL, "2000-02-29T00:00:00.000Z" },
		{ 253402300799999LL, "9999-12-31T23:59:59.999Z" },
	};
	char out[32];
	cJSON *obj;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_time_format(cases[i].ms, out);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(strlen(out), 24);
	}
	obj = cJSON_CreateObject();
	assert_non_null(json_add_time(obj, "created_at", 1795494661123LL));
	assert_non_null(json_add_time(obj, "revoked_at", 0));
	text = json_print(obj);
	assert_string_equal(text, "{\"created_at\":\"2026-11-24T04:31:01.123Z\","
			    "\"revoked_at\":null}");
	free(text);
	cJSON_Delete(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json__parse_table),
		cmocka_unit_test(test_json__parse_length_bound),
		cmocka_unit_test(test_json__deep_nesting),
		cmocka_unit_test(test_json__getters),
		cmocka_unit_test(test_json__parse_body),
		cmocka_unit_test(test_json__duplicate_keys),
		cmocka_unit_test(test_json__duplicate_key_message),
		cmocka_unit_test(test_json__many_keys),
		cmocka_unit_test(test_json__str),
		cmocka_unit_test(test_json__time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
