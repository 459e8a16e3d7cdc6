/*
 * mail-tmpl.c - what each kind of mail says, in text and HTML: one
 * built-in table, each part replaceable by a file of the data dir,
 * DATA/templates/<kind>.txt (a first line "Subject: ..." replaces the
 * subject too) and DATA/templates/<kind>.html, read at each mail so an
 * operator's edit needs no restart.
 *
 * {{name}} is a variable (mail.h's struct mail_var, the list per kind
 * in notifyd(8)); in the HTML its value is escaped (mail_html_escape),
 * in the text and the subject it is as it is (the subject is made
 * header-safe by mail-msg.c).  Values never go through a second
 * expansion: a user agent holding "{{code}}" stays that text.
 *
 * A mail that carries a code has the code alone on a line of its text
 * part, so a reader (or a test) can pick it out.
 */
#include "mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define TMPL_FILE_MAX (64 * 1024)	/* bytes of an override file */
#define TMPL_OUT_MAX (256 * 1024)	/* bytes of a rendered part */
#define TMPL_NAME_MAX 64

#define TMPL_TEXT_FOOT "\n-- \nThis mail was sent to {{username}} by " \
	"the chat service.\n"
#define TMPL_HTML_HEAD "<!DOCTYPE html>\n<html><body>\n<p>Hello " \
	"{{display_name}},</p>\n"
#define TMPL_HTML_FOOT "<p style=\"color:#666\">This mail was sent to " \
	"{{username}} by the chat service.</p>\n</body></html>\n"

struct tmpl {
	const char *name;		/* the kind */
	const char *subject;
	const char *text;
	const char *html;
};

static const struct tmpl tmpls[] = {
	{ "new_device", "New sign-in to your account",
	  "Hello {{display_name}},\n\n"
	  "Your account was signed in from a device it was never used on "
	  "before.\n\nDevice: {{device}}\nAddress: {{ip}}\n\n"
	  "If this was not you, change your password.\n" TMPL_TEXT_FOOT,
	  TMPL_HTML_HEAD
	  "<p>Your account was signed in from a device it was never used on "
	  "before.</p>\n<p>Device: <code>{{device}}</code><br>\n"
	  "Address: <code>{{ip}}</code></p>\n"
	  "<p>If this was not you, change your password.</p>\n"
	  TMPL_HTML_FOOT },
	{ "token_reuse", "A session of your account was signed out",
	  "Hello {{display_name}},\n\n{{body}}\n" TMPL_TEXT_FOOT,
	  TMPL_HTML_HEAD "<p>{{body}}</p>\n" TMPL_HTML_FOOT },
	{ "password_changed", "Your password was changed",
	  "Hello {{display_name}},\n\n{{body}}\n" TMPL_TEXT_FOOT,
	  TMPL_HTML_HEAD "<p>{{body}}</p>\n" TMPL_HTML_FOOT },
	{ "apikey_created", "An API key was created: {{key_name}}",
	  "Hello {{display_name}},\n\n{{body}}\n\nName: {{key_name}}\n"
	  TMPL_TEXT_FOOT,
	  TMPL_HTML_HEAD "<p>{{body}}</p>\n<p>Name: <code>{{key_name}}"
	  "</code></p>\n" TMPL_HTML_FOOT },
	{ "email_verify", "Your verification code",
	  "Hello {{display_name}},\n\n"
	  "Enter this code to verify your e-mail address:\n\n{{code}}\n\n"
	  "It is valid for {{minutes}} minutes. If you did not ask for it, "
	  "ignore this mail.\n" TMPL_TEXT_FOOT,
	  TMPL_HTML_HEAD
	  "<p>Enter this code to verify your e-mail address:</p>\n"
	  "<p style=\"font-size:1.4em\"><strong>{{code}}</strong></p>\n"
	  "<p>It is valid for {{minutes}} minutes. If you did not ask for "
	  "it, ignore this mail.</p>\n" TMPL_HTML_FOOT },
	{ "password_reset", "Your password reset code",
	  "Hello {{display_name}},\n\n"
	  "Enter this code to choose a new password:\n\n{{code}}\n\n"
	  "It is valid for {{minutes}} minutes and works once. If you did "
	  "not ask for it, ignore this mail: your password stays as it "
	  "is.\n" TMPL_TEXT_FOOT,
	  TMPL_HTML_HEAD
	  "<p>Enter this code to choose a new password:</p>\n"
	  "<p style=\"font-size:1.4em\"><strong>{{code}}</strong></p>\n"
	  "<p>It is valid for {{minutes}} minutes and works once. If you "
	  "did not ask for it, ignore this mail: your password stays as "
	  "it is.</p>\n" TMPL_HTML_FOOT },
};

