/*
 * engine.c - one generation, from a resolved model to the last event:
 * prompt assembly, the upstream request and its streamed answer, the
 * echo model's pacing, retries with back-off, fallbacks, the size cap,
 * stop, and the usage row with the generation's events (usage.c writes
 * both).
 *
 * A generation is a small state machine.  Each step runs on one thread
 * at a time: an upstream attempt's callbacks on the loop thread when the
 * provider's URL is http://<IPv4 | localhost>:<port>, else on the curl
 * thread (https, host names) - the daemon's outbound door (http-out.h)
 * decides, and hands an attempt begun on another thread to the loop
 * itself; echo pieces and back-off waits on loop timers
 * (http_server_after), and the hand-over between them through the
 * server's defer queue, which orders memory.  There
 * is never more than one pending step per generation, so nothing needs
 * cancelling: a step that finds the client gone (the sink's keep_going)
 * ends the generation.
 *
 * Failures before the answer began (connect failure, 429, 5xx, a timeout
 * before the head) are retried up to aid.retries times with exponential
 * back-off and full jitter (Retry-After honoured, capped), then the next
 * model of the first model's fallback list is tried.  Once the answer has
 * begun, a failure is an error event: what was produced stays with the
 * caller.
 *
 * Shutdown: engine_release closes the outbound door (running attempts
 * end through their on_done), then ends the generations still waiting on a
 * timer, since the stopped loop will never fire it.
 */
#include "aid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "err.h"
#include "http-client.h"
#include "http-out.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define ENGINE_ERRBODY_MAX (16 * 1024)	/* error answer kept for its message */
#define ENGINE_WAIT_SLICE_MS 100	/* back-off waits look at stop this often */
#define ENGINE_MSG_OVERHEAD 4		/* tokens per message beyond its text */
#define ENGINE_WIRE_FACTOR 64		/* wire bytes allowed per text byte
					 * (OpenAI: ~150 per 3-byte token) */
#define ENGINE_WIRE_EXTRA ((size_t)1 << 20)
/* Without a delay, echo pieces go out in batches of this many, a
 * millisecond apart, so that the socket drains (the answer's output
 * buffer has a ceiling) and the loop serves others meanwhile. */
#define ENGINE_ECHO_BATCH 64
#define ENGINE_ECHO_BATCH_MS 1

enum aid_gen_abort {
	GEN_ABORT_NONE = 0,
	GEN_ABORT_CLIENT,		/* the client went away */
	GEN_ABORT_LENGTH,		/* the answer reached aid.max_response */
	GEN_ABORT_PARSE,		/* the stream is not what it should be */
	GEN_ABORT_ERROR,		/* an error object in the stream */
};

struct aid_gen {
	struct aid *a;
	struct aid_gen *prev, *next;	/* a->live, under a->lock */
	const struct aid_gen_sink *sink;
	void *arg;

	/* the request, owned */
	char id[UUID_STR_LEN];		/* the generation's (events, usage) */
	char request_id[129];
	char user_id[64];
	char purpose[16];
	char conversation_id[UUID_STR_LEN];	/* "": not told */
	char message_id[UUID_STR_LEN];	/* "": not told */
	char *system;			/* NULL when none */
	struct prov_message *msgs;	/* strings owned */
	size_t nmsgs;
	bool trim;
	long max_tokens;
	char **stop;
	size_t nstop;
	bool has_temperature;
	double temperature;
	bool has_top_p;
	double top_p;

	/* the model chain: the target, then its fallbacks */
	struct aid_target target;	/* the model tried now */
	char **chain;			/* fallback names, owned */
	size_t nchain;
	size_t ichain;			/* next fallback to try */
	long attempt;			/* attempts made on target */
	struct prov_message *sent;	/* the prompt of this attempt; strings
					 * borrowed from system/msgs */
	size_t nsent;
	long prompt_est;		/* estimated tokens of sent */

	/* the upstream attempt */
	const struct provider_ops *ops;
	struct prov_stream *stream;	/* owned */
	int status;			/* of the upstream answer */
	bool accepted;			/* a 2xx head came */
	int64_t retry_after_ms;		/* -1: none */
	struct buf errbody;		/* non-2xx answer */
	enum aid_gen_abort abort;
	int64_t wait_until;		/* back-off end, mono_ms */

