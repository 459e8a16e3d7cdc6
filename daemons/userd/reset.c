/*
 * reset.c - password reset by a mailed code:
 *
 *   POST /v1/auth/password-reset          {"email"}: 202, always alike
 *   POST /v1/auth/password-reset/confirm  {"code", "password"}: 204
 *
 * The request never tells whether an account has the address: every
 * well-formed request gets the same 202 with the same body, and the
 * answer goes out before the account is even looked up - the lookup,
 * the code and the mail come after it, on the same worker, so no timing
 * tells either.  Its limits follow the same rule:
 *   - per address (any address, known or not): reset_per_hour requests
 *     an hour, then 429 too_many_attempts; counting unknown addresses
 *     alike is what makes the 429 tell nothing.  The store keeps a
 *     SHA-256 of the lowercase address, never the address.
 *   - per account: reset_per_hour mails an hour; past that the request
 *     is answered the same and nothing is sent (a 429 here would tell
 *     that the account exists).
 * Only a verified, enabled account is mailed.
 *
 * The code (CODE_LEN symbols, 59 bits) is the whole credential: stored
 * as its SHA-256, single-use, valid code_ttl_s.  A confirm with a wrong,
 * used or expired code answers 400 invalid_code and counts as a failed
 * login of the address under the name RESET_THROTTLE_KEY (which no
 * username can be), so guessing is slowed like password guessing.  The
 * confirm starts on the loop and hashes on the hash pool, like a login;
 * the new password follows the registration rules, every session of the
 * user is revoked (sessiond) and chat.user.password_changed is written.
 */
#include "userd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

#define RESET_HOUR_MS 3600000LL
/* the throttle's "username" of confirms: '#' is in no username */
#define RESET_THROTTLE_KEY "#password-reset"
/* the one answer of every accepted request */
#define RESET_ANSWER \
	"{\"status\":\"accepted\",\"message\":\"if a verified account has " \
	"this address, a code is on its way\"}"

/* A confirm on its way to the hash pool. */
struct reset_job {
	struct http_req *req;		/* valid until the final answer */
	cJSON *body;			/* owned; password points into it */
	const char *password;
	char hash[65];			/* the tried code's hash */
	char ip[THROTTLE_IP_MAX + 1];
};

static const char sql_req_prune[] =
	"DELETE FROM reset_requests WHERE created_at < $1";
static const char sql_req_count[] =
	"SELECT COUNT(*), MIN(created_at) FROM reset_requests"
	" WHERE addr_hash = $1 AND created_at >= $2";
static const char sql_req_insert[] =
	"INSERT INTO reset_requests (addr_hash, created_at) VALUES ($1, $2)";
static const char sql_account[] =
	"SELECT id, email FROM users"
	" WHERE email_key = $1 AND email_verified = 1 AND disabled = 0";
static const char sql_live[] =
	"SELECT user_id, email_key FROM user_codes"
	" WHERE code_hash = $1 AND kind = 'password_reset'"
	" AND used_at IS NULL AND expires_at > $2";
static const char sql_use[] =
	"UPDATE user_codes SET used_at = $1"
	" WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1";
static const char sql_set_password[] =
	"UPDATE users SET password_hash = $1, updated_at = $2"
	" WHERE id = $3 AND email_key = $4 AND email_verified = 1";

/*
 * Counts a request for the address with hash addr in the store: 0, or
 * CHAT_EBUSY with *retry_s when the address had its hour.  The same
 * work for every address.
 */
static int reset_count_address(struct userd *ud, const char *addr,
			       int64_t *retry_s)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	int64_t now = now_ms(), since = now - RESET_HOUR_MS;
	int rc;

	rc = db_acquire(ud->d.db, USERD_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	rc = db_exec(c, sql_req_prune, (struct db_param[]){ DB_P_INT(since) },
		     1, NULL);
	if (rc == 0)
		rc = db_query(c, sql_req_count,
			      (struct db_param[]){ db_p_text(addr),
						   DB_P_INT(since) },
			      2, &r);
	if (rc == 0 && db_rows_int(r, 0, 0, 0) >= ud->reset_per_hour) {
		*retry_s = (db_rows_int(r, 0, 1, now) + RESET_HOUR_MS - now +
			    999) / 1000;
		if (*retry_s < 1)
			*retry_s = 1;
		rc = CHAT_EBUSY;
	}
	if (rc == 0)
		rc = db_exec(c, sql_req_insert,
			     (struct db_param[]){ db_p_text(addr),
						  DB_P_INT(now) },
			     2, NULL);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		db_rollback(c);
out:
	db_rows_free(r);
	db_release(c);
	return rc;
}

/* The store part of a reset mail: 1 with the account's id, address and
 * a new code when one is due; 0 when nothing is to be sent. */
