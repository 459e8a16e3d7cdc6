/*
 * auth.c - POST /v1/auth/register, /login, /refresh and /logout.
 *
 * Login never tells an unknown username from a wrong password: both cost
 * one argon2id verification (against a dummy hash for an unknown user)
 * and give the same 401, and count the same in throttle.c, which slows
 * down repeated failures per (username, address) and per address, and
 * limits registrations per address.  Register and login start on the
 * loop thread: what costs nothing (the body, the throttle) is checked
 * there, and the argon2id work goes to the small hash pool, which answers
 * 503 when its queue is full.  Sessions and refresh tokens are sessiond's;
 * this file asks it for them and signs the access tokens.
 *
 * Browser sessions: a login with "session": "cookie" gets its refresh
 * token in an HttpOnly cookie (cookie.h) instead of the body, where page
 * scripts - and so injected ones - can never read it.  Refresh and logout
 * then take the token from that cookie and answer in kind: a rotated
 * cookie, or an expired one with Clear-Site-Data.  Only these two
 * endpoints read the cookie; a request that shows it and a body token at
 * once is refused (which one would count?).  gatewayd has checked the
 * Origin of every request that carries the cookie before it got here.
 */
#include "userd.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "utf8.h"
#include "util.h"
#include "banned.h"

#define AUTH_REFRESH_TOKEN_MAX 256	/* far above sessiond's 43 chars */
/* The refresh cookie's attributes (after name=value; Max-Age follows):
 * only over HTTPS (or loopback), never to scripts, never on cross-site
 * requests, only to the refresh and logout endpoints. */
#define AUTH_COOKIE_ATTRS \
	"; Path=" COOKIE_REFRESH_PATH "; HttpOnly; Secure; SameSite=Strict"

/* A register or login on its way to the hash pool. */
struct auth_job {
	struct http_req *req;		/* valid until the final answer */
	cJSON *body;			/* owned; the strings below are in it */
	const char *username;		/* as sent */
	const char *password;
	const char *email;		/* register: optional, NULL when not */
	bool key_valid;			/* username could name an account */
	char key[USERD_USERNAME_MAX + 1];	/* lowercased, "" if invalid */
	char ip[THROTTLE_IP_MAX + 1];	/* the client's address */
	bool cookie;			/* login "session": "cookie" */
};

/* Sets (value non-NULL, for max_age_s seconds) or expires (NULL) the
 * refresh cookie on res. */
static int auth_set_cookie(struct http_res *res, const char *value,
			   int64_t max_age_s)
{
	char h[AUTH_REFRESH_TOKEN_MAX + 192];
	int n;

	n = snprintf(h, sizeof(h), "%s=%s%s; Max-Age=%" PRId64,
		     COOKIE_REFRESH_NAME, value ? value : "",
		     AUTH_COOKIE_ATTRS, value ? max_age_s : (int64_t)0);
	if (n < 0 || (size_t)n >= sizeof(h))
		return CHAT_ETOOBIG;
	n = http_res_header(res, "Set-Cookie", h);
	sodium_memzero(h, sizeof(h));
	return n;
}

/*
 * The refresh cookie of req into out (outlen bytes): 0 when there is
 * one, CHAT_ENOTFOUND when not.  A cookie too long to be ours counts as
 * there (so that it is answered, and expired) but is left "".  Shown
 * twice it is ambiguous: 400 answered, -1.
 */
static int auth_cookie(struct http_req *req, char *out, size_t outlen)
{
	int rc = cookie_get(http_req_header(req, "cookie"),
			    COOKIE_REFRESH_NAME, out, outlen);

	if (rc == CHAT_ETOOBIG) {
		out[0] = '\0';
		return 0;
	}
	if (rc == CHAT_ECONFLICT) {
		http_res_error(req->res, 400, "ambiguous_credentials",
			       "the refresh cookie is there more than once");
		return -1;
	}
	return rc;
}

/* Answers 200 with a fresh access token for user u in session grant;
 * the refresh token goes into the body, or into the cookie alone. */
static void auth_answer_tokens(struct http_req *req, const struct user *u,
			       const struct sessions_grant *grant,
			       bool cookie)
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
	    (!cookie &&
	     !cJSON_AddStringToObject(obj, "refresh_token",
				      grant->refresh_token)) ||
	    (cookie && auth_set_cookie(req->res, grant->refresh_token,
				       grant->expires_in_s) < 0) ||
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
	/* credentials: no cache along the way may keep a copy */
	http_res_header(req->res, "Cache-Control", "no-store");
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

bool auth_password_valid(const char *pw)
{
	size_t len = strlen(pw);

	return len >= USERD_PASSWORD_MIN && len <= USERD_PASSWORD_MAX &&
	       utf8_valid(pw, len);
}

