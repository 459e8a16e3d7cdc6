/*
 * revbench.c - the measuring client of bench/revocation.sh (issue 10):
 * how long after a session is revoked the gateway refuses it, on each
 * kind of connection a client holds.
 *
 *   revbench -n N -o OBSERVER -r REVOKER -u USER:PASSWORD [options] BASE
 *
 * Each of N rounds logs USER in through BASE (the gateway; a new session
 * each round), opens the observer with the new access token and waits
 * until it works, revokes the session, and times from the moment the
 * revocation is done (the revoking call's answer has arrived, or the
 * store write has committed) to the moment the observer sees the
 * refusal.  Observers:
 *
 *   rest  GET /v1/users/me, polled back to back on one keep-alive
 *         connection (a 200 first): the arrival of the first 401
 *   ws    an open /v1/ws (a ping answered first): the arrival of the
 *         close frame, which must say 4401
 *   sse   a streaming POST /v1/conversations/{id}/messages to the echo
 *         model (a delta first): the arrival of `event: error`
 *
 * Revokers:
 *
 *   sessiond  POST SESSIOND/internal/sessions/{sid}/revoke with the
 *             internal secret: sessiond wakes its feed at once
 *   disable   PATCH BASE/v1/admin/users/{uid} {"disabled":true} as the
 *             admin (re-enabled after the round): userd has sessiond
 *             revoke the user's sessions, which wakes the feed
 *   store     UPDATE sessions SET revoked_at straight in sessiond's
 *             store, as another sessiond instance on the same store
 *             would: the feed sees it at its next read (every 250 ms)
 *   logout    POST BASE/v1/auth/logout with the token itself: the
 *             gateway that proxies it refuses the session at once, the
 *             feed plays no part (for comparison)
 *
 * Options: -a TOKEN, an admin's access token (disable); -S URL and
 * -i FILE, sessiond's base URL and a file holding the internal secret
 * (sessiond); -s STORE, "sqlite:PATH" of sessiond.db or the postgresql://
 * URI of the database whose schema "sessiond" holds its tables (store);
 * -w MS, how long a refusal is waited for (5000); -j MS, the revocation
 * comes a random 0..MS after the observer works (500), so that it falls
 * anywhere in the periods of the feed's reads (250 ms) and of the
 * gateway's sweep of its proxied calls (100 ms) rather than always at
 * the same point of them; -l MS, the store revoker stamps revoked_at
 * MS before its commit (a writer whose clock is behind, or whose
 * transaction waited for a lock), to probe the feed's read-back margin.
 *
 * Prints one JSON object: the counts, min/p50/p95/max of the samples in
 * microseconds (negative: the refusal arrived before the revoking call's
 * answer), every sample in ms, the refusal's code, and revoker_refused:
 * logouts answered 401 session_revoked rather than 204 (see
 * revoke_logout).  Exit 0 when every round was refused in time, 1 when
 * one was not, 2 on a usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "b64url.h"
#include "buf.h"
#include "sse-parse.h"
#include "ws-frame.h"
#include "banned.h"

#define RB_BODY_MAX (1 << 20)
#define RB_READY_MS 10000		/* an observer must work by then */
#define RB_WAIT_MS 5000			/* -w default */
#define RB_JITTER_MS 500		/* -j default */
#define RB_ID_MAX 64
#define RB_TOKEN_MAX 4096
#define RB_DETAIL_MAX 192
#define RB_ECHO_WORDS 100		/* 10 s of stream at 100 ms a word */
#define RB_WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="	/* RFC 6455's example */

enum round_state {
	RS_START,			/* observer connecting */
	RS_READY,			/* it works with the token */
	RS_REFUSED,			/* it saw the refusal: refused_us */
	RS_FAILED,			/* anything else: detail says */
};

struct store {
	sqlite3 *lite;			/* one of the two, or neither */
	PGconn *pg;
};

