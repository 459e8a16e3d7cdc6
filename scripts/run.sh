#!/usr/bin/env bash
# run.sh - what `make run` does: starts the stack on the embedded defaults
# (SQLite, data in .chat/ of the checkout unless CHAT_DATA_DIR says
# otherwise), creates a local admin account on the first run, logs chatctl
# in (chatui shares its credentials file), and opens chatui when run on a
# terminal (else tells how to use it).
#
# The admin account: the username is $USER reduced to [A-Za-z0-9._-]
# (or "admin" when that leaves fewer than 3 characters); the password is
# random, shown once and kept in DATA_DIR/admin-password (mode 0600), so
# that later runs can log in again.  On a terminal it is shown again when
# chatui exits, since chatui takes the screen right after the first time.
#
# Credentials: chatctl's usual file ($XDG_CONFIG_HOME/chat/credentials),
# so that chatctl and chatui work from any terminal afterwards.  When that
# file already holds a login to another server, it is left alone and this
# stack's login goes to DATA_DIR/config instead (XDG_CONFIG_HOME), which
# the message then tells how to use.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CHAT_DATA_DIR=${CHAT_DATA_DIR:-$root/.chat}
export CHAT_PORT=${CHAT_PORT:-8080}
bin=${CHAT_BIN:-$root/bin}
chatctl=$bin/chatctl
chatui=$bin/chatui

"$root/scripts/stack" start
url=http://127.0.0.1:$CHAT_PORT
"$root/scripts/stack" status || true

[[ -x $chatctl ]] || {
	echo "run.sh: '$chatctl' is not built; run 'make' first" >&2
	exit 1
}
cc() {
	"$chatctl" --server "$url" "$@"
}

pw_file=$CHAT_DATA_DIR/admin-password
user_file=$CHAT_DATA_DIR/admin-user
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
creds=$config_home/chat/credentials
env_hint=

# Another server's login is not ours to replace.
if [[ -s $creds ]]; then
	creds_server=$(sed -n 's/.*"server":[[:space:]]*"\([^"]*\)".*/\1/p' "$creds")
	if [[ -n $creds_server && ${creds_server%/} != "$url" ]]; then
		export XDG_CONFIG_HOME=$CHAT_DATA_DIR/config
		env_hint="export XDG_CONFIG_HOME=$XDG_CONFIG_HOME"
		echo "run.sh: $creds is a login to $creds_server; this stack's login goes to $XDG_CONFIG_HOME" >&2
	fi
fi

shown_password=
if cc whoami >/dev/null 2>&1; then
	:	# logged in to this stack already
elif [[ -s $pw_file && -s $user_file ]]; then
	cc login --username "$(<"$user_file")" --password-stdin <"$pw_file"
else
	user=$(printf '%s' "${USER:-}" | tr -cd 'A-Za-z0-9._-' | cut -c1-64)
	((${#user} >= 3)) || user=admin
	(
		umask 077
		head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$pw_file.tmp"
		mv "$pw_file.tmp" "$pw_file"
	)
	if ! cc register --username "$user" --password-stdin <"$pw_file"; then
		rm -f "$pw_file"
		echo "run.sh: could not create the account '$user' (see above); log in with: chatctl --server $url login" >&2
		exit 1
	fi
	printf '%s\n' "$user" >"$user_file"
	shown_password=$(<"$pw_file")
fi

cat <<MSG

chat is running at $url (data in $CHAT_DATA_DIR, logs in $CHAT_DATA_DIR/log)
MSG
# The new account's password, where a person reads it: chatui takes the
# screen right after this text, so on a terminal it is shown again when
# chatui exits.
show_password() {
	cat <<MSG
Created the account '$(<"$user_file")' (the first account: admin) with the password
  $shown_password
(shown this once; also kept in $pw_file, mode 0600)
MSG
}
if [[ -n $shown_password ]]; then
	show_password
fi
echo "chatctl is logged in as $(cc whoami 2>/dev/null || echo '?')."
echo
[[ -z $env_hint ]] || echo "  $env_hint      (this stack's login)"
printf '  %-36s %s\n' \
	"chatui" "the full-screen client (F1: keys)" \
	"chatctl chat" "talk (Ctrl-D leaves)" \
	"chatctl ask \"a question\"" "one answer on stdout" \
	"chatctl conv ls" "your conversations" \
	"man $root/man/chatui.1" "chatui's keys" \
	"man $root/man/chatctl.1" "everything else"
[[ :$PATH: == *":$bin:"* ]] || echo "  (chatctl is $chatctl)"
cat <<MSG

Stop the stack with:
  CHAT_DATA_DIR=$CHAT_DATA_DIR $root/scripts/stack stop
MSG

if [[ -t 0 && -t 1 ]]; then
	echo
	client=("$chatui" --server "$url")
	if [[ ! -x $chatui ]]; then
		echo "run.sh: '$chatui' is not built; falling back to chatctl chat" >&2
		client=("$chatctl" --server "$url" chat)
	fi
	[[ -z $shown_password ]] || echo "(the password is shown again when you leave)"
	rc=0
	"${client[@]}" || rc=$?
	if [[ -n $shown_password ]]; then
		echo
		show_password
	fi
	exit "$rc"
fi
