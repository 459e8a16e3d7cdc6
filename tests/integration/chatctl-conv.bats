#!/usr/bin/env bats
# chatctl conv: ids by a unique prefix everywhere an id is taken (and
# an ambiguous one refused, naming the candidates), archive and
# unarchive, regenerate, branch (show and switch), export (the whole
# tree as JSON, the current branch as Markdown).  The echo model answers
# with the question.  Each test has a user of its own.

setup_file() { load test_helper; load chatctl-common; ctl_stack; }
teardown_file() { load test_helper; load chatctl-common; ctl_teardown; }
setup() { load test_helper; load chatctl-common; ctl_setup; fresh_user; }

@test "a unique prefix of a conversation id works wherever an id does" {
	new_conv "first question"
	local id=$conv p=${conv:0:20}
	new_conv "second question"
	run -0 cc conv show "$p"
	[[ ${lines[0]} == "user: first question" ]] || false
	run -0 cc conv show --json "${p^^}"	# any case
	[[ $(jq -r .id <<<"$output") == "$id" ]] || false
	run -0 cc ask -m echo --conversation "$p" "more"
	[[ $output == more ]] || false
	run -0 cc conv rename "$p" a new title
	[[ $(cc conv show --json "$id" | jq -r .title) == "a new title" ]] || false
	run -0 cc conv export "$p"
	[[ $(jq -r .id <<<"$output") == "$id" ]] || false
	run -0 cc conv rm "$p"
	run -3 cc conv show "$id"
	[[ $(cc conv ls --json | jq '.data | length') == 1 ]] || false
}

@test "an ambiguous prefix is an error naming the candidates; a short one, or none, too" {
	new_conv one
	local a=$conv
	new_conv two
	local b=$conv
	# UUIDv7: ids made a moment apart share their first characters
	[[ ${a:0:4} == "${b:0:4}" ]] || skip "the two ids differ in their first 4 characters"
	run -1 --separate-stderr cc conv show "${a:0:4}"
	expect_one_error
	[[ $stderr == *"conversation id '${a:0:4}' is ambiguous: 2 candidates"* ]] || false
	[[ $stderr == *"$a"* && $stderr == *"$b"* ]] || false
	# nothing is deleted when one of the ids is ambiguous
	run -1 --separate-stderr cc conv rm "$a" "${a:0:4}"
	[[ $(cc conv ls --json | jq '.data | length') == 2 ]] || false
	run -1 --separate-stderr cc conv show "${a:0:3}"
	expect_one_error
	[[ $stderr == *"too short"* ]] || false
	run -3 --separate-stderr cc conv show ffffffff
	expect_one_error
	[[ $stderr == *"no conversation id starts with 'ffffffff'"* ]] || false
}

@test "conv archive and unarchive, by prefix; ls --archived" {
	new_conv keep
	local keep=$conv
	new_conv old
	local old=$conv
	run -0 --separate-stderr cc conv archive "${old:0:20}"
	[[ -z $output && -z $stderr ]] || false
	[[ $(cc conv show --json "$old" | jq -r .archived) == true ]] || false
	run -0 cc conv ls --output tsv
	[[ $(cut -f1 <<<"$output") == "$keep" ]] || false
	run -0 cc conv ls --archived --output tsv
	[[ $(cut -f1 <<<"$output") == "$old" ]] || false
	# an archived conversation is still found by its prefix
	run -0 cc conv unarchive "${old:0:20}"
	[[ $(cc conv show --json "$old" | jq -r .archived) == false ]] || false
	[[ $(cc conv ls --json | jq '.data | length') == 2 ]] || false
	run -3 cc conv archive 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b
}

@test "conv regenerate: another answer, then conv branch shows and switches" {
	new_conv "say it again"
	run -0 --separate-stderr cc conv regenerate "${conv:0:20}"
	[[ $output == "say it again" ]] || false
	# the answer has a sibling now: the branch table says 2/2
	run -0 cc conv branch "$conv" --output tsv
	[[ ${#lines[@]} -eq 2 ]] || false
	local first second
	IFS=$'\t' read -r second _ place others _ <<<"${lines[1]}"
	[[ $place == 2/2 ]] || false
	first=$(cc conv export "$conv" | jq -r '.messages[] | select(.role == "assistant") | .id' | head -1)
	# OTHERS: the other answer, by a prefix long enough to be unique
	[[ ${#others} -ge 8 && $first == "$others"* && $first != "$second" ]] || false
	run -0 cc conv branch "$conv"
	[[ ${lines[0]} == ID*ROLE*BRANCH*OTHERS*TEXT ]] || false
	run -0 cc conv branch "$conv" --json
	jq -e --arg s "$second" 'length == 2 and .[1].id == $s and (.[1].sibling_ids | length == 2)' <<<"$output"
	# switch to the first answer by that short id
	run -0 --separate-stderr cc conv branch "$conv" "$others"
	[[ -z $output && $stderr == *"now ends at $first"* ]] || false
	[[ $(cc conv show --json "$conv" | jq -r .current_leaf_id) == "$first" ]] || false
	run -0 cc conv branch "$conv" --output tsv
	[[ $(cut -f3 <<<"${lines[1]}") == 1/2 ]] || false
	# a message id of no branch here
	run -3 --separate-stderr cc conv branch "$conv" ffffffff
	expect_one_error
}

@test "conv export: the whole tree as JSON, the current branch as Markdown" {
	new_conv "what is two and two"
	cc conv regenerate "$conv" >/dev/null
	cc conv rename "$conv" Sums
	run -0 cc conv export "$conv"
	jq -e --arg id "$conv" '.id == $id and .title == "Sums" and (.messages | length == 3) and
		(.messages | map(select(.role == "assistant")) | length == 2) and
		(.messages | map(select(.parent_id == null)) | length == 1)' <<<"$output"
	run -0 cc conv export --format json "$conv"
	jq -e '.messages | length == 3' <<<"$output"
	run -0 cc conv export --format md "$conv"
	printf '# Sums\n\n## User\n\nwhat is two and two\n\n## Assistant (echo)\n\nwhat is two and two\n' >"$BATS_TEST_TMPDIR/expect"
	diff "$BATS_TEST_TMPDIR/expect" <(printf '%s\n' "$output")
	run -1 --separate-stderr cc conv export --format pdf "$conv"
	expect_one_error
}
