/*
 * webhook-api.c - the caller's webhook endpoints:
 *   POST   /v1/webhooks {"url","events","description"?,"scope"?}
 *          201 with the endpoint and its secret (shown this once)
 *   GET    /v1/webhooks                       the caller's, newest first
 *   GET    /v1/webhooks/{id}
 *   PATCH  /v1/webhooks/{id} {"url"?,"events"?,"description"?,"enabled"?}
 *   DELETE /v1/webhooks/{id}                  with its messages and log
 *   POST   /v1/webhooks/{id}/rotate-secret    a new secret (shown once);
 *          the old one signs beside it for notifyd.webhook_secret_overlap_s
 *   POST   /v1/webhooks/{id}/test             a webhook.test message now
 *   GET    /v1/webhooks/{id}/deliveries?limit=&before=   the log
 *   POST   /v1/webhooks/{id}/messages/{msg}/redeliver
 *   POST   /v1/webhooks/{id}/redeliver {"since"}  every message since
 *
 * Endpoints belong to the user who made them: another user's is 404, as
 * one that does not exist.  "scope": "system" (admins only) makes an
 * endpoint that receives every event of the backbone it asks for,
 * every user's and the system's; "user" (the default) only the events
 * about its owner.
 *
 * The handlers run on the worker pool.  A redelivery is a new job for
 * the same message: the receiver sees the same webhook-id again.
 */
#include "webhook.h"
#include "notifyd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "err.h"
#include "http-server.h"
#include "json.h"
#include "log.h"
#include "queue.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define WH_ENDPOINTS_MAX 20		/* endpoints of one user */
#define WH_EVENT_MAX 100		/* bytes of one event pattern */
#define WH_LOG_LIMIT_DEFAULT 20
#define WH_LOG_LIMIT_MAX 100
#define WH_REDELIVER_MAX 1000		/* messages of one redeliver */
#define WH_BEFORE_NONE "ffffffff-ffff-ffff-ffff-ffffffffffff"

static const char sql_count[] =
	"SELECT COUNT(*) FROM webhook_endpoints WHERE user_id = $1";
static const char sql_add[] =
	"INSERT INTO webhook_endpoints (id, user_id, scope, url, description,"
	" events, secret, created_ms, updated_ms)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
#define WH_COLS "id, scope, url, description, events, disabled_ms," \
	" disabled_reason, created_ms, updated_ms, old_until_ms"
static const char sql_list[] =
	"SELECT " WH_COLS " FROM webhook_endpoints WHERE user_id = $1"
	" ORDER BY id DESC";
static const char sql_get[] =
	"SELECT " WH_COLS " FROM webhook_endpoints WHERE id = $1"
	" AND user_id = $2";
static const char sql_update[] =
	"UPDATE webhook_endpoints SET url = $3, description = $4,"
	" events = $5, updated_ms = $6,"
	" disabled_ms = CASE WHEN $7 = 1 THEN NULL WHEN $7 = 0 THEN"
	" COALESCE(disabled_ms, $6) ELSE disabled_ms END,"
	" disabled_reason = CASE WHEN $7 = 1 THEN NULL WHEN $7 = 0 THEN"
	" COALESCE(disabled_reason, 'by_user') ELSE disabled_reason END,"
	" failing_since_ms = CASE WHEN $7 = 1 THEN NULL"
	" ELSE failing_since_ms END"
	" WHERE id = $1 AND user_id = $2";
static const char *const sql_delete[] = {
	"DELETE FROM webhook_attempts WHERE endpoint_id = $1",
	"DELETE FROM webhook_jobs WHERE endpoint_id = $1",
	"DELETE FROM webhook_messages WHERE endpoint_id = $1",
};
static const char sql_delete_ep[] =
	"DELETE FROM webhook_endpoints WHERE id = $1 AND user_id = $2";
static const char sql_rotate[] =
	"UPDATE webhook_endpoints SET old_secret = secret, secret = $3,"
	" old_until_ms = $4, updated_ms = $5 WHERE id = $1 AND user_id = $2";
