#!/usr/bin/env bats
# Accounts' e-mail address (userd) with notifyd mailing a local SMTP
# sink: set at registration, by an admin or with PATCH /v1/users/me
# (changing or removing one needs the password), verified once by the
# mailed code, wrong codes counted, an expired code refused, resends
# limited, unique among verified addresses without telling who has one,
# notifyd's contact route, and bad requests that change nothing.

setup_file() {
	load test_helper
	load smtp_helper
	load email-common
	email_stack "[userd]" "code_ttl_s = 600" "code_attempts = 3" \
		"email_codes_per_hour = 3"
	load events-pull
	events_hold userd
	register_user root
	login_user root
	echo "$access_token" >"$BATS_FILE_TMPDIR/root"
}

teardown_file() {
	load test_helper
	load smtp_helper
	load email-common
	email_stack_stop
}

setup() {
	load test_helper
	load smtp_helper
	load email-common
	load events-pull
}

# verify CODE [TOKEN]: POST /v1/users/me/email/verify.
verify() {
	api POST /v1/users/me/email/verify "$(jq -nc --arg c "$1" '{code: $c}')" \
		"${2:-$access_token}"
}

# me [TOKEN]: GET /v1/users/me into $body.
me() {
	api GET /v1/users/me "" "${1:-$access_token}"
	expect_status 200
}

# The other code of the alphabet than $1 (a wrong code of the right shape).
wrong_code() {
	[[ $1 == 222222222222 ]] && echo 333333333333 || echo 222222222222
}

