/*
 * markdown.c - Markdown to wrapped, styled rows (see markdown.h): the
 * public entry, the rows of the output document, and the helpers every
 * stage shares.
 *
 * The work is three stages, each in its own file, as cmark splits
 * blocks.c from inlines.c and its renderers (md-internal.h says what
 * passes between them):
 *   md-blocks.c   lines -> block structure (containers, fences,
 *                 tables, paragraphs);
 *   md-inlines.c  a block's text -> visible text with style pieces
 *                 (emphasis, code spans, links, code tokens);
 *   md-wrap.c     styled text -> lines of a width, then rows.
 * They are apart because each answers one question on its own terms
 * (where a block ends is decided on whole lines; what is emphasis, on
 * one block's text; where a line breaks, on display width only), so
 * each can be read, and its cases tested, without the others.  Every
 * stage is linear in its input.
 *
 * Errors are sticky in struct md_ctx (rc): the first failed allocation
 * stops the work and md_render returns it.
 */
#include "markdown.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "md-internal.h"
#include "utf8.h"
#include "width.h"
#include "banned.h"

#define MD_MAX_INPUT (64u << 20)	/* longer input is cut */

#define FFFD "\xEF\xBF\xBD"

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

/* ---- helpers of every stage ------------------------------------------ */

bool md_grow(struct md_ctx *c, void **arr, size_t *cap, size_t need,
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

void md_put(struct md_ctx *c, struct buf *b, const void *s, size_t len)
{
	if (c->rc < 0 || len == 0)
		return;
	if (buf_append(b, s, len) < 0)
		c->rc = CHAT_ENOMEM;	/* past the ceiling: out of room */
}

void md_put_clean(struct md_ctx *c, struct buf *b, const char *str,
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
		n = ch < 0x80 ? 1 :
		    utf8_decode((const char *)s + i, len - i, NULL);
		if (n > 1 && !(ch == 0xC2 && s[i + 1] < 0xA0)) {
			i += n;
			continue;
		}
		md_put(c, b, s + run, i - run);
		if (ch == '\t')
			md_put(c, b, " ", 1);
		else if (ch == '\n' && keep_nl)
			md_put(c, b, "\n", 1);
		else if (n == 0)
			md_put(c, b, FFFD, 3);
		i += n ? n : 1;
		run = i;
	}
	md_put(c, b, s + run, i - run);
}

/* ---- rows ------------------------------------------------------------ */

void md_row_add(struct md_ctx *c, const char *s, size_t len, uint8_t kind,
		uint8_t attrs, uint8_t level)
{
	struct md_span *last;
	size_t off = c->row.len;

	if (len == 0 || c->rc < 0)
		return;
	md_put(c, &c->row, s, len);
	if (c->rc < 0)
		return;
	last = c->nspans ? &c->spans[c->nspans - 1] : NULL;
	if (last && last->kind == kind && last->attrs == attrs &&
	    last->level == level) {
		last->len += (uint32_t)len;
		return;
	}
	if (!MD_GROW(c, c->spans, c->spans_cap, c->nspans + 1))
		return;
	c->spans[c->nspans++] = (struct md_span){
		.off = (uint32_t)off, .len = (uint32_t)len,
		.kind = kind, .attrs = attrs, .level = level,
	};
}

void md_row_repeat(struct md_ctx *c, const char *s, int n, uint8_t kind)
{
	for (int i = 0; i < n; i++)
		md_row_add(c, s, strlen(s), kind, 0, 0);
}

void md_row_spaces(struct md_ctx *c, int n)
{
	static const char sp[] = "                                ";

	while (n > 0) {
		int k = n < 32 ? n : 32;

		md_row_add(c, sp, (size_t)k, MD_K_TEXT, 0, 0);
		n -= k;
	}
}

/* Starts a row with the containers' prefixes.  A blank row carries only
 * the quote bars (and what lies before them), without trailing space,
 * and does not use up a list item's marker. */
void md_row_begin(struct md_ctx *c, bool blank)
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
				md_row_add(c, p, strlen(p) - 1, k->kind, 0, 0);
				break;
			}
		} else {
			k->used = true;
		}
		md_row_add(c, p, strlen(p), k->kind, 0, 0);
	}
}

void md_row_end(struct md_ctx *c)
{
	struct md_doc *d = c->doc;
	struct md_line *l;

	if (!MD_GROW(c, d->lines, c->lines_cap, d->nlines + 1))
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

void md_row_blank(struct md_ctx *c)
{
	md_row_begin(c, true);
	md_row_end(c);
}

void md_scratch_reset(struct md_ctx *c)
{
	buf_reset(&c->dt);
	c->npieces = 0;
	c->nsegs = 0;
	c->nwl = 0;
}

/* ---- public ---------------------------------------------------------- */

/* MD_PLAIN: no Markdown, the text as it is, wrapped at the full width. */
static void render_plain(struct md_ctx *c, const char *src, size_t len)
{
	md_scratch_reset(c);
	buf_reset(&c->raw);
	/* CR LF and lone CR are line ends too */
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '\r') {
			md_put_clean(c, &c->raw, src, i, true);
			md_put(c, &c->raw, "\n", 1);
			if (i + 1 < len && src[i + 1] == '\n')
				i++;
			src += i + 1;
			len -= i + 1;
			i = (size_t)-1;
		}
	}
	md_put_clean(c, &c->raw, src, len, true);
	md_put(c, &c->dt, c->raw.data, c->raw.len);
	if (c->rc < 0)
		return;
	if (!MD_GROW(c, c->pieces, c->pieces_cap, 1))
		return;
	c->pieces[0] = (struct md_piece){ .off = 0,
					  .len = (uint32_t)c->dt.len };
	c->npieces = 1;
	md_wrap_text(c, 0, c->dt.len, 0, c->width);
	md_wrap_emit(c, 0, c->nwl);
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
		md_blocks_render(&c, src ? src : "", len);
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
