#!/usr/bin/env bats
# registration = closed: the very first account may still register (and
# becomes admin); every later one is refused and nothing is stored.

# The first account registers here, its answer kept for the test that
# checks it, so that each test can also run alone (bats -f): the later
# registrations it refuses are later ones only after it.
setup_file() {
	load test_helper
	start_stack "[userd]" "registration = closed"
	register_user root
	echo "$body" >"$BATS_FILE_TMPDIR/root.json"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

stored_users() {
	db_query userd "SELECT id, username, role, disabled FROM users ORDER BY id"
}

@test "the first account registers and is admin" {
	body=$(<"$BATS_FILE_TMPDIR/root.json")
	[[ $(jb .user.username) == root && $(jb .user.role) == admin ]] || false
	login_user root
}

@test "later registrations are refused with registration_closed" {
	local before name
	before=$(stored_users)
	for name in alice bob ROOT; do
		api POST /v1/auth/register "{\"username\":\"$name\",\"password\":\"password-$name\"}"
		expect_error 403 registration_closed
	done
	[[ $(stored_users) == "$before" ]] || false
	run -0 db_query userd "SELECT COUNT(*) FROM users"
	[[ $output == 1 ]] || false
	api POST /v1/auth/login '{"username":"alice","password":"password-alice"}'
	expect_error 401 invalid_credentials
}

@test "input errors still come before the closed check" {
	api POST /v1/auth/register '{"username":"x","password":"password-x"}'
	expect_error 400 invalid_username
	api POST /v1/auth/register '{"username":'
	expect_error 400 invalid_json
}
