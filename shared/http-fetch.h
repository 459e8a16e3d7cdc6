/*
 * http-fetch.h - the curl-free half of http_fetch (http-client.h): a
 * blocking HTTP/1.1 call to http://<IPv4 address | localhost>[:port]
 * URLs, the stack's own daemons and servers next door, so that a daemon
 * needs no libcurl for them.  Internal to shared/http-*.c.
 */
#ifndef CHAT_HTTP_FETCH_H
#define CHAT_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "http-client.h"

/* True when req can go through http_fetch_plain: no unix_socket and a URL
 * of the form http://<IPv4 | localhost>[:port][/...][?...] in url.h's
 * grammar (no user info), the URLs http_loop_can takes too. */
bool http_fetch_plain_can(const struct http_request *req);

/* http_fetch for a request http_fetch_plain_can accepts; same contract:
 * one connection per call (Connection: close), Content-Length, chunked or
 * until-close bodies, 1xx heads skipped, the ceiling req->max_response
 * (0: 8 MiB) over head and body and body's own, timeouts as in struct
 * http_request.  Errors: CHAT_EINVAL (a URL, header or method it cannot
 * send), CHAT_EUPSTREAM (cannot connect, connect timeout, broken or
 * malformed answer), CHAT_ETIMEDOUT, CHAT_ETOOBIG, CHAT_ENOMEM, CHAT_EIO
 * (no socket).  Blocks:
 * worker threads only. */
int http_fetch_plain(const struct http_request *req, int *status,
		     struct buf *body);

/* The answer reader of http_fetch_plain on bytes in memory instead of a
 * socket, for tests/fuzz/fuzz-http-response.c and the unit tests: data
 * is everything the server sent after the request went out, and its end
 * is the server closing.  It is read in pieces of at most piece bytes
 * (0: as much as a socket read would take), so a test can cut it
 * anywhere.  head_only: the request was a HEAD.  Same results as
 * http_fetch_plain from there on (the status and the body, or its
 * errors); no socket, no clock. */
int http_fetch_parse(const char *data, size_t len, size_t piece,
		     bool head_only, size_t max_response, int *status,
		     struct buf *body);

#endif
