/*
 * url.c - the one URL grammar (url.h).
 *
 * Why one: the blocking client, the loop client and the WebSocket client
 * each had their own, and they disagreed on the same URL (a missing
 * port, a '?' right after the host, the scheme's case), so whether a
 * call went over plain sockets or through libcurl, and to which port,
 * depended on which door it took.  Here the URL is read left to right
 * once, every part checked against one table of allowed bytes.
 */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "banned.h"

/* The schemes, their default ports and whether they speak TLS. */
static const struct {
	const char *name;
	enum url_scheme scheme;
	uint16_t port;
	bool tls;
} url_schemes[] = {
	{ "http", URL_HTTP, 80, false },
	{ "https", URL_HTTPS, 443, true },
	{ "ws", URL_WS, 80, false },
	{ "wss", URL_WSS, 443, true },
};

#define URL_NSCHEMES (sizeof(url_schemes) / sizeof(url_schemes[0]))

static int url_fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return CHAT_EINVAL;
}

/* A byte of a host name or IPv4 address: RFC 3986 unreserved. */
static bool url_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* A byte of a path, query or fragment: printable ASCII but a space
 * (what a request line can carry as it is). */
static bool url_text_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Matches the scheme before "://"; the index in url_schemes or -1. */
static int url_scheme_find(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < URL_NSCHEMES; i++)
		if (strlen(url_schemes[i].name) == n &&
		    strncasecmp(s, url_schemes[i].name, n) == 0)
			return (int)i;
	return -1;
}

/* host[:port] in s[0..n). */
static int url_parse_authority(const char *s, size_t n, struct url *u,
			       const char **why)
{
	const char *end = s + n, *h = s, *hend, *p;
	unsigned long port = 0;
	struct in6_addr a6;
	size_t hlen, i;
	bool digits_dots = true;

	if (memchr(s, '@', n))
		return url_fail(why, "user info is not allowed");
	if (n && *s == '[') {
		hend = memchr(s, ']', n);
		if (!hend)
			return url_fail(why, "an IPv6 host without ']'");
		h = s + 1;
		p = hend + 1;
		u->host_kind = URL_HOST_IPV6;
	} else {
		hend = memchr(s, ':', n);
		if (!hend)
			hend = end;
		p = hend;
		u->host_kind = URL_HOST_NAME;
	}
	hlen = (size_t)(hend - h);
	if (hlen == 0)
		return url_fail(why, "no host");
	if (hlen >= sizeof(u->host))
		return url_fail(why, "the host is too long");
	memcpy(u->host, h, hlen);
	u->host[hlen] = '\0';
	if (u->host_kind == URL_HOST_IPV6) {
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return url_fail(why, "not an IPv6 address");
	} else {
		for (i = 0; i < hlen; i++) {
			unsigned char c = (unsigned char)h[i];

			if (!url_host_char(c))
				return url_fail(why, "a byte a host cannot "
						"have");
			if (c != '.' && (c < '0' || c > '9'))
				digits_dots = false;
		}
		/* a dotted quad; shorter forms (127.1) stay names for the
		 * resolver, which reads them as inet_aton does */
		if (digits_dots) {
			struct in_addr a4;

			if (inet_pton(AF_INET, u->host, &a4) == 1)
				u->host_kind = URL_HOST_IPV4;
		}
	}
	if (p == end)
		return 0;
	if (*p != ':')
		return url_fail(why, "bytes after an IPv6 host");
	p++;
	if (p == end)
		return url_fail(why, "an empty port");
	if (end - p > 5)
		return url_fail(why, "the port is out of range");
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return url_fail(why, "the port is not a number");
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port < 1 || port > 65535)
		return url_fail(why, "the port is out of range");
	u->port = (uint16_t)port;
	u->port_given = true;
	return 0;
}

int url_parse(const char *s, struct url *u, const char **why)
{
	const char *p, *sep, *auth;
	size_t len, i;
	int k, rc;

	memset(u, 0, sizeof(*u));
	if (why)
		*why = NULL;
	if (!s)
		return url_fail(why, "no URL");
	len = strnlen(s, URL_MAX + 1);
	if (len > URL_MAX)
		return url_fail(why, "the URL is too long");
	for (i = 0; i < len; i++)
		if (!url_text_char((unsigned char)s[i]))
			return url_fail(why, "a space, control or non-ASCII "
					"byte");
	sep = strstr(s, "://");
	if (!sep)
		return url_fail(why, "no scheme");
	k = url_scheme_find(s, (size_t)(sep - s));
	if (k < 0)
		return url_fail(why, "the scheme is not http, https, ws "
				"or wss");
	u->scheme = url_schemes[k].scheme;
	u->tls = url_schemes[k].tls;
	u->port = url_schemes[k].port;
	auth = sep + 3;
	p = auth + strcspn(auth, "/?#");
	rc = url_parse_authority(auth, (size_t)(p - auth), u, why);
	if (rc < 0)
		return rc;
	u->path = p;
	u->path_len = strcspn(p, "?#");
	p += u->path_len;
	if (*p == '?') {
		u->query = p + 1;
		u->query_len = strcspn(u->query, "#");
		p = u->query + u->query_len;
	}
	if (*p == '#') {
		u->fragment = p + 1;
		u->fragment_len = strlen(u->fragment);
		if (strchr(u->fragment, '#'))
			return url_fail(why, "a second '#'");
	}
	return 0;
}

const char *url_scheme_name(enum url_scheme scheme)
{
	size_t i;

	for (i = 0; i < URL_NSCHEMES; i++)
		if (url_schemes[i].scheme == scheme)
			return url_schemes[i].name;
	return "";
}

int url_authority(const struct url *u, char *out, size_t outlen)
{
	const char *open = u->host_kind == URL_HOST_IPV6 ? "[" : "";
	const char *close = u->host_kind == URL_HOST_IPV6 ? "]" : "";
	int n;

	if (u->port_given)
		n = snprintf(out, outlen, "%s%s%s:%u", open, u->host, close,
			     (unsigned)u->port);
	else
		n = snprintf(out, outlen, "%s%s%s", open, u->host, close);
	return n < 0 || (size_t)n >= outlen ? CHAT_ETOOBIG : 0;
}

int url_ipv4(const struct url *u, struct sockaddr_in *out)
{
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons(u->port);
	if (u->host_kind == URL_HOST_NAME &&
	    strcasecmp(u->host, "localhost") == 0) {
		out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if (u->host_kind == URL_HOST_IPV4 &&
	    inet_pton(AF_INET, u->host, &out->sin_addr) == 1)
		return 0;
	return CHAT_EINVAL;
}
