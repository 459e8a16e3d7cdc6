/*
 * main.c - chatctl's entry point: the table of commands and the table of
 * options, the parsing of a command line against them, help and usage
 * text generated from the same tables, and the dispatch.
 *
 * A command is found by its name or a unique prefix of it ("conv" for
 * "conversation" style nouns, "l" for "ls"); a noun's verbs are a table of
 * their own.  Options common to every command (--server, --help) may come
 * before the command too.
 */
#include "chatctl.h"

#include <getopt.h>
#include <locale.h>
#include <langinfo.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "banned.h"

volatile sig_atomic_t cli_interrupted;

/* Every option of every command, sorted by long name; the help text is
 * the one --help and chatctl(1) show. */
static const struct cli_opt cli_options[] = {
	{ OPT_ALL, 0, "all", NULL,
	  "every one: every page of a list, every notification read" },
	{ OPT_ARCHIVED, 0, "archived", NULL,
	  "the archived conversations instead" },
	{ OPT_BY, 0, "by", "KEY",
	  "one row a day (default), a model, or (admin stats) a user" },
	{ OPT_COLOR, 0, "color", "WHEN",
	  "colour: never, always or auto (default; off with NO_COLOR)" },
	{ OPT_CODE, 0, "code", "CODE",
	  "the code from the mail (a password reset)" },
	{ 'c', 'c', "continue", NULL,
	  "continue the most recently updated conversation" },
	{ OPT_COMMANDS, 0, "commands", NULL,
	  "list every command, one a line (for scripts and completions)" },
	{ OPT_CONVERSATION, 0, "conversation", "ID",
	  "use the conversation ID" },
	{ OPT_CSV, 0, "csv", NULL, "print the server's CSV" },
	{ OPT_DISABLED, 0, "disabled", NULL, "only disabled accounts" },
	{ OPT_EMAIL, 0, "email", "ADDR",
	  "the account's e-mail address (a password reset, a new "
	  "account)" },
	{ OPT_EVENT, 0, "event", "TYPE",
	  "an event type (or prefix.*) the webhook gets; repeat for more" },
	{ OPT_EXPIRES, 0, "expires", "DAYS",
	  "the key stops working after DAYS days (1-3650)" },
	{ 'f', 'f', "follow", NULL,
	  "go on printing events until interrupted" },
	{ OPT_FORMAT, 0, "format", "FORMAT",
	  "md (the current branch as Markdown) or json (the whole tree)" },
	{ OPT_FROM, 0, "from", "DATE",
	  "the first UTC day, YYYY-MM-DD (default 29 days before --to)" },
	{ OPT_HELP, 'h', "help", NULL, "show this help" },
	{ OPT_JSON, 0, "json", NULL, "print JSON instead of text" },
	{ OPT_LIMIT, 'n', "limit", "N", "at most N items (1-100, default 20)" },
	{ 'm', 'm', "model", "MODEL", "the model to answer with" },
	{ OPT_NO_STREAM, 0, "no-stream", NULL,
	  "wait for the whole answer instead of streaming it" },
	{ OPT_OTHERS, 0, "others", NULL,
	  "every session but the current one" },
	{ OPT_OUTPUT, 'o', "output", "FORMAT",
	  "table (default), tsv (no heading) or json" },
	{ OPT_PASSWORD_STDIN, 0, "password-stdin", NULL,
	  "read the password from the first line of standard input" },
	{ OPT_QUERY, 'q', "query", "TEXT",
	  "only conversations whose title or messages contain TEXT" },
	{ OPT_RESET, 0, "reset", NULL,
	  "forgotten password: a code mailed to the account's verified "
	  "address sets a new one" },
	{ OPT_ROLE, 0, "role", "ROLE", "the role: admin, user or guest" },
	{ OPT_SCOPE, 0, "scope", "SCOPES",
	  "limit the key to chat, read and/or admin (a comma list)" },
	{ OPT_SEARCH, 0, "search", "TEXT",
	  "only usernames holding TEXT (case-insensitive)" },
	{ OPT_SERVER, 0, "server", "URL",
	  "the server, a URL or a name from 'server ls' (default: "
	  "CHAT_SERVER, the current server, " CLI_DEFAULT_SERVER ")" },
	{ OPT_SINCE, 0, "since", "TIME",
	  "redeliver every message since TIME (2026-12-07T10:00:00Z)" },
	{ 's', 's', "system", "TEXT", "the system prompt of the conversation" },
	{ OPT_TO, 0, "to", "DATE",
	  "the last UTC day, YYYY-MM-DD (default today)" },
	{ OPT_TYPE, 0, "type", "TYPE",
	  "only events of TYPE, or of a prefix such as chat.user.*" },
	{ OPT_UNREAD, 0, "unread", NULL, "only the unread notifications" },
	{ OPT_USER, 0, "user", "USER",
	  "only the user USER (a username or an id)" },
	{ OPT_USERNAME, 'u', "username", "NAME", "the account's username" },
	{ OPT_YES, 'y', "yes", NULL, "do it without asking for confirmation" },
};

