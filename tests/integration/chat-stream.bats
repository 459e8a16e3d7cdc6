#!/usr/bin/env bats
# Generations through the gateway, over REST and SSE: send with the SSE
# form (event order, ids, the stored answer equal to the streamed one)
# and the waiting 201 form, titles, stop mid-stream (the upstream
# connection closed), regenerate and edit (siblings, the leaf), a client
# that leaves mid-stream and resumes with Last-Event-ID, a generation
# that finishes with no client, Idempotency-Key retries, one generation
# per conversation, upstream failures (error event, partial answer kept),
# another user's ids on every route, bad input.  The last test kills the
# fake upstream mid-stream.
#
# Models: "echo" (aid's built-in, 5 ms between words) and the fake
# upstream through aid's OpenAI provider, "openai/fake:OPTIONS"
# (tests/fixtures/fakellm: words=N, delay_ms=N, stall_at=N, cut_at=N...).

setup_file() {
	load test_helper
	load chat-common
	# coalesce_ms: every token its own delta where they come paced (the
	# hub's log of 1024 events); stream-coalesce.bats tests coalescing
	chat_stack "idle_timeout_ms = 10000" "max_body = 4200000" "coalesce_ms = 0" \
		"[gatewayd]" "max_body = 2200000" \
		"[chatd]" "max_body = 2200000"
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

# sse_post PATH BODY [TOKEN [CURL-ARG...]]: a POST asking for the SSE
# form; the raw stream in $body, the status in $status_code.
sse_post() {
	local path=$1 data=$2 tok=${3:-$alice}
	shift 3 || shift $#
	local out=$BATS_TEST_TMPDIR/sse.out
	status_code=$(curl -sN --max-time 10 -o "$out" -w '%{http_code}' \
		-H "Authorization: Bearer $tok" -H 'Accept: text/event-stream' \
		-H 'Content-Type: application/json' --data-binary "$data" "$@" \
		"$(base_url)$path") || status_code=000
	IFS= read -rd '' body <"$out" || true
}

# sse_get PATH [TOKEN [CURL-ARG...]]: a GET of an SSE stream, as sse_post.
sse_get() {
	local path=$1 tok=${2:-$alice}
	shift 2 || shift $#
	local out=$BATS_TEST_TMPDIR/sse.out
	status_code=$(curl -sN --max-time 10 -o "$out" -w '%{http_code}' \
		-H "Authorization: Bearer $tok" "$@" "$(base_url)$path") ||
		status_code=000
	IFS= read -rd '' body <"$out" || true
}

# sse_send_bg CONV BODY OUT [CURL-ARG...]: alice's send to CONV in the
# SSE form, in the background, the stream into OUT; its pid in $pid.
sse_send_bg() {
	local conv_id=$1 data=$2 out=$3
	shift 3
	curl -sN --max-time 10 -H "Authorization: Bearer $alice" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		"$@" --data-binary "$data" \
		"$(base_url)/v1/conversations/$conv_id/messages" >"$out" 3>&- &
	pid=$!
}

# The complete events of the SSE text on stdin, one a line:
# id TAB event TAB data.  A cut last event is left out.
sse_events() {
	awk '/^id: / { id = substr($0, 5); next }
		/^event: / { ev = substr($0, 8); next }
		/^data: / { data = data (data == "" ? "" : "\n") substr($0, 7); next }
		/^$/ { if (ev != "" || data != "") print id "\t" ev "\t" data
			id = ""; ev = ""; data = "" }'
}

# Event names of the SSE text on stdin, space-separated, repeats of a
# name folded ("message delta done").
sse_shape() {
	sse_events | cut -f2 | uniq | paste -sd' '
}

# The joined delta texts of the SSE text on stdin.
sse_text() {
	sse_events | awk -F'\t' '$2 == "delta" { print $3 }' | jq -rj .text
}

# The data of the last event named $1 of the SSE text on stdin.
sse_last() {
	sse_events | awk -F'\t' -v want="$1" '$2 == want { d = $3 } END { print d }'
}

# True when every event has an id and the ids strictly increase.
sse_ids_increase() {
	sse_events | awk -F'\t' '
		$1 !~ /^[0-9]+$/ { bad = 1 }
		NR > 1 && $1 + 0 <= prev + 0 { bad = 1 }
		{ prev = $1 }
		END { exit bad }'
}

# wait_deltas FILE N: waits up to 5 s until FILE holds N delta events.
wait_deltas() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(grep -c '^event: delta' "$1" 2>/dev/null) || n=0
		((n >= $2)) && return 0
		sleep 0.05
	done
	echo "no $2 deltas in $1:" >&2
	cat "$1" >&2
	return 1
}

