/*
 * cookie.c - reading one cookie out of a Cookie header (see cookie.h).
 *
 * Browsers send "name=value" pairs separated by "; "; the parse is
 * lenient about spaces and tabs around the pieces (RFC 6265 section
 * 5.4 servers must cope with what user agents send) and skips pairs
 * without '=', as user agents drop them too.
 */
#include "cookie.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "banned.h"

static bool cookie_space(char c)
{
	return c == ' ' || c == '\t';
}

int cookie_get(const char *header, const char *name, char *out,
	       size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = header, *end, *eq, *v, *vend;
	int rc = CHAT_ENOTFOUND;

	if (outlen)
		out[0] = '\0';
	while (p && *p) {
		while (cookie_space(*p) || *p == ';')
			p++;
		end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			goto next;
		vend = eq;
		while (vend > p && cookie_space(vend[-1]))
			vend--;
		if ((size_t)(vend - p) != nlen || memcmp(p, name, nlen) != 0)
			goto next;
		if (rc != CHAT_ENOTFOUND) {
			rc = CHAT_ECONFLICT;
			goto out;
		}
		v = eq + 1;
		vend = end;
		while (v < vend && cookie_space(*v))
			v++;
		while (vend > v && cookie_space(vend[-1]))
			vend--;
		if (vend - v >= 2 && *v == '"' && vend[-1] == '"') {
			v++;
			vend--;
		}
		if ((size_t)(vend - v) >= outlen) {
			rc = CHAT_ETOOBIG;
			goto next;
		}
		memcpy(out, v, (size_t)(vend - v));
		out[vend - v] = '\0';
		rc = 0;
next:
		p = *end ? end + 1 : end;
	}
out:
	return rc;
}
