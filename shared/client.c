/*
 * client.c - the API client of chatctl and chatui (see client.h): one
 * blocking libcurl call on a reused easy handle, and the refresh of a
 * login kept in the credentials file.
 */
#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "banned.h"

#define CLIENT_CONNECT_TIMEOUT_MS 10000L

/* State of one transfer, for the curl callbacks. */
struct client_xfer {
	struct client *c;
	const struct client_req *req;
	struct client_res *res;
	int decided;		/* 0 until the first byte; 1 stream, 2 buffer */
	int buf_rc;		/* the body passed its ceiling */
};

bool client_valid_server(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 && s[7]) ||
	       (strncmp(s, "https://", 8) == 0 && s[8]);
}

static void client_copy(char *dst, size_t dstlen, const char *src)
{
	snprintf(dst, dstlen, "%s", src ? src : "");
}

int client_init(struct client *c, const char *server,
		const char *user_agent)
{
	size_t n = strlen(server);

	memset(c, 0, sizeof(*c));
	while (n > 0 && server[n - 1] == '/')
		n--;
	if (n >= sizeof(c->server))
		return CHAT_EINVAL;
	memcpy(c->server, server, n);
	c->server[n] = '\0';
	if (!client_valid_server(c->server))
		return CHAT_EINVAL;
	client_copy(c->user_agent, sizeof(c->user_agent), user_agent);
	c->connect_timeout_ms = CLIENT_CONNECT_TIMEOUT_MS;
	c->body_max = CLIENT_BODY_MAX;
	c->curl = curl_easy_init();
	return c->curl ? 0 : CHAT_ENOMEM;
}

void client_release(struct client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

void client_res_release(struct client_res *res)
{
	buf_release(&res->body);
	cJSON_Delete(res->json);
	res->json = NULL;
}

/* ---- a call ---- */

static size_t client_on_write(char *data, size_t size, size_t n, void *arg)
{
	struct client_xfer *x = arg;
	size_t len = size * n;
	char *type = NULL;

	if (!x->decided) {
		curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE,
				  &x->res->status);
		curl_easy_getinfo(x->c->curl, CURLINFO_CONTENT_TYPE, &type);
		x->decided = 2;
		if (x->req->sse && x->req->on_data && x->res->status >= 200 &&
		    x->res->status < 300 && type &&
		    strncmp(type, "text/event-stream", 17) == 0)
			x->decided = 1;
	}
	if (x->decided == 1) {
		x->res->data_rc = x->req->on_data(x->req->arg, data, len);
		return x->res->data_rc ? 0 : len;
	}
	x->buf_rc = buf_append(&x->res->body, data, len);
	return x->buf_rc < 0 ? 0 : len;
}

static int client_on_progress(void *arg, curl_off_t dltotal,
			      curl_off_t dlnow, curl_off_t ultotal,
			      curl_off_t ulnow)
{
	struct client_xfer *x = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (x->c->cancel && x->c->cancel(x->c->cancel_arg)) {
		x->res->canceled = true;
		return 1;
	}
	return 0;
}

/* error.code and error.message of an error answer (ours or OpenAI's). */
static void client_error_fields(struct client_res *res)
{
	const cJSON *err, *code, *msg;

	err = cJSON_GetObjectItemCaseSensitive(res->json, "error");
	code = cJSON_GetObjectItemCaseSensitive(err, "code");
	msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	if (cJSON_IsString(code))
		client_copy(res->code, sizeof(res->code), code->valuestring);
	if (cJSON_IsString(msg))
		client_copy(res->message, sizeof(res->message),
			    msg->valuestring);
	if (!res->message[0])
		snprintf(res->message, sizeof(res->message),
			 "the server answered HTTP %ld", res->status);
}

/* Appends "Name: value" to *list; CHAT_ENOMEM. */
static int client_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *h = curl_slist_append(*list, line);

	if (!h)
		return CHAT_ENOMEM;
	*list = h;
	return 0;
}

