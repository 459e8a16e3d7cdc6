/*
 * wire.c - writing helpers for aid's streams: a JSON string literal
 * appended to a buffer without building a cJSON tree, for the hot path of
 * token deltas (one small event per token).
 */
#include "aid.h"

#include <stdio.h>

#include "err.h"
#include "banned.h"

int wire_json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;
	int rc;

	rc = buf_append(b, "\"", 1);
	for (i = 0; rc == 0 && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rc = buf_append(b, s + start, i - start);
		if (rc < 0)
			break;
		start = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
			break;
		}
		rc = buf_append(b, esc, elen);
	}
	if (rc == 0)
		rc = buf_append(b, s + start, len - start);
	if (rc == 0)
		rc = buf_append(b, "\"", 1);
	return rc;
}
