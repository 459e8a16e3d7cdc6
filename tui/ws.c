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
 */
#include "chatui.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "err.h"
#include "util.h"
#include "ws-frame.h"
#include "banned.h"

#define WS_FRAME_MAX (8u * 1024 * 1024)
#define WS_HEAD_MAX (16u * 1024)	/* the server's answer to the upgrade */
#define WS_HANDSHAKE_S 10
#define WS_TICK_US (100 * LWS_US_PER_MS)

/* The thread's own state (touched by the ws thread only). */
struct ws_conn {
	struct ws *w;
	struct lws_context *ctx;
	struct lws *wsi;
	bool connecting, opened;
	bool force_refresh;		/* the server called the token bad */
	unsigned attempt;		/* failures since the last open */
	int64_t retry_at;		/* mono_ms of the next try, 0 now */
	int close_code;
	char token[4096];
	char address[512];
	char path[1200];
	char prefix[256];		/* the server URL's path, no / end */
	int port;
	bool tls;
	struct buf rx;
	unsigned seed;
	lws_sorted_usec_list_t tick;
	/* the connection in progress (reset by ws_connect) */
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

static struct ws_conn *ws_the_conn;	/* for the lws callback */

int64_t ws_backoff_ms(unsigned attempt, double rnd)
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

static void ws_post_state(struct ws_conn *c, enum ws_state s)
{
	struct ui_event *ev = ui_event_new(EV_WS_STATE);

	if (!ev)
		return;
	ev->ws_state = s;
	ev->retry_at_ms = c->retry_at;
	ev->status = c->close_code;
	evq_post(c->w->evq, ev);
}

static void ws_closed(struct ws_conn *c)
{
	double rnd = (double)rand_r(&c->seed) / (double)RAND_MAX;

	if (!c->live)
		return;		/* a failed connect reports twice */
	c->live = false;
	buf_release(&c->head);
	c->wsi = NULL;
	c->connecting = false;
	memset(c->token, 0, sizeof(c->token));
	if (c->opened)
		c->attempt = 0;
	c->opened = false;
	pthread_mutex_lock(&c->w->mu);
	c->w->open = false;
	pthread_mutex_unlock(&c->w->mu);
	c->retry_at = mono_ms() + ws_backoff_ms(c->attempt, rnd);
	c->attempt++;
	ws_post_state(c, WS_WAITING);
}

static void ws_frame(struct ws_conn *c)
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
static int ws_send_frame(struct lws *wsi, int opcode, const void *data,
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
	free(buf);
	return n < (int)(h + len) ? -1 : 0;
}

static int ws_writable(struct ws_conn *c, struct lws *wsi)
{
	struct ws_out *o;
	int rc;

	if (c->close_sent)
		return -1;		/* our close went out: done */
	if (c->pong_due) {
		c->pong_due = false;
		if (ws_send_frame(wsi, WS_OP_PONG, c->pong, c->pong_len))
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_out) {
		unsigned char code[2] = { (unsigned char)(c->close_out >> 8),
					  (unsigned char)c->close_out };

		c->close_sent = true;
		if (ws_send_frame(wsi, WS_OP_CLOSE, code, 2))
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!c->opened)
		return 0;
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
	rc = ws_send_frame(wsi, WS_OP_TEXT, o->data + LWS_PRE, o->len);
	free(o);
	if (rc)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* The TCP (and TLS) connection is up: the upgrade request, with the
 * token, which is wiped from memory right after. */
static int ws_handshake(struct ws_conn *c, struct lws *wsi)
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

static void ws_established(struct ws_conn *c, struct lws *wsi)
{
	c->opened = true;
	c->connecting = false;
	c->force_refresh = false;
	c->close_code = 0;
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	pthread_mutex_lock(&c->w->mu);
	c->w->open = true;
	pthread_mutex_unlock(&c->w->mu);
	ws_post_state(c, WS_OPEN);
	lws_callback_on_writable(wsi);
}

/* A whole control frame from the server; -1 closes now. */
static int ws_control(struct ws_conn *c, struct lws *wsi, int opcode)
{
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
	if (code == 4401)
		c->force_refresh = true;
	if (c->close_sent)
		return -1;
	c->close_out = code == 1005 ? 1000 : code;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Frames from the server (its frames are not masked). */
static int ws_frames(struct ws_conn *c, struct lws *wsi, unsigned char *in,
		     size_t len)
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
				int rc = ws_control(c, wsi, ev.opcode);

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
				ws_frame(c);
			else
				buf_reset(&c->rx);	/* nothing binary */
		}
	}
	return 0;
}

