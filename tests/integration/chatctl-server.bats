#!/usr/bin/env bats
# chatctl's server profiles: `login --server URL` remembers a login per
# server in the one credentials file (0600), `server ls|use`, --server
# NAME and CHAT_SERVER=NAME for one command, logout forgetting one server
# only, and a credentials file of the older one-login form still read.
# Two servers: the file's stack under two host names (127.0.0.1 and
# localhost), which are two servers as far as chatctl can tell.

setup_file() {
	load test_helper
	load chatctl-common
	ctl_stack || return 1
	local u
	for u in bob cyd; do
		printf 'password-%s\n' "$u" |
			"${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)" \
				register "$u" --password-stdin 3>&- || return 1
	done
}

teardown_file() {
	load test_helper
	load chatctl-common
	ctl_teardown
}

setup() {
	load test_helper
	load chatctl-common
	ctl_setup
	# a config dir of the test's own, logged in to nothing
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
	CREDS=$XDG_CONFIG_HOME/chat/credentials
	A=$(base_url)
	B=http://localhost:$CHAT_PORT
	NA=127.0.0.1:$CHAT_PORT
	NB=localhost:$CHAT_PORT
}

# login_to URL USER: logs USER in to URL.
login_to() {
	"$CHATCTL" --server "$1" login "$2" --password-stdin <<<"password-$2" 2>/dev/null
}

@test "login --server remembers each server; the last login is current" {
	login_to "$A" ada
	login_to "$B" bob
	run -0 "$CHATCTL" whoami
	[[ $output == "bob (user) on $B" ]] || false
	run -0 --separate-stderr "$CHATCTL" server ls
	[[ ${lines[0]} == "CURRENT"*"NAME"*"URL"*"USER" ]] || false
	[[ ${#lines[@]} -eq 3 ]] || false
	[[ ${lines[1]} =~ ^\ +\ $NA\ +$A\ +ada$ || ${lines[2]} =~ ^\ +\ $NA\ +$A\ +ada$ ]] || false
	[[ $output == *$'\n'"*  "*"$NB"*"$B"*bob* ]] || false
	[[ $(stat -c %a "$CREDS") == 600 && $(stat -c %a "${CREDS%/*}") == 700 ]] || false
	# both logins work
	run -0 "$CHATCTL" --server "$A" whoami
	[[ $output == "ada (admin) on $A" ]] || false
}

@test "server ls --json and --output tsv: names, URLs, users, never a token" {
	login_to "$A" ada
	login_to "$B" bob
	run -0 "$CHATCTL" server ls --json
	jq -e --arg a "$A" --arg b "$B" --arg na "$NA" --arg nb "$NB" '
		.data | length == 2 and
		(map(select(.current)) | length == 1 and .[0].url == $b and
			.[0].name == $nb and .[0].username == "bob") and
		(map(select(.current | not)) | .[0].url == $a and .[0].name == $na)' <<<"$output"
	[[ $output != *token* ]] || false
	run -0 "$CHATCTL" server ls --output tsv
	[[ $(sort <<<"$output") == "$(printf '\t%s\t%s\tada\n*\t%s\t%s\tbob' "$NA" "$A" "$NB" "$B" | sort)" ]] || false
}

@test "--server NAME and CHAT_SERVER=NAME pick a server for one command" {
	login_to "$A" ada
	login_to "$B" bob
	run -0 "$CHATCTL" --server "$NA" whoami
	[[ $output == "ada (admin) on $A" ]] || false
	run -0 "$CHATCTL" whoami --server "$NA"
	[[ $output == "ada (admin) on $A" ]] || false
	CHAT_SERVER=$NA run -0 "$CHATCTL" whoami
	[[ $output == "ada (admin) on $A" ]] || false
	# and for one command only
	run -0 "$CHATCTL" whoami
	[[ $output == "bob (user) on $B" ]] || false
	# a name the file does not know is neither a server nor a URL
	run -1 --separate-stderr "$CHATCTL" --server nowhere:1 whoami
	expect_one_error
	[[ $stderr == *"no server named 'nowhere:1'"* ]] || false
}

@test "server use NAME|URL switches the current server; an unknown one exits 3" {
	login_to "$A" ada
	login_to "$B" bob
	run -0 --separate-stderr "$CHATCTL" server use "$NA"
	[[ -z $output && $stderr == "chatctl: using $NA ($A) as 'ada'" ]] || false
	run -0 "$CHATCTL" whoami
	[[ $output == "ada (admin) on $A" ]] || false
	run -0 "$CHATCTL" server use "$B"
	run -0 "$CHATCTL" whoami
	[[ $output == "bob (user) on $B" ]] || false
	cp "$CREDS" "$BATS_TEST_TMPDIR/before"
	run -3 --separate-stderr "$CHATCTL" server use elsewhere
	expect_one_error
	[[ $stderr == *"no server 'elsewhere'"* ]] || false
	cmp "$CREDS" "$BATS_TEST_TMPDIR/before"
	[[ $(stat -c %a "$CREDS") == 600 ]] || false
}

@test "logging in again to a server replaces its login, not the others'" {
	login_to "$A" ada
	login_to "$B" bob
	login_to "$A" cyd
	run -0 "$CHATCTL" server ls --json
	jq -e '.data | length == 2 and (map(.username) | sort == ["bob", "cyd"])' <<<"$output"
	run -0 "$CHATCTL" whoami
	[[ $output == "cyd (user) on $A" ]] || false
}

@test "logout forgets the current server's login only" {
	login_to "$A" ada
	login_to "$B" bob
	run -0 "$CHATCTL" logout
	run -0 "$CHATCTL" server ls --json
	jq -e --arg a "$A" '.data | length == 1 and .[0].url == $a and (.[0].current | not)' <<<"$output"
	# no current server: not logged in (the default server)
	run -2 "$CHATCTL" whoami
	run -0 "$CHATCTL" --server "$NA" whoami
	[[ $output == "ada (admin) on $A" ]] || false
	run -0 "$CHATCTL" --server "$NA" logout
	[[ ! -e $CREDS ]] || false
}

@test "a credentials file of the older one-login form still works, and gains others" {
	login_to "$A" ada
	# the older form: the login's fields alone
	jq '{server, username, access_token, refresh_token, expires_at}' "$CREDS" >"$CREDS.old"
	mv "$CREDS.old" "$CREDS"
	chmod 600 "$CREDS"
	run -0 "$CHATCTL" whoami
	[[ $output == "ada (admin) on $A" ]] || false
	run -0 "$CHATCTL" server ls --output tsv
	[[ $output == "*"$'\t'"$NA"$'\t'"$A"$'\t'ada ]] || false
	login_to "$B" bob
	jq -e --arg b "$B" --arg a "$A" '.server == $b and .username == "bob" and
		(.others | length == 1 and .[0].server == $a and .[0].username == "ada")' "$CREDS"
	[[ $(stat -c %a "$CREDS") == 600 ]] || false
	run -0 "$CHATCTL" --server "$A" whoami
	[[ $output == "ada (admin) on $A" ]] || false
}