struct bench {
	long n;				/* rounds */
	long wait_ms;			/* for a refusal */
	long jitter_ms;			/* before the revocation */
	long late_ms;			/* store: revoked_at this far back */
	long raced;			/* logouts answered 401 */
	unsigned int seed;		/* of the jitter */
	const char *base;		/* the gateway */
	const char *user;		/* USER:PASSWORD */
	const char *admin_token;
	const char *sessiond;
	char secret[256];		/* sessiond's internal secret */
	struct store store;
	const struct observer *obs;
	const struct revoker *rev;
};

/* One round: the session under test and what its observer saw. */
struct round {
	const struct bench *b;
	char token[RB_TOKEN_MAX];	/* its access token */
	char sid[RB_ID_MAX];		/* its session */
	char uid[RB_ID_MAX];		/* its user */
	char conv[RB_ID_MAX];		/* sse: the conversation */
	pthread_mutex_t lock;		/* state, refused_us, detail */
	pthread_cond_t cond;		/* state changed */
	enum round_state state;
	int64_t refused_us;		/* monotonic */
	char detail[RB_DETAIL_MAX];	/* the refusal's code, or the failure */
	atomic_bool stop;		/* the observer must give up */
};

struct observer {
	const char *name;
	void *(*run)(void *round);	/* a thread of its own */
	bool needs_conv;
};

struct revoker {
	const char *name;
	int (*revoke)(struct bench *b, struct round *r);
	int (*after)(struct bench *b, struct round *r);	/* may be NULL */
};

/* ---- small things -------------------------------------------------- */

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000,
		.tv_nsec = (us % 1000000) * 1000,
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Copies a JSON string member into out; -1 when it is not a string or
 * does not fit. */
static int json_str(const cJSON *o, const char *name, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= len)
		return -1;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

/* The "error":{"code":...} of an error answer, "?" when there is none. */
static void error_code(const char *body, char *out, size_t len)
{
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");

	if (json_str(e, "code", out, len) < 0)
		snprintf(out, len, "%s", "?");
	cJSON_Delete(j);
}

/* ---- the round's state, shared with its observer thread ------------- */

