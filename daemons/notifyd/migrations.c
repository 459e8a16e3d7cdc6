/*
 * migrations.c - the schema of notifyd's store, as numbered migrations
 * (db_migrate applies them in order at start, each once).  One SQL text
 * serves SQLite and PostgreSQL; times are BIGINT unix milliseconds.
 *
 * Every per-user table has user_id (the distribution column, so Citus
 * can shard them); broadcasts is one row for everyone (a reference
 * table there).  The channels of a preference are a bit set
 * (enum notify_channel).
 */
#include "notifyd.h"
#include "events-consumer.h"
#include "banned.h"

const struct db_migration notifyd_migrations[] = {
	{
		.version = 1,
		.name = "inbox, cursors, notifications, broadcasts",
		.sql_sqlite =
		EVENTS_CONSUMER_MIGRATION_SQL ";"
		"CREATE TABLE notifications ("
		" id TEXT PRIMARY KEY,"
		" user_id TEXT NOT NULL,"
		" category TEXT NOT NULL,"
		" kind TEXT NOT NULL,"
		" title TEXT NOT NULL,"
		" body TEXT NOT NULL,"
		" data TEXT NOT NULL,"
		" created_ms BIGINT NOT NULL,"
		" read_ms BIGINT"
		");"
		"CREATE INDEX notifications_user_idx ON notifications"
		" (user_id, id);"
		/* the user agents each user signed in with */
		"CREATE TABLE devices ("
		" user_id TEXT NOT NULL,"
		" device TEXT NOT NULL,"
		" first_ms BIGINT NOT NULL,"
		" PRIMARY KEY (user_id, device)"
		");"
		"CREATE TABLE preferences ("
		" user_id TEXT NOT NULL,"
		" category TEXT NOT NULL,"
		" channels INTEGER NOT NULL,"
		" PRIMARY KEY (user_id, category)"
		");"
		"CREATE TABLE broadcasts ("
		" id TEXT PRIMARY KEY,"
		" message TEXT NOT NULL,"
		" by_user TEXT NOT NULL,"
		" created_ms BIGINT NOT NULL"
		");"
		"CREATE TABLE broadcast_reads ("
		" user_id TEXT NOT NULL,"
		" broadcast_id TEXT NOT NULL,"
		" read_ms BIGINT NOT NULL,"
		" PRIMARY KEY (user_id, broadcast_id)"
		");"
		/* erased users (chat.user.deleted): a later event of a
		 * producer that had not heard yet stores nothing */
		"CREATE TABLE erased ("
		" user_id TEXT PRIMARY KEY,"
		" erased_at BIGINT NOT NULL"
		")",
		.sql_pg = NULL,
	},
};

const size_t notifyd_migrations_count =
	sizeof(notifyd_migrations) / sizeof(notifyd_migrations[0]);