	/* echo */
	char **pieces;			/* owned */
	size_t npieces;
	size_t ipiece;
	const char *echo_finish;	/* static string */

	/* progress and outcome */
	bool started;			/* sink->on_start ran */
	size_t text_bytes;
	long pieces_out;
	bool has_usage;
	long up_prompt;
	long up_completion;
	char finish[16];
	char errmsg[AID_ERRMSG_MAX];	/* in-stream error, or last failure */
	int64_t t0;			/* mono_ms at the start */
	int64_t t_first;		/* mono_ms of the first piece, 0: none */
};

static void aid_gen_attempt(struct aid_gen *g);
static void aid_gen_defer_attempt(struct aid_gen *g);

static void aid_gen_log(const struct aid_gen *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An info line with the generation's request id: callbacks run on
 * threads that serve many requests, so the id is set for the line only. */
static void aid_gen_log(const struct aid_gen *g, const char *fmt, ...)
{
	char prev[129], line[2 * AID_ERRMSG_MAX];
	const char *p;
	va_list ap;

	if (LOG_LINFO < log_level_current)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	p = log_get_request_id();
	snprintf(prev, sizeof(prev), "%s", p ? p : "");
	log_set_request_id(g->request_id);
	log_write(LOG_LINFO, "%s", line);
	log_set_request_id(prev[0] ? prev : NULL);
}

/* ---- helpers ------------------------------------------------------------- */

static long count_tokens(const char *s)
{
	return s && *s ? prov_count_tokens(s) : 0;
}

static void str_list_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int str_list_copy(const char *const *in, size_t n, char ***out)
{
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(char *));
	if (!*out)
		return CHAT_ENOMEM;
	for (i = 0; i < n; i++) {
		(*out)[i] = strdup(in[i]);
		if (!(*out)[i]) {
			str_list_free(*out, i);
			*out = NULL;
			return CHAT_ENOMEM;
		}
	}
	return 0;
}

size_t engine_trim(const struct prov_message *msgs, size_t n,
		   const char *system, long budget)
{
	size_t must = n, first, i;
	long used;

	if (n == 0)
		return 0;
	for (i = n; i-- > 0;)
		if (strcmp(msgs[i].role, "user") == 0) {
			must = i;
			break;
		}
	if (must == n)
		must = n - 1;		/* no user turn: the last one */
	used = system ? count_tokens(system) + ENGINE_MSG_OVERHEAD : 0;
	for (i = must; i < n; i++)
		used += count_tokens(msgs[i].content) + ENGINE_MSG_OVERHEAD;
	first = must;
	while (first > 0) {
		long t = count_tokens(msgs[first - 1].content) +
			 ENGINE_MSG_OVERHEAD;

		if (used + t > budget)
			break;
		used += t;
		first--;
	}
	/* a conversation sent upstream starts with a user turn (Anthropic
	 * refuses anything else) */
	while (first < must && strcmp(msgs[first].role, "user") != 0)
		first++;
	return first;
}

/* Builds g->sent for the current target and the parameters to send. */
static int aid_gen_params(struct aid_gen *g, struct prov_params *p)
{
	size_t first = 0, i, k = 0;

	if (g->trim) {
		long budget = g->target.context_window -
			(g->max_tokens > 0 ? g->max_tokens : 0);

		first = engine_trim(g->msgs, g->nmsgs, g->system, budget);
	}
	free(g->sent);
	g->sent = calloc(g->nmsgs - first + 1, sizeof(*g->sent));
	if (!g->sent)
		return CHAT_ENOMEM;
	g->prompt_est = 0;
	if (g->system) {
		g->sent[k].role = "system";
		g->sent[k++].content = g->system;
		g->prompt_est += count_tokens(g->system) + ENGINE_MSG_OVERHEAD;
	}
	for (i = first; i < g->nmsgs; i++) {
		g->sent[k++] = g->msgs[i];
		g->prompt_est += count_tokens(g->msgs[i].content) +
				 ENGINE_MSG_OVERHEAD;
	}
	g->nsent = k;
	*p = (struct prov_params){
		.model = g->target.upstream,
		.messages = g->sent,
		.nmessages = g->nsent,
		.max_tokens = g->max_tokens,
		.stop = (const char *const *)g->stop,
		.nstop = g->nstop,
		.has_temperature = g->has_temperature,
		.temperature = g->temperature,
		.has_top_p = g->has_top_p,
		.top_p = g->top_p,
	};
	return 0;
}

