/*
 * pane-login.c - the login screen, shown instead of everything else
 * while there is no login: a username and a password, logging in or
 * registering on the REST worker, and logging out (F11).
 */
#include "app.h"

#include <string.h>

#include "err.h"
#include "util.h"
#include "width.h"
#include "banned.h"

static const struct pane_ops login_pane_ops;

void login_pane_init(struct login_pane *l)
{
	memset(l, 0, sizeof(*l));
	l->base.ops = &login_pane_ops;
	editor_init(&l->user, 64);
	editor_init(&l->pass, 1024);
}

void login_pane_release(struct login_pane *l)
{
	editor_release(&l->user);
	editor_release(&l->pass);
}

void login_pane_show(struct app *a, const char *msg)
{
	a->login.active = true;
	a->logged_in = false;
	usage_pane_close(a);
	notes_pane_clear(a);
	snprintf(a->login.msg, sizeof(a->login.msg), "%s", msg);
}

/* Log out: the socket closes first (a new one stays idle until a login
 * kicks it, so it never reconnects with the old token), the REST worker
 * revokes the session and removes the credentials file (after the calls
 * queued before it), and what the login showed is dropped. */
void login_pane_logout(struct app *a)
{
	struct login_pane *l = &a->login;

	ui_ws_stop(&a->ws);
	ui_auth_forget(&a->auth);
	a->ws_state = WS_IDLE;
	a->ws_was_open = false;
	if (ui_ws_start(&a->ws, &a->auth, &a->evq) < 0)
		app_set_status(a, true, "cannot start the connection thread");
	rest_submit(&a->rest, RQ_LOGOUT, "POST", "", NULL, NULL, &l->base);
	pend_clear(&a->input.pend);
	state_release(&a->st);
	state_init(&a->st);
	a->chat.older_seq = 0;
	a->chat.sel_msg = -1;
	a->chat.top_msg = 0;
	a->chat.top_row = 0;
	a->chat.follow = true;
	a->list.sel = -1;
	a->list.filter[0] = '\0';
	app_focus(a, FOCUS_INPUT);
	l->busy = false;
	login_pane_show(a, "logging out");
}

/* RQ_LOGIN, RQ_REGISTER and RQ_LOGOUT. */
static void login_answer(struct pane *p, struct app *a, struct ui_event *ev)
{
	struct login_pane *l = (struct login_pane *)p;
	bool ok = ev->status >= 200 && ev->status < 300;

	if (ev->req == RQ_LOGOUT) {
		snprintf(l->msg, sizeof(l->msg), "%s",
			 ok ? "logged out" : ev->message);
		return;
	}
	l->busy = false;
	if (!ok) {
		snprintf(l->msg, sizeof(l->msg), "%s", ev->message);
		return;
	}
	l->active = false;
	editor_clear(&l->pass);
	frames_after_login(a);
	app_set_status(a, false, "logged in");
}

static unsigned login_key(struct pane *p, struct app *a, int key, bool code)
{
	struct login_pane *l = (struct login_pane *)p;
	struct editor *e = l->field ? &l->pass : &l->user;
	cJSON *body;

	if (l->busy)
		return PANE_HANDLED;
	if (!code && (key == 17 || key == 3)) {
		a->quit = true;
		return PANE_HANDLED;
	}
	if ((!code && key == '\t') || (code && (key == KEY_DOWN ||
						key == KEY_UP))) {
		l->field = !l->field;
		return PANE_HANDLED;
	}
	if ((!code && key == '\r') || (code && key == KEY_F(2))) {
		if (!l->user.text.len || !l->pass.text.len) {
			snprintf(l->msg, sizeof(l->msg),
				 "enter a username and a password");
			if (l->user.text.len)
				l->field = 1;
			return PANE_HANDLED;
		}
		body = cJSON_CreateObject();
		if (!body)
			return PANE_HANDLED;
		cJSON_AddStringToObject(body, "username", l->user.text.data);
		cJSON_AddStringToObject(body, "password", l->pass.text.data);
		rest_submit(&a->rest, code ? RQ_REGISTER : RQ_LOGIN, "POST",
			    "", body, NULL, &l->base);
		l->busy = true;
		return PANE_HANDLED;
	}
	if (pane_edit_key(e, key, code, 1000))
		return PANE_HANDLED;
	if (!code && key >= 32 && key != 127)
		pane_insert_wc(e, (unsigned)key);
	return PANE_HANDLED;
}

static void login_paint(struct pane *p, struct app *a, const struct geom *g,
			struct pane_cursor *cur)
{
	struct login_pane *l = (struct login_pane *)p;
	int w = a->cols - 4 > 64 ? 64 : a->cols - 4, h = 12, y0, x0;
	char stars[129];
	size_t n = l->pass.text.len, i;

	(void)g;
	view_box(a, h, w, &y0, &x0, " chatui: log in ");
	view_str(y0 + 2, x0 + 2, "server", 10, term_attr(UC_DIM));
	view_str(y0 + 2, x0 + 13, a->auth.server, w - 15, A_NORMAL);
	view_str(y0 + 4, x0 + 2, "username", 10, l->field == 0 ?
		 term_attr(UC_CURRENT) : term_attr(UC_DIM));
	view_text(y0 + 4, x0 + 13, l->user.text.data ? l->user.text.data : "",
		  l->user.text.len, w - 15, A_NORMAL);
	view_str(y0 + 5, x0 + 2, "password", 10, l->field == 1 ?
		 term_attr(UC_CURRENT) : term_attr(UC_DIM));
	if (n > 128)
		n = 128;
	for (i = 0; i < n; i++)
		stars[i] = '*';
	stars[n] = '\0';
	view_str(y0 + 5, x0 + 13, stars, w - 15, A_NORMAL);
	view_str(y0 + 7, x0 + 2, l->busy ? "please wait\xe2\x80\xa6" : l->msg,
		 w - 4, l->busy ? term_attr(UC_DIM) : term_attr(UC_ERROR));
	view_str(y0 + 9, x0 + 2, "Enter log in \xc2\xb7 F2 register \xc2\xb7 "
		 "Tab next field \xc2\xb7 Ctrl-Q quit", w - 4,
		 term_attr(UC_DIM));
	cur->y = l->field == 0 ? y0 + 4 : y0 + 5;
	cur->x = x0 + 13 + (l->field == 0 ?
			    width_cols(l->user.text.data ?
				       l->user.text.data : "",
				       l->user.cursor) :
			    (int)(l->pass.cursor > 128 ? 128 :
				  l->pass.cursor));
}

static const struct pane_ops login_pane_ops = {
	.name = "login",
	.key = login_key,
	.paint = login_paint,
	.answer = login_answer,
};
