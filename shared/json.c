/*
 * json.c - cJSON helpers: strict parsing of request bodies, field getters
 * whose messages name the field, and RFC 3339 times.
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

int json_parse_object(const char *body, size_t len, cJSON **out,
		      char *err, size_t errlen)
{
	const char *end = NULL;
	char *copy = NULL;
	cJSON *root = NULL;
	int rc = 0;

	*out = NULL;
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
	*out = root;
	root = NULL;
out:
	cJSON_Delete(root);
	free(copy);
	return rc;
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

int json_parse_body(const char *body, size_t len, cJSON **out, char *err,
		    size_t errlen)
{
	int rc = json_parse_object(body, len, out, err, errlen);

	if (rc == 0 && json_has_nul_escape(body, len)) {
		cJSON_Delete(*out);
		*out = NULL;
		chat_errf(err, errlen, "strings must not contain '\\u0000'");
		rc = CHAT_EPARSE;
	}
	return rc;
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
