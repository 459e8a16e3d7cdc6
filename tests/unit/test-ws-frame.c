/*
 * test-ws-frame.c - the WebSocket frame codec (shared/ws-frame.c)
 * against the contract in ws-frame.h and RFC 6455 section 5.
 *
 * Every stream of frames, valid or not, is also fed in pieces (every
 * split point, every pair of them on short streams, byte by byte,
 * pseudo-random sizes) and must give the frames, payloads and error it
 * gives whole.  Every piece is a fresh copy of exactly its own length:
 * the parser unmasks in place, and a sanitizer build sees any read past
 * the bytes a call was given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws-frame.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* helpers: byte strings */

struct bytes {
	unsigned char *p;
	size_t n, cap;
};

static void bytes_put(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

/* p[0..n) in a block of exactly n bytes. */
static unsigned char *dup_exact(const unsigned char *p, size_t n)
{
	unsigned char *c = malloc(n ? n : 1);

	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* xorshift32: payloads and piece sizes that do not depend on libc. */
static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* n bytes of payload that differ from one seed to the next. */
static unsigned char *payload_of(size_t n, uint32_t seed)
{
	unsigned char *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)next_rand(&x);
	return p;
}

/* The header length ws_frame_header must write. */
static size_t header_len(uint64_t len, bool masked)
{
	return 2 + (len < 126 ? 0 : len <= 0xffff ? 2 : 8) + (masked ? 4 : 0);
}

/* Appends one frame, masked with a key from seed when masked. */
static void put_frame(struct bytes *b, int opcode, bool fin,
		      const unsigned char *payload, size_t len, bool masked,
		      uint32_t seed)
{
	unsigned char h[WS_FRAME_MAX_HEADER], key[4];
	size_t hl, at;
	uint32_t x = seed | 1;
	int i;

	for (i = 0; i < 4; i++)
		key[i] = (unsigned char)next_rand(&x);
	hl = ws_frame_header(h, opcode, fin, len, masked ? key : NULL);
	assert_int_equal(hl, header_len(len, masked));
	bytes_put(b, h, hl);
	at = b->n;
	bytes_put(b, payload, len);
	if (masked)
		ws_frame_mask(b->p + at, len, key, 0);
}

/* ------------------------------------------------------------------ */
/* helpers: feeding a stream in pieces and recording what comes out */

#define MAX_FRAMES 64

struct got_frame {
	int opcode, message_opcode;
	bool fin;
	unsigned char *data;	/* the payload, put together (malloc'd) */
	size_t len;
};

struct run {
	struct got_frame f[MAX_FRAMES];
	size_t n;		/* frames ended */
	long err;		/* 0, or what ws_frame_feed returned */
	size_t consumed;	/* bytes taken (when err is 0) */
	bool open;		/* a frame's payload begun, not ended */
};

static void run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n + (r->open ? 1 : 0) && i < MAX_FRAMES; i++)
		free(r->f[i].data);
	memset(r, 0, sizeof(*r));
}

/* One piece's events into r; false once the parser refused. */
static bool feed_piece(struct ws_frame_parser *p, const unsigned char *src,
		       size_t n, struct run *r)
{
	unsigned char *buf = dup_exact(src, n);
	size_t off = 0;

	do {
		struct ws_frame_event ev;
		struct got_frame *f;
		long rc;

		memset(&ev, 0xa5, sizeof(ev));
		rc = ws_frame_feed(p, buf + off, n - off, &ev);
		if (rc < 0) {
			r->err = rc;
			free(buf);
			return false;
		}
		assert_true((size_t)rc <= n - off);
		if (!ev.data) {
			/* more bytes needed: it took all it had */
			assert_int_equal(rc, n - off);
			assert_false(ev.end);
			off += (size_t)rc;
			r->consumed += (size_t)rc;
			break;
		}
		/* an event, inside what this call consumed */
		assert_true(rc > 0 || ev.len == 0);
		assert_true(ev.bytes >= buf + off &&
			    ev.bytes + ev.len <= buf + off + (size_t)rc);
		assert_true(r->n < MAX_FRAMES);
		f = &r->f[r->n];
		/* the first piece of a frame, and only it, says so */
		assert_int_equal(ev.start, !r->open);
		if (!r->open) {
			f->opcode = ev.opcode;
			f->message_opcode = ev.opcode >= 0x8 ? 0 :
					    ev.message_opcode;
			f->fin = ev.fin;
			f->data = NULL;
			f->len = 0;
			r->open = true;
		} else {
			/* every piece of a frame says the same */
			assert_int_equal(f->opcode, ev.opcode);
			assert_int_equal(f->fin, ev.fin);
			if (ev.opcode < 0x8)
				assert_int_equal(f->message_opcode,
						 ev.message_opcode);
		}
		if (ev.len) {
			f->data = realloc(f->data, f->len + ev.len);
			assert_non_null(f->data);
			memcpy(f->data + f->len, ev.bytes, ev.len);
			f->len += ev.len;
		}
		if (ev.end) {
			r->open = false;
			r->n++;
		}
		off += (size_t)rc;
		r->consumed += (size_t)rc;
	} while (off < n);
	free(buf);
	return true;
}

/* in[0..len) fed in the pieces that cuts (increasing) make. */
static void feed_cuts(const unsigned char *in, size_t len, bool masked_in,
		      const size_t *cuts, size_t ncuts, struct run *r)
{
	struct ws_frame_parser p;
	size_t at = 0, i;

	memset(&p, 0, sizeof(p));
	p.masked_in = masked_in;
	memset(r, 0, sizeof(*r));
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		assert_true(end >= at && end <= len);
		if (!feed_piece(&p, in + at, end - at, r))
			return;
		at = end;
	}
}

