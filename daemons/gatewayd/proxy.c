/*
 * proxy.c - the catch-all route: pick the upstream by path prefix, check
 * the caller (auth.c), forward the request and stream the answer back.
 *
 * The handler runs on the loop thread and never blocks: everything the
 * upstream call needs (URL, filtered headers) is copied into a struct
 * proxy_call there; the call itself runs on the loop thread too
 * (shared/http-loop.c; through libcurl's thread only for an upstream URL
 * that http-loop.c does not take), and its callbacks write the answer
 * through http_res_* as it arrives (nothing is buffered here, so SSE and
 * chunked streams pass straight through).  The request body is
 * req->body, which stays valid until the final http_res call - and that
 * call is always the last thing done with a proxy_call.
 *
 * Trust: every X-Chat-* and X-Forwarded-For header of the client is
 * dropped; the gateway's own identity headers and the internal secret
 * are the only ones an upstream sees.
 */
#include "gatewayd.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define PROXY_CONNECT_MS 1000
/* a ceiling for one streamed answer; streams are long, not endless */
#define PROXY_MAX_RESPONSE ((size_t)4 << 30)
#define PROXY_URL_MAX 16384
#define PROXY_OWN_HEADERS 6		/* internal, identity x3, id, xff */

struct proxy_call {
	struct gatewayd *gw;
	struct http_res *res;
	struct gw_upstream *up;		/* NULL: no route */
	char method[16];
	char request_id[129];
	char peer[64];			/* client address */
	char *url;			/* owned */
	char **headers;			/* owned strings, NULL-terminated */
	size_t nheaders;
	const char *body;		/* req->body */
	size_t body_len;
	int status;			/* sent to the client */
	int rc;				/* how the upstream call ended */
	bool head_sent;			/* http_res_begin done */
	bool sse;			/* the answer is text/event-stream */
	bool flush_keys;		/* a 2xx answer flushes the key cache */
	char ends[GW_ID_MAX];		/* a 2xx answer ends this session */
	bool watched;			/* live is in the watch list */
	struct gw_live live;		/* the caller's credential */
	char path[GW_PREFIX_MAX];	/* for scope checks (cut to fit) */
};

/* Request headers that are the client's business with us alone. */
static const char *const drop_request[] = {
	"connection", "keep-alive", "transfer-encoding", "te", "trailer",
	"upgrade", "host", "content-length", "expect", "authorization",
	"x-request-id", "x-forwarded-for",
};
static const char *const drop_request_prefix[] = { "proxy-", "x-chat-" };

/* Answer headers passed on besides Content-Type and X-* (except
 * X-Chat-* and X-Request-Id, which is the server's). */
static const char *const keep_response[] = {
	"cache-control", "retry-after", "location", "www-authenticate",
	"etag", "last-modified", "content-disposition", "content-encoding",
	"vary", "allow",
};

/* Answer headers of the auth endpoints alone: the browser session's
 * cookie (userd sets it; no other daemon may set cookies on our
 * origin). */
static const char *const keep_auth_response[] = {
	"set-cookie", "clear-site-data",
};
#define AUTH_PREFIX "/v1/auth/"

/* Answers that change who may do what: the API-key cache must go. */
static const struct {
	const char *method;
	const char *prefix;
} flush_rules[] = {
	{ "DELETE", "/v1/apikeys/" },
	{ "PATCH", "/v1/admin/users/" },
	{ "DELETE", "/v1/admin/users/" },	/* the user's keys go */
	{ "DELETE", "/v1/admin/apikeys/" },
};

/* Answers that end a session: refused here at once (the feed tells the
 * other gateways); the session is the caller's, or the path's last
 * segment. */
static const struct {
	const char *method;
	const char *prefix;
	bool from_path;
} end_rules[] = {
	{ "POST", "/v1/auth/logout", false },
	{ "DELETE", "/v1/sessions/", true },
	{ "DELETE", "/v1/admin/sessions/", true },
};

/* How an upstream call that never gave a head is answered: the message
 * is "'<upstream>' <what>". */
