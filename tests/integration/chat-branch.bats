#!/usr/bin/env bats
# Paging the current branch of a conversation: GET /v1/conversations/{id}
# ?messages=N (its newest N messages and the messages_before cursor) and
# GET /v1/conversations/{id}/branch?before=MID&limit=N (MID and its
# nearest ancestors).  A seeded 300-message branch, paged with every page
# size, gives back exactly the whole branch of the plain GET: no gap, no
# duplicate, the same sibling_ids.  The ends, other users' and unknown ids
# and bad limits.
#
# Message trees are written straight into chatd's store (one INSERT).

# The accounts and alice's long branch, made once here so that each test
# can also run alone (bats -f): 300 messages in a line, then a second root
# and a sibling of message 150, both newer.
setup_file() {
	local c i m r rows=() prev=""
	load test_helper
	start_stack "[routes]" "/v1/conversations = chatd"
	new_user alice
	save alice_token "$access_token"
	save alice_id "$user_id"
	new_user bob
	save bob_token "$access_token"
	save bob_id "$user_id"
	api POST /v1/conversations '{"title":"Long"}' "$alice_token"
	expect_status 201
	c=$(jb .id)
	save long_id "$c"
	# printf -v, not $(mid) and $(row): 900 forks fewer
	for ((i = 1; i <= 300; i++)); do
		printf -v m "$MID" "$i"
		row -v r "$m" "$c" "$alice_id" "$prev" $((1700000000000 + i * 1000))
		rows+=("$r")
		prev=$m
	done
	rows+=("$(row 01b00000-0000-7000-8000-100000000001 "$c" "$alice_id" "" 1700001000000)")
	rows+=("$(row 01b00000-0000-7000-8000-100000000150 "$c" "$alice_id" "$(mid 149)" 1700001000001)")
	seed_rows "${rows[@]}"
	db_query chatd "UPDATE conversations SET current_leaf_id = '$(mid 300)' WHERE id = '$c'"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/vars"
}

# save NAME VALUE: keeps a variable of setup_file for the tests.
save() {
	echo "$1=$2" >>"$BATS_FILE_TMPDIR/vars"
	printf -v "$1" '%s' "$2"
}

# mid I: the id of the I-th message of the long branch.
MID='01b00000-0000-7000-8000-%012d'
mid() {
	printf "$MID" "$1"
}

# row [-v VAR] ID CONV USER PARENT CREATED_AT: one VALUES row of a
# message, on stdout or into VAR.
row() {
	local -a out=()
	if [[ $1 == -v ]]; then
		out=(-v "$2")
		shift 2
	fi
	local parent=NULL
	[[ -n $4 ]] && parent="'$4'"
	printf "${out[@]}" "('%s', '%s', '%s', %s, 'user', 'message %s', NULL, 'complete', %s, %s)" \
		"$1" "$2" "$3" "$parent" "$1" "$5" "$5"
}

# seed_rows ROW...: one INSERT of all the rows.
seed_rows() {
	local IFS=,
	db_query chatd "INSERT INTO messages (id, conversation_id, user_id,
		parent_id, role, content, model, status, created_at, updated_at)
		VALUES $*"
}

# page_all TOKEN CONV N: pages the current branch backwards, N at a time,
# from ?messages=N then branch?before=, into $paged (the messages, root
# first, as one JSON array) and $npages.
page_all() {
	local token=$1 c=$2 n=$3 cursor pages
	api GET "/v1/conversations/$c?messages=$n" "" "$token"
	expect_status 200 || return 1
	paged=$(jq -c '.messages' <<<"$body")
	npages=1
	cursor=$(jb '.messages_before // empty')
	while [[ -n $cursor ]]; do
		# only the page with the root may be short
		[[ $(jq '.messages | length' <<<"$body") == "$n" ]] || {
			echo "page $npages is short but has a cursor" >&2
			return 1
		}
		api GET "/v1/conversations/$c/branch?before=$cursor&limit=$n" "" "$token"
		expect_status 200 || return 1
		[[ $(jq -r '.messages[-1].id' <<<"$body") == "$cursor" ]] || {
			echo "the page does not end at $cursor: $body" >&2
			return 1
		}
		paged=$(jq -c --argjson rest "$paged" '.messages + $rest' <<<"$body")
		npages=$((npages + 1))
		cursor=$(jb '.messages_before // empty')
		((npages <= 400)) || return 1
	done
}

