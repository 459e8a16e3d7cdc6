/*
 * log.h - JSON-lines logging to stderr.
 *
 * One line per event: {"ts":"...","level":"info","svc":"userd",
 * "request_id":"...","msg":"..."}.  The level is checked before any
 * formatting happens.  The request id is per thread (set it when a worker
 * picks up a request).  Thread-safe.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

enum log_level { LOG_LDEBUG = 0, LOG_LINFO, LOG_LWARN, LOG_LERROR };

extern int log_level_current;

void log_init(const char *service, int level);
/* "debug", "info", "warn", "error" -> level; -1 if unknown. */
int log_level_parse(const char *name);
/* Per-thread request id for the following lines; NULL clears it. */
void log_set_request_id(const char *id);
const char *log_get_request_id(void);
void log_write(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...) do { \
	if ((lvl) >= log_level_current) log_write((lvl), __VA_ARGS__); \
} while (0)
#define log_debug(...) log_at(LOG_LDEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LINFO, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LWARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LERROR, __VA_ARGS__)

#endif
