/*
 * config.h - the configuration file and its CHAT_* environment overrides.
 *
 * File format: `key = value` lines, `[section]` headers, `#` or `;`
 * comments, blank lines.  Keys are addressed as "section.key" ("key" for
 * lines before any section).  The environment overrides the file:
 * "gateway.port" is CHAT_GATEWAY_PORT, "data_dir" is CHAT_DATA_DIR (dots
 * and dashes become underscores, upper case).
 *
 * Errors name the key and the file line: "config: 'gateway.port' must be
 * an integer from 1 to 65535".
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* path may be NULL (environment only).  A missing file is an error only
 * when must_exist.  On failure *out is NULL and err holds the reason. */
int config_load(struct config **out, const char *path, bool must_exist,
		char *err, size_t errlen);
void config_free(struct config *cfg);

/* Sets a value as if read from the file (used for defaults and tests);
 * the environment still wins. */
int config_set(struct config *cfg, const char *key, const char *value);

/* The value (environment first, then file) or def.  The pointer stays
 * valid until config_free. */
const char *config_get(const struct config *cfg, const char *key,
		       const char *def);
/* Typed getters: def when unset; CHAT_EINVAL with a message naming the key
 * when set but malformed or out of [min, max]. */
int config_get_int(const struct config *cfg, const char *key, long min,
		   long max, long def, long *out, char *err, size_t errlen);
int config_get_bool(const struct config *cfg, const char *key, bool def,
		    bool *out, char *err, size_t errlen);
/* One of choices (NULL-terminated), else CHAT_EINVAL naming the key. */
int config_get_enum(const struct config *cfg, const char *key,
		    const char *const *choices, const char *def,
		    const char **out, char *err, size_t errlen);

/* Calls fn for each key of a section ("routes" -> "routes.x"), file
 * order; the key passed is without the section prefix. */
void config_each(const struct config *cfg, const char *section,
		 void (*fn)(void *arg, const char *key, const char *value),
		 void *arg);

#endif
