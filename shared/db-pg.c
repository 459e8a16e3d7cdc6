/*
 * db-pg.c - the PostgreSQL backend of db.h, on libpq: a pool of
 * connections to one URI, each living in the service's own schema
 * (created if missing, then search_path), parameterised queries in text
 * format, SQLSTATE mapped to CHAT_E* codes.
 *
 * Built into the run-time module chat-pg.so (module.h), so that only a
 * daemon on PostgreSQL maps libpq and its dependencies; the one symbol it
 * exports is the ops table, chat_module_pg_v1.
 *
 * The URI may carry a password.  It never reaches a message: db->shown is
 * the URI without it, and every text that comes back from libpq has the
 * password masked before it is stored or logged.
 */
#include "db-internal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "module-ext.h"
#include "banned.h"

MODULE_EXT_INIT;

#define DB_PG_INT8OID		20	/* pg_type oid of bigint */
#define DB_PG_PARAMS_STACK	16	/* params kept on the stack */
#define DB_PG_PARAMS_MAX	65535	/* protocol limit */
#define DB_PG_CONNECT_TIMEOUT	"5"	/* seconds, unless the URI says */

/* db->priv: what is needed to keep the password out of messages. */
struct db_pg {
	char *password;			/* owned; NULL when the URI has none */
};

/* SQLSTATE -> CHAT_E*; anything else is CHAT_EDB. */
struct db_pg_state {
	const char *sqlstate;
	int rc;
};

static const struct db_pg_state db_pg_states[] = {
	{ "23505", CHAT_ECONFLICT },	/* unique_violation */
	{ "40001", CHAT_EBUSY },	/* serialization_failure */
	{ "40P01", CHAT_EBUSY },	/* deadlock_detected */
	{ "55P03", CHAT_EBUSY },	/* lock_not_available */
	{ "53300", CHAT_EBUSY },	/* too_many_connections */
	{ "57014", CHAT_ETIMEDOUT },	/* query_canceled (statement_timeout) */
	{ "42P02", CHAT_EINVAL },	/* undefined_parameter: $N with no value */
	{ "42P18", CHAT_EINVAL },	/* indeterminate_datatype: unused $N */
	{ "08P01", CHAT_EINVAL },	/* protocol_violation: wrong count */
};

static int db_pg_password_key(const char *s, size_t *len);
static char *db_pg_redact(const char *uri);
static void db_pg_clean(const struct db *db, char *msg);
static void db_pg_notice(void *arg, const char *message);
static int db_pg_fail(struct db_conn *c, const PGresult *res);
static int db_pg_alive(PGconn *h);
static int db_pg_exec_simple(struct db_conn *c, const char *sql);
static int db_pg_setup(struct db_conn *c, int first);
static int db_pg_run(struct db_conn *c, const char *sql,
		     const struct db_param *p, size_t np, int64_t *changes,
		     struct db_rows **rows);

/* True when the query key at s (up to '=', which must follow) is
 * "password" once its %XX escapes are decoded, as libpq decodes it;
 * *len is the key's length as written. */
static int db_pg_password_key(const char *s, size_t *len)
{
	static const char want[] = "password";
	size_t n = strcspn(s, "=&"), i = 0, k = 0;
	int hi, lo;
	char c;

	*len = n;
	if (s[n] != '=')
		return 0;
	while (i < n) {
		c = s[i++];
		if (c == '%' && i + 1 < n) {
			hi = util_hex_value(s[i]);
			lo = util_hex_value(s[i + 1]);
			if (hi >= 0 && lo >= 0) {
				c = (char)(hi * 16 + lo);
				i += 2;
			}
		}
		if (k >= sizeof(want) - 1 || c != want[k++])
			return 0;
	}
	return k == sizeof(want) - 1;
}

/*
 * The URI with the password of the user-info part and any password=...
 * query parameter replaced by "***".  Caller frees.  The parts are cut
 * where libpq cuts them, or a password it reads could show: the user
 * info ends at the first '@' before any '/' ('?' and '#' are part of it,
 * so the masking runs to the last '@' there), a query value ends at '&'
 * only, and a key is compared after decoding %XX ("pass%77ord").
 */
