/*
 * ws.c - the /v1/ws WebSocket: every event of every conversation of the
 * caller, live, on each of the caller's connections (and only theirs),
 * and client frames that send, regenerate, stop, resume and ping.
 * ?last_event_id= replays what a client missed; ?ready=1 has the hub
 * send a "ready" event first, the socket's place in the log.
 *
 * The WebSocket callbacks run on the loop thread, which must never
 * block: ping and resume are answered there (the hub only queues bytes),
 * while send, regenerate and stop need the store and go to the worker
 * pool.  A connection is reference-counted: the connection itself until
 * on_close, and each frame job in flight; the last one drops the
 * WebSocket and frees it.
 */
#include "live.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "uuid.h"
#include "banned.h"

struct ws_conn {
	struct chatd *cd;
	struct http_ws *ws;		/* the owner's reference */
	struct hub_sub *sub;		/* loop thread; NULL once closed */
	char user_id[UUID_STR_LEN];
	char role[16];
	atomic_int refs;
};

/* A frame for the worker pool. */
struct ws_job {
	struct ws_conn *conn;		/* holds a reference */
	cJSON *frame;			/* owned */
	char request_id[40];
};

/* ---- connection lifetime -------------------------------------------- */

static void ws_conn_unref(struct ws_conn *conn)
{
	if (atomic_fetch_sub(&conn->refs, 1) != 1)
		return;
	http_ws_release(conn->ws);
	free(conn);
}

/* ---- answers ----------------------------------------------------------- */

/* Sends a JSON frame (taken over).  Any thread. */
static void ws_send_json(struct ws_conn *conn, cJSON *frame)
{
	char *text = frame ? json_print(frame) : NULL;

	cJSON_Delete(frame);
	if (!text) {
		log_error("no memory for a WebSocket frame");
		return;
	}
	/* a failure closes the connection, which is all there is to do */
	(void)http_ws_send(conn->ws, text, strlen(text), false);
	free(text);
}

/* {"type":"error","ref":ref,"data":{"error":{"code","message"}}}. */
static void ws_send_error(struct ws_conn *conn, const cJSON *ref,
			  const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ws_send_error(struct ws_conn *conn, const cJSON *ref,
			  const char *code, const char *fmt, ...)
{
	cJSON *frame = cJSON_CreateObject(), *data, *err;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!frame)
		return;
	cJSON_AddStringToObject(frame, "type", "error");
	cJSON_AddItemToObject(frame, "ref", ref ? cJSON_Duplicate(ref, true) :
			      cJSON_CreateNull());
	data = cJSON_AddObjectToObject(frame, "data");
	err = data ? cJSON_AddObjectToObject(data, "error") : NULL;
	if (err) {
		cJSON_AddStringToObject(err, "code", code);
		cJSON_AddStringToObject(err, "message", msg);
	}
	ws_send_json(conn, frame);
}

/* ---- frames on the worker pool --------------------------------------- */

/* A required id field: the string, or NULL with the error frame sent. */
static const char *ws_id_field(struct ws_conn *conn, const cJSON *frame,
			       const cJSON *ref, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(frame, key);

	if (!cJSON_IsString(v)) {
		ws_send_error(conn, ref, "invalid_field",
			      "'%s' must be a string", key);
		return NULL;
	}
	return v->valuestring;
}

static void ws_do_send(struct ws_conn *conn, const cJSON *frame,
		       const cJSON *ref, bool regenerate,
		       const char *request_id)
{
	struct send_args a = { 0 };
	struct send_result r;
	char err[192];

	a.conv_id = ws_id_field(conn, frame, ref, "conversation_id");
	if (!a.conv_id)
		return;
	if (regenerate) {
		a.message_id = ws_id_field(conn, frame, ref, "message_id");
		if (!a.message_id)
			return;
	}
	if (send_parse_body(frame, regenerate, &a, err, sizeof(err)) < 0) {
		ws_send_error(conn, ref, "invalid_field", "%s", err);
		return;
	}
	a.cd = conn->cd;
	a.user_id = conn->user_id;
	a.role = conn->role;
	a.request_id = request_id;
	a.regenerate = regenerate;
	if (send_run(&a, &r) < 0)
		ws_send_error(conn, ref, r.code, "%s", r.message);
}

