/*
 * cookie.h - the browser session's refresh cookie: its name, and reading
 * one cookie out of a Cookie request header (RFC 6265 section 5.4).
 *
 * The web page keeps its refresh token in an HttpOnly cookie scoped to
 * /v1/auth (userd sets it, gatewayd checks the Origin of requests that
 * carry it); both sides name it through this header.  Pure functions,
 * any thread.
 */
#ifndef CHAT_COOKIE_H
#define CHAT_COOKIE_H

#include <stddef.h>

/* The refresh cookie.  The __Secure- prefix makes browsers refuse it
 * unless it is Secure and set from a secure origin; Chromium counts
 * http://127.0.0.1 and http://localhost as secure, so development on
 * loopback keeps working. */
#define COOKIE_REFRESH_NAME "__Secure-chat_refresh"
/* Where the browser sends it: the refresh and logout endpoints. */
#define COOKIE_REFRESH_PATH "/v1/auth"

/*
 * The value of cookie name in header (a Cookie header's value, "a=1;
 * b=2"; NULL for none), copied NUL-terminated into out (outlen bytes).
 * 0 when found; CHAT_ENOTFOUND when absent; CHAT_ECONFLICT when the name
 * is there more than once (a second cookie of that name, set for another
 * path or by another site of the domain, makes the credential ambiguous);
 * CHAT_ETOOBIG when the value does not fit.  Names compare exactly
 * (cookie names are case-sensitive); a value in double quotes loses them.
 */
int cookie_get(const char *header, const char *name, char *out,
	       size_t outlen);

#endif
