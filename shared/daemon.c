/*
 * daemon.c - the common main() of every daemon (see daemon.h).
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "daemon-keys.h"
#include "db.h"
#include "err.h"
#include "events-relay.h"
#include "http-out.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

#define DAEMON_QUEUE_MAX 4096

static struct http_server *running_server;

static void on_signal(int sig)
{
	(void)sig;
	if (running_server)
		http_server_stop(running_server);
}

static void usage(FILE *to, const char *name)
{
	fprintf(to,
		"usage: %s [-c FILE] [-p]\n"
		"  -c FILE        configuration file (also CHAT_CONFIG)\n"
		"  -p             check the configuration, print the listen\n"
		"                 port and exit\n"
		"  -h, --help     this help\n"
		"  -V, --version  print the version and exit\n"
		"See %s(8) and chat.conf(5).\n", name, name);
}

/* The long spellings of the options; getopt_long maps them to the short
 * ones, so one loop handles both. */
static const struct option daemon_long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* A daemon's port offset: its index in daemon_keys_daemons, else -1. */
static int peer_offset(const char *name)
{
	int i;

	for (i = 0; daemon_keys_daemons[i]; i++)
		if (strcmp(daemon_keys_daemons[i], name) == 0)
			return i;
	return -1;
}

/* The stack's tables, and spec->keys when it is not one of them (a
 * program outside the stack, such as a test fixture). */
static void daemon_schema(struct daemon *d)
{
	size_t n = 0, i;
	int own = d->spec->keys != NULL;

	for (i = 0; daemon_keys_stack[i] &&
		    n + 2 < sizeof(d->tables) / sizeof(d->tables[0]); i++) {
		d->tables[n++] = daemon_keys_stack[i];
		if (daemon_keys_stack[i] == d->spec->keys)
			own = 0;
	}
	if (own)
		d->tables[n++] = d->spec->keys;
	d->tables[n] = NULL;
	d->schema = (struct config_schema){
		.tables = d->tables,
		.daemons = daemon_keys_daemons,
		.self = d->spec->name,
		.targets = "routes",
		.not_keys = daemon_keys_not_keys,
	};
}

/* data_dir from config, else $XDG_DATA_HOME/chat, else ~/.local/share/chat */
static int resolve_data_dir(struct config *cfg, char *err, size_t errlen)
{
	const char *dir = config_key_str(cfg, "data_dir");
	char path[4096];
	int rc;

	if (!dir || !*dir) {
		const char *xdg = getenv("XDG_DATA_HOME");
		const char *home = getenv("HOME");

		if (xdg && *xdg)
			snprintf(path, sizeof(path), "%s/chat", xdg);
		else if (home && *home)
			snprintf(path, sizeof(path), "%s/.local/share/chat",
				 home);
		else
			snprintf(path, sizeof(path), "/var/lib/chat");
		rc = config_set(cfg, "data_dir", path);
		if (rc)
			return rc;
		dir = config_key_str(cfg, "data_dir");
	}
	rc = util_mkdir_p(dir, 0700);
	if (rc)
		snprintf(err, errlen, "cannot create data dir '%s': %s", dir,
			 strerror(errno));
	return rc;
}

static int listen_port(const struct config *cfg, const char *name,
		       int gateway_port, int *port, char *err, size_t errlen)
{
	char key[64];
	int off = peer_offset(name);
	long v = off >= 0 ? gateway_port + off : 0;
	int rc;

	snprintf(key, sizeof(key), "%s.port", name);
	rc = config_key_int(cfg, key, &v, err, errlen);
	if (rc)
		return rc;
	if (v <= 0) {
		snprintf(err, errlen, "config: '%s' is required", key);
		return CHAT_EINVAL;
	}
	*port = (int)v;
	return 0;
}

int daemon_peer_url(const struct daemon *d, const char *name, char *out,
		    size_t outlen)
{
	char key[64], err[256];
	const char *url, *host;
	int port, rc;

	snprintf(key, sizeof(key), "%s.url", name);
	url = config_key_str(d->cfg, key);
	if (url && *url) {
		snprintf(out, outlen, "%s", url);
		return 0;
	}
	rc = listen_port(d->cfg, name, d->gateway_port, &port, err,
			 sizeof(err));
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%s.host", name);
	host = config_key_str(d->cfg, key);
	if ((size_t)snprintf(out, outlen, "http://%s:%d", host, port) >= outlen)
		return CHAT_ETOOBIG;
	return 0;
}

void daemon_healthz(struct http_req *req, struct http_res *res)
{
	struct daemon *d = req->app;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "service", d->spec->name);
	http_res_json(res, 200, o);
}

