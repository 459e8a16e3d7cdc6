/*
 * fuzz-http1.c - libFuzzer target for the HTTP/1.1 request reader
 * (shared/http1.c): the input is what a client sends on a connection,
 * a request head and maybe a body, after two bytes of parameters.
 *
 * Beyond memory safety it checks the contract in http1.h: a head gets
 * the same answer whole, cut in two (the first byte picks where) and
 * byte by byte; an accepted head points only into its own bytes and
 * frames the body one way (never both Content-Length and chunked); a
 * refusal is one of the documented statuses.  The bytes after the head
 * (or the whole input when there is no head) then go to the chunked
 * decoder in pieces of pseudo-random sizes (the second byte seeds them)
 * and must decode to what they decode to in one piece.  Every call sees
 * a copy of exactly its bytes, so ASan catches any read past them.
 *
 * The size limits are 8 and 16 KiB away, too far for mutations: when
 * the second byte has 0x40 set, four more bytes say which byte of the
 * input to repeat and how many times (up to past the longest head).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#include "fuzz.h"

/* The longest head: four empty lines, the longest request line and the
 * largest field section, each with its CRLF. */
#define MOST_HEAD	(4 * 2 + HTTP1_MAX_LINE + 2 + HTTP1_MAX_FIELDS_LEN + 2)

struct answer {
	long rc;
	const char *why;
	struct http1_request req;
	const char *base;	/* the buffer req points into */
};

