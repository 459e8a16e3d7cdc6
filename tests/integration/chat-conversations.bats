#!/usr/bin/env bats
# Conversations through the gateway: POST/GET /v1/conversations and
# GET/PATCH/DELETE /v1/conversations/{id}: the objects, cursor pagination
# with no duplicate and no gap, search, the archive filter, the current
# branch of the message tree and moving its leaf, another user's ids, and
# bad input of every kind leaving the store exactly as it was.
#
# Message trees are written straight into chatd's store here (seed_msg),
# so these tests do not depend on a generation.

# The accounts, registered once here so that each test can also run alone
# (bats -f); their tokens and ids go to the file that setup reads.
setup_file() {
	load test_helper
	# chatd stores only models aid knows: "other", and a name of 128
	# bytes (the longest a conversation keeps) as its alias
	start_stack "[routes]" "/v1/conversations = chatd" "/v1/ws = chatd" \
		"[aid]" "models = other" "[model.other]" "provider = echo" \
		"aliases = $(printf 'm%.0s' {1..128})"
	register_user root
	login_user root
	save root_token "$access_token"
	new_user alice
	save alice_token "$access_token"
	save alice_id "$user_id"
	new_user bob
	save bob_token "$access_token"
	save bob_id "$user_id"
	new_user carol
	save carol_token "$access_token"
	save carol_id "$user_id"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/vars"
}

# save NAME VALUE: keeps a variable for the following tests.
save() {
	echo "$1=$2" >>"$BATS_FILE_TMPDIR/vars"
	printf -v "$1" '%s' "$2"
}

# Everything chatd stores, for "unchanged" checks.
stored() {
	db_query chatd "SELECT * FROM conversations ORDER BY id"
	db_query chatd "SELECT * FROM messages ORDER BY id"
}

# create TOKEN [BODY]: POST /v1/conversations; sets conv_id.
create() {
	api POST /v1/conversations "${2-}" "$1"
	expect_status 201 || return 1
	conv_id=$(jb .id)
}

# expect_refused METHOD PATH BODY TOKEN STATUS CODE: refused with that
# error envelope (left in $refused), nothing stored changed.
expect_refused() {
	local before
	before=$(stored)
	api "$1" "$2" "$3" "$4"
	expect_error "$5" "$6" || return 1
	refused=$body
	[[ $(stored) == "$before" ]] || {
		echo "the store changed after $1 $2 ${3:0:200}" >&2
		return 1
	}
}

# seed_msg ID CONV USER PARENT ROLE CONTENT CREATED_AT: a message row
# written into the store (PARENT "" for a root).
seed_msg() {
	local parent=NULL
	[[ -n $4 ]] && parent="'$4'"
	db_query chatd "INSERT INTO messages (id, conversation_id, user_id,
		parent_id, role, content, model, status, created_at, updated_at)
		VALUES ('$1', '$2', '$3', $parent, '$5', '$6', NULL, 'complete',
		$7, $7)"
}

# seed_leaf CONV MESSAGE: sets a conversation's current leaf in the store.
seed_leaf() {
	db_query chatd "UPDATE conversations SET current_leaf_id = '$2'
		WHERE id = '$1'"
}

# all_ids TOKEN QUERY: the ids of GET /v1/conversations?QUERY, following
# next_cursor to the end, into $ids (one a line); the pages in $pages.
all_ids() {
	local cursor="" q=$2
	pages=0
	ids=""
	while :; do
		api GET "/v1/conversations?$q${cursor:+&cursor=$cursor}" "" "$1"
		expect_status 200 || return 1
		pages=$((pages + 1))
		ids+=$(jq -r '.data[].id' <<<"$body")$'\n'
		cursor=$(jb '.next_cursor // empty')
		[[ -n $cursor ]] || break
		((pages < 100)) || return 1
	done
	ids=$(grep -v '^$' <<<"$ids" || true)
}

# seed_tree CONV: alice's message tree of "the current branch" test, its
# leaf at m4 (...04): m1 a root with answers m2 (errored) and m3, m4
# under m3, and a second root m5 with its answer m6.
seed_tree() {
	local c=$1 m1 m2 m3 m4 m5 m6
	m1=01a00000-0000-7000-8000-000000000001	# user, root
	m2=01a00000-0000-7000-8000-000000000002	# assistant, answer 1
	m3=01a00000-0000-7000-8000-000000000003	# assistant, answer 2 (regenerated)
	m4=01a00000-0000-7000-8000-000000000004	# user, under answer 2
	m5=01a00000-0000-7000-8000-000000000005	# user, an edited root
	m6=01a00000-0000-7000-8000-000000000006	# assistant, under m5
	seed_msg $m1 "$c" "$alice_id" "" user 'What is 2+2?' 1700000001000 &&
		seed_msg $m2 "$c" "$alice_id" $m1 assistant 'Four.' 1700000002000 &&
		seed_msg $m3 "$c" "$alice_id" $m1 assistant '4' 1700000003000 &&
		seed_msg $m4 "$c" "$alice_id" $m3 user 'And 3+3?' 1700000004000 &&
		seed_msg $m5 "$c" "$alice_id" "" user 'What is 2*2?' 1700000005000 &&
		seed_msg $m6 "$c" "$alice_id" $m5 assistant 'Also four.' 1700000006000 &&
		db_query chatd "UPDATE messages SET prompt_tokens = 12, completion_tokens = 3,
			ttft_ms = 40, latency_ms = 90, model = 'echo' WHERE id = '$m3'" &&
		db_query chatd "UPDATE messages SET status = 'error', error_code = 'upstream_error',
			error_message = 'the upstream failed' WHERE id = '$m2'" &&
		seed_leaf "$c" $m4
}

