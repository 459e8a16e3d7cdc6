/*
 * test-aid-providers.c - aid's LLM providers without a network: the
 * requests they build, their stream parsers fed recorded answers whole,
 * cut at every byte, byte by byte, with CRLF, and broken in every awkward
 * way; model lists, error texts, echo's plan and the token count.
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
#include <cjson/cJSON.h>

#include "../../daemons/aid/provider.h"
#include "buf.h"
#include "err.h"
#include "utf8.h"

#define NOPE "!"	/* a body path that must be absent */
#define NO_USAGE (-1)

/* ---- what a sink saw ------------------------------------------------ */

struct got {
	struct buf text;
	long prompt, completion;	/* as last reported (-1: unknown) */
	int usages;
	char finish[32];		/* "" when never reported */
	int finishes;
	char error[256];		/* "" when never reported */
	int errors;
	int pieces;
	bool bad_utf8;			/* a piece was not whole UTF-8 */
	int stop_at;			/* on_text answers 99 at this piece */
	int feed_rc;			/* first nonzero feed return */
	int end_rc;
};

static int got_text(void *arg, const char *text, size_t len)
{
	struct got *g = arg;

	g->pieces++;
	if (len == 0 || !utf8_valid(text, len) || text[len] != '\0')
		g->bad_utf8 = true;
	if (buf_append(&g->text, text, len) < 0)
		return CHAT_ETOOBIG;
	return g->stop_at && g->pieces == g->stop_at ? 99 : 0;
}

static void got_usage(void *arg, long prompt, long completion)
{
	struct got *g = arg;

	g->usages++;
	g->prompt = prompt;
	g->completion = completion;
}

static void got_finish(void *arg, const char *reason)
{
	struct got *g = arg;

	g->finishes++;
	snprintf(g->finish, sizeof(g->finish), "%s", reason);
}

static void got_error(void *arg, const char *message)
{
	struct got *g = arg;

	g->errors++;
	snprintf(g->error, sizeof(g->error), "%s", message);
}

static const struct prov_sink got_sink = {
	.on_text = got_text,
	.on_usage = got_usage,
	.on_finish = got_finish,
	.on_error = got_error,
};

static void got_init(struct got *g)
{
	memset(g, 0, sizeof(*g));
	buf_init(&g->text, 4 * 1024 * 1024);
	g->prompt = NO_USAGE;
	g->completion = NO_USAGE;
}

/*
 * Feeds data[0, first) in one piece, then the rest in pieces of step
 * bytes (0: the rest at once); stops feeding at the first failure, then
 * ends the stream.
 */
static void got_run(const struct provider_ops *ops, const char *data,
		    size_t len, size_t first, size_t step, struct got *g)
{
	struct prov_stream *s = NULL;
	size_t pos;

	assert_int_equal(ops->stream_new(&got_sink, g, &s), 0);
	g->feed_rc = ops->stream_feed(s, data, first);
	for (pos = first; pos < len && g->feed_rc == 0;) {
		size_t n = step && step < len - pos ? step : len - pos;

		g->feed_rc = ops->stream_feed(s, data + pos, n);
		pos += n;
	}
	g->end_rc = ops->stream_end(s);
	ops->stream_free(s);
}

/* ---- recorded streams ----------------------------------------------- */

struct stream_case {
	const char *name;
	const struct provider_ops *ops;
	const char *stream;
	const char *text;		/* all pieces joined */
	long prompt, completion;	/* both NO_USAGE: never reported */
	const char *finish;		/* NULL: never reported */
	const char *error;		/* NULL: none */
	int feed_rc;
	int end_rc;
};

#define OA_CHUNK(content, reason) \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\"," \
	"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" content "\"}," \
	"\"finish_reason\":" reason "}]}\n\n"
#define OA_ROLE \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\"," \
	"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"," \
	"\"content\":\"\"},\"finish_reason\":null}]}\n\n"
#define OA_FINISH(reason) \
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{}," \
	"\"finish_reason\":\"" reason "\"}]}\n\n"
#define OA_USAGE \
	"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12," \
	"\"completion_tokens\":3,\"total_tokens\":15}}\n\n"
#define OA_DONE "data: [DONE]\n\n"

#define OL_LINE(content) \
	"{\"model\":\"llama3\",\"created_at\":\"2026-01-01T00:00:00Z\"," \
	"\"message\":{\"role\":\"assistant\",\"content\":\"" content "\"}," \
	"\"done\":false}\n"
#define OL_DONE(reason) \
	"{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\"," \
	"\"content\":\"\"},\"done\":true,\"done_reason\":\"" reason "\"," \
	"\"total_duration\":123,\"prompt_eval_count\":7,\"eval_count\":3}\n"

#define AN_START \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":" \
	"{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\"," \
	"\"content\":[],\"model\":\"claude\",\"stop_reason\":null," \
	"\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5," \
	"\"cache_creation_input_tokens\":3,\"output_tokens\":1}}}\n\n"
#define AN_BLOCK \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\"," \
	"\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
#define AN_PING "event: ping\ndata: {\"type\": \"ping\"}\n\n"
#define AN_DELTA(text) \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\"," \
	"\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" text \
	"\"}}\n\n"
#define AN_BLOCK_STOP \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\"," \
	"\"index\":0}\n\n"
#define AN_MDELTA(reason) \
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":" \
	"{\"stop_reason\":\"" reason "\",\"stop_sequence\":null}," \
	"\"usage\":{\"output_tokens\":15}}\n\n"
#define AN_STOP "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

#define HELLO "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89"

