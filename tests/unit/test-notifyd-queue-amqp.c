/* test-notifyd-queue-amqp.c - the pure parts of notifyd's RabbitMQ
 * delivery queue (queue-amqp-job.c): which queue a job due in some time
 * goes to, so that no retry comes before its time whatever the wait
 * (within a TTL, between two, past the largest, shorter than all), and
 * a job's message body there and back, bad bodies refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "../../daemons/notifyd/queue.h"
#include "banned.h"

static const int64_t delays[] = { 2000, 5000, 300000 };

static void test_notifyd_queue_amqp__route(void **state)
{
	static const struct {
		int64_t wait;		/* ms until the job is due */
		const char *key;
		int64_t expiration;
	} cases[] = {
		{ -1000, "work", 0 },		/* late */
		{ 0, "work", 0 },
		{ QUEUE_AMQP_EARLY_MS, "work", 0 },
		{ QUEUE_AMQP_EARLY_MS + 1, "delay.2000", QUEUE_AMQP_EARLY_MS + 1 },
		{ 1500, "delay.2000", 1500 },	/* shorter than every TTL */
		{ 2000, "delay.2000", 0 },	/* a step exactly */
		{ 2399, "delay.2000", 0 },	/* the step plus jitter */
		{ 4999, "delay.2000", 0 },	/* between two: never past */
		{ 5000, "delay.5000", 0 },
		{ 299999, "delay.5000", 0 },
		{ 300000, "delay.300000", 0 },
		{ 3600000, "delay.300000", 0 },	/* past the largest */
	};
	char key[48];
	int64_t exp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		queue_amqp_route(delays, 3, cases[i].wait, key, sizeof(key),
				 &exp);
		if (strcmp(key, cases[i].key) != 0 ||
		    exp != cases[i].expiration)
			fail_msg("wait %lld: %s %lld, not %s %lld",
				 (long long)cases[i].wait, key, (long long)exp,
				 cases[i].key, (long long)cases[i].expiration);
	}
	/* no delay queues: everything to work */
	queue_amqp_route(delays, 0, 60000, key, sizeof(key), &exp);
	assert_string_equal(key, "work");
	assert_int_equal(exp, 0);
}

/* A job's wait, hop by hop, never ends before it is due: each hop's
 * time is what route picked (its TTL, or the expiration). */
static void test_notifyd_queue_amqp__never_early(void **state)
{
	int64_t wait, left, hop, exp;
	char key[48];
	int hops;

	(void)state;
	for (wait = 1; wait < 700000; wait = wait * 3 + 7) {
		left = wait;
		for (hops = 0; hops < 1000; hops++) {
			queue_amqp_route(delays, 3, left, key, sizeof(key),
					 &exp);
			if (strcmp(key, "work") == 0)
				break;
			hop = exp ? exp : strtoll(key + 6, NULL, 10);
			assert_true(hop <= left);
			left -= hop;
		}
		if (left > QUEUE_AMQP_EARLY_MS || left < 0)
			fail_msg("wait %lld: %lld ms left after %d hops",
				 (long long)wait, (long long)left, hops);
	}
}

static void test_notifyd_queue_amqp__job_round_trip(void **state)
{
	struct queue_job j = { .id = "01a2527a-f4f5-76f6-b9a7-d46c07d10402",
			       .msg_id = "msg_01a2527cec5e715ba907120d5d5eb225",
			       .endpoint_id = "01a2527b-0bf4-71ad-ae1e-f74687c1c615",
			       .attempts = 3, .created_ms = 1796680248123,
			       .next_ms = 1796680253999 };
	struct queue_job back;
	char *s;

	(void)state;
	s = queue_amqp_job_encode(&j);
	assert_non_null(s);
	assert_int_equal(queue_amqp_job_decode(s, &back), 0);
	assert_string_equal(back.id, j.id);
	assert_string_equal(back.msg_id, j.msg_id);
	assert_string_equal(back.endpoint_id, j.endpoint_id);
	assert_int_equal(back.attempts, 3);
	assert_int_equal(back.created_ms, j.created_ms);
	assert_int_equal(back.next_ms, j.next_ms);
	assert_int_equal(back.state, QUEUE_PENDING);
	free(s);
}

static void test_notifyd_queue_amqp__bad_bodies(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"id\":\"a\",\"msg_id\":\"m\",\"attempts\":0,\"created_ms\":1,"
		"\"next_ms\":2}",					/* no endpoint */
		"{\"id\":\"\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":0,\"created_ms\":1,\"next_ms\":2}",	/* empty id */
		"{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"msg_id\":\"m\",\"endpoint_id\":\"e\",\"attempts\":0,"
		"\"created_ms\":1,\"next_ms\":2}",			/* too long */
		"{\"id\":1,\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":0,\"created_ms\":1,\"next_ms\":2}",
		"{\"id\":\"a\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":-1,\"created_ms\":1,\"next_ms\":2}",
		"{\"id\":\"a\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":1.5,\"created_ms\":1,\"next_ms\":2}",
		"{\"id\":\"a\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":100000,\"created_ms\":1,\"next_ms\":2}",
		"{\"id\":\"a\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":0,\"created_ms\":\"1\",\"next_ms\":2}",
		"{\"id\":\"a\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":0,\"created_ms\":1,\"next_ms\":1e300}",
	};
	struct queue_job j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&j, 0x5a, sizeof(j));
		if (queue_amqp_job_decode(bad[i], &j) != CHAT_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(j.id[0], '\0');
	}
	assert_int_equal(queue_amqp_job_decode(
		"{\"id\":\"a\",\"msg_id\":\"m\",\"endpoint_id\":\"e\","
		"\"attempts\":0,\"created_ms\":1,\"next_ms\":2}", &j), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notifyd_queue_amqp__route),
		cmocka_unit_test(test_notifyd_queue_amqp__never_early),
		cmocka_unit_test(test_notifyd_queue_amqp__job_round_trip),
		cmocka_unit_test(test_notifyd_queue_amqp__bad_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
