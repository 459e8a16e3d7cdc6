/*
 * http-server.c - the HTTP/1.1 server of every daemon, on libwebsockets.
 *
 * Threads: all lws calls happen on the loop thread.  Handlers on worker
 * threads (and the curl thread of the gateway) only touch an exchange
 * under srv->lock and then wake the loop with lws_cancel_service(); the
 * loop picks the exchange from the pending list and asks lws for a
 * writable callback on its connection.
 *
 * Lifetime: an exchange (struct http_res, which embeds the request) holds
 * one reference for the connection, one for the handler until its final
 * call, and one while it sits on the pending list.  It is freed when the
 * last one goes, so neither a closed connection nor a slow handler can
 * leave the other side with a dangling pointer.
 */
#include "http-server.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include <libwebsockets.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "http-route.h"
#include "http-ws.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "uuid.h"

#define HTTP_DEFAULT_MAX_BODY	(1024 * 1024)
#define HTTP_MAX_PENDING_OUT	(16 * 1024 * 1024)	/* per response */
#define HTTP_WRITE_CHUNK	(32 * 1024)
#define HTTP_MAX_HEADER_DATA	(16 * 1024)
#define HTTP_REQUEST_ID_MAX	128

/* One allocation per header: name then value, each NUL-terminated. */
struct http_hdr {
	char *name;		/* owned; lowercase, no colon */
	char *value;		/* inside name's allocation */
	size_t name_len, value_len;
};

struct http_defer {
	void (*fn)(void *);
	void *arg;
	struct http_defer *next;
};

/* A timer of http_server_after: armed on the loop thread, listed there
 * until it fires so that http_server_free can release unfired ones. */
struct http_timer {
	lws_sorted_usec_list_t sul;
	struct http_server *srv;
	void (*fn)(void *);
	void *arg;
	int64_t delay_ms;
	struct http_timer *prev, *next;
};

struct http_res {
	struct http_req req;		/* embedded; req.res points back */
	struct http_server *srv;
	int refs;			/* under srv->lock */
	struct lws *wsi;		/* loop thread; NULL once closed */
	bool closed;			/* client gone; under lock */
	int64_t t_start;		/* mono_ms at the request line */

	/* request storage, written on the loop before dispatch */
	char method[16];
	char *path;			/* owned */
	char *query;			/* owned */
	struct buf body;
	bool body_too_big;
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char peer[64];
	char note[96];			/* for the access log; under lock */
	struct http_hdr *hdrs;		/* owned request headers */
	size_t nhdrs;
	char *params;			/* owned storage of param names/values */
	const struct http_route *route;
	bool http10;			/* HTTP/1.0 client: no chunked */
	bool head_only;			/* HEAD: headers without body */
	bool must_close;		/* close the connection after this */
	bool dispatched;		/* handed to the route or an error */
	int body_completions;		/* HTTP_BODY_COMPLETION calls seen */
	bool upgrade;			/* a WebSocket upgrade (http-ws.h) */

	/* response; under srv->lock */
	int status;
	char ctype[128];
	struct http_hdr *rhdrs;		/* owned response headers */
	size_t nrhdrs;
	struct buf out;			/* body bytes not yet written */
	size_t out_off;			/* written prefix of out */
	int64_t sent;			/* body bytes handed to lws */
	int64_t content_length;		/* -1: unknown (chunked or close) */
	bool begun;			/* status decided */
	bool final;			/* nothing more will be appended */
	bool head_sent;			/* loop thread only */
	bool chunked;			/* loop thread only */
	bool done;			/* loop thread: transaction completed */
	bool pending;			/* on srv->pending */
	bool kick;			/* loop thread: ask for writable */
	struct http_res *next_pending;
};

struct http_pss {
	struct http_res *ex;		/* the exchange of this connection */
	bool upgrade;			/* on_http: it is a WebSocket upgrade */
};

/*
 * The client address of a keep-alive connection, read once: lws 4.1
 * gives each request of a connection fresh per-session data, so the
 * address is kept here, by socket, for the connection (wsi) that read
 * it, and dropped when that connection closes.  Loop thread only.
 */
struct http_peer {
	struct lws *wsi;
	char addr[48];
};

struct http_server {
	struct http_server_config cfg;	/* copy; strings borrowed */
	struct lws_context *ctx;
	struct lws_protocols protocols[2];
	pthread_mutex_t lock;
	struct http_res *pending;	/* exchanges with news for the loop */
	bool woken;			/* a wake-up is on its way to the loop */
	struct http_defer *defers;	/* functions to run on the loop */
	volatile sig_atomic_t stop;
	lws_sorted_usec_list_t cron_sul;
	struct http_timer *timers;	/* armed timers; loop thread only */
	struct http_peer *peers;	/* by socket; npeers of them */
	size_t npeers;
	int port;
};

/* Headers lws has no token for, as lws_hdr_custom_length wants them:
 * lowercase, with the colon. */
static const char *const custom_headers[] = {
	"x-request-id:", "x-chat-internal:", "x-chat-user-id:",
	"x-chat-role:", "x-chat-session-id:", "idempotency-key:",
	"last-event-id:", "x-api-key:", "x-forwarded-proto:",
	"x-forwarded-host:",
};

