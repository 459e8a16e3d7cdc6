/*
 * app.c - chatui's UI thread: the main loop (poll on stdin and the
 * event queue's pipe, never on the network), keys turned into actions
 * through the key table (keys.c), actions turned into REST calls and
 * WebSocket frames, and the workers' answers folded into the state
 * (state.c) before a repaint (view.c).
 *
 * Long conversations: a conversation opens with its newest CHATUI_PAGE
 * messages; when the pane's first message comes within half a page of
 * the oldest one loaded, the page before is asked (one at a time, on
 * the REST worker, so the loop never waits) and put in front, the view
 * staying where it was.  Home asks for every earlier page, the largest
 * the API gives, and keeps the pane on the first message as they come.
 * A reload (a branch moved elsewhere, a reconnect, "reset") asks again
 * for as many messages as were loaded (up to CHATUI_PAGE_MAX) and keeps
 * the pane on the message it showed when that one is still there.
 *
 * Sending: the text stays in the input until the server echoes the user
 * message (a `message` event whose content matches); while the socket
 * is down the message waits and goes out on reconnect; an error leaves
 * the text where it is.
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
#include <wchar.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define PAINT_MIN_MS 16		/* at most ~60 paints a second */
#define KEY_ESC 27

static volatile sig_atomic_t app_signalled;
static int app_wake_fd = -1;

size_t app_overlay_items(struct app *a, long *ids, size_t max);

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

int64_t app_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A trace line: what, in milliseconds since since_us. */
static void app_trace(struct app *a, const char *what, int64_t since_us)
{
	if (a->trace) {
		fprintf(a->trace, "%s %.3f\n", what,
			(double)(app_now_us() - since_us) / 1000.0);
		fflush(a->trace);
	}
}

/* A trace line of how many messages the open branch holds (the tests
 * check that a long one is loaded a page at a time). */
static void app_trace_loaded(struct app *a)
{
	if (a->trace) {
		fprintf(a->trace, "msgs_loaded %zu%s\n", a->st.nmsgs,
			state_partial(&a->st) ? "" : " complete");
		fflush(a->trace);
	}
}

/* ---- requests ---- */

void app_list(struct app *a)
{
	char path[1200], q[800];
	cJSON *none = NULL;

	if (a->search[0]) {
		/* the query, percent-encoded (RFC 3986 unreserved kept) */
		size_t i, n = 0;

		for (i = 0; a->search[i] && n + 4 < sizeof(q); i++) {
			unsigned char c = (unsigned char)a->search[i];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '.' || c == '~') {
				q[n++] = (char)c;
			} else {
				snprintf(q + n, 4, "%%%02X", c);
				n += 3;
			}
		}
		q[n] = '\0';
		snprintf(path, sizeof(path),
			 "/v1/conversations?limit=100&archived=%s&q=%s",
			 a->show_archived ? "true" : "false", q);
		rest_submit(&a->rest, RQ_SEARCH, "GET", path, none, NULL);
		return;
	}
	snprintf(path, sizeof(path), "/v1/conversations?limit=100%s",
		 a->show_archived ? "&archived=true" : "");
	rest_submit(&a->rest, RQ_LIST, "GET", path, none, NULL);
}

/* Opens conversation id, or reloads the open one (keeping the pane on
 * the message it shows, the selection, and as many messages). */
void app_open(struct app *a, const char *id)
{
	char path[256];
	size_t n = CHATUI_PAGE;

	a->keep_top[0] = a->keep_sel[0] = '\0';
	if (a->st.open && strcmp(a->st.cur.id, id) == 0) {
		if (a->st.nmsgs > n)
			n = a->st.nmsgs < CHATUI_PAGE_MAX ? a->st.nmsgs :
			    CHATUI_PAGE_MAX;
		if (!a->follow && a->top_msg < a->st.nmsgs) {
			snprintf(a->keep_top, sizeof(a->keep_top), "%s",
				 a->st.msgs[a->top_msg].id);
			a->keep_row = a->top_row;
		}
		if (a->sel_msg >= 0 && (size_t)a->sel_msg < a->st.nmsgs)
			snprintf(a->keep_sel, sizeof(a->keep_sel), "%s",
				 a->st.msgs[a->sel_msg].id);
	} else {
		state_close(&a->st);
		a->sel_msg = -1;
		a->follow = true;
		a->want_top = false;
		a->code_idx = 0;
	}
	snprintf(path, sizeof(path), "/v1/conversations/%s?messages=%zu", id,
		 n);
	a->open_seq = rest_submit(&a->rest, RQ_OPEN, "GET", path, NULL, id);
	a->open_us = app_now_us();
	a->loading = true;
	a->older_failed = false;
	/* a page asked for before this (re)load is stale: its answer, which
	 * comes first (one worker, in order), must touch nothing */
	a->older_seq = 0;
	a->dirty = true;
}

