/*
 * chatui.h - what the modules of chatui share.
 *
 * Threads: the UI thread (main.c, app.c, the panes, view.c, term.c) owns
 * ncurses and every piece of state below (struct state, struct app); it
 * never blocks on the network.  The REST worker (rest.c) runs blocking libcurl calls
 * taken from its request queue; the WebSocket thread (ws.c) keeps /v1/ws
 * open (the token refreshes it needs run on a short-lived helper thread
 * of its own, so that it never blocks either); while the usage screen
 * shows an admin's live event tail, a reader thread of its own keeps
 * that stream (pane-usage.c).  They post their results
 * to the UI's event queue (evq.c), whose wake-up pipe the UI thread
 * poll()s beside stdin.  The login (auth.c) is shared by the workers
 * under its own mutex.
 *
 * The pure parts (state.c reducers, keys.c key table and fuzzy match,
 * osc52.c, ws.c's token rules) touch no terminal and no network, so the
 * unit tests (tests/unit/test-tui-*.c) link them directly.
 *
 * Modules whose plain name a daemon or chatctl also uses (auth, ws, key,
 * conv, msg; hl in highlight.h) are prefixed ui_, as curl's tool_*
 * stand apart from its library's Curl_*.
 */
#ifndef CHAT_TUI_CHATUI_H
#define CHAT_TUI_CHATUI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "client.h"
#include "creds.h"
#include "err.h"
#include "markdown.h"

#define CHATUI_VERSION CHAT_VERSION	/* -DCHAT_VERSION: VERSION, Makefile */
#define CHATUI_DEFAULT_SERVER "http://127.0.0.1:8080"
#define CHATUI_CONTENT_MAX (1024 * 1024)	/* a message, bytes */
#define CHATUI_ID_MAX 64			/* an id with its NUL */
/* Messages asked for when a conversation opens (?messages=N: a few
 * screens) and in each page of earlier ones loaded while scrolling up;
 * Home loads the rest in pages of the API's maximum. */
#define CHATUI_PAGE 200
#define CHATUI_PAGE_MAX 1000

/* ---- evq.c: the UI's event queue ---- */

struct pane;			/* pane.h: where a REST answer goes */

enum ev_kind {
	EV_REST,		/* a REST answer (rest.c) */
	EV_WS_FRAME,		/* a frame from /v1/ws, parsed */
	EV_WS_STATE,		/* the WebSocket opened, closed, waits */
	EV_AUTH_LOST,		/* the login is gone: show the login screen
				 * (message: why, may be "") */
};

enum ui_ws_state {
	WS_IDLE,		/* not started (no login) */
	WS_CONNECTING,
	WS_OPEN,
	WS_WAITING,		/* closed; the next attempt at retry_at_ms */
};

struct ui_event {
	struct ui_event *next;
	enum ev_kind kind;
	int req;		/* EV_REST: enum rq_kind */
	uint64_t seq;		/* EV_REST: the request's number */
	char tag[CHATUI_ID_MAX];	/* EV_REST: the request's tag */
	struct pane *to;		/* EV_REST: the pane that asked */
	long status;		/* EV_REST: HTTP status, 0 no answer */
	char code[64];		/* error code of a failed call */
	char message[256];	/* its message, or a transport error */
	cJSON *json;		/* owned: the answer or the frame */
	int ws_state;		/* EV_WS_STATE: enum ui_ws_state */
	int64_t retry_at_ms;	/* EV_WS_STATE WS_WAITING: mono_ms */
};

struct evq {
	pthread_mutex_t mu;
	struct ui_event *head, *tail;	/* under mu */
	int pipe_rd, pipe_wr;		/* wake-up pipe, non-blocking */
};

int evq_init(struct evq *q);
void evq_release(struct evq *q);
/* Any thread: takes ownership of ev and wakes the UI. */
void evq_post(struct evq *q, struct ui_event *ev);
/* UI thread: the queued events in order (caller frees each with
 * ui_event_free), and the pipe drained. */
