/*
 * smtp-curl.h - sending one mail over SMTP with libcurl: the run-time
 * module chat-smtp.so (module.h), so that only a daemon that sends mail
 * (notifyd, with smtp.url set) maps libcurl for it, and the HTTP
 * module's ops (http-curl.h) stay as they are.  The one exported symbol
 * is chat_module_smtp_v<SMTP_CURL_MODULE_VERSION>.
 */
#ifndef CHAT_SMTP_CURL_H
#define CHAT_SMTP_CURL_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_CURL_MODULE "smtp"
/* Bump with any change to the structs below. */
#define SMTP_CURL_MODULE_VERSION 1

/* One mail to send; every string is the caller's and NUL-terminated. */
struct smtp_send {
	const char *url;		/* smtp://host[:port] or smtps:// */
	bool starttls_required;		/* smtp://: fail without STARTTLS
					 * (else upgrade when offered) */
	const char *ca_file;		/* NULL: the system's CAs */
	const char *user;		/* NULL: no AUTH */
	const char *password;		/* with user; never in an error */
	const char *from;		/* the envelope's sender */
	const char *rcpt;		/* the one recipient */
	const char *msg;		/* the RFC 5322 message, CRLF lines */
	size_t msg_len;
	long timeout_ms;		/* the whole conversation */
};

struct smtp_curl_ops {
	/*
	 * Sends one mail, blocking (worker threads only; any number of
	 * threads at once).  0 when the server accepted it; CHAT_EUPSTREAM
	 * with the reason in err when it could not be sent (cannot
	 * connect, no STARTTLS when required, a certificate that does not
	 * verify, AUTH refused, the server refused the mail: the reason
	 * names neither the password nor the message); CHAT_ETIMEDOUT;
	 * CHAT_ENOMEM.
	 */
	int (*send)(const struct smtp_send *m, char *err, size_t errlen);
};

extern const struct smtp_curl_ops chat_module_smtp_v1;

#endif
