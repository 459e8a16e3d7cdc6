/*
 * hub.c - chatd's event hub: event ids, a per-user log of recent events,
 * and the fan-out to the user's WebSockets and to the SSE streams that
 * follow one conversation's generation.
 *
 * Ids come from one 64-bit counter started at now_ms() * 1000, so they
 * increase strictly within a process and across restarts.  Everything
 * sits under one mutex: giving an event its id, keeping it, and handing
 * it to every subscriber happen in one step, and a subscription replays
 * the log and joins the live stream in one step too, so a resuming
 * client gets exactly the events after its id, no gap and no duplicate.
 * The work under the lock is bounded and never blocks: the sends only
 * queue bytes (http_res_write and http_ws_send copy and return).
 *
 * A user's log keeps the last HUB_LOG_MAX events of at most HUB_LOG_MS.
 * `floor` is the id below which the log is incomplete (the newest event
 * dropped, or the counter when the user's entry was made): a resume from
 * an id under it gets a "reset" event first, the client's cue to reload.
 * A WebSocket that asks for it gets a "ready" event once subscribed: its
 * fresh id is the socket's place in the log, to resume from even when no
 * event came before a drop.
 */
#include "live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "sse.h"
#include "util.h"
#include "banned.h"

#define HUB_BUCKETS 1024
#define HUB_USER_ID_MAX 64
/* A frame or SSE event is the data plus this much framing at most. */
#define HUB_FRAME_EXTRA 256
#define HUB_RESET_DATA "{\"reason\":\"gap\"}"
#define HUB_READY_DATA "{}"

struct hub_event {
	struct hub_event *next;		/* newer */
	uint64_t id;
	int64_t at_ms;			/* mono_ms when published */
	const char *type;		/* EV_* (static) */
	char conv_id[UUID_STR_LEN];	/* "" when none */
	size_t data_len;
	char data[];			/* JSON text, NUL-terminated */
};

enum hub_sub_kind { SUB_SSE, SUB_WS };

struct hub_sub {
	struct hub_sub *prev, *next;	/* the user's subscribers */
	struct hub_user *u;
	enum hub_sub_kind kind;
	/* SSE */
	struct http_res *res;		/* the hub's until it ends it */
	char conv_id[UUID_STR_LEN];	/* the conversation followed */
	uint32_t conv_key;		/* hub_fnv(conv_id): compared first */
	int64_t last_write_ms;		/* mono: for keep-alives */
	/* WebSocket */
	struct http_ws *ws;		/* borrowed */
	uint64_t seen_from;		/* every event after it went out */
};

/* A conversation with a generation running. */
struct hub_active {
	struct hub_active *next;
	char conv_id[UUID_STR_LEN];
};

struct hub_user {
	struct hub_user *next;		/* bucket chain */
	char user_id[HUB_USER_ID_MAX + 1];
	struct hub_event *head, *tail;	/* the log, oldest first */
	size_t nevents;
	uint64_t floor;
	struct hub_sub *subs;
	struct hub_active *active;
};

struct hub {
	pthread_mutex_t lock;
	uint64_t next_id;		/* under lock */
	struct hub_user *buckets[HUB_BUCKETS];
};

/* One event's text for both transports, built on first use. */
struct hub_out {
	const struct hub_event *ev;
	uint32_t conv_key;		/* hub_fnv(ev->conv_id) */
	char idstr[24];
	struct buf sse;
	struct buf ws;
	bool sse_done, ws_done;
};

/* ---- helpers ------------------------------------------------------------ */

static uint32_t hub_fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static size_t hub_hash(const char *s)
{
	return hub_fnv(s) % HUB_BUCKETS;
}

static bool hub_is_gen_event(const char *type)
{
	return strcmp(type, EV_MESSAGE) == 0 || strcmp(type, EV_DELTA) == 0 ||
	       strcmp(type, EV_DONE) == 0 || strcmp(type, EV_ERROR) == 0;
}

static bool hub_is_terminal(const char *type)
{
	return strcmp(type, EV_DONE) == 0 || strcmp(type, EV_ERROR) == 0;
}

/* Returns the user's entry, made when missing and create is set. */
static struct hub_user *hub_user_get(struct hub *h, const char *user_id,
				     bool create)
{
	size_t b = hub_hash(user_id);
	struct hub_user *u;

	for (u = h->buckets[b]; u; u = u->next)
		if (strcmp(u->user_id, user_id) == 0)
			return u;
	if (!create)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	snprintf(u->user_id, sizeof(u->user_id), "%s", user_id);
	/* nothing of this user before now is known */
	u->floor = h->next_id - 1;
	u->next = h->buckets[b];
	h->buckets[b] = u;
	return u;
}

