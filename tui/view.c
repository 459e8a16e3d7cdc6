/*
 * view.c - chatui's screen: where the panes go (the list on the left,
 * the transcript, the input box under it, the status line at the
 * bottom, an overlay on top), the drawing every pane shares, the status
 * line, and one paint of it all.  Each pane paints its own part
 * (pane.h); the login screen, when shown, is the whole screen.
 *
 * Text goes to ncurses as wide characters (mvaddnwstr), so double-width
 * characters and combining marks land in the right cells.
 */
#include "app.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "err.h"
#include "utf8.h"
#include "util.h"
#include "width.h"
#include "banned.h"

#define LINE_WMAX 1024

void view_geom(const struct app *a, int in_rows, struct geom *g)
{
	memset(g, 0, sizeof(*g));
	if (a->list.show && a->cols >= 60)
		g->list_w = a->cols >= 120 ? 32 : 24;
	g->px = g->list_w ? g->list_w + 1 : 0;
	g->pw = a->cols - g->px;
	if (in_rows < 1)
		in_rows = 1;
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

/*
 * The first bytes of s (at most outlen - 1) into out with every control
 * character (C0, DEL, C1: an escape sequence's ESC too) made a space;
 * returns the bytes written.  Drawn as spaces, they must be measured as
 * spaces: width.c counts them 0 columns, and a line of them drew past
 * its place (over a box's border).
 */
static size_t view_clean(const char *s, size_t len, char *out, size_t outlen)
{
	size_t off = 0, n = 0, k;
	uint32_t cp;

	while (off < len && n + 4 < outlen) {
		k = utf8_decode(s + off, len - off, &cp);
		if (k == 0) {
			out[n++] = s[off++];	/* invalid: U+FFFD, 1 column */
			continue;
		}
		if (cp < 32 || cp == 127 || (cp >= 0x80 && cp < 0xa0)) {
			out[n++] = ' ';
		} else {
			memcpy(out + n, s + off, k);
			n += k;
		}
		off += k;
	}
	out[n] = '\0';
	return n;
}

int view_text(int y, int x, const char *text, size_t tlen, int maxcols,
	      int attr)
{
	wchar_t wb[LINE_WMAX];
	char s[LINE_WMAX * 4];
	size_t off = 0, n = 0, fit, len;
	int used = 0;

	if (maxcols <= 0 || tlen == 0)
		return 0;
	len = view_clean(text, tlen, s, sizeof(s));
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
		wb[n++] = (wchar_t)cp;
		off += k;
	}
	wb[n] = 0;
	attrset(attr);
	mvaddnwstr(y, x, wb, (int)n);
	attrset(A_NORMAL);
	return used;
}

int view_str(int y, int x, const char *s, int maxcols, int attr)
{
	return view_text(y, x, s, strlen(s), maxcols, attr);
}

int view_str_cut(int y, int x, const char *text, int maxcols, int attr)
{
	char s[LINE_WMAX * 4];
	size_t len = view_clean(text, strlen(text), s, sizeof(s)), fit;
	int used = 0;

	if (maxcols <= 0 || width_cols(s, len) <= maxcols)
		return view_str(y, x, s, maxcols, attr);
	/* the room for the ellipsis, and no space left before it */
	fit = width_fit(s, len, maxcols - 1, &used);
	while (fit > 0 && s[fit - 1] == ' ')
		fit--;
	used = view_text(y, x, s, fit, maxcols - 1, attr);
	return used + view_str(y, x + used, "\xe2\x80\xa6", 1, attr);
}

void view_fill(int y, int x, int w, int attr)
{
	int i;

	attrset(attr);
	for (i = 0; i < w; i++)
		mvaddch(y, x + i, ' ');
	attrset(A_NORMAL);
}

/* ---- the status line ---- */

