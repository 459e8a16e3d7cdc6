/*
 * provider-anthropic.c - Anthropic's Messages API.
 *
 * Request: POST {base_url}/v1/messages with x-api-key and
 * anthropic-version.  The API wants max_tokens always, the system prompt
 * apart from the messages, and messages that alternate user/assistant
 * starting with a user one: system messages are joined into "system",
 * consecutive messages of one role are merged, empty ones and leading
 * assistant ones dropped.
 *
 * Answer: SSE events named by their data's "type": message_start
 * (input tokens), content_block_delta (text_delta pieces), message_delta
 * (stop_reason, output tokens), message_stop (the end marker), ping,
 * error.  Unknown types are ignored, as the API asks.
 */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "provider-internal.h"
#include "banned.h"

#define ANTHROPIC_VERSION "2023-06-01"
/* max_tokens when the caller leaves it to the provider */
#define ANTHROPIC_MAX_TOKENS 4096
/* Ceiling for the merged text of one message or of the system prompt. */
#define ANTHROPIC_MAX_TEXT (64 * 1024 * 1024)

struct anthropic_reason {
	const char *upstream;
	const char *ours;
};

/* Anthropic's stop reasons in the engine's words; others pass as is. */
static const struct anthropic_reason anthropic_reasons[] = {
	{ "end_turn", "stop" },
	{ "stop_sequence", "stop" },
	{ "max_tokens", "length" },
};

/* message_start's usage fields that together make the prompt */
static const char *const anthropic_input_counts[] = {
	"input_tokens", "cache_creation_input_tokens",
	"cache_read_input_tokens",
};

static const char *const anthropic_error_paths[] = {
	"error.message", "error", "message",
};

static int anthropic_event_start(struct prov_stream *s, const cJSON *root);
static int anthropic_event_block(struct prov_stream *s, const cJSON *root);
static int anthropic_event_delta(struct prov_stream *s, const cJSON *root);
static int anthropic_event_message(struct prov_stream *s,
				   const cJSON *root);
static int anthropic_event_stop(struct prov_stream *s, const cJSON *root);
static int anthropic_event_error(struct prov_stream *s, const cJSON *root);

struct anthropic_event_type {
	const char *type;
	int (*handle)(struct prov_stream *s, const cJSON *root);
};

/* ping, content_block_stop and new types need nothing. */
static const struct anthropic_event_type anthropic_events[] = {
	{ "message_start", anthropic_event_start },
	{ "content_block_start", anthropic_event_block },
	{ "content_block_delta", anthropic_event_delta },
	{ "message_delta", anthropic_event_message },
	{ "message_stop", anthropic_event_stop },
	{ "error", anthropic_event_error },
};

/* ---- request -------------------------------------------------------- */

/* Appends text to b, "\n\n" between pieces. */
static int anthropic_join(struct buf *b, const char *text)
{
	int rc = 0;

	if (b->len)
		rc = buf_puts(b, "\n\n");
	if (rc == 0)
		rc = buf_puts(b, text);
	return rc;
}

static void anthropic_flush(cJSON *arr, const char *role, struct buf *text,
			    int *rc)
{
	cJSON *m = prov_jobj(arr, NULL, rc);

	prov_jstr(m, "role", role, rc);
	prov_jstr(m, "content", text->data ? text->data : "", rc);
	buf_reset(text);
}

/* body.messages from p's user/assistant turns; the system ones into sys. */
static int anthropic_messages(cJSON *body, const struct prov_params *p,
			      struct buf *sys)
{
	const char *role = NULL;
	struct buf text;
	cJSON *arr;
	size_t i;
	int rc = 0;

