/*
 * page.c - cursor pagination shared by the daemons' list routes: the
 * reading of ?limit= and ?cursor= and the {"data", "next_cursor"} answer
 * (page.h).  The daemons once each had their own, and they disagreed:
 * one took "+5" and " 5" for a limit, one refused an empty cursor, one
 * handed out bare ids while the others encoded theirs.
 */
#include "page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "err.h"
#include "banned.h"

/* Room for the longest limit worth reading: more digits are refused. */
#define PAGE_LIMIT_TEXT 24
#define PAGE_CURSOR_TEXT B64URL_ENCODED_SIZE(PAGE_CURSOR_MAX)

/* ?limit=: digits only (strtol alone would take " 5", "+5" and "-0"). */
static int page_limit(const struct http_req *req, long def, long max,
		      long *out)
{
	char text[PAGE_LIMIT_TEXT], *end = NULL;
	int rc = http_req_query(req, "limit", text, sizeof(text));
	long v;

	*out = def;
	if (rc == CHAT_ENOTFOUND)
		return 0;
	if (rc < 0 || text[0] < '0' || text[0] > '9')
		return CHAT_EINVAL;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > max)
		return CHAT_EINVAL;
	*out = v;
	return 0;
}

/* ?cursor=: base64url of at most PAGE_CURSOR_MAX bytes, no NUL in them. */
static int page_cursor(const struct http_req *req, struct page *p)
{
	char text[PAGE_CURSOR_TEXT];
	size_t n = 0;
	int rc = http_req_query(req, "cursor", text, sizeof(text));

	if (rc == CHAT_ENOTFOUND || (rc == 0 && text[0] == '\0'))
		return 0;
	if (rc == 0)
		rc = b64url_decode(text, strlen(text), p->cursor,
				   PAGE_CURSOR_MAX, &n);
	if (rc < 0)
		return CHAT_EINVAL;
	p->cursor[n] = '\0';
	if (memchr(p->cursor, '\0', n))
		return CHAT_EINVAL;
	p->cursor_len = n;
	p->has_cursor = true;
	return 0;
}

int page_parse(const struct http_req *req, long def, long max,
	       page_cursor_fn check, void *arg, struct page *p, char *err,
	       size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (page_limit(req, def, max, &p->limit) < 0) {
		snprintf(err, errlen, "'limit' must be an integer from 1 to %ld",
			 max);
		return CHAT_EINVAL;
	}
	if (page_cursor(req, p) < 0 || (p->has_cursor && check &&
					 !check(p, arg))) {
		p->has_cursor = false;
		p->cursor[0] = '\0';
		p->cursor_len = 0;
		snprintf(err, errlen,
			 "'cursor' is not a cursor this server gave");
		return CHAT_EINVAL;
	}
	return 0;
}

cJSON *page_json(cJSON *data, const void *next, size_t len)
{
	char text[PAGE_CURSOR_TEXT];
	cJSON *obj = NULL;
	cJSON *cur;

	if (next && (len > PAGE_CURSOR_MAX ||
		     b64url_encode(next, len, text, sizeof(text)) < 0))
		goto fail;
	obj = cJSON_CreateObject();
	if (!obj || !cJSON_AddItemToObject(obj, "data", data))
		goto fail;
	data = NULL;		/* obj's now */
	cur = next ? cJSON_AddStringToObject(obj, "next_cursor", text) :
		     cJSON_AddNullToObject(obj, "next_cursor");
	if (!cur)
		goto fail;
	return obj;
fail:
	cJSON_Delete(data);
	cJSON_Delete(obj);
	return NULL;
}