static void view_status(struct app *a, const struct geom *g)
{
	static const char *const conn[] = {
		[WS_IDLE] = "offline", [WS_CONNECTING] = "connecting",
		[WS_OPEN] = "connected", [WS_WAITING] = "reconnecting",
	};
	char line[1600], user[128];
	const char *model = a->st.open && a->st.cur.model ? a->st.cur.model :
			    a->input.new_model[0] ? a->input.new_model :
			    a->input.default_model[0] ?
			    a->input.default_model : "default model";
	double tps = state_tokens_per_s(&a->st, mono_ms());
	int used;

	ui_auth_username(&a->auth, user, sizeof(user));
	view_fill(g->sy, 0, a->cols, term_attr(UC_STATUS));
	snprintf(line, sizeof(line), " %.100s%s%.1000s \xe2\x94\x82 %.128s "
		 "\xe2\x94\x82 %s%s", user, user[0] ? "@" : "",
		 a->auth.server, model,
		 a->ws_state >= 0 && a->ws_state <= WS_WAITING ?
		 conn[a->ws_state] : "?",
		 a->st.streaming_id[0] ? " \xe2\x94\x82 streaming" : "");
	used = view_str(g->sy, 0, line, a->cols, term_attr(UC_STATUS));
	if (tps > 0) {
		snprintf(line, sizeof(line), " %.1f tok/s", tps);
		used += view_str(g->sy, used, line, a->cols - used,
				 term_attr(UC_STATUS));
	}
	if (a->status[0]) {
		snprintf(line, sizeof(line), " \xe2\x94\x82 %s", a->status);
		view_str(g->sy, used, line, a->cols - used,
			 a->status_error ? term_attr(UC_BANNER) :
			 term_attr(UC_STATUS));
	}
	/* the unread notifications, last and at the right end: over
	 * whatever the line held there, so that no pane hides it */
	if (a->notes.unread > 0) {
		snprintf(line, sizeof(line), " %ld unread ", a->notes.unread);
		used = (int)strlen(line);
		if (used < a->cols)
			view_str(g->sy, a->cols - used, line, used,
				 term_attr(UC_BANNER) | A_BOLD);
	}
}

/* ---- overlays ---- */

void view_box(struct app *a, int h, int w, int *y0, int *x0,
	      const char *title)
{
	int y, x = (a->cols - w) / 2;

	y = (a->rows - h) / 2;
	if (y < 0)
		y = 0;
	if (x < 0)
		x = 0;
	for (int i = 0; i < h; i++)
		view_fill(y + i, x, w, A_NORMAL);
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
	view_str(y, x + 2, title, w - 4, term_attr(UC_CURRENT));
	*y0 = y;
	*x0 = x;
}

/* ---- one paint ---- */

void view_paint(struct app *a)
{
	struct pane *main_panes[] = {
		&a->list.base, &a->chat.base, &a->input.base,
	};
	struct pane_cursor cur = { 0, 0, true };
	struct geom g;
	size_t i;
	int in_rows;

	getmaxyx(stdscr, a->rows, a->cols);
	erase();
	if (a->login.active) {
		a->login.base.ops->paint(&a->login.base, a, NULL, &cur);
		goto done;
	}
	view_geom(a, 1, &g);
	in_rows = input_pane_layout(&a->input, g.pw - 3 > 1 ? g.pw - 3 : 1);
	view_geom(a, in_rows, &g);
	for (i = 0; i < sizeof(main_panes) / sizeof(main_panes[0]); i++)
		main_panes[i]->ops->paint(main_panes[i], a, &g, &cur);
	view_status(a, &g);
	cur.show = a->focus == FOCUS_INPUT;
	if (a->overlay) {
		cur.show = true;
		a->overlay->ops->paint(a->overlay, a, &g, &cur);
	}
done:
	curs_set(cur.show ? 1 : 0);
	if (cur.y >= a->rows)
		cur.y = a->rows - 1;
	if (cur.x >= a->cols)
		cur.x = a->cols - 1;
	move(cur.y, cur.x);
	refresh();
}
