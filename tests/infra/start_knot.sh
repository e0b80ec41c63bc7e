#!/usr/bin/env bash
# start_knot.sh RUN_DIR ZONE_DIR PORT
#
# Serves every ZONE_DIR/*.zone (zone name = file name without .zone) with Knot DNS on
# 127.0.0.1@PORT (and ::1@PORT when the IPv6 loopback works), UDP and TCP, from a copy of the
# zone files in RUN_DIR (the fixtures are never written to). Writes RUN_DIR/knot.conf,
# RUN_DIR/knot.log and RUN_DIR/knot.pid; returns once every zone answers its SOA over TCP.
# Fails loudly, with Knot's log, when knotd does not come up or rejects (or warns about) a zone
# file, naming the file in ZONE_DIR. Exits 3 when PORT is (or was, by the time knotd bound it)
# taken, so the caller can try another port. Stop it with stop_knot.sh RUN_DIR.
#
# Environment: KNOT_START_TIMEOUT (seconds, default 20); KNOT_OWNER_PID: a process whose exit
# also stops this knotd (the pytest session), so a killed test run leaves no server behind.
#
# Parent zones: each top-level domain of the zones (and of every name in KNOT_PARENTS, e.g. the
# default blocklist zones) without a zone file of its own is served as an empty zone, so names
# outside the scenarios get NXDOMAIN, as from the real DNS, instead of Knot's REFUSED.
#
# DNSSEC (optional): KNOT_SIGN="zone1 zone2": zones Knot signs inline (ECDSA P-256, one CSK made
# with keymgr before knotd starts; NSEC, or NSEC3 with KNOT_NSEC3=1). Each one's DS (SHA-256) and
# DNSKEY records go to RUN_DIR/keys/ZONE.ds and ZONE.dnskey; a comment line `;; @DS@ ZONE` in a
# zone file (its copy in RUN_DIR) is replaced by ZONE's DS records, so a parent can hold them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "start_knot.sh: $*" >&2; exit 1; }

