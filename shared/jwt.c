/*
 * jwt.c - compact JWS access tokens signed with Ed25519 (see jwt.h).
 *
 * Verification order matters: the token's shape and header are checked
 * and alg is pinned to "EdDSA" before any key is looked up, so "none",
 * "HS256" (the classic "public key as HMAC secret" confusion) and anything
 * else fail without touching a key.  Only then the kid picks the key, the
 * signature is checked over "header.payload", and only a token with a
 * valid signature has its claims read.
 *
 * The kid of a key is the first 16 bytes of SHA-256 of its public key,
 * base64url (22 characters).
 */
#include "jwt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "crypto.h"
#include "err.h"
#include "json.h"
#include "banned.h"

#define JWT_MAX_LEN 8192	/* longest token accepted */
#define JWT_KID_BYTES 16

/* base64url of the SHA-256 prefix of pk into kid. */
static void jwt_kid_of(const unsigned char *pk, char kid[JWT_KID_LEN])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, crypto_sign_PUBLICKEYBYTES);
	b64url_encode(h, JWT_KID_BYTES, kid, JWT_KID_LEN);
}

int jwt_key_generate(struct jwt_key *out)
{
	int rc = crypto_init();

	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	if (crypto_sign_keypair(out->pk, out->sk) != 0)
		return CHAT_ECRYPTO;
	out->has_sk = 1;
	jwt_kid_of(out->pk, out->kid);
	return 0;
}

/* base64url of the JSON text of item; caller frees; NULL on ENOMEM. */
static char *jwt_encode_json(const cJSON *item)
{
	char *text = json_print(item), *enc;
	size_t n;

	if (!text)
		return NULL;
	n = strlen(text);
	enc = malloc(B64URL_ENCODED_SIZE(n));
	if (enc)
		b64url_encode(text, n, enc, B64URL_ENCODED_SIZE(n));
	free(text);
	return enc;
}

/* Adds a string claim unless it is empty. */
static int jwt_add_str(cJSON *obj, const char *name, const char *value)
{
	if (!value[0])
		return 0;
	return cJSON_AddStringToObject(obj, name, value) ? 0 : CHAT_ENOMEM;
}

