/*
 * conversations.c - the REST handlers of conversations: create, list
 * (cursor pagination, search, archive filter), get (with the current
 * branch of the message tree, whole or its newest page), pages of a
 * branch ending at a given message, patch and delete.
 *
 * Every handler runs on the worker pool and may block on the store.
 * A conversation id that is malformed, unknown or another user's gives
 * the same 404: the three are never told apart.  Every field of a body is
 * checked before anything is written; unknown fields are ignored.
 */
#include "chatd.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "page.h"
#include "utf8.h"
#include "util.h"
#include "banned.h"

#define CONV_LIMIT_DEFAULT 20
#define CONV_LIMIT_MAX 100
/* Longest search text, in bytes. */
#define CONV_Q_MAX 1024
/* A cursor (page.h): "<updated_at>:<id>". */
#define CONV_CURSOR_RAW 64

/* A text field of a conversation: string or null, within limits. */
struct conv_field {
	const char *key;		/* name in the JSON body */
	size_t min;			/* shortest string, in bytes */
	size_t max;			/* longest string, in bytes */
	unsigned mask;			/* STORE_CONV_* */
	size_t offset;			/* of the char * in struct chat_conv */
};

static const struct conv_field conv_fields[] = {
	{ "title", 0, CHATD_TITLE_MAX, STORE_CONV_TITLE,
	  offsetof(struct chat_conv, title) },
	{ "model", 1, CHATD_MODEL_MAX, STORE_CONV_MODEL,
	  offsetof(struct chat_conv, model) },
	{ "system_prompt", 0, CHATD_SYSTEM_MAX, STORE_CONV_SYSTEM,
	  offsetof(struct chat_conv, system_prompt) },
};

#define CONV_NFIELDS (sizeof(conv_fields) / sizeof(conv_fields[0]))

/* ---- request plumbing ------------------------------------------------ */

/* The caller's user id (lowercase) or 401. */
static bool conv_caller(struct http_req *req, char uid[UUID_STR_LEN])
{
	if (uuid_norm(req->user_id, uid))
		return true;
	http_res_error(req->res, 401, "unauthorized",
		       "this route needs a signed-in user");
	return false;
}

/* The {id} of the path (lowercase) or 404. */
static bool conv_path_id(struct http_req *req, char id[UUID_STR_LEN])
{
	if (uuid_norm(http_req_param(req, "id"), id))
		return true;
	http_res_error(req->res, 404, "not_found", "no such conversation");
	return false;
}

/* The body as a JSON object or 400 "invalid_json" (then NULL).  An empty
 * body counts as {} when empty_ok. */
static cJSON *conv_body(struct http_req *req, bool empty_ok)
{
	cJSON *obj = NULL;

	if (empty_ok && req->body_len == 0) {
		obj = cJSON_CreateObject();
		if (!obj)
			http_res_chat_error(req->res, CHAT_ENOMEM,
					    "out of memory");
		return obj;
	}
	/* \u0000 refused too: a title would be stored cut short */
	return daemon_body(req, &obj) < 0 ? NULL : obj;
}

/* A store connection or 503 busy (then nonzero). */
static int conv_db(struct http_req *req, struct db_conn **out)
{
	return daemon_db(req, out);
}

/* Answers a failure of the store: 404 for CHAT_ENOTFOUND, 503 when busy,
 * else 500 (logged). */
static void conv_fail(struct http_req *req, int rc, const char *what)
{
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(req->res, 404, "not_found",
			       "no such conversation");
		return;
	}
	if (rc == CHAT_EBUSY || rc == CHAT_ETIMEDOUT) {
		log_warn("%s: %s", what, chat_strerror(rc));
		http_res_error(req->res, 503, "busy",
			       "the service is busy, try again");
		return;
	}
	log_error("%s: %s", what, chat_strerror(rc));
	http_res_error(req->res, 500, "internal", "internal error while %s",
		       what);
}

/* True when aid knows model (NULL: its default), else false after
 * answering 404 "model_not_found": a conversation is never stored with
 * a model that cannot answer. */
static bool conv_model_known(struct http_req *req, const char *model)
{
	struct model_check_who who = {
		.user_id = req->user_id,
		.role = req->role,
		.request_id = req->request_id,
	};

	if (model_check_known(req->app, &who, model) == 0)
		return true;
	http_res_error(req->res, 404, "model_not_found",
		       "model '%.128s' does not exist", model);
	return false;
}

