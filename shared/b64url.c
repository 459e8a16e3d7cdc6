/*
 * b64url.c - base64url without padding (RFC 4648 section 5), strict, on
 * libsodium's codec (sodium_bin2base64 / sodium_base642bin with the
 * URL-safe, unpadded variant) rather than one of our own.
 *
 * The decoder accepts exactly one spelling of each byte string: no '=',
 * no '+' or '/', no whitespace (libsodium is given no characters to
 * ignore, and every character must be consumed), and the unused low bits
 * of the last character must be zero (libsodium refuses them).  Tokens
 * and signatures thus cannot be varied without changing their bytes.
 */
#include "b64url.h"

#include <stdint.h>
#include <string.h>
#include <sodium.h>

#include "err.h"
#include "banned.h"

#define B64URL_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_encode(const void *in, size_t n, char *out, size_t outlen)
{
	if (n > (SIZE_MAX - 3) / 4 ||
	    outlen < sodium_base64_ENCODED_LEN(n, B64URL_VARIANT))
		return CHAT_ETOOBIG;
	sodium_bin2base64(out, outlen, in, n, B64URL_VARIANT);
	return 0;
}

int b64url_decode(const char *in, size_t n, void *out, size_t outlen,
		  size_t *written)
{
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0), len = 0, i;

	if (written)
		*written = 0;
	/* one leftover character cannot encode a byte: never canonical */
	if (n % 4 == 1)
		return CHAT_EPARSE;
	/* a foreign character is a parse error whatever the room */
	for (i = 0; i < n; i++)
		if (!in[i] || !memchr(b64url_alphabet, in[i],
				      sizeof(b64url_alphabet) - 1))
			return CHAT_EPARSE;
	if (need > outlen)
		return CHAT_ETOOBIG;
	/* b64_end NULL: the whole input must be base64url, nothing else */
	if (sodium_base642bin(out, outlen, in, n, NULL, &len, NULL,
			      B64URL_VARIANT) != 0)
		return CHAT_EPARSE;
	if (written)
		*written = len;
	return 0;
}