int client_call(struct client *c, const struct client_req *req,
		struct client_res *res)
{
	char url[2048], errbuf[CURL_ERROR_SIZE], hdr[4200];
	struct curl_slist *headers = NULL;
	struct client_xfer x = { c, req, res, 0, 0 };
	CURL *curl = c->curl;
	char *body = NULL;
	CURLcode cc;
	int rc = 0, n;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, c->body_max);
	n = snprintf(url, sizeof(url), "%s%s", c->server, req->path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		client_copy(res->message, sizeof(res->message), "URL too long");
		return CHAT_ETOOBIG;
	}
	curl_easy_reset(curl);
	errbuf[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 c->connect_timeout_ms);
	if (c->timeout_ms > 0)
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, client_on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	if (c->cancel) {
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
				 client_on_progress);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &x);
	}
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);

	rc = client_header(&headers, req->sse ? "Accept: text/event-stream" :
					       "Accept: application/json");
	/* a header value must not end its line: curl would send the rest
	 * as headers of their own */
	if ((req->token && strpbrk(req->token, "\r\n")) ||
	    (req->idempotency_key && strpbrk(req->idempotency_key, "\r\n")))
		rc = CHAT_EINVAL;
	if (rc == 0 && req->token) {
		n = snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
			     req->token);
		rc = n < 0 || (size_t)n >= sizeof(hdr) ? CHAT_ETOOBIG :
			client_header(&headers, hdr);
		memset(hdr, 0, sizeof(hdr));
	}
	if (rc == 0 && req->idempotency_key) {
		n = snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s",
			     req->idempotency_key);
		rc = n < 0 || (size_t)n >= sizeof(hdr) ? CHAT_ETOOBIG :
			client_header(&headers, hdr);
	}
	if (rc == 0 && req->json) {
		body = cJSON_PrintUnformatted(req->json);
		rc = body ? client_header(&headers,
					  "Content-Type: application/json") :
			    CHAT_ENOMEM;
		if (rc == 0) {
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)strlen(body));
		}
	} else if (rc == 0 && strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)0);
	}
	/* no "Expect: 100-continue" round trip on large bodies */
	if (rc == 0)
		rc = client_header(&headers, "Expect:");
	if (rc < 0) {
		client_copy(res->message, sizeof(res->message),
			    rc == CHAT_ENOMEM ? "out of memory" :
			    rc == CHAT_EINVAL ? "a header value has a line break" :
			    "a header is too long");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	cc = curl_easy_perform(curl);
	if (!res->status)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	/* the token may sit in curl's copy of the headers: drop it now */
	curl_easy_reset(curl);

	if (cc == CURLE_ABORTED_BY_CALLBACK && res->canceled) {
		client_copy(res->message, sizeof(res->message), "interrupted");
		rc = CHAT_ECANCELED;
	} else if (cc == CURLE_WRITE_ERROR && res->data_rc) {
		client_copy(res->message, sizeof(res->message),
			    "the stream was stopped");
		rc = CHAT_ECANCELED;
	} else if (cc == CURLE_WRITE_ERROR && x.buf_rc) {
		client_copy(res->message, sizeof(res->message),
			    "the answer is too large");
		rc = CHAT_ETOOBIG;
	} else if (cc != CURLE_OK) {
		snprintf(res->message, sizeof(res->message),
			 res->status ? "the connection to '%.200s' failed: "
			 "%.256s" : "cannot reach '%.200s': %.256s", c->server,
			 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		rc = CHAT_EUPSTREAM;
	} else {
		if (res->body.len)
			res->json = cJSON_ParseWithLength(res->body.data,
							  res->body.len);
		if (res->status < 200 || res->status >= 300) {
			client_error_fields(res);
			rc = res->status == 401 ? CHAT_EAUTH : CHAT_EUPSTREAM;
		}
	}
out:
	/* the handle must not keep pointers to this frame or the body */
	curl_easy_reset(curl);
	curl_slist_free_all(headers);
	if (body) {
		memset(body, 0, strlen(body));	/* it may hold a password */
		cJSON_free(body);
	}
	return rc;
}

/* ---- the login's tokens ---- */

static bool client_same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

bool client_expiring(const struct creds *l, int64_t now)
{
	return l->expires_at - now < CLIENT_REFRESH_MARGIN_S;
}

int client_take_pair(struct creds *l, const cJSON *answer, int64_t now)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(answer,
							   "access_token");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(answer,
							   "refresh_token");
	const cJSON *ei = cJSON_GetObjectItemCaseSensitive(answer,
							   "expires_in");
	char *a, *r;

	/* expires_in within a year: a bigger (or NaN) number cannot be
	 * converted safely and is no token answer */
	if (!cJSON_IsString(at) || !cJSON_IsString(rt) ||
	    !cJSON_IsNumber(ei) || !at->valuestring[0] ||
	    !rt->valuestring[0] || !(ei->valuedouble >= 0 &&
				     ei->valuedouble <= 366.0 * 86400))
		return CHAT_EPARSE;
	a = strdup(at->valuestring);
	r = strdup(rt->valuestring);
	if (!a || !r) {
		free(a);
		free(r);
		return CHAT_ENOMEM;
	}
	if (l->access_token)
		memset(l->access_token, 0, strlen(l->access_token));
	if (l->refresh_token)
		memset(l->refresh_token, 0, strlen(l->refresh_token));
	free(l->access_token);
	free(l->refresh_token);
	l->access_token = a;
	l->refresh_token = r;
	l->expires_at = now + (int64_t)ei->valuedouble;
	return 0;
}

