#!/usr/bin/env bats
# Device sessions through the gateway: GET /v1/sessions (the caller's live
# sessions, the current one marked, cursor pages) and
# DELETE /v1/sessions/{id} (own only; a deleted session's refresh token
# stops working).

# alice and carol, registered once here so that each test can also run
# alone (bats -f); registering makes no session, so their lists start
# empty all the same
setup_file() {
	load test_helper
	start_stack
	register_user alice
	register_user carol
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'

# login_as NAME AGENT: logs NAME in with a User-Agent; sets the tokens.
login_as() {
	api_args=(-A "$2")
	login_user "$1"
}

# The stored sessions table, for "nothing changed" checks.
sessions_rows() {
	db_query sessiond 'SELECT id, user_id, revoked_at, expires_at FROM sessions ORDER BY id'
}

@test "the list shows the caller's sessions, newest first, the current one marked" {
	login_as alice "agent-one/1.0"
	local first=$session_id
	login_as alice "agent-two/2.0"
	local second=$session_id token=$access_token

	api GET /v1/sessions "" "$token"
	expect_status 200
	[[ $(jb '.data | length') == 2 ]] || false
	[[ $(jb '.next_cursor') == null ]] || false
	[[ $(jb '.data[0].id') == "$second" ]] || false
	[[ $(jb '.data[0].current') == true ]] || false
	[[ $(jb '.data[0].user_agent') == agent-two/2.0 ]] || false
	[[ $(jb '.data[1].id') == "$first" ]] || false
	[[ $(jb '.data[1].current') == false ]] || false
	[[ $(jb '.data[1].user_agent') == agent-one/1.0 ]] || false
	[[ $(jb '.data[0].ip') == 127.0.0.1 ]] || false
	for f in created_at last_used_at expires_at; do
		[[ $(jb ".data[0].$f") =~ $rfc3339 ]] || false
	done
	# no other keys leak out (user_id, revoke data, token hashes)
	[[ $(jb '.data[0] | keys | join(",")') == created_at,current,expires_at,id,ip,last_used_at,user_agent ]] || false
}

@test "another user sees only their own sessions" {
	new_user bob
	api GET /v1/sessions "" "$access_token"
	expect_status 200
	[[ $(jb '.data | length') == 1 ]] || false
	[[ $(jb '.data[0].id') == "$session_id" ]] || false
	[[ $(jb '.data[0].current') == true ]] || false
}

@test "pages follow next_cursor without gaps or repeats" {
	local i all=() seen=() cursor token
	for i in 1 2 3 4 5; do
		login_user carol
		all=("$session_id" "${all[@]}")
	done
	token=$access_token
	api GET '/v1/sessions?limit=2' "" "$token"
	expect_status 200
	[[ $(jb '.data | length') == 2 ]] || false
	while :; do
		seen+=($(jb '.data[].id'))
		cursor=$(jb .next_cursor)
		[[ $cursor != null ]] || break
		api GET "/v1/sessions?limit=2&cursor=$cursor" "" "$token"
		expect_status 200
	done
	[[ "${seen[*]}" == "${all[*]}" ]] || false
}

@test "bad limit or cursor gives 400 invalid_field" {
	login_user carol
	local q
	for q in 'limit=0' 'limit=101' 'limit=-1' 'limit=abc' 'limit=1x' 'limit=' \
		'cursor=nope' "cursor=01900000-0000-7000-8000-00000000000" "cursor=%27%20OR%201=1--"; do
		api GET "/v1/sessions?$q" "" "$access_token"
		expect_error 400 invalid_field
	done
	api GET '/v1/sessions?limit=100' "" "$access_token"
	expect_status 200
}

@test "limit and cursor are read as every list route reads them (page.c)" {
	new_user paula
	local q
	for q in limit=%2B5 limit=%205 limit=1.5 limit=99999999999999999999; do
		api GET "/v1/sessions?$q" "" "$access_token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'limit' must be an integer from 1 to 100" ]] || false
	done
	# cursors are opaque (base64url), as chatd's and userd's are: a
	# bare session id is not one this server gives
	for q in nope "$session_id"; do
		api GET "/v1/sessions?cursor=$q" "" "$access_token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'cursor' is not a cursor this server gave" ]] || false
	done
	# an empty cursor is the first page
	api GET '/v1/sessions?cursor=' "" "$access_token"
	expect_status 200
	[[ $(jq '.data | length' <<<"$body") -ge 1 ]] || false
}

