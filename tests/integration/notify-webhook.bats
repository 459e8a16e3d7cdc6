#!/usr/bin/env bats
# notifyd's webhooks (issue 15) with the admin's allowlist letting them
# reach the local receiver (tests/fixtures/webhook/receiver.py, which
# verifies every signature itself): the endpoint API and its bad inputs,
# another user's endpoint invisible, a backbone event delivered once per
# endpoint, retries on the schedule with one webhook-id, 410 disabling
# (and telling the owner), no redirect followed, a timeout, secret
# rotation with its overlap, redelivery, kill -9 of notifyd in the
# middle of a delivery, and the delivery threads ending when idle (300 ms
# here, so that every test's deliveries start them again, and a retry
# due later keeps the last one).

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load notify-common
	load webhook_helper
	wh_receiver_start
	start_stack "[notifyd]" "webhook_allow = 127.0.0.1/32" \
		"webhook_retry_schedule = 1,2,4" "webhook_timeout_ms = 4000" \
		"webhook_secret_overlap_s = 5" "webhook_idle_ms = 300"
	new_user root
	echo "root_token=$access_token" >"$BATS_FILE_TMPDIR/vars"
	new_user alice
	echo "alice_token=$access_token" >>"$BATS_FILE_TMPDIR/vars"
	echo "alice_id=$user_id" >>"$BATS_FILE_TMPDIR/vars"
	new_user bob
	echo "bob_token=$access_token" >>"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	load webhook_helper
	stop_stack
	wh_receiver_stop
}

setup() {
	load test_helper
	load notify-common
	load webhook_helper
	source "$BATS_FILE_TMPDIR/vars"
}

@test "create shows the secret once; list and get never" {
	wh_add "$alice_token" /ok
	[[ $secret =~ ^whsec_[A-Za-z0-9+/]{43}=$ ]] || false
	[[ $(jq -c '[.url, .events, .enabled, .scope]' <<<"$body") == "[\"$WH_URL/ok\",[\"webhook.test\"],true,\"user\"]" ]] || false
	api GET /v1/webhooks "" "$alice_token"
	expect_status 200
	[[ $(jq --arg id "$ep" '[.data[] | select(.id == $id)] | length' <<<"$body") == 1 ]] || false
	[[ $body != *whsec_* ]] || false
	api GET "/v1/webhooks/$ep" "" "$alice_token"
	expect_status 200
	[[ $body != *whsec_* && $(jb .id) == "$ep" ]] || false
	# sealed at rest: the store holds no whsec_ text
	[[ $(db_query notifyd "SELECT secret FROM webhook_endpoints WHERE id = '$ep'") == s1:* ]] || false
	[[ $(db_query notifyd "SELECT COUNT(*) FROM webhook_endpoints WHERE secret LIKE '%whsec_%'") == 0 ]] || false
}

@test "bad inputs are 400 and change nothing" {
	local before after long bad
	wh_add "$alice_token" /ok
	before=$(db_query notifyd "SELECT id, url, events, description FROM webhook_endpoints ORDER BY id")
	long=$(head -c 2100 /dev/zero | tr '\0' a)
	for bad in \
		'{"url":"ftp://127.0.0.1/x","events":["webhook.test"]}' \
		'{"url":"http://","events":["webhook.test"]}' \
		'{"url":"not a url","events":["webhook.test"]}' \
		'{"url":"http://u:p@127.0.0.1/x","events":["webhook.test"]}' \
		"{\"url\":\"http://127.0.0.1/$long\",\"events\":[\"webhook.test\"]}" \
		'{"url":"http://127.0.0.1/x","events":["chat.nothing.such"]}' \
		'{"url":"http://127.0.0.1/x","events":[]}' \
		'{"url":"http://127.0.0.1/x","events":"webhook.test"}' \
		'{"url":"http://127.0.0.1/x","events":["webhook.test"],"colour":1}' \
		"{\"url\":\"http://127.0.0.1/x\",\"events\":[\"webhook.test\"],\"description\":\"$(head -c 600 /dev/zero | tr '\0' d)\"}" \
		'{"url":"http://127.0.0.1/x","events":["webhook.test"],"scope":"galaxy"}'; do
		api POST /v1/webhooks "$bad" "$alice_token"
		expect_error 400 invalid_field
	done
	# broken UTF-8 in a string
	printf '{"url":"http://127.0.0.1/\xff","events":["webhook.test"]}' >"$BATS_TEST_TMPDIR/bad.json"
	api POST /v1/webhooks "@$BATS_TEST_TMPDIR/bad.json" "$alice_token"
	[[ $status_code == 400 ]] || false
	api PATCH "/v1/webhooks/$ep" '{"events":["chat.nothing.such"]}' "$alice_token"
	expect_error 400 invalid_field
	api PATCH "/v1/webhooks/$ep" '{"url":"gopher://x"}' "$alice_token"
	expect_error 400 invalid_field
	# system endpoints are the admin's
	api POST /v1/webhooks "{\"url\":\"$WH_URL/ok\",\"events\":[\"*\"],\"scope\":\"system\"}" "$alice_token"
	expect_error 403 forbidden
	after=$(db_query notifyd "SELECT id, url, events, description FROM webhook_endpoints ORDER BY id")
	[[ $before == "$after" ]] || false
}

