/*
 * export.c - GET /internal/users/{id}/sessions (internal): every session
 * row sessiond holds for a user (live, revoked and expired ones not yet
 * cleaned up), as metadata only, for userd's account export (the right
 * of access).  Never a refresh token or its hash.
 */
#include "sessiond.h"

#include <stdio.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "uuid.h"
#include "banned.h"

/* Most rows in one export; a user past it (a script logging in in a
 * loop) gets 507 rather than a document that silently leaves some out. */
#define EXPORT_SESSIONS_MAX 10000

static const char sql_export[] =
	"SELECT id, user_agent, ip, created_at, last_used_at, expires_at,"
	" revoked_at FROM sessions WHERE user_id = $1 ORDER BY id DESC"
	" LIMIT $2";

/* key: the text of column col of row i, or null when the column is. */
static bool export_add_text(cJSON *o, const char *key,
			    const struct db_rows *r, size_t i, size_t col)
{
	const char *s = db_rows_get(r, i, col);

	if (!s)
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddStringToObject(o, key, s) != NULL;
}

/* The export entry of row i, NULL on ENOMEM. */
static cJSON *export_row_json(const struct db_rows *r, size_t i)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !export_add_text(o, "id", r, i, 0) ||
	    !export_add_text(o, "user_agent", r, i, 1) ||
	    !export_add_text(o, "ip", r, i, 2) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 3, 0)) ||
	    !json_add_time(o, "last_used_at", db_rows_int(r, i, 4, 0)) ||
	    !json_add_time(o, "expires_at", db_rows_int(r, i, 5, 0)) ||
	    !json_add_time(o, "revoked_at", db_rows_int(r, i, 6, 0))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* GET /internal/users/{id}/sessions: {"sessions":[...]}, newest first */
void export_sessions_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	struct db_param p[2];
	char user_id[UUID_STR_LEN];
	cJSON *out = NULL, *arr;
	size_t n;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), user_id)) {
		http_res_error(res, 404, "not_found", "no such user");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(user_id);
	p[1] = DB_P_INT(EXPORT_SESSIONS_MAX + 1);
	rc = db_query(c, sql_export, p, 2, &rows);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the sessions");
		goto out;
	}
	n = db_rows_count(rows);
	if (n > EXPORT_SESSIONS_MAX) {
		http_res_error(res, 507, "export_too_large",
			       "more than %d sessions", EXPORT_SESSIONS_MAX);
		goto out;
	}
	out = cJSON_CreateObject();
	arr = out ? cJSON_AddArrayToObject(out, "sessions") : NULL;
	if (!arr)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		cJSON *item = export_row_json(rows, i);

		if (!item)
			goto oom;
		cJSON_AddItemToArray(arr, item);
	}
	http_res_json(res, 200, out);
	out = NULL;
	goto out;
oom:
	http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
out:
	cJSON_Delete(out);
	db_rows_free(rows);
}
