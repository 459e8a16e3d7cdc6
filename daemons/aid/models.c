/*
 * models.c - the model registry: which upstream providers are active,
 * the named models of the configuration (provider, upstream name, context
 * window, aliases, fallbacks), the models the upstreams list at start,
 * and the resolution of a public model name.
 *
 * Config:
 *   [openai]    base_url (https://api.openai.com/v1), api_key
 *               active when either is set
 *   [ollama]    url; unset: http://127.0.0.1:11434 is probed at start
 *               (aid.ollama_detect) and used when it answers
 *   [anthropic] api_key, base_url (https://api.anthropic.com)
 *               active when either is set
 *   [aid]       models = a, b   named models, each in a [model.NAME]
 *               section: provider (echo, openai, ollama, anthropic),
 *               upstream (default NAME), context_window, aliases = x, y,
 *               fallback = c, d (model names tried in order when NAME's
 *               upstream stays unavailable)
 *
 * Names resolve in this order: a named model, an alias, "echo",
 * "<provider>/<upstream model>" for an active provider, a model Ollama
 * listed, a model the OpenAI upstream listed.
 *
 * Everything is built by models_init before the server starts and only
 * read afterwards, from any thread.  API keys are never logged: messages
 * name keys, not values, and URLs are not printed either (they may carry
 * credentials).
 */
#include "aid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "http-client.h"
#include "http-out.h"
#include "log.h"
#include "url.h"
#include "banned.h"

#define MODELS_MAX 256			/* named models */
#define MODELS_LIST_MAX 64		/* aliases or fallbacks of one */
#define MODELS_DISCOVERED_MAX 1024	/* listed by one upstream */
#define MODELS_PROBE_CONNECT_MS 300
#define MODELS_PROBE_TIMEOUT_MS 2000
#define MODELS_LIST_BYTES ((size_t)4 << 20)
#define MODELS_ECHO_CONTEXT 1000000L

static const struct {
	const char *kind;
	const char *url_key;		/* config key of the base URL */
	const char *key_key;		/* config key of the API key, or NULL */
	const char *default_url;
} provider_table[AID_PROV_COUNT] = {
	[AID_PROV_OPENAI] = { "openai", "openai.base_url", "openai.api_key",
			      "https://api.openai.com/v1" },
	[AID_PROV_OLLAMA] = { "ollama", "ollama.url", NULL,
			      "http://127.0.0.1:11434" },
	[AID_PROV_ANTHROPIC] = { "anthropic", "anthropic.base_url",
				 "anthropic.api_key",
				 "https://api.anthropic.com" },
};

const char *models_prov_name(enum aid_prov p)
{
	return p < AID_PROV_COUNT ? provider_table[p].kind : "echo";
}

static int prov_by_name(const char *name, enum aid_prov *out)
{
	int i;

	if (strcmp(name, "echo") == 0) {
		*out = AID_PROV_ECHO;
		return 0;
	}
	for (i = 0; i < AID_PROV_COUNT; i++)
		if (strcmp(name, provider_table[i].kind) == 0) {
			*out = (enum aid_prov)i;
			return 0;
		}
	return CHAT_ENOTFOUND;
}

/* A model name: 1..AID_MODEL_NAME_MAX printable ASCII bytes without
 * blanks; in the config also without commas (lists are comma-separated). */
static bool name_valid(const char *s, bool in_config)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > AID_MODEL_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || (in_config && s[i] == ','))
			return false;
	return true;
}

static bool name_ok(const char *s)
{
	return name_valid(s, true);
}

/* Splits a comma-separated list into owned trimmed strings. */
static int split_list(const char *s, char ***out, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0;
	const char *p = s, *end, *a, *b;
	int rc = 0;

	*out = NULL;
	*n = 0;
	while (p && *p) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		for (a = p; a < end && isspace((unsigned char)*a); a++)
			;
		for (b = end; b > a && isspace((unsigned char)b[-1]); b--)
			;
		if (b > a) {
			char **nv;

			if (cnt >= MODELS_LIST_MAX) {
				rc = CHAT_ETOOBIG;
				goto fail;
			}
			nv = realloc(v, (cnt + 1) * sizeof(*v));
			if (!nv) {
				rc = CHAT_ENOMEM;
				goto fail;
			}
			v = nv;
			v[cnt] = strndup(a, (size_t)(b - a));
			if (!v[cnt]) {
				rc = CHAT_ENOMEM;
				goto fail;
			}
			cnt++;
		}
		p = *end ? end + 1 : end;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	prov_names_free(v, cnt);
	return rc;
}

