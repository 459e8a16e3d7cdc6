/*
 * highlight.h - a small table-driven tokenizer that classes the code of
 * a fenced block for colours (internal to markdown.c).  Languages: C
 * (and C++), Python, shell, JSON; each has aliases (c h cpp, py python,
 * sh bash shell zsh, json).  Line by line, with a state carrying block
 * comments and triple-quoted strings over to the next line.
 */
#ifndef CHAT_TUI_HIGHLIGHT_H
#define CHAT_TUI_HIGHLIGHT_H

#include <stddef.h>
#include <stdint.h>

struct ui_hl_lang;

/* Carried from one line of a block to the next; zero it at the start. */
struct ui_hl_state {
	uint8_t in;		/* 0, or inside a block comment / string */
	char quote;		/* the quote of a triple-quoted string */
};

/* The language named name[0..len) (case-insensitive), NULL if none. */
const struct ui_hl_lang *ui_hl_find(const char *name, size_t len);
/* The end of the token of s[0..len) starting at off (> off when off <
 * len) and its class in *kind (an enum md_kind CODE_* value). */
size_t ui_hl_next(const struct ui_hl_lang *lang, struct ui_hl_state *st,
	       const char *s, size_t len, size_t off, uint8_t *kind);

#endif
