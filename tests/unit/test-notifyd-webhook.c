/* test-notifyd-webhook.c - the pure parts of notifyd's webhooks: the
 * v1 signature against the Standard Webhooks test vector (the one the
 * Svix and standard-webhooks libraries test with), secrets and their
 * sealing, the class of addresses (IPv4, IPv6 and the IPv6 forms that
 * carry an IPv4 address) and the allowlist, the retry schedule and its
 * jitter, URLs and event type patterns. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>

#include "crypto.h"
#include "err.h"
#include "../../daemons/notifyd/webhook.h"
#include "banned.h"

static void test_notifyd_webhook__signature_vector(void **state)
{
	const char *body = "{\"test\": 2432232314}";
	uint8_t key[WH_KEY_MAX];
	char sig[WH_SIG_MAX];
	size_t kl = 0;

	(void)state;
	assert_int_equal(wh_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				       key, &kl), 0);
	assert_int_equal(kl, 24);
	assert_int_equal(wh_sign(key, kl, "msg_p5jXN8AQM9LWM0D4loKWxJek",
				 1614265330, body, strlen(body), sig), 0);
	assert_string_equal(sig,
			    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* one byte of the body more is another signature */
	assert_int_equal(wh_sign(key, kl, "msg_p5jXN8AQM9LWM0D4loKWxJek",
				 1614265330, body, strlen(body) - 1, sig), 0);
	assert_string_not_equal(sig,
			    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_notifyd_webhook__secrets(void **state)
{
	static const char *const bad[] = {
		"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"whsec_MfKQ9r8GKYqr",			/* 12 bytes */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",
		"whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	};
	char a[WH_SECRET_MAX], b[WH_SECRET_MAX], back[WH_SECRET_MAX];
	char *sealed = NULL;
	uint8_t key[WH_KEY_MAX];
	size_t kl, i;

	(void)state;
	assert_int_equal(crypto_init(), 0);
	assert_int_equal(wh_secret_new(a), 0);
	assert_int_equal(wh_secret_new(b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, "whsec_", 6), 0);
	assert_int_equal(wh_secret_key(a, key, &kl), 0);
	assert_int_equal(kl, WH_KEY_BYTES);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wh_secret_key(bad[i], key, &kl), CHAT_EINVAL);
	/* sealed: no trace of the secret, back with the key, not without */
	assert_int_equal(wh_seal("internal-one", a, &sealed), 0);
	assert_int_equal(strncmp(sealed, "s1:", 3), 0);
	assert_null(strstr(sealed, a + 6));
	assert_int_equal(wh_open("internal-one", sealed, back), 0);
	assert_string_equal(back, a);
	assert_int_equal(wh_open("internal-two", sealed, back), CHAT_ECRYPTO);
	sealed[10] ^= 1;
	assert_int_equal(wh_open("internal-one", sealed, back), CHAT_ECRYPTO);
	free(sealed);
	assert_int_equal(wh_open("internal-one", "whsec_plain", back),
			 CHAT_ECRYPTO);
}

static const struct {
	const char *addr;
	enum wh_addr_class cls;
} addr_cases[] = {
	{ "8.8.8.8", WH_ADDR_PUBLIC },
	{ "93.184.216.34", WH_ADDR_PUBLIC },
	{ "127.0.0.1", WH_ADDR_LOOPBACK },
	{ "127.255.255.254", WH_ADDR_LOOPBACK },
	{ "10.1.2.3", WH_ADDR_PRIVATE },
	{ "172.16.0.1", WH_ADDR_PRIVATE },
	{ "172.31.255.255", WH_ADDR_PRIVATE },
	{ "172.32.0.1", WH_ADDR_PUBLIC },
	{ "192.168.1.1", WH_ADDR_PRIVATE },
	{ "169.254.169.254", WH_ADDR_METADATA },
	{ "169.254.1.1", WH_ADDR_LINK_LOCAL },
	{ "100.64.0.1", WH_ADDR_CGNAT },
	{ "100.127.255.255", WH_ADDR_CGNAT },
	{ "100.128.0.1", WH_ADDR_PUBLIC },
	{ "0.0.0.0", WH_ADDR_UNSPECIFIED },
	{ "224.0.0.1", WH_ADDR_MULTICAST },
	{ "255.255.255.255", WH_ADDR_RESERVED },
	{ "::1", WH_ADDR_LOOPBACK },
	{ "::", WH_ADDR_UNSPECIFIED },
	{ "fd00:ec2::254", WH_ADDR_METADATA },
	{ "fd12:3456::1", WH_ADDR_PRIVATE },
	{ "fc00::1", WH_ADDR_PRIVATE },
	{ "fe80::1", WH_ADDR_LINK_LOCAL },
	{ "ff02::1", WH_ADDR_MULTICAST },
	{ "2606:4700::1111", WH_ADDR_PUBLIC },
	{ "::ffff:127.0.0.1", WH_ADDR_LOOPBACK },
	{ "::ffff:169.254.169.254", WH_ADDR_METADATA },
	{ "::ffff:10.0.0.1", WH_ADDR_PRIVATE },
	{ "::ffff:8.8.8.8", WH_ADDR_PUBLIC },
	{ "::127.0.0.1", WH_ADDR_LOOPBACK },
	{ "64:ff9b::a9fe:a9fe", WH_ADDR_METADATA },
	{ "2002:7f00:1::1", WH_ADDR_LOOPBACK },
	{ "2002:808:808::1", WH_ADDR_PUBLIC },
};

static void test_notifyd_webhook__address_classes(void **state)
{
	uint8_t a[16];
	size_t i;
	int family;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		family = strchr(addr_cases[i].addr, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(family, addr_cases[i].addr, a), 1);
		if (wh_addr_class_of(family, a) != addr_cases[i].cls)
			fail_msg("%s: class %s, not %s", addr_cases[i].addr,
				 wh_addr_class_name(wh_addr_class_of(family, a)),
				 wh_addr_class_name(addr_cases[i].cls));
	}
}

