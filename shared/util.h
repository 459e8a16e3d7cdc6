/* util.h - small helpers: clocks, files, secrets, hex digits. */
#ifndef CHAT_UTIL_H
#define CHAT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t now_ms(void);		/* wall clock, unix milliseconds */
int64_t mono_ms(void);		/* monotonic milliseconds */

/* mkdir -p with mode for the last component. */
int util_mkdir_p(const char *path, unsigned mode);

/* Reads the secret in dir/name, or creates it (0600, 32 random bytes
 * base64url) when missing; safe when several processes race.  out gets
 * the text (NUL-terminated). */
int util_secret_load(const char *dir, const char *name, char *out,
		     size_t outlen);

/* Reads a whole file into *out (caller frees) up to max bytes. */
int util_read_file(const char *path, size_t max, char **out, size_t *len);

/* The value of hex digit c (either case), or -1. */
int util_hex_value(int c);

/* The n bytes of s with %XX escapes decoded once, as a request target's
 * path is: a new string (caller frees), or NULL with *bad set when an
 * escape is broken or a byte (decoded or not) is a control character,
 * NULL with *bad clear when memory ran out. */
char *util_percent_decode(const char *s, size_t n, bool *bad);

#endif
