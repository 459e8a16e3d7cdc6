#!/usr/bin/env bats
# POST /v1/auth/login through the gateway: the token answer, one error for
# unknown users and wrong passwords, disabled accounts, the slowing of
# repeated failures of one username (429 with Retry-After, doubling), and
# bad bodies.  The first wait is set to 1 s so the doubling can be
# watched.  All of this file's failures come from 127.0.0.1: the per-address
# allowance is raised out of the way here (auth-throttle.bats tests it).

# The accounts, registered once here so that each test can also run
# alone (bats -f): root (the admin) and alice.
setup_file() {
	load test_helper
	start_stack "[userd]" "login_delay_ms = 1000" \
		"login_address_free_failures = 1000"
	register_user root
	register_user alice
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
}

# The stored accounts and every session, for before/after comparisons.
stored_state() {
	db_query userd "SELECT id, username, password_hash, role, disabled,
		updated_at FROM users ORDER BY id"
	db_query sessiond "SELECT id, user_id, revoked_at FROM sessions ORDER BY id"
}

# login_raw BODY
login_raw() {
	api POST /v1/auth/login "$1"
}

# creds USER PASSWORD: a login body.
creds() {
	jq -nc --arg u "$1" --arg p "$2" '{username: $u, password: $p}'
}

@test "login answers tokens and the user" {
	local me
	login_user alice
	api GET /v1/users/me "" "$access_token"
	expect_status 200
	me=$body
	login_user alice
	[[ $(jq -r 'keys | join(",")' <<<"$body") == access_token,expires_in,refresh_token,token_type,user ]] || false
	[[ $(jb .token_type) == Bearer && $(jb .expires_in) == 900 ]] || false
	[[ $(jq -c .user <<<"$body") == "$(jq -c . <<<"$me")" ]] || false
	[[ $refresh_token =~ ^[A-Za-z0-9_-]{43}$ ]] || false
	[[ $(jwt_claim "$access_token" sub) == "$(jb .user.id)" ]] || false
	[[ $(jwt_claim "$access_token" role) == user ]] || false
	[[ $(jwt_claim "$access_token" typ) == access ]] || false
	(($(jwt_claim "$access_token" exp) - $(jwt_claim "$access_token" iat) == 900)) || false
	[[ $session_id =~ ^[0-9a-f-]{36}$ ]] || false
	[[ -n $(jwt_claim "$access_token" jti) ]] || false
}

