/*
 * fuzz-ws-frame.c - libFuzzer target for the WebSocket frame codec
 * (shared/ws-frame.c): the input is what a peer sends on an upgraded
 * connection, after two bytes of parameters.
 *
 * The first byte's bit 0 says whether frames must be masked (a server's
 * parser) and seeds the piece sizes; the second picks a split point.
 * The frames are parsed whole, cut in two, byte by byte and in pieces of
 * pseudo-random sizes, each piece a copy of exactly its bytes (the
 * parser unmasks in place, and ASan sees any read past them); every way
 * must give the same frames (opcode, message opcode, fin, payload) and
 * the same error.  Every call keeps the contract in ws-frame.h: it
 * consumes at most what it was given, all of it when it has no event,
 * and its payload lies inside what it consumed; the frames obey RFC
 * 6455 (control frames short and whole, continuations only inside a
 * message, no new message inside one).  A reference decoder, RFC 6455
 * section 5.2 read plainly over the whole input, must find the same
 * frames, payloads and refusal: it catches what the parser would let
 * through the same way however the bytes come (a reserved bit, a length
 * not in its shortest form).
 *
 * Then the same bytes, read as a list of frames to send (opcode, fin,
 * length form; bit 1 of the first byte: masked, with keys of their
 * own), are written with ws_frame_header and ws_frame_mask and must
 * parse back exactly, in pieces, and be refused by a parser that wants
 * the other masking.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws-frame.h"

#include "fuzz.h"

struct frame {
	int opcode, message_opcode;
	bool fin;
	size_t len;		/* its payload: the next len bytes of data */
};

/* What a parse gave: its frames, their payloads end to end. */
struct trace {
	struct frame *f;
	size_t n, cap;
	unsigned char *data;
	size_t dlen, dcap;
	long err;		/* 0, or the refusal */
	bool open;		/* the last frame's payload not ended */
	bool boundary;		/* ended between frames, no header read */
	bool in_message;	/* the parser's, at the end */
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static void trace_init(struct trace *t, size_t nbytes)
{
	memset(t, 0, sizeof(*t));
	t->dcap = nbytes;	/* payloads are never longer than the input */
	t->data = xmalloc(t->dcap);
}

/* Room for one more frame. */
static void trace_grow(struct trace *t)
{
	if (t->n < t->cap)
		return;
	t->cap = t->cap ? 2 * t->cap : 16;
	t->f = realloc(t->f, t->cap * sizeof(*t->f));
	if (!t->f)
		abort();
}

static void trace_free(struct trace *t)
{
	free(t->f);
	free(t->data);
}

/* xorshift32 */
static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* One piece (copied to a block of its own), event by event, into t;
 * false once the parser refused. */
static bool feed_piece(struct ws_frame_parser *p, const uint8_t *src,
		       size_t n, struct trace *t)
{
	unsigned char *buf = xmalloc(n);
	size_t off = 0;

	if (n)
		memcpy(buf, src, n);
	do {
		struct ws_frame_event ev;
		struct frame *f;
		long rc;

		rc = ws_frame_feed(p, buf + off, n - off, &ev);
		if (rc < 0) {
			FUZZ_CHECK(rc == -1002);
			t->err = rc;
			free(buf);
			return false;
		}
		FUZZ_CHECK((size_t)rc <= n - off);
		if (!ev.data) {
			/* more bytes needed: it took all it had */
			FUZZ_CHECK((size_t)rc == n - off);
			FUZZ_CHECK(!ev.end && ev.len == 0);
			break;
		}
		FUZZ_CHECK(rc > 0 || ev.len == 0);
		FUZZ_CHECK(ev.len <= n - off);
		FUZZ_CHECK(ev.bytes >= buf + off &&
			   ev.bytes + ev.len <= buf + off + (size_t)rc);
		/* the first piece of a frame, and only it, says so */
		FUZZ_CHECK(ev.start == !t->open);
		if (!t->open) {
			trace_grow(t);
			f = &t->f[t->n];
			f->opcode = ev.opcode;
			f->message_opcode = ev.opcode >= 0x8 ? 0 :
					    ev.message_opcode;
			f->fin = ev.fin;
			f->len = 0;
			t->open = true;
		} else {
			f = &t->f[t->n];
			FUZZ_CHECK(f->opcode == ev.opcode && f->fin == ev.fin);
			FUZZ_CHECK(ev.opcode >= 0x8 ||
				   f->message_opcode == ev.message_opcode);
		}
		FUZZ_CHECK(t->dlen + ev.len <= t->dcap);
		if (ev.len)
			memcpy(t->data + t->dlen, ev.bytes, ev.len);
		t->dlen += ev.len;
		f->len += ev.len;
		if (ev.end) {
			t->open = false;
			t->n++;
			/* the parser's message state follows the frames */
			if (ev.opcode < 0x8)
				FUZZ_CHECK(p->in_message == !ev.fin);
		}
		off += (size_t)rc;
	} while (off < n);
	free(buf);
	return true;
}

/* d[0..n) in the pieces that cuts (increasing) make. */
static void parse(const uint8_t *d, size_t n, bool masked_in,
		  const size_t *cuts, size_t ncuts, struct trace *t)
{
	struct ws_frame_parser p;
	size_t at = 0, i;

	memset(&p, 0, sizeof(p));
	p.masked_in = masked_in;
	trace_init(t, n);
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		FUZZ_CHECK(end >= at && end <= n);
		if (!feed_piece(&p, d + at, end - at, t))
			break;
		at = end;
	}
	t->in_message = p.in_message;
	/* hlen is the header read so far (until its payload ends) */
	t->boundary = !t->err && !t->open && p.hlen == 0;
}

