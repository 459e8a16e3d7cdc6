/*
 * live.h - the live half of chatd, private to live.c, gen.c, hub.c,
 * send.c and ws.c: the event hub, the generation registry, one
 * generation, and the seams between them.  chatd.h is the public seam
 * with the store half.
 *
 * Threads, in short: the hub is one mutex-guarded structure that any
 * thread may publish to; a generation is fed on the server's loop thread
 * (http-out.h; on the curl thread when aid's URL needs libcurl) and
 * written to the store by live's writer thread (one thread, so the
 * writes of a generation happen in order and many generations share one
 * transaction); REST handlers and WebSocket frames that need the store
 * run on the daemon's worker pool.
 */
#ifndef CHAT_CHATD_LIVE_H
#define CHAT_CHATD_LIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "chatd.h"
#include "http-client.h"
#include "http-out.h"
#include "http-ws.h"
#include "sse-parse.h"

/* Event types (also the SSE event names and the WS frame types). */
#define EV_MESSAGE	"message"	/* a generation starts */
#define EV_DELTA	"delta"
#define EV_DONE		"done"		/* a generation ends */
#define EV_ERROR	"error"		/* a generation ends */
#define EV_CONVERSATION	"conversation"
#define EV_CONV_DELETED	"conversation_deleted"
#define EV_RESET	"reset"
#define EV_READY	"ready"		/* a WebSocket's place, ?ready=1 */
#define EV_NOTIFICATION	"notification"	/* notifyd's, notify.c */

/* Kept per user: this many events, for this long. */
#define HUB_LOG_MAX	1024
#define HUB_LOG_MS	(10 * 60 * 1000)
/* SSE streams quiet this long get a comment line (keep-alive). */
#define HUB_KEEPALIVE_MS 15000
/* Store writes of a streaming answer come at most this often. */
#define GEN_WRITE_MS	250
/* Ceiling of one answer's text; past it the answer ends "truncated". */
#define GEN_TEXT_MAX	(4 * 1024 * 1024)
/* aid silent this long mid-answer: the generation fails. */
#define GEN_IDLE_MS	(5 * 60 * 1000)

/* ---- hub.c: event ids, per-user log, fan-out ------------------------ */

struct hub;
struct hub_sub;		/* a subscription (here: a WebSocket's) */

int hub_new(struct hub **out);
/* Ends every SSE stream still subscribed and drops the WebSocket
 * subscriptions (at exit the connections close after the hub is gone:
 * ws.c then leaves them alone). */
void hub_free(struct hub *h);

/* Parses an event id ("123"): CHAT_EINVAL unless 1..20 decimal digits
 * that fit in 64 bits. */
int hub_id_parse(const char *s, uint64_t *out);
/* A fresh id that no event will ever have (for answers replayed from the
 * idempotency store). */
uint64_t hub_next_id(struct hub *h);

/*
 * Publishes an event of user_id (conv_id may be NULL): gives it the next
 * id, keeps it in the user's log and sends it to the user's WebSockets
 * and, for generation events, to SSE streams of that conversation.
 * data is JSON text (copied).  "message" marks the conversation as
 * generating, "done" and "error" clear that, in the same step.  *id
 * (may be NULL) gets the id.  Any thread; never blocks.
 */
int hub_publish(struct hub *h, const char *user_id, const char *conv_id,
		const char *type, const char *data, uint64_t *id);

/* Whether user_id is one an event goes to (hub_publish_connected). */
typedef bool (*hub_user_fn)(const char *user_id, void *arg);
/*
 * hub_publish of the same event to every user with a WebSocket open
 * right now for whom want says yes (a broadcast): each gets it in its
 * log and on its sockets.  Users without a socket get nothing (they see
 * it in the next list).  Any thread; never blocks.
 */
int hub_publish_connected(struct hub *h, hub_user_fn want, void *arg,
			  const char *type, const char *data);

/*
 * Hands the SSE answer res (begun, text/event-stream) to the hub for
 * conv_id's generation events: with has_after, first the kept ones after
 * `after` (a "reset" event instead when that id is older than the log),
 * then live ones.  The hub ends res after the conversation's first
 * "done"/"error", at once when nothing more can come (no generation
 * runs), or when the client has gone.  On success res is the hub's (the
 * caller makes no further call on it); on failure it is still the
 * caller's.
 */
int hub_sse_subscribe(struct hub *h, const char *user_id,
		      const char *conv_id, bool has_after, uint64_t after,
		      struct http_res *res);

/* Subscribes WebSocket ws (borrowed until hub_ws_unsubscribe) to every
 * event of user_id, after replaying the kept events after `after` when
 * has_after; then, when ready, sends a "ready" event whose id is the
 * socket's place in the log. */
int hub_ws_subscribe(struct hub *h, const char *user_id, bool has_after,
		     uint64_t after, bool ready, struct http_ws *ws,
		     struct hub_sub **out);