# seed_recipes CONV: the question and answer of alice's "Recipes".
seed_recipes() {
	seed_msg 01a00000-0000-7000-8000-0000000000c1 "$1" "$alice_id" "" user 'How much is 100% of a cup_of flour?' 1700000009000 &&
		seed_msg 01a00000-0000-7000-8000-0000000000c2 "$1" "$alice_id" 01a00000-0000-7000-8000-0000000000c1 assistant 'A back\slash answer' 1700000009001
}

# The need_* helpers give a test what an earlier test made and saved
# (a conversation's id, rows a count assumes): when that test did not run
# (this one runs alone, bats -f), they make the same here.

# need_first: first_id, alice's "First" of the POST test.
need_first() {
	[[ -z ${first_id:-} ]] || return 0
	create "$alice_token" '{"title":"First","model":"echo","system_prompt":"Be brief."}' &&
		first_id=$conv_id
}

# need_patch: patch_id, alice's conversation as the PATCH test leaves it.
need_patch() {
	[[ -z ${patch_id:-} ]] || return 0
	create "$alice_token" '{"title":"Back"}' && patch_id=$conv_id
}

# need_tree: tree_id, alice's "Tree" with its seeded messages.
need_tree() {
	[[ -z ${tree_id:-} ]] || return 0
	create "$alice_token" '{"title":"Tree"}' && tree_id=$conv_id &&
		seed_tree "$tree_id"
}

# need_recipes: recipes_id, alice's "Recipes" with its two messages.
need_recipes() {
	[[ -z ${recipes_id:-} ]] || return 0
	create "$alice_token" '{"title":"Recipes"}' && recipes_id=$conv_id &&
		seed_recipes "$recipes_id"
}

# need_live: live_id, alice's echo conversation where "four five" was
# sent.
need_live() {
	[[ -z ${live_id:-} ]] || return 0
	create "$alice_token" '{"model":"echo"}' && live_id=$conv_id &&
		send "$alice_token" "$live_id" '{"content":"four five"}'
}

# need_convs TOKEN USER-ID PREFIX N: the user has conversations "PREFIX 1"
# to "PREFIX N" (the list tests' own), unless it has some already.
need_convs() {
	local i n
	n=$(db_query chatd "SELECT count(*) FROM conversations WHERE user_id = '$2'") || return 1
	((n == 0)) || return 0
	for ((i = 1; i <= $4; i++)); do
		create "$1" "{\"title\":\"$3 $i\"}" || return 1
	done
}

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
UUID='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

@test "POST /v1/conversations creates a conversation (201)" {
	create "$alice_token" '{"title":"First","model":"echo","system_prompt":"Be brief."}'
	[[ $(jq -c 'del(.id, .created_at, .updated_at)' <<<"$body") == '{"title":"First","model":"echo","system_prompt":"Be brief.","archived":false,"current_leaf_id":null}' ]] || false
	[[ $(jq -c keys_unsorted <<<"$body") == '["id","title","model","system_prompt","archived","current_leaf_id","created_at","updated_at"]' ]] || false
	[[ $conv_id =~ $UUID ]] || false
	[[ $(jb .created_at) =~ $RFC3339 && $(jb .created_at) == "$(jb .updated_at)" ]] || false
	save first_id "$conv_id"
	# stored as answered, owned by alice
	run -0 db_query chatd "SELECT user_id, title, model, system_prompt, archived, current_leaf_id FROM conversations WHERE id = '$conv_id'"
	[[ $output == "$alice_id|First|echo|Be brief.|0|" ]] || false
	# GET answers the same object, with an empty branch
	local created=$body
	api GET "/v1/conversations/$conv_id" "" "$alice_token"
	expect_status 200
	[[ $(jq -c 'del(.messages)' <<<"$body") == "$(jq -c . <<<"$created")" ]] || false
	[[ $(jq -c .messages <<<"$body") == '[]' ]] || false
}

@test "a conversation can be created with no body, an empty object or nulls" {
	local b
	create "$alice_token"
	[[ $(jq -c '[.title, .model, .system_prompt, .archived]' <<<"$body") == '[null,null,null,false]' ]] || false
	for b in '{}' '{"title":null,"model":null,"system_prompt":null}' \
		'{"archived":true,"current_leaf_id":"x","id":"y","user_id":"z"}'; do
		create "$alice_token" "$b"
		[[ $(jq -c '[.title, .model, .system_prompt, .archived, .current_leaf_id]' <<<"$body") == '[null,null,null,false,null]' ]] || false
	done
}

@test "fields at their size limits are accepted" {
	local title model prompt
	title=$(printf 'é%.0s' {1..128})			# 256 bytes
	model=$(printf 'm%.0s' {1..128})
	prompt=$(head -c 16384 /dev/zero | tr '\0' p)
	create "$alice_token" "$(jq -nc --arg t "$title" --arg m "$model" --arg p "$prompt" \
		'{title: $t, model: $m, system_prompt: $p}')"
	[[ $(jb .title) == "$title" && $(jb .model) == "$model" && $(jb .system_prompt) == "$prompt" ]] || false
	api GET "/v1/conversations/$conv_id" "" "$alice_token"
	[[ $(jb .title) == "$title" && $(jb .system_prompt) == "$prompt" ]] || false
	# empty strings are kept, except for the model
	create "$alice_token" '{"title":"","system_prompt":""}'
	[[ $(jq -c '[.title, .system_prompt]' <<<"$body") == '["",""]' ]] || false
}

