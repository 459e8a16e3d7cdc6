/*
 * test-events-kafka.c - the Kafka module chat-kafka.so (events-kafka.h)
 * against librdkafka's mock cluster, started in this process (3 brokers
 * on loopback ports): the publisher acknowledges each row once its
 * delivery report came, with the user id (else the subject) as key and
 * the CloudEvents content-type; a broker that is down, slow or failing
 * Produce requests costs neither a lost nor a duplicated message; a row
 * whose report failed is not acknowledged and goes again; the
 * consumer's stored offsets resume after the last handled message, not
 * on it, and it leaves the group in bounded time even with every broker
 * down.  Run with CHAT_MODULE_DIR set to the build's bin directory
 * (scripts/test.sh does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "err.h"
#include "events-kafka.h"
#include "module.h"
#include "util.h"

#define BROKERS 3
#define ROWS_MAX 64
#define CONSUME_MS 20000		/* the most a test waits for messages */

/* The cluster of the whole file; each test uses topics of its own. */
static rd_kafka_t *host_rk;
static rd_kafka_mock_cluster_t *mock;
static const char *bootstraps;
static const struct events_kafka *kafka;

/* Rows a test publishes: the strings live here. */
struct rows {
	struct events_out_row row[ROWS_MAX];
	char id[ROWS_MAX][48];
	char key[ROWS_MAX][32];
	char event[ROWS_MAX][512];
	size_t n;
};

/* What a consumer read, per message. */
struct got {
	char id[ROWS_MAX * 4][48];
	char key[ROWS_MAX * 4][64];
	char ct[ROWS_MAX * 4][96];
	char topic[ROWS_MAX * 4][32];
	size_t n;
};

static void rows_make(struct rows *r, const char *topic, size_t n,
		      const char *tag)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < n; i++) {
		snprintf(r->id[i], sizeof(r->id[i]), "%s-%03zu", tag, i);
		/* every third row concerns no user: keyed by its subject */
		if (i % 3 != 2)
			snprintf(r->key[i], sizeof(r->key[i]), "user-%zu",
				 i % 5);
		snprintf(r->event[i], sizeof(r->event[i]),
			 "{\"specversion\":\"1.0\",\"id\":\"%s\","
			 "\"source\":\"/chat/test\",\"type\":"
			 "\"chat.user.registered\",\"subject\":\"subj/%zu\","
			 "\"data\":{}}", r->id[i], i);
		r->row[i].pos = (int64_t)i + 1;
		r->row[i].id = r->id[i];
		r->row[i].type = "chat.user.registered";
		r->row[i].topic = topic;
		r->row[i].key = r->key[i][0] ? r->key[i] : NULL;
		r->row[i].event = r->event[i];
		r->row[i].event_len = strlen(r->event[i]);
		r->row[i].acked = -1;
	}
	r->n = n;
}

static size_t rows_acked(const struct rows *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->row[i].acked == 1;
	return n;
}

