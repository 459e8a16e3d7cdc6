#!/usr/bin/env bats
# bats file_tags=store:any
# The real chatui in a private tmux server (100x30, tmux-256color), driven
# with send-keys and read with capture-pane, against the real stack with
# the echo model at 50 ms a word (so that an answer visibly streams): the
# login screen, a streamed answer, stop, regenerate, branches, switching
# conversations, resize, gatewayd and chatd restarts (banner, reconnect,
# the message typed meanwhile goes out), another client's message live,
# NO_COLOR, wide characters, bracketed paste, the help overlay, log out,
# rename, archive, delete, search, scrolling, edit and resend, the model
# picker, the system prompt, copy of the last answer and of code blocks
# (OSC 52 into tmux's buffer), and long conversations (seeded straight
# into chatd's store) opened at their end and paged back to the first
# message by PgUp, Home, the wheel and the arrow keys (CHATUI_TRACE's
# msgs_loaded lines tell how many messages chatui holds).
#
# Every test has its own user, credentials file and tmux session.

setup_file() {
	load test_helper
	load chatui-common
	start_stack "[aid]" "echo_delay_ms = 50" "models = roomy" \
		"[model.roomy]" "provider = echo"
	if command -v tmux >/dev/null; then
		tm_start
	fi
}

teardown_file() {
	load test_helper
	load chatui-common
	tm_stop
	stop_stack
}

setup() {
	load test_helper
	load chatui-common
	command -v tmux >/dev/null || skip "tmux is not installed"
}

teardown() {
	[[ -n ${ui:-} ]] && tm kill-session -t "$ui" 2>/dev/null
	true
}

# words N [PREFIX]: "w1 w2 ... wN".
words() {
	local i out=""
	for ((i = 1; i <= $1; i++)); do
		out+="${out:+ }${2:-w}$i"
	done
	echo "$out"
}

# The n-th (1-based) screen row.
row() {
	screen | sed -n "${1}p"
}

@test "the login screen logs in, saves the credentials file and shows the list" {
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	register_user carol
	chatui_start
	wait_for_screen 'chatui: log in'
	wait_for_screen 'not logged in'
	type_text carol
	keys Tab
	type_text wrong-password
	keys Enter
	wait_for_screen '(invalid|incorrect|wrong)'
	chatui_alive
	keys C-u
	type_text password-carol
	keys Enter
	wait_for_screen '^Conversations'
	wait_for_screen 'carol@http://127\.0\.0\.1:[0-9]+ .*connected'
	# the password is never shown
	! screen | grep -q 'password-carol' || false
	[[ -f $XDG_CONFIG_HOME/chat/credentials ]]
	[[ $(stat -c %a "$XDG_CONFIG_HOME/chat/credentials") == 600 ]]
	# chatctl now acts as the same login
	run "$CHAT_BIN/chatctl" --server "$(base_url)" whoami
	[[ $status -eq 0 && $output == *carol* ]]
}

@test "a sent message's answer streams into the pane" {
	chatui_login dave
	chatui_start
	wait_for_screen 'dave@.*connected'
	type_text "$(words 40)"
	keys Enter
	wait_for_screen '^ *│Assistant .*\[streaming\]'
	# mid-stream: the status line counts tokens/s and the answer is
	# not complete yet (w40 only in the question)
	wait_for_screen '│ streaming [0-9.]+ tok/s'
	local mid
	mid=$(screen)
	[[ $(grep -o 'w40' <<<"$mid" | wc -l) -eq 1 ]]
	screen | grep -q '│Assistant .*\[streaming\]'
	# the input was cleared once the server stored the message
	wait_for_screen '^ *│Assistant  echo *$'
	wait_gone 'streaming'
	# the answer, wrapped, ends with the last word; stored the same
	screen | grep -Eq 'w39 w40 *$'
	first_conv
	api GET "/v1/conversations/$conv" "" "$access_token"
	[[ $(jb '.messages | length') == 2 ]]
	[[ $(jb '.messages[1].content') == "$(words 40)" ]]
	[[ $(jb '.messages[1].status') == complete ]]
	# the list shows the conversation, titled by the first answer
	wait_for_screen '^w1 w2 w3'
}

@test "Esc stops the answer mid-stream; the stored answer is stopped" {
	chatui_login erin
	chatui_start
	wait_for_screen 'erin@.*connected'
	type_text "$(words 120)"
	keys Enter
	wait_for_screen '\[streaming\]'
	keys Escape
	wait_for_screen 'Assistant .*\[stopped\]'
	first_conv
	wait_api_jq "/v1/conversations/$conv" '.messages[1].status == "stopped"'
	local n
	n=$(jb '.messages[1].content' | wc -w)
	((n > 0 && n < 120))
	# what was kept stays on the screen, and chatui takes input again
	screen | grep -q 'w1 w2'
	type_text 'after stop'
	keys Enter
	wait_for_screen '^ *│ after stop *$'
	wait_api_jq "/v1/conversations/$conv" '(.messages | length) == 4 and .messages[3].status == "complete"'
}

