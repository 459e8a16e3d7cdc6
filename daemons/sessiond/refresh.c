/*
 * refresh.c - refresh-token rotation with reuse detection.
 *
 * Each refresh token works once: using it marks it used and mints the
 * next token of the same session (family).  Presenting a used token again
 * means two parties hold it, so the whole family is revoked.
 *
 * Race-freedom: the token is claimed with UPDATE ... WHERE used_at IS NULL
 * and the changed row count decides, inside the one transaction that also
 * inserts the new token.  Two concurrent uses of one token therefore see
 * exactly one winner (PostgreSQL re-checks the WHERE after the winner's
 * row lock is released; SQLite serialises writers with BEGIN IMMEDIATE);
 * the loser is treated as reuse.
 */
#include "sessiond.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* Longest refresh token text accepted (ours are 43 characters). */
#define REFRESH_TOKEN_MAX 256

enum refresh_outcome {
	REFRESH_OK = 0,
	REFRESH_INVALID,	/* unknown, expired, or its session dead */
	REFRESH_REUSED,		/* already used: the family is revoked */
};

/* The join keeps user_id on both sides so that it stays on one shard
 * when the tables are distributed by user_id. */
static const char sql_lookup[] =
	"SELECT r.session_id, r.user_id, r.expires_at, r.used_at,"
	" s.revoked_at, s.expires_at"
	" FROM refresh_tokens r JOIN sessions s"
	" ON s.id = r.session_id AND s.user_id = r.user_id"
	" WHERE r.token_hash = $1";
static const char sql_claim[] =
	"UPDATE refresh_tokens SET used_at = $1"
	" WHERE token_hash = $2 AND used_at IS NULL";
static const char sql_slide[] =
	"UPDATE sessions SET last_used_at = $1, expires_at = $2"
	" WHERE id = $3";

struct refresh_result {
	enum refresh_outcome outcome;
	char session_id[UUID_STR_LEN];
	char user_id[UUID_STR_LEN];
	char token[SESSIOND_TOKEN_LEN];	/* the new token */
	int64_t expires_at;
};

/* Revokes the family of a reused token; the caller commits. */
static int refresh_revoke_family(struct db_conn *c, const char *session_id,
				 int64_t now)
{
	log_warn("refresh token reused in session '%s': session revoked",
		 session_id);
	return sessions_revoke(c, session_id, NULL, "reuse", now, NULL);
}

/* The whole rotation in one transaction on c. */
static int refresh_rotate(struct sessiond *s, struct db_conn *c,
			  const char *hash, struct refresh_result *out)
{
	struct db_rows *rows = NULL;
	struct db_param p[3];
	int64_t now, changed = 0;
	int rc;

	out->outcome = REFRESH_INVALID;
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	now = now_ms();	/* after BEGIN, which may wait for a lock */
	p[0] = db_p_text(hash);
	rc = db_query(c, sql_lookup, p, 1, &rows);
	if (rc < 0)
		goto out;
	if (db_rows_count(rows) != 1 ||
	    !uuid_norm(db_rows_get(rows, 0, 0), out->session_id) ||
	    !uuid_norm(db_rows_get(rows, 0, 1), out->user_id))
		goto rollback;

	if (db_rows_get(rows, 0, 3)) {
		out->outcome = REFRESH_REUSED;
		rc = refresh_revoke_family(c, out->session_id, now);
		if (rc == 0)
			rc = db_commit(c);
		goto out;
	}
	if (db_rows_int(rows, 0, 2, 0) <= now ||
	    db_rows_get(rows, 0, 4) || db_rows_int(rows, 0, 5, 0) <= now)
		goto rollback;

	p[0] = DB_P_INT(now);
	p[1] = db_p_text(hash);
	rc = db_exec(c, sql_claim, p, 2, &changed);
	if (rc < 0)
		goto out;
	if (changed != 1) {
		/* a concurrent request used it between our read and now */
		out->outcome = REFRESH_REUSED;
		rc = refresh_revoke_family(c, out->session_id, now);
		if (rc == 0)
			rc = db_commit(c);
		goto out;
	}

	out->expires_at = now + s->refresh_ttl_ms;
	rc = sessions_token_insert(c, out->session_id, out->user_id, now,
				   out->expires_at, out->token);
	if (rc < 0)
		goto out;
	p[0] = DB_P_INT(now);
	p[1] = DB_P_INT(out->expires_at);
	p[2] = db_p_text(out->session_id);
	rc = db_exec(c, sql_slide, p, 3, NULL);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc == 0)
		out->outcome = REFRESH_OK;
	goto out;
rollback:
	rc = db_rollback(c);
out:
	db_rows_free(rows);
	return rc;
}

/* POST /internal/refresh {"refresh_token"} (internal) */
void refresh_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	struct refresh_result r;
	cJSON *body = NULL, *out = NULL;
	const char *tok = NULL;
	char hash[65], err[160];
	int rc;

	memset(&r, 0, sizeof(r));
	body = sessions_body(req, res);
	if (!body)
		return;
	rc = json_get_string(body, "refresh_token", true, 1,
			     REFRESH_TOKEN_MAX, &tok, err, sizeof(err));
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto out;
	}
	crypto_sha256_hex(tok, strlen(tok), hash);
	if (sessions_acquire(s, res, &c) < 0)
		goto out;
	rc = refresh_rotate(s, c, hash, &r);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot refresh the session");
		goto out;
	}
	if (r.outcome == REFRESH_REUSED) {
		http_res_error(res, 401, "refresh_token_reused",
			       "the refresh token was already used; "
			       "its session is revoked");
		goto out;
	}
	if (r.outcome != REFRESH_OK) {
		http_res_error(res, 401, "invalid_refresh_token",
			       "the refresh token is unknown or expired");
		goto out;
	}

	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "session_id", r.session_id) ||
	    !cJSON_AddStringToObject(out, "user_id", r.user_id) ||
	    !cJSON_AddStringToObject(out, "refresh_token", r.token) ||
	    !json_add_time(out, "expires_at", r.expires_at)) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, out);
	out = NULL;
out:
	cJSON_Delete(out);
	cJSON_Delete(body);
	sodium_memzero(&r, sizeof(r));
}