static void round_set(struct round *r, enum round_state st, int64_t at,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Moves the round on (never back from REFUSED or FAILED). */
static void round_set(struct round *r, enum round_state st, int64_t at,
		      const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (r->state != RS_REFUSED && r->state != RS_FAILED &&
	    (st != RS_READY || r->state == RS_START)) {
		r->state = st;
		r->refused_us = at;
		va_start(ap, fmt);
		vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
		va_end(ap);
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
}

/* Waits until the state is at least st or the monotonic deadline has
 * passed; returns the state then. */
static enum round_state round_wait(struct round *r, enum round_state st,
				   int64_t deadline_us)
{
	struct timespec ts = {
		.tv_sec = deadline_us / 1000000,
		.tv_nsec = (deadline_us % 1000000) * 1000,
	};
	enum round_state now;

	pthread_mutex_lock(&r->lock);
	while (r->state < st &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &ts) != ETIMEDOUT)
		;
	now = r->state;
	pthread_mutex_unlock(&r->lock);
	return now;
}

/* ---- HTTP calls of the set-up and the revokers ---------------------- */

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	return buf_append(arg, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* One request; *status and body (NUL-terminated, may be empty) back.
 * hdr: one extra header line or NULL. */
static int http_call(const char *method, const char *url, const char *hdr,
		     const char *body, long *status, struct buf *answer)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	CURLcode cc;
	int rc = -1;

	*status = 0;
	if (!c)
		goto out;
	if (hdr)
		h = curl_slist_append(h, hdr);
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "revbench: %s %s: %s\n", method, url,
			curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (buf_append(answer, "", 1) < 0)
		goto out;
	answer->len--;
	rc = 0;
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

/* A call that must answer want; says what it got otherwise. */
static int http_expect(const char *method, const char *url, const char *hdr,
		       const char *body, long want, struct buf *answer)
{
	long status;

	if (http_call(method, url, hdr, body, &status, answer) < 0)
		return -1;
	if (status != want) {
		fprintf(stderr, "revbench: %s %s: status %ld, not %ld: "
			"%.200s\n", method, url, status, want,
			answer->data ? answer->data : "");
		return -1;
	}
	return 0;
}

/* The sid claim of an access token (its payload is not verified). */
static int token_sid(const char *token, char *out, size_t len)
{
	const char *p = strchr(token, '.'), *e;
	char payload[2048];
	size_t n;
	cJSON *j = NULL;
	int rc = -1;

	e = p ? strchr(p + 1, '.') : NULL;
	if (!e)
		goto out;
	if (b64url_decode(p + 1, (size_t)(e - p - 1), payload,
			  sizeof(payload) - 1, &n) < 0)
		goto out;
	payload[n] = '\0';
	j = cJSON_Parse(payload);
	rc = json_str(j, "sid", out, len);
out:
	cJSON_Delete(j);
	return rc;
}

/* Logs the user in: a new session, its token, sid and user id. */
static int login(const struct bench *b, struct round *r)
{
	const char *colon = strchr(b->user, ':');
	char url[512], name[128], *body = NULL;
	cJSON *req = cJSON_CreateObject(), *j = NULL;
	struct buf answer;
	int rc = -1;

	buf_init(&answer, RB_BODY_MAX);
	if (!colon || !req)
		goto out;
	snprintf(name, sizeof(name), "%.*s", (int)(colon - b->user),
		 b->user);
	cJSON_AddStringToObject(req, "username", name);
	cJSON_AddStringToObject(req, "password", colon + 1);
	body = cJSON_PrintUnformatted(req);
	snprintf(url, sizeof(url), "%s/v1/auth/login", b->base);
	if (!body || http_expect("POST", url, NULL, body, 200, &answer) < 0)
		goto out;
	j = cJSON_Parse(answer.data);
	if (json_str(j, "access_token", r->token, sizeof(r->token)) < 0 ||
	    json_str(cJSON_GetObjectItemCaseSensitive(j, "user"), "id",
		     r->uid, sizeof(r->uid)) < 0 ||
	    token_sid(r->token, r->sid, sizeof(r->sid)) < 0) {
		fprintf(stderr, "revbench: a login answer without token, "
			"user id or sid: %.200s\n", answer.data);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(req);
	cJSON_Delete(j);
	free(body);
	buf_release(&answer);
	return rc;
}

/* sse: a conversation of the round's user. */
static int new_conversation(const struct bench *b, struct round *r)
{
	char url[512], auth[RB_TOKEN_MAX + 32];
	struct buf answer;
	cJSON *j = NULL;
	int rc = -1;

	buf_init(&answer, RB_BODY_MAX);
	snprintf(url, sizeof(url), "%s/v1/conversations", b->base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
	if (http_expect("POST", url, auth, "{}", 201, &answer) < 0)
		goto out;
	j = cJSON_Parse(answer.data);
	rc = json_str(j, "id", r->conv, sizeof(r->conv));
out:
	cJSON_Delete(j);
	buf_release(&answer);
	return rc;
}

/* ---- observers ------------------------------------------------------ */

static int stop_progress(void *arg, curl_off_t dt, curl_off_t dn,
			 curl_off_t ut, curl_off_t un)
{
	struct round *r = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&r->stop) ? 1 : 0;
}

/* GET /v1/users/me back to back, one connection, until the first 401. */
static void *observe_rest(void *arg)
{
	struct round *r = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], auth[RB_TOKEN_MAX + 32], code[64];
	struct buf body;

	buf_init(&body, RB_BODY_MAX);
	if (!c) {
		round_set(r, RS_FAILED, 0, "no curl handle");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/v1/users/me", r->b->base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	while (!atomic_load(&r->stop)) {
		CURLcode cc;
		long status = 0;
		int64_t at;

		buf_reset(&body);
		cc = curl_easy_perform(c);
		at = mono_us();
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK) {
			round_set(r, RS_FAILED, 0, "GET /v1/users/me: %s",
				  curl_easy_strerror(cc));
			break;
		}
		if (status == 200) {
			round_set(r, RS_READY, 0, "polling");
			continue;
		}
		if (buf_append(&body, "", 1) < 0)
			break;
		error_code(body.data, code, sizeof(code));
		if (status == 401)
			round_set(r, RS_REFUSED, at, "%s", code);
		else
			round_set(r, RS_FAILED, 0, "GET /v1/users/me: %ld %s",
				  status, code);
		break;
	}
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	buf_release(&body);
	return NULL;
}

/* A connected TCP socket to BASE's host and port, or -1. */
static int connect_base(const char *base)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int fd = -1;

	if (sscanf(base, "http://%255[^:/]:%15[0-9]", host, port) != 2)
		return -1;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads what fd has within 100 ms: > 0 bytes, 0 nothing yet, -1 the
 * end or an error. */
static ssize_t recv_some(int fd, void *out, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = poll(&pfd, 1, 100);
	ssize_t got;

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0)
		return 0;
	got = recv(fd, out, len, 0);
	return got > 0 ? got : -1;
}

