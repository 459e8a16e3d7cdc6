#!/usr/bin/env bats
# The run-time modules: on SQLite no daemon maps libpq or libcurl, even
# after the identity paths that call between daemons (API-key checks, the
# key set, readiness, refresh and logout through sessiond) and a chat
# answer with its title (chatd -> aid, echo model), nor librdkafka
# without kafka.brokers; on PostgreSQL
# the daemons with a store map chat-pg.so; a missing or broken
# chat-pg.so stops a daemon at start with an error naming the file.

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

on_pg() {
	[[ $CHAT_DATABASE == postgres://* || $CHAT_DATABASE == postgresql://* ]]
}

# maps NAME PATTERN: true when daemon NAME maps a file matching PATTERN.
maps() {
	grep -Eq "$2" "/proc/$(daemon_pid "$1")/maps"
}

@test "calls between the daemons work: key set, API key, refresh, logout" {
	api GET /readyz
	expect_status 200
	new_user modules
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	api POST /v1/apikeys '{"name":"modules"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	api GET /v1/users/me "" "$key"
	expect_status 200
	[[ $(jb .username) == modules ]] || false
	api POST /v1/auth/refresh "$(jq -nc --arg t "$refresh_token" '{refresh_token: $t}')"
	expect_status 200
	api POST /v1/auth/logout "$(jq -nc --arg t "$(jb .refresh_token)" '{refresh_token: $t}')" "$(jb .access_token)"
	[[ $status_code == 204 || $status_code == 200 ]] || false
}

@test "a chat answer and its title come from aid (echo model)" {
	new_user chatter
	api POST /v1/conversations '{}' "$access_token"
	expect_status 201
	conv=$(jb .id)
	local ask='{"content":"modules stay unloaded","model":"echo"}'
	api POST "/v1/conversations/$conv/messages" "$ask" "$access_token"
	expect_status 201
	[[ $(jb .assistant_message.status) == complete ]] || false
	[[ $(jb .assistant_message.content) == "modules stay unloaded" ]] ||
		false
	# the title is a second call to aid, after the answer
	local i title=
	for ((i = 0; i < 100; i++)); do
		api GET "/v1/conversations/$conv" "" "$access_token"
		expect_status 200
		title=$(jb '.title // empty')
		[[ -n $title ]] && break
		sleep 0.1
	done
	[[ $title == "modules stay unloaded" ]] || false
}

@test "no daemon maps libcurl or chat-curl.so after those calls" {
	local d found=
	# chatd's calls to aid (the answer, the title) went through http-loop
	[[ -f $CHAT_DATA_DIR/run/chatd.pid ]] || false
	[[ -f $CHAT_DATA_DIR/run/aid.pid ]] || false
	for d in gatewayd userd sessiond chatd aid; do
		[[ -f $CHAT_DATA_DIR/run/$d.pid ]] || continue
		maps "$d" '/libcurl[^/]*\.so|/chat-curl\.so' && found+=" $d"
	done
	[[ -z $found ]] || { echo "libcurl mapped by:$found" >&2; false; }
}

@test "without kafka.brokers no daemon maps librdkafka or chat-kafka.so" {
	local d found=
	[[ -z ${CHAT_KAFKA_BROKERS:-} ]] || skip "CHAT_KAFKA_BROKERS is set"
	for d in gatewayd userd sessiond chatd aid analyticsd notifyd; do
		[[ -f $CHAT_DATA_DIR/run/$d.pid ]] || continue
		maps "$d" '/librdkafka[^/]*\.so|/chat-kafka\.so' && found+=" $d"
	done
	[[ -z $found ]] || { echo "librdkafka mapped by:$found" >&2; false; }
}

@test "on SQLite no daemon maps libpq or chat-pg.so" {
	on_pg && skip "the store is PostgreSQL"
	local d found=
	for d in gatewayd userd sessiond chatd aid; do
		[[ -f $CHAT_DATA_DIR/run/$d.pid ]] || continue
		maps "$d" '/libpq\.so|/chat-pg\.so' && found+=" $d"
	done
	[[ -z $found ]] || { echo "libpq mapped by:$found" >&2; false; }
}

# bats test_tags=needs:pg
@test "on PostgreSQL the daemons with a store map chat-pg.so, the gateway does not" {
	on_pg || skip "the store is SQLite"
	local d
	for d in userd sessiond chatd aid; do
		[[ -f $CHAT_DATA_DIR/run/$d.pid ]] || continue
		maps "$d" '/chat-pg\.so' || { echo "$d lacks chat-pg.so" >&2; false; }
		maps "$d" '/libpq\.so' || { echo "$d lacks libpq" >&2; false; }
	done
	! maps gatewayd '/chat-pg\.so|/libpq\.so' || false
}

# run_sessiond MODULE_DIR: sessiond alone on a PostgreSQL URI (never
# reached: the module is loaded first), with its modules looked for in
# MODULE_DIR; output in $output.
run_sessiond() {
	local port
	port=$(free_port)
	run -1 --separate-stderr env CHAT_MODULE_DIR="$1" \
		CHAT_DATABASE=postgresql://nobody@127.0.0.1:1/none \
		CHAT_DATA_DIR="$BATS_TEST_TMPDIR/data" CHAT_PORT="$port" \
		CHAT_CONFIG= timeout 20 "${CHAT_BIN:-$CHAT_ROOT/bin}/sessiond" 3>&-
	output+=$stderr
}

@test "without chat-pg.so a daemon on PostgreSQL stops at start, naming the file" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	run_sessiond "$BATS_TEST_TMPDIR/empty"
	[[ $output == *"cannot find module 'chat-pg.so' (looked in '$BATS_TEST_TMPDIR/empty'"* ]] || false
}

@test "a broken chat-pg.so stops it too, with the loader's reason" {
	mkdir -p "$BATS_TEST_TMPDIR/broken"
	echo "not a shared object" >"$BATS_TEST_TMPDIR/broken/chat-pg.so"
	run_sessiond "$BATS_TEST_TMPDIR/broken"
	[[ $output == *"cannot load module '$BATS_TEST_TMPDIR/broken/chat-pg.so': "*"chat-pg.so: "* ]] || false
}
