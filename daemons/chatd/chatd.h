/*
 * chatd.h - the chat daemon: conversations, the message tree, generations
 * run server-side against aid, and live delivery (SSE, WebSocket) with
 * resume.
 *
 * Files, in two halves:
 *   the store and REST side
 *     main.c           spec, routes, config, init (calls live_init)
 *     migrations.c     schema
 *     store.c          conversations and messages in the db; JSON forms
 *     store-events.c   chat.conversation.* and chat.message.created,
 *                      in the transaction of their rows (issue 13)
 *     conversations.c  create, list, get, patch, delete
 *     model-check.c    does aid know a model? (asked, kept briefly)
 *     export.c         every conversation of a user, for userd's export;
 *                      one of the caller's (conv export)
 *     import.c         a conversation from a whole tree (conv import)
 *     erase.c          every row of a user, for userd's account deletion
 *   the live side
 *     live.c           live_init/live_release, the generation registry
 *     gen.c            one generation: aid stream, batching, stop, title
 *     hub.c            per-user event log and fan-out, event ids
 *     send.c           send, regenerate, stop, events resume, idempotency
 *     ws.c             the /v1/ws WebSocket
 *
 * Threads: REST handlers run on the worker pool and may block on the
 * store; the calls to aid and their stream's callbacks run on the loop
 * thread (http-loop.c; libcurl's thread only for an aid URL it cannot
 * serve) and never block (store writes go to live's writer thread);
 * WebSocket callbacks run on the loop thread.
 */
#ifndef CHAT_CHATD_H
#define CHAT_CHATD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "http-server.h"
#include "uuid.h"

/* A store connection must come within this time or the request fails. */
#define CHATD_DB_WAIT_MS 5000
#define CHATD_TITLE_MAX 256
#define CHATD_MODEL_MAX 128
#define CHATD_SYSTEM_MAX 16384
#define CHATD_CONTENT_MAX (1024 * 1024)
/* Idempotency keys are kept this long (a claim older counts as absent). */
#define CHATD_IDEM_KEEP_MS (24LL * 3600 * 1000)

struct live;			/* live.c: generations, hub */
struct events_consumer;
struct model_check;		/* model-check.c: aid's known models */

struct chatd {
	struct daemon d;		/* first: req->app points here */
	char aid_url[128];		/* daemon_peer_url("aid") */
	char userd_url[128];		/* daemon_peer_url("userd") */
	struct live *live;		/* owned: live_init/live_release */
	struct model_check *models;	/* owned: model_check_new/_free */
	/* owned: notify_start/notify_stop; notifyd's events */
	struct events_consumer *notify;
};

/* Message statuses. */
#define MSG_COMPLETE	"complete"
#define MSG_STREAMING	"streaming"
#define MSG_STOPPED	"stopped"
#define MSG_ERROR	"error"
#define MSG_TRUNCATED	"truncated"
#define MSG_INTERRUPTED	"interrupted"	/* chatd stopped mid-generation */
/* The error of an interrupted answer (at shutdown and at the next start
 * alike). */
#define MSG_INTERRUPTED_CODE	"interrupted"
#define MSG_INTERRUPTED_WHY	"chatd stopped during the answer"

/* A conversation row.  Strings owned (chat_conv_release); NULL for SQL
 * NULL; current_leaf_id "" when the conversation is empty. */
struct chat_conv {
	char id[UUID_STR_LEN];
	char user_id[UUID_STR_LEN];
	char *title;
	char *model;
	char *system_prompt;
	bool archived;
	char current_leaf_id[UUID_STR_LEN];
	int64_t created_at;
	int64_t updated_at;
};

/* A message row.  Strings owned (chat_msg_release); parent_id "" for a
 * root; counters -1 when unknown (JSON null). */
struct chat_msg {
	char id[UUID_STR_LEN];
	char conversation_id[UUID_STR_LEN];
	char user_id[UUID_STR_LEN];
	char parent_id[UUID_STR_LEN];
	char role[16];			/* "user" / "assistant" */
	char *content;			/* never NULL once loaded */
	char *model;
	char status[16];		/* MSG_* */
	char *error_code;
	char *error_message;
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t ttft_ms;
	int64_t latency_ms;
	int64_t created_at;
	int64_t updated_at;
};

/* ---- migrations.c ---------------------------------------------------- */
extern const struct db_migration chatd_migrations[];
extern const size_t chatd_migrations_count;

