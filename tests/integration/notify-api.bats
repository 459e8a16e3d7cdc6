#!/usr/bin/env bats
# notifyd's API (issue 15): the list (newest first, with the unread
# count and the `before` cursor), marking read one by one or all,
# preferences per category (security cannot be switched off), the
# admin's broadcast (one row, seen once by every account that existed
# when it was sent), another user's notifications invisible, and every
# malformed input answered 400 with the error envelope.

# root (the first account: the admin), alice and bob; alice gets three
# API-key notifications to list.
setup_file() {
	load test_helper
	load notify-common
	start_stack
	new_user root
	echo "root_token=$access_token" >"$BATS_FILE_TMPDIR/vars"
	new_user alice
	echo "alice_token=$access_token" >>"$BATS_FILE_TMPDIR/vars"
	echo "alice_id=$user_id" >>"$BATS_FILE_TMPDIR/vars"
	new_user bob
	echo "bob_token=$access_token" >>"$BATS_FILE_TMPDIR/vars"
	for k in one two three; do
		api POST /v1/apikeys "{\"name\":\"$k\"}" "$(grep '^alice_token=' "$BATS_FILE_TMPDIR/vars" | cut -d= -f2-)"
		expect_status 201 || return 1
	done
	notify_caught_up
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load notify-common
	source "$BATS_FILE_TMPDIR/vars"
}

@test "the list: newest first, unread counted, pages by 'before'" {
	notes "$alice_token"
	[[ $(jq -c '[.data[] | select(.kind == "apikey_created") | .data.name]' <<<"$body") == '["three","two","one"]' ]] || false
	[[ $(jq -c '.data[0] | keys' <<<"$body") == '["body","category","created_at","data","id","kind","read","read_at","title"]' ]] || false
	api GET "/v1/notifications?limit=2" "" "$alice_token"
	expect_status 200
	[[ $(jq '.data | length' <<<"$body") == 2 && $(jb .next_before) != null ]] || false
	api GET "/v1/notifications?limit=2&before=$(jb .next_before)" "" "$alice_token"
	[[ $(jq -c '[.data[].data.name]' <<<"$body") == '["one"]' && $(jb .next_before) == null ]] || false
}

@test "another user's notifications are invisible and 404" {
	local id
	notes "$alice_token"
	id=$(jq -r '.data[0].id' <<<"$body")
	notes "$bob_token"
	[[ $(jq --arg id "$id" '[.data[] | select(.id == $id)] | length' <<<"$body") == 0 ]] || false
	api POST "/v1/notifications/$id/read" '' "$bob_token"
	expect_error 404 not_found
	notes "$alice_token"
	[[ $(jq --arg id "$id" '.data[] | select(.id == $id) | .read' <<<"$body") == false ]] || false
	api POST /v1/notifications/01938f4e-6a2b-7c1d-9e3f-0a1b2c3d4e5f/read '' "$alice_token"
	expect_error 404 not_found
	api POST /v1/notifications/nope/read '' "$alice_token"
	expect_error 404 not_found
}

@test "read one, read again, read all: the unread count follows" {
	local id before
	new_user cat
	for k in a b c; do
		api POST /v1/apikeys "{\"name\":\"$k\"}" "$access_token"
		expect_status 201
	done
	notify_caught_up
	notes "$access_token"
	[[ $(jb .unread) == 3 ]] || false
	id=$(jq -r '.data[1].id' <<<"$body")
	api POST "/v1/notifications/$id/read" '' "$access_token"
	expect_status 204
	api POST "/v1/notifications/$id/read" '' "$access_token"
	expect_status 204
	notes "$access_token"
	[[ $(jb .unread) == 2 ]] || false
	jq -e --arg id "$id" '.data[] | select(.id == $id) | .read and (.read_at | test("Z$"))' <<<"$body" >/dev/null
	notes "$access_token" unread=true
	[[ $(jq '.data | length' <<<"$body") == 2 ]] || false
	[[ $(jq --arg id "$id" '[.data[] | select(.id == $id)] | length' <<<"$body") == 0 ]] || false
	api POST /v1/notifications/read-all '' "$access_token"
	expect_status 204
	notes "$access_token"
	[[ $(jb .unread) == 0 && $(jq '[.data[] | select(.read)] | length' <<<"$body") == 3 ]] || false
}

