/*
 * view.c - paints chatui's screen from the UI state: the conversation
 * list, the message pane, the input box, the status line, a banner when
 * the server is away, the overlays and the login screen.
 *
 * The message pane is anchored (first visible message and row, or
 * "follow the bottom"), so painting lays out only the messages that
 * intersect the viewport: each message keeps its md_render()ed rows for
 * the pane width (msg.doc, invalidated on a width or content change) and
 * a 10,000-message conversation costs what a screenful costs.  Text goes
 * to ncurses as wide characters (mvaddnwstr), so double-width characters
 * and combining marks land in the right cells.
 */
#include "app.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "err.h"
#include "utf8.h"
#include "util.h"
#include "width.h"
#include "banned.h"

#define LINE_WMAX 1024

struct geom {
	int list_w;		/* 0: hidden */
	int px, pw;		/* message pane column and width */
	int py, ph;		/* its first row and height */
	int iy, ih;		/* input box (border row included) */
	int sy;			/* status row */
};

static void view_geom(const struct app *a, struct editor_view *ev,
		      struct geom *g)
{
	int in_rows;

	memset(g, 0, sizeof(*g));
	if (a->show_list && a->cols >= 60)
		g->list_w = a->cols >= 120 ? 32 : 24;
	g->px = g->list_w ? g->list_w + 1 : 0;
	g->pw = a->cols - g->px;
	in_rows = ev && ev->nrows ? (int)ev->nrows : 1;
	if (in_rows > a->rows / 3)
		in_rows = a->rows / 3 > 1 ? a->rows / 3 : 1;
	g->ih = in_rows + 1;
	g->sy = a->rows - 1;
	g->iy = g->sy - g->ih;
	g->py = 1;
	g->ph = g->iy - g->py;
	if (g->ph < 1)
		g->ph = 1;
}

/* Draws UTF-8 text at (y, x), at most maxcols columns; controls and
 * invalid bytes become spaces / U+FFFD.  Returns the columns used. */
static int draw_text(int y, int x, const char *s, size_t len, int maxcols,
		     int attr)
{
	wchar_t wb[LINE_WMAX];
	size_t off = 0, n = 0, fit;
	int used = 0;

	if (maxcols <= 0 || len == 0)
		return 0;
	fit = width_fit(s, len, maxcols, &used);
	/* decoded as width.c decodes, whatever the locale: wchar_t holds
	 * code points on the systems chatui runs on */
	while (off < fit && n < LINE_WMAX - 1) {
		uint32_t cp;
		size_t k = utf8_decode(s + off, fit - off, &cp);

		if (k == 0) {
			cp = 0xFFFD;
			k = 1;
		}
		if (cp < 32 || cp == 127 || (cp >= 0x80 && cp < 0xa0))
			cp = ' ';
		wb[n++] = (wchar_t)cp;
		off += k;
	}
	wb[n] = 0;
	attrset(attr);
	mvaddnwstr(y, x, wb, (int)n);
	attrset(A_NORMAL);
	return used;
}

static int draw_str(int y, int x, const char *s, int maxcols, int attr)
{
	return draw_text(y, x, s, strlen(s), maxcols, attr);
}

static void fill_row(int y, int x, int w, int attr)
{
	int i;

	attrset(attr);
	for (i = 0; i < w; i++)
		mvaddch(y, x + i, ' ');
	attrset(A_NORMAL);
}

/* ---- the message pane ---- */

int view_msg_rows(struct msg *m, int width)
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
static int view_text_cols(const struct app *a)
{
	int w = a->pane_width - 2;

	return w < 10 ? 10 : w;
}

/* Anchors the pane so that the last message ends at its bottom. */
static void view_anchor_bottom(struct app *a)
{
	int remaining = a->pane_rows, h, w = view_text_cols(a);
	size_t i = a->st.nmsgs;

	a->top_msg = 0;
	a->top_row = 0;
	while (i > 0) {
		h = view_msg_rows(&a->st.msgs[i - 1], w);
		if (h >= remaining) {
			a->top_msg = i - 1;
			a->top_row = h - remaining;
			return;
		}
		remaining -= h;
		i--;
	}
}

