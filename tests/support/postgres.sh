#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests (issue 11 acceptance: "a real PostgreSQL server from Debian's
# packages in a temporary data directory, as an unprivileged user, on a loopback port").
#
# Installs nothing: test.sh installs Debian's `postgresql` package. This script only runs its initdb/pg_ctl.
#
#   eval "$(tests/support/postgres.sh start)"   # exports CHANNELMANAGER_TEST_PG (Npgsql connection string) and CM_PG_DIR
#   tests/support/postgres.sh env "$CM_PG_DIR"  # prints the same export lines again
#   tests/support/postgres.sh stop "$CM_PG_DIR" # stops the server and deletes its directory
#
# PostgreSQL refuses to run as root, so when run as root the server runs as Debian's `postgres` system user
# (created by the package) via runuser. The server listens on 127.0.0.1 only, on a free port, with its Unix
# socket inside the temporary directory (never /var/run/postgresql, so it cannot clash with a system cluster).
# fsync is off: the data directory is deleted afterwards, and durability across a power cut is not what the
# tests check (the store's own transactions are still real PostgreSQL transactions).
set -euo pipefail

usage() { echo "usage: $0 start | env DIR | stop DIR" >&2; exit 2; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
    exit 1
  fi
  echo "$d"
}

# Runs a command as the server's unprivileged owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

print_env() {
  local dir=$1
  [ -f "$dir/connection" ] || { echo "postgres.sh: $dir has no running test server" >&2; exit 1; }
  echo "export CHANNELMANAGER_TEST_PG='$(cat "$dir/connection")'"
  echo "export CM_PG_DIR='$dir'"
}

start() {
  local bin dir port user
  bin=$(bindir)
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "postgres.sh: running as root but there is no 'postgres' user to run the server as" >&2
    exit 1
  fi
  dir=$(mktemp -d /tmp/cm-pg.XXXXXX)
  chmod 0755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  user=channelmanager
  as_owner "$bin/initdb" -D "$dir/data" -U "$user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
  # A port can be taken between choosing it and binding it (another helper's server): try a few.
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      echo "Host=127.0.0.1;Port=$port;Username=$user;Database=postgres;Pooling=true" >"$dir/connection"
      print_env "$dir"
      return 0
    fi
  done
  cat "$dir/server.log" >&2 || true
  rm -rf "$dir"
  echo "postgres.sh: the server did not start" >&2
  exit 1
}

stop() {
  local dir=$1 bin
  bin=$(bindir)
  case "$dir" in /tmp/cm-pg.*) ;; *) echo "postgres.sh: refusing to stop/delete '$dir' (not a cm-pg directory)" >&2; exit 2 ;; esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  env) [ $# -eq 2 ] || usage; print_env "$2" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
