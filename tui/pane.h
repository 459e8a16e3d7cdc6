/*
 * pane.h - chatui's screen as panes (htop's Panel and ScreenManager):
 * each pane is an object that owns its slice of the UI state, its keys,
 * its painting and the REST answers addressed to it.  A request carries
 * the pane that asked (rest_submit's `to`), and the answer goes back to
 * that pane's `answer`; app.c only routes keys to the pane in focus (or
 * the overlay on top), events to the pane they name, and paces paints.
 *
 * The panes: the conversation list (pane-list.c), the transcript
 * (pane-chat.c, laid out and painted by chat-layout.c), the input box
 * (pane-input.c), the login screen (pane-login.c), and the overlays: the
 * key help (pane-help.c), the picker of commands and models
 * (pane-picker.c), the one-line and system-prompt editors and the yes/no
 * question (pane-prompt.c), the usage screen (pane-usage.c, its
 * event tail read on a thread of its own), and the notifications
 * (pane-notes.c, whose unread count the status line shows).  view.c lays the screen out
 * and draws for them.  Everything here belongs to the UI thread but the
 * tail's reader (struct usage_tail).
 */
#ifndef CHAT_TUI_PANE_H
#define CHAT_TUI_PANE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "chatui.h"
#include "editor.h"
#include "sse-parse.h"

struct app;

/* What a pane's key handler did (bit flags; 0: not its key). */
enum pane_result {
	PANE_HANDLED = 1 << 0,		/* the key was taken */
	PANE_CLOSE = 1 << 1,		/* an overlay: take it off */
};

/* Where the panes of the main screen are, from view_geom. */
struct geom {
	int list_w;		/* 0: hidden */
	int px, pw;		/* message pane column and width */
	int py, ph;		/* its first row and height */
	int iy, ih;		/* input box (border row included) */
	int sy;			/* status row */
};

/* Where the terminal's cursor goes after a paint. */
struct pane_cursor {
	int y, x;
	bool show;
};

struct pane;

struct pane_ops {
	const char *name;
	/* A key, before the key table: enum pane_result flags.  NULL: the
	 * pane takes keys only after the table (type). */
	unsigned (*key)(struct pane *p, struct app *a, int key, bool code);
	/* A key no action took (the input's typing); NULL: printable keys
	 * go to the input box. */
	void (*type)(struct pane *p, struct app *a, int key, bool code);
	/* Paints the pane; sets c when the cursor belongs to it. */
	void (*paint)(struct pane *p, struct app *a, const struct geom *g,
		      struct pane_cursor *c);
	/* A REST answer to a request this pane made (ev->to == p), failed
	 * ones too (ev->status outside 2xx); NULL: asks nothing. */
	void (*answer)(struct pane *p, struct app *a, struct ui_event *ev);
	/* The editor a bracketed paste goes into, NULL none. */
	struct editor *(*paste_target)(struct pane *p);
};

struct pane {
	const struct pane_ops *ops;	/* static table */
};

/* ---- pane-list.c: the conversation list (the sidebar) ---- */

struct list_pane {
	struct pane base;
	bool show;			/* shown beside the messages */
	bool show_archived;
	char filter[128];		/* typed in the list */
	char search[256];		/* server-side search, "" none */
	long sel;			/* index into st.convs, -1 none */
	long top;			/* first visible filtered row */
};

void list_pane_init(struct list_pane *l);
/* Asks for the list again (a search when one is set). */
void list_pane_refresh(struct app *a);
/* Indices into st.convs that pass the filter; count returned, at most
 * max written. */
size_t list_pane_filtered(const struct app *a, long *out, size_t max);
/* Shows the list with the server's answer to query (the filter
 * cleared, the list focused). */
void list_pane_search(struct app *a, const char *query);

/* ---- pane-chat.c: the open conversation's transcript ---- */

