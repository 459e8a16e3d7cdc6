#!/usr/bin/env bats
# aid's events (issue 13): chat.generation.started, .first_token,
# .completed, .stopped and .failed, produced through the public API
# (chatd's sends, the OpenAI-compatible API) and read back through aid's
# GET /internal/events: once each, as CloudEvents of /chat/aid for the
# user, with exactly the numbers of aid's usage row (the end event and
# the row are written in one batch transaction), the conversation and
# message ids chatd passed, and never the prompt or the answer.  Refused
# requests write none.
#
# Models: aid's built-in echo (5 ms between words) and the fake upstream
# through aid's OpenAI provider, "openai/fake:OPTIONS", without retries.

setup_file() {
	load test_helper
	load events-pull
	start_fakellm || return 1
	start_stack "[openai]" "base_url = $FAKELLM_URL/v1" \
		"[aid]" "echo_delay_ms = 5" "retries = 0"
	events_hold aid || return 1
	new_user alice
	{
		echo "alice=$access_token"
		echo "alice_id=$user_id"
	} >"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	stop_stack
	local rc=$?
	stop_fakellm
	return $rc
}

setup() {
	load test_helper
	load events-pull
	source "$BATS_FILE_TMPDIR/vars"
}

# gen_event TYPE CONDITION: exactly one such aid event of alice (or
# $user), in the form events.h gives.
gen_event() {
	events_once aid "$1" "$2" || return 1
	event_schema aid "$1" "${user:-$alice_id}" || return 1
	[[ $(jq -r .subject <<<"$event") == "generations/$(jq -r .data.generation_id <<<"$event")" ]] || {
		echo "subject: $event" >&2
		return 1
	}
}

# row_matches: the end event in $event carries exactly what aid's usage
# row of that generation says.
row_matches() {
	local gid row want
	gid=$(jq -r .data.generation_id <<<"$event")
	row=$(db_query aid "SELECT user_id, model, provider, purpose, status,
		prompt_tokens, completion_tokens, COALESCE(ttft_ms, -1), latency_ms,
		created_at FROM usage WHERE id = '$gid'")
	# "at" (RFC 3339 with milliseconds) is the row's created_at
	want=$(jq -r '[.userid, .data.model, .data.provider, .data.purpose,
		.data.status, .data.prompt_tokens, .data.completion_tokens,
		(.data.ttft_ms // -1), .data.latency_ms,
		((.data.at[0:19] + "Z" | fromdateiso8601) * 1000 + (.data.at[20:23] | tonumber))]
		| map(tostring) | join("|")' <<<"$event")
	[[ -n $row && $row == "$want" ]] || {
		echo "usage row '$row', event '$want'" >&2
		return 1
	}
}

# send CONV BODY: the waiting form of a send; sets ans (the answer's id).
send() {
	api POST "/v1/conversations/$1/messages" "$2" "$alice"
	expect_status 201 || return 1
	ans=$(jb .assistant_message.id)
}

# new_conv: a titled conversation of alice (no title generation); sets
# conv.
new_conv() {
	api POST /v1/conversations '{"title":"t"}' "$alice"
	expect_status 201 || return 1
	conv=$(jb .id)
}

@test "an answer writes started, first_token and completed once each, as the usage row says" {
	local gid m
	new_conv
	send "$conv" '{"content":"a rather secret prompt","model":"echo"}'
	m=".data.message_id == \"$ans\""
	gen_event chat.generation.completed "$m"
	row_matches
	[[ $(jq -c '.data | {conversation_id, purpose, finish_reason, error}' <<<"$event") == \
		"{\"conversation_id\":\"$conv\",\"purpose\":\"chat\",\"finish_reason\":\"stop\",\"error\":null}" ]] || false
	[[ $(jq -r '.data.completion_tokens' <<<"$event") == 4 ]] || false
	event_lacks "secret prompt"
	gid=$(jq -r .data.generation_id <<<"$event")
	gen_event chat.generation.started "$m"
	[[ $(jq -r .data.generation_id <<<"$event") == "$gid" ]] || false
	[[ $(jq -c '.data | {model, provider, conversation_id}' <<<"$event") == \
		"{\"model\":\"echo\",\"provider\":\"echo\",\"conversation_id\":\"$conv\"}" ]] || false
	event_lacks "secret prompt"
	gen_event chat.generation.first_token "$m"
	[[ $(jq -r .data.generation_id <<<"$event") == "$gid" ]] || false
	[[ $(jq -r '.data.ttft_ms | type' <<<"$event") == number ]] || false
	event_lacks "secret prompt"
}

@test "a stop writes chat.generation.stopped with the row's numbers" {
	local pid m
	new_conv
	curl -s -o /dev/null --max-time 10 -H "Authorization: Bearer $alice" \
		-H 'Content-Type: application/json' \
		--data-binary '{"content":"go","model":"openai/fake:words=200,delay_ms=10"}' \
		"$(base_url)/v1/conversations/$conv/messages" 3>&- &
	pid=$!
	wait_stat active 1
	sleep 0.2
	api POST "/v1/conversations/$conv/stop" "" "$alice"
	expect_status 200
	wait "$pid" || true
	m=".data.conversation_id == \"$conv\""
	gen_event chat.generation.stopped "$m"
	row_matches
	[[ $(jq -r '.data.status' <<<"$event") == stopped ]] || false
	[[ $(jq -r '.data.provider' <<<"$event") == openai ]] || false
	gen_event chat.generation.started "$m"
	gen_event chat.generation.first_token "$m"
	events_of aid chat.generation.completed "$m"
	[[ -z $output ]] || false
}

@test "upstream failures write chat.generation.failed with the error class" {
	local m
	# before the answer: the upstream answers 500
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"x","model":"openai/fake:status=500"}' "$alice"
	m=".data.conversation_id == \"$conv\""
	gen_event chat.generation.failed "$m"
	row_matches
	# a 5xx is retried (here 0 times), then the upstream is unavailable
	[[ $(jq -r .data.error <<<"$event") == upstream_unavailable ]] || false
	[[ $(jq -r .data.ttft_ms <<<"$event") == null ]] || false
	gen_event chat.generation.started "$m"
	events_of aid chat.generation.first_token "$m"
	[[ -z $output ]] || false
	# mid-answer: an error in the stream after 3 words
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"x","model":"openai/fake:words=10,error_at=3"}' "$alice"
	m=".data.conversation_id == \"$conv\""
	gen_event chat.generation.failed "$m"
	row_matches
	[[ $(jq -r .data.error <<<"$event") == upstream_error ]] || false
	[[ $(jq -r .data.completion_tokens <<<"$event") == 3 ]] || false
	gen_event chat.generation.first_token "$m"
}

