/*
 * http-curl.c - outbound HTTP on libcurl: one multi loop on its own
 * thread for asynchronous calls, and a blocking easy call with a
 * per-thread handle for worker threads.  The implementation behind
 * http-client.h for what the curl-free paths cannot reach (https, host
 * names, Unix sockets); built into the run-time module chat-curl.so
 * (module.h), whose one exported symbol is chat_module_curl_v2, so that a
 * daemon maps libcurl and its dependencies only once it needs them.
 *
 * An asynchronous call's life: http_client_start copies the request into
 * one block and queues it under the mutex, then wakes the loop.  The loop
 * thread takes the queue, sets up an easy handle (from a small pool) and
 * adds it to the multi handle; from then on everything about the call
 * happens on the loop thread.  Header lines are collected until the blank
 * line that ends the final (non-1xx) head, then on_head runs once, on_data
 * per piece, on_done once, and the call is freed.  About every 100 ms the
 * loop sweeps the running calls for keep_going and their idle deadline.
 *
 * Connections stay open between calls (the multi handle's connection
 * cache), so a daemon talking to a sibling pays for TCP setup once.
 */
#include "http-curl.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <curl/curl.h>

#include "err.h"
#include "util.h"
#include "module-ext.h"
#include "banned.h"

MODULE_EXT_INIT;

#define CLIENT_SWEEP_MS 100		/* keep_going / idle check period */
#define CLIENT_IDLE_POLL_MS 60000	/* poll timeout with nothing running */
#define CLIENT_EASY_POOL 64		/* idle easy handles kept for reuse */
#define CLIENT_MAX_CONNECTS 128		/* idle connections kept open */
#define DEFAULT_CONNECT_MS 1000
#define DEFAULT_MAX_RESPONSE (8u << 20)
#define HEAD_MAX_LINES 100		/* header lines in one response head */

struct http_call {
	struct http_call *next;		/* queue, then the running list */
	struct http_call *prev;		/* running list only */
	struct curl_client *client;	/* NULL for a blocking fetch */
	CURL *easy;			/* while running */
	struct curl_slist *headers;	/* owned */
	/* the request; in the same allocation as the call (async) or the
	 * caller's (curl_fetch) */
	const char *method;
	const char *url;
	const char *unix_socket;	/* NULL: TCP */
	const char *body;		/* NULL: none */
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms;
	long idle_timeout_ms;
	size_t max_response;
	bool truncate;			/* drop the body past max_response */
	http_addr_ok_fn addr_ok;	/* NULL: any address */
	void *addr_arg;
	struct http_client_cb cb;
	void *arg;
	/* the response so far */
	struct buf head;		/* header lines, each NUL-terminated */
	size_t nhead;			/* lines in head */
	size_t received;		/* header and body bytes */
	int64_t last_io_ms;		/* monotonic, last byte or start */
	bool connected;			/* a connection was set up or reused */
	bool head_done;			/* on_head ran */
	bool refused;			/* addr_ok refused an address */
	int abort_rc;			/* why we stopped the transfer */
};

struct curl_client {
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mu;		/* guards queue_* and stopping */
	struct http_call *queue_head;	/* started, not yet on the loop */
	struct http_call *queue_tail;
	bool stopping;
	/* loop thread only */
	struct http_call *running;	/* doubly linked */
	CURL *pool[CLIENT_EASY_POOL];	/* idle easy handles */
	size_t npool;
};

