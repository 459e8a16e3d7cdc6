/*
 * md-internal.h - what the stages of chatui's Markdown renderer pass to
 * each other; not for use outside tui/markdown.c and tui/md-*.c.
 *
 * md_render (markdown.c) runs one pipeline, cmark's shape, over one
 * struct md_ctx:
 *   md-blocks.c   source lines -> block structure (paragraphs, headings,
 *                 fences, quotes and lists as containers, tables); it
 *                 drives the other two for each block's text;
 *   md-inlines.c  a block's text -> visible text in dt with style
 *                 pieces over it (emphasis, code spans, links; a code
 *                 line's syntax tokens);
 *   md-wrap.c     dt and its pieces -> wrapped lines of a width, then
 *                 rows (md_row_*, markdown.c) under the containers'
 *                 prefixes.
 * markdown.c keeps the public API, the output rows, and the helpers
 * every stage uses (growth with a ceiling, text hygiene).
 *
 * Errors are sticky in md_ctx.rc: the first failed allocation makes
 * every later call a no-op, and md_render returns it.  All of this runs
 * on the caller's thread, with no state outside the md_ctx.
 */
#ifndef CHAT_TUI_MD_INTERNAL_H
#define CHAT_TUI_MD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "markdown.h"

#define MD_MAX_DEPTH 24		/* nested quotes and lists */
#define MD_BUF_MAX (256u << 20)	/* ceiling of every scratch buffer */
#define MD_TICKS_MAX 64		/* longer backtick runs are literal */

struct ui_hl_lang;
struct ui_hl_state;

/* md-inlines.c's own: an inline item, an emphasis delimiter run, an
 * open "[" (complete only there; the context holds their arrays). */
struct md_item;
struct md_delim;
struct md_bracket;

/* A quote or a list item: what it writes in front of its rows.  Pushed
 * and popped by md-blocks.c, written by md_row_begin. */
struct md_container {
	char first[24];		/* on its first row ("• ", "12. ") */
	char rest[24];		/* on the others (spaces, "│ ") */
	int cols;
	uint8_t kind;
	bool used;		/* the first row was written */
	bool quote;
};

/* Styled bytes of dt: pieces of inline output, segments of rows, code
 * tokens (then over ib). */
struct md_piece {
	uint32_t off;
	uint32_t len;
	uint8_t kind;
	uint8_t attrs;
	uint8_t level;
};

/* A wrapped line: segments [seg, seg + nseg) of md_ctx.segs. */
struct md_wline {
	uint32_t seg;
	uint32_t nseg;
	int cols;
};

struct md_ctx {
	struct md_doc *doc;	/* the output, md_render's caller's */
	size_t lines_cap;
	size_t blocks_cap;
	int width;		/* the render width, >= 10 */
	int rc;			/* sticky error */
	int block;		/* the code block being drawn, -1 */

	/* containers (md-blocks.c pushes, md_row_begin writes them) */
	struct md_container stack[MD_MAX_DEPTH];
	int depth;
	int prefix_cols;	/* their columns, taken from the width */

	/* the row being built (md_row_*) */
	struct buf row;
	struct md_span *spans;
	size_t nspans;
	size_t spans_cap;

	/* block scratch (md-blocks.c): a paragraph's lines joined, a
	 * fence's code */
	struct buf raw;

	/* inline stage: ib holds the items' text (and, for a code block,
	 * the line being drawn); the rest is md-inlines.c's alone */
	struct buf ib;
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
	bool no_closer[MD_TICKS_MAX + 1];

	/* inlines -> wrap: the visible text and its style pieces */
	struct buf dt;
	struct md_piece *pieces;
	size_t npieces;
	size_t pieces_cap;

	/* wrap -> rows: wrapped lines and their segments over dt */
	struct md_piece *segs;
	size_t nsegs;
	size_t segs_cap;
	struct md_wline *wl;
	size_t nwl;
	size_t wl_cap;
};

/* ---- markdown.c: helpers of every stage ------------------------------ */

/* Grows arr (of cap items) to hold need; false (and c->rc set) past
 * MD_BUF_MAX or out of memory, or when c->rc is already set. */
#define MD_GROW(c, arr, cap, need) \
	md_grow((c), (void **)&(arr), &(cap), (need), sizeof(*(arr)))
bool md_grow(struct md_ctx *c, void **arr, size_t *cap, size_t need,
	     size_t size);

/* Appends to b; a failure sets c->rc. */
void md_put(struct md_ctx *c, struct buf *b, const void *s, size_t len);

/* Appends s without control characters (a tab becomes a space, a
 * newline is kept when keep_nl) and with U+FFFD for invalid bytes. */
void md_put_clean(struct md_ctx *c, struct buf *b, const char *str,
		  size_t len, bool keep_nl);

/* Empties dt, pieces, segments and wrapped lines for a new block. */
void md_scratch_reset(struct md_ctx *c);

/* ---- markdown.c: rows ------------------------------------------------ */

/* Starts a row with the containers' prefixes.  A blank row carries only
 * the quote bars (and what lies before them), without trailing space,
 * and does not use up a list item's marker. */
void md_row_begin(struct md_ctx *c, bool blank);
/* Appends s styled; merges with the previous span when alike. */
void md_row_add(struct md_ctx *c, const char *s, size_t len, uint8_t kind,
		uint8_t attrs, uint8_t level);
/* s n times, unstyled but for kind. */
void md_row_repeat(struct md_ctx *c, const char *s, int n, uint8_t kind);
void md_row_spaces(struct md_ctx *c, int n);
/* Copies the row into the document (owned there). */
void md_row_end(struct md_ctx *c);
void md_row_blank(struct md_ctx *c);

/* ---- md-blocks.c ----------------------------------------------------- */

/* Renders src (len bytes, Markdown) into c->doc. */
void md_blocks_render(struct md_ctx *c, const char *src, size_t len);

/* ---- md-inlines.c ---------------------------------------------------- */

/* Inline Markdown of s appended to dt, with pieces over it: TEXT takes
 * base_kind, every piece gets base_attrs, a heading's level.  Uses ib
 * and the inline scratch. */
void md_inlines_run(struct md_ctx *c, const char *s, size_t len,
		    uint8_t base_kind, uint8_t base_attrs, uint8_t level);

/* A code line (sanitized, in ib) as syntax tokens: replaces pieces with
 * pieces over ib; lang NULL is plain code. */
void md_inlines_code(struct md_ctx *c, const struct ui_hl_lang *lang,
		     struct ui_hl_state *st);

/* ---- md-wrap.c ------------------------------------------------------- */

/* Wraps dt[a, b) (pieces from pfrom on) at width into wrapped lines,
 * at least one; '\n' ends a line. */
void md_wrap_text(struct md_ctx *c, size_t a, size_t b, size_t pfrom,
		  int width);

/* Writes wrapped lines [from, to) as rows. */
void md_wrap_emit(struct md_ctx *c, size_t from, size_t to);

/* Writes the code line in ib (tokens in pieces, md_inlines_code) as
 * framed rows with inner columns of text, cut (never reflowed): the
 * rows after the first go on after a marker. */
void md_wrap_code(struct md_ctx *c, int inner);

#endif
