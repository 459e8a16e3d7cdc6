/*
 * usage-bar.c - the bars of chatui's usage screen (pane-usage.c) as
 * text, apart from the terminal so that the unit tests can measure them:
 * full blocks and an eighth block for the rest in a UTF-8 locale, '#'
 * otherwise.
 */
#include "pane.h"

#include <string.h>

#include "banned.h"

void usage_bar(long long value, long long max, int cols, bool utf8,
	       char *out, size_t outlen)
{
	long long cells;
	size_t n = 0;
	int i;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (value <= 0 || max <= 0 || cols <= 0)
		return;
	if (value > max)
		value = max;
	if (!utf8) {
		cells = (value * cols + max / 2) / max;
		if (cells < 1)
			cells = 1;
		for (i = 0; i < cells && n + 1 < outlen; i++)
			out[n++] = '#';
		out[n] = '\0';
		return;
	}
	/* in eighths of a cell: U+2588 a full one, U+2589..U+258F seven
	 * eighths down to one */
	cells = value * cols * 8 / max;
	if (cells < 1)
		cells = 1;
	for (i = 0; i < cells / 8 && n + 4 < outlen; i++) {
		memcpy(out + n, "\xe2\x96\x88", 3);
		n += 3;
	}
	if (cells % 8 && n + 4 < outlen) {
		out[n++] = '\xe2';
		out[n++] = '\x96';
		out[n++] = (char)(0x90 - cells % 8);
	}
	out[n] = '\0';
}
