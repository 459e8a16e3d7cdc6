/*
 * smtp-curl.c - one mail over SMTP through a libcurl easy handle, the
 * run-time module chat-smtp.so (smtp-curl.h).  A handle per call: mail
 * is rare next to HTTP, and a fresh conversation each time keeps one
 * mail's failure (a refused AUTH, a dropped connection) out of the next.
 *
 * What never leaves this file: the password (curl is given it, and
 * curl's messages do not repeat it; the reason in err is built from
 * curl's error code and buffer, which name the step and the server, and
 * is checked for the password all the same) and the message's bytes.
 */
#include "smtp-curl.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "err.h"
#include "module-ext.h"
#include "banned.h"

MODULE_EXT_INIT;

/* The message, read by curl in pieces. */
struct smtp_body {
	const char *data;
	size_t len;
	size_t off;
};

static pthread_once_t smtp_once = PTHREAD_ONCE_INIT;
static CURLcode smtp_global_rc = CURLE_FAILED_INIT;

static void smtp_global(void)
{
	smtp_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t smtp_read(char *out, size_t size, size_t n, void *arg)
{
	struct smtp_body *b = arg;
	size_t want = size * n, left = b->len - b->off;

	if (want > left)
		want = left;
	memcpy(out, b->data + b->off, want);
	b->off += want;
	return want;
}

/* The error of a failed transfer, into err without the password. */
static int smtp_fail(const struct smtp_send *m, CURLcode cc,
		     const char *detail, char *err, size_t errlen)
{
	const char *why = detail && *detail ? detail : curl_easy_strerror(cc);

	if (m->password && *m->password && strstr(why, m->password))
		why = curl_easy_strerror(cc);
	chat_errf(err, errlen, "smtp: %s", why);
	return cc == CURLE_OPERATION_TIMEDOUT ? CHAT_ETIMEDOUT : CHAT_EUPSTREAM;
}

static int smtp_send(const struct smtp_send *m, char *err, size_t errlen)
{
	struct smtp_body body = { m->msg, m->msg_len, 0 };
	char detail[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL;
	CURL *h = NULL;
	CURLcode cc;
	int rc = 0;

	pthread_once(&smtp_once, smtp_global);
	if (smtp_global_rc != CURLE_OK) {
		chat_errf(err, errlen, "smtp: libcurl would not start");
		return CHAT_EUPSTREAM;
	}
	h = curl_easy_init();
	rcpt = curl_slist_append(NULL, m->rcpt);
	if (!h || !rcpt) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	/* every option below only fails on out of memory or a libcurl
	 * without SMTP; curl_easy_perform reports either */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_URL, m->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL, m->starttls_required ?
			 (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (m->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, m->ca_file);
	if (m->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, m->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD,
				 m->password ? m->password : "");
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, m->from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, smtp_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &body);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->msg_len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, m->timeout_ms);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK)
		rc = smtp_fail(m, cc, detail, err, errlen);
out:
	if (rc == CHAT_ENOMEM)
		chat_errf(err, errlen, "smtp: out of memory");
	curl_slist_free_all(rcpt);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

const struct smtp_curl_ops chat_module_smtp_v1 = {
	.send = smtp_send,
};
