/*
 * send.c - the REST handlers that start and follow generations: send a
 * message, regenerate an answer, stop, and the events resume stream; the
 * Idempotency-Key of send and regenerate; and send_run, the one path
 * that checks, stores and starts a generation for REST and WebSocket
 * alike.
 *
 * Handlers run on the worker pool and may block on the store, but never
 * wait for a generation: the SSE form hands its answer to the hub, the
 * waiting 201 form hands it to the generation, which answers at its end.
 */
#include "live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "http-client.h"
#include "http-out.h"
#include "json.h"
#include "log.h"
#include "sse.h"
#include "utf8.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define SEND_IDEM_KEY_MAX 128
#define SEND_PREFS_TIMEOUT_MS 3000
#define SEND_PREFS_MAX (64 * 1024)

/* ---- small helpers ------------------------------------------------------ */

static void send_fail(struct send_result *r, int status, const char *code,
		      const char *msg)
{
	r->status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->message, sizeof(r->message), "%s", msg);
}

/* A store failure as an answer. */
static void send_fail_rc(struct send_result *r, int rc)
{
	if (rc == CHAT_EBUSY || rc == CHAT_ETIMEDOUT)
		send_fail(r, 503, "busy", "the store is busy, try again");
	else if (rc == CHAT_ENOMEM)
		send_fail(r, 500, "internal", "out of memory");
	else
		send_fail(r, 500, "internal", "the store failed");
}

/* A failed lookup as an answer: 404 with `missing` for CHAT_ENOTFOUND,
 * else as send_fail_rc. */
static void send_fail_lookup(struct send_result *r, int rc,
			     const char *missing)
{
	if (rc == CHAT_ENOTFOUND)
		send_fail(r, 404, "not_found", missing);
	else
		send_fail_rc(r, rc);
}

static bool send_header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/*
 * The caller's preferences from userd (default model, system prompt),
 * for what the conversation leaves open.  Blocking.  userd being down
 * is no reason to fail the answer: both stay NULL then.
 */
