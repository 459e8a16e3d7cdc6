/*
 * admin-keys.c - every user's API keys through the admin API:
 *
 *   GET    /v1/admin/apikeys?user=&limit=&cursor=   live keys, newest
 *                                                   first (metadata only)
 *   DELETE /v1/admin/apikeys/{id}                   revoke any live key
 *
 * The same rows and the same revocation as the owner's own routes
 * (apikeys.c): never the key text or its hash.  The gateway empties its
 * key cache on the 2xx of the DELETE (proxy.c's flush_rules).
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "page.h"
#include "util.h"
#include "banned.h"

#define ADMIN_KEYS_LIMIT_DEFAULT 50
#define ADMIN_KEYS_LIMIT_MAX 100

#define ADMIN_KEYS_COLUMNS "id, name, prefix, created_at, last_used_at," \
	" scopes, expires_at, user_id"
#define ADMIN_KEYS_LIVE "revoked_at IS NULL AND (expires_at IS NULL" \
	" OR expires_at > $1)"

/* [user][cursor] picks the statement: $1 now, $2 limit, then the user
 * and the cursor as they come. */
static const char *const admin_keys_sql[2][2] = {
	{
		"SELECT " ADMIN_KEYS_COLUMNS " FROM api_keys WHERE "
		ADMIN_KEYS_LIVE " ORDER BY id DESC LIMIT $2",
		"SELECT " ADMIN_KEYS_COLUMNS " FROM api_keys WHERE "
		ADMIN_KEYS_LIVE " AND id < $3 ORDER BY id DESC LIMIT $2",
	},
	{
		"SELECT " ADMIN_KEYS_COLUMNS " FROM api_keys WHERE "
		ADMIN_KEYS_LIVE " AND user_id = $3 ORDER BY id DESC LIMIT $2",
		"SELECT " ADMIN_KEYS_COLUMNS " FROM api_keys WHERE "
		ADMIN_KEYS_LIVE " AND user_id = $3 AND id < $4"
		" ORDER BY id DESC LIMIT $2",
	},
};

/* A cursor is the last key id of a page. */
static bool admin_keys_cursor_ok(struct page *p, void *arg)
{
	char id[UUID_STR_LEN];

	(void)arg;
	if (!uuid_norm(p->cursor, id))
		return false;
	memcpy(p->cursor, id, sizeof(id));
	p->cursor_len = UUID_STR_LEN - 1;
	return true;
}

/* {"data", "next_cursor"} of up to limit + 1 rows; NULL on ENOMEM. */
static cJSON *admin_keys_page(const struct db_rows *r, long limit)
{
	size_t i, n = db_rows_count(r);
	cJSON *data = cJSON_CreateArray(), *item;
	const char *last = NULL;

	if (!data)
		return NULL;
	for (i = 0; i < n && i < (size_t)limit; i++) {
		item = apikeys_row_json(r, i);
		if (!item ||
		    !cJSON_AddStringToObject(item, "user_id",
					     db_rows_get(r, i, 7))) {
			cJSON_Delete(item);
			cJSON_Delete(data);
			return NULL;
		}
		cJSON_AddItemToArray(data, item);
	}
	if (n > (size_t)limit)
		last = db_rows_get(r, (size_t)limit - 1, 0);
	return page_json(data, last, last ? strlen(last) : 0);
}

void admin_handle_keys_list(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[4];
	char user[UUID_STR_LEN], q[64], err[128];
	struct page pg;
	size_t np = 2;
	bool has_user;
	cJSON *obj;
	int rc;

	rc = http_req_query(req, "user", q, sizeof(q));
	has_user = rc != CHAT_ENOTFOUND;
	if (has_user && (rc < 0 || !uuid_norm(q, user))) {
		http_res_error(res, 400, "invalid_field",
			       "'user' must be a user id");
		return;
	}
	if (page_parse(req, ADMIN_KEYS_LIMIT_DEFAULT, ADMIN_KEYS_LIMIT_MAX,
		       admin_keys_cursor_ok, NULL, &pg, err,
		       sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	if (request_db(req, &c) < 0)
		return;
	if (admin_caller_current(req, c) < 0) {
		db_release(c);
		return;
	}
	p[0] = DB_P_INT(now_ms());
	p[1] = DB_P_INT(pg.limit + 1);
	if (has_user)
		p[np++] = db_p_text(user);
	if (pg.has_cursor)
		p[np++] = db_p_text(pg.cursor);
	rc = db_query(c, admin_keys_sql[has_user][pg.has_cursor], p, np, &r);
	db_release(c);
	if (rc < 0) {
		request_fail(req, rc, "listing keys");
		goto out;
	}
	obj = admin_keys_page(r, pg.limit);
	if (!obj) {
		request_fail(req, CHAT_ENOMEM, "building the list");
		goto out;
	}
	http_res_json(res, 200, obj);
out:
	db_rows_free(r);
}

void admin_handle_keys_delete(struct http_req *req, struct http_res *res)
{
	const char *id = http_req_param(req, "id");
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char owner[UUID_STR_LEN] = "", subject[UUID_STR_LEN + 8];
	int64_t changes = 0;
	int rc;

	if (request_db(req, &c) < 0)
		return;
	if (admin_caller_current(req, c) < 0)
		goto out;
	if (!id || !uuid_valid(id)) {
		http_res_error(res, 404, "not_found", "no such API key");
		goto out;
	}
	rc = db_query(c, "SELECT user_id FROM api_keys WHERE id = $1",
		      (struct db_param[]){ db_p_text(id) }, 1, &r);
	if (rc == 0 && db_rows_count(r) == 1 && db_rows_get(r, 0, 0))
		snprintf(owner, sizeof(owner), "%s", db_rows_get(r, 0, 0));
	snprintf(subject, sizeof(subject), "apikeys/%s", id);
	if (rc == 0)
		rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c,
			     "UPDATE api_keys SET revoked_at = $1 WHERE id = $2"
			     " AND revoked_at IS NULL AND (expires_at IS NULL"
			     " OR expires_at > $1)",
			     (struct db_param[]){ DB_P_INT(now_ms()),
						  db_p_text(id) },
			     2, &changes);
	if (rc == 0 && changes > 0)
		rc = user_event(req->app, c, "chat.apikey.revoked",
				owner[0] ? owner : NULL, subject,
				(const char *const[]){ "key_id", id,
						       "by", req->user_id,
						       NULL });
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
	db_release(c);
	c = NULL;
	if (rc < 0) {
		request_fail(req, rc, "revoking a key");
		goto out;
	}
	if (changes == 0) {
		http_res_error(res, 404, "not_found", "no such API key");
		goto out;
	}
	log_info("admin '%s' revoked API key '%s' of user '%s'", req->user_id,
		 id, owner);
	/* as the owner's revoke: the feed ends the key's connections; the
	 * key is refused here already, so a failure only delays that */
	if (sessions_revoke_key(req->app, req->request_id, id, owner) < 0)
		log_warn("cannot tell the gateways that API key '%s' was "
			 "revoked", id);
	http_res_send(res, 204, NULL, NULL, 0);
out:
	if (c)
		db_release(c);
	db_rows_free(r);
}
