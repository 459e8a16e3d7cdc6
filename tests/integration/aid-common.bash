# aid-common.bash - helpers of the aid bats files (aid-*.bats), loaded
# after test_helper.
#
# aid_stack [CONFIG-LINE...]: starts the fake upstream and a stack whose
# providers all point at it, with fast retries and timeouts; logs a user
# in (token saved for the tests, see aid_setup).  AID_UPSTREAM_HOST: the
# host the providers' URLs name instead of the fake upstream's address
# (127.1 reaches it through libcurl: aid's loop client takes only
# dotted-quad addresses and localhost).
# chat BODY [CURL-ARG...]: POST /v1/chat/completions through the gateway
# as that user; the answer's body in $body, status in $status_code.
# The fake upstream's scenario is in the model name (contracts3.md).

# The upstream API key: never to be seen in logs, answers or data.
AID_UPSTREAM_KEY=sk-test-upstream-secret-4f9d2c81e7

aid_stack() {
	local p models="" sections=()
	# per provider: flaky-P (always 500, falls back to echo), chain-P
	# (always 503, falls back to P/fake:words=2), ctx-P (100 tokens)
	for p in openai ollama anthropic; do
		models+="${models:+, }flaky-$p, chain-$p, ctx-$p"
		sections+=("[model.flaky-$p]" "provider = $p"
			"upstream = fake:status=500" "fallback = echo"
			"[model.chain-$p]" "provider = $p"
			"upstream = fake:status=503,words=1"
			"fallback = $p/fake:words=2"
			"[model.ctx-$p]" "provider = $p" "upstream = fake"
			"context_window = 100")
	done
	start_fakellm || return 1
	local up=$FAKELLM_URL
	[[ -z ${AID_UPSTREAM_HOST:-} ]] ||
		up=http://$AID_UPSTREAM_HOST:$FAKELLM_PORT
	start_stack \
		"[routes]" "/v1/models = aid" "/v1/chat = aid" \
		"[openai]" "base_url = $up/v1" \
		"api_key = $AID_UPSTREAM_KEY" \
		"[ollama]" "url = $up" \
		"[anthropic]" "base_url = $up" \
		"api_key = $AID_UPSTREAM_KEY" \
		"[aid]" "echo_delay_ms = 0" "retries = 2" "backoff_ms = 10" \
		"backoff_max_ms = 150" "idle_timeout_ms = 500" \
		"max_response = 8192" \
		"models = $models" "${sections[@]}" \
		"$@" || return 1
	new_user "aiduser" || return 1
	{
		echo "token=$access_token"
		echo "aid_user_id=$user_id"
	} >"$BATS_FILE_TMPDIR/aid-tokens"
}

aid_teardown() {
	stop_stack
	local rc=$?
	stop_fakellm
	return $rc
}

aid_setup() {
	[[ -s $BATS_FILE_TMPDIR/aid-tokens ]] && source "$BATS_FILE_TMPDIR/aid-tokens"
	true
}

# chat BODY [CURL-ARG...]: the answer in $body / $status_code.
chat() {
	local data=$1
	shift
	api_args=("$@")
	api POST /v1/chat/completions "$data" "$token"
}

# chat_body MODEL [STREAM [EXTRA-JSON]]: a request body with one user
# message; EXTRA-JSON is merged in.
chat_body() {
	jq -nc --arg m "$1" --argjson s "${2:-false}" --argjson x "${3:-{\}}" \
		'{model: $m, stream: $s, messages: [{role: "user",
		content: "say something"}]} + $x'
}

# The text of a streamed answer in $body (content deltas joined).
stream_text() {
	sed -n 's/^data: //p' <<<"$body" | grep -v '^\[DONE\]$' |
		jq -rj 'select(.choices != null and (.choices | length) > 0)
			| .choices[0].delta.content // empty'
}

# The JSON objects of a streamed answer, one a line ([DONE] left out).
stream_chunks() {
	sed -n 's/^data: //p' <<<"$body" | grep -v '^\[DONE\]$'
}

