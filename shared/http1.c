/*
 * http1.c - strict HTTP/1.1 request heads and chunked bodies (RFC 9112).
 *
 * The head is read in two passes: while it is incomplete, each new byte
 * is looked at once for line ends (a bare LF or a CR without LF is
 * refused there, and the size limits are enforced before the head is
 * whole); once the empty line has come, the head is parsed once.  The
 * rules for what is refused are in http1.h.
 */
#include "http1.h"

#include <string.h>
#include <strings.h>

#include "util.h"
#include "banned.h"

#define HTTP1_MAX_EMPTY_LINES	4	/* CRLFs tolerated before a request */
#define HTTP1_MAX_CHUNK_LINE	4096	/* size line with extensions */
#define HTTP1_MAX_TRAILERS	4096	/* trailer section, bytes */

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB (obs-text included) */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static long fail(const char **why, int status, const char *msg)
{
	*why = msg;
	return -status;
}

bool http1_list_has(const char *value, size_t len, const char *token)
{
	size_t i = 0;

	while (i < len) {
		size_t b, e;

		while (i < len && (value[i] == ' ' || value[i] == '\t' ||
				   value[i] == ','))
			i++;
		b = i;
		while (i < len && value[i] != ',')
			i++;
		e = i;
		while (e > b && (value[e - 1] == ' ' || value[e - 1] == '\t'))
			e--;
		if (e > b && ieq(value + b, e - b, token))
			return true;
	}
	return false;
}

const struct http1_field *http1_field(const struct http1_request *req,
				      const char *name)
{
	size_t i;

	for (i = 0; i < req->nfields; i++)
		if (ieq(req->fields[i].name, req->fields[i].name_len, name))
			return &req->fields[i];
	return NULL;
}

/*
 * First pass: finds the end of the head.  0 while incomplete, the head's
 * length when complete, or a refusal.
 */
static long find_end(const char *buf, size_t len, struct http1_scan *s,
		     const char **why)
{
	size_t i;

	/* empty lines before the request line, whole CRLF pairs only */
	if (s->scanned == 0) {
		size_t st = 0;

		while (st + 1 < len && buf[st] == '\r' && buf[st + 1] == '\n')
			st += 2;
		if (st > 2 * HTTP1_MAX_EMPTY_LINES)
			return fail(why, 400, "too many empty lines");
		if (st + 1 >= len && st < len && buf[st] == '\r')
			return 0;	/* a CR whose LF is still to come */
		if (st == len)
			return 0;
		s->start = st;
		s->scanned = st;
	}
	for (i = s->scanned; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (i > s->start && buf[i - 1] == '\r' && c != '\n')
			return fail(why, 400, "CR without LF");
		if (c == '\n') {
			if (i == s->start || buf[i - 1] != '\r')
				return fail(why, 400, "line ends must be CRLF");
			if (!s->line_end) {
				s->line_end = i;
			} else if (i - s->line_end >= 2 && buf[i - 2] == '\n') {
				s->scanned = i + 1;
				return (long)(i + 1);
			}
		}
		/* the limits byte by byte too: a head gets the same answer
		 * whole as in pieces, and a complete one is not let through */
		if (!s->line_end && i - s->start > HTTP1_MAX_LINE)
			return fail(why, 414, "request line too long");
		if (s->line_end && i - s->line_end >= HTTP1_MAX_FIELDS_LEN + 2)
			return fail(why, 431, "header fields too large");
	}
	s->scanned = len;
	return 0;
}

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

static long parse_request_line(const char *p, const char *end,
			       struct http1_request *req, const char **why)
{
	const char *q = p;
	size_t i;
	bool known = false;

	while (q < end && is_tchar((unsigned char)*q))
		q++;
	if (q == p || q == end || *q != ' ')
		return fail(why, 400, "malformed request line");
	req->method = p;
	req->method_len = (size_t)(q - p);
	p = ++q;
	while (q < end && (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f)
		q++;
	if (q == p || q == end || *q != ' ')
		return fail(why, 400, "malformed request target");
	req->target = p;
	req->target_len = (size_t)(q - p);
	p = ++q;
	if (end - p == 8 && memcmp(p, "HTTP/1.", 7) == 0 &&
	    (p[7] == '0' || p[7] == '1')) {
		req->minor = p[7] - '0';
	} else if (end - p == 8 && memcmp(p, "HTTP/", 5) == 0 &&
		   p[5] >= '0' && p[5] <= '9' && p[6] == '.' &&
		   p[7] >= '0' && p[7] <= '9') {
		return fail(why, 505, "HTTP version not supported");
	} else {
		return fail(why, 400, "malformed HTTP version");
	}
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == req->method_len &&
		    memcmp(methods[i], req->method, req->method_len) == 0)
			known = true;
	if (!known)
		return fail(why, 501, "method not implemented");
	if (req->target[0] != '/')
		return fail(why, 400, "the request target must be a path");
	return 0;
}

