/*
 * highlight.c - syntax classes for fenced code (see highlight.h).
 *
 * Each language is one row of a table: its names, sorted keyword and
 * type lists, its comment and string syntax.  The tokenizer is shared:
 * whitespace, comments, strings, numbers, identifiers (looked up in the
 * lists), shell variables, punctuation.  It is a colouring aid, not a
 * parser: a wrong guess costs a colour, never text.
 */
#include "highlight.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "markdown.h"
#include "banned.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum { HL_NONE, HL_BLOCK_COMMENT, HL_TRIPLE };

struct ui_hl_lang {
	const char *const *names;
	const char *const *keywords;	/* sorted (strcmp) */
	size_t nkeywords;
	const char *const *types;	/* sorted (strcmp) */
	size_t ntypes;
	const char *line_comment;	/* NULL: none */
	bool block_comment;		/* slash-star comments */
	const char *quotes;		/* string delimiters */
	bool triple;			/* Python's triple quotes */
	bool shell;			/* $variables, # only after a blank */
	bool preproc;			/* #include as a keyword */
};

static const char *const c_names[] = {
	"c", "h", "cpp", "c++", "cc", "cxx", "hpp", "hxx", "objc", NULL
};
static const char *const c_keywords[] = {
	"_Alignas", "_Atomic", "_Generic", "_Noreturn", "_Static_assert",
	"auto", "break", "case", "catch", "class", "const", "constexpr",
	"continue", "default", "delete", "do", "else", "enum", "extern",
	"false", "for", "friend", "goto", "if", "inline", "namespace", "new",
	"noexcept", "nullptr", "operator", "private", "protected", "public",
	"register", "restrict", "return", "sizeof", "static", "struct",
	"switch", "template", "this", "throw", "true", "try", "typedef",
	"typename", "union", "using", "virtual", "volatile", "while",
};
static const char *const c_types[] = {
	"FILE", "bool", "char", "double", "float", "int", "int16_t",
	"int32_t", "int64_t", "int8_t", "intptr_t", "long", "off_t",
	"ptrdiff_t", "short", "signed", "size_t", "ssize_t", "std",
	"string", "uint16_t", "uint32_t", "uint64_t", "uint8_t",
	"uintptr_t", "unsigned", "vector", "void", "wchar_t",
};

static const char *const py_names[] = {
	"py", "python", "python3", "py3", "pycon", NULL
};
static const char *const py_keywords[] = {
	"False", "None", "True", "and", "as", "assert", "async", "await",
	"break", "case", "class", "continue", "def", "del", "elif", "else",
	"except", "finally", "for", "from", "global", "if", "import", "in",
	"is", "lambda", "match", "nonlocal", "not", "or", "pass", "raise",
	"return", "try", "while", "with", "yield",
};
static const char *const py_types[] = {
	"Exception", "bool", "bytes", "cls", "dict", "float", "frozenset",
	"int", "len", "list", "object", "print", "range", "self", "set",
	"str", "super", "tuple", "type",
};

static const char *const sh_names[] = {
	"sh", "bash", "shell", "zsh", "ksh", "console", "shellsession",
	NULL
};
static const char *const sh_keywords[] = {
	"alias", "break", "case", "cd", "continue", "declare", "do", "done",
	"echo", "elif", "else", "esac", "eval", "exec", "exit", "export",
	"fi", "for", "function", "if", "in", "local", "printf", "read",
	"readonly", "return", "select", "set", "shift", "source", "then",
	"trap", "unset", "until", "while",
};

static const char *const json_names[] = { "json", "jsonc", "json5", NULL };
static const char *const json_keywords[] = { "false", "null", "true" };

static const struct ui_hl_lang langs[] = {
	{ c_names, c_keywords, NELEM(c_keywords), c_types, NELEM(c_types),
	  "//", true, "\"'", false, false, true },
	{ py_names, py_keywords, NELEM(py_keywords), py_types,
	  NELEM(py_types), "#", false, "\"'", true, false, false },
	{ sh_names, sh_keywords, NELEM(sh_keywords), NULL, 0, "#", false,
	  "\"'", false, true, false },
	{ json_names, json_keywords, NELEM(json_keywords), NULL, 0, "//",
	  true, "\"", false, false, false },
};

