/*
 * internal.c - POST /internal/generate, the generation API of chatd.
 *
 * Request: {"model":null|str, "system_prompt":null|str,
 *   "messages":[{"role":"user"|"assistant","content":str}...],
 *   "max_tokens":opt int, "purpose":"chat"|"title", "conversation_id":opt,
 *   "message_id":opt}
 * (the two ids, UUIDs, are only told in the generation's events)
 * with X-Chat-User-Id set by the caller.  The prompt is trimmed to the
 * model's context window (engine_trim).  Errors before the answer begins
 * are the error envelope (404 model_not_found, 400 invalid_request, 503
 * upstream_unavailable...); after, a 200 text/event-stream of
 *   event: start  {"model"}
 *   event: delta  {"text"}
 *   event: done   {"model","finish_reason","usage":{...},"ttft_ms","latency_ms"}
 *   event: error  {"code","message"}
 * Closing the connection stops the generation.
 *
 * Coalescing: the first delta is written at once; text that comes
 * within aid.coalesce_ms of the last delta written waits (a loop timer)
 * and goes out as one delta with whatever joins it meanwhile, so a fast
 * upstream's tokens cross to chatd, and on from there, a few at a time
 * instead of one event each.  done and error write what waits first.
 *
 * The handler runs on the loop thread: it only parses and starts.  The
 * sink's calls run on the engine's thread of the moment (loop or curl)
 * and the flush timer on the loop, so the call's state is under a lock.
 * A timer cannot be cancelled: a call that ends with its timer armed
 * stays on a->ic_zombies until the timer fires (then it is freed), or
 * until internal_release after the loop stopped.
 */
#include "aid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define INTERNAL_MESSAGES_MAX 100000
#define INTERNAL_MAX_TOKENS 1000000
#define INTERNAL_EVENT_MAX ((size_t)8 << 20)
/* Waiting text past this is written without waiting for the timer (a
 * delta's JSON stays well under INTERNAL_EVENT_MAX). */
#define INTERNAL_PENDING_FLUSH ((size_t)64 * 1024)

struct internal_call {
	struct aid *a;
	struct http_res *res;
	pthread_mutex_t lock;		/* everything below */
	struct buf ev;			/* the event being written */
	struct buf pending;		/* text not written yet */
	bool sent;			/* a delta was written */
	int64_t last_ms;		/* mono_ms of the last delta written */
	bool timer;			/* a flush timer is armed */
	bool ended;			/* on_end ran: the timer frees ic */
	struct internal_call *zprev, *znext;	/* a->ic_zombies */
};

static int internal_send(struct internal_call *ic, const char *name,
			 const char *json, size_t len)
{
	int rc;

	buf_reset(&ic->ev);
	rc = buf_printf(&ic->ev, "event: %s\ndata: ", name);
	if (rc == 0)
		rc = buf_append(&ic->ev, json, len);
	if (rc == 0)
		rc = buf_append(&ic->ev, "\n\n", 2);
	if (rc == 0)
		rc = http_res_write(ic->res, ic->ev.data, ic->ev.len);
	return rc;
}

static void internal_send_json(struct internal_call *ic, const char *name,
			       cJSON *obj)
{
	char *text = obj ? json_print(obj) : NULL;

	if (text)
		internal_send(ic, name, text, strlen(text));
	free(text);
	cJSON_Delete(obj);
}

static void ic_start(void *arg, const char *model)
{
	struct internal_call *ic = arg;
	cJSON *o = cJSON_CreateObject();

	http_res_header(ic->res, "Cache-Control", "no-cache");
	if (http_res_begin(ic->res, 200, "text/event-stream") < 0) {
		cJSON_Delete(o);
		return;
	}
	cJSON_AddStringToObject(o, "model", model);
	internal_send_json(ic, "start", o);
}

static void ic_free(struct internal_call *ic)
{
	buf_release(&ic->ev);
	buf_release(&ic->pending);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}