static const struct stream_case stream_cases[] = {
	/* openai */
	{ "openai whole answer", &provider_openai,
	  OA_ROLE OA_CHUNK("h\xc3\xa9llo", "null")
	  OA_CHUNK(" \xe4\xb8\x96\xe7\x95\x8c", "null")
	  OA_CHUNK(" \xf0\x9f\x8e\x89", "null") OA_FINISH("stop") OA_USAGE
	  OA_DONE,
	  HELLO, 12, 3, "stop", NULL, 0, 0 },
	{ "openai escaped unicode", &provider_openai,
	  OA_CHUNK("h\\u00e9llo \\u4e16\\u754c \\ud83c\\udf89", "null")
	  OA_FINISH("length") OA_DONE,
	  HELLO, NO_USAGE, NO_USAGE, "length", NULL, 0, 0 },
	{ "openai comments and keep-alives", &provider_openai,
	  ": keep-alive\n\n" OA_CHUNK("a", "null") ":\n: ping\n\n"
	  "retry: 100\nid: 4\n\n" OA_CHUNK(" b", "null") ": x\n" OA_DONE,
	  "a b", NO_USAGE, NO_USAGE, NULL, NULL, 0, 0 },
	{ "openai multi-line data", &provider_openai,
	  "data: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":"
	  "\"x\\ny\"},\ndata: \"finish_reason\":null}]}\n\n" OA_DONE,
	  "x\ny", NO_USAGE, NO_USAGE, NULL, NULL, 0, 0 },
	{ "openai the first finish reason counts", &provider_openai,
	  OA_CHUNK("a", "null") OA_FINISH("length") OA_FINISH("stop")
	  OA_DONE,
	  "a", NO_USAGE, NO_USAGE, "length", NULL, 0, 0 },
	{ "openai usage chunk without choices", &provider_openai,
	  OA_CHUNK("hi", "\"stop\"") OA_USAGE OA_DONE,
	  "hi", 12, 3, "stop", NULL, 0, 0 },
	{ "openai data without a space", &provider_openai,
	  "data:{\"choices\":[{\"delta\":{\"content\":\"z\"}}]}\n\n"
	  "data:[DONE]\n\n",
	  "z", NO_USAGE, NO_USAGE, NULL, NULL, 0, 0 },
	{ "openai error mid-stream", &provider_openai,
	  OA_CHUNK("part", "null")
	  "data: {\"error\":{\"message\":\"rate limited\",\"type\":\"x\"}}\n\n"
	  OA_CHUNK("ignored", "null"),
	  "part", NO_USAGE, NO_USAGE, NULL, "rate limited", 0, 0 },
	{ "openai vllm error object", &provider_openai,
	  "data: {\"object\":\"error\",\"message\":\"bad\",\"code\":400}\n\n",
	  "", NO_USAGE, NO_USAGE, NULL, "bad", 0, 0 },
	{ "openai error without message", &provider_openai,
	  "data: {\"error\":{\"code\":500}}\n\n",
	  "", NO_USAGE, NO_USAGE, NULL, "upstream error", 0, 0 },
	{ "openai cut before [DONE]", &provider_openai,
	  OA_CHUNK("a", "null") OA_FINISH("stop") OA_USAGE,
	  "a", 12, 3, "stop", NULL, 0, CHAT_ECLOSED },
	{ "openai cut inside an event", &provider_openai,
	  OA_CHUNK("a", "null") "data: {\"choices\":[{\"delta\":{\"cont",
	  "a", NO_USAGE, NO_USAGE, NULL, NULL, 0, CHAT_ECLOSED },
	{ "openai empty body", &provider_openai, "",
	  "", NO_USAGE, NO_USAGE, NULL, NULL, 0, CHAT_ECLOSED },
	{ "openai bytes after [DONE] ignored", &provider_openai,
	  OA_CHUNK("a", "null") OA_DONE "data: {oops\n\n",
	  "a", NO_USAGE, NO_USAGE, NULL, NULL, 0, 0 },
	{ "openai bad JSON", &provider_openai,
	  OA_CHUNK("a", "null") "data: {oops\n\n" OA_DONE,
	  "a", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "openai data not an object", &provider_openai,
	  "data: [1,2]\n\n", "", NO_USAGE, NO_USAGE, NULL, NULL,
	  CHAT_EPARSE, CHAT_EPARSE },
	{ "openai content not a string", &provider_openai,
	  "data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n", "",
	  NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "openai choices not an array", &provider_openai,
	  "data: {\"choices\":{}}\n\n", "", NO_USAGE, NO_USAGE, NULL, NULL,
	  CHAT_EPARSE, CHAT_EPARSE },
	{ "openai a JSON body is no stream", &provider_openai,
	  "{\"id\":\"x\",\"choices\":[]}", "", NO_USAGE, NO_USAGE, NULL,
	  NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "openai HTML is no stream", &provider_openai,
	  "\n<html><body>502 Bad Gateway</body></html>\n", "", NO_USAGE,
	  NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "openai invalid UTF-8 in an event", &provider_openai,
	  "data: {\"choices\":[{\"delta\":{\"content\":\"\xc3\"}}]}\n\n",
	  "", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "openai lone surrogate escape", &provider_openai,
	  "data: {\"choices\":[{\"delta\":{\"content\":\"\\ud83c\"}}]}\n\n",
	  "", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	/* ollama */
	{ "ollama whole answer", &provider_ollama,
	  OL_LINE("h\xc3\xa9llo") OL_LINE(" \xe4\xb8\x96\xe7\x95\x8c")
	  OL_LINE(" \xf0\x9f\x8e\x89") OL_DONE("stop"),
	  HELLO, 7, 3, "stop", NULL, 0, 0 },
	{ "ollama length", &provider_ollama,
	  OL_LINE("a") "\n  \n" OL_DONE("length"),
	  "a", 7, 3, "length", NULL, 0, 0 },
	{ "ollama done without reason or counts", &provider_ollama,
	  OL_LINE("a") "{\"done\":true}\n",
	  "a", NO_USAGE, NO_USAGE, "stop", NULL, 0, 0 },
	{ "ollama last line without newline", &provider_ollama,
	  OL_LINE("a") "{\"done\":true,\"eval_count\":1}",
	  "a", -1, 1, "stop", NULL, 0, 0 },
	{ "ollama error mid-stream", &provider_ollama,
	  OL_LINE("a") "{\"error\":\"model runner crashed\"}\n" OL_LINE("b"),
	  "a", NO_USAGE, NO_USAGE, NULL, "model runner crashed", 0, 0 },
	{ "ollama cut before done", &provider_ollama,
	  OL_LINE("a") OL_LINE("b"),
	  "ab", NO_USAGE, NO_USAGE, NULL, NULL, 0, CHAT_ECLOSED },
	{ "ollama cut inside a line", &provider_ollama,
	  OL_LINE("a") "{\"message\":{\"content\":\"b",
	  "a", NO_USAGE, NO_USAGE, NULL, NULL, 0, CHAT_ECLOSED },
	{ "ollama garbage line", &provider_ollama,
	  OL_LINE("a") "<html>oops</html>\n" OL_DONE("stop"),
	  "a", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "ollama content not a string", &provider_ollama,
	  "{\"message\":{\"content\":[1]},\"done\":false}\n",
	  "", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "ollama lines after done ignored", &provider_ollama,
	  OL_DONE("stop") "garbage\n",
	  "", 7, 3, "stop", NULL, 0, 0 },
	/* anthropic */
	{ "anthropic whole answer", &provider_anthropic,
	  AN_START AN_BLOCK AN_PING AN_DELTA("h\xc3\xa9llo")
	  AN_DELTA(" \xe4\xb8\x96\xe7\x95\x8c") AN_PING
	  AN_DELTA(" \xf0\x9f\x8e\x89") AN_BLOCK_STOP AN_MDELTA("end_turn")
	  AN_STOP,
	  HELLO, 33, 15, "stop", NULL, 0, 0 },
	{ "anthropic max_tokens is length", &provider_anthropic,
	  AN_START AN_DELTA("a") AN_MDELTA("max_tokens") AN_STOP,
	  "a", 33, 15, "length", NULL, 0, 0 },
	{ "anthropic stop_sequence is stop", &provider_anthropic,
	  AN_START AN_DELTA("a") AN_MDELTA("stop_sequence") AN_STOP,
	  "a", 33, 15, "stop", NULL, 0, 0 },
	{ "anthropic other reasons pass", &provider_anthropic,
	  AN_START AN_MDELTA("refusal") AN_STOP,
	  "", 33, 15, "refusal", NULL, 0, 0 },
	{ "anthropic comments, unknown events, other deltas",
	  &provider_anthropic,
	  ": hi\n\n" AN_START "event: brand_new\ndata: {\"type\":\"brand_new\"}"
	  "\n\nevent: content_block_delta\ndata: {\"type\":"
	  "\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
	  "\"input_json_delta\",\"partial_json\":\"{\"}}\n\n"
	  AN_DELTA("a") AN_MDELTA("end_turn") AN_STOP,
	  "a", 33, 15, "stop", NULL, 0, 0 },
	{ "anthropic text in a block start, input count in message_delta",
	  &provider_anthropic,
	  AN_START "event: content_block_start\ndata: {\"type\":"
	  "\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	  "\"text\",\"text\":\"Hi\"}}\n\n"
	  "event: content_block_start\ndata: {\"type\":"
	  "\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
	  "\"tool_use\",\"text\":\"no\"}}\n\n" AN_DELTA("!")
	  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
	  "{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":40,"
	  "\"output_tokens\":2}}\n\n" AN_STOP,
	  "Hi!", 40, 2, "stop", NULL, 0, 0 },
	{ "anthropic without input counts", &provider_anthropic,
	  "event: message_start\ndata: {\"type\":\"message_start\","
	  "\"message\":{\"id\":\"m\"}}\n\n" AN_DELTA("a")
	  AN_MDELTA("end_turn") AN_STOP,
	  "a", -1, 15, "stop", NULL, 0, 0 },
	{ "anthropic input_tokens alone", &provider_anthropic,
	  "event: message_start\ndata: {\"type\":\"message_start\","
	  "\"message\":{\"usage\":{\"input_tokens\":10}}}\n\n"
	  AN_MDELTA("end_turn") AN_STOP,
	  "", 10, 15, "stop", NULL, 0, 0 },
	{ "anthropic error mid-stream", &provider_anthropic,
	  AN_START AN_DELTA("a")
	  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	  "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
	  AN_DELTA("b"),
	  "a", NO_USAGE, NO_USAGE, NULL, "Overloaded", 0, 0 },
	{ "anthropic cut before message_stop", &provider_anthropic,
	  AN_START AN_DELTA("a") AN_MDELTA("end_turn"),
	  "a", 33, 15, "stop", NULL, 0, CHAT_ECLOSED },
	{ "anthropic garbage data", &provider_anthropic,
	  AN_START "event: content_block_delta\ndata: not json\n\n",
	  "", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
	{ "anthropic text_delta without text", &provider_anthropic,
	  "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":"
	  "\"text_delta\"}}\n\n",
	  "", NO_USAGE, NO_USAGE, NULL, NULL, CHAT_EPARSE, CHAT_EPARSE },
};

#define NSTREAM (sizeof(stream_cases) / sizeof(stream_cases[0]))

static void stream_check(const struct stream_case *c, const struct got *g,
			 const char *how)
{
	if (g->feed_rc != c->feed_rc || g->end_rc != c->end_rc)
		fail_msg("%s (%s): feed %d end %d, want %d %d", c->name, how,
			 g->feed_rc, g->end_rc, c->feed_rc, c->end_rc);
	if (strcmp(g->text.data ? g->text.data : "", c->text) != 0)
		fail_msg("%s (%s): text '%s'", c->name, how,
			 g->text.data ? g->text.data : "");
	if (g->bad_utf8)
		fail_msg("%s (%s): a piece was empty or not whole UTF-8",
			 c->name, how);
	if (g->prompt != c->prompt || g->completion != c->completion ||
	    (g->usages == 0) != (c->prompt == NO_USAGE &&
				 c->completion == NO_USAGE))
		fail_msg("%s (%s): usage %ld %ld", c->name, how, g->prompt,
			 g->completion);
	if (strcmp(g->finish, c->finish ? c->finish : "") != 0 ||
	    g->finishes > 1)
		fail_msg("%s (%s): finish '%s' x%d", c->name, how, g->finish,
			 g->finishes);
	if (strcmp(g->error, c->error ? c->error : "") != 0 || g->errors > 1)
		fail_msg("%s (%s): error '%s' x%d", c->name, how, g->error,
			 g->errors);
}

/* The stream with every LF turned into CRLF. */
static char *to_crlf(const char *s)
{
	struct buf b;
	char *out;

	buf_init(&b, 1 << 20);
	for (; *s; s++)
		assert_int_equal(buf_puts(&b, *s == '\n' ? "\r\n" :
					  (char[]){ *s, 0 }), 0);
	out = buf_detach(&b, NULL);
	assert_non_null(out);
	return out;
}

static void stream_all_ways(const struct stream_case *c, const char *data)
{
	size_t len = strlen(data), k;
	struct got g;
	char how[64];

	got_init(&g);
	got_run(c->ops, data, len, len, 0, &g);
	stream_check(c, &g, "whole");
	buf_release(&g.text);

	got_init(&g);
	got_run(c->ops, data, len, 0, 1, &g);
	stream_check(c, &g, "byte by byte");
	buf_release(&g.text);

	for (k = 0; k <= len; k++) {
		got_init(&g);
		got_run(c->ops, data, len, k, 0, &g);
		snprintf(how, sizeof(how), "split at %zu", k);
		stream_check(c, &g, how);
		buf_release(&g.text);
	}
	for (k = 2; k < 8; k++) {
		got_init(&g);
		got_run(c->ops, data, len, 0, k, &g);
		snprintf(how, sizeof(how), "pieces of %zu", k);
		stream_check(c, &g, how);
		buf_release(&g.text);
	}
}

static void test_aid_providers__streams(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NSTREAM; i++) {
		char *crlf;

		stream_all_ways(&stream_cases[i], stream_cases[i].stream);
		crlf = to_crlf(stream_cases[i].stream);
		stream_all_ways(&stream_cases[i], crlf);
		free(crlf);
	}
}

/* A split inside a multi-byte character reaches the sink whole. */
static void test_aid_providers__utf8_split_everywhere(void **state)
{
	const char *emoji = OA_CHUNK("\xf0\x9f\x8e\x89", "null") OA_DONE;
	size_t len = strlen(emoji), k;

	(void)state;
	/* the 4 bytes of the emoji start after "content":" */
	for (k = 0; k < len; k++) {
		struct got g;

		got_init(&g);
		got_run(&provider_openai, emoji, len, k, 1, &g);
		assert_int_equal(g.feed_rc, 0);
		assert_int_equal(g.end_rc, 0);
		assert_int_equal(g.pieces, 1);
		assert_false(g.bad_utf8);
		assert_string_equal(g.text.data, "\xf0\x9f\x8e\x89");
		buf_release(&g.text);
	}
}

/* on_text's nonzero answer stops the parse and sticks. */
static void test_aid_providers__sink_stops(void **state)
{
	static const struct {
		const struct provider_ops *ops;
		const char *stream;
	} cases[] = {
		{ &provider_openai, OA_CHUNK("a", "null") OA_CHUNK("b", "null")
		  OA_CHUNK("c", "null") OA_DONE },
		{ &provider_ollama, OL_LINE("a") OL_LINE("b") OL_LINE("c")
		  OL_DONE("stop") },
		{ &provider_anthropic, AN_START AN_DELTA("a") AN_DELTA("b")
		  AN_DELTA("c") AN_MDELTA("end_turn") AN_STOP },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prov_stream *s;
		struct got g;

		got_init(&g);
		g.stop_at = 2;
		assert_int_equal(cases[i].ops->stream_new(&got_sink, &g, &s),
				 0);
		assert_int_equal(cases[i].ops->stream_feed(s, cases[i].stream,
				 strlen(cases[i].stream)), 99);
		assert_string_equal(g.text.data, "ab");
		assert_int_equal(cases[i].ops->stream_feed(s, "x", 1), 99);
		assert_int_equal(g.pieces, 2);
		assert_int_not_equal(cases[i].ops->stream_end(s), 0);
		cases[i].ops->stream_free(s);
		buf_release(&g.text);
	}
}

/* An event or a line past 1 MiB fails with CHAT_ETOOBIG. */
static void test_aid_providers__ceiling(void **state)
{
	static const struct {
		const struct provider_ops *ops;
		const char *head;
	} cases[] = {
		{ &provider_openai,
		  "data: {\"choices\":[{\"delta\":{\"content\":\"" },
		{ &provider_ollama, "{\"message\":{\"content\":\"" },
		{ &provider_anthropic,
		  "data: {\"type\":\"content_block_delta\"" },
	};
	size_t big = 1024 * 1024 + 16, i;
	char *fill = malloc(big);

	(void)state;
	assert_non_null(fill);
	memset(fill, 'x', big);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prov_stream *s;
		struct got g;
		int rc;

		got_init(&g);
		assert_int_equal(cases[i].ops->stream_new(&got_sink, &g, &s),
				 0);
		assert_int_equal(cases[i].ops->stream_feed(s, cases[i].head,
				 strlen(cases[i].head)), 0);
		rc = 0;
		for (size_t pos = 0; pos < big && rc == 0; pos += 4096)
			rc = cases[i].ops->stream_feed(s, fill + pos,
				pos + 4096 <= big ? 4096 : big - pos);
		assert_int_equal(rc, CHAT_ETOOBIG);
		assert_int_equal(cases[i].ops->stream_feed(s, "\n\n", 2),
				 CHAT_ETOOBIG);
		assert_int_equal(cases[i].ops->stream_end(s), CHAT_ETOOBIG);
		assert_int_equal(g.pieces, 0);
		cases[i].ops->stream_free(s);
		buf_release(&g.text);
	}
	free(fill);
}

