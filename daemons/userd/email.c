/*
 * email.c - accounts' e-mail addresses: storing one (unverified), the
 * one-time codes in user_codes (hashed, one live code per user and
 * kind, tries counted), their mails through notifyd's POST
 * /internal/mail, and the routes
 *
 *   GET  /internal/users/{id}/contact     notifyd: whom to mail, and
 *                                         whether it may (verified)
 *   POST /v1/users/me/email/verify        {"code"}: the address is the
 *                                         owner's
 *   POST /v1/users/me/email/verify/resend a fresh code, rate limited
 *
 * An address is unique among verified addresses only: anyone may claim
 * any address, unverified, and nothing tells them whether an account
 * already verified it; such an address simply gets no mail from us (its
 * owner has an account), and a code can only verify it while nobody
 * else has (409 email_taken to the one who proved they read its mail,
 * and so knows already).  Blocking calls: worker threads only.
 */
#include "userd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "db.h"
#include "err.h"
#include "http-client.h"
#include "http-out.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define EMAIL_MAIL_TIMEOUT_MS 5000
#define EMAIL_MAIL_MAX_ANSWER 4096
#define EMAIL_HOUR_MS 3600000LL

static const char sql_store[] =
	"UPDATE users SET email = $1, email_key = $2, email_verified = 0,"
	" updated_at = $3 WHERE id = $4";
/* the codes of the old address end with it; kept for the hourly counts */
static const char sql_end_codes[] =
	"UPDATE user_codes SET used_at = $1"
	" WHERE user_id = $2 AND used_at IS NULL";
static const char sql_end_kind[] =
	"UPDATE user_codes SET used_at = $1"
	" WHERE user_id = $2 AND kind = $3 AND used_at IS NULL";
/* rows past any hourly count */
static const char sql_prune[] =
	"DELETE FROM user_codes WHERE expires_at < $1";
static const char sql_insert[] =
	"INSERT INTO user_codes (code_hash, user_id, kind, email_key,"
	" attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, 0, $5, $6)";
static const char sql_count[] =
	"SELECT COUNT(*), MIN(created_at) FROM user_codes"
	" WHERE user_id = $1 AND kind = $2 AND created_at >= $3";
static const char sql_taken[] =
	"SELECT COUNT(*) FROM users"
	" WHERE email_key = $1 AND email_verified = 1 AND id <> $2";
/* a try costs the live code one of its attempts, right or wrong */
static const char sql_try[] =
	"UPDATE user_codes SET attempts = attempts + 1"
	" WHERE user_id = $1 AND kind = 'email_verify' AND used_at IS NULL"
	" AND expires_at > $2 AND attempts < $3"
	" RETURNING code_hash, email_key";
static const char sql_use[] =
	"UPDATE user_codes SET used_at = $1"
	" WHERE code_hash = $2 AND used_at IS NULL";
static const char sql_verified[] =
	"UPDATE users SET email_verified = 1, updated_at = $1"
	" WHERE id = $2 AND email_key = $3 AND email_verified = 0";

int email_store(struct userd *ud, struct db_conn *c, const char *user_id,
		const char *email)
{
	char key[EMAIL_MAX + 1];
	int64_t now = now_ms();
	int rc;

	(void)ud;
	if (email)
		email_key(email, key);
	rc = db_exec(c, sql_store,
		     (struct db_param[]){ db_p_text(email),
					  db_p_text(email ? key : NULL),
					  DB_P_INT(now), db_p_text(user_id) },
		     4, NULL);
	if (rc == 0)
		rc = db_exec(c, sql_end_codes,
			     (struct db_param[]){ DB_P_INT(now),
						  db_p_text(user_id) },
			     2, NULL);
	return rc;
}