@test "POST /v1/conversations refuses bad bodies and stores nothing" {
	local b t="$alice_token" f=$BATS_TEST_TMPDIR/bad.json
	for b in '{"title":' '[]' '"title"' 'null' '{"title":"a"}x' "{'title':'a'}" \
		'{"title":"a\u0000b"}'; do
		expect_refused POST /v1/conversations "$b" "$t" 400 invalid_json
	done
	printf '{"title":"caf\xe9"}' >"$f"
	expect_refused POST /v1/conversations "@$f" "$t" 400 invalid_json
	printf '{"title":"\xed\xa0\x80"}' >"$f"		# a UTF-16 surrogate
	expect_refused POST /v1/conversations "@$f" "$t" 400 invalid_json
	for b in '{"title":5}' '{"title":true}' '{"title":["x"]}' '{"title":{}}' \
		'{"model":1}' '{"model":false}' '{"system_prompt":[]}' '{"system_prompt":0}'; do
		expect_refused POST /v1/conversations "$b" "$t" 400 invalid_field
	done
	expect_refused POST /v1/conversations '{"title":5}' "$t" 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'title' must be a string or null" ]] || false
	expect_refused POST /v1/conversations '{"model":""}' "$t" 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'model' must not be empty" ]] || false
	expect_refused POST /v1/conversations \
		"$(jq -nc --arg t "$(printf 'x%.0s' {1..257})" '{title: $t}')" "$t" 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'title' must be at most 256 bytes" ]] || false
	expect_refused POST /v1/conversations \
		"$(jq -nc --arg t "$(printf 'é%.0s' {1..129})" '{title: $t}')" "$t" 400 invalid_field
	expect_refused POST /v1/conversations \
		"$(jq -nc --arg m "$(printf 'm%.0s' {1..129})" '{model: $m}')" "$t" 400 invalid_field
	expect_refused POST /v1/conversations \
		"$(jq -nc --arg p "$(head -c 16385 /dev/zero | tr '\0' p)" '{system_prompt: $p}')" "$t" 400 invalid_field
	expect_refused POST /v1/conversations "@$(big_json_file $((2 * 1024 * 1024)))" "$t" 413 payload_too_large
}

@test "the routes need a signed-in user with role user" {
	local before
	need_first
	before=$(stored)
	api POST /v1/conversations '{}'
	expect_error 401 unauthorized
	api GET /v1/conversations
	expect_error 401 unauthorized
	api GET "/v1/conversations/$first_id"
	expect_error 401 unauthorized
	api PATCH "/v1/conversations/$first_id" '{"title":"x"}'
	expect_error 401 unauthorized
	api DELETE "/v1/conversations/$first_id"
	expect_error 401 unauthorized
	api GET /v1/conversations "" "not.a.token"
	expect_error 401 invalid_token
	# a guest account cannot chat
	new_user gus
	api PATCH "/v1/admin/users/$user_id" '{"role":"guest"}' "$root_token"
	expect_status 200
	login_user gus
	api POST /v1/conversations '{}' "$access_token"
	expect_error 403 forbidden
	api GET /v1/conversations "" "$access_token"
	expect_error 403 forbidden
	api GET "/v1/conversations/$first_id" "" "$access_token"
	expect_error 403 forbidden
	[[ $(stored) == "$before" ]] || false
}

@test "the list is newest updated first, limit 20 by default" {
	local i n expect
	for i in 1 2 3 4 5; do
		create "$bob_token" "{\"title\":\"bob $i\"}"
	done
	api GET /v1/conversations "" "$bob_token"
	expect_status 200
	[[ $(jq -c '[.data[].title]' <<<"$body") == '["bob 5","bob 4","bob 3","bob 2","bob 1"]' ]] || false
	[[ $(jb .next_cursor) == null && $(jq -c keys <<<"$body") == '["data","next_cursor"]' ]] || false
	# each item is the full conversation object
	api GET "/v1/conversations/$conv_id" "" "$bob_token"
	expect=$(jq -c 'del(.messages)' <<<"$body")
	api GET /v1/conversations "" "$bob_token"
	[[ $(jq -c '.data[0]' <<<"$body") == "$expect" ]] || false
	# only the caller's own
	n=$(db_query chatd "SELECT count(*) FROM conversations WHERE user_id = '$bob_id'")
	[[ $n == 5 ]] || false
	for i in $(seq 6 23); do
		create "$bob_token" "{\"title\":\"bob $i\"}"
	done
	api GET /v1/conversations "" "$bob_token"
	[[ $(jq '.data | length' <<<"$body") == 20 && $(jb .next_cursor) != null ]] || false
	[[ $(jq -r '.data[0].title' <<<"$body") == "bob 23" ]] || false
	# a change moves a conversation to the top
	api GET "/v1/conversations?limit=100" "" "$bob_token"
	api PATCH "/v1/conversations/$(jq -r '.data[-1].id' <<<"$body")" '{"title":"bob 1 renamed"}' "$bob_token"
	expect_status 200
	api GET "/v1/conversations?limit=2" "" "$bob_token"
	[[ $(jq -c '[.data[].title]' <<<"$body") == '["bob 1 renamed","bob 23"]' ]] || false
}

