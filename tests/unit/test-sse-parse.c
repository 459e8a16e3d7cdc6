/* test-sse-parse.c - the incremental Server-Sent Events parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "sse-parse.h"

/* What the callbacks saw, one line per event or comment:
 *   E<event>|<id>|<retry>|<data with \n shown as \\n>
 *   C<comment text> */
struct rec {
	struct buf log;
	int events;
	int stop_at;		/* return stop_rc on this event (1-based) */
	int stop_rc;
};

static void rec_escaped(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			buf_puts(b, "\\n");
		else if (s[i] == '\r')
			buf_puts(b, "\\r");
		else if (s[i] == '\0')
			buf_puts(b, "\\0");
		else
			buf_append(b, &s[i], 1);
	}
}

static int rec_event(void *arg, const struct sse_event *ev)
{
	struct rec *r = arg;

	r->events++;
	/* the data must be NUL-terminated at data_len */
	assert_int_equal(ev->data[ev->data_len], '\0');
	buf_printf(&r->log, "E%s|%s|%ld|", ev->event, ev->id, ev->retry);
	rec_escaped(&r->log, ev->data, ev->data_len);
	buf_puts(&r->log, "\n");
	if (r->stop_at && r->events == r->stop_at)
		return r->stop_rc;
	return 0;
}

static void rec_comment(void *arg, const char *text, size_t len)
{
	struct rec *r = arg;

	buf_puts(&r->log, "C");
	rec_escaped(&r->log, text, len);
	buf_puts(&r->log, "\n");
}

static void rec_init(struct rec *r, struct sse_parser *p, size_t max)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->log, 1 << 20);
	buf_puts(&r->log, "");
	sse_parse_init(p, max, rec_event, rec_comment, r);
}

static void rec_release(struct rec *r, struct sse_parser *p)
{
	sse_parse_release(p);
	buf_release(&r->log);
}

/* Feeds s in pieces cut at the given offsets (sorted, in 0..len). */
static int feed_cuts(struct sse_parser *p, const char *s, size_t len,
		     const size_t *cuts, size_t ncuts)
{
	size_t at = 0, k;
	int rc;

	for (k = 0; k < ncuts; k++) {
		rc = sse_parse_feed(p, s + at, cuts[k] - at);
		if (rc != 0)
			return rc;
		at = cuts[k];
	}
	return sse_parse_feed(p, s + at, len - at);
}

/* The whole log of a stream fed whole. */
static void parse_whole(const char *s, size_t len, size_t max, int want_rc,
			const char *want_log)
{
	struct sse_parser p;
	struct rec r;

	rec_init(&r, &p, max);
	assert_int_equal(sse_parse_feed(&p, s, len), want_rc);
	assert_string_equal(r.log.data, want_log);
	rec_release(&r, &p);
}

/* ---- a sample stream, cut every possible way ---- */

/* Everything at once: a BOM, every line end, CRLFs, comments, multi-line
 * data, both "data:x" forms, event names, ids, retry, a field without a
 * colon, an unknown field, an event without data, a NUL in the data. */
static const char sample[] =
	"\xEF\xBB\xBF"
	": hello\r\n"
	"event: start\r\n"
	"data: {\"a\":1}\r\n"
	"\r\n"
	"id: 7\n"
	"data:x\n"
	"data: y\n"
	"data:  z\n"
	"\n"
	":\r"
	"event: lonely\r"
	"\r"
	"data\r"
	"retry: 1500\r"
	"\r"
	"unknown: field\n"
	"id\r\n"
	"event: done\r\n"
	"data: [DONE]\r\n"
	"data: a\0b\r\n"
	"\r\n";

static const char sample_log[] =
	"Chello\n"
	"Estart||-1|{\"a\":1}\n"
	"Emessage|7|-1|x\\ny\\n z\n"
	"C\n"
	"Emessage|7|1500|\n"
	"Edone||1500|[DONE]\\na\\0b\n";

