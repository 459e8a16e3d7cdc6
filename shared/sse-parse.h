/*
 * sse-parse.h - an incremental Server-Sent Events parser (the reading side
 * of sse.h), for every client of a stream: aid reading LLM upstreams,
 * chatd reading aid, chatctl and chatui reading the gateway.
 *
 * Bytes go in as they arrive, split anywhere (inside a line, inside a
 * CRLF, inside a UTF-8 sequence); whole events come out.  Follows the
 * WHATWG event-stream rules: LF, CR or CRLF end a line; a line starting
 * with ':' is a comment (reported separately, for keep-alive tracking);
 * "field: value" with one optional space after the colon; several data:
 * lines join with "\n"; an empty line dispatches the event, an event
 * without data: lines is not dispatched; id and retry are kept; unknown
 * fields are ignored.  A UTF-8 BOM at the very start is skipped.
 *
 * Every line and every event has a ceiling (max_event): past it, feeding
 * fails with CHAT_ETOOBIG and the parser stays failed.
 */
#ifndef CHAT_SSE_PARSE_H
#define CHAT_SSE_PARSE_H

#include <stddef.h>

#include "buf.h"

struct sse_event {
	const char *event;	/* "message" when the stream named none */
	const char *data;	/* data lines joined by "\n", NUL-terminated */
	size_t data_len;
	const char *id;		/* last id seen in the stream, "" if none */
	long retry;		/* last valid retry: in ms, -1 if none */
};

/* Returns 0 to go on, nonzero to stop: sse_parse_feed then returns that
 * value (a negative CHAT_E* passes through as is); the rest of that feed
 * is dropped and later feeds return the same value. */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *ev);
typedef void (*sse_comment_fn)(void *arg, const char *text, size_t len);

struct sse_parser {
	sse_event_fn on_event;
	sse_comment_fn on_comment;	/* may be NULL */
	void *arg;
	/* private */
	struct buf line;		/* the line being read */
	struct buf data;		/* data lines of the event so far */
	struct buf event;		/* event: of the event so far */
	char id[256];			/* last id: value (longer ids cut) */
	long retry;			/* last retry: value, -1 if none */
	int state;			/* bit flags, see sse-parse.c */
	int failed;			/* error code once failed */
	size_t max_event;
};

/* max_event: ceiling in bytes for a line and for an event's data
 * (0: 1 MiB). */
void sse_parse_init(struct sse_parser *p, size_t max_event,
		    sse_event_fn on_event, sse_comment_fn on_comment,
		    void *arg);
/* 0, the nonzero return of a callback, or CHAT_ETOOBIG. */
int sse_parse_feed(struct sse_parser *p, const char *data, size_t len);
/* End of stream: true when bytes of an unfinished event were pending
 * (the stream was cut mid-event).  Pending data is dropped, never
 * dispatched, as the standard says. */
int sse_parse_pending(const struct sse_parser *p);
void sse_parse_release(struct sse_parser *p);

#endif
