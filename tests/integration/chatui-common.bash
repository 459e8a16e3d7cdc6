# chatui-common.bash - helpers of chatui.bats (and bench/chatui.sh's
# ideas): the real chatui in a private tmux server, driven with
# send-keys and read with capture-pane.  Loaded after test_helper.
#
# Each file gets its own tmux server (a socket named after the run's and
# the file's temp dirs: the file's alone is "0" in every run, and two
# runs at once must not share, let alone kill, one server), killed by
# that socket in teardown_file; each test gets its own session,
# XDG_CONFIG_HOME (so its own credentials file) and user.

# The file's private tmux server.  The names by parameter expansion, not
# basename: tm runs on every poll of the screen, 20 times a second.
tm() {
	local run=${BATS_RUN_TMPDIR%/} file=${BATS_FILE_TMPDIR%/}
	tmux -L "chatui-test-${run##*/}-${file##*/}" -f /dev/null "$@"
}

# tm_start: starts the file's tmux server with a session that lives as
# long as it (when the last session ends the server exits, and a
# new-session racing with that exit fails).
tm_start() {
	tm new-session -d -s keep -x 100 -y 30 'sleep 86400'
}

# tm_stop: kills this file's tmux server (never the default one).
tm_stop() {
	tm kill-server 2>/dev/null || true
}

# chatui_login USER: registers USER and writes the test's credentials
# file with chatctl; sets user_id and access_token (for api calls).
chatui_login() {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	new_user "$1" || return 1
	printf 'password-%s\n' "$1" | XDG_CONFIG_HOME=$XDG_CONFIG_HOME \
		"$CHAT_BIN/chatctl" --server "$(base_url)" login "$1" \
		--password-stdin >/dev/null || return 1
}

# chatui_start [VAR=VALUE...] [-- CHATUI-ARG...]: starts chatui in a new
# session (100x30) named $ui (the test's number); the pane stays after
# chatui exits and says "[chatui exited N]".
chatui_start() {
	local -a envs=() args=()
	while (($#)); do
		if [[ $1 == -- ]]; then
			shift
			args=("$@")
			break
		fi
		envs+=("$1")
		shift
	done
	ui=t$BATS_TEST_NUMBER
	local cmd
	cmd=$(printf '%q ' env TERM=tmux-256color LC_ALL=C.UTF-8 \
		XDG_CONFIG_HOME="$XDG_CONFIG_HOME" "${envs[@]}" \
		"$CHAT_BIN/chatui" -s "$(base_url)" "${args[@]}")
	LC_ALL=C.UTF-8 tm new-session -d -s "$ui" -x 100 -y 30 \
		"$cmd 2>$BATS_TEST_TMPDIR/chatui.err; echo \"[chatui exited \$?]\"; sleep 600" ||
		return 1
}

# screen: the pane's text now.
screen() {
	tm capture-pane -p -t "$ui"
}

# keys KEY...: tmux send-keys to chatui (key names or text).
keys() {
	tm send-keys -t "$ui" "$@"
}

# type_text TEXT: TEXT typed literally.
type_text() {
	tm send-keys -t "$ui" -l "$1"
}

# wait_for_screen PATTERN [SECONDS]: polls the pane until a line matches
# the extended regex PATTERN (10 s by default); on timeout, fails
# showing the screen.
wait_for_screen() {
	local pat=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 20; i++)); do
		screen | grep -Eq -- "$pat" && return 0
		sleep 0.05
	done
	echo "timed out waiting for /$pat/ on the screen:" >&2
	screen >&2
	return 1
}

# wait_gone PATTERN [SECONDS]: polls until no line matches.
wait_gone() {
	local pat=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 20; i++)); do
		screen | grep -Eq -- "$pat" || return 0
		sleep 0.05
	done
	echo "timed out waiting for /$pat/ to go:" >&2
	screen >&2
	return 1
}

# wait_api_jq PATH FILTER [SECONDS]: polls GET PATH (the test user's
# token) until the jq FILTER is true.
wait_api_jq() {
	local path=$1 filter=$2 limit=${3:-10} i
	for ((i = 0; i < limit * 20; i++)); do
		api GET "$path" "" "$access_token"
		[[ $status_code == 200 && $(jq -r "$filter" <<<"$body") == true ]] &&
			return 0
		sleep 0.05
	done
	echo "timed out waiting for $filter on $path: $status_code $body" >&2
	return 1
}

# first_conv: the test user's newest conversation id into conv.
first_conv() {
	api GET /v1/conversations "" "$access_token"
	conv=$(jb '.data[0].id // empty')
	[[ -n $conv ]] || {
		echo "no conversation: $body" >&2
		return 1
	}
}

# chatui_alive: chatui has not exited.
chatui_alive() {
	! screen | grep -q '\[chatui exited'
}

# Ctrl-B (copy a code block, OSC 52) with tmux's paste buffers emptied
# first: what chatui copied lands in $BATS_TEST_TMPDIR/got.
copy_code_block() {
	local i
	tm delete-buffer 2>/dev/null || true
	keys C-b
	for ((i = 0; i < 100; i++)); do
		tm save-buffer "$BATS_TEST_TMPDIR/got" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