/* A whole frame from the server: REFUSED on its close, READY on the
 * pong; 1 when the round is decided. */
static int ws_frame_done(struct round *r, int opcode, const struct buf *f,
			 int64_t at)
{
	int code;

	if (opcode == WS_OP_TEXT && f->len &&
	    memmem(f->data, f->len, "\"pong\"", 6)) {
		round_set(r, RS_READY, 0, "open");
		return 0;
	}
	if (opcode != WS_OP_CLOSE)
		return 0;
	if (ws_frame_close_code((const unsigned char *)f->data, f->len,
				&code) != 0)
		code = 1002;
	if (code == 4401)
		round_set(r, RS_REFUSED, at, "4401 %.*s",
			  f->len > 2 ? (int)f->len - 2 : 0,
			  f->len > 2 ? f->data + 2 : "");
	else
		round_set(r, RS_FAILED, 0, "closed with %d", code);
	return 1;
}

/* /v1/ws: the upgrade, a ping, then frames until the close. */
static void *observe_ws(void *arg)
{
	static const char ping[] = "{\"type\":\"ping\",\"ref\":\"revbench\"}";
	struct round *r = arg;
	struct ws_frame_parser fp = { .masked_in = false };
	unsigned char in[16384], hdr[WS_FRAME_MAX_HEADER], mask[4] = {
		0x12, 0x34, 0x56, 0x78 };
	unsigned char payload[sizeof(ping)];
	struct buf head, frame;
	char *end;
	size_t hlen, rest;
	int fd = connect_base(r->b->base), status;
	bool decided = false;

	buf_init(&head, 16384);
	buf_init(&frame, RB_BODY_MAX);
	if (fd < 0) {
		round_set(r, RS_FAILED, 0, "cannot connect to the gateway");
		goto out;
	}
	if (buf_printf(&head, "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\n"
		       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		       "Authorization: Bearer %s\r\n\r\n",
		       RB_WS_KEY, r->token) < 0 ||
	    send_all(fd, head.data, head.len) < 0) {
		round_set(r, RS_FAILED, 0, "cannot send the upgrade");
		goto out;
	}
	/* the 101 head; what follows it already is frames */
	buf_reset(&head);
	end = NULL;
	while (!end && !atomic_load(&r->stop)) {
		ssize_t n = recv_some(fd, in, sizeof(in));

		if (n < 0 || buf_append(&head, in, (size_t)n) < 0) {
			round_set(r, RS_FAILED, 0, "no answer to the upgrade");
			goto out;
		}
		if (head.len)
			end = memmem(head.data, head.len, "\r\n\r\n", 4);
	}
	if (!end)
		goto out;
	hlen = (size_t)(end - head.data) + 4;
	if (ws_frame_check_101(head.data, hlen, RB_WS_KEY, &status) != 0) {
		round_set(r, RS_FAILED, 0, "upgrade refused: %d", status);
		goto out;
	}
	rest = head.len - hlen;
	memcpy(in, head.data + hlen, rest);
	/* a ping the server answers once the upstream is there too */
	memcpy(payload, ping, sizeof(ping) - 1);
	ws_frame_mask(payload, sizeof(ping) - 1, mask, 0);
	if (send_all(fd, hdr, ws_frame_header(hdr, WS_OP_TEXT, true,
					      sizeof(ping) - 1, mask)) < 0 ||
	    send_all(fd, payload, sizeof(ping) - 1) < 0) {
		round_set(r, RS_FAILED, 0, "cannot send the ping");
		goto out;
	}
	while (!decided && !atomic_load(&r->stop)) {
		ssize_t n = rest ? (ssize_t)rest :
				   recv_some(fd, in, sizeof(in));
		int64_t at = mono_us();
		unsigned char *p = in;
		size_t len;

		rest = 0;
		if (n < 0) {
			round_set(r, RS_FAILED, 0,
				  "closed without a close frame");
			break;
		}
		len = (size_t)n;
		while (len && !decided) {
			struct ws_frame_event ev;
			long used = ws_frame_feed(&fp, p, len, &ev);

			if (used < 0) {
				round_set(r, RS_FAILED, 0, "bad frame: %ld",
					  -used);
				decided = true;
				break;
			}
			p += used;
			len -= (size_t)used;
			if (!ev.data)
				continue;
			if (ev.start)
				buf_reset(&frame);
			if (ev.len &&
			    buf_append(&frame, ev.bytes, ev.len) < 0) {
				round_set(r, RS_FAILED, 0, "frame too big");
				decided = true;
				break;
			}
			if (ev.end && ev.fin)
				decided = ws_frame_done(r, ev.opcode, &frame,
							at) != 0;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	buf_release(&head);
	buf_release(&frame);
	return NULL;
}

static int sse_event(void *arg, const struct sse_event *ev)
{
	struct round *r = arg;
	int64_t at = mono_us();
	char code[64];

	if (strcmp(ev->event, "delta") == 0) {
		round_set(r, RS_READY, 0, "streaming");
		return 0;
	}
	if (strcmp(ev->event, "error") == 0) {
		error_code(ev->data, code, sizeof(code));
		round_set(r, RS_REFUSED, at, "%s", code);
		return 1;
	}
	if (strcmp(ev->event, "done") == 0) {
		round_set(r, RS_FAILED, 0, "the answer ended first");
		return 1;
	}
	return 0;
}

static size_t sse_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sse_parser *p = arg;

	return sse_parse_feed(p, data, size * nmemb) == 0 ? size * nmemb : 0;
}

/* A streamed answer of the echo model, long enough to outlive the
 * round, until its error event. */
static void *observe_sse(void *arg)
{
	struct round *r = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct sse_parser p;
	char url[512], auth[RB_TOKEN_MAX + 32];
	struct buf text;
	char *body = NULL;
	cJSON *req = cJSON_CreateObject();
	CURLcode cc;
	int i;

	buf_init(&text, RB_BODY_MAX);
	sse_parse_init(&p, 0, sse_event, NULL, r);
	for (i = 1; i <= RB_ECHO_WORDS; i++)
		if (buf_printf(&text, "word%d ", i) < 0)
			break;
	if (i > RB_ECHO_WORDS && req &&
	    cJSON_AddStringToObject(req, "content", text.data) &&
	    cJSON_AddStringToObject(req, "model", "echo"))
		body = cJSON_PrintUnformatted(req);
	if (!c || !body) {
		round_set(r, RS_FAILED, 0, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/v1/conversations/%s/messages",
		 r->b->base, r->conv);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: text/event-stream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &p);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	cc = curl_easy_perform(c);
	/* the error event stops the transfer (a write error): it decided */
	round_set(r, RS_FAILED, 0, "the stream ended without an error "
		  "event: %s", curl_easy_strerror(cc));
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	cJSON_Delete(req);
	free(body);
	buf_release(&text);
	sse_parse_release(&p);
	return NULL;
}

/* ---- revokers ------------------------------------------------------- */

static int revoke_sessiond(struct bench *b, struct round *r)
{
	char url[512], hdr[300];
	struct buf answer;
	int rc;

	buf_init(&answer, RB_BODY_MAX);
	snprintf(url, sizeof(url), "%s/internal/sessions/%s/revoke",
		 b->sessiond, r->sid);
	snprintf(hdr, sizeof(hdr), "X-Chat-Internal: %s", b->secret);
	rc = http_expect("POST", url, hdr, NULL, 204, &answer);
	buf_release(&answer);
	return rc;
}

static int set_disabled(struct bench *b, struct round *r, bool disabled)
{
	char url[512], auth[RB_TOKEN_MAX + 32];
	struct buf answer;
	int rc;

	buf_init(&answer, RB_BODY_MAX);
	snprintf(url, sizeof(url), "%s/v1/admin/users/%s", b->base, r->uid);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		 b->admin_token);
	rc = http_expect("PATCH", url, auth, disabled ?
			 "{\"disabled\":true}" : "{\"disabled\":false}",
			 200, &answer);
	buf_release(&answer);
	return rc;
}

