#!/usr/bin/env bats
# sessiond's events (issue 13): chat.session.created, .refreshed,
# .revoked (with the reason) and .reuse_detected, each produced through
# the public API and read back through sessiond's GET /internal/events:
# once, as a CloudEvent of /chat/sessiond for the session's user, and
# never with a token or password in it.  Refused requests write none.

# root (the first account: the admin), alice and bob, registered once
# here so that each test can also run alone (bats -f).  The grace window
# is off: a second use of a refresh token is reuse at once.
setup_file() {
	load test_helper
	load events-pull
	start_stack "[sessiond]" "refresh_grace_s = 0"
	events_hold sessiond || return 1
	register_user root
	register_user alice
	echo "alice_id=$user_id" >"$BATS_FILE_TMPDIR/vars"
	register_user bob
	echo "bob_id=$user_id" >>"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load events-pull
	source "$BATS_FILE_TMPDIR/vars"
}

refresh() {
	api POST /v1/auth/refresh "$(jq -nc --arg t "$1" '{refresh_token: $t}')"
}

# session_event TYPE SESSION [REASON]: exactly one such event of the
# session (with that reason), of alice, in the form events.h gives.
session_event() {
	local cond=".data.session_id == \"$2\""
	[[ -n ${3-} ]] && cond+=" and .data.reason == \"$3\""
	events_once sessiond "$1" "$cond" || return 1
	event_schema sessiond "$1" "${user:-$alice_id}" || return 1
	[[ $(jq -r .subject <<<"$event") == "sessions/$2" ]] || {
		echo "subject: $event" >&2
		return 1
	}
}

@test "a login writes chat.session.created once, without the tokens" {
	api_args=(-H 'User-Agent: events-test/1.0')
	login_user alice
	session_event chat.session.created "$session_id"
	[[ $(jq -r '.data.expires_at | test("Z$")' <<<"$event") == true ]] || false
	# the device it came from, for notifyd's new-device alert
	[[ $(jq -r '"\(.data.user_agent) \(.data.ip)"' <<<"$event") == "events-test/1.0 127.0.0.1" ]] || false
	event_lacks "$refresh_token" "$access_token" password-alice
}

@test "a refresh writes chat.session.refreshed once, without the tokens" {
	local next
	login_user alice
	refresh "$refresh_token"
	expect_status 200
	next=$(jb .refresh_token)
	session_event chat.session.refreshed "$session_id"
	event_lacks "$refresh_token" "$next" "$(jb .access_token)"
	# the login's event is not counted twice
	session_event chat.session.created "$session_id"
}

@test "a logout writes chat.session.revoked with reason logout" {
	login_user alice
	api POST /v1/auth/logout '' "$access_token"
	expect_status 204
	session_event chat.session.revoked "$session_id" logout
	event_lacks "$refresh_token" "$access_token"
}

@test "deleting one's session writes chat.session.revoked with reason deleted" {
	local victim
	login_user alice
	victim=$session_id
	login_user alice
	api DELETE "/v1/sessions/$victim" '' "$access_token"
	expect_status 204
	session_event chat.session.revoked "$victim" deleted
}

@test "an admin's revoke writes chat.session.revoked with reason admin" {
	local victim root
	login_user alice
	victim=$session_id
	login_user root
	root=$access_token
	api DELETE "/v1/admin/sessions/$victim" '' "$root"
	expect_status 204
	session_event chat.session.revoked "$victim" admin
}

@test "a password change revokes the other sessions with reason password_changed" {
	local other
	register_user carol
	login_user carol
	other=$session_id
	login_user carol
	api POST /v1/users/me/password \
		'{"current_password":"password-carol","new_password":"password-carol-2"}' \
		"$access_token"
	expect_status 204
	user=$user_id session_event chat.session.revoked "$other" password_changed
	event_lacks password-carol
	# the caller's own session lives on: no event of it
	events_of sessiond chat.session.revoked ".data.session_id == \"$session_id\""
	[[ -z $output ]] || false
}

