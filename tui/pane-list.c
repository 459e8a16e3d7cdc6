/*
 * pane-list.c - the conversation list on the left: the list (or a
 * search's answer) asked of the server and shown newest first, a filter
 * typed into it, the selection, and Enter to open one.
 */
#include "app.h"

#include <string.h>
#include <time.h>

#include "err.h"
#include "util.h"
#include "banned.h"

static const struct pane_ops list_pane_ops;

void list_pane_init(struct list_pane *l)
{
	memset(l, 0, sizeof(*l));
	l->base.ops = &list_pane_ops;
	l->show = true;
	l->sel = -1;
}

void list_pane_refresh(struct app *a)
{
	struct list_pane *l = &a->list;
	char path[1200], q[800];

	if (l->search[0]) {
		/* the query, percent-encoded (RFC 3986 unreserved kept) */
		size_t i, n = 0;

		for (i = 0; l->search[i] && n + 4 < sizeof(q); i++) {
			unsigned char c = (unsigned char)l->search[i];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '.' || c == '~') {
				q[n++] = (char)c;
			} else {
				snprintf(q + n, 4, "%%%02X", c);
				n += 3;
			}
		}
		q[n] = '\0';
		snprintf(path, sizeof(path),
			 "/v1/conversations?limit=100&archived=%s&q=%s",
			 l->show_archived ? "true" : "false", q);
		rest_submit(&a->rest, RQ_SEARCH, "GET", path, NULL, NULL,
			    &l->base);
		return;
	}
	snprintf(path, sizeof(path), "/v1/conversations?limit=100%s",
		 l->show_archived ? "&archived=true" : "");
	rest_submit(&a->rest, RQ_LIST, "GET", path, NULL, NULL, &l->base);
}

size_t list_pane_filtered(const struct app *a, long *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < a->st.nconvs; i++) {
		const char *t = a->st.convs[i].title ?
				a->st.convs[i].title : "untitled";

		if (a->list.filter[0] && !strcasestr(t, a->list.filter))
			continue;
		if (n < max)
			out[n] = (long)i;
		n++;
	}
	return n;
}

void list_pane_search(struct app *a, const char *query)
{
	struct list_pane *l = &a->list;

	snprintf(l->search, sizeof(l->search), "%s", query);
	l->filter[0] = '\0';
	l->show = true;
	app_focus(a, FOCUS_LIST);
	l->sel = 0;
	l->top = 0;
	list_pane_refresh(a);
}

static void list_answer(struct pane *p, struct app *a, struct ui_event *ev)
{
	struct list_pane *l = (struct list_pane *)p;

	if (ev->status < 200 || ev->status >= 300) {
		app_rest_failed(a, ev);
		return;
	}
	if (state_set_list(&a->st, ev->json) < 0)
		app_set_status(a, true, "the list is malformed");
	if (l->sel >= (long)a->st.nconvs)
		l->sel = a->st.nconvs ? 0 : -1;
}

/* ---- keys ---- */

static unsigned list_key(struct pane *p, struct app *a, int key, bool code)
{
	struct list_pane *l = (struct list_pane *)p;
	long idx[4096];
	size_t n = list_pane_filtered(a, idx, 4096), k, pos = 0;
	size_t len = strlen(l->filter);

	if (n > 4096)
		n = 4096;
	for (k = 0; k < n; k++)
		if (idx[k] == l->sel)
			pos = k;
	if (code && (key == KEY_UP || key == KEY_DOWN)) {
		if (key == KEY_UP && pos > 0)
			pos--;
		else if (key == KEY_DOWN && pos + 1 < n)
			pos++;
		l->sel = n ? idx[pos] : -1;
		if ((long)pos < l->top)
			l->top = (long)pos;
		if ((long)pos >= l->top + a->rows - 3)
			l->top = (long)pos - (a->rows - 4);
		return PANE_HANDLED;
	}
	if (!code && key == '\r') {
		if (n && l->sel >= 0) {
			chat_pane_open(a, a->st.convs[l->sel].id);
			app_focus(a, FOCUS_INPUT);
			l->filter[0] = '\0';
		}
		return PANE_HANDLED;
	}
	if ((code && key == KEY_BACKSPACE) || (!code && (key == 127 ||
							 key == 8))) {
		if (len)
			l->filter[len - 1] = '\0';
		else if (l->search[0]) {
			l->search[0] = '\0';
			list_pane_refresh(a);
		}
		goto refilter;
	}
	if (!code && key >= 32 && key < 127 && key != '?' &&
	    len + 1 < sizeof(l->filter)) {
		l->filter[len] = (char)key;
		l->filter[len + 1] = '\0';
		goto refilter;
	}
	return 0;
refilter:
	n = list_pane_filtered(a, idx, 1);
	l->sel = n ? idx[0] : -1;
	l->top = 0;
	return PANE_HANDLED;
}

/* ---- painting ---- */

static void list_date(const char *rfc3339, char *out, size_t outlen)
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

static void list_paint(struct pane *p, struct app *a, const struct geom *g,
		       struct pane_cursor *cur)
{
	struct list_pane *l = (struct list_pane *)p;
	long idx[512];
	size_t n, k;
	int y, rows = g->sy - 1, w = g->list_w;
	char head[160], date[32];

	(void)cur;
	if (!w)
		return;
	attrset(term_attr(UC_BORDER));
	mvvline(0, w, ACS_VLINE, g->sy);
	attrset(A_NORMAL);
	if (l->filter[0])
		snprintf(head, sizeof(head), "/%s", l->filter);
	else if (l->search[0])
		snprintf(head, sizeof(head), "search: %.140s", l->search);
	else
		snprintf(head, sizeof(head), "%s",
			 l->show_archived ? "Archived" : "Conversations");
	view_str(0, 0, head, w, a->focus == FOCUS_LIST ?
		 term_attr(UC_CURRENT) : term_attr(UC_DIM));
	n = list_pane_filtered(a, idx, 512);
	if (n > 512)
		n = 512;
	if (l->top > (long)n)
		l->top = 0;
	for (k = (size_t)l->top, y = 1; k < n && y <= rows; k++, y++) {
		const struct conv *c = &a->st.convs[idx[k]];
		bool sel = a->focus == FOCUS_LIST && idx[k] == l->sel;
		bool now = a->st.open && strcmp(c->id, a->st.cur.id) == 0;
		int at = sel ? term_attr(UC_SELECTED) :
			 now ? term_attr(UC_CURRENT) : (int)A_NORMAL;
		int dw;

		list_date(c->updated_at, date, sizeof(date));
		dw = (int)strlen(date);
		if (sel)
			view_fill(y, 0, w, at);
		view_str_cut(y, 0, c->title ? c->title : "untitled",
			     w - dw - 1, at);
		view_str(y, w - dw, date, dw, sel ? at : term_attr(UC_DIM));
	}
	if (!n)
		view_str(1, 0, l->filter[0] ? "no match" : "none yet", w,
			 term_attr(UC_DIM));
}

static const struct pane_ops list_pane_ops = {
	.name = "list",
	.key = list_key,
	.paint = list_paint,
	.answer = list_answer,
};
