/*
 * jwks.c - userd's public keys, for verifying access tokens locally.
 *
 * The key set is fetched from userd's GET /.well-known/jwks.json without
 * ever blocking the loop: by the first cron tick or /readyz after start
 * (the fetch runs on the loop thread, which does not exist during init),
 * again every cron tick (500 ms) until one fetch works, and again when a
 * token names a kid we
 * do not know - at most once per JWKS_REFETCH_MS, so forged kids cannot
 * make us hammer userd.  A request whose kid is unknown waits for that
 * refetch and is verified against the new set (it gets 401 only if the
 * kid is still unknown); when no refetch is allowed it gets 401 at once.
 *
 * Threads: verification runs on the loop thread, and so does the fetch
 * (gw->d.out; the curl thread only for a userd URL http-loop.c cannot
 * reach).  The set, the fetch state and the waiters are under one mutex,
 * so a swap is atomic for every verifier; a fetch is started without it,
 * since its end may run before the start returns.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "jwt.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define JWKS_REFETCH_MS 5000		/* unknown kids refetch at most this often */
#define JWKS_MAX_BYTES (64 * 1024)
#define JWKS_TIMEOUT_MS 3000
#define JWKS_MAX_WAITERS 1024

/* A request waiting for a refetch. */
struct jwks_waiter {
	struct jwks_waiter *next;
	jwks_verify_fn done;
	void *arg;
	char token[];			/* copy */
};

struct gw_jwks {
	struct gatewayd *gw;
	pthread_mutex_t lock;		/* everything below */
	struct jwt_keyset set;		/* owned */
	bool loaded;			/* set came from userd at least once */
	bool fetching;			/* a fetch is in flight */
	bool warned;			/* the last failure was logged */
	int64_t last_fetch_ms;		/* monotonic start of the last fetch */
	struct jwks_waiter *waiters;	/* owned */
	size_t nwaiters;
};

/* One fetch in flight. */
struct jwks_fetch {
	struct gw_jwks *j;
	int status;
	struct buf body;
};

static int fetch_on_head(void *arg, int status, const char *const *h,
			 size_t n)
{
	struct jwks_fetch *f = arg;

	(void)h;
	(void)n;
	f->status = status;
	return 0;
}

static int fetch_on_data(void *arg, const char *data, size_t len)
{
	struct jwks_fetch *f = arg;

	return buf_append(&f->body, data, len) != 0;
}

/* Verifies under the lock; 0 or jwt_verify's error. */
static int jwks_verify_locked(struct gw_jwks *j, const char *token,
			      struct jwt_claims *claims)
{
	return jwt_verify(token, &j->set, now_ms() / 1000, "access", claims);
}

/* Answers the requests that waited for this fetch. */
static void jwks_wake(struct gw_jwks *j, struct jwks_waiter *w)
{
	struct jwks_waiter *next;
	struct jwt_claims claims;
	int rc;

	for (; w; w = next) {
		next = w->next;
		pthread_mutex_lock(&j->lock);
		rc = j->loaded ? jwks_verify_locked(j, w->token, &claims) :
			CHAT_EUPSTREAM;
		pthread_mutex_unlock(&j->lock);
		if (rc == CHAT_ENOTFOUND)
			rc = CHAT_ECRYPTO;	/* still unknown: a bad token */
		w->done(w->arg, rc, rc == 0 ? &claims : NULL);
		free(w);
	}
}

/* The end of a fetch (rc 0: status and body are userd's answer): swaps
 * the set in, then answers the waiters.  Call without the lock. */
static void jwks_fetch_end(struct gw_jwks *j, int rc, int status,
			   const struct buf *body)
{
	struct jwt_keyset set = { NULL, 0 };
	struct jwks_waiter *w;
	bool swapped = false;

	if (rc == 0 && status != 200)
		rc = CHAT_EUPSTREAM;
	if (rc == 0)
		rc = jwt_keyset_from_jwks(&set, body->data ? body->data : "",
					  body->len);
	if (rc == 0 && set.n == 0)
		rc = CHAT_ENOTFOUND;
	pthread_mutex_lock(&j->lock);
	if (rc == 0) {
		jwt_keyset_release(&j->set);
		j->set = set;
		swapped = true;
		if (!j->loaded || j->warned)
			log_info("loaded %zu signing key(s) from '%s'", set.n,
				 j->gw->userd->name);
		j->loaded = true;
		j->warned = false;
	} else if (!j->warned && rc != CHAT_ECANCELED) {
		/* (canceled: the gateway is stopping, nothing to retry) */
		log_warn("cannot load the signing keys from '%s': %s "
			 "(status %d); retrying", j->gw->userd->name,
			 chat_strerror(rc), status);
		j->warned = true;
	}
	j->fetching = false;
	w = j->waiters;
	j->waiters = NULL;
	j->nwaiters = 0;
	pthread_mutex_unlock(&j->lock);
	if (rc != 0)
		jwt_keyset_release(&set);
	if (swapped)	/* tokens of a key that is gone must not stay valid */
		cache_flush(&j->gw->tokens);
	jwks_wake(j, w);
}