# wait_status CONV STATUS: waits up to 5 s for the last message of the
# conversation's branch to have STATUS; leaves GET's answer in $body.
wait_status() {
	local i
	for ((i = 0; i < 100; i++)); do
		api GET "/v1/conversations/$1" "" "$alice"
		[[ $(jb '.messages[-1].status') == "$2" ]] && return 0
		sleep 0.05
	done
	echo "status of the last message of $1: $(jb '.messages[-1].status')" >&2
	return 1
}

@test "SSE send: message, deltas, done, each with a growing id; the stored answer is the streamed one" {
	new_conv
	sse_post "/v1/conversations/$conv/messages" '{"content":"hello there my friend"}'
	expect_status 200
	[[ $(sse_shape <<<"$body") == "message delta done" ]] || false
	sse_ids_increase <<<"$body"
	[[ $(sse_text <<<"$body") == "hello there my friend" ]] || false
	user=$(sse_last message <<<"$body")
	done=$(sse_last done <<<"$body")
	[[ $(jq -r .role <<<"$user") == user && $(jq -r .content <<<"$user") == "hello there my friend" ]] || false
	[[ $(jq -r .parent_id <<<"$user") == null ]] || false
	[[ $(jq -r .role <<<"$done") == assistant && $(jq -r .status <<<"$done") == complete ]] || false
	[[ $(jq -r .parent_id <<<"$done") == $(jq -r .id <<<"$user") ]] || false
	[[ $(jq -r .model <<<"$done") == echo ]] || false
	[[ $(jq -r '.usage.completion_tokens' <<<"$done") == 4 ]] || false
	[[ $(jq -r '.usage.latency_ms | type' <<<"$done") == number ]] || false
	# every delta names the answer
	[[ $(sse_events <<<"$body" | awk -F'\t' '$2 == "delta" { print $3 }' |
		jq -r .message_id | sort -u) == $(jq -r .id <<<"$done") ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	expect_status 200
	[[ $(jb '.messages | length') == 2 ]] || false
	[[ $(jb '.messages[1].content') == "hello there my friend" ]] || false
	[[ $(jb '.messages[1].status') == complete ]] || false
	[[ $(jb .current_leaf_id) == $(jq -r .id <<<"$done") ]] || false
}

@test "the waiting form answers 201 with both messages; the first answer titles the conversation" {
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"Why is the sky blue at noon today?"}' "$alice"
	expect_status 201
	[[ $(jb .user_message.content) == "Why is the sky blue at noon today?" ]] || false
	[[ $(jb .assistant_message.content) == "Why is the sky blue at noon today?" ]] || false
	[[ $(jb .assistant_message.status) == complete ]] || false
	[[ $(jb .assistant_message.parent_id) == $(jb .user_message.id) ]] || false
	first=$(jb .assistant_message.id)
	# a second message goes under the leaf, the first answer
	api POST "/v1/conversations/$conv/messages" '{"content":"and at dusk"}' "$alice"
	expect_status 201
	[[ $(jb .user_message.parent_id) == "$first" ]] || false
	# the title: the echo model repeats the question, cut to 80 bytes
	for ((i = 0; i < 60; i++)); do
		api GET "/v1/conversations/$conv" "" "$alice"
		[[ $(jb .title) != null ]] && break
		sleep 0.05
	done
	[[ $(jb .title) == "Why is the sky blue at noon today?" ]] || false
	[[ $(jb '.messages | length') == 4 ]] || false
}

@test "a conversation with a title keeps it; a fake model's title is its first line without quotes" {
	api POST /v1/conversations '{"title":"Mine"}' "$alice"
	expect_status 201
	conv=$(jb .id)
	api POST "/v1/conversations/$conv/messages" '{"content":"hi"}' "$alice"
	expect_status 201
	sleep 0.3
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb .title) == Mine ]] || false
	# the same model is asked for the title
	new_conv
	api POST "/v1/conversations/$conv/messages" \
		'{"content":"\"Quoted  title\"\nsecond line","model":"openai/fake"}' "$alice"
	expect_status 201
	for ((i = 0; i < 60; i++)); do
		api GET "/v1/conversations/$conv" "" "$alice"
		[[ $(jb .title) != null ]] && break
		sleep 0.05
	done
	[[ $(jb .title) == "Quoted  title" ]] || false
}