static const struct {
	int rc;
	int status;
	const char *code;
	const char *what;
} upstream_errors[] = {
	{ CHAT_EUPSTREAM, 503, "upstream_unavailable", "is not reachable" },
	{ CHAT_ETIMEDOUT, 504, "upstream_timeout", "did not answer in time" },
	{ CHAT_ETOOBIG, 502, "bad_gateway", "sent an answer that is too large" },
	{ CHAT_ECANCELED, 499, "client_closed", "was left: the client went away" },
	{ 0, 502, "bad_gateway", "failed" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bool name_in(const char *name, size_t len, const char *const *list,
		    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len &&
		    strncasecmp(name, list[i], len) == 0)
			return true;
	return false;
}

static bool name_has_prefix(const char *name, const char *const *list,
			    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strncasecmp(name, list[i], strlen(list[i])) == 0)
			return true;
	return false;
}

/* An RFC 9110 token: what a header name must be. */
static bool name_is_token(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    !strchr("!#$%&'*+-.^_`|~", name[i]))
			return false;
	return len > 0;
}

static bool upstream_error(int rc)
{
	return rc == CHAT_EUPSTREAM || rc == CHAT_ETIMEDOUT ||
	       rc == CHAT_ETOOBIG;
}

/* ---- the end of a call ------------------------------------------------- */

static void proxy_call_free(struct proxy_call *pc)
{
	size_t i;

	for (i = 0; i < pc->nheaders; i++)
		free(pc->headers[i]);
	free(pc->headers);
	free(pc->url);
	free(pc);
}

/* The upstream and how its call ended, for the server's access log line;
 * before the final call. */
static void proxy_note(struct proxy_call *pc)
{
	http_res_note(pc->res, "upstream=%s%s%s", pc->up ? pc->up->name : "-",
		      pc->rc ? " error=" : "",
		      pc->rc ? chat_strerror(pc->rc) : "");
}

/* Counts and frees; the answer has had its final call. */
static void proxy_finish(struct proxy_call *pc)
{
	struct gatewayd *gw = pc->gw;

	if (pc->watched)
		revoke_unwatch(gw, &pc->live);
	metrics_count_request(&gw->metrics, pc->status);
	atomic_fetch_sub(&gw->metrics.in_flight, 1);
	if (pc->up && upstream_error(pc->rc))
		atomic_fetch_add(&pc->up->errors, 1);
	proxy_call_free(pc);
}

