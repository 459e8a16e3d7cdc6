#!/usr/bin/env bats
# GET and PATCH /v1/users/me through the gateway: the profile and the
# preferences, set, kept and cleared; every bad request leaves the stored
# profile exactly as it was.

# The accounts, registered once here so that each test can also run alone
# (bats -f): root (the admin), then alice, whose token setup reads.
setup_file() {
	load test_helper
	start_stack
	register_user root
	new_user alice
	echo "$access_token" >"$BATS_FILE_TMPDIR/token"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	token=$(<"$BATS_FILE_TMPDIR/token")
}

# me: GET /v1/users/me as alice into $body.
me() {
	api GET /v1/users/me "" "$token"
	expect_status 200
}

# patch BODY
patch() {
	api PATCH /v1/users/me "$1" "$token"
}

# expect_refused BODY STATUS CODE: refused with that error (its body left
# in $refused); the profile, through the API and in the store, is
# unchanged.
expect_refused() {
	local before stored
	me
	before=$body
	stored=$(db_query userd "SELECT * FROM users ORDER BY id")
	patch "$1"
	expect_error "$2" "$3"
	refused=$body
	me
	[[ $body == "$before" ]] || {
		echo "profile changed after: ${1:0:200}" >&2
		diff <(jq . <<<"$before") <(jq . <<<"$body") >&2
		return 1
	}
	[[ $(db_query userd "SELECT * FROM users ORDER BY id") == "$stored" ]] || false
}

@test "GET /v1/users/me answers the caller's account" {
	me
	[[ $(jq -c 'del(.id, .created_at, .updated_at)' <<<"$body") == '{"username":"alice","role":"user","disabled":false,"display_name":null,"email":null,"email_verified":false,"preferences":{"default_model":null,"system_prompt":null,"theme":null}}' ]] || false
	[[ $(jb .id) == "$(jwt_claim "$token" sub)" ]] || false
}

@test "PATCH sets the display name and preferences" {
	local before
	me
	before=$body
	sleep 0.01
	patch '{"display_name":"Alice A.","preferences":{"default_model":"echo","system_prompt":"Answer briefly.","theme":"dark"}}'
	expect_status 200
	[[ $(jq -c '{display_name, preferences}' <<<"$body") == '{"display_name":"Alice A.","preferences":{"default_model":"echo","system_prompt":"Answer briefly.","theme":"dark"}}' ]] || false
	[[ $(jb .updated_at) > $(jq -r .updated_at <<<"$before") ]] || false
	[[ $(jb .created_at) == "$(jq -r .created_at <<<"$before")" ]] || false
	# the answer is what is stored
	local answer=$body
	me
	[[ $body == "$answer" ]] || false
}

@test "absent fields are kept and null clears" {
	# the profile as the test above sets it (again, when it ran)
	patch '{"display_name":"Alice A.","preferences":{"default_model":"echo","system_prompt":"Answer briefly.","theme":"dark"}}'
	expect_status 200
	patch '{"preferences":{"theme":"light"}}'
	expect_status 200
	[[ $(jq -c '{display_name, preferences}' <<<"$body") == '{"display_name":"Alice A.","preferences":{"default_model":"echo","system_prompt":"Answer briefly.","theme":"light"}}' ]] || false
	patch '{"display_name":null,"preferences":{"system_prompt":null}}'
	expect_status 200
	[[ $(jq -c '{display_name, preferences}' <<<"$body") == '{"display_name":null,"preferences":{"default_model":"echo","system_prompt":null,"theme":"light"}}' ]] || false
	run -0 db_query userd "SELECT display_name IS NULL, system_prompt IS NULL, theme FROM users WHERE username = 'alice'"
	[[ $output == '1|1|light' ]] || [[ $output == 't|t|light' ]] || false
}

@test "an empty PATCH or unknown fields change nothing" {
	local before
	me
	before=$body
	patch '{}'
	expect_status 200
	[[ $body == "$before" ]] || false
	patch '{"role":"admin","username":"mallory","disabled":true,"id":"x","preferences":{"colour":"red"}}'
	expect_status 200
	[[ $body == "$before" ]] || false
	[[ $(jb .role) == user && $(jb .username) == alice ]] || false
}

@test "each theme value is accepted" {
	local t
	for t in dark light auto; do
		patch "{\"preferences\":{\"theme\":\"$t\"}}"
		expect_status 200
		[[ $(jb .preferences.theme) == "$t" ]] || false
	done
}

@test "fields at their size limits are accepted" {
	local name prompt model
	name=$(printf 'é%.0s' {1..64})				# 128 bytes
	model=$(printf 'm%.0s' {1..128})
	prompt=$(head -c 16384 /dev/zero | tr '\0' p)
	patch "$(jq -nc --arg n "$name" --arg m "$model" --arg p "$prompt" \
		'{display_name: $n, preferences: {default_model: $m, system_prompt: $p}}')"
	expect_status 200
	[[ $(jb .display_name) == "$name" && $(jb .preferences.default_model) == "$model" ]] || false
	[[ $(jb .preferences.system_prompt) == "$prompt" ]] || false
	patch '{"display_name":"Alice","preferences":{"system_prompt":"short","default_model":"echo"}}'
	expect_status 200
}

