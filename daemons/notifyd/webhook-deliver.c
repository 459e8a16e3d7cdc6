/*
 * webhook-deliver.c - the delivery threads of webhooks: up to
 * notifyd.webhook_workers threads that take due jobs from the queue
 * (queue.h), send each message by the Standard Webhooks rules, record
 * the attempt in the delivery log and tell the queue the outcome.
 *
 * The threads are started when there is work (webhooks_kick after a put,
 * webhooks_committed after the consumer's batch handed its jobs over in
 * memory, the broker's on_ready, a restart's leftover jobs) and end after
 * notifyd.webhook_idle_ms without any, the last one only once no job
 * waits (it alone sees a retry come due): an idle notifyd has no
 * delivery thread, nor its stack and malloc arena (issue 15's idle RSS).
 *
 * One attempt:
 *   - the message and its endpoint from the store (a job whose endpoint
 *     was deleted is dropped; one whose endpoint is disabled is
 *     dead-lettered);
 *   - POST of the message's body with webhook-id (the message's id, the
 *     same on every attempt and redelivery), webhook-timestamp (this
 *     attempt's second) and webhook-signature (v1 with the secret, and
 *     the rotated-out one beside it during the overlap);
 *   - every address the connection would use is checked when it is
 *     made (webhook-addr.c through http-client.h's addr_ok), no
 *     redirect is followed, the whole attempt has notifyd.webhook_
 *     timeout_ms, and at most WH_RESPONSE_KEEP bytes of the answer are
 *     read;
 *   - 2xx is success; anything else, a timeout or a refused address is
 *     a failure, retried after the schedule's next wait (with jitter)
 *     until it runs out (dead-lettered); a 429 or 503 with Retry-After
 *     waits at least that long (at most the schedule's longest wait);
 *   - 410 disables the endpoint at once; an endpoint whose every attempt
 *     failed for notifyd.webhook_disable_after_s is disabled too, and
 *     its owner gets an in-app notification (category account).
 * The user learns only the status, the latency and an excerpt of the
 * answer (WH_EXCERPT_MAX bytes, valid UTF-8); for a refused address
 * only its class, never the address a name resolved to.
 *
 * The threads never run on the event loop; they hold a store connection
 * only between network calls.
 */
#include "webhook.h"
#include "notifyd.h"
#include "mail.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "err.h"
#include "http-client.h"
#include "log.h"
#include "queue.h"
#include "utf8.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define WH_TAKE_BATCH 8			/* jobs per take, at most */
/* a batch is sent one job after the other, each up to the timeout: it
 * must end well within the lease, or another thread takes its last
 * jobs again */
#define WH_LEASE_SPARE_MS 10000
#define WH_TAKE_WAIT_MS 1000		/* a take's wait, then again */
#define WH_CONNECT_MS 5000		/* connect, within the timeout */
#define WH_DB_WAIT_MS 5000

static const char sql_load[] =
	"SELECT m.body, e.url, e.secret, e.old_secret, e.old_until_ms,"
	" e.disabled_ms, e.user_id, e.failing_since_ms"
	" FROM webhook_messages m JOIN webhook_endpoints e"
	" ON e.id = m.endpoint_id WHERE m.id = $1 AND e.id = $2";
static const char sql_attempt_add[] =
	"INSERT INTO webhook_attempts (id, endpoint_id, msg_id, attempt,"
	" at_ms, status, latency_ms, outcome, excerpt)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static const char sql_ok[] =
	"UPDATE webhook_endpoints SET failing_since_ms = NULL WHERE id = $1";
static const char sql_failing[] =
	"UPDATE webhook_endpoints SET failing_since_ms ="
	" COALESCE(failing_since_ms, $2) WHERE id = $1";
static const char sql_disable[] =
	"UPDATE webhook_endpoints SET disabled_ms = $2, disabled_reason = $3,"
	" updated_ms = $2 WHERE id = $1 AND disabled_ms IS NULL";

