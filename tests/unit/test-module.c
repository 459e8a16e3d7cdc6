/*
 * test-module.c - the run-time modules (module.c): chat-pg.so and
 * chat-curl.so load and work although the program exports none of its
 * symbols (all they need of it comes through struct module_host; a call
 * past the table would fail the RTLD_NOW load here), and each kind of
 * failure gives its code and a message that names the file.  Run with CHAT_MODULE_DIR set to the build's bin
 * directory (scripts/test.sh does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "db-internal.h"
#include "err.h"
#include "http-curl.h"
#include "module.h"

static char tmp_dir[] = "/tmp/test-module.XXXXXX";

static void write_file(const char *dir, const char *name, const void *data,
		       size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Copies src to dir/name. */
static void copy_file(const char *src, const char *dir, const char *name)
{
	FILE *f = fopen(src, "rb");
	char *data;
	long len;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)len);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	write_file(dir, name, data, (size_t)len);
	free(data);
}

static void test_module__pg_loads(void **state)
{
	const struct db_ops *ops;
	const void *p = NULL, *again = NULL;
	char err[512];

	(void)state;
	if (module_load(DB_PG_MODULE, DB_PG_MODULE_VERSION, &p, err,
			sizeof(err)) != 0)
		fail_msg("%s", err);
	ops = p;
	assert_string_equal(ops->name, "postgres");
	assert_int_equal(ops->dialect, DB_DIALECT_PG);
	assert_non_null(ops->run);
	/* once per process: the same table again */
	assert_int_equal(module_load(DB_PG_MODULE, DB_PG_MODULE_VERSION,
				     &again, err, sizeof(err)), 0);
	assert_ptr_equal(again, p);
}

static void test_module__curl_loads(void **state)
{
	const struct http_curl_ops *ops;
	const void *p = NULL;
	char err[512];

	(void)state;
	if (module_load(HTTP_CURL_MODULE, HTTP_CURL_MODULE_VERSION, &p, err,
			sizeof(err)) != 0)
		fail_msg("%s", err);
	ops = p;
	assert_non_null(ops->client_new);
	assert_non_null(ops->client_start);
	assert_non_null(ops->fetch);
}

/* Another version of the ops is refused, not called. */
/* The program exports nothing for the modules: the libchat functions
 * they use are not in its dynamic symbol table, so the loads above
 * went through the host table alone. */
static void test_module__program_exports_nothing(void **state)
{
	static const char *const names[] = {
		"buf_append", "buf_init", "log_write", "chat_errf",
		"db_rows_new", "db_conn_seterr", "mono_ms",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (dlsym(RTLD_DEFAULT, names[i]))
			fail_msg("the program exports '%s'", names[i]);
}

static void test_module__wrong_version(void **state)
{
	const void *p = (const void *)1;
	char err[512];

	(void)state;
	assert_int_equal(module_load(DB_PG_MODULE, 999, &p, err, sizeof(err)),
			 CHAT_ENOTFOUND);
	assert_null(p);
	assert_non_null(strstr(err, "chat-pg.so' has no 'chat_module_pg_v999'"));
}

static void test_module__failures(void **state)
{
	static const char garbage[] = "not an ELF file\n";
	const char *old = getenv("CHAT_MODULE_DIR");
	char saved[512], src[600], err[512], want[600];
	const void *p = (const void *)1;

	(void)state;
	assert_non_null(old);
	snprintf(saved, sizeof(saved), "%s", old);
	assert_non_null(mkdtemp(tmp_dir));
	setenv("CHAT_MODULE_DIR", tmp_dir, 1);

	/* no such file: the directories looked in */
	assert_int_equal(module_load("nosuch", 1, &p, err, sizeof(err)),
			 CHAT_ENOTFOUND);
	assert_null(p);
	snprintf(want, sizeof(want), "cannot find module 'chat-nosuch.so' "
		 "(looked in '%s'", tmp_dir);
	assert_non_null(strstr(err, want));

	/* a file the loader refuses: its path and the loader's reason */
	write_file(tmp_dir, "chat-broken.so", garbage, sizeof(garbage) - 1);
	assert_int_equal(module_load("broken", 1, &p, err, sizeof(err)),
			 CHAT_EIO);
	snprintf(want, sizeof(want), "cannot load module '%s/chat-broken.so': ",
		 tmp_dir);
	assert_non_null(strstr(err, want));
	assert_true(strlen(err) > strlen(want));

	/* a module without the symbol its name promises */
	snprintf(src, sizeof(src), "%s/chat-pg.so", saved);
	copy_file(src, tmp_dir, "chat-nosym.so");
	assert_int_equal(module_load("nosym", 1, &p, err, sizeof(err)),
			 CHAT_ENOTFOUND);
	assert_non_null(strstr(err, "has no 'chat_module_nosym_v1'"));

	/* a failure is remembered: the file appearing later changes nothing */
	write_file(tmp_dir, "chat-nosuch.so", garbage, sizeof(garbage) - 1);
	assert_int_equal(module_load("nosuch", 1, &p, err, sizeof(err)),
			 CHAT_ENOTFOUND);

	/* without CHAT_MODULE_DIR: beside the program, then ../lib/chat */
	unsetenv("CHAT_MODULE_DIR");
	assert_int_equal(module_load("absent", 1, &p, err, sizeof(err)),
			 CHAT_ENOTFOUND);
	assert_non_null(strstr(err, "/../lib/chat'"));

	assert_int_equal(module_load("", 1, &p, err, sizeof(err)),
			 CHAT_EINVAL);
	setenv("CHAT_MODULE_DIR", saved, 1);
	snprintf(src, sizeof(src), "rm -rf '%s'", tmp_dir);
	assert_int_equal(system(src), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_module__pg_loads),
		cmocka_unit_test(test_module__curl_loads),
		cmocka_unit_test(test_module__program_exports_nothing),
		cmocka_unit_test(test_module__wrong_version),
		cmocka_unit_test(test_module__failures),
	};

	if (!getenv("CHAT_MODULE_DIR")) {
		fprintf(stderr, "test-module: set CHAT_MODULE_DIR to the "
			"directory of chat-pg.so and chat-curl.so\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
