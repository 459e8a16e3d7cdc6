#!/usr/bin/env bats
# Idempotency-Key across a crash of chatd (kill -9, then a restart): a
# send or regenerate killed mid-answer and retried with the same key and
# body gets the first request's stored messages, its answer
# `interrupted`, and never stores the question twice nor starts a second
# generation; a request killed before it stored anything leaves its key
# free, and the retry runs.
#
# Model: the fake upstream through aid's OpenAI provider, slow enough
# (openai/fake:words=400,delay_ms=20, about 8 s) to be killed mid-answer.

setup_file() {
	load test_helper
	load chat-common
	chat_stack
}

teardown_file() {
	load test_helper
	load chat-common
	chat_teardown
}

setup() {
	load test_helper
	load chat-common
	chat_setup
}

teardown() {
	# a test that failed with userd stopped must not leave it so
	local f=$BATS_FILE_TMPDIR/userd.stopped
	if [[ -s $f ]]; then
		kill -CONT "$(<"$f")" 2>/dev/null || true
		rm -f "$f"
	fi
}

SLOW='openai/fake:words=400,delay_ms=20'

# sse_post PATH BODY [CURL-ARG...]: alice's POST asking for the SSE form;
# the raw stream in $body, the status in $status_code.
sse_post() {
	local path=$1 data=$2 out=$BATS_TEST_TMPDIR/sse.out
	shift 2
	status_code=$(curl -sN --max-time 10 -o "$out" -w '%{http_code}' \
		-H "Authorization: Bearer $alice" -H 'Accept: text/event-stream' \
		-H 'Content-Type: application/json' --data-binary "$data" "$@" \
		"$(base_url)$path") || status_code=000
	IFS= read -rd '' body <"$out" || true
}

# sse_post_bg PATH BODY OUT [CURL-ARG...]: sse_post in the background,
# the stream into OUT; its pid in $pid.
sse_post_bg() {
	local path=$1 data=$2 out=$3
	shift 3
	curl -sN --max-time 15 -H "Authorization: Bearer $alice" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		"$@" --data-binary "$data" "$(base_url)$path" >"$out" 3>&- &
	pid=$!
}

# The data of the last complete event of type $1 in the SSE text on
# stdin.
sse_last() {
	awk -v want="$1" '/^event: / { ev = substr($0, 8); next }
		/^data: / { data = substr($0, 7); next }
		/^$/ { if (ev == want) last = data; ev = ""; data = "" }
		END { print last }'
}

# The event types of the SSE text on stdin, space-separated.
sse_shape() {
	awk '/^event: / { printf "%s%s", sep, substr($0, 8); sep = " " }
		END { print "" }'
}

