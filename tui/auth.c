/*
 * auth.c - chatui's login, shared by the REST worker and the WebSocket
 * thread, and the one blocking HTTP call both use.
 *
 * The rules are chatctl's (cli/api.c): an access token is refreshed when
 * it has less than 30 s left and once more when the server still calls
 * it expired; refresh tokens are single-use and a reused one revokes the
 * whole session, so a refresh runs under the credentials file's lock and
 * first re-reads the file, since chatctl or another chatui may have
 * refreshed meanwhile; and a file that now holds another login (or none)
 * is never written over.
 */
#include "chatui.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "banned.h"

#define AUTH_MARGIN_S 30
#define HTTP_BODY_MAX (64u * 1024 * 1024)	/* a whole conversation */
#define HTTP_CONNECT_TIMEOUT_MS 5000L
#define HTTP_TIMEOUT_MS 120000L

static size_t http_on_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;

	return buf_append(b, data, len) < 0 ? 0 : len;
}

void http_result_release(struct http_result *res)
{
	cJSON_Delete(res->json);
	res->json = NULL;
}

int http_call(void *handle, const char *server, const char *method,
	      const char *path, const char *token, const cJSON *body,
	      struct http_result *res)
{
	char url[2048], errbuf[CURL_ERROR_SIZE], hdr[4200];
	struct curl_slist *headers = NULL, *h;
	CURL *curl = handle;
	struct buf b;
	char *text = NULL;
	const cJSON *err, *code, *msg;
	CURLcode cc;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	buf_init(&b, HTTP_BODY_MAX);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", server, path) >=
	    sizeof(url)) {
		snprintf(res->message, sizeof(res->message), "URL too long");
		return CHAT_ETOOBIG;
	}
	curl_easy_reset(curl);
	errbuf[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "chatui/" CHATUI_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	h = curl_slist_append(headers, "Accept: application/json");
	if (!h)
		goto nomem;
	headers = h;
	if (token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		h = curl_slist_append(headers, hdr);
		memset(hdr, 0, sizeof(hdr));
		if (!h)
			goto nomem;
		headers = h;
	}
	if (body) {
		text = cJSON_PrintUnformatted(body);
		h = text ? curl_slist_append(headers,
					     "Content-Type: application/json")
			 : NULL;
		if (!h)
			goto nomem;
		headers = h;
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(text));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)0);
	}
	h = curl_slist_append(headers, "Expect:");
	if (!h)
		goto nomem;
	headers = h;
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_reset(curl);	/* drops curl's copy of the token */
	if (cc != CURLE_OK) {
		snprintf(res->message, sizeof(res->message),
			 "cannot reach '%.100s': %.120s", server,
			 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		res->status = 0;
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	if (b.len)
		res->json = cJSON_ParseWithLength(b.data, b.len);
	if (res->status < 200 || res->status >= 300) {
		err = cJSON_GetObjectItemCaseSensitive(res->json, "error");
		code = cJSON_GetObjectItemCaseSensitive(err, "code");
		msg = cJSON_GetObjectItemCaseSensitive(err, "message");
		if (cJSON_IsString(code))
			snprintf(res->code, sizeof(res->code), "%s",
				 code->valuestring);
		if (cJSON_IsString(msg))
			snprintf(res->message, sizeof(res->message), "%s",
				 msg->valuestring);
		else
			snprintf(res->message, sizeof(res->message),
				 "the server answered HTTP %ld", res->status);
		rc = res->status == 401 ? CHAT_EAUTH : CHAT_EUPSTREAM;
	}
	goto out;
nomem:
	snprintf(res->message, sizeof(res->message), "out of memory");
	rc = CHAT_ENOMEM;
out:
	curl_slist_free_all(headers);
	if (text) {
		memset(text, 0, strlen(text));	/* may hold a password */
		cJSON_free(text);
	}
	buf_release(&b);
	return rc;
}

/* ---- the login ---- */

static bool auth_same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool auth_expiring(const struct creds *c)
{
	return c->expires_at - (int64_t)time(NULL) < AUTH_MARGIN_S;
}

int auth_init(struct auth *a, const char *server)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	snprintf(a->server, sizeof(a->server), "%s", server);
	if (creds_default_path(a->path, sizeof(a->path)) < 0)
		a->path[0] = '\0';
	if (a->path[0] && creds_load(a->path, &a->creds) == 0)
		a->have = auth_same(a->creds.server, a->server);
	a->curl = curl_easy_init();
	return a->curl ? 0 : CHAT_ENOMEM;
}

