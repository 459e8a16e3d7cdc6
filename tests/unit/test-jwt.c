/* test-jwt.c - Ed25519 JWTs: signing, every way verification must fail,
 * JWKS round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "crypto.h"
#include "err.h"
#include "jwt.h"

#define NOW 1795494661

static struct jwt_key key1, key2;
static struct jwt_keyset ks1;		/* key1 only */

static int jwt_setup(void **state)
{
	(void)state;
	if (crypto_init() != 0 || jwt_key_generate(&key1) != 0 ||
	    jwt_key_generate(&key2) != 0)
		return -1;
	return jwt_keyset_add(&ks1, &key1);
}

static int jwt_teardown(void **state)
{
	(void)state;
	jwt_keyset_release(&ks1);
	return 0;
}

static void jwt_claims_fill(struct jwt_claims *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "0190a5d2-ac96-774b-bcce-b302099a8057");
	snprintf(c->sid, sizeof(c->sid), "0190a5d2-ac96-774b-bcce-b302099a8058");
	snprintf(c->role, sizeof(c->role), "user");
	snprintf(c->typ, sizeof(c->typ), "access");
	snprintf(c->jti, sizeof(c->jti), "jti-1");
	c->iat = NOW;
	c->exp = NOW + 900;
}

/* A token from raw header and payload JSON, signed by key (or with the
 * literal signature sig when key is NULL). */
static char *jwt_forge(const char *hdr, const char *payload,
		       const struct jwt_key *key, const char *sig)
{
	size_t hl = strlen(hdr), pl = strlen(payload);
	size_t cap = B64URL_ENCODED_SIZE(hl) + B64URL_ENCODED_SIZE(pl) +
		     B64URL_ENCODED_SIZE(crypto_sign_BYTES) +
		     (sig ? strlen(sig) : 0) + 4;
	char *t = malloc(cap);
	size_t n;

	assert_non_null(t);
	assert_int_equal(b64url_encode(hdr, hl, t, cap), 0);
	n = strlen(t);
	t[n++] = '.';
	assert_int_equal(b64url_encode(payload, pl, t + n, cap - n), 0);
	n += strlen(t + n);
	if (key) {
		unsigned char s[crypto_sign_BYTES];

		crypto_sign_detached(s, NULL, (unsigned char *)t, n, key->sk);
		t[n++] = '.';
		assert_int_equal(b64url_encode(s, sizeof(s), t + n, cap - n),
				 0);
	} else {
		snprintf(t + n, cap - n, ".%s", sig);
	}
	return t;
}

static char *jwt_hdr(const char *alg, const char *kid)
{
	static char h[256];

	snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		 alg, kid);
	return h;
}

static void test_jwt__valid(void **state)
{
	struct jwt_claims c, got;
	char *tok;

	(void)state;
	jwt_claims_fill(&c);
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", &got), 0);
	assert_string_equal(got.sub, c.sub);
	assert_string_equal(got.sid, c.sid);
	assert_string_equal(got.role, "user");
	assert_string_equal(got.typ, "access");
	assert_string_equal(got.jti, "jti-1");
	assert_int_equal(got.iat, NOW);
	assert_int_equal(got.exp, NOW + 900);
	/* want_typ NULL skips the check; out may be NULL. */
	assert_int_equal(jwt_verify(tok, &ks1, NOW, NULL, NULL), 0);
	/* The last second before exp is fine. */
	assert_int_equal(jwt_verify(tok, &ks1, NOW + 899, "access", &got), 0);
	free(tok);

	/* Empty optional claims are left out and come back empty. */
	c.sid[0] = '\0';
	c.jti[0] = '\0';
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", &got), 0);
	assert_string_equal(got.sid, "");
	free(tok);

	/* A key without its secret half cannot sign. */
	{
		struct jwt_key pub = key1;

		pub.has_sk = 0;
		assert_int_equal(jwt_sign(&pub, &c, &tok), CHAT_EINVAL);
		assert_null(tok);
	}
}

