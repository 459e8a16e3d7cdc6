/* test-tui-state.c - chatui's state reducers (tui/state.c): the list,
 * opening a conversation, and /v1/ws events: a new turn, deltas, done,
 * an edit (new branch), a regenerate, another device's leaf move,
 * deletion, reset, and malformed frames; a long branch opened at its
 * end and paged back to its root (state_prepend), with stale and
 * malformed pages and edits at the edge of what is loaded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../tui/chatui.h"

#define C1 "c0000000-0000-7000-8000-000000000001"
#define C2 "c0000000-0000-7000-8000-000000000002"

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	assert_non_null(j);
	return j;
}

static int apply(struct state *st, const char *frame)
{
	cJSON *j = parse(frame);
	int rc = state_apply_frame(st, j);

	cJSON_Delete(j);
	return rc;
}

static const char *msg_json(char *out, size_t len, const char *id,
			    const char *parent, const char *role,
			    const char *content, const char *status)
{
	snprintf(out, len, "{\"id\":\"%s\",\"conversation_id\":\"" C1 "\","
		 "\"parent_id\":%s%s%s,\"role\":\"%s\",\"content\":\"%s\","
		 "\"model\":null,\"status\":\"%s\",\"error\":null,"
		 "\"usage\":null}", id, parent ? "\"" : "",
		 parent ? parent : "null", parent ? "\"" : "", role, content,
		 status);
	return out;
}

static int event(struct state *st, const char *type, const char *data)
{
	char f[4096];

	snprintf(f, sizeof(f), "{\"type\":\"%s\",\"id\":\"100\","
		 "\"conversation_id\":\"" C1 "\",\"data\":%s}", type, data);
	return apply(st, f);
}

/* A conversation C1 open with u1 -> a1. */
static void open_two(struct state *st)
{
	cJSON *j = parse("{\"id\":\"" C1 "\",\"title\":\"t\",\"model\":null,"
		"\"system_prompt\":null,\"archived\":false,"
		"\"current_leaf_id\":\"a1\",\"created_at\":\"x\","
		"\"updated_at\":\"2025-01-01T00:00:00.000Z\",\"messages\":["
		"{\"id\":\"u1\",\"parent_id\":null,\"role\":\"user\","
		"\"content\":\"hi\",\"status\":\"complete\","
		"\"sibling_ids\":[\"u1\"]},"
		"{\"id\":\"a1\",\"parent_id\":\"u1\",\"role\":\"assistant\","
		"\"content\":\"hello\",\"status\":\"complete\",\"model\":\"echo\","
		"\"usage\":{\"completion_tokens\":1,\"latency_ms\":5},"
		"\"sibling_ids\":[\"a1\"]}]}");

	state_init(st);
	assert_int_equal(state_open(st, j), 0);
	cJSON_Delete(j);
	assert_int_equal(st->nmsgs, 2);
}

static void test_tui_state__list(void **state)
{
	struct state st;
	cJSON *j = parse("{\"data\":[{\"id\":\"" C1 "\",\"title\":\"one\","
		"\"archived\":false,\"updated_at\":\"2025-01-02\"},"
		"{\"id\":\"" C2 "\",\"title\":null,\"archived\":false,"
		"\"updated_at\":\"2025-01-01\"},{\"no\":\"id\"}],"
		"\"next_cursor\":null}");
	int rc;

	(void)state;
	state_init(&st);
	assert_int_equal(state_set_list(&st, j), 0);
	cJSON_Delete(j);
	assert_int_equal(st.nconvs, 2);	/* the one without id is skipped */
	assert_string_equal(st.convs[0].title, "one");
	assert_null(st.convs[1].title);
	/* activity in C2 brings it to the front */
	rc = apply(&st, "{\"type\":\"message\",\"id\":\"1\",\"conversation_id\":"
		   "\"" C2 "\",\"data\":{\"id\":\"m\",\"role\":\"user\"}}");
	assert_true(rc & ST_LIST);
	assert_string_equal(st.convs[0].id, C2);
	/* an unknown conversation asks for a new list */
	rc = apply(&st, "{\"type\":\"done\",\"id\":\"2\",\"conversation_id\":"
		   "\"c9\",\"data\":{\"id\":\"m\",\"role\":\"assistant\"}}");
	assert_true(rc & ST_RELIST);
	/* a conversation event of a new one puts it first */
	rc = apply(&st, "{\"type\":\"conversation\",\"id\":\"3\","
		   "\"conversation_id\":\"c3\",\"data\":{\"id\":\"c3\","
		   "\"title\":\"new\",\"archived\":false,"
		   "\"updated_at\":\"2025-01-03\"}}");
	assert_true(rc & ST_LIST);
	assert_string_equal(st.convs[0].id, "c3");
	assert_int_equal(st.nconvs, 3);
	rc = apply(&st, "{\"type\":\"conversation_deleted\",\"id\":\"4\","
		   "\"conversation_id\":\"c3\",\"data\":{\"id\":\"c3\"}}");
	assert_true(rc & ST_LIST);
	assert_int_equal(st.nconvs, 2);
	assert_int_equal(state_find_conv(&st, "c3"), -1);
	state_release(&st);
}

