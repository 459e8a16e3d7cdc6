/*
 * pane-usage.c - the usage screen (Ctrl-T, "usage" in the palette): the
 * user's tokens per day over the last 14 days as a bar chart and per
 * model (GET /v1/users/me/usage, analyticsd's figures); for an admin
 * also the platform's summary (today, 7 and 30 days), the top users
 * and models of the same days, and a live tail of the events
 * (GET /v1/admin/events, an SSE stream).
 *
 * The REST parts go through rest.c like every pane's calls.  The tail
 * is a stream that never ends, so it has a thread of its own (as the
 * WebSocket has): a blocking streamed call on its own API client, read
 * with shared/sse-parse.h, each event posted to the UI's queue as an
 * EV_REST event tagged "tail" to this pane.  The UI thread never waits
 * for it: closing the screen only asks the thread to stop, and its slot
 * is joined once the thread says it ended (or at exit).
 *
 * A non-admin's summary answers 403: the admin part is simply absent.
 * analyticsd down: the screen says why on a line of its own.
 */
#include "app.h"

#include <langinfo.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"
#include "width.h"
#include "banned.h"

#define KEY_ESC 27
#define USAGE_TOP_USERS 5
#define USAGE_TOP_MODELS_SHOWN 3
#define USAGE_MODEL_COLS 14		/* a model's name in its bar row */
#define USAGE_TAIL_MIN 5		/* events shown below the rest */
#define USAGE_EVENT_MAX (256u * 1024)	/* an event's data, bytes */

/* What each part asks: the path, the group_by, and whether the shown
 * days go with it (from, to). */
static const struct {
	const char *tag;
	const char *path;
	const char *group;		/* NULL: none */
	bool admin;			/* 403 for a non-admin */
	bool own;			/* the user's own figures */
} usage_parts[USAGE_NPARTS] = {
	[USAGE_ME] = { "me", "/v1/users/me", NULL, false, false },
	[USAGE_DAYS] = { "days", "/v1/users/me/usage", "day", false, true },
	[USAGE_MODELS] = { "models", "/v1/users/me/usage", "model", false,
			   true },
	[USAGE_SUMMARY] = { "summary", "/v1/admin/analytics/summary", NULL,
			    true, false },
	[USAGE_USERS] = { "users", "/v1/admin/analytics/usage", "user",
			  true, false },
	[USAGE_TOP_MODELS] = { "top-models", "/v1/admin/analytics/usage",
			       "model", true, false },
};

static const struct pane_ops usage_pane_ops;

/* ---- the event tail's thread ---- */

/* Posts an event of the tail to the pane (tag: "tail" with json,
 * "tail-open", "tail-retry" or "tail-end" with status and message). */
static void usage_tail_post(struct usage_tail *t, const char *tag,
			    long status, const char *message, cJSON *json)
{
	struct ui_event *ev = ui_event_new(EV_REST);

	if (!ev) {
		cJSON_Delete(json);
		return;
	}
	ev->req = RQ_USAGE;
	ev->seq = t->gen;
	ev->to = t->to;
	ev->status = status;
	ev->json = json;
	snprintf(ev->tag, sizeof(ev->tag), "%s", tag);
	snprintf(ev->message, sizeof(ev->message), "%s",
		 message ? message : "");
	evq_post(t->evq, ev);
}

/* An event of the stream: its CloudEvent goes to the UI (an event that
 * is not JSON is skipped: the tail is for reading, not for checking). */
static int usage_tail_event(void *arg, const struct sse_event *e)
{
	struct usage_tail *t = arg;
	cJSON *j = cJSON_ParseWithLength(e->data, e->data_len);

	if (j)
		usage_tail_post(t, "tail", 200, NULL, j);
	return atomic_load(&t->quit) ? 1 : 0;
}

