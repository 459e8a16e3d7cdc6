/*
 * markdown.h - renders a message's Markdown into wrapped, styled lines
 * for a given width, without touching the terminal: the UI paints the
 * spans, the tests compare md_doc_dump() with golden text.
 *
 * Supported: ATX headings, emphasis (*, _, **, __, ~~), inline code,
 * fenced code blocks (``` and ~~~, with a language: framed, labelled,
 * syntax-coloured for at least C, Python, shell and JSON, never
 * reflowed: long code lines are cut at the frame and continued on the
 * next row with a marker), bullet and numbered lists (nested, with
 * hanging indent), block quotes (nested), links ([text](url): the text
 * styled, the URL shown after it), thematic breaks, and pipe tables
 * (columns sized to content, shrunk to fit the width, cells wrapped).
 * Prose wraps at word boundaries by display width (width.h); a word
 * longer than the line is broken between clusters.
 *
 * Rendering is a pure function of (text, width, flags): a streamed
 * answer is simply rendered again as it grows, and an unfinished fence
 * renders as an open code block.
 *
 * Choices (comment added with markdown.c, no interface change):
 * - a single newline inside a paragraph is kept as a line break (LLM
 *   answers rely on it), not joined as CommonMark would; blank lines
 *   become one empty row; emphasis and code spans may still span lines;
 * - unmatched *, _, ~~ and backticks render literally (so does a stream
 *   cut in the middle of them); intraword underscores are not emphasis;
 * - a link shows its text (MD_K_LINK, underlined) then " (url)" unless
 *   the text is the URL; bare and <autolinks> are MD_K_URL;
 * - headings drop their #s (bold, level 1 also underlined); bullets are
 *   "•", "◦", "▪" by depth; quotes "│ "; a code block is a frame as wide
 *   as the text area, rows "│ code │", a cut line going on after "↪ ";
 *   an open fence has no bottom frame; tables are drawn with box
 *   characters, the header row bold, or as text lines when too narrow;
 * - control characters are dropped, a tab is a space (code: to the next
 *   stop of 4), invalid UTF-8 bytes become U+FFFD; input past 64 MiB is
 *   ignored.
 */
#ifndef CHAT_TUI_MARKDOWN_H
#define CHAT_TUI_MARKDOWN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Attributes of a span (bit flags). */
enum md_attr {
	MD_BOLD = 1 << 0,
	MD_ITALIC = 1 << 1,
	MD_STRIKE = 1 << 2,
	MD_UNDERLINE = 1 << 3,
};

/* What a span is, for its colour. */
enum md_kind {
	MD_K_TEXT = 0,
	MD_K_HEADING,		/* level in md_span.level */
	MD_K_CODE_INLINE,
	MD_K_LINK,		/* a link's text */
	MD_K_URL,		/* a link's target as shown */
	MD_K_QUOTE_BAR,		/* the "│ " of a quote */
	MD_K_LIST_MARK,		/* "• ", "1. " */
	MD_K_RULE,		/* a thematic break */
	MD_K_TABLE_BORDER,
	MD_K_TABLE_HEADER,
	MD_K_CODE_FRAME,	/* a code block's frame */
	MD_K_CODE_LANG,		/* its language label */
	MD_K_CODE,		/* code text without a finer class */
	MD_K_CODE_KEYWORD,
	MD_K_CODE_TYPE,
	MD_K_CODE_STRING,
	MD_K_CODE_NUMBER,
	MD_K_CODE_COMMENT,
	MD_K_CODE_PUNCT,
	MD_K_CODE_CONT,		/* the marker of a cut code line */
	MD_K_COUNT
};

struct md_span {
	uint32_t off;		/* bytes into the line's text */
	uint32_t len;
	uint8_t kind;		/* enum md_kind */
	uint8_t attrs;		/* enum md_attr */
	uint8_t level;		/* heading level 1..6 */
};

/* One screen row. */
struct md_line {
	char *text;		/* owned, UTF-8, no control characters */
	size_t len;
	struct md_span *spans;	/* owned; cover text in order, no gaps */
	size_t nspans;
	int cols;		/* display width, <= the render width */
	int block;		/* index into md_doc.blocks, -1 outside code */
};

/* A fenced code block, for copying it. */
struct md_block {
	char *lang;		/* owned; "" when none */
	char *code;		/* owned; the code as written */
	size_t code_len;
	size_t first_line;	/* its first row in md_doc.lines (the frame) */
	size_t nlines;		/* rows including the frame */
};

struct md_doc {
	struct md_line *lines;
	size_t nlines;
	struct md_block *blocks;
	size_t nblocks;
};

enum md_flags {
	MD_PLAIN = 1 << 0,	/* no Markdown: wrap the text as it is */
};

/* Renders src (UTF-8; invalid bytes become U+FFFD) at width columns
 * (>= 10; smaller is taken as 10) into *out (caller's, md_doc_release).
 * 0 or CHAT_ENOMEM. */
int md_render(const char *src, size_t len, int width, unsigned flags,
	      struct md_doc *out);
void md_doc_release(struct md_doc *d);

/* A textual dump for golden tests: one line per row,
 * "<text>|<kind>:<attrs>:<off>+<len> ..." so that text and styling are
 * both checked.  <kind> is md_kind_name(), a heading's with its level
 * ("heading2"); <attrs> the letters b i s u (bold, italic, strike,
 * underline) or "-"; spans are separated by one space.  Appends to out;
 * 0 or CHAT_ETOOBIG/CHAT_ENOMEM from out. */
int md_doc_dump(const struct md_doc *d, struct buf *out);

/* Display name of a kind ("code_keyword") for dumps and themes. */
const char *md_kind_name(enum md_kind k);

#endif
