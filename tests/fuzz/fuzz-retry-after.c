/*
 * fuzz-retry-after.c - libFuzzer target for the Retry-After parser of
 * notifyd's webhooks (daemons/notifyd/webhook-retry.c): the value comes
 * from whatever server a user's endpoint points at.
 *
 * Input: eight bytes of "now" (unix ms, little-endian, folded into the
 * years 1970-2200), then the header's value; a NUL ends it early.
 *
 * Checks beyond memory safety:
 *  - the answer is a wait or CHAT_EPARSE, nothing else;
 *  - a wait is never negative nor over WH_RETRY_AFTER_CAP_S;
 *  - a value of digits alone is always a wait (delta-seconds);
 *  - a value with a control character or a leading blank never is;
 *  - the wait chosen from it is never sooner than the schedule's and
 *    never later than the later of it and the longest wait.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "../../daemons/notifyd/webhook.h"

#include "fuzz.h"

#define NOW_SPAN (230LL * 365 * 86400 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t sched[] = { 5000, 300000, 1800000 };
	uint64_t raw = 0;
	int64_t now, ms = -1, wait, delay;
	char *v;
	size_t i, n;
	bool digits, odd = false;
	int rc;

	if (size < 8)
		return 0;
	for (i = 0; i < 8; i++)
		raw |= (uint64_t)data[i] << (8 * i);
	now = (int64_t)(raw % (uint64_t)NOW_SPAN);
	data += 8;
	size -= 8;
	n = strnlen((const char *)data, size);
	v = malloc(n + 1);
	if (!v)
		return 0;
	memcpy(v, data, n);
	v[n] = '\0';
	digits = n > 0;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			digits = false;
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			odd = true;
	}
	if (n > 0 && (v[0] == ' ' || v[0] == '\t'))
		odd = true;
	rc = wh_retry_after(v, now, &ms);
	FUZZ_CHECK(rc == 0 || rc == CHAT_EPARSE);
	FUZZ_CHECK(!digits || rc == 0);
	FUZZ_CHECK(!odd || rc == CHAT_EPARSE);
	if (rc == 0) {
		FUZZ_CHECK(ms >= 0 && ms <= WH_RETRY_AFTER_CAP_S * 1000);
		delay = (int64_t)(raw % 3) * 100000;
		wait = wh_retry_wait(sched, 3, delay, ms);
		FUZZ_CHECK(wait >= delay);
		FUZZ_CHECK(wait <= (delay > 1800000 ? delay : 1800000));
		FUZZ_CHECK(wait == delay || wait <= ms);
	}
	free(v);
	return 0;
}
