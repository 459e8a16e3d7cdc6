/*
 * module-ext.h - for the source of a run-time module only (db-pg.c,
 * http-curl.c): included after every other header, it routes the
 * module's calls into the program through the struct module_host that
 * module_load handed it (module.h), so that the module needs no symbol
 * of the program and the program exports none.  A call the table lacks
 * stays an undefined symbol, which the module's link (-z defs) refuses.
 *
 * The module says MODULE_EXT_INIT once, at file scope.
 */
#ifndef CHAT_MODULE_EXT_H
#define CHAT_MODULE_EXT_H

#include "module.h"

/* Set by module_load before the module's ops are used.  Its symbol
 * carries the table's version (chat_module_host_v1), so that a module
 * built for another layout is refused at load, never called through. */
#define MODULE_HOST_SYM_(v) chat_module_host_v ## v
#define MODULE_HOST_SYM(v) MODULE_HOST_SYM_(v)
#define chat_module_host MODULE_HOST_SYM(MODULE_HOST_VERSION)
extern const struct module_host *chat_module_host;

#define MODULE_EXT_INIT \
	__attribute__((visibility("default"))) \
	const struct module_host *chat_module_host

#define buf_init (chat_module_host->buf_init)
#define buf_release (chat_module_host->buf_release)
#define buf_reset (chat_module_host->buf_reset)
#define buf_append (chat_module_host->buf_append)
#define chat_errf (chat_module_host->chat_errf)
#define log_level_current (*chat_module_host->log_level_current)
#define log_write (chat_module_host->log_write)
#define mono_ms (chat_module_host->mono_ms)
#define util_hex_value (chat_module_host->util_hex_value)
#define db_rows_new (chat_module_host->db_rows_new)
#define db_rows_add (chat_module_host->db_rows_add)
#define db_rows_free (chat_module_host->db_rows_free)
#define db_conn_seterr (chat_module_host->db_conn_seterr)

#endif
