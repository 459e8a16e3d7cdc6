/*
 * width.h - display width of UTF-8 text in a terminal cell grid, the one
 * measure chatctl's tables and chatui's panes share.
 *
 * Text is walked by grapheme cluster (a base character with its
 * combining marks, variation selectors, emoji modifiers and ZWJ
 * sequences; a pair of regional indicators), so that a cluster is never
 * split when cutting or wrapping.  Widths follow wcwidth(3) in a UTF-8
 * locale, with emoji presentation counted as 2 (a ZWJ family, a flag, a
 * pictograph with VS16); built-in tables answer when the locale cannot.
 * Control characters count 0: callers replace them before showing text
 * (chatctl by a space, chatui by a space too) and measure what they
 * show.  An invalid byte (shared/utf8.c's strict rules) counts one
 * column, shown as U+FFFD.
 *
 * No state, no allocation: any thread.  Widths of non-ASCII text come
 * from the LC_CTYPE of the calling program, so both front-ends set a
 * UTF-8 one before measuring.
 */
#ifndef CHAT_WIDTH_H
#define CHAT_WIDTH_H

#include <stddef.h>

/* Display columns of s[0..len). */
int width_cols(const char *s, size_t len);
/* The end (byte offset) of the cluster starting at off; its columns in
 * *cols.  off == len returns len with *cols 0. */
size_t width_next(const char *s, size_t len, size_t off, int *cols);
/* The start of the cluster that ends at off (off > 0). */
size_t width_prev(const char *s, size_t len, size_t off);
/* The longest prefix of s, ending on a cluster boundary, that fits in
 * cols columns; its columns in *used (may be NULL). */
size_t width_fit(const char *s, size_t len, int cols, int *used);

#endif