struct ui_event *evq_take_all(struct evq *q);
void ui_event_free(struct ui_event *ev);
struct ui_event *ui_event_new(enum ev_kind kind);
/* Any thread: wakes the UI without an event (a signal handler may call
 * it: only write(2)). */
void evq_wake(struct evq *q);

/* ---- auth.c: the login shared by the workers ---- */

struct auth {
	pthread_mutex_t mu;
	char server[1024];		/* base URL, no trailing / */
	char path[4096];		/* the credentials file, "" none */
	struct creds creds;		/* under mu */
	bool have;			/* creds are a login to server */
	struct client client;		/* for refreshes and logins, under
					 * mu */
};

/* Loads the credentials file; have is set when it holds a login to
 * server.  0, CHAT_EINVAL (server is not an http(s) URL) or
 * CHAT_ENOMEM. */
int ui_auth_init(struct auth *a, const char *server);
void ui_auth_release(struct auth *a);
bool ui_auth_have(struct auth *a);
/* The username of the login into out ("" when none). */
void ui_auth_username(struct auth *a, char *out, size_t outlen);
/* An access token into out, refreshed first when it expires within 30 s
 * or when force (the server called it expired).  The refresh follows
 * chatctl's rules: under the file's lock, after re-reading the file
 * (another process may have refreshed), and never writing over another
 * login.  CHAT_EAUTH: no login or the session ended (have is cleared);
 * CHAT_EUPSTREAM: the server could not be asked (detail in err). */
int ui_auth_token(struct auth *a, bool force, char *out, size_t outlen,
		  char *err, size_t errlen);
/* ui_auth_token for the WebSocket's in-band renewal: also refreshes when
 * the login's token expires no later than after (unix seconds, 0: no
 * such rule), so that the answer outlives the token the caller holds;
 * *expires_at (may be NULL) gets the answer's expiry (unix seconds, as
 * the login recorded it).  Any thread; blocks for the refresh's HTTP
 * call. */
int ui_auth_token_ex(struct auth *a, bool force, int64_t after, char *out,
		     size_t outlen, int64_t *expires_at, char *err,
		     size_t errlen);
/* Logs in (register first when do_register) and saves the file.
 * CHAT_EAUTH with the server's message in err when refused. */
int ui_auth_login(struct auth *a, const char *username, const char *password,
		  bool do_register, char *err, size_t errlen);
/* Forgets the login (file left alone). */
void ui_auth_forget(struct auth *a);
/* Logs out as chatctl logout does: revokes the session on the server
 * (POST /v1/auth/logout with the login's token, even after ui_auth_forget)
 * and removes the credentials file when it holds a login to this server;
 * the in-memory login goes too.  The file goes even when the server
 * cannot be asked (err says so).  0, CHAT_EUPSTREAM or the file's error. */
int ui_auth_logout(struct auth *a, char *err, size_t errlen);

/* A client (shared/client.h) set up as chatui's calls want it: its
 * user agent, 5 s to connect, 120 s a call.  0 or client_init's error. */
int ui_auth_client_init(struct client *c, const char *server);

/* ---- rest.c: the REST worker ---- */

enum rq_kind {
	RQ_LIST,		/* GET /v1/conversations */
	RQ_SEARCH,		/* GET /v1/conversations?q= */
	RQ_OPEN,		/* GET /v1/conversations/{id}?messages=N */
	RQ_OLDER,		/* GET .../branch?before=&limit= (tag: id) */
	RQ_CREATE,		/* POST /v1/conversations (then send) */
	RQ_PATCH,		/* PATCH /v1/conversations/{id} */
	RQ_BRANCH,		/* PATCH current_leaf_id, then reopen
				 * (GET ?messages=CHATUI_PAGE) */
	RQ_DELETE,
	RQ_STOP,		/* POST .../stop */
	RQ_MODELS,		/* GET /v1/models */
	RQ_ME,			/* GET /v1/users/me (the default model) */
	RQ_LOGIN,		/* ui_auth_login (body: username, password) */
	RQ_REGISTER,
	RQ_LOGOUT,		/* ui_auth_logout */
	RQ_USAGE,		/* the usage screen's GETs (tag: which);
				 * its event tail posts these too */
	RQ_NOTES,		/* /v1/notifications: a page, a read,
				 * read-all (tag: which, pane-notes.c) */
};

