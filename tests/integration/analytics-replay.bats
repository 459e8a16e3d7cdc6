#!/usr/bin/env bats
# analyticsd's delivery guarantees: killed with SIGKILL in the middle of
# a burst of generations and started again, it counts every event
# exactly once (its totals equal aid's own usage table, its inbox holds
# each event once); its rollups rebuilt (analyticsd --rebuild, or POST
# /v1/admin/analytics/rebuild) give the same totals as before; an erased
# user's counts stay without a trace of them; a producer that is down is
# caught up with once it is back.

setup_file() {
	load test_helper
	load analytics-common
	analytics_stack "[aid]" "echo_delay_ms = 0" || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load analytics-common
}

# burst TOKEN N: N completions, 4 at a time, in the background; sets
# burst_pid.
burst() {
	seq "$2" | xargs -P 4 -I{} curl -s -o /dev/null --max-time 20 \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		--data-binary '{"model":"echo","messages":[{"role":"user","content":"burst {}"}]}' \
		"$(base_url)/v1/chat/completions" 3>&- &
	burst_pid=$!
}

# The whole summary of the last 30 days but the quantiles' fine print.
figures() {
	api GET /v1/admin/analytics/summary "" "$(admin_token)"
	[[ $status_code == 200 ]] || return 1
	jq -c '.last_30_days' <<<"$body"
}

@test "kill -9 in the middle of a burst: every event counted exactly once" {
	local pid n=300 i got=0
	new_user "kim"
	burst "$access_token" "$n"
	# until analyticsd has some of the burst, but not all of it
	for ((i = 0; i < 200; i++)); do
		got=$(analytics_totals "$user_id" | cut -d' ' -f1)
		((got > 0)) && break
		sleep 0.05
	done
	pid=$(daemon_pid analyticsd)
	kill -9 "$pid"
	# it died with part of the burst counted
	((got > 0 && got < n)) || { echo "counted $got of $n" >&2; false; }
	while process_alive "$pid"; do sleep 0.05; done
	while process_alive "$burst_pid"; do sleep 0.1; done
	start_daemon analyticsd
	wait_totals "$user_id" "$n" 60
	# each generation's events once in the inbox: started, its first
	# token, and its end
	run -0 db_query analyticsd "SELECT COUNT(*), COUNT(DISTINCT id) FROM inbox
		WHERE event LIKE '%\"userid\":\"$user_id\"%'
		AND event LIKE '%chat.generation.%'"
	[[ $output == "$((3 * n))|$((3 * n))" ]] || { echo "inbox: $output" >&2; false; }
}

@test "POST /v1/admin/analytics/rebuild gives the same totals" {
	local before
	new_user "rob"
	generate "$access_token"
	generate "$access_token"
	wait_totals "$user_id" 2
	before=$(figures)
	# rollups damaged by hand: the rebuild must recompute them
	db_query analyticsd "DELETE FROM usage_daily; DELETE FROM active; DELETE FROM daily"
	[[ $(figures) != "$before" ]] || false
	api POST /v1/admin/analytics/rebuild "" "$(admin_token)"
	expect_status 202
	[[ $(jb .rebuilding) == true ]] || false
	[[ $(figures) == "$before" ]] || { echo "before: $before, after: $(figures)" >&2; false; }
}

@test "analyticsd --rebuild gives the same totals" {
	local before pid
	new_user "reba"
	generate "$access_token"
	wait_totals "$user_id" 1
	before=$(figures)
	stop_daemon analyticsd
	db_query analyticsd "DELETE FROM usage_daily; DELETE FROM usage_hist; DELETE FROM active"
	"${CHAT_BIN:-$CHAT_ROOT/bin}/analyticsd" --rebuild >>"$CHAT_DATA_DIR/log/analyticsd.log" 2>&1 3>&- &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ $(figures || true) == "$before" ]] && break
		sleep 0.1
	done
	kill "$pid"
	while process_alive "$pid"; do sleep 0.1; done
	start_daemon analyticsd
	[[ $(figures) == "$before" ]] || { echo "before: $before, after: $(figures)" >&2; false; }
	grep -q 'rollups rebuilt' "$CHAT_DATA_DIR/log/analyticsd.log" || false
}