static void feed_whole(const unsigned char *in, size_t len, bool masked_in,
		       struct run *r)
{
	feed_cuts(in, len, masked_in, NULL, 0, r);
}

static void assert_same_run(const struct run *a, const struct run *b)
{
	size_t i;

	assert_int_equal(a->err, b->err);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->open, b->open);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->f[i].opcode, b->f[i].opcode);
		assert_int_equal(a->f[i].message_opcode,
				 b->f[i].message_opcode);
		assert_int_equal(a->f[i].fin, b->f[i].fin);
		assert_int_equal(a->f[i].len, b->f[i].len);
		if (a->f[i].len)
			assert_memory_equal(a->f[i].data, b->f[i].data,
					    a->f[i].len);
	}
}

/* Fed whole into *whole (run_free it), then every other way this size
 * allows, each giving the same. */
static void feed_all_ways(const unsigned char *in, size_t len, bool masked_in,
			  struct run *whole)
{
	struct run r;
	size_t *cuts, i, j, step;
	uint32_t x = (uint32_t)len * 2246822519u + 7;

	feed_whole(in, len, masked_in, whole);
	cuts = malloc((len + 1) * sizeof(*cuts));
	assert_non_null(cuts);

	/* every split point (a sample of them past 4 KiB) */
	step = len <= 4096 ? 1 : len / 127;
	for (i = 0; i <= len; i += (i < 64 || len - i < 64) ? 1 : step) {
		cuts[0] = i;
		feed_cuts(in, len, masked_in, cuts, 1, &r);
		assert_same_run(whole, &r);
		run_free(&r);
	}

	/* every pair of split points, on short streams */
	if (len <= 160) {
		for (i = 0; i <= len; i++) {
			for (j = i; j <= len; j++) {
				cuts[0] = i;
				cuts[1] = j;
				feed_cuts(in, len, masked_in, cuts, 2, &r);
				assert_same_run(whole, &r);
				run_free(&r);
			}
		}
	}

	/* byte by byte */
	for (i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	feed_cuts(in, len, masked_in, cuts, len ? len - 1 : 0, &r);
	assert_same_run(whole, &r);
	run_free(&r);

	/* pseudo-random piece sizes, a few times */
	for (j = 0; j < 8; j++) {
		size_t n = 0, at = 0;

		while (at < len) {
			at += 1 + next_rand(&x) % (j < 4 ? 20 : 3000);
			if (at < len)
				cuts[n++] = at;
		}
		feed_cuts(in, len, masked_in, cuts, n, &r);
		assert_same_run(whole, &r);
		run_free(&r);
	}
	free(cuts);
}

/* ------------------------------------------------------------------ */
/* the header writer and RFC 6455 section 5.7's examples */

static void test_ws_frame__header_bytes(void **state)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char h[WS_FRAME_MAX_HEADER];

	(void)state;
	assert_int_equal(ws_frame_header(h, WS_OP_TEXT, true, 5, NULL), 2);
	assert_memory_equal(h, "\x81\x05", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_TEXT, false, 3, NULL), 2);
	assert_memory_equal(h, "\x01\x03", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_CONT, true, 2, NULL), 2);
	assert_memory_equal(h, "\x80\x02", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_PONG, true, 5, key), 6);
	assert_memory_equal(h, "\x8a\x85\x37\xfa\x21\x3d", 6);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, 0, NULL), 2);
	assert_memory_equal(h, "\x82\x00", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, 125, NULL), 2);
	assert_memory_equal(h, "\x82\x7d", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, 126, NULL), 4);
	assert_memory_equal(h, "\x82\x7e\x00\x7e", 4);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, 256, NULL), 4);
	assert_memory_equal(h, "\x82\x7e\x01\x00", 4);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, 65535, NULL),
			 4);
	assert_memory_equal(h, "\x82\x7e\xff\xff", 4);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, 65536, NULL),
			 10);
	assert_memory_equal(h, "\x82\x7f\0\0\0\0\0\x01\0\0", 10);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, false,
					 0x0102030405060708ull, key), 14);
	assert_memory_equal(h, "\x02\xff\x01\x02\x03\x04\x05\x06\x07\x08"
			    "\x37\xfa\x21\x3d", 14);
	assert_int_equal(ws_frame_header(h, WS_OP_CLOSE, true, 2, key), 6);
	assert_memory_equal(h, "\x88\x82\x37\xfa\x21\x3d", 6);
	assert_int_equal(ws_frame_header(h, WS_OP_PING, true, 0, NULL), 2);
	assert_memory_equal(h, "\x89\x00", 2);
}

