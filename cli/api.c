/*
 * api.c - chatctl's client of the gateway: one blocking libcurl easy
 * handle (reused, so calls share a connection), the credential of each
 * call, transparent token refresh, and the mapping of error answers to
 * one line on stderr and an exit status.
 *
 * Refresh: an access token is refreshed when it has less than
 * API_REFRESH_MARGIN_S left, and once more when the gateway still answers
 * 401 token_expired (clock skew).  Refresh tokens are single-use and a
 * reused one revokes the whole session, so a refresh runs under the lock
 * of the credentials file and first re-reads the file: another process
 * (a second chatctl, chatui) may have refreshed already.
 */
#include "chatctl.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "banned.h"

#define API_REFRESH_MARGIN_S 30
#define API_BODY_MAX (64u * 1024 * 1024)	/* a whole conversation */
#define API_CONNECT_TIMEOUT_MS 10000L

/* State of one transfer, for the curl callbacks. */
struct api_xfer {
	struct cli_ctx *ctx;
	const struct api_req *req;
	struct api_res *res;
	int decided;		/* 0 until the first byte; 1 stream, 2 buffer */
	int data_rc;		/* nonzero return of req->on_data */
	int buf_rc;		/* a buffer error */
};

static int api_perform(struct cli_ctx *ctx, const struct api_req *req,
		       const char *token, struct api_res *res);

int api_status_exit(long status)
{
	static const struct {
		long status;
		int exit;
	} map[] = {
		{ 400, CLI_USAGE }, { 413, CLI_USAGE }, { 422, CLI_USAGE },
		{ 401, CLI_AUTH }, { 403, CLI_AUTH }, { 404, CLI_NOTFOUND },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].status == status)
			return map[i].exit;
	return CLI_SERVER;
}

static bool api_valid_server(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 && s[7]) ||
	       (strncmp(s, "https://", 8) == 0 && s[8]);
}

int api_init(struct cli_ctx *ctx)
{
	const char *server = ctx->server_opt, *env;
	size_t n;
	int rc;

	env = getenv("CHAT_API_KEY");
	ctx->api_key = env && env[0] ? env : NULL;
	if (creds_default_path(ctx->creds_path, sizeof(ctx->creds_path)) < 0)
		ctx->creds_path[0] = '\0';
	if (ctx->creds_path[0]) {
		rc = creds_load(ctx->creds_path, &ctx->creds);
		if (rc == 0)
			ctx->creds_loaded = true;
		else if (rc != CHAT_ENOTFOUND)
			cli_warn("ignoring unreadable credentials '%s': %s",
				 ctx->creds_path, chat_strerror(rc));
	}
	if (!server) {
		env = getenv("CHAT_SERVER");
		if (env && env[0])
			server = env;
	}
	if (!server && ctx->creds_loaded)
		server = ctx->creds.server;
	if (!server)
		server = CLI_DEFAULT_SERVER;
	n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	if (n >= sizeof(ctx->server)) {
		cli_error("server URL too long");
		return CLI_USAGE;
	}
	memcpy(ctx->server, server, n);
	ctx->server[n] = '\0';
	if (!api_valid_server(ctx->server)) {
		cli_error("'%s' is not an http:// or https:// URL", server);
		return CLI_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error("cannot initialise libcurl");
		return CLI_SERVER;
	}
	ctx->curl = curl_easy_init();
	if (!ctx->curl) {
		cli_error("out of memory");
		return CLI_SERVER;
	}
	return CLI_OK;
}

void api_release(struct cli_ctx *ctx)
{
	if (ctx->curl) {
		curl_easy_cleanup(ctx->curl);
		ctx->curl = NULL;
		curl_global_cleanup();
	}
	creds_release(&ctx->creds);
	ctx->creds_loaded = false;
}

void api_res_release(struct api_res *res)
{
	buf_release(&res->body);
	cJSON_Delete(res->json);
	res->json = NULL;
}

int api_escape(const char *s, char *out, size_t outlen)
{
	char *e = curl_easy_escape(NULL, s, 0);
	size_t n;
	int rc = 0;

	if (!e)
		return CHAT_ENOMEM;
	n = strlen(e);
	if (n >= outlen)
		rc = CHAT_ETOOBIG;
	else
		memcpy(out, e, n + 1);
	curl_free(e);
	return rc;
}

int api_need_creds(struct cli_ctx *ctx)
{
	if (ctx->api_key)
		return CLI_OK;
	if (!ctx->creds_loaded) {
		cli_error("not logged in (run 'chatctl login')");
		return CLI_AUTH;
	}
	if (strcmp(ctx->creds.server, ctx->server) != 0) {
		cli_error("not logged in to '%s' (the credentials are for "
			  "'%s'; run 'chatctl login')", ctx->server,
			  ctx->creds.server);
		return CLI_AUTH;
	}
	return CLI_OK;
}

