/*
 * json.c - cJSON helpers: strict parsing of request bodies (no duplicate
 * keys, optionally no \u0000), field getters whose messages name the
 * field, and RFC 3339 times.
 */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "utf8.h"
#include "banned.h"

/* Deepest nesting of arrays and objects a request body may have. */
#define JSON_MAX_DEPTH 64

/* Most bytes of a duplicated key quoted in the error message. */
#define JSON_KEY_SHOWN 64

/* json_parse's flags: what it refuses beyond malformed JSON. */
#define JSON_NO_NUL	0x1	/* the escape \u0000 in a string */

/*
 * The keys of one object at a time, sorted to find duplicates in
 * O(n log n): inline for the usual small objects, on the heap past that.
 * Reused from object to object, so one parse allocates at most once per
 * new high-water mark.
 */
struct json_keys {
	const char *small[32];
	const char **v;			/* small, or owned heap array */
	size_t cap;
};

/*
 * Deepest nesting of [ and { outside strings.  Checked on the raw text
 * before cJSON builds a tree, so a hostile body is refused cheaply and
 * cJSON's recursion stays shallow.
 */
static size_t json_depth(const char *s, size_t len)
{
	size_t i, depth = 0, max = 0;
	int in_str = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return max;
}

/* True when the raw JSON text holds the escape \u0000; a backslash
 * preceded by an odd number of backslashes is itself escaped. */
static bool json_has_nul_escape(const char *s, size_t len)
{
	size_t i, run;

	for (i = 0; i + 6 <= len; i++) {
		if (s[i] != '\\' || memcmp(s + i + 1, "u0000", 5) != 0)
			continue;
		run = 0;
		while (run < i && s[i - 1 - run] == '\\')
			run++;
		if (run % 2 == 0)
			return true;
	}
	return false;
}

static int json_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Bytes of key to quote: at most JSON_KEY_SHOWN, cut on a character
 * boundary so the message stays valid UTF-8 (keys are valid UTF-8). */
