/* test-analyticsd-rollup.c - analyticsd's rollup arithmetic without a
 * store: what each event type adds (rollup_from_event), the cost from
 * the price table (known, unknown, never 0 for unknown), prices read
 * exactly, bad events refused, an erased user's events stripped of
 * everything that names (erase.c), the UTC days of event times and
 * of query ranges (range.c), and a batch's sums (agg.c) written into a
 * SQLite store: one row per key, the per-day rows adding up to the
 * per-user ones, across the hash table's growth and an early flush. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "db.h"
#include "err.h"
#include "../../daemons/analyticsd/analyticsd.h"

static struct prices test_prices = {
	.p = {
		{ "gpt-4.1", 2000000, 8000000 },	/* $2 / $8 per M */
		{ "cheap", 150000, 600000 },		/* $0.15 / $0.60 */
	},
	.n = 2,
};

static cJSON *event(const char *type, const char *time, const char *user,
		    const char *data)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text), "{\"specversion\":\"1.0\","
		     "\"id\":\"01a2\",\"source\":\"/chat/aid\",\"type\":\"%s\","
		     "\"time\":\"%s\"%s%s%s,\"data\":%s}", type, time,
		     user ? ",\"userid\":\"" : "", user ? user : "",
		     user ? "\"" : "", data ? data : "{}");
	assert_true(n > 0 && (size_t)n < sizeof(text));
	return cJSON_Parse(text);
}

static int delta_of(const char *type, const char *time, const char *user,
		    const char *data, struct rollup_delta *d)
{
	cJSON *ev = event(type, time, user, data);
	int rc;

	assert_non_null(ev);
	rc = rollup_from_event(&test_prices, ev, d);
	/* the delta's strings point into the event: check them first */
	if (rc == 0) {
		static char model[64], uid[64], cls[64];

		snprintf(model, sizeof(model), "%s", d->model);
		snprintf(uid, sizeof(uid), "%s", d->user_id);
		d->model = model;
		d->user_id = uid;
		if (d->error_class) {
			snprintf(cls, sizeof(cls), "%s", d->error_class);
			d->error_class = cls;
		}
	}
	cJSON_Delete(ev);
	return rc;
}

static void test_rollup__generation_completed(void **state)
{
	struct rollup_delta d;

	(void)state;
	assert_int_equal(delta_of("chat.generation.completed",
				  "2026-12-07T23:59:59.999Z", "u1",
				  "{\"model\":\"gpt-4.1\",\"prompt_tokens\":"
				  "1000,\"completion_tokens\":250,"
				  "\"ttft_ms\":120,\"latency_ms\":900}", &d), 0);
	assert_string_equal(d.day, "2026-12-07");
	assert_string_equal(d.user_id, "u1");
	assert_string_equal(d.model, "gpt-4.1");
	assert_int_equal(d.requests, 1);
	assert_int_equal(d.completed, 1);
	assert_int_equal(d.stopped + d.failed, 0);
	assert_int_equal(d.prompt_tokens, 1000);
	assert_int_equal(d.completion_tokens, 250);
	/* 1000 x $2/M + 250 x $8/M = $0.004 = 4e9 pico-USD */
	assert_int_equal(d.cost_pusd, INT64_C(4000000000));
	assert_int_equal(d.unpriced, 0);
	assert_int_equal(d.ttft_ms, 120);
	assert_int_equal(d.latency_ms, 900);
	assert_true(d.active && d.usage);
	assert_null(d.error_class);
}

static void test_rollup__cost_unknown_without_price(void **state)
{
	struct rollup_delta d;

	(void)state;
	assert_int_equal(delta_of("chat.generation.stopped",
				  "2026-12-07T10:00:00Z", "u1",
				  "{\"model\":\"echo\",\"prompt_tokens\":7,"
				  "\"completion_tokens\":2,\"ttft_ms\":null}",
				  &d), 0);
	assert_int_equal(d.stopped, 1);
	assert_int_equal(d.cost_pusd, 0);
	assert_int_equal(d.unpriced, 1);	/* unknown, not free */
	assert_int_equal(d.ttft_ms, -1);
	assert_int_equal(d.latency_ms, -1);
}