# The admin usage totals of every user, model by model.
all_totals() {
	api GET "/v1/admin/analytics/usage?group_by=model" "" "$(admin_token)"
	[[ $status_code == 200 ]] || return 1
	jq -c .totals <<<"$body"
}

# The admin usage totals of every user, from the per-user rows.
user_totals() {
	api GET "/v1/admin/analytics/usage?group_by=user" "" "$(admin_token)"
	[[ $status_code == 200 ]] || return 1
	jq -c .totals <<<"$body"
}

@test "an erased user's counts stay, without a trace of them, also rebuilt" {
	local uid before users_before t n
	new_user "erin-erased"
	uid=$user_id
	generate "$access_token"
	generate "$access_token"
	wait_totals "$uid" 2
	before=$(all_totals)
	users_before=$(user_totals)
	api DELETE /v1/admin/users/erin-erased "" "$(admin_token)"
	expect_status 204
	for ((i = 0; i < 100; i++)); do
		n=$(db_query analyticsd "SELECT COUNT(*) FROM erased WHERE user_id = '$uid'")
		[[ $n == 1 ]] && break
		sleep 0.1
	done
	[[ $n == 1 ]] || false
	# nothing names her: no rollup row, no kept event
	for t in usage_daily usage_user_daily usage_errors usage_hist active inbox; do
		run -0 db_query analyticsd "SELECT COUNT(*) FROM $t WHERE user_id = '$uid'"
		[[ $output == 0 ]] || { echo "$t: $output" >&2; false; }
	done
	run -0 db_query analyticsd "SELECT COUNT(*) FROM inbox
		WHERE event LIKE '%$uid%' OR event LIKE '%erin-erased%'"
	[[ $output == 0 ]] || false
	# what she did still counts, as nobody's
	[[ $(all_totals) == "$before" ]] || { echo "before: $before, after: $(all_totals)" >&2; false; }
	# the per-day rows of users: hers went to user '' too
	[[ $(user_totals) == "$users_before" ]] || { echo "by user: $(user_totals)" >&2; false; }
	api POST /v1/admin/analytics/rebuild "" "$(admin_token)"
	expect_status 202
	[[ $(all_totals) == "$before" ]] || { echo "rebuilt: $(all_totals)" >&2; false; }
	[[ $(user_totals) == "$users_before" ]] || { echo "rebuilt by user: $(user_totals)" >&2; false; }
	run -0 db_query analyticsd "SELECT COUNT(*) FROM usage_daily WHERE user_id = '$uid'"
	[[ $output == 0 ]] || false
}

@test "a producer down for a while: analyticsd catches up when it is back" {
	local pid
	new_user "dora"
	generate "$access_token"
	wait_totals "$user_id" 1
	pid=$(daemon_pid analyticsd)
	stop_daemon aid
	# long enough for the backoff to grow past its first steps
	sleep 3
	start_daemon aid
	generate "$access_token"
	generate "$access_token"
	wait_totals "$user_id" 3 30
	# the same process throughout: it waited, it did not fall over
	process_alive "$pid"
	[[ $(daemon_pid analyticsd) == "$pid" ]] || false
}

@test "a store from before the per-day rollups gets them filled from its rows" {
	local before t
	new_user "mona"
	generate "$access_token"
	wait_totals "$user_id" 1
	before=$(figures)$(all_totals)$(user_totals)
	# as a store of migration 1 was: no per-day tables
	stop_daemon analyticsd
	for t in usage_model_daily usage_user_daily usage_errors_daily usage_hist_daily; do
		db_query analyticsd "DROP TABLE $t"
	done
	db_query analyticsd "DELETE FROM schema_migrations WHERE version = 2"
	start_daemon analyticsd
	[[ $(figures)$(all_totals)$(user_totals) == "$before" ]] ||
		{ echo "before: $before, after: $(figures)$(all_totals)$(user_totals)" >&2; false; }
	run -0 db_query analyticsd "SELECT SUM(requests) FROM usage_user_daily WHERE user_id = '$user_id'"
	[[ $output == 1 ]] || false
}