static void aid_gen_free(struct aid_gen *g)
{
	size_t i;

	for (i = 0; i < g->nmsgs; i++) {
		free((char *)g->msgs[i].role);
		free((char *)g->msgs[i].content);
	}
	free(g->msgs);
	free(g->system);
	str_list_free(g->stop, g->nstop);
	str_list_free(g->chain, g->nchain);
	free(g->sent);
	if (g->stream && g->ops)
		g->ops->stream_free(g->stream);
	buf_release(&g->errbody);
	prov_names_free(g->pieces, g->npieces);
	free(g);
}

/* Upstreams may quote the key they were sent in an error ("incorrect
 * API key provided: ..."): it never goes further than here. */
static void scrub_key(const struct aid_gen *g, char *msg)
{
	const char *key = g->a->prov[g->target.prov].conf.api_key;
	size_t klen = key ? strlen(key) : 0;
	char *at;

	if (klen < 4)
		return;
	for (at = strstr(msg, key); at; at = strstr(at + 3, key)) {
		memset(at, '*', 3);
		memmove(at + 3, at + klen, strlen(at + klen) + 1);
	}
}

/* ---- the end ---------------------------------------------------------- */

static const char *usage_status(const struct aid_gen_outcome *o)
{
	static const struct {
		const char *code;
		const char *status;
	} map[] = {
		{ "stopped", "stopped" },
		{ "truncated", "truncated" },
		{ "upstream_timeout", "timeout" },
		{ "upstream_unavailable", "unavailable" },
	};
	size_t i;

	if (!o->code)
		return strcmp(o->finish, "length") == 0 ? "length" :
							  "complete";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].code, o->code) == 0)
			return map[i].status;
	return "error";
}

/* Queues the record of kind for the usage writer, with what every one of
 * g's records says; the caller fills in the rest first (*u zeroed). */
static void aid_gen_usage(struct aid_gen *g, enum usage_kind kind,
			  struct usage_rec *u)
{
	u->kind = kind;
	memcpy(u->id, g->id, sizeof(u->id));
	memcpy(u->conversation_id, g->conversation_id,
	       sizeof(u->conversation_id));
	memcpy(u->message_id, g->message_id, sizeof(u->message_id));
	snprintf(u->user_id, sizeof(u->user_id), "%s", g->user_id);
	snprintf(u->model, sizeof(u->model), "%s", g->target.name);
	snprintf(u->provider, sizeof(u->provider), "%s",
		 models_prov_name(g->target.prov));
	snprintf(u->purpose, sizeof(u->purpose), "%s", g->purpose);
	u->created_at = now_ms();
	usage_record(g->a, u);
}

/* Ends the generation: usage row, the sink's on_end, free.  code NULL:
 * success with g->finish. */
