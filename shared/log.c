/*
 * log.c - JSON-lines logging to stderr (see log.h).
 *
 * Each line is built in memory and handed to one write(2), so lines from
 * different threads never interleave.  Strings are JSON-escaped and bytes
 * that are not valid UTF-8 become U+FFFD: every line is valid JSON that
 * jq or a log shipper can read, whatever a message contains.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "utf8.h"
#include "util.h"
#include "banned.h"

#define LOG_MSG_STACK 1024	/* messages up to this need no malloc */
#define LOG_MSG_MAX (64 * 1024)	/* longer messages are truncated */
#define LOG_LINE_MAX (8 * LOG_MSG_MAX)	/* worst case: all \u00XX */
#define LOG_REQUEST_ID_MAX 128

int log_level_current = LOG_LINFO;

static char log_service[64] = "chat";
static _Thread_local char log_request_id[LOG_REQUEST_ID_MAX + 1];

static const char *const log_level_names[] = {
	[LOG_LDEBUG] = "debug",
	[LOG_LINFO] = "info",
	[LOG_LWARN] = "warn",
	[LOG_LERROR] = "error",
};

#define LOG_NLEVELS \
	((int)(sizeof(log_level_names) / sizeof(log_level_names[0])))

void log_init(const char *service, int level)
{
	if (service)
		snprintf(log_service, sizeof(log_service), "%s", service);
	if (level < LOG_LDEBUG)
		level = LOG_LDEBUG;
	if (level > LOG_LERROR)
		level = LOG_LERROR;
	log_level_current = level;
}

int log_level_parse(const char *name)
{
	int i;

	if (!name)
		return -1;
	for (i = 0; i < LOG_NLEVELS; i++)
		if (strcasecmp(name, log_level_names[i]) == 0)
			return i;
	return -1;
}

void log_set_request_id(const char *id)
{
	if (!id) {
		log_request_id[0] = '\0';
		return;
	}
	snprintf(log_request_id, sizeof(log_request_id), "%s", id);
}

const char *log_get_request_id(void)
{
	return log_request_id[0] ? log_request_id : NULL;
}

/* Bytes of the valid UTF-8 sequence at s (len > 0), or 0 if invalid. */
static size_t log_utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xF0)
		n = 4;
	else if (s[0] >= 0xE0)
		n = 3;
	else
		n = 2;
	if (n > len || !utf8_valid((const char *)s, n))
		return 0;
	return n;
}

/* Appends s as a quoted JSON string. */
static int log_json_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int rc = buf_append(b, "\"", 1);

	while (rc == 0 && i < len) {
		unsigned char c = p[i];
		size_t n;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			rc = buf_append(b, esc, 2);
			i++;
		} else if (c == '\n') {
			rc = buf_append(b, "\\n", 2);
			i++;
		} else if (c == '\t') {
			rc = buf_append(b, "\\t", 2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			rc = buf_printf(b, "\\u%04x", c);
			i++;
		} else {
			n = log_utf8_seq(p + i, len - i);
			if (n) {
				rc = buf_append(b, p + i, n);
				i += n;
			} else {
				rc = buf_append(b, "\\ufffd", 6);
				i++;
			}
		}
	}
	if (rc == 0)
		rc = buf_append(b, "\"", 1);
	return rc;
}

/* One write(2) for the whole line; retries only what the kernel left. */
static void log_emit(const char *line, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* nowhere left to report it */
		line += n;
		len -= (size_t)n;
	}
}

void log_write(int level, const char *fmt, ...)
{
	char stack[LOG_MSG_STACK], ts[32];
	char *msg = stack, *heap = NULL;
	const char *rid;
	struct buf line;
	va_list ap;
	int n, rc, saved_errno = errno;

	if (level < log_level_current)
		return;
	if (level < LOG_LDEBUG || level >= LOG_NLEVELS)
		level = LOG_LERROR;
	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n < 0) {
		n = 0;
		stack[0] = '\0';
	} else if ((size_t)n >= sizeof(stack)) {
		size_t want = (size_t)n < LOG_MSG_MAX ? (size_t)n + 1 :
			      LOG_MSG_MAX;

		heap = malloc(want);
		if (heap) {
			va_start(ap, fmt);
			vsnprintf(heap, want, fmt, ap);
			va_end(ap);
			msg = heap;
			n = (int)strlen(heap);
		} else {
			n = (int)sizeof(stack) - 1;	/* keep the head */
		}
	}

	json_time_format(now_ms(), ts);
	buf_init(&line, LOG_LINE_MAX);
	rc = buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"svc\":",
			ts, log_level_names[level]);
	if (rc == 0)
		rc = log_json_string(&line, log_service, strlen(log_service));
	rid = log_get_request_id();
	if (rc == 0 && rid) {
		rc = buf_puts(&line, ",\"request_id\":");
		if (rc == 0)
			rc = log_json_string(&line, rid, strlen(rid));
	}
	if (rc == 0)
		rc = buf_puts(&line, ",\"msg\":");
	if (rc == 0)
		rc = log_json_string(&line, msg, (size_t)n);
	if (rc == 0)
		rc = buf_puts(&line, "}\n");
	if (rc == 0)
		log_emit(line.data, line.len);
	buf_release(&line);
	free(heap);
	errno = saved_errno;	/* callers log then look at errno */
}