/* What one attempt needs of the store, and what it found. */
struct wh_attempt {
	struct webhooks *w;
	const struct queue_job *job;
	char *body;			/* owned */
	char url[WH_URL_MAX + 1];
	char user_id[UUID_STR_LEN];
	char secret[WH_SECRET_MAX];
	char old_secret[WH_SECRET_MAX];	/* "" when none signs */
	bool disabled;
	int64_t failing_since;		/* 0: not failing */
	/* the outcome */
	int status;			/* HTTP status; 0: none */
	int64_t latency_ms;
	const char *outcome;		/* "ok", "http", "timeout",
					 * "refused", "error" */
	char excerpt[WH_EXCERPT_MAX + 1];
	enum wh_addr_class refused;	/* for "refused" */
	int64_t retry_after_ms;		/* a 429's or 503's Retry-After;
					 * -1: none */
	bool skip;			/* no attempt: endpoint gone or
					 * disabled */
	bool keep;			/* the store failed: left leased */
	bool disabled_now;		/* this attempt disabled it */
	const char *reason;		/* why ("gone", "failing") */
};

/* http_request.addr_ok: the check at connection time. */
static bool wh_addr_ok(void *arg, const struct sockaddr *sa, size_t len)
{
	struct wh_attempt *a = arg;
	enum wh_addr_class cls = WH_ADDR_PUBLIC;

	if (wh_addr_allowed(a->w->cfg.allow, a->w->cfg.nallow, sa, len, &cls))
		return true;
	a->refused = cls;
	return false;
}

/* Loads the message and its endpoint; CHAT_ENOTFOUND when either is
 * gone. */
static int wh_load(struct wh_attempt *a)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct db_param p[2] = {
		db_p_text(a->job->msg_id), db_p_text(a->job->endpoint_id),
	};
	const char *old;
	int rc = db_acquire(a->w->d->db, WH_DB_WAIT_MS, &c);

	if (rc < 0)
		return rc;
	rc = db_query(c, sql_load, p, 2, &r);
	db_release(c);
	if (rc == 0 && db_rows_count(r) == 0)
		rc = CHAT_ENOTFOUND;
	if (rc < 0)
		goto out;
	a->body = strdup(db_rows_get(r, 0, 0));
	if (!a->body) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	snprintf(a->url, sizeof(a->url), "%s", db_rows_get(r, 0, 1));
	snprintf(a->user_id, sizeof(a->user_id), "%s", db_rows_get(r, 0, 6));
	a->disabled = db_rows_get(r, 0, 5) != NULL;
	a->failing_since = db_rows_int(r, 0, 7, 0);
	rc = wh_open(a->w->d->internal_secret, db_rows_get(r, 0, 2),
		     a->secret);
	old = db_rows_get(r, 0, 3);
	a->old_secret[0] = '\0';
	if (rc == 0 && old && db_rows_int(r, 0, 4, 0) > now_ms())
		rc = wh_open(a->w->d->internal_secret, old, a->old_secret);
out:
	db_rows_free(r);
	return rc;
}

/* "webhook-signature: v1,... [v1,...]" for this attempt into out. */
static int wh_signature(struct wh_attempt *a, int64_t ts, char *out,
			size_t outlen)
{
	uint8_t key[WH_KEY_MAX];
	char sig[WH_SIG_MAX], old[WH_SIG_MAX];
	size_t kl = 0, bl = strlen(a->body);
	int rc;

	rc = wh_secret_key(a->secret, key, &kl);
	if (rc == 0)
		rc = wh_sign(key, kl, a->job->msg_id, ts, a->body, bl, sig);
	old[0] = '\0';
	if (rc == 0 && a->old_secret[0]) {
		rc = wh_secret_key(a->old_secret, key, &kl);
		if (rc == 0)
			rc = wh_sign(key, kl, a->job->msg_id, ts, a->body, bl,
				     old);
	}
	sodium_memzero(key, sizeof(key));
	if (rc == 0)
		snprintf(out, outlen, "webhook-signature: %s%s%s", sig,
			 old[0] ? " " : "", old);
	return rc;
}

