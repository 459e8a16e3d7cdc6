/*
 * width.c - grapheme clusters and display width of UTF-8 text, for
 * chatctl (table columns) and chatui (wrapping, cursor, cutting) alike.
 *
 * A pragmatic subset of UAX #29 extended grapheme clusters, enough for
 * what chat text holds: a base character followed by combining marks,
 * variation selectors, emoji skin-tone modifiers, tag characters and
 * ZWJ-joined emoji; pairs of regional indicators (flags).  Hangul jamo
 * sequences join because their vowels and finals have width 0.
 *
 * Widths come from wcwidth(3), which needs a UTF-8 LC_CTYPE: chatui
 * calls setlocale(LC_ALL, "") at start, chatctl falls back to C.UTF-8
 * when the user's charset is not UTF-8 (the tests set C.UTF-8).  When
 * wcwidth() knows nothing (a non-UTF-8 locale, a code point newer than
 * the C library) small built-in tables take over, so the result is
 * always sensible.  Emoji presentation (VS16 after a pictograph or a
 * keycap base, a ZWJ or skin-tone sequence, a flag) counts 2, as
 * terminals draw it.
 *
 * Runs on every frame for every visible line: ASCII takes a fast path
 * that never decodes or calls wcwidth().  Code points come from
 * utf8_decode (shared/utf8.c), the one decoder of the project.
 */
#include "width.h"

#include <stdbool.h>
#include <stdint.h>
#include <wchar.h>

#include "utf8.h"
#include "banned.h"

struct cp_range {
	uint32_t lo;
	uint32_t hi;
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Always extend the cluster before them, whatever the locale says. */
static const struct cp_range extend_ranges[] = {
	{ 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD },
	{ 0x0610, 0x061A }, { 0x064B, 0x065F }, { 0x0670, 0x0670 },
	{ 0x06D6, 0x06DC }, { 0x0E31, 0x0E31 }, { 0x0E34, 0x0E3A },
	{ 0x0E47, 0x0E4E }, { 0x1160, 0x11FF }, { 0x1AB0, 0x1AFF },
	{ 0x1DC0, 0x1DFF }, { 0x200C, 0x200D }, { 0x20D0, 0x20FF },
	{ 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F }, { 0x1F3FB, 0x1F3FF },
	{ 0xE0020, 0xE007F }, { 0xE0100, 0xE01EF },
};

/* East Asian wide and emoji blocks: width 2 when wcwidth() fails. */
static const struct cp_range wide_ranges[] = {
	{ 0x1100, 0x115F }, { 0x2E80, 0x303E }, { 0x3041, 0x33FF },
	{ 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF },
	{ 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF }, { 0xFE30, 0xFE4F },
	{ 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 }, { 0x1F300, 0x1F64F },
	{ 0x1F680, 0x1F6FF }, { 0x1F900, 0x1F9FF }, { 0x1FA70, 0x1FAFF },
	{ 0x20000, 0x2FFFD }, { 0x30000, 0x3FFFD },
};

/* Extended_Pictographic, roughly: what a ZWJ may join. */
static const struct cp_range pict_ranges[] = {
	{ 0x00A9, 0x00A9 }, { 0x00AE, 0x00AE }, { 0x203C, 0x203C },
	{ 0x2049, 0x2049 }, { 0x2122, 0x2122 }, { 0x2139, 0x2139 },
	{ 0x2194, 0x21AA }, { 0x231A, 0x23FF }, { 0x24C2, 0x24C2 },
	{ 0x25AA, 0x25FE }, { 0x2600, 0x27BF }, { 0x2934, 0x2935 },
	{ 0x2B05, 0x2B55 }, { 0x3030, 0x3030 }, { 0x303D, 0x303D },
	{ 0x3297, 0x3299 }, { 0x1F000, 0x1F1E5 }, { 0x1F200, 0x1F3FA },
	{ 0x1F400, 0x1FAFF },
};

#define CP_INVALID 0xFFFFFFFFu
#define CP_ZWJ 0x200D
#define CP_VS16 0xFE0F

static bool in_ranges(const struct cp_range *r, size_t n, uint32_t cp)
{
	size_t lo = 0;
	size_t hi = n;

	if (cp < r[0].lo || cp > r[n - 1].hi)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Strict decode of the code point at s[off]; its length in *n (1 for an
 * invalid byte, which gives CP_INVALID). */
static uint32_t decode(const unsigned char *s, size_t len, size_t off,
		       size_t *n)
{
	uint32_t cp;

	*n = utf8_decode((const char *)s + off, len - off, &cp);
	if (*n == 0) {
		*n = 1;
		return CP_INVALID;
	}
	return cp;
}

static bool is_ri(uint32_t cp)
{
	return cp >= 0x1F1E6 && cp <= 0x1F1FF;
}

static bool is_pict(uint32_t cp)
{
	return in_ranges(pict_ranges, NELEM(pict_ranges), cp);
}

/* A base that VS16 turns into an emoji (Unicode's
 * emoji-variation-sequences, roughly): a pictograph or a keycap base. */
static bool vs16_base(uint32_t cp)
{
	return is_pict(cp) || (cp >= '0' && cp <= '9') || cp == '#' ||
	       cp == '*';
}

/* Does cp attach to the cluster before it? */
static bool is_extend(uint32_t cp)
{
	if (cp < 0x300 || cp == CP_INVALID)
		return false;
	if (in_ranges(extend_ranges, NELEM(extend_ranges), cp))
		return true;
	/* Zero-width letters of scripts the table does not list; U+200B
	 * and friends are zero width too but are break points, not marks. */
	if (cp >= 0x2000 && cp <= 0x206F)
		return false;
	return wcwidth((wchar_t)cp) == 0;
}

/* Columns of a lone code point. */
static int cp_width(uint32_t cp)
{
	int w;

	if (cp == CP_INVALID)
		return 1;
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
		return 0;
	w = wcwidth((wchar_t)cp);
	if (w >= 0)
		return w;
	if (in_ranges(extend_ranges, NELEM(extend_ranges), cp))
		return 0;
	if (in_ranges(wide_ranges, NELEM(wide_ranges), cp))
		return 2;
	return 1;
}

/* A boundary that does not depend on what comes before: used by
 * width_prev to find where to walk forward from. */
static bool definite_start(const unsigned char *s, size_t len, size_t p)
{
	size_t n;
	uint32_t cp = decode(s, len, p, &n);

	if (cp < 0x80 || cp == CP_INVALID)
		return true;
	if (is_extend(cp) || is_ri(cp))
		return false;
	if (is_pict(cp) && p >= 3) {
		/* after a ZWJ (E2 80 8D) a pictograph may belong to the
		 * sequence before */
		if (s[p - 3] == 0xE2 && s[p - 2] == 0x80 && s[p - 1] == 0x8D)
			return false;
	}
	return true;
}

size_t width_next(const char *str, size_t len, size_t off, int *cols)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t base;
	uint32_t cp;
	size_t n;
	size_t end;
	int w;
	bool vs16 = false;
	bool joined = false;

	if (off >= len) {
		*cols = 0;
		return len;
	}
	/* ASCII not followed by a mark */
	if (s[off] < 0x80 && (off + 1 == len || s[off + 1] < 0x80)) {
		*cols = (s[off] >= 0x20 && s[off] < 0x7F) ? 1 : 0;
		return off + 1;
	}
	base = decode(s, len, off, &n);
	end = off + n;
	if (base == CP_INVALID) {
		*cols = 1;
		return end;
	}
	w = cp_width(base);
	if (base < 0x20 || base == 0x7F) {
		*cols = 0;
		return end;
	}
	if (is_ri(base)) {
		cp = end < len ? decode(s, len, end, &n) : CP_INVALID;
		if (is_ri(cp)) {
			end += n;
			w = 2;
		}
	}
	while (end < len) {
		cp = decode(s, len, end, &n);
		if (cp == CP_ZWJ) {
			size_t n2;
			uint32_t next;

			end += n;
			if (end < len && is_pict(base)) {
				next = decode(s, len, end, &n2);
				if (is_pict(next)) {
					end += n2;
					joined = true;
				}
			}
			continue;
		}
		if (!is_extend(cp))
			break;
		if (cp == CP_VS16)
			vs16 = true;
		else if (cp >= 0x1F3FB && cp <= 0x1F3FF && is_pict(base))
			joined = true;
		end += n;
	}
	/* VS16 widens only what it can make an emoji: on a space, a
	 * letter or a lone mark terminals ignore it, and counting 2 there
	 * made rows wider than measured, since wrapping and row prefixes
	 * ("• ", "│ ") measure the text before such a cluster apart from
	 * the VS16 (fuzz-markdown: " \uFE0F"). */
	if (((vs16 && vs16_base(base)) || joined) && w < 2)
		w = 2;
	if (w < 0)
		w = 0;
	*cols = w;
	return end;
}

size_t width_prev(const char *str, size_t len, size_t off)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t p;
	size_t at;
	size_t start;
	size_t ri_run = 0;
	int cols;