/* Asks for the page before the oldest message loaded when the pane
 * comes near it (or Home wants them all): one request at a time, none
 * while the conversation (re)loads. */
static void app_load_older(struct app *a)
{
	bool all = a->want_top || a->keep_top[0];	/* pages until ... */
	char path[256];
	size_t first;

	if (!state_partial(&a->st) || a->older_seq || a->loading ||
	    a->older_failed || a->login || a->pane_rows <= 0)
		return;
	first = view_first_visible(a);
	if (!all && first >= CHATUI_PAGE / 2)
		return;
	snprintf(path, sizeof(path),
		 "/v1/conversations/%s/branch?before=%s&limit=%d",
		 a->st.cur.id, a->st.msgs_before,
		 all ? CHATUI_PAGE_MAX : CHATUI_PAGE);
	snprintf(a->older_before, sizeof(a->older_before), "%s",
		 a->st.msgs_before);
	a->older_seq = rest_submit(&a->rest, RQ_OLDER, "GET", path, NULL,
				   a->st.cur.id);
	a->older_us = app_now_us();
}

/* A page of earlier messages arrived: in front, the pane unmoved (or on
 * the first message for Home, or on the message a reload looks for). */
static void app_older(struct app *a, struct ui_event *ev)
{
	int rc = state_prepend(&a->st, ev->tag, ev->json);
	size_t n = a->st.prepended;

	if (rc < 0) {
		a->older_failed = true;
		app_set_status(a, true, "cannot show the earlier messages: %s",
			       chat_strerror(rc));
		return;
	}
	if (!(rc & ST_OLDER)) {
		/* dropped although it answered what is still wanted: the
		 * server gives another page; asking again would loop */
		if (state_partial(&a->st) &&
		    strcmp(a->older_before, a->st.msgs_before) == 0) {
			a->older_failed = true;
			app_set_status(a, true, "the server answered another "
				       "page of earlier messages");
		}
		return;
	}
	if (a->want_top) {
		a->follow = false;
		a->top_msg = 0;
		a->top_row = 0;
		if (a->sel_msg >= 0)
			a->sel_msg = 0;
	} else if (a->keep_top[0]) {
		long t = state_find_msg(&a->st, a->keep_top);

		if (a->sel_msg >= 0)
			a->sel_msg += (long)n;
		a->follow = false;
		a->top_msg = t >= 0 ? (size_t)t : 0;
		a->top_row = t >= 0 ? a->keep_row : 0;
		if (t >= 0 || !state_partial(&a->st)) {
			a->keep_top[0] = '\0';	/* found, or never will be */
			if (t < 0)
				a->follow = true;
			view_scroll(a, 0);	/* clamps the row */
		}
	} else {
		a->top_msg += n;
		if (a->sel_msg >= 0)
			a->sel_msg += (long)n;
	}
	if (!state_partial(&a->st) && a->want_top) {
		a->want_top = false;
		app_set_status(a, false, "the first message");
	}
	app_trace(a, "older_ms", a->older_us);
	app_trace_loaded(a);
}

/* After a (re)load: the pane back on the message it showed, the
 * selection on the message it was on (or the branch moved to), else
 * the end.  A message shown that is older than the reload's messages is
 * looked for: earlier pages are loaded (the pane on the first one
 * meanwhile) until it comes. */
static void app_after_open(struct app *a)
{
	long t = a->keep_top[0] ? state_find_msg(&a->st, a->keep_top) : -1;
	bool seek = t < 0 && a->keep_top[0] && state_partial(&a->st);

	a->sel_msg = a->keep_sel[0] ? state_find_msg(&a->st, a->keep_sel) :
		     -1;
	a->keep_sel[0] = '\0';
	if (a->want_top || seek) {
		a->follow = false;
		a->top_msg = 0;		/* the pages go on coming */
		a->top_row = 0;
		if (a->want_top)
			a->keep_top[0] = '\0';
		return;
	}
	a->follow = t < 0;
	a->keep_top[0] = '\0';
	if (t >= 0) {
		a->top_msg = (size_t)t;
		a->top_row = a->keep_row;
		view_scroll(a, 0);	/* clamps the row, follows at the end */
	}
}

void app_patch(struct app *a, enum rq_kind kind, const char *id,
	       cJSON *body)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/conversations/%s", id);
	rest_submit(&a->rest, kind, "PATCH", path, body, id);
}

/* ---- sending ---- */

void pend_clear(struct pending *p)
{
	free(p->content);
	p->content = NULL;
	p->active = p->sent = false;
}

