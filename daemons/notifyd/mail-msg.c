/*
 * mail-msg.c - the bytes of one mail from its parts: RFC 5322 headers,
 * a multipart/alternative body of a text and an HTML part (RFC 2046),
 * each base64 so that no line is too long, no dot needs stuffing and
 * UTF-8 arrives intact.
 *
 * Everything a user or an event chose (a display name, a user agent in
 * the subject) reaches a header only through mail_header_text, which
 * turns every control character into a space before anything else: a
 * CR/LF in a display name can never start a header of its own.  Text
 * that is not plain printable ASCII becomes RFC 2047 encoded words, cut
 * on character boundaries.  Addresses are checked, never escaped: one
 * that needs escaping is refused.
 *
 * Pure (no clock, no randomness: the caller gives the date, the
 * Message-ID and the boundary), so tests/unit/test-notifyd-mail.c
 * checks it byte for byte.
 */
#include "mail.h"

#include <string.h>
#include <time.h>
#include <sodium.h>

#include "err.h"
#include "utf8.h"
#include "banned.h"

#define MAIL_B64_LINE 76		/* base64 characters a body line */
#define MAIL_WORD_BYTES 45		/* input bytes of one encoded word:
					 * 60 base64 characters, 75 in all */
#define MAIL_PLAIN_MAX 76		/* a plain header text longer than
					 * this is encoded (and so folded) */

static const char *const mail_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const mail_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec",
};

/* HTML's five, each with what it becomes. */
static const struct {
	char c;
	const char *entity;
} mail_entities[] = {
	{ '&', "&amp;" }, { '<', "&lt;" }, { '>', "&gt;" },
	{ '"', "&quot;" }, { '\'', "&#39;" },
};

bool mail_addr_valid(const char *addr)
{
	const char *at = addr ? strchr(addr, '@') : NULL;
	size_t len;
	const char *p;

	if (!at || at == addr || !at[1] || strchr(at + 1, '@'))
		return false;
	len = strlen(addr);
	if (len > MAIL_ADDR_MAX)
		return false;
	for (p = addr; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("\"<>(),;:\\[]", c))
			return false;
	}
	return true;
}

/* s with controls as spaces and invalid UTF-8 as '?' (a header's text
 * can hold neither), into out. */
static int mail_clean(struct buf *out, const char *s)
{
	size_t len = strlen(s), i = 0, n;
	uint32_t cp;
	int rc = 0;

	while (rc == 0 && i < len) {
		n = utf8_decode(s + i, len - i, &cp);
		if (n == 0)
			rc = buf_append(out, "?", 1);
		else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			rc = buf_append(out, " ", 1);
		else
			rc = buf_append(out, s + i, n);
		i += n ? n : 1;
	}
	return rc;
}

/* Standard base64 of in into out. */
static int mail_b64(struct buf *out, const void *in, size_t n)
{
	char tmp[128];

	/* callers give at most MAIL_WORD_BYTES or a body line's bytes */
	if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) >
	    sizeof(tmp))
		return CHAT_ETOOBIG;
	sodium_bin2base64(tmp, sizeof(tmp), in, n,
			  sodium_base64_VARIANT_ORIGINAL);
	return buf_puts(out, tmp);
}

/* Clean text s as encoded words, folded: each word whole characters. */
static int mail_words(struct buf *out, const char *s, size_t len)
{
	size_t i = 0, start, n;
	int rc = 0;

	while (rc == 0 && i < len) {
		start = i;
		while (i < len) {
			n = utf8_decode(s + i, len - i, NULL);
			n = n ? n : 1;
			if (i - start + n > MAIL_WORD_BYTES)
				break;
			i += n;
		}
		if (start > 0)
			rc = buf_puts(out, "\r\n ");
		if (rc == 0)
			rc = buf_puts(out, "=?UTF-8?B?");
		if (rc == 0)
			rc = mail_b64(out, s + start, i - start);
		if (rc == 0)
			rc = buf_puts(out, "?=");
	}
	return rc;
}

/* Header text; force: words even for plain ASCII (a display name, where
 * specials such as '"' and '<' would need quoting). */
static int mail_header_any(struct buf *out, const char *s, bool force)
{
	struct buf clean;
	bool plain;
	size_t i;
	int rc;

	buf_init(&clean, MAIL_MSG_MAX);
	rc = mail_clean(&clean, s ? s : "");
	if (rc < 0 || clean.len == 0)
		goto out;
	plain = !force && clean.len <= MAIL_PLAIN_MAX &&
		!memmem(clean.data, clean.len, "=?", 2);
	for (i = 0; plain && i < clean.len; i++)
		if ((unsigned char)clean.data[i] >= 0x7f)
			plain = false;
	rc = plain ? buf_append(out, clean.data, clean.len) :
	     mail_words(out, clean.data, clean.len);
out:
	buf_release(&clean);
	return rc;
}

