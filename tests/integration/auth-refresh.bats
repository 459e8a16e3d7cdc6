#!/usr/bin/env bats
# POST /v1/auth/refresh and /v1/auth/logout through the gateway: rotation,
# a reused refresh token revoking its whole family, role changes picked up,
# disabled accounts, logout, bad bodies, and sessiond being down.

# The accounts, registered once here so that each test can also run
# alone (bats -f): root (the admin) and alice.
setup_file() {
	load test_helper
	# a short grace window, so that a reuse after it can be waited for
	start_stack "[sessiond]" "refresh_grace_s = 1"
	register_user root
	register_user alice
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# Every session and refresh token, for before/after comparisons.
stored_sessions() {
	db_query sessiond "SELECT id, user_id, expires_at, revoked_at FROM sessions ORDER BY id"
	db_query sessiond "SELECT token_hash, session_id, used_at FROM refresh_tokens ORDER BY token_hash"
}

# refresh TOKEN
refresh() {
	api POST /v1/auth/refresh "$(jq -nc --arg t "$1" '{refresh_token: $t}')"
}

@test "refresh rotates the refresh token within the session" {
	local first sid
	login_user alice
	first=$refresh_token
	sid=$session_id
	refresh "$first"
	expect_status 200
	[[ $(jq -r 'keys | join(",")' <<<"$body") == access_token,expires_in,refresh_token,token_type,user ]] || false
	[[ $(jb .refresh_token) != "$first" && $(jb .refresh_token) =~ ^[A-Za-z0-9_-]{43}$ ]] || false
	[[ $(jwt_claim "$(jb .access_token)" sid) == "$sid" ]] || false
	[[ $(jb .user.username) == alice && $(jb .token_type) == Bearer ]] || false
	api GET /v1/users/me "" "$(jb .access_token)"
	expect_status 200
	[[ $(jb .username) == alice ]] || false
}

@test "a chain of refreshes keeps working" {
	local i
	login_user alice
	for i in 1 2 3 4; do
		refresh "$refresh_token"
		expect_status 200
		refresh_token=$(jb .refresh_token)
	done
}

@test "a refresh token reused after the grace window revokes its whole family" {
	local first second other
	login_user alice
	other=$refresh_token			# another session of alice
	login_user alice
	first=$refresh_token
	refresh "$first"
	expect_status 200
	second=$(jb .refresh_token)
	sleep 1.5				# past sessiond.refresh_grace_s
	refresh "$first"
	expect_error 401 refresh_token_reused
	# the token the rotation gave is dead too
	refresh "$second"
	expect_error 401 invalid_refresh_token
	run -0 db_query sessiond "SELECT revoke_reason FROM sessions WHERE id = '$session_id'"
	[[ $output == reuse ]] || false
	# alice's other session lives on
	refresh "$other"
	expect_status 200
}

@test "unknown and malformed refresh tokens are refused and change nothing" {
	local before t
	login_user alice
	before=$(stored_sessions)
	for t in '' x 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "${refresh_token}x" \
		"$(head -c 400 /dev/zero | tr '\0' A)"; do
		refresh "$t"
		expect_error 401 invalid_refresh_token
	done
	for t in '{"refresh_token":5}' '{"refresh_token":null}' '{}' '{"token":"x"}'; do
		api POST /v1/auth/refresh "$t"
		expect_error 400 invalid_field
	done
	for t in '{"refresh_token":' '[]' 'refresh'; do
		api POST /v1/auth/refresh "$t"
		expect_error 400 invalid_json
	done
	api POST /v1/auth/refresh "@$(big_json_file $((2 * 1024 * 1024)))"
	expect_error 413 payload_too_large
	[[ $(stored_sessions) == "$before" ]] || false
	refresh "$refresh_token"
	expect_status 200
}

@test "a role change ends the user's sessions; the next login carries the new role" {
	local root_token alice_id
	login_user root
	root_token=$access_token
	login_user alice
	alice_id=$(jwt_claim "$access_token" sub)
	[[ $(jwt_claim "$access_token" role) == user ]] || false
	api PATCH "/v1/admin/users/$alice_id" '{"role":"guest"}' "$root_token"
	expect_status 200
	# issue 10: the sessions of a user whose role changed are revoked
	refresh "$refresh_token"
	expect_error 401 invalid_refresh_token
	login_user alice
	[[ $(jwt_claim "$access_token" role) == guest ]] || false
	refresh "$refresh_token"
	expect_status 200
	[[ $(jwt_claim "$(jb .access_token)" role) == guest && $(jb .user.role) == guest ]] || false
	api PATCH "/v1/admin/users/$alice_id" '{"role":"user"}' "$root_token"
	expect_status 200
}

@test "disabling an account kills its refresh tokens at once" {
	local root_token
	register_user bob
	login_user root
	root_token=$access_token
	login_user bob
	api PATCH "/v1/admin/users/$user_id" '{"disabled":true}' "$root_token"
	expect_status 200
	refresh "$refresh_token"
	expect_error 401 invalid_refresh_token
	run -0 db_query sessiond "SELECT COUNT(*) FROM sessions WHERE user_id = '$user_id' AND revoked_at IS NULL"
	[[ $output == 0 ]] || false
	api PATCH "/v1/admin/users/$user_id" '{"disabled":false}' "$root_token"
	expect_status 200
}

@test "a refresh for a disabled account revokes that session" {
	register_user carol
	login_user carol
	# disabled behind sessiond's back: userd itself must refuse
	db_query userd "UPDATE users SET disabled = 1 WHERE id = '$user_id'"
	refresh "$refresh_token"
	expect_error 401 account_disabled
	run -0 db_query sessiond "SELECT COUNT(*) FROM sessions WHERE id = '$session_id' AND revoked_at IS NOT NULL"
	[[ $output == 1 ]] || false
	db_query userd "UPDATE users SET disabled = 0 WHERE id = '$user_id'"
	refresh "$refresh_token"
	expect_status 401
}

@test "logout revokes the current session only" {
	local other_token other_refresh
	login_user alice
	other_token=$access_token
	other_refresh=$refresh_token
	login_user alice
	api POST /v1/auth/logout "" "$access_token"
	expect_status 204
	[[ -z $body ]] || false
	refresh "$refresh_token"
	expect_error 401 invalid_refresh_token
	run -0 db_query sessiond "SELECT COUNT(*) FROM sessions WHERE id = '$session_id' AND revoked_at IS NOT NULL"
	[[ $output == 1 ]] || false
	refresh "$other_refresh"
	expect_status 200
	# the access token died with its session, at once
	api POST /v1/auth/logout "" "$access_token"
	expect_error 401 session_revoked
	api GET /v1/users/me "" "$other_token"
	expect_status 200
}

@test "logout needs a caller" {
	local before
	before=$(stored_sessions)
	api POST /v1/auth/logout
	expect_error 401 unauthorized
	[[ $(stored_sessions) == "$before" ]] || false
}

@test "logout with an API key answers 204 and keeps the key" {
	local key before
	login_user alice
	api POST /v1/apikeys '{"name":"logout"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	before=$(stored_sessions)
	api POST /v1/auth/logout "" "$key"
	expect_status 204
	[[ $(stored_sessions) == "$before" ]] || false
	api GET /v1/users/me "" "$key"
	expect_status 200
}

@test "refresh and logout answer 503 while sessiond is down and recover" {
	login_user alice
	stop_daemon sessiond
	refresh "$refresh_token"
	expect_error 503 upstream_unavailable
	# refused by the gateway (no revocation feed) or by userd (no
	# sessiond): either way nothing ran
	api POST /v1/auth/logout "" "$access_token"
	expect_status 503
	[[ $(jb .error.code) == auth_unavailable ||
		$(jb .error.code) == upstream_unavailable ]] || false
	start_daemon sessiond
	# the token was never spent
	refresh "$refresh_token"
	expect_status 200
}
