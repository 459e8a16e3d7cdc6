/*
 * config.c - the configuration file and its CHAT_* environment overrides
 * (format in config.h).
 *
 * Rules beyond the header:
 * - Keys and values are trimmed; a value wrapped in double quotes loses
 *   them ("a b" -> a b), nothing else is unescaped.  There are no inline
 *   comments: '#' inside a value is part of it (URIs contain '#').
 * - A line that is not a comment, a section or key = value is an error
 *   naming file and line, as is "[section" without "]".
 * - A key set twice keeps its first position and takes the last value.
 * - The environment is read once, in config_load (a snapshot of every
 *   CHAT_* variable), so later setenv() calls have no effect and lookups
 *   are safe from any thread.  The variable of a key is "CHAT_" + the key
 *   upper-cased with every character other than a letter or digit turned
 *   into '_' (so dots and dashes become underscores).
 * - config_each visits the keys of the file and of config_set, with the
 *   environment's value when one overrides them; keys that exist only in
 *   the environment are not visited (a variable name cannot be mapped
 *   back to a key).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_ENV_PREFIX "CHAT_"

extern char **environ;

struct config_entry {
	char *key;		/* owned, "section.key" or "key" */
	char *value;		/* owned */
	size_t sec_len;		/* length of the section in key */
	char *env_name;		/* owned, CHAT_* name for this key */
	const char *origin;	/* where the value comes from (file path) */
	unsigned line;		/* file line, 0 for config_set */
};

struct config_var {
	char *name;		/* owned, e.g. "CHAT_GATEWAY_PORT" */
	char *value;		/* owned */
};

struct config {
	struct config_entry *entries;	/* owned array, file order */
	size_t n, cap;
	struct config_var *env;		/* owned snapshot of CHAT_* */
	size_t nenv;
	char *path;			/* owned, the file read (or NULL) */
};

/* "CHAT_" + key upper-cased, non-alphanumerics as '_'; caller frees. */
static char *config_env_name(const char *key)
{
	size_t plen = strlen(CONFIG_ENV_PREFIX), klen = strlen(key), i;
	char *name = malloc(plen + klen + 1);

	if (!name)
		return NULL;
	memcpy(name, CONFIG_ENV_PREFIX, plen);
	for (i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)key[i];

		name[plen + i] = isalnum(c) ? (char)toupper(c) : '_';
	}
	name[plen + klen] = '\0';
	return name;
}

static int config_env_snapshot(struct config *cfg)
{
	size_t plen = strlen(CONFIG_ENV_PREFIX), n = 0, i;
	char **e;

	for (e = environ; e && *e; e++)
		if (strncmp(*e, CONFIG_ENV_PREFIX, plen) == 0 &&
		    strchr(*e, '='))
			n++;
	if (n == 0)
		return 0;
	cfg->env = calloc(n, sizeof(*cfg->env));
	if (!cfg->env)
		return CHAT_ENOMEM;
	for (e = environ, i = 0; e && *e && i < n; e++) {
		const char *eq;

		if (strncmp(*e, CONFIG_ENV_PREFIX, plen) != 0)
			continue;
		eq = strchr(*e, '=');
		if (!eq)
			continue;
		cfg->env[i].name = strndup(*e, (size_t)(eq - *e));
		cfg->env[i].value = strdup(eq + 1);
		cfg->nenv = ++i;
		if (!cfg->env[i - 1].name || !cfg->env[i - 1].value)
			return CHAT_ENOMEM;
	}
	return 0;
}

static const char *config_env_get(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nenv; i++)
		if (strcmp(cfg->env[i].name, name) == 0)
			return cfg->env[i].value;
	return NULL;
}

static struct config_entry *config_find(const struct config *cfg,
					const char *key)
{
	size_t i;

	for (i = 0; i < cfg->n; i++)
		if (strcmp(cfg->entries[i].key, key) == 0)
			return &cfg->entries[i];
	return NULL;
}

/* Adds or replaces key; sec_len is the length of its section prefix. */
static int config_put(struct config *cfg, const char *key, size_t sec_len,
		      const char *value, size_t vlen, unsigned line)
{
	struct config_entry *e = config_find(cfg, key);
	char *v = strndup(value, vlen);

	if (!v)
		return CHAT_ENOMEM;
	if (e) {
		free(e->value);
		e->value = v;
		e->line = line;
		e->origin = line ? cfg->path : NULL;
		return 0;
	}
	if (cfg->n == cfg->cap) {
		size_t ncap = cfg->cap ? cfg->cap * 2 : 16;
		struct config_entry *p;

		p = realloc(cfg->entries, ncap * sizeof(*p));
		if (!p) {
			free(v);
			return CHAT_ENOMEM;
		}
		cfg->entries = p;
		cfg->cap = ncap;
	}
	e = &cfg->entries[cfg->n];
	e->key = strdup(key);
	e->env_name = config_env_name(key);
	if (!e->key || !e->env_name) {
		free(e->key);
		free(e->env_name);
		free(v);
		return CHAT_ENOMEM;
	}
	e->value = v;
	e->sec_len = sec_len;
	e->line = line;
	e->origin = line ? cfg->path : NULL;
	cfg->n++;
	return 0;
}

