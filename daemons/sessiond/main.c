/*
 * main.c - sessiond: device sessions, refresh-token families and the
 * revocation list.  The spec below (routes, migrations, config, cron) is
 * all daemon_main() needs; the handlers live in sessions.c, refresh.c and
 * revocations.c.
 *
 * Config keys:
 *   sessiond.refresh_ttl_s        refresh-token and session lifetime,
 *                                 sliding on each refresh (604800)
 *   sessiond.cleanup_interval_s   how often old rows are deleted (3600)
 *   sessiond.refresh_grace_s      how long a used refresh token still
 *                                 gets its unused successor again (10;
 *                                 0: never, any second use is reuse)
 *   userd.access_ttl_s            access-token lifetime: how far back the
 *                                 revocation list reaches (900)
 */
#include "sessiond.h"

#include <stdio.h>

#include "config.h"
#include "crypto.h"
#include "daemon-keys.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

/* The cron ticks every second; the cleanup itself runs far less often. */
#define SESSIOND_CRON_MS 1000

/* Worker thread: one cleanup pass, then allow the next. */
static void sessiond_cleanup_job(void *arg)
{
	struct sessiond *s = arg;
	struct db_conn *c = NULL;
	int64_t now = now_ms();
	int rc;

	sessions_cleanup(s, now);
	/* recorded revocations matter as long as the tokens they stop */
	rc = db_acquire(s->d.db, SESSIOND_DB_WAIT_MS, &c);
	if (rc == 0) {
		rc = feed_cleanup(c, now - SESSIOND_KEEP_MS);
		db_release(c);
	}
	if (rc < 0)
		log_warn("cannot clean up old revocations: %s",
			 chat_strerror(rc));
	atomic_store(&s->cleanup_running, false);
}

/* Loop thread: must not block, so the cleanup goes to the pool. */
static void sessiond_cron(void *app)
{
	struct sessiond *s = app;
	int64_t now = mono_ms();
	int rc;

	if (s->cleanup_last_ms != 0 &&
	    now - s->cleanup_last_ms < s->cleanup_interval_ms)
		return;
	if (atomic_exchange(&s->cleanup_running, true))
		return;		/* the previous pass is still going */
	s->cleanup_last_ms = now;
	rc = pool_submit(s->d.pool, sessiond_cleanup_job, s);
	if (rc < 0) {
		atomic_store(&s->cleanup_running, false);
		log_warn("cannot queue the cleanup: %s", chat_strerror(rc));
	}
}

static int sessiond_init(struct daemon *d, char *err, size_t errlen)
{
	struct sessiond *s = (struct sessiond *)d;
	long refresh_s = 0, cleanup_s = 0, access_s = 0, grace_s = 0;
	int rc;

	rc = crypto_init();
	if (rc < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return rc;
	}
	/* bounds and defaults: daemon_keys_sessiond, daemon_keys_common */
	rc = config_key_int(d->cfg, "sessiond.refresh_ttl_s", &refresh_s, err,
			    errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "sessiond.refresh_grace_s",
				    &grace_s, err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "sessiond.cleanup_interval_s",
				    &cleanup_s, err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "userd.access_ttl_s", &access_s,
				    err, errlen);
	if (rc < 0)
		return rc;
	s->refresh_ttl_ms = (int64_t)refresh_s * 1000;
	s->refresh_grace_ms = (int64_t)grace_s * 1000;
	s->cleanup_interval_ms = (int64_t)cleanup_s * 1000;
	s->access_ttl_ms = (int64_t)access_s * 1000;
	s->cleanup_last_ms = 0;
	atomic_init(&s->cleanup_running, false);
	rc = feed_new(s, &s->feed);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

static void sessiond_release(struct daemon *d)
{
	struct sessiond *s = (struct sessiond *)d;

	feed_free(s->feed);
	s->feed = NULL;
}

static const struct http_route sessiond_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "POST", "/internal/sessions", HTTP_PERM_INTERNAL,
	  sessions_create_handler, 0 },
	{ "POST", "/internal/refresh", HTTP_PERM_INTERNAL, refresh_handler,
	  0 },
	{ "POST", "/internal/refresh/session", HTTP_PERM_INTERNAL,
	  refresh_session_handler, 0 },
	{ "POST", "/internal/sessions/{id}/revoke", HTTP_PERM_INTERNAL,
	  revocations_session_handler, 0 },
	{ "POST", "/internal/users/{id}/revoke", HTTP_PERM_INTERNAL,
	  revocations_user_handler, 0 },
	{ "GET", "/internal/users/{id}/sessions", HTTP_PERM_INTERNAL,
	  export_sessions_handler, 0 },
	{ "POST", "/internal/users/{id}/erase", HTTP_PERM_INTERNAL,
	  admin_erase_sessions_handler, 0 },
	{ "GET", "/internal/revocations", HTTP_PERM_INTERNAL,
	  revocations_list_handler, 0 },
	{ "POST", "/internal/revocations", HTTP_PERM_INTERNAL,
	  revocations_record_handler, 0 },
	{ "GET", "/internal/revocations/feed", HTTP_PERM_INTERNAL,
	  feed_handler, 0 },
	/* sessions are managed from a session, never with an API key */
	{ "GET", "/v1/sessions", HTTP_PERM_GUEST, sessions_list_handler,
	  HTTP_ROUTE_SESSION },
	{ "DELETE", "/v1/sessions/{id}", HTTP_PERM_GUEST,
	  sessions_delete_handler, HTTP_ROUTE_SESSION },
	{ "GET", "/v1/admin/sessions", HTTP_PERM_ADMIN,
	  admin_sessions_list_handler, 0 },
	{ "DELETE", "/v1/admin/sessions/{id}", HTTP_PERM_ADMIN,
	  admin_sessions_delete_handler, 0 },
};

/* Not const: the migration count is only known at link time. */
static struct daemon_spec sessiond_spec = {
	.name = "sessiond",
	.keys = daemon_keys_sessiond,
	.routes = sessiond_routes,
	.nroutes = sizeof(sessiond_routes) / sizeof(sessiond_routes[0]),
	.migrations = migrations_table,
	.app_size = sizeof(struct sessiond),
	.events = 1,		/* its outbox: events.h */
	.init = sessiond_init,
	.release = sessiond_release,
	.cron = sessiond_cron,
	.cron_ms = SESSIOND_CRON_MS,
};

int main(int argc, char **argv)
{
	sessiond_spec.nmigrations = migrations_count;
	return daemon_main(argc, argv, &sessiond_spec);
}
