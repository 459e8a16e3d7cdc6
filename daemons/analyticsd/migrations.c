/*
 * migrations.c - the schema of analyticsd's store, as numbered
 * migrations (db_migrate applies them in order at start, each once).
 *
 * One SQL text serves SQLite and PostgreSQL.  Days are "YYYY-MM-DD"
 * (UTC) text: they sort as dates and range queries are BETWEEN.  Money
 * is BIGINT pico-USD (tokens times micro-USD per million tokens), exact
 * for prices with up to six decimals; "unpriced" counts the requests of
 * a model without a price, whose cost is unknown, never 0.  user_id ''
 * holds what is left of erased users: their counts, without them.
 */
#include "analyticsd.h"
#include "events-consumer.h"
#include "banned.h"

/* SQLite: table t made again WITHOUT ROWID (its columns defs, its
 * primary key pk), its rows copied (cols). */
#define MIGRATE_CLUSTER(t, defs, pk, cols) \
	"CREATE TABLE " t "_new (" defs ", PRIMARY KEY (" pk "))" \
	" WITHOUT ROWID;" \
	"INSERT INTO " t "_new (" cols ") SELECT " cols " FROM " t ";" \
	"DROP TABLE " t ";" \
	"ALTER TABLE " t "_new RENAME TO " t

