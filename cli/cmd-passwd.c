/*
 * cmd-passwd.c - `chatctl passwd`: changes the caller's own password
 * (POST /v1/users/me/password).  The current and the new password are
 * read without echo from the terminal (the new one twice), or as two
 * lines of stdin with --password-stdin for scripts.  The server revokes
 * every other session of the account and keeps this one.
 *
 * `passwd --reset`, for a forgotten password and signed out: asks the
 * server to mail a code to the account's verified address (POST
 * /v1/auth/password-reset: the answer never tells whether one exists),
 * then takes the code and the new password (twice) and sets it (POST
 * /v1/auth/password-reset/confirm), which signs out every session.
 * Scripts: --email ADDR alone only asks for the mail when stdin is no
 * terminal; --code CODE with --password-stdin (one line) sets it.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* The three secrets: current, new, and the new one again (NULL when it
 * is not asked: on stdin). */
struct passwd_secrets {
	char *current, *fresh, *again;
};

static void passwd_release(struct passwd_secrets *s)
{
	char **p[] = { &s->current, &s->fresh, &s->again };
	size_t i;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		ctl_auth_wipe(*p[i]);
		free(*p[i]);
		*p[i] = NULL;
	}
}

static int passwd_read(struct cli_ctx *ctx, const struct cli_args *a,
		       struct passwd_secrets *s)
{
	int rc;

	rc = ctl_auth_secret(ctx, a, "Current password: ", &s->current);
	if (rc == CLI_OK)
		rc = ctl_auth_secret(ctx, a, "New password: ", &s->fresh);
	if (rc == CLI_OK && !a->count[OPT_PASSWORD_STDIN]) {
		rc = ctl_auth_secret(ctx, a, "Repeat the new password: ",
				     &s->again);
		if (rc == CLI_OK && strcmp(s->fresh, s->again) != 0) {
			cli_error("the new passwords differ");
			rc = CLI_USAGE;
		}
	}
	return rc;
}

/* The answer's error, said for this verb. */
static void passwd_error(const struct api_res *res, int rc)
{
	if (res->status == 401 &&
	    strcmp(res->code, "invalid_credentials") == 0)
		cli_error("the current password is wrong");
	else if (res->status == 403 &&
		 strcmp(res->code, "interactive_login_required") == 0)
		cli_error("an API key cannot change the password: log in "
			  "with 'chatctl login'");
	else if (res->message[0])
		cli_error("%s%s%s%s", res->message, res->code[0] ? " (" : "",
			  res->code, res->code[0] ? ")" : "");
	else if (rc == CLI_AUTH)
		cli_error("not logged in: log in with 'chatctl login'");
}

/* Step one of a reset: the code mailed to address (asked unless
 * --email).  CLI_OK whether or not an account has it: none can tell. */
static int passwd_reset_request(struct cli_ctx *ctx,
				const struct cli_args *a)
{
	struct api_req req = { "POST", "/v1/auth/password-reset", NULL,
			       API_NOAUTH, NULL, NULL, NULL };
	struct api_res res;
	char *addr = NULL;
	cJSON *body = NULL;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = ctl_auth_ask(ctx, a->val[OPT_EMAIL], "E-mail address: ",
			  "--email ADDR", &addr);
	if (rc != CLI_OK)
		return rc;
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "email", addr)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK)
		fprintf(stderr, "chatctl: if a verified account has '%s', a "
				"code is on its way there\n", addr);
	api_res_release(&res);
out:
	cJSON_Delete(body);
	free(addr);
	return rc;
}

/* The new password of a reset: one line of stdin (--password-stdin), or
 * asked twice. */
static int passwd_reset_new(struct cli_ctx *ctx, const struct cli_args *a,
			    struct passwd_secrets *s)
{
	int rc = ctl_auth_secret(ctx, a, "New password: ", &s->fresh);

	if (rc == CLI_OK && !a->count[OPT_PASSWORD_STDIN]) {
		rc = ctl_auth_secret(ctx, a, "Repeat the new password: ",
				     &s->again);
		if (rc == CLI_OK && strcmp(s->fresh, s->again) != 0) {
			cli_error("the new passwords differ");
			rc = CLI_USAGE;
		}
	}
	return rc;
}