static bool hub_active_has(const struct hub_user *u, const char *conv_id)
{
	const struct hub_active *a;

	for (a = u->active; a; a = a->next)
		if (strcmp(a->conv_id, conv_id) == 0)
			return true;
	return false;
}

static void hub_active_set(struct hub_user *u, const char *conv_id,
			   bool on)
{
	struct hub_active **pp, *a;

	for (pp = &u->active; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->conv_id, conv_id) == 0)
			break;
	if (on && !*pp) {
		a = calloc(1, sizeof(*a));
		if (!a) {
			log_error("no memory to mark '%s' generating",
				  conv_id);
			return;
		}
		snprintf(a->conv_id, sizeof(a->conv_id), "%s", conv_id);
		*pp = a;
	} else if (!on && *pp) {
		a = *pp;
		*pp = a->next;
		free(a);
	}
}

/* Drops events past the count or age ceiling; the floor follows. */
static void hub_log_trim(struct hub_user *u, int64_t now)
{
	struct hub_event *ev;

	while (u->head && (u->nevents > HUB_LOG_MAX ||
			   now - u->head->at_ms > HUB_LOG_MS)) {
		ev = u->head;
		u->head = ev->next;
		if (!u->head)
			u->tail = NULL;
		u->nevents--;
		u->floor = ev->id;
		free(ev);
	}
}

static void hub_out_init(struct hub_out *o, const struct hub_event *ev)
{
	memset(o, 0, sizeof(*o));
	o->ev = ev;
	o->conv_key = hub_fnv(ev->conv_id);
	snprintf(o->idstr, sizeof(o->idstr), "%" PRIu64, ev->id);
	buf_init(&o->sse, ev->data_len * 2 + HUB_FRAME_EXTRA);
	buf_init(&o->ws, ev->data_len + HUB_FRAME_EXTRA);
}

static void hub_out_release(struct hub_out *o)
{
	buf_release(&o->sse);
	buf_release(&o->ws);
}

static const struct buf *hub_out_sse(struct hub_out *o)
{
	if (!o->sse_done) {
		o->sse_done = true;
		if (sse_format(&o->sse, o->idstr, o->ev->type, o->ev->data,
			       o->ev->data_len) < 0)
			buf_reset(&o->sse);
	}
	return &o->sse;
}

static const struct buf *hub_out_ws(struct hub_out *o)
{
	const struct hub_event *ev = o->ev;
	int rc;

	if (!o->ws_done) {
		o->ws_done = true;
		if (ev->conv_id[0])
			rc = buf_printf(&o->ws, "{\"type\":\"%s\","
					"\"id\":\"%s\",\"conversation_id\":"
					"\"%s\",\"data\":", ev->type,
					o->idstr, ev->conv_id);
		else
			rc = buf_printf(&o->ws, "{\"type\":\"%s\","
					"\"id\":\"%s\",\"conversation_id\":"
					"null,\"data\":", ev->type, o->idstr);
		if (rc == 0)
			rc = buf_append(&o->ws, ev->data, ev->data_len);
		if (rc == 0)
			rc = buf_append(&o->ws, "}", 1);
		if (rc < 0)
			buf_reset(&o->ws);
	}
	return &o->ws;
}

static struct hub_event *hub_event_new(const char *conv_id, const char *type,
				       const char *data)
{
	size_t len = strlen(data);
	struct hub_event *ev = malloc(sizeof(*ev) + len + 1);

	if (!ev)
		return NULL;
	ev->next = NULL;
	ev->id = 0;
	ev->at_ms = mono_ms();
	ev->type = type;
	snprintf(ev->conv_id, sizeof(ev->conv_id), "%s",
		 conv_id ? conv_id : "");
	ev->data_len = len;
	memcpy(ev->data, data, len + 1);
	return ev;
}

/* ---- subscribers (under h->lock) ----------------------------------------- */

static void hub_sub_link(struct hub_user *u, struct hub_sub *s)
{
	s->u = u;
	s->prev = NULL;
	s->next = u->subs;
	if (u->subs)
		u->subs->prev = s;
	u->subs = s;
}

static void hub_sub_unlink(struct hub_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (s->u)
		s->u->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->u = NULL;
}

