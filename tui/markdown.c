/*
 * markdown.c - Markdown to wrapped, styled rows (see markdown.h).
 *
 * Three stages, all linear in the input:
 *   blocks  the source is cut into lines and parsed recursively: a quote
 *           or a list item is a container whose lines are rendered as
 *           blocks of their own, with the container's prefix ("│ ",
 *           "• " then "  ") written in front of each row;
 *   inline  a paragraph's text becomes items (literal text, code spans,
 *           delimiter runs, links), emphasis is matched with the
 *           CommonMark delimiter algorithm (openers_bottom keeps it
 *           linear), and the visible text is laid out into one buffer
 *           with style pieces over it;
 *   wrap    words are placed greedily by display width (width.h); a
 *           word longer than the row is cut between clusters.
 * A table wraps each cell at its column's width; a code block is cut,
 * never reflowed.
 *
 * Errors are sticky in struct md_ctx (rc): the first failed allocation
 * stops the work and md_render returns it.
 */
#include "markdown.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "highlight.h"
#include "utf8.h"
#include "width.h"
#include "banned.h"

#define MD_MAX_DEPTH 24		/* nested quotes and lists */
#define MD_MIN_AVAIL 8		/* columns a container must leave */
#define MD_BUF_MAX (256u << 20)	/* ceiling of every scratch buffer */
#define MD_MAX_INPUT (64u << 20)	/* longer input is cut */
#define MD_URL_SCAN 2048	/* bytes looked at for a link target */
#define MD_TICKS_MAX 64		/* longer backtick runs are literal */
#define MD_CODE_TAB 4

#define FFFD "\xEF\xBF\xBD"

struct mline {
	const char *s;
	size_t len;
};

/* A quote or a list item: what it writes in front of its rows. */
struct md_container {
	char first[24];		/* on its first row ("• ", "12. ") */
	char rest[24];		/* on the others (spaces, "│ ") */
	int cols;
	uint8_t kind;
	bool used;		/* the first row was written */
	bool quote;
};

enum { IT_TEXT, IT_BREAK };

/* Inline item: text in ib; the d_* count emphasis and links opening
 * before it (+1) or closing at it (-1). */
struct md_item {
	uint32_t off;
	uint32_t len;
	uint8_t kind;
	uint8_t type;
	int32_t d_bold;
	int32_t d_ital;
	int32_t d_strike;
	int32_t d_link;
};

/* A run of * _ or ~~ that may open or close emphasis. */
struct md_delim {
	uint32_t item;
	uint32_t n;		/* characters left */
	uint32_t orig;		/* the run's length */
	int32_t prev;		/* live neighbours, -1 none */
	int32_t next;
	char c;
	bool open;
	bool close;
	bool live;
};

struct md_bracket {
	uint32_t item;		/* the "[" item */
	size_t raw;		/* source offset after "[" */
	size_t delim_bottom;	/* delimiters opened inside start here */
	int32_t last_live;	/* the last live delimiter before it */
	bool active;
};

/* Styled bytes of dt: pieces of inline output, segments of rows, code
 * tokens. */
struct md_piece {
	uint32_t off;
	uint32_t len;
	uint8_t kind;
	uint8_t attrs;
	uint8_t level;
};

/* A wrapped line: segments [seg, seg + nseg). */
struct md_wline {
	uint32_t seg;
	uint32_t nseg;
	int cols;
};

struct md_ctx {
	struct md_doc *doc;
	size_t lines_cap;
	size_t blocks_cap;
	int width;
	int rc;			/* sticky error */
	int block;		/* the code block being drawn, -1 */

	struct md_container stack[MD_MAX_DEPTH];
	int depth;
	int prefix_cols;

	struct buf row;		/* the row being built */
	struct md_span *spans;
	size_t nspans;
	size_t spans_cap;

	struct buf raw;		/* a paragraph's lines, joined */
	struct buf ib;		/* inline items' text */
	struct buf dt;		/* visible text of a block */
	struct md_item *items;
	size_t nitems;
	size_t items_cap;
	struct md_delim *delims;
	size_t ndelims;
	size_t delims_cap;
	int32_t last_live;
	struct md_bracket *brackets;
	size_t nbrackets;
	size_t brackets_cap;
	struct md_piece *pieces;
	size_t npieces;
	size_t pieces_cap;
	struct md_piece *segs;
	size_t nsegs;
	size_t segs_cap;
	struct md_wline *wl;
	size_t nwl;
	size_t wl_cap;
	bool no_closer[MD_TICKS_MAX + 1];
};

static const char *const kind_names[MD_K_COUNT] = {
	[MD_K_TEXT] = "text",
	[MD_K_HEADING] = "heading",
	[MD_K_CODE_INLINE] = "code_inline",
	[MD_K_LINK] = "link",
	[MD_K_URL] = "url",
	[MD_K_QUOTE_BAR] = "quote_bar",
	[MD_K_LIST_MARK] = "list_mark",
	[MD_K_RULE] = "rule",
	[MD_K_TABLE_BORDER] = "table_border",
	[MD_K_TABLE_HEADER] = "table_header",
	[MD_K_CODE_FRAME] = "code_frame",
	[MD_K_CODE_LANG] = "code_lang",
	[MD_K_CODE] = "code",
	[MD_K_CODE_KEYWORD] = "code_keyword",
	[MD_K_CODE_TYPE] = "code_type",
	[MD_K_CODE_STRING] = "code_string",
	[MD_K_CODE_NUMBER] = "code_number",
	[MD_K_CODE_COMMENT] = "code_comment",
	[MD_K_CODE_PUNCT] = "code_punct",
	[MD_K_CODE_CONT] = "code_cont",
};

/* Bullets by nesting depth. */
static const char *const bullets[] = { "\xE2\x80\xA2", "\xE2\x97\xA6",
				       "\xE2\x96\xAA" };

#define GROW(c, arr, cap, need) \
	grow((c), (void **)&(arr), &(cap), (need), sizeof(*(arr)))

static bool grow(struct md_ctx *c, void **arr, size_t *cap, size_t need,
		 size_t size)
{
	size_t ncap;
	void *p;

	if (c->rc < 0)
		return false;
	if (need <= *cap)
		return true;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (ncap > MD_BUF_MAX / size) {
		c->rc = CHAT_ENOMEM;
		return false;
	}
	p = realloc(*arr, ncap * size);
	if (!p) {
		c->rc = CHAT_ENOMEM;
		return false;
	}
	*arr = p;
	*cap = ncap;
	return true;
}

static void put(struct md_ctx *c, struct buf *b, const void *s, size_t len)
{
	if (c->rc < 0 || len == 0)
		return;
	if (buf_append(b, s, len) < 0)
		c->rc = CHAT_ENOMEM;	/* past the ceiling: out of room */
}

/* ---- text hygiene --------------------------------------------------- */

/* Appends s without control characters (a tab becomes a space, a
 * newline is kept when keep_nl) and with U+FFFD for invalid bytes. */
static void put_clean(struct md_ctx *c, struct buf *b, const char *str,
		      size_t len, bool keep_nl)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char ch = s[i];
		size_t n;

		if (ch >= 0x20 && ch < 0x7F) {
			i++;
			continue;
		}
		n = ch < 0x80 ? 1 : utf8_decode((const char *)s + i, len - i, NULL);
		if (n > 1 && !(ch == 0xC2 && s[i + 1] < 0xA0)) {
			i += n;
			continue;
		}
		put(c, b, s + run, i - run);
		if (ch == '\t')
			put(c, b, " ", 1);
		else if (ch == '\n' && keep_nl)
			put(c, b, "\n", 1);
		else if (n == 0)
			put(c, b, FFFD, 3);
		i += n ? n : 1;
		run = i;
	}
	put(c, b, s + run, i - run);
}

/* Code: like put_clean, tabs expanded to stops of MD_CODE_TAB. */
static void put_code(struct md_ctx *c, struct buf *b, const char *s,
		     size_t len)
{
	size_t start = b->len;
	size_t run = 0;
	int col = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\t')
			continue;
		put_clean(c, b, s + run, i - run, false);
		if (c->rc < 0 || i == len)
			break;
		/* a tab first: b->data may still be NULL, and NULL + 0 is
		 * undefined (UBSan, fuzz-markdown: "```\n\t") */
		col = b->len > start ?
		      width_cols(b->data + start, b->len - start) : 0;
		put(c, b, "    ", (size_t)(MD_CODE_TAB - col % MD_CODE_TAB));
		run = i + 1;
		start = b->len;
		col = 0;
	}
}

