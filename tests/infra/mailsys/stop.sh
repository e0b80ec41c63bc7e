#!/usr/bin/env bash
# stop.sh RUN_DIR
#
# Stops the loopback mail system started from RUN_DIR (tests/infra/mail_system.py): every daemon
# whose pid is in RUN_DIR/pids/*.pid gets SIGTERM (Postfix's master and Dovecot stop their own
# children), then SIGKILL after 10 s; waits until each has exited (Knot binds with SO_REUSEPORT).
# The milters get SIGKILL at once: on SIGTERM libmilter only exits at its next 5 s poll, and
# they keep no state. Only a process whose command line names the run's state directory is
# signalled (a recycled pid is left alone). A state directory made in /tmp (RUN_DIR/state is a
# link to it) is removed; RUN_DIR/logs is kept. Safe to run twice; exit 0 when nothing runs.
set -u

[ $# -eq 1 ] || { echo "usage: stop.sh RUN_DIR" >&2; exit 2; }
run=$(realpath -m -- "$1")
state=$(realpath -m -- "$run/state")

if [ -f "$run/watchdog.pid" ]; then
  watchdog=$(cat "$run/watchdog.pid")
  [ "$watchdog" = "$$" ] || [ "$watchdog" = "$PPID" ] || kill "$watchdog" 2>/dev/null || true
  rm -f "$run/watchdog.pid"
fi

shopt -s nullglob
ours() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$state/"; }
gone() { ! kill -0 "$1" 2>/dev/null || grep -q "^State:.*zombie" "/proc/$1/status" 2>/dev/null; }

pids=()
for file in "$run"/pids/*.pid; do
  pid=$(cat "$file")
  if [[ $pid =~ ^[0-9]+$ ]] && ! gone "$pid" && ours "$pid"; then
    case $(basename "$file") in
      opendkim*|opendmarc*) kill -KILL "$pid" 2>/dev/null || true ;;
      *) kill -TERM "$pid" 2>/dev/null || true ;;
    esac
    pids+=("$pid")
  fi
  rm -f "$file"
done

status=0
for pid in "${pids[@]}"; do
  for _ in $(seq 1 200); do gone "$pid" && break; sleep 0.05; done
  if ! gone "$pid"; then
    echo "stop.sh: pid $pid did not stop within 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do gone "$pid" && break; sleep 0.05; done
    gone "$pid" || { echo "stop.sh: pid $pid is still running" >&2; status=1; }
  fi
done

# A state directory made in /tmp for a run_dir others cannot enter: removed once all is down.
if [ $status -eq 0 ] && [ -L "$run/state" ] && [ -f "$state/.remove-on-stop" ] &&
  [ "$(cat "$state/.remove-on-stop")" = "$run" ]; then
  rm -rf -- "$state" && rm -f -- "$run/state"
fi
exit $status
