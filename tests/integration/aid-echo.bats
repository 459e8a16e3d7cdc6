#!/usr/bin/env bats
# aid with the built-in echo model, through the gateway: /v1/models and
# /v1/chat/completions in the OpenAI wire format (streaming, usage chunk,
# max_tokens, stop, bad input, unknown model, API keys), the internal
# /internal/generate of chatd, pacing, stop, prompt trimming and usage.

setup_file() {
	load test_helper
	load aid-common
	start_stack "[routes]" "/v1/models = aid" "/v1/chat = aid" \
		"[aid]" "echo_delay_ms = 30" "models = tiny, roomy" \
		"[model.tiny]" "provider = echo" "context_window = 120" \
		"aliases = small" \
		"[model.roomy]" "provider = echo" || return 1
	new_user "aiduser" || return 1
	{
		echo "token=$access_token"
		echo "aid_user_id=$user_id"
	} >"$BATS_FILE_TMPDIR/aid-tokens"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load aid-common
	aid_setup
}

@test "GET /v1/models lists echo and the named models in OpenAI's list format" {
	api GET /v1/models "" "$token"
	expect_status 200
	[[ $(jb .object) == list ]] || false
	[[ $(jb '[.data[].id] | sort | join(",")') == echo,roomy,small,tiny ]] || false
	[[ $(jb '[.data[] | select(.object == "model" and (.created | type) == "number"
		and .owned_by == "echo")] | length') == 4 ]] || false
	api GET /v1/models/small "" "$token"
	expect_status 200
	[[ $(jb .id) == small && $(jb .owned_by) == echo ]] || false
	api GET /v1/models/nope "" "$token"
	expect_openai_error 404 model_not_found
}

@test "the OpenAI routes need a caller" {
	api GET /v1/models
	expect_error 401 unauthorized
	api POST /v1/chat/completions "$(chat_body echo)"
	expect_error 401 unauthorized
}

@test "a non-streaming completion is a chat.completion with the echo and usage" {
	chat "$(chat_body echo false)"
	expect_status 200
	[[ $(jb .object) == chat.completion && $(jb .id) == chatcmpl-* ]] || false
	[[ $(jb .model) == echo && $(jb '.created | type') == number ]] || false
	[[ $(jb '.choices | length') == 1 && $(jb '.choices[0].index') == 0 ]] || false
	[[ $(jb .choices[0].message.role) == assistant ]] || false
	[[ $(jb .choices[0].message.content) == "say something" ]] || false
	[[ $(jb .choices[0].finish_reason) == stop ]] || false
	[[ $(jb .usage.completion_tokens) == 2 ]] || false
	(($(jb .usage.prompt_tokens) > 0)) || false
	[[ $(jb '.usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens') == true ]] || false
}

@test "a streaming completion is chunks, a finish chunk and [DONE]" {
	chat "$(chat_body echo true)"
	expect_status 200
	header content-type | grep -q '^text/event-stream' || false
	[[ $(stream_text) == "say something" ]] || false
	first=$(stream_chunks | head -n 1)
	[[ $(jq -r .choices[0].delta.role <<<"$first") == assistant ]] || false
	[[ $(jq -r .object <<<"$first") == chat.completion.chunk ]] || false
	# one id for every chunk, no usage without include_usage
	[[ $(stream_chunks | jq -r .id | sort -u | wc -l) == 1 ]] || false
	[[ $(stream_chunks | jq -r .id | head -n 1) == chatcmpl-* ]] || false
	[[ $(stream_chunks | jq -c 'select(has("usage"))' | wc -l) == 0 ]] || false
	[[ $(stream_chunks | tail -n 1 | jq -r .choices[0].finish_reason) == stop ]] || false
	[[ $(stream_chunks | jq -r '.choices[0].finish_reason' | grep -vc null) == 1 ]] || false
	[[ $(sed -n 's/^data: //p' <<<"$body" | tail -n 1) == "[DONE]" ]] || false
}

@test "stream_options.include_usage adds a usage chunk with no choices" {
	chat "$(chat_body echo true '{"stream_options":{"include_usage":true}}')"
	expect_status 200
	last=$(stream_chunks | tail -n 1)
	[[ $(jq -c .choices <<<"$last") == "[]" ]] || false
	[[ $(jq -r .usage.completion_tokens <<<"$last") == 2 ]] || false
	[[ $(jq -r '.usage.total_tokens > .usage.completion_tokens' <<<"$last") == true ]] || false
	# every chunk before it says usage: null
	[[ $(stream_chunks | head -n -1 | jq -r .usage | sort -u) == null ]] || false
	[[ $(sed -n 's/^data: //p' <<<"$body" | tail -n 1) == "[DONE]" ]] || false
}

@test "max_tokens and max_completion_tokens cut the answer with finish_reason length" {
	msg='{"messages":[{"role":"user","content":"one two three four five"}]}'
	chat "$(chat_body echo false "$msg" | jq -c '. + {max_tokens: 2}')"
	expect_status 200
	[[ $(jb .choices[0].message.content) == "one two" ]] || false
	[[ $(jb .choices[0].finish_reason) == length ]] || false
	chat "$(chat_body echo true "$msg" | jq -c '. + {max_completion_tokens: 3}')"
	expect_status 200
	[[ $(stream_text) == "one two three" ]] || false
	[[ $(stream_chunks | tail -n 1 | jq -r .choices[0].finish_reason) == length ]] || false
}

@test "stop sequences end the echo before them" {
	msg='{"messages":[{"role":"user","content":"alpha beta STOP gamma"}]}'
	chat "$(chat_body echo false "$msg" | jq -c '. + {stop: "STOP"}')"
	expect_status 200
	[[ $(jb .choices[0].message.content) == "alpha beta " ]] || false
	chat "$(chat_body echo false "$msg" | jq -c '. + {stop: ["gamma", "beta"]}')"
	expect_status 200
	[[ $(jb .choices[0].message.content) == "alpha " ]] || false
}

@test "text parts, system and developer messages are accepted" {
	chat '{"model":"echo","messages":[{"role":"system","content":"be brief"},
		{"role":"developer","content":[{"type":"text","text":"really"}]},
		{"role":"user","content":"earlier"},{"role":"assistant","content":"ok"},
		{"role":"user","content":[{"type":"text","text":"part one "},
		{"type":"text","text":"part two"}]}],"temperature":0.5,"top_p":1,"n":1}'
	expect_status 200
	[[ $(jb .choices[0].message.content) == "part one part two" ]] || false
}

