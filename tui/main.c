/*
 * main.c - chatui's entry point: the options (from one table, which
 * --help prints), the server to use, the terminal, and the main loop.
 */
#include "app.h"

#include <curl/curl.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "url.h"
#include "banned.h"

enum { OPT_SERVER = 256, OPT_CONVERSATION, OPT_VERSION, OPT_HELP };

static const struct {
	int id;
	int short_name;
	const char *long_name;
	const char *arg;
	const char *help;
} main_options[] = {
	{ OPT_CONVERSATION, 'c', "conversation", "ID",
	  "open the conversation ID" },
	{ OPT_HELP, 'h', "help", NULL, "show this help" },
	{ OPT_SERVER, 's', "server", "URL",
	  "the server (default: CHAT_SERVER, the logged-in server, "
	  CHATUI_DEFAULT_SERVER ")" },
	{ OPT_VERSION, 'V', "version", NULL, "show the version" },
};

#define MAIN_NOPTS (sizeof(main_options) / sizeof(main_options[0]))

static void main_usage(FILE *f)
{
	char left[64];
	size_t i;

	fprintf(f, "usage: chatui [options]\n\n"
		"The terminal client of chat: conversations, streamed "
		"answers, branches.\nPress F1 inside for the keys.\n\n");
	for (i = 0; i < MAIN_NOPTS; i++) {
		snprintf(left, sizeof(left), "-%c, --%s%s%s",
			 main_options[i].short_name,
			 main_options[i].long_name,
			 main_options[i].arg ? " " : "",
			 main_options[i].arg ? main_options[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, main_options[i].help);
	}
	fprintf(f, "\nEnvironment: CHAT_SERVER, NO_COLOR, XDG_CONFIG_HOME, "
		"CHATUI_TRACE.\nSee chatui(1).\n");
}

/* The server: --server, CHAT_SERVER, the credentials' server, the
 * default; trailing slashes dropped.  0 or CHAT_EINVAL. */
static int main_server(const char *opt, char *out, size_t outlen)
{
	const char *s = opt, *env = getenv("CHAT_SERVER");
	char path[4096];
	struct creds c = { 0 };
	struct url u;
	size_t n, scheme;
	int rc = 0;

	if (!s && env && env[0])
		s = env;
	/* no server given: the current one of the credentials file; a
	 * name rather than a URL: that server of the file (chatctl's
	 * `server ls`) */
	if ((!s || !strstr(s, "://")) &&
	    creds_default_path(path, sizeof(path)) == 0 &&
	    (s ? creds_load_server(path, s, &c) : creds_load(path, &c)) == 0)
		s = c.server;
	if (!s)
		s = CHATUI_DEFAULT_SERVER;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		n--;
	/* url.h's grammar on the URL without its trailing slashes; the
	 * scheme written again in lower case, the form the REST client
	 * (client.c) takes */
	if (n >= outlen)
		rc = CHAT_EINVAL;
	else
		snprintf(out, outlen, "%.*s", (int)n, s);
	if (rc == 0 && (url_parse(out, &u, NULL) != 0 ||
			(u.scheme != URL_HTTP && u.scheme != URL_HTTPS)))
		rc = CHAT_EINVAL;
	if (rc == 0) {
		scheme = strlen(url_scheme_name(u.scheme));
		memcpy(out, url_scheme_name(u.scheme), scheme);
	}
	if (rc < 0)
		fprintf(stderr, "chatui: '%s' is not an http:// or https:// "
			"URL\n", s);
	creds_release(&c);
	return rc;
}

int main(int argc, char **argv)
{
	struct option longs[MAIN_NOPTS + 1];
	char shorts[32], server[1024];
	const char *server_opt = NULL, *conv = NULL;
	struct app *a;
	size_t i, k = 0;
	int c, rc;
	int64_t t0 = app_now_us();	/* the trace counts curl's setup */

	memset(longs, 0, sizeof(longs));
	for (i = 0; i < MAIN_NOPTS; i++) {
		longs[i].name = main_options[i].long_name;
		longs[i].has_arg = main_options[i].arg ? required_argument :
							 no_argument;
		longs[i].val = main_options[i].short_name;
		shorts[k++] = (char)main_options[i].short_name;
		if (main_options[i].arg)
			shorts[k++] = ':';
	}
	shorts[k] = '\0';
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case 's':
			server_opt = optarg;
			break;
		case 'c':
			conv = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("chatui %s\n", CHATUI_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chatui: unexpected argument '%s'\n",
			argv[optind]);
		main_usage(stderr);
		return 1;
	}
	if (conv && strlen(conv) >= CHATUI_ID_MAX) {
		fprintf(stderr, "chatui: '%s' is not a conversation id\n",
			conv);
		return 1;
	}
	if (main_server(server_opt, server, sizeof(server)) < 0)
		return 1;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "chatui: needs a terminal (use chatctl in "
			"scripts)\n");
		return 1;
	}
	setlocale(LC_ALL, "");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "chatui: cannot initialise libcurl\n");
		return 1;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return 1;
	rc = app_init(a, server, conv);
	a->start_us = t0;
	if (rc == 0)
		rc = term_init(a);
	if (rc == 0)
		rc = app_run(a);
	term_restore();
	app_release(a);
	free(a);
	curl_global_cleanup();
	if (rc < 0) {
		fprintf(stderr, "chatui: %s\n", chat_strerror(rc));
		return 1;
	}
	return 0;
}
