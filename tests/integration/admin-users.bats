#!/usr/bin/env bats
# GET /v1/admin/users and PATCH /v1/admin/users/{id} through the gateway:
# admins only, cursor pages newest first, role and disabled changes, the
# last enabled admin kept, and bad requests that change nothing.

# The accounts every test uses, registered once here so that each test can
# also run alone (bats -f): root first (the first account is the admin),
# then the others; their ids go to a file that setup reads.
setup_file() {
	local u
	load test_helper
	start_stack
	register_user root
	echo "root_id=$user_id" >"$BATS_FILE_TMPDIR/ids"
	for u in alice bob carol dave erin; do
		register_user "$u"
		echo "${u}_id=$user_id" >>"$BATS_FILE_TMPDIR/ids"
	done
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/ids"
}

stored_users() {
	db_query userd "SELECT id, username, role, disabled, updated_at FROM users ORDER BY id"
}

# expect_patch_refused ID BODY TOKEN STATUS CODE
expect_patch_refused() {
	local before
	before=$(stored_users)
	api PATCH "/v1/admin/users/$1" "$2" "$3"
	expect_error "$4" "$5"
	[[ $(stored_users) == "$before" ]] || false
}

# as_old_admin USER-ID METHOD PATH [BODY]: a call straight to userd as
# the gateway would pass on an earlier token of USER-ID that still says
# "admin" (the gateway itself refuses such tokens once the revocation
# reached it; userd must not rely on that).  Sets status_code and body.
as_old_admin() {
	local out=$BATS_TEST_TMPDIR/direct.body
	status_code=$(curl -s -o "$out" -w '%{http_code}' -X "$2" \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		-H "X-Chat-User-Id: $1" -H 'X-Chat-Role: admin' \
		-H "X-Chat-Session-Id: 00000000-0000-7000-8000-000000000001" \
		${4:+-H 'Content-Type: application/json' --data-binary "$4"} \
		"http://127.0.0.1:$((CHAT_PORT + 1))$3") || status_code=000
	body=$(<"$out")
}

# old_admin_refused USER-ID ID BODY: as_old_admin's PATCH is refused
# with 403 forbidden and changes nothing.
old_admin_refused() {
	local before
	before=$(stored_users)
	as_old_admin "$1" PATCH "/v1/admin/users/$2" "$3"
	expect_error 403 forbidden
	[[ $(stored_users) == "$before" ]] || false
}

# token_revoked TOKEN: within a second the gateway refuses TOKEN.
token_revoked() {
	local i
	for ((i = 0; i < 50; i++)); do
		api GET /v1/users/me "" "$1"
		[[ $status_code == 401 ]] && break
		sleep 0.02
	done
	expect_error 401 session_revoked
}

# root_token: a fresh access token of root (roles may have changed).
root_token() {
	login_user root >/dev/null
	echo "$access_token"
}

@test "an admin lists every user, newest first" {
	api GET /v1/admin/users "" "$(root_token)"
	expect_status 200
	[[ $(jq -c '[.data[].username]' <<<"$body") == '["erin","dave","carol","bob","alice","root"]' ]] || false
	[[ $(jb .next_cursor) == null ]] || false
	[[ $(jq -c '.data[5] | del(.id, .created_at, .updated_at)' <<<"$body") == '{"username":"root","role":"admin","disabled":false,"display_name":null,"email":null,"email_verified":false,"preferences":{"default_model":null,"system_prompt":null,"theme":null}}' ]] || false
	[[ $(jq -r '[.data[] | has("password_hash")] | any' <<<"$body") == false ]] || false
}

@test "pages follow the cursor to the end" {
	local token cursor names=()
	token=$(root_token)
	api GET "/v1/admin/users?limit=4" "" "$token"
	expect_status 200
	names+=($(jq -r '.data[].username' <<<"$body"))
	cursor=$(jb .next_cursor)
	[[ $cursor =~ ^[A-Za-z0-9_-]+$ ]] || false
	api GET "/v1/admin/users?limit=4&cursor=$cursor" "" "$token"
	expect_status 200
	names+=($(jq -r '.data[].username' <<<"$body"))
	[[ $(jb .next_cursor) == null ]] || false
	[[ ${names[*]} == "erin dave carol bob alice root" ]] || false
	# a page that ends exactly at the last user has no cursor
	api GET "/v1/admin/users?limit=6" "" "$token"
	[[ $(jq '.data | length' <<<"$body") == 6 && $(jb .next_cursor) == null ]] || false
	api GET "/v1/admin/users?limit=1" "" "$token"
	[[ $(jq -c '[.data[].username]' <<<"$body") == '["erin"]' ]] || false
}

