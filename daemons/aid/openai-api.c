/*
 * openai-api.c - the OpenAI-compatible API: GET /v1/models (and
 * /v1/models/{id}) and POST /v1/chat/completions, streaming (chunks,
 * stream_options.include_usage, data: [DONE]) and not.
 *
 * Errors have OpenAI's shape, {"error":{"message","type","param","code"}}
 * (not the platform's envelope), so that OpenAI clients read them.
 * Fields of the request that would steer aid elsewhere (base_url,
 * api_base, api_key, ...) are not read at all: upstreams come from the
 * configuration only.
 *
 * Handlers run on the loop thread; the answer is written by the
 * generation's callbacks (engine.c), on whichever thread they run.
 */
#include "aid.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define OPENAI_MESSAGES_MAX 100000
#define OPENAI_STOP_MAX 4
#define OPENAI_STOP_LEN 1024
#define OPENAI_MAX_TOKENS 10000000
#define OPENAI_EVENT_MAX ((size_t)4 << 20)
#define OPENAI_PREFIX_MAX 1024

struct openai_call {
	struct http_res *res;
	bool stream;
	bool include_usage;
	char id[48];			/* "chatcmpl-<uuid>" */
	int64_t created;		/* unix seconds */
	char model[AID_MODEL_NAME_MAX + 1];
	char prefix[OPENAI_PREFIX_MAX];	/* a chunk up to "delta": */
	size_t prefix_len;
	struct buf ev;			/* the chunk being written */
	struct buf text;		/* non-streaming: the answer */
};

/* ---- errors --------------------------------------------------------------- */

static void openai_error(struct http_res *res, int status, const char *code,
			 const char *param, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void openai_error(struct http_res *res, int status, const char *code,
			 const char *param, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject(), *e;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "type", status < 500 ?
				"invalid_request_error" : "server_error");
	if (param)
		cJSON_AddStringToObject(e, "param", param);
	else
		cJSON_AddNullToObject(e, "param");
	if (code)
		cJSON_AddStringToObject(e, "code", code);
	else
		cJSON_AddNullToObject(e, "code");
	http_res_json(res, status, o);
}

/* ---- /v1/models ------------------------------------------------------------ */

static cJSON *model_object(const struct aid *a, const char *id,
			   const char *owner)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "id", id);
	cJSON_AddStringToObject(m, "object", "model");
	cJSON_AddNumberToObject(m, "created", (double)a->started_s);
	cJSON_AddStringToObject(m, "owned_by", owner);
	return m;
}

struct list_state {
	const struct aid *a;
	cJSON *data;
};

static void list_one(void *arg, const char *name, const char *owner)
{
	struct list_state *st = arg;

	cJSON_AddItemToArray(st->data, model_object(st->a, name, owner));
}

void openai_models_handler(struct http_req *req, struct http_res *res)
{
	const struct aid *a = req->app;
	struct aid_target t;
	struct list_state st = { .a = a };
	const char *id;
	cJSON *o;

	if (strcmp(req->path, "/v1/models") == 0 ||
	    strcmp(req->path, "/v1/models/") == 0) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "object", "list");
		/* beyond OpenAI's list: the model of requests that name
		 * none, so that clients can show what will answer */
		cJSON_AddStringToObject(o, "default_model", a->default_model);
		st.data = cJSON_AddArrayToObject(o, "data");
		models_each(a, list_one, &st);
		http_res_json(res, 200, o);
		return;
	}
	id = req->path + strlen("/v1/models/");
	if (models_resolve(a, id, &t) < 0) {
		openai_error(res, 404, "model_not_found", "model",
			     "the model '%.128s' does not exist", id);
		return;
	}
	http_res_json(res, 200, model_object(a, id, models_prov_name(t.prov)));
}

/* ---- the answer --------------------------------------------------------- */

/* Writes one "data: " chunk: prefix, delta, the rest of the choice. */
static int chunk_write(struct openai_call *oc, const char *delta,
		       const char *text, size_t len, const char *finish)
{
	struct buf *b = &oc->ev;
	int rc;

	buf_reset(b);
	rc = buf_puts(b, "data: ");
	if (rc == 0)
		rc = buf_append(b, oc->prefix, oc->prefix_len);
	if (rc == 0)
		rc = buf_puts(b, delta);
	if (rc == 0 && text) {
		rc = wire_json_string(b, text, len);
		if (rc == 0)
			rc = buf_puts(b, "}");
	}
	if (rc == 0)
		rc = buf_printf(b, ",\"logprobs\":null,\"finish_reason\":%s%s%s}]"
				"%s}\n\n", finish ? "\"" : "",
				finish ? finish : "null", finish ? "\"" : "",
				oc->include_usage ? ",\"usage\":null" : "");
	if (rc == 0)
		rc = http_res_write(oc->res, b->data, b->len);
	return rc;
}

