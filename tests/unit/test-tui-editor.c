/* test-tui-editor.c - the input box (tui/editor.c): edits by grapheme
 * cluster, word moves, the layout's rows, up/down with a goal column,
 * pasting, and the ceiling. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/editor.h"
#include "err.h"

#define S(s) s, sizeof(s) - 1

#define CJK "\xE4\xB8\xAD"			/* 中, 2 columns */
#define E_ACUTE "e\xCC\x81"			/* e + combining acute */
#define THUMB "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"	/* 👍🏽 */
#define FLAG "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA"		/* 🇩🇪 */
#define MAN "\xF0\x9F\x91\xA8"
#define WOMAN "\xF0\x9F\x91\xA9"
#define ZWJ "\xE2\x80\x8D"

static void expect_text(const struct editor *e, const char *want)
{
	const char *have = e->text.data ? e->text.data : "";

	if (e->text.len != strlen(want) || memcmp(have, want, e->text.len))
		fail_msg("text '%.*s', want '%s'", (int)e->text.len, have,
			 want);
}

/* Rows as "start-end," for one comparison. */
static void expect_rows(const struct editor *e, int width, const char *want,
			size_t crow, int ccol)
{
	struct editor_view v;
	char got[512] = "";
	size_t n = 0;

	assert_int_equal(editor_layout(e, width, &v), 0);
	for (size_t r = 0; r < v.nrows; r++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%zu-%zu,",
				      v.rows[r].start, v.rows[r].end);
	if (strcmp(got, want) != 0)
		fail_msg("width %d: rows %s, want %s", width, got, want);
	if (v.cursor_row != crow || v.cursor_col != ccol)
		fail_msg("width %d: cursor %zu:%d, want %zu:%d", width,
			 v.cursor_row, v.cursor_col, crow, ccol);
	editor_view_release(&v);
}

static void test_editor__clusters(void **state)
{
	struct editor e;

	(void)state;
	editor_init(&e, 1024);
	assert_true(editor_empty(&e));
	assert_int_equal(editor_insert(&e, S("a" CJK E_ACUTE THUMB "b")), 0);
	assert_int_equal(e.cursor, e.text.len);
	editor_backspace(&e);
	expect_text(&e, "a" CJK E_ACUTE THUMB);
	editor_backspace(&e);		/* the whole skin-toned emoji */
	expect_text(&e, "a" CJK E_ACUTE);
	editor_left(&e);		/* over e + accent at once */
	assert_int_equal(e.cursor, 4);
	editor_left(&e);
	assert_int_equal(e.cursor, 1);
	editor_right(&e);
	assert_int_equal(e.cursor, 4);
	editor_delete(&e);		/* e with its accent */
	expect_text(&e, "a" CJK);
	assert_int_equal(editor_insert(&e, S(FLAG)), 0);
	assert_int_equal(e.cursor, 12);
	editor_home(&e);
	editor_delete(&e);
	editor_delete(&e);
	expect_text(&e, FLAG);
	editor_delete(&e);		/* both regional indicators */
	expect_text(&e, "");
	editor_delete(&e);
	editor_backspace(&e);
	assert_true(editor_empty(&e));

	/* a mark typed after a letter joins it; the cursor stays after */
	assert_int_equal(editor_insert(&e, S("e")), 0);
	assert_int_equal(editor_insert(&e, S("\xCC\x81")), 0);
	assert_int_equal(e.cursor, 3);
	editor_left(&e);
	assert_int_equal(e.cursor, 0);
	editor_release(&e);
}

/* A ZWJ typed between two emoji joins them: the cursor moves past the
 * new cluster rather than sit inside it. */
static void test_editor__zwj_snap(void **state)
{
	struct editor e;

	(void)state;
	editor_init(&e, 64);
	assert_int_equal(editor_insert(&e, S(MAN WOMAN)), 0);
	editor_left(&e);
	assert_int_equal(e.cursor, 4);
	assert_int_equal(editor_insert(&e, S(ZWJ)), 0);
	expect_text(&e, MAN ZWJ WOMAN);
	assert_int_equal(e.cursor, 11);
	editor_backspace(&e);
	expect_text(&e, "");
	editor_release(&e);
}

