/*
 * pane-input.c - the input box: the message being typed (the editing
 * keys every editor of chatui shares are here too), sending it, and the
 * conversation created for a first message (the RQ_CREATE answer).
 *
 * Sending: the text stays in the input until the server echoes the user
 * message (a `message` event whose content matches); while the socket
 * is down the message waits and goes out on reconnect; an error leaves
 * the text where it is.
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "err.h"
#include "util.h"
#include "width.h"
#include "banned.h"

static const struct pane_ops input_pane_ops;

void input_pane_init(struct input_pane *in)
{
	memset(in, 0, sizeof(*in));
	in->base.ops = &input_pane_ops;
	editor_init(&in->ed, CHATUI_CONTENT_MAX);
}

void input_pane_release(struct input_pane *in)
{
	pend_clear(&in->pend);
	editor_release(&in->ed);
	editor_view_release(&in->view);
	free(in->new_system);
	in->new_system = NULL;
}

int input_pane_layout(struct input_pane *in, int width)
{
	editor_view_release(&in->view);
	if (editor_layout(&in->ed, width, &in->view) < 0)
		memset(&in->view, 0, sizeof(in->view));
	return (int)in->view.nrows;
}

/* ---- the editing keys ---- */

bool pane_edit_key(struct editor *e, int key, bool code, int width)
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

void pane_insert_wc(struct editor *e, unsigned wc)
{
	char mb[8];
	mbstate_t ps;
	size_t n;

	memset(&ps, 0, sizeof(ps));
	n = wcrtomb(mb, (wchar_t)wc, &ps);
	if (n != (size_t)-1)
		editor_insert(e, mb, n);
}

/* ---- sending ---- */

void pend_clear(struct pending *p)
{
	free(p->content);
	p->content = NULL;
	p->active = p->sent = false;
}

