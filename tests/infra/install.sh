#!/usr/bin/env bash
# install.sh: the system packages the integration tests need, from Debian: Knot DNS (knotd,
# knotc, keymgr) and kdig; Postfix (STARTTLS probes, the seed test's MTAs); Dovecot IMAP and
# LMTP (seed mailboxes); OpenDKIM, OpenDMARC and the SPF policy daemon (real
# Authentication-Results in seed copies); Cyrus SASL modules (AUTH on the submission relay
# scenarios); Chromium (the HTML report opened headless); a C compiler (the benchmark's DNS
# front, bench/delay_relay.c, built by its smoke test).
# Idempotent: does nothing when every tool is there. Silent on success; on failure prints apt-get's output. Needs root (apt-get).
set -euo pipefail

PACKAGES=(knot knot-dnsutils postfix dovecot-imapd dovecot-lmtpd opendkim opendkim-tools
  opendmarc postfix-policyd-spf-python chromium libsasl2-modules libsasl2-modules-db gcc libc6-dev)
TOOLS=(knotd kdig postfix dovecot opendkim opendkim-genkey opendmarc policyd-spf chromium cc)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
missing=()
for tool in "${TOOLS[@]}"; do have "$tool" || missing+=("$tool"); done
# Cyrus SASL PLAIN/LOGIN for Postfix's AUTH (the submission relay scenarios): no command to look for
compgen -G "/usr/lib/*/sasl2/libplain.so*" >/dev/null || missing+=("libsasl2-modules")
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: ${missing[*]} missing and installing them needs root:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Postfix asks how to configure the system instance: none is needed, the tests run their own.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
if ! {
  apt-get update &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
} >"$log" 2>&1; then
  echo "install.sh: installing ${PACKAGES[*]} failed:" >&2
  cat "$log" >&2
  exit 1
fi
# Debian may start the system daemons on install; the tests run their own instances.
for service in postfix dovecot opendkim opendmarc; do
  (service "$service" stop || true) >/dev/null 2>&1
done
for tool in "${TOOLS[@]}"; do
  have "$tool" || { echo "install.sh: $tool still missing after install" >&2; exit 1; }
done
