/*
 * admin-erase.c - DELETE /v1/admin/users/{id}: the account and every
 * piece of data any service holds of it (GDPR's right to erasure).
 *
 * The order makes a failure half-way safe and a retry finish the job:
 *
 *   1. disable the account (refused for the caller's own account and for
 *      the last enabled admin) and revoke its sessions: from here on it
 *      cannot sign in, refresh, or use its API keys;
 *   2. ask each service that stores rows by user id to erase them
 *      (admin_erase_services: chatd, aid, sessiond - sessiond last, as
 *      the revocations it records must reach the gateways first);
 *   3. delete the API keys, the account and its events in one
 *      transaction, with chat.user.deleted (ids only) as the tombstone
 *      event consumers erase on.
 *
 * When a service cannot erase (down, failing), the answer is 502
 * "erase_incomplete" naming it, and the account stays disabled with its
 * data partly erased; the same DELETE later goes through the steps again
 * (each is idempotent) and ends with the account row.  Nothing is
 * orphaned silently: the row that names the user stays until every
 * service said its part is gone.
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "err.h"
#include "events.h"
#include "http-client.h"
#include "http-out.h"
#include "log.h"
#include "banned.h"

#define ERASE_TIMEOUT_MS 30000		/* a service's erasure may be long */
#define ERASE_MAX_ANSWER (64 * 1024)

/* The services that store rows by user id, in the order they erase. */
static const char *const admin_erase_services[] = { "chatd", "aid",
						    "sessiond" };

/* Children first; the account last. */
static const char *const admin_erase_sql[] = {
	"DELETE FROM api_keys WHERE user_id = $1",
	"DELETE FROM user_codes WHERE user_id = $1",
	"DELETE FROM users WHERE id = $1",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* True for a request id that is safe inside a header line. */
static bool erase_header_safe(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	}
	return true;
}

/* POST /internal/users/{id}/erase to service; 0 on its 2xx, else
 * CHAT_EUPSTREAM with the reason in why. */
static int erase_call(struct userd *ud, const char *request_id,
		      const char *service, const char *user_id, char *why,
		      size_t whylen)
{
	char base[256], url[512], h_internal[128], h_rid[192];
	const char *headers[4];
	struct http_request hr = { 0 };
	struct buf b;
	int rc, status = 0, n = 0;

	buf_init(&b, ERASE_MAX_ANSWER);
	rc = daemon_peer_url(&ud->d, service, base, sizeof(base));
	if (rc < 0) {
		snprintf(why, whylen, "no address for it");
		goto out;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s/internal/users/%s/erase",
			     base, user_id) >= sizeof(url)) {
		rc = CHAT_EINVAL;
		snprintf(why, whylen, "its address is too long");
		goto out;
	}
	snprintf(h_internal, sizeof(h_internal), "%s: %s", HTTP_H_INTERNAL,
		 ud->d.internal_secret);
	headers[n++] = h_internal;
	if (request_id && erase_header_safe(request_id) &&
	    (size_t)snprintf(h_rid, sizeof(h_rid), "%s: %s", HTTP_H_REQUEST_ID,
			     request_id) < sizeof(h_rid))
		headers[n++] = h_rid;
	headers[n] = NULL;
	hr.method = "POST";
	hr.url = url;
	hr.headers = headers;
	hr.body = "";
	hr.connect_timeout_ms = 1000;
	hr.timeout_ms = ERASE_TIMEOUT_MS;
	hr.max_response = ERASE_MAX_ANSWER;
	rc = http_out_fetch(ud->d.out, &hr, &status, &b);
	if (rc < 0) {
		snprintf(why, whylen, "%s", chat_strerror(rc));
		goto out;
	}
	if (status < 200 || status > 299) {
		rc = CHAT_EUPSTREAM;
		snprintf(why, whylen, "it answered %d", status);
	}
out:
	buf_release(&b);
	return rc < 0 ? CHAT_EUPSTREAM : 0;
}

/* Step 3: the keys and the account, in one transaction, with
 * chat.user.deleted when the account row went (not on a repeat). */
static int erase_rows(struct userd *ud, struct db_conn *c,
		      const char *user_id, const char *actor)
{
	char subject[UUID_STR_LEN + 8];
	int64_t gone = 0;
	size_t i;
	int rc = db_begin(c);

	for (i = 0; rc == 0 && i < NELEM(admin_erase_sql); i++)
		rc = db_exec(c, admin_erase_sql[i],
			     (struct db_param[]){ db_p_text(user_id) }, 1,
			     &gone);
	snprintf(subject, sizeof(subject), "users/%s", user_id);
	/* the user's events go too (their names, addresses...); the
	 * tombstone below, ids only, is what consumers erase on */
	if (rc == 0)
		rc = events_erase_user(c, &ud->d, user_id);
	/* the last DELETE is the account's */
	if (rc == 0 && gone > 0)
		rc = user_event(ud, c, "chat.user.deleted", user_id, subject,
				(const char *const[]){ "by", actor, NULL });
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		db_rollback(c);
	return rc;
}

void admin_handle_delete(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	struct db_conn *c = NULL;
	struct user u = { 0 }, after = { 0 };
	bool was_disabled = false;
	char why[160] = "";
	size_t i;
	int rc;

	if (request_db(req, &c) < 0)
		return;
	if (admin_caller_current(req, c) < 0)
		goto out;
	rc = admin_user_find(c, http_req_param(req, "id"), &u);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading a user");
		goto out;
	}
	if (req->user_id && strcmp(u.id, req->user_id) == 0) {
		http_res_error(res, 409, "cannot_delete_self",
			       "an admin cannot delete their own account");
		goto out;
	}
	/* 1: out of use first (refused for the last enabled admin) */
	rc = users_admin_update(ud, c, u.id, NULL, 1, req->user_id,
				&was_disabled, &after);
	users_release(&after);
	if (rc == CHAT_ECONFLICT) {
		http_res_error(res, 409, "last_admin",
			       "'%s' is the last enabled admin", u.username);
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "disabling a user");
		goto out;
	}
	/* no store connection is held while the services work */
	db_release(c);
	c = NULL;
	if (sessions_revoke_user(ud, req->request_id, u.id,
				 "user_erased") < 0) {
		http_res_error(res, 502, "erase_incomplete",
			       "cannot revoke the sessions of '%s' (sessiond "
			       "is not reachable); the account is disabled, "
			       "retry the delete", u.username);
		goto out;
	}
	/* 2: every service's rows */
	for (i = 0; i < NELEM(admin_erase_services); i++) {
		if (erase_call(ud, req->request_id, admin_erase_services[i],
			       u.id, why, sizeof(why)) == 0)
			continue;
		log_warn("erasing user '%s': '%s' failed: %s", u.id,
			 admin_erase_services[i], why);
		http_res_error(res, 502, "erase_incomplete",
			       "cannot erase the user's data in '%s': %s; the "
			       "account is disabled, retry the delete",
			       admin_erase_services[i], why);
		goto out;
	}
	/* 3: the keys and the account */
	if (request_db(req, &c) < 0)
		goto out;
	rc = erase_rows(ud, c, u.id, req->user_id);
	if (rc < 0) {
		request_fail(req, rc, "deleting a user");
		goto out;
	}
	me_cache_forget(&ud->me, u.id);
	log_info("admin '%s' deleted user '%s' and all their data",
		 req->user_id, u.id);
	http_res_send(res, 204, NULL, NULL, 0);
out:
	if (c)
		db_release(c);
	users_release(&u);
}