/* A value that is set and not empty, else NULL. */
static const char *cfg_str(const struct config *cfg, const char *key)
{
	const char *v = config_get(cfg, key, NULL);

	return v && *v ? v : NULL;
}

static int set_base_url(struct aid_provider *p, const char *url,
			const char *key, char *err, size_t errlen)
{
	size_t n = strlen(url), i;
	struct url u;

	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)url[i])) {
			chat_errf(err, errlen, "config: '%s' must be an URL "
				  "without blanks", key);
			return CHAT_EINVAL;
		}
	/* paths are appended to it: no query, no fragment */
	if (url_parse(url, &u, NULL) != 0 ||
	    (u.scheme != URL_HTTP && u.scheme != URL_HTTPS) || u.query ||
	    u.fragment || n >= sizeof(p->base_url)) {
		chat_errf(err, errlen, "config: '%s' must be an http:// or "
			  "https:// URL", key);
		return CHAT_EINVAL;
	}
	while (n > 0 && url[n - 1] == '/')
		n--;
	memcpy(p->base_url, url, n);
	p->base_url[n] = '\0';
	p->conf.base_url = p->base_url;
	return 0;
}

/* Asks an upstream for its model list (blocking; start only).  Quietly
 * gives nothing when the upstream does not answer. */
static int discover(struct aid *a, struct aid_provider *p, long connect_ms,
		    bool quiet)
{
	struct prov_http h = { 0 };
	struct http_request req = { 0 };
	struct buf body;
	int status = 0, rc;

	if (!p->ops || !p->ops->models_build || !p->ops->models_parse)
		return CHAT_ENOTFOUND;
	buf_init(&body, MODELS_LIST_BYTES);
	rc = p->ops->models_build(&p->conf, &h);
	if (rc < 0)
		goto out;
	req.method = h.method;
	req.url = h.url;
	req.headers = (const char *const *)h.headers;
	req.connect_timeout_ms = connect_ms;
	req.timeout_ms = MODELS_PROBE_TIMEOUT_MS;
	req.max_response = MODELS_LIST_BYTES;
	rc = http_out_fetch(a->d.out, &req, &status, &body);
	if (rc == 0 && status != 200)
		rc = CHAT_EUPSTREAM;
	if (rc == 0)
		rc = p->ops->models_parse(body.data ? body.data : "", body.len,
					  &p->discovered, &p->ndiscovered);
	if (rc == 0 && p->ndiscovered > MODELS_DISCOVERED_MAX) {
		prov_names_free(p->discovered + MODELS_DISCOVERED_MAX,
				p->ndiscovered - MODELS_DISCOVERED_MAX);
		p->ndiscovered = MODELS_DISCOVERED_MAX;
	}
out:
	if (rc < 0 && !quiet)
		log_warn("cannot list the models of '%s': %s", p->kind,
			 chat_strerror(rc));
	if (rc < 0 && status)
		log_debug("'%s' answered %d to the model list", p->kind,
			  status);
	prov_http_release(&h);
	buf_release(&body);
	return rc;
}

static int providers_init(struct aid *a, bool detect, bool list,
			  char *err, size_t errlen)
{
	int i, rc;

	for (i = 0; i < AID_PROV_COUNT; i++) {
		struct aid_provider *p = &a->prov[i];
		const char *url = cfg_str(a->d.cfg, provider_table[i].url_key);
		const char *key = provider_table[i].key_key ?
			cfg_str(a->d.cfg, provider_table[i].key_key) : NULL;

		p->kind = provider_table[i].kind;
		p->conf.kind = p->kind;
		p->conf.api_key = key;
		p->ops = provider_find(p->kind);
		p->active = url || key;
		rc = set_base_url(p, url ? url : provider_table[i].default_url,
				  provider_table[i].url_key, err, errlen);
		if (rc < 0)
			return rc;
		if (!p->ops) {
			p->active = false;
			continue;
		}
		if (i == AID_PROV_OLLAMA && !p->active && detect) {
			/* the embedded default: a local Ollama, if it runs */
			if (discover(a, p, MODELS_PROBE_CONNECT_MS,
				     true) == 0) {
				p->active = true;
				log_info("ollama detected on localhost with "
					 "%zu models", p->ndiscovered);
			}
			continue;
		}
		if (p->active && list)
			discover(a, p, MODELS_PROBE_CONNECT_MS, false);
	}
	return 0;
}

