# aid-common.bash - helpers of the aid bats files (aid-*.bats), loaded
# after test_helper.
#
# aid_stack [CONFIG-LINE...]: starts the fake upstream and a stack whose
# providers all point at it, with fast retries and timeouts; logs a user
# in (token saved for the tests, see aid_setup).
# chat BODY [CURL-ARG...]: POST /v1/chat/completions through the gateway
# as that user; the answer's body in $body, status in $status_code.
# The fake upstream's scenario is in the model name (contracts3.md).

# The upstream API key: never to be seen in logs, answers or data.
AID_UPSTREAM_KEY=sk-test-upstream-secret-4f9d2c81e7

aid_stack() {
	start_fakellm || return 1
	start_stack \
		"[routes]" "/v1/models = aid" "/v1/chat = aid" \
		"[openai]" "base_url = $FAKELLM_URL/v1" \
		"api_key = $AID_UPSTREAM_KEY" \
		"[ollama]" "url = $FAKELLM_URL" \
		"[anthropic]" "base_url = $FAKELLM_URL" \
		"api_key = $AID_UPSTREAM_KEY" \
		"[aid]" "echo_delay_ms = 0" "retries = 2" "backoff_ms = 10" \
		"backoff_max_ms = 150" "idle_timeout_ms = 500" \
		"max_response = 65536" \
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

# expect_openai_error STATUS CODE: the last answer is OpenAI's error
# shape with that code.
expect_openai_error() {
	if [[ $status_code != "$1" || $(jb '.error.code') != "$2" ]]; then
		echo "expected $1 '$2', got $status_code: $body" >&2
		return 1
	fi
	[[ -n $(jb '.error.message // empty') && -n $(jb '.error.type // empty') ]] &&
		jq -e '.error | has("param")' <<<"$body" >/dev/null || {
		echo "not OpenAI's error shape: $body" >&2
		return 1
	}
}

# The words answer of the fake upstream: "w1 w2 ... wN".
fake_words() {
	local i out=""
	for ((i = 1; i <= $1; i++)); do
		out+="${out:+ }w$i"
	done
	echo "$out"
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

# fake_stat NAME: a counter of the fake upstream.
fake_stat() {
	curl -s --max-time 5 "$FAKELLM_URL/_stats" | jq -r ".$1"
}

# wait_for_stat NAME MIN: waits up to 3 s for the counter to reach MIN.
wait_for_stat() {
	local i v
	for ((i = 0; i < 60; i++)); do
		v=$(fake_stat "$1")
		((v >= $2)) && return 0
		sleep 0.05
	done
	echo "fakellm $1 is $v, expected at least $2" >&2
	return 1
}