static int usage_tail_data(void *arg, const char *data, size_t len)
{
	struct usage_tail *t = arg;

	if (atomic_load(&t->quit))
		return 1;
	if (!t->opened) {
		/* the first bytes (a keep-alive comes every second): the
		 * stream is there */
		t->opened = true;
		usage_tail_post(t, "tail-open", 200, NULL, NULL);
	}
	return sse_parse_feed(&t->parser, data, len);
}

static bool usage_tail_cancel(void *arg)
{
	struct usage_tail *t = arg;

	return atomic_load(&t->quit);
}

/* One connection of the tail until it ends; its HTTP status (0: none)
 * into *status and why it ended into err. */
static void usage_tail_once(struct usage_tail *t, long *status, char *err,
			    size_t errlen)
{
	struct client_req req = { .method = "GET", .path = "/v1/admin/events",
				  .sse = true, .on_data = usage_tail_data,
				  .arg = t };
	struct client_res res = { 0 };
	struct client cl;
	char token[4096];
	int rc;

	*status = 0;
	err[0] = '\0';
	rc = ui_auth_client_init(&cl, t->auth->server);
	if (rc < 0) {
		snprintf(err, errlen, "%s", chat_strerror(rc));
		return;
	}
	cl.timeout_ms = 0;		/* a tail lasts */
	cl.cancel = usage_tail_cancel;
	cl.cancel_arg = t;
	rc = ui_auth_token(t->auth, false, token, sizeof(token), err, errlen);
	if (rc == 0) {
		req.token = token;
		rc = client_call(&cl, &req, &res);
		memset(token, 0, sizeof(token));
		*status = res.status;
		snprintf(err, errlen, "%.200s", res.message[0] ? res.message :
			 rc < 0 ? chat_strerror(rc) : "the stream ended");
		client_res_release(&res);
	} else {
		*status = rc == CHAT_EAUTH ? 401 : 0;
		if (!err[0])
			snprintf(err, errlen, "%s", chat_strerror(rc));
	}
	client_release(&cl);
}

/* The tail's thread: connects again after a stream that ended (analyticsd
 * restarted, the network dropped), waiting as the WebSocket does (0.5 s
 * doubling to 15 s, from the start again once a stream opened); a 401 or
 * 403 ends it for good. */
static void *usage_tail_main(void *arg)
{
	struct usage_tail *t = arg;
	unsigned attempt = 0, seed = (unsigned)mono_ms();
	char err[256];
	long status;
	int64_t until;

	for (;;) {
		t->opened = false;
		sse_parse_init(&t->parser, USAGE_EVENT_MAX, usage_tail_event,
			       NULL, t);
		usage_tail_once(t, &status, err, sizeof(err));
		sse_parse_release(&t->parser);
		if (atomic_load(&t->quit))
			break;
		if (status == 401 || status == 403) {
			usage_tail_post(t, "tail-end", status, err, NULL);
			break;
		}
		usage_tail_post(t, "tail-retry", status, err, NULL);
		attempt = t->opened ? 0 : attempt + 1;
		until = mono_ms() + ui_ws_backoff_ms(attempt, (double)
			rand_r(&seed) / (double)RAND_MAX);
		while (!atomic_load(&t->quit) && mono_ms() < until)
			usleep(50 * 1000);
		if (atomic_load(&t->quit))
			break;
	}
	atomic_store(&t->done, true);
	return NULL;
}

/* Joins the slots whose thread ended (at once: they have). */
static void usage_tail_reap(struct usage_pane *u)
{
	size_t i;

	for (i = 0; i < USAGE_TAIL_SLOTS; i++) {
		if (u->tails[i].started && atomic_load(&u->tails[i].done)) {
			pthread_join(u->tails[i].thread, NULL);
			u->tails[i].started = false;
		}
	}
}

/* Asks the live tail to stop; its late events are ignored (gen). */
static void usage_tail_stop(struct usage_pane *u)
{
	if (u->tail_slot >= 0)
		atomic_store(&u->tails[u->tail_slot].quit, true);
	u->tail_slot = -1;
	u->gen++;
}