/* ---- rows ------------------------------------------------------------ */

static void row_add(struct md_ctx *c, const char *s, size_t len,
		    uint8_t kind, uint8_t attrs, uint8_t level)
{
	struct md_span *last;
	size_t off = c->row.len;

	if (len == 0 || c->rc < 0)
		return;
	put(c, &c->row, s, len);
	if (c->rc < 0)
		return;
	last = c->nspans ? &c->spans[c->nspans - 1] : NULL;
	if (last && last->kind == kind && last->attrs == attrs &&
	    last->level == level) {
		last->len += (uint32_t)len;
		return;
	}
	if (!GROW(c, c->spans, c->spans_cap, c->nspans + 1))
		return;
	c->spans[c->nspans++] = (struct md_span){
		.off = (uint32_t)off, .len = (uint32_t)len,
		.kind = kind, .attrs = attrs, .level = level,
	};
}

static void row_repeat(struct md_ctx *c, const char *s, int n, uint8_t kind)
{
	for (int i = 0; i < n; i++)
		row_add(c, s, strlen(s), kind, 0, 0);
}

static void row_spaces(struct md_ctx *c, int n)
{
	static const char sp[] = "                                ";

	while (n > 0) {
		int k = n < 32 ? n : 32;

		row_add(c, sp, (size_t)k, MD_K_TEXT, 0, 0);
		n -= k;
	}
}

/* Starts a row with the containers' prefixes.  A blank row carries only
 * the quote bars (and what lies before them), without trailing space,
 * and does not use up a list item's marker. */
static void row_begin(struct md_ctx *c, bool blank)
{
	int last_quote = -1;

	buf_reset(&c->row);
	c->nspans = 0;
	if (blank) {
		for (int i = 0; i < c->depth; i++)
			if (c->stack[i].quote)
				last_quote = i;
	}
	for (int i = 0; i < c->depth; i++) {
		struct md_container *k = &c->stack[i];
		const char *p = k->used ? k->rest : k->first;

		if (blank) {
			if (i > last_quote)
				break;
			p = k->rest;
			if (i == last_quote) {
				row_add(c, p, strlen(p) - 1, k->kind, 0, 0);
				break;
			}
		} else {
			k->used = true;
		}
		row_add(c, p, strlen(p), k->kind, 0, 0);
	}
}

static void row_end(struct md_ctx *c)
{
	struct md_doc *d = c->doc;
	struct md_line *l;

	if (!GROW(c, d->lines, c->lines_cap, d->nlines + 1))
		return;
	l = &d->lines[d->nlines];
	memset(l, 0, sizeof(*l));
	l->text = malloc(c->row.len + 1);
	l->spans = malloc((c->nspans ? c->nspans : 1) * sizeof(*l->spans));
	if (!l->text || !l->spans) {
		free(l->text);
		free(l->spans);
		c->rc = CHAT_ENOMEM;
		return;
	}
	if (c->row.len)
		memcpy(l->text, c->row.data, c->row.len);
	l->text[c->row.len] = '\0';
	l->len = c->row.len;
	if (c->nspans)
		memcpy(l->spans, c->spans, c->nspans * sizeof(*l->spans));
	l->nspans = c->nspans;
	l->cols = width_cols(l->text, l->len);
	l->block = c->block;
	d->nlines++;
}

static void row_blank(struct md_ctx *c)
{
	row_begin(c, true);
	row_end(c);
}

static int avail(const struct md_ctx *c)
{
	return c->width - c->prefix_cols;
}

/* Pushes a container; one that would leave less than MD_MIN_AVAIL
 * columns (or nest too deep) indents no further. */
static bool push(struct md_ctx *c, const char *first, uint8_t kind,
		 bool quote)
{
	struct md_container *k;
	int cols = width_cols(first, strlen(first));

	if (c->depth == MD_MAX_DEPTH)
		return false;
	k = &c->stack[c->depth];
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->quote = quote;
	if (avail(c) - cols >= MD_MIN_AVAIL) {
		snprintf(k->first, sizeof(k->first), "%s", first);
		if (quote)
			snprintf(k->rest, sizeof(k->rest), "%s", first);
		else
			snprintf(k->rest, sizeof(k->rest), "%*s", cols, "");
		k->cols = cols;
	}
	c->prefix_cols += k->cols;
	c->depth++;
	return true;
}

static void pop(struct md_ctx *c)
{
	c->depth--;
	c->prefix_cols -= c->stack[c->depth].cols;
}

/* ---- inline: items ---------------------------------------------------- */

static bool is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n';
}

static bool is_punct(unsigned char ch)
{
	return (ch >= 0x21 && ch <= 0x2F) || (ch >= 0x3A && ch <= 0x40) ||
	       (ch >= 0x5B && ch <= 0x60) || (ch >= 0x7B && ch <= 0x7E);
}

static struct md_item *item_add(struct md_ctx *c, uint8_t type,
				uint8_t kind)
{
	struct md_item *it;

	if (!GROW(c, c->items, c->items_cap, c->nitems + 2))
		return NULL;
	it = &c->items[c->nitems++];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->kind = kind;
	it->off = (uint32_t)c->ib.len;
	/* a spare zeroed item after the last, for the deltas */
	memset(&c->items[c->nitems], 0, sizeof(*it));
	return it;
}

static void item_text(struct md_ctx *c, const char *s, size_t len,
		      uint8_t kind)
{
	struct md_item *it;

	if (len == 0)
		return;
	it = item_add(c, IT_TEXT, kind);
	if (!it)
		return;
	put_clean(c, &c->ib, s, len, false);
	it->len = (uint32_t)(c->ib.len - it->off);
}

static void delim_add(struct md_ctx *c, char ch, size_t n, bool open,
		      bool close)
{
	struct md_delim *d;

	if (!GROW(c, c->delims, c->delims_cap, c->ndelims + 1))
		return;
	d = &c->delims[c->ndelims];
	*d = (struct md_delim){
		.item = (uint32_t)(c->nitems - 1), .n = (uint32_t)n,
		.orig = (uint32_t)n, .prev = c->last_live, .next = -1,
		.c = ch, .open = open, .close = close, .live = true,
	};
	if (c->last_live >= 0)
		c->delims[c->last_live].next = (int32_t)c->ndelims;
	c->last_live = (int32_t)c->ndelims;
	c->ndelims++;
}

static void delim_unlink(struct md_ctx *c, int32_t i)
{
	struct md_delim *d = &c->delims[i];

	if (d->prev >= 0)
		c->delims[d->prev].next = d->next;
	if (d->next >= 0)
		c->delims[d->next].prev = d->prev;
	if (c->last_live == i)
		c->last_live = d->prev;
	d->live = false;
}

static int char_index(char ch)
{
	return ch == '*' ? 0 : ch == '_' ? 1 : 2;
}

/* CommonMark's "process emphasis" over the delimiters from bottom on. */
static void process_emphasis(struct md_ctx *c, size_t bottom)
{
	int32_t ob[3][3][2];
	int32_t cur = -1;

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			ob[i][j][0] = ob[i][j][1] = (int32_t)bottom - 1;
	for (size_t i = bottom; i < c->ndelims; i++) {
		if (c->delims[i].live) {
			cur = (int32_t)i;
			break;
		}
	}
	while (cur >= 0 && c->rc == 0) {
		struct md_delim *d = &c->delims[cur];
		int32_t *bot = &ob[char_index(d->c)][d->orig % 3][d->open];
		int32_t o = d->prev;
		int32_t found = -1;

		if (!d->close) {
			cur = d->next;
			continue;
		}
		while (o >= (int32_t)bottom && o > *bot) {
			struct md_delim *od = &c->delims[o];

			if (od->c == d->c && od->open &&
			    !((od->close || d->open) &&
			      (od->orig + d->orig) % 3 == 0 &&
			      !(od->orig % 3 == 0 && d->orig % 3 == 0))) {
				found = o;
				break;
			}
			o = od->prev;
		}
		if (found < 0) {
			int32_t next = d->next;

			*bot = d->prev;
			if (!d->open)
				delim_unlink(c, cur);
			cur = next;
			continue;
		}
		struct md_delim *od = &c->delims[found];
		uint32_t n = (od->n >= 2 && d->n >= 2) ? 2 : 1;
		struct md_item *first = &c->items[od->item + 1];
		struct md_item *last = &c->items[d->item];

		if (d->c == '~') {
			first->d_strike++;
			last->d_strike--;
		} else if (n == 2) {
			first->d_bold++;
			last->d_bold--;
		} else {
			first->d_ital++;
			last->d_ital--;
		}
		c->items[od->item].len -= n;
		c->items[d->item].off += n;
		c->items[d->item].len -= n;
		od->n -= n;
		d->n -= n;
		/* delimiters between the two are literal now */
		for (int32_t k = od->next; k >= 0 && k != cur;) {
			int32_t next = c->delims[k].next;

			delim_unlink(c, k);
			k = next;
		}
		if (od->n == 0)
			delim_unlink(c, found);
		if (d->n == 0) {
			int32_t next = d->next;

			delim_unlink(c, cur);
			cur = next;
		}
	}
}

