/*
 * events.c - the producing side of the event backbone (events.h): a
 * CloudEvents 1.0 envelope built and written into the outbox table in
 * the caller's transaction, the type -> Kafka topic map, and the outbox
 * tables' migrations the daemon kit applies (events-relay.h).
 *
 * Nothing here commits, syncs or talks to the network: an emit is one
 * INSERT in a transaction the caller already pays for.
 */
#include "events.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "err.h"
#include "events-relay.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define EVENTS_TYPE_MAX 64

static const char sql_insert[] =
	"INSERT INTO outbox (id, type, user_id, time_ms, event)"
	" VALUES ($1, $2, $3, $4, $5)";
/* SQLite: the row's position at once.  One writer at a time holds the
 * store (db_begin is BEGIN IMMEDIATE), so the order positions are given
 * in is the order of the commits: no later commit can undercut one, the
 * property the relay's stamping exists for on PostgreSQL (events.h).
 * The relay then has no transaction to write for new rows, and a
 * consumer sees a row as soon as it is committed. */
static const char sql_head_next[] =
	"UPDATE outbox_head SET pos = pos + 1 WHERE id = 1";
static const char sql_insert_pos[] =
	"INSERT INTO outbox (id, type, user_id, time_ms, event, pos)"
	" SELECT $1, $2, $3, $4, $5, pos FROM outbox_head WHERE id = 1";

/* ---- helpers ----------------------------------------------------------- */

/* "chat.<noun>.<verb>[.<more>]": lowercase letters, digits and '_' in
 * each of at least three dot-separated non-empty parts. */