/* ---- transfers ---- */

static size_t api_on_write(char *data, size_t size, size_t n, void *arg)
{
	struct api_xfer *x = arg;
	size_t len = size * n;
	long status = 0;
	char *type = NULL;

	if (!x->decided) {
		curl_easy_getinfo(x->ctx->curl, CURLINFO_RESPONSE_CODE,
				  &status);
		curl_easy_getinfo(x->ctx->curl, CURLINFO_CONTENT_TYPE, &type);
		x->res->status = status;
		x->decided = 2;
		if ((x->req->flags & API_SSE) && status >= 200 &&
		    status < 300 && type &&
		    strncmp(type, "text/event-stream", 17) == 0)
			x->decided = 1;
	}
	if (x->decided == 1) {
		x->data_rc = x->req->on_data(x->req->arg, data, len);
		return x->data_rc ? 0 : len;
	}
	x->buf_rc = buf_append(&x->res->body, data, len);
	return x->buf_rc < 0 ? 0 : len;
}

static int api_on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			   curl_off_t ultotal, curl_off_t ulnow)
{
	(void)arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cli_interrupted ? 1 : 0;
}

static void api_copy(char *dst, size_t dstlen, const char *src)
{
	snprintf(dst, dstlen, "%s", src ? src : "");
}

/* error.code and error.message of an error answer (ours or OpenAI's). */
static void api_error_fields(struct api_res *res)
{
	const cJSON *err, *code, *msg;

	err = cJSON_GetObjectItemCaseSensitive(res->json, "error");
	code = cJSON_GetObjectItemCaseSensitive(err, "code");
	msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	if (cJSON_IsString(code))
		api_copy(res->code, sizeof(res->code), code->valuestring);
	if (cJSON_IsString(msg))
		api_copy(res->message, sizeof(res->message),
			 msg->valuestring);
	if (!res->message[0])
		snprintf(res->message, sizeof(res->message),
			 "the server answered HTTP %ld", res->status);
}

