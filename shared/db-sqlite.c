/*
 * db-sqlite.c - the SQLite backend of db.h: one file per service in WAL
 * mode with synchronous=FULL, foreign keys on and a 5 s busy wait; a
 * pool of connections opened without SQLite's own mutex (a connection
 * belongs to one thread at a time), each with a small cache of prepared
 * statements.
 *
 * SQL uses $1..$N.  SQLite treats "$1" as a named parameter, so every
 * parameter of a statement is bound by its name: the order in which they
 * appear in the text does not matter, like in PostgreSQL.
 */
#include "db-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "banned.h"

#define DB_SQLITE_BUSY_MS	5000	/* wait for another writer */
#define DB_SQLITE_RETRY_MS	10	/* between tries of the WAL switch */
#define DB_SQLITE_SPIN_US	20	/* first wait for another writer */
#define DB_SQLITE_SPIN_MAX_US	1000	/* longest single wait */
#define DB_SQLITE_CACHE		32	/* prepared statements per connection */
#define DB_SQLITE_PATH_MAX	4096

/* One cached statement, keyed by its SQL text. */
struct db_sqlite_stmt {
	char *sql;			/* owned copy of the key */
	const char *last;		/* the caller's text at the last use:
					 * compared first, never read */
	sqlite3_stmt *st;		/* owned */
	uint64_t used;			/* tick of the last use, for LRU */
};

struct db_sqlite_cache {
	struct db_sqlite_stmt e[DB_SQLITE_CACHE];
	uint64_t tick;
};

/* SQLite result codes (extended first, then primary) -> CHAT_E*. */
struct db_sqlite_code {
	int code;
	int rc;
};

static const struct db_sqlite_code db_sqlite_codes[] = {
	{ SQLITE_CONSTRAINT_UNIQUE, CHAT_ECONFLICT },
	{ SQLITE_CONSTRAINT_PRIMARYKEY, CHAT_ECONFLICT },
	{ SQLITE_BUSY, CHAT_EBUSY },
	{ SQLITE_LOCKED, CHAT_EBUSY },
	{ SQLITE_NOMEM, CHAT_ENOMEM },
	{ SQLITE_TOOBIG, CHAT_ETOOBIG },
};

static int db_sqlite_rc(int code);
static int db_sqlite_busy(void *arg, int count);
static int db_sqlite_fail(struct db_conn *c, int code);
static int db_sqlite_prepare(struct db_conn *c, const char *sql,
			     sqlite3_stmt **out, int *cached);
static int db_sqlite_bind(struct db_conn *c, sqlite3_stmt *st,
			  const struct db_param *p, size_t np);
static int db_sqlite_param_number(const char *name, size_t np, size_t *k);

/* The busy handler: waits DB_SQLITE_SPIN_US, doubling up to
 * DB_SQLITE_SPIN_MAX_US, and gives up after about DB_SQLITE_BUSY_MS in
 * all.  Why not sqlite3_busy_timeout: its handler sleeps 1, 2, 5, 10 ms
 * and more however short the other transaction is, and the event relay's
 * and the pull handler's transactions are short and frequent beside a
 * request's; each collision cost the request milliseconds
 * (docs/PERFORMANCE.md, issue 13).  count is the tries so far, so the
 * time waited follows from it without state. */
static int db_sqlite_busy(void *arg, int count)
{
	int64_t step = DB_SQLITE_SPIN_US, waited = 0;
	int i = 0;

	(void)arg;
	while (i < count && step < DB_SQLITE_SPIN_MAX_US) {
		waited += step;
		step *= 2;
		i++;
	}
	if (step > DB_SQLITE_SPIN_MAX_US)
		step = DB_SQLITE_SPIN_MAX_US;
	waited += (int64_t)(count - i) * step;
	if (waited >= (int64_t)DB_SQLITE_BUSY_MS * 1000)
		return 0;
	usleep((useconds_t)step);
	return 1;
}

static int db_sqlite_rc(int code)
{
	size_t i;

	for (i = 0; i < sizeof(db_sqlite_codes) / sizeof(db_sqlite_codes[0]); i++)
		if (db_sqlite_codes[i].code == code)
			return db_sqlite_codes[i].rc;
	for (i = 0; i < sizeof(db_sqlite_codes) / sizeof(db_sqlite_codes[0]); i++)
		if (db_sqlite_codes[i].code == (code & 0xff))
			return db_sqlite_codes[i].rc;
	return CHAT_EDB;
}