/* The target of "(url)" at s[p] == '(': [*u0, *u1) and the end past
 * ')'; false if it is not one. */
static bool link_target(const char *s, size_t len, size_t p, size_t *u0,
			size_t *u1, size_t *end)
{
	size_t q = p + 1;
	size_t lim = len - p > MD_URL_SCAN ? p + MD_URL_SCAN : len;
	int depth = 0;

	while (q < lim && s[q] == ' ')
		q++;
	*u0 = q;
	while (q < lim) {
		char ch = s[q];

		if (ch == ' ' || ch == '\n' || ch == '[' || ch == ']')
			break;
		if (ch == '\\' && q + 1 < lim) {
			q += 2;
			continue;
		}
		if (ch == '(')
			depth++;
		if (ch == ')' && depth-- == 0)
			break;
		q++;
	}
	*u1 = q;
	while (q < lim && s[q] == ' ')
		q++;
	if (q < lim && (s[q] == '"' || s[q] == '\'')) {
		const char *close = memchr(s + q + 1, s[q], lim - q - 1);

		if (!close)
			return false;
		q = (size_t)(close - s) + 1;
		while (q < lim && s[q] == ' ')
			q++;
	}
	if (q >= lim || s[q] != ')')
		return false;
	*end = q + 1;
	return true;
}

/* The end of a bare URL starting at s[p], or p. */
static size_t bare_url(const char *s, size_t len, size_t p)
{
	size_t q = p;

	if (len - p > 8 && !memcmp(s + p, "https://", 8))
		q = p + 8;
	else if (len - p > 7 && !memcmp(s + p, "http://", 7))
		q = p + 7;
	else
		return p;
	while (q < len && !is_space((unsigned char)s[q]) && s[q] != '<' &&
	       s[q] != '>' && s[q] != '"' && s[q] != '`')
		q++;
	while (q > p && strchr(".,;:!?*_)'", s[q - 1]) &&
	       !(s[q - 1] == ')' && memchr(s + p, '(', q - p)))
		q--;
	return q;
}

/* Finds the closing run of exactly n backticks from p; its start, or
 * len.  A length searched in vain is remembered: no later run of it
 * can close either, which keeps this linear. */
static size_t ticks_close(struct md_ctx *c, const char *s, size_t len,
			  size_t p, size_t n)
{
	if (n > MD_TICKS_MAX || c->no_closer[n])
		return len;
	while (p < len) {
		const char *t = memchr(s + p, '`', len - p);
		size_t q;

		if (!t)
			break;
		p = (size_t)(t - s);
		q = p;
		while (q < len && s[q] == '`')
			q++;
		if (q - p == n)
			return p;
		p = q;
	}
	c->no_closer[n] = true;
	return len;
}

static void code_span(struct md_ctx *c, const char *s, size_t a, size_t b)
{
	struct md_item *it;
	size_t i;

	/* one space each side goes, unless the content is all spaces */
	for (i = a; i < b && (s[i] == ' ' || s[i] == '\n'); i++)
		;
	if (i < b && b - a >= 2 && (s[a] == ' ' || s[a] == '\n') &&
	    (s[b - 1] == ' ' || s[b - 1] == '\n')) {
		a++;
		b--;
	}
	it = item_add(c, IT_TEXT, MD_K_CODE_INLINE);
	if (!it)
		return;
	put_clean(c, &c->ib, s + a, b - a, false);
	it->len = (uint32_t)(c->ib.len - it->off);
	for (i = it->off; i < c->ib.len; i++)
		if (c->ib.data[i] == '\n')
			c->ib.data[i] = ' ';
}

/* A "]" at s[p]: a link when the newest "[" is active and "(url)"
 * follows. Returns the position to go on from. */
static size_t close_bracket(struct md_ctx *c, const char *s, size_t len,
			    size_t p)
{
	struct md_bracket b;
	size_t u0;
	size_t u1;
	size_t end;
	uint32_t closer;

	b = c->brackets[--c->nbrackets];
	item_text(c, s + p, 1, MD_K_TEXT);
	if (c->rc < 0)
		return len;
	closer = (uint32_t)(c->nitems - 1);
	if (!b.active || p + 1 >= len || s[p + 1] != '(' ||
	    !link_target(s, len, p + 1, &u0, &u1, &end))
		return p + 1;
	c->items[b.item].len = 0;
	c->items[closer].len = 0;
	c->items[b.item + 1].d_link++;
	c->items[closer].d_link--;
	/* emphasis inside the text stays inside it */
	process_emphasis(c, b.delim_bottom);
	c->ndelims = b.delim_bottom;
	c->last_live = b.last_live;
	if (c->last_live >= 0)
		c->delims[c->last_live].next = -1;
	for (size_t i = 0; i < c->nbrackets; i++)
		c->brackets[i].active = false;	/* no link in a link */
	if (!(p - b.raw == u1 - u0 && !memcmp(s + b.raw, s + u0, u1 - u0)) &&
	    u1 > u0) {
		struct md_item *it;

		item_text(c, " ", 1, MD_K_TEXT);
		it = item_add(c, IT_TEXT, MD_K_URL);
		if (it) {
			put(c, &c->ib, "(", 1);
			put_clean(c, &c->ib, s + u0, u1 - u0, false);
			put(c, &c->ib, ")", 1);
			it->len = (uint32_t)(c->ib.len - it->off);
		}
	}
	return end;
}