@test "another user's endpoint is 404 everywhere and not listed" {
	wh_add "$alice_token" /ok
	api GET /v1/webhooks "" "$bob_token"
	expect_status 200
	[[ $(jq --arg id "$ep" '[.data[] | select(.id == $id)] | length' <<<"$body") == 0 ]] || false
	api GET "/v1/webhooks/$ep" "" "$bob_token"
	expect_error 404 not_found
	api PATCH "/v1/webhooks/$ep" '{"description":"mine"}' "$bob_token"
	expect_error 404 not_found
	api POST "/v1/webhooks/$ep/test" "" "$bob_token"
	expect_error 404 not_found
	api POST "/v1/webhooks/$ep/rotate-secret" "" "$bob_token"
	expect_error 404 not_found
	api GET "/v1/webhooks/$ep/deliveries" "" "$bob_token"
	expect_error 404 not_found
	api POST "/v1/webhooks/$ep/redeliver" '{"since":"2020-01-01T00:00:00Z"}' "$bob_token"
	expect_error 404 not_found
	api DELETE "/v1/webhooks/$ep" "" "$bob_token"
	expect_error 404 not_found
	api GET "/v1/webhooks/$ep" "" "$alice_token"
	expect_status 200
	[[ $(jb .description) == "" ]] || false
}

# apikey_message NAME: alice makes an API key (chat.apikey.created on the
# backbone); once notifyd consumed it, its one message to endpoint $ep
# in msg.
apikey_message() {
	api POST /v1/apikeys "{\"name\":\"$1\"}" "$alice_token"
	expect_status 201
	notify_caught_up
	msg=$(db_query notifyd "SELECT id FROM webhook_messages WHERE endpoint_id = '$ep'")
	[[ $msg =~ ^msg_[0-9a-f]{32}$ ]] || false
}

@test "a backbone event: one signed CloudEvent per endpoint, once" {
	local n
	wh_add "$alice_token" /ok '["chat.apikey.*"]'
	apikey_message hooked
	wh_wait "$msg" 1
	[[ $(jq -c '.[0] | [.all_valid, .fresh, .status]' <<<"$reqs") == '[true,true,200]' ]] || false
	[[ $(jq -r '.[0].body | fromjson | [.specversion, .type, .userid, .data.name] | join(" ")' <<<"$reqs") == "1.0 chat.apikey.created $alice_id hooked" ]] || false
	# bob's key is no event of alice's endpoint
	api POST /v1/apikeys '{"name":"other"}' "$bob_token"
	notify_caught_up
	n=$(db_query notifyd "SELECT COUNT(*) FROM webhook_messages WHERE endpoint_id = '$ep'")
	[[ $n == 1 ]] || false
	wh_deliveries_wait "$alice_token" "$ep" 1
	[[ $(jq -c '.data[0] | [.message_id, .attempt, .status, .outcome, .response]' <<<"$body") == "[\"$msg\",1,200,\"ok\",\"ok\"]" ]] || false
}

@test "delivery threads end when idle and start again for the next job" {
	wh_add "$alice_token" /ok
	wh_threads_wait 0
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	[[ $(jq -c '[.[] | [.all_valid, .status]]' <<<"$reqs") == '[[true,200]]' ]] || false
	wh_threads_wait 0
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	[[ $(jq -c '[.[] | [.all_valid, .status]]' <<<"$reqs") == '[[true,200]]' ]] || false
}

