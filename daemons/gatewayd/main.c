/*
 * main.c - gatewayd: the stack's one public port.  The route table, the
 * settings it reads, start-up and shutdown.
 *
 * Settings:
 *   [routes]                 `/v1/x = userd`: path prefix -> daemon, over
 *                            the defaults in routes-config.c
 *   <daemon>.url             an upstream's base URL (else its port rule)
 *   gatewayd.idle_timeout_s  an upstream silent this long mid-answer is
 *                            dropped (300; streams may idle in between)
 *   gatewayd.metrics_token   the bearer token a scraper shows for
 *                            /metrics (none: /metrics is not served)
 *   web.dir                  the web page's files, served at / (web.c;
 *                            default: the installed page, else the
 *                            source tree's web/; "" or "off": none)
 *   web.origins              origins besides the gateway's own whose
 *                            pages may use the browser session
 *                            (origin.c), separated by commas
 */
#include "gatewayd.h"

#include <stdio.h>

#include "config.h"
#include "daemon-keys.h"
#include "err.h"
#include "http-loop.h"
#include "log.h"
#include "web.h"
#include "banned.h"

#define GATEWAYD_CRON_MS 500

static void gatewayd_release(struct daemon *d)
{
	struct gatewayd *gw = (struct gatewayd *)d;

	/* the calls first: their last callbacks still use the rest */
	http_out_close(d->out);
	jwks_free(gw->jwks);
	gw->jwks = NULL;
	revoke_free(gw->revoke);
	gw->revoke = NULL;
	web_free(gw->web);
	gw->web = NULL;
	cache_release(&gw->tokens);
	cache_release(&gw->keys);
}

static int gatewayd_init(struct daemon *d, char *err, size_t errlen)
{
	struct gatewayd *gw = (struct gatewayd *)d;
	long idle_s = 0;
	size_t i;
	int rc;

	cache_init(&gw->keys);
	cache_init(&gw->tokens);
	rc = config_key_int(d->cfg, "gatewayd.idle_timeout_s", &idle_s, err,
			    errlen);
	if (rc == 0)
		rc = routes_load(gw, err, errlen);
	if (rc == 0)
		rc = origin_load(gw, err, errlen);
	if (rc != 0)
		goto fail;
	gw->idle_timeout_ms = idle_s * 1000;
	gw->metrics_token = config_key_str(d->cfg, "gatewayd.metrics_token");
	if (gw->metrics_token && !*gw->metrics_token)
		gw->metrics_token = NULL;
	for (i = 0; i < gw->nroutes; i++)
		log_debug("route '%s' -> '%s' at %s", gw->routes[i].prefix,
			  gw->routes[i].up->name, gw->routes[i].up->url);
	/* daemon_main runs the server's loop on this thread */
	gw->loop_thread = pthread_self();
	for (i = 0; i < gw->nups; i++)
		if (!http_loop_can(gw->ups[i].url))
			log_info("upstream '%s' at %s goes through libcurl "
				 "(chat-curl.so, loaded on first use)",
				 gw->ups[i].name, gw->ups[i].url);
	rc = jwks_new(gw, &gw->jwks);
	if (rc == 0)
		rc = revoke_new(gw, &gw->revoke);
	if (rc != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = web_new(gw, err, errlen);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	gatewayd_release(d);
	return rc;
}

static void gatewayd_cron(void *app)
{
	struct gatewayd *gw = app;

	jwks_cron(gw);
	revoke_cron(gw);
	web_cron(gw);
}

/* The catch-all: the web page's paths (web.c), else the proxy. */
static void gatewayd_catch_all(struct http_req *req, struct http_res *res)
{
	struct gatewayd *gw = req->app;

	if (web_owns(gw, req->path))
		web_handle(gw, req, res);
	else
		proxy_handler(req, res);
}

static const struct http_route gatewayd_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, ready_handle,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/metrics", HTTP_PERM_PUBLIC, metrics_handle,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/v1/ws", HTTP_PERM_PUBLIC, ws_proxy_handler,
	  HTTP_ROUTE_WEBSOCKET },
	{ "*", "/", HTTP_PERM_PUBLIC, gatewayd_catch_all,
	  HTTP_ROUTE_ON_LOOP | HTTP_ROUTE_PREFIX },
};

static const struct daemon_spec gatewayd_spec = {
	.name = "gatewayd",
	.keys = daemon_keys_gatewayd,
	.routes = gatewayd_routes,
	.nroutes = sizeof(gatewayd_routes) / sizeof(gatewayd_routes[0]),
	.app_size = sizeof(struct gatewayd),
	.init = gatewayd_init,
	.release = gatewayd_release,
	.cron = gatewayd_cron,
	.cron_ms = GATEWAYD_CRON_MS,
	.public_facing = 1,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &gatewayd_spec);
}