#define CLI_NOPTS (sizeof(cli_options) / sizeof(cli_options[0]))

/* Options any command accepts. */
static const int cli_common[] = { OPT_SERVER, OPT_COLOR, OPT_HELP, 0 };

static const struct cli_cmd cli_help_cmd;
static const struct cli_cmd *const cli_commands[] = {
	&cmd_register, &cmd_login, &cmd_logout, &cmd_whoami, &cmd_ask,
	&cmd_chat, &cmd_conv, &cmd_model, &cmd_apikey, &cmd_server,
	&cmd_sessions, &cmd_profile, &cmd_usage, &cmd_notifications,
	&cmd_passwd, &cmd_email, &cmd_account, &cmd_admin, &cmd_webhook,
	&cmd_completion, &cmd_complete_helper, &cli_help_cmd,
	NULL,
};

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("chatctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("chatctl: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void cli_on_sigint(int sig)
{
	(void)sig;
	cli_interrupted = 1;
}

void cli_catch_interrupt(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: blocking reads see EINTR */
	sigaction(SIGINT, &sa, NULL);
	cli_interrupted = 0;
}

static const struct cli_opt *cli_option(int id)
{
	size_t i;

	for (i = 0; i < CLI_NOPTS; i++)
		if (cli_options[i].id == id)
			return &cli_options[i];
	return NULL;
}

static bool cli_has_opt(const int *ids, int id)
{
	for (; ids && *ids; ids++)
		if (*ids == id)
			return true;
	return false;
}

/* ---- help ---- */

static void cli_usage_line(FILE *f, const char *noun,
			   const struct cli_cmd *c)
{
	fprintf(f, "usage: chatctl %s%s%s [options]%s%s\n", noun ? noun : "",
		noun ? " " : "", c->name, c->args[0] ? " " : "", c->args);
}

static void cli_print_opts(FILE *f, const int *ids)
{
	char left[64];
	const struct cli_opt *o;
	int pass;

	/* the command's own options first, then the common ones */
	for (pass = 0; pass < 2; pass++) {
		const int *list = pass ? cli_common : ids;

		for (; list && *list; list++) {
			o = cli_option(*list);
			if (!o || (pass == 0 && cli_has_opt(cli_common, o->id)))
				continue;
			snprintf(left, sizeof(left), "%s%c%s--%s%s%s",
				 o->short_name ? "-" : "    ",
				 o->short_name ? o->short_name : ' ',
				 o->short_name ? ", " : "", o->long_name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
			if (!o->short_name)
				snprintf(left, sizeof(left), "    --%s%s%s",
					 o->long_name, o->arg ? " " : "",
					 o->arg ? o->arg : "");
			fprintf(f, "  %-26s %s\n", left, o->help);
		}
	}
}

static void cli_help_command(FILE *f, const char *noun,
			     const struct cli_cmd *c)
{
	const struct cli_cmd *v;

	if (c->verbs) {
		fprintf(f, "usage: chatctl %s%s%s COMMAND [options]\n\n%s\n\n"
			   "commands:\n", noun ? noun : "", noun ? " " : "",
			c->name, c->summary);
		for (v = c->verbs; v->name; v++) {
			char left[64];

			if (v->flags & CLI_CMD_HIDDEN)
				continue;
			snprintf(left, sizeof(left), "%s %s", v->name,
				 v->verbs ? "..." : v->args);
			fprintf(f, "  %-24s %s\n", left, v->summary);
		}
		fprintf(f, "\n'chatctl help %s%s%s COMMAND' shows a command's "
			   "options.\n", noun ? noun : "", noun ? " " : "",
			c->name);
		return;
	}
	cli_usage_line(f, noun, c);
	fprintf(f, "\n%s\n\noptions:\n", c->summary);
	cli_print_opts(f, c->opts);
}

static void cli_help_all(FILE *f)
{
	const struct cli_cmd *const *c;
	char left[64];

	fprintf(f, "usage: chatctl [--server URL] COMMAND [ARGS...]\n\n"
		   "The command-line client of the chat server.\n\n"
		   "commands:\n");
	for (c = cli_commands; *c; c++) {
		if ((*c)->flags & CLI_CMD_HIDDEN)
			continue;
		snprintf(left, sizeof(left), "%s %s", (*c)->name,
			 (*c)->verbs ? "..." : (*c)->args);
		fprintf(f, "  %-24s %s\n", left, (*c)->summary);
	}
	fprintf(f, "\n'chatctl help COMMAND' or 'chatctl COMMAND --help' "
		   "shows a command's options.\nExit status: 0 ok, 1 usage, "
		   "2 auth, 3 not found, 4 server or upstream error.\n"
		   "See chatctl(1).\n");
}

/* ---- lookup ---- */

/* The entry named name, or the only one it is a prefix of.  list is
 * either an array of pointers (cmds) or a {0}-ended table (verbs). */
static const struct cli_cmd *cli_find(const struct cli_cmd *const *cmds,
				      const struct cli_cmd *verbs,
				      const char *name, const char *what)
{
	const struct cli_cmd *found = NULL, *c;
	size_t len = strlen(name), i;
	int matches = 0;
	struct buf names;

	for (i = 0;; i++) {
		c = cmds ? cmds[i] : &verbs[i];
		if (!c || !c->name)
			break;
		if (strcmp(c->name, name) == 0)
			return c;
		if (len && strncmp(c->name, name, len) == 0) {
			found = c;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (matches == 0) {
		cli_error("unknown %s '%s' (see 'chatctl help')", what, name);
		return NULL;
	}
	buf_init(&names, 4096);
	for (i = 0;; i++) {
		c = cmds ? cmds[i] : &verbs[i];
		if (!c || !c->name)
			break;
		if (strncmp(c->name, name, len) == 0)
			buf_printf(&names, "%s%s", names.len ? ", " : "",
				   c->name);
	}
	cli_error("ambiguous %s '%s': %s", what, name,
		  names.data ? names.data : "");
	buf_release(&names);
	return NULL;
}

/* ---- option parsing ---- */

/* Parses argv (argv[0] is the command's name) against the command's and
 * the common options into a. */
static int cli_parse(const struct cli_cmd *c, const char *display,
		     int argc, char **argv, struct cli_args *a)
{
	struct option longs[CLI_NOPTS + 1];
	char shorts[2 * CLI_NOPTS + 4];
	size_t nl = 0, ns = 0, i;
	const struct cli_opt *o;
	int ch, idx;

	memset(a, 0, sizeof(*a));
	shorts[ns++] = ':';	/* report a missing value as ':' */
	for (i = 0; i < CLI_NOPTS; i++) {
		o = &cli_options[i];
		if (!cli_has_opt(c->opts, o->id) &&
		    !cli_has_opt(cli_common, o->id))
			continue;
		longs[nl].name = o->long_name;
		longs[nl].has_arg = o->arg ? required_argument : no_argument;
		longs[nl].flag = NULL;
		longs[nl].val = o->id;
		nl++;
		if (o->short_name) {
			shorts[ns++] = (char)o->short_name;
			if (o->arg)
				shorts[ns++] = ':';
		}
	}
	memset(&longs[nl], 0, sizeof(longs[nl]));
	shorts[ns] = '\0';

	optind = 0;	/* GNU: full reset, argv[0] is skipped */
	opterr = 0;
	for (;;) {
		idx = -1;
		ch = getopt_long(argc, argv, shorts, longs, &idx);
		if (ch == -1)
			break;
		if (ch == '?' || ch == ':') {
			const char *arg = argv[optind - 1];

			if (ch == ':')
				cli_error("option '%s' needs a value (see "
					  "'chatctl %s --help')", arg,
					  display);
			else if (optopt)
				cli_error("unknown option '-%c' for '%s'",
					  optopt, display);
			else
				cli_error("unknown option '%s' for '%s'", arg,
					  display);
			return CLI_USAGE;
		}
		/* short option letters map to their id through the table */
		o = NULL;
		for (i = 0; i < CLI_NOPTS && !o; i++)
			if (cli_options[i].id == ch ||
			    cli_options[i].short_name == ch)
				o = &cli_options[i];
		if (!o)
			return CLI_USAGE;
		a->val[o->id] = optarg;
		a->count[o->id]++;
		if (o->id == OPT_EVENT) {
			if (a->nevents == CLI_EVENTS_MAX) {
				cli_error("at most %d '--event' options",
					  CLI_EVENTS_MAX);
				return CLI_USAGE;
			}
			a->events[a->nevents++] = optarg;
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	return CLI_OK;
}

/* ---- help as a command ---- */

/* help --commands: every command a user can run, from the table, so
 * that tests and completions never keep a list of their own; a noun's
 * verbs under its name ("admin users ls"), at any depth. */
static void cli_help_commands_of(FILE *f, const char *prefix,
				 const struct cli_cmd *c)
{
	char path[128];
	const struct cli_cmd *v;

	if (c->flags & CLI_CMD_HIDDEN)
		return;
	snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? " " : "",
		 c->name);
	if (!c->verbs) {
		fprintf(f, "%s\n", path);
		return;
	}
	for (v = c->verbs; v->name; v++)
		cli_help_commands_of(f, path, v);
}

static void cli_help_commands(FILE *f)
{
	const struct cli_cmd *const *c;

	for (c = cli_commands; *c; c++)
		cli_help_commands_of(f, "", *c);
}

static int cli_help_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	const struct cli_cmd *c, *v;
	char noun[128];
	size_t len;
	int i;

	(void)ctx;
	if (a->count[OPT_COMMANDS]) {
		if (a->npos) {
			cli_error("'help --commands' takes no command");
			return CLI_USAGE;
		}
		cli_help_commands(stdout);
		return CLI_OK;
	}
	if (a->npos == 0) {
		cli_help_all(stdout);
		return CLI_OK;
	}
	c = cli_find(cli_commands, NULL, a->pos[0], "command");
	if (!c)
		return CLI_USAGE;
	/* down the nouns as far as the words go: help admin users ls */
	noun[0] = '\0';
	for (i = 1; i < a->npos && c->verbs; i++) {
		v = cli_find(NULL, c->verbs, a->pos[i], "command");
		if (!v)
			return CLI_USAGE;
		len = strlen(noun);
		snprintf(noun + len, sizeof(noun) - len, "%s%s",
			 len ? " " : "", c->name);
		c = v;
	}
	cli_help_command(stdout, noun[0] ? noun : NULL, c);
	return CLI_OK;
}

static const struct cli_cmd cli_help_cmd = {
	.name = "help",
	.args = "[COMMAND...]",
	.summary = "show the commands, or a command's options",
	.opts = (const int[]){ OPT_COMMANDS, 0 },
	.min_pos = 0,
	.max_pos = 3,
	.exec = cli_help_exec,
};

/* ---- the tables, for completion.c ---- */

const struct cli_cmd *const *cli_command_table(void)
{
	return cli_commands;
}

const struct cli_opt *cli_option_by_id(int id)
{
	return cli_option(id);
}

const int *cli_common_options(void)
{
	return cli_common;
}

/* ---- main ---- */

static void cli_locale(void)
{
	/* wcwidth needs a UTF-8 LC_CTYPE; the server's text is UTF-8
	 * whatever the user's locale says */
	setlocale(LC_CTYPE, "");
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

static int cli_run(int argc, char **argv)
{
	struct cli_ctx ctx;
	struct cli_args a;
	const struct cli_cmd *c, *v = NULL;
	const char *noun = NULL;
	char display[128], path[128] = "";
	int n;
	size_t len;
	int i = 1, rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.stdin_tty = isatty(STDIN_FILENO);
	ctx.stdout_tty = isatty(STDOUT_FILENO);
	ctx.stderr_tty = isatty(STDERR_FILENO);

	/* options before the command */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			printf("chatctl %s\n", CHATCTL_VERSION);
			return CLI_OK;
		}
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cli_help_all(stdout);
			return CLI_OK;
		}
		if (strcmp(argv[i], "--server") == 0) {
			if (i + 1 >= argc) {
				cli_error("option '--server' needs a value");
				return CLI_USAGE;
			}
			ctx.server_opt = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--server=", 9) == 0) {
			ctx.server_opt = argv[i] + 9;
			i++;
		} else {
			cli_error("unknown option '%s' (see 'chatctl help')",
				  argv[i]);
			return CLI_USAGE;
		}
	}
	if (i >= argc) {
		cli_help_all(stderr);
		return CLI_USAGE;
	}
	c = cli_find(cli_commands, NULL, argv[i], "command");
	if (!c)
		return CLI_USAGE;
	i++;
	/* down the nouns: "admin users ls" is admin's users' ls */
	while (c->verbs) {
		/* a noun with an exec of its own runs it when no verb
		 * follows: `chatctl profile` is `chatctl profile show` */
		if (c->exec && (i >= argc || (argv[i][0] == '-' &&
					     strcmp(argv[i], "--help") != 0 &&
					     strcmp(argv[i], "-h") != 0)))
			break;
		if (i >= argc || strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cli_help_command(i >= argc ? stderr : stdout, noun, c);
			return i >= argc ? CLI_USAGE : CLI_OK;
		}
		v = cli_find(NULL, c->verbs, argv[i], "command");
		if (!v)
			return CLI_USAGE;
		len = strlen(path);
		n = snprintf(path + len, sizeof(path) - len, "%s%s",
			     len ? " " : "", c->name);
		if (n < 0 || (size_t)n >= sizeof(path) - len)
			return CLI_USAGE;	/* the table's names are short */
		noun = path;
		c = v;
		i++;
	}
	n = snprintf(display, sizeof(display), "%s%s%s", noun ? noun : "",
		     noun ? " " : "", c->name);
	if (n < 0 || (size_t)n >= sizeof(display))
		return CLI_USAGE;
	/* cli_parse wants the command's name in argv[0] */
	rc = cli_parse(c, display, argc - i + 1, argv + i - 1, &a);
	if (rc != CLI_OK)
		return rc;
	if (a.count[OPT_HELP]) {
		cli_help_command(stdout, noun, c);
		return CLI_OK;
	}
	if (a.npos < c->min_pos || (c->max_pos >= 0 && a.npos > c->max_pos)) {
		if (a.npos < c->min_pos)
			cli_error("'%s' needs %s (see 'chatctl %s --help')",
				  display, c->args, display);
		else
			cli_error("too many arguments for '%s' (see "
				  "'chatctl %s --help')", display, display);
		return CLI_USAGE;
	}
	if (a.val[OPT_SERVER])
		ctx.server_opt = a.val[OPT_SERVER];
	if (c->exec == cli_help_exec)
		return cli_help_exec(&ctx, &a);
	rc = out_setup(&ctx, &a);
	if (rc != CLI_OK)
		return rc;
	/* no server, no credentials: make runs these at build time */
	if (c->flags & CLI_CMD_OFFLINE)
		return c->exec(&ctx, &a);
	rc = api_init(&ctx);
	if (rc == CLI_OK)
		rc = c->exec(&ctx, &a);
	api_release(&ctx);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	cli_locale();
	/* a closed stdout (`chatctl ask | head -1`) is an EPIPE write
	 * error handled where it happens, not a silent death */
	signal(SIGPIPE, SIG_IGN);
	rc = cli_run(argc, argv);
	if (fflush(stdout) != 0 && rc == CLI_OK)
		rc = CLI_SERVER;
	return rc;
}