@test "regenerate makes a second branch; F5 and F6 move between the branches" {
	chatui_login frank
	chatui_start
	wait_for_screen 'frank@.*connected'
	type_text 'alpha beta gamma'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	first_conv
	keys C-r
	wait_for_screen 'Assistant .*‹2/2›'
	wait_gone 'streaming'
	api GET "/v1/conversations/$conv" "" "$access_token"
	local a1 a2
	[[ $(jb '.messages[1].sibling_ids | length') == 2 ]]
	a1=$(jb '.messages[1].sibling_ids[0]')
	a2=$(jb '.messages[1].sibling_ids[1]')
	[[ $(jb .current_leaf_id) == "$a2" ]]
	keys F5
	wait_for_screen 'Assistant .*‹1/2›'
	wait_api_jq "/v1/conversations/$conv" ".current_leaf_id == \"$a1\""
	# no branch before the first
	keys F5
	wait_for_screen 'no previous branch'
	keys F6
	wait_for_screen 'Assistant .*‹2/2›'
	wait_api_jq "/v1/conversations/$conv" ".current_leaf_id == \"$a2\""
}

@test "the list switches conversations; typing filters it" {
	chatui_login grace
	local c1 c2
	api POST /v1/conversations '{"title":"apples"}' "$access_token"
	c1=$(jb .id)
	api POST "/v1/conversations/$c1/messages" '{"content":"red fruit"}' "$access_token"
	expect_status 201
	api POST /v1/conversations '{"title":"bananas"}' "$access_token"
	c2=$(jb .id)
	api POST "/v1/conversations/$c2/messages" '{"content":"yellow fruit"}' "$access_token"
	expect_status 201
	chatui_start
	wait_for_screen '^bananas '
	wait_for_screen '^apples '
	keys C-o
	type_text app
	wait_for_screen '^/app'
	wait_gone '^bananas '
	keys Enter
	wait_for_screen '^[^│]*│ apples *$'
	wait_for_screen '│ red fruit *$'
	keys C-o
	type_text ban
	keys Enter
	wait_for_screen '^[^│]*│ bananas *$'
	wait_for_screen '│ yellow fruit *$'
	! screen | grep -q 'red fruit' || false
	# Up/Down in the unfiltered list
	keys C-o Down Enter
	wait_for_screen '│ red fruit *$'
}

# layout_ok COLS ROWS: the pane is COLSxROWS and chatui's frame fits it:
# the list border on every row but the status line, the status line last
# and once, no row wider than the pane.
layout_ok() {
	local cols=$1 rows=$2 lw=24 s
	((cols >= 120)) && lw=32
	s=$(screen)
	[[ $(wc -l <<<"$s") -eq $rows ]] || { echo "rows: $(wc -l <<<"$s")" >&2; return 1; }
	[[ $(wc -L <<<"$s") -le $cols ]] || { echo "too wide" >&2; return 1; }
	perl -CSD -Mutf8 -ne '
		BEGIN { ($lw, $rows) = @ARGV[0, 1]; @ARGV = () }
		chomp;
		if ($. < $rows) {
			substr($_, $lw, 1) eq "│" or die "row $.: no border at $lw: $_\n";
			# a stale border of another width is garbage
			for my $c (24, 32) {
				next if $c == $lw || length($_) <= $c;
				substr($_, $c, 1) ne "│" or die "row $.: stale border at $c: $_\n";
			}
		} else {
			/^ \S+@http/ or die "status line is not last: $_\n";
		}' "$lw" "$rows" <<<"$s" || { echo "$s" >&2; return 1; }
	[[ $(grep -c '@http://' <<<"$s") -eq 1 ]]
}

@test "resizing redraws the layout without garbage" {
	chatui_login heidi
	chatui_start
	wait_for_screen 'heidi@.*connected'
	type_text "$(words 30 resize)"
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	layout_ok 100 30
	tm resize-window -t "$ui" -x 80 -y 24
	wait_for_screen '^Conversations {11}│'
	layout_ok 80 24
	tm resize-window -t "$ui" -x 120 -y 40
	wait_for_screen '^Conversations {19}│'
	layout_ok 120 40
	# the wrapped answer follows the width: 120 columns fit 30 words
	# on fewer rows than 80 did
	screen | grep -q 'resize29 resize30'
	tm resize-window -t "$ui" -x 100 -y 30
	wait_for_screen '^Conversations {11}│'
	layout_ok 100 30
	chatui_alive
}

