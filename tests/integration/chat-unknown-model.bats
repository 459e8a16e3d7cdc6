#!/usr/bin/env bats
# A model aid does not know is refused before anything is stored: on
# POST /v1/conversations, PATCH, a message and a regenerate (404
# model_not_found, the SSE and the 201 form alike), also when the model
# comes from the conversation or the user's preferences; and chatctl ask
# exits 3 whether it streams or not, leaving no conversation and no
# message behind.  A model aid knows still goes through.

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	# no Ollama: "ollama/llama3" is a model aid cannot have
	start_stack "[routes]" "/v1/conversations = chatd" "/v1/models = aid" \
		"[aid]" "ollama_detect = false" "echo_delay_ms = 1" || return 1
	export XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config
	export XDG_STATE_HOME=$BATS_FILE_TMPDIR/state
	new_user una || return 1
	echo "una=$access_token" >"$BATS_FILE_TMPDIR/vars"
	# chatctl's own account, logged in for every test
	"${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)" \
		register cleo --password-stdin <<<"password-cleo" 3>&- \
		>/dev/null 2>&1 || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/vars"
	CHATCTL=${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl
}

cc() {
	"$CHATCTL" --server "$(base_url)" "$@" 3>&-
}

# rows: the conversations and messages chatd stores, all users.
rows() {
	db_query chatd "SELECT (SELECT COUNT(*) FROM conversations) || ' ' || (SELECT COUNT(*) FROM messages)"
}

# sse_post PATH BODY: una's POST asking for the SSE form; status in
# status_code, the answer in body.
sse_post() {
	local out=$BATS_TEST_TMPDIR/sse.out
	status_code=$(curl -sN --max-time 10 -o "$out" -w '%{http_code}' \
		-H "Authorization: Bearer $una" -H 'Accept: text/event-stream' \
		-H 'Content-Type: application/json' --data-binary "$2" \
		"$(base_url)$1") || status_code=000
	body=$(cat "$out")
}

@test "POST and PATCH of a conversation with an unknown model: 404, nothing stored" {
	local before conv
	before=$(rows)
	api POST /v1/conversations '{"title":"t","model":"ollama/llama3"}' "$una"
	expect_error 404 model_not_found
	[[ $(jb .error.message) == "model 'ollama/llama3' does not exist" ]] || false
	[[ $(rows) == "$before" ]] || false
	# a known model, and none (aid's default), go through
	api POST /v1/conversations '{"model":"echo"}' "$una"
	expect_status 201
	conv=$(jb .id)
	api POST /v1/conversations '{"model":null}' "$una"
	expect_status 201
	# PATCH to an unknown model leaves the conversation as it was
	api PATCH "/v1/conversations/$conv" '{"model":"no-such-model","title":"x"}' "$una"
	expect_error 404 model_not_found
	api GET "/v1/conversations/$conv" "" "$una"
	[[ $(jq -c '[.model, .title]' <<<"$body") == '["echo",null]' ]] || false
}

@test "a message or regenerate naming an unknown model: 404 in both forms, nothing stored" {
	local conv before u
	api POST /v1/conversations '{}' "$una"
	expect_status 201
	conv=$(jb .id)
	api POST "/v1/conversations/$conv/messages" '{"content":"first"}' "$una"
	expect_status 201
	u=$(jb .user_message.id)
	before=$(rows)
	# the 201 form
	api POST "/v1/conversations/$conv/messages" '{"content":"hi","model":"ollama/llama3"}' "$una"
	expect_error 404 model_not_found
	# the SSE form: the same answer, before any event
	sse_post "/v1/conversations/$conv/messages" '{"content":"hi","model":"ollama/llama3"}'
	expect_error 404 model_not_found
	api POST "/v1/conversations/$conv/messages/$u/regenerate" '{"model":"ollama/llama3"}' "$una"
	expect_error 404 model_not_found
	[[ $(rows) == "$before" ]] || false
	# the conversation goes on
	api POST "/v1/conversations/$conv/messages" '{"content":"still here"}' "$una"
	expect_status 201
	[[ $(jb .assistant_message.content) == "still here" ]] || false
}

@test "the model that would answer is checked: the conversation's, the user's default" {
	local conv before
	# a conversation stored before its model went away (written in the store)
	api POST /v1/conversations '{"model":"echo"}' "$una"
	expect_status 201
	conv=$(jb .id)
	db_query chatd "UPDATE conversations SET model = 'gone-model' WHERE id = '$conv'"
	before=$(rows)
	api POST "/v1/conversations/$conv/messages" '{"content":"hi"}' "$una"
	expect_error 404 model_not_found
	[[ $(jb .error.message) == "model 'gone-model' does not exist" ]] || false
	[[ $(rows) == "$before" ]] || false
	# the user's default model when the conversation names none
	api POST /v1/conversations '{}' "$una"
	expect_status 201
	conv=$(jb .id)
	api PATCH /v1/users/me '{"preferences":{"default_model":"pref-model"}}' "$una"
	expect_status 200
	before=$(rows)
	api POST "/v1/conversations/$conv/messages" '{"content":"hi"}' "$una"
	expect_error 404 model_not_found
	[[ $(rows) == "$before" ]] || false
	api PATCH /v1/users/me '{"preferences":{"default_model":null}}' "$una"
	expect_status 200
	api POST "/v1/conversations/$conv/messages" '{"content":"hi"}' "$una"
	expect_status 201
}

@test "chatctl ask -m with an unknown model exits 3, streaming or not, and stores nothing" {
	local before conv
	before=$(rows)
	run -3 --separate-stderr cc ask -m ollama/llama3 hello </dev/null
	[[ $stderr == *"model 'ollama/llama3' does not exist"* ]] || false
	[[ -z $output ]] || false
	run -3 --separate-stderr cc ask --no-stream -m ollama/llama3 hello </dev/null
	[[ $stderr == *"model 'ollama/llama3' does not exist"* ]] || false
	[[ $(rows) == "$before" ]] || false
	# in a conversation that exists: the same exit code, no message
	run -0 cc ask -m echo first </dev/null
	conv=$(cc conv ls --json </dev/null | jq -r '.data[0].id')
	before=$(rows)
	run -3 --separate-stderr cc ask --conversation "$conv" -m ollama/llama3 hello </dev/null
	run -3 --separate-stderr cc ask --no-stream --conversation "$conv" -m ollama/llama3 hello </dev/null
	[[ $(rows) == "$before" ]] || false
}
