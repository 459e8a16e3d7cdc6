/* test-config.c - config file parsing, env overrides, typed getters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon-keys.h"
#include "err.h"

static char config_dir[] = "/tmp/test-config-XXXXXX";

/* Writes text to a file in the temp dir; returns its path (static). */
static const char *config_write(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", config_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int config_setup(void **state)
{
	(void)state;
	return mkdtemp(config_dir) ? 0 : -1;
}

static int config_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", config_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char config_sample[] =
	"# top comment\n"
	"data_dir = /var/lib/chat\n"
	"; another comment\n"
	"\n"
	"port=8080\n"
	"  log_level   =   debug  \n"
	"[gateway]\n"
	"port = 9000\n"
	"name = \"quoted value \"\n"
	"url = postgresql://u@h/db#frag\n"
	"empty =\n"
	"[ routes ]\n"
	"/v1/x = userd\n"
	"/v1/a = sessiond\n"
	"/v1/x = sessiond\n"
	"[userd]\r\n"
	"registration = closed\r\n";

static void test_config__sections_and_comments(void **state)
{
	static const struct {
		const char *key;
		const char *want;	/* NULL: unset */
	} cases[] = {
		{ "data_dir", "/var/lib/chat" },
		{ "port", "8080" },
		{ "log_level", "debug" },
		{ "gateway.port", "9000" },
		{ "gateway.name", "quoted value " },
		{ "gateway.url", "postgresql://u@h/db#frag" },
		{ "gateway.empty", "" },
		{ "routes./v1/x", "sessiond" },
		{ "userd.registration", "closed" },
		{ "gateway.data_dir", NULL },
		{ "# top comment", NULL },
		{ "nope", NULL },
	};
	struct config *cfg;
	char err[256] = "";
	size_t i;

	(void)state;
	unsetenv("CHAT_PORT");
	assert_int_equal(config_load(&cfg, config_write("a.conf",
							config_sample),
				     true, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v = config_get(cfg, cases[i].key, NULL);

		if (!cases[i].want != !v ||
		    (v && strcmp(v, cases[i].want) != 0))
			fail_msg("key '%s': got '%s'", cases[i].key,
				 v ? v : "(null)");
	}
	assert_string_equal(config_get(cfg, "nope", "dflt"), "dflt");
	config_free(cfg);
}

static void config_collect(void *arg, const char *key, const char *value)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s=%s;", key, value);
}

static void test_config__each_in_file_order(void **state)
{
	struct config *cfg;
	char err[256], seen[256] = "";

	(void)state;
	unsetenv("CHAT_ROUTES__V1_A");
	assert_int_equal(config_load(&cfg, config_write("b.conf",
							config_sample),
				     true, err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "routes./v1/z", "aid"), 0);
	config_each(cfg, "routes", config_collect, seen);
	/* Repeated key: first position, last value. */
	assert_string_equal(seen, "/v1/x=sessiond;/v1/a=sessiond;/v1/z=aid;");
	seen[0] = '\0';
	config_each(cfg, "", config_collect, seen);
	assert_string_equal(seen, "data_dir=/var/lib/chat;port=8080;"
			    "log_level=debug;");
	seen[0] = '\0';
	config_each(cfg, "nosuch", config_collect, seen);
	assert_string_equal(seen, "");
	config_free(cfg);
}

static void test_config__env_override(void **state)
{
	struct config *cfg;
	char err[256], seen[256] = "";
	long port = 0;

	(void)state;
	setenv("CHAT_GATEWAY_PORT", "7000", 1);
	setenv("CHAT_DATA_DIR", "/env/dir", 1);
	setenv("CHAT_USERD_ACCESS_TTL_S", "60", 1);
	setenv("CHAT_MY_DASHED_KEY", "dash", 1);
	setenv("CHAT_ROUTES__V1_A", "aid", 1);
	assert_int_equal(config_load(&cfg, config_write("c.conf",
							config_sample),
				     true, err, sizeof(err)), 0);
	/* Environment changes after loading are not seen. */
	setenv("CHAT_GATEWAY_PORT", "1", 1);
	assert_string_equal(config_get(cfg, "gateway.port", NULL), "7000");
	assert_string_equal(config_get(cfg, "data_dir", NULL), "/env/dir");
	/* Keys only in the environment. */
	assert_string_equal(config_get(cfg, "userd.access_ttl_s", "900"),
			    "60");
	assert_string_equal(config_get(cfg, "my.dashed-key", NULL), "dash");
	/* config_set values lose against the environment too. */
	assert_int_equal(config_set(cfg, "gateway.port", "1234"), 0);
	assert_int_equal(config_get_int(cfg, "gateway.port", 1, 65535, 8080,
					&port, err, sizeof(err)), 0);
	assert_int_equal(port, 7000);
	/* config_each shows the overriding value. */
	config_each(cfg, "routes", config_collect, seen);
	assert_string_equal(seen, "/v1/x=sessiond;/v1/a=aid;");
	config_free(cfg);

	/* No file at all: the environment alone. */
	assert_int_equal(config_load(&cfg, NULL, false, err, sizeof(err)), 0);
	assert_string_equal(config_get(cfg, "data_dir", NULL), "/env/dir");
	config_free(cfg);
	unsetenv("CHAT_GATEWAY_PORT");
	unsetenv("CHAT_DATA_DIR");
	unsetenv("CHAT_USERD_ACCESS_TTL_S");
	unsetenv("CHAT_MY_DASHED_KEY");
	unsetenv("CHAT_ROUTES__V1_A");
}

static void test_config__typed_getters(void **state)
{
	static const char text[] =
		"[t]\n"
		"port = 8080\n"
		"big = 70000\n"
		"word = eighty\n"
		"num_trailing = 80x\n"
		"on = yes\n"
		"off = OFF\n"
		"maybe = perhaps\n"
		"mode = closed\n"
		"odd = half\n";
	static const char *const modes[] = { "open", "closed", NULL };
	struct config *cfg;
	const char *mode;
	char err[512];
	long n;
	bool b;

	(void)state;
	unsetenv("CHAT_T_BIG");
	assert_int_equal(config_load(&cfg, config_write("t.conf", text), true,
				     err, sizeof(err)), 0);
	assert_int_equal(config_get_int(cfg, "t.port", 1, 65535, 1, &n, err,
					sizeof(err)), 0);
	assert_int_equal(n, 8080);
	assert_int_equal(config_get_int(cfg, "t.unset", 1, 65535, 42, &n, err,
					sizeof(err)), 0);
	assert_int_equal(n, 42);

	assert_int_equal(config_get_int(cfg, "t.big", 1, 65535, 1, &n, err,
					sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "config: 't.big' must be an integer "
			       "from 1 to 65535"));
	assert_non_null(strstr(err, "t.conf:3"));
	assert_int_equal(config_get_int(cfg, "t.word", 1, 65535, 1, &n, err,
					sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "'t.word'"));
	assert_int_equal(config_get_int(cfg, "t.num_trailing", 1, 65535, 1, &n,
					err, sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "'t.num_trailing'"));

	assert_int_equal(config_get_bool(cfg, "t.on", false, &b, err,
					 sizeof(err)), 0);
	assert_true(b);
	assert_int_equal(config_get_bool(cfg, "t.off", true, &b, err,
					 sizeof(err)), 0);
	assert_false(b);
	assert_int_equal(config_get_bool(cfg, "t.unset", true, &b, err,
					 sizeof(err)), 0);
	assert_true(b);
	assert_int_equal(config_get_bool(cfg, "t.maybe", true, &b, err,
					 sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "config: 't.maybe' must be true or false"));

	assert_int_equal(config_get_enum(cfg, "t.mode", modes, "open", &mode,
					 err, sizeof(err)), 0);
	assert_string_equal(mode, "closed");
	assert_int_equal(config_get_enum(cfg, "t.unset", modes, "open", &mode,
					 err, sizeof(err)), 0);
	assert_string_equal(mode, "open");
	assert_int_equal(config_get_enum(cfg, "t.odd", modes, "open", &mode,
					 err, sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "config: 't.odd' must be one of: open, "
			       "closed"));

	/* From the environment, the message names the variable. */
	setenv("CHAT_T_BIG", "-5", 1);
	config_free(cfg);
	assert_int_equal(config_load(&cfg, config_write("t.conf", text), true,
				     err, sizeof(err)), 0);
	assert_int_equal(config_get_int(cfg, "t.big", 0, 10, 1, &n, err,
					sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "CHAT_T_BIG"));
	unsetenv("CHAT_T_BIG");
	config_free(cfg);
}

static void test_config__bad_lines(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		const char *want;	/* substring of the message */
	} cases[] = {
		{ "no equals sign", "a = 1\n\njust words\n", "bad.conf:3:" },
		{ "unterminated section", "# c\n[gateway\nport = 1\n",
		  "bad.conf:2: unterminated section" },
		{ "empty section", "[]\n", "bad.conf:1:" },
		{ "missing key", "a = 1\n= 2\n", "bad.conf:2: missing key" },
		{ "section with junk after", "[a] x\n", "bad.conf:1:" },
	};
	struct config *cfg;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		cfg = (struct config *)1;
		err[0] = '\0';
		rc = config_load(&cfg, config_write("bad.conf", cases[i].text),
				 true, err, sizeof(err));
		if (rc != CHAT_EPARSE || cfg != NULL)
			fail_msg("case '%s': rc %d", cases[i].name, rc);
		if (!strstr(err, cases[i].want) || strncmp(err, "config: ", 8))
			fail_msg("case '%s': message '%s'", cases[i].name, err);
	}
}

