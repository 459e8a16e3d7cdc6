#!/usr/bin/env bats
# chatctl against the real stack: register/login/logout, the credentials
# file, transparent refresh, ask (pipelines, -c, --json, --no-stream,
# Ctrl-C, an upstream error), chat driven through stdin, conv, model,
# apikey and CHAT_API_KEY, usage errors and exit codes, and nothing but
# results on stdout.  The echo model answers with the prompt; the fake
# upstream (as the openai provider) gives slow and failing answers.

setup_file() {
	load test_helper
	start_fakellm
	# access tokens live 60 s (userd's minimum), so that the last test can
	# present a really expired one
	start_stack "[routes]" "/v1/conversations = chatd" "/v1/ws = chatd" \
		"/v1/models = aid" "/v1/chat = aid" \
		"[userd]" "access_ttl_s = 60" \
		"[aid]" "ollama_detect = false" \
		"[openai]" "base_url = $FAKELLM_URL/v1"
	export XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config
	export XDG_STATE_HOME=$BATS_FILE_TMPDIR/state
	# a session that ages untouched until the last test
	printf 'password-tess\n' | XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/tess \
		"${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)" \
		register tess --password-stdin 3>&- 2>/dev/null
	date +%s >"$BATS_FILE_TMPDIR/tess.since"
}

teardown_file() {
	load test_helper
	stop_stack
	stop_fakellm
}

setup() {
	load test_helper
	CHATCTL=${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl
	CREDS=$XDG_CONFIG_HOME/chat/credentials
	# the first test registers ada; any other, run alone, finds her
	[[ $BATS_TEST_DESCRIPTION == "register creates the account"* ]] || need_ada
}

# need_ada: ada's credentials in the file's config dir, as the first test
# leaves them, made here when it did not run (bats -f) or a test logged
# her out.
need_ada() {
	[[ -s $CREDS ]] && return 0
	cc login --username ada --password-stdin <<<"password-ada" >/dev/null 2>&1 ||
		cc register ada --password-stdin <<<"password-ada" >/dev/null 2>&1
}

# cc ARGS...: chatctl on this file's stack.
cc() {
	"$CHATCTL" --server "$(base_url)" "$@"
}

# expect_one_error: stdout empty, stderr one "chatctl: " line.
expect_one_error() {
	[[ -z $output ]] || { echo "stdout: $output" >&2; return 1; }
	[[ $stderr == "chatctl: "* && $stderr != *$'\n'* ]] || {
		echo "stderr: $stderr" >&2
		return 1
	}
}

# wait_title ID: until the automatic title of a new conversation is set,
# so that a rename cannot be overwritten by it.
wait_title() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ $(cc conv show --json "$1" </dev/null | jq -r .title) != null ]] && return 0
		sleep 0.1
	done
}

# The newest conversation's id.
latest_conv() {
	cc conv ls --limit 1 --json </dev/null | jq -r '.data[0].id'
}

@test "register creates the account and logs in; credentials 0600 in a 0700 dir" {
	run --separate-stderr cc register ada --password-stdin <<<"password-ada"
	[[ $status -eq 0 ]] || false
	[[ -z $output ]] || false
	[[ $stderr == *"registered 'ada'"* ]] || false
	[[ $(stat -c %a "$CREDS") == 600 ]] || false
	[[ $(stat -c %a "${CREDS%/*}") == 700 ]] || false
	jq -e --arg s "$(base_url)" '.server == $s and .username == "ada" and
		(.access_token | length > 20) and (.refresh_token | length > 20) and
		(.expires_at > now)' "$CREDS"
	# the tokens work
	run --separate-stderr cc whoami
	[[ $status -eq 0 && $output == "ada (user) on $(base_url)" ]] || false
}

