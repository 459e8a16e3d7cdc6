/*
 * webhook-addr.c - where a webhook delivery may connect: the class of
 * an address (loopback, private, link-local, metadata...) by a table of
 * prefixes, and the admin's allowlist (notifyd.webhook_allow, CIDRs).
 *
 * webhook-deliver.c asks wh_addr_allowed about every address libcurl
 * is about to connect to (http-client.h's addr_ok), so the check is of
 * the address really used, after resolution: a name that resolves
 * somewhere else the second time (DNS rebinding) is checked again.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d,
 * the deprecated IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4
 * 2002::/16) are classed by that IPv4 address, so ::ffff:127.0.0.1 is
 * loopback.  Pure: any thread.
 */
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "err.h"
#include "banned.h"

struct wh_prefix {
	const char *cidr;
	enum wh_addr_class cls;
};

/* First match wins: the narrow prefixes before the wide ones. */
static const struct wh_prefix wh_v4[] = {
	{ "169.254.169.254/32", WH_ADDR_METADATA },
	{ "0.0.0.0/8", WH_ADDR_UNSPECIFIED },
	{ "10.0.0.0/8", WH_ADDR_PRIVATE },
	{ "100.64.0.0/10", WH_ADDR_CGNAT },
	{ "127.0.0.0/8", WH_ADDR_LOOPBACK },
	{ "169.254.0.0/16", WH_ADDR_LINK_LOCAL },
	{ "172.16.0.0/12", WH_ADDR_PRIVATE },
	{ "192.0.0.0/24", WH_ADDR_RESERVED },	/* IETF assignments */
	{ "192.0.2.0/24", WH_ADDR_RESERVED },	/* documentation */
	{ "192.168.0.0/16", WH_ADDR_PRIVATE },
	{ "198.18.0.0/15", WH_ADDR_RESERVED },	/* benchmarking */
	{ "198.51.100.0/24", WH_ADDR_RESERVED },
	{ "203.0.113.0/24", WH_ADDR_RESERVED },
	{ "224.0.0.0/4", WH_ADDR_MULTICAST },
	{ "240.0.0.0/4", WH_ADDR_RESERVED },	/* and the broadcast */
};

static const struct wh_prefix wh_v6[] = {
	{ "fd00:ec2::254/128", WH_ADDR_METADATA },
	{ "::/128", WH_ADDR_UNSPECIFIED },
	{ "::1/128", WH_ADDR_LOOPBACK },
	{ "fc00::/7", WH_ADDR_PRIVATE },
	{ "fe80::/10", WH_ADDR_LINK_LOCAL },
	{ "fec0::/10", WH_ADDR_PRIVATE },	/* site-local, deprecated */
	{ "ff00::/8", WH_ADDR_MULTICAST },
	{ "2001:db8::/32", WH_ADDR_RESERVED },	/* documentation */
	{ "100::/64", WH_ADDR_RESERVED },	/* discard */
};

/* Where an IPv6 prefix carries an IPv4 address: its bytes at off. */
static const struct {
	const char *cidr;
	size_t off;
} wh_v4_in_v6[] = {
	{ "::ffff:0:0/96", 12 },		/* IPv4-mapped */
	{ "::/96", 12 },			/* IPv4-compatible */
	{ "64:ff9b::/96", 12 },			/* NAT64 */
	{ "2002::/16", 2 },			/* 6to4 */
};

static const char *const wh_class_names[] = {
	[WH_ADDR_PUBLIC] = "public",
	[WH_ADDR_LOOPBACK] = "loopback",
	[WH_ADDR_PRIVATE] = "private",
	[WH_ADDR_LINK_LOCAL] = "link-local",
	[WH_ADDR_MULTICAST] = "multicast",
	[WH_ADDR_UNSPECIFIED] = "unspecified",
	[WH_ADDR_CGNAT] = "cgnat",
	[WH_ADDR_METADATA] = "metadata",
	[WH_ADDR_RESERVED] = "reserved",
};

const char *wh_addr_class_name(enum wh_addr_class c)
{
	if ((size_t)c >= sizeof(wh_class_names) / sizeof(wh_class_names[0]))
		return "unknown";
	return wh_class_names[c];
}

