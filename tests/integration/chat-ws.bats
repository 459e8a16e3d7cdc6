#!/usr/bin/env bats
# The chat WebSocket /v1/ws through the gateway: every event of a user's
# conversations reaches all of that user's connections live and nobody
# else's; send, regenerate, stop, resume and ping frames; resume with
# ?last_event_id= or a resume frame gets exactly what was missed;
# conversation events; frames about another user's ids get not_found;
# bad frames get error frames and the connection stays usable.
#
# A client is the wsclient fixture in the background, fed through a fifo
# (ws_open / ws_send / ws_close); its frames land one a line in a file.

setup_file() {
	load test_helper
	load chat-common
	chat_stack
}

teardown_file() {
	load test_helper
	load chat-common
	chat_teardown
}

setup() {
	load test_helper
	load chat-common
	load ws-common
	chat_setup
	WS=$BATS_TEST_TMPDIR/ws
	mkdir -p "$WS"
}

teardown() {
	ws_teardown
}

# Generation frames of a conversation: "type id" lines.
gen_frames() {
	frames "$1" | jq -r --arg c "$2" 'select(.conversation_id == $c and
		(.type == "message" or .type == "delta" or .type == "done"
		or .type == "error")) | "\(.type) \(.id)"'
}

@test "two clients of one account both see the stream live; another user's client sees nothing" {
	ws_open a1 "$alice"
	ws_open a2 "$alice"
	ws_open b1 "$bob"
	new_conv
	out=$BATS_TEST_TMPDIR/send.sse
	# 400 ms a word: the answer still streams when the GET below comes,
	# even on a loaded machine
	curl -sN --max-time 10 -H "Authorization: Bearer $alice" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary '{"content":"go","model":"openai/fake:words=6,delay_ms=400"}' \
		"$(base_url)/v1/conversations/$conv/messages" >"$out" 3>&- &
	pid=$!
	# live: both have the first word while the answer still streams
	wait_frame a1 'select(.type == "delta")'
	wait_frame a2 'select(.type == "delta")'
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].status') == streaming ]] || false
	wait "$pid"
	wait_frame a1 'select(.type == "done")'
	wait_frame a2 'select(.type == "done")'
	# the same events, with the same ids as the SSE answer
	[[ $(gen_frames a1 "$conv") == $(gen_frames a2 "$conv") ]] || false
	sse=$(awk '/^id: / { id = substr($0, 5) } /^event: / { print substr($0, 8) " " id }' "$out")
	[[ $(gen_frames a1 "$conv") == "$sse" ]] || false
	[[ $(gen_frames a1 "$conv" | cut -d' ' -f1 | uniq | paste -sd' ') == "message delta done" ]] || false
	[[ $(frames a1 | jq -rj 'select(.type == "delta") | .data.text') == "w1 w2 w3 w4 w5 w6" ]] || false
	[[ $(frames a1 | jq -r 'select(.type == "done") | .data.status') == complete ]] || false
	# the title comes as a conversation event, to both
	wait_frame a1 'select(.type == "conversation" and .data.title != null)'
	wait_frame a2 'select(.type == "conversation" and .data.title != null)'
	[[ $(frames a2 | jq -r 'select(.type == "conversation") | .data.id' | sort -u) == "$conv" ]] || false
	# bob's client is alive and got nothing of it
	ws_send b1 '{"type":"ping","ref":"b"}'
	wait_frame b1 'select(.type == "pong")'
	[[ $(frames b1) == '{"type":"pong","ref":"b"}' ]] || false
	ws_close a1
	ws_close a2
	ws_close b1
}

@test "send over the WebSocket, then resume with ?last_event_id= or a resume frame: exactly the rest" {
	new_conv
	ws_open a1 "$alice"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"go\",\"model\":\"openai/fake:words=10,delay_ms=20\",\"ref\":1}"
	wait_frame a1 'select(.type == "done")'
	wait_frame a1 'select(.type == "conversation")'
	[[ $(frames a1 | jq -r 'select(.type == "message") | .data.content') == go ]] || false
	[[ $(frames a1 | jq -rj 'select(.type == "delta") | .data.text') == "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10" ]] || false
	# ids strictly increase
	frames a1 | jq -r .id | awk 'NR > 1 && $1 + 0 <= p + 0 { exit 1 } { p = $1 }'
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '.messages[1].content') == "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10" ]] || false
	# a client that saw up to the third delta
	after=$(frames a1 | jq -r 'select(.type == "delta") | .id' | sed -n 3p)
	frames a1 | jq -c --arg a "$after" 'select((.id | tonumber) > ($a | tonumber))' >"$WS/expected"
	ws_open a3 "$alice" "?last_event_id=$after"
	wait_frame a3 'select(.type == "conversation")'
	ws_close a3
	frames a3 >"$WS/got"
	diff -u "$WS/expected" "$WS/got"
	# the same with a resume frame on a fresh connection
	ws_open a4 "$alice"
	ws_send a4 "{\"type\":\"resume\",\"last_event_id\":\"$after\",\"ref\":2}"
	wait_frame a4 'select(.type == "conversation")'
	# asked again: nothing twice
	ws_send a4 "{\"type\":\"resume\",\"last_event_id\":\"$after\",\"ref\":3}"
	ws_send a4 '{"type":"ping","ref":4}'
	wait_frame a4 'select(.type == "pong")'
	ws_close a4
	frames a4 | grep -v '"pong"' >"$WS/got"
	diff -u "$WS/expected" "$WS/got"
	# an id older than what is kept: reset
	ws_open a5 "$alice" "?last_event_id=1"
	wait_frame a5 'select(.type == "reset")'
	[[ $(frames a5 | head -n 1 | jq -r .data.reason) == gap ]] || false
	ws_send a5 '{"type":"resume","last_event_id":"2"}'
	wait_frame a5 'select(.type == "reset")' 2
	ws_close a5
	ws_close a1
}