static const char sql_log[] =
	"SELECT id, msg_id, attempt, at_ms, status, latency_ms, outcome,"
	" excerpt FROM webhook_attempts WHERE endpoint_id = $1 AND id < $2"
	" ORDER BY id DESC LIMIT $3";
static const char sql_msg_of[] =
	"SELECT 1 FROM webhook_messages WHERE id = $1 AND endpoint_id = $2";
static const char sql_since[] =
	"SELECT id FROM webhook_messages WHERE endpoint_id = $1"
	" AND created_ms >= $2 ORDER BY created_ms LIMIT $3";

/* The caller's user id, normalised; answers 401 when there is none. */
static bool wh_user(struct http_req *req, char out[UUID_STR_LEN])
{
	if (uuid_norm(req->user_id, out))
		return true;
	http_res_error(req->res, 401, "unauthorized",
		       "this route needs a signed-in user");
	return false;
}

static void wh_not_found(struct http_res *res)
{
	http_res_error(res, 404, "not_found", "no such webhook endpoint");
}

/* {id} of the path, normalised; answers 404 when it is no id. */
static bool wh_path_id(struct http_req *req, char out[UUID_STR_LEN])
{
	if (uuid_norm(http_req_param(req, "id"), out))
		return true;
	wh_not_found(req->res);
	return false;
}

/* Row i of a WH_COLS query as the API's object (never the secret). */
static cJSON *wh_row_json(const struct db_rows *r, size_t i)
{
	cJSON *o = cJSON_CreateObject(), *ev;
	const char *reason = db_rows_get(r, i, 6);
	int64_t until = db_rows_int(r, i, 9, 0);

	if (!o)
		return NULL;
	ev = cJSON_Parse(db_rows_get(r, i, 4));
	if (!ev || !cJSON_AddItemToObject(o, "events", ev)) {
		cJSON_Delete(ev);
		goto fail;
	}
	if (!cJSON_AddStringToObject(o, "id", db_rows_get(r, i, 0)) ||
	    !cJSON_AddStringToObject(o, "scope", db_rows_get(r, i, 1)) ||
	    !cJSON_AddStringToObject(o, "url", db_rows_get(r, i, 2)) ||
	    !cJSON_AddStringToObject(o, "description",
				     db_rows_get(r, i, 3)) ||
	    !cJSON_AddBoolToObject(o, "enabled", !db_rows_get(r, i, 5)) ||
	    !json_add_time(o, "disabled_at", db_rows_int(r, i, 5, 0)) ||
	    !(reason ? cJSON_AddStringToObject(o, "disabled_reason", reason) :
		       cJSON_AddNullToObject(o, "disabled_reason")) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 7, 0)) ||
	    !json_add_time(o, "updated_at", db_rows_int(r, i, 8, 0)) ||
	    !json_add_time(o, "previous_secret_until",
			   until > now_ms() ? until : 0))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* "events": 1 to WH_EVENTS_MAX known types or prefixes; *out its
 * compact text (the caller's). */
static int wh_events_arg(const cJSON *body, char **out, char *err,
			 size_t errlen)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(body, "events"), *e;
	int n;

	*out = NULL;
	if (!cJSON_IsArray(ev) || (n = cJSON_GetArraySize(ev)) < 1 ||
	    n > WH_EVENTS_MAX) {
		snprintf(err, errlen, "'events' must be a list of 1 to %d "
			 "event types", WH_EVENTS_MAX);
		return CHAT_EINVAL;
	}
	cJSON_ArrayForEach(e, ev) {
		if (!cJSON_IsString(e) ||
		    strlen(e->valuestring) > WH_EVENT_MAX ||
		    !wh_event_pattern_valid(e->valuestring)) {
			snprintf(err, errlen, "'events' names an unknown event "
				 "type (a type, 'prefix.*' or '*')");
			return CHAT_EINVAL;
		}
	}
	*out = json_print(ev);
	return *out ? 0 : CHAT_ENOMEM;
}