@test "bad requests get 400 in OpenAI's error shape, naming the parameter" {
	local -a cases=(
		'not json|invalid_json|null'
		'{"messages":[{"role":"user","content":"x"}]}|missing_required_parameter|model'
		'{"model":5,"messages":[{"role":"user","content":"x"}]}|invalid_type|model'
		'{"model":"echo"}|missing_required_parameter|messages'
		'{"model":"echo","messages":{}}|invalid_type|messages'
		'{"model":"echo","messages":[]}|invalid_value|messages'
		'{"model":"echo","messages":["hi"]}|invalid_type|messages'
		'{"model":"echo","messages":[{"role":"tool","content":"x"}]}|invalid_value|messages'
		'{"model":"echo","messages":[{"content":"x"}]}|invalid_value|messages'
		'{"model":"echo","messages":[{"role":"user","content":5}]}|invalid_type|messages'
		'{"model":"echo","messages":[{"role":"user","content":null}]}|invalid_type|messages'
		'{"model":"echo","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}|invalid_value|messages'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"stream":"yes"}|invalid_type|stream'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}|invalid_value|stream_options'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":1}}|invalid_type|stream_options'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"max_tokens":0}|invalid_value|max_tokens'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}|invalid_value|max_tokens'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"max_completion_tokens":"9"}|invalid_value|max_completion_tokens'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"temperature":3}|invalid_value|temperature'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"top_p":-1}|invalid_value|top_p'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}|invalid_type|stop'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"stop":[""]}|invalid_value|stop'
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"n":2}|invalid_value|n'
	)
	local c req code param
	for c in "${cases[@]}"; do
		req=${c%%|*}
		c=${c#*|}
		code=${c%%|*}
		param=${c#*|}
		chat "$req"
		expect_openai_error 400 "$code" "$param" || {
			echo "request: $req" >&2
			return 1
		}
		[[ $body == *'"type":"invalid_request_error"'* ]] || false
	done
}

@test "a NUL escape or a key twice is refused with invalid_json and generates nothing" {
	local nul="strings must not contain '\\u0000'"
	local -a cases=(
		'{"model":"echo","messages":[{"role":"user","content":"secret\u0000 cut here"}]}|'"$nul"
		'{"model":"echo","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"a\u0000"}]}]}|'"$nul"
		'{"model":"echo","messages":[{"role":"system","content":"\u0000"},{"role":"user","content":"x"}]}|'"$nul"
		'{"model":"echo","model":"roomy","messages":[{"role":"user","content":"x"}]}|duplicate key '"'model'"
		'{"model":"echo","messages":[{"role":"user","content":"a","content":"b"}]}|duplicate key '"'content'"
		'{"model":"echo","messages":[{"role":"user","content":"x"}],"stream":false,"stream":true}|duplicate key '"'stream'"
	)
	local c uid i rows
	# a user of its own: its usage rows are this test's only
	new_user nulcheck
	token=$access_token
	uid=$user_id
	for c in "${cases[@]}"; do
		chat "${c%%|*}"
		expect_openai_error 400 invalid_json null || {
			echo "request: ${c%%|*}" >&2
			return 1
		}
		[[ $(jb .error.message) == "${c#*|}" ]] || {
			echo "request: ${c%%|*}: $body" >&2
			return 1
		}
	done
	# a good request after them makes the only usage row (rows are
	# committed in order, at most 250 ms after they end)
	chat "$(chat_body echo false)"
	expect_status 200
	for ((i = 0; i < 40; i++)); do
		rows=$(db_query aid "SELECT count(*) FROM usage WHERE user_id = '$uid'")
		((rows > 0)) && break
		sleep 0.05
	done
	[[ $rows == 1 ]] || false
}

@test "an unknown model is 404 model_not_found in OpenAI's shape" {
	chat "$(chat_body no-such-model)"
	expect_openai_error 404 model_not_found
	[[ $(jb .error.param) == model ]] || false
	# a provider that is not configured reaches nothing
	chat "$(chat_body openai/gpt-4o-mini true)"
	expect_openai_error 404 model_not_found
}

@test "an API key works for /v1/models and /v1/chat/completions" {
	api POST /v1/apikeys '{"name":"aid-test"}' "$token"
	expect_status 201
	key=$(jb .key)
	api GET /v1/models "" "$key"
	expect_status 200
	# an alias answers as the model it names
	api POST /v1/chat/completions "$(chat_body small false)" "$key"
	expect_status 200
	[[ $(jb .model) == tiny && $(jb .choices[0].message.content) == "say something" ]] || false
}

@test "/internal/generate streams start, deltas and done with the default model" {
	generate '{"model":null,"messages":[{"role":"user","content":"hi there you"}],"purpose":"chat"}'
	[[ $status_code == 200 ]] || false
	[[ $(sse_data start | jq -r .model) == echo ]] || false
	[[ $(gen_text) == "hi there you" ]] || false
	[[ $(sse_data delta | wc -l) == 3 ]] || false
	done_ev=$(sse_data done)
	[[ $(jq -r .model <<<"$done_ev") == echo && $(jq -r .finish_reason <<<"$done_ev") == stop ]] || false
	[[ $(jq -r .usage.completion_tokens <<<"$done_ev") == 3 ]] || false
	[[ $(jq -r '(.usage.prompt_tokens > 0) and (.ttft_ms >= 0) and (.latency_ms >= .ttft_ms)' <<<"$done_ev") == true ]] || false
	# the order of the events
	[[ $(grep '^event: ' <<<"$body" | tr '\n' ' ') == "event: start event: delta event: delta event: delta event: done " ]] || false
}

@test "/internal/generate takes a long history (past 1 MiB, chatd sends up to 8 MiB)" {
	local big
	big=$(head -c 3000000 /dev/zero | tr '\0' 'x')
	printf '{"model":"echo","messages":[{"role":"user","content":"%s"},{"role":"assistant","content":"ok"},{"role":"user","content":"last words"}],"purpose":"chat"}' \
		"$big" >"$BATS_TEST_TMPDIR/big.json"
	generate "@$BATS_TEST_TMPDIR/big.json"
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == "last words" ]] || false
}

