/*
 * range.c - UTC days for analyticsd: "YYYY-MM-DD" <-> days since the
 * epoch (Howard Hinnant's civil-from-days arithmetic: no time zone, no
 * libc state), the day of an event's RFC 3339 time, and the from= / to=
 * range of a query.
 */
#include "analyticsd.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "banned.h"

#define RANGE_DEFAULT_DAYS 30

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *s, size_t n, int64_t *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

/* "YYYY-MM-DD" at s (not necessarily ending there). */
static int day_at(const char *s, int64_t *days)
{
	int64_t y, m, d, back_y, back_m, back_d;

	if (strlen(s) < 10 || s[4] != '-' || s[7] != '-' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
	    !digits(s + 8, 2, &d) || y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > 31)
		return CHAT_EINVAL;
	*days = days_from_civil(y, m, d);
	/* 2026-02-30 is no day: it must come back as itself */
	civil_from_days(*days, &back_y, &back_m, &back_d);
	if (back_y != y || back_m != m || back_d != d)
		return CHAT_EINVAL;
	return 0;
}

int range_day_parse(const char *s, int64_t *days)
{
	if (strlen(s) != 10)
		return CHAT_EINVAL;
	return day_at(s, days);
}

void range_day_format(int64_t days, char out[DAY_LEN])
{
	int64_t y, m, d;

	civil_from_days(days, &y, &m, &d);
	y = y < 0 ? 0 : y % 10000;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

int64_t range_day_of_ms(int64_t ms)
{
	int64_t q = ms / 86400000;

	if (ms < 0 && q * 86400000 != ms)
		q--;
	return q;
}

int range_day_of_time(const char *t, int64_t *days)
{
	int64_t hh, mm, ss, oh, om, secs;
	const char *p;
	int rc;

	if (!t)
		return CHAT_EINVAL;
	rc = day_at(t, days);
	if (rc < 0)
		return rc;
	if ((t[10] != 'T' && t[10] != 't') || strlen(t) < 20 ||
	    !digits(t + 11, 2, &hh) || t[13] != ':' ||
	    !digits(t + 14, 2, &mm) || t[16] != ':' ||
	    !digits(t + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 60)
		return CHAT_EINVAL;
	p = t + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return CHAT_EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	if ((*p != '+' && *p != '-') || strlen(p) != 6 ||
	    !digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) ||
	    oh > 23 || om > 59)
		return CHAT_EINVAL;
	/* local time minus the offset is UTC */
	secs = *days * 86400 + hh * 3600 + mm * 60 + ss;
	secs += (*p == '+' ? -1 : 1) * (oh * 3600 + om * 60);
	*days = range_day_of_ms(secs * 1000);
	return 0;
}

int range_parse(const struct http_req *req, int64_t today, int64_t *from,
		int64_t *to, char *err, size_t errlen)
{
	char v[32];
	int rc;

	*to = today;
	rc = http_req_query(req, "to", v, sizeof(v));
	if (rc == 0 && range_day_parse(v, to) < 0) {
		chat_errf(err, errlen, "'to' must be a date YYYY-MM-DD");
		return CHAT_EINVAL;
	} else if (rc < 0 && rc != CHAT_ENOTFOUND) {
		chat_errf(err, errlen, "'to' must be a date YYYY-MM-DD");
		return CHAT_EINVAL;
	}
	*from = *to - (RANGE_DEFAULT_DAYS - 1);
	rc = http_req_query(req, "from", v, sizeof(v));
	if (rc == 0 && range_day_parse(v, from) < 0) {
		chat_errf(err, errlen, "'from' must be a date YYYY-MM-DD");
		return CHAT_EINVAL;
	} else if (rc < 0 && rc != CHAT_ENOTFOUND) {
		chat_errf(err, errlen, "'from' must be a date YYYY-MM-DD");
		return CHAT_EINVAL;
	}
	if (*to < *from) {
		chat_errf(err, errlen, "'to' is before 'from'");
		return CHAT_EINVAL;
	}
	if (*to - *from + 1 > ANALYTICSD_MAX_DAYS) {
		chat_errf(err, errlen, "a range is at most %d days",
			  ANALYTICSD_MAX_DAYS);
		return CHAT_EINVAL;
	}
	return 0;
}