/* Answers 503 "busy": the queue of password hashing is full. */
static void auth_answer_busy(struct http_res *res)
{
	http_res_header(res, "Retry-After", "1");
	http_res_error(res, 503, "busy",
		       "too many password checks waiting, retry in 1 s");
}

void auth_answer_wait(struct http_res *res, const char *code,
		      const char *what, int64_t retry_s)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, retry_s);
	http_res_header(res, "Retry-After", num);
	http_res_error(res, 429, code, "too many %s, retry in %" PRId64 " s",
		       what, retry_s);
}

static void auth_job_free(struct auth_job *job)
{
	if (!job)
		return;
	cJSON_Delete(job->body);
	free(job);
}

/*
 * Loop thread: the checks of a register or login body that cost nothing
 * (they answer 400 themselves).  0 with a new job in *out (the caller's,
 * auth_job_free), -1 after answering.
 */
static int auth_job_new(struct http_req *req, struct auth_job **out)
{
	struct auth_job *job = calloc(1, sizeof(*job));

	*out = NULL;
	if (!job) {
		request_fail(req, CHAT_ENOMEM, "reading the request");
		return -1;
	}
	job->req = req;
	if (request_body(req, &job->body) < 0 ||
	    auth_credentials(req, job->body, &job->username,
			     &job->password) < 0) {
		auth_job_free(job);
		return -1;
	}
	job->key_valid = users_username_valid(job->username);
	if (job->key_valid)
		users_username_key(job->username, job->key);
	request_client_ip(req, job->ip, sizeof(job->ip));
	*out = job;
	return 0;
}

/* Gives the new account u its address (unverified); u is re-read. */
static int auth_register_email(struct userd *ud, struct db_conn *c,
			       const char *email, struct user *u)
{
	char id[UUID_STR_LEN];
	int rc;

	memcpy(id, u->id, sizeof(id));
	rc = email_store(ud, c, id, email);
	users_release(u);
	if (rc == 0)
		rc = users_get_by_id(c, id, u);
	return rc;
}

/* Hash pool: hashes the password and creates the account. */
static void auth_register_run(void *arg)
{
	struct auth_job *job = arg;
	struct http_req *req = job->req;
	struct http_res *res = req->res;
	struct userd *ud = userd_of(req);
	char hash[PWHASH_STR_LEN];
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *obj = NULL, *juser = NULL;
	int64_t retry = 0;
	int rc;

	log_set_request_id(req->request_id);
	rc = pwhash_hash(job->password, strlen(job->password), hash);
	if (rc < 0) {
		request_fail(req, rc, "hashing a password");
		goto out;
	}
	if (request_db(req, &c) < 0)
		goto out;
	rc = users_register(ud, c, job->username, hash, ud->registration_open,
			    &u);
	if (rc == CHAT_EPERM) {
		http_res_error(res, 403, "registration_closed",
			       "registration is closed on this server");
		goto out;
	}
	if (rc == CHAT_ECONFLICT) {
		http_res_error(res, 409, "username_taken",
			       "username '%s' is taken", job->username);
		goto out;
	}
	if (rc == 0 && job->email)
		rc = auth_register_email(ud, c, job->email, &u);
	if (rc < 0) {
		request_fail(req, rc, "creating an account");
		goto out;
	}
	db_release(c);
	c = NULL;
	log_info("registered user '%s' as %s", u.id, u.role);
	/* a mail that did not go is logged; resend asks again */
	if (job->email)
		(void)email_start_verification(ud, req->request_id, &u, &retry);
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
	users_release(&u);
	auth_job_free(job);
	log_set_request_id(NULL);
}

/* Loop thread: checks the body and the address's allowance, then hands
 * the hashing to the hash pool. */
void auth_handle_register(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	struct auth_job *job = NULL;
	int64_t retry = 0;

	if (auth_job_new(req, &job) < 0)
		goto out;
	if (!job->key_valid) {
		http_res_error(res, 400, "invalid_username",
			       "'username' must be 3 to 64 characters of "
			       "A-Z, a-z, 0-9, '.', '_' and '-'");
		goto out;
	}
	if (!auth_password_valid(job->password)) {
		http_res_error(res, 400, "invalid_password",
			       "'password' must be 8 to 1024 bytes of UTF-8");
		goto out;
	}
	if (email_read(req, job->body, false, &job->email) < 0)
		goto out;
	if (throttle_register_begin(&ud->throttle, job->ip, mono_ms(),
				    &retry) < 0) {
		auth_answer_wait(res, "too_many_registrations",
				 "registrations from this address", retry);
		goto out;
	}
	if (pool_submit(ud->hash_pool, auth_register_run, job) < 0) {
		throttle_register_cancel(&ud->throttle, job->ip);
		auth_answer_busy(res);
		goto out;
	}
	job = NULL;	/* auth_register_run's now */
out:
	auth_job_free(job);
}

