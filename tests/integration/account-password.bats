#!/usr/bin/env bats
# POST /v1/users/me/password: the caller changes their password with the
# current one.  The old password stops working and the new one works;
# every other session ends (its refresh token at once, its access token
# and WebSocket within a second through the gateway), the calling session
# and the API keys go on.  A wrong current password, an API key and
# malformed bodies change nothing; wrong passwords count as failed logins
# (the login throttle), so the route cannot be used to guess faster.

setup_file() {
	load test_helper
	# three free failures per (username, address), then waits
	start_stack "[userd]" "login_free_failures = 3" \
		"login_delay_ms = 30000"
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

# ms: wall clock in milliseconds.
ms() {
	date +%s%3N
}

# within_1s SINCE-MS CMD...: CMD succeeds no later than 1 s after SINCE.
within_1s() {
	local since=$1 now
	shift
	while :; do
		if "$@"; then
			now=$(ms)
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

# closed_with NAME LINE: WebSocket client NAME's last line is LINE.
closed_with() {
	[[ $(tail -n 1 "$WS/$1.out") == "$2" ]]
}

me_refused() {
	api GET /v1/users/me "" "$1"
	[[ $status_code == 401 && $(jb .error.code) == "$2" ]]
}

# change TOKEN CURRENT NEW: the password change call.
change() {
	api POST /v1/users/me/password "$(jq -nc --arg c "$2" --arg n "$3" \
		'{current_password: $c, new_password: $n}')" "$1"
}

# can_login NAME PASSWORD: a login succeeds.
can_login() {
	login_user "$1" "$2" >/dev/null 2>&1
}

# refresh TOKEN: a refresh call, answer in $status_code/$body.
refresh() {
	api POST /v1/auth/refresh "$(jq -nc --arg t "$1" '{refresh_token: $t}')"
}

@test "a password change ends every other session and keeps this one" {
	new_user pam
	mine=$access_token
	mine_refresh=$refresh_token
	api POST /v1/apikeys '{"name":"script"}' "$mine"
	expect_status 201
	key=$(jb .key)
	login_user pam
	other=$access_token
	other_refresh=$refresh_token
	ws_open o1 "$other" "" -r
	ws_open m1 "$mine" "" -r

	change "$mine" password-pam 'a new password for pam'
	expect_status 204
	[[ -z $body ]] || false
	t0=$(ms)
	# the other session: its access token, its socket, its refresh token
	within_1s "$t0" me_refused "$other" session_revoked
	within_1s "$t0" closed_with o1 "closed 4401 session_revoked"
	refresh "$other_refresh"
	expect_status 401
	# this session goes on: REST, its socket, its refresh token
	api GET /v1/users/me "" "$mine"
	expect_status 200
	ws_send m1 '{"type":"ping","ref":"p"}'
	wait_frame m1 'select(.type == "pong")'
	ws_close m1
	refresh "$mine_refresh"
	expect_status 200
	# the API key too
	api GET /v1/users/me "" "$key"
	expect_status 200
	# the old password is refused, the new one accepted
	login_user pam password-pam || true
	expect_error 401 invalid_credentials
	login_user pam 'a new password for pam'
	expect_status 200
}

@test "a wrong current password changes nothing" {
	new_user wes
	mine=$access_token
	login_user wes
	other=$access_token
	other_refresh=$refresh_token
	change "$mine" not-the-password 'another password'
	expect_error 401 invalid_credentials
	[[ $(jb .error.message) == "the current password is wrong" ]] || false
	api GET /v1/users/me "" "$other"
	expect_status 200
	refresh "$other_refresh"
	expect_status 200
	can_login wes password-wes
	run ! can_login wes 'another password'
}

@test "wrong current passwords count as failed logins" {
	new_user guess
	mine=$access_token
	for i in 1 2 3; do
		change "$mine" "guess-$i" 'a new password!'
		expect_error 401 invalid_credentials
	done
	# the throttle: the right password is not even checked now ...
	change "$mine" password-guess 'a new password!'
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) -ge 1 ]] || false
	# ... and logins of the same name from here wait too
	login_user guess || true
	expect_error 429 too_many_attempts
	# nothing changed
	db_query userd "SELECT updated_at = created_at FROM users
		WHERE username_key = 'guess'" >"$BATS_TEST_TMPDIR/same"
	same=$(<"$BATS_TEST_TMPDIR/same")
	[[ $same == 1 || $same == t ]] || false
}

@test "an API key cannot change the password" {
	new_user kay
	api POST /v1/apikeys '{"name":"k"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	change "$key" password-kay 'a key-made password'
	expect_error 403 interactive_login_required
	can_login kay password-kay
	run ! can_login kay 'a key-made password'
}

@test "malformed bodies: a clear 400 or 413 and nothing changed" {
	new_user mal
	mine=$access_token
	login_user mal
	other=$access_token
	before=$(db_query userd "SELECT password_hash, updated_at FROM users
		WHERE username_key = 'mal'")

	api POST /v1/users/me/password '{"current_password": "password-mal",' "$mine"
	expect_error 400 invalid_json
	api POST /v1/users/me/password '[1, 2]' "$mine"
	expect_error 400 invalid_json
	api POST /v1/users/me/password \
		'{"current_password": 5, "new_password": "long enough"}' "$mine"
	expect_error 400 invalid_field
	[[ $(jb .error.message) == *current_password* ]] || false
	api POST /v1/users/me/password \
		'{"current_password": "password-mal", "new_password": null}' "$mine"
	expect_error 400 invalid_field
	[[ $(jb .error.message) == *new_password* ]] || false
	api POST /v1/users/me/password '{"current_password": "password-mal"}' "$mine"
	expect_error 400 invalid_field
	change "$mine" password-mal short
	expect_error 400 invalid_password
	[[ $(jb .error.message) == "'new_password' must be 8 to 1024 bytes of UTF-8" ]] || false
	change "$mine" password-mal "$(head -c 1025 /dev/zero | tr '\0' x)"
	expect_error 400 invalid_password
	printf '{"current_password":"password-mal","new_password":"%s"}' \
		"$(head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' y)" \
		>"$BATS_TEST_TMPDIR/big.json"
	api POST /v1/users/me/password "@$BATS_TEST_TMPDIR/big.json" "$mine"
	expect_error 413 payload_too_large

	after=$(db_query userd "SELECT password_hash, updated_at FROM users
		WHERE username_key = 'mal'")
	[[ $before == "$after" ]] || false
	api GET /v1/users/me "" "$other"
	expect_status 200
	can_login mal password-mal
}

@test "sessiond down after the write: 503 sessions_not_revoked, the new password in force" {
	new_user sue
	sue_id=$user_id
	sid=$session_id
	stop_daemon sessiond
	# straight to userd, as the gateway would pass the call on (the
	# gateway itself refuses writes while its revocation feed is down)
	status_code=$(curl -s -o "$BATS_TEST_TMPDIR/direct.body" -w '%{http_code}' \
		-X POST -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		-H "X-Chat-User-Id: $sue_id" -H 'X-Chat-Role: user' \
		-H "X-Chat-Session-Id: $sid" -H 'Content-Type: application/json' \
		--data-binary '{"current_password":"password-sue","new_password":"sue changed it"}' \
		"http://127.0.0.1:$((CHAT_PORT + 1))/v1/users/me/password") || status_code=000
	body=$(<"$BATS_TEST_TMPDIR/direct.body")
	start_daemon sessiond
	expect_error 503 sessions_not_revoked
	[[ $(jb .error.message) == *"password was changed"* ]] || false
	run ! can_login sue password-sue
	can_login sue 'sue changed it'
}
