/*
 * apikeys.c - API keys for scripts and OpenAI-compatible clients:
 * POST/GET /v1/apikeys, DELETE /v1/apikeys/{id}, and the gateway's
 * POST /internal/apikeys/verify.
 *
 * A key is "chat_" and 43 base64url characters (32 random bytes), shown
 * once at creation; only its SHA-256 is stored, so a stolen table gives
 * no usable key.  Revoking sets revoked_at; revoked keys are never
 * listed nor accepted.
 *
 * A key may be limited to some scopes ("chat", "read", "admin"; stored
 * as a comma list in table order, NULL for all three, which is what keys
 * made before scopes existed have) and may expire (expires_at, NULL for
 * never); an expired key is dead as a revoked one.  The gateway enforces
 * the scopes: verify only hands them over.  Keys are managed only from a
 * signed-in session (the routes are HTTP_ROUTE_SESSION in main.c), so a
 * leaked key cannot mint more keys.
 */
#include "userd.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "page.h"
#include "util.h"
#include "banned.h"

#define APIKEYS_PREFIX "chat_"
#define APIKEYS_LEN 48			/* "chat_" + 43 */
#define APIKEYS_SHOWN_PREFIX 12		/* characters kept for display */
#define APIKEYS_NAME_MAX 128
#define APIKEYS_MAX_PER_USER 100	/* live keys; the list needs no pages */
#define APIKEYS_TOUCH_MS 60000		/* last_used_at resolution */
#define APIKEYS_DAYS_MAX 3650		/* longest expires_in_days */
#define APIKEYS_DAY_MS 86400000LL
/* SQL: the key is not expired at the time parameter `now` */
#define APIKEYS_UNEXPIRED(now) "(expires_at IS NULL OR expires_at > " now ")"

/* The scopes a key may carry, as bits; the table order is the stored and
 * shown order.  "admin" needs the creator to be an admin. */
static const char *const apikeys_scope_names[] = { "chat", "read", "admin" };
#define APIKEYS_NSCOPES \
	(sizeof(apikeys_scope_names) / sizeof(apikeys_scope_names[0]))
#define APIKEYS_SCOPE_ADMIN (1u << 2)
#define APIKEYS_SCOPES_ALL ((1u << APIKEYS_NSCOPES) - 1)
/* "chat,read,admin" and its NUL */
#define APIKEYS_SCOPES_TEXT 32

/* The bit of scope name, 0 when unknown. */
static unsigned apikeys_scope_bit(const char *name)
{
	for (size_t i = 0; i < APIKEYS_NSCOPES; i++)
		if (strcmp(name, apikeys_scope_names[i]) == 0)
			return 1u << i;
	return 0;
}

/* The scopes of a stored comma list; NULL (a key made without scopes)
 * means all of them. */
static unsigned apikeys_scopes_parse(const char *text)
{
	char buf[APIKEYS_SCOPES_TEXT], *save = NULL, *tok;
	unsigned mask = 0;

	if (!text)
		return APIKEYS_SCOPES_ALL;
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		mask |= apikeys_scope_bit(tok);
	return mask;
}

/* The stored form of mask: names in table order, comma-separated. */
static void apikeys_scopes_text(unsigned mask, char out[APIKEYS_SCOPES_TEXT])
{
	size_t off = 0, room = APIKEYS_SCOPES_TEXT;

	out[0] = '\0';
	for (size_t i = 0; i < APIKEYS_NSCOPES; i++)
		if (mask & (1u << i))
			off += (size_t)snprintf(out + off, room - off, "%s%s",
						off ? "," : "",
						apikeys_scope_names[i]);
}

/* Adds "scopes": [names of mask, in table order] to obj. */
static bool apikeys_add_scopes(cJSON *obj, unsigned mask)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, "scopes");

	if (!arr)
		return false;
	for (size_t i = 0; i < APIKEYS_NSCOPES; i++) {
		cJSON *name;

		if (!(mask & (1u << i)))
			continue;
		name = cJSON_CreateString(apikeys_scope_names[i]);
		if (!name)
			return false;
		cJSON_AddItemToArray(arr, name);
	}
	return true;
}

/*
 * Reads the optional "scopes" of a create body into *mask (all scopes
 * when absent; *given says whether it was there): a non-empty array of
 * distinct known names.  Answers 400 invalid_field and returns -1 on
 * anything else.
 */
