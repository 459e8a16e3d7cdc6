/*
 * gatewayd.h - the one public port: routes requests by path prefix to the
 * upstream daemons, checks bearer tokens (access tokens locally against
 * userd's JWKS, API keys through userd) before proxying, and streams the
 * answers back unbuffered.
 *
 * Threads: the proxy handler runs on the HTTP loop thread and never
 * blocks; proxied calls and the gateway's own calls (key checks, JWKS,
 * readiness) go through the daemon's outbound door (gw->d.out,
 * shared/http-out.h), which runs calls to the stack's daemons on that
 * same thread and the rest (URLs http-loop.c cannot reach) on its curl
 * thread (libcurl is loaded then, not before), whose callbacks answer through the (thread-safe) http_res_*
 * functions.  The route table is written only during init.  The key set (jwks.c) and the
 * identity caches (cache.c) have their own locks; metrics are atomics.
 */
#ifndef GATEWAYD_H
#define GATEWAYD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "http-client.h"
#include "http-out.h"
#include "http-server.h"

#define GW_MAX_UPSTREAMS 16
#define GW_MAX_ROUTES 64
#define GW_NAME_MAX 32			/* upstream name incl. NUL */
#define GW_PREFIX_MAX 128		/* route prefix incl. NUL */
#define GW_URL_MAX 256
#define GW_ID_MAX 64			/* user and session id incl. NUL */
#define GW_CACHE_SLOTS 1024
#define GW_MAX_ORIGINS 16		/* web.origins entries */
#define GW_ORIGIN_MAX 256		/* one origin incl. NUL */

/* What an API key may do (access tokens may do all). */
enum {
	GW_SCOPE_CHAT = 1 << 0,		/* write: send, create, delete, ws */
	GW_SCOPE_READ = 1 << 1,		/* GET and HEAD */
	GW_SCOPE_ADMIN = 1 << 2,	/* /v1/admin */
	GW_SCOPE_ALL = GW_SCOPE_CHAT | GW_SCOPE_READ | GW_SCOPE_ADMIN,
};

/* Who is calling, as the upstream will be told in X-Chat-* headers. */
struct gw_identity {
	char user_id[GW_ID_MAX];
	char role[16];
	char session_id[GW_ID_MAX];	/* "" for none (API keys) */
	char key_id[GW_ID_MAX];		/* the API key's id; "" for tokens */
	int64_t expires_ms;		/* the credential's end; 0: none */
	unsigned scopes;		/* GW_SCOPE_* */
};

/* ---- metrics.c ---- */

enum gw_auth_result {
	GW_AUTH_OK = 0,
	GW_AUTH_INVALID_TOKEN,		/* 401 invalid_token */
	GW_AUTH_EXPIRED,		/* 401 token_expired */
	GW_AUTH_INVALID_KEY,		/* 401 invalid_token (an API key) */
	GW_AUTH_UNAVAILABLE,		/* 503 auth_unavailable */
	GW_AUTH_REVOKED,		/* 401 session_revoked */
	GW_AUTH_STALE,			/* 503 auth_unavailable: no feed */
	GW_AUTH_SCOPE,			/* 403 insufficient_scope */
	GW_AUTH_NRESULTS
};

struct gw_metrics {
	atomic_ulong requests[6];	/* by status class: [2] = 2xx; [0] other */
	atomic_ulong auth_failures[GW_AUTH_NRESULTS];
	atomic_long in_flight;		/* proxied requests not yet ended */
};

/* Counts a finished proxied request. */
void metrics_count_request(struct gw_metrics *m, int status);
/* GET /metrics: Prometheus text. */
void metrics_handle(struct http_req *req, struct http_res *res);

/* ---- routes-config.c ---- */

struct gw_upstream {
	char name[GW_NAME_MAX];		/* "userd" */
	char url[GW_URL_MAX];		/* "http://127.0.0.1:8081" */
	atomic_ulong errors;		/* calls that failed at the upstream */
};

struct gw_route {
	char prefix[GW_PREFIX_MAX];	/* "/v1/auth"; "/" matches all */
	size_t len;
	struct gw_upstream *up;
};

struct gatewayd;

/* The default route map, then the [routes] section over it; resolves
 * every upstream's URL.  err names a bad entry. */
int routes_load(struct gatewayd *gw, char *err, size_t errlen);
/* The route with the longest prefix matching path (whole segments), or
 * NULL. */
const struct gw_route *routes_find(const struct gatewayd *gw,
				   const char *path);
/* The upstream of that name, or NULL. */
struct gw_upstream *routes_upstream(struct gatewayd *gw, const char *name);