static void test_tui_state__turn(void **state)
{
	struct state st;
	char m[1024];
	char h[17];
	int rc;

	(void)state;
	open_two(&st);
	rc = event(&st, "message", msg_json(m, sizeof(m), "u2", "a1", "user",
					    "more", "complete"));
	assert_true(rc & ST_MSGS);
	assert_true(rc & ST_ACK);
	state_hash("more", 4, h);
	assert_string_equal(st.ack_content_hash, h);
	assert_int_equal(st.nmsgs, 3);
	/* the same event again (a replay) changes nothing */
	rc = event(&st, "message", msg_json(m, sizeof(m), "u2", "a1", "user",
					    "more", "complete"));
	assert_false(rc & (ST_MSGS | ST_ACK));	/* C1 is not listed: RELIST */
	assert_int_equal(st.nmsgs, 3);
	rc = event(&st, "delta", "{\"message_id\":\"a2\",\"text\":\"mo\"}");
	assert_true(rc & ST_MSGS);
	assert_true(rc & ST_MSG);
	assert_int_equal(st.nmsgs, 4);
	assert_string_equal(st.msgs[3].parent_id, "u2");
	assert_string_equal(st.streaming_id, "a2");
	rc = event(&st, "delta", "{\"message_id\":\"a2\",\"text\":\"re\"}");
	assert_int_equal(rc & ~ST_RELIST, ST_MSG);
	assert_int_equal(st.changed, 3);
	assert_string_equal(st.msgs[3].content.data, "more");
	/* done replaces the text whole (repairs any doubled delta) */
	rc = event(&st, "done", msg_json(m, sizeof(m), "a2", "u2", "assistant",
					 "more!", "complete"));
	assert_true(rc & ST_STREAM_END);
	assert_string_equal(st.msgs[3].content.data, "more!");
	assert_string_equal(st.streaming_id, "");
	assert_int_equal(st.msgs[3].nsiblings, 1);
	/* events of another conversation leave this one alone */
	rc = apply(&st, "{\"type\":\"delta\",\"id\":\"9\",\"conversation_id\":"
		   "\"" C2 "\",\"data\":{\"message_id\":\"x\",\"text\":\"y\"}}");
	assert_false(rc & (ST_MSG | ST_MSGS));
	assert_int_equal(st.nmsgs, 4);
	state_release(&st);
}

static void test_tui_state__edit_branch(void **state)
{
	struct state st;
	char m[1024];
	int rc;

	(void)state;
	open_two(&st);
	/* u1 edited: a new root u1b replaces the branch */
	rc = event(&st, "message", msg_json(m, sizeof(m), "u1b", NULL, "user",
					    "hi again", "complete"));
	assert_true(rc & ST_MSGS);
	assert_int_equal(st.nmsgs, 1);
	assert_string_equal(st.msgs[0].id, "u1b");
	assert_int_equal(st.msgs[0].nsiblings, 2);
	assert_string_equal(st.msgs[0].siblings[0], "u1");
	assert_string_equal(st.msgs[0].siblings[1], "u1b");
	state_release(&st);
}

static void test_tui_state__regenerate(void **state)
{
	struct state st;
	char m[1024];
	int rc;

	(void)state;
	open_two(&st);
	/* the message event of a regenerate names the question */
	rc = event(&st, "message", msg_json(m, sizeof(m), "u1", NULL, "user",
					    "hi", "complete"));
	assert_true(rc & ST_MSGS);
	assert_false(rc & ST_ACK);
	assert_int_equal(st.nmsgs, 2);
	assert_string_equal(st.msgs[1].content.data, "");
	rc = event(&st, "delta", "{\"message_id\":\"a1b\",\"text\":\"yo\"}");
	assert_true(rc & ST_MSG);
	assert_int_equal(st.nmsgs, 2);
	assert_string_equal(st.msgs[1].id, "a1b");
	assert_string_equal(st.msgs[1].content.data, "yo");
	assert_int_equal(st.msgs[1].nsiblings, 2);
	assert_string_equal(st.msgs[1].siblings[0], "a1");
	assert_string_equal(st.msgs[1].siblings[1], "a1b");
	rc = event(&st, "error", "{\"error\":{\"code\":\"upstream_error\","
		   "\"message\":\"boom\"},\"message\":{\"id\":\"a1b\","
		   "\"parent_id\":\"u1\",\"role\":\"assistant\",\"content\":"
		   "\"yo\",\"status\":\"error\",\"error\":{\"code\":\"x\","
		   "\"message\":\"boom\"}}}");
	assert_true(rc & ST_STREAM_END);
	assert_string_equal(st.last_error, "boom");
	assert_string_equal(st.msgs[1].error, "boom");
	assert_int_equal(st.msgs[1].nsiblings, 2);	/* kept */
	state_release(&st);
}

