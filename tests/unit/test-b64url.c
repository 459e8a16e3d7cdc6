/* test-b64url.c - base64url: RFC 4648 vectors and strict decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "b64url.h"
#include "err.h"

/* RFC 4648 section 10, without padding; plus bytes that need - and _. */
static const struct {
	const char *raw;
	size_t len;
	const char *enc;
} b64url_vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff", 2, "-_8" },
	{ "\xff\xff\xfe", 3, "___-" },
	{ "\x00\x00\x00", 3, "AAAA" },
	{ "\x03\xe0\x3f", 3, "A-A_" },
};

#define NVEC (sizeof(b64url_vectors) / sizeof(b64url_vectors[0]))

static void test_b64url__rfc4648_vectors(void **state)
{
	char enc[32];
	unsigned char dec[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < NVEC; i++) {
		assert_int_equal(b64url_encode(b64url_vectors[i].raw,
					       b64url_vectors[i].len, enc,
					       sizeof(enc)), 0);
		assert_string_equal(enc, b64url_vectors[i].enc);
		assert_int_equal(strlen(enc) + 1,
				 B64URL_ENCODED_SIZE(b64url_vectors[i].len));
		assert_int_equal(b64url_decode(enc, strlen(enc), dec,
					       sizeof(dec), &n), 0);
		assert_int_equal(n, b64url_vectors[i].len);
		assert_memory_equal(dec, b64url_vectors[i].raw, n);
	}
}

static void test_b64url__round_trip_all_lengths(void **state)
{
	unsigned char raw[100], dec[100];
	char enc[B64URL_ENCODED_SIZE(100)];
	size_t len, i, n;

	(void)state;
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof(raw); len++) {
		assert_int_equal(b64url_encode(raw, len, enc,
					       B64URL_ENCODED_SIZE(len)), 0);
		assert_int_equal(b64url_decode(enc, strlen(enc), dec, len, &n),
				 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, raw, len);
	}
}

static const struct {
	const char *name;
	const char *in;
	int rc;
} b64url_bad[] = {
	{ "padding", "Zg==", CHAT_EPARSE },
	{ "single padding", "Zm8=", CHAT_EPARSE },
	{ "plus (standard alphabet)", "+_8", CHAT_EPARSE },
	{ "slash (standard alphabet)", "-/8", CHAT_EPARSE },
	{ "space", "Zm9v Yg", CHAT_EPARSE },
	{ "newline", "Zm9v\nYg", CHAT_EPARSE },
	{ "dot", "Zm9v.", CHAT_EPARSE },
	{ "non-ascii", "Zm9v\xc3\xa9", CHAT_EPARSE },
	{ "one char left over", "Zm9vY", CHAT_EPARSE },
	{ "single char", "Z", CHAT_EPARSE },
	{ "non-canonical 2 chars (Zh)", "Zh", CHAT_EPARSE },
	{ "non-canonical 3 chars (Zm9)", "Zm9", CHAT_EPARSE },
};

static void test_b64url__strict_decode(void **state)
{
	unsigned char out[32];
	size_t i, n = 99;

	(void)state;
	for (i = 0; i < sizeof(b64url_bad) / sizeof(b64url_bad[0]); i++) {
		int rc = b64url_decode(b64url_bad[i].in,
				       strlen(b64url_bad[i].in), out,
				       sizeof(out), &n);

		if (rc != b64url_bad[i].rc)
			fail_msg("case '%s': rc %d", b64url_bad[i].name, rc);
	}
	/* An embedded NUL within the given length is not base64url. */
	assert_int_equal(b64url_decode("Zm\0v", 4, out, sizeof(out), &n),
			 CHAT_EPARSE);
}

static void test_b64url__sizes(void **state)
{
	char enc[8];
	unsigned char out[4];
	size_t n;

	(void)state;
	/* "foobar" needs 8 chars + NUL. */
	assert_int_equal(b64url_encode("foobar", 6, enc, 8), CHAT_ETOOBIG);
	assert_int_equal(b64url_encode("fooba", 5, enc, 8), 0);
	assert_string_equal(enc, "Zm9vYmE");
	assert_int_equal(b64url_decode("Zm9vYmE", 7, out, 4, &n),
			 CHAT_ETOOBIG);
	assert_int_equal(b64url_decode("Zm9vYg", 6, out, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "foob", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url__rfc4648_vectors),
		cmocka_unit_test(test_b64url__round_trip_all_lengths),
		cmocka_unit_test(test_b64url__strict_decode),
		cmocka_unit_test(test_b64url__sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
