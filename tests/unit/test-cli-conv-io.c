/* test-cli-conv-io.c - the conversion of a ChatGPT data export into
 * chatctl's import form (cli/conv-io.c, ctl_conv_from_chatgpt): the
 * mapping tree walked parents first, hidden nodes (no message, system,
 * tool calls and answers, no text) left out with their children given to
 * the nearest kept ancestor, the system prompt, the current leaf, and
 * what is refused: no export at all, a tree with a loop or a node
 * reached twice, nothing left. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/chatctl.h"
#include "cli-main-stub.h"
#include "banned.h"

/* Node helpers for the cases: N(id, parent, children, message). */
#define MSG(role, text) \
	"{\"author\":{\"role\":\"" role "\"},\"content\":{\"content_type\":" \
	"\"text\",\"parts\":[\"" text "\"]},\"recipient\":\"all\"}"
#define NODE(id, parent, kids, msg) \
	"\"" id "\":{\"id\":\"" id "\",\"parent\":" parent ",\"children\":[" \
	kids "],\"message\":" msg "}"

static const struct {
	const char *name;
	const char *in;
	const char *messages;	/* [[id, parent_id, role, content]...] */
	const char *system;	/* NULL: none */
	const char *leaf;	/* NULL: none */
} ok_cases[] = {
	{ "a null root, a question and its answer",
	  "{\"title\":\"t\",\"current_node\":\"a\",\"mapping\":{"
	  NODE("r", "null", "\"u\"", "null") ","
	  NODE("u", "\"r\"", "\"a\"", MSG("user", "hi")) ","
	  NODE("a", "\"u\"", "", MSG("assistant", "hello")) "}}",
	  "[[\"u\",null,\"user\",\"hi\"],[\"a\",\"u\",\"assistant\","
	  "\"hello\"]]", NULL, "a" },
	{ "a system text is the prompt; a branch keeps its order",
	  "[{\"current_node\":\"a1\",\"mapping\":{"
	  NODE("r", "null", "\"s\"", "null") ","
	  NODE("s", "\"r\"", "\"u\"", MSG("system", "be brief")) ","
	  NODE("u", "\"s\"", "\"a1\",\"a2\"", MSG("user", "q")) ","
	  NODE("a2", "\"u\"", "", MSG("assistant", "second")) ","
	  NODE("a1", "\"u\"", "", MSG("assistant", "first")) "}}]",
	  "[[\"u\",null,\"user\",\"q\"],[\"a1\",\"u\",\"assistant\","
	  "\"first\"],[\"a2\",\"u\",\"assistant\",\"second\"]]",
	  "be brief", "a1" },
	{ "a tool call and its answer are left out, the answer re-parented",
	  "{\"current_node\":\"t\",\"mapping\":{"
	  NODE("u", "null", "\"c\"", MSG("user", "look it up")) ","
	  NODE("c", "\"u\"", "\"t\"",
	       "{\"author\":{\"role\":\"assistant\"},\"recipient\":"
	       "\"browser\",\"content\":{\"content_type\":\"code\","
	       "\"text\":\"search()\"}}") ","
	  NODE("t", "\"c\"", "\"a\"", MSG("tool", "results")) ","
	  NODE("a", "\"t\"", "", MSG("assistant", "found")) "}}",
	  "[[\"u\",null,\"user\",\"look it up\"],[\"a\",\"u\",\"assistant\","
	  "\"found\"]]", NULL, "u" },
	{ "an empty system message and an image part are dropped",
	  "{\"mapping\":{"
	  NODE("s", "null", "\"u\"", MSG("system", "")) ","
	  NODE("u", "\"s\"", "",
	       "{\"author\":{\"role\":\"user\"},\"content\":{"
	       "\"content_type\":\"multimodal_text\",\"parts\":[{\"asset\":"
	       "1},\"what is this\"]}}") "}}",
	  "[[\"u\",null,\"user\",\"what is this\"]]", NULL, NULL },
};