/*
 * Checks the job's username/password with the same work whatever the
 * outcome; the store connection is given back before the slow hash.
 * 0 with *out filled when they match, CHAT_EAUTH when not, another error
 * (answered) when the store failed.
 */
static int auth_check_password(struct auth_job *job, struct user *out)
{
	struct http_req *req = job->req;
	struct userd *ud = userd_of(req);
	size_t len = strlen(job->password);
	struct db_conn *c = NULL;
	int rc = CHAT_ENOTFOUND;

	if (job->key_valid) {
		if (request_db(req, &c) < 0)
			return CHAT_EBUSY;
		rc = users_get_by_key(c, job->key, out);
		db_release(c);
		if (rc < 0 && rc != CHAT_ENOTFOUND) {
			request_fail(req, rc, "reading an account");
			return rc;
		}
	}
	/* a password past the limit cannot be right; hash a bounded prefix
	 * so the work stays the same */
	if (len > USERD_PASSWORD_MAX + 1)
		len = USERD_PASSWORD_MAX + 1;
	if (rc == CHAT_ENOTFOUND) {
		(void)pwhash_verify(ud->dummy_hash, job->password, len);
		return CHAT_EAUTH;
	}
	if (pwhash_verify(out->password_hash, job->password, len) != 0 ||
	    len > USERD_PASSWORD_MAX) {
		users_release(out);
		return CHAT_EAUTH;
	}
	return 0;
}

/* Hash pool: the password check of a reserved login attempt, then the
 * session and the tokens. */
static void auth_login_run(void *arg)
{
	struct auth_job *job = arg;
	struct http_req *req = job->req;
	struct http_res *res = req->res;
	struct userd *ud = userd_of(req);
	const char *user = job->key_valid ? job->key : NULL;
	char ua[256];
	struct sessions_grant grant;
	struct user u = { 0 };
	int rc;

	log_set_request_id(req->request_id);
	rc = auth_check_password(job, &u);
	if (rc == CHAT_EAUTH) {
		throttle_login_end(&ud->throttle, job->ip, user,
				   THROTTLE_FAILED, mono_ms());
		/* the name only when it could be one: a password typed
		 * into the username field must not become an event */
		user_event_login(ud, "chat.user.login_failed", NULL,
				 job->key_valid ? job->username : NULL,
				 job->ip, "invalid_credentials");
		http_res_error(res, 401, "invalid_credentials",
			       "wrong username or password");
		goto out;
	}
	if (rc < 0) {
		/* answered; the attempt was never judged */
		throttle_login_end(&ud->throttle, job->ip, user,
				   THROTTLE_CANCELLED, mono_ms());
		goto out;
	}
	throttle_login_end(&ud->throttle, job->ip, user, THROTTLE_OK,
			   mono_ms());
	if (u.disabled) {
		user_event_login(ud, "chat.user.login_failed", u.id,
				 u.username, job->ip, "account_disabled");
		http_res_error(res, 403, "account_disabled",
			       "this account is disabled");
		goto out;
	}
	request_user_agent(req, ua, sizeof(ua));
	rc = sessions_create(ud, req->request_id, u.id, ua, job->ip, &grant);
	if (rc < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the session service is unavailable");
		goto out;
	}
	log_info("user '%s' logged in, session '%s'", u.id, grant.session_id);
	user_event_login(ud, "chat.user.logged_in", u.id, u.username, job->ip,
			 NULL);
	auth_answer_tokens(req, &u, &grant, job->cookie);
	sodium_memzero(&grant, sizeof(grant));
out:
	users_release(&u);
	auth_job_free(job);
	log_set_request_id(NULL);
}

/* Loop thread: reserves the attempt with the throttle (429 without any
 * hashing when it must wait), then hands the check to the hash pool. */
void auth_handle_login(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	struct auth_job *job = NULL;
	const char *user, *mode = NULL;
	int64_t retry = 0;

	if (auth_job_new(req, &job) < 0)
		goto out;
	if (request_string(req, job->body, "session", false, 0, SIZE_MAX,
			   "invalid_field", &mode) < 0)
		goto out;
	if (mode && strcmp(mode, "cookie") != 0) {
		http_res_error(res, 400, "invalid_field",
			       "'session' must be \"cookie\" or absent");
		goto out;
	}
	job->cookie = mode != NULL;
	user = job->key_valid ? job->key : NULL;
	if (throttle_login_begin(&ud->throttle, job->ip, user, mono_ms(),
				 &retry) < 0) {
		auth_answer_wait(res, "too_many_attempts", "failed logins",
				 retry);
		goto out;
	}
	if (pool_submit(ud->hash_pool, auth_login_run, job) < 0) {
		throttle_login_end(&ud->throttle, job->ip, user,
				   THROTTLE_CANCELLED, mono_ms());
		auth_answer_busy(res);
		goto out;
	}
	job = NULL;	/* auth_login_run's now */
out:
	auth_job_free(job);
}