/* Ends an SSE subscriber's answer and frees it (unlinked first). */
static void hub_sse_end(struct hub_sub *s)
{
	hub_sub_unlink(s);
	http_res_end(s->res);
	free(s);
}

/* Writes bytes to an SSE subscriber: false when its client has gone or
 * cannot keep up (the caller then ends it). */
static bool hub_sse_write(struct hub_sub *s, const struct buf *b)
{
	if (b->len == 0)
		return false;
	s->last_write_ms = mono_ms();
	return http_res_write(s->res, b->data, b->len) == 0;
}

/* An SSE subscriber takes this event: false when it is finished
 * (terminal event written, or write failure). */
static bool hub_sse_take(struct hub_sub *s, struct hub_out *o)
{
	const struct hub_event *ev = o->ev;

	/* a user's streams all see each of the user's events: the key
	 * first (UUIDv7 ids of one moment share their first characters,
	 * which makes strcmp slow to say no) */
	if (o->conv_key != s->conv_key || !hub_is_gen_event(ev->type) ||
	    strcmp(ev->conv_id, s->conv_id) != 0)
		return true;
	if (!hub_sse_write(s, hub_out_sse(o)))
		return false;
	return !hub_is_terminal(ev->type);
}

static void hub_ws_take(struct hub_sub *s, struct hub_out *o)
{
	const struct buf *b = hub_out_ws(o);

	if (b->len == 0)
		return;
	/* a failure closes the connection; ws.c unsubscribes on close */
	(void)http_ws_send(s->ws, b->data, b->len, false);
}

/* A reset or ready event: a fresh id, not kept (a client resuming from
 * it is fine: every event after it is newer). */
static struct hub_event *hub_marker_event(struct hub *h, const char *type,
					  const char *data)
{
	struct hub_event *ev = hub_event_new(NULL, type, data);

	if (ev)
		ev->id = h->next_id++;
	return ev;
}

/* Under h->lock: sends a WS subscriber a marker event (the caller frees
 * the return value once unlocked; NULL when out of memory). */
static struct hub_event *hub_ws_marker(struct hub *h, struct hub_sub *s,
				       const char *type, const char *data)
{
	struct hub_event *ev = hub_marker_event(h, type, data);
	struct hub_out o;

	if (ev) {
		hub_out_init(&o, ev);
		hub_ws_take(s, &o);
		hub_out_release(&o);
	}
	return ev;
}

/* True when `after` cannot be resumed from this user's log. */
static bool hub_is_gap(const struct hub *h, const struct hub_user *u,
		       uint64_t after)
{
	return after < u->floor || after >= h->next_id;
}

/* Under h->lock: sends a WS subscriber the events of u after `after`
 * that it has not had live (up to s->seen_from), which it then counts
 * as seen from `after`; or a reset when `after` cannot be resumed from.
 * Returns that reset, for the caller to free once unlocked. */
static struct hub_event *hub_ws_replay(struct hub *h, struct hub_sub *s,
				       struct hub_user *u, uint64_t after)
{
	struct hub_event *ev;
	struct hub_out o;

	if (hub_is_gap(h, u, after))
		return hub_ws_marker(h, s, EV_RESET, HUB_RESET_DATA);
	for (ev = u->head; ev && ev->id <= s->seen_from; ev = ev->next) {
		if (ev->id <= after)
			continue;
		hub_out_init(&o, ev);
		hub_ws_take(s, &o);
		hub_out_release(&o);
	}
	s->seen_from = after;
	return NULL;
}

/* ---- public ----------------------------------------------------------- */

int hub_new(struct hub **out)
{
	struct hub *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return CHAT_ENOMEM;
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		free(h);
		return CHAT_ENOMEM;
	}
	h->next_id = (uint64_t)now_ms() * 1000;
	*out = h;
	return 0;
}

void hub_free(struct hub *h)
{
	struct hub_user *u, *unext;
	struct hub_event *ev, *enext;
	struct hub_active *a, *anext;
	struct hub_sub *s, *snext;
	size_t b;

	if (!h)
		return;
	for (b = 0; b < HUB_BUCKETS; b++) {
		for (u = h->buckets[b]; u; u = unext) {
			unext = u->next;
			for (s = u->subs; s; s = snext) {
				snext = s->next;
				if (s->kind == SUB_SSE) {
					hub_sse_end(s);
				} else {
					/* its connection closes after us and
					 * knows the hub is gone */
					hub_sub_unlink(s);
					free(s);
				}
			}
			for (ev = u->head; ev; ev = enext) {
				enext = ev->next;
				free(ev);
			}
			for (a = u->active; a; a = anext) {
				anext = a->next;
				free(a);
			}
			free(u);
		}
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int hub_id_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!s)
		return CHAT_EINVAL;
	for (; s[n]; n++) {
		unsigned d = (unsigned char)s[n] - '0';

		if (d > 9 || n >= 20 || v > (UINT64_MAX - d) / 10)
			return CHAT_EINVAL;
		v = v * 10 + d;
	}
	if (n == 0)
		return CHAT_EINVAL;
	*out = v;
	return 0;
}

