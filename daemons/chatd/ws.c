/*
 * ws.c - the /v1/ws WebSocket.  (Being written: refuses for now.)
 */
#include "live.h"
#include "banned.h"

void ws_open(struct http_req *req, struct http_res *res)
{
	(void)req;
	http_res_error(res, 501, "not_implemented", "not implemented yet");
}
