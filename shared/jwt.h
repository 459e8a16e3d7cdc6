/*
 * jwt.h - access tokens: compact JWS signed with Ed25519 (libsodium).
 *
 * The header algorithm is pinned to "EdDSA": a token with any other alg
 * ("none", "HS256", ...) is rejected before any key is looked at.  The kid
 * selects the verifying key.  Claims: sub (user id), sid (session id),
 * role, typ ("access"), iat, exp, jti, iss.
 */
#ifndef CHAT_JWT_H
#define CHAT_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define JWT_KID_LEN 24	/* kid string incl. NUL: 22 b64url chars max */

struct jwt_key {
	char kid[JWT_KID_LEN];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int has_sk;			/* sk is present (signing key) */
};

struct jwt_keyset {
	struct jwt_key *keys;		/* owned array */
	size_t n;
};

struct jwt_claims {
	char sub[64];			/* user id */
	char sid[64];			/* session id ("" for none) */
	char role[16];			/* "admin", "user", "guest" */
	char typ[16];			/* "access" */
	char jti[64];
	int64_t iat;			/* unix seconds */
	int64_t exp;			/* unix seconds */
};

/* A new random signing key; kid is derived from the public key. */
int jwt_key_generate(struct jwt_key *out);

/* Signs claims with key (must have sk).  *token is the caller's (free). */
int jwt_sign(const struct jwt_key *key, const struct jwt_claims *claims,
	     char **token);

/* Verifies token against ks at time now (unix seconds).  Errors:
 * CHAT_EPARSE malformed, CHAT_ECRYPTO wrong alg / unknown kid / bad
 * signature, CHAT_EEXPIRED expired, CHAT_EAUTH wrong typ (want_typ, when
 * not NULL).  An unknown kid gives CHAT_ENOTFOUND so a caller can refetch
 * the key set. */
int jwt_verify(const char *token, const struct jwt_keyset *ks, int64_t now,
	       const char *want_typ, struct jwt_claims *out);

/* JWKS JSON ({"keys":[{"kty":"OKP","crv":"Ed25519","x":..,"kid":..,
 * "alg":"EdDSA","use":"sig"}]}); caller frees the string. */
char *jwt_keyset_to_jwks(const struct jwt_keyset *ks);
/* Parses JWKS text into ks (public keys only); skips keys of other types. */
int jwt_keyset_from_jwks(struct jwt_keyset *ks, const char *json, size_t len);
int jwt_keyset_add(struct jwt_keyset *ks, const struct jwt_key *key);
void jwt_keyset_release(struct jwt_keyset *ks);

#endif
