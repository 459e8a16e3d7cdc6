/*
 * web-path.h - the pure parts of the web page's file server (web.c):
 * what a request path names, which type a file name has, whether a name
 * carries a content hash, and whether an If-None-Match value names a
 * tag.  Nothing here touches files or the server, so that the unit tests
 * and the fuzz target (tests/fuzz/fuzz-web-path.c) can take it apart on
 * its own.  Every function may be called from any thread.
 */
#ifndef GATEWAYD_WEB_PATH_H
#define GATEWAYD_WEB_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* The longest request path the page answers (bytes, decoded); longer
 * is 414.  The page's own names are short; a client route is
 * "/c/<uuid>". */
#define WEB_PATH_MAX 1024

/* What a request path is, for the file server. */
enum web_path_kind {
	WEB_PATH_FILE = 0,	/* a name that may be a file: key is set */
	WEB_PATH_ROUTE,		/* no extension: a file if one is there,
				 * else the page (a client-side route) */
	WEB_PATH_BAD,		/* refused: 404, never the page */
	WEB_PATH_TOO_LONG,	/* 414 */
};

/*
 * Reads a request path (as the server decoded it once: %XX already
 * undone) into the key of the file table: the path without its leading
 * '/', "index.html" for "/".  key has room for WEB_PATH_MAX bytes.
 *
 * Refused (WEB_PATH_BAD): a path not starting with '/'; an empty
 * segment ("//", a trailing '/'); a segment that starts with '.'
 * ("..", ".", dot files such as ".git"); a '\\', a '%' (a second layer
 * of encoding: "%2e" after decoding), a byte below 0x20 or 0x7f.  The
 * table holds only names that pass this, so nothing refused could be
 * served anyway; refusing says so before the lookup, and keeps a
 * traversal attempt from getting the page.
 */
enum web_path_kind web_path_key(const char *path, char *key, size_t keylen);

/* The Content-Type of a file name by its extension (lower case only, as
 * the page names its files); "application/octet-stream" for others.
 * *compress is set when the type is worth gzip (text, SVG, icons). */
const char *web_path_type(const char *name, bool *compress);

/* True when the last segment of name is "<stem>-<8 to 16 hex>.<ext>"
 * (what scripts/vendor-web writes): its bytes never change under that
 * name, so it may be cached for a year. */
bool web_path_hashed(const char *name);

/* True when an If-None-Match value (a list of entity tags, or "*")
 * names tag (a strong tag with its quotes, "\"abc\"").  Weak tags
 * (W/"abc") compare by their opaque part, as RFC 9110 13.1.2 says
 * If-None-Match does. */
bool web_etag_match(const char *if_none_match, const char *tag);

/* True when an Accept-Encoding value lets the answer be gzip: "gzip"
 * (or "x-gzip", or "*") listed without q=0.  NULL: no. */
bool web_accepts_gzip(const char *accept_encoding);

#endif
