/*
 * export.c - GET /internal/users/{id}/conversations (internal): every
 * conversation of a user with its whole message tree, for userd's
 * account export (the right of access); and GET
 * /v1/conversations/{id}/export, one of the caller's in the same form
 * (chatctl conv export; import.c takes it back).
 *
 * The answer is a JSON array of conversations (newest first), each the
 * public form plus "messages": every message of every branch, oldest
 * first, linked by parent_id.  It is written as text into one buffer
 * while the store is read in pages, so that memory holds the answer
 * and one page of rows, never a JSON tree of the whole account; the
 * answer has a ceiling (CHATD_EXPORT_MAX), past which the caller gets
 * 507 rather than a cut document.
 */
#include "chatd.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "uuid.h"
#include "banned.h"

/* The largest answer: userd's document is this plus a little. */
#define CHATD_EXPORT_MAX ((size_t)64 << 20)
/* Rows read per query. */
#define EXPORT_PAGE 200

/* Appends the JSON text of item (an object) to b; when open, without its
 * closing brace, so that the caller may add keys. */
static int export_append_json(struct buf *b, cJSON *item, bool open)
{
	char *text = cJSON_PrintUnformatted(item);
	size_t len;
	int rc;

	if (!text)
		return CHAT_ENOMEM;
	len = strlen(text);
	if (open && len > 0)
		len--;		/* the closing '}' */
	rc = buf_append(b, text, len);
	cJSON_free(text);
	return rc;
}

/* Appends conversation conv with every message of its tree to b. */
static int export_conv(struct db_conn *c, const char *user_id,
		       const struct chat_conv *conv, struct buf *b)
{
	char after[UUID_STR_LEN] = "";
	struct chat_msg *msgs = NULL;
	size_t n = 0, total = 0;
	cJSON *obj = chat_conv_json(conv);
	int rc;

	if (!obj)
		return CHAT_ENOMEM;
	rc = export_append_json(b, obj, true);
	cJSON_Delete(obj);
	if (rc == 0)
		rc = buf_puts(b, ",\"messages\":[");
	do {
		if (rc < 0)
			break;
		rc = store_export_msgs(c, user_id, conv->id, after,
				       EXPORT_PAGE, &msgs, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			obj = chat_msg_json(&msgs[i]);
			rc = obj ? 0 : CHAT_ENOMEM;
			if (rc == 0 && total++ > 0)
				rc = buf_puts(b, ",");
			if (rc == 0)
				rc = export_append_json(b, obj, false);
			cJSON_Delete(obj);
		}
		if (n > 0)
			memcpy(after, msgs[n - 1].id, sizeof(after));
		chat_msgs_free(msgs, n);
		msgs = NULL;
	} while (rc == 0 && n == EXPORT_PAGE);
	if (rc == 0)
		rc = buf_puts(b, "]}");
	return rc;
}

/* Writes the whole array of user_id's conversations into b. */
static int export_all(struct db_conn *c, const char *user_id,
		      struct buf *b)
{
	char before[UUID_STR_LEN] = "";
	struct chat_conv *convs = NULL;
	size_t n = 0, total = 0;
	int rc = buf_puts(b, "[");

	do {
		if (rc < 0)
			break;
		rc = store_export_convs(c, user_id, before, EXPORT_PAGE,
					&convs, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (total++ > 0)
				rc = buf_puts(b, ",");
			if (rc == 0)
				rc = export_conv(c, user_id, &convs[i], b);
		}
		if (n > 0)
			memcpy(before, convs[n - 1].id, sizeof(before));
		chat_convs_free(convs, n);
		convs = NULL;
	} while (rc == 0 && n == EXPORT_PAGE);
	if (rc == 0)
		rc = buf_puts(b, "]");
	return rc;
}

/* GET /v1/conversations/{id}/export: one conversation of the caller with
 * every message of its tree, the form POST /v1/conversations/import
 * takes back. */
void export_conversation_handler(struct http_req *req, struct http_res *res)
{
	struct chat_conv conv = { 0 };
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN], id[UUID_STR_LEN];
	struct buf b;
	char *body;
	size_t len = 0;
	int rc;

	buf_init(&b, CHATD_EXPORT_MAX);
	if (!uuid_norm(req->user_id, user_id)) {
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		goto out;
	}
	if (!uuid_norm(http_req_param(req, "id"), id)) {
		http_res_error(res, 404, "not_found", "no such conversation");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	rc = store_conv_get(c, user_id, id, &conv);
	if (rc == 0)
		rc = export_conv(c, user_id, &conv, &b);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such conversation");
		goto out;
	}
	if (rc == CHAT_ETOOBIG) {
		http_res_error(res, 507, "export_too_large",
			       "the conversation takes more than %zu MiB",
			       CHATD_EXPORT_MAX >> 20);
		goto out;
	}
	if (rc < 0) {
		log_warn("export of conversation '%s' failed: %s", id,
			 chat_strerror(rc));
		http_res_chat_error(res, rc, "cannot read the conversation");
		goto out;
	}
	body = buf_detach(&b, &len);
	http_res_send(res, 200, "application/json", body, len);
out:
	chat_conv_release(&conv);
	buf_release(&b);
}

/* GET /internal/users/{id}/conversations */
void export_conversations_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN];
	struct buf b;
	char *body;
	size_t len = 0;
	int rc;

	buf_init(&b, CHATD_EXPORT_MAX);
	if (!uuid_norm(http_req_param(req, "id"), user_id)) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (daemon_db(req, &c) < 0)
		goto out;
	rc = export_all(c, user_id, &b);
	db_release(c);
	if (rc == CHAT_ETOOBIG) {
		http_res_error(res, 507, "export_too_large",
			       "the conversations take more than %zu MiB",
			       CHATD_EXPORT_MAX >> 20);
		goto out;
	}
	if (rc < 0) {
		log_warn("export of user '%s' failed: %s", user_id,
			 chat_strerror(rc));
		http_res_chat_error(res, rc, "cannot read the conversations");
		goto out;
	}
	body = buf_detach(&b, &len);
	http_res_send(res, 200, "application/json", body, len);
out:
	buf_release(&b);
}