struct rest_req {
	struct rest_req *next;
	enum rq_kind kind;
	uint64_t seq;
	char method[8];
	char path[1024];		/* already escaped */
	cJSON *body;			/* owned, may be NULL */
	char tag[CHATUI_ID_MAX];	/* handed back in the event */
	struct pane *to;		/* likewise: the pane that asked (UI
					 * thread's; never followed here) */
};

struct rest {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct rest_req *head, *tail;	/* under mu */
	bool quit;			/* under mu */
	uint64_t next_seq;		/* UI thread only */
	struct auth *auth;
	struct evq *evq;
};

int rest_start(struct rest *r, struct auth *auth, struct evq *evq);
void rest_stop(struct rest *r);
/* UI thread: queues a call; takes body; returns its seq (0: no memory,
 * body freed).  The answer's event carries tag and to, the pane whose
 * answer handler takes it. */
uint64_t rest_submit(struct rest *r, enum rq_kind kind, const char *method,
		     const char *path, cJSON *body, const char *tag,
		     struct pane *to);

/* ---- ws.c: the WebSocket thread ---- */

struct ui_ws_out {
	struct ui_ws_out *next;
	size_t len;
	unsigned char data[];		/* LWS_PRE bytes, then the text */
};

struct ws {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	struct ui_ws_out *head, *tail;	/* frames to send, under mu */
	bool quit;			/* under mu */
	bool kick;			/* under mu: reconnect now */
	bool open;			/* under mu */
	uint64_t last_event_id;		/* under mu: resume point */
	struct auth *auth;
	struct evq *evq;
	void *context;			/* struct lws_context *, ws thread */
};

int ui_ws_start(struct ws *w, struct auth *auth, struct evq *evq);
void ui_ws_stop(struct ws *w);
/* Any thread: queues a text frame; CHAT_ECLOSED when the socket is not
 * open (nothing queued). */
int ui_ws_send_text(struct ws *w, const char *text, size_t len);
/* Any thread: reconnect at once (after a login, or on Ctrl-L). */
void ui_ws_kick(struct ws *w);
/* Any thread: records an event id seen elsewhere (a REST stream). */
void ui_ws_note_event_id(struct ws *w, uint64_t id);
/* Backoff before attempt n (0 = first retry): 500 ms doubled each time,
 * at most 15 s, +-25 % jitter from rnd (0..1). */
int64_t ui_ws_backoff_ms(unsigned attempt, double rnd);
/* The exp claim (unix seconds) of a JWT, read without checking the
 * signature (the gateway checks it); 0 when token has none. */
int64_t ui_ws_token_exp(const char *token);
/* How long from now to renew a token with left_ms to go and a lifetime
 * of life_ms: when a third of its lifetime, at most 60 s, is left
 * (never negative). */
int64_t ui_ws_renew_in_ms(int64_t left_ms, int64_t life_ms);
/* frame as the gateway's answer to our auth frame ref ("" none): 1
 * auth_ok (*expires_in_s: its data.expires_in, -1 when absent or
 * malformed), -1 an error frame with that ref, 0 anything else. */
int ui_ws_auth_answer(const cJSON *frame, const char *ref,
		      int64_t *expires_in_s);
/* True when a close (code, reason) ends the session itself, which no
 * refresh can cure: 4401 "session_revoked" or "credential_revoked". */
bool ui_ws_close_is_final(int code, const char *reason);

/* ---- state.c: conversations and messages (pure) ---- */

enum ui_msg_role { ROLE_USER, ROLE_ASSISTANT };

