/*
 * fuzz-markdown.c - libFuzzer target for chatui's Markdown renderer
 * (tui/markdown.c, with tui/highlight.c and shared/width.c under it): the
 * text of a message is whatever a model or another client sent.
 *
 * Input: a byte for the width (0-255; below 10 is taken as 10), a flags
 * byte (bit 0: MD_PLAIN; bit 1: also render a prefix, as a streamed
 * answer is rendered again as it grows), two bytes for the prefix
 * length, then the text.
 *
 * Beyond memory safety and termination (libFuzzer's -timeout), every
 * row keeps markdown.h's promises, those test-tui-markdown.c checks on
 * its cases: no wider than the width and its cols right, spans that
 * cover the text in order without gaps, no control characters, valid
 * UTF-8, a block index that exists; and every block's rows in range.
 */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/markdown.h"
#include "width.h"
#include "buf.h"
#include "utf8.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* as chatui and the unit tests run: widths need a UTF-8 locale */
	if (!setlocale(LC_ALL, "C.UTF-8"))
		abort();
	return 0;
}

static void check_doc(const struct md_doc *d, int width)
{
	struct buf dump;
	size_t i, k, at;

	for (i = 0; i < d->nlines; i++) {
		const struct md_line *l = &d->lines[i];

		FUZZ_CHECK(l->text && strlen(l->text) == l->len);
		FUZZ_CHECK(l->cols >= 0 && l->cols <= width);
		FUZZ_CHECK(l->cols == width_cols(l->text, l->len));
		FUZZ_CHECK(utf8_valid(l->text, l->len));
		for (k = 0, at = 0; k < l->nspans; k++) {
			FUZZ_CHECK(l->spans[k].off == at);
			FUZZ_CHECK(l->spans[k].len > 0);
			FUZZ_CHECK(l->spans[k].kind < MD_K_COUNT);
			at += l->spans[k].len;
		}
		FUZZ_CHECK(at == l->len);
		for (k = 0; k < l->len; k++)
			FUZZ_CHECK((unsigned char)l->text[k] >= 0x20 &&
				   l->text[k] != 0x7f);
		FUZZ_CHECK(l->block >= -1 &&
			   (l->block < 0 || (size_t)l->block < d->nblocks));
	}
	for (i = 0; i < d->nblocks; i++) {
		const struct md_block *b = &d->blocks[i];

		FUZZ_CHECK(b->lang && b->code);
		FUZZ_CHECK(strlen(b->code) <= b->code_len);
		FUZZ_CHECK(b->first_line + b->nlines <= d->nlines);
	}
	buf_init(&dump, (size_t)1 << 30);
	FUZZ_CHECK(md_doc_dump(d, &dump) == 0);
	buf_release(&dump);
}

static void render(const char *s, size_t n, int width, unsigned flags)
{
	struct md_doc d;

	memset(&d, 0, sizeof(d));
	FUZZ_CHECK(md_render(s, n, width, flags, &d) == 0);
	check_doc(&d, width < 10 ? 10 : width);
	md_doc_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	int width = fuzz_byte(&in);
	uint8_t flags = fuzz_byte(&in);
	size_t prefix = fuzz_u16(&in);
	unsigned md = (flags & 1) ? MD_PLAIN : 0;
	const char *s = (const char *)in.p;

	render(s, in.n, width, md);
	if ((flags & 2) && in.n)
		render(s, prefix % in.n, width, md);
	return 0;
}
