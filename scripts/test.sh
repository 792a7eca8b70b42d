#!/usr/bin/env bash
# The project's test command (README: `make test`). On a fresh Debian machine
# it installs what is missing, starts a private PostgreSQL cluster on a
# loopback port for the hub's Postgres store (unless CCM_TEST_POSTGRES_URL is
# already set), then runs the checks, every test with the race detector, and
# a short fuzz run of every fuzz target.
#   FUZZTIME=30s scripts/test.sh     longer fuzzing
#   SKIP_FUZZ=1 scripts/test.sh      no fuzzing
#   SKIP_TESTS=1 scripts/test.sh     only fuzzing (make fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
export PATH="$(go env GOPATH)/bin:$PATH"
TAGS=migrated_fynedo

if [ -z "${CCM_TEST_POSTGRES_URL:-}" ]; then
  CCM_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh start)"
  export CCM_TEST_POSTGRES_URL
  trap 'scripts/pg-test-cluster.sh stop >/dev/null 2>&1 || true' EXIT
fi

if [ -z "${SKIP_TESTS:-}" ]; then
echo "== gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet -tags "$TAGS" ./...
echo "== staticcheck"
staticcheck -tags "$TAGS" ./...

echo "== go test -race"
go test -race -tags "$TAGS" -count=1 -timeout 20m ./...
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
  echo "== fuzz (${FUZZTIME:-5s} each)"
  # Every Fuzz function in the tree, one run each (go test fuzzes one target at a time).
  grep -rlE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' . | while read -r file; do
    pkg="./$(dirname "${file#./}")"
    for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
      echo "-- $pkg $fn"
      go test -tags "$TAGS" -run '^$' -fuzz "^${fn}\$" -fuzztime "${FUZZTIME:-5s}" "$pkg" >/tmp/ccm-fuzz.log 2>&1 || { cat /tmp/ccm-fuzz.log; exit 1; }
    done
  done
fi
echo "== all checks passed"
