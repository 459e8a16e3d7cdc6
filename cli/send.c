/*
 * send.c - one turn of a conversation, shared by `ask` and `chat`: sends
 * the user's message, reads the answer as it streams (SSE through
 * shared/sse-parse) or waits for the 201 form, prints the answer's text
 * as it comes, and stops the generation on Ctrl-C.  Also the few
 * conversation calls both commands need (create, continue, patch).
 *
 * Every send carries a fresh Idempotency-Key, so that the one retry
 * api_call may make (after a token refresh) can never start a second
 * generation.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sse-parse.h"
#include "uuid.h"
#include "banned.h"

#define SEND_EVENT_MAX (2u * 1024 * 1024)	/* done holds the answer */
#define SEND_TEXT_MAX (64u * 1024 * 1024)

struct ctl_send_state {
	struct cli_ctx *ctx;
	const struct ctl_send_opts *o;
	struct ctl_send_result *r;
	struct sse_parser parser;
	bool finished;		/* a done or error event came */
};

typedef int (*ctl_send_event_fn)(struct ctl_send_state *s, cJSON *data);

void ctl_send_result_init(struct ctl_send_result *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, SEND_TEXT_MAX);
}

void ctl_send_result_release(struct ctl_send_result *r)
{
	buf_release(&r->text);
	cJSON_Delete(r->assistant);
	r->assistant = NULL;
}

static void ctl_send_copy_id(char *dst, size_t len, const cJSON *obj,
			     const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsString(v))
		snprintf(dst, len, "%s", v->valuestring);
}

/* Prints a piece of the answer and keeps it. */
static int ctl_send_piece(struct ctl_send_state *s, const char *text,
			  size_t len)
{
	int rc;

	if (buf_append(&s->r->text, text, len) < 0) {
		cli_error("the answer is too large");
		return CLI_SERVER;
	}
	if (!s->o->print || len == 0)
		return CLI_OK;
	rc = out_text(s->ctx, text, len);
	if (rc == CLI_OK)
		s->r->newline_pending = text[len - 1] != '\n';
	return rc;
}

/* The assistant message as stored: owned by the result from now on. */
static void ctl_send_take_assistant(struct ctl_send_state *s, cJSON *msg)
{
	cJSON_Delete(s->r->assistant);
	s->r->assistant = msg;
	ctl_send_copy_id(s->r->assistant_message_id,
			 sizeof(s->r->assistant_message_id), msg, "id");
}

static int ctl_send_on_message(struct ctl_send_state *s, cJSON *data)
{
	ctl_send_copy_id(s->r->user_message_id, sizeof(s->r->user_message_id),
			 data, "id");
	cJSON_Delete(data);
	return CLI_OK;
}

static int ctl_send_on_delta(struct ctl_send_state *s, cJSON *data)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(data, "text");
	int rc = CLI_OK;

	if (!s->r->assistant_message_id[0])
		ctl_send_copy_id(s->r->assistant_message_id,
				 sizeof(s->r->assistant_message_id), data,
				 "message_id");
	if (cJSON_IsString(text))
		rc = ctl_send_piece(s, text->valuestring,
				    strlen(text->valuestring));
	cJSON_Delete(data);
	return rc;
}

static int ctl_send_on_done(struct ctl_send_state *s, cJSON *data)
{
	s->finished = true;
	ctl_send_take_assistant(s, data);
	return CLI_OK;
}

static int ctl_send_on_error(struct ctl_send_state *s, cJSON *data)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(data, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	cJSON *stored = cJSON_DetachItemFromObjectCaseSensitive(data,
								"message");
	int rc;

	s->finished = true;
	if (s->o->print && s->r->newline_pending) {
		fputc('\n', stdout);
		s->r->newline_pending = false;
	}
	cli_error("%s (%s)", cJSON_IsString(msg) ? msg->valuestring :
		  "the generation failed", cJSON_IsString(code) ?
		  code->valuestring : "error");
	if (stored)
		ctl_send_take_assistant(s, stored);
	/* ends the stream; an unknown model is "not found", the rest is a
	 * server or upstream failure */
	rc = CLI_SERVER;
	if (cJSON_IsString(code) &&
	    strcmp(code->valuestring, "model_not_found") == 0)
		rc = CLI_NOTFOUND;
	cJSON_Delete(data);
	return rc;
}

