/*
 * test-creds.c - the credentials file with a login per server: the older
 * one-login form read as one current server and rewritten in the new
 * form, saves that keep the other servers, use, forget, and names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "err.h"
#include "banned.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-creds.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/credentials", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void login(struct creds *c, const char *server, const char *user,
		  const char *token)
{
	memset(c, 0, sizeof(*c));
	c->server = strdup(server);
	c->username = strdup(user);
	c->access_token = strdup(token);
	c->refresh_token = strdup(token);
	c->expires_at = 1700000000;
}

static void save(const char *server, const char *user, const char *token)
{
	struct creds c;

	login(&c, server, user, token);
	assert_int_equal(creds_save(path, &c), 0);
	creds_release(&c);
}

/* The current login is server, user. */
static void current_is(const char *server, const char *user)
{
	struct creds c;

	assert_int_equal(creds_load(path, &c), 0);
	assert_string_equal(c.server, server);
	assert_string_equal(c.username, user);
	creds_release(&c);
}

static void test_creds__old_form_is_one_current_server(void **state)
{
	static const char old[] =
		"{\"server\":\"http://a.example:8080\",\"username\":\"ann\","
		"\"access_token\":\"A\",\"refresh_token\":\"R\","
		"\"expires_at\":1700000000}\n";
	struct creds_set s;
	FILE *f;

	(void)state;
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(old, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	current_is("http://a.example:8080", "ann");
	/* a second server is added beside it, the first still current */
	save("https://b.example", "bob", "B");
	current_is("http://a.example:8080", "ann");
	assert_int_equal(creds_set_load(path, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.current, 0);
	assert_int_equal(creds_set_find(&s, "b.example"), 1);
	assert_int_equal(creds_set_find(&s, "a.example:8080"), 0);
	assert_int_equal(creds_set_find(&s, "https://b.example"), 1);
	assert_int_equal(creds_set_find(&s, "http://b.example"), -1);
	assert_int_equal(creds_set_find(&s, "c.example"), -1);
	creds_set_release(&s);
}

static void test_creds__use_save_forget(void **state)
{
	struct creds c;
	struct stat st;

	(void)state;
	save("http://a.example", "ann", "A1");
	save("http://b.example", "bob", "B1");
	current_is("http://a.example", "ann");
	assert_int_equal(creds_use(path, "b.example"), 0);
	current_is("http://b.example", "bob");
	assert_int_equal(creds_use(path, "nowhere"), CHAT_ENOTFOUND);
	/* a refresh of a's login rewrites a's, b stays current */
	save("http://a.example", "ann", "A2");
	current_is("http://b.example", "bob");
	assert_int_equal(creds_load_server(path, "http://a.example", &c), 0);
	assert_string_equal(c.access_token, "A2");
	creds_release(&c);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* forgetting the current login leaves none current */
	assert_int_equal(creds_forget(path, "http://b.example"), 0);
	assert_int_equal(creds_load(path, &c), CHAT_ENOTFOUND);
	assert_int_equal(creds_load_server(path, "a.example", &c), 0);
	creds_release(&c);
	/* the next save becomes current; forgetting the last removes the
	 * file; forgetting again is no error */
	save("http://c.example", "cy", "C1");
	current_is("http://c.example", "cy");
	assert_int_equal(creds_forget(path, "http://c.example"), 0);
	assert_int_equal(creds_forget(path, "http://a.example"), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(creds_forget(path, "http://a.example"), 0);
}

static void test_creds__names(void **state)
{
	static const struct {
		const char *url, *name;
	} cases[] = {
		{ "http://127.0.0.1:8080", "127.0.0.1:8080" },
		{ "https://chat.example.org/base", "chat.example.org" },
		{ "http://[::1]:80", "[::1]:80" },
	};
	char name[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		creds_name(cases[i].url, name, sizeof(name));
		assert_string_equal(name, cases[i].name);
	}
}

static void test_creds__broken_file(void **state)
{
	struct creds c;
	FILE *f;

	(void)state;
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs("{\"others\":3}", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(creds_load(path, &c), CHAT_EPARSE);
	/* a login replaces a file that does not parse */
	save("http://a.example", "ann", "A");
	current_is("http://a.example", "ann");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_creds__old_form_is_one_current_server, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_creds__use_save_forget,
						setup, teardown),
		cmocka_unit_test(test_creds__names),
		cmocka_unit_test_setup_teardown(test_creds__broken_file, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