@test "stop mid-stream: the upstream connection closes, the partial answer is stored as stopped" {
	curl -s -X POST "$FAKELLM_URL/_reset" >/dev/null
	new_conv
	out=$BATS_TEST_TMPDIR/stop.sse
	sse_send_bg "$conv" '{"content":"go","model":"openai/fake:words=50,delay_ms=10,stall_at=5"}' "$out"
	wait_deltas "$out" 5
	wait_stat active 1
	api POST "/v1/conversations/$conv/stop" "" "$alice"
	expect_status 200
	[[ $(jb .stopped) == true ]] || false
	wait "$pid"
	IFS= read -rd '' body <"$out" || true
	[[ $(sse_shape <<<"$body") == "message delta done" ]] || false
	sse_ids_increase <<<"$body"
	done=$(sse_last done <<<"$body")
	[[ $(jq -r .status <<<"$done") == stopped ]] || false
	[[ $(jq -r .content <<<"$done") == "$(fake_words 5)" ]] || false
	[[ $(sse_text <<<"$body") == "$(fake_words 5)" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].status') == stopped ]] || false
	[[ $(jb '.messages[1].content') == "$(fake_words 5)" ]] || false
	# aid closed its upstream request
	wait_stat aborted 1
	[[ $(fake_stat active) == 0 ]] || false
	# nothing runs now
	api POST "/v1/conversations/$conv/stop" "" "$alice"
	expect_status 200
	[[ $(jb .stopped) == false ]] || false
}

@test "one generation per conversation: 409 generation_in_progress, other conversations go on" {
	new_conv
	busy=$conv
	out=$BATS_TEST_TMPDIR/busy.sse
	sse_send_bg "$busy" '{"content":"go","model":"openai/fake:words=50,delay_ms=10,stall_at=2"}' "$out"
	wait_deltas "$out" 2
	api POST "/v1/conversations/$busy/messages" '{"content":"again"}' "$alice"
	expect_error 409 generation_in_progress
	user_id=$(sse_last message <"$out" | jq -r .id)
	api POST "/v1/conversations/$busy/messages/$user_id/regenerate" '{}' "$alice"
	expect_error 409 generation_in_progress
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"meanwhile"}' "$alice"
	expect_status 201
	api POST "/v1/conversations/$busy/stop" "" "$alice"
	[[ $(jb .stopped) == true ]] || false
	wait "$pid"
	# free again
	api POST "/v1/conversations/$busy/messages" '{"content":"now"}' "$alice"
	expect_status 201
}