static bool is_ident_start(unsigned char c)
{
	return c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool is_ident(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_punct(unsigned char c)
{
	return c > 0x20 && c < 0x7F && !is_ident(c);
}

static bool in_list(const char *const *list, size_t n, const char *s,
		    size_t len)
{
	size_t lo = 0;
	size_t hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(s, list[mid], len);

		if (c == 0 && list[mid][len] != '\0')
			c = -1;
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

const struct ui_hl_lang *ui_hl_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NELEM(langs); i++)
		for (const char *const *n = langs[i].names; *n; n++)
			if (strlen(*n) == len && !strncasecmp(*n, name, len))
				return &langs[i];
	return NULL;
}

/* The end of a string opened by q at off (off is past the quote). */
static size_t string_end(const char *s, size_t len, size_t off, char q)
{
	while (off < len) {
		if (s[off] == '\\' && off + 1 < len) {
			off += 2;
			continue;
		}
		if (s[off++] == q)
			break;
	}
	return off;
}

/* Inside a triple-quoted string or a block comment: where it ends on
 * this line (the state is cleared then), or len. */
static size_t carried_end(struct ui_hl_state *st, const char *s, size_t len,
			  size_t off)
{
	for (size_t i = off; i < len; i++) {
		if (st->in == HL_BLOCK_COMMENT && s[i] == '*' &&
		    i + 1 < len && s[i + 1] == '/') {
			st->in = HL_NONE;
			return i + 2;
		}
		if (st->in == HL_TRIPLE && s[i] == '\\') {
			i++;
			continue;
		}
		if (st->in == HL_TRIPLE && i + 2 < len && s[i] == st->quote &&
		    s[i + 1] == st->quote && s[i + 2] == st->quote) {
			st->in = HL_NONE;
			return i + 3;
		}
	}
	return len;
}

static size_t number_end(const char *s, size_t len, size_t off)
{
	while (off < len) {
		unsigned char c = (unsigned char)s[off];

		if (is_ident(c) || c == '.')
			off++;
		else if ((c == '+' || c == '-') && off > 0 &&
			 (s[off - 1] == 'e' || s[off - 1] == 'E'))
			off++;
		else
			break;
	}
	return off;
}

size_t ui_hl_next(const struct ui_hl_lang *l, struct ui_hl_state *st,
		  const char *s, size_t len, size_t off, uint8_t *kind)
{
	unsigned char c;
	size_t end;

	*kind = MD_K_CODE;
	if (off >= len)
		return len;
	if (!l)
		return len;
	if (st->in != HL_NONE) {
		*kind = st->in == HL_TRIPLE ? MD_K_CODE_STRING :
					      MD_K_CODE_COMMENT;
		return carried_end(st, s, len, off);
	}
	c = (unsigned char)s[off];
	if (is_blank(c)) {
		end = off;
		while (end < len && is_blank((unsigned char)s[end]))
			end++;
		return end;
	}
	if (l->line_comment && strlen(l->line_comment) <= len - off &&
	    !memcmp(s + off, l->line_comment, strlen(l->line_comment)) &&
	    (!l->shell || off == 0 || is_blank((unsigned char)s[off - 1]))) {
		*kind = MD_K_CODE_COMMENT;
		return len;
	}
	if (l->block_comment && c == '/' && off + 1 < len &&
	    s[off + 1] == '*') {
		*kind = MD_K_CODE_COMMENT;
		st->in = HL_BLOCK_COMMENT;
		return carried_end(st, s, len, off + 2);
	}
	if (c && strchr(l->quotes, c)) {
		*kind = MD_K_CODE_STRING;
		if (l->triple && off + 2 < len && s[off + 1] == (char)c &&
		    s[off + 2] == (char)c) {
			st->in = HL_TRIPLE;
			st->quote = (char)c;
			return carried_end(st, s, len, off + 3);
		}
		return string_end(s, len, off + 1, (char)c);
	}
	if (is_digit(c) || (c == '.' && off + 1 < len &&
			    is_digit((unsigned char)s[off + 1]))) {
		if (off == 0 || !is_ident((unsigned char)s[off - 1])) {
			*kind = MD_K_CODE_NUMBER;
			return number_end(s, len, off);
		}
	}
	if (c == '-' && !l->shell && off + 1 < len &&
	    is_digit((unsigned char)s[off + 1]) &&
	    (off == 0 || !is_ident((unsigned char)s[off - 1]))) {
		*kind = MD_K_CODE_NUMBER;	/* a negative number */
		return number_end(s, len, off + 1);
	}
	if (is_ident_start(c)) {
		end = off;
		while (end < len && is_ident((unsigned char)s[end]))
			end++;
		if (in_list(l->keywords, l->nkeywords, s + off, end - off))
			*kind = MD_K_CODE_KEYWORD;
		else if (l->types &&
			 in_list(l->types, l->ntypes, s + off, end - off))
			*kind = MD_K_CODE_TYPE;
		return end;
	}
	if (l->preproc && c == '#') {
		size_t i = 0;

		while (i < off && is_blank((unsigned char)s[i]))
			i++;
		if (i == off) {
			end = off + 1;
			while (end < len && is_ident((unsigned char)s[end]))
				end++;
			*kind = MD_K_CODE_KEYWORD;
			return end;
		}
	}
	if (l->shell && c == '$' && off + 1 < len) {
		*kind = MD_K_CODE_TYPE;
		if (s[off + 1] == '{') {
			const char *close = memchr(s + off, '}', len - off);

			return close ? (size_t)(close - s) + 1 : len;
		}
		end = off + 1;
		while (end < len && is_ident((unsigned char)s[end]))
			end++;
		return end > off + 1 ? end : off + 2;
	}
	if (l->triple && c == '@' && off + 1 < len &&
	    is_ident_start((unsigned char)s[off + 1])) {
		end = off + 1;
		while (end < len && (is_ident((unsigned char)s[end]) ||
				     s[end] == '.'))
			end++;
		*kind = MD_K_CODE_TYPE;		/* a decorator */
		return end;
	}
	if (is_punct(c)) {
		*kind = MD_K_CODE_PUNCT;
		return off + 1;
	}
	/* anything else (other scripts, emoji): up to the next ASCII
	 * blank or punctuation */
	end = off + 1;
	while (end < len && ((unsigned char)s[end] >= 0x80))
		end++;
	return end;
}
