#!/usr/bin/env bats
# chatctl's shell completions: generated from its command table, every
# command and option of `help --commands` and `--help` completes in bash
# (driven through COMP_WORDS and _chatctl, as compgen-based completion
# runs), in zsh (its completion function with compadd recorded) and in
# fish (`complete -C`) when those shells are installed; the scripts in
# completions/ are what chatctl prints; make install puts them where each
# shell looks; conversation ids and model names come from the server,
# and a server that does not answer costs the shell at most a moment and
# no message.

setup_file() {
	load test_helper
	start_stack "[aid]" "ollama_detect = false"
	export XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config
	printf 'password-cora\n' | "${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl" \
		--server "$(base_url)" register cora --password-stdin 3>&- 2>/dev/null
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	CHATCTL=${CHAT_BIN:-$CHAT_ROOT/bin}/chatctl
	D=$BATS_TEST_TMPDIR
	"$CHATCTL" completion bash >"$D/chatctl.bash"
}

# bash_complete WORD...: the candidates bash offers for the last word
# (empty for a new one), one a line, from the generated script.
bash_complete() {
	bash -c 'source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		_chatctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$D/chatctl.bash" "$@"
}

zsh_complete() {
	"$CHATCTL" completion zsh >"$D/_chatctl"
	zsh -f -c 'compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }
		source "$1"; shift
		words=("$@"); CURRENT=$#; _chatctl' _ "$D/_chatctl" "$@"
}

fish_complete() {
	"$CHATCTL" completion fish >"$D/chatctl.fish"
	fish -c 'source $argv[1]; complete -C "$argv[2]"' "$D/chatctl.fish" "$*" |
		cut -f1
}

# every_command_completes SHELL: each word of each command of the table
# is offered after the words before it, and each option of its --help
# after "--".
every_command_completes() {
	local fn=$1_complete cmd n=0 opts o
	local -a w
	run -0 "$CHATCTL" help --commands
	local commands=$output
	while IFS= read -r cmd; do
		read -ra w <<<"$cmd"
		local k
		for ((k = 0; k < ${#w[@]}; k++)); do
			run -0 "$fn" chatctl "${w[@]:0:k}" ""
			grep -qxF -- "${w[k]}" <<<"$output" || {
				echo "$1: '${w[k]}' not offered after 'chatctl ${w[*]:0:k}'" >&2
				return 1
			}
		done
		# the options the command's help lists
		opts=$("$CHATCTL" help "${w[@]}" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
		run -0 "$fn" chatctl "${w[@]}" --
		for o in $opts; do
			grep -qxF -- "$o" <<<"$output" || {
				echo "$1: '$o' not offered for 'chatctl $cmd'" >&2
				return 1
			}
		done
		n=$((n + 1))
	done <<<"$commands"
	((n >= 15)) || false
}

@test "bash: every command of the table and its options complete" {
	every_command_completes bash
}

@test "zsh: every command of the table and its options complete" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	every_command_completes zsh
}

@test "fish: every command of the table and its options complete" {
	command -v fish >/dev/null || skip "fish is not installed"
	every_command_completes fish
}

@test "option values and arguments complete from their lists" {
	run -0 bash_complete chatctl conv ls --output ""
	[[ $output == $'table\ntsv\njson' ]] || false
	run -0 bash_complete chatctl --color n
	[[ $output == never ]] || false
	run -0 bash_complete chatctl completion ""
	[[ $output == $'bash\nzsh\nfish' ]] || false
	# options and their values are skipped on the way to the command
	run -0 bash_complete chatctl --server http://x conv --help s
	[[ $output == show ]] || false
	run -1 --separate-stderr "$CHATCTL" completion tcsh
	[[ $stderr == *"no completion for the shell 'tcsh'"* ]] || false
}

@test "completion needs no server and touches no credentials (make runs it)" {
	CHAT_SERVER=ftp://nowhere XDG_CONFIG_HOME=$D/config \
		run -0 --separate-stderr "$CHATCTL" completion zsh
	[[ ${lines[0]} == "#compdef chatctl" && -z $stderr ]] || false
	[[ ! -e $D/config ]] || false
}

@test "the scripts in completions/ are what chatctl prints" {
	local sh
	for sh in bash zsh fish; do
		"$CHATCTL" completion "$sh" >"$D/want"
		cmp "$D/want" "$CHAT_ROOT/completions/chatctl.$sh"
	done
}

@test "make install puts each script where its shell looks" {
	local build=${CHAT_BUILD:-build}
	[[ $build == /* ]] || build=$CHAT_ROOT/$build
	run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$CHAT_ROOT" \
		--no-print-directory -o all B="$build" \
		BIN="${CHAT_BIN:-$CHAT_ROOT/bin}" DESTDIR="$D/root" PREFIX=/usr install
	cmp "$CHAT_ROOT/completions/chatctl.bash" \
		"$D/root/usr/share/bash-completion/completions/chatctl"
	cmp "$CHAT_ROOT/completions/chatctl.zsh" \
		"$D/root/usr/share/zsh/site-functions/_chatctl"
	cmp "$CHAT_ROOT/completions/chatctl.fish" \
		"$D/root/usr/share/fish/vendor_completions.d/chatctl.fish"
	# zsh finds it through fpath as _chatctl, bash-completion by name
	head -1 "$D/root/usr/share/zsh/site-functions/_chatctl" | grep -qx '#compdef chatctl'
}

@test "conversation ids and model names come from the server" {
	local id
	export CHAT_SERVER=$(base_url)
	run -0 "$CHATCTL" ask "something to complete"
	id=$("$CHATCTL" conv ls --json | jq -r '.data[0].id')
	[[ -n $id && $id != null ]] || false
	run -0 bash_complete "$CHATCTL" conv show ""
	[[ $output == *"$id"* ]] || false
	run -0 bash_complete "$CHATCTL" conv rm "${id:0:8}"
	[[ $output == "$id" ]] || false
	run -0 bash_complete "$CHATCTL" ask -m ec
	[[ $output == echo ]] || false
	run -0 bash_complete "$CHATCTL" ask --conversation "${id:0:8}"
	[[ $output == "$id" ]] || false
	if command -v zsh >/dev/null; then
		run -0 zsh_complete "$CHATCTL" ask --model ""
		grep -qx echo <<<"$output"
	fi
	if command -v fish >/dev/null; then
		run -0 fish_complete "$CHATCTL" conv show ""
		grep -qxF "$id" <<<"$output"
	fi
}

@test "a server that does not answer costs a moment and no message" {
	local port start elapsed
	port=$(free_port)
	# accepts connections (the kernel does) but never answers
	python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(30)' \
		"$port" 3>&- &
	local pid=$!
	sleep 0.3
	# a key, so that the call is made (a login is for another server)
	export CHAT_API_KEY=chat_sk_not_checked_before_the_answer
	start=$(date +%s%N)
	run -0 --separate-stderr bash_complete "$CHATCTL" --server \
		"http://127.0.0.1:$port" conv show ""
	elapsed=$((($(date +%s%N) - start) / 1000000))
	kill "$pid" 2>/dev/null || true
	[[ -z $output && -z $stderr ]] || false
	((elapsed < 3000)) || false
	# and the helper itself fails quietly
	run -4 --separate-stderr "$CHATCTL" --server "http://127.0.0.1:$port" \
		__complete models
	[[ -z $output && -z $stderr ]] || false
}
