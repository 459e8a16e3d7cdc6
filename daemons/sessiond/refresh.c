/*
 * refresh.c - refresh-token rotation with reuse detection and a grace
 * window for a client racing itself.
 *
 * Each refresh token works once: using it marks it used and mints the
 * next token of the same session (family).  Presenting a used token again
 * normally means two parties hold it, so the whole family is revoked.
 *
 * Grace window: a client that sends two refreshes at once (two tabs, a
 * retry after a lost answer) would log itself out that way.  So within
 * sessiond.refresh_grace_s of the first use, a used token whose successor
 * is still unused and whose session is live gets that same successor
 * again, as if it were the first answer.  Only hashes are stored, so the
 * successor is derived, not random: HMAC-SHA256 keyed with the stack's
 * internal secret over "refresh-successor:" and the old token's text,
 * base64url.  Whoever holds the old token can ask for it again but can
 * compute nothing, and once the successor has been used (the legitimate
 * client moved on) or the window has passed, the old token is reuse
 * again.
 *
 * Race-freedom: the token is claimed with UPDATE ... WHERE used_at IS NULL
 * and the changed row count decides, inside the one transaction that also
 * inserts the successor.  Two concurrent uses of one token therefore see
 * exactly one winner: PostgreSQL re-checks the WHERE after the winner's
 * row lock is released, and the loser's next statement (READ COMMITTED)
 * sees the winner's commit; SQLite serialises writers with BEGIN
 * IMMEDIATE, so the loser finds the token used.  Either way the loser
 * goes through the grace check above.
 *
 * Lookup: POST /internal/refresh/session names the session of a token
 * without using it, for a browser's logout by its refresh cookie.
 */
#include "sessiond.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "b64url.h"
#include "crypto.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* Longest refresh token text accepted (ours are 43 characters). */
#define REFRESH_TOKEN_MAX 256
/* What the successor's HMAC covers in front of the old token. */
#define REFRESH_SUCCESSOR_LABEL "refresh-successor:"

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
/* The successor of a used token, in the same session. */
static const char sql_successor[] =
	"SELECT expires_at, used_at FROM refresh_tokens"
	" WHERE token_hash = $1 AND session_id = $2 AND user_id = $3";
static const char sql_claim[] =
	"UPDATE refresh_tokens SET used_at = $1"
	" WHERE token_hash = $2 AND used_at IS NULL";
static const char sql_slide[] =
	"UPDATE sessions SET last_used_at = $1, expires_at = $2"
	" WHERE id = $3";

/* A refresh token's row joined with its session's. */
struct refresh_row {
	bool found;
	char session_id[UUID_STR_LEN];
	char user_id[UUID_STR_LEN];
	int64_t expires_at;		/* the token's */
	bool used;
	int64_t used_at;		/* when used */
	bool live;			/* the session is neither revoked nor
					 * expired */
};

struct refresh_result {
	enum refresh_outcome outcome;
	char session_id[UUID_STR_LEN];
	char user_id[UUID_STR_LEN];
	char token[SESSIOND_TOKEN_LEN];	/* the new token */
	int64_t expires_at;
	int64_t expires_in_ms;		/* expires_at - the rotation's now */
};

/* The successor of token tok: base64url(HMAC-SHA256(internal secret,
 * "refresh-successor:" + tok)), 43 characters like a random token. */
static int refresh_successor(const struct sessiond *s, const char *tok,
			     char out[SESSIOND_TOKEN_LEN])
{
	static const char label[] = REFRESH_SUCCESSOR_LABEL;
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	const char *key = s->d.internal_secret;
	int rc = CHAT_EINVAL;

	/* an empty key would make successors anyone's to compute */
	if (key[0] == '\0')
		goto out;
	if (crypto_auth_hmacsha256_init(&st, (const unsigned char *)key,
					strlen(key)) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
					  sizeof(label) - 1) != 0 ||
	    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok,
					  strlen(tok)) != 0 ||
	    crypto_auth_hmacsha256_final(&st, mac) != 0)
		goto out;
	rc = b64url_encode(mac, sizeof(mac), out, SESSIOND_TOKEN_LEN);
out:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

/* Reads the token with hash into *row (row->found false when unknown). */
static int refresh_read(struct db_conn *c, const char *hash, int64_t now,
			struct refresh_row *row)
{
	struct db_rows *rows = NULL;
	struct db_param p[1];
	int rc;