@test "gatewayd and chatd restarts show a banner; chatui reconnects and the message typed meanwhile goes out" {
	chatui_login ivan
	chatui_start
	wait_for_screen 'ivan@.*connected'
	type_text 'before restart'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	first_conv
	stop_daemon gatewayd
	wait_for_screen 'disconnected from the server'
	wait_for_screen '│ reconnecting'
	# typed and sent while the server is away: kept, not lost
	type_text 'during the outage'
	keys Enter
	wait_for_screen 'waiting for the server'
	screen | grep -q 'during the outage'
	start_daemon gatewayd
	wait_for_screen '│ connected' 20
	wait_gone 'disconnected from the server'
	wait_api_jq "/v1/conversations/$conv" '(.messages | length) == 4 and .messages[3].content == "during the outage" and .messages[3].status == "complete"'
	wait_for_screen '^ *│ during the outage *$'
	wait_gone 'waiting for the server'
	# and it works as before
	type_text 'after restart'
	keys Enter
	wait_api_jq "/v1/conversations/$conv" '(.messages | length) == 6 and .messages[5].status == "complete"'
	# chatd's restart ends the socket too; after it chatui works again
	stop_daemon chatd
	wait_for_screen 'disconnected from the server'
	start_daemon chatd
	wait_gone 'disconnected from the server' 20
	type_text 'after chatd'
	keys Enter
	wait_api_jq "/v1/conversations/$conv" '(.messages | length) == 8 and .messages[7].status == "complete"'
	wait_for_screen '│ after chatd *$'
	chatui_alive
}

@test "another client's message and new conversation appear live" {
	chatui_login judy
	api POST /v1/conversations '{"title":"shared"}' "$access_token"
	local c=$(jb .id)
	chatui_start -- -c "$c"
	wait_for_screen '│ shared *$'
	wait_for_screen 'judy@.*connected'
	# the other client: the API, streaming (SSE) in the background
	curl -sN --max-time 10 -o /dev/null -H "Authorization: Bearer $access_token" \
		-H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
		--data-binary "{\"content\":\"$(words 20 remote)\"}" \
		"$(base_url)/v1/conversations/$c/messages" &
	local pid=$!
	wait_for_screen '│You *$'
	wait_for_screen 'Assistant .*\[streaming\]'
	wait_for_screen '^ *│Assistant  echo *$'
	wait $pid
	[[ $(screen | grep -o 'remote20' | wc -l) -eq 2 ]]
	# a conversation made elsewhere joins the list
	api POST /v1/conversations '{"title":"from elsewhere"}' "$access_token"
	api POST "/v1/conversations/$(jb .id)/messages" '{"content":"hi"}' "$access_token"
	wait_for_screen '^from elsewhere '
}

@test "NO_COLOR leaves colours out; without it there are colours" {
	chatui_login ken
	chatui_start
	wait_for_screen 'ken@.*connected'
	tm capture-pane -p -e -t "$ui" | grep -Eq $'\e\\[[0-9;]*(38;5;|3[0-7]m)'
	tm kill-session -t "$ui"
	chatui_start NO_COLOR=1
	wait_for_screen 'ken@.*connected'
	local s
	s=$(tm capture-pane -p -e -t "$ui")
	! grep -Eq $'\e\\[[0-9;]*(38;5;|48;5;|3[0-7]m|4[0-7]m)' <<<"$s" || false
	# attributes only: the list's heading is still set apart
	grep -q $'\e\\[' <<<"$s"
}

@test "wide characters, emoji and combining marks wrap and align" {
	chatui_login liz
	chatui_start
	wait_for_screen 'liz@.*connected'
	local wide
	wide=$(printf '日%.0s' {1..50})
	# 50 wide characters (100 columns), an emoji, e + combining acute
	type_text "${wide} 😀 cafe$(printf '\u0301') end"
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	# the echo streams word by word: wait for its last one (two "end"s)
	local s i
	for ((i = 0; i < 200; i++)); do
		s=$(screen)
		(($(grep -o "cafe$(printf '\u0301') end" <<<"$s" | wc -l) >= 2)) && break
		sleep 0.05
	done
	# nothing lost: 50 in the question, 50 in the echo (counted in the
	# transcript: the title, made of the question, may come meanwhile
	# into the header and the list)
	local pane
	pane=$(perl -CSD -ne 'print substr($_, 25) if $. > 1' <<<"$s")
	[[ $(grep -o '日' <<<"$pane" | wc -l) -eq 100 ]]
	[[ $(grep -o '😀' <<<"$s" | wc -l) -eq 2 ]]
	[[ $(grep -o "cafe$(printf '\u0301') end" <<<"$s" | wc -l) -eq 2 ]]
	# every row fits the pane and the border stays in column 24 (columns
	# counted as the terminal does: a title of wide characters may be
	# in the list by now)
	[[ $(wc -L <<<"$s") -le 100 ]]
	perl -CSD -Mutf8 -ne 'chomp; next if $. == 30;
		my ($col, $ok) = (0, 0);
		for my $ch (split //) {
			if ($col >= 24) { $ok = $col == 24 && $ch eq "│"; last }
			$col += $ch =~ /\p{Mn}/ ? 0 :
				$ch =~ /[\p{Ea=W}\p{Ea=F}]/ ? 2 : 1;
		}
		$ok or die "row $.: $_\n"' <<<"$s"
	# the wide run wraps into rows of at most the pane's width
	grep -Eq '^ {24}│ 日{30,37} *$' <<<"$s"
}