static const struct {
	int token;
	const char *method;
} method_tokens[] = {
	{ WSI_TOKEN_GET_URI, "GET" },
	{ WSI_TOKEN_POST_URI, "POST" },
	{ WSI_TOKEN_PUT_URI, "PUT" },
	{ WSI_TOKEN_PATCH_URI, "PATCH" },
	{ WSI_TOKEN_DELETE_URI, "DELETE" },
	{ WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
	{ WSI_TOKEN_HEAD_URI, "HEAD" },
};

static void ex_release(struct http_res *ex);
static bool ex_mark_pending_locked(struct http_res *ex);

/* The server whose loop runs on this thread (http_server_run). */
static __thread struct http_server *loop_server;

/* ------------------------------------------------------------------ */
/* exchange lifetime */

static void hdrs_free(struct http_hdr *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

static void ex_free(struct http_res *ex)
{
	free(ex->path);
	free(ex->query);
	buf_release(&ex->body);
	hdrs_free(ex->hdrs, ex->nhdrs);
	hdrs_free(ex->rhdrs, ex->nrhdrs);
	free(ex->params);
	buf_release(&ex->out);
	free(ex);
}

static void ex_release(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	int left;

	pthread_mutex_lock(&srv->lock);
	left = --ex->refs;
	pthread_mutex_unlock(&srv->lock);
	if (left == 0)
		ex_free(ex);
}

/*
 * Puts ex on the pending list, taking a reference.  True when the caller
 * must wake the loop: only the first exchange queued since the loop last
 * drained the list needs a wake-up, the others ride along.
 */
static bool ex_mark_pending_locked(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	bool wake;

	if (loop_server == srv) {
		/* on the loop thread itself (ON_LOOP handlers, deferred
		 * work): no queue and no wake-up, ex_kick asks lws for a
		 * writable callback once the lock is released */
		ex->kick = true;
		return false;
	}
	if (ex->pending)
		return false;
	ex->pending = true;
	ex->refs++;
	ex->next_pending = srv->pending;
	srv->pending = ex;
	wake = !srv->woken;
	srv->woken = true;
	return wake;
}

/* After ex_mark_pending_locked, with the lock released: the writable
 * request of the loop thread's own answers, or the wake-up of the loop
 * for another thread's. */
static void ex_kick(struct http_res *ex, bool wake)
{
	if (ex->kick) {
		ex->kick = false;	/* loop thread only */
		if (ex->wsi)
			lws_callback_on_writable(ex->wsi);
	} else if (wake) {
		lws_cancel_service(ex->srv->ctx);
	}
}

static void ex_wake(struct http_res *ex)
{
	bool wake;

	pthread_mutex_lock(&ex->srv->lock);
	wake = ex_mark_pending_locked(ex);
	pthread_mutex_unlock(&ex->srv->lock);
	ex_kick(ex, wake);
}

/* ------------------------------------------------------------------ */
/* request parsing, loop thread */

static int hdr_add(struct http_hdr **list, size_t *n, const char *name,
		   size_t nlen, const char *value, size_t vlen)
{
	struct http_hdr *h;
	char *mem;
	size_t i;

	/* capacity doubles from 8: a request's headers cost a few
	 * reallocs, not one each */
	if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) {
		struct http_hdr *grown;

		grown = realloc(*list, (*n < 8 ? 8 : *n * 2) * sizeof(**list));
		if (!grown)
			return CHAT_ENOMEM;
		*list = grown;
	}
	mem = malloc(nlen + vlen + 2);
	if (!mem)
		return CHAT_ENOMEM;
	for (i = 0; i < nlen; i++)
		mem[i] = (char)tolower((unsigned char)name[i]);
	mem[nlen] = '\0';
	memcpy(mem + nlen + 1, value, vlen);
	mem[nlen + 1 + vlen] = '\0';
	h = &(*list)[*n];
	h->name = mem;
	h->name_len = nlen;
	h->value = mem + nlen + 1;
	h->value_len = vlen;
	(*n)++;
	return 0;
}

static bool header_name_valid(const char *name, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c))
			return false;
	}
	return true;
}

static bool token_is_request_line(int tok)
{
	size_t i;

	for (i = 0; i < sizeof(method_tokens) / sizeof(method_tokens[0]); i++)
		if (method_tokens[i].token == tok)
			return true;
	return tok == WSI_TOKEN_HTTP_URI_ARGS || tok == WSI_TOKEN_HTTP1_0 ||
	       tok == WSI_TOKEN_CONNECT;
}

/*
 * The header tokens lws parses, with their names, worked out once: a
 * request looks at each of them, and the names and checks never change.
 */
static struct {
	int token;
	const char *name;	/* lws's static string, colon after len */
	size_t len;
} header_tokens[WSI_TOKEN_COUNT];
static size_t nheader_tokens;
static pthread_once_t header_tokens_once = PTHREAD_ONCE_INIT;

static void header_tokens_init(void)
{
	int tok;

	for (tok = 0; tok < WSI_TOKEN_COUNT; tok++) {
		const char *name = (const char *)lws_token_to_string(tok);
		size_t len;

		if (token_is_request_line(tok) || !name)
			continue;
		len = strcspn(name, ":");
		if (!header_name_valid(name, len))
			continue;
		header_tokens[nheader_tokens].token = tok;
		header_tokens[nheader_tokens].name = name;
		header_tokens[nheader_tokens].len = len;
		nheader_tokens++;
	}
}

/* Loop thread (the value buffer is on its stack). */
static int read_headers(struct http_res *ex, struct lws *wsi)
{
	char val[HTTP_MAX_HEADER_DATA + 1];
	int rc = 0;
	size_t i;

	pthread_once(&header_tokens_once, header_tokens_init);
	for (i = 0; i < nheader_tokens; i++) {
		int tok = header_tokens[i].token;
		int len = lws_hdr_total_length(wsi, tok);

		if (len <= 0 || len > HTTP_MAX_HEADER_DATA)
			continue;
		/* the length copied is measured: lws joins fragments of
		 * a repeated header with separators of its own */
		if (lws_hdr_copy(wsi, val, sizeof(val), tok) < 0)
			continue;
		rc = hdr_add(&ex->hdrs, &ex->nhdrs, header_tokens[i].name,
			     header_tokens[i].len, val, strlen(val));
		if (rc)
			return rc;
	}
	for (i = 0; i < sizeof(custom_headers) / sizeof(custom_headers[0]);
	     i++) {
		const char *cname = custom_headers[i];
		int clen = (int)strlen(cname), len;

		len = lws_hdr_custom_length(wsi, cname, clen);
		if (len <= 0 || len > HTTP_MAX_HEADER_DATA)
			continue;
		if (lws_hdr_custom_copy(wsi, val, sizeof(val), cname,
					clen) < 0)
			continue;
		rc = hdr_add(&ex->hdrs, &ex->nhdrs, cname, (size_t)clen - 1,
			     val, strlen(val));
		if (rc)
			return rc;
	}
	return 0;
}

static bool query_safe_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static int query_encode(struct buf *b, const char *s, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (query_safe_char(c))
			rc = buf_append(b, &s[i], 1);
		else
			rc = buf_printf(b, "%%%02X", c);
	}
	return rc;
}

