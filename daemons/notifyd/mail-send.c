/*
 * mail-send.c - one attempt of one mail job, on the sender thread
 * (mail-jobs.c): who the user is and where mail goes (userd's
 * GET /internal/users/{id}/contact, asked at send time so an address
 * never travels in an event nor waits in notifyd's store), the
 * template, the message, and the SMTP module.
 *
 * A notice goes to the user's address only when it is verified; no
 * address, an unverified one or a user userd no longer knows drops the
 * job.  A code mail goes to the address userd named (the one being
 * verified, or the account's for a reset); the contact only lends it
 * the names.  userd down, the server down or refusing: retried.
 */
#include "mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "err.h"
#include "http-out.h"
#include "http-server.h"
#include "json.h"
#include "log.h"
#include "smtp-curl.h"
#include "util.h"
#include "banned.h"

#define MAIL_CONTACT_MAX 8192		/* bytes of userd's answer */
#define MAIL_CONTACT_TIMEOUT_MS 5000

/* What userd says of the user. */
struct mail_contact {
	cJSON *json;			/* owned: the answer */
	const char *username;		/* into json */
	const char *display_name;	/* into json, may be NULL */
	const char *email;		/* into json, NULL: none */
	bool verified;
	bool gone;			/* userd answered 404 */
};

/* userd's contact of user_id.  CHAT_EUPSTREAM when userd cannot say. */
static int mail_contact_get(struct daemon *d, const char *user_id,
			    struct mail_contact *out)
{
	char base[256], url[512], h_internal[128];
	const char *headers[2] = { h_internal, NULL };
	struct http_request hr = { 0 };
	const cJSON *v;
	struct buf b;
	int rc, status = 0;

