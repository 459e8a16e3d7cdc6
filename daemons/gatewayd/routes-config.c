/*
 * routes-config.c - the gateway's route map: path prefix -> upstream
 * daemon.  The defaults below, then the [routes] section of the config
 * over them (`/v1/x = userd` adds or replaces a prefix).  Each upstream's
 * URL comes from daemon_peer_url (<name>.url, else its port rule).
 *
 * Matching is by whole path segments ("/v1/auth" matches "/v1/auth" and
 * "/v1/auth/login", not "/v1/authx") and the longest prefix wins: the
 * table is kept sorted longest first so the first match is the one.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "banned.h"

static const struct {
	const char *prefix;
	const char *upstream;
} default_routes[] = {
	{ "/v1/auth", "userd" },
	{ "/v1/users", "userd" },
	{ "/v1/apikeys", "userd" },
	{ "/v1/admin/users", "userd" },
	{ "/v1/admin/apikeys", "userd" },
	{ "/v1/admin/sessions", "sessiond" },
	{ "/v1/admin/models", "aid" },
	{ "/v1/admin/analytics", "analyticsd" },
	{ "/v1/admin/events", "analyticsd" },
	{ "/v1/users/me/usage", "analyticsd" },
	{ "/v1/notifications", "notifyd" },
	{ "/v1/admin/broadcast", "notifyd" },
	{ "/v1/webhooks", "notifyd" },
	{ "/.well-known", "userd" },
	{ "/v1/sessions", "sessiond" },
	{ "/v1/presence", "sessiond" },
	{ "/v1/conversations", "chatd" },
	{ "/v1/ws", "chatd" },
	{ "/v1/models", "aid" },
	{ "/v1/chat", "aid" },
};

/* config_each has no way to stop; the first error is kept here. */
struct routes_load_ctx {
	struct gatewayd *gw;
	int rc;
	char *err;
	size_t errlen;
};

static bool name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= GW_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-' || name[i] == '_'))
			return false;
	return true;
}

static bool prefix_valid(const char *prefix)
{
	size_t n = strlen(prefix);

	return n > 0 && n < GW_PREFIX_MAX && prefix[0] == '/' &&
	       !strpbrk(prefix, "?# \t");
}

static int upstream_get(struct gatewayd *gw, const char *name,
			struct gw_upstream **out, char *err, size_t errlen)
{
	struct gw_upstream *up = routes_upstream(gw, name);
	size_t len;
	int rc;

	if (up) {
		*out = up;
		return 0;
	}
	if (gw->nups == GW_MAX_UPSTREAMS) {
		snprintf(err, errlen, "config: more than %d upstreams in "
			 "'routes'", GW_MAX_UPSTREAMS);
		return CHAT_ETOOBIG;
	}
	up = &gw->ups[gw->nups];
	snprintf(up->name, sizeof(up->name), "%s", name);
	rc = daemon_peer_url(&gw->d, name, up->url, sizeof(up->url));
	if (rc != 0) {
		snprintf(err, errlen, "config: no address for upstream '%s' "
			 "(set '%s.url')", name, name);
		return rc;
	}
	/* request paths bring their own '/' */
	len = strlen(up->url);
	while (len > 0 && up->url[len - 1] == '/')
		up->url[--len] = '\0';
	gw->nups++;
	*out = up;
	return 0;
}

/* Adds prefix -> name, or points an existing prefix at name. */
static int route_set(struct gatewayd *gw, const char *prefix,
		     const char *name, char *err, size_t errlen)
{
	struct gw_upstream *up = NULL;
	struct gw_route *r = NULL;
	size_t i, len = strlen(prefix);
	int rc;

	if (!prefix_valid(prefix)) {
		snprintf(err, errlen, "config: route prefix '%s' must start "
			 "with '/' and be a plain path", prefix);
		return CHAT_EINVAL;
	}
	if (!name_valid(name)) {
		snprintf(err, errlen, "config: 'routes.%s' must name a daemon "
			 "([a-z0-9_-]), not '%s'", prefix, name);
		return CHAT_EINVAL;
	}
	while (len > 1 && prefix[len - 1] == '/')
		len--;			/* "/v1/x/" is "/v1/x" */
	rc = upstream_get(gw, name, &up, err, errlen);
	if (rc != 0)
		return rc;
	for (i = 0; i < gw->nroutes && !r; i++)
		if (gw->routes[i].len == len &&
		    memcmp(gw->routes[i].prefix, prefix, len) == 0)
			r = &gw->routes[i];
	if (!r) {
		if (gw->nroutes == GW_MAX_ROUTES) {
			snprintf(err, errlen, "config: more than %d routes",
				 GW_MAX_ROUTES);
			return CHAT_ETOOBIG;
		}
		r = &gw->routes[gw->nroutes++];
		memcpy(r->prefix, prefix, len);
		r->prefix[len] = '\0';
		r->len = len;
	}
	r->up = up;
	return 0;
}

static void route_from_config(void *arg, const char *key, const char *value)
{
	struct routes_load_ctx *ctx = arg;

	if (ctx->rc == 0)
		ctx->rc = route_set(ctx->gw, key, value, ctx->err,
				    ctx->errlen);
}

static int route_cmp_longest_first(const void *a, const void *b)
{
	const struct gw_route *ra = a, *rb = b;

	return (ra->len < rb->len) - (ra->len > rb->len);
}

int routes_load(struct gatewayd *gw, char *err, size_t errlen)
{
	struct routes_load_ctx ctx = { gw, 0, err, errlen };
	size_t i;

	for (i = 0; i < sizeof(default_routes) / sizeof(default_routes[0]);
	     i++) {
		ctx.rc = route_set(gw, default_routes[i].prefix,
				   default_routes[i].upstream, err, errlen);
		if (ctx.rc != 0)
			return ctx.rc;
	}
	config_each(gw->d.cfg, "routes", route_from_config, &ctx);
	if (ctx.rc != 0)
		return ctx.rc;
	qsort(gw->routes, gw->nroutes, sizeof(gw->routes[0]),
	      route_cmp_longest_first);
	/* API keys and the key set are always userd's, the revocation
	 * feed sessiond's */
	ctx.rc = upstream_get(gw, "userd", &gw->userd, err, errlen);
	if (ctx.rc == 0)
		ctx.rc = upstream_get(gw, "sessiond", &gw->sessiond, err,
				      errlen);
	return ctx.rc;
}

const struct gw_route *routes_find(const struct gatewayd *gw,
				   const char *path)
{
	const struct gw_route *r;
	size_t i;

	for (i = 0; i < gw->nroutes; i++) {
		r = &gw->routes[i];
		if (strncmp(path, r->prefix, r->len) != 0)
			continue;
		if (r->len == 1 || path[r->len] == '\0' ||
		    path[r->len] == '/')
			return r;
	}
	return NULL;
}

struct gw_upstream *routes_upstream(struct gatewayd *gw, const char *name)
{
	size_t i;

	for (i = 0; i < gw->nups; i++)
		if (strcmp(gw->ups[i].name, name) == 0)
			return &gw->ups[i];
	return NULL;
}
