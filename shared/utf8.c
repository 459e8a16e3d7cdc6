/*
 * utf8.c - strict UTF-8 validation (RFC 3629).
 *
 * Rejects overlong forms, UTF-16 surrogates (U+D800..U+DFFF), code points
 * above U+10FFFF, truncated sequences and stray continuation bytes.  It
 * also rejects NUL bytes: validated text is handed to C code as
 * NUL-terminated strings, and an embedded NUL would silently cut it.
 */
#include "utf8.h"

#include <stdint.h>

#include "banned.h"

/*
 * Valid byte ranges per sequence, from RFC 3629 section 4 (the
 * "UTF8-2/3/4" rules); the second byte's range is what excludes
 * overlongs, surrogates and values above U+10FFFF.
 */
struct utf8_form {
	unsigned char lead_lo, lead_hi;	/* lead byte range */
	unsigned char next_lo, next_hi;	/* range of the second byte */
	unsigned char len;		/* bytes in the sequence */
};

static const struct utf8_form utf8_forms[] = {
	{ 0xC2, 0xDF, 0x80, 0xBF, 2 },
	{ 0xE0, 0xE0, 0xA0, 0xBF, 3 },	/* no overlongs */
	{ 0xE1, 0xEC, 0x80, 0xBF, 3 },
	{ 0xED, 0xED, 0x80, 0x9F, 3 },	/* no surrogates */
	{ 0xEE, 0xEF, 0x80, 0xBF, 3 },
	{ 0xF0, 0xF0, 0x90, 0xBF, 4 },	/* no overlongs */
	{ 0xF1, 0xF3, 0x80, 0xBF, 4 },
	{ 0xF4, 0xF4, 0x80, 0x8F, 4 },	/* max U+10FFFF */
};

static const struct utf8_form *utf8_form_of(unsigned char c)
{
	size_t i;

	for (i = 0; i < sizeof(utf8_forms) / sizeof(utf8_forms[0]); i++)
		if (c >= utf8_forms[i].lead_lo && c <= utf8_forms[i].lead_hi)
			return &utf8_forms[i];
	return NULL;
}

size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	const struct utf8_form *f;
	uint32_t v;
	size_t k;

	if (len == 0)
		return 0;
	if (p[0] < 0x80) {
		if (cp)
			*cp = p[0];
		return 1;
	}
	/* 0x80..0xC1 and 0xF5..0xFF have no form. */
	f = utf8_form_of(p[0]);
	if (!f || len < f->len || p[1] < f->next_lo || p[1] > f->next_hi)
		return 0;
	v = p[0] & (0xFF >> (f->len + 1));
	for (k = 1; k < f->len; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[k] & 0x3F);
	}
	if (cp)
		*cp = v;
	return f->len;
}

bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	if (!s)
		return len == 0;
	while (i < len) {
		if (s[i] == '\0')
			return false;
		n = utf8_decode(s + i, len - i, NULL);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}
