/*
 * sessions.c - the session store and its handlers: creating a session at
 * login (internal), listing and deleting the caller's own sessions
 * (public), revoking, and the periodic cleanup of old rows.
 *
 * A session is one refresh-token family: every token minted for it by
 * rotation carries its id, and revoking the session kills them all.
 */
#include "sessiond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "err.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "page.h"
#include "text.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

/* Longest user agent and address kept; longer ones are cut (they come
 * from client headers, a login must not fail over them). */
#define SESSIONS_UA_MAX TEXT_USER_AGENT_MAX
#define SESSIONS_IP_MAX 64
/* Longest text accepted in those fields before cutting. */
#define SESSIONS_FIELD_MAX 8192
#define SESSIONS_LIMIT_DEFAULT 20
#define SESSIONS_LIMIT_MAX 100

static const char sql_session_insert[] =
	"INSERT INTO sessions (id, user_id, user_agent, ip, created_at,"
	" last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)";
static const char sql_token_insert[] =
	"INSERT INTO refresh_tokens (token_hash, session_id, user_id,"
	" created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
/* Live sessions of a user, newest first (ids are UUIDv7: time-ordered). */
static const char sql_list_first[] =
	"SELECT id, user_agent, ip, created_at, last_used_at, expires_at"
	" FROM sessions WHERE user_id = $1 AND revoked_at IS NULL"
	" AND expires_at > $2 ORDER BY id DESC LIMIT $3";
static const char sql_list_after[] =
	"SELECT id, user_agent, ip, created_at, last_used_at, expires_at"
	" FROM sessions WHERE user_id = $1 AND revoked_at IS NULL"
	" AND expires_at > $2 AND id < $4 ORDER BY id DESC LIMIT $3";
/* Owner's revoke: only a live session of that user.  The revoked rows
 * come back for their events. */
static const char sql_revoke_own[] =
	"UPDATE sessions SET revoked_at = $1, revoke_reason = $2"
	" WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL"
	" AND expires_at > $1 RETURNING id, user_id";
/* Internal revoke: any session not yet revoked. */
static const char sql_revoke_any[] =
	"UPDATE sessions SET revoked_at = $1, revoke_reason = $2"
	" WHERE id = $3 AND revoked_at IS NULL RETURNING id, user_id";
static const char sql_cleanup_tokens[] =
	"DELETE FROM refresh_tokens WHERE expires_at < $1"
	" OR session_id IN (SELECT id FROM sessions"
	" WHERE revoked_at < $1 OR expires_at < $1)";
static const char sql_cleanup_sessions[] =
	"DELETE FROM sessions WHERE revoked_at < $1 OR expires_at < $1";

struct cJSON *sessions_body(struct http_req *req, struct http_res *res)
{
	cJSON *obj = NULL;

	(void)res;			/* req->res: daemon_body answers */
	return daemon_body(req, &obj) < 0 ? NULL : obj;
}

/*
 * Optional text field: absent or null gives NULL; a string is copied
 * into out (max + 1 bytes) as display-safe text (text_clean: controls
 * such as ESC become U+FFFD), cut to at most max bytes on a character
 * boundary.  Whoever calls this route, what is stored is text that any
 * terminal or page may show.  Anything else is CHAT_EINVAL with err set.
 */
static int opt_text(const cJSON *body, const char *key, char *out,
		    size_t max, const char **val, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, key);
	const char *s = NULL;
	int rc;

	*val = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	rc = json_get_string(body, key, false, 0, SESSIONS_FIELD_MAX, &s, err,
			     errlen);
	if (rc < 0)
		return rc;
	text_clean(s, strlen(s), out, max + 1);
	*val = out;
	return 0;
}

int sessions_token_insert(struct db_conn *c, const char *session_id,
			  const char *user_id, int64_t now, int64_t expires_at,
			  char tok[SESSIOND_TOKEN_LEN])
{
	int rc;

	rc = crypto_random_token("", SESSIOND_TOKEN_BYTES, tok,
				 SESSIOND_TOKEN_LEN);
	if (rc < 0)
		return rc;
	return sessions_token_store(c, session_id, user_id, now, expires_at,
				    tok);
}

int sessions_token_store(struct db_conn *c, const char *session_id,
			 const char *user_id, int64_t now, int64_t expires_at,
			 const char *tok)
{
	char hash[65];
	struct db_param p[5];

	crypto_sha256_hex(tok, strlen(tok), hash);
	p[0] = db_p_text(hash);
	p[1] = db_p_text(session_id);
	p[2] = db_p_text(user_id);
	p[3] = DB_P_INT(now);
	p[4] = DB_P_INT(expires_at);
	return db_exec(c, sql_token_insert, p, 5, NULL);
}

int sessions_mark_revoked(struct sessiond *s, struct db_conn *c,
			  const char *id, const char *user_id,
			  const char *reason, int64_t now, int64_t *changed)
{
	struct db_rows *rows = NULL;
	struct db_param p[4];
	int rc;

	p[0] = DB_P_INT(now);
	p[1] = db_p_text(reason);
	p[2] = db_p_text(id);
	p[3] = db_p_text(user_id);
	rc = db_query(c, user_id ? sql_revoke_own : sql_revoke_any, p,
		      user_id ? 4 : 3, &rows);
	if (rc == 0)
		rc = sessions_revoked_events(s, c, rows, reason);
	if (rc == 0 && changed)
		*changed = (int64_t)db_rows_count(rows);
	db_rows_free(rows);
	return rc;
}