/* Junk past the ceiling after the end marker, in the same feed, is not
 * an error: the answer was whole. */
static void test_aid_providers__junk_after_end(void **state)
{
	static const struct {
		const struct provider_ops *ops;
		const char *stream;
	} cases[] = {
		{ &provider_openai, OA_CHUNK("a", "null") OA_DONE },
		{ &provider_ollama, OL_LINE("a") OL_DONE("stop") },
		{ &provider_anthropic, AN_START AN_DELTA("a") AN_STOP },
	};
	size_t big = 1024 * 1024 + 16, i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].stream);
		char *data = malloc(len + big);
		struct got g;

		assert_non_null(data);
		memcpy(data, cases[i].stream, len);
		memset(data + len, 'x', big);
		got_init(&g);
		got_run(cases[i].ops, data, len + big, len + big, 0, &g);
		assert_int_equal(g.feed_rc, 0);
		assert_int_equal(g.end_rc, 0);
		assert_string_equal(g.text.data, "a");
		buf_release(&g.text);
		free(data);
	}
}

/* Garbage and mutilated answers: a clean code, whole pieces, no crash. */
static void test_aid_providers__garbage(void **state)
{
	static const struct provider_ops *const ops[] = {
		&provider_openai, &provider_ollama, &provider_anthropic,
	};
	uint32_t seed = 12345;
	size_t i, k, round;

	(void)state;
	for (round = 0; round < 300; round++) {
		const struct stream_case *c = &stream_cases[round % NSTREAM];
		size_t len = strlen(c->stream);
		char *m = malloc(len + 1);

		assert_non_null(m);
		memcpy(m, c->stream, len + 1);
		for (k = 0; k < 1 + round % 5 && len; k++) {
			seed = seed * 1103515245u + 12345u;
			m[(seed >> 8) % len] = (char)(seed >> 16);
		}
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			struct got g;

			got_init(&g);
			got_run(ops[i], m, len, (seed >> 4) % (len + 1), 3, &g);
			assert_false(g.bad_utf8);
			assert_true(g.feed_rc == 0 || g.feed_rc == CHAT_EPARSE);
			assert_true(g.end_rc == 0 || g.end_rc == CHAT_EPARSE ||
				    g.end_rc == CHAT_ECLOSED);
			buf_release(&g.text);
		}
		free(m);
	}
}

