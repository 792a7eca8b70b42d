#!/usr/bin/env bash
# A private PostgreSQL cluster for the hub's tests, on a loopback port under
# a temp dir. Idempotent: `start` prints the URL whether it started the
# cluster or found it running; `stop` stops it and removes its files.
#   scripts/pg-test-cluster.sh [start]   prints postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   scripts/pg-test-cluster.sh stop
#   scripts/pg-test-cluster.sh url       prints the URL without starting anything
# Environment: CCM_PG_PORT (default 54329), CCM_PG_DIR (default /tmp/ccm-pgtest).
set -euo pipefail

port="${CCM_PG_PORT:-54329}"
dir="${CCM_PG_DIR:-/tmp/ccm-pgtest}"
url="postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable"

bindir="${PG_BINDIR:-}"
if [ -z "$bindir" ]; then
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    bindir="$(pg_config --bindir)"
  else
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  fi
fi
if [ ! -x "$bindir/initdb" ]; then
  echo "pg-test-cluster: PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BINDIR)" >&2
  exit 1
fi

# initdb and postgres refuse to run as root: run them as the postgres user then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

running() { as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

case "${1:-start}" in
start)
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! running; then
    # fsync stays on: the durability tests rely on real commits.
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
      { cat "$dir/postgres.log" >&2; exit 1; }
  fi
  echo "$url"
  ;;
stop)
  if [ -d "$dir/data" ]; then
    running && as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    rm -rf "$dir"
  fi
  ;;
url)
  echo "$url"
  ;;
*)
  echo "usage: $0 [start|stop|url]" >&2
  exit 2
  ;;
esac
