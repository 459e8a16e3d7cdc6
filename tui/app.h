/*
 * app.h - the UI thread's state and its modules: app.c (the poll loop,
 * focus routing, repaint pacing), the panes (pane.h), actions.c (what
 * each command does), frames.c (the WebSocket's frames), view.c (the
 * screen's layout), term.c (the terminal: setup, colours, restore on
 * exit and on fatal signals).  Everything here belongs to the UI thread.
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
#include "pane.h"

struct app {
	struct evq evq;
	struct auth auth;
	struct rest rest;
	struct ws ws;
	struct state st;		/* the list and the open conversation,
					 * shared by the panes that show them */
	bool quit;
	bool dirty;			/* repaint before the next wait */
	int rows, cols;

	/* the panes (pane.h) */
	struct list_pane list;
	struct chat_pane chat;
	struct input_pane input;
	struct login_pane login;	/* instead of everything when active */
	struct help_pane help;
	struct picker_pane picker;
	struct prompt_pane prompt;
	struct usage_pane usage;
	struct notes_pane notes;	/* also the status line's badge */
	unsigned focus;			/* enum focus: list, chat or input */
	struct pane *overlay;		/* on top of them, NULL none */

	/* connection (frames.c) */
	int ws_state;			/* enum ui_ws_state */
	int64_t ws_retry_at;
	bool ws_was_open;		/* opened once: a later close is news */
	bool logged_in;
	int next_ref;			/* of our frames */

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
/* Status messages that stop being true, cleared then. */
#define APP_STATUS_NEW_CONV "new conversation: type the first message"
#define APP_STATUS_STOPPING "stopping"
/* Clears the status message when it still says text (a message that
 * stopped being true). */
void app_clear_status(struct app *a, const char *text);
/* Monotonic microseconds, for the trace's timings. */
int64_t app_now_us(void);
/* A trace line: what, in milliseconds since since_us. */
void app_trace(struct app *a, const char *what, int64_t since_us);
/* Puts the focus on FOCUS_INPUT, FOCUS_MSGS or FOCUS_LIST. */
void app_focus(struct app *a, unsigned focus);
/* Opens an overlay pane on top (NULL: closes the one shown). */
void app_overlay(struct app *a, struct pane *p);
/* The status line for a failed REST answer (message and code). */
void app_rest_failed(struct app *a, const struct ui_event *ev);

/* ---- frames.c: the WebSocket's frames and state ---- */
/* A frame {type, conversation_id, key: id, ref} on the WebSocket. */
int frames_send(struct app *a, const char *type, const char *cid,
		const char *key, const char *id);
/* A frame from /v1/ws folded into the state and told to the panes. */
void frames_apply(struct app *a, const cJSON *frame);
/* The socket opened, closed or waits. */
void frames_ws_state(struct app *a, const struct ui_event *ev);
/* After a login: the socket reconnects, the panes reload. */
void frames_after_login(struct app *a);

/* ---- actions.c ---- */
/* Does what act means (nothing for ACT_NONE) and asks for a repaint. */
void actions_run(struct app *a, enum action act);
/* True when act has a function (every action but ACT_NONE should). */
bool actions_defined(enum action act);

/* ---- view.c: the screen's layout and the drawing the panes share ---- */
void view_paint(struct app *a);
/* Where the panes go, for an input box of in_rows rows. */
void view_geom(const struct app *a, int in_rows, struct geom *g);
/* Draws UTF-8 text at (y, x), at most maxcols columns; controls and
 * invalid bytes become spaces / U+FFFD.  Returns the columns used. */
int view_text(int y, int x, const char *s, size_t len, int maxcols,
	      int attr);
int view_str(int y, int x, const char *s, int maxcols, int attr);
/* view_str, but text wider than maxcols ends with an ellipsis where it
 * is cut, so that a reader sees that something is missing. */
int view_str_cut(int y, int x, const char *s, int maxcols, int attr);
void view_fill(int y, int x, int w, int attr);
/* A bordered box of h by w in the middle of the screen, title on its
 * top border; its corner in *y0, *x0. */
void view_box(struct app *a, int h, int w, int *y0, int *x0,
	      const char *title);

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