static void oc_start(void *arg, const char *model)
{
	struct openai_call *oc = arg;
	int n;

	snprintf(oc->model, sizeof(oc->model), "%s", model);
	if (!oc->stream)
		return;
	{
		struct buf m;

		buf_init(&m, OPENAI_PREFIX_MAX / 2);
		wire_json_string(&m, oc->model, strlen(oc->model));
		n = snprintf(oc->prefix, sizeof(oc->prefix),
			     "{\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
			     "\"created\":%" PRId64 ",\"model\":%s,"
			     "\"system_fingerprint\":null,"
			     "\"choices\":[{\"index\":0,\"delta\":", oc->id,
			     oc->created, m.data ? m.data : "\"\"");
		buf_release(&m);
	}
	oc->prefix_len = n > 0 && (size_t)n < sizeof(oc->prefix) ?
		(size_t)n : 0;
	http_res_header(oc->res, "Cache-Control", "no-cache");
	if (http_res_begin(oc->res, 200, "text/event-stream") < 0)
		return;
	chunk_write(oc, "{\"role\":\"assistant\",\"content\":\"\"}", NULL, 0,
		    NULL);
}

static int oc_text(void *arg, const char *text, size_t len)
{
	struct openai_call *oc = arg;

	if (!oc->stream) {
		if (http_res_closed(oc->res))
			return 1;
		return buf_append(&oc->text, text, len) != 0;
	}
	return chunk_write(oc, "{\"content\":", text, len, NULL) != 0;
}

static cJSON *usage_object(const struct aid_gen_outcome *o)
{
	cJSON *u = cJSON_CreateObject();

	cJSON_AddNumberToObject(u, "prompt_tokens", (double)o->prompt_tokens);
	cJSON_AddNumberToObject(u, "completion_tokens",
				(double)o->completion_tokens);
	cJSON_AddNumberToObject(u, "total_tokens",
				(double)(o->prompt_tokens +
					 o->completion_tokens));
	return u;
}

static void stream_end(struct openai_call *oc, const struct aid_gen_outcome *o)
{
	cJSON *c, *e;
	char *text;

	if (!o->code) {
		chunk_write(oc, "{}", NULL, 0, o->finish);
		if (oc->include_usage) {
			c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "id", oc->id);
			cJSON_AddStringToObject(c, "object",
						"chat.completion.chunk");
			cJSON_AddNumberToObject(c, "created",
						(double)oc->created);
			cJSON_AddStringToObject(c, "model", oc->model);
			cJSON_AddNullToObject(c, "system_fingerprint");
			cJSON_AddArrayToObject(c, "choices");
			cJSON_AddItemToObject(c, "usage", usage_object(o));
			text = json_print(c);
			cJSON_Delete(c);
			if (text) {
				buf_reset(&oc->ev);
				if (buf_printf(&oc->ev, "data: %s\n\n",
					       text) == 0)
					http_res_write(oc->res, oc->ev.data,
						       oc->ev.len);
				free(text);
			}
		}
		http_res_write(oc->res, "data: [DONE]\n\n", 14);
	} else if (strcmp(o->code, "stopped") != 0) {
		c = cJSON_CreateObject();
		e = cJSON_AddObjectToObject(c, "error");
		cJSON_AddStringToObject(e, "message", o->message);
		cJSON_AddStringToObject(e, "type", "server_error");
		cJSON_AddNullToObject(e, "param");
		cJSON_AddStringToObject(e, "code", o->code);
		text = json_print(c);
		cJSON_Delete(c);
		if (text) {
			buf_reset(&oc->ev);
			if (buf_printf(&oc->ev, "data: %s\n\n", text) == 0)
				http_res_write(oc->res, oc->ev.data,
					       oc->ev.len);
			free(text);
		}
	}
	http_res_end(oc->res);
}

