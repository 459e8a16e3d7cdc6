/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share: the entry
 * point's prototype (libFuzzer declares none, and -Wmissing-prototypes
 * wants one), an invariant check that aborts so that libFuzzer keeps the
 * input as a crash, and a reader that takes a target's own parameters
 * (a split point, a width, flags) from the front of the input.
 *
 * A target is tests/fuzz/fuzz-NAME.c with LLVMFuzzerTestOneInput, seeds
 * in tests/fuzz/corpus/NAME/, optionally tests/fuzz/NAME.dict and
 * tests/fuzz/NAME.options (libFuzzer flags, one a line); the Makefile and
 * scripts/fuzz find it by the name alone.
 */
#ifndef CHAT_FUZZ_H
#define CHAT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: when it fails the input is a bug
 * even though nothing crashed, so crash (libFuzzer saves the input). */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* The input as a stream of parameters followed by the bytes to parse. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* The next byte, 0 once the input is used up (so that every input,
 * even an empty one, is a valid test). */
static inline uint8_t fuzz_byte(struct fuzz_in *in)
{
	uint8_t b;

	if (in->n == 0)
		return 0;
	b = in->p[0];
	in->p++;
	in->n--;
	return b;
}

/* Two bytes, little-endian. */
static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_byte(in);

	return (uint16_t)(lo | (uint16_t)(fuzz_byte(in) << 8));
}

/* A NUL-terminated copy of n bytes (for string APIs); abort on ENOMEM,
 * which libFuzzer's malloc limit reports on its own. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < n; i++)
		s[i] = (char)p[i];
	s[n] = '\0';
	return s;
}

#endif
