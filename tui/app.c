/*
 * app.c - chatui's UI thread: the main loop (poll on stdin and the
 * event queue's pipe, never on the network), keys routed to the pane
 * they belong to (the login screen, else the overlay on top, else the
 * pane in focus, then the key table's actions), the workers' answers
 * routed to the pane that asked (pane.h), and repaints paced (view.c).
 */
#include "app.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define PAINT_MIN_MS 16		/* at most ~60 paints a second */
#define STATUS_MS 8000		/* a status message (not an error) stays */

static volatile sig_atomic_t app_signalled;
static int app_wake_fd = -1;

static void app_on_signal(int sig)
{
	char c = 1;

	(void)sig;
	app_signalled = 1;
	if (app_wake_fd >= 0 && write(app_wake_fd, &c, 1) < 0) {
		/* the flag alone will do */
	}
}

void app_set_status(struct app *a, bool error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->status, sizeof(a->status), fmt, ap);
	va_end(ap);
	a->status_error = error;
	a->status_at = mono_ms();
	a->dirty = true;
}

void app_clear_status(struct app *a, const char *text)
{
	if (strcmp(a->status, text) == 0) {
		a->status[0] = '\0';
		a->dirty = true;
	}
}

void app_rest_failed(struct app *a, const struct ui_event *ev)
{
	app_set_status(a, true, "%s%s%s%s", ev->message,
		       ev->code[0] ? " (" : "", ev->code,
		       ev->code[0] ? ")" : "");
}

int64_t app_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void app_trace(struct app *a, const char *what, int64_t since_us)
{
	if (a->trace) {
		fprintf(a->trace, "%s %.3f\n", what,
			(double)(app_now_us() - since_us) / 1000.0);
		fflush(a->trace);
	}
}

void app_focus(struct app *a, unsigned focus)
{
	a->focus = focus;
	a->dirty = true;
}

void app_overlay(struct app *a, struct pane *p)
{
	a->overlay = p;
	a->dirty = true;
}

/* The pane a focus names. */
static struct pane *app_focused(struct app *a)
{
	if (a->focus == FOCUS_LIST)
		return &a->list.base;
	if (a->focus == FOCUS_MSGS)
		return &a->chat.base;
	return &a->input.base;
}

/* ---- keys ---- */

/* Bracketed paste: the text gathered between the markers goes into the
 * editor of the overlay on top, else the input.  True when key was
 * taken. */
static bool app_paste_key(struct app *a, int key, bool code)
{
	struct pane *to;
	struct editor *e;

	if (code && key == KEY_PASTE_BEGIN) {
		a->pasting = true;
		buf_reset(&a->paste);
		return true;
	}
	if (code && key == KEY_PASTE_END) {
		a->pasting = false;
		to = a->login.active ? &a->login.base :
		     a->overlay ? a->overlay : &a->input.base;
		e = to->ops->paste_target ? to->ops->paste_target(to) : NULL;
		if (e && editor_insert(e, a->paste.data ? a->paste.data : "",
				       a->paste.len) < 0)
			app_set_status(a, true, "the paste is too large");
		buf_reset(&a->paste);
		if (!a->login.active && !a->overlay)
			app_focus(a, FOCUS_INPUT);
		return true;
	}
	if (!a->pasting)
		return false;
	if (!code) {
		char mb[8];
		mbstate_t ps;
		size_t n;

		memset(&ps, 0, sizeof(ps));
		n = wcrtomb(mb, (wchar_t)(key == '\r' ? '\n' : key), &ps);
		if (n != (size_t)-1 && buf_append(&a->paste, mb, n) < 0)
			app_set_status(a, true, "the paste is too large");
	}
	return true;
}

static void app_key(struct app *a, int key, bool code)
{
	struct pane *p;
	enum action act;
	unsigned r;

	a->dirty = true;
	if (app_paste_key(a, key, code))
		return;
	if (code && key == KEY_RESIZE) {
		clearok(stdscr, TRUE);
		return;
	}
	if (code && key == KEY_MOUSE) {
		MEVENT me;

		if (getmouse(&me) == OK) {
			if (me.bstate & BUTTON4_PRESSED)
				chat_layout_scroll(a, -3);
			else if (me.bstate & BUTTON5_PRESSED)
				chat_layout_scroll(a, 3);
		}
		return;
	}
	if (a->login.active) {
		a->login.base.ops->key(&a->login.base, a, key, code);
		return;
	}
	if (a->overlay) {
		p = a->overlay;
		r = p->ops->key(p, a, key, code);
		if ((r & PANE_CLOSE) && a->overlay == p)
			app_overlay(a, NULL);
		return;
	}
	p = app_focused(a);
	if (p->ops->key && (p->ops->key(p, a, key, code) & PANE_HANDLED))
		return;
	/* a character past ASCII may share a number with a KEY_ code */
	act = code || key < 128 ?
	      ui_key_lookup(key, a->focus, editor_empty(&a->input.ed)) :
	      ACT_NONE;
	if (act != ACT_NONE) {
		actions_run(a, act);
		return;
	}
	if (!p->ops->type) {
		if (code || key < 32 || key == 127)
			return;
		/* typing goes to the input */
		app_focus(a, FOCUS_INPUT);
		p = app_focused(a);
	}
	p->ops->type(p, a, key, code);
}

