/*
 * metrics.c - GET /metrics in the Prometheus text format: proxied
 * requests by status class, upstream failures by upstream, requests in
 * flight, and refused credentials by reason.  Counters are atomics bumped
 * on whichever thread ends a request.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <strings.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "banned.h"

#define METRICS_MAX_BYTES (64 * 1024)

static const char *const class_labels[] = {
	"other", "1xx", "2xx", "3xx", "4xx", "5xx",
};

void metrics_count_request(struct gw_metrics *m, int status)
{
	int cls = status / 100;

	if (cls < 1 || cls > 5)
		cls = 0;
	atomic_fetch_add(&m->requests[cls], 1);
}

static int metrics_render(struct gatewayd *gw, struct buf *b)
{
	struct gw_metrics *m = &gw->metrics;
	size_t i;
	int rc;

	rc = buf_puts(b, "# HELP gatewayd_requests_total Proxied requests by "
		      "status class.\n"
		      "# TYPE gatewayd_requests_total counter\n");
	for (i = 0; rc == 0 && i < 6; i++)
		rc = buf_printf(b, "gatewayd_requests_total{class=\"%s\"} %lu\n",
				class_labels[i], atomic_load(&m->requests[i]));
	if (rc == 0)
		rc = buf_puts(b, "# HELP gatewayd_upstream_errors_total Calls "
			      "to an upstream that failed or timed out.\n"
			      "# TYPE gatewayd_upstream_errors_total counter\n");
	for (i = 0; rc == 0 && i < gw->nups; i++)
		rc = buf_printf(b, "gatewayd_upstream_errors_total"
				"{upstream=\"%s\"} %lu\n", gw->ups[i].name,
				atomic_load(&gw->ups[i].errors));
	if (rc == 0)
		rc = buf_printf(b, "# HELP gatewayd_in_flight Proxied requests "
				"not yet answered.\n"
				"# TYPE gatewayd_in_flight gauge\n"
				"gatewayd_in_flight %ld\n",
				atomic_load(&m->in_flight));
	if (rc == 0)
		rc = buf_puts(b, "# HELP gatewayd_auth_failures_total Refused "
			      "credentials by reason.\n"
			      "# TYPE gatewayd_auth_failures_total counter\n");
	for (i = GW_AUTH_OK + 1; rc == 0 && i < GW_AUTH_NRESULTS; i++)
		rc = buf_printf(b, "gatewayd_auth_failures_total"
				"{reason=\"%s\"} %lu\n",
				auth_result_reason((enum gw_auth_result)i),
				atomic_load(&m->auth_failures[i]));
	return rc;
}

void metrics_handle(struct http_req *req, struct http_res *res)
{
	const struct gatewayd *gw = req->app;
	const char *auth = http_req_header(req, "authorization");
	struct buf b;
	size_t len = 0;
	char *text;

	/* counters tell an attacker what works: a scraper's token only,
	 * and without one configured the route is not there */
	if (!gw->metrics_token) {
		http_res_error(res, 404, "not_found", "no route for '%s %s'",
			       req->method, req->path);
		return;
	}
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
	    !crypto_str_equal(auth + 7, gw->metrics_token)) {
		http_res_header(res, "WWW-Authenticate", "Bearer");
		http_res_error(res, 401, "unauthorized",
			       "/metrics needs gatewayd.metrics_token");
		return;
	}
	buf_init(&b, METRICS_MAX_BYTES);
	if (metrics_render(req->app, &b) != 0) {
		buf_release(&b);
		http_res_error(res, 500, "internal", "cannot render metrics");
		return;
	}
	text = buf_detach(&b, &len);
	http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8",
		      text, len);
}
