/*
 * cmd-account.c - `chatctl account export`: everything the server holds
 * about the caller as one JSON document on stdout (GET
 * /v1/users/me/export, the right of access): `chatctl account export >
 * me.json`.  The document is written as the server sent it, byte for
 * byte; a failure writes nothing to stdout.
 */
#include "chatctl.h"

#include <errno.h>
#include <string.h>

#include "banned.h"

static int account_export(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct api_req req = { "GET", "/v1/users/me/export", NULL, 0, NULL,
			       NULL, NULL };
	struct api_res res;
	int rc;

	(void)a;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK && (!res.json || !cJSON_IsObject(res.json))) {
		cli_error("the server's export is not a JSON object");
		rc = CLI_SERVER;
	}
	if (rc == CLI_OK) {
		if (fwrite(res.body.data, 1, res.body.len, stdout) !=
		    res.body.len) {
			cli_error("cannot write the export: %s",
				  strerror(ferror(stdout) ? errno : EIO));
			rc = CLI_SERVER;
		} else if (res.body.len && res.body.data[res.body.len - 1] !=
			   '\n') {
			putchar('\n');
		}
	}
	api_res_release(&res);
	return rc;
}

static const struct cli_cmd account_verbs[] = {
	{
		.name = "export",
		.args = "",
		.summary = "everything the server holds about you, as JSON "
			   "(> me.json)",
		.opts = (const int[]){ 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = account_export,
	},
	{ 0 },
};

const struct cli_cmd cmd_account = {
	.name = "account",
	.args = "",
	.summary = "your account as a whole",
	.opts = (const int[]){ 0 },
	.verbs = account_verbs,
};