# expect_openai_error STATUS CODE [PARAM]: the last answer is OpenAI's
# error shape with that code (and param; "null" for none).
expect_openai_error() {
	local got code param shape
	got=$(jq -r '.error | [.code, (.param // "null"),
		((.message | type) == "string" and (.message | length) > 0
		 and (.type | type) == "string" and has("param"))] | join("|")' \
		<<<"$body" 2>/dev/null)
	IFS='|' read -r code param shape <<<"$got"
	if [[ $status_code != "$1" || $code != "$2" || ( $# -ge 3 && $param != "$3" ) ]]; then
		echo "expected $1 '$2' ${3:-}, got $status_code: $body" >&2
		return 1
	fi
	[[ $shape == true ]] || {
		echo "not OpenAI's error shape: $body" >&2
		return 1
	}
}

# generate BODY: POST /internal/generate on aid itself, as another daemon
# (chatd) calls it; answer in $body / $status_code.
generate() {
	local tmp=${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}
	status_code=$(curl -s --max-time 10 -o "$tmp/gen.body" -w '%{http_code}' \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		-H "X-Chat-User-Id: $aid_user_id" -H 'X-Chat-Role: user' \
		-H 'Content-Type: application/json' --data-binary "$1" \
		"http://127.0.0.1:$((CHAT_PORT + 4))/internal/generate") || status_code=000
	body=$(cat "$tmp/gen.body")
}

# The data of the events named $1 of the SSE answer in $body, one a line.
sse_data() {
	awk -v want="$1" '
		/^event: / { ev = substr($0, 8) }
		/^data: / && ev == want { print substr($0, 7) }
		/^$/ { ev = "" }' <<<"$body"
}

# The joined texts of the delta events in $body.
gen_text() {
	sse_data delta | jq -rj .text
}

# ---- the cases run against each provider ($PROV) -------------------------
# Each function is one test of aid-<provider>.bats; the model is
# "$PROV/fake:<options>", served by the fake upstream in $PROV's format.

m() {
	echo "$PROV/fake:$1"
}

case_stream() {
	chat "$(chat_body "$(m words=5)" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 5)" ]] || false
	[[ $(stream_chunks | head -n 1 | jq -r .choices[0].delta.role) == assistant ]] || false
	[[ $(stream_chunks | tail -n 1 | jq -r .choices[0].finish_reason) == stop ]] || false
	[[ $(stream_chunks | jq -r .model | sort -u) == "$(m words=5)" ]] || false
	[[ $(sed -n 's/^data: //p' <<<"$body" | tail -n 1) == "[DONE]" ]] || false
}

case_whole() {
	chat "$(chat_body "$(m words=4)" false)"
	expect_status 200
	[[ $(jb .object) == chat.completion ]] || false
	[[ $(jb .choices[0].message.content) == "$(fake_words 4)" ]] || false
	[[ $(jb .choices[0].finish_reason) == stop ]] || false
	[[ $(jb .usage.completion_tokens) == 4 ]] || false
}

# The upstream's own token counts reach the usage chunk.
case_usage() {
	chat "$(chat_body "$(m words=6,usage)" true '{"stream_options":{"include_usage":true}}')"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 6)" ]] || false
	last=$(stream_chunks | tail -n 1)
	[[ $(jq -c .choices <<<"$last") == "[]" ]] || false
	[[ $(jq -r .usage.completion_tokens <<<"$last") == 6 ]] || false
	# prompt_tokens = the words of the messages, as the fake counts them
	[[ $(jq -r .usage.prompt_tokens <<<"$last") == 2 ]] || false
}

# Bytes split anywhere, inside UTF-8 sequences too, come out whole.
case_split() {
	local text='héllo wörld ✓ 日本語 done'
	chat "$(jq -nc --arg m "$(m split=5)" --arg t "$text" \
		'{model: $m, stream: true, messages: [{role: "user", content: $t}]}')"
	expect_status 200
	[[ $(stream_text) == "$text" ]] || false
	chat "$(chat_body "$(m words=12,split=7)" true)"
	[[ $(stream_text) == "$(fake_words 12)" ]] || false
}

case_crlf() {
	chat "$(chat_body "$(m words=5,crlf,split=11)" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 5)" ]] || false
	[[ $(sed -n 's/^data: //p' <<<"$body" | tail -n 1) == "[DONE]" ]] || false
}

case_comments() {
	chat "$(chat_body "$(m words=5,comments,crlf)" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 5)" ]] || false
	chat "$(chat_body "$(m words=3,multiline,split=13)" false)"
	expect_status 200
	[[ $(jb .choices[0].message.content) == "$(fake_words 3)" ]] || false
}

# An error in the middle: what came before stays, then the error, no
# [DONE]; without streaming, 502.
case_error_mid() {
	chat "$(chat_body "$(m words=10,error_at=3)" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 3)" ]] || false
	last=$(sed -n 's/^data: //p' <<<"$body" | tail -n 1)
	[[ $(jq -r .error.code <<<"$last") == upstream_error ]] || false
	[[ -n $(jq -r '.error.message // empty' <<<"$last") ]] || false
	chat "$(chat_body "$(m words=10,error_at=2,delay_ms=1)" false)"
	expect_openai_error 502 upstream_error
}