@test "fail twice then succeed: three attempts, one webhook-id, on schedule" {
	wh_add "$alice_token" /fail2
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 3 30
	[[ $(jq -c '[.[] | .status]' <<<"$reqs") == '[500,500,200]' ]] || false
	[[ $(jq '[.[] | .all_valid] | all' <<<"$reqs") == true ]] || false
	# waits of 1 s and 2 s at least (jitter only adds)
	jq -e '(.[1].t - .[0].t) >= 1 and (.[2].t - .[1].t) >= 2' <<<"$reqs" >/dev/null || false
	wh_deliveries_wait "$alice_token" "$ep" 3
	[[ $(jq -c '[.data[] | [.attempt, .status, .outcome]]' <<<"$body") == '[[3,200,"ok"],[2,500,"http"],[1,500,"http"]]' ]] || false
	[[ $(jq -r '.data[1].response' <<<"$body") == "failing on purpose" ]] || false
	[[ $(db_query notifyd "SELECT COUNT(*) FROM webhook_jobs WHERE msg_id = '$msg'") == 0 ]] || false
}

@test "429 and 503 with Retry-After: the retry waits as long as asked" {
	local path
	# the schedule says 1 s; the answers ask for 3 s (seconds, a date)
	for path in /busy /busy-date; do
		wh_add "$alice_token" "$path"
		wh_test "$alice_token" "$ep"
		wh_wait "$msg" 2 30
		[[ $(jq -c '[.[] | .status]' <<<"$reqs") == "[$([[ $path == /busy ]] && echo 429 || echo 503),200]" ]] || false
		# an HTTP-date has whole seconds: 3 s ahead is at least 2
		jq -e '(.[1].t - .[0].t) >= 2.0' <<<"$reqs" >/dev/null || {
			echo "$path: retried after $(jq '.[1].t - .[0].t' <<<"$reqs") s" >&2
			false
		}
		[[ $(jq '[.[] | .id] | unique | length' <<<"$reqs") == 1 ]] || false
	done
}

@test "410 disables the endpoint at once and tells its owner" {
	wh_add "$alice_token" /gone
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	wh_deliveries_wait "$alice_token" "$ep" 1
	api GET "/v1/webhooks/$ep" "" "$alice_token"
	[[ $(jq -c '[.enabled, .disabled_reason]' <<<"$body") == '[false,"gone"]' ]] || false
	notes "$alice_token"
	[[ $(jq --arg ep "$ep" '[.data[] | select(.kind == "webhook_disabled" and .data.endpoint_id == $ep and .category == "account")] | length' <<<"$body") == 1 ]] || false
	# no retry of a disabled endpoint's message
	[[ $(db_query notifyd "SELECT state FROM webhook_jobs WHERE msg_id = '$msg'") == 1 ]] || false
	sleep 1.5
	[[ $(jq length <<<"$(wh_requests "$msg")") == 1 ]] || false
	# enabled again, it delivers
	api PATCH "/v1/webhooks/$ep" "{\"url\":\"$WH_URL/ok\",\"enabled\":true}" "$alice_token"
	expect_status 200
	[[ $(jb .enabled) == true ]] || false
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
}

@test "a redirect is not followed; a hanging receiver times out" {
	wh_add "$alice_token" /redirect
	wh_test "$alice_token" "$ep"
	wh_deliveries_wait "$alice_token" "$ep" 1
	[[ $(jq -c '.data[0] | [.status, .outcome]' <<<"$body") == '[302,"http"]' ]] || false
	[[ $(jq -c '[.[] | .path]' <<<"$(wh_requests "$msg")") == '["/redirect"]' ]] || false
	wh_add "$alice_token" /hang
	wh_test "$alice_token" "$ep"
	wh_deliveries_wait "$alice_token" "$ep" 1 30
	[[ $(jq -c '.data[0] | [.status, .outcome]' <<<"$body") == '[0,"timeout"]' ]] || false
	api DELETE "/v1/webhooks/$ep" "" "$alice_token"
	expect_status 204
}

@test "a big answer is cut to its excerpt, still a success" {
	wh_add "$alice_token" /big
	wh_test "$alice_token" "$ep"
	wh_deliveries_wait "$alice_token" "$ep" 1
	[[ $(jq -c '.data[0] | [.status, .outcome, (.response | length)]' <<<"$body") == '[200,"ok",1024]' ]] || false
}

