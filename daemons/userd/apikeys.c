/*
 * apikeys.c - API keys for scripts and OpenAI-compatible clients:
 * POST/GET /v1/apikeys, DELETE /v1/apikeys/{id}, and the gateway's
 * POST /internal/apikeys/verify.
 *
 * A key is "chat_" and 43 base64url characters (32 random bytes), shown
 * once at creation; only its SHA-256 is stored, so a stolen table gives
 * no usable key.  Revoking sets revoked_at; revoked keys are never
 * listed nor accepted.
 */
#include "userd.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define APIKEYS_PREFIX "chat_"
#define APIKEYS_LEN 48			/* "chat_" + 43 */
#define APIKEYS_SHOWN_PREFIX 12		/* characters kept for display */
#define APIKEYS_NAME_MAX 128
#define APIKEYS_MAX_PER_USER 100	/* live keys; the list needs no pages */
#define APIKEYS_TOUCH_MS 60000		/* last_used_at resolution */

void apikeys_handle_create(struct http_req *req, struct http_res *res)
{
	char key[APIKEYS_LEN + 8], hash[65], prefix[APIKEYS_SHOWN_PREFIX + 1];
	char id[UUID_STR_LEN];
	const char *name = NULL;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *body = NULL, *obj = NULL;
	int64_t now = now_ms();
	int rc;

	if (request_body(req, &body) < 0)
		goto out;
	if (request_string(req, body, "name", true, 1, APIKEYS_NAME_MAX,
			   "invalid_field", &name) < 0)
		goto out;
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
	if (rc == 0)
		rc = db_query(c,
			      "SELECT COUNT(*) FROM api_keys WHERE user_id = $1"
			      " AND revoked_at IS NULL",
			      (struct db_param[]){ db_p_text(req->user_id) }, 1,
			      &r);
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
			     " key_hash, created_at) VALUES ($1, $2, $3, $4,"
			     " $5, $6)",
			     (struct db_param[]){ db_p_text(id),
						  db_p_text(req->user_id),
						  db_p_text(name),
						  db_p_text(prefix),
						  db_p_text(hash),
						  DB_P_INT(now) },
			     6, NULL);
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
	    !json_add_time(obj, "created_at", now)) {
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

/* The list entry of row i (id, name, prefix, created_at, last_used_at). */
static cJSON *apikeys_row_json(const struct db_rows *r, size_t i)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "id", db_rows_get(r, i, 0)) ||
	    !cJSON_AddStringToObject(o, "name", db_rows_get(r, i, 1)) ||
	    !cJSON_AddStringToObject(o, "prefix", db_rows_get(r, i, 2)) ||
	    !json_add_time(o, "created_at", db_rows_int(r, i, 3, 0)) ||
	    !json_add_time(o, "last_used_at", db_rows_int(r, i, 4, 0))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void apikeys_handle_list(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *obj = NULL, *data;
	int rc;

	(void)res;
	if (request_db(req, &c) < 0)
		return;
	rc = db_query(c,
		      "SELECT id, name, prefix, created_at, last_used_at"
		      " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL"
		      " ORDER BY id DESC LIMIT $2",
		      (struct db_param[]){ db_p_text(req->user_id),
					   DB_P_INT(APIKEYS_MAX_PER_USER) },
		      2, &r);
	db_release(c);
	if (rc < 0) {
		request_fail(req, rc, "listing keys");
		goto out;
	}
	obj = cJSON_CreateObject();
	data = obj ? cJSON_AddArrayToObject(obj, "data") : NULL;
	if (!data || !cJSON_AddNullToObject(obj, "next_cursor"))
		goto nomem;
	for (size_t i = 0; i < db_rows_count(r); i++) {
		cJSON *item = apikeys_row_json(r, i);
		if (!item)
			goto nomem;
		cJSON_AddItemToArray(data, item);
	}
	http_res_json(req->res, 200, obj);
	obj = NULL;
	goto out;
nomem:
	request_fail(req, CHAT_ENOMEM, "building the list");
out:
	cJSON_Delete(obj);
	db_rows_free(r);
}

void apikeys_handle_delete(struct http_req *req, struct http_res *res)
{
	const char *id = http_req_param(req, "id");
	struct db_conn *c = NULL;
	int64_t changes = 0;
	int rc;

	if (!id || !uuid_valid(id)) {
		http_res_error(res, 404, "not_found", "no such API key");
		return;
	}
	if (request_db(req, &c) < 0)
		return;
	rc = db_exec(c,
		     "UPDATE api_keys SET revoked_at = $1 WHERE id = $2"
		     " AND user_id = $3 AND revoked_at IS NULL",
		     (struct db_param[]){ DB_P_INT(now_ms()), db_p_text(id),
					  db_p_text(req->user_id) },
		     3, &changes);
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
	http_res_send(res, 204, NULL, NULL, 0);
}

/* Answers the one refusal of verify, whatever the reason. */
static void apikeys_refuse(struct http_res *res)
{
	http_res_error(res, 401, "invalid_api_key", "the API key is not valid");
}

void apikeys_handle_verify(struct http_req *req, struct http_res *res)
{
	const char *key = NULL;
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	cJSON *body = NULL, *obj = NULL;
	char hash[65];
	int64_t now = now_ms();
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
		      " u.disabled FROM api_keys k JOIN users u"
		      " ON u.id = k.user_id"
		      " WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
		      (struct db_param[]){ db_p_text(hash) }, 1, &r);
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
	obj = cJSON_CreateObject();
	if (!obj ||
	    !cJSON_AddStringToObject(obj, "user_id", db_rows_get(r, 0, 1)) ||
	    !cJSON_AddStringToObject(obj, "role", db_rows_get(r, 0, 3)) ||
	    !cJSON_AddStringToObject(obj, "key_id", db_rows_get(r, 0, 0)) ||
	    !cJSON_AddNullToObject(obj, "session_id")) {
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