static void fetch_on_done(void *arg, int rc)
{
	struct jwks_fetch *f = arg;

	jwks_fetch_end(f->j, rc, f->status, &f->body);
	buf_release(&f->body);
	free(f);
}

/* Takes the one fetch slot; lock held.  True: the caller runs
 * jwks_fetch_run once it has let go of the lock. */
static bool jwks_fetch_claim_locked(struct gw_jwks *j)
{
	if (j->fetching)
		return false;
	j->fetching = true;
	j->last_fetch_ms = mono_ms();
	return true;
}

/* Starts a claimed fetch, without the lock: on the loop thread its end
 * (fetch_on_done) may run before this returns.  A fetch that cannot
 * start ends like one that failed. */
static void jwks_fetch_run(struct gw_jwks *j)
{
	static const struct http_client_cb cb = {
		.on_head = fetch_on_head,
		.on_data = fetch_on_data,
		.on_done = fetch_on_done,
	};
	struct http_request req = {
		.method = "GET",
		.timeout_ms = JWKS_TIMEOUT_MS,
		.max_response = JWKS_MAX_BYTES,
	};
	struct jwks_fetch *f = calloc(1, sizeof(*f));
	char url[GW_URL_MAX + 32];
	int rc;

	if (!f) {
		jwks_fetch_end(j, CHAT_ENOMEM, 0, NULL);
		return;
	}
	f->j = j;
	buf_init(&f->body, JWKS_MAX_BYTES);
	snprintf(url, sizeof(url), "%s/.well-known/jwks.json",
		 j->gw->userd->url);
	req.url = url;
	rc = http_out_start(j->gw->d.out, &req, &cb, f);
	if (rc != 0)
		fetch_on_done(f, rc);
}

int jwks_new(struct gatewayd *gw, struct gw_jwks **out)
{
	struct gw_jwks *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (!j)
		return CHAT_ENOMEM;
	j->gw = gw;
	pthread_mutex_init(&j->lock, NULL);
	*out = j;
	return 0;
}

/* Call after the client is gone: no fetch can still be running. */
void jwks_free(struct gw_jwks *j)
{
	struct jwks_waiter *w, *next;

	if (!j)
		return;
	for (w = j->waiters; w; w = next) {
		next = w->next;
		w->done(w->arg, CHAT_EUPSTREAM, NULL);
		free(w);
	}
	jwt_keyset_release(&j->set);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

void jwks_cron(struct gatewayd *gw)
{
	struct gw_jwks *j = gw->jwks;
	bool start;

	pthread_mutex_lock(&j->lock);
	start = !j->loaded && jwks_fetch_claim_locked(j);
	pthread_mutex_unlock(&j->lock);
	if (start)
		jwks_fetch_run(j);
}

bool jwks_loaded(struct gatewayd *gw)
{
	bool loaded;

	pthread_mutex_lock(&gw->jwks->lock);
	loaded = gw->jwks->loaded;
	pthread_mutex_unlock(&gw->jwks->lock);
	return loaded;
}

void jwks_verify(struct gatewayd *gw, const char *token, jwks_verify_fn done,
		 void *arg)
{
	struct gw_jwks *j = gw->jwks;
	struct jwt_claims claims;
	struct jwks_waiter *w;
	bool start;
	size_t len;
	int rc;

	pthread_mutex_lock(&j->lock);
	if (!j->loaded) {
		start = jwks_fetch_claim_locked(j);
		pthread_mutex_unlock(&j->lock);
		if (start)
			jwks_fetch_run(j);
		done(arg, CHAT_EUPSTREAM, NULL);
		return;
	}
	rc = jwks_verify_locked(j, token, &claims);
	if (rc != CHAT_ENOTFOUND || j->nwaiters == JWKS_MAX_WAITERS ||
	    (!j->fetching && mono_ms() - j->last_fetch_ms < JWKS_REFETCH_MS)) {
		pthread_mutex_unlock(&j->lock);
		if (rc == CHAT_ENOTFOUND)
			rc = CHAT_ECRYPTO;
		done(arg, rc, rc == 0 ? &claims : NULL);
		return;
	}
	/* unknown kid: wait for a (possibly running) refetch */
	len = strlen(token);
	w = malloc(sizeof(*w) + len + 1);
	if (!w) {
		pthread_mutex_unlock(&j->lock);
		done(arg, CHAT_ENOMEM, NULL);
		return;
	}
	memcpy(w->token, token, len + 1);
	w->done = done;
	w->arg = arg;
	w->next = j->waiters;
	j->waiters = w;
	j->nwaiters++;
	/* a fetch that cannot start answers the waiters, this one too */
	start = jwks_fetch_claim_locked(j);
	pthread_mutex_unlock(&j->lock);
	if (start)
		jwks_fetch_run(j);
}
