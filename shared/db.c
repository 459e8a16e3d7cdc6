/*
 * db.c - the storage API of db.h: picks the backend from the URI and
 * dispatches through its struct db_ops, keeps the connection pool, runs
 * transactions and numbered migrations, and holds result sets (struct
 * db_rows).  Statement failures are logged here, once, for both backends.
 * The PostgreSQL backend is a run-time module (chat-pg.so, module.h),
 * loaded by the first db_open of a postgresql:// store.
 */
#include "db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db-internal.h"
#include "err.h"
#include "log.h"
#include "module.h"
#include "util.h"
#include "banned.h"

#define DB_POOL_MAX		256	/* connections per store */
#define DB_MIGRATE_WAIT_MS	60000	/* for a connection to migrate on */
#define DB_PING_WAIT_MS		1000
#define DB_LOG_SQL_MAX		120	/* bytes of SQL text shown in logs */

/* A result set: every value as NUL-terminated text in one growing block. */
struct db_rows {
	size_t ncols;
	size_t ncells;			/* values added so far */
	size_t cells_cap;
	size_t *off;			/* per value: offset in data or SIZE_MAX (NULL) */
	char *data;			/* values, each NUL-terminated */
	size_t len;
	size_t cap;
};

/* URI prefixes and the backend that serves them: built in (ops) or in a
 * run-time module (module, version). */
struct db_scheme {
	const char *prefix;
	int exact;			/* the whole URI, not a prefix */
	const struct db_ops *ops;	/* NULL: in the module */
	const char *module;
	int version;
};

static const struct db_scheme db_schemes[] = {
	{ "sqlite", 1, &db_sqlite_ops, NULL, 0 },
	{ "sqlite:", 0, &db_sqlite_ops, NULL, 0 },
	{ "postgresql://", 0, NULL, DB_PG_MODULE, DB_PG_MODULE_VERSION },
	{ "postgres://", 0, NULL, DB_PG_MODULE, DB_PG_MODULE_VERSION },
};

/* How loud a failed statement is: conflicts are expected answers. */
struct db_rc_level {
	int rc;
	int level;
};

static const struct db_rc_level db_rc_levels[] = {
	{ CHAT_ECONFLICT, LOG_LDEBUG },
	{ CHAT_EBUSY, LOG_LWARN },
};

static const struct db_scheme *db_scheme_find(const char *uri);
static const char *db_migration_sql(const struct db_ops *ops,
				    const struct db_migration *m);
static int db_name_valid(const char *name);
static int db_run(struct db_conn *c, const char *sql,
		  const struct db_param *p, size_t np, int64_t *changes,
		  struct db_rows **rows);
static void db_log_failure(struct db_conn *c, int rc, const char *sql);
static int db_migration_check(const struct db *db,
			      const struct db_migration *m, size_t n,
			      char *err, size_t errlen);
static int db_migrate_one(struct db_conn *c, const struct db_migration *m,
			  char *err, size_t errlen);

/* ---- helpers ----------------------------------------------------------- */

static const struct db_scheme *db_scheme_find(const char *uri)
{
	size_t i;

	for (i = 0; i < sizeof(db_schemes) / sizeof(db_schemes[0]); i++) {
		const struct db_scheme *s = &db_schemes[i];

		if (s->exact ? strcmp(uri, s->prefix) == 0
			     : strncmp(uri, s->prefix, strlen(s->prefix)) == 0)
			return s;
	}
	return NULL;
}

/* The text of m that the backend runs. */
static const char *db_migration_sql(const struct db_ops *ops,
				    const struct db_migration *m)
{
	if (ops->dialect == DB_DIALECT_PG && m->sql_pg)
		return m->sql_pg;
	return m->sql_sqlite;
}

