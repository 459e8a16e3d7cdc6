/*
 * db-internal.h - what db.c shares with its backends (db-sqlite.c,
 * db-pg.c): the struct db_ops each backend fills, the pool and connection
 * structs, and the result-set builder.  Not for use outside shared/db*.c.
 *
 * Division of work: db.c owns the pool, transactions, migrations and the
 * logging of failures; a backend only talks to its library and leaves the
 * text of its last failure in c->errmsg (never with parameter values).
 */
#ifndef CHAT_DB_INTERNAL_H
#define CHAT_DB_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define DB_NAME_MAX	63		/* service name: 1-63 of [a-z0-9_] */
#define DB_ERRMSG_MAX	256		/* c->errmsg */
#define DB_ROWS_MAX_BYTES (64u << 20)	/* ceiling of one result set */

/* Transaction state of a connection, as the backend sees it. */
enum db_tx {
	DB_TX_IDLE = 0,		/* autocommit */
	DB_TX_OPEN,		/* inside BEGIN ... */
	DB_TX_FAILED,		/* inside a transaction that must roll back */
};

struct db_conn {
	struct db *db;			/* the pool it belongs to */
	void *h;			/* sqlite3 * or PGconn *, backend's */
	void *priv;			/* backend's per-connection state */
	struct db_conn *next_free;	/* free list link while released */
	char errmsg[DB_ERRMSG_MAX];	/* text of the last failure */
};

struct db {
	const struct db_ops *ops;
	char name[DB_NAME_MAX + 1];	/* service name = schema / file name */
	char *target;			/* owned: file path or URI (secret) */
	char *shown;			/* owned: target safe for messages */
	void *priv;			/* backend's per-store state */
	pthread_mutex_t mu;		/* guards free_list */
	pthread_cond_t cv;		/* signalled on release */
	struct db_conn *conns;		/* owned array of nconns */
	int nconns;
	struct db_conn *free_list;
};

/* Which SQL text of a migration a backend runs. */
enum db_dialect {
	DB_DIALECT_SQLITE = 0,		/* struct db_migration.sql_sqlite */
	DB_DIALECT_PG,			/* .sql_pg when set, else .sql_sqlite */
};

/*
 * The backend interface.  Every hook returns 0 or a CHAT_E* code and, on
 * failure, leaves a message in c->errmsg.  A connection is used by one
 * thread at a time; open/close run before/after any connection use.
 */
struct db_ops {
	const char *name;		/* "sqlite" / "postgres" */
	enum db_dialect dialect;
	const char *begin_sql;		/* statement that opens a transaction */
	/* Resolves db->target (uri, data_dir, name) into what conn_open
	 * uses; fills db->target and db->shown. */
	int (*open)(struct db *db, const char *uri, const char *data_dir,
		    char *err, size_t errlen);
	void (*close)(struct db *db);	/* frees db->priv (may be NULL) */
	/* Opens connection c (c->db is set); first is true for the first
	 * connection of the pool (the one that may create the store). */
	int (*conn_open)(struct db_conn *c, int first, char *err,
			 size_t errlen);
	void (*conn_close)(struct db_conn *c);
	/* On acquire: makes a broken connection usable again (may be NULL). */
	int (*conn_check)(struct db_conn *c);
	enum db_tx (*tx_state)(struct db_conn *c);
	/* One parameterised statement; rows (may be NULL) gets the result. */
	int (*run)(struct db_conn *c, const char *sql, const struct db_param *p,
		   size_t np, int64_t *changes, struct db_rows **rows);
	/* Trusted multi-statement text (migrations), no parameters. */
	int (*script)(struct db_conn *c, const char *sql);
	/* Cross-process migration lock around db_migrate (NULL: the
	 * per-migration BEGIN IMMEDIATE is the lock). */
	int (*lock)(struct db_conn *c);
	void (*unlock)(struct db_conn *c);
};

extern const struct db_ops db_sqlite_ops;

/* The PostgreSQL backend lives in the run-time module chat-pg.so (built
 * from db-pg.c with -lpq, see module.h), loaded by db_open only for a
 * postgresql:// store; this is its ops symbol.  Bump the version with
 * any change to struct db_ops or to what db.c and db-pg.c share here. */
#define DB_PG_MODULE "pg"
#define DB_PG_MODULE_VERSION 1
extern const struct db_ops chat_module_pg_v1;

/* Result-set builder for the backends (db.c).  db_rows_new gives an empty
 * set of ncols columns; add one value at a time, row by row (s NULL for SQL
 * NULL).  CHAT_ETOOBIG past DB_ROWS_MAX_BYTES. */
int db_rows_new(size_t ncols, struct db_rows **out);
int db_rows_add(struct db_rows *r, const char *s, size_t len);

/* Formats into c->errmsg (truncated if need be). */
void db_conn_seterr(struct db_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