/* Records the connection's error text and maps the code. */
static int db_sqlite_fail(struct db_conn *c, int code)
{
	db_conn_seterr(c, "%s", sqlite3_errmsg(c->h));
	return db_sqlite_rc(code);
}

/* "$<n>" with 1 <= n <= np and no leading zero -> *k = n - 1. */
static int db_sqlite_param_number(const char *name, size_t np, size_t *k)
{
	size_t n = 0;
	const char *s;

	if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
		return CHAT_EINVAL;
	for (s = name + 1; *s; s++) {
		if (*s < '0' || *s > '9' || n > np)
			return CHAT_EINVAL;
		n = n * 10 + (size_t)(*s - '0');
	}
	if (n < 1 || n > np)
		return CHAT_EINVAL;
	*k = n - 1;
	return 0;
}

/* Finds sql in the cache or prepares it (and caches it, evicting the least
 * recently used entry).  *cached says whether the cache owns *out. */
static int db_sqlite_prepare(struct db_conn *c, const char *sql,
			     sqlite3_stmt **out, int *cached)
{
	struct db_sqlite_cache *cache = c->priv;
	struct db_sqlite_stmt *slot = NULL;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	char *key = NULL;
	int src;
	size_t i;

	*out = NULL;
	*cached = 0;
	cache->tick++;
	/* most SQL is a string literal, passed at the same address every
	 * time: one strcmp confirms it (a built text may reuse an address
	 * with other words), where a walk strcmp'd up to 32 long texts
	 * with common prefixes (6 % of analyticsd's ingest, issue 13) */
	for (i = 0; i < DB_SQLITE_CACHE; i++) {
		struct db_sqlite_stmt *e = &cache->e[i];

		if (e->sql && e->last == sql && strcmp(e->sql, sql) == 0) {
			e->used = cache->tick;
			*out = e->st;
			*cached = 1;
			return 0;
		}
	}
	for (i = 0; i < DB_SQLITE_CACHE; i++) {
		struct db_sqlite_stmt *e = &cache->e[i];

		if (e->sql && strcmp(e->sql, sql) == 0) {
			e->used = cache->tick;
			e->last = sql;
			*out = e->st;
			*cached = 1;
			return 0;
		}
		if (!slot || !e->sql || (slot->sql && e->used < slot->used))
			slot = e;
	}

	src = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
				 &st, &tail);
	if (src != SQLITE_OK)
		return db_sqlite_fail(c, src);
	if (!st) {
		db_conn_seterr(c, "empty statement");
		return CHAT_EINVAL;
	}
	/* one statement per call, as PostgreSQL's extended protocol wants */
	if (tail && tail[strspn(tail, " \t\r\n;")]) {
		sqlite3_finalize(st);
		db_conn_seterr(c, "more than one statement in one call");
		return CHAT_EINVAL;
	}
	key = strdup(sql);
	if (!key) {
		/* still usable, just not cached */
		*out = st;
		return 0;
	}
	if (slot->sql) {
		sqlite3_finalize(slot->st);
		free(slot->sql);
	}
	slot->sql = key;
	slot->last = sql;
	slot->st = st;
	slot->used = cache->tick;
	*out = st;
	*cached = 1;
	return 0;
}

/* Binds every parameter the statement names; each $k must have a value
 * and each value must be used (PostgreSQL rejects both mistakes too). */