/* Whether body has only the keys of allowed (NULL-terminated). */
static bool wh_keys_only(const cJSON *body, const char *const *allowed,
			 char *err, size_t errlen)
{
	const cJSON *it;
	size_t i;

	cJSON_ArrayForEach(it, body) {
		for (i = 0; allowed[i]; i++)
			if (strcmp(it->string, allowed[i]) == 0)
				break;
		if (!allowed[i]) {
			snprintf(err, errlen, "unknown field '%.40s'",
				 it->string);
			return false;
		}
	}
	return true;
}

/* One endpoint of the user by id, answered as JSON with status; adds
 * "secret" when secret is set. */
static void wh_answer(struct http_req *req, struct db_conn *c,
		      const char *id, const char *user_id, int status,
		      const char *secret)
{
	struct db_rows *r = NULL;
	struct db_param p[2] = { db_p_text(id), db_p_text(user_id) };
	cJSON *o = NULL;
	int rc = db_query(c, sql_get, p, 2, &r);

	if (rc < 0) {
		http_res_chat_error(req->res, rc, "cannot read the endpoint");
		goto out;
	}
	if (db_rows_count(r) == 0) {
		wh_not_found(req->res);
		goto out;
	}
	o = wh_row_json(r, 0);
	if (!o || (secret && !cJSON_AddStringToObject(o, "secret", secret))) {
		http_res_chat_error(req->res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(req->res, status, o);
	o = NULL;
out:
	cJSON_Delete(o);
	db_rows_free(r);
}

void wh_create_handler(struct http_req *req, struct http_res *res)
{
	static const char *const keys[] = {
		"url", "events", "description", "scope", NULL,
	};
	struct notifyd *nd = req->app;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN], err[200];
	char secret[WH_SECRET_MAX], *events = NULL, *sealed = NULL;
	const char *url = NULL, *desc = "", *scope = "user";
	struct db_param p[8];
	cJSON *body = NULL;
	int64_t now = now_ms();
	int rc;

	secret[0] = '\0';
	if (!wh_user(req, user_id) || daemon_body(req, &body) < 0)
		return;
	err[0] = '\0';
	rc = cJSON_IsObject(body) &&
	     wh_keys_only(body, keys, err, sizeof(err)) ? 0 : CHAT_EINVAL;
	if (rc == 0)
		rc = json_get_string(body, "url", true, 1, WH_URL_MAX, &url,
				     err, sizeof(err));
	if (rc == 0)
		rc = wh_url_check(url, err, sizeof(err));
	if (rc == 0)
		rc = wh_events_arg(body, &events, err, sizeof(err));
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "description"))
		rc = json_get_string(body, "description", true, 0,
				     WH_DESC_MAX, &desc, err, sizeof(err));
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "scope"))
		rc = json_get_string(body, "scope", true, 1, 16, &scope, err,
				     sizeof(err));
	if (rc == 0 && strcmp(scope, "user") != 0 &&
	    strcmp(scope, "system") != 0) {
		snprintf(err, sizeof(err), "'scope' must be user or system");
		rc = CHAT_EINVAL;
	}
	if (rc < 0) {
		if (rc == CHAT_ENOMEM)
			http_res_chat_error(res, rc, "out of memory");
		else
			http_res_error(res, 400, "invalid_field", "%s",
				       err[0] ? err : "the body must be an "
				       "object");
		goto out;
	}
	if (strcmp(scope, "system") == 0 &&
	    (!req->role || strcmp(req->role, "admin") != 0)) {
		http_res_error(res, 403, "forbidden",
			       "only an admin makes system endpoints");
		goto out;
	}
	rc = uuid_v7(id);
	if (rc == 0)
		rc = wh_secret_new(secret);
	if (rc == 0)
		rc = wh_seal(nd->d.internal_secret, secret, &sealed);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot make the secret");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	p[0] = db_p_text(user_id);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_query(c, sql_count, p, 1, &r);
	if (rc == 0 && db_rows_int(r, 0, 0, 0) >= WH_ENDPOINTS_MAX) {
		http_res_error(res, 409, "limit_reached",
			       "at most %d webhook endpoints per user",
			       WH_ENDPOINTS_MAX);
		goto out;
	}
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	p[2] = db_p_text(scope);
	p[3] = db_p_text(url);
	p[4] = db_p_text(desc);
	p[5] = db_p_text(events);
	p[6] = db_p_text(sealed);
	p[7] = DB_P_INT(now);
	if (rc == 0)
		rc = db_exec(c, sql_add, p, 8, NULL);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot store the endpoint");
		goto out;
	}
	log_info("webhook endpoint '%s' made by '%s' (%s)", id, user_id,
		 scope);
	wh_answer(req, c, id, user_id, 201, secret);