static int revoke_disable(struct bench *b, struct round *r)
{
	return set_disabled(b, r, true);
}

static int enable_again(struct bench *b, struct round *r)
{
	return set_disabled(b, r, false);
}

/* The logout is done when it answers 204, and also when it answers 401
 * session_revoked: the gateway heard of the revocation on the feed
 * before userd's answer came, and cut the logout call itself as one
 * more call of the revoked session.  That is counted (raced). */
static int revoke_logout(struct bench *b, struct round *r)
{
	char url[512], auth[RB_TOKEN_MAX + 32], code[64];
	struct buf answer;
	long status;
	int rc = -1;

	buf_init(&answer, RB_BODY_MAX);
	snprintf(url, sizeof(url), "%s/v1/auth/logout", b->base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
	if (http_call("POST", url, auth, "{}", &status, &answer) < 0)
		goto out;
	error_code(answer.data, code, sizeof(code));
	if (status == 204) {
		rc = 0;
	} else if (status == 401 && strcmp(code, "session_revoked") == 0) {
		b->raced++;
		rc = 0;
	} else {
		fprintf(stderr, "revbench: POST %s: status %ld: %.200s\n",
			url, status, answer.data);
	}
out:
	buf_release(&answer);
	return rc;
}

static int store_lite(struct bench *b, struct round *r, int64_t at)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(b->store.lite, "UPDATE sessions SET "
			       "revoked_at = ?1, revoke_reason = 'bench' "
			       "WHERE id = ?2 AND revoked_at IS NULL",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, at);
	sqlite3_bind_text(st, 2, r->sid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE &&
	    sqlite3_changes(b->store.lite) == 1)
		rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "revbench: store write: %s\n",
			sqlite3_errmsg(b->store.lite));
	sqlite3_finalize(st);
	return rc;
}

