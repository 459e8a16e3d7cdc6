/*
 * http1-response.c - the outbound clients' HTTP/1.1 answer reader
 * (http1-response.h).
 *
 * Why one: the blocking client read answers line by line from its
 * socket, the loop client from whatever its reads brought, and the two
 * disagreed on the same bytes (a NUL, a bare CR, a folded line).  Here
 * the head is collected byte by byte (each byte looked at once, so a
 * head cut anywhere is read the same as whole), parsed once when its
 * empty line has come, and the body is framed as it says; chunked bodies
 * go through the server's own decoder (http1.c).
 */
#include "http1-response.h"

#include <string.h>
#include <strings.h>

#include "err.h"
#include "banned.h"

#define HTTP1_RESPONSE_DEFAULT_MAX (8u << 20)

enum {
	RESP_HEAD,
	RESP_BODY,
	RESP_DONE,
	RESP_FAILED,
};

/* RFC 9110 5.6.2 tchar */
static bool resp_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB (obs-text included) */
static bool resp_field_char(unsigned char c)
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

static bool resp_name_is(const char *name, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(name, lit, n) == 0;
}

/* The status line "HTTP/1.x SSS[ reason]": the status, or -1. */
static int resp_status_line(const char *p, bool *http10)
{
	size_t i;

	if (strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' ||
	    p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (p[12] && p[12] != ' '))
		return -1;
	for (i = 12; p[i]; i++)
		if (!resp_field_char((unsigned char)p[i]))
			return -1;
	*http10 = p[7] == '0';
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

/* A Content-Length value (OWS trimmed by the caller): plain digits;
 * CHAT_EUPSTREAM when it is not, CHAT_ETOOBIG past 18 of them. */
static int resp_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0)
		return CHAT_EUPSTREAM;
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return CHAT_EUPSTREAM;
	/* a number no ceiling allows (and past uint64_t) */
	if (n > 18)
		return CHAT_ETOOBIG;
	for (i = 0; i < n; i++)
		x = x * 10 + (uint64_t)(v[i] - '0');
	*out = x;
	return 0;
}

/* What the fields of a head say about the body. */
struct resp_framing {
	bool have_len;
	uint64_t len;
	bool te;			/* Transfer-Encoding present */
	bool chunked;			/* ... listing chunked */
	bool close;			/* Connection: close */
};

/* One field line "name: value" (NUL-terminated, no line end). */
static int resp_field(const char *line, struct resp_framing *f)
{
	const char *q = line, *v, *end;
	size_t n;
	uint64_t len;
	int rc;

	if (*q == ' ' || *q == '\t')
		return CHAT_EUPSTREAM;		/* obs-fold */
	while (resp_tchar((unsigned char)*q))
		q++;
	if (q == line || *q != ':')
		return CHAT_EUPSTREAM;		/* no name, or space before : */
	n = (size_t)(q - line);
	v = q + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (end = v; *end; end++)
		if (!resp_field_char((unsigned char)*end))
			return CHAT_EUPSTREAM;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (resp_name_is(line, n, "content-length")) {
		rc = resp_length(v, (size_t)(end - v), &len);
		if (rc < 0)
			return rc;
		if (f->have_len && f->len != len)
			return CHAT_EUPSTREAM;
		f->have_len = true;
		f->len = len;
	} else if (resp_name_is(line, n, "transfer-encoding")) {
		f->te = true;
		if (http1_list_has(v, (size_t)(end - v), "chunked"))
			f->chunked = true;
	} else if (resp_name_is(line, n, "connection")) {
		if (http1_list_has(v, (size_t)(end - v), "close"))
			f->close = true;
	}
	return 0;
}

/*
 * The head in r->head is complete (every line NUL-terminated in place,
 * the empty line last).  1 for a 1xx head to skip, 0 when the body's
 * framing is set and on_head ran, else an error.
 */