@test "a bracketed paste of several lines is one message, not one per line" {
	chatui_login mallory
	chatui_start
	wait_for_screen 'mallory@.*connected'
	printf 'first line\nsecond line\nthird line' >"$BATS_TEST_TMPDIR/paste"
	tm load-buffer -b p "$BATS_TEST_TMPDIR/paste"
	tm paste-buffer -p -b p -t "$ui"
	wait_for_screen '│ third line *$'
	screen | grep -q '│ first line *$'
	screen | grep -q '│ second line *$'
	# nothing was sent
	api GET /v1/conversations "" "$access_token"
	[[ $(jb '.data | length') == 0 ]]
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	first_conv
	api GET "/v1/conversations/$conv" "" "$access_token"
	[[ $(jb '.messages | length') == 2 ]]
	[[ $(jb '.messages[0].content') == $'first line\nsecond line\nthird line' ]]
}

@test "the help overlay lists the keys, scrolls to the last ones, any key closes it" {
	chatui_login nina
	chatui_start
	wait_for_screen 'nina@.*connected'
	keys F1
	wait_for_screen 'keys \(.*closes\)'
	screen | grep -q 'F1, ?  *show the keys'
	screen | grep -q 'Ctrl-P  *run any action by name'
	# 30 rows cannot hold them all: the end is reached by scrolling
	wait_for_screen 'PgUp/PgDn scroll'
	! screen | grep -q 'a new line in the message' || false
	keys NPage
	wait_for_screen 'Enter  *send the message'
	keys NPage
	wait_for_screen 'Ctrl-J  *a new line in the message'
	screen | grep -q 'F11  *end the session and show the login screen'
	! screen | grep -q 'show the keys' || false
	keys Home
	wait_for_screen 'F1, \?  *show the keys'
	keys x
	wait_gone 'keys \(.*closes\)'
	# the key that closed it is not typed
	! screen | grep -q '^ *│x *$' || false
	# ? in the empty input opens it too
	type_text '?'
	wait_for_screen 'keys \(.*closes\)'
	keys Escape
	wait_gone 'keys \(.*closes\)'
	chatui_alive
}

@test "log out (F11) revokes the session, removes the credentials file; logging in again works" {
	chatui_login olga
	chatui_start
	wait_for_screen 'olga@.*connected'
	[[ -f $XDG_CONFIG_HOME/chat/credentials ]]
	local old_refresh
	old_refresh=$(jq -r .refresh_token "$XDG_CONFIG_HOME/chat/credentials")
	[[ -n $old_refresh && $old_refresh != null ]]
	keys F11
	wait_for_screen 'chatui: log in'
	wait_for_screen 'logged out'
	[[ ! -e $XDG_CONFIG_HOME/chat/credentials ]]
	run "$CHAT_BIN/chatctl" --server "$(base_url)" whoami
	[[ $status -ne 0 ]]
	# the session is revoked on the server: its refresh token is refused
	api POST /v1/auth/refresh "{\"refresh_token\":\"$old_refresh\"}"
	expect_status 401
	chatui_alive
	# the login screen logs in again
	type_text olga
	keys Tab
	type_text password-olga
	keys Enter
	wait_for_screen '^Conversations'
	wait_for_screen 'olga@http://127\.0\.0\.1:[0-9]+ .*connected'
	[[ -f $XDG_CONFIG_HOME/chat/credentials ]]
	run "$CHAT_BIN/chatctl" --server "$(base_url)" whoami
	[[ $status -eq 0 && $output == *olga* ]]
	# and the new login works: a message goes out and is answered
	type_text 'after relogin'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	first_conv
	wait_api_jq "/v1/conversations/$conv" '(.messages | length) == 2 and .messages[1].status == "complete"'
	# the command palette's "log out" does the same
	keys C-p
	type_text 'log out'
	keys Enter
	wait_for_screen 'chatui: log in'
	wait_for_screen 'logged out'
	[[ ! -e $XDG_CONFIG_HOME/chat/credentials ]]
	# the previous login's conversation is not shown any more
	! screen | grep -q 'after relogin'
}

# wait_row N PATTERN: polls until the N-th screen row matches.
wait_row() {
	local i
	for ((i = 0; i < 200; i++)); do
		row "$1" | grep -Eq -- "$2" && return 0
		sleep 0.05
	done
	echo "timed out waiting for row $1 to match /$2/:" >&2
	screen >&2
	return 1
}

# conv_with TITLE CONTENT: a conversation made through the API, its id in
# c (the content is answered by echo).
conv_with() {
	api POST /v1/conversations "{\"title\":\"$1\"}" "$access_token"
	expect_status 201
	c=$(jb .id)
	api POST "/v1/conversations/$c/messages" "{\"content\":\"$2\"}" "$access_token"
	expect_status 201
}

