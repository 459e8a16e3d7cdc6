/*
 * api.c - the in-app notifications of the caller:
 *   GET  /v1/notifications?limit=&before=&unread=   newest first
 *   POST /v1/notifications/{id}/read
 *   POST /v1/notifications/read-all
 *
 * A list merges the user's own rows with the admin's broadcasts the
 * user may see (broadcast.c): a broadcast is one row for everyone, seen
 * by every account that existed when it was sent, and its read state is
 * a row per user who read it.  Ids are UUIDv7, so "newest first" is
 * "id descending" over both, and `before` (an id of the last page) is
 * the cursor of both.  Another user's notification is 404, as one that
 * does not exist.
 */
#include "notifyd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define API_LIMIT_DEFAULT 20
#define API_LIMIT_MAX 100
/* a bound above every id, of the ids' own form (lowercase hex and '-'
 * at the same places), so that it sorts above them in any collation */
#define API_BEFORE_NONE "ffffffff-ffff-ffff-ffff-ffffffffffff"

/* The user's rows and the broadcasts visible to the user ($1), merged;
 * $2 the cursor, $3 whether broadcasts show (their in-app channel), $4
 * only the unread ones, $5 the limit.  A broadcast is visible to an
 * account older than it: both ids are UUIDv7, so "older" is "<". */
static const char sql_list[] =
	"SELECT id, category, kind, title, body, data, created_ms, read_ms"
	" FROM (SELECT id, category, kind, title, body, data, created_ms,"
	" read_ms FROM notifications WHERE user_id = $1"
	" UNION ALL"
	" SELECT b.id, 'broadcast', 'broadcast', '" BROADCAST_TITLE "', b.message,"
	" '{}', b.created_ms, r.read_ms FROM broadcasts b"
	" LEFT JOIN broadcast_reads r ON r.broadcast_id = b.id"
	" AND r.user_id = $1 WHERE b.id > $1 AND $3 = 1) n"
	" WHERE id < $2 AND ($4 = 0 OR read_ms IS NULL)"
	" ORDER BY id DESC LIMIT $5";
static const char sql_unread[] =
	"SELECT (SELECT COUNT(*) FROM notifications WHERE user_id = $1"
	" AND read_ms IS NULL) + (SELECT COUNT(*) FROM broadcasts b"
	" WHERE b.id > $1 AND $2 = 1 AND NOT EXISTS (SELECT 1 FROM"
	" broadcast_reads r WHERE r.user_id = $1"
	" AND r.broadcast_id = b.id))";
static const char sql_read_own[] =
	"UPDATE notifications SET read_ms = COALESCE(read_ms, $3)"
	" WHERE id = $1 AND user_id = $2";
static const char sql_broadcast_visible[] =
	"SELECT 1 FROM broadcasts WHERE id = $1 AND id > $2";
static const char sql_read_broadcast[] =
	"INSERT INTO broadcast_reads (user_id, broadcast_id, read_ms)"
	" VALUES ($2, $1, $3) ON CONFLICT (user_id, broadcast_id) DO NOTHING";
static const char sql_read_all_own[] =
	"UPDATE notifications SET read_ms = $2"
	" WHERE user_id = $1 AND read_ms IS NULL";
static const char sql_read_all_broadcasts[] =
	"INSERT INTO broadcast_reads (user_id, broadcast_id, read_ms)"
	" SELECT $1, id, $2 FROM broadcasts WHERE id > $1"
	" ON CONFLICT (user_id, broadcast_id) DO NOTHING";

/* The caller's user id, normalised; answers 401 when there is none. */
static bool api_user(struct http_req *req, char out[UUID_STR_LEN])
{
	if (uuid_norm(req->user_id, out))
		return true;
	http_res_error(req->res, 401, "unauthorized",
		       "this route needs a signed-in user");
	return false;
}

/* Whether broadcasts show to the user: their category's in-app
 * channel. */
static int api_broadcasts_on(struct db_conn *c, const char *user_id,
			     int64_t *on)
{
	unsigned mask = 0;
	int rc = prefs_channels(c, user_id,
				notify_category_find("broadcast"), &mask);

	*on = (mask & NOTIFY_IN_APP) ? 1 : 0;
	return rc;
}

