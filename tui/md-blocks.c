/*
 * md-blocks.c - the block stage of chatui's Markdown renderer: the
 * source is cut into lines and parsed into blocks (paragraphs,
 * headings, fenced code, thematic breaks, tables), recursively inside
 * containers: a quote or a list item pushes its prefix ("│ ", "• " then
 * "  ") and renders its own lines as blocks, so every row under it
 * starts with that prefix.
 *
 * Block structure is decided on whole lines only, before any inline
 * Markdown is looked at (CommonMark's first phase), which is why it is
 * a stage of its own: a "*" or "`" in a line never changes where a
 * block ends.  Each block's text then goes through md-inlines.c and
 * md-wrap.c at the width its containers leave; a table wraps each cell
 * at its column's width, a code block is cut, never reflowed
 * (md-internal.h).
 */
#include "md-internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "highlight.h"
#include "width.h"
#include "banned.h"

#define MD_MIN_AVAIL 8		/* columns a container must leave */
#define MD_CODE_TAB 4

struct mline {
	const char *s;
	size_t len;
};

/* Bullets by nesting depth. */
static const char *const bullets[] = { "\xE2\x80\xA2", "\xE2\x97\xA6",
				       "\xE2\x96\xAA" };

static void render_blocks(struct md_ctx *c, const struct mline *lines,
			  size_t n);

/* ---- containers ------------------------------------------------------ */

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

/* ---- text of a block ------------------------------------------------- */

/* Code: like md_put_clean, tabs expanded to stops of MD_CODE_TAB. */
static void put_code(struct md_ctx *c, struct buf *b, const char *s,
		     size_t len)
{
	size_t start = b->len;
	size_t run = 0;
	int col = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\t')
			continue;
		md_put_clean(c, b, s + run, i - run, false);
		if (c->rc < 0 || i == len)
			break;
		/* a tab first: b->data may still be NULL, and NULL + 0 is
		 * undefined (UBSan, fuzz-markdown: "```\n\t") */
		col = b->len > start ?
		      width_cols(b->data + start, b->len - start) : 0;
		md_put(c, b, "    ", (size_t)(MD_CODE_TAB - col % MD_CODE_TAB));
		run = i + 1;
		start = b->len;
		col = 0;
	}
}

/* Inline text s as rows at the available width. */
static void emit_inline(struct md_ctx *c, const char *s, size_t len,
			uint8_t kind, uint8_t attrs, uint8_t level)
{
	md_scratch_reset(c);
	md_inlines_run(c, s, len, kind, attrs, level);
	if (c->rc < 0)
		return;
	md_wrap_text(c, 0, c->dt.len, 0, avail(c));
	md_wrap_emit(c, 0, c->nwl);
}

/* ---- line tests ------------------------------------------------------ */

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

/* ---- rendering ------------------------------------------------------- */

