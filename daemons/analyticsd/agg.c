/*
 * agg.c - a batch's rollup deltas gathered in memory, then written with
 * one upsert per row they touch (issue 13): a batch of 5,000 events
 * adds to a few hundred per-day rows (usage_model_daily,
 * usage_hist_daily, daily) and to one active row per user and day, so
 * writing each event's delta on its own did the same upserts many times
 * over (docs/PERFORMANCE.md).
 *
 * An entry is a row of one rollup table: its key is the table's tag
 * byte and the row's key columns, each NUL-terminated (so they bind as
 * they are), in an open-addressing hash table.  agg_flush writes the
 * entries sorted by key, table by table and in each table's primary key
 * order, so that the store's B-trees are walked once, not hopped over.
 * The table of the upserts is at the end of the file.
 *
 * The same hash table remembers, for the batch, which users were found
 * erased or not (AGG_SEEN, never written): one lookup of the erased
 * table per user and batch instead of one per event.  A flush forgets
 * them with the sums, and the erasure of a user flushes first.
 */
#include "analyticsd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sketch.h"
#include "banned.h"

#define AGG_KEY_MAX 512			/* tag + key columns */
#define AGG_MIN_CAP 1024		/* slots of a new table */
/* entries past this are written early, in the same transaction: the
 * memory of one batch stays bounded whatever its events */
#define AGG_MAX_ENTRIES 65536
#define AGG_MAX_FIELDS 5

/* The rollup tables, in the order a flush writes them. */
enum agg_table {
	AGG_USAGE, AGG_MODEL, AGG_USER, AGG_ERRORS, AGG_ERRORS_DAY, AGG_HIST,
	AGG_HIST_DAY, AGG_DAILY, AGG_ACTIVE,
	AGG_SEEN,			/* a user's erased state: not a table */
	AGG_NTABLES,
};

struct agg_entry {
	char *key;			/* owned; NULL: a free slot */
	size_t len;			/* of key, its NULs included */
	uint64_t hash;
	int64_t v[ROLLUP_NSUMS];	/* the counters added up */
};

struct agg_table_def {
	int nfields;			/* key columns */
	unsigned int_fields;		/* bit i: column i is an integer */
	int nvals;			/* counters after them */
	const char *sql;		/* the upsert, $1... in that order */
};

static const struct agg_table_def agg_tables[AGG_NTABLES];

static uint64_t agg_hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Doubles the table (or makes the first one); entries keep their keys. */
static int agg_grow(struct agg *g)
{
	size_t cap = g->cap ? g->cap * 2 : AGG_MIN_CAP, i, j;
	struct agg_entry *e = calloc(cap, sizeof(*e));

	if (!e)
		return CHAT_ENOMEM;
	for (i = 0; i < g->cap; i++) {
		if (!g->e[i].key)
			continue;
		for (j = g->e[i].hash & (cap - 1); e[j].key;
		     j = (j + 1) & (cap - 1))
			;
		e[j] = g->e[i];
	}
	free(g->e);
	g->e = e;
	g->cap = cap;
	return 0;
}

/* The entry of table t with the key columns f (nf of them), made when
 * new; *out NULL on failure. */
static int agg_entry(struct agg *g, enum agg_table t, const char *const *f,
		     int nf, struct agg_entry **out)
{
	char key[AGG_KEY_MAX];
	size_t len = 1, flen, i;
	uint64_t h;
	int k;

	*out = NULL;
	key[0] = (char)('A' + t);	/* sorts the tables in flush order */
	for (k = 0; k < nf; k++) {
		flen = strlen(f[k]) + 1;
		if (len + flen > sizeof(key))
			return CHAT_ETOOBIG;
		memcpy(key + len, f[k], flen);
		len += flen;
	}
	if ((g->n + 1) * 4 > g->cap * 3) {	/* load factor 3/4 */
		int rc = agg_grow(g);

		if (rc < 0)
			return rc;
	}
	h = agg_hash(key, len);
	for (i = h & (g->cap - 1); g->e[i].key; i = (i + 1) & (g->cap - 1))
		if (g->e[i].hash == h && g->e[i].len == len &&
		    memcmp(g->e[i].key, key, len) == 0) {
			*out = &g->e[i];
			return 0;
		}
	g->e[i].key = malloc(len);
	if (!g->e[i].key)
		return CHAT_ENOMEM;
	memcpy(g->e[i].key, key, len);
	g->e[i].len = len;
	g->e[i].hash = h;
	memset(g->e[i].v, 0, sizeof(g->e[i].v));
	g->n++;
	*out = &g->e[i];
	return 0;
}

