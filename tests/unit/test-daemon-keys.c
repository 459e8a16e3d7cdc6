/*
 * test-daemon-keys.c - the stack's key tables (shared/daemon-keys.c)
 * against man/chat.conf.5: every key documented once, every documented
 * key in a table, each with its environment variable; and the tables
 * themselves well-formed (one definition per key, bounds that hold their
 * default).
 *
 * The man page is read from man/chat.conf.5 under the current directory
 * (scripts/test.sh runs from the checkout) or $CHAT_ROOT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon-keys.h"
#include "banned.h"

#define MAN_PATH "man/chat.conf.5"
#define MAN_MAX 128		/* documented keys */
#define NAME_MAX_LEN 128

/* One key as the man page tags it. */
struct man_key {
	char name[NAME_MAX_LEN];	/* "userd.port", "name.host", "[routes]" */
	char env[NAME_MAX_LEN];		/* "CHAT_USERD_PORT", or "" */
	int seen;			/* matched by a table entry */
};

/* The man page's form of a table key: "<daemon>.x" is "name.x", a '*'
 * is "name", and "section.*" is "[section]". */
static void man_form(const struct config_key *k, char *out, size_t outlen)
{
	const char *star = strchr(k->name, '*');
	size_t i, o = 0;

	if (k->flags & CONFIG_KEY_PER_DAEMON) {
		snprintf(out, outlen, "name.%s", k->name);
		return;
	}
	if (star && star[1] == '\0' && star > k->name && star[-1] == '.' &&
	    strchr(k->name, '*') == star) {
		snprintf(out, outlen, "[%.*s]", (int)(star - k->name - 1),
			 k->name);
		return;
	}
	for (i = 0; k->name[i] && o + 5 < outlen; i++) {
		if (k->name[i] == '*') {
			memcpy(out + o, "name", 4);
			o += 4;
		} else {
			out[o++] = k->name[i];
		}
	}
	out[o] = '\0';
}

/* Splits a macro line's arguments (after the macro name), with double
 * quotes grouping; returns how many, at most max. */
static size_t man_args(char *line, char **args, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p == '"') {
			args[n++] = ++p;
			while (*p && *p != '"')
				p++;
		} else {
			args[n++] = p;
			while (*p && *p != ' ')
				p++;
		}
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* "userd\-x" -> "userd-x"; "\c" and "\fB" style escapes dropped. */
static void man_unescape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 1 < outlen; in++) {
		if (in[0] == '\\' && in[1] == '-') {
			out[o++] = '-';
			in++;
		} else if (in[0] == '\\' && in[1] == 'f' && in[2]) {
			in += 2;
		} else if (in[0] == '\\' && in[1]) {
			in++;
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

/* The tag line of a .TP entry -> key name and variable. */
static void man_tag(const char *line, struct man_key *mk)
{
	char copy[512], piece[NAME_MAX_LEN], *args[16];
	size_t n, i, used = 0;
	const char *sp = strchr(line, ' ');

	mk->name[0] = mk->env[0] = '\0';
	if (!sp)
		return;
	snprintf(copy, sizeof(copy), "%s", sp + 1);
	n = man_args(copy, args, 16);
	for (i = 0; i < n; i++) {
		if (strcmp(args[i], " (") == 0) {
			if (i + 1 < n)
				man_unescape(args[i + 1], mk->env,
					     sizeof(mk->env));
			break;
		}
		man_unescape(args[i], piece, sizeof(piece));
		used += (size_t)snprintf(mk->name + used,
					 sizeof(mk->name) - used, "%s", piece);
		if (used >= sizeof(mk->name))
			break;
	}
}

/* The .TP tags of the KEYS section. */
static size_t man_keys(struct man_key *keys, size_t max)
{
	char path[4096], line[512];
	const char *root = getenv("CHAT_ROOT");
	bool in_keys = false, tag_next = false;
	size_t n = 0;
	FILE *f = fopen(MAN_PATH, "r");

	if (!f && root) {
		snprintf(path, sizeof(path), "%s/%s", root, MAN_PATH);
		f = fopen(path, "r");
	}
	if (!f)
		fail_msg("cannot open %s (run from the checkout)", MAN_PATH);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SH ", 4) == 0) {
			in_keys = strcmp(line, ".SH KEYS") == 0;
			continue;
		}
		if (!in_keys)
			continue;
		if (strcmp(line, ".TP") == 0) {
			tag_next = true;
			continue;
		}
		if (tag_next && n < max) {
			man_tag(line, &keys[n]);
			if (keys[n].name[0])
				n++;
		}
		tag_next = false;
	}
	fclose(f);
	return n;
}

