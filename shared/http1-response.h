/*
 * http1-response.h - the outbound clients' HTTP/1.1 answer reader: a
 * push parser of response heads and bodies (RFC 9112), fed the bytes
 * as the connection brings them, in pieces cut anywhere, with nothing
 * to do with sockets, so that it can be unit-tested and fuzzed alone.
 * http-fetch.c (blocking) and http-loop.c (loop thread) both read their
 * answers with it.
 *
 * Bodies: by Content-Length, chunked (decoded with http1_chunked_feed,
 * the server's decoder), or until the server closes; none for a HEAD
 * request, 101, 204 and 304.  1xx heads other than 101 are skipped.
 *
 * As strict as the server's request reader (http1.h) where two readers
 * could frame an answer differently: folded header lines, whitespace
 * before a field's colon, a NUL, a bare CR or another control byte in
 * the head, a Content-Length that is not plain digits or disagrees with
 * another, Content-Length together with Transfer-Encoding, and bad
 * chunk sizes are refused.  Line ends may be CRLF or a bare LF (RFC
 * 9112 2.2 lets a recipient take both; servers next door send either).
 */
#ifndef CHAT_HTTP1_RESPONSE_H
#define CHAT_HTTP1_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http1.h"

#define HTTP1_RESPONSE_HEAD_MAX	(64 * 1024)	/* one head; past: TOOBIG */
#define HTTP1_RESPONSE_LINES	100		/* header lines of a head */

/* The final head: status and its lines "Name: value" (as sent, without
 * the line end), valid during the call only.  Return 0 to go on; any
 * other value stops the answer and http1_response_feed returns it. */
typedef int (*http1_response_head_fn)(void *arg, int status,
				      const char *const *lines, size_t n);
/* A piece of the body (len > 0); return as on_head. */
typedef int (*http1_response_data_fn)(void *arg, const char *data,
				      size_t len);

enum http1_response_body {
	HTTP1_BODY_NONE,		/* HEAD, 101, 204, 304 */
	HTTP1_BODY_LENGTH,		/* Content-Length */
	HTTP1_BODY_CHUNKED,
	HTTP1_BODY_CLOSE,		/* until the server closes */
};

/* One answer being read; embedded by its owner (http1_response_init,
 * http1_response_release).  Fields below "read only" may be read. */
struct http1_response {
	bool head_only;			/* the request was a HEAD */
	size_t max;			/* ceiling of head and body bytes */
	http1_response_head_fn on_head;	/* may be NULL */
	http1_response_data_fn on_data;	/* may be NULL */
	void *arg;
	struct buf head;		/* the head being read */
	size_t line_start;		/* in head: where the line begins */
	struct http1_chunked chunked;	/* the decoder of a chunked body */
	uint64_t remaining;		/* LENGTH: body bytes still due */
	/* read only */
	int state;			/* 0 head, 1 body, 2 done, 3 failed */
	size_t seen;			/* bytes fed and taken so far */
	size_t received;		/* head and body bytes, counted */
	int status;			/* of the final head; 0 before */
	bool keep_alive;		/* the connection may serve again */
	enum http1_response_body body;	/* how the body is framed */
};

/* Readies r for one answer; max 0 means 8 MiB.  Allocates nothing until
 * bytes come. */
void http1_response_init(struct http1_response *r, bool head_only,
			 size_t max, http1_response_head_fn on_head,
			 http1_response_data_fn on_data, void *arg);
/* Frees what r holds; r may be initialised again. */
void http1_response_release(struct http1_response *r);

/*
 * Feeds in[0..len), the next bytes from the server.  Returns 0 when the
 * answer needs more (all of them taken); 1 when it is complete, with
 * *used the bytes of in that belonged to it (the rest is none of this
 * answer's: a connection with more is unfit for reuse); or an error:
 * CHAT_EUPSTREAM malformed, CHAT_ETOOBIG past the ceiling or the head
 * limits, CHAT_ENOMEM, or what a callback returned.  After an error
 * every call returns CHAT_EUPSTREAM.  used may be NULL.
 */
int http1_response_feed(struct http1_response *r, const char *in, size_t len,
			size_t *used);

/* The server closed the connection: 0 when that ends the answer (a body
 * until close, or an answer already complete), else CHAT_EUPSTREAM. */
int http1_response_close(struct http1_response *r);

#endif