static void send_prefs(struct chatd *cd, const struct send_args *a,
		       char **model, char **system)
{
	char url[256], h_int[128], h_uid[128], h_role[64], h_rid[192];
	const char *headers[6];
	struct http_request hr = { 0 };
	const cJSON *prefs, *v;
	cJSON *root = NULL;
	struct buf body;
	int status = 0, n = 0, rc;

	*model = *system = NULL;
	buf_init(&body, SEND_PREFS_MAX);
	snprintf(url, sizeof(url), "%s/v1/users/me", cd->userd_url);
	snprintf(h_int, sizeof(h_int), "%s: %s", HTTP_H_INTERNAL,
		 cd->d.internal_secret);
	headers[n++] = h_int;
	snprintf(h_uid, sizeof(h_uid), "%s: %s", HTTP_H_USER_ID, a->user_id);
	headers[n++] = h_uid;
	snprintf(h_role, sizeof(h_role), "%s: %s", HTTP_H_ROLE,
		 a->role && send_header_safe(a->role) && strlen(a->role) < 32 ?
		 a->role : "user");
	headers[n++] = h_role;
	if (a->request_id && send_header_safe(a->request_id) &&
	    (size_t)snprintf(h_rid, sizeof(h_rid), "%s: %s",
			     HTTP_H_REQUEST_ID, a->request_id) < sizeof(h_rid))
		headers[n++] = h_rid;
	headers[n] = NULL;
	hr.method = "GET";
	hr.url = url;
	hr.headers = headers;
	hr.timeout_ms = SEND_PREFS_TIMEOUT_MS;
	hr.max_response = SEND_PREFS_MAX;
	rc = http_out_fetch(cd->d.out, &hr, &status, &body);
	if (rc < 0 || status != 200) {
		log_warn("cannot read the preferences of '%s' (%s, status %d)",
			 a->user_id, chat_strerror(rc), status);
		goto out;
	}
	root = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
	prefs = cJSON_GetObjectItemCaseSensitive(root, "preferences");
	v = cJSON_GetObjectItemCaseSensitive(prefs, "default_model");
	if (cJSON_IsString(v) && *v->valuestring)
		*model = strdup(v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(prefs, "system_prompt");
	if (cJSON_IsString(v) && *v->valuestring)
		*system = strdup(v->valuestring);
out:
	cJSON_Delete(root);
	buf_release(&body);
}

/* A message row with the counters unknown. */
static void send_msg_init(struct chat_msg *m, const struct chat_conv *conv,
			  const char *user_id, const char *parent_id,
			  const char *role, int64_t now)
{
	memset(m, 0, sizeof(*m));
	uuid_v7(m->id);
	snprintf(m->conversation_id, sizeof(m->conversation_id), "%s",
		 conv->id);
	snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
	snprintf(m->parent_id, sizeof(m->parent_id), "%s",
		 parent_id ? parent_id : "");
	snprintf(m->role, sizeof(m->role), "%s", role);
	m->prompt_tokens = m->completion_tokens = -1;
	m->ttft_ms = m->latency_ms = -1;
	m->created_at = m->updated_at = now;
}

/* ---- send_run ------------------------------------------------------- */

int send_parse_body(const cJSON *body, bool regenerate, struct send_args *a,
		    char *err, size_t errlen)
{
	const cJSON *parent;
	const char *s = NULL;
	int rc;

	a->model = NULL;
	rc = json_get_string(body, "model", false, 1, CHATD_MODEL_MAX, &s, err,
			     errlen);
	if (rc == 0)
		a->model = s;
	else if (rc == CHAT_EINVAL && cJSON_IsNull(
			 cJSON_GetObjectItemCaseSensitive(body, "model")))
		rc = 0;
	else if (rc != CHAT_ENOTFOUND)
		return CHAT_EINVAL;
	if (regenerate)
		return 0;

	rc = json_get_string(body, "content", true, 1, CHATD_CONTENT_MAX,
			     &a->content, err, errlen);
	if (rc < 0)
		return CHAT_EINVAL;
	if (!utf8_valid(a->content, strlen(a->content))) {
		chat_errf(err, errlen, "'content' must be valid UTF-8");
		return CHAT_EINVAL;
	}
	parent = cJSON_GetObjectItemCaseSensitive(body, "parent_id");
	a->has_parent = parent != NULL;
	a->parent_id = NULL;
	if (cJSON_IsString(parent)) {
		a->parent_id = parent->valuestring;
	} else if (parent && !cJSON_IsNull(parent)) {
		chat_errf(err, errlen, "'parent_id' must be a string or null");
		return CHAT_EINVAL;
	}
	return 0;
}

int send_run(const struct send_args *a, struct send_result *r)
{
	struct chatd *cd = a->cd;
	struct chat_conv conv = { 0 };
	struct chat_msg target = { 0 }, answered = { 0 }, user_msg = { 0 };
	struct chat_msg asst = { 0 };
	struct chat_msg *hist = NULL;
	struct gen_spec spec = { 0 };
	struct db_conn *c = NULL;
	struct live_gen *g = NULL;
	struct model_check_who who = {
		.user_id = a->user_id,
		.role = a->role,
		.request_id = a->request_id,
	};
	char *pref_model = NULL, *pref_system = NULL;
	const char *model, *system, *parent = NULL;
	size_t nhist = 0;
	bool new_user_msg = !a->regenerate;
	int64_t now;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc < 0) {
		send_fail_rc(r, rc);
		goto out;
	}
	rc = store_conv_get(c, a->user_id, a->conv_id, &conv);
	if (rc < 0) {
		send_fail_lookup(r, rc, "no such conversation");
		goto out;
	}

	if (a->regenerate) {
		rc = store_msg_get(c, a->user_id, conv.id, a->message_id,
				   &target);
		if (rc == 0 && strcmp(target.role, "assistant") == 0) {
			/* a new sibling: answer the same user message */
			if (!target.parent_id[0]) {
				send_fail(r, 400, "invalid_field",
					  "this answer has no question");
				rc = CHAT_EINVAL;
				goto out;
			}
			rc = store_msg_get(c, a->user_id, conv.id,
					   target.parent_id, &answered);
		} else if (rc == 0) {
			answered = target;
			memset(&target, 0, sizeof(target));
		}
		if (rc < 0) {
			send_fail_lookup(r, rc, "no such message");
			goto out;
		}
	} else if (!a->has_parent) {
		parent = conv.current_leaf_id[0] ? conv.current_leaf_id : NULL;
	} else if (a->parent_id) {
		rc = store_msg_get(c, a->user_id, conv.id, a->parent_id,
				   &target);
		if (rc < 0) {
			send_fail_lookup(r, rc, "no such message");
			goto out;
		}
		parent = target.id;
	}

	/* what the conversation leaves open comes from the user's profile;
	 * no store connection is held across that call, nor across the
	 * question to aid: is the model that will answer one it knows?
	 * An unknown one is refused before anything is stored */
	db_release(c);
	c = NULL;
	model = a->model ? a->model : conv.model;
	system = conv.system_prompt;
	if (!model || !system) {
		send_prefs(cd, a, &pref_model, &pref_system);
		if (!model)
			model = pref_model;
		if (!system)
			system = pref_system;
	}
	rc = model_check_known(cd, &who, model);
	if (rc < 0) {
		char why[192];

		snprintf(why, sizeof(why), "model '%.128s' does not exist",
			 model);
		send_fail(r, 404, "model_not_found", why);
		goto out;
	}
	rc = db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc < 0) {
		send_fail_rc(r, rc);
		goto out;
	}

	rc = live_gen_reserve(cd, conv.id, &g);
	if (rc == CHAT_ECONFLICT) {
		send_fail(r, 409, "generation_in_progress",
			  "this conversation is answering already");
		goto out;
	} else if (rc == CHAT_EBUSY) {
		send_fail(r, 503, "unavailable", "chatd is stopping");
		goto out;
	} else if (rc < 0) {
		send_fail_rc(r, rc);
		goto out;
	}

	now = now_ms();
	if (new_user_msg) {
		send_msg_init(&user_msg, &conv, a->user_id, parent, "user",
			      now);
		user_msg.content = (char *)a->content;
		snprintf(user_msg.status, sizeof(user_msg.status), "%s",
			 MSG_COMPLETE);
	}
	send_msg_init(&asst, &conv, a->user_id,
		      new_user_msg ? user_msg.id : answered.id, "assistant",
		      now);
	asst.content = (char *)"";
	asst.model = (char *)model;
	snprintf(asst.status, sizeof(asst.status), "%s", MSG_STREAMING);
	/* the history: the branch down to the message answered (a new
	 * user message follows it, not stored yet: gen_start hands it to
	 * the writer) */
	rc = store_branch(c, conv.id, new_user_msg ? (parent ? parent : "") :
			  answered.id, &hist, &nhist);
	if (rc < 0) {
		send_fail_rc(r, rc);
		goto out;
	}
	db_release(c);
	c = NULL;

	spec.user_id = a->user_id;
	spec.role = a->role;
	spec.request_id = a->request_id;
	spec.conv = &conv;
	spec.user_msg = new_user_msg ? &user_msg : &answered;
	spec.new_user_msg = new_user_msg;
	spec.asst = &asst;
	spec.history = hist;
	spec.nhistory = nhist;
	spec.model = model;
	spec.system_prompt = system;
	spec.idem_key = a->idem_key;
	spec.waiter = a->waiter;
	spec.want_title = conv.title == NULL;
	spec.first_user_content = nhist > 0 ?
		(strcmp(hist[0].role, "user") == 0 ? hist[0].content : NULL) :
		spec.user_msg->content;
	live_gen_start(g, &spec, &r->message_event);
	g = NULL;
