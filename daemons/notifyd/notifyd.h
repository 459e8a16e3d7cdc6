/*
 * notifyd.h - the notification daemon (issue 15, its first part): it
 * consumes the events of userd, sessiond and chatd (events-consumer.h) and
 * turns some of them into in-app notifications by the rules of rules.c,
 * stores admin broadcasts, and answers the /v1/notifications routes and
 * /v1/admin/broadcast.
 *
 * A notification has a category (security, account, broadcast,
 * generation) and is delivered on the channels the user's preferences
 * give that category (in-app, email, webhook); only the in-app channel
 * is delivered by this version, the others are stored preferences for
 * the channels to come.  Security notifications cannot be switched off.
 *
 * Files: main.c (spec, consumer), migrations.c, rules.c (an event -> a
 * notice: the pure rule table), store.c (the consumer's handler: the
 * notice into the store), api.c (the notification routes), prefs.c
 * (categories, channels and the preference routes), broadcast.c (the
 * admin's broadcasts).
 */
#ifndef CHAT_NOTIFYD_H
#define CHAT_NOTIFYD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "http-server.h"

struct events_consumer;
struct mailer;
struct webhooks;

struct notifyd {
	struct daemon d;			/* first: req->app */
	struct events_consumer *consumer;	/* owned */
	struct mailer *mailer;		/* owned: the email channel
					 * (mail.h), off without smtp.url */
	struct webhooks *wh;			/* owned (webhook.h) */
	atomic_bool wh_put;			/* a batch put webhook jobs */
	atomic_bool mail_put;			/* a commit to come stored
						 * mail jobs: mailer_kick */
	/* notifyd.long_generation_ms: a shorter answer makes no
	 * "finished while you were away" notification */
	int64_t long_generation_ms;
};

/* The producers notifyd consumes, NULL-terminated. */
extern const char *const notifyd_producers[];

/* --- categories (rules.c) and channels (prefs.c) --- */
enum notify_channel {
	NOTIFY_IN_APP = 1 << 0,
	NOTIFY_EMAIL = 1 << 1,		/* mail.h, when smtp.url is set */
	NOTIFY_WEBHOOK = 1 << 2,	/* stored, not delivered yet */
};

struct notify_category {
	const char *name;		/* "security" */
	unsigned defaults;		/* channels when the user set none */
	bool locked;			/* in-app and email cannot be
					 * switched off (NOTIFY_LOCKED) */
};

/* The channels a locked category always has: an alert about a stolen
 * session reaches the app and, with a verified address, the inbox. */
#define NOTIFY_LOCKED (NOTIFY_IN_APP | NOTIFY_EMAIL)

#define NOTIFY_CATEGORIES_MAX 8	/* room in a per-category array */

/* The categories, in the order the API lists them. */
extern const struct notify_category notify_categories[];
extern const size_t notify_ncategories;
/* The category named name, or NULL. */
const struct notify_category *notify_category_find(const char *name);
/* The user's channels for category cat, in c (no transaction needed). */
int prefs_channels(struct db_conn *c, const char *user_id,
		   const struct notify_category *cat, unsigned *out);
/* Stores the user's channels of category cat (locked channels stay). */
int prefs_store(struct db_conn *c, const char *user_id,
		const struct notify_category *cat, unsigned mask);
void prefs_get_handler(struct http_req *req, struct http_res *res);
void prefs_put_handler(struct http_req *req, struct http_res *res);

/* --- rules.c: an event -> what to tell its user --- */
struct notice {
	const char *category;		/* one of notify_categories */
	const char *kind;		/* "new_device", "token_reuse"... */
	const char *title;		/* static text */
	const char *body;		/* static text */
	const char *user_id;		/* points into the event */
	/* new_device: the device (the session's user agent, "" when
	 * unknown), pointing into the event; NULL for other kinds */
	const char *device;
	/* generation_finished: the answer's time (its event's latency_ms),
	 * which store.c compares with notifyd.long_generation_ms; -1 for
	 * other kinds */
	int64_t duration_ms;
	cJSON *data;			/* owned: the notification's data */
};

/*
 * The notice of an event, by the rule table: 1 with *out filled (its
 * data the caller's: notice_release), 0 when no rule makes a
 * notification of the event's type, CHAT_EINVAL when the event fails
 * the schema its rule reads (no user, a field of the wrong type), or
 * CHAT_ENOMEM.  Pure: any thread.
 */
int rule_from_event(const cJSON *event, struct notice *out);
void notice_release(struct notice *n);

/* --- store.c --- */
/* The events_handle_fn of notifyd (app is the struct notifyd). */
int store_handle(void *app, struct db_conn *c, const cJSON *event);
/* Stores notice n as an in-app notification of its user (when the
 * user's preferences want it) with its chat.notification.created, in
 * c's open transaction: for notices made outside the rules (a webhook
 * endpoint disabled).  Any thread. */
int store_notify(struct notifyd *nd, struct db_conn *c,
		 const struct notice *n);

/* --- api.c: /v1/notifications --- */
void api_list_handler(struct http_req *req, struct http_res *res);
void api_read_handler(struct http_req *req, struct http_res *res);
void api_read_all_handler(struct http_req *req, struct http_res *res);

/* --- broadcast.c --- */
#define BROADCAST_TEXT_MAX 2000		/* bytes of a broadcast's text */
#define BROADCAST_TITLE "Announcement"	/* every broadcast's title */
void broadcast_post_handler(struct http_req *req, struct http_res *res);

/* migrations.c */
extern const struct db_migration notifyd_migrations[];
extern const size_t notifyd_migrations_count;

#endif