/* Writes the waiting text as one delta (under ic->lock); nonzero when
 * the client is gone. */
static int ic_flush_locked(struct internal_call *ic)
{
	struct buf *b = &ic->ev;
	int rc;

	if (ic->pending.len == 0)
		return 0;
	buf_reset(b);
	rc = buf_puts(b, "event: delta\ndata: {\"text\":");
	if (rc == 0)
		rc = wire_json_string(b, ic->pending.data, ic->pending.len);
	if (rc == 0)
		rc = buf_puts(b, "}\n\n");
	if (rc == 0)
		rc = http_res_write(ic->res, b->data, b->len);
	buf_reset(&ic->pending);
	ic->sent = true;
	ic->last_ms = mono_ms();
	return rc != 0;
}

/* The flush timer (loop thread). */
static void ic_timer(void *arg)
{
	struct internal_call *ic = arg;
	struct aid *a = ic->a;
	bool gone;

	pthread_mutex_lock(&ic->lock);
	ic->timer = false;
	gone = ic->ended;
	if (!gone)
		(void)ic_flush_locked(ic);
	pthread_mutex_unlock(&ic->lock);
	if (!gone)
		return;
	pthread_mutex_lock(&a->ic_lock);
	if (ic->zprev)
		ic->zprev->znext = ic->znext;
	else
		a->ic_zombies = ic->znext;
	if (ic->znext)
		ic->znext->zprev = ic->zprev;
	pthread_mutex_unlock(&a->ic_lock);
	ic_free(ic);
}

static int ic_text(void *arg, const char *text, size_t len)
{
	struct internal_call *ic = arg;
	int64_t now = mono_ms(), wait;
	int rc = 0;

	pthread_mutex_lock(&ic->lock);
	if (buf_append(&ic->pending, text, len) < 0) {
		rc = 1;
		goto out;
	}
	wait = ic->sent ? ic->last_ms + ic->a->coalesce_ms - now : 0;
	if (wait <= 0 || ic->pending.len >= INTERNAL_PENDING_FLUSH) {
		rc = ic_flush_locked(ic);
		goto out;
	}
	if (ic->timer)
		goto out;	/* the armed timer takes this text too */
	if (http_server_after(ic->a->d.server, wait, ic_timer, ic) < 0) {
		rc = ic_flush_locked(ic);
		goto out;
	}
	ic->timer = true;
out:
	pthread_mutex_unlock(&ic->lock);
	return rc;
}

static void ic_end(void *arg, const struct aid_gen_outcome *o)
{
	struct internal_call *ic = arg;
	struct aid *a = ic->a;
	cJSON *d, *u;
	bool zombie;

	pthread_mutex_lock(&ic->lock);
	if (!o->started) {
		http_res_error(ic->res, o->http_status ? o->http_status : 502,
			       o->code ? o->code : "upstream_error", "%s",
			       o->message ? o->message : "no answer");
		goto out;
	}
	/* what waits goes before the end, also on a stop (a client that
	 * went away just fails the write) */
	(void)ic_flush_locked(ic);
	d = cJSON_CreateObject();
	if (!o->code) {
		cJSON_AddStringToObject(d, "model", o->model);
		cJSON_AddStringToObject(d, "finish_reason", o->finish);
		u = cJSON_AddObjectToObject(d, "usage");
		cJSON_AddNumberToObject(u, "prompt_tokens",
					(double)o->prompt_tokens);
		cJSON_AddNumberToObject(u, "completion_tokens",
					(double)o->completion_tokens);
		if (o->ttft_ms >= 0)
			cJSON_AddNumberToObject(d, "ttft_ms",
						(double)o->ttft_ms);
		else
			cJSON_AddNullToObject(d, "ttft_ms");
		cJSON_AddNumberToObject(d, "latency_ms",
					(double)o->latency_ms);
		internal_send_json(ic, "done", d);
	} else if (strcmp(o->code, "stopped") != 0) {
		cJSON_AddStringToObject(d, "code", o->code);
		cJSON_AddStringToObject(d, "message", o->message);
		internal_send_json(ic, "error", d);
	} else {
		cJSON_Delete(d);
	}
	http_res_end(ic->res);
out:
	ic->ended = true;
	zombie = ic->timer;
	if (zombie) {	/* the timer frees ic; until then a->ic_zombies */
		pthread_mutex_lock(&a->ic_lock);
		ic->zprev = NULL;
		ic->znext = a->ic_zombies;
		if (a->ic_zombies)
			a->ic_zombies->zprev = ic;
		a->ic_zombies = ic;
		pthread_mutex_unlock(&a->ic_lock);
	}
	pthread_mutex_unlock(&ic->lock);
	if (!zombie)
		ic_free(ic);
}

