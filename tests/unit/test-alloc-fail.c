/*
 * test-alloc-fail.c - allocation-failure tests of the parsers and the
 * SQLite store, SQLite-style: each operation runs once for every n with
 * its nth allocation failing (alloc-fail.h) and must return an error,
 * or recover with its full result, with nothing leaked.  The parsers
 * that never allocate (http1, ws-frame, uuid, b64url, text) run under
 * the same loop, which then checks that they do not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-fail.h"
#include "b64url.h"
#include "buf.h"
#include "db.h"
#include "err.h"
#include "http-fetch.h"
#include "http-loop.h"
#include "http1.h"
#include "json.h"
#include "log.h"
#include "sse-parse.h"
#include "text.h"
#include "uuid.h"
#include "ws-frame.h"
#include "banned.h"

/* ---- parsers that must not allocate ------------------------------------ */

static int op_http1(void *arg)
{
	static const char head[] =
		"POST /v1/x?y=1 HTTP/1.1\r\nHost: a\r\n"
		"Transfer-Encoding: chunked\r\nX-A: b\r\n\r\n";
	static const char body[] = "3\r\nabc\r\n0\r\nT: 1\r\n\r\n";
	struct http1_request req;
	struct http1_scan scan;
	struct http1_chunked ch;
	const char *why = NULL, *data;
	size_t dlen, off = 0;
	bool done = false;
	long n;

	(void)arg;
	memset(&scan, 0, sizeof(scan));
	n = http1_parse_request(head, sizeof(head) - 1, &scan, &req, &why);
	if (n != (long)sizeof(head) - 1 || !req.chunked)
		return CHAT_EPARSE;
	memset(&ch, 0, sizeof(ch));
	while (!done && off < sizeof(body) - 1) {
		n = http1_chunked_feed(&ch, body + off, sizeof(body) - 1 - off,
				       1024, &data, &dlen, &done);
		if (n < 0)
			return CHAT_EPARSE;
		off += (size_t)n;
	}
	return done && ch.total == 3 ? 0 : CHAT_EPARSE;
}

static int op_ws_frame(void *arg)
{
	unsigned char frame[WS_FRAME_MAX_HEADER + 5];
	static const unsigned char mask[4] = { 1, 2, 3, 4 };
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	char accept[32];
	size_t h;
	long n;

	(void)arg;
	h = ws_frame_header(frame, WS_OP_TEXT, true, 5, mask);
	memcpy(frame + h, "hello", 5);
	ws_frame_mask(frame + h, 5, mask, 0);
	memset(&p, 0, sizeof(p));
	p.masked_in = true;
	n = ws_frame_feed(&p, frame, h + 5, &ev);
	if (n != (long)(h + 5) || !ev.data || ev.len != 5 ||
	    memcmp(ev.bytes, "hello", 5) != 0)
		return CHAT_EPARSE;
	if (ws_frame_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept) != 0 ||
	    strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0)
		return CHAT_EPARSE;
	return 0;
}

static int op_small(void *arg)
{
	char id[UUID_STR_LEN], enc[B64URL_ENCODED_SIZE(5)], out[64];
	unsigned char dec[8];
	size_t w = 0;

	(void)arg;
	if (uuid_v7(id) != 0 || !uuid_valid(id))
		return CHAT_EINVAL;
	if (b64url_encode("hello", 5, enc, sizeof(enc)) < 0 ||
	    b64url_decode(enc, strlen(enc), dec, sizeof(dec), &w) < 0 ||
	    w != 5 || memcmp(dec, "hello", 5) != 0)
		return CHAT_EINVAL;
	if (text_clean("a\tb\x01", 4, out, sizeof(out)) == 0)
		return CHAT_EINVAL;
	return 0;
}

/* ---- parsers that allocate --------------------------------------------- */

struct sse_got {
	int events;
	int bad;
};

static int sse_on_event(void *arg, const struct sse_event *ev)
{
	struct sse_got *g = arg;

	g->events++;
	if (strcmp(ev->event, g->events == 1 ? "message" : "delta") != 0 ||
	    strcmp(ev->data, g->events == 1 ? "one\ntwo" : "three") != 0)
		g->bad = 1;
	return 0;
}

