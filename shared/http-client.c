/*
 * http-client.c - the front of http-client.h: picks how each call goes.
 *
 *  - http_fetch to http://<IPv4 | localhost>[:port]: http-fetch.c, plain
 *    sockets in the calling thread;
 *  - everything else (the asynchronous client, https, host names, Unix
 *    sockets): libcurl, in the run-time module chat-curl.so (http-curl.c),
 *    loaded by the first call that needs it.
 *
 * Why: libcurl's dependency chain costs ~4 MiB of RSS in each process
 * that maps it; the daemons talk to each other over loopback (on their
 * loop threads through http-loop.c, from workers through http-fetch.c)
 * and need libcurl only for what the configuration sends elsewhere.
 *
 * A missing or broken chat-curl.so fails those calls with CHAT_EUPSTREAM
 * and one error line in the log naming the file and the reason.
 */
#include "http-client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http-curl.h"
#include "http-fetch.h"
#include "log.h"
#include "module.h"
#include "banned.h"

struct http_client {
	pthread_mutex_t mu;		/* guards impl and stopping */
	void *impl;			/* the module's client, made by the
					 * first start; owned */
	bool stopping;			/* http_client_free has begun */
};

static atomic_bool http_client_logged;	/* the load failure was logged */

/* The libcurl module's ops, or NULL (logged once). */
static const struct http_curl_ops *http_client_curl(void)
{
	const void *ops = NULL;
	char err[512];

	if (module_load(HTTP_CURL_MODULE, HTTP_CURL_MODULE_VERSION, &ops, err,
			sizeof(err)) < 0) {
		if (!atomic_exchange(&http_client_logged, true))
			log_error("%s: calls that need libcurl (https, host "
				  "names, unix sockets) fail", err);
		return NULL;
	}
	return ops;
}

int http_client_new(struct http_client **out)
{
	struct http_client *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return CHAT_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	const struct http_curl_ops *ops;
	void *impl;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	impl = c->impl;
	pthread_mutex_unlock(&c->mu);
	if (impl) {
		ops = http_client_curl();	/* loaded: impl exists */
		ops->client_free(impl);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static bool line_safe(const char *s)
{
	return !strpbrk(s, "\r\n");
}

bool http_request_safe(const struct http_request *req)
{
	const char *const *h;

	if (!req || !req->url || !line_safe(req->url) ||
	    (req->method && (!*req->method || !line_safe(req->method) ||
			     strpbrk(req->method, " \t"))))
		return false;
	for (h = req->headers; h && *h; h++)
		if (!line_safe(*h) || !strchr(*h, ':'))
			return false;
	return true;
}

int http_client_start(struct http_client *c, const struct http_request *req,
		      const struct http_client_cb *cb, void *arg)
{
	const struct http_curl_ops *ops;
	void *impl = NULL;
	int rc = 0;

	if (!c || !cb || !cb->on_done || !http_request_safe(req))
		return CHAT_EINVAL;
	ops = http_client_curl();
	if (!ops)
		return CHAT_EUPSTREAM;
	pthread_mutex_lock(&c->mu);
	if (c->stopping)
		rc = CHAT_ECANCELED;
	else if (!c->impl)
		rc = ops->client_new(&c->impl);
	impl = c->impl;
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		return rc;
	return ops->client_start(impl, req, cb, arg);
}

int http_fetch(const struct http_request *req, int *status, struct buf *body)
{
	const struct http_curl_ops *ops;

	*status = 0;
	if (!http_request_safe(req))
		return CHAT_EINVAL;
	if (req->keep_header && req->header_value && req->header_len)
		req->header_value[0] = '\0';
	if (!req->addr_ok && http_fetch_plain_can(req))
		return http_fetch_plain(req, status, body);
	ops = http_client_curl();
	if (!ops)
		return CHAT_EUPSTREAM;
	return ops->fetch(req, status, body);
}
