/*
 * store-json.c - the JSON forms of conversations and messages, as every
 * answer, event and idempotent replay shows them: one place, so that a
 * REST answer, an SSE event and a WebSocket frame never disagree.
 */
#include "chatd.h"

#include <string.h>

#include "json.h"
#include "banned.h"

/* ---- JSON forms ------------------------------------------------------ */

/* key: s, or null when s is NULL (or "" with empty_null). */
static cJSON *add_str(cJSON *o, const char *key, const char *s,
		      bool empty_null)
{
	if (!s || (empty_null && !*s))
		return cJSON_AddNullToObject(o, key);
	return cJSON_AddStringToObject(o, key, s);
}

/* key: v, or null when v < 0 (unknown). */
static cJSON *add_count(cJSON *o, const char *key, int64_t v)
{
	if (v < 0)
		return cJSON_AddNullToObject(o, key);
	return cJSON_AddNumberToObject(o, key, (double)v);
}

cJSON *chat_conv_json(const struct chat_conv *conv)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!add_str(o, "id", conv->id, false) ||
	    !add_str(o, "title", conv->title, false) ||
	    !add_str(o, "model", conv->model, false) ||
	    !add_str(o, "system_prompt", conv->system_prompt, false) ||
	    !cJSON_AddBoolToObject(o, "archived", conv->archived) ||
	    !add_str(o, "current_leaf_id", conv->current_leaf_id, true) ||
	    !json_add_time(o, "created_at", conv->created_at) ||
	    !json_add_time(o, "updated_at", conv->updated_at)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* {code, message} or null. */
static bool add_error(cJSON *o, const struct chat_msg *m)
{
	cJSON *e;

	if (!m->error_code)
		return cJSON_AddNullToObject(o, "error") != NULL;
	e = cJSON_AddObjectToObject(o, "error");
	return e && cJSON_AddStringToObject(e, "code", m->error_code) &&
	       add_str(e, "message", m->error_message ? m->error_message : "",
		       false);
}

/* The four counters, or null when none is known. */
static bool add_usage(cJSON *o, const struct chat_msg *m)
{
	cJSON *u;

	if (m->prompt_tokens < 0 && m->completion_tokens < 0 &&
	    m->ttft_ms < 0 && m->latency_ms < 0)
		return cJSON_AddNullToObject(o, "usage") != NULL;
	u = cJSON_AddObjectToObject(o, "usage");
	return u && add_count(u, "prompt_tokens", m->prompt_tokens) &&
	       add_count(u, "completion_tokens", m->completion_tokens) &&
	       add_count(u, "ttft_ms", m->ttft_ms) &&
	       add_count(u, "latency_ms", m->latency_ms);
}

cJSON *chat_msg_json(const struct chat_msg *m)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!add_str(o, "id", m->id, false) ||
	    !add_str(o, "conversation_id", m->conversation_id, false) ||
	    !add_str(o, "parent_id", m->parent_id, true) ||
	    !add_str(o, "role", m->role, false) ||
	    !add_str(o, "content", m->content ? m->content : "", false) ||
	    !add_str(o, "model", m->model, false) ||
	    !add_str(o, "status", m->status, false) ||
	    !add_error(o, m) || !add_usage(o, m) ||
	    !json_add_time(o, "created_at", m->created_at) ||
	    !json_add_time(o, "updated_at", m->updated_at)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
