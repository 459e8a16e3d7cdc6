/*
 * test-events.c - the producing side of the event backbone (events.h):
 * the CloudEvents envelope events_envelope builds, the type -> topic
 * table, and events_emit into a real SQLite store migrated by the kit's
 * own migrations (events_kit_migrate), inside and outside a committed
 * transaction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "err.h"
#include "events.h"
#include "events-relay.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define ID "01890a5d-ac96-774b-bcce-b302099a8057"

/* 2026-12-07T15:04:05.123Z */
#define TIME_MS 1796655845123LL

static cJSON *parse_envelope(const char *daemon, const char *type,
			     const char *user, const char *subject,
			     const cJSON *data)
{
	char *text = NULL;
	cJSON *ev;

	assert_int_equal(events_envelope(daemon, ID, TIME_MS, type, user,
					 subject, data, &text), 0);
	assert_non_null(text);
	ev = cJSON_Parse(text);
	free(text);
	assert_non_null(ev);
	return ev;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void test_events__envelope(void **state)
{
	cJSON *data = cJSON_CreateObject(), *ev;

	(void)state;
	cJSON_AddStringToObject(data, "username", "alice");
	ev = parse_envelope("userd", "chat.user.registered", "u-1",
			    "users/u-1", data);
	assert_string_equal(str(ev, "specversion"), "1.0");
	assert_string_equal(str(ev, "id"), ID);
	assert_string_equal(str(ev, "source"), "/chat/userd");
	assert_string_equal(str(ev, "type"), "chat.user.registered");
	assert_string_equal(str(ev, "time"), "2026-12-07T15:04:05.123Z");
	assert_string_equal(str(ev, "subject"), "users/u-1");
	assert_string_equal(str(ev, "datacontenttype"), "application/json");
	assert_string_equal(str(ev, "userid"), "u-1");
	assert_string_equal(str(cJSON_GetObjectItem(ev, "data"), "username"),
			    "alice");
	/* exactly these attributes */
	assert_int_equal(cJSON_GetArraySize(ev), 9);
	cJSON_Delete(ev);
	cJSON_Delete(data);
}

static void test_events__envelope_optional(void **state)
{
	cJSON *ev;

	(void)state;
	/* no user, no subject, no data: the attributes are left out and
	 * data is {} */
	ev = parse_envelope("aid", "chat.system.started", NULL, NULL, NULL);
	assert_null(cJSON_GetObjectItem(ev, "userid"));
	assert_null(cJSON_GetObjectItem(ev, "subject"));
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(ev, "data")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "data")),
			 0);
	/* milliseconds are zero-padded */
	cJSON_Delete(ev);
	{
		char *text = NULL;

		assert_int_equal(events_envelope("aid", ID, 1000000007LL,
						 "chat.system.started", NULL,
						 NULL, NULL, &text), 0);
		assert_non_null(strstr(text,
				       "\"time\":\"1970-01-12T13:46:40.007Z\""));
		free(text);
	}
}

static void test_events__envelope_refused(void **state)
{
	static const char *const bad_types[] = {
		NULL, "", "chat", "chat.user", "user.registered",
		"chat.user.", "chat..registered", "chat.User.registered",
		"chat.user.registered!", "chat.user.a b",
		"chat.user.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	cJSON *arr = cJSON_CreateArray(), *big = cJSON_CreateObject();
	char *text = (char *)"untouched", *fill;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		text = (char *)"untouched";
		assert_int_equal(events_envelope("userd", ID, TIME_MS,
						 bad_types[i], NULL, NULL,
						 NULL, &text), CHAT_EINVAL);
		assert_null(text);
	}
	/* data must be an object */
	assert_int_equal(events_envelope("userd", ID, TIME_MS,
					 "chat.user.registered", NULL, NULL,
					 arr, &text), CHAT_EINVAL);
	/* and the whole event within EVENTS_MAX_BYTES */
	fill = malloc(EVENTS_MAX_BYTES + 1);
	assert_non_null(fill);
	memset(fill, 'x', EVENTS_MAX_BYTES);
	fill[EVENTS_MAX_BYTES] = '\0';
	cJSON_AddStringToObject(big, "text", fill);
	assert_int_equal(events_envelope("userd", ID, TIME_MS,
					 "chat.message.created", NULL, NULL,
					 big, &text), CHAT_EINVAL);
	assert_null(text);
	free(fill);
	cJSON_Delete(big);
	cJSON_Delete(arr);
}

