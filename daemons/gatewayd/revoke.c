/*
 * revoke.c - what the gateway knows of revocations, and the connections
 * it must cut when one comes.
 *
 * sessiond decides (or, for users and API keys, records what userd
 * decided) and pushes: the gateway holds GET /internal/revocations/feed
 * open (see daemons/sessiond/feed.c) and learns within a second of
 *   - a revoked session: its access tokens are refused from then on
 *     (until they would have expired anyway: keep_ms), and every proxied
 *     answer and WebSocket opened with one of them is cut;
 *   - a revoked API key: refused even while cached, its connections cut;
 *   - a changed user (disabled, demoted, deleted): cached API keys are
 *     forgotten (userd decides again) and the user's API-key connections
 *     cut.  Its access tokens go with its sessions, which sessiond
 *     revoked in the same transaction.
 * Each connection knows its credential (struct gw_live); a WebSocket is
 * also cut when its access token expires, unless the client sent a
 * fresh one in-band (ws-proxy.c).
 *
 * Losing the feed: while it is not open, or silent for RV_SILENT_MS (it
 * beats every second), the view is stale and auth_admit refuses
 * sensitive requests (503) instead of serving them on old knowledge; the
 * cron reconnects every tick, asking for everything since the last
 * event it saw, so nothing revoked meanwhile is missed.
 *
 * Threads: the feed's callbacks and the cron run on the loop thread
 * (events arriving on the curl thread, for a sessiond http-loop.c cannot
 * reach, are handed over to it), so cuts always run there.  Lookups come
 * from any thread: the sets and the watch list are under r->lock.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "sse-parse.h"
#include "util.h"
#include "banned.h"

#define RV_BUCKETS 1024
#define RV_SILENT_MS 3000		/* feed beats every 1 s */
#define RV_CONNECT_MS 1000
#define RV_MAX_EVENT (4 << 20)		/* 10000 ids and then some */
#define RV_KEEP_DEFAULT_MS (905 * 1000)	/* until the hello says */
#define RV_KEY_KEEP_MS 60000		/* > the key cache's 30 s */
#define RV_PURGE_MS 10000

struct rv_entry {
	struct rv_entry *next;
	int64_t until_ms;		/* wall clock */
	char id[GW_ID_MAX];
};

struct rv_set {
	struct rv_entry *buckets[RV_BUCKETS];
	size_t n;
};

struct gw_revoke {
	struct gatewayd *gw;
	pthread_mutex_t lock;		/* the sets and the watch list */
	struct rv_set sessions;
	struct rv_set keys;
	struct gw_live *watching;
	int64_t keep_ms;
	/* the feed (loop thread, but for its data on the curl thread) */
	atomic_bool connecting;		/* a call is running */
	atomic_bool open;		/* it said hello */
	atomic_llong heard_ms;		/* monotonic: last bytes */
	atomic_llong cursor;		/* since= for the next call */
	int status;
	bool lost_logged;
	struct sse_parser parser;
	int64_t purged_ms;
};

static const struct {
	const char *code;
	const char *message;
} cut_names[GW_CUT_NREASONS] = {
	[GW_CUT_NONE] = { "ok", "" },
	[GW_CUT_SESSION] = { "session_revoked",
			     "the session of this connection has ended" },
	[GW_CUT_USER] = { "credential_revoked",
			  "the account of this connection has changed" },
	[GW_CUT_KEY] = { "credential_revoked",
			 "the API key of this connection was revoked" },
	[GW_CUT_EXPIRED] = { "token_expired",
			     "the credential of this connection expired" },
};

const char *revoke_cut_code(enum gw_cut why)
{
	return why < GW_CUT_NREASONS ? cut_names[why].code : "revoked";
}

const char *revoke_cut_message(enum gw_cut why)
{
	return why < GW_CUT_NREASONS ? cut_names[why].message : "revoked";
}

/* ---- the sets ------------------------------------------------------- */

static size_t rv_bucket(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 1099511628211ULL;
	return (size_t)(h % RV_BUCKETS);
}

static struct rv_entry *rv_find(struct rv_set *s, const char *id)
{
	struct rv_entry *e;