uint64_t hub_next_id(struct hub *h)
{
	uint64_t id;

	pthread_mutex_lock(&h->lock);
	id = h->next_id++;
	pthread_mutex_unlock(&h->lock);
	return id;
}

int hub_publish(struct hub *h, const char *user_id, const char *conv_id,
		const char *type, const char *data, uint64_t *id)
{
	struct hub_event *ev;
	struct hub_sub *s, *next;
	struct hub_user *u;
	struct hub_out o;

	if (strlen(user_id) > HUB_USER_ID_MAX)
		return CHAT_EINVAL;
	ev = hub_event_new(conv_id, type, data);
	if (!ev)
		return CHAT_ENOMEM;
	pthread_mutex_lock(&h->lock);
	u = hub_user_get(h, user_id, true);
	if (!u) {
		pthread_mutex_unlock(&h->lock);
		free(ev);
		return CHAT_ENOMEM;
	}
	ev->id = h->next_id++;
	if (id)
		*id = ev->id;
	if (u->tail)
		u->tail->next = ev;
	else
		u->head = ev;
	u->tail = ev;
	u->nevents++;
	if (conv_id && strcmp(type, EV_MESSAGE) == 0)
		hub_active_set(u, conv_id, true);
	else if (conv_id && hub_is_terminal(type))
		hub_active_set(u, conv_id, false);

	hub_out_init(&o, ev);
	for (s = u->subs; s; s = next) {
		next = s->next;
		if (s->kind == SUB_WS)
			hub_ws_take(s, &o);
		else if (!hub_sse_take(s, &o))
			hub_sse_end(s);
	}
	hub_out_release(&o);
	/* after the sends: ev may go at once when the log is full */
	hub_log_trim(u, ev->at_ms);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int hub_publish_connected(struct hub *h, hub_user_fn want, void *arg,
			  const char *type, const char *data)
{
	char (*ids)[HUB_USER_ID_MAX + 1] = NULL, (*more)[HUB_USER_ID_MAX + 1];
	size_t n = 0, cap = 0, i;
	struct hub_user *u;
	struct hub_sub *s;
	int rc = 0;

	/* the users first, then one hub_publish each: it takes the lock */
	pthread_mutex_lock(&h->lock);
	for (i = 0; rc == 0 && i < HUB_BUCKETS; i++) {
		for (u = h->buckets[i]; rc == 0 && u; u = u->next) {
			for (s = u->subs; s && s->kind != SUB_WS; s = s->next)
				;
			if (!s || !want(u->user_id, arg))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				more = realloc(ids, cap * sizeof(*ids));
				if (!more) {
					rc = CHAT_ENOMEM;
					break;
				}
				ids = more;
			}
			memcpy(ids[n++], u->user_id, sizeof(ids[0]));
		}
	}
	pthread_mutex_unlock(&h->lock);
	for (i = 0; rc == 0 && i < n; i++)
		rc = hub_publish(h, ids[i], NULL, type, data, NULL);
	free(ids);
	return rc;
}

int hub_sse_subscribe(struct hub *h, const char *user_id,
		      const char *conv_id, bool has_after, uint64_t after,
		      struct http_res *res)
{
	struct hub_event *ev, *reset = NULL;
	struct hub_sub *s;
	struct hub_user *u;
	struct hub_out o;
	bool more = true;

	if (strlen(user_id) > HUB_USER_ID_MAX)
		return CHAT_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CHAT_ENOMEM;
	s->kind = SUB_SSE;
	s->res = res;
	snprintf(s->conv_id, sizeof(s->conv_id), "%s", conv_id);
	s->conv_key = hub_fnv(s->conv_id);
	s->last_write_ms = mono_ms();

