/* test-notifyd-rules.c - notifyd's rule table without a store: which
 * event types make which notification (category, kind, the fields of
 * the event kept in its data), the admin's variant of a password
 * change, the types that make none, an answer's end made news only
 * when the user missed it, and the events refused because they fail
 * the schema their rule reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "err.h"
#include "../../daemons/notifyd/notifyd.h"
#include "banned.h"

#define USER "01938f4e-6a2b-7c1d-9e3f-0a1b2c3d4e5f"

static cJSON *event(const char *type, const char *user, const char *data)
{
	char text[2048];
	int n;

	n = snprintf(text, sizeof(text), "{\"specversion\":\"1.0\","
		     "\"id\":\"01a2\",\"source\":\"/chat/userd\","
		     "\"type\":\"%s\"%s%s%s,\"data\":%s}", type,
		     user ? ",\"userid\":\"" : "", user ? user : "",
		     user ? "\"" : "", data ? data : "{}");
	assert_true(n > 0 && (size_t)n < sizeof(text));
	return cJSON_Parse(text);
}

/* The rule's result for one event; *out's data printed into data. */
static int notice_of(const char *type, const char *user, const char *data,
		     struct notice *out, char *printed, size_t len)
{
	cJSON *ev = event(type, user, data);
	char *p;
	int rc;

	assert_non_null(ev);
	rc = rule_from_event(ev, out);
	printed[0] = '\0';
	if (rc == 1) {
		p = cJSON_PrintUnformatted(out->data);
		assert_non_null(p);
		snprintf(printed, len, "%s", p);
		cJSON_free(p);
		/* the user points into the event: checked before it goes */
		assert_string_equal(out->user_id, USER);
		notice_release(out);
	}
	cJSON_Delete(ev);
	return rc;
}

static const struct {
	const char *type;
	const char *data;
	const char *category;
	const char *kind;
	const char *kept;		/* the notification's data */
	bool device;
} made[] = {
	{ "chat.session.created",
	  "{\"session_id\":\"s1\",\"expires_at\":\"2026-12-14T00:00:00Z\","
	  "\"user_agent\":\"curl/8\",\"ip\":\"10.0.0.1\"}",
	  "security", "new_device",
	  "{\"session_id\":\"s1\",\"user_agent\":\"curl/8\","
	  "\"ip\":\"10.0.0.1\"}", true },
	{ "chat.session.created", "{\"session_id\":\"s1\",\"user_agent\":null}",
	  "security", "new_device",
	  "{\"session_id\":\"s1\",\"user_agent\":null}", true },
	{ "chat.session.reuse_detected", "{\"session_id\":\"s2\"}",
	  "security", "token_reuse", "{\"session_id\":\"s2\"}", false },
	{ "chat.user.password_changed", "{\"username\":\"ann\"}",
	  "security", "password_changed", "{}", false },
	{ "chat.apikey.created",
	  "{\"key_id\":\"k1\",\"name\":\"ci\",\"scopes\":[\"chat\"]}",
	  "account", "apikey_created", "{\"key_id\":\"k1\",\"name\":\"ci\"}",
	  false },
	{ "chat.message.finished",
	  "{\"message_id\":\"m1\",\"conversation_id\":\"c1\","
	  "\"model\":\"echo\",\"status\":\"complete\",\"latency_ms\":45000,"
	  "\"clients_connected\":0,\"title\":\"Plans\"}",
	  "generation", "generation_finished",
	  "{\"conversation_id\":\"c1\",\"message_id\":\"m1\","
	  "\"title\":\"Plans\",\"status\":\"complete\"}", false },
};

static void test_rules__made(void **state)
{
	struct notice n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		cJSON *ev = event(made[i].type, USER, made[i].data);
		char *p;

		assert_non_null(ev);
		assert_int_equal(rule_from_event(ev, &n), 1);
		assert_string_equal(n.category, made[i].category);
		assert_string_equal(n.kind, made[i].kind);
		assert_non_null(notify_category_find(n.category));
		assert_true(strlen(n.title) > 0 && strlen(n.body) > 0);
		assert_int_equal(n.device != NULL, made[i].device);
		p = cJSON_PrintUnformatted(n.data);
		assert_non_null(p);
		assert_string_equal(p, made[i].kept);
		cJSON_free(p);
		notice_release(&n);
		cJSON_Delete(ev);
	}
}

static void test_rules__device(void **state)
{
	struct notice n;
	cJSON *ev;

	(void)state;
	ev = event("chat.session.created", USER,
		   "{\"session_id\":\"s\",\"user_agent\":\"phone/1\"}");
	assert_int_equal(rule_from_event(ev, &n), 1);
	assert_string_equal(n.device, "phone/1");
	notice_release(&n);
	cJSON_Delete(ev);
	/* an unknown device is one device, "" */
	ev = event("chat.session.created", USER, "{\"session_id\":\"s\"}");
	assert_int_equal(rule_from_event(ev, &n), 1);
	assert_string_equal(n.device, "");
	notice_release(&n);
	cJSON_Delete(ev);
}

