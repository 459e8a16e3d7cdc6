#!/usr/bin/env bats
# DELETE /v1/admin/users/{id}: the account and everything any service
# stores of it (GDPR's right to erasure), checked by reading every table
# of every daemon's store afterwards; another user's data untouched.  A
# service that is down leaves a disabled account and a 502 that names it,
# and the retried DELETE finishes the job.

setup_file() {
	load test_helper
	start_fakellm
	start_stack "[openai]" "base_url = $FAKELLM_URL/v1" \
		"[aid]" "echo_delay_ms = 1" "retries = 0"
	register_user root
	echo "root_id=$user_id" >"$BATS_FILE_TMPDIR/ids"
	register_user plain
	register_user keeper
	echo "keeper_id=$user_id" >>"$BATS_FILE_TMPDIR/ids"
	fill_account keeper
}

teardown_file() {
	load test_helper
	stop_stack
	stop_fakellm
}

setup() {
	load test_helper
	load admin-common
	source "$BATS_FILE_TMPDIR/ids"
}

teardown() {
	# a test that stopped a daemon must not leave it so
	local d
	for d in chatd aid; do
		[[ -s $CHAT_DATA_DIR/run/$d.pid ]] && process_alive "$(daemon_pid "$d")" ||
			start_daemon "$d" || true
	done
}

# fill_account NAME: rows of NAME in every service: two sessions (one
# logged out), an API key, a conversation with a message naming the user
# sent with an idempotency key (so usage rows too), and a title.
fill_account() {
	local conv i
	login_user "$1" || return 1
	api POST /v1/auth/logout "" "$access_token"
	login_user "$1" || return 1
	api POST /v1/apikeys '{"name":"script"}' "$access_token"
	[[ $status_code == 201 ]] || return 1
	api POST /v1/conversations '{"model":"echo"}' "$access_token"
	[[ $status_code == 201 ]] || return 1
	conv=$(jb .id)
	api_args=(-H "Idempotency-Key: key-of-$1")
	api POST "/v1/conversations/$conv/messages" "{\"content\":\"hello from $1\",\"model\":\"echo\"}" "$access_token"
	[[ $status_code == 201 ]] || return 1
	# usage rows are written within a quarter second
	for ((i = 0; i < 100; i++)); do
		[[ $(db_query aid "SELECT COUNT(*) FROM usage WHERE user_id = '$user_id'") != 0 ]] && return 0
		sleep 0.05
	done
	return 1
}

# every_row [outbox]: every row of every table of every daemon's store,
# one line each, prefixed with "service.table:"; the event outboxes (and
# their sqlite_sequence row) only with "outbox": they are the only tables
# that others change meanwhile (new events, and analyticsd's reads let
# the relay prune).
every_row() {
	local s t
	for s in userd sessiond chatd aid; do
		case $CHAT_DATABASE in
		postgres://* | postgresql://*)
			for t in $(db_query "$s" "SELECT table_name FROM information_schema.tables WHERE table_schema = '$s' AND table_type = 'BASE TABLE'"); do
				[[ $t != outbox* || ${1-} == outbox ]] || continue
				db_query "$s" "SELECT t::text FROM \"$t\" t" | sed "s/^/$s.$t:/"
			done
			;;
		*)
			for t in $(db_query "$s" "SELECT name FROM sqlite_master WHERE type = 'table'"); do
				[[ $t != outbox* || ${1-} == outbox ]] || continue
				db_query "$s" "SELECT * FROM \"$t\"" | sed "s/^/$s.$t:/" |
					{ [[ ${1-} == outbox ]] && cat || grep -v '^[a-z]*\.sqlite_sequence:outbox|' || true; }
			done
			;;
		esac
	done
}

# rows_of ID NAME: the rows that hold ID or NAME (case-insensitive), the
# outboxes left out.
rows_of() {
	every_row | grep -i -e "$1" -e "$2" || true
}

# events_of ID NAME: the events in every outbox that hold ID or NAME, but
# userd's chat.user.deleted, the tombstone (ids only) consumers erase on.
events_of() {
	local s
	for s in userd sessiond chatd aid; do
		db_query "$s" "SELECT user_id, event FROM outbox WHERE type <> 'chat.user.deleted' OR '$s' <> 'userd'" |
			sed "s/^/$s.outbox:/"
	done | grep -i -e "$1" -e "$2" || true
}

# a victim with data everywhere: sets victim_id, victim_token, victim_key.
new_victim() {
	register_user "$1"
	victim_id=$user_id
	fill_account "$1"
	victim_token=$access_token
	api POST /v1/apikeys '{"name":"other"}' "$victim_token"
	victim_key=$(jb .key)
	# the checks below would be empty otherwise
	[[ -n $(rows_of "$victim_id" "$1") ]] || false
	[[ $(rows_of "$victim_id" "$1" | cut -d: -f1 | sort -u | tr '\n' ' ') == "aid.usage chatd.conversations chatd.idempotency chatd.messages sessiond.refresh_tokens sessiond.sessions userd.api_keys userd.users " ]] || false
}