@test "the plain GET returns all of the seeded 300-message branch" {
	local c=$long_id
	api GET "/v1/conversations/$c" "" "$alice_token"
	expect_status 200
	[[ $(jq '.messages | length' <<<"$body") == 300 ]] || false
	[[ $(jq -r '.messages[0].id, .messages[299].id' <<<"$body" | tr '\n' ' ') == "$(mid 1) $(mid 300) " ]] || false
	# the plain GET is unchanged: no cursor field
	[[ $(jq 'has("messages_before")' <<<"$body") == false ]] || false
	[[ $(jq -c '.messages[0].sibling_ids' <<<"$body") == "[\"$(mid 1)\",\"01b00000-0000-7000-8000-100000000001\"]" ]] || false
	[[ $(jq -c '.messages[149].sibling_ids' <<<"$body") == "[\"$(mid 150)\",\"01b00000-0000-7000-8000-100000000150\"]" ]] || false
	[[ $(jq -c '.messages[150].sibling_ids' <<<"$body") == "[\"$(mid 151)\"]" ]] || false
}

@test "paging with every page size gives exactly the whole branch" {
	local full n
	# the whole branch, as the plain GET (checked by the test above) has it
	api GET "/v1/conversations/$long_id" "" "$alice_token"
	expect_status 200
	full=$(jq -c '.messages' <<<"$body")
	for n in 3 7 100 299 300 1000; do
		page_all "$alice_token" "$long_id" $n
		[[ $paged == "$full" ]] || {
			echo "pages of $n differ from the whole branch" >&2
			diff <(jq -r '.[].id' <<<"$full") <(jq -r '.[].id' <<<"$paged") | head >&2
			false
		}
		[[ $npages == $(((300 + n - 1) / n)) ]] || false
	done
}

@test "the ends of a branch and of a page" {
	local c=$long_id
	api GET "/v1/conversations/$c?messages=3" "" "$alice_token"
	expect_status 200
	[[ $(jq -r '[.messages[].id] | join(" ")' <<<"$body") == "$(mid 298) $(mid 299) $(mid 300)" ]] || false
	[[ $(jb .messages_before) == "$(mid 297)" ]] || false
	[[ $(jb .current_leaf_id) == "$(mid 300)" && $(jb .title) == Long ]] || false
	api GET "/v1/conversations/$c?messages=300" "" "$alice_token"
	[[ $(jq '.messages | length' <<<"$body") == 300 && $(jb .messages_before) == null ]] || false
	api GET "/v1/conversations/$c?messages=299" "" "$alice_token"
	[[ $(jb .messages_before) == "$(mid 1)" ]] || false
	# the root alone
	api GET "/v1/conversations/$c/branch?before=$(mid 1)&limit=5" "" "$alice_token"
	expect_status 200
	[[ $(jq -c '[.messages[].id, .messages_before]' <<<"$body") == "[\"$(mid 1)\",null]" ]] || false
	[[ $(jq -c 'keys' <<<"$body") == '["messages","messages_before"]' ]] || false
	# no before: the current leaf; no limit: 100
	api GET "/v1/conversations/$c/branch" "" "$alice_token"
	expect_status 200
	[[ $(jq '.messages | length' <<<"$body") == 100 ]] || false
	[[ $(jq -r '.messages[0].id, .messages[99].id, .messages_before' <<<"$body" | tr '\n' ' ') == "$(mid 201) $(mid 300) $(mid 200) " ]] || false
	# a message off the current branch, id in capitals
	api GET "/v1/conversations/$c/branch?before=01B00000-0000-7000-8000-100000000150&limit=1000" "" "$alice_token"
	expect_status 200
	[[ $(jq '.messages | length' <<<"$body") == 150 && $(jb .messages_before) == null ]] || false
	[[ $(jq -r '.messages[148].id, .messages[149].id' <<<"$body" | tr '\n' ' ') == "$(mid 149) 01b00000-0000-7000-8000-100000000150 " ]] || false
	[[ $(jq -c '.messages[149].sibling_ids' <<<"$body") == "[\"$(mid 150)\",\"01b00000-0000-7000-8000-100000000150\"]" ]] || false
	[[ $(jq -c '.messages[0].sibling_ids' <<<"$body") == "[\"$(mid 1)\",\"01b00000-0000-7000-8000-100000000001\"]" ]] || false
	# the middle of the branch
	api GET "/v1/conversations/$c/branch?before=$(mid 150)&limit=2" "" "$alice_token"
	[[ $(jq -c '[.messages[].id, .messages_before]' <<<"$body") == "[\"$(mid 149)\",\"$(mid 150)\",\"$(mid 148)\"]" ]] || false
	[[ $(jq -c '.messages[1].sibling_ids' <<<"$body") == "[\"$(mid 150)\",\"01b00000-0000-7000-8000-100000000150\"]" ]] || false
	# an empty conversation
	api POST /v1/conversations '{"title":"Empty"}' "$alice_token"
	c=$(jb .id)
	api GET "/v1/conversations/$c?messages=5" "" "$alice_token"
	expect_status 200
	[[ $(jq -c '[.messages, .messages_before]' <<<"$body") == '[[],null]' ]] || false
	api GET "/v1/conversations/$c/branch" "" "$alice_token"
	expect_status 200
	[[ $body == '{"messages":[],"messages_before":null}' ]] || false
}