void auth_release(struct auth *a)
{
	creds_release(&a->creds);
	if (a->curl)
		curl_easy_cleanup(a->curl);
	a->curl = NULL;
	pthread_mutex_destroy(&a->mu);
}

bool auth_have(struct auth *a)
{
	bool have;

	pthread_mutex_lock(&a->mu);
	have = a->have;
	pthread_mutex_unlock(&a->mu);
	return have;
}

void auth_username(struct auth *a, char *out, size_t outlen)
{
	pthread_mutex_lock(&a->mu);
	snprintf(out, outlen, "%s", a->have && a->creds.username ?
				    a->creds.username : "");
	pthread_mutex_unlock(&a->mu);
}

void auth_forget(struct auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->have = false;
	pthread_mutex_unlock(&a->mu);
}

int auth_logout(struct auth *a, char *err, size_t errlen)
{
	struct http_result res = { 0 };
	struct creds disk;
	int rc = 0, rm = 0;

	pthread_mutex_lock(&a->mu);
	a->have = false;
	if (a->creds.access_token && a->creds.access_token[0]) {
		rc = http_call(a->curl, a->server, "POST", "/v1/auth/logout",
			       a->creds.access_token, NULL, &res);
		if (rc == CHAT_EAUTH)
			rc = 0;		/* the session had ended already */
		else if (rc < 0)
			chat_errf(err, errlen, "cannot revoke the session: %s; "
				  "the local credentials were removed",
				  res.message);
		http_result_release(&res);
	}
	/* another server's login in the shared file is not ours to drop */
	if (a->path[0] && creds_load(a->path, &disk) == 0) {
		if (auth_same(disk.server, a->server))
			rm = creds_remove(a->path);
		creds_release(&disk);
	}
	if (rm < 0) {
		chat_errf(err, errlen, "cannot remove '%s'", a->path);
		rc = rm;
	}
	creds_release(&a->creds);
	memset(&a->creds, 0, sizeof(a->creds));
	pthread_mutex_unlock(&a->mu);
	return rc < 0 && rm == 0 ? CHAT_EUPSTREAM : rc;
}

/* A token answer into a->creds. */
static int auth_take_pair(struct auth *a, const cJSON *obj)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(obj,
							   "access_token");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(obj,
							   "refresh_token");
	const cJSON *ei = cJSON_GetObjectItemCaseSensitive(obj, "expires_in");
	char *x, *y;

	if (!cJSON_IsString(at) || !cJSON_IsString(rt) || !cJSON_IsNumber(ei))
		return CHAT_EPARSE;
	x = strdup(at->valuestring);
	y = strdup(rt->valuestring);
	if (!x || !y) {
		free(x);
		free(y);
		return CHAT_ENOMEM;
	}
	free(a->creds.access_token);
	free(a->creds.refresh_token);
	a->creds.access_token = x;
	a->creds.refresh_token = y;
	a->creds.expires_at = (int64_t)time(NULL) + (int64_t)ei->valuedouble;
	return 0;
}

