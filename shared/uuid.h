/*
 * uuid.h - UUIDv7 (RFC 9562): 48-bit unix milliseconds, then random bits.
 * Ids made in one process are strictly increasing, also within one
 * millisecond (a monotonic counter in rand_a).  Thread-safe.
 */
#ifndef CHAT_UUID_H
#define CHAT_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37	/* 36 characters and a NUL */

int uuid_v7(char out[UUID_STR_LEN]);
/* True for the canonical lowercase-or-uppercase 8-4-4-4-12 hex form. */
bool uuid_valid(const char *s);
/* Copies a valid uuid (any case) in lowercase into out, the form ids
 * are stored and compared in; false (out untouched) when s is NULL or
 * not a uuid. */
bool uuid_norm(const char *s, char out[UUID_STR_LEN]);

#endif
