#!/usr/bin/env bats
# Password reset by a mailed code (userd, notifyd, a local SMTP sink):
# the request answers alike for any address, byte for byte, and only a
# verified address is mailed; the code sets a new password once, revokes
# every session and expires; requests are limited per address (429 for
# known and unknown addresses alike) and per account (silently); wrong
# codes are throttled; bad requests change nothing.

setup_file() {
	load test_helper
	load smtp_helper
	load email-common
	# a wrong code counts as a failed login of the address: enough of
	# them for every test before the last one's flood
	email_stack "[userd]" "code_ttl_s = 600" "reset_per_hour = 3" \
		"login_free_failures = 15" "login_address_free_failures = 15" \
		"login_delay_ms = 60000"
	load events-pull
	events_hold userd
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

# reset ADDR: POST /v1/auth/password-reset.
reset() {
	api POST /v1/auth/password-reset "$(jq -nc --arg e "$1" '{email: $e}')"
}

# confirm CODE PASSWORD: POST /v1/auth/password-reset/confirm.
confirm() {
	api POST /v1/auth/password-reset/confirm \
		"$(jq -nc --arg c "$1" --arg p "$2" '{code: $c, password: $p}')"
}

# can_login NAME PASSWORD
can_login() {
	api POST /v1/auth/login "$(jq -nc --arg u "$1" --arg p "$2" \
		'{username: $u, password: $p}')"
	[[ $status_code == 200 ]]
}

# refresh TOKEN: POST /v1/auth/refresh.
refresh() {
	api POST /v1/auth/refresh "$(jq -nc --arg t "$1" '{refresh_token: $t}')"
}

@test "reset end to end: new password, every session ended, code used once" {
	verified_user rita rita@example.com
	rita_id=$user_id
	refresh_a=$refresh_token
	login_user rita
	refresh_b=$refresh_token access_b=$access_token
	reset RITA@example.com
	expect_status 202
	code=$(code_for rita@example.com 2)
	confirm "$code" "a brand new password"
	expect_status 204
	# the old sessions are dead: their refresh tokens and their access
	# tokens (the gateway learns of the revocation)
	refresh "$refresh_a"
	[[ $status_code == 401 ]] || false
	refresh "$refresh_b"
	[[ $status_code == 401 ]] || false
	for i in $(seq 50); do
		api GET /v1/users/me "" "$access_b"
		[[ $status_code == 401 ]] && break
		sleep 0.1
	done
	[[ $status_code == 401 ]] || false
	run ! can_login rita password-rita
	can_login rita "a brand new password"
	# once only
	confirm "$code" "another new password"
	expect_error 400 invalid_code
	can_login rita "a brand new password"
	# the event notifyd alerts on (not as an admin's: no "by"), with
	# neither address nor code
	events_of userd chat.user.password_changed ".userid == \"$rita_id\""
	[[ $(wc -l <<<"$output") == 1 ]] || false
	[[ $output != *@example.com* && $output != *"$code"* ]] || false
	[[ $(jq -c .data <<<"$output") == '{"username":"rita","via":"reset"}' ]] || false
}

@test "the same answer, byte for byte, for a known, an unverified and an unknown address" {
	verified_user kate kate@example.com
	user_with_email ulla ulla@example.com
	answer() {
		curl -s -D - -X POST --max-time 10 -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"$1\"}" "$(base_url)/v1/auth/password-reset" |
			tr -d '\r' | grep -v -i -E '^(date|x-request-id):'
	}
	known=$(answer kate@example.com)
	unverified=$(answer ulla@example.com)
	unknown=$(answer nobody@example.com)
	[[ $known == "$unknown" && $known == "$unverified" ]] || {
		diff <(echo "$known") <(echo "$unknown") >&2
		diff <(echo "$known") <(echo "$unverified") >&2
		false
	}
	[[ $known == 'HTTP/1.1 202'* ]] || false
}

@test "an unverified address gets no reset mail, a verified one does" {
	user_with_email uma uma@example.com
	uma_id=$user_id
	code_for uma@example.com >/dev/null
	reset uma@example.com
	expect_status 202
	verified_user vic vic@example.com
	reset vic@example.com
	expect_status 202
	# vic's reset mail came after uma's request was done with
	code_for vic@example.com 2 >/dev/null
	[[ $(mail_count uma@example.com) == 1 ]] || false
	[[ -z $(codes_of "$uma_id" password_reset) ]] || false
}

@test "an expired code is refused and changes nothing" {
	verified_user exp exp@example.com
	exp_id=$user_id
	reset exp@example.com
	expect_status 202
	code=$(code_for exp@example.com 2)
	run -0 db_query userd "SELECT expires_at - created_at FROM user_codes WHERE user_id = '$exp_id' AND kind = 'password_reset'"
	[[ $output == 600000 ]] || false
	db_query userd "UPDATE user_codes SET expires_at = created_at - 1 WHERE user_id = '$exp_id' AND kind = 'password_reset'"
	confirm "$code" "a brand new password"
	expect_error 400 invalid_code
	can_login exp password-exp
	run ! can_login exp "a brand new password"
}

@test "a later code ends the earlier one; changing the address ends both" {
	verified_user lat lat@example.com
	reset lat@example.com
	first=$(code_for lat@example.com 2)
	reset lat@example.com
	second=$(code_for lat@example.com 3)
	confirm "$first" "a brand new password"
	expect_error 400 invalid_code
	api PATCH /v1/users/me '{"email":"lat2@example.com","current_password":"password-lat"}' "$access_token"
	expect_status 200
	confirm "$second" "a brand new password"
	expect_error 400 invalid_code
	can_login lat password-lat
}

@test "per address: the hour's requests, then 429 for known and unknown alike" {
	verified_user pam pam@example.com
	for i in 1 2 3; do
		reset pam@example.com
		expect_status 202
		reset ghost@example.com
		expect_status 202
	done
	reset pam@example.com
	expect_error 429 too_many_attempts
	known=$(jq -c 'del(.error.request_id)' <<<"$body") known_retry=$(header retry-after)
	reset GHOST@example.com
	expect_error 429 too_many_attempts
	# the same but for the wait, which counts from each address's own
	# first request (the caller's own doing)
	[[ $(jq -c 'del(.error.request_id)' <<<"$body" | tr -d 0-9) == "$(tr -d 0-9 <<<"$known")" ]] || false
	[[ $known_retry =~ ^[0-9]+$ ]] && (( known_retry > 3000 )) || false
	# the store keeps no address, only its hash
	run -0 db_query userd "SELECT addr_hash FROM reset_requests"
	[[ $output != *@* ]] || false
	# the verification and the three resets' mails, no more
	mail_wait pam@example.com 4 >/dev/null
	[[ $(mail_count pam@example.com) == 4 ]] || false
}

@test "per account: past the hour's mails, the same 202 and no mail" {
	verified_user acc acc@example.com
	acc_id=$user_id
	for i in 1 2 3; do
		reset acc@example.com
		expect_status 202
	done
	code_for acc@example.com 4 >/dev/null
	# a new address has its own count, the account does not
	api PATCH /v1/users/me '{"email":"acc2@example.com","current_password":"password-acc"}' "$access_token"
	expect_status 200
	api POST /v1/users/me/email/verify "$(jq -nc --arg c "$(code_for acc2@example.com)" '{code: $c}')" "$access_token"
	expect_status 200
	reset acc2@example.com
	expect_status 202
	[[ $(codes_of "$acc_id" password_reset | wc -l) == 3 ]] || false
	# a request for someone else's address is mailed: the one above was
	# done with before it
	verified_user oth oth@example.com
	reset oth@example.com
	code_for oth@example.com 2 >/dev/null
	[[ $(mail_count acc2@example.com) == 1 ]] || false
}

@test "bad requests: a clear 400 or 413, and nothing changed" {
	verified_user bad bad@example.com
	reset bad@example.com
	code=$(code_for bad@example.com 2)
	stored=$(db_query userd "SELECT password_hash FROM users WHERE username = 'bad'")
	codes=$(db_query userd "SELECT * FROM user_codes ORDER BY code_hash")
	requests=$(db_query userd "SELECT COUNT(*) FROM reset_requests")
	for b in '{"email":' '[1]' 'nope'; do
		api POST /v1/auth/password-reset "$b"
		expect_error 400 invalid_json
		api POST /v1/auth/password-reset/confirm "$b"
		expect_error 400 invalid_json
	done
	for b in '{}' '{"email":5}' '{"email":null}' '{"email":["bad@example.com"]}'; do
		api POST /v1/auth/password-reset "$b"
		expect_error 400 invalid_field
	done
	for e in 'no-at' 'two@@example.com' 'sp ace@example.com' ''; do
		reset "$e"
		expect_error 400 invalid_email
	done
	printf '{"email":"b\xffd@example.com"}' >"$BATS_TEST_TMPDIR/utf8.json"
	api POST /v1/auth/password-reset "@$BATS_TEST_TMPDIR/utf8.json"
	[[ $status_code == 400 ]] || false
	head -c 1100000 /dev/zero | tr '\0' x | sed 's/^/{"email":"/; s/$/@example.com"}/' >"$BATS_TEST_TMPDIR/big.json"
	api POST /v1/auth/password-reset "@$BATS_TEST_TMPDIR/big.json"
	[[ $status_code == 413 ]] || false
	api POST /v1/auth/password-reset/confirm "@$BATS_TEST_TMPDIR/big.json"
	[[ $status_code == 413 ]] || false
	for b in "{\"code\":5,\"password\":\"long enough\"}" \
		"{\"code\":\"$code\"}" "{\"code\":\"$code\",\"password\":7}" \
		"{\"password\":\"long enough\"}"; do
		api POST /v1/auth/password-reset/confirm "$b"
		expect_error 400 invalid_field
	done
	confirm "$code" short
	expect_error 400 invalid_password
	printf '{"code":"%s","password":"bad\xff password"}' "$code" >"$BATS_TEST_TMPDIR/pw.json"
	api POST /v1/auth/password-reset/confirm "@$BATS_TEST_TMPDIR/pw.json"
	[[ $status_code == 400 ]] || false
	[[ $(db_query userd "SELECT password_hash FROM users WHERE username = 'bad'") == "$stored" ]] || false
	[[ $(db_query userd "SELECT * FROM user_codes ORDER BY code_hash") == "$codes" ]] || false
	[[ $(db_query userd "SELECT COUNT(*) FROM reset_requests") == "$requests" ]] || false
	# the code survived all that
	confirm "$code" "a brand new password"
	expect_status 204
}

@test "chatctl passwd --reset: the mail, then the code and a new password" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
	ctl() { "$CHAT_BIN/chatctl" --server "$(base_url)" "$@"; }
	verified_user cliff cliff@example.com
	run -0 --separate-stderr ctl passwd --reset --email cliff@example.com </dev/null
	[[ $stderr == *"if a verified account has 'cliff@example.com', a code is on its way there"* ]] || false
	[[ $stderr == *"then run 'chatctl passwd --reset --code CODE'"* ]] || false
	code=$(code_for cliff@example.com 2)
	run -1 ctl passwd --reset --email cliff@example.com --code "$code" --password-stdin <<<"the cli password"
	run -1 ctl passwd --code "$code" --password-stdin <<<"the cli password"
	run -1 --separate-stderr ctl passwd --reset </dev/null
	[[ $stderr == *"pass --email ADDR or run on a terminal"* ]] || false
	run -1 --separate-stderr ctl passwd --reset --code 222222222222 --password-stdin <<<"the cli password"
	[[ $stderr == "chatctl: the code is wrong, used or expired" ]] || false
	# typed as a person would
	lc=${code,,}
	run -0 --separate-stderr ctl passwd --reset --code "${lc:0:6}-${lc:6}" --password-stdin <<<"the cli password"
	[[ $stderr == *"password set; every session of the account is signed out"* ]] || false
	can_login cliff "the cli password"
}

@test "wrong codes are throttled per address (last: it blocks the address)" {
	verified_user thr thr@example.com
	reset thr@example.com
	code=$(code_for thr@example.com 2)
	stored=$(db_query userd "SELECT password_hash FROM users WHERE username = 'thr'")
	seen=
	for i in $(seq 16); do
		confirm 222222222222 "a brand new password"
		if [[ $status_code == 429 ]]; then
			seen=$i
			break
		fi
		expect_error 400 invalid_code
	done
	# not at once: after the allowance the other tests left
	[[ -n $seen ]] && ((seen > 3)) || false
	expect_error 429 too_many_attempts
	[[ $(header retry-after) =~ ^[0-9]+$ ]] || false
	# while it waits even the right code is not tried
	confirm "$code" "a brand new password"
	expect_error 429 too_many_attempts
	[[ $(db_query userd "SELECT password_hash FROM users WHERE username = 'thr'") == "$stored" ]] || false
}
