#!/usr/bin/env bats
# A flood of registrations cannot starve signed-in users: anonymous
# password hashing runs on a small pool of its own whose queue answers
# 503 busy with Retry-After when full, while GET and PATCH
# /v1/users/me stay fast.  This stack uses a realistic argon2id cost
# (64 MiB, 3 passes) so that the flood is real work, and no registration
# limit per address (test_helper's default), so that only the queue
# stands in the flood's way.

# alice, the signed-in user, registered once here so that each test can
# also run alone (bats -f)
setup_file() {
	load test_helper
	start_stack "[auth]" "argon2_ops = 3" "argon2_mem_kib = 65536"
	register_user alice
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# timed METHOD PATH [BODY]: the seconds one call of the signed-in user
# took, on stdout; fails unless it answered 200.
timed() {
	local out
	local -a args=(-s -o /dev/null -w '%{http_code} %{time_total}' --max-time 20
		-X "$1" -H "Authorization: Bearer $access_token")
	[[ -n ${3-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	out=$(curl "${args[@]}" "$(base_url)$2")
	[[ ${out%% *} == 200 ]] || {
		echo "$1 $2 answered $out" >&2
		return 1
	}
	echo "${out#* }"
}

@test "a registration flood leaves /v1/users/me fast" {
	local i flood times=() slow statuses
	login_user alice
	for i in $(seq 1 100); do
		echo "$i"
	done | xargs -P 100 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
		--max-time 60 -X POST -H 'Content-Type: application/json' \
		--data-binary '{"username":"flood{}","password":"password-flood{}"}' \
		"$(base_url)/v1/auth/register" >"$BATS_TEST_TMPDIR/statuses" 3>&- &
	flood=$!
	sleep 0.3
	# the signed-in user's reads and writes while the flood runs
	for i in $(seq 1 10); do
		times+=("$(timed GET /v1/users/me)")
		times+=("$(timed PATCH /v1/users/me "{\"display_name\":\"Alice $i\"}")")
		sleep 0.1
	done
	wait "$flood"
	statuses=$(sort "$BATS_TEST_TMPDIR/statuses" | uniq -c | tr -s ' ')
	echo "flood: $statuses; /v1/users/me: ${times[*]} s" >&3
	# every call of the signed-in user well under a second (an unbounded
	# queue of argon2id work made them wait for seconds)
	slow=$(printf '%s\n' "${times[@]}" | awk '$1 >= 1.0' | wc -l)
	((slow == 0)) || false
	# the excess was refused at once, the rest registered
	[[ -z $(grep -v -E '^(201|503)$' "$BATS_TEST_TMPDIR/statuses") ]] || false
	(($(grep -c '^503$' "$BATS_TEST_TMPDIR/statuses") > 0)) || false
	(($(grep -c '^201$' "$BATS_TEST_TMPDIR/statuses") > 0)) || false
}

@test "a full hashing queue answers 503 busy with Retry-After" {
	local i
	for i in $(seq 1 40); do
		echo "$i"
	done | xargs -P 40 -I{} curl -s -o /dev/null -D "$BATS_TEST_TMPDIR/h{}" \
		--max-time 60 -X POST -H 'Content-Type: application/json' \
		--data-binary '{"username":"nobody{}","password":"wrong-password"}' \
		"$(base_url)/v1/auth/login"
	run -0 grep -l '^HTTP/1.1 503' "$BATS_TEST_TMPDIR"/h*
	headers=$(tr -d '\r' <"${lines[0]}")
	[[ $(header Retry-After) == 1 ]] || false
	# and the next login gets in once the queue has drained
	login_user alice
}