static void whole_end(struct openai_call *oc, const struct aid_gen_outcome *o)
{
	cJSON *c, *choices, *ch, *msg;

	if (o->code) {
		openai_error(oc->res, o->started ? 502 :
			     (o->http_status ? o->http_status : 502),
			     o->code, NULL, "%s", o->message);
		return;
	}
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "id", oc->id);
	cJSON_AddStringToObject(c, "object", "chat.completion");
	cJSON_AddNumberToObject(c, "created", (double)oc->created);
	cJSON_AddStringToObject(c, "model", oc->model);
	cJSON_AddNullToObject(c, "system_fingerprint");
	choices = cJSON_AddArrayToObject(c, "choices");
	ch = cJSON_CreateObject();
	cJSON_AddItemToArray(choices, ch);
	cJSON_AddNumberToObject(ch, "index", 0);
	msg = cJSON_AddObjectToObject(ch, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content",
				oc->text.data ? oc->text.data : "");
	cJSON_AddNullToObject(msg, "refusal");
	cJSON_AddNullToObject(ch, "logprobs");
	cJSON_AddStringToObject(ch, "finish_reason", o->finish);
	cJSON_AddItemToObject(c, "usage", usage_object(o));
	http_res_json(oc->res, 200, c);
}

static void oc_end(void *arg, const struct aid_gen_outcome *o)
{
	struct openai_call *oc = arg;

	if (!oc->model[0])
		snprintf(oc->model, sizeof(oc->model), "%s", o->model);
	if (oc->stream && o->started)
		stream_end(oc, o);
	else if (oc->stream)
		openai_error(oc->res, o->http_status ? o->http_status : 502,
			     o->code ? o->code : "upstream_error", NULL, "%s",
			     o->message ? o->message : "no answer");
	else
		whole_end(oc, o);
	buf_release(&oc->ev);
	buf_release(&oc->text);
	free(oc);
}

static bool oc_keep_going(void *arg)
{
	struct openai_call *oc = arg;

	return !http_res_closed(oc->res);
}

static const struct aid_gen_sink openai_sink = {
	.on_start = oc_start,
	.on_text = oc_text,
	.on_end = oc_end,
	.keep_going = oc_keep_going,
};

/* ---- the request ---------------------------------------------------------- */

/* What validation found wrong: for the 400. */
struct bad {
	const char *param;
	const char *code;
	char msg[256];
};

static int bad_set(struct bad *b, const char *param, const char *code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int bad_set(struct bad *b, const char *param, const char *code,
		   const char *fmt, ...)
{
	va_list ap;

	b->param = param;
	b->code = code;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
	return CHAT_EINVAL;
}

struct chat_req {
	const char *model;
	bool stream;
	bool include_usage;
	char *system;			/* owned: system/developer messages */
	struct prov_message *msgs;	/* role static, content owned */
	size_t nmsgs;
	long max_tokens;
	const char *stop[OPENAI_STOP_MAX];
	size_t nstop;
	bool has_temperature;
	double temperature;
	bool has_top_p;
	double top_p;
};

static void chat_req_release(struct chat_req *r)
{
	size_t i;

	for (i = 0; i < r->nmsgs; i++)
		free((char *)r->msgs[i].content);
	free(r->msgs);
	free(r->system);
}

/* Content: a string, or an array of {"type":"text","text":...} parts
 * (joined).  *out is owned. */
static int content_text(const cJSON *c, size_t i, char **out, struct bad *b)
{
	const cJSON *part;
	struct buf t;
	size_t j = 0;

	*out = NULL;
	if (cJSON_IsString(c)) {
		*out = strdup(c->valuestring);
		return *out ? 0 : CHAT_ENOMEM;
	}
	if (!cJSON_IsArray(c))
		return bad_set(b, "messages", "invalid_type", "'messages[%zu]"
			       ".content' must be a string or an array of "
			       "text parts", i);
	buf_init(&t, (size_t)1 << 30);
	cJSON_ArrayForEach(part, c) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part,
								     "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part,
								     "text");

		if (!cJSON_IsString(type) ||
		    strcmp(type->valuestring, "text") != 0 ||
		    !cJSON_IsString(text)) {
			buf_release(&t);
			return bad_set(b, "messages", "invalid_value",
				       "'messages[%zu].content[%zu]' must be "
				       "a text part (only text is supported)",
				       i, j);
		}
		if (buf_puts(&t, text->valuestring) < 0) {
			buf_release(&t);
			return CHAT_ENOMEM;
		}
		j++;
	}
	*out = t.data ? buf_detach(&t, NULL) : strdup("");
	return *out ? 0 : CHAT_ENOMEM;
}

