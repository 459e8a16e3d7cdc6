/*
 * cmd-chat.c - `chatctl chat`: an interactive REPL on a conversation.
 *
 * On a terminal it uses readline's callback interface, so that Ctrl-C at
 * the prompt only clears the line (the loop sees the EINTR of select),
 * while Ctrl-C during an answer stops the generation on the server and
 * the REPL goes on.  Ctrl-D leaves.  History is kept in
 * $XDG_STATE_HOME/chat/history.  When stdin is not a terminal every line
 * is one prompt (or slash command) and the answers go to stdout, so the
 * REPL can be scripted and tested.
 *
 * A new conversation is created with the first message, not before, so
 * that opening and leaving the REPL leaves nothing behind.
 */
#include "chatctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "util.h"
#include "banned.h"

#define CHAT_HISTORY_MAX 1000
#define CHAT_PROMPT "> "

struct chat_state {
	struct cli_ctx *ctx;
	char conv[128];		/* "" until the first message */
	char *model;		/* owned; NULL: the server's default */
	char *system;		/* owned; for the next new conversation */
	bool interactive;	/* stdin is a terminal */
	bool quit;
	char history[PATH_MAX];	/* "" when there is nowhere to keep it */
	char *line;		/* a line readline handed over, owned */
	bool got_line;
};

typedef int (*chat_slash_fn)(struct chat_state *st, const char *arg);

struct chat_slash {
	const char *name;
	const char *arg;
	const char *help;
	chat_slash_fn fn;
};

static const struct chat_slash chat_slashes[];

/* readline's callback takes no argument */
static struct chat_state *chat_current;

/* Replaces an owned string with a copy of s (NULL or "" clears it). */
static int chat_set(char **dst, const char *s)
{
	char *copy = NULL;

	if (s && s[0]) {
		copy = strdup(s);
		if (!copy) {
			cli_error("out of memory");
			return CLI_SERVER;
		}
	}
	free(*dst);
	*dst = copy;
	return CLI_OK;
}

/* ---- slash commands ---- */

static int chat_cmd_new(struct chat_state *st, const char *arg)
{
	(void)arg;
	st->conv[0] = '\0';
	if (st->interactive)
		fprintf(stderr, "(a new conversation starts with the next "
				"message)\n");
	return CLI_OK;
}

static int chat_cmd_model(struct chat_state *st, const char *arg)
{
	int rc;

	if (!arg[0]) {
		fprintf(stderr, "model: %s\n", st->model ? st->model :
			"the server's default");
		return CLI_OK;
	}
	rc = chat_set(&st->model, arg);
	if (rc == CLI_OK && st->conv[0])
		rc = ctl_conv_patch_string(st->ctx, st->conv, "model", arg);
	if (rc == CLI_OK && st->interactive)
		fprintf(stderr, "(answers now come from '%s')\n", arg);
	return rc;
}

static int chat_cmd_system(struct chat_state *st, const char *arg)
{
	int rc;

	if (!arg[0]) {
		fprintf(stderr, "system prompt: %s\n",
			st->system ? st->system : "(none set here)");
		return CLI_OK;
	}
	rc = chat_set(&st->system, arg);
	if (rc == CLI_OK && st->conv[0])
		rc = ctl_conv_patch_string(st->ctx, st->conv, "system_prompt",
					   arg);
	if (rc == CLI_OK && st->interactive)
		fprintf(stderr, "(system prompt set)\n");
	return rc;
}

static int chat_cmd_help(struct chat_state *st, const char *arg)
{
	const struct chat_slash *s;
	char left[32];

	(void)st;
	(void)arg;
	fprintf(stderr, "Type a message and Enter to send it.  Ctrl-C stops "
			"an answer, Ctrl-D leaves.\n");
	for (s = chat_slashes; s->name; s++) {
		snprintf(left, sizeof(left), "%s%s%s", s->name,
			 s->arg[0] ? " " : "", s->arg);
		fprintf(stderr, "  %-16s %s\n", left, s->help);
	}
	fprintf(stderr, "  %-16s %s\n", "//TEXT", "send TEXT starting with /");
	return CLI_OK;
}

static int chat_cmd_quit(struct chat_state *st, const char *arg)
{
	(void)arg;
	st->quit = true;
	return CLI_OK;
}

