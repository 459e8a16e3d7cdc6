/*
 * revocations.c - revoking sessions and recording revoked users and API
 * keys (internal calls from userd), and the revocation list; feed.c
 * pushes all of them to the gateways, so that access tokens of a revoked
 * session stop working before they expire.
 *
 * Only revocations younger than the access-token lifetime matter: older
 * ones concern tokens that have expired anyway.
 */
#include "sessiond.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* Most ids in one answer; past it "now" tells where to go on. */
#define REVOCATIONS_MAX 10000
/* "now" is set back this much: a revocation whose transaction was still
 * open when we read commits with an earlier revoked_at, and the next
 * poll (since=now) must still see it.  Repeats are harmless. */
#define REVOCATIONS_MARGIN_MS 5000

static const char sql_exists[] = "SELECT 1 FROM sessions WHERE id = $1";
/* The revoked rows come back for their chat.session.revoked events. */
static const char sql_revoke_user[] =
	"UPDATE sessions SET revoked_at = $1, revoke_reason = $2"
	" WHERE user_id = $3 AND revoked_at IS NULL AND expires_at > $1"
	" RETURNING id, user_id";
/* A password change: every session of the user but the caller's. */
static const char sql_revoke_others[] =
	"UPDATE sessions SET revoked_at = $1, revoke_reason = $2"
	" WHERE user_id = $3 AND revoked_at IS NULL AND expires_at > $1"
	" AND id <> $4 RETURNING id, user_id";

/*
 * Why userd revokes, as ?reason= names it (stored in revoke_reason and
 * told in the chat.session.revoked event).  The first reason of each
 * route is its default: a logout is what revokes one session, a disabled
 * account what revokes all of a user's.  A password change (?keep=) is
 * always "password_changed".
 */
static const char *const revocations_session_reasons[] = {
	"logout", "user_disabled",
};
static const char *const revocations_user_reasons[] = {
	"user_disabled", "role_changed", "password_changed", "user_erased",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The ?reason= of a revoke route from table (default its first), or
 * NULL after answering 400. */
static const char *revocations_reason(struct http_req *req,
				      const char *const *table, size_t n)
{
	char q[32];
	size_t i;
	int rc = http_req_query(req, "reason", q, sizeof(q));

	if (rc == CHAT_ENOTFOUND)
		return table[0];
	for (i = 0; rc == 0 && i < n; i++)
		if (strcmp(q, table[i]) == 0)
			return table[i];
	http_res_error(req->res, 400, "invalid_field",
		       "'reason' must be one of the documented reasons");
	return NULL;
}
static const char sql_list[] =
	"SELECT id, revoked_at FROM sessions WHERE revoked_at >= $1"
	" ORDER BY revoked_at LIMIT $2";

/* POST /internal/sessions/{id}/revoke (internal): idempotent */
void revocations_session_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	struct db_param p[1];
	char id[UUID_STR_LEN];
	const char *reason;
	int64_t changed = 0, now;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), id)) {
		http_res_error(res, 404, "not_found", "no such session");
		return;
	}
	reason = revocations_reason(req, revocations_session_reasons,
				    NELEM(revocations_session_reasons));
	if (!reason)
		return;
	if (daemon_db(req, &c) < 0)
		return;
	rc = feed_begin(c, &now);
	if (rc == 0)
		rc = sessions_mark_revoked(s, c, id, NULL, reason, now,
					   &changed);
	if (rc == 0)
		rc = db_commit(c);
	if (rc == 0 && changed == 0) {
		/* already revoked (fine) or unknown (404) */
		p[0] = db_p_text(id);
		rc = db_query(c, sql_exists, p, 1, &rows);
	}
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot revoke the session");
		goto out;
	}
	if (rows && db_rows_count(rows) == 0) {
		http_res_error(res, 404, "not_found", "no such session");
		goto out;
	}
	if (changed > 0) {
		log_info("session '%s' revoked", id);
		feed_notify(s);
	}
	http_res_json(res, 204, NULL);
out:
	db_rows_free(rows);
}

/*
 * POST /internal/users/{id}/revoke[?keep=SESSION] (internal): every live
 * session of the user, e.g. when the account is disabled.  With keep
 * (a password change) every session but that one, and the user's API
 * keys are left alone: a new password says nothing about them.
 */
