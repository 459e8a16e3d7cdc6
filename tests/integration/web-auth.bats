#!/usr/bin/env bats
# bats file_tags=store:any
# Browser sessions (issue 14): a login with "session": "cookie" keeps the
# refresh token in an HttpOnly cookie, refresh and logout read it from
# there, gatewayd refuses requests carrying it without an allowed Origin,
# and a WebSocket handshake from a foreign origin.  curl plays the
# browser: cookie jars (-c/-b) and an Origin header of its choosing.

bats_require_minimum_version 1.5.0

COOKIE=__Secure-chat_refresh
ALLOWED=http://allowed.example:8443

setup_file() {
	load test_helper
	# a short grace window, so that a reuse after it can be waited for;
	# a refresh lifetime of our own, to find in Max-Age
	start_stack "[sessiond]" "refresh_grace_s = 1" "refresh_ttl_s = 7200" \
		"[web]" "origins = https://other.example, $ALLOWED"
	# every event stays in the outboxes, for counts that mean something
	load events-pull
	events_hold userd sessiond
	register_user alice
	register_user bob
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	OWN=$(base_url)
	JAR=$BATS_TEST_TMPDIR/jar
}

# What a refused request must leave alone: every session, refresh token
# and event of sessiond and userd (held in the outboxes by events_hold).
stored_state() {
	db_query sessiond "SELECT id, expires_at, last_used_at, revoked_at FROM sessions ORDER BY id"
	db_query sessiond "SELECT token_hash, used_at FROM refresh_tokens ORDER BY token_hash"
	db_query sessiond "SELECT count(*) FROM outbox"
	db_query userd "SELECT count(*) FROM outbox"
}

# cookie_login NAME [ORIGIN]: a browser's login into $JAR; sets
# access_token and session_id.
cookie_login() {
	local n
	n=$(logins_stored "$1")
	api_args=(-c "$JAR" -H "Origin: ${2:-$OWN}")
	api POST /v1/auth/login "$(jq -nc --arg u "$1" --arg p "password-$1" \
		'{username: $u, password: $p, session: "cookie"}')"
	expect_status 200 || return 1
	access_token=$(jb .access_token)
	session_id=$(jwt_claim "$access_token" sid)
	# userd writes logged_in events in batches, after the answer (every
	# 100 ms): wait for this one, or a snapshot taken next sees it land
	# later.  The batches keep order, so earlier logins are in too.
	local deadline=$((SECONDS + 10))
	until (($(logins_stored "$1") > n)); do
		((SECONDS < deadline)) || { echo "no logged_in event for $1" >&2; return 1; }
		sleep 0.05
	done
}

# logins_stored NAME: how many logged_in events of NAME userd's outbox
# holds (events_hold keeps them all there).
logins_stored() {
	db_query userd "SELECT count(*) FROM outbox o JOIN users u ON u.id = o.user_id
		WHERE o.type = 'chat.user.logged_in' AND u.username = '$1'"
}

# The refresh cookie's value in $JAR ("" when none).
jar_cookie() {
	awk -v n="$COOKIE" '$6 == n { v = $7 } END { print v }' "$JAR"
}

# cookie_refresh [ORIGIN [BODY]]: POST /v1/auth/refresh with $JAR,
# updating it; ORIGIN "-" sends none.
cookie_refresh() {
	local origin=${1:-$OWN}
	api_args=(-b "$JAR" -c "$JAR")
	[[ $origin == - ]] || api_args+=(-H "Origin: $origin")
	api POST /v1/auth/refresh "${2-}"
}

# The Set-Cookie lines of the last answer.
set_cookies() {
	grep -i '^set-cookie:' <<<"$headers" | sed 's/^[^:]*: //' || true
}

