/* test-cli-out.c - chatctl's tables (cli/out.c): columns aligned by the
 * display width chatui uses (shared/width.c, the strings of
 * width-agree.h), cells shown without control characters, the last
 * column cut on a cluster boundary with an ellipsis. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/chatctl.h"
#include "cli-main-stub.h"
#include "width-agree.h"

#define FAMILY "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D" \
	       "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6"
#define ELLIPSIS "\xE2\x80\xA6"

/* table_print's output for t (stdout no terminal, so last_max rules),
 * read back from a temporary file; the caller frees it. */
static char *print_table(const struct table *t, size_t last_max)
{
	struct cli_ctx ctx;
	char path[] = "/tmp/test-cli-out.XXXXXX";
	int fd = mkstemp(path), saved;
	char *text = calloc(1, 65536);
	ssize_t n;

	assert_true(fd >= 0 && text);
	unlink(path);
	memset(&ctx, 0, sizeof(ctx));
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	assert_int_equal(table_print(&ctx, t, last_max), CLI_OK);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = pread(fd, text, 65535, 0);
	assert_true(n >= 0);
	close(fd);
	return text;
}

/* The column after each string starts where its width says: the heading
 * puts B two columns past the widest cell, the row pads the string with
 * what its width leaves of that. */
static void test_cli_out__width_agrees_with_chatui(void **state)
{
	(void)state;
	for (size_t i = 0; i < WIDTH_AGREE_N; i++) {
		const struct width_agree *c = &width_agree_cases[i];
		const char *head[] = { "A", "B" };
		const char *row[] = { c->s, "B" };
		int w0 = c->cols > 1 ? c->cols : 1;
		struct table t;
		char *out, *nl, *b;
		size_t pad = 0;

		table_init(&t, 2);
		assert_int_equal(table_add(&t, head), 0);
		assert_int_equal(table_add(&t, row), 0);
		out = print_table(&t, 60);
		table_release(&t);
		nl = strchr(out, '\n');
		assert_non_null(nl);
		if (strchr(out, 'B') - out != w0 + 2)
			fail_msg("%s: heading '%.*s', want B at column %d",
				 c->name, (int)(nl - out), out, w0 + 2);
		b = strrchr(nl + 1, 'B');
		assert_non_null(b);
		while (b - pad > nl + 1 && b[-1 - (ptrdiff_t)pad] == ' ')
			pad++;
		/* a cell ending in spaces (a tab shown as one) is no case */
		if ((int)pad != w0 + 2 - c->cols)
			fail_msg("%s: row '%s' padded by %zu, want %d", c->name,
				 nl + 1, pad, w0 + 2 - c->cols);
		free(out);
	}
}

/* The last column is cut to last_max columns on a cluster boundary:
 * three families (6 columns) in 5 are two families and an ellipsis;
 * two and a letter (5) fit whole. */
static void test_cli_out__cut_last_column(void **state)
{
	const char *head[] = { "T" };
	const char *row[] = { FAMILY FAMILY FAMILY };
	const char *fits[] = { FAMILY FAMILY "a" };
	struct table t;
	char *out;

	(void)state;
	table_init(&t, 1);
	assert_int_equal(table_add(&t, head), 0);
	assert_int_equal(table_add(&t, row), 0);
	assert_int_equal(table_add(&t, fits), 0);
	out = print_table(&t, 5);
	table_release(&t);
	assert_string_equal(out, "T\n" FAMILY FAMILY ELLIPSIS "\n"
			    FAMILY FAMILY "a\n");
	free(out);
}

/* Control characters show as spaces and invalid bytes as U+FFFD, so a
 * title cannot drive the terminal; the widths are of what shows. */
static void test_cli_out__cells_cleaned(void **state)
{
	const char *head[] = { "X", "Y" };
	const char *row[] = { "a\x1b[2J\x7f" "b", "\xC2\x9B" "c\xC0" };
	struct table t;
	char *out;

	(void)state;
	table_init(&t, 2);
	assert_int_equal(table_add(&t, head), 0);
	assert_int_equal(table_add(&t, row), 0);
	out = print_table(&t, 60);
	table_release(&t);
	assert_string_equal(out, "X        Y\n"
			    "a [2J b   c\xEF\xBF\xBD\n");
	free(out);
}

static int setup(void **state)
{
	(void)state;
	return setlocale(LC_ALL, "C.UTF-8") ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_out__width_agrees_with_chatui),
		cmocka_unit_test(test_cli_out__cut_last_column),
		cmocka_unit_test(test_cli_out__cells_cleaned),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