/* Sends the pending message when it can: a conversation exists and the
 * socket is open. */
static void app_pend_dispatch(struct app *a)
{
	struct pending *p = &a->pend;
	cJSON *f;
	char *text;
	int rc;

	if (!p->active || p->sent)
		return;
	if (!p->conv_id[0]) {
		cJSON *body = cJSON_CreateObject();

		if (body && a->new_model[0])
			cJSON_AddStringToObject(body, "model", a->new_model);
		if (body && a->new_system)
			cJSON_AddStringToObject(body, "system_prompt",
						a->new_system);
		p->sent = true;	/* the create is on its way */
		rest_submit(&a->rest, RQ_CREATE, "POST", "/v1/conversations",
			    body, "send");
		return;
	}
	if (a->ws_state != WS_OPEN) {
		app_set_status(a, false, "not connected: the message will be "
			       "sent when the connection is back");
		return;
	}
	f = cJSON_CreateObject();
	if (!f)
		return;
	p->ref = ++a->next_ref;
	cJSON_AddStringToObject(f, "type", "send");
	cJSON_AddStringToObject(f, "conversation_id", p->conv_id);
	cJSON_AddStringToObject(f, "content", p->content);
	if (p->has_parent) {
		if (p->parent_id[0])
			cJSON_AddStringToObject(f, "parent_id", p->parent_id);
		else
			cJSON_AddNullToObject(f, "parent_id");
	}
	cJSON_AddNumberToObject(f, "ref", p->ref);
	text = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	if (!text)
		return;
	rc = ui_ws_send_text(&a->ws, text, strlen(text));
	cJSON_free(text);
	if (rc == 0)
		p->sent = true;
}

void app_send(struct app *a)
{
	struct pending *p = &a->pend;
	const char *text = a->input.text.data;
	size_t len = a->input.text.len, i;

	if (!text || !len)
		return;
	for (i = 0; i < len && (text[i] == ' ' || text[i] == '\n' ||
				text[i] == '\t'); i++)
		;
	if (i == len)
		return;
	if (p->active) {
		app_set_status(a, false, "still sending the last message");
		return;
	}
	if (a->st.streaming_id[0]) {
		app_set_status(a, true, "an answer is being written: Esc "
			       "stops it");
		return;
	}
	pend_clear(p);
	p->content = strndup(text, len);
	if (!p->content)
		return;
	p->active = true;
	p->has_parent = a->editing;
	snprintf(p->parent_id, sizeof(p->parent_id), "%s", a->edit_parent);
	snprintf(p->conv_id, sizeof(p->conv_id), "%s",
		 a->st.open ? a->st.cur.id : "");
	state_hash(text, len, p->hash);
	a->follow = true;
	app_pend_dispatch(a);
	a->dirty = true;
}

/* The server echoed a user message: clear the input if it is ours. */
static void app_acked(struct app *a)
{
	char h[17];

	if (!a->pend.hash[0] ||
	    strcmp(a->st.ack_content_hash, a->pend.hash) != 0)
		return;
	state_hash(a->input.text.data ? a->input.text.data : "",
		   a->input.text.len, h);
	if (strcmp(h, a->pend.hash) == 0)
		editor_clear(&a->input);
	pend_clear(&a->pend);
	a->pend.hash[0] = '\0';
	a->editing = false;
	a->follow = true;
}

int app_ws_frame(struct app *a, const char *type, const char *cid,
		 const char *key, const char *id)
{
	cJSON *f = cJSON_CreateObject();
	char *text;
	int rc;

	if (!f)
		return CHAT_ENOMEM;
	cJSON_AddStringToObject(f, "type", type);
	cJSON_AddStringToObject(f, "conversation_id", cid);
	if (key)
		cJSON_AddStringToObject(f, key, id);
	cJSON_AddNumberToObject(f, "ref", ++a->next_ref);
	text = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	if (!text)
		return CHAT_ENOMEM;
	rc = ui_ws_send_text(&a->ws, text, strlen(text));
	cJSON_free(text);
	return rc;
}

/* ---- overlays ---- */

void app_overlay(struct app *a, enum overlay ov, const char *title,
		 const char *text)
{
	a->ov = ov;
	a->ov_sel = 0;
	snprintf(a->ov_title, sizeof(a->ov_title), " %s ", title);
	editor_clear(&a->ov_edit);
	if (text)
		editor_set(&a->ov_edit, text, strlen(text));
	a->dirty = true;
}

/* ---- overlays' keys ---- */