/* Answers 200 or 201 with conv. */
static void conv_answer(struct http_res *res, int status,
			const struct chat_conv *conv)
{
	cJSON *o = chat_conv_json(conv);

	if (!o) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		return;
	}
	http_res_json(res, status, o);
}

/*
 * Reads text field f of body: 1 with *value (NULL to clear) when
 * present, 0 when absent, -1 after answering 400 "invalid_field".
 */
static int conv_read_field(struct http_req *req, const cJSON *body,
			   const struct conv_field *f, const char **value)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, f->key);
	size_t len;

	*value = NULL;
	if (!item)
		return 0;
	if (cJSON_IsNull(item))
		return 1;
	if (!cJSON_IsString(item) || !item->valuestring) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be a string or null", f->key);
		return -1;
	}
	len = strlen(item->valuestring);
	if (len < f->min) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must not be empty", f->key);
		return -1;
	}
	if (len > f->max) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be at most %zu bytes", f->key,
			       f->max);
		return -1;
	}
	*value = item->valuestring;
	return 1;
}

/*
 * Reads every text field of body into conv (copies, owned by conv) and
 * the mask of those present.  -1 after answering 400 (conv may hold some
 * copies: the caller releases it).
 */
static int conv_read_fields(struct http_req *req, const cJSON *body,
			    struct chat_conv *conv, unsigned *mask)
{
	size_t i;

	*mask = 0;
	for (i = 0; i < CONV_NFIELDS; i++) {
		const struct conv_field *f = &conv_fields[i];
		char **slot = (char **)((char *)conv + f->offset);
		const char *value = NULL;
		int got = conv_read_field(req, body, f, &value);

		if (got < 0)
			return -1;
		if (got == 0)
			continue;
		free(*slot);
		*slot = NULL;
		if (value) {
			*slot = strdup(value);
			if (!*slot) {
				http_res_chat_error(req->res, CHAT_ENOMEM,
						    "out of memory");
				return -1;
			}
		}
		*mask |= f->mask;
	}
	return 0;
}

/* ---- POST /v1/conversations ------------------------------------------ */

void conv_create_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	struct chat_conv conv = { 0 };
	struct db_conn *c = NULL;
	cJSON *body = NULL;
	unsigned mask;
	int rc;

	if (!conv_caller(req, conv.user_id))
		return;
	body = conv_body(req, true);
	if (!body)
		return;
	if (conv_read_fields(req, body, &conv, &mask) < 0 ||
	    !conv_model_known(req, conv.model))
		goto out;
	rc = uuid_v7(conv.id);
	if (rc < 0) {
		conv_fail(req, rc, "making a conversation id");
		goto out;
	}
	conv.created_at = conv.updated_at = now_ms();
	if (conv_db(req, &c) < 0)
		goto out;
	/* the row and its event commit together (one commit, as before) */
	rc = db_begin(c);
	if (rc == 0)
		rc = store_conv_insert(c, &cd->d, &conv);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);		/* rolls back a failed insert */
	if (rc < 0) {
		conv_fail(req, rc, "storing a conversation");
		goto out;
	}
	log_info("conversation '%s' created", conv.id);
	live_conversation_event(cd, conv.user_id, conv.id, &conv);
	conv_answer(res, 201, &conv);
out:
	cJSON_Delete(body);
	chat_conv_release(&conv);
}

/* ---- GET /v1/conversations ------------------------------------------- */

/* The cursor (page.h) of a page ending at conv: "<updated_at>:<id>".
 * *n is its length; CHAT_ETOOBIG when it would not fit. */
static int conv_cursor_make(const struct chat_conv *conv,
			    char out[CONV_CURSOR_RAW], size_t *n)
{
	int len = snprintf(out, CONV_CURSOR_RAW, "%" PRId64 ":%s",
			   conv->updated_at, conv->id);

	if (len < 0 || (size_t)len >= CONV_CURSOR_RAW)
		return CHAT_ETOOBIG;
	*n = (size_t)len;
	return 0;
}

/* page_parse's check: a cursor conv_cursor_make made, read into the
 * store_conv_filter arg's after_*. */