	pthread_mutex_lock(&h->lock);
	u = hub_user_get(h, user_id, true);
	if (!u) {
		pthread_mutex_unlock(&h->lock);
		free(s);
		return CHAT_ENOMEM;
	}
	hub_sub_link(u, s);
	if (has_after && hub_is_gap(h, u, after)) {
		reset = hub_marker_event(h, EV_RESET, HUB_RESET_DATA);
		if (reset) {
			hub_out_init(&o, reset);
			more = hub_sse_write(s, hub_out_sse(&o));
			hub_out_release(&o);
		}
	} else if (has_after) {
		for (ev = u->head; ev && more; ev = ev->next) {
			if (ev->id <= after)
				continue;
			hub_out_init(&o, ev);
			more = hub_sse_take(s, &o);
			hub_out_release(&o);
		}
	}
	/* nothing more will come when no generation runs */
	if (more && !hub_active_has(u, conv_id))
		more = false;
	if (!more)
		hub_sse_end(s);
	pthread_mutex_unlock(&h->lock);
	free(reset);
	return 0;
}

int hub_ws_subscribe(struct hub *h, const char *user_id, bool has_after,
		     uint64_t after, bool ready, struct http_ws *ws,
		     struct hub_sub **out)
{
	struct hub_event *reset = NULL, *mark = NULL;
	struct hub_sub *s;
	struct hub_user *u;

	*out = NULL;
	if (strlen(user_id) > HUB_USER_ID_MAX)
		return CHAT_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CHAT_ENOMEM;
	s->kind = SUB_WS;
	s->ws = ws;
	pthread_mutex_lock(&h->lock);
	u = hub_user_get(h, user_id, true);
	if (!u) {
		pthread_mutex_unlock(&h->lock);
		free(s);
		return CHAT_ENOMEM;
	}
	hub_sub_link(u, s);
	/* every event so far has an id up to this one */
	s->seen_from = h->next_id - 1;
	if (has_after)
		reset = hub_ws_replay(h, s, u, after);
	/* where the socket stands in the log, taken under the lock that
	 * hands out events: a client that saw no event yet can still resume
	 * from it, and every event after it comes on this socket */
	if (ready)
		mark = hub_ws_marker(h, s, EV_READY, HUB_READY_DATA);
	pthread_mutex_unlock(&h->lock);
	free(reset);
	free(mark);
	if (ready && !mark) {
		hub_ws_unsubscribe(h, s);
		return CHAT_ENOMEM;
	}
	*out = s;
	return 0;
}

void hub_ws_resume(struct hub *h, struct hub_sub *s, uint64_t after)
{
	struct hub_event *reset = NULL;

	pthread_mutex_lock(&h->lock);
	/* from seen_from on, everything went out already */
	if (s->u && after < s->seen_from)
		reset = hub_ws_replay(h, s, s->u, after);
	pthread_mutex_unlock(&h->lock);
	free(reset);
}

void hub_ws_unsubscribe(struct hub *h, struct hub_sub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&h->lock);
	hub_sub_unlink(s);
	pthread_mutex_unlock(&h->lock);
	free(s);
}

size_t hub_clients(struct hub *h, const char *user_id)
{
	const struct hub_user *u;
	const struct hub_sub *s;
	size_t n = 0;

	pthread_mutex_lock(&h->lock);
	u = hub_user_get(h, user_id, false);
	for (s = u ? u->subs : NULL; s; s = s->next)
		/* an SSE stream whose client left stays linked until its
		 * next write fails: it counts no more */
		if (s->kind == SUB_WS || !http_res_closed(s->res))
			n++;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void hub_cron(struct hub *h)
{
	static const char keepalive[] = ": keep-alive\n\n";
	struct hub_user **pp, *u;
	struct hub_sub *s, *next;
	int64_t now = mono_ms();
	size_t b;

	pthread_mutex_lock(&h->lock);
	for (b = 0; b < HUB_BUCKETS; b++) {
		pp = &h->buckets[b];
		while (*pp) {
			u = *pp;
			hub_log_trim(u, now);
			for (s = u->subs; s; s = next) {
				next = s->next;
				if (s->kind != SUB_SSE ||
				    now - s->last_write_ms < HUB_KEEPALIVE_MS)
					continue;
				s->last_write_ms = now;
				if (http_res_write(s->res, keepalive,
						   sizeof(keepalive) - 1) != 0)
					hub_sse_end(s);
			}
			if (!u->head && !u->subs && !u->active) {
				*pp = u->next;
				free(u);
				continue;
			}
			pp = &u->next;
		}
	}
	pthread_mutex_unlock(&h->lock);
}