out:
	if (g)
		live_gen_cancel(cd, g);
	if (c)
		db_release(c);
	chat_msgs_free(hist, nhist);
	chat_conv_release(&conv);
	chat_msg_release(&target);
	chat_msg_release(&answered);
	free(pref_model);
	free(pref_system);
	return r->status ? (rc < 0 ? rc : CHAT_EINVAL) : 0;
}

/* ---- idempotency ------------------------------------------------------ */

/* The key of the request (NULL when none) or a 400 (then *bad). */
static const char *send_idem_key(struct http_req *req, bool *bad)
{
	const char *key = http_req_header(req, "Idempotency-Key");
	size_t n;

	*bad = false;
	if (!key)
		return NULL;
	n = strlen(key);
	if (n == 0 || n > SEND_IDEM_KEY_MAX || !send_header_safe(key) ||
	    strchr(key, ' ')) {
		*bad = true;
		return NULL;
	}
	return key;
}

/* SHA-256 of method, path and body: what a retry must repeat. */
static void send_request_hash(const struct http_req *req, char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char digest[crypto_hash_sha256_BYTES];
	size_t i;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)req->method,
				  strlen(req->method));
	crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)req->path,
				  strlen(req->path));
	crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
	if (req->body_len)
		crypto_hash_sha256_update(&st,
					  (const unsigned char *)req->body,
					  req->body_len);
	crypto_hash_sha256_final(&st, digest);
	for (i = 0; i < sizeof(digest); i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* True when a stored assistant message ended badly (error event, 502). */
static bool send_msg_failed(const cJSON *m)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "status");

	return !cJSON_IsString(st) ||
	       (strcmp(st->valuestring, MSG_COMPLETE) != 0 &&
		strcmp(st->valuestring, MSG_STOPPED) != 0);
}

