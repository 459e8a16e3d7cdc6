/*
 * metrics.c - analyticsd's /metrics in the Prometheus text format: the
 * business counters of the events consumed since start (requests, tokens
 * and cost by model), the consumer's position and lag per producer, and
 * the events skipped as malformed.  Like the gateway's, it answers only a
 * scraper with gatewayd.metrics_token (counters tell what works).
 */
#include "analyticsd.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "events-consumer.h"
#include "banned.h"

#define METRICS_MAX_BYTES (1u << 20)

void metrics_count(struct analyticsd *a, const struct rollup_delta *d)
{
	struct model_counter *m = NULL;
	size_t i;

	if (!d->requests)
		return;
	pthread_mutex_lock(&a->counters_lock);
	for (i = 0; i < a->ncounters; i++)
		if (strcmp(a->counters[i].model, d->model) == 0)
			m = &a->counters[i];
	if (!m && a->ncounters < ANALYTICSD_METRIC_MODELS) {
		m = &a->counters[a->ncounters++];
		snprintf(m->model, sizeof(m->model), "%s", d->model);
	}
	if (m) {	/* past the ceiling, new models go uncounted here */
		m->requests += d->requests;
		m->prompt_tokens += d->prompt_tokens;
		m->completion_tokens += d->completion_tokens;
		m->cost_pusd += d->cost_pusd;
		m->unpriced += d->unpriced;
	}
	pthread_mutex_unlock(&a->counters_lock);
}

/* A label value: model names are config names, but escape anyway. */
static int metrics_label(struct buf *b, const char *s)
{
	int rc = 0;

	for (; rc == 0 && *s; s++)
		rc = (*s == '"' || *s == '\\') ? buf_printf(b, "\\%c", *s) :
		     *s == '\n' ? buf_puts(b, "\\n") : buf_append(b, s, 1);
	return rc;
}

/* One series; money with 12 decimals (pico-USD), counts whole. */
static int metrics_series(struct buf *b, const char *name,
			  const char *model, bool money, double v)
{
	int rc = buf_printf(b, "%s{model=\"", name);

	if (rc == 0)
		rc = metrics_label(b, model);
	if (rc == 0)
		rc = buf_puts(b, "\"} ");
	if (rc == 0)
		rc = money ? buf_printf(b, "%.12f", v) :
			     buf_printf(b, "%.0f", v);
	return rc == 0 ? buf_puts(b, "\n") : rc;
}

static int metrics_render(struct analyticsd *a, struct buf *b)
{
	struct events_consumer_stat st[8];
	struct model_counter mc[ANALYTICSD_METRIC_MODELS];
	size_t n, i;
	int rc;

	pthread_mutex_lock(&a->counters_lock);
	n = a->ncounters;
	memcpy(mc, a->counters, n * sizeof(mc[0]));
	pthread_mutex_unlock(&a->counters_lock);
	rc = buf_puts(b, "# HELP analyticsd_requests_total Generations "
		      "consumed since start, by model.\n"
		      "# TYPE analyticsd_requests_total counter\n");
	for (i = 0; rc == 0 && i < n; i++)
		rc = metrics_series(b, "analyticsd_requests_total",
				    mc[i].model, false,
				    (double)mc[i].requests);
	if (rc == 0)
		rc = buf_puts(b, "# HELP analyticsd_prompt_tokens_total "
			      "Prompt tokens, by model.\n"
			      "# TYPE analyticsd_prompt_tokens_total counter\n");
	for (i = 0; rc == 0 && i < n; i++)
		rc = metrics_series(b, "analyticsd_prompt_tokens_total",
				    mc[i].model, false,
				    (double)mc[i].prompt_tokens);
	if (rc == 0)
		rc = buf_puts(b, "# HELP analyticsd_completion_tokens_total "
			      "Completion tokens, by model.\n"
			      "# TYPE analyticsd_completion_tokens_total "
			      "counter\n");
	for (i = 0; rc == 0 && i < n; i++)
		rc = metrics_series(b, "analyticsd_completion_tokens_total",
				    mc[i].model, false,
				    (double)mc[i].completion_tokens);
	if (rc == 0)
		rc = buf_puts(b, "# HELP analyticsd_cost_usd_total Cost in "
			      "USD of the priced models.\n"
			      "# TYPE analyticsd_cost_usd_total counter\n");
	for (i = 0; rc == 0 && i < n; i++)
		if (mc[i].unpriced == 0)
			rc = metrics_series(b, "analyticsd_cost_usd_total",
					    mc[i].model, true,
					    (double)mc[i].cost_pusd / 1e12);
	n = a->consumer ? events_consumer_stats(a->consumer, st, 8) : 0;
	if (rc == 0)
		rc = buf_puts(b, "# HELP analyticsd_consumer_lag Events a "
			      "producer has that analyticsd has not handled.\n"
			      "# TYPE analyticsd_consumer_lag gauge\n");
	for (i = 0; rc == 0 && i < n; i++)
		rc = buf_printf(b, "analyticsd_consumer_lag{producer=\"%s\"} "
				"%lld\n", st[i].producer,
				(long long)(st[i].head - st[i].pos));
	if (rc == 0)
		rc = buf_puts(b, "# HELP analyticsd_consumer_position The "
			      "position handled, per producer.\n"
			      "# TYPE analyticsd_consumer_position gauge\n");
	for (i = 0; rc == 0 && i < n; i++)
		rc = buf_printf(b, "analyticsd_consumer_position{producer="
				"\"%s\"} %lld\n", st[i].producer,
				(long long)st[i].pos);
	if (rc == 0)
		rc = buf_printf(b, "# HELP analyticsd_events_skipped_total "
				"Malformed events skipped.\n"
				"# TYPE analyticsd_events_skipped_total "
				"counter\nanalyticsd_events_skipped_total "
				"%llu\n", a->consumer ?
				(unsigned long long)events_consumer_skipped(
					a->consumer) : 0ULL);
	if (rc == 0)
		rc = buf_printf(b, "# HELP analyticsd_events_store_changes_total"
				" Producers found with a replaced store (their "
				"events read again from the start).\n"
				"# TYPE analyticsd_events_store_changes_total "
				"counter\nanalyticsd_events_store_changes_total"
				" %llu\n", a->consumer ? (unsigned long long)
				events_consumer_store_changes(a->consumer) :
				0ULL);
	return rc;
}

void metrics_handler(struct http_req *req, struct http_res *res)
{
	struct analyticsd *a = req->app;
	const char *auth = http_req_header(req, "authorization");
	struct buf b;
	size_t len = 0;
	char *text;

	if (!a->metrics_token) {
		http_res_error(res, 404, "not_found", "no route for '%s %s'",
			       req->method, req->path);
		return;
	}
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
	    !crypto_str_equal(auth + 7, a->metrics_token)) {
		http_res_header(res, "WWW-Authenticate", "Bearer");
		http_res_error(res, 401, "unauthorized",
			       "/metrics needs gatewayd.metrics_token");
		return;
	}
	buf_init(&b, METRICS_MAX_BYTES);
	if (metrics_render(a, &b) != 0) {
		buf_release(&b);
		http_res_error(res, 500, "internal", "cannot render metrics");
		return;
	}
	text = buf_detach(&b, &len);
	http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8",
		      text, len);
}
