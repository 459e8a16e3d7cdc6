/* utf8.h - strict UTF-8 validation (no overlongs, surrogates or > U+10FFFF). */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);

#endif
