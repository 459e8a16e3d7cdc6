/* test-notifyd-mail.c - notifyd's mail building without a server:
 * headers that no display name or subject can break out of (CR/LF
 * injection), RFC 2047 words cut on character boundaries, HTML escaping,
 * the multipart/alternative layout and its boundary, addresses refused
 * rather than escaped, and the templates (escaped values in the HTML,
 * the code alone on a line, no second expansion, overrides from the
 * data dir). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "utf8.h"
#include "../../daemons/notifyd/mail.h"
#include "banned.h"

#define BOUNDARY "=_chat_0123456789abcdef"

static void build(const char *to_name, const char *subject,
		  const char *text, const char *html, const char *unsub,
		  struct buf *out)
{
	struct mail_msg m = {
		.from = "chat@example.org",
		.to = "alice@example.org",
		.to_name = to_name,
		.subject = subject,
		.text = text,
		.html = html,
		.unsubscribe_url = unsub,
		.message_id = "<0193-1@example.org>",
		.boundary = BOUNDARY,
		.date_ms = 1796601600000LL,	/* 2026-12-07 00:00:00 */
	};

	buf_init(out, MAIL_MSG_MAX);
	assert_int_equal(mail_msg_build(&m, out), 0);
	assert_int_equal(buf_append(out, "", 1), 0);
}

/* The message's head: the text before the first empty line. */
static char *head_of(const struct buf *b)
{
	const char *end = strstr(b->data, "\r\n\r\n");

	assert_non_null(end);
	return strndup(b->data, (size_t)(end - b->data) + 2);
}

/* Every line of the head starts a known header or continues one. */
static void assert_headers(const char *head, const char *const *names)
{
	const char *line = head, *nl;
	size_t i;

	for (; *line; line = nl + 2) {
		nl = strstr(line, "\r\n");
		assert_non_null(nl);
		if (*line == ' ')
			continue;
		for (i = 0; names[i]; i++)
			if (strncmp(line, names[i], strlen(names[i])) == 0)
				break;
		if (!names[i])
			fail_msg("unexpected header line: %.*s",
				 (int)(nl - line), line);
	}
}

static const char *const known[] = {
	"From: ", "To: ", "Subject: ", "Date: ", "Message-ID: ",
	"MIME-Version: ", "Auto-Submitted: ", "Content-Type: ",
	"List-Unsubscribe: ", "List-Unsubscribe-Post: ", NULL,
};

static void test_header_injection(void **state)
{
	struct buf b;
	char *head;

	(void)state;
	build("Eve\r\nBcc: victim@example.org", "Hi\r\nX-Evil: 1\n\rBcc: v@x",
	      "t", "h", NULL, &b);
	head = head_of(&b);
	assert_headers(head, known);
	assert_null(strstr(head, "\r\nBcc"));
	assert_null(strstr(head, "\r\nX-Evil"));
	/* the subject's line breaks became spaces, on one line */
	assert_non_null(strstr(head, "Subject: Hi  X-Evil: 1  Bcc: v@x\r\n"));
	/* a display name is always encoded words, before the address */
	assert_non_null(strstr(head, "To: =?UTF-8?B?"));
	assert_non_null(strstr(head, " <alice@example.org>\r\n"));
	free(head);
	buf_release(&b);
}

static void test_addresses(void **state)
{
	struct mail_msg m = {
		.from = "chat@example.org", .to = "a@b\r\nBcc: c@d",
		.subject = "s", .message_id = "<x@y>", .boundary = BOUNDARY,
	};
	struct buf b;

	(void)state;
	assert_true(mail_addr_valid("alice+tag@example.org"));
	assert_false(mail_addr_valid("alice@example.org\r\nBcc: x@y"));
	assert_false(mail_addr_valid("Alice <alice@example.org>"));
	assert_false(mail_addr_valid("a@b@c"));
	assert_false(mail_addr_valid("@example.org"));
	assert_false(mail_addr_valid("alice@"));
	assert_false(mail_addr_valid("al ice@example.org"));
	assert_false(mail_addr_valid("al\xc3\xa9@example.org"));
	buf_init(&b, MAIL_MSG_MAX);
	assert_int_equal(mail_msg_build(&m, &b), CHAT_EINVAL);
	m.to = "a@b";
	m.boundary = "short";
	assert_int_equal(mail_msg_build(&m, &b), CHAT_EINVAL);
	m.boundary = BOUNDARY "\"; x=\"";
	assert_int_equal(mail_msg_build(&m, &b), CHAT_EINVAL);
	m.boundary = BOUNDARY;
	m.unsubscribe_url = "https://x/u>\r\nBcc: y@z";
	assert_int_equal(mail_msg_build(&m, &b), CHAT_EINVAL);
	buf_release(&b);
}