# wait_streaming CONV: waits up to 5 s until chatd has stored a streaming
# answer with some text in CONV; its id on stdout.
wait_streaming() {
	local i id
	for ((i = 0; i < 100; i++)); do
		id=$(db_query chatd "SELECT id FROM messages WHERE conversation_id = '$1'
			AND status = 'streaming' AND content <> ''")
		[[ -n $id ]] && { echo "$id"; return 0; }
		sleep 0.05
	done
	echo "no streaming answer with text stored in '$1'" >&2
	return 1
}

# kill_chatd: kill -9 of chatd (by its pid file); returns once it is gone.
kill_chatd() {
	local pid i
	pid=$(daemon_pid chatd)
	kill -9 "$pid"
	for ((i = 0; i < 100; i++)); do
		process_alive "$pid" || return 0
		sleep 0.05
	done
	echo "chatd (pid $pid) outlived kill -9" >&2
	return 1
}

# crash_chatd: kill_chatd, then a start.
crash_chatd() {
	kill_chatd && start_daemon chatd
}

# The messages of CONV in the store: "role|content|status" lines, oldest
# first.
stored_msgs() {
	db_query chatd "SELECT role, content, status FROM messages
		WHERE conversation_id = '$1' ORDER BY created_at, id"
}

@test "a send killed mid-answer: its retry answers with the stored, interrupted answer" {
	new_conv
	req=$(jq -nc --arg m "$SLOW" '{content: "ask me once", model: $m}')
	out=$BATS_TEST_TMPDIR/first.sse
	sse_post_bg "/v1/conversations/$conv/messages" "$req" "$out" \
		-H 'Idempotency-Key: crash-send'
	asst=$(wait_streaming "$conv")
	first_user=$(sse_last message <"$out" | jq -r .id)
	[[ -n $first_user && $first_user != null ]] || false
	calls=$(fake_stat requests)
	crash_chatd
	wait "$pid" || true

	# the SSE form: the first request's messages, the answer interrupted
	sse_post "/v1/conversations/$conv/messages" "$req" -H 'Idempotency-Key: crash-send'
	expect_status 200
	[[ $(sse_shape <<<"$body") == "message error" ]] || false
	[[ $(sse_last message <<<"$body" | jq -r .id) == "$first_user" ]] || false
	[[ $(sse_last message <<<"$body" | jq -r .content) == "ask me once" ]] || false
	err=$(sse_last error <<<"$body")
	[[ $(jq -r .message.id <<<"$err") == "$asst" ]] || false
	[[ $(jq -r .message.parent_id <<<"$err") == "$first_user" ]] || false
	[[ $(jq -r .message.status <<<"$err") == interrupted ]] || false
	[[ $(jq -r .error.code <<<"$err") == interrupted ]] || false
	# the text produced before the crash is kept
	text=$(jq -r .message.content <<<"$err")
	[[ -n $text && "$(fake_words 400)" == "$text"* ]] || false
	# the waiting form: the failed answer's 502, as for any failed one
	api_args=(-H 'Idempotency-Key: crash-send')
	api POST "/v1/conversations/$conv/messages" "$req" "$alice"
	expect_error 502 upstream_error
	[[ $(jb .error.message) == *"chatd stopped during the answer"* ]] || false

	# the question once, its answer interrupted, no second generation
	run -0 stored_msgs "$conv"
	[[ ${#lines[@]} == 2 ]] || false
	[[ ${lines[0]} == "user|ask me once|complete" ]] || false
	[[ ${lines[1]} == "assistant|$text|interrupted" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	expect_status 200
	[[ $(jb '.messages | length') == 2 ]] || false
	[[ $(jb '.messages[1].error.code') == interrupted ]] || false
	[[ $(fake_stat requests) == "$calls" ]] || false
	# another body under that key is still refused
	api_args=(-H 'Idempotency-Key: crash-send')
	api POST "/v1/conversations/$conv/messages" '{"content":"other"}' "$alice"
	expect_error 422 idempotency_key_reused
	# once the conversation is deleted the key names nothing
	api DELETE "/v1/conversations/$conv" "" "$alice"
	expect_status 204
	api_args=(-H 'Idempotency-Key: crash-send')
	api POST "/v1/conversations/$conv/messages" "$req" "$alice"
	expect_error 404 not_found
}

@test "a regenerate killed mid-answer: its retry makes no second sibling" {
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"hello","model":"echo"}' "$alice"
	expect_status 201
	question=$(jb .user_message.id)
	answer=$(jb .assistant_message.id)
	path=/v1/conversations/$conv/messages/$answer/regenerate
	req=$(jq -nc --arg m "$SLOW" '{model: $m}')
	out=$BATS_TEST_TMPDIR/regen.sse
	sse_post_bg "$path" "$req" "$out" -H 'Idempotency-Key: crash-regen'
	again=$(wait_streaming "$conv")
	calls=$(fake_stat requests)
	crash_chatd
	wait "$pid" || true

	sse_post "$path" "$req" -H 'Idempotency-Key: crash-regen'
	expect_status 200
	[[ $(sse_shape <<<"$body") == "message error" ]] || false
	[[ $(sse_last message <<<"$body" | jq -r .id) == "$question" ]] || false
	err=$(sse_last error <<<"$body")
	[[ $(jq -r .message.id <<<"$err") == "$again" ]] || false
	[[ $(jq -r .message.status <<<"$err") == interrupted ]] || false
	run -0 stored_msgs "$conv"
	[[ ${#lines[@]} == 3 ]] || false
	[[ ${lines[0]} == "user|hello|complete" ]] || false
	[[ ${lines[2]} == "assistant|"*"|interrupted" ]] || false
	[[ $(fake_stat requests) == "$calls" ]] || false
}

@test "a send killed before it stored anything: its retry runs" {
	new_conv
	req='{"content":"try again","model":"echo"}'
	# userd stopped: chatd's worker waits on it for the user's
	# preferences (up to 3 s), after the claim and before any message
	# is stored; chatd is killed there
	userd=$(daemon_pid userd)
	echo "$userd" >"$BATS_FILE_TMPDIR/userd.stopped"
	kill -STOP "$userd"
	curl -s --max-time 10 -o /dev/null -H "Authorization: Bearer $alice" \
		-H 'Content-Type: application/json' -H 'Idempotency-Key: crash-early' \
		--data-binary "$req" "$(base_url)/v1/conversations/$conv/messages" 3>&- &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		state=$(db_query chatd "SELECT state FROM idempotency WHERE key = 'crash-early'")
		[[ -n $state ]] && break
		sleep 0.02
	done
	[[ $state == running ]] || false
	kill_chatd
	kill -CONT "$userd"
	rm -f "$BATS_FILE_TMPDIR/userd.stopped"
	wait "$pid" || true
	run -0 stored_msgs "$conv"
	[[ ${#lines[@]} == 0 ]] || false
	start_daemon chatd

	api_args=(-H 'Idempotency-Key: crash-early')
	api POST "/v1/conversations/$conv/messages" "$req" "$alice"
	expect_status 201
	[[ $(jb .user_message.content) == "try again" ]] || false
	[[ $(jb .assistant_message.status) == complete ]] || false
	run -0 stored_msgs "$conv"
	[[ ${#lines[@]} == 2 ]] || false
	[[ ${lines[0]} == "user|try again|complete" ]] || false
}