/* ---- requests ------------------------------------------------------- */

struct body_want {
	const char *path;	/* dotted path in the body */
	const char *json;	/* its unformatted JSON, NOPE when absent */
};

struct build_case {
	const char *name;
	const struct provider_ops *ops;
	struct provider_conf pc;
	const struct prov_params *p;
	int rc;
	const char *url;
	const char *headers[6];		/* each must be there */
	const char *absent[4];		/* header name prefixes not there */
	struct body_want body[12];
};

static const struct prov_message msgs_plain[] = {
	{ "system", "be brief" },
	{ "user", "hi \"there\"" },
	{ "assistant", "hello" },
	{ "user", "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c" },
};
static const char *const stops2[] = { "END", "\n\n" };

static const struct prov_params params_plain = {
	.model = "m1", .messages = msgs_plain, .nmessages = 4,
};
static const struct prov_params params_full = {
	.model = "m1", .messages = msgs_plain, .nmessages = 4,
	.max_tokens = 100, .stop = stops2, .nstop = 2,
	.has_temperature = true, .temperature = 0.5,
	.has_top_p = true, .top_p = 0.25,
};

/* leading assistant dropped, same roles merged, empty ones skipped,
 * every system message joined */
static const struct prov_message msgs_messy[] = {
	{ "assistant", "I spoke first" },
	{ "system", "be brief" },
	{ "user", "a" },
	{ "user", "b" },
	{ "assistant", "" },
	{ "system", "and kind" },
	{ "assistant", "c" },
	{ "user", "" },
	{ "assistant", "d" },
	{ "user", "e" },
};
static const struct prov_params params_messy = {
	.model = "claude-x", .messages = msgs_messy, .nmessages = 10,
};
static const struct prov_message msgs_no_user[] = {
	{ "system", "s" }, { "assistant", "a" },
};
static const struct prov_params params_no_user = {
	.model = "claude-x", .messages = msgs_no_user, .nmessages = 2,
};
static const struct prov_message msgs_bad_role[] = {
	{ "tool", "x" }, { "user", "a" },
};
static const struct prov_params params_bad_role = {
	.model = "claude-x", .messages = msgs_bad_role, .nmessages = 2,
};
static const struct prov_params params_no_model = {
	.model = "", .messages = msgs_plain, .nmessages = 4,
};

