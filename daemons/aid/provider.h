/*
 * provider.h - the seam between aid's generation engine (engine.c, which
 * owns HTTP, retries, fallbacks, timeouts and stop) and the LLM providers
 * (provider-*.c, which know one wire format each and do no I/O).
 *
 * A provider turns a prompt into an upstream HTTP request (build), parses
 * the streamed answer incrementally (stream_*), and lists models.  Parsers
 * take bytes split anywhere and report whole UTF-8 text pieces, usage,
 * the finish reason and in-stream errors through struct prov_sink.
 *
 * The echo provider has no wire format: echo_plan() gives the pieces it
 * streams, and the engine paces them.
 */
#ifndef CHAT_AID_PROVIDER_H
#define CHAT_AID_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

struct prov_message {
	const char *role;		/* "system", "user", "assistant" */
	const char *content;
};

/* One generation as the provider must ask for it.  Always streamed. */
struct prov_params {
	const char *model;		/* the upstream's own model name */
	const struct prov_message *messages;	/* a system message first,
						 * if any */
	size_t nmessages;
	long max_tokens;		/* 0: the provider's default */
	const char *const *stop;	/* stop sequences */
	size_t nstop;
	bool has_temperature;
	double temperature;
	bool has_top_p;
	double top_p;
};

/* One configured upstream (from aid's config; never from a request). */
struct provider_conf {
	const char *kind;		/* "openai", "ollama", "anthropic" */
	const char *base_url;		/* "https://api.openai.com/v1",
					 * "http://127.0.0.1:11434",
					 * "https://api.anthropic.com" */
	const char *api_key;		/* NULL when none; never logged */
};

/* An upstream request, every string owned (prov_http_release). */
struct prov_http {
	char *method;			/* "POST" / "GET" */
	char *url;
	char **headers;			/* "Name: value", NULL-terminated */
	char *body;			/* NULL for GET */
	size_t body_len;
};

void prov_http_release(struct prov_http *h);

/* What a stream parser reports.  Callbacks run on the thread feeding the
 * parser.  on_text returning nonzero stops the parse (feed returns it). */
struct prov_sink {
	int (*on_text)(void *arg, const char *text, size_t len);
	/* a count the upstream did not give is -1; may come more than once
	 * (the last one holds) */
	void (*on_usage)(void *arg, long prompt_tokens,
			 long completion_tokens);
	/* the upstream ended the answer: "stop", "length" (or its own word) */
	void (*on_finish)(void *arg, const char *reason);
	/* an error object inside the stream; the stream is over after it */
	void (*on_error)(void *arg, const char *message);
};

struct prov_stream;

struct provider_ops {
	const char *kind;
	/* The streaming chat request for p. */
	int (*build)(const struct provider_conf *pc,
		     const struct prov_params *p, struct prov_http *out);
	int (*stream_new)(const struct prov_sink *sink, void *arg,
			  struct prov_stream **out);
	/* 0, a callback's nonzero return, CHAT_EPARSE (not this wire
	 * format), CHAT_ETOOBIG (an event past the ceiling). */
	int (*stream_feed)(struct prov_stream *s, const char *data,
			   size_t len);
	/* The body ended.  0 when the stream's end marker came (or an
	 * error was reported), CHAT_ECLOSED when it was cut without one. */
	int (*stream_end)(struct prov_stream *s);
	void (*stream_free)(struct prov_stream *s);
	/* The model list request (GET); NULL when the provider has none. */
	int (*models_build)(const struct provider_conf *pc,
			    struct prov_http *out);
	/* Model ids from that answer; *names (each string and the array)
	 * is the caller's: prov_names_free. */
	int (*models_parse)(const char *body, size_t len, char ***names,
			    size_t *n);
	/* A readable message from a non-2xx answer's body, into out
	 * (never the request, never a key). */
	void (*error_message)(const char *body, size_t len, char *out,
			      size_t outlen);
};

extern const struct provider_ops provider_openai;
extern const struct provider_ops provider_ollama;
extern const struct provider_ops provider_anthropic;

/* The ops for kind, NULL when unknown. */
const struct provider_ops *provider_find(const char *kind);

void prov_names_free(char **names, size_t n);

/*
 * echo: the pieces the echo model streams for these messages: the last
 * user message's text, word by word (each piece a word with the spaces
 * before it), at most max_tokens pieces (0: no limit), cut before the
 * first stop sequence.  *finish gets "stop" or "length".  The array and
 * its strings are the caller's (prov_names_free).
 */
int echo_plan(const struct prov_params *p, char ***pieces, size_t *n,
	      const char **finish);

/* A rough token count for text (upstreams that report no usage, echo):
 * about one token per 4 bytes, at least one per word. */
long prov_count_tokens(const char *text);

#endif