/* 1-63 of [a-z0-9_]: safe as a file name and as a quoted identifier. */
static int db_name_valid(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (; name[n]; n++) {
		char ch = name[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return 0;
	}
	return n >= 1 && n <= DB_NAME_MAX;
}

void db_conn_seterr(struct db_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
}

static void db_log_failure(struct db_conn *c, int rc, const char *sql)
{
	int level = LOG_LERROR;
	size_t i;

	for (i = 0; i < sizeof(db_rc_levels) / sizeof(db_rc_levels[0]); i++)
		if (db_rc_levels[i].rc == rc)
			level = db_rc_levels[i].level;
	/* the SQL text holds no values (parameters only), so it may show */
	log_at(level, "db '%s': %s (in '%.*s')", c->db->name, c->errmsg,
	       DB_LOG_SQL_MAX, sql ? sql : "");
}

/* Every statement goes through here: argument checks, then the backend,
 * then one log line on failure. */
static int db_run(struct db_conn *c, const char *sql,
		  const struct db_param *p, size_t np, int64_t *changes,
		  struct db_rows **rows)
{
	int rc = 0;

	if (changes)
		*changes = 0;
	if (rows)
		*rows = NULL;
	if (!c)
		return CHAT_EINVAL;
	c->errmsg[0] = '\0';
	if (!sql || (np > 0 && !p)) {
		db_conn_seterr(c, "no SQL text or no parameters");
		rc = CHAT_EINVAL;
		goto out;
	}
	rc = c->db->ops->run(c, sql, p, np, changes, rows);
out:
	if (rc < 0) {
		db_log_failure(c, rc, sql);
		if (rows) {
			db_rows_free(*rows);
			*rows = NULL;
		}
	}
	return rc;
}

/* ---- result sets -------------------------------------------------------- */

int db_rows_new(size_t ncols, struct db_rows **out)
{
	struct db_rows *r;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return CHAT_ENOMEM;
	r->ncols = ncols;
	*out = r;
	return 0;
}

int db_rows_add(struct db_rows *r, const char *s, size_t len)
{
	size_t need;

	if (r->ncells == r->cells_cap) {
		size_t cap = r->cells_cap ? r->cells_cap * 2 : 16;
		size_t *off;

		if (cap * sizeof(*off) + r->cap > DB_ROWS_MAX_BYTES)
			return CHAT_ETOOBIG;
		off = realloc(r->off, cap * sizeof(*off));
		if (!off)
			return CHAT_ENOMEM;
		r->off = off;
		r->cells_cap = cap;
	}
	if (!s) {
		r->off[r->ncells++] = SIZE_MAX;
		return 0;
	}
	if (len > DB_ROWS_MAX_BYTES)
		return CHAT_ETOOBIG;
	need = r->len + len + 1;
	if (need > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		char *data;

		while (cap < need)
			cap *= 2;
		if (cap + r->cells_cap * sizeof(*r->off) > DB_ROWS_MAX_BYTES) {
			cap = need;
			if (cap + r->cells_cap * sizeof(*r->off) >
			    DB_ROWS_MAX_BYTES)
				return CHAT_ETOOBIG;
		}
		data = realloc(r->data, cap);
		if (!data)
			return CHAT_ENOMEM;
		r->data = data;
		r->cap = cap;
	}
	memcpy(r->data + r->len, s, len);
	r->data[r->len + len] = '\0';
	r->off[r->ncells++] = r->len;
	r->len += len + 1;
	return 0;
}

size_t db_rows_count(const struct db_rows *r)
{
	if (!r || r->ncols == 0)
		return 0;
	return r->ncells / r->ncols;
}

size_t db_rows_columns(const struct db_rows *r)
{
	return r ? r->ncols : 0;
}

const char *db_rows_get(const struct db_rows *r, size_t row, size_t col)
{
	size_t off;

	if (!r || col >= r->ncols || row >= db_rows_count(r))
		return NULL;
	off = r->off[row * r->ncols + col];
	return off == SIZE_MAX ? NULL : r->data + off;
}

int64_t db_rows_int(const struct db_rows *r, size_t row, size_t col,
		    int64_t def)
{
	const char *s = db_rows_get(r, row, col);
	char *end;
	long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return def;
	return (int64_t)v;
}

void db_rows_free(struct db_rows *r)
{
	if (!r)
		return;
	free(r->off);
	free(r->data);
	free(r);
}

/* ---- store and pool ---------------------------------------------------- */

int db_open(const char *uri, const char *data_dir, const char *name,
	    int pool_size, struct db **out, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct db *db = NULL;
	const struct db_scheme *scheme;
	const struct db_ops *ops;
	const void *loaded;
	int rc = 0;
	int i;

	chat_errf(err, errlen, "%s", "");
	if (!out)
		return CHAT_EINVAL;
	*out = NULL;
	if (!uri || !*uri) {
		chat_errf(err, errlen, "no database given");
		return CHAT_EINVAL;
	}
	scheme = db_scheme_find(uri);
	if (!scheme) {
		/* only the scheme: the rest may hold a password */
		chat_errf(err, errlen,
		       "unsupported database '%.*s' (use 'sqlite' or a postgresql:// uri)",
		       (int)strcspn(uri, ":/@"), uri);
		return CHAT_EINVAL;
	}
	if (!db_name_valid(name)) {
		chat_errf(err, errlen,
		       "invalid store name '%.64s' (1-63 of a-z, 0-9, _)",
		       name ? name : "");
		return CHAT_EINVAL;
	}
	if (pool_size < 1 || pool_size > DB_POOL_MAX) {
		chat_errf(err, errlen, "invalid pool size %d (1-%d)", pool_size,
		       DB_POOL_MAX);
		return CHAT_EINVAL;
	}
	ops = scheme->ops;
	if (!ops) {
		rc = module_load(scheme->module, scheme->version, &loaded, err,
				 errlen);
		if (rc < 0)
			return rc;
		ops = loaded;
	}

	db = calloc(1, sizeof(*db));
	if (!db)
		return CHAT_ENOMEM;
	db->ops = ops;
	memcpy(db->name, name, strlen(name) + 1);
	/* a monotonic clock so that a clock step never stretches a wait */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&db->mu, NULL);

	rc = ops->open(db, uri, data_dir, err, errlen);
	if (rc < 0)
		goto out;
	db->conns = calloc((size_t)pool_size, sizeof(*db->conns));
	if (!db->conns) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	for (i = 0; i < pool_size; i++) {
		struct db_conn *c = &db->conns[i];

		c->db = db;
		rc = ops->conn_open(c, i == 0, err, errlen);
		if (rc < 0)
			goto out;
		db->nconns++;
		c->next_free = db->free_list;
		db->free_list = c;
	}
out:
	if (rc < 0) {
		if (err && errlen && !*err)
			chat_errf(err, errlen, "cannot open store '%s': %s", name,
			       chat_strerror(rc));
		db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

/* All connections must have been released. */
void db_close(struct db *db)
{
	int i;

	if (!db)
		return;
	for (i = 0; i < db->nconns; i++)
		db->ops->conn_close(&db->conns[i]);
	free(db->conns);
	db->ops->close(db);
	if (db->target) {
		/* a URI may carry a password */
		explicit_bzero(db->target, strlen(db->target));
		free(db->target);
	}
	free(db->shown);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	free(db);
}

const char *db_backend(const struct db *db)
{
	return db ? db->ops->name : "";
}

int db_acquire(struct db *db, int timeout_ms, struct db_conn **out)
{
	struct timespec deadline;
	struct db_conn *c;
	int rc = 0;

	if (!out)
		return CHAT_EINVAL;
	*out = NULL;
	if (!db)
		return CHAT_EINVAL;
	if (timeout_ms < 0)
		timeout_ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&db->mu);
	while (!db->free_list) {
		if (pthread_cond_timedwait(&db->cv, &db->mu, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	c = db->free_list;
	if (c) {
		db->free_list = c->next_free;
		c->next_free = NULL;
	}
	pthread_mutex_unlock(&db->mu);

	if (!c) {
		log_warn("db '%s': no free connection after %d ms", db->name,
			 timeout_ms);
		return CHAT_EBUSY;
	}
	if (db->ops->conn_check) {
		c->errmsg[0] = '\0';
		rc = db->ops->conn_check(c);
		if (rc < 0) {
			log_error("db '%s': %s", db->name, c->errmsg);
			pthread_mutex_lock(&db->mu);
			c->next_free = db->free_list;
			db->free_list = c;
			pthread_cond_signal(&db->cv);
			pthread_mutex_unlock(&db->mu);
			return rc;
		}
	}
	*out = c;
	return 0;
}

void db_release(struct db_conn *c)
{
	struct db *db;

	if (!c)
		return;
	db = c->db;
	/* a caller that bails out between begin and commit gets a rollback,
	 * so the next user never inherits half a transaction */
	if (db->ops->tx_state(c) != DB_TX_IDLE) {
		log_debug("db '%s': rolling back a transaction left open",
			  db->name);
		db_rollback(c);
	}
	pthread_mutex_lock(&db->mu);
	c->next_free = db->free_list;
	db->free_list = c;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
}

/* ---- statements and transactions --------------------------------------- */

int db_begin(struct db_conn *c)
{
	if (!c)
		return CHAT_EINVAL;
	if (c->db->ops->tx_state(c) != DB_TX_IDLE) {
		db_conn_seterr(c, "a transaction is open already");
		db_log_failure(c, CHAT_EINVAL, c->db->ops->begin_sql);
		return CHAT_EINVAL;
	}
	return db_run(c, c->db->ops->begin_sql, NULL, 0, NULL, NULL);
}

int db_commit(struct db_conn *c)
{
	enum db_tx tx;

	if (!c)
		return CHAT_EINVAL;
	tx = c->db->ops->tx_state(c);
	if (tx == DB_TX_IDLE) {
		db_conn_seterr(c, "no transaction to commit");
		db_log_failure(c, CHAT_EINVAL, "COMMIT");
		return CHAT_EINVAL;
	}
	if (tx == DB_TX_FAILED) {
		/* postgres would answer COMMIT with a silent ROLLBACK */
		db_rollback(c);
		db_conn_seterr(c, "transaction failed earlier, rolled back");
		db_log_failure(c, CHAT_EDB, "COMMIT");
		return CHAT_EDB;
	}
	return db_run(c, "COMMIT", NULL, 0, NULL, NULL);
}

int db_rollback(struct db_conn *c)
{
	if (!c)
		return CHAT_EINVAL;
	/* sqlite may have rolled back by itself after an error */
	if (c->db->ops->tx_state(c) == DB_TX_IDLE)
		return 0;
	return db_run(c, "ROLLBACK", NULL, 0, NULL, NULL);
}

int db_exec(struct db_conn *c, const char *sql, const struct db_param *p,
	    size_t np, int64_t *changes)
{
	return db_run(c, sql, p, np, changes, NULL);
}

int db_query(struct db_conn *c, const char *sql, const struct db_param *p,
	     size_t np, struct db_rows **out)
{
	if (!out)
		return CHAT_EINVAL;
	return db_run(c, sql, p, np, NULL, out);
}

int db_ping(struct db *db)
{
	struct db_conn *c;
	int attempt;

	if (!db)
		return 0;
	/* twice: a connection found dead by the first try is reset on the
	 * next acquire */
	for (attempt = 0; attempt < 2; attempt++) {
		int rc;

		if (db_acquire(db, DB_PING_WAIT_MS, &c) < 0)
			continue;
		rc = db_run(c, "SELECT 1", NULL, 0, NULL, NULL);
		db_release(c);
		if (rc == 0)
			return 1;
	}
	return 0;
}

/* ---- migrations -------------------------------------------------------- */

static int db_migration_check(const struct db *db,
			      const struct db_migration *m, size_t n,
			      char *err, size_t errlen)
{
	size_t i;

	if (n > 0 && !m) {
		chat_errf(err, errlen, "no migrations given");
		return CHAT_EINVAL;
	}
	for (i = 0; i < n; i++) {
		const char *sql = db_migration_sql(db->ops, &m[i]);

		if (m[i].version < 1 || (i > 0 && m[i].version <= m[i - 1].version)) {
			chat_errf(err, errlen,
			       "migration %d: versions must be positive and increasing",
			       m[i].version);
			return CHAT_EINVAL;
		}
		if (!m[i].name || !sql) {
			chat_errf(err, errlen, "migration %d: no name or no SQL",
			       m[i].version);
			return CHAT_EINVAL;
		}
	}
	return 0;
}

/* Applies m in its own transaction unless someone else did it first. */
static int db_migrate_one(struct db_conn *c, const struct db_migration *m,
			  char *err, size_t errlen)
{
	const struct db_ops *ops = c->db->ops;
	const char *sql = db_migration_sql(ops, m);
	struct db_param p[3];
	struct db_rows *rows = NULL;
	int rc = 0;

	/* sqlite: BEGIN IMMEDIATE takes the write lock, so the check below
	 * and the migration are atomic against other processes */
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	p[0] = DB_P_INT(m->version);
	rc = db_query(c, "SELECT version FROM schema_migrations WHERE version = $1",
		      p, 1, &rows);
	if (rc < 0)
		goto out;
	if (db_rows_count(rows) > 0) {
		rc = db_rollback(c);
		goto out;
	}
	c->errmsg[0] = '\0';
	rc = ops->script(c, sql);
	if (rc < 0)
		goto out;
	p[1] = DB_P_TEXT(m->name);
	p[2] = DB_P_INT(now_ms());
	rc = db_exec(c, "INSERT INTO schema_migrations (version, name, applied_at) "
		     "VALUES ($1, $2, $3)", p, 3, NULL);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc < 0)
		goto out;
	log_info("db '%s': applied migration %d '%s'", c->db->name,
		 m->version, m->name);
out:
	if (rc < 0) {
		chat_errf(err, errlen, "migration %d '%s': %s", m->version,
		       m->name, c->errmsg[0] ? c->errmsg : chat_strerror(rc));
		db_rollback(c);
	}
	db_rows_free(rows);
	return rc;
}

int db_migrate(struct db *db, const struct db_migration *m, size_t n,
	       char *err, size_t errlen)
{
	struct db_rows *applied = NULL;
	struct db_conn *c = NULL;
	int locked = 0;
	int rc = 0;
	size_t i, j;

	chat_errf(err, errlen, "%s", "");
	if (!db)
		return CHAT_EINVAL;
	rc = db_migration_check(db, m, n, err, errlen);
	if (rc < 0)
		return rc;
	rc = db_acquire(db, DB_MIGRATE_WAIT_MS, &c);
	if (rc < 0) {
		chat_errf(err, errlen, "no connection to migrate '%s' on: %s",
		       db->name, chat_strerror(rc));
		return rc;
	}
	if (db->ops->lock) {
		rc = db->ops->lock(c);
		if (rc < 0) {
			chat_errf(err, errlen, "cannot lock '%s' for migrations: %s",
			       db->name, c->errmsg);
			goto out;
		}
		locked = 1;
	}
	rc = db_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
		     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
		     "applied_at BIGINT NOT NULL)", NULL, 0, NULL);
	if (rc < 0) {
		chat_errf(err, errlen, "cannot create 'schema_migrations': %s",
		       c->errmsg);
		goto out;
	}
	rc = db_query(c, "SELECT version FROM schema_migrations", NULL, 0,
		      &applied);
	if (rc < 0) {
		chat_errf(err, errlen, "cannot read 'schema_migrations': %s",
		       c->errmsg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int done = 0;

		for (j = 0; j < db_rows_count(applied) && !done; j++)
			done = db_rows_int(applied, j, 0, 0) == m[i].version;
		if (done)
			continue;
		rc = db_migrate_one(c, &m[i], err, errlen);
		if (rc < 0)
			goto out;
	}
out:
	if (locked)
		db->ops->unlock(c);
	db_rows_free(applied);
	db_release(c);
	return rc;
}
