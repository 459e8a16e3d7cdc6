#!/usr/bin/env bats
# Throttling without lock-outs: login failures slow down a (username,
# address) pair and an address with growing waits (429 too_many_attempts
# and Retry-After), never the user's own address; concurrent attempts are
# counted before the password check; registrations are limited per
# address (429 too_many_registrations).
#
# Other addresses are simulated by calling userd directly with the
# internal secret and an X-Forwarded-For header, as the gateway does; the
# gateway's own calls come from 127.0.0.1.  The first wait is 1 s, the
# hourly registrations 3, and argon2id costs some 50 ms, so that
# concurrent attempts really overlap their password checks.

# The accounts, registered once here so that each test can also run
# alone (bats -f): alice and bob.
setup_file() {
	load test_helper
	start_stack "[userd]" "login_delay_ms = 1000" "register_per_hour = 3" \
		"[auth]" "argon2_ops = 2" "argon2_mem_kib = 32768"
	register_user alice
	register_user bob
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# from ADDR METHOD PATH [BODY]: a request to userd as the gateway would
# send it for a client at ADDR; sets status_code, body and headers like
# api.
from() {
	local addr=$1 method=$2 path=$3 data=${4-}
	local tmp=$BATS_TEST_TMPDIR out
	local -a args=(-s -X "$method" --max-time 10 -o "$tmp/from.body"
		-D "$tmp/from.headers" -w '%{http_code}'
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")"
		-H "X-Forwarded-For: $addr")
	[[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	out=$(curl "${args[@]}" "http://127.0.0.1:$((CHAT_PORT + 1))$path") || out=000
	status_code=$out
	body=$(cat "$tmp/from.body" 2>/dev/null || true)
	headers=$(tr -d '\r' <"$tmp/from.headers" 2>/dev/null || true)
}

# creds USER PASSWORD: a login or register body.
creds() {
	jq -nc --arg u "$1" --arg p "$2" '{username: $u, password: $p}'
}

@test "a guesser waits longer and longer while the user gets in" {
	local i
	for i in 1 2 3 4 5; do
		from 203.0.113.10 POST /v1/auth/login "$(creds alice wrong-$i)"
		expect_error 401 invalid_credentials
	done
	from 203.0.113.10 POST /v1/auth/login "$(creds alice wrong-6)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 1 ]] || false
	# the right password is not even checked while the pair waits
	from 203.0.113.10 POST /v1/auth/login "$(creds alice password-alice)"
	expect_error 429 too_many_attempts
	# alice, from her own addresses, gets in at once
	login_user alice
	from 198.51.100.20 POST /v1/auth/login "$(creds alice password-alice)"
	expect_status 200
	# the guesser's waits grow: 1 s, then 2 s
	sleep 1.1
	from 203.0.113.10 POST /v1/auth/login "$(creds alice wrong-6)"
	expect_error 401 invalid_credentials
	from 203.0.113.10 POST /v1/auth/login "$(creds alice wrong-7)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 2 ]] || false
	sleep 2.1
	from 203.0.113.10 POST /v1/auth/login "$(creds alice wrong-7)"
	expect_error 401 invalid_credentials
	from 203.0.113.10 POST /v1/auth/login "$(creds alice wrong-8)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) =~ ^[34]$ ]] || false
	# and alice still gets in
	login_user alice
}

@test "one password sprayed over many usernames is slowed down" {
	local i
	# the address's free allowance is 20 failures, whatever the names
	for i in $(seq 1 20); do
		from 203.0.113.20 POST /v1/auth/login "$(creds "sprayed$i" Summer2024!)"
		expect_error 401 invalid_credentials
	done
	from 203.0.113.20 POST /v1/auth/login "$(creds sprayed21 Summer2024!)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 1 ]] || false
	# real names too, even with the right password
	from 203.0.113.20 POST /v1/auth/login "$(creds bob password-bob)"
	expect_error 429 too_many_attempts
	# other addresses are not slowed
	from 198.51.100.21 POST /v1/auth/login "$(creds bob password-bob)"
	expect_status 200
}

@test "concurrent wrong attempts get no more checks than the allowance" {
	local i statuses n401 n429 secret
	secret=$(<"$CHAT_DATA_DIR/internal.key")
	for i in $(seq 1 20); do
		echo "$i"
	done | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
		--max-time 10 -X POST \
		-H "X-Chat-Internal: $secret" -H 'X-Forwarded-For: 203.0.113.30' \
		-H 'Content-Type: application/json' \
		--data-binary '{"username":"bob","password":"wrong-{}"}' \
		"http://127.0.0.1:$((CHAT_PORT + 1))/v1/auth/login" >"$BATS_TEST_TMPDIR/statuses"
	statuses=$(sort "$BATS_TEST_TMPDIR/statuses" | uniq -c | tr -s ' ')
	echo "statuses: $statuses" >&3
	n401=$(grep -c '^401$' "$BATS_TEST_TMPDIR/statuses" || true)
	n429=$(grep -c '^429$' "$BATS_TEST_TMPDIR/statuses" || true)
	((n401 >= 1 && n401 <= 5)) || false
	((n401 + n429 == 20)) || false
}

@test "unknown usernames are slowed down like real ones" {
	local i
	for i in 1 2 3 4 5; do
		from 203.0.113.40 POST /v1/auth/login "$(creds ghost-user wrong-$i)"
		expect_error 401 invalid_credentials
	done
	from 203.0.113.40 POST /v1/auth/login "$(creds ghost-user wrong-6)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 1 ]] || false
}

@test "registrations are limited per address" {
	local i before
	for i in 1 2 3; do
		from 198.51.100.40 POST /v1/auth/register "$(creds "reg$i" "password-reg$i")"
		expect_status 201
	done
	before=$(db_query userd "SELECT COUNT(*) FROM users")
	from 198.51.100.40 POST /v1/auth/register "$(creds reg4 password-reg4)"
	expect_error 429 too_many_registrations
	# about an hour after the first of them
	(($(header Retry-After) > 3500 && $(header Retry-After) <= 3600)) || false
	[[ $(db_query userd "SELECT COUNT(*) FROM users") == "$before" ]] || false
	# another address still registers
	from 198.51.100.41 POST /v1/auth/register "$(creds reg4 password-reg4)"
	expect_status 201
}

@test "refused registration bodies do not use up the allowance" {
	local i
	for i in 1 2 3; do
		from 198.51.100.50 POST /v1/auth/register "$(creds x password-x)"
		expect_error 400 invalid_username
		from 198.51.100.50 POST /v1/auth/register "$(creds "short$i" short)"
		expect_error 400 invalid_password
	done
	from 198.51.100.50 POST /v1/auth/register "$(creds late1 password-late1)"
	expect_status 201
}
