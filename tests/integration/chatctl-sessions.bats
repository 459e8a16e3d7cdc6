#!/usr/bin/env bats
# chatctl sessions ls|rm: the device sessions of the account, the current
# one marked, revoking one by id or every other one with --others, and
# the exit codes.  Each test has a user of its own, logged in from two
# config dirs (two devices).

setup_file() { load test_helper; load chatctl-common; ctl_stack; }
teardown_file() { load test_helper; load chatctl-common; ctl_teardown; }
setup() {
	load test_helper
	load chatctl-common
	ctl_setup
	# two devices of a user of this test's own
	U=u$RANDOM$RANDOM
	ONE=$BATS_TEST_TMPDIR/one
	TWO=$BATS_TEST_TMPDIR/two
	XDG_CONFIG_HOME=$ONE cc register "$U" --password-stdin <<<"password-$U" 2>/dev/null
	XDG_CONFIG_HOME=$TWO cc login "$U" --password-stdin <<<"password-$U" 2>/dev/null
	export XDG_CONFIG_HOME=$ONE
}

# The session id of device DIR's login (its refresh works).
session_of() {
	XDG_CONFIG_HOME=$1 cc sessions ls --json | jq -r '.data[] | select(.current) | .id'
}

@test "sessions ls: a table, the current session marked, address and device" {
	run -0 --separate-stderr cc sessions ls
	[[ ${lines[0]} == ID*CURRENT*"LAST SEEN"*CREATED*ADDRESS*DEVICE ]] || false
	[[ ${#lines[@]} -eq 3 ]] || false
	local cur
	cur=$(session_of "$ONE")
	[[ -n $cur ]] || false
	# the current one has the mark, the other none
	run -0 cc sessions ls --output tsv
	[[ ${#lines[@]} -eq 2 ]] || false
	[[ $(awk -F'\t' '$2 == "*" {print $1}' <<<"$output") == "$cur" ]] || false
	[[ $(awk -F'\t' '$2 == "" {n++} END {print n}' <<<"$output") == 1 ]] || false
	# the address and the device (chatctl's User-Agent)
	[[ $(cut -f5 <<<"$output" | sort -u) == 127.0.0.1 ]] || false
	[[ $(cut -f6 <<<"$output" | sort -u) == chatctl/* ]] || false
}

@test "sessions ls --json: the server's objects, exactly one current" {
	run -0 cc sessions ls --json
	jq -e '.data | length == 2 and (map(select(.current)) | length == 1) and
		all(.id and .ip and .user_agent and .last_used_at)' <<<"$output"
	# the other device sees its own session as current
	[[ $(session_of "$ONE") != "$(session_of "$TWO")" ]] || false
}

@test "sessions rm ID revokes that device's session" {
	local two
	two=$(session_of "$TWO")
	run -0 --separate-stderr cc sessions rm "$two"
	[[ -z $output && -z $stderr ]] || false
	run -0 cc sessions ls --json
	jq -e --arg two "$two" '.data | length == 1 and all(.id != $two)' <<<"$output"
	# that device's refresh is refused now
	XDG_CONFIG_HOME=$TWO run -2 cc sessions ls
	# an id that is no session of the account exits 3
	run -3 --separate-stderr cc sessions rm 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b
	expect_one_error
}

@test "sessions rm --others keeps the current session only" {
	local one
	one=$(session_of "$ONE")
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/three cc login "$U" --password-stdin <<<"password-$U" 2>/dev/null
	run -0 --separate-stderr cc sessions rm --others
	[[ -z $output && $stderr == "chatctl: revoked 2 other sessions" ]] || false
	run -0 cc sessions ls --json
	jq -e --arg one "$one" '.data | length == 1 and .[0].id == $one and .[0].current' <<<"$output"
	XDG_CONFIG_HOME=$TWO run -2 cc sessions ls
	# nothing left to revoke is no error
	run -0 --separate-stderr cc sessions rm --others
	[[ $stderr == "chatctl: revoked 0 other sessions" ]] || false
}

@test "sessions rm: no id, or ids and --others, exit 1; an API key exits 2" {
	run -1 --separate-stderr cc sessions rm
	expect_one_error
	run -1 --separate-stderr cc sessions rm --others 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b
	expect_one_error
	local key
	key=$(cc apikey create scripts)
	CHAT_API_KEY=$key run -2 --separate-stderr cc sessions ls
	expect_one_error
	[[ $stderr == *interactive_login_required* ]] || false
	CHAT_API_KEY=$key run -2 --separate-stderr cc sessions rm --others
	expect_one_error
}
