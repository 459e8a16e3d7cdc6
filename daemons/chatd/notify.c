/*
 * notify.c - live delivery of notifyd's notifications: chatd consumes
 * notifyd's events (events-consumer.h, consumer name "chatd") and
 * pushes each chat.notification.created to the WebSockets of its user
 * as a "notification" frame whose data is the event's data (the
 * notification as GET /v1/notifications lists it, its id as
 * notification_id); and each chat.notification.broadcast to every
 * WebSocket open of an account older than the broadcast.
 *
 * The consumer's handler changes nothing else in chatd's store: the
 * inbox row it commits (without the user's id) is all, so an event
 * redelivered after a crash is pushed once.  The push happens after the commit (notify_applied); a crash
 * between the two loses that push, never the notification, which stays
 * in notifyd's list.  Frames go through the hub, so a client resuming
 * with last_event_id gets the ones it missed like any other event.
 */
#include "live.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events-consumer.h"
#include "json.h"
#include "log.h"
#include "banned.h"

static const char *const notify_producers[] = { "notifyd", NULL };

/* events_handle_fn: the inbox row is the whole effect, and it keeps no
 * user: chatd holds nothing of notifyd's users, so an erasure has
 * nothing to find here (also when a notification arrives after it). */
static int notify_handle(void *app, struct db_conn *c, const cJSON *event)
{
	struct db_param p[2] = {
		db_p_text(json_str(event, "source")),
		db_p_text(json_str(event, "id")),
	};

	(void)app;
	return db_exec(c, "UPDATE inbox SET user_id = NULL"
		       " WHERE source = $1 AND id = $2", p, 2, NULL);
}

/* hub_user_fn of a broadcast: the accounts older than it (UUIDv7 ids on
 * both sides, so older is "<"), as notifyd's list shows it. */
static bool notify_older(const char *user_id, void *arg)
{
	return strcmp(user_id, arg) < 0;
}

/* events_applied_fn: after the batch committed. */
static void notify_applied(void *app, const cJSON *event)
{
	struct chatd *cd = app;
	const char *type = json_str(event, "type");
	const char *user = json_str(event, "userid");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	const char *bid = json_str(data, "notification_id");
	bool one;
	char *text;
	int rc;

	if (!type || !cJSON_IsObject(data))
		return;
	one = strcmp(type, "chat.notification.created") == 0 && user;
	if (!one && (strcmp(type, "chat.notification.broadcast") != 0 ||
		     !bid))
		return;
	text = json_print(data);
	if (!text) {
		log_warn("no memory to push a notification");
		return;
	}
	rc = one ? hub_publish(live_hub(cd), user, NULL, EV_NOTIFICATION,
			       text, NULL)
		 : hub_publish_connected(live_hub(cd), notify_older,
					 (void *)bid, EV_NOTIFICATION, text);
	if (rc < 0)
		log_warn("cannot push a notification: %s", chat_strerror(rc));
	free(text);
}

int notify_start(struct chatd *cd, char *err, size_t errlen)
{
	struct events_consumer_config cc = {
		.name = "chatd",
		.producers = notify_producers,
		.handle = notify_handle,
		.on_applied = notify_applied,
		.app = cd,
	};
	int rc;

	rc = events_consumer_new(&cd->d, &cc, &cd->notify, err, errlen);
	if (rc == 0)
		rc = events_consumer_start(cd->notify);
	if (rc < 0 && !*err)
		chat_errf(err, errlen, "cannot start the notifications "
			  "consumer: %s", chat_strerror(rc));
	return rc;
}

void notify_stop(struct chatd *cd)
{
	events_consumer_free(cd->notify);
	cd->notify = NULL;
}
