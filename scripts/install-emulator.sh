#!/usr/bin/env bash
# Installs the local AWS emulator (moto's server, pinned) into the project's .venv.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION="5.2.5"
PY="${PYTHON:-python3}"
if [ -x .venv/bin/python ] && .venv/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  exit 0
fi
echo "installing moto[server]==$MOTO_VERSION into .venv" >&2
"$PY" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
