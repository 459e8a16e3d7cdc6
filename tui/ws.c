/*
 * ws.c - chatui's WebSocket thread: keeps /v1/ws of the gateway open
 * with the access token in the Authorization header, posts every frame
 * (parsed) to the UI, sends the frames the UI queues, and after a close
 * reconnects with exponential backoff and jitter, resuming with
 * ?last_event_id= (the highest event id seen) so that nothing is missed
 * and nothing comes twice.
 *
 * A libwebsockets client context of its own, served by this thread only;
 * other threads touch the queue under mu and wake the loop with
 * lws_cancel_service().  lws carries the connection (TCP, TLS for
 * https) as a raw socket; the handshake and the frames are ours
 * (ws-frame.h), the same codec the server reads with, fuzzed in both
 * roles.  A 401 (refused upgrade or close 4401) makes the next attempt
 * refresh the token first.
 *
 * Token lifetime: the gateway closes a socket (4401 "token_expired")
 * when the access token it was opened with expires, unless a fresh one
 * arrives in-band.  So, while open, when less than a third of the
 * token's lifetime (at most 60 s) is left, a fresh token is sent as
 * {"type":"auth","ref":R,"token":...}; the gateway answers "auth_ok"
 * (the socket now lives by the new token) or an error (then we close and
 * reconnect with a forced refresh).  A 4401 that says the session itself
 * is over ("session_revoked", "credential_revoked") is final: the UI is
 * told (EV_AUTH_LOST) and nothing is tried until a login kicks us.
 *
 * Tokens come from auth.c, whose refresh is a blocking HTTP call: it
 * runs on a short-lived helper thread (struct ui_ws_token), one at a time,
 * whose answer is picked up by ui_ws_tick, so that this thread never waits
 * on the network and keeps reading frames meanwhile.
 */
#include "chatui.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "b64url.h"
#include "err.h"
#include "util.h"
#include "ws-frame.h"
#include "banned.h"

#define WS_FRAME_MAX (8u * 1024 * 1024)
#define WS_HEAD_MAX (16u * 1024)	/* the server's answer to the upgrade */
#define WS_HANDSHAKE_S 10
#define WS_TICK_US (100 * LWS_US_PER_MS)
#define WS_TOKEN_MAX 4096
#define WS_RENEW_MARGIN_MS 60000	/* renew at most this long before */
#define WS_RENEW_RETRY_MS 5000		/* after a failed renewal */
#define WS_AUTH_FMT "{\"type\":\"auth\",\"ref\":\"%s\",\"token\":\"%s\"}"

/* The token helper: a short-lived thread asking auth.c for a token, for
 * a connection (renew false) or for the open socket (renew true).  The
 * job is set before the thread starts; the answer is under mu until
 * done, and the thread is joined once done is seen. */
struct ui_ws_token {
	pthread_t thread;
	bool running;			/* started, not joined (ws thread) */
	bool renew;			/* the job: what for */
	bool force;			/* ui_auth_token_ex's force and after */
	int64_t after;
	unsigned gen;			/* renew: the connection it is for */
	struct auth *auth;
	struct lws_context *ctx;	/* woken when done */
	pthread_mutex_t mu;
	bool done;			/* under mu */
	int rc;				/* the answer, read after the join */
	char token[WS_TOKEN_MAX];	/* wiped once used */
	int64_t expires_at;		/* unix seconds (the login's record) */
	char err[256];
};

/* 4401 reasons no refresh can cure: the session (or API key) is gone. */
static const char *const ui_ws_final_reasons[] = {
	"session_revoked",
	"credential_revoked",
};