static void usage_tail_start(struct app *a)
{
	struct usage_pane *u = &a->usage;
	struct usage_tail *t = NULL;
	size_t i;

	if (u->tail_slot >= 0)
		return;
	usage_tail_reap(u);
	for (i = 0; i < USAGE_TAIL_SLOTS && !t; i++)
		if (!u->tails[i].started)
			t = &u->tails[i];
	if (!t) {
		snprintf(u->tail_state, sizeof(u->tail_state),
			 "the last tails are still closing (r retries)");
		return;
	}
	u->gen++;
	t->gen = u->gen;
	t->auth = &a->auth;
	t->evq = &a->evq;
	t->to = &u->base;
	t->opened = false;
	atomic_store(&t->quit, false);
	atomic_store(&t->done, false);
	if (pthread_create(&t->thread, NULL, usage_tail_main, t) != 0) {
		snprintf(u->tail_state, sizeof(u->tail_state),
			 "cannot start the event tail");
		return;
	}
	t->started = true;
	u->tail_slot = (int)(t - u->tails);
	snprintf(u->tail_state, sizeof(u->tail_state),
		 "connecting\xe2\x80\xa6");
}

static void usage_tail_add(struct usage_pane *u, const cJSON *ce)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ce, "type");
	const cJSON *tm = cJSON_GetObjectItemCaseSensitive(ce, "time");
	const cJSON *subj = cJSON_GetObjectItemCaseSensitive(ce, "subject");
	char line[512], hms[9] = "--:--:--";
	char *s;

	/* "2026-12-07T16:30:01.123Z": the time of day is enough here */
	if (cJSON_IsString(tm) && strlen(tm->valuestring) >= 19)
		snprintf(hms, sizeof(hms), "%s", tm->valuestring + 11);
	snprintf(line, sizeof(line), "%s %s %s", hms,
		 cJSON_IsString(type) ? type->valuestring : "?",
		 cJSON_IsString(subj) ? subj->valuestring : "");
	s = strdup(line);
	if (!s)
		return;
	free(u->tail[u->tail_next]);
	u->tail[u->tail_next] = s;
	u->tail_next = (u->tail_next + 1) % USAGE_TAIL_LINES;
	if (u->tail_count < USAGE_TAIL_LINES)
		u->tail_count++;
}

/* ---- setup ---- */

void usage_pane_init(struct usage_pane *u)
{
	const char *cs = nl_langinfo(CODESET);

	memset(u, 0, sizeof(*u));
	u->base.ops = &usage_pane_ops;
	u->tail_slot = -1;
	u->utf8 = cs && strcmp(cs, "UTF-8") == 0;
}

void usage_pane_release(struct usage_pane *u)
{
	size_t i;

	usage_tail_stop(u);
	for (i = 0; i < USAGE_TAIL_SLOTS; i++) {
		atomic_store(&u->tails[i].quit, true);
		if (u->tails[i].started)
			pthread_join(u->tails[i].thread, NULL);
		u->tails[i].started = false;
	}
	for (i = 0; i < USAGE_NPARTS; i++) {
		cJSON_Delete(u->part[i]);
		u->part[i] = NULL;
	}
	for (i = 0; i < USAGE_TAIL_LINES; i++) {
		free(u->tail[i]);
		u->tail[i] = NULL;
	}
}

