/*
 * export.c - GET /v1/users/me/export: everything the server holds about
 * the caller as one JSON document (GDPR's right of access).
 *
 * userd owns the account, the preferences and the API keys; it asks
 * sessiond for the sessions (GET /internal/users/{id}/sessions) and chatd
 * for the conversations with their whole trees
 * (GET /internal/users/{id}/conversations), both with the internal
 * secret, on the worker thread (http_out_fetch).  The document is whole
 * or not sent: a service that is down, fails or answers nonsense gives a
 * 5xx error envelope, never a document with a part left out.
 *
 * Memory: chatd's array of conversations is at most EXPORT_CONV_MAX
 * bytes (chatd refuses more with 507, which is passed on); it is taken
 * as text and never parsed into a tree here, and the rest of the
 * document is moved in front of it inside the same buffer.  Secrets
 * never enter the document: the user's JSON has no password hash,
 * apikeys_row_json no key or hash, sessiond's rows no refresh token.
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "err.h"
#include "http-out.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* chatd's ceiling for the conversations (its CHATD_EXPORT_MAX); an
 * answer past it is refused by chatd, and by this read too. */
#define EXPORT_CONV_MAX ((size_t)64 << 20)
/* Room for sessiond's answer (10000 sessions at most). */
#define EXPORT_SESSIONS_MAX ((size_t)16 << 20)
/* Everything but the conversations: user, sessions, keys. */
#define EXPORT_HEAD_MAX ((size_t)32 << 20)
#define EXPORT_TIMEOUT_MS 60000
#define EXPORT_FORMAT "chat-account-export/1"

/* A failed part: the answer to give. */
struct export_error {
	int status;
	const char *code;
	const char *message;
};

/*
 * GETs url with the internal secret and the request id into b.  0 with
 * a 200 answer; otherwise -1 with *err set (the service's name in the
 * message).
 */
static int export_fetch(struct http_req *req, const char *url,
			const char *what, size_t max, struct buf *b,
			struct export_error *err)
{
	struct userd *ud = userd_of(req);
	char h_internal[128], h_rid[192];
	const char *headers[3];
	struct http_request hr = { 0 };
	bool rid_safe = req->request_id != NULL;
	int status = 0, rc, n = 0;

	for (const char *s = req->request_id; rid_safe && *s; s++)
		rid_safe = *s > 0x20 && *s < 0x7f;
	snprintf(h_internal, sizeof(h_internal), "%s: %s", HTTP_H_INTERNAL,
		 ud->d.internal_secret);
	headers[n++] = h_internal;
	if (rid_safe &&
	    (size_t)snprintf(h_rid, sizeof(h_rid), "%s: %s",
			     HTTP_H_REQUEST_ID, req->request_id) <
		    sizeof(h_rid))
		headers[n++] = h_rid;
	headers[n] = NULL;
	hr.method = "GET";
	hr.url = url;
	hr.headers = headers;
	hr.connect_timeout_ms = 1000;
	hr.timeout_ms = EXPORT_TIMEOUT_MS;
	hr.max_response = max;

	rc = http_out_fetch(ud->d.out, &hr, &status, b);
	if (rc == CHAT_ETOOBIG || (rc == 0 && status == 507)) {
		*err = (struct export_error){ 507, "export_too_large",
			"the account is too large to export in one document" };
		return -1;
	}
	if (rc < 0 || status >= 500) {
		log_warn("export: %s '%s' failed: %s, status %d", what, url,
			 chat_strerror(rc), status);
		*err = (struct export_error){ 503, "upstream_unavailable",
			"a service holding part of the account is "
			"unavailable" };
		return -1;
	}
	if (status != 200) {
		log_warn("export: %s '%s' answered %d", what, url, status);
		*err = (struct export_error){ 502, "export_failed",
			"a service holding part of the account answered "
			"wrongly" };
		return -1;
	}
	return 0;
}

/* Adds "sessions" (sessiond's array, moved over) to doc. */
static int export_sessions(struct http_req *req, cJSON *doc,
			   struct export_error *err)
{
	struct userd *ud = userd_of(req);
	char url[512];
	cJSON *ans = NULL, *arr;
	struct buf b;
	int rc = -1;

	buf_init(&b, EXPORT_SESSIONS_MAX);
	snprintf(url, sizeof(url), "%s/internal/users/%s/sessions",
		 ud->sessiond_url, req->user_id);
	if (export_fetch(req, url, "sessiond", EXPORT_SESSIONS_MAX, &b,
			 err) < 0)
		goto out;
	ans = b.len ? cJSON_ParseWithLength(b.data, b.len) : NULL;
	arr = cJSON_DetachItemFromObjectCaseSensitive(ans, "sessions");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		log_warn("export: sessiond's answer has no 'sessions' array");
		*err = (struct export_error){ 502, "export_failed",
			"the session service answered wrongly" };
		goto out;
	}
	if (!cJSON_AddItemToObject(doc, "sessions", arr)) {
		cJSON_Delete(arr);
		*err = (struct export_error){ 500, "internal",
			"out of memory" };
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(ans);
	buf_release(&b);
	return rc;
}

/* Adds "user" and "api_keys" (live and revoked, metadata only) from the
 * store to doc.  -1 with *err set on failure. */