void input_pane_dispatch(struct app *a)
{
	struct input_pane *in = &a->input;
	struct pending *p = &in->pend;
	cJSON *f;
	char *text;
	int rc;

	if (!p->active || p->sent)
		return;
	if (!p->conv_id[0]) {
		cJSON *body = cJSON_CreateObject();

		if (body && in->new_model[0])
			cJSON_AddStringToObject(body, "model", in->new_model);
		if (body && in->new_system)
			cJSON_AddStringToObject(body, "system_prompt",
						in->new_system);
		p->sent = true;	/* the create is on its way */
		rest_submit(&a->rest, RQ_CREATE, "POST", "/v1/conversations",
			    body, "send", &in->base);
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

void input_pane_send(struct app *a)
{
	struct input_pane *in = &a->input;
	struct pending *p = &in->pend;
	const char *text = in->ed.text.data;
	size_t len = in->ed.text.len, i;

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
	p->has_parent = in->editing;
	snprintf(p->parent_id, sizeof(p->parent_id), "%s", in->edit_parent);
	snprintf(p->conv_id, sizeof(p->conv_id), "%s",
		 a->st.open ? a->st.cur.id : "");
	state_hash(text, len, p->hash);
	a->chat.follow = true;
	input_pane_dispatch(a);
	a->dirty = true;
}

void input_pane_acked(struct app *a)
{
	struct input_pane *in = &a->input;
	char h[17];

	if (!in->pend.hash[0] ||
	    strcmp(a->st.ack_content_hash, in->pend.hash) != 0)
		return;
	state_hash(in->ed.text.data ? in->ed.text.data : "",
		   in->ed.text.len, h);
	if (strcmp(h, in->pend.hash) == 0)
		editor_clear(&in->ed);
	pend_clear(&in->pend);
	in->pend.hash[0] = '\0';
	in->editing = false;
	a->chat.follow = true;
}

void input_pane_refused(struct app *a, int ref)
{
	if (a->input.pend.active && ref == a->input.pend.ref)
		pend_clear(&a->input.pend);
}

void input_pane_dropped(struct app *a)
{
	struct pending *p = &a->input.pend;

	if (!p->active || !p->sent || !p->conv_id[0])
		return;
	/* unknown whether it arrived: the echo on resume will tell; else
	 * Enter again */
	pend_clear(p);
	app_set_status(a, true, "the connection dropped while sending; if "
		       "the message does not appear, press Enter again");
}

void input_pane_ask_default_model(struct app *a)
{
	rest_submit(&a->rest, RQ_ME, "GET", "/v1/users/me", NULL, NULL,
		    &a->input.base);
}

/* RQ_ME, then RQ_MODELS when the user has no preference: the model that
 * answers a conversation naming none.  Nothing is said when a call
 * fails: the status line keeps "default model". */
static void input_default_model(struct input_pane *in, struct app *a,
				const struct ui_event *ev)
{
	const cJSON *v = ev->json;

	if (ev->status < 200 || ev->status >= 300)
		return;
	if (ev->req == RQ_ME)
		v = cJSON_GetObjectItemCaseSensitive(ev->json, "preferences");
	v = cJSON_GetObjectItemCaseSensitive(v, "default_model");
	if (cJSON_IsString(v) && v->valuestring[0]) {
		snprintf(in->default_model, sizeof(in->default_model), "%s",
			 v->valuestring);
		a->dirty = true;
	} else if (ev->req == RQ_ME) {
		rest_submit(&a->rest, RQ_MODELS, "GET", "/v1/models", NULL,
			    NULL, &in->base);
	}
}

/* RQ_CREATE: the conversation for a first message exists; the message
 * goes into it.  RQ_ME and RQ_MODELS: input_default_model. */
static void input_answer(struct pane *p, struct app *a, struct ui_event *ev)
{
	struct input_pane *in = (struct input_pane *)p;
	const cJSON *id;

	if (ev->req == RQ_ME || ev->req == RQ_MODELS) {
		input_default_model(in, a, ev);
		return;
	}
	if (ev->status < 200 || ev->status >= 300) {
		in->pend.active = in->pend.sent = false;
		app_rest_failed(a, ev);
		return;
	}
	state_apply_conv(&a->st, ev->json);
	app_clear_status(a, APP_STATUS_NEW_CONV);	/* it exists now */
	id = cJSON_GetObjectItemCaseSensitive(ev->json, "id");
	if (in->pend.active && cJSON_IsString(id)) {
		/* shown at once; its messages come as events */
		cJSON *copy = cJSON_Duplicate(ev->json, 1);

		if (copy) {
			cJSON_AddItemToObject(copy, "messages",
					      cJSON_CreateArray());
			state_open(&a->st, copy);
			cJSON_Delete(copy);
		}
		snprintf(in->pend.conv_id, sizeof(in->pend.conv_id), "%s",
			 id->valuestring);
		in->pend.sent = false;
		input_pane_dispatch(a);
	}
	free(in->new_system);
	in->new_system = NULL;
	in->new_model[0] = '\0';
}

/* ---- keys and painting ---- */

/* What no action took: editing keys and typing; Up and Down past the
 * text's first or last row scroll the transcript. */
static void input_type(struct pane *p, struct app *a, int key, bool code)
{
	struct input_pane *in = (struct input_pane *)p;
	int width = a->chat.pane_width - 3;

	if (code && (key == KEY_UP || key == KEY_DOWN) &&
	    !pane_edit_key(&in->ed, key, code, width)) {
		chat_layout_scroll(a, key == KEY_UP ? -1 : 1);
		return;
	}
	if (pane_edit_key(&in->ed, key, code, width))
		return;
	if (!code && key >= 32 && key != 127)
		pane_insert_wc(&in->ed, (unsigned)key);
}

/* The keys hint that fits cols columns: the longest whole one, else
 * the shortest (cut with an ellipsis). */
static const char *input_hint(int cols)
{
	static const char *const hints[] = {
		(" Enter send \xc2\xb7 Ctrl-J newline \xc2\xb7 F1 keys "
		 "\xc2\xb7 Ctrl-P commands "),
		" Enter send \xc2\xb7 Ctrl-J newline \xc2\xb7 F1 keys ",
		" Enter send \xc2\xb7 F1 keys ",
	};
	size_t i, n = sizeof(hints) / sizeof(hints[0]);

	for (i = 0; i + 1 < n; i++)
		if (width_cols(hints[i], strlen(hints[i])) <= cols)
			break;
	return hints[i];
}

static void input_paint(struct pane *p, struct app *a, const struct geom *g,
			struct pane_cursor *cur)
{
	struct input_pane *in = (struct input_pane *)p;
	const struct editor_view *ev = &in->view;
	const char *hint;
	size_t first = 0, r;
	int rows = g->ih - 1, y;

	(void)a;
	attrset(term_attr(UC_BORDER));
	mvhline(g->iy, g->px, ACS_HLINE, g->pw);
	attrset(A_NORMAL);
	if (in->pend.active)
		hint = in->pend.sent ? " sending\xe2\x80\xa6 " :
		       " waiting for the server\xe2\x80\xa6 (kept) ";
	else if (in->editing)
		hint = " editing: Enter sends a new branch, Esc cancels ";
	else
		hint = input_hint(g->pw - 4);
	view_str_cut(g->iy, g->px + 2, hint, g->pw - 4,
		     in->editing ? term_attr(UC_CURRENT) : term_attr(UC_DIM));
	if (ev->cursor_row >= (size_t)rows)
		first = ev->cursor_row - (size_t)rows + 1;
	for (r = first, y = g->iy + 1; r < ev->nrows && y < g->sy; r++, y++)
		view_text(y, g->px + 1, in->ed.text.data + ev->rows[r].start,
			  ev->rows[r].end - ev->rows[r].start, g->pw - 2,
			  A_NORMAL);
	cur->y = g->iy + 1 + (int)(ev->cursor_row - first);
	cur->x = g->px + 1 + ev->cursor_col;
	editor_view_release(&in->view);
}

static struct editor *input_paste_target(struct pane *p)
{
	return &((struct input_pane *)p)->ed;
}

static const struct pane_ops input_pane_ops = {
	.name = "input",
	.type = input_type,
	.paint = input_paint,
	.answer = input_answer,
	.paste_target = input_paste_target,
};