/* True when the rows from the anchor down fill the pane. */
static bool view_fills(struct app *a)
{
	int rows = -a->top_row, w = view_text_cols(a);
	size_t i;

	for (i = a->top_msg; i < a->st.nmsgs; i++) {
		rows += view_msg_rows(&a->st.msgs[i], w);
		if (rows > a->pane_rows)
			return true;
	}
	return false;
}

size_t view_first_visible(struct app *a)
{
	if (a->follow && a->pane_rows > 0)
		view_anchor_bottom(a);
	return a->top_msg;
}

void view_scroll(struct app *a, int delta)
{
	int w = view_text_cols(a);

	/* the user scrolls: Home's loading is over, and so is a reload's
	 * search for the message the pane showed (unless it is yet to
	 * come: the pane goes back there) */
	a->want_top = false;
	if (!a->loading)
		a->keep_top[0] = '\0';
	if (!a->st.nmsgs)
		return;
	if (a->follow)
		view_anchor_bottom(a);
	a->follow = false;
	if (a->top_msg >= a->st.nmsgs) {
		a->top_msg = a->st.nmsgs - 1;
		a->top_row = 0;
	}
	a->top_row += delta;
	while (a->top_row < 0) {
		if (a->top_msg == 0) {
			a->top_row = 0;
			break;
		}
		a->top_msg--;
		a->top_row += view_msg_rows(&a->st.msgs[a->top_msg], w);
	}
	while (a->top_row > 0 &&
	       a->top_row >= view_msg_rows(&a->st.msgs[a->top_msg], w)) {
		if (a->top_msg + 1 >= a->st.nmsgs) {
			a->top_row = 0;
			break;
		}
		a->top_row -= view_msg_rows(&a->st.msgs[a->top_msg], w);
		a->top_msg++;
	}
	if (!view_fills(a))
		a->follow = true;
}

void view_show_msg(struct app *a, size_t i)
{
	int w = view_text_cols(a), rows = 0;
	size_t k;

	if (i >= a->st.nmsgs)
		return;
	if (a->follow)
		view_anchor_bottom(a);
	if (i < a->top_msg || (i == a->top_msg && a->top_row > 0)) {
		a->follow = false;
		a->top_msg = i;
		a->top_row = 0;
		return;
	}
	/* lay out no more than two screens on the way: further down, the
	 * message goes to the top of the pane */
	rows = -a->top_row;
	for (k = a->top_msg; k < i && rows <= 2 * a->pane_rows; k++)
		rows += view_msg_rows(&a->st.msgs[k], w);
	if (k < i) {
		a->follow = false;
		a->top_msg = i;
		a->top_row = 0;
		if (!view_fills(a))
			a->follow = true;
		return;
	}
	if (rows + 1 > a->pane_rows)
		view_scroll(a, rows + 1 - a->pane_rows);
}

