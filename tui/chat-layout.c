/*
 * chat-layout.c - the transcript's layout: where the pane is anchored
 * (the first visible message and row, or "follow the bottom"),
 * scrolling, and painting the header row and the messages.
 *
 * Painting lays out only the messages that intersect the viewport: each
 * message keeps its md_render()ed rows for the pane width (msg.doc,
 * invalidated on a width or content change), so a 10,000-message
 * conversation costs what a screenful costs.
 */
#include "app.h"

#include <string.h>

#include "util.h"
#include "banned.h"

int chat_layout_msg_rows(struct msg *m, int width)
{
	size_t lines;

	if (m->doc_width != width) {
		md_doc_release(&m->doc);
		memset(&m->doc, 0, sizeof(m->doc));
		if (md_render(m->content.data ? m->content.data : "",
			      m->content.len, width,
			      m->role == ROLE_USER ? MD_PLAIN : 0,
			      &m->doc) < 0)
			memset(&m->doc, 0, sizeof(m->doc));
		m->doc_width = width;
	}
	lines = m->doc.nlines ? m->doc.nlines : 1;
	return 2 + (int)lines + (m->error && m->error[0] ? 1 : 0);
}

/* Columns for message text: the pane less its margins. */
static int chat_text_cols(const struct app *a)
{
	int w = a->chat.pane_width - 2;

	return w < 10 ? 10 : w;
}

/* Anchors the pane so that the last message ends at its bottom. */
static void chat_anchor_bottom(struct app *a)
{
	struct chat_pane *c = &a->chat;
	int remaining = c->pane_rows, h, w = chat_text_cols(a);
	size_t i = a->st.nmsgs;

	c->top_msg = 0;
	c->top_row = 0;
	while (i > 0) {
		h = chat_layout_msg_rows(&a->st.msgs[i - 1], w);
		if (h >= remaining) {
			c->top_msg = i - 1;
			c->top_row = h - remaining;
			return;
		}
		remaining -= h;
		i--;
	}
}

/* True when the rows from the anchor down fill the pane. */
static bool chat_fills(struct app *a)
{
	struct chat_pane *c = &a->chat;
	int rows = -c->top_row, w = chat_text_cols(a);
	size_t i;

	for (i = c->top_msg; i < a->st.nmsgs; i++) {
		rows += chat_layout_msg_rows(&a->st.msgs[i], w);
		if (rows > c->pane_rows)
			return true;
	}
	return false;
}

size_t chat_layout_first_visible(struct app *a)
{
	struct chat_pane *c = &a->chat;

	if (c->follow && c->pane_rows > 0)
		chat_anchor_bottom(a);
	return c->top_msg;
}

void chat_layout_scroll(struct app *a, int delta)
{
	struct chat_pane *c = &a->chat;
	int w = chat_text_cols(a);

	/* the user scrolls: Home's loading is over, and so is a reload's
	 * search for the message the pane showed (unless it is yet to
	 * come: the pane goes back there) */
	c->want_top = false;
	if (!c->loading)
		c->keep_top[0] = '\0';
	if (!a->st.nmsgs)
		return;
	if (c->follow)
		chat_anchor_bottom(a);
	c->follow = false;
	if (c->top_msg >= a->st.nmsgs) {
		c->top_msg = a->st.nmsgs - 1;
		c->top_row = 0;
	}
	c->top_row += delta;
	while (c->top_row < 0) {
		if (c->top_msg == 0) {
			c->top_row = 0;
			break;
		}
		c->top_msg--;
		c->top_row += chat_layout_msg_rows(&a->st.msgs[c->top_msg], w);
	}
	while (c->top_row > 0 &&
	       c->top_row >= chat_layout_msg_rows(&a->st.msgs[c->top_msg], w)) {
		if (c->top_msg + 1 >= a->st.nmsgs) {
			c->top_row = 0;
			break;
		}
		c->top_row -= chat_layout_msg_rows(&a->st.msgs[c->top_msg], w);
		c->top_msg++;
	}
	if (!chat_fills(a))
		c->follow = true;
}

void chat_layout_show_msg(struct app *a, size_t i)
{
	struct chat_pane *c = &a->chat;
	int w = chat_text_cols(a), rows = 0;
	size_t k;

	if (i >= a->st.nmsgs)
		return;
	if (c->follow)
		chat_anchor_bottom(a);
	if (i < c->top_msg || (i == c->top_msg && c->top_row > 0)) {
		c->follow = false;
		c->top_msg = i;
		c->top_row = 0;
		return;
	}
	/* lay out no more than two screens on the way: further down, the
	 * message goes to the top of the pane */
	rows = -c->top_row;
	for (k = c->top_msg; k < i && rows <= 2 * c->pane_rows; k++)
		rows += chat_layout_msg_rows(&a->st.msgs[k], w);
	if (k < i) {
		c->follow = false;
		c->top_msg = i;
		c->top_row = 0;
		if (!chat_fills(a))
			c->follow = true;
		return;
	}
	if (rows + 1 > c->pane_rows)
		chat_layout_scroll(a, rows + 1 - c->pane_rows);
}