/* Writes one SSE event with a fresh id into b. */
static int send_sse_event(struct chatd *cd, struct buf *b, const char *type,
			  const cJSON *data)
{
	char id[24], *text = json_print(data);
	int rc;

	if (!text)
		return CHAT_ENOMEM;
	snprintf(id, sizeof(id), "%" PRIu64, hub_next_id(live_hub(cd)));
	rc = sse_format(b, id, type, text, strlen(text));
	free(text);
	return rc;
}

/* Answers a retry from the stored result of its first request. */
static void send_idem_replay(struct http_req *req, bool sse, int status,
			     char *stored)
{
	struct chatd *cd = req->app;
	cJSON *root = cJSON_Parse(stored), *um, *am, *ev = NULL;
	const cJSON *err;
	struct buf b;
	int rc;

	um = cJSON_GetObjectItemCaseSensitive(root, "user_message");
	am = cJSON_GetObjectItemCaseSensitive(root, "assistant_message");
	if (!cJSON_IsObject(um) || !cJSON_IsObject(am)) {
		http_res_error(req->res, 500, "internal",
			       "the stored answer is unreadable");
		goto out;
	}
	if (!sse) {
		if (send_msg_failed(am)) {
			err = cJSON_GetObjectItemCaseSensitive(am, "error");
			err = cJSON_GetObjectItemCaseSensitive(err, "message");
			http_res_error(req->res, 502, "upstream_error",
				       "the answer failed: %s",
				       cJSON_IsString(err) ? err->valuestring :
				       "unknown error");
		} else {
			http_res_send(req->res, status, "application/json",
				      stored, strlen(stored));
			stored = NULL;
		}
		goto out;
	}
	buf_init(&b, strlen(stored) * 2 + 4096);
	rc = send_sse_event(cd, &b, EV_MESSAGE, um);
	if (rc == 0 && send_msg_failed(am)) {
		ev = cJSON_CreateObject();
		err = cJSON_GetObjectItemCaseSensitive(am, "error");
		if (ev && cJSON_IsObject(err))
			cJSON_AddItemToObject(ev, "error",
					      cJSON_Duplicate(err, true));
		if (ev)
			cJSON_AddItemToObject(ev, "message",
					      cJSON_Duplicate(am, true));
		rc = ev ? send_sse_event(cd, &b, EV_ERROR, ev) : CHAT_ENOMEM;
	} else if (rc == 0) {
		rc = send_sse_event(cd, &b, EV_DONE, am);
	}
	if (rc < 0) {
		buf_release(&b);
		http_res_error(req->res, 500, "internal", "out of memory");
		goto out;
	}
	http_res_header(req->res, "Cache-Control", "no-cache");
	http_res_send(req->res, 200, "text/event-stream", b.data, b.len);
out:
	cJSON_Delete(ev);
	cJSON_Delete(root);
	free(stored);
}