/* Asks for every part (the admin's too: a non-admin's 403 is quiet). */
static void usage_ask(struct app *a)
{
	struct usage_pane *u = &a->usage;
	time_t now = time(NULL), from;
	struct tm tm;
	char path[256];
	size_t i;

	from = now - (USAGE_DAYS_SHOWN - 1) * 86400;
	if (!gmtime_r(&now, &tm) ||
	    strftime(u->to, sizeof(u->to), "%Y-%m-%d", &tm) == 0 ||
	    !gmtime_r(&from, &tm) ||
	    strftime(u->from, sizeof(u->from), "%Y-%m-%d", &tm) == 0) {
		snprintf(u->error, sizeof(u->error), "cannot tell the date");
		return;
	}
	u->from_t = (int64_t)from - (int64_t)from % 86400;
	for (i = 0; i < USAGE_NPARTS; i++) {
		if (usage_parts[i].group)
			snprintf(path, sizeof(path), "%s?group_by=%s&from=%s"
				 "&to=%s", usage_parts[i].path,
				 usage_parts[i].group, u->from, u->to);
		else
			snprintf(path, sizeof(path), "%s",
				 usage_parts[i].path);
		if (rest_submit(&a->rest, RQ_USAGE, "GET", path, NULL,
				usage_parts[i].tag, &u->base))
			u->asked[i] = true;
	}
}

void usage_pane_show(struct app *a)
{
	struct usage_pane *u = &a->usage;
	size_t i;

	/* a fresh opening shows nothing of an earlier one (maybe another
	 * login's) while it loads; r keeps the figures until new ones come */
	for (i = 0; i < USAGE_NPARTS; i++) {
		cJSON_Delete(u->part[i]);
		u->part[i] = NULL;
	}
	u->admin = u->role_admin = false;
	u->top = 0;
	u->error[0] = u->admin_error[0] = '\0';
	for (i = 0; i < USAGE_TAIL_LINES; i++) {
		free(u->tail[i]);
		u->tail[i] = NULL;
	}
	u->tail_next = u->tail_count = 0;
	usage_ask(a);
	app_overlay(a, &a->usage.base);
}

void usage_pane_close(struct app *a)
{
	usage_tail_stop(&a->usage);
	if (a->overlay == &a->usage.base)
		app_overlay(a, NULL);
}

/* ---- answers ---- */

static void usage_tail_answer(struct usage_pane *u, struct ui_event *ev)
{
	if (ev->seq != u->gen || u->tail_slot < 0)
		return;			/* a tail closed since */
	if (strcmp(ev->tag, "tail") == 0) {
		usage_tail_add(u, ev->json);
	} else if (strcmp(ev->tag, "tail-open") == 0) {
		snprintf(u->tail_state, sizeof(u->tail_state), "live");
	} else if (strcmp(ev->tag, "tail-retry") == 0) {
		snprintf(u->tail_state, sizeof(u->tail_state),
			 "reconnecting (%.96s)", ev->message);
	} else {
		snprintf(u->tail_state, sizeof(u->tail_state),
			 "ended: %.96s (r reconnects)", ev->message);
		u->tail_slot = -1;
	}
}

/* An own part answered (ev NULL) or failed: the screen says why on a
 * line of its own, and the status line too (so that it is seen where
 * every error is); an answer clears both. */
static void usage_own_answer(struct app *a, struct usage_pane *u,
			     const struct ui_event *ev)
{
	char was[sizeof(u->error) + 32];

	snprintf(was, sizeof(was), "usage unavailable: %s", u->error);
	if (!ev) {
		if (u->error[0])
			app_clear_status(a, was);
		u->error[0] = '\0';
		return;
	}
	snprintf(u->error, sizeof(u->error), "%.160s%s%.60s%s",
		 ev->message[0] ? ev->message : "no answer",
		 ev->code[0] ? " (" : "", ev->code, ev->code[0] ? ")" : "");
	app_set_status(a, true, "usage unavailable: %s", u->error);
}

