/*
 * http-client.h - outbound HTTP for daemons.
 *
 * Two forms:
 *  - asynchronous: one libcurl multi loop on its own thread per daemon,
 *    so thousands of concurrent streams need no thread each.  Callbacks
 *    run on that thread and must not block.  For http://<IPv4|localhost>
 *    URLs a daemon's loop thread has http-loop.h instead.
 *  - synchronous http_fetch, for worker-pool threads only (it blocks).
 *    http://<IPv4|localhost>[:port] URLs go over plain sockets, one
 *    connection per call; the rest through libcurl.
 *
 * libcurl lives in the run-time module chat-curl.so (module.h), loaded by
 * the first call that needs it: http_client_new itself loads nothing.  A
 * module that cannot be loaded makes those calls fail with CHAT_EUPSTREAM
 * (logged once).
 *
 * Redirects are never followed; every response has a size ceiling.
 */
#ifndef CHAT_HTTP_CLIENT_H
#define CHAT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include "buf.h"

struct sockaddr;

/* Whether a connection may go to address sa (len bytes): called on the
 * thread that connects, after the name resolved, before each connect. */
typedef bool (*http_addr_ok_fn)(void *arg, const struct sockaddr *sa,
				size_t len);

struct http_request {
	const char *method;		/* "GET", "POST", ... */
	const char *url;
	const char *unix_socket;	/* connect through it when set */
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const char *body;		/* may be NULL */
	size_t body_len;
	long connect_timeout_ms;	/* 0: 1000 */
	long timeout_ms;		/* whole transfer; 0: none */
	long idle_timeout_ms;		/* no byte for this long; 0: none */
	size_t max_response;		/* 0: 8 MiB */
	/* body bytes past max_response are dropped, not an error (the
	 * head still counts against it) */
	bool truncate;
	/* when set, every address a connection would go to is asked first
	 * (libcurl's opensocket callback: the address really connected to,
	 * so a name that resolves again elsewhere cannot slip by); one it
	 * refuses is skipped, and a call with every address refused fails
	 * with CHAT_EPERM.  Such a call always goes through libcurl, never
	 * through a proxy of the environment.  libcurl may reuse a
	 * connection the same thread opened before to the same host and
	 * port: a thread that makes checked calls makes only those. */
	http_addr_ok_fn addr_ok;
	void *addr_arg;
	/* blocking calls on plain sockets (http-fetch.c): a descriptor
	 * that becomes readable to abort the call at once with
	 * CHAT_ECANCELED (a stopping daemon's pipe); NULL: none.  libcurl's
	 * calls do not look at it. */
	const int *cancel_fd;
	/* http_fetch only: one header of the answer to keep, by name
	 * (NULL: none).  The value of its first line, without the blanks
	 * around it and cut to header_len - 1 bytes, goes to header_value;
	 * "" when the answer has none. */
	const char *keep_header;
	char *header_value;
	size_t header_len;
};

/* For the http_fetch paths: req->keep_header's value from the head's
 * lines ("Name: value", n of them) into req->header_value.  Inline, as
 * chat-curl.so calls nothing of libchat's but its host table. */
static inline void http_request_keep(const struct http_request *req,
				     const char *const *lines, size_t n)
{
	size_t i, k, len;
	const char *v;

	if (!req->keep_header || !req->header_value || !req->header_len)
		return;
	req->header_value[0] = '\0';
	k = strlen(req->keep_header);
	for (i = 0; i < n; i++) {
		if (strncasecmp(lines[i], req->keep_header, k) != 0 ||
		    lines[i][k] != ':')
			continue;
		v = lines[i] + k + 1;
		v += strspn(v, " \t");
		len = strlen(v);
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len >= req->header_len)
			len = req->header_len - 1;
		memcpy(req->header_value, v, len);
		req->header_value[len] = '\0';
		return;
	}
}

struct http_client_cb {
	/* status and headers arrived; headers "Name: value", n of them.
	 * Return nonzero to abort. */
	int (*on_head)(void *arg, int status, const char *const *headers,
		       size_t n);
	/* a piece of the body; return nonzero to abort. */
	int (*on_data)(void *arg, const char *data, size_t len);
	/* called exactly once at the end: rc 0 on a complete response,
	 * CHAT_EUPSTREAM (connect/transfer failure), CHAT_ETIMEDOUT,
	 * CHAT_ETOOBIG, CHAT_ECANCELED (a callback aborted or
	 * http_call_cancel).  After it, the call is freed. */
	void (*on_done)(void *arg, int rc);
	/* polled about 10 times a second; return 0 to abort */
	int (*keep_going)(void *arg);
};

struct http_client;

/* Cheap: the curl thread starts with the first http_client_start. */
/* True when nothing in req can split the request it becomes: no CR, LF
 * or NUL in the method, the URL or a header line, and every header has
 * a colon.  http_client_start, http_fetch and http_loop_start refuse
 * other requests with CHAT_EINVAL, whichever path they take. */
bool http_request_safe(const struct http_request *req);

int http_client_new(struct http_client **out);
/* Aborts running transfers (their on_done runs), joins, frees.  The
 * caller makes sure no http_client_start runs at the same time (chatd
 * holds its lock and a stopping flag around both; gatewayd starts only
 * on the loop thread and frees after the loop ended). */
void http_client_free(struct http_client *c);

/* Starts a request; everything in req is copied.  On failure no callback
 * ever runs (CHAT_EINVAL, CHAT_ENOMEM, CHAT_ECANCELED once freeing,
 * CHAT_EUPSTREAM when chat-curl.so cannot be loaded). */
int http_client_start(struct http_client *c, const struct http_request *req,
		      const struct http_client_cb *cb, void *arg);

/* Blocking request for worker threads: status and body (ceiling
 * req->max_response) into *status and body. */
int http_fetch(const struct http_request *req, int *status, struct buf *body);

#endif
