# analytics-common.bash - helpers of the analytics-*.bats files: the
# stack's first account is the admin, generations go through the
# OpenAI-compatible route on the echo model, and analyticsd's figures are
# read through the gateway and compared with what aid recorded itself.

# analytics_stack [CONFIG...]: start_stack with CONFIG, then the file's
# first account, the admin, whose token admin_token reads back; for
# setup_file.
analytics_stack() {
	start_stack "$@" || return 1
	new_user "boss" || return 1
	echo "admin_token=$access_token" >"$BATS_FILE_TMPDIR/analytics-tokens"
}

# The admin's token (the first account of the file, from setup_file).
admin_token() {
	grep '^admin_token=' "$BATS_FILE_TMPDIR/analytics-tokens" | cut -d= -f2-
}

# generate TOKEN [TEXT]: one non-streaming completion on echo.
generate() {
	api POST /v1/chat/completions "$(jq -nc --arg t "${2:-count me in}" \
		'{model: "echo", messages: [{role: "user", content: $t}]}')" "$1"
	expect_status 200
}

# aid_totals USER_ID: "requests prompt completion" from aid's own table.
aid_totals() {
	db_query aid "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0),
		COALESCE(SUM(completion_tokens), 0) FROM usage
		WHERE user_id = '$1'" | tr '|' ' '
}

# analytics_totals USER_ID: the same three from analyticsd's usage route.
analytics_totals() {
	api GET "/v1/admin/analytics/usage?user=$1&group_by=model" "" "$(admin_token)"
	[[ $status_code == 200 ]] || return 1
	jq -r '.totals | "\(.requests) \(.prompt_tokens) \(.completion_tokens)"' <<<"$body"
}

# wait_totals USER_ID COUNT [SECONDS]: until aid has recorded COUNT
# generations of the user and analyticsd's totals equal aid's; prints
# both when they never do.
wait_totals() {
	local want got i
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		want=$(aid_totals "$1")
		got=$(analytics_totals "$1" || true)
		[[ $want == "$2 "* && $got == "$want" ]] && return 0
		sleep 0.1
	done
	echo "aid has '$want', analyticsd '$got'" >&2
	return 1
}
