#!/usr/bin/env bats
# Revocation reaches every open connection within a second: a logout, a
# disabled account and a revoked API key end REST calls, WebSockets
# (4401) and SSE streams (an error event, then the end) at once, pushed
# from sessiond to the gateway; API-key scopes; a gateway without the
# revocation feed refuses sensitive requests instead of serving them on
# old knowledge, and learns what it missed when the feed is back.

setup_file() {
	load test_helper
	load chat-common
	# a generation that lasts: 150 ms a word
	start_stack "[aid]" "echo_delay_ms = 150" || return 1
	register_user root || return 1
	echo "root_id=$user_id" >"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load chat-common
	load ws-common
	source "$BATS_FILE_TMPDIR/vars"
	WS=$BATS_TEST_TMPDIR/ws
	mkdir -p "$WS"
}

teardown() {
	ws_teardown
	[[ -s $BATS_TEST_TMPDIR/sse.pid ]] && kill "$(<"$BATS_TEST_TMPDIR/sse.pid")" 2>/dev/null
	true
}

root_token() {
	login_user root >/dev/null || return 1
	echo "$access_token"
}

# ms: wall clock in milliseconds.
ms() {
	date +%s%3N
}

# within_1s SINCE-MS CMD...: CMD succeeds no later than 1 s after SINCE
# (tried every 20 ms); says how long it took.
within_1s() {
	local since=$1 now
	shift
	while :; do
		if "$@"; then
			now=$(ms)
			echo "took $((now - since)) ms" >&3
			((now - since <= 1000)) || {
				echo "took $((now - since)) ms, more than 1 s" >&2
				return 1
			}
			return 0
		fi
		(($(ms) - since > 3000)) && {
			echo "not within 3 s: $*" >&2
			return 1
		}
		sleep 0.02
	done
}

# closed_with NAME LINE: client NAME's last line is LINE.
closed_with() {
	[[ $(tail -n 1 "$WS/$1.out") == "$2" ]]
}

me_refused() {
	api GET /v1/users/me "" "$1"
	[[ $status_code == 401 && $(jb .error.code) == "$2" ]]
}

# sse_start TOKEN CONV: a long streamed answer in the background, into
# $BATS_TEST_TMPDIR/sse.out; waits for its first delta.
sse_start() {
	local i text
	text=$(printf 'word%d ' {1..200})
	curl -sN --max-time 60 -X POST -H "Authorization: Bearer $1" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary "$(jq -nc --arg t "$text" '{content: $t, model: "echo"}')" \
		"$(base_url)/v1/conversations/$2/messages" \
		>"$BATS_TEST_TMPDIR/sse.out" 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/sse.pid"
	for ((i = 0; i < 200; i++)); do
		grep -q '^event: delta' "$BATS_TEST_TMPDIR/sse.out" && return 0
		sleep 0.05
	done
	echo "no stream:" >&2
	cat "$BATS_TEST_TMPDIR/sse.out" >&2
	return 1
}

# sse_cut CODE: the stream ended with an error event naming CODE.
sse_cut() {
	local pid
	pid=$(<"$BATS_TEST_TMPDIR/sse.pid")
	kill -0 "$pid" 2>/dev/null && return 1
	grep -q '^event: error' "$BATS_TEST_TMPDIR/sse.out" &&
		grep '^data:' "$BATS_TEST_TMPDIR/sse.out" | tail -n 1 |
		grep -q "\"code\":\"$1\""
}

@test "logout refuses the access token at once" {
	new_user lou
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	api POST /v1/auth/logout '{}' "$access_token"
	expect_status 204
	t0=$(ms)
	within_1s "$t0" me_refused "$access_token" session_revoked
	expect_error 401 session_revoked
}

@test "refresh-token reuse refuses the session's access tokens at once" {
	new_user rex
	first=$refresh_token
	api POST /v1/auth/refresh "$(jq -nc --arg t "$first" '{refresh_token: $t}')"
	expect_status 200
	second=$(jb .refresh_token)
	token=$(jb .access_token)
	api POST /v1/auth/refresh "$(jq -nc --arg t "$second" '{refresh_token: $t}')"
	expect_status 200
	token=$(jb .access_token)
	ws_open r1 "$token" "" -r
	# the first token again, after its successor was used: a leak
	api POST /v1/auth/refresh "$(jq -nc --arg t "$first" '{refresh_token: $t}')"
	expect_error 401 refresh_token_reused
	t0=$(ms)
	within_1s "$t0" me_refused "$token" session_revoked
	within_1s "$t0" closed_with r1 "closed 4401 session_revoked"
}

@test "logout closes that session's WebSocket (4401) and no other" {
	new_user wendy
	first=$access_token
	login_user wendy
	second=$access_token
	ws_open w1 "$first" "" -r
	ws_open w2 "$second" "" -r
	api POST /v1/auth/logout '{}' "$first"
	expect_status 204
	t0=$(ms)
	within_1s "$t0" closed_with w1 "closed 4401 session_revoked"
	# the other session's socket still answers
	ws_send w2 '{"type":"ping","ref":"p"}'
	wait_frame w2 'select(.type == "pong")'
	ws_close w2
}

