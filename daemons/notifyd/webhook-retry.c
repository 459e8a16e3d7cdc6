/*
 * webhook-retry.c - the pure rules of webhooks: the retry schedule
 * (notifyd.webhook_retry_schedule, seconds after each failed attempt;
 * the default is Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, so a
 * message has eight attempts over about 27.6 hours) and its jitter,
 * which endpoint URLs are accepted, and the event types an endpoint can
 * ask for (the types of the producers notifyd consumes, docs/events.md,
 * and webhook.test).
 *
 * Jitter only ever adds (up to a fifth of the wait): many messages
 * failing at once do not retry in one burst, and no retry comes sooner
 * than the documented schedule.
 */
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "err.h"
#include "url.h"
#include "utf8.h"
#include "banned.h"

#define WH_JITTER 0.2			/* at most this share of a wait */

/* What an endpoint can receive: the events notifyd consumes. */
static const char *const wh_types[] = {
	"chat.apikey.created",
	"chat.apikey.revoked",
	"chat.conversation.archived",
	"chat.conversation.created",
	"chat.conversation.deleted",
	"chat.conversation.renamed",
	"chat.conversation.unarchived",
	"chat.message.created",
	"chat.message.finished",
	"chat.session.created",
	"chat.session.refreshed",
	"chat.session.reuse_detected",
	"chat.session.revoked",
	"chat.system.started",
	"chat.system.stopping",
	"chat.user.deleted",
	"chat.user.disabled",
	"chat.user.enabled",
	"chat.user.logged_in",
	"chat.user.login_failed",
	"chat.user.password_changed",
	"chat.user.registered",
	"chat.user.role_changed",
	"webhook.test",
};

int wh_schedule_parse(const char *s, int64_t ms[WH_RETRY_MAX], size_t *n,
		      char *err, size_t errlen)
{
	const char *p = s;
	char *end;
	long v;

	*n = 0;
	while (*p) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = strtol(p, &end, 10);
		if (v < 1 || v > 7L * 86400 || *n == WH_RETRY_MAX)
			goto bad;
		ms[(*n)++] = (int64_t)v * 1000;
		p = end;
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			goto bad;
	}
	if (*n == 0)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "notifyd.webhook_retry_schedule must be up to "
		 "%d comma-separated waits in seconds (1 to 604800)",
		 WH_RETRY_MAX);
	return CHAT_EINVAL;
}

int64_t wh_retry_delay(const int64_t *ms, size_t n, int attempts, double j)
{
	int64_t base;

	if (attempts < 1 || (size_t)attempts > n)
		return -1;
	if (j < 0 || j >= 1)
		j = 0;
	base = ms[attempts - 1];
	return base + (int64_t)((double)base * WH_JITTER * j);
}

int wh_url_check(const char *url, char *err, size_t errlen)
{
	const char *why = NULL;
	struct url u;
	size_t len = strlen(url);

	if (len == 0 || len > WH_URL_MAX) {
		snprintf(err, errlen, "'url' must be 1 to %d bytes",
			 WH_URL_MAX);
		return CHAT_EINVAL;
	}
	if (!utf8_valid(url, len) || url_parse(url, &u, &why) != 0) {
		snprintf(err, errlen, "'url' is not a valid URL%s%s",
			 why ? ": " : "", why ? why : "");
		return CHAT_EINVAL;
	}
	if (u.scheme != URL_HTTP && u.scheme != URL_HTTPS) {
		snprintf(err, errlen, "'url' must be http or https");
		return CHAT_EINVAL;
	}
	if (!u.host[0]) {
		snprintf(err, errlen, "'url' must name a host");
		return CHAT_EINVAL;
	}
	if (u.fragment) {
		snprintf(err, errlen, "'url' must not have a fragment");
		return CHAT_EINVAL;
	}
	return 0;
}

/* Whether type matches pattern: equal, "*", or "prefix.*" with type
 * starting "prefix.". */
static bool wh_pattern_has(const char *pattern, const char *type)
{
	size_t pl = strlen(pattern);

	if (strcmp(pattern, "*") == 0)
		return true;
	if (pl >= 2 && strcmp(pattern + pl - 2, ".*") == 0)
		return strncmp(type, pattern, pl - 1) == 0;
	return strcmp(pattern, type) == 0;
}

bool wh_event_pattern_valid(const char *pattern)
{
	size_t i;

	for (i = 0; i < sizeof(wh_types) / sizeof(wh_types[0]); i++)
		if (wh_pattern_has(pattern, wh_types[i]))
			return true;
	return false;
}

bool wh_event_match(const cJSON *patterns, const char *type)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, patterns)
		if (cJSON_IsString(p) && wh_pattern_has(p->valuestring, type))
			return true;
	return false;
}