static void view_msg_header(struct app *a, size_t i, int y, int x, int w)
{
	struct msg *m = &a->st.msgs[i];
	bool sel = (long)i == a->sel_msg && a->focus == FOCUS_MSGS;
	char info[256];
	size_t k, pos = 0;
	int used;

	for (k = 0; k < m->nsiblings; k++)
		if (strcmp(m->siblings[k], m->id) == 0)
			pos = k + 1;
	if (sel)
		fill_row(y, x, w, term_attr(UC_SELECTED));
	used = draw_str(y, x, m->role == ROLE_USER ? "You" : "Assistant", w,
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
	draw_str(y, x + used, info, w - used,
		 sel ? term_attr(UC_SELECTED) : term_attr(UC_DIM));
}

static void view_doc_line(const struct md_line *l, int y, int x, int w)
{
	size_t s;
	int col = 0;

	for (s = 0; s < l->nspans; s++) {
		const struct md_span *sp = &l->spans[s];

		if (sp->off + sp->len > l->len)
			break;
		col += draw_text(y, x + col, l->text + sp->off, sp->len,
				 w - col, term_attr_md(sp->kind, sp->attrs,
						       sp->level));
	}
	if (!l->nspans)
		draw_text(y, x, l->text, l->len, w, A_NORMAL);
}

static void view_msg_row(struct app *a, size_t i, int r, int y, int x,
			 int w)
{
	struct msg *m = &a->st.msgs[i];
	int tw = view_text_cols(a);
	int lines = m->doc.nlines ? (int)m->doc.nlines : 1;

	if (r == 0) {
		view_msg_header(a, i, y, x, w);
		return;
	}
	r--;
	if (r < lines) {
		if (m->doc.nlines)
			view_doc_line(&m->doc.lines[r], y, x + 1, tw);
		else if (strcmp(m->status, "streaming") == 0)
			draw_str(y, x + 1, "\xe2\x80\xa6", tw,
				 term_attr(UC_DIM));
		return;
	}
	r -= lines;
	if (r == 0 && m->error && m->error[0]) {
		char line[300];

		snprintf(line, sizeof(line), "! %s", m->error);
		draw_str(y, x + 1, line, tw, term_attr(UC_ERROR));
	}
}

static void view_messages(struct app *a, const struct geom *g)
{
	int y = g->py, r, h, w = view_text_cols(a);
	size_t i;

	a->pane_rows = g->ph;
	if (a->pane_width != g->pw) {
		a->pane_width = g->pw;
		w = view_text_cols(a);
	}
	if (!a->st.open && !a->loading) {
		draw_str(g->py + 1, g->px + 2,
			 "Type a message and press Enter to start a new "
			 "conversation.", g->pw - 3, A_NORMAL);
		draw_str(g->py + 2, g->px + 2,
			 "Ctrl-O: your conversations   F1: keys   Ctrl-P: "
			 "commands", g->pw - 3, term_attr(UC_DIM));
		return;
	}
	if (a->loading && !a->st.nmsgs) {
		draw_str(g->py + 1, g->px + 2, "loading\xe2\x80\xa6", g->pw - 3,
			 term_attr(UC_DIM));
		return;
	}
	if (a->follow)
		view_anchor_bottom(a);
	i = a->top_msg;
	r = a->top_row;
	while (y < g->py + g->ph && i < a->st.nmsgs) {
		h = view_msg_rows(&a->st.msgs[i], w);
		if (r >= h) {
			i++;
			r = 0;
			continue;
		}
		view_msg_row(a, i, r, y, g->px, g->pw);
		y++;
		r++;
	}
}

/* ---- the list ---- */

size_t view_filtered(const struct app *a, long *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < a->st.nconvs; i++) {
		const char *t = a->st.convs[i].title ?
				a->st.convs[i].title : "untitled";

		if (a->filter[0] && !strcasestr(t, a->filter))
			continue;
		if (n < max)
			out[n] = (long)i;
		n++;
	}
	return n;
}

static void view_date(const char *rfc3339, char *out, size_t outlen)
{
	struct tm tm, now_tm;
	time_t t, now = time(NULL);

	memset(&tm, 0, sizeof(tm));
	out[0] = '\0';
	if (!strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm))
		return;
	t = timegm(&tm);
	localtime_r(&t, &tm);
	localtime_r(&now, &now_tm);
	if (tm.tm_year == now_tm.tm_year && tm.tm_yday == now_tm.tm_yday)
		strftime(out, outlen, "%H:%M", &tm);
	else
		strftime(out, outlen, "%b %d", &tm);
}