@test "without a token the sessions routes give 401" {
	api GET /v1/sessions
	expect_error 401 unauthorized
	api DELETE /v1/sessions/01900000-0000-7000-8000-000000000001
	expect_error 401 unauthorized
	api GET /v1/sessions "" "not-a-token"
	expect_error 401 invalid_token
}

@test "deleting an own session revokes it and its refresh token" {
	register_user dave
	login_user dave
	local old_sid=$session_id old_refresh=$refresh_token
	login_user dave

	api DELETE "/v1/sessions/$old_sid" "" "$access_token"
	expect_status 204
	[[ -z $body ]] || false

	api GET /v1/sessions "" "$access_token"
	[[ $(jb '.data | length') == 1 ]] || false
	[[ $(jb '.data[0].id') == "$session_id" ]] || false

	api POST /v1/auth/refresh "$(jq -nc --arg t "$old_refresh" '{refresh_token: $t}')"
	expect_error 401 invalid_refresh_token

	# a second delete of the same session: it is gone
	api DELETE "/v1/sessions/$old_sid" "" "$access_token"
	expect_error 404 not_found
	[[ $(db_query sessiond "SELECT revoke_reason FROM sessions WHERE id = '$old_sid'") == deleted ]] || false
}

@test "deleting another user's session gives 404 and changes nothing" {
	new_user erin
	local erin_sid=$session_id erin_refresh=$refresh_token
	login_user alice
	local before
	before=$(sessions_rows)

	api DELETE "/v1/sessions/$erin_sid" "" "$access_token"
	expect_error 404 not_found
	[[ $(sessions_rows) == "$before" ]] || false

	# erin's session still works
	api POST /v1/auth/refresh "$(jq -nc --arg t "$erin_refresh" '{refresh_token: $t}')"
	expect_status 200
}

@test "deleting an unknown or malformed id gives 404" {
	login_user alice
	local before id
	before=$(sessions_rows)
	for id in 01900000-0000-7000-8000-0000000000ff nope 01900000-0000-7000-8000-00000000000g \
		"01900000-0000-7000-8000-000000000001%27" "$(printf 'x%.0s' {1..300})"; do
		api DELETE "/v1/sessions/$id" "" "$access_token"
		expect_error 404 not_found
	done
	[[ $(sessions_rows) == "$before" ]] || false
}

@test "a session id in upper case is the same session" {
	register_user frank
	login_user frank
	local sid=$session_id
	login_user frank
	api DELETE "/v1/sessions/${sid^^}" "" "$access_token"
	expect_status 204
	api GET /v1/sessions "" "$access_token"
	[[ $(jb '.data | length') == 1 ]] || false
}

@test "X-Forwarded-For counts only from the gateway: a direct caller cannot choose its stored address" {
	register_user mallory
	# userd itself, on loopback, without the stack's internal secret
	run curl -s --max-time 10 -H 'Content-Type: application/json' \
		-H 'X-Forwarded-For: 10.9.9.9' \
		-d '{"username":"mallory","password":"password-mallory"}' \
		"http://127.0.0.1:$((CHAT_PORT + 1))/v1/auth/login"
	[ "$status" -eq 0 ]
	token=$(jq -r .access_token <<<"$output")
	[[ $token == ey* ]] || { echo "$output"; false; }
	api GET /v1/sessions "" "$token"
	expect_status 200
	[[ $(jb '.data[0].ip') == 127.0.0.1 ]] || { echo "$body"; false; }
}
