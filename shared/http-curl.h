/*
 * http-curl.h - what http-client.c shares with its libcurl half,
 * http-curl.c, which is the run-time module chat-curl.so (module.h).  Not
 * for use outside shared/http-*.c.
 *
 * The ops mirror the public calls of http-client.h with the same
 * contracts (copies, callbacks, error codes); client pointers are the
 * module's own objects.
 */
#ifndef CHAT_HTTP_CURL_H
#define CHAT_HTTP_CURL_H

#include "http-client.h"

#define HTTP_CURL_MODULE "curl"
/* Bump with any change to struct http_curl_ops, struct http_request or
 * struct http_client_cb. */
#define HTTP_CURL_MODULE_VERSION 2

struct http_curl_ops {
	int (*client_new)(void **out);		/* starts the curl thread */
	void (*client_free)(void *c);		/* ends calls, joins, frees */
	int (*client_start)(void *c, const struct http_request *req,
			    const struct http_client_cb *cb, void *arg);
	int (*fetch)(const struct http_request *req, int *status,
		     struct buf *body);		/* blocking */
};

extern const struct http_curl_ops chat_module_curl_v2;

#endif