static bool app_edit_key(struct editor *e, int key, bool code, int width)
{
	/* control characters (code false) and curses key codes (true) */
	static const struct {
		bool code;
		int key;
		void (*fn)(struct editor *);
	} keys[] = {
		{ true, KEY_BACKSPACE, editor_backspace },
		{ false, 127, editor_backspace },
		{ false, 8, editor_backspace },
		{ true, KEY_DC, editor_delete },
		{ false, 4, editor_delete },			/* Ctrl-D */
		{ false, 23, editor_delete_word_back },	/* Ctrl-W */
		{ false, 11, editor_kill_to_eol },		/* Ctrl-K */
		{ false, 21, editor_clear },			/* Ctrl-U */
		{ true, KEY_LEFT, editor_left },
		{ true, KEY_RIGHT, editor_right },
		{ true, KEY_HOME, editor_home }, { false, 1, editor_home },
		{ true, KEY_END, editor_end },
		{ true, KEY_SLEFT, editor_word_left },
		{ true, KEY_SRIGHT, editor_word_right },
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].code == code && keys[i].key == key) {
			keys[i].fn(e);
			return true;
		}
	}
	if (code && key == KEY_UP)
		return editor_up(e, width > 1 ? width : 1);
	if (code && key == KEY_DOWN)
		return editor_down(e, width > 1 ? width : 1);
	return false;
}

static void app_insert_wc(struct editor *e, wint_t wc)
{
	char mb[8];
	mbstate_t ps;
	size_t n;

	memset(&ps, 0, sizeof(ps));
	n = wcrtomb(mb, (wchar_t)wc, &ps);
	if (n != (size_t)-1)
		editor_insert(e, mb, n);
}

static void app_overlay_key(struct app *a, int key, bool code)
{
	long ids[256];
	size_t n;

	if (a->ov == OV_HELP) {
		/* the list may be taller than the screen: these keys scroll
		 * it (view_help clamps), any other closes it */
		static const struct {
			int key, step;
		} scroll[] = {
			{ KEY_UP, -1 }, { KEY_DOWN, 1 }, { KEY_PPAGE, -10 },
			{ KEY_NPAGE, 10 }, { KEY_HOME, -10000 },
			{ KEY_END, 10000 },
		};
		size_t k;

		for (k = 0; code && k < sizeof(scroll) / sizeof(scroll[0]);
		     k++) {
			if (scroll[k].key == key) {
				a->help_top += scroll[k].step;
				return;
			}
		}
		a->ov = OV_NONE;
		return;
	}
	if (a->ov == OV_CONFIRM) {
		if (!code && (key == 'y' || key == 'Y') && a->st.open) {
			char path[256];

			snprintf(path, sizeof(path), "/v1/conversations/%s",
				 a->st.cur.id);
			rest_submit(&a->rest, RQ_DELETE, "DELETE", path, NULL,
				    a->st.cur.id);
		}
		a->ov = OV_NONE;
		return;
	}
	if (!code && key == KEY_ESC) {
		a->ov = OV_NONE;
		return;
	}
	if ((a->ov == OV_PALETTE || a->ov == OV_MODELS) && code &&
	    (key == KEY_UP || key == KEY_DOWN)) {
		a->ov_sel += key == KEY_UP ? -1 : 1;
		if (a->ov_sel < 0)
			a->ov_sel = 0;
		return;
	}
	if (a->ov == OV_SYSTEM && !code && key == '\n') {
		editor_insert(&a->ov_edit, "\n", 1);
		return;
	}
	if (!code && key == '\r') {
		const char *t = a->ov_edit.text.data ?
				a->ov_edit.text.data : "";
		enum overlay ov = a->ov;
		cJSON *body;

		if (ov == OV_PALETTE || ov == OV_MODELS) {
			n = app_overlay_items(a, ids, 256);
			a->ov = OV_NONE;
			if (a->ov_sel < 0 || (size_t)a->ov_sel >= n)
				return;
			if (ov == OV_PALETTE) {
				actions_run(a, (enum action)ids[a->ov_sel]);
				return;
			}
			if (!a->st.open) {
				snprintf(a->new_model, sizeof(a->new_model),
					 "%s", a->models[ids[a->ov_sel]]);
				app_set_status(a, false, "model: %s",
					       a->new_model);
				return;
			}
			body = cJSON_CreateObject();
			if (body)
				cJSON_AddStringToObject(body, "model",
						a->models[ids[a->ov_sel]]);
			app_patch(a, RQ_PATCH, a->st.cur.id, body);
			return;
		}
		a->ov = OV_NONE;
		if (ov == OV_SYSTEM && !a->st.open) {
			free(a->new_system);
			a->new_system = t[0] ? strdup(t) : NULL;
			app_set_status(a, false, "system prompt kept for the "
				       "new conversation");
			return;
		}
		if (ov == OV_SYSTEM || a->prompt_for == PR_RENAME) {
			body = cJSON_CreateObject();
			if (!body)
				return;
			if (t[0])
				cJSON_AddStringToObject(body, ov == OV_SYSTEM ?
					"system_prompt" : "title", t);
			else
				cJSON_AddNullToObject(body, ov == OV_SYSTEM ?
					"system_prompt" : "title");
			app_patch(a, RQ_PATCH, a->st.cur.id, body);
			return;
		}
		if (a->prompt_for == PR_SEARCH) {
			snprintf(a->search, sizeof(a->search), "%s", t);
			a->filter[0] = '\0';
			a->show_list = true;
			a->focus = FOCUS_LIST;
			a->list_sel = 0;
			a->list_top = 0;
			app_list(a);
		}
		return;
	}
	if (app_edit_key(&a->ov_edit, key, code, 60))
		return;
	if (!code && key >= 32 && key != 127) {
		app_insert_wc(&a->ov_edit, (wint_t)key);
		a->ov_sel = 0;
	}
}

