/*
 * api.c - chatctl's client of the gateway: the shared API client
 * (shared/client.c: one blocking libcurl handle, reused so calls share a
 * connection, and the token rules), the credential of each call, and the
 * mapping of error answers to one line on stderr and an exit status.
 *
 * Refresh: an access token is refreshed when it has less than
 * CLIENT_REFRESH_MARGIN_S left, and once more when the gateway still
 * answers 401 token_expired (clock skew).  Refresh tokens are single-use
 * and a reused one revokes the whole session, so a refresh runs under
 * the lock of the credentials file and first re-reads the file: another
 * process (a second chatctl, chatui) may have refreshed already.
 */
#include "chatctl.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "err.h"
#include "banned.h"

static bool api_cancel(void *arg);
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

/* The server of this run: --server, else CHAT_SERVER, each a URL or
 * the name of a server in the credentials file (set), else the current
 * server of the file, else the default.  NULL after an error. */
static const char *api_pick_server(struct cli_ctx *ctx,
				   const struct creds_set *set)
{
	const char *server = ctx->server_opt, *env;
	long i;

	if (!server) {
		env = getenv("CHAT_SERVER");
		if (env && env[0])
			server = env;
	}
	if (server && !strstr(server, "://")) {
		i = creds_set_find(set, server);
		if (i < 0) {
			cli_error("no server named '%s' (see 'chatctl server "
				  "ls'), nor is it an http:// or https:// "
				  "URL", server);
			return NULL;
		}
		return set->v[i].server;
	}
	if (!server && set->current >= 0)
		server = set->v[set->current].server;
	return server ? server : CLI_DEFAULT_SERVER;
}

int api_init(struct cli_ctx *ctx)
{
	const char *server, *env;
	struct creds_set set = { NULL, 0, -1 };
	struct client *cl;
	long i;
	size_t n;
	int rc;

	env = getenv("CHAT_API_KEY");
	ctx->api_key = env && env[0] ? env : NULL;
	if (creds_default_path(ctx->creds_path, sizeof(ctx->creds_path)) < 0)
		ctx->creds_path[0] = '\0';
	if (ctx->creds_path[0]) {
		char dir[PATH_MAX];

		rc = creds_secure_dir(ctx->creds_path, dir, sizeof(dir));
		if (rc == 1) {
			cli_warn("'%s' was writable by others: made it 0700; "
				 "check the credentials in it", dir);
		} else if (rc < 0) {
			cli_warn("not using '%s': writable by others and not "
				 "yours to repair", dir);
			ctx->creds_path[0] = '\0';
		}
	}
	if (ctx->creds_path[0]) {
		rc = creds_set_load(ctx->creds_path, &set);
		if (rc < 0)
			cli_warn("ignoring unreadable credentials '%s': %s",
				 ctx->creds_path, chat_strerror(rc));
	}
	server = api_pick_server(ctx, &set);
	if (!server) {
		creds_set_release(&set);
		return CLI_USAGE;
	}
	n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	if (n >= sizeof(ctx->server)) {
		creds_set_release(&set);
		cli_error("server URL too long");
		return CLI_USAGE;
	}
	memcpy(ctx->server, server, n);
	ctx->server[n] = '\0';
	/* the login of this server, whichever is current */
	i = creds_set_find(&set, ctx->server);
	if (i >= 0) {
		ctx->creds = set.v[i];
		memset(&set.v[i], 0, sizeof(set.v[i]));
		ctx->creds_loaded = true;
	}
	creds_set_release(&set);
	if (!client_valid_server(ctx->server)) {
		cli_error("'%s' is not an http:// or https:// URL", server);
		return CLI_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error("cannot initialise libcurl");
		return CLI_SERVER;
	}
	cl = calloc(1, sizeof(*cl));
	rc = cl ? client_init(cl, ctx->server, "chatctl/" CHATCTL_VERSION) :
		  CHAT_ENOMEM;
	if (rc < 0) {
		free(cl);
		curl_global_cleanup();
		cli_error("%s", rc == CHAT_EINVAL ? "the server URL is not "
			  "usable" : "out of memory");
		return rc == CHAT_EINVAL ? CLI_USAGE : CLI_SERVER;
	}
	cl->cancel = api_cancel;
	ctx->curl = cl;
	return CLI_OK;
}

void api_release(struct cli_ctx *ctx)
{
	if (ctx->curl) {
		client_release(ctx->curl);
		free(ctx->curl);
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
		cli_error("not logged in to '%s' (run 'chatctl login')",
			  ctx->server);
		return CLI_AUTH;
	}
	if (strcmp(ctx->creds.server, ctx->server) != 0) {
		cli_error("not logged in to '%s' (run 'chatctl login "
			  "--server %s')", ctx->server, ctx->server);
		return CLI_AUTH;
	}
	return CLI_OK;
}

