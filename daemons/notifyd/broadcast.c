/*
 * broadcast.c - POST /v1/admin/broadcast {"text"}: an admin's message
 * to every account.
 *
 * Fanned out lazily: one row, whatever the number of users.  api.c
 * shows it to every account that existed when it was sent (the account
 * is older than the broadcast: both ids are UUIDv7, so the comparison
 * is of ids, and notifyd needs no copy of the user list), and records a
 * read per user who marks it read.  An account made later never sees
 * it; an erased account's reads go with it (store.c).
 *
 * The row comes with chat.notification.broadcast in notifyd's outbox
 * (one transaction): chatd pushes it to the WebSockets open of the
 * accounts that see it.
 */
#include "notifyd.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

static const char sql_broadcast_add[] =
	"INSERT INTO broadcasts (id, message, by_user, created_ms)"
	" VALUES ($1, $2, $3, $4)";

/* chat.notification.broadcast: the broadcast as the list shows it. */
static int broadcast_event(struct notifyd *nd, struct db_conn *c,
			   const char *id, const char *text, int64_t now)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *data = cJSON_CreateObject();
	int rc = CHAT_ENOMEM;

	if (!data || !cJSON_AddStringToObject(data, "notification_id", id) ||
	    !cJSON_AddStringToObject(data, "category", "broadcast") ||
	    !cJSON_AddStringToObject(data, "kind", "broadcast") ||
	    !cJSON_AddStringToObject(data, "title", BROADCAST_TITLE) ||
	    !cJSON_AddStringToObject(data, "body", text) ||
	    !cJSON_AddObjectToObject(data, "data") ||
	    !json_add_time(data, "created_at", now))
		goto out;
	snprintf(subject, sizeof(subject), "broadcasts/%s", id);
	rc = events_emit(c, &nd->d, "chat.notification.broadcast", NULL,
			 subject, data);
out:
	cJSON_Delete(data);
	return rc;
}

/* Whether text holds something but white space. */
static bool broadcast_blank(const char *text)
{
	for (; *text; text++)
		if (!strchr(" \t\r\n", *text))
			return false;
	return true;
}

void broadcast_post_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	char id[UUID_STR_LEN], by[UUID_STR_LEN], err[160];
	const char *text = NULL;
	struct db_param p[4];
	cJSON *body = NULL, *out = NULL;
	int64_t now = now_ms();
	int rc;

	if (!uuid_norm(req->user_id, by)) {
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return;
	}
	if (daemon_body(req, &body) < 0)
		return;
	rc = json_get_string(body, "text", true, 1, BROADCAST_TEXT_MAX, &text,
			     err, sizeof(err));
	if (rc == 0 && broadcast_blank(text)) {
		chat_errf(err, sizeof(err), "'text' must not be blank");
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && cJSON_GetArraySize(body) != 1) {
		chat_errf(err, sizeof(err), "only 'text' is allowed");
		rc = CHAT_EINVAL;
	}
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto out;
	}
	rc = uuid_v7(id);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot make an id");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	p[0] = db_p_text(id);
	p[1] = db_p_text(text);
	p[2] = db_p_text(by);
	p[3] = DB_P_INT(now);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c, sql_broadcast_add, p, 4, NULL);
	if (rc == 0)
		rc = broadcast_event(req->app, c, id, text, now);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot store the broadcast");
		goto out;
	}
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "id", id) ||
	    !cJSON_AddStringToObject(out, "text", text) ||
	    !json_add_time(out, "created_at", now)) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	log_info("broadcast '%s' sent by '%s'", id, by);
	http_res_json(res, 201, out);
	out = NULL;
out:
	cJSON_Delete(out);
	cJSON_Delete(body);
}