/* libcurl's result codes that mean more than "the upstream failed". */
static const struct {
	CURLcode code;
	int rc;
} curl_rc_map[] = {
	{ CURLE_OPERATION_TIMEDOUT, CHAT_ETIMEDOUT },
	{ CURLE_FILESIZE_EXCEEDED, CHAT_ETOOBIG },
	{ CURLE_OUT_OF_MEMORY, CHAT_ENOMEM },
	{ CURLE_ABORTED_BY_CALLBACK, CHAT_ECANCELED },
	{ CURLE_WRITE_ERROR, CHAT_ECANCELED },
	{ CURLE_URL_MALFORMAT, CHAT_EINVAL },
	{ CURLE_UNSUPPORTED_PROTOCOL, CHAT_EINVAL },
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc = CURLE_FAILED_INIT;
static pthread_key_t fetch_key;		/* per-thread easy handle */

static void fetch_easy_free(void *easy)
{
	curl_easy_cleanup(easy);
}

static void curl_once_init(void)
{
	curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (curl_once_rc == CURLE_OK &&
	    pthread_key_create(&fetch_key, fetch_easy_free) != 0)
		curl_once_rc = CURLE_FAILED_INIT;
}

static int curl_ready(void)
{
	pthread_once(&curl_once, curl_once_init);
	return curl_once_rc == CURLE_OK ? 0 : CHAT_ENOMEM;
}

/* ---- one call: headers, body, result ---------------------------------- */

static bool has_header(const char *const *h, const char *name)
{
	size_t n = strlen(name);

	for (; h && *h; h++)
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
			return true;
	return false;
}

/* The request's header list, plus "Expect:" (no 100-continue round trip)
 * and no invented form Content-Type for a body. */
static int call_build_headers(struct http_call *call,
			      const char *const *headers)
{
	struct curl_slist *l = NULL, *t;
	const char *const *h;

	for (h = headers; h && *h; h++) {
		t = curl_slist_append(l, *h);
		if (!t)
			goto fail;
		l = t;
	}
	t = curl_slist_append(l, "Expect:");
	if (!t)
		goto fail;
	l = t;
	if (call->body && !has_header(headers, "Content-Type")) {
		t = curl_slist_append(l, "Content-Type:");
		if (!t)
			goto fail;
		l = t;
	}
	call->headers = l;
	return 0;
fail:
	curl_slist_free_all(l);
	return CHAT_ENOMEM;
}

/* Runs on_head with the lines collected; false when it aborted. */
static bool call_fire_head(struct http_call *call, long status)
{
	const char *lines[HEAD_MAX_LINES];
	const char *p = call->head.data;
	size_t i;
	int stop = 0;

	for (i = 0; i < call->nhead; i++) {
		lines[i] = p;
		p += strlen(p) + 1;
	}
	call->head_done = true;
	if (call->cb.on_head)
		stop = call->cb.on_head(call->arg, (int)status, lines,
					call->nhead);
	buf_release(&call->head);
	call->nhead = 0;
	if (stop) {
		call->abort_rc = CHAT_ECANCELED;
		return false;
	}
	return true;
}

/* The blank line after a head: a 1xx head is dropped, the final one goes
 * to on_head. */
static bool call_head_end(struct http_call *call)
{
	long status = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 100 && status < 200) {
		buf_reset(&call->head);
		call->nhead = 0;
		return true;
	}
	return call_fire_head(call, status);
}

static size_t call_header_cb(char *data, size_t size, size_t n, void *p)
{
	struct http_call *call = p;
	size_t len = size * n, l = len;

	call->last_io_ms = mono_ms();
	if (call->head_done)
		return len;			/* trailers */
	call->received += len;
	if (call->received > call->max_response) {
		call->abort_rc = CHAT_ETOOBIG;
		return 0;
	}
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		buf_reset(&call->head);		/* a new head starts */
		call->nhead = 0;
		return len;
	}
	while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
		l--;
	if (l == 0)
		return call_head_end(call) ? len : 0;
	if (data[0] == ' ' || data[0] == '\t')
		return len;			/* obsolete line folding */
	if (call->nhead == HEAD_MAX_LINES ||
	    buf_append(&call->head, data, l) != 0 ||
	    buf_append(&call->head, "", 1) != 0) {
		call->abort_rc = CHAT_ETOOBIG;
		return 0;
	}
	call->nhead++;
	return len;
}

static size_t call_write_cb(char *data, size_t size, size_t n, void *p)
{
	struct http_call *call = p;
	size_t len = size * n, all = len;

	call->last_io_ms = mono_ms();
	if (!call->head_done && !call_head_end(call))
		return 0;
	if (len > call->max_response - call->received) {
		if (!call->truncate) {
			call->abort_rc = CHAT_ETOOBIG;
			return 0;
		}
		/* keep what fits, swallow the rest */
		len = call->max_response - call->received;
		call->received += len;
		if (len && call->cb.on_data &&
		    call->cb.on_data(call->arg, data, len)) {
			call->abort_rc = CHAT_ECANCELED;
			return 0;
		}
		return all;
	}
	call->received += len;
	if (call->cb.on_data && call->cb.on_data(call->arg, data, len)) {
		call->abort_rc = CHAT_ECANCELED;
		return 0;
	}
	return len;
}

/* A connection is there (new or reused); a timeout before this point is a
 * connect failure, not a slow answer. */
static int call_prereq_cb(void *p, char *ip, char *local_ip, int port,
			  int local_port)
{
	struct http_call *call = p;

	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	call->connected = true;
	return CURL_PREREQFUNC_OK;
}

/* Asks addr_ok about the address libcurl is about to connect to; a
 * refused one is never connected to (libcurl tries the next one). */
static curl_socket_t call_opensocket_cb(void *p, curlsocktype purpose,
					struct curl_sockaddr *a)
{
	struct http_call *call = p;