static void test_jwt__kid(void **state)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char want[JWT_KID_LEN];

	(void)state;
	crypto_hash_sha256(h, key1.pk, sizeof(key1.pk));
	assert_int_equal(b64url_encode(h, 16, want, sizeof(want)), 0);
	assert_string_equal(key1.kid, want);
	assert_int_equal(strlen(key1.kid), 22);
	assert_string_not_equal(key1.kid, key2.kid);
	assert_int_equal(jwt_keyset_add(&ks1, &key1), CHAT_EEXIST);
}

static void test_jwt__expired(void **state)
{
	struct jwt_claims c, got;
	char *tok;

	(void)state;
	jwt_claims_fill(&c);
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	assert_int_equal(jwt_verify(tok, &ks1, NOW + 900, "access", &got),
			 CHAT_EEXPIRED);
	assert_int_equal(jwt_verify(tok, &ks1, NOW + 100000, "access", &got),
			 CHAT_EEXPIRED);
	free(tok);
}

static void test_jwt__wrong_key(void **state)
{
	struct jwt_keyset ks2 = { NULL, 0 }, impostor = { NULL, 0 };
	struct jwt_key fake;
	struct jwt_claims c;
	char *tok;

	(void)state;
	jwt_claims_fill(&c);
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	/* Unknown kid: the caller may refetch the key set. */
	assert_int_equal(jwt_keyset_add(&ks2, &key2), 0);
	assert_int_equal(jwt_verify(tok, &ks2, NOW, "access", NULL),
			 CHAT_ENOTFOUND);
	assert_int_equal(jwt_verify(tok, NULL, NOW, "access", NULL),
			 CHAT_ENOTFOUND);
	/* Same kid, another key. */
	fake = key2;
	memcpy(fake.kid, key1.kid, sizeof(fake.kid));
	assert_int_equal(jwt_keyset_add(&impostor, &fake), 0);
	assert_int_equal(jwt_verify(tok, &impostor, NOW, "access", NULL),
			 CHAT_ECRYPTO);
	free(tok);
	/* Signed by key2 but claiming key1's kid. */
	tok = jwt_forge(jwt_hdr("EdDSA", key1.kid),
			"{\"sub\":\"u\",\"typ\":\"access\",\"iat\":1,"
			"\"exp\":9999999999}", &key2, NULL);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", NULL),
			 CHAT_ECRYPTO);
	free(tok);
	jwt_keyset_release(&ks2);
	jwt_keyset_release(&impostor);
}

static const char jwt_payload[] =
	"{\"sub\":\"u1\",\"sid\":\"s1\",\"role\":\"admin\",\"typ\":\"access\","
	"\"iat\":1795494661,\"exp\":1795495561,\"jti\":\"j\"}";