	memset(row, 0, sizeof(*row));
	p[0] = db_p_text(hash);
	rc = db_query(c, sql_lookup, p, 1, &rows);
	if (rc < 0)
		goto out;
	if (db_rows_count(rows) != 1 ||
	    !uuid_norm(db_rows_get(rows, 0, 0), row->session_id) ||
	    !uuid_norm(db_rows_get(rows, 0, 1), row->user_id))
		goto out;
	row->found = true;
	row->expires_at = db_rows_int(rows, 0, 2, 0);
	row->used = db_rows_get(rows, 0, 3) != NULL;
	row->used_at = db_rows_int(rows, 0, 3, 0);
	row->live = !db_rows_get(rows, 0, 4) &&
		    db_rows_int(rows, 0, 5, 0) > now;
out:
	db_rows_free(rows);
	return rc;
}

/* Revokes the family of a reused token; the caller commits.  The
 * reuse is an event of its own (a security signal, also when the
 * session was revoked before); the revocation, when the session was
 * still live, another (reason "reuse"). */
static int refresh_revoke_family(struct sessiond *s, struct db_conn *c,
				 const struct refresh_row *row, int64_t now)
{
	int rc;

	log_warn("refresh token reused in session '%s': session revoked",
		 row->session_id);
	rc = sessions_event(s, c, "chat.session.reuse_detected", row->user_id,
			    row->session_id, NULL, 0);
	if (rc == 0)
		rc = sessions_mark_revoked(s, c, row->session_id, NULL,
					   "reuse", now, NULL);
	return rc;
}

/*
 * A used token presented again (row->used), inside the caller's
 * transaction, which this ends.  Within the grace window, with the
 * session live and the successor unused, the answer is that successor
 * (REFRESH_OK); anything else is reuse and revokes the session.
 */
static int refresh_again(struct sessiond *s, struct db_conn *c,
			 const char *tok, const struct refresh_row *row,
			 int64_t now, struct refresh_result *out)
{
	struct db_rows *rows = NULL;
	struct db_param p[3];
	char hash[65];
	int rc = 0;

	if (s->refresh_grace_ms <= 0 || !row->live ||
	    now - row->used_at > s->refresh_grace_ms)
		goto reused;
	rc = refresh_successor(s, tok, out->token);
	if (rc < 0)
		goto out;
	crypto_sha256_hex(out->token, strlen(out->token), hash);
	p[0] = db_p_text(hash);
	p[1] = db_p_text(row->session_id);
	p[2] = db_p_text(row->user_id);
	rc = db_query(c, sql_successor, p, 3, &rows);
	if (rc < 0)
		goto out;
	/* the successor used means the client moved on: a third party */
	if (db_rows_count(rows) != 1 || db_rows_get(rows, 0, 1) ||
	    db_rows_int(rows, 0, 0, 0) <= now)
		goto reused;
	out->expires_at = db_rows_int(rows, 0, 0, 0);
	out->expires_in_ms = out->expires_at - now;
	rc = db_commit(c);
	if (rc < 0)
		goto out;
	log_info("refresh token of session '%s' used again within the "
		 "grace window: same successor", row->session_id);
	out->outcome = REFRESH_OK;
	goto out;
reused:
	out->outcome = REFRESH_REUSED;
	rc = refresh_revoke_family(s, c, row, now);
	if (rc == 0)
		rc = db_commit(c);
out:
	if (out->outcome != REFRESH_OK)
		sodium_memzero(out->token, sizeof(out->token));
	db_rows_free(rows);
	return rc;
}

/* The whole rotation of token tok (SHA-256 hash) in one transaction on
 * c.  On an error the transaction is left to db_release to roll back. */
static int refresh_rotate(struct sessiond *s, struct db_conn *c,
			  const char *tok, const char *hash,
			  struct refresh_result *out)
{
	struct refresh_row row;
	struct db_param p[3];
	int64_t now, changed = 0;
	int rc;

	out->outcome = REFRESH_INVALID;
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	now = now_ms();	/* after BEGIN, which may wait for a lock */
	rc = refresh_read(c, hash, now, &row);
	if (rc < 0)
		goto out;
	if (!row.found)
		goto rollback;
	memcpy(out->session_id, row.session_id, sizeof(out->session_id));
	memcpy(out->user_id, row.user_id, sizeof(out->user_id));
	if (row.used) {
		rc = refresh_again(s, c, tok, &row, now, out);
		goto out;
	}
	if (row.expires_at <= now || !row.live)
		goto rollback;

