/*
 * sessions-client.c - userd's calls to sessiond's internal API: create a
 * session at login, rotate a refresh token, find a refresh token's
 * session (a browser's logout), revoke one session or all of
 * a user's, record a revoked API key for the gateways.  Blocking
 * (http_out_fetch): worker threads only.
 *
 * Every call carries the internal secret and the request id.  sessiond
 * being down, slow or answering nonsense is CHAT_EUPSTREAM, which the
 * handlers turn into 503 "upstream_unavailable".
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "http-client.h"
#include "http-out.h"
#include "log.h"
#include "banned.h"

#define SESSIONS_TIMEOUT_MS 5000
#define SESSIONS_MAX_ANSWER (64 * 1024)

/* True for a request id that is safe inside a header line. */
static bool sessions_header_safe(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	}
	return true;
}

/*
 * POSTs body (may be NULL) to path.  *status gets the HTTP status and
 * *answer the parsed JSON answer when there is one (the caller's, may be
 * NULL).  CHAT_EUPSTREAM when sessiond cannot be reached.
 */
static int sessions_call(struct userd *ud, const char *request_id,
			 const char *path, const cJSON *body, int *status,
			 cJSON **answer)
{
	char url[512], h_internal[128], h_rid[192];
	const char *headers[4];
	struct http_request hr = { 0 };
	char *text = NULL;
	struct buf b;
	int rc = 0, n = 0;

	buf_init(&b, SESSIONS_MAX_ANSWER);
	*answer = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", ud->sessiond_url,
			     path) >= sizeof(url)) {
		rc = CHAT_EINVAL;
		goto out;
	}
	if (body) {
		text = cJSON_PrintUnformatted(body);
		if (!text) {
			rc = CHAT_ENOMEM;
			goto out;
		}
	}
	snprintf(h_internal, sizeof(h_internal), "%s: %s", HTTP_H_INTERNAL,
		 ud->d.internal_secret);
	headers[n++] = "Content-Type: application/json";
	headers[n++] = h_internal;
	if (request_id && sessions_header_safe(request_id) &&
	    (size_t)snprintf(h_rid, sizeof(h_rid), "%s: %s", HTTP_H_REQUEST_ID,
			     request_id) < sizeof(h_rid))
		headers[n++] = h_rid;
	headers[n] = NULL;

	hr.method = "POST";
	hr.url = url;
	hr.headers = headers;
	hr.body = text ? text : "";
	hr.body_len = text ? strlen(text) : 0;
	hr.connect_timeout_ms = 1000;
	hr.timeout_ms = SESSIONS_TIMEOUT_MS;
	hr.max_response = SESSIONS_MAX_ANSWER;
	rc = http_out_fetch(ud->d.out, &hr, status, &b);
	if (rc < 0) {
		log_warn("sessiond '%s' failed: %s", path, chat_strerror(rc));
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	if (b.len > 0)
		*answer = cJSON_ParseWithLength(b.data, b.len);
	if (*status >= 500) {
		log_warn("sessiond '%s' answered %d", path, *status);
		rc = CHAT_EUPSTREAM;
	}
out:
	if (rc < 0) {
		cJSON_Delete(*answer);
		*answer = NULL;
	}
	cJSON_free(text);
	buf_release(&b);
	return rc;
}

/* Copies string field key of obj into dst; CHAT_EUPSTREAM if absent. */
static int sessions_take(const cJSON *obj, const char *key, char *dst,
			 size_t dstlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	size_t len;

	if (!cJSON_IsString(item) || !item->valuestring)
		return CHAT_EUPSTREAM;
	len = strlen(item->valuestring);
	if (len == 0 || len >= dstlen)
		return CHAT_EUPSTREAM;
	memcpy(dst, item->valuestring, len + 1);
	return 0;
}

/* Fills a grant from sessiond's answer; user_id may be absent. */
static int sessions_grant_from(const cJSON *ans, struct sessions_grant *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sessions_take(ans, "session_id", out->session_id,
			   sizeof(out->session_id));
	if (rc == 0)
		rc = sessions_take(ans, "refresh_token", out->refresh_token,
				   sizeof(out->refresh_token));
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(ans, "user_id"))
		rc = sessions_take(ans, "user_id", out->user_id,
				   sizeof(out->user_id));
	if (rc == 0) {
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(
			ans, "expires_in");

		/* the refresh cookie's Max-Age: a whole, positive number */
		if (!cJSON_IsNumber(in) || in->valuedouble < 1 ||
		    in->valuedouble > 1e9)
			rc = CHAT_EUPSTREAM;
		else
			out->expires_in_s = (int64_t)in->valuedouble;
	}
	if (rc < 0)
		log_warn("sessiond answered without a valid session");
	return rc;
}

/* Copies sessiond's error envelope (or a generic one) into err. */
static void sessions_error_from(const cJSON *ans, int status,
				struct sessions_error *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s",
		 cJSON_IsString(code) ? code->valuestring
				      : "invalid_refresh_token");
	snprintf(err->message, sizeof(err->message), "%s",
		 cJSON_IsString(msg) ? msg->valuestring
				     : "the refresh token is not valid");
}

