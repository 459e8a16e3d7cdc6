/*
 * import.c - POST /v1/conversations/import: a new conversation of the
 * caller made from a whole message tree, in the form of the export
 * (GET /v1/conversations/{id}/export): {"title", "system_prompt",
 * "archived", "current_leaf_id", "messages": [{"id", "parent_id",
 * "role", "content", "model", "status"}, ...]}.  chatctl converts other
 * tools' exports (ChatGPT's conversations.json) into this form.
 *
 * The ids of the input only link the messages: every message gets a new
 * id, in the order of the array, so siblings keep their order.  A parent
 * must come before its children (the export lists oldest first), which
 * also rules out cycles.  Everything is checked before anything is
 * written, and the rows go in one transaction: bad input, or a failure
 * half-way, leaves the store as it was.  The conversation's model is not
 * taken (it may not exist on this server: the default answers next);
 * each answer keeps the model that wrote it.
 */
#include "chatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define IMPORT_MSGS_MAX 10000
#define IMPORT_ID_MAX 128	/* an input id, only a link */

/* A message of the input, checked: pointers into the body's JSON. */
struct import_msg {
	const char *in_id;
	long parent;			/* index in the array, -1: a root */
	const char *role;
	const char *content;
	const char *model;		/* NULL when none */
	const char *status;
};

/* The statuses an imported answer may have; a "streaming" one (an
 * export taken during a generation) becomes interrupted. */
static const struct {
	const char *in, *stored;
} import_statuses[] = {
	{ MSG_COMPLETE, MSG_COMPLETE },	{ MSG_STOPPED, MSG_STOPPED },
	{ MSG_ERROR, MSG_ERROR },	{ MSG_TRUNCATED, MSG_TRUNCATED },
	{ MSG_INTERRUPTED, MSG_INTERRUPTED },
	{ MSG_STREAMING, MSG_INTERRUPTED },
};

/* Answers 400 invalid_field about message i; returns -1. */
static int import_bad(struct http_req *req, long i, const char *why)
{
	if (i < 0)
		http_res_error(req->res, 400, "invalid_field", "%s", why);
	else
		http_res_error(req->res, 400, "invalid_field",
			       "messages[%ld]: %s", i, why);
	return -1;
}

/* An optional string field: 0 absent or null (*out NULL), 1 a string of
 * at most max bytes, -1 after answering 400. */
static int import_str(struct http_req *req, const cJSON *obj,
		      const char *key, size_t max, long i, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char why[128];

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
		snprintf(why, sizeof(why), "'%s' must be a string of at most "
			 "%zu bytes", key, max);
		return import_bad(req, i, why);
	}
	*out = v->valuestring;
	return 1;
}

/* Checks message i (item) against the ones before it into *m. */
static int import_check_msg(struct http_req *req, const cJSON *item,
			    long i, const struct import_msg *before,
			    struct import_msg *m)
{
	const char *parent, *status;
	size_t k;
	long j;
	int rc;

	memset(m, 0, sizeof(*m));
	m->parent = -1;
	if (!cJSON_IsObject(item))
		return import_bad(req, i, "must be an object");
	rc = import_str(req, item, "id", IMPORT_ID_MAX, i, &m->in_id);
	if (rc <= 0)	/* -1: answered already */
		return rc < 0 ? -1 : import_bad(req, i, "'id' is missing");
	for (j = 0; j < i; j++)
		if (strcmp(before[j].in_id, m->in_id) == 0)
			return import_bad(req, i, "'id' appears twice");
	if (import_str(req, item, "parent_id", IMPORT_ID_MAX, i, &parent) < 0)
		return -1;
	if (parent) {
		/* the nearest earlier one: parents come first */
		for (j = i - 1; j >= 0 && m->parent < 0; j--)
			if (strcmp(before[j].in_id, parent) == 0)
				m->parent = j;
		if (m->parent < 0)
			return import_bad(req, i, "'parent_id' names no "
					  "earlier message");
	}
	if (import_str(req, item, "role", 16, i, &m->role) < 0)
		return -1;
	if (!m->role || (strcmp(m->role, "user") != 0 &&
			 strcmp(m->role, "assistant") != 0))
		return import_bad(req, i, "'role' must be user or assistant");
	rc = import_str(req, item, "content", CHATD_CONTENT_MAX, i,
			&m->content);
	if (rc <= 0)
		return rc < 0 ? -1 :
			import_bad(req, i, "'content' must be a string");
	if (import_str(req, item, "model", CHATD_MODEL_MAX, i, &m->model) < 0)
		return -1;
	if (import_str(req, item, "status", 16, i, &status) < 0)
		return -1;
	m->status = MSG_COMPLETE;
	if (status) {
		for (k = 0; k < sizeof(import_statuses) /
				    sizeof(import_statuses[0]); k++)
			if (strcmp(status, import_statuses[k].in) == 0)
				break;
		if (k == sizeof(import_statuses) / sizeof(import_statuses[0]))
			return import_bad(req, i, "unknown 'status'");
		m->status = import_statuses[k].stored;
	}
	return 0;
}

/* Checks the whole body into conv's fields and msgs (n of them) and the
 * index of the wanted leaf; -1 after answering 400. */
