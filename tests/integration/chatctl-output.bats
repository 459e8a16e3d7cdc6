#!/usr/bin/env bats
# chatctl's output conventions on its list and show verbs: aligned tables,
# --json and --output json, --output tsv for awk and cut, colour (--color,
# NO_COLOR, only on a terminal by default) and the pager (only on a
# terminal, only for a table taller than the screen).  The terminal is a
# pseudo-terminal from script(1).

setup_file() {
	load test_helper
	load chatctl-common
	ctl_stack || return 1
	local i
	# twelve keys: a table taller than on_tty's ten rows
	for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
		"${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)" \
			apikey create "key $i" >/dev/null 2>&1 3>&- || return 1
	done
}

teardown_file() {
	load test_helper
	load chatctl-common
	ctl_teardown
}

setup() {
	load test_helper
	load chatctl-common
	ctl_setup
}

@test "apikey ls: an aligned table with a heading" {
	run -0 --separate-stderr cc apikey ls
	[[ ${lines[0]} == "ID"*"PREFIX"*"CREATED"*"NAME" ]] || false
	[[ ${#lines[@]} -eq 13 ]] || false
	# every row's NAME starts in the heading's NAME column
	local col=${lines[0]%%NAME*} line
	for line in "${lines[@]:1}"; do
		[[ ${line:${#col}:4} == "key " ]] || false
	done
}

@test "--output tsv: tab-separated rows, no heading, that cut can read" {
	run -0 --separate-stderr cc apikey ls --output tsv
	[[ ${#lines[@]} -eq 12 ]] || false
	[[ ${lines[0]} != ID* ]] || false
	cc apikey ls --output tsv | cut -f7 | sort >"$BATS_TEST_TMPDIR/names"
	printf 'key %s\n' 01 02 03 04 05 06 07 08 09 10 11 12 >"$BATS_TEST_TMPDIR/expect"
	diff "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/names"
	# the first field is the id the JSON gives
	[[ $(cc apikey ls --output tsv | cut -f1 | sort) == \
	   $(cc apikey ls --json | jq -r '.data[].id' | sort) ]] || false
}

@test "--output json is --json; -o is --output" {
	cc apikey ls --json >"$BATS_TEST_TMPDIR/a"
	cc apikey ls --output json >"$BATS_TEST_TMPDIR/b"
	cc model ls -o json >"$BATS_TEST_TMPDIR/c"
	jq -e '.data | length == 12' "$BATS_TEST_TMPDIR/a"
	jq -e '.data | length >= 1' "$BATS_TEST_TMPDIR/c"
	diff <(jq -S 'del(.data[].last_used_at)' "$BATS_TEST_TMPDIR/a") \
		<(jq -S 'del(.data[].last_used_at)' "$BATS_TEST_TMPDIR/b")
	run -0 cc whoami --output json
	[[ $(jq -r .username <<<"$output") == ada ]] || false
}

@test "a bad --output or --color, or --json against --output, exits 1" {
	run -1 --separate-stderr cc apikey ls --output yaml
	expect_one_error
	[[ $stderr == *"'--output' must be table, tsv or json, not 'yaml'"* ]] || false
	run -1 --separate-stderr cc apikey ls --color sometimes
	expect_one_error
	[[ $stderr == *"'--color' must be never, always or auto"* ]] || false
	run -1 --separate-stderr cc apikey ls --json --output tsv
	expect_one_error
	# --output is for verbs that print lists or objects
	run -1 --separate-stderr cc logout --output tsv
	expect_one_error
}

@test "colour: never in a pipe, bold headings with --color always or on a terminal" {
	local esc=$'\033[1m'
	run -0 cc apikey ls
	[[ $output != *$'\033'* ]] || false
	run -0 cc apikey ls --color always
	[[ ${lines[0]} == "${esc}ID"*$'\033[0m' ]] || false
	[[ ${lines[1]} != *$'\033'* ]] || false
	# tsv and json never carry colour
	run -0 cc apikey ls --color always --output tsv
	[[ $output != *$'\033'* ]] || false
	run -0 on_tty "PAGER= $CHATCTL --server $(base_url) model ls"
	[[ $output == *"${esc}ID"* ]] || false
	run -0 on_tty "PAGER= $CHATCTL --server $(base_url) model ls --color never"
	[[ $output != *$'\033'* ]] || false
}

@test "NO_COLOR turns colour off on a terminal; --color always wins over it" {
	run -0 on_tty "NO_COLOR=1 PAGER= $CHATCTL --server $(base_url) model ls"
	[[ $output == *ID* && $output != *$'\033'* ]] || false
	run -0 on_tty "NO_COLOR=1 PAGER= $CHATCTL --server $(base_url) model ls --color always"
	[[ $output == *$'\033[1mID'* ]] || false
}

@test "a table taller than the terminal goes through \$PAGER, only on a terminal" {
	local paged=$BATS_TEST_TMPDIR/paged
	run -0 on_tty "PAGER='cat >$paged' $CHATCTL --server $(base_url) apikey ls --color never"
	[[ -s $paged ]] || false
	[[ $(wc -l <"$paged") -eq 13 && $(head -1 "$paged") == ID* ]] || false
	[[ $output != *"key 01"* ]] || false
	# a short table is written straight to the terminal
	rm -f "$paged"
	run -0 on_tty "PAGER='cat >$paged' $CHATCTL --server $(base_url) model ls"
	[[ ! -e $paged && $output == *ID* ]] || false
	# not a terminal: never the pager
	PAGER="cat >$paged" run -0 cc apikey ls
	[[ ! -e $paged && ${#lines[@]} -eq 13 ]] || false
	# an empty PAGER: none
	run -0 on_tty "PAGER= $CHATCTL --server $(base_url) apikey ls"
	[[ ! -e $paged && $output == *"key 12"* ]] || false
}