/* Decodes every encoded word of the header value at s (up to its
 * CRLF not followed by a blank) into out; each word must be whole
 * UTF-8 and at most 75 characters. */
static void decode_words(const char *s, char *out, size_t outlen)
{
	const char *w = s, *end;
	unsigned char bin[128];
	size_t binlen, o = 0;

	while ((w = strstr(w, "=?UTF-8?B?")) != NULL) {
		end = strstr(w + 10, "?=");
		assert_non_null(end);
		assert_true(end + 2 - w <= 75);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), w + 10,
						   (size_t)(end - w - 10), NULL,
						   &binlen, NULL,
						   sodium_base64_VARIANT_ORIGINAL),
				 0);
		assert_true(utf8_valid((const char *)bin, binlen));
		assert_true(o + binlen < outlen);
		memcpy(out + o, bin, binlen);
		o += binlen;
		w = end + 2;
		if (strncmp(w, "\r\n ", 3) != 0)
			break;
	}
	out[o] = '\0';
}

static void test_rfc2047(void **state)
{
	struct buf b;
	char subject[400], decoded[400];
	const char *s;
	size_t i;

	(void)state;
	build(NULL, "\xc3\x89t\xc3\xa9", "t", "h", NULL, &b);
	assert_non_null(strstr(b.data, "\r\nSubject: =?UTF-8?B?w4l0w6k=?=\r\n"));
	buf_release(&b);

	/* 60 two-byte characters: several words, none cutting one */
	for (i = 0; i < 60; i++)
		memcpy(subject + 2 * i, "\xc3\xa9", 2);
	subject[120] = '\0';
	build(NULL, subject, "t", "h", NULL, &b);
	s = strstr(b.data, "\r\nSubject: ");
	assert_non_null(s);
	decode_words(s + 11, decoded, sizeof(decoded));
	assert_string_equal(decoded, subject);
	buf_release(&b);

	/* plain text that would read as an encoded word is encoded */
	build(NULL, "=?UTF-8?B?SGk=?=", "t", "h", NULL, &b);
	s = strstr(b.data, "\r\nSubject: ");
	decode_words(s + 11, decoded, sizeof(decoded));
	assert_string_equal(decoded, "=?UTF-8?B?SGk=?=");
	buf_release(&b);

	/* invalid UTF-8 becomes '?' */
	build(NULL, "a\xff\xfe" "b\xc3\xa9", "t", "h", NULL, &b);
	s = strstr(b.data, "\r\nSubject: ");
	decode_words(s + 11, decoded, sizeof(decoded));
	assert_string_equal(decoded, "a??b\xc3\xa9");
	buf_release(&b);
}

static void test_html_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(mail_html_escape(&b, "<script>a&b\"c'd</script>"), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_string_equal(b.data, "&lt;script&gt;a&amp;b&quot;c&#39;d"
			    "&lt;/script&gt;");
	buf_release(&b);
}

/* The base64 body of the part of type ctype, decoded. */
static char *part_of(const char *msg, const char *ctype)
{
	char needle[128], *out;
	const char *p, *end;
	unsigned char *bin;
	size_t binlen;

	snprintf(needle, sizeof(needle), "Content-Type: %s; charset=UTF-8"
		 "\r\nContent-Transfer-Encoding: base64\r\n\r\n", ctype);
	p = strstr(msg, needle);
	assert_non_null(p);
	p += strlen(needle);
	end = strstr(p, "--" BOUNDARY);
	assert_non_null(end);
	bin = malloc((size_t)(end - p) + 1);
	assert_non_null(bin);
	assert_int_equal(sodium_base642bin(bin, (size_t)(end - p), p,
					   (size_t)(end - p), "\r\n", &binlen,
					   NULL,
					   sodium_base64_VARIANT_ORIGINAL), 0);
	out = strndup((const char *)bin, binlen);
	free(bin);
	return out;
}