/* The variable of a plain key: CHAT_ + upper case, '_' for the rest. */
static void env_name(const char *key, char *out, size_t outlen)
{
	size_t i, o = (size_t)snprintf(out, outlen, "CHAT_");

	for (i = 0; key[i] && o + 1 < outlen; i++)
		out[o++] = isalnum((unsigned char)key[i]) ?
			(char)toupper((unsigned char)key[i]) : '_';
	out[o] = '\0';
}

static void test_daemon_keys__man_page_matches_tables(void **state)
{
	static struct man_key doc[MAN_MAX];
	const struct config_key *const *t;
	const struct config_key *k;
	char form[NAME_MAX_LEN], env[NAME_MAX_LEN];
	size_t ndoc, i, nkeys = 0;
	int bad = 0;

	(void)state;
	ndoc = man_keys(doc, MAN_MAX);
	assert_true(ndoc > 10);
	for (t = daemon_keys_stack; *t; t++) {
		for (k = *t; k->name; k++, nkeys++) {
			man_form(k, form, sizeof(form));
			for (i = 0; i < ndoc; i++)
				if (strcmp(doc[i].name, form) == 0)
					break;
			if (i == ndoc) {
				print_error("'%s' is not in %s\n", form,
					    MAN_PATH);
				bad++;
				continue;
			}
			doc[i].seen++;
			if ((k->flags & CONFIG_KEY_PER_DAEMON) ||
			    strchr(k->name, '*'))
				continue;
			env_name(k->name, env, sizeof(env));
			if (strcmp(doc[i].env, env) != 0) {
				print_error("%s gives '%s' the variable "
					    "'%s', not '%s'\n", MAN_PATH,
					    k->name, doc[i].env, env);
				bad++;
			}
		}
	}
	for (i = 0; i < ndoc; i++) {
		if (doc[i].seen != 1) {
			print_error("%s documents '%s', which %s\n", MAN_PATH,
				    doc[i].name, doc[i].seen ?
				    "two table entries match" :
				    "no key table has");
			bad++;
		}
	}
	assert_true(nkeys > 10);
	assert_int_equal(bad, 0);
}

/* Each key once over all tables; defaults within their own bounds and
 * choices; every table entry has help. */
static void test_daemon_keys__tables_are_well_formed(void **state)
{
	const struct config_key *const *t, *const *t2;
	const struct config_key *k, *k2;
	int bad = 0;

	(void)state;
	for (t = daemon_keys_stack; *t; t++) {
		for (k = *t; k->name; k++) {
			if (!k->help || !*k->help) {
				print_error("'%s' has no help\n", k->name);
				bad++;
			}
			for (t2 = t; *t2; t2++)
				for (k2 = t2 == t ? k + 1 : *t2; k2->name;
				     k2++)
					if (strcmp(k->name, k2->name) == 0 &&
					    k->flags == k2->flags) {
						print_error("'%s' is defined "
							    "twice\n",
							    k->name);
						bad++;
					}
			if (k->type == CONFIG_INT && k->def) {
				char *end;
				long v = strtol(k->def, &end, 10);

				if (*end || v < k->min || v > k->max) {
					print_error("'%s': default %s is out "
						    "of its bounds\n",
						    k->name, k->def);
					bad++;
				}
			}
			if (k->type == CONFIG_ENUM && !k->choices) {
				print_error("'%s' has no choices\n", k->name);
				bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_keys__man_page_matches_tables),
		cmocka_unit_test(test_daemon_keys__tables_are_well_formed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
