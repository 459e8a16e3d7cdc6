/*
 * live.c - live_init/live_release and the generation registry.
 * (Being written.)
 */
#include "live.h"

#include <stdlib.h>

#include "err.h"
#include "banned.h"

struct live {
	struct hub *hub;
};

int live_init(struct chatd *cd, char *err, size_t errlen)
{
	struct live *l = calloc(1, sizeof(*l));

	(void)err;
	(void)errlen;
	if (!l)
		return CHAT_ENOMEM;
	if (hub_new(&l->hub) < 0) {
		free(l);
		return CHAT_ENOMEM;
	}
	cd->live = l;
	return 0;
}

void live_release(struct chatd *cd)
{
	if (!cd->live)
		return;
	hub_free(cd->live->hub);
	free(cd->live);
	cd->live = NULL;
}

bool live_stop(struct chatd *cd, const char *conv_id)
{
	(void)cd;
	(void)conv_id;
	return false;
}

void live_conversation_event(struct chatd *cd, const char *user_id,
			     const char *conv_id,
			     const struct chat_conv *conv)
{
	(void)cd;
	(void)user_id;
	(void)conv_id;
	(void)conv;
}

void live_cron(struct chatd *cd)
{
	(void)cd;
}