struct msg {
	char id[CHATUI_ID_MAX];
	char parent_id[CHATUI_ID_MAX];	/* "" for a root */
	enum ui_msg_role role;
	struct buf content;
	char status[16];		/* complete, streaming, ... */
	char *model;			/* owned, NULL none (pointers, not
					 * arrays: 10,000 messages held) */
	char *error;			/* owned: error.message, NULL none */
	char **siblings;		/* owned ids, oldest first */
	size_t nsiblings;
	long completion_tokens;		/* from usage, -1 unknown */
	long latency_ms;
	/* layout cache (view.c) */
	struct md_doc doc;
	int doc_width;			/* 0: not rendered */
};

struct conv {
	char id[CHATUI_ID_MAX];
	char *title;			/* owned, NULL while untitled */
	char *model;			/* owned, NULL: default */
	char *system_prompt;		/* owned, NULL: the user's */
	bool archived;
	char current_leaf_id[CHATUI_ID_MAX];
	char updated_at[40];		/* RFC 3339 */
};

/* What a reducer changed (bit flags). */
enum st_change {
	ST_LIST = 1 << 0,		/* the conversation list */
	ST_CONV = 1 << 1,		/* the open conversation's fields */
	ST_MSGS = 1 << 2,		/* messages added, removed, reordered */
	ST_MSG = 1 << 3,		/* one message's content (st->changed) */
	ST_REFETCH = 1 << 4,		/* the open conversation is stale */
	ST_RELIST = 1 << 5,		/* the list is stale */
	ST_CLOSED = 1 << 6,		/* the open conversation is gone */
	ST_ACK = 1 << 7,		/* a user message of ours arrived */
	ST_STREAM_END = 1 << 8,		/* a generation ended */
	ST_OLDER = 1 << 9,		/* st->prepended messages put before
					 * the others: indices moved */
};

struct state {
	struct conv *convs;		/* the list, newest first */
	size_t nconvs, capconvs;
	bool open;			/* a conversation is open */
	struct conv cur;		/* the open one */
	struct msg *msgs;		/* its branch (the newest part when
					 * msgs_before is set), root first */
	size_t nmsgs, capmsgs;
	char msgs_before[CHATUI_ID_MAX];	/* parent of msgs[0] when
					 * older messages are not loaded
					 * yet, "" when msgs[0] is the root */
	size_t changed;			/* ST_MSG: that message */
	size_t prepended;		/* ST_OLDER: messages put in front */
	char ack_content_hash[17];	/* ST_ACK: hash of its content */
	char streaming_id[CHATUI_ID_MAX];	/* the answer growing, "" */
	int64_t stream_start_ms;	/* first delta, mono_ms */
	size_t stream_bytes;		/* delta bytes since */
	char last_error[256];		/* of the last failed generation */
};

void state_init(struct state *st);
void state_release(struct state *st);
/* A ConversationList answer replaces the list. */
int state_set_list(struct state *st, const cJSON *list);
/* A ConversationWithMessages answer opens it; with messages_before (an
 * answer to ?messages=N) only the newest part of the branch is there. */
int state_open(struct state *st, const cJSON *conv);
/* A BranchPage answer ({messages, messages_before}) of the open
 * conversation conv_id: put in front of the messages when it ends at
 * st->msgs_before (a page asked before a reload or for another branch
 * is dropped: 0).  ST_MSGS | ST_OLDER with st->prepended set, 0 when
 * dropped, or CHAT_EPARSE / CHAT_ENOMEM (nothing changed). */
int state_prepend(struct state *st, const char *conv_id,
		  const cJSON *page);
/* True when messages older than msgs[0] are not loaded yet. */
bool state_partial(const struct state *st);
void state_close(struct state *st);
/* Applies a /v1/ws event frame ({"type","id","conversation_id","data"});
 * returns enum st_change flags, or a negative CHAT_E*. */
int state_apply_frame(struct state *st, const cJSON *frame);
/* The conversation object answered by a PATCH or POST (list and open
 * one updated); flags. */
