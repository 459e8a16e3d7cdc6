/*
 * sse-parse.c - incremental Server-Sent Events parser (see sse-parse.h).
 *
 * Bytes are scanned for line ends; a line that ends inside the bytes just
 * fed and has nothing buffered before it is handled in place, without a
 * copy, so a stream that arrives in whole events costs one pass.  Only a
 * line cut by the end of a feed is copied into p->line.
 *
 * State that must survive between feeds, kept in p->state:
 *  - a CR just ended a line, so an LF at the start of the next feed is
 *    the second half of a CRLF and not an empty line (which would
 *    dispatch an event too early or twice);
 *  - how many bytes of a UTF-8 BOM were matched at the very start (the
 *    BOM may itself be split across feeds);
 *  - whether the event being built has seen a data: line (an empty
 *    "data:" line still makes an event, with empty data).
 *
 * A callback's nonzero return or a ceiling failure stops the parser for
 * good: the rest of that feed is dropped and every later feed returns the
 * same value without looking at its bytes.
 */
#include "sse-parse.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "banned.h"

#define SSE_DEFAULT_MAX ((size_t)1 << 20)

enum {
	SSE_LAST_CR = 1 << 0,	/* the previous line ended with CR */
	SSE_STARTED = 1 << 1,	/* the BOM check is over */
	SSE_HAVE_DATA = 1 << 2,	/* the event has a data: line */
	SSE_BOM_SHIFT = 3,	/* bits 3-4: BOM bytes matched so far */
	SSE_BOM_MASK = 3 << SSE_BOM_SHIFT,
};

static const unsigned char sse_bom[3] = { 0xEF, 0xBB, 0xBF };

/* The fields a line can set; unknown names are ignored. */
typedef int (*sse_field_fn)(struct sse_parser *p, const char *v, size_t n);

struct sse_field {
	const char *name;
	size_t len;
	sse_field_fn set;
};

static int sse_set_event(struct sse_parser *p, const char *v, size_t n);
static int sse_set_data(struct sse_parser *p, const char *v, size_t n);
static int sse_set_id(struct sse_parser *p, const char *v, size_t n);
static int sse_set_retry(struct sse_parser *p, const char *v, size_t n);

static const struct sse_field sse_fields[] = {
	{ "data", 4, sse_set_data },
	{ "event", 5, sse_set_event },
	{ "id", 2, sse_set_id },
	{ "retry", 5, sse_set_retry },
};

static int sse_set_event(struct sse_parser *p, const char *v, size_t n)
{
	buf_reset(&p->event);
	return buf_append(&p->event, v, n);
}

static int sse_set_data(struct sse_parser *p, const char *v, size_t n)
{
	int rc;

	if (p->state & SSE_HAVE_DATA) {
		rc = buf_append(&p->data, "\n", 1);
		if (rc < 0)
			return rc;
	}
	p->state |= SSE_HAVE_DATA;
	return buf_append(&p->data, v, n);
}

/* An id with a NUL is ignored (WHATWG); a long one is cut at a UTF-8
 * character boundary so that it stays valid text. */
static int sse_set_id(struct sse_parser *p, const char *v, size_t n)
{
	if (memchr(v, '\0', n))
		return 0;
	if (n >= sizeof(p->id)) {
		n = sizeof(p->id) - 1;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(p->id, v, n);
	p->id[n] = '\0';
	return 0;
}

/* Only ASCII digits count (WHATWG); anything else leaves retry as is. */
static int sse_set_retry(struct sse_parser *p, const char *v, size_t n)
{
	long ms = 0;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		if (ms > (0x7fffffffL - (v[i] - '0')) / 10)
			return 0;	/* absurdly large: ignore */
		ms = ms * 10 + (v[i] - '0');
	}
	p->retry = ms;
	return 0;
}

/* An empty line: hands the event over (when it has data) and starts the
 * next one.  The id is kept across events, as the standard says. */
static int sse_dispatch(struct sse_parser *p)
{
	struct sse_event ev;
	int rc = 0;

	if (p->state & SSE_HAVE_DATA) {
		ev.event = p->event.len ? p->event.data : "message";
		ev.data = p->data.data ? p->data.data : "";
		ev.data_len = p->data.len;
		ev.id = p->id;
		ev.retry = p->retry;
		rc = p->on_event(p->arg, &ev);
	}
	buf_reset(&p->data);
	buf_reset(&p->event);
	p->state &= ~SSE_HAVE_DATA;
	return rc;
}

