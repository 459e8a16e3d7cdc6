/*
 * auth.c - the Authorization header: who is calling.
 *
 *   none                    anonymous; the upstream route decides
 *   Bearer chat_...         an API key: userd POST /internal/apikeys/verify,
 *                           cached 30 s by the key's SHA-256 (flushed when
 *                           a key is revoked or a user changed, see proxy.c)
 *   Bearer <anything else>  an access token: verified locally (jwks.c),
 *                           cached until it expires by its SHA-256
 *   anything else           401 invalid_token
 *
 * The caller's done runs exactly once: before auth_check returns for
 * anonymous calls, cache hits and local verdicts; later, when userd had
 * to be asked (or the key set refetched), from the loop thread (gw->d.out)
 * or, for a userd URL http-loop.c cannot reach, the curl thread.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define API_KEY_PREFIX "chat_"
#define API_KEY_MAX 128			/* longer is not one of ours */
#define API_KEY_TTL_MS 30000
#define TOKEN_MAX 4096
#define VERIFY_MAX_BYTES 8192
#define VERIFY_TIMEOUT_MS 5000

/* How a refused credential is answered; reason labels the metric.  A bad
 * API key is an invalid bearer token like any other. */
static const struct {
	int status;
	const char *code;
	const char *reason;
	const char *message;
} auth_errors[GW_AUTH_NRESULTS] = {
	[GW_AUTH_OK] = { 200, "ok", "ok", "" },
	[GW_AUTH_INVALID_TOKEN] = { 401, "invalid_token", "invalid_token",
				    "the bearer token is not valid" },
	[GW_AUTH_EXPIRED] = { 401, "token_expired", "token_expired",
			      "the access token has expired" },
	[GW_AUTH_INVALID_KEY] = { 401, "invalid_token", "invalid_api_key",
				  "the API key is not valid" },
	[GW_AUTH_UNAVAILABLE] = { 503, "auth_unavailable", "auth_unavailable",
				  "credentials cannot be checked right now, "
				  "retry later" },
	[GW_AUTH_REVOKED] = { 401, "session_revoked", "session_revoked",
			      "the session of this token has ended" },
	[GW_AUTH_STALE] = { 503, "auth_unavailable", "revocations_stale",
			    "revocations cannot be checked right now, retry "
			    "later" },
	[GW_AUTH_SCOPE] = { 403, "insufficient_scope", "insufficient_scope",
			    "the API key's scopes do not allow this" },
};

/* The scope each kind of request needs: the first rule that matches. */
static const struct {
	const char *prefix;		/* NULL: any path */
	const char *method;		/* NULL: any method */
	unsigned scope;
} scope_rules[] = {
	{ "/v1/admin", NULL, GW_SCOPE_ADMIN },
	{ NULL, "GET", GW_SCOPE_READ },
	{ NULL, "HEAD", GW_SCOPE_READ },
	{ NULL, NULL, GW_SCOPE_CHAT },
};

/* Scope names in userd's key answers. */
static const struct {
	const char *name;
	unsigned scope;
} scope_names[] = {
	{ "chat", GW_SCOPE_CHAT },
	{ "read", GW_SCOPE_READ },
	{ "admin", GW_SCOPE_ADMIN },
};

/* A token check in flight (the key set may be refetched meanwhile). */
struct token_check {
	struct gatewayd *gw;
	auth_done_fn done;
	void *arg;
	char hash[65];
	uint64_t generation;
};

/* An API-key check in flight at userd. */
struct key_check {
	struct gatewayd *gw;
	auth_done_fn done;
	void *arg;
	char hash[65];
	uint64_t generation;		/* of the key cache at the start */
	int status;
	struct buf body;
};

/* ---- access tokens ---------------------------------------------------- */

static enum gw_auth_result token_result(int rc)
{
	if (rc == 0)
		return GW_AUTH_OK;
	if (rc == CHAT_EEXPIRED)
		return GW_AUTH_EXPIRED;
	if (rc == CHAT_EUPSTREAM || rc == CHAT_ENOMEM)
		return GW_AUTH_UNAVAILABLE;
	return GW_AUTH_INVALID_TOKEN;
}