static void test_ws_frame__rfc_examples(void **state)
{
	static const struct {
		const char *name;
		const char *in;
		size_t len;
		bool masked;
		int opcode;
		bool fin;
		const char *payload;
		size_t plen;
	} cases[] = {
		{ "unmasked text", "\x81\x05Hello", 7, false, WS_OP_TEXT, true,
		  "Hello", 5 },
		{ "masked text",
		  "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, true,
		  WS_OP_TEXT, true, "Hello", 5 },
		{ "unmasked ping", "\x89\x05Hello", 7, false, WS_OP_PING, true,
		  "Hello", 5 },
		{ "masked pong",
		  "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, true,
		  WS_OP_PONG, true, "Hello", 5 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct run r;

		feed_all_ways((const unsigned char *)cases[i].in, cases[i].len,
			      cases[i].masked, &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.consumed, cases[i].len);
		assert_int_equal(r.f[0].opcode, cases[i].opcode);
		assert_int_equal(r.f[0].fin, cases[i].fin);
		assert_int_equal(r.f[0].len, cases[i].plen);
		assert_memory_equal(r.f[0].data, cases[i].payload,
				    cases[i].plen);
		run_free(&r);
	}
	{
		/* a fragmented unmasked text message */
		static const unsigned char in[] = "\x01\x03Hel\x80\x02lo";
		struct run r;

		feed_all_ways(in, sizeof(in) - 1, false, &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.n, 2);
		assert_int_equal(r.f[0].opcode, WS_OP_TEXT);
		assert_false(r.f[0].fin);
		assert_memory_equal(r.f[0].data, "Hel", 3);
		assert_int_equal(r.f[1].opcode, WS_OP_CONT);
		assert_int_equal(r.f[1].message_opcode, WS_OP_TEXT);
		assert_true(r.f[1].fin);
		assert_memory_equal(r.f[1].data, "lo", 2);
		run_free(&r);
	}
}

/* ------------------------------------------------------------------ */
/* round trips: every length form, opcode, fin, masked or not */

static const int data_ops[] = { WS_OP_CONT, WS_OP_TEXT, WS_OP_BINARY };
static const int control_ops[] = { WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG };

static void round_trip(int opcode, bool fin, size_t len, bool masked,
		       int message_opcode)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	struct bytes b = { 0 };
	unsigned char *payload = payload_of(len, (uint32_t)(len + opcode));
	unsigned char *buf;
	size_t hl = header_len(len, masked);
	long rc;

	memset(&p, 0, sizeof(p));
	p.masked_in = masked;
	if (opcode == WS_OP_CONT) {
		/* a message begun by an empty first fragment */
		unsigned char first[WS_FRAME_MAX_HEADER];
		size_t fl;

		put_frame(&b, message_opcode, false, NULL, 0, masked, 3);
		fl = b.n;
		memcpy(first, b.p, fl);
		rc = ws_frame_feed(&p, first, fl, &ev);
		assert_int_equal(rc, fl);
		assert_true(ev.data && ev.end);
		assert_int_equal(ev.len, 0);
		assert_int_equal(ev.opcode, message_opcode);
		assert_int_equal(ev.message_opcode, message_opcode);
		assert_false(ev.fin);
		assert_true(p.in_message);
		b.n = 0;
	}
	put_frame(&b, opcode, fin, payload, len, masked, (uint32_t)len);
	assert_int_equal(b.n, hl + len);
	/* the header says what it should */
	assert_int_equal(b.p[0], (fin ? 0x80 : 0) | opcode);
	assert_int_equal(b.p[1] & 0x80, masked ? 0x80 : 0);
	assert_int_equal(b.p[1] & 0x7f, len < 126 ? len :
					len <= 0xffff ? 126 : 127);
	if (masked && len >= 8)
		assert_memory_not_equal(b.p + hl, payload, len);
	buf = dup_exact(b.p, b.n);
	rc = ws_frame_feed(&p, buf, b.n, &ev);
	assert_int_equal(rc, hl + len);
	assert_true(ev.data);
	assert_true(ev.start);
	assert_true(ev.end);
	assert_int_equal(ev.opcode, opcode);
	assert_int_equal(ev.fin, fin);
	if (opcode < 0x8)
		assert_int_equal(ev.message_opcode, opcode == WS_OP_CONT ?
				 message_opcode : opcode);
	/* unmasked in place, right after the header */
	assert_ptr_equal(ev.bytes, buf + hl);
	assert_int_equal(ev.len, len);
	if (len)
		assert_memory_equal(ev.bytes, payload, len);
	assert_int_equal(p.in_message, opcode < 0x8 && !fin);
	/* nothing more: nothing to say */
	rc = ws_frame_feed(&p, buf + b.n, 0, &ev);
	assert_int_equal(rc, 0);
	assert_false(ev.data);
	free(buf);
	free(b.p);
	free(payload);
}

static void test_ws_frame__round_trip(void **state)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536,
				       70000 };
	size_t i, k;
	int fin, masked;

	(void)state;
	for (i = 0; i < NELEM(lens); i++) {
		for (masked = 0; masked < 2; masked++) {
			for (k = 0; k < NELEM(data_ops); k++) {
				for (fin = 0; fin < 2; fin++) {
					round_trip(data_ops[k], fin, lens[i],
						   masked, WS_OP_TEXT);
					round_trip(data_ops[k], fin, lens[i],
						   masked, WS_OP_BINARY);
				}
			}
			if (lens[i] > WS_CONTROL_MAX)
				continue;
			for (k = 0; k < NELEM(control_ops); k++)
				round_trip(control_ops[k], true, lens[i],
					   masked, 0);
		}
	}
}

/* A stream of every kind of frame and length form, fed every way. */
static void stream_all_ways(const size_t *lens, size_t nlens, bool masked)
{
	struct bytes b = { 0 };
	struct run r;
	unsigned char *pl[16];
	size_t i, k = 0;

	assert_true(nlens <= 4);
	for (i = 0; i < nlens; i++) {
		pl[k] = payload_of(lens[i], (uint32_t)(i * 7 + 1));
		put_frame(&b, WS_OP_BINARY, false, pl[k], lens[i], masked,
			  (uint32_t)k + 11);
		k++;
		pl[k] = payload_of(lens[i] % 126, (uint32_t)(i * 7 + 2));
		put_frame(&b, WS_OP_PING, true, pl[k], lens[i] % 126, masked,
			  (uint32_t)k + 11);
		k++;
		pl[k] = payload_of(lens[i], (uint32_t)(i * 7 + 3));
		put_frame(&b, WS_OP_CONT, true, pl[k], lens[i], masked,
			  (uint32_t)k + 11);
		k++;
		pl[k] = payload_of(lens[i], (uint32_t)(i * 7 + 4));
		put_frame(&b, WS_OP_TEXT, true, pl[k], lens[i], masked,
			  (uint32_t)k + 11);
		k++;
	}
	feed_all_ways(b.p, b.n, masked, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, k);
	assert_false(r.open);
	assert_int_equal(r.consumed, b.n);
	for (i = 0; i < k; i++) {
		static const int op[4] = { WS_OP_BINARY, WS_OP_PING,
					   WS_OP_CONT, WS_OP_TEXT };
		size_t len = lens[i / 4] % (i % 4 == 1 ? 126 : SIZE_MAX);

		assert_int_equal(r.f[i].opcode, op[i % 4]);
		assert_int_equal(r.f[i].fin, i % 4 != 0);
		if (i % 4 != 1)
			assert_int_equal(r.f[i].message_opcode,
					 i % 4 == 3 ? WS_OP_TEXT :
					 WS_OP_BINARY);
		assert_int_equal(r.f[i].len, len);
		if (len)
			assert_memory_equal(r.f[i].data, pl[i], len);
		free(pl[i]);
	}
	run_free(&r);
	free(b.p);
}

