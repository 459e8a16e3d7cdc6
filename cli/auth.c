/*
 * auth.c - what register, login and the password verbs share: the
 * username from the command line or a prompt, passwords from stdin
 * (--password-stdin, a line each) or a prompt that does not echo, other
 * lines (an address, a mailed code) from an option or a prompt, and
 * wiping passwords after use.
 */
#include "chatctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "banned.h"

#define AUTH_PASSWORD_MAX 1024	/* userd's limit, in bytes */

void ctl_auth_wipe(char *s)
{
	if (s) {
		/* volatile: the compiler must not drop the stores */
		volatile char *p = s;

		while (*p)
			*p++ = '\0';
	}
}

/* One line of stdin without its line end; *out is owned by the caller.
 * CLI_INTERRUPTED on Ctrl-C, CLI_USAGE on end of input. */
static int ctl_auth_read_line(char **out)
{
	size_t cap = 0;
	ssize_t n;

	*out = NULL;
	errno = 0;
	n = getline(out, &cap, stdin);
	if (n < 0) {
		/* at end of input getline leaves its buffer without a NUL:
		 * wipe all of it, not up to a terminator that is not there */
		if (*out)
			sodium_memzero(*out, cap);
		free(*out);
		*out = NULL;
		if (errno == EINTR || cli_interrupted) {
			clearerr(stdin);
			return CLI_INTERRUPTED;
		}
		return CLI_USAGE;
	}
	while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
		(*out)[--n] = '\0';
	return CLI_OK;
}

/* A prompt on stderr, the answer from the terminal on stdin without
 * echo; the terminal is restored whatever happens (Ctrl-C included). */
static int ctl_auth_prompt_secret(const char *prompt, char **out)
{
	struct termios old, quiet;
	int rc;

	if (tcgetattr(STDIN_FILENO, &old) != 0) {
		cli_error("cannot read the terminal's settings: %s",
			  strerror(errno));
		return CLI_USAGE;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	fputs(prompt, stderr);
	fflush(stderr);
	cli_catch_interrupt();
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = ctl_auth_read_line(out);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	signal(SIGINT, SIG_DFL);
	if (rc == CLI_INTERRUPTED)
		fputc('\n', stderr);
	return rc;
}

int ctl_auth_username(struct cli_ctx *ctx, const struct cli_args *a,
		      char *user_out, size_t outlen)
{
	const char *name = a->val[OPT_USERNAME];
	char *line = NULL;
	int rc = CLI_OK;

	if (name && a->npos > 0) {
		cli_error("give the username once: --username or an argument");
		return CLI_USAGE;
	}
	if (!name && a->npos > 0)
		name = a->pos[0];
	if (!name) {
		if (!ctx->stdin_tty || a->count[OPT_PASSWORD_STDIN]) {
			cli_error("no username: pass --username NAME");
			return CLI_USAGE;
		}
		fputs("Username: ", stderr);
		fflush(stderr);
		cli_catch_interrupt();
		rc = ctl_auth_read_line(&line);
		signal(SIGINT, SIG_DFL);
		if (rc != CLI_OK)
			return rc;
		name = line;
	}
	if (!name[0] || strlen(name) >= outlen) {
		cli_error("the username must be 1 to %zu bytes", outlen - 1);
		rc = CLI_USAGE;
	} else {
		snprintf(user_out, outlen, "%s", name);
	}
	free(line);
	return rc;
}

int ctl_auth_password(struct cli_ctx *ctx, const struct cli_args *a,
		      bool confirm, char **out)
{
	char *again = NULL;
	int rc;

	*out = NULL;
	if (a->count[OPT_PASSWORD_STDIN]) {
		rc = ctl_auth_read_line(out);
		if (rc == CLI_USAGE)
			cli_error("no password on standard input");
	} else if (ctx->stdin_tty) {
		rc = ctl_auth_prompt_secret("Password: ", out);
		if (rc == CLI_OK && confirm) {
			rc = ctl_auth_prompt_secret("Repeat the password: ",
						    &again);
			if (rc == CLI_OK && strcmp(*out, again) != 0) {
				cli_error("the passwords differ");
				rc = CLI_USAGE;
			}
			ctl_auth_wipe(again);
			free(again);
		}
		if (rc == CLI_USAGE && *out == NULL)
			cli_error("no password given");
	} else {
		cli_error("no password: pass --password-stdin or run on a "
			  "terminal");
		rc = CLI_USAGE;
	}
	if (rc == CLI_OK && (!(*out)[0] || strlen(*out) > AUTH_PASSWORD_MAX)) {
		cli_error("the password must be 1 to %d bytes",
			  AUTH_PASSWORD_MAX);
		rc = CLI_USAGE;
	}
	if (rc != CLI_OK) {
		ctl_auth_wipe(*out);
		free(*out);
		*out = NULL;
	}
	return rc;
}

int ctl_auth_secret(struct cli_ctx *ctx, const struct cli_args *a,
		    const char *prompt, char **out)
{
	int rc;

	*out = NULL;
	if (a->count[OPT_PASSWORD_STDIN]) {
		rc = ctl_auth_read_line(out);
		if (rc == CLI_USAGE)
			cli_error("too few lines on standard input");
		return rc;
	}
	if (!ctx->stdin_tty) {
		cli_error("no password: pass --password-stdin or run on a "
			  "terminal");
		return CLI_USAGE;
	}
	return ctl_auth_prompt_secret(prompt, out);
}

int ctl_auth_ask(struct cli_ctx *ctx, const char *value, const char *prompt,
		 const char *flag, char **out)
{
	int rc;

	*out = NULL;
	if (value) {
		*out = strdup(value);
		if (!*out) {
			cli_error("out of memory");
			return CLI_SERVER;
		}
		return CLI_OK;
	}
	if (!ctx->stdin_tty) {
		cli_error("pass %s or run on a terminal", flag);
		return CLI_USAGE;
	}
	fputs(prompt, stderr);
	fflush(stderr);
	cli_catch_interrupt();
	rc = ctl_auth_read_line(out);
	signal(SIGINT, SIG_DFL);
	if (rc == CLI_OK && !(*out)[0]) {
		cli_error("nothing given");
		free(*out);
		*out = NULL;
		rc = CLI_USAGE;
	}
	return rc;
}
