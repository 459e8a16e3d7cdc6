# kafka-common.bash - helpers of the tests on Kafka, loaded after
# test_helper: librdkafka's mock cluster in the fixture kafka-mock (3
# brokers on loopback, the four topics), its fault injection, and kcat to
# read and write its topics.
#
#   setup_file() {
#       load test_helper; load kafka-common
#       kafka_start || return 1	# skips the file without librdkafka
#       start_stack
#   }
#   teardown_file() { load test_helper; load kafka-common; stop_stack; kafka_stop; }

KAFKA_DIR=$BATS_FILE_TMPDIR/kafka

# kafka_start: starts the mock cluster; exports CHAT_KAFKA_BROKERS (the
# stack started afterwards relays its events there).  Skips the whole file
# when the build has no kafka-mock (librdkafka missing: scripts/deps.sh
# installs librdkafka-dev and kcat) or kcat is missing.
kafka_start() {
	local i
	if [[ ! -x $FIXTURES/kafka-mock ]] || ! command -v kcat >/dev/null; then
		skip "librdkafka or kcat is not installed (scripts/deps.sh installs librdkafka-dev and kcat)"
	fi
	mkdir -p "$KAFKA_DIR"
	"$FIXTURES/kafka-mock" -c "$KAFKA_DIR/ctl" >"$KAFKA_DIR/out" \
		2>"$KAFKA_DIR/log" 3>&- &
	echo $! >"$KAFKA_DIR/pid"
	for ((i = 0; i < 200; i++)); do
		[[ -s $KAFKA_DIR/out ]] && break
		sleep 0.05
	done
	CHAT_KAFKA_BROKERS=$(head -n 1 "$KAFKA_DIR/out")
	if [[ $CHAT_KAFKA_BROKERS != 127.0.0.1:* ]]; then
		echo "kafka-mock did not start:" >&2
		cat "$KAFKA_DIR/log" >&2
		return 1
	fi
	export CHAT_KAFKA_BROKERS
}

# kafka_stop: stops the mock cluster by its recorded pid.
kafka_stop() {
	local pid i
	[[ -s $KAFKA_DIR/pid ]] || return 0
	pid=$(<"$KAFKA_DIR/pid")
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$KAFKA_DIR/pid"
}

# kafka_ctl COMMAND...: one fault-injection command of kafka-mock
# ("down all", "up all", "errors Produce 3 _TRANSPORT"); waits for its
# answer and fails unless it is "ok".
kafka_ctl() {
	local before i last
	before=$(wc -l <"$KAFKA_DIR/out")
	echo "$*" >"$KAFKA_DIR/ctl"
	for ((i = 0; i < 200; i++)); do
		(($(wc -l <"$KAFKA_DIR/out") > before)) && break
		sleep 0.02
	done
	last=$(tail -n 1 "$KAFKA_DIR/out")
	[[ $last == "ok "* ]] || {
		echo "kafka_ctl '$*': ${last:-no answer}" >&2
		return 1
	}
}

# kafka_read TOPIC: every message of TOPIC, one a line as
# "KEY<TAB>HEADERS<TAB>VALUE" (HEADERS as kcat prints them, name=value
# separated by commas), into $BATS_TEST_TMPDIR/TOPIC.msgs.
kafka_read() {
	kcat -C -q -b "$CHAT_KAFKA_BROKERS" -t "$1" -o beginning -e \
		-f '%k\t%h\t%s\n' >"$BATS_TEST_TMPDIR/$1.msgs"
}

# kafka_ids TOPIC [JQ-CONDITION]: the event ids on TOPIC (of the events
# that meet the condition), one a line, in log order per partition, into
# $output.
kafka_ids() {
	kafka_read "$1" || return 1
	output=$(cut -f3- "$BATS_TEST_TMPDIR/$1.msgs" |
		jq -r "select(${2:-true}) | .id")
}

# kafka_wait_ids TOPIC COUNT [JQ-CONDITION] [SECONDS]: until TOPIC holds at
# least COUNT such events (10 s unless said), then a second more so that a
# late duplicate would show; the ids in $output.
kafka_wait_ids() {
	local i n=0
	for ((i = 0; i < ${4:-10} * 4; i++)); do
		kafka_ids "$1" "${3:-true}" || return 1
		n=$(grep -c . <<<"$output" || true)
		((n >= $2)) && break
		sleep 0.25
	done
	if ((n < $2)); then
		echo "$1: $n events (${3:-true}), expected $2" >&2
		return 1
	fi
	sleep 1
	kafka_ids "$1" "${3:-true}"
}

# kafka_send TOPIC KEY: the lines of stdin as messages on TOPIC, by hand.
kafka_send() {
	kcat -P -q -b "$CHAT_KAFKA_BROKERS" -t "$1" -k "$2"
}