static void chat_msg_header(struct app *a, size_t i, int y, int x, int w)
{
	struct msg *m = &a->st.msgs[i];
	bool sel = (long)i == a->chat.sel_msg && a->focus == FOCUS_MSGS;
	char info[256];
	size_t k, pos = 0;
	int used;

	for (k = 0; k < m->nsiblings; k++)
		if (strcmp(m->siblings[k], m->id) == 0)
			pos = k + 1;
	if (sel)
		view_fill(y, x, w, term_attr(UC_SELECTED));
	used = view_str(y, x, m->role == ROLE_USER ? "You" : "Assistant", w,
			sel ? term_attr(UC_SELECTED) :
			term_attr(m->role == ROLE_USER ? UC_USER :
				  UC_ASSISTANT));
	info[0] = '\0';
	if (m->role == ROLE_ASSISTANT && m->model && m->model[0])
		snprintf(info, sizeof(info), "  %s", m->model);
	if (m->role == ROLE_ASSISTANT && m->status[0] &&
	    strcmp(m->status, "complete") != 0)
		snprintf(info + strlen(info), sizeof(info) - strlen(info),
			 "  [%s]", m->status);
	if (m->nsiblings > 1)
		snprintf(info + strlen(info), sizeof(info) - strlen(info),
			 "  \xe2\x80\xb9%zu/%zu\xe2\x80\xba", pos ? pos : 1,
			 m->nsiblings);
	view_str(y, x + used, info, w - used,
		 sel ? term_attr(UC_SELECTED) : term_attr(UC_DIM));
}

static void chat_doc_line(const struct md_line *l, int y, int x, int w)
{
	size_t s;
	int col = 0;

	for (s = 0; s < l->nspans; s++) {
		const struct md_span *sp = &l->spans[s];

		if (sp->off + sp->len > l->len)
			break;
		col += view_text(y, x + col, l->text + sp->off, sp->len,
				 w - col, term_attr_md(sp->kind, sp->attrs,
						       sp->level));
	}
	if (!l->nspans)
		view_text(y, x, l->text, l->len, w, A_NORMAL);
}

static void chat_msg_row(struct app *a, size_t i, int r, int y, int x,
			 int w)
{
	struct msg *m = &a->st.msgs[i];
	int tw = chat_text_cols(a);
	int lines = m->doc.nlines ? (int)m->doc.nlines : 1;

	if (r == 0) {
		chat_msg_header(a, i, y, x, w);
		return;
	}
	r--;
	if (r < lines) {
		if (m->doc.nlines)
			chat_doc_line(&m->doc.lines[r], y, x + 1, tw);
		else if (strcmp(m->status, "streaming") == 0)
			view_str(y, x + 1, "\xe2\x80\xa6", tw,
				 term_attr(UC_DIM));
		return;
	}
	r -= lines;
	if (r == 0 && m->error && m->error[0]) {
		char line[300];

		snprintf(line, sizeof(line), "! %s", m->error);
		view_str(y, x + 1, line, tw, term_attr(UC_ERROR));
	}
}

static void chat_messages(struct app *a, const struct geom *g)
{
	struct chat_pane *c = &a->chat;
	int y = g->py, r, h, w = chat_text_cols(a);
	size_t i;

	c->pane_rows = g->ph;
	if (c->pane_width != g->pw) {
		c->pane_width = g->pw;
		w = chat_text_cols(a);
	}
	if (!a->st.open && !c->loading) {
		view_str(g->py + 1, g->px + 2,
			 "Type a message and press Enter to start a new "
			 "conversation.", g->pw - 3, A_NORMAL);
		view_str(g->py + 2, g->px + 2,
			 "Ctrl-O: your conversations   F1: keys   Ctrl-P: "
			 "commands", g->pw - 3, term_attr(UC_DIM));
		return;
	}
	if (c->loading && !a->st.nmsgs) {
		view_str(g->py + 1, g->px + 2, "loading\xe2\x80\xa6", g->pw - 3,
			 term_attr(UC_DIM));
		return;
	}
	if (c->follow)
		chat_anchor_bottom(a);
	i = c->top_msg;
	r = c->top_row;
	while (y < g->py + g->ph && i < a->st.nmsgs) {
		h = chat_layout_msg_rows(&a->st.msgs[i], w);
		if (r >= h) {
			i++;
			r = 0;
			continue;
		}
		chat_msg_row(a, i, r, y, g->px, g->pw);
		y++;
		r++;
	}
}

static void chat_header(struct app *a, const struct geom *g)
{
	char line[512];

	if (a->st.open)
		snprintf(line, sizeof(line), " %s%s",
			 a->st.cur.title ? a->st.cur.title : "untitled",
			 a->st.cur.archived ? "  (archived)" : "");
	else
		snprintf(line, sizeof(line), " new conversation");
	view_fill(0, g->px, g->pw, term_attr(UC_STATUS));
	view_str_cut(0, g->px, line, g->pw, term_attr(UC_STATUS));
	if (a->ws_state != WS_OPEN && a->logged_in &&
	    (a->ws_was_open || a->ws_state == WS_WAITING)) {
		int64_t in = a->ws_retry_at - mono_ms();

		if (a->ws_state == WS_WAITING && in > 0)
			snprintf(line, sizeof(line), " disconnected from the "
				 "server: reconnecting in %lld s (Ctrl-L: now)"
				 " \xe2\x80\x94 nothing typed is lost",
				 (long long)((in + 999) / 1000));
		else
			snprintf(line, sizeof(line), " disconnected from the "
				 "server: reconnecting\xe2\x80\xa6");
		view_fill(g->py, g->px, g->pw, term_attr(UC_BANNER));
		view_str(g->py, g->px, line, g->pw, term_attr(UC_BANNER));
	}
}

void chat_layout_paint(struct app *a, const struct geom *g)
{
	chat_messages(a, g);
	chat_header(a, g);
}