@test "/internal/generate: pieces are paced by echo_delay_ms" {
	generate '{"model":"echo","messages":[{"role":"user","content":"a b c d e f g"}],"purpose":"title","max_tokens":6}'
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == "a b c d e f" ]] || false
	done_ev=$(sse_data done)
	[[ $(jq -r .finish_reason <<<"$done_ev") == length ]] || false
	# 6 pieces, 30 ms apart
	(($(jq -r .latency_ms <<<"$done_ev") >= 140)) || false
	(($(jq -r .ttft_ms <<<"$done_ev") < 100)) || false
}

@test "/internal/generate refuses bad input with the error envelope" {
	local -a cases=(
		'nope|400|invalid_request'
		'{"messages":[]}|400|invalid_request'
		'{"messages":"hi"}|400|invalid_request'
		'{"messages":[{"role":"system","content":"x"}]}|400|invalid_request'
		'{"messages":[{"role":"user","content":7}]}|400|invalid_request'
		'{"model":7,"messages":[{"role":"user","content":"x"}]}|400|invalid_request'
		'{"system_prompt":1,"messages":[{"role":"user","content":"x"}]}|400|invalid_request'
		'{"purpose":"fun","messages":[{"role":"user","content":"x"}]}|400|invalid_request'
		'{"max_tokens":0,"messages":[{"role":"user","content":"x"}]}|400|invalid_request'
		'{"model":"ghost","messages":[{"role":"user","content":"x"}]}|404|model_not_found'
	)
	local c req want_status want_code
	for c in "${cases[@]}"; do
		req=${c%%|*}
		c=${c#*|}
		want_status=${c%%|*}
		want_code=${c#*|}
		generate "$req"
		expect_error "$want_status" "$want_code" || {
			echo "request: $req" >&2
			return 1
		}
	done
}

@test "/internal/generate needs the internal secret and a user id" {
	local url=http://127.0.0.1:$((CHAT_PORT + 4))/internal/generate
	local msg='{"messages":[{"role":"user","content":"x"}]}'
	run -0 curl -s -o /dev/null -w '%{http_code}' -H 'X-Chat-Internal: wrong' \
		-H "X-Chat-User-Id: $aid_user_id" -H 'X-Chat-Role: user' --data-binary "$msg" "$url"
	[[ $output == 403 || $output == 401 ]] || false
	run -0 curl -s -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" --data-binary "$msg" "$url"
	body=$output
	[[ $(jb .error.code) == invalid_request ]] || false
	# not reachable through the gateway
	api POST /internal/generate "$msg" "$token"
	[[ $status_code == 404 ]] || false
}

@test "prompt assembly keeps the newest turns that fit the context window, and the last user turn" {
	local turns='[]' i long
	for ((i = 0; i < 10; i++)); do
		turns=$(jq -c --arg t "$(printf "turn$i %.0s" {1..20})" \
			'. + [{role: "user", content: $t}, {role: "assistant", content: $t}]' <<<"$turns")
	done
	turns=$(jq -c '. + [{role: "user", content: "last question"}]' <<<"$turns")
	# a big window keeps everything
	generate "$(jq -nc --argjson m "$turns" '{model: "roomy", system_prompt: "be nice", messages: $m}')"
	[[ $status_code == 200 ]] || false
	all=$(sse_data done | jq -r .usage.prompt_tokens)
	((all > 400)) || false
	# a 120-token window keeps the system prompt, the last turn and a
	# few before it
	generate "$(jq -nc --argjson m "$turns" '{model: "tiny", system_prompt: "be nice", messages: $m}')"
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == "last question" ]] || false
	some=$(sse_data done | jq -r .usage.prompt_tokens)
	((some <= 120 && some > 10)) || false
	# a last user message larger than the window is still sent whole
	long=$(printf 'word%d ' {1..300})
	generate "$(jq -nc --arg t "$long" '{model: "tiny", max_tokens: 2,
		messages: [{role: "user", content: "old"},
		{role: "assistant", content: "older"}, {role: "user", content: $t}]}')"
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == "word1 word2" ]] || false
	(($(sse_data done | jq -r .usage.prompt_tokens) >= 300)) || false
}

