/*
 * ready.c - GET /readyz for the whole stack: asks every upstream's
 * /readyz at once (short timeouts) and answers 200 only when all said 200,
 * the signing keys are loaded and the revocation feed is live; otherwise
 * 503 "not_ready" naming what is not.  Runs on the loop thread without blocking: the probes go
 * through gw->d.out, and the answer is sent by whichever call sees the
 * last probe end.  Asking also starts a key-set fetch when none is
 * loaded, so a fresh gateway is ready at the first asks of its starter.
 */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "banned.h"

#define READY_CONNECT_MS 500
#define READY_TIMEOUT_MS 1000

struct ready_check;

struct ready_probe {
	struct ready_check *check;
	int status;
	bool ok;
};

struct ready_check {
	struct gatewayd *gw;
	struct http_res *res;
	atomic_int pending;		/* probes running, +1 while starting */
	struct ready_probe probes[GW_MAX_UPSTREAMS];
};

static void ready_answer(struct ready_check *rc)
{
	struct gatewayd *gw = rc->gw;
	struct buf failing;
	cJSON *o;
	size_t i;

	buf_init(&failing, 1024);
	for (i = 0; i < gw->nups; i++)
		if (!rc->probes[i].ok)
			buf_printf(&failing, "%s'%s'", failing.len ? ", " : "",
				   gw->ups[i].name);
	if (!jwks_loaded(gw))
		buf_printf(&failing, "%sthe signing keys of '%s'",
			   failing.len ? ", " : "", gw->userd->name);
	if (!revoke_live(gw))
		buf_printf(&failing, "%sthe revocation feed of '%s'",
			   failing.len ? ", " : "", gw->sessiond->name);
	if (failing.len) {
		http_res_error(rc->res, 503, "not_ready", "not ready: %s",
			       failing.data);
	} else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", "ready");
		cJSON_AddStringToObject(o, "service", gw->d.spec->name);
		http_res_json(rc->res, 200, o);
	}
	buf_release(&failing);
	free(rc);
}

static void ready_release(struct ready_check *rc)
{
	if (atomic_fetch_sub(&rc->pending, 1) == 1)
		ready_answer(rc);
}

static int probe_on_head(void *arg, int status, const char *const *h,
			 size_t n)
{
	struct ready_probe *p = arg;

	(void)h;
	(void)n;
	p->status = status;
	return 0;
}

static int probe_on_data(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	return 0;
}

static void probe_on_done(void *arg, int rc)
{
	struct ready_probe *p = arg;

	p->ok = rc == 0 && p->status == 200;
	ready_release(p->check);
}

void ready_handle(struct http_req *req, struct http_res *res)
{
	static const struct http_client_cb cb = {
		.on_head = probe_on_head,
		.on_data = probe_on_data,
		.on_done = probe_on_done,
	};
	struct gatewayd *gw = req->app;
	struct ready_check *rc = calloc(1, sizeof(*rc));
	struct http_request preq = {
		.method = "GET",
		.connect_timeout_ms = READY_CONNECT_MS,
		.timeout_ms = READY_TIMEOUT_MS,
		.max_response = 16 * 1024,
	};
	char url[GW_URL_MAX + 16], rid[160];
	const char *headers[] = { rid, NULL };
	size_t i;

	if (!rc) {
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	jwks_cron(gw);
	rc->gw = gw;
	rc->res = res;
	snprintf(rid, sizeof(rid), HTTP_H_REQUEST_ID ": %s", req->request_id);
	preq.headers = headers;
	atomic_init(&rc->pending, (int)gw->nups + 1);
	for (i = 0; i < gw->nups; i++) {
		rc->probes[i].check = rc;
		snprintf(url, sizeof(url), "%s/readyz", gw->ups[i].url);
		preq.url = url;
		if (http_out_start(gw->d.out, &preq, &cb, &rc->probes[i]) != 0)
			ready_release(rc);	/* counts as not ready */
	}
	ready_release(rc);
}