static int op_sse(void *arg)
{
	static const char text[] = "\xEF\xBB\xBF: hi\r\ndata: one\r\n"
		"data: two\r\nid: 7\r\n\r\nevent: delta\ndata: three\n\n";
	struct sse_parser p;
	struct sse_got g = { 0, 0 };
	size_t i;
	int rc = 0;

	(void)arg;
	sse_parse_init(&p, 0, sse_on_event, NULL, &g);
	/* three bytes a read: every buffer grows more than once */
	for (i = 0; rc == 0 && i < sizeof(text) - 1; i += 3)
		rc = sse_parse_feed(&p, text + i,
				    sizeof(text) - 1 - i < 3 ?
				    sizeof(text) - 1 - i : 3);
	if (rc == 0 && (g.events != 2 || g.bad))
		rc = CHAT_EPARSE;
	sse_parse_release(&p);
	return rc;
}

static int op_json(void *arg)
{
	struct buf body;
	cJSON *obj = NULL;
	const char *s = NULL;
	char err[128], *printed = NULL;
	int64_t v = 0;
	int i, rc;

	(void)arg;
	/* more keys than json.c keeps inline: its key array goes to the
	 * heap */
	buf_init(&body, 1 << 16);
	rc = buf_puts(&body, "{\"name\":\"x\\u00e9\",\"n\":[1,{\"a\":true}]");
	for (i = 0; rc == 0 && i < 40; i++)
		rc = buf_printf(&body, ",\"k%d\":%d", i, i);
	if (rc == 0)
		rc = buf_puts(&body, "}");
	if (rc < 0)
		goto out;
	rc = json_parse_body(body.data, body.len, &obj, err, sizeof(err));
	if (rc < 0)
		goto out;
	rc = json_get_string(obj, "name", true, 1, 16, &s, err, sizeof(err));
	if (rc == 0)
		rc = json_get_int(obj, "k39", true, 0, 100, &v, err,
				  sizeof(err));
	if (rc == 0 && (strcmp(s, "x\xC3\xA9") != 0 || v != 39))
		rc = CHAT_EPARSE;
	if (rc < 0)
		goto out;
	printed = json_print(obj);
	if (!printed) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	if (strncmp(printed, "{\"name\":", 8) != 0)
		rc = CHAT_EPARSE;
out:
	free(printed);
	cJSON_Delete(obj);
	buf_release(&body);
	return rc;
}

/* ---- HTTP answers ------------------------------------------------------ */

static const char http_answer[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n"
	"Transfer-Encoding: chunked\r\n\r\n"
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

struct http_got {
	struct buf body;
	int status;
};

static int http_on_head(void *arg, int status, const char *const *headers,
			size_t n)
{
	struct http_got *g = arg;

	(void)headers;
	g->status = n == 3 ? status : -1;
	return 0;
}

static int http_on_data(void *arg, const char *data, size_t len)
{
	struct http_got *g = arg;

	return buf_append(&g->body, data, len);
}

static int http_check(int rc, int status, const struct buf *body)
{
	if (rc < 0)
		return rc;
	if (status != 200 || body->len != 11 ||
	    memcmp(body->data, "hello world", 11) != 0)
		return CHAT_EPARSE;
	return 0;
}

static int op_http_loop(void *arg)
{
	static const struct http_client_cb cb = {
		.on_head = http_on_head, .on_data = http_on_data,
	};
	struct http_got g = { .status = 0 };
	bool keep = false;
	int rc;

	(void)arg;
	buf_init(&g.body, 1 << 16);
	/* in reads of 7 bytes: the head buffer grows across reads */
	rc = http_loop_parse(http_answer, sizeof(http_answer) - 1, 7, false,
			     0, &cb, &g, &keep);
	rc = http_check(rc, g.status, &g.body);
	if (rc == 0 && !keep)
		rc = CHAT_EPARSE;
	buf_release(&g.body);
	return rc;
}

static int op_http_fetch(void *arg)
{
	struct buf body;
	int status = 0, rc;

	(void)arg;
	buf_init(&body, 1 << 16);
	rc = http_fetch_parse(http_answer, sizeof(http_answer) - 1, 7, false,
			      0, &status, &body);
	rc = http_check(rc, status, &body);
	buf_release(&body);
	return rc;
}

/* ---- the SQLite store -------------------------------------------------- */

struct store {
	char dir[64];
	char path[128];
};

/* A new file for each run: a run that failed halfway leaves a store in
 * a state the next must not depend on. */
static void store_wipe(const struct store *s)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", s->path, suffix[i]);
		unlink(p);
	}
}

/* Rows enough for db_rows to grow both its cell and its byte arrays. */
#define STORE_ROWS 8