/* ---- the login screen ---- */

static void app_login_key(struct app *a, int key, bool code)
{
	struct editor *e = a->login_field ? &a->login_pass : &a->login_user;
	cJSON *body;

	if (a->login_busy)
		return;
	if (!code && (key == 17 || key == 3)) {
		a->quit = true;
		return;
	}
	if ((!code && key == '\t') || (code && (key == KEY_DOWN ||
						key == KEY_UP))) {
		a->login_field = !a->login_field;
		return;
	}
	if ((!code && key == '\r') || (code && key == KEY_F(2))) {
		if (!a->login_user.text.len || !a->login_pass.text.len) {
			snprintf(a->login_msg, sizeof(a->login_msg),
				 "enter a username and a password");
			if (a->login_user.text.len)
				a->login_field = 1;
			return;
		}
		body = cJSON_CreateObject();
		if (!body)
			return;
		cJSON_AddStringToObject(body, "username",
					a->login_user.text.data);
		cJSON_AddStringToObject(body, "password",
					a->login_pass.text.data);
		rest_submit(&a->rest, code ? RQ_REGISTER : RQ_LOGIN, "POST",
			    "", body, NULL);
		a->login_busy = true;
		return;
	}
	if (app_edit_key(e, key, code, 1000))
		return;
	if (!code && key >= 32 && key != 127)
		app_insert_wc(e, (wint_t)key);
}

/* ---- list and message pane keys ---- */

static bool app_list_key(struct app *a, int key, bool code)
{
	long idx[4096];
	size_t n = view_filtered(a, idx, 4096), k, pos = 0;
	size_t len = strlen(a->filter);

	if (n > 4096)
		n = 4096;
	for (k = 0; k < n; k++)
		if (idx[k] == a->list_sel)
			pos = k;
	if (code && (key == KEY_UP || key == KEY_DOWN)) {
		if (key == KEY_UP && pos > 0)
			pos--;
		else if (key == KEY_DOWN && pos + 1 < n)
			pos++;
		a->list_sel = n ? idx[pos] : -1;
		if ((long)pos < a->list_top)
			a->list_top = (long)pos;
		if ((long)pos >= a->list_top + a->rows - 3)
			a->list_top = (long)pos - (a->rows - 4);
		return true;
	}
	if (!code && key == '\r') {
		if (n && a->list_sel >= 0) {
			app_open(a, a->st.convs[a->list_sel].id);
			a->focus = FOCUS_INPUT;
			a->filter[0] = '\0';
		}
		return true;
	}
	if ((code && key == KEY_BACKSPACE) || (!code && (key == 127 ||
							 key == 8))) {
		if (len)
			a->filter[len - 1] = '\0';
		else if (a->search[0]) {
			a->search[0] = '\0';
			app_list(a);
		}
		goto refilter;
	}
	if (!code && key >= 32 && key < 127 && key != '?' &&
	    len + 1 < sizeof(a->filter)) {
		a->filter[len] = (char)key;
		a->filter[len + 1] = '\0';
		goto refilter;
	}
	return false;
refilter:
	n = view_filtered(a, idx, 1);
	a->list_sel = n ? idx[0] : -1;
	a->list_top = 0;
	return true;
}

static bool app_msgs_key(struct app *a, int key, bool code)
{
	if (!code || (key != KEY_UP && key != KEY_DOWN) || !a->st.nmsgs)
		return false;
	if (a->sel_msg < 0)
		a->sel_msg = (long)a->st.nmsgs - 1;
	else if (key == KEY_UP && a->sel_msg > 0)
		a->sel_msg--;
	else if (key == KEY_DOWN && (size_t)a->sel_msg + 1 < a->st.nmsgs)
		a->sel_msg++;
	a->code_idx = 0;
	view_show_msg(a, (size_t)a->sel_msg);
	return true;
}

