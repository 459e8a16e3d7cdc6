/*
 * mail-api.c - POST /internal/mail, userd's code mails:
 * {"user_id", "to", "kind": "email_verify" | "password_reset", "code"}
 * -> 202 {"id"} once the job is committed to notifyd's store, so a
 * restart of notifyd loses no mail; the sender thread (mail-jobs.c)
 * sends it and deletes the row, code and all, or the row expires after
 * MAIL_CODE_TTL_MS unsent.
 *
 * Internal only (the X-Chat-Internal secret).  503 "email_disabled"
 * when smtp.url is unset: userd can tell its caller that no mail will
 * come.  Neither the address nor the code is ever logged.
 */
#include "mail.h"
#include "notifyd.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "uuid.h"
#include "banned.h"

/* The kinds userd may ask for: each a template (mail-tmpl.c). */
static const char *const mail_api_kinds[] = {
	"email_verify", "password_reset",
};

static bool mail_api_kind(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(mail_api_kinds) / sizeof(mail_api_kinds[0]);
	     i++)
		if (strcmp(mail_api_kinds[i], kind) == 0)
			return true;
	return false;
}

/* A code as a line of a mail can hold it: [A-Za-z0-9_-], not empty. */
static bool mail_api_code(const char *code)
{
	size_t len = strlen(code);

	return len > 0 && len < MAIL_CODE_MAX &&
	       strspn(code, "0123456789abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == len;
}

void mail_api_handler(struct http_req *req, struct http_res *res)
{
	struct notifyd *nd = req->app;
	const char *user = NULL, *to = NULL, *kind = NULL, *code = NULL;
	struct mail_job job = { 0 };
	struct db_conn *c = NULL;
	cJSON *body = NULL, *out = NULL;
	char err[160];
	int rc;

	if (!mailer_on(nd->mailer)) {
		http_res_error(res, 503, "email_disabled",
			       "this server sends no mail (smtp.url unset)");
		return;
	}
	if (daemon_body(req, &body) < 0)
		return;
	rc = json_get_string(body, "user_id", true, 1, 64, &user, err,
			     sizeof(err));
	if (rc == 0)
		rc = json_get_string(body, "to", true, 3, MAIL_ADDR_MAX, &to,
				     err, sizeof(err));
	if (rc == 0)
		rc = json_get_string(body, "kind", true, 1, 31, &kind, err,
				     sizeof(err));
	if (rc == 0)
		rc = json_get_string(body, "code", true, 1, MAIL_CODE_MAX - 1,
				     &code, err, sizeof(err));
	if (rc == 0 && !uuid_norm(user, job.user_id)) {
		chat_errf(err, sizeof(err), "'user_id' is not a user id");
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && !mail_addr_valid(to)) {
		chat_errf(err, sizeof(err), "'to' is not a mail address");
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && !mail_api_kind(kind)) {
		chat_errf(err, sizeof(err), "'kind' must be email_verify or "
			  "password_reset");
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && !mail_api_code(code)) {
		chat_errf(err, sizeof(err), "'code' must be letters, digits, "
			  "'-' or '_'");
		rc = CHAT_EINVAL;
	}
	if (rc < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		goto out;
	}
	snprintf(job.kind, sizeof(job.kind), "%s", kind);
	/* the pointers are the body's: borrowed until the job is put */
	job.rcpt = (char *)to;
	job.code = (char *)code;
	job.data = NULL;
	if (daemon_db(req, &c) < 0)
		goto out;
	rc = db_begin(c);
	if (rc == 0)
		rc = mail_job_put(c, &job, MAIL_CODE_TTL_MS);
	if (rc == 0)
		rc = db_commit(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot store the mail");
		goto out;
	}
	mailer_kick(nd->mailer);
	log_info("mail '%s' (%s) for user '%s' queued", job.id, kind,
		 job.user_id);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "id", job.id)) {
		cJSON_Delete(out);
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 202, out);
out:
	cJSON_Delete(body);
}
