#!/usr/bin/env bats
# chatctl usage, admin stats and admin events on analyticsd: the numbers
# chatctl shows equal analyticsd's answer and what aid recorded, in the
# table, tsv, JSON and CSV forms; malformed dates and bad ranges exit 1
# with one line; a user who is no admin is refused (exit 2); and
# `admin events -f` prints an event made after it started.

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load chatctl-common
	# ada, the first account, is the admin
	ctl_stack || return 1
}

teardown_file() {
	load test_helper
	load chatctl-common
	ctl_teardown
}

setup() {
	load test_helper
	load chatctl-common
	load analytics-common
	ctl_setup
}

# usage_user N: a fresh user (fresh_user: $U, logged in with chatctl)
# who asked the echo model N questions (analytics-common's generate), once analyticsd has counted them
# all; $uid is the user's id, $access_token a token of theirs.
usage_user() {
	local i n
	fresh_user || return 1
	login_user "$U" || return 1
	uid=$(jwt_claim "$access_token" sub)
	# the OpenAI-compatible route: no title request beside the answer
	for ((i = 1; i <= $1; i++)); do
		generate "$access_token" "question $i of $U" || return 1
	done
	for ((i = 0; i < 200; i++)); do
		n=$(cc usage --json 2>/dev/null | jq -r .totals.requests)
		[[ $n == "$1" ]] && return 0
		sleep 0.1
	done
	echo "analyticsd counted '$n' of $1 requests" >&2
	return 1
}

# as_admin ARGS...: chatctl as ada, the admin (the file's config dir).
as_admin() {
	XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config cc "$@"
}