static void inline_scan(struct md_ctx *c, const char *s, size_t len)
{
	size_t text = 0;	/* start of the pending literal run */
	size_t p = 0;

	while (p < len && c->rc == 0) {
		unsigned char ch = (unsigned char)s[p];
		size_t q;

		switch (ch) {
		case '\\':
			if (p + 1 < len && (is_punct((unsigned char)s[p + 1]) ||
					    s[p + 1] == '\n')) {
				item_text(c, s + text, p - text, MD_K_TEXT);
				text = p + 1;
				p += s[p + 1] == '\n' ? 1 : 2;
				continue;
			}
			break;
		case '\n':
			item_text(c, s + text, p - text, MD_K_TEXT);
			item_add(c, IT_BREAK, MD_K_TEXT);
			text = ++p;
			continue;
		case '`': {
			size_t close;

			for (q = p; q < len && s[q] == '`'; q++)
				;
			close = ticks_close(c, s, len, q, q - p);
			if (close == len) {
				p = q;
				continue;
			}
			item_text(c, s + text, p - text, MD_K_TEXT);
			code_span(c, s, q, close);
			p = close + (q - p);
			text = p;
			continue;
		}
		case '*':
		case '_':
		case '~': {
			unsigned char before =
				p ? (unsigned char)s[p - 1] : ' ';
			unsigned char after;
			bool left;
			bool right;
			bool open;
			bool close;

			for (q = p; q < len && s[q] == (char)ch; q++)
				;
			after = q < len ? (unsigned char)s[q] : ' ';
			left = !is_space(after) && (!is_punct(after) ||
				is_space(before) || is_punct(before));
			right = !is_space(before) && (!is_punct(before) ||
				is_space(after) || is_punct(after));
			if (ch == '_') {
				open = left && (!right || is_punct(before));
				close = right && (!left || is_punct(after));
			} else {
				open = left;
				close = right;
			}
			if ((ch == '~' && q - p != 2) || !(open || close)) {
				p = q;
				continue;
			}
			item_text(c, s + text, p - text, MD_K_TEXT);
			item_text(c, s + p, q - p, MD_K_TEXT);
			delim_add(c, (char)ch, q - p, open, close);
			p = text = q;
			continue;
		}
		case '!':
		case '[': {
			size_t n = ch == '!' ? 2 : 1;

			if (ch == '!' && (p + 1 >= len || s[p + 1] != '['))
				break;
			if (!GROW(c, c->brackets, c->brackets_cap,
				  c->nbrackets + 1))
				return;
			item_text(c, s + text, p - text, MD_K_TEXT);
			item_text(c, s + p, n, MD_K_TEXT);
			c->brackets[c->nbrackets++] = (struct md_bracket){
				.item = (uint32_t)(c->nitems - 1),
				.raw = p + n, .delim_bottom = c->ndelims,
				.last_live = c->last_live, .active = true,
			};
			p = text = p + n;
			continue;
		}
		case ']':
			if (c->nbrackets == 0)
				break;
			item_text(c, s + text, p - text, MD_K_TEXT);
			p = text = close_bracket(c, s, len, p);
			continue;
		case '<':
			q = bare_url(s, len, p + 1);
			if (q > p + 1 && q < len && s[q] == '>') {
				item_text(c, s + text, p - text, MD_K_TEXT);
				item_text(c, s + p + 1, q - p - 1, MD_K_URL);
				p = text = q + 1;
				continue;
			}
			break;
		case 'h':
			if (p > 0 && !is_space((unsigned char)s[p - 1]) &&
			    s[p - 1] != '(')
				break;
			q = bare_url(s, len, p);
			if (q > p) {
				item_text(c, s + text, p - text, MD_K_TEXT);
				item_text(c, s + p, q - p, MD_K_URL);
				p = text = q;
				continue;
			}
			break;
		default:
			break;
		}
		p++;
	}
	item_text(c, s + text, len - text, MD_K_TEXT);
}

/* Inline Markdown of s into dt and pieces: TEXT takes base_kind, every
 * piece gets base_attrs. */
static void inline_run(struct md_ctx *c, const char *s, size_t len,
		       uint8_t base_kind, uint8_t base_attrs, uint8_t level)
{
	size_t floor = c->npieces;	/* never merge into what precedes */
	int bold = 0;
	int ital = 0;
	int strike = 0;
	int link = 0;

	buf_reset(&c->ib);
	c->nitems = 0;
	c->ndelims = 0;
	c->nbrackets = 0;
	c->last_live = -1;
	memset(c->no_closer, 0, sizeof(c->no_closer));
	inline_scan(c, s, len);
	process_emphasis(c, 0);
	for (size_t i = 0; i < c->nitems && c->rc == 0; i++) {
		struct md_item *it = &c->items[i];
		struct md_piece pc;
		struct md_piece *last;

		bold += it->d_bold;
		ital += it->d_ital;
		strike += it->d_strike;
		link += it->d_link;
		if (it->type == IT_BREAK) {
			pc = (struct md_piece){ .kind = MD_K_TEXT };
			pc.off = (uint32_t)c->dt.len;
			pc.len = 1;
			put(c, &c->dt, "\n", 1);
		} else {
			if (it->len == 0)
				continue;
			pc.kind = it->kind;
			if (pc.kind == MD_K_TEXT)
				pc.kind = link > 0 ? MD_K_LINK : base_kind;
			pc.attrs = base_attrs;
			if (bold > 0)
				pc.attrs |= MD_BOLD;
			if (ital > 0)
				pc.attrs |= MD_ITALIC;
			if (strike > 0)
				pc.attrs |= MD_STRIKE;
			if (pc.kind == MD_K_LINK)
				pc.attrs |= MD_UNDERLINE;
			pc.level = pc.kind == MD_K_HEADING ? level : 0;
			pc.off = (uint32_t)c->dt.len;
			pc.len = it->len;
			put(c, &c->dt, c->ib.data + it->off, it->len);
		}
		last = c->npieces > floor ? &c->pieces[c->npieces - 1] : NULL;
		if (last && last->kind == pc.kind && last->attrs == pc.attrs &&
		    last->level == pc.level &&
		    last->off + last->len == pc.off) {
			last->len += pc.len;
			continue;
		}
		if (!GROW(c, c->pieces, c->pieces_cap, c->npieces + 1))
			return;
		c->pieces[c->npieces++] = pc;
	}
}

/* ---- wrapping ---------------------------------------------------------- */

static void wl_new(struct md_ctx *c)
{
	if (!GROW(c, c->wl, c->wl_cap, c->nwl + 1))
		return;
	c->wl[c->nwl++] = (struct md_wline){ .seg = (uint32_t)c->nsegs };
}

struct wrap_state {
	size_t pi;		/* the piece the next segment starts in */
	int width;
};

/* Adds dt[a, b) to the current wrapped line, split by style. */
static void wrap_seg(struct md_ctx *c, struct wrap_state *w, size_t a,
		     size_t b)
{
	struct md_wline *l;

	if (c->rc < 0 || a >= b)
		return;
	l = &c->wl[c->nwl - 1];
	l->cols += width_cols(c->dt.data + a, b - a);
	while (a < b) {
		struct md_piece *p;
		size_t end;

		while (w->pi < c->npieces &&
		       c->pieces[w->pi].off + c->pieces[w->pi].len <= a)
			w->pi++;
		if (w->pi >= c->npieces)
			return;
		p = &c->pieces[w->pi];
		end = p->off + p->len < b ? p->off + p->len : b;
		if (!GROW(c, c->segs, c->segs_cap, c->nsegs + 1))
			return;
		c->segs[c->nsegs++] = (struct md_piece){
			.off = (uint32_t)a, .len = (uint32_t)(end - a),
			.kind = p->kind, .attrs = p->attrs, .level = p->level,
		};
		c->wl[c->nwl - 1].nseg++;
		a = end;
	}
}

/* A word wider than the row: cut between clusters. */
static void wrap_long(struct md_ctx *c, struct wrap_state *w, size_t a,
		      size_t b)
{
	while (a < b && c->rc == 0) {
		int col = c->wl[c->nwl - 1].cols;
		int used;
		size_t fit = width_fit(c->dt.data + a, b - a, w->width - col,
				    &used);

		if (fit == 0) {
			if (col > 0) {
				wl_new(c);
				continue;
			}
			fit = width_next(c->dt.data, b, a, &used) - a;
		}
		wrap_seg(c, w, a, a + fit);
		a += fit;
		if (a < b)
			wl_new(c);
	}
}

/* Wraps dt[a, b) (pieces from pfrom on) at width into wrapped lines,
 * at least one; '\n' ends a line. */
static void wrap(struct md_ctx *c, size_t a, size_t b, size_t pfrom,
		 int width)
{
	struct wrap_state w = { .pi = pfrom, .width = width };
	const char *s;
	size_t sp_a = 0;
	size_t sp_b = 0;
	size_t p = a;

	wl_new(c);
	s = c->dt.data;
	while (p < b && c->rc == 0) {
		size_t q = p;
		int ww;
		int sw;
		int col;

		if (s[p] == '\n') {
			wl_new(c);
			sp_a = sp_b = 0;
			p++;
			continue;
		}
		if (s[p] == ' ') {
			while (q < b && s[q] == ' ')
				q++;
			sp_a = p;
			sp_b = q;
			p = q;
			continue;
		}
		while (q < b && s[q] != ' ' && s[q] != '\n')
			q++;
		ww = width_cols(s + p, q - p);
		sw = (int)(sp_b - sp_a);
		col = c->wl[c->nwl - 1].cols;
		if (col + sw + ww <= width) {
			wrap_seg(c, &w, sp_a, sp_b);
			wrap_seg(c, &w, p, q);
		} else if (ww <= width) {
			if (col > 0)
				wl_new(c);
			wrap_seg(c, &w, p, q);
		} else {
			if (col + sw < width)
				wrap_seg(c, &w, sp_a, sp_b);
			else if (col > 0)
				wl_new(c);
			wrap_long(c, &w, p, q);
		}
		sp_a = sp_b = 0;
		p = q;
	}
}