int email_code_create(struct userd *ud, struct db_conn *c,
		      const char *user_id, const char *kind,
		      const char *ekey, char code[CODE_LEN + 1])
{
	char hash[65];
	int64_t now = now_ms();
	int rc;

	code_new(code);
	code_hash(code, hash);
	rc = db_exec(c, sql_end_kind,
		     (struct db_param[]){ DB_P_INT(now), db_p_text(user_id),
					  db_p_text(kind) },
		     3, NULL);
	if (rc == 0)
		rc = db_exec(c, sql_prune,
			     (struct db_param[]){
				     DB_P_INT(now - EMAIL_HOUR_MS) },
			     1, NULL);
	if (rc == 0)
		rc = db_exec(c, sql_insert,
			     (struct db_param[]){
				     db_p_text(hash), db_p_text(user_id),
				     db_p_text(kind), db_p_text(ekey),
				     DB_P_INT(now),
				     DB_P_INT(now + ud->code_ttl_ms) },
			     6, NULL);
	return rc;
}

int email_code_count(struct db_conn *c, const char *user_id,
		     const char *kind, int64_t since_ms, int64_t *n,
		     int64_t *oldest)
{
	struct db_rows *r = NULL;
	int rc = db_query(c, sql_count,
			  (struct db_param[]){ db_p_text(user_id),
					       db_p_text(kind),
					       DB_P_INT(since_ms) },
			  3, &r);

	if (rc == 0) {
		*n = db_rows_int(r, 0, 0, 0);
		*oldest = db_rows_int(r, 0, 1, since_ms);
	}
	db_rows_free(r);
	return rc;
}

/* True for a request id that is safe inside a header line. */
static bool email_header_safe(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	}
	return true;
}

int email_mail(struct userd *ud, const char *request_id,
	       const char *user_id, const char *to, const char *kind,
	       const char *code)
{
	char url[512], h_internal[128], h_rid[192];
	const char *headers[4];
	struct http_request hr = { 0 };
	cJSON *body = cJSON_CreateObject();
	char *text = NULL;
	struct buf b;
	int rc = 0, status = 0, n = 0;

	buf_init(&b, EMAIL_MAIL_MAX_ANSWER);
	if (!body || !cJSON_AddStringToObject(body, "user_id", user_id) ||
	    !cJSON_AddStringToObject(body, "to", to) ||
	    !cJSON_AddStringToObject(body, "kind", kind) ||
	    !cJSON_AddStringToObject(body, "code", code)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	text = cJSON_PrintUnformatted(body);
	if (!text) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s/internal/mail",
			     ud->notifyd_url) >= sizeof(url)) {
		rc = CHAT_EINVAL;
		goto out;
	}
	snprintf(h_internal, sizeof(h_internal), "%s: %s", HTTP_H_INTERNAL,
		 ud->d.internal_secret);
	headers[n++] = "Content-Type: application/json";
	headers[n++] = h_internal;
	if (request_id && email_header_safe(request_id) &&
	    (size_t)snprintf(h_rid, sizeof(h_rid), "%s: %s", HTTP_H_REQUEST_ID,
			     request_id) < sizeof(h_rid))
		headers[n++] = h_rid;
	headers[n] = NULL;
	hr.method = "POST";
	hr.url = url;
	hr.headers = headers;
	hr.body = text;
	hr.body_len = strlen(text);
	hr.connect_timeout_ms = 1000;
	hr.timeout_ms = EMAIL_MAIL_TIMEOUT_MS;
	hr.max_response = EMAIL_MAIL_MAX_ANSWER;
	rc = http_out_fetch(ud->d.out, &hr, &status, &b);
	if (rc == 0 && (status < 200 || status > 299))
		rc = CHAT_EUPSTREAM;
	if (rc < 0)
		log_warn("notifyd did not take a '%s' mail of user '%s': %s "
			 "(status %d)", kind, user_id, chat_strerror(rc),
			 status);
out:
	if (text) {
		/* it holds the code */
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	cJSON_Delete(body);
	buf_release(&b);
	return rc < 0 ? CHAT_EUPSTREAM : 0;
}

/* Store part of a verification: the clash check, the hourly count and
 * the new code, in one transaction.  1 with code filled when a mail is
 * due, 0 when nothing is to be sent; CHAT_EBUSY with *retry_s when the
 * account used up its hour. */
