/*
 * alloc-fail.h - a counting allocator for allocation-failure tests, in
 * the manner of SQLite's test_malloc.c: it fails the Nth allocation from
 * the moment it is armed, and counts the blocks still live so that a
 * test can see a leak even without LeakSanitizer.
 *
 * It takes over malloc, calloc, realloc, strdup, strndup and free of
 * the objects linked statically into the test (the Makefile links the
 * tests of UNIT_ALLOC_FAIL with -Wl,--wrap=...), and, once
 * alloc_fail_hook_libraries has run, cJSON's and SQLite's allocators
 * too (those live in shared libraries, which --wrap cannot reach).
 *
 * Threads: the counters are atomic, but "the Nth allocation" only means
 * something when one thread allocates; arm it around single-threaded
 * code.
 */
#ifndef CHAT_TEST_ALLOC_FAIL_H
#define CHAT_TEST_ALLOC_FAIL_H

#include <stdbool.h>

/* Routes cJSON's and SQLite's allocations through the counter.  Call it
 * once, before the first use of either library; 0 on success. */
int alloc_fail_hook_libraries(void);

/* Arms the allocator: the nth allocation from now (1-based) fails, and
 * with persist every one after it too; n = 0 disarms (counting goes
 * on). */
void alloc_fail_at(long n, bool persist);

/* True when a failure was injected since the last alloc_fail_at. */
bool alloc_fail_injected(void);

/* Allocations since the last alloc_fail_at, failed ones included. */
long alloc_fail_count(void);

/* Blocks allocated through the counter and not yet freed. */
long alloc_fail_live(void);

/* An operation under test: 0 on success, with everything it allocated
 * freed again (it checks its own result), or a negative CHAT_E* code. */
typedef int (*alloc_fail_fn)(void *arg);

/*
 * Runs fn once unarmed (so that one-time initialisations are done), then
 * for n = 1, 2, ... with the nth allocation failing (once, then
 * persistently), until a run makes fewer than n allocations.  Each
 * failed run must return a negative code, or 0 when fn recovered from
 * the failure (fn has then checked its full result), and leave as many
 * live blocks as before it.  Returns the number of runs with an injected
 * failure; cmocka assertions report a bad run with the n it failed at.
 */
long alloc_fail_loop(const char *what, alloc_fail_fn fn, void *arg);

#endif