	buf_init(&text, ANTHROPIC_MAX_TEXT);
	arr = prov_jarr(body, "messages", &rc);
	for (i = 0; i < p->nmessages && rc == 0; i++) {
		const struct prov_message *m = &p->messages[i];
		const char *content = m->content ? m->content : "";

		if (!m->role) {
			rc = CHAT_EINVAL;
		} else if (strcmp(m->role, "system") == 0) {
			if (*content)
				rc = anthropic_join(sys, content);
		} else if (strcmp(m->role, "user") != 0 &&
			   strcmp(m->role, "assistant") != 0) {
			rc = CHAT_EINVAL;
		} else if (!*content || (!role &&
					 strcmp(m->role, "user") != 0)) {
			/* empty, or an assistant turn before any user one:
			 * the API refuses both */
		} else {
			if (role && strcmp(role, m->role) != 0)
				anthropic_flush(arr, role, &text, &rc);
			role = m->role;
			if (rc == 0)
				rc = anthropic_join(&text, content);
		}
	}
	if (rc == 0 && !role)
		rc = CHAT_EINVAL;	/* nothing a user said */
	if (rc == 0)
		anthropic_flush(arr, role, &text, &rc);
	buf_release(&text);
	return rc;
}

static int anthropic_headers(struct prov_http *out,
			     const struct provider_conf *pc,
			     const char *accept)
{
	int rc;

	rc = prov_http_header(out, "Accept", accept);
	if (rc == 0)
		rc = prov_http_header(out, "anthropic-version",
				      ANTHROPIC_VERSION);
	if (rc == 0 && pc->api_key && *pc->api_key)
		rc = prov_http_header(out, "x-api-key", pc->api_key);
	return rc;
}

static int anthropic_build(const struct provider_conf *pc,
			   const struct prov_params *p, struct prov_http *out)
{
	cJSON *body = NULL;
	struct buf sys;
	int rc;

	buf_init(&sys, ANTHROPIC_MAX_TEXT);
	/* first: it makes out safe to release whatever happens */
	rc = prov_chat_start(out, pc, "/v1/messages", p, &body);
	if (rc < 0)
		goto out;
	prov_jnum(body, "max_tokens", p->max_tokens > 0 ?
		  (double)p->max_tokens : ANTHROPIC_MAX_TOKENS, &rc);
	if (rc == 0)
		rc = anthropic_messages(body, p, &sys);
	if (sys.len)
		prov_jstr(body, "system", sys.data, &rc);
	prov_jstop(body, "stop_sequences", p, &rc);
	if (p->has_temperature)
		prov_jnum(body, "temperature", p->temperature, &rc);
	if (p->has_top_p)
		prov_jnum(body, "top_p", p->top_p, &rc);
	prov_jbool(body, "stream", true, &rc);
	if (rc == 0)
		rc = prov_http_json(out, body);
	if (rc == 0)
		rc = anthropic_headers(out, pc, "text/event-stream");
out:
	buf_release(&sys);
	cJSON_Delete(body);
	if (rc < 0)
		prov_http_release(out);
	return rc;
}

/* ---- stream --------------------------------------------------------- */

static int anthropic_event_start(struct prov_stream *s, const cJSON *root)
{
	const cJSON *usage;
	long n, outn;
	size_t i;

	usage = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "message"), "usage");
	/* Cached prompt tokens are prompt tokens all the same. */
	for (i = 0; i < sizeof(anthropic_input_counts) /
			sizeof(anthropic_input_counts[0]); i++) {
		n = prov_json_count(usage, anthropic_input_counts[i]);
		if (n >= 0)
			s->prompt_tokens = (s->prompt_tokens > 0 ?
					    s->prompt_tokens : 0) + n;
	}
	outn = prov_json_count(usage, "output_tokens");
	if (outn >= 0)
		s->completion_tokens = outn;
	return 0;
}

/* A text block may open with text of its own (usually ""). */
static int anthropic_event_block(struct prov_stream *s, const cJSON *root)
{
	const cJSON *block;
	const char *type;

	block = cJSON_GetObjectItemCaseSensitive(root, "content_block");
	type = json_str(block, "type");
	if (!type || strcmp(type, "text") != 0)
		return 0;
	return prov_emit_text(s, json_str(block, "text"));
}

