/*
 * page.h - cursor pagination for the daemons' list routes: one reading
 * of ?limit= and ?cursor=, one answer {"data": [...], "next_cursor"},
 * so that every list refuses the same malformed parameters with the
 * same message and hands out cursors of one form.
 *
 * A cursor is opaque to clients: the base64url (no padding) of what the
 * daemon needs to find the next page (an id, "<updated_at>:<id>"...).
 * page_parse decodes it; the daemon's check says whether the bytes are
 * one it would have made.  A route asks for limit + 1 rows and hands the
 * extra row's predecessor to page_json as the next page's start.
 *
 * Pure functions of their arguments: any thread.
 */
#ifndef CHAT_PAGE_H
#define CHAT_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "http-server.h"

/* Longest decoded cursor, in bytes (the NUL not counted). */
#define PAGE_CURSOR_MAX 127

struct page {
	long limit;				/* rows of this page, 1..max */
	bool has_cursor;			/* ?cursor= given, not empty */
	char cursor[PAGE_CURSOR_MAX + 1];	/* decoded, NUL-terminated */
	size_t cursor_len;			/* bytes in cursor */
};

/* Whether p->cursor is one the daemon made (it may rewrite p->cursor,
 * e.g. to a normal form); arg is page_parse's. */
typedef bool (*page_cursor_fn)(struct page *p, void *arg);

/* Reads ?limit= (decimal digits only, 1..max; def when absent) and
 * ?cursor= (absent or empty: the first page) of req into *p.  check,
 * when not NULL, vets a decoded cursor; a cursor holding a NUL is
 * refused before it.  0, or CHAT_EINVAL with the message of the 400
 * "invalid_field" answer in err (errlen bytes): "'limit' must be an
 * integer from 1 to <max>" or "'cursor' is not a cursor this server
 * gave". */
int page_parse(const struct http_req *req, long def, long max,
	       page_cursor_fn check, void *arg, struct page *p, char *err,
	       size_t errlen);

/* {"data": data, "next_cursor": base64url of next (len bytes) or null
 * when next is NULL}.  Takes data over (freed on failure too); NULL when
 * out of memory or when next is longer than PAGE_CURSOR_MAX. */
cJSON *page_json(cJSON *data, const void *next, size_t len);

#endif