# check_cookie VALUE-REGEX MAX-AGE: the last answer set exactly one
# cookie, ours, with exactly the contract's attributes.
check_cookie() {
	local line name value
	line=$(set_cookies)
	[[ $(wc -l <<<"$line") == 1 && -n $line ]] || {
		echo "expected one Set-Cookie, got: $line" >&2
		return 1
	}
	name=${line%%=*}
	value=${line#*=}
	value=${value%%;*}
	[[ $name == "$COOKIE" && $value =~ $1 ]] || {
		echo "cookie '$name' = '$value' is not $COOKIE =~ $1" >&2
		return 1
	}
	# the attributes one by one, in any order, nothing else
	tr ';' '\n' <<<"${line#*;}" | sed 's/^ *//; s/ *$//' | sort >"$BATS_TEST_TMPDIR/attrs"
	printf '%s\n' HttpOnly "Max-Age=$2" Path=/v1/auth SameSite=Strict Secure |
		sort >"$BATS_TEST_TMPDIR/attrs.expected"
	diff -u "$BATS_TEST_TMPDIR/attrs.expected" "$BATS_TEST_TMPDIR/attrs"
}

@test "a cookie login: the refresh token in an HttpOnly cookie, never in the body" {
	cookie_login alice
	[[ $(jq -r 'keys | join(",")' <<<"$body") == access_token,expires_in,token_type,user ]] || false
	[[ $(jb .token_type) == Bearer && $(jb .user.username) == alice ]] || false
	check_cookie '^[A-Za-z0-9_-]{43}$' 7200
	[[ $(header cache-control) == no-store ]] || false
	# curl kept it as a browser does, HttpOnly, for /v1/auth only
	grep -q "^#HttpOnly_127.0.0.1	FALSE	/v1/auth	TRUE	.*	$COOKIE	" "$JAR"
	[[ $(jar_cookie) =~ ^[A-Za-z0-9_-]{43}$ ]] || false
	# the token is sessiond's, of the access token's session
	run -0 db_query sessiond "SELECT session_id FROM refresh_tokens WHERE used_at IS NULL AND session_id = '$session_id'"
	[[ $output == "$session_id" ]] || false
	# its access token works like any
	api GET /v1/users/me "" "$access_token"
	expect_status 200
}

@test "a login without session mode is as before; an unknown mode is refused" {
	login_user alice
	[[ $refresh_token =~ ^[A-Za-z0-9_-]{43}$ ]] || false
	[[ -z $(set_cookies) ]] || false
	api POST /v1/auth/login '{"username":"alice","password":"password-alice","session":"body"}'
	expect_error 400 invalid_field
	api POST /v1/auth/login '{"username":"alice","password":"password-alice","session":1}'
	expect_error 400 invalid_field
}

@test "refresh by cookie rotates it; the old cookie shown again revokes the family" {
	local first second sid
	cookie_login alice
	sid=$session_id
	first=$(jar_cookie)
	cookie_refresh
	expect_status 200
	[[ $(jq -r 'keys | join(",")' <<<"$body") == access_token,expires_in,token_type,user ]] || false
	check_cookie '^[A-Za-z0-9_-]{43}$' 7200
	second=$(jar_cookie)
	[[ -n $second && $second != "$first" ]] || false
	[[ $(jwt_claim "$(jb .access_token)" sid) == "$sid" ]] || false
	# "{}" is an empty body too
	cookie_refresh "$OWN" '{}'
	expect_status 200
	second=$(jar_cookie)
	sleep 1.5			# past sessiond.refresh_grace_s
	api_args=(-H "Cookie: $COOKIE=$first" -H "Origin: $OWN")
	api POST /v1/auth/refresh
	expect_error 401 refresh_token_reused
	# the dead cookie is expired in the browser
	check_cookie '^$' 0
	run -0 db_query sessiond "SELECT revoke_reason FROM sessions WHERE id = '$sid'"
	[[ $output == reuse ]] || false
	cookie_refresh
	expect_error 401 invalid_refresh_token
}

@test "the cookie and a body token at once, or the cookie twice, are refused" {
	local tok before
	login_user bob
	cookie_login alice
	tok=$(jar_cookie)
	before=$(stored_state)
	cookie_refresh "$OWN" "$(jq -nc --arg t "$refresh_token" '{refresh_token: $t}')"
	expect_error 400 ambiguous_credentials
	api_args=(-H "Cookie: $COOKIE=$tok; $COOKIE=$tok" -H "Origin: $OWN")
	api POST /v1/auth/refresh
	expect_error 400 ambiguous_credentials
	[[ $(stored_state) == "$before" ]] || false
	# neither: the body's field is required, as before
	api_args=(-H "Origin: $OWN")
	api POST /v1/auth/refresh '{}'
	expect_error 400 invalid_field
}

@test "the cookie without an allowed Origin never reaches userd" {
	local before o
	cookie_login alice
	before=$(stored_state)
	for o in - http://evil.example null "$OWN.evil.example" "$OWN/" \
		"https://evil.example" "http://allowed.example" "${ALLOWED^^}"; do
		cookie_refresh "$o"
		expect_error 403 origin_refused
		[[ -z $(set_cookies) ]] || false
		api_args=(-b "$JAR")
		[[ $o == - ]] || api_args+=(-H "Origin: $o")
		api POST /v1/auth/logout
		expect_error 403 origin_refused
	done
	# anywhere under the cookie's path, a login too
	api_args=(-b "$JAR")
	api POST /v1/auth/login '{"username":"alice","password":"password-alice","session":"cookie"}'
	expect_error 403 origin_refused
	api_args=(-b "$JAR")
	api POST /v1/auth/refresh/ '{}'
	expect_error 403 origin_refused
	# nothing rotated, revoked or told
	[[ $(stored_state) == "$before" ]] || false
	# the gateway's own origin, over http or https (a TLS proxy), and
	# those of web.origins
	for o in "$OWN" "https://${OWN#http://}" "$ALLOWED" https://other.example; do
		cookie_refresh "$o"
		expect_status 200
	done
}

@test "a page of another site cannot log its visitor in" {
	local before
	before=$(stored_state)
	api_args=(-H "Origin: http://evil.example")
	api POST /v1/auth/login '{"username":"alice","password":"password-alice","session":"cookie"}'
	expect_error 403 origin_refused
	[[ -z $(set_cookies) ]] || false
	[[ $(stored_state) == "$before" ]] || false
	# clients that are no browsers send no Origin
	login_user alice
}

@test "logout by cookie alone revokes the session and clears the cookie" {
	local tok i
	cookie_login alice
	tok=$(jar_cookie)
	api_args=(-b "$JAR" -c "$JAR" -H "Origin: $OWN")
	api POST /v1/auth/logout
	expect_status 204
	check_cookie '^$' 0
	[[ $(header clear-site-data) == '"cookies"' ]] || false
	[[ -z $(jar_cookie) ]] || false
	run -0 db_query sessiond "SELECT revoke_reason FROM sessions WHERE id = '$session_id'"
	[[ $output == logout ]] || false
	api_args=(-H "Cookie: $COOKIE=$tok" -H "Origin: $OWN")
	api POST /v1/auth/refresh
	expect_error 401 invalid_refresh_token
	# the session's access token stops once the feed tells the gateway
	for ((i = 0; i < 40; i++)); do
		api GET /v1/users/me "" "$access_token"
		[[ $status_code == 401 ]] && break
		sleep 0.1
	done
	expect_error 401 session_revoked
}

@test "logout with the cookie and the Bearer token of the page" {
	cookie_login bob
	api_args=(-b "$JAR" -H "Origin: $OWN")
	api POST /v1/auth/logout "" "$access_token"
	expect_status 204
	check_cookie '^$' 0
	[[ $(header clear-site-data) == '"cookies"' ]] || false
	run -0 db_query sessiond "SELECT revoke_reason FROM sessions WHERE id = '$session_id'"
	[[ $output == logout ]] || false
	# the gateway refuses the token at once
	api GET /v1/users/me "" "$access_token"
	expect_error 401 session_revoked
}

@test "logout without a cookie is as before: Bearer only, no cookie set" {
	login_user bob
	api POST /v1/auth/logout "" "$access_token"
	expect_status 204
	[[ -z $(set_cookies) && -z $(header clear-site-data) ]] || false
	api POST /v1/auth/logout
	expect_error 401 unauthorized
}

@test "the cookie is no credential anywhere else" {
	local tok
	cookie_login alice
	tok=$(jar_cookie)
	api_args=(-H "Cookie: $COOKIE=$tok" -H "Origin: $OWN")
	api GET /v1/conversations
	expect_error 401 unauthorized
	api_args=(-H "Cookie: $COOKIE=$tok" -H "Origin: $OWN")
	api POST /v1/conversations '{}'
	expect_error 401 unauthorized
	api_args=(-H "Cookie: $COOKIE=$tok")
	api GET /v1/users/me
	expect_error 401 unauthorized
	api_args=(-H "Cookie: $COOKIE=$tok" -H "Origin: $OWN")
	api POST /v1/chat/completions '{"model":"echo","messages":[{"role":"user","content":"hi"}]}'
	[[ $status_code == 401 ]] || false
	api_args=(-H "Cookie: $COOKIE=$tok")
	api GET /v1/models
	[[ $status_code == 401 ]] || false
	# and it was not used up by any of that
	cookie_refresh
	expect_status 200
}

@test "the WebSocket handshake refuses foreign origins and keeps no token in a log" {
	local url
	cookie_login alice
	url="ws://127.0.0.1:$CHAT_PORT/v1/ws?access_token=$access_token"
	run -1 "$FIXTURES/wsclient" "$url" -H "Origin: http://evil.example" -t 5 </dev/null
	[[ $output == "error 403" ]] || false
	run -1 "$FIXTURES/wsclient" "$url" -H "Origin: null" -t 5 </dev/null
	[[ $output == "error 403" ]] || false
	# no Origin (chatui, chatctl), the configured one, and the
	# gateway's own (the fixture's default: http:// + its Host)
	run -0 "$FIXTURES/wsclient" "$url" -H "Origin:" -t 5 </dev/null
	[[ $output == $'open\nclosed 1000' ]] || false
	run -0 "$FIXTURES/wsclient" "$url" -H "Origin: $ALLOWED" -t 5 </dev/null
	[[ $output == $'open\nclosed 1000' ]] || false
	run -0 "$FIXTURES/wsclient" "$url" -t 5 </dev/null
	[[ $output == $'open\nclosed 1000' ]] || false
	# the token was in every URL: no log line has it
	run grep -rlF -e "$access_token" "$CHAT_DATA_DIR/log"
	[[ $status == 1 && -z $output ]] || false
	run grep -rlF -e "${access_token##*.}" "$CHAT_DATA_DIR/log"
	[[ $status == 1 && -z $output ]] || false
}

@test "web.origins entries must be plain origins" {
	run -1 --separate-stderr env CHAT_WEB_ORIGINS="http://ok.example, https://x.example/path" \
		CHAT_PORT="$(free_port)" CHAT_DATA_DIR="$BATS_TEST_TMPDIR/data" \
		timeout 20 "${CHAT_BIN:-$CHAT_ROOT/bin}/gatewayd" -c "$CHAT_CONFIG" 3>&-
	[[ $stderr == *"'web.origins' entry 'https://x.example/path' is not scheme://host[:port]"* ]] || false
}