int mail_header_text(struct buf *out, const char *s)
{
	return mail_header_any(out, s, false);
}

int mail_html_escape(struct buf *out, const char *s)
{
	size_t i, j, run;
	int rc = 0;

	for (i = 0; rc == 0 && s && s[i]; i += run) {
		run = strcspn(s + i, "&<>\"'");
		if (run > 0) {
			rc = buf_append(out, s + i, run);
			continue;
		}
		for (j = 0; j < sizeof(mail_entities) / sizeof(mail_entities[0]);
		     j++)
			if (mail_entities[j].c == s[i])
				rc = buf_puts(out, mail_entities[j].entity);
		run = 1;
	}
	return rc;
}

/* The Date header's value: "Mon, 07 Dec 2026 21:30:00 +0000". */
static int mail_date(struct buf *out, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return CHAT_EINVAL;
	return buf_printf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000",
			  mail_days[tm.tm_wday % 7], tm.tm_mday,
			  mail_months[tm.tm_mon % 12], tm.tm_year + 1900,
			  tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One part: its head, then s with its lines ended by CRLF (the
 * canonical form of text), as base64 lines. */
static int mail_part(struct buf *out, const char *boundary,
		     const char *type, const char *s)
{
	struct buf canon;
	size_t i, n;
	int rc;

	buf_init(&canon, MAIL_MSG_MAX);
	rc = buf_printf(out, "--%s\r\nContent-Type: %s; charset=UTF-8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n",
			boundary, type);
	for (i = 0; rc == 0 && s[i]; i++) {
		if (s[i] == '\r')
			continue;
		rc = s[i] == '\n' ? buf_puts(&canon, "\r\n") :
		     buf_append(&canon, s + i, 1);
	}
	for (i = 0; rc == 0 && i < canon.len; i += n) {
		n = canon.len - i;
		if (n > MAIL_B64_LINE / 4 * 3)
			n = MAIL_B64_LINE / 4 * 3;
		rc = mail_b64(out, canon.data + i, n);
		if (rc == 0)
			rc = buf_puts(out, "\r\n");
	}
	buf_release(&canon);
	return rc;
}

static bool mail_boundary_valid(const char *b)
{
	size_t len = b ? strlen(b) : 0;

	return len >= 16 && len <= 70 &&
	       strspn(b, "0123456789abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ_=.") == len;
}

int mail_msg_build(const struct mail_msg *m, struct buf *out)
{
	int rc;

	buf_reset(out);
	if (!mail_addr_valid(m->from) || !mail_addr_valid(m->to) ||
	    !mail_boundary_valid(m->boundary) || !m->message_id ||
	    strpbrk(m->message_id, "\r\n") ||
	    (m->unsubscribe_url && strpbrk(m->unsubscribe_url, "\r\n <>")))
		return CHAT_EINVAL;
	rc = buf_printf(out, "From: <%s>\r\nTo: ", m->from);
	if (rc == 0 && m->to_name && *m->to_name) {
		rc = mail_header_any(out, m->to_name, true);
		if (rc == 0)
			rc = buf_puts(out, " ");
	}
	if (rc == 0)
		rc = buf_printf(out, "<%s>\r\nSubject: ", m->to);
	if (rc == 0)
		rc = mail_header_text(out, m->subject);
	if (rc == 0)
		rc = buf_puts(out, "\r\nDate: ");
	if (rc == 0)
		rc = mail_date(out, m->date_ms);
	if (rc == 0)
		rc = buf_printf(out, "\r\nMessage-ID: %s\r\nMIME-Version: 1.0"
				"\r\nAuto-Submitted: auto-generated\r\n",
				m->message_id);
	if (rc == 0 && m->unsubscribe_url)
		rc = buf_printf(out, "List-Unsubscribe: <%s>\r\n"
				"List-Unsubscribe-Post: "
				"List-Unsubscribe=One-Click\r\n",
				m->unsubscribe_url);
	if (rc == 0)
		rc = buf_printf(out, "Content-Type: multipart/alternative;"
				" boundary=\"%s\"\r\n\r\n", m->boundary);
	if (rc == 0)
		rc = mail_part(out, m->boundary, "text/plain",
			       m->text ? m->text : "");
	if (rc == 0)
		rc = mail_part(out, m->boundary, "text/html",
			       m->html ? m->html : "");
	if (rc == 0)
		rc = buf_printf(out, "--%s--\r\n", m->boundary);
	return rc;
}