int wh_cidr_parse(const char *s, struct wh_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits;
	char *end = NULL;

	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return CHAT_EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = 128;
	} else {
		return CHAT_EINVAL;
	}
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return CHAT_EINVAL;
		bits = strtoul(slash + 1, &end, 10);
		if (*end || bits > out->bits)
			return CHAT_EINVAL;
		out->bits = (unsigned)bits;
	}
	return 0;
}

/* Whether the first bits of a and b are the same. */
static bool wh_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

static bool wh_cidr_has(const struct wh_cidr *c, int family,
			const uint8_t *addr)
{
	return c->family == family && wh_prefix_eq(c->addr, addr, c->bits);
}

/* The table's first prefix holding addr, as a class. */
static enum wh_addr_class wh_table_class(const struct wh_prefix *t, size_t n,
					 int family, const uint8_t *addr)
{
	struct wh_cidr c;
	size_t i;

	for (i = 0; i < n; i++)
		if (wh_cidr_parse(t[i].cidr, &c) == 0 &&
		    wh_cidr_has(&c, family, addr))
			return t[i].cls;
	return WH_ADDR_PUBLIC;
}

/* The IPv4 address an IPv6 one carries into v4, when it carries one. */
static bool wh_v6_inner_v4(const uint8_t *addr, uint8_t v4[4])
{
	struct wh_cidr c;
	size_t i;

	for (i = 0; i < sizeof(wh_v4_in_v6) / sizeof(wh_v4_in_v6[0]); i++) {
		if (wh_cidr_parse(wh_v4_in_v6[i].cidr, &c) != 0 ||
		    !wh_cidr_has(&c, AF_INET6, addr))
			continue;
		/* :: and ::1 are themselves, not 0.0.0.0 and 0.0.0.1 */
		if (strcmp(wh_v4_in_v6[i].cidr, "::/96") == 0 &&
		    addr[12] == 0 && addr[13] == 0 &&
		    addr[14] == 0 && addr[15] <= 1)
			return false;
		memcpy(v4, addr + wh_v4_in_v6[i].off, 4);
		return true;
	}
	return false;
}

enum wh_addr_class wh_addr_class_of(int family, const uint8_t *addr)
{
	uint8_t v4[4];

	if (family == AF_INET)
		return wh_table_class(wh_v4, sizeof(wh_v4) / sizeof(wh_v4[0]),
				      AF_INET, addr);
	if (wh_v6_inner_v4(addr, v4))
		return wh_addr_class_of(AF_INET, v4);
	return wh_table_class(wh_v6, sizeof(wh_v6) / sizeof(wh_v6[0]),
			      AF_INET6, addr);
}

int wh_allow_parse(const char *list, struct wh_cidr *out, size_t max,
		   size_t *n, char *err, size_t errlen)
{
	char item[INET6_ADDRSTRLEN + 8];
	const char *p = list, *comma;
	size_t len;

	*n = 0;
	while (p && *p) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		while (len && *p == ' ') {
			p++;
			len--;
		}
		while (len && p[len - 1] == ' ')
			len--;
		if (len == 0 || len >= sizeof(item) || *n == max)
			goto bad;
		memcpy(item, p, len);
		item[len] = '\0';
		if (wh_cidr_parse(item, &out[*n]) != 0)
			goto bad;
		(*n)++;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
bad:
	snprintf(err, errlen, "notifyd.webhook_allow: '%.*s' is not a CIDR "
		 "(or more than %zu of them)", (int)(len > 60 ? 60 : len), p,
		 max);
	return CHAT_EINVAL;
}

bool wh_addr_allowed(const struct wh_cidr *allow, size_t nallow,
		     const struct sockaddr *sa, size_t len,
		     enum wh_addr_class *cls)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	uint8_t a[16], v4[4];
	int family;
	size_t i;

	*cls = WH_ADDR_UNSPECIFIED;
	if (sa->sa_family == AF_INET && len >= sizeof(*s4)) {
		family = AF_INET;
		memcpy(a, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(*s6)) {
		family = AF_INET6;
		memcpy(a, &s6->sin6_addr, 16);
		/* the allowlist sees ::ffff:127.0.0.1 as 127.0.0.1 */
		if (wh_v6_inner_v4(a, v4)) {
			family = AF_INET;
			memcpy(a, v4, 4);
		}
	} else {
		return false;			/* not IP: never */
	}
	*cls = wh_addr_class_of(family, a);
	for (i = 0; i < nallow; i++)
		if (wh_cidr_has(&allow[i], family, a))
			return true;
	return *cls == WH_ADDR_PUBLIC;
}
