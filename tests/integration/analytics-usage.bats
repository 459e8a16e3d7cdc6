#!/usr/bin/env bats
# analyticsd through the gateway: usage totals equal what aid recorded,
# registrations and logins counted, a user's own usage, the admin usage
# table as JSON and CSV, the summary, bad ranges (400), non-admins (403),
# the price table's cost (and unknown cost for a model without a price),
# the live SSE tail of events, /metrics, and conversations and messages.

setup_file() {
	load test_helper
	load analytics-common
	# "broken" fails: its upstream refuses connections
	analytics_stack "[aid]" "echo_delay_ms = 0" "models = priced, broken" \
		"discover = false" "retries = 0" \
		"[model.priced]" "provider = echo" \
		"[model.broken]" "provider = openai" "upstream = gone" \
		"[openai]" "base_url = http://127.0.0.1:9/v1" \
		"[price.priced]" "input = 2.5" "output = 10" \
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

@test "usage totals equal what aid recorded for the same requests" {
	local i
	new_user "ursula"
	for i in 1 2 3 4 5; do
		generate "$access_token" "request number $i of ursula"
	done
	wait_totals "$user_id" 5
}

@test "a user reads their own usage by day and by model, nobody else's" {
	local other
	new_user "olga"
	other=$user_id
	generate "$access_token"
	wait_totals "$other" 1
	new_user "victor"
	generate "$access_token" "one"
	generate "$access_token" "two"
	wait_totals "$user_id" 2
	api GET "/v1/users/me/usage?group_by=model" "" "$access_token"
	expect_status 200
	[[ $(jb .group_by) == model && $(jb '.data | length') == 1 ]] || false
	[[ $(jb '.data[0].model') == echo && $(jb '.data[0].requests') == 2 ]] || false
	[[ $(jb '.totals.requests') == 2 && $(jb '.totals.completed') == 2 ]] || false
	[[ $(jb '.totals.total_tokens == .totals.prompt_tokens + .totals.completion_tokens') == true ]] || false
	api GET "/v1/users/me/usage" "" "$access_token"
	expect_status 200
	[[ $(jb .group_by) == day && $(jb '.data[0].day') == "$(date -u +%F)" ]] || false
	[[ $(jb '.totals.requests') == 2 ]] || false
	# user= is not a user's to choose: still their own
	api GET "/v1/users/me/usage?user=$other" "" "$access_token"
	[[ $(jb '.totals.requests') == 2 ]] || false
	api GET "/v1/users/me/usage?group_by=user" "" "$access_token"
	expect_error 400 invalid_request
}

@test "registrations, logins and failed logins are counted per day" {
	local before after prev="" i
	# the earlier tests' logins may still be on their way (batched in
	# userd, relayed, pulled): count from figures that stopped moving
	for ((i = 0; i < 60; i++)); do
		api GET /v1/admin/analytics/summary "" "$(admin_token)"
		expect_status 200
		before=$(jb '.today | "\(.registrations) \(.logins) \(.failed_logins)"')
		[[ $before == "$prev" ]] && break
		prev=$before
		sleep 0.5
	done
	register_user "rita"
	login_user "rita"
	login_user "rita"
	api POST /v1/auth/login '{"username":"rita","password":"wrong-password"}'
	expect_status 401
	read -r r l f <<<"$before"
	after="$((r + 1)) $((l + 2)) $((f + 1))"
	for ((i = 0; i < 300; i++)); do
		api GET /v1/admin/analytics/summary "" "$(admin_token)"
		[[ $(jb '.today | "\(.registrations) \(.logins) \(.failed_logins)"') == "$after" ]] && break
		sleep 0.1
	done
	[[ $(jb '.today | "\(.registrations) \(.logins) \(.failed_logins)"') == "$after" ]] || false
	(($(jb .today.active_users) >= 2)) || false
	[[ $(jb '.last_30_days.registrations >= .today.registrations') == true ]] || false
}

@test "the summary has today and the last 7 and 30 days" {
	new_user "sam"
	generate "$access_token"
	wait_totals "$user_id" 1
	api GET /v1/admin/analytics/summary "" "$(admin_token)"
	expect_status 200
	for w in today last_7_days last_30_days; do
		[[ $(jq -r ".$w | has(\"active_users\") and has(\"requests\")
			and has(\"prompt_tokens\") and has(\"cost\")
			and has(\"error_rate\") and has(\"ttft_ms_p50\")
			and has(\"ttft_ms_p95\")" <<<"$body") == true ]] || false
		(($(jq -r ".$w.requests" <<<"$body") >= 1)) || false
	done
	[[ $(jb .today.to) == "$(date -u +%F)" && $(jb .today.from) == "$(date -u +%F)" ]] || false
	[[ $(jb .last_7_days.from) == "$(date -u -d '6 days ago' +%F)" ]] || false
	[[ $(jb .last_30_days.from) == "$(date -u -d '29 days ago' +%F)" ]] || false
	[[ $(jb .today.error_rate) == 0 ]] || false
	(($(jb .today.latency_ms_p95) >= 0)) || false
}

@test "a priced model has its cost, an unpriced one a null cost" {
	new_user "penny"
	api POST /v1/chat/completions '{"model":"priced","messages":[{"role":"user","content":"price me"}]}' "$access_token"
	expect_status 200
	p=$(jb .usage.prompt_tokens)
	c=$(jb .usage.completion_tokens)
	generate "$access_token"
	wait_totals "$user_id" 2
	api GET "/v1/users/me/usage?group_by=model" "" "$access_token"
	expect_status 200
	# 2.5 and 10 USD per million tokens
	[[ $(jb '.data[] | select(.model == "priced") | .cost') == \
		$(jq -n "($p * 2.5 + $c * 10) / 1000000") ]] || false
	[[ $(jb '.data[] | select(.model == "echo") | .cost') == null ]] || false
	[[ $(jb .totals.cost) == null ]] || false
}

@test "the admin usage table filters by user and model, and speaks CSV" {
	new_user "carl"
	generate "$access_token"
	generate "$access_token"
	wait_totals "$user_id" 2
	api GET "/v1/admin/analytics/usage?group_by=user&user=$user_id&model=echo" "" "$(admin_token)"
	expect_status 200
	[[ $(jb '.data | length') == 1 && $(jb '.data[0].user') == "$user_id" ]] || false
	[[ $(jb '.data[0].requests') == 2 ]] || false
	api GET "/v1/admin/analytics/usage?group_by=user&user=$user_id&format=csv" "" "$(admin_token)"
	expect_status 200
	[[ $(header content-type) == text/csv* ]] || false
	read -r p q <<<"$(aid_totals "$user_id" | cut -d' ' -f2-)"
	printf '%s\r\n' \
		"user,requests,completed,stopped,failed,prompt_tokens,completion_tokens,total_tokens,cost,conversations,messages" \
		"$user_id,2,2,0,0,$p,$q,$((p + q)),,0,0" >"$BATS_TEST_TMPDIR/expect"
	printf '%s' "$body" >"$BATS_TEST_TMPDIR/actual"
	# $body lost the last line break
	printf '\n' >>"$BATS_TEST_TMPDIR/actual"
	diff "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual"
}

@test "bad ranges are 400 with the reason" {
	local t q
	t=$(admin_token)
	for q in "from=2026-13-01" "to=yesterday" "from=2026-02-30" \
		"from=2026-12-07&to=2026-12-06" "from=2025-01-01&to=2026-01-02" \
		"group_by=week" "format=xml" "from=2026-1-1"; do
		api GET "/v1/admin/analytics/usage?$q" "" "$t"
		expect_error 400 invalid_request || { echo "query: $q" >&2; false; }
	done
	api GET "/v1/users/me/usage?from=2026-12-07&to=2026-12-06" "" "$t"
	expect_error 400 invalid_request
	[[ $(jb .error.message) == "'to' is before 'from'" ]] || false
	api GET "/v1/admin/analytics/usage?from=2025-01-01&to=2025-12-31" "" "$t"
	expect_status 200	# 365 days
	api GET "/v1/admin/analytics/usage?from=2024-01-01&to=2024-12-31" "" "$t"
	expect_status 200	# 366 days of a leap year
	api GET "/v1/admin/analytics/usage?from=2024-01-01&to=2025-01-01" "" "$t"
	expect_error 400 invalid_request
}

@test "a user asking for the admin routes gets 403, nobody 401" {
	new_user "nina"
	for path in /v1/admin/analytics/summary /v1/admin/analytics/usage \
		/v1/admin/events; do
		api GET "$path" "" "$access_token"
		expect_status 403 || { echo "$path" >&2; false; }
		api GET "$path"
		expect_error 401 unauthorized
	done
	api POST /v1/admin/analytics/rebuild "" "$access_token"
	expect_status 403
	api GET /v1/users/me/usage
	expect_error 401 unauthorized
}

@test "the SSE tail of events gets a new event, filtered by type and user" {
	local pid out=$BATS_TEST_TMPDIR/tail
	curl -sN --max-time 20 -H "Authorization: Bearer $(admin_token)" \
		"$(base_url)/v1/admin/events?type=chat.user.*" >"$out" 3>&- &
	pid=$!
	for ((i = 0; i < 50; i++)); do
		[[ -s $out ]] && break
		sleep 0.1
	done
	register_user "tess"
	for ((i = 0; i < 100; i++)); do
		grep -q '^event: chat.user.registered$' "$out" && break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	grep -q '^event: chat.user.registered$' "$out" || { cat "$out" >&2; false; }
	ev=$(grep '^data: ' "$out" | sed 's/^data: //' |
		jq -c "select(.type == \"chat.user.registered\" and .userid == \"$user_id\")")
	[[ $(jq -r .specversion <<<"$ev") == 1.0 ]] || false
	# the type filter kept everything else out
	[[ -z $(grep '^event: ' "$out" | grep -v '^event: chat\.user\.') ]] || false
}

@test "/metrics has the business counters by model and the consumer lag" {
	local url="http://127.0.0.1:$((CHAT_PORT + 5))/metrics" n
	new_user "mia"
	generate "$access_token"
	api POST /v1/chat/completions '{"model":"priced","messages":[{"role":"user","content":"m"}]}' "$access_token"
	expect_status 200
	wait_totals "$user_id" 2
	run -0 curl -s -o /dev/null -w '%{http_code}' "$url"
	[[ $output == 401 ]] || false
	run -0 curl -sf -H 'Authorization: Bearer scrape-me' "$url"
	# every echo generation of the file so far, counted since start
	n=$(db_query aid "SELECT COUNT(*) FROM usage WHERE model = 'echo'")
	grep -qx "analyticsd_requests_total{model=\"echo\"} $n" <<<"$output" || { echo "$output" >&2; false; }
	grep -q '^analyticsd_prompt_tokens_total{model="echo"} [1-9]' <<<"$output" || false
	grep -q '^analyticsd_cost_usd_total{model="priced"} ' <<<"$output" || false
	[[ -z $(grep '^analyticsd_cost_usd_total{model="echo"}' <<<"$output") ]] || false
	for p in userd sessiond chatd aid; do
		grep -q "^analyticsd_consumer_lag{producer=\"$p\"} [0-9]" <<<"$output" || false
	done
	grep -q '^analyticsd_events_skipped_total 0$' <<<"$output" || false
}

@test "conversations and messages created are counted" {
	local conv i
	new_user "connie"
	api POST /v1/conversations '{}' "$access_token"
	expect_status 201
	conv=$(jb .id)
	api POST "/v1/conversations/$conv/messages" '{"content":"hello","model":"echo"}' "$access_token"
	[[ $status_code == 20[01] ]] || false
	# the question and the answer
	for ((i = 0; i < 100; i++)); do
		api GET "/v1/admin/analytics/usage?user=$user_id" "" "$(admin_token)"
		[[ $(jb '.totals | "\(.conversations) \(.messages)"') == "1 2" ]] && break
		sleep 0.1
	done
	[[ $(jb '.totals | "\(.conversations) \(.messages)"') == "1 2" ]] || { echo "$body" >&2; false; }
	# two generations: the answer and the conversation's title
	wait_totals "$user_id" 2
}

@test "failures count by error class, as aid recorded them" {
	local class
	new_user "fay"
	api POST /v1/chat/completions '{"model":"broken","messages":[{"role":"user","content":"fail"}]}' "$access_token"
	[[ $status_code == 5* ]] || false
	wait_totals "$user_id" 1
	# aid's class of the failure is its usage row's status
	class=$(db_query aid "SELECT status FROM usage WHERE user_id = '$user_id'")
	[[ -n $class && $class != complete ]] || false
	api GET "/v1/users/me/usage" "" "$access_token"
	[[ $(jb '.totals | "\(.requests) \(.failed) \(.completed)"') == "1 1 0" ]] || false
	run -0 db_query analyticsd "SELECT error_class, count FROM usage_errors WHERE user_id = '$user_id'"
	[[ $output == "$class|1" ]] || { echo "aid: $class, analyticsd: $output" >&2; false; }
	api GET /v1/admin/analytics/summary "" "$(admin_token)"
	expect_status 200
	(($(jq -r --arg c "$class" '.today.failed_by_class[$c]' <<<"$body") >= 1)) || false
	[[ $(jb '.today.error_rate > 0') == true ]] || false
}

# sums_of SQL_GROUP: the usage sums of usage_daily (the per-user rows)
# grouped by SQL_GROUP, one "group|requests|...|messages" line each.
sums_of() {
	db_query analyticsd "SELECT $1, SUM(requests), SUM(completed),
		SUM(stopped), SUM(failed), SUM(prompt_tokens),
		SUM(completion_tokens), SUM(conversations), SUM(messages)
		FROM usage_daily GROUP BY $1 ORDER BY $1"
}

# route_sums GROUP: the same lines from the admin usage route.
route_sums() {
	api GET "/v1/admin/analytics/usage?group_by=$1" "" "$(admin_token)"
	[[ $status_code == 200 ]] || return 1
	jq -r --arg g "$1" '.data[] | [(.[$g] // ""), .requests, .completed,
		.stopped, .failed, .prompt_tokens, .completion_tokens,
		.conversations, .messages] | map(tostring) | join("|")' <<<"$body"
}

@test "the admin routes and the summary add up to the per-user rows after a mix of events" {
	local conv a b i g table
	new_user "mix-a"
	a=$access_token
	generate "$a" "one"
	api POST /v1/chat/completions '{"model":"priced","messages":[{"role":"user","content":"two words"}]}' "$a"
	expect_status 200
	api POST /v1/chat/completions '{"model":"broken","messages":[{"role":"user","content":"fail"}]}' "$a"
	[[ $status_code == 5* ]] || false
	wait_totals "$user_id" 3
	new_user "mix-b"
	b=$access_token
	api POST /v1/conversations '{}' "$b"
	expect_status 201
	conv=$(jb .id)
	api POST "/v1/conversations/$conv/messages" '{"content":"hello","model":"priced"}' "$b"
	[[ $status_code == 20[01] ]] || false
	generate "$b" "three"
	wait_totals "$user_id" 3
	# messages come from chatd, after its generations: until they stop
	for ((i = 0; i < 100; i++)); do
		api GET "/v1/admin/analytics/usage?user=$user_id" "" "$(admin_token)"
		[[ $(jb .totals.messages) == 2 ]] && break
		sleep 0.1
	done
	# each grouping of the route, and its totals, equal usage_daily's
	for g in day model user; do
		case $g in
		day) table=day ;; model) table=model ;; user) table=user_id ;;
		esac
		sums_of "$table" >"$BATS_TEST_TMPDIR/expect"
		route_sums "$g" >"$BATS_TEST_TMPDIR/actual"
		diff "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual"
	done
	# the per-day tables hold what usage_daily's rows add up to
	for g in "usage_model_daily day, model" "usage_user_daily day, user_id"; do
		read -r table g <<<"$g"
		run -0 db_query analyticsd "SELECT COUNT(*) FROM
			(SELECT $g, SUM(requests) r, SUM(failed) f, SUM(cost_pusd) c,
			 SUM(unpriced) u, SUM(prompt_tokens) p, SUM(completion_tokens) t,
			 SUM(conversations) v, SUM(messages) m FROM usage_daily GROUP BY $g) x
			FULL OUTER JOIN $table y USING ($g)
			WHERE x.r IS DISTINCT FROM y.requests OR x.f IS DISTINCT FROM y.failed
			OR x.c IS DISTINCT FROM y.cost_pusd OR x.u IS DISTINCT FROM y.unpriced
			OR x.p IS DISTINCT FROM y.prompt_tokens
			OR x.t IS DISTINCT FROM y.completion_tokens
			OR x.v IS DISTINCT FROM y.conversations OR x.m IS DISTINCT FROM y.messages"
		[[ $output == 0 ]] || { echo "$table: $output rows differ" >&2; false; }
	done
	run -0 db_query analyticsd "SELECT COUNT(*) FROM
		(SELECT day, metric, bucket, SUM(count) n FROM usage_hist
		 GROUP BY day, metric, bucket) x
		FULL OUTER JOIN usage_hist_daily y USING (day, metric, bucket)
		WHERE x.n IS DISTINCT FROM y.count"
	[[ $output == 0 ]] || { echo "usage_hist_daily: $output rows differ" >&2; false; }
	run -0 db_query analyticsd "SELECT COUNT(*) FROM
		(SELECT day, error_class, SUM(count) n FROM usage_errors
		 GROUP BY day, error_class) x
		FULL OUTER JOIN usage_errors_daily y USING (day, error_class)
		WHERE x.n IS DISTINCT FROM y.count"
	[[ $output == 0 ]] || { echo "usage_errors_daily: $output rows differ" >&2; false; }
	# the summary's month: the sums of the per-user rows
	api GET /v1/admin/analytics/summary "" "$(admin_token)"
	expect_status 200
	run -0 db_query analyticsd "SELECT SUM(requests), SUM(failed),
		SUM(prompt_tokens), SUM(completion_tokens) FROM usage_daily"
	[[ $(jb '.last_30_days | [.requests, .failed, .prompt_tokens,
		.completion_tokens] | map(tostring) | join("|")') == "$output" ]] ||
		{ echo "summary: $body, usage_daily: $output" >&2; false; }
}

# The query plan of the admin route's group_by=user&model=M (usage.c's
# usage_run), on this store.
user_model_plan() {
	local sql="SELECT user_id, SUM(requests), SUM(cost_pusd) FROM usage_daily
		WHERE day BETWEEN '2026-01-01' AND '2026-01-30' AND model = 'echo'
		GROUP BY user_id ORDER BY user_id"
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		# what it can use, not what a table of a few rows costs
		db_query analyticsd "SET enable_seqscan = off; EXPLAIN $sql" ;;
	*) db_query analyticsd "EXPLAIN QUERY PLAN $sql" ;;
	esac
}

# by_user_model_agrees: for each model, group_by=user&model= gives each
# user's sums of usage_daily, and its totals equal the model's row of
# group_by=model (the per-model rollup).
by_user_model_agrees() {
	local m
	for m in echo priced; do
		run -0 db_query analyticsd "SELECT user_id, SUM(requests),
			SUM(completed), SUM(stopped), SUM(failed), SUM(prompt_tokens),
			SUM(completion_tokens), SUM(conversations), SUM(messages)
			FROM usage_daily WHERE model = '$m' GROUP BY user_id
			ORDER BY user_id"
		printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/expect"
		api GET "/v1/admin/analytics/usage?group_by=user&model=$m" "" "$(admin_token)"
		expect_status 200
		jq -r '.data[] | [.user, .requests, .completed, .stopped, .failed,
			.prompt_tokens, .completion_tokens, .conversations,
			.messages] | map(tostring) | join("|")' <<<"$body" \
			>"$BATS_TEST_TMPDIR/actual"
		diff "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual"
		jq -c .totals <<<"$body" >"$BATS_TEST_TMPDIR/by-user"
		api GET "/v1/admin/analytics/usage?group_by=model" "" "$(admin_token)"
		expect_status 200
		jq -c --arg m "$m" '.data[] | select(.model == $m) | del(.model)' \
			<<<"$body" >"$BATS_TEST_TMPDIR/by-model"
		diff "$BATS_TEST_TMPDIR/by-model" "$BATS_TEST_TMPDIR/by-user"
	done
}