/* What RFC 6455 allows of a sequence of frames. */
static void check_frames(const struct trace *t)
{
	bool in_message = false;
	int message_opcode = 0;
	size_t i, total = 0;

	for (i = 0; i < t->n + (t->open ? 1 : 0); i++) {
		const struct frame *f = &t->f[i];

		total += f->len;
		switch (f->opcode) {
		case WS_OP_CLOSE:
		case WS_OP_PING:
		case WS_OP_PONG:
			FUZZ_CHECK(f->fin && f->len <= WS_CONTROL_MAX);
			break;
		case WS_OP_CONT:
			FUZZ_CHECK(in_message);
			FUZZ_CHECK(f->message_opcode == message_opcode);
			in_message = !f->fin;
			break;
		case WS_OP_TEXT:
		case WS_OP_BINARY:
			FUZZ_CHECK(!in_message);
			FUZZ_CHECK(f->message_opcode == f->opcode);
			message_opcode = f->opcode;
			in_message = !f->fin;
			break;
		default:
			FUZZ_CHECK(!"a reserved opcode got through");
		}
	}
	FUZZ_CHECK(total == t->dlen);
	if (t->boundary || t->open)
		FUZZ_CHECK(t->in_message == in_message);
}

static void check_same(const struct trace *a, const struct trace *b)
{
	size_t i;

	FUZZ_CHECK(a->err == b->err);
	FUZZ_CHECK(a->n == b->n && a->open == b->open);
	FUZZ_CHECK(a->boundary == b->boundary);
	FUZZ_CHECK(a->in_message == b->in_message);
	for (i = 0; i < a->n + (a->open ? 1 : 0); i++) {
		FUZZ_CHECK(a->f[i].opcode == b->f[i].opcode);
		FUZZ_CHECK(a->f[i].message_opcode == b->f[i].message_opcode);
		FUZZ_CHECK(a->f[i].fin == b->f[i].fin);
		FUZZ_CHECK(a->f[i].len == b->f[i].len);
	}
	FUZZ_CHECK(a->dlen == b->dlen);
	FUZZ_CHECK(memcmp(a->data, b->data, a->dlen) == 0);
}

/* At most cap increasing cuts of pseudo-random sizes, at most max
 * apart (the last piece takes the rest). */