static void ws_do_stop(struct ws_conn *conn, const cJSON *frame,
		       const cJSON *ref)
{
	struct chat_conv conv;
	struct db_conn *c = NULL;
	const char *id;
	int rc;

	id = ws_id_field(conn, frame, ref, "conversation_id");
	if (!id)
		return;
	rc = db_acquire(conn->cd->d.db, CHATD_DB_WAIT_MS, &c);
	if (rc < 0) {
		ws_send_error(conn, ref, "busy", "the store is busy");
		return;
	}
	rc = store_conv_get(c, conn->user_id, id, &conv);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		ws_send_error(conn, ref, "not_found", "no such conversation");
		return;
	} else if (rc < 0) {
		ws_send_error(conn, ref, "internal", "the store failed");
		return;
	}
	live_stop(conn->cd, conv.id);
	chat_conv_release(&conv);
}

static void ws_job_run(void *arg)
{
	struct ws_job *job = arg;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(job->frame,
							     "type");
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(job->frame, "ref");

	log_set_request_id(job->request_id);
	if (strcmp(type->valuestring, "send") == 0)
		ws_do_send(job->conn, job->frame, ref, false, job->request_id);
	else if (strcmp(type->valuestring, "regenerate") == 0)
		ws_do_send(job->conn, job->frame, ref, true, job->request_id);
	else
		ws_do_stop(job->conn, job->frame, ref);
	log_set_request_id(NULL);
	cJSON_Delete(job->frame);
	ws_conn_unref(job->conn);
	free(job);
}

/* ---- frames on the loop thread ---------------------------------------- */

static void ws_do_ping(struct ws_conn *conn, const cJSON *ref)
{
	cJSON *frame = cJSON_CreateObject();

	if (!frame)
		return;
	cJSON_AddStringToObject(frame, "type", "pong");
	cJSON_AddItemToObject(frame, "ref", ref ? cJSON_Duplicate(ref, true) :
			      cJSON_CreateNull());
	ws_send_json(conn, frame);
}

static void ws_do_resume(struct ws_conn *conn, const cJSON *frame,
			 const cJSON *ref)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(frame,
							  "last_event_id");
	uint64_t after;

	if (!cJSON_IsString(v) || hub_id_parse(v->valuestring, &after) < 0) {
		ws_send_error(conn, ref, "invalid_field",
			      "'last_event_id' must be an event id string");
		return;
	}
	if (conn->sub)
		hub_ws_resume(live_hub(conn->cd), conn->sub, after);
}

/* Hands a frame to the pool (frame taken over). */
static void ws_queue(struct ws_conn *conn, cJSON *frame, const cJSON *ref)
{
	struct ws_job *job = calloc(1, sizeof(*job));
	int rc;

	if (!job) {
		ws_send_error(conn, ref, "internal", "out of memory");
		cJSON_Delete(frame);
		return;
	}
	job->conn = conn;
	job->frame = frame;
	uuid_v7(job->request_id);
	atomic_fetch_add(&conn->refs, 1);
	rc = pool_submit(conn->cd->d.pool, ws_job_run, job);
	if (rc < 0) {
		ws_send_error(conn, ref, "busy", "too busy, try again");
		atomic_fetch_sub(&conn->refs, 1);
		cJSON_Delete(frame);
		free(job);
	}
}

static void ws_on_open(void *arg, struct http_ws *ws)
{
	(void)arg;
	(void)ws;
}

