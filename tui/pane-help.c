/*
 * pane-help.c - the key help overlay (F1): every action with a key and
 * its help line, from keys.c's tables; it scrolls when taller than the
 * screen, and any other key closes it.
 */
#include "app.h"

#include <string.h>

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

static void help_paint(struct pane *p, struct app *a, const struct geom *g,
		       struct pane_cursor *cur)
{
	struct help_pane *hp = (struct help_pane *)p;
	int h = a->rows - 2, w = a->cols - 4 > 76 ? 76 : a->cols - 4;
	int y0, x0, y, i, n = 0, shown, skip;
	char keys[128];

	(void)g;
	cur->show = false;
	/* entries with a key, plus the closing hint line */
	for (i = 1; i < ACT_COUNT; i++) {
		ui_key_labels_of((enum action)i, keys, sizeof(keys));
		n += keys[0] != '\0';
	}
	n++;
	shown = h - 2 > 0 ? h - 2 : 0;
	if (hp->top > n - shown)
		hp->top = n - shown;
	if (hp->top < 0)
		hp->top = 0;
	view_box(a, h, w, &y0, &x0, n > shown ?
		 " keys (PgUp/PgDn scroll, any other key closes) " :
		 " keys (any key closes) ");
	y = y0 + 1;
	skip = hp->top;
	for (i = 1; i < ACT_COUNT && y < y0 + h - 1; i++) {
		ui_key_labels_of((enum action)i, keys, sizeof(keys));
		if (!keys[0] || skip-- > 0)
			continue;
		view_str(y, x0 + 2, keys, 22, term_attr(UC_CURRENT));
		view_str(y, x0 + 25, ui_key_actions[i].help, w - 27, A_NORMAL);
		y++;
	}
	if (y < y0 + h - 1)
		view_str(y, x0 + 2, "list: type to filter, Enter opens; "
			 "messages: Up/Down select", w - 4,
			 term_attr(UC_DIM));
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