static void app_read_keys(struct app *a)
{
	wint_t wc;
	int r, n = 0;

	while (n++ < 4096) {
		r = get_wch(&wc);
		if (r == ERR)
			break;
		if (!a->key_us)
			a->key_us = app_now_us();
		app_key(a, (int)wc, r == KEY_CODE_YES);
	}
}

/* ---- events ---- */

/* A REST answer goes to the pane that asked; while the login screen
 * shows, answers to the previous login's calls are not shown. */
static void app_rest_event(struct app *a, struct ui_event *ev)
{
	struct pane *to = ev->to;

	if (!to || !to->ops->answer)
		return;
	if (a->login.active && to != &a->login.base)
		return;
	to->ops->answer(to, a, ev);
}

static void app_events(struct app *a)
{
	struct ui_event *ev = evq_take_all(&a->evq), *next;

	for (; ev; ev = next) {
		next = ev->next;
		switch (ev->kind) {
		case EV_REST:
			app_rest_event(a, ev);
			break;
		case EV_WS_FRAME:
			frames_apply(a, ev->json);
			break;
		case EV_WS_STATE:
			frames_ws_state(a, ev);
			break;
		case EV_AUTH_LOST:
			if (!a->login.active)
				login_pane_show(a, ev->message[0] ?
						ev->message :
						ui_auth_have(&a->auth) ? "" :
						"please log in");
			break;
		}
		ui_event_free(ev);
		a->dirty = true;
	}
}

/* ---- setup and the loop ---- */

int app_init(struct app *a, const char *server, const char *conversation)
{
	const char *trace = getenv("CHATUI_TRACE");
	int rc;

	memset(a, 0, sizeof(*a));
	a->start_us = app_now_us();
	a->focus = FOCUS_INPUT;
	a->ws_state = WS_CONNECTING;
	state_init(&a->st);
	list_pane_init(&a->list);
	chat_pane_init(&a->chat);
	input_pane_init(&a->input);
	login_pane_init(&a->login);
	help_pane_init(&a->help);
	picker_pane_init(&a->picker);
	prompt_pane_init(&a->prompt);
	usage_pane_init(&a->usage);
	notes_pane_init(&a->notes);
	buf_init(&a->paste, CHATUI_CONTENT_MAX);
	if (trace && trace[0])
		a->trace = fopen(trace, "a");
	rc = evq_init(&a->evq);
	if (rc == 0)
		rc = ui_auth_init(&a->auth, server);
	if (rc < 0)
		return rc;
	a->logged_in = ui_auth_have(&a->auth);
	if (!a->logged_in)
		login_pane_show(a, "not logged in to this server");
	rc = rest_start(&a->rest, &a->auth, &a->evq);
	if (rc == 0)
		rc = ui_ws_start(&a->ws, &a->auth, &a->evq);
	if (rc < 0)
		return rc;
	if (a->logged_in) {
		list_pane_refresh(a);
		input_pane_ask_default_model(a);
		notes_pane_refresh(a);
		if (conversation)
			chat_pane_open(a, conversation);
	}
	return 0;
}

void app_release(struct app *a)
{
	usage_pane_release(&a->usage);
	notes_pane_release(&a->notes);
	ui_ws_stop(&a->ws);
	rest_stop(&a->rest);
	state_release(&a->st);
	input_pane_release(&a->input);
	login_pane_release(&a->login);
	picker_pane_release(&a->picker);
	prompt_pane_release(&a->prompt);
	buf_release(&a->paste);
	ui_auth_release(&a->auth);
	evq_release(&a->evq);
	if (a->trace)
		fclose(a->trace);
}

/* Paints when something changed, at most every PAINT_MIN_MS for
 * streamed text (a key paints at once). */
static void app_paint(struct app *a)
{
	if (!a->dirty ||
	    (!a->key_us && mono_ms() - a->last_paint_ms < PAINT_MIN_MS))
		return;
	view_paint(a);
	a->dirty = false;
	a->last_paint_ms = mono_ms();
	if (!a->first_frame) {
		a->first_frame = true;
		app_trace(a, "first_frame_ms", a->start_us);
	}
	if (a->key_us) {
		app_trace(a, "key_to_paint_ms", a->key_us);
		a->key_us = 0;
	}
	/* after a paint, which anchored the pane (every event, a page of
	 * messages too, asks for one) */
	chat_pane_load_older(a);
}

int app_run(struct app *a)
{
	struct pollfd pfd[2];
	struct sigaction sa;
	int timeout, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_on_signal;
	app_wake_fd = a->evq.pipe_wr;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->dirty = true;
	while (!a->quit && !app_signalled) {
		app_paint(a);
		/* a banner counts down, tokens/s moves: tick while needed */
		timeout = a->dirty ? PAINT_MIN_MS :
			  (a->ws_state != WS_OPEN || a->st.streaming_id[0]) ?
			  500 : 5000;
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = a->evq.pipe_rd;
		pfd[1].events = POLLIN;
		rc = poll(pfd, 2, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		app_read_keys(a);	/* also a KEY_RESIZE after SIGWINCH */
		app_events(a);
		if (a->status[0] && !a->status_error &&
		    mono_ms() - a->status_at > STATUS_MS) {
			a->status[0] = '\0';
			a->dirty = true;
		}
		if (timeout >= 500)
			a->dirty = true;
	}
	app_wake_fd = -1;
	return 0;
}
