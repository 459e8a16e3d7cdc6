/*
 * editor.h - the multi-line input box's text and cursor, without the
 * terminal: UTF-8 text edited by grapheme cluster, laid out into rows
 * for a width (soft wrap at words, hard breaks at newlines), with the
 * cursor's row and column.  Bracketed paste inserts text as it is
 * (newlines included) in one call.
 *
 * Layout details (comment added with editor.c, no interface change): a
 * tab counts one column (draw it as a space); the space at which a row
 * is soft-wrapped, like a newline, belongs to no row (rows are slices
 * with one-byte gaps); cursor_col may equal width after a row filled to
 * the edge, so lay out at the box width minus one to keep a cell for
 * the cursor.  Invalid UTF-8 is kept as it is (one column a byte), so a
 * character inserted byte by byte comes together.
 */
#ifndef CHAT_TUI_EDITOR_H
#define CHAT_TUI_EDITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct editor {
	struct buf text;	/* the content; max = the input ceiling */
	size_t cursor;		/* byte offset, on a cluster boundary */
	int goal_col;		/* column kept across up/down, -1 none */
};

/* One row of the layout: bytes [start, end) of the text. */
struct editor_row {
	size_t start;
	size_t end;
};

struct editor_view {
	struct editor_row *rows;	/* owned (editor_view_release) */
	size_t nrows;
	size_t cursor_row;
	int cursor_col;
};

void editor_init(struct editor *e, size_t max);
void editor_release(struct editor *e);
void editor_clear(struct editor *e);
/* Replaces the text; cursor at the end.  CHAT_ETOOBIG past max. */
int editor_set(struct editor *e, const char *s, size_t len);
/* Inserts at the cursor (control characters other than \n and \t
 * dropped, \r\n and \r taken as \n); CHAT_ETOOBIG past max, nothing
 * inserted then. */
int editor_insert(struct editor *e, const char *s, size_t len);
void editor_backspace(struct editor *e);	/* the cluster before */
void editor_delete(struct editor *e);		/* the cluster after */
void editor_delete_word_back(struct editor *e);	/* Ctrl-W */
void editor_kill_to_eol(struct editor *e);	/* Ctrl-K */
void editor_left(struct editor *e);
void editor_right(struct editor *e);
void editor_word_left(struct editor *e);
void editor_word_right(struct editor *e);
void editor_home(struct editor *e);		/* start of the line */
void editor_end(struct editor *e);		/* end of the line */
/* Up and down move by layout rows at width; false at the first/last
 * row (the UI may then scroll history instead). */
bool editor_up(struct editor *e, int width);
bool editor_down(struct editor *e, int width);
bool editor_empty(const struct editor *e);

/* Lays the text out at width columns (>= 1). 0 or CHAT_ENOMEM. */
int editor_layout(const struct editor *e, int width, struct editor_view *v);
void editor_view_release(struct editor_view *v);

#endif