/* The answer's first bytes as valid UTF-8 (an invalid byte becomes
 * '?'), cut at WH_EXCERPT_MAX. */
static void wh_excerpt(const char *s, size_t len, char *out)
{
	size_t i = 0, o = 0, n;

	while (i < len && o < WH_EXCERPT_MAX) {
		n = utf8_decode(s + i, len - i, NULL);
		if (n == 0 || s[i] == '\0') {
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n > WH_EXCERPT_MAX)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

/* Sends the message once; fills the outcome. */
static void wh_send(struct wh_attempt *a)
{
	char h_id[QUEUE_ID_MAX + 16], h_ts[48], h_sig[WH_SIG_MAX * 2 + 32];
	char retry_after[64];
	const char *headers[6];
	struct http_request req;
	struct buf body;
	int64_t ts = now_ms() / 1000, t0, ra;
	int rc;

	buf_init(&body, WH_RESPONSE_KEEP + 1);
	a->refused = WH_ADDR_PUBLIC;
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", a->job->msg_id);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld",
		 (long long)ts);
	rc = wh_signature(a, ts, h_sig, sizeof(h_sig));
	if (rc < 0) {
		a->outcome = "error";
		snprintf(a->excerpt, sizeof(a->excerpt),
			 "cannot sign: %s", chat_strerror(rc));
		goto out;
	}
	headers[0] = "Content-Type: application/json";
	headers[1] = h_id;
	headers[2] = h_ts;
	headers[3] = h_sig;
	headers[4] = "User-Agent: chat-notifyd";
	headers[5] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = a->url;
	req.headers = headers;
	req.body = a->body;
	req.body_len = strlen(a->body);
	req.connect_timeout_ms = a->w->cfg.timeout_ms < WH_CONNECT_MS ?
				 a->w->cfg.timeout_ms : WH_CONNECT_MS;
	req.timeout_ms = a->w->cfg.timeout_ms;
	req.max_response = WH_RESPONSE_KEEP;
	req.truncate = true;
	req.addr_ok = wh_addr_ok;
	req.addr_arg = a;
	req.keep_header = "Retry-After";
	req.header_value = retry_after;
	req.header_len = sizeof(retry_after);
	t0 = mono_ms();
	rc = http_fetch(&req, &a->status, &body);
	a->latency_ms = mono_ms() - t0;
	if (rc == 0) {
		a->outcome = a->status >= 200 && a->status < 300 ? "ok" :
			     "http";
		if ((a->status == 429 || a->status == 503) &&
		    wh_retry_after(retry_after, now_ms(), &ra) == 0)
			a->retry_after_ms = ra;
		wh_excerpt(body.data ? body.data : "", body.len, a->excerpt);
	} else if (rc == CHAT_EPERM) {
		a->status = 0;
		a->outcome = "refused";
		snprintf(a->excerpt, sizeof(a->excerpt),
			 "address not allowed (%s)",
			 wh_addr_class_name(a->refused));
	} else if (rc == CHAT_ETIMEDOUT) {
		a->status = 0;
		a->outcome = "timeout";
		snprintf(a->excerpt, sizeof(a->excerpt), "no answer in %ld ms",
			 a->w->cfg.timeout_ms);
	} else {
		a->status = 0;
		a->outcome = "error";
		snprintf(a->excerpt, sizeof(a->excerpt), "%s",
			 rc == CHAT_EUPSTREAM ? "cannot connect" :
			 chat_strerror(rc));
	}
out:
	buf_release(&body);
}

/* The in-app notification of a disabled endpoint, for its owner. */
static int wh_notify_disabled(struct webhooks *w, struct db_conn *c,
			      struct wh_attempt *a, const char *reason)
{
	struct notice n;
	int rc;

	memset(&n, 0, sizeof(n));
	n.category = "account";
	n.kind = "webhook_disabled";
	n.title = "Webhook disabled";
	n.body = strcmp(reason, "gone") == 0 ?
		 "A webhook endpoint of yours answered 410 Gone, so it was "
		 "disabled. Enable it again once it accepts deliveries." :
		 "A webhook endpoint of yours failed every delivery for days, "
		 "so it was disabled. Enable it again once it is fixed.";
	n.user_id = a->user_id;
	n.duration_ms = -1;
	n.data = cJSON_CreateObject();
	if (!n.data ||
	    !cJSON_AddStringToObject(n.data, "endpoint_id",
				     a->job->endpoint_id) ||
	    !cJSON_AddStringToObject(n.data, "url", a->url) ||
	    !cJSON_AddStringToObject(n.data, "reason", reason)) {
		notice_release(&n);
		return CHAT_ENOMEM;
	}
	rc = store_notify((struct notifyd *)w->d, c, &n);
	notice_release(&n);
	return rc;
}

/* What becomes of a job after its attempt. */
enum wh_settle { WH_DONE, WH_RETRY, WH_DEAD };

/* The attempt into the log and the endpoint's state, in c's open
 * transaction; a->disabled_now when this attempt disabled it. */
static int wh_record(struct webhooks *w, struct db_conn *c,
		     struct wh_attempt *a)
{
	char id[UUID_STR_LEN];
	struct db_param p[9];
	int64_t now = now_ms(), changed = 0;
	const char *reason = NULL;
	bool ok = strcmp(a->outcome, "ok") == 0;
	int rc;

	if (!ok && a->status == 410)
		reason = "gone";
	else if (!ok && a->failing_since > 0 &&
		 now - a->failing_since >= w->cfg.disable_after_ms)
		reason = "failing";
	rc = uuid_v7(id);
	if (rc < 0)
		return rc;
	p[0] = db_p_text(id);
	p[1] = db_p_text(a->job->endpoint_id);
	p[2] = db_p_text(a->job->msg_id);
	p[3] = DB_P_INT(a->job->attempts + 1);
	p[4] = DB_P_INT(now);
	p[5] = DB_P_INT(a->status);
	p[6] = DB_P_INT(a->latency_ms);
	p[7] = db_p_text(a->outcome);
	p[8] = db_p_text(a->excerpt);
	rc = db_exec(c, sql_attempt_add, p, 9, NULL);
	p[0] = db_p_text(a->job->endpoint_id);
	p[1] = DB_P_INT(now);
	p[2] = db_p_text(reason);
	/* a success of an endpoint that was not failing changes nothing */
	if (rc == 0 && (!ok || a->failing_since > 0))
		rc = db_exec(c, ok ? sql_ok : sql_failing, p, ok ? 1 : 2,
			     NULL);
	if (rc == 0 && reason)
		rc = db_exec(c, sql_disable, p, 3, &changed);
	if (rc == 0 && changed > 0) {
		rc = wh_notify_disabled(w, c, a, reason);
		a->disabled_now = true;
		a->reason = reason;
	}
	return rc;
}

/* The job's fate after its attempt (or without one: a.skip). */
static enum wh_settle wh_fate(struct webhooks *w, struct wh_attempt *a,
			      int64_t *at)
{
	int64_t delay;

	*at = 0;
	if (a->skip)
		return a->disabled ? WH_DEAD : WH_DONE;
	if (strcmp(a->outcome, "ok") == 0)
		return WH_DONE;
	delay = wh_retry_delay(w->cfg.retry_ms, w->cfg.nretry,
			       a->job->attempts + 1,
			       randombytes_uniform(1000) / 1000.0);
	delay = wh_retry_wait(w->cfg.retry_ms, w->cfg.nretry, delay,
			      a->retry_after_ms);
	if (a->disabled_now || delay < 0)
		return WH_DEAD;
	*at = now_ms() + delay;
	return WH_RETRY;
}

/* The batch's attempts, endpoint changes and (where the backend can)
 * queue outcomes in one transaction: one sync for the batch; then the
 * outcomes the backend takes only outside it.  A failure leaves the
 * jobs leased: they come back when the lease runs out. */
static void wh_settle_batch(struct webhooks *w, struct wh_attempt *as,
			    size_t n)
{
	struct db_conn *c = NULL;
	enum wh_settle fate[WH_TAKE_BATCH];
	int64_t at[WH_TAKE_BATCH];
	bool in_tx[WH_TAKE_BATCH];
	size_t i;
	int rc;

	rc = db_acquire(w->d->db, WH_DB_WAIT_MS, &c);
	if (rc == 0)
		rc = db_begin(c);
	for (i = 0; rc == 0 && i < n; i++) {
		if (!as[i].skip)
			rc = wh_record(w, c, &as[i]);
		fate[i] = wh_fate(w, &as[i], &at[i]);
		in_tx[i] = false;
		if (rc < 0)
			break;
		rc = fate[i] == WH_DONE ? queue_done_in(w->queue, c, as[i].job) :
		     fate[i] == WH_DEAD ? queue_dead_in(w->queue, c, as[i].job) :
		     queue_retry_in(w->queue, c, as[i].job, at[i]);
		in_tx[i] = rc == 0;
		if (rc == 1)
			rc = 0;			/* after the commit */
	}
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		log_warn("webhook attempts not recorded: %s",
			 chat_strerror(rc));
		return;
	}
	for (i = 0; i < n; i++) {
		/* the owner's notice may have stored a mail: its sender
		 * (not through mail_put, which the consumer's thread may
		 * take before this commit) */
		if (as[i].disabled_now)
			mailer_kick(((struct notifyd *)w->d)->mailer);
		if (as[i].disabled_now)
			log_info("webhook endpoint '%s' disabled (%s)",
				 as[i].job->endpoint_id, as[i].reason);
		if (in_tx[i])
			continue;
		rc = fate[i] == WH_DONE ? queue_done(w->queue, as[i].job) :
		     fate[i] == WH_DEAD ? queue_dead(w->queue, as[i].job) :
		     queue_retry(w->queue, as[i].job, at[i]);
		if (rc < 0)
			log_warn("webhook job '%s': %s", as[i].job->id,
				 chat_strerror(rc));
	}
	queue_kick(w->queue);		/* a retry may be due before the
					 * sleepers' next wake */
}

