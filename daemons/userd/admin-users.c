/*
 * admin-users.c - one account through the admin API:
 *
 *   GET  /v1/admin/users/{id}            the user ({id}: id or username)
 *   POST /v1/admin/users                 {username, role?, password?,
 *                                        email?} (the address is mailed
 *                                        a verification code)
 *   PUT  /v1/admin/users/{id}/password   {password}, then every session
 *                                        of the user is revoked
 *
 * Worker pool: hashing a password (argon2id) blocks the worker for a
 * moment, which an admin call may; anonymous callers have their own
 * hash_pool and are never behind it.  Every route re-reads the caller's
 * role from the store (admin_caller_current).
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "crypto.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "utf8.h"
#include "util.h"
#include "banned.h"

/* 18 random bytes: 24 base64url characters, 144 bits. */
#define ADMIN_PASSWORD_BYTES 18
#define ADMIN_PASSWORD_LEN 32		/* room for the text and its NUL */

static bool admin_password_valid(const char *pw)
{
	size_t len = strlen(pw);

	return len >= USERD_PASSWORD_MIN && len <= USERD_PASSWORD_MAX &&
	       utf8_valid(pw, len);
}

/* Answers 400 "invalid_password"; returns -1. */
static int admin_password_refuse(struct http_req *req)
{
	http_res_error(req->res, 400, "invalid_password",
		       "'password' must be %d to %d bytes of UTF-8",
		       USERD_PASSWORD_MIN, USERD_PASSWORD_MAX);
	return -1;
}