static void view_list(struct app *a, const struct geom *g)
{
	long idx[512];
	size_t n, k;
	int y, rows = g->sy - 1, w = g->list_w;
	char head[160], date[32];

	attrset(term_attr(UC_BORDER));
	mvvline(0, w, ACS_VLINE, g->sy);
	attrset(A_NORMAL);
	if (a->filter[0])
		snprintf(head, sizeof(head), "/%s", a->filter);
	else if (a->search[0])
		snprintf(head, sizeof(head), "search: %.140s", a->search);
	else
		snprintf(head, sizeof(head), "%s",
			 a->show_archived ? "Archived" : "Conversations");
	draw_str(0, 0, head, w, a->focus == FOCUS_LIST ?
		 term_attr(UC_CURRENT) : term_attr(UC_DIM));
	n = view_filtered(a, idx, 512);
	if (n > 512)
		n = 512;
	if (a->list_top > (long)n)
		a->list_top = 0;
	for (k = (size_t)a->list_top, y = 1; k < n && y <= rows; k++, y++) {
		const struct conv *c = &a->st.convs[idx[k]];
		bool sel = a->focus == FOCUS_LIST && idx[k] == a->list_sel;
		bool cur = a->st.open && strcmp(c->id, a->st.cur.id) == 0;
		int at = sel ? term_attr(UC_SELECTED) :
			 cur ? term_attr(UC_CURRENT) : (int)A_NORMAL;
		int dw;

		view_date(c->updated_at, date, sizeof(date));
		dw = (int)strlen(date);
		if (sel)
			fill_row(y, 0, w, at);
		draw_str(y, 0, c->title ? c->title : "untitled",
			 w - dw - 1, at);
		draw_str(y, w - dw, date, dw, sel ? at : term_attr(UC_DIM));
	}
	if (!n)
		draw_str(1, 0, a->filter[0] ? "no match" : "none yet", w,
			 term_attr(UC_DIM));
}

/* ---- input, header, status ---- */

static void view_input(struct app *a, const struct geom *g,
		       const struct editor_view *ev, int *cy, int *cx)
{
	const char *hint;
	size_t first = 0, r;
	int rows = g->ih - 1, y;

	attrset(term_attr(UC_BORDER));
	mvhline(g->iy, g->px, ACS_HLINE, g->pw);
	attrset(A_NORMAL);
	if (a->pend.active)
		hint = a->pend.sent ? " sending\xe2\x80\xa6 " :
		       " waiting for the server\xe2\x80\xa6 (kept) ";
	else if (a->editing)
		hint = " editing: Enter sends a new branch, Esc cancels ";
	else
		hint = " Enter send \xc2\xb7 Ctrl-J newline \xc2\xb7 F1 keys "
		       "\xc2\xb7 Ctrl-P commands ";
	draw_str(g->iy, g->px + 2, hint, g->pw - 4,
		 a->editing ? term_attr(UC_CURRENT) : term_attr(UC_DIM));
	if (ev->cursor_row >= (size_t)rows)
		first = ev->cursor_row - (size_t)rows + 1;
	for (r = first, y = g->iy + 1; r < ev->nrows && y < g->sy; r++, y++)
		draw_text(y, g->px + 1, a->input.text.data +
			  ev->rows[r].start, ev->rows[r].end -
			  ev->rows[r].start, g->pw - 2, A_NORMAL);
	*cy = g->iy + 1 + (int)(ev->cursor_row - first);
	*cx = g->px + 1 + ev->cursor_col;
}

static void view_header(struct app *a, const struct geom *g)
{
	char line[512];

	if (a->st.open)
		snprintf(line, sizeof(line), " %s%s",
			 a->st.cur.title ? a->st.cur.title : "untitled",
			 a->st.cur.archived ? "  (archived)" : "");
	else
		snprintf(line, sizeof(line), " new conversation");
	fill_row(0, g->px, g->pw, term_attr(UC_STATUS));
	draw_str(0, g->px, line, g->pw, term_attr(UC_STATUS));
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
		fill_row(g->py, g->px, g->pw, term_attr(UC_BANNER));
		draw_str(g->py, g->px, line, g->pw, term_attr(UC_BANNER));
	}
}

