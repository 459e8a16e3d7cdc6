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
 * - Key tables (config_schema): a '*' in a key name matches any non-empty
 *   text, dots included (model names hold dots: "model.llama3.2.provider");
 *   a variable matches a key when its name is the key's variable name with
 *   '*' matching any non-empty text.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_NAME_MAX 512		/* longest key name (as in the parser) */
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
	const struct config_schema *schema;	/* borrowed, or NULL */
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

/* A decimal integer in [min, max], nothing else (no blanks). */
static bool config_parse_int(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (isspace((unsigned char)*v))
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || errno == ERANGE || n < min || n > max)
		return false;
	*out = n;
	return true;
}

static bool config_parse_bool(const char *v, bool *out)
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
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(v, words[i].word) == 0) {
			*out = words[i].value;
			return true;
		}
	}
	return false;
}

/* The choice equal to v, or NULL. */
static const char *config_parse_enum(const char *v,
				     const char *const *choices)
{
	size_t i;

	for (i = 0; choices && choices[i]; i++)
		if (strcmp(v, choices[i]) == 0)
			return choices[i];
	return NULL;
}

/* Empty, or an http:// or https:// URL without blanks. */
static bool config_parse_url(const char *v)
{
	const char *p;

	if (!*v)
		return true;
	if (strncasecmp(v, "http://", 7) != 0 &&
	    strncasecmp(v, "https://", 8) != 0)
		return false;
	for (p = v; *p; p++)
		if (!isgraph((unsigned char)*p))
			return false;
	return true;
}

static void config_enum_error(const char *key, const char *const *choices,
			      const char *where, char *err, size_t errlen)
{
	char list[512];
	size_t i, used = 0;

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
}

int config_get_int(const struct config *cfg, const char *key, long min,
		   long max, long def, long *out, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const char *v = config_lookup(cfg, key, where, sizeof(where));

	if (!v) {
		*out = def;
		return 0;
	}
	if (!config_parse_int(v, min, max, out)) {
		chat_errf(err, errlen,
			   "config: '%s' must be an integer from %ld to %ld%s",
			   key, min, max, where);
		return CHAT_EINVAL;
	}
	return 0;
}

int config_get_bool(const struct config *cfg, const char *key, bool def,
		    bool *out, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const char *v = config_lookup(cfg, key, where, sizeof(where));

	if (!v) {
		*out = def;
		return 0;
	}
	if (!config_parse_bool(v, out)) {
		chat_errf(err, errlen, "config: '%s' must be true or false%s",
			   key, where);
		return CHAT_EINVAL;
	}
	return 0;
}

