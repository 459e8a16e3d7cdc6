# notify-common.bash - helpers of the notify-*.bats files, loaded after
# test_helper: notifyd's notifications of a user through the gateway,
# and a wait until notifyd has applied every event its producers hold.

# The stack's port of a daemon (gateway + its offset, daemon-keys.c).
notify_port() {
	local i=0 name
	for name in gatewayd userd sessiond chatd aid analyticsd notifyd; do
		[[ $name == "$1" ]] && { echo $((CHAT_PORT + i)); return 0; }
		i=$((i + 1))
	done
	return 1
}

# notify_caught_up [SECONDS]: waits until userd, sessiond and chatd have
# stamped every outbox row and notifyd's cursor on each is their head:
# every event written so far is applied (or skipped) by notifyd.
notify_caught_up() {
	local i d ok stats key
	key=$(<"$CHAT_DATA_DIR/internal.key")
	for ((i = 0; i < ${1:-20} * 20; i++)); do
		ok=1
		for d in userd sessiond chatd; do
			stats=$(curl -s --max-time 5 -H "X-Chat-Internal: $key" \
				"http://127.0.0.1:$(notify_port "$d")/internal/events/stats") || { ok=0; break; }
			jq -e '.depth == 0 and any(.consumers[]; .name == "notifyd" and .pos == $h)' \
				--argjson h "$(jq .head <<<"$stats")" <<<"$stats" >/dev/null || { ok=0; break; }
		done
		((ok)) && return 0
		sleep 0.05
	done
	echo "notifyd did not catch up: $stats" >&2
	return 1
}

# notes TOKEN [QUERY]: the user's notifications (first page of 100) in
# $body.
notes() {
	api GET "/v1/notifications?limit=100${2:+&$2}" "" "$1"
	expect_status 200
}

# kinds TOKEN KIND COUNT: after notifyd caught up, the user has COUNT
# notifications of KIND; the list stays in $body.
kinds() {
	local n
	notify_caught_up || return 1
	notes "$1" || return 1
	n=$(jq --arg k "$2" '[.data[] | select(.kind == $k)] | length' <<<"$body")
	[[ $n == "$3" ]] || {
		echo "$n notifications of kind $2, not $3: $body" >&2
		return 1
	}
}

# login_as NAME AGENT: logs NAME in with a User-Agent; sets the tokens.
login_as() {
	api_args=(-H "User-Agent: $2")
	login_user "$1"
}