static void check_cut(const size_t *cuts, size_t ncuts)
{
	struct sse_parser p;
	struct rec r;
	size_t len = sizeof(sample) - 1;
	int rc;

	rec_init(&r, &p, 0);
	rc = feed_cuts(&p, sample, len, cuts, ncuts);
	if (rc != 0 || strcmp(r.log.data, sample_log) != 0) {
		char where[64] = "";
		size_t k;

		for (k = 0; k < ncuts && k < 4; k++)
			snprintf(where + strlen(where),
				 sizeof(where) - strlen(where), " %zu",
				 cuts[k]);
		fail_msg("cut at%s: rc %d, log:\n%s", where, rc, r.log.data);
	}
	assert_false(sse_parse_pending(&p));
	rec_release(&r, &p);
}

static void test_sse_parse__sample_whole(void **state)
{
	(void)state;
	check_cut(NULL, 0);
}

static void test_sse_parse__sample_byte_by_byte(void **state)
{
	size_t cuts[sizeof(sample)];
	size_t i, len = sizeof(sample) - 1;

	(void)state;
	for (i = 0; i < len; i++)
		cuts[i] = i;
	check_cut(cuts, len);
}

static void test_sse_parse__sample_every_split(void **state)
{
	size_t len = sizeof(sample) - 1, a, b;
	size_t cuts[2];

	(void)state;
	for (a = 0; a <= len; a++) {
		cuts[0] = a;
		check_cut(cuts, 1);
	}
	/* every pair of cuts too: a line can be cut twice */
	for (a = 0; a <= len; a++) {
		for (b = a; b <= len; b++) {
			cuts[0] = a;
			cuts[1] = b;
			check_cut(cuts, 2);
		}
	}
}

/* ---- line ends ---- */

struct parse_case {
	const char *name;
	const char *in;
	size_t len;		/* of in, which may hold a NUL */
	const char *want;
};

/* An input literal and its length, NULs included. */
#define IN(s) s, sizeof(s) - 1

static const struct parse_case line_end_cases[] = {
	{ "LF", IN("data: a\n\ndata: b\n\n"),
	  "Emessage||-1|a\nEmessage||-1|b\n" },
	{ "CR", IN("data: a\r\rdata: b\r\r"),
	  "Emessage||-1|a\nEmessage||-1|b\n" },
	{ "CRLF", IN("data: a\r\n\r\ndata: b\r\n\r\n"),
	  "Emessage||-1|a\nEmessage||-1|b\n" },
	{ "CRLF lines join", IN("data: a\r\ndata: b\r\n\r\n"),
	  "Emessage||-1|a\\nb\n" },
	{ "LF CR is two ends", IN("data: a\n\r"), "Emessage||-1|a\n" },
	{ "CR CR LF is two ends", IN("data: a\r\r\n"), "Emessage||-1|a\n" },
	{ "mixed", IN("data: a\rdata: b\ndata: c\r\n\n"),
	  "Emessage||-1|a\\nb\\nc\n" },
	{ "no end: nothing", IN("data: a\n"), "" },
};

static void test_sse_parse__line_ends(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(line_end_cases) / sizeof(line_end_cases[0]);
	     i++) {
		const struct parse_case *c = &line_end_cases[i];
		struct sse_parser p;
		struct rec r;

		rec_init(&r, &p, 0);
		assert_int_equal(sse_parse_feed(&p, c->in, c->len), 0);
		if (strcmp(r.log.data, c->want) != 0)
			fail_msg("case '%s': got '%s'", c->name, r.log.data);
		rec_release(&r, &p);
	}
}

/* The LF of a CRLF in the next feed is not an empty line: else "a" would
 * be dispatched alone and "b" after it. */