static int reset_code(struct userd *ud, const char *key,
		      char id[UUID_STR_LEN], char to[EMAIL_MAX + 1],
		      char code[CODE_LEN + 1])
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
	rc = db_query(c, sql_account, (struct db_param[]){ db_p_text(key) },
		      1, &r);
	if (rc == 0 && db_rows_count(r) == 0) {
		db_rollback(c);
		goto out;	/* no such verified account: nothing */
	}
	if (rc == 0) {
		snprintf(id, UUID_STR_LEN, "%s", db_rows_get(r, 0, 0));
		snprintf(to, EMAIL_MAX + 1, "%s", db_rows_get(r, 0, 1));
		rc = email_code_count(c, id, "password_reset",
				      now - RESET_HOUR_MS, &n, &oldest);
	}
	if (rc == 0 && n >= ud->reset_per_hour) {
		log_info("user '%s' had their reset mails this hour", id);
		db_rollback(c);
		goto out;
	}
	if (rc == 0)
		rc = email_code_create(ud, c, id, "password_reset", key, code);
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

/* After the answer: mails the account with address key a code, if
 * there is one and it had fewer than reset_per_hour this hour. */
static void reset_mail(struct userd *ud, const char *request_id,
		       const char *key)
{
	char id[UUID_STR_LEN], to[EMAIL_MAX + 1], code[CODE_LEN + 1];
	int rc = reset_code(ud, key, id, to, code);

	if (rc == 1) {
		rc = email_mail(ud, request_id, id, to, "password_reset",
				code);
		if (rc == 0)
			log_info("mailed a reset code to user '%s'", id);
	}
	if (rc < 0)
		log_warn("a password reset was not mailed: %s",
			 chat_strerror(rc));
	sodium_memzero(code, sizeof(code));
}

void reset_handle_request(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char key[EMAIL_MAX + 1], addr[65], rid[128];
	const char *email = NULL;
	cJSON *body = NULL;
	int64_t retry = 0;
	char *answer;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	rc = email_read(req, body, false, &email);
	if (rc == 0)
		http_res_error(res, 400, "invalid_field", "'email' is required");
	if (rc <= 0)
		goto out;
	email_key(email, key);
	crypto_sha256_hex(key, strlen(key), addr);
	rc = reset_count_address(ud, addr, &retry);
	if (rc == CHAT_EBUSY) {
		auth_answer_wait(res, "too_many_attempts",
				 "reset requests for this address", retry);
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "counting a reset request");
		goto out;
	}
	snprintf(rid, sizeof(rid), "%s", req->request_id);
	answer = strdup(RESET_ANSWER);
	if (!answer) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_send(res, 202, "application/json", answer, strlen(answer));
	/* req is gone from here on: what follows shows in no answer */
	reset_mail(ud, rid, key);
out:
	cJSON_Delete(body);
}

static void reset_job_free(struct reset_job *job)
{
	if (!job)
		return;
	cJSON_Delete(job->body);
	free(job);
}

/*
 * Sets the password of the live code's account in one transaction that
 * uses the code: 0 with the user in *u; CHAT_EAUTH when the code is
 * wrong, used, expired or for an address the account no longer has
 * verified.  Hashes outside the transaction.
 */
static int reset_apply(struct userd *ud, const struct reset_job *job,
		       struct user *u)
{
	char pwhash[PWHASH_STR_LEN] = "", subject[UUID_STR_LEN + 8];
	char uid[UUID_STR_LEN] = "", ekey[EMAIL_MAX + 1] = "";
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	int64_t now = now_ms(), changed = 0;
	int rc;