/* POST /v1/auth/refresh: {"refresh_token"} in the body, or the cookie
 * with an empty body (or {}). */
void auth_handle_refresh(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char ctok[AUTH_REFRESH_TOKEN_MAX + 1];
	const char *token = NULL;
	struct sessions_error serr;
	struct sessions_grant grant;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL;
	bool cookie;
	int rc;

	memset(&grant, 0, sizeof(grant));
	rc = auth_cookie(req, ctok, sizeof(ctok));
	if (rc == -1)
		goto out;
	cookie = rc == 0;
	/* a browser's refresh has nothing to say in its body */
	if (!(cookie && req->body_len == 0) && request_body(req, &body) < 0)
		goto out;
	if (request_string(req, body, "refresh_token", !cookie, 0, SIZE_MAX,
			   "invalid_field", &token) < 0)
		goto out;
	if (cookie && token) {
		http_res_error(res, 400, "ambiguous_credentials",
			       "send the refresh token in the cookie or in "
			       "the body, not both");
		goto out;
	}
	if (cookie)
		token = ctok;
	if (token[0] == '\0' || strlen(token) > AUTH_REFRESH_TOKEN_MAX) {
		rc = CHAT_EAUTH;
		snprintf(serr.code, sizeof(serr.code), "invalid_refresh_token");
		snprintf(serr.message, sizeof(serr.message),
			 "the refresh token is not valid");
		serr.status = 401;
	} else {
		rc = sessions_refresh(ud, req->request_id, token, &grant,
				      &serr);
	}
	if (rc == CHAT_EAUTH) {
		/* a dead cookie is dropped, or the page would show it on
		 * every load */
		if (cookie && serr.status == 401)
			auth_set_cookie(res, NULL, 0);
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
		if (sessions_revoke(ud, req->request_id, grant.session_id,
				    "user_disabled") < 0)
			log_warn("cannot revoke session '%s' of a disabled "
				 "user", grant.session_id);
		if (cookie)
			auth_set_cookie(res, NULL, 0);
		http_res_error(res, 401, "account_disabled",
			       "this account is disabled");
		goto out;
	}
	auth_answer_tokens(req, &u, &grant, cookie);
out:
	sodium_memzero(&grant, sizeof(grant));
	sodium_memzero(ctok, sizeof(ctok));
	if (c)
		db_release(c);
	cJSON_Delete(body);
	users_release(&u);
}

/*
 * POST /v1/auth/logout: ends the session of the access token, and that of
 * the refresh cookie when there is one (the same one, for a page), whose
 * cookie is then expired with Clear-Site-Data.  A refresh cookie is
 * enough: a page whose access token is lost can still log out.
 */
void auth_handle_logout(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char ctok[AUTH_REFRESH_TOKEN_MAX + 1], sid[64] = "";
	bool cookie;
	int rc;

	rc = auth_cookie(req, ctok, sizeof(ctok));
	if (rc == -1)
		goto out;
	cookie = rc == 0;
	if (!cookie && !req->user_id) {
		http_res_error(res, 401, "unauthorized",
			       "authentication required");
		goto out;
	}
	rc = 0;
	if (cookie && ctok[0]) {
		rc = sessions_lookup(ud, req->request_id, ctok, sid,
				     sizeof(sid));
		if (rc == 0)
			rc = sessions_revoke(ud, req->request_id, sid,
					     "logout");
		else if (rc == CHAT_ENOTFOUND)
			rc = 0;		/* nothing left to end */
	}
	/* API-key callers have no session: nothing to revoke */
	if (rc == 0 && req->session_id && req->session_id[0] &&
	    strcmp(req->session_id, sid) != 0)
		rc = sessions_revoke(ud, req->request_id, req->session_id,
				     "logout");
	if (rc < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the session service is unavailable");
		goto out;
	}
	if (cookie) {
		auth_set_cookie(res, NULL, 0);
		http_res_header(res, "Clear-Site-Data", "\"cookies\"");
	}
	http_res_send(res, 204, NULL, NULL, 0);
out:
	sodium_memzero(ctok, sizeof(ctok));
}