@test "another user's, unknown and malformed ids are 404" {
	local c=$long_id other bobs m
	api POST /v1/conversations '{"title":"Other"}' "$alice_token"
	other=$(jb .id)
	seed_rows "$(row 01b00000-0000-7000-8000-2000000000a1 "$other" "$alice_id" "" 1700002000000)"
	api POST /v1/conversations '{"title":"Bob"}' "$bob_token"
	bobs=$(jb .id)
	seed_rows "$(row 01b00000-0000-7000-8000-2000000000b1 "$bobs" "$bob_id" "" 1700002000001)"
	db_query chatd "UPDATE conversations SET current_leaf_id = '01b00000-0000-7000-8000-2000000000b1' WHERE id = '$bobs'"
	# someone else's conversation, an unknown one, a malformed one
	for m in "$bobs" 01b00000-0000-7000-8000-0000000fffff not-an-id; do
		api GET "/v1/conversations/$m?messages=5" "" "$alice_token"
		expect_error 404 not_found
		api GET "/v1/conversations/$m/branch" "" "$alice_token"
		expect_error 404 not_found
	done
	api GET "/v1/conversations/$c/branch?before=$(mid 5)" "" "$bob_token"
	expect_error 404 not_found
	# a message of another conversation, of another user, unknown, malformed
	for m in 01b00000-0000-7000-8000-2000000000a1 01b00000-0000-7000-8000-2000000000b1 \
		01b00000-0000-7000-8000-0000000fffff not-an-id "" "$c"; do
		api GET "/v1/conversations/$c/branch?before=$m&limit=5" "" "$alice_token"
		expect_error 404 not_found
		[[ $(jb .error.message) == "no such message" ]] || false
	done
}

@test "bad page sizes are 400 invalid_field" {
	local c=$long_id v
	for v in 0 1001 -1 +5 abc "" 1.5 10x 99999999999999999999 %2010; do
		api GET "/v1/conversations/$c?messages=$v" "" "$alice_token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'messages' must be an integer from 1 to 1000" ]] || false
		api GET "/v1/conversations/$c/branch?before=$(mid 10)&limit=$v" "" "$alice_token"
		expect_error 400 invalid_field
		[[ $(jb .error.message) == "'limit' must be an integer from 1 to 1000" ]] || false
	done
	api GET "/v1/conversations/$c?messages=1000" "" "$alice_token"
	expect_status 200
	[[ $(jq '.messages | length' <<<"$body") == 300 ]] || false
}
