/*
 * upcall.c - the gateway's own calls to the stack's daemons: the JWKS,
 * API-key checks and readiness probes (proxied requests have proxy.c).
 *
 * On the loop thread, to an http://<IPv4|localhost>:<port> URL (every
 * daemon of a default stack), a call goes through http-loop.c: no thread
 * hand-off and, above all, no libcurl, so a gateway that only talks to
 * its neighbours never maps chat-curl.so.  Anything else (another thread,
 * a host name, https) goes through http-client.c, which loads libcurl on
 * first use.
 */
#include "gatewayd.h"

#include "err.h"
#include "banned.h"

int upcall_start(struct gatewayd *gw, const struct http_request *req,
		 const struct http_client_cb *cb, void *arg)
{
	int rc;

	if (!gw->d.server || req->unix_socket || !http_loop_can(req->url) ||
	    !pthread_equal(pthread_self(), gw->loop_thread))
		return http_client_start(gw->client, req, cb, arg);
	/* the server exists now (it does not during init) */
	if (!gw->loop) {
		rc = http_loop_new(gw->d.server, &gw->loop);
		if (rc != 0)
			return rc;
	}
	return http_loop_start(gw->loop, req, cb, arg);
}
