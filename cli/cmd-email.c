/*
 * cmd-email.c - `chatctl email [show|set ADDR|verify CODE|resend|rm]`:
 * the account's e-mail address (GET and PATCH /v1/users/me, POST
 * /v1/users/me/email/verify and .../verify/resend).  A new address is
 * mailed a code that `verify` takes; only a verified address gets other
 * mail (alerts, password resets).  Changing or removing an address the
 * account has needs the current password, asked without echo or read
 * from stdin with --password-stdin.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int email_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "KEY", "VALUE" };
	const cJSON *verified;
	const char *row[2];
	struct table t;
	cJSON *user = NULL;
	int rc;

	(void)a;	/* --json and --output: ctx->out_format */
	rc = api_json(ctx, "GET", "/v1/users/me", NULL, &user);
	if (rc != CLI_OK)
		return rc;
	if (out_is_json(ctx)) {
		cJSON *obj = cJSON_CreateObject();

		verified = cJSON_GetObjectItemCaseSensitive(user,
							    "email_verified");
		if (!obj ||
		    !cJSON_AddItemToObject(
			    obj, "email",
			    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
						    user, "email"), 0)) ||
		    !cJSON_AddBoolToObject(obj, "email_verified",
					   cJSON_IsTrue(verified))) {
			cli_error("out of memory");
			rc = CLI_SERVER;
		} else {
			rc = out_json(ctx, obj);
		}
		cJSON_Delete(obj);
		cJSON_Delete(user);
		return rc;
	}
	table_init(&t, 2);
	rc = table_add(&t, head) < 0 ? CLI_SERVER : CLI_OK;
	row[0] = "email";
	row[1] = json_str(user, "email");
	if (!row[1])
		row[1] = "-";
	if (rc == CLI_OK && table_add(&t, row) < 0)
		rc = CLI_SERVER;
	row[0] = "verified";
	row[1] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			 user, "email_verified")) ? "yes" : "no";
	if (rc == CLI_OK && table_add(&t, row) < 0)
		rc = CLI_SERVER;
	if (rc == CLI_OK)
		rc = table_print(ctx, &t, 0);
	else
		cli_error("out of memory");
	table_release(&t);
	cJSON_Delete(user);
	return rc;
}

/* True when the account has an address now (then a change needs the
 * password); *has set, or an exit status. */
static int email_current(struct cli_ctx *ctx, bool *has)
{
	cJSON *user = NULL;
	int rc = api_json(ctx, "GET", "/v1/users/me", NULL, &user);

	if (rc == CLI_OK)
		*has = json_str(user, "email") != NULL;
	cJSON_Delete(user);
	return rc;
}

/* PATCH /v1/users/me with email addr (NULL: remove), with the current
 * password when the account has an address. */
static int email_patch(struct cli_ctx *ctx, const struct cli_args *a,
		       const char *addr)
{
	struct api_req req = { "PATCH", "/v1/users/me", NULL, API_QUIET,
			       NULL, NULL, NULL };
	struct api_res res;
	char *pw = NULL;
	cJSON *body = NULL, *pwj = NULL;
	bool has = false;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = email_current(ctx, &has);
	if (rc == CLI_OK && !has && !addr) {
		cli_error("the account has no e-mail address");
		return CLI_NOTFOUND;
	}
	if (rc == CLI_OK && has)
		rc = ctl_auth_secret(ctx, a, "Current password: ", &pw);
	if (rc != CLI_OK)
		return rc;
	body = cJSON_CreateObject();
	if (!body ||
	    !(addr ? cJSON_AddStringToObject(body, "email", addr)
		   : cJSON_AddNullToObject(body, "email")) ||
	    (pw && !(pwj = cJSON_AddStringToObject(body, "current_password",
						   pw)))) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK && addr)
		fprintf(stderr, "chatctl: a code is on its way to '%s': "
				"verify it with 'chatctl email verify CODE'\n",
			addr);
	else if (res.status == 401 &&
		 strcmp(res.code, "invalid_credentials") == 0)
		cli_error("the current password is wrong");
	else if (rc != CLI_OK && res.message[0])
		cli_error("%s (%s)", res.message, res.code);
	else if (rc == CLI_AUTH)
		cli_error("not logged in: log in with 'chatctl login'");
	api_res_release(&res);
out:
	if (pwj)
		ctl_auth_wipe(pwj->valuestring);
	cJSON_Delete(body);
	ctl_auth_wipe(pw);
	free(pw);
	return rc;
}

static int email_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	return email_patch(ctx, a, a->pos[0]);
}

static int email_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	return email_patch(ctx, a, NULL);
}

static int email_verify(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct api_req req = { "POST", "/v1/users/me/email/verify", NULL,
			       API_QUIET, NULL, NULL, NULL };
	struct api_res res;
	cJSON *body = cJSON_CreateObject();
	int rc;

	memset(&res, 0, sizeof(res));
	if (!body || !cJSON_AddStringToObject(body, "code", a->pos[0])) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK)
		fprintf(stderr, "chatctl: the address is verified\n");
	else if (res.status == 400 && strcmp(res.code, "invalid_code") == 0)
		cli_error("the code is wrong, used or expired: "
			  "'chatctl email resend' mails a new one");
	else if (res.message[0])
		cli_error("%s (%s)", res.message, res.code);
	else if (rc == CLI_AUTH)
		cli_error("not logged in: log in with 'chatctl login'");
	api_res_release(&res);
	cJSON_Delete(body);
	return rc;
}

static int email_resend(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *out = NULL;
	int rc;

	(void)a;
	rc = api_json(ctx, "POST", "/v1/users/me/email/verify/resend", NULL,
		      &out);
	cJSON_Delete(out);
	if (rc == CLI_OK)
		fprintf(stderr, "chatctl: a new code is on its way\n");
	return rc;
}

static const struct cli_cmd email_verbs[] = {
	{
		.name = "show",
		.args = "",
		.summary = "show the address and whether it is verified",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = email_show,
	},
	{
		.name = "set",
		.args = "ADDR",
		.summary = "set the address (a code is mailed to it)",
		.opts = (const int[]){ OPT_PASSWORD_STDIN, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = email_set,
	},
	{
		.name = "verify",
		.args = "CODE",
		.summary = "verify the address with the mailed code",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = email_verify,
	},
	{
		.name = "resend",
		.args = "",
		.summary = "mail a new code to the unverified address",
		.opts = (const int[]){ 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = email_resend,
	},
	{
		.name = "rm",
		.args = "",
		.summary = "remove the address",
		.opts = (const int[]){ OPT_PASSWORD_STDIN, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = email_rm,
	},
	{ 0 },
};

/* `chatctl email` alone is `email show`. */
const struct cli_cmd cmd_email = {
	.name = "email",
	.args = "",
	.summary = "the account's e-mail address and its verification",
	.opts = (const int[]){ OUT_OPTS, 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = email_show,
	.verbs = email_verbs,
};
