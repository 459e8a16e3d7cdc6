/*
 * main.c - chatd: conversations, the message tree, generations run
 * server-side against aid, and live delivery over SSE and WebSocket.
 * The spec below (routes, migrations, init, cron) is all daemon_main()
 * needs; the handlers live in conversations.c, send.c and ws.c.
 *
 * Peers: aid (generations and titles, <aid.url> or the stack's port + 4)
 * and userd (<userd.url> or port + 1).
 *
 * Every chat route needs role user or admin (HTTP_PERM_USER), as userd's
 * API keys do: a guest account cannot chat.
 */
#include "chatd.h"

#include <stdatomic.h>
#include <stdio.h>

#include "daemon-keys.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

/* The cron ticks every second (live housekeeping); the expiry of
 * idempotency keys runs far less often. */
#define CHATD_CRON_MS 1000
#define CHATD_IDEM_CLEANUP_MS (3600LL * 1000)

/* Loop thread only, except idem_running (the job clears it). */
static int64_t chatd_idem_last_ms;
static atomic_bool chatd_idem_running;

/* Worker thread: one expiry pass of the idempotency keys. */
static void chatd_idem_job(void *arg)
{
	struct chatd *cd = arg;
	struct db_conn *c = NULL;
	int rc;

	rc = db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc == 0) {
		rc = store_idem_cleanup(c, now_ms() - CHATD_IDEM_KEEP_MS);
		db_release(c);
	}
	if (rc < 0)
		log_warn("cannot expire idempotency keys: %s",
			 chat_strerror(rc));
	atomic_store(&chatd_idem_running, false);
}

/* Loop thread: must not block, so the store work goes to the pool. */
static void chatd_cron(void *app)
{
	struct chatd *cd = app;
	int64_t now = mono_ms();
	int rc;

	live_cron(cd);
	if (chatd_idem_last_ms != 0 &&
	    now - chatd_idem_last_ms < CHATD_IDEM_CLEANUP_MS)
		return;
	if (atomic_exchange(&chatd_idem_running, true))
		return;		/* the previous pass is still going */
	chatd_idem_last_ms = now;
	rc = pool_submit(cd->d.pool, chatd_idem_job, cd);
	if (rc < 0) {
		atomic_store(&chatd_idem_running, false);
		log_warn("cannot queue the idempotency cleanup: %s",
			 chat_strerror(rc));
	}
}

/* Marks what a previous run left half-done (no generation survives a
 * restart). */
static int chatd_recover(struct chatd *cd, char *err, size_t errlen)
{
	struct db_conn *c = NULL;
	int rc;

	rc = db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc == 0) {
		rc = store_mark_interrupted(c, now_ms());
		db_release(c);
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot mark interrupted messages: %s",
			 chat_strerror(rc));
	return rc;
}

static int chatd_init(struct daemon *d, char *err, size_t errlen)
{
	struct chatd *cd = (struct chatd *)d;
	int rc;

	rc = daemon_peer_url(d, "aid", cd->aid_url, sizeof(cd->aid_url));
	if (rc < 0) {
		snprintf(err, errlen, "cannot find the address of 'aid'");
		return rc;
	}
	rc = daemon_peer_url(d, "userd", cd->userd_url,
			     sizeof(cd->userd_url));
	if (rc < 0) {
		snprintf(err, errlen, "cannot find the address of 'userd'");
		return rc;
	}
	chatd_idem_last_ms = 0;
	atomic_init(&chatd_idem_running, false);
	rc = model_check_new(&cd->models);
	if (rc < 0) {
		snprintf(err, errlen, "no memory for the model check");
		return rc;
	}
	rc = chatd_recover(cd, err, errlen);
	if (rc == 0)
		rc = live_init(cd, err, errlen);
	if (rc == 0) {
		rc = notify_start(cd, err, errlen);
		if (rc < 0)
			live_release(cd);
	}
	if (rc < 0) {
		/* no release follows a failed init */
		model_check_free(cd->models);
		cd->models = NULL;
	}
	return rc;
}

static void chatd_release(struct daemon *d)
{
	struct chatd *cd = (struct chatd *)d;

	/* the consumer first: it publishes to live's hub */
	notify_stop(cd);
	live_release(cd);
	model_check_free(cd->models);
	cd->models = NULL;
}

static const struct http_route chatd_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "POST", "/v1/conversations", HTTP_PERM_USER, conv_create_handler,
	  0 },
	{ "GET", "/v1/conversations", HTTP_PERM_USER, conv_list_handler, 0 },
	{ "GET", "/v1/conversations/{id}", HTTP_PERM_USER, conv_get_handler,
	  0 },
	{ "GET", "/v1/conversations/{id}/branch", HTTP_PERM_USER,
	  conv_branch_handler, 0 },
	{ "GET", "/v1/conversations/{id}/export", HTTP_PERM_USER,
	  export_conversation_handler, 0 },
	{ "POST", "/v1/conversations/import", HTTP_PERM_USER,
	  import_conversation_handler, 0 },
	{ "PATCH", "/v1/conversations/{id}", HTTP_PERM_USER,
	  conv_patch_handler, 0 },
	{ "DELETE", "/v1/conversations/{id}", HTTP_PERM_USER,
	  conv_delete_handler, 0 },
	{ "POST", "/v1/conversations/{id}/messages", HTTP_PERM_USER,
	  send_message_handler, 0 },
	{ "POST", "/v1/conversations/{id}/messages/{mid}/regenerate",
	  HTTP_PERM_USER, send_regenerate_handler, 0 },
	{ "POST", "/v1/conversations/{id}/stop", HTTP_PERM_USER,
	  send_stop_handler, 0 },
	{ "GET", "/v1/conversations/{id}/events", HTTP_PERM_USER,
	  send_events_handler, 0 },
	{ "GET", "/v1/ws", HTTP_PERM_USER, ws_open_handler,
	  HTTP_ROUTE_WEBSOCKET | HTTP_ROUTE_ON_LOOP },
	{ "GET", "/internal/users/{id}/conversations", HTTP_PERM_INTERNAL,
	  export_conversations_handler, 0 },
	{ "POST", "/internal/users/{id}/erase", HTTP_PERM_INTERNAL,
	  erase_user_handler, 0 },
};

static const struct daemon_spec chatd_spec = {
	.name = "chatd",
	.keys = daemon_keys_common,	/* chatd has no keys of its own */
	.routes = chatd_routes,
	.nroutes = sizeof(chatd_routes) / sizeof(chatd_routes[0]),
	.migrations = chatd_migrations,
	.app_size = sizeof(struct chatd),
	.events = 1,		/* its outbox: events.h */
	.init = chatd_init,
	.release = chatd_release,
	.cron = chatd_cron,
	.cron_ms = CHATD_CRON_MS,
};

int main(int argc, char **argv)
{
	struct daemon_spec spec = chatd_spec;

	/* chatd_migrations_count is not a constant expression */
	spec.nmigrations = chatd_migrations_count;
	return daemon_main(argc, argv, &spec);
}