@test "wrong types are refused with invalid_field" {
	local b
	for b in '{"display_name":5}' '{"display_name":true}' '{"display_name":["x"]}' \
		'{"display_name":{"x":1}}' '{"preferences":"dark"}' '{"preferences":null}' \
		'{"preferences":[]}' '{"preferences":{"theme":1}}' \
		'{"preferences":{"default_model":false}}' '{"preferences":{"system_prompt":{}}}'; do
		expect_refused "$b" 400 invalid_field
	done
	expect_refused '{"display_name":5}' 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'display_name' must be a string or null" ]] || false
	expect_refused '{"preferences":{"theme":1}}' 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'preferences.theme' must be a string or null" ]] || false
}

@test "values past their limits are refused with invalid_field" {
	expect_refused "$(jq -nc --arg n "$(printf 'x%.0s' {1..129})" '{display_name: $n}')" 400 invalid_field
	expect_refused "$(jq -nc --arg n "$(printf 'é%.0s' {1..65})" '{display_name: $n}')" 400 invalid_field
	expect_refused "$(jq -nc --arg n "$(printf 'm%.0s' {1..129})" '{preferences: {default_model: $n}}')" 400 invalid_field
	expect_refused "$(jq -nc --arg n "$(head -c 16385 /dev/zero | tr '\0' p)" '{preferences: {system_prompt: $n}}')" 400 invalid_field
	expect_refused '{"preferences":{"theme":"blue"}}' 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'preferences.theme' must be one of dark, light, auto" ]] || false
	expect_refused '{"preferences":{"theme":"Dark"}}' 400 invalid_field
	expect_refused '{"preferences":{"theme":""}}' 400 invalid_field
}

@test "one bad field refuses the whole PATCH" {
	expect_refused '{"display_name":"New name","preferences":{"theme":"blue"}}' 400 invalid_field
	expect_refused '{"display_name":7,"preferences":{"theme":"dark"}}' 400 invalid_field
	expect_refused '{"display_name":"New name","preferences":{"system_prompt":3}}' 400 invalid_field
}

@test "malformed bodies are refused with invalid_json" {
	local b
	for b in '{"display_name":' '[]' '"x"' '{"display_name":"x"}}' \
		'{"display_name":"a\u0000b"}' '{"display_name":"\udc00"}'; do
		expect_refused "$b" 400 invalid_json
	done
}

@test "broken UTF-8 is refused with invalid_json" {
	local f=$BATS_TEST_TMPDIR/bad.json
	printf '{"display_name":"bad \xed\xa0\x80 surrogate"}' >"$f"
	expect_refused "@$f" 400 invalid_json
	printf '{"preferences":{"system_prompt":"\x80"}}' >"$f"
	expect_refused "@$f" 400 invalid_json
}

@test "a key twice in one object is refused with invalid_json, naming the key" {
	local before
	expect_refused '{"display_name":"First","display_name":"Second"}' 400 invalid_json
	[[ $(jq -r .error.message <<<"$refused") == "duplicate key 'display_name'" ]] || false
	expect_refused '{"preferences":{"theme":"dark","system_prompt":"x","theme":"light"}}' 400 invalid_json
	[[ $(jq -r .error.message <<<"$refused") == "duplicate key 'theme'" ]] || false
	# refused even when the field is one PATCH ignores
	expect_refused '{"display_name":"Mallory","role":"admin","role":"user"}' 400 invalid_json
	[[ $(jq -r .error.message <<<"$refused") == "duplicate key 'role'" ]] || false
	# keys are case-sensitive: another case is another (unknown) field
	me
	before=$body
	patch '{"Display_name":"x","display_Name":"y","DISPLAY_NAME":"z"}'
	expect_status 200
	[[ $body == "$before" ]] || false
}

@test "a 2 MiB body is refused with 413" {
	expect_refused "@$(big_json_file $((2 * 1024 * 1024)))" 413 payload_too_large
}

@test "each user sees and changes only their own profile" {
	local alice_before
	me
	alice_before=$body
	new_user bob
	api PATCH /v1/users/me '{"display_name":"Bob"}' "$access_token"
	expect_status 200
	[[ $(jb .username) == bob && $(jb .display_name) == Bob ]] || false
	me
	[[ $body == "$alice_before" ]] || false
}

@test "an API key reads the profile too" {
	api POST /v1/apikeys '{"name":"profile"}' "$token"
	expect_status 201
	api GET /v1/users/me "" "$(jb .key)"
	expect_status 200
	[[ $(jb .username) == alice ]] || false
}
