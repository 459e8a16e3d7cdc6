/*
 * aid.h - the AI service: models and providers, prompt assembly, the
 * streaming generation engine with retries, fallbacks, timeouts and stop,
 * the OpenAI-compatible API and the internal generation API of chatd,
 * and the usage table.
 *
 * Files: main.c (spec, routes, config), models.c (the model registry:
 * configured models, aliases, fallbacks, providers, discovery), engine.c
 * (one generation: upstream attempts on the loop thread for local
 * http:// upstreams, else on the curl thread; echo pacing and back-off
 * on loop timers), internal.c (POST /internal/generate),
 * openai-api.c (/v1/models, /v1/chat/completions), usage.c (usage rows,
 * written by a worker), admin.c (the admin model list with upstream
 * probes, a user's erasure), wire.c (JSON and SSE writing helpers),
 * migrations.c (schema).  The wire formats of the upstreams are in
 * provider*.c behind provider.h.
 *
 * Threads: handlers run on the loop thread and never block (but for
 * admin.c's, on the worker pool).  A
 * generation's events come from one thread at a time: the curl thread
 * while an upstream request through libcurl runs, the loop thread for
 * the others (http-out.h decides) and for timers.  The model
 * registry is built at start and read-only afterwards.
 */
#ifndef CHAT_AID_H
#define CHAT_AID_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "daemon.h"
#include "db.h"
#include "http-server.h"
#include "provider.h"
#include "uuid.h"

#define AID_MODEL_NAME_MAX 128		/* bytes of a model name */
#define AID_ERRMSG_MAX 256		/* bytes of an error message */
#define AID_MAX_BODY (16 * 1024 * 1024)	/* default aid.max_body */
#define AID_ERASED_MAX 32		/* users erased lately, remembered */
#define AID_ERASED_KEEP_MS (10 * 60 * 1000)	/* longer than a generation */

/* The upstream providers aid can talk to, indexed by enum aid_prov. */
enum aid_prov {
	AID_PROV_OPENAI = 0,
	AID_PROV_OLLAMA,
	AID_PROV_ANTHROPIC,
	AID_PROV_COUNT,
	AID_PROV_ECHO = AID_PROV_COUNT,	/* built in, no upstream */
};

struct aid_provider {
	const char *kind;		/* "openai", ... */
	bool active;			/* configured (or Ollama detected) */
	const struct provider_ops *ops;
	struct provider_conf conf;	/* strings in base_url / cfg */
	char base_url[1024];		/* without a trailing slash */
	char **discovered;		/* model ids listed at start; owned */
	size_t ndiscovered;
};

/* A named model of the configuration. */
struct aid_model {
	char *name;			/* owned */
	enum aid_prov prov;
	char *upstream;			/* owned; the provider's model name */
	long context_window;		/* tokens */
	char **aliases;			/* owned */
	size_t naliases;
	char **fallbacks;		/* owned: model names, in order */
	size_t nfallbacks;
};

/* A model name resolved for one request. */
struct aid_target {
	char name[AID_MODEL_NAME_MAX + 1];	/* public name */
	enum aid_prov prov;
	char upstream[AID_MODEL_NAME_MAX + 1];
	long context_window;
	const struct aid_model *model;	/* NULL when not a configured one */
};

struct internal_call;

struct aid {
	struct daemon d;		/* first: req->app points here */
	/* [aid] settings */
	const char *default_model;
	long echo_delay_ms;
	long retries;			/* extra attempts per model */
	long backoff_ms;		/* first back-off ceiling */
	long backoff_max_ms;		/* ceiling of any wait */
	long idle_timeout_ms;
	long connect_timeout_ms;
	long context_window;		/* for models not configured */
	size_t max_response;		/* bytes of answer text */
	long coalesce_ms;		/* deltas this close travel as one */
	int64_t started_s;		/* unix seconds, "created" of models */
	/* registry (models.c), read-only after init */
	struct aid_provider prov[AID_PROV_COUNT];
	struct aid_model *models;	/* owned */
	size_t nmodels;
	/* engine */
	pthread_mutex_t lock;		/* live list */
	struct aid_gen *live;		/* generations in flight */
	bool closing;			/* under lock: no new generation */
	/* /internal/generate calls that ended with a flush timer armed
	 * (internal.c); freed by the timer or internal_release */
	pthread_mutex_t ic_lock;
	struct internal_call *ic_zombies;
	/* usage writer: its own worker, alive until after the engine */
	struct pool *usage_pool;	/* owned */
	pthread_mutex_t usage_lock;	/* the fields below */
	struct usage_job *usage_head;	/* rows waiting, oldest first */
	struct usage_job *usage_tail;
	size_t usage_queued;
	bool usage_draining;		/* a drain job is queued or running */
	bool usage_stopping;		/* usage_release: write, don't wait */
	pthread_cond_t usage_cond;	/* a full batch or the stop */
	/* users erased lately (usage_forget_user): a generation of theirs
	 * that ends after the erasure records nothing; under usage_lock */
	char usage_erased[AID_ERASED_MAX][64];
	int64_t usage_erased_until[AID_ERASED_MAX];	/* mono_ms */
	size_t usage_erased_next;	/* the slot to take next */
};

/* migrations.c */
extern const struct db_migration aid_migrations[];
extern const size_t aid_migrations_count;

/* models.c */
/* Reads providers and models from the config, detects Ollama, lists the
 * upstreams' models (blocking: start only). */
int models_init(struct aid *a, char *err, size_t errlen);
void models_release(struct aid *a);
/* Resolves a public model name; CHAT_ENOTFOUND when unknown. */
int models_resolve(const struct aid *a, const char *name,
		   struct aid_target *out);
