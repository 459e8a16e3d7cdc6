/*
 * width-agree.h - strings whose width chatctl and chatui must agree on,
 * with the columns both show them in.  test-cli-out.c checks chatctl's
 * table alignment against these numbers and test-tui-markdown.c checks
 * chatui's rendered rows against the same numbers, so a front-end that
 * measures on its own (as chatctl did with a code point sum: a ZWJ
 * family of four was 8 columns there and 2 in chatui) fails one of them.
 */
#ifndef CHAT_TEST_WIDTH_AGREE_H
#define CHAT_TEST_WIDTH_AGREE_H

struct width_agree {
	const char *name;
	const char *s;		/* NUL-terminated UTF-8 */
	int cols;		/* as shown by both */
};

static const struct width_agree width_agree_cases[] = {
	{ "ascii", "title", 5 },
	{ "zwj family of four",
	  "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
	  "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6", 2 },
	{ "two families and text",
	  "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
	  "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6" "ab"
	  "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
	  "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6", 6 },
	{ "flag", "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA", 2 },
	{ "combining acute", "e\xCC\x81t\xC3\xA9", 3 },
	{ "heart VS16", "\xE2\x9D\xA4\xEF\xB8\x8F", 2 },
	{ "heart text style", "\xE2\x9D\xA4", 1 },
	{ "keycap", "1\xEF\xB8\x8F\xE2\x83\xA3", 2 },
	{ "skin tone", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", 2 },
	{ "cjk", "\xE4\xB8\xAD\xE6\x96\x87", 4 },
	{ "tab shown as a space", "a\tb", 3 },
	{ "invalid byte as U+FFFD", "a\xFF" "b", 3 },
};

#define WIDTH_AGREE_N \
	(sizeof(width_agree_cases) / sizeof(width_agree_cases[0]))

#endif