out:
	db_release(c);
	db_rows_free(r);
	sodium_memzero(secret, sizeof(secret));
	free(events);
	free(sealed);
	cJSON_Delete(body);
}

void wh_list_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN];
	struct db_param p[1];
	cJSON *out = NULL, *list, *item;
	size_t i;
	int rc;

	if (!wh_user(req, user_id) || daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(user_id);
	rc = db_query(c, sql_list, p, 1, &r);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the endpoints");
		goto out;
	}
	out = cJSON_CreateObject();
	list = out ? cJSON_AddArrayToObject(out, "data") : NULL;
	for (i = 0; list && i < db_rows_count(r); i++) {
		item = wh_row_json(r, i);
		if (!item || !cJSON_AddItemToArray(list, item)) {
			cJSON_Delete(item);
			list = NULL;
		}
	}
	if (!list) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, out);
	out = NULL;
out:
	cJSON_Delete(out);
	db_rows_free(r);
}

void wh_get_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];

	(void)res;
	if (!wh_user(req, user_id) || !wh_path_id(req, id) ||
	    daemon_db(req, &c) < 0)
		return;
	wh_answer(req, c, id, user_id, 200, NULL);
	db_release(c);
}

void wh_patch_handler(struct http_req *req, struct http_res *res)
{
	static const char *const keys[] = {
		"url", "events", "description", "enabled", NULL,
	};
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN], err[200];
	const char *url = NULL, *desc = NULL;
	char *events = NULL;
	struct db_param p[7];
	cJSON *body = NULL;
	int64_t enabled = -1, changed = 0;
	bool en = false;
	int rc;

	if (!wh_user(req, user_id) || !wh_path_id(req, id) ||
	    daemon_body(req, &body) < 0)
		return;
	err[0] = '\0';
	rc = cJSON_IsObject(body) &&
	     wh_keys_only(body, keys, err, sizeof(err)) ? 0 : CHAT_EINVAL;
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "url")) {
		rc = json_get_string(body, "url", true, 1, WH_URL_MAX, &url,
				     err, sizeof(err));
		if (rc == 0)
			rc = wh_url_check(url, err, sizeof(err));
	}
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "events"))
		rc = wh_events_arg(body, &events, err, sizeof(err));
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "description"))
		rc = json_get_string(body, "description", true, 0,
				     WH_DESC_MAX, &desc, err, sizeof(err));
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(body, "enabled")) {
		rc = json_get_bool(body, "enabled", true, &en, err,
				   sizeof(err));
		enabled = en ? 1 : 0;
	}
	if (rc < 0) {
		if (rc == CHAT_ENOMEM)
			http_res_chat_error(res, rc, "out of memory");
		else
			http_res_error(res, 400, "invalid_field", "%s",
				       err[0] ? err : "the body must be an "
				       "object");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_query(c, sql_get, p, 2, &r);
	if (rc == 0 && db_rows_count(r) == 0) {
		wh_not_found(res);
		goto out;
	}
	p[2] = db_p_text(url ? url : db_rows_get(r, 0, 2));
	p[3] = db_p_text(desc ? desc : db_rows_get(r, 0, 3));
	p[4] = db_p_text(events ? events : db_rows_get(r, 0, 4));
	p[5] = DB_P_INT(now_ms());
	p[6] = DB_P_INT(enabled);
	if (rc == 0)
		rc = db_exec(c, sql_update, p, 7, &changed);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot change the endpoint");
		goto out;
	}
	wh_answer(req, c, id, user_id, 200, NULL);
