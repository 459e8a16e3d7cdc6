#!/usr/bin/env bats
# chatd's events (issue 13): chat.conversation.created, .renamed,
# .archived, .unarchived, .deleted and chat.message.created, each
# produced through the public API and read back through chatd's
# GET /internal/events: once, as a CloudEvent of /chat/chatd for the
# conversation's user, without the user's words (titles, message text)
# unless events.include_text is set.  Refused requests write none; a
# chatd killed mid-request leaves each event with its row or neither.
#
# Model: aid's built-in echo, 5 ms between words.

setup_file() {
	load test_helper
	load events-pull
	start_stack "[aid]" "echo_delay_ms = 5"
	events_hold chatd || return 1
	new_user alice
	{
		echo "alice=$access_token"
		echo "alice_id=$user_id"
	} >"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load events-pull
	source "$BATS_FILE_TMPDIR/vars"
}

# chat_event TYPE CONDITION: exactly one such chatd event of alice, in
# the form events.h gives.
chat_event() {
	events_once chatd "$1" "$2" || return 1
	event_schema chatd "$1" "$alice_id"
}

# conv_event TYPE CONV: exactly one TYPE event of conversation CONV.
conv_event() {
	chat_event "$1" ".data.conversation_id == \"$2\"" || return 1
	[[ $(jq -r .subject <<<"$event") == "conversations/$2" ]] || {
		echo "subject: $event" >&2
		return 1
	}
}

# new_conv [BODY]: a new conversation of alice; sets conv.
new_conv() {
	api POST /v1/conversations "${1:-{\}}" "$alice"
	expect_status 201 || return 1
	conv=$(jb .id)
}

@test "creating a conversation writes chat.conversation.created once, without its title" {
	new_conv '{"title":"Plans for the surprise party"}'
	conv_event chat.conversation.created "$conv"
	[[ $(jq -c '.data | {model, archived}' <<<"$event") == '{"model":null,"archived":false}' ]] || false
	event_lacks "surprise party" "$alice"
}

@test "a rename writes chat.conversation.renamed once; no change, no event" {
	new_conv '{"title":"first name"}'
	api PATCH "/v1/conversations/$conv" '{"title":"second name"}' "$alice"
	expect_status 200
	conv_event chat.conversation.renamed "$conv"
	event_lacks "second name"
	# the same title again, a model, a system prompt: not renames
	api PATCH "/v1/conversations/$conv" '{"title":"second name"}' "$alice"
	expect_status 200
	api PATCH "/v1/conversations/$conv" '{"model":"echo","system_prompt":"be brief"}' "$alice"
	expect_status 200
	conv_event chat.conversation.renamed "$conv"
	events_of chatd chat.conversation.archived ".data.conversation_id == \"$conv\""
	[[ -z $output ]] || false
}

@test "archive and unarchive write chat.conversation.archived and .unarchived once each" {
	new_conv
	api PATCH "/v1/conversations/$conv" '{"archived":true}' "$alice"
	expect_status 200
	conv_event chat.conversation.archived "$conv"
	[[ $(jq -r .data.archived <<<"$event") == true ]] || false
	# archiving the archived changes nothing
	api PATCH "/v1/conversations/$conv" '{"archived":true}' "$alice"
	expect_status 200
	api PATCH "/v1/conversations/$conv" '{"archived":false}' "$alice"
	expect_status 200
	conv_event chat.conversation.unarchived "$conv"
	[[ $(jq -r .data.archived <<<"$event") == false ]] || false
	conv_event chat.conversation.archived "$conv"
}

@test "concurrent patches that archive one conversation write one chat.conversation.archived" {
	local i pids=() n
	new_conv
	for i in $(seq 1 40); do
		curl -s -o /dev/null --max-time 10 -X PATCH -H "Authorization: Bearer $alice" \
			-H 'Content-Type: application/json' --data-binary '{"archived":true}' \
			"$(base_url)/v1/conversations/$conv" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	api GET "/v1/conversations/$conv" '' "$alice"
	[[ $(jb .archived) == true ]] || false
	# the flag changed once: one event, whichever patch changed it
	conv_event chat.conversation.archived "$conv"
}

@test "deleting a conversation writes chat.conversation.deleted once" {
	new_conv
	api DELETE "/v1/conversations/$conv" '' "$alice"
	expect_status 204
	conv_event chat.conversation.deleted "$conv"
	[[ $(jq -c .data <<<"$event") == "{\"conversation_id\":\"$conv\"}" ]] || false
}

@test "a send writes chat.message.created for the question and the answer, without the text" {
	local q a
	new_conv '{"model":"echo"}'
	api POST "/v1/conversations/$conv/messages" '{"content":"my very private question"}' "$alice"
	expect_status 201
	q=$(jb .user_message.id)
	a=$(jb .assistant_message.id)
	chat_event chat.message.created ".data.message_id == \"$q\""
	[[ $(jq -c '.data | {conversation_id, parent_id, role}' <<<"$event") == \
		"{\"conversation_id\":\"$conv\",\"parent_id\":null,\"role\":\"user\"}" ]] || false
	[[ $(jq -r .subject <<<"$event") == "conversations/$conv/messages/$q" ]] || false
	event_lacks "private question"
	chat_event chat.message.created ".data.message_id == \"$a\""
	[[ $(jq -c '.data | {conversation_id, parent_id, role, model}' <<<"$event") == \
		"{\"conversation_id\":\"$conv\",\"parent_id\":\"$q\",\"role\":\"assistant\",\"model\":\"echo\"}" ]] || false
	event_lacks "private question"
	events_of chatd chat.message.created ".data.conversation_id == \"$conv\""
	[[ $(grep -c . <<<"$output") == 2 ]] || false
	# a regenerate: one new answer, one event
	api POST "/v1/conversations/$conv/messages/$a/regenerate" '' "$alice"
	expect_status 201
	a=$(jb .assistant_message.id)
	chat_event chat.message.created ".data.message_id == \"$a\" and .data.parent_id == \"$q\""
	events_of chatd chat.message.created ".data.conversation_id == \"$conv\""
	[[ $(grep -c . <<<"$output") == 3 ]] || false
}

