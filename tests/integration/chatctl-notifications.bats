#!/usr/bin/env bats
# chatctl notifications ls|read and chatctl admin broadcast: the
# account's in-app notifications as a table (the unread marked and
# counted on stderr) or JSON, marking them read one by one or all, the
# admin's broadcast, and the exit codes.  ada (the file's first account)
# is the admin; each test has a user of its own.

setup_file() { load test_helper; load chatctl-common; ctl_stack; }
teardown_file() { load test_helper; load chatctl-common; ctl_teardown; }
setup() {
	load test_helper
	load chatctl-common
	load notify-common
	ctl_setup
	ADA=$XDG_CONFIG_HOME
	U=u$RANDOM$RANDOM
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/u
	cc register "$U" --password-stdin <<<"password-$U" 2>/dev/null
}

# keys N: N API keys of the test's user, each one notification.
keys() {
	local i
	for ((i = 1; i <= $1; i++)); do
		cc apikey create "key-$i" >/dev/null || return 1
	done
	notify_caught_up
}

@test "notifications ls: a table, the unread marked and counted" {
	keys 2
	run -0 --separate-stderr cc notifications ls
	[[ ${lines[0]} == ID*NEW*WHEN*CATEGORY*WHAT ]] || false
	[[ ${#lines[@]} -eq 3 && $stderr == "chatctl: 2 unread" ]] || false
	run -0 --separate-stderr cc notifications ls --output tsv
	[[ $(cut -f2,4,5 <<<"$output" | sort -u) == $'*\taccount\tAPI key created' ]] || false
	run -0 cc notifications ls --json
	jq -e '.unread == 2 and (.data | length) == 2' <<<"$output" >/dev/null
	run -0 cc notifications ls -n 1 --json
	[[ $(jq '.data | length' <<<"$output") == 1 ]] || false
	run -1 --separate-stderr cc notifications ls -n 0
	expect_one_error
}

@test "notifications read ID, then --all; an unknown id exits 3" {
	local id
	keys 3
	id=$(cc notifications ls --json | jq -r '.data[0].id')
	run -0 cc notifications read "$id"
	run -0 --separate-stderr cc notifications ls --unread --output tsv
	[[ ${#lines[@]} -eq 2 ]] || false
	[[ $output != *"$id"* ]] || false
	run -3 --separate-stderr cc notifications read 01938f4e-6a2b-7c1d-9e3f-0a1b2c3d4e5f
	expect_one_error
	run -1 --separate-stderr cc notifications read "$id" --all
	expect_one_error
	run -1 --separate-stderr cc notifications read
	expect_one_error
	run -0 cc notifications read --all
	run -0 cc notifications ls --json
	jq -e '.unread == 0 and all(.data[]; .read)' <<<"$output" >/dev/null
}

@test "admin broadcast: every account sees it; a user that is no admin exits 2" {
	local id
	run -0 env XDG_CONFIG_HOME="$ADA" "$CHATCTL" --server "$(base_url)" admin broadcast "back at noon"
	id=$output
	[[ $id =~ ^[0-9a-f-]{36}$ ]] || false
	run -0 --separate-stderr cc notifications ls --output tsv
	[[ $(awk -F'\t' -v id="$id" '$1 == id {print $2 "|" $4 "|" $5}' <<<"$output") == '*|broadcast|back at noon' ]] || false
	run -2 --separate-stderr cc admin broadcast "not mine to send"
	expect_one_error
	run -1 --separate-stderr env XDG_CONFIG_HOME="$ADA" "$CHATCTL" --server "$(base_url)" admin broadcast "   "
	expect_one_error
}