static int import_check(struct http_req *req, const cJSON *body,
			struct chat_conv *conv, struct import_msg **msgs,
			long *n, long *leaf)
{
	const cJSON *arr, *item, *archived;
	const char *title, *system, *leaf_in;
	long i = 0, j;

	*msgs = NULL;
	*n = 0;
	*leaf = -1;
	if (import_str(req, body, "title", CHATD_TITLE_MAX, -1, &title) < 0 ||
	    import_str(req, body, "system_prompt", CHATD_SYSTEM_MAX, -1,
		       &system) < 0 ||
	    import_str(req, body, "current_leaf_id", IMPORT_ID_MAX, -1,
		       &leaf_in) < 0)
		return -1;
	archived = cJSON_GetObjectItemCaseSensitive(body, "archived");
	if (archived && !cJSON_IsBool(archived) && !cJSON_IsNull(archived))
		return import_bad(req, -1, "'archived' must be a boolean");
	conv->archived = cJSON_IsTrue(archived);
	arr = cJSON_GetObjectItemCaseSensitive(body, "messages");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
	    cJSON_GetArraySize(arr) > IMPORT_MSGS_MAX) {
		http_res_error(req->res, 400, "invalid_field",
			       "'messages' must be an array of 1 to %d "
			       "messages", IMPORT_MSGS_MAX);
		return -1;
	}
	*msgs = calloc((size_t)cJSON_GetArraySize(arr), sizeof(**msgs));
	if (!*msgs) {
		http_res_chat_error(req->res, CHAT_ENOMEM, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(item, arr) {
		if (import_check_msg(req, item, i, *msgs, &(*msgs)[i]) < 0)
			return -1;
		i++;
	}
	*n = i;
	*leaf = i - 1;
	if (leaf_in) {
		for (j = 0, *leaf = -1; j < i && *leaf < 0; j++)
			if (strcmp((*msgs)[j].in_id, leaf_in) == 0)
				*leaf = j;
		if (*leaf < 0)
			return import_bad(req, -1, "'current_leaf_id' names no "
					  "message of 'messages'");
	}
	if ((title && !(conv->title = strdup(title))) ||
	    (system && !(conv->system_prompt = strdup(system)))) {
		http_res_chat_error(req->res, CHAT_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* Writes the conversation and its n messages in one transaction; new
 * ids into ids[i]; the leaf is moved to the newest leaf under msgs[leaf]
 * (the export's current leaf, or the last message). */
static int import_store(struct db_conn *c, const struct daemon *d,
			struct chat_conv *conv,
			const struct import_msg *msgs, long n, long leaf,
			char (*ids)[UUID_STR_LEN])
{
	struct chat_msg m;
	int64_t now = now_ms();
	long i;
	int rc;

	rc = db_begin(c);
	if (rc < 0)
		return rc;
	conv->created_at = conv->updated_at = now;
	rc = store_conv_insert(c, d, conv);
	for (i = 0; i < n && rc == 0; i++) {
		memset(&m, 0, sizeof(m));
		rc = uuid_v7(ids[i]);
		if (rc < 0)
			break;
		memcpy(m.id, ids[i], UUID_STR_LEN);
		memcpy(m.conversation_id, conv->id, UUID_STR_LEN);
		memcpy(m.user_id, conv->user_id, UUID_STR_LEN);
		if (msgs[i].parent >= 0)
			memcpy(m.parent_id, ids[msgs[i].parent], UUID_STR_LEN);
		snprintf(m.role, sizeof(m.role), "%s", msgs[i].role);
		snprintf(m.status, sizeof(m.status), "%s", msgs[i].status);
		m.content = (char *)msgs[i].content;	/* only read */
		m.model = (char *)msgs[i].model;
		m.prompt_tokens = m.completion_tokens = -1;
		m.ttft_ms = m.latency_ms = -1;
		m.created_at = m.updated_at = now;
		rc = store_msg_insert(c, d, &m);
	}
	if (rc == 0)
		rc = store_newest_leaf(c, conv->id, ids[leaf],
				       conv->current_leaf_id);
	if (rc == 0)
		rc = store_conv_set_leaf(c, conv->id, conv->current_leaf_id,
					 now);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		db_rollback(c);
	return rc;
}

/* POST /v1/conversations/import */
void import_conversation_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	struct chat_conv conv = { 0 };
	struct import_msg *msgs = NULL;
	char (*ids)[UUID_STR_LEN] = NULL;
	struct db_conn *c = NULL;
	cJSON *body = NULL, *out;
	long n = 0, leaf = -1;
	int rc;

	if (!uuid_norm(req->user_id, conv.user_id)) {
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return;
	}
	if (daemon_body(req, &body) < 0)
		return;
	if (!cJSON_IsObject(body)) {
		http_res_error(res, 400, "invalid_json",
			       "the body must be a JSON object");
		goto out;
	}
	if (import_check(req, body, &conv, &msgs, &n, &leaf) < 0)
		goto out;
	ids = calloc((size_t)n, sizeof(*ids));
	rc = ids ? uuid_v7(conv.id) : CHAT_ENOMEM;
	if (rc == 0)
		rc = daemon_db(req, &c) < 0 ? 1 : 0;
	if (rc == 1)
		goto out;	/* answered */
	if (rc == 0) {
		rc = import_store(c, &cd->d, &conv, msgs, n, leaf, ids);
		db_release(c);
	}
	if (rc < 0) {
		log_error("importing a conversation: %s", chat_strerror(rc));
		http_res_chat_error(res, rc, "cannot store the conversation");
		goto out;
	}
	log_info("conversation '%s' imported, %ld messages", conv.id, n);
	live_conversation_event(cd, conv.user_id, conv.id, &conv);
	out = chat_conv_json(&conv);
	if (!out || !cJSON_AddNumberToObject(out, "message_count",
					     (double)n)) {
		cJSON_Delete(out);
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 201, out);
out:
	free(ids);
	free(msgs);
	cJSON_Delete(body);
	chat_conv_release(&conv);
}
