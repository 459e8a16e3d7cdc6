/*
 * fuzz-event.c - libFuzzer target for analyticsd's reading of an event
 * (daemons/analyticsd/rollup.c, rollup_from_event): the input is a
 * message as it comes off the outbox or a Kafka topic, where it can be
 * anything, parsed as the consumer parses it and turned into the delta
 * that rollup_store would add.  Garbage must be refused (CHAT_EINVAL,
 * the consumer skips it), never crash the daemon or overflow a counter.
 *
 * The price table is a real one plus a model at the highest price a
 * config may set, so that token counts meet prices.  Beyond memory
 * safety and UBSan's overflow checks it checks the delta of an accepted
 * event: a valid day, a user id of at most 64 bytes, no negative count,
 * tokens and times within the rollups' bounds, a cost only when priced.
 */
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "../../daemons/analyticsd/analyticsd.h"

#include "fuzz.h"

static struct prices fuzz_prices;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct {
		const char *model, *in, *out;
	} table[] = {
		{ "gpt-4o", "2.5", "10" },
		{ "claude-sonnet", "3", "15" },
		{ "llama3", "0", "0" },
		{ "max", "1000000", "1000000" },	/* the ceiling */
	};
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct price *p = &fuzz_prices.p[i];

		snprintf(p->model, sizeof(p->model), "%s", table[i].model);
		if (rollup_price_parse(table[i].in, &p->input_micro) < 0 ||
		    rollup_price_parse(table[i].out, &p->output_micro) < 0)
			abort();
	}
	fuzz_prices.n = i;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rollup_delta d;
	cJSON *event = cJSON_ParseWithLength((const char *)data, size);
	int64_t day;
	int rc;

	rc = rollup_from_event(&fuzz_prices, event, &d);
	FUZZ_CHECK(rc == 0 || rc == CHAT_EINVAL);
	if (rc == 0) {
		FUZZ_CHECK(event);
		FUZZ_CHECK(strlen(d.day) == DAY_LEN - 1);
		FUZZ_CHECK(range_day_parse(d.day, &day) == 0);
		FUZZ_CHECK(d.user_id && strlen(d.user_id) <= 64);
		FUZZ_CHECK(d.model && strlen(d.model) < ANALYTICSD_MODEL_MAX);
		FUZZ_CHECK(d.requests >= 0 && d.completed >= 0 &&
			   d.stopped >= 0 && d.failed >= 0);
		FUZZ_CHECK(d.prompt_tokens >= 0 && d.completion_tokens >= 0);
		FUZZ_CHECK(d.cost_pusd >= 0 && d.unpriced >= 0);
		FUZZ_CHECK(d.ttft_ms >= -1 && d.latency_ms >= -1);
		FUZZ_CHECK(d.conversations >= 0 && d.messages >= 0);
		FUZZ_CHECK(d.registrations >= 0 && d.logins >= 0 &&
			   d.failed_logins >= 0);
		FUZZ_CHECK(!d.active || d.user_id[0]);
		FUZZ_CHECK(!d.cost_pusd || rollup_price(&fuzz_prices,
							d.model));
		FUZZ_CHECK(!d.error_class || strlen(d.error_class) < 64);
	}
	cJSON_Delete(event);
	return 0;
}