static const struct chat_slash chat_slashes[] = {
	{ "/new", "", "start a new conversation", chat_cmd_new },
	{ "/model", "NAME", "answer with model NAME from now on",
	  chat_cmd_model },
	{ "/system", "TEXT", "set the conversation's system prompt",
	  chat_cmd_system },
	{ "/help", "", "show this help", chat_cmd_help },
	{ "/quit", "", "leave (Ctrl-D too)", chat_cmd_quit },
	{ NULL, NULL, NULL, NULL },
};

static int chat_slash(struct chat_state *st, const char *line)
{
	const struct chat_slash *s, *found = NULL;
	size_t len = strcspn(line, " \t");
	const char *arg = line + len;
	int matches = 0;

	while (*arg == ' ' || *arg == '\t')
		arg++;
	for (s = chat_slashes; s->name; s++) {
		if (strlen(s->name) == len &&
		    strncmp(s->name, line, len) == 0) {
			found = s;
			matches = 1;
			break;
		}
		if (strncmp(s->name, line, len) == 0) {
			found = s;
			matches++;
		}
	}
	if (matches != 1) {
		cli_error("%s command '%.*s' (/help lists them)",
			  matches ? "ambiguous" : "unknown", (int)len, line);
		return CLI_USAGE;
	}
	return found->fn(st, arg);
}

/* ---- a turn ---- */

static int chat_send(struct chat_state *st, const char *text)
{
	struct ctl_send_opts o = { 0 };
	struct ctl_send_result r;
	int rc = CLI_OK;

	if (!st->conv[0])
		rc = ctl_conv_create(st->ctx, st->model, st->system, st->conv,
				     sizeof(st->conv));
	if (rc != CLI_OK)
		return rc;
	ctl_send_result_init(&r);
	o.conversation_id = st->conv;
	o.content = text;
	o.stream = true;
	o.print = true;
	rc = ctl_send_message(st->ctx, &o, &r);
	if (r.newline_pending)
		fputc('\n', stdout);
	if (st->interactive)
		fputc('\n', stdout);	/* air between turns */
	fflush(stdout);
	if (rc == CLI_INTERRUPTED && st->interactive)
		fprintf(stderr, "(stopped)\n");
	ctl_send_result_release(&r);
	return rc;
}

/* One line typed (or read): a slash command, or a message. */
static int chat_line(struct chat_state *st, const char *line)
{
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return CLI_OK;
	if (p[0] == '/' && p[1] != '/')
		return chat_slash(st, p);
	if (p[0] == '/')
		line = p + 1;	/* "//x" sends "/x" */
	return chat_send(st, line);
}

/* ---- history ---- */