@test "a config dir that others can write is made 0700 again, with a warning" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/cfg
	CREDS=$XDG_CONFIG_HOME/chat/credentials
	run --separate-stderr cc register grace --password-stdin <<<"password-grace"
	[[ $status -eq 0 ]] || false
	chmod 777 "${CREDS%/*}"
	run --separate-stderr cc whoami
	[[ $status -eq 0 && $output == "grace (user) on $(base_url)" ]] || false
	[[ $stderr == *"was writable by others: made it 0700"* ]] || false
	[[ $(stat -c %a "${CREDS%/*}") == 700 ]] || false
	# once repaired, nothing more is said
	run --separate-stderr cc whoami
	[[ $status -eq 0 && -z $stderr ]] || false
}

@test "register: a taken username exits 4 and keeps the credentials" {
	cp "$CREDS" "$BATS_TEST_TMPDIR/before"
	run -4 --separate-stderr cc register ada --password-stdin <<<"password-ada"
	expect_one_error
	[[ $stderr == *username_taken* ]] || false
	cmp "$CREDS" "$BATS_TEST_TMPDIR/before"
}

@test "login: a wrong password exits 2, one line on stderr, nothing written" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/cfg
	run -2 --separate-stderr cc login --username ada --password-stdin <<<"wrong-password"
	expect_one_error
	[[ $stderr == *invalid_credentials* ]] || false
	[[ ! -e $XDG_CONFIG_HOME/chat/credentials ]] || false
	run -2 --separate-stderr cc login --username nobody --password-stdin <<<"whatever-pw"
	expect_one_error
}

@test "login --password-stdin then logout revokes the session and removes the file" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/cfg
	local f=$XDG_CONFIG_HOME/chat/credentials rt
	run --separate-stderr cc login --username ada --password-stdin <<<"password-ada"
	[[ $status -eq 0 && -z $output ]] || false
	[[ $(stat -c %a "$f") == 600 ]] || false
	rt=$(jq -r .refresh_token "$f")
	run --separate-stderr cc logout
	[[ $status -eq 0 && -z $output ]] || false
	[[ ! -e $f ]] || false
	# the session is gone on the server
	api POST /v1/auth/refresh "$(jq -nc --arg t "$rt" '{refresh_token: $t}')"
	expect_status 401
	# logging out twice is fine; using the API is not
	run -0 cc logout
	run -2 --separate-stderr cc conv ls
	expect_one_error
	[[ $stderr == *"not logged in"* ]] || false
}

@test "credentials of another server are not sent: exit 2" {
	run -2 --separate-stderr "$CHATCTL" --server http://127.0.0.1:1 model ls
	expect_one_error
	[[ $stderr == *"not logged in to 'http://127.0.0.1:1'"* ]] || false
}

@test "an unreachable server exits 4" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/cfg
	run -4 --separate-stderr "$CHATCTL" --server http://127.0.0.1:1 \
		login ada --password-stdin <<<"password-ada"
	expect_one_error
	[[ $stderr == *"cannot reach 'http://127.0.0.1:1'"* ]] || false
}

@test "the server comes from --server, CHAT_SERVER, then the credentials" {
	run -0 "$CHATCTL" whoami
	[[ $output == "ada (user) on $(base_url)" ]] || false
	CHAT_SERVER=$(base_url)/ run -0 "$CHATCTL" whoami
	[[ $output == "ada (user) on $(base_url)" ]] || false
	CHAT_SERVER=http://127.0.0.1:1 run -2 "$CHATCTL" whoami
}

@test "the access token is refreshed before it expires and the pair saved" {
	local before after
	before=$(jq -r .refresh_token "$CREDS")
	jq '.expires_at = 0' "$CREDS" >"$BATS_TEST_TMPDIR/c" && cp "$BATS_TEST_TMPDIR/c" "$CREDS"
	run --separate-stderr cc whoami
	[[ $status -eq 0 && -z $stderr ]] || false
	after=$(jq -r .refresh_token "$CREDS")
	[[ $after != "$before" ]] || false
	jq -e '.expires_at > now + 30' "$CREDS"
	[[ $(stat -c %a "$CREDS") == 600 ]] || false
	# the old refresh token is spent: the new pair really is the one in use
	run -0 cc whoami
}

