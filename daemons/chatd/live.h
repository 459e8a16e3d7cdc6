/*
 * live.h - the live half of chatd, private to live.c, gen.c, hub.c,
 * send.c and ws.c: the event hub, the generation registry and the seams
 * between them.  chatd.h is the public seam with the store half.
 */
#ifndef CHAT_CHATD_LIVE_H
#define CHAT_CHATD_LIVE_H

#include "chatd.h"

struct hub;

int hub_new(struct hub **out);
void hub_free(struct hub *h);

#endif
