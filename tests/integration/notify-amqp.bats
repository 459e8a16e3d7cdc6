#!/usr/bin/env bats
# notifyd's webhook delivery queue on RabbitMQ (rabbitmq.url, issue 15):
# a real rabbitmq-server node of this file (tests/fixtures/rabbitmq),
# the webhook receiver of notify-webhook.bats, and amqp-peek to count
# what waits in the broker's queues.  The webhook suite's core cases
# with RabbitMQ as the queue (three attempts through the delay queues
# with one webhook-id; dead-lettered after the last attempt or at once
# on a 410; a redelivery), a broker restart with a job waiting in a
# delay queue and another put while it is down, a restart in the middle
# of an attempt (no second copy of the job), kill -9 of notifyd with a
# delivery unacked, a wrong password and a dead broker at start, and no
# password in any log.

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load notify-common
	load webhook_helper
	[[ -x $CHAT_BIN/chat-amqp.so || -f $CHAT_BIN/chat-amqp.so ]] ||
		skip "no chat-amqp.so (librabbitmq-dev missing)"
	compgen -G "/usr/lib/rabbitmq/lib/rabbitmq_server-*" >/dev/null ||
		skip "no rabbitmq-server"
	export MQ_DIR=$BATS_FILE_TMPDIR/rabbitmq
	MQ_PORT=$(free_port) || return 1
	export MQ_PORT
	"$CHAT_ROOT/tests/fixtures/rabbitmq" start "$MQ_DIR" "$MQ_PORT" 3>&-
	MQ_URL=$("$CHAT_ROOT/tests/fixtures/rabbitmq" url "$MQ_DIR")
	export MQ_URL
	wh_receiver_start
	# retries after 2 s and 3 s: three attempts, two delay queues
	start_stack "[notifyd]" "webhook_allow = 127.0.0.1/32" \
		"webhook_retry_schedule = 2,3" "webhook_timeout_ms = 5000" \
		"[rabbitmq]" "url = $MQ_URL" "prefetch = 4"
	new_user alice
	echo "alice_token=$access_token" >"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	local rc=0
	load test_helper
	load webhook_helper
	# a sanitizer report in a daemon's log fails the file, after the
	# broker and the receiver are stopped too
	stop_stack || rc=1
	wh_receiver_stop
	if [[ -n ${MQ_DIR:-} ]]; then
		"$CHAT_ROOT/tests/fixtures/rabbitmq" stop "$MQ_DIR" || rc=1
	fi
	return "$rc"
}

setup() {
	load test_helper
	load notify-common
	load webhook_helper
	source "$BATS_FILE_TMPDIR/vars"
}

# mq_peek SUFFIX: messages ready in chat.notifyd.SUFFIX
mq_peek() {
	CHAT_MODULE_DIR=$CHAT_BIN "$CHAT_FIXTURES/amqp-peek" "$MQ_URL" "$1"
}

# mq_wait SUFFIX COUNT [SECONDS]: until COUNT messages wait there
mq_wait() {
	local i n
	for ((i = 0; i < ${3:-20} * 20; i++)); do
		n=$(mq_peek "$1") || return 1
		[[ $n == "$2" ]] && return 0
		sleep 0.05
	done
	echo "chat.notifyd.$1 holds $n messages, not $2" >&2
	return 1
}

# jobs_in_store MSG: the webhook_jobs rows of a message (the outbox, and
# the dead ones)
jobs_in_store() {
	db_query notifyd "SELECT COUNT(*) FROM webhook_jobs WHERE msg_id = '$1'"
}

@test "notifyd declares the topology and says where the queue is" {
	grep -q "rabbitmq: delivery queue on 127.0.0.1:$MQ_PORT, 2 delay queues" \
		"$CHAT_DATA_DIR/log/notifyd.log" || false
	for q in work dead delay.2000 delay.3000; do
		run -0 mq_peek "$q"
		[[ $output == 0 ]] || false
	done
	# librabbitmq is mapped by the daemon that needs it, no other
	grep -q librabbitmq "/proc/$(daemon_pid notifyd)/maps" || false
	run ! grep -q librabbitmq "/proc/$(daemon_pid userd)/maps"
}

