/*
 * webhook.h - notifyd's webhooks (issue 15): endpoints users (and admins,
 * for every event) register, messages made from the events they asked
 * for, delivered by the Standard Webhooks rules through the delivery
 * queue (queue.h).
 *
 * Files:
 *   webhook-sign.c    secrets (whsec_), their sealing at rest, the
 *                     v1 HMAC-SHA256 signature (pure)
 *   webhook-addr.c    which addresses a delivery may connect to, the
 *                     admin's allowlist (pure)
 *   webhook-retry.c   the retry schedule and its jitter, URL and event
 *                     type checks (pure)
 *   webhook-fanout.c  an event -> one message and one job per endpoint
 *                     that asked for it, in the consumer's transaction
 *   webhook-api.c     the /v1/webhooks routes
 *   webhook-deliver.c the delivery threads (started on demand): take,
 *                     send, record, retry
 *   queue.c, queue-store.c  the queue and its store backend
 */
#ifndef CHAT_NOTIFYD_WEBHOOK_H
#define CHAT_NOTIFYD_WEBHOOK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct daemon;
struct db_conn;
struct http_req;
struct http_res;
struct queue;
struct sockaddr;

#define WH_KEY_MAX 64			/* bytes of a decoded secret */
#define WH_KEY_BYTES 32			/* bytes of the secrets we make */
#define WH_SECRET_MAX 100		/* "whsec_" + base64, NUL included */
#define WH_SIG_MAX 64			/* "v1," + base64 of 32 bytes + NUL */
#define WH_RETRY_MAX 16			/* entries of a retry schedule */
#define WH_RETRY_AFTER_CAP_S (7LL * 86400) /* a Retry-After, at most */
#define WH_ALLOW_MAX 32			/* CIDRs of the allowlist */
#define WH_URL_MAX 2048			/* bytes of an endpoint's URL */
#define WH_EVENTS_MAX 32		/* event types of an endpoint */
#define WH_DESC_MAX 500			/* bytes of a description */
#define WH_EXCERPT_MAX 1024		/* response bytes the log keeps */
#define WH_RESPONSE_KEEP 4096		/* response bytes read at most */

/* --- webhook-sign.c --- */

/* A new secret: "whsec_" + base64 of WH_KEY_BYTES random bytes. */
int wh_secret_new(char out[WH_SECRET_MAX]);
/* The key bytes of "whsec_<base64>" (24 to 64 bytes) into key, *len of
 * them; CHAT_EINVAL when it is not one. */
int wh_secret_key(const char *secret, uint8_t key[WH_KEY_MAX], size_t *len);
/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into out. */
int wh_sign(const uint8_t *key, size_t keylen, const char *msg_id,
	    int64_t ts, const char *body, size_t bodylen,
	    char out[WH_SIG_MAX]);
/* Seals secret with the daemon's data key (XSalsa20-Poly1305 with a
 * key derived from the internal secret) into *out ("s1:" + base64;
 * malloc'd, the caller's); wh_open reverses it (CHAT_ECRYPTO when it was
 * sealed with another key or changed). */
int wh_seal(const char *internal_secret, const char *secret, char **out);
int wh_open(const char *internal_secret, const char *sealed,
	    char out[WH_SECRET_MAX]);

/* --- webhook-addr.c --- */

enum wh_addr_class {
	WH_ADDR_PUBLIC = 0,
	WH_ADDR_LOOPBACK,
	WH_ADDR_PRIVATE,		/* RFC 1918, ULA */
	WH_ADDR_LINK_LOCAL,
	WH_ADDR_MULTICAST,
	WH_ADDR_UNSPECIFIED,		/* 0.0.0.0/8, :: */
	WH_ADDR_CGNAT,			/* 100.64.0.0/10 */
	WH_ADDR_METADATA,		/* 169.254.169.254, fd00:ec2::254 */
	WH_ADDR_RESERVED,		/* 240.0.0.0/4, broadcast, docs */
};

struct wh_cidr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network bytes */
	unsigned bits;			/* prefix length */
};

/* The class of a 4- or 16-byte address (IPv4-mapped, NAT64 and 6to4
 * IPv6 forms are classed by the IPv4 address inside). */
enum wh_addr_class wh_addr_class_of(int family, const uint8_t *addr);
/* The class's name ("loopback"), for the delivery log. */
const char *wh_addr_class_name(enum wh_addr_class c);
/* "10.0.0.0/8", "::1", "127.0.0.1/32" into *out. */
int wh_cidr_parse(const char *s, struct wh_cidr *out);
/* A comma-separated list of CIDRs into out (at most max), *n of them;
 * CHAT_EINVAL naming the bad one in err. */
int wh_allow_parse(const char *list, struct wh_cidr *out, size_t max,
		   size_t *n, char *err, size_t errlen);
/* Whether a delivery may connect to sa: public, or in allow. */
bool wh_addr_allowed(const struct wh_cidr *allow, size_t nallow,
		     const struct sockaddr *sa, size_t len,
		     enum wh_addr_class *cls);

/* --- webhook-retry.c --- */

/* "5,300,1800" (seconds) into ms[], *n entries; CHAT_EINVAL with err. */
int wh_schedule_parse(const char *s, int64_t ms[WH_RETRY_MAX], size_t *n,
		      char *err, size_t errlen);
/* The wait after failed attempt number `attempts` (1 = the first), with
 * jitter j in [0, 1) adding up to a fifth: never earlier than the
 * schedule says.  -1 when the schedule is out (the job is dead). */
