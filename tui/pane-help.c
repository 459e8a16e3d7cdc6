/*
 * pane-help.c - the key help overlay (F1): every action with a key and
 * its help line, from keys.c's tables, a help line too long for the box
 * wrapped onto the rows after it (never cut); it scrolls by rows when
 * taller than the screen, and any other key closes it.
 */
#include "app.h"

#include <string.h>

#include "width.h"
#include "banned.h"

static const struct pane_ops help_pane_ops;

void help_pane_init(struct help_pane *h)
{
	memset(h, 0, sizeof(*h));
	h->base.ops = &help_pane_ops;
}

void help_pane_show(struct app *a)
{
	a->help.top = 0;
	app_overlay(a, &a->help.base);
}

static unsigned help_key(struct pane *p, struct app *a, int key, bool code)
{
	/* the list may be taller than the screen: these keys scroll it
	 * (the paint clamps), any other closes it */
	static const struct {
		int key, step;
	} scroll[] = {
		{ KEY_UP, -1 }, { KEY_DOWN, 1 }, { KEY_PPAGE, -10 },
		{ KEY_NPAGE, 10 }, { KEY_HOME, -10000 }, { KEY_END, 10000 },
	};
	struct help_pane *h = (struct help_pane *)p;
	size_t k;

	(void)a;
	for (k = 0; code && k < sizeof(scroll) / sizeof(scroll[0]); k++) {
		if (scroll[k].key == key) {
			h->top += scroll[k].step;
			return PANE_HANDLED;
		}
	}
	return PANE_HANDLED | PANE_CLOSE;
}

/* The bytes of s that fill one row of cols columns, broken at a space
 * (a word longer than the row is broken where the row ends); *next gets
 * where the next row starts. */
static size_t help_row(const char *s, int cols, size_t *next)
{
	size_t len = strlen(s), fit, end;
	int used = 0;

	fit = width_fit(s, len, cols > 0 ? cols : 1, &used);
	if (fit >= len) {
		*next = len;
		return len;
	}
	for (end = fit; end > 0 && s[end] != ' '; end--)
		;
	if (end == 0)
		end = fit ? fit : 1;
	*next = end;
	while (s[*next] == ' ')
		(*next)++;
	return end;
}

/* The help's rows from row top on, drawn from y into rows rows when
 * draw (an entry's keys on its first row, its help wrapped into hcols
 * columns after them, never cut), the closing hint last; returns how
 * many rows the whole help takes. */
static int help_rows(int top, bool draw, int y, int rows, int x0, int hcols)
{
	char keys[128];
	const char *t;
	size_t k, next;
	int i, row = 0;

	for (i = 1; i < ACT_COUNT; i++) {
		ui_key_labels_of((enum action)i, keys, sizeof(keys));
		if (!keys[0])
			continue;
		t = ui_key_actions[i].help;
		do {
			k = help_row(t, hcols, &next);
			if (draw && row >= top && row - top < rows) {
				int at = y + row - top;

				if (t == ui_key_actions[i].help)
					view_str_cut(at, x0 + 2, keys, 22,
						     term_attr(UC_CURRENT));
				view_text(at, x0 + 25, t, k, hcols, A_NORMAL);
			}
			row++;
			t += next;
		} while (*t);
	}
	if (draw && row >= top && row - top < rows)
		view_str_cut(y + row - top, x0 + 2, "list: type to filter, "
			     "Enter opens; messages: Up/Down select",
			     hcols + 23, term_attr(UC_DIM));
	return row + 1;
}

static void help_paint(struct pane *p, struct app *a, const struct geom *g,
		       struct pane_cursor *cur)
{
	struct help_pane *hp = (struct help_pane *)p;
	int h = a->rows - 2, w = a->cols - 4 > 76 ? 76 : a->cols - 4;
	int y0, x0, n, shown;

	(void)g;
	cur->show = false;
	n = help_rows(0, false, 0, 0, 0, w - 27);
	shown = h - 2 > 0 ? h - 2 : 0;
	if (hp->top > n - shown)
		hp->top = n - shown;
	if (hp->top < 0)
		hp->top = 0;
	view_box(a, h, w, &y0, &x0, n > shown ?
		 " keys (PgUp/PgDn scroll, any other key closes) " :
		 " keys (any key closes) ");
	help_rows(hp->top, true, y0 + 1, shown, x0, w - 27);
	if (hp->top > 0)
		view_str(y0, x0 + w - 4, "\xe2\x96\xb2", 1,
			 term_attr(UC_BORDER));
	if (hp->top < n - shown)
		view_str(y0 + h - 1, x0 + w - 4, "\xe2\x96\xbc", 1,
			 term_attr(UC_BORDER));
}

static const struct pane_ops help_pane_ops = {
	.name = "help",
	.key = help_key,
	.paint = help_paint,
};
