# chatctl-common.bash - helpers of the chatctl-*.bats files, loaded after
# test_helper: a stack of the file's own, one account logged in from
# setup_file (so that each test runs alone, `bats -f`), and chatctl on it.
#
#   setup_file() { load test_helper; load chatctl-common; ctl_stack; }
#   teardown_file() { load test_helper; load chatctl-common; ctl_teardown; }
#   setup() { load test_helper; load chatctl-common; ctl_setup; }

# ctl_stack [CONFIG-LINE...]: starts the stack and registers USER (ada by
# default) with chatctl, her credentials under $BATS_FILE_TMPDIR/config.
ctl_stack() {
	start_stack "[aid]" "echo_delay_ms = 0" "ollama_detect = false" "$@" ||
		return 1
	export XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config
	printf 'password-%s\n' "${USER_NAME:-ada}" |
		"${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" --server "$(base_url)" \
			register "${USER_NAME:-ada}" --password-stdin 3>&- 2>/dev/null
}

ctl_teardown() {
	stop_stack
}

# ctl_setup: CHATCTL, the file's config dir, no pager or colour from the
# environment of whoever runs the tests.
ctl_setup() {
	CHATCTL=${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl
	export XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config
	CREDS=$XDG_CONFIG_HOME/chat/credentials
	unset NO_COLOR PAGER CHAT_SERVER CHAT_API_KEY
}

# cc ARGS...: chatctl on this file's stack.
cc() {
	"$CHATCTL" --server "$(base_url)" "$@"
}

# on_tty COMMAND: runs the shell command on a pseudo-terminal of 100x10
# (script(1)); its output, CRs removed, on stdout.
on_tty() {
	script -qec "stty rows 10 cols 100; $1" /dev/null </dev/null | tr -d '\r'
}

# expect_one_error: stdout empty, stderr one "chatctl: " line.
expect_one_error() {
	[[ -z $output ]] || { echo "stdout: $output" >&2; return 1; }
	[[ $stderr == "chatctl: "* && $stderr != *$'\n'* ]] || {
		echo "stderr: $stderr" >&2
		return 1
	}
}

# new_conv TEXT: a conversation of one exchange (the echo model answers
# with the question); its id in $conv.
new_conv() {
	conv=$(cc ask -m echo --json "$1" </dev/null | jq -r .conversation_id) || return 1
	[[ -n $conv && $conv != null ]] || return 1
}

# fresh_user: a user of the test's own, logged in, in a config dir of the
# test's own; the name in $U.
fresh_user() {
	U=u$RANDOM$RANDOM
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
	CREDS=$XDG_CONFIG_HOME/chat/credentials
	cc register "$U" --password-stdin <<<"password-$U" 2>/dev/null
}