@test "registration with an address: a mail with the code, which verifies once" {
	user_with_email amy Amy.Lee@Example.com
	me
	[[ $(jq -c '{email, email_verified}' <<<"$body") == '{"email":"Amy.Lee@Example.com","email_verified":false}' ]] || false
	f=$(mail_wait Amy.Lee@Example.com)
	# the code alone on a line of the text part
	code=$(code_in "$f")
	[[ ${#code} == 12 ]] || false
	# stored hashed: never the code itself
	run -0 db_query userd "SELECT code_hash FROM user_codes WHERE user_id = '$user_id'"
	[[ $output != *"$code"* && ${#output} == 64 ]] || false
	verify "$code"
	expect_status 200
	[[ $(jq -c '{email, email_verified}' <<<"$body") == '{"email":"Amy.Lee@Example.com","email_verified":true}' ]] || false
	me
	[[ $(jb .email_verified) == true ]] || false
	# single use
	verify "$code"
	expect_error 400 invalid_code
	[[ $(db_query userd "SELECT COUNT(*) FROM user_codes WHERE user_id = '$user_id' AND used_at IS NULL") == 0 ]] || false
}

@test "a code as a person types it: any case, spaces and dashes" {
	user_with_email typo typo@example.com
	code=$(code_for typo@example.com)
	typed="${code:0:4}-${code:4:4} ${code:8:4}"
	verify "${typed,,}"
	expect_status 200
	[[ $(jb .email_verified) == true ]] || false
}

@test "notifyd's contact route: the address and whether it is verified" {
	user_with_email cora cora@example.com
	uid=$user_id
	key=$(<"$CHAT_DATA_DIR/internal.key")
	url="http://127.0.0.1:$((CHAT_PORT + 1))/internal/users/$uid/contact"
	run -0 curl -s -H "X-Chat-Internal: $key" "$url"
	[[ $output == '{"username":"cora","display_name":null,"email":"cora@example.com","email_verified":false}' ]] || false
	verify "$(code_for cora@example.com)"
	expect_status 200
	run -0 curl -s -H "X-Chat-Internal: $key" "$url"
	[[ $(jq -c '{email, email_verified}' <<<"$output") == '{"email":"cora@example.com","email_verified":true}' ]] || false
	# internal only
	run -0 curl -s -o /dev/null -w '%{http_code}' "$url"
	[[ $output == 403 || $output == 401 ]] || false
	run -0 curl -s -w ' %{http_code}' -H "X-Chat-Internal: $key" \
		"http://127.0.0.1:$((CHAT_PORT + 1))/internal/users/01900000-0000-7000-8000-000000000000/contact"
	[[ $output == *' 404' ]] || false
}

@test "wrong codes are counted: after code_attempts tries the code is dead" {
	user_with_email wes wes@example.com
	code=$(code_for wes@example.com)
	bad=$(wrong_code "$code")
	for i in 1 2 3; do
		verify "$bad"
		expect_error 400 invalid_code
	done
	[[ $(codes_of "$user_id" email_verify) == "3|0" ]] || false
	verify "$code"
	expect_error 400 invalid_code
	me
	[[ $(jb .email_verified) == false ]] || false
	# a code of the wrong shape is a wrong try too, and tells nothing more
	user_with_email wen wen@example.com
	code=$(code_for wen@example.com)
	verify "not-a-code"
	expect_error 400 invalid_code
	verify "$(wrong_code "$code")"
	expect_error 400 invalid_code
	[[ $(codes_of "$user_id" email_verify) == "2|0" ]] || false
	# the third try, right, still counts within the allowance
	verify "$code"
	expect_status 200
}

@test "an expired code is refused; a code lives code_ttl_s" {
	user_with_email exa exa@example.com
	code=$(code_for exa@example.com)
	run -0 db_query userd "SELECT expires_at - created_at FROM user_codes WHERE user_id = '$user_id'"
	[[ $output == 600000 ]] || false
	db_query userd "UPDATE user_codes SET expires_at = created_at - 1 WHERE user_id = '$user_id'"
	verify "$code"
	expect_error 400 invalid_code
	me
	[[ $(jb .email_verified) == false ]] || false
	# a fresh one works
	api POST /v1/users/me/email/verify/resend "" "$access_token"
	expect_status 202
	verify "$(code_for exa@example.com 2)"
	expect_status 200
}

@test "resend: a new code ends the old one; limited per account and hour" {
	user_with_email res res@example.com
	first=$(code_for res@example.com)
	api POST /v1/users/me/email/verify/resend "" "$access_token"
	expect_status 202
	second=$(code_for res@example.com 2)
	[[ $first != "$second" ]] || false
	api POST /v1/users/me/email/verify/resend "" "$access_token"
	expect_status 202
	third=$(code_for res@example.com 3)
	# email_codes_per_hour = 3: the registration's and two resends
	api POST /v1/users/me/email/verify/resend "" "$access_token"
	expect_error 429 too_many_attempts
	[[ $(header retry-after) =~ ^[0-9]+$ ]] || false
	(($(header retry-after) > 3000)) || false
	verify "$first"
	expect_error 400 invalid_code
	verify "$second"
	expect_error 400 invalid_code
	verify "$third"
	expect_status 200
	# nothing left to verify
	api POST /v1/users/me/email/verify/resend "" "$access_token"
	expect_error 409 nothing_to_verify
	[[ $(mail_count res@example.com) == 3 ]] || false
}

@test "PATCH: setting needs no password, changing or removing needs it" {
	new_user pat
	api PATCH /v1/users/me '{"email":"pat@example.com"}' "$access_token"
	expect_status 200
	[[ $(jq -c '{email, email_verified}' <<<"$body") == '{"email":"pat@example.com","email_verified":false}' ]] || false
	verify "$(code_for pat@example.com)"
	expect_status 200
	# the same address again: nothing changes, no password needed
	api PATCH /v1/users/me '{"email":"pat@example.com","display_name":"Pat"}' "$access_token"
	expect_status 200
	[[ $(jq -c '{email, email_verified, display_name}' <<<"$body") == '{"email":"pat@example.com","email_verified":true,"display_name":"Pat"}' ]] || false
	before=$(db_query userd "SELECT * FROM users WHERE id = '$user_id'")
	api PATCH /v1/users/me '{"email":"pat2@example.com","display_name":"X"}' "$access_token"
	expect_error 400 current_password_required
	api PATCH /v1/users/me '{"email":null}' "$access_token"
	expect_error 400 current_password_required
	api PATCH /v1/users/me '{"email":"pat2@example.com","current_password":"wrong password"}' "$access_token"
	expect_error 401 invalid_credentials
	api PATCH /v1/users/me '{"email":"pat2@example.com","current_password":5}' "$access_token"
	expect_error 400 invalid_field
	[[ $(db_query userd "SELECT * FROM users WHERE id = '$user_id'") == "$before" ]] || false
	api PATCH /v1/users/me '{"email":"pat2@example.com","current_password":"password-pat"}' "$access_token"
	expect_status 200
	[[ $(jq -c '{email, email_verified}' <<<"$body") == '{"email":"pat2@example.com","email_verified":false}' ]] || false
	code=$(code_for pat2@example.com)
	# removing ends the pending code
	api PATCH /v1/users/me '{"email":null,"current_password":"password-pat"}' "$access_token"
	expect_status 200
	[[ $(jq -c '{email, email_verified}' <<<"$body") == '{"email":null,"email_verified":false}' ]] || false
	verify "$code"
	expect_error 400 invalid_code
	[[ $(mail_count pat@example.com) == 1 ]] || false
}

@test "an address verified by another account: same answer, no mail to it" {
	verified_user ver shared@example.com
	# kim claims it (another case): accepted like any address, unverified
	user_with_email kim other@example.com
	kim_token=$access_token kim_id=$user_id
	code_for other@example.com >/dev/null
	api PATCH /v1/users/me '{"email":"Shared@Example.com","current_password":"password-kim"}' "$kim_token"
	expect_status 200
	[[ $(jq -c '{email, email_verified}' <<<"$body") == '{"email":"Shared@Example.com","email_verified":false}' ]] || false
	# no code was made for it, so no mail can go: the owner is not
	# bothered, and kim learns nothing from the answer
	[[ $(db_query userd "SELECT COUNT(*) FROM user_codes WHERE user_id = '$kim_id' AND email_key = 'shared@example.com'") == 0 ]] || false
	api POST /v1/users/me/email/verify/resend "" "$kim_token"
	expect_status 202
	[[ $(db_query userd "SELECT COUNT(*) FROM user_codes WHERE user_id = '$kim_id' AND email_key = 'shared@example.com'") == 0 ]] || false
	# a mail kim caused later arrives; none went to the owner meanwhile
	api PATCH /v1/users/me '{"email":"kim@example.com","current_password":"password-kim"}' "$kim_token"
	expect_status 200
	code_for kim@example.com >/dev/null
	[[ $(mail_count shared@example.com) == 1 && $(mail_count Shared@Example.com) == 1 ]] || false
}

@test "two unverified claims: the first to verify wins, the other gets 409" {
	user_with_email dan race@example.com
	dan_token=$access_token
	# dan's mail first, so that the second is eve's
	dan_code=$(code_for race@example.com 1)
	user_with_email eve race@example.com
	eve_token=$access_token
	eve_code=$(code_for race@example.com 2)
	verify "$dan_code" "$dan_token"
	expect_status 200
	verify "$eve_code" "$eve_token"
	expect_error 409 email_taken
	me "$eve_token"
	[[ $(jb .email_verified) == false ]] || false
	[[ $(db_query userd "SELECT COUNT(*) FROM users WHERE email_key = 'race@example.com' AND email_verified = 1") == 1 ]] || false
}

@test "an admin's new account with an address is mailed its code" {
	root=$(<"$BATS_FILE_TMPDIR/root")
	api POST /v1/admin/users '{"username":"made","password":"password-made","email":"made@example.com"}' "$root"
	expect_status 201
	[[ $(jq -c '.user | {email, email_verified}' <<<"$body") == '{"email":"made@example.com","email_verified":false}' ]] || false
	code=$(code_for made@example.com)
	login_user made
	verify "$code"
	expect_status 200
	api POST /v1/admin/users '{"username":"made2","email":"no at sign"}' "$root"
	expect_error 400 invalid_email
	[[ $(db_query userd "SELECT COUNT(*) FROM users WHERE username = 'made2'") == 0 ]] || false
	# chatctl admin users create --email
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
	printf 'password-root\n' | "$CHAT_BIN/chatctl" --server "$(base_url)" login root --password-stdin 2>/dev/null
	run -0 "$CHAT_BIN/chatctl" --server "$(base_url)" admin users create made3 --email made3@example.com --json
	[[ $(jq -c '.user | {email, email_verified}' <<<"$output") == '{"email":"made3@example.com","email_verified":false}' ]] || false
	code_for made3@example.com >/dev/null
}

@test "bad addresses and bodies: a clear 400 and nothing changed" {
	user_with_email bad bad@example.com
	code_for bad@example.com >/dev/null
	before=$(db_query userd "SELECT * FROM users WHERE id = '$user_id'")
	codes=$(db_query userd "SELECT * FROM user_codes WHERE user_id = '$user_id'")
	long=$(printf 'x%.0s' {1..243})@example.com	# 255 bytes
	for e in '"no-at-sign"' '"two@@example.com"' '"a@b@example.com"' \
		'"sp ace@example.com"' '"tab\texample@x.org"' '"nl@example.com\n"' \
		'"@example.com"' '"x@"' '"x@example..com"' '""' "\"$long\""; do
		api PATCH /v1/users/me "{\"email\":$e,\"current_password\":\"password-bad\"}" "$access_token"
		expect_error 400 invalid_email
	done
	# broken UTF-8
	printf '{"email":"b\xffd@example.com","current_password":"password-bad"}' >"$BATS_TEST_TMPDIR/utf8.json"
	api PATCH /v1/users/me "@$BATS_TEST_TMPDIR/utf8.json" "$access_token"
	[[ $status_code == 400 ]] || false
	for e in 5 true '["a@b.c"]' '{"a":"b@c.d"}'; do
		api PATCH /v1/users/me "{\"email\":$e}" "$access_token"
		expect_error 400 invalid_field
	done
	api PATCH /v1/users/me '{"email":' "$access_token"
	expect_error 400 invalid_json
	head -c 1100000 /dev/zero | tr '\0' x | sed 's/^/{"email":"/; s/$/@example.com"}/' >"$BATS_TEST_TMPDIR/big.json"
	api PATCH /v1/users/me "@$BATS_TEST_TMPDIR/big.json" "$access_token"
	[[ $status_code == 413 ]] || false
	for b in '{"code":5}' '{"code":null}' '{}' '{"code":' "{\"code\":\"$(printf 'A%.0s' {1..65})\"}"; do
		api POST /v1/users/me/email/verify "$b" "$access_token"
		[[ $status_code == 400 ]] || false
	done
	api POST /v1/auth/register '{"username":"bad2","password":"password-bad2","email":"no at"}'
	expect_error 400 invalid_email
	api POST /v1/auth/register '{"username":"bad2","password":"password-bad2","email":7}'
	expect_error 400 invalid_field
	[[ $(db_query userd "SELECT COUNT(*) FROM users WHERE username = 'bad2'") == 0 ]] || false
	[[ $(db_query userd "SELECT * FROM users WHERE id = '$user_id'") == "$before" ]] || false
	[[ $(db_query userd "SELECT * FROM user_codes WHERE user_id = '$user_id'") == "$codes" ]] || false
}

@test "chatctl email: set, verify, show, change with the password, rm" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
	ctl() { "$CHAT_BIN/chatctl" --server "$(base_url)" "$@"; }
	printf 'password-cli\n' | ctl register cli --password-stdin 2>/dev/null
	run -0 --separate-stderr ctl email show --json
	[[ $output == '{"email":null,"email_verified":false}' ]] || false
	run -0 --separate-stderr ctl email set cli@example.com </dev/null
	[[ $stderr == *"verify it with 'chatctl email verify CODE'"* ]] || false
	code=$(code_for cli@example.com)
	run -1 --separate-stderr ctl email verify 222222222222
	[[ $stderr == *"wrong, used or expired"* ]] || false
	run -0 ctl email verify "$code"
	run -0 --separate-stderr ctl email --output tsv
	[[ $output == $'email\tcli@example.com\nverified\tyes' ]] || false
	# changing it asks for the password
	run -2 --separate-stderr ctl email set cli2@example.com --password-stdin <<<"wrong password"
	[[ $stderr == "chatctl: the current password is wrong" ]] || false
	run -1 --separate-stderr ctl email set cli2@example.com </dev/null
	run -0 ctl email set cli2@example.com --password-stdin <<<"password-cli"
	code_for cli2@example.com >/dev/null
	run -0 ctl email resend
	run -0 ctl email verify "$(code_for cli2@example.com 2)"
	run -0 ctl email rm --password-stdin <<<"password-cli"
	run -0 --separate-stderr ctl email show --json
	[[ $output == '{"email":null,"email_verified":false}' ]] || false
	run -3 ctl email rm --password-stdin <<<"password-cli"
	run -1 ctl email set 'not an address'
}

@test "no event holds an address or a code" {
	events_all userd
	(($(wc -l <"$events_file") > 20)) || false
	run ! grep -i -e @example.com -e '"email' "$events_file"
}
