/* b64url.h - base64url without padding (RFC 4648 section 5). */
#ifndef CHAT_B64URL_H
#define CHAT_B64URL_H

#include <stddef.h>

/* Bytes needed for the encoding of n bytes, including the NUL. */
#define B64URL_ENCODED_SIZE(n) (((n) * 4 + 2) / 3 + 1)

/* Writes the NUL-terminated encoding into out (outlen bytes);
 * CHAT_ETOOBIG if it does not fit. */
int b64url_encode(const void *in, size_t n, char *out, size_t outlen);
/* Decodes; rejects padding, other alphabets and non-canonical trailing
 * bits with CHAT_EPARSE; CHAT_ETOOBIG if out is too small. */
int b64url_decode(const char *in, size_t n, void *out, size_t outlen,
		  size_t *written);

#endif