static int resp_head_parse(struct http1_response *r)
{
	const char *lines[HTTP1_RESPONSE_LINES];
	struct resp_framing f = { 0 };
	const char *p = r->head.data, *end = r->head.data + r->head.len;
	bool http10 = false;
	size_t n = 0;
	int status, rc;

	status = resp_status_line(p, &http10);
	if (status < 0)
		return CHAT_EUPSTREAM;
	if (status >= 100 && status < 200 && status != 101)
		return 1;
	for (p += strlen(p) + 1; p < end && *p; p += strlen(p) + 1) {
		if (n == HTTP1_RESPONSE_LINES)
			return CHAT_ETOOBIG;
		rc = resp_field(p, &f);
		if (rc < 0)
			return rc;
		lines[n++] = p;
	}
	if (f.te && f.have_len)
		return CHAT_EUPSTREAM;
	if (f.te && http10)
		return CHAT_EUPSTREAM;
	r->status = status;
	r->keep_alive = !http10 && !f.close;
	if (r->head_only || status == 204 || status == 304 || status == 101) {
		r->body = HTTP1_BODY_NONE;
	} else if (f.chunked) {
		r->body = HTTP1_BODY_CHUNKED;
	} else if (f.te) {
		/* a coding other than chunked: RFC 9112 6.3 says until
		 * close */
		r->body = HTTP1_BODY_CLOSE;
		r->keep_alive = false;
	} else if (f.have_len) {
		/* an announced body past the ceiling is refused now, not
		 * after reading up to it */
		if (f.len > r->max - r->received)
			return CHAT_ETOOBIG;
		r->body = HTTP1_BODY_LENGTH;
		r->remaining = f.len;
	} else {
		r->body = HTTP1_BODY_CLOSE;
		r->keep_alive = false;
	}
	if (r->on_head) {
		rc = r->on_head(r->arg, status, lines, n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * Head bytes: collects in[0..len) up to the empty line, each byte looked
 * at once (runs of plain bytes appended together).  Returns the bytes
 * taken and sets *complete once the head (its line ends replaced by
 * NULs) is whole; negative on an error.
 */
static long resp_head_take(struct http1_response *r, const char *in,
			   size_t len, bool *complete)
{
	size_t i = 0, j, at;
	int rc;

	*complete = false;
	while (i < len) {
		at = r->head.len;
		/* a CR is only the first half of a line end */
		if (at > r->line_start && r->head.data[at - 1] == '\r' &&
		    in[i] != '\n')
			return CHAT_EUPSTREAM;
		for (j = i; j < len && in[j] != '\n' && in[j] != '\r' &&
			    in[j] != '\0'; j++)
			;
		if (j == i && in[i] == '\0')
			return CHAT_EUPSTREAM;	/* would end a line early */
		if (j == i && in[i] == '\r')
			j++;
		if (j > i) {
			if (at >= HTTP1_RESPONSE_HEAD_MAX ||
			    j - i > HTTP1_RESPONSE_HEAD_MAX - at)
				return CHAT_ETOOBIG;
			rc = buf_append(&r->head, in + i, j - i);
			if (rc < 0)
				return rc;
			i = j;
			continue;
		}
		/* the line end: drop its CR, a NUL in its place */
		if (at > r->line_start && r->head.data[at - 1] == '\r')
			r->head.len = --at;
		rc = buf_append(&r->head, "", 1);
		if (rc < 0)
			return rc;
		i++;
		if (at == r->line_start) {
			*complete = true;
			return (long)i;
		}
		r->line_start = r->head.len;
	}
	return (long)len;
}

/* Body data: counted against the ceiling, then handed over. */
static int resp_data(struct http1_response *r, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	if (len > r->max - r->received)
		return CHAT_ETOOBIG;
	r->received += len;
	return r->on_data ? r->on_data(r->arg, data, len) : 0;
}

/* Body bytes; the bytes taken, with *done once the body is complete. */
static long resp_body_take(struct http1_response *r, const char *in,
			   size_t len, bool *done)
{
	const char *data;
	size_t take, dlen;
	long n;
	int rc;

	*done = false;
	switch (r->body) {
	case HTTP1_BODY_NONE:
		*done = true;
		return 0;
	case HTTP1_BODY_LENGTH:
		take = len < r->remaining ? len : (size_t)r->remaining;
		rc = resp_data(r, in, take);
		if (rc != 0)
			return rc;
		r->remaining -= take;
		*done = r->remaining == 0;
		return (long)take;
	case HTTP1_BODY_CHUNKED:
		n = http1_chunked_feed(&r->chunked, in, len,
				       r->max - r->received +
				       r->chunked.total, &data, &dlen, done);
		if (n < 0)
			return n == -413 ? CHAT_ETOOBIG : CHAT_EUPSTREAM;
		rc = resp_data(r, data, dlen);
		if (rc != 0)
			return rc;
		return n;
	case HTTP1_BODY_CLOSE:
		rc = resp_data(r, in, len);
		return rc != 0 ? rc : (long)len;
	}
	return CHAT_EUPSTREAM;
}

void http1_response_init(struct http1_response *r, bool head_only,
			 size_t max, http1_response_head_fn on_head,
			 http1_response_data_fn on_data, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->head_only = head_only;
	r->max = max ? max : HTTP1_RESPONSE_DEFAULT_MAX;
	r->on_head = on_head;
	r->on_data = on_data;
	r->arg = arg;
	/* one byte past the limit for the NUL of the last line */
	buf_init(&r->head, HTTP1_RESPONSE_HEAD_MAX + 1);
	r->state = RESP_HEAD;
}

void http1_response_release(struct http1_response *r)
{
	buf_release(&r->head);
}

int http1_response_feed(struct http1_response *r, const char *in, size_t len,
			size_t *used)
{
	size_t pos = 0;
	long n;
	bool complete;
	int rc = 0;

	if (used)
		*used = 0;
	if (r->state == RESP_FAILED)
		return CHAT_EUPSTREAM;
	while (r->state != RESP_DONE && (pos < len || r->state == RESP_BODY)) {
		if (r->state == RESP_HEAD) {
			n = resp_head_take(r, in + pos, len - pos, &complete);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			pos += (size_t)n;
			r->received += (size_t)n;
			if (!complete)
				continue;
			if (r->received > r->max) {
				rc = CHAT_ETOOBIG;
				goto out;
			}
			rc = resp_head_parse(r);
			buf_reset(&r->head);
			r->line_start = 0;
			if (rc < 0 || rc > 1)
				goto out;
			/* 1: a 1xx head went, the next one follows */
			if (rc == 0)
				r->state = RESP_BODY;
			rc = 0;
			continue;
		}
		n = resp_body_take(r, in + pos, len - pos, &complete);
		if (n < 0 || n > (long)(len - pos)) {
			rc = n < 0 ? (int)n : CHAT_EUPSTREAM;
			goto out;
		}
		pos += (size_t)n;
		if (complete) {
			r->state = RESP_DONE;
			buf_release(&r->head);
		} else if (pos == len) {
			break;
		}
	}
out:
	r->seen += pos;
	if (used)
		*used = pos;
	if (rc != 0) {
		r->state = RESP_FAILED;
		r->keep_alive = false;
		return rc;
	}
	return r->state == RESP_DONE ? 1 : 0;
}

int http1_response_close(struct http1_response *r)
{
	if (r->state == RESP_DONE)
		return 0;
	if (r->state == RESP_BODY && r->body == HTTP1_BODY_CLOSE) {
		r->state = RESP_DONE;
		return 0;
	}
	r->state = RESP_FAILED;
	r->keep_alive = false;
	return CHAT_EUPSTREAM;
}
