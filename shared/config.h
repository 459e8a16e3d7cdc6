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

/*
 * Key tables.  Every key a program reads has one entry: its type, bounds,
 * default and a line of help.  config_validate checks a loaded config
 * against the tables (unknown keys in the file, CHAT_* variables that name
 * no key, values of the wrong type or out of bounds), and the config_key_*
 * getters read a key with the table's bounds and default, so that no
 * caller repeats them.
 */
enum config_type {
	CONFIG_INT,		/* decimal integer in [min, max] */
	CONFIG_BOOL,		/* true/false, yes/no, on/off, 1/0 */
	CONFIG_ENUM,		/* one of choices */
	CONFIG_STRING,		/* any text */
	CONFIG_URL,		/* empty, or http:// or https:// without blanks */
};

/* What a name is made of (flags of struct config_key). */
#define CONFIG_KEY_PER_DAEMON 1u	/* "host" is "<daemon>.host" for every
					 * daemon of config_schema.daemons */

struct config_key {
	const char *name;	/* "userd.access_ttl_s"; a '*' stands for any
				 * non-empty text ("model.*.provider") */
	enum config_type type;
	long min, max;		/* CONFIG_INT: the bounds */
	const char *def;	/* default as text; NULL: none, or computed by
				 * the reader (documented in help) */
	const char *const *choices;	/* CONFIG_ENUM, NULL-terminated */
	unsigned flags;		/* CONFIG_KEY_* */
	const char *help;	/* one line, for messages and docs */
};

/* Everything config_validate knows about a program family. */
struct config_schema {
	const struct config_key *const *tables;	/* NULL-terminated; each
						 * table ends with a NULL
						 * name */
	const char *const *daemons;	/* NULL-terminated names of
					 * CONFIG_KEY_PER_DAEMON keys */
	const char *self;		/* one more such name (may be NULL) */
	const char *targets;		/* a section whose values name more
					 * daemons ("routes"), or NULL */
	const char *const *not_keys;	/* CHAT_* variables that are not
					 * keys; "CHAT_TEST_*" is a prefix */
};

/* Makes the getters below use schema (borrowed; it must outlive cfg). */
void config_use_schema(struct config *cfg, const struct config_schema *schema);

/* Checks every key of the file and every CHAT_* variable against the
 * schema: an unknown one is CHAT_EINVAL naming it and its file line or
 * variable; so is a value of the wrong type or out of bounds, naming the
 * key, the bounds and where the value came from. */
int config_validate(const struct config *cfg, char *err, size_t errlen);

/* The table entry of key ("userd.port", "model.x.provider"), or NULL. */
const struct config_key *config_key_find(const struct config *cfg,
					 const char *key);

/* Typed reads through the schema.  An unset key gets the table's default;
 * one without a default leaves *out as the caller set it (a computed
 * default).  CHAT_EINVAL naming the key when the value is malformed or
 * out of the table's bounds, or when the key is not in the schema (a
 * bug). */
int config_key_int(const struct config *cfg, const char *key, long *out,
		   char *err, size_t errlen);
int config_key_bool(const struct config *cfg, const char *key, bool *out,
		    char *err, size_t errlen);
/* *out points into the table's choices. */
int config_key_enum(const struct config *cfg, const char *key,
		    const char **out, char *err, size_t errlen);
/* The value, else the table's default, else NULL (also for a key not in
 * the schema).  Valid until config_free. */
const char *config_key_str(const struct config *cfg, const char *key);

/* Calls fn for each key of a section ("routes" -> "routes.x"), file
 * order; the key passed is without the section prefix. */
void config_each(const struct config *cfg, const char *section,
		 void (*fn)(void *arg, const char *key, const char *value),
		 void *arg);

/* Calls fn for each key under prefix, whatever section it was written
 * in ("price" -> "price.x.input" from [price.x] as well as from
 * [price]), file order; the key passed is without "prefix.". */
void config_each_under(const struct config *cfg, const char *prefix,
		       void (*fn)(void *arg, const char *key,
				  const char *value),
		       void *arg);

#endif
