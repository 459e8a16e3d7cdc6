#!/usr/bin/env bats
# analyticsd's inbox retention (analyticsd.inbox_retention_days): events
# older than the retention leave the inbox, in pages, off the request
# path; the days before the inbox's horizon keep their rollups through a
# rebuild (which says from which day it recomputed), and the days after
# it are rebuilt from the inbox as ever.
bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load analytics-common
	analytics_stack "[aid]" "echo_delay_ms = 0" \
		"[analyticsd]" "inbox_retention_days = 30" || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load analytics-common
}

# old_event USER_ID DAYS_AGO N: N completed generations of the user, of
# DAYS_AGO days ago (their time and their UUIDv7 ids), written into aid's
# outbox as aid writes its own (the relay gives them positions).
old_event() {
	local uid=$1 ago=$2 n=$3 i ms id time ev now
	now=$(($(date +%s) * 1000))
	for ((i = 0; i < n; i++)); do
		ms=$((now - ago * 86400000 + i))
		id=$(printf '%08x-%04x-7000-8000-%012x' $((ms >> 16)) $((ms & 0xffff)) "$RANDOM$i")
		time=$(date -u -d "@$((ms / 1000))" +%Y-%m-%dT%H:%M:%S.000Z)
		ev=$(jq -nc --arg id "$id" --arg t "$time" --arg u "$uid" \
			'{specversion: "1.0", id: $id, source: "/chat/aid",
			  type: "chat.generation.completed", time: $t,
			  datacontenttype: "application/json", userid: $u,
			  data: {model: "echo", prompt_tokens: 3,
				 completion_tokens: 4, ttft_ms: 5, latency_ms: 9}}')
		# time_ms now: the outbox's own retention would drop an old one
		db_query aid "INSERT INTO outbox (id, type, user_id, time_ms, event)
			VALUES ('$id', 'chat.generation.completed', '$uid', $now,
			'${ev//\'/\'\'}')"
	done
}

# requests_on DAY [USER_ID]: the requests the admin usage route counts.
requests_on() {
	api GET "/v1/admin/analytics/usage?from=$1&to=$1${2:+&user=$2}" "" "$(admin_token)"
	[[ $status_code == 200 ]] || return 1
	jq -r .totals.requests <<<"$body"
}

# restart_retention DAYS: analyticsd started again with that retention
# (its pruning runs at start, then once a minute).
restart_retention() {
	stop_daemon analyticsd
	CHAT_ANALYTICSD_INBOX_RETENTION_DAYS=$1 start_daemon analyticsd
}

# wait_requests DAY COUNT [USER_ID]: until the route counts COUNT.
wait_requests() {
	local i got
	for ((i = 0; i < 200; i++)); do
		got=$(requests_on "$1" "${3-}" || true)
		[[ $got == "$2" ]] && return 0
		sleep 0.1
	done
	echo "requests on $1: $got, not $2" >&2
	return 1
}

@test "events older than the retention leave the inbox; a rebuild keeps their days" {
	local uid old recent today n before horizon
	new_user "olga"
	uid=$user_id
	old=$(date -u -d "10 days ago" +%Y-%m-%d)
	recent=$(date -u -d "2 days ago" +%Y-%m-%d)
	today=$(date -u +%Y-%m-%d)
	old_event "$uid" 10 3
	old_event "$uid" 2 2
	generate "$access_token"
	wait_requests "$old" 3 "$uid"
	wait_requests "$recent" 2 "$uid"
	wait_requests "$today" 1 "$uid"
	run -0 db_query analyticsd "SELECT COUNT(*) FROM inbox WHERE user_id = '$uid'"
	((output >= 6)) || { echo "inbox: $output" >&2; false; }
	# 10 days were within 30; not within 5
	restart_retention 5
	for ((i = 0; i < 100; i++)); do
		n=$(db_query analyticsd "SELECT COUNT(*) FROM inbox WHERE user_id = '$uid'
			AND event LIKE '%\"time\":\"$old%'")
		[[ $n == 0 ]] && break
		sleep 0.1
	done
	[[ $n == 0 ]] || { echo "old events still in the inbox: $n" >&2; false; }
	grep -q 'pruned [0-9]* inbox rows older than 5 days' \
		"$CHAT_DATA_DIR/log/analyticsd.log" || false
	# the recent ones stay
	run -0 db_query analyticsd "SELECT COUNT(*) FROM inbox WHERE user_id = '$uid'
		AND event LIKE '%\"time\":\"$recent%'"
	[[ $output == 2 ]] || { echo "recent events in the inbox: $output" >&2; false; }
	horizon=$(date -u -d "5 days ago" +%Y-%m-%d)
	# damaged by hand: a rebuild recomputes the days from the horizon on
	db_query analyticsd "DELETE FROM usage_daily WHERE day >= '$horizon';
		DELETE FROM usage_model_daily WHERE day >= '$horizon';
		DELETE FROM usage_user_daily WHERE day >= '$horizon'"
	[[ $(requests_on "$recent" "$uid") == 0 ]] || false
	api POST /v1/admin/analytics/rebuild "" "$(admin_token)"
	expect_status 202
	[[ $(jb .rebuilt_from) == "$horizon" ]] || { echo "answer: $body" >&2; false; }
	# the old day's counts stay although its events are gone, the
	# recent days' are recomputed from the inbox
	[[ $(requests_on "$old" "$uid") == 3 ]] || false
	[[ $(requests_on "$old") == 3 ]] || false
	wait_requests "$recent" 2 "$uid"
	wait_requests "$today" 1 "$uid"
	grep -q 'the days before kept as they were' "$CHAT_DATA_DIR/log/analyticsd.log" || false
}

@test "an event of a day before the horizon counts no more" {
	local uid old
	new_user "otto"
	uid=$user_id
	old=$(date -u -d "20 days ago" +%Y-%m-%d)
	restart_retention 5
	# the horizon is 5 days ago: the rollups of the days before are
	# final, and the inbox can no longer tell whether an event of
	# theirs (Kafka's redelivery, a rebuild's pull of an old outbox
	# row) counted already
	old_event "$uid" 20 2
	generate "$access_token"
	wait_totals "$uid" 1
	[[ $(requests_on "$old" "$uid") == 0 ]] || false
	run -0 db_query analyticsd "SELECT horizon FROM inbox_horizon"
	[[ $output == $(($(date +%s) / 86400 - 5)) ]] || { echo "horizon $output" >&2; false; }
}