/* ---- transfers ---- */

static bool api_cancel(void *arg)
{
	(void)arg;
	return cli_interrupted != 0;
}

/* The exit status of a failed client call. */
static int api_exit_of(int rc, const struct client_res *r)
{
	if (rc == CHAT_ECANCELED && r->canceled)
		return CLI_INTERRUPTED;
	if (rc == CHAT_ECANCELED && r->data_rc)
		return r->data_rc < 0 ? CLI_SERVER : r->data_rc;
	if (rc == CHAT_ETOOBIG && !r->status)
		return CLI_USAGE;	/* the URL */
	if ((rc == CHAT_EAUTH || rc == CHAT_EUPSTREAM) && r->status &&
	    (r->status < 200 || r->status >= 300))
		return api_status_exit(r->status);
	return CLI_SERVER;
}

/* One call through the shared client, its answer moved into res. */
static int api_perform(struct cli_ctx *ctx, const struct api_req *req,
		       const char *token, struct api_res *res)
{
	struct client_req creq = {
		.method = req->method, .path = req->path, .json = req->json,
		.token = token, .idempotency_key = req->idempotency_key,
		.sse = (req->flags & API_SSE) != 0, .on_data = req->on_data,
		.arg = req->arg,
	};
	struct client_res cres;
	int rc = client_call(ctx->curl, &creq, &cres);

	memset(res, 0, sizeof(*res));
	res->status = cres.status;
	res->body = cres.body;
	res->json = cres.json;
	res->interrupted = cres.canceled;
	/* cres's code and message are arrays, always terminated */
	snprintf(res->code, sizeof(res->code), "%s", cres.code);
	/* on_data stopped the stream: it has said why */
	if (!(rc == CHAT_ECANCELED && cres.data_rc))
		snprintf(res->message, sizeof(res->message), "%s",
			 cres.message);
	return rc == 0 ? CLI_OK : api_exit_of(rc, &cres);
}

/* ---- credentials and refresh ---- */

/* Keeps a new login and makes its server the current one (like
 * kubectl's use-context), the other servers' logins kept; under the
 * lock of refreshes, as the file holds every server's login and each
 * change rewrites it whole. */
static int api_save(struct cli_ctx *ctx)
{
	int lock = creds_lock(ctx->creds_path), rc;

	rc = lock < 0 ? lock : creds_save(ctx->creds_path, &ctx->creds);
	if (rc == 0)
		rc = creds_use(ctx->creds_path, ctx->creds.server);
	creds_unlock(lock);
	if (rc < 0) {
		cli_error("cannot write '%s': %s", ctx->creds_path,
			  chat_strerror(rc));
		return CLI_SERVER;
	}
	return CLI_OK;
}

/* Refreshes the access token (the rules are shared/client.c's).  force:
 * the server refused the current one, so a fresher one is needed
 * whatever expires_at says. */
static int api_refresh(struct cli_ctx *ctx, bool force, bool quiet)
{
	struct client_res res;
	int rc, save_rc = 0;

	rc = client_refresh(ctx->curl, ctx->creds_path, &ctx->creds, force,
			    &res, &save_rc);
	if (rc == 0 && save_rc < 0) {
		cli_error("cannot write '%s': %s", ctx->creds_path,
			  chat_strerror(save_rc));
		rc = CLI_SERVER;
	} else if (rc == 0) {
		rc = CLI_OK;
	} else if (rc == CHAT_EIO) {
		cli_error("%s: %s", res.message, chat_strerror(rc));
		rc = CLI_SERVER;
	} else if (rc == CHAT_EPARSE) {
		cli_error("the server's token answer is malformed");
		rc = CLI_SERVER;
	} else if (rc == CHAT_EAUTH) {
		if (!quiet)
			cli_error("the session has ended (%s); log in again "
				  "with 'chatctl login'", res.code[0] ?
				  res.code : "unauthorized");
		rc = CLI_AUTH;
	} else {
		rc = api_exit_of(rc, &res);
		if (rc != CLI_INTERRUPTED && !quiet)
			cli_error("cannot refresh the access token: %s%s%s%s",
				  res.message, res.code[0] ? " (" : "",
				  res.code, res.code[0] ? ")" : "");
	}
	client_res_release(&res);
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
				if (client_expiring(&ctx->creds,
						    time(NULL))) {
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
	buf_init(&res->body, CLIENT_BODY_MAX);
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
	cJSON *body;
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
	ctx->creds_loaded = false;
	rc = client_take_login(&ctx->creds, ctx->server, username, res.json,
			       time(NULL));
	if (rc < 0) {
		cli_error(rc == CHAT_ENOMEM ? "out of memory" :
			  "the server's token answer is malformed");
		rc = CLI_SERVER;
		goto out;
	}
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
	api_res_release(&res);
	return rc;
}