@test "processes refreshing at once share one refresh (no reuse, no revocation)" {
	local i pids=() rc=0
	jq '.expires_at = 0' "$CREDS" >"$BATS_TEST_TMPDIR/c" && cp "$BATS_TEST_TMPDIR/c" "$CREDS"
	# without the lock and the re-read, all but one would spend an old
	# refresh token, and the server would revoke the whole session
	for i in 1 2 3 4 5 6; do
		cc whoami >"$BATS_TEST_TMPDIR/out.$i" 2>&1 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=$?
	done
	[[ $rc -eq 0 ]] || { cat "$BATS_TEST_TMPDIR"/out.* >&2; false; }
	run -0 cc whoami
	[[ $output == "ada (user) on $(base_url)" ]] || false
}

@test "usage errors exit 1 with one line and nothing on stdout" {
	local -a cases=(
		"bogus"
		"conv"
		"conv frobnicate"
		"conv show"
		"conv ls --limit 0"
		"conv ls --limit 101"
		"conv ls --limit x"
		"conv ls --bogus"
		"conv ls extra"
		"conv rename onlyid"
		"apikey create"
		"apikey create --expires x k"
		"apikey create --expires 7days k"
		"apikey create --scope chat --scope read k"
		"ask -c --conversation x hi"
		"chat -c --conversation x"
		"ask --model"
		"logout extra"
	)
	local c
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086
		run -1 --separate-stderr cc $c </dev/null
		[[ -z $output ]] || { echo "$c: stdout $output" >&2; false; }
		[[ $stderr == "chatctl: "* || $stderr == usage:* ]] || {
			echo "$c: $stderr" >&2
			false
		}
	done
	run -1 --separate-stderr cc ask </dev/null
	expect_one_error
	[[ $stderr == *"no prompt"* ]] || false
	run -1 --separate-stderr "$CHATCTL" --server ftp://x model ls
	expect_one_error
	run -1 --separate-stderr cc login --username ada </dev/null
	expect_one_error
	[[ $stderr == *"--password-stdin"* ]] || false
}

@test "help, --help and --version go to stdout and exit 0" {
	run -0 "$CHATCTL" --help
	[[ $output == *"conv ..."* && $output == *"ask [PROMPT...]"* ]] || false
	run -0 "$CHATCTL" help conv ls
	[[ $output == *"--limit N"* && $output == *"--json"* ]] || false
	run -0 "$CHATCTL" ask --help
	[[ $output == *"--no-stream"* && $output == *"--conversation ID"* ]] || false
	run -0 "$CHATCTL" --version
	[[ $output == "chatctl "[0-9]* ]] || false
}

@test "every command and option of the help is in the man page" {
	local man=$BATS_TEST_TMPDIR/chatctl.1 c o n=0
	# the page without roff's escaped dashes
	sed 's/\\-/-/g' "$CHAT_ROOT/man/chatctl.1" >"$man"
	# the commands come from chatctl's own table, never from a list here
	run -0 "$CHATCTL" help --commands
	[[ $output == *"conv ls"* && $output == *register* ]] || false
	while IFS= read -r c; do
		n=$((n + 1))
		grep -q "^\.SS \"\?$c" "$man" || { echo "no section for $c" >&2; false; }
		for o in $("$CHATCTL" help $c </dev/null | grep -o -- '--[a-z-]*' | sort -u); do
			grep -q -F -- "$o" "$man" || {
				echo "$c: $o not in the man page" >&2
				false
			}
		done
	done <<<"$output"
	((n >= 14)) || false
}

@test "printf x | chatctl ask 'review this' prints exactly the answer" {
	printf 'x' | cc ask "review this" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
	printf 'review this\n\nx\n' >"$BATS_TEST_TMPDIR/expect"
	cmp "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/out"
	[[ ! -s $BATS_TEST_TMPDIR/err ]] || false
	# the stored exchange is the combined prompt and its echo
	run -0 cc conv show --json "$(latest_conv)"
	jq -e '.messages | length == 2 and .[0].role == "user" and
		.[0].content == "review this\n\nx" and
		.[1].content == "review this\n\nx" and .[1].status == "complete"' <<<"$output"
}

