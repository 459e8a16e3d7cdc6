/*
 * width.h - display width of UTF-8 text in a terminal cell grid.
 *
 * Text is walked by grapheme cluster (a base character with its
 * combining marks, variation selectors, emoji modifiers and ZWJ
 * sequences), so that a cluster is never split when cutting or wrapping.
 * Widths follow wcwidth(3) in a UTF-8 locale, with emoji presentation
 * counted as 2; control characters count 0 (callers strip them).  An
 * invalid byte counts as one column (shown as U+FFFD).
 */
#ifndef CHAT_TUI_WIDTH_H
#define CHAT_TUI_WIDTH_H

#include <stddef.h>

/* Display columns of s[0..len). */
int tw_width(const char *s, size_t len);
/* The end (byte offset) of the cluster starting at off; its columns in
 * *cols.  off == len returns len with *cols 0. */
size_t tw_next(const char *s, size_t len, size_t off, int *cols);
/* The start of the cluster that ends at off (off > 0). */
size_t tw_prev(const char *s, size_t len, size_t off);
/* The longest prefix of s, ending on a cluster boundary, that fits in
 * cols columns; its columns in *used (may be NULL). */
size_t tw_fit(const char *s, size_t len, int cols, int *used);

#endif