int client_take_login(struct creds *l, const char *server,
		      const char *username, const cJSON *answer, int64_t now)
{
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(answer, "user");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(user, "username");
	char *srv = strdup(server);
	char *uname = strdup(cJSON_IsString(name) ? name->valuestring :
			     username);

	if (!srv || !uname) {
		free(srv);
		free(uname);
		return CHAT_ENOMEM;
	}
	creds_release(l);
	l->server = srv;
	l->username = uname;
	return client_take_pair(l, answer, now);
}

int client_refresh(struct client *c, const char *path, struct creds *l,
		   bool force, struct client_res *res, int *save_rc)
{
	struct client_req req = { .method = "POST",
				  .path = "/v1/auth/refresh" };
	struct creds disk = { 0 };
	cJSON *body = NULL;
	bool ours = false;	/* the file still holds this login */
	int lock = -1, rc;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, 1);
	*save_rc = 0;
	if (path[0]) {
		lock = creds_lock(path);
		if (lock < 0) {
			snprintf(res->message, sizeof(res->message),
				 "cannot lock '%.400s.lock'", path);
			return CHAT_EIO;
		}
	}
	/* someone may have refreshed while we waited for the lock; and a
	 * file that now holds another login for this server (or none, after
	 * a logout) is not ours to write over; other servers' logins in the
	 * file are no concern of this one's */
	if (path[0] && creds_load_server(path, l->server, &disk) == 0 &&
	    client_same(disk.server, l->server) &&
	    client_same(disk.username, l->username)) {
		ours = true;
		if (!client_same(disk.refresh_token, l->refresh_token)) {
			bool fresher = !force ||
				       !client_same(disk.access_token,
						    l->access_token);

			creds_release(l);
			*l = disk;
			memset(&disk, 0, sizeof(disk));
			if (fresher && !client_expiring(l, time(NULL))) {
				rc = 0;
				goto out;
			}
		}
	}
	creds_release(&disk);
	body = cJSON_CreateObject();
	if (!body || !l->refresh_token ||
	    !cJSON_AddStringToObject(body, "refresh_token",
				     l->refresh_token)) {
		client_copy(res->message, sizeof(res->message),
			    body ? "the login has no refresh token" :
			    "out of memory");
		rc = body ? CHAT_EAUTH : CHAT_ENOMEM;
		goto out;
	}
	req.json = body;
	client_res_release(res);
	rc = client_call(c, &req, res);
	if (rc == 0) {
		rc = client_take_pair(l, res->json, time(NULL));
		if (rc < 0)
			snprintf(res->message, sizeof(res->message),
				 "the server's token answer is malformed");
		else if (ours)
			*save_rc = creds_save(path, l);
	}
out:
	if (body) {
		cJSON *rt = cJSON_GetObjectItemCaseSensitive(body,
							     "refresh_token");

		if (cJSON_IsString(rt))
			memset(rt->valuestring, 0, strlen(rt->valuestring));
	}
	cJSON_Delete(body);
	if (lock >= 0)
		creds_unlock(lock);
	return rc;
}