static bool ic_keep_going(void *arg)
{
	struct internal_call *ic = arg;

	return !http_res_closed(ic->res);
}

static const struct aid_gen_sink internal_sink = {
	.on_start = ic_start,
	.on_text = ic_text,
	.on_end = ic_end,
	.keep_going = ic_keep_going,
};

/* Optional string or null; CHAT_EINVAL with err when another type. */
static int opt_string(const cJSON *body, const char *key, size_t maxlen,
		      const char **out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
	int rc;

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	rc = json_get_string(body, key, true, 0, maxlen, out, err, errlen);
	return rc;
}

/* Optional UUID string or null; CHAT_EINVAL with err when anything
 * else. */
static int opt_uuid(const cJSON *body, const char *key, const char **out,
		    char *err, size_t errlen)
{
	char norm[UUID_STR_LEN];
	int rc = opt_string(body, key, UUID_STR_LEN, out, err, errlen);

	if (rc == 0 && *out && !uuid_norm(*out, norm)) {
		chat_errf(err, errlen, "'%s' must be a uuid", key);
		rc = CHAT_EINVAL;
	}
	return rc;
}

static int parse_messages(const cJSON *body, struct prov_message **out,
			  size_t *n, char *err, size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "messages");
	const cJSON *m;
	struct prov_message *v;
	size_t i = 0, cnt;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr)) {
		chat_errf(err, errlen, "'messages' must be an array");
		return CHAT_EINVAL;
	}
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt == 0 || cnt > INTERNAL_MESSAGES_MAX) {
		chat_errf(err, errlen, "'messages' must hold 1 to %d messages",
			  INTERNAL_MESSAGES_MAX);
		return CHAT_EINVAL;
	}
	v = calloc(cnt, sizeof(*v));
	if (!v)
		return CHAT_ENOMEM;
	cJSON_ArrayForEach(m, arr) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content =
			cJSON_GetObjectItemCaseSensitive(m, "content");

		if (!cJSON_IsString(role) ||
		    (strcmp(role->valuestring, "user") != 0 &&
		     strcmp(role->valuestring, "assistant") != 0)) {
			chat_errf(err, errlen, "'messages[%zu].role' must be "
				  "\"user\" or \"assistant\"", i);
			free(v);
			return CHAT_EINVAL;
		}
		if (!cJSON_IsString(content)) {
			chat_errf(err, errlen, "'messages[%zu].content' must "
				  "be a string", i);
			free(v);
			return CHAT_EINVAL;
		}
		v[i].role = role->valuestring;
		v[i].content = content->valuestring;
		i++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void internal_generate_handler(struct http_req *req, struct http_res *res)
{
	struct aid *a = req->app;
	struct internal_call *ic = NULL;
	struct prov_message *msgs = NULL;
	struct aid_target target;
	struct aid_gen_request g = { 0 };
	const char *model = NULL, *system = NULL, *purpose = NULL, *user_id;
	const char *conv_id = NULL, *msg_id = NULL;
	cJSON *body = NULL;
	char err[256];
	int64_t max_tokens = 0;
	size_t nmsgs = 0;
	int rc;

	/* the caller proved the internal secret: its user header is
	 * trusted even without a role header */
	user_id = req->user_id ? req->user_id :
				 http_req_header(req, HTTP_H_USER_ID);
	if (!user_id || !*user_id || strlen(user_id) >= 64) {
		http_res_error(res, 400, "invalid_request",
			       "'" HTTP_H_USER_ID "' is required");
		return;
	}
	rc = json_parse_object(req->body, req->body_len, &body, err,
			       sizeof(err));
	if (rc == 0)
		rc = opt_string(body, "model", AID_MODEL_NAME_MAX, &model, err,
				sizeof(err));
	if (rc == 0)
		rc = opt_string(body, "system_prompt", req->body_len,
				&system, err, sizeof(err));
	if (rc == 0) {
		rc = opt_string(body, "purpose", 16, &purpose, err,
				sizeof(err));
		if (rc == 0 && purpose && strcmp(purpose, "chat") != 0 &&
		    strcmp(purpose, "title") != 0) {
			chat_errf(err, sizeof(err), "'purpose' must be "
				  "\"chat\" or \"title\"");
			rc = CHAT_EINVAL;
		}
	}
	if (rc == 0 && !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
				body, "max_tokens"))) {
		rc = json_get_int(body, "max_tokens", false, 1,
				  INTERNAL_MAX_TOKENS, &max_tokens, err,
				  sizeof(err));
		if (rc == CHAT_ENOTFOUND)
			rc = 0;
	}
	if (rc == 0)
		rc = opt_uuid(body, "conversation_id", &conv_id, err,
			      sizeof(err));
	if (rc == 0)
		rc = opt_uuid(body, "message_id", &msg_id, err, sizeof(err));
	if (rc == 0)
		rc = parse_messages(body, &msgs, &nmsgs, err, sizeof(err));
	if (rc == CHAT_ENOMEM) {
		http_res_chat_error(res, rc, "out of memory");
		goto out;
	}
	if (rc < 0) {
		http_res_error(res, 400, "invalid_request", "%s", err);
		goto out;
	}
	if (!model)
		model = a->default_model;
	if (models_resolve(a, model, &target) < 0) {
		http_res_error(res, 404, "model_not_found",
			       "model '%.128s' does not exist", model);
		goto out;
	}
	ic = calloc(1, sizeof(*ic));
	if (!ic) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	ic->a = a;
	ic->res = res;
	pthread_mutex_init(&ic->lock, NULL);
	buf_init(&ic->ev, INTERNAL_EVENT_MAX);
	buf_init(&ic->pending, INTERNAL_EVENT_MAX);
	g.user_id = user_id;
	g.purpose = purpose ? purpose : "chat";
	g.request_id = req->request_id;
	g.conversation_id = conv_id;
	g.message_id = msg_id;
	g.target = &target;
	g.system_prompt = system && *system ? system : NULL;
	g.messages = msgs;
	g.nmessages = nmsgs;
	g.trim = true;
	g.max_tokens = (long)max_tokens;
	http_res_note(res, "model=%s", target.name);
	rc = engine_start(a, &g, &internal_sink, ic);
	if (rc < 0) {
		ic_free(ic);
		http_res_error(res, 503, "upstream_unavailable",
			       "cannot start a generation: %s",
			       chat_strerror(rc));
	}
out:
	free(msgs);
	cJSON_Delete(body);
}

void internal_release(struct aid *a)
{
	struct internal_call *ic, *next;

	/* the loop has stopped: these timers will never fire */
	pthread_mutex_lock(&a->ic_lock);
	ic = a->ic_zombies;
	a->ic_zombies = NULL;
	pthread_mutex_unlock(&a->ic_lock);
	for (; ic; ic = next) {
		next = ic->znext;
		ic_free(ic);
	}
}
