/*
 * throttle.c - slows down password guessing and registration floods, in
 * process (a shared store such as Redis is planned for several userd).
 *
 * Logins are counted twice: per (username, client address) pair and per
 * client address.  Each has a free allowance of failures (pair_free,
 * addr_free); from then on every attempt must wait base, 2*base, 4*base
 * ... (at most cap) after the last failure, and an attempt made earlier is
 * refused without checking the password.  There is no lock-out: a pair
 * or an address with no failures is never slowed, so the user's own
 * address gets in while a guesser elsewhere waits.
 *
 * An attempt is reserved (counted as pending) before the password check,
 * under the lock, so concurrent attempts cannot all pass the allowance;
 * its outcome then turns it into a failure, or resets the pair (a success
 * refunds the address's reservation but keeps its failures, so a sprayer
 * with one good account cannot wipe its record).
 *
 * Registrations are counted per address in a window of an hour that
 * starts at the first one.
 *
 * One hash table of chains holds all three kinds of entry; the entries
 * also sit on a list from least to most recently used.  Past max_entries
 * the least recently used one is dropped, so a flood of usernames or
 * addresses cannot grow memory without bound, while the entry of an
 * active guesser, touched by each attempt, stays.  Entries quiet for
 * window_ms are forgotten.
 */
#include "userd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

#define THROTTLE_BUCKETS 16384
#define THROTTLE_MAX_ENTRIES 65536
#define THROTTLE_WINDOW_MS (60 * 60 * 1000)	/* forget after an hour */
#define THROTTLE_REGISTER_WINDOW_MS (60 * 60 * 1000)
/* "p" ip "\n" username, "a" ip, "r" ip */
#define THROTTLE_KEY_MAX (1 + THROTTLE_IP_MAX + 1 + USERD_USERNAME_MAX + 1)

struct throttle_entry {
	struct throttle_entry *next;	/* chain in the bucket */
	struct throttle_entry *older;	/* LRU list neighbours */
	struct throttle_entry *newer;
	char key[THROTTLE_KEY_MAX];	/* kind letter, address, username */
	int failures;			/* login failures counted */
	int pending;			/* login attempts being checked */
	int64_t last_fail_ms;		/* the last login failure */
	int registrations;		/* registrations in this window */
	int64_t window_ms;		/* registration window start */
	int64_t last_ms;		/* the last activity of any kind */
};

static size_t throttle_hash(const char *key)
{
	size_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The link pointing at key's entry (or at the chain's NULL end). */