/* Adds n counters v to the row of table t keyed by f. */
static int agg_add_row(struct agg *g, enum agg_table t,
		       const char *const *f, int nf, const int64_t *v, int n)
{
	struct agg_entry *e;
	int rc, k;

	rc = agg_entry(g, t, f, nf, &e);
	for (k = 0; rc == 0 && k < n; k++)
		e->v[k] += v[k];
	return rc;
}

/* A latency's buckets: the user's row and the day's. */
static int agg_add_hist(struct agg *g, const struct rollup_delta *d,
			const char *metric, int64_t value)
{
	char bucket[24];
	const int64_t one = 1;
	int rc;

	if (value < 0)
		return 0;
	snprintf(bucket, sizeof(bucket), "%d", (int)sketch_index(value));
	rc = agg_add_row(g, AGG_HIST, (const char *const[]){ d->day,
			 d->user_id, d->model, metric, bucket }, 5, &one, 1);
	if (rc == 0)
		rc = agg_add_row(g, AGG_HIST_DAY, (const char *const[]){
				 d->day, metric, bucket }, 3, &one, 1);
	return rc;
}

int agg_add(struct agg *g, const struct rollup_delta *d)
{
	const int64_t sums[ROLLUP_NSUMS] = {
		d->requests, d->completed, d->stopped, d->failed,
		d->prompt_tokens, d->completion_tokens, d->cost_pusd,
		d->unpriced, d->conversations, d->messages,
	};
	const int64_t one = 1;
	int rc = 0;

	if (d->usage) {
		/* usage_daily's and usage_user_daily's keys lead with
		 * the user on SQLite (migration 5): their rows in that
		 * order */
		rc = agg_add_row(g, AGG_USAGE, (const char *const[]){
				 d->user_id, d->model, d->day }, 3, sums,
				 ROLLUP_NSUMS);
		if (rc == 0)
			rc = agg_add_row(g, AGG_MODEL, (const char *const[]){
					 d->day, d->model }, 2, sums,
					 ROLLUP_NSUMS);
		if (rc == 0)
			rc = agg_add_row(g, AGG_USER, (const char *const[]){
					 d->user_id, d->day }, 2, sums,
					 ROLLUP_NSUMS);
	}
	if (rc == 0 && d->error_class) {
		rc = agg_add_row(g, AGG_ERRORS, (const char *const[]){ d->day,
				 d->user_id, d->model, d->error_class }, 4,
				 &one, 1);
		if (rc == 0)
			rc = agg_add_row(g, AGG_ERRORS_DAY,
					 (const char *const[]){ d->day,
					 d->error_class }, 2, &one, 1);
	}
	if (rc == 0)
		rc = agg_add_hist(g, d, "t", d->ttft_ms);
	if (rc == 0)
		rc = agg_add_hist(g, d, "l", d->latency_ms);
	if (rc == 0 && (d->registrations || d->logins || d->failed_logins))
		rc = agg_add_row(g, AGG_DAILY, (const char *const[]){ d->day },
				 1, (const int64_t[]){ d->registrations,
				 d->logins, d->failed_logins }, 3);
	if (rc == 0 && d->active)
		rc = agg_add_row(g, AGG_ACTIVE, (const char *const[]){ d->day,
				 d->user_id }, 2, &one, 1);
	return rc;
}

int agg_user_seen(struct agg *g, const char *user_id, int64_t **state)
{
	struct agg_entry *e;
	int rc;

	*state = NULL;
	rc = agg_entry(g, AGG_SEEN, &user_id, 1, &e);
	if (rc == 0)
		*state = &e->v[0];
	return rc;
}

bool agg_full(const struct agg *g)
{
	return g->n >= AGG_MAX_ENTRIES;
}

