#!/usr/bin/env bats
# notifyd on Kafka (issue 15): with kafka.brokers set, notifyd reads the
# topics as the consumer group "notifyd" and makes each rule's
# notification once, and chatd's group "chatd" pushes it to the user's
# WebSocket (chat.notification.created rides system-events).  On
# librdkafka's mock cluster (kafka-common.bash).  The consumers' batch
# window is a minute: a caught-up consumer must not wait it out.

setup_file() {
	load test_helper
	load kafka-common
	kafka_start || return 1
	start_stack "[kafka]" "fetch_wait_ms = 37" "batch_ms = 60000"
}

teardown_file() {
	load test_helper
	load kafka-common
	stop_stack
	kafka_stop
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

# until the user's list holds COUNT notifications of KIND (20 s); the
# Kafka consumers report no cursor to wait for.
wait_kind() {
	local i n
	for ((i = 0; i < 200; i++)); do
		notes "$1" || return 1
		n=$(jq --arg k "$2" '[.data[] | select(.kind == $k)] | length' <<<"$body")
		[[ $n == "$3" ]] && return 0
		sleep 0.1
	done
	echo "$n notifications of kind $2, not $3: $body" >&2
	return 1
}

@test "on Kafka: one notification per event, pushed to the user's socket" {
	new_user kai
	ws_open k1 "$access_token"
	api POST /v1/apikeys '{"name":"on-kafka"}' "$access_token"
	expect_status 201
	wait_kind "$access_token" apikey_created 1
	login_as kai kafka-device/1.0
	wait_kind "$access_token" new_device 1
	wait_frame k1 'select(.type == "notification" and .data.data.name == "on-kafka")'
	# nothing counted twice, a while later
	sleep 1
	wait_kind "$access_token" apikey_created 1
	wait_kind "$access_token" new_device 1
	[[ $(frames k1 | jq -c 'select(.type == "notification" and .data.kind == "apikey_created")' | wc -l) == 1 ]] || false
}

@test "kafka.fetch_wait_ms reaches librdkafka; a caught-up batch waits for nothing" {
	# the value the consumer's handle holds, as librdkafka reports it
	grep -F "kafka: consumer 'notifyd' of group 'notifyd': fetch.wait.max.ms=37" \
		"$CHAT_DATA_DIR/log/notifyd.log"
	grep -F "kafka: consumer 'chatd' of group 'chatd': fetch.wait.max.ms=37" \
		"$CHAT_DATA_DIR/log/chatd.log"
	# kafka.batch_ms is a minute: an event applied within wait_kind's
	# 20 s shows the batch ended when the consumer had caught up
	new_user kafkawin
	api POST /v1/apikeys '{"name":"window"}' "$access_token"
	expect_status 201
	wait_kind "$access_token" apikey_created 1
}
