#!/usr/bin/env bats
# chatctl profile [show|set KEY VALUE|unset KEY]: the display name and
# preferences of the account through GET and PATCH /v1/users/me, as a
# table, JSON or tsv, and the errors: an unknown key, a value the server
# refuses.  Each test has a user of its own.

setup_file() { load test_helper; load chatctl-common; ctl_stack; }
teardown_file() { load test_helper; load chatctl-common; ctl_teardown; }
setup() { load test_helper; load chatctl-common; ctl_setup; fresh_user; }

@test "profile (show): a KEY VALUE table, - for what is unset" {
	run -0 --separate-stderr cc profile
	cat >"$BATS_TEST_TMPDIR/expect" <<-END
		KEY            VALUE
		username       $U
		role           user
		display_name   -
		default_model  -
		system_prompt  -
		theme          -
	END
	diff "$BATS_TEST_TMPDIR/expect" <(printf '%s\n' "$output")
	run -0 cc profile show
	diff "$BATS_TEST_TMPDIR/expect" <(printf '%s\n' "$output")
}

@test "profile set KEY VALUE changes each key; --json and tsv show them" {
	run -0 --separate-stderr cc profile set display_name "Ada L."
	[[ -z $output && -z $stderr ]] || false
	run -0 cc profile set default_model echo
	run -0 cc profile set system_prompt "be terse"
	run -0 cc profile set theme dark
	run -0 cc profile --json
	jq -e '.display_name == "Ada L." and .preferences.default_model == "echo" and
		.preferences.system_prompt == "be terse" and .preferences.theme == "dark"' <<<"$output"
	run -0 cc profile show --output tsv
	[[ ${lines[0]} == "username"$'\t'"$U" ]] || false
	[[ $output == *$'\n'"display_name"$'\t'"Ada L."$'\n'* ]] || false
	[[ $output == *$'\n'"system_prompt"$'\t'"be terse"$'\n'* ]] || false
	[[ ${lines[5]} == "theme"$'\t'"dark" ]] || false
}

@test "profile unset KEY clears it" {
	cc profile set theme light
	run -0 cc profile unset theme
	run -0 cc profile --json
	jq -e '.preferences.theme == null' <<<"$output"
}

@test "profile set: an unknown key exits 1, a refused value exits 1, nothing changed" {
	cc profile set display_name Before
	run -1 --separate-stderr cc profile set colour blue
	expect_one_error
	[[ $stderr == *"unknown key 'colour'"* ]] || false
	run -1 --separate-stderr cc profile set theme purple
	expect_one_error
	[[ $stderr == *invalid_field* ]] || false
	run -1 --separate-stderr cc profile set theme
	expect_one_error
	run -0 cc profile --json
	jq -e '.display_name == "Before" and .preferences.theme == null' <<<"$output"
	# not logged in: exit 2
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/nobody run -2 cc profile
}