@test "fail twice then succeed: three attempts, one webhook-id, via the delay queues" {
	wh_add "$alice_token" /fail2
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	# the retry waits in the broker, not in the store
	mq_wait delay.2000 1
	[[ $(jobs_in_store "$msg") == 0 ]] || false
	wh_wait "$msg" 3 30
	[[ $(jq -c '[.[] | .status]' <<<"$reqs") == '[500,500,200]' ]] || false
	[[ $(jq '[.[] | .all_valid] | all' <<<"$reqs") == true ]] || false
	jq -e '(.[1].t - .[0].t) >= 2 and (.[2].t - .[1].t) >= 3' <<<"$reqs" >/dev/null || false
	wh_deliveries_wait "$alice_token" "$ep" 3
	[[ $(jq -c '[.data[] | [.attempt, .status, .outcome]]' <<<"$body") == '[[3,200,"ok"],[2,500,"http"],[1,500,"http"]]' ]] || false
	mq_wait work 0
	[[ $(mq_peek delay.2000) == 0 && $(mq_peek delay.3000) == 0 ]] || false
	[[ $(jobs_in_store "$msg") == 0 ]] || false
}

@test "out of attempts: dead-lettered in the broker, dead in the store" {
	local closed
	# nothing listens there: every attempt fails at once
	closed=$(free_port)
	api POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$closed/x\",\"events\":[\"webhook.test\"]}" "$alice_token"
	expect_status 201
	ep=$(jb .id)
	wh_test "$alice_token" "$ep"
	mq_wait dead 1 40
	wh_deliveries_wait "$alice_token" "$ep" 3
	[[ $(jq -c '[.data[] | .attempt]' <<<"$body") == '[3,2,1]' ]] || false
	[[ $(db_query notifyd "SELECT state, attempts FROM webhook_jobs WHERE msg_id = '$msg'") == "1|3" ]] || false
	sleep 1
	[[ $(mq_peek dead) == 1 && $(mq_peek work) == 0 ]] || false
}

@test "410 disables the endpoint: its job is dead-lettered at once" {
	local dead
	dead=$(mq_peek dead)
	wh_add "$alice_token" /gone
	wh_test "$alice_token" "$ep"
	mq_wait dead $((dead + 1))
	[[ $(jq length <<<"$(wh_requests "$msg")") == 1 ]] || false
	[[ $(db_query notifyd "SELECT state FROM webhook_jobs WHERE msg_id = '$msg'") == 1 ]] || false
	api GET "/v1/webhooks/$ep" "" "$alice_token"
	[[ $(jq -c '[.enabled, .disabled_reason]' <<<"$body") == '[false,"gone"]' ]] || false
}

@test "redelivery of a message goes through the broker: the same webhook-id" {
	wh_add "$alice_token" /ok
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	api POST "/v1/webhooks/$ep/messages/$msg/redeliver" "" "$alice_token"
	expect_status 202
	wh_wait "$msg" 2
	[[ $(jq -c '[.[] | [.status, .all_valid]]' <<<"$reqs") == '[[200,true],[200,true]]' ]] || false
	mq_wait work 0
	[[ $(jobs_in_store "$msg") == 0 ]] || false
}

@test "a broker restart: the delayed job and one put meanwhile are delivered" {
	local first second
	wh_add "$alice_token" /fail2
	wh_test "$alice_token" "$ep"
	first=$msg
	wh_wait "$first" 1
	mq_wait delay.2000 1
	"$CHAT_ROOT/tests/fixtures/rabbitmq" stop "$MQ_DIR"
	# a job put while the broker is down waits in notifyd's store
	wh_add "$alice_token" /ok
	wh_test "$alice_token" "$ep"
	second=$msg
	[[ $(jobs_in_store "$second") == 1 ]] || false
	"$CHAT_ROOT/tests/fixtures/rabbitmq" start "$MQ_DIR" "$MQ_PORT" 3>&-
	wh_wait "$second" 1 60
	wh_wait "$first" 3 60
	[[ $(jq -c '[.[] | .status]' <<<"$reqs") == '[500,500,200]' ]] || false
	[[ $(jq -c '[.[] | .status]' <<<"$(wh_requests "$second")") == '[200]' ]] || false
	for ((i = 0; i < 100; i++)); do
		[[ $(jobs_in_store "$second") == 0 ]] && break
		sleep 0.1
	done
	[[ $(jobs_in_store "$second") == 0 ]] || false
	grep -q "rabbitmq: consuming from 127.0.0.1:$MQ_PORT" "$CHAT_DATA_DIR/log/notifyd.log" || false
}

