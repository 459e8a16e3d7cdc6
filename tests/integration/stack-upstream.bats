#!/usr/bin/env bats
# An upstream daemon that dies: the gateway answers 503
# "upstream_unavailable" at once (never a hang), /readyz turns 503 and
# names it, and everything recovers when the daemon is back.

# alice, registered once here so that each test can also run alone
# (bats -f)
setup_file() {
	load test_helper
	start_stack
	register_user alice
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# kill_daemon NAME: SIGKILL by its pid file, wait until it is gone.
kill_daemon() {
	local pid
	pid=$(daemon_pid "$1")
	kill -KILL "$pid"
	for _ in $(seq 100); do
		process_alive "$pid" || return 0
		sleep 0.05
	done
	return 1
}

# timed_api ...: api, with the elapsed milliseconds in $elapsed_ms.
timed_api() {
	local t0
	t0=$(date +%s%N)
	api "$@"
	elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
}

@test "sessiond killed: 503 upstream_unavailable in under 1 s, recovery after restart" {
	login_user alice
	api GET /v1/sessions "" "$access_token"
	expect_status 200

	kill_daemon sessiond
	timed_api GET /v1/sessions "" "$access_token"
	expect_error 503 upstream_unavailable
	((elapsed_ms < 1000)) || { echo "took ${elapsed_ms} ms" >&2; false; }
	# a second request is as quick (no hanging connection attempts);
	# a DELETE may already be refused by the gateway itself, which
	# cannot hear of revocations without sessiond (auth_unavailable)
	timed_api DELETE /v1/sessions/01900000-0000-7000-8000-000000000001 "" "$access_token"
	expect_status 503
	[[ $(jb .error.code) == upstream_unavailable ||
		$(jb .error.code) == auth_unavailable ]] || false
	((elapsed_ms < 1000)) || false

	api GET /readyz
	expect_status 503
	[[ $body == *sessiond* ]] || false
	# the other upstreams still work
	api GET /v1/users/me "" "$access_token"
	expect_status 200

	start_daemon sessiond
	api GET /readyz
	expect_status 200
	api GET /v1/sessions "" "$access_token"
	expect_status 200
	[[ $(jb '.data[0].id') == "$session_id" ]] || false
}

@test "userd killed: login gives 503 at once; recovery after restart" {
	kill_daemon userd
	timed_api POST /v1/auth/login '{"username":"alice","password":"password-alice"}'
	expect_error 503 upstream_unavailable
	((elapsed_ms < 1000)) || { echo "took ${elapsed_ms} ms" >&2; false; }
	api GET /readyz
	expect_status 503
	[[ $body == *userd* ]] || false

	start_daemon userd
	login_user alice
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	[[ $(jb .username) == alice ]] || false
}

@test "the gateway recovers by itself when the daemon comes back on its own" {
	# nothing tells the gateway that sessiond is back: it must notice by
	# itself (start_daemon only waits for the gateway's /readyz)
	kill_daemon sessiond
	api GET /v1/sessions
	expect_error 503 upstream_unavailable
	start_daemon sessiond
	for _ in $(seq 50); do
		api GET /v1/sessions
		[[ $status_code == 503 ]] || break
		sleep 0.1
	done
	expect_error 401 unauthorized
}
