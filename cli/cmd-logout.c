/*
 * cmd-logout.c - `chatctl logout`: revokes the session on the server of
 * this run (the current one, or --server's), then removes that server's
 * login from the credentials file (the file goes with the last login).
 * The login goes even when the server cannot be reached (the error says
 * so), and logging out twice is not an error.
 */
#include "chatctl.h"

#include <string.h>

#include "err.h"
#include "banned.h"

static int logout_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct api_req req = { "POST", "/v1/auth/logout", NULL, API_QUIET,
			       NULL, NULL, NULL };
	struct api_res res;
	int rc, rm, lock;

	(void)a;
	if (!ctx->creds_loaded) {
		fprintf(stderr, "chatctl: not logged in\n");
		return CLI_OK;
	}
	/* the session lives where the credentials were issued */
	snprintf(ctx->server, sizeof(ctx->server), "%s", ctx->creds.server);
	ctx->api_key = NULL;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_AUTH)
		rc = CLI_OK;	/* the session had ended already */
	lock = creds_lock(ctx->creds_path);
	rm = lock < 0 ? lock : creds_forget(ctx->creds_path, ctx->server);
	creds_unlock(lock);
	if (rm < 0) {
		cli_error("cannot remove '%s': %s", ctx->creds_path,
			  chat_strerror(rm));
		rc = CLI_SERVER;
	} else if (rc == CLI_INTERRUPTED) {
		cli_error("interrupted; the local credentials were removed");
	} else if (rc != CLI_OK) {
		cli_error("cannot revoke the session on %s: %s; the local "
			  "credentials were removed", ctx->server,
			  res.message);
	} else {
		fprintf(stderr, "chatctl: logged out of %s\n", ctx->server);
	}
	api_res_release(&res);
	return rc;
}

const struct cli_cmd cmd_logout = {
	.name = "logout",
	.args = "",
	.summary = "revoke the session and forget the server's login",
	.opts = (const int[]){ 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = logout_exec,
};