@test "pages follow each other with no duplicate and no gap" {
	local i full paged limit
	for i in $(seq 1 45); do
		create "$carol_token" "{\"title\":\"carol $i\"}"
	done
	# many ties on updated_at: the id breaks them
	db_query chatd "UPDATE conversations SET updated_at = 1700000000000
		WHERE user_id = '$carol_id' AND title IN ('carol 3', 'carol 4',
		'carol 5', 'carol 6', 'carol 7', 'carol 8', 'carol 9', 'carol 30',
		'carol 31', 'carol 32', 'carol 33')"
	full=$(db_query chatd "SELECT id FROM conversations WHERE user_id = '$carol_id'
		ORDER BY updated_at DESC, id DESC")
	[[ $(wc -l <<<"$full") == 45 ]] || false
	for limit in 1 2 7 10 44 45 100; do
		all_ids "$carol_token" "limit=$limit"
		paged=$ids
		[[ $paged == "$full" ]] || {
			echo "limit=$limit:" >&2
			diff <(echo "$full") <(echo "$paged") >&2
			return 1
		}
		[[ $pages == $(((45 + limit - 1) / limit)) ]] || false
	done
	# the default limit
	all_ids "$carol_token" ""
	[[ $ids == "$full" && $pages == 3 ]] || false
	# the last page of an exact multiple has a null cursor
	api GET "/v1/conversations?limit=45" "" "$carol_token"
	[[ $(jq '.data | length' <<<"$body") == 45 && $(jb .next_cursor) == null ]] || false
}

@test "bad list parameters are refused with invalid_field" {
	local v
	for v in limit=0 limit=101 limit=-1 limit=abc limit= limit=1.5 limit=%2B5 \
		'limit=99999999999999999999' cursor=x cursor=%21%21 \
		"cursor=$(printf 'abc:def' | base64 | tr '+/' '-_' | tr -d '=')" \
		"cursor=$(printf '12:not-a-uuid' | base64 | tr '+/' '-_' | tr -d '=')" \
		"cursor=$(printf -- '-1:01a20c46-e1d3-7255-8f51-4e0ed5cd8476' | base64 -w0 | tr '+/' '-_' | tr -d '=')" \
		archived=yes archived=TRUE archived= archived=1 \
		"q=$(head -c 1025 /dev/zero | tr '\0' q)" q=%FF q=caf%E9; do
		api GET "/v1/conversations?$v" "" "$alice_token"
		expect_error 400 invalid_field || {
			echo "for ?$v" >&2
			return 1
		}
	done
	api GET "/v1/conversations?q=$(head -c 1024 /dev/zero | tr '\0' q)" "" "$alice_token"
	expect_status 200
	[[ $(jq '.data | length' <<<"$body") == 0 ]] || false
}

@test "limit and cursor are read as every list route reads them (page.c)" {
	local v
	for v in limit=%2B5 limit=%205 limit=1.5 limit=99999999999999999999; do
		api GET "/v1/conversations?$v" "" "$alice_token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'limit' must be an integer from 1 to 100" ]] || false
	done
	for v in x "$(printf 'abc:def' | base64 | tr '+/' '-_' | tr -d '=')"; do
		api GET "/v1/conversations?cursor=$v" "" "$alice_token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'cursor' is not a cursor this server gave" ]] || false
	done
	api GET "/v1/conversations?cursor=" "" "$alice_token"
	expect_status 200
}

@test "a cursor of one user shows nothing of another" {
	need_convs "$carol_token" "$carol_id" carol 45
	api GET "/v1/conversations?limit=1" "" "$carol_token"
	local cursor
	cursor=$(jb .next_cursor)
	api GET "/v1/conversations?limit=100&cursor=$cursor" "" "$alice_token"
	expect_status 200
	[[ -z $(jq -r '.data[] | select(.title | startswith("carol"))' <<<"$body") ]] || false
}

@test "PATCH changes fields, null clears, absent fields stay" {
	local before
	create "$alice_token" '{"title":"Patch me","model":"echo","system_prompt":"S"}'
	save patch_id "$conv_id"
	before=$body
	sleep 0.01
	api PATCH "/v1/conversations/$conv_id" '{"title":"Renamed"}' "$alice_token"
	expect_status 200
	[[ $(jq -c '[.title, .model, .system_prompt, .archived]' <<<"$body") == '["Renamed","echo","S",false]' ]] || false
	[[ $(jb .updated_at) > $(jq -r .updated_at <<<"$before") ]] || false
	[[ $(jb .created_at) == "$(jq -r .created_at <<<"$before")" && $(jb .id) == "$conv_id" ]] || false
	api PATCH "/v1/conversations/$conv_id" '{"model":"other","system_prompt":null}' "$alice_token"
	[[ $(jq -c '[.title, .model, .system_prompt]' <<<"$body") == '["Renamed","other",null]' ]] || false
	api PATCH "/v1/conversations/$conv_id" '{"title":null,"model":null,"archived":true}' "$alice_token"
	[[ $(jq -c '[.title, .model, .system_prompt, .archived]' <<<"$body") == '[null,null,null,true]' ]] || false
	# the answer is what is stored
	local answer=$body
	api GET "/v1/conversations/$conv_id" "" "$alice_token"
	[[ $(jq -c 'del(.messages)' <<<"$body") == "$(jq -c . <<<"$answer")" ]] || false
	run -0 db_query chatd "SELECT title IS NULL, model IS NULL, system_prompt IS NULL, archived FROM conversations WHERE id = '$conv_id'"
	[[ $output == '1|1|1|1' || $output == 't|t|t|1' ]] || false
	api PATCH "/v1/conversations/$conv_id" '{"archived":false,"title":"Back"}' "$alice_token"
	[[ $(jq -c '[.title, .archived]' <<<"$body") == '["Back",false]' ]] || false
}

@test "an empty PATCH or unknown fields change nothing, not even updated_at" {
	local before
	need_patch
	api GET "/v1/conversations/$patch_id" "" "$alice_token"
	before=$(jq -c 'del(.messages)' <<<"$body")
	api PATCH "/v1/conversations/$patch_id" '{}' "$alice_token"
	expect_status 200
	[[ $(jq -c . <<<"$body") == "$before" ]] || false
	api PATCH "/v1/conversations/$patch_id" '{"id":"x","user_id":"y","created_at":1,"messages":[]}' "$alice_token"
	expect_status 200
	[[ $(jq -c . <<<"$body") == "$before" ]] || false
}