/* Store connection and the caller's check; -1 after answering. */
static int admin_begin(struct http_req *req, struct db_conn **c)
{
	if (request_db(req, c) < 0)
		return -1;
	if (admin_caller_current(req, *c) < 0) {
		db_release(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

void admin_handle_get(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *obj;
	int rc;

	if (admin_begin(req, &c) < 0)
		return;
	rc = admin_user_find(c, http_req_param(req, "id"), &u);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading a user");
		goto out;
	}
	obj = users_to_json(&u);
	if (!obj) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_json(res, 200, obj);
out:
	users_release(&u);
}

/* Inserts the account (CHAT_ECONFLICT: the name is taken) with its
 * chat.user.registered, made by actor, and reads it back into out. */
static int admin_users_insert(struct userd *ud, struct db_conn *c,
			      const char *username, const char *hash,
			      const char *role, const char *actor,
			      struct user *out)
{
	char key[USERD_USERNAME_MAX + 1], id[UUID_STR_LEN];
	char subject[UUID_STR_LEN + 8];
	int64_t now = now_ms();
	int rc;

	users_username_key(username, key);
	rc = uuid_v7(id);
	if (rc < 0)
		return rc;
	snprintf(subject, sizeof(subject), "users/%s", id);
	rc = db_begin(c);
	if (rc < 0)
		return rc;
	rc = db_exec(c,
		     "INSERT INTO users (id, username, username_key,"
		     " password_hash, role, disabled, created_at, updated_at)"
		     " VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
		     (struct db_param[]){ db_p_text(id), db_p_text(username),
					  db_p_text(key), db_p_text(hash),
					  db_p_text(role), DB_P_INT(now) },
		     6, NULL);
	if (rc == 0)
		rc = user_event(ud, c, "chat.user.registered", id, subject,
				(const char *const[]){ "username", username,
						       "role", role,
						       "by", actor, NULL });
	if (rc == 0)
		rc = users_get_by_id(c, id, out);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		db_rollback(c);
		users_release(out);
	}
	return rc;
}

/* Reads {username, role?, password?}; -1 after answering 400. */
static int admin_read_create(struct http_req *req, const cJSON *body,
			     const char **username, const char **role,
			     const char **password)
{
	*role = NULL;
	*password = NULL;
	if (request_string(req, body, "username", true, 0, SIZE_MAX,
			   "invalid_field", username) < 0 ||
	    request_string(req, body, "role", false, 0, 16, "invalid_field",
			   role) < 0 ||
	    request_string(req, body, "password", false, 0, SIZE_MAX,
			   "invalid_field", password) < 0)
		return -1;
	if (!users_username_valid(*username)) {
		http_res_error(req->res, 400, "invalid_username",
			       "'username' must be 3 to 64 characters of "
			       "A-Z, a-z, 0-9, '.', '_' and '-'");
		return -1;
	}
	if (*role && !admin_role_valid(*role)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'role' must be one of admin, user, guest");
		return -1;
	}
	if (*password && !admin_password_valid(*password))
		return admin_password_refuse(req);
	return 0;
}

void admin_handle_create(struct http_req *req, struct http_res *res)
{
	const char *username = NULL, *role = NULL, *password = NULL;
	const char *email = NULL;
	char made[ADMIN_PASSWORD_LEN] = "", hash[PWHASH_STR_LEN] = "";
	char id[UUID_STR_LEN];
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL, *obj = NULL, *juser = NULL;
	int64_t retry = 0;
	int rc;

	if (request_body(req, &body) < 0 ||
	    admin_read_create(req, body, &username, &role, &password) < 0 ||
	    email_read(req, body, false, &email) < 0)
		goto out;
	if (!password) {
		rc = crypto_random_token("", ADMIN_PASSWORD_BYTES, made,
					 sizeof(made));
		if (rc < 0) {
			request_fail(req, rc, "making a password");
			goto out;
		}
	}
	if (admin_begin(req, &c) < 0)
		goto out;
	rc = pwhash_hash(password ? password : made,
			 strlen(password ? password : made), hash);
	if (rc == 0)
		rc = admin_users_insert(userd_of(req), c, username, hash,
					role ? role : "user", req->user_id,
					&u);
	if (rc == CHAT_ECONFLICT) {
		http_res_error(res, 409, "username_taken",
			       "username '%s' is taken", username);
		goto out;
	}
	if (rc == 0 && email) {
		/* after the insert: an unverified address claims nothing */
		memcpy(id, u.id, sizeof(id));
		users_release(&u);
		rc = email_store(userd_of(req), c, id, email);
		if (rc == 0)
			rc = users_get_by_id(c, id, &u);
	}
	if (rc < 0) {
		request_fail(req, rc, "creating an account");
		goto out;
	}
	log_info("admin '%s' created user '%s' as %s", req->user_id, u.id,
		 u.role);
	db_release(c);
	c = NULL;
	/* a mail that did not go is logged; the user can ask again */
	if (email)
		(void)email_start_verification(userd_of(req), req->request_id,
					       &u, &retry);
	obj = cJSON_CreateObject();
	juser = users_to_json(&u);
	if (!obj || !juser || !cJSON_AddItemToObject(obj, "user", juser) ||
	    !(password ? cJSON_AddNullToObject(obj, "password")
		       : cJSON_AddStringToObject(obj, "password", made))) {
		if (!obj || !cJSON_GetObjectItemCaseSensitive(obj, "user"))
			cJSON_Delete(juser);
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_json(res, 201, obj);
	obj = NULL;
out:
	if (c)
		db_release(c);
	sodium_memzero(made, sizeof(made));
	sodium_memzero(hash, sizeof(hash));
	cJSON_Delete(obj);
	cJSON_Delete(body);
	users_release(&u);
}

void admin_handle_password(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	const char *password = NULL;
	char hash[PWHASH_STR_LEN] = "", subject[UUID_STR_LEN + 8];
	bool began = false;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	cJSON *body = NULL;
	int rc;

	if (request_body(req, &body) < 0 ||
	    request_string(req, body, "password", true, 0, SIZE_MAX,
			   "invalid_field", &password) < 0)
		goto out;
	if (!admin_password_valid(password)) {
		admin_password_refuse(req);
		goto out;
	}
	if (admin_begin(req, &c) < 0)
		goto out;
	rc = admin_user_find(c, http_req_param(req, "id"), &u);
	if (rc == 0)
		rc = pwhash_hash(password, strlen(password), hash);
	if (rc == 0)
		rc = db_begin(c);
	began = rc == 0;
	if (rc == 0)
		rc = db_exec(c,
			     "UPDATE users SET password_hash = $1,"
			     " updated_at = $2 WHERE id = $3",
			     (struct db_param[]){ db_p_text(hash),
						  DB_P_INT(now_ms()),
						  db_p_text(u.id) },
			     3, NULL);
	snprintf(subject, sizeof(subject), "users/%s", u.id);
	if (rc == 0)
		rc = user_event(ud, c, "chat.user.password_changed", u.id,
				subject,
				(const char *const[]){ "username", u.username,
						       "by", req->user_id,
						       NULL });
	if (rc == 0)
		rc = db_commit(c);
	else if (began)
		db_rollback(c);
	db_release(c);
	c = NULL;
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "setting a password");
		goto out;
	}
	me_cache_forget(&ud->me, u.id);
	log_info("admin '%s' set the password of user '%s'", req->user_id,
		 u.id);
	/* the new password is meant to lock out whoever knew the old one:
	 * unlike a disable, nothing else stops their refresh tokens */
	if (sessions_revoke_user(ud, req->request_id, u.id,
				 "password_changed") < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the password is set, but the sessions of '%s' "
			       "could not be revoked (sessiond is down); retry",
			       u.username);
		goto out;
	}
	http_res_send(res, 204, NULL, NULL, 0);
out:
	if (c)
		db_release(c);
	sodium_memzero(hash, sizeof(hash));
	cJSON_Delete(body);
	users_release(&u);
}