static void test_tui_state__leaf_moved(void **state)
{
	struct state st;
	int rc;

	(void)state;
	open_two(&st);
	/* another device switched to a branch ending in u1: reload */
	rc = apply(&st, "{\"type\":\"conversation\",\"id\":\"5\","
		   "\"conversation_id\":\"" C1 "\",\"data\":{\"id\":\"" C1
		   "\",\"title\":\"renamed\",\"archived\":false,"
		   "\"current_leaf_id\":\"u1\",\"updated_at\":\"2025-02\"}}");
	assert_true(rc & ST_CONV);
	assert_true(rc & ST_REFETCH);
	assert_string_equal(st.cur.title, "renamed");
	/* a rename alone does not */
	rc = apply(&st, "{\"type\":\"conversation\",\"id\":\"6\","
		   "\"conversation_id\":\"" C1 "\",\"data\":{\"id\":\"" C1
		   "\",\"title\":\"again\",\"archived\":false,"
		   "\"current_leaf_id\":\"u1\",\"updated_at\":\"2025-03\"}}");
	assert_false(rc & ST_REFETCH);
	rc = apply(&st, "{\"type\":\"reset\",\"id\":\"7\",\"conversation_id\":"
		   "null,\"data\":{\"reason\":\"gap\"}}");
	assert_true(rc & ST_REFETCH);
	assert_true(rc & ST_RELIST);
	rc = apply(&st, "{\"type\":\"conversation_deleted\",\"id\":\"8\","
		   "\"conversation_id\":\"" C1 "\",\"data\":{\"id\":\"" C1
		   "\"}}");
	assert_true(rc & ST_CLOSED);
	assert_false(st.open);
	assert_int_equal(st.nmsgs, 0);
	state_release(&st);
}

static void test_tui_state__malformed(void **state)
{
	struct state st;
	cJSON *j;

	(void)state;
	open_two(&st);
	assert_true(apply(&st, "{\"no\":\"type\"}") < 0);
	assert_true(event(&st, "delta", "{\"text\":\"x\"}") < 0);
	assert_true(event(&st, "message", "{\"role\":\"user\"}") < 0);
	assert_int_equal(apply(&st, "{\"type\":\"pong\",\"ref\":1}"), 0);
	j = parse("{\"data\":\"not an array\"}");
	assert_true(state_set_list(&st, j) < 0);
	cJSON_Delete(j);
	j = parse("{\"id\":\"x\"}");
	assert_true(state_open(&st, j) < 0);
	cJSON_Delete(j);
	state_release(&st);
}

/* "m<i>" for i >= 1; message i's parent is message i - 1. */
static void mid(char *out, size_t len, int i)
{
	snprintf(out, len, "m%d", i);
}

/* A chain message i of the long branch (odd: user, even: assistant). */
static cJSON *chain_msg(int i)
{
	cJSON *m = cJSON_CreateObject();
	char id[32], parent[32], text[64];

	assert_non_null(m);
	mid(id, sizeof(id), i);
	mid(parent, sizeof(parent), i - 1);
	snprintf(text, sizeof(text), "message %d", i);
	cJSON_AddStringToObject(m, "id", id);
	if (i > 1)
		cJSON_AddStringToObject(m, "parent_id", parent);
	else
		cJSON_AddNullToObject(m, "parent_id");
	cJSON_AddStringToObject(m, "role", i % 2 ? "user" : "assistant");
	cJSON_AddStringToObject(m, "content", text);
	cJSON_AddStringToObject(m, "status", "complete");
	return m;
}

/* Messages from..to (1-based, inclusive) of the chain, root first, and
 * messages_before: the parent of `from` (null when from is 1). */