@test "rotation: both signatures during the overlap, then only the new" {
	local old= until
	wh_add "$alice_token" /ok
	old=$secret
	api POST "/v1/webhooks/$ep/rotate-secret" "" "$alice_token"
	expect_status 200
	secret=$(jb .secret)
	until=$(jb .previous_secret_until)
	[[ $secret == whsec_* && $secret != "$old" && $until != null ]] || false
	: >"$WH_DIR/secrets"
	wh_secret_add "$old"
	wh_secret_add "$secret"
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	[[ $(jq -c '.[0] | [.all_valid, .signed_by, (.sig | split(" ") | length)]' <<<"$reqs") == '[true,[0,1],2]' ]] || false
	# past the overlap (previous_secret_until), whatever the load
	sleep "$(python3 -c 'import sys, datetime as d
t = d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=d.timezone.utc)
print(max(0.0, (t - d.datetime.now(d.timezone.utc)).total_seconds() + 0.2))' "$until")"
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	[[ $(jq -c '.[0] | [.all_valid, .signed_by, (.sig | split(" ") | length)]' <<<"$reqs") == '[true,[1],1]' ]] || false
}

@test "redelivery of one message and since a time: the same webhook-id" {
	local first
	wh_add "$alice_token" /ok
	wh_test "$alice_token" "$ep"
	first=$msg
	wh_wait "$first" 1
	api POST "/v1/webhooks/$ep/messages/$first/redeliver" "" "$alice_token"
	expect_status 202
	wh_wait "$first" 2
	api POST "/v1/webhooks/$ep/messages/msg_nosuch/redeliver" "" "$alice_token"
	expect_error 404 not_found
	api POST "/v1/webhooks/$ep/redeliver" '{"since":"yesterday"}' "$alice_token"
	expect_error 400 invalid_field
	api POST "/v1/webhooks/$ep/redeliver" '{"since":"2020-01-01T00:00:00Z"}' "$alice_token"
	expect_status 202
	[[ $(jb .messages) == 1 ]] || false
	wh_wait "$first" 3
	[[ $(jq '[.[] | .all_valid] | all' <<<"$reqs") == true ]] || false
}

# crash_mid_delivery: kill -9 of notifyd while it delivers $msg, a
# restart, and the second request of $msg (same webhook-id), signed.
crash_mid_delivery() {
	local pid i
	pid=$(daemon_pid notifyd)
	kill -9 "$pid"
	for ((i = 0; i < 100; i++)); do
		process_alive "$pid" || break
		sleep 0.05
	done
	start_daemon notifyd
	wh_wait "$msg" 2 30
	[[ $(jq '[.[] | .all_valid] | all' <<<"$reqs") == true ]] || false
}

# job_gone_wait: waits up to 10 s until $msg has no job left.
job_gone_wait() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(db_query notifyd "SELECT COUNT(*) FROM webhook_jobs WHERE msg_id = '$msg'") == 0 ]] && return 0
		sleep 0.1
	done
	echo "webhook message $msg still has a job" >&2
	return 1
}

@test "kill -9 of notifyd mid-delivery: delivered after the restart, same id" {
	wh_add "$alice_token" /slow
	wh_test "$alice_token" "$ep"
	wh_wait "$msg" 1
	crash_mid_delivery
	wh_deliveries_wait "$alice_token" "$ep" 1 30
	[[ $(jq -c '[.data[] | select(.outcome == "ok")] | length' <<<"$body") -ge 1 ]] || false
	job_gone_wait
}

# a backbone event's job is handed to the delivery threads in memory,
# leased in the store since the consumer's commit: a crash mid-delivery
# must still find it after the restart
@test "kill -9 mid-delivery of a backbone event's job: delivered again, same id" {
	wh_add "$alice_token" /slow '["chat.apikey.created"]'
	apikey_message crash
	wh_wait "$msg" 1
	crash_mid_delivery
	job_gone_wait
}

@test "delete removes the endpoint, its messages and its log" {
	wh_add "$alice_token" /ok
	wh_test "$alice_token" "$ep"
	wh_deliveries_wait "$alice_token" "$ep" 1
	api DELETE "/v1/webhooks/$ep" "" "$alice_token"
	expect_status 204
	api GET "/v1/webhooks/$ep" "" "$alice_token"
	expect_error 404 not_found
	[[ $(db_query notifyd "SELECT (SELECT COUNT(*) FROM webhook_messages WHERE endpoint_id = '$ep') + (SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_id = '$ep')") == 0 ]] || false
}

