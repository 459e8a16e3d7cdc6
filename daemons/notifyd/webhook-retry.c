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
 * than the documented schedule.  An endpoint that answers 429 or 503
 * with Retry-After (Standard Webhooks: honour it) gets its retry no
 * sooner than it asked, but never later than the schedule's longest
 * wait: a message is not parked for as long as any server says.
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

/* --- Retry-After ---------------------------------------------------- */

static const char *const wh_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const wh_wkdays[7] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
};
static const char *const wh_weekdays[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday",
};

/* Exactly n digits at *p (a space first when pad and one digit fits). */
static bool wh_digits(const char **p, int n, bool pad, int *out)
{
	int i, v = 0;

	if (pad && **p == ' ') {
		(*p)++;
		n--;
	}
	for (i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

/* One of words (case matters: HTTP-date is case-sensitive) at *p. */
static bool wh_word(const char **p, const char *const *words, size_t n,
		    int *idx)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(words[i]);
		if (strncmp(*p, words[i], len) == 0) {
			*p += len;
			*idx = (int)i;
			return true;
		}
	}
	return false;
}

static bool wh_lit(const char **p, const char *lit)
{
	size_t len = strlen(lit);

	if (strncmp(*p, lit, len) != 0)
		return false;
	*p += len;
	return true;
}

/* "HH:MM:SS" into seconds of the day. */
static bool wh_clock(const char **p, int *secs)
{
	int h, m, s;

	if (!wh_digits(p, 2, false, &h) || !wh_lit(p, ":") ||
	    !wh_digits(p, 2, false, &m) || !wh_lit(p, ":") ||
	    !wh_digits(p, 2, false, &s) || h > 23 || m > 59 || s > 60)
		return false;
	*secs = h * 3600 + m * 60 + s;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t wh_days(int y, int m, int d)
{
	int64_t era;
	int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool wh_date_valid(int y, int m, int d)
{
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return d >= 1 && d <= mdays[m] && (m != 1 || d <= 28 || leap);
}

/* ", DD<sep>Mon<sep>YEAR HH:MM:SS GMT", the part after the day name of
 * an IMF-fixdate (sep ' ', a 4-digit year) and of an rfc850-date (sep
 * '-', 2 digits). */
static bool wh_dated_gmt(const char **p, const char *sep, int ydigits,
			 int *d, int *mon, int *y, int *secs)
{
	return wh_lit(p, ", ") && wh_digits(p, 2, false, d) &&
	       wh_lit(p, sep) && wh_word(p, wh_months, 12, mon) &&
	       wh_lit(p, sep) && wh_digits(p, ydigits, false, y) &&
	       wh_lit(p, " ") && wh_clock(p, secs) && wh_lit(p, " GMT");
}

/* An HTTP-date in any of its forms into unix ms. */
static bool wh_http_date(const char *v, int64_t now, int64_t *ms)
{
	const char *p = v;
	int wd, d, mon, y, secs;
	bool two_digits = false;

	if (wh_word(&p, wh_weekdays, 7, &wd)) {
		/* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
		if (!wh_dated_gmt(&p, "-", 2, &d, &mon, &y, &secs))
			return false;
		two_digits = true;
		y += 2000;
	} else if (wh_word(&p, wh_wkdays, 7, &wd) && *p == ',') {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (!wh_dated_gmt(&p, " ", 4, &d, &mon, &y, &secs))
			return false;
	} else if (p != v) {
		/* asctime-date: Sun Nov  6 08:49:37 1994 */
		if (!wh_lit(&p, " ") || !wh_word(&p, wh_months, 12, &mon) ||
		    !wh_lit(&p, " ") || !wh_digits(&p, 2, true, &d) ||
		    !wh_lit(&p, " ") || !wh_clock(&p, &secs) ||
		    !wh_lit(&p, " ") || !wh_digits(&p, 4, false, &y))
			return false;
	} else {
		return false;
	}
	if (*p || !wh_date_valid(y, mon, d))
		return false;
	*ms = (wh_days(y, mon + 1, d) * 86400 + secs) * 1000;
	/* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is
	 * the last one in the past with those digits */
	if (two_digits && *ms - now > 50 * 31556952000LL) {
		if (!wh_date_valid(y - 100, mon, d))
			return false;
		*ms = (wh_days(y - 100, mon + 1, d) * 86400 + secs) * 1000;
	}
	return true;
}

int wh_retry_after(const char *v, int64_t now, int64_t *ms)
{
	const char *p = v;
	int64_t secs = 0, at;

	if (*p >= '0' && *p <= '9') {
		for (; *p >= '0' && *p <= '9'; p++)
			if (secs < WH_RETRY_AFTER_CAP_S)
				secs = secs * 10 + (*p - '0');
		if (*p)
			return CHAT_EPARSE;
		*ms = (secs < WH_RETRY_AFTER_CAP_S ? secs :
		       WH_RETRY_AFTER_CAP_S) * 1000;
		return 0;
	}
	if (!wh_http_date(v, now, &at))
		return CHAT_EPARSE;
	*ms = at <= now ? 0 : at - now;
	if (*ms > WH_RETRY_AFTER_CAP_S * 1000)
		*ms = WH_RETRY_AFTER_CAP_S * 1000;
	return 0;
}

int64_t wh_retry_wait(const int64_t *ms, size_t n, int64_t delay,
		      int64_t retry_after)
{
	int64_t longest = 0;
	size_t i;

	if (delay < 0 || retry_after <= delay)
		return delay;
	for (i = 0; i < n; i++)
		if (ms[i] > longest)
			longest = ms[i];
	if (retry_after > longest)
		retry_after = longest;
	return retry_after > delay ? retry_after : delay;
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
