/*
 * store.c - the consumer's handler: an event's notice (rules.c) into
 * notifyd's store, inside the consumer's batch transaction, beside the
 * event's inbox row (events-consumer.h): a redelivered event finds its
 * inbox row and is skipped, so each event makes its notification once,
 * also across a crash.
 *
 * What the store decides beyond the rule:
 *   - a sign-in is a new device only when the user's devices (the user
 *     agents of their sessions so far) do not hold it; the first device
 *     of an account is recorded without an alert: signing up is no
 *     surprise to anyone;
 *   - an answer that ended while the user was away (rules.c) is news
 *     only when it took notifyd.long_generation_ms or more;
 *   - a category whose in-app channel the user switched off makes no
 *     in-app notification (security cannot be switched off);
 *   - a category with its email channel on (security always) stores a
 *     mail job beside the notification (mail.h), when mail is on;
 *   - chat.user.deleted erases what notifyd holds of the user and
 *     records the erasure, so that a later event of a producer that had
 *     not heard of it yet stores nothing again.
 *
 * Each notification made also writes chat.notification.created to
 * notifyd's own outbox in the same transaction (docs/events.md): chatd
 * consumes it to push the notification to the user's WebSockets.
 */
#include "notifyd.h"
#include "mail.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "json.h"
#include "util.h"
#include "uuid.h"
#include "webhook.h"
#include "banned.h"

static const char sql_erased[] =
	"SELECT 1 FROM erased WHERE user_id = $1";
static const char sql_device_add[] =
	"INSERT INTO devices (user_id, device, first_ms) VALUES ($1, $2, $3)"
	" ON CONFLICT (user_id, device) DO NOTHING";
static const char sql_devices_count[] =
	"SELECT COUNT(*) FROM devices WHERE user_id = $1";
static const char sql_notification_add[] =
	"INSERT INTO notifications (id, user_id, category, kind, title, body,"
	" data, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/* What chat.user.deleted removes, every statement with $1 the user. */
static const char *const sql_erase[] = {
	"DELETE FROM notifications WHERE user_id = $1",
	"DELETE FROM devices WHERE user_id = $1",
	"DELETE FROM mail_jobs WHERE user_id = $1",
	"DELETE FROM mail_unsubscribed WHERE user_id = $1",
	"DELETE FROM preferences WHERE user_id = $1",
	"DELETE FROM broadcast_reads WHERE user_id = $1",
	/* the user's webhooks: the log and jobs of their endpoints, then
	 * the endpoints, and every message about the user (a system
	 * endpoint's too: its pending jobs find no message and end) */
	"DELETE FROM webhook_attempts WHERE endpoint_id IN"
	" (SELECT id FROM webhook_endpoints WHERE user_id = $1)",
	"DELETE FROM webhook_jobs WHERE endpoint_id IN"
	" (SELECT id FROM webhook_endpoints WHERE user_id = $1)",
	"DELETE FROM webhook_endpoints WHERE user_id = $1",
	"DELETE FROM webhook_messages WHERE user_id = $1",
	"UPDATE inbox SET user_id = NULL WHERE user_id = $1",
	"UPDATE broadcasts SET by_user = '' WHERE by_user = $1",
	"INSERT INTO erased (user_id, erased_at) VALUES ($1, $2)"
	" ON CONFLICT (user_id) DO NOTHING",
};

static int store_erase(struct notifyd *nd, struct db_conn *c,
		       const char *user_id)
{
	struct db_param p[2] = { db_p_text(user_id), DB_P_INT(now_ms()) };
	size_t i;
	int rc;

	/* the user's chat.notification.created rows too */
	rc = events_erase_user(c, &nd->d, user_id);

	for (i = 0; rc == 0 && i < sizeof(sql_erase) / sizeof(sql_erase[0]);
	     i++)
		rc = db_exec(c, sql_erase[i], p,
			     strstr(sql_erase[i], "$2") ? 2 : 1, NULL);
	return rc;
}

static int store_is_erased(struct db_conn *c, const char *user_id,
			   bool *yes)
{
	struct db_rows *r = NULL;
	struct db_param p[1] = { db_p_text(user_id) };
	int rc = db_query(c, sql_erased, p, 1, &r);

	*yes = rc == 0 && db_rows_count(r) > 0;
	db_rows_free(r);
	return rc;
}

/* *alert: the sign-in's device is new, and not the account's first. */
static int store_device(struct db_conn *c, const char *user_id,
			const char *device, bool *alert)
{
	struct db_rows *r = NULL;
	struct db_param p[3] = {
		db_p_text(user_id), db_p_text(device), DB_P_INT(now_ms()),
	};
	int64_t added = 0;
	int rc;

	*alert = false;
	rc = db_exec(c, sql_device_add, p, 3, &added);
	if (rc < 0 || added == 0)
		return rc;
	rc = db_query(c, sql_devices_count, p, 1, &r);
	if (rc == 0)
		*alert = db_rows_int(r, 0, 0, 0) > 1;
	db_rows_free(r);
	return rc;
}

/* chat.notification.created of the notification just stored: what the
 * list shows of it, for the user's clients. */