static void test_sse_parse__crlf_split_between_feeds(void **state)
{
	static const char *const pieces[] = {
		"data: a\r", "\ndata: b\r", "\n", "\r", "\n",
	};
	struct sse_parser p;
	struct rec r;
	size_t i;

	(void)state;
	rec_init(&r, &p, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(sse_parse_feed(&p, pieces[i],
						strlen(pieces[i])), 0);
	assert_int_equal(r.events, 0);
	assert_int_equal(sse_parse_feed(&p, pieces[3], 1), 0);
	assert_string_equal(r.log.data, "Emessage||-1|a\\nb\n");
	/* the LF after that CR is its pair, not a second empty line */
	assert_int_equal(sse_parse_feed(&p, pieces[4], 1), 0);
	assert_int_equal(sse_parse_feed(&p, "data: c\n", 8), 0);
	assert_int_equal(sse_parse_feed(&p, "\n", 1), 0);
	assert_string_equal(r.log.data,
			    "Emessage||-1|a\\nb\nEmessage||-1|c\n");
	/* an empty feed between CR and LF changes nothing */
	assert_int_equal(sse_parse_feed(&p, "data: d\r\r", 9), 0);
	assert_int_equal(sse_parse_feed(&p, "", 0), 0);
	assert_int_equal(sse_parse_feed(&p, "\ndata: e\n\n", 10), 0);
	assert_string_equal(r.log.data,
			    "Emessage||-1|a\\nb\nEmessage||-1|c\n"
			    "Emessage||-1|d\nEmessage||-1|e\n");
	rec_release(&r, &p);
}

/* ---- fields ---- */

static const struct parse_case field_cases[] = {
	{ "comments reported, never dispatched",
	  IN(": keep-alive\n:\n::x\n:  two\n\n"),
	  "Ckeep-alive\nC\nC:x\nC two\n" },
	{ "comment inside an event", IN("data: a\n: ping\ndata: b\n\n"),
	  "Cping\nEmessage||-1|a\\nb\n" },
	{ "multi-line data", IN("data: a\ndata:\ndata: c\n\n"),
	  "Emessage||-1|a\\n\\nc\n" },
	{ "data:x without space", IN("data:x\n\n"), "Emessage||-1|x\n" },
	{ "data: x one space dropped", IN("data: x\n\n"),
	  "Emessage||-1|x\n" },
	{ "data:  x second space kept", IN("data:  x\n\n"),
	  "Emessage||-1| x\n" },
	{ "colon in value", IN("data: a: b\n\n"), "Emessage||-1|a: b\n" },
	{ "data without colon is empty data", IN("data\n\n"),
	  "Emessage||-1|\n" },
	{ "empty data dispatched", IN("data:\n\n"), "Emessage||-1|\n" },
	{ "event named", IN("event: delta\ndata: x\n\n"), "Edelta||-1|x\n" },
	{ "event without data not dispatched",
	  IN("event: foo\n\ndata: x\n\n"), "Emessage||-1|x\n" },
	{ "id only not dispatched, id kept", IN("id: 5\n\ndata: x\n\n"),
	  "Emessage|5|-1|x\n" },
	{ "event name reset after dispatch",
	  IN("event: a\ndata: 1\n\ndata: 2\n\n"),
	  "Ea||-1|1\nEmessage||-1|2\n" },
	{ "last event name wins", IN("event: a\nevent: b\ndata: 1\n\n"),
	  "Eb||-1|1\n" },
	{ "empty event name is message", IN("event:\ndata: 1\n\n"),
	  "Emessage||-1|1\n" },
	{ "unknown field ignored", IN("foo: bar\ndata: 1\nDATA: 2\n\n"),
	  "Emessage||-1|1\n" },
	{ "field names are exact", IN("data : 1\n datas: 2\n\n"), "" },
	{ "id carried across events",
	  IN("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"),
	  "Emessage|1|-1|a\nEmessage|1|-1|b\nEmessage||-1|c\n" },
	{ "id with NUL ignored", IN("id: 1\n\nid: 2\0x\ndata: a\n\n"),
	  "Emessage|1|-1|a\n" },
	{ "retry kept, bad retry ignored",
	  IN("retry: 250\ndata: a\n\nretry: 1x\ndata: b\n\n"
	     "retry:\ndata: c\n\n"),
	  "Emessage||250|a\nEmessage||250|b\nEmessage||250|c\n" },
	{ "NUL in data kept", IN("data: a\0b\n\n"), "Emessage||-1|a\\0b\n" },
	{ "BOM skipped", IN("\xEF\xBB\xBF" "data: a\n\n"), "Emessage||-1|a\n" },
	{ "only one BOM skipped",
	  IN("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n"),
	  "Emessage||-1|b\n" },
	{ "half a BOM is text", IN("\xEF\xBB" "data: a\n\ndata: b\n\n"),
	  "Emessage||-1|b\n" },
	{ "BOM later is text", IN("data: a\n\n\xEF\xBB\xBF" "data: b\n\n"),
	  "Emessage||-1|a\n" },
	{ "BOM then comment", IN("\xEF\xBB\xBF: hi\n"), "Chi\n" },
};

static void test_sse_parse__fields(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
		const struct parse_case *c = &field_cases[i];
		struct sse_parser p;
		struct rec r;
		size_t len = c->len;

		rec_init(&r, &p, 0);
		assert_int_equal(sse_parse_feed(&p, c->in, len), 0);
		if (strcmp(r.log.data, c->want) != 0)
			fail_msg("case '%s': got '%s'", c->name, r.log.data);
		rec_release(&r, &p);
	}
}