static struct throttle_entry **throttle_find(struct throttle *t,
					     const char *key)
{
	struct throttle_entry **pp =
		&t->buckets[throttle_hash(key) % t->nbuckets];

	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void throttle_lru_remove(struct throttle *t, struct throttle_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	e->older = e->newer = NULL;
}

static void throttle_lru_append(struct throttle *t, struct throttle_entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
}

/* Frees e, found at *pp. */
static void throttle_unlink(struct throttle *t, struct throttle_entry **pp)
{
	struct throttle_entry *e = *pp;

	*pp = e->next;
	throttle_lru_remove(t, e);
	free(e);
	t->count--;
}

/* Frees e wherever its chain holds it. */
static void throttle_drop(struct throttle *t, struct throttle_entry *e)
{
	throttle_unlink(t, throttle_find(t, e->key));
}

/* True when e has been quiet for the window: its counts are forgotten. */
static bool throttle_stale(const struct throttle *t,
			   const struct throttle_entry *e, int64_t now)
{
	return e->pending == 0 && now - e->last_ms > t->window_ms;
}

/* key's entry, NULL when there is none. */
static struct throttle_entry *throttle_get(struct throttle *t,
					   const char *key)
{
	return *throttle_find(t, key);
}

/* Marks e (NULL: nothing) as the most recently used: an entry a guesser
 * keeps hitting, even in vain, is the last to be dropped. */
static void throttle_bump(struct throttle *t, struct throttle_entry *e,
			  int64_t now)
{
	if (!e)
		return;
	throttle_lru_remove(t, e);
	throttle_lru_append(t, e);
	e->last_ms = now;
}

/*
 * key's entry, made when missing (dropping the least recently used one
 * at the ceiling), and marked as the most recently used.  NULL when
 * memory runs out: the caller then goes unthrottled rather than failing
 * the request.
 */
static struct throttle_entry *throttle_touch(struct throttle *t,
					     const char *key, int64_t now)
{
	struct throttle_entry **pp = throttle_find(t, key), *e = *pp;

	if (e) {
		if (throttle_stale(t, e, now)) {
			e->failures = 0;
			e->registrations = 0;
		}
		throttle_bump(t, e, now);
		return e;
	}
	if (t->count >= t->max_entries && t->oldest) {
		throttle_drop(t, t->oldest);
		pp = throttle_find(t, key);
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	*pp = e;
	t->count++;
	throttle_lru_append(t, e);
	e->last_ms = now;
	return e;
}

/* The wait after `excess` failures beyond the free ones: base * 2^excess,
 * at most cap. */
static int64_t throttle_delay(const struct throttle *t, int excess)
{
	if (excess < 0)
		return 0;
	if (excess >= 40 || (t->base_ms << excess) >= t->cap_ms)
		return t->cap_ms;
	return t->base_ms << excess;
}

/*
 * 0 when entry e (NULL: never seen) lets one more login attempt through
 * now, with `allowance` free failures; else the milliseconds to wait.
 */
static int64_t throttle_wait(const struct throttle *t,
			     const struct throttle_entry *e, int allowance,
			     int64_t now)
{
	int64_t until;
	int counted;

	if (!e || throttle_stale(t, e, now))
		return 0;
	counted = e->failures + e->pending;
	if (counted < allowance)
		return 0;
	/* attempts in flight may each become the next failure: wait as if
	 * they had */
	if (e->pending > 0)
		return throttle_delay(t, counted - allowance);
	until = e->last_fail_ms + throttle_delay(t, e->failures - allowance);
	return until > now ? until - now : 0;
}

static void throttle_pair_key(char *out, const char *ip, const char *user)
{
	snprintf(out, THROTTLE_KEY_MAX, "p%.*s\n%s", THROTTLE_IP_MAX, ip,
		 user);
}

static void throttle_addr_key(char *out, char kind, const char *ip)
{
	snprintf(out, THROTTLE_KEY_MAX, "%c%.*s", kind, THROTTLE_IP_MAX, ip);
}

/* Seconds of a wait in milliseconds, rounded up: a client that waits
 * that long is surely let in. */
static int64_t throttle_seconds(int64_t ms)
{
	int64_t s = (ms + 999) / 1000;

	return s < 1 ? 1 : s;
}

/* Ends one pending attempt of e (if the entry survived). */
static void throttle_unpend(struct throttle_entry *e)
{
	if (e && e->pending > 0)
		e->pending--;
}

int throttle_init(struct throttle *t, const struct throttle_settings *s)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(THROTTLE_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return CHAT_ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t->buckets);
		t->buckets = NULL;
		return CHAT_ENOMEM;
	}
	t->nbuckets = THROTTLE_BUCKETS;
	t->max_entries = s->max_entries ? s->max_entries : THROTTLE_MAX_ENTRIES;
	t->pair_free = s->pair_free;
	t->addr_free = s->addr_free;
	t->base_ms = s->base_ms;
	t->cap_ms = s->cap_ms > s->base_ms ? s->cap_ms : s->base_ms;
	t->register_per_hour = s->register_per_hour;
	t->window_ms = THROTTLE_WINDOW_MS;
	if (t->window_ms < t->cap_ms)
		t->window_ms = t->cap_ms;
	return 0;
}

void throttle_release(struct throttle *t)
{
	if (!t->buckets)
		return;
	while (t->oldest)
		throttle_drop(t, t->oldest);
	free(t->buckets);
	t->buckets = NULL;
	pthread_mutex_destroy(&t->lock);
}