@test "chatctl webhook add|ls|test|deliveries|redeliver|rotate|rm" {
	local out id sec msg2
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/cfg
	cc() { "${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)" "$@"; }
	cc register carol --password-stdin <<<"password-carol" 2>/dev/null
	run -1 --separate-stderr cc webhook add "ftp://x/" --event webhook.test
	[[ -z $output && $stderr == "chatctl: "* ]] || false
	run -0 --separate-stderr cc webhook add "$WH_URL/ok" --event webhook.test --event 'chat.apikey.*'
	read -r id sec <<<"$output"
	[[ $sec == whsec_* ]] || false
	wh_secret_add "$sec"
	run -0 cc webhook ls --json
	[[ $(jq -c --arg id "$id" '.data[] | select(.id == $id) | .events' <<<"$output") == '["webhook.test","chat.apikey.*"]' ]] || false
	run -0 cc webhook ls
	[[ ${lines[0]} == ID*ENABLED*CREATED*EVENTS*URL && $output == *"$id"* ]] || false
	run -0 cc webhook test "$id"
	msg=$output
	wh_wait "$msg" 1
	for ((i = 0; i < 100; i++)); do
		run -0 cc webhook deliveries "$id" --json
		[[ $(jq '.data | length' <<<"$output") -ge 1 ]] && break
		sleep 0.1
	done
	[[ $(jq -c '.data[0] | [.message_id, .status]' <<<"$output") == "[\"$msg\",200]" ]] || false
	run -0 cc webhook redeliver "$id" "$msg"
	wh_wait "$msg" 2
	run -1 --separate-stderr cc webhook redeliver "$id"
	run -0 cc webhook redeliver "$id" --since 2020-01-01T00:00:00Z
	[[ $output == 1 ]] || false
	wh_wait "$msg" 3
	run -0 cc webhook rotate "$id"
	read -r _ msg2 <<<"$output"
	[[ $msg2 == whsec_* && $msg2 != "$sec" ]] || false
	run -0 cc webhook rm "$id"
	run -3 --separate-stderr cc webhook test "$id"
}

@test "an admin's system endpoint gets every user's events it asks for" {
	local n
	api POST /v1/webhooks "{\"url\":\"$WH_URL/ok\",\"events\":[\"chat.apikey.revoked\"],\"scope\":\"system\"}" "$root_token"
	expect_status 201
	ep=$(jb .id)
	wh_secret_add "$(jb .secret)"
	[[ $(jb .scope) == system ]] || false
	api POST /v1/apikeys '{"name":"short-lived"}' "$bob_token"
	expect_status 201
	api DELETE "/v1/apikeys/$(jb .id)" "" "$bob_token"
	notify_caught_up
	n=$(db_query notifyd "SELECT COUNT(*) FROM webhook_messages WHERE endpoint_id = '$ep' AND type = 'chat.apikey.revoked'")
	[[ $n == 1 ]] || false
	msg=$(db_query notifyd "SELECT id FROM webhook_messages WHERE endpoint_id = '$ep'")
	wh_wait "$msg" 1
	[[ $(jq -c '.[0] | [.all_valid, (.body | fromjson | .type)]' <<<"$reqs") == '[true,"chat.apikey.revoked"]' ]] || false
	# the endpoint is the admin's own: not in bob's list
	api GET "/v1/webhooks/$ep" "" "$bob_token"
	expect_error 404 not_found
}

@test "an erased account's endpoints, messages and log go with it" {
	local uid
	new_user erin
	uid=$user_id
	wh_add "$access_token" /ok '["chat.apikey.*"]'
	api POST /v1/apikeys '{"name":"k"}' "$access_token"
	expect_status 201
	notify_caught_up
	msg=$(db_query notifyd "SELECT id FROM webhook_messages WHERE endpoint_id = '$ep'")
	wh_wait "$msg" 1
	wh_deliveries_wait "$access_token" "$ep" 1
	api DELETE /v1/admin/users/erin "" "$root_token"
	expect_status 204
	notify_caught_up
	run -0 db_query notifyd "SELECT (SELECT COUNT(*) FROM webhook_endpoints WHERE user_id = '$uid')
		+ (SELECT COUNT(*) FROM webhook_messages WHERE user_id = '$uid')
		+ (SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_id = '$ep')
		+ (SELECT COUNT(*) FROM webhook_jobs WHERE endpoint_id = '$ep')"
	[[ $output == 0 ]] || { echo "rows left: $output" >&2; false; }
}