static bool conv_cursor_parse(struct page *p, void *arg)
{
	struct store_conv_filter *f = arg;
	char raw[PAGE_CURSOR_MAX + 1], *colon, *end = NULL;
	long long v;

	memcpy(raw, p->cursor, p->cursor_len + 1);
	colon = strchr(raw, ':');
	if (!colon || colon == raw || !isdigit((unsigned char)raw[0]))
		return false;
	*colon = '\0';
	errno = 0;
	v = strtoll(raw, &end, 10);
	if (errno || *end || v < 0)
		return false;
	if (!uuid_norm(colon + 1, f->after_id))
		return false;
	f->after = true;
	f->after_updated = v;
	return true;
}

/* Reads ?limit= ?cursor= ?q= ?archived= into f (q into qbuf); -1 after
 * answering 400 "invalid_field". */
static int conv_list_params(struct http_req *req, struct store_conv_filter *f,
			    char qbuf[CONV_Q_MAX + 1])
{
	char v[16], err[128];
	struct page pg;
	int rc;

	f->archived = 0;
	f->after = false;
	f->q = NULL;
	if (page_parse(req, CONV_LIMIT_DEFAULT, CONV_LIMIT_MAX,
		       conv_cursor_parse, f, &pg, err, sizeof(err)) < 0) {
		http_res_error(req->res, 400, "invalid_field", "%s", err);
		return -1;
	}
	f->limit = (size_t)pg.limit;
	rc = http_req_query(req, "archived", v, sizeof(v));
	if (rc == 0) {
		if (strcmp(v, "false") == 0)
			f->archived = 0;
		else if (strcmp(v, "true") == 0)
			f->archived = 1;
		else if (strcmp(v, "all") == 0)
			f->archived = -1;
		else
			rc = CHAT_EINVAL;
	}
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		http_res_error(req->res, 400, "invalid_field",
			       "'archived' must be false, true or all");
		return -1;
	}
	rc = http_req_query(req, "q", qbuf, CONV_Q_MAX + 1);
	if (rc == CHAT_ETOOBIG) {
		http_res_error(req->res, 400, "invalid_field",
			       "'q' must be at most %d bytes", CONV_Q_MAX);
		return -1;
	}
	if (rc == 0 && !utf8_valid(qbuf, strlen(qbuf))) {
		http_res_error(req->res, 400, "invalid_field",
			       "'q' must be valid UTF-8");
		return -1;
	}
	if (rc == 0 && qbuf[0])
		f->q = qbuf;
	return 0;
}

void conv_list_handler(struct http_req *req, struct http_res *res)
{
	struct store_conv_filter f = { 0 };
	struct chat_conv *v = NULL;
	struct db_conn *c = NULL;
	char uid[UUID_STR_LEN], qbuf[CONV_Q_MAX + 1];
	char cursor[CONV_CURSOR_RAW];
	cJSON *out = NULL, *data = NULL, *item;
	size_t i, n = 0, limit, cursor_len = 0;
	int rc;

	if (!conv_caller(req, uid))
		return;
	if (conv_list_params(req, &f, qbuf) < 0)
		return;
	f.user_id = uid;
	limit = f.limit;
	f.limit = limit + 1;	/* one more: does a page follow? */
	if (conv_db(req, &c) < 0)
		return;
	rc = store_conv_list(c, &f, &v, &n);
	db_release(c);
	if (rc < 0) {
		conv_fail(req, rc, "listing conversations");
		return;
	}
	data = cJSON_CreateArray();
	if (!data)
		goto oom;
	for (i = 0; i < n && i < limit; i++) {
		item = chat_conv_json(&v[i]);
		if (!item || !cJSON_AddItemToArray(data, item)) {
			cJSON_Delete(item);
			goto oom;
		}
	}
	if (n > limit &&
	    conv_cursor_make(&v[limit - 1], cursor, &cursor_len) < 0)
		goto oom;
	out = page_json(data, n > limit ? cursor : NULL, cursor_len);
	data = NULL;		/* page_json's, whatever it answered */
	if (!out)
		goto oom;
	http_res_json(res, 200, out);
	out = NULL;
	goto out;
oom:
	http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
out:
	cJSON_Delete(data);
	cJSON_Delete(out);
	chat_convs_free(v, n);
}

