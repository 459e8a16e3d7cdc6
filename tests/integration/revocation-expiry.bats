#!/usr/bin/env bats
# A WebSocket lives by its access token: with an 8 s token lifetime it is
# closed (4401 token_expired) within a second of the token's expiry,
# unless the client sends a fresh access token of the same user in-band
# ({"type":"auth"}), which the gateway answers itself; an API key, another
# user's token or garbage there is refused with an error frame and
# changes nothing.

setup_file() {
	load test_helper
	# long enough for a loaded, sanitized CI run to open a socket and
	# refresh before the first token ends, short enough to wait for
	start_stack "[userd]" "access_ttl_s = 8" || return 1
	register_user root || return 1
	register_user ann || return 1
	register_user bea || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load ws-common
	WS=$BATS_TEST_TMPDIR/ws
	mkdir -p "$WS"
}

teardown() {
	ws_teardown
}

ms() {
	date +%s%3N
}

# closed_by NAME DEADLINE-MS: client NAME's last line is "closed 4401
# token_expired" no later than DEADLINE (wall clock ms).
closed_by() {
	# polled until 2 s past the deadline, to tell late from never
	while (($(ms) <= $2 + 2000)); do
		if [[ $(tail -n 1 "$WS/$1.out") == "closed 4401 token_expired" ]]; then
			echo "closed $(($(ms) - $2)) ms after the deadline" >&3
			(($(ms) <= $2)) || false
			return
		fi
		sleep 0.02
	done
	echo "client $1 was not closed:" >&2
	cat "$WS/$1.out" >&2
	return 1
}

# still_open NAME: client NAME answers a ping.
still_open() {
	ws_send "$1" "{\"type\":\"ping\",\"ref\":\"p$2\"}"
	wait_frame "$1" "select(.type == \"pong\" and .ref == \"p$2\")"
}

@test "a WebSocket closes within a second of its access token's expiry" {
	login_user ann
	exp=$(jwt_claim "$access_token" exp)
	ws_open a1 "$access_token" "" -r
	still_open a1 1
	closed_by a1 $((exp * 1000 + 1000))
}

@test "a fresh token sent in-band keeps the WebSocket open past the old one's expiry" {
	login_user ann
	first_exp=$(jwt_claim "$access_token" exp)
	ws_open a2 "$access_token" "" -r
	# 4.1 s on: the fresh token's exp is at least 4 s after the first's
	sleep 4.1
	api POST /v1/auth/refresh "$(jq -nc --arg t "$refresh_token" '{refresh_token: $t}')"
	expect_status 200
	fresh=$(jb .access_token)
	fresh_exp=$(jwt_claim "$fresh" exp)
	((fresh_exp >= first_exp + 4)) || false
	ws_send a2 "$(jq -nc --arg t "$fresh" '{type: "auth", ref: "r1", token: $t}')"
	wait_frame a2 'select(.type == "auth_ok" and .ref == "r1" and .data.expires_in >= 1)'
	# past the first token's end, still in
	while (($(ms) < first_exp * 1000 + 1200)); do sleep 0.1; done
	still_open a2 2
	# and the fresh token's end is the end
	closed_by a2 $((fresh_exp * 1000 + 1000))
}

@test "an auth frame with another user's token, an API key or garbage is refused" {
	login_user bea
	bea_token=$access_token
	api POST /v1/apikeys '{"name":"k"}' "$bea_token"
	expect_status 201
	key=$(jb .key)
	login_user ann
	ws_open a3 "$access_token" "" -r
	ws_send a3 "$(jq -nc --arg t "$bea_token" '{type: "auth", ref: "x1", token: $t}')"
	wait_frame a3 'select(.type == "error" and .ref == "x1" and .data.error.code == "forbidden")'
	ws_send a3 "$(jq -nc --arg t "$key" '{type: "auth", ref: "x2", token: $t}')"
	wait_frame a3 'select(.type == "error" and .ref == "x2" and .data.error.code == "invalid_field")'
	ws_send a3 '{"type":"auth","ref":"x3","token":"not.a.token"}'
	wait_frame a3 'select(.type == "error" and .ref == "x3" and .data.error.code == "invalid_token")'
	ws_send a3 '{"type":"auth","ref":"x4"}'
	wait_frame a3 'select(.type == "error" and .ref == "x4" and .data.error.code == "invalid_token")'
	# none of them was relayed to chatd (it would answer unknown frames)
	run -0 frames a3
	[[ $(grep -c '"ref":"x' <<<"$output") == 4 ]] || false
	still_open a3 1
}

@test "a REST call with an expired token gets token_expired" {
	login_user ann
	exp=$(jwt_claim "$access_token" exp)
	while (($(date +%s) <= exp)); do sleep 0.2; done
	api GET /v1/users/me "" "$access_token"
	expect_error 401 token_expired
}