	(void)purpose;
	if (!call->addr_ok(call->addr_arg, &a->addr, (size_t)a->addrlen)) {
		call->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static bool method_is(const char *method, const char *m)
{
	return strcmp(method, m) == 0;
}

#define SETOPT(e, opt, val) do { \
	if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK) \
		return CHAT_EINVAL; \
} while (0)

static int call_setup_easy(struct http_call *call, CURL *e)
{
	const char *m = call->method;

	SETOPT(e, CURLOPT_PRIVATE, call);
	SETOPT(e, CURLOPT_URL, call->url);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(e, CURLOPT_TCP_NODELAY, 1L);
	SETOPT(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, call->connect_timeout_ms);
	SETOPT(e, CURLOPT_TIMEOUT_MS, call->timeout_ms);
	if (!call->truncate)
		SETOPT(e, CURLOPT_MAXFILESIZE_LARGE,
		       (curl_off_t)call->max_response);
	SETOPT(e, CURLOPT_HTTPHEADER, call->headers);
	SETOPT(e, CURLOPT_HEADERFUNCTION, call_header_cb);
	SETOPT(e, CURLOPT_HEADERDATA, call);
	SETOPT(e, CURLOPT_WRITEFUNCTION, call_write_cb);
	SETOPT(e, CURLOPT_WRITEDATA, call);
	SETOPT(e, CURLOPT_PREREQFUNCTION, call_prereq_cb);
	SETOPT(e, CURLOPT_PREREQDATA, call);
	if (call->unix_socket)
		SETOPT(e, CURLOPT_UNIX_SOCKET_PATH, call->unix_socket);
	if (call->addr_ok) {
		SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, call_opensocket_cb);
		SETOPT(e, CURLOPT_OPENSOCKETDATA, call);
		SETOPT(e, CURLOPT_PROXY, "");
	}
	if (method_is(m, "HEAD")) {
		SETOPT(e, CURLOPT_NOBODY, 1L);
	} else if (method_is(m, "GET") && !call->body) {
		SETOPT(e, CURLOPT_HTTPGET, 1L);
	} else {
		SETOPT(e, CURLOPT_CUSTOMREQUEST, m);
		if (call->body || method_is(m, "POST") ||
		    method_is(m, "PUT") || method_is(m, "PATCH")) {
			SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE,
			       (curl_off_t)call->body_len);
			SETOPT(e, CURLOPT_POSTFIELDS,
			       call->body ? call->body : "");
		}
	}
	return 0;
}

/* The CHAT_E* code for how a transfer ended. */
static int call_result(struct http_call *call, CURLcode res)
{
	size_t i;

	if (res == CURLE_OK)
		return call->abort_rc;
	if (call->abort_rc)
		return call->abort_rc;
	if (call->refused && !call->connected)
		return CHAT_EPERM;		/* every address refused */
	if (res == CURLE_OPERATION_TIMEDOUT && !call->connected)
		return CHAT_EUPSTREAM;		/* connect timed out */
	for (i = 0; i < sizeof(curl_rc_map) / sizeof(curl_rc_map[0]); i++)
		if (curl_rc_map[i].code == res)
			return curl_rc_map[i].rc;
	return CHAT_EUPSTREAM;
}

/* Fills the request part of call from req; strings are pointed to, not
 * copied (the async path copies them first). */
static int call_init(struct http_call *call, const struct http_request *req)
{
	memset(call, 0, sizeof(*call));
	call->method = req->method ? req->method : "GET";
	call->url = req->url;
	call->unix_socket = req->unix_socket;
	call->body = req->body;
	call->body_len = req->body ? req->body_len : 0;
	call->connect_timeout_ms = req->connect_timeout_ms > 0 ?
		req->connect_timeout_ms : DEFAULT_CONNECT_MS;
	call->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 0;
	call->idle_timeout_ms = req->idle_timeout_ms > 0 ?
		req->idle_timeout_ms : 0;
	call->max_response = req->max_response ? req->max_response :
		DEFAULT_MAX_RESPONSE;
	call->truncate = req->truncate;
	call->addr_ok = req->addr_ok;
	call->addr_arg = req->addr_arg;
	/* the head counts against the ceiling too, but never needs more
	 * than this */
	buf_init(&call->head, 64 * 1024);
	call->last_io_ms = mono_ms();
	return call_build_headers(call, req->headers);
}

static void call_release(struct http_call *call)
{
	curl_slist_free_all(call->headers);
	buf_release(&call->head);
}

/* ---- asynchronous client, loop thread --------------------------------- */