	if (off == 0)
		return 0;
	if (off > len)
		off = len;
	/* fast path: ASCII before an ASCII (or the end) */
	if (s[off - 1] < 0x80 && (off == len || s[off] < 0x80))
		return off - 1;
	/* Back to a boundary that holds whatever precedes it, then forward
	 * cluster by cluster.  Only extenders are skipped, and they all
	 * belong to one cluster, so this stays linear. */
	p = off - 1;
	for (;;) {
		if ((s[p] & 0xC0) != 0x80) {
			size_t n;
			uint32_t cp = decode(s, len, p, &n);

			if (is_ri(cp)) {
				/* pairs are counted from the run's start;
				 * past 1024 of them guess, to stay linear */
				if (++ri_run > 1024)
					break;
			} else if (ri_run || definite_start(s, len, p)) {
				break;
			}
		}
		if (p == 0)
			break;
		p--;
	}
	at = p;
	start = p;
	while (at < off) {
		start = at;
		at = width_next(str, len, at, &cols);
	}
	return start;
}

int width_cols(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int w = 0;

	while (i < len) {
		int c;

		if (s[i] < 0x80 && (i + 1 == len || s[i + 1] < 0x80)) {
			w += s[i] >= 0x20 && s[i] < 0x7F;
			i++;
			continue;
		}
		i = width_next(str, len, i, &c);
		w += c;
	}
	return w;
}

size_t width_fit(const char *str, size_t len, int cols, int *used)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int w = 0;

	while (i < len) {
		int c;
		size_t next;

		if (s[i] < 0x80 && (i + 1 == len || s[i + 1] < 0x80)) {
			c = s[i] >= 0x20 && s[i] < 0x7F;
			next = i + 1;
		} else {
			next = width_next(str, len, i, &c);
		}
		if (w + c > cols)
			break;
		w += c;
		i = next;
	}
	if (used)
		*used = w;
	return i;
}