static void app_key(struct app *a, int key, bool code)
{
	enum action act;
	bool empty = editor_empty(&a->input);

	a->dirty = true;
	if (code && key == KEY_PASTE_BEGIN) {
		a->pasting = true;
		buf_reset(&a->paste);
		return;
	}
	if (code && key == KEY_PASTE_END) {
		a->pasting = false;
		if (a->login)
			return;
		if (editor_insert(a->ov != OV_NONE ? &a->ov_edit : &a->input,
				  a->paste.data ? a->paste.data : "",
				  a->paste.len) < 0)
			app_set_status(a, true, "the paste is too large");
		buf_reset(&a->paste);
		if (a->ov == OV_NONE)
			a->focus = FOCUS_INPUT;
		return;
	}
	if (a->pasting) {
		if (!code) {
			char mb[8];
			mbstate_t ps;
			size_t n;

			memset(&ps, 0, sizeof(ps));
			n = wcrtomb(mb, (wchar_t)(key == '\r' ? '\n' : key),
				    &ps);
			if (n != (size_t)-1 && buf_append(&a->paste, mb, n) < 0)
				app_set_status(a, true, "the paste is too "
					       "large");
		}
		return;
	}
	if (code && key == KEY_RESIZE) {
		clearok(stdscr, TRUE);
		return;
	}
	if (code && key == KEY_MOUSE) {
		MEVENT me;

		if (getmouse(&me) == OK) {
			if (me.bstate & BUTTON4_PRESSED)
				view_scroll(a, -3);
			else if (me.bstate & BUTTON5_PRESSED)
				view_scroll(a, 3);
		}
		return;
	}
	if (a->login) {
		app_login_key(a, key, code);
		return;
	}
	if (a->ov != OV_NONE) {
		app_overlay_key(a, key, code);
		return;
	}
	if (a->focus == FOCUS_LIST && app_list_key(a, key, code))
		return;
	if (a->focus == FOCUS_MSGS && app_msgs_key(a, key, code))
		return;
	/* a character past ASCII may share a number with a KEY_ code */
	act = code || key < 128 ? ui_key_lookup(key, a->focus, empty) :
				  ACT_NONE;
	if (act != ACT_NONE) {
		actions_run(a, act);
		return;
	}
	if (a->focus != FOCUS_INPUT) {
		if (!code && key >= 32 && key != 127) {
			/* typing goes to the input */
			a->focus = FOCUS_INPUT;
			app_insert_wc(&a->input, (wint_t)key);
		}
		return;
	}
	if (code && (key == KEY_UP || key == KEY_DOWN) &&
	    !app_edit_key(&a->input, key, code, a->pane_width - 3)) {
		view_scroll(a, key == KEY_UP ? -1 : 1);
		return;
	}
	if (app_edit_key(&a->input, key, code, a->pane_width - 3))
		return;
	if (!code && key >= 32 && key != 127)
		app_insert_wc(&a->input, (wint_t)key);
}

/* ---- events ---- */

static void app_after_login(struct app *a)
{
	a->login = false;
	a->logged_in = true;
	a->login_busy = false;
	a->older_seq = 0;	/* a page lost with the old login */
	editor_clear(&a->login_pass);
	ui_ws_kick(&a->ws);
	app_list(a);
}

