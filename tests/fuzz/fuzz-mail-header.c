/*
 * fuzz-mail-header.c - libFuzzer target for notifyd's mail building
 * (daemons/notifyd/mail-msg.c) with untrusted text where users and
 * events put it: the recipient's display name and the subject (which
 * carries what an event named, a key's name).
 *
 * Input: one byte that splits the rest (its value times the rest's
 * length over 256: the display name before, the subject after), then the
 * bytes; a NUL ends either early.
 *
 * Checks beyond memory safety:
 *  - the message builds (anything can be made header-safe);
 *  - every line of the head ends in CRLF, holds no other CR or LF and
 *    starts a header mail-msg.c writes or continues one (a space): no
 *    input adds a header;
 *  - every encoded word is at most 75 characters and decodes to valid
 *    UTF-8 (words are cut on character boundaries);
 *  - the body has exactly three boundary lines (the head may hold the
 *    boundary's text: it is random, and only a line of the body counts).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "buf.h"
#include "utf8.h"
#include "../../daemons/notifyd/mail.h"

#include "fuzz.h"

#define BOUNDARY "=_chat_00112233445566778899aabbccddeeff"

static const char *const heads[] = {
	"From: ", "To: ", "Subject: ", "Date: ", "Message-ID: ",
	"MIME-Version: ", "Auto-Submitted: ", "Content-Type: ", NULL,
};

/* The encoded words of line[0..n): each whole UTF-8, at most 75. */
static void check_words(const char *line, size_t n)
{
	const char *w = line, *end = line + n, *close;
	unsigned char bin[128];
	size_t binlen;

	while ((w = memmem(w, (size_t)(end - w), "=?UTF-8?B?", 10))) {
		close = memmem(w + 10, (size_t)(end - w - 10), "?=", 2);
		FUZZ_CHECK(close != NULL);
		FUZZ_CHECK(close + 2 - w <= 75);
		FUZZ_CHECK(sodium_base642bin(bin, sizeof(bin), w + 10,
					     (size_t)(close - w - 10), NULL,
					     &binlen, NULL,
					     sodium_base64_VARIANT_ORIGINAL) ==
			   0);
		FUZZ_CHECK(utf8_valid((const char *)bin, binlen));
		w = close + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t split = (size_t)fuzz_byte(&in) * in.n / 256, i, count = 0;
	char *name = strndup((const char *)in.p, split);
	char *subject = strndup((const char *)in.p + split, in.n - split);
	struct mail_msg m = {
		.from = "chat@example.org", .to = "a@example.org",
		.text = "t", .html = "h", .message_id = "<1@example.org>",
		.boundary = BOUNDARY, .date_ms = 0,
	};
	const char *p, *nl, *body;
	struct buf b;

	if (!name || !subject)
		abort();
	m.to_name = name;
	m.subject = subject;
	buf_init(&b, MAIL_MSG_MAX);
	FUZZ_CHECK(mail_msg_build(&m, &b) == 0);
	FUZZ_CHECK(buf_append(&b, "", 1) == 0);
	body = strstr(b.data, "\r\n\r\n");
	FUZZ_CHECK(body != NULL);
	for (p = b.data; p < body + 2; p = nl + 2) {
		nl = strstr(p, "\r\n");
		FUZZ_CHECK(nl != NULL);
		FUZZ_CHECK(!memchr(p, '\r', (size_t)(nl - p)));
		FUZZ_CHECK(!memchr(p, '\n', (size_t)(nl - p)));
		check_words(p, (size_t)(nl - p));
		if (*p == ' ')
			continue;
		for (i = 0; heads[i]; i++)
			if (strncmp(p, heads[i], strlen(heads[i])) == 0)
				break;
		FUZZ_CHECK(heads[i] != NULL);
	}
	for (p = body; (p = strstr(p, "\r\n--" BOUNDARY)); p++)
		count++;
	FUZZ_CHECK(count == 3);
	buf_release(&b);
	free(name);
	free(subject);
	return 0;
}