	for (e = s->buckets[rv_bucket(id)]; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* Under the lock.  Out of memory is reported: the caller cannot keep
 * the promise of refusing id, so the view must count as stale. */
static int rv_add(struct rv_set *s, const char *id, int64_t until_ms)
{
	struct rv_entry *e = rv_find(s, id);
	size_t b;

	if (e) {
		if (e->until_ms < until_ms)
			e->until_ms = until_ms;
		return 0;
	}
	if (strlen(id) >= sizeof(e->id))
		return 0;		/* no id of ours is that long */
	e = calloc(1, sizeof(*e));
	if (!e)
		return CHAT_ENOMEM;
	b = rv_bucket(id);
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->until_ms = until_ms;
	e->next = s->buckets[b];
	s->buckets[b] = e;
	s->n++;
	return 0;
}

/* Under the lock: forgets entries whose tokens are expired by now (all
 * of them when now is INT64_MAX). */
static void rv_purge(struct rv_set *s, int64_t now)
{
	struct rv_entry **pp, *e;
	size_t b;

	for (b = 0; b < RV_BUCKETS; b++) {
		pp = &s->buckets[b];
		while ((e = *pp)) {
			if (e->until_ms <= now) {
				*pp = e->next;
				free(e);
				s->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static bool rv_has(struct gw_revoke *r, struct rv_set *s, const char *id)
{
	struct rv_entry *e;
	bool found;

	if (!id || !*id)
		return false;
	pthread_mutex_lock(&r->lock);
	e = rv_find(s, id);
	found = e && e->until_ms > now_ms();
	pthread_mutex_unlock(&r->lock);
	return found;
}

bool revoke_session_revoked(struct gatewayd *gw, const char *session_id)
{
	return rv_has(gw->revoke, &gw->revoke->sessions, session_id);
}

bool revoke_key_revoked(struct gatewayd *gw, const char *key_id)
{
	return rv_has(gw->revoke, &gw->revoke->keys, key_id);
}

/* ---- the watch list --------------------------------------------------- */

/* Under the lock: the first reason wins, the connection hears once. */
static void rv_cut(struct gw_live *l, enum gw_cut why)
{
	int none = GW_CUT_NONE;

	if (atomic_compare_exchange_strong(&l->why, &none, (int)why))
		l->cut(l, why);
}

/* Under the lock: what a watched identity has to fear now. */
static enum gw_cut rv_verdict(struct gw_revoke *r, const struct gw_live *l,
			      int64_t now)
{
	struct rv_entry *e;

	if (l->id.session_id[0] &&
	    (e = rv_find(&r->sessions, l->id.session_id)) &&
	    e->until_ms > now)
		return GW_CUT_SESSION;
	if (l->id.key_id[0] && (e = rv_find(&r->keys, l->id.key_id)) &&
	    e->until_ms > now)
		return GW_CUT_KEY;
	if (l->on_expiry && l->id.expires_ms && l->id.expires_ms <= now)
		return GW_CUT_EXPIRED;
	return GW_CUT_NONE;
}

void revoke_watch(struct gatewayd *gw, struct gw_live *l)
{
	struct gw_revoke *r = gw->revoke;
	enum gw_cut why;

	pthread_mutex_lock(&r->lock);
	l->prev = NULL;
	l->next = r->watching;
	if (r->watching)
		r->watching->prev = l;
	r->watching = l;
	why = rv_verdict(r, l, now_ms());
	if (why != GW_CUT_NONE)
		rv_cut(l, why);
	pthread_mutex_unlock(&r->lock);
}

void revoke_unwatch(struct gatewayd *gw, struct gw_live *l)
{
	struct gw_revoke *r = gw->revoke;

	/* WebSockets still open at shutdown close when the server is freed,
	 * after the gateway's release freed the list: nothing to leave */
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	if (l->prev)
		l->prev->next = l->next;
	else if (r->watching == l)
		r->watching = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	pthread_mutex_unlock(&r->lock);
}

void revoke_update(struct gatewayd *gw, struct gw_live *l,
		   const struct gw_identity *id)
{
	struct gw_revoke *r = gw->revoke;

	if (!r)
		return;			/* shutting down, as above */
	pthread_mutex_lock(&r->lock);
	l->id = *id;
	pthread_mutex_unlock(&r->lock);
}

/* Under the lock: cuts every watched connection the test picks. */
static size_t rv_cut_where(struct gw_revoke *r, const char *id,
			   bool (*match)(const struct gw_live *l,
					 const char *id),
			   enum gw_cut why)
{
	struct gw_live *l;
	size_t n = 0;

	for (l = r->watching; l; l = l->next)
		if (match(l, id)) {
			rv_cut(l, why);
			n++;
		}
	return n;
}

static bool match_session(const struct gw_live *l, const char *id)
{
	return strcmp(l->id.session_id, id) == 0;
}

static bool match_key(const struct gw_live *l, const char *id)
{
	return l->id.key_id[0] && strcmp(l->id.key_id, id) == 0;
}

static bool match_user_key(const struct gw_live *l, const char *id)
{
	return l->id.key_id[0] && strcmp(l->id.user_id, id) == 0;
}

/* ---- feed events -------------------------------------------------------- */

/* One array of ids: each added to set (when set) and its connections
 * cut.  Returns what rv_add reported. */
static int rv_apply_ids(struct gw_revoke *r, const cJSON *arr,
			struct rv_set *set, int64_t until,
			bool (*match)(const struct gw_live *l, const char *id),
			enum gw_cut why, size_t *count)
{
	const cJSON *it;
	int rc = 0;

	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			continue;
		if (set && rv_add(set, it->valuestring, until) != 0)
			rc = CHAT_ENOMEM;
		rv_cut_where(r, it->valuestring, match, why);
		(*count)++;
	}
	return rc;
}

/* Loop thread: a "revoked" event's data. */
static int rv_apply(struct gw_revoke *r, const char *data, size_t len)
{
	cJSON *o = NULL;
	const cJSON *now;
	char err[128];
	size_t nses = 0, nusers = 0, nkeys = 0;
	int64_t wall = now_ms();
	int rc;

	rc = json_parse_object(data, len, &o, err, sizeof(err));
	if (rc < 0) {
		log_warn("bad revocation event: %s", err);
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	rc = rv_apply_ids(r, cJSON_GetObjectItemCaseSensitive(o, "sessions"),
			  &r->sessions, wall + r->keep_ms, match_session,
			  GW_CUT_SESSION, &nses);
	if (rv_apply_ids(r, cJSON_GetObjectItemCaseSensitive(o, "keys"),
			 &r->keys, wall + RV_KEY_KEEP_MS, match_key,
			 GW_CUT_KEY, &nkeys) != 0)
		rc = CHAT_ENOMEM;
	rv_apply_ids(r, cJSON_GetObjectItemCaseSensitive(o, "users"), NULL, 0,
		     match_user_key, GW_CUT_USER, &nusers);
	pthread_mutex_unlock(&r->lock);
	/* a user's role or state, or a key, changed: userd decides again */
	if (nusers || nkeys)
		auth_flush_keys(r->gw);
	now = cJSON_GetObjectItemCaseSensitive(o, "now");
	if (cJSON_IsNumber(now) && (long long)now->valuedouble >
				   atomic_load(&r->cursor))
		atomic_store(&r->cursor, (long long)now->valuedouble);
	log_debug("revoked: %zu sessions, %zu users, %zu API keys", nses,
		  nusers, nkeys);
	cJSON_Delete(o);
	return rc;
}

/* The hello: how long a revoked session matters. */
static void rv_hello(struct gw_revoke *r, const char *data, size_t len)
{
	cJSON *o = NULL;
	const cJSON *keep;
	char err[128];

	if (json_parse_object(data, len, &o, err, sizeof(err)) == 0) {
		keep = cJSON_GetObjectItemCaseSensitive(o, "keep_ms");
		if (cJSON_IsNumber(keep) && keep->valuedouble >= 1000 &&
		    keep->valuedouble <= 86400e3 * 2) {
			pthread_mutex_lock(&r->lock);
			r->keep_ms = (int64_t)keep->valuedouble;
			pthread_mutex_unlock(&r->lock);
		}
	}
	cJSON_Delete(o);
	if (r->lost_logged)
		log_info("revocation feed from '%s' is back",
			 r->gw->sessiond->name);
	r->lost_logged = false;
	atomic_store(&r->open, true);
}

/* An event that came on the curl thread, for the loop thread. */
struct rv_handover {
	struct gw_revoke *r;
	size_t len;
	char data[];
};

static void rv_apply_deferred(void *arg)
{
	struct rv_handover *h = arg;

	rv_apply(h->r, h->data, h->len);
	free(h);
}

static int rv_on_event(void *arg, const struct sse_event *ev)
{
	struct gw_revoke *r = arg;
	struct rv_handover *h;

	if (strcmp(ev->event, "hello") == 0) {
		rv_hello(r, ev->data, ev->data_len);
		return 0;
	}
	if (strcmp(ev->event, "revoked") != 0)
		return 0;
	if (pthread_equal(pthread_self(), r->gw->loop_thread))
		return rv_apply(r, ev->data, ev->data_len) == CHAT_ENOMEM;
	h = malloc(sizeof(*h) + ev->data_len + 1);
	if (!h)
		return 1;		/* the view is incomplete: reconnect */
	h->r = r;
	h->len = ev->data_len;
	memcpy(h->data, ev->data, ev->data_len + 1);
	if (http_server_defer(r->gw->d.server, rv_apply_deferred, h) != 0) {
		free(h);
		return 1;
	}
	return 0;
}

void revoke_session_now(struct gatewayd *gw, const char *session_id)
{
	struct gw_revoke *r = gw->revoke;

	if (!session_id || !*session_id)
		return;
	pthread_mutex_lock(&r->lock);
	/* out of memory: the feed brings it again in a moment */
	(void)rv_add(&r->sessions, session_id, now_ms() + r->keep_ms);
	rv_cut_where(r, session_id, match_session, GW_CUT_SESSION);
	pthread_mutex_unlock(&r->lock);
}

/* ---- the feed call ----------------------------------------------------- */

static int rv_on_head(void *arg, int status, const char *const *h, size_t n)
{
	struct gw_revoke *r = arg;

	(void)h;
	(void)n;
	r->status = status;
	atomic_store(&r->heard_ms, mono_ms());
	return status != 200;
}

static int rv_on_data(void *arg, const char *data, size_t len)
{
	struct gw_revoke *r = arg;

	atomic_store(&r->heard_ms, mono_ms());
	return sse_parse_feed(&r->parser, data, len) != 0;
}

static void rv_on_done(void *arg, int rc)
{
	struct gw_revoke *r = arg;

	atomic_store(&r->open, false);
	sse_parse_release(&r->parser);
	if (!r->lost_logged)
		log_warn("revocation feed from '%s' lost (%s, status %d): "
			 "sensitive requests wait for it",
			 r->gw->sessiond->name,
			 rc ? chat_strerror(rc) : "ended", r->status);
	r->lost_logged = true;
	atomic_store(&r->connecting, false);
}

static void rv_connect(struct gatewayd *gw)
{
	static const struct http_client_cb cb = {
		.on_head = rv_on_head,
		.on_data = rv_on_data,
		.on_done = rv_on_done,
	};
	struct gw_revoke *r = gw->revoke;
	char url[GW_URL_MAX + 64], secret[128];
	const char *headers[] = { secret,
				  HTTP_H_REQUEST_ID ": revocation-feed", NULL };
	struct http_request req = {
		.method = "GET",
		.url = url,
		.headers = headers,
		.connect_timeout_ms = RV_CONNECT_MS,
		.idle_timeout_ms = RV_SILENT_MS,
		.max_response = (size_t)1 << 40,
	};

	snprintf(url, sizeof(url), "%s/internal/revocations/feed?since=%lld",
		 gw->sessiond->url, (long long)atomic_load(&r->cursor));
	snprintf(secret, sizeof(secret), HTTP_H_INTERNAL ": %s",
		 gw->d.internal_secret);
	r->status = 0;
	sse_parse_init(&r->parser, RV_MAX_EVENT, rv_on_event, NULL, r);
	atomic_store(&r->connecting, true);
	/* on_done may run within */
	if (http_out_start(gw->d.out, &req, &cb, r) != 0) {
		sse_parse_release(&r->parser);
		atomic_store(&r->connecting, false);
	}
}

/* ---- public ------------------------------------------------------------- */

bool revoke_live(struct gatewayd *gw)
{
	struct gw_revoke *r = gw->revoke;

	return atomic_load(&r->open) &&
	       mono_ms() - atomic_load(&r->heard_ms) <= RV_SILENT_MS;
}

void revoke_cron(struct gatewayd *gw)
{
	struct gw_revoke *r = gw->revoke;
	struct gw_live *l;
	int64_t now = now_ms();
	enum gw_cut why;

	if (!atomic_load(&r->connecting))
		rv_connect(gw);
	pthread_mutex_lock(&r->lock);
	for (l = r->watching; l; l = l->next)
		if (l->on_expiry && (why = rv_verdict(r, l, now)) != GW_CUT_NONE)
			rv_cut(l, why);
	if (now - r->purged_ms >= RV_PURGE_MS) {
		rv_purge(&r->sessions, now);
		rv_purge(&r->keys, now);
		r->purged_ms = now;
	}
	pthread_mutex_unlock(&r->lock);
}

int revoke_new(struct gatewayd *gw, struct gw_revoke **out)
{
	struct gw_revoke *r = calloc(1, sizeof(*r));

	if (!r)
		return CHAT_ENOMEM;
	r->gw = gw;
	pthread_mutex_init(&r->lock, NULL);
	r->keep_ms = RV_KEEP_DEFAULT_MS;
	atomic_init(&r->connecting, false);
	atomic_init(&r->open, false);
	atomic_init(&r->heard_ms, 0);
	atomic_init(&r->cursor, 0);	/* everything that still matters */
	*out = r;
	return 0;
}

void revoke_free(struct gw_revoke *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	rv_purge(&r->sessions, INT64_MAX);
	rv_purge(&r->keys, INT64_MAX);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