static void view_status(struct app *a, const struct geom *g)
{
	static const char *const conn[] = {
		[WS_IDLE] = "offline", [WS_CONNECTING] = "connecting",
		[WS_OPEN] = "connected", [WS_WAITING] = "reconnecting",
	};
	char line[1600], user[128];
	const char *model = a->st.open && a->st.cur.model ? a->st.cur.model :
			    a->new_model[0] ? a->new_model : "default model";
	double tps = state_tokens_per_s(&a->st, mono_ms());
	int used;

	ui_auth_username(&a->auth, user, sizeof(user));
	fill_row(g->sy, 0, a->cols, term_attr(UC_STATUS));
	snprintf(line, sizeof(line), " %.100s%s%.1000s \xe2\x94\x82 %.128s "
		 "\xe2\x94\x82 %s%s", user, user[0] ? "@" : "",
		 a->auth.server, model,
		 a->ws_state >= 0 && a->ws_state <= WS_WAITING ?
		 conn[a->ws_state] : "?",
		 a->st.streaming_id[0] ? " \xe2\x94\x82 streaming" : "");
	used = draw_str(g->sy, 0, line, a->cols, term_attr(UC_STATUS));
	if (tps > 0) {
		snprintf(line, sizeof(line), " %.1f tok/s", tps);
		used += draw_str(g->sy, used, line, a->cols - used,
				 term_attr(UC_STATUS));
	}
	if (a->status[0]) {
		snprintf(line, sizeof(line), " \xe2\x94\x82 %s", a->status);
		draw_str(g->sy, used, line, a->cols - used,
			 a->status_error ? term_attr(UC_BANNER) :
			 term_attr(UC_STATUS));
	}
}

/* ---- overlays ---- */

static void view_box(int h, int w, int *y0, int *x0, const char *title,
		     int rows, int cols)
{
	int y, x = (cols - w) / 2;

	y = (rows - h) / 2;
	if (y < 0)
		y = 0;
	if (x < 0)
		x = 0;
	for (int i = 0; i < h; i++)
		fill_row(y + i, x, w, A_NORMAL);
	attrset(term_attr(UC_BORDER));
	mvaddch(y, x, ACS_ULCORNER);
	mvhline(y, x + 1, ACS_HLINE, w - 2);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvvline(y + 1, x, ACS_VLINE, h - 2);
	mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
	attrset(A_NORMAL);
	draw_str(y, x + 2, title, w - 4, term_attr(UC_CURRENT));
	*y0 = y;
	*x0 = x;
}

static void view_help(struct app *a)
{
	int h = a->rows - 2, w = a->cols - 4 > 76 ? 76 : a->cols - 4;
	int y0, x0, y, i, n = 0, shown, skip;
	char keys[128];

	/* entries with a key, plus the closing hint line */
	for (i = 1; i < ACT_COUNT; i++) {
		ui_key_labels_of((enum action)i, keys, sizeof(keys));
		n += keys[0] != '\0';
	}
	n++;
	shown = h - 2 > 0 ? h - 2 : 0;
	if (a->help_top > n - shown)
		a->help_top = n - shown;
	if (a->help_top < 0)
		a->help_top = 0;
	view_box(h, w, &y0, &x0, n > shown ?
		 " keys (PgUp/PgDn scroll, any other key closes) " :
		 " keys (any key closes) ", a->rows, a->cols);
	y = y0 + 1;
	skip = a->help_top;
	for (i = 1; i < ACT_COUNT && y < y0 + h - 1; i++) {
		ui_key_labels_of((enum action)i, keys, sizeof(keys));
		if (!keys[0] || skip-- > 0)
			continue;
		draw_str(y, x0 + 2, keys, 22, term_attr(UC_CURRENT));
		draw_str(y, x0 + 25, ui_key_actions[i].help, w - 27, A_NORMAL);
		y++;
	}
	if (y < y0 + h - 1)
		draw_str(y, x0 + 2, "list: type to filter, Enter opens; "
			 "messages: Up/Down select", w - 4,
			 term_attr(UC_DIM));
	if (a->help_top > 0)
		draw_str(y0, x0 + w - 4, "\xe2\x96\xb2", 1,
			 term_attr(UC_BORDER));
	if (a->help_top < n - shown)
		draw_str(y0 + h - 1, x0 + w - 4, "\xe2\x96\xbc", 1,
			 term_attr(UC_BORDER));
}

