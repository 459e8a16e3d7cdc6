/* test-crypto.c - argon2id, random tokens, SHA-256, constant-time compare. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "b64url.h"
#include "crypto.h"
#include "err.h"

static int crypto_setup(void **state)
{
	(void)state;
	if (crypto_init() != 0 || crypto_init() != 0)
		return -1;
	/* Cheap cost: the tests check behaviour, not strength. */
	pwhash_set_limits(1, 8 * 1024 * 1024);
	return 0;
}

static void test_crypto__pwhash(void **state)
{
	static const struct {
		const char *name;
		const char *password;
		size_t len;
	} cases[] = {
		{ "ascii", "correct horse battery staple", 28 },
		{ "utf-8", "p\xC3\xA4ssw\xC3\xB6rd", 10 },
		{ "empty", "", 0 },
		{ "embedded NUL", "abc\0def", 7 },
	};
	char hash[PWHASH_STR_LEN], hash2[PWHASH_STR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *pw = cases[i].password;
		size_t len = cases[i].len;

		assert_int_equal(pwhash_hash(pw, len, hash), 0);
		if (strncmp(hash, "$argon2id$", 10) != 0)
			fail_msg("case '%s': hash '%s'", cases[i].name, hash);
		assert_int_equal(pwhash_verify(hash, pw, len), 0);
		/* Salted: the same password never hashes the same. */
		assert_int_equal(pwhash_hash(pw, len, hash2), 0);
		assert_string_not_equal(hash, hash2);
		assert_int_equal(pwhash_verify(hash2, pw, len), 0);
		/* Wrong passwords: one byte more, less, or changed. */
		assert_int_equal(pwhash_verify(hash, "x", 1), CHAT_EAUTH);
		if (len) {
			char other[64];

			memcpy(other, pw, len);
			other[len - 1] ^= 1;
			assert_int_equal(pwhash_verify(hash, other, len),
					 CHAT_EAUTH);
			assert_int_equal(pwhash_verify(hash, pw, len - 1),
					 CHAT_EAUTH);
		}
	}
	assert_int_equal(pwhash_verify("$argon2id$garbage", "x", 1),
			 CHAT_EAUTH);
	assert_int_equal(pwhash_verify("", "x", 1), CHAT_EAUTH);
	assert_int_equal(pwhash_verify(NULL, "x", 1), CHAT_EAUTH);
}

static void test_crypto__random_token(void **state)
{
	static const struct {
		const char *prefix;
		size_t nbytes;
		size_t want_len;
	} cases[] = {
		{ "", 32, 43 },
		{ "chat_", 32, 48 },
		{ "", 16, 22 },
		{ "x", 1, 3 },
	};
	char a[128], b[128];
	unsigned char raw[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t plen = strlen(cases[i].prefix);

		assert_int_equal(crypto_random_token(cases[i].prefix,
						     cases[i].nbytes, a,
						     sizeof(a)), 0);
		assert_int_equal(crypto_random_token(cases[i].prefix,
						     cases[i].nbytes, b,
						     sizeof(b)), 0);
		assert_int_equal(strlen(a), cases[i].want_len);
		assert_memory_equal(a, cases[i].prefix, plen);
		assert_int_equal(b64url_decode(a + plen, strlen(a + plen), raw,
					       sizeof(raw), &n), 0);
		assert_int_equal(n, cases[i].nbytes);
		if (cases[i].nbytes >= 16)
			assert_string_not_equal(a, b);
	}
	/* Exactly enough room, and one byte short. */
	assert_int_equal(crypto_random_token("chat_", 32, a, 49), 0);
	assert_int_equal(crypto_random_token("chat_", 32, a, 48),
			 CHAT_ETOOBIG);
	assert_int_equal(crypto_random_token("", 0, a, sizeof(a)),
			 CHAT_EINVAL);
}

static void test_crypto__sha256_hex(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb924"
		      "27ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223"
			 "b00361a396177a9cb410ff61f20015ad" },
	};
	char out[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		crypto_sha256_hex(cases[i].in, strlen(cases[i].in), out);
		assert_string_equal(out, cases[i].hex);
	}
}

/* BLAKE2b with a 32-byte digest, no key (RFC 7693 test vectors' shape;
 * values from Python's hashlib.blake2b(digest_size=32)). */
static void test_crypto__digest_hex(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} cases[] = {
		{ "", "0e5751c026e543b2e8ab2eb06099daa1"
		      "d1e5df47778f7787faab45cdf12fe3a8" },
		{ "abc", "bddd813c634239723171ef3fee98579b"
			 "94964e3bb1cb3e427262c8c068d52319" },
	};
	char out[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		crypto_digest_hex(cases[i].in, strlen(cases[i].in), out);
		assert_string_equal(out, cases[i].hex);
	}
}

static void test_crypto__equal(void **state)
{
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
		{ "", "", true },
		{ "secret", "secret", true },
		{ "secret", "secreT", false },
		{ "secret", "secret2", false },
		{ "secret2", "secret", false },
		{ "", "x", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (crypto_str_equal(cases[i].a, cases[i].b) != cases[i].equal)
			fail_msg("'%s' vs '%s'", cases[i].a, cases[i].b);
	assert_false(crypto_str_equal(NULL, ""));
	assert_false(crypto_str_equal("", NULL));
	assert_true(crypto_equal("ab\0c", "ab\0c", 4));
	assert_false(crypto_equal("ab\0c", "ab\0d", 4));
	assert_true(crypto_equal("x", "y", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto__pwhash),
		cmocka_unit_test(test_crypto__random_token),
		cmocka_unit_test(test_crypto__sha256_hex),
		cmocka_unit_test(test_crypto__digest_hex),
		cmocka_unit_test(test_crypto__equal),
	};

	return cmocka_run_group_tests(tests, crypto_setup, NULL);
}