static int db_sqlite_bind(struct db_conn *c, sqlite3_stmt *st,
			  const struct db_param *p, size_t np)
{
	int n = sqlite3_bind_parameter_count(st);
	int i;

	if ((size_t)n != np) {
		/* names are distinct and each maps to one k below, so equal
		 * counts mean every value is used exactly once */
		for (i = 1; i <= n; i++) {
			size_t k;
			const char *name = sqlite3_bind_parameter_name(st, i);

			if (db_sqlite_param_number(name, np, &k) < 0) {
				db_conn_seterr(c, "parameter '%s' has no value (%zu given)",
					       name ? name : "?", np);
				return CHAT_EINVAL;
			}
		}
		db_conn_seterr(c, "%zu values for %d parameters", np, n);
		return CHAT_EINVAL;
	}
	for (i = 1; i <= n; i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		const struct db_param *v;
		size_t k;
		int src;

		if (db_sqlite_param_number(name, np, &k) < 0) {
			db_conn_seterr(c, "parameter '%s' is not $1..$%zu",
				       name ? name : "?", np);
			return CHAT_EINVAL;
		}
		v = &p[k];
		if (v->type == DB_INT)
			src = sqlite3_bind_int64(st, i, v->i);
		else if (v->type == DB_TEXT && v->text)
			src = sqlite3_bind_text(st, i, v->text, -1,
						SQLITE_STATIC);
		else if (v->type == DB_NULL || v->type == DB_TEXT)
			src = sqlite3_bind_null(st, i);
		else {
			db_conn_seterr(c, "parameter '%s' has unknown type %d",
				       name, (int)v->type);
			return CHAT_EINVAL;
		}
		if (src != SQLITE_OK)
			return db_sqlite_fail(c, src);
	}
	return 0;
}

/* ---- hooks ------------------------------------------------------------- */

static int db_sqlite_open(struct db *db, const char *uri,
			  const char *data_dir, char *err, size_t errlen)
{
	char path[DB_SQLITE_PATH_MAX];
	int n;

	if (!sqlite3_threadsafe()) {
		chat_errf(err, errlen, "sqlite library built without thread support");
		return CHAT_EINVAL;
	}
	if (strcmp(uri, "sqlite") == 0) {
		if (!data_dir || !*data_dir) {
			chat_errf(err, errlen, "no data_dir for database 'sqlite'");
			return CHAT_EINVAL;
		}
		n = snprintf(path, sizeof(path), "%s/%s.db", data_dir, db->name);
	} else {
		n = snprintf(path, sizeof(path), "%s", uri + strlen("sqlite:"));
	}
	if (n <= 0 || (size_t)n >= sizeof(path)) {
		chat_errf(err, errlen, "invalid sqlite path in '%.64s'", uri);
		return CHAT_EINVAL;
	}
	db->target = strdup(path);
	db->shown = strdup(path);
	if (!db->target || !db->shown)
		return CHAT_ENOMEM;
	return 0;
}

static void db_sqlite_close(struct db *db)
{
	(void)db;
}

static int db_sqlite_conn_open(struct db_conn *c, int first, char *err,
			       size_t errlen)
{
	const char *path = c->db->target;
	sqlite3_stmt *st = NULL;
	sqlite3 *h = NULL;
	const char *mode;
	int waited;
	int rc = 0;
	int src;

	if (first) {
		/* create the file ourselves: 0600, since it holds secrets;
		 * SQLite gives -wal and -shm the same mode */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0) {
			chat_errf(err, errlen, "cannot open '%s': %s", path,
			       strerror(errno));
			return CHAT_EIO;
		}
		close(fd);
	}
	src = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
			      SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		chat_errf(err, errlen, "cannot open '%s': %s", path,
		       h ? sqlite3_errmsg(h) : sqlite3_errstr(src));
		rc = db_sqlite_rc(src) == CHAT_ENOMEM ? CHAT_ENOMEM : CHAT_EDB;
		goto out;
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_handler(h, db_sqlite_busy, NULL);

	src = sqlite3_prepare_v2(h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	/* switching to WAL while another process opens the same new file
	 * can fail with SQLITE_BUSY without consulting the busy handler */
	for (waited = 0; src == SQLITE_OK; waited += DB_SQLITE_RETRY_MS) {
		src = sqlite3_step(st);
		if ((src & 0xff) != SQLITE_BUSY || waited >= DB_SQLITE_BUSY_MS)
			break;
		sqlite3_reset(st);
		usleep(DB_SQLITE_RETRY_MS * 1000);
		src = SQLITE_OK;
	}
	if (src != SQLITE_ROW) {
		chat_errf(err, errlen, "cannot set WAL mode on '%s': %s", path,
		       sqlite3_errmsg(h));
		rc = db_sqlite_rc(src) == CHAT_EBUSY ? CHAT_EBUSY : CHAT_EDB;
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		chat_errf(err, errlen, "'%s' cannot use WAL (journal mode '%s')",
		       path, mode ? mode : "?");
		rc = CHAT_EDB;
		goto out;
	}
	src = sqlite3_exec(h, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
			   NULL, NULL, NULL);
	if (src != SQLITE_OK) {
		chat_errf(err, errlen, "cannot configure '%s': %s", path,
		       sqlite3_errmsg(h));
		rc = CHAT_EDB;
		goto out;
	}
	c->priv = calloc(1, sizeof(struct db_sqlite_cache));
	if (!c->priv) {
		rc = CHAT_ENOMEM;
		goto out;
	}
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		sqlite3_close(h);
		return rc;
	}
	c->h = h;
	return 0;
}

