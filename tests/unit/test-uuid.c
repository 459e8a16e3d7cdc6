/* test-uuid.c - UUIDv7: format, version and variant, monotonic order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "uuid.h"

#define UUID_MANY 100000
#define UUID_THREADS 8
#define UUID_PER_THREAD 20000

static int uuid_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return c - 'a' + 10;
}

static void test_uuid__format(void **state)
{
	char id[UUID_STR_LEN];
	int64_t before, after, ts = 0;
	int i;

	(void)state;
	before = now_ms();
	assert_int_equal(uuid_v7(id), 0);
	after = now_ms();
	assert_int_equal(strlen(id), 36);
	assert_true(uuid_valid(id));
	assert_int_equal(id[14], '7');			/* version */
	assert_non_null(strchr("89ab", id[19]));	/* variant 10 */
	for (i = 0; i < 13; i++) {
		if (id[i] == '-')
			continue;
		ts = ts << 4 | uuid_hex(id[i]);
	}
	/* The timestamp is the clock, or a little ahead after a borrow. */
	assert_true(ts >= before && ts <= after + 1000);
	for (i = 0; i < 36; i++)
		assert_true(id[i] == '-' || (id[i] >= '0' && id[i] <= '9') ||
			    (id[i] >= 'a' && id[i] <= 'f'));
}

static void test_uuid__valid(void **state)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{ "01890a5d-ac96-774b-bcce-b302099a8057", true },
		{ "01890A5D-AC96-774B-BCCE-B302099A8057", true },
		{ "00000000-0000-0000-0000-000000000000", true },
		{ "01890a5d-ac96-774b-bcce-b302099a805", false },
		{ "01890a5d-ac96-774b-bcce-b302099a80577", false },
		{ "01890a5dac96-774b-bcce-b302099a8057-", false },
		{ "01890a5d-ac96-774b-bcce_b302099a8057", false },
		{ "01890a5g-ac96-774b-bcce-b302099a8057", false },
		{ "{1890a5d-ac96-774b-bcce-b302099a8057", false },
		{ "", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (uuid_valid(cases[i].s) != cases[i].valid)
			fail_msg("'%s': want %d", cases[i].s, cases[i].valid);
	assert_false(uuid_valid(NULL));
}

/* uuid_norm: lowercase copies of valid ids, out untouched otherwise. */
static void test_uuid__norm(void **state)
{
	static const struct {
		const char *s;
		const char *want;	/* NULL: refused */
	} cases[] = {
		{ "01890a5d-ac96-774b-bcce-b302099a8057",
		  "01890a5d-ac96-774b-bcce-b302099a8057" },
		{ "01890A5D-AC96-774B-BCCE-B302099A8057",
		  "01890a5d-ac96-774b-bcce-b302099a8057" },
		{ "01890a5D-Ac96-774b-bCCe-b302099a8057",
		  "01890a5d-ac96-774b-bcce-b302099a8057" },
		{ "01890a5d-ac96-774b-bcce-b302099a80577", NULL },
		{ "01890a5g-ac96-774b-bcce-b302099a8057", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};
	char out[UUID_STR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (uuid_norm(cases[i].s, out) != (cases[i].want != NULL))
			fail_msg("case %zu: want %s", i,
				 cases[i].want ? "accepted" : "refused");
		if (cases[i].want)
			assert_string_equal(out, cases[i].want);
		else if (out[0] != 'x' || out[UUID_STR_LEN - 1] != 'x')
			fail_msg("case %zu: out was touched", i);
	}
}

static void test_uuid__strictly_increasing(void **state)
{
	char prev[UUID_STR_LEN], id[UUID_STR_LEN];
	int i;

	(void)state;
	assert_int_equal(uuid_v7(prev), 0);
	for (i = 0; i < UUID_MANY; i++) {
		assert_int_equal(uuid_v7(id), 0);
		if (strcmp(prev, id) >= 0)
			fail_msg("id %d: '%s' after '%s'", i, id, prev);
		if (id[14] != '7' || !strchr("89ab", id[19]))
			fail_msg("id %d: bad version or variant '%s'", i, id);
		memcpy(prev, id, sizeof(id));
	}
}

static void *uuid_worker(void *arg)
{
	char (*ids)[UUID_STR_LEN] = arg;
	int i;

	for (i = 0; i < UUID_PER_THREAD; i++)
		if (uuid_v7(ids[i]) != 0)
			ids[i][0] = '\0';
	return NULL;
}

static int uuid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_uuid__unique_across_threads(void **state)
{
	char (*ids)[UUID_STR_LEN];
	pthread_t th[UUID_THREADS];
	size_t i, n = (size_t)UUID_THREADS * UUID_PER_THREAD;

	(void)state;
	ids = calloc(n, UUID_STR_LEN);
	assert_non_null(ids);
	for (i = 0; i < UUID_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, uuid_worker,
						ids + i * UUID_PER_THREAD), 0);
	for (i = 0; i < UUID_THREADS; i++)
		pthread_join(th[i], NULL);
	/* Each thread's own ids are increasing too. */
	for (i = 0; i < n; i++) {
		assert_true(uuid_valid(ids[i]));
		if (i % UUID_PER_THREAD && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("thread order broken at %zu", i);
	}
	qsort(ids, n, UUID_STR_LEN, uuid_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			fail_msg("duplicate id '%s'", ids[i]);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid__format),
		cmocka_unit_test(test_uuid__valid),
		cmocka_unit_test(test_uuid__norm),
		cmocka_unit_test(test_uuid__strictly_increasing),
		cmocka_unit_test(test_uuid__unique_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