static char *copy_of(const uint8_t *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

static bool within(const char *base, size_t len, const char *p, size_t n)
{
	return p && p >= base && n <= len && p - base <= (ptrdiff_t)(len - n);
}

/* Offsets and lengths of two answers are the same. */
static void check_same(const struct answer *a, const struct answer *b)
{
	size_t i;

	FUZZ_CHECK(a->rc == b->rc);
	if (a->rc < 0)
		FUZZ_CHECK(strcmp(a->why, b->why) == 0);
	if (a->rc <= 0)
		return;
#define SAME_PTR(f) FUZZ_CHECK(a->req.f - a->base == b->req.f - b->base)
	SAME_PTR(method);
	SAME_PTR(target);
	FUZZ_CHECK(a->req.method_len == b->req.method_len);
	FUZZ_CHECK(a->req.target_len == b->req.target_len);
	FUZZ_CHECK(a->req.minor == b->req.minor);
	FUZZ_CHECK(a->req.nfields == b->req.nfields);
	for (i = 0; i < a->req.nfields; i++) {
		SAME_PTR(fields[i].name);
		FUZZ_CHECK(a->req.fields[i].name_len ==
			   b->req.fields[i].name_len);
		SAME_PTR(fields[i].value);
		FUZZ_CHECK(a->req.fields[i].value_len ==
			   b->req.fields[i].value_len);
	}
#undef SAME_PTR
	FUZZ_CHECK(a->req.content_length == b->req.content_length);
	FUZZ_CHECK(a->req.chunked == b->req.chunked);
	FUZZ_CHECK(a->req.keep_alive == b->req.keep_alive);
	FUZZ_CHECK(a->req.expect_continue == b->req.expect_continue);
	FUZZ_CHECK(a->req.websocket == b->req.websocket);
}

/* What any answer on n bytes must be. */
static void check_answer(const struct answer *a, size_t n)
{
	const struct http1_request *r = &a->req;
	size_t i, head;

	FUZZ_CHECK(a->rc <= (long)n);
	if (a->rc < 0) {
		long s = -a->rc;

		FUZZ_CHECK(s == 400 || s == 414 || s == 417 || s == 431 ||
			   s == 501 || s == 505);
		FUZZ_CHECK(a->why && a->why[0]);
		FUZZ_CHECK(http1_reason((int)s)[0]);
		return;
	}
	FUZZ_CHECK(a->why == NULL);
	if (a->rc == 0) {
		/* the limits are enforced before the head is whole */
		FUZZ_CHECK(n < MOST_HEAD);
		return;
	}
	head = (size_t)a->rc;
	FUZZ_CHECK(head <= MOST_HEAD);
	FUZZ_CHECK(head >= 4 && memcmp(a->base + head - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(r->method_len > 0 && r->target_len > 0);
	FUZZ_CHECK(within(a->base, head, r->method, r->method_len));
	FUZZ_CHECK(within(a->base, head, r->target, r->target_len));
	FUZZ_CHECK(r->target[0] == '/');
	FUZZ_CHECK(r->minor == 0 || r->minor == 1);
	FUZZ_CHECK(r->nfields <= HTTP1_MAX_FIELDS);
	for (i = 0; i < r->nfields; i++) {
		const struct http1_field *f = &r->fields[i];
		char *name;
		size_t k;

		FUZZ_CHECK(f->name_len > 0);
		FUZZ_CHECK(within(a->base, head, f->name, f->name_len));
		FUZZ_CHECK(within(a->base, head, f->value, f->value_len));
		FUZZ_CHECK(f->value > f->name);
		for (k = 0; k < f->value_len; k++)
			FUZZ_CHECK(f->value[k] != '\r' && f->value[k] != '\n' &&
				   f->value[k] != '\0');
		if (f->value_len)
			FUZZ_CHECK(f->value[0] != ' ' && f->value[0] != '\t' &&
				   f->value[f->value_len - 1] != ' ' &&
				   f->value[f->value_len - 1] != '\t');
		name = fuzz_strndup((const uint8_t *)f->name, f->name_len);
		FUZZ_CHECK(http1_field(r, name) != NULL);
		free(name);
	}
	FUZZ_CHECK(http1_field(r, "") == NULL);
	FUZZ_CHECK(r->content_length >= -1);
	FUZZ_CHECK(!(r->chunked && r->content_length >= 0));
	FUZZ_CHECK(!r->chunked || r->minor == 1);
	FUZZ_CHECK(r->minor == 0 || http1_field(r, "host") != NULL);
	FUZZ_CHECK(!r->websocket || r->method_len == 3);
}

static void parse_whole(const uint8_t *p, size_t n, struct answer *a)
{
	struct http1_scan scan;
	char *buf = copy_of(p, n);

	memset(&scan, 0, sizeof(scan));
	a->base = buf;
	a->rc = http1_parse_request(buf, n, &scan, &a->req, &a->why);
	check_answer(a, n);
}

/* buf[0..k) in a copy of its own, then all n bytes with the same scan. */
static void parse_split(const uint8_t *p, size_t n, size_t k, struct answer *a)
{
	struct http1_scan scan;
	char *buf = copy_of(p, k);

	memset(&scan, 0, sizeof(scan));
	a->base = buf;
	a->rc = http1_parse_request(buf, k, &scan, &a->req, &a->why);
	check_answer(a, k);
	if (a->rc != 0)
		return;
	free(buf);
	buf = copy_of(p, n);
	a->base = buf;
	a->rc = http1_parse_request(buf, n, &scan, &a->req, &a->why);
	check_answer(a, n);
}

static void parse_bytes(const uint8_t *p, size_t n, struct answer *a)
{
	struct http1_scan scan;
	char *buf = copy_of(p, n);
	size_t len;

	memset(&scan, 0, sizeof(scan));
	a->base = buf;
	a->rc = 0;
	a->why = NULL;
	for (len = 1; len <= n && a->rc == 0; len++)
		a->rc = http1_parse_request(buf, len, &scan, &a->req, &a->why);
}

/* xorshift32: piece sizes that the input decides. */
static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

struct decoded {
	long rc;		/* consumed, or the refusal */
	bool done;
	char *data;		/* the body's data, at most the input's size */
	size_t dlen;
};

/* p[0..n) as a chunked body, in pieces of at most piece_max bytes
 * (random sizes when rnd is given), each a copy of its own. */
static void decode(const uint8_t *p, size_t n, uint64_t max, uint32_t *rnd,
		   size_t piece_max, struct decoded *d)
{
	struct http1_chunked c;
	size_t at = 0;

	memset(&c, 0, sizeof(c));
	d->rc = 0;
	d->done = false;
	d->dlen = 0;
	while (at < n && !d->done) {
		size_t len = n - at, off = 0;
		char *piece;

		if (rnd)
			len = 1 + next_rand(rnd) % (len < piece_max ?
						     len : piece_max);
		piece = copy_of(p + at, len);
		while (off < len && !d->done) {
			const char *data;
			size_t dlen;
			bool done;
			long rc;

			rc = http1_chunked_feed(&c, piece + off, len - off, max,
						&data, &dlen, &done);
			if (rc < 0) {
				FUZZ_CHECK(rc == -400 || rc == -413);
				d->rc = rc;
				free(piece);
				return;
			}
			FUZZ_CHECK((size_t)rc <= len - off);
			FUZZ_CHECK(dlen <= (size_t)rc);
			FUZZ_CHECK(rc > 0 || done);
			if (dlen) {
				FUZZ_CHECK(data >= piece + off &&
					   data + dlen <= piece + off + rc);
				memcpy(d->data + d->dlen, data, dlen);
				d->dlen += dlen;
			}
			FUZZ_CHECK(d->dlen <= max);
			d->done = done;
			off += (size_t)rc;
			d->rc += rc;
		}
		free(piece);
		at += len;
	}
	FUZZ_CHECK((size_t)d->rc <= n);
	FUZZ_CHECK(d->dlen <= (size_t)d->rc);
	if (d->done) {
		const char *data;
		size_t dlen;
		bool done;

		/* the end stays the end */
		FUZZ_CHECK(http1_chunked_feed(&c, "0\r\n\r\n", 5, max, &data,
					      &dlen, &done) == 0);
		FUZZ_CHECK(done && dlen == 0);
	}
}

/* p[0..n) with p[at] repeated count more times, in *out (malloc'd). */
static size_t stretch(const uint8_t *p, size_t n, size_t at, size_t count,
		      uint8_t **out)
{
	uint8_t *s = malloc(n + count + 1);

	if (!s)
		abort();
	memcpy(s, p, at + 1);
	memset(s + at + 1, p[at], count);
	memcpy(s + at + 1 + count, p + at + 1, n - at - 1);
	*out = s;
	return n + count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t split = fuzz_byte(&in), seed = fuzz_byte(&in);
	const uint8_t *p;
	uint8_t *stretched = NULL;
	size_t n, k, body_at;
	static struct answer whole, cut, bytes;
	struct decoded one, pieces;
	uint64_t max;
	uint32_t rnd;

	if (seed & 0x40) {
		size_t at = fuzz_u16(&in), count = fuzz_u16(&in) % 24700;

		if (in.n)
			in.n = stretch(in.p, in.n, at % in.n, count,
				       &stretched);
		if (stretched)
			in.p = stretched;
	}
	p = in.p;
	n = in.n;

	parse_whole(p, n, &whole);

	/* cut where the first byte says, over the whole length */
	k = n <= 255 ? (split <= n ? split : split % (n + 1)) :
	    (size_t)split * n / 255;
	parse_split(p, n, k, &cut);
	check_same(&cut, &whole);
	free((void *)cut.base);

	if (n <= 4096) {
		parse_bytes(p, n, &bytes);
		check_same(&bytes, &whole);
		free((void *)bytes.base);
	}

	/* the body after the head, or the input itself */
	body_at = whole.rc > 0 ? (size_t)whole.rc : 0;
	free((void *)whole.base);
	max = seed & 0x80 ? UINT64_MAX : (uint64_t)(seed & 0x3f) * 4;
	one.data = malloc(n - body_at + 1);
	pieces.data = malloc(n - body_at + 1);
	if (!one.data || !pieces.data)
		abort();
	decode(p + body_at, n - body_at, max, NULL, 0, &one);
	rnd = 0x9e3779b9u ^ seed ^ (uint32_t)n;
	decode(p + body_at, n - body_at, max, &rnd, 1 + (seed & 0x0f) * 3,
	       &pieces);
	FUZZ_CHECK(one.rc == pieces.rc && one.done == pieces.done);
	FUZZ_CHECK(one.dlen == pieces.dlen);
	FUZZ_CHECK(memcmp(one.data, pieces.data, one.dlen) == 0);
	free(one.data);
	free(pieces.data);
	free(stretched);
	return 0;
}
