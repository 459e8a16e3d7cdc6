#!/usr/bin/env bash
# run.sh - what `make run` does: starts the stack on the embedded defaults
# (SQLite, data in .chat/ of the checkout unless CHAT_DATA_DIR says
# otherwise) and tells how to use and stop it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CHAT_DATA_DIR=${CHAT_DATA_DIR:-$root/.chat}
export CHAT_PORT=${CHAT_PORT:-8080}

"$root/scripts/stack" start
url=http://127.0.0.1:$CHAT_PORT
"$root/scripts/stack" status || true

cat <<MSG

chat is running at $url (data in $CHAT_DATA_DIR, logs in $CHAT_DATA_DIR/log)

Create an account (the first one is the admin) and log in:
  curl -s $url/v1/auth/register -H 'Content-Type: application/json' \\
       -d '{"username":"alice","password":"a long password"}'
  curl -s $url/v1/auth/login -H 'Content-Type: application/json' \\
       -d '{"username":"alice","password":"a long password"}'
Then call the API with the access token:
  curl -s $url/v1/users/me -H "Authorization: Bearer ACCESS_TOKEN"

Stop it with:
  CHAT_DATA_DIR=$CHAT_DATA_DIR scripts/stack stop
MSG
