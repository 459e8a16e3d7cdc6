# email-common.bash - helpers of the email-*.bats and password-reset*.bats
# files, loaded after test_helper and smtp_helper: a stack whose notifyd
# mails the file's SMTP sink, the code of a mail, and accounts with an
# address (verified or not).

# email_stack [CONFIG-LINE...]: the sink, then the stack mailing it.
email_stack() {
	smtp_sink_start || return 1
	start_stack "[smtp]" "url = smtp://127.0.0.1:$SMTP_SINK_PORT" \
		"ca_file = $SMTP_SINK_CA" "$@"
}

email_stack_stop() {
	local rc=0
	stop_stack || rc=1
	smtp_sink_stop || rc=1
	return $rc
}

# code_in FILE: the one-time code of a mail: the line of the text part
# that is a code of userd's alphabet alone (12 symbols).
code_in() {
	mail_text "$1" | tr -d '\r' | grep -xE '[2-9A-HJKMNP-TV-Z]{12}' | head -n 1 |
		grep . || {
		echo "no code in $1" >&2
		return 1
	}
}

# code_for ADDR [N]: the code of the Nth mail (default 1) to ADDR, once
# it came.
code_for() {
	local f
	f=$(mail_wait "$1" "${2:-1}") || return 1
	code_in "$f"
}

# user_with_email NAME ADDR: registers NAME with ADDR and logs in (sets
# user_id, access_token, refresh_token); the address is unverified.
user_with_email() {
	api POST /v1/auth/register "$(jq -nc --arg u "$1" --arg p "password-$1" \
		--arg e "$2" '{username: $u, password: $p, email: $e}')"
	expect_status 201 || return 1
	user_id=$(jb '.user.id')
	login_user "$1"
}

# verified_user NAME ADDR: user_with_email, then the first mail's code
# verifies ADDR.
verified_user() {
	local code
	user_with_email "$1" "$2" || return 1
	code=$(code_for "$2") || return 1
	api POST /v1/users/me/email/verify "$(jq -nc --arg c "$code" '{code: $c}')" \
		"$access_token"
	expect_status 200 || return 1
	[[ $(jb .email_verified) == true ]]
}

# codes_of USER_ID KIND: the user's code rows of KIND, oldest first, as
# "attempts|used" lines (used: 1 when spent or ended).
codes_of() {
	db_query userd "SELECT attempts, CASE WHEN used_at IS NULL THEN 0 ELSE 1 END FROM user_codes WHERE user_id = '$1' AND kind = '$2' ORDER BY created_at, code_hash"
}
