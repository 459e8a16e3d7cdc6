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
	{
		.version = 2,
		.name = "webhook endpoints, messages, jobs, attempts",
		.sql_sqlite =
		/* scope 'user': the owner's events; 'system' (an admin's):
		 * every event.  secret/old_secret: sealed with the data key
		 * (webhook-sign.c); old_secret signs too until old_until */
		"CREATE TABLE webhook_endpoints ("
		" id TEXT PRIMARY KEY,"
		" user_id TEXT NOT NULL,"
		" scope TEXT NOT NULL,"
		" url TEXT NOT NULL,"
		" description TEXT NOT NULL,"
		" events TEXT NOT NULL,"
		" secret TEXT NOT NULL,"
		" old_secret TEXT,"
		" old_until_ms BIGINT,"
		" failing_since_ms BIGINT,"
		" disabled_ms BIGINT,"
		" disabled_reason TEXT,"
		" created_ms BIGINT NOT NULL,"
		" updated_ms BIGINT NOT NULL"
		");"
		"CREATE INDEX webhook_endpoints_user_idx ON webhook_endpoints"
		" (user_id, id);"
		/* one per (endpoint, event): id is the webhook-id */
		"CREATE TABLE webhook_messages ("
		" id TEXT PRIMARY KEY,"
		" endpoint_id TEXT NOT NULL,"
		" user_id TEXT,"
		" event_key TEXT NOT NULL,"
		" type TEXT NOT NULL,"
		" body TEXT NOT NULL,"
		" created_ms BIGINT NOT NULL,"
		" UNIQUE (endpoint_id, event_key)"
		");"
		"CREATE INDEX webhook_messages_ep_idx ON webhook_messages"
		" (endpoint_id, created_ms);"
		/* the store backend of queue.h; state: enum queue_state */
		"CREATE TABLE webhook_jobs ("
		" id TEXT PRIMARY KEY,"
		" msg_id TEXT NOT NULL,"
		" endpoint_id TEXT NOT NULL,"
		" attempts INTEGER NOT NULL,"
		" created_ms BIGINT NOT NULL,"
		" next_ms BIGINT NOT NULL,"
		" state INTEGER NOT NULL"
		");"
		"CREATE INDEX webhook_jobs_due_idx ON webhook_jobs"
		" (state, next_ms);"
		/* the delivery log: one row per attempt */
		"CREATE TABLE webhook_attempts ("
		" id TEXT PRIMARY KEY,"
		" endpoint_id TEXT NOT NULL,"
		" msg_id TEXT NOT NULL,"
		" attempt INTEGER NOT NULL,"
		" at_ms BIGINT NOT NULL,"
		" status INTEGER NOT NULL,"
		" latency_ms BIGINT NOT NULL,"
		" outcome TEXT NOT NULL,"
		" excerpt TEXT NOT NULL"
		");"
		"CREATE INDEX webhook_attempts_ep_idx ON webhook_attempts"
		" (endpoint_id, id)",
		.sql_pg = NULL,
	},
	{
		.version = 3,
		.name = "mail jobs, used unsubscribe tokens",
		/* one row per mail to send (mail-jobs.c): a notice's mail
		 * (rcpt NULL: the user's verified address at send time)
		 * or a code mail of userd's (rcpt and code set, expires_ms
		 * its 30 minutes); the row goes once the mail is sent,
		 * so a code is not kept a moment longer */
		.sql_sqlite =
		"CREATE TABLE mail_jobs ("
		" id TEXT PRIMARY KEY,"
		" user_id TEXT NOT NULL,"
		" kind TEXT NOT NULL,"
		" category TEXT NOT NULL,"
		" rcpt TEXT,"
		" code TEXT,"
		" data TEXT NOT NULL,"
		" attempts INTEGER NOT NULL,"
		" next_ms BIGINT NOT NULL,"
		" expires_ms BIGINT,"
		" created_ms BIGINT NOT NULL"
		");"
		"CREATE INDEX mail_jobs_next_idx ON mail_jobs (next_ms);"
		"CREATE INDEX mail_jobs_user_idx ON mail_jobs (user_id);"
		/* an unsubscribe token works once: its nonce, once used */
		"CREATE TABLE mail_unsubscribed ("
		" nonce TEXT PRIMARY KEY,"
		" user_id TEXT NOT NULL,"
		" category TEXT NOT NULL,"
		" used_ms BIGINT NOT NULL"
		");"
		"CREATE INDEX mail_unsubscribed_user_idx ON mail_unsubscribed"
		" (user_id)",
		.sql_pg = NULL,
	},
	{
		.version = 4,
		.name = "webhook endpoints by scope",
		/* every event asks for the system endpoints (webhook-
		 * fanout.c): found by index, not by a scan of everyone's */
		.sql_sqlite =
		"CREATE INDEX webhook_endpoints_scope_idx ON webhook_endpoints"
		" (scope, disabled_ms)",
		.sql_pg = NULL,
	},
};

const size_t notifyd_migrations_count =
	sizeof(notifyd_migrations) / sizeof(notifyd_migrations[0]);
