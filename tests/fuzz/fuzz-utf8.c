/*
 * fuzz-utf8.c - libFuzzer target for UTF-8 handling: the strict
 * validator every request body and stored text goes through
 * (shared/utf8.c), and the grapheme clusters and widths built on its
 * decoder (shared/width.c, the measure of chatctl and chatui), which see
 * every byte a message holds.
 *
 * Input: a byte for a column count (for width_fit), then the text.
 *
 * utf8_valid and utf8_decode are checked against a reference written
 * from RFC 3629's definition (the shortest form of a code point up to
 * U+10FFFF that is not a surrogate; no NUL for utf8_valid); a decoded
 * code point encodes back to the bytes it came from.  For the clusters:
 * width_next walks forward in steps that add up to width_cols,
 * width_prev walks the same boundaries back, and width_fit stops on one
 * of them, within the columns and as far as they allow.
 */
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "width.h"
#include "utf8.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* widths need a UTF-8 locale, as chatui sets it */
	if (!setlocale(LC_ALL, "C.UTF-8"))
		abort();
	return 0;
}

/* The encoding of cp into out (1-4 bytes). */
static size_t encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* The reference decoder: the sequence's length, or 0 when invalid. */
static size_t ref_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, k;
	uint32_t v;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		len = 1;
	else if ((s[0] & 0xE0) == 0xC0)
		len = 2;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	v = len == 1 ? s[0] : s[0] & (0x7F >> len);
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3F);
	}
	if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static void check_utf8(const uint8_t *s, size_t n)
{
	bool valid = true;
	uint32_t cp = 0, rcp = 0;
	uint8_t enc[4];
	size_t i, k, rk;

	for (i = 0; i < n; i++) {
		k = utf8_decode((const char *)s + i, n - i, &cp);
		rk = ref_decode(s + i, n - i, &rcp);
		FUZZ_CHECK(k == rk);
		if (k) {
			FUZZ_CHECK(cp == rcp);
			FUZZ_CHECK(encode(cp, enc) == k &&
				   memcmp(enc, s + i, k) == 0);
			FUZZ_CHECK(utf8_decode((const char *)s + i, k, NULL) ==
				   k);
		}
	}
	/* the whole text, sequence by sequence, without NUL */
	for (i = 0; i < n && valid; i += k) {
		k = ref_decode(s + i, n - i, &rcp);
		valid = k > 0 && rcp != 0;
	}
	FUZZ_CHECK(utf8_valid((const char *)s, n) == valid);
}

/* Cluster boundaries: forward, back, and where width_fit stops. */
static void check_width(const char *s, size_t n, int fit_cols)
{
	size_t *b, nb = 0, off = 0, next, fit, i;
	int cols, sum = 0, used = -1, more;

	b = malloc((n + 1) * sizeof(*b));
	if (!b)
		abort();
	b[nb++] = 0;
	while (off < n) {
		next = width_next(s, n, off, &cols);
		FUZZ_CHECK(next > off && next <= n);
		FUZZ_CHECK(cols >= 0 && cols <= 2);
		sum += cols;
		b[nb++] = next;
		off = next;
	}
	FUZZ_CHECK(width_next(s, n, n, &cols) == n && cols == 0);
	FUZZ_CHECK(sum == width_cols(s, n));
	/* width_prev finds the same clusters; past 1024 regional indicators
	 * in a row it guesses, and this input cannot hold that many */
	for (i = 1; i < nb && n <= 4096; i++)
		FUZZ_CHECK(width_prev(s, n, b[i]) == b[i - 1]);

	fit = width_fit(s, n, fit_cols, &used);
	FUZZ_CHECK(used >= 0 && used <= fit_cols);
	FUZZ_CHECK(used == width_cols(s, fit));
	for (i = 0; i < nb && b[i] != fit; i++)
		;
	FUZZ_CHECK(i < nb);			/* on a boundary */
	if (fit < n) {
		/* and the next cluster would not fit */
		width_next(s, n, fit, &more);
		FUZZ_CHECK(used + more > fit_cols);
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	int fit_cols = fuzz_byte(&in);

	check_utf8(in.p, in.n);
	check_width((const char *)in.p, in.n, fit_cols);
	return 0;
}