int jwt_sign(const struct jwt_key *key, const struct jwt_claims *claims,
	     char **token)
{
	unsigned char sig[crypto_sign_BYTES];
	char *h64 = NULL, *p64 = NULL, *tok = NULL;
	cJSON *hdr = NULL, *pl = NULL;
	size_t hlen, plen, slen;
	int rc = 0;

	*token = NULL;
	if (!key || !key->has_sk || !claims || !claims->sub[0])
		return CHAT_EINVAL;
	rc = crypto_init();
	if (rc < 0)
		return rc;
	hdr = cJSON_CreateObject();
	pl = cJSON_CreateObject();
	if (!hdr || !pl ||
	    !cJSON_AddStringToObject(hdr, "alg", "EdDSA") ||
	    !cJSON_AddStringToObject(hdr, "typ", "JWT") ||
	    !cJSON_AddStringToObject(hdr, "kid", key->kid) ||
	    !cJSON_AddStringToObject(pl, "sub", claims->sub) ||
	    jwt_add_str(pl, "sid", claims->sid) < 0 ||
	    jwt_add_str(pl, "role", claims->role) < 0 ||
	    jwt_add_str(pl, "typ", claims->typ) < 0 ||
	    jwt_add_str(pl, "jti", claims->jti) < 0 ||
	    !cJSON_AddNumberToObject(pl, "iat", (double)claims->iat) ||
	    !cJSON_AddNumberToObject(pl, "exp", (double)claims->exp)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	h64 = jwt_encode_json(hdr);
	p64 = jwt_encode_json(pl);
	if (!h64 || !p64) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	hlen = strlen(h64);
	plen = strlen(p64);
	slen = B64URL_ENCODED_SIZE(sizeof(sig));
	tok = malloc(hlen + 1 + plen + 1 + slen);
	if (!tok) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	memcpy(tok, h64, hlen);
	tok[hlen] = '.';
	memcpy(tok + hlen + 1, p64, plen);
	crypto_sign_detached(sig, NULL, (const unsigned char *)tok,
			     hlen + 1 + plen, key->sk);
	tok[hlen + 1 + plen] = '.';
	b64url_encode(sig, sizeof(sig), tok + hlen + 1 + plen + 1, slen);
	*token = tok;
	tok = NULL;
out:
	cJSON_Delete(hdr);
	cJSON_Delete(pl);
	free(h64);
	free(p64);
	free(tok);
	return rc;
}

/* Decodes one base64url part that must be a JSON object. */
static int jwt_decode_json(const char *part, size_t len, cJSON **out)
{
	unsigned char raw[JWT_MAX_LEN];
	size_t n;
	int rc;

	*out = NULL;
	rc = b64url_decode(part, len, raw, sizeof(raw), &n);
	if (rc < 0)
		return CHAT_EPARSE;
	rc = json_parse_object((const char *)raw, n, out, NULL, 0);
	return rc < 0 ? CHAT_EPARSE : 0;
}

/* Copies string claim name into dst; missing is fine unless required. */
static int jwt_get_str(const cJSON *pl, const char *name, bool required,
		       char *dst, size_t dstlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(pl, name);
	size_t n;

	dst[0] = '\0';
	if (!it)
		return required ? CHAT_EPARSE : 0;
	if (!cJSON_IsString(it) || !it->valuestring)
		return CHAT_EPARSE;
	n = strlen(it->valuestring);
	if (n >= dstlen || (required && n == 0))
		return CHAT_EPARSE;
	memcpy(dst, it->valuestring, n + 1);
	return 0;
}

/* An integral NumericDate claim (required). */
static int jwt_get_time(const cJSON *pl, const char *name, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(pl, name);
	double d;

	if (!cJSON_IsNumber(it))
		return CHAT_EPARSE;
	d = it->valuedouble;
	/* Within +-2^53: exact as a double and far beyond any real date. */
	if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
		return CHAT_EPARSE;
	*out = (int64_t)d;
	return 0;
}

int jwt_verify(const char *token, const struct jwt_keyset *ks, int64_t now,
	       const char *want_typ, struct jwt_claims *out)
{
	unsigned char sig[crypto_sign_BYTES + 3];
	const char *dot1, *dot2, *payload, *sigpart;
	const struct jwt_key *key = NULL;
	const cJSON *alg, *kid;
	cJSON *hdr = NULL, *pl = NULL;
	struct jwt_claims c;
	size_t len, i, siglen;
	int rc = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!token)
		return CHAT_EPARSE;
	len = strnlen(token, JWT_MAX_LEN + 1);
	if (len > JWT_MAX_LEN)
		return CHAT_EPARSE;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))
		    : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len -
				     (size_t)(dot2 + 1 - token)))
		return CHAT_EPARSE;	/* not exactly three parts */
	payload = dot1 + 1;
	sigpart = dot2 + 1;
	/* An empty signature ("alg":"none") fails on alg first, below. */
	if (dot1 == token || dot2 == payload)
		return CHAT_EPARSE;

	/* Header: alg pinned before anything else. */
	rc = jwt_decode_json(token, (size_t)(dot1 - token), &hdr);
	if (rc < 0)
		goto out;
	alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "EdDSA") != 0) {
		rc = CHAT_ECRYPTO;
		goto out;
	}
	kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
	if (!cJSON_IsString(kid) || !kid->valuestring[0]) {
		rc = CHAT_EPARSE;
		goto out;
	}
	for (i = 0; ks && i < ks->n; i++) {
		if (strcmp(ks->keys[i].kid, kid->valuestring) == 0) {
			key = &ks->keys[i];
			break;
		}
	}
	if (!key) {
		rc = CHAT_ENOTFOUND;
		goto out;
	}

	/* Signature over the first two parts, exactly as sent. */
	rc = b64url_decode(sigpart, len - (size_t)(sigpart - token), sig,
			   sizeof(sig), &siglen);
	if (rc < 0 || siglen != crypto_sign_BYTES) {
		rc = CHAT_EPARSE;
		goto out;
	}
	if (crypto_sign_verify_detached(sig, (const unsigned char *)token,
					(size_t)(dot2 - token), key->pk) != 0) {
		rc = CHAT_ECRYPTO;
		goto out;
	}

	/* Claims of a token that is authentic. */
	rc = jwt_decode_json(payload, (size_t)(dot2 - payload), &pl);
	if (rc < 0)
		goto out;
	memset(&c, 0, sizeof(c));
	rc = jwt_get_str(pl, "sub", true, c.sub, sizeof(c.sub));
	if (rc == 0)
		rc = jwt_get_str(pl, "sid", false, c.sid, sizeof(c.sid));
	if (rc == 0)
		rc = jwt_get_str(pl, "role", false, c.role, sizeof(c.role));
	if (rc == 0)
		rc = jwt_get_str(pl, "typ", false, c.typ, sizeof(c.typ));
	if (rc == 0)
		rc = jwt_get_str(pl, "jti", false, c.jti, sizeof(c.jti));
	if (rc == 0)
		rc = jwt_get_time(pl, "iat", &c.iat);
	if (rc == 0)
		rc = jwt_get_time(pl, "exp", &c.exp);
	if (rc < 0)
		goto out;
	/* RFC 7519 4.1.4: expired "on or after" exp; no leeway. */
	if (now >= c.exp) {
		rc = CHAT_EEXPIRED;
		goto out;
	}
	if (want_typ && strcmp(c.typ, want_typ) != 0) {
		rc = CHAT_EAUTH;
		goto out;
	}
	if (out)
		*out = c;
out:
	cJSON_Delete(hdr);
	cJSON_Delete(pl);
	return rc;
}

