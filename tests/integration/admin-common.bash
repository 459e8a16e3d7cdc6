# admin-common.bash - helpers of the admin-*.bats files, loaded after
# test_helper: fresh tokens of the first account (root, the admin), API
# keys, and the check that a route keeps out everyone but admins.
#
#   setup() { load test_helper; load admin-common; }

# root_token: a fresh access token of root (roles may have changed).
root_token() {
	login_user root >/dev/null
	echo "$access_token"
}

# new_key TOKEN [SCOPES-JSON]: an API key of TOKEN's user, on stdout.
new_key() {
	local req='{"name":"k"}'
	[[ -n ${2-} ]] && req=$(jq -nc --argjson s "$2" '{name: "k", scopes: $s}')
	api POST /v1/apikeys "$req" "$1"
	expect_status 201 || return 1
	jb .key
}

# expect_admins_only METHOD PATH [BODY]: a user's access token and API
# key get 403 forbidden, an admin's key without the admin scope 403
# insufficient_scope, no credential 401.  Needs the users root and
# plain (a role "user" account, password password-plain).
expect_admins_only() {
	local method=$1 path=$2 data=${3-} token key
	login_user plain >/dev/null
	token=$access_token
	api "$method" "$path" "$data" "$token"
	expect_error 403 forbidden || return 1
	key=$(new_key "$token") || return 1
	api "$method" "$path" "$data" "$key"
	expect_error 403 forbidden || return 1
	key=$(new_key "$(root_token)" '["chat","read"]') || return 1
	api "$method" "$path" "$data" "$key"
	expect_error 403 insufficient_scope || return 1
	api "$method" "$path" "$data"
	expect_error 401 unauthorized
}

# token_revoked TOKEN: within a second the gateway refuses TOKEN.
token_revoked() {
	local i
	for ((i = 0; i < 50; i++)); do
		api GET /v1/users/me "" "$1"
		[[ $status_code == 401 ]] && break
		sleep 0.02
	done
	expect_error 401 session_revoked
}