/* Writes wrapped lines [from, to) as rows. */
static void emit_wrapped(struct md_ctx *c, size_t from, size_t to)
{
	for (size_t i = from; i < to && c->rc == 0; i++) {
		struct md_wline *l = &c->wl[i];

		row_begin(c, false);
		for (uint32_t k = 0; k < l->nseg; k++) {
			struct md_piece *g = &c->segs[l->seg + k];

			row_add(c, c->dt.data + g->off, g->len, g->kind,
				g->attrs, g->level);
		}
		row_end(c);
	}
}

static void scratch_reset(struct md_ctx *c)
{
	buf_reset(&c->dt);
	c->npieces = 0;
	c->nsegs = 0;
	c->nwl = 0;
}

/* Inline text s as rows at the available width. */
static void emit_inline(struct md_ctx *c, const char *s, size_t len,
			uint8_t kind, uint8_t attrs, uint8_t level)
{
	scratch_reset(c);
	inline_run(c, s, len, kind, attrs, level);
	if (c->rc < 0)
		return;
	wrap(c, 0, c->dt.len, 0, avail(c));
	emit_wrapped(c, 0, c->nwl);
}

/* ---- blocks: line tests ---------------------------------------------- */

/* Columns of leading blanks (a tab to the next stop of 4) and the byte
 * where the text starts. */
static int indent_of(struct mline l, size_t *at)
{
	int col = 0;
	size_t i = 0;

	for (; i < l.len; i++) {
		if (l.s[i] == ' ')
			col++;
		else if (l.s[i] == '\t')
			col += 4 - col % 4;
		else
			break;
	}
	if (at)
		*at = i;
	return col;
}

static bool line_blank(struct mline l)
{
	size_t at;

	indent_of(l, &at);
	return at == l.len;
}

/* l without its first cols columns of indentation. */
static struct mline dedent(struct mline l, int cols)
{
	int col = 0;
	size_t i = 0;

	while (i < l.len && col < cols) {
		if (l.s[i] == ' ')
			col++;
		else if (l.s[i] == '\t')
			col += 4 - col % 4;
		else
			break;
		i++;
	}
	return (struct mline){ l.s + i, l.len - i };
}

struct fence {
	char ch;
	size_t n;
	int indent;
	const char *info;
	size_t info_len;
};

static bool fence_open(struct mline l, struct fence *f)
{
	size_t at;
	size_t q;

	f->indent = indent_of(l, &at);
	if (f->indent > 3 || at >= l.len || (l.s[at] != '`' && l.s[at] != '~'))
		return false;
	f->ch = l.s[at];
	for (q = at; q < l.len && l.s[q] == f->ch; q++)
		;
	f->n = q - at;
	if (f->n < 3)
		return false;
	while (q < l.len && (l.s[q] == ' ' || l.s[q] == '\t'))
		q++;
	f->info = l.s + q;
	f->info_len = l.len - q;
	while (f->info_len && (f->info[f->info_len - 1] == ' ' ||
			       f->info[f->info_len - 1] == '\t'))
		f->info_len--;
	if (f->ch == '`' && memchr(f->info, '`', f->info_len))
		return false;
	return true;
}

static bool fence_close(struct mline l, const struct fence *f)
{
	size_t at;
	size_t q;

	if (indent_of(l, &at) > 3)
		return false;
	for (q = at; q < l.len && l.s[q] == f->ch; q++)
		;
	if (q - at < f->n)
		return false;
	while (q < l.len && (l.s[q] == ' ' || l.s[q] == '\t'))
		q++;
	return q == l.len;
}

static int heading_level(struct mline l, struct mline *text)
{
	size_t at;
	size_t q;
	size_t end;
	int level;

	if (indent_of(l, &at) > 3)
		return 0;
	for (q = at; q < l.len && l.s[q] == '#'; q++)
		;
	level = (int)(q - at);
	if (level < 1 || level > 6 || (q < l.len && l.s[q] != ' ' &&
				       l.s[q] != '\t'))
		return 0;
	while (q < l.len && (l.s[q] == ' ' || l.s[q] == '\t'))
		q++;
	end = l.len;
	while (end > q && (l.s[end - 1] == ' ' || l.s[end - 1] == '\t'))
		end--;
	/* a closing run of #, after a blank */
	{
		size_t e = end;

		while (e > q && l.s[e - 1] == '#')
			e--;
		if (e == q || l.s[e - 1] == ' ' || l.s[e - 1] == '\t') {
			end = e;
			while (end > q && (l.s[end - 1] == ' ' ||
					   l.s[end - 1] == '\t'))
				end--;
		}
	}
	text->s = l.s + q;
	text->len = end - q;
	return level;
}

static bool is_rule(struct mline l)
{
	size_t at;
	char ch;
	int n = 0;

	if (indent_of(l, &at) > 3 || at >= l.len)
		return false;
	ch = l.s[at];
	if (ch != '-' && ch != '*' && ch != '_')
		return false;
	for (size_t i = at; i < l.len; i++) {
		if (l.s[i] == ch)
			n++;
		else if (l.s[i] != ' ' && l.s[i] != '\t')
			return false;
	}
	return n >= 3;
}

static bool is_quote(struct mline l)
{
	size_t at;

	return indent_of(l, &at) <= 3 && at < l.len && l.s[at] == '>';
}

struct marker {
	size_t m0;		/* the marker's bytes */
	size_t m1;
	size_t content;		/* where the item's text starts */
	int content_indent;	/* its column */
	bool ordered;
};

static bool list_marker(struct mline l, struct marker *m)
{
	size_t at;
	size_t q;
	int ind = indent_of(l, &at);
	int sp = 0;

	if (ind > 3 || at >= l.len)
		return false;
	q = at;
	if (l.s[q] == '-' || l.s[q] == '*' || l.s[q] == '+') {
		q++;
		m->ordered = false;
	} else {
		while (q < l.len && q - at < 9 && l.s[q] >= '0' &&
		       l.s[q] <= '9')
			q++;
		if (q == at || q >= l.len || (l.s[q] != '.' && l.s[q] != ')'))
			return false;
		q++;
		m->ordered = true;
	}
	if (q < l.len && l.s[q] != ' ' && l.s[q] != '\t')
		return false;
	m->m0 = at;
	m->m1 = q;
	while (q < l.len && l.s[q] == ' ' && sp < 5) {
		q++;
		sp++;
	}
	if (q < l.len && l.s[q] == '\t') {
		q++;
		sp = 1;
	}
	if (sp == 5 || q == l.len) {
		/* code-like indent or an empty item: the text is one space
		 * after the marker */
		sp = 1;
		q = m->m1 + (m->m1 < l.len);
	}
	m->content = q;
	m->content_indent = ind + (int)(m->m1 - at) + sp;
	return true;
}

/* Splits a table row into cells; returns the count (at most max). */
static size_t table_cells(struct mline l, struct mline *cells, size_t max)
{
	size_t a;
	size_t b = l.len;
	size_t n = 0;
	size_t start;

	indent_of(l, &a);
	while (b > a && (l.s[b - 1] == ' ' || l.s[b - 1] == '\t'))
		b--;
	if (a < b && l.s[a] == '|')
		a++;
	if (b > a && l.s[b - 1] == '|' && !(b - 2 >= a && l.s[b - 2] == '\\'))
		b--;
	start = a;
	for (size_t i = a; i <= b; i++) {
		if (i < b && l.s[i] == '\\') {
			i++;
			continue;
		}
		if (i < b && l.s[i] != '|')
			continue;
		if (n < max) {
			size_t x = start;
			size_t y = i;

			while (x < y && (l.s[x] == ' ' || l.s[x] == '\t'))
				x++;
			while (y > x && (l.s[y - 1] == ' ' ||
					 l.s[y - 1] == '\t'))
				y--;
			cells[n] = (struct mline){ l.s + x, y - x };
		}
		n++;
		start = i + 1;
	}
	return n;
}

static bool has_pipe(struct mline l)
{
	return memchr(l.s, '|', l.len) != NULL;
}

enum { AL_LEFT, AL_CENTER, AL_RIGHT };

#define MD_MAX_COLS 64

/* The delimiter row of a table: ncols cells like ":--", "---:"; fills
 * the alignments. */