@test "PATCH refuses bad bodies and changes nothing" {
	need_patch
	local b t="$alice_token" p="/v1/conversations/$patch_id" f=$BATS_TEST_TMPDIR/bad.json
	for b in '' '{"title":' '[]' '"x"' 'null' '{"title":"a\u0000"}' '{"title":"a"} {}'; do
		expect_refused PATCH "$p" "$b" "$t" 400 invalid_json
	done
	printf '{"title":"\xff\xfe"}' >"$f"
	expect_refused PATCH "$p" "@$f" "$t" 400 invalid_json
	for b in '{"title":1}' '{"model":[]}' '{"system_prompt":{}}' '{"archived":"true"}' \
		'{"archived":1}' '{"archived":null}' '{"current_leaf_id":5}' \
		'{"current_leaf_id":null}' '{"current_leaf_id":["x"]}' '{"model":""}' \
		'{"title":"ok","archived":"no"}' '{"archived":true,"title":7}'; do
		expect_refused PATCH "$p" "$b" "$t" 400 invalid_field
	done
	expect_refused PATCH "$p" '{"archived":null}' "$t" 400 invalid_field
	[[ $(jq -r .error.message <<<"$refused") == "'archived' must be a boolean" ]] || false
	expect_refused PATCH "$p" "$(jq -nc --arg t "$(printf 'x%.0s' {1..257})" '{title: $t}')" "$t" 400 invalid_field
	expect_refused PATCH "$p" "$(jq -nc --arg t "$(printf 'x%.0s' {1..129})" '{model: $t}')" "$t" 400 invalid_field
	expect_refused PATCH "$p" "$(jq -nc --arg t "$(head -c 16385 /dev/zero | tr '\0' s)" '{system_prompt: $t}')" "$t" 400 invalid_field
	expect_refused PATCH "$p" "@$(big_json_file $((2 * 1024 * 1024)))" "$t" 413 payload_too_large
}

@test "archived conversations are listed with archived=true or all only" {
	local a b c
	# bob's 23 of the list test
	need_convs "$bob_token" "$bob_id" bob 23
	create "$bob_token" '{"title":"arch a"}'
	a=$conv_id
	create "$bob_token" '{"title":"arch b"}'
	b=$conv_id
	create "$bob_token" '{"title":"arch c"}'
	c=$conv_id
	api PATCH "/v1/conversations/$b" '{"archived":true}' "$bob_token"
	expect_status 200
	api GET "/v1/conversations?limit=100" "" "$bob_token"
	[[ $(jq -r '.data[].id' <<<"$body" | grep -c -e "$a" -e "$b" -e "$c") == 2 ]] || false
	[[ $(jq '[.data[] | select(.archived)] | length' <<<"$body") == 0 ]] || false
	api GET "/v1/conversations?archived=false&limit=100" "" "$bob_token"
	[[ $(jq -r '.data[].id' <<<"$body" | grep -c "$b") == 0 ]] || false
	api GET "/v1/conversations?archived=true" "" "$bob_token"
	[[ $(jq -r '[.data[].id] | join(" ")' <<<"$body") == "$b" ]] || false
	api GET "/v1/conversations?archived=all&limit=100" "" "$bob_token"
	[[ $(jq -r '.data[].id' <<<"$body" | grep -c -e "$a" -e "$b" -e "$c") == 3 ]] || false
	[[ $(jq '.data | length' <<<"$body") == 26 ]] || false
	# paging through archived=all sees every conversation once
	all_ids "$bob_token" "archived=all&limit=4"
	[[ $(sort -u <<<"$ids" | wc -l) == 26 && $(wc -l <<<"$ids") == 26 && $pages == 7 ]] || false
	api PATCH "/v1/conversations/$b" '{"archived":false}' "$bob_token"
	api GET "/v1/conversations?archived=true" "" "$bob_token"
	[[ $(jq '.data | length' <<<"$body") == 0 ]] || false
}

@test "the current branch comes root first with sibling ids" {
	local c m1 m2 m3 m4 m5 m6
	create "$alice_token" '{"title":"Tree"}'
	c=$conv_id
	save tree_id "$c"
	m1=01a00000-0000-7000-8000-000000000001	# user, root
	m2=01a00000-0000-7000-8000-000000000002	# assistant, answer 1
	m3=01a00000-0000-7000-8000-000000000003	# assistant, answer 2 (regenerated)
	m4=01a00000-0000-7000-8000-000000000004	# user, under answer 2
	m5=01a00000-0000-7000-8000-000000000005	# user, an edited root
	m6=01a00000-0000-7000-8000-000000000006	# assistant, under m5
	seed_tree "$c"
	api GET "/v1/conversations/$c" "" "$alice_token"
	expect_status 200
	[[ $(jb .current_leaf_id) == "$m4" ]] || false
	[[ $(jq -r '[.messages[].id] | join(" ")' <<<"$body") == "$m1 $m3 $m4" ]] || false
	[[ $(jq -c '.messages[0].sibling_ids' <<<"$body") == "[\"$m1\",\"$m5\"]" ]] || false
	[[ $(jq -c '.messages[1].sibling_ids' <<<"$body") == "[\"$m2\",\"$m3\"]" ]] || false
	[[ $(jq -c '.messages[2].sibling_ids' <<<"$body") == "[\"$m4\"]" ]] || false
	[[ $(jq -c '.messages[0] | keys_unsorted' <<<"$body") == '["id","conversation_id","parent_id","role","content","model","status","error","usage","created_at","updated_at","sibling_ids"]' ]] || false
	[[ $(jq -c '.messages[0] | del(.created_at, .updated_at, .sibling_ids)' <<<"$body") == "{\"id\":\"$m1\",\"conversation_id\":\"$c\",\"parent_id\":null,\"role\":\"user\",\"content\":\"What is 2+2?\",\"model\":null,\"status\":\"complete\",\"error\":null,\"usage\":null}" ]] || false
	[[ $(jq -c '.messages[1] | [.parent_id, .role, .content, .model, .status, .error, .usage]' <<<"$body") == "[\"$m1\",\"assistant\",\"4\",\"echo\",\"complete\",null,{\"prompt_tokens\":12,\"completion_tokens\":3,\"ttft_ms\":40,\"latency_ms\":90}]" ]] || false
	[[ $(jq -r '.messages[1].created_at' <<<"$body") == 2023-11-14T22:13:23.000Z ]] || false
	# the errored sibling
	seed_leaf "$c" $m2
	api GET "/v1/conversations/$c" "" "$alice_token"
	[[ $(jq -c '.messages[1] | [.id, .status, .error, .usage]' <<<"$body") == "[\"$m2\",\"error\",{\"code\":\"upstream_error\",\"message\":\"the upstream failed\"},null]" ]] || false
	# the other root's branch
	seed_leaf "$c" $m6
	api GET "/v1/conversations/$c" "" "$alice_token"
	[[ $(jq -r '[.messages[].id] | join(" ")' <<<"$body") == "$m5 $m6" ]] || false
	[[ $(jq -c '.messages[1].sibling_ids' <<<"$body") == "[\"$m6\"]" ]] || false
}

