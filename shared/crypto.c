/*
 * crypto.c - password hashing, random tokens, digests and constant-time
 * comparison on libsodium (see crypto.h).
 */
#include "crypto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "b64url.h"
#include "err.h"
#include "banned.h"

/* Largest random token crypto_random_token makes (bytes before encoding). */
#define CRYPTO_TOKEN_MAX 1024

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_init_rc;

/* argon2id cost; set once at start-up, read by the worker threads. */
static _Atomic unsigned long long pwhash_ops =
	crypto_pwhash_OPSLIMIT_INTERACTIVE;
static _Atomic size_t pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

static void crypto_init_once(void)
{
	/* sodium_init returns 1 when already initialised: still success. */
	crypto_init_rc = sodium_init() < 0 ? CHAT_ECRYPTO : 0;
}

int crypto_init(void)
{
	pthread_once(&crypto_once, crypto_init_once);
	return crypto_init_rc;
}

void pwhash_set_limits(unsigned long long opslimit, size_t memlimit_bytes)
{
	/* libsodium refuses values under its minimums: clamp rather than
	 * fail every later hash. */
	if (opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN)
		opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
	if (memlimit_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN)
		memlimit_bytes = crypto_pwhash_argon2id_MEMLIMIT_MIN;
	atomic_store(&pwhash_ops, opslimit);
	atomic_store(&pwhash_mem, memlimit_bytes);
}

int pwhash_hash(const char *password, size_t len, char out[PWHASH_STR_LEN])
{
	int rc = crypto_init();

	if (rc < 0)
		return rc;
	if (!password && len)
		return CHAT_EINVAL;
	if (crypto_pwhash_str_alg(out, password ? password : "", len,
				  atomic_load(&pwhash_ops),
				  atomic_load(&pwhash_mem),
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return CHAT_ENOMEM;	/* the only runtime failure */
	return 0;
}

int pwhash_verify(const char *hash, const char *password, size_t len)
{
	int rc = crypto_init();

	if (rc < 0)
		return rc;
	if (!hash || (!password && len))
		return CHAT_EAUTH;
	/* A malformed hash string fails like a wrong password. */
	if (crypto_pwhash_str_verify(hash, password ? password : "", len) != 0)
		return CHAT_EAUTH;
	return 0;
}

int crypto_random_token(const char *prefix, size_t nbytes, char *out,
			size_t outlen)
{
	unsigned char raw[CRYPTO_TOKEN_MAX];
	size_t plen;
	int rc;

	rc = crypto_init();
	if (rc < 0)
		return rc;
	if (!prefix)
		prefix = "";
	if (nbytes == 0 || nbytes > CRYPTO_TOKEN_MAX)
		return CHAT_EINVAL;
	plen = strlen(prefix);
	if (outlen < plen || outlen - plen < B64URL_ENCODED_SIZE(nbytes))
		return CHAT_ETOOBIG;
	randombytes_buf(raw, nbytes);
	memcpy(out, prefix, plen);
	rc = b64url_encode(raw, nbytes, out + plen, outlen - plen);
	sodium_memzero(raw, nbytes);
	return rc;
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data ? data : (const void *)"", data ? len : 0);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void crypto_digest_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), data ? data : (const void *)"",
			   data ? len : 0, NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	return sodium_memcmp(a, b, n) == 0;
}

bool crypto_str_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return false;
	return crypto_equal(a, b, la);
}
