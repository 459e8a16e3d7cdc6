/*
 * cli-main-stub.h - what cli/main.c gives the other chatctl modules
 * (cli_interrupted, cli_error, cli_warn, cli_catch_interrupt), for the
 * unit tests that link cli objects without main.c: messages go to
 * stderr, as chatctl's do, and no signal handler is installed.
 *
 * It defines the symbols, so include it from the test's one .c file
 * only, after cli/chatctl.h.
 */
#ifndef CHAT_TEST_CLI_MAIN_STUB_H
#define CHAT_TEST_CLI_MAIN_STUB_H

#include <stdarg.h>
#include <stdio.h>

volatile sig_atomic_t cli_interrupted;

/* One line of a message on stderr: cli_error and cli_warn alike, the
 * "chatctl: " prefix left out so a test can compare what it captures. */
static void cli_main_stub_line(const char *fmt, va_list ap)
{
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_main_stub_line(fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_main_stub_line(fmt, ap);
	va_end(ap);
}

void cli_catch_interrupt(void)
{
	cli_interrupted = 0;
}

#endif