/* Byte-wise typing of a multibyte character ends on a boundary. */
static void test_editor__bytewise_input(void **state)
{
	struct editor e;

	(void)state;
	editor_init(&e, 64);
	assert_int_equal(editor_insert(&e, S("x")), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(editor_insert(&e, CJK + i, 1), 0);
	expect_text(&e, "x" CJK);
	assert_int_equal(e.cursor, 4);
	editor_left(&e);
	assert_int_equal(e.cursor, 1);
	editor_release(&e);
}

static void test_editor__paste_filter(void **state)
{
	struct editor e;
	char big[4000];
	size_t n = 0;
	struct editor_view v;

	(void)state;
	editor_init(&e, 1 << 16);
	assert_int_equal(editor_insert(&e,
		S("a\r\nb\rc\x01\x1b[0m\td\xC2\x85" "e\x7F\n")), 0);
	expect_text(&e, "a\nb\nc[0m\tde\n");
	assert_int_equal(e.cursor, e.text.len);
	/* controls only: nothing, no error */
	assert_int_equal(editor_insert(&e, S("\x01\x02")), 0);
	expect_text(&e, "a\nb\nc[0m\tde\n");

	/* a pasted block of 500 CRLF lines, in one call */
	editor_clear(&e);
	for (int i = 0; i < 500; i++) {
		memcpy(big + n, "xyz\r\n", 5);
		n += 5;
	}
	assert_int_equal(editor_insert(&e, big, n), 0);
	assert_int_equal(e.text.len, 2000);
	assert_int_equal(editor_layout(&e, 80, &v), 0);
	assert_int_equal(v.nrows, 501);
	assert_int_equal(v.cursor_row, 500);
	editor_view_release(&v);
	editor_release(&e);
}

static void test_editor__ceiling(void **state)
{
	struct editor e;

	(void)state;
	editor_init(&e, 10);
	assert_int_equal(editor_insert(&e, S("12345678")), 0);
	assert_int_equal(editor_insert(&e, S("abc")), CHAT_ETOOBIG);
	expect_text(&e, "12345678");
	assert_int_equal(e.cursor, 8);
	/* four bytes that filter down to two fit */
	assert_int_equal(editor_insert(&e, S("\r\n\r\n")), 0);
	expect_text(&e, "12345678\n\n");
	assert_int_equal(editor_insert(&e, S("x")), CHAT_ETOOBIG);
	/* a failed set keeps the old text */
	assert_int_equal(editor_set(&e, S("0123456789X")), CHAT_ETOOBIG);
	expect_text(&e, "12345678\n\n");
	assert_int_equal(editor_set(&e, S("hi\r\nthere")), 0);
	expect_text(&e, "hi\nthere");
	assert_int_equal(e.cursor, 8);
	assert_int_equal(e.text.max, 10);
	editor_release(&e);
}

static void test_editor__words(void **state)
{
	struct editor e;
	const char *t = "hello, w\xC3\xB6rld  foo_bar " CJK CJK;

	(void)state;
	editor_init(&e, 256);
	assert_int_equal(editor_set(&e, t, strlen(t)), 0);
	e.cursor = 0;
	editor_word_right(&e);
	assert_int_equal(e.cursor, 5);
	editor_word_right(&e);
	assert_int_equal(e.cursor, 13);
	editor_word_right(&e);
	assert_int_equal(e.cursor, 22);
	editor_word_right(&e);
	assert_int_equal(e.cursor, 29);
	editor_word_right(&e);
	assert_int_equal(e.cursor, 29);
	editor_word_left(&e);
	assert_int_equal(e.cursor, 23);
	editor_word_left(&e);
	assert_int_equal(e.cursor, 15);
	editor_word_left(&e);
	assert_int_equal(e.cursor, 7);
	editor_word_left(&e);
	assert_int_equal(e.cursor, 0);

	/* Ctrl-W: blanks, then the word before them */
	editor_end(&e);
	editor_delete_word_back(&e);
	expect_text(&e, "hello, w\xC3\xB6rld  foo_bar ");
	editor_delete_word_back(&e);
	expect_text(&e, "hello, w\xC3\xB6rld  ");
	editor_delete_word_back(&e);
	expect_text(&e, "hello, ");
	editor_delete_word_back(&e);
	expect_text(&e, "");
	editor_release(&e);
}

static void test_editor__lines(void **state)
{
	struct editor e;

	(void)state;
	editor_init(&e, 256);
	assert_int_equal(editor_set(&e, S("ab\ncd\nef")), 0);
	e.cursor = 4;
	editor_home(&e);
	assert_int_equal(e.cursor, 3);
	editor_end(&e);
	assert_int_equal(e.cursor, 5);
	editor_home(&e);
	editor_kill_to_eol(&e);
	expect_text(&e, "ab\n\nef");
	editor_kill_to_eol(&e);		/* at the end of a line: join */
	expect_text(&e, "ab\nef");
	e.cursor = 0;
	editor_end(&e);
	assert_int_equal(e.cursor, 2);
	e.cursor = 5;
	editor_kill_to_eol(&e);
	expect_text(&e, "ab\nef");
	editor_release(&e);
}

static void test_editor__layout(void **state)
{
	struct editor e;

	(void)state;
	editor_init(&e, 256);
	expect_rows(&e, 10, "0-0,", 0, 0);
	assert_int_equal(editor_set(&e, S("hello world foo")), 0);
	expect_rows(&e, 11, "0-11,12-15,", 1, 3);
	expect_rows(&e, 8, "0-5,6-11,12-15,", 2, 3);
	expect_rows(&e, 80, "0-15,", 0, 15);
	e.cursor = 5;			/* before the space of the break */
	expect_rows(&e, 8, "0-5,6-11,12-15,", 0, 5);
	e.cursor = 6;
	expect_rows(&e, 8, "0-5,6-11,12-15,", 1, 0);

	/* a word longer than the row is cut between clusters */
	assert_int_equal(editor_set(&e, S("abcdefghij")), 0);
	expect_rows(&e, 4, "0-4,4-8,8-10,", 2, 2);
	/* wide characters never straddle the edge */
	assert_int_equal(editor_set(&e, S(CJK CJK CJK)), 0);
	expect_rows(&e, 5, "0-6,6-9,", 1, 2);
	expect_rows(&e, 1, "0-3,3-6,6-9,", 2, 2);
	/* e + accent is one column */
	assert_int_equal(editor_set(&e, S(E_ACUTE E_ACUTE E_ACUTE "x")), 0);
	expect_rows(&e, 3, "0-9,9-10,", 1, 1);
	/* hard breaks, an empty line, a trailing newline */
	assert_int_equal(editor_set(&e, S("ab\n\ncd\n")), 0);
	expect_rows(&e, 10, "0-2,3-3,4-6,7-7,", 3, 0);
	e.cursor = 2;
	expect_rows(&e, 10, "0-2,3-3,4-6,7-7,", 0, 2);
	/* a tab is a column */
	assert_int_equal(editor_set(&e, S("\tab")), 0);
	expect_rows(&e, 10, "0-3,", 0, 3);
	editor_release(&e);
}

static void test_editor__up_down(void **state)
{
	struct editor e;
	const char *t = "0123456789 abc\nxy\nlonglineofwords here";

	(void)state;
	editor_init(&e, 256);
	assert_int_equal(editor_set(&e, t, strlen(t)), 0);
	expect_rows(&e, 10, "0-10,11-14,15-17,18-28,28-38,", 4, 10);
	e.cursor = 8;
	assert_false(editor_up(&e, 10));
	assert_true(editor_down(&e, 10));
	assert_int_equal(e.cursor, 14);		/* "abc" is shorter */
	assert_true(editor_down(&e, 10));
	assert_int_equal(e.cursor, 17);
	assert_true(editor_down(&e, 10));	/* the goal column 8 again */
	assert_int_equal(e.cursor, 26);
	assert_true(editor_down(&e, 10));
	assert_int_equal(e.cursor, 36);
	assert_false(editor_down(&e, 10));
	assert_int_equal(e.cursor, 36);
	assert_true(editor_up(&e, 10));
	assert_int_equal(e.cursor, 26);
	assert_true(editor_up(&e, 10));
	assert_true(editor_up(&e, 10));
	assert_true(editor_up(&e, 10));
	assert_int_equal(e.cursor, 8);
	/* a sideways move forgets the goal */
	editor_left(&e);
	assert_int_equal(e.goal_col, -1);

	/* from the end: the row cut inside a word ends one cluster early,
	 * its end being the next row's start */
	e.cursor = e.text.len;
	assert_true(editor_up(&e, 10));
	assert_int_equal(e.cursor, 27);

	/* wide characters: the column left of the goal */
	assert_int_equal(editor_set(&e, S("abcde\n" CJK CJK CJK)), 0);
	e.cursor = 3;
	assert_true(editor_down(&e, 10));
	assert_int_equal(e.cursor, 6 + 3);	/* column 2, not 4 */
	assert_true(editor_up(&e, 10));
	assert_int_equal(e.cursor, 3);		/* the goal was kept */
	editor_release(&e);
}

static int setup(void **state)
{
	(void)state;
	return setlocale(LC_ALL, "C.UTF-8") ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_editor__clusters),
		cmocka_unit_test(test_editor__zwj_snap),
		cmocka_unit_test(test_editor__bytewise_input),
		cmocka_unit_test(test_editor__paste_filter),
		cmocka_unit_test(test_editor__ceiling),
		cmocka_unit_test(test_editor__words),
		cmocka_unit_test(test_editor__lines),
		cmocka_unit_test(test_editor__layout),
		cmocka_unit_test(test_editor__up_down),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