static void token_verified(void *arg, int rc, const struct jwt_claims *cl)
{
	struct token_check *tc = arg;
	enum gw_auth_result r = token_result(rc);
	struct gw_identity id;

	if (r == GW_AUTH_OK && (!cl->sub[0] || strlen(cl->sub) >=
				sizeof(id.user_id)))
		r = GW_AUTH_INVALID_TOKEN;
	if (r != GW_AUTH_OK) {
		tc->done(tc->arg, r, NULL);
		free(tc);
		return;
	}
	memset(&id, 0, sizeof(id));
	snprintf(id.user_id, sizeof(id.user_id), "%s", cl->sub);
	snprintf(id.role, sizeof(id.role), "%s", cl->role);
	snprintf(id.session_id, sizeof(id.session_id), "%s", cl->sid);
	id.expires_ms = cl->exp * 1000;
	id.scopes = GW_SCOPE_ALL;
	cache_put(&tc->gw->tokens, tc->hash, &id, cl->exp * 1000,
		  tc->generation);
	tc->done(tc->arg, GW_AUTH_OK, &id);
	free(tc);
}

static void token_check(struct gatewayd *gw, const char *token,
			auth_done_fn done, void *arg)
{
	struct token_check *tc;
	struct gw_identity id;
	char hash[65];

	crypto_digest_hex(token, strlen(token), hash);
	if (cache_get(&gw->tokens, hash, now_ms(), &id)) {
		done(arg, GW_AUTH_OK, &id);
		return;
	}
	tc = malloc(sizeof(*tc));
	if (!tc) {
		done(arg, GW_AUTH_UNAVAILABLE, NULL);
		return;
	}
	tc->gw = gw;
	tc->done = done;
	tc->arg = arg;
	memcpy(tc->hash, hash, sizeof(hash));
	tc->generation = cache_generation(&gw->tokens);
	jwks_verify(gw, token, token_verified, tc);
}

/* ---- API keys ------------------------------------------------------------ */

static bool api_key_valid(const char *key)
{
	size_t n = strlen(key), i;

	if (n <= strlen(API_KEY_PREFIX) || n > API_KEY_MAX)
		return false;
	for (i = strlen(API_KEY_PREFIX); i < n; i++)
		if (!((key[i] >= 'A' && key[i] <= 'Z') ||
		      (key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= '0' && key[i] <= '9') ||
		      key[i] == '-' || key[i] == '_'))
			return false;
	return true;
}

static int key_on_head(void *arg, int status, const char *const *h, size_t n)
{
	struct key_check *kc = arg;

	(void)h;
	(void)n;
	kc->status = status;
	return 0;
}

static int key_on_data(void *arg, const char *data, size_t len)
{
	struct key_check *kc = arg;

	return buf_append(&kc->body, data, len) != 0;
}

/* "scopes": an array of names; absent means all.  Unknown names give
 * nothing (a newer userd's scope is not one this gateway grants). */
static int key_scopes(const cJSON *o, unsigned *out, char *err,
		      size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "scopes"), *it;
	size_t i;

	*out = 0;
	if (!arr || cJSON_IsNull(arr)) {
		*out = GW_SCOPE_ALL;
		return 0;
	}
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "'scopes' is not an array");
		return CHAT_EINVAL;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			continue;
		for (i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]);
		     i++)
			if (strcmp(it->valuestring, scope_names[i].name) == 0)
				*out |= scope_names[i].scope;
	}
	return 0;
}

/* userd's 200 answer: {"user_id","role","key_id","session_id":null,
 * "scopes":[...],"expires_at":MS|null}. */
