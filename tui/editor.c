/*
 * editor.c - the input box's text, cursor and layout, free of curses so
 * that every edit and every cursor move is unit-tested.
 *
 * The text is one struct buf (its ceiling is the input limit); the
 * cursor is a byte offset kept on a grapheme cluster boundary, so a
 * cluster (e + accent, a ZWJ emoji, a flag) is inserted, deleted and
 * stepped over as one.  Layout: rows break at newlines and, inside a
 * line, after the last space that fits (the space itself then belongs
 * to no row, like the newline); a word longer than the row is cut
 * between clusters.  A tab counts one column.
 */
#include "editor.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "width.h"
#include "banned.h"

/* Rows are counted in this step as the view grows. */
#define ROWS_STEP 16

/* The end of the cluster at off and its columns, a tab being one. */
static size_t ed_next(const char *s, size_t len, size_t off, int *cols)
{
	if (off < len && s[off] == '\t') {
		*cols = 1;
		return off + 1;
	}
	return width_next(s, len, off, cols);
}

static int ed_width(const char *s, size_t start, size_t end)
{
	int w = 0;
	int c;

	while (start < end) {
		start = ed_next(s, end, start, &c);
		w += c;
	}
	return w;
}

/* Word characters for word moves: letters, digits, '_' and anything
 * outside ASCII (other scripts, emoji). */
static bool is_word_at(const char *s, size_t off)
{
	unsigned char c = (unsigned char)s[off];

	return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool is_space_at(const char *s, size_t off)
{
	return s[off] == ' ' || s[off] == '\t' || s[off] == '\n';
}

/* Removes bytes [from, to) of the text; the cursor is set by the
 * caller. */
static void ed_cut(struct editor *e, size_t from, size_t to)
{
	struct buf *b = &e->text;

	if (from >= to || to > b->len)
		return;
	memmove(b->data + from, b->data + to, b->len - to);
	b->len -= to - from;
	b->data[b->len] = '\0';
}

/* Moves the cursor forward to a cluster boundary, should an insert have
 * joined the clusters around it (a ZWJ typed before an emoji). */
static void ed_snap(struct editor *e)
{
	size_t p;
	size_t end;
	int cols;

	if (e->cursor == 0 || e->cursor >= e->text.len)
		return;
	p = width_prev(e->text.data, e->text.len, e->cursor);
	end = ed_next(e->text.data, e->text.len, p, &cols);
	if (end > e->cursor)
		e->cursor = end;
}

/* Copies s without control characters into out (len bytes at most);
 * CR LF and CR become LF.  Returns the bytes written. */
static size_t ed_filter(const char *s, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			out[n++] = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
			continue;
		}
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F)
			continue;
		/* C1 controls, U+0080..U+009F */
		if (c == 0xC2 && i + 1 < len &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9F) {
			i++;
			continue;
		}
		out[n++] = (char)c;
	}
	return n;
}

void editor_init(struct editor *e, size_t max)
{
	buf_init(&e->text, max);
	e->cursor = 0;
	e->goal_col = -1;
}

void editor_release(struct editor *e)
{
	buf_release(&e->text);
	e->cursor = 0;
	e->goal_col = -1;
}

void editor_clear(struct editor *e)
{
	buf_reset(&e->text);
	if (e->text.data)
		e->text.data[0] = '\0';
	e->cursor = 0;
	e->goal_col = -1;
}

int editor_set(struct editor *e, const char *s, size_t len)
{
	struct editor tmp;
	int rc;

	/* built aside, so that a failure leaves the old text */
	editor_init(&tmp, e->text.max);
	rc = editor_insert(&tmp, s, len);
	if (rc < 0) {
		editor_release(&tmp);
		return rc;
	}
	editor_release(e);
	*e = tmp;
	return 0;
}

