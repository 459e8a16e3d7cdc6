/*
 * migrations.c - chatd's schema, as numbered migrations applied in order
 * at start (db_migrate).  Never edit an applied migration: add one.
 *
 * Times are BIGINT unix milliseconds, booleans INTEGER 0/1.  user_id is
 * on every table: it is the distribution column when the tables are
 * sharded with Citus.  There are no foreign keys for the same reason;
 * store.c keeps the references straight.  On PostgreSQL the id columns
 * use the "C" collation so that ORDER BY id follows the byte order of
 * the UUIDv7 text, i.e. creation order, as it does on SQLite.
 *
 *   conversations  one row per conversation; current_leaf_id is the
 *                  message the client shows the branch of (NULL: empty)
 *   messages       the message tree (parent_id NULL for a root)
 *   idempotency    Idempotency-Key claims of send and regenerate; the
 *                  messages a claim stored (bound in the transaction
 *                  that stores them, so that they outlive a crash)
 *   inbox, event_cursors  notifyd's events pushed live (notify.c)
 */
#include "chatd.h"

#include "db.h"
#include "events-consumer.h"
#include "banned.h"

static const char conversations_sqlite[] =
	"CREATE TABLE conversations ("
	" id TEXT PRIMARY KEY,"
	" user_id TEXT NOT NULL,"
	" title TEXT,"
	" model TEXT,"
	" system_prompt TEXT,"
	" archived INTEGER NOT NULL DEFAULT 0,"
	" current_leaf_id TEXT,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	"CREATE INDEX conversations_user_updated"
	" ON conversations (user_id, updated_at, id)";

static const char conversations_pg[] =
	"CREATE TABLE conversations ("
	" id TEXT COLLATE \"C\" PRIMARY KEY,"
	" user_id TEXT COLLATE \"C\" NOT NULL,"
	" title TEXT,"
	" model TEXT,"
	" system_prompt TEXT,"
	" archived INTEGER NOT NULL DEFAULT 0,"
	" current_leaf_id TEXT COLLATE \"C\","
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	"CREATE INDEX conversations_user_updated"
	" ON conversations (user_id, updated_at, id)";

/* The partial index finds the few "streaming" rows at start without a
 * scan of every message. */
static const char messages_sqlite[] =
	"CREATE TABLE messages ("
	" id TEXT PRIMARY KEY,"
	" conversation_id TEXT NOT NULL,"
	" user_id TEXT NOT NULL,"
	" parent_id TEXT,"
	" role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),"
	" content TEXT NOT NULL,"
	" model TEXT,"
	" status TEXT NOT NULL,"
	" error_code TEXT,"
	" error_message TEXT,"
	" prompt_tokens BIGINT,"
	" completion_tokens BIGINT,"
	" ttft_ms BIGINT,"
	" latency_ms BIGINT,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	"CREATE INDEX messages_conv_parent"
	" ON messages (conversation_id, parent_id);"
	"CREATE INDEX messages_conv_created"
	" ON messages (conversation_id, created_at);"
	"CREATE INDEX messages_streaming ON messages (status)"
	" WHERE status = 'streaming'";

static const char messages_pg[] =
	"CREATE TABLE messages ("
	" id TEXT COLLATE \"C\" PRIMARY KEY,"
	" conversation_id TEXT COLLATE \"C\" NOT NULL,"
	" user_id TEXT COLLATE \"C\" NOT NULL,"
	" parent_id TEXT COLLATE \"C\","
	" role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),"
	" content TEXT NOT NULL,"
	" model TEXT,"
	" status TEXT NOT NULL,"
	" error_code TEXT,"
	" error_message TEXT,"
	" prompt_tokens BIGINT,"
	" completion_tokens BIGINT,"
	" ttft_ms BIGINT,"
	" latency_ms BIGINT,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	"CREATE INDEX messages_conv_parent"
	" ON messages (conversation_id, parent_id);"
	"CREATE INDEX messages_conv_created"
	" ON messages (conversation_id, created_at);"
	"CREATE INDEX messages_streaming ON messages (status)"
	" WHERE status = 'streaming'";

/* state: 'running' while the first request runs, then 'done' with the
 * answer's status and body. */
static const char idempotency_sql[] =
	"CREATE TABLE idempotency ("
	" user_id TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" request_hash TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" status INTEGER,"
	" response TEXT,"
	" created_at BIGINT NOT NULL,"
	" PRIMARY KEY (user_id, key));"
	"CREATE INDEX idempotency_created ON idempotency (created_at)";

/* The messages of a claim: set in the transaction that stores them, so
 * that a claim found running after a crash either stored nothing (it is
 * dropped) or names what it stored (its retry answers from that).
 * state 'stored': such a claim whose request died with its process. */
static const char idempotency_messages_sql[] =
	"ALTER TABLE idempotency ADD COLUMN conversation_id TEXT;"
	"ALTER TABLE idempotency ADD COLUMN user_message_id TEXT;"
	"ALTER TABLE idempotency ADD COLUMN message_id TEXT";

const struct db_migration chatd_migrations[] = {
	{ 1, "conversations", conversations_sqlite, conversations_pg },
	{ 2, "messages", messages_sqlite, messages_pg },
	{ 3, "idempotency", idempotency_sql, NULL },
	{ 4, "idempotency_messages", idempotency_messages_sql, NULL },
	/* notify.c consumes notifyd's events: its inbox and cursor */
	{ 5, "events inbox", EVENTS_CONSUMER_MIGRATION_SQL, NULL },
};

const size_t chatd_migrations_count =
	sizeof(chatd_migrations) / sizeof(chatd_migrations[0]);