/* The BOM split over feeds is still skipped, and a half BOM followed by
 * another byte in a later feed is kept as text. */
static void test_sse_parse__bom_split(void **state)
{
	struct sse_parser p;
	struct rec r;

	(void)state;
	rec_init(&r, &p, 0);
	assert_int_equal(sse_parse_feed(&p, "\xEF", 1), 0);
	assert_true(sse_parse_pending(&p));
	assert_int_equal(sse_parse_feed(&p, "\xBB", 1), 0);
	assert_int_equal(sse_parse_feed(&p, "\xBF", 1), 0);
	assert_int_equal(sse_parse_feed(&p, "data: a\n\n", 9), 0);
	assert_string_equal(r.log.data, "Emessage||-1|a\n");
	rec_release(&r, &p);

	/* "\xEF" then ":" is a line "\xEF:" — a field named "\xEF" */
	rec_init(&r, &p, 0);
	assert_int_equal(sse_parse_feed(&p, "\xEF", 1), 0);
	assert_int_equal(sse_parse_feed(&p, ": x\ndata: a\n\n", 13), 0);
	assert_string_equal(r.log.data, "Emessage||-1|a\n");
	rec_release(&r, &p);
}

static void test_sse_parse__long_id_cut(void **state)
{
	char in[600], want[600];
	struct sse_parser p;
	struct rec r;
	size_t n;

	(void)state;
	/* 254 ASCII bytes then a 3-byte character: it does not fit in the
	 * 255 kept bytes and must not be cut in half */
	memcpy(in, "id: ", 4);
	memset(in + 4, 'x', 254);
	n = 4 + 254;
	n += (size_t)snprintf(in + n, sizeof(in) - n,
			      "\xE2\x82\xACtail\ndata: a\n\n");
	rec_init(&r, &p, 0);
	assert_int_equal(sse_parse_feed(&p, in, n), 0);
	snprintf(want, sizeof(want), "Emessage|%.*s|-1|a\n", 254, in + 4);
	assert_string_equal(r.log.data, want);
	rec_release(&r, &p);
}

/* ---- ceiling, stop, pending ---- */

static void test_sse_parse__ceiling(void **state)
{
	struct sse_parser p;
	struct rec r;

	(void)state;
	/* a line over the ceiling, in one feed */
	parse_whole("data: 0123456789abcdef\n\n", 24, 16, CHAT_ETOOBIG, "");
	/* exactly the ceiling is fine */
	parse_whole("data: 0123456789\n\n", 18, 16, 0,
		    "Emessage||-1|0123456789\n");

	/* a line that never ends, fed in small pieces */
	rec_init(&r, &p, 16);
	assert_int_equal(sse_parse_feed(&p, "data: 0123", 10), 0);
	assert_int_equal(sse_parse_feed(&p, "456789", 6), 0);
	assert_int_equal(sse_parse_feed(&p, "a", 1), CHAT_ETOOBIG);
	/* failed for good, even for good input */
	assert_int_equal(sse_parse_feed(&p, "\n\ndata: b\n\n", 11),
			 CHAT_ETOOBIG);
	assert_int_equal(r.events, 0);
	rec_release(&r, &p);

	/* short lines, but the event's data grows past the ceiling */
	rec_init(&r, &p, 16);
	assert_int_equal(sse_parse_feed(&p, "data: 01234\ndata: 56789\n", 24),
			 0);
	assert_int_equal(sse_parse_feed(&p, "data: abcde\n\n", 13),
			 CHAT_ETOOBIG);
	assert_int_equal(r.events, 0);
	rec_release(&r, &p);

	/* the default ceiling is 1 MiB */
	{
		static char big[(1 << 20) + 16];

		memcpy(big, "data: ", 6);
		memset(big + 6, 'x', sizeof(big) - 8);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\n';
		rec_init(&r, &p, 0);
		assert_int_equal(sse_parse_feed(&p, big, sizeof(big)),
				 CHAT_ETOOBIG);
		rec_release(&r, &p);
		rec_init(&r, &p, 0);
		assert_int_equal(sse_parse_feed(&p, big, 1 << 19), 0);
		assert_int_equal(sse_parse_feed(&p, "\n\n", 2), 0);
		assert_int_equal(r.events, 1);
		rec_release(&r, &p);
	}
}

