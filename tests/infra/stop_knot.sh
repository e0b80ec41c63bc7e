#!/usr/bin/env bash
# stop_knot.sh RUN_DIR
#
# Stops the knotd that start_knot.sh started from RUN_DIR (by the pid in RUN_DIR/knot.pid) and
# waits until it has exited: Knot binds with SO_REUSEPORT, so a dying server could otherwise
# keep answering next to a new one on the same port. SIGKILL after 10 s. Only a process whose
# command line names RUN_DIR/knot.conf is signalled (a recycled pid is left alone).
# Safe to run twice; exit 0 when nothing is running.
set -u

[ $# -eq 1 ] || { echo "usage: stop_knot.sh RUN_DIR" >&2; exit 2; }
run=$(realpath -m -- "$1")

# The watchdog start_knot.sh may have left (unless this is the watchdog itself).
if [ -f "$run/watchdog.pid" ]; then
  watchdog=$(cat "$run/watchdog.pid")
  [ "$watchdog" = "$$" ] || kill "$watchdog" 2>/dev/null || true
  rm -f "$run/watchdog.pid"
fi

[ -f "$run/knot.pid" ] || exit 0
pid=$(cat "$run/knot.pid")

ours() { tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$run/knot.conf"; }
gone() {
  ! kill -0 "$pid" 2>/dev/null || grep -q "^State:.*zombie" "/proc/$pid/status" 2>/dev/null
}

if gone || ! ours; then
  rm -f "$run/knot.pid"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 200); do
  if gone; then
    rm -f "$run/knot.pid"
    exit 0
  fi
  sleep 0.05
done
echo "stop_knot.sh: knotd $pid did not stop within 10 s; killing it" >&2
kill -KILL "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
  if gone; then
    rm -f "$run/knot.pid"
    exit 0
  fi
  sleep 0.05
done
echo "stop_knot.sh: knotd $pid is still running" >&2
exit 1
