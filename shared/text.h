/*
 * text.h - client-supplied text made safe to store and show: valid
 * UTF-8, no control characters, a bounded length.  For strings that come
 * from headers or other clients (a session's user agent) and end up in
 * JSON answers, terminals and web pages.
 */
#ifndef CHAT_TEXT_H
#define CHAT_TEXT_H

#include <stddef.h>

/* The longest user agent kept with a session, in bytes. */
#define TEXT_USER_AGENT_MAX 256

/*
 * Copies the len bytes at in (NULL when len is 0; NUL bytes count as
 * text) into out as display-safe text: every byte that does not start a
 * valid UTF-8 sequence (shared/utf8.c's strict rules), every C0 control
 * (NUL and ESC included), DEL and every C1 control (U+0080..U+009F, CSI
 * among them) becomes U+FFFD.  The result is cut on a character boundary
 * to at most outlen - 1 bytes and NUL-terminated; it is never longer
 * than that whatever the input, so a huge input costs at most the output
 * size in work.  outlen 0 writes nothing.  Returns the bytes written
 * without the NUL.  Cleaning clean text with the same outlen changes
 * nothing.  Any thread.
 */
size_t text_clean(const char *in, size_t len, char *out, size_t outlen);

#endif
