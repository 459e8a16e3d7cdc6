/*
 * err.h - the one error type of the project.
 *
 * Every function that can fail returns int: 0 on success, a negative
 * CHAT_E* code on failure.  chat_strerror() gives a short lowercase text.
 */
#ifndef CHAT_ERR_H
#define CHAT_ERR_H

#include <stddef.h>

enum chat_err {
	CHAT_OK = 0,
	CHAT_ENOMEM = -1,	/* allocation failed */
	CHAT_EINVAL = -2,	/* bad argument or bad input */
	CHAT_ETOOBIG = -3,	/* a buffer would pass its ceiling */
	CHAT_ENOTFOUND = -4,	/* no such object */
	CHAT_EEXIST = -5,	/* object exists already */
	CHAT_EIO = -6,		/* system call or file failure */
	CHAT_EDB = -7,		/* database failure */
	CHAT_EAUTH = -8,	/* bad or missing credentials */
	CHAT_EPERM = -9,	/* authenticated but not allowed */
	CHAT_EUPSTREAM = -10,	/* another service failed or is down */
	CHAT_ETIMEDOUT = -11,	/* deadline passed */
	CHAT_ECONFLICT = -12,	/* state conflict (unique key, concurrent use) */
	CHAT_EBUSY = -13,	/* try again later */
	CHAT_ECRYPTO = -14,	/* signature or key failure */
	CHAT_EPARSE = -15,	/* malformed input (JSON, config, token) */
	CHAT_ECLOSED = -16,	/* peer went away */
	CHAT_ECANCELED = -17,	/* operation canceled */
	CHAT_EEXPIRED = -18,	/* token or object expired */
};

/* Short lowercase description of rc; never NULL. */
const char *chat_strerror(int rc);

/* Formats a failure's detail into a caller-supplied buffer; err may be
 * NULL or errlen 0, then nothing is written. */
void chat_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
