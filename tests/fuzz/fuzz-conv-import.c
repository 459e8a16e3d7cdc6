/*
 * fuzz-conv-import.c - libFuzzer target for `chatctl conv import`'s
 * reader (cli/conv-io.c, ctl_conv_parse): the input is the file's bytes,
 * our own export or a ChatGPT data export's conversations.json, whose
 * mapping trees are converted into our message trees.
 *
 * Beyond memory safety it checks what chatd's import is sent: an array
 * of conversation objects; our own export passed on as it is; and a
 * converted ChatGPT conversation a tree: messages with unique ids, each
 * parent an earlier message (so there is no cycle), user or assistant
 * turns with text, and a current leaf that is one of them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/chatctl.h"

#include "fuzz.h"

/* cli/main.c's, which the target does not link (ctl_conv_parse prints
 * nothing, but conv-io.c's other functions name them). */
volatile sig_atomic_t cli_interrupted;

void cli_error(const char *fmt, ...)
{
	(void)fmt;
}

void cli_warn(const char *fmt, ...)
{
	(void)fmt;
}

/* The index of the message with id in msgs before index end, -1. */
static int find_before(const cJSON *msgs, const char *id, int end)
{
	const cJSON *m;
	int i = 0;

	cJSON_ArrayForEach(m, msgs) {
		if (i >= end)
			break;
		if (strcmp(json_str(m, "id"), id) == 0)
			return i;
		i++;
	}
	return -1;
}

/* A conversation converted from ChatGPT's form: a message tree. */
static void check_converted(const cJSON *conv)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(conv, "messages");
	const cJSON *m, *parent;
	const char *role, *leaf = json_str(conv, "current_leaf_id");
	int i = 0;

	FUZZ_CHECK(cJSON_IsArray(msgs) && cJSON_GetArraySize(msgs) > 0);
	cJSON_ArrayForEach(m, msgs) {
		FUZZ_CHECK(json_str(m, "id"));
		FUZZ_CHECK(find_before(msgs, json_str(m, "id"), i) < 0);
		parent = cJSON_GetObjectItemCaseSensitive(m, "parent_id");
		FUZZ_CHECK(cJSON_IsNull(parent) || cJSON_IsString(parent));
		FUZZ_CHECK(!cJSON_IsString(parent) ||
			   find_before(msgs, parent->valuestring, i) >= 0);
		role = json_str(m, "role");
		FUZZ_CHECK(role && (strcmp(role, "user") == 0 ||
				    strcmp(role, "assistant") == 0));
		FUZZ_CHECK(json_str(m, "content") && json_str(m, "content")[0]);
		i++;
	}
	FUZZ_CHECK(!leaf || find_before(msgs, leaf, i) >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	cJSON *all, *in;
	const cJSON *c;
	bool ours;

	err[0] = '\0';
	all = ctl_conv_parse((const char *)data, size, err, sizeof(err));
	if (!all) {
		FUZZ_CHECK(err[0] && strlen(err) < sizeof(err));
		return 0;
	}
	FUZZ_CHECK(cJSON_IsArray(all) && cJSON_GetArraySize(all) > 0);
	in = cJSON_ParseWithLength((const char *)data, size);
	FUZZ_CHECK(in);
	ours = cJSON_IsObject(in) &&
	       cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(in, "messages"));
	if (ours) {
		/* ours goes to chatd as it is: chatd checks it */
		FUZZ_CHECK(cJSON_GetArraySize(all) == 1);
		/* the same text printed back, not cJSON_Compare: that looks
		 * each key up by name, and a key twice in an object (which
		 * chatd refuses) finds the first one both times */
		{
			char *a = cJSON_PrintUnformatted(all->child);
			char *b = cJSON_PrintUnformatted(in);

			FUZZ_CHECK(a && b && strcmp(a, b) == 0);
			free(a);
			free(b);
		}
	} else {
		cJSON_ArrayForEach(c, all) {
			FUZZ_CHECK(cJSON_IsObject(c));
			check_converted(c);
		}
	}
	cJSON_Delete(in);
	cJSON_Delete(all);
	return 0;
}
