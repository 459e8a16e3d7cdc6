/*
 * admin.c - sessiond's part of the admin API and of account erasure:
 *
 *   GET    /v1/admin/sessions?user=&limit=&cursor=   (admin)
 *   DELETE /v1/admin/sessions/{id}                   (admin)
 *   POST   /internal/users/{id}/erase                (internal, userd)
 *
 * The role comes from the gateway's identity headers (HTTP_PERM_ADMIN):
 * a demotion or a disable revokes the admin's sessions, and the gateway
 * refuses their access tokens from then on, so the header cannot be
 * staler than the revocation feed.
 *
 * Erasure deletes every row that holds the user's id: sessions, refresh
 * tokens and recorded revocations.  The sessions' revocations must
 * outlive the rows for as long as access tokens of them may be alive
 * (a gateway that starts later reads them from the store), so they are
 * recorded again as kind "session" rows that name the session only, not
 * the user.
 */
#include "sessiond.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "page.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define ADMIN_LIMIT_DEFAULT 50
#define ADMIN_LIMIT_MAX 100

/* Live sessions, newest first; [user][cursor] picks the statement, whose
 * parameters are $1 now, $2 limit, then user and cursor as they come. */
static const char *const admin_sql_list[2][2] = {
	{
		"SELECT id, user_agent, ip, created_at, last_used_at,"
		" expires_at, user_id FROM sessions WHERE revoked_at IS NULL"
		" AND expires_at > $1 ORDER BY id DESC LIMIT $2",
		"SELECT id, user_agent, ip, created_at, last_used_at,"
		" expires_at, user_id FROM sessions WHERE revoked_at IS NULL"
		" AND expires_at > $1 AND id < $3 ORDER BY id DESC LIMIT $2",
	},
	{
		"SELECT id, user_agent, ip, created_at, last_used_at,"
		" expires_at, user_id FROM sessions WHERE revoked_at IS NULL"
		" AND expires_at > $1 AND user_id = $3"
		" ORDER BY id DESC LIMIT $2",
		"SELECT id, user_agent, ip, created_at, last_used_at,"
		" expires_at, user_id FROM sessions WHERE revoked_at IS NULL"
		" AND expires_at > $1 AND user_id = $3 AND id < $4"
		" ORDER BY id DESC LIMIT $2",
	},
};
/* The revoked row comes back for its chat.session.revoked event. */
static const char admin_sql_revoke[] =
	"UPDATE sessions SET revoked_at = $1, revoke_reason = 'admin'"
	" WHERE id = $2 AND revoked_at IS NULL AND expires_at > $1"
	" RETURNING id, user_id";

/*
 * Erasure, in order, inside one transaction.  $1 the user, $2 now, $3
 * the oldest expiry that may still have live access tokens.  The
 * session revocations are kept anonymous first (see the top comment).
 */
static const char *const admin_sql_erase[] = {
	"INSERT INTO revocations (kind, subject, user_id, revoked_at)"
	" SELECT 'session', id, '', $2 FROM sessions"
	" WHERE user_id = $1 AND expires_at > $3",
	"DELETE FROM refresh_tokens WHERE user_id = $1",
	"DELETE FROM sessions WHERE user_id = $1",
	"DELETE FROM revocations WHERE user_id = $1 OR subject = $1",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* page_parse's check: a cursor is a session id, made lowercase here. */
static bool admin_cursor_ok(struct page *p, void *arg)
{
	char id[UUID_STR_LEN];

	(void)arg;
	if (!uuid_norm(p->cursor, id))
		return false;
	memcpy(p->cursor, id, sizeof(id));
	p->cursor_len = UUID_STR_LEN - 1;
	return true;
}

/* One row as the API's AdminSession (none is the caller's: no mark). */
static cJSON *admin_session_json(const struct db_rows *r, size_t i,
				 const char *current)
{
	cJSON *o = cJSON_CreateObject();
	const char *id = db_rows_get(r, i, 0);
	const char *ua = db_rows_get(r, i, 1);
	const char *ip = db_rows_get(r, i, 2);
	const char *uid = db_rows_get(r, i, 6);

	(void)current;
	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "id", id ? id : "") ||
	    !cJSON_AddStringToObject(o, "user_id", uid ? uid : "") ||
	    !(ua ? cJSON_AddStringToObject(o, "user_agent", ua)
		 : cJSON_AddNullToObject(o, "user_agent")) ||
	    !(ip ? cJSON_AddStringToObject(o, "ip", ip)
		 : cJSON_AddNullToObject(o, "ip")) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 3, 0)) ||
	    !json_add_time(o, "last_used_at", db_rows_int(r, i, 4, 0)) ||
	    !json_add_time(o, "expires_at", db_rows_int(r, i, 5, 0))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ?user= into user (lowercase UUID); 0 absent, 1 present, -1 after
 * answering 400. */
