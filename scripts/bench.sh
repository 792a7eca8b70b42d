#!/usr/bin/env bash
# Prints the figures docs/performance.md records: every benchmark of the
# store, the hub, the sync engine, the reports and the app's records list, on 100,000-record data
# sets. Takes several minutes on a 2-core machine.
#   BENCH=Import scripts/bench.sh     only benchmarks matching a pattern
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
pkgs=$(go list -tags migrated_fynedo ./... | grep -E '/(storage|hub|sync|reports|app)(/|$)' || true)
go test -tags migrated_fynedo ${BENCHTIME:+-benchtime "$BENCHTIME"} -run '^$' -bench "${BENCH:-.}" -benchmem -timeout 60m $pkgs
