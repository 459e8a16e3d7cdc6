#!/usr/bin/env bats
# chatctl admin against the real stack: users ls (filters, table, --json,
# --output tsv), show, create (random or given password), disable and
# enable, role, passwd, rm (confirmation, --yes), sessions and apikeys
# ls/rm, models; every verb refused with one clear line and exit 2 to an
# account that is no admin; and the self-service verbs passwd and
# account export.

setup_file() {
	load test_helper
	start_stack "[aid]" "ollama_detect = false"
	local cc=("${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)")
	# the first account is the admin
	printf 'password-root\n' | XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/root \
		"${cc[@]}" register root --password-stdin 3>&- 2>/dev/null
	printf 'password-bob\n' | XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/bob \
		"${cc[@]}" register bob --password-stdin 3>&- 2>/dev/null
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	CHATCTL=${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl
	D=$BATS_TEST_TMPDIR
}

# as NAME CHATCTL-ARGS...: chatctl with NAME's credentials file
as() {
	local who=$1
	shift
	XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/$who "$CHATCTL" --server "$(base_url)" "$@"
}
adm() { as root "$@"; }

# new_account NAME: registered and logged in with its own credentials
new_account() {
	printf 'password-%s\n' "$1" | as "$1" register "$1" --password-stdin 2>/dev/null
}

@test "users ls: a table, --json and --output tsv" {
	run -0 --separate-stderr adm admin users ls
	[[ ${lines[0]} =~ ^ID\ +USERNAME\ +ROLE\ +STATE\ +CREATED$ ]] || false
	[[ $output =~ [[:space:]]root\ +admin\ +enabled ]] || false
	[[ $output =~ [[:space:]]bob\ +user\ +enabled ]] || false
	run -0 adm admin users ls --json
	[[ $(jq -r '[.data[].username] | sort | join(",")' <<<"$output") == *bob*root* ]] || false
	run -0 adm admin users ls --output tsv
	[[ $output != *USERNAME* ]] || false
	[[ $(cut -f2,3 <<<"$output" | grep -x $'bob\tuser') ]] || false
}

@test "users ls filters by role, state and name" {
	new_account filt
	run -0 adm admin users ls --role admin --output tsv
	[[ $(cut -f2 <<<"$output") == root ]] || false
	run -0 adm admin users ls --search ILT --output tsv
	[[ $(cut -f2 <<<"$output") == filt ]] || false
	run -0 adm admin users ls --disabled --output tsv
	[[ $output != *filt* ]] || false
	run -0 adm admin users disable filt
	run -0 adm admin users ls --disabled --output tsv
	[[ $(cut -f2,4 <<<"$output") == $'filt\tdisabled' ]] || false
	run -1 --separate-stderr adm admin users ls --role wizard
	[[ $stderr == *role* ]] || false
}

@test "users show takes a name or an id" {
	local id
	run -0 adm admin users show bob --json
	id=$(jq -r .id <<<"$output")
	[[ $(jq -r .username <<<"$output") == bob ]] || false
	run -0 adm admin users show "$id"
	[[ $output =~ (^|$'\n')username\ +bob($'\n'|$) ]] || false
	[[ $output =~ (^|$'\n')role\ +user($'\n'|$) ]] || false
	run -3 --separate-stderr adm admin users show nobody
	[[ -z $output && $stderr == *not_found* ]] || false
}

@test "users create: a random password printed once, or one from stdin" {
	local pw
	run -0 --separate-stderr adm admin users create carol
	pw=$output
	[[ ${#lines[@]} == 1 && ${#pw} -ge 16 ]] || false
	printf '%s\n' "$pw" | as carol login carol --password-stdin
	run -0 adm admin users create dave --role guest --password-stdin \
		<<<"given-password-1"
	[[ -z $output ]] || false
	run -0 adm admin users show dave --json
	[[ $(jq -r .role <<<"$output") == guest ]] || false
	printf 'given-password-1\n' | as dave login dave --password-stdin
	# a taken name is refused input: exit 1
	run -1 --separate-stderr adm admin users create Dave --password-stdin \
		<<<"given-password-1"
	[[ $stderr == *username_taken* ]] || false
	run -0 adm admin users create erin --json
	[[ $(jq -r .user.username <<<"$output") == erin ]] || false
	[[ $(jq -r .password <<<"$output") != null ]] || false
}

@test "users disable ends the sessions; enable lets the user back" {
	new_account frank
	run -0 as frank whoami
	run -0 adm admin users disable frank
	run -2 as frank whoami
	run -0 adm admin users enable frank --json
	[[ $(jq -r .disabled <<<"$output") == false ]] || false
	printf 'password-frank\n' | as frank login frank --password-stdin
	run -0 as frank whoami
}

@test "users role sets the role; a bad role is exit 1" {
	new_account gina
	run -0 adm admin users role gina admin
	run -0 adm admin users show gina --json
	[[ $(jq -r .role <<<"$output") == admin ]] || false
	run -0 adm admin users role gina user
	run -1 --separate-stderr adm admin users role gina wizard
	[[ -n $stderr ]] || false
}

@test "users passwd sets the password and ends the user's sessions" {
	new_account hank
	run -0 adm admin users passwd hank --password-stdin <<<"new-password-hank"
	run -2 as hank whoami
	printf 'new-password-hank\n' | as hank login hank --password-stdin
	run -0 as hank whoami
	run -1 --separate-stderr adm admin users passwd hank --password-stdin </dev/null
	[[ $stderr == *"no password"* ]] || false
}

@test "users rm asks first, refuses without a terminal, --yes deletes" {
	new_account ivan
	run -1 --separate-stderr adm admin users rm ivan </dev/null
	[[ $stderr == *"pass --yes"* ]] || false
	run -0 adm admin users show ivan
	run -0 adm admin users rm ivan --yes
	run -3 adm admin users show ivan
	run -2 as ivan whoami
	# on a terminal, anything but y keeps the account
	command -v script >/dev/null || return 0
	new_account jill
	run -1 script -qec "XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/root $CHATCTL --server $(base_url) admin users rm jill" /dev/null <<<"n"
	[[ $output == *"[y/N]"* ]] || false
	run -0 adm admin users show jill
}

@test "sessions ls of one user or all, and rm revokes one" {
	local sid uid
	new_account kate
	uid=$(adm admin users show kate --json | jq -r .id)
	run -0 adm admin sessions ls kate --json
	[[ $(jq -r '[.data[].user_id] | unique | join(",")' <<<"$output") == "$uid" ]] || false
	sid=$(jq -r '.data[0].id' <<<"$output")
	run -0 adm admin sessions ls
	[[ ${lines[0]} =~ ^ID\ +USER\ ID\ +CREATED ]] || false
	[[ $output == *"$sid"* ]] || false
	run -0 adm admin sessions ls --output tsv
	[[ $(grep -c "^$sid"$'\t'"$uid"$'\t' <<<"$output") == 1 ]] || false
	run -0 adm admin sessions rm "$sid"
	run -2 as kate whoami
	run -3 adm admin sessions rm "$sid"
}

@test "apikeys ls of one user or all, and rm revokes one" {
	local key kid
	new_account lena
	key=$(as lena apikey create ci)
	run -0 adm admin apikeys ls lena --json
	[[ $(jq -r '.data | length' <<<"$output") == 1 ]] || false
	kid=$(jq -r '.data[0].id' <<<"$output")
	[[ $(jq -r '.data[0].name' <<<"$output") == ci ]] || false
	[[ $output != *"$key"* ]] || false
	run -0 adm admin apikeys ls
	[[ ${lines[0]} =~ ^ID\ +USER\ ID\ +PREFIX ]] || false
	[[ $output == *"$kid"* ]] || false
	CHAT_API_KEY=$key run -0 "$CHATCTL" --server "$(base_url)" model ls
	run -0 adm admin apikeys rm "$kid"
	CHAT_API_KEY=$key run -2 "$CHATCTL" --server "$(base_url)" model ls
}

@test "models lists every model with its upstream's state" {
	run -0 adm admin models
	[[ ${lines[0]} =~ ^ID\ +PROVIDER\ +CONTEXT\ +UPSTREAM ]] || false
	[[ $output =~ (^|$'\n')echo\ +echo\ +[0-9]+\ +up ]] || false
	run -0 adm admin models --json
	[[ $(jq -r '.data[] | select(.id == "echo") | .up' <<<"$output") == true ]] || false
}

@test "a user who is no admin is refused with one clear line, exit 2" {
	local v
	for v in "users ls" "users show root" "users disable root" \
		"sessions ls" "apikeys ls" "models"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr as bob admin $v
		[[ -z $output ]] || false
		[[ $stderr == "chatctl: 'chatctl admin' needs an account of role admin"* ]] || false
		[[ $(wc -l <<<"$stderr") == 1 ]] || false
	done
	run -0 adm admin users show root --json
	[[ $(jq -r .disabled <<<"$output") == false ]] || false
}

@test "passwd changes the own password; the other sessions end" {
	new_account mona
	# a second session of mona's
	printf 'password-mona\n' | as mona2 login mona --password-stdin 2>/dev/null
	run -2 --separate-stderr as mona passwd --password-stdin \
		<<<$'wrong-password\nnew-password-mona'
	[[ $stderr == "chatctl: the current password is wrong" ]] || false
	run -0 as mona2 whoami
	run -0 as mona passwd --password-stdin <<<$'password-mona\nnew-password-mona'
	run -0 as mona whoami
	run -2 as mona2 whoami
	printf 'new-password-mona\n' | as mona3 login mona --password-stdin
	run -1 --separate-stderr as mona passwd --password-stdin <<<"only-one-line"
	[[ $stderr == *"too few lines"* ]] || false
	run -1 --separate-stderr as mona passwd </dev/null
	[[ $stderr == *"--password-stdin"* ]] || false
}

@test "account export writes the whole account as JSON" {
	new_account nina
	run -0 as nina ask "remember this"
	as nina account export >"$D/me.json"
	[[ $(jq -r .user.username "$D/me.json") == nina ]] || false
	jq -e '.sessions | length >= 1' "$D/me.json" >/dev/null
	grep -q "remember this" "$D/me.json"
	# no secrets
	run ! grep -q 'password-nina' "$D/me.json"
	run -2 --separate-stderr as nobody account export
	[[ -z $output ]] || false
}
