/*
 * module.c - finds, loads and remembers the run-time modules of module.h.
 *
 * Why modules at all: libpq and libcurl each pull in a chain of libraries
 * (Kerberos, LDAP, SASL, GnuTLS, p11-kit, nettle...) that the dynamic
 * loader maps, relocates and initialises at exec, used or not: 3.5-4.4
 * MiB of RSS in every daemon.  Behind dlopen they cost nothing until a
 * deployment asks for PostgreSQL or for an https upstream.
 *
 * A module is opened RTLD_NOW (a missing symbol fails here, at load, with
 * the loader's message, not later in the middle of a request) and
 * RTLD_LOCAL (its libraries do not leak into the global namespace).  It is
 * never unloaded.  Before its ops are looked up it is given the program's
 * table of functions (struct module_host): the only way it calls back.
 */
#include "module.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db-internal.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* What a module may call in this program (module.h). */
static const struct module_host module_host_table = {
	.version = MODULE_HOST_VERSION,
	.size = sizeof(struct module_host),
	.buf_init = buf_init,
	.buf_release = buf_release,
	.buf_reset = buf_reset,
	.buf_append = buf_append,
	.chat_errf = chat_errf,
	.log_level_current = &log_level_current,
	.log_write = log_write,
	.mono_ms = mono_ms,
	.util_hex_value = util_hex_value,
	.db_rows_new = db_rows_new,
	.db_rows_add = db_rows_add,
	.db_rows_free = db_rows_free,
	.db_conn_seterr = db_conn_seterr,
};

#define MODULE_MAX 8			/* distinct modules in one process */
#define MODULE_NAME_MAX 31
#define MODULE_ERR_MAX 512

/* One module's load, done once; failures are remembered too, so that a
 * missing chat-curl.so costs one search, not one per request. */
struct module {
	char name[MODULE_NAME_MAX + 1];
	int version;
	int rc;				/* the load's result */
	const void *ops;		/* the ops symbol when rc == 0 */
	char err[MODULE_ERR_MAX];	/* why not, when rc < 0 */
};

static pthread_mutex_t module_mu = PTHREAD_MUTEX_INITIALIZER;
static struct module module_table[MODULE_MAX];	/* under module_mu */
static size_t module_count;

static size_t module_dirs(char dirs[][PATH_MAX], size_t max);
static int module_open(struct module *m);

/* The directories to search, in order; returns how many. */
static size_t module_dirs(char dirs[][PATH_MAX], size_t max)
{
	const char *env = getenv("CHAT_MODULE_DIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;
	size_t count = 0;

	if (env && *env) {
		snprintf(dirs[0], PATH_MAX, "%s", env);
		return 1;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	if (count < max &&
	    (size_t)snprintf(dirs[count], PATH_MAX, "%s", exe[0] ? exe : "/")
	    < PATH_MAX)
		count++;
	if (count < max &&
	    (size_t)snprintf(dirs[count], PATH_MAX, "%s/../lib/chat", exe)
	    < PATH_MAX)
		count++;
	return count;
}

/* Finds and opens m's file, fills m->ops or m->err; returns m->rc. */
static int module_open(struct module *m)
{
	char dirs[2][PATH_MAX], path[PATH_MAX + 64], sym[80], host_sym[40];
	char looked[MODULE_ERR_MAX / 2] = "";
	size_t ndirs, i, used = 0;
	const struct module_host **host;
	void *h;
	const char *why;

	ndirs = module_dirs(dirs, 2);
	snprintf(sym, sizeof(sym), "chat_module_%s_v%d", m->name, m->version);
	snprintf(host_sym, sizeof(host_sym), "chat_module_host_v%d",
		 MODULE_HOST_VERSION);
	for (i = 0; i < ndirs; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/chat-%s.so",
				     dirs[i], m->name) >= sizeof(path))
			continue;
		if (access(path, F_OK) != 0) {
			if (used < sizeof(looked))
				used += (size_t)snprintf(looked + used,
					sizeof(looked) - used, "%s'%.200s'",
					used ? ", " : "", dirs[i]);
			continue;
		}
		dlerror();
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			why = dlerror();
			chat_errf(m->err, sizeof(m->err),
				  "cannot load module '%s': %s", path,
				  why ? why : "unknown reason");
			return m->rc = CHAT_EIO;
		}
		/* the table first: the ops may call into it at once */
		host = dlsym(h, host_sym);
		if (!host) {
			chat_errf(m->err, sizeof(m->err),
				  "module '%s' has no '%s' (built from "
				  "another version?)", path, host_sym);
			dlclose(h);
			return m->rc = CHAT_ENOTFOUND;
		}
		*host = &module_host_table;
		m->ops = dlsym(h, sym);
		if (!m->ops) {
			chat_errf(m->err, sizeof(m->err),
				  "module '%s' has no '%s' (built from "
				  "another version?)", path, sym);
			dlclose(h);
			return m->rc = CHAT_ENOTFOUND;
		}
		return m->rc = 0;
	}
	chat_errf(m->err, sizeof(m->err),
		  "cannot find module 'chat-%s.so' (looked in %s; "
		  "CHAT_MODULE_DIR names another directory)", m->name,
		  used ? looked : "no directory: /proc/self/exe unreadable");
	return m->rc = CHAT_ENOTFOUND;
}

const struct module_host *module_host(void)
{
	return &module_host_table;
}

int module_load(const char *name, int version, const void **ops, char *err,
		size_t errlen)
{
	struct module *m = NULL;
	size_t i;
	int rc;

	*ops = NULL;
	if (!name || !*name || strlen(name) > MODULE_NAME_MAX) {
		chat_errf(err, errlen, "invalid module name '%.40s'",
			  name ? name : "");
		return CHAT_EINVAL;
	}
	pthread_mutex_lock(&module_mu);
	for (i = 0; i < module_count && !m; i++)
		if (strcmp(module_table[i].name, name) == 0 &&
		    module_table[i].version == version)
			m = &module_table[i];
	if (!m && module_count == MODULE_MAX) {
		pthread_mutex_unlock(&module_mu);
		chat_errf(err, errlen, "too many modules (%d) for '%s'",
			  MODULE_MAX, name);
		return CHAT_ETOOBIG;
	}
	if (!m) {
		m = &module_table[module_count++];
		snprintf(m->name, sizeof(m->name), "%s", name);
		m->version = version;
		module_open(m);
	}
	rc = m->rc;
	if (rc == 0)
		*ops = m->ops;
	else
		chat_errf(err, errlen, "%s", m->err);
	pthread_mutex_unlock(&module_mu);
	return rc;
}
