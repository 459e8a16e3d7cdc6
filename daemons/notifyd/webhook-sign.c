/*
 * webhook-sign.c - the secrets of webhook endpoints and the signature of
 * a delivery, by the Standard Webhooks specification: a secret is
 * "whsec_" + base64 of its key bytes; the signature of message id at
 * unix second ts over body is "v1," + base64 of HMAC-SHA256 with the
 * decoded key over "id.ts.body", the exact bytes sent.
 *
 * Secrets must be kept where they can sign (HMAC needs the key itself,
 * unlike a password), so the store holds them sealed: XSalsa20-Poly1305
 * (libsodium's secretbox) with a key derived from the stack's internal
 * secret, which lives in the data directory, not in the store: a copy
 * of the database alone (a PostgreSQL dump) does not give the secrets
 * away.  Pure apart from the random bytes: any thread.
 */
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "err.h"
#include "banned.h"

#define WH_PREFIX "whsec_"
#define WH_SEAL_PREFIX "s1:"
/* what the data key is derived for: another use of the internal secret
 * never gets the same key */
#define WH_SEAL_CONTEXT "chat notifyd webhook secrets v1"

int wh_secret_new(char out[WH_SECRET_MAX])
{
	uint8_t key[WH_KEY_BYTES];
	size_t pl = strlen(WH_PREFIX);

	randombytes_buf(key, sizeof(key));
	memcpy(out, WH_PREFIX, pl);
	sodium_bin2base64(out + pl, WH_SECRET_MAX - pl, key, sizeof(key),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	return 0;
}

int wh_secret_key(const char *secret, uint8_t key[WH_KEY_MAX], size_t *len)
{
	size_t pl = strlen(WH_PREFIX);
	const char *end = NULL;

	*len = 0;
	if (!secret || strncmp(secret, WH_PREFIX, pl) != 0)
		return CHAT_EINVAL;
	secret += pl;
	if (sodium_base642bin(key, WH_KEY_MAX, secret, strlen(secret), NULL,
			      len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *end || *len < 24 || *len > WH_KEY_MAX)
		return CHAT_EINVAL;
	return 0;
}

int wh_sign(const uint8_t *key, size_t keylen, const char *msg_id,
	    int64_t ts, const char *body, size_t bodylen,
	    char out[WH_SIG_MAX])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	char tsbuf[24];
	int n;

	n = snprintf(tsbuf, sizeof(tsbuf), ".%lld.", (long long)ts);
	if (n < 0 || (size_t)n >= sizeof(tsbuf) || !msg_id)
		return CHAT_EINVAL;
	if (crypto_auth_hmacsha256_init(&st, key, keylen) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg_id,
					  strlen(msg_id)) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const uint8_t *)tsbuf,
					  (size_t)n) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const uint8_t *)body,
					  bodylen) != 0 ||
	    crypto_auth_hmacsha256_final(&st, mac) != 0)
		return CHAT_ECRYPTO;
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, WH_SIG_MAX - 3, mac, sizeof(mac),
			  sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

static void wh_data_key(const char *internal_secret,
			uint8_t key[crypto_secretbox_KEYBYTES])
{
	crypto_generichash(key, crypto_secretbox_KEYBYTES,
			   (const uint8_t *)WH_SEAL_CONTEXT,
			   strlen(WH_SEAL_CONTEXT),
			   (const uint8_t *)internal_secret,
			   strlen(internal_secret));
}

int wh_seal(const char *internal_secret, const char *secret, char **out)
{
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
		    WH_SECRET_MAX];
	size_t mlen = strlen(secret), blen, pl = strlen(WH_SEAL_PREFIX), olen;
	char *o = NULL;
	int rc = 0;

	*out = NULL;
	if (mlen >= WH_SECRET_MAX)
		return CHAT_EINVAL;
	blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + mlen;
	olen = pl + sodium_base64_ENCODED_LEN(blen,
					      sodium_base64_VARIANT_ORIGINAL);
	o = malloc(olen);
	if (!o)
		return CHAT_ENOMEM;
	wh_data_key(internal_secret, key);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	if (crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES,
				  (const uint8_t *)secret, mlen, box,
				  key) != 0) {
		rc = CHAT_ECRYPTO;
		goto out;
	}
	memcpy(o, WH_SEAL_PREFIX, pl);
	sodium_bin2base64(o + pl, olen - pl, box, blen,
			  sodium_base64_VARIANT_ORIGINAL);
	*out = o;
	o = NULL;
out:
	sodium_memzero(key, sizeof(key));
	free(o);
	return rc;
}

int wh_open(const char *internal_secret, const char *sealed,
	    char out[WH_SECRET_MAX])
{
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
		    WH_SECRET_MAX];
	size_t pl = strlen(WH_SEAL_PREFIX), blen = 0, mlen;
	const char *end = NULL;
	int rc = 0;

	if (!sealed || strncmp(sealed, WH_SEAL_PREFIX, pl) != 0 ||
	    sodium_base642bin(box, sizeof(box), sealed + pl,
			      strlen(sealed + pl), NULL, &blen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || *end ||
	    blen <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
		return CHAT_ECRYPTO;
	mlen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	if (mlen >= WH_SECRET_MAX)
		return CHAT_ECRYPTO;
	wh_data_key(internal_secret, key);
	if (crypto_secretbox_open_easy((uint8_t *)out,
				       box + crypto_secretbox_NONCEBYTES,
				       blen - crypto_secretbox_NONCEBYTES,
				       box, key) != 0)
		rc = CHAT_ECRYPTO;
	else
		out[mlen] = '\0';
	sodium_memzero(key, sizeof(key));
	return rc;
}
