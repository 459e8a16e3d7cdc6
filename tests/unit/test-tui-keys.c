/* test-tui-keys.c - chatui's key table (tui/keys.c) and action table
 * (tui/actions.c), fuzzy match, OSC 52 encoding (tui/osc52.c) and the
 * reconnect backoff (tui/ws.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "../../tui/chatui.h"

/* from tui/app.h, which needs the whole UI */
bool actions_defined(enum action act);

static void test_tui_keys__lookup(void **state)
{
	static const struct {
		int key;
		unsigned focus;
		bool empty;
		enum action act;
	} cases[] = {
		{ KEY_F(1), FOCUS_INPUT, false, ACT_HELP },
		{ '?', FOCUS_INPUT, true, ACT_HELP },
		{ '?', FOCUS_INPUT, false, ACT_NONE },	/* typed text */
		{ '?', FOCUS_MSGS, false, ACT_HELP },
		{ 16, FOCUS_LIST, false, ACT_PALETTE },	/* Ctrl-P */
		{ 27, FOCUS_INPUT, false, ACT_STOP },
		{ '\r', FOCUS_INPUT, false, ACT_SEND },
		{ '\r', FOCUS_LIST, false, ACT_NONE },
		{ '\n', FOCUS_INPUT, false, ACT_NEWLINE },
		{ 5, FOCUS_INPUT, true, ACT_EDIT },	/* Ctrl-E */
		{ 5, FOCUS_INPUT, false, ACT_NONE },
		{ 'e', FOCUS_MSGS, false, ACT_EDIT },
		{ 'e', FOCUS_INPUT, true, ACT_NONE },
		{ KEY_LEFT, FOCUS_MSGS, false, ACT_BRANCH_PREV },
		{ KEY_LEFT, FOCUS_INPUT, false, ACT_NONE },
		{ KEY_HOME, FOCUS_INPUT, true, ACT_TOP },
		{ KEY_HOME, FOCUS_INPUT, false, ACT_NONE },
		{ KEY_PPAGE, FOCUS_LIST, false, ACT_SCROLL_UP },
		{ 'x', FOCUS_INPUT, true, ACT_NONE },
		{ 20, FOCUS_INPUT, false, ACT_USAGE },	/* Ctrl-T */
		{ 20, FOCUS_LIST, false, ACT_USAGE },
		{ 7, FOCUS_INPUT, false, ACT_NOTES },	/* Ctrl-G */
		{ 7, FOCUS_MSGS, false, ACT_NOTES },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum action got = ui_key_lookup(cases[i].key, cases[i].focus,
						cases[i].empty);

		if (got != cases[i].act)
			fail_msg("case %zu: key %d got %d, want %d", i,
				 cases[i].key, got, cases[i].act);
	}
}

/* Every action but the internal ones has a key and help text, so the
 * help overlay and the palette can reach everything. */
static void test_tui_keys__every_action_reachable(void **state)
{
	char keys[128];
	int i;

	(void)state;
	for (i = 1; i < ACT_COUNT; i++) {
		assert_int_equal(ui_key_actions[i].id, i);
		assert_true(ui_key_actions[i].name[0]);
		assert_true(ui_key_actions[i].help[0]);
		if (!actions_defined((enum action)i))
			fail_msg("action '%s' has no function in actions.c",
				 ui_key_actions[i].name);
		ui_key_labels_of((enum action)i, keys, sizeof(keys));
		if (!keys[0] && !ui_key_actions[i].palette)
			fail_msg("action '%s' has neither a key nor a "
				 "palette entry", ui_key_actions[i].name);
	}
}

static void test_tui_keys__labels(void **state)
{
	char out[64];

	(void)state;
	ui_key_label(KEY_F(12), out, sizeof(out));
	assert_string_equal(out, "F12");
	ui_key_label(16, out, sizeof(out));
	assert_string_equal(out, "Ctrl-P");
	ui_key_label(27, out, sizeof(out));
	assert_string_equal(out, "Esc");
	ui_key_label('<', out, sizeof(out));
	assert_string_equal(out, "<");
	ui_key_labels_of(ACT_BRANCH_PREV, out, sizeof(out));
	assert_string_equal(out, "F5, Left, <");
	ui_key_labels_of(ACT_TOP, out, sizeof(out));
	assert_string_equal(out, "Home");	/* no duplicate, g hidden */
}

static void test_tui_keys__fuzzy(void **state)
{
	(void)state;
	assert_int_equal(ui_key_fuzzy("", "anything"), 0);
	assert_true(ui_key_fuzzy("pm", "pick model") > 0);
	assert_true(ui_key_fuzzy("PM", "pick model") > 0);
	assert_int_equal(ui_key_fuzzy("mp", "pick model"), -1);
	assert_int_equal(ui_key_fuzzy("zz", "pick model"), -1);
	/* word starts and runs rank higher */
	assert_true(ui_key_fuzzy("reg", "regenerate") >
		    ui_key_fuzzy("reg", "rename conversation"));
	assert_true(ui_key_fuzzy("cc", "copy code block") >
		    ui_key_fuzzy("cc", "archive conversation"));
}

static void test_tui_osc52__encode(void **state)
{
	static const struct {
		const char *in;
		const char *b64;
	} cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "hello, world", "aGVsbG8sIHdvcmxk" },
		{ "\xc3\xa9\xe2\x82\xac", "w6nigqw=" },
	};
	struct buf b, want;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	buf_init(&want, 1024);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(osc52_encode(cases[i].in,
					      strlen(cases[i].in), false, &b),
				 0);
		buf_reset(&want);
		buf_printf(&want, "\033]52;c;%s\a", cases[i].b64);
		assert_string_equal(b.data, want.data);
	}
	assert_int_equal(osc52_encode("a", 1, true, &b), 0);
	assert_string_equal(b.data, "\033Ptmux;\033\033]52;c;YQ==\a\033\\");
	/* the ceiling holds */
	buf_release(&b);
	buf_init(&b, 16);
	assert_int_equal(osc52_encode("0123456789abcdef", 16, false, &b),
			 CHAT_ETOOBIG);
	buf_release(&b);
	buf_release(&want);
}

static void test_tui_ws__backoff(void **state)
{
	(void)state;
	assert_int_equal(ui_ws_backoff_ms(0, 0.5), 500);
	assert_int_equal(ui_ws_backoff_ms(1, 0.5), 1000);
	assert_int_equal(ui_ws_backoff_ms(3, 0.5), 4000);
	assert_int_equal(ui_ws_backoff_ms(10, 0.5), 15000);	/* ceiling */
	assert_int_equal(ui_ws_backoff_ms(40, 0.5), 15000);
	assert_int_equal(ui_ws_backoff_ms(0, 0.0), 375);	/* -25 % */
	assert_int_equal(ui_ws_backoff_ms(0, 1.0), 625);	/* +25 % */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tui_keys__lookup),
		cmocka_unit_test(test_tui_keys__every_action_reachable),
		cmocka_unit_test(test_tui_keys__labels),
		cmocka_unit_test(test_tui_keys__fuzzy),
		cmocka_unit_test(test_tui_osc52__encode),
		cmocka_unit_test(test_tui_ws__backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