@test "regenerate adds an assistant sibling, edit a user sibling; the leaf follows, GET shows sibling_ids" {
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"first question"}' "$alice"
	expect_status 201
	u1=$(jb .user_message.id)
	a1=$(jb .assistant_message.id)
	# regenerate an answer: a sibling of it
	api POST "/v1/conversations/$conv/messages/$a1/regenerate" '' "$alice"
	expect_status 201
	[[ $(jb .user_message.id) == "$u1" ]] || false
	[[ $(jb .assistant_message.parent_id) == "$u1" ]] || false
	a2=$(jb .assistant_message.id)
	[[ $a2 != "$a1" ]] || false
	# regenerate from the user message, with another model: a child of it
	api POST "/v1/conversations/$conv/messages/$u1/regenerate" '{"model":"openai/fake:words=3"}' "$alice"
	expect_status 201
	[[ $(jb .assistant_message.parent_id) == "$u1" ]] || false
	[[ $(jb .assistant_message.content) == "w1 w2 w3" ]] || false
	[[ $(jb .assistant_message.model) == "openai/fake:words=3" ]] || false
	a3=$(jb .assistant_message.id)
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb .current_leaf_id) == "$a3" ]] || false
	[[ $(jb '[.messages[].id] | join(",")') == "$u1,$a3" ]] || false
	[[ $(jb '.messages[1].sibling_ids | join(",")') == "$a1,$a2,$a3" ]] || false
	# edit the first question: a new root
	sse_post "/v1/conversations/$conv/messages" '{"content":"edited question","parent_id":null}'
	expect_status 200
	u2=$(sse_last message <<<"$body" | jq -r .id)
	[[ $(sse_last message <<<"$body" | jq -r .parent_id) == null ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages | length') == 2 ]] || false
	[[ $(jb '.messages[0].id') == "$u2" ]] || false
	[[ $(jb '.messages[0].sibling_ids | join(",")') == "$u1,$u2" ]] || false
	[[ $(jb '.messages[1].content') == "edited question" ]] || false
	# an answer to an explicit parent deeper in the tree
	api POST "/v1/conversations/$conv/messages" "{\"content\":\"follow-up\",\"parent_id\":\"$a2\"}" "$alice"
	expect_status 201
	[[ $(jb .user_message.parent_id) == "$a2" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '[.messages[].id][0:2] | join(",")') == "$u1,$a2" ]] || false
	# the history sent to the model is that branch (echo: the last user turn)
	[[ $(jb '.messages[-1].content') == "follow-up" ]] || false
}