@test "PATCH current_leaf_id moves to the newest leaf under that message" {
	need_tree
	local c=$tree_id base=01a00000-0000-7000-8000-00000000000
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"${base}2\"}" "$alice_token"
	expect_status 200
	[[ $(jb .current_leaf_id) == "${base}2" ]] || false
	# the root m1: its newest descendant is m4
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"${base}1\"}" "$alice_token"
	[[ $(jb .current_leaf_id) == "${base}4" ]] || false
	api GET "/v1/conversations/$c" "" "$alice_token"
	[[ $(jq -r '[.messages[].id] | join(" ")' <<<"$body") == "${base}1 ${base}3 ${base}4" ]] || false
	# switching to a sibling root, in capitals
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"$(tr a-f A-F <<<"${base}5")\"}" "$alice_token"
	[[ $(jb .current_leaf_id) == "${base}6" ]] || false
	# together with other fields
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"${base}3\",\"title\":\"Tree 2\"}" "$alice_token"
	[[ $(jq -c '[.current_leaf_id, .title]' <<<"$body") == "[\"${base}4\",\"Tree 2\"]" ]] || false
	run -0 db_query chatd "SELECT current_leaf_id FROM conversations WHERE id = '$c'"
	[[ $output == "${base}4" ]] || false
}

@test "PATCH current_leaf_id of a message not in this conversation is 404" {
	need_tree
	local c=$tree_id other m
	create "$alice_token" '{"title":"Other"}'
	other=$conv_id
	seed_msg 01a00000-0000-7000-8000-0000000000a1 "$other" "$alice_id" "" user 'elsewhere' 1700000007000
	create "$bob_token" '{"title":"Bob tree"}'
	seed_msg 01a00000-0000-7000-8000-0000000000b1 "$conv_id" "$bob_id" "" user 'bob says' 1700000008000
	for m in 01a00000-0000-7000-8000-0000000000a1 01a00000-0000-7000-8000-0000000000b1 \
		01a00000-0000-7000-8000-0000000000ff not-an-id "" "$c"; do
		expect_refused PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"$m\",\"title\":\"no\"}" \
			"$alice_token" 404 not_found
	done
}

@test "q finds titles and message contents, any case, % and _ literally" {
	local c t q
	# "First" and "Tree" are two more titles with an r, for the paging
	# below
	need_first
	need_tree
	create "$alice_token" '{"title":"Holiday PLANS in Rome"}'
	save rome_id "$conv_id"
	create "$alice_token" '{"title":"Recipes"}'
	c=$conv_id
	save recipes_id "$c"
	seed_recipes "$c"
	create "$bob_token" '{"title":"Bob goes to ROME too"}'
	seed_msg 01a00000-0000-7000-8000-0000000000b2 "$conv_id" "$bob_id" "" user 'flour and 100% butter' 1700000009500
	# q=WORDS -> the titles found, in list order
	while IFS='|' read -r q t; do
		api GET "/v1/conversations?limit=100&q=$q" "" "$alice_token"
		expect_status 200
		[[ $(jq -r '[.data[].title] | join(",")' <<<"$body") == "$t" ]] || {
			echo "q=$q: $(jq -r '[.data[].title] | join(",")' <<<"$body")" >&2
			return 1
		}
	done <<-'EOF'
		rome|Holiday PLANS in Rome
		ROME|Holiday PLANS in Rome
		plans%20in|Holiday PLANS in Rome
		FLOUR|Recipes
		100%25|Recipes
		100%25%20of|Recipes
		0%25%25|
		cup_of|Recipes
		cup%5Fof|Recipes
		p_of|Recipes
		cup__of|
		back%5Cslash|Recipes
		back%5C|Recipes
		%5Cs|Recipes
		%5C%25|
		_|Recipes
		%25|Recipes
		nothing%20like%20this|
		butter|
	EOF
	# the bare % and _ match only themselves
	api GET "/v1/conversations?limit=100&q=%25" "" "$alice_token"
	[[ $(jq '.data | length' <<<"$body") == 1 ]] || false
	# q combines with archived and paging
	api PATCH "/v1/conversations/$rome_id" '{"archived":true}' "$alice_token"
	api GET "/v1/conversations?q=rome" "" "$alice_token"
	[[ $(jq '.data | length' <<<"$body") == 0 ]] || false
	api GET "/v1/conversations?q=rome&archived=true" "" "$alice_token"
	[[ $(jq -r '.data[0].id' <<<"$body") == "$rome_id" ]] || false
	all_ids "$alice_token" "q=r&archived=all&limit=100"
	local one_page=$ids
	[[ $pages == 1 && $(wc -l <<<"$one_page") -ge 4 ]] || false
	all_ids "$alice_token" "q=r&archived=all&limit=1"
	[[ $ids == "$one_page" ]] || false
	api PATCH "/v1/conversations/$rome_id" '{"archived":false}' "$alice_token"
}