static void usage_answer(struct pane *p, struct app *a, struct ui_event *ev)
{
	struct usage_pane *u = (struct usage_pane *)p;
	bool ok = ev->status >= 200 && ev->status < 300;
	size_t i;

	if (strncmp(ev->tag, "tail", 4) == 0) {
		usage_tail_answer(u, ev);
		return;
	}
	for (i = 0; i < USAGE_NPARTS; i++)
		if (strcmp(ev->tag, usage_parts[i].tag) == 0)
			break;
	if (i == USAGE_NPARTS)
		return;
	u->asked[i] = false;
	if (ok) {
		cJSON_Delete(u->part[i]);
		u->part[i] = ev->json;
		ev->json = NULL;
	}
	if (i == USAGE_ME) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(
			u->part[i], "role");

		u->role_admin = cJSON_IsString(role) &&
				strcmp(role->valuestring, "admin") == 0;
		return;
	}
	if (usage_parts[i].own) {
		usage_own_answer(a, u, ok ? NULL : ev);
		return;
	}
	if (i != USAGE_SUMMARY)
		return;
	if (ok) {
		u->admin = true;
		u->admin_error[0] = '\0';
		/* the tail runs while the screen shows */
		if (a->overlay == &u->base)
			usage_tail_start(a);
	} else if (ev->status == 403) {
		u->admin = false;
	} else {
		snprintf(u->admin_error, sizeof(u->admin_error), "%s",
			 ev->message[0] ? ev->message : "no answer");
	}
}

/* ---- keys ---- */

/* Up/Down, PgUp/PgDn, Home/End scroll a screen taller than the
 * terminal (the paint clamps); true when key was one. */
static bool usage_scroll(struct usage_pane *u, int key)
{
	static const struct {
		int key, step;
	} scroll[] = {
		{ KEY_UP, -1 }, { KEY_DOWN, 1 }, { KEY_PPAGE, -10 },
		{ KEY_NPAGE, 10 }, { KEY_HOME, -100000 }, { KEY_END, 100000 },
	};
	size_t k;

	for (k = 0; k < sizeof(scroll) / sizeof(scroll[0]); k++) {
		if (scroll[k].key != key)
			continue;
		u->top += scroll[k].step;
		if (u->top > u->rows - u->shown_rows)
			u->top = u->rows - u->shown_rows;
		if (u->top < 0)
			u->top = 0;
		return true;
	}
	return false;
}

static unsigned usage_key(struct pane *p, struct app *a, int key, bool code)
{
	struct usage_pane *u = (struct usage_pane *)p;
	enum action act = code || key < 128 ?
			  ui_key_lookup(key, FOCUS_ANY, true) : ACT_NONE;

	if (!code && (key == KEY_ESC || key == 'q')) {
		usage_tail_stop(u);
		return PANE_HANDLED | PANE_CLOSE;
	}
	if (code && usage_scroll(u, key))
		return PANE_HANDLED;
	if (!code && key == 'r') {
		usage_ask(a);
		if (u->admin)
			usage_tail_start(a);
		return PANE_HANDLED;
	}
	/* its own key closes it, quitting still quits */
	if (act == ACT_USAGE) {
		usage_tail_stop(u);
		return PANE_HANDLED | PANE_CLOSE;
	}
	if (act == ACT_QUIT)
		actions_run(a, act);
	return PANE_HANDLED;
}

/* ---- painting ---- */

static long long usage_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static const cJSON *usage_data(const struct usage_pane *u,
			       enum usage_part part)
{
	return cJSON_GetObjectItemCaseSensitive(u->part[part], "data");
}

/* A column of the screen, columns x..x+w: y is the next row, counted
 * as if nothing were scrolled away; only rows y_min..y_end are drawn (the
 * screen may be scrolled by u->top), so y ends at the content's
 * height. */
struct usage_col {
	int y, y_min, y_end, x, w;
};

/* True when row y of c is on the screen. */
static bool usage_shown(const struct usage_col *c, int y)
{
	return y >= c->y_min && y < c->y_end;
}

static void usage_line(struct usage_col *c, const char *s, int attr)
{
	if (usage_shown(c, c->y))
		view_str_cut(c->y, c->x, s, c->w, attr);
	c->y++;
}

static int usage_cmp_tokens(const void *x, const void *y)
{
	long long a = usage_num(*(const cJSON *const *)x, "total_tokens");
	long long b = usage_num(*(const cJSON *const *)y, "total_tokens");

	return a < b ? 1 : a > b ? -1 : 0;
}

