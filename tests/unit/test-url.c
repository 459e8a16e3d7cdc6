/*
 * test-url.c - the one URL grammar (shared/url.c): a table of URLs
 * taken apart or refused, the forms the two clients used to disagree on
 * (a missing port, '?' right after the host, an upper-case scheme)
 * among them, the Host value and the IPv4 address a client connects to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "err.h"
#include "url.h"

/* One accepted URL and what it is made of. */
struct url_ok {
	const char *url;
	enum url_scheme scheme;
	enum url_host_kind kind;
	const char *host;
	unsigned port;
	bool port_given;
	const char *path;
	const char *query;		/* NULL: no '?' */
	const char *fragment;		/* NULL: no '#' */
	const char *authority;		/* the Host header */
};

static const struct url_ok url_oks[] = {
	{ "http://127.0.0.1:8080/v1/x", URL_HTTP, URL_HOST_IPV4,
	  "127.0.0.1", 8080, true, "/v1/x", NULL, NULL, "127.0.0.1:8080" },
	/* a missing port is the scheme's */
	{ "http://127.0.0.1/x", URL_HTTP, URL_HOST_IPV4, "127.0.0.1", 80,
	  false, "/x", NULL, NULL, "127.0.0.1" },
	{ "https://api.example.com", URL_HTTPS, URL_HOST_NAME,
	  "api.example.com", 443, false, "", NULL, NULL, "api.example.com" },
	{ "ws://localhost:9/s", URL_WS, URL_HOST_NAME, "localhost", 9, true,
	  "/s", NULL, NULL, "localhost:9" },
	{ "wss://h", URL_WSS, URL_HOST_NAME, "h", 443, false, "", NULL, NULL,
	  "h" },
	/* the scheme in any case */
	{ "HTTP://LocalHost:81/A", URL_HTTP, URL_HOST_NAME, "LocalHost", 81,
	  true, "/A", NULL, NULL, "LocalHost:81" },
	{ "hTtPs://h/", URL_HTTPS, URL_HOST_NAME, "h", 443, false, "/", NULL,
	  NULL, "h" },
	/* '?' right after the host, with and without a port */
	{ "http://127.0.0.1:80?a=1", URL_HTTP, URL_HOST_IPV4, "127.0.0.1", 80,
	  true, "", "a=1", NULL, "127.0.0.1:80" },
	{ "http://h?", URL_HTTP, URL_HOST_NAME, "h", 80, false, "", "", NULL,
	  "h" },
	{ "http://h/p?q=1&r=/x?y", URL_HTTP, URL_HOST_NAME, "h", 80, false,
	  "/p", "q=1&r=/x?y", NULL, "h" },
	/* the fragment is parsed but is no part of a request */
	{ "http://h/p?q#f", URL_HTTP, URL_HOST_NAME, "h", 80, false, "/p",
	  "q", "f", "h" },
	{ "http://h#f", URL_HTTP, URL_HOST_NAME, "h", 80, false, "", NULL,
	  "f", "h" },
	{ "http://[::1]:8080/x", URL_HTTP, URL_HOST_IPV6, "::1", 8080, true,
	  "/x", NULL, NULL, "[::1]:8080" },
	{ "https://[2001:db8::1]", URL_HTTPS, URL_HOST_IPV6, "2001:db8::1",
	  443, false, "", NULL, NULL, "[2001:db8::1]" },
	{ "http://h:65535", URL_HTTP, URL_HOST_NAME, "h", 65535, true, "",
	  NULL, NULL, "h:65535" },
	{ "http://h:00080/", URL_HTTP, URL_HOST_NAME, "h", 80, true, "/",
	  NULL, NULL, "h:80" },
	/* not a dotted quad: a name for the resolver (libcurl reads 127.1
	 * as 127.0.0.1; the plain clients do not take it) */
	{ "http://127.1:8/", URL_HTTP, URL_HOST_NAME, "127.1", 8, true, "/",
	  NULL, NULL, "127.1:8" },
	{ "http://a-b_c~d.e/%20", URL_HTTP, URL_HOST_NAME, "a-b_c~d.e", 80,
	  false, "/%20", NULL, NULL, "a-b_c~d.e" },
};

