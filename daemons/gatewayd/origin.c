/*
 * origin.c - cross-site requests against the browser session.
 *
 * A web page's refresh token is an HttpOnly cookie (shared/cookie.h) that
 * the browser attaches by itself, so a request that carries it proves
 * nothing about who made it: any site could have made the browser send
 * it.  SameSite=Strict stops most of that in the browser; here the
 * Origin header is the server's own check, before anything is proxied:
 *
 *   /v1/auth/...                          an Origin, when sent, must
 *                                         be allowed (a foreign page
 *                                         posting a login would log its
 *                                         victim into its account); with
 *                                         the refresh cookie one is
 *                                         required.  The whole prefix, not
 *                                         just refresh and logout (the
 *                                         cookie's readers): its Path is
 *                                         /v1/auth, and no spelling of a
 *                                         path may slip past
 *   the WebSocket handshake (ws-proxy.c)  an Origin, when sent, must be
 *                                         allowed: browsers send one,
 *                                         chatui does not
 *
 * Allowed: the gateway's own origin, http:// or https:// + the request's
 * Host (https for a TLS proxy in front, which keeps the Host; the cookie
 * is Secure, so past loopback there always is one), or one listed in
 * web.origins (exact "scheme://host[:port]" entries separated by commas).
 * Everything else is 403 "origin_refused" and the upstream never hears of
 * the request.  Only userd's refresh and logout read the cookie, and the
 * browser sends it under /v1/auth alone, so it is no credential anywhere
 * else and needs no check there.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "cookie.h"
#include "err.h"
#include "banned.h"

enum {
	ORIGIN_IF_SENT = 0,		/* an Origin sent must be allowed */
	ORIGIN_WITH_COOKIE = 1 << 0,	/* the cookie requires one */
};

/* The first rule whose method and path (exact, or a prefix ending in
 * '/') match decides. */
static const struct {
	const char *method;		/* NULL: any */
	const char *path;
	unsigned flags;
} origin_rules[] = {
	{ NULL, "/v1/auth/", ORIGIN_WITH_COOKIE },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* "http://host[:port]" or "https://...": a scheme we serve, a host, and
 * nothing after it (no path, not even "/"). */
static bool origin_valid(const char *o, size_t len)
{
	size_t skip;

	if (len > 7 && strncmp(o, "http://", 7) == 0)
		skip = 7;
	else if (len > 8 && strncmp(o, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	for (size_t i = skip; i < len; i++)
		if (strchr("/?#@ \t\\", o[i]) || (unsigned char)o[i] < 0x21 ||
		    (unsigned char)o[i] > 0x7e)
			return false;
	return true;
}

int origin_load(struct gatewayd *gw, char *err, size_t errlen)
{
	const char *list = config_key_str(gw->d.cfg, "web.origins");
	const char *p = list, *end;
	size_t len;

	gw->norigins = 0;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!origin_valid(p, len) || len >= GW_ORIGIN_MAX) {
			snprintf(err, errlen, "config: 'web.origins' entry "
				 "'%.*s' is not scheme://host[:port]",
				 (int)(len > 200 ? 200 : len), p);
			return CHAT_EINVAL;
		}
		if (gw->norigins == GW_MAX_ORIGINS) {
			snprintf(err, errlen, "config: more than %d entries "
				 "in 'web.origins'", GW_MAX_ORIGINS);
			return CHAT_ETOOBIG;
		}
		memcpy(gw->origins[gw->norigins], p, len);
		gw->origins[gw->norigins][len] = '\0';
		gw->norigins++;
		p = end ? end + 1 : "";
	}
	return 0;
}

/* Origin o is http(s):// + the request's Host (host names compare
 * without case, as Host headers may come in any). */
static bool origin_is_own(struct http_req *req, const char *o)
{
	const char *host = http_req_header(req, "host");
	const char *rest;

	if (!host || !*host)
		return false;
	if (strncmp(o, "http://", 7) == 0)
		rest = o + 7;
	else if (strncmp(o, "https://", 8) == 0)
		rest = o + 8;
	else
		return false;
	return strcasecmp(rest, host) == 0;
}

bool origin_allowed(struct gatewayd *gw, struct http_req *req,
		    const char *origin)
{
	size_t i;

	if (!origin || !origin_valid(origin, strlen(origin)))
		return false;	/* "null" (sandboxes, file://) included */
	if (origin_is_own(req, origin))
		return true;
	for (i = 0; i < gw->norigins; i++)
		if (strcmp(gw->origins[i], origin) == 0)
			return true;
	return false;
}

int origin_check(struct gatewayd *gw, struct http_req *req,
		 const char **message)
{
	const char *origin = http_req_header(req, "origin");
	char value[8];
	size_t i, n;
	int rc;

	for (i = 0; i < NELEM(origin_rules); i++) {
		n = strlen(origin_rules[i].path);
		if (origin_rules[i].method &&
		    strcmp(req->method, origin_rules[i].method) != 0)
			continue;
		if (origin_rules[i].path[n - 1] == '/' ?
			    strncmp(req->path, origin_rules[i].path, n) != 0 :
			    strcmp(req->path, origin_rules[i].path) != 0)
			continue;
		break;
	}
	if (i == NELEM(origin_rules))
		return 0;
	if (origin) {
		if (origin_allowed(gw, req, origin))
			return 0;
		*message = "requests from this origin are not accepted";
		return CHAT_EPERM;
	}
	if (!(origin_rules[i].flags & ORIGIN_WITH_COOKIE))
		return 0;
	/* only whether it is there: its value is userd's business */
	rc = cookie_get(http_req_header(req, "cookie"), COOKIE_REFRESH_NAME,
			value, sizeof(value));
	if (rc == CHAT_ENOTFOUND)
		return 0;
	*message = "a request with the session cookie must carry an "
		   "allowed Origin header";
	return CHAT_EPERM;
}
