/*
 * b64url.c - base64url without padding (RFC 4648 section 5), strict.
 *
 * The decoder accepts exactly one spelling of each byte string: no '=',
 * no '+' or '/', no whitespace, and the unused low bits of the last
 * character must be zero.  Tokens and signatures thus cannot be varied
 * without changing their bytes.
 */
#include "b64url.h"

#include <stdint.h>

#include "err.h"
#include "banned.h"

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of c in the alphabet, or -1. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int b64url_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	if (n > (SIZE_MAX - 3) / 4 || outlen < B64URL_ENCODED_SIZE(n))
		return CHAT_ETOOBIG;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return 0;
}

int b64url_decode(const char *in, size_t n, void *out, size_t outlen,
		  size_t *written)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *o = out;
	size_t i, need, w = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (written)
		*written = 0;
	if (n % 4 == 1)
		return CHAT_EPARSE;	/* 6 bits cannot make a byte */
	need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	for (i = 0; i < n; i++)
		if (b64url_value(s[i]) < 0)
			return CHAT_EPARSE;
	if (need > outlen)
		return CHAT_ETOOBIG;
	for (i = 0; i < n; i++) {
		acc = (acc << 6 | (uint32_t)b64url_value(s[i])) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[w++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits (2 or 4) must be zero in the canonical form. */
	if (bits && (acc & ((1u << bits) - 1)))
		return CHAT_EPARSE;
	if (written)
		*written = w;
	return 0;
}