@test "rename (F2), archive (F9) and delete (F8, confirmed) change the stored conversation" {
	chatui_login pat
	local c
	conv_with 'old title' 'some words'
	wait_api_jq "/v1/conversations/$c" '.messages[1].status == "complete"'
	chatui_start -- -c "$c"
	wait_for_screen '│ old title *$'
	wait_for_screen 'pat@.*connected'
	keys F2
	wait_for_screen 'rename'
	keys C-u
	type_text 'new name'
	keys Enter
	wait_api_jq "/v1/conversations/$c" '.title == "new name"'
	wait_for_screen '^new name '
	keys F9
	wait_api_jq "/v1/conversations/$c" '.archived == true'
	# again: brought back
	keys F9
	wait_api_jq "/v1/conversations/$c" '.archived == false'
	# delete asks first; anything but y keeps it
	keys F8
	wait_for_screen 'delete this conversation\?'
	keys n
	wait_gone 'delete this conversation\?'
	sleep 0.3
	api GET "/v1/conversations/$c" "" "$access_token"
	expect_status 200
	keys F8
	wait_for_screen 'delete this conversation\?'
	keys y
	wait_gone '^new name '
	api GET "/v1/conversations/$c" "" "$access_token"
	expect_status 404
	chatui_alive
}

@test "search (Ctrl-F) lists the conversations the server finds" {
	chatui_login quinn
	local c
	conv_with 'plums' 'purple'
	conv_with 'cherries' 'dark red'
	conv_with 'melons' 'green'
	chatui_start
	wait_for_screen '^melons '
	wait_for_screen '^plums '
	keys C-f
	wait_for_screen 'search conversations'
	type_text cherr
	keys Enter
	wait_for_screen '^cherries '
	wait_gone '^plums '
	! screen | grep -q '^melons ' || false
	keys Enter
	wait_for_screen '│ dark red *$'
}

@test "PgUp/PgDn, Home/End and the mouse wheel scroll a conversation longer than the pane" {
	chatui_login rita
	local c content i
	content=top-marker
	for ((i = 2; i < 40; i++)); do content+="\\nline$i"; done
	content+="\\nend-marker"
	conv_with 'long' "$content"
	wait_api_jq "/v1/conversations/$c" '.messages[1].status == "complete"'
	chatui_start -- -c "$c"
	# opened at the end: the answer's last line above the input
	wait_for_screen '│ end-marker *$'
	[[ $(screen | sed -n '2,27p' | grep -v '│ *$' | tail -1) =~ '│ end-marker' ]]
	wait_row 2 '│ line[0-9]+ *$'
	keys Home
	wait_row 2 '│You *$'
	wait_row 3 '│ top-marker *$'
	! screen | grep -q 'end-marker' || false
	# a page down: the first row is further down the question
	keys NPage
	wait_row 2 '│ line(2[0-9]|3[0-9]) *$'
	keys End
	wait_for_screen '│ end-marker *$'
	! screen | grep -q '│You *$' || false
	# at the bottom the answer's end is the pane's last text
	[[ $(screen | sed -n '2,27p' | grep -v '│ *$' | tail -1) =~ '│ end-marker' ]]
	local bottom
	bottom=$(screen)
	keys PPage
	for ((i = 0; i < 200; i++)); do
		[[ $(screen) != "$bottom" ]] && break
		sleep 0.05
	done
	[[ $(screen) != "$bottom" ]]
	# a page up: the last row shown is no longer the answer's end
	! screen | sed -n 27p | grep -q 'end-marker' || false
	keys PPage PPage PPage
	wait_row 3 '│ top-marker *$'
	# the mouse wheel (X10 reports, as tmux-256color's kmous says):
	# up 3 rows from the bottom, then down again
	keys End
	wait_for_screen '│ end-marker *$'
	[[ $(screen | sed -n '2,27p' | grep -v '│ *$' | tail -1) =~ '│ end-marker' ]]
	type_text $'\e[M`S+'
	wait_for_screen '^ {24}│ line38 *$'
	wait_gone '│ end-marker *$'
	type_text $'\e[MaS+'
	wait_for_screen '│ end-marker *$'
	[[ $(screen | sed -n '2,27p' | grep -v '│ *$' | tail -1) =~ '│ end-marker' ]]
}

@test "editing an earlier question (Ctrl-E) and sending it makes a new branch" {
	chatui_login sam
	chatui_start
	wait_for_screen 'sam@.*connected'
	type_text 'first question'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	first_conv
	wait_api_jq "/v1/conversations/$conv" '.messages[1].status == "complete"'
	local leaf
	leaf=$(jb .current_leaf_id)
	keys C-e
	wait_for_screen '│ first question *$'
	keys C-u
	type_text 'second question'
	keys Enter
	wait_api_jq "/v1/conversations/$conv" '(.messages[0].sibling_ids | length) == 2 and .messages[0].content == "second question" and .messages[1].status == "complete"'
	[[ $(jb .current_leaf_id) != "$leaf" ]]
	[[ $(jb '.messages | length') == 2 ]]
	wait_for_screen 'second question *$'
	wait_for_screen '‹2/2›'
}