static int op_store(void *arg)
{
	static const struct db_migration mig[] = {
		{ 1, "items", "CREATE TABLE items (id TEXT PRIMARY KEY, "
		  "qty BIGINT, note TEXT)", NULL },
	};
	struct store *s = arg;
	struct db *db = NULL;
	struct db_conn *c = NULL;
	struct db_rows *rows = NULL;
	char uri[160], err[256], id[8], note[101];
	int64_t changes = 0;
	size_t i;
	int rc;

	store_wipe(s);
	memset(note, 'n', sizeof(note) - 1);
	note[sizeof(note) - 1] = '\0';
	snprintf(uri, sizeof(uri), "sqlite:%s", s->path);
	/* two connections: the pool opens both */
	rc = db_open(uri, NULL, "alloc", 2, &db, err, sizeof(err));
	if (rc < 0)
		goto out;
	rc = db_migrate(db, mig, 1, err, sizeof(err));
	if (rc < 0)
		goto out;
	rc = db_acquire(db, 1000, &c);
	if (rc < 0)
		goto out;
	rc = db_begin(c);
	for (i = 0; rc == 0 && i < STORE_ROWS; i++) {
		snprintf(id, sizeof(id), "i%zu", i);
		rc = db_exec(c, "INSERT INTO items (id, qty, note) "
			     "VALUES ($1, $2, $3)",
			     (struct db_param[]){ db_p_text(id),
						  DB_P_INT((int64_t)i),
						  i ? db_p_text(note) :
						  DB_P_NULL }, 3, &changes);
		if (rc == 0 && changes != 1)
			rc = CHAT_EDB;
	}
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		goto out;
	rc = db_query(c, "SELECT id, qty, note FROM items WHERE qty >= $1 "
		      "ORDER BY qty", (struct db_param[]){ DB_P_INT(0) }, 1,
		      &rows);
	if (rc < 0)
		goto out;
	if (db_rows_count(rows) != STORE_ROWS || db_rows_columns(rows) != 3)
		rc = CHAT_EDB;
	for (i = 0; rc == 0 && i < STORE_ROWS; i++) {
		snprintf(id, sizeof(id), "i%zu", i);
		if (strcmp(db_rows_get(rows, i, 0), id) != 0 ||
		    db_rows_int(rows, i, 1, -1) != (int64_t)i ||
		    (i ? strcmp(db_rows_get(rows, i, 2), note) != 0 :
		     db_rows_get(rows, i, 2) != NULL))
			rc = CHAT_EDB;
	}
out:
	db_rows_free(rows);
	if (c)
		db_release(c);
	db_close(db);
	return rc;
}

/* ---- cases ------------------------------------------------------------- */

struct alloc_case {
	const char *name;
	alloc_fail_fn fn;
	bool allocates;		/* false: must not allocate at all */
};

static const struct alloc_case alloc_cases[] = {
	{ "http1", op_http1, false },
	{ "ws-frame", op_ws_frame, false },
	{ "uuid, b64url, text", op_small, false },
	{ "sse-parse", op_sse, true },
	{ "json", op_json, true },
	{ "http_loop_parse", op_http_loop, true },
	{ "http_fetch_parse", op_http_fetch, true },
};

static void test_alloc_fail__parsers(void **state)
{
	size_t i;
	long runs;

	(void)state;
	for (i = 0; i < sizeof(alloc_cases) / sizeof(alloc_cases[0]); i++) {
		runs = alloc_fail_loop(alloc_cases[i].name, alloc_cases[i].fn,
				       NULL);
		if (alloc_cases[i].allocates ? runs == 0 : runs != 0)
			fail_msg("%s: %ld allocations", alloc_cases[i].name,
				 runs);
	}
}

static void test_alloc_fail__store(void **state)
{
	struct store s;

	(void)state;
	snprintf(s.dir, sizeof(s.dir), "/tmp/test-alloc-fail.XXXXXX");
	assert_non_null(mkdtemp(s.dir));
	snprintf(s.path, sizeof(s.path), "%s/alloc.db", s.dir);
	assert_true(alloc_fail_loop("sqlite store", op_store, &s) > 0);
	store_wipe(&s);
	rmdir(s.dir);
}

static int group_setup(void **state)
{
	(void)state;
	/* the store logs each migration and each failure: thousands of
	 * runs would bury cmocka's report */
	log_init("test-alloc-fail", LOG_LERROR);
	log_level_current = LOG_LERROR + 1;
	return alloc_fail_hook_libraries();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_fail__parsers),
		cmocka_unit_test(test_alloc_fail__store),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
