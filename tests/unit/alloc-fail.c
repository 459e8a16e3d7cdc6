/*
 * alloc-fail.c - the counting allocator of alloc-fail.h.  The linker
 * sends the test's own calls of malloc & co here (-Wl,--wrap=malloc
 * makes every reference to malloc one to __wrap_malloc, and
 * __real_malloc the C library's); cJSON and SQLite come here through
 * their allocator hooks.
 */
#include "alloc-fail.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "banned.h"

/* Most runs one operation gets: a loop past it is a bug in the test. */
#define ALLOC_FAIL_MAX_RUNS	100000

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_long af_count;		/* allocations since armed */
static atomic_long af_fail_at;		/* 0: never fail */
static atomic_bool af_persist;		/* fail every one from fail_at on */
static atomic_bool af_injected;		/* a failure happened */
static atomic_long af_live;		/* blocks not yet freed */
static sqlite3_mem_methods af_sqlite_orig;	/* SQLite's own allocator */

/* Counts an allocation; false when this one is to fail. */
static bool af_allow(void)
{
	long n = atomic_fetch_add(&af_count, 1) + 1;
	long at = atomic_load(&af_fail_at);

	if (at > 0 && (n == at || (n > at && atomic_load(&af_persist)))) {
		atomic_store(&af_injected, true);
		return false;
	}
	return true;
}

static void *af_counted(void *p)
{
	if (p)
		atomic_fetch_add(&af_live, 1);
	return p;
}

void *__wrap_malloc(size_t size)
{
	return af_allow() ? af_counted(__real_malloc(size)) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
	return af_allow() ? af_counted(__real_calloc(n, size)) : NULL;
}

void *__wrap_realloc(void *p, size_t size)
{
	void *q;

	if (!af_allow())
		return NULL;
	q = __real_realloc(p, size);
	/* a new block when p was NULL; the same count otherwise */
	if (q && !p)
		atomic_fetch_add(&af_live, 1);
	return q;
}

void __wrap_free(void *p)
{
	if (p)
		atomic_fetch_sub(&af_live, 1);
	__real_free(p);
}

char *__wrap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = __wrap_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

char *__wrap_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = __wrap_malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* SQLite's allocator, counted; its own does the work (xSize needs it). */
static void *af_sqlite_malloc(int n)
{
	return af_allow() ? af_counted(af_sqlite_orig.xMalloc(n)) : NULL;
}

static void af_sqlite_free(void *p)
{
	if (p)
		atomic_fetch_sub(&af_live, 1);
	af_sqlite_orig.xFree(p);
}

static void *af_sqlite_realloc(void *p, int n)
{
	void *q;

	if (!af_allow())
		return NULL;
	q = af_sqlite_orig.xRealloc(p, n);
	if (q && !p)
		atomic_fetch_add(&af_live, 1);
	return q;
}

int alloc_fail_hook_libraries(void)
{
	static cJSON_Hooks hooks = { __wrap_malloc, __wrap_free };
	sqlite3_mem_methods m;

	cJSON_InitHooks(&hooks);
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &af_sqlite_orig) !=
	    SQLITE_OK)
		return -1;
	m = af_sqlite_orig;
	m.xMalloc = af_sqlite_malloc;
	m.xFree = af_sqlite_free;
	m.xRealloc = af_sqlite_realloc;
	return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -1;
}

void alloc_fail_at(long n, bool persist)
{
	atomic_store(&af_fail_at, 0);
	atomic_store(&af_count, 0);
	atomic_store(&af_injected, false);
	atomic_store(&af_persist, persist);
	atomic_store(&af_fail_at, n);
}

bool alloc_fail_injected(void)
{
	return atomic_load(&af_injected);
}

long alloc_fail_count(void)
{
	return atomic_load(&af_count);
}

long alloc_fail_live(void)
{
	return atomic_load(&af_live);
}

long alloc_fail_loop(const char *what, alloc_fail_fn fn, void *arg)
{
	long n, runs = 0, live;
	bool injected;
	int mode, rc;

	/* unarmed: first uses of a library allocate for good */
	alloc_fail_at(0, false);
	rc = fn(arg);
	if (rc != 0)
		fail_msg("%s: %d without an injected failure", what, rc);
	for (mode = 0; mode < 2; mode++) {
		for (n = 1; n <= ALLOC_FAIL_MAX_RUNS; n++) {
			live = alloc_fail_live();
			alloc_fail_at(n, mode == 1);
			rc = fn(arg);
			injected = alloc_fail_injected();
			alloc_fail_at(0, false);
			if (alloc_fail_live() != live)
				fail_msg("%s: allocation %ld failing%s: "
					 "%ld blocks leaked (rc %d)", what, n,
					 mode ? " and after" : "",
					 alloc_fail_live() - live, rc);
			if (!injected) {
				if (rc != 0)
					fail_msg("%s: %d with no failure "
						 "injected", what, rc);
				break;
			}
			if (rc > 0)
				fail_msg("%s: allocation %ld failing%s: "
					 "returned %d", what, n,
					 mode ? " and after" : "", rc);
			runs++;
		}
		if (n > ALLOC_FAIL_MAX_RUNS)
			fail_msg("%s: still allocating after %d runs", what,
				 ALLOC_FAIL_MAX_RUNS);
	}
	print_message("%s: %ld runs with a failing allocation\n", what, runs);
	return runs;
}
