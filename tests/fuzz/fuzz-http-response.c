/*
 * fuzz-http-response.c - libFuzzer target for the HTTP/1.1 answer
 * parsers of the outbound clients: http_fetch_parse (the blocking
 * client of shared/http-fetch.c) and http_loop_parse (the loop-thread
 * client of shared/http-loop.c), as a server next door (a daemon, a
 * local LLM server) could answer.
 *
 * Input: a flags byte (bit 0: the request was a HEAD; bits 1-2: the
 * response ceiling, default 8 MiB or 200, 1000 or 5000 bytes so that
 * the CHAT_ETOOBIG paths are reached), a byte for the read size (0: the
 * whole answer at once), then the server's bytes; their end is the
 * server closing.
 *
 * Each parser reads the answer twice, at once and in reads of the
 * chosen size: bytes come from a socket split anywhere, so both reads
 * must end the same (result, status, headers, body, keep-alive).  An
 * accepted answer has a final status, a body within the ceiling, and
 * header lines without line breaks or NULs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "http-fetch.h"
#include "http-loop.h"

#include "fuzz.h"

struct loop_run {
	struct buf log;			/* heads and body, serialised */
	size_t body_len;
	int heads;			/* on_head calls */
	int status;
	bool keep_alive;
	int rc;
};

static int on_head(void *arg, int status, const char *const *headers,
		   size_t n)
{
	struct loop_run *r = arg;
	size_t i, len;

	r->heads++;
	r->status = status;
	FUZZ_CHECK(status == 101 || (status >= 200 && status <= 599));
	FUZZ_CHECK(buf_printf(&r->log, "H%d:%zu\n", status, n) == 0);
	for (i = 0; i < n; i++) {
		len = strlen(headers[i]);
		FUZZ_CHECK(strchr(headers[i], ':'));
		FUZZ_CHECK(!strpbrk(headers[i], "\r\n"));
		FUZZ_CHECK(buf_append(&r->log, headers[i], len + 1) == 0);
	}
	return 0;
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct loop_run *r = arg;

	FUZZ_CHECK(len > 0);
	r->body_len += len;
	FUZZ_CHECK(buf_append(&r->log, data, len) == 0);
	return 0;
}

static void on_done(void *arg, int rc)
{
	(void)arg;
	(void)rc;
	FUZZ_CHECK(!"on_done never runs in http_loop_parse");
}

static void loop_run(struct loop_run *r, const char *s, size_t n,
		     size_t piece, bool head_only, size_t max)
{
	static const struct http_client_cb cb = {
		.on_head = on_head, .on_data = on_data, .on_done = on_done,
	};

	memset(r, 0, sizeof(*r));
	buf_init(&r->log, (size_t)1 << 30);
	r->rc = http_loop_parse(s, n, piece, head_only, max, &cb, r,
				&r->keep_alive);
	FUZZ_CHECK(r->rc == 0 || r->rc == CHAT_EUPSTREAM ||
		   r->rc == CHAT_ETOOBIG || r->rc == CHAT_ENOMEM);
	FUZZ_CHECK(r->body_len <= (max ? max : 8u << 20));
	if (r->rc == 0)
		FUZZ_CHECK(r->heads == 1);
	else
		FUZZ_CHECK(!r->keep_alive);
}

struct fetch_run {
	struct buf body;
	int status;
	int rc;
};

static void fetch_run(struct fetch_run *r, const char *s, size_t n,
		      size_t piece, bool head_only, size_t max)
{
	buf_init(&r->body, (size_t)1 << 30);
	r->rc = http_fetch_parse(s, n, piece, head_only, max, &r->status,
				 &r->body);
	FUZZ_CHECK(r->rc == 0 || r->rc == CHAT_EUPSTREAM ||
		   r->rc == CHAT_ETOOBIG || r->rc == CHAT_ENOMEM);
	FUZZ_CHECK(r->body.len <= (max ? max : 8u << 20));
	if (r->rc == 0)
		FUZZ_CHECK(r->status == 101 ||
			   (r->status >= 200 && r->status <= 599));
	else
		FUZZ_CHECK(r->status == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[4] = { 0, 200, 1000, 5000 };
	struct fuzz_in in = { data, size };
	uint8_t flags = fuzz_byte(&in);
	size_t piece = fuzz_byte(&in), max = maxes[(flags >> 1) & 3];
	bool head_only = flags & 1;
	const char *s = (const char *)in.p;
	struct loop_run la, lb;
	struct fetch_run fa, fb;

	loop_run(&la, s, in.n, 0, head_only, max);
	loop_run(&lb, s, in.n, piece, head_only, max);
	FUZZ_CHECK(la.rc == lb.rc);
	FUZZ_CHECK(la.keep_alive == lb.keep_alive);
	/* what reached the callbacks before an error depends on where the
	 * reads ended; a complete answer does not */
	if (la.rc == 0) {
		FUZZ_CHECK(la.log.len == lb.log.len);
		FUZZ_CHECK(la.log.len == 0 ||
			   memcmp(la.log.data, lb.log.data, la.log.len) == 0);
	}
	buf_release(&la.log);
	buf_release(&lb.log);

	fetch_run(&fa, s, in.n, 0, head_only, max);
	fetch_run(&fb, s, in.n, piece, head_only, max);
	FUZZ_CHECK(fa.rc == fb.rc && fa.status == fb.status);
	if (fa.rc == 0) {
		FUZZ_CHECK(fa.body.len == fb.body.len);
		FUZZ_CHECK(fa.body.len == 0 ||
			   memcmp(fa.body.data, fb.body.data,
				  fa.body.len) == 0);
	}
	buf_release(&fa.body);
	buf_release(&fb.body);
	return 0;
}
