#!/usr/bin/env bats
# aid's libcurl path: the providers' URLs name the fake upstream as
# 127.1, an address aid's loop-thread client (shared/http-loop.c) does
# not take, so every upstream request goes through http-client.c.  The
# other aid-*.bats files reach it at 127.0.0.1, on the loop.  The cases
# are in aid-common.bash.

PROV=openai

setup_file() {
	load test_helper
	load aid-common
	AID_UPSTREAM_HOST=127.1 aid_stack
}

teardown_file() {
	load test_helper
	load aid-common
	aid_teardown
}

setup() {
	load test_helper
	load aid-common
	aid_setup
}

@test "curl path: a streamed answer" { case_stream; }
@test "curl path: a whole answer" { case_whole; }
@test "curl path: bytes split anywhere, UTF-8 included" { case_split; }
@test "curl path: a stall is upstream_timeout" { case_stall; }
@test "curl path: 429 and 503 are retried, Retry-After capped" { case_retry; }
@test "curl path: an unavailable model falls back; no fallback is 503" { case_fallback; }
@test "curl path: a client leaving closes the upstream request" { case_stop; }
@test "curl path: /internal/generate" { case_internal; }