static void topic_new(const char *topic)
{
	assert_int_equal(rd_kafka_mock_topic_create(mock, topic, 3, 1),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void brokers_set(int up)
{
	int i;

	for (i = 1; i <= BROKERS; i++)
		assert_int_equal(up ? rd_kafka_mock_broker_set_up(mock, i) :
				 rd_kafka_mock_broker_set_down(mock, i),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Reads topic as group until want messages came (or CONSUME_MS passed),
 * then quiet_ms more to catch duplicates; stores every offset when
 * store.  Appends to g. */
static void consume(const char *group, const char *topic, size_t want,
		    int quiet_ms, int store, struct got *g)
{
	const char *topics[] = { topic, NULL };
	struct events_kafka_msg m;
	char err[512];
	void *h = NULL;
	int64_t until = mono_ms() + CONSUME_MS, quiet = 0;
	size_t got = 0;
	int rc;

	assert_int_equal(kafka->consumer.open(bootstraps, "test", group,
					      topics, 100, &h, err,
					      sizeof(err)),
			 0);
	for (;;) {
		if (got >= want && !quiet)
			quiet = mono_ms() + quiet_ms;
		if (quiet ? mono_ms() >= quiet : mono_ms() >= until)
			break;
		rc = kafka->consumer.poll(h, 100, &m, err, sizeof(err));
		if (rc <= 0)
			continue;
		assert_true(g->n < ROWS_MAX * 4);
		assert_non_null(m.value);
		{
			cJSON *ev = cJSON_ParseWithLength(m.value,
							  m.value_len);
			const cJSON *id = cJSON_GetObjectItem(ev, "id");

			assert_true(cJSON_IsString(id));
			snprintf(g->id[g->n], sizeof(g->id[0]), "%s",
				 id->valuestring);
			cJSON_Delete(ev);
		}
		snprintf(g->key[g->n], sizeof(g->key[0]), "%.*s",
			 (int)m.key_len, m.key ? m.key : "");
		snprintf(g->ct[g->n], sizeof(g->ct[0]), "%.*s",
			 (int)m.content_type_len,
			 m.content_type ? m.content_type : "");
		snprintf(g->topic[g->n], sizeof(g->topic[0]), "%s", m.topic);
		g->n++;
		got++;
		if (store)
			assert_int_equal(kafka->consumer.store(h, m.topic,
							       m.partition,
							       m.offset), 0);
		kafka->consumer.msg_free(&m);
	}
	kafka->consumer.close(h);
}

/* Every row of r was read exactly once, with its key and content-type. */
static void expect_once(const struct rows *r, const struct got *g)
{
	char want_key[64];
	size_t i, j, seen;

	assert_int_equal(g->n, r->n);
	for (i = 0; i < r->n; i++) {
		seen = 0;
		if (r->row[i].key)
			snprintf(want_key, sizeof(want_key), "%s",
				 r->row[i].key);
		else
			snprintf(want_key, sizeof(want_key), "subj/%zu", i);
		for (j = 0; j < g->n; j++) {
			if (strcmp(g->id[j], r->id[i]) != 0)
				continue;
			seen++;
			assert_string_equal(g->key[j], want_key);
			assert_string_equal(g->ct[j],
					    EVENTS_KAFKA_CONTENT_TYPE);
			assert_string_equal(g->topic[j], r->row[i].topic);
		}
		if (seen != 1)
			fail_msg("event '%s' read %zu times", r->id[i], seen);
	}
}

static void *pub_open(void)
{
	char err[512];
	void *h = NULL;

	assert_int_equal(kafka->publisher.open(bootstraps, "test", &h, err,
					       sizeof(err)), 0);
	return h;
}

/* Rows to the broker: each acknowledged, each read once, keyed. */
static void test_events_kafka__publish_once(void **state)
{
	static struct rows r;
	static struct got g;
	void *h = pub_open();

	(void)state;
	topic_new("t-once");
	rows_make(&r, "t-once", 30, "once");
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 10000), 0);
	assert_int_equal(rows_acked(&r), r.n);
	kafka->publisher.close(h);
	memset(&g, 0, sizeof(g));
	consume("g-once", "t-once", r.n, 1000, 0, &g);
	expect_once(&r, &g);
}

/* Every broker down: publish times out with nothing acknowledged, and a
 * publish of the same rows while the first copies wait produces none
 * again; once the brokers are back, all are acknowledged, each in the
 * topic once. */
static void test_events_kafka__broker_down(void **state)
{
	static struct rows r;
	static struct got g;
	void *h = pub_open();

	(void)state;
	topic_new("t-down");
	rows_make(&r, "t-down", 12, "down");
	brokers_set(0);
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 300),
			 CHAT_ETIMEDOUT);
	assert_int_equal(rows_acked(&r), 0);
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 300),
			 CHAT_ETIMEDOUT);
	assert_int_equal(rows_acked(&r), 0);
	brokers_set(1);
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 15000), 0);
	assert_int_equal(rows_acked(&r), r.n);
	kafka->publisher.close(h);
	memset(&g, 0, sizeof(g));
	consume("g-down", "t-down", r.n, 1500, 0, &g);
	expect_once(&r, &g);
}

/* A slow broker: the acknowledgements come after publish gave up; the
 * next publish of the rows takes them without producing the rows again. */
