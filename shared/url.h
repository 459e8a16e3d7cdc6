/*
 * url.h - the one URL grammar of the code: http, https, ws and wss URLs
 * as the outbound clients (http-fetch.c, http-loop.c, http-ws.c), aid's
 * provider base URLs, gatewayd's upstream probe and chatui's server take
 * them apart.
 *
 * scheme "://" host [":" port] [path] ["?" query] ["#" fragment]
 *
 *  - the scheme in any case (RFC 3986 3.1); its default port when none
 *    is written (80 for http and ws, 443 for https and wss);
 *  - the host a name or IPv4 address of letters, digits, '-', '.', '_'
 *    and '~', or an IPv6 address in brackets;
 *  - the port 1 to 65535, digits only, never empty after its colon;
 *  - path, query and fragment printable ASCII without spaces (a client
 *    percent-encodes the rest); the fragment is the client's and never
 *    goes into a request;
 *  - refused: user info ("user@host": credentials do not go in URLs
 *    here), percent-encoded hosts, control bytes, non-ASCII bytes, and
 *    URLs longer than URL_MAX.
 *
 * Pure: no allocation, no locale, any thread.
 */
#ifndef CHAT_URL_H
#define CHAT_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define URL_MAX		4096	/* bytes of a whole URL */
#define URL_HOST_MAX	256	/* bytes of a host, NUL included */

enum url_scheme {
	URL_HTTP,
	URL_HTTPS,
	URL_WS,
	URL_WSS,
};

enum url_host_kind {
	URL_HOST_NAME,			/* a DNS name (localhost included) */
	URL_HOST_IPV4,			/* dotted quad */
	URL_HOST_IPV6,			/* was in brackets */
};

/* A parsed URL; path, query and fragment point into the parsed string. */
struct url {
	enum url_scheme scheme;
	bool tls;			/* https or wss */
	enum url_host_kind host_kind;
	char host[URL_HOST_MAX];	/* as written, without brackets */
	uint16_t port;			/* written or the scheme's default */
	bool port_given;		/* the URL wrote one */
	const char *path;		/* "/..." or "" when none */
	size_t path_len;
	const char *query;		/* after the '?'; NULL: no '?' */
	size_t query_len;
	const char *fragment;		/* after the '#'; NULL: no '#' */
	size_t fragment_len;
};

/*
 * Parses s into *u.  0, or CHAT_EINVAL with *why (when why is not NULL)
 * set to a static sentence naming what is wrong ("user info is not
 * allowed").  *u is undefined after a failure.
 */
int url_parse(const char *s, struct url *u, const char **why);

/* The scheme's name in lower case ("https"). */
const char *url_scheme_name(enum url_scheme scheme);

/*
 * The Host header value of u into out[0..outlen): the host as written
 * (in brackets for IPv6) and ":port" when the URL wrote one.  0, or
 * CHAT_ETOOBIG when it does not fit.
 */
int url_authority(const struct url *u, char *out, size_t outlen);

/*
 * The IPv4 socket address of u when its host is a dotted quad or
 * "localhost" (any case; the loopback address): 0, else CHAT_EINVAL
 * (other names need a resolver, IPv6 another socket family).
 */
int url_ipv4(const struct url *u, struct sockaddr_in *out);

#endif
