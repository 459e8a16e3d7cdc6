/*
 * title.c - a conversation's automatic title: once the first answer is
 * stored, aid is asked for a title of at most six words (a generation of
 * its own, purpose "title"), cleaned into one line, and handed to the
 * writer (live_title_done), which stores it unless the user named the
 * conversation meanwhile.  If aid cannot be asked or answers nothing
 * usable, the first words of the question are the title.
 *
 * Threads: title_start on the writer thread; the call's callbacks on
 * the loop thread (or libcurl's); live_title_done takes it from there.
 */
#include "live.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "sse-parse.h"
#include "utf8.h"
#include "banned.h"

/* One event of aid's answer: a title is short, its deltas shorter. */
#define TITLE_EVENT_MAX (64 * 1024)
#define TITLE_SYSTEM "Write a title of at most six words for this" \
	" conversation. Answer with the title only."
#define TITLE_MAX_TOKENS 24
#define TITLE_TEXT_MAX 4096
#define TITLE_BYTES 80
#define TITLE_WORDS 6
/* The question as sent for a title: enough to name it. */
#define TITLE_QUESTION_MAX 4000
#define TITLE_TIMEOUT_MS 60000

/* A title request: one per finished first answer. */
struct title_req {
	struct live *live;
	char user_id[65];
	char conv_id[UUID_STR_LEN];
	char *fallback;
	struct sse_parser parser;
	struct buf text;
	int http_status;
	bool got_done;
};

/* The first n words of s (caller frees). */
static char *title_first_words(const char *s, int n)
{
	struct buf b;
	const char *p = s ? s : "";
	int words = 0;

	buf_init(&b, TITLE_BYTES * 4);
	while (*p && words < n) {
		const char *w;

		while (*p && isspace((unsigned char)*p))
			p++;
		w = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (p == w)
			break;
		if ((words && buf_append(&b, " ", 1) < 0) ||
		    buf_append(&b, w, (size_t)(p - w)) < 0)
			break;
		words++;
	}
	return buf_detach(&b, NULL);
}


static void title_free(struct title_req *t)
{
	sse_parse_release(&t->parser);
	buf_release(&t->text);
	free(t->fallback);
	free(t);
}

static int title_event(void *arg, const struct sse_event *ev)
{
	struct title_req *t = arg;
	cJSON *data;
	const char *text;

	if (strcmp(ev->event, "done") == 0) {
		t->got_done = true;
		return 0;
	}
	if (strcmp(ev->event, "error") == 0)
		return 1;
	if (strcmp(ev->event, "delta") != 0)
		return 0;
	data = cJSON_ParseWithLength(ev->data, ev->data_len);
	text = json_str(data, "text");
	if (text && buf_puts(&t->text, text) < 0) {
		/* long enough: the first line is all that counts */
		cJSON_Delete(data);
		t->got_done = true;
		return 1;
	}
	cJSON_Delete(data);
	return 0;
}

static int title_head(void *arg, int status, const char *const *h,
			  size_t n)
{
	struct title_req *t = arg;

	(void)h;
	(void)n;
	t->http_status = status;
	return status != 200;
}

static int title_data(void *arg, const char *data, size_t len)
{
	struct title_req *t = arg;

	return sse_parse_feed(&t->parser, data, len) != 0;
}

/* Cuts s to at most max bytes on a UTF-8 character boundary. */
static void title_utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* True for bytes trimmed from both ends of a title: space and quotes. */
static bool title_trim_char(unsigned char c)
{
	return isspace(c) || c == '"' || c == '\'' || c == '`' || c == '*';
}

/* True when s starts with a typographic double quote (U+201C, U+201D). */
static bool title_is_curly_quote(const char *s)
{
	return strncmp(s, "\xe2\x80\x9c", 3) == 0 ||
	       strncmp(s, "\xe2\x80\x9d", 3) == 0;
}

/* The model's answer made into a title, in place: first line, no
 * surrounding quotes, TITLE_BYTES at most. */
