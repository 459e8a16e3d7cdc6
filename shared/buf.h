/*
 * buf.h - a growable byte buffer with a ceiling.
 *
 * Every append fails with CHAT_ETOOBIG rather than grow past b->max, so
 * untrusted input can never make a buffer unbounded.  The data is always
 * NUL-terminated (the NUL is not counted in len).
 */
#ifndef CHAT_BUF_H
#define CHAT_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;		/* owned; NULL until the first append */
	size_t len;		/* bytes used, not counting the trailing NUL */
	size_t cap;		/* bytes allocated */
	size_t max;		/* ceiling for len */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);		/* frees data, keeps max */
void buf_reset(struct buf *b);			/* len = 0, keeps memory */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Hands the data over to the caller (free() it); b is left empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
