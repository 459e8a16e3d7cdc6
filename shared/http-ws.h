/*
 * http-ws.h - WebSockets on the HTTP server's event loop: server-side
 * routes (HTTP_ROUTE_WEBSOCKET) and outbound client connections.
 *
 * Server side.  A route flagged HTTP_ROUTE_WEBSOCKET takes GET requests
 * with "Upgrade: websocket" (a plain GET gets 426).  Its permission is
 * checked first, as for HTTP; then its handler runs on the loop thread
 * while the handshake waits, and decides:
 *   - http_ws_accept(req, ...) before returning: the upgrade completes
 *     and on_open follows;
 *   - http_res_error(res, ...) (or http_ws_refuse) before returning: the
 *     upgrade fails with that HTTP status and the error envelope;
 *   - neither: the decision is pending.  libwebsockets 4.1 cannot keep a
 *     handshake waiting, so the 101 goes out now; frames of the client
 *     are held (up to the queue ceiling) until the handler decides on
 *     the loop thread: http_ws_accept (on_open, then the held messages)
 *     or http_ws_refuse, which closes the WebSocket with close code
 *     4000 + status (4401, 4403, 4503 ...) and the error code as reason.
 * Either call is the handler's final call on res (req stays valid until
 * then, as for HTTP).
 *
 * Client side.  http_ws_connect opens ws://host:port/path on the server's
 * own lws context (loop thread).  Failures are reported through on_close
 * only, never from within http_ws_connect: a refused upgrade with close
 * code 4000 + the HTTP status when lws tells it, any other failure to
 * connect with 1014.
 *
 * Both sides: callbacks run on the loop thread.  http_ws_send and
 * http_ws_close may be called from any thread.  Messages split over
 * several frames are put together before on_message, up to
 * HTTP_WS_MAX_MESSAGE from a client, HTTP_WS_MAX_PEER_MESSAGE on an
 * http_ws_connect connection (larger: closed with 1009).  Queued
 * outgoing bytes have a ceiling (HTTP_WS_MAX_QUEUED): a send while the
 * queue is past it fails with CHAT_ETOOBIG and the connection is closed
 * with 1008 (so one message larger than the ceiling still goes out).
 *
 * Lifetime: a struct http_ws holds one reference for its connection and
 * one for its owner (whoever got it from http_ws_accept or
 * http_ws_connect).  The owner drops its reference with http_ws_release
 * once it no longer uses the pointer - typically in or after on_close,
 * which is the last callback.  Calls on a closed connection give
 * CHAT_ECLOSED.
 */
#ifndef CHAT_HTTP_WS_H
#define CHAT_HTTP_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "http-server.h"

#define HTTP_WS_MAX_MESSAGE	(1024 * 1024)	/* from clients */
#define HTTP_WS_MAX_PEER_MESSAGE (16 * 1024 * 1024)	/* http_ws_connect's */
#define HTTP_WS_MAX_QUEUED	(4 * 1024 * 1024)

/* Close codes (RFC 6455) used here. */
enum {
	HTTP_WS_NORMAL = 1000,
	HTTP_WS_GOING_AWAY = 1001,
	HTTP_WS_NO_STATUS = 1005,	/* the peer's close had no code */
	HTTP_WS_ABNORMAL = 1006,	/* gone without a close frame */
	HTTP_WS_POLICY = 1008,		/* send queue past its ceiling */
	HTTP_WS_TOO_BIG = 1009,		/* message past HTTP_WS_MAX_MESSAGE */
	HTTP_WS_INTERNAL = 1011,
	HTTP_WS_BAD_GATEWAY = 1014,	/* client: could not connect */
	HTTP_WS_REFUSED_BASE = 4000,	/* + HTTP status of a refusal */
};

struct http_ws;

struct http_ws_ops {
	void (*on_open)(void *arg, struct http_ws *ws);
	/* data is valid during the call only */
	void (*on_message)(void *arg, struct http_ws *ws, const char *data,
			   size_t len, bool binary);
	/* the last callback; code as above or the peer's */
	void (*on_close)(void *arg, struct http_ws *ws, int code);
};

/* Server: accepts the upgrade of a WebSocket route's request (loop
 * thread; the final call on req->res).  *out gets the owner's reference.
 * CHAT_ECLOSED when the client left while the decision was pending (no
 * callbacks will come, *out is NULL). */
int http_ws_accept(struct http_req *req, const struct http_ws_ops *ops,
		   void *arg, struct http_ws **out);
/* Server: refuses the upgrade (loop thread; the final call on req->res):
 * an HTTP error when the handler has not returned yet, else a close with
 * 4000 + status and code as reason. */
void http_ws_refuse(struct http_req *req, int status, const char *code,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Client: connects to url ("ws://host:port/path?query"; "http://" is
 * taken as "ws://"), sending headers ("Name: value", NULL-terminated,
 * may be NULL) with the handshake.  Loop thread only.  Errors returned:
 * CHAT_EINVAL (bad URL or header), CHAT_ENOMEM. */
int http_ws_connect(struct http_server *s, const char *url,
		    const char *const *headers, const struct http_ws_ops *ops,
		    void *arg, struct http_ws **out);

/* Any thread.  Queues one message (copied; sent once open).
 * CHAT_ECLOSED once closing, CHAT_ETOOBIG past the queue ceiling (the
 * connection then closes with 1008). */
int http_ws_send(struct http_ws *ws, const void *data, size_t len,
		 bool binary);
/* Any thread.  Sends what is queued, then a close frame with code and
 * reason (may be NULL); on_close follows.  Idempotent. */
void http_ws_close(struct http_ws *ws, int code, const char *reason);
/* Bytes queued and not yet written. */
size_t http_ws_queued(struct http_ws *ws);
/* Drops the owner's reference (any thread); ws may be freed. */
void http_ws_release(struct http_ws *ws);

/* ---- for http-server.c only ------------------------------------------ */

struct lws;
struct lws_context;

/* Every lws callback goes here first; true when it was a WebSocket
 * connection's (the answer to lws is then in *ret). */
bool http_ws_lws_callback(struct http_server *s, struct lws *wsi,
			  int reason, void *in, size_t len, int *ret);
/* Server side, on the HTTP server's raw connection wsi, loop thread.
 * The handler of res returned from an upgrade without refusing it and
 * the 101 is out: binds res's WebSocket (accepted, or pending) to wsi.
 * Returns it with the connection's reference (NULL: hang up). */
struct http_ws *http_ws_raw_open(struct http_server *s, struct lws *wsi,
				 struct http_res *res, const char *path);
/* Bytes received (unmasked in place); -1 to hang up at once. */
int http_ws_raw_rx(struct http_ws *ws, unsigned char *in, size_t len);
/* The connection may be written; -1 to hang up, 1 to linger (our close
 * frame is out after an error: drop what the peer still sends, then
 * hang up). */
int http_ws_raw_writable(struct http_ws *ws);
/* The connection closed: the connection's reference goes. */
void http_ws_raw_closed(struct http_ws *ws, struct lws *wsi);
/* The server's lws context (http-server.c). */
struct lws_context *http_server_lws_context(struct http_server *s);

#endif