static int store_pg(struct bench *b, struct round *r, int64_t at)
{
	char ms[32];
	const char *params[2] = { ms, r->sid };
	PGresult *res;
	int rc = -1;

	snprintf(ms, sizeof(ms), "%lld", (long long)at);
	res = PQexecParams(b->store.pg, "UPDATE sessiond.sessions SET "
			   "revoked_at = $1, revoke_reason = 'bench' "
			   "WHERE id = $2 AND revoked_at IS NULL",
			   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdTuples(res), "1") == 0)
		rc = 0;
	else
		fprintf(stderr, "revbench: store write: %s\n",
			PQerrorMessage(b->store.pg));
	PQclear(res);
	return rc;
}

/* What another sessiond instance does: the row, committed, nothing
 * else (autocommit). */
static int revoke_store(struct bench *b, struct round *r)
{
	if (b->store.lite)
		return store_lite(b, r, wall_ms() - b->late_ms);
	if (b->store.pg)
		return store_pg(b, r, wall_ms() - b->late_ms);
	fputs("revbench: the store revoker needs -s STORE\n", stderr);
	return -1;
}

static int store_open(struct store *s, const char *spec)
{
	if (strncmp(spec, "sqlite:", 7) == 0) {
		if (sqlite3_open_v2(spec + 7, &s->lite, SQLITE_OPEN_READWRITE,
				    NULL) != SQLITE_OK) {
			fprintf(stderr, "revbench: cannot open '%s': %s\n",
				spec + 7, sqlite3_errmsg(s->lite));
			return -1;
		}
		sqlite3_busy_timeout(s->lite, 5000);
		return 0;
	}
	s->pg = PQconnectdb(spec);
	if (PQstatus(s->pg) != CONNECTION_OK) {
		fprintf(stderr, "revbench: cannot connect to '%s': %s\n",
			spec, PQerrorMessage(s->pg));
		return -1;
	}
	return 0;
}