/* Step two: the code and the new password. */
static int passwd_reset_confirm(struct cli_ctx *ctx,
				const struct cli_args *a)
{
	struct passwd_secrets s = { NULL, NULL, NULL };
	struct api_req req = { "POST", "/v1/auth/password-reset/confirm",
			       NULL, API_NOAUTH | API_QUIET, NULL, NULL,
			       NULL };
	struct api_res res;
	cJSON *body = NULL, *it;
	int rc;

	memset(&res, 0, sizeof(res));
	/* the code is kept in s.current: wiped like a password */
	rc = ctl_auth_ask(ctx, a->val[OPT_CODE], "Code from the mail: ",
			  "--code CODE", &s.current);
	if (rc == CLI_OK)
		rc = passwd_reset_new(ctx, a, &s);
	if (rc != CLI_OK)
		goto out;
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "code", s.current) ||
	    !cJSON_AddStringToObject(body, "password", s.fresh)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK)
		fprintf(stderr, "chatctl: password set; every session of the "
				"account is signed out: log in with 'chatctl "
				"login'\n");
	else if (res.status == 400 && strcmp(res.code, "invalid_code") == 0)
		cli_error("the code is wrong, used or expired");
	else if (rc != CLI_INTERRUPTED)
		passwd_error(&res, rc);
	api_res_release(&res);
out:
	cJSON_ArrayForEach(it, body)
		if (cJSON_IsString(it))
			ctl_auth_wipe(it->valuestring);
	cJSON_Delete(body);
	passwd_release(&s);
	return rc;
}

static int passwd_reset(struct cli_ctx *ctx, const struct cli_args *a)
{
	int rc = CLI_OK;

	if (a->val[OPT_EMAIL] && a->val[OPT_CODE]) {
		cli_error("--email asks for a code, --code uses one: give "
			  "one of them");
		return CLI_USAGE;
	}
	if (!a->val[OPT_CODE]) {
		rc = passwd_reset_request(ctx, a);
		/* a script asks for the mail now, the code comes later */
		if (rc != CLI_OK || !ctx->stdin_tty ||
		    a->count[OPT_PASSWORD_STDIN]) {
			if (rc == CLI_OK)
				fprintf(stderr, "chatctl: then run 'chatctl "
						"passwd --reset --code CODE'\n");
			return rc;
		}
	}
	return passwd_reset_confirm(ctx, a);
}

static int passwd_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct passwd_secrets s = { NULL, NULL, NULL };
	struct api_req req = { "POST", "/v1/users/me/password", NULL,
			       API_QUIET, NULL, NULL, NULL };
	struct api_res res;
	cJSON *body = NULL, *it;
	int rc;

	memset(&res, 0, sizeof(res));
	if (a->count[OPT_RESET])
		return passwd_reset(ctx, a);
	if (a->val[OPT_EMAIL] || a->val[OPT_CODE]) {
		cli_error("--email and --code go with --reset");
		return CLI_USAGE;
	}
	rc = passwd_read(ctx, a, &s);
	if (rc != CLI_OK)
		goto out;
	body = cJSON_CreateObject();
	if (!body ||
	    !cJSON_AddStringToObject(body, "current_password", s.current) ||
	    !cJSON_AddStringToObject(body, "new_password", s.fresh)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	req.json = body;
	rc = api_call(ctx, &req, &res);
	if (rc != CLI_OK && rc != CLI_INTERRUPTED)
		passwd_error(&res, rc);
	else if (rc == CLI_OK && ctx->stderr_tty)
		fprintf(stderr, "chatctl: password changed; every other "
				"session of the account is signed out\n");
	api_res_release(&res);
out:
	/* the body's copies of the passwords too */
	cJSON_ArrayForEach(it, body)
		if (cJSON_IsString(it))
			ctl_auth_wipe(it->valuestring);
	cJSON_Delete(body);
	passwd_release(&s);
	return rc;
}

const struct cli_cmd cmd_passwd = {
	.name = "passwd",
	.args = "",
	.summary = "change your password (the other sessions are signed "
		   "out), or reset a forgotten one by mail",
	.opts = (const int[]){ OPT_PASSWORD_STDIN, OPT_RESET, OPT_EMAIL,
			       OPT_CODE, 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = passwd_exec,
};
