#!/usr/bin/env bats
# bats file_tags=store:any
# chatui's usage screen (Ctrl-T, "usage" in the palette) in a private
# tmux server, against the real stack with analyticsd: today's bar
# carries the token count analyticsd reports for real requests on the
# echo model, and the model's row too; block characters become '#'
# without UTF-8; a user without usage sees "no usage yet" and no admin
# part (the summary's 403 is quiet); the admin (the file's first
# account) sees the summary, the top users (the heaviest of more than a
# page of them first) and a new event arriving in the live tail (below
# the rest on a small terminal, scrolled to with End; connected again by
# itself after analyticsd restarts); a login that ends (an admin
# demoted) closes the screen and stops the tail, so the next login sees
# none of it; analyticsd stopped: the screen and the status line say so
# (to an admin, of the platform's figures too), chatui lives.

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load chatui-common
	start_stack "[aid]" "echo_delay_ms = 0" || return 1
	# the first account is the admin
	register_user boss || return 1
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
	load analytics-common
	command -v tmux >/dev/null || skip "tmux is not installed"
}

teardown() {
	[[ -n ${ui:-} ]] && tm kill-session -t "$ui" 2>/dev/null
	# a test that failed with analyticsd stopped leaves it to the next
	if [[ -n ${analyticsd_stopped:-} ]]; then
		process_alive "$(daemon_pid analyticsd 2>/dev/null)" ||
			start_daemon analyticsd
	fi
	true
}

# usage_of_today N: after N generations of the test's user, analyticsd's
# total tokens of today into tokens (waits until it has all N).
usage_of_today() {
	wait_api_jq "/v1/users/me/usage?group_by=day" \
		".totals.requests == $1" 20 || return 1
	tokens=$(jq -r --arg d "$(date -u +%F)" \
		'.data[] | select(.day == $d) | .total_tokens' <<<"$body")
	[[ $tokens -gt 0 ]] || {
		echo "no tokens today: $body" >&2
		return 1
	}
}

# open_usage: chatui started, then the usage screen opened by its key.
open_usage() {
	chatui_start "$@"
	wait_for_screen '^Conversations'
	keys C-t
	wait_for_screen 'Your tokens per day'
}

@test "today's bar shows the tokens analyticsd counted, and the model's row" {
	chatui_login ursula
	generate "$access_token" "one two three"
	generate "$access_token" "four five six seven"
	usage_of_today 2
	open_usage
	# today's is the only bar: all full blocks, then the count
	wait_for_screen "$(date -u +%m-%d) (█)+ $tokens( |│|$)"
	wait_for_screen "│ echo +(█)+ $tokens \\(2 req\\)"
	# the other days have no bar
	run -0 screen
	[[ $(grep -cE '│ +[0-9]{2}-[0-9]{2} (█)' <<<"$output") == 1 ]] || false
	[[ $(grep -cE '│ +[0-9]{2}-[0-9]{2} ' <<<"$output") == 14 ]] || false
	# Esc closes it, the palette opens it again
	keys Escape
	wait_gone 'Your tokens per day'
	keys C-p
	type_text usage
	keys Enter
	wait_for_screen "$(date -u +%m-%d) (█)+ $tokens( |│|$)"
	chatui_alive
}

@test "without UTF-8 the bars are drawn with '#'" {
	chatui_login ascii
	generate "$access_token"
	usage_of_today 1
	open_usage LC_ALL=C
	wait_for_screen "$(date -u +%m-%d) #+ $tokens( |$)"
	run -0 screen
	[[ $output != *█* ]] || false
}

@test "a user without usage sees 'no usage yet' and no admin part" {
	chatui_login nina
	open_usage
	wait_for_screen 'no usage yet'
	# the admin parts were asked after the own ones, on the same worker:
	# their 403 has come once the model list has (the same answer time)
	sleep 1
	run -0 screen
	[[ $output != *Summary* && $output != *Events:* &&
		$output != *"Top users"* ]] || false
	chatui_alive
}