static void test_rollup__failed_by_class(void **state)
{
	struct rollup_delta d;

	(void)state;
	assert_int_equal(delta_of("chat.generation.failed",
				  "2026-12-07T10:00:00Z", "u1",
				  "{\"model\":\"cheap\",\"prompt_tokens\":10,"
				  "\"completion_tokens\":0,\"status\":"
				  "\"timeout\",\"error\":\"upstream_timeout\"}",
				  &d), 0);
	assert_int_equal(d.failed, 1);
	assert_int_equal(d.requests, 1);
	/* aid's usage status is the class */
	assert_string_equal(d.error_class, "timeout");
	/* 10 x $0.15/M = 1.5e-6 USD = 1.5e6 pico-USD */
	assert_int_equal(d.cost_pusd, 1500000);
	assert_int_equal(delta_of("chat.generation.failed",
				  "2026-12-07T10:00:00Z", "u1",
				  "{\"model\":\"cheap\",\"error\":\"x_y\"}",
				  &d), 0);
	assert_string_equal(d.error_class, "x_y");
	assert_int_equal(delta_of("chat.generation.failed",
				  "2026-12-07T10:00:00Z", "u1",
				  "{\"model\":\"cheap\"}", &d), 0);
	assert_string_equal(d.error_class, "unknown");
}

static void test_rollup__user_and_chat_counts(void **state)
{
	struct rollup_delta d;

	(void)state;
	assert_int_equal(delta_of("chat.user.registered",
				  "2026-01-01T00:00:00Z", "u2", NULL, &d), 0);
	assert_int_equal(d.registrations, 1);
	assert_true(d.active && !d.usage);
	assert_int_equal(delta_of("chat.user.logged_in",
				  "2026-01-01T00:00:00Z", "u2", NULL, &d), 0);
	assert_int_equal(d.logins, 1);
	/* a batched login: its day is when it happened ("at") */
	assert_int_equal(delta_of("chat.user.logged_in",
				  "2026-01-01T00:00:00.050Z", "u2",
				  "{\"at\":\"2025-12-31T23:59:59.990Z\"}", &d),
			 0);
	assert_string_equal(d.day, "2025-12-31");
	assert_int_equal(delta_of("chat.user.login_failed",
				  "2026-01-01T00:00:00Z", "u2", NULL, &d), 0);
	assert_int_equal(d.failed_logins, 1);
	assert_false(d.active);		/* anyone can type a name */
	assert_int_equal(delta_of("chat.conversation.created",
				  "2026-01-01T00:00:00Z", "u2",
				  "{\"model\":null}", &d), 0);
	assert_int_equal(d.conversations, 1);
	assert_string_equal(d.model, "");
	assert_int_equal(delta_of("chat.message.created",
				  "2026-01-01T00:00:00Z", "u2",
				  "{\"model\":\"cheap\"}", &d), 0);
	assert_int_equal(d.messages, 1);
	assert_string_equal(d.model, "cheap");
	/* an event of no count: only activity */
	assert_int_equal(delta_of("chat.session.refreshed",
				  "2026-01-01T00:00:00Z", "u2", NULL, &d), 0);
	assert_true(d.active && !d.usage);
	assert_int_equal(d.logins + d.registrations + d.requests, 0);
	/* a system event: nobody active */
	assert_int_equal(delta_of("chat.system.started",
				  "2026-01-01T00:00:00Z", NULL, NULL, &d), 0);
	assert_false(d.active);
}

static void test_rollup__bad_events(void **state)
{
	static const struct {
		const char *type, *time, *data;
	} bad[] = {
		{ "chat.generation.completed", "2026-12-07T10:00:00Z",
		  "{\"prompt_tokens\":1}" },		/* no model */
		{ "chat.generation.completed", "2026-12-07T10:00:00Z",
		  "{\"model\":\"m\",\"prompt_tokens\":-1}" },
		{ "chat.generation.completed", "2026-12-07T10:00:00Z",
		  "{\"model\":\"m\",\"prompt_tokens\":1.5}" },
		{ "chat.generation.completed", "2026-12-07T10:00:00Z",
		  "{\"model\":\"m\",\"completion_tokens\":\"2\"}" },
		{ "chat.generation.completed", "2026-12-07T10:00:00Z",
		  "{\"model\":7}" },
		/* a cost past int64 pico-USD (found by fuzz-event.c) */
		{ "chat.generation.completed", "2026-12-07T10:00:00Z",
		  "{\"model\":\"gpt-4.1\",\"prompt_tokens\":1099511627776,"
		  "\"completion_tokens\":1099511627776}" },
		{ "chat.user.registered", "yesterday", "{}" },
		{ "chat.user.registered", "2026-02-30T10:00:00Z", "{}" },
		{ "chat.user.registered", "2026-12-07 10:00:00Z", "{}" },
		{ "chat.user.registered", "2026-12-07T10:00:00Z", "[]" },
	};
	struct rollup_delta d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (delta_of(bad[i].type, bad[i].time, "u", bad[i].data,
			     &d) != CHAT_EINVAL) {
			print_error("case %zu accepted\n", i);
			fail();
		}
}