static size_t random_cuts(size_t n, uint32_t *x, size_t max, size_t *cuts,
			  size_t cap)
{
	size_t k = 0, at = 0;

	while (k < cap) {
		at += 1 + next_rand(x) % max;
		if (at >= n)
			break;
		cuts[k++] = at;
	}
	return k;
}

/* ------------------------------------------------------------------ */
/* a reference: RFC 6455 section 5.2 read plainly, the whole input at
 * once, to catch what the parser lets through consistently */

/* The frames of d[0..n) into t.  Returns true when an error was found
 * from a header that the input cuts short, which the parser may only
 * see once the header is whole. */
static bool ref_parse(const uint8_t *d, size_t n, bool masked_in,
		      struct trace *t)
{
	bool in_message = false;
	int message_opcode = 0;
	size_t at = 0;

	trace_init(t, n);
	while (n - at >= 2) {
		uint8_t b0 = d[at], b1 = d[at + 1];
		int op = b0 & 0x0f;
		bool fin = b0 & 0x80, masked = b1 & 0x80;
		unsigned len7 = b1 & 0x7f;
		size_t hl = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
			    (masked ? 4 : 0);
		uint64_t len = len7;
		size_t avail, k;
		struct frame *f;

		if ((b0 & 0x70) || masked != masked_in)
			goto refused;
		if (op >= 0x8) {
			if (op > 0xa || !fin || len7 > WS_CONTROL_MAX)
				goto refused;
		} else if (op == WS_OP_CONT) {
			if (!in_message)
				goto refused;
			in_message = !fin;
		} else if (op == WS_OP_TEXT || op == WS_OP_BINARY) {
			if (in_message)
				goto refused;
			message_opcode = op;
			in_message = !fin;
		} else {
			goto refused;
		}
		/* the extended length, as far as it goes */
		if (len7 >= 126) {
			size_t lb = len7 == 126 ? 2 : 8;

			if (n - at - 2 < lb)
				goto short_header;
			len = 0;
			for (k = 0; k < lb; k++)
				len = len << 8 | d[at + 2 + k];
			if ((len7 == 126 && len < 126) ||
			    (len7 == 127 && (len <= 0xffff || len >> 63))) {
				if (n - at < hl) {
					t->err = -1002;
					t->in_message = in_message;
					return true;
				}
				goto refused;
			}
		}
		if (n - at < hl)
			goto short_header;
		at += hl;
		avail = n - at;
		if (len > 0 && avail == 0)
			break;		/* no piece yet: no event */
		if ((uint64_t)avail > len)
			avail = (size_t)len;
		trace_grow(t);
		f = &t->f[t->n];
		f->opcode = op;
		f->message_opcode = op >= 0x8 ? 0 : message_opcode;
		f->fin = fin;
		f->len = avail;
		for (k = 0; k < avail; k++)
			t->data[t->dlen + k] = (uint8_t)(d[at + k] ^
				(masked ? d[at - 4 + (k & 3)] : 0));
		t->dlen += avail;
		at += avail;
		if ((uint64_t)avail < len) {
			t->open = true;
			break;
		}
		t->n++;
	}
	t->in_message = in_message;
	return false;
short_header:
	t->in_message = in_message;
	return false;
refused:
	t->err = -1002;
	t->in_message = in_message;
	return false;
}

/* The parser's whole-input trace against the reference's. */
static void check_ref(const struct trace *got, const struct trace *ref,
		      bool ref_early)
{
	size_t i;

	if (ref_early && got->err == 0) {
		/* refused by the reference from a partial header that the
		 * parser is still reading: the frames before it agree */
		FUZZ_CHECK(!got->open && got->n == ref->n);
	} else {
		FUZZ_CHECK(got->err == ref->err);
		FUZZ_CHECK(got->n == ref->n && got->open == ref->open);
	}
	for (i = 0; i < ref->n + (ref->open ? 1 : 0); i++) {
		FUZZ_CHECK(got->f[i].opcode == ref->f[i].opcode);
		FUZZ_CHECK(got->f[i].message_opcode ==
			   ref->f[i].message_opcode);
		FUZZ_CHECK(got->f[i].fin == ref->f[i].fin);
		FUZZ_CHECK(got->f[i].len == ref->f[i].len);
	}
	FUZZ_CHECK(got->dlen == ref->dlen);
	FUZZ_CHECK(memcmp(got->data, ref->data, ref->dlen) == 0);
}