@test "the model picker (F4) and the system prompt editor (F7) change the conversation" {
	chatui_login tina
	local c
	conv_with 'settings' 'hello'
	wait_api_jq "/v1/conversations/$c" '.messages[1].status == "complete"'
	[[ $(jb .model) != roomy ]]
	chatui_start -- -c "$c"
	wait_for_screen '│ settings *$'
	keys F4
	wait_for_screen 'roomy'
	type_text roomy
	keys Enter
	wait_api_jq "/v1/conversations/$c" '.model == "roomy"'
	wait_for_screen 'roomy'
	keys F7
	wait_for_screen 'system prompt'
	type_text 'answer briefly'
	keys C-j
	type_text 'in English'
	keys Enter
	wait_api_jq "/v1/conversations/$c" '.system_prompt == "answer briefly\nin English"'
	chatui_alive
}

@test "Ctrl-Y copies the last answer to the clipboard (OSC 52)" {
	chatui_login uma
	tm set-option -s set-clipboard on
	chatui_start
	wait_for_screen 'uma@.*connected'
	type_text 'copy these words please'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	first_conv
	wait_api_jq "/v1/conversations/$conv" '.messages[1].status == "complete"'
	tm delete-buffer 2>/dev/null || true
	keys C-y
	local i got=""
	for ((i = 0; i < 100; i++)); do
		got=$(tm show-buffer 2>/dev/null) && [[ -n $got ]] && break
		sleep 0.05
	done
	[[ $got == "$(jb '.messages[1].content')" ]]
	[[ $got == 'copy these words please' ]]
}

# long_mid I: the id of message I of this test's long branch.
LONG_MID='01c00000-0000-7000-8%03d-%012d'
long_mid() {
	printf "$LONG_MID" "$BATS_TEST_NUMBER" "$1"
}

# seed_long CONV N: N messages straight into chatd's store, one chain
# (odd: "question I", even: "answer I"), the last one the leaf.  No
# command substitution in the loop: two forks a message were 3,000 for
# the 1,500-message test.
seed_long() {
	local c=$1 n=$2 i rows=() prev=NULL id role text
	for ((i = 1; i <= n; i++)); do
		printf -v id "$LONG_MID" "$BATS_TEST_NUMBER" "$i"
		if ((i % 2)); then
			role=user text=question
		else
			role=assistant text=answer
		fi
		rows+=("('$id', '$c', '$user_id', $prev, '$role', '$text $i', NULL, 'complete', $((1700000000000 + i)), $((1700000000000 + i)))")
		prev="'$id'"
	done
	# 250 rows an INSERT: an argument of db_query stays under 128 KiB
	local IFS=,
	for ((i = 0; i < n; i += 250)); do
		db_query chatd "INSERT INTO messages (id, conversation_id,
			user_id, parent_id, role, content, model, status,
			created_at, updated_at) VALUES ${rows[*]:i:250}" || return 1
	done
	db_query chatd "UPDATE conversations SET current_leaf_id = $prev WHERE id = '$c'"
}

# wait_trace PATTERN [SECONDS]: polls until a line of the test's
# CHATUI_TRACE file matches the extended regex.
wait_trace() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		grep -Eq -- "$1" "$BATS_TEST_TMPDIR/trace" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for /$1/ in the trace:" >&2
	cat "$BATS_TEST_TMPDIR/trace" >&2
	screen >&2
	return 1
}