static int api_perform(struct cli_ctx *ctx, const struct api_req *req,
		       const char *token, struct api_res *res)
{
	char url[2048], errbuf[CURL_ERROR_SIZE], hdr[4200];
	struct curl_slist *headers = NULL, *h;
	struct api_xfer x = { ctx, req, res, 0, 0, 0 };
	CURL *curl = ctx->curl;
	char *body = NULL;
	CURLcode cc;
	int rc = CLI_OK, n;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, API_BODY_MAX);
	n = snprintf(url, sizeof(url), "%s%s", ctx->server, req->path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		api_copy(res->message, sizeof(res->message), "URL too long");
		return CLI_USAGE;
	}
	curl_easy_reset(curl);
	errbuf[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 API_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "chatctl/" CHATCTL_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, api_on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, api_on_progress);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);

	h = curl_slist_append(headers, (req->flags & API_SSE) ?
				       "Accept: text/event-stream" :
				       "Accept: application/json");
	if (!h)
		goto nomem;
	headers = h;
	if (token) {
		n = snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
			     token);
		if (n < 0 || (size_t)n >= sizeof(hdr))
			goto nomem;
		h = curl_slist_append(headers, hdr);
		memset(hdr, 0, sizeof(hdr));
		if (!h)
			goto nomem;
		headers = h;
	}
	if (req->idempotency_key) {
		snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s",
			 req->idempotency_key);
		h = curl_slist_append(headers, hdr);
		if (!h)
			goto nomem;
		headers = h;
	}
	if (req->json) {
		body = cJSON_PrintUnformatted(req->json);
		if (!body)
			goto nomem;
		h = curl_slist_append(headers,
				      "Content-Type: application/json");
		if (!h)
			goto nomem;
		headers = h;
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)0);
	}
	/* no "Expect: 100-continue" round trip on large bodies */
	h = curl_slist_append(headers, "Expect:");
	if (!h)
		goto nomem;
	headers = h;
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	cc = curl_easy_perform(curl);
	if (!res->status)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	/* the token may sit in curl's copy of the headers: reset it now */
	curl_easy_reset(curl);

	if (cc == CURLE_ABORTED_BY_CALLBACK && cli_interrupted) {
		res->interrupted = true;
		api_copy(res->message, sizeof(res->message), "interrupted");
		rc = CLI_INTERRUPTED;
		goto out;
	}
	if (cc == CURLE_WRITE_ERROR && x.data_rc) {
		rc = x.data_rc < 0 ? CLI_SERVER : x.data_rc;
		goto out;
	}
	if (cc == CURLE_WRITE_ERROR && x.buf_rc) {
		api_copy(res->message, sizeof(res->message),
			 "the answer is too large");
		rc = CLI_SERVER;
		goto out;
	}
	if (cc != CURLE_OK) {
		if (res->status == 0)
			snprintf(res->message, sizeof(res->message),
				 "cannot reach '%.200s': %.256s", ctx->server,
				 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		else
			snprintf(res->message, sizeof(res->message),
				 "the connection to '%.200s' failed: %.256s",
				 ctx->server,
				 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		rc = CLI_SERVER;
		goto out;
	}
	if (res->body.len)
		res->json = cJSON_ParseWithLength(res->body.data,
						  res->body.len);
	if (res->status < 200 || res->status >= 300) {
		api_error_fields(res);
		rc = api_status_exit(res->status);
	}
	goto out;
nomem:
	api_copy(res->message, sizeof(res->message), "out of memory");
	rc = CLI_SERVER;
out:
	curl_slist_free_all(headers);
	if (body) {
		memset(body, 0, strlen(body));	/* it may hold a password */
		cJSON_free(body);
	}
	return rc;
}

/* ---- credentials and refresh ---- */

static int api_take_pair(struct cli_ctx *ctx, const cJSON *obj)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(obj,
							   "access_token");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(obj,
							   "refresh_token");
	const cJSON *ei = cJSON_GetObjectItemCaseSensitive(obj, "expires_in");
	char *a, *r;

	if (!cJSON_IsString(at) || !cJSON_IsString(rt) ||
	    !cJSON_IsNumber(ei)) {
		cli_error("the server's token answer is malformed");
		return CLI_SERVER;
	}
	a = strdup(at->valuestring);
	r = strdup(rt->valuestring);
	if (!a || !r) {
		free(a);
		free(r);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	free(ctx->creds.access_token);
	free(ctx->creds.refresh_token);
	ctx->creds.access_token = a;
	ctx->creds.refresh_token = r;
	ctx->creds.expires_at = (int64_t)time(NULL) +
				(int64_t)ei->valuedouble;
	return CLI_OK;
}

static int api_save(struct cli_ctx *ctx)
{
	int rc = creds_save(ctx->creds_path, &ctx->creds);

	if (rc < 0) {
		cli_error("cannot write '%s': %s", ctx->creds_path,
			  chat_strerror(rc));
		return CLI_SERVER;
	}
	return CLI_OK;
}

static bool api_expiring(const struct creds *c)
{
	return c->expires_at - (int64_t)time(NULL) < API_REFRESH_MARGIN_S;
}

static bool api_same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Refreshes the access token.  force: the server refused the current
 * one, so a fresher one is needed whatever expires_at says. */
static int api_refresh(struct cli_ctx *ctx, bool force, bool quiet)
{
	struct api_req req = { "POST", "/v1/auth/refresh", NULL,
			       API_NOAUTH | API_QUIET, NULL, NULL, NULL };
	struct api_res res;
	struct creds disk;
	cJSON *body = NULL;
	bool ours = false;	/* the file still holds this login */
	int lock, rc;

	lock = creds_lock(ctx->creds_path);
	if (lock < 0) {
		cli_error("cannot lock '%s.lock': %s", ctx->creds_path,
			  chat_strerror(lock));
		return CLI_SERVER;
	}
	/* Someone else may have refreshed while we waited for the lock;
	 * and a file that now holds another login (or none, after a
	 * logout) is not ours to overwrite. */
	if (creds_load(ctx->creds_path, &disk) == 0 &&
	    api_same(disk.server, ctx->creds.server) &&
	    api_same(disk.username, ctx->creds.username)) {
		ours = true;
		if (!api_same(disk.refresh_token, ctx->creds.refresh_token)) {
			bool fresher = !force ||
				       !api_same(disk.access_token,
						 ctx->creds.access_token);

			creds_release(&ctx->creds);
			ctx->creds = disk;
			memset(&disk, 0, sizeof(disk));
			if (fresher && !api_expiring(&ctx->creds)) {
				rc = CLI_OK;
				goto out;
			}
		}
	}
	creds_release(&disk);

	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "refresh_token",
					      ctx->creds.refresh_token)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	req.json = body;
	rc = api_perform(ctx, &req, NULL, &res);
	if (rc == CLI_OK) {
		rc = api_take_pair(ctx, res.json);
		if (rc == CLI_OK && ours)
			rc = api_save(ctx);
	} else if (res.status == 401) {
		if (!quiet)
			cli_error("the session has ended (%s); log in again "
				  "with 'chatctl login'", res.code[0] ?
				  res.code : "unauthorized");
		rc = CLI_AUTH;
	} else if (rc != CLI_INTERRUPTED && !quiet) {
		cli_error("cannot refresh the access token: %s%s%s%s",
			  res.message, res.code[0] ? " (" : "", res.code,
			  res.code[0] ? ")" : "");
	}
	api_res_release(&res);
out:
	cJSON_Delete(body);
	creds_unlock(lock);
	return rc;
}

