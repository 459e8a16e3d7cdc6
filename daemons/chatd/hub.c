/*
 * hub.c - per-user event log and fan-out, event ids.  (Being written.)
 */
#include "live.h"

#include <stdlib.h>

#include "err.h"
#include "banned.h"

struct hub {
	int unused;
};

int hub_new(struct hub **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : CHAT_ENOMEM;
}

void hub_free(struct hub *h)
{
	free(h);
}