/* One refused URL and the sentence that says why. */
static const struct {
	const char *url;
	const char *why;
} url_bads[] = {
	{ "", "no scheme" },
	{ "127.0.0.1:80/x", "no scheme" },
	{ "ftp://h/", "the scheme is not http, https, ws or wss" },
	{ "httpx://h", "the scheme is not http, https, ws or wss" },
	{ "http:/h", "no scheme" },
	{ "://h", "the scheme is not http, https, ws or wss" },
	{ "http://", "no host" },
	{ "http:///x", "no host" },
	{ "http://:80/", "no host" },
	{ "http://?q", "no host" },
	{ "http://user@h/", "user info is not allowed" },
	{ "http://user:pw@h:80/", "user info is not allowed" },
	{ "http://h:/", "an empty port" },
	{ "http://h:0/", "the port is out of range" },
	{ "http://h:65536/", "the port is out of range" },
	{ "http://h:123456/", "the port is out of range" },
	{ "http://h:8x/", "the port is not a number" },
	{ "http://h:-1/", "the port is not a number" },
	{ "http://h:+80/", "the port is not a number" },
	{ "http://h:80:81/", "the port is not a number" },
	{ "http://h p/", "a space, control or non-ASCII byte" },
	{ "http://h/a b", "a space, control or non-ASCII byte" },
	{ "http://h/a\r\nX: y", "a space, control or non-ASCII byte" },
	{ "http://h/\t", "a space, control or non-ASCII byte" },
	{ "http://h/\x7f", "a space, control or non-ASCII byte" },
	{ "http://h/\xc3\xa9", "a space, control or non-ASCII byte" },
	{ "http://h%41/", "a byte a host cannot have" },
	{ "http://h,i/", "a byte a host cannot have" },
	{ "http://[::1/", "an IPv6 host without ']'" },
	{ "http://[zz::1]/", "not an IPv6 address" },
	{ "http://[]/", "no host" },
	{ "http://[::1]x/", "bytes after an IPv6 host" },
	{ "http://[::1]:/", "an empty port" },
	{ "http://h/#a#b", "a second '#'" },
};

static void test_url__accepted(void **state)
{
	struct url u;
	const char *why = "unset";
	char auth[URL_HOST_MAX + 8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(url_oks) / sizeof(url_oks[0]); i++) {
		const struct url_ok *t = &url_oks[i];

		if (url_parse(t->url, &u, &why) != 0)
			fail_msg("'%s' refused: %s", t->url, why);
		assert_null(why);
		assert_int_equal(u.scheme, t->scheme);
		assert_int_equal(u.tls, t->scheme == URL_HTTPS ||
					t->scheme == URL_WSS);
		assert_int_equal(u.host_kind, t->kind);
		assert_string_equal(u.host, t->host);
		assert_int_equal(u.port, t->port);
		assert_int_equal(u.port_given, t->port_given);
		assert_int_equal(u.path_len, strlen(t->path));
		assert_memory_equal(u.path, t->path, u.path_len);
		if (!t->query) {
			assert_null(u.query);
		} else {
			assert_non_null(u.query);
			assert_int_equal(u.query_len, strlen(t->query));
			assert_memory_equal(u.query, t->query, u.query_len);
		}
		if (!t->fragment) {
			assert_null(u.fragment);
		} else {
			assert_non_null(u.fragment);
			assert_int_equal(u.fragment_len, strlen(t->fragment));
			assert_memory_equal(u.fragment, t->fragment,
					    u.fragment_len);
		}
		assert_int_equal(url_authority(&u, auth, sizeof(auth)), 0);
		assert_string_equal(auth, t->authority);
	}
}

static void test_url__refused(void **state)
{
	struct url u;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(url_bads) / sizeof(url_bads[0]); i++) {
		why = NULL;
		if (url_parse(url_bads[i].url, &u, &why) != CHAT_EINVAL)
			fail_msg("'%s' taken", url_bads[i].url);
		if (!why || strcmp(why, url_bads[i].why) != 0)
			fail_msg("'%s': '%s', want '%s'", url_bads[i].url,
				 why ? why : "(null)", url_bads[i].why);
	}
	assert_int_equal(url_parse(NULL, &u, NULL), CHAT_EINVAL);
}