/* ---- handlers ----------------------------------------------------------- */

/* True when the client asked for the SSE form. */
static bool send_wants_sse(struct http_req *req)
{
	const char *accept = http_req_header(req, "Accept");

	return accept && strstr(accept, "text/event-stream") != NULL;
}

/* Send and regenerate: the shared handler. */
static void send_handle(struct http_req *req, struct http_res *res,
			bool regenerate)
{
	struct chatd *cd = req->app;
	struct send_args a = { 0 };
	struct send_result r;
	struct db_conn *c = NULL;
	char uid[UUID_STR_LEN], cid[UUID_STR_LEN], mid[UUID_STR_LEN];
	char hash[65], err[192], *stored = NULL;
	cJSON *body = NULL;
	const char *key;
	bool sse = send_wants_sse(req), bad, claimed = false;
	int rc, status = 0;

	if (!uuid_norm(req->user_id, uid)) {
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return;
	}
	if (!uuid_norm(http_req_param(req, "id"), cid)) {
		http_res_error(res, 404, "not_found", "no such conversation");
		return;
	}
	if (regenerate && !uuid_norm(http_req_param(req, "mid"), mid)) {
		http_res_error(res, 404, "not_found", "no such message");
		return;
	}
	key = send_idem_key(req, &bad);
	if (bad) {
		http_res_error(res, 400, "invalid_field",
			       "'Idempotency-Key' must be 1 to %d visible"
			       " ASCII characters", SEND_IDEM_KEY_MAX);
		return;
	}
	if (regenerate && req->body_len == 0) {
		body = cJSON_CreateObject();
		if (!body) {
			http_res_error(res, 500, "internal", "out of memory");
			return;
		}
	} else if (json_parse_body(req->body, req->body_len, &body, err,
				   sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_json", "%s", err);
		return;
	}
	if (send_parse_body(body, regenerate, &a, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto out;
	}

	if (key) {
		send_request_hash(req, hash);
		rc = db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c);
		if (rc == 0)
			rc = store_idem_claim(c, uid, key, hash, now_ms(),
					      &status, &stored);
		if (c)
			db_release(c);
		c = NULL;
		if (rc == CHAT_EEXIST) {
			send_idem_replay(req, sse, status, stored);
			goto out;
		} else if (rc == CHAT_EBUSY) {
			http_res_error(res, 409, "idempotency_in_progress",
				       "a request with this key is running");
			goto out;
		} else if (rc == CHAT_ECONFLICT) {
			http_res_error(res, 422, "idempotency_key_reused",
				       "this key was used with another"
				       " request");
			goto out;
		} else if (rc == CHAT_ENOTFOUND) {
			/* its messages went with their conversation */
			http_res_error(res, 404, "not_found",
				       "no such conversation");
			goto out;
		} else if (rc < 0) {
			http_res_error(res, 503, "busy",
				       "the store is busy, try again");
			goto out;
		}
		claimed = true;
	}

	a.cd = cd;
	a.user_id = uid;
	a.role = req->role;
	a.request_id = req->request_id;
	a.conv_id = cid;
	a.regenerate = regenerate;
	a.message_id = regenerate ? mid : NULL;
	a.idem_key = key;
	a.waiter = sse ? NULL : res;
	rc = send_run(&a, &r);
	if (rc < 0) {
		if (claimed &&
		    db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c) == 0) {
			(void)store_idem_drop(c, uid, key);
			db_release(c);
		}
		http_res_error(res, r.status, r.code, "%s", r.message);
		goto out;
	}
	if (!sse)
		goto out;		/* the generation answers */
	http_res_header(res, "Cache-Control", "no-cache");
	http_res_begin(res, 200, "text/event-stream");
	rc = hub_sse_subscribe(live_hub(cd), uid, cid, r.message_event != 0,
			       r.message_event - 1, res);
	if (rc < 0) {
		log_error("cannot follow the answer: %s", chat_strerror(rc));
		http_res_end(res);
	}
out:
	cJSON_Delete(body);
}

