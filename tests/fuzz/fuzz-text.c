/*
 * fuzz-text.c - libFuzzer target for text_clean (shared/text.c), which
 * turns client-supplied text (a session's User-Agent) into what is
 * stored and shown.
 *
 * Input: two bytes for the output buffer's size (0..1023), then the text.
 *
 * Checks beyond memory safety, from text.h's contract:
 *  - the output is NUL-terminated, n bytes long, n < the buffer size,
 *    valid UTF-8 (utf8_valid: no NUL either) and holds no C0, DEL or C1
 *    code point;
 *  - it is the uncapped output cut on a character boundary, as far as
 *    the buffer allows (the next character would not have fit);
 *  - cleaning it again with the same size changes nothing;
 *  - valid text without controls that fits comes out unchanged.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "utf8.h"

#include "fuzz.h"

/* Whether s[0..n) holds a control code point (s is valid UTF-8). */
static bool has_control(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp = 0;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		FUZZ_CHECK(k > 0);
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return true;
		i += k;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t outlen = fuzz_u16(&in) % 1024, n, full_n, again_n, k;
	const char *text = (const char *)in.p;
	char *out, *full, *again;

	/* uncapped: every input byte gives at most 3 output bytes */
	full = malloc(3 * in.n + 1);
	out = malloc(outlen + 1);
	again = malloc(outlen + 1);
	if (!full || !out || !again)
		abort();
	full_n = text_clean(text, in.n, full, 3 * in.n + 1);
	FUZZ_CHECK(strlen(full) == full_n);
	FUZZ_CHECK(utf8_valid(full, full_n));
	FUZZ_CHECK(!has_control(full, full_n));

	/* outlen 0 writes nothing, not even the NUL */
	out[0] = 'X';
	n = text_clean(text, in.n, out, outlen);
	if (outlen == 0) {
		FUZZ_CHECK(n == 0 && out[0] == 'X');
		goto out;
	}
	FUZZ_CHECK(n < outlen && strlen(out) == n);
	FUZZ_CHECK(n <= full_n && memcmp(out, full, n) == 0);
	if (n < full_n) {
		/* cut on a boundary, and only because the next did not fit */
		k = utf8_decode(full + n, full_n - n, NULL);
		FUZZ_CHECK(k > 0);
		FUZZ_CHECK(n + k > outlen - 1);
	}

	again_n = text_clean(out, n, again, outlen);
	FUZZ_CHECK(again_n == n && memcmp(again, out, n + 1) == 0);

	if (in.n < outlen && utf8_valid(text, in.n) &&
	    !has_control(text, in.n))
		FUZZ_CHECK(n == in.n && memcmp(out, text, n) == 0);
out:
	free(full);
	free(out);
	free(again);
	return 0;
}