static int parse_messages(const cJSON *body, struct chat_req *r,
			  struct bad *b)
{
	static const struct {
		const char *name;
		const char *role;	/* NULL: a system message */
	} roles[] = {
		{ "system", NULL }, { "developer", NULL },
		{ "user", "user" }, { "assistant", "assistant" },
	};
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "messages");
	const cJSON *m;
	struct buf sys;
	size_t i = 0, k, cnt;
	int rc = 0;

	if (!arr)
		return bad_set(b, "messages", "missing_required_parameter",
			       "'messages' is required");
	if (!cJSON_IsArray(arr))
		return bad_set(b, "messages", "invalid_type",
			       "'messages' must be an array");
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt == 0 || cnt > OPENAI_MESSAGES_MAX)
		return bad_set(b, "messages", "invalid_value", "'messages' "
			       "must hold 1 to %d messages",
			       OPENAI_MESSAGES_MAX);
	r->msgs = calloc(cnt, sizeof(*r->msgs));
	if (!r->msgs)
		return CHAT_ENOMEM;
	buf_init(&sys, (size_t)1 << 30);
	cJSON_ArrayForEach(m, arr) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		char *text = NULL;

		if (!cJSON_IsObject(m)) {
			rc = bad_set(b, "messages", "invalid_type",
				     "'messages[%zu]' must be an object", i);
			break;
		}
		for (k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
			if (cJSON_IsString(role) &&
			    strcmp(role->valuestring, roles[k].name) == 0)
				break;
		if (k == sizeof(roles) / sizeof(roles[0])) {
			rc = bad_set(b, "messages", "invalid_value",
				     "'messages[%zu].role' must be system, "
				     "developer, user or assistant", i);
			break;
		}
		rc = content_text(cJSON_GetObjectItemCaseSensitive(m,
								   "content"),
				  i, &text, b);
		if (rc < 0)
			break;
		if (!roles[k].role) {
			rc = sys.len ? buf_puts(&sys, "\n\n") : 0;
			if (rc == 0)
				rc = buf_puts(&sys, text);
			free(text);
			if (rc < 0)
				break;
		} else {
			r->msgs[r->nmsgs].role = roles[k].role;
			r->msgs[r->nmsgs++].content = text;
		}
		i++;
	}
	if (rc == 0 && sys.len)
		r->system = buf_detach(&sys, NULL);
	buf_release(&sys);
	return rc;
}

/* A number field in [min, max], or null/absent. */
static int opt_number(const cJSON *body, const char *key, double min,
		      double max, bool *has, double *out, struct bad *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

	*has = false;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || isnan(v->valuedouble) ||
	    v->valuedouble < min || v->valuedouble > max)
		return bad_set(b, key, "invalid_value", "'%s' must be a number "
			       "from %g to %g", key, min, max);
	*has = true;
	*out = v->valuedouble;
	return 0;
}

static int opt_count(const cJSON *body, const char *key, long *out,
		     struct bad *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble > OPENAI_MAX_TOKENS ||
	    v->valuedouble != (double)(long)v->valuedouble)
		return bad_set(b, key, "invalid_value", "'%s' must be an "
			       "integer from 1 to %d", key, OPENAI_MAX_TOKENS);
	*out = (long)v->valuedouble;
	return 0;
}

static int parse_stop(const cJSON *body, struct chat_req *r, struct bad *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "stop"), *s;

	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		if (!*v->valuestring || strlen(v->valuestring) >
		    OPENAI_STOP_LEN)
			return bad_set(b, "stop", "invalid_value", "'stop' "
				       "must be 1 to %d bytes",
				       OPENAI_STOP_LEN);
		r->stop[r->nstop++] = v->valuestring;
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > OPENAI_STOP_MAX)
		return bad_set(b, "stop", "invalid_type", "'stop' must be a "
			       "string or an array of up to %d strings",
			       OPENAI_STOP_MAX);
	cJSON_ArrayForEach(s, v) {
		if (!cJSON_IsString(s) || !*s->valuestring ||
		    strlen(s->valuestring) > OPENAI_STOP_LEN)
			return bad_set(b, "stop", "invalid_value", "'stop' "
				       "must hold strings of 1 to %d bytes",
				       OPENAI_STOP_LEN);
		r->stop[r->nstop++] = s->valuestring;
	}
	return 0;
}

