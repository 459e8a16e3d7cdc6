#!/usr/bin/env bats
# The admin routes of one account through the gateway: GET
# /v1/admin/users/{id} by id or username, the list's filters (?role=,
# ?disabled=, ?search=), POST /v1/admin/users (a given or a random
# password) and PUT /v1/admin/users/{id}/password (which ends the user's
# sessions).  Admins only; bad requests change nothing.

setup_file() {
	local u
	load test_helper
	start_stack
	register_user root
	echo "root_id=$user_id" >"$BATS_FILE_TMPDIR/ids"
	for u in plain Alice alfred bob; do
		register_user "$u"
		echo "${u,,}_id=$user_id" >>"$BATS_FILE_TMPDIR/ids"
	done
	api PATCH "/v1/admin/users/bob" '{"disabled":true}' "$(login_user root && echo "$access_token")"
	expect_status 200
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load admin-common
	source "$BATS_FILE_TMPDIR/ids"
}

stored_users() {
	db_query userd "SELECT id, username, role, disabled, password_hash, updated_at FROM users ORDER BY id"
}

# names QUERY: the usernames GET /v1/admin/users?QUERY lists, newest first.
names() {
	api GET "/v1/admin/users?$1" "" "$(root_token)"
	expect_status 200 || return 1
	jq -r '[.data[].username] | join(" ")' <<<"$body"
}

@test "a user is found by id or by username, in any case" {
	local token by_id
	token=$(root_token)
	api GET "/v1/admin/users/$alice_id" "" "$token"
	expect_status 200
	by_id=$body
	[[ $(jq -c '{id, username, role, disabled}' <<<"$by_id") == "{\"id\":\"$alice_id\",\"username\":\"Alice\",\"role\":\"user\",\"disabled\":false}" ]] || false
	[[ $(jq 'has("password_hash")' <<<"$by_id") == false ]] || false
	for ref in Alice alice ALICE "${alice_id^^}"; do
		api GET "/v1/admin/users/$ref" "" "$token"
		expect_status 200
		[[ $body == "$by_id" ]] || false
	done
	# a username shaped like an id is found when no id is it
	register_user 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9c
	api GET /v1/admin/users/0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9c "" "$token"
	expect_status 200
	[[ $(jb .id) == "$user_id" ]] || false
	api GET "/v1/admin/users/$user_id" "" "$token"
	[[ $(jb .username) == 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9c ]] || false
	api DELETE /v1/admin/users/0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9c "" "$token"
	expect_status 204
	# PATCH takes a name too
	api PATCH /v1/admin/users/alfred '{"role":"guest"}' "$token"
	expect_status 200
	[[ $(jb .id) == "$alfred_id" && $(jb .role) == guest ]] || false
	api PATCH /v1/admin/users/alfred '{"role":"user"}' "$token"
	expect_status 200
}

@test "unknown users answer 404" {
	local token ref
	token=$(root_token)
	for ref in nobody 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b x 'a%20b' \
		"$(printf 'a%.0s' {1..65})"; do
		api GET "/v1/admin/users/$ref" "" "$token"
		expect_error 404 not_found
		api PUT "/v1/admin/users/$ref/password" '{"password":"long-enough-1"}' "$token"
		expect_error 404 not_found
		api PATCH "/v1/admin/users/$ref" '{"role":"user"}' "$token"
		expect_error 404 not_found
	done
}

@test "the list filters by role, state and username text" {
	[[ $(names role=admin) == root ]] || false
	[[ $(names role=user) == "bob alfred Alice plain" ]] || false
	[[ $(names disabled=true) == bob ]] || false
	[[ $(names disabled=false) == "alfred Alice plain root" ]] || false
	[[ $(names search=AL) == "alfred Alice" ]] || false
	[[ $(names search=lic) == Alice ]] || false
	[[ $(names 'search=a&role=user&disabled=false') == "alfred Alice plain" ]] || false
	[[ $(names 'search=a&limit=1') == alfred ]] || false
	# LIKE's own characters are plain text
	[[ $(names search=%25) == "" ]] || false
	[[ $(names search=_) == "" ]] || false
	[[ $(names search=a_f) == "" ]] || false
	[[ $(names role=guest) == "" ]] || false
}

@test "filter pages follow the cursor with the same filter" {
	local token cursor
	token=$(root_token)
	api GET "/v1/admin/users?role=user&limit=2" "" "$token"
	[[ $(jq -r '[.data[].username] | join(" ")' <<<"$body") == "bob alfred" ]] || false
	cursor=$(jb .next_cursor)
	api GET "/v1/admin/users?role=user&limit=2&cursor=$cursor" "" "$token"
	[[ $(jq -r '[.data[].username] | join(" ")' <<<"$body") == "Alice plain" ]] || false
	[[ $(jb .next_cursor) == null ]] || false
}