@test "ask: arguments alone, stdin alone, and an answer ending in a newline" {
	run --separate-stderr cc ask two words </dev/null
	[[ $status -eq 0 && $output == "two words" && -z $stderr ]] || false
	printf 'from stdin\n' | cc ask >"$BATS_TEST_TMPDIR/out"
	printf 'from stdin\n' | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "ask --json: one object for jq; -c continues the same conversation" {
	local first second
	first=$(cc ask --json "first question" </dev/null)
	jq -e '(.conversation_id | test("^[0-9a-f-]{36}$")) and
		(.user_message_id | test("^[0-9a-f-]{36}$")) and
		(.assistant_message_id | test("^[0-9a-f-]{36}$")) and
		.text == "first question" and .model == "echo" and
		.status == "complete" and (.usage.completion_tokens | type == "number")' \
		<<<"$first"
	[[ $(wc -l <<<"$first") -eq 1 ]] || false
	second=$(cc ask -c --json "second question" </dev/null)
	[[ $(jq -r .conversation_id <<<"$second") == $(jq -r .conversation_id <<<"$first") ]] || false
	run -0 cc conv show --json "$(jq -r .conversation_id <<<"$first")"
	jq -e '[.messages[].content] == ["first question", "first question",
		"second question", "second question"]' <<<"$output"
	# --conversation ID does the same
	run -0 --separate-stderr cc ask --conversation "$(jq -r .conversation_id <<<"$first")" third </dev/null
	[[ $output == third ]] || false
	run -0 cc conv show --json "$(jq -r .conversation_id <<<"$first")"
	jq -e '.messages | length == 6' <<<"$output"
}

@test "ask --no-stream: the same answer from the 201 form" {
	run --separate-stderr cc ask --no-stream "not streamed" </dev/null
	[[ $status -eq 0 && $output == "not streamed" && -z $stderr ]] || false
	run -0 cc ask --no-stream --json "as json" </dev/null
	jq -e '.text == "as json" and .status == "complete"' <<<"$output"
}

@test "ask -m and -s set the new conversation's model and system prompt" {
	run -0 cc ask -m echo -s "be terse" "configured" </dev/null
	[[ $output == configured ]] || false
	run -0 cc conv show --json "$(latest_conv)"
	jq -e '.model == "echo" and .system_prompt == "be terse"' <<<"$output"
	# -s with -c changes the continued conversation's system prompt
	run -0 cc ask -c -s "be verbose" "again" </dev/null
	run -0 cc conv show --json "$(latest_conv)"
	jq -e '.system_prompt == "be verbose" and (.messages | length == 4)' <<<"$output"
}

@test "ask in an unknown conversation exits 3" {
	run -3 --separate-stderr cc ask --conversation 01900000-0000-7000-8000-000000000000 hi </dev/null
	expect_one_error
	run -3 --separate-stderr cc ask --conversation nonsense hi </dev/null
	expect_one_error
	run -3 --separate-stderr cc ask -m no-such-model hi </dev/null
	expect_one_error
	[[ $stderr == *model_not_found* ]] || false
}

@test "ask: a prompt over 1 MiB exits 1 before anything is sent" {
	local before
	before=$(cc conv ls --all --json </dev/null | jq '.data | length')
	run -1 --separate-stderr cc ask < <(head -c 1100000 /dev/zero | tr '\0' a)
	expect_one_error
	[[ $stderr == *"larger than 1048576 bytes"* ]] || false
	run -1 --separate-stderr cc ask two words < <(head -c 1048570 /dev/zero | tr '\0' a)
	expect_one_error
	[[ $(cc conv ls --all --json </dev/null | jq '.data | length') == "$before" ]] || false
}

