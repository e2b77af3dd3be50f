#!/usr/bin/env bash
# The demo (README.md, "Quick start"): the dev env's whole life cycle against a local emulator.
#   bootstrap (the lock bucket, once per account and region) → plan → apply (under the env's
#   lock) → plan again (must be empty) → output → destroy
# Needs cargo and python3; installs the emulator into .venv on first use. Touches no real AWS
# account: every call goes to the emulator, with dummy credentials.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo build"
cargo build --quiet
RTECH="$PWD/target/debug/rtech"

# 4566 if it is free, else any free port.
PORT="$(python3 - <<'EOF'
import socket
for port in (4566, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    s.close()
    break
EOF
)"

# The demo's own emulator state, so that `stop` ends this emulator and no other.
export RTECH_EMULATOR_DIR=.emulator/demo
trap 'scripts/emulator.sh stop' EXIT
echo "==> scripts/emulator.sh start $PORT"
AWS_ENDPOINT_URL="$(scripts/emulator.sh start "$PORT")"
echo "emulator at $AWS_ENDPOINT_URL (log: $RTECH_EMULATOR_DIR/moto.log)"

export AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

step() {
  echo
  echo "==> rtech $*"
  "$RTECH" "$@"
}

step bootstrap --env dev --auto-approve
step plan --env dev
step apply --env dev --auto-approve

rc=0
step plan --env dev --detailed-exitcode -v || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "demo FAILED: the plan after apply is not empty (rtech plan --detailed-exitcode exited $rc, expected 0)" >&2
  exit 1
fi

step output --env dev
step destroy --env dev --auto-approve

echo
echo "demo OK: bootstrapped, planned, applied, re-planned with no changes, read outputs and destroyed env dev"