@test "deleting a user erases every row of theirs in every service" {
	local keeper_before
	new_victim vicky
	keeper_before=$(rows_of "$keeper_id" keeper)
	api DELETE /v1/admin/users/vicky "" "$(root_token)"
	expect_status 204
	[[ -z $body ]] || false
	run -0 rows_of "$victim_id" vicky
	[[ -z $output ]] || { echo "left behind: $output" >&2; false; }
	# no event names the user but the tombstone
	run -0 events_of "$victim_id" vicky
	[[ -z $output ]] || { echo "events left behind: $output" >&2; false; }
	# the other user's rows are all there, unchanged
	[[ $(rows_of "$keeper_id" keeper) == "$keeper_before" ]] || false
	login_user keeper
	api GET /v1/conversations "" "$access_token"
	[[ $(jq '.data | length' <<<"$body") == 1 ]] || false
	# nothing of the victim works any more
	token_revoked "$victim_token"
	api GET /v1/conversations "" "$victim_key"
	expect_error 401 invalid_token
	api POST /v1/auth/login '{"username":"vicky","password":"password-vicky"}'
	expect_error 401 invalid_credentials
	api GET /v1/admin/users/vicky "" "$(root_token)"
	expect_error 404 not_found
	api DELETE "/v1/admin/users/$victim_id" "" "$(root_token)"
	expect_error 404 not_found
}

@test "a generation running during the delete leaves nothing behind" {
	local conv pid
	new_victim vera
	api POST /v1/conversations '{}' "$victim_token"
	conv=$(jb .id)
	# about 8 s of answer, streamed to a client in the background
	curl -sN --max-time 20 -o /dev/null -H "Authorization: Bearer $victim_token" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary '{"content":"a long one, vera","model":"openai/fake:words=400,delay_ms=20"}' \
		"$(base_url)/v1/conversations/$conv/messages" 3>&- &
	pid=$!
	wait_stat active 1
	api DELETE /v1/admin/users/vera "" "$(root_token)"
	expect_status 204
	# the generation ends (stopped) and whatever it writes last lands
	while process_alive "$pid"; do sleep 0.1; done
	sleep 1
	run -0 rows_of "$victim_id" vera
	[[ -z $output ]] || { echo "left behind: $output" >&2; false; }
}

@test "a service that is down leaves a disabled account; the retry finishes" {
	local d token
	# (with sessiond down the gateway takes no admin call at all: it
	# cannot hear of revocations, 503 auth_unavailable)
	for d in chatd aid; do
		new_victim "vic-$d"
		token=$(root_token)
		stop_daemon "$d"
		api DELETE "/v1/admin/users/vic-$d" "" "$token"
		expect_error 502 erase_incomplete
		[[ $(jb .error.message) == "cannot erase the user's data in '$d': "*"; the account is disabled, retry the delete" ]] || false
		token_revoked "$victim_token"
		api GET /v1/users/me "" "$victim_key"
		expect_status 401
		# out of use, and still there to be finished
		run -0 db_query userd "SELECT disabled FROM users WHERE id = '$victim_id'"
		[[ $output == 1 ]] || false
		api POST /v1/auth/login "{\"username\":\"vic-$d\",\"password\":\"password-vic-$d\"}"
		expect_error 403 account_disabled
		start_daemon "$d"
		api DELETE "/v1/admin/users/vic-$d" "" "$(root_token)"
		expect_status 204
		run -0 rows_of "$victim_id" "vic-$d"
		[[ -z $output ]] || { echo "left behind: $output" >&2; false; }
		run -0 events_of "$victim_id" "vic-$d"
		[[ -z $output ]] || { echo "events left behind: $output" >&2; false; }
	done
}

@test "an admin cannot delete their own account" {
	local before
	before=$(every_row)
	api DELETE /v1/admin/users/root "" "$(root_token)"
	expect_error 409 cannot_delete_self
	api DELETE "/v1/admin/users/$root_id" "" "$(root_token)"
	expect_error 409 cannot_delete_self
	[[ $(every_row | grep -v '^sessiond\.\|^userd.api_keys') == "$(grep -v '^sessiond\.\|^userd.api_keys' <<<"$before")" ]] || false
}

@test "unknown users answer 404 and only admins may delete" {
	local before
	api DELETE /v1/admin/users/nobody "" "$(root_token)"
	expect_error 404 not_found
	api DELETE /v1/admin/users/0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b "" "$(root_token)"
	expect_error 404 not_found
	before=$(db_query userd "SELECT id, disabled FROM users ORDER BY id")
	expect_admins_only DELETE "/v1/admin/users/$keeper_id"
	[[ $(db_query userd "SELECT id, disabled FROM users ORDER BY id") == "$before" ]] || false
	login_user keeper
}
