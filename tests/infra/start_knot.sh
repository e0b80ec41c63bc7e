#!/usr/bin/env bash
# start_knot.sh RUN_DIR ZONE_DIR PORT
# Serves every ZONE_DIR/*.zone (zone name = file name without .zone) from a copy in RUN_DIR,
# on 127.0.0.1@PORT, UDP and TCP. Waits until every zone answers; fails loudly (with Knot's log)
# when Knot does not start or rejects a zone file, naming the file.
set -euo pipefail
run=$(realpath -m "$1"); zones=$(realpath "$2"); port=$3
KNOTD=$(command -v knotd || echo /usr/sbin/knotd)
mkdir -p "$run/zones" "$run/db" "$run/rundir"
cp "$zones"/*.zone "$run/zones/"
{
  echo "server:"
  echo "    rundir: \"$run/rundir\""
  echo "    listen: [ 127.0.0.1@$port ]"
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
  echo "zone:"
  for f in "$run"/zones/*.zone; do
    echo "  - domain: \"$(basename "$f" .zone).\""
  done
} > "$run/knot.conf"
"$KNOTD" -c "$run/knot.conf" > "$run/knot.log" 2>&1 &
echo $! > "$run/knot.pid"
total=$(ls "$run"/zones/*.zone | wc -l)
for _ in $(seq 1 200); do
  if ! kill -0 "$(cat "$run/knot.pid")" 2>/dev/null; then
    echo "knotd exited; log:" >&2; cat "$run/knot.log" >&2; exit 1
  fi
  if grep -qiE "zone file parser failed|failed to load|\[error\]" "$run/knot.log"; then
    echo "Knot rejected a fixture zone:" >&2
    grep -iE "error|failed" "$run/knot.log" >&2
    kill "$(cat "$run/knot.pid")" 2>/dev/null || true
    exit 1
  fi
  loaded=$(grep -c "loaded, serial" "$run/knot.log" || true)
  if [ "$loaded" -ge "$total" ] && \
     kdig +tcp +time=1 +retry=0 @127.0.0.1 -p "$port" "$(basename "$(ls "$run"/zones/*.zone | head -1)" .zone)" SOA 2>/dev/null | grep -q "status: NOERROR"; then
    echo "knot up on 127.0.0.1:$port serving $total zones (pid $(cat "$run/knot.pid"))"
    exit 0
  fi
  sleep 0.05
done
echo "knot did not come up within 10 s; log:" >&2; cat "$run/knot.log" >&2
kill "$(cat "$run/knot.pid")" 2>/dev/null || true
exit 1