/* lws hands the query over decoded, one fragment per name=value pair; it
 * is encoded again so that proxies can forward it and http_req_query can
 * split it unambiguously. */
static int read_query(struct http_res *ex, struct lws *wsi)
{
	struct buf q;
	char frag[4096];
	int n, rc = 0;

	buf_init(&q, 64 * 1024);
	for (n = 0; rc == 0; n++) {
		int len = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
						WSI_TOKEN_HTTP_URI_ARGS, n);
		const char *eq;

		if (len < 0)
			break;
		if (q.len)
			rc = buf_puts(&q, "&");
		eq = memchr(frag, '=', (size_t)len);
		if (rc == 0)
			rc = query_encode(&q, frag,
					  eq ? (size_t)(eq - frag) : (size_t)len);
		if (rc == 0 && eq) {
			rc = buf_puts(&q, "=");
			if (rc == 0)
				rc = query_encode(&q, eq + 1,
						  (size_t)(frag + len - eq - 1));
		}
	}
	if (rc == 0 && !q.data)
		rc = buf_puts(&q, "");
	if (rc) {
		buf_release(&q);
		return rc;
	}
	ex->query = buf_detach(&q, NULL);
	return 0;
}

static bool request_id_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > HTTP_REQUEST_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static const char *hdr_find(const struct http_hdr *h, size_t n,
			    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static int role_level(const char *role)
{
	if (!role)
		return 0;
	if (strcmp(role, "admin") == 0)
		return 3;
	if (strcmp(role, "user") == 0)
		return 2;
	if (strcmp(role, "guest") == 0)
		return 1;
	return 0;
}

/* Identity headers count only with the internal secret. */
static void read_identity(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	struct http_req *req = &ex->req;
	const char *secret;

	if (!srv->cfg.internal_secret || !*srv->cfg.internal_secret)
		return;
	secret = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-internal");
	if (!secret || !crypto_str_equal(secret, srv->cfg.internal_secret))
		return;
	req->internal = true;
	req->user_id = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-user-id");
	req->role = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-role");
	req->session_id = hdr_find(ex->hdrs, ex->nhdrs, "x-chat-session-id");
	if (req->user_id && (!*req->user_id || role_level(req->role) == 0)) {
		req->user_id = NULL;
		req->role = NULL;
		req->session_id = NULL;
	}
	if (req->session_id && !*req->session_id)
		req->session_id = NULL;
}

/* ------------------------------------------------------------------ */
/* dispatch */

static void run_handler(void *arg)
{
	struct http_res *ex = arg;

	log_set_request_id(ex->request_id);
	ex->route->handler(&ex->req, ex);
	log_set_request_id(NULL);
}

static int copy_params(struct http_res *ex, const struct http_route_match *m)
{
	size_t total = 0, off = 0;
	int i;

	for (i = 0; i < m->n; i++)
		total += m->name_lens[i] + m->value_lens[i] + 2;
	if (total == 0)
		return 0;
	ex->params = malloc(total);
	if (!ex->params)
		return CHAT_ENOMEM;
	for (i = 0; i < m->n; i++) {
		char *name = ex->params + off, *value;

		memcpy(name, m->names[i], m->name_lens[i]);
		name[m->name_lens[i]] = '\0';
		off += m->name_lens[i] + 1;
		value = ex->params + off;
		memcpy(value, m->values[i], m->value_lens[i]);
		value[m->value_lens[i]] = '\0';
		off += m->value_lens[i] + 1;
		ex->req.param_names[i] = name;
		ex->req.param_values[i] = value;
	}
	ex->req.nparams = m->n;
	return 0;
}

static void dispatch(struct http_res *ex)
{
	struct http_server *srv = ex->srv;
	struct http_req *req = &ex->req;
	const struct http_route *route = NULL;
	struct http_route_match m;
	enum http_route_result found;
	int rc;

	ex->dispatched = true;
	req->body = ex->body.data ? ex->body.data : "";
	req->body_len = ex->body.len;
	if (ex->body_too_big) {
		http_res_error(ex, 413, "payload_too_large",
			       "request body is larger than %zu bytes",
			       srv->cfg.max_body);
		return;
	}
	found = http_route_find(srv->cfg.routes, srv->cfg.nroutes,
				req->method, req->path, &route, &m);
	if (found == HTTP_ROUTE_NO_PATH && srv->cfg.fallback && !ex->upgrade) {
		srv->cfg.fallback(req, ex);	/* on the loop thread */
		return;
	}
	if (found == HTTP_ROUTE_NO_PATH) {
		http_res_error(ex, 404, "not_found", "no route for '%s %s'",
			       req->method, req->path);
		return;
	}
	if (found == HTTP_ROUTE_NO_METHOD) {
		http_res_error(ex, 405, "method_not_allowed",
			       "'%s' is not allowed on '%s'", req->method,
			       req->path);
		return;
	}
	rc = copy_params(ex, &m);
	if (rc) {
		http_res_chat_error(ex, rc, NULL);
		return;
	}
	/* WebSocket routes take upgrades only, and upgrades go nowhere else */
	if ((route->flags & HTTP_ROUTE_WEBSOCKET) && !ex->upgrade) {
		http_res_error(ex, 426, "upgrade_required",
			       "'%s' is a WebSocket endpoint", req->path);
		return;
	}
	if (!(route->flags & HTTP_ROUTE_WEBSOCKET) && ex->upgrade) {
		http_res_error(ex, 404, "not_found", "no WebSocket at '%s'",
			       req->path);
		return;
	}
	if (route->perm == HTTP_PERM_INTERNAL && !req->internal) {
		http_res_error(ex, 403, "forbidden", "internal route");
		return;
	}
	if (route->perm >= HTTP_PERM_GUEST && route->perm <= HTTP_PERM_ADMIN) {
		static const int need[] = {
			[HTTP_PERM_GUEST] = 1, [HTTP_PERM_USER] = 2,
			[HTTP_PERM_ADMIN] = 3,
		};

		if (!req->user_id) {
			http_res_error(ex, 401, "unauthorized",
				       "authentication required");
			return;
		}
		if (role_level(req->role) < need[route->perm]) {
			http_res_error(ex, 403, "forbidden",
				       "role '%s' may not do this", req->role);
			return;
		}
	}
	ex->route = route;
	if ((route->flags & (HTTP_ROUTE_ON_LOOP | HTTP_ROUTE_WEBSOCKET)) ||
	    !srv->cfg.pool) {
		run_handler(ex);
		return;
	}
	rc = pool_submit(srv->cfg.pool, run_handler, ex);
	if (rc)
		http_res_error(ex, 503, "busy", "server is busy, retry later");
}

/* ------------------------------------------------------------------ */
/* writing, loop thread */

/*
 * Builds the status line and headers into a new buffer (LWS_PRE in front,
 * room bytes free after them) without writing: the first piece of the
 * body goes out in the same write.  The length is sent as a plain header,
 * so lws keeps no count of its own (the exchange keeps it).
 */
static int build_head(struct http_res *ex, struct lws *wsi, size_t room,
		      unsigned char **out, size_t *out_len)
{
	size_t need = LWS_PRE + 1024 + strlen(ex->request_id) + room;
	unsigned char *buf, *start, *p, *end;
	bool nobody = ex->status == 204 || ex->status == 304 ||
		      (ex->status >= 100 && ex->status < 200);
	size_t i;
	int rc = -1;

	for (i = 0; i < ex->nrhdrs; i++)
		need += ex->rhdrs[i].name_len + ex->rhdrs[i].value_len + 8;
	buf = malloc(need);
	if (!buf)
		return -1;
	start = p = buf + LWS_PRE;
	end = buf + need;
	end -= room;
	if (lws_add_http_header_status(wsi, (unsigned)ex->status, &p, end))
		goto out;
	if (ex->ctype[0] && !nobody &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (unsigned char *)ex->ctype,
					 (int)strlen(ex->ctype), &p, end))
		goto out;
	if (lws_add_http_header_by_name(wsi, (unsigned char *)"x-request-id:",
					(unsigned char *)ex->request_id,
					(int)strlen(ex->request_id), &p, end))
		goto out;
	for (i = 0; i < ex->nrhdrs; i++) {
		const struct http_hdr *h = &ex->rhdrs[i];
		char name[128];

		/* http_res_header takes names of at most 100 bytes */
		memcpy(name, h->name, h->name_len);
		memcpy(name + h->name_len, ":", 2);
		if (lws_add_http_header_by_name(wsi, (unsigned char *)name,
				(unsigned char *)h->value, (int)h->value_len,
				&p, end))
			goto out;
	}
	if (nobody) {
		/* no length and no body */
	} else if (ex->content_length >= 0) {
		char len[24];
		int n = snprintf(len, sizeof(len), "%" PRId64,
				 ex->content_length);

		if (lws_add_http_header_by_token(wsi,
				WSI_TOKEN_HTTP_CONTENT_LENGTH,
				(unsigned char *)len, n, &p, end))
			goto out;
	} else if (ex->head_only) {
		/* HEAD of an answer of unknown length: nothing more to say */
	} else if (!ex->http10) {
		ex->chunked = true;
		if (lws_add_http_header_by_token(wsi,
				WSI_TOKEN_HTTP_TRANSFER_ENCODING,
				(unsigned char *)"chunked", 7, &p, end))
			goto out;
	} else {
		/* HTTP/1.0 without a length: the body ends at close */
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
				(unsigned char *)"close", 5, &p, end))
			goto out;
	}
	if (lws_finalize_http_header(wsi, &p, end))
		goto out;
	ex->head_sent = true;
	if (nobody || ex->head_only) {
		pthread_mutex_lock(&ex->srv->lock);
		ex->out_off = ex->out.len;
		pthread_mutex_unlock(&ex->srv->lock);
		ex->chunked = false;
	}
	*out = buf;
	*out_len = (size_t)(p - start);
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

