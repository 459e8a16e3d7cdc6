/*
 * http-loop.h - an HTTP/1.1 client on the server's loop thread for
 * http://<IPv4|localhost>[:port] URLs.
 *
 * The loop-thread sibling of http-client.h, for calls to servers next
 * door (the stack's daemons, a local LLM server): no thread hand-off,
 * keep-alive connections per address.  Same struct http_request (but
 * unix_socket must be NULL), same callbacks and error codes; every call
 * here and every callback runs on the loop thread of the server the
 * instance was made for.  URLs it cannot serve (https, host names) are
 * for http_client_start; http_loop_can tells which.
 */
#ifndef CHAT_HTTP_LOOP_H
#define CHAT_HTTP_LOOP_H

#include <stdbool.h>

#include "http-client.h"
#include "http-server.h"

struct http_loop;

/* One per server; any thread (nothing touches the loop until a call). */
int http_loop_new(struct http_server *srv, struct http_loop **out);
/* Loop thread (or after the loop stopped, before the server is freed):
 * ends running calls (on_done with CHAT_ECANCELED), closes connections,
 * frees. */
void http_loop_free(struct http_loop *l);

/* True when url is http://<IPv4 address | localhost>[:port][/...][?...]
 * in url.h's grammar: the URLs http_fetch_plain_can takes too. */
bool http_loop_can(const char *url);

/* Loop thread.  Like http_client_start: everything in req is copied,
 * cb's callbacks run on the loop thread and on_done exactly once -
 * possibly before this returns (a failure to connect is reported through
 * it).  A nonzero return (CHAT_EINVAL: a URL http_loop_can refuses, or
 * req->unix_socket; CHAT_ENOMEM; CHAT_ECANCELED while freeing) means no
 * callback ever runs. */
int http_loop_start(struct http_loop *l, const struct http_request *req,
		    const struct http_client_cb *cb, void *arg);

/* The answer parser of a call on bytes in memory, for
 * tests/fuzz/fuzz-http-response.c and the unit tests: data is everything
 * the server sent after the request, fed in pieces of at most piece
 * bytes (0: all at once) as reads from the connection would bring it,
 * and its end is the server closing.  cb's on_head and on_data run as in
 * a call (on_done and keep_going never do; cb may be NULL).  head_only:
 * the request was a HEAD.  0 when the answer was complete, with
 * *keep_alive true when the connection could serve another call (clean
 * end, nothing after it); else the error the call would end with
 * (CHAT_EUPSTREAM for a malformed answer or one cut short).  Any
 * thread: no loop, no socket. */
int http_loop_parse(const char *data, size_t len, size_t piece,
		    bool head_only, size_t max_response,
		    const struct http_client_cb *cb, void *arg,
		    bool *keep_alive);

#endif