static long parse_field(const char *p, const char *end,
			struct http1_request *req, const char **why)
{
	struct http1_field *f;
	const char *q = p, *v;

	if (*p == ' ' || *p == '\t')
		return fail(why, 400, "folded header lines are not allowed");
	while (q < end && is_tchar((unsigned char)*q))
		q++;
	if (q < end && (*q == ' ' || *q == '\t'))
		return fail(why, 400, "whitespace before a header's colon");
	if (q == p || q == end || *q != ':')
		return fail(why, 400, "malformed header name");
	if (req->nfields == HTTP1_MAX_FIELDS)
		return fail(why, 431, "too many header fields");
	f = &req->fields[req->nfields++];
	f->name = p;
	f->name_len = (size_t)(q - p);
	v = q + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	for (q = v; q < end; q++)
		if (!is_field_char((unsigned char)*q))
			return fail(why, 400,
				    "control character in a header value");
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	f->value = v;
	f->value_len = (size_t)(end - v);
	return 0;
}

/* True when any field line called name lists token (RFC 9110 5.3: the
 * lines of a list field make one list). */
static bool fields_list_has(const struct http1_request *req,
			    const char *name, const char *token)
{
	size_t i;

	for (i = 0; i < req->nfields; i++)
		if (ieq(req->fields[i].name, req->fields[i].name_len, name) &&
		    http1_list_has(req->fields[i].value,
				   req->fields[i].value_len, token))
			return true;
	return false;
}

/* Content-Length, Transfer-Encoding, Host, Connection, Expect, Upgrade */
static long parse_framing(struct http1_request *req, const char **why)
{
	size_t i, hosts = 0, tes = 0;
	bool te_chunked = false;

	req->content_length = -1;
	for (i = 0; i < req->nfields; i++) {
		const struct http1_field *f = &req->fields[i];

		if (ieq(f->name, f->name_len, "content-length")) {
			int64_t v = 0;
			size_t k;

			if (f->value_len == 0 || f->value_len > 18)
				return fail(why, 400,
					    "malformed Content-Length");
			for (k = 0; k < f->value_len; k++) {
				if (f->value[k] < '0' || f->value[k] > '9')
					return fail(why, 400,
						"malformed Content-Length");
				v = v * 10 + (f->value[k] - '0');
			}
			if (req->content_length >= 0 &&
			    req->content_length != v)
				return fail(why, 400,
					    "conflicting Content-Length");
			req->content_length = v;
		} else if (ieq(f->name, f->name_len, "transfer-encoding")) {
			tes++;
			te_chunked = ieq(f->value, f->value_len, "chunked");
		} else if (ieq(f->name, f->name_len, "host")) {
			hosts++;
		} else if (ieq(f->name, f->name_len, "expect")) {
			if (!ieq(f->value, f->value_len, "100-continue"))
				return fail(why, 417,
					    "unsupported expectation");
			/* ignored in HTTP/1.0 (RFC 9110 10.1.1) */
			req->expect_continue = req->minor == 1;
		}
	}
	if (tes && req->content_length >= 0)
		return fail(why, 400,
			    "both Content-Length and Transfer-Encoding");
	if (tes && req->minor == 0)
		return fail(why, 400, "Transfer-Encoding in HTTP/1.0");
	if (tes && (tes > 1 || !te_chunked))
		return fail(why, 501, "only the chunked transfer coding "
			    "is implemented");
	req->chunked = tes > 0;
	if (hosts > 1 || (req->minor == 1 && hosts == 0))
		return fail(why, 400, "an HTTP/1.1 request needs one Host");
	req->keep_alive = !fields_list_has(req, "connection", "close") &&
			  (req->minor == 1 ||
			   fields_list_has(req, "connection", "keep-alive"));
	/* Upgrade is ignored in HTTP/1.0 (RFC 9110 7.8) */
	req->websocket = req->minor == 1 &&
			 ieq(req->method, req->method_len, "GET") &&
			 fields_list_has(req, "upgrade", "websocket") &&
			 fields_list_has(req, "connection", "upgrade");
	return 0;
}