/* The thread's own state (touched by the ws thread only). */
struct ui_ws_conn {
	struct ws *w;
	struct lws_context *ctx;
	struct lws *wsi;
	bool connecting, opened;
	bool force_refresh;		/* the server called the token bad */
	unsigned attempt;		/* failures since the last open */
	int64_t retry_at;		/* mono_ms of the next try, 0 now */
	int close_code;
	char close_reason[64];		/* of the server's close frame */
	bool ended;			/* the session is over: no retry */
	char ended_why[256];		/* for the login screen */
	char token[WS_TOKEN_MAX];
	char address[512];
	char path[1200];
	char prefix[256];		/* the server URL's path, no / end */
	int port;
	bool tls;
	struct buf rx;
	unsigned seed;
	lws_sorted_usec_list_t tick;
	struct ui_ws_token tok;
	/* the token of the open socket (reset by ui_ws_connect) */
	unsigned gen;			/* counts connections */
	int64_t tok_expires_at;		/* unix s, as the login records it */
	int64_t tok_exp_ms;		/* wall ms: the earlier of that and
					 * the token's exp claim; 0 unknown */
	int64_t tok_life_ms;		/* its lifetime when we got it */
	int64_t renew_at;		/* mono_ms to renew it; 0 none */
	unsigned auth_seq;
	char auth_ref[32];		/* our auth frame's ref, "" none */
	struct ui_ws_out *auth_out;	/* that frame, to send (holds the
					 * token: wiped when freed) */
	int64_t auth_expires_at, auth_exp_ms, auth_life_ms;	/* its token */
	/* the connection in progress (reset by ui_ws_connect) */
	bool live;			/* ws_closed not yet called for it */
	char key[32];			/* Sec-WebSocket-Key sent */
	struct buf head;		/* the server's answer, until whole */
	struct ws_frame_parser fp;
	unsigned char ctl[WS_CONTROL_MAX];	/* a control frame's payload */
	size_t ctl_len;
	unsigned char pong[WS_CONTROL_MAX];
	size_t pong_len;
	bool pong_due;
	int close_out;			/* close code to send; 0: none */
	bool close_sent;
};

static struct ui_ws_conn *ui_ws_the_conn;	/* for the lws callback */

static void ui_ws_tick(lws_sorted_usec_list_t *sul);

/* ---- pure parts (tests/unit/test-tui-ws.c) ---- */

int64_t ui_ws_token_exp(const char *token)
{
	const char *p = strchr(token, '.'), *q;
	char json[2048];
	const cJSON *exp;
	cJSON *o;
	size_t n;
	int64_t v = 0;

	q = p ? strchr(p + 1, '.') : NULL;
	if (!q || b64url_decode(p + 1, (size_t)(q - p - 1), json,
				sizeof(json), &n) < 0)
		return 0;
	o = cJSON_ParseWithLength(json, n);
	exp = cJSON_GetObjectItemCaseSensitive(o, "exp");
	/* a unix time in seconds this side of the year 33658 */
	if (cJSON_IsNumber(exp) && exp->valuedouble >= 1 &&
	    exp->valuedouble < 1e12)
		v = (int64_t)exp->valuedouble;
	cJSON_Delete(o);
	return v;
}

int64_t ui_ws_renew_in_ms(int64_t left_ms, int64_t life_ms)
{
	int64_t margin = life_ms / 3;

	if (margin > WS_RENEW_MARGIN_MS)
		margin = WS_RENEW_MARGIN_MS;
	if (margin < 0)
		margin = 0;
	return left_ms - margin > 0 ? left_ms - margin : 0;
}

int ui_ws_auth_answer(const cJSON *frame, const char *ref,
		      int64_t *expires_in_s)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(frame, "type");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(frame, "ref");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(frame, "data");
	const cJSON *ei = cJSON_GetObjectItemCaseSensitive(data,
							   "expires_in");

	*expires_in_s = -1;
	if (!ref[0] || !cJSON_IsString(type) || !cJSON_IsString(r) ||
	    strcmp(r->valuestring, ref) != 0)
		return 0;
	if (strcmp(type->valuestring, "error") == 0)
		return -1;
	if (strcmp(type->valuestring, "auth_ok") != 0)
		return 0;
	if (cJSON_IsNumber(ei) && ei->valuedouble >= 0 &&
	    ei->valuedouble <= 366.0 * 86400)
		*expires_in_s = (int64_t)ei->valuedouble;
	return 1;
}

bool ui_ws_close_is_final(int code, const char *reason)
{
	size_t i;

	if (code != 4401)
		return false;
	for (i = 0; i < sizeof(ui_ws_final_reasons) /
			sizeof(ui_ws_final_reasons[0]); i++)
		if (strcmp(reason, ui_ws_final_reasons[i]) == 0)
			return true;
	return false;
}

/* ---- the connection ---- */

int64_t ui_ws_backoff_ms(unsigned attempt, double rnd)
{
	int64_t base = 500;
	double j;

	while (attempt-- > 0 && base < 15000)
		base *= 2;
	if (base > 15000)
		base = 15000;
	j = 0.75 + 0.5 * rnd;	/* +-25 % */
	return (int64_t)((double)base * j);
}

static void ui_ws_post_state(struct ui_ws_conn *c, enum ui_ws_state s)
{
	struct ui_event *ev = ui_event_new(EV_WS_STATE);

	if (!ev)
		return;
	ev->ws_state = s;
	ev->retry_at_ms = c->retry_at;
	ev->status = c->close_code;
	evq_post(c->w->evq, ev);
}