@test "bad filters are refused with invalid_field" {
	local token q
	token=$(root_token)
	for q in role=king role= role=Admin disabled=yes disabled=1 disabled= \
		search= "search=$(printf 'a%.0s' {1..65})"; do
		api GET "/v1/admin/users?$q" "" "$token"
		expect_error 400 invalid_field
	done
}

@test "an admin creates an account with a password" {
	api POST /v1/admin/users '{"username":"carol","password":"carols-password","role":"guest"}' "$(root_token)"
	expect_status 201
	[[ $(jq -c '{user: (.user | {username, role, disabled}), password}' <<<"$body") == '{"user":{"username":"carol","role":"guest","disabled":false},"password":null}' ]] || false
	login_user carol carols-password
	[[ $(jwt_claim "$access_token" role) == guest ]] || false
}

@test "without a password a random one is made and shown once" {
	local pw
	api POST /v1/admin/users '{"username":"dave"}' "$(root_token)"
	expect_status 201
	[[ $(jq -r .user.role <<<"$body") == user ]] || false
	pw=$(jb .password)
	[[ $pw =~ ^[A-Za-z0-9_-]{24}$ ]] || false
	login_user dave "$pw"
	api GET /v1/admin/users/dave "" "$(root_token)"
	[[ $(jq 'has("password")' <<<"$body") == false ]] || false
	# another account, another password
	api POST /v1/admin/users '{"username":"dave2"}' "$(root_token)"
	expect_status 201
	[[ $(jb .password) != "$pw" ]] || false
}

@test "bad creations are refused and store nothing" {
	local token before body_ code
	token=$(root_token)
	before=$(stored_users)
	while IFS='|' read -r code body_; do
		api POST /v1/admin/users "$body_" "$token"
		expect_error "${code%% *}" "${code#* }"
	done <<'EOF_'
400 invalid_json|{"username":
400 invalid_json|[1,2]
400 invalid_field|{}
400 invalid_field|{"username":7}
400 invalid_field|{"username":"eve","role":"root"}
400 invalid_field|{"username":"eve","role":1}
400 invalid_field|{"username":"eve","password":12345678}
400 invalid_username|{"username":"e"}
400 invalid_username|{"username":"eve!"}
400 invalid_password|{"username":"eve","password":"short"}
409 username_taken|{"username":"ALICE","password":"long-enough"}
EOF_
	[[ $(stored_users) == "$before" ]] || false
}

@test "an admin sets a password: the old one stops, every session ends" {
	local token old_access old_refresh
	login_user alfred
	old_access=$access_token
	old_refresh=$refresh_token
	login_user alfred
	token=$(root_token)
	api PUT /v1/admin/users/alfred/password '{"password":"brand-new-pass"}' "$token"
	expect_status 204
	[[ -z $body ]] || false
	token_revoked "$old_access"
	token_revoked "$access_token"
	api POST /v1/auth/refresh "{\"refresh_token\":\"$old_refresh\"}"
	[[ $status_code == 401 ]] || false
	run -0 db_query sessiond "SELECT COUNT(*) FROM sessions WHERE user_id = '$alfred_id' AND revoked_at IS NULL"
	[[ $output == 0 ]] || false
	api POST /v1/auth/login '{"username":"alfred","password":"password-alfred"}'
	expect_error 401 invalid_credentials
	login_user alfred brand-new-pass
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	# by id as well
	api PUT "/v1/admin/users/$alfred_id/password" '{"password":"password-alfred"}' "$(root_token)"
	expect_status 204
	login_user alfred
}

@test "bad password bodies are refused and change nothing" {
	local token before body_ code
	token=$(root_token)
	before=$(stored_users)
	while IFS='|' read -r code body_; do
		api PUT /v1/admin/users/plain/password "$body_" "$token"
		expect_error "${code%% *}" "${code#* }"
	done <<'EOF_'
400 invalid_json|nope
400 invalid_field|{}
400 invalid_field|{"password":null}
400 invalid_field|{"password":123456789}
400 invalid_password|{"password":"short"}
EOF_
	[[ $(stored_users) == "$before" ]] || false
	login_user plain
}

@test "only admins may use these routes" {
	local before
	before=$(stored_users)
	expect_admins_only GET "/v1/admin/users/$alice_id"
	expect_admins_only GET "/v1/admin/users?role=admin"
	expect_admins_only POST /v1/admin/users '{"username":"mallory","password":"long-enough"}'
	expect_admins_only PUT /v1/admin/users/alice/password '{"password":"long-enough"}'
	[[ $(stored_users) == "$before" ]] || false
	login_user Alice
}
