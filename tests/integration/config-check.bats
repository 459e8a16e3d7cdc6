#!/usr/bin/env bats
# The config checked against the key tables at start (shared/daemon-keys.c):
# one file with keys of every daemon serves the whole stack, and the
# variables that are not keys (CHAT_CONFIG, CHAT_BIN, CHAT_TEST_*) pass;
# an unknown key in the file, a CHAT_* variable that names no key, or a
# value out of bounds stops a daemon with a message naming it.

setup_file() {
	load test_helper
	# a variable that overrides a key, and one that is not a key
	export CHAT_USERD_LOGIN_DELAY_MS=1000 CHAT_TEST_I11B_UNRELATED=1
	start_stack "[gatewayd]" "idle_timeout_s = 300" \
		"[userd]" "access_ttl_s = 900" "registration = open" \
		"[sessiond]" "refresh_grace_s = 10" \
		"[chatd]" "workers = 2" \
		"[aid]" "echo_delay_ms = 5" "models = tiny" \
		"[model.tiny]" "provider = echo" "context_window = 64" \
		"[openai]" "api_key =" \
		"[routes]" "/v1/tiny = aid"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# a stack of one daemon that a test started in its own data dir
teardown() {
	[[ -d $BATS_TEST_TMPDIR/one ]] || return 0
	CHAT_DATA_DIR=$BATS_TEST_TMPDIR/one "$STACK" stop 3>&- || true
}

# run_daemon NAME [VAR=VALUE...]: daemon NAME alone with conf.test (the
# stack's config plus the test's lines) on a port of its own; it is
# expected to stop at start.  stderr in $stderr.
run_daemon() {
	local name=$1 port
	shift
	port=$(free_port)
	run -1 --separate-stderr env "$@" CHAT_PORT="$port" \
		CHAT_DATA_DIR="$BATS_TEST_TMPDIR/data" \
		timeout 20 "${CHAT_BIN:-$CHAT_ROOT/bin}/$name" \
		-c "$BATS_TEST_TMPDIR/conf.test" 3>&-
}

# conf_test LINE...: the stack's config with LINEs at the end; prints the
# line number of the first one.
conf_test() {
	cp "$CHAT_CONFIG" "$BATS_TEST_TMPDIR/conf.test"
	echo $(($(wc -l <"$CHAT_CONFIG") + 1))
	printf '%s\n' "$@" >>"$BATS_TEST_TMPDIR/conf.test"
}

@test "one file with keys of every daemon starts the whole stack" {
	run -0 "$STACK" status
	api GET /readyz
	[[ $status_code == 200 ]] || false
}

@test "an unknown key in the file stops a daemon, naming the key and line" {
	local line
	line=$(conf_test "[userd]" "registraton = closed")
	run_daemon userd
	[[ $stderr == *"config: unknown key 'userd.registraton' (at $BATS_TEST_TMPDIR/conf.test:$((line + 1)))"* ]] || false
	# any daemon: the file serves the whole stack
	run_daemon chatd
	[[ $stderr == *"unknown key 'userd.registraton'"* ]] || false
}

@test "an unknown key outside any section is refused too" {
	# before the first section header
	printf 'datadir = /tmp/x\n' >"$BATS_TEST_TMPDIR/conf.test"
	run_daemon sessiond
	[[ $stderr == *"config: unknown key 'datadir'"* ]] || false
}

@test "a CHAT_ variable that names no key stops a daemon, naming it" {
	conf_test >/dev/null
	run_daemon gatewayd CHAT_USERD_REGISTRATON=closed
	[[ $stderr == *"config: environment variable 'CHAT_USERD_REGISTRATON' names no key"* ]] || false
	run_daemon aid CHAT_LOGLEVEL=debug
	[[ $stderr == *"'CHAT_LOGLEVEL' names no key"* ]] || false
}

@test "a value out of bounds names the key, its bounds and its origin" {
	local line
	line=$(conf_test "[userd]" "access_ttl_s = 86401")
	# sessiond reads userd's key: the same bounds as userd
	run_daemon sessiond
	[[ $stderr == *"config: 'userd.access_ttl_s' must be an integer from 1 to 86400 (at $BATS_TEST_TMPDIR/conf.test:$((line + 1)))"* ]] || false
	run_daemon userd
	[[ $stderr == *"'userd.access_ttl_s' must be an integer from 1 to 86400"* ]] || false
	conf_test >/dev/null
	run_daemon chatd CHAT_SESSIOND_REFRESH_GRACE_S=301
	[[ $stderr == *"config: 'sessiond.refresh_grace_s' must be an integer from 0 to 300 (from CHAT_SESSIOND_REFRESH_GRACE_S)"* ]] || false
}

@test "a value of the wrong kind names the key and what it must be" {
	conf_test "[aid]" "discover = maybe" >/dev/null
	run_daemon userd
	[[ $stderr == *"config: 'aid.discover' must be true or false"* ]] || false
	conf_test "[model.x]" "provider = gpt" >/dev/null
	run_daemon userd
	[[ $stderr == *"config: 'model.x.provider' must be one of: echo, openai, ollama, anthropic"* ]] || false
	conf_test "[userd]" "url = ftp://x" >/dev/null
	run_daemon sessiond
	[[ $stderr == *"config: 'userd.url' must be an http:// or https:// URL"* ]] || false
}

@test "an upstream's keys are known only when [routes] names it" {
	conf_test "[oddup]" "url = http://127.0.0.1:1" >/dev/null
	run_daemon gatewayd
	[[ $stderr == *"config: unknown key 'oddup.url'"* ]] || false
}

@test "stack start with a typo fails and shows the daemon's message" {
	printf '[sessiond]\nrefresh_ttl = 60\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run -1 env CHAT_CONFIG="$BATS_TEST_TMPDIR/bad.conf" \
		CHAT_DATA_DIR="$BATS_TEST_TMPDIR/stack" CHAT_PORT="$(free_port)" \
		"$STACK" start 3>&-
	[[ $output == *"unknown key 'sessiond.refresh_ttl'"* ]] || false
}

@test "stack start waits on the port the daemon reports, <name>.port too" {
	local port own
	port=$(free_port)
	own=$(free_port)
	# no gateway: the stack waits on userd's own /readyz
	run -0 env CHAT_DATA_DIR="$BATS_TEST_TMPDIR/one" CHAT_PORT="$port" \
		CHAT_USERD_PORT="$own" "$STACK" start userd 3>&-
	run -0 curl -sf "http://127.0.0.1:$own/healthz"
	run -0 "${CHAT_BIN:-$CHAT_ROOT/bin}/userd" -p
	[[ $output == $((CHAT_PORT + 1)) ]] || false
}