static void test_rollup__price_parse(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t micro;
	} cases[] = {
		{ "2", 0, 2000000 }, { "2.5", 0, 2500000 },
		{ "0.15", 0, 150000 }, { "0.000001", 0, 1 },
		{ "0", 0, 0 }, { "1000000", 0, INT64_C(1000000000000) },
		{ "0.0000001", CHAT_EINVAL, 0 }, { "", CHAT_EINVAL, 0 },
		{ ".5", CHAT_EINVAL, 0 }, { "5.", CHAT_EINVAL, 0 },
		{ "-1", CHAT_EINVAL, 0 }, { "1e3", CHAT_EINVAL, 0 },
		{ "2 ", CHAT_EINVAL, 0 }, { "1000001", CHAT_EINVAL, 0 },
	};
	int64_t m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = -7;
		assert_int_equal(rollup_price_parse(cases[i].s, &m),
				 cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(m, cases[i].micro);
	}
}

/* What an erased user's event keeps: the envelope without userid and
 * subject, the counted data keys, nothing else; it still counts the
 * same, for user ''. */
static void test_rollup__erase_strip(void **state)
{
	struct rollup_delta d;
	cJSON *ev, *st = NULL;
	char *text;

	(void)state;
	ev = cJSON_Parse("{\"specversion\":\"1.0\",\"id\":\"e1\","
			 "\"source\":\"/chat/aid\",\"type\":"
			 "\"chat.generation.completed\",\"time\":"
			 "\"2026-12-07T10:00:00Z\",\"subject\":"
			 "\"generations/g1\",\"datacontenttype\":"
			 "\"application/json\",\"userid\":\"u-secret\","
			 "\"data\":{\"generation_id\":\"g1\",\"model\":"
			 "\"cheap\",\"prompt_tokens\":10,"
			 "\"completion_tokens\":4,\"ttft_ms\":5,"
			 "\"latency_ms\":9,\"conversation_id\":\"c1\","
			 "\"username\":\"alice\",\"address\":\"10.0.0.1\","
			 "\"status\":\"complete\"}}");
	assert_non_null(ev);
	assert_int_equal(erase_strip(ev, &st), 0);
	text = cJSON_PrintUnformatted(st);
	assert_non_null(text);
	assert_string_equal(text, "{\"specversion\":\"1.0\",\"id\":\"e1\","
			    "\"source\":\"/chat/aid\",\"type\":"
			    "\"chat.generation.completed\",\"time\":"
			    "\"2026-12-07T10:00:00Z\",\"datacontenttype\":"
			    "\"application/json\",\"data\":{\"model\":"
			    "\"cheap\",\"status\":\"complete\","
			    "\"prompt_tokens\":10,\"completion_tokens\":4,"
			    "\"ttft_ms\":5,\"latency_ms\":9}}");
	cJSON_free(text);
	assert_int_equal(rollup_from_event(&test_prices, st, &d), 0);
	assert_string_equal(d.user_id, "");
	assert_int_equal(d.requests, 1);
	assert_int_equal(d.prompt_tokens, 10);
	assert_false(d.active);
	cJSON_Delete(st);
	cJSON_Delete(ev);
}

/* A change an admin made is no activity of the user's. */
static void test_rollup__admin_change_not_active(void **state)
{
	struct rollup_delta d;

	(void)state;
	assert_int_equal(delta_of("chat.user.registered",
				  "2026-01-01T00:00:00Z", "u3",
				  "{\"by\":\"admin-1\"}", &d), 0);
	assert_int_equal(d.registrations, 1);
	assert_false(d.active);
	assert_int_equal(delta_of("chat.user.registered",
				  "2026-01-01T00:00:00Z", "u3",
				  "{\"by\":\"u3\"}", &d), 0);
	assert_true(d.active);
	/* a notification to the user is not the user's doing either */
	assert_int_equal(delta_of("chat.notification.created",
				  "2026-01-01T00:00:00Z", "u3", "{}", &d), 0);
	assert_false(d.active);
}