static void log_access(struct http_res *ex)
{
	char note[sizeof(ex->note)];

	if (LOG_LINFO < log_level_current)
		return;
	pthread_mutex_lock(&ex->srv->lock);
	memcpy(note, ex->note, sizeof(note));
	pthread_mutex_unlock(&ex->srv->lock);
	log_set_request_id(ex->request_id);
	log_info("%s %s %d %" PRId64 "ms%s%s", ex->method, ex->path,
		 ex->status, mono_ms() - ex->t_start, note[0] ? " " : "", note);
	log_set_request_id(NULL);
}

/* Writes what is pending; returns -1 when the connection must close. */
static int on_writable(struct lws *wsi, struct http_pss *pss)
{
	struct http_res *ex = pss->ex;
	unsigned char *buf = NULL;
	size_t n = 0, hdr = 0, head = 0;
	bool last = false;
	int rc = 0;

	if (!ex || ex->done)
		return 0;
	pthread_mutex_lock(&ex->srv->lock);
	if (!ex->begun) {
		pthread_mutex_unlock(&ex->srv->lock);
		return 0;
	}
	pthread_mutex_unlock(&ex->srv->lock);
	if (!ex->head_sent &&
	    build_head(ex, wsi, HTTP_WRITE_CHUNK + 32, &buf, &head))
		return -1;

	pthread_mutex_lock(&ex->srv->lock);
	n = ex->out.len - ex->out_off;
	if (n > HTTP_WRITE_CHUNK)
		n = HTTP_WRITE_CHUNK;
	last = ex->final && ex->out_off + n == ex->out.len;
	/* A known length, all of it written: the client may send its next
	 * request at once, so the transaction ends now, not at the final
	 * call (which is then a no-op). */
	if (ex->content_length >= 0 && !ex->head_only &&
	    ex->sent + (int64_t)n >= ex->content_length)
		last = true;
	ex->sent += (int64_t)n;
	if (!buf && (n || (last && ex->chunked))) {
		buf = malloc(LWS_PRE + n + 32);
		if (!buf) {
			pthread_mutex_unlock(&ex->srv->lock);
			return -1;
		}
	}
	if (n || (last && ex->chunked)) {
		if (ex->chunked && n)
			hdr = (size_t)snprintf((char *)buf + LWS_PRE + head, 20,
					       "%zx\r\n", n);
		if (n)		/* the last empty chunk has no data (NULL) */
			memcpy(buf + LWS_PRE + head + hdr,
			       ex->out.data + ex->out_off, n);
		ex->out_off += n;
		if (ex->out_off == ex->out.len) {
			buf_reset(&ex->out);
			ex->out_off = 0;
		}
	}
	pthread_mutex_unlock(&ex->srv->lock);

	if (buf) {
		size_t total = head + hdr + n;
		int flags = last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;

		if (ex->chunked && n) {
			memcpy(buf + LWS_PRE + total, "\r\n", 2);
			total += 2;
		}
		if (ex->chunked && last) {
			memcpy(buf + LWS_PRE + total, "0\r\n\r\n", 5);
			total += 5;
		}
		if (lws_write(wsi, buf + LWS_PRE, total,
			      (enum lws_write_protocol)flags) < (int)total)
			rc = -1;
		free(buf);
		if (rc)
			return rc;
	}
	if (!last) {
		pthread_mutex_lock(&ex->srv->lock);
		if (ex->out.len > ex->out_off)
			lws_callback_on_writable(wsi);
		pthread_mutex_unlock(&ex->srv->lock);
		return 0;
	}
	/* the exchange is complete */
	ex->done = true;
	log_access(ex);
	pss->ex = NULL;
	pthread_mutex_lock(&ex->srv->lock);
	ex->wsi = NULL;
	pthread_mutex_unlock(&ex->srv->lock);
	rc = ((ex->content_length < 0 && ex->http10) || ex->must_close) ?
		-1 : 0;
	ex_release(ex);
	if (rc == 0 && lws_http_transaction_completed(wsi))
		rc = -1;
	return rc;
}