static void test_config__missing_file(void **state)
{
	struct config *cfg = (struct config *)1;
	char path[300], err[512] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", config_dir);
	assert_int_equal(config_load(&cfg, path, true, err, sizeof(err)),
			 CHAT_ENOTFOUND);
	assert_null(cfg);
	assert_non_null(strstr(err, "does-not-exist.conf"));
	assert_int_equal(config_load(&cfg, path, false, err, sizeof(err)), 0);
	assert_non_null(cfg);
	assert_null(config_get(cfg, "port", NULL));
	config_free(cfg);
	/* A directory is not a file, must_exist or not. */
	assert_int_not_equal(config_load(&cfg, config_dir, false, err,
					 sizeof(err)), 0);
	assert_null(cfg);
}

/* A small schema: plain, pattern and per-daemon keys. */
static const char *const schema_modes[] = { "open", "closed", NULL };
static const char *const schema_daemons[] = { "userd", "chatd", NULL };
static const struct config_key schema_keys[] = {
	{ .name = "port", .type = CONFIG_INT, .min = 1, .max = 65535,
	  .def = "8080", .help = "h" },
	{ .name = "userd.mode", .type = CONFIG_ENUM, .choices = schema_modes,
	  .def = "open", .help = "h" },
	{ .name = "userd.on", .type = CONFIG_BOOL, .def = "true",
	  .help = "h" },
	{ .name = "model.*.window", .type = CONFIG_INT, .min = 16,
	  .max = 100, .help = "h" },
	{ .name = "routes.*", .type = CONFIG_STRING, .help = "h" },
	{ .name = "url", .type = CONFIG_URL, .flags = CONFIG_KEY_PER_DAEMON,
	  .help = "h" },
	{ .name = "workers", .type = CONFIG_INT, .min = 1, .max = 8,
	  .flags = CONFIG_KEY_PER_DAEMON, .help = "h" },
	{ .name = NULL },
};
static const struct config_key *const schema_tables[] = { schema_keys,
							  NULL };