static char *db_pg_redact(const char *uri)
{
	size_t len = strlen(uri), klen;
	const char *auth, *auth_end, *at = NULL, *colon = NULL, *s;
	char *out, *o;

	/* every replacement grows the text by at most 3 bytes and needs at
	 * least 2 bytes of input, so twice the length is enough */
	out = malloc(2 * len + 16);
	if (!out)
		return NULL;
	o = out;
	s = strstr(uri, "://");
	auth = s ? s + 3 : uri;
	auth_end = auth + strcspn(auth, "/");
	for (s = auth; s < auth_end; s++)
		if (*s == '@')
			at = s;
	if (at)
		colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon) {
		memcpy(o, uri, (size_t)(colon - uri));
		o += colon - uri;
		memcpy(o, ":***", 4);
		o += 4;
		s = at;
	} else {
		s = uri;
	}
	while (*s) {
		size_t skip;

		if ((*s == '?' || *s == '&') &&
		    db_pg_password_key(s + 1, &klen)) {
			memcpy(o, s, klen + 2);	/* "?key=" */
			o += klen + 2;
			memcpy(o, "***", 3);
			o += 3;
			s += klen + 2;
			s += strcspn(s, "&");
			continue;
		}
		skip = 1;
		memcpy(o, s, skip);
		o += skip;
		s += skip;
	}
	*o = '\0';
	return out;
}

/* Makes a libpq message fit for one log line: whitespace runs become one
 * space, and the password (should a message ever quote it) is masked. */
static void db_pg_clean(const struct db *db, char *msg)
{
	const struct db_pg *pg = db->priv;
	char *r = msg, *w = msg;

	for (; *r; r++) {
		int space = *r == '\n' || *r == '\t' || *r == '\r' || *r == ' ';

		if (space && (w == msg || w[-1] == ' '))
			continue;
		*w++ = space ? ' ' : *r;
	}
	while (w > msg && w[-1] == ' ')
		w--;
	*w = '\0';
	if (pg && pg->password && *pg->password) {
		size_t plen = strlen(pg->password);
		char *hit;

		for (hit = strstr(msg, pg->password); hit;
		     hit = strstr(hit + plen, pg->password))
			memset(hit, '*', plen);
	}
}

/* NOTICEs (such as "schema exists, skipping") go to the debug log, not to
 * stderr as libpq would have it. */
static void db_pg_notice(void *arg, const char *message)
{
	const struct db *db = arg;
	char buf[DB_ERRMSG_MAX];

	if (LOG_LDEBUG < log_level_current)
		return;
	snprintf(buf, sizeof(buf), "%s", message);
	db_pg_clean(db, buf);
	log_debug("db '%s': %s", db->name, buf);
}

/* Records the error of res (NULL: of the connection) and maps SQLSTATE. */
static int db_pg_fail(struct db_conn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
			      : NULL;
	size_t i;

	if (state)
		db_conn_seterr(c, "%s (%s)", msg ? msg : "error", state);
	else
		db_conn_seterr(c, "%s", res && PQresultErrorMessage(res)[0]
			       ? PQresultErrorMessage(res) : PQerrorMessage(c->h));
	db_pg_clean(c->db, c->errmsg);
	if (!state)
		return CHAT_EDB;
	for (i = 0; i < sizeof(db_pg_states) / sizeof(db_pg_states[0]); i++)
		if (strcmp(db_pg_states[i].sqlstate, state) == 0)
			return db_pg_states[i].rc;
	return CHAT_EDB;
}

/* A statement without parameters (may be several, for migrations). */
static int db_pg_exec_simple(struct db_conn *c, const char *sql)
{
	PGresult *res = PQexec(c->h, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (!res || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		     st != PGRES_EMPTY_QUERY))
		rc = db_pg_fail(c, res);
	PQclear(res);
	return rc;
}

/* Puts a fresh session into the service's schema; the first connection of
 * the pool creates the schema.  The name is [a-z0-9_] (checked by
 * db_open), so quoting it is enough. */
static int db_pg_setup(struct db_conn *c, int first)
{
	char sql[128];
	int rc = 0;
	int attempt;

	if (first) {
		snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS \"%s\"",
			 c->db->name);
		/* two processes creating it at once: one of them gets a
		 * unique violation on pg_namespace; the schema exists then */
		for (attempt = 0; attempt < 2; attempt++) {
			rc = db_pg_exec_simple(c, sql);
			if (rc != CHAT_ECONFLICT)
				break;
		}
		if (rc < 0)
			return rc;
	}
	snprintf(sql, sizeof(sql), "SET search_path TO \"%s\"", c->db->name);
	return db_pg_exec_simple(c, sql);
}

/* ---- hooks ------------------------------------------------------------- */