long http1_parse_request(const char *buf, size_t len, struct http1_scan *scan,
			 struct http1_request *req, const char **why)
{
	const char *p, *end, *eol;
	long head, rc;

	*why = NULL;
	head = find_end(buf, len, scan, why);
	if (head <= 0)
		return head;
	memset(req, 0, sizeof(*req));
	p = buf + scan->start;
	end = buf + head - 2;		/* the final CRLF */
	eol = buf + scan->line_end - 1;
	rc = parse_request_line(p, eol, req, why);
	if (rc)
		return rc;
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memchr(p, '\r', (size_t)(end - p));
		if (!eol)
			return fail(why, 400, "malformed header line");
		rc = parse_field(p, eol, req, why);
		if (rc)
			return rc;
	}
	rc = parse_framing(req, why);
	if (rc)
		return rc;
	return head;
}

/* ------------------------------------------------------------------ */
/* chunked bodies */

enum {
	CH_SIZE,		/* hex digits of a chunk size */
	CH_SIZE_WS,		/* whitespace after the size: ';' or CR next */
	CH_EXT,			/* after the size: extensions up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,	/* a trailer line or the final CRLF */
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
};

long http1_chunked_feed(struct http1_chunked *c, const char *in, size_t len,
			uint64_t max, const char **data, size_t *dlen,
			bool *done)
{
	size_t i;

	*data = NULL;
	*dlen = 0;
	*done = c->state == CH_DONE;
	for (i = 0; i < len && c->state != CH_DONE; i++) {
		unsigned char ch = (unsigned char)in[i];
		int v;

		switch (c->state) {
		case CH_SIZE:
			v = util_hex_value(ch);
			if (v >= 0) {
				if (++c->line > 16)
					return -400;
				c->size = c->size * 16 + (uint64_t)v;
				if (c->size > max - c->total)
					return -413;
			} else if (c->line && ch == '\r') {
				c->state = CH_SIZE_LF;
			} else if (c->line && ch == ';') {
				c->state = CH_EXT;
			} else if (c->line && (ch == ' ' || ch == '\t')) {
				c->state = CH_SIZE_WS;
			} else {
				return -400;
			}
			break;
		case CH_SIZE_WS:	/* "1 2" is no size: refused */
			if (++c->line > HTTP1_MAX_CHUNK_LINE)
				return -400;
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch != ' ' && ch != '\t')
				return -400;
			break;
		case CH_EXT:
			if (++c->line > HTTP1_MAX_CHUNK_LINE)
				return -400;
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (!is_field_char(ch))
				return -400;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -400;
			c->line = 0;
			c->state = c->size ? CH_DATA : CH_TRAILER_START;
			break;
		case CH_DATA: {
			size_t n = len - i;

			if (n > c->size)
				n = (size_t)c->size;
			c->size -= n;
			c->total += n;
			if (c->size == 0)
				c->state = CH_DATA_CR;
			*data = in + i;
			*dlen = n;
			return (long)(i + n);
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return -400;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_SIZE;
			break;
		case CH_TRAILER_START:
			if (ch == '\r') {
				c->state = CH_END_LF;
				break;
			}
			if (ch == ' ' || ch == '\t' || ch == ':')
				return -400;	/* fold or no name */
			c->state = CH_TRAILER;
			/* fall through */
		case CH_TRAILER:
			if (++c->trailers > HTTP1_MAX_TRAILERS)
				return -400;
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (!is_field_char(ch))
				return -400;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_TRAILER_START;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_DONE;
			break;
		default:
			return -400;
		}
	}
	*done = c->state == CH_DONE;
	return (long)i;
}

/* ------------------------------------------------------------------ */

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" }, { 101, "Switching Protocols" },
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 204, "No Content" }, { 206, "Partial Content" },
	{ 301, "Moved Permanently" }, { 302, "Found" },
	{ 303, "See Other" }, { 304, "Not Modified" },
	{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" },
	{ 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
	{ 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
	{ 411, "Length Required" }, { 412, "Precondition Failed" },
	{ 413, "Content Too Large" }, { 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" }, { 417, "Expectation Failed" },
	{ 422, "Unprocessable Content" }, { 426, "Upgrade Required" },
	{ 428, "Precondition Required" }, { 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 499, "Client Closed Request" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
};

const char *http1_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";
}