@test "usage shows what analyticsd answers and what aid recorded" {
	local today req prompt completion
	usage_user 3
	today=$(date -u +%F)
	read -r req prompt completion <<<"$(aid_totals "$uid")"
	[[ $req == 3 ]] || false
	# analyticsd's own answer, read apart from chatctl
	api GET "/v1/users/me/usage?group_by=model" "" "$access_token"
	expect_status 200
	[[ $(jb '.totals | "\(.requests) \(.prompt_tokens) \(.completion_tokens)"') == "$req $prompt $completion" ]] || false
	# tsv: the row of each group, no heading, no total; an unknown cost -
	run -0 --separate-stderr cc usage --by model -o tsv
	printf 'echo\t3\t3\t0\t0\t%s\t%s\t%s\t-\t%s\n' "$prompt" "$completion" \
		"$((prompt + completion))" "$(jb '.data[0].messages')" >"$BATS_TEST_TMPDIR/expect"
	printf '%s\n' "$output" | diff "$BATS_TEST_TMPDIR/expect" -
	[[ -z $stderr ]] || false
	run -0 cc usage -o tsv
	[[ $output == "$today"$'\t3\t3\t0\t0\t'"$prompt"$'\t'* ]] || false
	# the table: a heading, the day, a total row
	run -0 cc usage --from "$today" --to "$today"
	[[ ${lines[0]} == "DAY "*REQUESTS*COMPLETION*COST* ]] || false
	read -r -a row <<<"${lines[1]}"
	[[ ${row[0]} == "$today" && ${row[1]} == 3 && ${row[5]} == "$prompt" && ${row[6]} == "$completion" ]] || false
	read -r -a row <<<"${lines[2]}"
	[[ ${row[0]} == total && ${row[1]} == 3 && ${#lines[@]} == 3 ]] || false
	# --json is the server's report itself
	run -0 cc usage --json --by model
	api GET "/v1/users/me/usage?group_by=model" "" "$access_token"
	[[ $(jq -S . <<<"$output") == "$(jq -S . <<<"$body")" ]] || false
	# a range without the requests: nothing
	run -0 cc usage -o tsv --from 2024-01-01 --to 2024-01-31
	[[ -z $output ]] || false
}

@test "admin stats: usage by user as a table, tsv, CSV and JSON, and the summary" {
	local req prompt completion t
	usage_user 2
	read -r req prompt completion <<<"$(aid_totals "$uid")"
	[[ $req == 2 ]] || false
	login_user ada
	t=$access_token
	run -0 as_admin admin stats --by user -o tsv
	grep -qx "$uid"$'\t2\t2\t0\t0\t'"$prompt"$'\t'"$completion"$'\t'"$((prompt + completion))"$'\t-\t'"[0-9]*" <<<"$output" || {
		echo "$output" >&2
		false
	}
	# --user takes a username and asks for its id's rows only
	run -0 as_admin admin stats --by user --user "$U" -o tsv
	[[ $output == "$uid"$'\t2\t2\t0\t0\t'* && $output != *$'\n'* ]] || false
	# --csv: the server's CSV as it is
	run -0 as_admin admin stats --by user --user "$U" --csv
	api GET "/v1/admin/analytics/usage?group_by=user&user=$uid&format=csv" "" "$t"
	expect_status 200
	[[ $output == "$body" && ${lines[0]} == user,requests,* ]] || false
	[[ ${lines[1]} == "$uid,2,2,0,0,$prompt,$completion,"* ]] || false
	run -0 as_admin admin stats --by model --json
	api GET "/v1/admin/analytics/usage?group_by=model" "" "$t"
	[[ $(jq -S . <<<"$output") == "$(jq -S . <<<"$body")" ]] || false
	# no usage option: the summary, today and the last 7 and 30 days
	run -0 as_admin admin stats --json
	[[ $(jq -r '.today.requests' <<<"$output") -ge 2 ]] || false
	jq -e 'has("today") and has("last_7_days") and has("last_30_days")' <<<"$output"
	api GET /v1/admin/analytics/summary "" "$t"
	run -0 as_admin admin stats -o tsv
	grep -qx $'requests\t'"$(jb .today.requests)"$'\t'"$(jb .last_7_days.requests)"$'\t'"$(jb .last_30_days.requests)" <<<"$output" || {
		echo "$output" >&2
		false
	}
	run -0 as_admin admin stats
	[[ ${lines[0]} == *TODAY*"7 DAYS"*"30 DAYS"* ]] || false
	# --csv is a format of its own
	run -1 --separate-stderr as_admin admin stats --csv --json
	expect_one_error
}

@test "bad dates, bad ranges and a bad --by: one line, exit 1" {
	run -1 --separate-stderr cc usage --from 2025-13-01
	expect_one_error
	[[ $stderr == *"'--from' takes a day as YYYY-MM-DD, not '2025-13-01'"* ]] || false
	run -1 --separate-stderr cc usage --to yesterday
	expect_one_error
	[[ $stderr == *"'--to'"* ]] || false
	run -1 --separate-stderr cc usage --from 2025-02-30
	expect_one_error
	# the range is the server's to judge: its reason comes through
	run -1 --separate-stderr cc usage --from 2025-03-01 --to 2025-02-01
	expect_one_error
	[[ $stderr == *"'to' is before 'from'"* ]] || false
	run -1 --separate-stderr as_admin admin stats --by day --from 2024-01-01 --to 2025-01-01
	expect_one_error
	run -1 --separate-stderr cc usage --by user
	expect_one_error
	[[ $stderr == *"'--by' takes day|model, not 'user'"* ]] || false
	run -1 --separate-stderr as_admin admin stats --by week
	expect_one_error
}

@test "a user who is no admin is refused admin stats and admin events" {
	fresh_user
	run -2 --separate-stderr cc admin stats
	expect_one_error
	[[ $stderr == *"needs an account of role admin"* ]] || false
	run -2 --separate-stderr cc admin stats --by user --csv
	expect_one_error
	run -2 --separate-stderr cc admin events
	expect_one_error
	[[ $stderr == *"needs an account of role admin"* ]] || false
	# their own usage is theirs to read
	run -0 cc usage -o tsv
}

@test "admin events -f prints an event made after it started, until Ctrl-C" {
	local out=$BATS_TEST_TMPDIR/events pid i
	# chatctl itself in the background (not a function's subshell), so
	# that $! is its pid
	XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config "$CHATCTL" --server "$(base_url)" \
		admin events -f --type 'chat.user.*' >"$out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	# the heading is out once the server has taken the tail
	for ((i = 0; i < 100; i++)); do
		[[ -s $out ]] && break
		sleep 0.1
	done
	fresh_user
	login_user "$U"
	uid=$(jwt_claim "$access_token" sub)
	for ((i = 0; i < 100; i++)); do
		grep -q "chat.user.registered  *$uid" "$out" && break
		sleep 0.1
	done
	# still following past the two seconds a tail without -f watches:
	# a later event comes too
	sleep 2.5
	process_alive "$pid" || false
	register_user "late$RANDOM"
	for ((i = 0; i < 100; i++)); do
		grep -q "chat.user.registered  *$user_id" "$out" && break
		sleep 0.1
	done
	process_alive "$pid" || false
	# Ctrl-C is how -f ends: exit 0
	kill -INT "$pid"
	wait "$pid"
	head -1 "$out" | grep -q '^TIME  *TYPE  *USER  *SUBJECT$' || { cat "$out" >&2; false; }
	grep -q "^[0-9-]* [0-9:]*  chat.user.registered  *$uid" "$out" || { cat "$out" >&2; false; }
	grep -q "^[0-9-]* [0-9:]*  chat.user.registered  *$user_id" "$out" || { cat "$out" >&2; false; }
	# the type filter kept every other event out
	[[ -z $(tail -n +2 "$out" | grep -v ' chat\.user\.') ]] || false
	[[ ! -s $BATS_TEST_TMPDIR/err ]] || false
}

@test "admin events --json prints each event's JSON on its line; without -f it ends" {
	local out=$BATS_TEST_TMPDIR/events pid i
	XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config "$CHATCTL" --server "$(base_url)" \
		admin events -f --json --type chat.user.registered >"$out" 3>&- &
	pid=$!
	sleep 0.5
	fresh_user
	login_user "$U"
	uid=$(jwt_claim "$access_token" sub)
	for ((i = 0; i < 100; i++)); do
		grep -q "$uid" "$out" && break
		sleep 0.1
	done
	kill "$pid"
	wait "$pid" || true
	[[ ! -e /proc/$pid ]] || false
	jq -e -s --arg u "$uid" 'map(select(.userid == $u)) | length == 1 and
		.[0].type == "chat.user.registered" and .[0].specversion == "1.0"' "$out"
	# every line is one event
	while IFS= read -r line; do
		jq -e .type <<<"$line" >/dev/null
	done <"$out"
	# without -f the tail is watched a short while, then ends with 0
	SECONDS=0
	run -0 --separate-stderr env XDG_CONFIG_HOME="$BATS_FILE_TMPDIR/config" \
		timeout 10 "$CHATCTL" --server "$(base_url)" admin events -o tsv
	((SECONDS >= 2 && SECONDS <= 6)) || false
	[[ -z $stderr ]] || false
	run -0 as_admin admin events --user "$U"
}
