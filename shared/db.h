/*
 * db.h - the storage interface: one API, two backends.
 *
 *   sqlite:    a file per service (WAL, synchronous=FULL, busy timeout),
 *              db-sqlite.c
 *   postgres:  libpq with a connection pool, the service's own schema
 *              (search_path), db-pg.c
 *
 * Both fill a struct db_ops; callers never see which one runs.  SQL is
 * written once with $1, $2 ... placeholders and the common subset of the two
 * dialects (INSERT ... ON CONFLICT, RETURNING, BIGINT, TEXT).  Only
 * parameterised queries: values never go into SQL text.  Booleans are
 * stored as INTEGER 0/1, times as BIGINT unix milliseconds.
 *
 * Threads: a struct db is shared by all threads; a struct db_conn belongs
 * to the thread that acquired it until db_release.
 */
#ifndef CHAT_DB_H
#define CHAT_DB_H

#include <stddef.h>
#include <stdint.h>

enum db_type { DB_NULL = 0, DB_TEXT, DB_INT };

struct db_param {
	enum db_type type;
	const char *text;	/* DB_TEXT: NUL-terminated, borrowed */
	int64_t i;		/* DB_INT */
};

#define DB_P_TEXT(s) ((struct db_param){ .type = (s) ? DB_TEXT : DB_NULL, .text = (s) })

/* DB_P_TEXT as a function: a char array argument draws no -Waddress
 * warning from the NULL test (the macro stays for constant initialisers). */
static inline struct db_param db_p_text(const char *s)
{
	return (struct db_param){ .type = s ? DB_TEXT : DB_NULL, .text = s };
}
#define DB_P_INT(v)  ((struct db_param){ .type = DB_INT, .i = (v) })
#define DB_P_NULL    ((struct db_param){ .type = DB_NULL })

/* A result set, fully read into memory; every value as text (NULL for SQL
 * NULL), like libpq's text mode.  Owned by the caller: db_rows_free. */
struct db_rows;

size_t db_rows_count(const struct db_rows *r);
size_t db_rows_columns(const struct db_rows *r);
/* Value at (row, col) or NULL for SQL NULL / out of range. */
const char *db_rows_get(const struct db_rows *r, size_t row, size_t col);
/* Integer at (row, col); def when NULL or not a number. */
int64_t db_rows_int(const struct db_rows *r, size_t row, size_t col,
		    int64_t def);
void db_rows_free(struct db_rows *r);

struct db;
struct db_conn;

/*
 * Opens the store of service `name`.  uri is "sqlite" (the file
 * data_dir/<name>.db), "sqlite:/path/file.db" or a postgresql:// /
 * postgres:// URI (schema <name>, created if missing).  pool_size is the
 * number of connections.  err gets a message without any password.
 */
int db_open(const char *uri, const char *data_dir, const char *name,
	    int pool_size, struct db **out, char *err, size_t errlen);
void db_close(struct db *db);
/* "sqlite" or "postgres". */
const char *db_backend(const struct db *db);

/* Takes a connection, waiting up to timeout_ms (CHAT_EBUSY after). */
int db_acquire(struct db *db, int timeout_ms, struct db_conn **out);
void db_release(struct db_conn *c);	/* rolls back an open transaction */

int db_begin(struct db_conn *c);	/* sqlite: BEGIN IMMEDIATE */
int db_commit(struct db_conn *c);
int db_rollback(struct db_conn *c);

/* Runs a statement; *changes (may be NULL) gets the affected row count.
 * A unique or primary key violation gives CHAT_ECONFLICT; other failures
 * CHAT_EDB with the message logged (never the parameters). */
int db_exec(struct db_conn *c, const char *sql, const struct db_param *p,
	    size_t np, int64_t *changes);
/* Runs a query; *out is the caller's (db_rows_free), also when empty. */
int db_query(struct db_conn *c, const char *sql, const struct db_param *p,
	     size_t np, struct db_rows **out);

/* True when the store answers a trivial query (for /readyz). */
int db_ping(struct db *db);

/*
 * Numbered migrations of a service, applied in order at start, each in its
 * own transaction, under a lock so that several processes starting at once
 * apply each exactly once (postgres: advisory lock; sqlite: BEGIN
 * IMMEDIATE).  Applied versions are kept in table schema_migrations.
 * sql_pg may be NULL when sql_sqlite works on both.  Each string may hold
 * several statements separated by ';'.
 */
struct db_migration {
	int version;
	const char *name;
	const char *sql_sqlite;
	const char *sql_pg;
};

int db_migrate(struct db *db, const struct db_migration *m, size_t n,
	       char *err, size_t errlen);

#endif