static void store_close(struct store *s)
{
	if (s->lite)
		sqlite3_close(s->lite);
	if (s->pg)
		PQfinish(s->pg);
}

/* ---- rounds --------------------------------------------------------- */

/* One round: 0 and *sample when refused in time, 1 when not (detail
 * says why), -1 when the set-up or the revocation failed. */
static int run_round(struct bench *b, int64_t *sample, char *detail,
		     size_t dlen)
{
	struct round *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	pthread_t th;
	bool started = false;
	enum round_state st;
	int64_t t0;
	int rc = -1;

	if (!r)
		return -1;
	r->b = b;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (login(b, r) < 0 ||
	    (b->obs->needs_conv && new_conversation(b, r) < 0))
		goto out;
	if (pthread_create(&th, NULL, b->obs->run, r) != 0)
		goto out;
	started = true;
	st = round_wait(r, RS_READY, mono_us() + RB_READY_MS * 1000);
	if (st != RS_READY) {
		fprintf(stderr, "revbench: the %s observer did not start: %s\n",
			b->obs->name, st == RS_START ? "timeout" : r->detail);
		goto out;
	}
	if (b->jitter_ms > 0)
		sleep_us((int64_t)(rand_r(&b->seed) % b->jitter_ms) * 1000 +
			 rand_r(&b->seed) % 1000);
	if (b->rev->revoke(b, r) < 0)
		goto out;
	t0 = mono_us();
	st = round_wait(r, RS_REFUSED, t0 + b->wait_ms * 1000);
	pthread_mutex_lock(&r->lock);
	snprintf(detail, dlen, "%s", r->detail);
	if (st == RS_REFUSED) {
		*sample = r->refused_us - t0;
		rc = 0;
	} else {
		if (st < RS_REFUSED)
			snprintf(detail, dlen, "no refusal within %ld ms",
				 b->wait_ms);
		rc = 1;
	}
	pthread_mutex_unlock(&r->lock);
out:
	if (started) {
		atomic_store(&r->stop, true);
		pthread_join(th, NULL);
	}
	if (rc >= 0 && b->rev->after && b->rev->after(b, r) < 0)
		rc = -1;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
}

static const struct observer observers[] = {
	{ "rest", observe_rest, false },
	{ "ws", observe_ws, false },
	{ "sse", observe_sse, true },
};

static const struct revoker revokers[] = {
	{ "sessiond", revoke_sessiond, NULL },
	{ "disable", revoke_disable, enable_again },
	{ "store", revoke_store, NULL },
	{ "logout", revoke_logout, NULL },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void usage(void)
{
	fputs("usage: revbench -n N -o rest|ws|sse "
	      "-r sessiond|disable|store|logout\n"
	      "                -u USER:PASSWORD [-a ADMIN-TOKEN] "
	      "[-S SESSIOND-URL -i SECRET-FILE]\n"
	      "                [-s sqlite:PATH|postgresql://...] [-w MS] "
	      "[-j MS] [-l MS] BASE\n",
	      stderr);
}

static int read_secret(struct bench *b, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "revbench: cannot open '%s'\n", path);
		return -1;
	}
	n = fread(b->secret, 1, sizeof(b->secret) - 1, f);
	fclose(f);
	while (n && (b->secret[n - 1] == '\n' || b->secret[n - 1] == '\r'))
		n--;
	b->secret[n] = '\0';
	return n ? 0 : -1;
}