/* Sends each job of a batch, then settles them together. */
static void wh_deliver_batch(struct webhooks *w, const struct queue_job *jobs,
			     size_t n)
{
	struct wh_attempt as[WH_TAKE_BATCH];
	size_t i;
	int rc;

	memset(as, 0, sizeof(as));
	for (i = 0; i < n; i++) {
		as[i].w = w;
		as[i].job = &jobs[i];
		as[i].retry_after_ms = -1;
		rc = wh_load(&as[i]);
		if (rc == CHAT_ENOTFOUND || (rc == 0 && as[i].disabled)) {
			as[i].skip = true;	/* deleted, or disabled */
			continue;
		}
		if (rc < 0) {
			/* the store failed: the lease brings it back */
			log_warn("webhook job '%s': %s", jobs[i].id,
				 chat_strerror(rc));
			as[i].skip = true;
			as[i].keep = true;
			continue;
		}
		wh_send(&as[i]);
	}
	/* the ones the store failed to load stay leased, out of the batch */
	for (i = 0; i < n; i++)
		if (as[i].keep) {
			free(as[i].body);
			as[i].body = NULL;
			memmove(&as[i], &as[i + 1], (n - i - 1) * sizeof(as[0]));
			n--;
			i--;
		}
	if (n)
		wh_settle_batch(w, as, n);
	for (i = 0; i < n; i++) {
		free(as[i].body);
		sodium_memzero(as[i].secret, sizeof(as[i].secret));
		sodium_memzero(as[i].old_secret, sizeof(as[i].old_secret));
	}
}

