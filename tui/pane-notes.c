/*
 * pane-notes.c - the notifications: the unread count the status line
 * shows as a badge on every screen, and the notifications overlay
 * (Ctrl-G, "notifications" in the palette): newest first, the unread
 * ones marked, Enter marks one read (and opens the conversation of an
 * answer that finished while you were away), a marks them all read,
 * moving the cursor past the last one loaded fetches the next page.
 *
 * The count and the first page come from GET /v1/notifications at start
 * (and after a login or a reconnect); a "notification" frame of /v1/ws
 * (notifyd's, pushed by chatd: a notification of the user or a
 * broadcast) adds one live.  A frame and a list answer may tell of the
 * same notification: ids are UUIDv7, so one already held is skipped,
 * and an answer keeps the frames newer than its newest item.  Reads go
 * to the server first; the count drops when it said yes.
 *
 * Every text here is the server's (titles, bodies, a broadcast's text,
 * the names in data): it is drawn through view_str_cut, which turns
 * control bytes (escape sequences included) into spaces, lays wide
 * characters out by width and cuts with an ellipsis.
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define KEY_ESC 27
#define NOTES_PAGE 20			/* items a request asks for */
#define NOTES_MAX 2000			/* items held at most */
#define NOTES_ROWS 2			/* rows an item takes */
#define NOTES_PATH "/v1/notifications"

/* The request tags. */
#define TAG_LIST "list"			/* the first page, the count */
#define TAG_MORE "more"			/* the page after the last item */
#define TAG_ALL "all"			/* read-all */
#define TAG_READ "r:"			/* + the id: one read */

/* What an item shows after its title, by kind: a string of its data
 * (the conversation's title, a key's name, a device). */
static const struct {
	const char *kind;
	const char *key;
} notes_detail[] = {
	{ "generation_finished", "title" },
	{ "apikey_created", "name" },
	{ "new_device", "user_agent" },
};

static const struct pane_ops notes_pane_ops;

void notes_pane_init(struct notes_pane *n)
{
	memset(n, 0, sizeof(*n));
	n->base.ops = &notes_pane_ops;
	n->unread = -1;
}

static void note_release(struct note *it)
{
	free(it->title);
	free(it->body);
	free(it->detail);
	memset(it, 0, sizeof(*it));
}

static void notes_clear_items(struct notes_pane *n)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		note_release(&n->items[i]);
	n->n = 0;
	n->sel = n->top = 0;
	n->next_before[0] = '\0';
}

void notes_pane_release(struct notes_pane *n)
{
	notes_clear_items(n);
	free(n->items);
	n->items = NULL;
	n->cap = 0;
}

static const char *notes_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A notification object (the list's, or a frame's data, whose id is
 * notification_id) into *it: 0, CHAT_EPARSE without an id, or
 * CHAT_ENOMEM. */
static int note_from_json(const cJSON *o, struct note *it)
{
	const char *id = notes_str(o, "id"), *kind, *at, *detail = NULL;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
	const cJSON *read = cJSON_GetObjectItemCaseSensitive(o, "read");
	size_t i;

	memset(it, 0, sizeof(*it));
	if (!id)
		id = notes_str(o, "notification_id");
	if (!id || !id[0] || strlen(id) >= sizeof(it->id))
		return CHAT_EPARSE;
	snprintf(it->id, sizeof(it->id), "%s", id);
	kind = notes_str(o, "kind");
	snprintf(it->kind, sizeof(it->kind), "%s", kind ? kind : "");
	it->read = cJSON_IsTrue(read);
	at = notes_str(o, "created_at");
	/* "2026-12-07T21:54:25.206Z" -> "2026-12-07 21:54" */
	if (at && strlen(at) >= 16 && at[10] == 'T')
		snprintf(it->when, sizeof(it->when), "%.10s %.5s", at,
			 at + 11);
	for (i = 0; kind && i < sizeof(notes_detail) / sizeof(notes_detail[0]);
	     i++)
		if (strcmp(kind, notes_detail[i].kind) == 0)
			detail = notes_str(data, notes_detail[i].key);
	if (strcmp(it->kind, "generation_finished") == 0) {
		const char *cid = notes_str(data, "conversation_id");

		if (cid && strlen(cid) < sizeof(it->conv_id))
			snprintf(it->conv_id, sizeof(it->conv_id), "%s", cid);
	}
	it->title = strdup(notes_str(o, "title") ? notes_str(o, "title") : "");
	it->body = strdup(notes_str(o, "body") ? notes_str(o, "body") : "");
	it->detail = detail ? strdup(detail) : NULL;
	if (!it->title || !it->body || (detail && !it->detail)) {
		note_release(it);
		return CHAT_ENOMEM;
	}
	return 0;
}