static void model_free(struct aid_model *m)
{
	free(m->name);
	free(m->upstream);
	prov_names_free(m->aliases, m->naliases);
	prov_names_free(m->fallbacks, m->nfallbacks);
}

static int model_read(struct aid *a, const char *name, struct aid_model *m,
		      char *err, size_t errlen)
{
	char key[AID_MODEL_NAME_MAX + 64];
	const char *v;
	long cw;
	size_t i;
	int rc;

	m->name = strdup(name);
	if (!m->name)
		return CHAT_ENOMEM;
	snprintf(key, sizeof(key), "model.%s.provider", name);
	v = cfg_str(a->d.cfg, key);
	if (!v || prov_by_name(v, &m->prov) < 0) {
		chat_errf(err, errlen, "config: '%s' must be echo, openai, "
			  "ollama or anthropic", key);
		return CHAT_EINVAL;
	}
	if (m->prov < AID_PROV_COUNT && !a->prov[m->prov].ops) {
		chat_errf(err, errlen, "config: '%s': provider '%s' is not "
			  "built in", key, v);
		return CHAT_EINVAL;
	}
	snprintf(key, sizeof(key), "model.%s.upstream", name);
	v = cfg_str(a->d.cfg, key);
	if (v && strlen(v) > AID_MODEL_NAME_MAX) {
		chat_errf(err, errlen, "config: '%s' is longer than %d bytes",
			  key, AID_MODEL_NAME_MAX);
		return CHAT_EINVAL;
	}
	m->upstream = strdup(v ? v : name);
	if (!m->upstream)
		return CHAT_ENOMEM;
	snprintf(key, sizeof(key), "model.%s.context_window", name);
	/* the bounds: daemon_keys_aid; the default depends on the model */
	cw = m->prov == AID_PROV_ECHO ? MODELS_ECHO_CONTEXT :
					a->context_window;
	rc = config_key_int(a->d.cfg, key, &cw, err, errlen);
	if (rc < 0)
		return rc;
	m->context_window = cw;
	snprintf(key, sizeof(key), "model.%s.aliases", name);
	rc = split_list(config_get(a->d.cfg, key, ""), &m->aliases,
			&m->naliases);
	if (rc == 0) {
		snprintf(key, sizeof(key), "model.%s.fallback", name);
		rc = split_list(config_get(a->d.cfg, key, ""), &m->fallbacks,
				&m->nfallbacks);
	}
	if (rc < 0) {
		chat_errf(err, errlen, "config: '%s': %s", key,
			  chat_strerror(rc));
		return rc;
	}
	for (i = 0; i < m->naliases; i++)
		if (!name_ok(m->aliases[i])) {
			chat_errf(err, errlen, "config: 'model.%s.aliases' "
				  "holds a bad name", name);
			return CHAT_EINVAL;
		}
	/* a model named for a provider makes that provider active, with
	 * its defaults for what is not set */
	if (m->prov < AID_PROV_COUNT)
		a->prov[m->prov].active = true;
	return 0;
}

/* A named model or alias, NULL when none. */
static const struct aid_model *named(const struct aid *a, const char *name)
{
	size_t i, j;

	for (i = 0; i < a->nmodels; i++)
		if (strcmp(a->models[i].name, name) == 0)
			return &a->models[i];
	for (i = 0; i < a->nmodels; i++)
		for (j = 0; j < a->models[i].naliases; j++)
			if (strcmp(a->models[i].aliases[j], name) == 0)
				return &a->models[i];
	return NULL;
}