static const struct config_schema schema = {
	.tables = schema_tables,
	.daemons = schema_daemons,
	.self = "selfd",
	.targets = "routes",
	/* the test runner's own variables (CHAT_BIN...) are not keys */
	.not_keys = daemon_keys_not_keys,
};

/* config_validate: each case a file, maybe a variable, and the result. */
static void test_config__validate(void **state)
{
	static const struct {
		const char *text;
		const char *var, *value;	/* or NULL */
		const char *err;		/* NULL: valid */
	} cases[] = {
		{ "port = 9000\n[userd]\nmode = closed\non = no\n", NULL,
		  NULL, NULL },
		/* a '*' matches text with dots; per-daemon keys of the
		 * fixed daemons, the program itself and [routes] targets */
		{ "[model.llama3.2]\nwindow = 64\n[userd]\nworkers = 2\n"
		  "[selfd]\nurl = http://x\n[routes]\n/v1/o = oddup\n"
		  "[oddup]\nurl = https://o\n", NULL, NULL, NULL },
		{ "", "CHAT_MODEL_X_WINDOW", "20", NULL },
		{ "", "CHAT_CHATD_WORKERS", "3", NULL },
		{ "", "CHAT_TEST_WHATEVER", "x", NULL },
		{ "[routes]\n/v1/o = oddup\n", "CHAT_ODDUP_URL", "http://o",
		  NULL },
		{ "port = 1\n[userd]\nmdoe = open\n", NULL, NULL,
		  "config: unknown key 'userd.mdoe' (at " },
		{ "[oddup]\nurl = http://o\n", NULL, NULL,
		  "config: unknown key 'oddup.url'" },
		{ "", "CHAT_USERD_MDOE", "open", "config: environment "
		  "variable 'CHAT_USERD_MDOE' names no key" },
		{ "", "CHAT_ODDUP_URL", "http://o", "'CHAT_ODDUP_URL' names "
		  "no key" },
		{ "port = 0\n", NULL, NULL, "config: 'port' must be an "
		  "integer from 1 to 65535 (at " },
		{ "", "CHAT_PORT", "x", "config: 'port' must be an integer "
		  "from 1 to 65535 (from CHAT_PORT)" },
		{ "[model.a]\nwindow = 8\n", NULL, NULL, "config: "
		  "'model.a.window' must be an integer from 16 to 100" },
		{ "[userd]\nmode = shut\n", NULL, NULL, "config: "
		  "'userd.mode' must be one of: open, closed" },
		{ "[userd]\non = maybe\n", NULL, NULL, "config: 'userd.on' "
		  "must be true or false" },
		{ "[chatd]\nurl = ftp://x\n", NULL, NULL, "config: "
		  "'chatd.url' must be an http:// or https:// URL" },
	};
	struct config *cfg;
	char err[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].var)
			setenv(cases[i].var, cases[i].value, 1);
		assert_int_equal(config_load(&cfg, config_write("v.conf",
							cases[i].text),
					     true, err, sizeof(err)), 0);
		if (cases[i].var)
			unsetenv(cases[i].var);
		config_use_schema(cfg, &schema);
		err[0] = '\0';
		rc = config_validate(cfg, err, sizeof(err));
		if (!cases[i].err && rc != 0)
			fail_msg("case %zu: %s", i, err);
		if (cases[i].err && (rc != CHAT_EINVAL ||
				     !strstr(err, cases[i].err)))
			fail_msg("case %zu: rc %d, '%s' lacks '%s'", i, rc,
				 err, cases[i].err);
		config_free(cfg);
	}
}

