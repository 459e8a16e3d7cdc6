/*
 * fuzz-url.c - libFuzzer target for the URLs the code takes apart: the
 * one URL grammar (url_parse), the
 * outbound clients' (http_loop_can, http_fetch_plain_can), the server
 * URL of chatctl and chatui (client_valid_server), the request check
 * every outbound call goes through (http_request_safe), and the
 * PostgreSQL URI from the configuration, whose password db-pg.c masks
 * before the URI is ever shown (db_pg_redact).
 *
 * The input is the URL.  Checks beyond memory safety:
 *  - a URL url_parse takes, written again from its parts, parses to the
 *    same parts, and none of them holds a byte a request line cannot;
 *  - http_loop_can and http_fetch_plain_can take the same URLs (both
 *    read them with url_parse; they used to disagree);
 *  - a URL the blocking client takes, with its scheme in lower case, is
 *    one client_valid_server takes;
 *  - a postgresql:// URI with a password, as libpq reads it
 *    (PQconninfoParse), is shown by db_pg_redact as one whose password,
 *    read the same way, is the mask "***" or none.
 *
 * db_pg_redact is static in the run-time module's source, so that file
 * is included here rather than given a public symbol for a test.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "http-client.h"
#include "http-fetch.h"
#include "http-loop.h"
#include "url.h"

#include "../../shared/db-pg.c"

#include "fuzz.h"

/* The password libpq reads from a postgresql:// URI: NULL for none or
 * when it does not parse; free with PQconninfoFree(*opts). */
static const char *pq_password(const char *uri, PQconninfoOption **opts)
{
	PQconninfoOption *o;

	*opts = PQconninfoParse(uri, NULL);
	for (o = *opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val &&
		    o->val[0])
			return o->val;
	return NULL;
}

static void check_redact(const char *uri)
{
	PQconninfoOption *opts, *shown_opts;
	const char *password, *left;
	char *shown;

	shown = db_pg_redact(uri);
	FUZZ_CHECK(shown);
	FUZZ_CHECK(strlen(shown) <= 2 * strlen(uri) + 15);
	if (strncmp(uri, "postgresql://", 13) != 0 &&
	    strncmp(uri, "postgres://", 11) != 0) {
		free(shown);
		return;
	}
	/* read the way libpq reads it, what is shown has no password but
	 * the mask */
	password = pq_password(uri, &opts);
	left = password ? pq_password(shown, &shown_opts) : NULL;
	if (left && strcmp(left, "***") != 0) {
		fprintf(stderr, "uri '%s' shown as '%s' keeps password "
			"'%s'\n", uri, shown, left);
		FUZZ_CHECK(!"the password is shown");
	}
	if (password)
		PQconninfoFree(shown_opts);
	PQconninfoFree(opts);
	free(shown);
}

/* True when s[0..n) has no byte a request line or header cannot carry. */
static bool text_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static void check_url(const char *s)
{
	struct url u, v;
	char auth[URL_HOST_MAX + 8];
	struct buf again;

	if (url_parse(s, &u, NULL) != 0)
		return;
	FUZZ_CHECK(u.host[0] && text_ok(u.host, strlen(u.host)));
	FUZZ_CHECK(text_ok(u.path, u.path_len));
	FUZZ_CHECK(u.path_len == 0 || u.path[0] == '/');
	FUZZ_CHECK(!u.query || text_ok(u.query, u.query_len));
	FUZZ_CHECK(!memchr(u.path, '?', u.path_len));
	FUZZ_CHECK(!memchr(u.path, '#', u.path_len));
	FUZZ_CHECK(!u.query || !memchr(u.query, '#', u.query_len));
	FUZZ_CHECK(u.port > 0);
	FUZZ_CHECK(url_authority(&u, auth, sizeof(auth)) == 0);
	FUZZ_CHECK(!strchr(auth, '@'));
	buf_init(&again, 2 * URL_MAX);
	FUZZ_CHECK(buf_printf(&again, "%s://%s%.*s", url_scheme_name(u.scheme),
			      auth, (int)u.path_len, u.path) == 0);
	if (u.query)
		FUZZ_CHECK(buf_printf(&again, "?%.*s", (int)u.query_len,
				      u.query) == 0);
	if (u.fragment)
		FUZZ_CHECK(buf_printf(&again, "#%.*s", (int)u.fragment_len,
				      u.fragment) == 0);
	FUZZ_CHECK(url_parse(again.data, &v, NULL) == 0);
	FUZZ_CHECK(v.scheme == u.scheme && v.port == u.port &&
		   v.port_given == u.port_given &&
		   v.host_kind == u.host_kind &&
		   strcmp(v.host, u.host) == 0 && v.path_len == u.path_len &&
		   memcmp(v.path, u.path, u.path_len) == 0 &&
		   !v.query == !u.query && v.query_len == u.query_len &&
		   !v.fragment == !u.fragment);
	buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req = { .method = "GET" };
	bool loop, fetch;
	char *url;

	/* db-pg.c is compiled in, not loaded: give it the table
	 * module_load would */
	if (!chat_module_host)
		chat_module_host = module_host();
	url = fuzz_strndup(data, size);
	req.url = url;

	check_url(url);
	loop = http_loop_can(url);
	fetch = http_fetch_plain_can(&req);
	FUZZ_CHECK(loop == fetch);
	if (fetch && strncmp(url, "http://", 7) == 0)
		FUZZ_CHECK(client_valid_server(url));
	(void)http_request_safe(&req);
	check_redact(url);
	free(url);
	return 0;
}
