# ws-common.bash - WebSocket clients for the bats files, loaded after
# test_helper: a client is the wsclient fixture in the background, fed
# through a fifo (ws_open / ws_send / ws_close); its frames land one a
# line in $WS/NAME.out.  setup() sets WS (a directory of the test's) and
# the file's teardown() calls ws_teardown.

# ws_teardown: clients still open: their holders, then the clients, by
# pid.
ws_teardown() {
	local f
	# clients still open: their holders, then the clients, by pid
	for f in "$WS"/*.holder "$WS"/*.pid; do
		[[ -s $f ]] && kill "$(<"$f")" 2>/dev/null
	done
	true
}

# ws_open NAME TOKEN [QUERY [WSCLIENT-ARG...]]: connects a client;
# waits for "open".
ws_open() {
	local name=$1 tok=$2 query=${3:-} i
	shift 3 2>/dev/null || shift $#
	mkfifo "$WS/$name.in"
	"$FIXTURES/wsclient" "ws://127.0.0.1:$CHAT_PORT/v1/ws$query" \
		-H "Authorization: Bearer $tok" -t 30 "$@" \
		<"$WS/$name.in" >"$WS/$name.out" 2>&1 3>&- &
	echo $! >"$WS/$name.pid"
	# holds the fifo open: the client's stdin ends when it goes
	sleep 60 >"$WS/$name.in" 3>&- &
	echo $! >"$WS/$name.holder"
	for ((i = 0; i < 100; i++)); do
		[[ -s $WS/$name.out ]] && break
		sleep 0.05
	done
	[[ $(head -n 1 "$WS/$name.out") == open ]] || {
		echo "client $name did not open:" >&2
		cat "$WS/$name.out" >&2
		return 1
	}
}

# ws_send NAME JSON: sends a text frame.
ws_send() {
	# a fifo whose reader is gone would block the writer for ever
	kill -0 "$(<"$WS/$1.pid")" 2>/dev/null || {
		echo "client $1 is gone:" >&2
		tail -n 3 "$WS/$1.out" >&2
		return 1
	}
	timeout 5 bash -c 'echo "$1" >"$2"' _ "$2" "$WS/$1.in" || {
		echo "client $1 did not take the frame" >&2
		return 1
	}
}

# ws_close NAME: ends the client's input; it closes with 1000.
ws_close() {
	local pid
	kill "$(<"$WS/$1.holder")" 2>/dev/null
	rm -f "$WS/$1.holder"
	pid=$(<"$WS/$1.pid")
	wait "$pid" || true
	rm -f "$WS/$1.pid"
	[[ $(tail -n 1 "$WS/$1.out") == "closed 1000" ]] || {
		echo "client $1 did not close cleanly:" >&2
		tail -n 3 "$WS/$1.out" >&2
		return 1
	}
}

# The JSON frames a client got, one a line.
frames() {
	grep '^{' "$WS/$1.out" || true
}

# wait_frame NAME JQ-FILTER [COUNT]: waits up to 5 s until COUNT (1)
# frames of client NAME match the filter (select(...) form).
wait_frame() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(frames "$1" | jq -c "$2" | wc -l)
		((n >= ${3:-1})) && return 0
		sleep 0.05
	done
	echo "client $1: no ${3:-1} frames matching $2 in:" >&2
	cat "$WS/$1.out" >&2
	return 1
}