static int email_verification_code(struct userd *ud, const struct user *u,
				   const char *key, char code[CODE_LEN + 1],
				   int64_t *retry_s)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	int64_t now = now_ms(), n = 0, oldest = 0;
	int rc;

	rc = db_acquire(ud->d.db, USERD_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	rc = db_query(c, sql_taken,
		      (struct db_param[]){ db_p_text(key), db_p_text(u->id) },
		      2, &r);
	if (rc == 0 && db_rows_int(r, 0, 0, 0) > 0) {
		/* verified by another account: its owner gets nothing */
		log_info("user '%s' claims an address verified elsewhere",
			 u->id);
		db_rollback(c);
		goto out;
	}
	if (rc == 0)
		rc = email_code_count(c, u->id, "email_verify",
				      now - EMAIL_HOUR_MS, &n, &oldest);
	if (rc == 0 && n >= ud->email_codes_per_hour) {
		*retry_s = (oldest + EMAIL_HOUR_MS - now + 999) / 1000;
		if (*retry_s < 1)
			*retry_s = 1;
		rc = CHAT_EBUSY;
	}
	if (rc == 0)
		rc = email_code_create(ud, c, u->id, "email_verify", key,
				       code);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		db_rollback(c);
	else
		rc = 1;
out:
	db_rows_free(r);
	db_release(c);
	return rc;
}

int email_start_verification(struct userd *ud, const char *request_id,
			     const struct user *u, int64_t *retry_s)
{
	char key[EMAIL_MAX + 1], code[CODE_LEN + 1];
	int rc;

	if (!u->email || u->email_verified)
		return 0;
	email_key(u->email, key);
	rc = email_verification_code(ud, u, key, code, retry_s);
	if (rc == 1)
		rc = email_mail(ud, request_id, u->id, u->email,
				"email_verify", code);
	sodium_memzero(code, sizeof(code));
	return rc;
}

int email_read(struct http_req *req, const cJSON *body, bool allow_null,
	       const char **email)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, "email");

	if (!item)
		return 0;
	if (allow_null && cJSON_IsNull(item)) {
		*email = NULL;
		return 1;
	}
	if (!cJSON_IsString(item) || !item->valuestring) {
		http_res_error(req->res, 400, "invalid_field",
			       allow_null ? "'email' must be a string or null"
					  : "'email' must be a string");
		return -1;
	}
	if (!email_valid(item->valuestring)) {
		http_res_error(req->res, 400, "invalid_email",
			       "'email' must be an address of at most %d bytes"
			       " with one '@' and no spaces or controls",
			       EMAIL_MAX);
		return -1;
	}
	*email = item->valuestring;
	return 1;
}

/* GET /internal/users/{id}/contact */
void email_handle_contact(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *obj = NULL;
	int rc;

	if (request_db(req, &c) < 0)
		goto out;
	rc = users_get_by_id(c, http_req_param(req, "id"), &u);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading an account");
		goto out;
	}
	obj = cJSON_CreateObject();
	if (!obj || !cJSON_AddStringToObject(obj, "username", u.username) ||
	    !(u.display_name
		      ? cJSON_AddStringToObject(obj, "display_name",
						u.display_name)
		      : cJSON_AddNullToObject(obj, "display_name")) ||
	    !(u.email ? cJSON_AddStringToObject(obj, "email", u.email)
		      : cJSON_AddNullToObject(obj, "email")) ||
	    !cJSON_AddBoolToObject(obj, "email_verified", u.email_verified)) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_json(res, 200, obj);
	obj = NULL;
out:
	if (c)
		db_release(c);
	cJSON_Delete(obj);
	users_release(&u);
}

/* The tried code's fate, in one transaction: CHAT_EAUTH when no live
 * code matches (the try counted), CHAT_ECONFLICT when another account
 * verified the address first. */
