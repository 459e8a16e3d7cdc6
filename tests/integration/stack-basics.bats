#!/usr/bin/env bats
# The stack as a whole: scripts/stack start/status/stop, the gateway's
# health endpoints, request ids, unknown paths and oversized bodies, the
# daemons' loops on epoll.

setup_file() {
	load test_helper
	start_stack
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

@test "the gateway answers /healthz and /readyz" {
	api GET /healthz
	expect_status 200
	[[ $(jb .status) == ok ]] || false
	api GET /readyz
	expect_status 200
	[[ $(jb .status) == ready ]] || false
}

@test "every built daemon answers its own /healthz" {
	local name offset
	for name in userd:1 sessiond:2; do
		offset=${name#*:}
		name=${name%:*}
		[[ -x ${CHAT_BIN:-$CHAT_ROOT/bin}/$name ]] || continue
		run -0 curl -s --max-time 2 "http://127.0.0.1:$((CHAT_PORT + offset))/healthz"
		[[ $(jq -r .status <<<"$output") == ok ]] || false
	done
}

@test "stack status lists the running daemons" {
	run -0 "$STACK" status
	[[ $output == *"gatewayd    running (pid $(daemon_pid gatewayd))"* ]] || false
	[[ $output == *"userd       running (pid $(daemon_pid userd))"* ]] || false
	[[ $output == *"sessiond    running (pid $(daemon_pid sessiond))"* ]] || false
}

# gatewayd's descriptors in its epoll sets: the "tfd:" lines of the
# fdinfo of each of its eventpoll descriptors
gateway_epoll_fds() {
	local pid fd n=0
	pid=$(daemon_pid gatewayd)
	for fd in /proc/"$pid"/fd/*; do
		[[ $(readlink "$fd") == 'anon_inode:[eventpoll]' ]] || continue
		n=$((n + $(grep -c '^tfd:' "/proc/$pid/fdinfo/${fd##*/}" || true)))
	done
	echo "$n"
}

@test "the daemons' loops wait with epoll, which holds every client" {
	local name fds=() fd i n=0
	for name in gatewayd userd sessiond; do
		grep -q '"listening on 127.0.0.1:[0-9]* (epoll)"' \
			"$CHAT_DATA_DIR/log/$name.log" || false
	done
	# 40 idle clients: each one's socket is in the loop's epoll set
	# (lws's poll() loop had no epoll set: it looked at every
	# descriptor on every wake-up)
	for i in {1..40}; do
		exec {fd}<>"/dev/tcp/127.0.0.1/$CHAT_PORT"
		fds+=("$fd")
	done
	for i in {1..100}; do
		n=$(gateway_epoll_fds)
		((n >= 40)) && break
		sleep 0.1
	done
	for fd in "${fds[@]}"; do
		exec {fd}>&-
	done
	echo "gatewayd's epoll sets hold $n descriptors with 40 clients"
	((n >= 40)) || false
	api GET /readyz
	expect_status 200
}

@test "stack start does not start a second copy" {
	local before after
	before=$(cat "$CHAT_DATA_DIR"/run/*.pid | sort)
	run -0 --separate-stderr "$STACK" start 3>&-
	[[ $stderr == *"gatewayd already running"* ]] || false
	after=$(cat "$CHAT_DATA_DIR"/run/*.pid | sort)
	[[ $before == "$after" ]] || false
	api GET /readyz
	expect_status 200
}

@test "a valid incoming X-Request-Id is kept" {
	api_args=(-H 'X-Request-Id: test-req.id_42')
	api GET /healthz
	expect_status 200
	[[ $(header X-Request-Id) == test-req.id_42 ]] || false
	api_args=(-H 'X-Request-Id: abc-123')
	api GET /v1/no-such-thing
	[[ $(header X-Request-Id) == abc-123 ]] || false
	[[ $(jb .error.request_id) == abc-123 ]] || false
}

@test "an invalid or missing X-Request-Id is replaced by a new one" {
	local uuid='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' long
	api_args=(-H 'X-Request-Id: bad id with spaces')
	api GET /healthz
	[[ $(header X-Request-Id) =~ $uuid ]] || false
	long=$(printf 'a%.0s' {1..129})
	api_args=(-H "X-Request-Id: $long")
	api GET /healthz
	[[ $(header X-Request-Id) =~ $uuid ]] || false
	api GET /healthz
	[[ $(header X-Request-Id) =~ $uuid ]] || false
}

@test "an unknown path gives the 404 envelope" {
	api GET /v1/no-such-thing
	expect_error 404 not_found
	# (paths outside the API are the web page's: a missing file there
	# is the same envelope, web-static.bats)
	api GET /nowhere.txt
	expect_error 404 not_found
}

@test "internal routes are not reachable through the gateway" {
	api POST /internal/sessions '{"user_id":"01900000-0000-7000-8000-000000000001"}'
	[[ $status_code == 404 || $status_code == 403 ]] || false
	[[ -n $(jb .error.code) ]] || false
	api GET '/internal/revocations?since=0'
	[[ $status_code == 404 || $status_code == 403 ]] || false
	[[ -z $(db_query sessiond 'SELECT id FROM sessions') ]] || false
}

@test "a 2 MiB body gives the 413 envelope and stores nothing" {
	local file
	file=$(big_json_file $((2 * 1024 * 1024)))
	api POST /v1/auth/register "@$file"
	expect_error 413 payload_too_large
	[[ -z $(db_query userd 'SELECT id FROM users') ]] || false
	# the connection-level failure did not hurt the gateway
	api GET /readyz
	expect_status 200
}

@test "/metrics is not served without gatewayd.metrics_token" {
	api GET /metrics
	expect_error 404 not_found
	api GET /metrics "" anything
	expect_error 404 not_found
}

@test "the data dir, its logs and pid files are the owner's only, whatever the umask" {
	stop_daemon userd
	# as a lax umask once left them
	chmod 755 "$CHAT_DATA_DIR" "$CHAT_DATA_DIR/log" "$CHAT_DATA_DIR/run"
	chmod 644 "$CHAT_DATA_DIR/log/userd.log"
	rm -f "$CHAT_DATA_DIR/run/userd.pid"
	(umask 000 && start_daemon userd)
	[[ $(stat -c %a "$CHAT_DATA_DIR") == 700 ]] || false
	[[ $(stat -c %a "$CHAT_DATA_DIR/log") == 700 ]] || false
	[[ $(stat -c %a "$CHAT_DATA_DIR/run") == 700 ]] || false
	[[ $(stat -c %a "$CHAT_DATA_DIR/log/userd.log") == 600 ]] || false
	[[ $(stat -c %a "$CHAT_DATA_DIR/run/userd.pid") == 600 ]] || false
	# the daemon runs with the same umask
	[[ $(awk '/^Umask:/ {print $2}' "/proc/$(daemon_pid userd)/status") == 0077 ]] || false
	api GET /readyz
	expect_status 200
}

@test "stack stop stops every daemon by its pid and removes the pid files" {
	local pids pid
	pids=$(cat "$CHAT_DATA_DIR"/run/*.pid)
	run -0 "$STACK" stop
	# each one left on TERM, none had to be killed (daemons that consume
	# each other's events once waited on each other's long-polls)
	[[ $output != *"ignored TERM"* ]] || false
	for pid in $pids; do
		! process_alive "$pid" || false
	done
	run -0 ls "$CHAT_DATA_DIR/run"
	[[ -z $output ]] || false
	run -3 "$STACK" status
	[[ $output == *"gatewayd    stopped"* ]] || false
}
