/*
 * keys.c - chatui's one key table: every action with its name and help,
 * and the keys bound to it in each focus.  The help overlay and the
 * command palette are generated from these tables, and the man page
 * lists the same keys.
 */
#include "chatui.h"

#include <ctype.h>
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define CTRL(c) ((c) & 0x1f)
#define KEY_ESC 27

const struct action_info ui_key_actions[ACT_COUNT] = {
	{ ACT_NONE, "", "", false },
	{ ACT_HELP, "help", "show the keys", true },
	{ ACT_PALETTE, "command palette", "run any action by name", false },
	{ ACT_QUIT, "quit", "leave chatui", true },
	{ ACT_NEW, "new conversation", "start a new conversation", true },
	{ ACT_SWITCH, "switch conversation",
	  "go to the list; type to filter, Enter opens", true },
	{ ACT_SEARCH, "search conversations",
	  "find conversations by title or message text", true },
	{ ACT_RENAME, "rename conversation", "give the conversation a title",
	  true },
	{ ACT_DELETE, "delete conversation", "delete it (asks first)", true },
	{ ACT_ARCHIVE, "archive conversation",
	  "archive it (or bring it back)", true },
	{ ACT_SHOW_ARCHIVED, "show archived",
	  "list archived conversations instead", true },
	{ ACT_STOP, "stop generation", "stop the answer being written", true },
	{ ACT_REGENERATE, "regenerate", "write the answer again (a new branch)",
	  true },
	{ ACT_EDIT, "edit message",
	  "edit the last (or selected) question and resend as a new branch",
	  true },
	{ ACT_BRANCH_PREV, "previous branch",
	  "show the previous version of the selected message", true },
	{ ACT_BRANCH_NEXT, "next branch",
	  "show the next version of the selected message", true },
	{ ACT_COPY_ANSWER, "copy answer",
	  "copy the last (or selected) answer to the clipboard", true },
	{ ACT_COPY_CODE, "copy code block",
	  "copy a code block (again: the next one)", true },
	{ ACT_MODEL, "pick model", "choose the conversation's model", true },
	{ ACT_SYSTEM, "system prompt", "edit the conversation's system prompt",
	  true },
	{ ACT_SCROLL_UP, "page up", "scroll the messages up", false },
	{ ACT_SCROLL_DOWN, "page down", "scroll the messages down", false },
	{ ACT_TOP, "top", "go to the first message", true },
	{ ACT_BOTTOM, "bottom", "go to the last message", true },
	{ ACT_FOCUS, "next pane", "input, messages, list in turn", false },
	{ ACT_TOGGLE_LIST, "toggle list", "hide or show the conversation list",
	  true },
	{ ACT_REDRAW, "redraw", "repaint the screen and reconnect now", true },
	{ ACT_SEND, "send", "send the message", false },
	{ ACT_NEWLINE, "newline", "a new line in the message", false },
	{ ACT_LOGOUT, "log out", "end the session and show the login screen",
	  true },
	{ ACT_USAGE, "usage", "your tokens per day and model (admins: the "
	  "platform's figures and live events)", true },
	{ ACT_NOTES, "notifications", "your notifications, newest first "
	  "(the status line counts the unread ones)", true },
};

/* Earlier entries win; the help lists them in this order. */
const struct ui_key_binding ui_key_bindings[] = {
	{ KEY_F(1), FOCUS_ANY, 0, ACT_HELP },
	{ '?', FOCUS_MSGS, 0, ACT_HELP },
	{ '?', FOCUS_INPUT, KEYF_EMPTY_INPUT, ACT_HELP },
	{ CTRL('p'), FOCUS_ANY, 0, ACT_PALETTE },
	{ CTRL('n'), FOCUS_ANY, 0, ACT_NEW },
	{ CTRL('o'), FOCUS_ANY, 0, ACT_SWITCH },
	{ KEY_F(3), FOCUS_ANY, 0, ACT_SWITCH },
	{ CTRL('f'), FOCUS_ANY, 0, ACT_SEARCH },
	{ KEY_F(2), FOCUS_ANY, 0, ACT_RENAME },
	{ KEY_F(8), FOCUS_ANY, 0, ACT_DELETE },
	{ KEY_DC, FOCUS_LIST, 0, ACT_DELETE },
	{ KEY_F(9), FOCUS_ANY, 0, ACT_ARCHIVE },
	{ KEY_F(10), FOCUS_ANY, 0, ACT_SHOW_ARCHIVED },
	{ KEY_ESC, FOCUS_ANY, 0, ACT_STOP },
	{ CTRL('r'), FOCUS_ANY, 0, ACT_REGENERATE },
	{ 'r', FOCUS_MSGS, 0, ACT_REGENERATE },
	{ CTRL('e'), FOCUS_ANY, KEYF_EMPTY_INPUT, ACT_EDIT },
	{ 'e', FOCUS_MSGS, 0, ACT_EDIT },
	{ KEY_F(5), FOCUS_ANY, 0, ACT_BRANCH_PREV },
	{ KEY_LEFT, FOCUS_MSGS, 0, ACT_BRANCH_PREV },
	{ '<', FOCUS_MSGS, 0, ACT_BRANCH_PREV },
	{ KEY_F(6), FOCUS_ANY, 0, ACT_BRANCH_NEXT },
	{ KEY_RIGHT, FOCUS_MSGS, 0, ACT_BRANCH_NEXT },
	{ '>', FOCUS_MSGS, 0, ACT_BRANCH_NEXT },
	{ CTRL('y'), FOCUS_ANY, 0, ACT_COPY_ANSWER },
	{ 'y', FOCUS_MSGS, 0, ACT_COPY_ANSWER },
	{ CTRL('b'), FOCUS_ANY, 0, ACT_COPY_CODE },
	{ 'c', FOCUS_MSGS, 0, ACT_COPY_CODE },
	{ KEY_F(4), FOCUS_ANY, 0, ACT_MODEL },
	{ KEY_F(7), FOCUS_ANY, 0, ACT_SYSTEM },
	{ KEY_PPAGE, FOCUS_ANY, 0, ACT_SCROLL_UP },
	{ KEY_NPAGE, FOCUS_ANY, 0, ACT_SCROLL_DOWN },
	{ KEY_HOME, FOCUS_INPUT, KEYF_EMPTY_INPUT, ACT_TOP },
	{ KEY_HOME, FOCUS_MSGS, 0, ACT_TOP },
	{ 'g', FOCUS_MSGS, KEYF_HIDDEN, ACT_TOP },
	{ KEY_END, FOCUS_INPUT, KEYF_EMPTY_INPUT, ACT_BOTTOM },
	{ KEY_END, FOCUS_MSGS, 0, ACT_BOTTOM },
	{ 'G', FOCUS_MSGS, KEYF_HIDDEN, ACT_BOTTOM },
	{ '\t', FOCUS_ANY, 0, ACT_FOCUS },
	{ KEY_F(12), FOCUS_ANY, 0, ACT_TOGGLE_LIST },
	{ KEY_F(11), FOCUS_ANY, 0, ACT_LOGOUT },
	{ CTRL('l'), FOCUS_ANY, 0, ACT_REDRAW },
	{ CTRL('t'), FOCUS_ANY, 0, ACT_USAGE },
	{ CTRL('g'), FOCUS_ANY, 0, ACT_NOTES },
	{ '\r', FOCUS_INPUT, 0, ACT_SEND },
	{ KEY_ENTER, FOCUS_INPUT, KEYF_HIDDEN, ACT_SEND },
	{ '\n', FOCUS_INPUT, 0, ACT_NEWLINE },
	{ CTRL('q'), FOCUS_ANY, 0, ACT_QUIT },
	{ CTRL('c'), FOCUS_ANY, KEYF_HIDDEN, ACT_QUIT },
};