out:
	db_release(c);
	db_rows_free(r);
	free(events);
	cJSON_Delete(body);
}

void wh_delete_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	struct db_param p[2];
	size_t i;
	int rc;

	if (!wh_user(req, user_id) || !wh_path_id(req, id) ||
	    daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_query(c, sql_get, p, 2, &r);
	if (rc == 0 && db_rows_count(r) == 0) {
		wh_not_found(res);
		goto out;
	}
	for (i = 0; rc == 0 && i < sizeof(sql_delete) / sizeof(sql_delete[0]);
	     i++)
		rc = db_exec(c, sql_delete[i], p, 1, NULL);
	if (rc == 0)
		rc = db_exec(c, sql_delete_ep, p, 2, NULL);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot delete the endpoint");
		goto out;
	}
	log_info("webhook endpoint '%s' deleted", id);
	http_res_json(res, 204, NULL);
out:
	db_release(c);
	db_rows_free(r);
}

void wh_rotate_handler(struct http_req *req, struct http_res *res)
{
	struct notifyd *nd = req->app;
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	char secret[WH_SECRET_MAX], *sealed = NULL;
	struct db_param p[5];
	int64_t now = now_ms(), changed = 0;
	int rc;

	secret[0] = '\0';
	if (!wh_user(req, user_id) || !wh_path_id(req, id))
		return;
	rc = wh_secret_new(secret);
	if (rc == 0)
		rc = wh_seal(nd->d.internal_secret, secret, &sealed);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot make the secret");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	p[2] = db_p_text(sealed);
	p[3] = DB_P_INT(now + nd->wh->cfg.overlap_ms);
	p[4] = DB_P_INT(now);
	rc = db_exec(c, sql_rotate, p, 5, &changed);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot rotate the secret");
		goto out;
	}
	if (changed == 0) {
		wh_not_found(res);
		goto out;
	}
	log_info("webhook endpoint '%s': secret rotated", id);
	wh_answer(req, c, id, user_id, 200, secret);
out:
	db_release(c);
	sodium_memzero(secret, sizeof(secret));
	free(sealed);
}

/* The endpoint exists and is the caller's: 0, else answered. */
static int wh_owned(struct http_req *req, struct db_conn *c, const char *id,
		    const char *user_id)
{
	struct db_rows *r = NULL;
	struct db_param p[2] = { db_p_text(id), db_p_text(user_id) };
	int rc = db_query(c, sql_get, p, 2, &r);

	if (rc < 0)
		http_res_chat_error(req->res, rc, "cannot read the endpoint");
	else if (db_rows_count(r) == 0) {
		wh_not_found(req->res);
		rc = CHAT_ENOTFOUND;
	}
	db_rows_free(r);
	return rc;
}

/* The body of a webhook.test message: a CloudEvent like the backbone's. */
static char *wh_test_body(const char *event_id, const char *ep_id,
			  const char *user_id)
{
	char time[32], subject[UUID_STR_LEN + 16];
	cJSON *e = cJSON_CreateObject(), *data = NULL;
	char *s = NULL;

	json_time_format(now_ms(), time);
	snprintf(subject, sizeof(subject), "webhooks/%s", ep_id);
	if (e && cJSON_AddStringToObject(e, "specversion", "1.0") &&
	    cJSON_AddStringToObject(e, "id", event_id) &&
	    cJSON_AddStringToObject(e, "source", "/chat/notifyd") &&
	    cJSON_AddStringToObject(e, "type", "webhook.test") &&
	    cJSON_AddStringToObject(e, "time", time) &&
	    cJSON_AddStringToObject(e, "subject", subject) &&
	    cJSON_AddStringToObject(e, "datacontenttype",
				    "application/json") &&
	    cJSON_AddStringToObject(e, "userid", user_id) &&
	    (data = cJSON_AddObjectToObject(e, "data")) &&
	    cJSON_AddStringToObject(data, "endpoint_id", ep_id))
		s = json_print(e);
	cJSON_Delete(e);
	return s;
}