static int key_parse(struct key_check *kc, struct gw_identity *id)
{
	const char *user_id = NULL, *role = NULL, *key_id = NULL;
	const cJSON *exp;
	unsigned scopes = 0;
	cJSON *o = NULL;
	char err[128];
	int rc;

	rc = json_parse_object(kc->body.data ? kc->body.data : "",
			       kc->body.len, &o, err, sizeof(err));
	if (rc == 0)
		rc = json_get_string(o, "user_id", true, 1,
				     sizeof(id->user_id) - 1, &user_id, err,
				     sizeof(err));
	if (rc == 0)
		rc = json_get_string(o, "role", true, 1, sizeof(id->role) - 1,
				     &role, err, sizeof(err));
	if (rc == 0)
		rc = json_get_string(o, "key_id", false, 1,
				     sizeof(id->key_id) - 1, &key_id, err,
				     sizeof(err));
	if (rc == 0)
		rc = key_scopes(o, &scopes, err, sizeof(err));
	exp = o ? cJSON_GetObjectItemCaseSensitive(o, "expires_at") : NULL;
	if (rc == 0 && exp && !cJSON_IsNull(exp) && !cJSON_IsNumber(exp)) {
		snprintf(err, sizeof(err), "'expires_at' is not a number");
		rc = CHAT_EINVAL;
	}
	if (rc == 0) {
		memset(id, 0, sizeof(*id));
		snprintf(id->user_id, sizeof(id->user_id), "%s", user_id);
		snprintf(id->role, sizeof(id->role), "%s", role);
		/* a key without an id could not be revoked by id: refuse */
		snprintf(id->key_id, sizeof(id->key_id), "%s",
			 key_id ? key_id : "-");
		id->scopes = scopes;
		if (cJSON_IsNumber(exp))
			id->expires_ms = (int64_t)exp->valuedouble;
	} else {
		log_warn("bad answer from '%s' to an API key check: %s",
			 kc->gw->userd->name, err);
	}
	cJSON_Delete(o);
	return rc;
}

static void key_on_done(void *arg, int rc)
{
	struct key_check *kc = arg;
	enum gw_auth_result r = GW_AUTH_UNAVAILABLE;
	struct gw_identity id;

	if (rc == 0 && kc->status == 200 && key_parse(kc, &id) == 0) {
		int64_t until = now_ms() + API_KEY_TTL_MS;

		if (id.expires_ms && id.expires_ms < until)
			until = id.expires_ms;
		cache_put(&kc->gw->keys, kc->hash, &id, until, kc->generation);
		r = GW_AUTH_OK;
	} else if (rc == 0 && kc->status == 401) {
		r = GW_AUTH_INVALID_KEY;
	} else {
		log_warn("cannot check an API key at '%s': %s (status %d)",
			 kc->gw->userd->name, chat_strerror(rc), kc->status);
	}
	kc->done(kc->arg, r, r == GW_AUTH_OK ? &id : NULL);
	buf_release(&kc->body);
	free(kc);
}

static void key_check(struct gatewayd *gw, const char *key,
		      const char *request_id, auth_done_fn done, void *arg)
{
	static const struct http_client_cb cb = {
		.on_head = key_on_head,
		.on_data = key_on_data,
		.on_done = key_on_done,
	};
	char url[GW_URL_MAX + 32], secret[128], rid[160], body[API_KEY_MAX + 16];
	const char *headers[] = { "Content-Type: application/json", secret,
				  rid, NULL };
	struct http_request req = {
		.method = "POST",
		.url = url,
		.headers = headers,
		.body = body,
		.timeout_ms = VERIFY_TIMEOUT_MS,
		.max_response = VERIFY_MAX_BYTES,
	};
	struct key_check *kc;
	struct gw_identity id;
	char hash[65];
	int n;

	if (!api_key_valid(key)) {
		done(arg, GW_AUTH_INVALID_KEY, NULL);
		return;
	}
	crypto_digest_hex(key, strlen(key), hash);
	if (cache_get(&gw->keys, hash, now_ms(), &id)) {
		done(arg, GW_AUTH_OK, &id);
		return;
	}
	kc = calloc(1, sizeof(*kc));
	if (!kc) {
		done(arg, GW_AUTH_UNAVAILABLE, NULL);
		return;
	}
	kc->gw = gw;
	kc->done = done;
	kc->arg = arg;
	memcpy(kc->hash, hash, sizeof(hash));
	kc->generation = cache_generation(&gw->keys);
	buf_init(&kc->body, VERIFY_MAX_BYTES);
	snprintf(url, sizeof(url), "%s/internal/apikeys/verify",
		 gw->userd->url);
	snprintf(secret, sizeof(secret), HTTP_H_INTERNAL ": %s",
		 gw->d.internal_secret);
	snprintf(rid, sizeof(rid), HTTP_H_REQUEST_ID ": %s", request_id);
	/* the key is [A-Za-z0-9_-] only: nothing to escape */
	n = snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key);
	req.body_len = (size_t)n;
	/* on_done may run within: kc is not touched after a 0 */
	if (http_out_start(gw->d.out, &req, &cb, kc) != 0) {
		buf_release(&kc->body);
		free(kc);
		done(arg, GW_AUTH_UNAVAILABLE, NULL);
	}
}