/* The report: counts, order statistics, every sample. */
static void report(const struct bench *b, int64_t *v, long n, long missed,
		   const char *detail)
{
	cJSON *o = cJSON_CreateObject(), *all;
	char *s;
	long i;

	cJSON_AddStringToObject(o, "observer", b->obs->name);
	cJSON_AddStringToObject(o, "revoker", b->rev->name);
	cJSON_AddNumberToObject(o, "rounds", (double)b->n);
	cJSON_AddNumberToObject(o, "refused", (double)n);
	cJSON_AddNumberToObject(o, "missed", (double)missed);
	cJSON_AddNumberToObject(o, "revoker_refused", (double)b->raced);
	cJSON_AddStringToObject(o, "refusal", detail);
	if (n > 0) {
		qsort(v, (size_t)n, sizeof(*v), cmp_i64);
		cJSON_AddNumberToObject(o, "min_us", (double)v[0]);
		cJSON_AddNumberToObject(o, "p50_us",
					(double)v[(n - 1) * 50 / 100]);
		cJSON_AddNumberToObject(o, "p95_us",
					(double)v[(n - 1) * 95 / 100]);
		cJSON_AddNumberToObject(o, "max_us", (double)v[n - 1]);
	}
	all = cJSON_AddArrayToObject(o, "samples_ms");
	for (i = 0; i < n && all; i++)
		cJSON_AddItemToArray(all, cJSON_CreateNumber(
			(double)(v[i] / 10) / 100.0));
	s = cJSON_PrintUnformatted(o);
	if (s)
		puts(s);
	free(s);
	cJSON_Delete(o);
}

int main(int argc, char **argv)
{
	struct bench b = { .wait_ms = RB_WAIT_MS, .jitter_ms = RB_JITTER_MS };
	const char *obs = NULL, *rev = NULL, *store = NULL, *secret = NULL;
	char detail[RB_DETAIL_MAX] = "", last[RB_DETAIL_MAX] = "";
	int64_t *samples = NULL;
	long i, n = 0, missed = 0;
	int ch, rc = 2;
	size_t k;

	while ((ch = getopt(argc, argv, "n:o:r:u:a:S:i:s:w:j:l:")) != -1) {
		if (ch == 'n')
			b.n = strtol(optarg, NULL, 10);
		else if (ch == 'o')
			obs = optarg;
		else if (ch == 'r')
			rev = optarg;
		else if (ch == 'u')
			b.user = optarg;
		else if (ch == 'a')
			b.admin_token = optarg;
		else if (ch == 'S')
			b.sessiond = optarg;
		else if (ch == 'i')
			secret = optarg;
		else if (ch == 's')
			store = optarg;
		else if (ch == 'w')
			b.wait_ms = strtol(optarg, NULL, 10);
		else if (ch == 'j')
			b.jitter_ms = strtol(optarg, NULL, 10);
		else if (ch == 'l')
			b.late_ms = strtol(optarg, NULL, 10);
		else
			goto usage;
	}
	for (k = 0; obs && k < NELEM(observers); k++)
		if (strcmp(obs, observers[k].name) == 0)
			b.obs = &observers[k];
	for (k = 0; rev && k < NELEM(revokers); k++)
		if (strcmp(rev, revokers[k].name) == 0)
			b.rev = &revokers[k];
	if (optind != argc - 1 || b.n <= 0 || b.wait_ms <= 0 ||
	    b.jitter_ms < 0 || b.late_ms < 0 || !b.obs ||
	    !b.rev || !b.user || !strchr(b.user, ':') ||
	    (b.rev->revoke == revoke_disable && !b.admin_token) ||
	    (b.rev->revoke == revoke_sessiond && (!b.sessiond || !secret)) ||
	    (b.rev->revoke == revoke_store && !store))
		goto usage;
	b.base = argv[optind];
	b.seed = (unsigned int)mono_us();
	if ((secret && read_secret(&b, secret) < 0) ||
	    (store && store_open(&b.store, store) < 0))
		goto out;
	samples = calloc((size_t)b.n, sizeof(*samples));
	if (!samples)
		goto out;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < b.n; i++) {
		int r = run_round(&b, &samples[n], detail, sizeof(detail));

		if (r < 0) {
			fprintf(stderr, "revbench: %s/%s: round %ld failed\n",
				obs, rev, i + 1);
			curl_global_cleanup();
			goto out;
		}
		if (r == 0) {
			n++;
			snprintf(last, sizeof(last), "%s", detail);
		} else {
			missed++;
			fprintf(stderr, "revbench: %s/%s: round %ld: %s\n",
				obs, rev, i + 1, detail);
		}
	}
	curl_global_cleanup();
	report(&b, samples, n, missed, last);
	rc = missed ? 1 : 0;
	goto out;
usage:
	usage();
out:
	store_close(&b.store);
	free(samples);
	return rc;
}