@test "a 1,500-message conversation opens at its end with one page; PgUp loads earlier pages, Home the first message" {
	chatui_login vera
	local c top i
	api POST /v1/conversations '{"title":"very long"}' "$access_token"
	expect_status 201
	c=$(jb .id)
	seed_long "$c" 1500
	chatui_start CHATUI_TRACE="$BATS_TEST_TMPDIR/trace" -- -c "$c"
	# the end, from a page of 200: nothing older was asked for
	wait_for_screen '│ answer 1500 *$'
	wait_trace '^msgs_loaded 200$'
	[[ $(screen | sed -n '2,27p' | grep -v '│ *$' | tail -1) =~ '│ answer 1500' ]] || false
	sleep 0.3
	[[ $(grep -c '^msgs_loaded' "$BATS_TEST_TMPDIR/trace") == 1 ]] || false
	! screen | grep -Eq 'question 1 *$' || false
	# pages up to within half a page of the oldest loaded: the page
	# before arrives and the pane stays where it was
	keys PPage PPage PPage PPage PPage PPage PPage PPage PPage PPage \
		PPage PPage PPage PPage PPage
	wait_trace '^msgs_loaded 400$'
	wait_row 2 '│ (question|answer) 1[34][0-9][0-9] *$'
	top=$(row 2)
	sleep 0.3
	[[ $(row 2) == "$top" ]] || false
	# a reload (Ctrl-L) asks for as many messages and keeps the pane
	keys C-l
	# up to 30 s: 400 messages laid out again in a sanitizer build on a
	# loaded machine took longer than the 10 s this allowed
	for ((i = 0; i < 600; i++)); do
		(($(grep -c '^msgs_loaded 400$' "$BATS_TEST_TMPDIR/trace") == 2)) && break
		sleep 0.05
	done
	(($(grep -c '^msgs_loaded 400$' "$BATS_TEST_TMPDIR/trace") == 2)) || false
	[[ $(row 2) == "$top" ]] || false
	# Home: every earlier page, then the first message at the top
	keys Home
	wait_trace '^msgs_loaded 1500 complete$' 20
	wait_row 2 '│You *$'
	wait_row 3 '│ question 1 *$'
	wait_row 6 '│ answer 2 *$'
	# a reload from far back: the reload's newest 1,000 do not reach the
	# pane's message, so earlier pages come until they do, and the pane
	# is back where it was
	local deep
	keys NPage NPage
	wait_for_screen '│ question 1[0-9] *$'
	sleep 0.3
	deep=$(screen | sed -n '2,26p')
	keys C-l
	for ((i = 0; i < 200; i++)); do
		(($(grep -c '^msgs_loaded 1500 complete$' "$BATS_TEST_TMPDIR/trace") == 2)) && break
		sleep 0.05
	done
	grep -q '^msgs_loaded 1000$' "$BATS_TEST_TMPDIR/trace" || false
	(($(grep -c '^msgs_loaded 1500 complete$' "$BATS_TEST_TMPDIR/trace") == 2)) || false
	sleep 0.2
	[[ $(screen | sed -n '2,26p') == "$deep" ]] || false
	# and End goes back to the last
	keys End
	wait_for_screen '│ answer 1500 *$'
	[[ $(screen | sed -n '2,27p' | grep -v '│ *$' | tail -1) =~ '│ answer 1500' ]] || false
	chatui_alive
}

@test "the mouse wheel and the arrow keys load earlier pages too; a new message goes on the end of a partly loaded branch" {
	chatui_login walt
	local c i wheel=""
	api POST /v1/conversations '{"title":"wheel"}' "$access_token"
	expect_status 201
	c=$(jb .id)
	seed_long "$c" 600
	chatui_start CHATUI_TRACE="$BATS_TEST_TMPDIR/trace" -- -c "$c"
	wait_for_screen '│ answer 600 *$'
	wait_for_screen 'walt@.*connected'
	wait_trace '^msgs_loaded 200$'
	# Up in the empty input scrolls a row: 330 of them pass 110
	# messages, within half a page of the oldest of the 200
	for ((i = 0; i < 33; i++)); do
		keys Up Up Up Up Up Up Up Up Up Up
	done
	wait_trace '^msgs_loaded 400$'
	# the wheel, up 3 rows a notch: 200 notches pass 200 messages
	for ((i = 0; i < 200; i++)); do wheel+=$'\e[M`S+'; done
	type_text "$wheel"
	wait_trace '^msgs_loaded 600 complete$'
	wait_row 2 '│ (question|answer) 2[0-9][0-9] *$'
	keys End
	wait_for_screen '│ answer 600 *$'
	type_text 'one more question'
	keys Enter
	wait_for_screen '│ one more question *$'
	first_conv
	wait_api_jq "/v1/conversations/$c?messages=2" '.messages[1].status == "complete" and .messages[0].content == "one more question" and .messages_before == "'"$(long_mid 600)"'"'
	wait_for_screen '^ *│Assistant  echo *$'
	wait_for_screen '│ one more question *$'
	# regenerate and move between the two answers: the branch is
	# reloaded from its newest page each time
	local first
	first=$(jb .current_leaf_id)
	keys C-r
	wait_for_screen '‹2/2›'
	wait_api_jq "/v1/conversations/$c?messages=1" '(.messages[0].sibling_ids | length) == 2 and .messages[0].status == "complete" and .current_leaf_id != "'"$first"'"'
	keys F5
	wait_api_jq "/v1/conversations/$c?messages=1" '.current_leaf_id == "'"$first"'"'
	wait_for_screen '‹1/2›'
	wait_for_screen '│ one more question *$'
	! screen | grep -q '‹2/2›' || false
	chatui_alive
}