@test "a client that goes away stops the generation" {
	local long
	long=$(printf 'w%d ' {1..200})
	run curl -s -N --max-time 0.3 -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' \
		--data-binary "$(jq -nc --arg t "$long" '{model: "echo", stream: true,
			messages: [{role: "user", content: $t}]}')" \
		"$(base_url)/v1/chat/completions"
	[[ $output == *'"content":"w1"'* ]] || false
	# the usage row says stopped, well before 200 pieces * 30 ms
	for ((i = 0; i < 40; i++)); do
		rows=$(db_query aid "SELECT status, completion_tokens FROM usage
			WHERE status = 'stopped'")
		[[ -n $rows ]] && break
		sleep 0.05
	done
	[[ -n $rows ]] || false
	(($(cut -d'|' -f2 <<<"$rows") < 50)) || false
}

@test "usage is recorded per request with user, model, purpose and timings" {
	# a request of each purpose by a user of this test's own, so that it
	# also runs alone (bats -f) and waits for its rows only: the next
	# test counts rows still queued
	local token aid_user_id i rows
	new_user usagetaker
	token=$access_token aid_user_id=$user_id
	chat "$(chat_body echo false)"
	expect_status 200
	generate '{"model":"tiny","messages":[{"role":"user","content":"a b c"}],"purpose":"chat"}'
	[[ $status_code == 200 ]] || false
	generate '{"model":"echo","messages":[{"role":"user","content":"a b c"}],"purpose":"title","max_tokens":6}'
	[[ $status_code == 200 ]] || false
	# rows are committed in batches, at most 250 ms after they end
	for ((i = 0; i < 40; i++)); do
		rows=$(db_query aid "SELECT purpose, model, status FROM usage
			WHERE user_id = '$aid_user_id' ORDER BY purpose" | tr '\n' ' ')
		[[ $rows == "api|echo|complete chat|tiny|complete title|echo|complete " ]] && break
		sleep 0.05
	done
	[[ $rows == "api|echo|complete chat|tiny|complete title|echo|complete " ]] ||
		{ echo "rows: $rows" >&2; false; }
	[[ $(db_query aid "SELECT count(*) FROM usage WHERE provider <> 'echo'") == 0 ]] || false
	[[ $(db_query aid "SELECT count(*) FROM usage WHERE latency_ms < 0 OR prompt_tokens < 1") == 0 ]] || false
}

@test "a clean stop writes the usage rows still waiting for their batch" {
	before=$(db_query aid "SELECT count(*) FROM usage WHERE purpose = 'api'")
	for i in 1 2 3; do
		chat "$(chat_body echo false)"
		expect_status 200
	done
	# at once, inside the batch window: the rows are still queued
	stop_daemon aid
	after=$(db_query aid "SELECT count(*) FROM usage WHERE purpose = 'api'")
	start_daemon aid
	((after == before + 3)) || false
}
