/*
 * test-userd-me-cache.c - userd's cache of GET /v1/users/me answers: a
 * fresh answer is given back, an expired one is not, a write forgets it,
 * a read that raced a write cannot put the old row back, colliding ids
 * replace each other without mixing up answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemons/userd/userd.h"
#include "err.h"

static const char id_a[] = "01a20c4e-5122-73b7-801e-f99841cfd97a";
static const char id_b[] = "01a20c4e-5122-73b7-801e-f99841cfd97b";

/* The cached answer of id at now, or NULL; the caller frees it. */
static char *get(struct me_cache *c, const char *id, int64_t now)
{
	char *json = NULL;
	size_t len = 0;

	if (me_cache_get(c, id, now, &json, &len) != 0)
		return NULL;
	assert_int_equal(len, strlen(json));
	return json;
}

static void test_me_cache__fresh_then_expired(void **state)
{
	struct me_cache c;
	char *got;

	(void)state;
	me_cache_init(&c);
	assert_null(get(&c, id_a, 1000));
	me_cache_put(&c, id_a, "{\"a\":1}", 7, 1000, me_cache_generation(&c));
	got = get(&c, id_a, 1000 + ME_CACHE_TTL_MS - 1);
	assert_non_null(got);
	assert_string_equal(got, "{\"a\":1}");
	free(got);
	assert_null(get(&c, id_a, 1000 + ME_CACHE_TTL_MS));
	assert_null(get(&c, id_b, 1000));
	me_cache_prune(&c, 1000 + ME_CACHE_TTL_MS);
	assert_null(get(&c, id_a, 1000));	/* pruned, not just stale */
	me_cache_release(&c);
}

static void test_me_cache__forget(void **state)
{
	struct me_cache c;
	char *got;

	(void)state;
	me_cache_init(&c);
	me_cache_put(&c, id_a, "old-a", 5, 0, me_cache_generation(&c));
	me_cache_put(&c, id_b, "old-b", 5, 0, me_cache_generation(&c));
	me_cache_forget(&c, id_a);
	assert_null(get(&c, id_a, 1));
	got = get(&c, id_b, 1);		/* only that user's answer goes */
	assert_non_null(got);
	assert_string_equal(got, "old-b");
	free(got);
	me_cache_release(&c);
}

/* Read began (generation noted), a write committed and forgot, then the
 * read's old row arrives: it must not be kept. */
static void test_me_cache__raced_read_is_dropped(void **state)
{
	struct me_cache c;
	uint64_t before;
	char *got;

	(void)state;
	me_cache_init(&c);
	before = me_cache_generation(&c);
	me_cache_forget(&c, id_a);
	me_cache_put(&c, id_a, "stale", 5, 0, before);
	assert_null(get(&c, id_a, 1));
	/* a read that began after the write is kept */
	me_cache_put(&c, id_a, "new", 3, 0, me_cache_generation(&c));
	got = get(&c, id_a, 1);
	assert_non_null(got);
	assert_string_equal(got, "new");
	free(got);
	me_cache_release(&c);
}

/* More ids than slots: whatever is answered is that id's own answer. */
static void test_me_cache__collisions(void **state)
{
	struct me_cache c;
	char id[UUID_STR_LEN], body[64];
	int i, hits = 0;

	(void)state;
	me_cache_init(&c);
	for (i = 0; i < ME_CACHE_SLOTS * 3; i++) {
		snprintf(id, sizeof(id), "01a20c4e-5122-73b7-801e-%012d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		me_cache_put(&c, id, body, strlen(body), 0,
			     me_cache_generation(&c));
	}
	for (i = 0; i < ME_CACHE_SLOTS * 3; i++) {
		char *got;

		snprintf(id, sizeof(id), "01a20c4e-5122-73b7-801e-%012d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		got = get(&c, id, 1);
		if (!got)
			continue;
		assert_string_equal(got, body);
		free(got);
		hits++;
	}
	assert_true(hits > 0 && hits <= ME_CACHE_SLOTS);
	me_cache_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_me_cache__fresh_then_expired),
		cmocka_unit_test(test_me_cache__forget),
		cmocka_unit_test(test_me_cache__raced_read_is_dropped),
		cmocka_unit_test(test_me_cache__collisions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
