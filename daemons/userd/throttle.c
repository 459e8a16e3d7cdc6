/*
 * throttle.c - slows down guessing passwords: per lowercased username,
 * in-process, counts failed logins.  From the max_failures-th failure on,
 * the username is locked out for base, 2*base, 4*base ... seconds (at most
 * cap) after each failure; attempts during a lockout are refused without
 * checking the password and do not count.  Failures are forgotten after a
 * quiet window (15 minutes with no failure and no lockout running), and
 * at once after a successful login.
 *
 * A hash table of chains with a ceiling on entries: past it, the entry
 * with the oldest activity is dropped, so random usernames cannot grow
 * memory without bound.
 */
#include "userd.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

#define THROTTLE_BUCKETS 4096
#define THROTTLE_MAX_ENTRIES 100000
#define THROTTLE_MAX_FAILURES 5
#define THROTTLE_WINDOW_MS (15 * 60 * 1000)
#define THROTTLE_CAP_MS (900 * 1000)

struct throttle_entry {
	struct throttle_entry *next;	/* chain in the bucket */
	char key[USERD_USERNAME_MAX + 1];	/* lowercased username */
	int failures;			/* failures since the last quiet window */
	int64_t last_ms;		/* the last failure */
	int64_t locked_until_ms;	/* refused until then; 0 if never */
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

/* The last moment the entry mattered. */
static int64_t throttle_active_until(const struct throttle_entry *e)
{
	return e->locked_until_ms > e->last_ms ? e->locked_until_ms
					       : e->last_ms;
}

static bool throttle_stale(const struct throttle *t,
			   const struct throttle_entry *e, int64_t now)
{
	return now - throttle_active_until(e) > t->window_ms;
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

static void throttle_unlink(struct throttle *t, struct throttle_entry **pp)
{
	struct throttle_entry *e = *pp;

	*pp = e->next;
	free(e);
	t->count--;
}

/* Drops stale entries; with force, also the single oldest one. */
static void throttle_prune_locked(struct throttle *t, int64_t now, bool force)
{
	struct throttle_entry **oldest = NULL;

	for (size_t b = 0; b < t->nbuckets; b++) {
		struct throttle_entry **pp = &t->buckets[b];
		while (*pp) {
			if (throttle_stale(t, *pp, now)) {
				throttle_unlink(t, pp);
				continue;
			}
			if (!oldest || throttle_active_until(*pp) <
					       throttle_active_until(*oldest))
				oldest = pp;
			pp = &(*pp)->next;
		}
	}
	if (force && oldest && t->count >= t->max_entries)
		throttle_unlink(t, oldest);
}

int throttle_init(struct throttle *t, int64_t base_s)
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
	t->max_entries = THROTTLE_MAX_ENTRIES;
	t->max_failures = THROTTLE_MAX_FAILURES;
	t->window_ms = THROTTLE_WINDOW_MS;
	t->base_ms = base_s * 1000;
	t->cap_ms = THROTTLE_CAP_MS;
	return 0;
}

void throttle_release(struct throttle *t)
{
	if (!t->buckets)
		return;
	for (size_t b = 0; b < t->nbuckets; b++) {
		while (t->buckets[b])
			throttle_unlink(t, &t->buckets[b]);
	}
	free(t->buckets);
	t->buckets = NULL;
	pthread_mutex_destroy(&t->lock);
}

int throttle_check(struct throttle *t, const char *key, int64_t now,
		   int64_t *retry_after_s)
{
	struct throttle_entry *e;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	e = *throttle_find(t, key);
	if (e && e->locked_until_ms > now) {
		/* round up: a client waiting that long is surely let in */
		*retry_after_s = (e->locked_until_ms - now + 999) / 1000;
		rc = CHAT_EBUSY;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void throttle_fail(struct throttle *t, const char *key, int64_t now)
{
	struct throttle_entry **pp, *e;

	pthread_mutex_lock(&t->lock);
	pp = throttle_find(t, key);
	e = *pp;
	if (e && throttle_stale(t, e, now)) {
		e->failures = 0;
		e->locked_until_ms = 0;
	}
	if (!e) {
		if (t->count >= t->max_entries) {
			throttle_prune_locked(t, now, true);
			pp = throttle_find(t, key);
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			goto out;	/* unthrottled beats failing the login */
		users_username_key(key, e->key);
		*pp = e;
		t->count++;
	}
	e->failures++;
	e->last_ms = now;
	if (e->failures >= t->max_failures) {
		int shift = e->failures - t->max_failures;
		int64_t lock = t->cap_ms;
		if (shift < 20 && (t->base_ms << shift) < t->cap_ms)
			lock = t->base_ms << shift;
		e->locked_until_ms = now + lock;
	}
out:
	pthread_mutex_unlock(&t->lock);
}

void throttle_clear(struct throttle *t, const char *key)
{
	struct throttle_entry **pp;

	pthread_mutex_lock(&t->lock);
	pp = throttle_find(t, key);
	if (*pp)
		throttle_unlink(t, pp);
	pthread_mutex_unlock(&t->lock);
}

void throttle_prune(struct throttle *t, int64_t now)
{
	pthread_mutex_lock(&t->lock);
	throttle_prune_locked(t, now, false);
	pthread_mutex_unlock(&t->lock);
}
