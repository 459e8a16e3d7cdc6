/*
 * http1.h - the server's HTTP/1.1 request reader: a strict parser of
 * request heads and a chunked-body decoder (RFC 9112), with nothing to
 * do with sockets, so that it can be unit-tested and fuzzed on its own.
 *
 * Strict because the server may sit behind another proxy: whatever two
 * readers could frame differently is refused, never guessed at.  That
 * means bare LF line ends, whitespace before a field's colon, folded
 * lines, control bytes (NUL included) in a field, a Content-Length that
 * is not plain digits or disagrees with another, Content-Length together
 * with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, and an HTTP/1.1
 * request without exactly one Host.  The caller answers the status it
 * gets and closes the connection.
 */
#ifndef CHAT_HTTP1_H
#define CHAT_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_LINE		8192	/* request line; longer: 414 */
#define HTTP1_MAX_FIELDS_LEN	16384	/* field lines together; past: 431 */
#define HTTP1_MAX_FIELDS	100	/* field lines; more: 431 */
#define HTTP1_MAX_HEAD		(HTTP1_MAX_LINE + HTTP1_MAX_FIELDS_LEN)

struct http1_field {
	const char *name;	/* as sent (case kept); not NUL-terminated */
	size_t name_len;
	const char *value;	/* without surrounding whitespace */
	size_t value_len;
};

/* A parsed head; every pointer points into the caller's buffer. */
struct http1_request {
	const char *method;
	size_t method_len;
	const char *target;	/* origin-form: "/path?query" */
	size_t target_len;
	int minor;		/* HTTP/1.minor: 0 or 1 */
	struct http1_field fields[HTTP1_MAX_FIELDS];
	size_t nfields;
	/* framing, worked out from the fields */
	int64_t content_length;	/* -1: none */
	bool chunked;		/* Transfer-Encoding: chunked */
	bool keep_alive;	/* the connection may carry another request */
	bool expect_continue;	/* Expect: 100-continue */
	bool websocket;		/* GET with Upgrade: websocket, Connection:
				 * upgrade; other upgrades are ignored */
};

/* Where a head's reading stands between calls (zero it for each head). */
struct http1_scan {
	size_t scanned;		/* bytes already checked for line ends */
	size_t start;		/* where the request line starts */
	size_t line_end;	/* its LF; 0 until seen */
};

/*
 * Reads the head at the start of buf[0..len), where earlier calls for the
 * same head saw a prefix of the same bytes: each byte is looked at once
 * until the head is complete, then parsed once.
 *
 * Returns 0 when more bytes are needed; the head's length (> 0, empty
 * lines before the request line included) when req is filled in; or a
 * negative HTTP status to answer with: -400 malformed or ambiguous,
 * -414 request line too long, -431 fields too large or too many, -417
 * an expectation other than 100-continue, -501 a method or transfer
 * coding the server does not implement, -505 a version other than
 * HTTP/1.0 or 1.1.  *why is then a static sentence for the answer.
 */
long http1_parse_request(const char *buf, size_t len, struct http1_scan *scan,
			 struct http1_request *req, const char **why);

/* The first value of field name (case-insensitive), or NULL. */
const struct http1_field *http1_field(const struct http1_request *req,
				      const char *name);

/* True when a comma-separated field value lists token (any case). */
bool http1_list_has(const char *value, size_t len, const char *token);

/* A chunked body being decoded (zero it for each body). */
struct http1_chunked {
	int state;
	uint64_t size;		/* of the chunk being read */
	size_t line;		/* bytes of the current size or trailer line */
	size_t trailers;	/* trailer bytes so far */
	uint64_t total;		/* data bytes so far */
};

/*
 * Decodes in[0..len) of a chunked body.  Returns the bytes consumed (>= 0)
 * and, when some of them are body data, points *data at them (inside in)
 * with their count in *dlen: call again with the rest.  *done is set once
 * the last chunk and its trailer section have been read; bytes after it
 * belong to the next request.  Negative status: -400 malformed (bare LF,
 * a size that is not hex digits, a missing CRLF), -413 when the data
 * would pass max bytes.
 */
long http1_chunked_feed(struct http1_chunked *c, const char *in, size_t len,
			uint64_t max, const char **data, size_t *dlen,
			bool *done);

/* The reason phrase of a status ("Not Found"); "" when unknown. */
const char *http1_reason(int status);

#endif