static void test_ws_frame__split_short_streams(void **state)
{
	static const size_t tiny[] = { 0, 1 };
	static const size_t small[] = { 3, 125 };
	static const size_t mid[] = { 126, 127 };
	int masked;

	(void)state;
	for (masked = 0; masked < 2; masked++) {
		stream_all_ways(tiny, NELEM(tiny), masked);
		stream_all_ways(small, NELEM(small), masked);
		stream_all_ways(mid, NELEM(mid), masked);
	}
}

static void test_ws_frame__split_long_frames(void **state)
{
	static const size_t a[] = { 65535 };
	static const size_t b[] = { 65536 };
	static const size_t c[] = { 70000 };
	int masked;

	(void)state;
	for (masked = 0; masked < 2; masked++) {
		stream_all_ways(a, NELEM(a), masked);
		stream_all_ways(b, NELEM(b), masked);
		stream_all_ways(c, NELEM(c), masked);
	}
}

/* ------------------------------------------------------------------ */
/* what one call returns */

/* Several frames in one buffer: each call stops at its event. */
static void test_ws_frame__back_to_back(void **state)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	struct bytes b = { 0 };
	unsigned char *big = payload_of(300, 5);
	size_t off = 0;
	long rc;
	int masked;

	(void)state;
	for (masked = 0; masked < 2; masked++) {
		size_t hm = masked ? 4 : 0;

		b.n = 0;
		off = 0;
		put_frame(&b, WS_OP_TEXT, true, (const unsigned char *)"abc",
			  3, masked, 1);
		put_frame(&b, WS_OP_PING, true, NULL, 0, masked, 2);
		put_frame(&b, WS_OP_BINARY, true, big, 300, masked, 3);
		put_frame(&b, WS_OP_CLOSE, true,
			  (const unsigned char *)"\x03\xe8", 2, masked, 4);
		memset(&p, 0, sizeof(p));
		p.masked_in = masked;

		rc = ws_frame_feed(&p, b.p + off, b.n - off, &ev);
		assert_int_equal(rc, 2 + hm + 3);
		assert_true(ev.data && ev.end && ev.fin);
		assert_int_equal(ev.opcode, WS_OP_TEXT);
		assert_int_equal(ev.message_opcode, WS_OP_TEXT);
		assert_int_equal(ev.len, 3);
		assert_memory_equal(ev.bytes, "abc", 3);
		off += (size_t)rc;

		rc = ws_frame_feed(&p, b.p + off, b.n - off, &ev);
		assert_int_equal(rc, 2 + hm);
		assert_true(ev.data && ev.end && ev.fin);
		assert_int_equal(ev.opcode, WS_OP_PING);
		assert_int_equal(ev.len, 0);
		off += (size_t)rc;

		rc = ws_frame_feed(&p, b.p + off, b.n - off, &ev);
		assert_int_equal(rc, 4 + hm + 300);
		assert_true(ev.data && ev.end && ev.fin);
		assert_int_equal(ev.opcode, WS_OP_BINARY);
		assert_int_equal(ev.message_opcode, WS_OP_BINARY);
		assert_int_equal(ev.len, 300);
		assert_memory_equal(ev.bytes, big, 300);
		off += (size_t)rc;

		rc = ws_frame_feed(&p, b.p + off, b.n - off, &ev);
		assert_int_equal(rc, 2 + hm + 2);
		assert_true(ev.data && ev.end && ev.fin);
		assert_int_equal(ev.opcode, WS_OP_CLOSE);
		assert_int_equal(ev.len, 2);
		assert_memory_equal(ev.bytes, "\x03\xe8", 2);
		off += (size_t)rc;
		assert_int_equal(off, b.n);

		rc = ws_frame_feed(&p, b.p + off, 0, &ev);
		assert_int_equal(rc, 0);
		assert_false(ev.data);
	}
	free(big);
	free(b.p);
}

