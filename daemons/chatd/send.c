/*
 * send.c - send, regenerate, stop, events resume, idempotency.
 * (Being written: answers 501 for now.)
 */
#include "live.h"
#include "banned.h"

void send_message(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_error(res, 501, "not_implemented", "not implemented yet");
}

void send_regenerate(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_error(res, 501, "not_implemented", "not implemented yet");
}

void send_stop(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_error(res, 501, "not_implemented", "not implemented yet");
}

void send_events(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_error(res, 501, "not_implemented", "not implemented yet");
}
