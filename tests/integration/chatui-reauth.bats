#!/usr/bin/env bats
# bats file_tags=store:any
# chatui keeps its WebSocket across access tokens: with a 4 s token
# lifetime it refreshes the token before it runs out and sends it on the
# open socket ({"type":"auth"}), so the gateway never cuts it
# (token_expired) and chatd sees one connection; and when the session is
# ended on the server (an admin disables the user: 4401
# session_revoked) chatui says so and stops, instead of reconnecting
# again and again.  The real chatui in a private tmux server, as in
# chatui.bats.

setup_file() {
	load test_helper
	load chatui-common
	start_stack "[userd]" "access_ttl_s = 4" "[aid]" \
		"echo_delay_ms = 20" || return 1
	register_user root || return 1
	if command -v tmux >/dev/null; then
		tm_start
	fi
}

teardown_file() {
	load test_helper
	load chatui-common
	tm_stop
	stop_stack
}

setup() {
	load test_helper
	load chatui-common
	command -v tmux >/dev/null || skip "tmux is not installed"
}

teardown() {
	[[ -n ${ui:-} ]] && tm kill-session -t "$ui" 2>/dev/null
	true
}

# ws_accepted LOG: how many WebSockets the daemon's log says it took.
ws_accepted() {
	grep -c 'websocket /v1/ws accepted' "$CHAT_DATA_DIR/log/$1.log" || true
}

# ws_lines: the gateway log's lines naming /v1/ws (accepted, refused,
# closed): what a client reconnecting again and again adds to.
ws_lines() {
	grep -c '/v1/ws' "$CHAT_DATA_DIR/log/gatewayd.log" || true
}

@test "chatui stays connected past several access token lifetimes (in-band auth)" {
	chatui_login ann
	local gw0 chatd0
	gw0=$(ws_accepted gatewayd)
	chatd0=$(ws_accepted chatd)
	chatui_start
	wait_for_screen 'ann@.*connected'
	# two and a half lifetimes of 4 s
	sleep 10
	screen | grep -q '│ connected' || {
		screen >&2
		false
	}
	# a message sent now still streams back on the same socket
	type_text 'after two lifetimes'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	wait_for_screen '│ after two lifetimes *$'
	login_user ann		# the test's token is long gone
	first_conv
	wait_api_jq "/v1/conversations/$conv" '(.messages | length) == 2 and .messages[1].status == "complete"'
	# the gateway never cut it, and chatd saw one connection
	run ! grep -E 'websocket .*cut: token_expired' \
		"$CHAT_DATA_DIR/log/gatewayd.log"
	[[ $(($(ws_accepted chatd) - chatd0)) -eq 1 ]] || {
		grep '/v1/ws' "$CHAT_DATA_DIR/log/chatd.log" >&2
		false
	}
	[[ $(($(ws_accepted gatewayd) - gw0)) -eq 1 ]] || {
		grep '/v1/ws' "$CHAT_DATA_DIR/log/gatewayd.log" >&2
		false
	}
	chatui_alive
}

@test "a session ended by an admin (4401 session_revoked) shows the login screen; no reconnects" {
	chatui_login bob
	local bob_id=$user_id n0 n1 log
	chatui_start
	wait_for_screen 'bob@.*connected'
	login_user root
	api PATCH "/v1/admin/users/$bob_id" '{"disabled":true}' "$access_token"
	expect_status 200
	wait_for_screen 'chatui: log in'
	wait_for_screen 'session has ended \(session_revoked\)'
	# settled: the gateway hears nothing more from it
	sleep 1
	n0=$(ws_lines)
	sleep 4
	n1=$(ws_lines)
	log=$CHAT_DATA_DIR/log/gatewayd.log
	[[ $n1 -eq $n0 ]] || {
		echo "$((n1 - n0)) more /v1/ws lines in 4 s" >&2
		tail -n 20 "$log" >&2
		false
	}
	# the close said it all: not even a refresh was tried after it
	grep -q "websocket of user '$bob_id' cut: session_revoked" "$log"
	sed -n "/websocket of user '$bob_id' cut: session_revoked/,\$p" \
		"$log" >"$BATS_TEST_TMPDIR/after-cut"
	run ! grep 'POST /v1/auth/refresh' "$BATS_TEST_TMPDIR/after-cut"
	chatui_alive
}

@test "with userd down the token refresh is retried with back-off, not on every tick" {
	chatui_login cleo
	chatui_start
	wait_for_screen 'cleo@.*connected'
	stop_daemon userd
	# the renewal fails, the token runs out, the gateway cuts the
	# socket; from then on each attempt needs a refresh, which fails
	wait_for_screen 'disconnected from the server' 15
	local log=$CHAT_DATA_DIR/log/gatewayd.log n0 n1
	n0=$(grep -c 'POST /v1/auth/refresh' "$log" || true)
	sleep 4
	n1=$(grep -c 'POST /v1/auth/refresh' "$log" || true)
	echo "$((n1 - n0)) refresh calls in 4 s" >&3
	# back-off from 0.5 s doubling: a handful, where every tick (0.1 s)
	# would be 40
	((n1 - n0 <= 6)) || {
		grep 'POST /v1/auth/refresh' "$log" | tail -n 10 >&2
		false
	}
	start_daemon userd
	keys C-l		# reconnect now, not after the back-off
	wait_for_screen '│ connected' 20
	wait_gone 'disconnected from the server'
	chatui_alive
}
