/*
 * main.c - analyticsd: usage analytics from the event backbone (issue
 * 13).  It consumes the events of userd, sessiond, chatd and aid
 * (events-consumer.h) into rollups per day x user x model and per day,
 * and answers the usage, summary, live-tail and metrics routes.
 *
 * Options beyond daemon_main's: --rebuild rebuilds every rollup at start
 * (as POST /v1/admin/analytics/rebuild does while running): the events
 * the inbox kept are applied again, and the consumer asks each producer
 * again from position 0, adding whatever their retention kept that the
 * inbox lacks (the producers prune what every consumer has read, so the
 * inbox's copy is what makes a rebuild give the same totals).  With
 * analyticsd.inbox_retention_days the inbox keeps only that many days
 * (retain.c): a rebuild then recomputes the days from the inbox's
 * horizon on and keeps the rollups of the days before as they are.
 *
 * Config keys:
 *   price.MODEL.input   USD per million prompt tokens of MODEL
 *   price.MODEL.output  USD per million completion tokens
 *   (a model without both has no price: its cost is unknown, never 0)
 *   gatewayd.metrics_token  bearer token of /metrics (unset: no route)
 *   analyticsd.inbox_retention_days  days of events the inbox keeps
 */
#include "analyticsd.h"

#include <stdio.h>
#include <string.h>

#include "daemon-keys.h"
#include "err.h"
#include "events-consumer.h"
#include "log.h"
#include "banned.h"

#define ANALYTICSD_CRON_MS 1000
/* nice of the consumer's threads: they yield the CPU to the daemons
 * answering requests (the send path's, issue 13) and catch up when it
 * is free; the routes' threads keep the daemon's own */
#define ANALYTICSD_CONSUMER_NICE 10

const char *const analyticsd_producers[] = {
	"userd", "sessiond", "chatd", "aid", NULL,
};

static bool analyticsd_rebuild_at_start;

/* config_each: "MODEL.input" / "MODEL.output" of section price. */
struct price_ctx {
	struct prices *prices;
	int rc;
	char *err;
	size_t errlen;
};

static void price_key(void *arg, const char *key, const char *value)
{
	struct price_ctx *ctx = arg;
	const char *dot = strrchr(key, '.');
	struct price *p = NULL;
	size_t mlen, i;
	int64_t micro = 0;
	bool input;

	if (ctx->rc < 0 || !dot)
		return;
	mlen = (size_t)(dot - key);
	input = strcmp(dot + 1, "input") == 0;
	if (mlen == 0 || mlen >= ANALYTICSD_MODEL_MAX ||
	    (!input && strcmp(dot + 1, "output") != 0))
		return;		/* the schema refused it already */
	if (rollup_price_parse(value, &micro) < 0) {
		chat_errf(ctx->err, ctx->errlen, "config: 'price.%s' must be "
			  "USD per million tokens (such as 2.5), not '%s'",
			  key, value);
		ctx->rc = CHAT_EINVAL;
		return;
	}
	for (i = 0; i < ctx->prices->n; i++)
		if (strlen(ctx->prices->p[i].model) == mlen &&
		    memcmp(ctx->prices->p[i].model, key, mlen) == 0)
			p = &ctx->prices->p[i];
	if (!p) {
		if (ctx->prices->n == ANALYTICSD_MAX_PRICES) {
			chat_errf(ctx->err, ctx->errlen, "config: more than "
				  "%d priced models", ANALYTICSD_MAX_PRICES);
			ctx->rc = CHAT_ETOOBIG;
			return;
		}
		p = &ctx->prices->p[ctx->prices->n++];
		memcpy(p->model, key, mlen);
		p->model[mlen] = '\0';
		p->input_micro = p->output_micro = -1;
	}
	if (input)
		p->input_micro = micro;
	else
		p->output_micro = micro;
}

/* Reads the price table; a model with one of its two prices is an
 * error (half a price would give a wrong cost). */
static int prices_load(struct analyticsd *a, char *err, size_t errlen)
{
	struct price_ctx ctx = { &a->prices, 0, err, errlen };
	size_t i;

	config_each_under(a->d.cfg, "price", price_key, &ctx);
	if (ctx.rc < 0)
		return ctx.rc;
	for (i = 0; i < a->prices.n; i++)
		if (a->prices.p[i].input_micro < 0 ||
		    a->prices.p[i].output_micro < 0) {
			chat_errf(err, errlen, "config: model '%s' needs both "
				  "price.%s.input and price.%s.output",
				  a->prices.p[i].model, a->prices.p[i].model,
				  a->prices.p[i].model);
			return CHAT_EINVAL;
		}
	return 0;
}

/* The rebuild's transaction: the rollups from the horizon on cleared,
 * the kept events applied again, the cursors back to 0.  The consumer
 * is stopped, and rebuild_lock held (the pruning waits). */
static int analyticsd_clear(struct analyticsd *a, int64_t *from)
{
	int64_t horizon = atomic_load(&a->horizon), n = 0;
	char day[DAY_LEN];
	struct db_conn *c = NULL;
	bool begun = false;
	int rc;

	rc = db_acquire(a->d.db, DAEMON_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_begin(c);
	if (rc == 0)
		rc = rollup_clear(c, horizon);
	if (rc == 0) {
		rc = rollup_batch_begin(a, c);
		begun = rc == 0;
	}
	if (rc == 0)
		rc = rollup_replay(a, c, &n);
	if (begun) {
		begun = false;
		rc = rollup_batch_end(a, c, rc == 0);
	}
	if (rc == 0)
		rc = db_exec(c, "UPDATE event_cursors SET pos = 0", NULL, 0,
			     NULL);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0)
		return rc;
	*from = horizon;
	range_day_format(horizon, day);
	if (horizon > 0)
		log_info("rollups rebuilt from %lld kept events, from %s on;"
			 " the days before kept as they were (the inbox's"
			 " retention)", (long long)n, day);
	else
		log_info("rollups rebuilt from %lld kept events",
			 (long long)n);
	pthread_mutex_lock(&a->counters_lock);
	a->ncounters = 0;
	pthread_mutex_unlock(&a->counters_lock);
	return 0;
}