void send_message_handler(struct http_req *req, struct http_res *res)
{
	send_handle(req, res, false);
}

void send_regenerate_handler(struct http_req *req, struct http_res *res)
{
	send_handle(req, res, true);
}

/* The conversation of the path, checked against the caller: 0, or an
 * answer sent. */
static int send_owned_conv(struct http_req *req, char uid[UUID_STR_LEN],
			   char cid[UUID_STR_LEN])
{
	struct chatd *cd = req->app;
	struct chat_conv conv;
	struct db_conn *c = NULL;
	int rc;

	if (!uuid_norm(req->user_id, uid)) {
		http_res_error(req->res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return CHAT_EAUTH;
	}
	if (!uuid_norm(http_req_param(req, "id"), cid)) {
		http_res_error(req->res, 404, "not_found",
			       "no such conversation");
		return CHAT_ENOTFOUND;
	}
	rc = db_acquire(cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc < 0) {
		http_res_error(req->res, 503, "busy",
			       "the store is busy, try again");
		return rc;
	}
	rc = store_conv_get(c, uid, cid, &conv);
	db_release(c);
	if (rc == CHAT_ENOTFOUND)
		http_res_error(req->res, 404, "not_found",
			       "no such conversation");
	else if (rc < 0)
		http_res_error(req->res, 500, "internal", "the store failed");
	if (rc == 0)
		chat_conv_release(&conv);
	return rc;
}

void send_stop_handler(struct http_req *req, struct http_res *res)
{
	char uid[UUID_STR_LEN], cid[UUID_STR_LEN];

	if (send_owned_conv(req, uid, cid) < 0)
		return;
	live_stop_answer(req->app, cid, res);
}

void send_events_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	char uid[UUID_STR_LEN], cid[UUID_STR_LEN], q[32];
	const char *last = http_req_header(req, "Last-Event-ID");
	uint64_t after = 0;
	bool has_after = false;
	int rc;

	if (!last || !*last) {
		rc = http_req_query(req, "last_event_id", q, sizeof(q));
		if (rc == 0 && *q)
			last = q;
		else if (rc == CHAT_ENOTFOUND || rc == 0)
			last = NULL;
		else
			last = "?";	/* too long: refused below */
	}
	if (last) {
		if (hub_id_parse(last, &after) < 0) {
			http_res_error(res, 400, "invalid_field",
				       "'last_event_id' must be an event id");
			return;
		}
		has_after = true;
	}
	if (send_owned_conv(req, uid, cid) < 0)
		return;
	http_res_header(res, "Cache-Control", "no-cache");
	http_res_begin(res, 200, "text/event-stream");
	rc = hub_sse_subscribe(live_hub(cd), uid, cid, has_after, after, res);
	if (rc < 0) {
		log_error("cannot follow the events: %s", chat_strerror(rc));
		http_res_end(res);
	}
}