# A stream cut without its end marker is "truncated".
case_truncated() {
	local opt
	for opt in cut_at=3 cut_at=3,close; do
		chat "$(chat_body "$(m words=10,$opt)" true)"
		expect_status 200
		[[ $(stream_text) == "$(fake_words 3)" ]] || false
		last=$(sed -n 's/^data: //p' <<<"$body" | tail -n 1)
		[[ $(jq -r .error.code <<<"$last") == truncated ]] || {
			echo "$opt: $body" >&2
			return 1
		}
	done
	generate "$(jq -nc --arg m "$(m words=10,cut_at=2)" '{model: $m,
		messages: [{role: "user", content: "x"}]}')"
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == "$(fake_words 2)" ]] || false
	[[ $(sse_data error | jq -r .code) == truncated ]] || false
}

# A stall past aid.idle_timeout_ms (500 ms here) is upstream_timeout.
case_stall() {
	local t0=$SECONDS
	chat "$(chat_body "$(m words=10,stall_at=2)" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 2)" ]] || false
	last=$(sed -n 's/^data: //p' <<<"$body" | tail -n 1)
	[[ $(jq -r .error.code <<<"$last") == upstream_timeout ]] || false
	((SECONDS - t0 < 4)) || false
	# and the upstream connection was closed
	wait_stat aborted 1
}

# 429 and 5xx before the first token are retried (Retry-After honoured,
# capped by aid.backoff_max_ms).
case_retry() {
	local before t0
	before=$(fake_stat requests)
	chat "$(chat_body "$(m words=3,status=429,fail=1)" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 3)" ]] || false
	[[ $(fake_stat requests) == $((before + 2)) ]] || false
	before=$(fake_stat requests)
	t0=$(date +%s%N)
	chat "$(chat_body "$(m words=2,status=503,fail=2,retry_after=30)" false)"
	expect_status 200
	[[ $(jb .choices[0].message.content) == "$(fake_words 2)" ]] || false
	[[ $(fake_stat requests) == $((before + 3)) ]] || false
	# two waits of Retry-After capped at 150 ms
	(($(date +%s%N) - t0 >= 300000000)) || false
	(($(date +%s%N) - t0 < 5000000000)) || false
}

# A model that stays unavailable gives way to its fallback; without one,
# 503 upstream_unavailable after the retries.
case_fallback() {
	local before
	before=$(fake_stat requests)
	chat "$(chat_body "flaky-$PROV" false)"
	expect_status 200
	[[ $(jb .model) == echo && $(jb .choices[0].message.content) == "say something" ]] || false
	[[ $(fake_stat requests) == $((before + 3)) ]] || false
	chat "$(chat_body "chain-$PROV" true)"
	expect_status 200
	[[ $(stream_text) == "$(fake_words 2)" ]] || false
	[[ $(stream_chunks | head -n 1 | jq -r .model) == "$PROV/fake:words=2" ]] || false
	chat "$(chat_body "$(m status=500)" true)"
	expect_openai_error 503 upstream_unavailable
	[[ $(jb .error.type) == server_error ]] || false
	generate "$(jq -nc --arg m "$(m status=502)" '{model: $m,
		messages: [{role: "user", content: "x"}]}')"
	expect_error 503 upstream_unavailable
}

# A client error of the upstream is not retried.
case_upstream_4xx() {
	local before
	before=$(fake_stat requests)
	chat "$(chat_body "$(m status=400)" false)"
	expect_openai_error 502 upstream_error
	[[ $(fake_stat requests) == $((before + 1)) ]] || false
}

case_redirect() {
	chat "$(chat_body "$(m redirect)" true)"
	expect_openai_error 502 upstream_error
	[[ $(jb .error.message) == *redirect* ]] || false
	[[ $(fake_stat redirects_followed) == 0 ]] || false
}

# An endless answer stops at aid.max_response (8 KiB here, below the
# default max_tokens of the Anthropic provider) as "length".
case_big() {
	chat "$(chat_body "$(m big)" false)"
	expect_status 200
	[[ $(jb .choices[0].finish_reason) == length ]] || false
	len=$(jb '.choices[0].message.content | length')
	((len > 7000 && len <= 8192)) || false
	chat "$(chat_body "$(m big)" true)"
	expect_status 200
	[[ $(stream_chunks | tail -n 1 | jq -r .choices[0].finish_reason) == length ]] || false
}

# The client closing its connection closes the upstream one at once.
case_stop() {
	local before t0
	before=$(fake_stat aborted)
	run curl -s -N --max-time 0.5 -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' \
		--data-binary "$(chat_body "$(m words=500,delay_ms=20)" true)" \
		"$(base_url)/v1/chat/completions"
	[[ $output == *'"content":"w1"'* ]] || false
	t0=$(date +%s%N)
	wait_stat aborted $((before + 1))
	# noticed within a few sweeps of 100 ms
	(($(date +%s%N) - t0 < 1000000000)) || false
	[[ $(fake_stat active) == 0 ]] || false
}