int config_get_enum(const struct config *cfg, const char *key,
		    const char *const *choices, const char *def,
		    const char **out, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const char *v = config_lookup(cfg, key, where, sizeof(where));

	if (!v) {
		*out = def;
		return 0;
	}
	*out = config_parse_enum(v, choices);
	if (!*out) {
		config_enum_error(key, choices, where, err, errlen);
		return CHAT_EINVAL;
	}
	return 0;
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

void config_each_under(const struct config *cfg, const char *prefix,
		       void (*fn)(void *arg, const char *key,
				  const char *value),
		       void *arg)
{
	size_t i, plen = strlen(prefix);

	if (!cfg)
		return;
	for (i = 0; i < cfg->n; i++) {
		const struct config_entry *e = &cfg->entries[i];
		const char *v;

		if (strncmp(e->key, prefix, plen) != 0 ||
		    e->key[plen] != '.')
			continue;
		v = config_env_get(cfg, e->env_name);
		fn(arg, e->key + plen + 1, v ? v : e->value);
	}
}

/* ---- key tables ------------------------------------------------------ */

void config_use_schema(struct config *cfg, const struct config_schema *schema)
{
	if (cfg)
		cfg->schema = schema;
}

/* True when s matches pat, where '*' matches any non-empty text. */
static bool config_glob(const char *pat, const char *s)
{
	size_t i;

	for (; *pat && *pat != '*'; pat++, s++)
		if (*pat != *s)
			return false;
	if (!*pat)
		return !*s;
	for (i = 1; s[i - 1]; i++)
		if (config_glob(pat + 1, s + i))
			return true;
	return false;
}

/* The variable form of a key name into out ("model.*.x" ->
 * "CHAT_MODEL_*_X"): like config_env_name, but '*' stays.  False when it
 * does not fit. */
static bool config_env_form(const char *key, char *out, size_t outlen)
{
	size_t plen = strlen(CONFIG_ENV_PREFIX), i;

	if (plen + strlen(key) >= outlen)
		return false;
	memcpy(out, CONFIG_ENV_PREFIX, plen);
	for (i = 0; key[i]; i++) {
		unsigned char c = (unsigned char)key[i];

		out[plen + i] = c == '*' ? '*' : isalnum(c) ? (char)toupper(c)
							     : '_';
	}
	out[plen + i] = '\0';
	return true;
}

/* Does name (a key, or a variable when env) match k for the daemon dname
 * (NULL unless k is CONFIG_KEY_PER_DAEMON)? */
static bool config_key_matches(const struct config_key *k, const char *dname,
			       const char *name, bool env)
{
	char full[CONFIG_NAME_MAX], form[CONFIG_NAME_MAX + 8];
	const char *pat = k->name;

	if (dname) {
		if ((size_t)snprintf(full, sizeof(full), "%s.%s", dname,
				     k->name) >= sizeof(full))
			return false;
		pat = full;
	}
	if (!env)
		return config_glob(pat, name);
	return config_env_form(pat, form, sizeof(form)) &&
	       config_glob(form, name);
}

/* Calls fn with each daemon name of the schema until it returns true:
 * the fixed ones, the running daemon's own, and the values of the
 * targets section (the gateway's upstreams). */
static bool config_daemons_any(const struct config *cfg,
			       bool (*fn)(const char *dname, void *arg),
			       void *arg)
{
	const struct config_schema *s = cfg->schema;
	size_t i, slen;

	for (i = 0; s->daemons && s->daemons[i]; i++)
		if (fn(s->daemons[i], arg))
			return true;
	if (s->self && fn(s->self, arg))
		return true;
	if (!s->targets)
		return false;
	slen = strlen(s->targets);
	for (i = 0; i < cfg->n; i++) {
		const struct config_entry *e = &cfg->entries[i];
		const char *v;

		if (e->sec_len != slen || strncmp(e->key, s->targets, slen))
			continue;
		v = config_env_get(cfg, e->env_name);
		if (fn(v ? v : e->value, arg))
			return true;
	}
	return false;
}

struct config_match_ctx {
	const struct config_key *k;
	const char *name;
	bool env;
};

static bool config_match_daemon(const char *dname, void *arg)
{
	const struct config_match_ctx *m = arg;

	return config_key_matches(m->k, dname, m->name, m->env);
}

/* The entry of the key (or CHAT_* variable when env) name, or NULL. */
static const struct config_key *config_match(const struct config *cfg,
					     const char *name, bool env)
{
	const struct config_key *const *t;
	const struct config_key *k;

	if (!cfg || !cfg->schema || !cfg->schema->tables)
		return NULL;
	for (t = cfg->schema->tables; *t; t++) {
		for (k = *t; k->name; k++) {
			struct config_match_ctx m = { k, name, env };

			if (k->flags & CONFIG_KEY_PER_DAEMON) {
				if (config_daemons_any(cfg,
						       config_match_daemon,
						       &m))
					return k;
			} else if (config_key_matches(k, NULL, name, env)) {
				return k;
			}
		}
	}
	return NULL;
}

const struct config_key *config_key_find(const struct config *cfg,
					 const char *key)
{
	return key ? config_match(cfg, key, false) : NULL;
}

/* Is the variable one the schema says is not a key (CHAT_CONFIG...)? */
static bool config_not_key(const struct config_schema *s, const char *var)
{
	size_t i, n;

	for (i = 0; s->not_keys && s->not_keys[i]; i++) {
		n = strlen(s->not_keys[i]);
		if (n && s->not_keys[i][n - 1] == '*' &&
		    strncmp(var, s->not_keys[i], n - 1) == 0)
			return true;
		if (strcmp(var, s->not_keys[i]) == 0)
			return true;
	}
	return false;
}

/* One parsed value of any type. */
struct config_value {
	long i;
	bool b;
	const char *e;		/* the choice, in the table */
};

/* Checks v, the value of key (entry k) from where, against the table. */
static int config_check(const struct config_key *k, const char *key,
			const char *v, const char *where,
			struct config_value *out, char *err, size_t errlen)
{
	switch (k->type) {
	case CONFIG_INT:
		if (config_parse_int(v, k->min, k->max, &out->i))
			return 0;
		chat_errf(err, errlen,
			  "config: '%s' must be an integer from %ld to %ld%s",
			  key, k->min, k->max, where);
		return CHAT_EINVAL;
	case CONFIG_BOOL:
		if (config_parse_bool(v, &out->b))
			return 0;
		chat_errf(err, errlen, "config: '%s' must be true or false%s",
			  key, where);
		return CHAT_EINVAL;
	case CONFIG_ENUM:
		out->e = config_parse_enum(v, k->choices);
		if (out->e)
			return 0;
		config_enum_error(key, k->choices, where, err, errlen);
		return CHAT_EINVAL;
	case CONFIG_URL:
		if (config_parse_url(v))
			return 0;
		chat_errf(err, errlen, "config: '%s' must be an http:// or "
			  "https:// URL without blanks%s", key, where);
		return CHAT_EINVAL;
	case CONFIG_STRING:
		return 0;
	}
	chat_errf(err, errlen, "config: '%s' has no type", key);
	return CHAT_EINVAL;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	struct config_value val;
	const struct config_key *k;
	const char *v;
	size_t i;
	int rc;

	if (!cfg || !cfg->schema) {
		chat_errf(err, errlen, "config: no key table");
		return CHAT_EINVAL;
	}
	/* the file (and config_set) in file order, then the environment */
	for (i = 0; i < cfg->n; i++) {
		const struct config_entry *e = &cfg->entries[i];

		k = config_match(cfg, e->key, false);
		if (!k) {
			if (e->line)
				chat_errf(err, errlen, "config: unknown key "
					  "'%s' (at %s:%u)", e->key, e->origin,
					  e->line);
			else
				chat_errf(err, errlen, "config: unknown key "
					  "'%s'", e->key);
			return CHAT_EINVAL;
		}
		v = config_lookup(cfg, e->key, where, sizeof(where));
		rc = config_check(k, e->key, v, where, &val, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < cfg->nenv; i++) {
		const struct config_var *e = &cfg->env[i];

		if (config_not_key(cfg->schema, e->name))
			continue;
		k = config_match(cfg, e->name, true);
		if (!k) {
			chat_errf(err, errlen, "config: environment variable "
				  "'%s' names no key", e->name);
			return CHAT_EINVAL;
		}
		snprintf(where, sizeof(where), " (from %s)", e->name);
		/* a variable of a pattern names no single key: name it */
		rc = config_check(k, (k->flags & CONFIG_KEY_PER_DAEMON) ||
				  strchr(k->name, '*') ? e->name : k->name,
				  e->value, where, &val, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The entry, value and origin of key for a typed read; the value is
 * NULL when unset.  CHAT_EINVAL when the key is not in the schema. */
static int config_key_get(const struct config *cfg, const char *key,
			  const struct config_key **k, const char **v,
			  char *where, size_t wlen, char *err, size_t errlen)
{
	*k = config_key_find(cfg, key);
	if (!*k) {
		chat_errf(err, errlen, "config: '%s' is not in the key table",
			  key);
		return CHAT_EINVAL;
	}
	*v = config_lookup(cfg, key, where, wlen);
	if (!*v && (*k)->def) {
		*v = (*k)->def;
		snprintf(where, wlen, " (the default)");
	}
	return 0;
}

int config_key_int(const struct config *cfg, const char *key, long *out,
		   char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const struct config_key *k;
	struct config_value val;
	const char *v;
	int rc;

	rc = config_key_get(cfg, key, &k, &v, where, sizeof(where), err,
			    errlen);
	if (rc == 0 && k->type != CONFIG_INT) {
		chat_errf(err, errlen, "config: '%s' is not an integer", key);
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && v)
		rc = config_check(k, key, v, where, &val, err, errlen);
	if (rc == 0 && v)
		*out = val.i;
	return rc;
}

int config_key_bool(const struct config *cfg, const char *key, bool *out,
		    char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const struct config_key *k;
	struct config_value val;
	const char *v;
	int rc;

	rc = config_key_get(cfg, key, &k, &v, where, sizeof(where), err,
			    errlen);
	if (rc == 0 && k->type != CONFIG_BOOL) {
		chat_errf(err, errlen, "config: '%s' is not a boolean", key);
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && v)
		rc = config_check(k, key, v, where, &val, err, errlen);
	if (rc == 0 && v)
		*out = val.b;
	return rc;
}

int config_key_enum(const struct config *cfg, const char *key,
		    const char **out, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	const struct config_key *k;
	struct config_value val;
	const char *v;
	int rc;

	rc = config_key_get(cfg, key, &k, &v, where, sizeof(where), err,
			    errlen);
	if (rc == 0 && k->type != CONFIG_ENUM) {
		chat_errf(err, errlen, "config: '%s' is not a choice", key);
		rc = CHAT_EINVAL;
	}
	if (rc == 0 && v)
		rc = config_check(k, key, v, where, &val, err, errlen);
	if (rc == 0 && v)
		*out = val.e;
	return rc;
}

const char *config_key_str(const struct config *cfg, const char *key)
{
	const struct config_key *k = config_key_find(cfg, key);
	const char *v;

	if (!k)
		return NULL;
	v = config_lookup(cfg, key, NULL, 0);
	return v ? v : k->def;
}