@test "the OpenAI-compatible API's generations are events too (purpose api)" {
	local user uid key
	register_user olga
	login_user olga
	uid=$user_id
	api POST /v1/apikeys '{"name":"events"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	api POST /v1/chat/completions '{"model":"echo","messages":[{"role":"user","content":"hello api"}]}' "$key"
	expect_status 200
	user=$uid gen_event chat.generation.completed ".userid == \"$uid\""
	row_matches
	event_lacks "$key" "$access_token" "hello api"
	[[ $(jq -r .data.purpose <<<"$event") == api ]] || false
	[[ $(jq -r '.data | has("conversation_id") or has("message_id")' <<<"$event") == false ]] || false
	user=$uid gen_event chat.generation.started ".userid == \"$uid\""
}

@test "refused requests write no event" {
	local before key url
	key=$(<"$CHAT_DATA_DIR/internal.key")
	url=http://127.0.0.1:$(events_port aid)/internal/generate
	new_conv
	before=$(events_count aid)
	api POST "/v1/conversations/$conv/messages" '{"content":"x","model":"no-such-model"}' "$alice"
	expect_error 404 model_not_found
	api POST /v1/chat/completions '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}' "$alice"
	expect_status 404
	api POST /v1/chat/completions '{"model":' "$alice"
	expect_status 400
	run -0 curl -s -o /dev/null -w '%{http_code}' -H "X-Chat-Internal: $key" \
		-H "X-Chat-User-Id: $alice_id" --data-binary '{"messages":' "$url"
	[[ $output == 400 ]] || false
	run -0 curl -s -o /dev/null -w '%{http_code}' -H "X-Chat-Internal: $key" \
		-H "X-Chat-User-Id: $alice_id" \
		--data-binary '{"messages":[{"role":"user","content":"x"}],"conversation_id":"nope"}' "$url"
	[[ $output == 400 ]] || false
	# then one that succeeds: its three events, nothing else
	send "$conv" '{"content":"fine","model":"echo"}'
	gen_event chat.generation.completed ".data.message_id == \"$ans\""
	[[ $(events_count aid) == $((before + 3)) ]] || false
}

@test "the end events add up to aid's usage table" {
	local i want got
	new_conv
	for i in 1 2 3; do
		send "$conv" "{\"content\":\"question $i\",\"model\":\"echo\"}"
	done
	# an untitled conversation: its title is a generation too
	api POST /v1/conversations '{}' "$alice"
	send "$(jb .id)" '{"content":"name me","model":"echo"}'
	for ((i = 0; i < 40; i++)); do
		want=$(db_query aid "SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM usage")
		events_all aid
		got=$(jq -rs '[.[] | select(.type | test("^chat\\.generation\\.(completed|stopped|failed)$"))] |
			"\(length)|\(map(.data.prompt_tokens) | add)|\(map(.data.completion_tokens) | add)"' "$events_file")
		[[ $got == "$want" && $(jq -rs 'map(select(.data.purpose == "title")) | length' "$events_file") -ge 2 ]] && break
		sleep 0.1
	done
	[[ $got == "$want" ]] || {
		echo "usage '$want', events '$got'" >&2
		false
	}
	# every generation started once and ended once
	[[ $(jq -rs '[.[] | select(.type == "chat.generation.started")] | length' "$events_file") == "${want%%|*}" ]] || false
	[[ $(jq -rs '[.[] | select(.type | startswith("chat.generation.")) | .data.generation_id] | unique | length' "$events_file") == "${want%%|*}" ]] || false
}