int api_call(struct cli_ctx *ctx, const struct api_req *req,
	     struct api_res *res)
{
	const char *token = NULL;
	int rc, attempt;

	for (attempt = 0;; attempt++) {
		bool quiet = req->flags & API_QUIET;

		if (!(req->flags & API_NOAUTH)) {
			rc = api_need_creds(ctx);
			if (rc != CLI_OK)
				goto fail;
			if (ctx->api_key) {
				token = ctx->api_key;
			} else {
				if (api_expiring(&ctx->creds)) {
					rc = api_refresh(ctx, false, quiet);
					if (rc != CLI_OK)
						goto fail;
				}
				token = ctx->creds.access_token;
			}
		}
		rc = api_perform(ctx, req, token, res);
		if (rc == CLI_AUTH && res->status == 401 && attempt == 0 &&
		    token && !ctx->api_key &&
		    strcmp(res->code, "token_expired") == 0) {
			api_res_release(res);
			rc = api_refresh(ctx, true, quiet);
			if (rc != CLI_OK)
				goto fail;
			continue;
		}
		break;
	}
	if (rc != CLI_OK && rc != CLI_INTERRUPTED &&
	    !(req->flags & API_QUIET) && res->message[0]) {
		if (res->status == 401 && token && !ctx->api_key)
			cli_error("%s (%s); log in again with 'chatctl login'",
				  res->message, res->code);
		else if (res->code[0])
			cli_error("%s (%s)", res->message, res->code);
		else
			cli_error("%s", res->message);
	}
	return rc;
fail:
	/* res must still be releasable by the caller */
	memset(res, 0, sizeof(*res));
	buf_init(&res->body, API_BODY_MAX);
	return rc;
}

int api_json(struct cli_ctx *ctx, const char *method, const char *path,
	     const cJSON *body, cJSON **out)
{
	struct api_req req = { method, path, body, 0, NULL, NULL, NULL };
	struct api_res res;
	int rc;

	*out = NULL;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK && res.body.len && !res.json) {
		cli_error("the server's answer to %s %s is not JSON", method,
			  path);
		rc = CLI_SERVER;
	}
	if (rc == CLI_OK) {
		*out = res.json;
		res.json = NULL;
	}
	api_res_release(&res);
	return rc;
}

int api_delete_each(struct cli_ctx *ctx, char *const *ids, int n,
		    api_path_fn path)
{
	char p[256];
	cJSON *answer = NULL;
	int i, rc, worst = CLI_OK;

	for (i = 0; i < n; i++) {
		rc = path(ids[i], p, sizeof(p));
		if (rc == CLI_OK)
			rc = api_json(ctx, "DELETE", p, NULL, &answer);
		cJSON_Delete(answer);
		answer = NULL;
		if (rc != CLI_OK && !worst)
			worst = rc;
		if (rc == CLI_AUTH || rc == CLI_INTERRUPTED)
			break;	/* the next ones would fail alike */
	}
	return worst;
}

int api_login(struct cli_ctx *ctx, const char *username,
	      const char *password)
{
	struct api_req req = { "POST", "/v1/auth/login", NULL, API_NOAUTH,
			       NULL, NULL, NULL };
	struct api_res res;
	const cJSON *user, *name;
	cJSON *body;
	char *server = NULL, *uname = NULL;
	int rc;

	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "username", username) ||
	    !cJSON_AddStringToObject(body, "password", password)) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	cJSON_Delete(body);
	if (rc != CLI_OK)
		goto out;
	user = cJSON_GetObjectItemCaseSensitive(res.json, "user");
	name = cJSON_GetObjectItemCaseSensitive(user, "username");
	server = strdup(ctx->server);
	uname = strdup(cJSON_IsString(name) ? name->valuestring : username);
	if (!server || !uname) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	creds_release(&ctx->creds);
	ctx->creds.server = server;
	ctx->creds.username = uname;
	server = uname = NULL;
	ctx->creds_loaded = false;
	rc = api_take_pair(ctx, res.json);
	if (rc != CLI_OK)
		goto out;
	if (!ctx->creds_path[0]) {
		cli_error("neither XDG_CONFIG_HOME nor HOME is set: nowhere "
			  "to keep the credentials");
		rc = CLI_USAGE;
		goto out;
	}
	rc = api_save(ctx);
	if (rc == CLI_OK)
		ctx->creds_loaded = true;
out:
	free(server);
	free(uname);
	api_res_release(&res);
	return rc;
}