struct chat_pane {
	struct pane base;
	bool follow;			/* stick to the bottom */
	size_t top_msg;			/* first visible message ... */
	int top_row;			/* ... and its first visible row */
	long sel_msg;			/* selected message, -1 none */
	int pane_rows, pane_width;	/* of the last paint */
	bool loading;
	uint64_t open_seq;		/* the RQ_OPEN that counts */
	char keep_top[CHATUI_ID_MAX];	/* a reload shows this message ...
					 * (pages are loaded until it comes) */
	int keep_row;			/* ... from this row, when found */
	char keep_sel[CHATUI_ID_MAX];	/* and selects this one */
	uint64_t older_seq;		/* the RQ_OLDER in flight, 0 none */
	char older_before[CHATUI_ID_MAX];	/* the `before` it asked */
	bool older_failed;		/* stop paging until the next open */
	bool want_top;			/* Home: load every earlier page and
					 * stay at the first message */
	int64_t older_us;		/* the RQ_OLDER's start (trace) */
	int64_t open_us;		/* an opened conversation waits for its
					 * paint (the trace) */
	int code_idx;			/* next code block to copy ... */
	char code_msg[CHATUI_ID_MAX];	/* ... of this message */
};

void chat_pane_init(struct chat_pane *c);
/* Opens conversation id, or reloads the open one. */
void chat_pane_open(struct app *a, const char *id);
/* Shows no conversation (a new one is being typed). */
void chat_pane_close(struct app *a);
/* PATCHes conversation id with body (taken over); RQ_PATCH or
 * RQ_BRANCH, answered to the transcript. */
void chat_pane_patch(struct app *a, enum rq_kind kind, const char *id,
		     cJSON *body);
/* Deletes the open conversation. */
void chat_pane_delete(struct app *a);
/* After a paint: asks for the page of earlier messages when the pane
 * comes near the oldest one loaded (or Home wants them all). */
void chat_pane_load_older(struct app *a);
/* A trace line of how many messages the open branch holds. */
void chat_pane_trace_loaded(struct app *a);

/* ---- chat-layout.c: the transcript's anchoring and painting ---- */

/* Makes sure m is laid out at width; its rows (header, text, gap). */
int chat_layout_msg_rows(struct msg *m, int width);
/* Scrolls the transcript by rows (negative: up). */
void chat_layout_scroll(struct app *a, int rows);
/* Scrolls so that message i is visible. */
void chat_layout_show_msg(struct app *a, size_t i);
/* The first message in the pane (anchoring at the bottom first when
 * the pane follows it: only the last screenful is laid out). */
size_t chat_layout_first_visible(struct app *a);
/* The transcript's header row and messages (the chat pane's paint). */
void chat_layout_paint(struct app *a, const struct geom *g);

/* ---- pane-input.c: the message being typed ---- */

/* A message typed and sent, until the server echoes it. */
struct pending {
	bool active;		/* waits for the conversation or the echo */
	bool sent;		/* the frame went out */
	char conv_id[CHATUI_ID_MAX];	/* "" until created */
	char parent_id[CHATUI_ID_MAX];	/* with has_parent */
	bool has_parent;	/* an edit: parent_id ("" = a new root) */
	char *content;		/* owned */
	char hash[17];		/* of content; kept after the echo */
	int ref;		/* the frame's ref */
};

struct input_pane {
	struct pane base;
	struct editor ed;		/* the text */
	struct editor_view view;	/* ed laid out for this paint */
	struct pending pend;
	bool editing;			/* the text edits an earlier message */
	char edit_parent[CHATUI_ID_MAX];
	char new_model[128];		/* for the next new conversation */
	char default_model[128];	/* what answers a conversation that
					 * names none: the preference, else
					 * the server's default; "" unknown */
	char *new_system;		/* owned, likewise */
};

void input_pane_init(struct input_pane *in);
/* Asks which model answers a conversation that names none (the user's
 * preferences.default_model, else /v1/models' default_model), for the
 * status line; quiet when it cannot tell. */
void input_pane_ask_default_model(struct app *a);
void input_pane_release(struct input_pane *in);
/* Lays the text out at width for the coming paint; its rows. */
int input_pane_layout(struct input_pane *in, int width);
/* Sends what the input holds (a new message or an edit). */
void input_pane_send(struct app *a);
/* Sends the pending message when it can (a conversation exists and the
 * socket is open). */