static void test_events_kafka__late_ack(void **state)
{
	static struct rows r;
	static struct got g;
	struct timespec ts = { 1, 500 * 1000 * 1000 };
	void *h = pub_open();
	int i;

	(void)state;
	topic_new("t-late");
	rows_make(&r, "t-late", 9, "late");
	/* metadata first, so that only the Produce requests are slow */
	assert_int_equal(kafka->publisher.publish(h, r.row, 1, 10000), 0);
	for (i = 1; i <= BROKERS; i++)
		assert_int_equal(rd_kafka_mock_broker_set_rtt(mock, i, 1000),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(kafka->publisher.publish(h, r.row + 1, r.n - 1, 200),
			 CHAT_ETIMEDOUT);
	assert_int_equal(rows_acked(&r), 1);
	nanosleep(&ts, NULL);
	for (i = 1; i <= BROKERS; i++)
		assert_int_equal(rd_kafka_mock_broker_set_rtt(mock, i, 0),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(kafka->publisher.publish(h, r.row + 1, r.n - 1,
						  10000), 0);
	assert_int_equal(rows_acked(&r), r.n);
	kafka->publisher.close(h);
	memset(&g, 0, sizeof(g));
	consume("g-late", "t-late", r.n, 1500, 0, &g);
	expect_once(&r, &g);
}

/* Produce requests that fail (retriable errors, a dropped connection):
 * the idempotent producer retries them without duplicates. */
static void test_events_kafka__produce_errors(void **state)
{
	static struct rows r;
	static struct got g;
	void *h = pub_open();

	(void)state;
	topic_new("t-errors");
	rows_make(&r, "t-errors", 20, "err");
	rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 6,
		RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		RD_KAFKA_RESP_ERR__TRANSPORT,
		RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
		RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
		RD_KAFKA_RESP_ERR__TRANSPORT,
		RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 15000), 0);
	assert_int_equal(rows_acked(&r), r.n);
	kafka->publisher.close(h);
	memset(&g, 0, sizeof(g));
	consume("g-errors", "t-errors", r.n, 1500, 0, &g);
	expect_once(&r, &g);
}

/* A Produce request refused for good: its rows' reports fail, publish
 * says so, and the next publish produces them again, each once in the
 * topic in the end. */
static void test_events_kafka__failed_then_again(void **state)
{
	static struct rows r;
	static struct got g;
	struct timespec ts = { 0, 250 * 1000 * 1000 };
	int64_t until = mono_ms() + CONSUME_MS;
	void *h = pub_open();
	int rc;

	(void)state;
	topic_new("t-again");
	rows_make(&r, "t-again", 10, "again");
	/* metadata and the producer id first */
	assert_int_equal(kafka->publisher.publish(h, r.row, 1, 10000), 0);
	rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 3,
		RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
		RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
		RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	rc = kafka->publisher.publish(h, r.row + 1, r.n - 1, 10000);
	assert_int_equal(rc, CHAT_EUPSTREAM);
	assert_true(rows_acked(&r) < r.n);
	rd_kafka_mock_clear_request_errors(mock, 0);
	/* as the relay does: again until the producer has the topic back
	 * (it refreshes its metadata after the refusal) */
	do {
		rc = kafka->publisher.publish(h, r.row + 1, r.n - 1, 1000);
		if (rc != 0)
			nanosleep(&ts, NULL);
	} while (rc != 0 && mono_ms() < until);
	assert_int_equal(rc, 0);
	assert_int_equal(rows_acked(&r), r.n);
	kafka->publisher.close(h);
	memset(&g, 0, sizeof(g));
	consume("g-again", "t-again", r.n, 1500, 0, &g);
	expect_once(&r, &g);
}

/* A member that stored its offsets and left: the group's next member
 * reads what came after them, nothing it already handled (storing the
 * message's own offset would read the last one of each partition
 * again), and the progress shows no lag. */
static void test_events_kafka__offsets_resume(void **state)
{
	static struct rows r, more;
	static struct got g;
	void *h = pub_open();

	(void)state;
	topic_new("t-resume");
	rows_make(&r, "t-resume", 12, "res");
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 10000), 0);
	memset(&g, 0, sizeof(g));
	consume("g-resume", "t-resume", r.n, 500, 1, &g);
	expect_once(&r, &g);
	rows_make(&more, "t-resume", 2, "res2");
	assert_int_equal(kafka->publisher.publish(h, more.row, more.n, 10000),
			 0);
	kafka->publisher.close(h);
	memset(&g, 0, sizeof(g));
	consume("g-resume", "t-resume", more.n, 1500, 1, &g);
	expect_once(&more, &g);
}