static void test_events__topic(void **state)
{
	static const struct {
		const char *type, *topic;
	} cases[] = {
		{ "chat.user.registered", "user-events" },
		{ "chat.user.login_failed", "user-events" },
		{ "chat.session.created", "user-events" },
		{ "chat.apikey.revoked", "user-events" },
		{ "chat.conversation.created", "chat-events" },
		{ "chat.message.created", "chat-events" },
		{ "chat.generation.completed", "ai-events" },
		{ "chat.system.started", "system-events" },
		{ "chat.users.registered", NULL },
		{ "chat.other.thing", NULL },
		{ "chat.user", NULL },
		{ NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = events_topic(cases[i].type);

		if (cases[i].topic)
			assert_string_equal(t, cases[i].topic);
		else
			assert_null(t);
	}
}

/* ---- events_emit into a store ----------------------------------------- */

struct fx {
	char dir[64];
	struct db *db;
	struct daemon d;
	struct daemon_spec spec;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-events-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	if (db_open("sqlite", fx->dir, "ev", 2, &fx->db, err, sizeof(err)))
		return -1;
	/* twice: the second call finds the migration applied */
	if (events_kit_migrate(fx->db, err, sizeof(err)) ||
	    events_kit_migrate(fx->db, err, sizeof(err)))
		return -1;
	fx->spec.name = "userd";
	fx->d.spec = &fx->spec;
	fx->d.db = fx->db;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	char path[128];

	db_close(fx->db);
	snprintf(path, sizeof(path), "%s/ev.db", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ev.db-wal", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ev.db-shm", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int64_t count_rows(struct db_conn *c, const char *sql)
{
	struct db_rows *r = NULL;
	int64_t n;

	assert_int_equal(db_query(c, sql, NULL, 0, &r), 0);
	n = db_rows_int(r, 0, 0, -1);
	db_rows_free(r);
	return n;
}

static void test_events__emit_commit_rollback(void **state)
{
	struct fx *fx = *state;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *data = cJSON_CreateObject(), *ev;
	regex_t uuid7;

	cJSON_AddStringToObject(data, "username", "bob");
	assert_int_equal(db_acquire(fx->db, 1000, &c), 0);

	/* rolled back: no row */
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(events_emit(c, &fx->d, "chat.user.registered",
				     "u-2", "users/u-2", data), 0);
	assert_int_equal(db_rollback(c), 0);
	assert_int_equal(count_rows(c, "SELECT COUNT(*) FROM outbox"), 0);
	/* nor a position used up */
	assert_int_equal(count_rows(c, "SELECT pos FROM outbox_head"), 0);

	/* committed: one row, its position given at insert on SQLite (one
	 * writer: insert order is commit order), not by a relay pass */
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(events_emit(c, &fx->d, "chat.user.registered",
				     "u-2", "users/u-2", data), 0);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(db_query(c, "SELECT id, type, user_id, time_ms,"
				  " event, pos, relayed_ms FROM outbox", NULL,
				  0, &r), 0);
	assert_int_equal(db_rows_count(r), 1);
	assert_string_equal(db_rows_get(r, 0, 1), "chat.user.registered");
	assert_string_equal(db_rows_get(r, 0, 2), "u-2");
	assert_true(db_rows_int(r, 0, 3, 0) > 0);
	assert_int_equal(db_rows_int(r, 0, 5, -1), 1);
	assert_null(db_rows_get(r, 0, 6));
	ev = cJSON_Parse(db_rows_get(r, 0, 4));
	assert_non_null(ev);
	/* the row's id is the event's, a UUIDv7 */
	assert_string_equal(str(ev, "id"), db_rows_get(r, 0, 0));
	assert_int_equal(regcomp(&uuid7, "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}"
				 "-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
				 REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&uuid7, str(ev, "id"), 0, NULL, 0), 0);
	regfree(&uuid7);
	assert_string_equal(str(ev, "source"), "/chat/userd");
	assert_string_equal(str(ev, "userid"), "u-2");
	cJSON_Delete(ev);
	db_rows_free(r);

	/* a bad type writes nothing */
	assert_int_equal(events_emit(c, &fx->d, "user.registered", NULL, NULL,
				     NULL), CHAT_EINVAL);
	assert_int_equal(count_rows(c, "SELECT COUNT(*) FROM outbox"), 1);
	/* the head row, from the migration at 0, counts the one given */
	assert_int_equal(count_rows(c, "SELECT pos FROM outbox_head"), 1);
	db_release(c);
	cJSON_Delete(data);
}

static void test_events__emit_ids_increase(void **state)
{
	struct fx *fx = *state;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	size_t i;

	assert_int_equal(db_acquire(fx->db, 1000, &c), 0);
	assert_int_equal(db_begin(c), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(events_emit(c, &fx->d, "chat.system.started",
					     NULL, NULL, NULL), 0);
	assert_int_equal(db_commit(c), 0);
	/* ids in insert order are in byte order too (UUIDv7), and the
	 * positions (SQLite) count up from 1 in that order */
	assert_int_equal(db_query(c, "SELECT id, pos FROM outbox ORDER BY seq",
				  NULL, 0, &r), 0);
	assert_int_equal(db_rows_count(r), 20);
	for (i = 1; i < 20; i++)
		assert_true(strcmp(db_rows_get(r, i - 1, 0),
				   db_rows_get(r, i, 0)) < 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(db_rows_int(r, i, 1, 0), (int64_t)i + 1);
	db_rows_free(r);
	db_release(c);
}

/* The outbox's store identity: 128 random bits in hex, made with the
 * outbox, kept by a second migrate, another one in another store. */
static void test_events__store_identity(void **state)
{
	struct fx *fx = *state, *other = NULL;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char first[64];
	regex_t hex;
	void *st = NULL;

	assert_int_equal(db_acquire(fx->db, 1000, &c), 0);
	assert_int_equal(db_query(c, "SELECT store FROM outbox_head", NULL, 0,
				  &r), 0);
	assert_int_equal(db_rows_count(r), 1);
	assert_non_null(db_rows_get(r, 0, 0));
	assert_int_equal(regcomp(&hex, "^[0-9a-f]{32}$",
				 REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&hex, db_rows_get(r, 0, 0), 0, NULL, 0), 0);
	regfree(&hex);
	snprintf(first, sizeof(first), "%s", db_rows_get(r, 0, 0));
	db_rows_free(r);
	db_release(c);

	assert_int_equal(fx_setup(&st), 0);
	other = st;
	assert_int_equal(db_acquire(other->db, 1000, &c), 0);
	assert_int_equal(db_query(c, "SELECT store FROM outbox_head", NULL, 0,
				  &r), 0);
	assert_non_null(db_rows_get(r, 0, 0));
	assert_string_not_equal(db_rows_get(r, 0, 0), first);
	db_rows_free(r);
	db_release(c);
	fx_teardown(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events__envelope),
		cmocka_unit_test(test_events__envelope_optional),
		cmocka_unit_test(test_events__envelope_refused),
		cmocka_unit_test(test_events__topic),
		cmocka_unit_test_setup_teardown(
			test_events__emit_commit_rollback, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_events__emit_ids_increase, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_events__store_identity, fx_setup, fx_teardown),
	};

	log_init("test-events", LOG_LERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