static void test_jwt__alg_pinned(void **state)
{
	static const char *const algs[] = {
		"none", "None", "HS256", "RS256", "ES256", "eddsa", "Ed25519",
		"EdDSA ", "",
	};
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char sig[B64URL_ENCODED_SIZE(sizeof(mac))], *tok;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		/* Unsigned, as an attacker would send "none". */
		tok = jwt_forge(jwt_hdr(algs[i], key1.kid), jwt_payload, NULL,
				"");
		if (jwt_verify(tok, &ks1, NOW, "access", NULL) != CHAT_ECRYPTO)
			fail_msg("alg '%s' unsigned accepted", algs[i]);
		free(tok);
		/* Signed with the right key, still the wrong alg. */
		tok = jwt_forge(jwt_hdr(algs[i], key1.kid), jwt_payload, &key1,
				NULL);
		if (jwt_verify(tok, &ks1, NOW, "access", NULL) != CHAT_ECRYPTO)
			fail_msg("alg '%s' signed accepted", algs[i]);
		free(tok);
	}
	/* HS256 keyed with the public key (the classic confusion). */
	{
		char *unsigned_tok = jwt_forge(jwt_hdr("HS256", key1.kid),
					       jwt_payload, NULL, "");
		size_t n = strlen(unsigned_tok) - 1;	/* drop the '.' */
		crypto_auth_hmacsha256_state st;

		crypto_auth_hmacsha256_init(&st, key1.pk, sizeof(key1.pk));
		crypto_auth_hmacsha256_update(&st,
					      (unsigned char *)unsigned_tok, n);
		crypto_auth_hmacsha256_final(&st, mac);
		b64url_encode(mac, sizeof(mac), sig, sizeof(sig));
		unsigned_tok[n] = '\0';
		tok = malloc(n + sizeof(sig) + 2);
		snprintf(tok, n + sizeof(sig) + 2, "%s.%s", unsigned_tok, sig);
		assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", NULL),
				 CHAT_ECRYPTO);
		free(tok);
		free(unsigned_tok);
	}
	/* No alg at all, or not a string. */
	tok = jwt_forge("{\"typ\":\"JWT\",\"kid\":\"x\"}", jwt_payload, NULL,
			"");
	assert_int_equal(jwt_verify(tok, &ks1, NOW, NULL, NULL), CHAT_ECRYPTO);
	free(tok);
	tok = jwt_forge("{\"alg\":[\"EdDSA\"],\"kid\":\"x\"}", jwt_payload,
			NULL, "");
	assert_int_equal(jwt_verify(tok, &ks1, NOW, NULL, NULL), CHAT_ECRYPTO);
	free(tok);
	/* Right alg and signature, but no kid. */
	tok = jwt_forge("{\"alg\":\"EdDSA\"}", jwt_payload, &key1, NULL);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, NULL, NULL), CHAT_EPARSE);
	free(tok);
	/* The same token with the right header passes: the cases above
	 * failed for their header alone. */
	tok = jwt_forge(jwt_hdr("EdDSA", key1.kid), jwt_payload, &key1, NULL);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", NULL), 0);
	free(tok);
}

static void test_jwt__tampered(void **state)
{
	struct jwt_claims c, got;
	char *tok, *evil, *dot1, *dot2;
	char payload[B64URL_ENCODED_SIZE(sizeof(jwt_payload))];
	size_t n;

	(void)state;
	jwt_claims_fill(&c);
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	dot1 = strchr(tok, '.');
	dot2 = strchr(dot1 + 1, '.');

	/* Another payload (role admin) with the original signature. */
	b64url_encode(jwt_payload, strlen(jwt_payload), payload,
		      sizeof(payload));
	n = strlen(tok) + strlen(payload) + 1;
	evil = malloc(n);
	snprintf(evil, n, "%.*s.%s%s", (int)(dot1 - tok), tok, payload, dot2);
	assert_int_equal(jwt_verify(evil, &ks1, NOW, "access", &got),
			 CHAT_ECRYPTO);
	free(evil);

	/* One character of the payload changed (stays valid base64url). */
	evil = strdup(tok);
	n = (size_t)(dot1 - tok) + 5;
	evil[n] = evil[n] == 'A' ? 'B' : 'A';
	assert_int_equal(jwt_verify(evil, &ks1, NOW, "access", &got),
			 CHAT_ECRYPTO);
	free(evil);

	/* One character in the middle of the signature changed. */
	evil = strdup(tok);
	n = (size_t)(dot2 - tok) + 20;
	evil[n] = evil[n] == 'A' ? 'B' : 'A';
	assert_int_equal(jwt_verify(evil, &ks1, NOW, "access", &got),
			 CHAT_ECRYPTO);
	free(evil);

	/* Signature cut short or extended. */
	evil = strdup(tok);
	evil[strlen(evil) - 4] = '\0';
	assert_int_equal(jwt_verify(evil, &ks1, NOW, "access", &got),
			 CHAT_EPARSE);
	free(evil);
	n = strlen(tok) + 5;
	evil = malloc(n);
	snprintf(evil, n, "%sAAAA", tok);
	assert_int_equal(jwt_verify(evil, &ks1, NOW, "access", &got),
			 CHAT_EPARSE);
	free(evil);
	/* On failure out is cleared, never half-filled. */
	assert_string_equal(got.sub, "");
	free(tok);
}