/* An idle thread's question: may it end?  Yes unless it is the last
 * one and a job waits (a retry due later: only a taker would see it
 * come due) or a kick came meanwhile.  true: its slot is marked exited
 * (the next kick or webhooks_free joins it) and the thread must end. */
static bool wh_retire(struct webhooks *w)
{
	pthread_t self = pthread_self();
	uint64_t kicks;
	bool last, any = false;
	int i;

	pthread_mutex_lock(&w->mu);
	kicks = w->kicks;
	last = w->running == 1;
	pthread_mutex_unlock(&w->mu);
	/* outside the lock: a kick never waits for the store */
	if (last && queue_pending(w->queue, &any) < 0)
		return false;
	if (any)
		return false;
	pthread_mutex_lock(&w->mu);
	/* the last by now (the others ended meanwhile) without having
	 * asked, or a put since the question: stay, ask again later */
	if ((!last && w->running == 1) || (last && w->kicks != kicks)) {
		pthread_mutex_unlock(&w->mu);
		return false;
	}
	for (i = 0; i < WH_THREADS_MAX; i++)
		if (w->slots[i] == WH_SLOT_RUNNING &&
		    pthread_equal(w->threads[i], self)) {
			w->slots[i] = WH_SLOT_EXITED;
			break;
		}
	w->running--;
	last = w->running == 0;
	pthread_mutex_unlock(&w->mu);
	if (last) {
		/* what the burst took (the threads' arenas, the store's and
		 * libcurl's buffers), given back once idle: the heap's
		 * free pages, not only its top */
		(void)malloc_trim(0);
		log_debug("webhook delivery threads: all idle, ended");
	}
	return true;
}

