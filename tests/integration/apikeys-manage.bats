#!/usr/bin/env bats
# API keys through the gateway: POST/GET /v1/apikeys, DELETE
# /v1/apikeys/{id}; keys shown once, stored hashed, usable as bearer
# tokens, dead at once when revoked or when their user is disabled;
# managed only from a signed-in session, never with a key; scopes and
# an expiry, and what userd's /internal/apikeys/verify tells the gateway.

# The accounts and alice's first key ("laptop script"), made once here so
# that each test can also run alone (bats -f): tokens and ids go to a file
# that setup reads, the key to another, and the answer that showed the key
# to a third for the test that checks it.
setup_file() {
	load test_helper
	start_stack
	register_user root
	login_user root
	echo "root_token=$access_token" >"$BATS_FILE_TMPDIR/tokens"
	new_user alice
	echo "alice_token=$access_token" >>"$BATS_FILE_TMPDIR/tokens"
	echo "alice_id=$user_id" >>"$BATS_FILE_TMPDIR/tokens"
	new_user bob
	echo "bob_token=$access_token" >>"$BATS_FILE_TMPDIR/tokens"
	echo "bob_id=$user_id" >>"$BATS_FILE_TMPDIR/tokens"
	source "$BATS_FILE_TMPDIR/tokens"
	create "$alice_token" "laptop script"
	echo "$body" >"$BATS_FILE_TMPDIR/alice_key.json"
	echo "$key" >"$BATS_FILE_TMPDIR/alice_key"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/tokens"
}

# The stored keys (without last_used_at, which use moves).
stored_keys() {
	db_query userd "SELECT id, user_id, name, prefix, key_hash, created_at,
		revoked_at FROM api_keys ORDER BY id"
}

# list TOKEN: GET /v1/apikeys into $body.
list() {
	api GET /v1/apikeys "" "$1"
	expect_status 200
}

# create TOKEN NAME: sets key and key_id.
create() {
	api POST /v1/apikeys "$(jq -nc --arg n "$2" '{name: $n}')" "$1"
	expect_status 201 || return 1
	key=$(jb .key)
	key_id=$(jb .id)
}