/* Sends the kept events after `after` this WebSocket has not had (no
 * duplicates of what it got live); "reset" first when too old. */
void hub_ws_resume(struct hub *h, struct hub_sub *s, uint64_t after);
void hub_ws_unsubscribe(struct hub *h, struct hub_sub *s);

/* How many clients user_id has connected right now: open WebSockets
 * and SSE streams whose client is still there (chat.message.finished's
 * clients_connected).  Any thread; never blocks. */
size_t hub_clients(struct hub *h, const char *user_id);

/* Housekeeping: drops expired events and idle users, sends keep-alives
 * to quiet SSE streams (ending those whose client has gone). */
void hub_cron(struct hub *h);

/* ---- gen.c: one generation ------------------------------------------ */

/* What a generation needs to start (copied where kept). */
struct gen_spec {
	const char *user_id;
	const char *role;
	const char *request_id;
	const struct chat_conv *conv;	/* the conversation as loaded */
	const struct chat_msg *user_msg;	/* the message answered */
	bool new_user_msg;		/* user_msg is new: store it too */
	const struct chat_msg *asst;	/* the placeholder (streaming) */
	const struct chat_msg *history;	/* root .. user_msg, without a
					 * new user_msg (it follows) */
	size_t nhistory;
	const char *model;		/* for aid; NULL: its default */
	const char *system_prompt;	/* NULL: none */
	const char *idem_key;		/* NULL: none */
	struct http_res *waiter;	/* the 201 form's answer, or NULL */
	bool want_title;		/* the conversation has no title */
	const char *first_user_content;	/* the root, for titles */
};

enum gen_stop {
	GEN_RUN = 0,
	GEN_STOP_CLIENT,		/* stop asked by a client */
	GEN_STOP_EXIT,			/* chatd is stopping */
	GEN_STOP_STORE,			/* its rows cannot be stored */
};

/*
 * A generation is private to gen.c: live.c drives it through the
 * functions below and owns the lists it is on (struct live_gen).  gen.c
 * calls nothing of live.c: what it has to say goes through its owner's
 * two callbacks, or comes back as return values (struct gen_end).
 */
struct chat_gen;

/* What a generation tells its owner. */
enum gen_note {
	GEN_NOTE_ROWS,			/* new rows to store, first thing */
	GEN_NOTE_TEXT,			/* new text: a batched write is due */
	GEN_NOTE_END,			/* the stream ended: final write due */
};

struct gen_owner {
	/* Any thread (a worker for ROWS, the stream's thread for TEXT and
	 * END, also the starting thread when the start fails); must not
	 * block.  END comes exactly once, after every TEXT. */
	void (*note)(void *arg, enum gen_note what);
	/* Starts the call to aid, with live_call_start's contract. */
	int (*call)(void *arg, const struct http_request *req,
		    const struct http_client_cb *cb, void *cb_arg);
	void *arg;
};

/* What gen_finish leaves to its owner: the end event to publish (with
 * the registry removal, under the owner's lock), the stop answers, the
 * title request.  The strings without "owned" are g's, valid until
 * gen_free. */
struct gen_end {
	const char *event;		/* EV_DONE or EV_ERROR */
	char *data;			/* its JSON, owned; NULL: no memory */
	const char *user_id;
	const char *message_id;		/* the answer's id */
	bool stopped;			/* ended by a client's stop */
	bool want_title;		/* first answer of an untitled
					 * conversation, complete */
	const char *role;		/* for the title request */
	const char *request_id;
	const char *question;		/* the first user message */
	char *model;			/* the answer's model, owned */
};

/* A new generation of conv_id, not started (the caller's: gen_start or
 * gen_free).  It publishes to hub and reports to *owner (copied). */
int gen_new(struct chatd *cd, struct hub *hub, const char *conv_id,
	    const struct gen_owner *owner, struct chat_gen **out);
/*
 * Starts g: hands its new rows to the writer (GEN_NOTE_ROWS), publishes
 * the "message" event (*message_id gets its id, 0 if that failed) and
 * calls aid (owner->call), all at once: the first words need not wait
 * for the store's commit (the writer commits the rows before any other
 * write of g, and g ends in error if they cannot be).  Never fails: a
 * failure to reach aid ends the generation with an error like any
 * other (GEN_NOTE_END).  Worker threads.
 */
void gen_start(struct chat_gen *g, const struct gen_spec *spec,
	       uint64_t *message_id);
/* Asks g to stop (why: GEN_STOP_*; the first reason stays).  Any
 * thread. */
void gen_request_stop(struct chat_gen *g, int why);
/* Writer thread: the new rows, the leaf and the idempotency key's tie
 * to them (no transaction of its own: the caller's). */
