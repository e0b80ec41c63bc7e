#!/usr/bin/env bash
# Debian packages the integration tests need: Knot DNS (knotd, knotc, keymgr) and kdig.
# Idempotent and quiet when everything is already there. Needs root (apt-get).
set -euo pipefail
need=()
command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || need+=(knot)
command -v kdig >/dev/null 2>&1 || need+=(knot-dnsutils)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian packages) for the integration tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