static void *wh_thread(void *arg)
{
	struct webhooks *w = arg;
	struct queue_job jobs[WH_TAKE_BATCH];
	struct timespec pause = { .tv_sec = WH_TAKE_WAIT_MS / 1000 };
	int64_t idle_since = mono_ms();
	int wait = w->cfg.idle_ms < WH_TAKE_WAIT_MS ? (int)w->cfg.idle_ms :
						    WH_TAKE_WAIT_MS;
	size_t n;
	int rc;

	/* its name, for ps and the tests that count them */
	(void)pthread_setname_np(pthread_self(), "wh-deliver");
	while (!w->queue->stopping) {
		rc = queue_take(w->queue, jobs, w->batch, &n, wait);
		if (rc < 0) {
			log_warn("webhook queue: %s", chat_strerror(rc));
			nanosleep(&pause, NULL);
			continue;
		}
		if (n) {
			wh_deliver_batch(w, jobs, n);
			idle_since = mono_ms();
			continue;
		}
		if (mono_ms() - idle_since >= w->cfg.idle_ms && wh_retire(w))
			break;
	}
	return NULL;
}

/* queue.on_ready: a job came that no kick announced (the broker's). */
static void wh_on_ready(void *arg)
{
	struct webhooks *w = arg;
	bool open;

	pthread_mutex_lock(&w->mu);
	open = w->queue != NULL;
	pthread_mutex_unlock(&w->mu);
	/* before the queue is open, webhooks_new looks for itself */
	if (open)
		webhooks_kick(w);
}

static int wh_config_read(struct daemon *d, struct wh_config *cfg,
			  char *err, size_t errlen)
{
	const char *s;
	long v;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	s = config_key_str(d->cfg, "notifyd.webhook_retry_schedule");
	rc = wh_schedule_parse(s ? s : "", cfg->retry_ms, &cfg->nretry, err,
			       errlen);
	if (rc < 0)
		return rc;
	s = config_key_str(d->cfg, "notifyd.webhook_allow");
	rc = wh_allow_parse(s ? s : "", cfg->allow, WH_ALLOW_MAX,
			    &cfg->nallow, err, errlen);
	if (rc < 0)
		return rc;
	rc = config_key_int(d->cfg, "notifyd.webhook_secret_overlap_s", &v,
			    err, errlen);
	cfg->overlap_ms = (int64_t)v * 1000;
	if (rc == 0)
		rc = config_key_int(d->cfg, "notifyd.webhook_disable_after_s",
				    &v, err, errlen);
	cfg->disable_after_ms = (int64_t)v * 1000;
	if (rc == 0)
		rc = config_key_int(d->cfg, "notifyd.webhook_timeout_ms", &v,
				    err, errlen);
	cfg->timeout_ms = v;
	if (rc == 0)
		rc = config_key_int(d->cfg, "notifyd.webhook_workers", &v, err,
				    errlen);
	cfg->workers = (int)v;
	if (rc == 0)
		rc = config_key_int(d->cfg, "notifyd.webhook_idle_ms", &v, err,
				    errlen);
	cfg->idle_ms = v;
	return rc;
}