#define MSGS_PLAIN_JSON \
	"[{\"role\":\"system\",\"content\":\"be brief\"}," \
	"{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"}," \
	"{\"role\":\"assistant\",\"content\":\"hello\"}," \
	"{\"role\":\"user\"," \
	"\"content\":\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c\"}]"
#define MSGS_PLAIN_NOSYS_JSON \
	"[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"}," \
	"{\"role\":\"assistant\",\"content\":\"hello\"}," \
	"{\"role\":\"user\"," \
	"\"content\":\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c\"}]"

/* the rest of a case whose build fails */
#define NO_REQUEST NULL, { NULL }, { NULL }, { { NULL, NULL } }

static const struct build_case build_cases[] = {
	{ "openai plain with a key", &provider_openai,
	  { "openai", "https://api.example.com/v1/", "sk-secret" },
	  &params_plain, 0, "https://api.example.com/v1/chat/completions",
	  { "Content-Type: application/json", "Accept: text/event-stream",
	    "Authorization: Bearer sk-secret" }, { NULL },
	  { { "model", "\"m1\"" }, { "messages", MSGS_PLAIN_JSON },
	    { "stream", "true" }, { "stream_options.include_usage", "true" },
	    { "max_tokens", NOPE }, { "stop", NOPE },
	    { "temperature", NOPE }, { "top_p", NOPE } } },
	{ "openai full without a key", &provider_openai,
	  { "openai", "http://127.0.0.1:9/v1", NULL },
	  &params_full, 0, "http://127.0.0.1:9/v1/chat/completions",
	  { "Accept: text/event-stream" }, { "Authorization" },
	  { { "max_tokens", "100" }, { "stop", "[\"END\",\"\\n\\n\"]" },
	    { "temperature", "0.5" }, { "top_p", "0.25" },
	    { "stream", "true" } } },
	{ "openai empty key is no key", &provider_openai,
	  { "openai", "http://h/v1", "" }, &params_plain, 0,
	  "http://h/v1/chat/completions", { NULL }, { "Authorization" },
	  { { "model", "\"m1\"" } } },
	{ "ollama plain", &provider_ollama,
	  { "ollama", "http://127.0.0.1:11434", NULL }, &params_plain, 0,
	  "http://127.0.0.1:11434/api/chat",
	  { "Content-Type: application/json",
	    "Accept: application/x-ndjson" }, { "Authorization" },
	  { { "model", "\"m1\"" }, { "messages", MSGS_PLAIN_JSON },
	    { "stream", "true" }, { "options", NOPE } } },
	{ "ollama full with a proxy key", &provider_ollama,
	  { "ollama", "http://127.0.0.1:11434//", "k" }, &params_full, 0,
	  "http://127.0.0.1:11434/api/chat", { "Authorization: Bearer k" },
	  { NULL },
	  { { "options.num_predict", "100" },
	    { "options.stop", "[\"END\",\"\\n\\n\"]" },
	    { "options.temperature", "0.5" }, { "options.top_p", "0.25" },
	    { "max_tokens", NOPE }, { "stream_options", NOPE } } },
	{ "anthropic plain with a key", &provider_anthropic,
	  { "anthropic", "https://api.anthropic.com", "sk-ant" },
	  &params_plain, 0, "https://api.anthropic.com/v1/messages",
	  { "Content-Type: application/json", "Accept: text/event-stream",
	    "anthropic-version: 2023-06-01", "x-api-key: sk-ant" },
	  { "Authorization" },
	  { { "model", "\"m1\"" }, { "max_tokens", "4096" },
	    { "system", "\"be brief\"" },
	    { "messages", MSGS_PLAIN_NOSYS_JSON }, { "stream", "true" },
	    { "stop_sequences", NOPE }, { "temperature", NOPE } } },
	{ "anthropic full without a key", &provider_anthropic,
	  { "anthropic", "http://127.0.0.1:9", NULL }, &params_full, 0,
	  "http://127.0.0.1:9/v1/messages",
	  { "anthropic-version: 2023-06-01" }, { "x-api-key",
	  "Authorization" },
	  { { "max_tokens", "100" },
	    { "stop_sequences", "[\"END\",\"\\n\\n\"]" },
	    { "temperature", "0.5" }, { "top_p", "0.25" }, { "stop", NOPE } } },
	{ "anthropic messy history", &provider_anthropic,
	  { "anthropic", "http://h", NULL }, &params_messy, 0,
	  "http://h/v1/messages", { NULL }, { NULL },
	  { { "system", "\"be brief\\n\\nand kind\"" },
	    { "messages", "[{\"role\":\"user\",\"content\":\"a\\n\\nb\"},"
	      "{\"role\":\"assistant\",\"content\":\"c\\n\\nd\"},"
	      "{\"role\":\"user\",\"content\":\"e\"}]" } } },
	{ "anthropic without a user message", &provider_anthropic,
	  { "anthropic", "http://h", NULL }, &params_no_user, CHAT_EINVAL,
	  NO_REQUEST },
	{ "anthropic unknown role", &provider_anthropic,
	  { "anthropic", "http://h", NULL }, &params_bad_role, CHAT_EINVAL,
	  NO_REQUEST },
	{ "openai no model", &provider_openai,
	  { "openai", "http://h", NULL }, &params_no_model, CHAT_EINVAL,
	  NO_REQUEST },
	{ "openai bad scheme", &provider_openai,
	  { "openai", "file:///etc/passwd", NULL }, &params_plain,
	  CHAT_EINVAL, NO_REQUEST },
	{ "ollama no base", &provider_ollama,
	  { "ollama", NULL, NULL }, &params_plain, CHAT_EINVAL,
	  NO_REQUEST },
	{ "openai key smuggling a header", &provider_openai,
	  { "openai", "http://h", "k\r\nX-Evil: 1" }, &params_plain,
	  CHAT_EINVAL, NO_REQUEST },
	{ "anthropic key smuggling a header", &provider_anthropic,
	  { "anthropic", "http://h", "k\nX-Evil: 1" }, &params_plain,
	  CHAT_EINVAL, NO_REQUEST },
	{ "ollama base with a space", &provider_ollama,
	  { "ollama", "http://h /x", NULL }, &params_plain, CHAT_EINVAL,
	  NO_REQUEST },
};

static bool has_header(char **headers, const char *want, bool prefix)
{
	size_t i;

	for (i = 0; headers && headers[i]; i++) {
		if (prefix ? strncmp(headers[i], want, strlen(want)) == 0 :
			     strcmp(headers[i], want) == 0)
			return true;
	}
	return false;
}

static const cJSON *body_path(const cJSON *root, const char *path)
{
	char seg[64];

	while (root && *path) {
		size_t k = strcspn(path, ".");

		assert_true(k < sizeof(seg));
		memcpy(seg, path, k);
		seg[k] = '\0';
		root = cJSON_GetObjectItemCaseSensitive(root, seg);
		path += k + (path[k] == '.');
	}
	return root;
}

static void build_check(const struct build_case *c,
			const struct prov_http *h)
{
	cJSON *root;
	size_t i;

	assert_string_equal(h->method, "POST");
	if (strcmp(h->url, c->url) != 0)
		fail_msg("%s: url '%s'", c->name, h->url);
	for (i = 0; i < 6 && c->headers[i]; i++)
		if (!has_header(h->headers, c->headers[i], false))
			fail_msg("%s: no header '%s'", c->name, c->headers[i]);
	for (i = 0; i < 4 && c->absent[i]; i++)
		if (has_header(h->headers, c->absent[i], true))
			fail_msg("%s: header '%s' present", c->name,
				 c->absent[i]);
	assert_non_null(h->body);
	assert_int_equal(h->body_len, strlen(h->body));
	root = cJSON_ParseWithLength(h->body, h->body_len);
	assert_non_null(root);
	for (i = 0; i < 12 && c->body[i].path; i++) {
		const cJSON *v = body_path(root, c->body[i].path);
		char *txt;

		if (strcmp(c->body[i].json, NOPE) == 0) {
			if (v)
				fail_msg("%s: '%s' present", c->name,
					 c->body[i].path);
			continue;
		}
		if (!v)
			fail_msg("%s: '%s' absent", c->name, c->body[i].path);
		txt = cJSON_PrintUnformatted(v);
		if (strcmp(txt, c->body[i].json) != 0)
			fail_msg("%s: '%s' is %s", c->name, c->body[i].path,
				 txt);
		free(txt);
	}
	cJSON_Delete(root);
}

static void test_aid_providers__build(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(build_cases) / sizeof(build_cases[0]); i++) {
		const struct build_case *c = &build_cases[i];
		struct prov_http h;
		int rc;

		memset(&h, 0xa5, sizeof(h));	/* build must not read it */
		rc = c->ops->build(&c->pc, c->p, &h);
		if (rc != c->rc)
			fail_msg("%s: rc %d, want %d", c->name, rc, c->rc);
		if (rc == 0)
			build_check(c, &h);
		else
			assert_true(!h.method && !h.url && !h.headers &&
				    !h.body);
		prov_http_release(&h);
		prov_http_release(&h);	/* twice is harmless */
	}
}