static int anthropic_event_delta(struct prov_stream *s, const cJSON *root)
{
	const cJSON *delta, *text;
	const char *type;

	delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
	type = json_str(delta, "type");
	/* thinking, tool input and the like are not the answer's text */
	if (!type || strcmp(type, "text_delta") != 0)
		return 0;
	text = cJSON_GetObjectItemCaseSensitive(delta, "text");
	if (!cJSON_IsString(text))
		return CHAT_EPARSE;
	return prov_emit_text(s, text->valuestring);
}

static const char *anthropic_reason(const char *upstream)
{
	size_t i;

	for (i = 0; i < sizeof(anthropic_reasons) /
			sizeof(anthropic_reasons[0]); i++)
		if (strcmp(anthropic_reasons[i].upstream, upstream) == 0)
			return anthropic_reasons[i].ours;
	return upstream;
}

static int anthropic_event_message(struct prov_stream *s, const cJSON *root)
{
	const cJSON *usage;
	const char *reason;
	long in, outn;

	usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	outn = prov_json_count(usage, "output_tokens");
	in = prov_json_count(usage, "input_tokens");
	if (outn >= 0)
		s->completion_tokens = outn;
	if (in > s->prompt_tokens)
		s->prompt_tokens = in;
	prov_emit_usage(s, s->prompt_tokens, s->completion_tokens);
	reason = json_str(cJSON_GetObjectItemCaseSensitive(root, "delta"),
			       "stop_reason");
	if (reason)
		prov_emit_finish(s, anthropic_reason(reason));
	return 0;
}

static int anthropic_event_stop(struct prov_stream *s, const cJSON *root)
{
	(void)root;
	s->state |= PROV_ENDED;
	return 0;
}

static int anthropic_event_error(struct prov_stream *s, const cJSON *root)
{
	const char *message = NULL;
	size_t i;

	for (i = 0; i < sizeof(anthropic_error_paths) /
			sizeof(anthropic_error_paths[0]) && !message; i++)
		message = prov_json_path(root, anthropic_error_paths[i]);
	prov_emit_error(s, message);
	return 0;
}

static int anthropic_event(void *arg, const struct sse_event *ev)
{
	struct prov_stream *s = arg;
	cJSON *root = NULL;
	const char *type;
	size_t i;
	int rc = 0;

	if (s->state & PROV_ENDED)
		goto out;
	rc = prov_json_parse(ev->data, ev->data_len, &root);
	if (rc < 0)
		goto out;
	type = json_str(root, "type");
	if (!type)
		type = ev->event;
	for (i = 0; i < sizeof(anthropic_events) /
			sizeof(anthropic_events[0]); i++) {
		if (strcmp(anthropic_events[i].type, type) == 0) {
			rc = anthropic_events[i].handle(s, root);
			break;
		}
	}
out:
	cJSON_Delete(root);
	return rc;
}

static int anthropic_stream_new(const struct prov_sink *sink, void *arg,
				struct prov_stream **out)
{
	return prov_stream_new(sink, arg, anthropic_event, out);
}

/* ---- models and errors ---------------------------------------------- */

static int anthropic_models_build(const struct provider_conf *pc,
				  struct prov_http *out)
{
	int rc;

	rc = prov_http_start(out, "GET", pc->base_url,
			     "/v1/models?limit=1000");
	if (rc == 0)
		rc = anthropic_headers(out, pc, "application/json");
	if (rc < 0)
		prov_http_release(out);
	return rc;
}

static int anthropic_models_parse(const char *body, size_t len,
				  char ***names, size_t *n)
{
	return prov_models_list(body, len, "data", "id", names, n);
}

static void anthropic_error_message(const char *body, size_t len, char *out,
				    size_t outlen)
{
	prov_error_text(body, len, anthropic_error_paths,
			sizeof(anthropic_error_paths) /
			sizeof(anthropic_error_paths[0]), out, outlen);
}

const struct provider_ops provider_anthropic = {
	.kind = "anthropic",
	.build = anthropic_build,
	.stream_new = anthropic_stream_new,
	.stream_feed = prov_stream_feed_sse,
	.stream_end = prov_stream_end,
	.stream_free = prov_stream_free,
	.models_build = anthropic_models_build,
	.models_parse = anthropic_models_parse,
	.error_message = anthropic_error_message,
};