/* ---- cache.c: identities by SHA-256 of a credential ---- */

struct gw_cache_entry {
	char key[65];			/* hex SHA-256; "" when free */
	struct gw_identity id;
	int64_t expires_ms;		/* wall clock */
};

/* Direct-mapped: a colliding put replaces the older entry, so the cache
 * never holds more than GW_CACHE_SLOTS entries. */
struct gw_cache {
	pthread_mutex_t lock;
	uint64_t generation;		/* bumped by every flush */
	struct gw_cache_entry slots[GW_CACHE_SLOTS];
};

void cache_init(struct gw_cache *c);
void cache_release(struct gw_cache *c);
/* True and *out filled when key is cached and not expired at now. */
bool cache_get(struct gw_cache *c, const char *key, int64_t now,
	       struct gw_identity *out);
/* Stores id under key unless the cache was flushed since generation
 * (cache_generation before the lookup that produced id). */
void cache_put(struct gw_cache *c, const char *key,
	       const struct gw_identity *id, int64_t expires_ms,
	       uint64_t generation);
uint64_t cache_generation(struct gw_cache *c);
void cache_flush(struct gw_cache *c);

/* ---- jwks.c: userd's public keys ---- */

struct gw_jwks;

/* Makes the (empty) key set; nothing is fetched before the loop runs. */
int jwks_new(struct gatewayd *gw, struct gw_jwks **out);
void jwks_free(struct gw_jwks *j);
/* Housekeeping (and /readyz): fetches while no key set is loaded and no
 * fetch is running. */
void jwks_cron(struct gatewayd *gw);
bool jwks_loaded(struct gatewayd *gw);

/* done(arg, rc, claims): rc as jwt_verify's (claims valid when 0), or
 * CHAT_EUPSTREAM when no key set could be loaded. */
struct jwt_claims;
typedef void (*jwks_verify_fn)(void *arg, int rc,
			       const struct jwt_claims *claims);
/* Verifies an access token and calls done exactly once: at once, or -
 * when its kid is unknown and a refetch is allowed (at most one per 5 s)
 * - from the curl thread after the refetch. */
void jwks_verify(struct gatewayd *gw, const char *token, jwks_verify_fn done,
		 void *arg);

/* ---- auth.c: the Authorization header ---- */

/* id is NULL for an anonymous caller; valid during the call only. */
typedef void (*auth_done_fn)(void *arg, enum gw_auth_result r,
			     const struct gw_identity *id);

/* Checks an Authorization header value (NULL: anonymous) and calls done
 * exactly once, either before returning (loop thread) or later from the
 * curl thread.  request_id goes to userd with API-key checks. */
void auth_check(struct gatewayd *gw, const char *authorization,
		const char *request_id, auth_done_fn done, void *arg);
/* Forgets every cached API key (a key was revoked or a user changed). */
void auth_flush_keys(struct gatewayd *gw);
/* Answers a failed check with its error envelope (final); returns the
 * status sent. */
int auth_respond(struct http_res *res, enum gw_auth_result r);
/* How a failed check is answered: returns the status, sets the error
 * code and message (static strings). */
int auth_error(enum gw_auth_result r, const char **code,
	       const char **message);
/* A label for r ("invalid_api_key"), for metrics. */
const char *auth_result_reason(enum gw_auth_result r);

/* ---- revoke.c: the revocation feed, and the connections it cuts ---- */

/* Why a live connection is cut (revoke_cut_code names it). */
enum gw_cut {
	GW_CUT_NONE = 0,
	GW_CUT_SESSION,			/* its session was revoked */
	GW_CUT_USER,			/* its user changed (API keys) */
	GW_CUT_KEY,			/* its API key was revoked */
	GW_CUT_EXPIRED,			/* its credential's time is up */
	GW_CUT_NREASONS
};

/* A proxied answer or a WebSocket that lives on after its credential
 * was checked, watched so that a revocation ends it.  Owned by its
 * connection; in the watch list from revoke_watch to revoke_unwatch. */
struct gw_live {
	struct gw_live *prev, *next;	/* the watch list's, under its lock */
	struct gw_identity id;		/* revoke_update changes it */
	bool on_expiry;			/* cut when id.expires_ms passes */
	atomic_int why;			/* enum gw_cut: set once */
	/* Called once, under the watch list's lock, on any thread: must
	 * only flag and wake its connection (never call into revoke.c). */
	void (*cut)(struct gw_live *l, enum gw_cut why);
};

struct gw_revoke;

