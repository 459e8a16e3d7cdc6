#!/usr/bin/env bats
# POST /v1/auth/register through the gateway: the first account is admin
# and later ones are users, usernames and passwords follow their rules,
# and a refused request stores nothing.

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

# Every stored account, one line each.
stored_users() {
	db_query userd "SELECT id, username, username_key, password_hash, role,
		disabled, display_name, default_model, system_prompt, theme,
		created_at, updated_at FROM users ORDER BY id"
}

# register_raw BODY: POST the body as is.
register_raw() {
	api POST /v1/auth/register "$1"
}

# expect_refused BODY STATUS CODE: the body is refused with that error and
# the stored accounts stay as they were.
expect_refused() {
	local before after
	before=$(stored_users)
	register_raw "$1"
	expect_error "$2" "$3"
	after=$(stored_users)
	[[ $before == "$after" ]] || {
		echo "stored accounts changed after: $1" >&2
		diff <(echo "$before") <(echo "$after") >&2
		return 1
	}
}

# need_user NAME: the account NAME that an earlier test registers, made
# here when that test did not run (this one runs alone, bats -f).
need_user() {
	local n
	n=$(db_query userd "SELECT COUNT(*) FROM users WHERE username = '$1'") || return 1
	[[ $n != 0 ]] || register_user "$1"
}

