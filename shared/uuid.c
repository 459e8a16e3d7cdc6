/*
 * uuid.c - UUIDv7 (RFC 9562 section 5.7) with a monotonic counter.
 *
 * Layout: 48 bits unix_ts_ms, 4 bits version (7), 12 bits rand_a used as
 * a counter (RFC 9562 section 6.2, method 1), 2 bits variant (10), 62
 * random bits.  Within one millisecond, or when the clock went back, the
 * counter is incremented; when it overflows the timestamp borrows the
 * next millisecond.  The counter starts at a random value below 2048 for
 * each new millisecond, so at least 2048 ids fit before a borrow.  Ids of
 * one process therefore sort strictly in creation order, as bytes and as
 * strings.
 */
#include "uuid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "util.h"
#include "banned.h"

#define UUID_COUNTER_MAX 0xFFF

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t uuid_last_ms = -1;	/* timestamp of the last id */
static unsigned uuid_counter;		/* rand_a of the last id */

/*
 * Random bytes drawn from libsodium a few hundred at a time: one
 * getrandom(2) per id was a measurable share of a request's system calls.
 */
#define UUID_POOL 512
static __thread unsigned char uuid_pool[UUID_POOL];
static __thread size_t uuid_pool_left;

static void uuid_random(unsigned char *b, size_t n)
{
	if (uuid_pool_left < n) {
		randombytes_buf(uuid_pool, sizeof(uuid_pool));
		uuid_pool_left = sizeof(uuid_pool);
	}
	memcpy(b, uuid_pool + sizeof(uuid_pool) - uuid_pool_left, n);
	sodium_memzero(uuid_pool + sizeof(uuid_pool) - uuid_pool_left, n);
	uuid_pool_left -= n;
}

int uuid_v7(char out[UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	int64_t ms;
	unsigned counter;
	size_t i, o = 0;
	int rc;

	rc = crypto_init();
	if (rc < 0)
		return rc;
	uuid_random(b, sizeof(b));
	ms = now_ms();

	pthread_mutex_lock(&uuid_lock);
	if (ms > uuid_last_ms) {
		uuid_last_ms = ms;
		uuid_counter = ((unsigned)b[6] << 8 | b[7]) & 0x7FF;
	} else if (uuid_counter < UUID_COUNTER_MAX) {
		uuid_counter++;
	} else {
		uuid_last_ms++;
		uuid_counter = 0;
	}
	ms = uuid_last_ms;
	counter = uuid_counter;
	pthread_mutex_unlock(&uuid_lock);

	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | counter >> 8);
	b[7] = (unsigned char)(counter & 0xFF);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3F));

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
	return 0;
}

bool uuid_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < UUID_STR_LEN - 1; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') ||
			     (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;	/* also stops at an early NUL */
		}
	}
	return s[UUID_STR_LEN - 1] == '\0';
}

bool uuid_norm(const char *s, char out[UUID_STR_LEN])
{
	size_t i;

	if (!uuid_valid(s))
		return false;
	for (i = 0; i < UUID_STR_LEN - 1; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[UUID_STR_LEN - 1] = '\0';
	return true;
}