int sessions_event(struct sessiond *s, struct db_conn *c, const char *type,
		   const char *user_id, const char *session_id,
		   const char *reason, int64_t expires_at)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *data = cJSON_CreateObject();
	int rc = CHAT_ENOMEM;

	if (!data || !cJSON_AddStringToObject(data, "session_id", session_id))
		goto out;
	if (reason && !cJSON_AddStringToObject(data, "reason", reason))
		goto out;
	if (expires_at > 0 && !json_add_time(data, "expires_at", expires_at))
		goto out;
	snprintf(subject, sizeof(subject), "sessions/%s", session_id);
	rc = events_emit(c, &s->d, type, user_id, subject, data);
out:
	cJSON_Delete(data);
	return rc;
}

/* chat.session.created: as sessions_event, and the device it was made
 * from (user_agent, ip; null when unknown), so that a consumer can tell a
 * sign-in from a new device (notifyd).  Neither is a secret. */
static int sessions_created_event(struct sessiond *s, struct db_conn *c,
				  const char *user_id, const char *session_id,
				  const char *ua, const char *ip,
				  int64_t expires_at)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *data = cJSON_CreateObject();
	int rc = CHAT_ENOMEM;

	if (!data ||
	    !cJSON_AddStringToObject(data, "session_id", session_id) ||
	    !json_add_time(data, "expires_at", expires_at) ||
	    !(ua ? cJSON_AddStringToObject(data, "user_agent", ua)
		 : cJSON_AddNullToObject(data, "user_agent")) ||
	    !(ip ? cJSON_AddStringToObject(data, "ip", ip)
		 : cJSON_AddNullToObject(data, "ip")))
		goto out;
	snprintf(subject, sizeof(subject), "sessions/%s", session_id);
	rc = events_emit(c, &s->d, "chat.session.created", user_id, subject,
			 data);
out:
	cJSON_Delete(data);
	return rc;
}

int sessions_revoked_events(struct sessiond *s, struct db_conn *c,
			    const struct db_rows *rows, const char *reason)
{
	size_t i, n = db_rows_count(rows);
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		const char *id = db_rows_get(rows, i, 0);
		const char *uid = db_rows_get(rows, i, 1);

		if (!id)
			continue;
		rc = sessions_event(s, c, "chat.session.revoked", uid, id,
				    reason, 0);
	}
	return rc;
}

int sessions_cleanup(struct sessiond *s, int64_t now)
{
	struct db_conn *c = NULL;
	struct db_param p[1];
	int64_t ntok = 0, nses = 0;
	int rc;

	rc = db_acquire(s->d.db, SESSIOND_DB_WAIT_MS, &c);
	if (rc < 0)
		goto out;
	p[0] = DB_P_INT(now - SESSIOND_KEEP_MS);
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	rc = db_exec(c, sql_cleanup_tokens, p, 1, &ntok);
	if (rc < 0)
		goto out;
	rc = db_exec(c, sql_cleanup_sessions, p, 1, &nses);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc < 0)
		goto out;
	if (ntok > 0 || nses > 0)
		log_info("cleanup removed %lld sessions, %lld refresh tokens",
			 (long long)nses, (long long)ntok);
out:
	if (c)
		db_release(c);
	if (rc < 0)
		log_warn("cleanup failed: %s", chat_strerror(rc));
	return rc;
}

/* POST /internal/sessions {"user_id","user_agent","ip"} (internal) */
void sessions_create_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	cJSON *body = NULL, *out = NULL;
	const char *uid_in = NULL, *ua = NULL, *ip = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	char ua_buf[SESSIONS_UA_MAX + 1], ip_buf[SESSIONS_IP_MAX + 1];
	char tok[SESSIOND_TOKEN_LEN], err[160];
	struct db_param p[6];
	int64_t now, expires;
	int rc;

	body = sessions_body(req, res);
	if (!body)
		return;
	rc = json_get_string(body, "user_id", true, 1, 64, &uid_in, err,
			     sizeof(err));
	if (rc == 0 && !uuid_norm(uid_in, user_id)) {
		snprintf(err, sizeof(err), "'user_id' must be a uuid");
		rc = CHAT_EINVAL;
	}
	if (rc == 0)
		rc = opt_text(body, "user_agent", ua_buf, SESSIONS_UA_MAX, &ua,
			      err, sizeof(err));
	if (rc == 0)
		rc = opt_text(body, "ip", ip_buf, SESSIONS_IP_MAX, &ip, err,
			      sizeof(err));
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto out;
	}

	rc = uuid_v7(id);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot make a session id");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	now = now_ms();
	expires = now + s->refresh_ttl_ms;
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	p[2] = db_p_text(ua);
	p[3] = db_p_text(ip);
	p[4] = DB_P_INT(now);
	p[5] = DB_P_INT(expires);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c, sql_session_insert, p, 6, NULL);
	if (rc == 0)
		rc = sessions_token_insert(c, id, user_id, now, expires, tok);
	if (rc == 0)
		rc = sessions_created_event(s, c, user_id, id, ua, ip,
					    expires);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot store the session");
		goto out;
	}

	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "session_id", id) ||
	    !cJSON_AddStringToObject(out, "refresh_token", tok) ||
	    !json_add_time(out, "expires_at", expires) ||
	    /* userd's cookie Max-Age, with no clock or date parse */
	    !cJSON_AddNumberToObject(out, "expires_in",
				     (double)(s->refresh_ttl_ms / 1000))) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	log_info("session '%s' created", id);
	http_res_json(res, 201, out);
	out = NULL;