/* 202 {"message_id"} or {"messages": n}. */
static void wh_accepted(struct http_res *res, const char *msg_id, long n)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || (msg_id ? !cJSON_AddStringToObject(o, "message_id", msg_id) :
		   !cJSON_AddNumberToObject(o, "messages", (double)n))) {
		cJSON_Delete(o);
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		return;
	}
	http_res_json(res, 202, o);
}

void wh_test_handler(struct http_req *req, struct http_res *res)
{
	struct notifyd *nd = req->app;
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN], ev[UUID_STR_LEN];
	char key[UUID_STR_LEN + 8], msg[QUEUE_ID_MAX];
	char *body = NULL;
	int rc;

	if (!wh_user(req, user_id) || !wh_path_id(req, id))
		return;
	rc = uuid_v7(ev);
	if (rc == 0) {
		body = wh_test_body(ev, id, user_id);
		rc = body ? 0 : CHAT_ENOMEM;
	}
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot make the test event");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	snprintf(key, sizeof(key), "test %s", ev);
	rc = db_begin(c);
	if (rc == 0 && wh_owned(req, c, id, user_id) < 0)
		goto out;
	if (rc == 0)
		rc = wh_message_put(nd->wh, c, id, user_id, key,
				    "webhook.test", body, msg);
	if (rc >= 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot queue the test");
		goto out;
	}
	webhooks_kick(nd->wh);
	wh_accepted(res, msg, 0);
out:
	db_release(c);
	free(body);
}

void wh_deliveries_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN], before[UUID_STR_LEN];
	char v[64], *end;
	struct db_param p[3];
	cJSON *out = NULL, *list, *o;
	long limit = WH_LOG_LIMIT_DEFAULT;
	size_t i, n;
	int rc;

	if (!wh_user(req, user_id) || !wh_path_id(req, id))
		return;
	snprintf(before, sizeof(before), "%s", WH_BEFORE_NONE);
	rc = http_req_query(req, "limit", v, sizeof(v));
	if (rc == 0) {
		limit = strtol(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end || limit < 1 ||
		    limit > WH_LOG_LIMIT_MAX) {
			http_res_error(res, 400, "invalid_field",
				       "'limit' must be an integer from 1 to "
				       "%d", WH_LOG_LIMIT_MAX);
			return;
		}
	}
	rc = http_req_query(req, "before", v, sizeof(v));
	if (rc == 0 && !uuid_norm(v, before)) {
		http_res_error(res, 400, "invalid_field",
			       "'before' must be a delivery id");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	rc = wh_owned(req, c, id, user_id);
	if (rc < 0)
		goto out;
	p[0] = db_p_text(id);
	p[1] = db_p_text(before);
	p[2] = DB_P_INT(limit + 1);
	rc = db_query(c, sql_log, p, 3, &r);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the deliveries");
		goto out;
	}
	n = db_rows_count(r);
	out = cJSON_CreateObject();
	list = out ? cJSON_AddArrayToObject(out, "data") : NULL;
	for (i = 0; list && i < n && i < (size_t)limit; i++) {
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(list, o) ||
		    !cJSON_AddStringToObject(o, "id", db_rows_get(r, i, 0)) ||
		    !cJSON_AddStringToObject(o, "message_id",
					     db_rows_get(r, i, 1)) ||
		    !cJSON_AddNumberToObject(o, "attempt",
					     (double)db_rows_int(r, i, 2, 0)) ||
		    !json_add_time(o, "at", db_rows_int(r, i, 3, 0)) ||
		    !cJSON_AddNumberToObject(o, "status",
					     (double)db_rows_int(r, i, 4, 0)) ||
		    !cJSON_AddNumberToObject(o, "latency_ms",
					     (double)db_rows_int(r, i, 5, 0)) ||
		    !cJSON_AddStringToObject(o, "outcome",
					     db_rows_get(r, i, 6)) ||
		    !cJSON_AddStringToObject(o, "response",
					     db_rows_get(r, i, 7))) {
			if (o && !cJSON_GetArrayItem(list,
					cJSON_GetArraySize(list) - 1))
				cJSON_Delete(o);
			list = NULL;
		}
	}
	if (!list ||
	    (n > (size_t)limit ?
	     !cJSON_AddStringToObject(out, "next_before",
				      db_rows_get(r, (size_t)limit - 1, 0)) :
	     !cJSON_AddNullToObject(out, "next_before"))) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, out);
	out = NULL;
