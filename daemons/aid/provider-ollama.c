/*
 * provider-ollama.c - Ollama's native chat API.
 *
 * Request: POST {base_url}/api/chat with stream and the sampling options
 * (num_predict, stop, temperature, top_p).  Answer: NDJSON, one object a
 * line: {"message":{"content"},"done":false} for each piece, then
 * {"done":true,"done_reason","prompt_eval_count","eval_count"}; an error
 * is a line {"error":"..."}.  Models: GET {base_url}/api/tags.
 *
 * Lines are split here (SSE is not involved); a line has the same 1 MiB
 * ceiling as an SSE event.  A last line without its newline still counts
 * when the body ends, as long as it is whole JSON.
 */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "provider-internal.h"
#include "banned.h"

static const char *const ollama_error_paths[] = {
	"error", "error.message", "message",
};

static int ollama_build(const struct provider_conf *pc,
			const struct prov_params *p, struct prov_http *out)
{
	cJSON *body = NULL, *opts;
	int rc;

	/* first: it makes out safe to release whatever happens */
	rc = prov_chat_start(out, pc, "/api/chat", p, &body);
	if (rc < 0)
		goto out;
	prov_jmessages(body, "messages", p, &rc);
	prov_jbool(body, "stream", true, &rc);
	if (p->max_tokens > 0 || p->nstop || p->has_temperature ||
	    p->has_top_p) {
		opts = prov_jobj(body, "options", &rc);
		if (p->max_tokens > 0)
			prov_jnum(opts, "num_predict", (double)p->max_tokens,
				  &rc);
		prov_jstop(opts, "stop", p, &rc);
		if (p->has_temperature)
			prov_jnum(opts, "temperature", p->temperature, &rc);
		if (p->has_top_p)
			prov_jnum(opts, "top_p", p->top_p, &rc);
	}
	if (rc == 0)
		rc = prov_http_json(out, body);
	if (rc == 0)
		rc = prov_http_header(out, "Accept", "application/x-ndjson");
	/* Ollama itself takes no key; one set is for a proxy in front. */
	if (rc == 0)
		rc = prov_http_bearer(out, pc->api_key);
out:
	cJSON_Delete(body);
	if (rc < 0)
		prov_http_release(out);
	return rc;
}

/* One line's object: an error, or a piece, or the last line. */
static int ollama_object(struct prov_stream *s, const cJSON *root)
{
	const cJSON *message, *content, *err, *done;
	long prompt, completion;
	int rc = 0;

	err = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (err && !cJSON_IsNull(err)) {
		prov_emit_error(s, cJSON_IsString(err) ? err->valuestring :
				prov_json_path(root, "error.message"));
		goto out;
	}
	message = cJSON_GetObjectItemCaseSensitive(root, "message");
	content = cJSON_GetObjectItemCaseSensitive(message, "content");
	if (content && !cJSON_IsNull(content) && !cJSON_IsString(content)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	if (cJSON_IsString(content)) {
		rc = prov_emit_text(s, content->valuestring);
		if (rc)
			goto out;
	}
	done = cJSON_GetObjectItemCaseSensitive(root, "done");
	if (!cJSON_IsTrue(done))
		goto out;
	prompt = prov_json_count(root, "prompt_eval_count");
	completion = prov_json_count(root, "eval_count");
	if (prompt >= 0 || completion >= 0)
		prov_emit_usage(s, prompt, completion);
	prov_emit_finish(s, json_str(root, "done_reason"));
	s->state |= PROV_ENDED;
out:
	return rc;
}

/* The line in s->line (without its LF); blank lines are skipped. */
static int ollama_line(struct prov_stream *s)
{
	cJSON *root = NULL;
	size_t len = s->line.len;
	int rc = 0;

	while (len > 0 && (s->line.data[len - 1] == '\r' ||
			   s->line.data[len - 1] == ' ' ||
			   s->line.data[len - 1] == '\t'))
		len--;
	if (len == 0)
		goto out;
	rc = prov_json_parse(s->line.data, len, &root);
	if (rc == 0)
		rc = ollama_object(s, root);
out:
	cJSON_Delete(root);
	buf_reset(&s->line);
	return rc;
}

static int ollama_feed(struct prov_stream *s, const char *data, size_t len)
{
	size_t pos = 0;
	int rc = s->failed;

	while (rc == 0 && pos < len && !(s->state & PROV_ENDED)) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t take = nl ? (size_t)(nl - (data + pos)) : len - pos;

		rc = buf_append(&s->line, data + pos, take);
		pos += take;
		if (rc == 0 && nl) {
			pos++;
			rc = ollama_line(s);
		}
	}
	if (rc && !s->failed)
		s->failed = rc;
	return rc;
}

static int ollama_end(struct prov_stream *s)
{
	int rc;

	if (s->failed || (s->state & PROV_ENDED) || s->line.len == 0)
		return prov_stream_end(s);
	/* A last line without its newline; broken JSON there is a cut. */
	rc = ollama_line(s);
	if (rc == CHAT_EPARSE)
		rc = 0;
	if (rc)
		return rc;
	return prov_stream_end(s);
}

static int ollama_stream_new(const struct prov_sink *sink, void *arg,
			     struct prov_stream **out)
{
	return prov_stream_new(sink, arg, NULL, out);
}

static int ollama_models_build(const struct provider_conf *pc,
			       struct prov_http *out)
{
	return prov_http_get_json(out, pc, "/api/tags");
}

static int ollama_models_parse(const char *body, size_t len, char ***names,
			       size_t *n)
{
	return prov_models_list(body, len, "models", "name", names, n);
}

static void ollama_error_message(const char *body, size_t len, char *out,
				 size_t outlen)
{
	prov_error_text(body, len, ollama_error_paths,
			sizeof(ollama_error_paths) /
			sizeof(ollama_error_paths[0]), out, outlen);
}

const struct provider_ops provider_ollama = {
	.kind = "ollama",
	.build = ollama_build,
	.stream_new = ollama_stream_new,
	.stream_feed = ollama_feed,
	.stream_end = ollama_end,
	.stream_free = prov_stream_free,
	.models_build = ollama_models_build,
	.models_parse = ollama_models_parse,
	.error_message = ollama_error_message,
};