void title_clean(char *s)
{
	size_t n, start = 0;

	n = strcspn(s, "\r\n");
	s[n] = '\0';
	/* typographic quotes, as whole UTF-8 sequences */
	for (;;) {
		if (title_trim_char((unsigned char)s[start])) {
			start++;
		} else if (title_is_curly_quote(s + start)) {
			start += 3;
		} else {
			break;
		}
	}
	memmove(s, s + start, strlen(s + start) + 1);
	title_utf8_cut(s, TITLE_BYTES);
	n = strlen(s);
	for (;;) {
		if (n > 0 && title_trim_char((unsigned char)s[n - 1]))
			n--;
		else if (n >= 3 && title_is_curly_quote(s + n - 3))
			n -= 3;
		else
			break;
		s[n] = '\0';
	}
	if (!utf8_valid(s, strlen(s)))
		s[0] = '\0';
}

static void title_done(void *arg, int rc)
{
	struct title_req *t = arg;
	char *title = NULL;

	if (rc == 0 && t->got_done && t->text.data) {
		title = t->text.data;
		title_clean(title);
	}
	live_title_done(t->live, t->user_id, t->conv_id, title, t->fallback);
	title_free(t);
}

static const struct http_client_cb title_cb = {
	.on_head = title_head,
	.on_data = title_data,
	.on_done = title_done,
};

void title_start(struct live *l, struct chatd *cd, const char *user_id,
		 const char *role, const char *request_id, const char *conv_id,
		 const char *question, const char *model)
{
	struct title_req *t = calloc(1, sizeof(*t));
	char url[256], hbuf[6][256], *body = NULL, *q = NULL;
	const char *headers[8];
	struct http_request hr = { 0 };
	cJSON *root = NULL, *msgs, *m;
	int rc = CHAT_ENOMEM;

	if (!t)
		return;
	t->live = l;
	snprintf(t->user_id, sizeof(t->user_id), "%s", user_id);
	snprintf(t->conv_id, sizeof(t->conv_id), "%s", conv_id);
	t->fallback = title_first_words(question, TITLE_WORDS);
	if (t->fallback)
		title_clean(t->fallback);
	buf_init(&t->text, TITLE_TEXT_MAX);
	sse_parse_init(&t->parser, TITLE_EVENT_MAX, title_event, NULL, t);

	q = strdup(question ? question : "");
	if (!q)
		goto fail;
	title_utf8_cut(q, TITLE_QUESTION_MAX);
	root = cJSON_CreateObject();
	if (!root ||
	    !(model ? cJSON_AddStringToObject(root, "model", model) :
		      cJSON_AddNullToObject(root, "model")) ||
	    !cJSON_AddStringToObject(root, "system_prompt", TITLE_SYSTEM) ||
	    !cJSON_AddNumberToObject(root, "max_tokens", TITLE_MAX_TOKENS) ||
	    !cJSON_AddStringToObject(root, "purpose", "title") ||
	    !cJSON_AddStringToObject(root, "conversation_id", conv_id))
		goto fail;
	msgs = cJSON_AddArrayToObject(root, "messages");
	m = cJSON_CreateObject();
	if (!msgs || !m || !cJSON_AddItemToArray(msgs, m)) {
		cJSON_Delete(m);
		goto fail;
	}
	if (!cJSON_AddStringToObject(m, "role", "user") ||
	    !cJSON_AddStringToObject(m, "content", q))
		goto fail;
	body = json_print(root);
	if (!body)
		goto fail;
	snprintf(url, sizeof(url), "%s/internal/generate", cd->aid_url);
	gen_headers(cd, user_id, role, request_id, hbuf, headers);
	hr.method = "POST";
	hr.url = url;
	hr.headers = headers;
	hr.body = body;
	hr.body_len = strlen(body);
	hr.connect_timeout_ms = 2000;
	hr.timeout_ms = TITLE_TIMEOUT_MS;
	hr.max_response = 1024 * 1024;
	rc = live_call_start(l, &hr, &title_cb, t);
	if (rc == 0)
		t = NULL;		/* title_done has it */
fail:
	if (t && rc != CHAT_ECANCELED)
		live_title_done(l, t->user_id, t->conv_id, NULL, t->fallback);
	if (t)
		title_free(t);
	cJSON_Delete(root);
	free(body);
	free(q);
}
