/*
 * md-inlines.c - the inline stage of chatui's Markdown renderer: the
 * text of one block (a paragraph, a heading, a table cell) becomes
 * visible text in dt with style pieces over it; a code block's line
 * becomes syntax tokens (highlight.c) as pieces.
 *
 * Items (literal text, code spans, delimiter runs, links) are scanned
 * first; emphasis is then matched with the CommonMark delimiter
 * algorithm (openers_bottom keeps it linear), and the items are laid
 * out into dt.  Nothing here knows about widths or rows: that is
 * md-wrap.c's, so a table cell and a paragraph share this stage and
 * differ only in the width they are wrapped at (md-internal.h).
 */
#include "md-internal.h"

#include <stdbool.h>
#include <string.h>

#include "highlight.h"
#include "banned.h"

#define MD_URL_SCAN 2048	/* bytes looked at for a link target */

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

/* ---- items ----------------------------------------------------------- */

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

	if (!MD_GROW(c, c->items, c->items_cap, c->nitems + 2))
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
	md_put_clean(c, &c->ib, s, len, false);
	it->len = (uint32_t)(c->ib.len - it->off);
}

static void delim_add(struct md_ctx *c, char ch, size_t n, bool open,
		      bool close)
{
	struct md_delim *d;

	if (!MD_GROW(c, c->delims, c->delims_cap, c->ndelims + 1))
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

/* ---- emphasis -------------------------------------------------------- */

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

/* ---- links and code spans -------------------------------------------- */

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
	md_put_clean(c, &c->ib, s + a, b - a, false);
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
			md_put(c, &c->ib, "(", 1);
			md_put_clean(c, &c->ib, s + u0, u1 - u0, false);
			md_put(c, &c->ib, ")", 1);
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
			if (!MD_GROW(c, c->brackets, c->brackets_cap,
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

/* ---- public ---------------------------------------------------------- */

void md_inlines_run(struct md_ctx *c, const char *s, size_t len,
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
			md_put(c, &c->dt, "\n", 1);
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
			md_put(c, &c->dt, c->ib.data + it->off, it->len);
		}
		last = c->npieces > floor ? &c->pieces[c->npieces - 1] : NULL;
		if (last && last->kind == pc.kind && last->attrs == pc.attrs &&
		    last->level == pc.level &&
		    last->off + last->len == pc.off) {
			last->len += pc.len;
			continue;
		}
		if (!MD_GROW(c, c->pieces, c->pieces_cap, c->npieces + 1))
			return;
		c->pieces[c->npieces++] = pc;
	}
}

void md_inlines_code(struct md_ctx *c, const struct ui_hl_lang *lang,
		     struct ui_hl_state *st)
{
	const char *s = c->ib.data ? c->ib.data : "";
	size_t len = c->ib.len;

	c->npieces = 0;
	for (size_t p = 0; p < len && c->rc == 0;) {
		uint8_t kind;
		size_t e = lang ? ui_hl_next(lang, st, s, len, p, &kind) : len;

		if (!lang)
			kind = MD_K_CODE;
		if (e <= p)
			e = p + 1;
		if (!MD_GROW(c, c->pieces, c->pieces_cap, c->npieces + 1))
			return;
		c->pieces[c->npieces++] = (struct md_piece){
			.off = (uint32_t)p, .len = (uint32_t)(e - p),
			.kind = kind,
		};
		p = e;
	}
}