char *jwt_keyset_to_jwks(const struct jwt_keyset *ks)
{
	char x[B64URL_ENCODED_SIZE(crypto_sign_PUBLICKEYBYTES)];
	cJSON *root, *keys, *k;
	char *text = NULL;
	size_t i;

	root = cJSON_CreateObject();
	keys = root ? cJSON_AddArrayToObject(root, "keys") : NULL;
	if (!keys)
		goto out;
	for (i = 0; ks && i < ks->n; i++) {
		b64url_encode(ks->keys[i].pk, crypto_sign_PUBLICKEYBYTES, x,
			      sizeof(x));
		k = cJSON_CreateObject();
		if (!k)
			goto out;
		cJSON_AddItemToArray(keys, k);
		if (!cJSON_AddStringToObject(k, "kty", "OKP") ||
		    !cJSON_AddStringToObject(k, "crv", "Ed25519") ||
		    !cJSON_AddStringToObject(k, "x", x) ||
		    !cJSON_AddStringToObject(k, "kid", ks->keys[i].kid) ||
		    !cJSON_AddStringToObject(k, "alg", "EdDSA") ||
		    !cJSON_AddStringToObject(k, "use", "sig"))
			goto out;
	}
	text = json_print(root);
out:
	cJSON_Delete(root);
	return text;
}

/* Value of an optional string member, NULL if absent or not a string. */
static const char *jwt_member(const cJSON *obj, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/*
 * Replaces the contents of ks (zero-initialised or from an earlier call)
 * with the Ed25519 signature keys of the JWKS; on failure ks is unchanged.
 * Keys of other types, curves, algorithms or uses are skipped; a key of
 * ours that is malformed is an error.
 */
int jwt_keyset_from_jwks(struct jwt_keyset *ks, const char *json, size_t len)
{
	struct jwt_keyset next = { NULL, 0 };
	const cJSON *keys, *k;
	cJSON *root = NULL;
	int rc;

	rc = json_parse_object(json, len, &root, NULL, 0);
	if (rc < 0)
		return rc == CHAT_ENOMEM ? rc : CHAT_EPARSE;
	keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
	if (!cJSON_IsArray(keys)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	cJSON_ArrayForEach(k, keys) {
		struct jwt_key key;
		const char *kty = jwt_member(k, "kty");
		const char *crv = jwt_member(k, "crv");
		const char *alg = jwt_member(k, "alg");
		const char *use = jwt_member(k, "use");
		const char *x = jwt_member(k, "x");
		const char *kid = jwt_member(k, "kid");
		size_t n;

		if (!cJSON_IsObject(k) || !kty || strcmp(kty, "OKP") != 0 ||
		    !crv || strcmp(crv, "Ed25519") != 0 ||
		    (alg && strcmp(alg, "EdDSA") != 0) ||
		    (use && strcmp(use, "sig") != 0))
			continue;
		memset(&key, 0, sizeof(key));
		if (!x || b64url_decode(x, strlen(x), key.pk, sizeof(key.pk),
					&n) < 0 || n != sizeof(key.pk)) {
			rc = CHAT_EPARSE;
			goto out;
		}
		if (kid) {
			n = strlen(kid);
			if (n == 0 || n >= sizeof(key.kid)) {
				rc = CHAT_EPARSE;
				goto out;
			}
			memcpy(key.kid, kid, n + 1);
		} else {
			jwt_kid_of(key.pk, key.kid);
		}
		rc = jwt_keyset_add(&next, &key);
		sodium_memzero(&key, sizeof(key));
		if (rc == CHAT_EEXIST)
			rc = 0;	/* a repeated kid: the first one wins */
		if (rc < 0)
			goto out;
	}
	jwt_keyset_release(ks);
	*ks = next;
	next.keys = NULL;
	next.n = 0;
out:
	jwt_keyset_release(&next);
	cJSON_Delete(root);
	return rc;
}

/* Adds a copy of key; CHAT_EEXIST when its kid is in ks already. */
int jwt_keyset_add(struct jwt_keyset *ks, const struct jwt_key *key)
{
	struct jwt_key *p;
	size_t i, n;

	if (!ks || !key || !key->kid[0])
		return CHAT_EINVAL;
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, key->kid) == 0)
			return CHAT_EEXIST;
	/* Not realloc: the old array may hold secret keys to wipe. */
	p = malloc((ks->n + 1) * sizeof(*p));
	if (!p)
		return CHAT_ENOMEM;
	n = ks->n;
	if (n)
		memcpy(p, ks->keys, n * sizeof(*p));
	p[n] = *key;
	jwt_keyset_release(ks);
	ks->keys = p;
	ks->n = n + 1;
	return 0;
}

void jwt_keyset_release(struct jwt_keyset *ks)
{
	if (!ks)
		return;
	if (ks->keys)
		sodium_memzero(ks->keys, ks->n * sizeof(*ks->keys));
	free(ks->keys);
	ks->keys = NULL;
	ks->n = 0;
}