const struct db_migration analyticsd_migrations[] = {
	{
		.version = 1,
		.name = "inbox, cursors and rollups",
		.sql_sqlite =
		EVENTS_CONSUMER_MIGRATION_SQL ";"
		/* per day x user x model; model '' for counts that have
		 * none (conversations, messages without a model) */
		"CREATE TABLE usage_daily ("
		" day TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		" model TEXT NOT NULL,"
		" requests BIGINT NOT NULL DEFAULT 0,"
		" completed BIGINT NOT NULL DEFAULT 0,"
		" stopped BIGINT NOT NULL DEFAULT 0,"
		" failed BIGINT NOT NULL DEFAULT 0,"
		" prompt_tokens BIGINT NOT NULL DEFAULT 0,"
		" completion_tokens BIGINT NOT NULL DEFAULT 0,"
		" cost_pusd BIGINT NOT NULL DEFAULT 0,"
		" unpriced BIGINT NOT NULL DEFAULT 0,"
		" conversations BIGINT NOT NULL DEFAULT 0,"
		" messages BIGINT NOT NULL DEFAULT 0,"
		" PRIMARY KEY (day, user_id, model)"
		");"
		"CREATE INDEX usage_daily_user_idx ON usage_daily"
		" (user_id, day);"
		"CREATE TABLE usage_errors ("
		" day TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		" model TEXT NOT NULL,"
		" error_class TEXT NOT NULL,"
		" count BIGINT NOT NULL,"
		" PRIMARY KEY (day, user_id, model, error_class)"
		");"
		/* metric 't' time to first token, 'l' total latency;
		 * bucket as sketch.h: days and users merge by SUM */
		"CREATE TABLE usage_hist ("
		" day TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		" model TEXT NOT NULL,"
		" metric TEXT NOT NULL,"
		" bucket INTEGER NOT NULL,"
		" count BIGINT NOT NULL,"
		" PRIMARY KEY (day, user_id, model, metric, bucket)"
		");"
		"CREATE TABLE daily ("
		" day TEXT PRIMARY KEY,"
		" registrations BIGINT NOT NULL DEFAULT 0,"
		" logins BIGINT NOT NULL DEFAULT 0,"
		" failed_logins BIGINT NOT NULL DEFAULT 0"
		");"
		/* DAU from one day's rows, WAU and MAU from a week's and a
		 * month's: distinct users, so the days are kept */
		"CREATE TABLE active ("
		" day TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		" PRIMARY KEY (day, user_id)"
		");"
		/* users erased (chat.user.deleted): their later events,
		 * from producers that had not heard yet, come in
		 * anonymous */
		"CREATE TABLE erased ("
		" user_id TEXT PRIMARY KEY,"
		" erased_at BIGINT NOT NULL"
		")",
		.sql_pg = NULL,
	},
	{
		.version = 2,
		.name = "per-day rollups by model, by user and of the day",
		/* what the admin routes and the summary read: a few hundred
		 * or thousand rows of a range instead of every day x user x
		 * model row (docs/PERFORMANCE.md, issue 13); written in the
		 * same batch as usage_daily, and filled here from the rows a
		 * store already has, so that they add up the same */
		.sql_sqlite =
		"CREATE TABLE usage_model_daily ("
		" day TEXT NOT NULL,"
		" model TEXT NOT NULL,"
		ROLLUP_SUM_COLUMNS ","
		" PRIMARY KEY (day, model)"
		");"
		"CREATE TABLE usage_user_daily ("
		" day TEXT NOT NULL,"
		" user_id TEXT NOT NULL,"
		ROLLUP_SUM_COLUMNS ","
		" PRIMARY KEY (day, user_id)"
		");"
		"CREATE INDEX usage_user_daily_user_idx ON usage_user_daily"
		" (user_id, day);"
		"CREATE TABLE usage_errors_daily ("
		" day TEXT NOT NULL,"
		" error_class TEXT NOT NULL,"
		" count BIGINT NOT NULL,"
		" PRIMARY KEY (day, error_class)"
		");"
		"CREATE TABLE usage_hist_daily ("
		" day TEXT NOT NULL,"
		" metric TEXT NOT NULL,"
		" bucket INTEGER NOT NULL,"
		" count BIGINT NOT NULL,"
		" PRIMARY KEY (day, metric, bucket)"
		");"
		"INSERT INTO usage_model_daily (day, model, " ROLLUP_SUM_NAMES
		") SELECT day, model, " ROLLUP_SUM_SUMS
		" FROM usage_daily GROUP BY day, model;"
		"INSERT INTO usage_user_daily (day, user_id, " ROLLUP_SUM_NAMES
		") SELECT day, user_id, " ROLLUP_SUM_SUMS
		" FROM usage_daily GROUP BY day, user_id;"
		"INSERT INTO usage_errors_daily (day, error_class, count)"
		" SELECT day, error_class, SUM(count) FROM usage_errors"
		" GROUP BY day, error_class;"
		"INSERT INTO usage_hist_daily (day, metric, bucket, count)"
		" SELECT day, metric, bucket, SUM(count) FROM usage_hist"
		" GROUP BY day, metric, bucket",
		.sql_pg = NULL,
	},
	{
		.version = 3,
		.name = "the inbox's horizon",
		/* the first day (days since 1970-01-01) whose events the
		 * inbox still has in full, see retain.c */
		.sql_sqlite =
		"CREATE TABLE inbox_horizon ("
		" id INTEGER PRIMARY KEY,"
		" horizon BIGINT NOT NULL"
		")",
		.sql_pg = NULL,
	},
	{
		.version = 4,
		.name = "rollups clustered by their keys",
		/* SQLite: a table with a TEXT primary key is a rowid table
		 * plus an index of the key, so every upsert wrote two
		 * B-trees and every range read went from the index to the
		 * table row by row; WITHOUT ROWID keeps the rows in the
		 * key's B-tree (half the writes, ranges read in order).
		 * The user filter of usage_user_daily reads usage_daily's
		 * (user_id, day) index instead: a user's month is 150 rows
		 * there, and the index cost every batch a write per row */
		.sql_sqlite =
		"DROP INDEX usage_user_daily_user_idx;"
		MIGRATE_CLUSTER("usage_daily",
			" day TEXT NOT NULL, user_id TEXT NOT NULL,"
			" model TEXT NOT NULL," ROLLUP_SUM_COLUMNS,
			"day, user_id, model",
			"day, user_id, model, " ROLLUP_SUM_NAMES) ";"
		"CREATE INDEX usage_daily_user_idx ON usage_daily"
		" (user_id, day);"
		MIGRATE_CLUSTER("usage_model_daily",
			" day TEXT NOT NULL, model TEXT NOT NULL,"
			ROLLUP_SUM_COLUMNS, "day, model",
			"day, model, " ROLLUP_SUM_NAMES) ";"
		MIGRATE_CLUSTER("usage_user_daily",
			" day TEXT NOT NULL, user_id TEXT NOT NULL,"
			ROLLUP_SUM_COLUMNS, "day, user_id",
			"day, user_id, " ROLLUP_SUM_NAMES) ";"
		MIGRATE_CLUSTER("usage_errors",
			" day TEXT NOT NULL, user_id TEXT NOT NULL,"
			" model TEXT NOT NULL, error_class TEXT NOT NULL,"
			" count BIGINT NOT NULL",
			"day, user_id, model, error_class",
			"day, user_id, model, error_class, count") ";"
		MIGRATE_CLUSTER("usage_errors_daily",
			" day TEXT NOT NULL, error_class TEXT NOT NULL,"
			" count BIGINT NOT NULL", "day, error_class",
			"day, error_class, count") ";"
		MIGRATE_CLUSTER("usage_hist",
			" day TEXT NOT NULL, user_id TEXT NOT NULL,"
			" model TEXT NOT NULL, metric TEXT NOT NULL,"
			" bucket INTEGER NOT NULL, count BIGINT NOT NULL",
			"day, user_id, model, metric, bucket",
			"day, user_id, model, metric, bucket, count") ";"
		MIGRATE_CLUSTER("usage_hist_daily",
			" day TEXT NOT NULL, metric TEXT NOT NULL,"
			" bucket INTEGER NOT NULL, count BIGINT NOT NULL",
			"day, metric, bucket", "day, metric, bucket, count") ";"
		MIGRATE_CLUSTER("active",
			" day TEXT NOT NULL, user_id TEXT NOT NULL",
			"day, user_id", "day, user_id"),
		/* PostgreSQL's tables are heaps with a key index either way */
		.sql_pg = "DROP INDEX usage_user_daily_user_idx",
	},
	{
		.version = 5,
		.name = "per-user rollups clustered by user",
		/* group_by=user (with or without model=) sums a month's
		 * 30,000 user-days, and SQLite has no hash aggregate: in
		 * day order it sorted them into a temporary B-tree for the
		 * GROUP BY (40-160 ms, docs/PERFORMANCE.md).  Keyed by user
		 * first, a skip-scan reads each user's days of the range in
		 * key order and sums them as they come, no sort; the model
		 * comes before the day so that model= narrows each user's
		 * seek.  The (user_id, day) index is then the key itself.
		 * The skip-scan needs the planner to know that a user has
		 * many rows: sqlite_stat1 gets a store's usual shape (an
		 * ANALYZE later puts the real one) */
		.sql_sqlite =
		"DROP INDEX usage_daily_user_idx;"
		MIGRATE_CLUSTER("usage_daily",
			" day TEXT NOT NULL, user_id TEXT NOT NULL,"
			" model TEXT NOT NULL," ROLLUP_SUM_COLUMNS,
			"user_id, model, day",
			"day, user_id, model, " ROLLUP_SUM_NAMES) ";"
		MIGRATE_CLUSTER("usage_user_daily",
			" day TEXT NOT NULL, user_id TEXT NOT NULL,"
			ROLLUP_SUM_COLUMNS, "user_id, day",
			"day, user_id, " ROLLUP_SUM_NAMES) ";"
		"ANALYZE sqlite_schema;"
		"DELETE FROM sqlite_stat1 WHERE tbl IN"
		" ('usage_daily', 'usage_user_daily');"
		"INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES"
		" ('usage_daily', 'usage_daily', '1000000 1000 200 1'),"
		" ('usage_user_daily', 'usage_user_daily', '200000 200 1')",
		/* PostgreSQL sums groups in a hash table whatever the
		 * order; what it lacked was a way to the one model's rows
		 * of a range but reading all models' */
		.sql_pg = "CREATE INDEX usage_daily_model_idx ON usage_daily"
			  " (model, day)",
	},
};

const size_t analyticsd_migrations_count =
	sizeof(analyticsd_migrations) / sizeof(analyticsd_migrations[0]);