static void render_rule(struct md_ctx *c)
{
	md_row_begin(c, false);
	md_row_repeat(c, "\xE2\x94\x80", avail(c), MD_K_RULE);
	md_row_end(c);
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
			md_put(c, &c->raw, "\n", 1);
		md_put(c, &c->raw, l.s + at, l.len - at);
	}
	if (c->rc == 0)
		emit_inline(c, c->raw.data ? c->raw.data : "", c->raw.len,
			    MD_K_TEXT, 0, 0);
	return j;
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
	if (!MD_GROW(c, d->blocks, c->blocks_cap, d->nblocks + 1))
		return n;
	b = &d->blocks[d->nblocks];
	memset(b, 0, sizeof(*b));
	b->lang = dup_mem(c, f->info, lang_len);
	buf_reset(&c->raw);
	for (size_t k = i + 1; k < code_end; k++) {
		struct mline l = dedent(lines[k], f->indent);

		md_put(c, &c->raw, l.s, l.len);
		if (k + 1 < code_end)
			md_put(c, &c->raw, "\n", 1);
	}
	b->code = dup_mem(c, c->raw.data ? c->raw.data : "", c->raw.len);
	b->code_len = c->raw.len;
	b->first_line = d->nlines;
	d->nblocks++;
	if (c->rc < 0)
		return n;
	c->block = (int)(d->nblocks - 1);

	/* the top frame: "╭─ lang ───╮" */
	md_row_begin(c, false);
	if (lang_len) {
		int used;
		size_t fit;

		buf_reset(&c->ib);
		md_put_clean(c, &c->ib, f->info, lang_len, false);
		fit = width_fit(c->ib.data ? c->ib.data : "", c->ib.len, w - 6,
			     &used);
		md_row_add(c, "\xE2\x95\xAD\xE2\x94\x80 ", 7,
			   MD_K_CODE_FRAME, 0, 0);
		md_row_add(c, c->ib.data, fit, MD_K_CODE_LANG, 0, 0);
		md_row_add(c, " ", 1, MD_K_CODE_FRAME, 0, 0);
		md_row_repeat(c, "\xE2\x94\x80", w - 5 - used, MD_K_CODE_FRAME);
	} else {
		md_row_add(c, "\xE2\x95\xAD", 3, MD_K_CODE_FRAME, 0, 0);
		md_row_repeat(c, "\xE2\x94\x80", w - 2, MD_K_CODE_FRAME);
	}
	md_row_add(c, "\xE2\x95\xAE", 3, MD_K_CODE_FRAME, 0, 0);
	md_row_end(c);

	lang = lang_len ? ui_hl_find(f->info, lang_len) : NULL;
	for (size_t k = i + 1; k < code_end && c->rc == 0; k++) {
		struct mline l = dedent(lines[k], f->indent);

		buf_reset(&c->ib);
		put_code(c, &c->ib, l.s, l.len);
		md_inlines_code(c, lang, &st);
		md_wrap_code(c, avail(c) - 4);
	}
	/* an unfinished fence (a stream) stays open: no bottom frame */
	if (j < n) {
		md_row_begin(c, false);
		md_row_add(c, "\xE2\x95\xB0", 3, MD_K_CODE_FRAME, 0, 0);
		md_row_repeat(c, "\xE2\x94\x80", w - 2, MD_K_CODE_FRAME);
		md_row_add(c, "\xE2\x95\xAF", 3, MD_K_CODE_FRAME, 0, 0);
		md_row_end(c);
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
			md_row_begin(c, false);
			md_row_end(c);
		}
		pop(c);
	} else {
		/* too deep: the rest is text, so recursion stays bounded */
		buf_reset(&c->raw);
		for (size_t k = 0; k < m; k++) {
			if (k)
				md_put(c, &c->raw, "\n", 1);
			md_put(c, &c->raw, sub[k].s, sub[k].len);
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
	md_row_begin(c, false);
	md_row_add(c, l, strlen(l), MD_K_TABLE_BORDER, 0, 0);
	for (size_t k = 0; k < ncols; k++) {
		md_row_repeat(c, "\xE2\x94\x80", w[k] + 2, MD_K_TABLE_BORDER);
		if (k + 1 < ncols)
			md_row_add(c, mid, strlen(mid), MD_K_TABLE_BORDER,
				   0, 0);
	}
	md_row_add(c, r, strlen(r), MD_K_TABLE_BORDER, 0, 0);
	md_row_end(c);
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
	md_scratch_reset(c);
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
			md_inlines_run(c, t.s, t.len,
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
			md_wrap_text(c, x->dt0, x->dt1, x->p0, w[k]);
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
			md_row_begin(c, false);
			md_row_add(c, "\xE2\x94\x82", 3, MD_K_TABLE_BORDER,
				   0, 0);
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
				md_row_spaces(c, 1 + before);
				for (uint32_t g = 0; l && g < l->nseg; g++) {
					struct md_piece *s =
						&c->segs[l->seg + g];

					md_row_add(c, c->dt.data + s->off,
						   s->len, s->kind, s->attrs,
						   s->level);
				}
				md_row_spaces(c, pad - before + 1);
				md_row_add(c, "\xE2\x94\x82", 3,
					   MD_K_TABLE_BORDER, 0, 0);
			}
			md_row_end(c);
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
			md_row_blank(c);
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

/* ---- public ---------------------------------------------------------- */

void md_blocks_render(struct md_ctx *c, const char *src, size_t len)
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
