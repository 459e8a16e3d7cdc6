/*
 * web-path.c - request paths, file types, hashed names and entity tags
 * of the web page's file server (see web-path.h).
 */
#include "web-path.h"

#include <string.h>
#include <strings.h>

#include "banned.h"

/* Extension -> type; compress for what gzip shrinks (fonts and PNG are
 * compressed already). */
static const struct {
	const char *ext;
	const char *type;
	bool compress;
} web_types[] = {
	{ "css", "text/css; charset=utf-8", true },
	{ "html", "text/html; charset=utf-8", true },
	{ "ico", "image/x-icon", true },
	{ "js", "text/javascript; charset=utf-8", true },
	{ "json", "application/json", true },
	{ "map", "application/json", true },
	{ "mjs", "text/javascript; charset=utf-8", true },
	{ "png", "image/png", false },
	{ "svg", "image/svg+xml", true },
	{ "txt", "text/plain; charset=utf-8", true },
	{ "webmanifest", "application/manifest+json", true },
	{ "woff2", "font/woff2", false },
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

enum web_path_kind web_path_key(const char *path, char *key, size_t keylen)
{
	const char *p, *seg;
	size_t len;
	bool dot = false;

	if (!path || path[0] != '/' || keylen == 0)
		return WEB_PATH_BAD;
	len = strlen(path);
	if (len > WEB_PATH_MAX)
		return WEB_PATH_TOO_LONG;
	if (len == 1) {
		if (keylen <= strlen("index.html"))
			return WEB_PATH_BAD;
		memcpy(key, "index.html", sizeof("index.html"));
		return WEB_PATH_FILE;
	}
	if (len > keylen)	/* key holds len - 1 bytes and a NUL */
		return WEB_PATH_TOO_LONG;
	/* each segment: non-empty, not starting with '.', no byte that
	 * only an attack would send */
	for (seg = path + 1; ; seg = p + 1) {
		p = seg;
		if (*p == '/' || *p == '\0' || *p == '.')
			return WEB_PATH_BAD;
		dot = false;
		for (; *p && *p != '/'; p++) {
			unsigned char c = (unsigned char)*p;

			if (c < 0x20 || c == 0x7f || c == '\\' || c == '%')
				return WEB_PATH_BAD;
			if (c == '.')
				dot = true;
		}
		if (*p == '\0')
			break;
	}
	memcpy(key, path + 1, len);	/* with the NUL */
	/* a dot in the last segment: a file's name, whose absence is a 404
	 * (a missing script must not come back as HTML) */
	return dot ? WEB_PATH_FILE : WEB_PATH_ROUTE;
}

const char *web_path_type(const char *name, bool *compress)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash + 1 : name, '.');
	size_t i;

	*compress = false;
	if (!dot)
		return "application/octet-stream";
	for (i = 0; i < sizeof(web_types) / sizeof(web_types[0]); i++)
		if (strcmp(dot + 1, web_types[i].ext) == 0) {
			*compress = web_types[i].compress;
			return web_types[i].type;
		}
	return "application/octet-stream";
}

bool web_path_hashed(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	const char *p, *q;

	if (*base == '\0')
		return false;
	/* "<stem>-<hex>.<ext>": a non-empty stem, then the hex run right
	 * before the first '.' that follows it */
	for (p = strchr(base + 1, '-'); p; p = strchr(p + 1, '-')) {
		size_t n = 0;

		for (q = p + 1; is_hex(*q); q++)
			n++;
		if (n >= 8 && n <= 16 && *q == '.' && q[1] != '\0' &&
		    !strchr(q, '-'))
			return true;
	}
	return false;
}

bool web_etag_match(const char *inm, const char *tag)
{
	size_t tlen = strlen(tag);
	const char *p = inm;

	if (!inm)
		return false;
	while (*p) {
		const char *start, *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*') {
			/* "*" alone: any current representation */
			return true;
		}
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"')
			return false;	/* malformed: no match, send the body */
		start = p;
		end = strchr(p + 1, '"');
		if (!end)
			return false;
		if ((size_t)(end + 1 - start) == tlen &&
		    memcmp(start, tag, tlen) == 0)
			return true;
		p = end + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return false;
	}
	return false;
}

/* True when the parameters of a coding (";q=0.5") leave it wanted: a
 * q of 0 (0, 0.0, 0.000) refuses it. */
static bool coding_wanted(const char *p, const char *end)
{
	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') &&
		    p[1] == '=') {
			p += 2;
			if (p < end && *p == '0') {
				for (p++; p < end && (*p == '.' || *p == '0');
				     p++)
					;
				return !(p == end || *p == ';' || *p == ' ' ||
					 *p == '\t');
			}
			return true;
		}
		while (p < end && *p != ';')
			p++;
	}
	return true;
}

bool web_accepts_gzip(const char *ae)
{
	const char *p = ae;
	bool star = false;

	if (!ae)
		return false;
	while (*p) {
		const char *name, *name_end, *end;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		name = p;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		for (name_end = name; name_end < end && *name_end != ';' &&
		     *name_end != ' ' && *name_end != '\t'; name_end++)
			;
		n = (size_t)(name_end - name);
		/* gzip named is the answer; "*" speaks for it only when
		 * it is not named (RFC 9110 12.5.3) */
		if ((n == 4 && strncasecmp(name, "gzip", 4) == 0) ||
		    (n == 6 && strncasecmp(name, "x-gzip", 6) == 0))
			return coding_wanted(name_end, end);
		if (n == 1 && *name == '*')
			star = coding_wanted(name_end, end);
		p = end;
	}
	return star;
}