static const struct tmpl *tmpl_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++)
		if (strcmp(tmpls[i].name, name) == 0)
			return &tmpls[i];
	return NULL;
}

bool mail_tmpl_exists(const char *name)
{
	return tmpl_find(name) != NULL;
}

/* The override DATA/templates/<name><ext>, or *out NULL when there is
 * none. */
static int tmpl_file(const char *data_dir, const char *name,
		     const char *ext, char **out)
{
	char path[4096];
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!data_dir || (size_t)snprintf(path, sizeof(path), "%s/templates/"
					  "%s%s", data_dir, name, ext) >=
	    sizeof(path))
		return 0;
	rc = util_read_file(path, TMPL_FILE_MAX, out, &len);
	if (rc == CHAT_ENOTFOUND) {
		*out = NULL;
		return 0;
	}
	return rc;
}

/* t with its variables expanded into a malloc'd string. */
static int tmpl_expand(const char *t, const struct mail_var *vars,
		       size_t nvars, bool html, char **out)
{
	struct buf b;
	const char *open, *close;
	size_t i, n;
	int rc = 0;

	buf_init(&b, TMPL_OUT_MAX);
	while (rc == 0 && (open = strstr(t, "{{")) != NULL) {
		rc = buf_append(&b, t, (size_t)(open - t));
		close = strstr(open + 2, "}}");
		if (rc < 0 || !close)
			break;
		n = (size_t)(close - open - 2);
		for (i = 0; i < nvars; i++)
			if (strlen(vars[i].name) == n &&
			    strncmp(vars[i].name, open + 2, n) == 0)
				break;
		if (i == nvars)
			rc = buf_append(&b, open, n + 4);
		else if (html)
			rc = mail_html_escape(&b, vars[i].value ?
					      vars[i].value : "");
		else
			rc = buf_puts(&b, vars[i].value ? vars[i].value : "");
		t = close + 2;
	}
	if (rc == 0)
		rc = buf_puts(&b, t);
	if (rc == 0)
		rc = buf_append(&b, "", 1);
	*out = rc == 0 ? buf_detach(&b, NULL) : NULL;
	buf_release(&b);
	return rc < 0 ? rc : (*out ? 0 : CHAT_ENOMEM);
}

int mail_tmpl_render(const char *data_dir, const char *name,
		     const struct mail_var *vars, size_t nvars,
		     char **subject, char **text, char **html)
{
	const struct tmpl *t = tmpl_find(name);
	char *ftext = NULL, *fhtml = NULL, *nl;
	const char *subj, *body;
	int rc;

	*subject = *text = *html = NULL;
	if (!t || strlen(name) > TMPL_NAME_MAX)
		return CHAT_ENOTFOUND;
	rc = tmpl_file(data_dir, name, ".txt", &ftext);
	if (rc == 0)
		rc = tmpl_file(data_dir, name, ".html", &fhtml);
	if (rc < 0)
		goto out;
	subj = t->subject;
	body = ftext ? ftext : t->text;
	if (ftext && strncmp(ftext, "Subject:", 8) == 0) {
		subj = ftext + 8 + strspn(ftext + 8, " \t");
		nl = strchr(ftext, '\n');
		body = nl ? nl + 1 : "";
		if (nl) {
			*nl = '\0';
			if (nl > ftext && nl[-1] == '\r')
				nl[-1] = '\0';
		}
	}
	rc = tmpl_expand(subj, vars, nvars, false, subject);
	if (rc == 0)
		rc = tmpl_expand(body, vars, nvars, false, text);
	if (rc == 0)
		rc = tmpl_expand(fhtml ? fhtml : t->html, vars, nvars, true,
				 html);
out:
	if (rc < 0) {
		free(*subject);
		free(*text);
		free(*html);
		*subject = *text = *html = NULL;
	}
	free(ftext);
	free(fhtml);
	return rc;
}