@test "disabling an account cuts its WebSocket and its SSE stream within a second" {
	new_user dana
	dana_id=$user_id
	token=$access_token
	new_conv "$token"
	ws_open d1 "$token" "" -r
	sse_start "$token" "$conv"
	api PATCH "/v1/admin/users/$dana_id" '{"disabled":true}' "$(root_token)"
	expect_status 200
	t0=$(ms)
	within_1s "$t0" closed_with d1 "closed 4401 session_revoked"
	within_1s "$t0" sse_cut session_revoked
	# and the tokens are refused everywhere
	me_refused "$token" session_revoked
	api POST /v1/conversations '{}' "$token"
	expect_error 401 session_revoked
}

@test "a revoked API key is refused and its WebSocket cut at once" {
	new_user kim
	token=$access_token
	api POST /v1/apikeys '{"name":"ws"}' "$token"
	expect_status 201
	key=$(jb .key)
	key_id=$(jb .id)
	api GET /v1/conversations "" "$key"
	expect_status 200
	ws_open k1 "$key" "" -r
	api DELETE "/v1/apikeys/$key_id" "" "$token"
	expect_status 204
	t0=$(ms)
	within_1s "$t0" closed_with k1 "closed 4401 credential_revoked"
	api GET /v1/conversations "" "$key"
	expect_error 401 invalid_token
}

@test "disabling an account cuts its API-key WebSockets too" {
	new_user ken
	ken_id=$user_id
	api POST /v1/apikeys '{"name":"ws"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	ws_open k2 "$key" "" -r
	api PATCH "/v1/admin/users/$ken_id" '{"disabled":true}' "$(root_token)"
	expect_status 200
	t0=$(ms)
	within_1s "$t0" closed_with k2 "closed 4401 credential_revoked"
	api GET /v1/conversations "" "$key"
	expect_error 401 invalid_token
}

@test "API-key scopes: read keys read, chat keys write, admin needs admin" {
	new_user rita
	api POST /v1/apikeys '{"name":"r","scopes":["read"]}' "$access_token"
	expect_status 201
	read_key=$(jb .key)
	api GET /v1/conversations "" "$read_key"
	expect_status 200
	api POST /v1/conversations '{}' "$read_key"
	expect_error 403 insufficient_scope
	run -1 "$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws" \
		-H "Authorization: Bearer $read_key" -t 5 </dev/null
	[[ $output == *"error 403"* || $output == *"closed 4403"* ]] || false

	api POST /v1/apikeys '{"name":"c","scopes":["chat"]}' "$access_token"
	expect_status 201
	chat_key=$(jb .key)
	api POST /v1/conversations '{}' "$chat_key"
	expect_status 201
	api GET /v1/conversations "" "$chat_key"
	expect_error 403 insufficient_scope

	# an admin's key without the admin scope stays out of /v1/admin
	api POST /v1/apikeys '{"name":"a","scopes":["read","chat"]}' "$(root_token)"
	expect_status 201
	api GET /v1/admin/users "" "$(jb .key)"
	expect_error 403 insufficient_scope
	api POST /v1/apikeys '{"name":"a","scopes":["admin"]}' "$(root_token)"
	expect_status 201
	api GET /v1/admin/users "" "$(jb .key)"
	expect_status 200
}

@test "without the revocation feed, sensitive requests are refused; reads go on" {
	new_user fay
	token=$access_token
	stop_daemon sessiond
	# the gateway notices the silence within 3 s
	for ((i = 0; i < 100; i++)); do
		api GET /readyz
		[[ $(jb .error.message) == *"revocation feed"* ]] && break
		sleep 0.1
	done
	[[ $(jb .error.message) == *"revocation feed"* ]] || false
	api POST /v1/conversations '{}' "$token"
	expect_error 503 auth_unavailable
	[[ $(header Retry-After) == 1 ]] || false
	run -1 "$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws" \
		-H "Authorization: Bearer $token" -t 5 </dev/null
	[[ $output == *"error 503"* || $output == *"closed 4503"* ]] || false
	api GET /v1/conversations "" "$token"
	expect_status 200
	start_daemon sessiond
	for ((i = 0; i < 50; i++)); do
		api POST /v1/conversations '{}' "$token"
		[[ $status_code == 201 ]] && break
		sleep 0.1
	done
	expect_status 201
}

@test "a gateway that was away learns the revocations it missed" {
	new_user gil
	token=$access_token
	sid=$session_id
	stop_daemon gatewayd
	secret=$(<"$CHAT_DATA_DIR/internal.key")
	run curl -s -o /dev/null -w '%{http_code}' -X POST \
		-H "X-Chat-Internal: $secret" \
		"http://127.0.0.1:$((CHAT_PORT + 2))/internal/sessions/$sid/revoke"
	[[ $output == 204 ]] || false
	start_daemon gatewayd
	me_refused "$token" session_revoked
}
