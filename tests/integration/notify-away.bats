#!/usr/bin/env bats
# "A long answer finished while you were away" (issue 15): chatd writes
# chat.message.finished at the end of every answer with the number of
# the user's clients connected then (WebSockets, SSE streams, a waiting
# 201 form) and the answer's time; notifyd makes one in-app notification
# (category generation) of an answer that took
# notifyd.long_generation_ms or more and ended with none connected.
#
# The answers are the echo model's, paced by aid.echo_delay_ms: N words
# take N * 20 ms.  A client "goes away" by reading its SSE stream up to
# the first delta and closing it; the answer runs on in chatd.

bats_require_minimum_version 1.5.0

# A consumer that reads nothing holds chatd's outbox rows (pruning waits
# for it): the tests read the events, and the redelivery test sends
# notifyd back over them.  events.include_text: the event carries the
# conversation's title, and so does the notification.
setup_file() {
	load test_helper
	start_stack "[aid]" "echo_delay_ms = 20" "retries = 0" \
		"[notifyd]" "long_generation_ms = 1500" \
		"[events]" "include_text = true"
	curl -sf --max-time 10 -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 3))/internal/events?after=0&consumer=hold" >/dev/null
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load ws-common
	load notify-common
	WS=$BATS_TEST_TMPDIR/ws
	mkdir -p "$WS"
}

teardown() {
	ws_teardown
}

# away_send CONV WORDS: sends an answer of WORDS words to CONV in the SSE
# form and leaves at its first delta (the client closes its stream).
away_send() {
	{ curl -sN --max-time 20 -H "Authorization: Bearer $access_token" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary "$(jq -nc --arg c "$(fake_words "$2")" '{content: $c}')" \
		"$(base_url)/v1/conversations/$1/messages" 3>&- || true; } |
		grep -m 1 -q '^event: delta'
}

# finished N: waits until chatd wrote N chat.message.finished events of
# the user; the data of the newest goes into $event.
finished() {
	local i n
	for ((i = 0; i < 400; i++)); do
		n=$(db_query chatd "SELECT COUNT(*) FROM outbox
			WHERE type = 'chat.message.finished' AND user_id = '$user_id'")
		((n >= $1)) && break
		sleep 0.05
	done
	((n == $1)) || { echo "$n answers ended, not $1" >&2; return 1; }
	event=$(db_query chatd "SELECT event FROM outbox WHERE
		type = 'chat.message.finished' AND user_id = '$user_id'
		ORDER BY seq DESC LIMIT 1" | jq -c .data)
}

# new_conv TITLE: a conversation of the user; sets conv.
new_conv() {
	api POST /v1/conversations "$(jq -nc --arg t "$1" '{title: $t}')" "$access_token"
	expect_status 201
	conv=$(jb .id)
}

@test "a long answer that ends with no client connected: one notification" {
	new_user ada
	new_conv "Trip plans"
	away_send "$conv" 120
	finished 1
	jq -e --arg c "$conv" '.clients_connected == 0 and .latency_ms >= 1500 and
		.status == "complete" and .conversation_id == $c and
		.title == "Trip plans" and (.message_id | length) == 36 and
		has("text") == false' <<<"$event" >/dev/null
	kinds "$access_token" generation_finished 1
	jq -e --arg c "$conv" --argjson e "$event" '.data[0] |
		.category == "generation" and .read == false and
		.title == "Answer ready" and .data.conversation_id == $c and
		.data.message_id == $e.message_id and .data.title == "Trip plans" and
		.data.status == "complete"' <<<"$body" >/dev/null
	[[ $(jb .unread) == 1 ]] || false
}

@test "a long answer that ends with a WebSocket open: no notification" {
	new_user bea
	ws_open w1 "$access_token"
	new_conv "Watched"
	away_send "$conv" 120
	finished 1
	jq -e '.clients_connected == 1 and .latency_ms >= 1500' <<<"$event" >/dev/null
	kinds "$access_token" generation_finished 0
	# the socket saw the answer end and no notification of it
	wait_frame w1 'select(.type == "done")'
	[[ $(frames w1 | jq -c 'select(.type == "notification")' | wc -l) == 0 ]] || false
}

@test "a short answer that ends with no client connected: no notification" {
	new_user cid
	new_conv "Quick"
	away_send "$conv" 10
	finished 1
	jq -e '.clients_connected == 0 and .latency_ms < 1500' <<<"$event" >/dev/null
	kinds "$access_token" generation_finished 0
}

@test "kill -9 and a redelivery of chatd's events make no second notification" {
	local pid
	new_user dot
	new_conv "Twice"
	away_send "$conv" 120
	finished 1
	kinds "$access_token" generation_finished 1
	pid=$(daemon_pid notifyd)
	kill -9 "$pid"
	while process_alive "$pid"; do sleep 0.05; done
	# notifyd reads every event of chatd again
	db_query notifyd "UPDATE event_cursors SET pos = 0 WHERE producer = 'chatd'"
	start_daemon notifyd
	kinds "$access_token" generation_finished 1
	[[ $(db_query notifyd "SELECT COUNT(*) FROM notifications
		WHERE kind = 'generation_finished'") == 2 ]] || false
}
