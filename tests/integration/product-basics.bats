#!/usr/bin/env bats
# What a new user meets first, checked against the build and the
# checkout: one version for every program (VERSION), daemons that take
# --help as well as -h, make install's names, docs that name what is
# built, the licence, make run's one-time password shown where a person
# reads it (after chatui, on a terminal), and chatctl's MODEL column
# naming the model that will answer rather than "default".

setup_file() {
	load test_helper
	start_stack "[aid]" "ollama_detect = false"
	export XDG_CONFIG_HOME=$BATS_FILE_TMPDIR/config
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	BIN_DIR=${CHAT_BIN:-$CHAT_ROOT/bin}
	D=$BATS_TEST_TMPDIR
}

# The daemons there are: every daemons/NAME with C files.
built_daemons() {
	local d
	for d in "$CHAT_ROOT"/daemons/*/; do
		d=${d%/}
		compgen -G "$d/*.c" >/dev/null && echo "${d##*/}"
	done
}

@test "every program reports the one version of the VERSION file" {
	local want p n=0
	want=$(<"$CHAT_ROOT/VERSION")
	[[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || false
	for p in chatctl chatui $(built_daemons); do
		run -0 "$BIN_DIR/$p" --version
		[[ $output == "$p $want" ]] || false
		n=$((n + 1))
	done
	((n >= 7)) || false
}

@test "daemons take --help as well as -h, and -V" {
	local d
	for d in $(built_daemons); do
		run -0 --separate-stderr "$BIN_DIR/$d" -h
		local short=$output
		[[ $short == "usage: $d "* && $short == *--help* ]] || false
		run -0 --separate-stderr "$BIN_DIR/$d" --help
		[[ $output == "$short" && -z $stderr ]] || false
		run -0 "$BIN_DIR/$d" -V
		[[ $output == "$d $(<"$CHAT_ROOT/VERSION")" ]] || false
		run -1 --separate-stderr "$BIN_DIR/$d" --no-such-option
		[[ $stderr == *"usage: $d "* ]] || false
	done
}

@test "make install names the launcher chat-stack, as its man page" {
	local build=${CHAT_BUILD:-build}
	[[ $build == /* ]] || build=$CHAT_ROOT/$build
	# -o all: install what this build made, build nothing
	run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$CHAT_ROOT" \
		--no-print-directory -o all B="$build" BIN="$BIN_DIR" \
		DESTDIR="$D/root" PREFIX=/usr install
	[[ -x $D/root/usr/bin/chat-stack ]] || false
	[[ ! -e $D/root/usr/bin/stack ]] || false
	[[ -f $D/root/usr/share/man/man1/chat-stack.1 ]] || false
	[[ -x $D/root/usr/bin/chatctl && -x $D/root/usr/bin/gatewayd ]] || false
	run -0 "$D/root/usr/bin/chat-stack" -h
	[[ $output == *"stack start"* ]] || false
}

@test "the systemd target starts every daemon there is" {
	local wants d
	wants=$(sed -n 's/^Wants=//p' "$CHAT_ROOT/deploy/systemd/chat.target")
	for d in $(built_daemons); do
		[[ " $wants " == *" chat@$d.service "* ]] || false
	done
}

@test "chat-stack(1) names every built daemon built, none planned" {
	local text d clause built=
	# the page's text, one clause (sentence or ;-part) a line
	text=$(grep -v '^\.\(TH\|SH\|SS\|nh\|ad\)' "$CHAT_ROOT/man/chat-stack.1" |
		sed 's/^\.[A-Z]* //; s/\\-/-/g' | tr '\n' ' ' |
		sed 's/\([.;]\) /\1\n/g')
	while IFS= read -r clause; do
		if [[ $clause == *planned* ]]; then
			for d in $(built_daemons); do
				[[ " $clause " != *[\ ,]"$d"[\ ,.]* ]] || {
					echo "built '$d' called planned: $clause" >&2
					return 1
				}
			done
		elif [[ $clause == *" are built"* ]]; then
			built=$clause
		fi
	done <<<"$text"
	[[ -n $built ]] || false
	for d in $(built_daemons); do
		[[ $built == *"$d"* ]] || false
	done
}

@test "README's CHAT_PORT row names every daemon's port" {
	local row d
	row=$(grep '^| `CHAT_PORT`' "$CHAT_ROOT/README.md")
	for d in $(built_daemons); do
		[[ $d == gatewayd || $row =~ $d(\ listens)?\ on\ \+[0-9] ]] || false
	done
}

@test "the licence is in LICENSE and README says so, and where chatctl is" {
	grep -q '^MIT License$' "$CHAT_ROOT/LICENSE"
	grep -q '^Copyright (c) 2026 the chat platform authors$' "$CHAT_ROOT/LICENSE"
	grep -q '\[LICENSE\](LICENSE)' "$CHAT_ROOT/README.md"
	grep -q 'bin/chatctl' "$CHAT_ROOT/README.md"
}

@test "make run shows the new admin's password again after chatui exits" {
	local out bin=$D/bin pw
	command -v script >/dev/null || skip "no script(1) for a terminal"
	# the build's programs, but a chatui that paints the screen and leaves
	mkdir -p "$bin"
	ln -s "$BIN_DIR"/* "$bin/"
	rm "$bin/chatui"
	printf '#!/bin/sh\nprintf "\\033[2J\\033[HCHATUI-SCREEN\\n"\n' >"$bin/chatui"
	chmod +x "$bin/chatui"
	run -0 env CHAT_BIN="$bin" CHAT_DATA_DIR="$D/data" \
		CHAT_PORT="$(free_port)" CHAT_DATABASE=sqlite CHAT_CONFIG= \
		XDG_CONFIG_HOME="$D/config" USER=newcomer \
		script -qec "$CHAT_ROOT/scripts/run.sh" /dev/null 3>&-
	out=$(tr -d '\r' <<<"$output")
	CHAT_DATA_DIR=$D/data "$STACK" stop 3>&- || true
	pw=$(<"$D/data/admin-password")
	[[ -n $pw ]] || false
	# the password is on a line after chatui's screen
	sed -n '/CHATUI-SCREEN/,$p' <<<"$out" | grep -qF -- "$pw"
	sed -n '/CHATUI-SCREEN/,$p' <<<"$out" | grep -q "Created the account 'newcomer'"
}

@test "chatctl conv ls shows the model that will answer, not 'default'" {
	local cc=("$BIN_DIR/chatctl" --server "$(base_url)")
	printf 'password-mona\n' | "${cc[@]}" register mona --password-stdin
	run -0 "${cc[@]}" ask "first words"
	run -0 "${cc[@]}" conv ls
	[[ ${lines[0]} == *MODEL* ]] || false
	# no preference: the server's default, the built-in echo
	[[ ${lines[1]} == *" echo "* ]] || false
	[[ ${lines[1]} != *" default "* ]] || false
	# a preference wins: what chatd would pick
	login_user mona
	api PATCH /v1/users/me '{"preferences":{"default_model":"echo-pref"}}' \
		"$access_token"
	expect_status 200
	run -0 "${cc[@]}" conv ls
	[[ ${lines[1]} == *" echo-pref "* ]] || false
}
