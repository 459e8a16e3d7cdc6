#!/usr/bin/env bats
# sessiond's cron deletes sessions and refresh tokens that expired or were
# revoked more than a day ago, and keeps everything else.

setup_file() {
	load test_helper
	start_stack "[sessiond]" "cleanup_interval_s = 1"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

@test "old expired and revoked rows are deleted, live and recent ones kept" {
	local now day old
	now=$(($(date +%s) * 1000))
	day=$((24 * 3600 * 1000))
	old=$((now - 2 * day))
	local u=01900000-0000-7000-8000-0000000000c1
	# a: expired two days ago; b: revoked two days ago; c: revoked an hour
	# ago (kept); d: live
	db_query sessiond "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at) VALUES
		('01900000-0000-7000-8000-00000000000a', '$u', $old, $old, $old, NULL),
		('01900000-0000-7000-8000-00000000000b', '$u', $old, $old, $((now + day)), $old),
		('01900000-0000-7000-8000-00000000000c', '$u', $old, $old, $((now + day)), $((now - 3600000))),
		('01900000-0000-7000-8000-00000000000d', '$u', $old, $old, $((now + day)), NULL)"
	db_query sessiond "INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, expires_at, used_at) VALUES
		('ha', '01900000-0000-7000-8000-00000000000a', '$u', $old, $((now + day)), NULL),
		('hb', '01900000-0000-7000-8000-00000000000b', '$u', $old, $((now + day)), NULL),
		('hc', '01900000-0000-7000-8000-00000000000c', '$u', $old, $((now + day)), NULL),
		('hd', '01900000-0000-7000-8000-00000000000d', '$u', $old, $((now + day)), $old),
		('hx', '01900000-0000-7000-8000-00000000000d', '$u', $old, $old, $old)"

	for _ in $(seq 50); do
		[[ $(db_query sessiond 'SELECT count(*) FROM sessions') == 2 ]] && break
		sleep 0.1
	done
	run -0 db_query sessiond 'SELECT id FROM sessions ORDER BY id'
	[[ $output == $'01900000-0000-7000-8000-00000000000c\n01900000-0000-7000-8000-00000000000d' ]] || false
	run -0 db_query sessiond 'SELECT token_hash FROM refresh_tokens ORDER BY token_hash'
	[[ $output == $'hc\nhd' ]] || false
}