int editor_insert(struct editor *e, const char *s, size_t len)
{
	struct buf *b = &e->text;
	char *clean;
	size_t n;
	size_t old = b->len;
	int rc = 0;

	if (len == 0)
		return 0;
	clean = malloc(len);
	if (!clean)
		return CHAT_ENOMEM;
	n = ed_filter(s, len, clean);
	if (n == 0)
		goto out;
	if (n > b->max - b->len) {
		rc = CHAT_ETOOBIG;
		goto out;
	}
	rc = buf_append(b, clean, n);	/* grows; the bytes move below */
	if (rc < 0)
		goto out;
	memmove(b->data + e->cursor + n, b->data + e->cursor,
		old - e->cursor);
	memcpy(b->data + e->cursor, clean, n);
	e->cursor += n;
	e->goal_col = -1;
	ed_snap(e);
out:
	free(clean);
	return rc;
}

void editor_backspace(struct editor *e)
{
	size_t p;

	if (e->cursor == 0)
		return;
	p = width_prev(e->text.data, e->text.len, e->cursor);
	ed_cut(e, p, e->cursor);
	e->cursor = p;
	e->goal_col = -1;
}

void editor_delete(struct editor *e)
{
	size_t end;
	int cols;

	if (e->cursor >= e->text.len)
		return;
	end = ed_next(e->text.data, e->text.len, e->cursor, &cols);
	ed_cut(e, e->cursor, end);
	e->goal_col = -1;
}

void editor_delete_word_back(struct editor *e)
{
	const char *s = e->text.data;
	size_t p = e->cursor;

	/* blanks, then everything up to the previous blank (Ctrl-W in a
	 * shell) */
	while (p > 0 && is_space_at(s, p - 1))
		p--;
	while (p > 0 && !is_space_at(s, p - 1))
		p = width_prev(s, e->text.len, p);
	ed_cut(e, p, e->cursor);
	e->cursor = p;
	e->goal_col = -1;
}

void editor_kill_to_eol(struct editor *e)
{
	const char *nl;
	size_t end;

	if (e->cursor >= e->text.len)
		return;
	nl = memchr(e->text.data + e->cursor, '\n',
		    e->text.len - e->cursor);
	end = nl ? (size_t)(nl - e->text.data) : e->text.len;
	if (end == e->cursor)
		end++;		/* at the end of a line: join the next */
	ed_cut(e, e->cursor, end);
	e->goal_col = -1;
}

void editor_left(struct editor *e)
{
	if (e->cursor > 0)
		e->cursor = width_prev(e->text.data, e->text.len, e->cursor);
	e->goal_col = -1;
}

void editor_right(struct editor *e)
{
	int cols;

	if (e->cursor < e->text.len)
		e->cursor = ed_next(e->text.data, e->text.len, e->cursor,
				    &cols);
	e->goal_col = -1;
}

void editor_word_left(struct editor *e)
{
	const char *s = e->text.data;
	size_t p = e->cursor;
	size_t q;

	while (p > 0) {
		q = width_prev(s, e->text.len, p);
		if (is_word_at(s, q))
			break;
		p = q;
	}
	while (p > 0) {
		q = width_prev(s, e->text.len, p);
		if (!is_word_at(s, q))
			break;
		p = q;
	}
	e->cursor = p;
	e->goal_col = -1;
}

void editor_word_right(struct editor *e)
{
	const char *s = e->text.data;
	size_t len = e->text.len;
	size_t p = e->cursor;
	int cols;

	while (p < len && !is_word_at(s, p))
		p = ed_next(s, len, p, &cols);
	while (p < len && is_word_at(s, p))
		p = ed_next(s, len, p, &cols);
	e->cursor = p;
	e->goal_col = -1;
}

void editor_home(struct editor *e)
{
	while (e->cursor > 0 && e->text.data[e->cursor - 1] != '\n')
		e->cursor--;
	e->goal_col = -1;
}

void editor_end(struct editor *e)
{
	const char *nl;

	if (e->cursor < e->text.len) {
		nl = memchr(e->text.data + e->cursor, '\n',
			    e->text.len - e->cursor);
		e->cursor = nl ? (size_t)(nl - e->text.data) : e->text.len;
	}
	e->goal_col = -1;
}

bool editor_empty(const struct editor *e)
{
	return e->text.len == 0;
}