static void test_notifyd_webhook__allowlist(void **state)
{
	struct wh_cidr allow[WH_ALLOW_MAX];
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	enum wh_addr_class cls;
	char err[160];
	size_t n = 0;

	(void)state;
	assert_int_equal(wh_allow_parse("127.0.0.1/32, 10.0.0.0/8,fd00::/8",
					allow, WH_ALLOW_MAX, &n, err,
					sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(wh_allow_parse("127.0.0.1/33", allow, WH_ALLOW_MAX,
					&n, err, sizeof(err)), CHAT_EINVAL);
	assert_int_equal(wh_allow_parse("localhost", allow, WH_ALLOW_MAX, &n,
					err, sizeof(err)), CHAT_EINVAL);
	assert_int_equal(wh_allow_parse("1.2.3.4,,5.6.7.8", allow,
					WH_ALLOW_MAX, &n, err, sizeof(err)),
			 CHAT_EINVAL);
	assert_int_equal(wh_allow_parse("", allow, WH_ALLOW_MAX, &n, err,
					sizeof(err)), 0);
	assert_int_equal(n, 0);
	/* nothing allowed: loopback refused, public fine */
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	assert_false(wh_addr_allowed(allow, 0, (struct sockaddr *)&s4,
				     sizeof(s4), &cls));
	assert_int_equal(cls, WH_ADDR_LOOPBACK);
	inet_pton(AF_INET, "1.1.1.1", &s4.sin_addr);
	assert_true(wh_addr_allowed(allow, 0, (struct sockaddr *)&s4,
				    sizeof(s4), &cls));
	/* 127.0.0.1/32 allowed: it and its mapped form, not 127.0.0.2 */
	assert_int_equal(wh_allow_parse("127.0.0.1/32", allow, WH_ALLOW_MAX,
					&n, err, sizeof(err)), 0);
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	assert_true(wh_addr_allowed(allow, n, (struct sockaddr *)&s4,
				    sizeof(s4), &cls));
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
	assert_true(wh_addr_allowed(allow, n, (struct sockaddr *)&s6,
				    sizeof(s6), &cls));
	inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
	assert_false(wh_addr_allowed(allow, n, (struct sockaddr *)&s4,
				     sizeof(s4), &cls));
	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	assert_false(wh_addr_allowed(allow, n, (struct sockaddr *)&s6,
				     sizeof(s6), &cls));
	/* a short length is no address */
	assert_false(wh_addr_allowed(allow, n, (struct sockaddr *)&s4, 4,
				     &cls));
}

static void test_notifyd_webhook__retry_schedule(void **state)
{
	static const char *const bad[] = {
		"", "0", "5,,6", "5,", "-1", "5;6", "x", "604801",
		"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
	};
	int64_t ms[WH_RETRY_MAX];
	char err[200];
	size_t n = 0, i;

	(void)state;
	assert_int_equal(wh_schedule_parse("5,300,1800,7200,18000,36000,36000",
					   ms, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 7);
	/* the documented schedule: no jitter, exactly it; then dead */
	assert_int_equal(wh_retry_delay(ms, n, 1, 0), 5000);
	assert_int_equal(wh_retry_delay(ms, n, 2, 0), 300000);
	assert_int_equal(wh_retry_delay(ms, n, 4, 0), 7200000);
	assert_int_equal(wh_retry_delay(ms, n, 7, 0), 36000000);
	assert_int_equal(wh_retry_delay(ms, n, 8, 0), -1);
	assert_int_equal(wh_retry_delay(ms, n, 0, 0), -1);
	/* jitter only adds, at most a fifth */
	assert_int_equal(wh_retry_delay(ms, n, 1, 0.5), 5500);
	assert_true(wh_retry_delay(ms, n, 2, 0.999) < 360000);
	assert_true(wh_retry_delay(ms, n, 2, 0.999) >= 300000);
	assert_int_equal(wh_retry_delay(ms, n, 1, 7.0), 5000);
	assert_int_equal(wh_schedule_parse("1,2,4", ms, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(wh_retry_delay(ms, n, 3, 0), 4000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wh_schedule_parse(bad[i], ms, &n, err, sizeof(err)) !=
		    CHAT_EINVAL)
			fail_msg("schedule '%s' accepted", bad[i]);
}

/* Retry-After: delta-seconds and the three HTTP-date forms, strictly. */
static void test_notifyd_webhook__retry_after(void **state)
{
	/* RFC 9110's example instant, 784111777 s, seen from 10 s before */
	const int64_t now = 784111777000LL - 10000;
	static const struct {
		const char *v;
		int rc;
		int64_t ms;
	} cases[] = {
		{ "120", 0, 120000 },
		{ "0", 0, 0 },
		{ "99999999999999999999999", 0, WH_RETRY_AFTER_CAP_S * 1000 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 0, 10000 },
		{ "Sunday, 06-Nov-94 08:49:37 GMT", 0, 10000 },
		{ "Sun Nov  6 08:49:37 1994", 0, 10000 },
		{ "Sun, 06 Nov 1994 08:49:17 GMT", 0, 0 },	/* past */
		{ "Thu, 01 Jan 2099 00:00:00 GMT", 0,
		  WH_RETRY_AFTER_CAP_S * 1000 },
		{ "Tue, 29 Feb 2000 00:00:00 GMT", 0,		/* leap */
		  WH_RETRY_AFTER_CAP_S * 1000 },
		{ "Mon, 07 Nov 1994 08:49:27 GMT", 0, 86400000 },
		{ "", CHAT_EPARSE, 0 },
		{ " 5", CHAT_EPARSE, 0 },
		{ "5 ", CHAT_EPARSE, 0 },
		{ "-5", CHAT_EPARSE, 0 },
		{ "5.0", CHAT_EPARSE, 0 },
		{ "Sun, 06 Nov 1994 08:49:37 UTC", CHAT_EPARSE, 0 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT ", CHAT_EPARSE, 0 },
		{ "sun, 06 Nov 1994 08:49:37 GMT", CHAT_EPARSE, 0 },
		{ "Sun, 6 Nov 1994 08:49:37 GMT", CHAT_EPARSE, 0 },
		{ "Sun, 31 Feb 1994 08:49:37 GMT", CHAT_EPARSE, 0 },
		{ "Mon, 29 Feb 1900 00:00:00 GMT", CHAT_EPARSE, 0 },
		{ "Sun, 06 Nov 1994 24:00:00 GMT", CHAT_EPARSE, 0 },
		{ "Sun, 06 Nvv 1994 08:49:37 GMT", CHAT_EPARSE, 0 },
		{ "Sun Nov 6 08:49:37 1994", CHAT_EPARSE, 0 },
		{ "Sunday, 06 Nov 1994 08:49:37 GMT", CHAT_EPARSE, 0 },
		{ "Sunday", CHAT_EPARSE, 0 },
		{ "Sun", CHAT_EPARSE, 0 },
	};
	static const int64_t sched[] = { 1000, 4000, 2000 };
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = -7;
		if (wh_retry_after(cases[i].v, now, &ms) != cases[i].rc ||
		    (cases[i].rc == 0 && ms != cases[i].ms))
			fail_msg("case %zu '%s': %lld", i, cases[i].v,
				 (long long)ms);
	}
	/* the later of the two, at most the longest wait (4 s) */
	assert_int_equal(wh_retry_wait(sched, 3, 1000, 3000), 3000);
	assert_int_equal(wh_retry_wait(sched, 3, 1000, 60000), 4000);
	assert_int_equal(wh_retry_wait(sched, 3, 1000, 500), 1000);
	assert_int_equal(wh_retry_wait(sched, 3, 1000, -1), 1000);
	assert_int_equal(wh_retry_wait(sched, 3, 5000, 60000), 5000);
	assert_int_equal(wh_retry_wait(sched, 3, -1, 3000), -1);
}

static void test_notifyd_webhook__urls_and_events(void **state)
{
	static const char *const good[] = {
		"http://example.com/hook", "https://example.com:8443/a?b=c",
		"http://127.0.0.1:9/x", "https://[2001:db8::1]/",
	};
	static const char *const bad[] = {
		"ftp://example.com/", "example.com/hook", "http://",
		"https://user:pw@example.com/", "http://example.com/#frag",
		"javascript:alert(1)", "http://exa mple.com/",
	};
	cJSON *pats = cJSON_Parse("[\"chat.session.*\",\"webhook.test\"]");
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (wh_url_check(good[i], err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", good[i], err);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wh_url_check(bad[i], err, sizeof(err)) != CHAT_EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_true(wh_event_pattern_valid("chat.user.registered"));
	assert_true(wh_event_pattern_valid("chat.user.*"));
	assert_true(wh_event_pattern_valid("*"));
	assert_false(wh_event_pattern_valid("chat.nothing"));
	assert_false(wh_event_pattern_valid("chat.nothing.*"));
	assert_false(wh_event_pattern_valid("chat.user"));
	assert_false(wh_event_pattern_valid(""));
	assert_non_null(pats);
	assert_true(wh_event_match(pats, "chat.session.created"));
	assert_true(wh_event_match(pats, "webhook.test"));
	assert_false(wh_event_match(pats, "chat.sessions.created"));
	assert_false(wh_event_match(pats, "chat.user.registered"));
	cJSON_Delete(pats);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notifyd_webhook__signature_vector),
		cmocka_unit_test(test_notifyd_webhook__secrets),
		cmocka_unit_test(test_notifyd_webhook__address_classes),
		cmocka_unit_test(test_notifyd_webhook__allowlist),
		cmocka_unit_test(test_notifyd_webhook__retry_schedule),
		cmocka_unit_test(test_notifyd_webhook__retry_after),
		cmocka_unit_test(test_notifyd_webhook__urls_and_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
