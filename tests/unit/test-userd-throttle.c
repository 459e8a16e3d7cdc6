/*
 * test-userd-throttle.c - userd's login and registration throttle: free
 * failures then doubling waits per (username, address) and per address,
 * no lock-out of other addresses, attempts reserved before the check so
 * that concurrent ones cannot pass the allowance, a success resetting the
 * pair, cancelled attempts refunded, registrations per address per hour,
 * and a table that never grows past its ceiling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "../../daemons/userd/userd.h"
#include "err.h"

#define T0 1000000		/* an arbitrary start on the clock */

static const struct throttle_settings settings = {
	.pair_free = 5,
	.addr_free = 20,
	.base_ms = 1000,
	.cap_ms = 8000,
	.register_per_hour = 3,
};

/* One attempt from ip for user at now that fails; asserts it was let
 * through. */
static void fail_once(struct throttle *t, const char *ip, const char *user,
		      int64_t now)
{
	int64_t retry = -1;

	assert_int_equal(throttle_login_begin(t, ip, user, now, &retry), 0);
	throttle_login_end(t, ip, user, THROTTLE_FAILED, now);
}

/* The seconds ip/user must wait at now, 0 when an attempt is let
 * through (and then cancelled). */
static int64_t wait_s(struct throttle *t, const char *ip, const char *user,
		      int64_t now)
{
	int64_t retry = 0;

	if (throttle_login_begin(t, ip, user, now, &retry) == CHAT_EBUSY)
		return retry;
	throttle_login_end(t, ip, user, THROTTLE_CANCELLED, now);
	return 0;
}

static void test_throttle__pair_waits_double(void **state)
{
	struct throttle t;
	int i;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	for (i = 0; i < 5; i++)
		fail_once(&t, "10.0.0.1", "alice", T0);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0), 1);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 999), 1);
	fail_once(&t, "10.0.0.1", "alice", T0 + 1000);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 1000), 2);
	fail_once(&t, "10.0.0.1", "alice", T0 + 3000);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 3000), 4);
	fail_once(&t, "10.0.0.1", "alice", T0 + 7000);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 7000), 8);
	/* capped */
	fail_once(&t, "10.0.0.1", "alice", T0 + 15000);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 15000), 8);
	/* the same username from another address, another username from
	 * this one: never slowed */
	assert_int_equal(wait_s(&t, "10.0.0.2", "alice", T0 + 15000), 0);
	assert_int_equal(wait_s(&t, "10.0.0.1", "bob", T0 + 15000), 0);
	throttle_release(&t);
}

static void test_throttle__address_over_many_usernames(void **state)
{
	struct throttle t;
	char user[32];
	int i;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	for (i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		fail_once(&t, "10.0.0.1", user, T0);
	}
	assert_int_equal(wait_s(&t, "10.0.0.1", "fresh", T0), 1);
	/* names that cannot exist count for the address too */
	assert_int_equal(wait_s(&t, "10.0.0.1", NULL, T0), 1);
	assert_int_equal(wait_s(&t, "10.0.0.3", "fresh", T0), 0);
	throttle_release(&t);
}

static void test_throttle__reserved_before_the_check(void **state)
{
	struct throttle t;
	int64_t retry;
	int i, passed = 0;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	/* 20 attempts at once, none ended yet */
	for (i = 0; i < 20; i++) {
		if (throttle_login_begin(&t, "10.0.0.1", "alice", T0,
					 &retry) == 0)
			passed++;
	}
	assert_int_equal(passed, 5);
	for (i = 0; i < 5; i++)
		throttle_login_end(&t, "10.0.0.1", "alice", THROTTLE_FAILED,
				   T0 + 10);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 10), 1);
	throttle_release(&t);
}

static void test_throttle__success_resets_the_pair(void **state)
{
	struct throttle t;
	int64_t retry;
	int i;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	for (i = 0; i < 4; i++)
		fail_once(&t, "10.0.0.1", "alice", T0);
	assert_int_equal(throttle_login_begin(&t, "10.0.0.1", "alice", T0,
					      &retry), 0);
	throttle_login_end(&t, "10.0.0.1", "alice", THROTTLE_OK, T0);
	for (i = 0; i < 4; i++)
		fail_once(&t, "10.0.0.1", "alice", T0);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0), 0);
	throttle_release(&t);
}

static void test_throttle__cancelled_attempts_are_refunded(void **state)
{
	struct throttle t;
	int i;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0), 0);
	throttle_release(&t);
}

static void test_throttle__registrations_per_hour(void **state)
{
	struct throttle t;
	int64_t retry = 0;
	int i;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(throttle_register_begin(&t, "10.0.0.1",
							 T0 + i, &retry), 0);
	assert_int_equal(throttle_register_begin(&t, "10.0.0.1", T0 + 1000,
						 &retry), CHAT_EBUSY);
	assert_int_equal(retry, 3599);
	assert_int_equal(throttle_register_begin(&t, "10.0.0.2", T0 + 1000,
						 &retry), 0);
	/* a registration never tried is given back */
	throttle_register_cancel(&t, "10.0.0.2");
	/* the hour over, the address starts afresh */
	assert_int_equal(throttle_register_begin(&t, "10.0.0.1",
						 T0 + 3600 * 1000, &retry), 0);
	throttle_release(&t);
}

static void test_throttle__bounded_table(void **state)
{
	struct throttle_settings s = settings;
	struct throttle t;
	char ip[32];
	int i;

	(void)state;
	s.max_entries = 10;
	assert_int_equal(throttle_init(&t, &s), 0);
	for (i = 0; i < 5; i++)
		fail_once(&t, "10.0.0.1", "alice", T0);
	for (i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		fail_once(&t, ip, "x-user", T0 + i);
		assert_true(throttle_count(&t) <= 10);
		/* the guesser keeps trying: its entries stay the newest */
		if (i % 3 == 0)
			assert_int_not_equal(wait_s(&t, "10.0.0.1", "alice",
						    T0 + i), 0);
	}
	throttle_release(&t);
}

static void test_throttle__quiet_entries_are_forgotten(void **state)
{
	struct throttle t;
	int i;

	(void)state;
	assert_int_equal(throttle_init(&t, &settings), 0);
	for (i = 0; i < 5; i++)
		fail_once(&t, "10.0.0.1", "alice", T0);
	assert_true(throttle_count(&t) > 0);
	throttle_prune(&t, T0 + 2 * 3600 * 1000);
	assert_int_equal(throttle_count(&t), 0);
	assert_int_equal(wait_s(&t, "10.0.0.1", "alice", T0 + 2 * 3600 * 1000),
			 0);
	throttle_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_throttle__pair_waits_double),
		cmocka_unit_test(test_throttle__address_over_many_usernames),
		cmocka_unit_test(test_throttle__reserved_before_the_check),
		cmocka_unit_test(test_throttle__success_resets_the_pair),
		cmocka_unit_test(test_throttle__cancelled_attempts_are_refunded),
		cmocka_unit_test(test_throttle__registrations_per_hour),
		cmocka_unit_test(test_throttle__bounded_table),
		cmocka_unit_test(test_throttle__quiet_entries_are_forgotten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
