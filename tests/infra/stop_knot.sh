#!/usr/bin/env bash
# stop_knot.sh RUN_DIR: stop the knotd started there and wait until it has exited
# (Knot binds with SO_REUSEPORT: an old process would keep answering).
set -u
run=$1
[ -f "$run/knot.pid" ] || exit 0
pid=$(cat "$run/knot.pid")
kill "$pid" 2>/dev/null || exit 0
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