/* ---- public -------------------------------------------------------------- */

void auth_check(struct gatewayd *gw, const char *authorization,
		const char *request_id, auth_done_fn done, void *arg)
{
	const char *token;

	if (!authorization) {
		done(arg, GW_AUTH_OK, NULL);
		return;
	}
	if (strncasecmp(authorization, "Bearer ", 7) != 0) {
		done(arg, GW_AUTH_INVALID_TOKEN, NULL);
		return;
	}
	token = authorization + 7;
	while (*token == ' ')
		token++;
	if (!*token || strlen(token) > TOKEN_MAX) {
		done(arg, GW_AUTH_INVALID_TOKEN, NULL);
		return;
	}
	if (strncmp(token, API_KEY_PREFIX, strlen(API_KEY_PREFIX)) == 0)
		key_check(gw, token, request_id, done, arg);
	else
		token_check(gw, token, done, arg);
}

void auth_flush_keys(struct gatewayd *gw)
{
	cache_flush(&gw->keys);
}

unsigned scope_needed(const char *method, const char *path)
{
	size_t i, n = sizeof(scope_rules) / sizeof(scope_rules[0]);

	for (i = 0; i < n - 1; i++) {
		const char *p = scope_rules[i].prefix;

		if (p && !(strncmp(path, p, strlen(p)) == 0 &&
			   (path[strlen(p)] == '\0' ||
			    path[strlen(p)] == '/')))
			continue;
		if (scope_rules[i].method &&
		    strcmp(method, scope_rules[i].method) != 0)
			continue;
		break;
	}
	return scope_rules[i].scope;
}

bool route_sensitive(const char *method, const char *path)
{
	return scope_needed(method, path) != GW_SCOPE_READ;
}

enum gw_auth_result auth_admit(struct gatewayd *gw,
			       const struct gw_identity *id,
			       const char *method, const char *path)
{
	if (!id)
		return GW_AUTH_OK;	/* anonymous: the upstream decides */
	if (id->session_id[0] && revoke_session_revoked(gw, id->session_id))
		return GW_AUTH_REVOKED;
	if (id->key_id[0] && (revoke_key_revoked(gw, id->key_id) ||
			      (id->expires_ms && id->expires_ms <= now_ms())))
		return GW_AUTH_INVALID_KEY;
	if (route_sensitive(method, path) && !revoke_live(gw))
		return GW_AUTH_STALE;
	if (!(id->scopes & scope_needed(method, path)))
		return GW_AUTH_SCOPE;
	return GW_AUTH_OK;
}

int auth_respond(struct http_res *res, enum gw_auth_result r)
{
	if (r <= GW_AUTH_OK || r >= GW_AUTH_NRESULTS)
		r = GW_AUTH_UNAVAILABLE;
	if (auth_errors[r].status == 401)
		http_res_header(res, "WWW-Authenticate", "Bearer");
	if (auth_errors[r].status == 503)
		http_res_header(res, "Retry-After", "1");
	http_res_error(res, auth_errors[r].status, auth_errors[r].code, "%s",
		       auth_errors[r].message);
	return auth_errors[r].status;
}

int auth_error(enum gw_auth_result r, const char **code,
	       const char **message)
{
	if (r <= GW_AUTH_OK || r >= GW_AUTH_NRESULTS)
		r = GW_AUTH_UNAVAILABLE;
	*code = auth_errors[r].code;
	*message = auth_errors[r].message;
	return auth_errors[r].status;
}

const char *auth_result_reason(enum gw_auth_result r)
{
	return r < GW_AUTH_NRESULTS ? auth_errors[r].reason : "unknown";
}