[ $# -eq 3 ] || { echo "usage: start_knot.sh RUN_DIR ZONE_DIR PORT" >&2; exit 2; }
run=$(realpath -m -- "$1")
[ -d "$2" ] || die "zone directory '$2' does not exist"
zones=$(realpath -- "$2")
port=$3
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad port '$port'"

knotd=$(command -v knotd || echo /usr/sbin/knotd)
kdig=$(command -v kdig || true)
[ -x "$knotd" ] && [ -n "$kdig" ] || die "knotd/kdig not installed: run tests/infra/install.sh"

shopt -s nullglob
files=("$zones"/*.zone)
[ ${#files[@]} -gt 0 ] || die "no *.zone files in $zones"

if [ -f "$run/knot.pid" ] && kill -0 "$(cat "$run/knot.pid")" 2>/dev/null; then
  die "a knotd started from $run is still running (pid $(cat "$run/knot.pid")): stop_knot.sh $run"
fi
taken() {
  echo "start_knot.sh: port $port is already in use on the loopback (another server, or a" \
    "leftover knotd: see README.md)" >&2
  exit 3
}
python3 "$here/netutil.py" port-free "$port" || taken

listen="127.0.0.1@$port"
if python3 "$here/netutil.py" ipv6; then listen="$listen, ::1@$port"; fi

rm -rf "$run/zones" "$run/db" "$run/rundir" "$run/knot.log" "$run/knot.pid"
mkdir -p "$run/zones" "$run/db" "$run/rundir"
cp -- "${files[@]}" "$run/zones/"
names=()
for f in "${files[@]}"; do names+=("$(basename "$f" .zone)"); done

# Knot REFUSES names outside every zone it serves, and the tool reads REFUSED as unknown (DNS001),
# as it must. A real TLD answers NXDOMAIN for names under it that do not exist: so every
# top-level domain of the zones served (and each of KNOT_PARENTS), unless a zone file of its own
# is given, is served as an empty zone. Knot answers from the most specific zone, so the
# scenario zones under it are untouched.
parents=()
for name in "${names[@]}" ${KNOT_PARENTS:-}; do
  tld=${name##*.}
  tld=${tld,,}
  [ -n "$tld" ] || continue
  [[ " ${names[*]} ${parents[*]} " == *" $tld "* ]] && continue
  parents+=("$tld")
done
for tld in "${parents[@]}"; do
  {
    echo "; Written by tests/infra/start_knot.sh: the empty parent of the zones under $tld."
    echo "\$ORIGIN $tld."
    echo "\$TTL 300"
    echo "@    SOA  ns1.$tld. hostmaster.$tld. 1 3600 600 86400 300"
    echo "@    NS   ns1"
    echo "ns1  A    127.0.0.1"
  } > "$run/zones/$tld.zone"
  names+=("$tld")
done

{
  echo "# Written by tests/infra/start_knot.sh for $zones"
  echo "server:"
  echo "    rundir: \"$run/rundir\""
  echo "    listen: [ $listen ]"
  echo "log:"
  echo "  - target: stdout"
  echo "    any: info"
  echo "database:"
  echo "    storage: \"$run/db\""
  echo "template:"
  echo "  - id: default"
  echo "    storage: \"$run/zones\""
  echo "    file: \"%s.zone\""
  echo "    zonefile-sync: -1"
  echo "    zonefile-load: whole"
  echo "    journal-content: none"
  if [ -n "${KNOT_SIGN:-}" ]; then
    echo "policy:"
    echo "  - id: audit-test"
    echo "    algorithm: ecdsap256sha256"
    echo "    single-type-signing: on"
    if [ "${KNOT_NSEC3:-0}" = 1 ]; then echo "    nsec3: on"; else echo "    nsec3: off"; fi
  fi
  echo "zone:"
  for name in "${names[@]}"; do
    echo "  - domain: \"$name.\""
    if [[ " ${KNOT_SIGN:-} " == *" $name "* ]]; then
      echo "    dnssec-signing: on"
      echo "    dnssec-policy: audit-test"
    fi
  done
} > "$run/knot.conf"

if [ -n "${KNOT_SIGN:-}" ]; then
  # Keys first, so the DS records are known before knotd loads the parents that hold them.
  keymgr=$(command -v keymgr || echo /usr/sbin/keymgr)
  rm -rf "$run/keys"
  mkdir -p "$run/keys"
  for zone in $KNOT_SIGN; do
    [ -f "$run/zones/$zone.zone" ] || die "KNOT_SIGN names $zone, but there is no $zone.zone"
    "$keymgr" -c "$run/knot.conf" "$zone." generate algorithm=ecdsap256sha256 ksk=yes zsk=yes \
      > /dev/null || die "keymgr could not make a key for $zone"
    "$keymgr" -c "$run/knot.conf" "$zone." ds | awk '$5 == 2' > "$run/keys/$zone.ds"
    "$keymgr" -c "$run/knot.conf" "$zone." dnskey > "$run/keys/$zone.dnskey"
  done
  for file in "$run/zones"/*.zone; do
    grep -q "^;; @DS@ " "$file" || continue
    awk -v keys="$run/keys" '
      $1 == ";;" && $2 == "@DS@" {
        source = keys "/" $3 ".ds"
        while ((getline line < source) > 0) print line
        close(source)
        next
      }
      { print }
    ' "$file" > "$file.tmp" && mv "$file.tmp" "$file"
  done
fi

"$knotd" -c "$run/knot.conf" < /dev/null > "$run/knot.log" 2>&1 &
pid=$!
echo "$pid" > "$run/knot.pid"

stop() { bash "$here/stop_knot.sh" "$run" >/dev/null 2>&1 || true; }

# Lines where Knot complains about a zone: "error: [name.] ..." or "warning: [name.] ...".
# A warning counts too: data Knot ignores (out-of-zone records) would differ from --zone-dir.
rejected() {
  local bad
  bad=$(grep -oE "(error|warning): \[[^]]+\]" "$run/knot.log" | sed -E 's/.*\[(.*)\.\]/\1/' |
    sort -u) || true
  [ -n "$bad" ] || return 1
  echo "start_knot.sh: Knot rejected fixture zone file(s):" >&2
  for name in $bad; do echo "  $zones/$name.zone" >&2; done
  echo "Knot's complaints:" >&2
  grep -E "(error|warning):" "$run/knot.log" | sed "s#$run/zones/#$zones/#g" >&2 || true
  return 0
}

soa_queries=()
for name in "${names[@]}"; do soa_queries+=("$name." SOA); done

deadline=$((SECONDS + ${KNOT_START_TIMEOUT:-20}))
while :; do
  if ! kill -0 "$pid" 2>/dev/null || grep -q "^State:.*zombie" "/proc/$pid/status" 2>/dev/null; then
    echo "start_knot.sh: knotd exited during start-up; its log:" >&2
    cat "$run/knot.log" >&2
    exit 1
  fi
  if rejected; then stop; exit 1; fi
  # Another server took the port after the check above: what answers there may not be us.
  if grep -q "cannot bind address" "$run/knot.log"; then stop; taken; fi
  # Ready when the first zone answers over TCP, then every zone's SOA (one kdig, over TCP).
  if "$kdig" +tcp +time=1 +retry=0 @127.0.0.1 -p "$port" "${names[0]}." SOA 2>/dev/null |
    grep -q "status: NOERROR"; then
    answered=$("$kdig" +tcp +time=1 +retry=0 @127.0.0.1 -p "$port" "${soa_queries[@]}" \
      2>/dev/null | grep -c "status: NOERROR" || true)
    if [ "$answered" -eq ${#names[@]} ]; then
      sleep 0.2  # a late complaint about a zone still counts
      if rejected; then stop; exit 1; fi
      if grep -q "cannot bind address" "$run/knot.log"; then stop; taken; fi
      break
    fi
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "start_knot.sh: Knot did not serve all ${#names[@]} zones within" \
      "${KNOT_START_TIMEOUT:-20} s; its log:" >&2
    cat "$run/knot.log" >&2
    stop
    exit 1
  fi
  sleep 0.05
done

if [ -n "${KNOT_OWNER_PID:-}" ]; then
  # Stops knotd when the owner goes away without calling stop_knot.sh (a killed pytest).
  owner=$KNOT_OWNER_PID
  nohup bash -c '
    while kill -0 "$0" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
    if ! kill -0 "$0" 2>/dev/null; then exec bash "$2/stop_knot.sh" "$3"; fi
  ' "$owner" "$pid" "$here" "$run" < /dev/null > /dev/null 2>&1 &
  echo $! > "$run/watchdog.pid"
fi

echo "knot up on 127.0.0.1:$port (listen: $listen) serving ${#names[@]} zones, pid $pid"
