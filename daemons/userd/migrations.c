/*
 * migrations.c - userd's schema, as numbered migrations applied in order
 * at start (db_migrate).  Never edit an applied migration: add one.
 *
 * Times are BIGINT unix milliseconds, booleans INTEGER 0/1.  On
 * PostgreSQL the id columns use the "C" collation so that ORDER BY id
 * follows the byte order of the UUIDv7 text, i.e. creation order, as it
 * does on SQLite.
 */
#include "userd.h"

#include "db.h"
#include "banned.h"

static const char users_sqlite[] =
	"CREATE TABLE users ("
	" id TEXT PRIMARY KEY,"
	" username TEXT NOT NULL,"
	" username_key TEXT NOT NULL UNIQUE,"
	" password_hash TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'guest')),"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" display_name TEXT,"
	" default_model TEXT,"
	" system_prompt TEXT,"
	" theme TEXT,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL)";

static const char users_pg[] =
	"CREATE TABLE users ("
	" id TEXT COLLATE \"C\" PRIMARY KEY,"
	" username TEXT NOT NULL,"
	" username_key TEXT NOT NULL UNIQUE,"
	" password_hash TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'guest')),"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" display_name TEXT,"
	" default_model TEXT,"
	" system_prompt TEXT,"
	" theme TEXT,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL)";

static const char api_keys_sqlite[] =
	"CREATE TABLE api_keys ("
	" id TEXT PRIMARY KEY,"
	" user_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" prefix TEXT NOT NULL,"
	" key_hash TEXT NOT NULL UNIQUE,"
	" created_at BIGINT NOT NULL,"
	" last_used_at BIGINT,"
	" revoked_at BIGINT);"
	"CREATE INDEX api_keys_user_id ON api_keys (user_id, id)";

static const char api_keys_pg[] =
	"CREATE TABLE api_keys ("
	" id TEXT COLLATE \"C\" PRIMARY KEY,"
	" user_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" prefix TEXT NOT NULL,"
	" key_hash TEXT NOT NULL UNIQUE,"
	" created_at BIGINT NOT NULL,"
	" last_used_at BIGINT,"
	" revoked_at BIGINT);"
	"CREATE INDEX api_keys_user_id ON api_keys (user_id, id)";

/* Issue 10: scopes (a comma list of "chat", "read", "admin"; NULL for
 * all) and an optional expiry of API keys. */
static const char api_keys_limits_sql[] =
	"ALTER TABLE api_keys ADD COLUMN scopes TEXT;"
	"ALTER TABLE api_keys ADD COLUMN expires_at BIGINT";

static const char signing_keys_sql[] =
	"CREATE TABLE signing_keys ("
	" kid TEXT PRIMARY KEY,"
	" public_key TEXT NOT NULL,"
	" secret_key TEXT NOT NULL,"
	" created_at BIGINT NOT NULL)";

/* Issue 15: an optional e-mail address per account (email as given,
 * email_key its lowercase form), unique among verified addresses only:
 * an unverified claim must not lock the owner out of their address. */
static const char users_email_sql[] =
	"ALTER TABLE users ADD COLUMN email TEXT;"
	"ALTER TABLE users ADD COLUMN email_key TEXT;"
	"ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL"
	" DEFAULT 0;"
	"CREATE UNIQUE INDEX users_email_verified ON users (email_key)"
	" WHERE email_verified = 1";

/* Issue 15: the one-time codes mailed to verify an address or reset a
 * password, by the SHA-256 of the code (never the code), and the
 * password-reset requests per address (a SHA-256 of its lowercase form:
 * unknown addresses are counted too, and kept out of the store). */
static const char user_codes_sql[] =
	"CREATE TABLE user_codes ("
	" code_hash TEXT PRIMARY KEY,"
	" user_id TEXT NOT NULL,"
	" kind TEXT NOT NULL"
	"  CHECK (kind IN ('email_verify', 'password_reset')),"
	" email_key TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" created_at BIGINT NOT NULL,"
	" expires_at BIGINT NOT NULL,"
	" used_at BIGINT);"
	"CREATE INDEX user_codes_user ON user_codes (user_id, kind,"
	" created_at);"
	"CREATE TABLE reset_requests ("
	" addr_hash TEXT NOT NULL,"
	" created_at BIGINT NOT NULL);"
	"CREATE INDEX reset_requests_addr ON reset_requests (addr_hash,"
	" created_at)";

const struct db_migration userd_migrations[] = {
	{ 1, "users", users_sqlite, users_pg },
	{ 2, "api_keys", api_keys_sqlite, api_keys_pg },
	{ 3, "signing_keys", signing_keys_sql, NULL },
	{ 4, "api_keys_limits", api_keys_limits_sql, NULL },
	{ 5, "users_email", users_email_sql, NULL },
	{ 6, "user_codes", user_codes_sql, NULL },
};

const size_t userd_nmigrations =
	sizeof(userd_migrations) / sizeof(userd_migrations[0]);