int sessions_create(struct userd *ud, const char *request_id,
		    const char *user_id, const char *user_agent,
		    const char *ip, struct sessions_grant *out)
{
	cJSON *body = cJSON_CreateObject(), *ans = NULL;
	int status = 0, rc = 0;

	if (!body || !cJSON_AddStringToObject(body, "user_id", user_id) ||
	    !cJSON_AddStringToObject(body, "user_agent", user_agent) ||
	    !cJSON_AddStringToObject(body, "ip", ip)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = sessions_call(ud, request_id, "/internal/sessions", body, &status,
			   &ans);
	if (rc < 0)
		goto out;
	if (status != 201 && status != 200) {
		log_warn("sessiond refused a new session: %d", status);
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	rc = sessions_grant_from(ans, out);
out:
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return rc;
}

/*
 * sessions_call with the body {"refresh_token": refresh_token}, which
 * both refresh routes take; the same contract.
 */
static int sessions_call_token(struct userd *ud, const char *request_id,
			       const char *path, const char *refresh_token,
			       int *status, cJSON **answer)
{
	cJSON *body = cJSON_CreateObject();
	int rc = 0;

	*answer = NULL;
	if (!body ||
	    !cJSON_AddStringToObject(body, "refresh_token", refresh_token)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = sessions_call(ud, request_id, path, body, status, answer);
out:
	cJSON_Delete(body);
	return rc;
}

int sessions_refresh(struct userd *ud, const char *request_id,
		     const char *refresh_token, struct sessions_grant *out,
		     struct sessions_error *err)
{
	cJSON *ans = NULL;
	int status = 0, rc = 0;

	rc = sessions_call_token(ud, request_id, "/internal/refresh",
				 refresh_token, &status, &ans);
	if (rc < 0)
		goto out;
	if (status >= 400 && status < 500 && status != 401 && status != 400) {
		/* 403/404/413...: our own call was wrong, not the client */
		log_warn("sessiond refused a refresh call: %d", status);
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	if (status == 400 || status == 401) {
		sessions_error_from(ans, status, err);
		rc = CHAT_EAUTH;
		goto out;
	}
	if (status != 200) {
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	rc = sessions_grant_from(ans, out);
	if (rc == 0 && !out->user_id[0])
		rc = CHAT_EUPSTREAM;
out:
	cJSON_Delete(ans);
	return rc;
}

int sessions_lookup(struct userd *ud, const char *request_id,
		    const char *refresh_token, char *session_id, size_t len)
{
	cJSON *ans = NULL;
	int status = 0, rc = 0;

	rc = sessions_call_token(ud, request_id, "/internal/refresh/session",
				 refresh_token, &status, &ans);
	if (rc < 0)
		goto out;
	if (status == 404 || status == 400) {
		/* unknown, or not a token sessiond could have made */
		rc = CHAT_ENOTFOUND;
		goto out;
	}
	if (status != 200) {
		log_warn("sessiond refused a refresh token lookup: %d",
			 status);
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	rc = sessions_take(ans, "session_id", session_id, len);
out:
	cJSON_Delete(ans);
	return rc;
}

/* POSTs to a revoke path; 204 and 404 both mean "not live any more". */
static int sessions_revoke_path(struct userd *ud, const char *request_id,
				const char *path)
{
	cJSON *ans = NULL;
	int status = 0;
	int rc = sessions_call(ud, request_id, path, NULL, &status, &ans);

	cJSON_Delete(ans);
	if (rc < 0)
		return rc;
	if (status != 204 && status != 200 && status != 404) {
		log_warn("sessiond '%s' answered %d", path, status);
		return CHAT_EUPSTREAM;
	}
	return 0;
}

int sessions_revoke(struct userd *ud, const char *request_id,
		    const char *session_id, const char *reason)
{
	char path[160];

	if (!uuid_valid(session_id))
		return 0;	/* not a session sessiond could know */
	snprintf(path, sizeof(path), "/internal/sessions/%s/revoke?reason=%s",
		 session_id, reason);
	return sessions_revoke_path(ud, request_id, path);
}

int sessions_revoke_user(struct userd *ud, const char *request_id,
			 const char *user_id, const char *reason)
{
	char path[160];

	if (!uuid_valid(user_id))
		return CHAT_EINVAL;
	snprintf(path, sizeof(path), "/internal/users/%s/revoke?reason=%s",
		 user_id, reason);
	return sessions_revoke_path(ud, request_id, path);
}

int sessions_revoke_others(struct userd *ud, const char *request_id,
			   const char *user_id, const char *keep_session_id)
{
	char path[200];

	if (!uuid_valid(user_id) || !keep_session_id ||
	    !uuid_valid(keep_session_id))
		return CHAT_EINVAL;
	snprintf(path, sizeof(path), "/internal/users/%s/revoke?keep=%s",
		 user_id, keep_session_id);
	return sessions_revoke_path(ud, request_id, path);
}

int sessions_revoke_key(struct userd *ud, const char *request_id,
			const char *key_id, const char *user_id)
{
	cJSON *body = cJSON_CreateObject(), *ans = NULL;
	int status = 0, rc = CHAT_ENOMEM;

	if (!uuid_valid(key_id) || !uuid_valid(user_id)) {
		rc = CHAT_EINVAL;
		goto out;
	}
	if (!body || !cJSON_AddStringToObject(body, "kind", "apikey") ||
	    !cJSON_AddStringToObject(body, "id", key_id) ||
	    !cJSON_AddStringToObject(body, "user_id", user_id))
		goto out;
	rc = sessions_call(ud, request_id, "/internal/revocations", body,
			   &status, &ans);
	if (rc == 0 && status != 204) {
		log_warn("sessiond '/internal/revocations' answered %d",
			 status);
		rc = CHAT_EUPSTREAM;
	}
out:
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return rc;
}