/* ---- store.c (every function blocks; worker threads only) ------------ */
void chat_conv_release(struct chat_conv *c);
void chat_msg_release(struct chat_msg *m);
void chat_msgs_free(struct chat_msg *m, size_t n);

/* The caller's conversation id: CHAT_ENOTFOUND when unknown or another
 * user's (the two are never told apart).  Ids in any case; a malformed
 * id is unknown (here and in store_msg_get). */
int store_conv_get(struct db_conn *c, const char *user_id, const char *id,
		   struct chat_conv *out);
/* Inserts conv and its chat.conversation.created event (d: the source):
 * inside the caller's transaction. */
int store_conv_insert(struct db_conn *c, const struct daemon *d,
		      const struct chat_conv *conv);
/* Sets the leaf ("" clears) and updated_at; CHAT_ENOTFOUND when the
 * conversation is gone (also for set_title). */
int store_conv_set_leaf(struct db_conn *c, const char *conv_id,
			const char *leaf_id, int64_t now);
/* The automatic title: sets title and updated_at only while the
 * conversation has no title, so that a rename made meanwhile wins
 * (CHAT_ENOTFOUND then, as for a deleted conversation). */
int store_conv_set_title(struct db_conn *c, const char *conv_id,
			 const char *title, int64_t now);
/* Message msg_id of conversation conv_id owned by user_id, else
 * CHAT_ENOTFOUND. */
int store_msg_get(struct db_conn *c, const char *user_id,
		  const char *conv_id, const char *msg_id,
		  struct chat_msg *out);
/* Inserts m and its chat.message.created event (d: the source): inside
 * the caller's transaction. */
int store_msg_insert(struct db_conn *c, const struct daemon *d,
		     const struct chat_msg *m);
/* Updates content, status, error, usage counters and updated_at of
 * m->id from m, and the model when m->model is not NULL (the model aid
 * used); CHAT_ENOTFOUND when the message is gone. */
int store_msg_update(struct db_conn *c, const struct chat_msg *m);
/* The branch from the root down to leaf_id, root first; *out is the
 * caller's (chat_msgs_free).  Empty when leaf_id is "". */
int store_branch(struct db_conn *c, const char *conv_id, const char *leaf_id,
		 struct chat_msg **out, size_t *n);
/* Ids of the children of parent_id ("" = the roots) of conv_id, oldest
 * first, as a JSON array (caller's). */
int store_children_json(struct db_conn *c, const char *conv_id,
			const char *parent_id, cJSON **out);
/* At start, in one transaction: every message left "streaming" by a
 * previous run becomes "interrupted" (with the error
 * MSG_INTERRUPTED_CODE), idempotency claims left running that had
 * stored their messages become "stored" (a retry answers from those
 * messages), and the other running claims are dropped (their request
 * died before storing anything: a retry runs again). */
int store_mark_interrupted(struct db_conn *c, int64_t now);

/* ---- store.c, for the REST handlers of conversations.c -------------- */
/* Which conversations a list shows, one page. */
struct store_conv_filter {
	const char *user_id;
	int archived;			/* 0, 1, or -1 for both */
	bool after;			/* start after this (updated_at, id) */
	int64_t after_updated;
	char after_id[UUID_STR_LEN];
	const char *q;			/* NULL or a substring, any case, of
					 * the title or of a message */
	size_t limit;			/* rows at most */
};
/* A page of f->user_id's conversations, newest updated first (then id
 * descending); *out is the caller's (chat_convs_free), NULL when empty. */
int store_conv_list(struct db_conn *c, const struct store_conv_filter *f,
		    struct chat_conv **out, size_t *n);
void chat_convs_free(struct chat_conv *v, size_t n);
/* Fields of store_conv_update. */
enum {
	STORE_CONV_TITLE = 1 << 0,
	STORE_CONV_MODEL = 1 << 1,
	STORE_CONV_SYSTEM = 1 << 2,
	STORE_CONV_ARCHIVED = 1 << 3,
	STORE_CONV_LEAF = 1 << 4,
};
/* In the caller's transaction: locks the conversation's row until the
 * transaction ends and reads it as it is now (what a change compares
 * with, so that two concurrent changes never both see the old value);
 * CHAT_ENOTFOUND when it is not user_id's.  Ids as stored
 * (lowercase). */