static void test_range__days(void **state)
{
	static const struct {
		const char *time;
		const char *day;
	} times[] = {
		{ "1970-01-01T00:00:00Z", "1970-01-01" },
		{ "2024-02-29T12:00:00.5Z", "2024-02-29" },
		{ "2026-12-31T23:30:00-01:00", "2027-01-01" },
		{ "2026-01-01T00:30:00+01:00", "2025-12-31" },
		{ "2026-12-07T15:04:05.123Z", "2026-12-07" },
	};
	char out[DAY_LEN];
	int64_t d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		assert_int_equal(range_day_of_time(times[i].time, &d), 0);
		range_day_format(d, out);
		assert_string_equal(out, times[i].day);
	}
	assert_int_equal(range_day_parse("2026-12-07", &d), 0);
	assert_int_equal(d, range_day_of_ms(INT64_C(1796658060000)));
	assert_int_equal(range_day_parse("2026-13-01", &d), CHAT_EINVAL);
	assert_int_equal(range_day_parse("2025-02-29", &d), CHAT_EINVAL);
	assert_int_equal(range_day_parse("2026-1-01", &d), CHAT_EINVAL);
	assert_int_equal(range_day_parse("2026-12-07x", &d), CHAT_EINVAL);
	assert_int_equal(range_day_of_ms(-1), -1);
}

/* The rollup tables as migrations.c makes them (the columns agg.c
 * writes), one statement each. */
static const char *const agg_schema[] = {
	"CREATE TABLE usage_daily (day TEXT, user_id TEXT, model TEXT,"
	ROLLUP_SUM_COLUMNS ", PRIMARY KEY (day, user_id, model))",
	"CREATE TABLE usage_model_daily (day TEXT, model TEXT,"
	ROLLUP_SUM_COLUMNS ", PRIMARY KEY (day, model))",
	"CREATE TABLE usage_user_daily (day TEXT, user_id TEXT,"
	ROLLUP_SUM_COLUMNS ", PRIMARY KEY (day, user_id))",
	"CREATE TABLE usage_errors (day TEXT, user_id TEXT, model TEXT,"
	" error_class TEXT, count BIGINT,"
	" PRIMARY KEY (day, user_id, model, error_class))",
	"CREATE TABLE usage_errors_daily (day TEXT, error_class TEXT,"
	" count BIGINT, PRIMARY KEY (day, error_class))",
	"CREATE TABLE usage_hist (day TEXT, user_id TEXT, model TEXT,"
	" metric TEXT, bucket INTEGER, count BIGINT,"
	" PRIMARY KEY (day, user_id, model, metric, bucket))",
	"CREATE TABLE usage_hist_daily (day TEXT, metric TEXT,"
	" bucket INTEGER, count BIGINT, PRIMARY KEY (day, metric, bucket))",
	"CREATE TABLE daily (day TEXT PRIMARY KEY, registrations BIGINT,"
	" logins BIGINT, failed_logins BIGINT)",
	"CREATE TABLE active (day TEXT, user_id TEXT,"
	" PRIMARY KEY (day, user_id))",
	"CREATE TABLE erased (user_id TEXT PRIMARY KEY, erased_at BIGINT)",
	"CREATE TABLE inbox (source TEXT, id TEXT, user_id TEXT, event TEXT,"
	" PRIMARY KEY (source, id))",
};

static int64_t agg_scalar(struct db_conn *c, const char *sql)
{
	struct db_rows *r = NULL;
	int64_t v;

	assert_int_equal(db_query(c, sql, NULL, 0, &r), 0);
	v = db_rows_int(r, 0, 0, -1);
	db_rows_free(r);
	return v;
}

/* A store in a new directory with agg_schema's tables; agg_close
 * removes it. */
static void agg_open(char *dir, struct db **db, struct db_conn **c)
{
	char err[256];
	size_t i;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(db_open("sqlite", dir, "agg", 1, db, err,
				 sizeof(err)), 0);
	assert_int_equal(db_acquire(*db, 1000, c), 0);
	for (i = 0; i < sizeof(agg_schema) / sizeof(agg_schema[0]); i++)
		assert_int_equal(db_exec(*c, agg_schema[i], NULL, 0, NULL),
				 0);
}