static int parse_flags(const cJSON *body, struct chat_req *r, struct bad *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "stream");
	const cJSON *so, *iu;

	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsBool(v))
			return bad_set(b, "stream", "invalid_type",
				       "'stream' must be a boolean");
		r->stream = cJSON_IsTrue(v);
	}
	so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
	if (so && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so))
			return bad_set(b, "stream_options", "invalid_type",
				       "'stream_options' must be an object");
		if (!r->stream)
			return bad_set(b, "stream_options", "invalid_value",
				       "'stream_options' is only allowed "
				       "when 'stream' is true");
		iu = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
		if (iu && !cJSON_IsNull(iu) && !cJSON_IsBool(iu))
			return bad_set(b, "stream_options", "invalid_type",
				       "'stream_options.include_usage' must "
				       "be a boolean");
		r->include_usage = cJSON_IsTrue(iu);
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "n");
	if (v && !cJSON_IsNull(v) &&
	    (!cJSON_IsNumber(v) || v->valuedouble != 1))
		return bad_set(b, "n", "invalid_value", "'n' must be 1");
	return 0;
}

static int parse_chat(const cJSON *body, struct chat_req *r, struct bad *b)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
	long mct = 0;
	int rc;

	if (!model)
		return bad_set(b, "model", "missing_required_parameter",
			       "'model' is required");
	if (!cJSON_IsString(model) || !*model->valuestring)
		return bad_set(b, "model", "invalid_type",
			       "'model' must be a non-empty string");
	r->model = model->valuestring;
	rc = parse_messages(body, r, b);
	if (rc == 0)
		rc = parse_flags(body, r, b);
	if (rc == 0)
		rc = opt_count(body, "max_tokens", &r->max_tokens, b);
	if (rc == 0)
		rc = opt_count(body, "max_completion_tokens", &mct, b);
	if (rc == 0 && mct)
		r->max_tokens = mct;
	if (rc == 0)
		rc = parse_stop(body, r, b);
	if (rc == 0)
		rc = opt_number(body, "temperature", 0, 2, &r->has_temperature,
				&r->temperature, b);
	if (rc == 0)
		rc = opt_number(body, "top_p", 0, 1, &r->has_top_p, &r->top_p,
				b);
	return rc;
}

void openai_chat_handler(struct http_req *req, struct http_res *res)
{
	struct aid *a = req->app;
	struct openai_call *oc = NULL;
	struct chat_req r = { 0 };
	struct aid_target target;
	struct aid_gen_request g = { 0 };
	struct bad b = { 0 };
	char uuid[UUID_STR_LEN], err[256];
	cJSON *body = NULL;
	int rc;

	/* \u0000 refused as on every body: the prompt would be cut short
	 * at it and the model would answer a question nobody asked */
	rc = json_parse_body(req->body, req->body_len, &body, err,
			     sizeof(err));
	if (rc < 0) {
		openai_error(res, 400, "invalid_json", NULL, "%s", err);
		goto out;
	}
	rc = parse_chat(body, &r, &b);
	if (rc == CHAT_EINVAL) {
		openai_error(res, 400, b.code, b.param, "%s", b.msg);
		goto out;
	}
	if (rc < 0) {
		openai_error(res, 500, "internal_error", NULL, "%s",
			     chat_strerror(rc));
		goto out;
	}
	if (models_resolve(a, r.model, &target) < 0) {
		openai_error(res, 404, "model_not_found", "model",
			     "the model '%.128s' does not exist", r.model);
		goto out;
	}
	oc = calloc(1, sizeof(*oc));
	if (!oc || uuid_v7(uuid) < 0) {
		openai_error(res, 500, "internal_error", NULL, "out of memory");
		goto out;
	}
	oc->res = res;
	oc->stream = r.stream;
	oc->include_usage = r.include_usage;
	snprintf(oc->id, sizeof(oc->id), "chatcmpl-%s", uuid);
	oc->created = now_ms() / 1000;
	buf_init(&oc->ev, OPENAI_EVENT_MAX);
	buf_init(&oc->text, a->max_response + 1);
	g.user_id = req->user_id;
	g.purpose = "api";
	g.request_id = req->request_id;
	g.target = &target;
	g.system_prompt = r.system;
	g.messages = r.msgs;
	g.nmessages = r.nmsgs;
	g.trim = false;
	g.max_tokens = r.max_tokens;
	g.stop = r.stop;
	g.nstop = r.nstop;
	g.has_temperature = r.has_temperature;
	g.temperature = r.temperature;
	g.has_top_p = r.has_top_p;
	g.top_p = r.top_p;
	http_res_note(res, "model=%s", target.name);
	rc = engine_start(a, &g, &openai_sink, oc);
	if (rc < 0) {
		openai_error(res, 503, "upstream_unavailable", NULL,
			     "cannot start a generation: %s",
			     chat_strerror(rc));
		goto out;
	}
	oc = NULL;		/* the generation's now */
out:
	free(oc);
	chat_req_release(&r);
	cJSON_Delete(body);
}
