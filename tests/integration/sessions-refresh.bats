#!/usr/bin/env bats
# Refresh-token rotation and reuse detection (POST /v1/auth/refresh through
# userd to sessiond), and sessiond's internal API called directly with the
# stack's internal secret.

setup_file() {
	load test_helper
	start_stack
	register_user alice
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

refresh() {
	api POST /v1/auth/refresh "$(jq -nc --arg t "$1" '{refresh_token: $t}')"
}

sessions_rows() {
	db_query sessiond 'SELECT id, revoked_at, expires_at, last_used_at FROM sessions ORDER BY id'
}

tokens_rows() {
	db_query sessiond 'SELECT token_hash, used_at FROM refresh_tokens ORDER BY token_hash'
}

# internal METHOD PATH [BODY]: straight to sessiond with the secret.
internal() {
	local -a args=(-s -X "$1" --max-time 10 -o "$BATS_TEST_TMPDIR/int.body" -w '%{http_code}'
		-H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")")
	[[ -n ${3-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	status_code=$(curl "${args[@]}" "http://127.0.0.1:$((CHAT_PORT + 2))$2") || status_code=000
	body=$(cat "$BATS_TEST_TMPDIR/int.body")
}

@test "refresh rotates the token within the same session" {
	login_user alice
	local sid=$session_id first=$refresh_token uid
	uid=$(jwt_claim "$access_token" sub)
	[[ -n $uid ]] || false
	refresh "$first"
	expect_status 200
	local second
	second=$(jb .refresh_token)
	[[ -n $second && $second != "$first" ]] || false
	[[ $(jwt_claim "$(jb .access_token)" sid) == "$sid" ]] || false
	[[ $(jwt_claim "$(jb .access_token)" sub) == "$uid" ]] || false
	[[ $second =~ ^[A-Za-z0-9_-]{43}$ ]] || false
	# only hashes are stored
	[[ -z $(db_query sessiond "SELECT 1 FROM refresh_tokens WHERE token_hash = '$second'") ]] || false
	[[ $(db_query sessiond "SELECT count(*) FROM refresh_tokens WHERE session_id = '$sid' AND used_at IS NOT NULL") == 1 ]] || false

	refresh "$second"
	expect_status 200
	[[ $(jwt_claim "$(jb .access_token)" sid) == "$sid" ]] || false
}

@test "a token used again within the grace window gets the same successor" {
	login_user alice
	local sid=$session_id old=$refresh_token new
	refresh "$old"
	expect_status 200
	new=$(jb .refresh_token)

	# the default window is 10 s: the client that lost its first answer
	# (or raced itself) gets the same pair back, not a revoked session
	refresh "$old"
	expect_status 200
	[[ $(jb .refresh_token) == "$new" ]] || false
	[[ $(jwt_claim "$(jb .access_token)" sid) == "$sid" ]] || false
	api GET /v1/users/me "" "$(jb .access_token)"
	expect_status 200
	[[ $(db_query sessiond "SELECT revoked_at IS NULL FROM sessions WHERE id = '$sid'") =~ ^(1|t)$ ]] || false
	# one successor only, and it is still unused
	[[ $(db_query sessiond "SELECT count(*) FROM refresh_tokens WHERE session_id = '$sid'") == 2 ]] || false
	refresh "$new"
	expect_status 200
}

@test "the old token once its successor was used is reuse: the family is revoked" {
	login_user alice
	local sid=$session_id old=$refresh_token new newer
	refresh "$old"
	expect_status 200
	new=$(jb .refresh_token)
	refresh "$new"
	expect_status 200
	newer=$(jb .refresh_token)

	# within the window, but the holder of the session moved on: whoever
	# presents the old token now holds a copy
	refresh "$old"
	expect_error 401 refresh_token_reused
	# the token the legitimate holder got is dead too
	refresh "$newer"
	expect_error 401 invalid_refresh_token
	[[ $(db_query sessiond "SELECT revoke_reason FROM sessions WHERE id = '$sid'") == reuse ]] || false

	login_user alice
	api GET /v1/sessions "" "$access_token"
	[[ $(jb "[.data[].id] | index(\"$sid\")") == null ]] || false
}

@test "successors are derived: not the same for two tokens, not stored in clear" {
	local uid=01900000-0000-7000-8000-0000000000ef t1 t2 s1 s2
	internal POST /internal/sessions "{\"user_id\":\"$uid\"}"
	t1=$(jb .refresh_token)
	internal POST /internal/sessions "{\"user_id\":\"$uid\"}"
	t2=$(jb .refresh_token)
	internal POST /internal/refresh "{\"refresh_token\":\"$t1\"}"
	[[ $status_code == 200 ]] || false
	s1=$(jb .refresh_token)
	internal POST /internal/refresh "{\"refresh_token\":\"$t2\"}"
	[[ $status_code == 200 ]] || false
	s2=$(jb .refresh_token)
	[[ $s1 =~ ^[A-Za-z0-9_-]{43}$ && $s2 =~ ^[A-Za-z0-9_-]{43}$ && $s1 != "$s2" ]] || false
	[[ $s1 != "$t1" && $s2 != "$t2" ]] || false
	[[ -z $(db_query sessiond "SELECT 1 FROM refresh_tokens WHERE token_hash IN ('$s1', '$s2')") ]] || false
	[[ $(db_query sessiond "SELECT count(*) FROM refresh_tokens WHERE token_hash = '$(printf %s "$s1" | sha256sum | cut -d' ' -f1)'") == 1 ]] || false
}

@test "concurrent uses of one token all get the same successor; the session lives" {
	# straight to sessiond, all at once (curl --parallel), several rounds:
	# one claims the token, the others find it used within the grace
	# window with its successor unused
	local round i tok sid n200 ntok succ dir=$BATS_TEST_TMPDIR
	local -a args
	for round in 1 2 3 4; do
		internal POST /internal/sessions '{"user_id":"01900000-0000-7000-8000-0000000000ee"}'
		[[ $status_code == 201 ]] || false
		tok=$(jb .refresh_token)
		sid=$(jb .session_id)
		args=()
		for i in 1 2 3 4 5 6 7 8; do
			((i == 1)) || args+=(--next)
			args+=(-s -H "X-Chat-Internal: $(<"$CHAT_DATA_DIR/internal.key")"
				-H 'Content-Type: application/json'
				--data-binary "{\"refresh_token\":\"$tok\"}"
				-o "$dir/r$round-$i.json" -w '%{http_code}\n'
				"http://127.0.0.1:$((CHAT_PORT + 2))/internal/refresh")
		done
		curl --parallel --parallel-immediate --parallel-max 8 "${args[@]}" \
			>"$dir/codes$round" 2>/dev/null || true
		n200=$(grep -c '^200$' "$dir/codes$round" || true)
		ntok=$(cat "$dir"/r$round-*.json | jq -r '.refresh_token // empty' | sort -u | wc -l)
		[[ $n200 == 8 && $ntok == 1 ]] || {
			echo "round $round:" $(<"$dir/codes$round") >&2
			cat "$dir"/r$round-*.json >&2
			false
		}
		[[ $(cat "$dir"/r$round-*.json | jq -r .session_id | sort -u) == "$sid" ]] || false
		# one token claimed, one successor stored
		[[ $(db_query sessiond "SELECT count(*) FROM refresh_tokens WHERE session_id = '$sid'") == 2 ]] || false
		[[ $(db_query sessiond "SELECT revoked_at IS NULL FROM sessions WHERE id = '$sid'") =~ ^(1|t)$ ]] || false
		succ=$(jq -r .refresh_token "$dir/r$round-1.json")
		internal POST /internal/refresh "{\"refresh_token\":\"$succ\"}"
		[[ $status_code == 200 && $(jb .session_id) == "$sid" ]] || false
	done
}

@test "concurrent refreshes through the gateway: all get the same pair's session" {
	login_user alice
	local tok=$refresh_token sid=$session_id i n200 f pids=()
	for i in 1 2 3 4; do
		curl -s --max-time 10 -o "$BATS_TEST_TMPDIR/c$i.json" -w '%{http_code}\n' \
			-H 'Content-Type: application/json' \
			--data-binary "$(jq -nc --arg t "$tok" '{refresh_token: $t}')" \
			"$(base_url)/v1/auth/refresh" >"$BATS_TEST_TMPDIR/c$i.status" &
		pids+=($!)
	done
	# by pid: a bare wait also waits for bats' own timeout sleeper
	wait "${pids[@]}"
	n200=$(cat "$BATS_TEST_TMPDIR"/c*.status | grep -c '^200$' || true)
	[[ $n200 == 4 ]] || { cat "$BATS_TEST_TMPDIR"/c*.status "$BATS_TEST_TMPDIR"/c*.json >&2; false; }
	[[ $(cat "$BATS_TEST_TMPDIR"/c*.json | jq -r .refresh_token | sort -u | wc -l) == 1 ]] || false
	# every access token works and belongs to the same session
	for f in "$BATS_TEST_TMPDIR"/c*.json; do
		[[ $(jwt_claim "$(jq -r .access_token "$f")" sid) == "$sid" ]] || false
		api GET /v1/sessions "" "$(jq -r .access_token "$f")"
		expect_status 200
	done
	refresh "$(jq -r .refresh_token "$BATS_TEST_TMPDIR/c1.json")"
	expect_status 200
}

@test "bad refresh requests give clear errors and change nothing" {
	login_user alice
	local s_before t_before body_in
	s_before=$(sessions_rows)
	t_before=$(tokens_rows)
	refresh "unknown-token"
	expect_error 401 invalid_refresh_token
	refresh ""
	[[ $status_code == 400 || $status_code == 401 ]] || false
	for body_in in '{' '[]' '{"refresh_token":5}' '{"refresh_token":null}' '{}' \
		"$(printf '{"refresh_token":"\xff\xfe"}')"; do
		api POST /v1/auth/refresh "$body_in"
		[[ $status_code == 400 ]] || { echo "$body_in -> $status_code $body" >&2; false; }
		[[ -n $(jb .error.code) ]] || false
	done
	[[ $(sessions_rows) == "$s_before" ]] || false
	[[ $(tokens_rows) == "$t_before" ]] || false
	# the session still refreshes after all that
	refresh "$refresh_token"
	expect_status 200
}

@test "logout revokes the session: its refresh token stops working" {
	login_user alice
	local sid=$session_id tok=$refresh_token
	api POST /v1/auth/logout "" "$access_token"
	expect_status 204
	refresh "$tok"
	expect_error 401 invalid_refresh_token
	[[ $(db_query sessiond "SELECT revoked_at IS NOT NULL FROM sessions WHERE id = '$sid'") =~ ^(1|t)$ ]] || false
}

@test "an expired refresh token is refused" {
	login_user alice
	local sid=$session_id
	db_query sessiond "UPDATE refresh_tokens SET expires_at = 1000 WHERE session_id = '$sid'"
	refresh "$refresh_token"
	expect_error 401 invalid_refresh_token
	login_user alice
	sid=$session_id
	db_query sessiond "UPDATE sessions SET expires_at = 1000 WHERE id = '$sid'"
	refresh "$refresh_token"
	expect_error 401 invalid_refresh_token
}

@test "internal API: create, refresh, revoke, user revoke, revocation list" {
	local uid=01900000-0000-7000-8000-0000000000aa sid tok since
	since=$(($(date +%s) * 1000 - 1000))
	internal POST /internal/sessions "{\"user_id\":\"$uid\",\"user_agent\":\"cli\",\"ip\":\"::1\"}"
	[[ $status_code == 201 ]] || false
	sid=$(jb .session_id)
	tok=$(jb .refresh_token)
	[[ $(jb .expires_at) =~ ^[0-9-]+T[0-9:.]+Z$ ]] || false

	internal POST /internal/refresh "{\"refresh_token\":\"$tok\"}"
	[[ $status_code == 200 && $(jb .session_id) == "$sid" && $(jb .user_id) == "$uid" ]] || false

	internal POST "/internal/sessions/$sid/revoke"
	[[ $status_code == 204 ]] || false
	internal POST "/internal/sessions/$sid/revoke"
	[[ $status_code == 204 ]] || false	# idempotent
	internal POST /internal/sessions/01900000-0000-7000-8000-0000000000ab/revoke
	[[ $status_code == 404 && $(jb .error.code) == not_found ]] || false
	internal POST /internal/sessions/bad-id/revoke
	[[ $status_code == 404 ]] || false

	internal GET "/internal/revocations?since=$since"
	[[ $status_code == 200 ]] || false
	[[ $(jb "[.sessions[] | select(. == \"$sid\")] | length") == 1 ]] || false
	[[ $(jb .now) =~ ^[0-9]{13}$ ]] || false
	internal GET "/internal/revocations?since=$(($(jb .now) + 60000))"
	[[ $(jb '.sessions | length') == 0 ]] || false
	internal GET "/internal/revocations?since=-5"
	[[ $status_code == 400 ]] || false

	# user revoke: every live session of that user
	internal POST /internal/sessions "{\"user_id\":\"$uid\"}"
	local s2=$(jb .session_id) t2=$(jb .refresh_token)
	internal POST /internal/sessions "{\"user_id\":\"$uid\"}"
	local s3=$(jb .session_id)
	internal POST "/internal/users/$uid/revoke"
	[[ $status_code == 204 ]] || false
	internal POST /internal/refresh "{\"refresh_token\":\"$t2\"}"
	[[ $status_code == 401 && $(jb .error.code) == invalid_refresh_token ]] || false
	internal GET "/internal/revocations?since=$since"
	[[ $(jb "[.sessions[] | select(. == \"$s2\" or . == \"$s3\")] | length") == 2 ]] || false
}

@test "internal API: bad bodies give 400, no secret gives 403" {
	local before
	before=$(sessions_rows)
	internal POST /internal/sessions '{"user_id":"not-a-uuid"}'
	[[ $status_code == 400 && $(jb .error.code) == invalid_field ]] || false
	internal POST /internal/sessions '{"user_id":"01900000-0000-7000-8000-0000000000aa","user_agent":7}'
	[[ $status_code == 400 && $(jb .error.code) == invalid_field ]] || false
	internal POST /internal/sessions '{"user_agent":"x"}'
	[[ $status_code == 400 ]] || false
	internal POST /internal/sessions 'not json'
	[[ $status_code == 400 && $(jb .error.code) == invalid_json ]] || false
	internal POST /internal/refresh '{"refresh_token":["x"]}'
	[[ $status_code == 400 ]] || false
	[[ $(sessions_rows) == "$before" ]] || false

	run -0 curl -s -o /dev/null -w '%{http_code}' -d '{"user_id":"01900000-0000-7000-8000-0000000000aa"}' \
		"http://127.0.0.1:$((CHAT_PORT + 2))/internal/sessions"
	[[ $output == 403 ]] || false
	run -0 curl -s -o /dev/null -w '%{http_code}' -H 'X-Chat-Internal: wrong' \
		"http://127.0.0.1:$((CHAT_PORT + 2))/internal/revocations"
	[[ $output == 403 ]] || false
	[[ $(sessions_rows) == "$before" ]] || false
}

@test "a huge user agent with escapes and markup is stored as capped, escape-free text" {
	# HTTP refuses C0 controls but a tab in header values; 8-bit CSI
	# (0x9b), C1 in UTF-8 (c2 9b) and broken UTF-8 get through to userd
	local head i stored ua R
	head=$'Ma\xc3\xb1ana/1.0 (\xe2\x9c\x93) <script>alert(1)</script>\t\x9b[31mred\xc2\x9b[2J\xff '
	ua=$head
	for i in $(seq 1 400); do ua+=$'\x9b[2J\xc2\x9b[H<script>x</script>\t'; done
	((${#ua} > 10000)) || false
	api_args=(-H "User-Agent: $ua")
	login_user alice
	api GET /v1/sessions "" "$access_token"
	expect_status 200
	stored=$(jq -r --arg s "$session_id" '.data[] | select(.id == $s) | .user_agent' <<<"$body")
	[[ -n $stored ]] || false
	(($(printf %s "$stored" | wc -c) <= 256)) || false
	# no C0 controls (tab included), DEL or C1 controls in what is shown
	[[ $(jq -r --arg s "$session_id" '.data[] | select(.id == $s) | .user_agent | explode | map(select(. < 32 or (. >= 127 and . < 160))) | length' <<<"$body") == 0 ]] || false
	# text stays text: the markup as typed, non-ASCII kept, each control
	# or broken byte a visible U+FFFD
	R=$'\xef\xbf\xbd'
	[[ $stored == $'Ma\xc3\xb1ana/1.0 (\xe2\x9c\x93) <script>alert(1)</script>'"$R$R[31mred$R[2J$R $R[2J$R[H<script>x</script>$R"* ]] || {
		printf '%s\n' "$stored" | od -c | head >&2
		false
	}
	# the store holds the same text
	[[ $(db_query sessiond "SELECT user_agent FROM sessions WHERE id = '$session_id'") == "$stored" ]] || false
}

@test "sessiond cleans a user agent handed to it directly, too" {
	local uid=01900000-0000-7000-8000-0000000000ad stored
	internal POST /internal/sessions "$(jq -nc --arg u "$uid" '{user_id: $u, user_agent: "a\u001b[31mb\u0085c\u007fd"}')"
	[[ $status_code == 201 ]] || false
	stored=$(db_query sessiond "SELECT user_agent FROM sessions WHERE id = '$(jb .session_id)'")
	[[ $stored == $'a\xef\xbf\xbd[31mb\xef\xbf\xbdc\xef\xbf\xbdd' ]] || false
}

@test "a long user agent is cut, not refused" {
	local uid=01900000-0000-7000-8000-0000000000ac ua
	ua=$(printf 'é%.0s' {1..300})
	internal POST /internal/sessions "$(jq -nc --arg u "$uid" --arg a "$ua" '{user_id: $u, user_agent: $a}')"
	[[ $status_code == 201 ]] || false
	local stored
	stored=$(db_query sessiond "SELECT user_agent FROM sessions WHERE id = '$(jb .session_id)'")
	[[ $(printf %s "$stored" | wc -c) == 256 ]] || false	# 128 two-byte characters
	[[ $stored == é* ]] || false
}