/* One whole line, without its line end. */
static int sse_line(struct sse_parser *p, const char *s, size_t n)
{
	const char *colon, *v;
	size_t name_len, vlen, i;

	if (n == 0)
		return sse_dispatch(p);
	if (s[0] == ':') {
		v = s + 1;
		vlen = n - 1;
		if (vlen && v[0] == ' ') {
			v++;
			vlen--;
		}
		if (p->on_comment)
			p->on_comment(p->arg, v, vlen);
		return 0;
	}
	colon = memchr(s, ':', n);
	if (colon) {
		name_len = (size_t)(colon - s);
		v = colon + 1;
		vlen = n - name_len - 1;
		if (vlen && v[0] == ' ') {
			v++;
			vlen--;
		}
	} else {
		name_len = n;	/* "data" alone: the field with "" */
		v = s + n;
		vlen = 0;
	}
	for (i = 0; i < sizeof(sse_fields) / sizeof(sse_fields[0]); i++) {
		const struct sse_field *f = &sse_fields[i];

		if (f->len == name_len && memcmp(f->name, s, name_len) == 0)
			return f->set(p, v, vlen);
	}
	return 0;
}

/* Consumes the start of the stream while it matches the BOM; on a
 * mismatch the matched bytes were ordinary text and go to the line. */
static int sse_skip_bom(struct sse_parser *p, const char *data, size_t len,
			size_t *used)
{
	unsigned matched = ((unsigned)p->state & SSE_BOM_MASK) >> SSE_BOM_SHIFT;
	size_t i = 0;
	int rc = 0;

	while (i < len && matched < 3 &&
	       (unsigned char)data[i] == sse_bom[matched]) {
		matched++;
		i++;
	}
	p->state = (p->state & ~SSE_BOM_MASK) | (int)(matched << SSE_BOM_SHIFT);
	if (matched == 3) {
		p->state |= SSE_STARTED;
	} else if (i < len) {
		p->state |= SSE_STARTED;
		rc = buf_append(&p->line, sse_bom, matched);
	}
	*used = i;
	return rc;
}

void sse_parse_init(struct sse_parser *p, size_t max_event,
		    sse_event_fn on_event, sse_comment_fn on_comment,
		    void *arg)
{
	if (max_event == 0)
		max_event = SSE_DEFAULT_MAX;
	p->on_event = on_event;
	p->on_comment = on_comment;
	p->arg = arg;
	buf_init(&p->line, max_event);
	buf_init(&p->data, max_event);
	buf_init(&p->event, max_event);
	p->id[0] = '\0';
	p->retry = -1;
	p->state = 0;
	p->failed = 0;
	p->max_event = max_event;
}

int sse_parse_feed(struct sse_parser *p, const char *data, size_t len)
{
	size_t i = 0, j, n;
	int rc = 0;

	if (p->failed)
		return p->failed;
	if (!(p->state & SSE_STARTED)) {
		rc = sse_skip_bom(p, data, len, &i);
		if (rc != 0)
			goto out;
	}
	while (i < len) {
		if (p->state & SSE_LAST_CR) {
			p->state &= ~SSE_LAST_CR;
			if (data[i] == '\n') {
				i++;
				continue;
			}
		}
		for (j = i; j < len && data[j] != '\n' && data[j] != '\r'; j++)
			;
		n = j - i;
		if (n > p->max_event - p->line.len ||
		    p->line.len + n > p->max_event) {
			rc = CHAT_ETOOBIG;
			goto out;
		}
		if (j == len) {
			/* The line goes on in a later feed. */
			rc = buf_append(&p->line, data + i, n);
			goto out;
		}
		if (data[j] == '\r')
			p->state |= SSE_LAST_CR;
		if (p->line.len) {
			rc = buf_append(&p->line, data + i, n);
			if (rc == 0)
				rc = sse_line(p, p->line.data, p->line.len);
			buf_reset(&p->line);
		} else {
			rc = sse_line(p, data + i, n);
		}
		if (rc != 0)
			goto out;
		i = j + 1;
	}
out:
	if (rc != 0)
		p->failed = rc;
	return rc;
}

int sse_parse_pending(const struct sse_parser *p)
{
	bool bom_part = !(p->state & SSE_STARTED) &&
			(p->state & SSE_BOM_MASK) != 0;

	return p->line.len > 0 || p->event.len > 0 ||
	       (p->state & SSE_HAVE_DATA) != 0 || bom_part;
}

void sse_parse_release(struct sse_parser *p)
{
	buf_release(&p->line);
	buf_release(&p->data);
	buf_release(&p->event);
	p->state = 0;
}