@test "the access token is signed by a key of the JWKS" {
	local header kid
	login_user alice
	header=$(cut -d. -f1 <<<"$access_token" | tr '_-' '/+')
	while ((${#header} % 4)); do header+='='; done
	kid=$(base64 -d <<<"$header" | jq -r .kid)
	[[ $(base64 -d <<<"$header" | jq -r .alg) == EdDSA ]] || false
	api GET /.well-known/jwks.json
	expect_status 200
	[[ $(jq -r --arg k "$kid" '.keys[] | select(.kid == $k) | .kty + " " + .crv + " " + .alg' <<<"$body") == "OKP Ed25519 EdDSA" ]] || false
	# public keys only
	[[ $(jq '[.keys[] | has("d")] | any' <<<"$body") == false ]] || false
}

@test "every login makes a new session with the client's user agent" {
	local before
	before=$(db_query sessiond "SELECT COUNT(*) FROM sessions")
	api_args=(-H 'User-Agent: login-test/1.0')
	login_raw "$(creds alice password-alice)"
	expect_status 200
	run -0 db_query sessiond "SELECT COUNT(*) FROM sessions"
	((output == before + 1)) || false
	run -0 db_query sessiond "SELECT user_agent FROM sessions ORDER BY id DESC LIMIT 1"
	[[ $output == login-test/1.0 ]] || false
}

@test "the username is matched whatever its case" {
	login_user ALICE password-alice
	[[ $(jb .user.username) == alice ]] || false
	login_user Root password-root
	[[ $(jb .user.role) == admin ]] || false
}

@test "an unknown user and a wrong password get the same answer" {
	local before wrong unknown
	before=$(stored_state)
	login_raw "$(creds alice wrong-password)"
	expect_error 401 invalid_credentials
	wrong=$(jq -c 'del(.error.request_id)' <<<"$body")
	login_raw "$(creds nobody-here wrong-password)"
	expect_error 401 invalid_credentials
	unknown=$(jq -c 'del(.error.request_id)' <<<"$body")
	[[ $wrong == "$unknown" ]] || false
	# a name that could never exist answers the same too
	login_raw "$(creds 'x' wrong-password)"
	[[ $(jq -c 'del(.error.request_id)' <<<"$body") == "$wrong" ]] || false
	login_raw "$(creds alice "$(head -c 2000 /dev/zero | tr '\0' p)")"
	[[ $(jq -c 'del(.error.request_id)' <<<"$body") == "$wrong" ]] || false
	[[ $(stored_state) == "$before" ]] || false
}

@test "bad bodies are refused and make no session" {
	local before b f
	before=$(stored_state)
	for b in '{"username":' '[]' '"x"' '{"username":"alice","password":"password-alice"' \
		'{"username":"alice","password":"password-alice\u0000"}'; do
		login_raw "$b"
		expect_error 400 invalid_json
	done
	for b in '{"username":"alice"}' '{"password":"password-alice"}' \
		'{"username":1,"password":"password-alice"}' \
		'{"username":"alice","password":null}' \
		'{"username":"alice","password":["password-alice"]}'; do
		login_raw "$b"
		expect_error 400 invalid_field
	done
	f=$BATS_TEST_TMPDIR/bad.json
	printf '{"username":"alice","password":"password-alice\xfe"}' >"$f"
	login_raw "@$f"
	expect_error 400 invalid_json
	f=$(big_json_file $((2 * 1024 * 1024)))
	login_raw "@$f"
	expect_error 413 payload_too_large
	[[ $(stored_state) == "$before" ]] || false
}

@test "a disabled account is refused only after the right password" {
	local root_token
	register_user dave
	login_user root
	root_token=$access_token
	api PATCH "/v1/admin/users/$user_id" '{"disabled":true}' "$root_token"
	expect_status 200
	login_raw "$(creds dave wrong-password)"
	expect_error 401 invalid_credentials
	login_raw "$(creds dave password-dave)"
	expect_error 403 account_disabled
	api PATCH "/v1/admin/users/$user_id" '{"disabled":false}' "$root_token"
	expect_status 200
	login_user dave
}

@test "after five failures the username waits, with 429 and Retry-After" {
	local i before
	register_user erin
	for i in 1 2 3 4 5; do
		login_raw "$(creds erin wrong-$i)"
		expect_error 401 invalid_credentials
	done
	before=$(stored_state)
	login_raw "$(creds erin password-erin)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 1 ]] || false
	[[ $(stored_state) == "$before" ]] || false
	# other usernames are not affected
	login_user alice
	sleep 1.2
	login_user erin
}

@test "the wait doubles with each further failure" {
	local i
	register_user frank
	for i in 1 2 3 4 5; do
		login_raw "$(creds frank wrong-$i)"
	done
	login_raw "$(creds frank wrong-6)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 1 ]] || false
	sleep 1.2
	login_raw "$(creds frank wrong-6)"
	expect_error 401 invalid_credentials
	login_raw "$(creds frank wrong-7)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 2 ]] || false
	sleep 2.2
	login_raw "$(creds frank wrong-7)"
	expect_error 401 invalid_credentials
	login_raw "$(creds frank password-frank)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) =~ ^[34]$ ]] || false
}

@test "failures count for the username whatever its case" {
	local i
	register_user grace
	for i in 1 2 3 4 5; do
		if ((i % 2)); then
			login_raw "$(creds GRACE wrong-$i)"
		else
			login_raw "$(creds grace wrong-$i)"
		fi
		expect_error 401 invalid_credentials
	done
	login_raw "$(creds Grace password-grace)"
	expect_error 429 too_many_attempts
}

@test "unknown usernames wait too, so waits reveal nothing" {
	local i
	for i in 1 2 3 4 5; do
		login_raw "$(creds ghost-user wrong-$i)"
		expect_error 401 invalid_credentials
	done
	login_raw "$(creds ghost-user wrong-6)"
	expect_error 429 too_many_attempts
	[[ $(header Retry-After) == 1 ]] || false
}

@test "a successful login forgets earlier failures" {
	local i
	register_user heidi
	for i in 1 2 3 4; do
		login_raw "$(creds heidi wrong-$i)"
		expect_error 401 invalid_credentials
	done
	login_user heidi
	for i in 1 2 3 4; do
		login_raw "$(creds heidi wrong-$i)"
		expect_error 401 invalid_credentials
	done
	login_user heidi
}

@test "login answers 503 while sessiond is down and recovers" {
	local before
	before=$(stored_state)
	stop_daemon sessiond
	login_raw "$(creds alice password-alice)"
	expect_error 503 upstream_unavailable
	start_daemon sessiond
	[[ $(stored_state) == "$before" ]] || false
	login_user alice
}
