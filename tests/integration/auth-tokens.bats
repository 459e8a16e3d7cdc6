#!/usr/bin/env bats
# Access tokens through the gateway: the JWKS, and tokens that are missing,
# expired, forged with another key, unsigned (alg none), signed with HMAC,
# tampered with, or of the wrong type.  Tokens are made here with openssl:
# a token signed with userd's own key (read from its store) must pass, so
# the refusals are known to come from what each case changes.

# The accounts, registered once here so that each test can also run alone
# (bats -f): root (the admin), then alice, whose ids setup reads.
setup_file() {
	load test_helper
	start_stack
	register_user root
	new_user alice
	echo "alice_id=$user_id" >"$BATS_FILE_TMPDIR/ids"
	echo "alice_sid=$session_id" >>"$BATS_FILE_TMPDIR/ids"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	source "$BATS_FILE_TMPDIR/ids"
}

b64url() {
	base64 -w0 | tr '+/' '-_' | tr -d '='
}

b64url_decode() {
	local s
	s=$(tr '_-' '/+' <<<"$1")
	while ((${#s} % 4)); do s+='='; done
	base64 -d <<<"$s"
}

# real_key: writes userd's newest signing key to real.pem, prints its kid.
real_key() {
	local row
	row=$(db_query userd "SELECT kid, secret_key FROM signing_keys ORDER BY created_at DESC, kid DESC LIMIT 1")
	# libsodium's secret key is seed || public key; PKCS#8 wants the seed
	{
		printf '302e020100300506032b657004220420'
		b64url_decode "${row#*|}" | head -c 32 | xxd -p -c 64
	} | xxd -r -p | openssl pkey -inform DER -out "$BATS_TEST_TMPDIR/real.pem"
	echo "${row%%|*}"
}

# other_key: a fresh Ed25519 key in other.pem.
other_key() {
	openssl genpkey -algorithm ed25519 -out "$BATS_TEST_TMPDIR/other.pem"
}

# sign HEADER PAYLOAD PEM: a compact JWS.
sign() {
	local h p
	h=$(printf '%s' "$1" | b64url)
	p=$(printf '%s' "$2" | b64url)
	printf '%s.%s' "$h" "$p" >"$BATS_TEST_TMPDIR/input"
	echo "$h.$p.$(openssl pkeyutl -sign -inkey "$3" -rawin -in "$BATS_TEST_TMPDIR/input" | b64url)"
}

# claims ROLE EXP [TYP]: alice's claims.
claims() {
	local now
	now=$(date +%s)
	jq -nc --arg sub "$alice_id" --arg sid "$alice_sid" --arg role "$1" \
		--argjson iat "$now" --argjson exp "$((now + $2))" --arg typ "${3:-access}" \
		'{sub: $sub, sid: $sid, role: $role, typ: $typ, iat: $iat, exp: $exp, jti: "test"}'
}

eddsa_header() {
	jq -nc --arg kid "$1" '{alg: "EdDSA", typ: "JWT", kid: $kid}'
}

# The accounts and profiles, for before/after comparisons.
stored_users() {
	db_query userd "SELECT id, username, role, disabled, display_name,
		theme, updated_at FROM users ORDER BY id"
}

# expect_refused TOKEN CODE: the token opens neither a read nor a write,
# and nothing stored changes.
expect_refused() {
	local before
	before=$(stored_users)
	api GET /v1/users/me "" "$1"
	expect_error 401 "$2"
	api PATCH /v1/users/me '{"display_name":"pwned"}' "$1"
	expect_error 401 "$2"
	api GET /v1/admin/users "" "$1"
	expect_error 401 "$2"
	[[ $(stored_users) == "$before" ]] || false
}

@test "the JWKS lists userd's Ed25519 public keys" {
	local kid
	kid=$(real_key)
	api GET /.well-known/jwks.json
	expect_status 200
	[[ $(header Content-Type) == application/json* ]] || false
	[[ $(jq -c '[.keys[] | keys]' <<<"$body") == '[["alg","crv","kid","kty","use","x"]]' ]] || false
	[[ $(jq -r '.keys[0] | [.kid, .kty, .crv, .alg, .use] | join(" ")' <<<"$body") == "$kid OKP Ed25519 EdDSA sig" ]] || false
	# x is the public half of the stored key
	[[ $(jq -r '.keys[0].x' <<<"$body") == "$(openssl pkey -in "$BATS_TEST_TMPDIR/real.pem" -pubout -outform DER | tail -c 32 | b64url)" ]] || false
}

@test "a token signed here with userd's key is accepted" {
	local kid
	kid=$(real_key)
	api GET /v1/users/me "" "$(sign "$(eddsa_header "$kid")" "$(claims user 600)" "$BATS_TEST_TMPDIR/real.pem")"
	expect_status 200
	[[ $(jb .id) == "$alice_id" ]] || false
}

@test "no token: routes that need a caller answer 401" {
	local before
	before=$(stored_users)
	api GET /v1/users/me
	expect_error 401 unauthorized
	api PATCH /v1/users/me '{"display_name":"x"}'
	expect_error 401 unauthorized
	api GET /v1/apikeys
	expect_error 401 unauthorized
	api GET /v1/admin/users
	expect_error 401 unauthorized
	[[ $(stored_users) == "$before" ]] || false
}

@test "an expired token is refused with token_expired" {
	expect_refused "$(sign "$(eddsa_header "$(real_key)")" "$(claims user -60)" "$BATS_TEST_TMPDIR/real.pem")" token_expired
}

@test "a token signed with another key is refused" {
	local kid
	kid=$(real_key)
	other_key
	expect_refused "$(sign "$(eddsa_header "$kid")" "$(claims admin 600)" "$BATS_TEST_TMPDIR/other.pem")" invalid_token
	expect_refused "$(sign "$(eddsa_header unknown-kid-0000)" "$(claims admin 600)" "$BATS_TEST_TMPDIR/other.pem")" invalid_token
}

@test "an unsigned token (alg none) is refused" {
	local kid h p
	kid=$(real_key)
	h=$(jq -nc --arg kid "$kid" '{alg: "none", typ: "JWT", kid: $kid}' | tr -d '\n' | b64url)
	p=$(claims admin 600 | tr -d '\n' | b64url)
	expect_refused "$h.$p." invalid_token
	# alg none with a real signature of that input
	printf '%s.%s' "$h" "$p" >"$BATS_TEST_TMPDIR/input"
	expect_refused "$h.$p.$(openssl pkeyutl -sign -inkey "$BATS_TEST_TMPDIR/real.pem" -rawin -in "$BATS_TEST_TMPDIR/input" | b64url)" invalid_token
}

@test "an HMAC token keyed with the public key is refused" {
	local kid x h p s
	kid=$(real_key)
	api GET /.well-known/jwks.json
	x=$(jq -r '.keys[0].x' <<<"$body")
	h=$(jq -nc --arg kid "$kid" '{alg: "HS256", typ: "JWT", kid: $kid}' | tr -d '\n' | b64url)
	p=$(claims admin 600 | tr -d '\n' | b64url)
	s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -mac HMAC -macopt "key:$x" -binary | b64url)
	expect_refused "$h.$p.$s" invalid_token
}

@test "a tampered payload is refused" {
	local parts p
	login_user alice password-alice
	IFS=. read -ra parts <<<"$access_token"
	p=$(b64url_decode "${parts[1]}" | jq -c '.role = "admin"' | tr -d '\n' | b64url)
	expect_refused "${parts[0]}.$p.${parts[2]}" invalid_token
	# the untouched token still works
	api GET /v1/users/me "" "$access_token"
	expect_status 200
}

@test "a token of another type is refused" {
	expect_refused "$(sign "$(eddsa_header "$(real_key)")" "$(claims user 600 refresh)" "$BATS_TEST_TMPDIR/real.pem")" invalid_token
}

@test "garbage bearer tokens are refused" {
	local t
	for t in abc a.b.c 'eyJhbGciOiJFZERTQSJ9..' "$(head -c 1000 /dev/zero | tr '\0' A)"; do
		expect_refused "$t" invalid_token
	done
}

@test "identity headers sent by a client are ignored" {
	local before
	before=$(stored_users)
	api_args=(-H "X-Chat-User-Id: $alice_id" -H 'X-Chat-Role: admin' -H 'X-Chat-Internal: guess')
	api GET /v1/admin/users
	expect_error 401 unauthorized
	api_args=(-H "X-Chat-User-Id: $alice_id" -H 'X-Chat-Role: admin')
	api PATCH /v1/users/me '{"display_name":"pwned"}'
	expect_error 401 unauthorized
	[[ $(stored_users) == "$before" ]] || false
}