static int events_type_valid(const char *type)
{
	size_t len, i, parts = 1;
	char prev = '.';

	if (!type || strncmp(type, "chat.", 5) != 0)
		return 0;
	len = strlen(type);
	if (len > EVENTS_TYPE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = type[i];

		if (ch == '.') {
			if (prev == '.')
				return 0;
			parts++;
		} else if (!((ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '_')) {
			return 0;
		}
		prev = ch;
	}
	return parts >= 3 && prev != '.';
}

/* RFC 3339 in UTC with milliseconds: 2026-12-07T15:04:05.123Z */
static int events_time(int64_t ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	if (!gmtime_r(&secs, &tm))
		return CHAT_EINVAL;
	if (strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return CHAT_EINVAL;
	if ((size_t)snprintf(out, outlen, "%s.%03dZ", day,
			     (int)(ms % 1000)) >= outlen)
		return CHAT_ETOOBIG;
	return 0;
}

/* ---- public ------------------------------------------------------------ */

int events_envelope(const char *daemon, const char *id, int64_t ms,
		    const char *type, const char *user_id,
		    const char *subject, const cJSON *data, char **out)
{
	cJSON *ev = NULL, *copy = NULL;
	char source[96], when[40];
	char *text = NULL;
	int rc = 0;

	*out = NULL;
	if (!events_type_valid(type) || !daemon || !id)
		return CHAT_EINVAL;
	if ((size_t)snprintf(source, sizeof(source), "/chat/%s", daemon) >=
	    sizeof(source))
		return CHAT_EINVAL;
	rc = events_time(ms, when, sizeof(when));
	if (rc < 0)
		return rc;
	ev = cJSON_CreateObject();
	if (!ev) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	copy = data ? cJSON_Duplicate(data, 1) : cJSON_CreateObject();
	if (!copy || !cJSON_IsObject(copy)) {
		rc = copy ? CHAT_EINVAL : CHAT_ENOMEM;
		goto out;
	}
	if (!cJSON_AddStringToObject(ev, "specversion", "1.0") ||
	    !cJSON_AddStringToObject(ev, "id", id) ||
	    !cJSON_AddStringToObject(ev, "source", source) ||
	    !cJSON_AddStringToObject(ev, "type", type) ||
	    !cJSON_AddStringToObject(ev, "time", when) ||
	    (subject && !cJSON_AddStringToObject(ev, "subject", subject)) ||
	    !cJSON_AddStringToObject(ev, "datacontenttype",
				     "application/json") ||
	    (user_id && !cJSON_AddStringToObject(ev, "userid", user_id))) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	cJSON_AddItemToObject(ev, "data", copy);
	copy = NULL;
	text = cJSON_PrintUnformatted(ev);
	if (!text) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	if (strlen(text) > EVENTS_MAX_BYTES) {
		rc = CHAT_EINVAL;
		goto out;
	}
	*out = text;
	text = NULL;
out:
	cJSON_Delete(copy);
	cJSON_Delete(ev);
	free(text);
	return rc;
}

int events_emit(struct db_conn *c, const struct daemon *d, const char *type,
		const char *user_id, const char *subject,
		const struct cJSON *data)
{
	struct db_param p[5];
	char id[UUID_STR_LEN];
	char *text = NULL;
	int64_t ms = now_ms();
	int rc;

	if (!c || !d)
		return CHAT_EINVAL;
	rc = uuid_v7(id);
	if (rc < 0)
		return rc;
	rc = events_envelope(d->spec->name, id, ms, type, user_id, subject,
			     data, &text);
	if (rc < 0)
		return rc;
	p[0] = db_p_text(id);
	p[1] = db_p_text(type);
	p[2] = db_p_text(user_id);
	p[3] = DB_P_INT(ms);
	p[4] = db_p_text(text);
	if (strcmp(db_backend(d->db), "sqlite") == 0) {
		rc = db_exec(c, sql_head_next, NULL, 0, NULL);
		if (rc == 0)
			rc = db_exec(c, sql_insert_pos, p, 5, NULL);
	} else {
		rc = db_exec(c, sql_insert, p, 5, NULL);
	}
	free(text);
	if (rc == 0 && d->events)
		events_kit_wake(d->events);
	return rc;
}

/* The noun of a type -> its topic; the first matching prefix wins. */
static const struct {
	const char *prefix;
	const char *topic;
} events_topics[] = {
	{ "chat.user.", "user-events" },
	{ "chat.session.", "user-events" },
	{ "chat.apikey.", "user-events" },
	{ "chat.conversation.", "chat-events" },
	{ "chat.message.", "chat-events" },
	{ "chat.generation.", "ai-events" },
	{ "chat.system.", "system-events" },
};

const char *events_topic(const char *type)
{
	size_t i;

	if (!type)
		return NULL;
	for (i = 0; i < sizeof(events_topics) / sizeof(events_topics[0]); i++)
		if (strncmp(type, events_topics[i].prefix,
			    strlen(events_topics[i].prefix)) == 0)
			return events_topics[i].topic;
	return NULL;
}

int events_erase_user(struct db_conn *c, const struct daemon *d,
		      const char *user_id)
{
	struct db_param p[1];

	if (!c || !d || !user_id)
		return CHAT_EINVAL;
	if (!d->spec->events)
		return 0;
	p[0] = db_p_text(user_id);
	return db_exec(c, "DELETE FROM outbox WHERE user_id = $1", p, 1, NULL);
}

int events_include_text(const struct daemon *d)
{
	bool on = false;
	char err[128];

	if (!d || !d->cfg ||
	    config_key_bool(d->cfg, "events.include_text", &on, err,
			    sizeof(err)) < 0)
		return 0;
	return on ? 1 : 0;
}

/* ---- the outbox tables ------------------------------------------------- */

/* The outbox schema of both stores, but for the key column SEQ_KEY (the
 * order rows were written in): an AUTOINCREMENT rowid on SQLite, a
 * BIGSERIAL on PostgreSQL. */
#define OUTBOX_SQL(SEQ_KEY) \
	"CREATE TABLE outbox (" \
	" seq " SEQ_KEY "," \
	" id TEXT NOT NULL UNIQUE," \
	" type TEXT NOT NULL," \
	" user_id TEXT," \
	" time_ms BIGINT NOT NULL," \
	" event TEXT NOT NULL," \
	" pos BIGINT UNIQUE," \
	" relayed_ms BIGINT);" \
	"CREATE INDEX outbox_unstamped ON outbox (seq) WHERE pos IS NULL;" \
	"CREATE INDEX outbox_unrelayed ON outbox (pos)" \
	" WHERE relayed_ms IS NULL;" \
	"CREATE INDEX outbox_time ON outbox (time_ms);" \
	"CREATE TABLE outbox_consumers (" \
	" name TEXT PRIMARY KEY," \
	" pos BIGINT NOT NULL," \
	" seen_ms BIGINT NOT NULL);" \
	"CREATE TABLE outbox_head (" \
	" id INTEGER PRIMARY KEY CHECK (id = 1)," \
	" pos BIGINT NOT NULL);" \
	"INSERT INTO outbox_head (id, pos) VALUES (1, 0)"

static const char outbox_sqlite[] =
	OUTBOX_SQL("INTEGER PRIMARY KEY AUTOINCREMENT");
static const char outbox_pg[] = OUTBOX_SQL("BIGSERIAL PRIMARY KEY");

/* The outbox's store identity (events.h): 128 random bits as hex, made
 * once with the outbox, so that a new store (a file replaced, a database
 * recreated) has another one and consumers notice their cursor is void. */
static const char store_sqlite[] =
	"ALTER TABLE outbox_head ADD COLUMN store TEXT;"
	"UPDATE outbox_head SET store = lower(hex(randomblob(16)))";
static const char store_pg[] =
	"ALTER TABLE outbox_head ADD COLUMN store TEXT;"
	"UPDATE outbox_head SET store = md5(random()::text ||"
	" clock_timestamp()::text || pg_backend_pid()::text)";

/* The kit's own numbering (EVENTS_MIGRATION_BASE and up) in the same
 * schema_migrations as the daemon's: a second db_migrate call with these
 * versions applies them once, apart from the daemon's list. */
static const struct db_migration events_migrations[] = {
	{
		.version = EVENTS_MIGRATION_BASE + 1,
		.name = "outbox",
		.sql_sqlite = outbox_sqlite,
		.sql_pg = outbox_pg,
	},
	{
		.version = EVENTS_MIGRATION_BASE + 2,
		.name = "outbox store identity",
		.sql_sqlite = store_sqlite,
		.sql_pg = store_pg,
	},
};

int events_kit_migrate(struct db *db, char *err, size_t errlen)
{
	return db_migrate(db, events_migrations,
			  sizeof(events_migrations) /
				  sizeof(events_migrations[0]),
			  err, errlen);
}