static void test_jwt__wrong_typ(void **state)
{
	struct jwt_claims c;
	char *tok;

	(void)state;
	jwt_claims_fill(&c);
	snprintf(c.typ, sizeof(c.typ), "refresh");
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", NULL),
			 CHAT_EAUTH);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "refresh", NULL), 0);
	free(tok);
	c.typ[0] = '\0';
	assert_int_equal(jwt_sign(&key1, &c, &tok), 0);
	assert_int_equal(jwt_verify(tok, &ks1, NOW, "access", NULL),
			 CHAT_EAUTH);
	free(tok);
}

static void test_jwt__claims_required(void **state)
{
	static const struct {
		const char *name;
		const char *payload;
		int rc;
	} cases[] = {
		{ "no exp", "{\"sub\":\"u\",\"iat\":1}", CHAT_EPARSE },
		{ "no iat", "{\"sub\":\"u\",\"exp\":9999999999}", CHAT_EPARSE },
		{ "no sub", "{\"iat\":1,\"exp\":9999999999}", CHAT_EPARSE },
		{ "empty sub", "{\"sub\":\"\",\"iat\":1,\"exp\":9999999999}",
		  CHAT_EPARSE },
		{ "exp string", "{\"sub\":\"u\",\"iat\":1,\"exp\":\"9999999999\"}",
		  CHAT_EPARSE },
		{ "exp fraction", "{\"sub\":\"u\",\"iat\":1,\"exp\":9999999999.5}",
		  CHAT_EPARSE },
		{ "sub too long", "{\"sub\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaa\",\"iat\":1,\"exp\":9999999999}",
		  CHAT_EPARSE },
		{ "role not string", "{\"sub\":\"u\",\"role\":1,\"iat\":1,"
		  "\"exp\":9999999999}", CHAT_EPARSE },
		{ "payload array", "[1]", CHAT_EPARSE },
		{ "payload not JSON", "sub=u", CHAT_EPARSE },
		{ "minimal ok", "{\"sub\":\"u\",\"iat\":1,\"exp\":9999999999}", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tok = jwt_forge(jwt_hdr("EdDSA", key1.kid),
				      cases[i].payload, &key1, NULL);
		int rc = jwt_verify(tok, &ks1, NOW, NULL, NULL);

		if (rc != cases[i].rc)
			fail_msg("case '%s': rc %d", cases[i].name, rc);
		free(tok);
	}
}

static void test_jwt__garbage(void **state)
{
	static const char *const cases[] = {
		"", ".", "..", "...", "abc", "a.b", "a.b.c.d", ".b.c", "a..c",
		"eyJhbGciOiJFZERTQSJ9", "eyJhbGciOiJFZERTQSJ9.e30",
		"eyJhbGciOiJFZERTQSJ9.e30.e30.e30",
		"eyJhbGciOiJFZERTQSJ9=.e30.AAAA",	/* padding */
		"eyJhbGciOiJFZERTQSJ9.e3 0.AAAA",	/* space */
		"W10.e30.AAAA",				/* header [] */
		"bnVsbA.e30.AAAA",			/* header null */
		"e30.e30.AAAA",				/* header {} */
		"\xff\xfe.\x01.\x02",
	};
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = jwt_verify(cases[i], &ks1, NOW, "access", NULL);

		if (rc != CHAT_EPARSE && rc != CHAT_ECRYPTO)
			fail_msg("'%s': rc %d", cases[i], rc);
	}
	assert_int_equal(jwt_verify(NULL, &ks1, NOW, NULL, NULL), CHAT_EPARSE);
	assert_int_equal(jwt_verify("a.b", &ks1, NOW, NULL, NULL), CHAT_EPARSE);

	/* Longer than 8 KiB. */
	big = malloc(20000);
	memset(big, 'A', 19999);
	big[19999] = '\0';
	big[100] = '.';
	big[200] = '.';
	assert_int_equal(jwt_verify(big, &ks1, NOW, NULL, NULL), CHAT_EPARSE);
	free(big);
}