static CURL *client_easy_get(struct curl_client *c)
{
	if (c->npool > 0)
		return c->pool[--c->npool];
	return curl_easy_init();
}

static void client_easy_put(struct curl_client *c, CURL *e)
{
	if (c->npool < CLIENT_EASY_POOL) {
		curl_easy_reset(e);
		c->pool[c->npool++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

static void client_done(struct http_call *call, int rc)
{
	call->cb.on_done(call->arg, rc);
	call_release(call);
	free(call);
}

static void client_add(struct curl_client *c, struct http_call *call)
{
	int rc = CHAT_ENOMEM;

	call->easy = client_easy_get(c);
	if (!call->easy)
		goto fail;
	rc = call_setup_easy(call, call->easy);
	if (rc != 0)
		goto fail;
	if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
		rc = CHAT_ENOMEM;
		goto fail;
	}
	call->last_io_ms = mono_ms();
	call->prev = NULL;
	call->next = c->running;
	if (c->running)
		c->running->prev = call;
	c->running = call;
	return;
fail:
	if (call->easy)
		client_easy_put(c, call->easy);
	client_done(call, rc);
}

/* Takes a running call off the multi handle and ends it. */
static void client_finish(struct curl_client *c, struct http_call *call,
			  int rc)
{
	long status = 0;

	if (rc == 0 && !call->head_done) {
		/* a complete answer whose head never ended (HTTP/0.9-like) */
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE,
				  &status);
		if (!call_fire_head(call, status))
			rc = call->abort_rc;
	}
	curl_multi_remove_handle(c->multi, call->easy);
	client_easy_put(c, call->easy);
	call->easy = NULL;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->running = call->next;
	if (call->next)
		call->next->prev = call->prev;
	client_done(call, rc);
}

/* Moves queued calls onto the multi handle; true once stopping. */
static bool client_take_queue(struct curl_client *c)
{
	struct http_call *q, *next;
	bool stopping;

	pthread_mutex_lock(&c->mu);
	q = c->queue_head;
	c->queue_head = c->queue_tail = NULL;
	stopping = c->stopping;
	pthread_mutex_unlock(&c->mu);
	for (; q; q = next) {
		next = q->next;
		if (stopping)
			client_done(q, CHAT_ECANCELED);
		else
			client_add(c, q);
	}
	return stopping;
}

static void client_reap(struct curl_client *c)
{
	struct http_call *call;
	CURLMsg *msg;
	int left;

	for (;;) {
		msg = curl_multi_info_read(c->multi, &left);
		if (!msg)
			break;
		if (msg->msg != CURLMSG_DONE)
			continue;
		call = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &call);
		client_finish(c, call, call_result(call, msg->data.result));
	}
}

/* Aborts calls whose caller gave up or whose upstream went quiet. */
static void client_sweep(struct curl_client *c, int64_t now)
{
	struct http_call *call, *next;

	for (call = c->running; call; call = next) {
		next = call->next;
		if (call->cb.keep_going && !call->cb.keep_going(call->arg))
			client_finish(c, call, CHAT_ECANCELED);
		else if (call->idle_timeout_ms &&
			 now - call->last_io_ms > call->idle_timeout_ms)
			client_finish(c, call, CHAT_ETIMEDOUT);
	}
}

static void *client_loop(void *p)
{
	struct curl_client *c = p;
	int64_t next_sweep = 0, now;
	int running;

	while (!client_take_queue(c)) {
		curl_multi_perform(c->multi, &running);
		client_reap(c);
		now = mono_ms();
		if (now >= next_sweep) {
			client_sweep(c, now);
			next_sweep = now + CLIENT_SWEEP_MS;
		}
		curl_multi_poll(c->multi, NULL, 0, c->running ?
				CLIENT_SWEEP_MS : CLIENT_IDLE_POLL_MS, NULL);
	}
	while (c->running)
		client_finish(c, c->running, CHAT_ECANCELED);
	return NULL;
}

/* ---- asynchronous client, the ops --------------------------------------- */

