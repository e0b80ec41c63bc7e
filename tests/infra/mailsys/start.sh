#!/usr/bin/env bash
# start.sh RUN_DIR: starts the loopback mail system by hand (no watchdog: it keeps running after
# this returns) and prints its handle as JSON (also in RUN_DIR/handle.json). Needs root.
# Stop it with: bash tests/infra/mailsys/stop.sh RUN_DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: start.sh RUN_DIR" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$1"
run=$(realpath -- "$1")
cd "$repo" && exec python3 -m tests.infra.mail_system start "$run"
