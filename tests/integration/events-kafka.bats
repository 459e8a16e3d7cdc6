#!/usr/bin/env bats
# The event backbone on Kafka: the stack started with CHAT_KAFKA_BROKERS
# pointing at librdkafka's mock cluster (tests/fixtures/kafka/kafka-mock.c,
# 3 brokers on loopback).  Events made through the public API reach their
# topics once each, keyed by their user, in CloudEvents structured mode; a
# broker outage fails no request and loses or repeats no event; failing
# Produce requests neither; analyticsd, consuming the topics as a group,
# logs, counts and skips messages that are not events and goes on,
# killed with SIGKILL in the middle of a burst counts every generation
# once after its restart (offsets stored after the commit, the inbox),
# and reports its lag per topic.  Only the daemons that produce or
# consume map chat-kafka.so.
# Skipped only where librdkafka or kcat is not installed (scripts/deps.sh
# installs both).

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load kafka-common
	load analytics-common
	kafka_start || return 1
	start_stack "[gatewayd]" "metrics_token = scrape-secret" \
		"[aid]" "echo_delay_ms = 0" || return 1
	new_user "alice" || return 1
	{
		echo "admin_token=$access_token"
		echo "alice_id=$user_id"
	} >"$BATS_FILE_TMPDIR/analytics-tokens"
}

teardown_file() {
	load test_helper
	load kafka-common
	stop_stack
	local rc=$?
	kafka_stop
	return $rc
}

setup() {
	load test_helper
	load kafka-common
	load analytics-common
	load events-pull
}

# The structured mode's content-type, as kcat prints a header.
CE_HEADER='content-type=application/cloudevents+json; charset=UTF-8'

