/*
 * user-events.c - userd's events (events.h, docs/events.md).
 *
 * A change of the users or api_keys tables writes its event with
 * user_event() in the change's own transaction.  A login changes nothing
 * in userd's store (the session is sessiond's), so chat.user.logged_in
 * and chat.user.login_failed would need a transaction, and an fsync, of
 * their own on the login path: instead user_event_login() queues them in
 * memory and one worker job writes the queue in one transaction about
 * USER_EVENTS_FLUSH_MS later (as aid's usage rows are batched).  The
 * price, said in docs/events.md: a crash loses at most that window's
 * login events, and a flood past USER_EVENTS_QUEUE_MAX per window drops
 * the excess (counted, logged).  The event's time is the flush's; the
 * login's own time is in data.at.
 *
 * Never a secret in data: no password (not even a wrong one), hash,
 * token or key; a key's shown prefix and its name only.
 */
#include "userd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

/* ---- events in the change's transaction ------------------------------- */

int user_event(struct userd *ud, struct db_conn *c, const char *type,
	       const char *user_id, const char *subject,
	       const char *const *kv)
{
	cJSON *data = cJSON_CreateObject();
	int rc = 0;

	if (!data)
		return CHAT_ENOMEM;
	for (; kv && kv[0]; kv += 2) {
		if (!kv[1])
			continue;
		if (!cJSON_AddStringToObject(data, kv[0], kv[1])) {
			rc = CHAT_ENOMEM;
			goto out;
		}
	}
	rc = events_emit(c, &ud->d, type, user_id, subject, data);
	if (rc < 0)
		log_warn("cannot record event %s: %s", type,
			 chat_strerror(rc));
out:
	cJSON_Delete(data);
	return rc;
}

/* ---- login outcomes, batched ------------------------------------------ */

/* Worker: writes what is queued in one transaction. */
static void user_events_flush_job(void *arg)
{
	struct userd *ud = arg;

	user_events_flush(ud);
}

/* Loop thread: the window is over, a worker writes it. */
static void user_events_flush_due(void *arg)
{
	struct userd *ud = arg;
	struct user_login_queue *q = &ud->logins;

	if (pool_submit(ud->d.pool, user_events_flush_job, ud) == 0)
		return;
	/* the queue stays; the next login arms the timer again */
	pthread_mutex_lock(&q->lock);
	q->armed = false;
	pthread_mutex_unlock(&q->lock);
	log_warn("cannot queue the login events' write");
}

void user_event_login(struct userd *ud, const char *type,
		      const char *user_id, const char *username,
		      const char *address, const char *reason)
{
	struct user_login_queue *q = &ud->logins;
	struct user_login_event *e;
	bool arm = false;

	pthread_mutex_lock(&q->lock);
	if (q->n >= USER_EVENTS_QUEUE_MAX) {
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		return;
	}
	e = &q->items[q->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->type, sizeof(e->type), "%s", type);
	snprintf(e->user_id, sizeof(e->user_id), "%s", user_id ? user_id : "");
	snprintf(e->username, sizeof(e->username), "%s",
		 username ? username : "");
	snprintf(e->address, sizeof(e->address), "%s",
		 address ? address : "");
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	e->at = now_ms();
	if (!q->armed) {
		q->armed = true;
		arm = true;
	}
	pthread_mutex_unlock(&q->lock);
	if (arm && http_server_after(ud->d.server, USER_EVENTS_FLUSH_MS,
				     user_events_flush_due, ud) < 0) {
		pthread_mutex_lock(&q->lock);
		q->armed = false;
		pthread_mutex_unlock(&q->lock);
	}
}

/* One queued login outcome as its event. */
static int user_events_write_one(struct userd *ud, struct db_conn *c,
				 const struct user_login_event *e)
{
	cJSON *data = cJSON_CreateObject();
	int rc = 0;

	if (!data)
		return CHAT_ENOMEM;
	if ((e->username[0] &&
	     !cJSON_AddStringToObject(data, "username", e->username)) ||
	    (e->address[0] &&
	     !cJSON_AddStringToObject(data, "address", e->address)) ||
	    (e->reason[0] &&
	     !cJSON_AddStringToObject(data, "reason", e->reason)) ||
	    !json_add_time(data, "at", e->at)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = events_emit(c, &ud->d, e->type, e->user_id[0] ? e->user_id : NULL,
			 NULL, data);
out:
	cJSON_Delete(data);
	return rc;
}

void user_events_flush(struct userd *ud)
{
	struct user_login_queue *q = &ud->logins;
	struct user_login_event *items = NULL;
	struct db_conn *c = NULL;
	size_t n, i;
	uint64_t dropped;
	int rc;

	pthread_mutex_lock(&q->lock);
	n = q->n;
	dropped = q->dropped;
	q->dropped = 0;
	q->armed = false;
	if (n > 0) {
		items = malloc(n * sizeof(*items));
		if (items) {
			memcpy(items, q->items, n * sizeof(*items));
			q->n = 0;
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (dropped)
		log_warn("dropped %llu login events (more than %d in %d ms)",
			 (unsigned long long)dropped, USER_EVENTS_QUEUE_MAX,
			 USER_EVENTS_FLUSH_MS);
	if (n == 0)
		return;
	if (!items) {
		log_warn("cannot write the login events: %s",
			 chat_strerror(CHAT_ENOMEM));
		return;
	}
	rc = db_acquire(ud->d.db, USERD_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_begin(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = user_events_write_one(ud, c, &items[i]);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		log_warn("cannot write %zu login events: %s", n,
			 chat_strerror(rc));
		if (c)
			db_rollback(c);
	}
	if (c)
		db_release(c);
	free(items);
}

int user_events_init(struct userd *ud)
{
	struct user_login_queue *q = &ud->logins;

	q->items = calloc(USER_EVENTS_QUEUE_MAX, sizeof(*q->items));
	if (!q->items)
		return CHAT_ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->ready = true;
	return 0;
}

void user_events_release(struct userd *ud)
{
	struct user_login_queue *q = &ud->logins;

	if (!q->ready)
		return;
	user_events_flush(ud);
	pthread_mutex_destroy(&q->lock);
	free(q->items);
	q->items = NULL;
	q->ready = false;
}
