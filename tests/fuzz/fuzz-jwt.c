/*
 * fuzz-jwt.c - libFuzzer target for access tokens and key sets
 * (shared/jwt.c), as a daemon sees them in an Authorization header and
 * in the JWKS it fetches from userd.
 *
 * The first input byte picks what the rest is:
 *   0  a token, verified against a key set holding one fixed key;
 *   1  a payload (claims JSON), signed with that key under a good
 *      header, then verified: random tokens never pass the signature,
 *      so this is how the claims reading behind it is reached;
 *   2  a header and a payload, cut where the next two bytes say, signed
 *      and verified the same way;
 *   3  a JWKS document.
 * Bit 4 of the first byte asks jwt_verify for typ "access".
 *
 * Checks beyond memory safety: a verified token's claims are what the
 * header promises (sub set, not expired, the typ asked for), signing
 * them again gives a token that verifies to the same claims; a key set
 * read from a JWKS prints as a JWKS that reads back to the same keys.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "crypto.h"
#include "err.h"
#include "jwt.h"

#include "fuzz.h"

#define FUZZ_NOW 1700000000		/* the clock of every verify */
#define FUZZ_KID "fuzz-key"

static struct jwt_key key;		/* fixed, so seeds can be signed */
static struct jwt_keyset keyset = { &key, 1 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char seed[crypto_sign_SEEDBYTES];

	(void)argc;
	(void)argv;
	if (crypto_init() < 0)
		abort();
	memset(seed, 'k', sizeof(seed));
	crypto_sign_seed_keypair(key.pk, key.sk, seed);
	key.has_sk = 1;
	snprintf(key.kid, sizeof(key.kid), "%s", FUZZ_KID);
	return 0;
}

/* A verified token's claims: sane, and the same after signing again. */
static void check_claims(const struct jwt_claims *c, const char *want_typ)
{
	struct jwt_claims again;
	char *tok = NULL;

	FUZZ_CHECK(c->sub[0]);
	FUZZ_CHECK(c->exp > FUZZ_NOW);
	FUZZ_CHECK(!want_typ || strcmp(c->typ, want_typ) == 0);
	/* cJSON prints numbers with 15 digits: past that, a round trip
	 * cannot be exact (no real date is that far) */
	if (c->iat > 999999999999999 || c->iat < -999999999999999 ||
	    c->exp > 999999999999999)
		return;
	FUZZ_CHECK(jwt_sign(&key, c, &tok) == 0);
	FUZZ_CHECK(jwt_verify(tok, &keyset, FUZZ_NOW, want_typ, &again) == 0);
	FUZZ_CHECK(memcmp(c, &again, sizeof(again)) == 0);
	free(tok);
}

static void verify(const char *tok, const char *want_typ)
{
	struct jwt_claims c;
	int rc;

	rc = jwt_verify(tok, &keyset, FUZZ_NOW, want_typ, &c);
	FUZZ_CHECK(rc == 0 || rc == CHAT_EPARSE || rc == CHAT_ECRYPTO ||
		   rc == CHAT_ENOTFOUND || rc == CHAT_EEXPIRED ||
		   rc == CHAT_EAUTH);
	if (rc == 0)
		check_claims(&c, want_typ);
}

/* header.payload.signature of two JSON texts, signed with the key. */
static char *sign_parts(const uint8_t *h, size_t hn, const uint8_t *p,
			size_t pn)
{
	unsigned char sig[crypto_sign_BYTES];
	size_t hl = B64URL_ENCODED_SIZE(hn), pl = B64URL_ENCODED_SIZE(pn);
	size_t sl = B64URL_ENCODED_SIZE(sizeof(sig)), n;
	char *tok = malloc(hl + pl + sl + 2);

	if (!tok)
		abort();
	FUZZ_CHECK(b64url_encode(h, hn, tok, hl) == 0);
	n = strlen(tok);
	tok[n++] = '.';
	FUZZ_CHECK(b64url_encode(p, pn, tok + n, pl) == 0);
	n += strlen(tok + n);
	crypto_sign_detached(sig, NULL, (const unsigned char *)tok, n,
			     key.sk);
	tok[n++] = '.';
	FUZZ_CHECK(b64url_encode(sig, sizeof(sig), tok + n, sl) == 0);
	return tok;
}

static void jwks(const uint8_t *p, size_t n)
{
	struct jwt_keyset ks = { NULL, 0 }, back = { NULL, 0 };
	char *text;
	size_t i;
	int rc;

	rc = jwt_keyset_from_jwks(&ks, (const char *)p, n);
	FUZZ_CHECK(rc == 0 || rc == CHAT_EPARSE || rc == CHAT_ENOMEM);
	if (rc != 0) {
		FUZZ_CHECK(ks.n == 0 && !ks.keys);
		return;
	}
	for (i = 0; i < ks.n; i++)
		FUZZ_CHECK(ks.keys[i].kid[0] && !ks.keys[i].has_sk);
	text = jwt_keyset_to_jwks(&ks);
	FUZZ_CHECK(text);
	FUZZ_CHECK(jwt_keyset_from_jwks(&back, text, strlen(text)) == 0);
	FUZZ_CHECK(back.n == ks.n);
	for (i = 0; i < ks.n; i++) {
		FUZZ_CHECK(strcmp(back.keys[i].kid, ks.keys[i].kid) == 0);
		FUZZ_CHECK(memcmp(back.keys[i].pk, ks.keys[i].pk,
				  sizeof(ks.keys[i].pk)) == 0);
	}
	free(text);
	jwt_keyset_release(&back);
	jwt_keyset_release(&ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hdr[] =
		"{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"" FUZZ_KID "\"}";
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_byte(&in);
	const char *want_typ = (mode & 0x10) ? "access" : NULL;
	char *tok;
	size_t cut;

	switch (mode & 0x03) {
	case 0:
		tok = fuzz_strndup(in.p, in.n);
		verify(tok, want_typ);
		free(tok);
		break;
	case 1:
		tok = sign_parts((const uint8_t *)hdr, strlen(hdr), in.p,
				 in.n);
		verify(tok, want_typ);
		free(tok);
		break;
	case 2:
		cut = fuzz_u16(&in);
		cut = in.n ? cut % (in.n + 1) : 0;
		tok = sign_parts(in.p, cut, in.p + cut, in.n - cut);
		verify(tok, want_typ);
		free(tok);
		break;
	case 3:
		jwks(in.p, in.n);
		break;
	}
	return 0;
}
