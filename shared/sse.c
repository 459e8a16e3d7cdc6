/*
 * sse.c - Server-Sent Events framing (the text/event-stream format of the
 * HTML Living Standard, section "Server-sent events").
 *
 * The parser in a browser or client splits the stream into lines at CRLF,
 * CR or LF, so a line break in the data must become a new "data:" line;
 * the client joins the data lines again with LF.  Every form of line
 * break in the data therefore arrives as LF.  An event with empty data is
 * written as a single "data:" line: the client's data buffer then holds
 * one LF, is not empty, and the event is dispatched with data "" (an
 * event without any data line would be dropped by the client).
 */
#include "sse.h"

#include <string.h>

#include "err.h"
#include "banned.h"

/* True if s contains a CR or LF, which would end the field early. */
static int sse_has_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Appends "<prefix><line>\n" for every line of text (split at CRLF, CR
 * or LF); an empty line gets the prefix without its trailing space. */
static int sse_lines(struct buf *out, const char *prefix, const char *text,
		     size_t len)
{
	size_t plen = strlen(prefix), i = 0;
	int rc;

	for (;;) {
		size_t start = i;

		while (i < len && text[i] != '\r' && text[i] != '\n')
			i++;
		if (i == start)
			rc = buf_append(out, prefix, plen - 1);
		else
			rc = buf_append(out, prefix, plen);
		if (rc == 0)
			rc = buf_append(out, text + start, i - start);
		if (rc == 0)
			rc = buf_append(out, "\n", 1);
		if (rc < 0)
			return rc;
		if (i >= len)
			return 0;
		if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i++;
		i++;
	}
}

int sse_format(struct buf *out, const char *id, const char *event,
	       const char *data, size_t len)
{
	size_t mark = out->len;
	int rc = 0;

	if ((id && sse_has_break(id)) || (event && sse_has_break(event)) ||
	    (!data && len))
		return CHAT_EINVAL;
	if (id)
		rc = buf_printf(out, "id: %s\n", id);
	if (rc == 0 && event)
		rc = buf_printf(out, "event: %s\n", event);
	if (rc == 0)
		rc = sse_lines(out, "data: ", data ? data : "", len);
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	/* Never leave half an event behind: the stream would be corrupt. */
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	return rc;
}

int sse_comment(struct buf *out, const char *text)
{
	size_t mark = out->len;
	int rc;

	if (!text)
		text = "";
	rc = sse_lines(out, ": ", text, strlen(text));
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	if (rc < 0) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	return rc;
}