@test "a client that leaves mid-stream resumes with Last-Event-ID: exactly the rest, no gap, no duplicate" {
	new_conv
	part=$BATS_TEST_TMPDIR/part.sse
	curl -sN --max-time 0.6 -H "Authorization: Bearer $alice" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary '{"content":"go","model":"openai/fake:words=40,delay_ms=40"}' \
		"$(base_url)/v1/conversations/$conv/messages" >"$part" || true
	[[ $(sse_shape <"$part") == "message delta" ]] || false
	last=$(sse_events <"$part" | tail -n 1 | cut -f1)
	sse_get "/v1/conversations/$conv/events" "$alice" -H "Last-Event-ID: $last"
	expect_status 200
	[[ $(sse_shape <<<"$body") == "delta done" ]] || false
	first=$(sse_events <<<"$body" | head -n 1 | cut -f1)
	((first > last))
	{ cat "$part"; echo "$body"; } | sse_ids_increase
	[[ "$(sse_text <"$part")$(sse_text <<<"$body")" == "$(fake_words 40)" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].content') == "$(fake_words 40)" ]] || false
	[[ $(jb '.messages[1].status') == complete ]] || false
	# once it is over, a resume replays what is kept and ends at once
	mid=$(sse_events <"$part" | sed -n 2p | cut -f1)
	sse_get "/v1/conversations/$conv/events?last_event_id=$mid" "$alice"
	expect_status 200
	[[ $(sse_shape <<<"$body") == "delta done" ]] || false
	[[ "$(sse_text <"$part" | cut -c1-2)$(sse_text <<<"$body")" == "$(fake_words 40)" ]] || false
	# nothing missed, nothing running: an empty stream
	done_id=$(sse_events <<<"$body" | tail -n 1 | cut -f1)
	sse_get "/v1/conversations/$conv/events" "$alice" -H "Last-Event-ID: $done_id"
	expect_status 200
	[[ -z $body ]] || false
	sse_get "/v1/conversations/$conv/events" "$alice"
	[[ -z $body ]] || false
	# an id older than what is kept: reset first
	sse_get "/v1/conversations/$conv/events" "$alice" -H "Last-Event-ID: 1"
	[[ $(sse_shape <<<"$body") == reset ]] || false
	[[ $(sse_last reset <<<"$body" | jq -r .reason) == gap ]] || false
}

@test "the log keeps the last 1024 events of a user: resuming from before them starts with reset" {
	# a user of its own (no other event can come between) and a title
	# (no title event after the answer)
	new_user carol
	alice=$access_token
	api POST /v1/conversations '{"title":"long"}' "$alice"
	conv=$(jb .id)
	# more than 1024 events: tokens paced past aid.coalesce_ms (0 in
	# this file), each its own delta unless two reach chatd in one read
	sse_post "/v1/conversations/$conv/messages" '{"content":"go","model":"openai/fake:words=1500,delay_ms=2"}'
	expect_status 200
	n=$(sse_events <<<"$body" | wc -l)
	((n > 1030)) || { echo "$n events" >&2; false; }
	[[ $(sse_text <<<"$body") == "$(seq -f 'w%g' 1500 | paste -sd' ')" ]] || false
	first=$(sse_events <<<"$body" | head -n 1 | cut -f1)
	kept=$(sse_events <<<"$body" | tail -n 1024 | head -n 1 | cut -f1)
	# the first kept event's predecessor is the oldest resumable id
	sse_get "/v1/conversations/$conv/events" "$alice" -H "Last-Event-ID: $first"
	[[ $(sse_shape <<<"$body") == reset ]] || false
	sse_get "/v1/conversations/$conv/events" "$alice" -H "Last-Event-ID: $((kept - 1))"
	[[ $(sse_shape <<<"$body") == "delta done" ]] || false
	[[ $(sse_events <<<"$body" | wc -l) == 1024 ]] || false
	sse_get "/v1/conversations/$conv/events" "$alice" -H "Last-Event-ID: $((kept - 2))"
	[[ $(sse_shape <<<"$body") == reset ]] || false
}

@test "a generation is detached from its client: it completes and is stored with nobody listening" {
	new_conv
	curl -sN --max-time 0.2 -H "Authorization: Bearer $alice" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary '{"content":"go","model":"openai/fake:words=12,delay_ms=40"}' \
		"$(base_url)/v1/conversations/$conv/messages" >/dev/null || true
	# partial text is stored while it streams
	wait_status "$conv" streaming
	for ((i = 0; i < 40; i++)); do
		api GET "/v1/conversations/$conv" "" "$alice"
		[[ -n $(jb '.messages[1].content') ]] && break
		sleep 0.05
	done
	[[ $(fake_words 12) == "$(jb '.messages[1].content')"* ]] || false
	wait_status "$conv" complete
	[[ $(jb '.messages[1].content') == "$(fake_words 12)" ]] || false
	[[ $(jb '.messages[1].usage.completion_tokens') == 12 ]] || false
}

@test "Idempotency-Key: a retry makes nothing new; 409 while the first runs; 422 with another body" {
	new_conv
	before=$(msg_count)
	api_args=(-H "Idempotency-Key: key-one")
	api POST "/v1/conversations/$conv/messages" '{"content":"only once"}' "$alice"
	expect_status 201
	first=$body
	api_args=(-H "Idempotency-Key: key-one")
	api POST "/v1/conversations/$conv/messages" '{"content":"only once"}' "$alice"
	expect_status 201
	[[ $(jb .user_message.id) == $(jq -r .user_message.id <<<"$first") ]] || false
	[[ $(jb .assistant_message.id) == $(jq -r .assistant_message.id <<<"$first") ]] || false
	[[ $(jb .assistant_message.content) == "only once" ]] || false
	[[ $(msg_count) == $((before + 2)) ]] || false
	api_args=(-H "Idempotency-Key: key-one")
	api POST "/v1/conversations/$conv/messages" '{"content":"something else"}' "$alice"
	expect_error 422 idempotency_key_reused
	# the same key on another account is another key
	new_conv "$bob"
	api_args=(-H "Idempotency-Key: key-one")
	api POST "/v1/conversations/$conv/messages" '{"content":"only once"}' "$bob"
	expect_status 201
	# while the first runs
	new_conv
	out=$BATS_TEST_TMPDIR/idem.sse
	req='{"content":"slow","model":"openai/fake:words=8,delay_ms=60"}'
	sse_send_bg "$conv" "$req" "$out" -H 'Idempotency-Key: key-two'
	wait_deltas "$out" 1
	api_args=(-H "Idempotency-Key: key-two")
	api POST "/v1/conversations/$conv/messages" "$req" "$alice"
	expect_error 409 idempotency_in_progress
	wait "$pid"
	count=$(msg_count)
	done=$(sse_last done <"$out")
	# after: the stored result, as JSON and as SSE
	api_args=(-H "Idempotency-Key: key-two")
	api POST "/v1/conversations/$conv/messages" "$req" "$alice"
	expect_status 201
	[[ $(jb .assistant_message.id) == $(jq -r .id <<<"$done") ]] || false
	[[ $(jb .assistant_message.content) == "$(fake_words 8)" ]] || false
	sse_post "/v1/conversations/$conv/messages" "$req" "$alice" -H 'Idempotency-Key: key-two'
	expect_status 200
	[[ $(sse_shape <<<"$body") == "message done" ]] || false
	sse_ids_increase <<<"$body"
	[[ $(sse_last done <<<"$body" | jq -r .id) == $(jq -r .id <<<"$done") ]] || false
	[[ $(sse_last message <<<"$body" | jq -r .id) == $(sse_last message <"$out" | jq -r .id) ]] || false
	[[ $(msg_count) == "$count" ]] || false
	# a key that failed before doing anything can be used again
	api_args=(-H "Idempotency-Key: key-three")
	api POST "/v1/conversations/00000000-0000-7000-8000-000000000000/messages" '{"content":"x"}' "$alice"
	expect_error 404 not_found
	api_args=(-H "Idempotency-Key: key-three")
	api POST "/v1/conversations/$conv/messages" '{"content":"x"}' "$alice"
	expect_status 201
}

@test "upstream failures: an error event with the partial answer kept; the waiting form answers 502" {
	new_conv
	sse_post "/v1/conversations/$conv/messages" '{"content":"go","model":"openai/fake:words=20,cut_at=4"}'
	expect_status 200
	[[ $(sse_shape <<<"$body") == "message delta error" ]] || false
	sse_ids_increase <<<"$body"
	err=$(sse_last error <<<"$body")
	[[ $(jq -r '.error.code | type' <<<"$err") == string ]] || false
	[[ $(jq -r .message.content <<<"$err") == "$(fake_words 4)" ]] || false
	status=$(jq -r .message.status <<<"$err")
	[[ $status == error || $status == truncated ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].content') == "$(fake_words 4)" ]] || false
	[[ $(jb '.messages[1].status') == "$status" ]] || false
	[[ $(jb '.messages[1].error.code') == $(jq -r .error.code <<<"$err") ]] || false
	# an error in the middle of the stream
	api POST "/v1/conversations/$conv/messages" '{"content":"go","model":"openai/fake:words=20,error_at=3"}' "$alice"
	expect_error 502 upstream_error
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[-1].content') == "$(fake_words 3)" ]] || false
	[[ $(jb '.messages[-1].status') == error ]] || false
	# a model aid does not know: refused before anything is stored
	# (chat-unknown-model.bats has the rest)
	before=$(msg_count)
	sse_post "/v1/conversations/$conv/messages" '{"content":"go","model":"no-such-model"}'
	expect_error 404 model_not_found
	[[ $(msg_count) == "$before" ]] || false
	# and the conversation goes on
	api POST "/v1/conversations/$conv/messages" '{"content":"still here"}' "$alice"
	expect_status 201
	[[ $(jb .assistant_message.content) == "still here" ]] || false
}

@test "another user's or an unknown id is 404 on every route of the live side" {
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"mine"}' "$alice"
	expect_status 201
	aconv=$conv
	au=$(jb .user_message.id)
	aa=$(jb .assistant_message.id)
	before=$(msg_count)
	new_conv "$bob"
	bconv=$conv
	api POST "/v1/conversations/$aconv/messages" '{"content":"theirs"}' "$bob"
	expect_error 404 not_found
	api POST "/v1/conversations/$aconv/messages/$aa/regenerate" '{}' "$bob"
	expect_error 404 not_found
	api POST "/v1/conversations/$aconv/stop" "" "$bob"
	expect_error 404 not_found
	api GET "/v1/conversations/$aconv/events" "" "$bob"
	expect_error 404 not_found
	api_args=(-H "Last-Event-ID: 1")
	api GET "/v1/conversations/$aconv/events" "" "$bob"
	expect_error 404 not_found
	# alice's message ids inside bob's own conversation
	api POST "/v1/conversations/$bconv/messages/$aa/regenerate" '{}' "$bob"
	expect_error 404 not_found
	api POST "/v1/conversations/$bconv/messages/$au/regenerate" '{}' "$bob"
	expect_error 404 not_found
	api POST "/v1/conversations/$bconv/messages" "{\"content\":\"x\",\"parent_id\":\"$aa\"}" "$bob"
	expect_error 404 not_found
	# alice's message ids in another conversation of alice
	new_conv
	api POST "/v1/conversations/$conv/messages" "{\"content\":\"x\",\"parent_id\":\"$aa\"}" "$alice"
	expect_error 404 not_found
	# unknown and malformed ids
	for id in 00000000-0000-7000-8000-000000000000 not-a-uuid; do
		api POST "/v1/conversations/$id/messages" '{"content":"x"}' "$alice"
		expect_error 404 not_found
		api POST "/v1/conversations/$id/stop" "" "$alice"
		expect_error 404 not_found
		api GET "/v1/conversations/$id/events" "" "$alice"
		expect_error 404 not_found
		api POST "/v1/conversations/$aconv/messages/$id/regenerate" '{}' "$alice"
		expect_error 404 not_found
	done
	[[ $(msg_count) == "$before" ]] || false
	# and none of it needs less than a caller
	api POST "/v1/conversations/$aconv/messages" '{"content":"x"}'
	expect_error 401 unauthorized
}

@test "bad input: malformed JSON, wrong types, empty or oversized content, broken UTF-8, bad ids and keys" {
	new_conv
	before=$(msg_count)
	path=/v1/conversations/$conv/messages
	api POST "$path" '{"content":' "$alice"
	expect_error 400 invalid_json
	api POST "$path" '["content"]' "$alice"
	expect_error 400 invalid_json
	api POST "$path" '' "$alice"
	expect_error 400 invalid_json
	api POST "$path" '{"content":"a\u0000b"}' "$alice"
	expect_error 400 invalid_json
	api POST "$path" '{"content":"a","parent_id":null,"content":"b"}' "$alice"
	expect_error 400 invalid_json
	[[ $(jb .error.message) == "duplicate key 'content'" ]] || false
	printf '{"content":"caf\xc3"}' >"$BATS_TEST_TMPDIR/bad.json"
	api POST "$path" "@$BATS_TEST_TMPDIR/bad.json" "$alice"
	expect_error 400 invalid_json
	for b in '{}' '{"content":""}' '{"content":5}' '{"content":null}' \
		'{"content":["x"]}' '{"content":"x","parent_id":5}' \
		'{"content":"x","parent_id":{}}' '{"content":"x","model":5}' \
		'{"content":"x","model":""}'; do
		api POST "$path" "$b" "$alice"
		expect_error 400 invalid_field
	done
	long=$(head -c 129 /dev/zero | tr '\0' m)
	api POST "$path" "{\"content\":\"x\",\"model\":\"$long\"}" "$alice"
	expect_error 400 invalid_field
	# content: 1 MiB is the ceiling
	big=$BATS_TEST_TMPDIR/big.json
	{ printf '{"content":"'; head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' a; printf '"}'; } >"$big"
	api POST "$path" "@$big" "$alice"
	expect_error 400 invalid_field
	api POST "/v1/conversations/$conv/messages/00000000-0000-7000-8000-000000000000/regenerate" '{"model":7}' "$alice"
	expect_error 400 invalid_field
	api POST "/v1/conversations/$conv/messages/00000000-0000-7000-8000-000000000000/regenerate" '{"model":' "$alice"
	expect_error 400 invalid_json
	api_args=(-H "Idempotency-Key: $(head -c 129 /dev/zero | tr '\0' k)")
	api POST "$path" '{"content":"x"}' "$alice"
	expect_error 400 invalid_field
	api GET "/v1/conversations/$conv/events?last_event_id=abc" "" "$alice"
	expect_error 400 invalid_field
	api_args=(-H "Last-Event-ID: 99999999999999999999999")
	api GET "/v1/conversations/$conv/events" "" "$alice"
	expect_error 400 invalid_field
	[[ $(msg_count) == "$before" ]] || false
	# exactly 1 MiB of multi-byte text is fine
	{ printf '{"content":"'; head -c $((512 * 1024)) /dev/zero | tr '\0' '\1' |
		sed 's/\x01/é/g'; printf '"}'; } >"$big"
	api POST "$path" "@$big" "$alice"
	expect_status 201
	[[ $(jb '.user_message.content | utf8bytelength') == $((1024 * 1024)) ]] || false
}

@test "the upstream killed mid-stream: an error event, the partial answer kept, the stack healthy" {
	new_conv
	out=$BATS_TEST_TMPDIR/kill.sse
	sse_send_bg "$conv" '{"content":"go","model":"openai/fake:words=30,delay_ms=10,stall_at=3"}' "$out"
	wait_deltas "$out" 3
	kill -9 "$(<"$BATS_FILE_TMPDIR/fakellm.pid")"
	wait "$pid"
	IFS= read -rd '' body <"$out" || true
	[[ $(sse_shape <<<"$body") == "message delta error" ]] || false
	err=$(sse_last error <<<"$body")
	[[ $(jq -r .message.content <<<"$err") == "$(fake_words 3)" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].content') == "$(fake_words 3)" ]] || false
	status=$(jb '.messages[1].status')
	[[ $status == error || $status == truncated ]] || false
	# healthy: the stack is ready and the next answer works
	api GET /readyz
	expect_status 200
	sse_post "/v1/conversations/$conv/messages" '{"content":"after the storm"}'
	[[ $(sse_shape <<<"$body") == "message delta done" ]] || false
	[[ $(sse_text <<<"$body") == "after the storm" ]] || false
	[[ -n $(daemon_pid chatd) ]] && process_alive "$(daemon_pid chatd)"
}

@test "chatd killed mid-answer: the client's stream through the gateway ends as an error, never as complete" {
	new_conv
	out=$BATS_TEST_TMPDIR/killed.sse
	# the echo model, 5 ms a word (the fake LLM was killed before)
	words=$(printf 'w%d ' $(seq 1 400))
	sse_send_bg "$conv" "{\"content\":\"$words\"}" "$out"
	for ((i = 0; i < 200; i++)); do
		grep -q '^event: delta' "$out" 2>/dev/null && break
		sleep 0.05
	done
	grep -q '^event: delta' "$out" || { cat "$out"; false; }
	kill -9 "$(daemon_pid chatd)"
	rc=0
	wait "$pid" || rc=$?
	# curl's 18: the connection closed before the chunked body's end
	[[ $rc == 18 ]] || false
	run ! grep -q '^event: done' "$out"
	start_daemon chatd
	api GET /readyz
	expect_status 200
}