/* Trims blanks at both ends of [*s, *s + *len). */
static void config_trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* Parses the file text; err gets "config: FILE:LINE: what". */
static int config_parse(struct config *cfg, const char *text, size_t len,
			char *err, size_t errlen)
{
	char section[256] = "", key[512];
	size_t pos = 0;
	unsigned lineno = 0;
	int rc;

	while (pos < len) {
		const char *line = text + pos, *nl, *eq, *k, *v;
		size_t llen, klen, vlen, slen;

		nl = memchr(line, '\n', len - pos);
		llen = nl ? (size_t)(nl - line) : len - pos;
		pos += llen + (nl ? 1 : 0);
		lineno++;
		config_trim(&line, &llen);
		if (llen == 0 || line[0] == '#' || line[0] == ';')
			continue;
		if (memchr(line, '\0', llen)) {
			chat_errf(err, errlen, "config: %s:%u: NUL byte",
				   cfg->path, lineno);
			return CHAT_EPARSE;
		}
		if (line[0] == '[') {
			const char *s = line + 1;

			if (line[llen - 1] != ']') {
				chat_errf(err, errlen, "config: %s:%u: "
					   "unterminated section", cfg->path,
					   lineno);
				return CHAT_EPARSE;
			}
			slen = llen - 2;
			config_trim(&s, &slen);
			if (slen == 0 || slen >= sizeof(section) ||
			    memchr(s, '[', slen) || memchr(s, ']', slen)) {
				chat_errf(err, errlen,
					   "config: %s:%u: bad section name",
					   cfg->path, lineno);
				return CHAT_EPARSE;
			}
			memcpy(section, s, slen);
			section[slen] = '\0';
			continue;
		}
		eq = memchr(line, '=', llen);
		if (!eq) {
			chat_errf(err, errlen,
				   "config: %s:%u: expected 'key = value'",
				   cfg->path, lineno);
			return CHAT_EPARSE;
		}
		k = line;
		klen = (size_t)(eq - line);
		v = eq + 1;
		vlen = llen - klen - 1;
		config_trim(&k, &klen);
		config_trim(&v, &vlen);
		if (klen == 0) {
			chat_errf(err, errlen, "config: %s:%u: missing key",
				   cfg->path, lineno);
			return CHAT_EPARSE;
		}
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}
		slen = strlen(section);
		if (slen + 1 + klen >= sizeof(key)) {
			chat_errf(err, errlen, "config: %s:%u: key too long",
				   cfg->path, lineno);
			return CHAT_EPARSE;
		}
		if (slen)
			snprintf(key, sizeof(key), "%s.%.*s", section,
				 (int)klen, k);
		else
			snprintf(key, sizeof(key), "%.*s", (int)klen, k);
		rc = config_put(cfg, key, slen, v, vlen, lineno);
		if (rc < 0) {
			chat_errf(err, errlen, "config: out of memory");
			return rc;
		}
	}
	return 0;
}

int config_load(struct config **out, const char *path, bool must_exist,
		char *err, size_t errlen)
{
	struct config *cfg;
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		chat_errf(err, errlen, "config: out of memory");
		return CHAT_ENOMEM;
	}
	rc = config_env_snapshot(cfg);
	if (rc < 0) {
		chat_errf(err, errlen, "config: out of memory");
		goto out;
	}
	if (path) {
		cfg->path = strdup(path);
		if (!cfg->path) {
			rc = CHAT_ENOMEM;
			chat_errf(err, errlen, "config: out of memory");
			goto out;
		}
		rc = util_read_file(path, CONFIG_FILE_MAX, &text, &len);
		if (rc == CHAT_ENOTFOUND && !must_exist) {
			rc = 0;
		} else if (rc == CHAT_ETOOBIG) {
			chat_errf(err, errlen,
				   "config: '%s' is larger than %d bytes",
				   path, CONFIG_FILE_MAX);
			goto out;
		} else if (rc < 0) {
			chat_errf(err, errlen, "config: cannot read '%s': %s",
				   path, rc == CHAT_ENOTFOUND ?
				   "no such file" : strerror(errno));
			goto out;
		} else {
			rc = config_parse(cfg, text, len, err, errlen);
			if (rc < 0)
				goto out;
		}
	}
	*out = cfg;
	cfg = NULL;