static int store_event(struct notifyd *nd, struct db_conn *c,
		       const char *id, const char *user_id,
		       const struct notice *n, int64_t created_ms)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *data = cJSON_CreateObject(), *copy = NULL;
	int rc = CHAT_ENOMEM;

	if (!data || !cJSON_AddStringToObject(data, "notification_id", id) ||
	    !cJSON_AddStringToObject(data, "category", n->category) ||
	    !cJSON_AddStringToObject(data, "kind", n->kind) ||
	    !cJSON_AddStringToObject(data, "title", n->title) ||
	    !cJSON_AddStringToObject(data, "body", n->body) ||
	    !json_add_time(data, "created_at", created_ms))
		goto out;
	copy = cJSON_Duplicate(n->data, true);
	if (!copy || !cJSON_AddItemToObject(data, "data", copy)) {
		cJSON_Delete(copy);
		goto out;
	}
	snprintf(subject, sizeof(subject), "notifications/%s", id);
	rc = events_emit(c, &nd->d, "chat.notification.created", user_id,
			 subject, data);
out:
	cJSON_Delete(data);
	return rc;
}

/* The notice's mail job (mail-jobs.c), for the kinds that have a mail
 * template: its data is the notification's with the title and body, the
 * address is asked of userd when it is sent. */
static int store_mail(struct db_conn *c, const char *user_id,
		      const struct notice *n)
{
	struct mail_job job = { 0 };
	cJSON *data;
	int rc = CHAT_ENOMEM;

	if (!mail_tmpl_exists(n->kind))
		return 0;
	data = cJSON_Duplicate(n->data, true);
	if (!data || !cJSON_AddStringToObject(data, "title", n->title) ||
	    !cJSON_AddStringToObject(data, "body", n->body))
		goto out;
	job.data = json_print(data);
	if (!job.data)
		goto out;
	snprintf(job.user_id, sizeof(job.user_id), "%s", user_id);
	snprintf(job.kind, sizeof(job.kind), "%s", n->kind);
	snprintf(job.category, sizeof(job.category), "%s", n->category);
	rc = mail_job_put(c, &job, 0);
out:
	mail_job_release(&job);
	cJSON_Delete(data);
	return rc;
}

static int store_notice(struct notifyd *nd, struct db_conn *c,
			const struct notice *n)
{
	const struct notify_category *cat = notify_category_find(n->category);
	char id[UUID_STR_LEN], user_id[UUID_STR_LEN];
	struct db_param p[8];
	int64_t now = now_ms();
	unsigned mask = 0;
	char *data = NULL;
	bool alert = true;
	int rc;

	if (!cat || !uuid_norm(n->user_id, user_id))
		return CHAT_EINVAL;
	if (n->duration_ms >= 0 && n->duration_ms < nd->long_generation_ms)
		return 0;			/* a short answer: no news */
	if (n->device) {
		rc = store_device(c, user_id, n->device, &alert);
		if (rc < 0 || !alert)
			return rc;
	}
	rc = prefs_channels(c, user_id, cat, &mask);
	if (rc == 0 && (mask & NOTIFY_EMAIL) && mailer_on(nd->mailer)) {
		rc = store_mail(c, user_id, n);
		/* the caller kicks the sender after its commit */
		if (rc == 0)
			atomic_store(&nd->mail_put, true);
	}
	if (rc < 0 || !(mask & NOTIFY_IN_APP))
		return rc;
	rc = uuid_v7(id);
	if (rc < 0)
		return rc;
	data = json_print(n->data);
	if (!data)
		return CHAT_ENOMEM;
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	p[2] = db_p_text(n->category);
	p[3] = db_p_text(n->kind);
	p[4] = db_p_text(n->title);
	p[5] = db_p_text(n->body);
	p[6] = db_p_text(data);
	p[7] = DB_P_INT(now);
	rc = db_exec(c, sql_notification_add, p, 8, NULL);
	free(data);
	if (rc == 0)
		rc = store_event(nd, c, id, user_id, n, now);
	return rc;
}

int store_notify(struct notifyd *nd, struct db_conn *c,
		 const struct notice *n)
{
	return store_notice(nd, c, n);
}

/* The event's webhook messages (webhook-fanout.c); nd->wh_put tells
 * on_applied to wake the deliverers after the commit. */
static int store_webhooks(struct notifyd *nd, struct db_conn *c,
			  const cJSON *event)
{
	bool put = false;
	int rc = wh_fanout(nd->wh, c, event, &put);

	if (put)
		atomic_store(&nd->wh_put, true);
	return rc;
}

int store_handle(void *app, struct db_conn *c, const cJSON *event)
{
	const char *type = json_str(event, "type");
	const char *user = json_str(event, "userid");
	char user_id[UUID_STR_LEN];
	struct notice n;
	bool erased = false;
	int rc;

	if (type && strcmp(type, "chat.user.deleted") == 0) {
		if (!uuid_norm(user, user_id))
			return CHAT_EINVAL;
		return store_erase(app, c, user_id);
	}
	rc = store_webhooks(app, c, event);
	if (rc < 0)
		return rc;
	rc = rule_from_event(event, &n);
	if (rc <= 0)
		return rc;
	rc = store_is_erased(c, n.user_id, &erased);
	if (rc == 0 && !erased)
		rc = store_notice(app, c, &n);
	notice_release(&n);
	return rc;
}