static bool table_delim(struct mline l, size_t ncols, uint8_t *align)
{
	struct mline cells[MD_MAX_COLS];
	size_t n;

	if (!has_pipe(l) || ncols == 0 || ncols > MD_MAX_COLS)
		return false;
	n = table_cells(l, cells, MD_MAX_COLS);
	if (n != ncols)
		return false;
	for (size_t k = 0; k < n; k++) {
		struct mline x = cells[k];
		bool lc = x.len && x.s[0] == ':';
		bool rc = x.len > 1 && x.s[x.len - 1] == ':';
		size_t dashes = 0;

		for (size_t i = lc; i < x.len - rc; i++) {
			if (x.s[i] != '-')
				return false;
			dashes++;
		}
		if (dashes == 0)
			return false;
		align[k] = lc && rc ? AL_CENTER : rc ? AL_RIGHT : AL_LEFT;
	}
	return true;
}

static bool table_start(const struct mline *lines, size_t n, size_t i)
{
	struct mline cells[MD_MAX_COLS];
	uint8_t align[MD_MAX_COLS];
	size_t ncols;

	if (i + 1 >= n || !has_pipe(lines[i]))
		return false;
	ncols = table_cells(lines[i], cells, MD_MAX_COLS);
	return table_delim(lines[i + 1], ncols, align);
}

/* Would l start a block other than a paragraph? */
static bool block_start(struct mline l)
{
	struct fence f;
	struct marker m;
	struct mline t;

	return fence_open(l, &f) || heading_level(l, &t) || is_rule(l) ||
	       is_quote(l) || list_marker(l, &m);
}

/* ---- blocks: rendering ---------------------------------------------- */

static void render_blocks(struct md_ctx *c, const struct mline *lines,
			  size_t n);

static void render_rule(struct md_ctx *c)
{
	row_begin(c, false);
	row_repeat(c, "\xE2\x94\x80", avail(c), MD_K_RULE);
	row_end(c);
}

static void render_heading(struct md_ctx *c, int level, struct mline t)
{
	uint8_t attrs = MD_BOLD | (level == 1 ? MD_UNDERLINE : 0);

	emit_inline(c, t.s, t.len, MD_K_HEADING, attrs, (uint8_t)level);
}

static size_t render_para(struct md_ctx *c, const struct mline *lines,
			  size_t n, size_t i)
{
	size_t j = i;

	buf_reset(&c->raw);
	for (; j < n; j++) {
		struct mline l = lines[j];
		size_t at;

		if (j > i && (line_blank(l) || block_start(l) ||
			      table_start(lines, n, j)))
			break;
		if (line_blank(l))
			break;
		indent_of(l, &at);
		while (l.len > at && (l.s[l.len - 1] == ' ' ||
				      l.s[l.len - 1] == '\t'))
			l.len--;
		if (j > i)
			put(c, &c->raw, "\n", 1);
		put(c, &c->raw, l.s + at, l.len - at);
	}
	if (c->rc == 0)
		emit_inline(c, c->raw.data ? c->raw.data : "", c->raw.len,
			    MD_K_TEXT, 0, 0);
	return j;
}

/* Emits code line s (sanitized, in ib) cut into rows of the frame. */
static void code_rows(struct md_ctx *c, const struct ui_hl_lang *lang,
		      struct ui_hl_state *st)
{
	const char *s = c->ib.data ? c->ib.data : "";
	size_t len = c->ib.len;
	int inner = avail(c) - 4;
	size_t pos = 0;
	size_t ti = 0;
	bool first = true;

	/* tokens first, as pieces over ib */
	c->npieces = 0;
	for (size_t p = 0; p < len && c->rc == 0;) {
		uint8_t kind;
		size_t e = lang ? ui_hl_next(lang, st, s, len, p, &kind) : len;

		if (!lang)
			kind = MD_K_CODE;
		if (e <= p)
			e = p + 1;
		if (!GROW(c, c->pieces, c->pieces_cap, c->npieces + 1))
			return;
		c->pieces[c->npieces++] = (struct md_piece){
			.off = (uint32_t)p, .len = (uint32_t)(e - p),
			.kind = kind,
		};
		p = e;
	}
	do {
		int room = first ? inner : inner - 2;
		int used;
		size_t fit = width_fit(s + pos, len - pos, room, &used);
		size_t end;

		if (fit == 0 && pos < len)
			fit = width_next(s, len, pos, &used) - pos;
		end = pos + fit;
		row_begin(c, false);
		row_add(c, "\xE2\x94\x82 ", 4, MD_K_CODE_FRAME, 0, 0);
		if (!first)
			row_add(c, "\xE2\x86\xAA ", 4, MD_K_CODE_CONT, 0, 0);
		while (pos < end && ti < c->npieces) {
			struct md_piece *t = &c->pieces[ti];
			size_t te = t->off + t->len;
			size_t e = te < end ? te : end;

			row_add(c, s + pos, e - pos, t->kind, 0, 0);
			pos = e;
			if (pos >= te)
				ti++;
		}
		pos = end;
		for (int k = used; k < room; k++)
			row_add(c, " ", 1, MD_K_CODE, 0, 0);
		row_add(c, " \xE2\x94\x82", 4, MD_K_CODE_FRAME, 0, 0);
		row_end(c);
		first = false;
	} while (pos < len && c->rc == 0);
}

static char *dup_mem(struct md_ctx *c, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p) {
		c->rc = CHAT_ENOMEM;
		return NULL;
	}
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static size_t render_fence(struct md_ctx *c, const struct mline *lines,
			   size_t n, size_t i, const struct fence *f)
{
	struct md_doc *d = c->doc;
	struct md_block *b;
	const struct ui_hl_lang *lang;
	struct ui_hl_state st = { 0 };
	size_t lang_len = 0;
	size_t code_end;
	size_t j;
	int w = avail(c);

	while (lang_len < f->info_len && f->info[lang_len] != ' ' &&
	       f->info[lang_len] != '\t' && f->info[lang_len] != '{' &&
	       f->info[lang_len] != ',')
		lang_len++;
	for (j = i + 1; j < n && !fence_close(lines[j], f); j++)
		;
	/* open while streaming: the line after the last newline is not
	 * code yet */
	code_end = j;
	if (j == n && code_end > i + 1 && lines[code_end - 1].len == 0)
		code_end--;
	if (!GROW(c, d->blocks, c->blocks_cap, d->nblocks + 1))
		return n;
	b = &d->blocks[d->nblocks];
	memset(b, 0, sizeof(*b));
	b->lang = dup_mem(c, f->info, lang_len);
	buf_reset(&c->raw);
	for (size_t k = i + 1; k < code_end; k++) {
		struct mline l = dedent(lines[k], f->indent);

		put(c, &c->raw, l.s, l.len);
		if (k + 1 < code_end)
			put(c, &c->raw, "\n", 1);
	}
	b->code = dup_mem(c, c->raw.data ? c->raw.data : "", c->raw.len);
	b->code_len = c->raw.len;
	b->first_line = d->nlines;
	d->nblocks++;
	if (c->rc < 0)
		return n;
	c->block = (int)(d->nblocks - 1);

	/* the top frame: "╭─ lang ───╮" */
	row_begin(c, false);
	if (lang_len) {
		int used;
		size_t fit;

		buf_reset(&c->ib);
		put_clean(c, &c->ib, f->info, lang_len, false);
		fit = width_fit(c->ib.data ? c->ib.data : "", c->ib.len, w - 6,
			     &used);
		row_add(c, "\xE2\x95\xAD\xE2\x94\x80 ", 7, MD_K_CODE_FRAME, 0,
			0);
		row_add(c, c->ib.data, fit, MD_K_CODE_LANG, 0, 0);
		row_add(c, " ", 1, MD_K_CODE_FRAME, 0, 0);
		row_repeat(c, "\xE2\x94\x80", w - 5 - used, MD_K_CODE_FRAME);
	} else {
		row_add(c, "\xE2\x95\xAD", 3, MD_K_CODE_FRAME, 0, 0);
		row_repeat(c, "\xE2\x94\x80", w - 2, MD_K_CODE_FRAME);
	}
	row_add(c, "\xE2\x95\xAE", 3, MD_K_CODE_FRAME, 0, 0);
	row_end(c);

	lang = lang_len ? ui_hl_find(f->info, lang_len) : NULL;
	for (size_t k = i + 1; k < code_end && c->rc == 0; k++) {
		struct mline l = dedent(lines[k], f->indent);

		buf_reset(&c->ib);
		put_code(c, &c->ib, l.s, l.len);
		code_rows(c, lang, &st);
	}
	/* an unfinished fence (a stream) stays open: no bottom frame */
	if (j < n) {
		row_begin(c, false);
		row_add(c, "\xE2\x95\xB0", 3, MD_K_CODE_FRAME, 0, 0);
		row_repeat(c, "\xE2\x94\x80", w - 2, MD_K_CODE_FRAME);
		row_add(c, "\xE2\x95\xAF", 3, MD_K_CODE_FRAME, 0, 0);
		row_end(c);
	}
	c->block = -1;
	if (c->rc == 0)
		d->blocks[d->nblocks - 1].nlines =
			d->nlines - d->blocks[d->nblocks - 1].first_line;
	return j < n ? j + 1 : n;
}

