#!/usr/bin/env bats
# fakellm.bats - the fake LLM upstream (tests/fixtures/fakellm) does what
# its top comment promises, since the aid and chatd tests rely on it:
# each wire format, and the switches split, crlf, comments, multiline,
# usage, error_at, cut_at, stall_at, status+fail, redirect, and the
# counters of /_stats.

setup_file() {
	load test_helper
	start_fakellm
}

teardown_file() {
	load test_helper
	stop_fakellm
	# a sanitizer build (make asan) reports into the log as it exits
	! grep -E -A20 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
		"$BATS_FILE_TMPDIR/fakellm.log" >&2
}

setup() {
	load test_helper
}

# fl PATH MODEL [JSON-FIELDS] [CURL-ARGS...]: POSTs a chat request with
# one user message "Hello big world" (JSON-FIELDS are added to the
# request object, e.g. '"stream":true'); the raw answer body on stdout.
fl() {
	local path=$1 model=$2 extra=${3:-}
	shift 3 || shift $#
	curl -sN --max-time 5 "$@" "$FAKELLM_URL$path" \
		-d "{\"model\":\"$model\",${extra:+$extra,}\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"Hello big world\"}]}"
}

# The data: payloads of an SSE stream, one per line.
sse_data() {
	sed -n 's/\r$//; s/^data: //p'
}

# The text of an OpenAI stream's content deltas.
openai_text() {
	sse_data | grep -v '^\[DONE\]$' | jq -j '.choices[0].delta.content // empty'
}

@test "fakellm: OpenAI, not streaming: the echo and its usage" {
	run -0 fl /v1/chat/completions fake
	[[ $(jq -r '.object' <<<"$output") == chat.completion ]] || false
	[[ $(jq -r '.choices[0].message.content' <<<"$output") == "Hello big world" ]] || false
	[[ $(jq -r '.choices[0].finish_reason' <<<"$output") == stop ]] || false
	# prompt: "be brief" + "Hello big world"; completion: the three words
	[[ $(jq -c '.usage' <<<"$output") == '{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}' ]] || false
}

@test "fakellm: OpenAI stream: role chunk, one chunk per token, finish, [DONE]" {
	run -0 fl /v1/chat/completions fake '"stream":true'
	[[ $(openai_text <<<"$output") == "Hello big world" ]] || false
	[[ $(sse_data <<<"$output" | tail -n 1) == "[DONE]" ]] || false
	[[ $(sse_data <<<"$output" | head -n 1 | jq -r '.choices[0].delta.role') == assistant ]] || false
	[[ $(sse_data <<<"$output" | grep -c '"content":"') == 4 ]] || false
	[[ $(sse_data <<<"$output" | grep -v DONE | tail -n 1 | jq -r '.choices[0].finish_reason') == stop ]] || false
	# no usage chunk unless asked
	! grep -q '"usage"' <<<"$output"
}

@test "fakellm: OpenAI usage chunk: with the usage switch and with include_usage" {
	for args in "fake:usage|\"stream\":true" \
		"fake|\"stream\":true,\"stream_options\":{\"include_usage\":true}"; do
		run -0 fl /v1/chat/completions "${args%%|*}" "${args#*|}"
		last=$(sse_data <<<"$output" | grep -v DONE | tail -n 1)
		[[ $(jq -c '[.choices, .usage]' <<<"$last") == '[[],{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}]' ]] || false
	done
}

@test "fakellm: words=N and max_tokens" {
	run -0 fl /v1/chat/completions fake:words=4 '"stream":true'
	[[ $(openai_text <<<"$output") == "w1 w2 w3 w4" ]] || false
	run -0 fl /v1/chat/completions fake:words=10 '"max_tokens":2'
	[[ $(jq -r '.choices[0].message.content' <<<"$output") == "w1 w2" ]] || false
	[[ $(jq -r '.choices[0].finish_reason' <<<"$output") == length ]] || false
}

@test "fakellm: the echo takes OpenAI's array-of-parts content" {
	run -0 curl -s --max-time 5 "$FAKELLM_URL/v1/chat/completions" -d \
		'{"model":"fake","messages":[{"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]}]}'
	[[ $(jq -r '.choices[0].message.content' <<<"$output") == $'part one\ntwo' ]] || false
}