/* Every proper prefix of a good URL with a port is either a good URL or
 * refused cleanly, never read past its end (ASan watches). */
static void test_url__prefixes(void **state)
{
	static const char full[] = "https://[2001:db8::1]:8443/a/b?c=d#e";
	char cut[sizeof(full)];
	struct url u;
	size_t n;
	int rc;

	(void)state;
	for (n = 0; n < sizeof(full); n++) {
		memcpy(cut, full, n);
		cut[n] = '\0';
		rc = url_parse(cut, &u, NULL);
		assert_true(rc == 0 || rc == CHAT_EINVAL);
	}
	assert_int_equal(url_parse(full, &u, NULL), 0);
	assert_int_equal(u.port, 8443);
}

static void test_url__too_long(void **state)
{
	static char s[URL_MAX + 2];
	struct url u;
	const char *why;

	(void)state;
	memcpy(s, "http://h/", 9);
	memset(s + 9, 'a', URL_MAX - 9);
	s[URL_MAX] = '\0';
	assert_int_equal(url_parse(s, &u, &why), 0);
	s[URL_MAX] = 'a';
	s[URL_MAX + 1] = '\0';
	assert_int_equal(url_parse(s, &u, &why), CHAT_EINVAL);
	assert_string_equal(why, "the URL is too long");
	/* a host at its ceiling, and one byte past it */
	memcpy(s, "http://", 7);
	memset(s + 7, 'h', URL_HOST_MAX - 1);
	s[7 + URL_HOST_MAX - 1] = '\0';
	assert_int_equal(url_parse(s, &u, &why), 0);
	s[7 + URL_HOST_MAX - 1] = 'h';
	s[7 + URL_HOST_MAX] = '\0';
	assert_int_equal(url_parse(s, &u, &why), CHAT_EINVAL);
	assert_string_equal(why, "the host is too long");
}

static void test_url__ipv4(void **state)
{
	static const struct {
		const char *url;
		int rc;
		const char *addr;
		unsigned port;
	} cases[] = {
		{ "http://127.0.0.1:8081/", 0, "127.0.0.1", 8081 },
		{ "http://LOCALHOST/", 0, "127.0.0.1", 80 },
		{ "ws://10.1.2.3", 0, "10.1.2.3", 80 },
		{ "https://10.1.2.3", 0, "10.1.2.3", 443 },
		{ "http://example.com/", CHAT_EINVAL, NULL, 0 },
		{ "http://[::1]:80/", CHAT_EINVAL, NULL, 0 },
		{ "http://localhost.example/", CHAT_EINVAL, NULL, 0 },
		{ "http://127.1/", CHAT_EINVAL, NULL, 0 },
		{ "http://1.2.3.256/", CHAT_EINVAL, NULL, 0 },
	};
	struct sockaddr_in sa;
	struct url u;
	char text[INET_ADDRSTRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(url_parse(cases[i].url, &u, NULL), 0);
		assert_int_equal(url_ipv4(&u, &sa), cases[i].rc);
		if (cases[i].rc)
			continue;
		assert_int_equal(sa.sin_family, AF_INET);
		assert_int_equal(ntohs(sa.sin_port), cases[i].port);
		assert_non_null(inet_ntop(AF_INET, &sa.sin_addr, text,
					  sizeof(text)));
		assert_string_equal(text, cases[i].addr);
	}
}

static void test_url__scheme_names(void **state)
{
	(void)state;
	assert_string_equal(url_scheme_name(URL_HTTP), "http");
	assert_string_equal(url_scheme_name(URL_HTTPS), "https");
	assert_string_equal(url_scheme_name(URL_WS), "ws");
	assert_string_equal(url_scheme_name(URL_WSS), "wss");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url__accepted),
		cmocka_unit_test(test_url__refused),
		cmocka_unit_test(test_url__prefixes),
		cmocka_unit_test(test_url__too_long),
		cmocka_unit_test(test_url__ipv4),
		cmocka_unit_test(test_url__scheme_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