int throttle_login_begin(struct throttle *t, const char *ip,
			 const char *user, int64_t now,
			 int64_t *retry_after_s)
{
	char pkey[THROTTLE_KEY_MAX], akey[THROTTLE_KEY_MAX];
	struct throttle_entry *pair = NULL, *addr;
	int64_t wait = 0, w;
	int rc = 0;

	throttle_addr_key(akey, 'a', ip);
	if (user)
		throttle_pair_key(pkey, ip, user);
	pthread_mutex_lock(&t->lock);
	/* both checks before either reservation: a refused attempt counts
	 * nowhere */
	if (user) {
		pair = throttle_get(t, pkey);
		wait = throttle_wait(t, pair, t->pair_free, now);
	}
	addr = throttle_get(t, akey);
	w = throttle_wait(t, addr, t->addr_free, now);
	if (w > wait)
		wait = w;
	if (wait > 0) {
		throttle_bump(t, pair, now);
		throttle_bump(t, addr, now);
		*retry_after_s = throttle_seconds(wait);
		rc = CHAT_EBUSY;
		goto out;
	}
	if (user) {
		pair = throttle_touch(t, pkey, now);
		if (pair)
			pair->pending++;
	}
	addr = throttle_touch(t, akey, now);
	if (addr)
		addr->pending++;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void throttle_login_end(struct throttle *t, const char *ip, const char *user,
			enum throttle_outcome outcome, int64_t now)
{
	char pkey[THROTTLE_KEY_MAX], akey[THROTTLE_KEY_MAX];
	struct throttle_entry *pair = NULL, *addr;

	throttle_addr_key(akey, 'a', ip);
	if (user)
		throttle_pair_key(pkey, ip, user);
	pthread_mutex_lock(&t->lock);
	addr = outcome == THROTTLE_FAILED ? throttle_touch(t, akey, now)
					  : throttle_get(t, akey);
	throttle_unpend(addr);
	if (user)
		pair = outcome == THROTTLE_FAILED ? throttle_touch(t, pkey, now)
						  : throttle_get(t, pkey);
	throttle_unpend(pair);
	if (outcome == THROTTLE_FAILED) {
		if (addr) {
			addr->failures++;
			addr->last_fail_ms = now;
		}
		if (pair) {
			pair->failures++;
			pair->last_fail_ms = now;
		}
	} else if (outcome == THROTTLE_OK && pair && pair->pending == 0) {
		/* the right password from this address: start afresh */
		throttle_drop(t, pair);
	} else if (outcome == THROTTLE_OK && pair) {
		/* other attempts are still out: keep their reservations */
		pair->failures = 0;
	}
	pthread_mutex_unlock(&t->lock);
}

int throttle_register_begin(struct throttle *t, const char *ip, int64_t now,
			    int64_t *retry_after_s)
{
	char key[THROTTLE_KEY_MAX];
	struct throttle_entry *e;
	int rc = 0;

	throttle_addr_key(key, 'r', ip);
	pthread_mutex_lock(&t->lock);
	e = throttle_get(t, key);
	if (e && !throttle_stale(t, e, now) &&
	    now - e->window_ms < THROTTLE_REGISTER_WINDOW_MS &&
	    e->registrations >= t->register_per_hour) {
		throttle_bump(t, e, now);
		*retry_after_s = throttle_seconds(
			e->window_ms + THROTTLE_REGISTER_WINDOW_MS - now);
		rc = CHAT_EBUSY;
		goto out;
	}
	e = throttle_touch(t, key, now);
	if (!e)
		goto out;
	if (e->registrations == 0 ||
	    now - e->window_ms >= THROTTLE_REGISTER_WINDOW_MS) {
		e->registrations = 0;
		e->window_ms = now;
	}
	e->registrations++;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void throttle_register_cancel(struct throttle *t, const char *ip)
{
	char key[THROTTLE_KEY_MAX];
	struct throttle_entry *e;

	throttle_addr_key(key, 'r', ip);
	pthread_mutex_lock(&t->lock);
	e = throttle_get(t, key);
	if (e && e->registrations > 0)
		e->registrations--;
	pthread_mutex_unlock(&t->lock);
}

void throttle_prune(struct throttle *t, int64_t now)
{
	struct throttle_entry *e, *newer;

	pthread_mutex_lock(&t->lock);
	/* oldest first; a busy entry further on is kept either way */
	for (e = t->oldest; e && now - e->last_ms > t->window_ms; e = newer) {
		newer = e->newer;
		if (throttle_stale(t, e, now))
			throttle_drop(t, e);
	}
	pthread_mutex_unlock(&t->lock);
}

size_t throttle_count(struct throttle *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