static long notes_find(const struct notes_pane *n, const char *id)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->items[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* Puts *it (taken) at index at; past NOTES_MAX the oldest goes. */
static int notes_insert(struct notes_pane *n, size_t at, struct note *it)
{
	struct note *more;
	size_t cap;

	if (n->n == NOTES_MAX) {
		if (at >= n->n) {
			note_release(it);
			return 0;
		}
		note_release(&n->items[--n->n]);
		n->next_before[0] = '\0';	/* no paging past a cut */
	}
	if (n->n == n->cap) {
		cap = n->cap ? n->cap * 2 : 32;
		more = realloc(n->items, cap * sizeof(*more));
		if (!more) {
			note_release(it);
			return CHAT_ENOMEM;
		}
		n->items = more;
		n->cap = cap;
	}
	memmove(&n->items[at + 1], &n->items[at],
		(n->n - at) * sizeof(*n->items));
	n->items[at] = *it;
	n->n++;
	return 0;
}

static void notes_ask(struct app *a, const char *tag, const char *before)
{
	struct notes_pane *n = &a->notes;
	char path[256];
	uint64_t seq;

	snprintf(path, sizeof(path), NOTES_PATH "?limit=%d%s%s", NOTES_PAGE,
		 before ? "&before=" : "", before ? before : "");
	seq = rest_submit(&a->rest, RQ_NOTES, "GET", path, NULL, tag,
			  &n->base);
	if (!seq)
		return;
	n->loading = true;
	n->list_seq = seq;
}

void notes_pane_refresh(struct app *a)
{
	notes_ask(a, TAG_LIST, NULL);
}

void notes_pane_clear(struct app *a)
{
	struct notes_pane *n = &a->notes;

	notes_clear_items(n);
	n->unread = -1;
	n->loading = false;
	n->list_seq = 0;		/* answers of the old login: dropped */
	if (a->overlay == &n->base)
		app_overlay(a, NULL);
}

void notes_pane_show(struct app *a)
{
	a->notes.sel = a->notes.top = 0;
	notes_pane_refresh(a);
	app_overlay(a, &a->notes.base);
}

void notes_pane_frame(struct app *a, const cJSON *data)
{
	struct notes_pane *n = &a->notes;
	struct note it;

	if (note_from_json(data, &it) < 0)
		return;
	if (notes_find(n, it.id) >= 0) {
		note_release(&it);
		return;
	}
	if (!it.read && n->unread >= 0)
		n->unread++;
	else if (!it.read)
		n->unread = 1;
	/* the newest: on top, the cursor staying on its item */
	if (notes_insert(n, 0, &it) == 0 && a->overlay == &n->base &&
	    n->n > 1)
		n->sel++;
	a->dirty = true;
}

/* ---- answers ---- */

/* A page: TAG_LIST replaces the items (keeping the frames newer than
 * its newest), TAG_MORE appends. */
static void notes_page(struct app *a, struct ui_event *ev, bool first)
{
	struct notes_pane *n = &a->notes;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(ev->json, "data");
	const cJSON *unread = cJSON_GetObjectItemCaseSensitive(ev->json,
							       "unread");
	const char *next = notes_str(ev->json, "next_before");
	const cJSON *o;
	struct note it, *old = NULL;
	size_t nold = 0, i;
	long newer_unread = 0;
	char newest[CHATUI_ID_MAX] = "";

	if (!cJSON_IsArray(list) || !cJSON_IsNumber(unread))
		return;
	if (first) {
		old = n->items;
		nold = n->n;
		n->items = NULL;
		n->n = n->cap = 0;
		o = cJSON_GetArrayItem(list, 0);
		if (o && notes_str(o, "id"))
			snprintf(newest, sizeof(newest), "%s",
				 notes_str(o, "id"));
	}
	cJSON_ArrayForEach(o, list) {
		if (note_from_json(o, &it) < 0)
			continue;
		if (notes_find(n, it.id) >= 0)
			note_release(&it);
		else
			(void)notes_insert(n, n->n, &it);
	}
	/* frames the answer did not know yet, on top */
	for (i = nold; i-- > 0;) {
		if (strcmp(old[i].id, newest) > 0 &&
		    notes_find(n, old[i].id) < 0) {
			if (!old[i].read)
				newer_unread++;
			if (notes_insert(n, 0, &old[i]) == 0)
				continue;
		} else {
			note_release(&old[i]);
		}
	}
	free(old);
	if (first)
		n->unread = (long)unread->valuedouble + newer_unread;
	snprintf(n->next_before, sizeof(n->next_before), "%s",
		 next ? next : "");
	if (n->sel >= (long)n->n)
		n->sel = n->n ? (long)n->n - 1 : 0;
}

/* One marked read (tag TAG_READ + id) or all (TAG_ALL), the server
 * having said yes. */
static void notes_read_done(struct notes_pane *n, const char *tag)
{
	size_t i;
	long k;

	if (strcmp(tag, TAG_ALL) == 0) {
		for (i = 0; i < n->n; i++)
			n->items[i].read = true;
		n->unread = 0;
		return;
	}
	k = notes_find(n, tag + strlen(TAG_READ));
	if (k >= 0 && !n->items[k].read) {
		n->items[k].read = true;
		if (n->unread > 0)
			n->unread--;
	}
}

static void notes_answer(struct pane *p, struct app *a, struct ui_event *ev)
{
	struct notes_pane *n = (struct notes_pane *)p;
	bool ok = ev->status >= 200 && ev->status < 300;
	bool page = strcmp(ev->tag, TAG_LIST) == 0 ||
		    strcmp(ev->tag, TAG_MORE) == 0;

	if (page && ev->seq != n->list_seq)
		return;			/* an older page, or another login's */
	if (page)
		n->loading = false;
	if (!ok) {
		/* the count is a nicety: a notifyd that is down says so
		 * only where it was asked for */
		if (!page || a->overlay == &n->base)
			app_rest_failed(a, ev);
		return;
	}
	if (page)
		notes_page(a, ev, strcmp(ev->tag, TAG_LIST) == 0);
	else
		notes_read_done(n, ev->tag);
	a->dirty = true;
}

/* ---- keys ---- */

/* Enter: marks the item read, and opens an answer's conversation. */
static unsigned notes_enter(struct app *a, struct notes_pane *n)
{
	char path[128], tag[CHATUI_ID_MAX];
	struct note *it;

	if (n->sel < 0 || (size_t)n->sel >= n->n)
		return PANE_HANDLED;
	it = &n->items[n->sel];
	if (!it->read) {
		snprintf(path, sizeof(path), NOTES_PATH "/%s/read", it->id);
		/* ids are 36 bytes: the tag holds one whole */
		snprintf(tag, sizeof(tag), TAG_READ "%.*s",
			 (int)(sizeof(tag) - sizeof(TAG_READ)), it->id);
		rest_submit(&a->rest, RQ_NOTES, "POST", path, NULL, tag,
			    &n->base);
	}
	if (!it->conv_id[0])
		return PANE_HANDLED;
	chat_pane_open(a, it->conv_id);
	app_focus(a, FOCUS_INPUT);
	return PANE_HANDLED | PANE_CLOSE;
}

/* Cursor moves; the page after the last item is asked when the cursor
 * reaches it.  True when key was one. */
static bool notes_move(struct app *a, struct notes_pane *n, int key,
		       bool code)
{
	static const struct {
		int key;
		bool code;
		long step;
	} moves[] = {
		{ KEY_UP, true, -1 }, { KEY_DOWN, true, 1 },
		{ 'k', false, -1 }, { 'j', false, 1 },
		{ KEY_PPAGE, true, -NOTES_PAGE / 2 },
		{ KEY_NPAGE, true, NOTES_PAGE / 2 },
		{ KEY_HOME, true, -NOTES_MAX }, { KEY_END, true, NOTES_MAX },
	};
	size_t k;

	for (k = 0; k < sizeof(moves) / sizeof(moves[0]); k++) {
		if (moves[k].key != key || moves[k].code != code)
			continue;
		n->sel += moves[k].step;
		if (n->sel >= (long)n->n)
			n->sel = n->n ? (long)n->n - 1 : 0;
		if (n->sel < 0)
			n->sel = 0;
		if (n->n && n->sel == (long)n->n - 1 && n->next_before[0] &&
		    !n->loading)
			notes_ask(a, TAG_MORE, n->next_before);
		return true;
	}
	return false;
}

static unsigned notes_key(struct pane *p, struct app *a, int key, bool code)
{
	struct notes_pane *n = (struct notes_pane *)p;
	enum action act = code || key < 128 ?
			  ui_key_lookup(key, FOCUS_ANY, true) : ACT_NONE;

	if (!code && (key == KEY_ESC || key == 'q'))
		return PANE_HANDLED | PANE_CLOSE;
	if (notes_move(a, n, key, code))
		return PANE_HANDLED;
	if ((!code && (key == '\r' || key == '\n')) ||
	    (code && key == KEY_ENTER))
		return notes_enter(a, n);
	if (!code && key == 'a') {
		rest_submit(&a->rest, RQ_NOTES, "POST",
			    NOTES_PATH "/read-all", NULL, TAG_ALL, &n->base);
		return PANE_HANDLED;
	}
	if (!code && key == 'r') {
		notes_pane_refresh(a);
		return PANE_HANDLED;
	}
	/* its own key closes it, quitting still quits */
	if (act == ACT_NOTES)
		return PANE_HANDLED | PANE_CLOSE;
	if (act == ACT_QUIT)
		actions_run(a, act);
	return PANE_HANDLED;
}

/* ---- painting ---- */

static void notes_paint_item(const struct note *it, bool sel, int y, int x,
			     int w)
{
	int attr = sel ? term_attr(UC_SELECTED) : (int)A_NORMAL;
	int mark = it->read ? 0 : (int)A_BOLD;
	int used, wide = (int)strlen(it->when);

	view_fill(y, x, w, attr);
	view_fill(y + 1, x, w, attr);
	/* the mark of an unread one: a character and bold, so that it
	 * shows without colours too */
	used = view_str(y, x, it->read ? "  " : "\xe2\x97\x8f ", 2,
			attr | mark);
	used += view_str_cut(y, x + used, it->title, w - used - wide - 1,
			     attr | mark);
	if (it->detail && w - used - wide - 4 > 0)
		used += view_str_cut(y, x + used, " \xc2\xb7 ", 3, attr) +
			view_str_cut(y, x + used + 3, it->detail,
				     w - used - wide - 4, attr);
	if (wide < w - used)
		view_str(y, x + w - wide, it->when, wide, attr);
	view_str_cut(y + 1, x + 2, it->body, w - 2,
		     sel ? attr : term_attr(UC_DIM));
}

static void notes_paint(struct pane *p, struct app *a, const struct geom *g,
			struct pane_cursor *cur)
{
	struct notes_pane *n = (struct notes_pane *)p;
	int h = a->rows - 2, w = a->cols - 4 > 90 ? 90 : a->cols - 4;
	int y0, x0, shown, i;
	char title[96];

	(void)g;
	cur->show = false;
	if (h < 5 || w < 20)
		return;
	snprintf(title, sizeof(title), " notifications (%ld unread) ",
		 n->unread > 0 ? n->unread : 0);
	view_box(a, h, w, &y0, &x0, title);
	/* rows inside the box, less the keys' row */
	shown = (h - 3) / NOTES_ROWS;
	if (shown < 1)
		shown = 1;
	n->rows = shown;
	if (n->sel < n->top)
		n->top = n->sel;
	if (n->sel >= n->top + shown)
		n->top = n->sel - shown + 1;
	if (n->n == 0)
		view_str(y0 + 1, x0 + 2, n->loading ? "loading" :
			 "no notifications", w - 4, term_attr(UC_DIM));
	for (i = 0; i < shown && (size_t)(n->top + i) < n->n; i++)
		notes_paint_item(&n->items[n->top + i], n->top + i == n->sel,
				 y0 + 1 + i * NOTES_ROWS, x0 + 2, w - 4);
	if (n->top > 0)
		view_str(y0, x0 + w - 4, "\xe2\x96\xb2", 1,
			 term_attr(UC_BORDER));
	if ((size_t)(n->top + shown) < n->n || n->next_before[0])
		view_str(y0 + h - 1, x0 + w - 4, "\xe2\x96\xbc", 1,
			 term_attr(UC_BORDER));
	view_str_cut(y0 + h - 2, x0 + 2, "Enter read (and open)  a all read  "
		     "r reload  Esc close", w - 4, term_attr(UC_DIM));
}

static const struct pane_ops notes_pane_ops = {
	.name = "notifications",
	.key = notes_key,
	.paint = notes_paint,
	.answer = notes_answer,
};