/* Items of the palette or the model picker, filtered. */
static size_t view_items(struct app *a, const char **out, long *ids,
			 size_t max)
{
	const char *pat = a->ov_edit.text.data ? a->ov_edit.text.data : "";
	size_t n = 0, i;

	if (a->ov == OV_PALETTE) {
		for (i = 1; i < ACT_COUNT && n < max; i++) {
			if (!ui_key_actions[i].palette ||
			    ui_key_fuzzy(pat, ui_key_actions[i].name) < 0)
				continue;
			out[n] = ui_key_actions[i].name;
			ids[n++] = (long)i;
		}
	} else {
		for (i = 0; i < a->nmodels && n < max; i++) {
			if (ui_key_fuzzy(pat, a->models[i]) < 0)
				continue;
			out[n] = a->models[i];
			ids[n++] = (long)i;
		}
	}
	return n;
}

size_t app_overlay_items(struct app *a, long *ids, size_t max);
size_t app_overlay_items(struct app *a, long *ids, size_t max)
{
	const char *names[256];

	return view_items(a, names, ids, max > 256 ? 256 : max);
}

static void view_picker(struct app *a, int *cy, int *cx)
{
	const char *names[256];
	long ids[256];
	char keys[64];
	size_t n = view_items(a, names, ids, 256), i;
	int h = a->rows - 4 > 20 ? 20 : a->rows - 4;
	int w = a->cols - 4 > 60 ? 60 : a->cols - 4, y0, x0, y;

	view_box(h, w, &y0, &x0, a->ov == OV_PALETTE ? " commands " :
		 " models ", a->rows, a->cols);
	draw_str(y0 + 1, x0 + 2, "> ", 2, term_attr(UC_CURRENT));
	draw_text(y0 + 1, x0 + 4, a->ov_edit.text.data ?
		  a->ov_edit.text.data : "", a->ov_edit.text.len, w - 6,
		  A_NORMAL);
	if (a->ov_sel >= (long)n)
		a->ov_sel = n ? (long)n - 1 : 0;
	for (i = 0, y = y0 + 2; i < n && y < y0 + h - 1; i++, y++) {
		bool sel = (long)i == a->ov_sel;
		int at = sel ? term_attr(UC_SELECTED) : (int)A_NORMAL;

		if (sel)
			fill_row(y, x0 + 1, w - 2, at);
		draw_str(y, x0 + 2, names[i], w - 20, at);
		if (a->ov == OV_PALETTE) {
			ui_key_labels_of((enum action)ids[i], keys,
					 sizeof(keys));
			draw_str(y, x0 + w - 17, keys, 15,
				 sel ? at : term_attr(UC_DIM));
		}
	}
	*cy = y0 + 1;
	*cx = x0 + 4 + width_cols(a->ov_edit.text.data ?
				a->ov_edit.text.data : "",
				a->ov_edit.cursor);
}

static void view_prompt(struct app *a, int *cy, int *cx)
{
	struct editor_view ev = { 0 };
	int w = a->cols - 4 > 70 ? 70 : a->cols - 4;
	int h = a->ov == OV_SYSTEM ? a->rows - 6 : a->ov == OV_CONFIRM ? 4 : 5;
	int y0, x0, y;
	size_t r, first = 0;

	view_box(h, w, &y0, &x0, a->ov_title, a->rows, a->cols);
	if (a->ov == OV_CONFIRM) {
		draw_str(y0 + 1, x0 + 2, "y: yes   n or Esc: no", w - 4,
			 A_NORMAL);
		*cy = y0 + 1;
		*cx = x0 + 2;
		return;
	}
	draw_str(y0 + h - 2, x0 + 2, a->ov == OV_SYSTEM ?
		 "Enter saves \xc2\xb7 Ctrl-J newline \xc2\xb7 Esc cancels "
		 "\xc2\xb7 empty: the default" :
		 "Enter accepts \xc2\xb7 Esc cancels", w - 4,
		 term_attr(UC_DIM));
	if (editor_layout(&a->ov_edit, w - 5, &ev) < 0)
		return;
	if (ev.cursor_row >= (size_t)(h - 3))
		first = ev.cursor_row - (size_t)(h - 3) + 1;
	for (r = first, y = y0 + 1; r < ev.nrows && y < y0 + h - 2; r++, y++)
		draw_text(y, x0 + 2, a->ov_edit.text.data + ev.rows[r].start,
			  ev.rows[r].end - ev.rows[r].start, w - 4, A_NORMAL);
	*cy = y0 + 1 + (int)(ev.cursor_row - first);
	*cx = x0 + 2 + ev.cursor_col;
	editor_view_release(&ev);
}

