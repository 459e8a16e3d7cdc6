#!/usr/bin/env bats
# GET /v1/admin/models through the gateway: every configured model with
# its provider and context window, and whether its provider's upstream
# answers now - an upstream that answers (the fake LLM), one that
# refuses connections and one that accepts and never answers.  The probes
# run at once and are bounded, so the call stays short; answers are kept
# a few seconds.  Admins only.

setup_file() {
	load test_helper
	start_fakellm
	# a listener that never accepts: connections hang until the timeout
	python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
time.sleep(3600)' >"$BATS_FILE_TMPDIR/hole.port" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/hole.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -s $BATS_FILE_TMPDIR/hole.port ]] && break
		sleep 0.05
	done
	local hole dead
	hole=$(<"$BATS_FILE_TMPDIR/hole.port")
	dead=$(free_port)
	start_stack "[openai]" "base_url = $FAKELLM_URL/v1" \
		"[ollama]" "url = http://127.0.0.1:$hole" \
		"[anthropic]" "base_url = http://127.0.0.1:$dead" "api_key = k" \
		"[aid]" "models = gpt,llama,claude" "context_window = 2048" \
		"[model.gpt]" "provider = openai" "upstream = fake" \
		"context_window = 8000" "aliases = g" \
		"[model.llama]" "provider = ollama" "context_window = 4096" \
		"[model.claude]" "provider = anthropic"
	register_user root
	register_user plain
}

teardown_file() {
	load test_helper
	stop_stack
	stop_fakellm
	[[ -s $BATS_FILE_TMPDIR/hole.pid ]] && kill "$(<"$BATS_FILE_TMPDIR/hole.pid")" 2>/dev/null
	true
}

setup() {
	load test_helper
	load admin-common
}

# model NAME: the entry of NAME in the last answer, compact.
model() {
	jq -c --arg n "$1" '.data[] | select(.id == $n)' <<<"$body"
}

@test "every model with its provider, context window and upstream state" {
	local token start ms
	token=$(root_token)
	start=$(date +%s%N)
	api GET /v1/admin/models "" "$token"
	ms=$((($(date +%s%N) - start) / 1000000))
	expect_status 200
	[[ $(model echo) == '{"id":"echo","provider":"echo","context_window":1000000,"up":true,"error":null}' ]] || false
	[[ $(model gpt) == '{"id":"gpt","provider":"openai","context_window":8000,"up":true,"error":null}' ]] || false
	[[ $(model g) == '{"id":"g","provider":"openai","context_window":8000,"up":true,"error":null}' ]] || false
	[[ $(jq -c '{id, provider, context_window, up}' <<<"$(model llama)") == '{"id":"llama","provider":"ollama","context_window":4096,"up":false}' ]] || false
	[[ $(jq -c '{id, provider, context_window, up}' <<<"$(model claude)") == '{"id":"claude","provider":"anthropic","context_window":2048,"up":false}' ]] || false
	[[ $(jq -r .error <<<"$(model llama)") == *time* ]] || false
	[[ -n $(jq -r '.error // empty' <<<"$(model claude)") ]] || false
	# the models the fake upstream lists come too, as openai's
	[[ $(jq -r '[.data[] | select(.provider == "openai")] | length' <<<"$body") -gt 2 ]] || false
	# the hanging upstream costs one bounded probe, not the whole call
	((ms < 3500)) || { echo "took $ms ms" >&2; false; }
}

@test "answers are kept a few seconds, then the upstreams are asked again" {
	local token before
	token=$(root_token)
	api GET /v1/admin/models "" "$token"
	expect_status 200
	before=$(fake_stat models)
	api GET /v1/admin/models "" "$token"
	expect_status 200
	[[ $(fake_stat models) == "$before" ]] || false
	sleep 5.2
	api GET /v1/admin/models "" "$token"
	expect_status 200
	[[ $(fake_stat models) -gt $before ]] || false
}

@test "only admins may list the models' upstreams" {
	expect_admins_only GET /v1/admin/models
}