int store_conv_lock(struct db_conn *c, const char *user_id, const char *id,
		    struct chat_conv *out);
/* Writes the fields of conv named by mask (others stay as stored, so a
 * concurrent title is not lost) and updated_at = now, then reloads conv
 * from the store; CHAT_ENOTFOUND when it is gone. */
int store_conv_update(struct db_conn *c, struct chat_conv *conv,
		      unsigned mask, int64_t now);
/* Deletes the conversation and its messages in one transaction, with
 * its chat.conversation.deleted event (d: the source); CHAT_ENOTFOUND
 * when it is not user_id's. */
int store_conv_delete(struct db_conn *c, const struct daemon *d,
		      const char *user_id, const char *conv_id);
/* The newest message of the subtree under msg_id (msg_id itself when it
 * has no children): always a leaf, the last place the user was. */
int store_newest_leaf(struct db_conn *c, const char *conv_id,
		      const char *msg_id, char out[UUID_STR_LEN]);
/* For each message of a branch (store_branch's root-first order), the
 * ids of its parent's children, oldest first, into sib[i] (caller's
 * cJSON arrays; all NULL on failure).  One query for the whole branch. */
int store_branch_siblings(struct db_conn *c, const char *conv_id,
			  const char *leaf_id, const struct chat_msg *msgs,
			  size_t n, cJSON **sib);

/* A page of a branch: the up-to-limit messages ending at end_id (end_id
 * and its nearest ancestors), root first; *out is the caller's
 * (chat_msgs_free).  Walks only limit parent links.  Empty when end_id is
 * "" (end_id must be a message of conv_id: callers check). */
int store_branch_page(struct db_conn *c, const char *conv_id,
		      const char *end_id, size_t limit, struct chat_msg **out,
		      size_t *n);
/* store_branch_siblings for a page of store_branch_page(end_id, n): one
 * query, O(n) rows read. */
int store_page_siblings(struct db_conn *c, const char *conv_id,
			const char *end_id, const struct chat_msg *msgs,
			size_t n, cJSON **sib);

/* The account export, in pages: up to limit of user_id's conversations
 * older (by id) than before_id ("" or NULL: the newest), newest first;
 * and up to limit messages of conv_id newer (by id) than after_id ("":
 * the oldest), oldest first.  *out is the caller's (chat_convs_free,
 * chat_msgs_free), NULL when empty. */
int store_export_convs(struct db_conn *c, const char *user_id,
		       const char *before_id, size_t limit,
		       struct chat_conv **out, size_t *n);
int store_export_msgs(struct db_conn *c, const char *user_id,
		      const char *conv_id, const char *after_id,
		      size_t limit, struct chat_msg **out, size_t *n);

/* JSON forms of the public API (caller's; NULL on ENOMEM). */
cJSON *chat_conv_json(const struct chat_conv *conv);
cJSON *chat_msg_json(const struct chat_msg *m);

/* ---- idempotency (store.c) ------------------------------------------ */
/* Claims (user_id, key) for a request whose body hashes to req_hash:
 * 0 claimed (go on); CHAT_EBUSY another request with it still runs;
 * CHAT_EEXIST done before: *status and *response (caller's) are its
 * answer (for a claim whose process died after storing its messages:
 * 201 and those messages as they are stored now); CHAT_ECONFLICT the
 * key was used with another body; CHAT_ENOTFOUND the messages of such a
 * claim are gone (their conversation was deleted). */
int store_idem_claim(struct db_conn *c, const char *user_id,
		     const char *key, const char *req_hash, int64_t now,
		     int *status, char **response);
/* Ties a running claim to the messages its request stores: called in
 * the transaction that stores them (the writer's), so that after a
 * crash the claim names them or nothing was stored.  A claim that is
 * gone is no error (nothing to tie). */
int store_idem_bind(struct db_conn *c, const char *user_id,
		    const char *key, const char *conv_id,
		    const char *user_msg_id, const char *asst_msg_id);
/* Records the answer of a claimed key. */
int store_idem_finish(struct db_conn *c, const char *user_id,
		      const char *key, int status, const char *response);
/* Frees a claim whose request failed before doing anything. */
int store_idem_drop(struct db_conn *c, const char *user_id, const char *key);
/* Deletes keys older than before (cron). */
int store_idem_cleanup(struct db_conn *c, int64_t before);

