/*
 * mail-config.c - the mail channel's keys (smtp.*, notifyd.public_url;
 * man/chat.conf.5) into a struct mail_config, once at start.
 *
 * The password comes from smtp.password_file (its first line) or
 * smtp.password; it lives in the struct only, is wiped at release, and
 * no message of this file names it: an error says which key, never the
 * value.  The unsubscribe tokens' key is derived from the stack's
 * internal secret, so it survives a restart and no new file is needed.
 */
#include "mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "daemon.h"
#include "err.h"
#include "util.h"
#include "banned.h"

#define MAIL_PASSWORD_FILE_MAX 4096

static const char mail_unsub_context[] = "chat notifyd unsubscribe v1";

/* A copy of the key's string value, or NULL when unset or empty. */
static int mail_dup(struct daemon *d, const char *key, char **out)
{
	const char *v = config_key_str(d->cfg, key);

	*out = NULL;
	if (!v || !*v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : CHAT_ENOMEM;
}

/* The first line of smtp.password_file into cfg->password. */
static int mail_password_file(const char *path, struct mail_config *cfg,
			      char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = util_read_file(path, MAIL_PASSWORD_FILE_MAX, &text, &len);
	if (rc < 0) {
		chat_errf(err, errlen, "smtp.password_file: cannot read '%s':"
			  " %s", path, chat_strerror(rc));
		return CHAT_EINVAL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	free(cfg->password);
	cfg->password = strdup(text);
	sodium_memzero(text, len);
	free(text);
	return cfg->password ? 0 : CHAT_ENOMEM;
}

int mail_config_load(struct daemon *d, struct mail_config *cfg, char *err,
		     size_t errlen)
{
	const char *tls = NULL, *pwfile;
	long port = 0;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = mail_dup(d, "smtp.url", &cfg->url);
	if (rc == 0 && cfg->url && strncmp(cfg->url, "smtp://", 7) != 0 &&
	    strncmp(cfg->url, "smtps://", 8) != 0) {
		/* the URL is not printed: it may hold a user and password */
		chat_errf(err, errlen, "smtp.url: not an smtp:// or smtps:// "
			  "URL");
		rc = CHAT_EINVAL;
	}
	if (rc == 0)
		rc = config_key_enum(d->cfg, "smtp.starttls", &tls, err,
				     errlen);
	cfg->starttls_required = tls && strcmp(tls, "required") == 0;
	if (rc == 0)
		rc = mail_dup(d, "smtp.ca_file", &cfg->ca_file);
	if (rc == 0)
		rc = mail_dup(d, "smtp.from", &cfg->from);
	if (rc == 0 && !mail_addr_valid(cfg->from)) {
		chat_errf(err, errlen, "smtp.from: not a mail address");
		rc = CHAT_EINVAL;
	}
	if (rc == 0)
		rc = mail_dup(d, "smtp.user", &cfg->user);
	if (rc == 0)
		rc = mail_dup(d, "smtp.password", &cfg->password);
	pwfile = config_key_str(d->cfg, "smtp.password_file");
	if (rc == 0 && pwfile && *pwfile)
		rc = mail_password_file(pwfile, cfg, err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "smtp.timeout_ms", &cfg->timeout_ms,
				    err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "smtp.retry_ms", &cfg->retry_ms,
				    err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "smtp.attempts", &cfg->attempts,
				    err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "smtp.idle_ms", &cfg->idle_ms,
				    err, errlen);
	if (rc == 0)
		rc = mail_dup(d, "notifyd.public_url", &cfg->public_url);
	if (rc == 0 && !cfg->public_url) {
		rc = config_key_int(d->cfg, "port", &port, err, errlen);
		if (rc == 0 && asprintf(&cfg->public_url,
					"http://localhost:%ld", port) < 0) {
			cfg->public_url = NULL;
			rc = CHAT_ENOMEM;
		}
	}
	if (rc == 0) {
		cfg->public_url[strcspn(cfg->public_url, "\r\n")] = '\0';
		while (*cfg->public_url &&
		       cfg->public_url[strlen(cfg->public_url) - 1] == '/')
			cfg->public_url[strlen(cfg->public_url) - 1] = '\0';
		crypto_generichash(cfg->unsub_key, sizeof(cfg->unsub_key),
				   (const unsigned char *)mail_unsub_context,
				   sizeof(mail_unsub_context) - 1,
				   (const unsigned char *)d->internal_secret,
				   strlen(d->internal_secret));
	}
	if (rc == CHAT_ENOMEM)
		chat_errf(err, errlen, "out of memory");
	if (rc < 0)
		mail_config_release(cfg);
	return rc;
}

void mail_config_release(struct mail_config *cfg)
{
	if (cfg->password) {
		sodium_memzero(cfg->password, strlen(cfg->password));
		free(cfg->password);
	}
	free(cfg->url);
	free(cfg->ca_file);
	free(cfg->from);
	free(cfg->user);
	free(cfg->public_url);
	sodium_memzero(cfg->unsub_key, sizeof(cfg->unsub_key));
	memset(cfg, 0, sizeof(*cfg));
}
