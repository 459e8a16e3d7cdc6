/*
 * main.c - notifyd: notifications from the event backbone (issue 15,
 * its first part: the in-app channel).  It consumes the events of userd,
 * sessiond and chatd (events-consumer.h, the embedded pull or Kafka alike)
 * into in-app notifications by the rules of rules.c, stores the admin's
 * broadcasts, and answers the notification and preference routes.
 *
 * Email, webhooks and their delivery queue come later; the categories
 * and channels of a notification (prefs.c) are already the ones they
 * will use.
 */
#include "notifyd.h"
#include "mail.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events-consumer.h"
#include "log.h"
#include "webhook.h"
#include "banned.h"

const char *const notifyd_producers[] = {
	/* chatd: chat.message.finished, the answers that ended while the
	 * user was away */
	"userd", "sessiond", "chatd", NULL,
};

/* After a batch committed: its webhook jobs to the deliverers in memory
 * (this thread's: the first call of the batch gives them all), and a
 * kick when it put jobs the store's takers must find. */
static void notifyd_applied(void *app, const cJSON *event)
{
	struct notifyd *n = app;

	(void)event;
	webhooks_committed(n->wh, true);
	if (atomic_exchange(&n->wh_put, false))
		webhooks_kick(n->wh);
	/* and the mail thread when the batch stored mails: a kick starts
	 * it, so not after every batch */
	if (atomic_exchange(&n->mail_put, false))
		mailer_kick(n->mailer);
}

/* A batch's start, after its BEGIN, and a rolled-back batch: jobs this
 * thread noted for a hand-over whose commit failed are forgotten (they
 * are not in the store, or are leased there and come back with their
 * lease if the commit's outcome was unknown). */
static int notifyd_batch_begin(void *app, struct db_conn *c)
{
	struct notifyd *n = app;

	(void)c;
	webhooks_committed(n->wh, false);
	return 0;
}

static int notifyd_batch_end(void *app, struct db_conn *c, int ok)
{
	struct notifyd *n = app;

	(void)c;
	if (!ok)
		webhooks_committed(n->wh, false);
	return 0;
}

static int notifyd_init(struct daemon *d, char *err, size_t errlen)
{
	struct notifyd *n = (struct notifyd *)d;
	struct events_consumer_config cc = {
		.name = "notifyd",
		.producers = notifyd_producers,
		.handle = store_handle,
		.on_applied = notifyd_applied,
		.batch_begin = notifyd_batch_begin,
		.batch_end = notifyd_batch_end,
		.app = n,
	};
	struct mail_config mc;
	long long_ms = 0;
	int rc;

	rc = config_key_int(d->cfg, "notifyd.long_generation_ms", &long_ms,
			    err, errlen);
	if (rc < 0)
		return rc;
	n->long_generation_ms = long_ms;
	/* the deliverers first: the consumer's handler puts their jobs */
	rc = webhooks_new(d, &n->wh, err, errlen);
	if (rc < 0)
		return rc;
	rc = mail_config_load(d, &mc, err, errlen);
	if (rc == 0)
		rc = mailer_new(d, &mc, &n->mailer, err, errlen);
	if (rc < 0)
		return rc;
	rc = events_consumer_new(d, &cc, &n->consumer, err, errlen);
	if (rc == 0)
		rc = events_consumer_start(n->consumer);
	if (rc < 0 && !*err)
		chat_errf(err, errlen, "cannot start the events consumer: %s",
			  chat_strerror(rc));
	return rc;
}

static void notifyd_release(struct daemon *d)
{
	struct notifyd *n = (struct notifyd *)d;

	events_consumer_free(n->consumer);
	n->consumer = NULL;
	mailer_free(n->mailer);
	n->mailer = NULL;
	webhooks_free(n->wh);
	n->wh = NULL;
}

