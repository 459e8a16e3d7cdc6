/*
 * pane-chat.c - the transcript pane: the open conversation's messages,
 * what it asks the server for them (the conversation, its earlier
 * pages, a branch move, a PATCH, a delete, a stop) and those answers,
 * and its keys (Up/Down select a message).  chat-layout.c anchors and
 * paints it.
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
 */
#include "app.h"

#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

static const struct pane_ops chat_pane_ops;

void chat_pane_init(struct chat_pane *c)
{
	memset(c, 0, sizeof(*c));
	c->base.ops = &chat_pane_ops;
	c->follow = true;
	c->sel_msg = -1;
}

void chat_pane_trace_loaded(struct app *a)
{
	if (a->trace) {
		fprintf(a->trace, "msgs_loaded %zu%s\n", a->st.nmsgs,
			state_partial(&a->st) ? "" : " complete");
		fflush(a->trace);
	}
}

/* ---- requests ---- */

/* Opens conversation id, or reloads the open one (keeping the pane on
 * the message it shows, the selection, and as many messages). */
void chat_pane_open(struct app *a, const char *id)
{
	struct chat_pane *c = &a->chat;
	char path[256];
	size_t n = CHATUI_PAGE;

	app_clear_status(a, APP_STATUS_NEW_CONV);
	c->keep_top[0] = c->keep_sel[0] = '\0';
	if (a->st.open && strcmp(a->st.cur.id, id) == 0) {
		if (a->st.nmsgs > n)
			n = a->st.nmsgs < CHATUI_PAGE_MAX ? a->st.nmsgs :
			    CHATUI_PAGE_MAX;
		if (!c->follow && c->top_msg < a->st.nmsgs) {
			snprintf(c->keep_top, sizeof(c->keep_top), "%s",
				 a->st.msgs[c->top_msg].id);
			c->keep_row = c->top_row;
		}
		if (c->sel_msg >= 0 && (size_t)c->sel_msg < a->st.nmsgs)
			snprintf(c->keep_sel, sizeof(c->keep_sel), "%s",
				 a->st.msgs[c->sel_msg].id);
	} else {
		state_close(&a->st);
		c->sel_msg = -1;
		c->follow = true;
		c->want_top = false;
		c->code_idx = 0;
	}
	snprintf(path, sizeof(path), "/v1/conversations/%s?messages=%zu", id,
		 n);
	c->open_seq = rest_submit(&a->rest, RQ_OPEN, "GET", path, NULL, id,
				  &c->base);
	c->open_us = app_now_us();
	c->loading = true;
	c->older_failed = false;
	/* a page asked for before this (re)load is stale: its answer, which
	 * comes first (one worker, in order), must touch nothing */
	c->older_seq = 0;
	a->dirty = true;
}

void chat_pane_close(struct app *a)
{
	struct chat_pane *c = &a->chat;

	state_close(&a->st);
	c->want_top = false;
	c->loading = false;
	c->sel_msg = -1;
	c->open_seq = 0;
}

void chat_pane_patch(struct app *a, enum rq_kind kind, const char *id,
		     cJSON *body)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/conversations/%s", id);
	rest_submit(&a->rest, kind, "PATCH", path, body, id, &a->chat.base);
}

void chat_pane_delete(struct app *a)
{
	char path[256];

	if (!a->st.open)
		return;
	snprintf(path, sizeof(path), "/v1/conversations/%s", a->st.cur.id);
	rest_submit(&a->rest, RQ_DELETE, "DELETE", path, NULL, a->st.cur.id,
		    &a->chat.base);
}