out:
	if (c)
		db_release(c);
	cJSON_Delete(out);
	cJSON_Delete(body);
	sodium_memzero(tok, sizeof(tok));
}

/* page_parse's check: a cursor (page.h) is a session id, made lowercase
 * here. */
static bool list_cursor_ok(struct page *p, void *arg)
{
	char id[UUID_STR_LEN];

	(void)arg;
	if (!uuid_norm(p->cursor, id))
		return false;
	memcpy(p->cursor, id, sizeof(id));
	p->cursor_len = UUID_STR_LEN - 1;
	return true;
}

/* One row of the list as the API's session object. */
static cJSON *session_json(const struct db_rows *r, size_t i,
			   const char *current)
{
	cJSON *o = cJSON_CreateObject();
	const char *id = db_rows_get(r, i, 0);
	const char *ua = db_rows_get(r, i, 1);
	const char *ip = db_rows_get(r, i, 2);
	bool cur = current && id && strcasecmp(id, current) == 0;

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "id", id ? id : "") ||
	    !(ua ? cJSON_AddStringToObject(o, "user_agent", ua)
		 : cJSON_AddNullToObject(o, "user_agent")) ||
	    !(ip ? cJSON_AddStringToObject(o, "ip", ip)
		 : cJSON_AddNullToObject(o, "ip")) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 3, 0)) ||
	    !json_add_time(o, "last_used_at", db_rows_int(r, i, 4, 0)) ||
	    !json_add_time(o, "expires_at", db_rows_int(r, i, 5, 0)) ||
	    !cJSON_AddBoolToObject(o, "current", cur)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *sessions_page(const struct db_rows *rows, long limit,
		     sessions_row_fn row, const char *current)
{
	cJSON *data, *item;
	const char *last = NULL;
	size_t i, n;

	n = db_rows_count(rows);
	data = cJSON_CreateArray();
	if (!data)
		return NULL;
	for (i = 0; i < n && i < (size_t)limit; i++) {
		item = row(rows, i, current);
		if (!item)
			goto oom;
		cJSON_AddItemToArray(data, item);
	}
	/* more rows: the next page starts after the last id of this one */
	if (n > (size_t)limit) {
		last = db_rows_get(rows, (size_t)limit - 1, 0);
		if (!last)
			goto oom;
	}
	return page_json(data, last, last ? strlen(last) : 0);
oom:
	cJSON_Delete(data);
	return NULL;
}

/* GET /v1/sessions?limit=&cursor= (guest, from a session: no API key):
 * the caller's live sessions */
void sessions_list_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	cJSON *out = NULL;
	char user_id[UUID_STR_LEN], err[160];
	struct db_param p[4];
	struct page pg;
	int rc;

	if (!uuid_norm(req->user_id, user_id)) {
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return;
	}
	if (page_parse(req, SESSIONS_LIMIT_DEFAULT, SESSIONS_LIMIT_MAX,
		       list_cursor_ok, NULL, &pg, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(user_id);
	p[1] = DB_P_INT(now_ms());
	p[2] = DB_P_INT(pg.limit + 1);	/* one more: does a page follow? */
	p[3] = db_p_text(pg.cursor);
	rc = db_query(c, pg.has_cursor ? sql_list_after : sql_list_first, p,
		      pg.has_cursor ? 4 : 3, &rows);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the sessions");
		goto out;
	}
	out = sessions_page(rows, pg.limit, session_json, req->session_id);
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

/* DELETE /v1/sessions/{id} (guest, from a session: no API key): revokes
 * one of the caller's sessions; someone else's is as unknown as a missing
 * one. */
void sessions_delete_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	int64_t changed = 0, now;
	int rc;

	if (!uuid_norm(req->user_id, user_id)) {
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return;
	}
	if (!uuid_norm(http_req_param(req, "id"), id)) {
		http_res_error(res, 404, "not_found", "no such session");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	rc = feed_begin(c, &now);
	if (rc == 0)
		rc = sessions_mark_revoked(s, c, id, user_id, "deleted", now,
					   &changed);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot revoke the session");
		return;
	}
	if (changed == 0) {
		http_res_error(res, 404, "not_found", "no such session");
		return;
	}
	log_info("session '%s' deleted by its owner", id);
	http_res_json(res, 204, NULL);
}
