/*
 * migrations.c - the schema of sessiond's store, as numbered migrations
 * (db_migrate applies them in order at start, each exactly once).
 *
 * One SQL text serves SQLite and PostgreSQL.  user_id is on every table
 * because it is the distribution column when the tables are sharded with
 * Citus.  Times are BIGINT unix milliseconds.
 */
#include "sessiond.h"
#include "banned.h"

const struct db_migration migrations_table[] = {
	{
		.version = 1,
		.name = "sessions and refresh tokens",
		.sql_sqlite =
		"CREATE TABLE sessions ("
		" id TEXT PRIMARY KEY,"
		" user_id TEXT NOT NULL,"
		" user_agent TEXT,"
		" ip TEXT,"
		" created_at BIGINT NOT NULL,"
		" last_used_at BIGINT NOT NULL,"
		" expires_at BIGINT NOT NULL,"
		" revoked_at BIGINT,"
		" revoke_reason TEXT"
		");"
		"CREATE INDEX sessions_user_idx ON sessions (user_id, id);"
		"CREATE INDEX sessions_revoked_idx ON sessions (revoked_at);"
		"CREATE INDEX sessions_expires_idx ON sessions (expires_at);"
		"CREATE TABLE refresh_tokens ("
		" token_hash TEXT PRIMARY KEY,"
		" session_id TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		" created_at BIGINT NOT NULL,"
		" expires_at BIGINT NOT NULL,"
		" used_at BIGINT"
		");"
		"CREATE INDEX refresh_tokens_user_idx"
		" ON refresh_tokens (user_id);"
		"CREATE INDEX refresh_tokens_session_idx"
		" ON refresh_tokens (session_id);"
		"CREATE INDEX refresh_tokens_expires_idx"
		" ON refresh_tokens (expires_at)",
		.sql_pg = NULL,
	},
	{
		.version = 2,
		.name = "revocations of users and API keys",
		.sql_sqlite =
		"CREATE TABLE revocations ("
		" kind TEXT NOT NULL,"
		" subject TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		" revoked_at BIGINT NOT NULL"
		");"
		"CREATE INDEX revocations_at_idx ON revocations (revoked_at)",
		.sql_pg = NULL,
	},
};

const size_t migrations_count =
	sizeof(migrations_table) / sizeof(migrations_table[0]);