static int apikeys_read_scopes(struct http_req *req, const cJSON *body,
			       unsigned *mask, bool *given)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "scopes");
	const cJSON *item;

	*mask = APIKEYS_SCOPES_ALL;
	*given = arr != NULL;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
		http_res_error(req->res, 400, "invalid_field",
			       "'scopes' must be a non-empty array of "
			       "\"chat\", \"read\" and \"admin\"");
		return -1;
	}
	*mask = 0;
	cJSON_ArrayForEach(item, arr) {
		unsigned bit = cJSON_IsString(item) && item->valuestring
			? apikeys_scope_bit(item->valuestring) : 0;

		if (bit == 0) {
			http_res_error(req->res, 400, "invalid_field",
				       "'scopes' holds an unknown scope; known "
				       "are \"chat\", \"read\" and \"admin\"");
			return -1;
		}
		if (*mask & bit) {
			http_res_error(req->res, 400, "invalid_field",
				       "'scopes' names \"%s\" twice",
				       item->valuestring);
			return -1;
		}
		*mask |= bit;
	}
	return 0;
}

/*
 * Reads the optional "expires_in_days" (an integer, 1 to
 * APIKEYS_DAYS_MAX) into *expires_at, unix ms from now; 0 when absent
 * (never).  Answers 400 invalid_field and returns -1 on anything else.
 */
static int apikeys_read_expiry(struct http_req *req, const cJSON *body,
			       int64_t now, int64_t *expires_at)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body,
							  "expires_in_days");

	*expires_at = 0;
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < 1 || v->valuedouble > APIKEYS_DAYS_MAX) {
		http_res_error(req->res, 400, "invalid_field",
			       "'expires_in_days' must be an integer from 1 "
			       "to %d", APIKEYS_DAYS_MAX);
		return -1;
	}
	*expires_at = now + (int64_t)v->valuedouble * APIKEYS_DAY_MS;
	return 0;
}

/* True when user_id is, as the store has it now, an enabled admin: the
 * role in the caller's token may be older. */
static int apikeys_caller_is_admin(struct db_conn *c, const char *user_id,
				   bool *admin)
{
	struct db_rows *r = NULL;
	int rc;

	*admin = false;
	rc = db_query(c, "SELECT role, disabled FROM users WHERE id = $1",
		      (struct db_param[]){ db_p_text(user_id) }, 1, &r);
	if (rc == 0 && db_rows_count(r) == 1) {
		const char *role = db_rows_get(r, 0, 0);

		*admin = role && strcmp(role, "admin") == 0 &&
			 db_rows_int(r, 0, 1, 1) == 0;
	}
	db_rows_free(r);
	return rc;
}

void apikeys_handle_create(struct http_req *req, struct http_res *res)
{
	char key[APIKEYS_LEN + 8], hash[65], prefix[APIKEYS_SHOWN_PREFIX + 1];
	char id[UUID_STR_LEN], scopes[APIKEYS_SCOPES_TEXT];
	char subject[UUID_STR_LEN + 8];
	const char *name = NULL;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *body = NULL, *obj = NULL;
	int64_t now = now_ms(), expires_at = 0;
	unsigned mask;
	bool scopes_given, admin = true;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (request_string(req, body, "name", true, 1, APIKEYS_NAME_MAX,
			   "invalid_field", &name) < 0 ||
	    apikeys_read_scopes(req, body, &mask, &scopes_given) < 0 ||
	    apikeys_read_expiry(req, body, now, &expires_at) < 0)
		goto out;
	apikeys_scopes_text(mask, scopes);
	rc = crypto_random_token(APIKEYS_PREFIX, 32, key, sizeof(key));
	if (rc == 0)
		rc = uuid_v7(id);
	if (rc < 0) {
		request_fail(req, rc, "making a key");
		goto out;
	}
	crypto_sha256_hex(key, strlen(key), hash);
	memcpy(prefix, key, APIKEYS_SHOWN_PREFIX);
	prefix[APIKEYS_SHOWN_PREFIX] = '\0';

	if (request_db(req, &c) < 0)
		goto out;
	rc = db_begin(c);
	/* asked for explicitly, "admin" needs an admin now */
	if (rc == 0 && scopes_given && (mask & APIKEYS_SCOPE_ADMIN))
		rc = apikeys_caller_is_admin(c, req->user_id, &admin);
	if (rc == 0 && !admin) {
		db_rollback(c);
		http_res_error(res, 400, "invalid_field",
			       "only an admin may give a key the \"admin\" "
			       "scope");
		goto out;
	}
	if (rc == 0)
		rc = db_query(c,
			      "SELECT COUNT(*) FROM api_keys WHERE user_id = $1"
			      " AND revoked_at IS NULL AND "
			      APIKEYS_UNEXPIRED("$2"),
			      (struct db_param[]){ db_p_text(req->user_id),
						   DB_P_INT(now) },
			      2, &r);
	if (rc == 0 && db_rows_int(r, 0, 0, 0) >= APIKEYS_MAX_PER_USER) {
		db_rollback(c);
		http_res_error(res, 409, "too_many_keys",
			       "at most %d API keys per user; revoke one first",
			       APIKEYS_MAX_PER_USER);
		goto out;
	}
	if (rc == 0)
		rc = db_exec(c,
			     "INSERT INTO api_keys (id, user_id, name, prefix,"
			     " key_hash, created_at, scopes, expires_at)"
			     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			     (struct db_param[]){
				     db_p_text(id), db_p_text(req->user_id),
				     db_p_text(name), db_p_text(prefix),
				     db_p_text(hash), DB_P_INT(now),
				     db_p_text(scopes_given ? scopes : NULL),
				     expires_at ? DB_P_INT(expires_at)
						: DB_P_NULL },
			     8, NULL);
	snprintf(subject, sizeof(subject), "apikeys/%s", id);
	/* the name and the scopes; never the key nor its hash */
	if (rc == 0)
		rc = user_event(req->app, c, "chat.apikey.created",
				req->user_id, subject,
				(const char *const[]){
					"key_id", id, "name", name,
					"scopes", scopes_given ? scopes : NULL,
					NULL });
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		db_rollback(c);
		request_fail(req, rc, "storing a key");
		goto out;
	}
	obj = cJSON_CreateObject();
	if (!obj || !cJSON_AddStringToObject(obj, "id", id) ||
	    !cJSON_AddStringToObject(obj, "name", name) ||
	    !cJSON_AddStringToObject(obj, "key", key) ||
	    !cJSON_AddStringToObject(obj, "prefix", prefix) ||
	    !json_add_time(obj, "created_at", now) ||
	    !apikeys_add_scopes(obj, mask) ||
	    !json_add_time(obj, "expires_at", expires_at)) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	log_info("user '%s' made API key '%s'", req->user_id, id);
	http_res_json(res, 201, obj);
	obj = NULL;