/* ------------------------------------------------------------------ */
/* round trip: frames written from the input's wishes parse back */

#define RT_MAX_FRAMES 24
#define RT_MAX_BIG 1		/* frames past 64 KiB, which are slow */
#define RT_MAX_TOTAL (128 * 1024)	/* payload bytes in all */
#define RT_MAX_CUTS 1024

static void round_trip(const uint8_t *d, size_t n, uint8_t flags)
{
	static const size_t edges[] = { 0, 1, 125, 126, 127, 65535, 65536 };
	struct fuzz_in in = { d, n };
	bool masked = flags & 2, in_message = false;
	int message_opcode = 0;
	struct frame want[RT_MAX_FRAMES];
	size_t nwant = 0, big = 0, total = 0, i, ncuts;
	unsigned char *out, *payloads, *pp;
	size_t *cuts, at = 0;
	struct trace t;
	uint32_t x = 0x2545f491u ^ (uint32_t)n ^ ((uint32_t)flags << 8);

	/* what to send */
	while (in.n && nwant < RT_MAX_FRAMES) {
		uint8_t c = fuzz_byte(&in);
		struct frame *f = &want[nwant];

		if ((c & 3) == 0) {
			static const int ctl[] = { WS_OP_CLOSE, WS_OP_PING,
						   WS_OP_PONG, WS_OP_PING };

			f->opcode = ctl[(c >> 2) & 3];
			f->fin = true;
			f->len = fuzz_byte(&in) % (WS_CONTROL_MAX + 1);
			f->message_opcode = 0;
		} else {
			f->opcode = in_message ? WS_OP_CONT :
				    (c & 4) ? WS_OP_BINARY : WS_OP_TEXT;
			f->fin = c & 8;
			switch ((c >> 4) & 3) {
			case 0:
				f->len = fuzz_byte(&in) % 126;
				break;
			case 1:
				f->len = 126 + fuzz_u16(&in) % 4096;
				break;
			case 2:
				f->len = edges[fuzz_byte(&in) % 7];
				if (f->len > 0xffff && big++ >= RT_MAX_BIG)
					f->len = 125;
				break;
			default:
				/* a 64-bit length now and then */
				f->len = fuzz_u16(&in);
				if (big < RT_MAX_BIG) {
					f->len = 65536 + f->len % 4096;
					big++;
				}
				break;
			}
			if (!in_message)
				message_opcode = f->opcode;
			f->message_opcode = message_opcode;
			in_message = !f->fin;
		}
		if (total + f->len > RT_MAX_TOTAL)
			f->len %= 126;
		total += f->len;
		nwant++;
	}

	/* the payloads: the input's bytes over and over (memcpy: a loop
	 * byte by byte would cost more than the codec under test) */
	payloads = xmalloc(total);
	if (n)
		for (i = 0; i < total; i += n)
			memcpy(payloads + i, d, total - i < n ? total - i : n);
	else
		memset(payloads, 0x5a, total);

	/* written with the header writer, masked with keys of their own */
	out = xmalloc(total + nwant * WS_FRAME_MAX_HEADER);
	pp = payloads;
	for (i = 0; i < nwant; i++) {
		unsigned char key[4];
		size_t hl, k;

		for (k = 0; k < 4; k++)
			key[k] = (unsigned char)next_rand(&x);
		hl = ws_frame_header(out + at, want[i].opcode, want[i].fin,
				     want[i].len, masked ? key : NULL);
		FUZZ_CHECK(hl == 2 + (want[i].len < 126 ? 0 :
				      want[i].len <= 0xffff ? 2 : 8) +
				   (masked ? 4 : 0));
		FUZZ_CHECK((out[at] & 0x0f) == want[i].opcode);
		FUZZ_CHECK(!!(out[at] & 0x80) == want[i].fin);
		FUZZ_CHECK((out[at] & 0x70) == 0);
		FUZZ_CHECK(!!(out[at + 1] & 0x80) == masked);
		at += hl;
		memcpy(out + at, pp, want[i].len);
		if (masked) {
			/* in two pieces, as a sender writing as it goes */
			size_t cut = want[i].len ? next_rand(&x) %
						   (want[i].len + 1) : 0;

			ws_frame_mask(out + at, cut, key, 0);
			ws_frame_mask(out + at + cut, want[i].len - cut, key,
				      cut);
		}
		at += want[i].len;
		pp += want[i].len;
	}

	/* parsed back in pieces */
	cuts = xmalloc(RT_MAX_CUTS * sizeof(*cuts));
	ncuts = random_cuts(at, &x, 1 + (flags >> 2) * 61 + at / 64, cuts,
			    RT_MAX_CUTS);
	parse(out, at, masked, cuts, ncuts, &t);
	FUZZ_CHECK(t.err == 0);
	FUZZ_CHECK(!t.open);
	FUZZ_CHECK(t.n == nwant);
	for (i = 0; i < nwant; i++) {
		FUZZ_CHECK(t.f[i].opcode == want[i].opcode);
		FUZZ_CHECK(t.f[i].fin == want[i].fin);
		FUZZ_CHECK(t.f[i].len == want[i].len);
		if (want[i].opcode < 0x8)
			FUZZ_CHECK(t.f[i].message_opcode ==
				   want[i].message_opcode);
	}
	FUZZ_CHECK(t.dlen == total);
	FUZZ_CHECK(memcmp(t.data, payloads, total) == 0);
	FUZZ_CHECK(t.in_message == in_message);
	check_frames(&t);
	/* and the other side refuses them */
	if (nwant) {
		struct trace other;

		parse(out, at, !masked, NULL, 0, &other);
		FUZZ_CHECK(other.err == -1002 && other.n == 0);
		trace_free(&other);
	}
	trace_free(&t);
	free(cuts);
	free(out);
	free(payloads);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t flags = fuzz_byte(&in), split = fuzz_byte(&in);
	bool masked_in = flags & 1;
	const uint8_t *p = in.p;
	size_t n = in.n, k, i, ncuts;
	struct trace whole, other;
	size_t *cuts = xmalloc((n + 1) * sizeof(*cuts));
	uint32_t x = 0x9e3779b9u ^ flags ^ ((uint32_t)n << 8);

	/* the same bytes as a server's answer to a client's upgrade */
	{
		int status;

		if (ws_frame_check_101((const char *)p, n,
				       "dGhlIHNhbXBsZSBub25jZQ==", &status) == 0)
			FUZZ_CHECK(status == 101);
		else
			FUZZ_CHECK(status >= 0 && status <= 999);
	}
	parse(p, n, masked_in, NULL, 0, &whole);
	check_frames(&whole);
	{
		struct trace ref;
		bool early = ref_parse(p, n, masked_in, &ref);

		check_ref(&whole, &ref, early);
		trace_free(&ref);
	}

	/* cut where the second byte says, over the whole length */
	k = n <= 255 ? (split <= n ? split : split % (n + 1)) :
	    (size_t)split * n / 255;
	cuts[0] = k;
	parse(p, n, masked_in, cuts, 1, &other);
	check_same(&whole, &other);
	trace_free(&other);

	/* byte by byte */
	if (n <= 65536) {
		for (i = 0; i + 1 < n; i++)
			cuts[i] = i + 1;
		parse(p, n, masked_in, cuts, n ? n - 1 : 0, &other);
		check_same(&whole, &other);
		trace_free(&other);
	}

	/* pieces of pseudo-random sizes */
	ncuts = random_cuts(n, &x, 1 + (flags >> 1) % 32, cuts, n);
	parse(p, n, masked_in, cuts, ncuts, &other);
	check_same(&whole, &other);
	trace_free(&other);

	trace_free(&whole);
	free(cuts);

	round_trip(p, n, flags);
	return 0;
}