out:
	db_release(c);
	db_rows_free(r);
	cJSON_Delete(out);
}

void wh_redeliver_msg_handler(struct http_req *req, struct http_res *res)
{
	struct notifyd *nd = req->app;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	const char *msg = http_req_param(req, "msg");
	struct db_param p[2];
	int rc;

	if (!wh_user(req, user_id) || !wh_path_id(req, id))
		return;
	if (!msg || strlen(msg) >= QUEUE_ID_MAX) {
		http_res_error(res, 404, "not_found", "no such message");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	rc = db_begin(c);
	if (rc == 0 && wh_owned(req, c, id, user_id) < 0)
		goto out;
	p[0] = db_p_text(msg);
	p[1] = db_p_text(id);
	if (rc == 0)
		rc = db_query(c, sql_msg_of, p, 2, &r);
	if (rc == 0 && db_rows_count(r) == 0) {
		http_res_error(res, 404, "not_found", "no such message");
		goto out;
	}
	if (rc == 0)
		rc = wh_job_put(nd->wh, c, msg, id);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot queue the redelivery");
		goto out;
	}
	webhooks_kick(nd->wh);
	wh_accepted(res, msg, 0);
out:
	db_release(c);
	db_rows_free(r);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t wh_days(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" into unix ms; CHAT_EINVAL otherwise. */
static int wh_time_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, n = 0, ms = 0, k;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
		   &n) != 6 || n != 19)
		return CHAT_EINVAL;
	s += n;
	if (*s == '.') {
		for (k = 0, s++; *s >= '0' && *s <= '9'; s++, k++)
			if (k < 3)
				ms = ms * 10 + (*s - '0');
		if (k == 0)
			return CHAT_EINVAL;
		for (; k < 3; k++)
			ms *= 10;
	}
	if (strcmp(s, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 60)
		return CHAT_EINVAL;
	*out = ((wh_days(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
	       (int64_t)sec * 1000 + ms;
	return 0;
}

void wh_redeliver_since_handler(struct http_req *req, struct http_res *res)
{
	static const char *const keys[] = { "since", NULL };
	struct notifyd *nd = req->app;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN], err[160];
	const char *since = NULL;
	struct db_param p[3];
	cJSON *body = NULL;
	int64_t since_ms = 0;
	size_t i = 0;
	int rc;

	if (!wh_user(req, user_id) || !wh_path_id(req, id) ||
	    daemon_body(req, &body) < 0)
		return;
	err[0] = '\0';
	rc = cJSON_IsObject(body) &&
	     wh_keys_only(body, keys, err, sizeof(err)) ? 0 : CHAT_EINVAL;
	if (rc == 0)
		rc = json_get_string(body, "since", true, 1, 40, &since, err,
				     sizeof(err));
	if (rc == 0 && wh_time_parse(since, &since_ms) < 0) {
		snprintf(err, sizeof(err), "'since' must be an RFC 3339 UTC "
			 "time (2026-12-07T10:00:00Z)");
		rc = CHAT_EINVAL;
	}
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s",
			       err[0] ? err : "the body must be an object");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	rc = db_begin(c);
	if (rc == 0 && wh_owned(req, c, id, user_id) < 0)
		goto out;
	p[0] = db_p_text(id);
	p[1] = DB_P_INT(since_ms);
	p[2] = DB_P_INT(WH_REDELIVER_MAX);
	if (rc == 0)
		rc = db_query(c, sql_since, p, 3, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r); i++)
		rc = wh_job_put(nd->wh, c, db_rows_get(r, i, 0), id);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot queue the redelivery");
		goto out;
	}
	webhooks_kick(nd->wh);
	wh_accepted(res, NULL, (long)i);
out:
	db_release(c);
	db_rows_free(r);
	cJSON_Delete(body);
}
