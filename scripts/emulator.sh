#!/usr/bin/env bash
# Start or stop a local emulator for the demo or manual use.
#   scripts/emulator.sh start [PORT]   (default 4566; prints the endpoint URL)
#   scripts/emulator.sh stop
# Tests do not use this: each test starts its own emulator on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.emulator
case "${1:-}" in
  start)
    PORT="${2:-4566}"
    scripts/install-emulator.sh
    mkdir -p "$STATE"
    MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ACM_VALIDATION_WAIT=0 \
      .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$PORT" >"$STATE/moto.log" 2>&1 &
    echo $! >"$STATE/pid"
    for _ in $(seq 1 100); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/moto-api/" 2>/dev/null; then
        echo "http://127.0.0.1:$PORT"
        exit 0
      fi
      sleep 0.1
    done
    echo "the emulator did not answer on port $PORT; see $STATE/moto.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$STATE/pid" ]; then
      kill "$(cat "$STATE/pid")" 2>/dev/null || true
      rm -f "$STATE/pid"
    fi
    ;;
  *)
    echo "usage: $0 start [PORT] | stop" >&2
    exit 2
    ;;
esac