/* The max items of part's data with a string key that have the most
 * tokens, most first, into rows (every item is looked at: a platform has
 * more users than are shown); how many. */
static size_t usage_sorted(const struct usage_pane *u, enum usage_part part,
			   const char *key, const cJSON **rows, size_t max)
{
	const cJSON *it;
	size_t n = 0, k;

	cJSON_ArrayForEach(it, usage_data(u, part)) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, key)))
			continue;
		/* rows stays sorted: it goes in after those with as many
		 * tokens or more, the last one falling off when full */
		for (k = n; k > 0 && usage_cmp_tokens(&rows[k - 1], &it) > 0;
		     k--)
			if (k < max)
				rows[k] = rows[k - 1];
		if (k < max) {
			rows[k] = it;
			if (n < max)
				n++;
		}
	}
	return n;
}

/* A bar row: label in lw columns, the bar of value out of max, then
 * text after it; on row c->y when shown. */
static void usage_bar_row(struct usage_pane *u, struct usage_col *c,
			  const char *label, int lw, long long value,
			  long long max, const char *text)
{
	char bar[512];
	int room, used;

	if (!usage_shown(c, c->y++))
		return;
	room = c->w - lw - 1 - 1 - width_cols(text, strlen(text));
	usage_bar(value, max, room > 1 ? room : 1, u->utf8, bar, sizeof(bar));
	view_str_cut(c->y - 1, c->x, label, lw, term_attr(UC_DIM));
	used = view_str(c->y - 1, c->x + lw + 1, bar, room, term_attr(UC_OK));
	if (value > 0)
		view_str(c->y - 1, c->x + lw + 1 + used + 1, text,
			 c->w - lw - 2 - used, A_NORMAL);
}

/* The user's own part: the bars of the days, then the models'. */
static void usage_paint_own(struct usage_pane *u, struct usage_col *c)
{
	long long tok[USAGE_DAYS_SHOWN] = { 0 }, max = 0;
	const cJSON *it, *models[64];
	char line[512], day[11], label[6];
	size_t n, k;
	int i;

	snprintf(line, sizeof(line), "Your tokens per day, %s to %s",
		 u->from, u->to);
	usage_line(c, line, term_attr(UC_CURRENT) | A_BOLD);
	if (u->error[0]) {
		snprintf(line, sizeof(line), "usage unavailable: %s",
			 u->error);
		usage_line(c, line, term_attr(UC_ERROR));
		return;
	}
	if (!u->part[USAGE_DAYS]) {
		usage_line(c, "loading\xe2\x80\xa6", term_attr(UC_DIM));
		return;
	}
	for (i = 0; i < USAGE_DAYS_SHOWN; i++) {
		time_t t = (time_t)(u->from_t + (int64_t)i * 86400);
		struct tm tm;

		if (!gmtime_r(&t, &tm) ||
		    strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
			continue;
		cJSON_ArrayForEach(it, usage_data(u, USAGE_DAYS)) {
			const cJSON *d;

			d = cJSON_GetObjectItemCaseSensitive(it, "day");
			if (cJSON_IsString(d) && strcmp(d->valuestring,
							day) == 0)
				tok[i] += usage_num(it, "total_tokens");
		}
		if (tok[i] > max)
			max = tok[i];
	}
	if (max == 0) {
		usage_line(c, "no usage yet", term_attr(UC_DIM));
	} else {
		/* "MM-DD " bar " tokens": the count takes its own width */
		for (i = 0; i < USAGE_DAYS_SHOWN; i++) {
			time_t t = (time_t)(u->from_t + (int64_t)i * 86400);
			struct tm tm;

			if (!gmtime_r(&t, &tm) ||
			    strftime(label, sizeof(label), "%m-%d", &tm) == 0)
				snprintf(label, sizeof(label), "?");
			snprintf(line, sizeof(line), "%lld", tok[i]);
			usage_bar_row(u, c, label, 5, tok[i], max, line);
		}
	}
	c->y++;
	usage_line(c, "Your tokens per model, the same days",
		   term_attr(UC_CURRENT) | A_BOLD);
	/* (conversations and messages without a model have no name) */
	n = usage_sorted(u, USAGE_MODELS, "model", models,
			 sizeof(models) / sizeof(models[0]));
	max = n ? usage_num(models[0], "total_tokens") : 0;
	for (k = 0; k < n; k++) {
		snprintf(line, sizeof(line), "%lld (%lld req)",
			 usage_num(models[k], "total_tokens"),
			 usage_num(models[k], "requests"));
		usage_bar_row(u, c, cJSON_GetObjectItemCaseSensitive(
				      models[k], "model")->valuestring,
			      USAGE_MODEL_COLS, usage_num(models[k],
							  "total_tokens"),
			      max, line);
	}
}

/* A summary row: label and one figure of each window. */
static void usage_summary_row(struct usage_col *c, const cJSON *sum,
			      const char *label, const char *key,
			      const char *key2, bool rate)
{
	static const char *const windows[] = {
		"today", "last_7_days", "last_30_days",
	};
	char line[256], cell[32];
	size_t n, k;

	n = (size_t)snprintf(line, sizeof(line), "%-14s", label);
	for (k = 0; k < 3 && n < sizeof(line); k++) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(sum,
								  windows[k]);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, key);

		if (!cJSON_IsNumber(v))
			snprintf(cell, sizeof(cell), "-");
		else if (rate)
			snprintf(cell, sizeof(cell), "%.1f%%",
				 v->valuedouble * 100.0);
		else if (key2)
			snprintf(cell, sizeof(cell), "%lld",
				 (long long)v->valuedouble +
				 usage_num(w, key2));
		else
			snprintf(cell, sizeof(cell), "%.0f", v->valuedouble);
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %9s",
				      cell);
	}
	usage_line(c, line, A_NORMAL);
}