/* The loop's share of cross-thread work: pending exchanges and defers. */
static void drain_pending(struct http_server *srv)
{
	struct http_res *list, *ex, *next;
	struct http_defer *defers, *d, *dnext, *rev = NULL;

	pthread_mutex_lock(&srv->lock);
	list = srv->pending;
	srv->pending = NULL;
	srv->woken = false;
	defers = srv->defers;
	srv->defers = NULL;
	pthread_mutex_unlock(&srv->lock);

	for (ex = list; ex; ex = next) {
		/* next before pending = false: from then on another thread
		 * may put ex on the new list and rewrite next_pending */
		pthread_mutex_lock(&srv->lock);
		next = ex->next_pending;
		ex->pending = false;
		pthread_mutex_unlock(&srv->lock);
		if (ex->wsi)
			lws_callback_on_writable(ex->wsi);
		ex_release(ex);
	}
	for (d = defers; d; d = dnext) {	/* run in submission order */
		dnext = d->next;
		d->next = rev;
		rev = d;
	}
	for (d = rev; d; d = dnext) {
		dnext = d->next;
		d->fn(d->arg);
		free(d);
	}
}

/* ------------------------------------------------------------------ */
/* the lws callback */

static struct http_res *ex_new(struct http_server *srv, struct lws *wsi)
{
	struct http_res *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	ex->srv = srv;
	ex->refs = 2;			/* connection + handler */
	ex->wsi = wsi;
	ex->t_start = mono_ms();
	ex->content_length = -1;
	buf_init(&ex->body, srv->cfg.max_body);
	buf_init(&ex->out, HTTP_MAX_PENDING_OUT);
	ex->req.res = ex;
	ex->req.server = srv;
	ex->req.app = srv->cfg.app;
	return ex;
}

/* The client address of wsi into out: from the connection's cache
 * entry, read (one getpeername) on its first request.  An upgrade is
 * read directly and leaves no entry: a WebSocket never reaches
 * CLOSED_HTTP, where entries are dropped. */
static void peer_lookup(struct http_server *srv, struct lws *wsi,
			bool upgrade, char *out, size_t outlen)
{
	int fd = (int)lws_get_socket_fd(wsi);
	struct http_peer *p;

	if (fd < 0 || (size_t)fd >= srv->npeers) {
		lws_get_peer_simple(wsi, out, outlen);
		return;
	}
	p = &srv->peers[fd];
	if (upgrade) {
		p->wsi = NULL;
		lws_get_peer_simple(wsi, out, outlen);
		return;
	}
	if (p->wsi != wsi || !p->addr[0]) {
		p->wsi = wsi;
		lws_get_peer_simple(wsi, p->addr, sizeof(p->addr));
	}
	snprintf(out, outlen, "%s", p->addr);
}

/* wsi closes: its socket number may come back for another client. */
static void peer_forget(struct http_server *srv, struct lws *wsi)
{
	int fd = (int)lws_get_socket_fd(wsi);

	if (fd >= 0 && (size_t)fd < srv->npeers && srv->peers[fd].wsi == wsi)
		srv->peers[fd].wsi = NULL;
}

static int on_http(struct http_server *srv, struct lws *wsi,
		   struct http_pss *pss, const char *uri, size_t len)
{
	struct http_res *ex;
	const char *rid, *clen;
	size_t i;
	int rc;

