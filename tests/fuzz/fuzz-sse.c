/*
 * fuzz-sse.c - libFuzzer target for the Server-Sent Events parser
 * (shared/sse-parse.c), which reads LLM upstreams in aid, aid's streams
 * in chatd and the gateway's in chatctl and chatui.
 *
 * Input: a byte for the ceiling (0: the default 1 MiB, else 8 to 2 KiB,
 * so that CHAT_ETOOBIG is reached), a byte for the event at which the
 * callback stops the parser (0 or >= 32: never), two bytes for a cut
 * point, then the stream.
 *
 * The stream is parsed three times: in one feed, in two feeds cut at the
 * chosen point, and one byte per feed.  Bytes arrive from a socket split
 * anywhere, so the three must give the same events and comments in the
 * same order, the same result and, unless it failed, the same "cut
 * mid-event" answer.
 * Every event also keeps the header's promises: data NUL-terminated at
 * data_len and within the ceiling, an id shorter than 256 bytes, and
 * valid UTF-8 everywhere when the stream was.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "sse-parse.h"
#include "utf8.h"

#include "fuzz.h"

#define STOP_RC 7			/* what the callback stops with */

struct run {
	struct buf log;			/* events and comments, serialised */
	size_t max_event;
	unsigned stop_at;		/* 1-based event; 0 never */
	unsigned events;
	bool utf8;			/* the stream is valid UTF-8 */
};

static void log_field(struct run *r, char tag, const char *s, size_t n)
{
	FUZZ_CHECK(buf_append(&r->log, &tag, 1) == 0);
	FUZZ_CHECK(buf_append(&r->log, &n, sizeof(n)) == 0);
	FUZZ_CHECK(buf_append(&r->log, s, n) == 0);
}

static int on_event(void *arg, const struct sse_event *ev)
{
	struct run *r = arg;

	/* (an event: value may start with a NUL, so ev->event may read
	 * as "": the struct has no length for it) */
	FUZZ_CHECK(ev->event && ev->data && ev->id);
	FUZZ_CHECK(ev->data[ev->data_len] == '\0');
	FUZZ_CHECK(ev->data_len <= r->max_event);
	FUZZ_CHECK(strlen(ev->id) < 256);
	FUZZ_CHECK(ev->retry >= -1);
	if (r->utf8) {
		FUZZ_CHECK(utf8_valid(ev->data, ev->data_len));
		FUZZ_CHECK(utf8_valid(ev->event, strlen(ev->event)));
		FUZZ_CHECK(utf8_valid(ev->id, strlen(ev->id)));
	}
	log_field(r, 'e', ev->event, strlen(ev->event));
	log_field(r, 'd', ev->data, ev->data_len);
	log_field(r, 'i', ev->id, strlen(ev->id));
	log_field(r, 'r', (const char *)&ev->retry, sizeof(ev->retry));
	return ++r->events == r->stop_at ? STOP_RC : 0;
}

static void on_comment(void *arg, const char *text, size_t len)
{
	struct run *r = arg;

	if (r->utf8)
		FUZZ_CHECK(utf8_valid(text, len));
	log_field(r, 'c', text, len);
}

/* Parses s in pieces: cut1 and cut2 bytes first (0: none), then one
 * byte per feed when bytewise, else the rest at once.  The last feed's
 * result (a failure sticks) and the pending answer go into the log. */
static void parse(struct run *r, const char *s, size_t n, size_t cut,
		  bool bytewise)
{
	struct sse_parser p;
	size_t at = 0, step;
	int rc = 0, pending;

	sse_parse_init(&p, r->max_event, on_event, on_comment, r);
	if (cut) {
		rc = sse_parse_feed(&p, s, cut);
		at = cut;
	}
	while (at < n) {
		step = bytewise ? 1 : n - at;
		rc = sse_parse_feed(&p, s + at, step);
		at += step;
	}
	FUZZ_CHECK(rc == 0 || rc == STOP_RC || rc == CHAT_ETOOBIG);
	/* a failed parser answers the same to any later feed */
	if (rc != 0)
		FUZZ_CHECK(sse_parse_feed(&p, "data: x\n\n", 9) == rc);
	log_field(r, 'R', (const char *)&rc, sizeof(rc));
	/* after a failure the caller has its error: what was pending then
	 * depends on where the feeds ended, and nobody asks */
	if (rc == 0) {
		pending = sse_parse_pending(&p);
		log_field(r, 'P', (const char *)&pending, sizeof(pending));
	}
	sse_parse_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct run runs[3];
	uint8_t max = fuzz_byte(&in), stop = fuzz_byte(&in);
	size_t cut = fuzz_u16(&in), i;
	const char *s;

	s = (const char *)in.p;
	cut = in.n ? cut % (in.n + 1) : 0;
	for (i = 0; i < 3; i++) {
		memset(&runs[i], 0, sizeof(runs[i]));
		buf_init(&runs[i].log, (size_t)1 << 30);
		runs[i].max_event = max ? 8 + (size_t)max * 8 : 1u << 20;
		runs[i].stop_at = stop < 32 ? stop : 0;
		runs[i].utf8 = utf8_valid(s, in.n);
	}
	parse(&runs[0], s, in.n, 0, false);
	parse(&runs[1], s, in.n, cut, false);
	parse(&runs[2], s, in.n, 0, true);
	for (i = 1; i < 3; i++) {
		FUZZ_CHECK(runs[i].log.len == runs[0].log.len);
		FUZZ_CHECK(runs[0].log.len == 0 ||
			   memcmp(runs[i].log.data, runs[0].log.data,
				  runs[0].log.len) == 0);
	}
	for (i = 0; i < 3; i++)
		buf_release(&runs[i].log);
	return 0;
}