# topic_checks TOPIC: every message of TOPIC (read last by kafka_read)
# has the CloudEvents content-type, the user id (else the subject) as its
# key, a type that belongs on TOPIC, and an id no other message has.
topic_checks() {
	local msgs=$BATS_TEST_TMPDIR/$1.msgs bad
	[[ -s $msgs ]] || { echo "$1: no messages" >&2; return 1; }
	bad=$(awk -F'\t' -v h="$CE_HEADER" '$2 != h' "$msgs")
	[[ -z $bad ]] || { echo "$1: without the header: $bad" >&2; return 1; }
	bad=$(awk -F'\t' '{print $1 "\t" $3}' "$msgs" | jq -R -r '
		split("\t") as [$k, $v] | ($v | fromjson) as $e
		| select($k != ($e.userid // $e.subject // "")) | $v')
	[[ -z $bad ]] || { echo "$1: wrong keys: $bad" >&2; return 1; }
	bad=$(cut -f3- "$msgs" | jq -r --arg t "$1" '
		(.type | split(".")[1]) as $noun
		| {user: "user-events", session: "user-events",
		   apikey: "user-events", conversation: "chat-events",
		   message: "chat-events", generation: "ai-events",
		   system: "system-events"}[$noun] as $want
		| select($want != $t) | .type')
	[[ -z $bad ]] || { echo "$1: types of another topic: $bad" >&2; return 1; }
	bad=$(cut -f3- "$msgs" | jq -r .id | sort | uniq -d)
	[[ -z $bad ]] || { echo "$1: ids more than once: $bad" >&2; return 1; }
}

# unrelayed DAEMON: rows of the daemon's outbox Kafka has not acknowledged.
unrelayed() {
	local port
	port=$(events_port "$1") || return 1
	curl -s --max-time 5 -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$port/internal/events/stats" | jq -r .unrelayed
}

# retries DAEMON: the relay's failed hand-overs to Kafka so far, from its
# log.
retries() {
	grep -c 'relay to kafka: .* retry in' "$CHAT_DATA_DIR/log/$1.log" || true
}

# new_convs TOKEN N: N conversations, each request answered 201.
new_convs() {
	local i
	for ((i = 0; i < $2; i++)); do
		api POST /v1/conversations '{}' "$1"
		expect_status 201 || return 1
	done
}

# once_each TOPIC N COND SECONDS: exactly N events meeting COND on TOPIC,
# no id twice.
once_each() {
	kafka_wait_ids "$1" "$2" "$3" "$4" || return 1
	local n dups
	n=$(grep -c . <<<"$output" || true)
	dups=$(sort <<<"$output" | uniq -d)
	if [[ $n != "$2" || -n $dups ]]; then
		echo "$1: $n events ($3), expected $2; twice: $dups" >&2
		return 1
	fi
}

@test "events reach their topics once each, keyed by user, as structured CloudEvents" {
	local t
	new_user "bob"
	api POST /v1/conversations '{}' "$access_token"
	expect_status 201
	generate "$access_token" "hello kafka"
	once_each user-events 1 ".type == \"chat.user.registered\" and .userid == \"$user_id\"" 10
	once_each user-events 1 ".type == \"chat.user.logged_in\" and .userid == \"$user_id\"" 10
	once_each user-events 1 ".type == \"chat.session.created\" and .userid == \"$user_id\"" 10
	once_each chat-events 1 ".type == \"chat.conversation.created\" and .userid == \"$user_id\"" 10
	once_each ai-events 1 ".type == \"chat.generation.completed\" and .userid == \"$user_id\"" 10
	for t in userd sessiond chatd aid; do
		once_each system-events 1 ".type == \"chat.system.started\" and .source == \"/chat/$t\"" 10
	done
	for t in user-events chat-events ai-events system-events; do
		kafka_read "$t"
		topic_checks "$t"
	done
}

@test "the producing daemons and analyticsd map chat-kafka.so, the gateway does not" {
	local d
	for d in userd sessiond chatd aid analyticsd; do
		grep -q '/chat-kafka\.so' "/proc/$(daemon_pid "$d")/maps" ||
			{ echo "$d does not map chat-kafka.so" >&2; false; }
	done
	run -1 grep -E '/librdkafka[^/]*\.so|/chat-kafka\.so' \
		"/proc/$(daemon_pid gatewayd)/maps"
}

@test "brokers down: requests succeed, the outbox grows, every event arrives once after" {
	local me i n tries
	new_user "carol"
	me=$user_id
	tries=$(retries chatd)
	kafka_ctl down all
	new_convs "$access_token" 8
	# the rows wait in chatd's outbox
	for ((i = 0; i < 50; i++)); do
		n=$(unrelayed chatd)
		((n >= 8)) && break
		sleep 0.1
	done
	((n >= 8)) || { echo "chatd's outbox: $n unrelayed" >&2; false; }
	# down for a while: the relay hands the rows over twice in vain
	# (each try waits EVENTS_PUBLISH_TIMEOUT_MS), and the copies its
	# producer still holds must not reach the topic twice
	for ((i = 0; i < 300; i++)); do
		(($(retries chatd) >= tries + 2)) && break
		sleep 0.1
	done
	(($(retries chatd) >= tries + 2)) || false
	kafka_ctl up all
	once_each chat-events 8 ".type == \"chat.conversation.created\" and .userid == \"$me\"" 45
	for ((i = 0; i < 150; i++)); do
		n=$(unrelayed chatd)
		((n == 0)) && break
		sleep 0.2
	done
	[[ $n == 0 ]] || { echo "chatd's outbox: $n still unrelayed" >&2; false; }
	kafka_read chat-events
	topic_checks chat-events
}

@test "failing Produce requests neither lose nor repeat an event" {
	local me
	new_user "dave"
	me=$user_id
	kafka_ctl errors Produce 4 NOT_LEADER_FOR_PARTITION
	kafka_ctl errors Produce 3 _TRANSPORT
	kafka_ctl errors Produce 2 REQUEST_TIMED_OUT
	new_convs "$access_token" 6
	once_each chat-events 6 ".type == \"chat.conversation.created\" and .userid == \"$me\"" 30
	once_each user-events 1 ".type == \"chat.user.registered\" and .userid == \"$me\"" 10
	kafka_read chat-events
	topic_checks chat-events
	kafka_ctl clear Produce
}

# skipped: analyticsd's count of skipped messages (port + 5).
skipped() {
	curl -s --max-time 5 -H "Authorization: Bearer scrape-secret" \
		"http://127.0.0.1:$((CHAT_PORT + 5))/metrics" |
		awk '$1 == "analyticsd_events_skipped_total" { print $2 }'
}

@test "analyticsd logs, counts and skips messages that are not events, and goes on" {
	local before after i
	before=$(skipped)
	[[ -n $before ]] || false
	printf '%s\n' 'not json at all' '[1,2,3]' '{"specversion":"1.0","type":"chat.user.registered"}' |
		kafka_send user-events by-hand
	for ((i = 0; i < 100; i++)); do
		after=$(skipped)
		((after >= before + 3)) && break
		sleep 0.1
	done
	[[ $after == $((before + 3)) ]] || { echo "skipped: $before, then $after" >&2; false; }
	grep -q 'skipped the message at offset [0-9]* of .user-events.*not a JSON event' \
		"$CHAT_DATA_DIR/log/analyticsd.log" || false
	# and it goes on: a generation after them is counted
	new_user "erin"
	generate "$access_token" "after the garbage"
	wait_totals "$user_id" 1 30
	process_alive "$(daemon_pid analyticsd)" || false
}

@test "analyticsd killed -9 mid-burst counts every generation once after its restart" {
	local pid n=150 i got=0
	new_user "frank"
	seq "$n" | xargs -P 4 -I{} curl -s -o /dev/null --max-time 20 \
		-H "Authorization: Bearer $access_token" -H 'Content-Type: application/json' \
		--data-binary '{"model":"echo","messages":[{"role":"user","content":"burst {}"}]}' \
		"$(base_url)/v1/chat/completions" 3>&- &
	local burst_pid=$!
	# until analyticsd has some of the burst from Kafka, not all of it
	for ((i = 0; i < 300; i++)); do
		got=$(analytics_totals "$user_id" | cut -d' ' -f1)
		((got > 0)) && break
		sleep 0.05
	done
	pid=$(daemon_pid analyticsd)
	kill -9 "$pid"
	((got > 0 && got < n)) || { echo "counted $got of $n" >&2; false; }
	while process_alive "$pid"; do sleep 0.05; done
	while process_alive "$burst_pid"; do sleep 0.1; done
	# the group gives the dead member's partitions to the new one after
	# its session timeout (10 s); offsets it stored but had not
	# committed are read again, and the inbox skips them
	start_daemon analyticsd
	wait_totals "$user_id" "$n" 60
	# the inbox holds each of the user's generation events on the topic
	# once
	kafka_ids ai-events ".userid == \"$user_id\""
	local want
	want=$(sort -u <<<"$output" | grep -c .)
	((want >= 2 * n)) || { echo "ai-events: $want events" >&2; false; }
	run -0 db_query analyticsd "SELECT COUNT(*), COUNT(DISTINCT id) FROM inbox
		WHERE event LIKE '%\"userid\":\"$user_id\"%'
		AND event LIKE '%chat.generation.%'"
	[[ $output == "$want|$want" ]] || { echo "inbox: $output, topic: $want" >&2; false; }
}

# consumer_lines: analyticsd's lag and position per topic, "topic lag
# position" lines sorted.
consumer_lines() {
	curl -s --max-time 5 -H "Authorization: Bearer scrape-secret" \
		"http://127.0.0.1:$((CHAT_PORT + 5))/metrics" |
		awk -F'[{}" ]+' '
			$1 == "analyticsd_consumer_lag" { lag[$3] = $4 }
			$1 == "analyticsd_consumer_position" { pos[$3] = $4 }
			END { for (t in lag) print t, lag[t], (pos[t] > 0 ? "read" : "none") }' |
		sort
}

@test "analyticsd reports its lag per topic, 0 once it has read everything" {
	local i
	new_user "gina"
	api POST /v1/conversations '{}' "$access_token"
	expect_status 201
	generate "$access_token" "lag"
	# every topic has events: a position past them, nothing left to read
	printf '%s\n' "ai-events 0 read" "chat-events 0 read" "system-events 0 read" \
		"user-events 0 read" >"$BATS_TEST_TMPDIR/expect"
	for ((i = 0; i < 150; i++)); do
		consumer_lines >"$BATS_TEST_TMPDIR/actual"
		cmp -s "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual" && break
		sleep 0.1
	done
	diff -u "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual"
}

# position TOPIC: analyticsd's position on TOPIC (the next offsets to
# read, summed over its partitions).
position() {
	curl -s --max-time 5 -H "Authorization: Bearer scrape-secret" \
		"http://127.0.0.1:$((CHAT_PORT + 5))/metrics" |
		awk -F'[{}" ]+' -v t="$1" '$1 == "analyticsd_consumer_position" && $3 == t { print $4 }'
}

# hold_store_lock FILE: in the background, another process takes a lock
# of analyticsd's store that its batches' inbox inserts wait for
# (SQLite: the write lock; PostgreSQL: the inbox locked against writers)
# for up to two minutes; touches FILE once it holds it.  release_store_lock
# ends it.
hold_store_lock() {
	local i
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		printf '%s\n' "BEGIN;" \
			"LOCK TABLE analyticsd.inbox IN EXCLUSIVE MODE;" \
			"\\! touch $1" "SELECT pg_sleep(120);" |
			PGAPPNAME=analytics-lock psql -X -q "$CHAT_DATABASE" \
			>/dev/null 2>&1 3>&- &
		;;
	*)
		python3 -c 'import pathlib, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
pathlib.Path(sys.argv[2]).touch()
time.sleep(120)' "$CHAT_DATA_DIR/analyticsd.db" "$1" 3>&- &
		;;
	esac
	lock_pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

# release_store_lock: ends hold_store_lock's lock (on PostgreSQL the
# server's session, which a killed psql would leave sleeping).
release_store_lock() {
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		psql -X -q -t -A "$CHAT_DATABASE" -c "SELECT pg_terminate_backend(pid)
			FROM pg_stat_activity WHERE application_name = 'analytics-lock'
			AND datname = current_database()" >/dev/null
		;;
	*)
		kill "$lock_pid"
		;;
	esac
	while process_alive "$lock_pid"; do sleep 0.05; done
}

# The consumer's pipeline polls and parses the next batch while the one
# before is applied: a batch it holds but has not committed must have no
# offset stored, or the auto-commit (every second) skips it for good.
@test "batches polled while analyticsd's store is locked, killed -9: every generation counted once after its restart" {
	local pid before i n=8
	new_user "hank"
	before=$(position ai-events)
	[[ -n $before ]] || false
	hold_store_lock "$BATS_TEST_TMPDIR/locked"
	for ((i = 0; i < n; i++)); do
		generate "$access_token" "locked $i"
	done
	# until analyticsd polled some of the generations' events (they
	# wait for the store), then past an auto-commit of whatever offsets
	# it stored
	for ((i = 0; i < 300; i++)); do
		(($(position ai-events) > before)) && break
		sleep 0.1
	done
	(($(position ai-events) > before)) || { echo "position $before, still" >&2; false; }
	sleep 2
	pid=$(daemon_pid analyticsd)
	kill -9 "$pid"
	while process_alive "$pid"; do sleep 0.05; done
	release_store_lock
	start_daemon analyticsd
	wait_totals "$user_id" "$n" 60
}