static const struct {
	const char *name;
	ctl_send_event_fn fn;
} ctl_send_events[] = {
	{ "message", ctl_send_on_message },
	{ "delta", ctl_send_on_delta },
	{ "done", ctl_send_on_done },
	{ "error", ctl_send_on_error },
};

static int ctl_send_on_event(void *arg, const struct sse_event *ev)
{
	struct ctl_send_state *s = arg;
	cJSON *data;
	size_t i;

	for (i = 0; i < sizeof(ctl_send_events) / sizeof(ctl_send_events[0]);
	     i++) {
		if (strcmp(ctl_send_events[i].name, ev->event) != 0)
			continue;
		data = cJSON_ParseWithLength(ev->data, ev->data_len);
		if (!data) {
			cli_error("malformed '%s' event from the server",
				  ev->event);
			return CLI_SERVER;
		}
		return ctl_send_events[i].fn(s, data);
	}
	return 0;	/* reset, keep-alives, events of later versions */
}

static int ctl_send_on_data(void *arg, const char *data, size_t len)
{
	struct ctl_send_state *s = arg;
	int rc = sse_parse_feed(&s->parser, data, len);

	if (rc == CHAT_ETOOBIG)
		cli_error("an event from the server is too large");
	return rc;
}

/* The 201 form: {"user_message":{...},"assistant_message":{...}}. */
static int ctl_send_take_201(struct ctl_send_state *s, cJSON *answer)
{
	cJSON *user = cJSON_GetObjectItemCaseSensitive(answer, "user_message");
	cJSON *asst = cJSON_DetachItemFromObjectCaseSensitive(
		answer, "assistant_message");
	const cJSON *content;

	if (!cJSON_IsObject(user) || !cJSON_IsObject(asst)) {
		cJSON_Delete(asst);
		cli_error("the server's answer to the message is malformed");
		return CLI_SERVER;
	}
	ctl_send_copy_id(s->r->user_message_id, sizeof(s->r->user_message_id),
			 user, "id");
	ctl_send_take_assistant(s, asst);
	s->finished = true;
	content = cJSON_GetObjectItemCaseSensitive(asst, "content");
	if (!cJSON_IsString(content))
		return CLI_OK;
	return ctl_send_piece(s, content->valuestring,
			      strlen(content->valuestring));
}

/* Stops the conversation's generation after Ctrl-C. */
static void ctl_send_stop(struct cli_ctx *ctx, const char *conv)
{
	struct api_req req = { "POST", NULL, NULL, API_QUIET, NULL, NULL,
			       NULL };
	struct api_res res;
	char path[256];

	cli_interrupted = 0;	/* or the stop call itself is aborted */
	snprintf(path, sizeof(path), "/v1/conversations/%s/stop", conv);
	req.path = path;
	if (api_call(ctx, &req, &res) != CLI_OK)
		cli_warn("could not stop the generation: %s", res.message);
	api_res_release(&res);
}

int ctl_send_message(struct cli_ctx *ctx, const struct ctl_send_opts *o,
		     struct ctl_send_result *r)
{
	struct ctl_send_state s = { ctx, o, r, { 0 }, false };
	struct api_req req = { "POST", NULL, NULL, 0, NULL, NULL, NULL };
	struct api_res res;
	char path[512], conv[200], key[UUID_STR_LEN];
	const cJSON *status;
	cJSON *body = NULL;
	int rc;

