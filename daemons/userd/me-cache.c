/*
 * me-cache.c - the answers of GET /v1/users/me, kept for a moment so that
 * a repeated read is answered on the loop thread without a worker
 * hand-off and a store read (the hot path of every client start-up and
 * of the identity benchmark).
 *
 * Correctness: every write to a users row in this process calls
 * me_cache_forget(id) after it committed.  A reader notes the generation
 * before its store read and its answer is kept only if no write came in
 * between (a write bumps the generation), so a read that raced a write can
 * never put the old row back.  Writes by another userd process sharing
 * the store (several instances on PostgreSQL) are not seen here: for
 * those an entry lives ME_CACHE_TTL_MS at most, which bounds how stale an
 * answer can be.
 *
 * Memory: direct-mapped, ME_CACHE_SLOTS entries, one answer each (at most
 * the size of a user's JSON); a colliding put replaces the older entry.
 */
#include "userd.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

void me_cache_init(struct me_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

static void me_cache_slot_clear(struct me_cache_entry *e)
{
	free(e->json);
	memset(e, 0, sizeof(*e));
}

void me_cache_release(struct me_cache *c)
{
	size_t i;

	for (i = 0; i < ME_CACHE_SLOTS; i++)
		me_cache_slot_clear(&c->slots[i]);
	pthread_mutex_destroy(&c->lock);
}

/* FNV-1a of the id: ids are UUIDv7, whose first bytes are a timestamp,
 * so every byte takes part. */
static size_t me_cache_slot(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % ME_CACHE_SLOTS;
}

int me_cache_get(struct me_cache *c, const char *id, int64_t now,
		 char **json, size_t *len)
{
	struct me_cache_entry *e = &c->slots[me_cache_slot(id)];
	int rc = CHAT_ENOTFOUND;

	*json = NULL;
	*len = 0;
	pthread_mutex_lock(&c->lock);
	if (e->json && strcmp(e->id, id) == 0 && now < e->expires_ms) {
		*json = malloc(e->len + 1);
		rc = *json ? 0 : CHAT_ENOMEM;
		if (rc == 0) {
			memcpy(*json, e->json, e->len + 1);
			*len = e->len;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t me_cache_generation(struct me_cache *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->generation;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void me_cache_put(struct me_cache *c, const char *id, const char *json,
		  size_t len, int64_t now, uint64_t generation)
{
	struct me_cache_entry *e = &c->slots[me_cache_slot(id)];
	char *copy;

	if (strlen(id) >= sizeof(e->id))
		return;
	copy = malloc(len + 1);
	if (!copy)
		return;			/* a cache: nothing lost */
	memcpy(copy, json, len);
	copy[len] = '\0';
	pthread_mutex_lock(&c->lock);
	if (generation != c->generation) {
		pthread_mutex_unlock(&c->lock);
		free(copy);		/* a write came in meanwhile */
		return;
	}
	free(e->json);
	memcpy(e->id, id, strlen(id) + 1);
	e->json = copy;
	e->len = len;
	e->expires_ms = now + ME_CACHE_TTL_MS;
	pthread_mutex_unlock(&c->lock);
}

void me_cache_forget(struct me_cache *c, const char *id)
{
	struct me_cache_entry *e = &c->slots[me_cache_slot(id)];

	pthread_mutex_lock(&c->lock);
	c->generation++;
	if (e->json && strcmp(e->id, id) == 0)
		me_cache_slot_clear(e);
	pthread_mutex_unlock(&c->lock);
}

void me_cache_prune(struct me_cache *c, int64_t now)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < ME_CACHE_SLOTS; i++)
		if (c->slots[i].json && now >= c->slots[i].expires_ms)
			me_cache_slot_clear(&c->slots[i]);
	pthread_mutex_unlock(&c->lock);
}