static int models_read(struct aid *a, char *err, size_t errlen)
{
	char **names = NULL;
	size_t n = 0, i, j, k;
	int rc;

	rc = split_list(config_get(a->d.cfg, "aid.models", ""), &names, &n);
	if (rc < 0) {
		chat_errf(err, errlen, "config: 'aid.models': %s",
			  chat_strerror(rc));
		return rc;
	}
	if (n > MODELS_MAX) {
		chat_errf(err, errlen, "config: 'aid.models' names more than "
			  "%d models", MODELS_MAX);
		rc = CHAT_EINVAL;
		goto out;
	}
	a->models = calloc(n ? n : 1, sizeof(*a->models));
	if (!a->models) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!name_ok(names[i])) {
			chat_errf(err, errlen, "config: 'aid.models' holds a "
				  "bad name");
			rc = CHAT_EINVAL;
			goto out;
		}
		a->nmodels = i + 1;
		rc = model_read(a, names[i], &a->models[i], err, errlen);
		if (rc < 0)
			goto out;
	}
	/* every name and alias once */
	for (i = 0; i < a->nmodels; i++) {
		const struct aid_model *m = &a->models[i];

		if (named(a, m->name) != m) {
			chat_errf(err, errlen, "config: model '%s' is named "
				  "twice", m->name);
			rc = CHAT_EINVAL;
			goto out;
		}
		for (j = 0; j < m->naliases; j++) {
			if (named(a, m->aliases[j]) != m) {
				chat_errf(err, errlen, "config: alias '%s' "
					  "is taken", m->aliases[j]);
				rc = CHAT_EINVAL;
				goto out;
			}
			for (k = 0; k < a->nmodels; k++)
				if (strcmp(a->models[k].name,
					   m->aliases[j]) == 0) {
					chat_errf(err, errlen, "config: alias "
						  "'%s' is a model's name",
						  m->aliases[j]);
					rc = CHAT_EINVAL;
					goto out;
				}
		}
	}
out:
	prov_names_free(names, n);
	return rc;
}

/* Fallbacks must name models that exist now (discovered ones included). */
static int fallbacks_check(struct aid *a, char *err, size_t errlen)
{
	struct aid_target t;
	size_t i, j;

	for (i = 0; i < a->nmodels; i++)
		for (j = 0; j < a->models[i].nfallbacks; j++)
			if (models_resolve(a, a->models[i].fallbacks[j],
					   &t) < 0) {
				chat_errf(err, errlen, "config: "
					  "'model.%s.fallback': unknown model "
					  "'%s'", a->models[i].name,
					  a->models[i].fallbacks[j]);
				return CHAT_EINVAL;
			}
	return 0;
}

int models_init(struct aid *a, char *err, size_t errlen)
{
	struct aid_target t;
	bool detect = true, list = true;
	int rc;

	rc = config_key_bool(a->d.cfg, "aid.ollama_detect", &detect, err,
			     errlen);
	if (rc == 0)
		rc = config_key_bool(a->d.cfg, "aid.discover", &list, err,
				     errlen);
	if (rc == 0)
		rc = providers_init(a, detect, list, err, errlen);
	if (rc == 0)
		rc = models_read(a, err, errlen);
	if (rc == 0)
		rc = fallbacks_check(a, err, errlen);
	if (rc < 0)
		return rc;
	if (!name_ok(a->default_model)) {
		chat_errf(err, errlen, "config: 'aid.default_model' must be a "
			  "model name");
		return CHAT_EINVAL;
	}
	if (models_resolve(a, a->default_model, &t) < 0)
		log_warn("the default model '%s' is unknown for now",
			 a->default_model);
	log_info("models: %zu named; providers:%s%s%s", a->nmodels,
		 a->prov[AID_PROV_OPENAI].active ? " openai" : "",
		 a->prov[AID_PROV_OLLAMA].active ? " ollama" : "",
		 a->prov[AID_PROV_ANTHROPIC].active ? " anthropic" : "");
	return 0;
}

void models_release(struct aid *a)
{
	size_t i;

	for (i = 0; i < a->nmodels; i++)
		model_free(&a->models[i]);
	free(a->models);
	a->models = NULL;
	a->nmodels = 0;
	for (i = 0; i < AID_PROV_COUNT; i++) {
		prov_names_free(a->prov[i].discovered, a->prov[i].ndiscovered);
		a->prov[i].discovered = NULL;
		a->prov[i].ndiscovered = 0;
	}
}