const size_t ui_key_nbindings =
	sizeof(ui_key_bindings) / sizeof(ui_key_bindings[0]);

enum action ui_key_lookup(int key, unsigned focus, bool input_empty)
{
	size_t i;

	for (i = 0; i < ui_key_nbindings; i++) {
		const struct ui_key_binding *b = &ui_key_bindings[i];

		if (b->key != key || !(b->focus & focus))
			continue;
		if ((b->flags & KEYF_EMPTY_INPUT) && (focus & FOCUS_INPUT) &&
		    !input_empty)
			continue;
		return b->act;
	}
	return ACT_NONE;
}

void ui_key_label(int key, char *out, size_t outlen)
{
	static const struct {
		int key;
		const char *name;
	} names[] = {
		{ KEY_ESC, "Esc" }, { '\t', "Tab" }, { '\r', "Enter" },
		{ '\n', "Ctrl-J" }, { KEY_ENTER, "Enter" },
		{ KEY_PPAGE, "PgUp" }, { KEY_NPAGE, "PgDn" },
		{ KEY_HOME, "Home" }, { KEY_END, "End" },
		{ KEY_LEFT, "Left" }, { KEY_RIGHT, "Right" },
		{ KEY_UP, "Up" }, { KEY_DOWN, "Down" }, { KEY_DC, "Del" },
		{ ' ', "Space" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].key == key) {
			snprintf(out, outlen, "%s", names[i].name);
			return;
		}
	}
	if (key >= KEY_F(1) && key <= KEY_F(12))
		snprintf(out, outlen, "F%d", key - KEY_F0);
	else if (key > 0 && key < 32)
		snprintf(out, outlen, "Ctrl-%c", key + 'A' - 1);
	else if (key >= 32 && key < 127)
		snprintf(out, outlen, "%c", key);
	else
		snprintf(out, outlen, "key %d", key);
}

void ui_key_labels_of(enum action act, char *out, size_t outlen)
{
	char name[32];
	size_t i, used = 0;

	if (outlen)
		out[0] = '\0';
	for (i = 0; i < ui_key_nbindings; i++) {
		const struct ui_key_binding *b = &ui_key_bindings[i];
		size_t j;
		bool dup = false;
		int n;

		if (b->act != act || (b->flags & KEYF_HIDDEN))
			continue;
		for (j = 0; j < i; j++)
			if (ui_key_bindings[j].key == b->key &&
			    ui_key_bindings[j].act == act &&
			    !(ui_key_bindings[j].flags & KEYF_HIDDEN))
				dup = true;
		if (dup)
			continue;
		ui_key_label(b->key, name, sizeof(name));
		n = snprintf(out + used, outlen - used, "%s%s",
			     used ? ", " : "", name);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}

int ui_key_fuzzy(const char *pattern, const char *text)
{
	const char *t = text;
	int score = 0, run = 0;
	size_t i;

	for (i = 0; pattern[i]; i++) {
		int pc = tolower((unsigned char)pattern[i]);
		bool found = false;

		while (*t) {
			int tc = tolower((unsigned char)*t);
			bool word_start = t == text || t[-1] == ' ' ||
					  t[-1] == '-' || t[-1] == '_';

			t++;
			if (tc == pc) {
				found = true;
				run++;
				/* runs and word starts rank higher */
				score += 1 + run * 2 + (word_start ? 5 : 0);
				break;
			}
			run = 0;
		}
		if (!found)
			return -1;
	}
	return score;
}