/* No build ever puts the key into the URL or the body. */
static void test_aid_providers__key_only_in_its_header(void **state)
{
	static const struct provider_ops *const ops[] = {
		&provider_openai, &provider_ollama, &provider_anthropic,
	};
	size_t i, k, found;

	(void)state;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct provider_conf pc = { ops[i]->kind, "http://h/v1",
					    "KEY-12345" };
		struct prov_http h;

		assert_int_equal(ops[i]->build(&pc, &params_full, &h), 0);
		assert_null(strstr(h.url, "KEY-12345"));
		assert_null(strstr(h.body, "KEY-12345"));
		for (k = 0, found = 0; h.headers[k]; k++)
			found += strstr(h.headers[k], "KEY-12345") != NULL;
		assert_int_equal(found, 1);
		prov_http_release(&h);
	}
}

struct models_case {
	const struct provider_ops *ops;
	const char *base;
	const char *key;
	const char *url;
	const char *header;		/* one that must be there */
	const char *absent;		/* a prefix that must not */
};

static const struct models_case models_cases[] = {
	{ &provider_openai, "https://api.openai.com/v1", "sk",
	  "https://api.openai.com/v1/models", "Authorization: Bearer sk",
	  "x-api-key" },
	{ &provider_openai, "http://h/v1/", NULL, "http://h/v1/models",
	  "Accept: application/json", "Authorization" },
	{ &provider_ollama, "http://127.0.0.1:11434", NULL,
	  "http://127.0.0.1:11434/api/tags", "Accept: application/json",
	  "Authorization" },
	{ &provider_anthropic, "https://api.anthropic.com", "sk-ant",
	  "https://api.anthropic.com/v1/models?limit=1000",
	  "x-api-key: sk-ant", "Authorization" },
	{ &provider_anthropic, "http://h", NULL,
	  "http://h/v1/models?limit=1000", "anthropic-version: 2023-06-01",
	  "x-api-key" },
};