/* The provider name of p ("echo" for the built-in one). */
const char *models_prov_name(enum aid_prov p);
/* Calls fn for every model of the public list, each name once. */
void models_each(const struct aid *a,
		 void (*fn)(void *arg, const char *name, const char *owner),
		 void *arg);

/* engine.c */

/* How a generation ended. */
struct aid_gen_outcome {
	bool started;			/* on_start ran */
	const char *model;		/* public name of the model used */
	const char *finish;		/* "stop", "length"; NULL on failure */
	/* failure: NULL when none; "stopped" when the client went away,
	 * else upstream_error, truncated, upstream_timeout,
	 * upstream_unavailable */
	const char *code;
	const char *message;		/* of a failure */
	int http_status;		/* of a failure before on_start */
	long prompt_tokens;
	long completion_tokens;
	int64_t ttft_ms;		/* -1: no token */
	int64_t latency_ms;
};

/* Where a generation reports; any thread (one at a time). */
struct aid_gen_sink {
	/* the answer begins (upstream accepted, or echo); model: public
	 * name of the model that answers */
	void (*on_start)(void *arg, const char *model);
	/* a UTF-8 piece; nonzero stops the generation (client gone) */
	int (*on_text)(void *arg, const char *text, size_t len);
	/* last call; arg may be freed in it */
	void (*on_end)(void *arg, const struct aid_gen_outcome *o);
	/* false once the client has gone away */
	bool (*keep_going)(void *arg);
};

struct aid_gen_request {
	const char *user_id;		/* for usage */
	const char *purpose;		/* "chat", "title", "api" */
	const char *request_id;
	/* what chatd generates for (its events' ids), NULL: not told */
	const char *conversation_id;
	const char *message_id;
	const struct aid_target *target;
	const char *system_prompt;	/* may be NULL */
	const struct prov_message *messages;	/* no system ones */
	size_t nmessages;
	bool trim;			/* fit the context window */
	long max_tokens;
	const char *const *stop;
	size_t nstop;
	bool has_temperature;
	double temperature;
	bool has_top_p;
	double top_p;
};

/* Starts a generation; everything in req is copied.  On success the sink
 * gets on_start (maybe), on_text (0..n) and exactly one on_end - maybe
 * before engine_start returns.  On failure no callback runs. */
int engine_start(struct aid *a, const struct aid_gen_request *req,
		 const struct aid_gen_sink *sink, void *arg);
int engine_init(struct aid *a, char *err, size_t errlen);
/* Stops every generation (their on_end runs), frees the engine. */
void engine_release(struct aid *a);

/* Prompt assembly: the index of the first of msgs to send, so that the
 * estimated tokens of system + msgs[first..n) fit in budget, keeping the
 * newest turns; the last user message and what follows it always stay. */
size_t engine_trim(const struct prov_message *msgs, size_t n,
		   const char *system, long budget);

/* usage.c */
/* What a record of the usage writer is: a step of a generation told as
 * an event (chat.generation.*, issue 13), and at its end the usage row
 * too, written in the same batch transaction as the event. */
enum usage_kind {
	USAGE_STARTED = 0,		/* chat.generation.started */
	USAGE_FIRST_TOKEN,		/* chat.generation.first_token */
	USAGE_END,			/* the usage row, and .completed,
					 * .stopped or .failed by status */
};

struct usage_rec {
	enum usage_kind kind;
	char id[UUID_STR_LEN];		/* the generation's; the row's id */
	char user_id[64];
	char model[AID_MODEL_NAME_MAX + 1];
	char provider[16];
	char purpose[16];
	char status[24];		/* USAGE_END: complete, length,
					 * stopped, truncated, timeout,
					 * unavailable, error */
	char error[32];			/* failure's class (the code); "" */
	char finish[16];		/* finish reason of a success; "" */
	char conversation_id[UUID_STR_LEN];	/* "": not told */
	char message_id[UUID_STR_LEN];	/* "": not told */
	long prompt_tokens;
	long completion_tokens;
	int64_t ttft_ms;		/* -1: no token */
	int64_t latency_ms;
	int64_t created_at;
};

/* Queues a record for the usage writer; never blocks (drops it with a
 * warning when the queue is full).  The writer commits a batch at most
 * USAGE_FLUSH_MS after its first record, so an event's time (its write)
 * is at most that late.  Any thread. */
void usage_record(struct aid *a, const struct usage_rec *r);
int usage_init(struct aid *a, char *err, size_t errlen);
/* Writes what is queued, stops the writer. */
void usage_release(struct aid *a);
/* Drops the queued rows of user_id, and the rows its generations still
 * running will record (for AID_ERASED_KEEP_MS), then waits up to wait_ms
 * for a batch already being written to land.  Worker threads (it may
 * sleep). */
void usage_forget_user(struct aid *a, const char *user_id, int64_t wait_ms);

/* admin.c (worker pool: both block) */
/* GET /v1/admin/models: every model and whether its upstream answers. */
void admin_models_handler(struct http_req *req, struct http_res *res);
/* POST /internal/users/{id}/erase: the user's usage rows go. */
void admin_erase_usage_handler(struct http_req *req, struct http_res *res);

/* internal.c */
void internal_generate_handler(struct http_req *req, struct http_res *res);
/* Frees the calls whose flush timer never fired; after the loop stopped
 * and engine_release. */
void internal_release(struct aid *a);

/* openai-api.c */
/* GET /v1/models and GET /v1/models/{id} */
void openai_models_handler(struct http_req *req, struct http_res *res);
void openai_chat_handler(struct http_req *req, struct http_res *res);

/* wire.c */
/* Appends s[0..len) as a JSON string literal, quotes included. */
int wire_json_string(struct buf *b, const char *s, size_t len);

#endif
