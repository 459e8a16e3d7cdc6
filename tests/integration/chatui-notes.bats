#!/usr/bin/env bats
# chatui's notifications (issue 15), the real chatui in a private tmux
# server as in chatui.bats: the unread count in the status line, at start
# and live from the WebSocket's "notification" frames; the overlay
# (Ctrl-G): newest first, Enter marks one read and the server agrees,
# a marks all read, the cursor pages past the first 20; an admin's
# broadcast with hostile text (escape sequences, control bytes, wide and
# very long text) drawn as text; and Enter on "answer ready" opens the
# conversation of an answer that finished while no client was there.
#
# Notifications are made through the API: an API key makes one
# ("API key created", its name shown beside the title).

setup_file() {
	load test_helper
	load chatui-common
	start_stack "[aid]" "echo_delay_ms = 20" "[notifyd]" \
		"long_generation_ms = 400" "[events]" "include_text = true"
	# the first account is the admin: the broadcasts' sender
	new_user root
	echo "root=$access_token" >"$BATS_FILE_TMPDIR/vars"
	if command -v tmux >/dev/null; then
		tm_start
	fi
}

teardown_file() {
	load test_helper
	load chatui-common
	tm_stop
	stop_stack
}

setup() {
	load test_helper
	load chatui-common
	command -v tmux >/dev/null || skip "tmux is not installed"
	source "$BATS_FILE_TMPDIR/vars"
}

teardown() {
	[[ -n ${ui:-} ]] && tm kill-session -t "$ui" 2>/dev/null
	true
}

# key NAME: an API key of the test's user, so one notification.
key() {
	api POST /v1/apikeys "$(jq -nc --arg n "$1" '{name: $n}')" "$access_token"
	expect_status 201
}

# user NAME: chatui_login, then the sign-in alert of chatctl's login (a
# second device after the registration's) read: the user starts with
# nothing unread.
user() {
	chatui_login "$1" || return 1
	wait_api_jq "/v1/notifications?limit=1" '.data[0].kind == "new_device"' || return 1
	api POST /v1/notifications/read-all "" "$access_token"
	expect_status 204
}

# unread_is N: the server counts N unread notifications of the user.
unread_is() {
	wait_api_jq "/v1/notifications?limit=1" ".unread == $1"
}

# The status line (the screen's last row).
status_line() {
	screen | tail -n 1
}

@test "the badge: the unread count at start, then live" {
	user ada
	key first
	unread_is 1
	chatui_start
	wait_for_screen '^Conversations'
	wait_for_screen ' 1 unread$'
	key second
	wait_for_screen ' 2 unread$'
	# also over another pane: the help overlay
	keys F1
	wait_for_screen 'keys \('
	key third
	wait_for_screen ' 3 unread$'
	[[ $(status_line) =~ ' 3 unread'$ ]] || false
}

@test "the pane: newest first, Enter reads one, a reads all, the server agrees" {
	user bea
	key older
	key newer
	unread_is 2
	chatui_start
	wait_for_screen ' 2 unread$'
	keys C-g
	wait_for_screen 'notifications \(2 unread\)'
	# newest first, both marked unread
	screen | grep -n 'API key created' >"$BATS_TEST_TMPDIR/rows"
	[[ $(wc -l <"$BATS_TEST_TMPDIR/rows") == 2 ]] || false
	grep -q '● API key created · newer' <(sed -n 1p "$BATS_TEST_TMPDIR/rows") || false
	grep -q '● API key created · older' <(sed -n 2p "$BATS_TEST_TMPDIR/rows") || false
	keys Enter
	wait_for_screen 'notifications \(1 unread\)'
	unread_is 1
	wait_for_screen ' 1 unread$'
	# the read one lost its mark, the other kept it
	screen | grep -q '  API key created · newer' || false
	screen | grep -q '● API key created · older' || false
	keys a
	wait_for_screen 'notifications \(0 unread\)'
	unread_is 0
	keys Escape
	wait_gone 'notifications \('
	wait_gone ' [0-9]+ unread$'
	chatui_alive
}

@test "the pane pages with the cursor past the first 20" {
	local i
	user cid
	for ((i = 1; i <= 23; i++)); do
		key "k$i"
	done
	unread_is 23
	chatui_start
	wait_for_screen ' 23 unread$'
	keys C-g
	wait_for_screen '· k23 '
	# End: the last of the first page, which asks for the next one
	keys End
	wait_for_screen '· k4 '
	for ((i = 0; i < 100; i++)); do
		keys End
		screen | grep -q '· k1 ' && break
		sleep 0.05
	done
	wait_for_screen '· k1 '
	screen | grep -q '· k2 ' || false
	chatui_alive
}

@test "a broadcast: the badge, the pane, and its hostile text drawn as text" {
	local text
	user dan
	chatui_start
	wait_for_screen '^Conversations'
	text=$(printf 'Hello \033[31mRED\033[0m bell\007 \033]0;pwned\007 wide 漢字漢字 %s END' \
		"$(printf 'x%.0s' {1..900})")
	api POST /v1/admin/broadcast "$(jq -nc --arg t "$text" '{text: $t}')" "$root"
	expect_status 201
	wait_for_screen ' 1 unread$'
	keys C-g
	wait_for_screen '● Announcement'
	# the escape bytes are spaces: what followed them is plain text, the
	# colour and the title never reached the terminal
	wait_for_screen 'Hello  \[31mRED \[0m bell   ]0;pwned  wide 漢字漢字 x+'
	# cut at the box with an ellipsis, its border where it belongs
	screen | grep -q 'Hello.*x… │$' || false
	[[ $(screen | grep -c 'Hello') == 1 ]] || false
	[[ $(tm display -p -t "$ui" '#{pane_title}') != *pwned* ]] || false
	keys Enter
	wait_for_screen 'notifications \(0 unread\)'
	unread_is 0
	chatui_alive
}

@test "Enter on an answer that finished while away opens its conversation" {
	local conv
	user eve
	api POST /v1/conversations '{"title":"Far away"}' "$access_token"
	expect_status 201
	conv=$(jb .id)
	# sent and left at the first delta: no client sees the end
	{ curl -sN --max-time 20 -H "Authorization: Bearer $access_token" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary "{\"content\":\"$(fake_words 60)\"}" \
		"$(base_url)/v1/conversations/$conv/messages" 3>&- || true; } |
		grep -m 1 -q '^event: delta'
	wait_api_jq "/v1/notifications?limit=1" '.data[0].kind == "generation_finished"' 20
	chatui_start
	wait_for_screen ' 1 unread$'
	keys C-g
	wait_for_screen '● Answer ready · Far away'
	keys Enter
	wait_gone 'notifications \('
	wait_for_screen 'w60'
	wait_gone ' [0-9]+ unread$'
	unread_is 0
}
