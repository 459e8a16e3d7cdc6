/*
 * pane-prompt.c - the overlays that ask for text or a yes: one line
 * (rename, search), several lines (the system prompt, for the open
 * conversation or the next new one), and y/n (delete).
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

#define KEY_ESC 27

static const struct pane_ops prompt_pane_ops;

void prompt_pane_init(struct prompt_pane *p)
{
	memset(p, 0, sizeof(*p));
	p->base.ops = &prompt_pane_ops;
	editor_init(&p->edit, 16384);
}

void prompt_pane_release(struct prompt_pane *p)
{
	editor_release(&p->edit);
}

void prompt_pane_show(struct app *a, enum prompt_kind kind,
		      const char *title, const char *text)
{
	struct prompt_pane *p = &a->prompt;

	p->kind = kind;
	snprintf(p->title, sizeof(p->title), " %s ", title);
	editor_clear(&p->edit);
	if (text)
		editor_set(&p->edit, text, strlen(text));
	app_overlay(a, &p->base);
}

/* Enter: the text goes where the prompt was for. */
static void prompt_accept(struct app *a, struct prompt_pane *p)
{
	const char *t = p->edit.text.data ? p->edit.text.data : "";
	const char *field = p->kind == PR_SYSTEM ? "system_prompt" : "title";
	cJSON *body;

	if (p->kind == PR_SYSTEM && !a->st.open) {
		free(a->input.new_system);
		a->input.new_system = t[0] ? strdup(t) : NULL;
		app_set_status(a, false, "system prompt kept for the new "
			       "conversation");
		return;
	}
	if (p->kind == PR_SYSTEM || p->kind == PR_RENAME) {
		body = cJSON_CreateObject();
		if (!body)
			return;
		if (t[0])
			cJSON_AddStringToObject(body, field, t);
		else
			cJSON_AddNullToObject(body, field);
		chat_pane_patch(a, RQ_PATCH, a->st.cur.id, body);
		return;
	}
	if (p->kind == PR_SEARCH)
		list_pane_search(a, t);
}

static unsigned prompt_key(struct pane *pn, struct app *a, int key,
			   bool code)
{
	struct prompt_pane *p = (struct prompt_pane *)pn;

	if (p->kind == PR_DELETE) {
		if (!code && (key == 'y' || key == 'Y'))
			chat_pane_delete(a);
		return PANE_HANDLED | PANE_CLOSE;
	}
	if (!code && key == KEY_ESC)
		return PANE_HANDLED | PANE_CLOSE;
	if (p->kind == PR_SYSTEM && !code && key == '\n') {
		editor_insert(&p->edit, "\n", 1);
		return PANE_HANDLED;
	}
	if (!code && key == '\r') {
		app_overlay(a, NULL);
		prompt_accept(a, p);
		return PANE_HANDLED;
	}
	if (pane_edit_key(&p->edit, key, code, 60))
		return PANE_HANDLED;
	if (!code && key >= 32 && key != 127)
		pane_insert_wc(&p->edit, (unsigned)key);
	return PANE_HANDLED;
}

static void prompt_paint(struct pane *pn, struct app *a,
			 const struct geom *g, struct pane_cursor *cur)
{
	struct prompt_pane *p = (struct prompt_pane *)pn;
	struct editor_view ev = { 0 };
	int w = a->cols - 4 > 70 ? 70 : a->cols - 4;
	int h = p->kind == PR_SYSTEM ? a->rows - 6 :
		p->kind == PR_DELETE ? 4 : 5;
	int y0, x0, y;
	size_t r, first = 0;

	(void)g;
	view_box(a, h, w, &y0, &x0, p->title);
	if (p->kind == PR_DELETE) {
		view_str(y0 + 1, x0 + 2, "y: yes   n or Esc: no", w - 4,
			 A_NORMAL);
		cur->y = y0 + 1;
		cur->x = x0 + 2;
		return;
	}
	view_str(y0 + h - 2, x0 + 2, p->kind == PR_SYSTEM ?
		 "Enter saves \xc2\xb7 Ctrl-J newline \xc2\xb7 Esc cancels "
		 "\xc2\xb7 empty: the default" :
		 "Enter accepts \xc2\xb7 Esc cancels", w - 4,
		 term_attr(UC_DIM));
	if (editor_layout(&p->edit, w - 5, &ev) < 0)
		return;
	if (ev.cursor_row >= (size_t)(h - 3))
		first = ev.cursor_row - (size_t)(h - 3) + 1;
	for (r = first, y = y0 + 1; r < ev.nrows && y < y0 + h - 2; r++, y++)
		view_text(y, x0 + 2, p->edit.text.data + ev.rows[r].start,
			  ev.rows[r].end - ev.rows[r].start, w - 4, A_NORMAL);
	cur->y = y0 + 1 + (int)(ev.cursor_row - first);
	cur->x = x0 + 2 + ev.cursor_col;
	editor_view_release(&ev);
}

static struct editor *prompt_paste_target(struct pane *p)
{
	return &((struct prompt_pane *)p)->edit;
}

static const struct pane_ops prompt_pane_ops = {
	.name = "prompt",
	.key = prompt_key,
	.paint = prompt_paint,
	.paste_target = prompt_paste_target,
};