/* The next attempt after a backoff. */
static void ui_ws_retry_later(struct ui_ws_conn *c)
{
	double rnd = (double)rand_r(&c->seed) / (double)RAND_MAX;

	c->retry_at = mono_ms() + ui_ws_backoff_ms(c->attempt, rnd);
	c->attempt++;
	ui_ws_post_state(c, WS_WAITING);
}

/* The login is gone (why: for the login screen): idle until a login
 * kicks us. */
static void ui_ws_auth_lost(struct ui_ws_conn *c, const char *why)
{
	struct ui_event *ev = ui_event_new(EV_AUTH_LOST);

	if (ev) {
		snprintf(ev->message, sizeof(ev->message), "%s", why);
		evq_post(c->w->evq, ev);
	}
	c->retry_at = -1;
	ui_ws_post_state(c, WS_IDLE);
}

static void ui_ws_free_auth_out(struct ui_ws_conn *c)
{
	if (!c->auth_out)
		return;
	memset(c->auth_out->data, 0, LWS_PRE + c->auth_out->len);
	free(c->auth_out);
	c->auth_out = NULL;
}

static void ui_ws_closed(struct ui_ws_conn *c)
{
	if (!c->live)
		return;		/* a failed connect reports twice */
	c->live = false;
	buf_release(&c->head);
	c->wsi = NULL;
	c->connecting = false;
	memset(c->token, 0, sizeof(c->token));
	ui_ws_free_auth_out(c);
	c->auth_ref[0] = '\0';
	c->renew_at = 0;
	if (c->opened)
		c->attempt = 0;
	c->opened = false;
	pthread_mutex_lock(&c->w->mu);
	c->w->open = false;
	pthread_mutex_unlock(&c->w->mu);
	if (c->ended) {
		c->ended = false;
		ui_ws_auth_lost(c, c->ended_why);
		return;
	}
	ui_ws_retry_later(c);
}

/* When a token given by auth.c (expires_at: the login's record) ends,
 * in wall ms: the earlier of the record and the token's own exp claim
 * (the record is up to a second late, the claim off by any clock
 * skew); and its lifetime from now. */
static void ui_ws_token_times(const char *token, int64_t expires_at,
			      int64_t *exp_ms, int64_t *life_ms)
{
	int64_t claim = ui_ws_token_exp(token);

	*exp_ms = expires_at * 1000;
	if (claim && claim * 1000 < *exp_ms)
		*exp_ms = claim * 1000;
	*life_ms = *exp_ms - now_ms();
}

/* The open socket's token is known: when to renew it. */
static void ui_ws_schedule_renew(struct ui_ws_conn *c)
{
	c->renew_at = c->tok_exp_ms ?
		      mono_ms() + ui_ws_renew_in_ms(c->tok_exp_ms - now_ms(),
						    c->tok_life_ms) : 0;
}

/* The gateway's answer to our auth frame: 1 auth_ok (expires_in_s: what
 * it says is left, -1 unsaid), -1 refused: close, and reconnect with a
 * fresh token (the old one may be what it refused). */
static void ui_ws_auth_answered(struct ui_ws_conn *c, int rc,
				int64_t expires_in_s)
{
	int64_t by_gateway;

	c->auth_ref[0] = '\0';
	if (rc < 0) {
		c->force_refresh = true;
		if (!c->close_out && c->wsi) {
			c->close_out = 1000;
			lws_callback_on_writable(c->wsi);
		}
		return;
	}
	c->tok_expires_at = c->auth_expires_at;
	c->tok_exp_ms = c->auth_exp_ms;
	c->tok_life_ms = c->auth_life_ms;
	/* the gateway rounds down: never later than what it counts */
	by_gateway = now_ms() + expires_in_s * 1000;
	if (expires_in_s >= 0 && by_gateway < c->tok_exp_ms)
		c->tok_exp_ms = by_gateway;
	ui_ws_schedule_renew(c);
}

