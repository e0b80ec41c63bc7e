#!/usr/bin/env bash
# install.sh: the system packages the integration tests need, from Debian: Knot DNS (knotd,
# knotc, keymgr) and its client kdig. Idempotent: does nothing when knotd and kdig are already
# there. Silent on success; on failure prints apt-get's output. Needs root (apt-get).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have knotd && have kdig && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: knotd/kdig are missing and installing them needs root:" >&2
  echo "  sudo apt-get install -y --no-install-recommends knot knot-dnsutils" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! {
  apt-get update &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      knot knot-dnsutils
} >"$log" 2>&1; then
  echo "install.sh: installing knot and knot-dnsutils failed:" >&2
  cat "$log" >&2
  exit 1
fi
have knotd && have kdig || { echo "install.sh: knotd/kdig still missing after install" >&2; exit 1; }
