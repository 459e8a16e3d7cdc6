#!/usr/bin/env bats
# The gateway's WebSocket passthrough: /v1/ws routed to the wsecho fixture
# (tests/fixtures/wsecho), which echoes "<user_id>:<text>", answers
# "close" with "bye" and a close 1000.  The client is the wsclient fixture:
# it prints "open" / "error STATUS", each message received, "closed CODE".
#
# CHAT_FIXTURES: where the fixtures are built (build/fixtures).

setup_file() {
	load test_helper
	export FIX=${CHAT_FIXTURES:-$CHAT_ROOT/build/fixtures}
	[[ -x $FIX/wsecho && -x $FIX/wsclient ]] || {
		echo "fixtures not built in '$FIX' (make)" >&2
		return 1
	}
	WSECHO_PORT=$(free_port) || return 1
	export WSECHO_PORT
	export CHAT_DATA_DIR=$BATS_FILE_TMPDIR/data
	# the gateway's readiness waits for every upstream: echo first
	start_wsecho || return 1
	start_stack "[wsecho]" "port = $WSECHO_PORT" \
		"url = http://127.0.0.1:$WSECHO_PORT" \
		"[routes]" "/v1/ws = wsecho"
}

teardown_file() {
	load test_helper
	stop_wsecho
	stop_stack
}

setup() {
	load test_helper
}

# start_wsecho: the echo daemon on WSECHO_PORT, sharing the stack's data
# dir (and so its internal secret); waits for its /healthz.
start_wsecho() {
	local conf=$BATS_FILE_TMPDIR/wsecho.conf
	mkdir -p "$CHAT_DATA_DIR/log"
	printf 'data_dir = %s\n[wsecho]\nport = %s\n' "$CHAT_DATA_DIR" \
		"$WSECHO_PORT" >"$conf"
	"$FIX/wsecho" -c "$conf" </dev/null \
		>>"$CHAT_DATA_DIR/log/wsecho.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/wsecho.pid"
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$WSECHO_PORT/healthz" >/dev/null &&
			return 0
		sleep 0.05
	done
	echo "wsecho did not start" >&2
	return 1
}

stop_wsecho() {
	local pid
	[[ -s $BATS_FILE_TMPDIR/wsecho.pid ]] || return 0
	pid=$(<"$BATS_FILE_TMPDIR/wsecho.pid")
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		process_alive "$pid" || break
		sleep 0.05
	done
	rm -f "$BATS_FILE_TMPDIR/wsecho.pid"
}

ws_url() {
	echo "ws://127.0.0.1:$CHAT_PORT$1"
}

# ws PATH [wsclient args...] <<<input: runs the client; output in $output,
# exit status in $status (bats run).
ws() {
	local path=$1
	shift
	run --separate-stderr "$FIX/wsclient" "$(ws_url "$path")" -t 8 "$@"
}

# The first test's user, shared by all (a file-level account).
user() {
	if [[ ! -s $BATS_FILE_TMPDIR/user ]]; then
		new_user wsuser >&2 || return 1
		echo "$user_id $access_token" >"$BATS_FILE_TMPDIR/user"
	fi
	read -r user_id access_token <"$BATS_FILE_TMPDIR/user"
}

@test "echo through the gateway with a bearer token in the header" {
	user
	ws /v1/ws -H "Authorization: Bearer $access_token" <<<"hello"
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:hello
closed 1000" ]
}

@test "echo with ?access_token= (browsers), which is not passed upstream" {
	user
	ws "/v1/ws?access_token=$access_token&x=1" <<<$'hi there\nquery'
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:hi there
$user_id:query=x=1
closed 1000" ]
}

@test "echo with an API key (checked at userd: the pending path)" {
	user
	api POST /v1/apikeys '{"name":"ws"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	# the first message goes out at once and is held until accepted
	ws /v1/ws -H "Authorization: Bearer $key" <<<"by key"
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:by key
closed 1000" ]
}

@test "text and binary frames keep their kind, both ways" {
	user
	ws /v1/ws -H "Authorization: Bearer $access_token" \
		<<<$'text one\nb:binary two'
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:text one
b:$user_id:binary two
closed 1000" ]
}

@test "no credential: the upgrade is refused with 401" {
	ws /v1/ws </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "error 401" ]
}

@test "a forged or garbage token: refused with 401 before the upstream" {
	user
	local before after h p s forged
	before=$(grep -c . "$CHAT_DATA_DIR/log/wsecho.log")
	# the payload of a real token with another subject: bad signature
	IFS=. read -r h p s <<<"$access_token"
	p=$(printf '{"sub":"someone-else","sid":"x","role":"admin","typ":"access","iat":1,"exp":9999999999}' |
		base64 -w0 | tr '+/' '-_' | tr -d '=')
	forged="$h.$p.$s"
	ws /v1/ws -H "Authorization: Bearer $forged" </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "error 401" ]
	ws "/v1/ws?access_token=not.a.token" </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "error 401" ]
	ws /v1/ws -H "Authorization: Basic Zm9vOmJhcg==" </dev/null
	[ "$output" = "error 401" ]
	after=$(grep -c . "$CHAT_DATA_DIR/log/wsecho.log")
	[ "$before" = "$after" ]	# wsecho never heard of them
}

@test "an unknown API key: closed with 4401 (decided after the handshake)" {
	ws /v1/ws -H "Authorization: Bearer chat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "open
closed 4401" ]
}

@test "identity headers sent by the client are stripped" {
	user
	ws /v1/ws -H "Authorization: Bearer $access_token" \
		-H "X-Chat-User-Id: evil" -H "X-Chat-Role: admin" \
		-H "X-Chat-Internal: guess" <<<"who am i"
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:who am i
closed 1000" ]
}

@test "a 64 KiB message round-trips whole" {
	user
	local msg
	msg=$(head -c 65536 /dev/zero | tr '\0' x)
	ws /v1/ws -H "Authorization: Bearer $access_token" <<<"$msg"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "open" ]
	[ "${lines[1]}" = "$user_id:$msg" ]
	[ "${lines[2]}" = "closed 1000" ]
}

@test "a close by the upstream reaches the client with its code" {
	user
	ws /v1/ws -H "Authorization: Bearer $access_token" -d 3000 \
		<<<$'one\nclose'
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:one
bye
closed 1000" ]
}

@test "a plain GET of /v1/ws is 426 upgrade_required" {
	user
	api GET /v1/ws "" "$access_token"
	expect_error 426 upgrade_required
}

@test "upstream down: 503 at once; recovery when it is back" {
	user
	local t0 ms
	stop_wsecho
	t0=$(date +%s%N)
	ws /v1/ws -H "Authorization: Bearer $access_token" </dev/null
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$status" -eq 1 ]
	[ "$output" = "error 503" ]
	((ms < 1000))
	start_wsecho
	ws /v1/ws -H "Authorization: Bearer $access_token" <<<"back"
	[ "$status" -eq 0 ]
	[ "$output" = "open
$user_id:back
closed 1000" ]
}