/* ---- GET /v1/conversations/{id} -------------------------------------- */

/* Messages of a page of a branch, at most. */
#define CONV_PAGE_MAX 1000
/* Of GET .../branch without ?limit=. */
#define CONV_PAGE_DEFAULT 100

/* Adds "messages" to o: the branch ending at end_id, root first, each
 * with "sibling_ids".  limit 0 is the whole branch; otherwise only its
 * newest limit messages and "messages_before", the parent of the oldest
 * one returned (null when that one is a root: the branch is complete). */
static int conv_add_branch(struct db_conn *c, const char *conv_id,
			   const char *end_id, size_t limit, cJSON *o)
{
	struct chat_msg *msgs = NULL;
	cJSON **sib = NULL, *arr, *m;
	size_t i, n = 0;
	int rc;

	if (limit == 0)
		rc = store_branch(c, conv_id, end_id, &msgs, &n);
	else
		rc = store_branch_page(c, conv_id, end_id, limit, &msgs, &n);
	if (rc < 0)
		return rc;
	if (n > 0) {
		sib = calloc(n, sizeof(*sib));
		if (!sib) {
			rc = CHAT_ENOMEM;
			goto out;
		}
		if (limit == 0)
			rc = store_branch_siblings(c, conv_id, end_id, msgs, n,
						   sib);
		else
			rc = store_page_siblings(c, conv_id, end_id, msgs, n,
						 sib);
		if (rc < 0)
			goto out;
	}
	rc = CHAT_ENOMEM;
	arr = cJSON_AddArrayToObject(o, "messages");
	if (!arr)
		goto out;
	for (i = 0; i < n; i++) {
		m = chat_msg_json(&msgs[i]);
		if (!m || !cJSON_AddItemToArray(arr, m)) {
			cJSON_Delete(m);
			goto out;
		}
		if (!cJSON_AddItemToObject(m, "sibling_ids", sib[i]))
			goto out;
		sib[i] = NULL;
	}
	if (limit > 0) {
		const char *before = n > 0 ? msgs[0].parent_id : NULL;

		m = before && *before ?
			cJSON_AddStringToObject(o, "messages_before", before) :
			cJSON_AddNullToObject(o, "messages_before");
		if (!m)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; sib && i < n; i++)
		cJSON_Delete(sib[i]);
	free(sib);
	chat_msgs_free(msgs, n);
	return rc;
}

/* ?name= as a page size from 1 to CONV_PAGE_MAX into *out (left alone
 * when absent); -1 after answering 400 "invalid_field". */
static int conv_page_param(struct http_req *req, const char *name,
			   size_t *out)
{
	char v[16], *end = NULL;
	long n = 0;
	int rc;

	rc = http_req_query(req, name, v, sizeof(v));
	if (rc == CHAT_ENOTFOUND)
		return 0;
	if (rc == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (!isdigit((unsigned char)v[0]) || *end || errno ||
		    n < 1 || n > CONV_PAGE_MAX)
			rc = CHAT_EINVAL;
	}
	if (rc < 0) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be an integer from 1 to %d", name,
			       CONV_PAGE_MAX);
		return -1;
	}
	*out = (size_t)n;
	return 0;
}

void conv_get_handler(struct http_req *req, struct http_res *res)
{
	struct chat_conv conv = { 0 };
	struct db_conn *c = NULL;
	char uid[UUID_STR_LEN], id[UUID_STR_LEN];
	cJSON *out = NULL;
	size_t limit = 0;		/* the whole branch */
	int rc;

	if (!conv_caller(req, uid) || !conv_path_id(req, id))
		return;
	if (conv_page_param(req, "messages", &limit) < 0)
		return;
	if (conv_db(req, &c) < 0)
		return;
	rc = store_conv_get(c, uid, id, &conv);
	if (rc == 0) {
		out = chat_conv_json(&conv);
		rc = out ? conv_add_branch(c, conv.id, conv.current_leaf_id,
					   limit, out) : CHAT_ENOMEM;
	}
	db_release(c);
	if (rc < 0) {
		cJSON_Delete(out);
		conv_fail(req, rc, "reading a conversation");
	} else {
		http_res_json(res, 200, out);
	}
	chat_conv_release(&conv);
}

/* ---- GET /v1/conversations/{id}/branch ------------------------------- */

