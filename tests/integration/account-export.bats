#!/usr/bin/env bats
# GET /v1/users/me/export: the whole account as one JSON document (the
# right of access): profile and preferences, every conversation with its
# whole branched tree, the sessions and the API keys as metadata, and
# never a secret (no key, key hash, refresh token or password hash) nor
# another user's data.  A service that is down gives a clear 5xx, never
# a partial document.

setup_file() {
	load test_helper
	start_stack "[aid]" "echo_delay_ms = 0" || return 1
	register_user root || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# send TOKEN CONV JSON: a message, answered without streaming; sets
# user_mid and asst_mid.
send() {
	api POST "/v1/conversations/$2/messages" "$3" "$1"
	expect_status 201 || expect_status 200 || return 1
	user_mid=$(jb .user_message.id)
	asst_mid=$(jb .assistant_message.id)
}

# export_to FILE TOKEN: the export into FILE; status in $status_code.
export_to() {
	status_code=$(curl -s --max-time 30 -o "$1" -D "$1.headers" \
		-w '%{http_code}' -H "Authorization: Bearer $2" \
		"$(base_url)/v1/users/me/export")
}

@test "the export holds the profile, a branched tree, sessions and keys, and no secret" {
	new_user ada
	ada=$access_token
	ada_id=$user_id
	ada_refresh=$refresh_token
	login_user ada	# a second session
	api PATCH /v1/users/me '{"display_name":"Ada L","preferences":{"theme":"dark"}}' "$ada"
	expect_status 200
	api POST /v1/apikeys '{"name":"live key"}' "$ada"
	expect_status 201
	live_key=$(jb .key)
	api POST /v1/apikeys '{"name":"old key"}' "$ada"
	expect_status 201
	old_key=$(jb .key)
	api DELETE "/v1/apikeys/$(jb .id)" "" "$ada"
	expect_status 204

	# a tree: q1 -> a1, then a second answer to q1 and a second root
	api POST /v1/conversations '{"title":"Tree"}' "$ada"
	expect_status 201
	conv=$(jb .id)
	send "$ada" "$conv" '{"content":"first question","model":"echo"}'
	q1=$user_mid
	send "$ada" "$conv" "$(jq -nc --arg p "$q1" '{content: "a branch", parent_id: $p, model: "echo"}')"
	send "$ada" "$conv" '{"content":"another root","parent_id":null,"model":"echo"}'
	api POST /v1/conversations '{"title":"Second"}' "$ada"
	expect_status 201
	conv2=$(jb .id)

	# someone else's data must stay out
	new_user bob
	bob=$access_token
	api POST /v1/conversations '{"title":"Bob secret title"}' "$bob"
	expect_status 201
	bob_conv=$(jb .id)
	send "$bob" "$bob_conv" '{"content":"bob private words","model":"echo"}'
	api POST /v1/apikeys '{"name":"bob key"}' "$bob"
	expect_status 201

	out=$BATS_TEST_TMPDIR/export.json
	export_to "$out" "$ada"
	[[ $status_code == 200 ]] || { cat "$out" >&2; false; }
	grep -qi '^content-disposition: attachment' "$out.headers"
	jq -e . "$out" >/dev/null

	# profile and preferences
	[[ $(jq -r .format "$out") == chat-account-export/1 ]] || false
	[[ $(jq -r .user.id "$out") == "$ada_id" ]] || false
	[[ $(jq -r .user.display_name "$out") == "Ada L" ]] || false
	[[ $(jq -r .user.preferences.theme "$out") == dark ]] || false

	# both conversations; the tree whole: 2 roots, q1 with 2 children
	[[ $(jq '.conversations | length' "$out") == 2 ]] || false
	jq -e --arg c "$conv2" '.conversations[] | select(.id == $c and .title == "Second" and .messages == [])' "$out" >/dev/null
	tree=$(jq -c --arg c "$conv" '.conversations[] | select(.id == $c)' "$out")
	[[ $(jq -r .title <<<"$tree") == Tree ]] || false
	[[ $(jq '.messages | length' <<<"$tree") == 6 ]] || false
	[[ $(jq '[.messages[] | select(.parent_id == null)] | length' <<<"$tree") == 2 ]] || false
	[[ $(jq --arg p "$q1" '[.messages[] | select(.parent_id == $p)] | length' <<<"$tree") == 2 ]] || false
	[[ $(jq -r '.messages[0].content' <<<"$tree") == "first question" ]] || false
	# every parent is in the export
	jq -e '[.messages[].id] as $ids | all(.messages[]; .parent_id == null or (.parent_id as $p | $ids | index($p)))' <<<"$tree" >/dev/null

	# sessions: both of ada's, metadata only
	[[ $(jq '.sessions | length' "$out") == 2 ]] || false
	jq -e '.sessions | all(.[]; has("id") and has("user_agent") and has("ip") and has("created_at") and has("expires_at") and has("revoked_at"))' "$out" >/dev/null
	# keys: the live one and the revoked one, never their secrets
	[[ $(jq -r '[.api_keys[].name] | sort | join(",")' "$out") == "live key,old key" ]] || false
	[[ $(jq -r '.api_keys[] | select(.name == "old key") | .revoked_at' "$out") != null ]] || false
	[[ $(jq -r '.api_keys[] | select(.name == "live key") | .revoked_at' "$out") == null ]] || false

	# no secret: not the keys, their hashes, the refresh token, the
	# password hash; nothing of bob's
	for s in "$live_key" "$old_key" "$ada_refresh" '$argon2' \
		"$(db_query userd "SELECT key_hash FROM api_keys WHERE name = 'live key'")" \
		"$(db_query userd "SELECT key_hash FROM api_keys WHERE name = 'old key'")" \
		"$(db_query userd "SELECT password_hash FROM users WHERE username_key = 'ada'")" \
		"$bob_conv" "Bob secret title" "bob private words" "bob key"; do
		[[ -n $s ]] || false
		run ! grep -qF -- "$s" "$out"
	done
	run ! jq -e '.. | objects | select(has("key_hash") or has("password_hash") or has("refresh_token") or has("key"))' "$out"
}

@test "an API key cannot export the account" {
	new_user kit
	api POST /v1/apikeys '{"name":"k"}' "$access_token"
	expect_status 201
	api GET /v1/users/me/export "" "$(jb .key)"
	expect_error 403 interactive_login_required
}

@test "a user without anything exports empty lists" {
	new_user nil
	out=$BATS_TEST_TMPDIR/export.json
	export_to "$out" "$access_token"
	[[ $status_code == 200 ]] || false
	jq -e '.conversations == [] and .api_keys == [] and (.sessions | length) == 1' "$out" >/dev/null
}

@test "a dead chatd gives 503, not a partial document" {
	new_user dee
	token=$access_token
	stop_daemon chatd
	api GET /v1/users/me/export "" "$token"
	start_daemon chatd
	expect_error 503 upstream_unavailable
	[[ $(jb '.conversations // "none"') == none ]] || false
}

@test "a dead sessiond gives 503, not a partial document" {
	new_user sid
	token=$access_token
	stop_daemon sessiond
	api GET /v1/users/me/export "" "$token"
	start_daemon sessiond
	expect_error 503 upstream_unavailable
	[[ $(jb '.user // "none"') == none ]] || false
}

@test "more sessions than the ceiling: 507, not a document without some" {
	new_user many
	token=$access_token
	now=$(date +%s%3N)
	db_query sessiond "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
		SELECT i + 1 FROM n WHERE i < 10000)
		INSERT INTO sessions (id, user_id, user_agent, ip, created_at,
			last_used_at, expires_at, revoked_at, revoke_reason)
		SELECT '01b00000-0000-7000-8000-' || (100000000000 + i),
			'$user_id', 'seeded', '127.0.0.1', $now, $now,
			$now + 86400000, $now, 'revoked' FROM n"
	# 10001 rows with the login's own
	api GET /v1/users/me/export "" "$token"
	expect_error 507 export_too_large
	[[ $(jb '.user // "none"') == none ]] || false
	# one fewer is exported whole
	db_query sessiond "DELETE FROM sessions
		WHERE id = '01b00000-0000-7000-8000-100000000001'"
	out=$BATS_TEST_TMPDIR/export.json
	export_to "$out" "$token"
	[[ $status_code == 200 ]] || false
	[[ $(jq '.sessions | length' "$out") == 10000 ]] || false
}