static void proxy_fail(struct proxy_call *pc, int status, const char *code,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void proxy_fail(struct proxy_call *pc, int status, const char *code,
		       const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc->status = status;
	proxy_note(pc);
	http_res_error(pc->res, status, code, "%s", msg);
	proxy_finish(pc);
}

/* ---- upstream callbacks, loop (or curl) thread ------------------------- */

static bool keep_response_header(const char *name, size_t len)
{
	if (len > 2 && strncasecmp(name, "x-", 2) == 0)
		return !(len >= 7 && strncasecmp(name, "x-chat-", 7) == 0) &&
		       !name_in(name, len, (const char *const[]){
					"x-request-id" }, 1);
	return name_in(name, len, keep_response, NELEM(keep_response));
}

static int proxy_on_head(void *arg, int status, const char *const *h,
			 size_t n)
{
	struct proxy_call *pc = arg;
	const char *ctype = NULL, *colon, *value;
	char name[101];
	size_t i, len;

	pc->status = status;
	if (pc->flush_keys && status >= 200 && status < 300)
		auth_flush_keys(pc->gw);	/* before the client hears of it */
	if (pc->ends[0] && pc->ends[0] != '-' && status >= 200 &&
	    status < 300) {
		/* this answer ends the session it came with: it goes out */
		if (pc->watched)
			revoke_unwatch(pc->gw, &pc->live);
		pc->watched = false;
		revoke_session_now(pc->gw, pc->ends);
	}
	for (i = 0; i < n; i++) {
		colon = strchr(h[i], ':');
		if (!colon)
			continue;
		len = (size_t)(colon - h[i]);
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		if (len == 12 && strncasecmp(h[i], "content-type", 12) == 0) {
			ctype = value;
			pc->sse = strncasecmp(value, "text/event-stream",
					      17) == 0;
			continue;
		}

		if (len >= sizeof(name) ||
		    !(keep_response_header(h[i], len) ||
		      (strncmp(pc->path, AUTH_PREFIX,
			       strlen(AUTH_PREFIX)) == 0 &&
		       name_in(h[i], len, keep_auth_response,
			       NELEM(keep_auth_response)))))
			continue;
		memcpy(name, h[i], len);
		name[len] = '\0';
		http_res_header(pc->res, name, value);
	}
	if (http_res_begin(pc->res, status, ctype) != 0)
		return 1;
	pc->head_sent = true;
	return 0;
}

static int proxy_on_data(void *arg, const char *data, size_t len)
{
	struct proxy_call *pc = arg;

	return http_res_write(pc->res, data, len) != 0;
}

static int proxy_keep_going(void *arg)
{
	struct proxy_call *pc = arg;

	return !http_res_closed(pc->res) &&
	       atomic_load(&pc->live.why) == GW_CUT_NONE;
}

/* The caller's credential was revoked mid-answer: a stream hears why in
 * an error event and ends; anything else ends as a failure. */
static void proxy_cut_answer(struct proxy_call *pc, enum gw_cut why)
{
	struct buf b;

	pc->rc = CHAT_ECANCELED;
	http_res_note(pc->res, "upstream=%s cut=%s", pc->up->name,
		      revoke_cut_code(why));
	if (!pc->head_sent) {
		pc->status = 401;
		http_res_header(pc->res, "WWW-Authenticate", "Bearer");
		http_res_error(pc->res, 401, revoke_cut_code(why), "%s",
			       revoke_cut_message(why));
		proxy_finish(pc);
		return;
	}
	buf_init(&b, 1024);
	if (pc->sse &&
	    buf_printf(&b, "event: error\ndata: {\"error\":{\"code\":\"%s\","
		       "\"message\":\"%s\",\"request_id\":\"%s\"}}\n\n",
		       revoke_cut_code(why), revoke_cut_message(why),
		       pc->request_id) == 0 &&
	    http_res_write(pc->res, b.data, b.len) == 0)
		http_res_end(pc->res);
	else
		http_res_abort(pc->res);
	buf_release(&b);
	proxy_finish(pc);
}

/* Under the watch list's lock: keep_going sees the flag within 100 ms. */
static void proxy_cut(struct gw_live *l, enum gw_cut why)
{
	(void)l;
	(void)why;
}

static void proxy_on_done(void *arg, int rc)
{
	struct proxy_call *pc = arg;
	int why = atomic_load(&pc->live.why);
	size_t i;

	pc->rc = rc;
	if (why != GW_CUT_NONE && rc == CHAT_ECANCELED &&
	    !http_res_closed(pc->res)) {
		proxy_cut_answer(pc, (enum gw_cut)why);
		return;
	}
	if (pc->head_sent) {
		/* a stream cut short (the upstream died, or the client was
		 * too slow) must not look complete to the client: no last
		 * chunk, the connection closes; the log says why */
		proxy_note(pc);
		if (rc)
			http_res_abort(pc->res);
		else
			http_res_end(pc->res);
		proxy_finish(pc);
		return;
	}
	for (i = 0; i < NELEM(upstream_errors) - 1; i++)
		if (upstream_errors[i].rc == rc)
			break;
	proxy_fail(pc, upstream_errors[i].status, upstream_errors[i].code,
		   "'%s' %s", pc->up->name, upstream_errors[i].what);
}

/* ---- building the upstream request, loop thread ------------------------- */

static bool path_char_plain(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~!$&'()*+,;=:@/", c));
}

/* up->url + path (encoded again: the server decoded it) + ?query. */
static int proxy_build_url(struct proxy_call *pc, const struct http_req *req)
{
	struct buf b;
	const char *p;
	int rc;

	buf_init(&b, PROXY_URL_MAX);
	rc = buf_puts(&b, pc->up->url);
	for (p = req->path; rc == 0 && *p; p++)
		rc = path_char_plain((unsigned char)*p) ?
			buf_append(&b, p, 1) :
			buf_printf(&b, "%%%02X", (unsigned char)*p);
	if (rc == 0 && req->query && *req->query)
		rc = buf_puts(&b, "?");
	if (rc == 0 && req->query && *req->query)
		rc = buf_puts(&b, req->query);
	if (rc != 0) {
		buf_release(&b);
		return rc;
	}
	pc->url = buf_detach(&b, NULL);
	return 0;
}

/* The client's headers minus hop-by-hop and trust headers; room is left
 * for the gateway's own. */
static int proxy_copy_headers(struct proxy_call *pc, struct http_req *req)
{
	char **in;
	size_t n = 0, i, len;
	const char *colon;

	in = http_req_headers(req, &n);
	if (!in)
		return CHAT_ENOMEM;
	pc->headers = calloc(n + PROXY_OWN_HEADERS + 1, sizeof(char *));
	if (!pc->headers) {
		http_headers_free(in, n);
		return CHAT_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		colon = strchr(in[i], ':');
		len = colon ? (size_t)(colon - in[i]) : strlen(in[i]);
		if (!colon || !name_is_token(in[i], len) ||
		    name_in(in[i], len, drop_request, NELEM(drop_request)) ||
		    name_has_prefix(in[i], drop_request_prefix,
				    NELEM(drop_request_prefix)))
			continue;
		pc->headers[pc->nheaders++] = in[i];	/* taken over */
		in[i] = NULL;
	}
	http_headers_free(in, n);
	return 0;
}

static int proxy_add_header(struct proxy_call *pc, const char *name,
			    const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	char *h = malloc(nlen + vlen + 3);

	if (!h)
		return CHAT_ENOMEM;
	memcpy(h, name, nlen);
	memcpy(h + nlen, ": ", 2);
	memcpy(h + nlen + 2, value, vlen + 1);
	pc->headers[pc->nheaders++] = h;
	return 0;
}

static int proxy_add_identity(struct proxy_call *pc,
			      const struct gw_identity *id)
{
	int rc;

	rc = proxy_add_header(pc, HTTP_H_INTERNAL, pc->gw->d.internal_secret);
	if (rc == 0)
		rc = proxy_add_header(pc, HTTP_H_REQUEST_ID, pc->request_id);
	if (rc == 0 && pc->peer[0])
		rc = proxy_add_header(pc, "X-Forwarded-For", pc->peer);
	if (rc == 0 && id)
		rc = proxy_add_header(pc, HTTP_H_USER_ID, id->user_id);
	if (rc == 0 && id)
		rc = proxy_add_header(pc, HTTP_H_ROLE, id->role);
	if (rc == 0 && id && id->session_id[0])
		rc = proxy_add_header(pc, HTTP_H_SESSION_ID, id->session_id);
	return rc;
}

static void proxy_start(struct proxy_call *pc)
{
	static const struct http_client_cb cb = {
		.on_head = proxy_on_head,
		.on_data = proxy_on_data,
		.on_done = proxy_on_done,
		.keep_going = proxy_keep_going,
	};
	struct http_request ureq = {
		.method = pc->method,
		.url = pc->url,
		.headers = (const char *const *)pc->headers,
		.body = pc->body_len ? pc->body : NULL,
		.body_len = pc->body_len,
		.connect_timeout_ms = PROXY_CONNECT_MS,
		.idle_timeout_ms = pc->gw->idle_timeout_ms,
		.max_response = PROXY_MAX_RESPONSE,
	};
	int rc;

	/* from now on a revocation ends this call - but for a call that
	 * ends a session itself (a logout), whose answer the feed's news of
	 * that very revocation may overtake */
	if (pc->live.id.user_id[0] && !pc->ends[0]) {
		pc->watched = true;
		revoke_watch(pc->gw, &pc->live);
		if (atomic_load(&pc->live.why) != GW_CUT_NONE) {
			proxy_cut_answer(pc, atomic_load(&pc->live.why));
			return;
		}
	}
	/* pc may be gone once a start returns 0 */
	rc = http_out_start(pc->gw->d.out, &ureq, &cb, pc);
	if (rc == CHAT_ECANCELED) {
		/* a deferred start after the door closed (shutdown) */
		proxy_fail(pc, 503, "upstream_unavailable",
			   "cannot call '%s': the gateway is stopping",
			   pc->up->name);
	} else if (rc != 0) {
		pc->rc = rc;
		proxy_fail(pc, 503, "upstream_unavailable",
			   "cannot call '%s': %s", pc->up->name,
			   chat_strerror(rc));
	}
}

/* Loop thread: the identity came from another thread (see below). */
static void proxy_start_deferred(void *arg)
{
	proxy_start(arg);
}

/* The identity is known (or anonymous): off to the upstream.  Loop or
 * curl thread; the call to the upstream starts on the loop thread. */
static void proxy_auth_done(void *arg, enum gw_auth_result r,
			    const struct gw_identity *id)
{
	struct proxy_call *pc = arg;

	if (r == GW_AUTH_OK)
		r = auth_admit(pc->gw, id, pc->method, pc->path);
	if (r != GW_AUTH_OK) {
		atomic_fetch_add(&pc->gw->metrics.auth_failures[r], 1);
		proxy_note(pc);
		pc->status = auth_respond(pc->res, r);
		proxy_finish(pc);
		return;
	}
	if (id)
		pc->live.id = *id;
	if (id && pc->ends[0] == '-')
		snprintf(pc->ends, sizeof(pc->ends), "%s", id->session_id);
	if (proxy_add_identity(pc, id) != 0) {
		proxy_fail(pc, 500, "internal", "out of memory");
		return;
	}
	if (pthread_equal(pthread_self(), pc->gw->loop_thread)) {
		proxy_start(pc);
		return;
	}
	if (http_server_defer(pc->gw->d.server, proxy_start_deferred,
			      pc) != 0)
		proxy_fail(pc, 500, "internal", "out of memory");
}

static struct proxy_call *proxy_call_new(struct gatewayd *gw,
					 struct http_req *req,
					 struct http_res *res)
{
	struct proxy_call *pc = calloc(1, sizeof(*pc));
	const struct gw_route *route;
	size_t i;

	if (!pc)
		return NULL;
	pc->gw = gw;
	pc->res = res;
	snprintf(pc->method, sizeof(pc->method), "%s", req->method);
	snprintf(pc->request_id, sizeof(pc->request_id), "%s",
		 req->request_id);
	snprintf(pc->peer, sizeof(pc->peer), "%s", req->peer ? req->peer : "");
	pc->body = req->body;
	pc->body_len = req->body_len;
	snprintf(pc->path, sizeof(pc->path), "%s", req->path);
	pc->live.cut = proxy_cut;
	atomic_init(&pc->live.why, GW_CUT_NONE);
	route = routes_find(gw, req->path);
	pc->up = route ? route->up : NULL;
	for (i = 0; i < NELEM(flush_rules); i++)
		if (strcmp(req->method, flush_rules[i].method) == 0 &&
		    strncmp(req->path, flush_rules[i].prefix,
			    strlen(flush_rules[i].prefix)) == 0)
			pc->flush_keys = true;
	for (i = 0; i < NELEM(end_rules); i++) {
		size_t n = strlen(end_rules[i].prefix);

		if (strcmp(req->method, end_rules[i].method) != 0 ||
		    strncmp(req->path, end_rules[i].prefix, n) != 0)
			continue;
		if (!end_rules[i].from_path && !req->path[n])
			snprintf(pc->ends, sizeof(pc->ends), "-");
		else if (end_rules[i].from_path && !strchr(req->path + n, '/'))
			snprintf(pc->ends, sizeof(pc->ends), "%s",
				 req->path + n);
	}
	return pc;
}

void proxy_handler(struct http_req *req, struct http_res *res)
{
	struct gatewayd *gw = req->app;
	struct proxy_call *pc = proxy_call_new(gw, req, res);
	const char *why = NULL;
	int rc;

	if (!pc) {
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	atomic_fetch_add(&gw->metrics.in_flight, 1);
	if (!pc->up) {
		proxy_fail(pc, 404, "not_found", "no route for '%s %s'",
			   req->method, req->path);
		return;
	}
	if (origin_check(gw, req, &why) != 0) {
		proxy_fail(pc, 403, "origin_refused", "%s", why);
		return;
	}
	rc = proxy_build_url(pc, req);
	if (rc == CHAT_ETOOBIG) {
		proxy_fail(pc, 414, "uri_too_long", "the path is too long");
		return;
	}
	if (rc == 0)
		rc = proxy_copy_headers(pc, req);
	if (rc != 0) {
		proxy_fail(pc, 500, "internal", "out of memory");
		return;
	}
	auth_check(gw, http_req_header(req, "authorization"),
		   pc->request_id, proxy_auth_done, pc);
}
