# webhook_helper.bash - the webhook receiver of the tests
# (tests/fixtures/webhook/receiver.py) and what a test reads of what it
# received.  Load after test_helper:
#
#   setup_file() { load test_helper; load webhook_helper; wh_receiver_start
#       start_stack "[notifyd]" "webhook_allow = 127.0.0.1/32" ...; }
#   teardown_file() { load test_helper; load webhook_helper; stop_stack
#       wh_receiver_stop; }
#
# The receiver logs each request as a JSON line in $WH_DIR/log.jsonl and
# verifies its signatures with the secrets of $WH_DIR/secrets itself.

WH_RECEIVER=$CHAT_ROOT/tests/fixtures/webhook/receiver.py

# wh_receiver_start: starts the receiver; exports WH_DIR and WH_URL
# (http://127.0.0.1:PORT).
wh_receiver_start() {
	local i
	export WH_DIR=$BATS_FILE_TMPDIR/receiver
	mkdir -p "$WH_DIR"
	: >"$WH_DIR/secrets"
	/usr/bin/python3 "$WH_RECEIVER" "$WH_DIR" >"$WH_DIR/out.log" 2>&1 3>&- &
	echo $! >"$WH_DIR/pid"
	for ((i = 0; i < 200; i++)); do
		[[ -s $WH_DIR/port ]] && break
		sleep 0.05
	done
	[[ -s $WH_DIR/port ]] || { echo "the receiver did not start" >&2; return 1; }
	export WH_URL=http://127.0.0.1:$(<"$WH_DIR/port")
}

# wh_receiver_stop: stops the receiver by its pid.
wh_receiver_stop() {
	[[ -s ${WH_DIR:-}/pid ]] || return 0
	kill "$(<"$WH_DIR/pid")" 2>/dev/null || true
}

# wh_secret_add SECRET: the receiver verifies with it too.
wh_secret_add() {
	echo "$1" >>"$WH_DIR/secrets"
}

# wh_requests ID: the receiver's log lines of webhook-id ID, as a JSON
# array (oldest first).
wh_requests() {
	if [[ -s $WH_DIR/log.jsonl ]]; then
		jq -sc --arg id "$1" '[.[] | select(.id == $id)]' "$WH_DIR/log.jsonl"
	else
		echo '[]'
	fi
}

# wh_wait ID COUNT [SECONDS]: waits until the receiver got COUNT requests
# of webhook-id ID; leaves them in $reqs.
wh_wait() {
	local i
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		reqs=$(wh_requests "$1")
		(($(jq length <<<"$reqs") >= $2)) && return 0
		sleep 0.1
	done
	echo "webhook-id $1: $(jq length <<<"$reqs") requests, not $2" >&2
	return 1
}

# wh_deliveries_wait TOKEN EP COUNT [SECONDS]: waits until endpoint EP's
# delivery log has COUNT attempts; leaves the log in $body.
wh_deliveries_wait() {
	local i
	for ((i = 0; i < ${4:-20} * 10; i++)); do
		api GET "/v1/webhooks/$2/deliveries?limit=100" "" "$1"
		[[ $status_code == 200 ]] && (($(jq '.data | length' <<<"$body") >= $3)) &&
			return 0
		sleep 0.1
	done
	echo "endpoint $2: not $3 attempts: $body" >&2
	return 1
}

# wh_threads: how many delivery threads notifyd runs now (they are
# named wh-deliver).
wh_threads() {
	local pid
	pid=$(daemon_pid notifyd) || return 1
	cat /proc/"$pid"/task/*/comm 2>/dev/null | grep -cx wh-deliver || true
}

# wh_threads_wait COUNT [SECONDS]: until notifyd runs COUNT delivery
# threads.
wh_threads_wait() {
	local i n
	for ((i = 0; i < ${2:-20} * 10; i++)); do
		n=$(wh_threads)
		[[ $n == "$1" ]] && return 0
		sleep 0.1
	done
	echo "notifyd runs $n delivery threads, not $1" >&2
	return 1
}

# wh_add TOKEN PATH [EVENTS-JSON]: an endpoint to the receiver's PATH;
# sets ep (its id) and secret, and gives the receiver the secret.
wh_add() {
	api POST /v1/webhooks "$(jq -nc --arg u "$WH_URL$2" --argjson e "${3:-[\"webhook.test\"]}" \
		'{url: $u, events: $e}')" "$1"
	expect_status 201 || return 1
	ep=$(jb .id)
	secret=$(jb .secret)
	wh_secret_add "$secret"
}

# wh_test TOKEN EP: a webhook.test message; sets msg.
wh_test() {
	api POST "/v1/webhooks/$2/test" "" "$1"
	expect_status 202 || return 1
	msg=$(jb .message_id)
}