/* Bytes from the server: its answer to the upgrade, then frames. */
static int ws_rx(struct ws_conn *c, struct lws *wsi, unsigned char *in,
		 size_t len)
{
	const char *end;
	size_t head_len, rest;
	int status;

	if (c->opened)
		return ws_frames(c, wsi, in, len);
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
	ws_established(c, wsi);
	rest = c->head.len - head_len;
	if (rest) {
		unsigned char *more = malloc(rest);
		int rc;

		if (!more)
			return -1;
		memcpy(more, c->head.data + head_len, rest);
		buf_release(&c->head);
		rc = ws_frames(c, wsi, more, rest);
		free(more);
		return rc;
	}
	buf_release(&c->head);
	return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
		       void *user, void *in, size_t len)
{
	struct ws_conn *c = ws_the_conn;

	if (!c)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		return ws_handshake(c, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->close_code = 0;
		ws_closed(c);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return ws_rx(c, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return ws_writable(c, wsi);
	case LWS_CALLBACK_RAW_CLOSE:
		ws_closed(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (c->wsi && c->opened)
			lws_callback_on_writable(c->wsi);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols ws_protocols[] = {
	{ "chatui", ws_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Splits the server URL into address, port, path prefix. */
static int ws_parse_server(struct ws_conn *c, const char *server)
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

static void ws_connect(struct ws_conn *c)
{
	struct lws_client_connect_info ci;
	char err[256];
	uint64_t last;
	int rc;

	rc = auth_token(c->w->auth, c->force_refresh, c->token,
			sizeof(c->token), err, sizeof(err));
	if (rc == CHAT_EAUTH) {
		evq_post(c->w->evq, ui_event_new(EV_AUTH_LOST));
		c->retry_at = -1;	/* until a login kicks us */
		ws_post_state(c, WS_IDLE);
		return;
	}
	if (rc < 0) {
		c->close_code = 0;
		ws_closed(c);
		return;
	}
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
	ci.method = "RAW";		/* the handshake is ours: ws_handshake */
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
	c->live = true;
	c->connecting = true;
	c->retry_at = 0;
	ws_post_state(c, WS_CONNECTING);
	if (!lws_client_connect_via_info(&ci) && c->connecting) {
		c->close_code = 0;
		ws_closed(c);
	}
	/* the token goes into the handshake later, when the TCP connection
	 * is up: it is wiped once the attempt ends (ws_closed, established) */
}

static void ws_tick(lws_sorted_usec_list_t *sul)
{
	struct ws_conn *c = lws_container_of(sul, struct ws_conn, tick);
	bool kick;

	pthread_mutex_lock(&c->w->mu);
	kick = c->w->kick;
	c->w->kick = false;
	pthread_mutex_unlock(&c->w->mu);
	if (kick && !c->wsi) {
		c->attempt = 0;
		c->retry_at = 0;
	}
	if (!c->wsi && !c->connecting && c->retry_at >= 0 &&
	    mono_ms() >= c->retry_at)
		ws_connect(c);
	lws_sul_schedule(c->ctx, 0, &c->tick, ws_tick, WS_TICK_US);
}

static void *ws_main(void *arg)
{
	struct ws *w = arg;
	struct lws_context_creation_info info;
	struct ws_conn c;
	bool quit = false;

	memset(&c, 0, sizeof(c));
	c.w = w;
	c.seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&c;
	buf_init(&c.rx, WS_FRAME_MAX);
	buf_init(&c.head, WS_HEAD_MAX);
	if (ws_parse_server(&c, w->auth->server) < 0)
		goto out;
	/* CHATUI_WS_DEBUG: lws's connection log on stderr (chatui(1)) */
	lws_set_log_level(getenv("CHATUI_WS_DEBUG") ? LLL_ERR | LLL_WARN |
			  LLL_NOTICE | LLL_INFO | LLL_CLIENT : 0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = c.tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	c.ctx = lws_create_context(&info);
	if (!c.ctx)
		goto out;
	w->context = c.ctx;
	ws_the_conn = &c;
	lws_sul_schedule(c.ctx, 0, &c.tick, ws_tick, 1);
	while (!quit) {
		lws_service(c.ctx, 0);
		pthread_mutex_lock(&w->mu);
		quit = w->quit;
		pthread_mutex_unlock(&w->mu);
	}
	lws_sul_cancel(&c.tick);
	ws_the_conn = NULL;
	lws_context_destroy(c.ctx);
out:
	buf_release(&c.rx);
	buf_release(&c.head);
	return NULL;
}

int ws_start(struct ws *w, struct auth *auth, struct evq *evq)
{
	memset(w, 0, sizeof(*w));
	w->auth = auth;
	w->evq = evq;
	pthread_mutex_init(&w->mu, NULL);
	if (pthread_create(&w->thread, NULL, ws_main, w) != 0)
		return CHAT_ENOMEM;
	w->started = true;
	return 0;
}

static void ws_wake(struct ws *w)
{
	struct lws_context *ctx;

	pthread_mutex_lock(&w->mu);
	ctx = w->context;
	pthread_mutex_unlock(&w->mu);
	if (ctx)
		lws_cancel_service(ctx);
}

void ws_stop(struct ws *w)
{
	struct ws_out *o, *next;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_mutex_unlock(&w->mu);
	ws_wake(w);
	pthread_join(w->thread, NULL);
	for (o = w->head; o; o = next) {
		next = o->next;
		free(o);
	}
	w->head = w->tail = NULL;
	w->started = false;
	pthread_mutex_destroy(&w->mu);
}

int ws_send_text(struct ws *w, const char *text, size_t len)
{
	struct ws_out *o;

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
	ws_wake(w);
	return 0;
}

void ws_kick(struct ws *w)
{
	pthread_mutex_lock(&w->mu);
	w->kick = true;
	pthread_mutex_unlock(&w->mu);
	ws_wake(w);
}

void ws_note_event_id(struct ws *w, uint64_t id)
{
	pthread_mutex_lock(&w->mu);
	if (id > w->last_event_id)
		w->last_event_id = id;
	pthread_mutex_unlock(&w->mu);
}