out:
	sodium_memzero(key, sizeof(key));
	db_rows_free(r);
	if (c)
		db_release(c);
	cJSON_Delete(obj);
	cJSON_Delete(body);
}

cJSON *apikeys_row_json(const struct db_rows *r, size_t i)
{
	cJSON *o = cJSON_CreateObject();
	unsigned mask = apikeys_scopes_parse(db_rows_get(r, i, 5));

	if (!o || !cJSON_AddStringToObject(o, "id", db_rows_get(r, i, 0)) ||
	    !cJSON_AddStringToObject(o, "name", db_rows_get(r, i, 1)) ||
	    !cJSON_AddStringToObject(o, "prefix", db_rows_get(r, i, 2)) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 3, 0)) ||
	    !json_add_time(o, "last_used_at", db_rows_int(r, i, 4, 0)) ||
	    !apikeys_add_scopes(o, mask) ||
	    !json_add_time(o, "expires_at", db_rows_int(r, i, 6, 0))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void apikeys_handle_list(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *obj = NULL, *data = NULL;
	int rc;

	(void)res;
	if (request_db(req, &c) < 0)
		return;
	rc = db_query(c,
		      "SELECT id, name, prefix, created_at, last_used_at,"
		      " scopes, expires_at FROM api_keys WHERE user_id = $1"
		      " AND revoked_at IS NULL AND " APIKEYS_UNEXPIRED("$3")
		      " ORDER BY id DESC LIMIT $2",
		      (struct db_param[]){ db_p_text(req->user_id),
					   DB_P_INT(APIKEYS_MAX_PER_USER),
					   DB_P_INT(now_ms()) },
		      3, &r);
	db_release(c);
	if (rc < 0) {
		request_fail(req, rc, "listing keys");
		goto out;
	}
	data = cJSON_CreateArray();
	if (!data)
		goto nomem;
	for (size_t i = 0; i < db_rows_count(r); i++) {
		cJSON *item = apikeys_row_json(r, i);
		if (!item)
			goto nomem;
		cJSON_AddItemToArray(data, item);
	}
	/* at most APIKEYS_MAX_PER_USER keys: one page, no next cursor */
	obj = page_json(data, NULL, 0);
	data = NULL;		/* page_json's, whatever it answered */
	if (!obj)
		goto nomem;
	http_res_json(req->res, 200, obj);
	obj = NULL;
	goto out;
nomem:
	request_fail(req, CHAT_ENOMEM, "building the list");
out:
	cJSON_Delete(data);
	cJSON_Delete(obj);
	db_rows_free(r);
}