static int agg_cmp(const void *a, const void *b)
{
	const struct agg_entry *x = *(const struct agg_entry *const *)a;
	const struct agg_entry *y = *(const struct agg_entry *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* One entry's upsert. */
static int agg_write(struct db_conn *c, const struct agg_entry *e)
{
	const struct agg_table_def *t = &agg_tables[e->key[0] - 'A'];
	struct db_param p[AGG_MAX_FIELDS + ROLLUP_NSUMS];
	const char *f = e->key + 1;
	int k, np = 0;

	for (k = 0; k < t->nfields; k++) {
		if (t->int_fields & (1u << k))
			p[np++] = DB_P_INT(strtoll(f, NULL, 10));
		else
			p[np++] = db_p_text(f);
		f += strlen(f) + 1;
	}
	for (k = 0; k < t->nvals; k++)
		p[np++] = DB_P_INT(e->v[k]);
	return db_exec(c, t->sql, p, (size_t)np, NULL);
}

int agg_flush(struct agg *g, struct db_conn *c)
{
	struct agg_entry **sorted = NULL;
	size_t i, n = 0;
	int rc = 0;

	if (g->n == 0)
		return 0;
	sorted = malloc(g->n * sizeof(*sorted));
	if (!sorted)
		return CHAT_ENOMEM;
	for (i = 0; i < g->cap; i++)
		if (g->e[i].key && g->e[i].key[0] != 'A' + AGG_SEEN)
			sorted[n++] = &g->e[i];
	qsort(sorted, n, sizeof(*sorted), agg_cmp);
	for (i = 0; rc == 0 && i < n; i++)
		rc = agg_write(c, sorted[i]);
	free(sorted);
	if (rc == 0)
		agg_reset(g);
	return rc;
}

void agg_reset(struct agg *g)
{
	size_t i;

	for (i = 0; i < g->cap; i++) {
		free(g->e[i].key);
		g->e[i].key = NULL;
	}
	g->n = 0;
}

void agg_release(struct agg *g)
{
	agg_reset(g);
	free(g->e);
	g->e = NULL;
	g->cap = 0;
}

#define AGG_USAGE_VALUES \
	"$4, $5, $6, $7, $8, $9, $10, $11, $12, $13"
#define AGG_DAY_VALUES \
	"$3, $4, $5, $6, $7, $8, $9, $10, $11, $12"

/* The upsert of each table; counters add up, an active day is once. */
static const struct agg_table_def agg_tables[AGG_NTABLES] = {
	[AGG_USAGE] = { 3, 0, ROLLUP_NSUMS,
		"INSERT INTO usage_daily (user_id, model, day, "
		ROLLUP_SUM_NAMES ") VALUES ($1, $2, $3, " AGG_USAGE_VALUES ")"
		" ON CONFLICT (day, user_id, model) DO UPDATE SET "
		ROLLUP_SUMS("usage_daily") },
	[AGG_MODEL] = { 2, 0, ROLLUP_NSUMS,
		"INSERT INTO usage_model_daily (day, model, " ROLLUP_SUM_NAMES
		") VALUES ($1, $2, " AGG_DAY_VALUES ")"
		" ON CONFLICT (day, model) DO UPDATE SET "
		ROLLUP_SUMS("usage_model_daily") },
	[AGG_USER] = { 2, 0, ROLLUP_NSUMS,
		"INSERT INTO usage_user_daily (user_id, day, " ROLLUP_SUM_NAMES
		") VALUES ($1, $2, " AGG_DAY_VALUES ")"
		" ON CONFLICT (day, user_id) DO UPDATE SET "
		ROLLUP_SUMS("usage_user_daily") },
	[AGG_ERRORS] = { 4, 0, 1,
		"INSERT INTO usage_errors (day, user_id, model, error_class,"
		" count) VALUES ($1, $2, $3, $4, $5)"
		" ON CONFLICT (day, user_id, model, error_class)"
		" DO UPDATE SET count = usage_errors.count + excluded.count" },
	[AGG_ERRORS_DAY] = { 2, 0, 1,
		"INSERT INTO usage_errors_daily (day, error_class, count)"
		" VALUES ($1, $2, $3) ON CONFLICT (day, error_class)"
		" DO UPDATE SET count = usage_errors_daily.count"
		" + excluded.count" },
	[AGG_HIST] = { 5, 1u << 4, 1,
		"INSERT INTO usage_hist (day, user_id, model, metric, bucket,"
		" count) VALUES ($1, $2, $3, $4, $5, $6)"
		" ON CONFLICT (day, user_id, model, metric, bucket)"
		" DO UPDATE SET count = usage_hist.count + excluded.count" },
	[AGG_HIST_DAY] = { 3, 1u << 2, 1,
		"INSERT INTO usage_hist_daily (day, metric, bucket, count)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (day, metric, bucket)"
		" DO UPDATE SET count = usage_hist_daily.count"
		" + excluded.count" },
	[AGG_DAILY] = { 1, 0, 3,
		"INSERT INTO daily (day, registrations, logins, failed_logins)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (day) DO UPDATE SET"
		" registrations = daily.registrations"
		" + excluded.registrations,"
		" logins = daily.logins + excluded.logins,"
		" failed_logins = daily.failed_logins"
		" + excluded.failed_logins" },
	[AGG_ACTIVE] = { 2, 0, 0,
		"INSERT INTO active (day, user_id) VALUES ($1, $2)"
		" ON CONFLICT DO NOTHING" },
	[AGG_SEEN] = { 1, 0, 1, NULL },
};
