/*
 * out.c - what chatctl writes for people: aligned tables measured in
 * terminal columns by shared/width.c (the measure chatui uses too: a ZWJ
 * family or a flag is 2 columns in both), answers filtered of terminal
 * control codes, JSON, local times.
 *
 * Server text (titles, answers) is untrusted: a model or another client
 * could put escape sequences in it.  Table cells get every control
 * character replaced by a space; answers written to a terminal lose
 * their C0 controls but tab and newline.  Pipes get the bytes unchanged.
 *
 * The output conventions (chatctl.h explains their use): --output
 * table|tsv|json (--json is json), --color never|always|auto with
 * NO_COLOR (https://no-color.org) turning auto off, and a table taller
 * than the terminal written through $PAGER (default `less -FRX`; an
 * empty PAGER means none), never when stdout is not a terminal.
 */
#include "chatctl.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "utf8.h"
#include "width.h"
#include "banned.h"

#define OUT_ELLIPSIS "\xe2\x80\xa6"	/* U+2026, one column */
#define OUT_REPLACEMENT "\xef\xbf\xbd"	/* U+FFFD for broken UTF-8 */
#define OUT_COL_GAP 2
#define OUT_TABLE_MAX (16u * 1024 * 1024)
#define OUT_BOLD "\033[1m"
#define OUT_RESET "\033[0m"
#define OUT_DEFAULT_PAGER "less -FRX"

/* --output's and --color's values, in the order of their enums. */
static const char *const out_formats[] = { "table", "tsv", "json" };
enum out_color { OUT_COLOR_AUTO, OUT_COLOR_NEVER, OUT_COLOR_ALWAYS };
static const struct {
	const char *name;
	enum out_color when;
} out_colors[] = {
	{ "auto", OUT_COLOR_AUTO },
	{ "never", OUT_COLOR_NEVER },
	{ "always", OUT_COLOR_ALWAYS },
};

/* Appends the len bytes at s as a table shows them: every control
 * character (C0, DEL, C1) a space, every invalid byte U+FFFD, decoded
 * by utf8_decode as everything else decodes. */
static int out_clean(struct buf *out, const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;
	int rc = 0;

	while (i < len && rc == 0) {
		k = utf8_decode(s + i, len - i, &cp);
		if (k == 0)
			rc = buf_puts(out, OUT_REPLACEMENT);
		else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			rc = buf_append(out, " ", 1);
		else
			rc = buf_append(out, s + i, k);
		i += k ? k : 1;
	}
	return rc;
}

/* Appends the clean text s (len bytes) to out cut to at most maxw
 * columns, on a cluster boundary, with a trailing ellipsis when cut. */
static int out_fit(struct buf *out, const char *s, size_t len, size_t maxw)
{
	int cols = width_cols(s, len), room;
	size_t fit;
	int rc;

	if ((size_t)cols <= maxw)
		return buf_append(out, s, len);
	if (maxw == 0)
		return 0;
	room = maxw - 1 > INT_MAX ? INT_MAX : (int)(maxw - 1);
	fit = width_fit(s, len, room, NULL);
	rc = buf_append(out, s, fit);
	if (rc == 0)
		rc = buf_puts(out, OUT_ELLIPSIS);
	return rc;
}

static int out_write_error(void)
{
	if (errno != EPIPE)
		cli_error("cannot write to standard output: %s",
			  strerror(errno));
	return CLI_SERVER;
}

int out_text(struct cli_ctx *ctx, const char *s, size_t len)
{
	size_t i, start = 0;

	if (!ctx->stdout_tty) {
		if (len && fwrite(s, 1, len, stdout) != len)
			return out_write_error();
	} else {
		for (i = 0; i <= len; i++) {
			unsigned char c = i < len ? (unsigned char)s[i] : 0;

			if (i < len && (c >= 0x20 || c == '\n' || c == '\t') &&
			    c != 0x7f)
				continue;
			if (i > start &&
			    fwrite(s + start, 1, i - start, stdout) !=
				    i - start)
				return out_write_error();
			start = i + 1;
		}
	}
	if (fflush(stdout) != 0)
		return out_write_error();
	return CLI_OK;
}

int out_json(struct cli_ctx *ctx, const cJSON *v)
{
	char *text = ctx->stdout_tty ? cJSON_Print(v) :
				       cJSON_PrintUnformatted(v);
	int rc = CLI_OK;

	if (!text) {
		cli_error("out of memory");
		return CLI_SERVER;
	}
	if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = out_write_error();
	cJSON_free(text);
	return rc;
}

