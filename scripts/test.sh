#!/usr/bin/env bash
# The test command (README.md): installs the emulator if needed, then runs every test —
# unit tests and the emulator-backed integration tests (each starts its own moto server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-emulator.sh
cargo test --locked "$@"
