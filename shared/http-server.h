/*
 * http-server.h - the HTTP server every daemon runs, on libwebsockets.
 *
 * One event-loop thread does all socket I/O.  A request is read whole
 * (headers, strictly as http1.h says, then a body up to max_body bytes,
 * with a Content-Length or chunked; 413 beyond), matched against
 * the route table, checked against the route's permission, then handed to
 * its handler: on the worker pool by default, on the loop thread for
 * routes flagged HTTP_ROUTE_ON_LOOP (which must never block).
 *
 * The handler answers through struct http_res, whose functions may be
 * called from any thread.  Exactly one final call ends the exchange:
 * http_res_send / http_res_json / http_res_error, or http_res_end after
 * http_res_begin.  req and res stay valid until that final call, even if
 * the client has gone away meanwhile (writes then give CHAT_ECLOSED).
 *
 * Identity: daemons behind the gateway trust the X-Chat-User-Id,
 * X-Chat-Role and X-Chat-Session-Id headers only when X-Chat-Internal
 * carries the stack's internal secret; the gateway strips those headers
 * from clients.  A request without valid identity gets 401 on routes
 * that need one, 403 when the role is too low.  The gateway sends a
 * session id for every access token and none for an API key, so a user
 * without a session id is an API key (HTTP_ROUTE_SESSION refuses it).
 */
#ifndef CHAT_HTTP_SERVER_H
#define CHAT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct http_server;
struct http_res;
struct pool;

enum http_perm {
	HTTP_PERM_PUBLIC = 0,	/* anyone */
	HTTP_PERM_GUEST,	/* any authenticated caller */
	HTTP_PERM_USER,		/* role user or admin */
	HTTP_PERM_ADMIN,	/* role admin */
	HTTP_PERM_INTERNAL,	/* other daemons: internal secret required */
};

#define HTTP_MAX_PARAMS 4

/* Headers by which the gateway tells a daemon who is calling. */
#define HTTP_H_INTERNAL   "X-Chat-Internal"
#define HTTP_H_USER_ID    "X-Chat-User-Id"
#define HTTP_H_ROLE       "X-Chat-Role"
#define HTTP_H_SESSION_ID "X-Chat-Session-Id"
#define HTTP_H_REQUEST_ID "X-Request-Id"

struct http_req {
	const char *method;		/* "GET", "POST", ... */
	const char *path;		/* without the query string */
	const char *query;		/* raw query string, "" when none */
	const char *body;		/* NUL-terminated, body_len bytes */
	size_t body_len;
	const char *request_id;		/* always set */
	const char *peer;		/* client address */
	/* identity, from trusted headers; NULL when anonymous */
	const char *user_id;
	const char *role;
	const char *session_id;
	bool internal;			/* caller proved the internal secret */
	/* {name} captures of the route pattern, in order */
	const char *param_names[HTTP_MAX_PARAMS];
	const char *param_values[HTTP_MAX_PARAMS];
	int nparams;
	void *app;			/* http_server_config.app */
	struct http_server *server;
	struct http_res *res;		/* where the answer goes */
};

typedef void (*http_handler_fn)(struct http_req *req, struct http_res *res);

enum {
	HTTP_ROUTE_ON_LOOP = 1 << 0,	/* run on the loop thread */
	HTTP_ROUTE_PREFIX = 1 << 1,	/* pattern matches a path prefix */
	HTTP_ROUTE_WEBSOCKET = 1 << 2,	/* WebSocket upgrades (http-ws.h) */
	/* only a signed-in session: a caller known without a session id
	 * (an API key) gets 403 interactive_login_required */
	HTTP_ROUTE_SESSION = 1 << 3,
};

struct http_route {
	const char *method;		/* NULL or "*" for any method */
	const char *pattern;		/* "/v1/apikeys/{id}" */
	enum http_perm perm;
	http_handler_fn handler;
	unsigned flags;
};

