/*
 * pane-picker.c - the fuzzy-filtered pickers: the command palette
 * (Ctrl-P: every action listed in keys.c's table) and the model picker
 * (F4: the models GET /v1/models answers, for the open conversation or
 * the next new one).
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "width.h"
#include "banned.h"

#define KEY_ESC 27
#define PICKER_MAX 256		/* items shown */

static const struct pane_ops picker_pane_ops;

void picker_pane_init(struct picker_pane *p)
{
	memset(p, 0, sizeof(*p));
	p->base.ops = &picker_pane_ops;
	editor_init(&p->edit, 16384);
}

static void picker_free_models(struct picker_pane *p)
{
	size_t k;

	for (k = 0; k < p->nmodels; k++)
		free(p->models[k]);
	free(p->models);
	p->models = NULL;
	p->nmodels = 0;
}

void picker_pane_release(struct picker_pane *p)
{
	picker_free_models(p);
	editor_release(&p->edit);
}

static void picker_show(struct app *a, enum picker_kind kind)
{
	struct picker_pane *p = &a->picker;

	p->kind = kind;
	p->sel = 0;
	editor_clear(&p->edit);
	app_overlay(a, &p->base);
}

void picker_pane_show_actions(struct app *a)
{
	picker_show(a, PICK_ACTIONS);
}

void picker_pane_ask_models(struct app *a)
{
	rest_submit(&a->rest, RQ_MODELS, "GET", "/v1/models", NULL, NULL,
		    &a->picker.base);
	app_set_status(a, false, "loading the models");
}

/* Items passing the filter: their names and ids (an enum action or an
 * index into models). */
static size_t picker_items(struct picker_pane *p, const char **out,
			   long *ids, size_t max)
{
	const char *pat = p->edit.text.data ? p->edit.text.data : "";
	size_t n = 0, i;

	if (p->kind == PICK_ACTIONS) {
		for (i = 1; i < ACT_COUNT && n < max; i++) {
			if (!ui_key_actions[i].palette ||
			    ui_key_fuzzy(pat, ui_key_actions[i].name) < 0)
				continue;
			out[n] = ui_key_actions[i].name;
			ids[n++] = (long)i;
		}
	} else {
		for (i = 0; i < p->nmodels && n < max; i++) {
			if (ui_key_fuzzy(pat, p->models[i]) < 0)
				continue;
			out[n] = p->models[i];
			ids[n++] = (long)i;
		}
	}
	return n;
}

/* RQ_MODELS: the picker opens with them. */
static void picker_answer(struct pane *pn, struct app *a,
			  struct ui_event *ev)
{
	struct picker_pane *p = (struct picker_pane *)pn;
	const cJSON *data, *it;
	size_t k;

	if (ev->status < 200 || ev->status >= 300) {
		app_rest_failed(a, ev);
		return;
	}
	data = cJSON_GetObjectItemCaseSensitive(ev->json, "data");
	picker_free_models(p);
	k = (size_t)cJSON_GetArraySize(data);
	p->models = k ? calloc(k, sizeof(char *)) : NULL;
	if (p->models)
		cJSON_ArrayForEach(it, data) {
			const cJSON *id;

			id = cJSON_GetObjectItemCaseSensitive(it, "id");
			if (cJSON_IsString(id) && p->nmodels < k) {
				p->models[p->nmodels] = strdup(id->valuestring);
				if (p->models[p->nmodels])
					p->nmodels++;
			}
		}
	picker_show(a, PICK_MODELS);
	a->status[0] = '\0';
}

/* Enter: the chosen action runs, or the chosen model is set. */
static void picker_choose(struct app *a, struct picker_pane *p)
{
	const char *names[PICKER_MAX];
	long ids[PICKER_MAX];
	size_t n = picker_items(p, names, ids, PICKER_MAX);
	cJSON *body;

	if (p->sel < 0 || (size_t)p->sel >= n)
		return;
	if (p->kind == PICK_ACTIONS) {
		actions_run(a, (enum action)ids[p->sel]);
		return;
	}
	if (!a->st.open) {
		snprintf(a->input.new_model, sizeof(a->input.new_model), "%s",
			 p->models[ids[p->sel]]);
		app_set_status(a, false, "model: %s", a->input.new_model);
		return;
	}
	body = cJSON_CreateObject();
	if (body)
		cJSON_AddStringToObject(body, "model", p->models[ids[p->sel]]);
	chat_pane_patch(a, RQ_PATCH, a->st.cur.id, body);
}

static unsigned picker_key(struct pane *pn, struct app *a, int key,
			   bool code)
{
	struct picker_pane *p = (struct picker_pane *)pn;

	if (!code && key == KEY_ESC)
		return PANE_HANDLED | PANE_CLOSE;
	if (code && (key == KEY_UP || key == KEY_DOWN)) {
		p->sel += key == KEY_UP ? -1 : 1;
		if (p->sel < 0)
			p->sel = 0;
		return PANE_HANDLED;
	}
	if (!code && key == '\r') {
		/* closed first: the action may open another overlay */
		app_overlay(a, NULL);
		picker_choose(a, p);
		return PANE_HANDLED;
	}
	if (pane_edit_key(&p->edit, key, code, 60))
		return PANE_HANDLED;
	if (!code && key >= 32 && key != 127) {
		pane_insert_wc(&p->edit, (unsigned)key);
		p->sel = 0;
	}
	return PANE_HANDLED;
}

static void picker_paint(struct pane *pn, struct app *a,
			 const struct geom *g, struct pane_cursor *cur)
{
	struct picker_pane *p = (struct picker_pane *)pn;
	const char *names[PICKER_MAX];
	long ids[PICKER_MAX];
	char keys[64];
	size_t n = picker_items(p, names, ids, PICKER_MAX), i;
	int h = a->rows - 4 > 20 ? 20 : a->rows - 4;
	int w = a->cols - 4 > 60 ? 60 : a->cols - 4, y0, x0, y;

	(void)g;
	view_box(a, h, w, &y0, &x0, p->kind == PICK_ACTIONS ? " commands " :
		 " models ");
	view_str(y0 + 1, x0 + 2, "> ", 2, term_attr(UC_CURRENT));
	view_text(y0 + 1, x0 + 4, p->edit.text.data ? p->edit.text.data : "",
		  p->edit.text.len, w - 6, A_NORMAL);
	if (p->sel >= (long)n)
		p->sel = n ? (long)n - 1 : 0;
	for (i = 0, y = y0 + 2; i < n && y < y0 + h - 1; i++, y++) {
		bool sel = (long)i == p->sel;
		int at = sel ? term_attr(UC_SELECTED) : (int)A_NORMAL;

		if (sel)
			view_fill(y, x0 + 1, w - 2, at);
		view_str(y, x0 + 2, names[i], w - 20, at);
		if (p->kind == PICK_ACTIONS) {
			ui_key_labels_of((enum action)ids[i], keys,
					 sizeof(keys));
			view_str(y, x0 + w - 17, keys, 15,
				 sel ? at : term_attr(UC_DIM));
		}
	}
	cur->y = y0 + 1;
	cur->x = x0 + 4 + width_cols(p->edit.text.data ?
				     p->edit.text.data : "", p->edit.cursor);
}

static struct editor *picker_paste_target(struct pane *p)
{
	return &((struct picker_pane *)p)->edit;
}

static const struct pane_ops picker_pane_ops = {
	.name = "picker",
	.key = picker_key,
	.paint = picker_paint,
	.answer = picker_answer,
	.paste_target = picker_paste_target,
};
