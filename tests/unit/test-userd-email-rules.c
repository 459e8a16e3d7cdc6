/*
 * test-userd-email-rules.c - what userd takes as an e-mail address
 * (length, one '@', labels, no spaces or controls, valid UTF-8), its
 * case-blind key, and the mailed one-time codes: the alphabet and length
 * of a new code, codes that differ, what a person's typing normalises to
 * (case, spaces, dashes) and what it refuses, and the stored SHA-256.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../daemons/userd/userd.h"
#include "crypto.h"
#include "err.h"

struct email_case {
	const char *s;
	bool valid;
};

static const struct email_case email_cases[] = {
	{ "alice@example.com", true },
	{ "A.Lice+tag@Sub.Example.ORG", true },
	{ "é@exämple.com", true },
	{ "a@b", true },
	{ "", false },
	{ "alice", false },
	{ "@example.com", false },
	{ "alice@", false },
	{ "alice@@example.com", false },
	{ "al@ice@example.com", false },
	{ "alice @example.com", false },
	{ "alice@exa mple.com", false },
	{ "alice@example.com\n", false },
	{ "ali\tce@example.com", false },
	{ "alice\x7f@example.com", false },
	{ "alice@.example.com", false },
	{ "alice@example..com", false },
	{ "alice@example.com.", false },
	{ "al\xff" "ice@example.com", false },	/* broken UTF-8 */
	{ "al\xc3" "@example.com", false },	/* cut sequence */
};

static void test_email_rules__addresses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(email_cases) / sizeof(email_cases[0]);
	     i++) {
		if (email_valid(email_cases[i].s) != email_cases[i].valid)
			fail_msg("'%s': expected %s", email_cases[i].s,
				 email_cases[i].valid ? "valid" : "invalid");
	}
}

static void test_email_rules__lengths(void **state)
{
	char s[EMAIL_MAX + 8];

	(void)state;
	/* a 64-byte local part is the most */
	memset(s, 'a', 64);
	memcpy(s + 64, "@example.com", 13);
	assert_true(email_valid(s));
	memset(s, 'a', 65);
	memcpy(s + 65, "@example.com", 13);
	assert_false(email_valid(s));
	/* EMAIL_MAX bytes in all is the most */
	memset(s, 'b', EMAIL_MAX);
	memcpy(s, "x@", 2);
	s[EMAIL_MAX] = '\0';
	assert_true(email_valid(s));
	s[EMAIL_MAX] = 'b';
	s[EMAIL_MAX + 1] = '\0';
	assert_false(email_valid(s));
}

static void test_email_rules__key_is_case_blind(void **state)
{
	char a[EMAIL_MAX + 1], b[EMAIL_MAX + 1];

	(void)state;
	email_key("Alice@Example.COM", a);
	email_key("alice@example.com", b);
	assert_string_equal(a, "alice@example.com");
	assert_string_equal(a, b);
	/* bytes beyond ASCII are kept as they are */
	email_key("\xc3\x89@x.org", a);
	assert_string_equal(a, "\xc3\x89@x.org");
}

static void test_email_rules__new_codes(void **state)
{
	char a[CODE_LEN + 1], b[CODE_LEN + 1];

	(void)state;
	assert_int_equal(crypto_init(), 0);
	code_new(a);
	code_new(b);
	assert_int_equal(strlen(a), CODE_LEN);
	assert_int_equal(strspn(a, CODE_ALPHABET), CODE_LEN);
	assert_string_not_equal(a, b);
	/* 12 symbols of 30: at least 58 bits */
	assert_int_equal(sizeof(CODE_ALPHABET) - 1, 30);
	for (const char *p = "01ILOU"; *p; p++)
		assert_null(strchr(CODE_ALPHABET, *p));
}

struct code_case {
	const char *typed;
	const char *norm;		/* NULL: refused */
};

static const struct code_case code_cases[] = {
	{ "ABCD2345WXYZ", "ABCD2345WXYZ" },
	{ "abcd2345wxyz", "ABCD2345WXYZ" },
	{ "ABCD-2345-WXYZ", "ABCD2345WXYZ" },
	{ " abcd 2345 wxyz ", "ABCD2345WXYZ" },
	{ "ABCD2345WXY", NULL },		/* short */
	{ "ABCD2345WXYZA", NULL },		/* long */
	{ "ABCD2345WXY0", NULL },		/* not in the alphabet */
	{ "ABCD2345WXYI", NULL },
	{ "ABCD2345WXY\xc3\xa9", NULL },
	{ "", NULL },
};

static void test_email_rules__normalize(void **state)
{
	char out[CODE_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(code_cases) / sizeof(code_cases[0]);
	     i++) {
		int rc = code_normalize(code_cases[i].typed, out);

		if (!code_cases[i].norm) {
			assert_int_equal(rc, CHAT_EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, code_cases[i].norm);
	}
}

static void test_email_rules__hash(void **state)
{
	char h[65], again[65];

	(void)state;
	assert_int_equal(crypto_init(), 0);
	code_hash("ABCD2345WXYZ", h);
	code_hash("ABCD2345WXYZ", again);
	assert_int_equal(strlen(h), 64);
	assert_string_equal(h, again);
	/* never the code itself; SHA-256 of its text */
	assert_null(strstr(h, "ABCD"));
	crypto_sha256_hex("ABCD2345WXYZ", 12, again);
	assert_string_equal(h, again);
	code_hash("ABCD2345WXY2", again);
	assert_string_not_equal(h, again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_email_rules__addresses),
		cmocka_unit_test(test_email_rules__lengths),
		cmocka_unit_test(test_email_rules__key_is_case_blind),
		cmocka_unit_test(test_email_rules__new_codes),
		cmocka_unit_test(test_email_rules__normalize),
		cmocka_unit_test(test_email_rules__hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