static void view_login(struct app *a, int *cy, int *cx)
{
	int w = a->cols - 4 > 64 ? 64 : a->cols - 4, h = 12, y0, x0;
	char stars[129];
	size_t n = a->login_pass.text.len, i;
	struct editor *ed;

	erase();
	view_box(h, w, &y0, &x0, " chatui: log in ", a->rows, a->cols);
	draw_str(y0 + 2, x0 + 2, "server", 10, term_attr(UC_DIM));
	draw_str(y0 + 2, x0 + 13, a->auth.server, w - 15, A_NORMAL);
	draw_str(y0 + 4, x0 + 2, "username", 10, a->login_field == 0 ?
		 term_attr(UC_CURRENT) : term_attr(UC_DIM));
	draw_text(y0 + 4, x0 + 13, a->login_user.text.data ?
		  a->login_user.text.data : "", a->login_user.text.len,
		  w - 15, A_NORMAL);
	draw_str(y0 + 5, x0 + 2, "password", 10, a->login_field == 1 ?
		 term_attr(UC_CURRENT) : term_attr(UC_DIM));
	if (n > 128)
		n = 128;
	for (i = 0; i < n; i++)
		stars[i] = '*';
	stars[n] = '\0';
	draw_str(y0 + 5, x0 + 13, stars, w - 15, A_NORMAL);
	draw_str(y0 + 7, x0 + 2, a->login_busy ? "please wait\xe2\x80\xa6" :
		 a->login_msg, w - 4, a->login_busy ? term_attr(UC_DIM) :
		 term_attr(UC_ERROR));
	draw_str(y0 + 9, x0 + 2, "Enter log in \xc2\xb7 F2 register \xc2\xb7 "
		 "Tab next field \xc2\xb7 Ctrl-Q quit", w - 4,
		 term_attr(UC_DIM));
	ed = a->login_field == 0 ? &a->login_user : &a->login_pass;
	*cy = a->login_field == 0 ? y0 + 4 : y0 + 5;
	*cx = x0 + 13 + (a->login_field == 0 ?
			 width_cols(ed->text.data ? ed->text.data : "",
				  ed->cursor) :
			 (int)(a->login_pass.cursor > 128 ? 128 :
			       a->login_pass.cursor));
}

void view_paint(struct app *a)
{
	struct editor_view ev = { 0 };
	struct geom g;
	int cy = 0, cx = 0;
	bool cursor = true;

	getmaxyx(stdscr, a->rows, a->cols);
	if (a->login) {
		view_login(a, &cy, &cx);
		goto done;
	}
	erase();
	view_geom(a, NULL, &g);
	if (editor_layout(&a->input, g.pw - 3 > 1 ? g.pw - 3 : 1, &ev) < 0)
		memset(&ev, 0, sizeof(ev));
	view_geom(a, &ev, &g);
	if (g.list_w)
		view_list(a, &g);
	view_messages(a, &g);
	view_header(a, &g);
	view_input(a, &g, &ev, &cy, &cx);
	view_status(a, &g);
	cursor = a->focus == FOCUS_INPUT;
	switch (a->ov) {
	case OV_HELP:
		view_help(a);
		cursor = false;
		break;
	case OV_PALETTE:
	case OV_MODELS:
		view_picker(a, &cy, &cx);
		cursor = true;
		break;
	case OV_PROMPT:
	case OV_CONFIRM:
	case OV_SYSTEM:
		view_prompt(a, &cy, &cx);
		cursor = true;
		break;
	case OV_NONE:
		break;
	}
	editor_view_release(&ev);
done:
	curs_set(cursor ? 1 : 0);
	if (cy >= a->rows)
		cy = a->rows - 1;
	if (cx >= a->cols)
		cx = a->cols - 1;
	move(cy, cx);
	refresh();
}