/* The groups of part with the most tokens, at most max of them. */
static void usage_paint_top(struct usage_pane *u, struct usage_col *c,
			    enum usage_part part, const char *key,
			    const char *title, size_t max)
{
	const cJSON *rows[16];
	char line[512];
	size_t n, i;

	usage_line(c, title, term_attr(UC_CURRENT) | A_BOLD);
	n = usage_sorted(u, part, key, rows, max < 16 ? max : 16);
	if (n == 0)
		usage_line(c, "none yet", term_attr(UC_DIM));
	for (i = 0; i < n && i < max; i++) {
		snprintf(line, sizeof(line), "%10lld %5lld  %s",
			 usage_num(rows[i], "total_tokens"),
			 usage_num(rows[i], "requests"),
			 cJSON_GetObjectItemCaseSensitive(rows[i],
							  key)->valuestring);
		usage_line(c, line, A_NORMAL);
	}
}

/* The admin's figures: the summary, the top users and models. */
static void usage_paint_admin(struct usage_pane *u, struct usage_col *c)
{
	const cJSON *sum = u->part[USAGE_SUMMARY];
	char line[512];

	if (u->admin_error[0] && u->role_admin) {
		snprintf(line, sizeof(line), "platform figures unavailable: "
			 "%s", u->admin_error);
		usage_line(c, line, term_attr(UC_ERROR));
		return;
	}
	if (!u->admin)
		return;
	snprintf(line, sizeof(line), "%-14s %9s %9s %9s", "Summary", "today",
		 "7 days", "30 days");
	usage_line(c, line, term_attr(UC_CURRENT) | A_BOLD);
	usage_summary_row(c, sum, "active users", "active_users", NULL,
			  false);
	usage_summary_row(c, sum, "requests", "requests", NULL, false);
	usage_summary_row(c, sum, "tokens", "prompt_tokens",
			  "completion_tokens", false);
	usage_summary_row(c, sum, "error rate", "error_rate", NULL, true);
	usage_summary_row(c, sum, "TTFT p50 ms", "ttft_ms_p50", NULL, false);
	c->y++;
	usage_paint_top(u, c, USAGE_USERS, "user", "Top users (tokens, "
			"requests)", USAGE_TOP_USERS);
	c->y++;
	usage_paint_top(u, c, USAGE_TOP_MODELS, "model", "Top models",
			USAGE_TOP_MODELS_SHOWN);
}