/* ?before=MID (default the current leaf) &limit=N: MID and its nearest
 * ancestors, N at most, root first, and the cursor to the page before. */
void conv_branch_handler(struct http_req *req, struct http_res *res)
{
	struct chat_conv conv = { 0 };
	struct chat_msg msg = { 0 };
	struct db_conn *c = NULL;
	char uid[UUID_STR_LEN], id[UUID_STR_LEN], mid[UUID_STR_LEN];
	char v[UUID_STR_LEN + 8];
	const char *end_id;
	cJSON *out = NULL;
	size_t limit = CONV_PAGE_DEFAULT;
	bool before = false, msg_missing = false;
	int rc;

	if (!conv_caller(req, uid) || !conv_path_id(req, id))
		return;
	if (conv_page_param(req, "limit", &limit) < 0)
		return;
	rc = http_req_query(req, "before", v, sizeof(v));
	if (rc != CHAT_ENOTFOUND) {
		if (rc < 0 || !uuid_norm(v, mid)) {
			http_res_error(res, 404, "not_found",
				       "no such message");
			return;
		}
		before = true;
	}
	if (conv_db(req, &c) < 0)
		return;
	rc = store_conv_get(c, uid, id, &conv);
	end_id = conv.current_leaf_id;
	if (rc == 0 && before) {
		rc = store_msg_get(c, uid, conv.id, mid, &msg);
		msg_missing = rc == CHAT_ENOTFOUND;
		end_id = mid;
	}
	if (rc == 0) {
		out = cJSON_CreateObject();
		rc = out ? conv_add_branch(c, conv.id, end_id, limit, out) :
			   CHAT_ENOMEM;
	}
	db_release(c);
	if (msg_missing) {
		http_res_error(res, 404, "not_found", "no such message");
	} else if (rc < 0) {
		cJSON_Delete(out);
		conv_fail(req, rc, "reading a branch");
	} else {
		http_res_json(res, 200, out);
	}
	chat_msg_release(&msg);
	chat_conv_release(&conv);
}

/* ---- PATCH /v1/conversations/{id} ------------------------------------ */

/* The non-text fields of a patch: archived and current_leaf_id (its raw
 * string into *leaf).  -1 after answering 400. */
static int conv_read_flags(struct http_req *req, const cJSON *body,
			   struct chat_conv *conv, unsigned *mask,
			   const char **leaf)
{
	const cJSON *item;

	*leaf = NULL;
	item = cJSON_GetObjectItemCaseSensitive(body, "archived");
	if (item) {
		if (!cJSON_IsBool(item)) {
			http_res_error(req->res, 400, "invalid_field",
				       "'archived' must be a boolean");
			return -1;
		}
		conv->archived = cJSON_IsTrue(item);
		*mask |= STORE_CONV_ARCHIVED;
	}
	item = cJSON_GetObjectItemCaseSensitive(body, "current_leaf_id");
	if (item) {
		if (!cJSON_IsString(item) || !item->valuestring) {
			http_res_error(req->res, 400, "invalid_field",
				       "'current_leaf_id' must be a message"
				       " id");
			return -1;
		}
		*leaf = item->valuestring;
		*mask |= STORE_CONV_LEAF;
	}
	return 0;
}

/* Moves conv's leaf to the newest leaf under message leaf_in (of this
 * conversation and user); CHAT_ENOTFOUND when there is no such message. */
static int conv_resolve_leaf(struct db_conn *c, struct chat_conv *conv,
			     const char *leaf_in)
{
	struct chat_msg m;
	int rc;

	rc = store_msg_get(c, conv->user_id, conv->id, leaf_in, &m);
	if (rc < 0)
		return rc;
	rc = store_newest_leaf(c, conv->id, m.id, conv->current_leaf_id);
	chat_msg_release(&m);
	return rc;
}