static int email_verify_try(struct userd *ud, struct db_conn *c,
			    const char *user_id, const char *hash)
{
	struct db_rows *r = NULL;
	int64_t now = now_ms(), changed = 0;
	int rc = db_begin(c);

	if (rc < 0)
		return rc;
	rc = db_query(c, sql_try,
		      (struct db_param[]){ db_p_text(user_id), DB_P_INT(now),
					   DB_P_INT(ud->code_attempts) },
		      3, &r);
	if (rc < 0)
		goto out;
	if (db_rows_count(r) == 0 ||
	    !crypto_str_equal(db_rows_get(r, 0, 0), hash)) {
		/* the try is counted: commit it, then refuse */
		rc = db_commit(c);
		db_rows_free(r);
		return rc < 0 ? rc : CHAT_EAUTH;
	}
	rc = db_exec(c, sql_use,
		     (struct db_param[]){ DB_P_INT(now), db_p_text(hash) }, 2,
		     &changed);
	if (rc == 0 && changed == 0)
		rc = CHAT_EAUTH;	/* a racing try used it */
	if (rc == 0)
		rc = db_exec(c, sql_verified,
			     (struct db_param[]){ DB_P_INT(now),
						  db_p_text(user_id),
						  db_p_text(db_rows_get(r, 0,
									1)) },
			     3, &changed);
	if (rc == 0 && changed == 0)
		rc = CHAT_EAUTH;	/* the address changed meanwhile */
	if (rc == 0)
		rc = db_commit(c);
out:
	if (rc < 0)
		db_rollback(c);
	db_rows_free(r);
	return rc;
}

/* POST /v1/users/me/email/verify {"code"} */
void email_handle_verify(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char norm[CODE_LEN + 1], hash[65];
	const char *code = NULL;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL;
	int rc;

	if (request_body(req, &body) < 0 ||
	    request_string(req, body, "code", true, 0, CODE_INPUT_MAX,
			   "invalid_field", &code) < 0)
		goto out;
	/* a code of the wrong shape is a wrong code: it costs a try too */
	if (code_normalize(code, norm) < 0)
		norm[0] = '\0';
	code_hash(norm, hash);
	if (request_db(req, &c) < 0)
		goto out;
	rc = email_verify_try(ud, c, req->user_id, hash);
	me_cache_forget(&ud->me, req->user_id);
	if (rc == CHAT_EAUTH) {
		http_res_error(res, 400, "invalid_code",
			       "the code is wrong, used or expired");
		goto out;
	}
	if (rc == CHAT_ECONFLICT) {
		http_res_error(res, 409, "email_taken",
			       "another account has verified this address");
		goto out;
	}
	if (rc == 0)
		rc = users_get_by_id(c, req->user_id, &u);
	if (rc < 0) {
		request_fail(req, rc, "verifying an address");
		goto out;
	}
	log_info("user '%s' verified their address", u.id);
	http_res_json(res, 200, users_to_json(&u));
out:
	if (c)
		db_release(c);
	sodium_memzero(norm, sizeof(norm));
	cJSON_Delete(body);
	users_release(&u);
}

/* POST /v1/users/me/email/verify/resend */
void email_handle_resend(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	struct db_conn *c = NULL;
	struct user u = { 0 };
	int64_t retry = 0;
	int rc;

	if (request_db(req, &c) < 0)
		goto out;
	rc = users_get_by_id(c, req->user_id, &u);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading an account");
		goto out;
	}
	if (!u.email || u.email_verified) {
		http_res_error(res, 409, "nothing_to_verify",
			       u.email ? "the address is verified already"
				       : "the account has no address; set one "
					 "with PATCH /v1/users/me");
		goto out;
	}
	rc = email_start_verification(ud, req->request_id, &u, &retry);
	if (rc == CHAT_EBUSY) {
		auth_answer_wait(res, "too_many_attempts",
				 "verification mails for this account", retry);
		goto out;
	}
	if (rc == CHAT_EUPSTREAM) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the mail could not be queued; retry later");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "making a code");
		goto out;
	}
	http_res_send(res, 202, NULL, NULL, 0);
out:
	users_release(&u);
}