/* events_applied_fn: after the batch committed. */
static void analyticsd_applied(void *app, const cJSON *event)
{
	struct analyticsd *a = app;
	struct rollup_delta d;

	if (rollup_from_event(&a->prices, event, &d) == 0)
		metrics_count(a, &d);
	tail_publish(a, event);
}

int analyticsd_rebuild(struct analyticsd *a, int64_t *from)
{
	int rc, rc2;

	*from = 0;
	pthread_mutex_lock(&a->rebuild_lock);
	events_consumer_stop(a->consumer);
	rc = analyticsd_clear(a, from);
	/* started again in any case: a failed clear changed nothing */
	rc2 = events_consumer_start(a->consumer);
	pthread_mutex_unlock(&a->rebuild_lock);
	return rc < 0 ? rc : rc2;
}

static void analyticsd_cron(void *app)
{
	struct analyticsd *a = app;

	tail_cron(a->tail);
	retain_cron(a);
}

static int analyticsd_init(struct daemon *d, char *err, size_t errlen)
{
	struct analyticsd *a = (struct analyticsd *)d;
	struct events_consumer_config cc = {
		.name = "analyticsd",
		.producers = analyticsd_producers,
		.handle = rollup_handle,
		.on_applied = analyticsd_applied,
		.app = a,
		.keep_events = 1,
		/* the largest batches the producers give: a batch's sums
		 * are written once (agg.c) */
		.limit = EVENTS_PULL_LIMIT_MAX,
		/* on Kafka larger still: a batch's commit writes each
		 * rollup page it touched once, whatever its events */
		.kafka_limit = ANALYTICSD_KAFKA_BATCH,
		.batch_begin = rollup_batch_begin,
		.batch_end = rollup_batch_end,
		/* the consumer's threads only; a rebuild's batch runs on a
		 * route's thread */
		.nice = ANALYTICSD_CONSUMER_NICE,
	};
	int rc;

	pthread_mutex_init(&a->rebuild_lock, NULL);
	pthread_mutex_init(&a->counters_lock, NULL);
	a->metrics_token = config_key_str(d->cfg, "gatewayd.metrics_token");
	rc = prices_load(a, err, errlen);
	if (rc < 0)
		return rc;
	rc = retain_init(a, err, errlen);
	if (rc < 0)
		return rc;
	rc = tail_new(&a->tail);
	if (rc < 0) {
		chat_errf(err, errlen, "out of memory");
		return rc;
	}
	if (analyticsd_rebuild_at_start) {
		int64_t from = 0;

		rc = analyticsd_clear(a, &from);
		if (rc < 0) {
			chat_errf(err, errlen, "cannot clear the rollups: %s",
				  chat_strerror(rc));
			return rc;
		}
		log_info("rollups rebuilt (--rebuild)");
	}
	rc = events_consumer_new(d, &cc, &a->consumer, err, errlen);
	if (rc == 0)
		rc = events_consumer_start(a->consumer);
	if (rc < 0 && !*err)
		chat_errf(err, errlen, "cannot start the events consumer: %s",
			  chat_strerror(rc));
	return rc;
}

static void analyticsd_release(struct daemon *d)
{
	struct analyticsd *a = (struct analyticsd *)d;

	/* the consumer first: its threads write to the tail's streams */
	events_consumer_free(a->consumer);
	a->consumer = NULL;
	tail_free(a->tail);
	a->tail = NULL;
	pthread_mutex_destroy(&a->counters_lock);
	pthread_mutex_destroy(&a->rebuild_lock);
}

static const struct http_route analyticsd_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "GET", "/metrics", HTTP_PERM_PUBLIC, metrics_handler, 0 },
	{ "GET", "/v1/users/me/usage", HTTP_PERM_USER, usage_me_handler, 0 },
	{ "GET", "/v1/admin/analytics/summary", HTTP_PERM_ADMIN,
	  usage_summary_handler, 0 },
	{ "GET", "/v1/admin/analytics/usage", HTTP_PERM_ADMIN,
	  usage_admin_handler, 0 },
	{ "POST", "/v1/admin/analytics/rebuild", HTTP_PERM_ADMIN,
	  usage_rebuild_handler, 0 },
	{ "GET", "/v1/admin/events", HTTP_PERM_ADMIN, tail_handler, 0 },
};

/* Not const: the migration count is only known at link time. */
static struct daemon_spec analyticsd_spec = {
	.name = "analyticsd",
	.keys = daemon_keys_analyticsd,
	.routes = analyticsd_routes,
	.nroutes = sizeof(analyticsd_routes) / sizeof(analyticsd_routes[0]),
	.migrations = analyticsd_migrations,
	.app_size = sizeof(struct analyticsd),
	.init = analyticsd_init,
	.release = analyticsd_release,
	.cron = analyticsd_cron,
	.cron_ms = ANALYTICSD_CRON_MS,
};

int main(int argc, char **argv)
{
	int i, n = 1;

	/* --rebuild is ours; daemon_main reads the rest */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rebuild") == 0)
			analyticsd_rebuild_at_start = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	analyticsd_spec.nmigrations = analyticsd_migrations_count;
	return daemon_main(n, argv, &analyticsd_spec);
}