@test "ask: an error in the middle of the answer exits 4, partial text kept" {
	# the fake upstream echoes the prompt and fails after three words
	run -4 --separate-stderr cc ask -m "openai/fake:error_at=3" \
		"one two three four five" </dev/null
	[[ $output == "one two three" ]] || false
	[[ $stderr == "chatctl: "* && $stderr != *$'\n'* ]] || false
	run -0 cc conv show --json "$(latest_conv)"
	jq -e '.messages[1].status == "error" and
		.messages[1].content == "one two three"' <<<"$output"
}

@test "Ctrl-C during ask stops the generation on the server and exits 130" {
	local pid i rc=0
	curl -s -X POST "$FAKELLM_URL/_reset" >/dev/null
	# 400 words at 20 ms each: 8 s unless stopped
	# chatctl itself in the background (a function would put a shell
	# between the signal and it)
	"$CHATCTL" --server "$(base_url)" ask -m "openai/fake:delay_ms=20" \
		"$(seq -s ' ' 1 400)" </dev/null \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s $BATS_TEST_TMPDIR/out ]] && break
		sleep 0.05
	done
	[[ -s $BATS_TEST_TMPDIR/out ]] || false
	kill -INT "$pid"
	wait "$pid" || rc=$?
	[[ $rc -eq 130 ]] || { cat "$BATS_TEST_TMPDIR/err" >&2; false; }
	[[ $(<"$BATS_TEST_TMPDIR/out") == 1* ]] || false
	# stopped: the stored answer is partial, and the upstream was closed
	for ((i = 0; i < 50; i++)); do
		run -0 cc conv show --json "$(latest_conv)"
		[[ $(jq -r '.messages[1].status' <<<"$output") == stopped ]] && break
		sleep 0.1
	done
	jq -e '.messages[1].status == "stopped" and
		(.messages[1].content | split(" ") | length < 400)' <<<"$output"
	fakellm_stats
	jq -e '.aborted >= 1' <<<"$body"
}