static int db_pg_open(struct db *db, const char *uri, const char *data_dir,
		      char *err, size_t errlen)
{
	PQconninfoOption *opts, *o;
	struct db_pg *pg;

	(void)data_dir;
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return CHAT_ENOMEM;
	db->priv = pg;
	db->shown = db_pg_redact(uri);
	db->target = strdup(uri);
	if (!db->shown || !db->target)
		return CHAT_ENOMEM;
	/* libpq's parse error may quote the password: not shown */
	opts = PQconninfoParse(uri, NULL);
	if (!opts) {
		chat_errf(err, errlen, "invalid postgres uri '%s'", db->shown);
		return CHAT_EINVAL;
	}
	for (o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) {
			pg->password = strdup(o->val);
			if (!pg->password) {
				PQconninfoFree(opts);
				return CHAT_ENOMEM;
			}
		}
	}
	PQconninfoFree(opts);
	return 0;
}

static void db_pg_close(struct db *db)
{
	struct db_pg *pg = db->priv;

	if (!pg)
		return;
	if (pg->password) {
		explicit_bzero(pg->password, strlen(pg->password));
		free(pg->password);
	}
	free(pg);
	db->priv = NULL;
}

static int db_pg_conn_open(struct db_conn *c, int first, char *err,
			   size_t errlen)
{
	struct db *db = c->db;
	char appname[DB_NAME_MAX + 8];
	/* entries before dbname are defaults the URI may override */
	const char *keys[] = { "connect_timeout", "application_name",
			       "dbname", NULL };
	const char *vals[] = { DB_PG_CONNECT_TIMEOUT, appname, db->target,
			       NULL };
	PGconn *h;
	int rc = 0;

	snprintf(appname, sizeof(appname), "chat-%s", db->name);
	h = PQconnectdbParams(keys, vals, 1);
	if (!h)
		return CHAT_ENOMEM;
	c->h = h;
	if (PQstatus(h) != CONNECTION_OK) {
		db_conn_seterr(c, "%s", PQerrorMessage(h));
		db_pg_clean(db, c->errmsg);
		chat_errf(err, errlen, "cannot connect to '%s': %s", db->shown,
		       c->errmsg);
		rc = CHAT_EDB;
		goto out;
	}
	PQsetNoticeProcessor(h, db_pg_notice, db);
	rc = db_pg_setup(c, first);
	if (rc < 0) {
		chat_errf(err, errlen, "cannot use schema '%s' in '%s': %s",
		       db->name, db->shown, c->errmsg);
		goto out;
	}
out:
	if (rc < 0) {
		PQfinish(h);
		c->h = NULL;
	}
	return rc;
}

static void db_pg_conn_close(struct db_conn *c)
{
	PQfinish(c->h);
	c->h = NULL;
}

/* Whether an idle connection is still up.  An idle session has nothing
 * to read: anything readable is a notice or the server going away (its
 * FATAL message, then end of file), which PQconsumeInput takes in without
 * blocking (libpq's socket is non-blocking) and turns into CONNECTION_BAD. */
static int db_pg_alive(PGconn *h)
{
	struct pollfd pfd = { .fd = PQsocket(h), .events = POLLIN };
	int i;

	if (PQstatus(h) != CONNECTION_OK || pfd.fd < 0)
		return 0;
	for (i = 0; i < 4 && poll(&pfd, 1, 0) > 0; i++)
		if (!PQconsumeInput(h))
			return 0;
	return PQstatus(h) == CONNECTION_OK;
}

/* On acquire: a connection the server dropped is reconnected once, so
 * that a server restart costs no failed statement. */
static int db_pg_conn_check(struct db_conn *c)
{
	if (db_pg_alive(c->h))
		return 0;
	PQreset(c->h);
	if (PQstatus(c->h) != CONNECTION_OK) {
		db_conn_seterr(c, "cannot reconnect to '%s': %s", c->db->shown,
			       PQerrorMessage(c->h));
		db_pg_clean(c->db, c->errmsg);
		return CHAT_EDB;
	}
	log_info("db '%s': reconnected to '%s'", c->db->name, c->db->shown);
	/* a new session: search_path is gone */
	return db_pg_setup(c, 0);
}

static enum db_tx db_pg_tx_state(struct db_conn *c)
{
	switch (PQtransactionStatus(c->h)) {
	case PQTRANS_INTRANS:
	case PQTRANS_ACTIVE:
		return DB_TX_OPEN;
	case PQTRANS_INERROR:
		return DB_TX_FAILED;
	default:		/* idle, or no connection: nothing to undo */
		return DB_TX_IDLE;
	}
}

static int db_pg_run(struct db_conn *c, const char *sql,
		     const struct db_param *p, size_t np, int64_t *changes,
		     struct db_rows **rows)
{
	const char *vals_stack[DB_PG_PARAMS_STACK];
	Oid types_stack[DB_PG_PARAMS_STACK];
	char ints_stack[DB_PG_PARAMS_STACK][24];
	const char **vals = vals_stack;
	Oid *types = types_stack;
	char (*ints)[24] = ints_stack;
	struct db_rows *r = NULL;
	PGresult *res = NULL;
	ExecStatusType st;
	int rc = 0;
	size_t i;