@test "bad limits and cursors are refused with invalid_field" {
	local token q
	token=$(root_token)
	for q in limit=0 limit=101 limit=-1 limit=abc limit=5x limit= \
		cursor=not-base64! cursor=AAAA "cursor=$(printf 'not a uuid at all, but 36 bytes!!!!!' | base64 -w0 | tr '+/' '-_' | tr -d '=')"; do
		api GET "/v1/admin/users?$q" "" "$token"
		expect_error 400 invalid_field
	done
}

@test "limit and cursor are read as every list route reads them (page.c)" {
	local token q
	token=$(root_token)
	# digits only: strtol alone would take a sign or a blank
	for q in limit=%2B5 limit=%205 limit=5%20 limit=1.5 \
		limit=99999999999999999999; do
		api GET "/v1/admin/users?$q" "" "$token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'limit' must be an integer from 1 to 100" ]] || false
	done
	api GET "/v1/admin/users?cursor=AAAA" "" "$token"
	expect_error 400 invalid_field
	[[ $(jb .error.message) == "'cursor' is not a cursor this server gave" ]] || false
	# an empty cursor is the first page
	api GET "/v1/admin/users?cursor=&limit=1" "" "$token"
	expect_status 200
	[[ $(jq '.data | length' <<<"$body") == 1 ]] || false
}

@test "non-admins and anonymous callers are kept out" {
	login_user alice
	api GET /v1/admin/users "" "$access_token"
	expect_error 403 forbidden
	expect_patch_refused "$alice_id" '{"role":"admin"}' "$access_token" 403 forbidden
	expect_patch_refused "$bob_id" '{"disabled":true}' "$access_token" 403 forbidden
	api GET /v1/admin/users
	expect_error 401 unauthorized
	expect_patch_refused "$bob_id" '{"disabled":true}' "" 401 unauthorized
}

@test "an admin changes a role" {
	local token
	token=$(root_token)
	api PATCH "/v1/admin/users/$alice_id" '{"role":"admin"}' "$token"
	expect_status 200
	[[ $(jq -c '{id, username, role, disabled}' <<<"$body") == "{\"id\":\"$alice_id\",\"username\":\"alice\",\"role\":\"admin\",\"disabled\":false}" ]] || false
	login_user alice
	[[ $(jwt_claim "$access_token" role) == admin ]] || false
	api GET /v1/admin/users "" "$access_token"
	expect_status 200
	api PATCH "/v1/admin/users/$alice_id" '{"role":"guest"}' "$token"
	expect_status 200
	[[ $(jb .role) == guest ]] || false
	api PATCH "/v1/admin/users/$alice_id" '{"role":"user"}' "$token"
	expect_status 200
}

@test "an admin disables and enables an account" {
	local token
	token=$(root_token)
	login_user bob
	api PATCH "/v1/admin/users/$bob_id" '{"disabled":true}' "$token"
	expect_status 200
	[[ $(jb .disabled) == true && $(jb .role) == user ]] || false
	run -0 db_query sessiond "SELECT COUNT(*) FROM sessions WHERE user_id = '$bob_id' AND revoked_at IS NULL"
	[[ $output == 0 ]] || false
	api POST /v1/auth/login '{"username":"bob","password":"password-bob"}'
	expect_error 403 account_disabled
	api GET /v1/admin/users "" "$token"
	[[ $(jq -r --arg id "$bob_id" '.data[] | select(.id == $id) | .disabled' <<<"$body") == true ]] || false
	api PATCH "/v1/admin/users/$bob_id" '{"disabled":false}' "$token"
	expect_status 200
	[[ $(jb .disabled) == false ]] || false
	login_user bob
}

@test "role and disabled change together, and an empty PATCH changes nothing" {
	local token before
	token=$(root_token)
	api PATCH "/v1/admin/users/$carol_id" '{"role":"guest","disabled":true}' "$token"
	expect_status 200
	[[ $(jq -c '{role, disabled}' <<<"$body") == '{"role":"guest","disabled":true}' ]] || false
	before=$(stored_users)
	api PATCH "/v1/admin/users/$carol_id" '{}' "$token"
	expect_status 200
	[[ $(jq -c '{role, disabled}' <<<"$body") == '{"role":"guest","disabled":true}' ]] || false
	[[ $(stored_users) == "$before" ]] || false
	api PATCH "/v1/admin/users/$carol_id" '{"role":"user","disabled":false}' "$token"
	expect_status 200
}

@test "unknown and malformed user ids answer 404" {
	local token id
	token=$(root_token)
	for id in 01890000-0000-7000-8000-000000000000 not-a-uuid 42; do
		expect_patch_refused "$id" '{"role":"user"}' "$token" 404 not_found
	done
}