@test "the admin sees the summary, the top users and a new event live" {
	local heavy i
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	# the heaviest user registers last, after more light ones than fit
	# in a page of rows: analyticsd lists users by id, the screen picks
	# the top ones by tokens from all of them
	for i in $(seq 1 70); do
		new_user "light$i"
		generate "$access_token" "light"
	done
	new_user heavy
	heavy=$user_id
	for i in 1 2 3 4 5 6; do
		generate "$access_token" "heavy use number $i of many words"
	done
	login_user boss
	printf 'password-boss\n' | "$CHAT_BIN/chatctl" --server "$(base_url)" \
		login boss --password-stdin >/dev/null
	generate "$access_token" "the admin asks too"
	usage_of_today 1
	wait_api_jq "/v1/admin/analytics/usage?group_by=user" \
		"any(.data[]; .user == \"$heavy\" and .requests == 6) and
		 (.data | length) >= 71" 30
	open_usage
	wait_for_screen 'Summary +today +7 days +30 days'
	wait_for_screen ' requests +[0-9]+ +[0-9]+ +[0-9]+'
	wait_for_screen 'Top users'
	run -0 screen
	[[ $(grep -A1 'Top users' <<<"$output" | tail -n 1) == *" 6  ${heavy:0:20}"* ]] || false
	wait_for_screen 'Events: live'
	# an event after the tail opened arrives in it
	register_user newcomer
	wait_for_screen "[0-9:]{8} chat\.user\.registered users/$user_id" 20
	chatui_alive
}

@test "a login that ends closes the usage screen: the next one sees none of it" {
	local deputy
	new_user deputy
	deputy=$user_id
	login_user boss
	api PATCH "/v1/admin/users/$deputy" '{"role":"admin"}' "$access_token"
	expect_status 200
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	printf 'password-deputy\n' | "$CHAT_BIN/chatctl" --server "$(base_url)" \
		login deputy --password-stdin >/dev/null
	open_usage
	wait_for_screen 'Events: live'
	# demoted: the session ends, the login screen shows
	api PATCH "/v1/admin/users/$deputy" '{"role":"user"}' "$access_token"
	expect_status 200
	wait_for_screen 'chatui: log in'
	type_text deputy
	keys Tab
	type_text password-deputy
	keys Enter
	wait_for_screen '^Conversations'
	wait_for_screen 'deputy@.*connected'
	run -0 screen
	[[ $output != *"Your tokens"* && $output != *Events:* &&
		$output != *Summary* ]] || false
	chatui_alive
}

@test "on a small terminal the admin's part goes below and scrolls into view" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	printf 'password-boss\n' | "$CHAT_BIN/chatctl" --server "$(base_url)" \
		login boss --password-stdin >/dev/null
	chatui_start
	wait_for_screen '^Conversations'
	tm resize-window -t "$ui" -x 70 -y 24
	keys C-t
	wait_for_screen 'Your tokens per day'
	wait_for_screen 'Summary +today'
	run -0 screen
	[[ $output != *Events:* ]] || false
	keys End
	wait_for_screen 'Events: live'
	wait_for_screen 'Top models'
	wait_gone 'Your tokens per day'
	keys Home
	wait_for_screen 'Your tokens per day'
	wait_gone 'Events:'
	chatui_alive
}

@test "the event tail reconnects by itself when analyticsd comes back" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	printf 'password-boss\n' | "$CHAT_BIN/chatctl" --server "$(base_url)" \
		login boss --password-stdin >/dev/null
	open_usage
	wait_for_screen 'Events: live'
	analyticsd_stopped=1
	stop_daemon analyticsd
	wait_for_screen 'Events: reconnecting'
	start_daemon analyticsd
	wait_for_screen 'Events: live' 30
	register_user comeback
	wait_for_screen "chat\.user\.registered users/$user_id" 20
	chatui_alive
}

@test "analyticsd stopped: the admin is told the platform's figures are missing" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	printf 'password-boss\n' | "$CHAT_BIN/chatctl" --server "$(base_url)" \
		login boss --password-stdin >/dev/null
	analyticsd_stopped=1
	stop_daemon analyticsd
	open_usage
	wait_for_screen 'usage unavailable: .+'
	wait_for_screen 'platform figures unavailable: .+'
	chatui_alive
	start_daemon analyticsd
	keys r
	wait_for_screen 'Summary +today'
	wait_gone 'unavailable'
}

@test "analyticsd stopped: the usage screen says so and chatui lives on" {
	chatui_login stella
	analyticsd_stopped=1
	stop_daemon analyticsd
	open_usage
	wait_for_screen 'usage unavailable: .+'
	# the status line says it too
	wait_for_screen 'connected .*│ usage unavailable: .+'
	chatui_alive
	# the admin routes fail too (analyticsd checks the role): nothing
	# of them is shown to a user who is no admin
	sleep 1
	run -0 screen
	[[ $output != *platform* && $output != *Summary* ]] || false
	start_daemon analyticsd
	# r asks again: the figures come back
	keys r
	wait_for_screen 'no usage yet'
	wait_gone 'usage unavailable'
}
