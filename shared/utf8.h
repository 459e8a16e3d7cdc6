/* utf8.h - strict UTF-8 (no overlongs, surrogates or > U+10FFFF):
 * validation and decoding. */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whole text valid, and no NUL byte. */
bool utf8_valid(const char *s, size_t len);
/* The sequence at s (len > 0): its length 1..4 and code point in *cp
 * (may be NULL), or 0 when it is invalid or cut short.  NUL decodes as
 * U+0000. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

#endif
