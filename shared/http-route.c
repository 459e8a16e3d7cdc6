/*
 * http-route.c - route pattern matching (see http-route.h).
 */
#include "http-route.h"

#include <string.h>
#include <strings.h>
#include "banned.h"

/* Length of the segment at s (up to '/' or the end). */
static size_t seg_len(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash ? (size_t)(slash - s) : strlen(s);
}

bool http_route_match(const char *pattern, bool prefix, const char *path,
		      struct http_route_match *m)
{
	struct http_route_match tmp;
	const char *p = pattern, *s = path;

	if (!m)
		m = &tmp;
	m->n = 0;
	if (*p != '/' || *s != '/')
		return false;
	if (prefix && strcmp(pattern, "/") == 0)
		return true;
	while (*p == '/' && *s == '/') {
		size_t plen, slen;

		p++;
		s++;
		plen = seg_len(p);
		slen = seg_len(s);
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (slen == 0 || m->n == HTTP_MAX_PARAMS)
				return false;
			m->names[m->n] = p + 1;
			m->name_lens[m->n] = plen - 2;
			m->values[m->n] = s;
			m->value_lens[m->n] = slen;
			m->n++;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p += plen;
		s += slen;
	}
	if (*p != '\0')
		return false;
	if (*s == '\0')
		return true;
	return prefix && *s == '/';
}

enum http_route_result http_route_find(const struct http_route *routes,
				       size_t n, const char *method,
				       const char *path,
				       const struct http_route **found,
				       struct http_route_match *m)
{
	enum http_route_result res = HTTP_ROUTE_NO_PATH;
	size_t i;

	*found = NULL;
	for (i = 0; i < n; i++) {
		const struct http_route *r = &routes[i];
		bool any = !r->method || strcmp(r->method, "*") == 0;

		if (!http_route_match(r->pattern, r->flags & HTTP_ROUTE_PREFIX,
				      path, m))
			continue;
		if (any || strcasecmp(r->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		     strcmp(r->method, "GET") == 0)) {
			*found = r;
			return HTTP_ROUTE_FOUND;
		}
		res = HTTP_ROUTE_NO_METHOD;
	}
	return res;
}