int webhooks_new(struct daemon *d, struct webhooks **out, char *err,
		 size_t errlen)
{
	struct webhooks *w = calloc(1, sizeof(*w));
	struct queue *q = NULL;
	bool any = false;
	int rc;

	*out = NULL;
	if (!w)
		return CHAT_ENOMEM;
	w->d = d;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return CHAT_ENOMEM;
	}
	rc = wh_config_read(d, &w->cfg, err, errlen);
	/* as many jobs a batch as can all time out within the lease */
	w->batch = (size_t)((QUEUE_LEASE_MS - WH_LEASE_SPARE_MS) /
			    (w->cfg.timeout_ms > 0 ? w->cfg.timeout_ms : 1));
	if (w->batch < 1)
		w->batch = 1;
	if (w->batch > WH_TAKE_BATCH)
		w->batch = WH_TAKE_BATCH;
	if (w->cfg.workers > WH_THREADS_MAX)
		w->cfg.workers = WH_THREADS_MAX;
	if (rc == 0)
		rc = queue_new(d, wh_on_ready, w, &q, err, errlen);
	if (rc == 0) {
		pthread_mutex_lock(&w->mu);
		w->queue = q;
		pthread_mutex_unlock(&w->mu);
		/* jobs a restart found (or the broker gave out before the
		 * queue was ours): threads for them now, none otherwise */
		rc = queue_pending(q, &any);
	}
	if (rc < 0) {
		if (!*err)
			chat_errf(err, errlen, "cannot read the webhook queue:"
				  " %s", chat_strerror(rc));
		webhooks_free(w);
		return rc;
	}
	if (any)
		webhooks_kick(w);
	*out = w;
	return 0;
}

/* Starts delivery threads up to the configured number; under w->mu. */
static void wh_start(struct webhooks *w)
{
	int i;

	w->kicks++;
	for (i = 0; i < WH_THREADS_MAX && !w->stopping; i++) {
		/* an ended thread has unlocked and returns: a short join */
		if (w->slots[i] == WH_SLOT_EXITED) {
			pthread_join(w->threads[i], NULL);
			w->slots[i] = WH_SLOT_FREE;
		}
		if (w->slots[i] != WH_SLOT_FREE ||
		    w->running >= w->cfg.workers)
			continue;
		if (pthread_create(&w->threads[i], NULL, wh_thread, w) != 0) {
			/* the running ones (or the next kick) deliver */
			log_warn("cannot start a webhook delivery thread");
			break;
		}
		w->slots[i] = WH_SLOT_RUNNING;
		w->running++;
	}
}

void webhooks_kick(struct webhooks *w)
{
	pthread_mutex_lock(&w->mu);
	wh_start(w);
	pthread_mutex_unlock(&w->mu);
	queue_kick(w->queue);
}

void webhooks_committed(struct webhooks *w, bool ok)
{
	/* the hand wakes the running takers; a thread started after it
	 * finds the jobs in memory at its first take */
	if (queue_hand(w->queue, ok) == 0)
		return;
	pthread_mutex_lock(&w->mu);
	wh_start(w);
	pthread_mutex_unlock(&w->mu);
}

void webhooks_free(struct webhooks *w)
{
	int i;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_mutex_unlock(&w->mu);
	if (w->queue)
		queue_stop(w->queue);
	/* no thread starts now; the running ones see the stop and return
	 * (one ending meanwhile holds the lock only briefly: it is not
	 * held here while joining) */
	for (i = 0; i < WH_THREADS_MAX; i++)
		if (w->slots[i] != WH_SLOT_FREE)
			pthread_join(w->threads[i], NULL);
	queue_free(w->queue);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
