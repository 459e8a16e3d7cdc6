/*
 * md-wrap.c - the wrapping stage of chatui's Markdown renderer: the
 * styled text of a block (dt and its pieces, from md-inlines.c) is laid
 * into lines of a width, then written as rows under the containers'
 * prefixes.
 *
 * Words are placed greedily by display width (shared/width.h); a word
 * longer than the line is cut between clusters; '\n' (a kept line
 * break) ends a line.  A code line is cut at its frame instead, never
 * reflowed.  Wrapping is apart from the inline stage so that one block
 * can be wrapped at several widths (a table's cells, each at its
 * column's) and plain text skips Markdown yet wraps the same way
 * (md-internal.h).
 */
#include "md-internal.h"

#include <stdbool.h>

#include "width.h"
#include "banned.h"

struct wrap_state {
	size_t pi;		/* the piece the next segment starts in */
	int width;
};

static void wl_new(struct md_ctx *c)
{
	if (!MD_GROW(c, c->wl, c->wl_cap, c->nwl + 1))
		return;
	c->wl[c->nwl++] = (struct md_wline){ .seg = (uint32_t)c->nsegs };
}

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
		if (!MD_GROW(c, c->segs, c->segs_cap, c->nsegs + 1))
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

/* ---- public ---------------------------------------------------------- */

void md_wrap_text(struct md_ctx *c, size_t a, size_t b, size_t pfrom,
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

void md_wrap_emit(struct md_ctx *c, size_t from, size_t to)
{
	for (size_t i = from; i < to && c->rc == 0; i++) {
		struct md_wline *l = &c->wl[i];

		md_row_begin(c, false);
		for (uint32_t k = 0; k < l->nseg; k++) {
			struct md_piece *g = &c->segs[l->seg + k];

			md_row_add(c, c->dt.data + g->off, g->len, g->kind,
				   g->attrs, g->level);
		}
		md_row_end(c);
	}
}

void md_wrap_code(struct md_ctx *c, int inner)
{
	const char *s = c->ib.data ? c->ib.data : "";
	size_t len = c->ib.len;
	size_t pos = 0;
	size_t ti = 0;
	bool first = true;

	if (c->rc < 0)
		return;
	do {
		int room = first ? inner : inner - 2;
		int used;
		size_t fit = width_fit(s + pos, len - pos, room, &used);
		size_t end;

		if (fit == 0 && pos < len)
			fit = width_next(s, len, pos, &used) - pos;
		end = pos + fit;
		md_row_begin(c, false);
		md_row_add(c, "\xE2\x94\x82 ", 4, MD_K_CODE_FRAME, 0, 0);
		if (!first)
			md_row_add(c, "\xE2\x86\xAA ", 4, MD_K_CODE_CONT, 0, 0);
		while (pos < end && ti < c->npieces) {
			struct md_piece *t = &c->pieces[ti];
			size_t te = t->off + t->len;
			size_t e = te < end ? te : end;

			md_row_add(c, s + pos, e - pos, t->kind, 0, 0);
			pos = e;
			if (pos >= te)
				ti++;
		}
		pos = end;
		for (int k = used; k < room; k++)
			md_row_add(c, " ", 1, MD_K_CODE, 0, 0);
		md_row_add(c, " \xE2\x94\x82", 4, MD_K_CODE_FRAME, 0, 0);
		md_row_end(c);
		first = false;
	} while (pos < len && c->rc == 0);
}
