/*
 * module.h - optional parts of the library loaded at run time.
 *
 * A module is a shared object chat-<name>.so that carries one backend
 * with a heavy dependency (chat-pg.so: libpq; chat-curl.so: libcurl), so
 * that a daemon maps those libraries only when its configuration needs
 * them.  The module exports one ops symbol, chat_module_<name>_v<N>; the
 * version changes whenever the ops struct does, so an old module is
 * refused rather than called through the wrong layout.
 *
 * Where a module is looked for, first match wins:
 *   $CHAT_MODULE_DIR (only there, when set and not empty)
 *   the directory of the running executable (/proc/self/exe): a build dir
 *   <that directory>/../lib/chat (what `make install` creates)
 *
 * The module calls back into the library (log, buf, err...) only through
 * a table of the program's functions, struct module_host, that
 * module_load hands it before anything else (SQLite's loadable-extension
 * pattern): the program exports nothing, and what a module needs of it
 * is this struct, where a reader can see it.  A module includes
 * module-ext.h last, which turns those calls into calls through the
 * table, and says MODULE_EXT_INIT once; its variable chat_module_host_v<N>
 * (N = MODULE_HOST_VERSION) is what module_load fills in.
 */
#ifndef CHAT_MODULE_H
#define CHAT_MODULE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct db_conn;
struct db_rows;

/* Bumped whenever the struct changes; a module built for another layout
 * is refused at load. */
#define MODULE_HOST_VERSION 1

struct module_host {
	int version;			/* MODULE_HOST_VERSION */
	size_t size;			/* sizeof(struct module_host) */
	/* buf.h */
	void (*buf_init)(struct buf *b, size_t max);
	void (*buf_release)(struct buf *b);
	void (*buf_reset)(struct buf *b);
	int (*buf_append)(struct buf *b, const void *data, size_t len);
	/* err.h */
	void (*chat_errf)(char *err, size_t errlen, const char *fmt, ...);
	/* log.h */
	const int *log_level_current;
	void (*log_write)(int level, const char *fmt, ...);
	/* util.h */
	int64_t (*mono_ms)(void);
	int (*util_hex_value)(int c);
	/* db.h, db-internal.h: the result sets and errors of a backend */
	int (*db_rows_new)(size_t ncols, struct db_rows **out);
	int (*db_rows_add)(struct db_rows *r, const char *s, size_t len);
	void (*db_rows_free)(struct db_rows *r);
	void (*db_conn_seterr)(struct db_conn *c, const char *fmt, ...);
};

/*
 * Loads chat-<name>.so (once per process; later calls give the first
 * call's result, failure included) and sets *ops to its symbol
 * chat_module_<name>_v<version>.  Any thread.  On failure returns
 * CHAT_ENOTFOUND (no file, or no such symbol) or CHAT_EIO (the file would
 * not load, e.g. a missing library or symbol), with a message naming the
 * file and the loader's reason in err (err may be NULL); CHAT_EINVAL or
 * CHAT_ETOOBIG for a name that cannot be a module's.  Logs nothing:
 * the caller knows whether a failure stops the daemon or one request.
 */
int module_load(const char *name, int version, const void **ops, char *err,
		size_t errlen);

/* The table module_load hands a module: for a test that compiles a
 * module's source into itself (tests/fuzz/fuzz-url.c) and so must set
 * its chat_module_host the same way. */
const struct module_host *module_host(void);

#endif