# second_key: alice's second key ("second"), made by the list test;
# made here when that test did not run (this one runs alone).
second_key() {
	local n
	n=$(db_query userd "SELECT COUNT(*) FROM api_keys
		WHERE user_id = '$alice_id' AND name = 'second'") || return 1
	[[ $n != 0 ]] || create "$alice_token" second
}

# verify KEY: userd's POST /internal/apikeys/verify as the gateway calls
# it; sets status_code and body.
verify() {
	local out tmp=$BATS_TEST_TMPDIR
	out=$(curl -s -o "$tmp/verify.body" -w '%{http_code}' --max-time 10 \
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")" \
		-H 'Content-Type: application/json' \
		--data-binary "$(jq -nc --arg k "$1" '{key: $k}')" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/apikeys/verify") || out=000
	status_code=$out
	body=$(cat "$tmp/verify.body" 2>/dev/null || true)
}

# ms ISO-TIME: unix milliseconds of an API timestamp.
ms() {
	echo $(($(date -u -d "$1" +%s%3N)))
}

# expect_refused TOKEN BODY STATUS CODE: POST refused, no key stored.
expect_refused() {
	local before
	before=$(stored_keys)
	api POST /v1/apikeys "$2" "$1"
	expect_error "$3" "$4"
	[[ $(stored_keys) == "$before" ]] || false
}

@test "a new key is shown once with its id, name and prefix" {
	# the answer to setup_file's POST
	body=$(<"$BATS_FILE_TMPDIR/alice_key.json")
	key=$(jb .key)
	key_id=$(jb .id)
	[[ $(jq -r 'keys | join(",")' <<<"$body") == created_at,expires_at,id,key,name,prefix,scopes ]] || false
	[[ $(jq -c '[.scopes, .expires_at]' <<<"$body") == '[["chat","read","admin"],null]' ]] || false
	[[ $key =~ ^chat_[A-Za-z0-9_-]{43}$ ]] || false
	[[ $(jb .prefix) == "${key:0:12}" && $(jb .name) == "laptop script" ]] || false
	[[ $key_id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || false
	[[ $(jb .created_at) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$ ]] || false
}

@test "only the key's SHA-256 is stored" {
	local key
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	run -0 db_query userd "SELECT key_hash, prefix FROM api_keys"
	[[ $output == "$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)|${key:0:12}" ]] || false
	run -0 db_query userd "SELECT COUNT(*) FROM api_keys WHERE key_hash = '$key' OR name = '$key'"
	[[ $output == 0 ]] || false
}

@test "the key authenticates as its user" {
	local key
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	api GET /v1/users/me "" "$key"
	expect_status 200
	[[ $(jb .id) == "$alice_id" ]] || false
	run -0 db_query userd "SELECT last_used_at IS NOT NULL FROM api_keys"
	[[ $output == 1 || $output == t ]] || false
}

@test "the list shows the caller's live keys without the secret" {
	local first
	first=$(<"$BATS_FILE_TMPDIR/alice_key")
	# used once (as "the key authenticates" does), so last_used_at is set
	api GET /v1/users/me "" "$first"
	expect_status 200
	create "$alice_token" second
	list "$alice_token"
	[[ $(jq -c '[.data[].name]' <<<"$body") == '["second","laptop script"]' ]] || false
	[[ $(jq -c '[.data[] | keys | join(",")] | unique' <<<"$body") == '["created_at,expires_at,id,last_used_at,name,prefix,scopes"]' ]] || false
	[[ $(jq -c '[.data[] | [.scopes, .expires_at]] | unique' <<<"$body") == '[[["chat","read","admin"],null]]' ]] || false
	[[ $(jb .next_cursor) == null ]] || false
	[[ $body != *"${key:5}"* && $body != *"${first:5}"* ]] || false
	[[ $(jq -r '.data[1].last_used_at' <<<"$body") != null ]] || false
	[[ $(jq -r '.data[0].last_used_at' <<<"$body") == null ]] || false
	list "$bob_token"
	[[ $body == '{"data":[],"next_cursor":null}' ]] || false
}

@test "a revoked key stops working at once and leaves the list" {
	local before
	second_key
	create "$alice_token" short-lived
	api GET /v1/users/me "" "$key"
	expect_status 200
	api DELETE "/v1/apikeys/$key_id" "" "$alice_token"
	expect_status 204
	[[ -z $body ]] || false
	api GET /v1/users/me "" "$key"
	expect_error 401 invalid_token
	list "$alice_token"
	[[ $(jq -c '[.data[].name]' <<<"$body") == '["second","laptop script"]' ]] || false
	before=$(stored_keys)
	api DELETE "/v1/apikeys/$key_id" "" "$alice_token"
	expect_error 404 not_found
	[[ $(stored_keys) == "$before" ]] || false
}

@test "another user's key cannot be revoked and keeps working" {
	local before key
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	second_key
	list "$alice_token"
	before=$(stored_keys)
	api DELETE "/v1/apikeys/$(jq -r '.data[1].id' <<<"$body")" "" "$bob_token"
	expect_error 404 not_found
	[[ $(stored_keys) == "$before" ]] || false
	api GET /v1/users/me "" "$key"
	expect_status 200
}

@test "unknown and malformed key ids answer 404" {
	local before id
	before=$(stored_keys)
	for id in 01890000-0000-7000-8000-000000000000 not-a-uuid 1 \
		"$(printf 'f%.0s' {1..200})"; do
		api DELETE "/v1/apikeys/$id" "" "$alice_token"
		expect_error 404 not_found
	done
	[[ $(stored_keys) == "$before" ]] || false
}

@test "names must be 1 to 128 bytes" {
	expect_refused "$alice_token" '{"name":""}' 400 invalid_field
	expect_refused "$alice_token" "$(jq -nc --arg n "$(printf 'n%.0s' {1..129})" '{name: $n}')" 400 invalid_field
	create "$alice_token" "$(printf 'n%.0s' {1..128})"
	api DELETE "/v1/apikeys/$key_id" "" "$alice_token"
	expect_status 204
}

@test "bad bodies are refused and store nothing" {
	local b f
	for b in '{"name":5}' '{"name":null}' '{"name":["x"]}' '{}' '{"label":"x"}'; do
		expect_refused "$alice_token" "$b" 400 invalid_field
	done
	for b in '{"name":' '[]' '"name"' '{"name":"a\u0000b"}'; do
		expect_refused "$alice_token" "$b" 400 invalid_json
	done
	f=$BATS_TEST_TMPDIR/bad.json
	printf '{"name":"\xf0\x28\x8c\x28"}' >"$f"
	expect_refused "$alice_token" "@$f" 400 invalid_json
	expect_refused "$alice_token" "@$(big_json_file $((2 * 1024 * 1024)))" 413 payload_too_large
}

@test "without a caller the key routes answer 401" {
	local before
	before=$(stored_keys)
	api POST /v1/apikeys '{"name":"anon"}'
	expect_error 401 unauthorized
	api GET /v1/apikeys
	expect_error 401 unauthorized
	api DELETE /v1/apikeys/01890000-0000-7000-8000-000000000000
	expect_error 401 unauthorized
	[[ $(stored_keys) == "$before" ]] || false
}

@test "an API key cannot make keys: 403 interactive_login_required" {
	local key before
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	list "$alice_token"
	before=$(jq '.data | length' <<<"$body")
	expect_refused "$key" '{"name":"made-by-key"}' 403 interactive_login_required
	[[ $(jb .error.message) == "this needs a signed-in session, not an API key" ]] || false
	list "$alice_token"
	[[ $(jq '.data | length' <<<"$body") == "$before" ]] || false
	[[ $(jq -r '[.data[].name] | index("made-by-key")' <<<"$body") == null ]] || false
	# refused before the body is even read
	expect_refused "$key" '{"name":' 403 interactive_login_required
	api GET /v1/users/me "" "$key"
	expect_status 200
}

@test "an API key cannot list or revoke keys" {
	local key before victim
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	second_key
	api GET /v1/apikeys "" "$key"
	expect_error 403 interactive_login_required
	list "$alice_token"
	victim=$(jq -r '.data[0].id' <<<"$body")
	before=$(stored_keys)
	api DELETE "/v1/apikeys/$victim" "" "$key"
	expect_error 403 interactive_login_required
	# its own id is no different
	api DELETE "/v1/apikeys/$(jq -r '.data[-1].id' <<<"$body")" "" "$key"
	expect_error 403 interactive_login_required
	[[ $(stored_keys) == "$before" ]] || false
	api GET /v1/users/me "" "$key"
	expect_status 200
}

@test "an API key cannot list or end sessions" {
	local key
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	login_user alice
	api GET /v1/sessions "" "$key"
	expect_error 403 interactive_login_required
	api DELETE "/v1/sessions/$session_id" "" "$key"
	expect_error 403 interactive_login_required
	# the session lives on, and its own token still manages it
	api GET /v1/sessions "" "$access_token"
	expect_status 200
	[[ $(jq -r --arg s "$session_id" '[.data[] | select(.id == $s)] | length' <<<"$body") == 1 ]] || false
	api POST /v1/auth/refresh "$(jq -nc --arg r "$refresh_token" '{refresh_token: $r}')"
	expect_status 200
	api DELETE "/v1/sessions/$session_id" "" "$(jb .access_token)"
	expect_status 204
}

@test "scopes and an expiry are stored, listed and handed to the gateway" {
	local created
	api POST /v1/apikeys '{"name":"limited","scopes":["read","chat"],"expires_in_days":30}' "$alice_token"
	expect_status 201
	key=$(jb .key)
	key_id=$(jb .id)
	# shown in table order, whatever the order asked
	[[ $(jq -c .scopes <<<"$body") == '["chat","read"]' ]] || false
	created=$(ms "$(jb .created_at)")
	[[ $(($(ms "$(jb .expires_at)") - created)) == $((30 * 86400000)) ]] || false
	run -0 db_query userd "SELECT scopes, expires_at - created_at FROM api_keys WHERE id = '$key_id'"
	[[ $output == "chat,read|$((30 * 86400000))" ]] || false
	list "$alice_token"
	[[ $(jq -c --arg id "$key_id" '.data[] | select(.id == $id) | .scopes' <<<"$body") == '["chat","read"]' ]] || false
	[[ $(ms "$(jq -r --arg id "$key_id" '.data[] | select(.id == $id) | .expires_at' <<<"$body")") == $((created + 30 * 86400000)) ]] || false
	# verify: the key's id, its scopes, its expiry in unix ms
	verify "$key"
	expect_status 200
	[[ $(jq -c '[.user_id, .key_id, .scopes, .expires_at, .session_id]' <<<"$body") == "[\"$alice_id\",\"$key_id\",[\"chat\",\"read\"],$((created + 30 * 86400000)),null]" ]] || false
	# a key without either: every scope, no expiry
	verify "$(<"$BATS_FILE_TMPDIR/alice_key")"
	expect_status 200
	[[ $(jq -c '[.scopes, .expires_at, (.key_id | length)]' <<<"$body") == '[["chat","read","admin"],null,36]' ]] || false
	api DELETE "/v1/apikeys/$key_id" "" "$alice_token"
	expect_status 204
}

@test "scopes must be known, distinct and not empty" {
	local s
	for s in '[]' '["bogus"]' '["chat","chat"]' '["Chat"]' '[""]' '[5]' \
		'[null]' '[["chat"]]' '"chat"' 'null' '{}' 'true'; do
		expect_refused "$alice_token" "{\"name\":\"s\",\"scopes\":$s}" 400 invalid_field
	done
	api POST /v1/apikeys '{"name":"s","scopes":["chat","read","chat"]}' "$alice_token"
	[[ $(jb .error.message) == *'"chat" twice'* ]] || false
}

@test "only a current admin gives a key the admin scope" {
	local dave_id
	expect_refused "$alice_token" '{"name":"a","scopes":["admin"]}' 400 invalid_field
	[[ $(jb .error.message) == *admin* ]] || false
	expect_refused "$alice_token" '{"name":"a","scopes":["chat","admin"]}' 400 invalid_field
	api POST /v1/apikeys '{"name":"root admin","scopes":["admin"]}' "$root_token"
	expect_status 201
	[[ $(jq -c .scopes <<<"$body") == '["admin"]' ]] || false
	api DELETE "/v1/apikeys/$(jb .id)" "" "$root_token"
	expect_status 204
	# an admin demoted in the store, whose token still says admin
	new_user dave
	dave_id=$user_id
	api PATCH "/v1/admin/users/$dave_id" '{"role":"admin"}' "$root_token"
	expect_status 200
	login_user dave
	[[ $(jwt_claim "$access_token" role) == admin ]] || false
	db_query userd "UPDATE users SET role = 'user' WHERE id = '$dave_id'"
	expect_refused "$access_token" '{"name":"a","scopes":["admin"]}' 400 invalid_field
	# no scopes asked: as before, the key acts with the user's role
	create "$access_token" plain
	[[ $(jq -c .scopes <<<"$body") == '["chat","read","admin"]' ]] || false
}

@test "expires_in_days is an integer from 1 to 3650" {
	local d
	for d in 0 -1 3651 1.5 '"7"' null true '[7]' 1e9; do
		expect_refused "$alice_token" "{\"name\":\"e\",\"expires_in_days\":$d}" 400 invalid_field
	done
	for d in 1 3650; do
		api POST /v1/apikeys "{\"name\":\"e$d\",\"expires_in_days\":$d}" "$alice_token"
		expect_status 201
		[[ $(($(ms "$(jb .expires_at)") - $(ms "$(jb .created_at)"))) == $((d * 86400000)) ]] || false
		api DELETE "/v1/apikeys/$(jb .id)" "" "$alice_token"
		expect_status 204
	done
}

@test "an expired key is refused, unlisted and uncounted" {
	local before
	api POST /v1/apikeys '{"name":"expiring","expires_in_days":1}' "$alice_token"
	expect_status 201
	key=$(jb .key)
	key_id=$(jb .id)
	# expired before its first use: the gateway has nothing cached
	db_query userd "UPDATE api_keys SET expires_at = created_at - 1 WHERE id = '$key_id'"
	verify "$key"
	expect_error 401 invalid_api_key
	api GET /v1/users/me "" "$key"
	expect_error 401 invalid_token
	list "$alice_token"
	[[ $(jq -r --arg id "$key_id" '[.data[] | select(.id == $id)] | length' <<<"$body") == 0 ]] || false
	# and a key expiring in a day still works
	create "$alice_token" tomorrow
	db_query userd "UPDATE api_keys SET expires_at = $(($(date +%s%3N) + 86400000)) WHERE id = '$key_id'"
	api GET /v1/users/me "" "$key"
	expect_status 200
	verify "$key"
	expect_status 200
	api DELETE "/v1/apikeys/$key_id" "" "$alice_token"
	expect_status 204
}

@test "a guest cannot make keys" {
	api PATCH "/v1/admin/users/$bob_id" '{"role":"guest"}' "$root_token"
	expect_status 200
	login_user bob
	expect_refused "$access_token" '{"name":"guest key"}' 403 forbidden
	api GET /v1/apikeys "" "$access_token"
	expect_error 403 forbidden
	api PATCH "/v1/admin/users/$bob_id" '{"role":"user"}' "$root_token"
	expect_status 200
}

@test "a disabled user's keys stop working at once" {
	local key
	key=$(<"$BATS_FILE_TMPDIR/alice_key")
	api GET /v1/users/me "" "$key"
	expect_status 200
	api PATCH "/v1/admin/users/$alice_id" '{"disabled":true}' "$root_token"
	expect_status 200
	api GET /v1/users/me "" "$key"
	expect_error 401 invalid_token
	api PATCH "/v1/admin/users/$alice_id" '{"disabled":false}' "$root_token"
	expect_status 200
	api GET /v1/users/me "" "$key"
	expect_status 200
}

@test "at most 100 live keys per user" {
	local i url
	local -a req=()
	new_user carol
	# k1..k99 one after the other through one curl (--next), not 99
	# curl and jq runs: each must be a 201 of its own
	url=$(base_url)/v1/apikeys
	for ((i = 1; i <= 99; i++)); do
		((i == 1)) || req+=(--next)
		req+=(-s --max-time 10 -o /dev/null -w '%{http_code}\n' -X POST
			-H "Authorization: Bearer $access_token"
			-H 'Content-Type: application/json'
			--data-binary "{\"name\":\"k$i\"}" "$url")
	done
	run -0 curl "${req[@]}"
	[[ $(grep -cx 201 <<<"$output") == 99 && ${#lines[@]} == 99 ]] ||
		{ sort <<<"$output" | uniq -c >&2; false; }
	create "$access_token" k100
	expect_refused "$access_token" '{"name":"k101"}' 409 too_many_keys
	api DELETE "/v1/apikeys/$key_id" "" "$access_token"
	expect_status 204
	create "$access_token" k101
	list "$access_token"
	[[ $(jq '.data | length' <<<"$body") == 100 ]] || false
	# an expired key no longer counts
	expect_refused "$access_token" '{"name":"k102"}' 409 too_many_keys
	db_query userd "UPDATE api_keys SET expires_at = 1 WHERE id = '$key_id'"
	create "$access_token" k102
	list "$access_token"
	[[ $(jq '.data | length' <<<"$body") == 100 ]] || false
}