static const struct http_route notifyd_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "GET", "/v1/notifications", HTTP_PERM_USER, api_list_handler, 0 },
	{ "POST", "/v1/notifications/read-all", HTTP_PERM_USER,
	  api_read_all_handler, 0 },
	{ "GET", "/v1/notifications/preferences", HTTP_PERM_USER,
	  prefs_get_handler, 0 },
	{ "PUT", "/v1/notifications/preferences", HTTP_PERM_USER,
	  prefs_put_handler, 0 },
	{ "POST", "/v1/notifications/{id}/read", HTTP_PERM_USER,
	  api_read_handler, 0 },
	/* the mails' one-click unsubscribe: the token is the credential */
	{ "GET", "/v1/notifications/unsubscribe", HTTP_PERM_PUBLIC,
	  mail_unsub_page_handler, 0 },
	{ "POST", "/v1/notifications/unsubscribe", HTTP_PERM_PUBLIC,
	  mail_unsub_handler, 0 },
	/* userd's code mails */
	{ "POST", "/internal/mail", HTTP_PERM_INTERNAL, mail_api_handler, 0 },
	{ "GET", "/v1/webhooks", HTTP_PERM_USER, wh_list_handler, 0 },
	{ "POST", "/v1/webhooks", HTTP_PERM_USER, wh_create_handler, 0 },
	{ "GET", "/v1/webhooks/{id}", HTTP_PERM_USER, wh_get_handler, 0 },
	{ "PATCH", "/v1/webhooks/{id}", HTTP_PERM_USER, wh_patch_handler, 0 },
	{ "DELETE", "/v1/webhooks/{id}", HTTP_PERM_USER, wh_delete_handler,
	  0 },
	{ "GET", "/v1/webhooks/{id}/deliveries", HTTP_PERM_USER,
	  wh_deliveries_handler, 0 },
	{ "POST", "/v1/webhooks/{id}/messages/{msg}/redeliver",
	  HTTP_PERM_USER, wh_redeliver_msg_handler, 0 },
	{ "POST", "/v1/webhooks/{id}/redeliver", HTTP_PERM_USER,
	  wh_redeliver_since_handler, 0 },
	{ "POST", "/v1/webhooks/{id}/rotate-secret", HTTP_PERM_USER,
	  wh_rotate_handler, 0 },
	{ "POST", "/v1/webhooks/{id}/test", HTTP_PERM_USER, wh_test_handler,
	  0 },
	{ "POST", "/v1/admin/broadcast", HTTP_PERM_ADMIN,
	  broadcast_post_handler, 0 },
};

/* Not const: the migration count is only known at link time. */
static struct daemon_spec notifyd_spec = {
	.name = "notifyd",
	.routes = notifyd_routes,
	.nroutes = sizeof(notifyd_routes) / sizeof(notifyd_routes[0]),
	.migrations = notifyd_migrations,
	.app_size = sizeof(struct notifyd),
	.init = notifyd_init,
	.release = notifyd_release,
	/* its outbox: chat.notification.created for chatd's live push */
	.events = 1,
	/* the gateway's and the daemons' calls only, no client's socket:
	 * libwebsockets' tables for 1,024 descriptors are 16 KiB, for the
	 * default limit (ulimit -n: 20,000 here, 1,048,576 in containers)
	 * 320 KiB to 16 MiB of an idle notifyd's RSS */
	.max_fds = 1024,
};

/* glibc's malloc gives each thread that allocates an arena of its own
 * (up to 8 a core), about 20 to 300 KiB resident each even when idle;
 * notifyd's threads (the worker pool, a pull per producer, the delivery
 * threads) mostly wait, and their hot small allocations come from each
 * thread's tcache without an arena lock.  Two arenas keep an idle
 * notifyd under issue 15's 8 MiB (docs/PERFORMANCE.md); the operator's
 * MALLOC_ARENA_MAX, when set, wins. */
#define NOTIFYD_ARENA_MAX 2

int main(int argc, char **argv)
{
	if (!getenv("MALLOC_ARENA_MAX"))
		(void)mallopt(M_ARENA_MAX, NOTIFYD_ARENA_MAX);
	notifyd_spec.nmigrations = notifyd_migrations_count;
	return daemon_main(argc, argv, &notifyd_spec);
}