@test "a broadcast: seen once by every account of its time, not by later ones" {
	local bid
	api POST /v1/admin/broadcast '{"text":"maintenance at noon"}' "$alice_token"
	expect_error 403 forbidden
	api POST /v1/admin/broadcast '{"text":"maintenance at noon"}' "$root_token"
	expect_status 201
	bid=$(jb .id)
	for t in "$alice_token" "$bob_token" "$root_token"; do
		notes "$t"
		[[ $(jq --arg b "$bid" '[.data[] | select(.id == $b and .category == "broadcast" and .body == "maintenance at noon")] | length' <<<"$body") == 1 ]] || false
	done
	notes "$bob_token"
	[[ $(jb .unread) == 1 ]] || false
	# listed again: still one
	notes "$bob_token"
	[[ $(jb .unread) == 1 ]] || false
	api POST "/v1/notifications/$bid/read" '' "$bob_token"
	expect_status 204
	notes "$bob_token"
	[[ $(jb .unread) == 0 ]] || false
	# bob's read is bob's
	notes "$alice_token"
	jq -e --arg b "$bid" '.data[] | select(.id == $b) | .read == false' <<<"$body" >/dev/null
	# an account made after it never sees it
	new_user dan
	notes "$access_token"
	[[ $(jq '.data | length' <<<"$body") == 0 && $(jb .unread) == 0 ]] || false
	api POST "/v1/notifications/$bid/read" '' "$access_token"
	expect_error 404 not_found
	# one row for everyone
	[[ $(db_query notifyd "SELECT COUNT(*) FROM broadcasts") == 1 ]] || false
	[[ $(db_query notifyd "SELECT COUNT(*) FROM notifications WHERE kind = 'broadcast'") == 0 ]] || false
}

@test "preferences: defaults, a change, and security cannot be switched off" {
	new_user eva
	api GET /v1/notifications/preferences "" "$access_token"
	expect_status 200
	[[ $(jq -c '.preferences | keys_unsorted' <<<"$body") == '["security","account","broadcast","generation"]' ]] || false
	jq -e '.preferences.security == {in_app: true, email: true, webhook: false, locked: true}
		and .preferences.account.in_app' <<<"$body" >/dev/null
	api PUT /v1/notifications/preferences '{"security":{"in_app":false}}' "$access_token"
	expect_error 400 invalid_field
	api PUT /v1/notifications/preferences '{"account":{"in_app":false,"email":true}}' "$access_token"
	expect_status 200
	jq -e '.preferences.account == {in_app: false, email: true, webhook: false, locked: false}
		and .preferences.security.in_app' <<<"$body" >/dev/null
	api GET /v1/notifications/preferences "" "$access_token"
	jq -e '.preferences.account.in_app == false' <<<"$body" >/dev/null
	# an account notification switched off in the app makes none
	api POST /v1/apikeys '{"name":"quiet"}' "$access_token"
	expect_status 201
	kinds "$access_token" apikey_created 0
	# the security ones still come
	api POST /v1/users/me/password "$(jq -nc \
		'{current_password: "password-eva", new_password: "password-eva-2"}')" "$access_token"
	expect_status 204
	kinds "$access_token" password_changed 1
}

@test "a broadcast switched off is not listed nor counted" {
	new_user fio
	api POST /v1/admin/broadcast '{"text":"hello all"}' "$root_token"
	expect_status 201
	notes "$access_token"
	[[ $(jb .unread) == 1 ]] || false
	api PUT /v1/notifications/preferences '{"broadcast":{"in_app":false}}' "$access_token"
	expect_status 200
	notes "$access_token"
	[[ $(jb .unread) == 0 && $(jq '.data | length' <<<"$body") == 0 ]] || false
}

@test "malformed inputs: 400 with the error envelope" {
	local q
	for q in limit=0 limit=101 limit=abc limit=-1 before=xyz unread=maybe; do
		api GET "/v1/notifications?$q" "" "$alice_token"
		expect_error 400 invalid_field
	done
	api PUT /v1/notifications/preferences '{"weather":{"in_app":true}}' "$alice_token"
	expect_error 400 invalid_field
	api PUT /v1/notifications/preferences '{"account":{"pager":true}}' "$alice_token"
	expect_error 400 invalid_field
	api PUT /v1/notifications/preferences '{"account":{"in_app":"yes"}}' "$alice_token"
	expect_error 400 invalid_field
	api PUT /v1/notifications/preferences '{"account":true}' "$alice_token"
	expect_error 400 invalid_field
	api PUT /v1/notifications/preferences '[1]' "$alice_token"
	expect_error 400 invalid_json
	api PUT /v1/notifications/preferences '{"account":' "$alice_token"
	expect_error 400 invalid_json
	for b in '{}' '{"text":""}' '{"text":"   "}' '{"text":7}' '{"text":"hi","to":"all"}'; do
		api POST /v1/admin/broadcast "$b" "$root_token"
		expect_error 400 invalid_field
	done
	api POST /v1/admin/broadcast "$(jq -nc --arg t "$(head -c 2001 /dev/zero | tr '\0' a)" '{text: $t}')" "$root_token"
	expect_error 400 invalid_field
	api POST /v1/admin/broadcast '{"text":' "$root_token"
	expect_error 400 invalid_json
	# nothing was stored by any of them
	api GET /v1/notifications/preferences "" "$alice_token"
	jq -e '.preferences.account.in_app' <<<"$body" >/dev/null
	[[ $(db_query notifyd "SELECT COUNT(*) FROM broadcasts WHERE message LIKE 'a%' OR message = 'hi'") == 0 ]] || false
}

@test "without a token: 401" {
	api GET /v1/notifications
	expect_error 401 unauthorized
	api POST /v1/notifications/read-all ''
	expect_error 401 unauthorized
}
