# aid-provider.bash - the hooks of aid-<provider>.bats, which are alike
# but for the provider: the file sets PROV, loads this at top level and
# lists its cases (from aid-common.bash).  One stack per file.

setup_file() {
	load test_helper
	load aid-common
	aid_stack
}

teardown_file() {
	load test_helper
	load aid-common
	aid_teardown
}

setup() {
	load test_helper
	load aid-common
	aid_setup
}