@test "a broker restart mid-attempt: the failed attempt's retry is not a second copy" {
	local i
	wh_add "$alice_token" /hang
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	# the attempt is waiting for its timeout when the connection drops:
	# the broker gives the job out again, and the attempt's failure
	# must not publish a retry of its own
	"$CHAT_ROOT/tests/fixtures/rabbitmq" stop "$MQ_DIR"
	api PATCH "/v1/webhooks/$ep" "{\"url\":\"$WH_URL/ok\"}" "$alice_token"
	expect_status 200
	"$CHAT_ROOT/tests/fixtures/rabbitmq" start "$MQ_DIR" "$MQ_PORT" 3>&-
	wh_wait "$msg" 2 60
	# a second copy would come back from the delay queue 2 s later
	sleep 4
	[[ $(jq -c '[.[] | .path]' <<<"$(wh_requests "$msg")") == '["/hang","/ok"]' ]] || false
	mq_wait work 0
	[[ $(mq_peek delay.2000) == 0 ]] || false
}

@test "kill -9 of notifyd with a delivery unacked: the broker gives it again" {
	local pid
	wh_add "$alice_token" /slow
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	pid=$(daemon_pid notifyd)
	kill -9 "$pid"
	for ((i = 0; i < 100; i++)); do
		process_alive "$pid" || break
		sleep 0.05
	done
	# the connection closed with the message unacked: ready again
	mq_wait work 1 20
	start_daemon notifyd
	wh_wait "$msg" 2 30
	[[ $(jq '[.[] | .all_valid] | all' <<<"$reqs") == true ]] || false
	for ((i = 0; i < 300; i++)); do
		api GET "/v1/webhooks/$ep/deliveries?limit=100" "" "$alice_token"
		[[ $(jq '[.data[] | select(.outcome == "ok")] | length' <<<"$body") -ge 1 ]] && break
		sleep 0.1
	done
	[[ $(jq '[.data[] | select(.outcome == "ok")] | length' <<<"$body") -ge 1 ]] || false
	mq_wait work 0
}

# notifyd_alone URL PORT: runs a second notifyd of this stack's config
# on PORT with rabbitmq.url URL, its own data dir (at most 30 s)
notifyd_alone() {
	CHAT_DATA_DIR=$BATS_TEST_TMPDIR/data CHAT_DATABASE=sqlite \
		CHAT_NOTIFYD_PORT=$2 CHAT_RABBITMQ_URL=$1 \
		exec timeout 30 "$CHAT_BIN/notifyd" -c "$CHAT_CONFIG" 3>&-
}

@test "a wrong password stops notifyd at start, with a clear error" {
	local bad port
	bad=${MQ_URL/:$(<"$MQ_DIR/password")@/:not-the-password@}
	[[ $bad != "$MQ_URL" ]] || false
	port=$(free_port)
	run bash -c "$(declare -f notifyd_alone); notifyd_alone \"\$1\" \"\$2\" 2>&1" _ "$bad" "$port"
	((status != 0 && status != 124)) || false
	[[ $output == *"rabbitmq.url: 127.0.0.1:$MQ_PORT vhost '/' refused the login of user 'chat' (wrong user or password?)"* ]] || false
	[[ $output != *not-the-password* && $output != *Sanitizer* ]] || false
}

@test "a dead broker at start: notifyd runs, says so, keeps jobs in the store" {
	local port dead pid i
	port=$(free_port)
	dead=amqp://chat:s3cret-dead@127.0.0.1:$(free_port)/%2f
	(notifyd_alone "$dead" "$port") >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
		sleep 0.05
	done
	curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || false
	kill "$pid"
	wait "$pid" || true
	grep -q "cannot connect to 127.0.0.1:.* (is the broker up?); jobs wait in the store until the broker is up" "$BATS_TEST_TMPDIR/out" || false
	run ! grep -r -e s3cret-dead -e Sanitizer "$BATS_TEST_TMPDIR"
}

@test "no log holds the broker's password" {
	local pass
	pass=$(<"$MQ_DIR/password")
	run ! grep -r -F -- "$pass" "$CHAT_DATA_DIR/log"
}
