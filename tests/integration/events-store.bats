#!/usr/bin/env bats
# A producer whose store was replaced (SQLite: its file deleted and made
# again; PostgreSQL: its schema dropped and made again) counts its
# positions from 1 again.  Its outbox has a new store identity, which
# every GET /internal/events answer and the stats name; analyticsd, whose
# cursor is past the new store's head, notices the change, logs and
# counts it, reads the new store from its start, and its counts catch up
# with what the producer recorded, without counting anything twice.  A
# consumer whose next events are gone from an outbox goes on after them.

setup_file() {
	load test_helper
	load analytics-common
	analytics_stack "[aid]" "echo_delay_ms = 0" \
		"[gatewayd]" "metrics_token = scrape-me" || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load analytics-common
}

# internal PORT_OFFSET PATH: GET of a daemon's internal route; the body
# in $output.
internal() {
	run -0 curl -sf --max-time 10 \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + $1))$2"
}

# The store identity aid's outbox has now.
aid_store() {
	internal 4 /internal/events/stats
	jq -r .store <<<"$output"
}

# analyticsd's cursor of aid: "pos|store".
aid_cursor() {
	db_query analyticsd "SELECT pos, store FROM event_cursors WHERE producer = 'aid'"
}

# replace_aid_store: aid stopped, its store made anew, aid started.
replace_aid_store() {
	stop_daemon aid
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		PGOPTIONS='-c client_min_messages=warning' \
			psql -X -q -v ON_ERROR_STOP=1 "$CHAT_DATABASE" -c "DROP SCHEMA aid CASCADE"
		;;
	*)
		rm -f "$CHAT_DATA_DIR/aid.db" "$CHAT_DATA_DIR/aid.db-wal" \
			"$CHAT_DATA_DIR/aid.db-shm"
		;;
	esac
	start_daemon aid
}

@test "every answer of the pull API and the stats name the outbox's store" {
	local store
	store=$(aid_store)
	[[ $store =~ ^[0-9a-f]{32}$ ]] || false
	internal 4 "/internal/events?after=0&limit=1"
	[[ $(jq -r .store <<<"$output") == "$store" ]] || false
	# an empty answer too
	internal 4 "/internal/events?after=1000000&limit=1"
	[[ $(jq -r .store <<<"$output") == "$store" ]] || false
	[[ $(db_query aid "SELECT store FROM outbox_head") == "$store" ]] || false
	# a position in another store is none here: not recorded, so that
	# pruning never takes rows up to it
	internal 4 "/internal/events?after=1000000&consumer=evother&store=00ff"
	[[ $(db_query aid "SELECT COUNT(*) FROM outbox_consumers WHERE name = 'evother'") == 0 ]] || false
	internal 4 "/internal/events?after=0&consumer=evsame&store=$store"
	[[ $(db_query aid "SELECT COUNT(*) FROM outbox_consumers WHERE name = 'evsame'") == 1 ]] || false
	# the one an answer names, and nothing else
	run -0 curl -s -o /dev/null -w '%{http_code}' \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 4))/internal/events?after=0&store=XYZ"
	[[ $output == 400 ]] || false
}

@test "a consumer whose next events are gone from the outbox goes on after them" {
	local before cursor head i
	new_user "gap"
	stop_daemon analyticsd
	cursor=$(aid_cursor | cut -d'|' -f1)
	generate "$access_token" "soon gone"
	# the generation's three events have their positions...
	for ((i = 0; i < 100; i++)); do
		internal 4 "/internal/events?after=0&limit=1"
		head=$(jq -r .head <<<"$output")
		((head >= cursor + 3)) && break
		sleep 0.1
	done
	((head >= cursor + 3)) || false
	# ...and every row after analyticsd's cursor goes (as by the
	# retention)
	db_query aid "DELETE FROM outbox"
	before=$(grep -c 'GET /internal/events ' "$CHAT_DATA_DIR/log/aid.log")
	start_daemon analyticsd
	# it goes on after the gap, and long-polls (one pull per 2 s) instead
	# of asking again at once
	for ((i = 0; i < 50; i++)); do
		[[ $(aid_cursor | cut -d'|' -f1) == "$head" ]] && break
		sleep 0.1
	done
	[[ $(aid_cursor | cut -d'|' -f1) == "$head" ]] || false
	sleep 2
	(($(grep -c 'GET /internal/events ' "$CHAT_DATA_DIR/log/aid.log") - before < 20)) || false
	grep -q 'are gone from its outbox' "$CHAT_DATA_DIR/log/analyticsd.log" || false
}

@test "a producer's store replaced: analyticsd reads the new one from its start and catches up" {
	local old_store old_pos first totals i
	new_user "early"
	first=$user_id
	for i in 1 2 3 4 5 6; do
		generate "$access_token" "early request $i"
	done
	wait_totals "$first" 6
	totals=$(analytics_totals "$first")
	old_store=$(aid_store)
	# the cursor is kept with the store it counts in
	for ((i = 0; i < 50; i++)); do
		[[ $(aid_cursor) == *"|$old_store" ]] && break
		sleep 0.1
	done
	[[ $(aid_cursor) == *"|$old_store" ]] || false
	old_pos=$(aid_cursor | cut -d'|' -f1)
	((old_pos >= 19)) || false

	replace_aid_store
	[[ $(aid_store) =~ ^[0-9a-f]{32}$ ]] || false
	[[ $(aid_store) != "$old_store" ]] || false
	# fewer events in the new store than the old cursor had passed:
	# without noticing, analyticsd would wait past them forever
	new_user "late"
	generate "$access_token" "late one"
	generate "$access_token" "late two"
	internal 4 "/internal/events?after=0&limit=1"
	(($(jq -r .head <<<"$output") < old_pos)) || false
	wait_totals "$user_id" 2 30

	# logged and counted, once
	grep -q 'its event store was replaced' "$CHAT_DATA_DIR/log/analyticsd.log" || false
	run -0 curl -sf -H 'Authorization: Bearer scrape-me' \
		"http://127.0.0.1:$((CHAT_PORT + 5))/metrics"
	grep -qx 'analyticsd_events_store_changes_total 1' <<<"$output" || false
	# the cursor counts in the new store now
	[[ $(aid_cursor) == *"|$(aid_store)" ]] || false
	# what came before is counted once still
	[[ $(analytics_totals "$first") == "$totals" ]] || false
}
