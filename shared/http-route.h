/*
 * http-route.h - route pattern matching, apart from the server so it can
 * be tested on its own.
 *
 * A pattern is a path whose segments are literal or "{name}"; "{name}"
 * matches one non-empty segment.  With HTTP_ROUTE_PREFIX the pattern also
 * matches any path below it ("/v1/x" matches "/v1/x" and "/v1/x/y", not
 * "/v1/xy"; "/" matches everything).
 */
#ifndef CHAT_HTTP_ROUTE_H
#define CHAT_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "http-server.h"

struct http_route_match {
	const char *names[HTTP_MAX_PARAMS];	/* point into the pattern */
	size_t name_lens[HTTP_MAX_PARAMS];
	const char *values[HTTP_MAX_PARAMS];	/* point into the path */
	size_t value_lens[HTTP_MAX_PARAMS];
	int n;
};

/* True when path matches pattern; captures go into m (may be NULL). */
bool http_route_match(const char *pattern, bool prefix, const char *path,
		      struct http_route_match *m);

enum http_route_result {
	HTTP_ROUTE_FOUND = 0,
	HTTP_ROUTE_NO_PATH,		/* 404 */
	HTTP_ROUTE_NO_METHOD,		/* 405: the path exists */
};

/* First route of the table matching method and path. */
enum http_route_result http_route_find(const struct http_route *routes,
				       size_t n, const char *method,
				       const char *path,
				       const struct http_route **found,
				       struct http_route_match *m);

#endif