@test "fakellm: Ollama NDJSON stream (the default) and stream:false" {
	run -0 fl /api/chat fake
	[[ ${#lines[@]} == 4 ]] || false
	[[ $(jq -j '.message.content' <<<"$output") == "Hello big world" ]] || false
	[[ $(jq -c '[.done, .done_reason, .prompt_eval_count, .eval_count]' <<<"${lines[3]}") == '[true,"stop",5,3]' ]] || false
	[[ $(jq -r '.done' <<<"${lines[0]}") == false ]] || false
	run -0 fl /api/chat fake '"stream":false'
	[[ $(jq -c '[.message.content, .done]' <<<"$output") == '["Hello big world",true]' ]] || false
}

@test "fakellm: Anthropic stream: the event sequence and its usage" {
	run -0 fl /v1/messages fake:words=2 '"stream":true'
	events=$(sed -n 's/^event: //p' <<<"$output" | tr '\n' ' ')
	[[ $events == "message_start content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop " ]] || false
	data=$(sse_data <<<"$output")
	[[ $(head -n 1 <<<"$data" | jq -r '.message.usage.input_tokens') == 5 ]] || false
	[[ $(jq -j 'select(.type == "content_block_delta") | .delta.text' <<<"$data") == "w1 w2" ]] || false
	[[ $(jq -c 'select(.type == "message_delta") | [.delta.stop_reason, .usage.output_tokens]' <<<"$data") == '["end_turn",2]' ]] || false
	run -0 fl /v1/messages fake
	[[ $(jq -c '[.type, .content[0].text, .stop_reason, .usage.input_tokens, .usage.output_tokens]' <<<"$output") == '["message","Hello big world","end_turn",5,3]' ]] || false
}

@test "fakellm: model listings" {
	run -0 curl -s "$FAKELLM_URL/v1/models"
	[[ $(jq -r '.object' <<<"$output") == list ]] || false
	[[ $(jq -r '.data[0] | "\(.id) \(.object)"' <<<"$output") == "fake model" ]] || false
	run -0 curl -s -H 'anthropic-version: 2023-06-01' "$FAKELLM_URL/v1/models"
	[[ $(jq -r '.data[0] | "\(.id) \(.type)"' <<<"$output") == "fake model" ]] || false
	run -0 curl -s "$FAKELLM_URL/api/tags"
	[[ $(jq -r '.models[0].name' <<<"$output") == fake ]] || false
}

@test "fakellm: split=N sends the same bytes in N-byte pieces ~1 ms apart" {
	# ids differ per request; the rest must be byte for byte the same
	norm() { sed 's/chatcmpl-fake-[0-9]*/ID/; s/"created":[0-9]*/"created":0/'; }
	whole=$(fl /v1/chat/completions fake:words=3 '"stream":true' | norm)
	start=$(date +%s%N)
	split=$(fl /v1/chat/completions fake:words=3,split=40 '"stream":true' | norm)
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	[[ ${split//fake:words=3,split=40/fake:words=3} == "$whole" ]] || false
	# about 1000 bytes in 40-byte pieces: at least 20 pauses of 1 ms
	((elapsed_ms >= 20)) || false
}

@test "fakellm: crlf ends every SSE line with CRLF, comments add keep-alive lines" {
	fl /v1/chat/completions fake:words=2,crlf,comments '"stream":true' \
		>"$BATS_TEST_TMPDIR/out"
	total=$(wc -l <"$BATS_TEST_TMPDIR/out")
	crlf=$(grep -c $'\r$' "$BATS_TEST_TMPDIR/out")
	((total > 10)) || false
	[[ $crlf == "$total" ]] || false
	[[ $(grep -c '^: keep-alive' "$BATS_TEST_TMPDIR/out") == 5 ]] || false
	[[ $(tr -d '\r' <"$BATS_TEST_TMPDIR/out" | openai_text) == "w1 w2" ]] || false
}

@test "fakellm: multiline spreads data over lines that join into the JSON" {
	run -0 fl /v1/chat/completions fake:words=2,multiline '"stream":true'
	# more data: lines than events, and each event's lines joined by \n
	# parse as one JSON object
	[[ $(grep -c '^data: ' <<<"$output") -gt 20 ]] || false
	joined=$(awk '/^data: /{ sub(/^data: /, ""); ev = ev (ev == "" ? "" : "\n") $0; next }
		/^$/ { if (ev != "" && ev != "[DONE]") print ev; ev = "" }' <<<"$output" |
		jq -sj '.[] | .choices[0].delta.content // empty')
	[[ $joined == "w1 w2" ]] || false
}

@test "fakellm: error_at puts an error in each format's stream" {
	run -0 fl /v1/chat/completions fake:words=5,error_at=2 '"stream":true'
	[[ $(openai_text <<<"$output") == "w1 w2" ]] || false
	[[ $(sse_data <<<"$output" | tail -n 1 | jq -r '.error.code') == fake_error ]] || false
	! grep -q DONE <<<"$output" || false
	run -0 fl /api/chat fake:words=5,error_at=1
	[[ $(jq -r '.error // empty' <<<"${lines[1]}") == "fake error after 1 tokens" ]] || false
	run -0 fl /v1/messages fake:words=5,error_at=0 '"stream":true'
	[[ $(grep '^event: ' <<<"$output" | tail -n 1) == "event: error" ]] || false
	[[ $(sse_data <<<"$output" | tail -n 1 | jq -r '.error.type') == overloaded_error ]] || false
	run -0 curl -s -w '\n%{http_code}' "$FAKELLM_URL/v1/chat/completions" \
		-d '{"model":"fake:error_at=1","messages":[]}'
	[[ ${lines[1]} == 500 ]] || false
}

@test "fakellm: cut_at closes without the end marker" {
	# chunked: the final chunk is missing too, so curl reports a partial
	# transfer (18)
	run -18 fl /v1/chat/completions fake:words=5,cut_at=2 '"stream":true'
	[[ $(openai_text <<<"$output") == "w1 w2" ]] || false
	! grep -q DONE <<<"$output" || false
	# `close`: the body ends at the close, a clean end for HTTP
	run -0 fl /v1/messages fake:words=5,cut_at=3,close '"stream":true'
	[[ $(grep -c content_block_delta <<<"$output") == 6 ]] || false
	! grep -q message_stop <<<"$output"
}

@test "fakellm: status=CODE,fail=K fails the first K requests of that model name" {
	model=fake:status=429,fail=2,retry_after=7,words=$RANDOM
	for want in 429 429 200 200; do
		run -0 curl -s -D "$BATS_TEST_TMPDIR/h" -w '\n%{http_code}' \
			"$FAKELLM_URL/v1/chat/completions" \
			-d "{\"model\":\"$model\",\"messages\":[]}"
		[[ ${lines[-1]} == "$want" ]] || false
		if [[ $want == 429 ]]; then
			grep -qi '^retry-after: 7' "$BATS_TEST_TMPDIR/h"
			[[ $(jq -r '.error.code' <<<"${lines[0]}") == fake_status ]] || false
		fi
	done
	# without fail=: always; Anthropic's error shape
	run -0 curl -s -w '\n%{http_code}' "$FAKELLM_URL/v1/messages" \
		-d '{"model":"fake:status=529","messages":[]}'
	[[ ${lines[1]} == 529 ]] || false
	[[ $(jq -r '.error.type' <<<"${lines[0]}") == overloaded_error ]] || false
}

@test "fakellm: redirect answers 302 to /_redirected" {
	run -0 curl -s -o /dev/null -w '%{http_code} %{redirect_url}' \
		"$FAKELLM_URL/v1/chat/completions" -d '{"model":"fake:redirect","messages":[]}'
	[[ $output == "302 $FAKELLM_URL/_redirected" ]] || false
}

@test "fakellm: bad requests get 400 and the server lives on" {
	run -0 curl -s -w '\n%{http_code}' "$FAKELLM_URL/v1/chat/completions" -d '{"model":'
	[[ ${lines[1]} == 400 && $(jq -r '.error.code' <<<"${lines[0]}") == invalid_json ]] || false
	run -0 curl -s -w '\n%{http_code}' "$FAKELLM_URL/api/chat" -d '{"model":"fake:bogus","messages":[]}'
	[[ ${lines[1]} == 400 && $(jq -r '.error' <<<"${lines[0]}") == "unknown fake option 'bogus'" ]] || false
	run -0 curl -s -w '\n%{http_code}' "$FAKELLM_URL/v1/messages" -d '{"model":"fake"}'
	[[ ${lines[1]} == 400 ]] || false
	# garbage instead of HTTP
	printf 'NONSENSE\r\n\r\n' >/dev/tcp/127.0.0.1/"$FAKELLM_PORT" || true
	run -0 curl -s -o /dev/null -w '%{http_code}' "$FAKELLM_URL/nowhere"
	[[ $output == 404 ]] || false
	run -0 curl -s -o /dev/null -w '%{http_code}' "$FAKELLM_URL/_stats"
	[[ $output == 200 ]] || false
}

@test "fakellm: /_stats counts completed, aborted (client gone) and cut" {
	run -0 curl -s -X POST "$FAKELLM_URL/_reset"
	fl /v1/chat/completions fake:words=2 '"stream":true' >/dev/null
	# the client leaves during a stall and during a slow stream (both at
	# once, to keep the file fast)
	fl /v1/chat/completions fake:words=5,stall_at=1 '"stream":true' --max-time 0.2 >/dev/null &
	pid1=$!
	fl /api/chat fake:words=50,delay_ms=50 '' --max-time 0.2 >/dev/null &
	pid2=$!
	rc1=0 rc2=0
	wait "$pid1" || rc1=$?
	wait "$pid2" || rc2=$?
	[[ $rc1 == 28 && $rc2 == 28 ]] || false
	run -18 fl /v1/chat/completions fake:words=5,cut_at=1 '"stream":true'
	run -0 curl -s -H 'Authorization: Bearer sk-test-1' "$FAKELLM_URL/v1/models"
	# the server notices a leaving client within its pause
	for ((i = 0; i < 50; i++)); do
		fakellm_stats
		[[ $(jq -r '.active' <<<"$body") == 0 ]] && break
		sleep 0.02
	done
	[[ $(jq -c '[.requests, .active, .completed, .aborted, .cut, .models]' <<<"$body") == '[4,0,1,2,1,1]' ]] || false
	[[ $(jq -r '.auth' <<<"$body") == "Bearer sk-test-1" ]] || false
	run -0 curl -s -X POST "$FAKELLM_URL/_reset"
	fakellm_stats
	[[ $(jq -c '[.requests, .completed, .aborted, .cut, .auth]' <<<"$body") == '[0,0,0,0,""]' ]] || false
}