static void ui_ws_frame(struct ui_ws_conn *c)
{
	struct ui_event *ev;
	const cJSON *id;
	cJSON *json;
	uint64_t n;

	json = cJSON_ParseWithLength(c->rx.data, c->rx.len);
	buf_reset(&c->rx);
	if (!cJSON_IsObject(json)) {
		cJSON_Delete(json);
		return;
	}
	if (c->auth_ref[0]) {
		int64_t expires_in;
		int rc = ui_ws_auth_answer(json, c->auth_ref, &expires_in);

		if (rc != 0) {
			cJSON_Delete(json);
			ui_ws_auth_answered(c, rc, expires_in);
			return;
		}
	}
	id = cJSON_GetObjectItemCaseSensitive(json, "id");
	if (cJSON_IsString(id)) {
		n = strtoull(id->valuestring, NULL, 10);
		pthread_mutex_lock(&c->w->mu);
		if (n > c->w->last_event_id)
			c->w->last_event_id = n;
		pthread_mutex_unlock(&c->w->mu);
	}
	ev = ui_event_new(EV_WS_FRAME);
	if (!ev) {
		cJSON_Delete(json);
		return;
	}
	ev->json = json;
	evq_post(c->w->evq, ev);
}

/* Writes one masked frame (a client's frames are masked). */
static int ui_ws_send_frame(struct lws *wsi, int opcode, const void *data,
			    size_t len)
{
	unsigned char mask[4], *buf;
	size_t h;
	int n;

	if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask))
		return -1;
	buf = malloc(LWS_PRE + WS_FRAME_MAX_HEADER + len);
	if (!buf)
		return -1;
	h = ws_frame_header(buf + LWS_PRE, opcode, true, len, mask);
	if (len)
		memcpy(buf + LWS_PRE + h, data, len);
	ws_frame_mask(buf + LWS_PRE + h, len, mask, 0);
	n = lws_write(wsi, buf + LWS_PRE, h + len, LWS_WRITE_RAW);
	memset(buf + LWS_PRE + h, 0, len);	/* an auth frame's token */
	free(buf);
	return n < (int)(h + len) ? -1 : 0;
}

static int ui_ws_writable(struct ui_ws_conn *c, struct lws *wsi)
{
	struct ui_ws_out *o;
	int rc;

	if (c->close_sent)
		return -1;		/* our close went out: done */
	if (c->pong_due) {
		c->pong_due = false;
		if (ui_ws_send_frame(wsi, WS_OP_PONG, c->pong, c->pong_len))
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_out) {
		unsigned char code[2] = { (unsigned char)(c->close_out >> 8),
					  (unsigned char)c->close_out };

		c->close_sent = true;
		if (ui_ws_send_frame(wsi, WS_OP_CLOSE, code, 2))
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!c->opened)
		return 0;
	if (c->auth_out) {		/* before the UI's frames: it is due */
		rc = ui_ws_send_frame(wsi, WS_OP_TEXT,
				      c->auth_out->data + LWS_PRE,
				      c->auth_out->len);
		ui_ws_free_auth_out(c);
		if (rc)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	pthread_mutex_lock(&c->w->mu);
	o = c->w->head;
	if (o) {
		c->w->head = o->next;
		if (!c->w->head)
			c->w->tail = NULL;
	}
	pthread_mutex_unlock(&c->w->mu);
	if (!o)
		return 0;
	rc = ui_ws_send_frame(wsi, WS_OP_TEXT, o->data + LWS_PRE, o->len);
	free(o);
	if (rc)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* The TCP (and TLS) connection is up: the upgrade request, with the
 * token, which is wiped from memory right after. */
static int ui_ws_handshake(struct ui_ws_conn *c, struct lws *wsi)
{
	unsigned char nonce[16];
	struct buf b;
	int rc;

	if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce) ||
	    lws_b64_encode_string((const char *)nonce, sizeof(nonce), c->key,
				  sizeof(c->key)) != 24)
		return -1;
	buf_init(&b, 16 * 1024);
	rc = buf_printf(&b, "%*sGET %s HTTP/1.1\r\nHost: %s:%d\r\n"
			"Upgrade: websocket\r\nConnection: Upgrade\r\n"
			"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
			"Authorization: Bearer %s\r\n\r\n", LWS_PRE, "",
			c->path, c->address, c->port, c->key, c->token);
	memset(c->token, 0, sizeof(c->token));
	if (rc == 0 && lws_write(wsi, (unsigned char *)b.data + LWS_PRE,
				 b.len - LWS_PRE, LWS_WRITE_RAW) <
			       (int)(b.len - LWS_PRE))
		rc = -1;
	if (b.data)
		memset(b.data, 0, b.len);
	buf_release(&b);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WS_HANDSHAKE_S);
	return rc ? -1 : 0;
}