struct http_server_config {
	const char *name;		/* service name for logs */
	const char *host;		/* listen address, "127.0.0.1" */
	int port;			/* 0 = ephemeral */
	const char *unix_path;		/* listen on a Unix socket instead */
	const struct http_route *routes;
	size_t nroutes;
	size_t max_body;		/* default 1 MiB */
	const char *internal_secret;	/* NULL: trust no identity header */
	struct pool *pool;		/* workers for handlers; borrowed */
	void *app;			/* passed in req->app */
	/* called on the loop thread every cron_ms (housekeeping) */
	void (*cron)(void *app);
	int cron_ms;
	/* answer for a request no route matches (runs on the loop thread,
	 * must not block); NULL gives 404 */
	http_handler_fn fallback;
	/* seconds a request head may take from its first byte (0: 10) and
	 * an idle keep-alive connection may wait (0: 60) */
	int head_timeout_s;
	int idle_timeout_s;
	/* the highest descriptor number + 1 the loop can serve (0: the
	 * process's RLIMIT_NOFILE): libwebsockets keeps two zeroed tables
	 * of that many entries, 16 bytes each, resident from the start */
	int max_fds;
	/* lws's own poll() loop instead of libuv's epoll (the default):
	 * for the tests of that path, which is also the fallback when lws
	 * cannot load its libuv plugin */
	bool poll_loop;
};

int http_server_new(const struct http_server_config *cfg,
		    struct http_server **out, char *err, size_t errlen);
/* The port actually bound (after port 0). */
int http_server_port(const struct http_server *s);
/* Runs the loop until http_server_stop; returns 0 after a clean stop. */
int http_server_run(struct http_server *s);
/* "epoll" (libuv's loop) or "poll" (lws's own): what the loop waits
 * with.  Any thread. */
const char *http_server_loop_name(const struct http_server *s);
/* Any thread, also a signal handler: asks the loop to stop. */
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);

/* Runs fn(arg) on the loop thread soon.  Any thread. */
int http_server_defer(struct http_server *s, void (*fn)(void *), void *arg);
/* Runs fn(arg) on the loop thread after delay_ms (a timer; pacing,
 * retry back-off).  Any thread.  A timer cannot be cancelled: fn decides
 * whether it still has work.  Unfired timers are dropped (fn not called)
 * when the server is freed, so arg must not own anything only fn frees
 * at that point. */
int http_server_after(struct http_server *s, int64_t delay_ms,
		      void (*fn)(void *), void *arg);

/* Request helpers. */
/* Header value (case-insensitive name) or NULL; valid while req is. */
const char *http_req_header(struct http_req *req, const char *name);
/* Path parameter by name or NULL. */
const char *http_req_param(const struct http_req *req, const char *name);
/* Decoded query parameter into out; CHAT_ENOTFOUND when absent. */
int http_req_query(const struct http_req *req, const char *name, char *out,
		   size_t outlen);
/* All request headers as "Name: value" lines for proxying; the caller
 * frees the array and strings with http_headers_free. */
char **http_req_headers(struct http_req *req, size_t *n);
void http_headers_free(char **h, size_t n);

/* Response, any thread.  Headers first, then one final call. */
int http_res_header(struct http_res *res, const char *name,
		    const char *value);
/* Final: body is taken over (free()d by the server). */
void http_res_send(struct http_res *res, int status, const char *ctype,
		   char *body, size_t len);
/* Final: json is taken over (cJSON_Delete); NULL sends no body. */
void http_res_json(struct http_res *res, int status, cJSON *json);
/* Final: the error envelope {"error":{"code","message","request_id"}}. */
void http_res_error(struct http_res *res, int status, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Streaming: status line and headers now, body in pieces (chunked, or
 * until close).  A write when the client has left more than 1 MiB of
 * this answer unread and read nothing for 1 s, or the server holds 64 MiB
 * unread in all (or one answer 16 MiB), gives CHAT_ETOOBIG and cuts the
 * client off (the connection closes as for
 * http_res_abort; the final call is still the handler's to make). */
int http_res_begin(struct http_res *res, int status, const char *ctype);
int http_res_write(struct http_res *res, const void *data, size_t len);
void http_res_end(struct http_res *res);		/* final */
/* Final: ends the exchange as a failure the client can see: the
 * connection closes without the body's end (no last chunk, or fewer
 * bytes than the Content-Length said), so that a stream whose source
 * died is never taken for a complete answer. */
void http_res_abort(struct http_res *res);
/* True once the client has gone away. */
bool http_res_closed(const struct http_res *res);
/* Words added to the request's access log line ("upstream=userd"); any
 * thread, before the final call; a later note replaces an earlier one. */
void http_res_note(struct http_res *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Maps CHAT_E* to an HTTP status and error code and sends it (final). */
void http_res_chat_error(struct http_res *res, int rc, const char *message);

#endif
