#!/usr/bin/env bats
# bats file_tags=store:any
# chatui's status line names the model that will answer a conversation
# that names none, as chatd picks it: the user's default model, else
# the server's (aid.default_model), never a bare "default model".

setup_file() {
	load test_helper
	load chatui-common
	start_stack "[aid]" "ollama_detect = false" "default_model = roomy" \
		"models = roomy" "[model.roomy]" "provider = echo"
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
	CHAT_BIN=${CHAT_BIN:-$CHAT_ROOT/bin}
}

teardown() {
	[[ -n ${ui:-} ]] && tm kill-session -t "$ui" 2>/dev/null
	true
}

# the status line: the screen's last non-empty line
status_line() {
	screen | grep -v '^ *$' | tail -1
}

@test "no preference: the status line names the server's default model" {
	chatui_login ursa
	chatui_start
	wait_for_screen 'ursa@http.*│ roomy │'
	[[ $(status_line) != *"default model"* ]] || false
}

@test "a preference: the status line names the user's default model" {
	chatui_login vera
	api PATCH /v1/users/me '{"preferences":{"default_model":"echo"}}' \
		"$access_token"
	expect_status 200
	chatui_start
	wait_for_screen 'vera@http.*│ echo │'
}
