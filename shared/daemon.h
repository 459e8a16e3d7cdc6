/*
 * daemon.h - what every daemon's main() shares: options, config, logging,
 * the data directory, the internal secret, the store and its migrations,
 * the worker pool, the HTTP server, signals.  A daemon describes itself in
 * a struct daemon_spec and calls daemon_main().
 *
 * Options: -c FILE (config; also CHAT_CONFIG), -p (check the config,
 * print the listen port, exit: scripts/stack asks this way), -h.  The
 * config is checked against the stack's key tables (daemon-keys.h) and
 * the daemon's own spec->keys before anything else: an unknown key or
 * CHAT_* variable, or a value out of bounds, stops the daemon naming it.
 * Settings read here:
 *   data_dir       CHAT_DATA_DIR   data directory ($XDG_DATA_HOME/chat)
 *   port           CHAT_PORT       gateway port (default 8080); daemon N
 *                                  of daemon_keys_daemons listens on
 *                                  port + N unless <name>.port is set
 *   database       CHAT_DATABASE   "sqlite" or a postgresql:// URI
 *   log_level      CHAT_LOG_LEVEL  debug, info, warn, error
 *   <name>.host    listen address (127.0.0.1)
 *   <name>.port    listen port
 *   <name>.workers worker threads (4)
 *   <name>.max_body largest request body (spec->max_body, else 1 MiB)
 * and, for a spec with .events, events.retention_s, events.include_text
 * and kafka.brokers (CHAT_KAFKA_BROKERS), see events.h.
 */
#ifndef CHAT_DAEMON_H
#define CHAT_DAEMON_H

#include <stddef.h>
#include "config.h"
#include "http-server.h"

struct db;
struct db_migration;
struct events;
struct http_out;
struct pool;

/* Everything a running daemon has; handlers reach it through req->app
 * (cast to the daemon's own struct that embeds this one first). */
struct daemon {
	const struct daemon_spec *spec;
	struct config *cfg;		/* owned */
	const char *data_dir;		/* owned by cfg */
	char internal_secret[64];
	struct db *db;			/* owned; NULL if spec->migrations NULL */
	struct pool *pool;		/* owned */
	struct http_server *server;	/* owned */
	/* owned; outbound HTTP (http-out.h): made before spec->init, told
	 * the server once it exists, closed after spec->release, freed
	 * after the server */
	struct http_out *out;
	int gateway_port;		/* the stack's public port */
	int initialized;		/* spec->init succeeded */
	struct events *events;		/* owned; spec->events: the outbox
					 * relay and pull API (events-relay.h) */
	/* owned; spec->routes and the kit's routes, when the kit adds any */
	struct http_route *routes;
	size_t nroutes;
	struct config_schema schema;	/* what cfg is checked against */
	const struct config_key *tables[10];	/* schema.tables */
};

struct daemon_spec {
	const char *name;		/* "userd"; its index in
					 * daemon_keys_daemons is its port
					 * offset (none: <name>.port needed) */
	/* the daemon's key table (one of daemon-keys.h, or its own for a
	 * program outside the stack); NULL: only the common keys */
	const struct config_key *keys;
	const struct http_route *routes;
	size_t nroutes;
	const struct db_migration *migrations;	/* NULL: no store */
	size_t nmigrations;
	size_t app_size;		/* sizeof the daemon's struct (>= sizeof(struct daemon)) */
	/* after the store is open and migrated, before serving; err for the
	 * reason of a failure */
	int (*init)(struct daemon *d, char *err, size_t errlen);
	void (*release)(struct daemon *d);
	void (*cron)(void *app);	/* housekeeping on the loop thread */
	int cron_ms;
	/* readiness beyond the store (may be NULL); worker thread */
	int (*ready)(struct daemon *d);
	http_handler_fn fallback;
	size_t max_body;		/* default of <name>.max_body; 0: 1 MiB */
	int public_facing;		/* gatewayd: never trust X-Chat-* headers */
	/* produces events (events.h): the kit migrates the outbox tables,
	 * runs the relay, serves GET /internal/events and emits
	 * chat.system.started / chat.system.stopping */
	int events;
	/* http_server_config.max_fds (0: the process's limit): a daemon
	 * that serves few connections keeps its loop's tables small */
	int max_fds;
};

/* Runs the daemon; returns the process exit code. */
int daemon_main(int argc, char **argv, const struct daemon_spec *spec);

/* The URL of sibling daemon `name` ("http://127.0.0.1:8081"), from
 * <name>.url, else host:port from the same rules the daemon uses. */
int daemon_peer_url(const struct daemon *d, const char *name, char *out,
		    size_t outlen);

/* A handler's store connection: waits up to DAEMON_DB_WAIT_MS for one of
 * the daemon's (req->app is the daemon); when none comes, answers 503
 * "busy" with Retry-After (the final call on req->res) and returns
 * nonzero.  Worker threads only. */
#define DAEMON_DB_WAIT_MS 5000
struct db_conn;
int daemon_db(struct http_req *req, struct db_conn **out);

/* A handler's JSON object body (json_parse_body: duplicate keys and
 * \u0000 refused); on failure answers 400 "invalid_json" naming why (the
 * final call on req->res) and returns nonzero.  *out is the caller's. */
int daemon_body(struct http_req *req, struct cJSON **out);

/* Standard /healthz and /readyz handlers (ready checks the store and
 * spec->ready), usable in a route table. */
void daemon_healthz(struct http_req *req, struct http_res *res);
void daemon_readyz(struct http_req *req, struct http_res *res);

#endif