static void app_rest_event(struct app *a, struct ui_event *ev)
{
	bool ok = ev->status >= 200 && ev->status < 300;
	int rc;

	if (ev->req == RQ_LOGOUT) {
		snprintf(a->login_msg, sizeof(a->login_msg), "%s",
			 ok ? "logged out" : ev->message);
		return;
	}
	/* answers to the previous login's calls are not shown */
	if (a->login && ev->req != RQ_LOGIN && ev->req != RQ_REGISTER)
		return;
	if (ev->req == RQ_LOGIN || ev->req == RQ_REGISTER) {
		a->login_busy = false;
		if (ok) {
			app_after_login(a);
			app_set_status(a, false, "logged in");
		} else {
			snprintf(a->login_msg, sizeof(a->login_msg), "%s",
				 ev->message);
		}
		return;
	}
	if (!ok) {
		if (ev->req == RQ_OPEN && ev->seq == a->open_seq) {
			a->loading = false;
			if (ev->status == 404)
				state_close(&a->st);
		}
		if (ev->req == RQ_OLDER) {
			if (ev->seq != a->older_seq)
				return;		/* stale: another open since */
			a->older_seq = 0;
			a->older_failed = true;
			a->want_top = false;
			if (!a->loading)	/* else a reload's anchor */
				a->keep_top[0] = '\0';
		}
		if (ev->req == RQ_CREATE) {
			a->pend.active = a->pend.sent = false;
		}
		app_set_status(a, true, "%s%s%s%s", ev->message,
			       ev->code[0] ? " (" : "", ev->code,
			       ev->code[0] ? ")" : "");
		return;
	}
	switch (ev->req) {
	case RQ_LIST:
	case RQ_SEARCH:
		if (state_set_list(&a->st, ev->json) < 0)
			app_set_status(a, true, "the list is malformed");
		if (a->list_sel >= (long)a->st.nconvs)
			a->list_sel = a->st.nconvs ? 0 : -1;
		break;
	case RQ_OPEN:
	case RQ_BRANCH:
		if (ev->req == RQ_OPEN && ev->seq != a->open_seq)
			break;	/* an older click */
		/* a branch move answered after another open was asked for
		 * (that answer will show what is right) or for a conversation
		 * no longer shown: not applied, or A's branch would show
		 * while B loads */
		if (ev->req == RQ_BRANCH &&
		    (ev->seq < a->open_seq || !a->st.open ||
		     strcmp(a->st.cur.id, ev->tag) != 0))
			break;
		rc = state_open(&a->st, ev->json);
		a->loading = false;
		if (rc < 0)
			app_set_status(a, true, "cannot show the conversation:"
				       " %s", chat_strerror(rc));
		app_after_open(a);
		if (a->trace && ev->req == RQ_OPEN) {
			view_paint(a);
			app_trace(a, "open_ms", a->open_us);
			app_trace_loaded(a);
		}
		break;
	case RQ_OLDER:
		if (ev->seq != a->older_seq)
			break;		/* stale: another open since */
		a->older_seq = 0;
		app_older(a, ev);
		break;
	case RQ_CREATE:
		state_apply_conv(&a->st, ev->json);
		if (a->pend.active) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(
				ev->json, "id");

			if (cJSON_IsString(id)) {
				/* shown at once; its messages come as events */
				cJSON *copy = cJSON_Duplicate(ev->json, 1);

				if (copy) {
					cJSON_AddItemToObject(copy, "messages",
						cJSON_CreateArray());
					state_open(&a->st, copy);
					cJSON_Delete(copy);
				}
				snprintf(a->pend.conv_id,
					 sizeof(a->pend.conv_id), "%s",
					 id->valuestring);
				a->pend.sent = false;
				app_pend_dispatch(a);
			}
		}
		free(a->new_system);
		a->new_system = NULL;
		a->new_model[0] = '\0';
		break;
	case RQ_PATCH:
		rc = state_apply_conv(&a->st, ev->json);
		if (rc > 0 && (rc & ST_REFETCH) && a->st.open)
			app_open(a, a->st.cur.id);
		{
			const cJSON *arch = cJSON_GetObjectItemCaseSensitive(
				ev->json, "archived");

			if (cJSON_IsBool(arch))
				app_list(a);
		}
		break;
	case RQ_DELETE:
		if (a->st.open && strcmp(a->st.cur.id, ev->tag) == 0)
			state_close(&a->st);
		app_set_status(a, false, "deleted");
		app_list(a);
		break;
	case RQ_MODELS: {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev->json,
								     "data");
		const cJSON *it;
		size_t k;

		for (k = 0; k < a->nmodels; k++)
			free(a->models[k]);
		free(a->models);
		a->models = NULL;
		a->nmodels = 0;
		k = (size_t)cJSON_GetArraySize(data);
		a->models = k ? calloc(k, sizeof(char *)) : NULL;
		if (a->models)
			cJSON_ArrayForEach(it, data) {
				const cJSON *id =
					cJSON_GetObjectItemCaseSensitive(it,
									 "id");

				if (cJSON_IsString(id) && a->nmodels < k) {
					a->models[a->nmodels] =
						strdup(id->valuestring);
					if (a->models[a->nmodels])
						a->nmodels++;
				}
			}
		app_overlay(a, OV_MODELS, "model", NULL);
		a->status[0] = '\0';
		break;
	}
	default:
		break;
	}
}

