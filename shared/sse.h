/*
 * sse.h - Server-Sent Events framing (text/event-stream).
 *
 * Every event carries an id so a client can resume with Last-Event-ID.
 * Data containing newlines becomes several data: lines; CR and CRLF in
 * the data are treated as line breaks too.
 */
#ifndef CHAT_SSE_H
#define CHAT_SSE_H

#include <stddef.h>
#include "buf.h"

/* Appends one event to out: "id: <id>\nevent: <event>\ndata: ...\n\n".
 * id and event may be NULL to omit the field. */
int sse_format(struct buf *out, const char *id, const char *event,
	       const char *data, size_t len);
/* Appends a comment line (": text\n\n"), used as a keep-alive. */
int sse_comment(struct buf *out, const char *text);

#endif