int64_t wh_retry_delay(const int64_t *ms, size_t n, int attempts, double j);
/* Retry-After's value (RFC 9110 10.2.3): delta-seconds, or an HTTP-date
 * in any of its three forms (5.6.7), as ms after now (unix ms): a date
 * past is 0, anything over WH_RETRY_AFTER_CAP_S that.  CHAT_EPARSE for
 * anything else (the header is then ignored). */
int wh_retry_after(const char *v, int64_t now, int64_t *ms);
/* The wait before the next attempt: the schedule's delay (-1: none
 * left, kept), or retry_after when later, at most the schedule's
 * longest wait. */
int64_t wh_retry_wait(const int64_t *ms, size_t n, int64_t delay,
		      int64_t retry_after);
/* Whether url may be an endpoint: http or https, a host, no user info,
 * at most WH_URL_MAX bytes.  CHAT_EINVAL with the reason in err. */
int wh_url_check(const char *url, char *err, size_t errlen);
/* Whether pattern ("chat.session.created", "chat.session.*", "*") names
 * at least one event type an endpoint can receive. */
bool wh_event_pattern_valid(const char *pattern);
/* Whether type matches one of the endpoint's patterns (a JSON array). */
bool wh_event_match(const struct cJSON *patterns, const char *type);

/* --- the running part: webhook-deliver.c --- */

struct wh_config {
	int64_t retry_ms[WH_RETRY_MAX];	/* notifyd.webhook_retry_schedule */
	size_t nretry;
	int64_t overlap_ms;		/* notifyd.webhook_secret_overlap_s */
	int64_t disable_after_ms;	/* notifyd.webhook_disable_after_s */
	long timeout_ms;		/* notifyd.webhook_timeout_ms */
	struct wh_cidr allow[WH_ALLOW_MAX];	/* notifyd.webhook_allow */
	size_t nallow;
	int workers;			/* notifyd.webhook_workers */
	int64_t idle_ms;		/* notifyd.webhook_idle_ms */
};

#define WH_THREADS_MAX 16		/* notifyd.webhook_workers' top */

/* A delivery thread's slot. */
enum wh_slot {
	WH_SLOT_FREE = 0,		/* no thread */
	WH_SLOT_RUNNING,		/* started, not joined */
	WH_SLOT_EXITED,			/* ended: to be joined */
};

struct webhooks {
	struct daemon *d;
	struct queue *queue;		/* owned */
	struct wh_config cfg;
	size_t batch;			/* jobs a thread takes at once */
	pthread_mutex_t mu;		/* guards the fields below */
	pthread_t threads[WH_THREADS_MAX];
	enum wh_slot slots[WH_THREADS_MAX];
	int running;			/* slots WH_SLOT_RUNNING */
	uint64_t kicks;			/* bumped by every webhooks_kick */
	bool stopping;			/* webhooks_free: start none */
};

/* Reads the config and opens the queue; starts delivery threads only
 * when jobs wait (a restart's), the rest on demand (webhooks_kick). */
int webhooks_new(struct daemon *d, struct webhooks **out, char *err,
		 size_t errlen);
/* After a commit that put jobs: starts delivery threads up to
 * notifyd.webhook_workers and wakes them.  A thread idle for
 * notifyd.webhook_idle_ms ends, the last one only when no job waits,
 * so an idle notifyd has none.  Any thread but a delivery thread; it
 * may create a thread (never on the event loop). */
void webhooks_kick(struct webhooks *w);
/* After the calling thread's transaction that ran wh_fanout committed
 * (ok) or rolled back (!ok): its jobs put for the hand-over go to the
 * delivery threads in memory (started as webhooks_kick does) or are
 * forgotten.  The consumer's thread; ok after every commit that applied
 * an event, !ok at each batch's start (what a failed commit left). */
void webhooks_committed(struct webhooks *w, bool ok);
/* Stops and joins the threads, closes the queue, frees (NULL: none). */
void webhooks_free(struct webhooks *w);

/* --- webhook-fanout.c --- */

/* In the consumer's transaction c: a message and a job for every
 * enabled endpoint that asked for event's type (the owner's endpoints
 * for a user's event, and every system endpoint).  The jobs are put for
 * the hand-over (webhooks_committed after the commit); *put: some were
 * put as usual instead (webhooks_kick after the commit). */
int wh_fanout(struct webhooks *w, struct db_conn *c,
	      const struct cJSON *event, bool *put);
/* One message and job for endpoint ep_id now, in c's transaction,
 * whatever its event types (webhook.test); msg_id out when not NULL. */
int wh_message_put(struct webhooks *w, struct db_conn *c,
		   const char *ep_id, const char *user_id,
		   const char *event_key, const char *type,
		   const char *body, char *msg_id_out);
/* A new job for an existing message (a redelivery), same webhook-id. */
int wh_job_put(struct webhooks *w, struct db_conn *c, const char *msg_id,
	       const char *ep_id);

/* --- webhook-api.c --- */
void wh_create_handler(struct http_req *req, struct http_res *res);
void wh_list_handler(struct http_req *req, struct http_res *res);
void wh_get_handler(struct http_req *req, struct http_res *res);
void wh_patch_handler(struct http_req *req, struct http_res *res);
void wh_delete_handler(struct http_req *req, struct http_res *res);
void wh_rotate_handler(struct http_req *req, struct http_res *res);
void wh_test_handler(struct http_req *req, struct http_res *res);
void wh_deliveries_handler(struct http_req *req, struct http_res *res);
void wh_redeliver_msg_handler(struct http_req *req, struct http_res *res);
void wh_redeliver_since_handler(struct http_req *req, struct http_res *res);

#endif