@test "another user's conversation is 404 on every route and stays as it was" {
	need_recipes
	local id=$recipes_id upper
	upper=$(tr a-f A-F <<<"$id")
	api GET "/v1/conversations/$upper" "" "$alice_token"
	expect_status 200
	[[ $(jb .id) == "$id" ]] || false
	expect_refused GET "/v1/conversations/$id" "" "$bob_token" 404 not_found
	expect_refused GET "/v1/conversations/$upper" "" "$bob_token" 404 not_found
	expect_refused PATCH "/v1/conversations/$id" '{"title":"mine now"}' "$bob_token" 404 not_found
	expect_refused PATCH "/v1/conversations/$id" '{}' "$bob_token" 404 not_found
	expect_refused PATCH "/v1/conversations/$id" '{"current_leaf_id":"01a00000-0000-7000-8000-0000000000c1"}' "$bob_token" 404 not_found
	expect_refused DELETE "/v1/conversations/$id" "" "$bob_token" 404 not_found
	api GET "/v1/conversations?limit=100&archived=all" "" "$bob_token"
	[[ -z $(jq -r ".data[] | select(.id == \"$id\")" <<<"$body") ]] || false
	# and the same answer as for an unknown or malformed id
	local bob_answer unknown
	expect_refused GET "/v1/conversations/$id" "" "$bob_token" 404 not_found
	bob_answer=$(jq -c 'del(.error.request_id)' <<<"$refused")
	for unknown in 01a00000-0000-7000-8000-000000000fff not-a-uuid 01a00000000070008000000000000fff \
		"01a00000-0000-7000-8000-000000000fff0" "%20"; do
		expect_refused GET "/v1/conversations/$unknown" "" "$alice_token" 404 not_found
		[[ $(jq -c 'del(.error.request_id)' <<<"$refused") == "$bob_answer" ]] || false
		expect_refused PATCH "/v1/conversations/$unknown" '{"title":"x"}' "$alice_token" 404 not_found
		expect_refused DELETE "/v1/conversations/$unknown" "" "$alice_token" 404 not_found
	done
}

@test "a bad body is refused before the id is looked up" {
	need_recipes
	expect_refused PATCH "/v1/conversations/01a00000-0000-7000-8000-000000000fff" '{"title":' "$alice_token" 400 invalid_json
	expect_refused PATCH "/v1/conversations/$recipes_id" '{"title":5}' "$bob_token" 400 invalid_field
}

@test "DELETE removes the conversation and its messages (204)" {
	need_recipes
	local id=$recipes_id other
	other=$(db_query chatd "SELECT count(*) FROM messages WHERE conversation_id <> '$id'")
	[[ $(db_query chatd "SELECT count(*) FROM messages WHERE conversation_id = '$id'") == 2 ]] || false
	api DELETE "/v1/conversations/$id" "" "$alice_token"
	expect_status 204
	[[ -z $body ]] || false
	api GET "/v1/conversations/$id" "" "$alice_token"
	expect_error 404 not_found
	[[ $(db_query chatd "SELECT count(*) FROM messages WHERE conversation_id = '$id'") == 0 ]] || false
	[[ $(db_query chatd "SELECT count(*) FROM conversations WHERE id = '$id'") == 0 ]] || false
	[[ $(db_query chatd "SELECT count(*) FROM messages WHERE conversation_id <> '$id'") == "$other" ]] || false
	expect_refused DELETE "/v1/conversations/$id" "" "$alice_token" 404 not_found
	api GET "/v1/conversations?limit=100&archived=all" "" "$alice_token"
	[[ -z $(jq -r ".data[] | select(.id == \"$id\")" <<<"$body") ]] || false
}

# send TOKEN CONV BODY: POST .../messages, waiting for the answer (the
# echo model); sets umsg and amsg (the two message ids).
send() {
	api POST "/v1/conversations/$2/messages" "$3" "$1"
	expect_status 201 || return 1
	umsg=$(jb .user_message.id)
	amsg=$(jb .assistant_message.id)
	[[ $(jb .assistant_message.status) == complete ]] || false
}

# regen TOKEN CONV MESSAGE: a new answer; sets amsg.
regen() {
	api POST "/v1/conversations/$2/messages/$3/regenerate" '{}' "$1"
	expect_status 201 || return 1
	amsg=$(jb .assistant_message.id)
	[[ $(jb .assistant_message.status) == complete ]] || false
}

# branch TOKEN CONV: GET the conversation; the branch's ids in $branch,
# its sibling lists in $sibs ("a,b c" per message, space separated).
branch() {
	api GET "/v1/conversations/$2" "" "$1"
	expect_status 200 || return 1
	branch=$(jq -r '[.messages[].id] | join(" ")' <<<"$body")
	sibs=$(jq -r '[.messages[].sibling_ids | join(",")] | join(" ")' <<<"$body")
}

@test "sent messages, regenerated answers and edits form the tree" {
	local c u1 a1 a2 u2 a3 u3 a4
	create "$alice_token" '{"model":"echo"}'
	c=$conv_id
	save live_id "$c"
	send "$alice_token" "$c" '{"content":"one two three"}'
	u1=$umsg a1=$amsg
	branch "$alice_token" "$c"
	[[ $branch == "$u1 $a1" && $sibs == "$u1 $a1" ]] || false
	[[ $(jb .current_leaf_id) == "$a1" ]] || false
	[[ $(jq -c '[.messages[] | [.role, .content, .status, .parent_id]]' <<<"$body") == "[[\"user\",\"one two three\",\"complete\",null],[\"assistant\",\"one two three\",\"complete\",\"$u1\"]]" ]] || false
	[[ $(jq -r '.messages[1].usage.completion_tokens' <<<"$body") == 3 ]] || false
	# a regenerated answer is a sibling of the first and becomes the leaf
	regen "$alice_token" "$c" "$a1"
	a2=$amsg
	branch "$alice_token" "$c"
	[[ $branch == "$u1 $a2" && $sibs == "$u1 $a1,$a2" ]] || false
	# an edit of the first question is a new root
	send "$alice_token" "$c" '{"content":"four five","parent_id":null}'
	u2=$umsg a3=$amsg
	branch "$alice_token" "$c"
	[[ $branch == "$u2 $a3" && $sibs == "$u1,$u2 $a3" ]] || false
	# back to the first question: its newest leaf is the regenerated answer
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"$u1\"}" "$alice_token"
	expect_status 200
	[[ $(jb .current_leaf_id) == "$a2" ]] || false
	# a message without parent_id continues from the leaf
	send "$alice_token" "$c" '{"content":"six"}'
	u3=$umsg a4=$amsg
	branch "$alice_token" "$c"
	[[ $branch == "$u1 $a2 $u3 $a4" && $sibs == "$u1,$u2 $a1,$a2 $u3 $a4" ]] || false
	# the first answer's branch, then the newest again through its sibling
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"$a1\"}" "$alice_token"
	branch "$alice_token" "$c"
	[[ $branch == "$u1 $a1" ]] || false
	api PATCH "/v1/conversations/$c" "{\"current_leaf_id\":\"$a2\"}" "$alice_token"
	[[ $(jb .current_leaf_id) == "$a4" ]] || false
	run -0 db_query chatd "SELECT count(*) FROM messages WHERE conversation_id = '$c'"
	[[ $output == 7 ]] || false
}