	rc = db_acquire(ud->d.db, USERD_DB_WAIT_MS, &c);
	if (rc < 0)
		return rc;
	rc = db_query(c, sql_live,
		      (struct db_param[]){ db_p_text(job->hash),
					   DB_P_INT(now) },
		      2, &r);
	if (rc == 0 && db_rows_count(r) == 0)
		rc = CHAT_EAUTH;
	if (rc == 0) {
		snprintf(uid, sizeof(uid), "%s", db_rows_get(r, 0, 0));
		snprintf(ekey, sizeof(ekey), "%s", db_rows_get(r, 0, 1));
	}
	db_rows_free(r);
	r = NULL;
	/* a live code: the slow hash, with no transaction open */
	if (rc == 0)
		rc = pwhash_hash(job->password, strlen(job->password), pwhash);
	if (rc < 0)
		goto out;
	rc = db_begin(c);
	if (rc < 0)
		goto out;
	now = now_ms();
	rc = db_exec(c, sql_use,
		     (struct db_param[]){ DB_P_INT(now), db_p_text(job->hash) },
		     2, &changed);
	if (rc == 0 && changed == 0)
		rc = CHAT_EAUTH;	/* a racing confirm used it */
	if (rc == 0)
		rc = db_exec(c, sql_set_password,
			     (struct db_param[]){ db_p_text(pwhash),
						  DB_P_INT(now),
						  db_p_text(uid),
						  db_p_text(ekey) },
			     4, &changed);
	if (rc == 0 && changed == 0)
		rc = CHAT_EAUTH;	/* the address changed since */
	/* any other reset code of the user ends with this one */
	if (rc == 0)
		rc = db_exec(c,
			     "UPDATE user_codes SET used_at = $1"
			     " WHERE user_id = $2 AND kind = 'password_reset'"
			     " AND used_at IS NULL",
			     (struct db_param[]){ DB_P_INT(now),
						  db_p_text(uid) },
			     2, NULL);
	if (rc == 0)
		rc = users_get_by_id(c, uid, u);
	snprintf(subject, sizeof(subject), "users/%s", uid);
	if (rc == 0)
		rc = user_event(ud, c, "chat.user.password_changed", uid,
				subject,
				(const char *const[]){ "username", u->username,
						       "via", "reset", NULL });
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		db_rollback(c);
		users_release(u);
	}
out:
	db_release(c);
	sodium_memzero(pwhash, sizeof(pwhash));
	return rc;
}

/* Hash pool: the confirm's store work and its answer. */
static void reset_confirm_run(void *arg)
{
	struct reset_job *job = arg;
	struct http_req *req = job->req;
	struct http_res *res = req->res;
	struct userd *ud = userd_of(req);
	enum throttle_outcome outcome = THROTTLE_CANCELLED;
	struct user u = { 0 };
	int rc;

	log_set_request_id(req->request_id);
	rc = reset_apply(ud, job, &u);
	if (rc == CHAT_EAUTH) {
		outcome = THROTTLE_FAILED;
		http_res_error(res, 400, "invalid_code",
			       "the code is wrong, used or expired");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "resetting a password");
		goto out;
	}
	outcome = THROTTLE_OK;
	me_cache_forget(&ud->me, u.id);
	log_info("user '%s' reset their password", u.id);
	/* whoever knew the old password is locked out of every session */
	if (sessions_revoke_user(ud, req->request_id, u.id,
				 "password_changed") < 0) {
		http_res_error(res, 503, "upstream_unavailable",
			       "the password is set, but the sessions could "
			       "not be revoked (sessiond is down); sign in and "
			       "end them");
		goto out;
	}
	http_res_send(res, 204, NULL, NULL, 0);
out:
	throttle_login_end(&ud->throttle, job->ip, RESET_THROTTLE_KEY,
			   outcome, mono_ms());
	users_release(&u);
	reset_job_free(job);
	log_set_request_id(NULL);
}

/* Loop thread: the checks that cost nothing, then the hash pool. */
void reset_handle_confirm(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	struct reset_job *job = calloc(1, sizeof(*job));
	char norm[CODE_LEN + 1];
	const char *code = NULL;
	int64_t retry = 0;

	if (!job) {
		request_fail(req, CHAT_ENOMEM, "reading the request");
		goto out;
	}
	job->req = req;
	if (request_body(req, &job->body) < 0 ||
	    request_string(req, job->body, "code", true, 0, CODE_INPUT_MAX,
			   "invalid_field", &code) < 0 ||
	    request_string(req, job->body, "password", true, 0, SIZE_MAX,
			   "invalid_field", &job->password) < 0)
		goto out;
	if (!auth_password_valid(job->password)) {
		http_res_error(res, 400, "invalid_password",
			       "'password' must be 8 to 1024 bytes of UTF-8");
		goto out;
	}
	/* a code of the wrong shape matches nothing: a failure too */
	if (code_normalize(code, norm) < 0)
		norm[0] = '\0';
	code_hash(norm, job->hash);
	sodium_memzero(norm, sizeof(norm));
	request_client_ip(req, job->ip, sizeof(job->ip));
	if (throttle_login_begin(&ud->throttle, job->ip, RESET_THROTTLE_KEY,
				 mono_ms(), &retry) < 0) {
		auth_answer_wait(res, "too_many_attempts",
				 "failed reset codes from this address",
				 retry);
		goto out;
	}
	if (pool_submit(ud->hash_pool, reset_confirm_run, job) < 0) {
		throttle_login_end(&ud->throttle, job->ip, RESET_THROTTLE_KEY,
				   THROTTLE_CANCELLED, mono_ms());
		http_res_header(res, "Retry-After", "1");
		http_res_error(res, 503, "busy",
			       "too many password checks waiting, retry in "
			       "1 s");
		goto out;
	}
	job = NULL;	/* reset_confirm_run's now */
out:
	reset_job_free(job);
}