static const struct {
	const char *name;
	const char *in;
} bad_cases[] = {
	{ "an object that is no export", "{\"name\":\"x\"}" },
	{ "an empty array", "[]" },
	{ "an array of numbers", "[1,2]" },
	{ "a string", "\"conversations\"" },
	{ "nothing kept", "{\"mapping\":{" NODE("r", "null", "", "null") "}}" },
	{ "a loop under the root",
	  "{\"mapping\":{" NODE("r", "null", "\"a\"", "null") ","
	  NODE("a", "\"r\"", "\"b\"", MSG("user", "x")) ","
	  NODE("b", "\"a\"", "\"a\"", MSG("assistant", "y")) "}}" },
	/* found by tests/fuzz/fuzz-conv-import.c: a node walked twice was
	 * two messages with one id (the loop guard counted visits against
	 * the mapping's size, which nodes never reached leave room in) */
	{ "a node that is a root and a child",
	  "{\"mapping\":{" NODE("u", "null", "\"a\"", MSG("user", "x")) ","
	  NODE("a", "null", "", MSG("assistant", "y")) ","
	  NODE("x", "\"gone\"", "", MSG("user", "z")) "}}" },
	{ "a child listed twice",
	  "{\"mapping\":{" NODE("u", "null", "\"a\",\"a\"", MSG("user", "x"))
	  "," NODE("a", "\"u\"", "", MSG("assistant", "y")) ","
	  NODE("x", "\"gone\"", "", MSG("user", "z")) "}}" },
	{ "an id twice in the mapping",
	  "{\"mapping\":{" NODE("u", "null", "", MSG("user", "x")) ","
	  NODE("u", "null", "", MSG("user", "x")) "}}" },
	{ "a child that is not in the mapping",
	  "{\"mapping\":{" NODE("u", "null", "\"gone\"", MSG("user", "x"))
	  "}}" },
	{ "one good conversation and one without a tree",
	  "[{\"mapping\":{" NODE("u", "null", "", MSG("user", "x")) "}},"
	  "{\"title\":\"no mapping\"}]" },
};

/* [[id, parent_id, role, content]...] of a converted conversation. */
static char *shape(const cJSON *conv)
{
	const cJSON *m;
	cJSON *out = cJSON_CreateArray(), *row;
	char *text;

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(conv,
							       "messages")) {
		row = cJSON_CreateArray();
		cJSON_AddItemToArray(row, cJSON_CreateString(json_str(m,
								     "id")));
		cJSON_AddItemToArray(row, json_str(m, "parent_id") ?
				     cJSON_CreateString(json_str(m,
								 "parent_id")) :
				     cJSON_CreateNull());
		cJSON_AddItemToArray(row,
				     cJSON_CreateString(json_str(m, "role")));
		cJSON_AddItemToArray(row, cJSON_CreateString(json_str(
					     m, "content")));
		cJSON_AddItemToArray(out, row);
	}
	text = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return text;
}

static void test_cli_conv_io__chatgpt_trees(void **state)
{
	char err[256], *got;
	cJSON *in, *all;
	const cJSON *conv;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		in = cJSON_Parse(ok_cases[i].in);
		assert_non_null(in);
		all = ctl_conv_from_chatgpt(in, err, sizeof(err));
		if (!all)
			fail_msg("%s: refused: %s", ok_cases[i].name, err);
		assert_int_equal(cJSON_GetArraySize(all), 1);
		conv = cJSON_GetArrayItem(all, 0);
		got = shape(conv);
		if (strcmp(got, ok_cases[i].messages) != 0)
			fail_msg("%s:\n got %s\nwant %s", ok_cases[i].name, got,
				 ok_cases[i].messages);
		free(got);
		if (ok_cases[i].system)
			assert_string_equal(json_str(conv, "system_prompt"),
					    ok_cases[i].system);
		else
			assert_null(json_str(conv, "system_prompt"));
		if (ok_cases[i].leaf)
			assert_string_equal(json_str(conv, "current_leaf_id"),
					    ok_cases[i].leaf);
		else
			assert_null(json_str(conv, "current_leaf_id"));
		cJSON_Delete(all);
		cJSON_Delete(in);
	}
}

static void test_cli_conv_io__chatgpt_refused(void **state)
{
	char err[256];
	cJSON *in, *all;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		in = cJSON_Parse(bad_cases[i].in);
		assert_non_null(in);
		err[0] = '\0';
		all = ctl_conv_from_chatgpt(in, err, sizeof(err));
		if (all)
			fail_msg("%s: taken", bad_cases[i].name);
		assert_true(err[0] != '\0');
		cJSON_Delete(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_conv_io__chatgpt_trees),
		cmocka_unit_test(test_cli_conv_io__chatgpt_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