static int json_key_shown(const char *key)
{
	size_t n = strnlen(key, JSON_KEY_SHOWN + 1);

	if (n > JSON_KEY_SHOWN) {
		n = JSON_KEY_SHOWN;
		while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

/*
 * CHAT_EPARSE when an object anywhere under item has a key twice.  cJSON
 * keeps both and its lookups find the first, while other parsers (a
 * proxy, a WAF, a log pipeline) may take the last: the two would act on
 * different values.  Keys compare byte for byte, as every lookup here is
 * case-sensitive.  The recursion is bounded by JSON_MAX_DEPTH, checked
 * before the tree was built.
 */
static int json_check_keys(const cJSON *item, struct json_keys *k,
			   char *err, size_t errlen)
{
	const cJSON *c;
	const char **v;
	size_t n = 0, i;
	int rc;

	if (cJSON_IsObject(item)) {
		for (c = item->child; c; c = c->next)
			n++;
		if (n > k->cap) {
			v = realloc(k->v == k->small ? NULL : k->v,
				    n * sizeof(*v));
			if (!v) {
				chat_errf(err, errlen, "out of memory");
				return CHAT_ENOMEM;
			}
			k->v = v;
			k->cap = n;
		}
		n = 0;
		for (c = item->child; c; c = c->next)
			k->v[n++] = c->string ? c->string : "";
		qsort(k->v, n, sizeof(*k->v), json_key_cmp);
		for (i = 1; i < n; i++) {
			if (strcmp(k->v[i - 1], k->v[i]) != 0)
				continue;
			chat_errf(err, errlen, "duplicate key '%.*s'",
				  json_key_shown(k->v[i]), k->v[i]);
			return CHAT_EPARSE;
		}
	}
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return 0;
	for (c = item->child; c; c = c->next) {
		rc = json_check_keys(c, k, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The checks of json_parse_object, and those flags asks for. */
static int json_parse(const char *body, size_t len, int flags, cJSON **out,
		      char *err, size_t errlen)
{
	struct json_keys keys;
	const char *end = NULL;
	char *copy = NULL;
	cJSON *root = NULL;
	int rc = 0;

	*out = NULL;
	keys.v = keys.small;
	keys.cap = sizeof(keys.small) / sizeof(keys.small[0]);
	if (!body && len) {
		chat_errf(err, errlen, "malformed JSON");
		return CHAT_EPARSE;
	}
	if (!utf8_valid(body, len)) {
		/* Also refuses NUL bytes, which cJSON would stop at. */
		chat_errf(err, errlen, "body is not valid UTF-8");
		return CHAT_EPARSE;
	}
	if (json_depth(body, len) > JSON_MAX_DEPTH) {
		chat_errf(err, errlen, "JSON nested deeper than %d levels",
			 JSON_MAX_DEPTH);
		return CHAT_EPARSE;
	}
	/* A NUL-terminated copy: cJSON then cannot read past the body. */
	copy = malloc(len + 1);
	if (!copy) {
		chat_errf(err, errlen, "out of memory");
		rc = CHAT_ENOMEM;
		goto out;
	}
	if (len)
		memcpy(copy, body, len);
	copy[len] = '\0';
	root = cJSON_ParseWithOpts(copy, &end, 0);
	if (!root) {
		/* cJSON returns NULL for allocation failures too; they are
		 * indistinguishable here and rare enough to call malformed. */
		chat_errf(err, errlen, "malformed JSON");
		rc = CHAT_EPARSE;
		goto out;
	}
	while (end && (*end == ' ' || *end == '\t' || *end == '\n' ||
		       *end == '\r'))
		end++;
	if (!end || *end != '\0') {
		chat_errf(err, errlen, "malformed JSON: trailing data");
		rc = CHAT_EPARSE;
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		chat_errf(err, errlen, "body must be a JSON object");
		rc = CHAT_EPARSE;
		goto out;
	}
	/* Before the keys: "a\u0000b" and "a\u0000c" both decode to "a",
	 * and the NUL is the better reason. */
	if ((flags & JSON_NO_NUL) && json_has_nul_escape(body, len)) {
		chat_errf(err, errlen, "strings must not contain '\\u0000'");
		rc = CHAT_EPARSE;
		goto out;
	}
	rc = json_check_keys(root, &keys, err, errlen);
	if (rc < 0)
		goto out;
	*out = root;
	root = NULL;
out:
	if (keys.v != keys.small)
		free(keys.v);
	cJSON_Delete(root);
	free(copy);
	return rc;
}

int json_parse_object(const char *body, size_t len, cJSON **out,
		      char *err, size_t errlen)
{
	return json_parse(body, len, 0, out, err, errlen);
}

int json_parse_body(const char *body, size_t len, cJSON **out, char *err,
		    size_t errlen)
{
	return json_parse(body, len, JSON_NO_NUL, out, err, errlen);
}

/* The field, or NULL with rc set for a missing one. */
static const cJSON *json_field(const cJSON *obj, const char *key,
			       bool required, int *rc, char *err,
			       size_t errlen)
{
	const cJSON *item = NULL;

	if (cJSON_IsObject(obj))
		item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (item) {
		*rc = 0;
		return item;
	}
	if (required) {
		chat_errf(err, errlen, "'%s' is required", key);
		*rc = CHAT_EINVAL;
	} else {
		*rc = CHAT_ENOTFOUND;
	}
	return NULL;
}

int json_get_string(const cJSON *obj, const char *key, bool required,
		    size_t minlen, size_t maxlen, const char **out,
		    char *err, size_t errlen)
{
	const cJSON *item;
	size_t len;
	int rc;

	item = json_field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	if (!cJSON_IsString(item) || !item->valuestring) {
		chat_errf(err, errlen, "'%s' must be a string", key);
		return CHAT_EINVAL;
	}
	len = strlen(item->valuestring);
	if (!utf8_valid(item->valuestring, len)) {
		chat_errf(err, errlen, "'%s' is not valid UTF-8", key);
		return CHAT_EINVAL;
	}
	if (len < minlen || len > maxlen) {
		if (minlen == 0)
			chat_errf(err, errlen, "'%s' must be at most %zu bytes",
				 key, maxlen);
		else
			chat_errf(err, errlen, "'%s' must be %zu to %zu bytes",
				 key, minlen, maxlen);
		return CHAT_EINVAL;
	}
	*out = item->valuestring;
	return 0;
}

int json_get_bool(const cJSON *obj, const char *key, bool required,
		  bool *out, char *err, size_t errlen)
{
	const cJSON *item;
	int rc;

	item = json_field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	if (!cJSON_IsBool(item)) {
		chat_errf(err, errlen, "'%s' must be a boolean", key);
		return CHAT_EINVAL;
	}
	*out = cJSON_IsTrue(item);
	return 0;
}

int json_get_int(const cJSON *obj, const char *key, bool required,
		 int64_t min, int64_t max, int64_t *out, char *err,
		 size_t errlen)
{
	const cJSON *item;
	double d;
	int64_t v;
	int rc;

	item = json_field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	if (!cJSON_IsNumber(item))
		goto bad;
	d = item->valuedouble;
	/* 2^63 is exact as a double; anything at or past it would overflow
	 * the conversion. */
	if (!isfinite(d) || d != floor(d) || d >= 9223372036854775808.0 ||
	    d < -9223372036854775808.0)
		goto bad;
	v = (int64_t)d;
	if (v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	chat_errf(err, errlen, "'%s' must be an integer from %lld to %lld", key,
		 (long long)min, (long long)max);
	return CHAT_EINVAL;
}

const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *json_print(const cJSON *item)
{
	if (!item)
		return NULL;
	/* cJSON's API lacks const, it does not modify the tree. */
	return cJSON_PrintUnformatted((cJSON *)item);
}

void json_time_format(int64_t unix_ms, char out[32])
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	time_t t;
	struct tm tm;

	if (ms < 0) {		/* floor division for times before 1970 */
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 1000) {
		snprintf(out, 25, "%s", "0000-00-00T00:00:00.000Z");
		return;
	}
	/* Years 0..9999 keep this at 19 characters (+ ".mmmZ" = 24). */
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 13, ".%03dZ", (int)(ms % 1000));
}

cJSON *json_add_time(cJSON *obj, const char *key, int64_t unix_ms)
{
	char ts[32];

	if (unix_ms <= 0)
		return cJSON_AddNullToObject(obj, key);
	json_time_format(unix_ms, ts);
	return cJSON_AddStringToObject(obj, key, ts);
}
