#!/usr/bin/env bats
# The hostile client (tests/fixtures/hostile) against a real stack: the
# corpus of malformed requests and WebSocket frames in
# tests/hostile/corpus, then 12 s of random mutations of it from a fixed
# seed, while users A and B chat beside it; at the end every daemon must
# be the same live process answering /healthz, its memory back down, and
# no answer may carry another user's data.  A refused request must change
# nothing (user C's data is compared around each).  stop_stack fails the
# file when the run made a daemon log a sanitizer report (make asan).
#
# A longer run, on a stack of its own: scripts/hostile [SECONDS [SEED]].
#
# CHAT_FIXTURES: where the fixtures are built (build/fixtures).

setup_file() {
	load test_helper
	[[ -x $FIXTURES/hostile ]] || {
		echo "fixture not built in '$FIXTURES' (make)" >&2
		return 1
	}
	start_stack
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

@test "hostile requests are refused once and run nothing; the daemons live, memory comes back, users stay apart" {
	# 12 s of mutations: the whole file stays near 20 s (the suite runs
	# twice on 2 cores in CI); the corpus alone takes a few seconds
	# -w: the WebSocket frame entries too (unmasked frames, RSV bits...),
	# now that the server reads frames with ws-frame.c
	run "$FIXTURES/hostile" -p "$CHAT_PORT" -d "$CHAT_DATA_DIR" -s 1 -t 12 -w \
		"$CHAT_ROOT/tests/hostile/corpus"
	if ((status != 0)); then
		echo "hostile exited with status $status:"
		echo "$output"
		false
	fi
}