@test "an import writes chat.conversation.created and one chat.message.created per message" {
	local req
	req='{"title":"imported","messages":[
		{"id":"a","parent_id":null,"role":"user","content":"imported words","status":"complete"},
		{"id":"b","parent_id":"a","role":"assistant","content":"an answer","model":"echo","status":"complete"}]}'
	api POST /v1/conversations/import "$req" "$alice"
	expect_status 201
	conv=$(jb .id)
	conv_event chat.conversation.created "$conv"
	events_of chatd chat.message.created ".data.conversation_id == \"$conv\""
	[[ $(jq -r .data.role <<<"$output" | sort | tr '\n' ' ') == "assistant user " ]] || false
	[[ $output != *"imported words"* ]] || false
}

@test "refused requests write no event" {
	local before unknown=0190b7a0-0000-7000-8000-000000000000
	new_conv
	before=$(events_count chatd)
	api POST /v1/conversations '{"title":' "$alice"
	expect_error 400 invalid_json
	api POST /v1/conversations '{"model":"no-such-model"}' "$alice"
	expect_error 404 model_not_found
	api PATCH "/v1/conversations/$unknown" '{"title":"x"}' "$alice"
	expect_error 404 not_found
	api PATCH "/v1/conversations/$conv" '{"model":"no-such-model"}' "$alice"
	expect_error 404 model_not_found
	api DELETE "/v1/conversations/$unknown" '' "$alice"
	expect_error 404 not_found
	api POST "/v1/conversations/$unknown/messages" '{"content":"hi"}' "$alice"
	expect_error 404 not_found
	api POST "/v1/conversations/$conv/messages" '{"content":"hi","model":"no-such-model"}' "$alice"
	expect_error 404 model_not_found
	api POST "/v1/conversations/$conv/messages" '{"content":' "$alice"
	expect_error 400 invalid_json
	# then one that succeeds: once its event is there, nothing else came
	new_conv
	conv_event chat.conversation.created "$conv"
	[[ $(events_count chatd) == $((before + 1)) ]] || false
}

@test "chatd killed mid-request: after the restart every event is there once with its row, or neither" {
	local uid token i pids=() words convs msgs
	register_user frank
	login_user frank
	uid=$user_id
	token=$access_token
	words=$(fake_words 300)
	# answers of 300 words at 5 ms: generating while chatd dies
	for i in 1 2 3; do
		api POST /v1/conversations '{}' "$token"
		expect_status 201
		curl -s -o /dev/null --max-time 10 -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"content\":\"$words\"}" \
			"$(base_url)/v1/conversations/$(jb .id)/messages" 3>&- &
		pids+=($!)
	done
	# and conversations being created while it dies
	(
		for ((i = 0; i < 200; i++)); do
			curl -s -o /dev/null --max-time 2 -H "Authorization: Bearer $token" \
				-H 'Content-Type: application/json' --data-binary '{}' \
				"$(base_url)/v1/conversations" || true
		done
	) 3>&- &
	pids+=($!)
	# answers being written: kill it mid-generation
	for ((i = 0; i < 100; i++)); do
		[[ $(db_query chatd "SELECT COUNT(*) FROM messages WHERE user_id = '$uid' AND status = 'streaming'") -ge 1 ]] && break
		sleep 0.05
	done
	sleep 0.2
	kill -9 "$(daemon_pid chatd)"
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	start_daemon chatd
	# the relay of the new chatd gives the last rows their positions
	sleep 0.5
	events_all chatd
	convs=$(db_query chatd "SELECT id FROM conversations WHERE user_id = '$uid' ORDER BY id")
	msgs=$(db_query chatd "SELECT id FROM messages WHERE user_id = '$uid' ORDER BY id")
	[[ -n $convs && -n $msgs ]] || false
	# it died mid-answer: the answers left streaming are interrupted now
	[[ $(db_query chatd "SELECT COUNT(*) FROM messages WHERE user_id = '$uid' AND status = 'interrupted'") -ge 1 ]] || false
	run -0 jq -r --arg u "$uid" \
		'select(.userid == $u and .type == "chat.conversation.created") | .data.conversation_id' \
		"$events_file"
	[[ $(sort <<<"$output") == "$convs" ]] || false
	run -0 jq -r --arg u "$uid" \
		'select(.userid == $u and .type == "chat.message.created") | .data.message_id' \
		"$events_file"
	[[ $(sort <<<"$output") == "$msgs" ]] || false
}

@test "with events.include_text = 1 the text and the title are in the events" {
	local q
	printf '[events]\ninclude_text = 1\n' >>"$CHAT_CONFIG"
	stop_daemon chatd
	start_daemon chatd
	new_conv '{"title":"a visible title"}'
	conv_event chat.conversation.created "$conv"
	[[ $(jq -r .data.title <<<"$event") == "a visible title" ]] || false
	api POST "/v1/conversations/$conv/messages" '{"content":"words to keep"}' "$alice"
	expect_status 201
	q=$(jb .user_message.id)
	chat_event chat.message.created ".data.message_id == \"$q\""
	[[ $(jq -r .data.text <<<"$event") == "words to keep" ]] || false
	# back to the default for whatever runs next
	sed -i '/^\[events\]$/,$d' "$CHAT_CONFIG"
	stop_daemon chatd
	start_daemon chatd
}
