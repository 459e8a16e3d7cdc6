/*
 * cmd-login.c - `chatctl login`: opens a session on the server and keeps
 * its tokens in the credentials file (mode 0600).
 */
#include "chatctl.h"

#include <stdlib.h>

#include "banned.h"

static int login_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	char username[128];
	char *password = NULL;
	int rc;

	rc = ctl_auth_username(ctx, a, username, sizeof(username));
	if (rc == CLI_OK)
		rc = ctl_auth_password(ctx, a, false, &password);
	if (rc != CLI_OK)
		return rc;
	rc = api_login(ctx, username, password);
	if (rc == CLI_OK)
		fprintf(stderr, "chatctl: logged in to %s as '%s'\n",
			ctx->server, ctx->creds.username);
	ctl_auth_wipe(password);
	free(password);
	return rc;
}

const struct cli_cmd cmd_login = {
	.name = "login",
	.args = "[USERNAME]",
	.summary = "log in and keep the tokens in the credentials file",
	.opts = (const int[]){ OPT_USERNAME, OPT_PASSWORD_STDIN, 0 },
	.min_pos = 0,
	.max_pos = 1,
	.exec = login_exec,
};
