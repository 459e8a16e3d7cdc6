#!/usr/bin/env bats
# notifyd's live delivery (issue 15): a notification reaches every
# WebSocket (/v1/ws) of its user as a "notification" frame, and no other
# user's; notifyd writes chat.notification.created to its outbox with
# the notification, and chatd consumes it and pushes the frame.  An
# admin's broadcast reaches the sockets of every account open then.

setup_file() {
	load test_helper
	start_stack
	new_user root
	echo "root=$access_token" >"$BATS_FILE_TMPDIR/vars"
	new_user alice
	echo "alice=$access_token" >>"$BATS_FILE_TMPDIR/vars"
	new_user bob
	echo "bob=$access_token" >>"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load ws-common
	load notify-common
	source "$BATS_FILE_TMPDIR/vars"
	WS=$BATS_TEST_TMPDIR/ws
	mkdir -p "$WS"
}

teardown() {
	ws_teardown
}

@test "a notification reaches both WebSockets of its user, not another user's" {
	local id
	ws_open a1 "$alice"
	ws_open a2 "$alice"
	ws_open b1 "$bob"
	api POST /v1/apikeys '{"name":"live-key"}' "$alice"
	expect_status 201
	wait_frame a1 'select(.type == "notification" and .data.kind == "apikey_created")'
	wait_frame a2 'select(.type == "notification" and .data.kind == "apikey_created")'
	# the frame is the notification the list shows
	notes "$alice"
	id=$(jq -r '.data[0].id' <<<"$body")
	[[ $(frames a1 | jq -r 'select(.type == "notification") | .data.notification_id') == "$id" ]] || false
	frames a2 | jq -e 'select(.type == "notification") | .data.category == "account" and
		.data.data.name == "live-key" and .data.title == "API key created" and
		(.data.created_at | test("Z$"))' >/dev/null
	# bob's client got nothing of alice's, also once chatd caught up
	api POST /v1/apikeys '{"name":"bob-key"}' "$bob"
	expect_status 201
	wait_frame b1 'select(.type == "notification" and .data.data.name == "bob-key")'
	[[ $(frames b1 | jq -c 'select(.type == "notification")' | wc -l) == 1 ]] || false
	[[ $(frames a1 | jq -c 'select(.type == "notification")' | wc -l) == 1 ]] || false
}

@test "a broadcast reaches the WebSockets of every account" {
	local id
	ws_open a1 "$alice"
	ws_open b1 "$bob"
	api POST /v1/admin/broadcast '{"text":"live maintenance"}' "$root"
	expect_status 201
	id=$(jb .id)
	for c in a1 b1; do
		wait_frame "$c" 'select(.type == "notification" and .data.kind == "broadcast")'
		frames "$c" | jq -e --arg id "$id" 'select(.type == "notification") |
			.data.notification_id == $id and .data.body == "live maintenance" and
			.data.category == "broadcast"' >/dev/null
	done
}