int gen_store_rows(struct chat_gen *g, struct db_conn *c);
/* Writer thread: the transaction of gen_store_rows committed. */
void gen_rows_stored(struct chat_gen *g);
/* Writer thread: the rows cannot be stored; g stops and ends in error. */
void gen_store_failed(struct chat_gen *g, int rc);
/* Writer thread: stores the text so far with status streaming. */
int gen_write_text(struct chat_gen *g, struct db_conn *c);
/* Writer thread, after GEN_NOTE_END: the final write (c may be NULL
 * when the store is unreachable) and the idempotency record; *end gets
 * what the owner does next (gen_end_release frees it). */
void gen_finish(struct chat_gen *g, struct db_conn *c, struct gen_end *end);
/* Writer thread, once the owner published the end and g left the
 * registry: answers the client waiting for the 201 form.  g is then
 * only to be freed. */
void gen_reply(struct chat_gen *g);
void gen_end_release(struct gen_end *end);
void gen_free(struct chat_gen *g);
/* The header lines of a call to aid (identity, request id) into out;
 * their text in h.  gen.c and title.c. */
void gen_headers(struct chatd *cd, const char *user_id, const char *role,
		 const char *request_id, char h[6][256], const char *out[8]);

/* ---- title.c: a conversation's automatic title ----------------------- */

/* Writer thread: asks aid for a title of conv_id from its first
 * question; the title reaches live_title_done (the question's first
 * words when aid cannot give one). */
void title_start(struct live *l, struct chatd *cd, const char *user_id,
		 const char *role, const char *request_id, const char *conv_id,
		 const char *question, const char *model);
/* A model's answer made into a title, in place (first line, no quotes
 * around, at most 80 bytes). */
void title_clean(char *s);

/* ---- live.c: registry, writer, titles ------------------------------- */

/* struct live (chatd.h names it) is private to live.c, and so is
 * struct live_gen: one running generation as the registry and the
 * writer's queues hold it, the links live's, the generation gen.c's. */
struct live_gen;

/*
 * Reserves conv_id for a new generation: CHAT_ECONFLICT when one runs
 * there, CHAT_EBUSY when chatd is stopping.  *out is the caller's until
 * live_gen_start, or live_gen_cancel when it never starts.
 */
int live_gen_reserve(struct chatd *cd, const char *conv_id,
		     struct live_gen **out);
/* Starts the reserved generation (gen_start's contract); from here it
 * is live's.  Worker threads. */
void live_gen_start(struct live_gen *lg, const struct gen_spec *spec,
		    uint64_t *message_id);
void live_gen_cancel(struct chatd *cd, struct live_gen *lg);
/* Stops conv_id's generation; res gets {"stopped":true|false} once its
 * end is stored, at once when none runs.  Any thread. */
void live_stop_answer(struct chatd *cd, const char *conv_id,
		      struct http_res *res);
/* A finished title request: stored by the writer unless the
 * conversation got a title meanwhile, then a "conversation" event.
 * title NULL or "": fallback.  Any thread. */
void live_title_done(struct live *l, const char *user_id,
		     const char *conv_id, const char *title,
		     const char *fallback);
struct hub *live_hub(struct chatd *cd);
/*
 * Starts a call to aid; any thread, through the daemon's outbound door
 * (http_out_start: the loop thread when aid's URL allows, else
 * libcurl).  req is copied.  0: cb->on_done runs exactly once, on the
 * loop (or curl) thread - before this returns when called on the loop
 * thread and the call fails at once - or in live_release when chatd
 * stops before a deferred start ran (CHAT_ECANCELED).  Else no callback
 * runs: CHAT_ECANCELED once live_release began, CHAT_ENOMEM,
 * CHAT_EUPSTREAM (no libcurl).
 */
int live_call_start(struct live *l, const struct http_request *req,
		    const struct http_client_cb *cb, void *arg);

/* ---- send.c, for ws.c ----------------------------------------------- */

/* One send or regenerate, from REST or a WebSocket frame. */
struct send_args {
	struct chatd *cd;
	const char *user_id;
	const char *role;
	const char *request_id;
	const char *conv_id;
	bool regenerate;
	const char *content;		/* send */
	bool has_parent;		/* send: parent_id given */
	const char *parent_id;		/* send: NULL = a new root */
	const char *message_id;		/* regenerate */
	const char *model;		/* NULL: none asked */
	const char *idem_key;		/* NULL: none */
	struct http_res *waiter;	/* 201 form */
};

/* The outcome of send_run. */
struct send_result {
	int status;			/* HTTP status of a failure or 0 */
	char code[48];			/* error code of a failure */
	char message[256];
	uint64_t message_event;		/* id of the "message" event */
};

/* Worker thread: checks, stores, starts.  0 started (a waiter in a is
 * then the generation's), else a failure described in *r. */
int send_run(const struct send_args *a, struct send_result *r);
/* Validation of a send/regenerate body (a JSON object), shared with
 * ws.c: fills content, has_parent, parent_id, model of a. */
int send_parse_body(const cJSON *body, bool regenerate,
		    struct send_args *a, char *err, size_t errlen);

#endif