static void test_aid_providers__models_build(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(models_cases) / sizeof(models_cases[0]); i++) {
		const struct models_case *c = &models_cases[i];
		struct provider_conf pc = { c->ops->kind, c->base, c->key };
		struct prov_http h;

		assert_non_null(c->ops->models_build);
		assert_int_equal(c->ops->models_build(&pc, &h), 0);
		assert_string_equal(h.method, "GET");
		assert_string_equal(h.url, c->url);
		assert_null(h.body);
		assert_true(has_header(h.headers, c->header, false));
		assert_false(has_header(h.headers, c->absent, true));
		prov_http_release(&h);
	}
}

struct parse_case {
	const struct provider_ops *ops;
	const char *body;
	int rc;
	const char *names;	/* joined by ',' */
};

static const struct parse_case parse_cases[] = {
	{ &provider_openai, "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\","
	  "\"object\":\"model\"},{\"id\":\"gpt-4o-mini\"},"
	  "{\"object\":\"model\"},"
	  "{\"id\":5},{\"id\":\"\"}]}", 0, "gpt-4o,gpt-4o-mini" },
	{ &provider_openai, "{\"data\":[]}", 0, "" },
	{ &provider_openai, "{\"models\":[]}", CHAT_EPARSE, "" },
	{ &provider_openai, "[1]", CHAT_EPARSE, "" },
	{ &provider_openai, "not json", CHAT_EPARSE, "" },
	{ &provider_openai, "", CHAT_EPARSE, "" },
	{ &provider_ollama, "{\"models\":[{\"name\":\"llama3:latest\","
	  "\"model\":\"llama3:latest\",\"size\":1},{\"name\":\"qwen2:0.5b\"}]}",
	  0, "llama3:latest,qwen2:0.5b" },
	{ &provider_ollama, "{\"data\":[{\"id\":\"x\"}]}", CHAT_EPARSE, "" },
	{ &provider_ollama, "{\"models\":{}}", CHAT_EPARSE, "" },
	{ &provider_anthropic, "{\"data\":[{\"type\":\"model\",\"id\":"
	  "\"claude-3-5-haiku-20241022\",\"display_name\":\"Claude\"}],"
	  "\"has_more\":false}", 0, "claude-3-5-haiku-20241022" },
	{ &provider_anthropic, "{\"data\":null}", CHAT_EPARSE, "" },
};

static void test_aid_providers__models_parse(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		char **names = (char **)1;
		size_t n = 99;
		struct buf joined;
		int rc;

		buf_init(&joined, 4096);
		rc = c->ops->models_parse(c->body, strlen(c->body), &names, &n);
		if (rc != c->rc)
			fail_msg("case %zu: rc %d", i, rc);
		for (k = 0; k < n; k++)
			assert_int_equal(buf_printf(&joined, "%s%s",
				 k ? "," : "", names[k]), 0);
		if (rc < 0)
			assert_true(names == NULL && n == 0);
		if (strcmp(joined.data ? joined.data : "", c->names) != 0)
			fail_msg("case %zu: names '%s'", i, joined.data);
		prov_names_free(names, n);
		buf_release(&joined);
	}
}

struct errmsg_case {
	const struct provider_ops *ops;
	const char *body;
	size_t outlen;
	const char *want;
};

static const struct errmsg_case errmsg_cases[] = {
	{ &provider_openai, "{\"error\":{\"message\":\"Incorrect API key "
	  "provided\",\"type\":\"invalid_request_error\",\"code\":"
	  "\"invalid_api_key\"}}", 256, "Incorrect API key provided" },
	{ &provider_openai, "{\"error\":\"plain\"}", 256, "plain" },
	{ &provider_openai, "{\"detail\":\"Not Found\"}", 256, "Not Found" },
	{ &provider_openai, "{\"object\":\"error\",\"message\":\"vllm says\"}",
	  256, "vllm says" },
	{ &provider_openai, "{\"x\":1}", 256, "" },
	{ &provider_openai, "", 256, "" },
	{ &provider_openai, "<html>\r\n<head><title>502 Bad Gateway</title>"
	  "</head>\r\n</html>\r\n", 256,
	  "<html> <head><title>502 Bad Gateway</title></head> </html>" },
	{ &provider_openai, "{\"error\":{\"message\":\"two\\nlines\\t "
	  "here \"}}", 256, "two lines here" },
	{ &provider_openai, "{\"error\":{\"message\":\"abcdefghij\"}}", 5,
	  "abcd" },
	{ &provider_openai, "{\"error\":{\"message\":\"ab\xe4\xb8\x96\"}}", 5,
	  "ab" },
	{ &provider_openai, "{\"error\":{\"message\":\"ab\xe4\xb8\x96\"}}", 6,
	  "ab\xe4\xb8\x96" },
	{ &provider_openai, "bad \xff\xfe bytes", 256, "bad ?? bytes" },
	{ &provider_ollama, "{\"error\":\"model 'x' not found, try pulling "
	  "it first\"}", 256, "model 'x' not found, try pulling it first" },
	{ &provider_ollama, "{\"error\":{\"message\":\"nested\"}}", 256,
	  "nested" },
	{ &provider_anthropic, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"not_found_error\",\"message\":\"model: x\"}}", 256, "model: x" },
	{ &provider_anthropic, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"overloaded_error\"}}", 256, "" },
};

static void test_aid_providers__error_message(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(errmsg_cases) / sizeof(errmsg_cases[0]); i++) {
		const struct errmsg_case *c = &errmsg_cases[i];
		char out[256];

		memset(out, 'Z', sizeof(out));
		c->ops->error_message(c->body, strlen(c->body), out,
				      c->outlen);
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: '%s'", i, out);
	}
}