static void ws_on_message(void *arg, struct http_ws *ws, const char *data,
			  size_t len, bool binary)
{
	struct ws_conn *conn = arg;
	const cJSON *type, *ref;
	cJSON *frame = NULL;
	char err[160];

	(void)ws;
	if (binary) {
		ws_send_error(conn, NULL, "invalid_json",
			      "frames must be JSON text");
		return;
	}
	/* the REST bodies' rules: a send's text with \u0000 would be cut
	 * short there, and a duplicated key read two ways */
	if (json_parse_body(data, len, &frame, err, sizeof(err)) < 0) {
		ws_send_error(conn, NULL, "invalid_json", "%s", err);
		return;
	}
	type = cJSON_GetObjectItemCaseSensitive(frame, "type");
	ref = cJSON_GetObjectItemCaseSensitive(frame, "ref");
	if (!cJSON_IsString(type)) {
		ws_send_error(conn, ref, "invalid_field",
			      "'type' must be a string");
	} else if (strcmp(type->valuestring, "ping") == 0) {
		ws_do_ping(conn, ref);
	} else if (strcmp(type->valuestring, "resume") == 0) {
		ws_do_resume(conn, frame, ref);
	} else if (strcmp(type->valuestring, "send") == 0 ||
		   strcmp(type->valuestring, "regenerate") == 0 ||
		   strcmp(type->valuestring, "stop") == 0) {
		ws_queue(conn, frame, ref);
		return;
	} else {
		ws_send_error(conn, ref, "invalid_field",
			      "unknown frame type '%.40s'",
			      type->valuestring);
	}
	cJSON_Delete(frame);
}

static void ws_on_close(void *arg, struct http_ws *ws, int code)
{
	struct ws_conn *conn = arg;

	(void)ws;
	(void)code;
	/* at exit the hub goes first and took its subscriptions along */
	if (conn->cd->live)
		hub_ws_unsubscribe(live_hub(conn->cd), conn->sub);
	conn->sub = NULL;
	ws_conn_unref(conn);
}

static const struct http_ws_ops ws_ops = {
	.on_open = ws_on_open,
	.on_message = ws_on_message,
	.on_close = ws_on_close,
};

/* ---- the route ---------------------------------------------------------- */

void ws_open_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	struct ws_conn *conn;
	char q[32];
	uint64_t after = 0;
	bool has_after = false, ready = false;
	int rc;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		http_res_error(res, 503, "busy", "out of memory");
		return;
	}
	if (!uuid_norm(req->user_id, conn->user_id)) {
		free(conn);
		http_res_error(res, 401, "unauthorized",
			       "this route needs a signed-in user");
		return;
	}
	rc = http_req_query(req, "last_event_id", q, sizeof(q));
	if (rc == 0 && *q) {
		if (hub_id_parse(q, &after) < 0) {
			free(conn);
			http_res_error(res, 400, "invalid_field",
				       "'last_event_id' must be an event id");
			return;
		}
		has_after = true;
	} else if (rc < 0 && rc != CHAT_ENOTFOUND) {
		free(conn);
		http_res_error(res, 400, "invalid_field",
			       "'last_event_id' must be an event id");
		return;
	}
	/* ?ready=1: a "ready" event tells the socket its place in the log */
	rc = http_req_query(req, "ready", q, sizeof(q));
	if (rc == 0 && strcmp(q, "1") == 0) {
		ready = true;
	} else if (rc != CHAT_ENOTFOUND) {
		free(conn);
		http_res_error(res, 400, "invalid_field", "'ready' must be 1");
		return;
	}
	conn->cd = cd;
	snprintf(conn->role, sizeof(conn->role), "%s",
		 req->role ? req->role : "");
	atomic_init(&conn->refs, 1);
	rc = http_ws_accept(req, &ws_ops, conn, &conn->ws);
	if (rc < 0) {
		free(conn);		/* the client left: no callbacks */
		return;
	}
	rc = hub_ws_subscribe(live_hub(cd), conn->user_id, has_after, after,
			      ready, conn->ws, &conn->sub);
	if (rc < 0) {
		log_error("cannot subscribe a WebSocket: %s",
			  chat_strerror(rc));
		http_ws_close(conn->ws, HTTP_WS_INTERNAL, "internal");
	}
}
