/*
 * provider-openai.c - the OpenAI chat completions wire format, which
 * OpenAI, vLLM, llama.cpp's server, LM Studio and Ollama's /v1 all speak.
 *
 * Request: POST {base_url}/chat/completions with stream and
 * stream_options.include_usage, "Authorization: Bearer" when a key is set.
 * Answer: SSE events `data: {chunk}` ending with `data: [DONE]`; text in
 * choices[0].delta.content, the reason in choices[0].finish_reason, usage
 * in a last chunk whose choices are empty, errors as {"error":{...}} (or
 * vLLM's {"object":"error","message":...}).  A stream without [DONE] was
 * cut, whatever came before it.
 */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "provider-internal.h"
#include "banned.h"

/* Where an error's text may be, best first. */
static const char *const openai_error_paths[] = {
	"error.message", "error", "message", "detail",
};

#define OPENAI_NPATHS \
	(sizeof(openai_error_paths) / sizeof(openai_error_paths[0]))

static int openai_build(const struct provider_conf *pc,
			const struct prov_params *p, struct prov_http *out)
{
	cJSON *body = NULL, *opts;
	int rc;

	/* first: it makes out safe to release whatever happens */
	rc = prov_chat_start(out, pc, "/chat/completions", p, &body);
	if (rc < 0)
		goto out;
	prov_jmessages(body, "messages", p, &rc);
	prov_jbool(body, "stream", true, &rc);
	opts = prov_jobj(body, "stream_options", &rc);
	prov_jbool(opts, "include_usage", true, &rc);
	if (p->max_tokens > 0)
		prov_jnum(body, "max_tokens", (double)p->max_tokens, &rc);
	prov_jstop(body, "stop", p, &rc);
	if (p->has_temperature)
		prov_jnum(body, "temperature", p->temperature, &rc);
	if (p->has_top_p)
		prov_jnum(body, "top_p", p->top_p, &rc);
	if (rc == 0)
		rc = prov_http_json(out, body);
	if (rc == 0)
		rc = prov_http_header(out, "Accept", "text/event-stream");
	if (rc == 0)
		rc = prov_http_bearer(out, pc->api_key);
out:
	cJSON_Delete(body);
	if (rc < 0)
		prov_http_release(out);
	return rc;
}

/* True when the chunk is an error; *message gets its text (or NULL). */
static bool openai_chunk_error(const cJSON *root, const char **message)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
	const char *object = json_str(root, "object");
	size_t i;

	*message = NULL;
	if (!(err && !cJSON_IsNull(err)) &&
	    !(object && strcmp(object, "error") == 0))
		return false;
	for (i = 0; i < OPENAI_NPATHS && !*message; i++)
		*message = prov_json_path(root, openai_error_paths[i]);
	return true;
}

/* One chunk: text, then finish reason, then usage, as they come. */
static int openai_chunk(struct prov_stream *s, const cJSON *root)
{
	const cJSON *choices, *choice, *delta, *content, *usage;
	const char *reason;
	int rc = 0;

	choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	if (choices && !cJSON_IsNull(choices) && !cJSON_IsArray(choices)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	choice = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) :
		 NULL;
	delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	content = cJSON_GetObjectItemCaseSensitive(delta, "content");
	if (content && !cJSON_IsNull(content) && !cJSON_IsString(content)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	if (cJSON_IsString(content)) {
		rc = prov_emit_text(s, content->valuestring);
		if (rc)
			goto out;
	}
	reason = json_str(choice, "finish_reason");
	if (reason)
		prov_emit_finish(s, reason);
	usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	if (cJSON_IsObject(usage))
		prov_emit_usage(s, prov_json_count(usage, "prompt_tokens"),
				prov_json_count(usage, "completion_tokens"));
out:
	return rc;
}

static int openai_event(void *arg, const struct sse_event *ev)
{
	struct prov_stream *s = arg;
	const char *message;
	cJSON *root = NULL;
	int rc = 0;

	if (s->state & PROV_ENDED)
		goto out;
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		s->state |= PROV_ENDED;
		goto out;
	}
	rc = prov_json_parse(ev->data, ev->data_len, &root);
	if (rc < 0)
		goto out;
	if (openai_chunk_error(root, &message))
		prov_emit_error(s, message);
	else
		rc = openai_chunk(s, root);
out:
	cJSON_Delete(root);
	return rc;
}

static int openai_stream_new(const struct prov_sink *sink, void *arg,
			     struct prov_stream **out)
{
	return prov_stream_new(sink, arg, openai_event, out);
}

static int openai_models_build(const struct provider_conf *pc,
			       struct prov_http *out)
{
	return prov_http_get_json(out, pc, "/models");
}

static int openai_models_parse(const char *body, size_t len, char ***names,
			       size_t *n)
{
	return prov_models_list(body, len, "data", "id", names, n);
}

static void openai_error_message(const char *body, size_t len, char *out,
				 size_t outlen)
{
	prov_error_text(body, len, openai_error_paths, OPENAI_NPATHS, out,
			outlen);
}

const struct provider_ops provider_openai = {
	.kind = "openai",
	.build = openai_build,
	.stream_new = openai_stream_new,
	.stream_feed = prov_stream_feed_sse,
	.stream_end = prov_stream_end,
	.stream_free = prov_stream_free,
	.models_build = openai_models_build,
	.models_parse = openai_models_parse,
	.error_message = openai_error_message,
};
