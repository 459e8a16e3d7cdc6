/*
 * auth.c - POST /v1/auth/register, /login, /refresh and /logout.
 *
 * Login never tells an unknown username from a wrong password: both cost
 * one argon2id verification (against a dummy hash for an unknown user)
 * and give the same 401.  Repeated failures for one username are slowed
 * down by throttle.c.  Sessions and refresh tokens are sessiond's; this
 * file asks it for them and signs the access tokens.
 */
#include "userd.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "utf8.h"
#include "util.h"
#include "banned.h"

#define AUTH_REFRESH_TOKEN_MAX 256	/* far above sessiond's 43 chars */

/* Answers 200 with a fresh access token for user u in session grant. */
static void auth_answer_tokens(struct http_req *req, const struct user *u,
			       const struct sessions_grant *grant)
{
	struct userd *ud = userd_of(req);
	cJSON *obj = NULL, *juser = NULL;
	char *token = NULL;
	int rc;

	rc = tokens_issue(ud, u->id, grant->session_id, u->role, &token);
	if (rc < 0) {
		request_fail(req, rc, "signing an access token");
		return;
	}
	obj = cJSON_CreateObject();
	juser = users_to_json(u);
	if (!obj || !juser ||
	    !cJSON_AddStringToObject(obj, "access_token", token) ||
	    !cJSON_AddStringToObject(obj, "refresh_token",
				     grant->refresh_token) ||
	    !cJSON_AddStringToObject(obj, "token_type", "Bearer") ||
	    !cJSON_AddNumberToObject(obj, "expires_in",
				     (double)ud->access_ttl_s) ||
	    !cJSON_AddItemToObject(obj, "user", juser)) {
		cJSON_Delete(juser);
		cJSON_Delete(obj);
		free(token);
		request_fail(req, CHAT_ENOMEM, "building the token answer");
		return;
	}
	free(token);
	http_res_json(req->res, 200, obj);
}

/* Reads {username, password} of a register or login body. */
static int auth_credentials(struct http_req *req, const cJSON *body,
			    const char **username, const char **password)
{
	if (request_string(req, body, "username", true, 0, SIZE_MAX,
			   "invalid_field", username) < 0)
		return -1;
	if (request_string(req, body, "password", true, 0, SIZE_MAX,
			   "invalid_field", password) < 0)
		return -1;
	return 0;
}

static bool auth_password_valid(const char *pw)
{
	size_t len = strlen(pw);

	return len >= USERD_PASSWORD_MIN && len <= USERD_PASSWORD_MAX &&
	       utf8_valid(pw, len);
}

void auth_handle_register(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char hash[PWHASH_STR_LEN];
	const char *username = NULL, *password = NULL;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL, *obj = NULL, *juser = NULL;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (auth_credentials(req, body, &username, &password) < 0)
		goto out;
	if (!users_username_valid(username)) {
		http_res_error(res, 400, "invalid_username",
			       "'username' must be 3 to 64 characters of "
			       "A-Z, a-z, 0-9, '.', '_' and '-'");
		goto out;
	}
	if (!auth_password_valid(password)) {
		http_res_error(res, 400, "invalid_password",
			       "'password' must be 8 to 1024 bytes of UTF-8");
		goto out;
	}
	rc = pwhash_hash(password, strlen(password), hash);
	if (rc < 0) {
		request_fail(req, rc, "hashing a password");
		goto out;
	}
	if (request_db(req, &c) < 0)
		goto out;
	rc = users_register(ud, c, username, hash, ud->registration_open, &u);
	if (rc == CHAT_EPERM) {
		http_res_error(res, 403, "registration_closed",
			       "registration is closed on this server");
		goto out;
	}
	if (rc == CHAT_ECONFLICT) {
		http_res_error(res, 409, "username_taken",
			       "username '%s' is taken", username);
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "creating an account");
		goto out;
	}
	log_info("registered user '%s' as %s", u.id, u.role);
	obj = cJSON_CreateObject();
	juser = users_to_json(&u);
	if (!obj || !juser || !cJSON_AddItemToObject(obj, "user", juser)) {
		cJSON_Delete(juser);
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_json(res, 201, obj);
	obj = NULL;
out:
	sodium_memzero(hash, sizeof(hash));
	if (c)
		db_release(c);
	cJSON_Delete(obj);
	cJSON_Delete(body);
	users_release(&u);
}

/*
 * Checks username/password with the same work whatever the outcome.
 * 0 with *out filled when they match, CHAT_EAUTH when not, another error
 * when the store failed.
 */