	ex = ex_new(srv, wsi);
	if (!ex)
		return -1;
	pss->ex = ex;
	for (i = 0; i < sizeof(method_tokens) / sizeof(method_tokens[0]); i++)
		if (lws_hdr_total_length(wsi, method_tokens[i].token) > 0) {
			snprintf(ex->method, sizeof(ex->method), "%s",
				 method_tokens[i].method);
			break;
		}
	if (!ex->method[0])
		snprintf(ex->method, sizeof(ex->method), "UNKNOWN");
	ex->head_only = strcmp(ex->method, "HEAD") == 0;
	ex->upgrade = pss->upgrade;
	ex->http10 = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP1_0) > 0;
	ex->path = strndup(uri && len ? uri : "/", uri && len ? len : 1);
	peer_lookup(srv, wsi, pss->upgrade, ex->peer, sizeof(ex->peer));
	rc = ex->path ? 0 : CHAT_ENOMEM;
	if (rc == 0)
		rc = read_query(ex, wsi);
	if (rc == 0)
		rc = read_headers(ex, wsi);
	if (rc)
		return -1;
	rid = hdr_find(ex->hdrs, ex->nhdrs, "x-request-id");
	if (rid && request_id_valid(rid))
		snprintf(ex->request_id, sizeof(ex->request_id), "%s", rid);
	else if (uuid_v7(ex->request_id))
		return -1;

	ex->req.method = ex->method;
	ex->req.path = ex->path;
	ex->req.query = ex->query;
	ex->req.request_id = ex->request_id;
	ex->req.peer = ex->peer;
	read_identity(ex);

	if (ex->path[0] != '/' || strcmp(ex->method, "UNKNOWN") == 0) {
		http_res_error(ex, 400, "bad_request", "malformed request");
		return 0;
	}
	clen = hdr_find(ex->hdrs, ex->nhdrs, "content-length");
	if (clen) {
		char *endp;
		unsigned long long v = strtoull(clen, &endp, 10);

		if (*endp || endp == clen) {
			http_res_error(ex, 400, "bad_request",
				       "malformed 'content-length'");
			return 0;
		}
		if (v > srv->cfg.max_body) {
			/* Refuse without reading it; the connection closes
			 * after the answer because the body is unread. */
			ex->must_close = true;
			ex->body_too_big = true;
			dispatch(ex);
			return 0;
		}
		if (v > 0)
			return 0;	/* wait for LWS_CALLBACK_HTTP_BODY */
	}
	if (hdr_find(ex->hdrs, ex->nhdrs, "transfer-encoding"))
		return 0;
	dispatch(ex);
	return 0;
}

/* A WebSocket upgrade (see http-ws.h): the request goes through on_http
 * and dispatch like any other, its handler runs now, on this thread.  A
 * refusal (any answer begun) is written at once and the connection
 * closes; otherwise http-ws.c takes the connection over and the exchange
 * lets go of it (the handler's final call is http_ws_accept/_refuse). */