int daemon_body(struct http_req *req, cJSON **out)
{
	char err[160];
	int rc;

	*out = NULL;
	rc = json_parse_body(req->body, req->body_len, out, err, sizeof(err));
	if (rc < 0)
		http_res_error(req->res, 400, "invalid_json", "%s", err);
	return rc;
}

int daemon_db(struct http_req *req, struct db_conn **out)
{
	struct daemon *d = req->app;
	int rc = db_acquire(d->db, DAEMON_DB_WAIT_MS, out);

	if (rc < 0) {
		log_warn("no store connection: %s", chat_strerror(rc));
		http_res_header(req->res, "Retry-After", "1");
		http_res_error(req->res, 503, "busy",
			       "the store is busy, try again");
	}
	return rc;
}

void daemon_readyz(struct http_req *req, struct http_res *res)
{
	struct daemon *d = req->app;
	cJSON *o;

	if (d->db && !db_ping(d->db)) {
		http_res_error(res, 503, "not_ready", "store is not reachable");
		return;
	}
	if (d->spec->ready && d->spec->ready(d) != 0) {
		http_res_error(res, 503, "not_ready", "a dependency is down");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "ready");
	cJSON_AddStringToObject(o, "service", d->spec->name);
	http_res_json(res, 200, o);
}

/* -p: the port the daemon would listen on, for scripts/stack (which so
 * needs no copy of the offsets nor of the <name>.port rule). */
static int daemon_print_port(struct daemon *d, char *err, size_t errlen)
{
	long gateway = 0;
	int port, rc;

	rc = config_key_int(d->cfg, "port", &gateway, err, errlen);
	if (rc == 0)
		rc = listen_port(d->cfg, d->spec->name, (int)gateway, &port,
				 err, errlen);
	if (rc == 0 && printf("%d\n", port) < 0)
		rc = CHAT_EIO;
	return rc;
}

/* spec->events: the outbox relay, and its routes before the daemon's
 * own in a table of the daemon's (d->routes) */
static int daemon_events(struct daemon *d, char *err, size_t errlen)
{
	const struct daemon_spec *spec = d->spec;
	const struct http_route *kit;
	size_t nkit = 0;
	int rc;

	if (!spec->events)
		return 0;
	if (!d->db) {
		snprintf(err, errlen, "events need a store (spec->migrations)");
		return CHAT_EINVAL;
	}
	rc = events_kit_new(d, &d->events, err, errlen);
	if (rc)
		return rc;
	kit = events_kit_routes(&nkit);
	d->routes = calloc(nkit + spec->nroutes, sizeof(*d->routes));
	if (!d->routes)
		return CHAT_ENOMEM;
	memcpy(d->routes, kit, nkit * sizeof(*kit));
	if (spec->nroutes)
		memcpy(d->routes + nkit, spec->routes,
		       spec->nroutes * sizeof(*spec->routes));
	d->nroutes = nkit + spec->nroutes;
	return 0;
}

/* Everything between loading the config and serving; err says why. */
static int daemon_setup(struct daemon *d, char *err, size_t errlen)
{
	const struct daemon_spec *spec = d->spec;
	struct http_server_config hc;
	char key[64];
	long port = 0, workers = 0;
	int own_port, rc;

	rc = resolve_data_dir(d->cfg, err, errlen);
	if (rc)
		return rc;
	d->data_dir = config_key_str(d->cfg, "data_dir");
	rc = util_secret_load(d->data_dir, "internal.key", d->internal_secret,
			      sizeof(d->internal_secret));
	if (rc) {
		snprintf(err, errlen, "cannot read or create '%s/internal.key'",
			 d->data_dir);
		return rc;
	}
	rc = config_key_int(d->cfg, "port", &port, err, errlen);
	if (rc)
		return rc;
	d->gateway_port = (int)port;
	rc = listen_port(d->cfg, spec->name, d->gateway_port, &own_port, err,
			 errlen);
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%s.workers", spec->name);
	rc = config_key_int(d->cfg, key, &workers, err, errlen);
	if (rc)
		return rc;

	if (spec->migrations) {
		const char *uri = config_key_str(d->cfg, "database");

		rc = db_open(uri, d->data_dir, spec->name, (int)workers + 1,
			     &d->db, err, errlen);
		if (rc)
			return rc;
		rc = db_migrate(d->db, spec->migrations, spec->nmigrations,
				err, errlen);
		if (rc)
			return rc;
		if (spec->events) {
			rc = events_kit_migrate(d->db, err, errlen);
			if (rc)
				return rc;
		}
	}
	rc = pool_new((int)workers, DAEMON_QUEUE_MAX, &d->pool);
	if (rc) {
		snprintf(err, errlen, "cannot start worker threads");
		return rc;
	}
	rc = http_out_new(&d->out);
	if (rc) {
		snprintf(err, errlen, "cannot set up outbound HTTP");
		return rc;
	}
	if (spec->init) {
		rc = spec->init(d, err, errlen);
		if (rc)
			return rc;
	}
	d->initialized = 1;
	rc = daemon_events(d, err, errlen);
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%s.host", spec->name);
	hc = (struct http_server_config){
		.name = spec->name,
		.host = config_key_str(d->cfg, key),
		.port = own_port,
		.routes = d->routes ? d->routes : spec->routes,
		.nroutes = d->routes ? d->nroutes : spec->nroutes,
		.internal_secret = spec->public_facing ? NULL
						       : d->internal_secret,
		.pool = d->pool,
		.app = d,
		.cron = spec->cron,
		.cron_ms = spec->cron_ms,
		.fallback = spec->fallback,
		.max_fds = spec->max_fds,
	};
	snprintf(key, sizeof(key), "%s.max_body", spec->name);
	{
		long max_body = spec->max_body ? (long)spec->max_body
					       : 1L << 20;

		rc = config_key_int(d->cfg, key, &max_body, err, errlen);
		if (rc)
			return rc;
		hc.max_body = (size_t)max_body;
	}
	rc = http_server_new(&hc, &d->server, err, errlen);
	if (rc)
		return rc;
	/* this thread runs the loop (daemon_main) */
	http_out_attach(d->out, d->server);
	if (d->events) {
		rc = events_kit_start(d->events);
		if (rc) {
			snprintf(err, errlen, "cannot start the event relay: %s",
				 chat_strerror(rc));
			return rc;
		}
	}
	log_info("listening on %s:%d (%s)", hc.host, own_port,
		 http_server_loop_name(d->server));
	return 0;
}