	p[0] = DB_P_INT(now);
	p[1] = db_p_text(hash);
	rc = db_exec(c, sql_claim, p, 2, &changed);
	if (rc < 0)
		goto out;
	if (changed != 1) {
		/* A concurrent request claimed it first and has committed
		 * (PostgreSQL made this UPDATE wait for it): read again to
		 * see its used_at and successor. */
		rc = refresh_read(c, hash, now, &row);
		if (rc < 0)
			goto out;
		if (!row.found)
			goto rollback;
		row.used = true;	/* whatever the read says, we lost */
		rc = refresh_again(s, c, tok, &row, now, out);
		goto out;
	}

	out->expires_at = now + s->refresh_ttl_ms;
	out->expires_in_ms = s->refresh_ttl_ms;
	rc = refresh_successor(s, tok, out->token);
	if (rc < 0)
		goto out;
	rc = sessions_token_store(c, out->session_id, out->user_id, now,
				  out->expires_at, out->token);
	if (rc < 0)
		goto out;
	p[0] = DB_P_INT(now);
	p[1] = DB_P_INT(out->expires_at);
	p[2] = db_p_text(out->session_id);
	rc = db_exec(c, sql_slide, p, 3, NULL);
	if (rc < 0)
		goto out;
	/* a grace-window repeat (refresh_again) mints nothing: no event */
	rc = sessions_event(s, c, "chat.session.refreshed", out->user_id,
			    out->session_id, NULL, out->expires_at);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc == 0)
		out->outcome = REFRESH_OK;
	goto out;
rollback:
	rc = db_rollback(c);
out:
	return rc;
}

/*
 * The start both refresh routes share: the body's "refresh_token", its
 * SHA-256 hex in hash, and a pooled connection in *c.  Returns the body,
 * which the caller owns and must keep while *tok is used (*tok points into
 * it); on failure the response is written, nothing is held, NULL.
 */
static cJSON *refresh_request(struct http_req *req, struct http_res *res,
			      const char **tok, char hash[65],
			      struct db_conn **c)
{
	cJSON *body;
	char err[160];
	int rc;

	body = sessions_body(req, res);
	if (!body)
		goto out;
	rc = json_get_string(body, "refresh_token", true, 1,
			     REFRESH_TOKEN_MAX, tok, err, sizeof(err));
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto fail;
	}
	crypto_sha256_hex(*tok, strlen(*tok), hash);
	if (daemon_db(req, c) < 0)
		goto fail;
	goto out;
fail:
	cJSON_Delete(body);
	body = NULL;
out:
	return body;
}

/* POST /internal/refresh {"refresh_token"} (internal) */
void refresh_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	struct refresh_result r;
	cJSON *body = NULL, *out = NULL;
	const char *tok = NULL;
	char hash[65];
	int rc;

	memset(&r, 0, sizeof(r));
	body = refresh_request(req, res, &tok, hash, &c);
	if (!body)
		return;
	rc = refresh_rotate(s, c, tok, hash, &r);
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
	    !json_add_time(out, "expires_at", r.expires_at) ||
	    !cJSON_AddNumberToObject(out, "expires_in",
				     (double)(r.expires_in_ms / 1000))) {
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

/*
 * POST /internal/refresh/session {"refresh_token"} (internal): the
 * session a refresh token belongs to, whether the token is current, used
 * or expired: {"session_id", "user_id"}, or 404.  A browser's logout
 * shows only its refresh cookie; userd revokes the session found here.
 * Nothing is written: a lookup must not count as a use.
 */
void refresh_session_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct refresh_row row;
	cJSON *body = NULL, *out = NULL;
	const char *tok = NULL;
	char hash[65];
	int rc;

	memset(&row, 0, sizeof(row));
	body = refresh_request(req, res, &tok, hash, &c);
	if (!body)
		return;
	rc = refresh_read(c, hash, now_ms(), &row);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the refresh token");
		goto out;
	}
	if (!row.found) {
		http_res_error(res, 404, "not_found",
			       "no session has this refresh token");
		goto out;
	}
	out = cJSON_CreateObject();
	if (!out ||
	    !cJSON_AddStringToObject(out, "session_id", row.session_id) ||
	    !cJSON_AddStringToObject(out, "user_id", row.user_id)) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, out);
	out = NULL;
out:
	cJSON_Delete(out);
	cJSON_Delete(body);
}
