# chat-common.bash - helpers of chat-stream.bats and chat-ws.bats, loaded
# after test_helper: the same stack (the fake upstream behind aid's
# OpenAI provider, the echo model at 5 ms a word), users alice and bob,
# new conversations.
#
#   setup_file() { load test_helper; load chat-common; chat_stack; }
#   teardown_file() { load test_helper; load chat-common; chat_teardown; }
#   setup() { load test_helper; load chat-common; chat_setup; }

# chat_stack [CONFIG-LINE...]: starts the fake upstream and the stack
# (extra lines go on in the [aid] section), registers alice and bob and
# saves their tokens and alice's id for chat_setup.
chat_stack() {
	start_fakellm || return 1
	start_stack "[openai]" "base_url = $FAKELLM_URL/v1" \
		"[aid]" "echo_delay_ms = 5" "retries = 0" "$@" || return 1
	new_user alice || return 1
	{
		echo "alice=$access_token"
		echo "alice_id=$user_id"
	} >"$BATS_FILE_TMPDIR/vars"
	new_user bob || return 1
	echo "bob=$access_token" >>"$BATS_FILE_TMPDIR/vars"
}

# chat_teardown: stops the stack, then the fake upstream.
chat_teardown() {
	stop_stack
	local rc=$?
	stop_fakellm
	return $rc
}

# chat_setup: $alice, $alice_id and $bob for the test.
chat_setup() {
	source "$BATS_FILE_TMPDIR/vars"
}

# new_conv [TOKEN]: a new conversation of alice (or TOKEN's); sets conv.
new_conv() {
	api POST /v1/conversations '{}' "${1:-$alice}"
	expect_status 201 || return 1
	conv=$(jb .id)
}

# msg_count: the messages chatd stores, all users.
msg_count() {
	db_query chatd "SELECT COUNT(*) FROM messages"
}
