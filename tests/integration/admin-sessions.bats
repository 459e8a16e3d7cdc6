#!/usr/bin/env bats
# The admin routes of sessions (sessiond) and API keys (userd) through
# the gateway: GET /v1/admin/sessions?user=, DELETE
# /v1/admin/sessions/{id}, GET /v1/admin/apikeys?user=, DELETE
# /v1/admin/apikeys/{id}.  A revoked session or key stops working at
# once through the gateway that passed the DELETE; admins only.

setup_file() {
	load test_helper
	start_stack
	register_user root
	echo "root_id=$user_id" >"$BATS_FILE_TMPDIR/ids"
	register_user plain
	register_user alice
	echo "alice_id=$user_id" >>"$BATS_FILE_TMPDIR/ids"
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

teardown() {
	# a test that failed with sessiond frozen must not leave it so
	local f=$BATS_FILE_TMPDIR/sessiond.stopped
	if [[ -s $f ]]; then
		kill -CONT "$(<"$f")" 2>/dev/null || true
		rm -f "$f"
	fi
}

live_sessions() {
	db_query sessiond "SELECT id FROM sessions WHERE revoked_at IS NULL ORDER BY id"
}

live_keys() {
	db_query userd "SELECT id FROM api_keys WHERE revoked_at IS NULL ORDER BY id"
}

@test "an admin lists the live sessions of a user, or of everyone" {
	local token first second
	login_user alice
	first=$session_id
	login_user alice
	second=$session_id
	api POST /v1/auth/logout "" "$access_token"
	login_user alice
	token=$(root_token)
	api GET "/v1/admin/sessions?user=$alice_id" "" "$token"
	expect_status 200
	# live ones only, newest first, each with its user
	[[ $(jq -r '[.data[].id] | .[1:] | join(" ")' <<<"$body") == "$first" ]] || false
	[[ $(jq -r '.data[0].id' <<<"$body") == "$session_id" ]] || false
	[[ $(jq -r '[.data[].user_id] | unique | join(" ")' <<<"$body") == "$alice_id" ]] || false
	[[ $(jq -c '.data[0] | keys' <<<"$body") == '["created_at","expires_at","id","ip","last_used_at","user_agent","user_id"]' ]] || false
	[[ $(jb .next_cursor) == null ]] || false
	[[ $body != *"$second"* ]] || false
	# the user's id in any case
	api GET "/v1/admin/sessions?user=${alice_id^^}" "" "$token"
	[[ $(jq '.data | length' <<<"$body") == 2 ]] || false
	# everyone's: root's too
	api GET /v1/admin/sessions "" "$token"
	expect_status 200
	[[ $(jq -r --arg r "$root_id" '[.data[] | select(.user_id == $r)] | length > 0' <<<"$body") == true ]] || false
	[[ $(jq '.data | length' <<<"$body") == $(live_sessions | wc -l) ]] || false
}

@test "session pages follow the cursor" {
	local token cursor all=() paged=()
	# a session of alice's besides root's, so that there are two pages
	# when the test runs alone (bats -f) too
	login_user alice
	token=$(root_token)
	api GET /v1/admin/sessions "" "$token"
	all=($(jq -r '.data[].id' <<<"$body"))
	((${#all[@]} >= 2)) || false
	api GET "/v1/admin/sessions?limit=1" "" "$token"
	paged+=($(jq -r '.data[].id' <<<"$body"))
	cursor=$(jb .next_cursor)
	while [[ $cursor != null ]]; do
		api GET "/v1/admin/sessions?limit=1&cursor=$cursor" "" "$token"
		expect_status 200
		paged+=($(jq -r '.data[].id' <<<"$body"))
		cursor=$(jb .next_cursor)
	done
	[[ ${paged[*]} == "${all[*]}" ]] || false
}

@test "an admin revokes a session: its access token stops at once" {
	local token other victim refresh
	login_user alice
	other=$access_token
	login_user alice
	victim=$session_id
	refresh=$refresh_token
	token=$(root_token)
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	api DELETE "/v1/admin/sessions/$victim" "" "$token"
	expect_status 204
	# no waiting: this gateway refuses it before the 204 reaches us
	api GET /v1/users/me "" "$access_token"
	expect_error 401 session_revoked
	api POST /v1/auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[[ $status_code == 401 ]] || false
	# the user's other session lives on
	api GET /v1/users/me "" "$other"
	expect_status 200
	api DELETE "/v1/admin/sessions/$victim" "" "$token"
	expect_error 404 not_found
}

@test "unknown sessions answer 404, bad queries 400, changing nothing" {
	local token before q
	token=$(root_token)
	before=$(live_sessions)
	for q in 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b not-a-uuid; do
		api DELETE "/v1/admin/sessions/$q" "" "$token"
		expect_error 404 not_found
	done
	for q in user=alice user= user=0194b7f0 limit=0 limit=101 cursor=AAAA; do
		api GET "/v1/admin/sessions?$q" "" "$token"
		expect_error 400 invalid_field
	done
	[[ $(live_sessions) == "$before" ]] || false
}

@test "an admin lists API keys, never their secrets" {
	local token key
	login_user alice
	token=$access_token
	api POST /v1/apikeys '{"name":"one"}' "$token"
	key=$(jb .key)
	api POST /v1/apikeys '{"name":"two","scopes":["read"]}' "$token"
	api GET "/v1/admin/apikeys?user=$alice_id" "" "$(root_token)"
	expect_status 200
	[[ $(jq -r '[.data[] | .name] | join(" ")' <<<"$body") == "two one" ]] || false
	[[ $(jq -r '[.data[].user_id] | unique | join(" ")' <<<"$body") == "$alice_id" ]] || false
	[[ $(jq -c '.data[0] | keys' <<<"$body") == '["created_at","expires_at","id","last_used_at","name","prefix","scopes","user_id"]' ]] || false
	[[ $body != *"$key"* && $body != *key_hash* ]] || false
	[[ $(jq -c '.data[0].scopes' <<<"$body") == '["read"]' ]] || false
	api GET /v1/admin/apikeys "" "$(root_token)"
	expect_status 200
	[[ $(jq '.data | length' <<<"$body") == $(live_keys | wc -l) ]] || false
}

@test "an admin revokes an API key: it stops at once" {
	local key id
	login_user alice
	key=$(new_key "$access_token")
	api GET /v1/users/me "" "$key"
	expect_status 200
	api GET "/v1/admin/apikeys?user=$alice_id&limit=1" "" "$(root_token)"
	id=$(jq -r '.data[0].id' <<<"$body")
	api DELETE "/v1/admin/apikeys/$id" "" "$(root_token)"
	expect_status 204
	# the gateway's cache of verified keys was emptied by the 204
	api GET /v1/users/me "" "$key"
	expect_error 401 invalid_token
	api DELETE "/v1/admin/apikeys/$id" "" "$(root_token)"
	expect_error 404 not_found
	api GET "/v1/admin/apikeys?user=$alice_id" "" "$(root_token)"
	[[ $body != *"$id"* ]] || false
}

@test "a revoked key stops through this gateway even before the feed says so" {
	local key id token
	login_user alice
	key=$(new_key "$access_token")
	api GET /v1/users/me "" "$key"
	expect_status 200		# now in the gateway's key cache
	token=$(root_token)
	api GET "/v1/admin/apikeys?user=$alice_id&limit=1" "" "$token"
	id=$(jq -r '.data[0].id' <<<"$body")
	# sessiond frozen: the feed cannot tell the gateway (userd's call to
	# it times out, and the key is revoked in userd's store all the same)
	daemon_pid sessiond >"$BATS_FILE_TMPDIR/sessiond.stopped"
	kill -STOP "$(daemon_pid sessiond)"
	api DELETE "/v1/admin/apikeys/$id" "" "$token"
	expect_status 204
	api GET /v1/users/me "" "$key"
	kill -CONT "$(<"$BATS_FILE_TMPDIR/sessiond.stopped")"
	rm -f "$BATS_FILE_TMPDIR/sessiond.stopped"
	expect_error 401 invalid_token
}

@test "unknown keys answer 404, bad queries 400, changing nothing" {
	local token before q
	token=$(root_token)
	before=$(live_keys)
	for q in 0194b7f0-52c1-7d2e-9a4b-3c5d6e7f8a9b not-a-uuid; do
		api DELETE "/v1/admin/apikeys/$q" "" "$token"
		expect_error 404 not_found
	done
	for q in user=alice user= limit=0 cursor=AAAA; do
		api GET "/v1/admin/apikeys?$q" "" "$token"
		expect_error 400 invalid_field
	done
	[[ $(live_keys) == "$before" ]] || false
}

@test "only admins may use these routes" {
	local sid kid before_s before_k
	login_user alice
	sid=$session_id
	kid=$(new_key "$access_token" >/dev/null && jb .id)
	before_s=$(live_sessions)
	before_k=$(live_keys)
	expect_admins_only GET "/v1/admin/sessions?user=$alice_id"
	expect_admins_only DELETE "/v1/admin/sessions/$sid"
	expect_admins_only GET /v1/admin/apikeys
	expect_admins_only DELETE "/v1/admin/apikeys/$kid"
	# (expect_admins_only makes keys and logs in: compare the victims)
	[[ $(live_sessions) == *"$sid"* && $(live_keys) == *"$kid"* ]] || false
	[[ -n $before_s && -n $before_k ]] || false
}