void input_pane_dispatch(struct app *a);
/* The server echoed a user message (st.ack_content_hash): the text
 * goes when it is ours. */
void input_pane_acked(struct app *a);
/* An error frame answered ref: a pending message with it is dropped. */
void input_pane_refused(struct app *a, int ref);
/* The socket dropped: a message sent but not echoed is given up. */
void input_pane_dropped(struct app *a);
void pend_clear(struct pending *p);

/* ---- pane-login.c: the login screen ---- */

struct login_pane {
	struct pane base;
	bool active;			/* shown instead of everything */
	int field;			/* 0 user, 1 password */
	struct editor user, pass;
	bool busy;			/* a login is on its way */
	char msg[256];
};

void login_pane_init(struct login_pane *l);
void login_pane_release(struct login_pane *l);
/* Shows the login screen with msg. */
void login_pane_show(struct app *a, const char *msg);
/* Logs out (the session revoked on the server) and shows the login
 * screen. */
void login_pane_logout(struct app *a);

/* ---- pane-help.c: the key help overlay ---- */

struct help_pane {
	struct pane base;
	int top;			/* first row shown */
};

void help_pane_init(struct help_pane *h);
void help_pane_show(struct app *a);

/* ---- pane-picker.c: the command palette and the model picker ---- */

enum picker_kind { PICK_ACTIONS, PICK_MODELS };

struct picker_pane {
	struct pane base;
	enum picker_kind kind;
	struct editor edit;		/* the fuzzy filter */
	long sel;			/* among the filtered items */
	char **models;			/* owned */
	size_t nmodels;
};

void picker_pane_init(struct picker_pane *p);
void picker_pane_release(struct picker_pane *p);
/* The command palette. */
void picker_pane_show_actions(struct app *a);
/* Asks for the models; the picker opens with the answer. */
void picker_pane_ask_models(struct app *a);

/* ---- pane-prompt.c: one line, the system prompt, or y/n ---- */

enum prompt_kind {
	PR_RENAME,		/* one line: the title */
	PR_SEARCH,		/* one line: the search */
	PR_SYSTEM,		/* several lines: the system prompt */
	PR_DELETE,		/* y / n */
};

struct prompt_pane {
	struct pane base;
	enum prompt_kind kind;
	char title[128];
	struct editor edit;
};

void prompt_pane_init(struct prompt_pane *p);
void prompt_pane_release(struct prompt_pane *p);
/* Opens the prompt with title and text (NULL: empty). */
void prompt_pane_show(struct app *a, enum prompt_kind kind,
		      const char *title, const char *text);

/* ---- pane-usage.c: the usage screen ---- */

/* The usage screen's REST answers (the request's tag). */
enum usage_part {
	USAGE_ME,		/* GET /v1/users/me: the role */
	USAGE_DAYS,		/* own usage by day, the last 14 days */
	USAGE_MODELS,		/* own usage by model, the same days */
	USAGE_SUMMARY,		/* admin: today, 7 and 30 days */
	USAGE_USERS,		/* admin: usage by user, the same days */
	USAGE_TOP_MODELS,	/* admin: usage by model, the same days */
	USAGE_NPARTS
};

#define USAGE_DAYS_SHOWN 14
#define USAGE_TAIL_LINES 64		/* events kept for the tail */
#define USAGE_TAIL_SLOTS 4		/* tails still closing at once */

/* One reader of GET /v1/admin/events: a thread with its own API client
 * (a blocking streamed call, as rest.c's are), whose events reach the
 * UI as EV_REST events tagged "tail" to the usage pane.  Closing asks it
 * to stop (quit) and never waits: a slot is joined once done says it
 * ended, or at exit. */
struct usage_tail {
	pthread_t thread;
	bool started;			/* UI thread: joinable */
	atomic_bool quit;		/* UI -> thread: stop */
	atomic_bool done;		/* thread -> UI: ended */
	uint64_t gen;			/* the events' seq: which opening */
	struct auth *auth;
	struct evq *evq;
	struct pane *to;
	struct sse_parser parser;	/* the thread's */
	bool opened;			/* the thread's: the stream answered */
};

