/*
 * err.c - texts for the CHAT_E* codes of err.h.
 */
#include "err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Indexed by -rc; every code of enum chat_err has its text here. */
static const char *const err_texts[] = {
	[0] = "success",
	[-CHAT_ENOMEM] = "out of memory",
	[-CHAT_EINVAL] = "invalid argument",
	[-CHAT_ETOOBIG] = "too big",
	[-CHAT_ENOTFOUND] = "not found",
	[-CHAT_EEXIST] = "already exists",
	[-CHAT_EIO] = "input/output error",
	[-CHAT_EDB] = "database error",
	[-CHAT_EAUTH] = "authentication failed",
	[-CHAT_EPERM] = "permission denied",
	[-CHAT_EUPSTREAM] = "upstream service failed",
	[-CHAT_ETIMEDOUT] = "timed out",
	[-CHAT_ECONFLICT] = "conflict",
	[-CHAT_EBUSY] = "busy, try again later",
	[-CHAT_ECRYPTO] = "signature or key failure",
	[-CHAT_EPARSE] = "malformed input",
	[-CHAT_ECLOSED] = "peer closed the connection",
	[-CHAT_ECANCELED] = "canceled",
	[-CHAT_EEXPIRED] = "expired",
};

const char *chat_strerror(int rc)
{
	size_t i;

	if (rc > 0)
		return "unknown error";
	i = (size_t)-(long)rc;
	if (i >= sizeof(err_texts) / sizeof(err_texts[0]) || !err_texts[i])
		return "unknown error";
	return err_texts[i];
}

#include "banned.h"

void chat_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
