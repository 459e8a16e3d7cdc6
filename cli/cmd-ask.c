/*
 * cmd-ask.c - `chatctl ask [PROMPT...]`: one question from the shell or
 * a pipeline, the answer streamed to stdout and nothing else there.
 *
 * The prompt is the arguments, the whole of standard input when it is not
 * a terminal, or both as "PROMPT\n\nSTDIN" (`git diff | chatctl ask
 * "review this"`).  The answer goes to stdout as it arrives; a newline
 * ends it when the answer itself does not end with one, so the output is
 * always whole lines (--json has the exact text).
 */
#include "chatctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "banned.h"

/* Reads all of stdin into b (ceiling: a message's size). */
static int ask_read_stdin(struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR && !cli_interrupted)
			continue;
		if (n < 0) {
			if (cli_interrupted)
				return CLI_INTERRUPTED;
			cli_error("cannot read standard input: %s",
				  strerror(errno));
			return CLI_USAGE;
		}
		if (n == 0)
			return CLI_OK;
		if (buf_append(b, chunk, (size_t)n) < 0) {
			cli_error("the prompt is larger than %d bytes",
				  CLI_CONTENT_MAX);
			return CLI_USAGE;
		}
	}
}

/* The prompt from the arguments and stdin into b. */
static int ask_prompt(struct cli_ctx *ctx, const struct cli_args *a,
		      struct buf *b)
{
	struct buf in;
	int i, rc = CLI_OK;

	buf_init(&in, CLI_CONTENT_MAX);
	for (i = 0; i < a->npos && rc == CLI_OK; i++)
		if (buf_printf(b, "%s%s", i ? " " : "", a->pos[i]) < 0)
			rc = CLI_USAGE;
	if (rc == CLI_OK && !ctx->stdin_tty) {
		rc = ask_read_stdin(&in);
		if (rc != CLI_OK)
			goto out;	/* reported */
	}
	if (rc == CLI_OK && in.len) {
		if (b->len && buf_append(b, "\n\n", 2) < 0)
			rc = CLI_USAGE;
		if (rc == CLI_OK && buf_append(b, in.data, in.len) < 0)
			rc = CLI_USAGE;
	}
	if (rc == CLI_USAGE)
		cli_error("the prompt is larger than %d bytes",
			  CLI_CONTENT_MAX);
	if (rc == CLI_OK && b->len == 0) {
		cli_error("no prompt: give it as arguments or on standard "
			  "input");
		rc = CLI_USAGE;
	}
out:
	buf_release(&in);
	return rc;
}

static cJSON *ask_field(const cJSON *msg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);

	return v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
}

static int ask_print_json(struct cli_ctx *ctx, const char *conv,
			  const struct ctl_send_result *r)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(r->assistant,
								"content");
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (!o || !cJSON_AddStringToObject(o, "conversation_id", conv) ||
	    !cJSON_AddStringToObject(o, "user_message_id",
				     r->user_message_id) ||
	    !cJSON_AddStringToObject(o, "assistant_message_id",
				     r->assistant_message_id) ||
	    !cJSON_AddStringToObject(o, "text",
				     cJSON_IsString(content) ?
					     content->valuestring :
					     (r->text.data ? r->text.data :
							     "")) ||
	    !cJSON_AddItemToObject(o, "model", ask_field(r->assistant,
							 "model")) ||
	    !cJSON_AddItemToObject(o, "status", ask_field(r->assistant,
							  "status")) ||
	    !cJSON_AddItemToObject(o, "usage", ask_field(r->assistant,
							 "usage"))) {
		cJSON_Delete(o);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	rc = out_json(ctx, o);
	cJSON_Delete(o);
	return rc;
}

static int ask_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct ctl_send_opts o = { 0 };
	struct ctl_send_result r;
	struct buf prompt;
	char conv[128];
	const char *model = a->val['m'], *system = a->val['s'];
	bool json = a->count[OPT_JSON] > 0;
	int rc;

	ctl_send_result_init(&r);
	buf_init(&prompt, CLI_CONTENT_MAX);
	if (a->count['c'] && a->val[OPT_CONVERSATION]) {
		cli_error("give either -c or --conversation, not both");
		rc = CLI_USAGE;
		goto out;
	}
	cli_catch_interrupt();
	rc = ask_prompt(ctx, a, &prompt);
	if (rc != CLI_OK)
		goto out;
	rc = api_need_creds(ctx);
	if (rc != CLI_OK)
		goto out;

	if (a->val[OPT_CONVERSATION]) {
		rc = idprefix_conv(ctx, a->val[OPT_CONVERSATION], conv,
				   sizeof(conv));
	} else if (a->count['c']) {
		rc = ctl_conv_latest(ctx, conv, sizeof(conv));
	} else {
		rc = ctl_conv_create(ctx, model, system, conv, sizeof(conv));
		model = system = NULL;	/* the conversation has them */
	}
	if (rc == CLI_OK && system)
		rc = ctl_conv_patch_string(ctx, conv, "system_prompt", system);
	if (rc != CLI_OK)
		goto out;

	o.conversation_id = conv;
	o.content = prompt.data;
	o.model = model;
	o.stream = !a->count[OPT_NO_STREAM];
	o.print = !json;
	rc = ctl_send_message(ctx, &o, &r);
	if (o.print && r.newline_pending && fputc('\n', stdout) == EOF &&
	    rc == CLI_OK)
		rc = CLI_SERVER;
	if (rc == CLI_OK && json)
		rc = ask_print_json(ctx, conv, &r);
out:
	buf_release(&prompt);
	ctl_send_result_release(&r);
	return rc;
}

const struct cli_cmd cmd_ask = {
	.name = "ask",
	.args = "[PROMPT...]",
	.summary = "ask a question; the answer streams to standard output",
	.opts = (const int[]){ 'm', 's', 'c', OPT_CONVERSATION, OPT_JSON,
			       OPT_NO_STREAM, 0 },
	.min_pos = 0,
	.max_pos = -1,
	.exec = ask_exec,
};
