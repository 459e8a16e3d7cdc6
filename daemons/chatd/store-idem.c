/*
 * store-idem.c - Idempotency-Key claims of send and regenerate in chatd's
 * store: a claim, the messages it stored (bound in the same transaction
 * as the question, so that a retry after a crash finds them), its
 * recorded answer, and the expiry of old keys.
 *
 * Every function blocks on the store: worker threads only.
 */
#include "chatd.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "banned.h"

/* Claims of a key that vanished between insert and read are retried. */
#define STORE_IDEM_TRIES 3

/* A row older than the keep time counts as absent: it is taken over. */
static const char sql_idem_claim[] =
	"INSERT INTO idempotency (user_id, key, request_hash, state, status,"
	" response, created_at) VALUES ($1, $2, $3, 'running', NULL, NULL, $4)"
	" ON CONFLICT (user_id, key) DO UPDATE SET"
	" request_hash = excluded.request_hash, state = 'running',"
	" status = NULL, response = NULL, created_at = excluded.created_at,"
	" conversation_id = NULL, user_message_id = NULL, message_id = NULL"
	" WHERE idempotency.created_at < $5";
static const char sql_idem_get[] =
	"SELECT request_hash, state, status, response, conversation_id,"
	" user_message_id, message_id FROM idempotency"
	" WHERE user_id = $1 AND key = $2";
static const char sql_idem_bind[] =
	"UPDATE idempotency SET conversation_id = $3, user_message_id = $4,"
	" message_id = $5 WHERE user_id = $1 AND key = $2"
	" AND state = 'running'";
static const char sql_idem_finish[] =
	"UPDATE idempotency SET state = 'done', status = $3, response = $4"
	" WHERE user_id = $1 AND key = $2";
static const char sql_idem_drop[] =
	"DELETE FROM idempotency WHERE user_id = $1 AND key = $2"
	" AND state = 'running'";
static const char sql_idem_cleanup[] =
	"DELETE FROM idempotency WHERE created_at < $1";

/* ---- idempotency ----------------------------------------------------- */

/* The answer of a claim whose process died after storing its messages:
 * {"user_message":..., "assistant_message":...} as they are stored now
 * (the form gen.c records for a finished one), into *out (caller's). */
static int idem_stored_answer(struct db_conn *c, const char *user_id,
			      const struct db_rows *r, char **out)
{
	struct chat_msg um = { 0 }, am = { 0 };
	cJSON *root = NULL, *uj = NULL, *aj = NULL;
	const char *conv = db_rows_get(r, 0, 4);
	int rc;

	*out = NULL;
	rc = store_msg_get(c, user_id, conv, db_rows_get(r, 0, 5), &um);
	if (rc == 0)
		rc = store_msg_get(c, user_id, conv, db_rows_get(r, 0, 6),
				   &am);
	if (rc < 0)
		goto out;
	root = cJSON_CreateObject();
	uj = chat_msg_json(&um);
	aj = chat_msg_json(&am);
	if (!root || !uj || !aj) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	if (!cJSON_AddItemToObject(root, "user_message", uj)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	uj = NULL;
	if (!cJSON_AddItemToObject(root, "assistant_message", aj)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	aj = NULL;
	*out = json_print(root);
	if (!*out)
		rc = CHAT_ENOMEM;
out:
	cJSON_Delete(uj);
	cJSON_Delete(aj);
	cJSON_Delete(root);
	chat_msg_release(&um);
	chat_msg_release(&am);
	return rc;
}

int store_idem_claim(struct db_conn *c, const char *user_id,
		     const char *key, const char *req_hash, int64_t now,
		     int *status, char **response)
{
	struct db_rows *r = NULL;
	struct db_param p[5];
	int64_t changes = 0;
	const char *hash, *state, *resp;
	int tries, rc = 0;

	*status = 0;
	*response = NULL;
	for (tries = 0; tries < STORE_IDEM_TRIES; tries++) {
		p[0] = db_p_text(user_id);
		p[1] = db_p_text(key);
		p[2] = db_p_text(req_hash);
		p[3] = DB_P_INT(now);
		p[4] = DB_P_INT(now - CHATD_IDEM_KEEP_MS);
		rc = db_exec(c, sql_idem_claim, p, 5, &changes);
		if (rc < 0 || changes > 0)
			return rc;
		rc = db_query(c, sql_idem_get, p, 2, &r);
		if (rc < 0)
			return rc;
		if (db_rows_count(r) > 0)
			break;
		/* dropped or cleaned up meanwhile: claim again */
		db_rows_free(r);
		r = NULL;
	}
	if (!r)
		return CHAT_EBUSY;
	hash = db_rows_get(r, 0, 0);
	state = db_rows_get(r, 0, 1);
	resp = db_rows_get(r, 0, 3);
	if (!hash || strcmp(hash, req_hash) != 0) {
		rc = CHAT_ECONFLICT;
	} else if (state && strcmp(state, "stored") == 0) {
		rc = idem_stored_answer(c, user_id, r, response);
		if (rc == 0) {
			*status = 201;
			rc = CHAT_EEXIST;
		}
	} else if (!state || strcmp(state, "done") != 0) {
		rc = CHAT_EBUSY;
	} else {
		*status = (int)db_rows_int(r, 0, 2, 0);
		*response = strdup(resp ? resp : "");
		rc = *response ? CHAT_EEXIST : CHAT_ENOMEM;
	}
	db_rows_free(r);
	return rc;
}

int store_idem_finish(struct db_conn *c, const char *user_id,
		      const char *key, int status, const char *response)
{
	struct db_param p[4];

	p[0] = db_p_text(user_id);
	p[1] = db_p_text(key);
	p[2] = DB_P_INT(status);
	p[3] = db_p_text(response ? response : "");
	return db_exec(c, sql_idem_finish, p, 4, NULL);
}

int store_idem_bind(struct db_conn *c, const char *user_id,
		    const char *key, const char *conv_id,
		    const char *user_msg_id, const char *asst_msg_id)
{
	struct db_param p[5];

	p[0] = db_p_text(user_id);
	p[1] = db_p_text(key);
	p[2] = db_p_text(conv_id);
	p[3] = db_p_text(user_msg_id);
	p[4] = db_p_text(asst_msg_id);
	return db_exec(c, sql_idem_bind, p, 5, NULL);
}

int store_idem_drop(struct db_conn *c, const char *user_id, const char *key)
{
	struct db_param p[2];

	p[0] = db_p_text(user_id);
	p[1] = db_p_text(key);
	return db_exec(c, sql_idem_drop, p, 2, NULL);
}

int store_idem_cleanup(struct db_conn *c, int64_t before)
{
	struct db_param p[1];
	int64_t n = 0;
	int rc;

	p[0] = DB_P_INT(before);
	rc = db_exec(c, sql_idem_cleanup, p, 1, &n);
	if (rc == 0 && n > 0)
		log_info("%lld idempotency keys expired", (long long)n);
	return rc;
}