/* Part of a header: all taken, no event; part of a payload: a piece. */
static void test_ws_frame__partial(void **state)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	unsigned char in[] = "\x82\xfe\x00\x80\x01\x02\x03\x04" "abcdefgh";
	unsigned char key[4] = { 1, 2, 3, 4 };
	long rc;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.masked_in = true;
	rc = ws_frame_feed(&p, in, 0, &ev);
	assert_int_equal(rc, 0);
	assert_false(ev.data);
	rc = ws_frame_feed(&p, in, 1, &ev);
	assert_int_equal(rc, 1);
	assert_false(ev.data);
	rc = ws_frame_feed(&p, in + 1, 6, &ev);
	assert_int_equal(rc, 6);
	assert_false(ev.data);
	/* the header's last byte alone: a frame with payload to come */
	rc = ws_frame_feed(&p, in + 7, 1, &ev);
	assert_int_equal(rc, 1);
	assert_false(ev.data);
	rc = ws_frame_feed(&p, in + 8, 5, &ev);
	assert_int_equal(rc, 5);
	assert_true(ev.data);
	assert_true(ev.start);
	assert_false(ev.end);
	assert_true(ev.fin);
	assert_int_equal(ev.opcode, WS_OP_BINARY);
	assert_ptr_equal(ev.bytes, in + 8);
	assert_int_equal(ev.len, 5);
	ws_frame_mask(in + 8, 5, key, 0);
	assert_memory_equal(in + 8, "abcde", 5);
	/* the mask goes on where it left off */
	rc = ws_frame_feed(&p, in + 13, 3, &ev);
	assert_int_equal(rc, 3);
	assert_true(ev.data);
	assert_false(ev.start);
	assert_false(ev.end);
	assert_int_equal(ev.len, 3);
	ws_frame_mask(in + 13, 3, key, 5);
	assert_memory_equal(in + 13, "fgh", 3);

	/* an empty frame ends with its header's last byte */
	memset(&p, 0, sizeof(p));
	memcpy(in, "\x8a\x80\x01\x02\x03\x04", 6);
	rc = ws_frame_feed(&p, in, 5, &ev);
	assert_int_equal(rc, -1002);	/* masked to a client */
	memset(&p, 0, sizeof(p));
	p.masked_in = true;
	rc = ws_frame_feed(&p, in, 5, &ev);
	assert_int_equal(rc, 5);
	assert_false(ev.data);
	rc = ws_frame_feed(&p, in + 5, 1, &ev);
	assert_int_equal(rc, 1);
	assert_true(ev.data && ev.start && ev.end && ev.fin);
	assert_int_equal(ev.opcode, WS_OP_PONG);
	assert_int_equal(ev.len, 0);
}

/* The longest lengths there are wait for their payload. */
static void test_ws_frame__huge_lengths(void **state)
{
	static const unsigned char in[] =
		"\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff" "abcd";
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	unsigned char buf[sizeof(in)];
	long rc;

	(void)state;
	memcpy(buf, in, sizeof(in));
	memset(&p, 0, sizeof(p));
	rc = ws_frame_feed(&p, buf, 14, &ev);
	assert_int_equal(rc, 14);
	assert_true(ev.data);
	assert_false(ev.end);
	assert_int_equal(ev.len, 4);
	assert_memory_equal(ev.bytes, "abcd", 4);
	rc = ws_frame_feed(&p, buf, 10, &ev);
	assert_int_equal(rc, 10);
	assert_true(ev.data);
	assert_false(ev.end);
	assert_int_equal(ev.len, 10);

	/* the smallest 64-bit length */
	memset(&p, 0, sizeof(p));
	memcpy(buf, "\x02\x7f\0\0\0\0\0\x01\0\0", 10);
	rc = ws_frame_feed(&p, buf, 10, &ev);
	assert_int_equal(rc, 10);
	assert_false(ev.data);
	/* the smallest 16-bit one */
	memset(&p, 0, sizeof(p));
	memcpy(buf, "\x02\x7e\0\x7e", 4);
	rc = ws_frame_feed(&p, buf, 4, &ev);
	assert_int_equal(rc, 4);
	assert_false(ev.data);
	/* the longest control frame */
	memset(&p, 0, sizeof(p));
	memcpy(buf, "\x89\x7d", 2);
	rc = ws_frame_feed(&p, buf, 2, &ev);
	assert_int_equal(rc, 2);
	assert_false(ev.data);
}

/* ------------------------------------------------------------------ */
/* fragmented messages */

static void test_ws_frame__fragmented(void **state)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	struct bytes b = { 0 };
	struct run r;
	size_t off = 0;
	long rc;
	int masked, kind;

	(void)state;
	for (masked = 0; masked < 2; masked++) {
		for (kind = WS_OP_TEXT; kind <= WS_OP_BINARY; kind++) {
			b.n = 0;
			put_frame(&b, kind, false,
				  (const unsigned char *)"Hel", 3, masked, 1);
			put_frame(&b, WS_OP_PING, true,
				  (const unsigned char *)"p", 1, masked, 2);
			put_frame(&b, WS_OP_CONT, false,
				  (const unsigned char *)"lo ", 3, masked, 3);
			put_frame(&b, WS_OP_PONG, true, NULL, 0, masked, 4);
			put_frame(&b, WS_OP_CONT, false, NULL, 0, masked, 5);
			put_frame(&b, WS_OP_CLOSE, true,
				  (const unsigned char *)"\x03\xe8", 2, masked,
				  6);
			put_frame(&b, WS_OP_CONT, true,
				  (const unsigned char *)"world", 5, masked, 7);
			/* then a new message may begin */
			put_frame(&b, kind ^ 3, true,
				  (const unsigned char *)"!", 1, masked, 8);

			/* call by call: the parser's state */
			memset(&p, 0, sizeof(p));
			p.masked_in = masked;
			off = 0;
			{
				static const struct {
					int opcode;
					bool fin;
					const char *data;
					size_t len;
					bool in_message;
				} want[] = {
					{ -1, false, "Hel", 3, true },
					{ WS_OP_PING, true, "p", 1, true },
					{ WS_OP_CONT, false, "lo ", 3, true },
					{ WS_OP_PONG, true, "", 0, true },
					{ WS_OP_CONT, false, "", 0, true },
					{ WS_OP_CLOSE, true, "\x03\xe8", 2,
					  true },
					{ WS_OP_CONT, true, "world", 5, false },
					{ -2, true, "!", 1, false },
				};
				size_t i;

				for (i = 0; i < NELEM(want); i++) {
					int op = want[i].opcode == -1 ? kind :
						 want[i].opcode == -2 ?
						 (kind ^ 3) : want[i].opcode;

					rc = ws_frame_feed(&p, b.p + off,
							   b.n - off, &ev);
					assert_true(rc > 0);
					assert_true(ev.data && ev.end);
					assert_int_equal(ev.opcode, op);
					assert_int_equal(ev.fin, want[i].fin);
					if (op < 0x8)
						assert_int_equal(
							ev.message_opcode,
							i == 7 ? (kind ^ 3) :
							kind);
					assert_int_equal(ev.len, want[i].len);
					assert_memory_equal(ev.bytes,
							    want[i].data,
							    want[i].len);
					assert_int_equal(p.in_message,
							 want[i].in_message);
					if (p.in_message)
						assert_int_equal(
							p.message_opcode,
							kind);
					off += (size_t)rc;
				}
				assert_int_equal(off, b.n);
			}

			/* and every other way */
			feed_all_ways(b.p, b.n, masked, &r);
			assert_int_equal(r.err, 0);
			assert_int_equal(r.n, 8);
			assert_int_equal(r.f[6].opcode, WS_OP_CONT);
			assert_int_equal(r.f[6].message_opcode, kind);
			run_free(&r);
		}
	}
	free(b.p);
}