/* Under a->mu. */
static int auth_refresh(struct auth *a, bool force, char *err,
			size_t errlen)
{
	struct http_result res;
	struct creds disk;
	cJSON *body = NULL;
	bool ours = false;
	int lock = -1, rc;

	if (a->path[0]) {
		lock = creds_lock(a->path);
		if (lock < 0) {
			chat_errf(err, errlen, "cannot lock '%s.lock'",
				  a->path);
			return CHAT_EUPSTREAM;
		}
	}
	if (a->path[0] && creds_load(a->path, &disk) == 0 &&
	    auth_same(disk.server, a->creds.server) &&
	    auth_same(disk.username, a->creds.username)) {
		ours = true;
		if (!auth_same(disk.refresh_token, a->creds.refresh_token)) {
			/* someone refreshed while we waited */
			bool fresher = !force ||
				       !auth_same(disk.access_token,
						  a->creds.access_token);

			creds_release(&a->creds);
			a->creds = disk;
			memset(&disk, 0, sizeof(disk));
			if (fresher && !auth_expiring(&a->creds)) {
				rc = 0;
				goto out;
			}
		}
	}
	creds_release(&disk);
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "refresh_token",
					      a->creds.refresh_token)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	rc = http_call(a->curl, a->server, "POST", "/v1/auth/refresh", NULL,
		       body, &res);
	if (rc == 0) {
		rc = auth_take_pair(a, res.json);
		if (rc == 0 && ours && creds_save(a->path, &a->creds) < 0)
			chat_errf(err, errlen, "cannot write '%s'", a->path);
	} else if (res.status == 401) {
		chat_errf(err, errlen, "the session has ended (%s); log in "
			  "again", res.code[0] ? res.code : "unauthorized");
		a->have = false;
		rc = CHAT_EAUTH;
	} else {
		chat_errf(err, errlen, "cannot refresh the login: %s",
			  res.message);
		rc = CHAT_EUPSTREAM;
	}
	http_result_release(&res);
out:
	cJSON_Delete(body);
	creds_unlock(lock);
	return rc;
}

int auth_token(struct auth *a, bool force, char *out, size_t outlen,
	       char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (!a->have) {
		chat_errf(err, errlen, "not logged in");
		rc = CHAT_EAUTH;
		goto out;
	}
	if (force || auth_expiring(&a->creds))
		rc = auth_refresh(a, force, err, errlen);
	if (rc == 0 && strlen(a->creds.access_token) >= outlen)
		rc = CHAT_ETOOBIG;
	if (rc == 0)
		snprintf(out, outlen, "%s", a->creds.access_token);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int auth_login(struct auth *a, const char *username, const char *password,
	       bool do_register, char *err, size_t errlen)
{
	struct http_result res = { 0 };
	const cJSON *user, *name;
	cJSON *body;
	char *server = NULL, *uname = NULL;
	int rc;

	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "username", username) ||
	    !cJSON_AddStringToObject(body, "password", password)) {
		cJSON_Delete(body);
		return CHAT_ENOMEM;
	}
	pthread_mutex_lock(&a->mu);
	if (do_register) {
		rc = http_call(a->curl, a->server, "POST", "/v1/auth/register",
			       NULL, body, &res);
		if (rc < 0) {
			chat_errf(err, errlen, "%s", res.message);
			goto out;
		}
		http_result_release(&res);
	}
	rc = http_call(a->curl, a->server, "POST", "/v1/auth/login", NULL,
		       body, &res);
	if (rc < 0) {
		chat_errf(err, errlen, "%s", res.message);
		rc = res.status ? CHAT_EAUTH : rc;
		goto out;
	}
	user = cJSON_GetObjectItemCaseSensitive(res.json, "user");
	name = cJSON_GetObjectItemCaseSensitive(user, "username");
	server = strdup(a->server);
	uname = strdup(cJSON_IsString(name) ? name->valuestring : username);
	if (!server || !uname) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	creds_release(&a->creds);
	a->creds.server = server;
	a->creds.username = uname;
	server = uname = NULL;
	rc = auth_take_pair(a, res.json);
	if (rc < 0) {
		chat_errf(err, errlen, "the server's token answer is "
			  "malformed");
		goto out;
	}
	a->have = true;
	if (!a->path[0] || creds_save(a->path, &a->creds) < 0)
		chat_errf(err, errlen, "logged in, but cannot write the "
			  "credentials file");
out:
	pthread_mutex_unlock(&a->mu);
	free(server);
	free(uname);
	http_result_release(&res);
	cJSON_Delete(body);
	return rc;
}