void out_time(const char *rfc3339, char *out, size_t outlen)
{
	struct tm tm, local;
	time_t t;
	char tail[16];

	memset(&tm, 0, sizeof(tm));
	if (!rfc3339 ||
	    sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d%15s", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, tail) != 7 ||
	    tail[strlen(tail) - 1] != 'Z') {
		snprintf(out, outlen, "%s", rfc3339 ? rfc3339 : "-");
		return;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1 || !localtime_r(&t, &local) ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M", &local) == 0)
		snprintf(out, outlen, "%s", rfc3339);
}

int out_columns(struct cli_ctx *ctx)
{
	struct winsize ws;

	if (!ctx->stdout_tty)
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* ---- conventions ---- */

int out_setup(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *fmt = a->val[OPT_OUTPUT], *color = a->val[OPT_COLOR];
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
	enum out_color when = OUT_COLOR_AUTO;
	size_t i;

	ctx->out_format = OUT_TABLE;
	if (fmt) {
		for (i = 0; i < sizeof(out_formats) / sizeof(out_formats[0]);
		     i++)
			if (strcmp(fmt, out_formats[i]) == 0)
				break;
		if (i == sizeof(out_formats) / sizeof(out_formats[0])) {
			cli_error("'--output' must be table, tsv or json, not "
				  "'%s'", fmt);
			return CLI_USAGE;
		}
		ctx->out_format = (int)i;
	}
	if (a->count[OPT_JSON]) {
		if (fmt && ctx->out_format != OUT_JSON) {
			cli_error("'--json' and '--output %s' disagree", fmt);
			return CLI_USAGE;
		}
		ctx->out_format = OUT_JSON;
	}
	if (color) {
		for (i = 0; i < sizeof(out_colors) / sizeof(out_colors[0]);
		     i++)
			if (strcmp(color, out_colors[i].name) == 0)
				break;
		if (i == sizeof(out_colors) / sizeof(out_colors[0])) {
			cli_error("'--color' must be never, always or auto, "
				  "not '%s'", color);
			return CLI_USAGE;
		}
		when = out_colors[i].when;
	}
	/* an explicit --color wins over NO_COLOR, as no-color.org asks */
	if (when == OUT_COLOR_AUTO)
		ctx->color = ctx->stdout_tty && !(no_color && no_color[0]) &&
			     !(term && strcmp(term, "dumb") == 0);
	else
		ctx->color = when == OUT_COLOR_ALWAYS;
	return CLI_OK;
}

bool out_is_json(const struct cli_ctx *ctx)
{
	return ctx->out_format == OUT_JSON;
}

/* Terminal height of stdout, 0 when unknown. */
static int out_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		return ws.ws_row;
	return 0;
}

/* Writes the len bytes of a finished table: through the pager when
 * stdout is a terminal and the table has more lines than it, else
 * straight to stdout.  A pager quit early (EPIPE) is no error. */
static int out_emit(struct cli_ctx *ctx, const char *s, size_t len,
		    size_t nlines)
{
	const char *pager = getenv("PAGER");
	int rows = ctx->stdout_tty ? out_rows() : 0, rc = CLI_OK, st;
	FILE *p;

	if (!pager)
		pager = OUT_DEFAULT_PAGER;
	if (rows <= 0 || nlines < (size_t)rows || !pager[0] ||
	    strcmp(pager, "cat") == 0) {
		if (len && fwrite(s, 1, len, stdout) != len)
			return out_write_error();
		return CLI_OK;
	}
	fflush(stdout);
	p = popen(pager, "w");
	if (!p) {
		cli_warn("cannot start the pager '%s': %s", pager,
			 strerror(errno));
		if (len && fwrite(s, 1, len, stdout) != len)
			return out_write_error();
		return CLI_OK;
	}
	if (len && fwrite(s, 1, len, p) != len && errno != EPIPE) {
		cli_error("cannot write to the pager: %s", strerror(errno));
		rc = CLI_SERVER;
	}
	st = pclose(p);
	if (st == -1 && rc == CLI_OK) {
		cli_error("the pager '%s' failed", pager);
		rc = CLI_SERVER;
	}
	return rc;
}

/* ---- tables ---- */

void table_init(struct table *t, int ncols)
{
	t->ncols = ncols;
	t->ncells = 0;
	buf_init(&t->cells, OUT_TABLE_MAX);
}

void table_release(struct table *t)
{
	buf_release(&t->cells);
}

int table_add(struct table *t, const char *const *cells)
{
	int i, rc = 0;

	for (i = 0; i < t->ncols && rc == 0; i++) {
		const char *c = cells[i] ? cells[i] : "";

		rc = out_clean(&t->cells, c, strlen(c));
		if (rc == 0)
			rc = buf_append(&t->cells, "", 1);
		t->ncells++;
	}
	return rc;
}

/* Appends the rows but the heading as tab-separated lines, uncut. */
static int table_tsv(const struct table *t, struct buf *all, size_t *lines)
{
	size_t off = 0, i;
	const char *cell;
	int c, rc = 0;

	for (i = 0; i < t->ncells && rc == 0; i++) {
		c = (int)(i % (size_t)t->ncols);
		cell = t->cells.data + off;
		off += strlen(cell) + 1;
		if (i < (size_t)t->ncols)
			continue;	/* the heading */
		rc = buf_puts(all, cell);
		if (rc == 0)
			rc = buf_append(all, c == t->ncols - 1 ? "\n" : "\t",
					1);
		if (c == t->ncols - 1)
			(*lines)++;
	}
	return rc;
}

/* Appends the aligned table, heading first (bold when color). */
static int table_aligned(struct cli_ctx *ctx, const struct table *t,
			 size_t last_max, struct buf *all, size_t *lines)
{
	size_t widths[16] = { 0 }, w, used = 0, off, i, last;
	const char *cell;
	int c, cols = out_columns(ctx), rc = 0;

	for (off = 0, i = 0; i < t->ncells; i++) {
		cell = t->cells.data + off;
		w = (size_t)width_cols(cell, strlen(cell));
		if (w > widths[i % (size_t)t->ncols])
			widths[i % (size_t)t->ncols] = w;
		off += strlen(cell) + 1;
	}
	for (c = 0; c < t->ncols - 1; c++)
		used += widths[c] + OUT_COL_GAP;
	last = last_max;
	if (cols > 0)
		last = (size_t)cols > used + 10 ? (size_t)cols - used - 1 : 10;
	for (off = 0, i = 0; i < t->ncells && rc == 0; i++) {
		c = (int)(i % (size_t)t->ncols);
		cell = t->cells.data + off;
		off += strlen(cell) + 1;
		if (i == 0 && ctx->color)
			rc = buf_puts(all, OUT_BOLD);
		if (rc == 0 && c == t->ncols - 1) {
			rc = out_fit(all, cell, strlen(cell),
				     last ? last : SIZE_MAX);
			if (rc == 0 && i < (size_t)t->ncols && ctx->color)
				rc = buf_puts(all, OUT_RESET);
			if (rc == 0)
				rc = buf_append(all, "\n", 1);
			(*lines)++;
			continue;
		}
		if (rc == 0)
			rc = buf_puts(all, cell);
		for (w = (size_t)width_cols(cell, strlen(cell)); rc == 0 &&
		     w < widths[c] + OUT_COL_GAP; w++)
			rc = buf_append(all, " ", 1);
	}
	return rc;
}

int table_print(struct cli_ctx *ctx, const struct table *t, size_t last_max)
{
	struct buf all;
	size_t lines = 0;
	int rc;

	if (t->ncols < 1 || t->ncols > 16)
		return CLI_SERVER;
	buf_init(&all, OUT_TABLE_MAX);
	if (ctx->out_format == OUT_TSV)
		rc = table_tsv(t, &all, &lines);
	else
		rc = table_aligned(ctx, t, last_max, &all, &lines);
	if (rc < 0) {
		cli_error("%s", chat_strerror(rc));
		rc = CLI_SERVER;
	} else {
		rc = out_emit(ctx, all.data ? all.data : "", all.len, lines);
	}
	buf_release(&all);
	if (rc == CLI_OK && fflush(stdout) != 0)
		rc = out_write_error();
	return rc;
}

int out_list(struct cli_ctx *ctx, const cJSON *list, bool json,
	     const char *const *head, int ncols, out_row_fn row,
	     size_t last_max)
{
	const cJSON *data, *item;
	struct table t;
	int rc;

	if (json || out_is_json(ctx))
		return out_json(ctx, list);
	table_init(&t, ncols);
	rc = table_add(&t, head) < 0 ? CLI_SERVER : CLI_OK;
	data = cJSON_GetObjectItemCaseSensitive(list, "data");
	cJSON_ArrayForEach(item, data) {
		if (rc == CLI_OK && row(&t, item) < 0)
			rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		rc = table_print(ctx, &t, last_max);
	else
		cli_error("out of memory");
	table_release(&t);
	return rc;
}
