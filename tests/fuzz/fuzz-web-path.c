/*
 * fuzz-web-path.c - libFuzzer target for the request targets the web
 * page's file server reads (daemons/gatewayd/web-path.c): the input is a
 * request target, put in a request line that the server's parser
 * (http1_parse_request) reads; a target it takes is cut at '?' and
 * %XX-decoded once, as http-server.c does before routing (a broken
 * escape or a decoded control byte is its 400), and the path goes to
 * web_path_key.  The raw input also goes to web_path_key, and to the
 * If-None-Match and Accept-Encoding readers.
 *
 * Checks beyond memory safety:
 *  - a path web_path_key takes (a file or a route) gives the path
 *    without its '/' ("index.html" for "/"), whose every segment is
 *    non-empty, starts with no '.', and holds no '\', '%' or control
 *    byte: nothing that could name a place outside the directory, nor
 *    anything a second decoding could turn into one;
 *  - the key, given again as "/" + key, is the same key of the same kind
 *    (the table is built with that very check);
 *  - a path over WEB_PATH_MAX bytes is 414, never a key;
 *  - a quoted tag matches itself; "gzip," before any Accept-Encoding
 *    value accepts gzip.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "util.h"
#include "../../daemons/gatewayd/web-path.h"

#include "fuzz.h"

static void check_key(const char *path)
{
	char key[WEB_PATH_MAX], again[WEB_PATH_MAX + 2], key2[WEB_PATH_MAX];
	enum web_path_kind kind, kind2;
	const char *seg, *p;
	size_t len = strlen(path);
	bool compress;

	kind = web_path_key(path, key, sizeof(key));
	if (len > WEB_PATH_MAX && path[0] == '/')
		FUZZ_CHECK(kind == WEB_PATH_TOO_LONG);
	if (kind != WEB_PATH_FILE && kind != WEB_PATH_ROUTE)
		return;
	FUZZ_CHECK(path[0] == '/');
	if (len == 1)
		FUZZ_CHECK(strcmp(key, "index.html") == 0);
	else
		FUZZ_CHECK(strcmp(key, path + 1) == 0);
	for (seg = key; ; seg = p + 1) {
		FUZZ_CHECK(*seg != '\0' && *seg != '/' && *seg != '.');
		for (p = seg; *p && *p != '/'; p++) {
			unsigned char c = (unsigned char)*p;

			FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != '\\' &&
				   c != '%');
		}
		if (*p == '\0')
			break;
	}
	again[0] = '/';
	memcpy(again + 1, key, strlen(key) + 1);
	kind2 = web_path_key(again, key2, sizeof(key2));
	FUZZ_CHECK(kind2 == kind || (len == 1 && kind2 == WEB_PATH_FILE));
	FUZZ_CHECK(strcmp(key2, key) == 0);
	FUZZ_CHECK(web_path_type(key, &compress) != NULL);
	(void)web_path_hashed(key);
}

static void check_target(const uint8_t *data, size_t size)
{
	static const char head[] = "GET ", tail[] =
		" HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http1_request req;
	struct http1_scan scan;
	const char *why, *q;
	char *buf, *path;
	size_t n, plen;
	long rc;
	bool bad;

	n = sizeof(head) - 1 + size + sizeof(tail) - 1;
	buf = malloc(n);
	if (!buf)
		return;
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, data, size);
	memcpy(buf + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	memset(&scan, 0, sizeof(scan));
	rc = http1_parse_request(buf, n, &scan, &req, &why);
	if (rc > 0) {
		q = memchr(req.target, '?', req.target_len);
		plen = q ? (size_t)(q - req.target) : req.target_len;
		/* decoded once, as the server decodes a target */
		path = util_percent_decode(req.target, plen, &bad);
		if (path) {
			check_key(path);
			free(path);
		}
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *quoted, *ae;

	check_target(data, size);
	s = malloc(size + 1);
	quoted = malloc(size + 3);
	ae = malloc(size + 6);
	if (!s || !quoted || !ae)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	check_key(s);
	(void)web_etag_match(s, "\"0123456789abcdef\"");
	if (!strchr(s, '"')) {
		quoted[0] = '"';
		memcpy(quoted + 1, s, strlen(s));
		quoted[strlen(s) + 1] = '"';
		quoted[strlen(s) + 2] = '\0';
		FUZZ_CHECK(web_etag_match(quoted, quoted));
	}
	(void)web_accepts_gzip(s);
	memcpy(ae, "gzip,", 5);
	memcpy(ae + 5, s, strlen(s) + 1);
	FUZZ_CHECK(web_accepts_gzip(ae));
out:
	free(s);
	free(quoted);
	free(ae);
	return 0;
}
