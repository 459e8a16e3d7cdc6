#!/usr/bin/env bats
# bats file_tags=store:any
# The web page's files as committed (issue 14): the vendored libraries
# are the bytes SHA256SUMS names, under names carrying their content's
# hash (the gateway caches those for a year), scripts/vendor-web makes
# the same files again; every module the page imports exists; and the
# page holds nothing the CSP forbids (inline script, style attribute,
# inline handler), no innerHTML, and nothing in sessionStorage.

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	export WEB=$CHAT_ROOT/web
}

setup() {
	load test_helper
}

# The lines of the page's modules that are code, not comments, each
# prefixed with its file's name.
code_lines() {
	local f
	for f in "$WEB"/js/*.js; do
		sed -E '/^[[:space:]]*(\/\/|\/?\*)/d; s|^|'"${f##*/}"': |' "$f"
	done
}

@test "the vendored files are those SHA256SUMS names, and only those" {
	cd "$WEB/vendor"
	run -0 sha256sum --quiet --strict -c SHA256SUMS
	find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' |
		LC_ALL=C sort >"$BATS_TEST_TMPDIR/actual"
	awk '{ sub(/^\*/, "", $2); print $2 }' SHA256SUMS | LC_ALL=C sort \
		>"$BATS_TEST_TMPDIR/expect"
	diff -u "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual"
}

@test "a vendored name's hash is the sha256 of its content" {
	local f base hash n=0
	for f in "$WEB"/vendor/*-*.js; do
		base=${f##*/}
		[[ $base =~ -([0-9a-f]{12})\. ]] || continue
		hash=$(sha256sum "$f" | cut -c1-12)
		[[ $hash == "${BASH_REMATCH[1]}" ]] ||
			{ echo "$base: content hash $hash" >&2; false; }
		n=$((n + 1))
	done
	# DOMPurify, marked, highlight.js's core and its languages
	((n >= 4)) || false
}

@test "every module the page imports is there" {
	local f dir spec target missing=()
	for f in "$WEB"/js/*.js "$WEB"/vendor/index.js; do
		dir=${f%/*}
		while read -r spec; do
			case $spec in
			/*) target=$WEB$spec ;;
			./* | ../*) target=$dir/$spec ;;
			*) missing+=("$f: bare specifier '$spec'"); continue ;;
			esac
			[[ -f $target ]] || missing+=("$f: '$spec'")
		done < <(grep -oE "(from|import)[[:space:]]*\(?'[^']+'" "$f" |
			sed -E "s/^[^']*'([^']*)'$/\1/")
	done
	while read -r spec; do
		[[ -f $WEB$spec ]] || missing+=("index.html: '$spec'")
	done < <(grep -oE '(src|href)="/[^"]*"' "$WEB/index.html" |
		sed -E 's/^[a-z]+="([^"]*)"$/\1/')
	((${#missing[@]} == 0)) || { printf '%s\n' "${missing[@]}" >&2; false; }
}

@test "the page has no inline script, style or handler" {
	# every <script> loads a file and holds nothing
	local scripts with_src
	scripts=$(grep -o '<script' "$WEB/index.html" | wc -l)
	with_src=$(grep -oE '<script [^>]*src="/[^"]+"[^>]*></script>' \
		"$WEB/index.html" | wc -l)
	((scripts > 0 && scripts == with_src)) || false
	run -1 grep -nE '<style|[[:space:]]style=|[[:space:]]on[a-z]+=' \
		"$WEB/index.html"
	# the modules never write HTML from strings, nor style attributes
	run -1 grep -E 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|'"setAttribute\('style'" \
		< <(code_lines)
}

@test "no module uses sessionStorage, and localStorage keeps the theme only" {
	run -1 grep 'sessionStorage' < <(code_lines)
	code_lines | grep 'localStorage' >"$BATS_TEST_TMPDIR/uses"
	# one read and one write, both of the theme
	run -0 grep -c 'localStorage' "$BATS_TEST_TMPDIR/uses"
	[[ $output == 2 ]] || false
	run -0 grep -c '^app\.js: .*localStorage\.[gs]etItem(THEME_KEY' \
		"$BATS_TEST_TMPDIR/uses"
	[[ $output == 2 ]] || false
}

@test "scripts/vendor-web makes the same files again" {
	command -v npm >/dev/null || { echo "npm is needed" >&2; false; }
	local copy=$BATS_TEST_TMPDIR/tree
	mkdir -p "$copy/scripts" "$copy/web/vendor"
	cp "$CHAT_ROOT/scripts/vendor-web" "$copy/scripts/"
	cp "$WEB/vendor/package.json" "$WEB/vendor/package-lock.json" \
		"$copy/web/vendor/"
	# a stale file of an older version goes
	echo stale >"$copy/web/vendor/purify-000000000000.min.js"
	run -0 --separate-stderr "$copy/scripts/vendor-web"
	diff -r "$WEB/vendor" "$copy/web/vendor"
}