void revocations_user_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	struct db_param p[4];
	char user_id[UUID_STR_LEN], keep[UUID_STR_LEN], q[64];
	const char *reason;
	bool others;
	int64_t changed = 0, now;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), user_id)) {
		http_res_error(res, 404, "not_found", "no such user");
		return;
	}
	rc = http_req_query(req, "keep", q, sizeof(q));
	others = rc != CHAT_ENOTFOUND;
	if (others && (rc < 0 || !uuid_norm(q, keep))) {
		http_res_error(res, 400, "invalid_field",
			       "'keep' must be a session id");
		return;
	}
	reason = others ? "password_changed" :
		 revocations_reason(req, revocations_user_reasons,
				    NELEM(revocations_user_reasons));
	if (!reason)
		return;
	if (daemon_db(req, &c) < 0)
		return;
	rc = feed_begin(c, &now);
	p[0] = DB_P_INT(now);
	p[1] = db_p_text(reason);
	p[2] = db_p_text(user_id);
	p[3] = db_p_text(others ? keep : "");
	if (rc == 0)
		rc = db_query(c, others ? sql_revoke_others : sql_revoke_user,
			      p, others ? 4 : 3, &rows);
	if (rc == 0) {
		changed = (int64_t)db_rows_count(rows);
		rc = sessions_revoked_events(s, c, rows, reason);
	}
	db_rows_free(rows);
	/* the user's mark too: it ends the user's API-key connections and
	 * cached keys at the gateways, which have no session to go by */
	if (rc == 0 && !others)
		rc = feed_record(c, "user", user_id, user_id, now);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot revoke the sessions");
		return;
	}
	feed_notify(s);
	log_info("user '%s': %lld sessions revoked", user_id,
		 (long long)changed);
	http_res_json(res, 204, NULL);
}

int revocations_since(struct http_req *req, int64_t *since, char *err,
		      size_t errlen)
{
	char v[32], *end = NULL;
	long long n;
	int rc;

	rc = http_req_query(req, "since", v, sizeof(v));
	if (rc == CHAT_ENOTFOUND) {
		*since = 0;
		return 0;
	}
	errno = 0;
	n = rc == 0 ? strtoll(v, &end, 10) : -1;
	if (rc < 0 || !isdigit((unsigned char)v[0]) || *end || errno) {
		snprintf(err, errlen,
			 "'since' must be unix milliseconds (an integer >= 0)");
		return CHAT_EINVAL;
	}
	*since = n;
	return 0;
}

/* GET /internal/revocations?since=MS (internal):
 * {"now":MS,"sessions":["id",...]}, ids revoked at or after since.  The
 * caller asks next with since=now. */
void revocations_list_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	cJSON *out = NULL, *ids;
	struct db_param p[2];
	int64_t since, now, floor_ms;
	char err[160];
	size_t i, n;
	int rc;

	if (revocations_since(req, &since, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	now = now_ms();
	floor_ms = now - s->access_ttl_ms - REVOCATIONS_MARGIN_MS;
	if (since < floor_ms)
		since = floor_ms;
	p[0] = DB_P_INT(since);
	p[1] = DB_P_INT(REVOCATIONS_MAX);
	rc = db_query(c, sql_list, p, 2, &rows);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the revocations");
		goto out;
	}

	n = db_rows_count(rows);
	if (n >= REVOCATIONS_MAX)	/* truncated: go on from the last */
		now = db_rows_int(rows, n - 1, 1, now);
	else
		now -= REVOCATIONS_MARGIN_MS;
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddNumberToObject(out, "now", (double)now))
		goto oom;
	ids = cJSON_AddArrayToObject(out, "sessions");
	if (!ids)
		goto oom;
	for (i = 0; i < n; i++) {
		cJSON *id = cJSON_CreateString(db_rows_get(rows, i, 0));

		if (!id)
			goto oom;
		cJSON_AddItemToArray(ids, id);
	}
	http_res_json(res, 200, out);
	out = NULL;
	goto out;
oom:
	http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
out:
	cJSON_Delete(out);
	db_rows_free(rows);
}

/* POST /internal/revocations {"kind":"apikey","id":"...","user_id":"..."}
 * (internal): an API key was revoked (userd), so that the gateways drop
 * it from their caches and close its connections.  Kind "user" is
 * recorded by the user revocation above. */
void revocations_record_handler(struct http_req *req, struct http_res *res)
{
	struct sessiond *s = req->app;
	struct db_conn *c = NULL;
	cJSON *body;
	const char *kind = NULL, *id = NULL, *uid = NULL;
	char subject[UUID_STR_LEN], user_id[UUID_STR_LEN], err[160];
	int64_t now;
	int rc;

	body = sessions_body(req, res);
	if (!body)
		return;
	rc = json_get_string(body, "kind", true, 1, 16, &kind, err,
			     sizeof(err));
	if (rc == 0)
		rc = json_get_string(body, "id", true, 1, 64, &id, err,
				     sizeof(err));
	if (rc == 0)
		rc = json_get_string(body, "user_id", true, 1, 64, &uid, err,
				     sizeof(err));
	if (rc == 0 && strcmp(kind, "apikey") != 0) {
		snprintf(err, sizeof(err), "'kind' must be \"apikey\"");
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && (!uuid_norm(id, subject) || !uuid_norm(uid, user_id))) {
		snprintf(err, sizeof(err), "'id' and 'user_id' must be UUIDs");
		rc = CHAT_EINVAL;
	}
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	rc = feed_begin(c, &now);
	if (rc == 0)
		rc = feed_record(c, kind, subject, user_id, now);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot record the revocation");
		goto out;
	}
	feed_notify(s);
	http_res_json(res, 204, NULL);
out:
	cJSON_Delete(body);
}