@test "by user with a model: a seek per user, no sort; the same sums as by model" {
	local a
	new_user "uma"
	a=$access_token
	generate "$a" "one"
	api POST /v1/chat/completions '{"model":"priced","messages":[{"role":"user","content":"two words"}]}' "$a"
	expect_status 200
	new_user "ulf"
	generate "$access_token" "three"
	wait_totals "$user_id" 1
	run -0 user_model_plan
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		# one model's rows of a range without reading the others'
		[[ $output == *usage_daily_model_idx* ]] || { echo "$output" >&2; false; } ;;
	*)
		# SQLite: each user's days in key order, summed as they come
		[[ $output == *"ANY(user_id) AND model=? AND day>? AND day<?"* &&
			$output != *"TEMP B-TREE"* ]] || { echo "$output" >&2; false; } ;;
	esac
	by_user_model_agrees
	# and the same once rebuilt from the inbox (one transaction: done
	# when it answers)
	api POST /v1/admin/analytics/rebuild "" "$(admin_token)"
	expect_status 202
	by_user_model_agrees
}

@test "the consumer's threads yield the CPU to the send path: nice 10, the others 0" {
	local pid
	new_user "nice-ned"
	generate "$access_token"
	wait_totals "$user_id" 1
	pid=$(daemon_pid analyticsd)
	run -0 ps -L -o nice= -p "$pid"
	# its first batch lowered the pulling thread's priority
	grep -qx ' *10' <<<"$output" || { echo "$output" >&2; false; }
	# the main thread and the routes' workers kept theirs
	grep -qx ' *0' <<<"$output" || { echo "$output" >&2; false; }
	run -0 ps -o nice= -p "$pid"
	[[ $output =~ ^\ *0$ ]] || false
}