	if (np > DB_PG_PARAMS_MAX) {
		db_conn_seterr(c, "too many parameters (%zu)", np);
		return CHAT_EINVAL;
	}
	if (np > DB_PG_PARAMS_STACK) {
		vals = calloc(np, sizeof(*vals));
		types = calloc(np, sizeof(*types));
		ints = calloc(np, sizeof(*ints));
		if (!vals || !types || !ints) {
			db_conn_seterr(c, "out of memory");
			rc = CHAT_ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < np; i++) {
		/* text format throughout; integers typed bigint so that
		 * "$1 + 1" or "$1 < col" need no casts, text left to the
		 * server to infer from its context */
		types[i] = 0;
		vals[i] = NULL;
		if (p[i].type == DB_INT) {
			snprintf(ints[i], sizeof(ints[i]), "%lld",
				 (long long)p[i].i);
			vals[i] = ints[i];
			types[i] = DB_PG_INT8OID;
		} else if (p[i].type == DB_TEXT) {
			vals[i] = p[i].text;
		} else if (p[i].type != DB_NULL) {
			db_conn_seterr(c, "parameter $%zu has unknown type %d",
				       i + 1, (int)p[i].type);
			rc = CHAT_EINVAL;
			goto out;
		}
	}

	res = PQexecParams(c->h, sql, (int)np, types, vals, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (!res || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
		if (res && st == PGRES_EMPTY_QUERY) {
			db_conn_seterr(c, "empty statement");
			rc = CHAT_EINVAL;
		} else {
			rc = db_pg_fail(c, res);
		}
		goto out;
	}
	/* rows touched, as sqlite counts them: a SELECT's row count is not */
	if (changes && strncmp(PQcmdStatus(res), "SELECT", 6) != 0)
		*changes = strtoll(PQcmdTuples(res), NULL, 10);
	if (rows) {
		int nrows = PQntuples(res), ncols = PQnfields(res);
		int row, col;

		rc = db_rows_new((size_t)ncols, &r);
		if (rc < 0)
			goto out;
		for (row = 0; row < nrows; row++) {
			for (col = 0; col < ncols; col++) {
				int null = PQgetisnull(res, row, col);

				rc = db_rows_add(r, null ? NULL :
						 PQgetvalue(res, row, col),
						 null ? 0 : (size_t)
						 PQgetlength(res, row, col));
				if (rc < 0) {
					db_conn_seterr(c, "result set too big");
					goto out;
				}
			}
		}
		*rows = r;
		r = NULL;
	}
out:
	PQclear(res);
	db_rows_free(r);
	if (vals != vals_stack) {
		free(vals);
		free(types);
		free(ints);
	}
	return rc;
}

static int db_pg_script(struct db_conn *c, const char *sql)
{
	return db_pg_exec_simple(c, sql);
}

/* Session advisory lock keyed by the schema name (FNV-1a), so that only
 * the services sharing one schema wait for each other. */
static int64_t db_pg_lock_key(const struct db *db)
{
	const char *s = "chat.migrate.";
	uint64_t h = 1469598103934665603ull;
	int part;

	for (part = 0; part < 2; part++, s = db->name)
		for (; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 1099511628211ull;
		}
	return (int64_t)(h & INT64_MAX);
}

static int db_pg_lock(struct db_conn *c)
{
	struct db_param p = DB_P_INT(db_pg_lock_key(c->db));

	return db_pg_run(c, "SELECT pg_advisory_lock($1)", &p, 1, NULL, NULL);
}

static void db_pg_unlock(struct db_conn *c)
{
	struct db_param p = DB_P_INT(db_pg_lock_key(c->db));

	/* a failure means the session is gone, and the lock with it */
	if (db_pg_run(c, "SELECT pg_advisory_unlock($1)", &p, 1, NULL, NULL) < 0)
		log_warn("db '%s': cannot unlock migrations: %s", c->db->name,
			 c->errmsg);
}

const struct db_ops chat_module_pg_v1 = {
	.name = "postgres",
	.dialect = DB_DIALECT_PG,
	.begin_sql = "BEGIN",
	.open = db_pg_open,
	.close = db_pg_close,
	.conn_open = db_pg_conn_open,
	.conn_close = db_pg_conn_close,
	.conn_check = db_pg_conn_check,
	.tx_state = db_pg_tx_state,
	.run = db_pg_run,
	.script = db_pg_script,
	.lock = db_pg_lock,
	.unlock = db_pg_unlock,
};