static void agg_close(const char *dir, struct db *db, struct db_conn *c)
{
	static const char *const files[] = { "agg.db", "agg.db-wal",
					     "agg.db-shm" };
	char path[64];
	size_t i;

	db_release(c);
	db_close(db);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void test_agg__batch_sums(void **state)
{
	char dir[] = "/tmp/test-agg-XXXXXX", uid[16];
	struct agg g = { 0 };
	struct rollup_delta d;
	struct db *db = NULL;
	struct db_conn *c = NULL;
	int k;

	(void)state;
	agg_open(dir, &db, &c);
	assert_int_equal(db_begin(c), 0);
	/* 3,000 generations of 1,000 users on 2 models and 3 days: past
	 * the table's first size; every 7th failed; one flush halfway */
	for (k = 0; k < 3000; k++) {
		memset(&d, 0, sizeof(d));
		snprintf(d.day, sizeof(d.day), "2026-12-0%u", 1u + (unsigned)k % 3u);
		snprintf(uid, sizeof(uid), "u%d", k % 1000);
		d.user_id = uid;
		d.model = k % 2 ? "a" : "b";
		d.requests = 1;
		d.usage = d.active = true;
		d.prompt_tokens = 10;
		d.ttft_ms = 100;
		d.latency_ms = -1;
		if (k % 7 == 0) {
			d.failed = 1;
			d.error_class = "timeout";
		} else {
			d.completed = 1;
		}
		assert_int_equal(agg_add(&g, &d), 0);
		if (k == 1500)
			assert_int_equal(agg_flush(&g, c), 0);
	}
	assert_int_equal(agg_flush(&g, c), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(agg_scalar(c, "SELECT SUM(requests) FROM"
				    " usage_daily"), 3000);
	assert_int_equal(agg_scalar(c, "SELECT SUM(prompt_tokens) FROM"
				    " usage_model_daily"), 30000);
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM"
				    " usage_model_daily"), 6);
	assert_int_equal(agg_scalar(c, "SELECT SUM(failed) FROM"
				    " usage_user_daily"), 429);
	assert_int_equal(agg_scalar(c, "SELECT SUM(count) FROM"
				    " usage_errors_daily"), 429);
	assert_int_equal(agg_scalar(c, "SELECT SUM(count) FROM usage_errors"),
			 429);
	/* one TTFT bucket a day, 1,000 a day; no latency */
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM"
				    " usage_hist_daily"), 3);
	assert_int_equal(agg_scalar(c, "SELECT MIN(count) FROM"
				    " usage_hist_daily"), 1000);
	assert_int_equal(agg_scalar(c, "SELECT SUM(count) FROM usage_hist"),
			 3000);
	/* user k % 1000 on day k % 3: each user on each day once */
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM active"), 3000);
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM daily"), 0);
	agg_release(&g);
	agg_close(dir, db, c);
}

/* One batch: a generation of u1, u1's erasure, another generation of
 * u1 (a producer that had not heard yet).  Both count, as nobody's: the
 * batch's sums of u1 go out before the erasure merges them, and what
 * the batch remembered of u1 (not erased) is forgotten with them. */
static void test_agg__erasure_inside_a_batch(void **state)
{
	static const char *const gen = "{\"model\":\"cheap\","
		"\"prompt_tokens\":10,\"completion_tokens\":5}";
	char dir[] = "/tmp/test-agg-XXXXXX";
	struct analyticsd a;
	struct db_conn *c = NULL;
	cJSON *ev[3];
	int k;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.prices = test_prices;
	agg_open(dir, &a.d.db, &c);
	ev[0] = event("chat.generation.completed", "2026-12-07T10:00:00Z",
		      "u1", gen);
	ev[1] = event("chat.user.deleted", "2026-12-07T10:00:01Z", "u1",
		      NULL);
	ev[2] = event("chat.generation.completed", "2026-12-07T10:00:02Z",
		      "u1", gen);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(rollup_batch_begin(&a, c), 0);
	for (k = 0; k < 3; k++) {
		assert_non_null(ev[k]);
		assert_int_equal(rollup_handle(&a, c, ev[k]), 0);
	}
	assert_int_equal(rollup_batch_end(&a, c, 1), 0);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM usage_daily"
				    " WHERE user_id = 'u1'"), 0);
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM"
				    " usage_user_daily WHERE user_id = 'u1'"),
			 0);
	assert_int_equal(agg_scalar(c, "SELECT SUM(requests) FROM"
				    " usage_daily WHERE user_id = ''"), 2);
	assert_int_equal(agg_scalar(c, "SELECT SUM(requests) FROM"
				    " usage_user_daily WHERE user_id = ''"), 2);
	assert_int_equal(agg_scalar(c, "SELECT SUM(requests) FROM"
				    " usage_model_daily"), 2);
	assert_int_equal(agg_scalar(c, "SELECT COUNT(*) FROM active"), 0);
	for (k = 0; k < 3; k++)
		cJSON_Delete(ev[k]);
	agg_close(dir, a.d.db, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollup__generation_completed),
		cmocka_unit_test(test_rollup__cost_unknown_without_price),
		cmocka_unit_test(test_rollup__failed_by_class),
		cmocka_unit_test(test_rollup__user_and_chat_counts),
		cmocka_unit_test(test_rollup__bad_events),
		cmocka_unit_test(test_rollup__price_parse),
		cmocka_unit_test(test_rollup__erase_strip),
		cmocka_unit_test(test_rollup__admin_change_not_active),
		cmocka_unit_test(test_range__days),
		cmocka_unit_test(test_agg__batch_sums),
		cmocka_unit_test(test_agg__erasure_inside_a_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
