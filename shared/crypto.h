/*
 * crypto.h - password hashing (argon2id), random tokens, digests and
 * constant-time comparison, all on libsodium.  Call crypto_init() once
 * before anything else (it is idempotent and thread-safe).
 */
#ifndef CHAT_CRYPTO_H
#define CHAT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sodium.h>

#define PWHASH_STR_LEN crypto_pwhash_STRBYTES

int crypto_init(void);

/* argon2id cost; defaults are libsodium's INTERACTIVE limits.  Tests lower
 * them through config (auth.argon2_ops, auth.argon2_mem_kib). */
void pwhash_set_limits(unsigned long long opslimit, size_t memlimit_bytes);
/* Hashes password into out (a NUL-terminated $argon2id$ string). */
int pwhash_hash(const char *password, size_t len, char out[PWHASH_STR_LEN]);
/* 0 when password matches; CHAT_EAUTH when not; never short-circuits
 * on the password's content. */
int pwhash_verify(const char *hash, const char *password, size_t len);

/* nbytes random bytes encoded base64url into out (NUL-terminated), with
 * prefix (may be "") in front: "chat_" + 43 chars for 32 bytes. */
int crypto_random_token(const char *prefix, size_t nbytes, char *out,
			size_t outlen);
/* Lowercase hex SHA-256 of data: 64 chars and a NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);
/* Lowercase hex BLAKE2b-256 of data: the same shape as
 * crypto_sha256_hex at under half the cost, for keys of in-memory
 * caches; whatever is stored or compared with another program's hash
 * stays SHA-256. */
void crypto_digest_hex(const void *data, size_t len, char out[65]);
/* Constant-time equality of two byte strings of length n. */
bool crypto_equal(const void *a, const void *b, size_t n);
/* Constant-time equality of two NUL-terminated strings (the length may
 * leak, the content does not). */
bool crypto_str_equal(const char *a, const char *b);

#endif
