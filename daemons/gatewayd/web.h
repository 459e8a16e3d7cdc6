/*
 * web.h - the web page at "/" (web.c): the files of web.dir, held in
 * memory and answered on the loop thread.
 */
#ifndef GATEWAYD_WEB_H
#define GATEWAYD_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "http-server.h"

struct gatewayd;
struct web;

/* Reads web.dir (default: the installed page, else the source tree's
 * web/; "" or "off": no page) into memory; gw->web stays NULL when
 * there is no page.  err names a directory that cannot be read. */
int web_new(struct gatewayd *gw, char *err, size_t errlen);
/* After the worker pool has stopped. */
void web_free(struct web *w);
/* Loop thread, from the cron: swaps in a table a scan found changed,
 * starts the next scan once a second. */
void web_cron(struct gatewayd *gw);
/* True when path is the page's: there is a page, and path is neither
 * under an API prefix (/v1, /internal, /metrics, /healthz, /readyz,
 * /.well-known) nor a route of the route map. */
bool web_owns(struct gatewayd *gw, const char *path);
/* Loop thread: answers a request for the page (any method: others than
 * GET and HEAD get 405). */
void web_handle(struct gatewayd *gw, struct http_req *req,
		struct http_res *res);

#endif