	memset(out, 0, sizeof(*out));
	buf_init(&b, MAIL_CONTACT_MAX);
	rc = daemon_peer_url(d, "userd", base, sizeof(base));
	if (rc == 0 && (size_t)snprintf(url, sizeof(url),
					"%s/internal/users/%s/contact", base,
					user_id) >= sizeof(url))
		rc = CHAT_EINVAL;
	if (rc < 0)
		goto out;
	snprintf(h_internal, sizeof(h_internal), "%s: %s", HTTP_H_INTERNAL,
		 d->internal_secret);
	hr.method = "GET";
	hr.url = url;
	hr.headers = headers;
	hr.timeout_ms = MAIL_CONTACT_TIMEOUT_MS;
	hr.max_response = MAIL_CONTACT_MAX;
	rc = http_out_fetch(d->out, &hr, &status, &b);
	if (rc < 0)
		goto out;
	if (status == 404) {
		out->gone = true;
		goto out;
	}
	if (status != 200) {
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	out->json = cJSON_ParseWithLength(b.data, b.len);
	out->username = json_str(out->json, "username");
	if (!cJSON_IsObject(out->json) || !out->username) {
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	out->display_name = json_str(out->json, "display_name");
	out->email = json_str(out->json, "email");
	v = cJSON_GetObjectItemCaseSensitive(out->json, "email_verified");
	out->verified = cJSON_IsTrue(v);
out:
	if (rc < 0) {
		log_warn("mail: userd's contact of '%s' failed: %s", user_id,
			 status ? "an error answer" : chat_strerror(rc));
		cJSON_Delete(out->json);
		memset(out, 0, sizeof(*out));
		rc = CHAT_EUPSTREAM;
	}
	buf_release(&b);
	return rc;
}

/* The unsubscribe URL of a notice job, or "" for a category that
 * cannot be unsubscribed from (security) and for code mails. */
static int mail_unsub_url(const struct mail_config *cfg,
			  const struct mail_job *j, char *out, size_t n)
{
	char token[MAIL_TOKEN_MAX];
	int rc;

	*out = '\0';
	if (!*j->category || j->code || strcmp(j->category, "security") == 0)
		return 0;
	rc = mail_unsub_token(cfg, j->user_id, j->category, j->id, token);
	if (rc == 0 && (size_t)snprintf(out, n, "%s/v1/notifications/"
					"unsubscribe?token=%s", cfg->public_url,
					token) >= n)
		rc = CHAT_ETOOBIG;
	return rc;
}

/* The template's variables, from the contact and the job's data. */
static size_t mail_vars(const struct mail_job *j, const cJSON *data,
			const struct mail_contact *ct, const char *unsub,
			struct mail_var *v)
{
	const char *name = ct->display_name && *ct->display_name ?
			   ct->display_name : ct->username;
	size_t n = 0;

	v[n++] = (struct mail_var){ "username", ct->username ?
				    ct->username : "your account" };
	v[n++] = (struct mail_var){ "display_name", name ? name : "there" };
	v[n++] = (struct mail_var){ "title", json_str(data, "title") };
	v[n++] = (struct mail_var){ "body", json_str(data, "body") };
	v[n++] = (struct mail_var){ "device", json_str(data, "user_agent") };
	v[n++] = (struct mail_var){ "ip", json_str(data, "ip") };
	v[n++] = (struct mail_var){ "key_name", json_str(data, "name") };
	v[n++] = (struct mail_var){ "code", j->code };
	v[n++] = (struct mail_var){ "minutes", "30" };
	v[n++] = (struct mail_var){ "unsubscribe_url", unsub };
	return n;
}

/* Appends the unsubscribe line to the rendered parts. */
static int mail_unsub_foot(const char *url, char **text, char **html)
{
	struct buf t, h;
	int rc;

	buf_init(&t, MAIL_MSG_MAX);
	buf_init(&h, MAIL_MSG_MAX);
	rc = buf_printf(&t, "%s\nTo stop these mails, unsubscribe at\n%s\n",
			*text, url);
	if (rc == 0)
		rc = buf_printf(&h, "%s<p><a href=\"", *html);
	if (rc == 0)
		rc = mail_html_escape(&h, url);
	if (rc == 0)
		rc = buf_puts(&h, "\">Unsubscribe from these mails</a></p>\n");
	if (rc == 0)
		rc = buf_append(&t, "", 1);
	if (rc == 0)
		rc = buf_append(&h, "", 1);
	if (rc == 0) {
		free(*text);
		free(*html);
		*text = buf_detach(&t, NULL);
		*html = buf_detach(&h, NULL);
		rc = *text && *html ? 0 : CHAT_ENOMEM;
	}
	buf_release(&t);
	buf_release(&h);
	return rc;
}

/* The message of job j to rcpt into out. */
static int mail_build(struct mailer *m, struct daemon *d,
		      const struct mail_job *j, const struct mail_contact *ct,
		      const char *rcpt, struct buf *out)
{
	const struct mail_config *cfg = mailer_config(m);
	char unsub[MAIL_TOKEN_MAX + 512], msgid[128], boundary[48];
	unsigned char rnd[16];
	char *subject = NULL, *text = NULL, *html = NULL;
	struct mail_var vars[12];
	struct mail_msg msg = { 0 };
	cJSON *data = cJSON_Parse(j->data ? j->data : "{}");
	size_t nvars, i;
	int rc;

	rc = mail_unsub_url(cfg, j, unsub, sizeof(unsub));
	if (rc < 0)
		goto out;
	nvars = mail_vars(j, data, ct, unsub, vars);
	rc = mail_tmpl_render(d->data_dir, j->kind, vars, nvars, &subject,
			      &text, &html);
	if (rc == 0 && *unsub)
		rc = mail_unsub_foot(unsub, &text, &html);
	if (rc < 0)
		goto out;
	randombytes_buf(rnd, sizeof(rnd));
	i = (size_t)snprintf(boundary, sizeof(boundary), "=_chat_");
	sodium_bin2hex(boundary + i, sizeof(boundary) - i, rnd, sizeof(rnd));
	snprintf(msgid, sizeof(msgid), "<%s@%s>", j->id,
		 strchr(cfg->from, '@') + 1);
	msg.from = cfg->from;
	msg.to = rcpt;
	msg.to_name = ct->display_name;
	msg.subject = subject;
	msg.text = text;
	msg.html = html;
	msg.unsubscribe_url = *unsub ? unsub : NULL;
	msg.message_id = msgid;
	msg.boundary = boundary;
	msg.date_ms = now_ms();
	rc = mail_msg_build(&msg, out);
out:
	cJSON_Delete(data);
	free(subject);
	free(text);
	free(html);
	return rc;
}

enum mail_outcome mail_send_job(struct mailer *m, struct daemon *d,
				const struct mail_job *j)
{
	const struct mail_config *cfg = mailer_config(m);
	struct mail_contact ct;
	struct smtp_send s = { 0 };
	enum mail_outcome o = MAIL_RETRY;
	const char *rcpt = j->rcpt;
	char err[512] = "";
	struct buf msg;
	int rc;

	buf_init(&msg, MAIL_MSG_MAX);
	rc = mail_contact_get(d, j->user_id, &ct);
	if (rc < 0)
		goto out;
	if (ct.gone || (!rcpt && (!ct.email || !ct.verified))) {
		o = MAIL_DROP;		/* nowhere to send it */
		goto out;
	}
	if (!rcpt)
		rcpt = ct.email;
	rc = mail_build(m, d, j, &ct, rcpt, &msg);
	if (rc < 0) {
		log_warn("mail '%s' (%s) cannot be built: %s", j->id, j->kind,
			 chat_strerror(rc));
		o = MAIL_DROP;		/* it would fail again */
		goto out;
	}
	s.url = cfg->url;
	s.starttls_required = cfg->starttls_required;
	s.ca_file = cfg->ca_file;
	s.user = cfg->user;
	s.password = cfg->password;
	s.from = cfg->from;
	s.rcpt = rcpt;
	s.msg = msg.data;
	s.msg_len = msg.len;
	s.timeout_ms = cfg->timeout_ms;
	rc = mailer_smtp(m)->send(&s, err, sizeof(err));
	if (rc < 0) {
		log_warn("mail '%s' (%s) not sent, attempt %d: %s", j->id,
			 j->kind, j->attempts + 1, err);
		goto out;
	}
	log_info("mail '%s' (%s) sent", j->id, j->kind);
	o = MAIL_SENT;
out:
	cJSON_Delete(ct.json);
	buf_release(&msg);
	return o;
}