int revoke_new(struct gatewayd *gw, struct gw_revoke **out);
/* After the loop stopped. */
void revoke_free(struct gw_revoke *r);
/* Loop thread, from the cron: (re)opens the feed, cuts what expired,
 * forgets revocations that no longer matter. */
void revoke_cron(struct gatewayd *gw);
/* True while the feed is open and heard from within the last 3 s: the
 * gateway knows of every revocation older than a second. */
bool revoke_live(struct gatewayd *gw);
/* Any thread: is this session (or API key) revoked? */
bool revoke_session_revoked(struct gatewayd *gw, const char *session_id);
bool revoke_key_revoked(struct gatewayd *gw, const char *key_id);
/* Any thread.  A watched connection already revoked is cut at once
 * (within the call). */
void revoke_watch(struct gatewayd *gw, struct gw_live *l);
void revoke_unwatch(struct gatewayd *gw, struct gw_live *l);
/* A watched connection re-authenticated in-band: its new identity. */
void revoke_update(struct gatewayd *gw, struct gw_live *l,
		   const struct gw_identity *id);
/* Loop thread: this gateway just proxied the end of a session (a
 * logout, a deleted session): refuse it now, before the feed says so. */
void revoke_session_now(struct gatewayd *gw, const char *session_id);
/* "session_revoked", "token_expired", ... */
const char *revoke_cut_code(enum gw_cut why);
const char *revoke_cut_message(enum gw_cut why);

/* The scope a request needs (GW_SCOPE_*). */
unsigned scope_needed(const char *method, const char *path);
/* True when a request must not run on a stale view of revocations:
 * writes, /v1/admin and WebSockets. */
bool route_sensitive(const char *method, const char *path);
/* The verdict on a known identity for a request: GW_AUTH_OK, or why it
 * is refused (a revoked session, a stale view, a missing scope). */
enum gw_auth_result auth_admit(struct gatewayd *gw,
			       const struct gw_identity *id,
			       const char *method, const char *path);

/* ---- proxy.c ---- */

/* The catch-all route: everything not served by the gateway itself. */
void proxy_handler(struct http_req *req, struct http_res *res);

/* ---- ws-proxy.c ---- */

/* GET /v1/ws (an HTTP_ROUTE_WEBSOCKET route): authenticates the caller,
 * opens the same path at the upstream and relays frames both ways. */
void ws_proxy_handler(struct http_req *req, struct http_res *res);

/* ---- origin.c: cross-site requests against the browser session ---- */

/* Reads web.origins into gw->origins; err names a bad entry. */
int origin_load(struct gatewayd *gw, char *err, size_t errlen);
/* True when origin (an Origin header's value) is the gateway's own (the
 * request's Host) or listed in web.origins. */
bool origin_allowed(struct gatewayd *gw, struct http_req *req,
		    const char *origin);
/* Loop thread, before anything is proxied: 0 when req may go on;
 * CHAT_EPERM (answer 403 "origin_refused" with *message) when it carries
 * a disallowed Origin to /v1/auth, or the refresh cookie there without an
 * allowed Origin. */
int origin_check(struct gatewayd *gw, struct http_req *req,
		 const char **message);

/* ---- ready.c ---- */

/* GET /readyz: 200 when every upstream's /readyz answers 200 and the
 * key set is loaded, else 503 "not_ready" naming what is not. */
void ready_handle(struct http_req *req, struct http_res *res);

struct web;

/* ---- the daemon ---- */

struct gatewayd {
	struct daemon d;		/* first: req->app points here */
	pthread_t loop_thread;		/* the thread that runs the server */
	struct gw_upstream ups[GW_MAX_UPSTREAMS];
	size_t nups;
	struct gw_route routes[GW_MAX_ROUTES];	/* longest prefix first */
	size_t nroutes;
	struct gw_upstream *userd;	/* keys and API-key checks */
	struct gw_jwks *jwks;		/* owned */
	struct gw_cache keys;		/* API keys, 30 s */
	struct gw_cache tokens;		/* verified access tokens, until exp */
	struct gw_revoke *revoke;	/* owned */
	struct gw_upstream *sessiond;	/* the revocation feed */
	struct gw_metrics metrics;
	long idle_timeout_ms;		/* upstream silent this long: 504 */
	const char *metrics_token;	/* /metrics bearer; NULL: no /metrics;
					 * borrowed from the config */
	struct web *web;		/* owned; NULL: no page at / */
	char origins[GW_MAX_ORIGINS][GW_ORIGIN_MAX];	/* web.origins */
	size_t norigins;
};

#endif
