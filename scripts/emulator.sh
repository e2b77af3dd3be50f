#!/usr/bin/env bash
# Start or stop a local emulator for the demo or manual use.
#   scripts/emulator.sh start [PORT]   (default 4566; prints the endpoint URL)
#   scripts/emulator.sh stop
# State (pid, moto.log) lives in .emulator/, or in $RTECH_EMULATOR_DIR when set, so that two
# emulators (e.g. the demo's and yours) can run side by side and each `stop` ends only its own.
# Tests do not use this: each test starts its own emulator on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${RTECH_EMULATOR_DIR:-.emulator}"
PY=.venv/bin/python
case "${1:-}" in
  start)
    PORT="${2:-4566}"
    scripts/install-emulator.sh
    mkdir -p "$STATE"
    # Something already answering on the port would pass the readiness check below.
    if "$PY" -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1)" "$PORT" 2>/dev/null; then
      echo "port $PORT is already in use; pick another: $0 start PORT" >&2
      exit 1
    fi
    MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ACM_VALIDATION_WAIT=0 \
      "$PY" scripts/moto_server.py -H 127.0.0.1 -p "$PORT" >"$STATE/moto.log" 2>&1 &
    PID=$!
    echo "$PID" >"$STATE/pid"
    # Ready when moto's own API answers; give up after ~20 s or as soon as the server exits.
    for _ in $(seq 1 100); do
      if ! kill -0 "$PID" 2>/dev/null; then
        break
      fi
      if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "http://127.0.0.1:$PORT/moto-api/" 2>/dev/null; then
        echo "http://127.0.0.1:$PORT"
        exit 0
      fi
      sleep 0.1
    done
    echo "the emulator did not answer on port $PORT; see $STATE/moto.log" >&2
    kill "$PID" 2>/dev/null || true
    rm -f "$STATE/pid"
    exit 1
    ;;
  stop)
    if [ -f "$STATE/pid" ]; then
      PID="$(cat "$STATE/pid")"
      kill "$PID" 2>/dev/null || true
      # Wait (at most ~5 s) until it has exited, so that its port is free again.
      for _ in $(seq 1 50); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
      done
      rm -f "$STATE/pid"
    fi
    ;;
  *)
    echo "usage: $0 start [PORT] | stop" >&2
    exit 2
    ;;
esac
