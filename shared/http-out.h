/*
 * http-out.h - a daemon's one door for outbound HTTP.
 *
 * Made by daemon_main (struct daemon's out) before the daemon's init, so
 * anything may keep the pointer; it learns the server when daemon_main
 * has made it (http_out_attach).  It picks the transport of each call,
 * so daemons never do:
 *  - http://<IPv4|localhost>[:port] URLs (http_loop_can) go through
 *    http-loop.c on the server's loop thread: no thread hand-off, kept-
 *    alive connections, and no libcurl mapped for calls to neighbours.
 *    A start from another thread is deferred to the loop
 *    (http_server_defer); a start before the server exists (during the
 *    daemon's init) goes to libcurl, as nothing runs the loop yet;
 *  - everything else (https, host names, unix_socket) goes to the curl
 *    thread of http-client.c (chat-curl.so, loaded on first use).
 *
 * The blocking form, for worker threads, takes the same decision: plain
 * sockets in the calling thread for the loop's URLs (http-fetch.c: a
 * worker never waits on the loop, which stops before the workers do),
 * the client's curl thread for the rest.
 */
#ifndef CHAT_HTTP_OUT_H
#define CHAT_HTTP_OUT_H

#include "buf.h"
#include "http-client.h"
#include "http-server.h"

struct http_out;

/* Any thread; cheap (no thread, no connection, no module loaded). */
int http_out_new(struct http_out **out);

/* The server whose loop serves the loop's URLs.  Call it on the thread
 * that will run http_server_run (it becomes "the loop thread"), before
 * the loop runs; daemon_main does. */
void http_out_attach(struct http_out *o, struct http_server *srv);

/* Any thread.  Starts req (everything in it is copied); cb's callbacks
 * run on the loop thread or the curl thread, on_done exactly once -
 * possibly before this returns (on the loop thread, a failure to
 * connect; from elsewhere, a deferred start that fails reports
 * CHAT_EUPSTREAM, or CHAT_ECANCELED when keep_going said stop or the
 * door closed meanwhile).  A nonzero return (CHAT_EINVAL: no on_done or
 * an unsafe request; CHAT_ENOMEM; CHAT_ECANCELED once closing;
 * CHAT_EUPSTREAM: chat-curl.so cannot be loaded) means no callback ever
 * runs. */
int http_out_start(struct http_out *o, const struct http_request *req,
		   const struct http_client_cb *cb, void *arg);

/* Blocking: status and body (ceiling req->max_response, 0: 8 MiB) into
 * *status and body; errors as http_fetch (http-client.h), CHAT_ECANCELED
 * once closing.  Worker threads only: on the loop thread it refuses with
 * CHAT_EINVAL (it could wait on its own thread).  o may be NULL (no
 * daemon: a program or a test), then the call has its own connection
 * whatever the URL. */
int http_out_fetch(struct http_out *o, const struct http_request *req,
		   int *status, struct buf *body);

/* The loop thread once the loop stopped (or before it ran), with the
 * server alive: ends every call (their on_done run, CHAT_ECANCELED for
 * starts still waiting for the loop), then refuses new ones.  A daemon
 * calls it in its release where its last callbacks may still run;
 * daemon_main calls it after the release anyway.  Idempotent. */
void http_out_close(struct http_out *o);

/* After http_server_free (closes first if needed): frees. */
void http_out_free(struct http_out *o);

#endif