	memset(&res, 0, sizeof(res));
	if (api_escape(o->conversation_id, conv, sizeof(conv)) < 0) {
		cli_error("conversation id too long");
		return CLI_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", conv);
	if (o->regenerate_id) {
		char mid[200];

		if (api_escape(o->regenerate_id, mid, sizeof(mid)) < 0) {
			cli_error("message id too long");
			return CLI_USAGE;
		}
		snprintf(path, sizeof(path),
			 "/v1/conversations/%s/messages/%s/regenerate", conv,
			 mid);
	}
	body = cJSON_CreateObject();
	if (!body || (!o->regenerate_id &&
		      !cJSON_AddStringToObject(body, "content", o->content)) ||
	    (o->model && !cJSON_AddStringToObject(body, "model", o->model)) ||
	    uuid_v7(key) < 0) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	sse_parse_init(&s.parser, SEND_EVENT_MAX, ctl_send_on_event, NULL, &s);
	req.path = path;
	req.json = body;
	req.idempotency_key = key;
	if (o->stream) {
		req.flags |= API_SSE;
		req.on_data = ctl_send_on_data;
		req.arg = &s;
	}
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_INTERRUPTED) {
		if (o->print && r->newline_pending) {
			fputc('\n', stdout);
			r->newline_pending = false;
		}
		ctl_send_stop(ctx, conv);
		goto out;
	}
	if (rc != CLI_OK)
		goto out;
	if (res.json && !s.finished)
		rc = ctl_send_take_201(&s, res.json);	/* also a non-SSE 201 */
	else if (!s.finished) {
		cli_error("the answer's stream ended before its end");
		rc = CLI_SERVER;
	}
	if (rc != CLI_OK)
		goto out;
	status = cJSON_GetObjectItemCaseSensitive(r->assistant, "status");
	if (cJSON_IsString(status) &&
	    strcmp(status->valuestring, "complete") != 0)
		cli_warn("the answer is %s", status->valuestring);
out:
	sse_parse_release(&s.parser);
	api_res_release(&res);
	cJSON_Delete(body);
	return rc;
}

/* ---- conversation calls of ask and chat ---- */

int ctl_conv_create(struct cli_ctx *ctx, const char *model,
		    const char *system_prompt, char *id_out, size_t idlen)
{
	cJSON *body = cJSON_CreateObject(), *conv = NULL;
	const cJSON *id;
	int rc;

	if (!body ||
	    (model && !cJSON_AddStringToObject(body, "model", model)) ||
	    (system_prompt &&
	     !cJSON_AddStringToObject(body, "system_prompt", system_prompt))) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	rc = api_json(ctx, "POST", "/v1/conversations", body, &conv);
	id = cJSON_GetObjectItemCaseSensitive(conv, "id");
	if (rc == CLI_OK && !cJSON_IsString(id)) {
		cli_error("the server's new conversation has no id");
		rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		snprintf(id_out, idlen, "%s", id->valuestring);
	cJSON_Delete(conv);
	cJSON_Delete(body);
	return rc;
}

int ctl_conv_patch_string(struct cli_ctx *ctx, const char *id,
			  const char *field, const char *value)
{
	cJSON *body = cJSON_CreateObject(), *conv = NULL;
	char path[256], esc[200];
	int rc;

	if (api_escape(id, esc, sizeof(esc)) < 0) {
		cJSON_Delete(body);
		cli_error("conversation id too long");
		return CLI_USAGE;
	}
	if (!body || !(value ? cJSON_AddStringToObject(body, field, value) :
			       cJSON_AddNullToObject(body, field))) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	snprintf(path, sizeof(path), "/v1/conversations/%s", esc);
	rc = api_json(ctx, "PATCH", path, body, &conv);
	cJSON_Delete(conv);
	cJSON_Delete(body);
	return rc;
}

int ctl_conv_latest(struct cli_ctx *ctx, char *id_out, size_t idlen)
{
	cJSON *list = NULL;
	const cJSON *data, *first, *id;
	int rc;

	rc = api_json(ctx, "GET", "/v1/conversations?limit=1", NULL, &list);
	if (rc != CLI_OK)
		return rc;
	data = cJSON_GetObjectItemCaseSensitive(list, "data");
	first = cJSON_GetArrayItem(data, 0);
	id = cJSON_GetObjectItemCaseSensitive(first, "id");
	if (!cJSON_IsString(id)) {
		cli_error("no conversation to continue");
		rc = CLI_NOTFOUND;
	} else {
		snprintf(id_out, idlen, "%s", id->valuestring);
	}
	cJSON_Delete(list);
	return rc;
}