static int on_upgrade(struct http_server *srv, struct lws *wsi)
{
	char uri[HTTP_MAX_HEADER_DATA + 1];
	/* lws allocates the per-session data only after the upgrade */
	struct http_pss upss = { .ex = NULL, .upgrade = true }, *pss = &upss;
	struct http_res *ex;
	bool refused;
	int n;

	n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	if (n <= 0)
		return -1;		/* not a GET */
	if (on_http(srv, wsi, pss, uri, (size_t)n) != 0) {
		ex = pss->ex;
		if (ex) {	/* never dispatched: both references go */
			ex_release(ex);
			ex_release(ex);
		}
		return -1;
	}
	ex = pss->ex;
	if (!ex->dispatched) {		/* it announced a body */
		ex->dispatched = true;
		http_res_error(ex, 400, "bad_request",
			       "an upgrade request has no body");
	}
	pthread_mutex_lock(&srv->lock);
	refused = ex->begun;
	pthread_mutex_unlock(&srv->lock);
	if (refused) {
		ex->must_close = true;
		on_writable(wsi, pss);
		return -1;
	}
	n = http_ws_upgrade(srv, wsi, ex);
	pss->ex = NULL;
	pthread_mutex_lock(&srv->lock);
	ex->wsi = NULL;
	ex->closed = true;
	ex->done = true;
	pthread_mutex_unlock(&srv->lock);
	ex_release(ex);			/* the connection's reference */
	return n;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct http_pss *pss = user;
	struct lws_context *ctx = lws_get_context(wsi);
	struct http_server *srv = ctx ? lws_context_user(ctx) : NULL;

	int ws_ret;

	/* WebSocket connections, server and client side: http-ws.c */
	if (http_ws_lws_callback(srv, wsi, (int)reason, in, len, &ws_ret))
		return ws_ret;
	if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE && in &&
	    strcasecmp(in, "websocket") == 0)
		return on_upgrade(srv, wsi);
	if (!pss && reason != LWS_CALLBACK_EVENT_WAIT_CANCELLED)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (pss->ex)	/* a previous exchange never finished */
			return -1;
		return on_http(srv, wsi, pss, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->ex && !pss->ex->body_too_big &&
		    buf_append(&pss->ex->body, in, len))
			pss->ex->body_too_big = true;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/*
		 * lws 4.1 leaves a connection in its body state until the
		 * transaction completes and may call this again for bytes
		 * that arrive meanwhile, without consuming them: the loop
		 * would spin.  Once is normal (also after a request with
		 * "Content-Length: 0", already dispatched); a second time,
		 * the client loses its connection instead.
		 */
		if (!pss->ex)
			return 0;
		if (pss->ex->body_completions++ > 0)
			return -1;
		if (!pss->ex->dispatched)
			dispatch(pss->ex);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writable(wsi, pss);
	case LWS_CALLBACK_CLOSED_HTTP:
		peer_forget(srv, wsi);
		if (pss->ex) {
			struct http_res *ex = pss->ex;

			pss->ex = NULL;
			pthread_mutex_lock(&srv->lock);
			ex->wsi = NULL;
			ex->closed = true;
			pthread_mutex_unlock(&srv->lock);
			if (!ex->done) {
				ex->status = ex->status ? ex->status : 499;
				log_access(ex);
			}
			ex_release(ex);
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (srv)
			drain_pending(srv);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ------------------------------------------------------------------ */
/* public: server */

static void cron_fire(lws_sorted_usec_list_t *sul)
{
	struct http_server *srv =
		lws_container_of(sul, struct http_server, cron_sul);

	srv->cfg.cron(srv->cfg.app);
	lws_sul_schedule(srv->ctx, 0, &srv->cron_sul, cron_fire,
			 (lws_usec_t)srv->cfg.cron_ms * LWS_US_PER_MS);
}

static void lws_log_to_ours(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_error("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

int http_server_new(const struct http_server_config *cfg,
		    struct http_server **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct http_server *srv;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return CHAT_ENOMEM;
	srv->cfg = *cfg;
	if (!srv->cfg.max_body)
		srv->cfg.max_body = HTTP_DEFAULT_MAX_BODY;
	pthread_mutex_init(&srv->lock, NULL);
	lws_set_log_level(LLL_ERR, lws_log_to_ours);
	{
		struct rlimit rl;

		/* one entry per possible socket; calloc'd pages stay
		 * untouched, so only sockets in use cost memory */
		srv->npeers = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
			      rl.rlim_cur != RLIM_INFINITY ?
				      (size_t)rl.rlim_cur : 65536;
		if (srv->npeers > 65536)
			srv->npeers = 65536;
		srv->peers = calloc(srv->npeers, sizeof(*srv->peers));
		if (!srv->peers)
			srv->npeers = 0;	/* every request looks it up */
	}

	srv->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = http_callback,
		.per_session_data_size = sizeof(struct http_pss),
		.rx_buffer_size = 0,
	};
	memset(&info, 0, sizeof(info));
	info.protocols = srv->protocols;
	info.user = srv;
	info.max_http_header_data = HTTP_MAX_HEADER_DATA;
	info.max_http_header_pool = 256;
	info.keepalive_timeout = 60;
	info.timeout_secs = 30;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (cfg->unix_path) {
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = cfg->unix_path;
	} else {
		info.iface = cfg->host ? cfg->host : "127.0.0.1";
		info.port = cfg->port ? cfg->port : CONTEXT_PORT_NO_LISTEN_SERVER;
	}
	if (!cfg->unix_path && cfg->port == 0) {
		snprintf(err, errlen, "an ephemeral port is not supported");
		goto fail;
	}
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		snprintf(err, errlen, "cannot listen on '%s:%d'",
			 info.iface, cfg->port);
		goto fail;
	}
	srv->port = cfg->port;
	if (cfg->cron && cfg->cron_ms > 0)
		lws_sul_schedule(srv->ctx, 0, &srv->cron_sul, cron_fire,
				 (lws_usec_t)cfg->cron_ms * LWS_US_PER_MS);
	*out = srv;
	return 0;
fail:
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return CHAT_EIO;
}

struct lws_context *http_server_lws_context(struct http_server *s)
{
	return s->ctx;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_run(struct http_server *s)
{
	loop_server = s;
	while (!s->stop)
		if (lws_service(s->ctx, 0) < 0)
			return CHAT_EIO;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	s->stop = 1;
	lws_cancel_service(s->ctx);
}

static void timer_fire(lws_sorted_usec_list_t *sul)
{
	struct http_timer *t = lws_container_of(sul, struct http_timer, sul);

	if (t->prev)
		t->prev->next = t->next;
	else
		t->srv->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->fn(t->arg);
	free(t);
}

/* Loop thread (through a defer): lists and schedules a timer. */
static void timer_arm(void *arg)
{
	struct http_timer *t = arg;

	t->prev = NULL;
	t->next = t->srv->timers;
	if (t->next)
		t->next->prev = t;
	t->srv->timers = t;
	lws_sul_schedule(t->srv->ctx, 0, &t->sul, timer_fire,
			 (lws_usec_t)t->delay_ms * LWS_US_PER_MS);
}

void http_server_free(struct http_server *s)
{
	struct http_defer *d, *next;
	struct http_timer *t, *tnext;

	if (!s)
		return;
	lws_sul_cancel(&s->cron_sul);
	for (t = s->timers; t; t = tnext) {
		tnext = t->next;
		lws_sul_cancel(&t->sul);
		free(t);
	}
	lws_context_destroy(s->ctx);
	drain_pending(s);
	for (d = s->defers; d; d = next) {
		next = d->next;
		if (d->fn == timer_arm)
			free(d->arg);	/* a timer never armed */
		free(d);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->peers);
	free(s);
}

int http_server_defer(struct http_server *s, void (*fn)(void *), void *arg)
{
	struct http_defer *d = malloc(sizeof(*d));

	if (!d)
		return CHAT_ENOMEM;
	d->fn = fn;
	d->arg = arg;
	pthread_mutex_lock(&s->lock);
	d->next = s->defers;
	s->defers = d;
	pthread_mutex_unlock(&s->lock);
	lws_cancel_service(s->ctx);
	return 0;
}

int http_server_after(struct http_server *s, int64_t delay_ms,
		      void (*fn)(void *), void *arg)
{
	struct http_timer *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return CHAT_ENOMEM;
	t->srv = s;
	t->fn = fn;
	t->arg = arg;
	t->delay_ms = delay_ms < 0 ? 0 : delay_ms;
	rc = http_server_defer(s, timer_arm, t);
	if (rc < 0)
		free(t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* public: request */

const char *http_req_header(struct http_req *req, const char *name)
{
	return hdr_find(req->res->hdrs, req->res->nhdrs, name);
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	int i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->param_names[i], name) == 0)
			return req->param_values[i];
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX and '+' of s[0..n) into out; CHAT_ETOOBIG if it won't fit. */
static int url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= outlen)
			return CHAT_ETOOBIG;
		out[o++] = (char)c;
	}
	if (o >= outlen)
		return CHAT_ETOOBIG;
	out[o] = '\0';
	return 0;
}

int http_req_query(const struct http_req *req, const char *name, char *out,
		   size_t outlen)
{
	const char *p = req->query;
	size_t nlen = strlen(name);

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		char key[256];

		if (klen < sizeof(key) && url_decode(p, klen, key,
						     sizeof(key)) == 0 &&
		    strlen(key) == nlen && memcmp(key, name, nlen) == 0) {
			if (!eq)
				return url_decode("", 0, out, outlen);
			return url_decode(eq + 1, plen - klen - 1, out, outlen);
		}
		p = amp ? amp + 1 : NULL;
	}
	return CHAT_ENOTFOUND;
}

char **http_req_headers(struct http_req *req, size_t *n)
{
	struct http_res *ex = req->res;
	char **out;
	size_t i;

	*n = 0;
	out = calloc(ex->nhdrs + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < ex->nhdrs; i++) {
		const struct http_hdr *h = &ex->hdrs[i];

		out[i] = malloc(h->name_len + h->value_len + 3);
		if (!out[i]) {
			http_headers_free(out, i);
			return NULL;
		}
		memcpy(out[i], h->name, h->name_len);
		memcpy(out[i] + h->name_len, ": ", 2);
		memcpy(out[i] + h->name_len + 2, h->value, h->value_len + 1);
	}
	*n = ex->nhdrs;
	return out;
}