static int curl_client_new(void **out)
{
	struct curl_client *c;
	int rc = 0;

	*out = NULL;
	rc = curl_ready();
	if (rc != 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return CHAT_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->multi = curl_multi_init();
	if (!c->multi) {
		rc = CHAT_ENOMEM;
		goto fail;
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			  (long)CLIENT_MAX_CONNECTS);
	if (pthread_create(&c->thread, NULL, client_loop, c) != 0) {
		rc = CHAT_EIO;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->multi)
		curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return rc;
}

static void curl_client_free(void *p)
{
	struct curl_client *c = p;
	size_t i;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);
	pthread_join(c->thread, NULL);
	for (i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Copies s into *at and advances it; NULL stays NULL. */
static const char *copy_str(char **at, const char *s, size_t len)
{
	char *d = *at;

	if (!s)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	*at = d + len + 1;
	return d;
}

static int curl_client_start(void *p, const struct http_request *req,
			     const struct http_client_cb *cb, void *arg)
{
	struct curl_client *c = p;
	struct http_call *call;
	const char *method = req->method ? req->method : "GET";
	size_t mlen, ulen, slen, need;
	char *at;
	int rc = 0;

	if (!req->url || !cb || !cb->on_done)
		return CHAT_EINVAL;
	mlen = strlen(method);
	ulen = strlen(req->url);
	slen = req->unix_socket ? strlen(req->unix_socket) : 0;
	need = sizeof(*call) + mlen + ulen + slen + 3 +
		(req->body ? req->body_len + 1 : 0);
	call = malloc(need);
	if (!call)
		return CHAT_ENOMEM;
	rc = call_init(call, req);
	if (rc != 0) {
		call_release(call);
		free(call);
		return rc;
	}
	/* everything the caller gave us lives in the call from now on */
	at = (char *)(call + 1);
	call->method = copy_str(&at, method, mlen);
	call->url = copy_str(&at, req->url, ulen);
	call->unix_socket = copy_str(&at, req->unix_socket, slen);
	call->body = copy_str(&at, req->body, call->body_len);
	call->client = c;
	call->cb = *cb;
	call->arg = arg;
	pthread_mutex_lock(&c->mu);
	if (c->stopping) {
		rc = CHAT_ECANCELED;
	} else {
		if (c->queue_tail)
			c->queue_tail->next = call;
		else
			c->queue_head = call;
		c->queue_tail = call;
	}
	pthread_mutex_unlock(&c->mu);
	if (rc != 0) {
		call_release(call);
		free(call);
		return rc;
	}
	curl_multi_wakeup(c->multi);
	return 0;
}

/* ---- blocking fetch ----------------------------------------------------- */

struct fetch_sink {
	const struct http_request *req;
	int status;
	struct buf *body;
	int rc;				/* buf_append's failure */
};

static int fetch_on_head(void *arg, int status, const char *const *h,
			 size_t n)
{
	struct fetch_sink *s = arg;

	http_request_keep(s->req, h, n);
	s->status = status;
	return 0;
}

static int fetch_on_data(void *arg, const char *data, size_t len)
{
	struct fetch_sink *s = arg;

	s->rc = buf_append(s->body, data, len);
	return s->rc != 0;
}

static void fetch_on_done(void *arg, int rc)
{
	(void)arg;
	(void)rc;
}

static int curl_fetch(const struct http_request *req, int *status,
		      struct buf *body)
{
	static const struct http_client_cb cb = {
		.on_head = fetch_on_head,
		.on_data = fetch_on_data,
		.on_done = fetch_on_done,
	};
	struct fetch_sink sink = {
		.req = req, .status = 0, .body = body, .rc = 0,
	};
	struct http_call call;
	CURL *e;
	CURLcode res;
	long idle_s, code = 0;
	int rc = 0;

	*status = 0;
	if (!req->url)
		return CHAT_EINVAL;
	rc = curl_ready();
	if (rc != 0)
		return rc;
	e = pthread_getspecific(fetch_key);
	if (!e) {
		e = curl_easy_init();
		if (!e || pthread_setspecific(fetch_key, e) != 0) {
			curl_easy_cleanup(e);
			return CHAT_ENOMEM;
		}
	}
	curl_easy_reset(e);
	rc = call_init(&call, req);
	if (rc != 0)
		goto out;
	call.cb = cb;
	call.arg = &sink;
	call.easy = e;
	rc = call_setup_easy(&call, e);
	if (rc != 0)
		goto out;
	if (call.idle_timeout_ms) {
		/* whole seconds: libcurl's stall detector */
		idle_s = (call.idle_timeout_ms + 999) / 1000;
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, idle_s);
	}
	res = curl_easy_perform(e);
	rc = sink.rc ? sink.rc : call_result(&call, res);
	if (rc == 0 && !call.head_done) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		sink.status = (int)code;
	}
	if (rc == 0)
		*status = sink.status;
out:
	/* the handle keeps its connection; drop our pointers into call */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	call_release(&call);
	return rc;
}

const struct http_curl_ops chat_module_curl_v2 = {
	.client_new = curl_client_new,
	.client_free = curl_client_free,
	.client_start = curl_client_start,
	.fetch = curl_fetch,
};