static void ui_ws_established(struct ui_ws_conn *c, struct lws *wsi)
{
	c->opened = true;
	c->connecting = false;
	c->force_refresh = false;
	c->close_code = 0;
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	ui_ws_schedule_renew(c);
	pthread_mutex_lock(&c->w->mu);
	c->w->open = true;
	pthread_mutex_unlock(&c->w->mu);
	ui_ws_post_state(c, WS_OPEN);
	lws_callback_on_writable(wsi);
}

/* A whole control frame from the server; -1 closes now. */
static int ui_ws_control(struct ui_ws_conn *c, struct lws *wsi, int opcode)
{
	size_t n;
	int code;

	if (opcode == WS_OP_PING) {
		memcpy(c->pong, c->ctl, c->ctl_len);
		c->pong_len = c->ctl_len;
		c->pong_due = true;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (opcode != WS_OP_CLOSE)
		return 0;
	if (ws_frame_close_code(c->ctl, c->ctl_len, &code) != 0)
		code = 1002;
	c->close_code = code;
	/* the reason, printable ASCII only: it may reach the screen */
	c->close_reason[0] = '\0';
	for (n = 0; code != 1002 && n + 2 < c->ctl_len &&
		    n + 1 < sizeof(c->close_reason); n++)
		c->close_reason[n] = c->ctl[n + 2] >= 0x20 &&
				     c->ctl[n + 2] < 0x7f ?
				     (char)c->ctl[n + 2] : '?';
	c->close_reason[n] = '\0';
	if (code == 4401)
		c->force_refresh = true;
	if (!c->ended && ui_ws_close_is_final(code, c->close_reason)) {
		c->ended = true;
		snprintf(c->ended_why, sizeof(c->ended_why), "the session has "
			 "ended (%s); log in again", c->close_reason);
	}
	if (c->close_sent)
		return -1;
	c->close_out = code == 1005 ? 1000 : code;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Frames from the server (its frames are not masked). */
static int ui_ws_frames(struct ui_ws_conn *c, struct lws *wsi,
			unsigned char *in, size_t len)
{
	struct ws_frame_event ev;
	long used;

	while (len && !c->close_out) {
		used = ws_frame_feed(&c->fp, in, len, &ev);
		if (used < 0) {
			c->close_out = (int)-used;
			lws_callback_on_writable(wsi);
			return 0;
		}
		in += used;
		len -= (size_t)used;
		if (!ev.data)
			continue;
		if (ev.opcode >= WS_OP_CLOSE) {
			memcpy(c->ctl + c->ctl_len, ev.bytes, ev.len);
			c->ctl_len += ev.len;	/* <= 125: the parser's */
			if (ev.end) {
				int rc = ui_ws_control(c, wsi, ev.opcode);

				c->ctl_len = 0;
				if (rc)
					return rc;
			}
			continue;
		}
		if (ev.start && ev.opcode != WS_OP_CONT)
			buf_reset(&c->rx);
		if (ev.len && buf_append(&c->rx, ev.bytes, ev.len) < 0) {
			c->close_out = 1009;	/* too big for us */
			lws_callback_on_writable(wsi);
			return 0;
		}
		if (ev.end && ev.fin) {
			if (ev.message_opcode == WS_OP_TEXT)
				ui_ws_frame(c);
			else
				buf_reset(&c->rx);	/* nothing binary */
		}
	}
	return 0;
}

/* Bytes from the server: its answer to the upgrade, then frames. */
static int ui_ws_rx(struct ui_ws_conn *c, struct lws *wsi, unsigned char *in,
		 size_t len)
{
	const char *end;
	size_t head_len, rest;
	int status;

	if (c->opened)
		return ui_ws_frames(c, wsi, in, len);
	if (buf_append(&c->head, in, len) < 0)
		return -1;		/* an answer too long */
	end = c->head.len >= 4 ? memmem(c->head.data, c->head.len,
					"\r\n\r\n", 4) : NULL;
	if (!end)
		return 0;
	head_len = (size_t)(end - c->head.data) + 4;
	if (ws_frame_check_101(c->head.data, head_len, c->key, &status)) {
		c->close_code = status;
		if (status == 401)
			c->force_refresh = true;
		return -1;
	}
	ui_ws_established(c, wsi);
	rest = c->head.len - head_len;
	if (rest) {
		unsigned char *more = malloc(rest);
		int rc;

		if (!more)
			return -1;
		memcpy(more, c->head.data + head_len, rest);
		buf_release(&c->head);
		rc = ui_ws_frames(c, wsi, more, rest);
		free(more);
		return rc;
	}
	buf_release(&c->head);
	return 0;
}

static int ui_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
			  void *user, void *in, size_t len)
{
	struct ui_ws_conn *c = ui_ws_the_conn;

	if (!c)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		return ui_ws_handshake(c, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->close_code = 0;
		ui_ws_closed(c);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return ui_ws_rx(c, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return ui_ws_writable(c, wsi);
	case LWS_CALLBACK_RAW_CLOSE:
		ui_ws_closed(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (c->wsi && c->opened)
			lws_callback_on_writable(c->wsi);
		if (c->tok.running)	/* its answer may be in: look now */
			lws_sul_schedule(c->ctx, 0, &c->tick, ui_ws_tick, 1);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols ui_ws_protocols[] = {
	{ "chatui", ui_ws_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Splits the server URL into address, port, path prefix. */
static int ui_ws_parse_server(struct ui_ws_conn *c, const char *server)
{
	char copy[1024];
	const char *prot, *addr, *path;
	size_t n;

	snprintf(copy, sizeof(copy), "%s", server);
	if (lws_parse_uri(copy, &prot, &addr, &c->port, &path))
		return CHAT_EINVAL;
	c->tls = strcmp(prot, "https") == 0;
	snprintf(c->address, sizeof(c->address), "%s", addr);
	snprintf(c->prefix, sizeof(c->prefix), "%s%s", path[0] ? "/" : "",
		 path);
	n = strlen(c->prefix);
	while (n > 0 && c->prefix[n - 1] == '/')
		c->prefix[--n] = '\0';
	return 0;
}

/* Opens a connection with the token in c->token. */
static void ui_ws_connect(struct ui_ws_conn *c)
{
	struct lws_client_connect_info ci;
	uint64_t last;

	c->force_refresh = false;
	pthread_mutex_lock(&c->w->mu);
	last = c->w->last_event_id;
	pthread_mutex_unlock(&c->w->mu);
	if (last)
		snprintf(c->path, sizeof(c->path),
			 "%s/v1/ws?last_event_id=%llu", c->prefix,
			 (unsigned long long)last);
	else
		snprintf(c->path, sizeof(c->path), "%s/v1/ws", c->prefix);
	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.address = c->address;
	ci.port = c->port;
	ci.host = c->address;
	ci.method = "RAW";		/* ours: ui_ws_handshake */
	ci.local_protocol_name = "chatui";
	ci.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
	ci.pwsi = &c->wsi;
	memset(&c->fp, 0, sizeof(c->fp));
	c->fp.masked_in = false;	/* a server's frames are not masked */
	buf_reset(&c->rx);
	buf_release(&c->head);
	c->ctl_len = 0;
	c->pong_due = false;
	c->close_out = 0;
	c->close_sent = false;
	c->close_reason[0] = '\0';
	c->ended = false;
	c->gen++;
	c->renew_at = 0;
	c->auth_ref[0] = '\0';
	ui_ws_free_auth_out(c);
	c->live = true;
	c->connecting = true;
	c->retry_at = 0;
	ui_ws_post_state(c, WS_CONNECTING);
	if (!lws_client_connect_via_info(&ci) && c->connecting) {
		c->close_code = 0;
		ui_ws_closed(c);
	}
	/* the token goes into the handshake later, when the TCP connection
	 * is up: it is wiped once the attempt ends (ui_ws_closed,
	 * established) */
}

/* ---- the token helper ---- */

static void *ui_ws_token_main(void *arg)
{
	struct ui_ws_token *t = arg;
	char token[WS_TOKEN_MAX], err[256] = "";
	int64_t expires_at = 0;
	int rc;

	rc = ui_auth_token_ex(t->auth, t->force, t->after, token, sizeof(token),
			      &expires_at, err, sizeof(err));
	pthread_mutex_lock(&t->mu);
	t->rc = rc;
	if (rc == 0)
		memcpy(t->token, token, sizeof(t->token));
	t->expires_at = expires_at;
	snprintf(t->err, sizeof(t->err), "%s", err[0] ? err :
		 chat_strerror(rc));
	t->done = true;
	pthread_mutex_unlock(&t->mu);
	memset(token, 0, sizeof(token));
	/* the context outlives us: ui_ws_main joins us before destroying it */
	lws_cancel_service(t->ctx);
	return NULL;
}

/* Starts the helper; -1 when no thread could be made. */
static int ui_ws_token_start(struct ui_ws_conn *c, bool renew, bool force,
			  int64_t after)
{
	struct ui_ws_token *t = &c->tok;

	t->renew = renew;
	t->force = force;
	t->after = after;
	t->gen = c->gen;
	t->auth = c->w->auth;
	t->ctx = c->ctx;
	t->done = false;
	t->rc = 0;
	if (pthread_create(&t->thread, NULL, ui_ws_token_main, t) != 0)
		return -1;
	t->running = true;
	return 0;
}

/* A token for a connection came: connect, or wait, or give up. */
static void ui_ws_token_for_connect(struct ui_ws_conn *c)
{
	struct ui_ws_token *t = &c->tok;

	if (t->rc == CHAT_EAUTH) {
		ui_ws_auth_lost(c, t->err);
		return;
	}
	if (t->rc < 0) {
		c->close_code = 0;
		ui_ws_retry_later(c);
		return;
	}
	memcpy(c->token, t->token, sizeof(c->token));
	c->tok_expires_at = t->expires_at;
	ui_ws_token_times(t->token, t->expires_at, &c->tok_exp_ms,
			  &c->tok_life_ms);
	ui_ws_connect(c);
}

/* A fresh token for the open socket came: the auth frame that carries
 * it goes out before anything else. */
static void ui_ws_token_for_socket(struct ui_ws_conn *c)
{
	struct ui_ws_token *t = &c->tok;
	struct ui_ws_out *o;
	int n;

	if (!c->wsi || !c->opened || t->gen != c->gen || c->close_out)
		return;			/* that socket is gone */
	if (t->rc == CHAT_EAUTH) {
		/* the login is over: close, then idle (ui_ws_closed) */
		snprintf(c->ended_why, sizeof(c->ended_why), "%s", t->err);
		c->ended = true;
		c->close_out = 1000;
		lws_callback_on_writable(c->wsi);
		return;
	}
	/* a JWT needs no escaping; anything else is not sent */
	if (t->rc < 0 || t->expires_at <= c->tok_expires_at ||
	    strspn(t->token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		   "vwxyz0123456789-_.") != strlen(t->token)) {
		c->renew_at = mono_ms() + WS_RENEW_RETRY_MS;
		return;
	}
	snprintf(c->auth_ref, sizeof(c->auth_ref), "chatui-auth-%u",
		 ++c->auth_seq);
	/* one exact allocation: no copy of the token left behind */
	n = snprintf(NULL, 0, WS_AUTH_FMT, c->auth_ref, t->token);
	o = n > 0 ? malloc(sizeof(*o) + LWS_PRE + (size_t)n + 1) : NULL;
	if (!o) {
		c->auth_ref[0] = '\0';
		c->renew_at = mono_ms() + WS_RENEW_RETRY_MS;
		return;
	}
	snprintf((char *)o->data + LWS_PRE, (size_t)n + 1, WS_AUTH_FMT,
		 c->auth_ref, t->token);
	o->next = NULL;
	o->len = (size_t)n;
	c->auth_out = o;
	c->auth_expires_at = t->expires_at;
	ui_ws_token_times(t->token, t->expires_at, &c->auth_exp_ms,
			  &c->auth_life_ms);
	lws_callback_on_writable(c->wsi);
}

/* Takes the helper's answer when it is in. */
static void ui_ws_token_poll(struct ui_ws_conn *c)
{
	struct ui_ws_token *t = &c->tok;
	bool done;

	if (!t->running)
		return;
	pthread_mutex_lock(&t->mu);
	done = t->done;
	pthread_mutex_unlock(&t->mu);
	if (!done)
		return;
	pthread_join(t->thread, NULL);
	t->running = false;
	if (t->renew)
		ui_ws_token_for_socket(c);
	else
		ui_ws_token_for_connect(c);
	memset(t->token, 0, sizeof(t->token));
}

static void ui_ws_tick(lws_sorted_usec_list_t *sul)
{
	struct ui_ws_conn *c = lws_container_of(sul, struct ui_ws_conn, tick);
	int64_t now = mono_ms();
	bool kick;

	ui_ws_token_poll(c);
	pthread_mutex_lock(&c->w->mu);
	kick = c->w->kick;
	c->w->kick = false;
	pthread_mutex_unlock(&c->w->mu);
	if (kick && !c->wsi) {
		c->attempt = 0;
		c->retry_at = 0;
	}
	if (!c->wsi && !c->connecting && !c->tok.running &&
	    c->retry_at >= 0 && now >= c->retry_at &&
	    ui_ws_token_start(c, false, c->force_refresh, 0) < 0)
		ui_ws_retry_later(c);
	if (c->wsi && c->opened && c->renew_at && now >= c->renew_at &&
	    !c->tok.running && !c->auth_ref[0] && !c->close_out) {
		c->renew_at = 0;
		if (ui_ws_token_start(c, true, false, c->tok_expires_at) < 0)
			c->renew_at = now + WS_RENEW_RETRY_MS;
	}
	lws_sul_schedule(c->ctx, 0, &c->tick, ui_ws_tick, WS_TICK_US);
}

static void *ui_ws_main(void *arg)
{
	struct ws *w = arg;
	struct lws_context_creation_info info;
	struct ui_ws_conn c;
	bool quit = false;

	memset(&c, 0, sizeof(c));
	c.w = w;
	pthread_mutex_init(&c.tok.mu, NULL);
	c.seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&c;
	buf_init(&c.rx, WS_FRAME_MAX);
	buf_init(&c.head, WS_HEAD_MAX);
	if (ui_ws_parse_server(&c, w->auth->server) < 0)
		goto out;
	/* CHATUI_WS_DEBUG: lws's connection log on stderr (chatui(1)) */
	lws_set_log_level(getenv("CHATUI_WS_DEBUG") ? LLL_ERR | LLL_WARN |
			  LLL_NOTICE | LLL_INFO | LLL_CLIENT : 0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ui_ws_protocols;
	info.options = c.tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	c.ctx = lws_create_context(&info);
	if (!c.ctx)
		goto out;
	w->context = c.ctx;
	ui_ws_the_conn = &c;
	lws_sul_schedule(c.ctx, 0, &c.tick, ui_ws_tick, 1);
	while (!quit) {
		lws_service(c.ctx, 0);
		pthread_mutex_lock(&w->mu);
		quit = w->quit;
		pthread_mutex_unlock(&w->mu);
	}
	lws_sul_cancel(&c.tick);
	/* a refresh in flight ends within the client's timeouts, as one
	 * the REST worker makes does */
	if (c.tok.running)
		pthread_join(c.tok.thread, NULL);
	memset(c.tok.token, 0, sizeof(c.tok.token));
	ui_ws_the_conn = NULL;
	lws_context_destroy(c.ctx);
	ui_ws_free_auth_out(&c);
out:
	pthread_mutex_destroy(&c.tok.mu);
	buf_release(&c.rx);
	buf_release(&c.head);
	return NULL;
}

int ui_ws_start(struct ws *w, struct auth *auth, struct evq *evq)
{
	memset(w, 0, sizeof(*w));
	w->auth = auth;
	w->evq = evq;
	pthread_mutex_init(&w->mu, NULL);
	if (pthread_create(&w->thread, NULL, ui_ws_main, w) != 0)
		return CHAT_ENOMEM;
	w->started = true;
	return 0;
}

static void ui_ws_wake(struct ws *w)
{
	struct lws_context *ctx;

	pthread_mutex_lock(&w->mu);
	ctx = w->context;
	pthread_mutex_unlock(&w->mu);
	if (ctx)
		lws_cancel_service(ctx);
}

void ui_ws_stop(struct ws *w)
{
	struct ui_ws_out *o, *next;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_mutex_unlock(&w->mu);
	ui_ws_wake(w);
	pthread_join(w->thread, NULL);
	for (o = w->head; o; o = next) {
		next = o->next;
		free(o);
	}
	w->head = w->tail = NULL;
	w->started = false;
	pthread_mutex_destroy(&w->mu);
}

int ui_ws_send_text(struct ws *w, const char *text, size_t len)
{
	struct ui_ws_out *o;

	o = malloc(sizeof(*o) + LWS_PRE + len);
	if (!o)
		return CHAT_ENOMEM;
	o->next = NULL;
	o->len = len;
	memcpy(o->data + LWS_PRE, text, len);
	pthread_mutex_lock(&w->mu);
	if (!w->open) {
		pthread_mutex_unlock(&w->mu);
		free(o);
		return CHAT_ECLOSED;
	}
	if (w->tail)
		w->tail->next = o;
	else
		w->head = o;
	w->tail = o;
	pthread_mutex_unlock(&w->mu);
	ui_ws_wake(w);
	return 0;
}

void ui_ws_kick(struct ws *w)
{
	pthread_mutex_lock(&w->mu);
	w->kick = true;
	pthread_mutex_unlock(&w->mu);
	ui_ws_wake(w);
}

void ui_ws_note_event_id(struct ws *w, uint64_t id)
{
	pthread_mutex_lock(&w->mu);
	if (id > w->last_event_id)
		w->last_event_id = id;
	pthread_mutex_unlock(&w->mu);
}
