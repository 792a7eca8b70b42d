#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build, run and test
# CCM Collect, and only that: a warm machine returns at once.
#   scripts/deps.sh          build and run (Fyne's X11 and GL headers)
#   scripts/deps.sh test     also what the tests use (poppler-utils, PostgreSQL, staticcheck)
set -euo pipefail

want=(gcc pkg-config libgl1-mesa-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev)
if [ "${1:-}" = test ]; then
  want+=(poppler-utils postgresql)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go 1.26 or newer is required (https://go.dev/doc/install); put it on PATH" >&2
  exit 1
fi

if [ "${1:-}" = test ]; then
  gobin="$(go env GOPATH)/bin"
  if [ ! -x "$gobin/staticcheck" ]; then
    echo "deps: installing staticcheck" >&2
    go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
  fi
fi