static void test_jwt__jwks_round_trip(void **state)
{
	struct jwt_keyset both = { NULL, 0 }, pub = { NULL, 0 };
	struct jwt_claims c, got;
	char *jwks, *again, *tok;
	size_t i;

	(void)state;
	assert_int_equal(jwt_keyset_add(&both, &key1), 0);
	assert_int_equal(jwt_keyset_add(&both, &key2), 0);
	jwks = jwt_keyset_to_jwks(&both);
	assert_non_null(jwks);
	assert_null(strstr(jwks, "\"d\""));	/* no private part */
	assert_non_null(strstr(jwks, "\"kty\":\"OKP\""));
	assert_non_null(strstr(jwks, "\"crv\":\"Ed25519\""));
	assert_non_null(strstr(jwks, "\"alg\":\"EdDSA\""));
	assert_non_null(strstr(jwks, "\"use\":\"sig\""));
	assert_non_null(strstr(jwks, key1.kid));

	assert_int_equal(jwt_keyset_from_jwks(&pub, jwks, strlen(jwks)), 0);
	assert_int_equal(pub.n, 2);
	for (i = 0; i < pub.n; i++) {
		const struct jwt_key *want = i ? &key2 : &key1;

		assert_string_equal(pub.keys[i].kid, want->kid);
		assert_memory_equal(pub.keys[i].pk, want->pk, sizeof(want->pk));
		assert_int_equal(pub.keys[i].has_sk, 0);
	}
	again = jwt_keyset_to_jwks(&pub);
	assert_string_equal(again, jwks);
	free(again);

	/* Tokens of both keys verify against the parsed set. */
	jwt_claims_fill(&c);
	assert_int_equal(jwt_sign(&key2, &c, &tok), 0);
	assert_int_equal(jwt_verify(tok, &pub, NOW, "access", &got), 0);
	free(tok);

	/* Loading again replaces the set. */
	{
		static const char one[] =
			"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\"},"
			"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"},"
			"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"enc\","
			"\"x\":\"AAAA\"}]}";

		assert_int_equal(jwt_keyset_from_jwks(&pub, one, strlen(one)),
				 0);
		assert_int_equal(pub.n, 0);
	}
	free(jwks);
	jwt_keyset_release(&both);
	jwt_keyset_release(&pub);
}

static void test_jwt__jwks_bad(void **state)
{
	static const char *const cases[] = {
		"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[",
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"a=\"}]}",
	};
	struct jwt_keyset ks = { NULL, 0 };
	size_t i;

	(void)state;
	assert_int_equal(jwt_keyset_add(&ks, &key1), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = jwt_keyset_from_jwks(&ks, cases[i], strlen(cases[i]));

		if (rc != CHAT_EPARSE)
			fail_msg("'%s': rc %d", cases[i], rc);
		/* A failed load leaves the old set in place. */
		assert_int_equal(ks.n, 1);
		assert_string_equal(ks.keys[0].kid, key1.kid);
	}
	jwt_keyset_release(&ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwt__valid),
		cmocka_unit_test(test_jwt__kid),
		cmocka_unit_test(test_jwt__expired),
		cmocka_unit_test(test_jwt__wrong_key),
		cmocka_unit_test(test_jwt__alg_pinned),
		cmocka_unit_test(test_jwt__tampered),
		cmocka_unit_test(test_jwt__wrong_typ),
		cmocka_unit_test(test_jwt__claims_required),
		cmocka_unit_test(test_jwt__garbage),
		cmocka_unit_test(test_jwt__jwks_round_trip),
		cmocka_unit_test(test_jwt__jwks_bad),
	};

	return cmocka_run_group_tests(tests, jwt_setup, jwt_teardown);
}