static void chat_history_open(struct chat_state *st)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[PATH_MAX];
	int n, fd;

	st->history[0] = '\0';
	if (state && state[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/chat", state);
	else if (home && home[0])
		n = snprintf(dir, sizeof(dir), "%s/.local/state/chat", home);
	else
		return;
	if (n < 0 || (size_t)n >= sizeof(dir) || util_mkdir_p(dir, 0700) < 0)
		return;
	n = snprintf(st->history, sizeof(st->history), "%s/history", dir);
	if (n < 0 || (size_t)n >= sizeof(st->history)) {
		st->history[0] = '\0';
		return;
	}
	/* append_history needs the file; create it private */
	fd = open(st->history, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		st->history[0] = '\0';
		return;
	}
	close(fd);
	using_history();
	stifle_history(CHAT_HISTORY_MAX);
	read_history(st->history);
}

static void chat_history_add(struct chat_state *st, const char *line)
{
	add_history(line);
	if (st->history[0])
		append_history(1, st->history);
}

static void chat_history_close(struct chat_state *st)
{
	if (st->history[0])
		history_truncate_file(st->history, CHAT_HISTORY_MAX);
}

/* ---- the loops ---- */

static void chat_on_readline(char *line)
{
	/* removed here, or readline shows the next prompt before the
	 * answer; chat_interactive installs it again after the turn */
	rl_callback_handler_remove();
	chat_current->line = line;
	chat_current->got_line = true;
}

/* Ctrl-C at the prompt: forget the line, show a fresh prompt. */
static void chat_clear_line(void)
{
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_crlf();
	rl_on_new_line();
	rl_redisplay();
}

static int chat_interactive(struct chat_state *st)
{
	fd_set fds;
	int n, rc;

	chat_current = st;
	rl_catch_signals = 0;	/* SIGINT is ours (cli_catch_interrupt) */
	rl_readline_name = "chatctl";
	chat_history_open(st);
	rl_callback_handler_install(CHAT_PROMPT, chat_on_readline);
	while (!st->quit) {
		if (cli_interrupted) {
			cli_interrupted = 0;
			chat_clear_line();
		}
		FD_ZERO(&fds);
		FD_SET(STDIN_FILENO, &fds);
		n = select(STDIN_FILENO + 1, &fds, NULL, NULL, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		rl_callback_read_char();
		if (!st->got_line)
			continue;
		st->got_line = false;
		if (!st->line)		/* Ctrl-D; readline ended the line */
			break;
		/* the turn runs with the terminal back in its own mode */
		if (st->line[0])
			chat_history_add(st, st->line);
		rc = chat_line(st, st->line);
		(void)rc;	/* reported; the REPL goes on */
		free(st->line);
		st->line = NULL;
		cli_interrupted = 0;
		if (!st->quit)
			rl_callback_handler_install(CHAT_PROMPT,
						    chat_on_readline);
	}
	rl_callback_handler_remove();
	chat_history_close(st);
	chat_current = NULL;
	return CLI_OK;
}

/* stdin is not a terminal: each line is a prompt; the first failure
 * ends the run with its status. */
static int chat_batch(struct chat_state *st)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = CLI_OK;

	while (rc == CLI_OK && !st->quit) {
		errno = 0;
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (cli_interrupted)
				rc = CLI_INTERRUPTED;
			break;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		rc = chat_line(st, line);
	}
	free(line);
	return rc;
}

static int chat_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct chat_state st;
	char path[256], esc[200];
	cJSON *conv = NULL;
	int rc;

	memset(&st, 0, sizeof(st));
	st.ctx = ctx;
	st.interactive = ctx->stdin_tty;
	if (a->count['c'] && a->val[OPT_CONVERSATION]) {
		cli_error("give either -c or --conversation, not both");
		return CLI_USAGE;
	}
	rc = api_need_creds(ctx);
	if (rc != CLI_OK)
		return rc;
	cli_catch_interrupt();
	if (chat_set(&st.model, a->val['m']) != CLI_OK ||
	    chat_set(&st.system, a->val['s']) != CLI_OK) {
		rc = CLI_SERVER;
		goto out;
	}
	if (a->val[OPT_CONVERSATION]) {
		/* fail now, not at the first message, on a bad id */
		rc = idprefix_conv(ctx, a->val[OPT_CONVERSATION], st.conv,
				   sizeof(st.conv));
		if (rc != CLI_OK)
			goto out;
		if (api_escape(st.conv, esc, sizeof(esc)) < 0) {
			cli_error("conversation id too long");
			rc = CLI_USAGE;
			goto out;
		}
		snprintf(path, sizeof(path), "/v1/conversations/%s", esc);
		rc = api_json(ctx, "GET", path, NULL, &conv);
		cJSON_Delete(conv);
		if (rc != CLI_OK)
			goto out;
	} else if (a->count['c']) {
		rc = ctl_conv_latest(ctx, st.conv, sizeof(st.conv));
		if (rc != CLI_OK)
			goto out;
	}
	if (st.conv[0] && st.model)
		rc = ctl_conv_patch_string(ctx, st.conv, "model", st.model);
	if (rc == CLI_OK && st.conv[0] && st.system)
		rc = ctl_conv_patch_string(ctx, st.conv, "system_prompt",
					   st.system);
	if (rc != CLI_OK)
		goto out;
	if (st.interactive) {
		fprintf(stderr, "chat on %s%s%s; /help for commands, Ctrl-D "
				"to leave\n", ctx->server,
			st.conv[0] ? ", conversation " : "", st.conv);
		rc = chat_interactive(&st);
	} else {
		rc = chat_batch(&st);
	}
out:
	free(st.model);
	free(st.system);
	return rc;
}

const struct cli_cmd cmd_chat = {
	.name = "chat",
	.args = "",
	.summary = "an interactive conversation (Ctrl-C stops an answer)",
	.opts = (const int[]){ 'm', 's', 'c', OPT_CONVERSATION, 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = chat_exec,
};
