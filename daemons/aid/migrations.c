/*
 * migrations.c - the schema of aid's store, as numbered migrations
 * (db_migrate applies them in order at start, each exactly once).
 *
 * usage: one row per generation (chat, title or OpenAI API request):
 * tokens, time to first token and latency, how it ended.  user_id is the
 * distribution column when the table is sharded with Citus.  Times are
 * BIGINT unix milliseconds.
 */
#include "aid.h"
#include "banned.h"

const struct db_migration aid_migrations[] = {
	{
		.version = 1,
		.name = "usage",
		.sql_sqlite =
		"CREATE TABLE usage ("
		" id TEXT PRIMARY KEY,"
		" user_id TEXT NOT NULL,"
		" model TEXT NOT NULL,"
		" provider TEXT NOT NULL,"
		" purpose TEXT NOT NULL,"
		" prompt_tokens BIGINT NOT NULL,"
		" completion_tokens BIGINT NOT NULL,"
		" ttft_ms BIGINT,"
		" latency_ms BIGINT NOT NULL,"
		" status TEXT NOT NULL,"
		" created_at BIGINT NOT NULL"
		");"
		"CREATE INDEX usage_user_idx ON usage (user_id, created_at)",
		.sql_pg = NULL,
	},
};

const size_t aid_migrations_count =
	sizeof(aid_migrations) / sizeof(aid_migrations[0]);