/* ---- kinds, echo, tokens -------------------------------------------- */

static void test_aid_providers__find(void **state)
{
	(void)state;
	assert_ptr_equal(provider_find("openai"), &provider_openai);
	assert_ptr_equal(provider_find("ollama"), &provider_ollama);
	assert_ptr_equal(provider_find("anthropic"), &provider_anthropic);
	assert_null(provider_find("OpenAI"));
	assert_null(provider_find("echo"));
	assert_null(provider_find(""));
	assert_null(provider_find(NULL));
	assert_string_equal(provider_openai.kind, "openai");
	assert_string_equal(provider_ollama.kind, "ollama");
	assert_string_equal(provider_anthropic.kind, "anthropic");
}

struct echo_case {
	const char *name;
	const char *last_user;		/* NULL: no user message at all */
	long max_tokens;
	const char *stop[2];
	const char *pieces;		/* joined by '|' */
	const char *finish;
};

static const struct echo_case echo_cases[] = {
	{ "words", "hello big world", 0, { NULL }, "hello| big| world",
	  "stop" },
	{ "spaces kept", "  two  spaces\tand\nlines ", 0, { NULL },
	  "  two|  spaces|\tand|\nlines ", "stop" },
	{ "utf-8 words", HELLO, 0, { NULL },
	  "h\xc3\xa9llo| \xe4\xb8\x96\xe7\x95\x8c| \xf0\x9f\x8e\x89", "stop" },
	{ "max_tokens cuts", "a b c d", 2, { NULL }, "a| b", "length" },
	{ "max_tokens exactly", "a b", 2, { NULL }, "a| b", "stop" },
	{ "max_tokens above", "a b", 5, { NULL }, "a| b", "stop" },
	{ "stop sequence", "one two STOP three", 0, { "STOP" },
	  "one| two ", "stop" },
	{ "earliest stop wins", "a b c d", 0, { "c", "b" }, "a ", "stop" },
	{ "earliest stop wins, too", "a b c d", 0, { "b", "c" }, "a ",
	  "stop" },
	{ "stop inside a word", "abcdef ghi", 0, { "cd" }, "ab", "stop" },
	{ "stop at the start", "xyz", 0, { "x" }, "", "stop" },
	{ "stop then length", "a b c d e STOP f", 3, { "STOP" }, "a| b| c",
	  "length" },
	{ "empty stop ignored", "a b", 0, { "", NULL }, "a| b", "stop" },
	{ "empty input", "", 0, { NULL }, "", "stop" },
	{ "only spaces", "   ", 0, { NULL }, "", "stop" },
	{ "no user message", NULL, 0, { NULL }, "", "stop" },
};

static void test_aid_providers__echo_plan(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(echo_cases) / sizeof(echo_cases[0]); i++) {
		const struct echo_case *c = &echo_cases[i];
		struct prov_message m[3] = {
			{ "system", "sys words here" },
			{ "user", c->last_user },
			{ "assistant", "not me" },
		};
		struct prov_params p = {
			.model = "echo", .messages = m,
			.nmessages = c->last_user ? 3 : 1,
			.max_tokens = c->max_tokens, .stop = c->stop,
			.nstop = c->stop[0] ? (c->stop[1] ? 2 : 1) : 0,
		};
		const char *finish = NULL;
		struct buf joined;
		char **pieces;
		size_t n;

		buf_init(&joined, 4096);
		assert_int_equal(echo_plan(&p, &pieces, &n, &finish), 0);
		for (k = 0; k < n; k++) {
			assert_true(utf8_valid(pieces[k], strlen(pieces[k])));
			assert_int_equal(buf_printf(&joined, "%s%s",
				 k ? "|" : "", pieces[k]), 0);
		}
		if (strcmp(joined.data ? joined.data : "", c->pieces) != 0)
			fail_msg("%s: pieces '%s'", c->name, joined.data);
		if (strcmp(finish, c->finish) != 0)
			fail_msg("%s: finish '%s'", c->name, finish);
		prov_names_free(pieces, n);
		buf_release(&joined);
	}
}

/* The last user message counts, even with an earlier one. */
static void test_aid_providers__echo_last_user(void **state)
{
	static const struct prov_message m[] = {
		{ "user", "first" }, { "assistant", "reply" },
		{ "user", "second one" },
	};
	struct prov_params p = { .model = "echo", .messages = m,
				 .nmessages = 3 };
	const char *finish;
	char **pieces;
	size_t n;

	(void)state;
	assert_int_equal(echo_plan(&p, &pieces, &n, &finish), 0);
	assert_int_equal(n, 2);
	assert_string_equal(pieces[0], "second");
	assert_string_equal(pieces[1], " one");
	assert_string_equal(finish, "stop");
	prov_names_free(pieces, n);
}

static void test_aid_providers__count_tokens(void **state)
{
	static const struct {
		const char *text;
		long want;
	} cases[] = {
		{ NULL, 0 },
		{ "", 0 },
		{ "a", 1 },
		{ "abcd", 1 },
		{ "abcde", 2 },
		{ "a b c d e f", 6 },		/* words beat bytes/4 */
		{ "   ", 1 },
		{ "hello world, this is a test", 7 },
		{ "\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89", 2 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (prov_count_tokens(cases[i].text) != cases[i].want)
			fail_msg("case %zu: %ld", i,
				 prov_count_tokens(cases[i].text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aid_providers__streams),
		cmocka_unit_test(test_aid_providers__utf8_split_everywhere),
		cmocka_unit_test(test_aid_providers__sink_stops),
		cmocka_unit_test(test_aid_providers__ceiling),
		cmocka_unit_test(test_aid_providers__junk_after_end),
		cmocka_unit_test(test_aid_providers__garbage),
		cmocka_unit_test(test_aid_providers__build),
		cmocka_unit_test(test_aid_providers__key_only_in_its_header),
		cmocka_unit_test(test_aid_providers__models_build),
		cmocka_unit_test(test_aid_providers__models_parse),
		cmocka_unit_test(test_aid_providers__error_message),
		cmocka_unit_test(test_aid_providers__find),
		cmocka_unit_test(test_aid_providers__echo_plan),
		cmocka_unit_test(test_aid_providers__echo_last_user),
		cmocka_unit_test(test_aid_providers__count_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
