/*
 * cmd-register.c - `chatctl register`: creates an account (the first one
 * of a server becomes its admin) and logs it in, so that the next
 * command works at once.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int register_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct api_req req = { "POST", "/v1/auth/register", NULL, API_NOAUTH,
			       NULL, NULL, NULL };
	struct api_res res;
	char username[128];
	char *password = NULL;
	const cJSON *user, *role;
	cJSON *body = NULL;
	int rc;

	rc = ctl_auth_username(ctx, a, username, sizeof(username));
	if (rc == CLI_OK)
		rc = ctl_auth_password(ctx, a, true, &password);
	if (rc != CLI_OK)
		return rc;
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "username", username) ||
	    !cJSON_AddStringToObject(body, "password", password)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK) {
		user = cJSON_GetObjectItemCaseSensitive(res.json, "user");
		role = cJSON_GetObjectItemCaseSensitive(user, "role");
		rc = api_login(ctx, username, password);
		if (rc == CLI_OK)
			fprintf(stderr, "chatctl: registered '%s' (role %s) "
					"and logged in to %s\n",
				ctx->creds.username,
				cJSON_IsString(role) ? role->valuestring : "?",
				ctx->server);
	}
	api_res_release(&res);
out:
	cJSON_Delete(body);
	ctl_auth_wipe(password);
	free(password);
	return rc;
}

const struct cli_cmd cmd_register = {
	.name = "register",
	.args = "[USERNAME]",
	.summary = "create an account and log in",
	.opts = (const int[]){ OPT_USERNAME, OPT_PASSWORD_STDIN, 0 },
	.min_pos = 0,
	.max_pos = 1,
	.exec = register_exec,
};
