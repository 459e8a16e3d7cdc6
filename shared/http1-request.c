/*
 * http1-request.c - the outbound clients' HTTP/1.1 request head
 * (http1-request.h).
 *
 * Plain appends and one number, no printf: the loop client builds one
 * for every request the gateway proxies.
 */
#include "http1-request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "banned.h"

/* Methods whose request carries a body, so a length even when empty. */
static const char *const req_body_methods[] = { "POST", "PUT", "PATCH" };

/* RFC 9110 5.6.2 tchar */
static bool req_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool req_method_ok(const char *m)
{
	if (!*m)
		return false;
	for (; *m; m++)
		if (!req_tchar((unsigned char)*m))
			return false;
	return true;
}

/* A header line: a colon, and no control byte but HTAB. */
static bool req_line_ok(const char *h)
{
	const char *p;

	if (!strchr(h, ':') || *h == ':')
		return false;
	for (p = h; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') ||
		    (unsigned char)*p == 0x7f)
			return false;
	return true;
}

static bool req_has_length(const char *const *h)
{
	for (; h && *h; h++)
		if (strncasecmp(*h, "Content-Length:", 15) == 0)
			return true;
	return false;
}

static bool req_wants_length(const char *method, const char *body)
{
	size_t i;

	if (body)
		return true;
	for (i = 0; i < sizeof(req_body_methods) /
			sizeof(req_body_methods[0]); i++)
		if (strcmp(method, req_body_methods[i]) == 0)
			return true;
	return false;
}

int http1_request_head(struct buf *out, const char *method,
		       const struct url *u, const char *const *headers,
		       const char *body, size_t body_len, bool close)
{
	char host[URL_HOST_MAX + 8], num[24];
	const char *const *h;
	int rc;

	if (!req_method_ok(method))
		return CHAT_EINVAL;
	for (h = headers; h && *h; h++)
		if (!req_line_ok(*h))
			return CHAT_EINVAL;
	rc = url_authority(u, host, sizeof(host));
	if (rc < 0)
		return CHAT_EINVAL;
	rc = buf_puts(out, method);
	if (rc == 0)
		rc = buf_puts(out, " ");
	if (rc == 0)
		rc = u->path_len ? buf_append(out, u->path, u->path_len)
				 : buf_puts(out, "/");
	if (rc == 0 && u->query) {
		rc = buf_puts(out, "?");
		if (rc == 0)
			rc = buf_append(out, u->query, u->query_len);
	}
	if (rc == 0)
		rc = buf_puts(out, " HTTP/1.1\r\nHost: ");
	if (rc == 0)
		rc = buf_puts(out, host);
	if (rc == 0)
		rc = buf_puts(out, "\r\n");
	for (h = headers; rc == 0 && h && *h; h++) {
		rc = buf_puts(out, *h);
		if (rc == 0)
			rc = buf_puts(out, "\r\n");
	}
	if (rc == 0 && req_wants_length(method, body) &&
	    !req_has_length(headers)) {
		snprintf(num, sizeof(num), "%zu", body ? body_len : 0);
		rc = buf_puts(out, "Content-Length: ");
		if (rc == 0)
			rc = buf_puts(out, num);
		if (rc == 0)
			rc = buf_puts(out, "\r\n");
	}
	if (rc == 0 && close)
		rc = buf_puts(out, "Connection: close\r\n");
	if (rc == 0)
		rc = buf_puts(out, "\r\n");
	return rc;
}
