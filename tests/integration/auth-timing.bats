#!/usr/bin/env bats
# Login costs the same for an unknown username as for a wrong password:
# both run one argon2id verification.  This stack uses a real argon2id
# cost (about 50 ms a hash) so the difference a skipped hash would make
# stands far above the noise of the measurement.

setup_file() {
	load test_helper
	start_stack "[auth]" "argon2_ops = 2" "argon2_mem_kib = 32768"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# login_ms USER PASSWORD: prints the milliseconds one failed login took.
login_ms() {
	local t
	t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H 'Content-Type: application/json' \
		--data "{\"username\":\"$1\",\"password\":\"$2\"}" "$(base_url)/v1/auth/login")
	awk -v t="$t" 'BEGIN { printf "%d\n", t * 1000 }'
}

# median of the arguments
median() {
	printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

@test "an unknown user takes as long as a wrong password" {
	local i wrong=() unknown=() w u
	register_user alice
	for i in 1 2 3 4; do
		# distinct usernames so that no lockout starts
		register_user "user$i"
		wrong+=("$(login_ms "user$i" wrong-password)")
		unknown+=("$(login_ms "nobody$i" wrong-password)")
	done
	w=$(median "${wrong[@]}")
	u=$(median "${unknown[@]}")
	echo "wrong password: ${wrong[*]} ms, unknown user: ${unknown[*]} ms" >&3
	# a verification must really happen, and both ways cost about the same
	((w >= 10)) || false
	((u * 2 >= w && w * 2 >= u)) || false
}
