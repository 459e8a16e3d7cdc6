#!/usr/bin/env bats
# userd's events (docs/events.md) through its pull API, GET
# /internal/events: each type produced through the public API, with the
# CloudEvents envelope checked and no secret anywhere in it; a change
# that rolls back leaves no event; long-poll, paging, a consumer's
# cursor letting pruning delete rows, and written by the relay, not the
# pull; and the outbox across a kill -9 that comes before the relay.
#
# Each test reads only what came after the head it saw at its start
# (mark), so that each runs alone and none depends on another's events.

setup_file() {
	load test_helper
	start_stack
	# the first account is the admin
	register_user root
	echo "root_id=$user_id" >"$BATS_FILE_TMPDIR/ids"
	# a registered consumer that reads nothing holds every row (other
	# consumers, analyticsd, would let them be pruned at once)
	curl -sf -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/events?after=0&consumer=evhold" >/dev/null
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/ids"
}

# root_login: the admin's token in $root_token (only the tests that need
# it log in: a login is an event, and one that lands after a test's mark
# would be read as the test's own).
root_login() {
	login_user root
	root_token=$access_token
}

# pull QUERY: GET /internal/events?QUERY of userd; the answer in $pulled.
pull() {
	pulled=$(curl -s --max-time 40 -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/events?$1")
}

# mark: the outbox's head now, in $mark, once what came before (the
# login events, written within 100 ms; the relay's positions, within
# 200 ms) is in.
mark() {
	sleep 0.5
	pull "after=0&limit=1"
	mark=$(jq -r .head <<<"$pulled")
	[[ $mark =~ ^[0-9]+$ ]] || false
}

# events_since: every event after $mark, one JSON object a line, in
# $events (rows the relay has stamped by now).
events_since() {
	pull "after=$mark&limit=5000"
	events=$(jq -c '.events[].event' <<<"$pulled")
}

# wait_event TYPE [JQ-CONDITION]: waits up to 5 s for an event of TYPE
# after $mark (and matching the condition on it); leaves it in $event.
wait_event() {
	local i cond=${2:-true}
	for ((i = 0; i < 50; i++)); do
		events_since
		event=$(jq -c --arg t "$1" "select(.type == \$t and ($cond))" <<<"$events" | head -n 1)
		[[ -n $event ]] && return 0
		sleep 0.1
	done
	echo "no $1 event after $mark; have: $events" >&2
	return 1
}

# count_events TYPE [JQ-CONDITION]: how many of TYPE (empty: any) after
# $mark.
count_events() {
	events_since
	jq -c --arg t "$1" "select((\$t == \"\" or .type == \$t) and (${2:-true}))" <<<"$events" | wc -l
}

# check_envelope USER_ID: $event is a CloudEvents 1.0 event of userd
# concerning USER_ID (empty: none).
check_envelope() {
	local uuid7='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
	local rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
	[[ $(jq -r .specversion <<<"$event") == 1.0 ]] || false
	[[ $(jq -r .id <<<"$event") =~ $uuid7 ]] || false
	[[ $(jq -r .source <<<"$event") == /chat/userd ]] || false
	[[ $(jq -r .type <<<"$event") =~ ^chat\.(user|apikey|system)\.[a-z_]+$ ]] || false
	[[ $(jq -r .time <<<"$event") =~ $rfc3339 ]] || false
	[[ $(jq -r .datacontenttype <<<"$event") == application/json ]] || false
	[[ $(jq -r '.data | type' <<<"$event") == object ]] || false
	[[ $(jq -r '.userid // ""' <<<"$event") == "$1" ]] || false
}

# no_secret TEXT...: none of the texts appears in any event after $mark.
no_secret() {
	local s
	events_since
	for s in "$@"; do
		[[ -n $s ]] || continue
		[[ $events != *"$s"* ]] || false
	done
}

@test "chat.user.registered: the account, its role, no password" {
	mark
	register_user evreg 'secret-pass-evreg'
	wait_event chat.user.registered ".data.username == \"evreg\""
	check_envelope "$user_id"
	[[ $(jq -r .subject <<<"$event") == "users/$user_id" ]] || false
	[[ $(jq -r .data.role <<<"$event") == user ]] || false
	no_secret 'secret-pass-evreg' "$(db_query userd "SELECT password_hash FROM users WHERE id = '$user_id'")"
}

@test "a registration refused as a duplicate leaves no event" {
	register_user evdup
	mark
	api POST /v1/auth/register '{"username":"evdup","password":"password-evdup2"}'
	expect_error 409 username_taken
	# a later change is seen, the refused one never
	register_user evdup-after
	wait_event chat.user.registered '.data.username == "evdup-after"'
	[[ $(count_events chat.user.registered '.data.username == "evdup"') == 0 ]] || false
	[[ $(count_events chat.user.registered) == 1 ]] || false
}

@test "chat.user.logged_in and chat.user.login_failed: no password in either" {
	register_user evlogin 'good-pass-evlogin'
	id=$user_id
	mark
	login_user evlogin 'good-pass-evlogin'
	wait_event chat.user.logged_in
	check_envelope "$id"
	[[ $(jq -r .data.username <<<"$event") == evlogin ]] || false
	[[ $(jq -r .data.address <<<"$event") == 127.0.0.1 ]] || false
	api POST /v1/auth/login '{"username":"evlogin","password":"wrong-pass-evlogin"}'
	expect_error 401 invalid_credentials
	wait_event chat.user.login_failed '.data.username == "evlogin"'
	check_envelope ""
	[[ $(jq -r .data.reason <<<"$event") == invalid_credentials ]] || false
	[[ $(jq -r .data.address <<<"$event") == 127.0.0.1 ]] || false
	no_secret 'good-pass-evlogin' 'wrong-pass-evlogin' "$access_token" "$refresh_token"
}

@test "chat.user.disabled, chat.user.enabled, chat.user.role_changed: who did it" {
	root_login
	register_user evadm
	id=$user_id
	mark
	api PATCH "/v1/admin/users/$id" '{"disabled":true}' "$root_token"
	expect_status 200
	wait_event chat.user.disabled
	check_envelope "$id"
	[[ $(jq -r .data.by <<<"$event") == "$root_id" ]] || false
	[[ $(jq -r .data.username <<<"$event") == evadm ]] || false
	api POST /v1/auth/login '{"username":"evadm","password":"password-evadm"}'
	expect_error 403 account_disabled
	wait_event chat.user.login_failed '.data.reason == "account_disabled"'
	check_envelope "$id"
	api PATCH "/v1/admin/users/$id" '{"disabled":false}' "$root_token"
	expect_status 200
	wait_event chat.user.enabled
	check_envelope "$id"
	api PATCH "/v1/admin/users/$id" '{"role":"guest"}' "$root_token"
	expect_status 200
	wait_event chat.user.role_changed
	check_envelope "$id"
	[[ $(jq -c '[.data.from, .data.to, .data.by]' <<<"$event") == "[\"user\",\"guest\",\"$root_id\"]" ]] || false
	# a PATCH that changes nothing says nothing
	api PATCH "/v1/admin/users/$id" '{"role":"guest"}' "$root_token"
	expect_status 200
	[[ $(count_events chat.user.role_changed) == 1 ]] || false
}

@test "chat.user.password_changed: by the user and by an admin, no password" {
	root_login
	register_user evpw 'old-pass-evpw'
	id=$user_id
	login_user evpw 'old-pass-evpw'
	mark
	api POST /v1/users/me/password '{"current_password":"old-pass-evpw","new_password":"new-pass-evpw"}' "$access_token"
	expect_status 204
	wait_event chat.user.password_changed
	check_envelope "$id"
	[[ $(jq -r '.data.by // "self"' <<<"$event") == self ]] || false
	api PUT "/v1/admin/users/$id/password" '{"password":"admin-set-evpw-1"}' "$root_token"
	expect_status 204
	wait_event chat.user.password_changed ".data.by == \"$root_id\""
	check_envelope "$id"
	no_secret old-pass-evpw new-pass-evpw admin-set-evpw-1 \
		"$(db_query userd "SELECT password_hash FROM users WHERE id = '$id'")"
}

@test "chat.apikey.created and chat.apikey.revoked: never the key" {
	root_login
	new_user evkey
	id=$user_id
	mark
	api POST /v1/apikeys '{"name":"ci"}' "$access_token"
	expect_status 201
	key=$(jb .key)
	key_id=$(jb .id)
	wait_event chat.apikey.created
	check_envelope "$id"
	[[ $(jq -c '[.subject, .data.key_id, .data.name]' <<<"$event") == "[\"apikeys/$key_id\",\"$key_id\",\"ci\"]" ]] || false
	api DELETE "/v1/apikeys/$key_id" "" "$access_token"
	expect_status 204
	wait_event chat.apikey.revoked
	check_envelope "$id"
	[[ $(jq -r .data.by <<<"$event") == "$id" ]] || false
	# an admin's revoke names the owner and the admin
	api POST /v1/apikeys '{"name":"ci2"}' "$access_token"
	key2=$(jb .key)
	key2_id=$(jb .id)
	api DELETE "/v1/admin/apikeys/$key2_id" "" "$root_token"
	expect_status 204
	wait_event chat.apikey.revoked ".data.key_id == \"$key2_id\""
	check_envelope "$id"
	[[ $(jq -r .data.by <<<"$event") == "$root_id" ]] || false
	no_secret "$key" "$key2" "$(db_query userd "SELECT key_hash FROM api_keys WHERE id = '$key_id'")" "$access_token"
}

@test "chat.user.deleted: an admin's erase" {
	root_login
	register_user evdel
	id=$user_id
	mark
	api DELETE "/v1/admin/users/$id" "" "$root_token"
	expect_status 204
	wait_event chat.user.deleted
	check_envelope "$id"
	[[ $(jq -r .subject <<<"$event") == "users/$id" ]] || false
	[[ $(jq -r .data.by <<<"$event") == "$root_id" ]] || false
	# the user's other events (their registration, the disable on the
	# way) went with the account: only the tombstone names them
	[[ $(count_events chat.user.deleted) == 1 ]] || false
	[[ $(count_events "" ".userid == \"$id\" or (tostring | contains(\"evdel\"))") == 1 ]] || false
	[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE user_id = '$id' AND type <> 'chat.user.deleted'") == 0 ]] || false
}

@test "a long-poll returns as soon as an event arrives" {
	mark
	out=$BATS_TEST_TMPDIR/poll.json
	start=$(date +%s%N)
	curl -s --max-time 40 -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/events?after=$mark&wait_ms=20000" \
		>"$out" 3>&- &
	poller=$!
	sleep 0.5
	# nothing yet: it is still waiting
	process_alive "$poller" || false
	register_user evpoll
	wait "$poller"
	ms=$((($(date +%s%N) - start) / 1000000))
	[[ $(jq -r '.events[0].event.data.username' "$out") == evpoll ]] || false
	((ms < 5000)) || false
	# with nothing new, the wait ends at its deadline, empty
	mark
	pull "after=$mark&wait_ms=300"
	[[ $(jq -c '[.events, .last]' <<<"$pulled") == "[[],$mark]" ]] || false
}

@test "after= and limit= page through the outbox in position order" {
	mark
	for u in evpage1 evpage2 evpage3; do
		register_user "$u"
	done
	wait_event chat.user.registered '.data.username == "evpage3"'
	pull "after=$mark&limit=2"
	[[ $(jq '.events | length' <<<"$pulled") == 2 ]] || false
	p1=$(jq '.events[0].pos' <<<"$pulled")
	last=$(jq .last <<<"$pulled")
	[[ $p1 == $((mark + 1)) && $last == $((mark + 2)) ]] || false
	pull "after=$last&limit=2"
	[[ $(jq '.events[0].pos' <<<"$pulled") == $((last + 1)) ]] || false
	names=$( { pull "after=$mark&limit=5000"; jq -r '.events[].event.data.username // empty' <<<"$pulled"; } | tr '\n' ' ')
	[[ $names == "evpage1 evpage2 evpage3 " ]] || false
	# bad parameters get 400
	for q in after=-1 limit=0 limit=5001 wait_ms=30001 after=x consumer=no/slash; do
		pull "$q"
		[[ $(jq -r .error.code <<<"$pulled") == invalid_field ]] || false
	done
	# without the internal secret: refused
	run -0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((CHAT_PORT + 1))/internal/events"
	[[ $output == 403 ]] || false
}

@test "a consumer's cursor lets pruning delete what it has read" {
	register_user evprune1
	register_user evprune2
	mark
	register_user evprune3
	wait_event chat.user.registered '.data.username == "evprune3"'
	before=$(db_query userd "SELECT COUNT(*) FROM outbox WHERE pos <= $mark")
	((before > 0)) || false
	# both consumers say they have handled everything up to mark
	pull "after=$mark&consumer=evtest"
	pull "after=$mark&consumer=evhold"
	for ((i = 0; i < 50; i++)); do
		[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE pos <= $mark") == 0 ]] && break
		sleep 0.1
	done
	[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE pos <= $mark") == 0 ]] || false
	# what it has not read stays
	[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE pos > $mark") -ge 1 ]] || false
	run -0 curl -s -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/events/stats"
	[[ $(jq -r '.consumers[] | select(.name == "evtest") | .pos' <<<"$output") == "$mark" ]] || false
	(($(jq -r '.consumers[] | select(.name == "evtest") | .lag' <<<"$output") >= 1)) || false
	# a position is never given twice, also after the newest rows went
	pull "after=0&limit=5000"
	[[ $(jq '[.events[].pos] | (length == (unique | length))' <<<"$pulled") == true ]] || false
}

@test "rows older than events.retention_s go even when a consumer has not read them" {
	# evhold has not read it; written 7 days and a minute ago
	old=$(($(date +%s%3N) - 7 * 86400000 - 60000))
	db_query userd "INSERT INTO outbox (id, type, time_ms, event) VALUES ('0190a000-0000-7000-8000-000000000001', 'chat.system.started', $old, '{}')"
	db_query userd "INSERT INTO outbox (id, type, time_ms, event) VALUES ('0190a000-0000-7000-8000-000000000002', 'chat.system.started', $((old + 120000)), '{}')"
	for ((i = 0; i < 50; i++)); do
		[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE id = '0190a000-0000-7000-8000-000000000001'") == 0 ]] && break
		sleep 0.1
	done
	[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE id = '0190a000-0000-7000-8000-000000000001'") == 0 ]] || false
	# one within the retention stays
	[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE id = '0190a000-0000-7000-8000-000000000002'") == 1 ]] || false
}

@test "positions keep growing after every row was pruned" {
	register_user evempty1
	mark
	# every consumer has read everything: the outbox empties
	pull "after=$mark&consumer=evtest"
	pull "after=$mark&consumer=evhold"
	for ((i = 0; i < 50; i++)); do
		[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE pos IS NOT NULL") == 0 ]] && break
		sleep 0.1
	done
	[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE pos IS NOT NULL") == 0 ]] || false
	register_user evempty2
	wait_event chat.user.registered '.data.username == "evempty2"'
	# the next position, never one a consumer has already seen
	pull "after=$mark&limit=1"
	[[ $(jq '.events[0].pos' <<<"$pulled") == $((mark + 1)) ]] || false
}

@test "kill -9 of userd after a change, before its relay ran: the event is delivered once after the restart" {
	mark
	# a userd whose relay is held (events.relay_hold, a test setting):
	# the crash surely comes before the relay gives the row a position
	printf '[events]\nrelay_hold = 1\n' >>"$CHAT_CONFIG"
	stop_daemon userd
	start_daemon userd
	register_user evcrash
	id=$user_id
	# the relay would have stamped it within 200 ms
	sleep 0.5
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		# committed with the change, and still without a position:
		# in the window between the commit and the relay
		[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE user_id = '$id' AND type = 'chat.user.registered' AND pos IS NULL") == 1 ]] || false
		[[ $(count_events chat.user.registered ".userid == \"$id\"") == 0 ]] || false
		;;
	*)
		# SQLite gives the position in the change's own transaction
		# (one writer): no such window, a pull has it with the relay
		# held
		[[ $(db_query userd "SELECT COUNT(*) FROM outbox WHERE user_id = '$id' AND type = 'chat.user.registered' AND pos IS NOT NULL") == 1 ]] || false
		[[ $(count_events chat.user.registered ".userid == \"$id\"") == 1 ]] || false
		;;
	esac
	pid=$(daemon_pid userd)
	kill -9 "$pid"
	for ((i = 0; i < 100; i++)); do
		process_alive "$pid" || break
		sleep 0.05
	done
	run ! process_alive "$pid"
	# back to the default for what runs next
	sed -i '/^\[events\]$/,$d' "$CHAT_CONFIG"
	start_daemon userd
	wait_event chat.user.registered ".userid == \"$id\""
	sleep 0.3
	[[ $(count_events chat.user.registered ".userid == \"$id\"") == 1 ]] || false
	wait_event chat.system.started
	check_envelope ""
}

# hold_write_lock FILE SECONDS: in the background, another process takes
# the write lock of userd's store (SQLite: BEGIN IMMEDIATE; PostgreSQL:
# outbox_consumers locked against writers) and keeps it SECONDS; touches
# FILE once it holds it.  Sets lock_pid.
hold_write_lock() {
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		printf '%s\n' "BEGIN;" \
			"LOCK TABLE userd.outbox_consumers IN EXCLUSIVE MODE;" \
			"\\! touch $1" "SELECT pg_sleep($2);" "COMMIT;" |
			psql -X -q -v ON_ERROR_STOP=1 "$CHAT_DATABASE" >/dev/null 3>&- &
		;;
	*)
		printf '%s\n' "BEGIN IMMEDIATE;" ".shell touch $1" \
			".shell sleep $2" "COMMIT;" |
			sqlite3 "$CHAT_DATA_DIR/userd.db" >/dev/null 3>&- &
		;;
	esac
	lock_pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

@test "a known consumer's pulls never write: they answer while another holds the store's write lock" {
	register_user evlock1
	mark
	# the first pull of a name registers it (written at once)
	pull "after=$mark&consumer=evlock"
	register_user evlock2
	wait_event chat.user.registered '.data.username == "evlock2"'
	hold_write_lock "$BATS_TEST_TMPDIR/locked" 6
	# its cursor moves, then an idle long-poll: neither waits for the lock
	run -0 curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 20 \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/events?after=$((mark + 1))&consumer=evlock"
	read -r code secs <<<"$output"
	[[ $code == 200 ]] || false
	python3 -c "import sys; sys.exit(0 if $secs < 3 else 1)" || { echo "the pull took $secs s" >&2; false; }
	run -0 curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 20 \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/events?after=$((mark + 1))&consumer=evlock&wait_ms=200"
	read -r code secs <<<"$output"
	[[ $code == 200 ]] || false
	python3 -c "import sys; sys.exit(0 if $secs < 3 else 1)" || { echo "the long-poll took $secs s" >&2; false; }
	while process_alive "$lock_pid"; do sleep 0.1; done
	# the relay writes the moved cursor once the lock is free
	for ((i = 0; i < 50; i++)); do
		[[ $(db_query userd "SELECT pos FROM outbox_consumers WHERE name = 'evlock'") == $((mark + 1)) ]] && break
		sleep 0.1
	done
	[[ $(db_query userd "SELECT pos FROM outbox_consumers WHERE name = 'evlock'") == $((mark + 1)) ]] || false
}

@test "chat.system.stopping on a clean stop, chat.system.started on start" {
	mark
	stop_daemon userd
	start_daemon userd
	wait_event chat.system.started
	check_envelope ""
	[[ $(jq -r .data.version <<<"$event") == "$(cat "$CHAT_ROOT/VERSION")" ]] || false
	wait_event chat.system.stopping
	check_envelope ""
	# stopping comes before the next start
	events_since
	[[ $(jq -r .type <<<"$events" | grep chat.system | tr '\n' ' ') == "chat.system.stopping chat.system.started " ]] || false
}