@test "stop and regenerate frames; conversation changes and deletion reach the clients" {
	new_conv
	ws_open a1 "$alice"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"go\",\"model\":\"openai/fake:words=40,delay_ms=10,stall_at=3\"}"
	wait_frame a1 'select(.type == "delta")' 3
	# a second send while it runs
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"more\",\"ref\":\"busy\"}"
	wait_frame a1 'select(.type == "error" and .ref == "busy")'
	[[ $(frames a1 | jq -r 'select(.ref == "busy") | .data.error.code') == generation_in_progress ]] || false
	ws_send a1 "{\"type\":\"stop\",\"conversation_id\":\"$conv\",\"ref\":\"s\"}"
	wait_frame a1 'select(.type == "done")'
	done=$(frames a1 | jq -c 'select(.type == "done") | .data')
	[[ $(jq -r .status <<<"$done") == stopped && $(jq -r .content <<<"$done") == "w1 w2 w3" ]] || false
	asst=$(jq -r .id <<<"$done")
	user=$(jq -r .parent_id <<<"$done")
	ws_send a1 "{\"type\":\"regenerate\",\"conversation_id\":\"$conv\",\"message_id\":\"$asst\"}"
	wait_frame a1 'select(.type == "done")' 2
	[[ $(frames a1 | jq -r 'select(.type == "message") | .data.id' | tail -n 1) == "$user" ]] || false
	last=$(frames a1 | jq -c 'select(.type == "done") | .data' | tail -n 1)
	[[ $(jq -r .parent_id <<<"$last") == "$user" && $(jq -r .id <<<"$last") != "$asst" ]] || false
	[[ $(jq -r .status <<<"$last") == complete && $(jq -r .content <<<"$last") == go ]] || false
	# REST changes of the conversation come as events
	api PATCH "/v1/conversations/$conv" '{"title":"Renamed"}' "$alice"
	expect_status 200
	wait_frame a1 'select(.type == "conversation" and .data.title == "Renamed")'
	api DELETE "/v1/conversations/$conv" "" "$alice"
	expect_status 204
	wait_frame a1 'select(.type == "conversation_deleted")'
	[[ $(frames a1 | jq -r 'select(.type == "conversation_deleted") | "\(.conversation_id) \(.data.id)"') == "$conv $conv" ]] || false
	ws_close a1
}

@test "frames about another user's conversations or messages get not_found, and change nothing" {
	new_conv
	api POST "/v1/conversations/$conv/messages" '{"content":"mine"}' "$alice"
	expect_status 201
	aconv=$conv
	aa=$(jb .assistant_message.id)
	new_conv "$bob"
	bconv=$conv
	ws_open a1 "$alice"
	ws_open b1 "$bob"
	before=$(msg_count)
	ws_send b1 "{\"type\":\"send\",\"conversation_id\":\"$aconv\",\"content\":\"x\",\"ref\":1}"
	ws_send b1 "{\"type\":\"regenerate\",\"conversation_id\":\"$aconv\",\"message_id\":\"$aa\",\"ref\":2}"
	ws_send b1 "{\"type\":\"stop\",\"conversation_id\":\"$aconv\",\"ref\":3}"
	ws_send b1 "{\"type\":\"regenerate\",\"conversation_id\":\"$bconv\",\"message_id\":\"$aa\",\"ref\":4}"
	ws_send b1 "{\"type\":\"send\",\"conversation_id\":\"$bconv\",\"content\":\"x\",\"parent_id\":\"$aa\",\"ref\":5}"
	ws_send b1 '{"type":"send","conversation_id":"00000000-0000-7000-8000-000000000000","content":"x","ref":6}'
	ws_send b1 '{"type":"stop","conversation_id":"not-a-uuid","ref":7}'
	wait_frame b1 'select(.type == "error")' 7
	[[ $(frames b1 | jq -r 'select(.type == "error") | "\(.ref) \(.data.error.code)"' | sort | paste -sd,) == \
		"1 not_found,2 not_found,3 not_found,4 not_found,5 not_found,6 not_found,7 not_found" ]] || false
	[[ $(msg_count) == "$before" ]] || false
	# alice heard nothing of it
	ws_send a1 '{"type":"ping"}'
	wait_frame a1 'select(.type == "pong")'
	[[ $(frames a1) == '{"type":"pong","ref":null}' ]] || false
	ws_close a1
	ws_close b1
}