int daemon_main(int argc, char **argv, const struct daemon_spec *spec)
{
	const char *cfg_path = getenv("CHAT_CONFIG");
	struct sigaction sa;
	struct daemon *d = NULL;
	const char *level_name = "info";
	char err[512] = "";
	int opt, rc = 0, level, print_port = 0;

	while ((opt = getopt_long(argc, argv, "c:phV", daemon_long_opts,
				  NULL)) != -1) {
		if (opt == 'V') {
			printf("%s %s\n", spec->name, CHAT_VERSION);
			return 0;
		} else if (opt == 'c') {
			cfg_path = optarg;
		} else if (opt == 'p') {
			print_port = 1;
		} else if (opt == 'h') {
			usage(stdout, spec->name);
			return 0;
		} else {
			usage(stderr, spec->name);
			return 1;
		}
	}
	if (optind < argc) {
		usage(stderr, spec->name);
		return 1;
	}
	d = calloc(1, spec->app_size > sizeof(*d) ? spec->app_size
						  : sizeof(*d));
	if (!d)
		return 1;
	d->spec = spec;
	log_init(spec->name, LOG_LINFO);
	if (crypto_init()) {
		snprintf(err, sizeof(err), "cannot initialise libsodium");
		rc = CHAT_ECRYPTO;
		goto out;
	}
	rc = config_load(&d->cfg, cfg_path && *cfg_path ? cfg_path : NULL,
			 cfg_path && *cfg_path, err, sizeof(err));
	if (rc)
		goto out;
	daemon_schema(d);
	config_use_schema(d->cfg, &d->schema);
	rc = config_validate(d->cfg, err, sizeof(err));
	if (rc)
		goto out;
	rc = config_key_enum(d->cfg, "log_level", &level_name, err,
			     sizeof(err));
	if (rc)
		goto out;
	level = log_level_parse(level_name);
	if (level < 0) {
		snprintf(err, sizeof(err), "log level '%s' is not known",
			 level_name);
		rc = CHAT_EINVAL;
		goto out;
	}
	log_init(spec->name, level);
	if (print_port) {
		rc = daemon_print_port(d, err, sizeof(err));
		goto out;
	}
	rc = daemon_setup(d, err, sizeof(err));
	if (rc)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	running_server = d->server;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = http_server_run(d->server);
	log_info("stopping");
	running_server = NULL;
	/* the loop has ended, the workers still run: the stop event and
	 * a last relay, parked long-polls answered */
	events_kit_stop(d->events);
out:
	if (rc && err[0])
		log_error("%s", err);
	else if (rc)
		log_error("%s", chat_strerror(rc));
	pool_free(d->pool);
	d->pool = NULL;
	events_kit_free(d->events);
	d->events = NULL;
	free(d->routes);
	if (d->initialized && spec->release)
		spec->release(d);
	/* calls still running end now, with the server alive */
	http_out_close(d->out);
	http_server_free(d->server);
	http_out_free(d->out);
	if (d->db)
		db_close(d->db);
	config_free(d->cfg);
	free(d);
	return rc ? 1 : 0;
}