static void aid_gen_end(struct aid_gen *g, const char *code,
			int http_status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void aid_gen_end(struct aid_gen *g, const char *code,
			int http_status, const char *fmt, ...)
{
	struct aid *a = g->a;
	struct aid_gen_outcome o = { 0 };
	struct usage_rec u = { 0 };
	char msg[AID_ERRMSG_MAX] = "";
	int64_t now = mono_ms();

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	o.started = g->started;
	o.model = g->target.name;
	o.finish = code ? NULL : (g->finish[0] ? g->finish : "stop");
	o.code = code;
	o.message = code ? msg : NULL;
	o.http_status = http_status;
	o.prompt_tokens = g->has_usage && g->up_prompt > 0 ? g->up_prompt :
							     g->prompt_est;
	o.completion_tokens = g->has_usage && g->up_completion >= 0 ?
		g->up_completion : g->pieces_out;
	o.ttft_ms = g->t_first ? g->t_first - g->t0 : -1;
	o.latency_ms = now - g->t0;

	snprintf(u.status, sizeof(u.status), "%s", usage_status(&o));
	/* the class of a failure is its code; a stop is no failure */
	if (code && strcmp(code, "stopped") != 0)
		snprintf(u.error, sizeof(u.error), "%s", code);
	if (o.finish)
		snprintf(u.finish, sizeof(u.finish), "%s", o.finish);
	u.prompt_tokens = o.prompt_tokens;
	u.completion_tokens = o.completion_tokens;
	u.ttft_ms = o.ttft_ms;
	u.latency_ms = o.latency_ms;
	aid_gen_usage(g, USAGE_END, &u);
	if (code && strcmp(code, "stopped") != 0)
		aid_gen_log(g, "generation on '%s' ended: %s: %s",
			g->target.name, code, msg);

	pthread_mutex_lock(&a->lock);
	if (g->prev)
		g->prev->next = g->next;
	else if (a->live == g)
		a->live = g->next;
	if (g->next)
		g->next->prev = g->prev;
	g->prev = g->next = NULL;
	pthread_mutex_unlock(&a->lock);

	g->sink->on_end(g->arg, &o);
	aid_gen_free(g);
}

static bool aid_gen_closing(struct aid_gen *g)
{
	bool closing;

	pthread_mutex_lock(&g->a->lock);
	closing = g->a->closing;
	pthread_mutex_unlock(&g->a->lock);
	return closing;
}

static void aid_gen_begin(struct aid_gen *g)
{
	if (g->started)
		return;
	g->started = true;
	g->sink->on_start(g->arg, g->target.name);
}

/* A piece of the answer for the caller; nonzero to stop. */
static int aid_gen_text(struct aid_gen *g, const char *text, size_t len)
{
	if (len == 0)
		return 0;
	if (g->text_bytes + len > g->a->max_response) {
		g->abort = GEN_ABORT_LENGTH;
		return 1;
	}
	aid_gen_begin(g);
	if (!g->t_first) {
		struct usage_rec u = { 0 };

		g->t_first = mono_ms();
		u.ttft_ms = g->t_first - g->t0;
		aid_gen_usage(g, USAGE_FIRST_TOKEN, &u);
	}
	if (g->sink->on_text(g->arg, text, len) != 0) {
		g->abort = GEN_ABORT_CLIENT;
		return 1;
	}
	g->text_bytes += len;
	g->pieces_out++;
	return 0;
}

/* ---- retries and fallbacks -------------------------------------------- */

/* The back-off before retry number k (0-based): full jitter under an
 * exponential ceiling; Retry-After, when given, wins (capped). */
static int64_t aid_gen_backoff(struct aid_gen *g, long k)
{
	struct aid *a = g->a;
	int64_t ceil = a->backoff_ms;

	while (k-- > 0 && ceil < a->backoff_max_ms)
		ceil *= 2;
	if (ceil > a->backoff_max_ms)
		ceil = a->backoff_max_ms;
	if (g->retry_after_ms >= 0)
		return g->retry_after_ms < a->backoff_max_ms ?
			g->retry_after_ms : a->backoff_max_ms;
	return (int64_t)randombytes_uniform((uint32_t)ceil + 1);
}

static void aid_gen_wait_tick(void *arg)
{
	struct aid_gen *g = arg;
	int64_t left;

	if (!g->sink->keep_going(g->arg)) {
		aid_gen_end(g, "stopped", 499, "the client went away");
		return;
	}
	left = g->wait_until - mono_ms();
	if (left <= 0) {
		aid_gen_attempt(g);
		return;
	}
	if (http_server_after(g->a->d.server, left < ENGINE_WAIT_SLICE_MS ?
			      left : ENGINE_WAIT_SLICE_MS,
			      aid_gen_wait_tick, g) < 0)
		aid_gen_end(g, "upstream_unavailable", 503, "cannot wait: %s",
			chat_strerror(CHAT_ENOMEM));
}

static void aid_gen_defer_fn(void *arg)
{
	aid_gen_attempt(arg);
}

/* The next attempt on the loop thread, at once. */
static void aid_gen_defer_attempt(struct aid_gen *g)
{
	if (http_server_defer(g->a->d.server, aid_gen_defer_fn, g) < 0)
		aid_gen_end(g, "upstream_unavailable", 503, "%s",
			chat_strerror(CHAT_ENOMEM));
}

/* An attempt failed before the answer began.  retryable: the upstream
 * may answer later (connect failure, 429, 5xx).  Otherwise the failure
 * ends the generation with code and http_status.  g->errmsg holds the
 * reason. */
static void aid_gen_failed(struct aid_gen *g, bool retryable,
			   const char *code, int http_status)
{
	struct aid *a = g->a;

	if (g->stream && g->ops)
		g->ops->stream_free(g->stream);
	g->stream = NULL;
	if (!g->sink->keep_going(g->arg)) {
		aid_gen_end(g, "stopped", 499, "the client went away");
		return;
	}
	if (aid_gen_closing(g)) {
		aid_gen_end(g, "upstream_unavailable", 503, "aid is stopping");
		return;
	}
	if (!retryable || g->started) {
		aid_gen_end(g, code, http_status, "%s", g->errmsg);
		return;
	}
	if (g->attempt <= a->retries) {
		int64_t delay = aid_gen_backoff(g, g->attempt - 1);

		aid_gen_log(g, "retry %ld on '%s' in %lld ms: %s", g->attempt,
			g->target.name, (long long)delay, g->errmsg);
		g->wait_until = mono_ms() + delay;
		if (http_server_after(a->d.server, 0, aid_gen_wait_tick, g) < 0)
			aid_gen_end(g, "upstream_unavailable", 503, "%s",
				g->errmsg);
		return;
	}
	while (g->ichain < g->nchain) {
		const char *next = g->chain[g->ichain++];
		struct aid_target t;

		if (models_resolve(a, next, &t) < 0)
			continue;
		aid_gen_log(g, "'%s' is unavailable (%s), falling back to '%s'",
			g->target.name, g->errmsg, t.name);
		g->target = t;
		g->attempt = 0;
		aid_gen_defer_attempt(g);
		return;
	}
	aid_gen_end(g, "upstream_unavailable", 503, "%s", g->errmsg);
}

/* ---- upstream attempt, loop or curl thread ----------------------------- */

static int prov_text(void *arg, const char *text, size_t len)
{
	return aid_gen_text(arg, text, len);
}

static void prov_usage(void *arg, long prompt, long completion)
{
	struct aid_gen *g = arg;

	g->has_usage = true;
	if (prompt >= 0)
		g->up_prompt = prompt;
	if (completion >= 0)
		g->up_completion = completion;
}

static void prov_finish(void *arg, const char *reason)
{
	struct aid_gen *g = arg;
	static const char *const length_words[] = { "length", "max_tokens",
		"model_length" };
	size_t i;

	snprintf(g->finish, sizeof(g->finish), "stop");
	for (i = 0; i < sizeof(length_words) / sizeof(length_words[0]); i++)
		if (reason && strcmp(reason, length_words[i]) == 0)
			snprintf(g->finish, sizeof(g->finish), "length");
}

static void prov_error(void *arg, const char *message)
{
	struct aid_gen *g = arg;

	if (g->abort == GEN_ABORT_NONE)
		g->abort = GEN_ABORT_ERROR;
	snprintf(g->errmsg, sizeof(g->errmsg), "'%s' reported an error: %s",
		 models_prov_name(g->target.prov),
		 message && *message ? message : "no message");
	scrub_key(g, g->errmsg);
}

static const struct prov_sink prov_sink = {
	.on_text = prov_text,
	.on_usage = prov_usage,
	.on_finish = prov_finish,
	.on_error = prov_error,
};

/* Retry-After in seconds (an HTTP date is ignored: back-off instead). */
static int64_t retry_after(const char *v)
{
	char *end;
	long s;

	while (*v == ' ' || *v == '\t')
		v++;
	s = strtol(v, &end, 10);
	if (end == v || s < 0 || (*end && *end != ' ' && *end != '\r'))
		return -1;
	return s > 86400 ? 86400000 : (int64_t)s * 1000;
}

static int up_head(void *arg, int status, const char *const *h, size_t n)
{
	struct aid_gen *g = arg;
	size_t i;

	g->status = status;
	if (status >= 200 && status < 300) {
		g->accepted = true;
		aid_gen_begin(g);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (strncasecmp(h[i], "retry-after:", 12) == 0)
			g->retry_after_ms = retry_after(h[i] + 12);
	return 0;
}

static int up_data(void *arg, const char *data, size_t len)
{
	struct aid_gen *g = arg;
	int rc;

	if (!g->accepted) {
		size_t room = ENGINE_ERRBODY_MAX - g->errbody.len;

		buf_append(&g->errbody, data, len < room ? len : room);
		return 0;
	}
	if (g->abort != GEN_ABORT_NONE)
		return 1;
	rc = g->ops->stream_feed(g->stream, data, len);
	if (rc == 0 && g->abort == GEN_ABORT_NONE)
		return 0;
	if (g->abort == GEN_ABORT_NONE) {
		g->abort = GEN_ABORT_PARSE;
		snprintf(g->errmsg, sizeof(g->errmsg), "'%s' sent %s",
			 models_prov_name(g->target.prov),
			 rc == CHAT_ETOOBIG ? "an event that is too large" :
					      "an unreadable stream");
	}
	return 1;
}

static int up_keep_going(void *arg)
{
	struct aid_gen *g = arg;

	return g->sink->keep_going(g->arg);
}

/* The answer had begun; how it ended. */
static void up_done_accepted(struct aid_gen *g, int rc)
{
	const char *prov = models_prov_name(g->target.prov);
	int end_rc;

	if (g->abort == GEN_ABORT_CLIENT ||
	    (rc == CHAT_ECANCELED && !g->sink->keep_going(g->arg))) {
		aid_gen_end(g, "stopped", 499, "the client went away");
		return;
	}
	if (g->abort == GEN_ABORT_LENGTH || rc == CHAT_ETOOBIG) {
		snprintf(g->finish, sizeof(g->finish), "length");
		aid_gen_end(g, NULL, 200, NULL);
		return;
	}
	if (g->abort == GEN_ABORT_ERROR || g->abort == GEN_ABORT_PARSE) {
		aid_gen_end(g, "upstream_error", 502, "%s", g->errmsg);
		return;
	}
	if (rc == CHAT_ETIMEDOUT) {
		aid_gen_end(g, "upstream_timeout", 504, "'%s' sent nothing for "
			"%ld ms", prov, g->a->idle_timeout_ms);
		return;
	}
	if (rc == CHAT_ECANCELED) {
		aid_gen_end(g, "upstream_error", 502, "aid is stopping");
		return;
	}
	end_rc = g->ops->stream_end(g->stream);
	if (g->abort == GEN_ABORT_ERROR) {
		aid_gen_end(g, "upstream_error", 502, "%s", g->errmsg);
		return;
	}
	if (rc != 0 || end_rc == CHAT_ECLOSED) {
		aid_gen_end(g, "truncated", 502, "'%s' ended the stream before "
			"its end", prov);
		return;
	}
	aid_gen_end(g, NULL, 200, NULL);
}

static void up_done(void *arg, int rc)
{
	struct aid_gen *g = arg;
	const char *prov = models_prov_name(g->target.prov);
	char detail[AID_ERRMSG_MAX] = "";

	if (g->accepted) {
		up_done_accepted(g, rc);
		return;
	}
	if (rc == CHAT_ECANCELED || g->status == 0) {
		snprintf(g->errmsg, sizeof(g->errmsg), "cannot reach '%s': %s",
			 prov, chat_strerror(rc ? rc : CHAT_EUPSTREAM));
		aid_gen_failed(g, true, "upstream_unavailable", 503);
		return;
	}
	if (g->errbody.len && g->ops->error_message)
		g->ops->error_message(g->errbody.data, g->errbody.len, detail,
				      sizeof(detail));
	if (g->status >= 300 && g->status < 400) {
		snprintf(g->errmsg, sizeof(g->errmsg), "'%s' answered with a "
			 "redirect (%d), which is not followed", prov,
			 g->status);
		aid_gen_failed(g, false, "upstream_error", 502);
		return;
	}
	snprintf(g->errmsg, sizeof(g->errmsg), "'%s' answered %d%s%.200s", prov,
		 g->status, detail[0] ? ": " : "", detail);
	scrub_key(g, g->errmsg);
	buf_reset(&g->errbody);
	if (g->status == 429 || g->status >= 500)
		aid_gen_failed(g, true, "upstream_unavailable", 503);
	else
		aid_gen_failed(g, false, "upstream_error", 502);
}

static void upstream_begin(struct aid_gen *g)
{
	static const struct http_client_cb cb = {
		.on_head = up_head,
		.on_data = up_data,
		.on_done = up_done,
		.keep_going = up_keep_going,
	};
	struct aid *a = g->a;
	struct aid_provider *p = &a->prov[g->target.prov];
	struct prov_http h = { 0 };
	struct prov_params params;
	struct http_request req = { 0 };
	int rc;

	g->ops = p->ops;
	g->status = 0;
	g->accepted = false;
	g->retry_after_ms = -1;
	g->abort = GEN_ABORT_NONE;
	buf_reset(&g->errbody);
	if (!p->active || !p->ops) {
		snprintf(g->errmsg, sizeof(g->errmsg), "provider '%s' is not "
			 "configured", p->kind);
		g->attempt = a->retries + 1;	/* no point retrying */
		aid_gen_failed(g, true, "upstream_unavailable", 503);
		return;
	}
	rc = aid_gen_params(g, &params);
	if (rc == 0)
		rc = p->ops->build(&p->conf, &params, &h);
	if (rc == 0)
		rc = p->ops->stream_new(&prov_sink, g, &g->stream);
	if (rc < 0) {
		prov_http_release(&h);
		snprintf(g->errmsg, sizeof(g->errmsg), "cannot make the "
			 "request for '%s': %s", p->kind, chat_strerror(rc));
		aid_gen_failed(g, false, "upstream_error", 502);
		return;
	}
	req.method = h.method;
	req.url = h.url;
	req.headers = (const char *const *)h.headers;
	req.body = h.body;
	req.body_len = h.body_len;
	req.connect_timeout_ms = a->connect_timeout_ms;
	req.idle_timeout_ms = a->idle_timeout_ms;
	req.max_response = a->max_response * ENGINE_WIRE_FACTOR +
			   ENGINE_WIRE_EXTRA;
	/* g may be gone once this returns 0 */
	rc = http_out_start(a->d.out, &req, &cb, g);
	prov_http_release(&h);		/* the client copied what it needs */
	if (rc < 0) {
		snprintf(g->errmsg, sizeof(g->errmsg), "cannot call '%s': %s",
			 p->kind, chat_strerror(rc));
		aid_gen_failed(g, true, "upstream_unavailable", 503);
	}
}

/* ---- echo, loop thread --------------------------------------------------- */

static void echo_step(void *arg)
{
	struct aid_gen *g = arg;
	const char *piece;

	for (;;) {
		if (!g->sink->keep_going(g->arg)) {
			aid_gen_end(g, "stopped", 499, "the client went away");
			return;
		}
		if (g->ipiece >= g->npieces) {
			snprintf(g->finish, sizeof(g->finish), "%s",
				 g->echo_finish ? g->echo_finish : "stop");
			aid_gen_end(g, NULL, 200, NULL);
			return;
		}
		piece = g->pieces[g->ipiece++];
		if (aid_gen_text(g, piece, strlen(piece)) != 0) {
			if (g->abort == GEN_ABORT_LENGTH) {
				snprintf(g->finish, sizeof(g->finish),
					 "length");
				aid_gen_end(g, NULL, 200, NULL);
			} else {
				aid_gen_end(g, "stopped", 499,
					"the client went away");
			}
			return;
		}
		if (g->ipiece < g->npieces &&
		    (g->a->echo_delay_ms > 0 ||
		     g->ipiece % ENGINE_ECHO_BATCH == 0))
			break;
	}
	if (aid_gen_closing(g) ||
	    http_server_after(g->a->d.server, g->a->echo_delay_ms > 0 ?
			      g->a->echo_delay_ms : ENGINE_ECHO_BATCH_MS,
			      echo_step, g) < 0)
		aid_gen_end(g, "upstream_error", 502, "aid is stopping");
}

static void echo_begin(struct aid_gen *g)
{
	struct prov_params params;
	int rc;

	rc = aid_gen_params(g, &params);
	if (rc == 0)
		rc = echo_plan(&params, &g->pieces, &g->npieces,
			       &g->echo_finish);
	if (rc < 0) {
		aid_gen_end(g, "upstream_error", 502, "echo: %s",
			chat_strerror(rc));
		return;
	}
	g->has_usage = false;
	aid_gen_begin(g);
	echo_step(g);
}

/* ---- attempts ------------------------------------------------------------ */

/* Loop thread (or the caller's at the start). */
static void aid_gen_attempt(struct aid_gen *g)
{
	if (!g->sink->keep_going(g->arg)) {
		aid_gen_end(g, "stopped", 499, "the client went away");
		return;
	}
	g->attempt++;
	if (g->target.prov == AID_PROV_ECHO)
		echo_begin(g);
	else
		upstream_begin(g);
}

int engine_start(struct aid *a, const struct aid_gen_request *req,
		 const struct aid_gen_sink *sink, void *arg)
{
	struct aid_gen *g;
	size_t i;
	int rc = 0;

	g = calloc(1, sizeof(*g));
	if (!g)
		return CHAT_ENOMEM;
	g->a = a;
	g->sink = sink;
	g->arg = arg;
	g->t0 = mono_ms();
	buf_init(&g->errbody, ENGINE_ERRBODY_MAX);
	rc = uuid_v7(g->id);
	snprintf(g->request_id, sizeof(g->request_id), "%s",
		 req->request_id ? req->request_id : "-");
	/* ids chatd tells are checked by the caller; others are dropped */
	if (!req->conversation_id ||
	    !uuid_norm(req->conversation_id, g->conversation_id))
		g->conversation_id[0] = '\0';
	if (!req->message_id || !uuid_norm(req->message_id, g->message_id))
		g->message_id[0] = '\0';
	snprintf(g->user_id, sizeof(g->user_id), "%s",
		 req->user_id ? req->user_id : "");
	snprintf(g->purpose, sizeof(g->purpose), "%s",
		 req->purpose ? req->purpose : "chat");
	g->target = *req->target;
	g->trim = req->trim;
	g->max_tokens = req->max_tokens;
	g->has_temperature = req->has_temperature;
	g->temperature = req->temperature;
	g->has_top_p = req->has_top_p;
	g->top_p = req->top_p;
	if (req->system_prompt) {
		g->system = strdup(req->system_prompt);
		if (!g->system)
			rc = CHAT_ENOMEM;
	}
	if (rc == 0 && req->nmessages) {
		g->msgs = calloc(req->nmessages, sizeof(*g->msgs));
		if (!g->msgs)
			rc = CHAT_ENOMEM;
	}
	for (i = 0; rc == 0 && i < req->nmessages; i++) {
		g->nmsgs = i + 1;
		g->msgs[i].role = strdup(req->messages[i].role);
		g->msgs[i].content = strdup(req->messages[i].content);
		if (!g->msgs[i].role || !g->msgs[i].content)
			rc = CHAT_ENOMEM;
	}
	if (rc == 0) {
		rc = str_list_copy(req->stop, req->nstop, &g->stop);
		g->nstop = g->stop ? req->nstop : 0;
	}
	if (rc == 0 && req->target->model) {
		rc = str_list_copy((const char *const *)
				   req->target->model->fallbacks,
				   req->target->model->nfallbacks, &g->chain);
		g->nchain = g->chain ? req->target->model->nfallbacks : 0;
	}
	if (rc < 0) {
		aid_gen_free(g);
		return rc;
	}
	pthread_mutex_lock(&a->lock);
	if (a->closing) {
		rc = CHAT_EBUSY;
	} else {
		g->next = a->live;
		if (a->live)
			a->live->prev = g;
		a->live = g;
	}
	pthread_mutex_unlock(&a->lock);
	if (rc < 0) {
		aid_gen_free(g);
		return rc;
	}
	/* before the first attempt, which may end g at once */
	aid_gen_usage(g, USAGE_STARTED, &(struct usage_rec){ .ttft_ms = -1 });
	aid_gen_attempt(g);
	return 0;
}

int engine_init(struct aid *a, char *err, size_t errlen)
{
	pthread_mutex_init(&a->lock, NULL);
	a->live = NULL;
	a->closing = false;
	(void)err;
	(void)errlen;
	return 0;
}

void engine_release(struct aid *a)
{
	struct aid_gen *g;

	pthread_mutex_lock(&a->lock);
	a->closing = true;
	pthread_mutex_unlock(&a->lock);
	/* running attempts end through their on_done, here, and so do
	 * starts the stopped loop never ran: this is its thread, the server
	 * is alive */
	http_out_close(a->d.out);
	/* the rest wait on timers the stopped loop will never fire */
	for (;;) {
		pthread_mutex_lock(&a->lock);
		g = a->live;
		pthread_mutex_unlock(&a->lock);
		if (!g)
			break;
		if (g->stream && g->ops)
			g->ops->stream_free(g->stream);
		g->stream = NULL;
		aid_gen_end(g, "upstream_unavailable", 503, "aid is stopping");
	}
	pthread_mutex_destroy(&a->lock);
}