static void test_sse_parse__callback_stops(void **state)
{
	static const char in[] = "data: a\n\ndata: b\n\ndata: c\n\n";
	struct sse_parser p;
	struct rec r;

	(void)state;
	rec_init(&r, &p, 0);
	r.stop_at = 2;
	r.stop_rc = 7;
	assert_int_equal(sse_parse_feed(&p, in, sizeof(in) - 1), 7);
	assert_string_equal(r.log.data, "Emessage||-1|a\nEmessage||-1|b\n");
	/* stopped: no more events from later feeds */
	assert_int_equal(sse_parse_feed(&p, "data: d\n\n", 9), 7);
	assert_int_equal(r.events, 2);
	rec_release(&r, &p);

	/* a negative CHAT_E* passes through as is */
	rec_init(&r, &p, 0);
	r.stop_at = 1;
	r.stop_rc = CHAT_ECLOSED;
	assert_int_equal(sse_parse_feed(&p, in, sizeof(in) - 1),
			 CHAT_ECLOSED);
	assert_int_equal(r.events, 1);
	rec_release(&r, &p);
}

static const struct parse_case pending_cases[] = {
	{ "nothing", IN(""), "0" },
	{ "whole event", IN("data: a\n\n"), "0" },
	{ "comment", IN(": ping\n"), "0" },
	{ "event without data ended", IN("event: x\n\n"), "0" },
	{ "id only", IN("id: 3\n"), "0" },
	{ "cut inside a line", IN("data: a\n\ndata: b"), "1" },
	{ "cut after a data line", IN("data: a\n"), "1" },
	{ "cut after an event line", IN("event: x\n"), "1" },
	{ "cut inside a comment", IN(": pi"), "1" },
	{ "CR ending an event", IN("data: a\r\r"), "0" },
};

static void test_sse_parse__pending(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pending_cases) / sizeof(pending_cases[0]);
	     i++) {
		const struct parse_case *c = &pending_cases[i];
		struct sse_parser p;
		struct rec r;
		int pending;

		rec_init(&r, &p, 0);
		assert_int_equal(sse_parse_feed(&p, c->in, c->len), 0);
		pending = sse_parse_pending(&p);
		if ((pending ? "1" : "0")[0] != c->want[0])
			fail_msg("case '%s': pending %d", c->name, pending);
		rec_release(&r, &p);
	}
}

/* A parser without a comment callback ignores comments. */
static void test_sse_parse__no_comment_callback(void **state)
{
	struct sse_parser p;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.log, 4096);
	buf_puts(&r.log, "");
	sse_parse_init(&p, 0, rec_event, NULL, &r);
	assert_int_equal(sse_parse_feed(&p, ": x\ndata: a\n\n", 13), 0);
	assert_string_equal(r.log.data, "Emessage||-1|a\n");
	rec_release(&r, &p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_parse__sample_whole),
		cmocka_unit_test(test_sse_parse__sample_byte_by_byte),
		cmocka_unit_test(test_sse_parse__sample_every_split),
		cmocka_unit_test(test_sse_parse__line_ends),
		cmocka_unit_test(test_sse_parse__crlf_split_between_feeds),
		cmocka_unit_test(test_sse_parse__fields),
		cmocka_unit_test(test_sse_parse__bom_split),
		cmocka_unit_test(test_sse_parse__long_id_cut),
		cmocka_unit_test(test_sse_parse__ceiling),
		cmocka_unit_test(test_sse_parse__callback_stops),
		cmocka_unit_test(test_sse_parse__pending),
		cmocka_unit_test(test_sse_parse__no_comment_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