static int admin_user_param(struct http_req *req, char user[UUID_STR_LEN])
{
	char q[64];
	int rc = http_req_query(req, "user", q, sizeof(q));

	if (rc == CHAT_ENOTFOUND)
		return 0;
	if (rc < 0 || !uuid_norm(q, user)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'user' must be a user id");
		return -1;
	}
	return 1;
}

void admin_sessions_list_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	cJSON *out = NULL;
	char user[UUID_STR_LEN], err[160];
	struct db_param p[4];
	struct page pg;
	size_t np = 2;
	int has_user, rc;

	has_user = admin_user_param(req, user);
	if (has_user < 0)
		return;
	if (page_parse(req, ADMIN_LIMIT_DEFAULT, ADMIN_LIMIT_MAX,
		       admin_cursor_ok, NULL, &pg, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	p[0] = DB_P_INT(now_ms());
	p[1] = DB_P_INT(pg.limit + 1);	/* one more: does a page follow? */
	if (has_user)
		p[np++] = db_p_text(user);
	if (pg.has_cursor)
		p[np++] = db_p_text(pg.cursor);
	rc = db_query(c, admin_sql_list[has_user][pg.has_cursor], p, np,
		      &rows);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the sessions");
		goto out;
	}
	out = sessions_page(rows, pg.limit, admin_session_json, NULL);
	if (!out)
		goto oom;
	http_res_json(res, 200, out);
	out = NULL;
	goto out;
oom:
	http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
out:
	cJSON_Delete(out);
	db_rows_free(rows);
}

void admin_sessions_delete_handler(struct http_req *req,
				   struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	char id[UUID_STR_LEN];
	int64_t changed = 0, now;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), id)) {
		http_res_error(res, 404, "not_found", "no such session");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	rc = feed_begin(c, &now);
	if (rc == 0)
		rc = db_query(c, admin_sql_revoke,
			      (struct db_param[]){ DB_P_INT(now),
						   db_p_text(id) },
			      2, &rows);
	if (rc == 0) {
		changed = (int64_t)db_rows_count(rows);
		rc = sessions_revoked_events(s, c, rows, "admin");
	}
	db_rows_free(rows);
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot revoke the session");
		return;
	}
	if (changed == 0) {
		http_res_error(res, 404, "not_found", "no such session");
		return;
	}
	feed_notify(s);
	log_info("session '%s' revoked by admin '%s'", id,
		 req->user_id ? req->user_id : "?");
	http_res_json(res, 204, NULL);
}

void admin_erase_sessions_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	char user[UUID_STR_LEN];
	int64_t now, n = 0, sessions = 0;
	size_t i;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), user)) {
		http_res_error(res, 404, "not_found", "no such user");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	rc = feed_begin(c, &now);
	for (i = 0; rc == 0 && i < NELEM(admin_sql_erase); i++) {
		rc = db_exec(c, admin_sql_erase[i],
			     (struct db_param[]){
				     db_p_text(user), DB_P_INT(now),
				     DB_P_INT(now - s->access_ttl_ms) },
			     i == 0 ? 3 : 1, &n);
		if (i == 2)
			sessions = n;
	}
	/* and sessiond's events of the user (events.h) */
	if (rc == 0)
		rc = events_erase_user(c, &s->d, user);
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc,
				    "cannot erase the user's sessions");
		return;
	}
	feed_notify(s);
	log_info("user '%s' erased: %lld sessions", user, (long long)sessions);
	http_res_json(res, 204, NULL);
}