static void db_sqlite_conn_close(struct db_conn *c)
{
	struct db_sqlite_cache *cache = c->priv;
	size_t i;

	if (cache) {
		for (i = 0; i < DB_SQLITE_CACHE; i++) {
			sqlite3_finalize(cache->e[i].st);
			free(cache->e[i].sql);
		}
		free(cache);
		c->priv = NULL;
	}
	sqlite3_close(c->h);
	c->h = NULL;
}

static enum db_tx db_sqlite_tx_state(struct db_conn *c)
{
	return sqlite3_get_autocommit(c->h) ? DB_TX_IDLE : DB_TX_OPEN;
}

static int db_sqlite_run(struct db_conn *c, const char *sql,
			 const struct db_param *p, size_t np,
			 int64_t *changes, struct db_rows **rows)
{
	struct db_rows *r = NULL;
	sqlite3_stmt *st = NULL;
	int cached = 0;
	int ncols, i;
	int rc = 0;

	rc = db_sqlite_prepare(c, sql, &st, &cached);
	if (rc < 0)
		goto out;
	rc = db_sqlite_bind(c, st, p, np);
	if (rc < 0)
		goto out;
	ncols = sqlite3_column_count(st);
	if (rows) {
		rc = db_rows_new((size_t)ncols, &r);
		if (rc < 0)
			goto out;
	}
	for (;;) {
		int src = sqlite3_step(st);

		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = db_sqlite_fail(c, src);
			goto out;
		}
		for (i = 0; r && i < ncols; i++) {
			const unsigned char *t = NULL;

			if (sqlite3_column_type(st, i) != SQLITE_NULL) {
				t = sqlite3_column_text(st, i);
				if (!t) {
					db_conn_seterr(c, "out of memory");
					rc = CHAT_ENOMEM;
					goto out;
				}
			}
			rc = db_rows_add(r, (const char *)t,
					 t ? (size_t)sqlite3_column_bytes(st, i) : 0);
			if (rc < 0) {
				db_conn_seterr(c, "result set too big");
				goto out;
			}
		}
	}
	if (changes)
		*changes = sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes64(c->h);
	if (rows) {
		*rows = r;
		r = NULL;
	}
out:
	db_rows_free(r);
	if (st) {
		/* reset at once: a statement left mid-way keeps a read
		 * transaction open and blocks WAL checkpoints */
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (!cached)
			sqlite3_finalize(st);
	}
	return rc;
}

static int db_sqlite_script(struct db_conn *c, const char *sql)
{
	char *msg = NULL;
	int src;

	src = sqlite3_exec(c->h, sql, NULL, NULL, &msg);
	if (src == SQLITE_OK)
		return 0;
	db_conn_seterr(c, "%s", msg ? msg : sqlite3_errstr(src));
	sqlite3_free(msg);
	return db_sqlite_rc(src);
}

const struct db_ops db_sqlite_ops = {
	.name = "sqlite",
	.dialect = DB_DIALECT_SQLITE,
	.begin_sql = "BEGIN IMMEDIATE",
	.open = db_sqlite_open,
	.close = db_sqlite_close,
	.conn_open = db_sqlite_conn_open,
	.conn_close = db_sqlite_conn_close,
	.conn_check = NULL,
	.tx_state = db_sqlite_tx_state,
	.run = db_sqlite_run,
	.script = db_sqlite_script,
	.lock = NULL,
	.unlock = NULL,
};