/* ------------------------------------------------------------------ */
/* protocol errors: -1002, however the bytes come */

struct bad {
	const char *name;
	bool masked_in;
	const char *in;
	size_t len;
	size_t frames;		/* good frames before the bad one */
	size_t known;		/* the error is known from in[0..known) */
};

#define BAD(name, masked_in, s, frames, known) \
	{ name, masked_in, s, sizeof(s) - 1, frames, known }
#define K1 "\x01\x02\x03\x04"	/* a masking key */

static const struct bad bad_frames[] = {
	/* reserved bits: no extension was agreed */
	BAD("rsv1", false, "\xc1\x00", 0, 2),
	BAD("rsv2", false, "\xa1\x00", 0, 2),
	BAD("rsv3", false, "\x91\x00", 0, 2),
	BAD("rsv all", false, "\xf1\x00", 0, 2),
	BAD("rsv1 masked", true, "\xc1\x80" K1, 0, 6),
	BAD("rsv2 masked", true, "\xa2\x81" K1 "x", 0, 6),
	BAD("rsv3 masked", true, "\x91\x81" K1 "x", 0, 6),
	BAD("rsv1 ping", false, "\xc9\x00", 0, 2),
	BAD("rsv3 continuation", false, "\x01\x00\x90\x00", 1, 4),
	/* masking the wrong way */
	BAD("unmasked from a client", true, "\x81\x05Hello", 0, 2),
	BAD("unmasked ping from a client", true, "\x89\x00", 0, 2),
	BAD("unmasked long from a client", true, "\x82\x7e\x01\x00", 0, 4),
	BAD("masked from a server", false,
	    "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 0, 6),
	BAD("masked close from a server", false, "\x88\x80" K1, 0, 6),
	BAD("unmasked after a masked one", true,
	    "\x81\x81" K1 "x\x81\x01x", 1, 9),
	/* control frames: never fragmented, never past 125 bytes */
	BAD("close not fin", false, "\x08\x00", 0, 2),
	BAD("ping not fin", false, "\x09\x01x", 0, 2),
	BAD("pong not fin", true, "\x0a\x80" K1, 0, 6),
	BAD("ping 16-bit 126", false, "\x89\x7e\x00\x7e", 0, 4),
	BAD("ping 16-bit 5", false, "\x89\x7e\x00\x05hello", 0, 4),
	BAD("close 16-bit 300", true, "\x88\xfe\x01\x2c" K1, 0, 8),
	BAD("pong 64-bit", false, "\x8a\x7f\0\0\0\0\0\0\0\x80", 0, 10),
	BAD("ping 64-bit 1", false, "\x89\x7f\0\0\0\0\0\0\0\x01x", 0, 10),
	BAD("ping mid-message 126", false, "\x01\x00\x89\x7e\x00\x7e", 1, 6),
	/* lengths not in their shortest form */
	BAD("16-bit 125", false, "\x82\x7e\x00\x7d", 0, 4),
	BAD("16-bit 0", false, "\x82\x7e\x00\x00", 0, 4),
	BAD("16-bit 1 masked", true, "\x81\xfe\x00\x01" K1 "x", 0, 8),
	BAD("64-bit 65535", false, "\x82\x7f\0\0\0\0\0\0\xff\xff", 0, 10),
	BAD("64-bit 126", false, "\x82\x7f\0\0\0\0\0\0\0\x7e", 0, 10),
	BAD("64-bit 0", false, "\x82\x7f\0\0\0\0\0\0\0\0", 0, 10),
	BAD("64-bit 65535 masked", true,
	    "\x82\xff\0\0\0\0\0\0\xff\xff" K1, 0, 14),
	/* the top bit of a 64-bit length */
	BAD("64-bit top bit", false, "\x82\x7f\x80\0\0\0\0\0\0\0", 0, 10),
	BAD("64-bit all ones", false,
	    "\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff", 0, 10),
	BAD("64-bit top bit masked", true,
	    "\x82\xff\x80\0\0\0\0\x01\0\0" K1, 0, 14),
	/* continuations with no message */
	BAD("continuation first", false, "\x80\x00", 0, 2),
	BAD("continuation not fin first", false, "\x00\x01x", 0, 2),
	BAD("continuation masked first", true, "\x80\x80" K1, 0, 6),
	BAD("continuation after a whole message", false,
	    "\x81\x01x\x80\x00", 1, 5),
	BAD("continuation after a fragmented message", false,
	    "\x01\x00\x80\x01x\x80\x00", 2, 7),
	BAD("continuation after a ping", false, "\x89\x00\x80\x00", 1, 4),
	/* a new message before the last one ended */
	BAD("text in text", false, "\x01\x01x\x81\x00", 1, 5),
	BAD("binary in text", false, "\x01\x00\x82\x00", 1, 4),
	BAD("text not fin in binary", false, "\x02\x00\x01\x00", 1, 4),
	BAD("text after ping in text", false,
	    "\x01\x00\x89\x00\x00\x00\x81\x00", 3, 8),
	BAD("text in text masked", true,
	    "\x01\x80" K1 "\x81\x80" K1, 1, 12),
};

static void check_bad(const struct bad *b)
{
	const unsigned char *in = (const unsigned char *)b->in;
	struct run r, part;
	size_t cut;

	feed_all_ways(in, b->len, b->masked_in, &r);
	if (r.err != -1002)
		fail_msg("'%s': got %ld, want -1002", b->name, r.err);
	assert_int_equal(r.n, b->frames);
	assert_false(r.open);
	/* refused as soon as its header is whole: no payload awaited */
	assert_true(b->known <= b->len);
	feed_whole(in, b->known, b->masked_in, &part);
	if (part.err != -1002)
		fail_msg("'%s': not refused from its %zu bytes", b->name,
			 b->known);
	run_free(&part);
	/* and the good frames before it came out */
	for (cut = 0; cut < b->known; cut++) {
		feed_whole(in, cut, b->masked_in, &part);
		assert_true(part.err == 0 || part.err == -1002);
		run_free(&part);
	}
	run_free(&r);
}

static void test_ws_frame__protocol_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad_frames); i++)
		check_bad(&bad_frames[i]);
}