static void target_set(struct aid_target *t, const char *name,
		       enum aid_prov prov, const char *upstream, long cw,
		       const struct aid_model *m)
{
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->prov = prov;
	snprintf(t->upstream, sizeof(t->upstream), "%s", upstream);
	t->context_window = cw;
	t->model = m;
}

static bool discovered(const struct aid_provider *p, const char *name)
{
	size_t i;

	if (!p->active)
		return false;
	for (i = 0; i < p->ndiscovered; i++)
		if (strcmp(p->discovered[i], name) == 0)
			return true;
	return false;
}

int models_resolve(const struct aid *a, const char *name,
		   struct aid_target *out)
{
	static const enum aid_prov listed_order[] = { AID_PROV_OLLAMA,
		AID_PROV_OPENAI, AID_PROV_ANTHROPIC };
	const struct aid_model *m;
	const char *slash;
	size_t i;

	if (!name || !name_valid(name, false))
		return CHAT_ENOTFOUND;
	m = named(a, name);
	if (m) {
		target_set(out, m->name, m->prov, m->upstream,
			   m->context_window, m);
		return 0;
	}
	if (strcmp(name, "echo") == 0) {
		target_set(out, name, AID_PROV_ECHO, name, MODELS_ECHO_CONTEXT,
			   NULL);
		return 0;
	}
	slash = strchr(name, '/');
	if (slash && slash[1]) {
		for (i = 0; i < AID_PROV_COUNT; i++) {
			size_t klen = strlen(provider_table[i].kind);

			if ((size_t)(slash - name) == klen &&
			    strncmp(name, provider_table[i].kind, klen) == 0 &&
			    a->prov[i].active) {
				target_set(out, name, (enum aid_prov)i,
					   slash + 1, a->context_window, NULL);
				return 0;
			}
		}
	}
	for (i = 0; i < sizeof(listed_order) / sizeof(listed_order[0]); i++)
		if (discovered(&a->prov[listed_order[i]], name)) {
			target_set(out, name, listed_order[i], name,
				   a->context_window, NULL);
			return 0;
		}
	return CHAT_ENOTFOUND;
}

/* models_each: every name once, in list order. */
struct each_state {
	const char **seen;
	size_t n, cap;
	void (*fn)(void *arg, const char *name, const char *owner);
	void *arg;
};

static void each_one(struct each_state *st, const char *name,
		     enum aid_prov prov)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->seen[i], name) == 0)
			return;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		const char **v = realloc(st->seen, cap * sizeof(*v));

		if (!v)
			return;		/* a shorter list, not a failure */
		st->seen = v;
		st->cap = cap;
	}
	st->seen[st->n++] = name;
	st->fn(st->arg, name, models_prov_name(prov));
}

void models_each(const struct aid *a,
		 void (*fn)(void *arg, const char *name, const char *owner),
		 void *arg)
{
	static const enum aid_prov listed_order[] = { AID_PROV_OLLAMA,
		AID_PROV_OPENAI, AID_PROV_ANTHROPIC };
	struct each_state st = { .fn = fn, .arg = arg };
	struct aid_target t;
	size_t i, j;

	each_one(&st, "echo", AID_PROV_ECHO);
	for (i = 0; i < a->nmodels; i++) {
		each_one(&st, a->models[i].name, a->models[i].prov);
		for (j = 0; j < a->models[i].naliases; j++)
			each_one(&st, a->models[i].aliases[j],
				 a->models[i].prov);
	}
	for (i = 0; i < sizeof(listed_order) / sizeof(listed_order[0]); i++) {
		const struct aid_provider *p = &a->prov[listed_order[i]];

		if (!p->active)
			continue;
		for (j = 0; j < p->ndiscovered; j++)
			/* only names that resolve to this provider */
			if (models_resolve(a, p->discovered[j], &t) == 0 &&
			    t.prov == listed_order[i] && !t.model)
				each_one(&st, p->discovered[j],
					 listed_order[i]);
	}
	free(st.seen);
}
