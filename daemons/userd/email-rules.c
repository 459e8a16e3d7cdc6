/*
 * email-rules.c - what an account's e-mail address may be and what a
 * mailed one-time code is: made, read back from a person's typing, and
 * hashed for the store.  No store, no network: unit-tested alone.
 */
#include "userd.h"

#include <string.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "utf8.h"
#include "banned.h"

/* True for a byte an address never holds: controls, space, DEL. */
static bool email_byte_bad(unsigned char ch)
{
	return ch <= 0x20 || ch == 0x7f;
}

/* True for a domain of non-empty labels separated by single dots. */
static bool email_domain_valid(const char *d)
{
	size_t label = 0;

	if (!*d)
		return false;
	for (; *d; d++) {
		if (*d != '.') {
			label++;
			continue;
		}
		if (label == 0)
			return false;
		label = 0;
	}
	return label > 0;
}

bool email_valid(const char *s)
{
	size_t len = strlen(s);
	const char *at = strchr(s, '@');

	if (len == 0 || len > EMAIL_MAX || !utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (email_byte_bad((unsigned char)s[i]))
			return false;
	}
	if (!at || strchr(at + 1, '@'))
		return false;
	if (at == s || (size_t)(at - s) > EMAIL_LOCAL_MAX)
		return false;
	return email_domain_valid(at + 1);
}

void email_key(const char *s, char out[EMAIL_MAX + 1])
{
	size_t i = 0;

	/* ASCII only: the domain is case-blind, and no mail system tells
	 * Alice@ from alice@ in practice; other bytes stay as they are */
	for (; s[i] && i < EMAIL_MAX; i++) {
		char ch = s[i];
		out[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	out[i] = '\0';
}

void code_new(char out[CODE_LEN + 1])
{
	const size_t n = sizeof(CODE_ALPHABET) - 1;

	/* randombytes_uniform: no modulo bias */
	for (size_t i = 0; i < CODE_LEN; i++)
		out[i] = CODE_ALPHABET[randombytes_uniform((uint32_t)n)];
	out[CODE_LEN] = '\0';
}

int code_normalize(const char *s, char out[CODE_LEN + 1])
{
	size_t n = 0;

	for (; *s; s++) {
		char ch = *s;

		if (ch == ' ' || ch == '-')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (n == CODE_LEN || ch == '\0' || !strchr(CODE_ALPHABET, ch))
			return CHAT_EINVAL;
		out[n++] = ch;
	}
	out[n] = '\0';
	return n == CODE_LEN ? 0 : CHAT_EINVAL;
}

void code_hash(const char *code, char out[65])
{
	crypto_sha256_hex(code, strlen(code), out);
}
