# events-pull.bash - helpers of the producer event tests
# (events-sessions.bats, events-chat.bats, events-ai.bats), loaded after
# test_helper: read a daemon's outbox through its pull API
# (GET /internal/events, events.h) and check an event's CloudEvents form.
#
#   setup() { load test_helper; load events-pull; }

# events_port DAEMON: the port of a daemon of the stack (gateway + N).
events_port() {
	local i=0 name
	for name in gatewayd userd sessiond chatd aid; do
		[[ $name == "$1" ]] && { echo $((CHAT_PORT + i)); return 0; }
		i=$((i + 1))
	done
	echo "events_port: unknown daemon '$1'" >&2
	return 1
}

# events_hold DAEMON...: registers a consumer that reads nothing on each
# daemon, so that every row stays in its outbox for the tests to read
# (pruning waits for every registered consumer; analyticsd, when it runs,
# would let the rows go as soon as it has them).  Call it in setup_file.
events_hold() {
	local d port
	for d in "$@"; do
		port=$(events_port "$d") || return 1
		curl -sf --max-time 10 -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" 			"http://127.0.0.1:$port/internal/events?after=0&consumer=events-hold" >/dev/null || {
			echo "events_hold: cannot register on $d" >&2
			return 1
		}
	done
}

# events_all DAEMON: every event the daemon's outbox holds, one
# CloudEvents object a line (in pos order), into $events_file.
events_all() {
	local port after=0 out n key
	port=$(events_port "$1") || return 1
	key=$(<"$CHAT_DATA_DIR/internal.key")
	events_file=$BATS_TEST_TMPDIR/events.$1.jsonl
	: >"$events_file"
	while :; do
		out=$(curl -s --max-time 10 -H "X-Chat-Internal: $key" \
			"http://127.0.0.1:$port/internal/events?after=$after&limit=5000") || {
			echo "events_all: GET /internal/events of $1 failed" >&2
			return 1
		}
		n=$(jq '.events | length' <<<"$out") || {
			echo "events_all: not JSON: $out" >&2
			return 1
		}
		((n > 0)) || break
		jq -c '.events[].event' <<<"$out" >>"$events_file"
		after=$(jq '.events[-1].pos' <<<"$out")
	done
}

# events_of DAEMON TYPE [JQ-CONDITION]: the events of TYPE (and the
# condition on the event, e.g. '.data.session_id == "X"'), one a line,
# into $output; waits up to 5 s for the first (the relay gives committed
# rows their position every EVENTS_RELAY_MS; aid writes its generation
# events with its usage batch), then a little more, so that a second
# copy would be seen too.
events_of() {
	local daemon=$1 type=$2 cond=${3:-true} i
	for ((i = 0; i < 100; i++)); do
		events_all "$daemon" || return 1
		output=$(jq -c --arg t "$type" "select(.type == \$t) | select($cond)" \
			"$events_file")
		[[ -n $output ]] && break
		sleep 0.05
	done
	sleep 0.3
	events_all "$daemon" || return 1
	output=$(jq -c --arg t "$type" "select(.type == \$t) | select($cond)" \
		"$events_file")
}

# events_once DAEMON TYPE [JQ-CONDITION]: exactly one such event; it is
# left in $event.
events_once() {
	events_of "$@" || return 1
	local n
	n=$(grep -c . <<<"$output" || true)
	if [[ $n != 1 ]]; then
		echo "expected one $2 event of $1 ($3), got $n:" >&2
		echo "$output" >&2
		return 1
	fi
	event=$output
}

# events_count DAEMON: how many events the daemon's outbox holds now.
events_count() {
	events_all "$1" || return 1
	grep -c . "$events_file" || true
}

# event_schema DAEMON TYPE USER_ID: $event is a CloudEvents 1.0 object
# of that source and type, with a UUIDv7 id, a time in RFC 3339 with
# milliseconds, the JSON content type, the user id as its "userid"
# extension and an object as data.
event_schema() {
	local ok
	ok=$(jq -r --arg src "/chat/$1" --arg t "$2" --arg u "$3" '
		.specversion == "1.0" and
		(.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")) and
		.source == $src and .type == $t and
		(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and
		.datacontenttype == "application/json" and
		.userid == $u and (.data | type) == "object"' <<<"$event")
	[[ $ok == true ]] || {
		echo "not a $2 CloudEvent of /chat/$1 for user $3: $event" >&2
		return 1
	}
}

# event_lacks TEXT...: none of the texts appears anywhere in $event.
event_lacks() {
	local t
	for t in "$@"; do
		[[ -n $t ]] || continue
		if [[ $event == *"$t"* ]]; then
			echo "the event holds '$t': $event" >&2
			return 1
		fi
	done
}