static void test_multipart(void **state)
{
	struct buf b;
	const char *p, *line;
	char *text, *html, *head;
	int n = 0;

	(void)state;
	build("Alice", "Hello", "line one\nline two\n", "<p>x</p>",
	      "https://chat.example.org/v1/notifications/unsubscribe?token=t",
	      &b);
	head = head_of(&b);
	assert_headers(head, known);
	assert_non_null(strstr(head, "Content-Type: multipart/alternative;"
			       " boundary=\"" BOUNDARY "\"\r\n"));
	assert_non_null(strstr(head, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(head, "Date: Mon, 07 Dec 2026 00:00:00 +0000"));
	assert_non_null(strstr(head, "Message-ID: <0193-1@example.org>\r\n"));
	assert_non_null(strstr(head, "List-Unsubscribe: <https://chat."
			       "example.org/v1/notifications/unsubscribe?"
			       "token=t>\r\nList-Unsubscribe-Post: "
			       "List-Unsubscribe=One-Click\r\n"));
	free(head);
	for (p = b.data; (p = strstr(p, "--" BOUNDARY)) != NULL; p++)
		n++;
	assert_int_equal(n, 3);		/* two parts and the close */
	assert_non_null(strstr(b.data, "\r\n--" BOUNDARY "--\r\n"));
	assert_int_equal(strcmp(b.data + strlen(b.data) - strlen(BOUNDARY) - 6,
				"--" BOUNDARY "--\r\n"), 0);
	/* every line CRLF-ended, none over 998 characters, none of the
	 * body over 78 (a URL in a header cannot be folded) */
	for (line = b.data; *line; line = p + 2) {
		p = strstr(line, "\r\n");
		assert_non_null(p);
		assert_true(p - line <= 998);
		assert_true(p - line <= 78 ||
			    line < strstr(b.data, "\r\n\r\n"));
		assert_null(memchr(line, '\n', (size_t)(p - line)));
	}
	text = part_of(b.data, "text/plain");
	html = part_of(b.data, "text/html");
	assert_string_equal(text, "line one\r\nline two\r\n");
	assert_string_equal(html, "<p>x</p>");
	free(text);
	free(html);
	buf_release(&b);

	/* no List-Unsubscribe without a URL */
	build(NULL, "s", "t", "h", NULL, &b);
	assert_null(strstr(b.data, "List-Unsubscribe"));
	buf_release(&b);
}

static void test_templates(void **state)
{
	const struct mail_var vars[] = {
		{ "display_name", "Bob" },
		{ "username", "bob" },
		{ "device", "<img src=x onerror=alert(1)> {{code}}" },
		{ "ip", "127.0.0.1" },
		{ "code", "AB12-CD34" },
		{ "minutes", "30" },
	};
	size_t n = sizeof(vars) / sizeof(vars[0]);
	char *subject, *text, *html;
	const char *line;
	bool alone = false;

	(void)state;
	assert_int_equal(mail_tmpl_render(NULL, "new_device", vars, n,
					  &subject, &text, &html), 0);
	assert_null(strstr(html, "<img"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	/* a value is never expanded again */
	assert_non_null(strstr(text, "Device: <img src=x onerror=alert(1)> "
			       "{{code}}\n"));
	assert_null(strstr(text, "AB12-CD34"));
	free(subject);
	free(text);
	free(html);

	assert_int_equal(mail_tmpl_render(NULL, "password_reset", vars, n,
					  &subject, &text, &html), 0);
	for (line = text; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (strncmp(line, "AB12-CD34\n", 10) == 0)
			alone = true;
	}
	assert_true(alone);
	assert_non_null(strstr(html, "AB12-CD34"));
	free(subject);
	free(text);
	free(html);

	assert_int_equal(mail_tmpl_render(NULL, "no_such_kind", vars, n,
					  &subject, &text, &html),
			 CHAT_ENOTFOUND);
	assert_false(mail_tmpl_exists("generation_finished"));
	assert_true(mail_tmpl_exists("email_verify"));
}

static void test_template_override(void **state)
{
	const struct mail_var vars[] = {
		{ "key_name", "<k>" }, { "display_name", "Bob" },
	};
	char dir[] = "/tmp/test-notifyd-mail-XXXXXX", path[256];
	char *subject, *text, *html;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/templates", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/templates/apikey_created.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Subject: Key {{key_name}} made\nDear {{display_name}}\n", f);
	fclose(f);
	assert_int_equal(mail_tmpl_render(dir, "apikey_created", vars, 2,
					  &subject, &text, &html), 0);
	assert_string_equal(subject, "Key <k> made");
	assert_string_equal(text, "Dear Bob\n");
	/* the HTML part stays the built-in one, escaped */
	assert_non_null(strstr(html, "&lt;k&gt;"));
	free(subject);
	free(text);
	free(html);
	unlink(path);
	snprintf(path, sizeof(path), "%s/templates", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_injection),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_template_override),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
