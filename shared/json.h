/*
 * json.h - helpers on cJSON for request bodies and responses.
 *
 * Field getters report precise errors for the API's error envelope:
 * the message names the field ("'username' must be a string").
 */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* Parses a request body that must be a JSON object and valid UTF-8.
 * CHAT_EPARSE for malformed JSON, broken UTF-8, a non-object, or a key
 * twice in one object at any depth (cJSON would take the first, another
 * parser the last; keys compare case-sensitively); err says which, and
 * names a duplicated key.  CHAT_ENOMEM without memory.  *out is owned by
 * the caller (cJSON_Delete). */
int json_parse_object(const char *body, size_t len, cJSON **out,
		      char *err, size_t errlen);

/* json_parse_object for a request body whose strings are stored or sent
 * to a model: also CHAT_EPARSE when the text holds the escape \u0000,
 * which cJSON decodes into a NUL that would silently cut the string
 * short.  What clients send (bodies, WebSocket frames) goes through
 * this. */
int json_parse_body(const char *body, size_t len, cJSON **out, char *err,
		    size_t errlen);

/* Field getters.  Missing field: CHAT_ENOTFOUND when !required (out left
 * untouched), CHAT_EINVAL when required.  Wrong type: CHAT_EINVAL.
 * Strings are checked for [minlen, maxlen] bytes.  Returned strings point
 * into obj. */
int json_get_string(const cJSON *obj, const char *key, bool required,
		    size_t minlen, size_t maxlen, const char **out,
		    char *err, size_t errlen);
int json_get_bool(const cJSON *obj, const char *key, bool required,
		  bool *out, char *err, size_t errlen);
int json_get_int(const cJSON *obj, const char *key, bool required,
		 int64_t min, int64_t max, int64_t *out, char *err,
		 size_t errlen);

/* obj[key] when it is a string (pointing into obj), else NULL: for
 * reading answers, where absent and mistyped are the same. */
const char *json_str(const cJSON *obj, const char *key);

/* Unformatted text of item; caller frees; NULL on ENOMEM. */
char *json_print(const cJSON *item);

/* RFC 3339 UTC with milliseconds, "2026-11-24T04:31:01.123Z", for a unix
 * time in milliseconds.  out must hold 25 bytes. */
void json_time_format(int64_t unix_ms, char out[32]);
/* Adds key: RFC 3339 string of unix_ms (or null when unix_ms <= 0). */
cJSON *json_add_time(cJSON *obj, const char *key, int64_t unix_ms);

#endif
