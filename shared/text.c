/*
 * text.c - client-supplied text made safe to store and show.
 *
 * A user agent is whatever a client put in a header: it may be
 * megabytes, broken UTF-8, or hold ESC sequences that would drive the
 * terminal of whoever lists their sessions (chatctl, chatui, psql).  It
 * is cleaned once, before it is stored, so that every place that shows
 * it gets text.  Invalid bytes and controls become U+FFFD rather than
 * disappearing, so a reader can see that something was there.
 */
#include "text.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"
#include "banned.h"

/* U+FFFD REPLACEMENT CHARACTER */
static const char text_replacement[] = "\xEF\xBF\xBD";
#define TEXT_REPLACEMENT_LEN (sizeof(text_replacement) - 1)

/* C0 (NUL..US), DEL and C1: the code points terminals act on. */
static bool text_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

size_t text_clean(const char *in, size_t len, char *out, size_t outlen)
{
	const char *piece;
	size_t i = 0, n = 0, k, plen;
	uint32_t cp = 0;

	if (outlen == 0)
		return 0;
	if (!in)
		len = 0;
	while (i < len) {
		k = utf8_decode(in + i, len - i, &cp);
		if (k == 0) {
			/* one replacement per byte: a bad byte never
			 * swallows the valid text after it */
			k = 1;
			piece = text_replacement;
			plen = TEXT_REPLACEMENT_LEN;
		} else if (text_is_control(cp)) {
			piece = text_replacement;
			plen = TEXT_REPLACEMENT_LEN;
		} else {
			piece = in + i;
			plen = k;
		}
		if (plen > outlen - 1 - n)
			break;		/* full: cut before this character */
		memcpy(out + n, piece, plen);
		n += plen;
		i += k;
	}
	out[n] = '\0';
	return n;
}
