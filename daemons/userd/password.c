/*
 * password.c - POST /v1/users/me/password: the caller changes their own
 * password.
 *
 * The current password is required and checked like a login's: the
 * attempt is reserved with the login throttle under the caller's
 * username and address, and a wrong one counts as a failed login, so a
 * stolen access token cannot be used to guess the password faster than
 * the login form allows.  The new password follows the registration
 * rules.  On success every other session of the user is revoked through
 * sessiond (the caller's is kept); API keys are left alone.
 *
 * The route is flagged HTTP_ROUTE_SESSION (API keys are refused) and
 * runs on the worker pool: the argon2id work of a signed-in caller may
 * block a worker, as any store call does.
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* Only while the stored hash is still the one that was verified: two
 * racing changes cannot both win with the same current password. */
static const char sql_set_password[] =
	"UPDATE users SET password_hash = $1, updated_at = $2"
	" WHERE id = $3 AND password_hash = $4";

/* The caller's account into *u; answers and returns -1 on failure. */
static int password_load_user(struct http_req *req, struct user *u)
{
	struct db_conn *c = NULL;
	int rc;

	if (request_db(req, &c) < 0)
		return -1;
	rc = users_get_by_id(c, req->user_id, u);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(req->res, 404, "not_found",
			       "this account no longer exists");
		return -1;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading an account");
		return -1;
	}
	if (u->disabled) {
		http_res_error(req->res, 403, "account_disabled",
			       "this account is disabled");
		return -1;
	}
	return 0;
}

/*
 * Hashes new_pw and stores it in place of u's current hash.  0 when
 * stored; CHAT_EAUTH when the hash changed meanwhile (another change
 * won); other errors from the store.
 */
static int password_store(struct http_req *req, const struct user *u,
			  const char *new_pw)
{
	char hash[PWHASH_STR_LEN], subject[UUID_STR_LEN + 8];
	struct db_conn *c = NULL;
	struct db_param p[4];
	int64_t changed = 0;
	int rc;

	rc = pwhash_hash(new_pw, strlen(new_pw), hash);
	if (rc < 0)
		goto out;
	rc = db_acquire(userd_of(req)->d.db, USERD_DB_WAIT_MS, &c);
	if (rc < 0)
		goto out;
	p[0] = db_p_text(hash);
	p[1] = DB_P_INT(now_ms());
	p[2] = db_p_text(u->id);
	p[3] = db_p_text(u->password_hash);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c, sql_set_password, p, 4, &changed);
	if (rc == 0 && changed == 0)
		rc = CHAT_EAUTH;
	snprintf(subject, sizeof(subject), "users/%s", u->id);
	if (rc == 0)
		rc = user_event(userd_of(req), c, "chat.user.password_changed",
				u->id, subject,
				(const char *const[]){ "username", u->username,
						       NULL });
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0 && c)
		db_rollback(c);
out:
	if (c)
		db_release(c);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int password_check_current(struct http_req *req, const struct user *u,
			   const char *cur)
{
	struct userd *ud = userd_of(req);
	char ip[THROTTLE_IP_MAX + 1], key[USERD_USERNAME_MAX + 1];
	enum throttle_outcome outcome = THROTTLE_FAILED;
	int64_t retry = 0;
	size_t len;

	/* the same allowance as a login of this username from here */
	users_username_key(u->username, key);
	request_client_ip(req, ip, sizeof(ip));
	if (throttle_login_begin(&ud->throttle, ip, key, mono_ms(),
				 &retry) < 0) {
		auth_answer_wait(req->res, "too_many_attempts",
				 "failed password checks", retry);
		return -1;
	}
	/* a password past the limit cannot be right; verify a bounded
	 * prefix so the work stays the same */
	len = strlen(cur);
	if (len > USERD_PASSWORD_MAX + 1)
		len = USERD_PASSWORD_MAX + 1;
	if (pwhash_verify(u->password_hash, cur, len) == 0 &&
	    len <= USERD_PASSWORD_MAX)
		outcome = THROTTLE_OK;
	throttle_login_end(&ud->throttle, ip, key, outcome, mono_ms());
	if (outcome != THROTTLE_OK) {
		http_res_error(req->res, 401, "invalid_credentials",
			       "the current password is wrong");
		return -1;
	}
	return 0;
}

void password_handle_change(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	const char *cur = NULL, *new_pw = NULL;
	struct user u = { 0 };
	cJSON *body = NULL;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (request_string(req, body, "current_password", true, 0, SIZE_MAX,
			   "invalid_field", &cur) < 0 ||
	    request_string(req, body, "new_password", true, 0, SIZE_MAX,
			   "invalid_field", &new_pw) < 0)
		goto out;
	if (!auth_password_valid(new_pw)) {
		http_res_error(res, 400, "invalid_password",
			       "'new_password' must be 8 to 1024 bytes of "
			       "UTF-8");
		goto out;
	}
	if (password_load_user(req, &u) < 0 ||
	    password_check_current(req, &u, cur) < 0)
		goto out;

	rc = password_store(req, &u, new_pw);
	if (rc == CHAT_EAUTH) {
		/* changed by a racing request: ours is no longer current */
		http_res_error(res, 401, "invalid_credentials",
			       "the current password is wrong");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "storing a password");
		goto out;
	}
	me_cache_forget(&ud->me, u.id);
	log_info("user '%s' changed their password", u.id);

	/* after the write: a session opened with the old password before
	 * it is ended too, none can be opened with it after */
	rc = sessions_revoke_others(ud, req->request_id, u.id,
				    req->session_id);
	if (rc < 0) {
		http_res_error(res, 503, "sessions_not_revoked",
			       "the password was changed, but the other "
			       "sessions could not be ended: end them with "
			       "DELETE /v1/sessions/{id}");
		goto out;
	}
	http_res_send(res, 204, NULL, NULL, 0);
out:
	cJSON_Delete(body);
	users_release(&u);
}