@test "Ctrl-B copies a code block to the clipboard (OSC 52); again, the next block" {
	chatui_login xena
	tm set-option -s set-clipboard on
	chatui_start
	wait_for_screen 'xena@.*connected'
	printf 'two blocks:\n\n```c\nint main(void)\n{\n\treturn 0;\n}\n```\n\nand\n\n```sh\necho "a b" | wc -w\n```\n' \
		>"$BATS_TEST_TMPDIR/paste"
	tm load-buffer -b p "$BATS_TEST_TMPDIR/paste"
	tm paste-buffer -p -b p -t "$ui"
	wait_for_screen '│ *```sh'
	keys Enter
	first_conv
	wait_api_jq "/v1/conversations/$conv" '.messages[1].status == "complete"'
	wait_for_screen '│ *│ echo "a b" \| wc -w'
	copy_code_block
	printf 'int main(void)\n{\n\treturn 0;\n}' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	wait_for_screen 'copied a code block \(29 bytes\)'
	copy_code_block
	printf 'echo "a b" | wc -w' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# a third time: the first block again
	copy_code_block
	printf 'int main(void)\n{\n\treturn 0;\n}' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# a newer answer: its first block, wherever the last one's count was
	printf '```\nfirst\n```\n\n```\nsecond\n```\n' >"$BATS_TEST_TMPDIR/paste"
	tm load-buffer -b p "$BATS_TEST_TMPDIR/paste"
	tm paste-buffer -p -b p -t "$ui"
	keys Enter
	wait_api_jq "/v1/conversations/$conv" '.messages[3].status == "complete"'
	wait_for_screen '│ *│ second'
	copy_code_block
	printf 'first' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

# help_text COLS: the help overlay's help column at COLS columns, its
# rows joined by spaces (a line wrapped onto two rows reads whole).
help_text() {
	local cols=$1 w x0
	w=$((cols - 4 > 76 ? 76 : cols - 4))
	x0=$(((cols - w) / 2))
	screen | perl -CSD -ne '
		BEGIN { ($x, $w) = @ARGV; @ARGV = () }
		chomp; next if length($_) <= $x;
		$t = substr($_, $x, $w); $t =~ s/\s+$//; print "$t "' \
		"$((x0 + 25))" "$((w - 27))" | tr -s ' '
}

@test "the help overlay shows each help line whole at 80 and 120 columns" {
	chatui_login yuri
	chatui_start
	wait_for_screen 'yuri@.*connected'
	local cols lw
	for cols in 80 120; do
		tm resize-window -t "$ui" -x "$cols" -y 50
		# the list's border where this width puts it: repainted
		lw=$((cols >= 120 ? 32 : 24))
		wait_for_screen "^Conversations {$((lw - 13))}│"
		keys F1
		wait_for_screen 'keys \(any key closes\)'
		help_text "$cols" >"$BATS_TEST_TMPDIR/help"
		grep -qF 'edit the last (or selected) question and resend as a new branch' \
			"$BATS_TEST_TMPDIR/help" || { screen >&2; false; }
		grep -qF 'copy the last (or selected) answer to the clipboard' \
			"$BATS_TEST_TMPDIR/help" || { screen >&2; false; }
		grep -qF 'end the session and show the login screen' \
			"$BATS_TEST_TMPDIR/help" || { screen >&2; false; }
		keys x
		wait_gone 'keys \(.*closes\)'
	done
	chatui_alive
}

@test "status messages go once they stop being true (new conversation, stopping)" {
	chatui_login zack
	chatui_start
	wait_for_screen 'zack@.*connected'
	keys C-n
	wait_for_screen 'new conversation: type the first'
	type_text 'hello status'
	keys Enter
	wait_for_screen '^ *│Assistant  echo *$'
	[[ $(screen) != *'new conversation: type'* ]] || { screen >&2; false; }
	type_text "$(words 120)"
	keys Enter
	wait_for_screen '\[streaming\]'
	keys Escape
	wait_for_screen 'Assistant .*\[stopped\]'
	[[ $(screen) != *'│ stopping'* ]] || { screen >&2; false; }
	chatui_alive
}

@test "at 80 columns the hint line and cut titles end with an ellipsis, never mid-word" {
	chatui_login abe
	local c title='Quarterly planning notes for the infrastructure migration project'
	conv_with "$title" 'some words'
	wait_api_jq "/v1/conversations/$c" '.messages[1].status == "complete"'
	chatui_start -- -c "$c"
	wait_for_screen 'abe@.*connected'
	tm resize-window -t "$ui" -x 80 -y 24
	wait_for_screen '^Conversations {11}│'
	wait_for_screen '│ Quarterly planning'
	local s
	s=$(screen)
	# the hint ends with a whole phrase (or an ellipsis), then the border
	grep -Eq '^ {24}│── .*(keys|commands|…) ─+$' <<<"$s" || { echo "$s" >&2; false; }
	# the header and the list cut the title with an ellipsis
	sed -n 1p <<<"$s" | grep -Eq '│ Quarterly planning .*…$' || { echo "$s" >&2; false; }
	grep -Eq '^Quarterly plannin?g?… +[0-9]' <<<"$s" || { echo "$s" >&2; false; }
	# wide enough, the header shows it whole
	tm resize-window -t "$ui" -x 120 -y 24
	wait_for_screen '^Conversations {19}│'
	wait_for_screen "│ $title *\$"
	[[ $(screen | sed -n 1p) != *'…'* ]] || { screen >&2; false; }
	chatui_alive
}
