/*
 * provider-internal.h - what provider.c shares with provider-*.c and
 * nobody else: the one stream state every parser uses, request building
 * (URLs, headers, JSON bodies) and the sink reporting rules.  The engine
 * codes against provider.h only.
 */
#ifndef CHAT_AID_PROVIDER_INTERNAL_H
#define CHAT_AID_PROVIDER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "provider.h"
#include "sse-parse.h"

/* Ceiling for one SSE event or one NDJSON line. */
#define PROV_MAX_EVENT (1024 * 1024)

/* struct prov_stream.state bits */
#define PROV_ENDED	0x1	/* end marker or in-stream error seen */
#define PROV_SNIFFED	0x2	/* the first significant byte was checked */
#define PROV_FINISHED	0x4	/* on_finish reported */

/*
 * The state of one stream parse, the same struct for every wire format
 * (each uses the parts it needs).  Owned by whoever called stream_new;
 * freed by stream_free.
 */
struct prov_stream {
	struct prov_sink sink;		/* a copy of the caller's */
	void *arg;			/* the sink's argument */
	struct sse_parser sse;		/* openai, anthropic */
	bool has_sse;			/* sse is initialised */
	struct buf line;		/* ollama: the NDJSON line being read */
	int state;			/* PROV_* bits */
	int failed;			/* sticky error of a failed feed */
	long prompt_tokens;		/* anthropic: from message_start;
					 * -1 until known */
	long completion_tokens;		/* anthropic: latest output count */
};

/* A new stream; with on_event it also reads SSE through it. */
int prov_stream_new(const struct prov_sink *sink, void *arg,
		    sse_event_fn on_event, struct prov_stream **out);
void prov_stream_free(struct prov_stream *s);
/* Feeds SSE bytes: refuses a body whose first byte cannot start an event
 * stream (CHAT_EPARSE), ignores bytes after the end, keeps a failure. */
int prov_stream_feed_sse(struct prov_stream *s, const char *data,
			 size_t len);
/* 0 once ended, the sticky failure, else CHAT_ECLOSED. */
int prov_stream_end(struct prov_stream *s);

/* Sink reporting.  Text: nothing for an empty piece, else on_text's
 * return.  Usage: a negative count goes as -1 (unknown).  Finish: once
 * per stream.  Error: ends the stream. */
int prov_emit_text(struct prov_stream *s, const char *text);
void prov_emit_usage(struct prov_stream *s, long prompt, long completion);
void prov_emit_finish(struct prov_stream *s, const char *reason);
void prov_emit_error(struct prov_stream *s, const char *message);

/* Parses one event's or line's JSON object (CHAT_EPARSE when it is not
 * one); *out is the caller's (cJSON_Delete). */
int prov_json_parse(const char *text, size_t len, cJSON **out);
/* The string at a dotted path ("error.message") of root, else NULL. */
const char *prov_json_path(const cJSON *root, const char *path);
/* obj[key] as a whole number >= 0, or -1 when absent or not one. */
long prov_json_count(const cJSON *obj, const char *key);

/*
 * Request building.  prov_http_start fills h with method and the URL
 * base_url + path (base_url must be http:// or https://, trailing slashes
 * dropped; CHAT_EINVAL otherwise).  h is zeroed first, and is always safe
 * to prov_http_release, also after a failure.
 */
int prov_http_start(struct prov_http *h, const char *method,
		    const char *base_url, const char *path);
/* Appends the header "name: value" (CHAT_EINVAL when value holds a
 * control character: a key must not smuggle in a header). */
int prov_http_header(struct prov_http *h, const char *name,
		     const char *value);
/* "Authorization: Bearer <key>" when key is set and not empty. */
int prov_http_bearer(struct prov_http *h, const char *key);
/* A GET of base_url + path that accepts JSON, with pc's key (if any) as
 * a bearer token: the model list of OpenAI and Ollama.  h as for
 * prov_http_start; released again on failure. */
int prov_http_get_json(struct prov_http *h, const struct provider_conf *pc,
		       const char *path);
/* Prints body as the request body, with its Content-Type header. */
int prov_http_json(struct prov_http *h, const cJSON *body);

/* CHAT_EINVAL when p cannot be asked for: no model, or messages missing. */
int prov_params_check(const struct prov_params *p);
/*
 * The start every chat request shares: h started for POST base_url +
 * path (first, so h is safe to release whatever happens), p checked,
 * and *body a new JSON object holding "model" (the caller's to
 * cJSON_Delete; NULL when this fails).
 */
int prov_chat_start(struct prov_http *h, const struct provider_conf *pc,
		    const char *path, const struct prov_params *p,
		    cJSON **body);

/*
 * Sticky JSON builders: each does nothing once *rc is nonzero and sets it
 * to CHAT_ENOMEM when cJSON fails, so a body is built with one check at
 * the end.  key NULL appends to an array parent.
 */
cJSON *prov_jobj(cJSON *parent, const char *key, int *rc);
cJSON *prov_jarr(cJSON *parent, const char *key, int *rc);
void prov_jstr(cJSON *parent, const char *key, const char *val, int *rc);
void prov_jnum(cJSON *parent, const char *key, double val, int *rc);
void prov_jbool(cJSON *parent, const char *key, bool val, int *rc);
/* parent[key] = p's stop sequences as an array (nothing when none). */
void prov_jstop(cJSON *parent, const char *key,
		const struct prov_params *p, int *rc);
/* parent[key] = [{"role","content"}...] of every message of p. */
void prov_jmessages(cJSON *parent, const char *key,
		    const struct prov_params *p, int *rc);

/* Model ids: arr[i][key] of every item of obj[list] that has one.
 * CHAT_EPARSE when body is not an object with that array. */
int prov_models_list(const char *body, size_t len, const char *list,
		     const char *key, char ***names, size_t *n);

/*
 * A readable error for a non-2xx answer: the first of the paths in order
 * that names a string in the body's JSON ("error.message", "error",
 * "message"), else the body itself when it is no JSON; control
 * characters become spaces, cut at a UTF-8 boundary to fit outlen.
 */
void prov_error_text(const char *body, size_t len,
		     const char *const *paths, size_t npaths, char *out,
		     size_t outlen);

#endif