struct usage_pane {
	struct pane base;
	cJSON *part[USAGE_NPARTS];	/* owned answers, NULL none yet */
	bool asked[USAGE_NPARTS];	/* in flight */
	bool admin;			/* the summary answered: admin part */
	bool role_admin;		/* /v1/users/me says admin: a failed
					 * summary is worth saying */
	char from[11], to[11];		/* the days shown, YYYY-MM-DD */
	int64_t from_t;			/* from's midnight, unix seconds */
	char error[256];		/* own usage failed: why, "" none */
	char admin_error[256];		/* the summary failed (not 403) */
	uint64_t gen;			/* the current tail's opening */
	struct usage_tail tails[USAGE_TAIL_SLOTS];
	int tail_slot;			/* the live one, -1 none */
	char tail_state[128];		/* "connecting", "live", why it
					 * ended */
	char *tail[USAGE_TAIL_LINES];	/* owned lines, a ring */
	size_t tail_next, tail_count;
	bool utf8;			/* block characters, else '#' */
	int top;			/* rows scrolled away */
	int rows, shown_rows;		/* of the last paint: the content's
					 * and the box's */
};

void usage_pane_init(struct usage_pane *u);
/* Stops and joins every tail thread (blocks until they end: at exit). */
void usage_pane_release(struct usage_pane *u);
/* Opens the usage screen and asks for its figures. */
void usage_pane_show(struct app *a);
/* Closes it and stops its event tail (the login ends: what it showed,
 * perhaps an admin's, is not another login's to see). */
void usage_pane_close(struct app *a);
/* The bar of value out of max in cols columns into out (NUL-ended):
 * full blocks and an eighth block for the rest with utf8, else '#'
 * (rounded); at least one cell for a value above 0.  Pure: the unit
 * tests call it. */
void usage_bar(long long value, long long max, int cols, bool utf8,
	       char *out, size_t outlen);

/* ---- pane-notes.c: the notifications and their unread count ---- */

/* One notification as the overlay shows it. */
struct note {
	char id[CHATUI_ID_MAX];
	char kind[32];			/* "generation_finished"... */
	char *title;			/* owned: the server's text */
	char *body;			/* owned */
	char *detail;			/* owned, NULL none: what its data
					 * names (a title, a key's name) */
	char conv_id[CHATUI_ID_MAX];	/* an answer's conversation, "" */
	char when[20];			/* "YYYY-MM-DD HH:MM" (UTC), "" */
	bool read;
};

struct notes_pane {
	struct pane base;
	struct note *items;		/* owned, newest first */
	size_t n, cap;
	long unread;			/* the badge; -1 not known yet */
	char next_before[CHATUI_ID_MAX];	/* the next page's cursor, ""
					 * when the last is loaded */
	bool loading;			/* a page is on its way */
	uint64_t list_seq;		/* the page request that counts */
	long sel, top;			/* cursor, first item shown */
	int rows;			/* items shown by the last paint */
};

void notes_pane_init(struct notes_pane *n);
void notes_pane_release(struct notes_pane *n);
/* Asks for the first page and the unread count (at start, after a
 * login, after a reconnect). */
void notes_pane_refresh(struct app *a);
/* Forgets the login's notifications (the badge goes) and closes the
 * overlay: whoever logs in next sees none of them. */
void notes_pane_clear(struct app *a);
/* Opens the overlay (and asks for the first page again). */
void notes_pane_show(struct app *a);
/* A "notification" frame's data: one more, unless already held. */
void notes_pane_frame(struct app *a, const cJSON *data);

/* ---- the editing keys every editor shares (pane-input.c) ---- */

/* The line-editing keys (Backspace, Ctrl-W, arrows...) on e at width:
 * true when key was one. */
bool pane_edit_key(struct editor *e, int key, bool code, int width);
/* Inserts the character wc at e's cursor. */
void pane_insert_wc(struct editor *e, unsigned wc);

#endif