/* Opcodes 3-7 and 0xB-0xF, in every position a frame can have. */
static void test_ws_frame__reserved_opcodes(void **state)
{
	int op, fin, masked;

	(void)state;
	for (op = 0; op < 16; op++) {
		bool reserved = (op >= 3 && op <= 7) || op >= 0xb;

		for (fin = 0; fin < 2; fin++) {
			for (masked = 0; masked < 2; masked++) {
				unsigned char in[32];
				struct bad b;
				size_t n = 0, hm = masked ? 4 : 0;

				if (!reserved)
					continue;
				/* alone */
				in[n++] = (unsigned char)((fin ? 0x80 : 0) |
							  op);
				in[n++] = masked ? 0x81 : 0x01;
				if (masked) {
					memcpy(in + n, K1, 4);
					n += 4;
				}
				in[n++] = 'x';
				b = (struct bad){ "reserved opcode", masked,
						  (const char *)in, n, 0,
						  2 + hm };
				check_bad(&b);
				/* inside a fragmented message */
				n = 0;
				in[n++] = 0x01;
				in[n++] = masked ? 0x80 : 0x00;
				if (masked) {
					memcpy(in + n, K1, 4);
					n += 4;
				}
				in[n++] = (unsigned char)((fin ? 0x80 : 0) |
							  op);
				in[n++] = masked ? 0x80 : 0x00;
				if (masked) {
					memcpy(in + n, K1, 4);
					n += 4;
				}
				b = (struct bad){ "reserved opcode in message",
						  masked, (const char *)in, n,
						  1, n };
				check_bad(&b);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* close payloads */

static void test_ws_frame__close_code(void **state)
{
	static const int good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009,
				    1010, 1011, 1012, 1013, 1014, 3000, 3999,
				    4000, 4999 };
	static const int bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016,
				   1100, 2000, 2999, 5000, 5001, 65535 };
	unsigned char pl[8];
	size_t i;
	int code;

	(void)state;
	code = -1;
	assert_int_equal(ws_frame_close_code(NULL, 0, &code), 0);
	assert_int_equal(code, 1005);
	code = -1;
	assert_int_equal(ws_frame_close_code((const unsigned char *)"", 0,
					     &code), 0);
	assert_int_equal(code, 1005);
	assert_int_equal(ws_frame_close_code((const unsigned char *)"\x03",
					     1, &code), -1002);
	assert_int_equal(ws_frame_close_code((const unsigned char *)"\x00",
					     1, &code), -1002);
	/* one byte, even where a second would make a good code */
	{
		const unsigned char *two = (const unsigned char *)"\x03\xe8";
		unsigned char *one = dup_exact(two, 1);

		assert_int_equal(ws_frame_close_code(one, 1, &code), -1002);
		free(one);
		assert_int_equal(ws_frame_close_code(two, 1, &code), -1002);
	}
	for (i = 0; i < NELEM(good); i++) {
		pl[0] = (unsigned char)(good[i] >> 8);
		pl[1] = (unsigned char)good[i];
		memcpy(pl + 2, "bye", 3);
		code = -1;
		if (ws_frame_close_code(pl, 2, &code) != 0)
			fail_msg("close code %d refused", good[i]);
		assert_int_equal(code, good[i]);
		/* with a reason */
		code = -1;
		assert_int_equal(ws_frame_close_code(pl, 5, &code), 0);
		assert_int_equal(code, good[i]);
	}
	for (i = 0; i < NELEM(bad); i++) {
		pl[0] = (unsigned char)(bad[i] >> 8);
		pl[1] = (unsigned char)bad[i];
		memcpy(pl + 2, "bye", 3);
		if (ws_frame_close_code(pl, 2, &code) != -1002)
			fail_msg("close code %d accepted", bad[i]);
		assert_int_equal(ws_frame_close_code(pl, 5, &code), -1002);
	}
	/* every code: what the header lists */
	for (i = 0; i < 65536; i++) {
		int c = (int)i;
		bool ok = (c >= 1000 && c <= 1003) ||
			  (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
		int rc;

		pl[0] = (unsigned char)(c >> 8);
		pl[1] = (unsigned char)c;
		code = -1;
		rc = ws_frame_close_code(pl, 2, &code);
		if (rc != (ok ? 0 : -1002))
			fail_msg("close code %d: %d", c, rc);
		if (ok)
			assert_int_equal(code, c);
	}
}

/* A close frame parsed, then its payload checked. */
static void test_ws_frame__close_frame(void **state)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char buf[14];
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	int code;
	long rc;

	(void)state;
	memcpy(buf, "\x88\x88", 2);
	memcpy(buf + 2, key, 4);
	memcpy(buf + 6, "\x03\xe8" "Ciao!!", 8);
	ws_frame_mask(buf + 6, 8, key, 0);
	memset(&p, 0, sizeof(p));
	p.masked_in = true;
	rc = ws_frame_feed(&p, buf, 14, &ev);
	assert_int_equal(rc, 14);
	assert_true(ev.data && ev.end && ev.fin);
	assert_int_equal(ev.opcode, WS_OP_CLOSE);
	assert_int_equal(ev.len, 8);
	assert_memory_equal(ev.bytes, "\x03\xe8" "Ciao!!", 8);
	assert_int_equal(ws_frame_close_code(ev.bytes, ev.len, &code), 0);
	assert_int_equal(code, 1000);
}

/* ------------------------------------------------------------------ */
/* masking */

static void test_ws_frame__mask(void **state)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	static const uint64_t offsets[] = { 0, 1, 2, 3, 4, 5, 7,
					    0x100000001ull,
					    UINT64_MAX - 2 };
	unsigned char *data = payload_of(300, 9), *one, *two;
	unsigned char hello[] = "Hello";
	size_t k, o;

	(void)state;
	/* RFC 6455 5.7 */
	ws_frame_mask(hello, 5, key, 0);
	assert_memory_equal(hello, "\x7f\x9f\x4d\x51\x58", 5);
	ws_frame_mask(hello, 5, key, 0);
	assert_memory_equal(hello, "Hello", 5);
	/* byte i goes with key[(offset + i) % 4] */
	memcpy(hello, "\0\0\0\0\0", 5);
	ws_frame_mask(hello, 5, key, 2);
	assert_memory_equal(hello, "\x21\x3d\x37\xfa\x21", 5);
	/* nothing to do */
	ws_frame_mask(NULL, 0, key, 3);

	one = malloc(300);
	two = malloc(300);
	assert_non_null(one);
	assert_non_null(two);
	for (o = 0; o < NELEM(offsets); o++) {
		memcpy(one, data, 300);
		ws_frame_mask(one, 300, key, offsets[o]);
		for (k = 0; k < 300; k++)
			assert_int_equal(one[k],
					 data[k] ^ key[(offsets[o] + k) & 3]);
		/* two pieces, at every cut, are one */
		for (k = 0; k <= 300; k++) {
			memcpy(two, data, 300);
			ws_frame_mask(two, k, key, offsets[o]);
			ws_frame_mask(two + k, 300 - k, key, offsets[o] + k);
			assert_memory_equal(one, two, 300);
		}
		/* and masking again unmasks */
		ws_frame_mask(one, 300, key, offsets[o]);
		assert_memory_equal(one, data, 300);
	}
	free(one);
	free(two);
	free(data);
}


/* The opening handshake: RFC 6455's sample key and accept value, and
 * what a client takes as the server's 101. */
static void test_ws_frame__handshake(void **state)
{
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
	static const char *const good[] = {
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 101 x\r\nupgrade:WebSocket\r\n"
		"sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\r\n",
	};
	static const struct {
		const char *head;
		int status;
	} bad[] = {
		{ "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 401 },
		{ "HTTP/1.1 101 x\r\nUpgrade: websocket\r\n"
		  "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
		  101 },
		{ "HTTP/1.1 101 x\r\nUpgrade: h2c\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		  101 },
		{ "HTTP/1.1 101 x\r\nUpgrade: websocket\r\n\r\n", 101 },
		{ "HTTP/1.0 101 x\r\n\r\n", 0 },
		{ "HTTP/1.1 1x1 x\r\n\r\n", 0 },
		{ "", 0 },
	};
	char out[32];
	size_t i;
	int status;

	(void)state;
	assert_int_equal(ws_frame_accept_key(key, strlen(key), out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(ws_frame_check_101(good[i], strlen(good[i]),
						    key, &status), 0);
		assert_int_equal(status, 101);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ws_frame_check_101(bad[i].head,
						    strlen(bad[i].head), key,
						    &status), -1);
		assert_int_equal(status, bad[i].status);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ws_frame__header_bytes),
		cmocka_unit_test(test_ws_frame__rfc_examples),
		cmocka_unit_test(test_ws_frame__round_trip),
		cmocka_unit_test(test_ws_frame__split_short_streams),
		cmocka_unit_test(test_ws_frame__split_long_frames),
		cmocka_unit_test(test_ws_frame__back_to_back),
		cmocka_unit_test(test_ws_frame__partial),
		cmocka_unit_test(test_ws_frame__huge_lengths),
		cmocka_unit_test(test_ws_frame__fragmented),
		cmocka_unit_test(test_ws_frame__protocol_errors),
		cmocka_unit_test(test_ws_frame__reserved_opcodes),
		cmocka_unit_test(test_ws_frame__close_code),
		cmocka_unit_test(test_ws_frame__close_frame),
		cmocka_unit_test(test_ws_frame__mask),
		cmocka_unit_test(test_ws_frame__handshake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
