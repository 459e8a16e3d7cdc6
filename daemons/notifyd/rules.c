/*
 * rules.c - which events become notifications, and what they say: one
 * table, event type -> category, kind, title, body and the fields of
 * the event's data the notification keeps.  rule_from_event is pure (an
 * event in, a struct notice out), so the table is unit-tested without a
 * store; store.c decides what the store must add (a device already
 * known makes no new-device alert, a category switched off no in-app
 * notification).
 *
 * Titles and bodies are fixed texts, never built from the event: what
 * the event names (a user agent, a key's name) goes into data, where a
 * client shows it as data, and no text needs cutting or escaping here.
 */
#include "notifyd.h"

#include <string.h>

#include "err.h"
#include "json.h"
#include "uuid.h"
#include "banned.h"

#define RULE_FIELDS_MAX 4
#define RULE_FIELD_MAX 1024		/* bytes of a kept string */

struct rule {
	const char *type;		/* the event's type */
	const char *category;
	const char *kind;
	const char *title;
	const char *body;
	/* the body when data.by is set: someone else (an admin) did it */
	const char *body_by;
	/* data keys copied into the notification: strings or null */
	const char *fields[RULE_FIELDS_MAX];
	bool device;			/* a sign-in: store.c checks the
					 * device against the known ones */
	bool away;			/* an answer's end: only when no
					 * client of the user was there
					 * (rule_away); store.c checks its
					 * length */
};

static const struct rule rules[] = {
	{ "chat.session.created", "security", "new_device",
	  "New sign-in",
	  "Your account was signed in from a device it was never used on "
	  "before. If this was not you, change your password.",
	  NULL, { "session_id", "user_agent", "ip", NULL }, true, false },
	{ "chat.session.reuse_detected", "security", "token_reuse",
	  "Refresh token reused",
	  "A refresh token of one of your sessions was used a second time, "
	  "so the session was signed out. If this was not you, change your "
	  "password.",
	  NULL, { "session_id", NULL }, false, false },
	{ "chat.user.password_changed", "security", "password_changed",
	  "Password changed",
	  "Your password was changed and your other sessions were signed "
	  "out. If this was not you, contact your administrator.",
	  "An administrator reset your password and signed out your "
	  "sessions.",
	  { "by", NULL }, false, false },
	{ "chat.apikey.created", "account", "apikey_created",
	  "API key created",
	  "A new API key was created for your account.",
	  NULL, { "key_id", "name", NULL }, false, false },
	{ "chat.message.finished", "generation", "generation_finished",
	  "Answer ready",
	  "A long answer finished while none of your clients was "
	  "connected.",
	  NULL, { "conversation_id", "message_id", "title", "status" },
	  false, true },
};

/* The categories; their channels and preferences are prefs.c's. */
const struct notify_category notify_categories[] = {
	{ "security", NOTIFY_IN_APP | NOTIFY_EMAIL, true },
	{ "account", NOTIFY_IN_APP, false },
	{ "broadcast", NOTIFY_IN_APP, false },
	{ "generation", NOTIFY_IN_APP, false },
};
const size_t notify_ncategories =
	sizeof(notify_categories) / sizeof(notify_categories[0]);

static const struct rule *rule_find(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].type, type) == 0)
			return &rules[i];
	return NULL;
}

/* Copies data[key] into out when it is a string (up to RULE_FIELD_MAX
 * bytes) or null; an absent key is left out; another type is
 * CHAT_EINVAL. */
static int rule_copy(const cJSON *data, const char *key, cJSON *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	if (!v)
		return 0;
	if (cJSON_IsNull(v))
		return cJSON_AddNullToObject(out, key) ? 0 : CHAT_ENOMEM;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > RULE_FIELD_MAX)
		return CHAT_EINVAL;
	return cJSON_AddStringToObject(out, key, v->valuestring) ?
	       0 : CHAT_ENOMEM;
}

/*
 * Whether an answer's end (chat.message.finished) is one the user missed:
 * no client connected at its end, and not ended by the user (a stop) or
 * by chatd stopping (interrupted, no end of the answer).  *ms gets its
 * latency_ms.  false, not an error, for an event without the numbers
 * (a producer older than them).
 */
static bool rule_away(const cJSON *data, int64_t *ms)
{
	static const char *const not_missed[] = { "stopped", "interrupted" };
	const cJSON *clients, *latency;
	const char *status = json_str(data, "status");
	size_t i;

	clients = cJSON_GetObjectItemCaseSensitive(data, "clients_connected");
	latency = cJSON_GetObjectItemCaseSensitive(data, "latency_ms");
	if (!cJSON_IsNumber(clients) || clients->valuedouble != 0 ||
	    !cJSON_IsNumber(latency) || latency->valuedouble < 0 || !status)
		return false;
	for (i = 0; i < sizeof(not_missed) / sizeof(not_missed[0]); i++)
		if (strcmp(status, not_missed[i]) == 0)
			return false;
	*ms = (int64_t)latency->valuedouble;
	return true;
}

int rule_from_event(const cJSON *event, struct notice *out)
{
	const char *type = json_str(event, "type");
	const char *user = json_str(event, "userid");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	const struct rule *r;
	const char *ua;
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->duration_ms = -1;
	if (!type)
		return CHAT_EINVAL;
	r = rule_find(type);
	if (!r)
		return 0;
	if (!user || !uuid_valid(user) || (data && !cJSON_IsObject(data)))
		return CHAT_EINVAL;
	if (r->away && !rule_away(data, &out->duration_ms))
		return 0;
	out->data = cJSON_CreateObject();
	if (!out->data)
		return CHAT_ENOMEM;
	for (i = 0; rc == 0 && i < RULE_FIELDS_MAX && r->fields[i]; i++)
		rc = rule_copy(data, r->fields[i], out->data);
	if (rc < 0)
		goto out;
	out->category = r->category;
	out->kind = r->kind;
	out->title = r->title;
	out->body = r->body;
	if (r->body_by && json_str(data, "by"))
		out->body = r->body_by;
	out->user_id = user;
	if (r->device) {
		ua = json_str(data, "user_agent");
		out->device = ua ? ua : "";
	}
	rc = 1;
out:
	if (rc < 0)
		notice_release(out);
	return rc;
}

const struct notify_category *notify_category_find(const char *name)
{
	size_t i;

	for (i = 0; i < notify_ncategories; i++)
		if (strcmp(notify_categories[i].name, name) == 0)
			return &notify_categories[i];
	return NULL;
}

void notice_release(struct notice *n)
{
	cJSON_Delete(n->data);
	n->data = NULL;
}