static int auth_check_password(struct http_req *req, struct db_conn *c,
			       const char *key, bool key_valid,
			       const char *password, struct user *out)
{
	struct userd *ud = userd_of(req);
	size_t len = strlen(password);
	int rc = CHAT_ENOTFOUND;

	if (key_valid) {
		rc = users_get_by_key(c, key, out);
		if (rc < 0 && rc != CHAT_ENOTFOUND)
			return rc;
	}
	/* a password past the limit cannot be right; hash a bounded prefix
	 * so the work stays the same */
	if (len > USERD_PASSWORD_MAX + 1)
		len = USERD_PASSWORD_MAX + 1;
	if (rc == CHAT_ENOTFOUND) {
		(void)pwhash_verify(ud->dummy_hash, password, len);
		return CHAT_EAUTH;
	}
	if (pwhash_verify(out->password_hash, password, len) != 0 ||
	    len > USERD_PASSWORD_MAX) {
		users_release(out);
		return CHAT_EAUTH;
	}
	return 0;
}

void auth_handle_login(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char key[USERD_USERNAME_MAX + 1] = "", ua[256], ip[64], num[32];
	const char *username = NULL, *password = NULL;
	struct sessions_grant grant;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL;
	int64_t retry = 0;
	bool key_valid;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (auth_credentials(req, body, &username, &password) < 0)
		goto out;
	key_valid = users_username_valid(username);
	if (key_valid)
		users_username_key(username, key);
	if (key_valid &&
	    throttle_check(&ud->throttle, key, now_ms(), &retry) < 0) {
		snprintf(num, sizeof(num), "%" PRId64, retry);
		http_res_header(res, "Retry-After", num);
		http_res_error(res, 429, "too_many_attempts",
			       "too many failed logins for this username, "
			       "retry in %" PRId64 " s", retry);
		goto out;
	}
	if (request_db(req, &c) < 0)
		goto out;
	rc = auth_check_password(req, c, key, key_valid, password, &u);
	db_release(c);
	c = NULL;
	if (rc == CHAT_EAUTH) {
		if (key_valid)
			throttle_fail(&ud->throttle, key, now_ms());
		http_res_error(res, 401, "invalid_credentials",
			       "wrong username or password");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading an account");
		goto out;
	}
	throttle_clear(&ud->throttle, key);
	if (u.disabled) {
		http_res_error(res, 403, "account_disabled",
			       "this account is disabled");
		goto out;
	}
	request_user_agent(req, ua, sizeof(ua));
	request_client_ip(req, ip, sizeof(ip));
	rc = sessions_create(ud, req->request_id, u.id, ua, ip, &grant);
	if (rc < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the session service is unavailable");
		goto out;
	}
	log_info("user '%s' logged in, session '%s'", u.id, grant.session_id);
	auth_answer_tokens(req, &u, &grant);
	sodium_memzero(&grant, sizeof(grant));
out:
	if (c)
		db_release(c);
	cJSON_Delete(body);
	users_release(&u);
}

void auth_handle_refresh(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	const char *token = NULL;
	struct sessions_error serr;
	struct sessions_grant grant;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (request_string(req, body, "refresh_token", true, 0, SIZE_MAX,
			   "invalid_field", &token) < 0)
		goto out;
	if (token[0] == '\0' || strlen(token) > AUTH_REFRESH_TOKEN_MAX) {
		http_res_error(res, 401, "invalid_refresh_token",
			       "the refresh token is not valid");
		goto out;
	}
	rc = sessions_refresh(ud, req->request_id, token, &grant, &serr);
	if (rc == CHAT_EAUTH) {
		http_res_error(res, serr.status, serr.code, "%s",
			       serr.message);
		goto out;
	}
	if (rc < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the session service is unavailable");
		goto out;
	}
	if (request_db(req, &c) < 0)
		goto out;
	rc = users_get_by_id(c, grant.user_id, &u);
	db_release(c);
	c = NULL;
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		request_fail(req, rc, "reading an account");
		goto out;
	}
	if (rc == CHAT_ENOTFOUND || u.disabled) {
		/* the new refresh token must not outlive this answer */
		if (sessions_revoke(ud, req->request_id, grant.session_id) < 0)
			log_warn("cannot revoke session '%s' of a disabled "
				 "user", grant.session_id);
		http_res_error(res, 401, "account_disabled",
			       "this account is disabled");
		goto out;
	}
	auth_answer_tokens(req, &u, &grant);
out:
	sodium_memzero(&grant, sizeof(grant));
	if (c)
		db_release(c);
	cJSON_Delete(body);
	users_release(&u);
}

void auth_handle_logout(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);

	/* API-key callers have no session: nothing to revoke */
	if (req->session_id && req->session_id[0] &&
	    sessions_revoke(ud, req->request_id, req->session_id) < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the session service is unavailable");
		return;
	}
	http_res_send(res, 204, NULL, NULL, 0);
}