@test "disabling a user revokes its sessions with reason user_disabled" {
	local root a b
	register_user dave
	login_user dave
	a=$session_id
	login_user dave
	b=$session_id
	login_user root
	root=$access_token
	api PATCH "/v1/admin/users/$user_id" '{"disabled":true}' "$root"
	expect_status 200
	user=$user_id session_event chat.session.revoked "$a" user_disabled
	user=$user_id session_event chat.session.revoked "$b" user_disabled
}

@test "a role change and an admin's password reset revoke with their reasons" {
	local root a b
	register_user erin
	login_user erin
	a=$session_id
	login_user root
	root=$access_token
	api PATCH "/v1/admin/users/$user_id" '{"role":"guest"}' "$root"
	expect_status 200
	user=$user_id session_event chat.session.revoked "$a" role_changed
	login_user erin
	b=$session_id
	api PUT "/v1/admin/users/$user_id/password" '{"password":"password-erin-2"}' "$root"
	expect_status 204
	user=$user_id session_event chat.session.revoked "$b" password_changed
	event_lacks password-erin-2
}

@test "a refresh of a disabled user's session revokes it with reason user_disabled" {
	local root tok sid uid
	register_user fred
	uid=$user_id
	login_user fred
	tok=$refresh_token
	sid=$session_id
	# disabled straight in the store: no revoke from the admin route
	db_query userd "UPDATE users SET disabled = 1 WHERE id = '$uid'"
	refresh "$tok"
	expect_error 401 account_disabled
	user=$uid session_event chat.session.revoked "$sid" user_disabled
}

@test "refresh-token reuse writes chat.session.reuse_detected and revoked (reuse), once" {
	local first
	login_user bob
	first=$refresh_token
	refresh "$first"
	expect_status 200
	refresh "$first"
	expect_error 401 refresh_token_reused
	user=$bob_id session_event chat.session.reuse_detected "$session_id"
	user=$bob_id session_event chat.session.revoked "$session_id" reuse
	event_lacks "$first"
	# a third use: reuse again, but the session was revoked already
	refresh "$first"
	expect_error 401 refresh_token_reused
	events_of sessiond chat.session.reuse_detected ".data.session_id == \"$session_id\""
	[[ $(grep -c . <<<"$output") == 2 ]] || false
	user=$bob_id session_event chat.session.revoked "$session_id" reuse
}

@test "refused requests write no event" {
	local before after key url
	key=$(<"$CHAT_DATA_DIR/internal.key")
	url=http://127.0.0.1:$(events_port sessiond)
	login_user alice
	before=$(events_count sessiond)
	# bad JSON and a bad user id to sessiond itself
	run -0 curl -s -o /dev/null -w '%{http_code}' -H "X-Chat-Internal: $key" \
		--data-binary '{"user_id":' "$url/internal/sessions"
	[[ $output == 400 ]] || false
	run -0 curl -s -o /dev/null -w '%{http_code}' -H "X-Chat-Internal: $key" \
		--data-binary '{"user_id":"nope"}' "$url/internal/sessions"
	[[ $output == 400 ]] || false
	# a bad reason, an unknown session
	run -0 curl -s -o /dev/null -w '%{http_code}' -H "X-Chat-Internal: $key" \
		-X POST "$url/internal/sessions/$session_id/revoke?reason=whim"
	[[ $output == 400 ]] || false
	api DELETE /v1/sessions/0190b7a0-0000-7000-8000-000000000000 '' "$access_token"
	expect_error 404 not_found
	# a wrong password, an unknown refresh token
	api POST /v1/auth/login '{"username":"alice","password":"wrong-password"}'
	expect_error 401 invalid_credentials
	refresh not-a-token
	expect_error 401 invalid_refresh_token
	# then one that succeeds: once its event is there, nothing else came
	login_user alice
	session_event chat.session.created "$session_id"
	after=$(events_count sessiond)
	[[ $after == $((before + 1)) ]] || false
}
