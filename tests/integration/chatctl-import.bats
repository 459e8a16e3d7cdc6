#!/usr/bin/env bats
# chatctl conv import: our own JSON export back in (the whole tree, a new
# conversation), a ChatGPT data export (tests/fixtures/chatgpt/
# conversations.json: mapping trees with a null root, a system message,
# a regenerated answer, an image part, a browsing call and its tool
# answer), and bad input: a file that is not JSON, JSON of neither form,
# a tree chatd refuses.  Bad input exits 1 and stores nothing.  Each test
# has a user of its own.

setup_file() { load test_helper; load chatctl-common; ctl_stack; }
teardown_file() { load test_helper; load chatctl-common; ctl_teardown; }
setup() {
	load test_helper
	load chatctl-common
	ctl_setup
	fresh_user
	GPT=$CHAT_ROOT/tests/fixtures/chatgpt/conversations.json
}

# rows COUNT: the conversations and messages of the whole store.
rows() {
	echo "$(db_query chatd 'SELECT COUNT(*) FROM conversations') $(db_query chatd 'SELECT COUNT(*) FROM messages')"
}

# The tree of an export, ids left out: each message's role, content and
# its parent's content, in order.
shape() {
	jq -c '[.messages as $m | .messages[] | . as $x |
		[.role, .content, (($m[] | select(.id == $x.parent_id) | .content) // null)]]'
}

@test "our export imports back as a new conversation with the same tree" {
	new_conv "tell me a joke"
	cc conv regenerate "$conv" >/dev/null
	cc ask -m echo --conversation "$conv" "another" >/dev/null
	cc conv rename "$conv" Jokes
	cc conv export "$conv" >"$BATS_TEST_TMPDIR/export.json"
	run -0 --separate-stderr cc conv import "$BATS_TEST_TMPDIR/export.json"
	local new=$output
	[[ $new =~ ^[0-9a-f-]{36}$ && $new != "$conv" ]] || false
	cc conv export "$new" >"$BATS_TEST_TMPDIR/again.json"
	jq -e '.title == "Jokes" and (.messages | length == 5)' "$BATS_TEST_TMPDIR/again.json"
	diff <(shape <"$BATS_TEST_TMPDIR/export.json") <(shape <"$BATS_TEST_TMPDIR/again.json")
	# the current branch is the one the export had
	diff <(cc conv show "$conv") <(cc conv show "$new")
	# new ids, none of the file's
	[[ $(jq -r '.messages[].id' "$BATS_TEST_TMPDIR/export.json" "$BATS_TEST_TMPDIR/again.json" | sort | uniq -d) == "" ]] || false
}

@test "a ChatGPT conversations.json: each mapping tree becomes a message tree" {
	run -0 --separate-stderr cc conv import "$GPT"
	[[ ${#lines[@]} -eq 2 ]] || false
	local rust=${lines[0]} cat=${lines[1]}
	run -0 cc conv export "$rust"
	local doc=$output
	# the system message is the system prompt, not a turn; the null root
	# is gone; the regenerated answer is a second child of the question
	jq -e '.title == "Rust lifetimes" and .system_prompt == "You are a patient Rust teacher." and
		(.messages | length == 5) and (.messages | map(select(.parent_id == null)) | length == 1)' <<<"$doc"
	diff <(shape <<<"$doc") - <<-'END'
		[["user","What is a lifetime in Rust?",null],["assistant","A lifetime is the region of code where a reference is valid.","What is a lifetime in Rust?"],["user","And what does 'static mean?","A lifetime is the region of code where a reference is valid."],["assistant","'static means the data lives for the whole program.","And what does 'static mean?"],["assistant","Lifetimes name how long borrows last.","What is a lifetime in Rust?"]]
	END
	# each answer keeps the model that wrote it
	jq -e '[.messages[] | select(.role == "assistant") | .model] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]' <<<"$doc"
	# current_node is the current branch
	run -0 cc conv show "$rust"
	[[ ${lines[0]} == "user: What is a lifetime in Rust?" ]] || false
	[[ ${lines[-1]} == "assistant: 'static means the data lives for the whole program." ]] || false
	run -0 cc conv branch "$rust" --output tsv
	[[ $(cut -f3 <<<"${lines[1]}") == 1/2 ]] || false
	# the image part, the browsing call and the tool's answer are left
	# out; the answer hangs from the question
	run -0 cc conv export "$cat"
	diff <(shape <<<"$output") - <<-'END'
		[["user","What is in this picture?",null],["assistant","A tabby cat asleep on a windowsill.","What is in this picture?"]]
	END
	jq -e '.system_prompt == null and .title == "Photo of a cat"' <<<"$output"
}

@test "a file that is not JSON exits 1 and stores nothing" {
	local before
	before=$(rows)
	printf '[{"title": "cut short", "mapping": {' >"$BATS_TEST_TMPDIR/broken.json"
	run -1 --separate-stderr cc conv import "$BATS_TEST_TMPDIR/broken.json"
	expect_one_error
	[[ $stderr == "chatctl: cannot import '$BATS_TEST_TMPDIR/broken.json': it is not JSON" ]] || false
	[[ $(rows) == "$before" ]] || false
	run -3 --separate-stderr cc conv import "$BATS_TEST_TMPDIR/nothing-here.json"
	expect_one_error
}

@test "JSON that is no export of either kind exits 1 and stores nothing" {
	local before f=$BATS_TEST_TMPDIR/x.json
	before=$(rows)
	for doc in '{"name": "not a conversation"}' '[1, 2, 3]' '[]' '"text"' \
		'[{"title": "no tree", "mapping": {}}]'; do
		printf '%s' "$doc" >"$f"
		run -1 --separate-stderr cc conv import "$f"
		expect_one_error
		[[ $stderr == "chatctl: cannot import '$f': "* ]] || false
	done
	# one bad conversation in the array: none of the good ones is stored
	jq '. + [{"title": "broken", "mapping": {"r": {"id": "r", "message": null, "parent": null, "children": ["gone"]}}}]' \
		"$GPT" >"$f"
	run -1 --separate-stderr cc conv import "$f"
	expect_one_error
	[[ $stderr == *"conversation 2 of the array"* ]] || false
	[[ $(rows) == "$before" ]] || false
	[[ $(cc conv ls --json | jq '.data | length') == 0 ]] || false
}

@test "chatd refuses a bad tree whole: nothing of it is stored" {
	local before f=$BATS_TEST_TMPDIR/ours.json
	before=$(rows)
	# a parent after its child, an unknown role, a duplicate id, no
	# messages, a leaf that is not there, a content that is no string
	for doc in \
		'{"messages": [{"id": "b", "parent_id": "a", "role": "assistant", "content": "x"}, {"id": "a", "role": "user", "content": "y"}]}' \
		'{"messages": [{"id": "a", "role": "user", "content": "y"}, {"id": "b", "parent_id": "a", "role": "system", "content": "x"}]}' \
		'{"messages": [{"id": "a", "role": "user", "content": "y"}, {"id": "a", "role": "user", "content": "z"}]}' \
		'{"title": "empty", "messages": []}' \
		'{"current_leaf_id": "zz", "messages": [{"id": "a", "role": "user", "content": "y"}]}' \
		'{"messages": [{"id": "a", "role": "user", "content": 3}]}'; do
		printf '%s' "$doc" >"$f"
		run -1 --separate-stderr cc conv import "$f"
		expect_one_error
		[[ $stderr == *invalid_field* ]] || { echo "$doc: $stderr" >&2; false; }
	done
	[[ $(rows) == "$before" ]] || false
}