void chat_pane_load_older(struct app *a)
{
	struct chat_pane *c = &a->chat;
	bool all = c->want_top || c->keep_top[0];	/* pages until ... */
	char path[256];
	size_t first;

	if (!state_partial(&a->st) || c->older_seq || c->loading ||
	    c->older_failed || a->login.active || c->pane_rows <= 0)
		return;
	first = chat_layout_first_visible(a);
	if (!all && first >= CHATUI_PAGE / 2)
		return;
	snprintf(path, sizeof(path),
		 "/v1/conversations/%s/branch?before=%s&limit=%d",
		 a->st.cur.id, a->st.msgs_before,
		 all ? CHATUI_PAGE_MAX : CHATUI_PAGE);
	snprintf(c->older_before, sizeof(c->older_before), "%s",
		 a->st.msgs_before);
	c->older_seq = rest_submit(&a->rest, RQ_OLDER, "GET", path, NULL,
				   a->st.cur.id, &c->base);
	c->older_us = app_now_us();
}

/* ---- answers ---- */

/* A page of earlier messages arrived: in front, the pane unmoved (or on
 * the first message for Home, or on the message a reload looks for). */
static void chat_older(struct app *a, struct ui_event *ev)
{
	struct chat_pane *c = &a->chat;
	int rc = state_prepend(&a->st, ev->tag, ev->json);
	size_t n = a->st.prepended;

	if (rc < 0) {
		c->older_failed = true;
		app_set_status(a, true, "cannot show the earlier messages: %s",
			       chat_strerror(rc));
		return;
	}
	if (!(rc & ST_OLDER)) {
		/* dropped although it answered what is still wanted: the
		 * server gives another page; asking again would loop */
		if (state_partial(&a->st) &&
		    strcmp(c->older_before, a->st.msgs_before) == 0) {
			c->older_failed = true;
			app_set_status(a, true, "the server answered another "
				       "page of earlier messages");
		}
		return;
	}
	if (c->want_top) {
		c->follow = false;
		c->top_msg = 0;
		c->top_row = 0;
		if (c->sel_msg >= 0)
			c->sel_msg = 0;
	} else if (c->keep_top[0]) {
		long t = state_find_msg(&a->st, c->keep_top);

		if (c->sel_msg >= 0)
			c->sel_msg += (long)n;
		c->follow = false;
		c->top_msg = t >= 0 ? (size_t)t : 0;
		c->top_row = t >= 0 ? c->keep_row : 0;
		if (t >= 0 || !state_partial(&a->st)) {
			c->keep_top[0] = '\0';	/* found, or never will be */
			if (t < 0)
				c->follow = true;
			chat_layout_scroll(a, 0);	/* clamps the row */
		}
	} else {
		c->top_msg += n;
		if (c->sel_msg >= 0)
			c->sel_msg += (long)n;
	}
	if (!state_partial(&a->st) && c->want_top) {
		c->want_top = false;
		app_set_status(a, false, "the first message");
	}
	app_trace(a, "older_ms", c->older_us);
	chat_pane_trace_loaded(a);
}

/* After a (re)load: the pane back on the message it showed, the
 * selection on the message it was on (or the branch moved to), else
 * the end.  A message shown that is older than the reload's messages is
 * looked for: earlier pages are loaded (the pane on the first one
 * meanwhile) until it comes. */
static void chat_after_open(struct app *a)
{
	struct chat_pane *c = &a->chat;
	long t = c->keep_top[0] ? state_find_msg(&a->st, c->keep_top) : -1;
	bool seek = t < 0 && c->keep_top[0] && state_partial(&a->st);

	c->sel_msg = c->keep_sel[0] ? state_find_msg(&a->st, c->keep_sel) :
		     -1;
	c->keep_sel[0] = '\0';
	if (c->want_top || seek) {
		c->follow = false;
		c->top_msg = 0;		/* the pages go on coming */
		c->top_row = 0;
		if (c->want_top)
			c->keep_top[0] = '\0';
		return;
	}
	c->follow = t < 0;
	c->keep_top[0] = '\0';
	if (t >= 0) {
		c->top_msg = (size_t)t;
		c->top_row = c->keep_row;
		chat_layout_scroll(a, 0);	/* clamps the row, follows at
						 * the end */
	}
}