@test "bad frames get error frames and the connection stays usable" {
	new_conv
	before=$(msg_count)
	ws_open a1 "$alice"
	ws_send a1 'not json'
	ws_send a1 'b:{"type":"ping"}'
	ws_send a1 '[1,2]'
	ws_send a1 '{"type":5,"ref":"t"}'
	ws_send a1 '{"type":"dance","ref":"d"}'
	ws_send a1 '{"type":"send","content":"x","ref":"c"}'
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"\",\"ref\":\"e\"}"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":5,\"ref\":\"n\"}"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"x\",\"model\":7,\"ref\":\"m\"}"
	ws_send a1 "{\"type\":\"regenerate\",\"conversation_id\":\"$conv\",\"ref\":\"r\"}"
	ws_send a1 '{"type":"resume","last_event_id":"abc","ref":"x"}'
	ws_send a1 '{"type":"resume","last_event_id":12,"ref":"y"}'
	wait_frame a1 'select(.type == "error")' 12
	[[ $(frames a1 | jq -r 'select(.type == "error") | "\(.ref) \(.data.error.code)"' | sort | paste -sd,) == \
		"c invalid_field,d invalid_field,e invalid_field,m invalid_field,n invalid_field,null invalid_json,null invalid_json,null invalid_json,r invalid_field,t invalid_field,x invalid_field,y invalid_field" ]] || false
	# the ref comes back as it was sent
	ws_send a1 '{"type":"ping","ref":{"n":[1,"two"]}}'
	wait_frame a1 'select(.type == "pong")'
	[[ $(frames a1 | jq -c 'select(.type == "pong") | .ref') == '{"n":[1,"two"]}' ]] || false
	[[ $(msg_count) == "$before" ]] || false
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"fine now\"}"
	wait_frame a1 'select(.type == "done")'
	[[ $(frames a1 | jq -r 'select(.type == "done") | .data.content') == "fine now" ]] || false
	ws_close a1
}

@test "a NUL escape or a key twice in a frame is refused as on REST, and nothing is stored" {
	new_conv
	before=$(msg_count)
	ws_open a1 "$alice"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"cut\\u0000here\",\"ref\":\"nul\"}"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"first\",\"content\":\"second\",\"ref\":\"dup\"}"
	# a reader taking the last type would see a send
	ws_send a1 "{\"type\":\"ping\",\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"x\"}"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"x\",\"model\":\"echo\\u0000\"}"
	wait_frame a1 'select(.type == "error")' 4
	frames a1 | jq -r 'select(.type == "error") | "\(.ref) \(.data.error.code) \(.data.error.message)"' >"$WS/got"
	cat >"$WS/expected" <<-'EOF'
		null invalid_json strings must not contain '\u0000'
		null invalid_json duplicate key 'content'
		null invalid_json duplicate key 'type'
		null invalid_json strings must not contain '\u0000'
	EOF
	diff -u "$WS/expected" "$WS/got"
	# nothing was queued: no pong, no event, nothing stored
	ws_send a1 '{"type":"ping","ref":"p"}'
	wait_frame a1 'select(.type == "pong")'
	[[ $(frames a1 | grep -vc '"type":"error"') == 1 ]] || false
	[[ $(msg_count) == "$before" ]] || false
	# and the socket goes on
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"whole\"}"
	wait_frame a1 'select(.type == "done")'
	api GET "/v1/conversations/$conv" "" "$alice"
	[[ $(jb '[.messages[].content] | join(",")') == whole,whole ]] || false
	ws_close a1
}