static cJSON *chain_page(int from, int to)
{
	cJSON *p = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	char before[32];
	int i;

	assert_non_null(p);
	assert_non_null(arr);
	for (i = from; i <= to; i++)
		cJSON_AddItemToArray(arr, chain_msg(i));
	cJSON_AddItemToObject(p, "messages", arr);
	mid(before, sizeof(before), from - 1);
	if (from > 1)
		cJSON_AddStringToObject(p, "messages_before", before);
	else
		cJSON_AddNullToObject(p, "messages_before");
	return p;
}

/* C1 opened with messages from..to of a chain of `to` (a ?messages=N
 * answer). */
static void open_chain(struct state *st, int from, int to)
{
	cJSON *j = chain_page(from, to);
	char leaf[32];

	mid(leaf, sizeof(leaf), to);
	cJSON_AddStringToObject(j, "id", C1);
	cJSON_AddStringToObject(j, "current_leaf_id", leaf);
	cJSON_AddStringToObject(j, "updated_at", "2025-01-01T00:00:00.000Z");
	state_init(st);
	assert_int_equal(state_open(st, j), 0);
	cJSON_Delete(j);
}

static int prepend(struct state *st, const char *conv, int from, int to)
{
	cJSON *p = chain_page(from, to);
	int rc = state_prepend(st, conv, p);

	cJSON_Delete(p);
	return rc;
}

/* The loaded messages are exactly from..to, in order. */
static void assert_chain(const struct state *st, int from, int to)
{
	char id[32];
	int i;

	assert_int_equal(st->nmsgs, (size_t)(to - from + 1));
	for (i = from; i <= to; i++) {
		mid(id, sizeof(id), i);
		assert_string_equal(st->msgs[i - from].id, id);
	}
}

static void test_tui_state__page_back_to_root(void **state)
{
	struct state st;
	int rc;

	(void)state;
	open_chain(&st, 801, 1000);
	assert_true(state_partial(&st));
	assert_string_equal(st.msgs_before, "m800");
	assert_chain(&st, 801, 1000);
	/* pages of 200 back to the root, then the root's page */
	rc = prepend(&st, C1, 601, 800);
	assert_int_equal(rc, ST_MSGS | ST_OLDER);
	assert_int_equal(st.prepended, 200);
	assert_string_equal(st.msgs_before, "m600");
	assert_chain(&st, 601, 1000);
	rc = prepend(&st, C1, 2, 600);
	assert_int_equal(rc, ST_MSGS | ST_OLDER);
	assert_int_equal(st.prepended, 599);
	assert_true(state_partial(&st));
	rc = prepend(&st, C1, 1, 1);
	assert_int_equal(rc, ST_MSGS | ST_OLDER);
	assert_false(state_partial(&st));
	assert_string_equal(st.msgs_before, "");
	assert_chain(&st, 1, 1000);
	assert_string_equal(st.msgs[0].content.data, "message 1");
	assert_int_equal(st.msgs[0].role, ROLE_USER);
	assert_int_equal(st.msgs[1].role, ROLE_ASSISTANT);
	/* complete: another page changes nothing */
	assert_int_equal(prepend(&st, C1, 1, 1), 0);
	assert_chain(&st, 1, 1000);
	/* a plain GET (no messages_before) is the whole branch */
	state_release(&st);
	open_two(&st);
	assert_false(state_partial(&st));
	state_release(&st);
}

static void test_tui_state__page_stale_or_bad(void **state)
{
	struct state st;
	cJSON *p;

	(void)state;
	open_chain(&st, 51, 60);
	/* a page that does not end at msgs_before (asked before a reload
	 * or for another branch), or of another conversation: dropped */
	assert_int_equal(prepend(&st, C1, 31, 49), 0);
	assert_int_equal(prepend(&st, C2, 41, 50), 0);
	assert_chain(&st, 51, 60);
	/* malformed: nothing changes */
	p = parse("{\"messages_before\":null}");
	assert_int_equal(state_prepend(&st, C1, p), CHAT_EPARSE);
	cJSON_Delete(p);
	p = parse("{\"messages\":[],\"messages_before\":null}");
	assert_int_equal(state_prepend(&st, C1, p), CHAT_EPARSE);
	cJSON_Delete(p);
	p = chain_page(41, 50);
	cJSON_DeleteItemFromObject(p, "messages_before");
	assert_int_equal(state_prepend(&st, C1, p), CHAT_EPARSE);
	cJSON_Delete(p);
	/* a gap in the chain (m45 missing) */
	p = chain_page(41, 50);
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(p, "messages"), 4);
	assert_int_equal(state_prepend(&st, C1, p), CHAT_EPARSE);
	cJSON_Delete(p);
	/* messages_before that is not the first one's parent */
	p = chain_page(41, 50);
	cJSON_ReplaceItemInObject(p, "messages_before",
				  cJSON_CreateString("m7"));
	assert_int_equal(state_prepend(&st, C1, p), CHAT_EPARSE);
	cJSON_Delete(p);
	/* a message without an id */
	p = chain_page(41, 50);
	cJSON_DeleteItemFromObject(cJSON_GetArrayItem(
		cJSON_GetObjectItem(p, "messages"), 9), "id");
	assert_int_equal(state_prepend(&st, C1, p), CHAT_EPARSE);
	cJSON_Delete(p);
	assert_chain(&st, 51, 60);
	assert_string_equal(st.msgs_before, "m50");
	/* and the right page still fits */
	assert_int_equal(prepend(&st, C1, 41, 50), ST_MSGS | ST_OLDER);
	assert_chain(&st, 41, 60);
	state_release(&st);
}