/* Renders sub-lines inside a container; frees them. */
static void render_inside(struct md_ctx *c, struct mline *sub, size_t m,
			  const char *first, uint8_t kind, bool quote)
{
	bool content = false;

	for (size_t k = 0; k < m; k++)
		if (!line_blank(sub[k]))
			content = true;
	if (push(c, first, kind, quote)) {
		if (content) {
			render_blocks(c, sub, m);
		} else {
			row_begin(c, false);
			row_end(c);
		}
		pop(c);
	} else {
		/* too deep: the rest is text, so recursion stays bounded */
		buf_reset(&c->raw);
		for (size_t k = 0; k < m; k++) {
			if (k)
				put(c, &c->raw, "\n", 1);
			put(c, &c->raw, sub[k].s, sub[k].len);
		}
		if (c->rc == 0)
			emit_inline(c, c->raw.data ? c->raw.data : "",
				    c->raw.len, MD_K_TEXT, 0, 0);
	}
	free(sub);
}

static size_t render_quote(struct md_ctx *c, const struct mline *lines,
			   size_t n, size_t i)
{
	struct mline *sub;
	size_t j;

	for (j = i; j < n && is_quote(lines[j]); j++)
		;
	sub = malloc((j - i) * sizeof(*sub));
	if (!sub) {
		c->rc = CHAT_ENOMEM;
		return n;
	}
	for (size_t k = i; k < j; k++) {
		size_t at;
		struct mline l = lines[k];

		indent_of(l, &at);
		at++;			/* '>' */
		if (at < l.len && (l.s[at] == ' ' || l.s[at] == '\t'))
			at++;
		sub[k - i] = (struct mline){ l.s + at, l.len - at };
	}
	render_inside(c, sub, j - i, "\xE2\x94\x82 ", MD_K_QUOTE_BAR, true);
	return j;
}

static size_t render_item(struct md_ctx *c, const struct mline *lines,
			  size_t n, size_t i, const struct marker *m)
{
	struct mline l = lines[i];
	struct mline *sub;
	char mark[24];
	size_t j = i + 1;
	size_t last = i;	/* the last non-blank line of the item */
	int nested = 0;

	for (; j < n; j++) {
		struct mline x = lines[j];

		if (line_blank(x))
			continue;
		if (indent_of(x, NULL) >= m->content_indent) {
			last = j;
			continue;
		}
		/* a lazy continuation of the item's paragraph */
		if (last == j - 1 && !block_start(x) &&
		    !table_start(lines, n, j)) {
			last = j;
			continue;
		}
		break;
	}
	j = last + 1;
	sub = malloc((j - i) * sizeof(*sub));
	if (!sub) {
		c->rc = CHAT_ENOMEM;
		return n;
	}
	sub[0] = (struct mline){ l.s + m->content, l.len - m->content };
	for (size_t k = i + 1; k < j; k++) {
		sub[k - i] = dedent(lines[k], m->content_indent);
		if (indent_of(lines[k], NULL) < m->content_indent)
			sub[k - i] = dedent(lines[k], 99);
	}
	for (int k = 0; k < c->depth; k++)
		if (c->stack[k].kind == MD_K_LIST_MARK)
			nested++;
	if (m->ordered)
		snprintf(mark, sizeof(mark), "%.*s ", (int)(m->m1 - m->m0),
			 l.s + m->m0);
	else
		snprintf(mark, sizeof(mark), "%s ",
			 bullets[nested % (int)(sizeof(bullets) /
						sizeof(bullets[0]))]);
	render_inside(c, sub, j - i, mark, MD_K_LIST_MARK, false);
	return j;
}

struct md_cell {
	size_t dt0;		/* its text in dt */
	size_t dt1;
	size_t p0;		/* its pieces */
	size_t wl0;		/* its wrapped lines */
	size_t wl1;
};

static void table_border(struct md_ctx *c, const int *w, size_t ncols,
			 const char *l, const char *mid, const char *r)
{
	row_begin(c, false);
	row_add(c, l, strlen(l), MD_K_TABLE_BORDER, 0, 0);
	for (size_t k = 0; k < ncols; k++) {
		row_repeat(c, "\xE2\x94\x80", w[k] + 2, MD_K_TABLE_BORDER);
		if (k + 1 < ncols)
			row_add(c, mid, strlen(mid), MD_K_TABLE_BORDER, 0, 0);
	}
	row_add(c, r, strlen(r), MD_K_TABLE_BORDER, 0, 0);
	row_end(c);
}

/* Fits the natural widths into room: narrow columns keep theirs, the
 * others share what is left evenly. */
static void table_fit(const int *natural, int *w, size_t ncols, int room)
{
	bool done[MD_MAX_COLS] = { false };

	for (size_t left = ncols; left > 0; left--) {
		size_t pick = ncols;

		for (size_t k = 0; k < ncols; k++)
			if (!done[k] && (pick == ncols ||
					 natural[k] < natural[pick]))
				pick = k;
		w[pick] = natural[pick] < room / (int)left ?
				  natural[pick] : room / (int)left;
		room -= w[pick];
		done[pick] = true;
	}
}

static size_t render_table(struct md_ctx *c, const struct mline *lines,
			   size_t n, size_t i)
{
	struct mline cells[MD_MAX_COLS];
	uint8_t align[MD_MAX_COLS];
	int natural[MD_MAX_COLS];
	int w[MD_MAX_COLS];
	struct md_cell *cell;
	size_t ncols = table_cells(lines[i], cells, MD_MAX_COLS);
	size_t nrows;
	size_t j;
	int room;

	table_delim(lines[i + 1], ncols, align);
	for (j = i + 2; j < n && !line_blank(lines[j]) && has_pipe(lines[j]);
	     j++) {
		struct fence f;
		struct mline t;

		if (fence_open(lines[j], &f) || heading_level(lines[j], &t))
			break;
	}
	nrows = j - i - 1;	/* the delimiter row is not one */
	room = avail(c) - (int)(3 * ncols + 1);
	if (room < (int)(2 * ncols)) {
		/* too narrow for a grid: the rows as lines of text */
		for (size_t k = i; k < j; k++)
			if (k != i + 1)
				emit_inline(c, lines[k].s, lines[k].len,
					    MD_K_TEXT, 0, 0);
		return j;
	}
	cell = calloc(nrows * ncols, sizeof(*cell));
	if (!cell) {
		c->rc = CHAT_ENOMEM;
		return n;
	}
	scratch_reset(c);
	for (size_t k = 0; k < ncols; k++)
		natural[k] = 1;
	for (size_t r = 0; r < nrows && c->rc == 0; r++) {
		size_t src = r == 0 ? i : i + 1 + r;
		size_t got = table_cells(lines[src], cells, MD_MAX_COLS);

		for (size_t k = 0; k < ncols; k++) {
			struct md_cell *x = &cell[r * ncols + k];
			struct mline t = k < got ? cells[k] :
						   (struct mline){ "", 0 };
			int tw;

			x->dt0 = c->dt.len;
			x->p0 = c->npieces;
			inline_run(c, t.s, t.len,
				   r == 0 ? MD_K_TABLE_HEADER : MD_K_TEXT,
				   r == 0 ? MD_BOLD : 0, 0);
			x->dt1 = c->dt.len;
			/* no text yet: dt.data is NULL, and NULL + 0 is
			 * undefined (UBSan, fuzz-markdown: "|\n|-") */
			tw = x->dt1 > x->dt0 ?
			     width_cols(c->dt.data + x->dt0,
					x->dt1 - x->dt0) : 0;
			if (tw > natural[k])
				natural[k] = tw;
		}
	}
	table_fit(natural, w, ncols, room);
	for (size_t r = 0; r < nrows && c->rc == 0; r++) {
		for (size_t k = 0; k < ncols; k++) {
			struct md_cell *x = &cell[r * ncols + k];

			x->wl0 = c->nwl;
			wrap(c, x->dt0, x->dt1, x->p0, w[k]);
			x->wl1 = c->nwl;
		}
	}
	table_border(c, w, ncols, "\xE2\x94\x8C", "\xE2\x94\xAC",
		     "\xE2\x94\x90");
	for (size_t r = 0; r < nrows && c->rc == 0; r++) {
		size_t height = 1;

		for (size_t k = 0; k < ncols; k++) {
			struct md_cell *x = &cell[r * ncols + k];

			if (x->wl1 - x->wl0 > height)
				height = x->wl1 - x->wl0;
		}
		for (size_t t = 0; t < height; t++) {
			row_begin(c, false);
			row_add(c, "\xE2\x94\x82", 3, MD_K_TABLE_BORDER, 0, 0);
			for (size_t k = 0; k < ncols; k++) {
				struct md_cell *x = &cell[r * ncols + k];
				struct md_wline *l = NULL;
				int pad;
				int before = 0;

				if (x->wl0 + t < x->wl1)
					l = &c->wl[x->wl0 + t];
				pad = w[k] - (l ? l->cols : 0);
				if (align[k] == AL_RIGHT)
					before = pad;
				else if (align[k] == AL_CENTER)
					before = pad / 2;
				row_spaces(c, 1 + before);
				for (uint32_t g = 0; l && g < l->nseg; g++) {
					struct md_piece *s =
						&c->segs[l->seg + g];

					row_add(c, c->dt.data + s->off, s->len,
						s->kind, s->attrs, s->level);
				}
				row_spaces(c, pad - before + 1);
				row_add(c, "\xE2\x94\x82", 3,
					MD_K_TABLE_BORDER, 0, 0);
			}
			row_end(c);
		}
		if (r == 0 && nrows > 1)
			table_border(c, w, ncols, "\xE2\x94\x9C",
				     "\xE2\x94\xBC", "\xE2\x94\xA4");
	}
	table_border(c, w, ncols, "\xE2\x94\x94", "\xE2\x94\xB4",
		     "\xE2\x94\x98");
	free(cell);
	return j;
}