/* The admin's live tail, its newest events at the bottom of c (at
 * least USAGE_TAIL_MIN of them, scrolled to when the screen is short). */
static void usage_paint_tail(struct usage_pane *u, struct usage_col *c)
{
	char line[256];
	size_t k, shown;

	snprintf(line, sizeof(line), "Events: %s", u->tail_state);
	usage_line(c, line, term_attr(UC_CURRENT) | A_BOLD);
	shown = c->y_end > c->y ? (size_t)(c->y_end - c->y) : 0;
	if (shown < USAGE_TAIL_MIN)
		shown = USAGE_TAIL_MIN;
	if (shown > u->tail_count)
		shown = u->tail_count;
	for (k = 0; k < shown; k++) {
		size_t idx = (u->tail_next + USAGE_TAIL_LINES - shown + k) %
			     USAGE_TAIL_LINES;

		usage_line(c, u->tail[idx], A_NORMAL);
	}
}

static void usage_paint(struct pane *p, struct app *a, const struct geom *g,
			struct pane_cursor *cur)
{
	struct usage_pane *u = (struct usage_pane *)p;
	int h = a->rows - 2, w = a->cols - 2, y0, x0, inner;
	size_t i;
	struct usage_col left, right;

	(void)g;
	cur->show = false;
	if (h < 4 || w < 20)
		return;
	for (i = 0; i < USAGE_NPARTS && !u->asked[i]; i++)
		;
	view_box(a, h, w, &y0, &x0, i < USAGE_NPARTS ?
		 " usage (loading\xe2\x80\xa6) " :
		 " usage (r reloads, Esc closes) ");
	inner = w - 4;
	/* within what the last paint had (the terminal may have grown) */
	u->shown_rows = h - 2;
	if (u->top > u->rows - u->shown_rows)
		u->top = u->rows - u->shown_rows;
	if (u->top < 0)
		u->top = 0;
	/* the rows scrolled away are painted above the box's top */
	left = (struct usage_col){ y0 + 1 - u->top, y0 + 1, y0 + h - 1,
				   x0 + 2, inner };
	/* side by side when both fit, else the admin's part below */
	if (u->admin || (u->admin_error[0] && u->role_admin)) {
		if (inner >= 88) {
			left.w = inner / 2 - 1;
			right = (struct usage_col){ left.y, left.y_min,
						    left.y_end,
						    x0 + 2 + inner / 2 + 1,
						    inner - inner / 2 - 1 };
		} else {
			right = left;
		}
	}
	usage_paint_own(u, &left);
	if (u->admin || (u->admin_error[0] && u->role_admin)) {
		if (right.x == left.x)
			right.y = left.y + 1;
		usage_paint_admin(u, &right);
		if (right.y > left.y)
			left.y = right.y;
	}
	if (u->admin) {
		/* the tail under both, as wide as the box: an event's line
		 * is long (a type and a subject with an id) */
		left.y++;
		left.x = x0 + 2;
		left.w = inner;
		usage_paint_tail(u, &left);
	}
	/* for the scrolling keys and the next paint's clamp */
	u->rows = left.y - (y0 + 1 - u->top);
	if (u->top > 0)
		view_str(y0, x0 + w - 4, "\xe2\x96\xb2", 1,
			 term_attr(UC_BORDER));
	if (u->top < u->rows - u->shown_rows)
		view_str(y0 + h - 1, x0 + w - 4, "\xe2\x96\xbc", 1,
			 term_attr(UC_BORDER));
}

static const struct pane_ops usage_pane_ops = {
	.name = "usage",
	.key = usage_key,
	.paint = usage_paint,
	.answer = usage_answer,
};