void http_headers_free(char **h, size_t n)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < n; i++)
		free(h[i]);
	free(h);
}

/* ------------------------------------------------------------------ */
/* public: response */

int http_res_header(struct http_res *res, const char *name, const char *value)
{
	int rc;

	if (strpbrk(value, "\r\n"))
		return CHAT_EINVAL;	/* whichever header: no line break */
	if (strcasecmp(name, "content-length") == 0) {
		char *endp;
		long long v = strtoll(value, &endp, 10);

		if (*endp || v < 0)
			return CHAT_EINVAL;
		pthread_mutex_lock(&res->srv->lock);
		res->content_length = v;
		pthread_mutex_unlock(&res->srv->lock);
		return 0;
	}
	if (strcasecmp(name, "content-type") == 0) {
		pthread_mutex_lock(&res->srv->lock);
		snprintf(res->ctype, sizeof(res->ctype), "%s", value);
		pthread_mutex_unlock(&res->srv->lock);
		return 0;
	}
	if (strlen(name) > 100 || strpbrk(name, "\r\n: "))
		return CHAT_EINVAL;
	pthread_mutex_lock(&res->srv->lock);
	rc = hdr_add(&res->rhdrs, &res->nrhdrs, name, strlen(name), value,
		     strlen(value));
	pthread_mutex_unlock(&res->srv->lock);
	return rc;
}

int http_res_begin(struct http_res *res, int status, const char *ctype)
{
	bool wake;

	pthread_mutex_lock(&res->srv->lock);
	if (res->begun) {
		pthread_mutex_unlock(&res->srv->lock);
		return CHAT_EINVAL;
	}
	res->status = status;
	if (ctype)
		snprintf(res->ctype, sizeof(res->ctype), "%s", ctype);
	res->begun = true;
	wake = ex_mark_pending_locked(res);
	pthread_mutex_unlock(&res->srv->lock);
	ex_kick(res, wake);
	return 0;
}

int http_res_write(struct http_res *res, const void *data, size_t len)
{
	bool wake = false;
	int rc = 0;

	pthread_mutex_lock(&res->srv->lock);
	if (res->closed)
		rc = CHAT_ECLOSED;
	else if (res->head_only)
		rc = 0;
	else if (!res->begun || res->final)
		rc = CHAT_EINVAL;
	else
		rc = buf_append(&res->out, data, len);
	if (rc == 0 && !res->head_only)
		wake = ex_mark_pending_locked(res);
	pthread_mutex_unlock(&res->srv->lock);
	ex_kick(res, wake);
	return rc;
}

void http_res_end(struct http_res *res)
{
	pthread_mutex_lock(&res->srv->lock);
	res->final = true;
	pthread_mutex_unlock(&res->srv->lock);
	ex_wake(res);
	ex_release(res);		/* the handler's reference */
}

bool http_res_closed(const struct http_res *res)
{
	bool closed;

	pthread_mutex_lock(&res->srv->lock);
	closed = res->closed;
	pthread_mutex_unlock(&res->srv->lock);
	return closed;
}

/* All of it under one lock, so the loop never sees half an answer. */
void http_res_note(struct http_res *res, const char *fmt, ...)
{
	char note[sizeof(res->note)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&res->srv->lock);
	memcpy(res->note, note, sizeof(note));
	pthread_mutex_unlock(&res->srv->lock);
}

void http_res_send(struct http_res *res, int status, const char *ctype,
		   char *body, size_t len)
{
	bool wake = false;

	pthread_mutex_lock(&res->srv->lock);
	if (!res->begun) {
		res->status = status;
		if (ctype)
			snprintf(res->ctype, sizeof(res->ctype), "%s", ctype);
		res->content_length = (int64_t)len;
		res->begun = true;
		if (len && !res->head_only && !res->closed &&
		    buf_append(&res->out, body, len))
			res->content_length = (int64_t)res->out.len;
		res->final = true;
		wake = ex_mark_pending_locked(res);
	}
	pthread_mutex_unlock(&res->srv->lock);
	free(body);
	ex_kick(res, wake);
	ex_release(res);		/* the handler's reference */
}

void http_res_json(struct http_res *res, int status, cJSON *json)
{
	char *text = NULL;

	if (json) {
		text = json_print(json);
		cJSON_Delete(json);
		if (!text) {
			http_res_send(res, 500, "application/json",
				      strdup("{\"error\":{\"code\":\"internal\","
					     "\"message\":\"out of memory\"}}"),
				      56);
			return;
		}
	}
	http_res_send(res, status, text ? "application/json" : NULL, text,
		      text ? strlen(text) : 0);
}

void http_res_error(struct http_res *res, int status, const char *code,
		    const char *fmt, ...)
{
	char msg[512];
	cJSON *root, *err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	cJSON_AddStringToObject(err, "request_id", res->request_id);
	http_res_json(res, status, root);
}

static const struct {
	int rc;
	int status;
	const char *code;
} error_map[] = {
	{ CHAT_EINVAL, 400, "invalid_request" },
	{ CHAT_EPARSE, 400, "invalid_json" },
	{ CHAT_EAUTH, 401, "unauthorized" },
	{ CHAT_EEXPIRED, 401, "token_expired" },
	{ CHAT_ECRYPTO, 401, "invalid_token" },
	{ CHAT_EPERM, 403, "forbidden" },
	{ CHAT_ENOTFOUND, 404, "not_found" },
	{ CHAT_EEXIST, 409, "conflict" },
	{ CHAT_ECONFLICT, 409, "conflict" },
	{ CHAT_ETOOBIG, 413, "payload_too_large" },
	{ CHAT_EBUSY, 503, "busy" },
	{ CHAT_EUPSTREAM, 503, "upstream_unavailable" },
	{ CHAT_ETIMEDOUT, 504, "timeout" },
};

void http_res_chat_error(struct http_res *res, int rc, const char *message)
{
	size_t i;

	for (i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++)
		if (error_map[i].rc == rc) {
			http_res_error(res, error_map[i].status,
				       error_map[i].code, "%s",
				       message ? message : chat_strerror(rc));
			return;
		}
	http_res_error(res, 500, "internal", "%s",
		       message ? message : chat_strerror(rc));
}
