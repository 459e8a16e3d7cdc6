/*
 * cmd-whoami.c - `chatctl whoami`: the account the credentials (or
 * CHAT_API_KEY) act as, checked with the server; a cheap way for scripts
 * to test that they are logged in (exit 2 when not).
 */
#include "chatctl.h"

#include "banned.h"

static int whoami_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	const cJSON *name, *role;
	cJSON *user = NULL;
	int rc;

	rc = api_json(ctx, "GET", "/v1/users/me", NULL, &user);
	if (rc != CLI_OK)
		return rc;
	(void)a;
	if (out_is_json(ctx)) {
		rc = out_json(ctx, user);
	} else {
		name = cJSON_GetObjectItemCaseSensitive(user, "username");
		role = cJSON_GetObjectItemCaseSensitive(user, "role");
		printf("%s (%s) on %s\n",
		       cJSON_IsString(name) ? name->valuestring : "?",
		       cJSON_IsString(role) ? role->valuestring : "?",
		       ctx->server);
	}
	cJSON_Delete(user);
	return rc;
}

const struct cli_cmd cmd_whoami = {
	.name = "whoami",
	.args = "",
	.summary = "show the account the credentials act as",
	.opts = (const int[]){ OUT_OPTS, 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = whoami_exec,
};