static int export_local(struct http_req *req, cJSON *doc,
			struct export_error *err)
{
	struct userd *ud = userd_of(req);
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct user u = { 0 };
	cJSON *juser = NULL, *keys;
	int rc;

	rc = db_acquire(ud->d.db, USERD_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = users_get_by_id(c, req->user_id, &u);
	if (rc == 0)
		rc = db_query(c,
			      "SELECT id, name, prefix, created_at,"
			      " last_used_at, scopes, expires_at, revoked_at"
			      " FROM api_keys WHERE user_id = $1"
			      " ORDER BY id DESC",
			      (struct db_param[]){ db_p_text(u.id) }, 1, &r);
	if (c)
		db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		*err = (struct export_error){ 404, "not_found",
			"this account no longer exists" };
		goto out;
	}
	if (rc < 0) {
		log_warn("export: reading the account failed: %s",
			 chat_strerror(rc));
		*err = rc == CHAT_EBUSY
			? (struct export_error){ 503, "busy",
				"the store is busy, retry" }
			: (struct export_error){ 500, "internal",
				"cannot read the account" };
		goto out;
	}
	rc = CHAT_ENOMEM;
	juser = users_to_json(&u);
	if (!juser || !cJSON_AddItemToObject(doc, "user", juser))
		goto out;
	juser = NULL;
	keys = cJSON_AddArrayToObject(doc, "api_keys");
	if (!keys)
		goto out;
	for (size_t i = 0; i < db_rows_count(r); i++) {
		cJSON *item = apikeys_row_json(r, i);

		if (!item)
			goto out;
		cJSON_AddItemToArray(keys, item);
		if (!json_add_time(item, "revoked_at", db_rows_int(r, i, 7, 0)))
			goto out;
	}
	rc = 0;
out:
	if (rc == CHAT_ENOMEM)
		*err = (struct export_error){ 500, "internal",
			"out of memory" };
	cJSON_Delete(juser);
	db_rows_free(r);
	users_release(&u);
	return rc < 0 ? -1 : 0;
}

/*
 * Reads chatd's array of conversations into b and puts head (the
 * document so far, as text without its closing brace) in front of it:
 * b then holds the whole document.  -1 with *err set on failure.
 */
static int export_conversations(struct http_req *req, const char *head,
				struct buf *b, struct export_error *err)
{
	struct userd *ud = userd_of(req);
	static const char key[] = ",\"conversations\":";
	char base[256], url[512];
	size_t hlen, clen;

	if (daemon_peer_url(&ud->d, "chatd", base, sizeof(base)) < 0) {
		*err = (struct export_error){ 500, "internal",
			"cannot find the chat service" };
		return -1;
	}
	snprintf(url, sizeof(url), "%s/internal/users/%s/conversations",
		 base, req->user_id);
	if (export_fetch(req, url, "chatd", EXPORT_CONV_MAX, b, err) < 0)
		return -1;
	clen = b->len;
	if (clen < 2 || b->data[0] != '[' || b->data[clen - 1] != ']') {
		log_warn("export: chatd's answer is not an array");
		*err = (struct export_error){ 502, "export_failed",
			"the chat service answered wrongly" };
		return -1;
	}
	/* grow by the head's length, then slide the array behind it */
	hlen = strlen(head);
	if (buf_append(b, head, hlen) < 0 ||
	    buf_append(b, key, sizeof(key) - 1) < 0 || buf_puts(b, "}") < 0) {
		*err = (struct export_error){ 500, "internal",
			"out of memory" };
		return -1;
	}
	memmove(b->data + hlen + sizeof(key) - 1, b->data, clen);
	memcpy(b->data, head, hlen);
	memcpy(b->data + hlen, key, sizeof(key) - 1);
	b->data[b->len - 1] = '}';
	return 0;
}

void export_handle_me(struct http_req *req, struct http_res *res)
{
	struct export_error err = { 500, "internal", "out of memory" };
	cJSON *doc = cJSON_CreateObject();
	char *head = NULL, *body;
	struct buf b;
	size_t len = 0, hlen;
	bool ok = false;

	buf_init(&b, EXPORT_CONV_MAX + EXPORT_HEAD_MAX);
	if (!doc || !cJSON_AddStringToObject(doc, "format", EXPORT_FORMAT) ||
	    !json_add_time(doc, "exported_at", now_ms()))
		goto out;
	if (export_local(req, doc, &err) < 0 ||
	    export_sessions(req, doc, &err) < 0)
		goto out;
	head = cJSON_PrintUnformatted(doc);
	hlen = head ? strlen(head) : 0;
	if (hlen < 2)
		goto out;
	head[hlen - 1] = '\0';	/* the closing brace: more keys follow */
	cJSON_Delete(doc);
	doc = NULL;
	if (export_conversations(req, head, &b, &err) < 0)
		goto out;
	ok = true;
	log_info("user '%s' exported their account (%zu bytes)",
		 req->user_id, b.len);
	http_res_header(res, "Content-Disposition",
			"attachment; filename=\"chat-export.json\"");
	body = buf_detach(&b, &len);
	http_res_send(res, 200, "application/json", body, len);
out:
	if (!ok)
		http_res_error(res, err.status, err.code, "%s", err.message);
	cJSON_free(head);
	cJSON_Delete(doc);
	buf_release(&b);
}