/* The consumer's progress: head - pos is what is left to read. */
static void test_events_kafka__progress(void **state)
{
	static struct rows r;
	const char *topics[] = { "t-progress", NULL };
	struct events_kafka_msg m;
	char err[512];
	void *h = pub_open(), *c = NULL;
	int64_t pos = -1, head = -1, until = mono_ms() + CONSUME_MS;
	size_t got = 0;
	int parts = 0;

	(void)state;
	topic_new("t-progress");
	rows_make(&r, "t-progress", 6, "prog");
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 10000), 0);
	kafka->publisher.close(h);
	assert_int_equal(kafka->consumer.open(bootstraps, "test", "g-prog",
					      topics, 100, &c, err,
					      sizeof(err)),
			 0);
	while (got < r.n && mono_ms() < until) {
		if (kafka->consumer.poll(c, 100, &m, err, sizeof(err)) != 1)
			continue;
		got++;
		kafka->consumer.msg_free(&m);
	}
	assert_int_equal(got, r.n);
	/* the watermarks come with the fetch answers */
	while (mono_ms() < until) {
		parts = kafka->consumer.progress(c, "t-progress", &pos, &head);
		if (parts == 3 && head == (int64_t)r.n)
			break;
		kafka->consumer.poll(c, 100, &m, err, sizeof(err));
	}
	assert_int_equal(parts, 3);
	assert_int_equal(head, r.n);
	assert_int_equal(pos, r.n);
	assert_int_equal(kafka->consumer.progress(c, "t-other", &pos, &head),
			 0);
	kafka->consumer.close(c);
}

/* A member whose brokers are all down (and that polled since, as the
 * transport's thread does) leaves at once: the daemon's stop must not
 * outlast the stack's stop timeout. */
static void test_events_kafka__close_while_down(void **state)
{
	static struct rows r;
	const char *topics[] = { "t-close", NULL };
	struct events_kafka_msg m;
	char err[512];
	void *h = pub_open(), *c = NULL;
	int64_t until = mono_ms() + CONSUME_MS, t0;
	size_t got = 0;

	(void)state;
	topic_new("t-close");
	rows_make(&r, "t-close", 3, "close");
	assert_int_equal(kafka->publisher.publish(h, r.row, r.n, 10000), 0);
	kafka->publisher.close(h);
	assert_int_equal(kafka->consumer.open(bootstraps, "test", "g-close",
					      topics, 100, &c, err,
					      sizeof(err)),
			 0);
	/* a member of the group, with partitions and offsets to commit */
	while (got < r.n && mono_ms() < until) {
		if (kafka->consumer.poll(c, 100, &m, err, sizeof(err)) != 1)
			continue;
		assert_int_equal(kafka->consumer.store(c, m.topic,
						       m.partition, m.offset),
				 0);
		got++;
		kafka->consumer.msg_free(&m);
	}
	assert_int_equal(got, r.n);
	brokers_set(0);
	/* the member notices (its poll serves the error reports) */
	until = mono_ms() + 1500;
	while (mono_ms() < until)
		kafka->consumer.poll(c, 100, &m, err, sizeof(err));
	t0 = mono_ms();
	kafka->consumer.close(c);
	brokers_set(1);
	if (mono_ms() - t0 > 4000)
		fail_msg("close took %lld ms", (long long)(mono_ms() - t0));
}

/* Bad arguments fail with a message, never a crash. */
static void test_events_kafka__open_errors(void **state)
{
	const char *topics[] = { "t", NULL };
	char err[512] = "";
	void *h = (void *)1;

	(void)state;
	assert_int_equal(kafka->publisher.open("", "x", &h, err, sizeof(err)),
			 CHAT_EINVAL);
	assert_null(h);
	assert_non_null(strstr(err, "no brokers"));
	assert_int_equal(kafka->consumer.open(bootstraps, "x", "", topics, 100,
					      &h, err, sizeof(err)),
			 CHAT_EINVAL);
	assert_null(h);
}

static int group_setup(void **state)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	const void *ops = NULL;

	(void)state;
	if (module_load(EVENTS_KAFKA_MODULE, EVENTS_KAFKA_VERSION, &ops, err,
			sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	kafka = ops;
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	host_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!host_rk)
		return -1;
	mock = rd_kafka_mock_cluster_new(host_rk, BROKERS);
	if (!mock)
		return -1;
	bootstraps = rd_kafka_mock_cluster_bootstraps(mock);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (mock)
		rd_kafka_mock_cluster_destroy(mock);
	if (host_rk)
		rd_kafka_destroy(host_rk);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_kafka__open_errors),
		cmocka_unit_test(test_events_kafka__publish_once),
		cmocka_unit_test(test_events_kafka__broker_down),
		cmocka_unit_test(test_events_kafka__late_ack),
		cmocka_unit_test(test_events_kafka__produce_errors),
		cmocka_unit_test(test_events_kafka__failed_then_again),
		cmocka_unit_test(test_events_kafka__offsets_resume),
		cmocka_unit_test(test_events_kafka__progress),
		cmocka_unit_test(test_events_kafka__close_while_down),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
