/*
 * main.c - aid, the AI service: the daemon spec (routes, migrations,
 * config), the rest is in models.c, engine.c, internal.c, openai-api.c
 * and usage.c (see aid.h).
 *
 * Config keys of [aid] (the providers' and models' keys: models.c):
 *   default_model       model of requests that name none ("echo")
 *   echo_delay_ms       pause between the echo model's words (20)
 *   retries             extra attempts on 429/5xx/connect failure (2)
 *   backoff_ms          first back-off ceiling, doubled per retry (250)
 *   backoff_max_ms      ceiling of any wait, Retry-After included (8000)
 *   idle_timeout_ms     an upstream silent this long fails (60000)
 *   connect_timeout_ms  connecting to an upstream (3000)
 *   context_window      tokens of models without their own (8192)
 *   max_response        bytes of answer text, then "length" (1048576)
 *   coalesce_ms         text within this long of the last delta sent to
 *                       chatd waits and travels with it (5; 0: never)
 *   ollama_detect       probe a local Ollama when [ollama] url is unset
 *   discover            list the upstreams' models at start (true)
 */
#include "aid.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon-keys.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* An integer setting of [aid] and where it goes; its range and default
 * are in daemon_keys_aid. */
struct aid_setting {
	const char *key;
	size_t off;			/* offsetof(struct aid, field), a long */
};

static const struct aid_setting aid_settings[] = {
	{ "aid.echo_delay_ms", offsetof(struct aid, echo_delay_ms) },
	{ "aid.retries", offsetof(struct aid, retries) },
	{ "aid.backoff_ms", offsetof(struct aid, backoff_ms) },
	{ "aid.backoff_max_ms", offsetof(struct aid, backoff_max_ms) },
	{ "aid.idle_timeout_ms", offsetof(struct aid, idle_timeout_ms) },
	{ "aid.connect_timeout_ms",
	  offsetof(struct aid, connect_timeout_ms) },
	{ "aid.context_window", offsetof(struct aid, context_window) },
	{ "aid.coalesce_ms", offsetof(struct aid, coalesce_ms) },
};

static int aid_init(struct daemon *d, char *err, size_t errlen)
{
	struct aid *a = (struct aid *)d;
	long max_response = 0;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(aid_settings) / sizeof(aid_settings[0]); i++) {
		const struct aid_setting *s = &aid_settings[i];

		rc = config_key_int(d->cfg, s->key,
				    (long *)((char *)a + s->off), err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = config_key_int(d->cfg, "aid.max_response", &max_response, err,
			    errlen);
	if (rc < 0)
		return rc;
	a->max_response = (size_t)max_response;
	if (a->backoff_max_ms < a->backoff_ms)
		a->backoff_max_ms = a->backoff_ms;
	a->default_model = config_key_str(d->cfg, "aid.default_model");
	if (!*a->default_model)
		a->default_model = "echo";
	a->started_s = now_ms() / 1000;
	pthread_mutex_init(&a->ic_lock, NULL);
	rc = usage_init(a, err, errlen);
	if (rc < 0)
		goto fail;
	rc = engine_init(a, err, errlen);
	if (rc < 0) {
		usage_release(a);
		goto fail;
	}
	rc = models_init(a, err, errlen);
	if (rc < 0) {
		engine_release(a);
		usage_release(a);
		models_release(a);
		goto fail;
	}
	return 0;
fail:
	pthread_mutex_destroy(&a->ic_lock);
	return rc;
}

static void aid_release(struct daemon *d)
{
	struct aid *a = (struct aid *)d;

	engine_release(a);
	internal_release(a);
	pthread_mutex_destroy(&a->ic_lock);
	usage_release(a);
	models_release(a);
}

static const struct http_route aid_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "POST", "/internal/generate", HTTP_PERM_INTERNAL,
	  internal_generate_handler, HTTP_ROUTE_ON_LOOP },
	/* a prefix: model ids may hold slashes ("openai/gpt-4o") */
	{ "GET", "/v1/models", HTTP_PERM_GUEST, openai_models_handler,
	  HTTP_ROUTE_ON_LOOP | HTTP_ROUTE_PREFIX },
	{ "POST", "/v1/chat/completions", HTTP_PERM_GUEST,
	  openai_chat_handler, HTTP_ROUTE_ON_LOOP },
	{ "GET", "/v1/admin/models", HTTP_PERM_ADMIN, admin_models_handler,
	  0 },
	{ "POST", "/internal/users/{id}/erase", HTTP_PERM_INTERNAL,
	  admin_erase_usage_handler, 0 },
};

/* Not const: the migration count is only known at link time. */
static struct daemon_spec aid_spec = {
	.name = "aid",
	.keys = daemon_keys_aid,
	.routes = aid_routes,
	.nroutes = sizeof(aid_routes) / sizeof(aid_routes[0]),
	.migrations = aid_migrations,
	.app_size = sizeof(struct aid),
	.events = 1,		/* its outbox: events.h */
	.init = aid_init,
	.release = aid_release,
	/* chatd sends a conversation's history (up to 8 MiB of text) to
	 * /internal/generate; public bodies are bounded by the gateway */
	.max_body = AID_MAX_BODY,
};

int main(int argc, char **argv)
{
	aid_spec.nmigrations = aid_migrations_count;
	return daemon_main(argc, argv, &aid_spec);
}