@test "the first account is an admin" {
	local expected
	register_user root
	expected='{"username":"root","role":"admin","disabled":false,"display_name":null,"email":null,"email_verified":false,"preferences":{"default_model":null,"system_prompt":null,"theme":null}}'
	[[ $(jq -c '.user | del(.id, .created_at, .updated_at)' <<<"$body") == "$expected" ]] || false
	[[ $(jq -r '.user | keys | join(",")' <<<"$body") == created_at,disabled,display_name,email,email_verified,id,preferences,role,updated_at,username ]] || false
	[[ $user_id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || false
	[[ $(jb .user.created_at) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] || false
	[[ $(jb .user.created_at) == "$(jb .user.updated_at)" ]] || false
}

@test "later accounts are users" {
	need_user root
	register_user alice
	[[ $(jb .user.role) == user ]] || false
	register_user Bob.the-2nd_
	[[ $(jb .user.role) == user && $(jb .user.username) == Bob.the-2nd_ ]] || false
	run -0 db_query userd "SELECT role, COUNT(*) FROM users GROUP BY role ORDER BY role"
	[[ $output == $'admin|1\nuser|2' ]] || false
}

@test "the password is stored as an argon2id hash only" {
	need_user alice
	run -0 db_query userd "SELECT password_hash FROM users WHERE username = 'alice'"
	[[ $output == '$argon2id$'* ]] || false
	run -0 db_query userd "SELECT COUNT(*) FROM users WHERE password_hash LIKE '%password-alice%'"
	[[ $output == 0 ]] || false
}

@test "a username is taken whatever its case" {
	need_user alice
	expect_refused '{"username":"ALICE","password":"password-x"}' 409 username_taken
	expect_refused '{"username":"alice","password":"password-x"}' 409 username_taken
	[[ $(jb .error.message) == "username 'alice' is taken" ]] || false
}

@test "usernames must be 3 to 64 of A-Z a-z 0-9 . _ -" {
	local name
	for name in '' ab "$(printf 'a%.0s' {1..65})" 'with space' 'semi;colon' \
		'slash/' 'ünïcode' 'tab	x' 'quote"x' 'at@x'; do
		expect_refused "$(jq -nc --arg u "$name" '{username: $u, password: "password-x"}')" \
			400 invalid_username
	done
	for name in abc "$(printf 'b%.0s' {1..64})" A_b-c.9 ...; do
		register_user "$name"
	done
}

@test "passwords must be 8 to 1024 bytes of UTF-8" {
	local long
	expect_refused '{"username":"pw1","password":"1234567"}' 400 invalid_password
	expect_refused '{"username":"pw1","password":""}' 400 invalid_password
	long=$(head -c 1025 /dev/zero | tr '\0' x)
	expect_refused "{\"username\":\"pw1\",\"password\":\"$long\"}" 400 invalid_password
	register_user pw1 "${long:0:1024}"
	login_user pw1 "${long:0:1024}"
	register_user pw2 12345678
	# 8 bytes made of 4 two-byte characters
	register_user pw3 'ääää'
	login_user pw3 'ääää'
	register_user pw4 'pässwörd 🔑'
	login_user pw4 'pässwörd 🔑'
}

@test "malformed JSON is refused with invalid_json" {
	local b
	for b in '{"username":' '[]' '"text"' '42' 'null' \
		'{"username":"x1y","password":"password-x"' \
		"{'username':'x1y'}" '{"username":"x1y","password":"abcdefgh\ud800"}'; do
		expect_refused "$b" 400 invalid_json
	done
}

@test "an empty body is refused with invalid_json" {
	local before
	before=$(stored_users)
	api_args=(-H 'Content-Type: application/json')
	api POST /v1/auth/register
	expect_error 400 invalid_json
	[[ $(stored_users) == "$before" ]] || false
}

@test "wrong types and missing fields are refused with invalid_field" {
	local b
	for b in '{"username":5,"password":"password-x"}' \
		'{"username":"typ1","password":12345678}' \
		'{"username":null,"password":"password-x"}' \
		'{"username":"typ1","password":true}' \
		'{"username":["typ1"],"password":"password-x"}' \
		'{"username":"typ1","password":{"a":1}}' \
		'{"password":"password-x"}' '{"username":"typ1"}' '{}'; do
		expect_refused "$b" 400 invalid_field
	done
	expect_refused '{"username":5,"password":"password-x"}' 400 invalid_field
	[[ $(jb .error.message) == "'username' must be a string" ]] || false
	expect_refused '{"username":"typ1"}' 400 invalid_field
	[[ $(jb .error.message) == "'password' is required" ]] || false
}

@test "broken UTF-8 is refused with invalid_json" {
	local f=$BATS_TEST_TMPDIR/bad.json before
	before=$(stored_users)
	printf '{"username":"utf","password":"abcdefgh\xc3\x28"}' >"$f"
	register_raw "@$f"
	expect_error 400 invalid_json
	printf '{"username":"utf\xff","password":"abcdefghij"}' >"$f"
	register_raw "@$f"
	expect_error 400 invalid_json
	# an overlong encoding of '/'
	printf '{"username":"utf","password":"abcdefgh\xc0\xaf"}' >"$f"
	register_raw "@$f"
	expect_error 400 invalid_json
	[[ $(stored_users) == "$before" ]] || false
}

@test "a NUL escape is refused rather than cutting the password short" {
	expect_refused '{"username":"nul1","password":"abcdefgh\u0000tail"}' 400 invalid_json
	expect_refused '{"username":"nul1\u0000x","password":"abcdefghij"}' 400 invalid_json
	# an escaped backslash followed by u0000 is plain text
	register_user nul2 'abcdefgh\u0000'
	login_user nul2 'abcdefgh\u0000'
}

@test "a key twice in one object is refused with invalid_json and stores nothing" {
	expect_refused '{"username":"dup1","password":"password-1","username":"dup2"}' 400 invalid_json
	[[ $(jb .error.message) == "duplicate key 'username'" ]] || false
	expect_refused '{"username":"dup1","password":"password-1","password":"password-2"}' 400 invalid_json
	[[ $(jb .error.message) == "duplicate key 'password'" ]] || false
	expect_refused '{"username":"dup1","password":"password-1","role":"admin","role":"user"}' 400 invalid_json
	[[ $(jb .error.message) == "duplicate key 'role'" ]] || false
	# the same spelling through an escape is the same key
	expect_refused '{"username":"dup1","password":"password-1","\u0075sername":"dup2"}' 400 invalid_json
	[[ $(jb .error.message) == "duplicate key 'username'" ]] || false
}

@test "a 2 MiB body is refused with 413" {
	local f before
	before=$(stored_users)
	f=$(big_json_file $((2 * 1024 * 1024)))
	register_raw "@$f"
	expect_error 413 payload_too_large
	[[ $(stored_users) == "$before" ]] || false
}

@test "the accounts still log in after all the refused requests" {
	need_user root
	need_user alice
	login_user root
	login_user alice
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	[[ $(jb .username) == alice ]] || false
}

@test "racing registrations on an empty store make exactly one admin" {
	local i pids=()
	# a second stack with an empty store
	stop_stack
	rm -rf "$CHAT_DATA_DIR"
	start_stack
	for i in 1 2 3 4 5 6 7 8; do
		curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
			--data "{\"username\":\"race$i\",\"password\":\"password-$i\"}" \
			"$(base_url)/v1/auth/register" &
		pids+=($!)
	done
	# by pid: a bare wait also waits for bats' own timeout sleeper
	wait "${pids[@]}"
	run -0 db_query userd "SELECT role, COUNT(*) FROM users GROUP BY role ORDER BY role"
	[[ $output == $'admin|1\nuser|7' ]] || false
}