@test "bad bodies are refused and change nothing" {
	local token b
	token=$(root_token)
	for b in '{"role":"root"}' '{"role":"Admin"}' '{"role":""}' '{"role":5}' \
		'{"role":null}' '{"disabled":"yes"}' '{"disabled":1}' '{"disabled":null}' \
		'{"role":"admin","disabled":"no"}' '{"role":"superuser","disabled":true}'; do
		expect_patch_refused "$dave_id" "$b" "$token" 400 invalid_field
	done
	for b in '{"role":' '[]' 'true' '{"role":"admin\u0000"}'; do
		expect_patch_refused "$dave_id" "$b" "$token" 400 invalid_json
	done
	expect_patch_refused "$dave_id" "@$(big_json_file $((2 * 1024 * 1024)))" "$token" 413 payload_too_large
	printf '{"role":"admin\xff"}' >"$BATS_TEST_TMPDIR/bad.json"
	expect_patch_refused "$dave_id" "@$BATS_TEST_TMPDIR/bad.json" "$token" 400 invalid_json
}

@test "the last enabled admin can be neither demoted nor disabled" {
	local token
	token=$(root_token)
	expect_patch_refused "$root_id" '{"role":"user"}' "$token" 409 last_admin
	expect_patch_refused "$root_id" '{"disabled":true}' "$token" 409 last_admin
	expect_patch_refused "$root_id" '{"role":"guest","disabled":false}' "$token" 409 last_admin
	# a disabled admin does not count
	api PATCH "/v1/admin/users/$erin_id" '{"role":"admin","disabled":true}' "$token"
	expect_status 200
	expect_patch_refused "$root_id" '{"role":"user"}' "$token" 409 last_admin
	# with a second enabled admin the first may step down
	api PATCH "/v1/admin/users/$erin_id" '{"disabled":false}' "$token"
	expect_status 200
	api PATCH "/v1/admin/users/$root_id" '{"role":"user"}' "$token"
	expect_status 200
	login_user erin
	expect_patch_refused "$erin_id" '{"disabled":true}' "$access_token" 409 last_admin
	api PATCH "/v1/admin/users/$root_id" '{"role":"admin"}' "$access_token"
	expect_status 200
}

@test "a PATCH of a role is idempotent" {
	local token
	token=$(root_token)
	api PATCH "/v1/admin/users/$dave_id" '{"role":"user"}' "$token"
	expect_status 200
	[[ $(jb .role) == user ]] || false
	api PATCH "/v1/admin/users/$root_id" '{"role":"admin","disabled":false}' "$token"
	expect_status 200
	[[ $(jb .role) == admin ]] || false
}

@test "a demoted or disabled admin's earlier token does no admin work; the role change ends her sessions" {
	local root carol_tok carol_refresh
	root=$(root_token)
	api PATCH "/v1/admin/users/$carol_id" '{"role":"admin","disabled":false}' "$root"
	expect_status 200
	login_user carol
	carol_tok=$access_token carol_refresh=$refresh_token
	[[ $(jwt_claim "$carol_tok" role) == admin ]] || false
	api PATCH "/v1/admin/users/$carol_id" '{"role":"user"}' "$root"
	expect_status 200
	# her token still says admin: the gateway refuses it (her sessions
	# are revoked), and userd would too, as the store says "user"
	token_revoked "$carol_tok"
	expect_patch_refused "$root_id" '{"disabled":true}' "$carol_tok" 401 session_revoked
	old_admin_refused "$carol_id" "$root_id" '{"disabled":true}'
	old_admin_refused "$carol_id" "$carol_id" '{"role":"admin"}'
	as_old_admin "$carol_id" GET /v1/admin/users
	expect_error 403 forbidden
	# the role change revoked her sessions: the refresh token is dead
	api POST /v1/auth/refresh "$(jq -nc --arg t "$carol_refresh" '{refresh_token: $t}')"
	expect_error 401 invalid_refresh_token
	# the same for an admin who is disabled
	api PATCH "/v1/admin/users/$carol_id" '{"role":"admin"}' "$root"
	expect_status 200
	login_user carol
	carol_tok=$access_token
	api PATCH "/v1/admin/users/$carol_id" '{"disabled":true}' "$root"
	expect_status 200
	token_revoked "$carol_tok"
	old_admin_refused "$carol_id" "$carol_id" '{"disabled":false}'
	old_admin_refused "$carol_id" "$root_id" '{"disabled":true}'
	api PATCH "/v1/admin/users/$carol_id" '{"role":"user","disabled":false}' "$root"
	expect_status 200
}