static void test_tui_state__partial_edits(void **state)
{
	struct state st;
	char m[1024];
	int rc;

	(void)state;
	/* the oldest loaded message is edited: its parent is not loaded
	 * but is msgs_before, so the new one goes first */
	open_chain(&st, 51, 60);
	rc = event(&st, "message", msg_json(m, sizeof(m), "e51", "m50",
					    "user", "edited", "complete"));
	assert_true(rc & ST_MSGS);
	assert_false(rc & ST_REFETCH);
	assert_int_equal(st.nmsgs, 1);
	assert_string_equal(st.msgs[0].id, "e51");
	assert_string_equal(st.msgs_before, "m50");
	/* the page before still fits in front */
	assert_int_equal(prepend(&st, C1, 41, 50), ST_MSGS | ST_OLDER);
	assert_int_equal(st.nmsgs, 11);
	assert_string_equal(st.msgs[10].id, "e51");
	assert_string_equal(st.msgs[9].id, "m50");
	state_release(&st);
	/* an edit of a message that is not loaded: reload */
	open_chain(&st, 51, 60);
	rc = event(&st, "message", msg_json(m, sizeof(m), "e20", "m19",
					    "user", "edited", "complete"));
	assert_true(rc & ST_REFETCH);
	assert_chain(&st, 51, 60);
	/* the first message edited: a new root, nothing before it */
	rc = event(&st, "message", msg_json(m, sizeof(m), "e1", NULL,
					    "user", "edited", "complete"));
	assert_true(rc & ST_MSGS);
	assert_false(state_partial(&st));
	assert_int_equal(st.nmsgs, 1);
	assert_int_equal(prepend(&st, C1, 41, 50), 0);
	state_release(&st);
	/* a new turn and its answer at the end of a partial branch */
	open_chain(&st, 51, 60);
	rc = event(&st, "message", msg_json(m, sizeof(m), "m61", "m60",
					    "user", "next", "complete"));
	assert_true(rc & ST_MSGS);
	rc = event(&st, "delta", "{\"message_id\":\"m62\",\"text\":\"ok\"}");
	assert_true(rc & ST_MSG);
	assert_int_equal(st.nmsgs, 12);
	assert_string_equal(st.msgs[11].parent_id, "m61");
	assert_true(state_partial(&st));
	state_release(&st);
}

static void test_tui_state__tokens_per_s(void **state)
{
	struct state st;

	(void)state;
	state_init(&st);
	assert_true(state_tokens_per_s(&st, 1000) == 0);
	snprintf(st.streaming_id, sizeof(st.streaming_id), "a");
	st.stream_start_ms = 1000;
	st.stream_bytes = 400;		/* about 100 tokens */
	assert_true(state_tokens_per_s(&st, 1100) == 0);	/* too early */
	assert_true(state_tokens_per_s(&st, 2000) > 99.9);
	assert_true(state_tokens_per_s(&st, 2000) < 100.1);
	state_release(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tui_state__list),
		cmocka_unit_test(test_tui_state__turn),
		cmocka_unit_test(test_tui_state__edit_branch),
		cmocka_unit_test(test_tui_state__regenerate),
		cmocka_unit_test(test_tui_state__leaf_moved),
		cmocka_unit_test(test_tui_state__malformed),
		cmocka_unit_test(test_tui_state__page_back_to_root),
		cmocka_unit_test(test_tui_state__page_stale_or_bad),
		cmocka_unit_test(test_tui_state__partial_edits),
		cmocka_unit_test(test_tui_state__tokens_per_s),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
