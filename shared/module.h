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
 * The module calls back into the library (log, buf, err...): those
 * symbols come from the executable, which exports them (the Makefile
 * links every program with the list the modules need).
 */
#ifndef CHAT_MODULE_H
#define CHAT_MODULE_H

#include <stddef.h>

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

#endif
