#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the serve tests and prints the export line of its URL:
#   eval "$(bash test/serve/pg-start.sh)"   → RECLAB_TEST_PG_URL=postgres://postgres@127.0.0.1:<port>/postgres
# Installs Debian's postgresql package when its binaries are missing (needs root, as in CI).
# The cluster lives in a temp dir and is stopped by `bash test/serve/pg-start.sh stop <dir>`.
set -euo pipefail
if [ "${1:-}" = "stop" ]; then
  dir="$2"
  runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql from Debian's packages" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
# A free port unless told (a fixed one could collide with another cluster on the machine).
port="${RECLAB_PG_PORT:-$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}"
dir="$(mktemp -d /tmp/reclab-pg.XXXXXX)"
chown postgres: "$dir"
runuser -u postgres -- "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Throw-away instance: local TCP only, socket in its own dir, no fsync-less shortcuts (we test durability).
runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
echo "export RECLAB_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres RECLAB_TEST_PG_DIR=$dir"