void apikeys_handle_delete(struct http_req *req, struct http_res *res)
{
	const char *id = http_req_param(req, "id");
	char subject[UUID_STR_LEN + 8];
	struct db_conn *c = NULL;
	int64_t changes = 0;
	int rc;

	if (!id || !uuid_valid(id)) {
		http_res_error(res, 404, "not_found", "no such API key");
		return;
	}
	if (request_db(req, &c) < 0)
		return;
	snprintf(subject, sizeof(subject), "apikeys/%s", id);
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c,
			     "UPDATE api_keys SET revoked_at = $1 WHERE id = $2"
			     " AND user_id = $3 AND revoked_at IS NULL",
			     (struct db_param[]){ DB_P_INT(now_ms()),
						  db_p_text(id),
						  db_p_text(req->user_id) },
			     3, &changes);
	if (rc == 0 && changes > 0)
		rc = user_event(req->app, c, "chat.apikey.revoked",
				req->user_id, subject,
				(const char *const[]){ "key_id", id,
						       "by", req->user_id,
						       NULL });
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
	db_release(c);
	if (rc < 0) {
		request_fail(req, rc, "revoking a key");
		return;
	}
	if (changes == 0) {
		http_res_error(res, 404, "not_found", "no such API key");
		return;
	}
	log_info("user '%s' revoked API key '%s'", req->user_id, id);
	/* the gateways hear of it through sessiond's revocation feed and
	 * close the key's connections; the key is refused here already,
	 * so a failure only delays that (their cache holds it 30 s) */
	if (sessions_revoke_key(req->app, req->request_id, id,
				req->user_id) < 0)
		log_warn("cannot tell the gateways that API key '%s' was "
			 "revoked", id);
	http_res_send(res, 204, NULL, NULL, 0);
}

/* Answers the one refusal of verify, whatever the reason. */
static void apikeys_refuse(struct http_res *res)
{
	http_res_error(res, 401, "invalid_api_key", "the API key is not valid");
}

void apikeys_handle_verify(struct http_req *req, struct http_res *res)
{
	const char *key = NULL, *expires;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *body = NULL, *obj = NULL;
	char hash[65];
	int64_t now = now_ms();
	unsigned mask;
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (request_string(req, body, "key", true, 0, SIZE_MAX,
			   "invalid_field", &key) < 0)
		goto out;
	if (strlen(key) != APIKEYS_LEN ||
	    strncmp(key, APIKEYS_PREFIX, strlen(APIKEYS_PREFIX)) != 0) {
		apikeys_refuse(res);
		goto out;
	}
	crypto_sha256_hex(key, strlen(key), hash);
	if (request_db(req, &c) < 0)
		goto out;
	rc = db_query(c,
		      "SELECT k.id, k.user_id, k.last_used_at, u.role,"
		      " u.disabled, k.scopes, k.expires_at FROM api_keys k"
		      " JOIN users u ON u.id = k.user_id"
		      " WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
		      " AND (k.expires_at IS NULL OR k.expires_at > $2)",
		      (struct db_param[]){ db_p_text(hash), DB_P_INT(now) }, 2,
		      &r);
	if (rc < 0) {
		request_fail(req, rc, "checking a key");
		goto out;
	}
	if (db_rows_count(r) == 0 || db_rows_int(r, 0, 4, 1) != 0) {
		apikeys_refuse(res);
		goto out;
	}
	if (now - db_rows_int(r, 0, 2, 0) >= APIKEYS_TOUCH_MS) {
		/* best effort: a failed touch must not fail the caller */
		rc = db_exec(c,
			     "UPDATE api_keys SET last_used_at = $1 WHERE id = $2"
			     " AND (last_used_at IS NULL OR last_used_at < $3)",
			     (struct db_param[]){ DB_P_INT(now),
						  db_p_text(db_rows_get(r, 0, 0)),
						  DB_P_INT(now - APIKEYS_TOUCH_MS) },
			     3, NULL);
		if (rc < 0)
			log_warn("cannot touch API key: %s", chat_strerror(rc));
	}
	/* the gateway reads scopes and expires_at (unix ms) from here */
	mask = apikeys_scopes_parse(db_rows_get(r, 0, 5));
	expires = db_rows_get(r, 0, 6);
	obj = cJSON_CreateObject();
	if (!obj ||
	    !cJSON_AddStringToObject(obj, "user_id", db_rows_get(r, 0, 1)) ||
	    !cJSON_AddStringToObject(obj, "role", db_rows_get(r, 0, 3)) ||
	    !cJSON_AddStringToObject(obj, "key_id", db_rows_get(r, 0, 0)) ||
	    !cJSON_AddNullToObject(obj, "session_id") ||
	    !apikeys_add_scopes(obj, mask) ||
	    !(expires ? cJSON_AddNumberToObject(obj, "expires_at",
					       (double)db_rows_int(r, 0, 6, 0))
		      : cJSON_AddNullToObject(obj, "expires_at"))) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_json(res, 200, obj);
	obj = NULL;
out:
	db_rows_free(r);
	if (c)
		db_release(c);
	cJSON_Delete(obj);
	cJSON_Delete(body);
}