static bool conv_same_text(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Writes the patch (store_conv_update) and, in the same transaction,
 * its events: chat.conversation.renamed when the title changed,
 * .archived or .unarchived when the flag did.  A patch that changes
 * neither (a model, a leaf) is no event.  What it changed is decided
 * against the row as locked in the transaction, not as read before it:
 * of two patches that archive at once, one changes the flag.
 */
static int conv_update(struct db_conn *c, const struct daemon *d,
		       struct chat_conv *conv, unsigned mask)
{
	struct chat_conv was = { 0 };
	int rc = db_begin(c);

	if (rc < 0)
		return rc;
	rc = store_conv_lock(c, conv->user_id, conv->id, &was);
	if (rc == 0)
		rc = store_conv_update(c, conv, mask, now_ms());
	if (rc == 0 && (mask & STORE_CONV_TITLE) &&
	    !conv_same_text(was.title, conv->title))
		rc = store_events_conv(c, d, "chat.conversation.renamed",
				       conv);
	if (rc == 0 && (mask & STORE_CONV_ARCHIVED) &&
	    was.archived != conv->archived)
		rc = store_events_conv(c, d, conv->archived ?
				       "chat.conversation.archived" :
				       "chat.conversation.unarchived", conv);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		db_rollback(c);
	chat_conv_release(&was);
	return rc;
}

void conv_patch_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	struct chat_conv conv = { 0 }, patch = { 0 };
	struct db_conn *c = NULL;
	char uid[UUID_STR_LEN], id[UUID_STR_LEN];
	const char *leaf = NULL;
	cJSON *body = NULL;
	unsigned mask = 0;
	size_t i;
	int rc;

	if (!conv_caller(req, uid) || !conv_path_id(req, id))
		return;
	body = conv_body(req, false);
	if (!body)
		return;
	if (conv_read_fields(req, body, &patch, &mask) < 0 ||
	    conv_read_flags(req, body, &patch, &mask, &leaf) < 0 ||
	    !conv_model_known(req, patch.model))
		goto out;
	if (conv_db(req, &c) < 0)
		goto out;
	rc = store_conv_get(c, uid, id, &conv);
	if (rc < 0) {
		conv_fail(req, rc, "reading a conversation");
		goto out;
	}
	if (mask == 0) {
		/* nothing to change: the conversation as stored */
		conv_answer(res, 200, &conv);
		goto out;
	}
	for (i = 0; i < CONV_NFIELDS; i++) {
		size_t off = conv_fields[i].offset;
		char **to = (char **)((char *)&conv + off);
		char **from = (char **)((char *)&patch + off);

		if (!(mask & conv_fields[i].mask))
			continue;
		free(*to);
		*to = *from;
		*from = NULL;
	}
	if (mask & STORE_CONV_ARCHIVED)
		conv.archived = patch.archived;
	if (leaf) {
		rc = conv_resolve_leaf(c, &conv, leaf);
		if (rc == CHAT_ENOTFOUND) {
			http_res_error(res, 404, "not_found",
				       "no such message");
			goto out;
		}
		if (rc < 0) {
			conv_fail(req, rc, "finding a leaf");
			goto out;
		}
	}
	rc = conv_update(c, &cd->d, &conv, mask);
	if (rc < 0) {
		conv_fail(req, rc, "updating a conversation");
		goto out;
	}
	db_release(c);
	c = NULL;
	live_conversation_event(cd, uid, conv.id, &conv);
	conv_answer(res, 200, &conv);
out:
	if (c)
		db_release(c);
	cJSON_Delete(body);
	chat_conv_release(&conv);
	chat_conv_release(&patch);
}

/* ---- DELETE /v1/conversations/{id} ----------------------------------- */

void conv_delete_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	struct chat_conv conv = { 0 };
	struct db_conn *c = NULL;
	char uid[UUID_STR_LEN], id[UUID_STR_LEN];
	int rc;

	if (!conv_caller(req, uid) || !conv_path_id(req, id))
		return;
	if (conv_db(req, &c) < 0)
		return;
	rc = store_conv_get(c, uid, id, &conv);
	chat_conv_release(&conv);
	/* no connection held while the generation stops: its last write
	 * may need one */
	db_release(c);
	c = NULL;
	if (rc < 0) {
		conv_fail(req, rc, "reading a conversation");
		return;
	}
	live_stop(cd, id);
	if (conv_db(req, &c) < 0)
		return;
	rc = store_conv_delete(c, &cd->d, uid, id);
	db_release(c);
	if (rc < 0) {
		conv_fail(req, rc, "deleting a conversation");
		return;
	}
	log_info("conversation '%s' deleted", id);
	live_conversation_event(cd, uid, id, NULL);
	http_res_json(res, 204, NULL);
}