@test "q finds what was sent" {
	need_live
	api GET "/v1/conversations?q=FOUR%20FIVE" "" "$alice_token"
	[[ $(jq -r '[.data[].id] | join(" ")' <<<"$body") == "$live_id" ]] || false
	api GET "/v1/conversations?q=four%20five" "" "$bob_token"
	[[ $(jq '.data | length' <<<"$body") == 0 ]] || false
}

@test "another user's conversation and message ids are 404 on the message routes" {
	need_live
	local c=$live_id m id u
	m=$(db_query chatd "SELECT id FROM messages WHERE conversation_id = '$c' ORDER BY id LIMIT 1")
	expect_refused POST "/v1/conversations/$c/messages" '{"content":"hi"}' "$bob_token" 404 not_found
	expect_refused POST "/v1/conversations/$c/messages/$m/regenerate" '{}' "$bob_token" 404 not_found
	expect_refused POST "/v1/conversations/$c/stop" '' "$bob_token" 404 not_found
	expect_refused GET "/v1/conversations/$c/events" '' "$bob_token" 404 not_found
	# bob's own conversation with alice's message id
	create "$bob_token" '{}'
	expect_refused POST "/v1/conversations/$conv_id/messages/$m/regenerate" '{}' "$bob_token" 404 not_found
	expect_refused POST "/v1/conversations/$conv_id/messages" "{\"content\":\"hi\",\"parent_id\":\"$m\"}" "$bob_token" 404 not_found
	# unknown and malformed ids
	for id in 01a00000-0000-7000-8000-000000000fff not-a-uuid; do
		expect_refused POST "/v1/conversations/$id/messages" '{"content":"hi"}' "$alice_token" 404 not_found
		expect_refused POST "/v1/conversations/$id/messages/$m/regenerate" '{}' "$alice_token" 404 not_found
		expect_refused POST "/v1/conversations/$c/messages/$id/regenerate" '{}' "$alice_token" 404 not_found
		expect_refused POST "/v1/conversations/$id/stop" '' "$alice_token" 404 not_found
		expect_refused GET "/v1/conversations/$id/events" '' "$alice_token" 404 not_found
	done
}

@test "DELETE during a generation stops it and leaves nothing behind" {
	local c words pid status_file=$BATS_TEST_TMPDIR/send.status
	create "$alice_token" '{"model":"echo"}'
	c=$conv_id
	words=$(printf 'w%d ' $(seq 1 150))		# 20 ms a word: 3 s
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST \
		-H "Authorization: Bearer $alice_token" -H 'Content-Type: application/json' \
		--data-binary "$(jq -nc --arg c "$words" '{content: $c}')" \
		"$(base_url)/v1/conversations/$c/messages" >"$status_file" 3>&- &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ $(db_query chatd "SELECT count(*) FROM messages WHERE conversation_id = '$c'") == 2 ]] && break
		sleep 0.05
	done
	api DELETE "/v1/conversations/$c" "" "$alice_token"
	expect_status 204
	wait "$pid" || true
	api GET "/v1/conversations/$c" "" "$alice_token"
	expect_error 404 not_found
	sleep 0.5		# a last batched write would come by now
	run -0 db_query chatd "SELECT count(*) FROM messages WHERE conversation_id = '$c'"
	[[ $output == 0 ]] || false
	run -0 db_query chatd "SELECT count(*) FROM conversations WHERE id = '$c'"
	[[ $output == 0 ]] || false
	process_alive "$(daemon_pid chatd)"
}

@test "a rename made while the automatic title is written wins over it" {
	local c words i
	create "$alice_token" '{"model":"echo"}'
	c=$conv_id
	words=$(printf 'word%d ' $(seq 1 30))	# the title request takes ~0.5 s
	send "$alice_token" "$c" "$(jq -nc --arg c "$words" '{content: $c}')"
	api PATCH "/v1/conversations/$c" '{"title":"mine"}' "$alice_token"
	expect_status 200
	# the automatic title of an untitled twin shows when it would land
	create "$alice_token" '{"model":"echo"}'
	send "$alice_token" "$conv_id" "$(jq -nc --arg c "$words" '{content: $c}')"
	for ((i = 0; i < 60; i++)); do
		api GET "/v1/conversations/$conv_id" "" "$alice_token"
		[[ $(jb .title) != null ]] && break
		sleep 0.1
	done
	[[ $(jb .title) == word1* ]] || false
	sleep 0.3
	api GET "/v1/conversations/$c" "" "$alice_token"
	[[ $(jb .title) == mine ]] || false
}

@test "chatd answers its health checks and keeps running" {
	run -0 curl -sf "http://127.0.0.1:$((CHAT_PORT + 3))/healthz"
	[[ $(jq -r .service <<<"$output") == chatd ]] || false
	run -0 curl -sf "http://127.0.0.1:$((CHAT_PORT + 3))/readyz"
	process_alive "$(daemon_pid chatd)"
}
