/*
 * app.h - the UI thread's state and its modules: app.c (input, events),
 * actions.c (what each command does), view.c (painting), term.c (the
 * terminal: setup, colours, restore on exit and on fatal signals).
 * Everything here belongs to the UI thread.
 */
#ifndef CHAT_TUI_APP_H
#define CHAT_TUI_APP_H

#include <stdio.h>

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>

#include "chatui.h"
#include "editor.h"

enum overlay {
	OV_NONE,
	OV_HELP,
	OV_PALETTE,		/* actions, fuzzy filtered */
	OV_MODELS,		/* models, fuzzy filtered */
	OV_PROMPT,		/* one line of text (rename, search) */
	OV_CONFIRM,		/* y / n */
	OV_SYSTEM,		/* the system prompt, several lines */
};

enum prompt_for { PR_RENAME, PR_SEARCH, PR_DELETE };

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

struct app {
	struct evq evq;
	struct auth auth;
	struct rest rest;
	struct ws ws;
	struct state st;
	struct editor input;
	unsigned focus;			/* enum focus */
	bool quit;
	bool dirty;			/* repaint before the next wait */
	int rows, cols;

	/* connection */
	int ws_state;			/* enum ui_ws_state */
	int64_t ws_retry_at;
	bool ws_was_open;		/* opened once: a later close is news */
	bool logged_in;

	/* the list */
	bool show_list;
	bool show_archived;
	char filter[128];		/* typed in the list */
	char search[256];		/* server-side search, "" none */
	long list_sel;			/* index into st.convs, -1 none */
	long list_top;			/* first visible filtered row */

	/* the message pane */
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
	int64_t older_us;		/* the RQ_OLDER's start, for the trace */
	int code_idx;			/* next code block to copy ... */
	char code_msg[CHATUI_ID_MAX];	/* ... of this message */

	/* sending */
	struct pending pend;
	int next_ref;
	bool editing;			/* the input edits an earlier message */
	char edit_parent[CHATUI_ID_MAX];
	char new_model[128];		/* for the next new conversation */
	char *new_system;		/* owned, likewise */

	/* overlays */
	enum overlay ov;
	enum prompt_for prompt_for;
	char ov_title[128];
	struct editor ov_edit;		/* prompt, filter, system prompt */
	long ov_sel;
	int help_top;			/* first help entry shown */
	char **models;			/* owned */
	size_t nmodels;

	/* login screen */
	bool login;
	int login_field;		/* 0 user, 1 password */
	struct editor login_user, login_pass;
	bool login_busy;
	char login_msg[256];

	/* status line */
	char status[256];
	bool status_error;
	int64_t status_at;

	/* bracketed paste */
	bool pasting;
	struct buf paste;

	/* colours and trace */
	int color_mode;			/* 0 mono, 8, 256 */
	FILE *trace;			/* times from app_now_us() */
	int64_t start_us;
	int64_t key_us;			/* a key waits for its paint */
	int64_t open_us;		/* an opened conversation, likewise */
	bool first_frame;
	int64_t last_paint_ms;
};

/* ---- app.c ---- */
int app_init(struct app *a, const char *server, const char *conversation);
void app_release(struct app *a);
/* The main loop until quit; 0 or a negative CHAT_E*. */
int app_run(struct app *a);
void app_set_status(struct app *a, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Monotonic microseconds, for the trace's timings. */
int64_t app_now_us(void);

/* ---- app.c, for actions.c ---- */
void app_list(struct app *a);
/* Opens conversation id, or reloads the open one. */
void app_open(struct app *a, const char *id);
/* PATCHes conversation id with body (taken over). */
void app_patch(struct app *a, enum rq_kind kind, const char *id,
	       cJSON *body);
/* Sends what the input holds (a new message or an edit). */
void app_send(struct app *a);
/* A frame {type, conversation_id, key: id, ref} on the WebSocket. */
int app_ws_frame(struct app *a, const char *type, const char *cid,
		 const char *key, const char *id);
void app_overlay(struct app *a, enum overlay ov, const char *title,
		 const char *text);
void pend_clear(struct pending *p);

/* ---- actions.c ---- */
/* Does what act means (nothing for ACT_NONE) and asks for a repaint. */
void actions_run(struct app *a, enum action act);
/* True when act has a function (every action but ACT_NONE should). */
bool actions_defined(enum action act);

/* ---- view.c ---- */
void view_paint(struct app *a);
/* Makes sure m is laid out at width; its rows (header, text, gap). */
int view_msg_rows(struct msg *m, int width);
/* Scrolls the message pane by rows (negative: up). */
void view_scroll(struct app *a, int rows);
/* Scrolls so that message i is visible. */
void view_show_msg(struct app *a, size_t i);
/* The first message in the pane (anchoring at the bottom first when
 * the pane follows it: only the last screenful is laid out). */
size_t view_first_visible(struct app *a);
/* Indices into st.convs that pass the list filter; count returned,
 * at most max written. */
size_t view_filtered(const struct app *a, long *out, size_t max);

/* ---- term.c ---- */
int term_init(struct app *a);
void term_restore(void);
/* Writes raw bytes to the terminal (OSC 52), outside ncurses. */
void term_write_raw(const char *s, size_t len);
/* A colour pair attribute for a UI element or a Markdown kind. */
int term_attr_md(int md_kind, int md_attrs, int level);
enum ui_color {
	UC_NORMAL, UC_DIM, UC_USER, UC_ASSISTANT, UC_SELECTED, UC_STATUS,
	UC_BANNER, UC_ERROR, UC_BORDER, UC_CURRENT, UC_OK, UC_COUNT
};
int term_attr(enum ui_color c);
/* The codes that the bracketed-paste markers arrive as. */
#define KEY_PASTE_BEGIN (KEY_MAX + 1)
#define KEY_PASTE_END (KEY_MAX + 2)

#endif