@test "conv ls: aligned table, --limit, --all, --json" {
	local i n
	# three of its own, and ten in all (earlier tests, when they ran,
	# made most of them)
	n=$(cc conv ls --json --all </dev/null | jq '.data | length')
	for ((i = 1; i <= 3 || n < 10; i++, n++)); do
		cc ask "listing $i" </dev/null >/dev/null
	done
	run -0 --separate-stderr cc conv ls --limit 2
	[[ ${#lines[@]} -eq 3 ]] || false
	[[ ${lines[0]} =~ ^ID\ +UPDATED\ +MODEL\ +TITLE$ ]] || false
	# every row has its columns where the heading has them
	local title_at=${lines[0]%%TITLE*}
	for i in 1 2; do
		[[ ${lines[i]} =~ ^[0-9a-f-]{36}\ +[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}\ +[a-z]+\ + ]] || false
		[[ ${lines[i]:${#title_at}:1} != " " && ${lines[i]:${#title_at}-1:1} == " " ]] || false
	done
	run -0 cc conv ls --json --limit 2
	jq -e '(.data | length == 2) and (.next_cursor | type == "string")' <<<"$output"
	local total
	total=$(cc conv ls --json --all --limit 1 | jq '.data | length')
	[[ $total -ge 10 ]] || false
	run -0 cc conv ls --all --limit 3
	[[ ${#lines[@]} -eq $((total + 1)) ]] || false
	run -0 cc conv ls --json --all
	jq -e --argjson n "$total" '(.data | length == $n) and .next_cursor == null' <<<"$output"
}

@test "conv ls: long and wide titles are cut by display width; controls blanked" {
	local id wide
	id=$(cc ask --json "titled" </dev/null | jq -r .conversation_id)
	wait_title "$id"
	wide=$(printf '漢%.0s' {1..40})
	run -0 cc conv rename "$id" "$wide"
	run -0 cc conv ls --all
	# 60 columns at most when not on a terminal: 29 wide characters and …
	[[ $(grep "^$id " <<<"$output") == *"  $(printf '漢%.0s' {1..29})…" ]] || false
	run -0 cc conv rename "$id" $'evil\e[2Jtitle'
	run -0 cc conv ls --all
	[[ $(grep "^$id " <<<"$output") == *"  evil [2Jtitle" ]] || false
	run -0 cc conv show --json "$id"
	jq -e '.title == "evil\u001b[2Jtitle"' <<<"$output"
}

@test "conv ls: a ZWJ family is 2 columns, as chatui measures it" {
	local id family title
	id=$(cc ask --json "family" </dev/null | jq -r .conversation_id)
	wait_title "$id"
	family=$'\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466'
	# ten families and a letter: 21 columns (shared/width.c), whole in
	# the 60 a pipe gets; counted code point by code point it was 81 and
	# was cut inside a family
	title=$(printf "$family%.0s" {1..10})x
	run -0 cc conv rename "$id" "$title"
	run -0 cc conv ls --all
	[[ $(grep "^$id " <<<"$output") == *"  $title" ]] || false
}

@test "conv show prints the branch as role: text blocks" {
	local id
	id=$(cc ask --json "line one" </dev/null | jq -r .conversation_id)
	cc ask --conversation "$id" "line two" </dev/null >/dev/null
	cc conv show "$id" >"$BATS_TEST_TMPDIR/out"
	# blocks are separated by one empty line
	printf 'user: line one\n\nassistant: line one\n\nuser: line two\n\nassistant: line two\n' \
		>"$BATS_TEST_TMPDIR/expect"
	cmp "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/out"
	run -0 cc conv show --json "$id"
	jq -e --arg id "$id" '.id == $id and (.messages | length == 4)' <<<"$output"
}

@test "conv rename and rm; unknown ids exit 3" {
	local id
	id=$(cc ask --json "to be renamed" </dev/null | jq -r .conversation_id)
	wait_title "$id"
	run --separate-stderr cc conv rename "$id" a new title
	[[ $status -eq 0 && -z $output ]] || false
	run -0 cc conv show --json "$id"
	jq -e '.title == "a new title"' <<<"$output"
	run --separate-stderr cc conv rm "$id"
	[[ $status -eq 0 && -z $output ]] || false
	run -3 --separate-stderr cc conv show "$id"
	expect_one_error
	run -3 --separate-stderr cc conv rm "$id"
	expect_one_error
	run -3 --separate-stderr cc conv rename "$id" x
	expect_one_error
	run -3 --separate-stderr cc conv show 01900000-0000-7000-8000-000000000000
	expect_one_error
}

@test "model ls includes echo; --json is the OpenAI list" {
	run -0 --separate-stderr cc model ls
	[[ ${lines[0]} =~ ^ID\ +OWNED\ BY$ ]] || false
	[[ $output =~ (^|$'\n')echo\ +echo($'\n'|$) ]] || false
	run -0 cc model ls --json
	jq -e '.object == "list" and any(.data[]; .id == "echo")' <<<"$output"
}

@test "apikey create, ls, rm, and CHAT_API_KEY instead of credentials" {
	local key id
	run -0 --separate-stderr cc apikey create "my script"
	key=$output
	[[ $key =~ ^chat_[A-Za-z0-9_-]{43}$ ]] || false
	run -0 cc apikey ls
	[[ ${lines[0]} =~ ^ID\ +PREFIX\ +CREATED\ +LAST\ USED\ +SCOPES\ +EXPIRES\ +NAME$ ]] || false
	[[ $output =~ chat,read,admin\ +never\ +my\ script ]] || false
	[[ $output == *"${key:0:12}"*"my script"* ]] || false
	id=$(cc apikey ls --json | jq -r '.data[] | select(.name == "my script") | .id')
	# a script with only the key: no credentials file at all
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/none CHAT_API_KEY=$key \
		run -0 --separate-stderr cc ask "by key" </dev/null
	[[ $output == "by key" ]] || false
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/none CHAT_API_KEY=$key run -0 cc whoami
	[[ $output == "ada (user) on $(base_url)" ]] || false
	run -0 cc apikey rm "$id"
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/none CHAT_API_KEY=$key \
		run -2 --separate-stderr cc conv ls
	expect_one_error
	run -3 --separate-stderr cc apikey rm "$id"
	expect_one_error
}

@test "apikey create --scope and --expires; a key cannot make keys" {
	local key id
	run -0 --separate-stderr cc apikey create --scope read,chat --expires 30 limited
	key=$output
	run -0 cc apikey ls --json
	jq -e '.data[] | select(.name == "limited") |
		.scopes == ["chat","read"] and
		((.expires_at | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) -
		 (.created_at | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) == 30 * 86400)' <<<"$output"
	id=$(jq -r '.data[] | select(.name == "limited") | .id' <<<"$output")
	run -0 cc apikey ls
	[[ $output =~ chat,read\ +[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{5}\ +limited ]] || false
	# what the server refuses exits 1, and nothing is made
	run -1 --separate-stderr cc apikey create --scope chat,bogus refused
	expect_one_error
	run -1 --separate-stderr cc apikey create --scope chat, refused
	expect_one_error
	run -1 --separate-stderr cc apikey create --expires 0 refused
	expect_one_error
	run -1 --separate-stderr cc apikey create --scope admin refused
	expect_one_error
	# with only the key: 403, exit 2
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/none CHAT_API_KEY=$key \
		run -2 --separate-stderr cc apikey create by-key
	expect_one_error
	[[ $stderr == *"signed-in session"* ]] || false
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/none CHAT_API_KEY=$key \
		run -2 --separate-stderr cc apikey ls
	expect_one_error
	run -0 cc apikey ls --json
	[[ $(jq '[.data[] | select(.name == "refused" or .name == "by-key")] | length' <<<"$output") == 0 ]] || false
	run -0 cc apikey rm "$id"
}

@test "chat with stdin not a terminal: each line is a prompt" {
	printf 'hello there\n\n/model echo\nsecond line\n//slash\n' | cc chat \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
	printf 'hello there\nsecond line\n/slash\n' | cmp - "$BATS_TEST_TMPDIR/out"
	[[ ! -s $BATS_TEST_TMPDIR/err ]] || false
	run -0 cc conv show --json "$(latest_conv)"
	jq -e '[.messages[].content] == ["hello there", "hello there",
		"second line", "second line", "/slash", "/slash"] and .model == "echo"' <<<"$output"
	# -c continues it; /new starts another; an unknown command fails
	run -1 --separate-stderr cc chat -c <<<$'more\n/new\nfresh\n/bogus\nnever sent'
	[[ $output == $'more\nfresh' ]] || false
	[[ $stderr == *"unknown command '/bogus'"* ]] || false
	run -0 cc conv show --json "$(latest_conv)"
	jq -e '[.messages[].content] == ["fresh", "fresh"]' <<<"$output"
}

@test "an access token the server calls expired is refreshed once (401 token_expired)" {
	local since cfg=$BATS_FILE_TMPDIR/tess before wait_s
	since=$(<"$BATS_FILE_TMPDIR/tess.since")
	wait_s=$((since + 62 - $(date +%s)))
	((wait_s <= 0)) || sleep "$wait_s"
	before=$(jq -r .refresh_token "$cfg/chat/credentials")
	# pretend the clock says the token is fine: only the server knows
	jq '.expires_at = (now + 3600 | floor)' "$cfg/chat/credentials" >"$BATS_TEST_TMPDIR/c"
	cp "$BATS_TEST_TMPDIR/c" "$cfg/chat/credentials"
	XDG_CONFIG_HOME=$cfg run -0 --separate-stderr cc whoami
	[[ $output == "tess (admin) on $(base_url)" && -z $stderr ]] || false
	[[ $(jq -r .refresh_token "$cfg/chat/credentials") != "$before" ]] || false
}