# base_url, api_base, api_key... in a body are not read: the configured
# upstream answers with the configured key.
case_body_url_ignored() {
	curl -s -X POST "$FAKELLM_URL/_reset" >/dev/null
	chat "$(chat_body "$(m words=2)" false '{"base_url":"http://127.0.0.1:9/v1",
		"api_base":"http://127.0.0.1:9","api_key":"sk-evil","baseURL":"http://x",
		"url":"http://127.0.0.1:9","headers":{"Authorization":"Bearer sk-evil"}}')"
	expect_status 200
	[[ $(jb .choices[0].message.content) == "$(fake_words 2)" ]] || false
	auth=$(fake_stat auth)
	if [[ $PROV == ollama ]]; then
		[[ -z $auth ]] || false
	else
		[[ $auth == *"$AID_UPSTREAM_KEY" ]] || false
	fi
	run -0 curl -s "$FAKELLM_URL/_last"
	[[ $output != *evil* && $output != *127.0.0.1:9* ]] || false
}

case_internal() {
	generate "$(jq -nc --arg m "$(m words=3)" '{model: $m, system_prompt: "be brief",
		messages: [{role: "user", content: "x"}], purpose: "chat"}')"
	[[ $status_code == 200 ]] || false
	[[ $(sse_data start | jq -r .model) == "$(m words=3)" ]] || false
	[[ $(gen_text) == "$(fake_words 3)" ]] || false
	done_ev=$(sse_data done)
	[[ $(jq -r .finish_reason <<<"$done_ev") == stop ]] || false
	[[ $(jq -r .usage.completion_tokens <<<"$done_ev") == 3 ]] || false
	# the system prompt went upstream
	run -0 curl -s "$FAKELLM_URL/_last"
	[[ $output == *"be brief"* ]] || false
	generate "$(jq -nc --arg m "$(m words=5,error_at=1)" '{model: $m,
		messages: [{role: "user", content: "x"}]}')"
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == w1 && $(sse_data error | jq -r .code) == upstream_error ]] || false
	# max_tokens reaches the upstream: finish "length"
	generate "$(jq -nc --arg m "$(m words=9)" '{model: $m, max_tokens: 4,
		messages: [{role: "user", content: "x"}]}')"
	[[ $(gen_text) == "$(fake_words 4)" ]] || false
	[[ $(sse_data done | jq -r .finish_reason) == length ]] || false
}

# Trimming to the context window (ctx-$PROV: 100 tokens): the oldest
# turns stay home, the last user turn always goes.
case_trim() {
	local turns='[]' i sent
	for ((i = 0; i < 8; i++)); do
		turns=$(jq -c --arg t "$(printf "old$i %.0s" {1..15})" \
			'. + [{role: "user", content: $t}, {role: "assistant", content: $t}]' <<<"$turns")
	done
	turns=$(jq -c '. + [{role: "user", content: "newest question"}]' <<<"$turns")
	generate "$(jq -nc --arg m "ctx-$PROV" --argjson t "$turns" '{model: $m, messages: $t}')"
	[[ $status_code == 200 ]] || false
	[[ $(gen_text) == "newest question" ]] || false
	run -0 curl -s "$FAKELLM_URL/_last"
	sent=$output
	[[ $sent == *"newest question"* && $sent == *old7* && $sent != *old0* ]] || false
}

# Last: the upstream key is nowhere in the data dir (logs, stores, run
# files) after all of the above.
case_key_hidden() {
	run grep -r -l -a -F -e "$AID_UPSTREAM_KEY" "$CHAT_DATA_DIR"
	[[ $status == 1 && -z $output ]] || {
		echo "the upstream key is in: $output" >&2
		return 1
	}
	[[ -s $CHAT_DATA_DIR/log/aid.log ]] || false
}

# The models the upstreams listed at start are in /v1/models and usable
# by their bare names (Ollama's first: both providers list the same).
case_models() {
	api GET /v1/models "" "$token"
	expect_status 200
	ids=$(jb '[.data[].id] | join(" ")')
	[[ " $ids " == *" echo "* && " $ids " == *" flaky-openai "* && " $ids " == *" ctx-anthropic "* ]] || false
	[[ $(jb '[.data[] | select(.id == "fake" or .id == "fake:words=5") | .owned_by] | join(",")') == ollama,ollama ]] || false
	[[ $(jb '[.data[].id] | length') == $(jb '[.data[].id] | unique | length') ]] || false
	chat "$(chat_body fake:words=5 false)"
	expect_status 200
	[[ $(jb .model) == fake:words=5 && $(jb .choices[0].message.content) == "$(fake_words 5)" ]] || false
	run -0 curl -s "$FAKELLM_URL/_last"
	[[ $(jq -r .path <<<"$output") == /api/chat ]] || false
}