/* The config_key_* getters: the table's bounds and default, or the
 * caller's computed default when the table has none. */
static void test_config__key_getters(void **state)
{
	struct config *cfg;
	const char *mode = NULL;
	char err[512];
	long n;
	bool on = false;

	(void)state;
	assert_int_equal(config_load(&cfg, config_write("g.conf",
			 "[model.m]\nwindow = 200\n[userd]\nworkers = 3\n"),
				     true, err, sizeof(err)), 0);
	config_use_schema(cfg, &schema);
	n = 0;
	assert_int_equal(config_key_int(cfg, "port", &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 8080);		/* the table's default */
	n = 5;
	assert_int_equal(config_key_int(cfg, "chatd.workers", &n, err,
					sizeof(err)), 0);
	assert_int_equal(n, 5);			/* none: the caller's */
	assert_int_equal(config_key_int(cfg, "userd.workers", &n, err,
					sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(config_key_int(cfg, "model.m.window", &n, err,
					sizeof(err)), CHAT_EINVAL);
	assert_non_null(strstr(err, "'model.m.window' must be an integer "
			       "from 16 to 100"));
	assert_int_equal(config_key_enum(cfg, "userd.mode", &mode, err,
					 sizeof(err)), 0);
	assert_string_equal(mode, "open");
	assert_int_equal(config_key_bool(cfg, "userd.on", &on, err,
					 sizeof(err)), 0);
	assert_true(on);
	assert_string_equal(config_key_str(cfg, "port"), "8080");
	assert_null(config_key_str(cfg, "chatd.url"));
	/* a key outside the tables is a bug, named */
	assert_int_equal(config_key_int(cfg, "nope", &n, err, sizeof(err)),
			 CHAT_EINVAL);
	assert_non_null(strstr(err, "'nope' is not in the key table"));
	assert_int_equal(config_key_int(cfg, "userd.mode", &n, err,
					sizeof(err)), CHAT_EINVAL);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config__sections_and_comments),
		cmocka_unit_test(test_config__each_in_file_order),
		cmocka_unit_test(test_config__env_override),
		cmocka_unit_test(test_config__typed_getters),
		cmocka_unit_test(test_config__bad_lines),
		cmocka_unit_test(test_config__missing_file),
		cmocka_unit_test(test_config__validate),
		cmocka_unit_test(test_config__key_getters),
	};

	return cmocka_run_group_tests(tests, config_setup, config_teardown);
}
