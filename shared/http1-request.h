/*
 * http1-request.h - the outbound clients' HTTP/1.1 request head, written
 * in one place: http-fetch.c and http-loop.c both build theirs here, so
 * that the same struct http_request goes out as the same bytes whichever
 * client sends it.
 */
#ifndef CHAT_HTTP1_REQUEST_H
#define CHAT_HTTP1_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "url.h"

/*
 * Appends to out the head of a request to u:
 *   METHOD <path or "/">[?query] HTTP/1.1
 *   Host: <url_authority(u)>
 *   <each of headers, NULL-terminated, "Name: value">
 *   Content-Length: <body_len>   when body is not NULL or the method is
 *                                POST, PUT or PATCH, unless a header
 *                                line gives one
 *   Connection: close            when close
 *   <empty line>
 * The fragment never goes out.  The body itself is the caller's to send.
 * Errors: CHAT_EINVAL for a method that is not a token or a header line
 * without a colon or with a control byte (HTAB aside): nothing can split
 * the head; CHAT_ETOOBIG or CHAT_ENOMEM from out (then out holds part of
 * a head: reset it).
 */
int http1_request_head(struct buf *out, const char *method,
		       const struct url *u, const char *const *headers,
		       const char *body, size_t body_len, bool close);

#endif