int state_apply_conv(struct state *st, const cJSON *conv);
/* Index of a conversation in the list, -1 when absent. */
long state_find_conv(const struct state *st, const char *id);
/* Index of a message of the open branch, -1 when absent. */
long state_find_msg(const struct state *st, const char *id);
/* The last message with that role, -1 when none. */
long state_last_role(const struct state *st, enum ui_msg_role role);
/* Tokens per second of the answer streaming now (about 4 bytes a
 * token), 0 when nothing streams. */
double state_tokens_per_s(const struct state *st, int64_t now_ms);
/* A short stable hash of text, for matching our send to its echo. */
void state_hash(const char *s, size_t len, char out[17]);
void ui_msg_release(struct msg *m);
void ui_conv_release(struct conv *c);

/* ---- keys.c: the one key table ---- */

enum action {
	ACT_NONE = 0,
	ACT_HELP,
	ACT_PALETTE,
	ACT_QUIT,
	ACT_NEW,
	ACT_SWITCH,
	ACT_SEARCH,
	ACT_RENAME,
	ACT_DELETE,
	ACT_ARCHIVE,
	ACT_SHOW_ARCHIVED,
	ACT_STOP,
	ACT_REGENERATE,
	ACT_EDIT,
	ACT_BRANCH_PREV,
	ACT_BRANCH_NEXT,
	ACT_COPY_ANSWER,
	ACT_COPY_CODE,
	ACT_MODEL,
	ACT_SYSTEM,
	ACT_SCROLL_UP,
	ACT_SCROLL_DOWN,
	ACT_TOP,
	ACT_BOTTOM,
	ACT_FOCUS,
	ACT_TOGGLE_LIST,
	ACT_REDRAW,
	ACT_SEND,
	ACT_NEWLINE,
	ACT_LOGOUT,
	ACT_USAGE,
	ACT_NOTES,
	ACT_COUNT
};

/* Where a binding applies (bit flags). */
enum focus {
	FOCUS_INPUT = 1 << 0,		/* the message being typed */
	FOCUS_MSGS = 1 << 1,		/* the message pane (a selection) */
	FOCUS_LIST = 1 << 2,		/* the conversation list */
	FOCUS_ANY = FOCUS_INPUT | FOCUS_MSGS | FOCUS_LIST,
};

struct action_info {
	enum action id;
	const char *name;		/* the palette's text */
	const char *help;		/* one line */
	bool palette;			/* listed in the palette */
};

struct ui_key_binding {
	int key;			/* a character or a KEY_* code */
	unsigned focus;			/* enum focus mask */
	unsigned flags;			/* enum ui_key_flags */
	enum action act;
};

enum ui_key_flags {
	KEYF_EMPTY_INPUT = 1 << 0,	/* only while the input is empty */
	KEYF_HIDDEN = 1 << 1,		/* left out of the help */
};

extern const struct action_info ui_key_actions[ACT_COUNT];
extern const struct ui_key_binding ui_key_bindings[];
extern const size_t ui_key_nbindings;

/* The action of key in focus (input_empty: the input holds no text). */
enum action ui_key_lookup(int key, unsigned focus, bool input_empty);
/* "Ctrl-P", "F1", "PgUp", "?"...  into out. */
void ui_key_label(int key, char *out, size_t outlen);
/* The keys of an action joined by ", " into out ("" none). */
void ui_key_labels_of(enum action act, char *out, size_t outlen);
/* Fuzzy match: every character of pattern in order in text (ASCII
 * case ignored); a score, higher better, -1 no match.  "" matches all
 * with 0. */
int ui_key_fuzzy(const char *pattern, const char *text);

/* ---- osc52.c ---- */

/* The OSC 52 sequence that puts data on the clipboard ("\e]52;c;" +
 * base64 + BEL) into out (cleared first); inside tmux the sequence is
 * wrapped in tmux's passthrough when tmux_wrap.  CHAT_ETOOBIG past out's
 * ceiling. */
int osc52_encode(const void *data, size_t len, bool tmux_wrap,
		 struct buf *out);
/* Standard base64 with padding, appended to out. */
int osc52_base64(const void *data, size_t len, struct buf *out);

/* ---- view.c and term.c: see app.h ---- */

#endif
