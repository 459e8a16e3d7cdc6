/*
 * cache.c - identities by the SHA-256 of a credential (API keys for 30 s,
 * verified access tokens until they expire), so that most requests need
 * neither a call to userd nor a signature check.
 *
 * Direct-mapped on the first hex digits of the hash: bounded by
 * construction, no allocation, and a colliding entry simply replaces the
 * older one.  The generation number stops a check that started before a
 * flush from putting a stale answer back afterwards.
 */
#include "gatewayd.h"

#include <string.h>

#include "banned.h"

/* The key is a hex hash already: its leading digits are uniform. */
static size_t cache_slot(const char *key)
{
	size_t h = 0, i;

	for (i = 0; i < 8 && key[i]; i++)
		h = h * 16 + (size_t)(key[i] <= '9' ? key[i] - '0' :
				      (key[i] | 0x20) - 'a' + 10);
	return h % GW_CACHE_SLOTS;
}

void cache_init(struct gw_cache *c)
{
	memset(c->slots, 0, sizeof(c->slots));
	c->generation = 0;
	pthread_mutex_init(&c->lock, NULL);
}

void cache_release(struct gw_cache *c)
{
	pthread_mutex_destroy(&c->lock);
}

bool cache_get(struct gw_cache *c, const char *key, int64_t now,
	       struct gw_identity *out)
{
	struct gw_cache_entry *e = &c->slots[cache_slot(key)];
	bool hit;

	pthread_mutex_lock(&c->lock);
	hit = strcmp(e->key, key) == 0 && now < e->expires_ms;
	if (hit)
		*out = e->id;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void cache_put(struct gw_cache *c, const char *key,
	       const struct gw_identity *id, int64_t expires_ms,
	       uint64_t generation)
{
	struct gw_cache_entry *e = &c->slots[cache_slot(key)];

	if (strlen(key) >= sizeof(e->key))
		return;
	pthread_mutex_lock(&c->lock);
	if (generation == c->generation) {
		memcpy(e->key, key, strlen(key) + 1);
		e->id = *id;
		e->expires_ms = expires_ms;
	}
	pthread_mutex_unlock(&c->lock);
}

uint64_t cache_generation(struct gw_cache *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->generation;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void cache_flush(struct gw_cache *c)
{
	pthread_mutex_lock(&c->lock);
	memset(c->slots, 0, sizeof(c->slots));
	c->generation++;
	pthread_mutex_unlock(&c->lock);
}
