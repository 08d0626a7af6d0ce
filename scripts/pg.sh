#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks, from the host's binaries.
#
#   eval "$(scripts/pg.sh start)"   # prints export lines: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE ENGINE_PG_DIR
#   scripts/pg.sh stop              # stops the cluster in $ENGINE_PG_DIR and deletes it
#   scripts/pg.sh down SECONDS      # fault injection: stop the server, wait, start it again
#   scripts/pg.sh crash SECONDS     # fault injection: SIGKILL the postmaster, wait, start (crash recovery)
#
# The cluster listens on 127.0.0.1 only, on a free port, with scram-sha-256 password
# auth (so tests can check what a wrong password does). If initdb is missing it
# installs Debian's `postgresql` package. initdb refuses to run as root, so as root
# the cluster runs as the `postgres` user.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1 || true)
  [[ -n "$found" ]] && echo "$found"
}

ensure_binaries() {
  if [[ -z "$(find_bin initdb)" ]]; then
    echo "pg.sh: initdb not found; installing Debian's postgresql package" >&2
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  fi
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  ensure_binaries
  local initdb pg_ctl dir port password
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  dir=$(mktemp -d /tmp/engine-pg.XXXXXX)
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  password="engine-test-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$password" >"$dir/pwfile"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir/pwfile"
  as_owner "$initdb" -D "$dir/data" -U engine --pwfile="$dir/pwfile" -A scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  port=$(free_port)
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_wal_size = '2GB'
shared_buffers = '256MB'
CONF
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U engine -d postgres -qc "CREATE DATABASE engine" >/dev/null
  echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=engine PGPASSWORD=$password PGDATABASE=engine ENGINE_PG_DIR=$dir"
}

stop() {
  local dir=${ENGINE_PG_DIR:?ENGINE_PG_DIR is not set: nothing to stop}
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

restart_after() {
  local how=$1 seconds=$2 dir=${ENGINE_PG_DIR:?ENGINE_PG_DIR is not set}
  local pg_ctl; pg_ctl=$(find_bin pg_ctl)
  if [[ $how == crash ]]; then
    # The whole server dies at once, as in a machine crash: postmaster and backends.
    local pid; pid=$(head -1 "$dir/data/postmaster.pid")
    pkill -9 -P "$pid" || true
    kill -9 "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  else
    as_owner "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  sleep "$seconds"
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  down) restart_after down "${2:-1}" ;;
  crash) restart_after crash "${2:-1}" ;;
  *) echo "usage: $0 start|stop|down SECONDS|crash SECONDS" >&2; exit 2 ;;
esac