out:
	free(text);
	config_free(cfg);
	return rc;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n; i++) {
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
		free(cfg->entries[i].env_name);
	}
	for (i = 0; i < cfg->nenv; i++) {
		free(cfg->env[i].name);
		free(cfg->env[i].value);
	}
	free(cfg->entries);
	free(cfg->env);
	free(cfg->path);
	free(cfg);
}

int config_set(struct config *cfg, const char *key, const char *value)
{
	const char *dot;

	if (!cfg || !key || !*key || !value)
		return CHAT_EINVAL;
	dot = strchr(key, '.');
	return config_put(cfg, key, dot ? (size_t)(dot - key) : 0, value,
			  strlen(value), 0);
}

/* The value of key and, for messages, where it came from. */
static const char *config_lookup(const struct config *cfg, const char *key,
				 char *where, size_t wlen)
{
	const struct config_entry *e;
	const char *v;
	char *name;

	if (where && wlen)
		where[0] = '\0';
	if (!cfg || !key)
		return NULL;
	e = config_find(cfg, key);
	if (e) {
		v = config_env_get(cfg, e->env_name);
		if (v) {
			if (where)
				snprintf(where, wlen, " (from %s)",
					 e->env_name);
			return v;
		}
		if (where && e->line)
			snprintf(where, wlen, " (at %s:%u)", e->origin,
				 e->line);
		return e->value;
	}
	if (cfg->nenv == 0)
		return NULL;
	name = config_env_name(key);
	if (!name)
		return NULL;
	v = config_env_get(cfg, name);
	if (v && where)
		snprintf(where, wlen, " (from %s)", name);
	free(name);
	return v;
}

const char *config_get(const struct config *cfg, const char *key,
		       const char *def)
{
	const char *v = config_lookup(cfg, key, NULL, 0);

	return v ? v : def;
}

int config_get_int(const struct config *cfg, const char *key, long min,
		   long max, long def, long *out, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const char *v = config_lookup(cfg, key, where, sizeof(where));
	char *end;
	long n;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || errno == ERANGE || n < min ||
	    n > max || isspace((unsigned char)*v)) {
		chat_errf(err, errlen,
			   "config: '%s' must be an integer from %ld to %ld%s",
			   key, min, max, where);
		return CHAT_EINVAL;
	}
	*out = n;
	return 0;
}

int config_get_bool(const struct config *cfg, const char *key, bool def,
		    bool *out, char *err, size_t errlen)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{ "true", true }, { "yes", true }, { "on", true },
		{ "1", true },
		{ "false", false }, { "no", false }, { "off", false },
		{ "0", false },
	};
	char where[PATH_MAX + 64];
	const char *v = config_lookup(cfg, key, where, sizeof(where));
	size_t i;

	if (!v) {
		*out = def;
		return 0;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(v, words[i].word) == 0) {
			*out = words[i].value;
			return 0;
		}
	}
	chat_errf(err, errlen, "config: '%s' must be true or false%s", key,
		   where);
	return CHAT_EINVAL;
}

int config_get_enum(const struct config *cfg, const char *key,
		    const char *const *choices, const char *def,
		    const char **out, char *err, size_t errlen)
{
	char where[PATH_MAX + 64], list[512];
	const char *v = config_lookup(cfg, key, where, sizeof(where));
	size_t i, used = 0;

	if (!v) {
		*out = def;
		return 0;
	}
	for (i = 0; choices && choices[i]; i++) {
		if (strcmp(v, choices[i]) == 0) {
			*out = choices[i];
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; choices && choices[i] && used < sizeof(list); i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? ", " : "", choices[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	chat_errf(err, errlen, "config: '%s' must be one of: %s%s", key, list,
		   where);
	return CHAT_EINVAL;
}

void config_each(const struct config *cfg, const char *section,
		 void (*fn)(void *arg, const char *key, const char *value),
		 void *arg)
{
	size_t i, slen = section ? strlen(section) : 0;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n; i++) {
		const struct config_entry *e = &cfg->entries[i];
		const char *v;

		if (e->sec_len != slen ||
		    (slen && strncmp(e->key, section, slen) != 0))
			continue;
		v = config_env_get(cfg, e->env_name);
		fn(arg, e->key + (slen ? slen + 1 : 0), v ? v : e->value);
	}
}
