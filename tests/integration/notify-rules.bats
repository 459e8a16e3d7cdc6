#!/usr/bin/env bats
# notifyd's rules (issue 15): each event that concerns a user's security
# or account makes exactly one in-app notification, read back through
# the public API: a sign-in from a device the account never used, a
# refresh token used again, a password change, an API key made; an
# erased user's rows go.  And the exactly-once effect: notifyd killed
# with SIGKILL in a burst of events makes each event's notification once
# after its restart.

# root (the first account: the admin), then one user per test.  The
# refresh grace window is off: a second use of a token is reuse at once.
# A consumer that reads nothing holds notifyd's outbox rows (pruning
# waits for it), so that the erasure test sees them go.
setup_file() {
	load test_helper
	start_stack "[sessiond]" "refresh_grace_s = 0"
	curl -sf --max-time 10 -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 6))/internal/events?after=0&consumer=hold" >/dev/null
	register_user root
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load notify-common
}

@test "a sign-in from a new device: one alert, however often it signs in" {
	register_user ada
	login_as ada first-device/1.0
	# the account's first device is no surprise
	kinds "$access_token" new_device 0
	login_as ada second-device/2.0
	login_as ada second-device/2.0
	login_as ada first-device/1.0
	kinds "$access_token" new_device 1
	jq -e '.data[0] | .category == "security" and .read == false and
		.data.user_agent == "second-device/2.0" and
		.data.ip == "127.0.0.1" and (.data.session_id | length) == 36 and
		.title == "New sign-in"' <<<"$body" >/dev/null
	[[ $(jb .unread) == 1 ]] || false
}

@test "refresh-token reuse: a security alert per reuse" {
	local old
	new_user bea
	old=$refresh_token
	api POST /v1/auth/refresh "$(jq -nc --arg t "$old" '{refresh_token: $t}')"
	expect_status 200
	api POST /v1/auth/refresh "$(jq -nc --arg t "$old" '{refresh_token: $t}')"
	expect_error 401 refresh_token_reused
	login_user bea
	kinds "$access_token" token_reuse 1
	jq -e '[.data[] | select(.kind == "token_reuse")][0] |
		.category == "security" and .data.session_id != null' <<<"$body" >/dev/null
}

@test "a password change: one alert, and an admin's reset says so" {
	new_user cid
	api POST /v1/users/me/password "$(jq -nc \
		'{current_password: "password-cid", new_password: "password-cid-2"}')" "$access_token"
	expect_status 204
	kinds "$access_token" password_changed 1
	jq -e '.data[0] | .category == "security" and .data == {} and
		(.body | test("^Your password was changed"))' <<<"$body" >/dev/null
	local cid_id=$user_id
	login_user root
	api PUT "/v1/admin/users/$cid_id/password" '{"password":"password-cid"}' "$access_token"
	expect_status 204
	login_user cid
	kinds "$access_token" password_changed 2
	jq -e '.data[0] | (.body | test("administrator")) and .data.by != null' <<<"$body" >/dev/null
}

@test "an API key made: one account notification naming it" {
	new_user dot
	api POST /v1/apikeys '{"name":"ci-runner"}' "$access_token"
	expect_status 201
	local key_id
	key_id=$(jb .id)
	kinds "$access_token" apikey_created 1
	jq -e --arg k "$key_id" '.data[0] | .category == "account" and
		.data.name == "ci-runner" and .data.key_id == $k' <<<"$body" >/dev/null
}

@test "events of other kinds make no notification" {
	new_user eve
	api POST /v1/conversations '{}' "$access_token"
	api POST /v1/auth/logout '' "$access_token"
	login_user eve
	notify_caught_up
	notes "$access_token"
	[[ $(jq '.data | length' <<<"$body") == 0 && $(jb .unread) == 0 ]] || false
}

@test "an erased user leaves nothing in notifyd but the erasure" {
	new_user gus
	local gid=$user_id
	api PUT /v1/notifications/preferences '{"account":{"email":true}}' "$access_token"
	expect_status 200
	api POST /v1/apikeys '{"name":"x"}' "$access_token"
	expect_status 201
	login_as gus other-device/1.0
	kinds "$access_token" apikey_created 1
	[[ $(db_query notifyd "SELECT COUNT(*) FROM outbox WHERE user_id = '$gid'") -ge 2 ]] || false
	login_user root
	api DELETE /v1/admin/users/gus "" "$access_token"
	expect_status 204
	notify_caught_up
	run -0 db_query notifyd "SELECT (SELECT COUNT(*) FROM notifications WHERE user_id = '$gid')
		+ (SELECT COUNT(*) FROM devices WHERE user_id = '$gid')
		+ (SELECT COUNT(*) FROM preferences WHERE user_id = '$gid')
		+ (SELECT COUNT(*) FROM inbox WHERE user_id = '$gid')
		+ (SELECT COUNT(*) FROM outbox WHERE user_id = '$gid')"
	[[ $output == 0 ]] || { echo "rows left: $output" >&2; false; }
	[[ $(db_query notifyd "SELECT COUNT(*) FROM erased WHERE user_id = '$gid'") == 1 ]] || false
	# nor in chatd's inbox of notifyd's events
	[[ $(db_query chatd "SELECT COUNT(*) FROM inbox WHERE user_id = '$gid'") == 0 ]] || false
}

@test "kill -9 in a burst: each event's notification exactly once" {
	local pid n=90 i got=0 burst_pid
	new_user fay
	seq "$n" | xargs -P 4 -I{} curl -s -o /dev/null --max-time 20 \
		-H "Authorization: Bearer $access_token" -H 'Content-Type: application/json' \
		--data-binary '{"name":"burst-{}"}' "$(base_url)/v1/apikeys" 3>&- &
	burst_pid=$!
	# until notifyd has made some of the burst's notifications
	for ((i = 0; i < 200; i++)); do
		api GET "/v1/notifications?limit=1" "" "$access_token"
		got=$(jb .unread)
		((got > 0)) && break
		sleep 0.02
	done
	pid=$(daemon_pid notifyd)
	kill -9 "$pid"
	((got > 0 && got < n)) || { echo "made $got of $n" >&2; false; }
	while process_alive "$pid"; do sleep 0.05; done
	while process_alive "$burst_pid"; do sleep 0.1; done
	start_daemon notifyd
	notify_caught_up 60
	run -0 db_query userd "SELECT COUNT(*) FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.username = 'fay'"
	[[ $output == "$n" ]] || { echo "userd made $output keys" >&2; false; }
	# one notification per key, each key once
	run -0 db_query notifyd "SELECT COUNT(*), COUNT(DISTINCT data) FROM notifications
		WHERE user_id = '$user_id' AND kind = 'apikey_created'"
	[[ $output == "$n|$n" ]] || { echo "notifications: $output" >&2; false; }
	api GET "/v1/notifications?limit=1" "" "$access_token"
	[[ $(jb .unread) == "$n" ]] || false
}