/* Row i of sql_list as the API's object. */
static cJSON *api_row_json(const struct db_rows *r, size_t i)
{
	const char *data = db_rows_get(r, i, 5);
	int64_t read_ms = db_rows_int(r, i, 7, 0);
	cJSON *o = cJSON_CreateObject(), *d = NULL;

	if (!o)
		return NULL;
	d = cJSON_Parse(data ? data : "{}");
	if (!d || !cJSON_IsObject(d)) {
		/* our own text: never happens, but no data is better than
		 * no list */
		cJSON_Delete(d);
		d = cJSON_CreateObject();
	}
	if (!d || !cJSON_AddStringToObject(o, "id", db_rows_get(r, i, 0)) ||
	    !cJSON_AddStringToObject(o, "category", db_rows_get(r, i, 1)) ||
	    !cJSON_AddStringToObject(o, "kind", db_rows_get(r, i, 2)) ||
	    !cJSON_AddStringToObject(o, "title", db_rows_get(r, i, 3)) ||
	    !cJSON_AddStringToObject(o, "body", db_rows_get(r, i, 4)) ||
	    !cJSON_AddItemToObject(o, "data", d) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 6, 0)) ||
	    !json_add_time(o, "read_at", read_ms) ||
	    !cJSON_AddBoolToObject(o, "read", read_ms > 0)) {
		if (!cJSON_GetObjectItemCaseSensitive(o, "data"))
			cJSON_Delete(d);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ?limit=, ?before=, ?unread= of a list; answers 400 and returns
 * nonzero when one is malformed. */
static int api_list_args(struct http_req *req, int64_t *limit,
			 char before[UUID_STR_LEN], int64_t *unread)
{
	char v[64], *end;
	long n;
	int rc;

	*limit = API_LIMIT_DEFAULT;
	snprintf(before, UUID_STR_LEN, "%s", API_BEFORE_NONE);
	*unread = 0;
	rc = http_req_query(req, "limit", v, sizeof(v));
	if (rc == 0) {
		n = strtol(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end || n < 1 ||
		    n > API_LIMIT_MAX)
			goto bad_limit;
		*limit = n;
	} else if (rc != CHAT_ENOTFOUND) {
		goto bad_limit;
	}
	rc = http_req_query(req, "before", v, sizeof(v));
	if (rc == 0 && v[0] && !uuid_norm(v, before)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'before' must be a notification id");
		return -1;
	} else if (rc < 0 && rc != CHAT_ENOTFOUND) {
		http_res_error(req->res, 400, "invalid_field",
			       "'before' must be a notification id");
		return -1;
	}
	rc = http_req_query(req, "unread", v, sizeof(v));
	if (rc == 0 && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)) {
		*unread = 1;
	} else if ((rc == 0 && strcmp(v, "false") != 0 &&
		    strcmp(v, "0") != 0) ||
		   (rc < 0 && rc != CHAT_ENOTFOUND)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'unread' must be true or false");
		return -1;
	}
	return 0;
bad_limit:
	http_res_error(req->res, 400, "invalid_field",
		       "'limit' must be an integer from 1 to %d",
		       API_LIMIT_MAX);
	return -1;
}

void api_list_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL, *u = NULL;
	char user_id[UUID_STR_LEN], before[UUID_STR_LEN];
	int64_t limit, unread, bcast = 0;
	struct db_param p[5];
	cJSON *out = NULL, *list, *item;
	size_t i, n;
	int rc;

	if (!api_user(req, user_id) ||
	    api_list_args(req, &limit, before, &unread) != 0 ||
	    daemon_db(req, &c) < 0)
		return;
	rc = api_broadcasts_on(c, user_id, &bcast);
	p[0] = db_p_text(user_id);
	p[1] = db_p_text(before);
	p[2] = DB_P_INT(bcast);
	p[3] = DB_P_INT(unread);
	p[4] = DB_P_INT(limit + 1);
	if (rc == 0)
		rc = db_query(c, sql_list, p, 5, &r);
	p[1] = DB_P_INT(bcast);
	if (rc == 0)
		rc = db_query(c, sql_unread, p, 2, &u);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the notifications");
		goto out;
	}
	n = db_rows_count(r);
	out = cJSON_CreateObject();
	list = out ? cJSON_AddArrayToObject(out, "data") : NULL;
	if (!list)
		goto nomem;
	for (i = 0; i < n && i < (size_t)limit; i++) {
		item = api_row_json(r, i);
		if (!item || !cJSON_AddItemToArray(list, item)) {
			cJSON_Delete(item);
			goto nomem;
		}
	}
	if (!cJSON_AddNumberToObject(out, "unread",
				     (double)db_rows_int(u, 0, 0, 0)))
		goto nomem;
	if (n > (size_t)limit ?
	    !cJSON_AddStringToObject(out, "next_before",
				     db_rows_get(r, (size_t)limit - 1, 0)) :
	    !cJSON_AddNullToObject(out, "next_before"))
		goto nomem;
	http_res_json(res, 200, out);
	out = NULL;
	goto out;
nomem:
	http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
out:
	cJSON_Delete(out);
	db_rows_free(r);
	db_rows_free(u);
}

void api_read_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	struct db_param p[3];
	int64_t changed = 0;
	bool found = false;
	int rc;

	if (!api_user(req, user_id))
		return;
	if (!uuid_norm(http_req_param(req, "id"), id)) {
		http_res_error(res, 404, "not_found", "no such notification");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	p[2] = DB_P_INT(now_ms());
	rc = db_exec(c, sql_read_own, p, 3, &changed);
	found = changed > 0;
	if (rc == 0 && !found)
		rc = db_query(c, sql_broadcast_visible, p, 2, &r);
	if (rc == 0 && !found && db_rows_count(r) > 0) {
		found = true;
		rc = db_exec(c, sql_read_broadcast, p, 3, NULL);
	}
	db_release(c);
	db_rows_free(r);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot mark the notification");
		return;
	}
	if (!found) {
		http_res_error(res, 404, "not_found", "no such notification");
		return;
	}
	http_res_json(res, 204, NULL);
}

void api_read_all_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN];
	struct db_param p[2];
	int rc;

	if (!api_user(req, user_id) || daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(user_id);
	p[1] = DB_P_INT(now_ms());
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c, sql_read_all_own, p, 2, NULL);
	if (rc == 0)
		rc = db_exec(c, sql_read_all_broadcasts, p, 2, NULL);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot mark the notifications");
		return;
	}
	http_res_json(res, 204, NULL);
}