/* A failed answer: what it leaves behind, then the status line. */
static void chat_failed(struct app *a, struct ui_event *ev)
{
	struct chat_pane *c = &a->chat;

	if (ev->req == RQ_OPEN && ev->seq == c->open_seq) {
		c->loading = false;
		if (ev->status == 404)
			state_close(&a->st);
	}
	if (ev->req == RQ_OLDER) {
		if (ev->seq != c->older_seq)
			return;		/* stale: another open since */
		c->older_seq = 0;
		c->older_failed = true;
		c->want_top = false;
		if (!c->loading)	/* else a reload's anchor */
			c->keep_top[0] = '\0';
	}
	app_rest_failed(a, ev);
}

/* RQ_OPEN and RQ_BRANCH: the conversation (or its moved branch). */
static void chat_opened(struct app *a, struct ui_event *ev)
{
	struct chat_pane *c = &a->chat;
	int rc;

	if (ev->req == RQ_OPEN && ev->seq != c->open_seq)
		return;	/* an older click */
	/* a branch move answered after another open was asked for (that
	 * answer will show what is right) or for a conversation no longer
	 * shown: not applied, or A's branch would show while B loads */
	if (ev->req == RQ_BRANCH &&
	    (ev->seq < c->open_seq || !a->st.open ||
	     strcmp(a->st.cur.id, ev->tag) != 0))
		return;
	rc = state_open(&a->st, ev->json);
	c->loading = false;
	if (rc < 0)
		app_set_status(a, true, "cannot show the conversation: %s",
			       chat_strerror(rc));
	chat_after_open(a);
	if (a->trace && ev->req == RQ_OPEN) {
		view_paint(a);
		app_trace(a, "open_ms", c->open_us);
		chat_pane_trace_loaded(a);
	}
}

static void chat_patched(struct app *a, struct ui_event *ev)
{
	int rc = state_apply_conv(&a->st, ev->json);
	const cJSON *arch = cJSON_GetObjectItemCaseSensitive(ev->json,
							     "archived");

	if (rc > 0 && (rc & ST_REFETCH) && a->st.open)
		chat_pane_open(a, a->st.cur.id);
	if (cJSON_IsBool(arch))
		list_pane_refresh(a);
}

static void chat_answer(struct pane *p, struct app *a, struct ui_event *ev)
{
	struct chat_pane *c = (struct chat_pane *)p;

	if (ev->status < 200 || ev->status >= 300) {
		chat_failed(a, ev);
		return;
	}
	switch (ev->req) {
	case RQ_OPEN:
	case RQ_BRANCH:
		chat_opened(a, ev);
		break;
	case RQ_OLDER:
		if (ev->seq != c->older_seq)
			break;		/* stale: another open since */
		c->older_seq = 0;
		chat_older(a, ev);
		break;
	case RQ_PATCH:
		chat_patched(a, ev);
		break;
	case RQ_DELETE:
		if (a->st.open && strcmp(a->st.cur.id, ev->tag) == 0)
			state_close(&a->st);
		app_set_status(a, false, "deleted");
		list_pane_refresh(a);
		break;
	default:
		break;
	}
}

/* ---- keys and painting ---- */

static unsigned chat_key(struct pane *p, struct app *a, int key, bool code)
{
	struct chat_pane *c = (struct chat_pane *)p;

	if (!code || (key != KEY_UP && key != KEY_DOWN) || !a->st.nmsgs)
		return 0;
	if (c->sel_msg < 0)
		c->sel_msg = (long)a->st.nmsgs - 1;
	else if (key == KEY_UP && c->sel_msg > 0)
		c->sel_msg--;
	else if (key == KEY_DOWN && (size_t)c->sel_msg + 1 < a->st.nmsgs)
		c->sel_msg++;
	c->code_idx = 0;
	chat_layout_show_msg(a, (size_t)c->sel_msg);
	return PANE_HANDLED;
}

static void chat_paint(struct pane *p, struct app *a, const struct geom *g,
		       struct pane_cursor *cur)
{
	(void)p;
	(void)cur;
	chat_layout_paint(a, g);
}

static const struct pane_ops chat_pane_ops = {
	.name = "chat",
	.key = chat_key,
	.paint = chat_paint,
	.answer = chat_answer,
};