static void render_blocks(struct md_ctx *c, const struct mline *lines,
			  size_t n)
{
	bool any = false;
	bool blank = false;
	size_t i = 0;

	while (i < n && c->rc == 0) {
		struct mline l = lines[i];
		struct fence f;
		struct marker m;
		struct mline t;
		int level;

		if (line_blank(l)) {
			blank = any;
			i++;
			continue;
		}
		if (blank)
			row_blank(c);
		blank = false;
		any = true;
		if (fence_open(l, &f)) {
			i = render_fence(c, lines, n, i, &f);
			continue;
		}
		level = heading_level(l, &t);
		if (level) {
			render_heading(c, level, t);
			i++;
		} else if (is_rule(l)) {
			render_rule(c);
			i++;
		} else if (is_quote(l)) {
			i = render_quote(c, lines, n, i);
		} else if (list_marker(l, &m)) {
			i = render_item(c, lines, n, i, &m);
		} else if (table_start(lines, n, i)) {
			i = render_table(c, lines, n, i);
		} else {
			i = render_para(c, lines, n, i);
		}
	}
}

/* ---- public ------------------------------------------------------------ */

static void render_plain(struct md_ctx *c, const char *src, size_t len)
{
	scratch_reset(c);
	buf_reset(&c->raw);
	/* CR LF and lone CR are line ends too */
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '\r') {
			put_clean(c, &c->raw, src, i, true);
			put(c, &c->raw, "\n", 1);
			if (i + 1 < len && src[i + 1] == '\n')
				i++;
			src += i + 1;
			len -= i + 1;
			i = (size_t)-1;
		}
	}
	put_clean(c, &c->raw, src, len, true);
	put(c, &c->dt, c->raw.data, c->raw.len);
	if (c->rc < 0)
		return;
	if (!GROW(c, c->pieces, c->pieces_cap, 1))
		return;
	c->pieces[0] = (struct md_piece){ .off = 0,
					  .len = (uint32_t)c->dt.len };
	c->npieces = 1;
	wrap(c, 0, c->dt.len, 0, c->width);
	emit_wrapped(c, 0, c->nwl);
}

static void render_markdown(struct md_ctx *c, const char *src, size_t len)
{
	struct mline *lines;
	size_t n = 1;
	size_t k = 0;
	const char *p = src;
	const char *end = src + len;

	for (const char *q = src; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));

		if (!nl)
			break;
		n++;
		q = nl + 1;
	}
	lines = malloc(n * sizeof(*lines));
	if (!lines) {
		c->rc = CHAT_ENOMEM;
		return;
	}
	while (k < n) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l && p[l - 1] == '\r')
			l--;
		lines[k++] = (struct mline){ p, l };
		if (!nl)
			break;
		p = nl + 1;
	}
	render_blocks(c, lines, k);
	free(lines);
}

int md_render(const char *src, size_t len, int width, unsigned flags,
	      struct md_doc *out)
{
	struct md_ctx c;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.doc = out;
	c.width = width < 10 ? 10 : width;
	c.block = -1;
	buf_init(&c.row, MD_BUF_MAX);
	buf_init(&c.raw, MD_BUF_MAX);
	buf_init(&c.ib, MD_BUF_MAX);
	buf_init(&c.dt, MD_BUF_MAX);
	if (!src)
		len = 0;
	if (len > MD_MAX_INPUT)
		len = MD_MAX_INPUT;
	if (flags & MD_PLAIN)
		render_plain(&c, src ? src : "", len);
	else
		render_markdown(&c, src ? src : "", len);
	buf_release(&c.row);
	buf_release(&c.raw);
	buf_release(&c.ib);
	buf_release(&c.dt);
	free(c.spans);
	free(c.items);
	free(c.delims);
	free(c.brackets);
	free(c.pieces);
	free(c.segs);
	free(c.wl);
	if (c.rc < 0)
		md_doc_release(out);
	return c.rc;
}

void md_doc_release(struct md_doc *d)
{
	for (size_t i = 0; i < d->nlines; i++) {
		free(d->lines[i].text);
		free(d->lines[i].spans);
	}
	for (size_t i = 0; i < d->nblocks; i++) {
		free(d->blocks[i].lang);
		free(d->blocks[i].code);
	}
	free(d->lines);
	free(d->blocks);
	memset(d, 0, sizeof(*d));
}

int md_doc_dump(const struct md_doc *d, struct buf *out)
{
	int rc = 0;

	for (size_t i = 0; i < d->nlines && rc == 0; i++) {
		const struct md_line *l = &d->lines[i];

		rc = buf_append(out, l->text, l->len);
		if (rc == 0)
			rc = buf_puts(out, "|");
		for (size_t k = 0; k < l->nspans && rc == 0; k++) {
			const struct md_span *s = &l->spans[k];
			char attrs[5];
			size_t na = 0;

			if (s->attrs & MD_BOLD)
				attrs[na++] = 'b';
			if (s->attrs & MD_ITALIC)
				attrs[na++] = 'i';
			if (s->attrs & MD_STRIKE)
				attrs[na++] = 's';
			if (s->attrs & MD_UNDERLINE)
				attrs[na++] = 'u';
			if (na == 0)
				attrs[na++] = '-';
			attrs[na] = '\0';
			if (s->kind == MD_K_HEADING)
				rc = buf_printf(out, "%s%s%u:%s:%u+%u",
						k ? " " : "",
						md_kind_name(s->kind),
						(unsigned)s->level, attrs,
						(unsigned)s->off,
						(unsigned)s->len);
			else
				rc = buf_printf(out, "%s%s:%s:%u+%u",
						k ? " " : "",
						md_kind_name(s->kind), attrs,
						(unsigned)s->off,
						(unsigned)s->len);
		}
		if (rc == 0)
			rc = buf_puts(out, "\n");
	}
	return rc;
}

const char *md_kind_name(enum md_kind k)
{
	if ((unsigned)k >= MD_K_COUNT || !kind_names[k])
		return "unknown";
	return kind_names[k];
}