/* ---- store-events.c (inside the caller's transaction) ---------------- */
/* chat.conversation.<verb> (type names it) of conv: ids, model,
 * archived; the title only with events.include_text. */
int store_events_conv(struct db_conn *c, const struct daemon *d,
		      const char *type, const struct chat_conv *conv);
int store_events_conv_deleted(struct db_conn *c, const struct daemon *d,
			      const char *user_id, const char *conv_id);
/* chat.message.created of m: ids, role, parent, model, status; the text
 * only with events.include_text. */
int store_events_msg(struct db_conn *c, const struct daemon *d,
		     const struct chat_msg *m);
/* chat.message.finished of the answer m at its end: ids, status, model,
 * latency_ms and clients_connected (the user's clients connected at the
 * end); the conversation's title only with events.include_text. */
int store_events_finished(struct db_conn *c, const struct daemon *d,
			  const struct chat_msg *m, size_t clients_connected);

/* ---- conversations.c (handlers) ------------------------------------- */
void conv_create_handler(struct http_req *req, struct http_res *res);
void conv_list_handler(struct http_req *req, struct http_res *res);
void conv_get_handler(struct http_req *req, struct http_res *res);
void conv_branch_handler(struct http_req *req, struct http_res *res);
void conv_patch_handler(struct http_req *req, struct http_res *res);
void conv_delete_handler(struct http_req *req, struct http_res *res);

/* ---- export.c (internal handler) ------------------------------------- */
void export_conversations_handler(struct http_req *req, struct http_res *res);
void export_conversation_handler(struct http_req *req, struct http_res *res);

/* ---- import.c ---------------------------------------------------------- */
void import_conversation_handler(struct http_req *req, struct http_res *res);

/* ---- erase.c (internal handler) -------------------------------------- */
/* POST /internal/users/{id}/erase: every row of the user goes. */
void erase_user_handler(struct http_req *req, struct http_res *res);

/* ---- model-check.c -------------------------------------------------- */
/* Who asks (aid's model route wants an authenticated caller). */
struct model_check_who {
	const char *user_id;
	const char *role;		/* NULL: "user" */
	const char *request_id;		/* NULL: none */
};

int model_check_new(struct model_check **out);
void model_check_free(struct model_check *mc);
/*
 * 0 when aid knows model (NULL: aid's default, known) or cannot say
 * (unreachable: the generation fails later as before), CHAT_ENOTFOUND
 * when aid has no such model: the caller answers 404 model_not_found
 * and stores nothing.  aid's answers are kept 30 s, whoever asked (a
 * name resolves the same for every caller).  Worker threads (blocks on
 * aid, 5 s at most).
 */
int model_check_known(struct chatd *cd, const struct model_check_who *who,
		      const char *model);

/* ---- live.c ---------------------------------------------------------- */
int live_init(struct chatd *cd, char *err, size_t errlen);
void live_release(struct chatd *cd);
/* Stops the generation of conv_id if one runs; true when one did. */
bool live_stop(struct chatd *cd, const char *conv_id);
/* Publishes a "conversation" event (conv changed) or, with conv NULL,
 * "conversation_deleted" for conv_id, to the user's live clients.  Any
 * thread, never blocks. */
void live_conversation_event(struct chatd *cd, const char *user_id,
			     const char *conv_id,
			     const struct chat_conv *conv);
/* Housekeeping (loop thread, cron). */
void live_cron(struct chatd *cd);

/* ---- notify.c: notifyd's notifications to the user's WebSockets ------ */
/* Starts consuming notifyd's events (after live_init); err says why
 * not. */
int notify_start(struct chatd *cd, char *err, size_t errlen);
/* Stops and frees the consumer (before live_release: it publishes to
 * the hub); idempotent. */
void notify_stop(struct chatd *cd);

/* ---- send.c (handlers) ----------------------------------------------- */
void send_message_handler(struct http_req *req, struct http_res *res);
void send_regenerate_handler(struct http_req *req, struct http_res *res);
void send_stop_handler(struct http_req *req, struct http_res *res);
void send_events_handler(struct http_req *req, struct http_res *res);

/* ---- ws.c ------------------------------------------------------------ */
/* GET /v1/ws (HTTP_ROUTE_WEBSOCKET | HTTP_ROUTE_ON_LOOP). */
void ws_open_handler(struct http_req *req, struct http_res *res);

#endif