@test "?ready=1: a ready frame is the socket's place in the log, resumable before any event" {
	# asked for: the first frame, with a fresh id and no conversation
	ws_open a1 "$alice" "?ready=1"
	wait_frame a1 'select(.type == "ready")'
	[[ $(frames a1 | head -n 1 | jq -r '"\(.type) \(.conversation_id) \(.data)"') == "ready null {}" ]] || false
	pos=$(frames a1 | head -n 1 | jq -r .id)
	[[ $pos =~ ^[0-9]+$ ]] || false
	ws_close a1
	# not asked for: no ready frame
	ws_open a0 "$alice"
	ws_send a0 '{"type":"ping","ref":0}'
	wait_frame a0 'select(.type == "pong")'
	[[ $(frames a0) == '{"type":"pong","ref":0}' ]] || false
	ws_close a0
	# while no socket is open: a conversation made and renamed
	new_conv
	api PATCH "/v1/conversations/$conv" '{"title":"While away"}' "$alice"
	expect_status 200
	# resumed from the ready id: what came since, then a newer ready
	ws_open a2 "$alice" "?last_event_id=$pos&ready=1"
	wait_frame a2 'select(.type == "ready")'
	ws_close a2
	frames a2 | jq -r .id | awk -v p="$pos" '$1 + 0 <= p + 0 { exit 1 }'
	frames a2 | jq -r .id | awk 'NR > 1 && $1 + 0 <= p + 0 { exit 1 } { p = $1 }'
	# the rename came in the replay, before the ready frame
	frames a2 | jq -r --arg c "$conv" 'select(.type == "ready" or
		(.type == "conversation" and .data.id == $c)) |
		"\(.type) \(.data.title)"' >"$WS/got"
	[[ $(tail -n 2 "$WS/got" | paste -sd,) == "conversation While away,ready null" ]] || false
	[[ $(frames a2 | jq -r 'select(.type == "reset")') == "" ]] || false
	# from an id too old: reset, then ready (still a place to resume from)
	ws_open a3 "$alice" "?last_event_id=1&ready=1"
	wait_frame a3 'select(.type == "ready")'
	ws_close a3
	[[ $(frames a3 | jq -r .type | paste -sd' ') == "reset ready" ]] || false
	frames a3 | jq -r .id | awk 'NR > 1 && $1 + 0 <= p + 0 { exit 1 } { p = $1 }'
	run -0 "$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws?ready=yes" \
		-H "Authorization: Bearer $alice" -t 5 </dev/null
	[[ $output == $'open\nclosed 4400' ]] || false
}

@test "the WebSocket needs a caller and a well-formed last_event_id" {
	run -1 "$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws" -t 5 </dev/null
	[[ $output == "error 401" ]] || false
	# chatd refuses after the gateway's handshake: close 4000 + 400
	run -0 "$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws?last_event_id=abc" \
		-H "Authorization: Bearer $alice" -t 5 </dev/null
	[[ $output == $'open\nclosed 4400' ]] || false
}

@test "chatd stopped mid-answer: the partial answer is kept as interrupted, and chatd comes back" {
	new_conv
	ws_open a1 "$alice"
	ws_send a1 "{\"type\":\"send\",\"conversation_id\":\"$conv\",\"content\":\"go\",\"model\":\"openai/fake:words=40,delay_ms=10,stall_at=3\"}"
	wait_frame a1 'select(.type == "delta")' 3
	out=$BATS_TEST_TMPDIR/events.sse
	curl -sN --max-time 10 -H "Authorization: Bearer $alice" \
		"$(base_url)/v1/conversations/$conv/events" >"$out" 3>&- &
	pid=$!
	sleep 0.3
	stop_daemon chatd
	# every client is let go
	wait "$pid" || true
	wait "$(<"$WS/a1.pid")" || true
	rm -f "$WS/a1.pid"
	[[ $(tail -n 1 "$WS/a1.out") == closed* ]] || false
	start_daemon chatd
	api GET "/v1/conversations/$conv" "" "$alice"
	expect_status 200
	[[ $(jb '.messages[1].status') == interrupted ]] || false
	[[ $(jb '.messages[1].error.code') == interrupted ]] || false
	[[ $(jb '.messages[1].content') == "w1 w2 w3" ]] || false
	api POST "/v1/conversations/$conv/messages" '{"content":"back again"}' "$alice"
	expect_status 201
	[[ $(jb .assistant_message.content) == "back again" ]] || false
}

@test "an event past 1 MiB reaches every socket of the user, and the sockets stay open" {
	new_conv
	ws_open a1 "$alice"
	ws_open a2 "$alice"
	# the body fits chatd's 1 MiB; its message event, with the ids and
	# times around the content, does not fit in 1 MiB
	big=$BATS_TEST_TMPDIR/big.json
	{ printf '{"content":"'; head -c 1048500 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$big"
	api POST "/v1/conversations/$conv/messages?wait=true" "@$big" "$alice"
	expect_status 201
	for c in a1 a2; do
		wait_frame "$c" "select(.type == \"message\" and .data.role == \"user\" and (.data.content | length) == 1048500)"
	done
	# both still open and usable
	ws_send a1 '{"type":"ping"}'
	wait_frame a1 'select(.type == "pong")'
	ws_close a1
	ws_close a2
}
