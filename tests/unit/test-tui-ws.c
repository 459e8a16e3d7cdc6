/* test-tui-ws.c - the pure rules of chatui's WebSocket thread (tui/ws.c):
 * when to renew the socket's access token in-band, a token's exp claim,
 * telling the gateway's answer to our auth frame from other frames, and
 * which closes end the session for good. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../tui/chatui.h"
#include "b64url.h"

/* "h.<payload as base64url>.s": a JWT shape around a payload. */
static void make_jwt(const char *payload, char *out, size_t outlen)
{
	char b64[512];

	assert_int_equal(b64url_encode(payload, strlen(payload), b64,
				       sizeof(b64)), 0);
	snprintf(out, outlen, "eyJhbGciOiJFZERTQSJ9.%s.c2ln", b64);
}

static void test_tui_ws__renew_in(void **state)
{
	static const struct {
		int64_t left_ms, life_ms, want;
	} cases[] = {
		/* a 15-minute token: 60 s before its end */
		{ 900000, 900000, 840000 },
		{ 61000, 900000, 1000 },
		{ 60000, 900000, 0 },
		{ 30000, 900000, 0 },		/* late already: now */
		/* short lifetimes: a third of it */
		{ 4000, 4000, 2667 },
		{ 3000, 4000, 1667 },
		{ 90000, 90000, 60000 },
		{ 180000, 180000, 120000 },	/* a third is 60 s */
		{ 300000, 300000, 240000 },	/* capped at 60 s */
		/* a token from the file, part of it gone: its lifetime as
		 * we got it */
		{ 500000, 500000, 440000 },
		/* nonsense never gives a negative wait */
		{ -5000, 4000, 0 },
		{ 1000, -1, 1000 },
		{ 0, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = ui_ws_renew_in_ms(cases[i].left_ms,
						cases[i].life_ms);

		if (got != cases[i].want)
			fail_msg("case %zu: left %lld life %lld: got %lld, "
				 "want %lld", i, (long long)cases[i].left_ms,
				 (long long)cases[i].life_ms, (long long)got,
				 (long long)cases[i].want);
	}
}

static void test_tui_ws__token_exp(void **state)
{
	static const struct {
		const char *payload;
		int64_t want;
	} cases[] = {
		{ "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1700000900}",
		  1700000900 },
		{ "{\"exp\":1}", 1 },
		{ "{\"sub\":\"u\"}", 0 },		/* no exp */
		{ "{\"exp\":\"1700000900\"}", 0 },	/* not a number */
		{ "{\"exp\":-4}", 0 },
		{ "{\"exp\":1e300}", 0 },
		{ "[1700000900]", 0 },
		{ "not json", 0 },
	};
	char jwt[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_jwt(cases[i].payload, jwt, sizeof(jwt));
		if (ui_ws_token_exp(jwt) != cases[i].want)
			fail_msg("case %zu: %s: got %lld", i, cases[i].payload,
				 (long long)ui_ws_token_exp(jwt));
	}
	/* not JWTs at all */
	assert_int_equal(ui_ws_token_exp(""), 0);
	assert_int_equal(ui_ws_token_exp("opaque-api-key"), 0);
	assert_int_equal(ui_ws_token_exp("a.b"), 0);
	assert_int_equal(ui_ws_token_exp("a.!!!.c"), 0);
	assert_int_equal(ui_ws_token_exp("a..c"), 0);
}

static void test_tui_ws__auth_answer(void **state)
{
	static const struct {
		const char *frame;
		const char *ref;
		int want;
		int64_t want_expires_in;
	} cases[] = {
		{ "{\"type\":\"auth_ok\",\"ref\":\"r1\","
		  "\"data\":{\"expires_in\":899}}", "r1", 1, 899 },
		{ "{\"type\":\"auth_ok\",\"ref\":\"r1\",\"data\":{}}", "r1", 1,
		  -1 },
		{ "{\"type\":\"auth_ok\",\"ref\":\"r1\","
		  "\"data\":{\"expires_in\":-3}}", "r1", 1, -1 },
		{ "{\"type\":\"auth_ok\",\"ref\":\"r1\","
		  "\"data\":{\"expires_in\":\"9\"}}", "r1", 1, -1 },
		{ "{\"type\":\"error\",\"ref\":\"r1\",\"data\":{\"error\":"
		  "{\"code\":\"forbidden\",\"message\":\"x\"}}}", "r1", -1,
		  -1 },
		/* not ours: another ref, no ref, nothing awaited */
		{ "{\"type\":\"auth_ok\",\"ref\":\"r2\"}", "r1", 0, -1 },
		{ "{\"type\":\"error\",\"ref\":\"r2\"}", "r1", 0, -1 },
		{ "{\"type\":\"error\",\"data\":{}}", "r1", 0, -1 },
		{ "{\"type\":\"auth_ok\",\"ref\":\"\"}", "", 0, -1 },
		{ "{\"type\":\"auth_ok\",\"ref\":7}", "7", 0, -1 },
		/* an event that happens to carry the ref */
		{ "{\"type\":\"pong\",\"ref\":\"r1\"}", "r1", 0, -1 },
		{ "{\"type\":\"message.created\",\"id\":\"5\"}", "r1", 0, -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = cJSON_Parse(cases[i].frame);
		int64_t ei = 42;
		int got;

		assert_non_null(j);
		got = ui_ws_auth_answer(j, cases[i].ref, &ei);
		cJSON_Delete(j);
		if (got != cases[i].want || ei != cases[i].want_expires_in)
			fail_msg("case %zu: %s: got %d (%lld)", i,
				 cases[i].frame, got, (long long)ei);
	}
}

static void test_tui_ws__final_close(void **state)
{
	(void)state;
	assert_true(ui_ws_close_is_final(4401, "session_revoked"));
	assert_true(ui_ws_close_is_final(4401, "credential_revoked"));
	/* an expired token is cured by a refresh */
	assert_false(ui_ws_close_is_final(4401, "token_expired"));
	assert_false(ui_ws_close_is_final(4401, ""));
	assert_false(ui_ws_close_is_final(4401, "session_revoked "));
	assert_false(ui_ws_close_is_final(1000, "session_revoked"));
	assert_false(ui_ws_close_is_final(1008, "credential_revoked"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tui_ws__renew_in),
		cmocka_unit_test(test_tui_ws__token_exp),
		cmocka_unit_test(test_tui_ws__auth_answer),
		cmocka_unit_test(test_tui_ws__final_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
