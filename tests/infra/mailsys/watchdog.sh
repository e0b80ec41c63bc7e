#!/usr/bin/env bash
# watchdog.sh OWNER_PID RUN_DIR: when OWNER_PID (the pytest process) exits without stopping the
# mail system, stops it (stop.sh RUN_DIR), so a killed test run leaves no daemons behind.
here=$(cd "$(dirname "$0")" && pwd)
while kill -0 "$1" 2>/dev/null; do sleep 1; done
exec bash "$here/stop.sh" "$2"
