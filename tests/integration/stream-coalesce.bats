#!/usr/bin/env bats
# Coalesced deltas (aid.coalesce_ms, here 1000 ms so that what merges is
# certain on a loaded machine): a burst of tokens reaches the client as
# a few delta events whose text is exactly the stored answer; the first
# token goes alone and at once; a stop mid-burst keeps streamed and
# stored text equal; a WebSocket of the same user sees the same merged
# deltas.  The fake upstream (tests/fixtures/fakellm) sends one token a
# send().

setup_file() {
	load test_helper
	load chat-common
	chat_stack "coalesce_ms = 1000"
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

# The data of each delta event of the SSE file $1, one a line.
deltas() {
	awk '/^event: / { ev = substr($0, 8); next }
		/^data: / { if (ev == "delta") print substr($0, 7); next }
		/^$/ { ev = "" }' "$1"
}

# The data of the last event named $2 of the SSE file $1.
last_event() {
	awk -v want="$2" '/^event: / { ev = substr($0, 8); next }
		/^data: / { if (ev == want) d = substr($0, 7); next }
		/^$/ { ev = "" } END { print d }' "$1"
}

# send_bg BODY OUT: alice's send to $conv in the SSE form, in the
# background, the stream into OUT; its pid in $pid.
send_bg() {
	curl -sN --max-time 20 -H "Authorization: Bearer $alice" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary "$1" "$(base_url)/v1/conversations/$conv/messages" \
		>"$2" 3>&- &
	pid=$!
}

# words N: "w1 w2 ... wN", the fake upstream's answer (fake_words, fast
# for thousands of words)
words() {
	seq -f 'w%g' "$1" | paste -sd' '
}

# wait_n_deltas FILE N: waits up to 10 s for N delta events in FILE.
wait_n_deltas() {
	local i n
	for ((i = 0; i < 200; i++)); do
		n=$(grep -c '^event: delta' "$1" 2>/dev/null) || n=0
		((n >= $2)) && return 0
		sleep 0.05
	done
	echo "no $2 deltas in $1:" >&2
	cat "$1" >&2
	return 1
}

@test "a burst of 300 tokens arrives as a few deltas, the first alone, the text exact on SSE and WebSocket" {
	new_conv
	ws_out=$BATS_TEST_TMPDIR/ws.out
	mkfifo "$BATS_TEST_TMPDIR/ws.in"
	sleep 30 >"$BATS_TEST_TMPDIR/ws.in" 3>&- &
	feed=$!
	"$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws" -H "Authorization: Bearer $alice" \
		-t 30 <"$BATS_TEST_TMPDIR/ws.in" >"$ws_out" 3>&- &
	ws=$!
	for ((i = 0; i < 200; i++)); do
		grep -q '^open' "$ws_out" && break
		sleep 0.05
	done
	grep -q '^open' "$ws_out" || false

	out=$BATS_TEST_TMPDIR/burst.sse
	send_bg '{"content":"go","model":"openai/fake:words=300"}' "$out"
	full=$(words 300)
	wait "$pid"
	n=$(deltas "$out" | wc -l)
	# one event per token before coalescing; now the first, then what
	# came within the window (a slow machine may split it once more)
	((n >= 2 && n <= 4)) || { echo "$n delta events" >&2; false; }
	[[ $(deltas "$out" | head -1 | jq -r .text) == w1 ]] || false
	[[ $(deltas "$out" | jq -rj .text) == "$full" ]] || false
	done=$(last_event "$out" done)
	[[ $(jq -r .status <<<"$done") == complete ]] || false
	[[ $(jq -r .content <<<"$done") == "$full" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].content') == "$full" ]] || false

	# the WebSocket had the same events
	for ((i = 0; i < 200; i++)); do
		grep -q '"type":"done"' "$ws_out" && break
		sleep 0.05
	done
	kill "$feed"
	wait "$ws"
	ws_deltas=$(grep '^{' "$ws_out" | jq -c 'select(.type == "delta") | .data')
	[[ $(wc -l <<<"$ws_deltas") == "$n" ]] || false
	[[ $(jq -rj .text <<<"$ws_deltas") == "$full" ]] || false
}

@test "the first token is not held back by the window" {
	new_conv
	out=$BATS_TEST_TMPDIR/first.sse
	start=$(date +%s%N)
	# the second token comes 1.5 s after the first, past the window
	send_bg '{"content":"go","model":"openai/fake:words=2,delay_ms=1500"}' "$out"
	wait_n_deltas "$out" 1
	ms=$((($(date +%s%N) - start) / 1000000))
	# held back, it would come after the 1000 ms window
	((ms < 800)) || { echo "first delta after $ms ms" >&2; false; }
	[[ $(deltas "$out" | jq -rj .text) == w1 ]] || false
	wait "$pid"
	[[ $(deltas "$out" | wc -l) == 2 ]] || false
	[[ $(deltas "$out" | jq -rj .text) == "w1 w2" ]] || false
}

@test "a stop mid-burst: the merged deltas streamed are exactly what is stored" {
	curl -s -X POST "$FAKELLM_URL/_reset" >/dev/null
	new_conv
	out=$BATS_TEST_TMPDIR/stop.sse
	# ~1 token a ms for 5 s: a window's worth merges into each delta
	send_bg '{"content":"go","model":"openai/fake:words=5000,delay_ms=1"}' "$out"
	wait_n_deltas "$out" 2
	api POST "/v1/conversations/$conv/stop" "" "$alice"
	expect_status 200
	[[ $(jb .stopped) == true ]] || false
	wait "$pid"
	done=$(last_event "$out" done)
	[[ $(jq -r .status <<<"$done") == stopped ]] || false
	text=$(deltas "$out" | jq -rj .text)
	full=$(words 5000)
	# more than the first token, less than the whole answer, its start
	((${#text} > 2 && ${#text} < ${#full})) || false
	[[ ${full:0:${#text}} == "$text" ]] || false
	[[ $(jq -r .content <<<"$done") == "$text" ]] || false
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].status') == stopped ]] || false
	[[ $(jb '.messages[1].content') == "$text" ]] || false
	# the merged events are fewer than the tokens they carry
	words=$(wc -w <<<"$text")
	n=$(deltas "$out" | wc -l)
	((n < words)) || false
	wait_stat aborted 1
}