static void app_frame(struct app *a, const cJSON *f)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(f, "ref");
	int flags;

	if (!cJSON_IsString(type))
		return;
	if (strcmp(type->valuestring, "error") == 0 &&
	    !cJSON_GetObjectItemCaseSensitive(f, "id")) {
		/* an answer to one of our frames */
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "data");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "error");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");

		if (cJSON_IsNumber(ref) && a->pend.active &&
		    (int)ref->valuedouble == a->pend.ref)
			pend_clear(&a->pend);
		app_set_status(a, true, "%s (%s)", cJSON_IsString(m) ?
			       m->valuestring : "refused", cJSON_IsString(c) ?
			       c->valuestring : "error");
		return;
	}
	if (strcmp(type->valuestring, "pong") == 0)
		return;
	flags = state_apply_frame(&a->st, f);
	if (flags < 0)
		return;
	if (flags & ST_ACK)
		app_acked(a);
	if (flags & ST_CLOSED)
		app_set_status(a, false, "the conversation was deleted");
	if (flags & ST_RELIST)
		app_list(a);
	if ((flags & ST_REFETCH) && a->st.open)
		app_open(a, a->st.cur.id);
	if ((flags & ST_STREAM_END) && a->st.last_error[0]) {
		app_set_status(a, true, "%s", a->st.last_error);
		a->st.last_error[0] = '\0';
	}
	if (flags & (ST_MSGS | ST_MSG | ST_LIST | ST_CONV))
		a->dirty = true;
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
			app_frame(a, ev->json);
			break;
		case EV_WS_STATE:
			a->ws_state = ev->ws_state;
			a->ws_retry_at = ev->retry_at_ms;
			if (ev->ws_state == WS_OPEN) {
				if (a->ws_was_open) {
					/* the replay covers events; a
					 * restarted server needs a reload */
					app_list(a);
					if (a->st.open)
						app_open(a, a->st.cur.id);
					app_set_status(a, false,
						       "connected again");
				}
				a->ws_was_open = true;
				app_pend_dispatch(a);
			} else if (ev->ws_state == WS_WAITING &&
				   a->pend.active && a->pend.sent &&
				   a->pend.conv_id[0]) {
				/* unknown whether it arrived: the echo on
				 * resume will tell; else Enter again */
				pend_clear(&a->pend);
				app_set_status(a, true, "the connection "
					       "dropped while sending; if the "
					       "message does not appear, press"
					       " Enter again");
			}
			break;
		case EV_AUTH_LOST:
			if (!a->login) {
				a->login = true;
				a->logged_in = false;
				snprintf(a->login_msg, sizeof(a->login_msg),
					 "%s", ev->message[0] ? ev->message :
					 ui_auth_have(&a->auth) ? "" :
					 "please log in");
			}
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
	a->show_list = true;
	a->follow = true;
	a->sel_msg = -1;
	a->list_sel = -1;
	a->ws_state = WS_CONNECTING;
	state_init(&a->st);
	editor_init(&a->input, CHATUI_CONTENT_MAX);
	editor_init(&a->ov_edit, 16384);
	editor_init(&a->login_user, 64);
	editor_init(&a->login_pass, 1024);
	buf_init(&a->paste, CHATUI_CONTENT_MAX);
	if (trace && trace[0])
		a->trace = fopen(trace, "a");
	rc = evq_init(&a->evq);
	if (rc == 0)
		rc = ui_auth_init(&a->auth, server);
	if (rc < 0)
		return rc;
	a->logged_in = ui_auth_have(&a->auth);
	a->login = !a->logged_in;
	if (a->login)
		snprintf(a->login_msg, sizeof(a->login_msg), "not logged in "
			 "to this server");
	rc = rest_start(&a->rest, &a->auth, &a->evq);
	if (rc == 0)
		rc = ui_ws_start(&a->ws, &a->auth, &a->evq);
	if (rc < 0)
		return rc;
	if (a->logged_in) {
		app_list(a);
		if (conversation)
			app_open(a, conversation);
	}
	return 0;
}

void app_release(struct app *a)
{
	size_t i;

	ui_ws_stop(&a->ws);
	rest_stop(&a->rest);
	pend_clear(&a->pend);
	state_release(&a->st);
	editor_release(&a->input);
	editor_release(&a->ov_edit);
	editor_release(&a->login_user);
	editor_release(&a->login_pass);
	buf_release(&a->paste);
	for (i = 0; i < a->nmodels; i++)
		free(a->models[i]);
	free(a->models);
	free(a->new_system);
	ui_auth_release(&a->auth);
	evq_release(&a->evq);
	if (a->trace)
		fclose(a->trace);
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

int app_run(struct app *a)
{
	struct pollfd pfd[2];
	struct sigaction sa;
	int64_t now;
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
		now = mono_ms();
		/* the throttle is for streamed text: a key paints at once */
		if (a->dirty && (a->key_us ||
				 now - a->last_paint_ms >= PAINT_MIN_MS)) {
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
			/* after a paint, which anchored the pane (every
			 * event, a page of messages too, asks for one) */
			app_load_older(a);
		}
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
		    mono_ms() - a->status_at > 8000) {
			a->status[0] = '\0';
			a->dirty = true;
		}
		if (timeout >= 500)
			a->dirty = true;
	}
	app_wake_fd = -1;
	return 0;
}