/* Puts the cursor on row r of v, at the last place whose column is not
 * past the goal.  A row cut inside a word shares its end with the next
 * row's start: that place belongs to the next row, so it is left out. */
static void ed_place(struct editor *e, const struct editor_view *v,
		     size_t r, int goal)
{
	const struct editor_row *row = &v->rows[r];
	const char *s = e->text.data;
	size_t last = row->end;
	size_t p = row->start;
	int col = 0;

	if (r + 1 < v->nrows && v->rows[r + 1].start == row->end &&
	    row->end > row->start)
		last = width_prev(s, e->text.len, row->end);
	while (p < last) {
		int c;
		size_t next = ed_next(s, e->text.len, p, &c);

		if (col + c > goal || next > last)
			break;
		col += c;
		p = next;
	}
	e->cursor = p;
}

static bool ed_vertical(struct editor *e, int width, int dir)
{
	struct editor_view v;
	bool moved = false;

	if (editor_layout(e, width, &v) < 0)
		return false;
	if (e->goal_col < 0)
		e->goal_col = v.cursor_col;
	if (dir < 0 && v.cursor_row > 0) {
		ed_place(e, &v, v.cursor_row - 1, e->goal_col);
		moved = true;
	} else if (dir > 0 && v.cursor_row + 1 < v.nrows) {
		ed_place(e, &v, v.cursor_row + 1, e->goal_col);
		moved = true;
	}
	editor_view_release(&v);
	return moved;
}

bool editor_up(struct editor *e, int width)
{
	return ed_vertical(e, width, -1);
}

bool editor_down(struct editor *e, int width)
{
	return ed_vertical(e, width, 1);
}

static int ed_add_row(struct editor_view *v, size_t *cap, size_t start,
		      size_t end)
{
	if (v->nrows == *cap) {
		size_t ncap = *cap ? *cap * 2 : ROWS_STEP;
		struct editor_row *r = realloc(v->rows, ncap * sizeof(*r));

		if (!r)
			return CHAT_ENOMEM;
		v->rows = r;
		*cap = ncap;
	}
	v->rows[v->nrows].start = start;
	v->rows[v->nrows].end = end;
	v->nrows++;
	return 0;
}

int editor_layout(const struct editor *e, int width, struct editor_view *v)
{
	const char *s = e->text.data ? e->text.data : "";
	size_t len = e->text.len;
	size_t cap = 0;
	size_t start = 0;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	if (width < 1)
		width = 1;
	for (;;) {
		const char *nl = memchr(s + start, '\n', len - start);
		size_t line_end = nl ? (size_t)(nl - s) : len;
		size_t p = start;
		size_t brk = 0;	/* the last space that fits, + 1 */
		int col = 0;

		/* the longest run of clusters that fits */
		while (p < line_end) {
			int c;
			size_t next = ed_next(s, line_end, p, &c);

			if (col + c > width && p > start)
				break;
			if (s[p] == ' ')
				brk = p + 1;
			col += c;
			p = next;
		}
		if (p < line_end && s[p] == ' ')
			brk = p + 1;	/* the space just past the edge */
		if (p >= line_end) {
			rc = ed_add_row(v, &cap, start, line_end);
			if (rc < 0 || !nl)
				break;
			start = line_end + 1;
		} else if (brk > start + 1) {
			rc = ed_add_row(v, &cap, start, brk - 1);
			if (rc < 0)
				break;
			start = brk;
		} else {
			rc = ed_add_row(v, &cap, start, p);
			if (rc < 0)
				break;
			start = p;
		}
	}
	if (rc < 0) {
		editor_view_release(v);
		return rc;
	}
	/* the cursor is on the last row starting at or before it */
	for (size_t r = 0; r < v->nrows; r++) {
		if (v->rows[r].start > e->cursor)
			break;
		v->cursor_row = r;
	}
	v->cursor_col = ed_width(s, v->rows[v->cursor_row].start,
				 e->cursor);
	return 0;
}

void editor_view_release(struct editor_view *v)
{
	free(v->rows);
	v->rows = NULL;
	v->nrows = 0;
	v->cursor_row = 0;
	v->cursor_col = 0;
}