static void test_rules__admin_reset(void **state)
{
	struct notice mine, admin;
	cJSON *a = event("chat.user.password_changed", USER, "{}");
	cJSON *b = event("chat.user.password_changed", USER,
			 "{\"by\":\"01938f4e-0000-7000-8000-000000000001\"}");

	(void)state;
	assert_int_equal(rule_from_event(a, &mine), 1);
	assert_int_equal(rule_from_event(b, &admin), 1);
	assert_string_not_equal(mine.body, admin.body);
	assert_non_null(strstr(admin.body, "administrator"));
	assert_non_null(cJSON_GetObjectItem(admin.data, "by"));
	notice_release(&mine);
	notice_release(&admin);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_rules__none(void **state)
{
	static const char *const types[] = {
		"chat.user.registered", "chat.user.logged_in",
		"chat.session.refreshed", "chat.session.revoked",
		"chat.apikey.revoked", "chat.message.created",
		"chat.system.started", "chat.user.deleted",
	};
	struct notice n;
	char printed[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		assert_int_equal(notice_of(types[i], USER, NULL, &n, printed,
					   sizeof(printed)), 0);
}

static void test_rules__bad(void **state)
{
	static const struct {
		const char *type;
		const char *user;
		const char *data;
	} bad[] = {
		{ "chat.apikey.created", NULL, "{\"key_id\":\"k\"}" },
		{ "chat.apikey.created", "not-a-uuid", "{}" },
		{ "chat.apikey.created", USER, "[1]" },
		{ "chat.apikey.created", USER, "{\"name\":7}" },
		{ "chat.session.created", USER, "{\"user_agent\":{}}" },
		{ "chat.session.reuse_detected", USER, "\"s\"" },
	};
	struct notice n;
	char printed[64];
	cJSON *ev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(notice_of(bad[i].type, bad[i].user,
					   bad[i].data, &n, printed,
					   sizeof(printed)), CHAT_EINVAL);
	/* no type at all */
	ev = cJSON_Parse("{\"userid\":\"" USER "\"}");
	assert_non_null(ev);
	assert_int_equal(rule_from_event(ev, &n), CHAT_EINVAL);
	cJSON_Delete(ev);
}

/* An answer's end is news only when the user missed it: no client
 * connected, and neither stopped by the user nor cut by chatd's stop;
 * its length is the store's to judge (duration_ms). */
static void test_rules__away(void **state)
{
	static const struct {
		const char *data;
		int rc;
		int64_t ms;
	} cases[] = {
		{ "{\"status\":\"complete\",\"latency_ms\":30000,"
		  "\"clients_connected\":0}", 1, 30000 },
		{ "{\"status\":\"error\",\"latency_ms\":5,"
		  "\"clients_connected\":0}", 1, 5 },
		{ "{\"status\":\"complete\",\"latency_ms\":30000,"
		  "\"clients_connected\":1}", 0, -1 },
		{ "{\"status\":\"stopped\",\"latency_ms\":30000,"
		  "\"clients_connected\":0}", 0, -1 },
		{ "{\"status\":\"interrupted\",\"latency_ms\":30000,"
		  "\"clients_connected\":0}", 0, -1 },
		{ "{\"status\":\"complete\",\"latency_ms\":30000}", 0, -1 },
		{ "{\"status\":\"complete\",\"clients_connected\":0}", 0, -1 },
		{ "{\"latency_ms\":1,\"clients_connected\":0}", 0, -1 },
	};
	struct notice n;
	cJSON *ev;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev = event("chat.message.finished", USER, cases[i].data);
		assert_non_null(ev);
		rc = rule_from_event(ev, &n);
		assert_int_equal(rc, cases[i].rc);
		assert_int_equal(n.duration_ms, cases[i].ms);
		if (rc == 1)
			notice_release(&n);
		cJSON_Delete(ev);
	}
	/* the other kinds have no length */
	ev = event("chat.apikey.created", USER, "{}");
	assert_non_null(ev);
	assert_int_equal(rule_from_event(ev, &n), 1);
	assert_int_equal(n.duration_ms, -1);
	notice_release(&n);
	cJSON_Delete(ev);
}

static void test_rules__categories(void **state)
{
	const struct notify_category *s = notify_category_find("security");

	(void)state;
	assert_non_null(s);
	assert_true(s->locked && (s->defaults & NOTIFY_IN_APP));
	assert_non_null(notify_category_find("account"));
	assert_non_null(notify_category_find("broadcast"));
	assert_non_null(notify_category_find("generation"));
	assert_null(notify_category_find("weather"));
	assert_true(notify_ncategories <= NOTIFY_CATEGORIES_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules__made),
		cmocka_unit_test(test_rules__device),
		cmocka_unit_test(test_rules__admin_reset),
		cmocka_unit_test(test_rules__none),
		cmocka_unit_test(test_rules__bad),
		cmocka_unit_test(test_rules__away),
		cmocka_unit_test(test_rules__categories),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
