/*
 * test-aid-models.c - aid's model registry (named models, aliases,
 * fallbacks, provider/model names, config errors), prompt trimming
 * (engine_trim) and the JSON string writer of the token events.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemons/aid/aid.h"
#include "config.h"
#include "daemon-keys.h"
#include "err.h"

static char dir[] = "/tmp/test-aid-models-XXXXXX";

/* No probing of a local Ollama, no model lists: no network at all. */
static const char base_conf[] =
	"[aid]\n"
	"ollama_detect = false\n"
	"discover = false\n";

/* The keys aid reads, as daemon_main gives them to it. */
static const struct config_key *const aid_tables[] = {
	daemon_keys_common, daemon_keys_aid, NULL,
};
static const struct config_schema aid_schema = {
	.tables = aid_tables,
	.daemons = daemon_keys_daemons,
};

/* Loads text (after base_conf) into a fresh struct aid and runs
 * models_init; rc of models_init, err its message. */
static int aid_load(struct aid *a, const char *text, char *err,
		    size_t errlen)
{
	char path[300];
	FILE *f;
	int rc;

	memset(a, 0, sizeof(*a));
	snprintf(path, sizeof(path), "%s/chat.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(base_conf, f);
	fputs(text, f);
	fclose(f);
	rc = config_load(&a->d.cfg, path, true, err, errlen);
	assert_int_equal(rc, 0);
	config_use_schema(a->d.cfg, &aid_schema);
	a->context_window = 8192;
	a->default_model = config_get(a->d.cfg, "aid.default_model", "echo");
	return models_init(a, err, errlen);
}

static void aid_unload(struct aid *a)
{
	models_release(a);
	config_free(a->d.cfg);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_aid_models__nothing_configured(void **state)
{
	struct aid a;
	struct aid_target t;
	char err[256] = "";

	(void)state;
	assert_int_equal(aid_load(&a, "", err, sizeof(err)), 0);
	assert_int_equal(models_resolve(&a, "echo", &t), 0);
	assert_int_equal(t.prov, AID_PROV_ECHO);
	assert_null(t.model);
	/* no provider is active: provider/model names reach nothing */
	assert_int_equal(models_resolve(&a, "openai/gpt-4o", &t),
			 CHAT_ENOTFOUND);
	assert_int_equal(models_resolve(&a, "ollama/llama3", &t),
			 CHAT_ENOTFOUND);
	assert_int_equal(models_resolve(&a, "", &t), CHAT_ENOTFOUND);
	assert_int_equal(models_resolve(&a, "has space", &t),
			 CHAT_ENOTFOUND);
	assert_int_equal(models_resolve(&a, NULL, &t), CHAT_ENOTFOUND);
	aid_unload(&a);
}

static void test_aid_models__named_and_aliases(void **state)
{
	static const char conf[] =
		"[openai]\n"
		"base_url = http://127.0.0.1:9/v1/\n"
		"api_key = sk-x\n"
		"[aid]\n"
		"models = fast, local\n"
		"[model.fast]\n"
		"provider = openai\n"
		"upstream = gpt-4o-mini\n"
		"context_window = 1000\n"
		"aliases = quick, f\n"
		"fallback = local, echo, openai/other\n"
		"[model.local]\n"
		"provider = ollama\n";
	struct aid a;
	struct aid_target t;
	char err[256] = "";

	(void)state;
	assert_int_equal(aid_load(&a, conf, err, sizeof(err)), 0);
	/* the trailing slash of a base URL goes */
	assert_string_equal(a.prov[AID_PROV_OPENAI].conf.base_url,
			    "http://127.0.0.1:9/v1");
	assert_string_equal(a.prov[AID_PROV_OPENAI].conf.api_key, "sk-x");
	assert_int_equal(models_resolve(&a, "quick", &t), 0);
	assert_string_equal(t.name, "fast");
	assert_string_equal(t.upstream, "gpt-4o-mini");
	assert_int_equal(t.prov, AID_PROV_OPENAI);
	assert_int_equal(t.context_window, 1000);
	assert_non_null(t.model);
	assert_int_equal(t.model->nfallbacks, 3);
	assert_string_equal(t.model->fallbacks[2], "openai/other");
	/* a named model makes its provider active, with its default URL */
	assert_true(a.prov[AID_PROV_OLLAMA].active);
	assert_string_equal(a.prov[AID_PROV_OLLAMA].conf.base_url,
			    "http://127.0.0.1:11434");
	assert_int_equal(models_resolve(&a, "local", &t), 0);
	assert_string_equal(t.upstream, "local");
	assert_int_equal(t.context_window, 8192);
	/* provider/model: the rest goes upstream as is, commas included */
	assert_int_equal(models_resolve(&a, "ollama/fake:a=1,b", &t), 0);
	assert_int_equal(t.prov, AID_PROV_OLLAMA);
	assert_string_equal(t.upstream, "fake:a=1,b");
	assert_string_equal(t.name, "ollama/fake:a=1,b");
	assert_null(t.model);
	assert_int_equal(models_resolve(&a, "anthropic/claude", &t),
			 CHAT_ENOTFOUND);
	assert_int_equal(models_resolve(&a, "openai/", &t), CHAT_ENOTFOUND);
	aid_unload(&a);
}

static void test_aid_models__config_errors(void **state)
{
	static const struct {
		const char *conf;
		const char *err;	/* a part of the message */
	} cases[] = {
		{ "[aid]\nmodels = a\n", "'model.a.provider'" },
		{ "[aid]\nmodels = a\n[model.a]\nprovider = gpt\n",
		  "'model.a.provider'" },
		{ "[aid]\nmodels = a, a\n[model.a]\nprovider = echo\n",
		  "named twice" },
		{ "[aid]\nmodels = a, b\n[model.a]\nprovider = echo\n"
		  "aliases = b\n[model.b]\nprovider = echo\n",
		  "alias 'b'" },
		{ "[aid]\nmodels = a\n[model.a]\nprovider = echo\n"
		  "fallback = nowhere\n", "unknown model 'nowhere'" },
		{ "[aid]\nmodels = a\n[model.a]\nprovider = echo\n"
		  "context_window = 3\n", "'model.a.context_window'" },
		{ "[openai]\nbase_url = ftp://x\n", "'openai.base_url'" },
		{ "[ollama]\nurl = http://a b\n", "'ollama.url'" },
	};
	struct aid a;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_not_equal(aid_load(&a, cases[i].conf, err,
					      sizeof(err)), 0);
		if (!strstr(err, cases[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 cases[i].err);
		aid_unload(&a);
	}
}

/* models_each: echo, the named models and aliases, each once. */
static void collect(void *arg, const char *name, const char *owner)
{
	char *out = arg;

	strcat(out, name);
	strcat(out, "=");
	strcat(out, owner);
	strcat(out, " ");
}

static void test_aid_models__list(void **state)
{
	static const char conf[] =
		"[anthropic]\napi_key = k\n"
		"[aid]\nmodels = c, echo\n"
		"[model.c]\nprovider = anthropic\naliases = cc\n"
		"[model.echo]\nprovider = echo\n";
	struct aid a;
	char err[256] = "", out[512] = "";

	(void)state;
	assert_int_equal(aid_load(&a, conf, err, sizeof(err)), 0);
	models_each(&a, collect, out);
	assert_string_equal(out, "echo=echo c=anthropic cc=anthropic ");
	aid_unload(&a);
}

static void test_aid_models__trim(void **state)
{
	/* every content is one word of 4 bytes: 1 token + 4 per message */
	static const struct prov_message m[] = {
		{ "user", "aaaa" }, { "assistant", "bbbb" },
		{ "user", "cccc" }, { "assistant", "dddd" },
		{ "user", "eeee" },
	};
	static const struct prov_message tail[] = {
		{ "user", "aaaa" }, { "assistant", "bbbb" },
		{ "user", "cccc" }, { "assistant", "dddd" },
	};
	static const struct {
		const struct prov_message *msgs;
		size_t n;
		const char *system;
		long budget;
		size_t first;
	} cases[] = {
		{ m, 5, NULL, 1000, 0 },	/* everything fits */
		{ m, 5, NULL, 25, 0 },		/* exactly */
		{ m, 5, NULL, 24, 2 },		/* a4 dropped, then b: user first */
		{ m, 5, NULL, 15, 2 },
		{ m, 5, NULL, 14, 4 },		/* only the last user turn */
		{ m, 5, NULL, 1, 4 },		/* kept even when too big */
		{ m, 5, "ssss", 20, 2 },	/* the system prompt counts */
		{ m, 5, "ssss", 19, 4 },
		/* what follows the last user turn always stays */
		{ tail, 4, NULL, 1, 2 },
		{ tail, 4, NULL, 20, 0 },
		{ m, 0, NULL, 10, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = engine_trim(cases[i].msgs, cases[i].n,
					 cases[i].system, cases[i].budget);

		if (got != cases[i].first)
			fail_msg("case %zu: first %zu, want %zu", i, got,
				 cases[i].first);
	}
}

static void test_aid_models__json_string(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "plain", 5, "\"plain\"" },
		{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
		{ "l1\nl2\r\t", 7, "\"l1\\nl2\\r\\t\"" },
		{ "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
		{ "nul\0x", 5, "\"nul\\u0000x\"" },
		{ "h\xc3\xa9", 3, "\"h\xc3\xa9\"" },
		{ "", 0, "\"\"" },
	};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		assert_int_equal(wire_json_string(&b, cases[i].in,
						  cases[i].len), 0);
		assert_string_equal(b.data, cases[i].out);
	}
	/* the ceiling holds */
	buf_release(&b);
	buf_init(&b, 4);
	assert_int_equal(wire_json_string(&b, "abcdef", 6), CHAT_ETOOBIG);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aid_models__nothing_configured),
		cmocka_unit_test(test_aid_models__named_and_aliases),
		cmocka_unit_test(test_aid_models__config_errors),
		cmocka_unit_test(test_aid_models__list),
		cmocka_unit_test(test_aid_models__trim),
		cmocka_unit_test(test_aid_models__json_string),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
