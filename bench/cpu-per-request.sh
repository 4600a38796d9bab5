#!/usr/bin/env bash
# CPU per request of a running store and gateway, and the store's writes per fsync, around one
# load run (the "CPU per request" and "writes share an fsync" figures of docs/PERFORMANCE.md).
#
#   bench/cpu-per-request.sh STORE_PID GATEWAY_PID GATEWAY_PORT -- LOAD_COMMAND...
#
# Give the load `--warmup 0`: every request it sends must be one it counts. Example, against the
# processes of bench/serve-existing.sh (or of a paused bench/run.sh):
#
#   bench/cpu-per-request.sh "$(pgrep -n epilogue-store)" "$(pgrep -n epilogue-gateway)" 7700 -- \
#       .build/release/epilogue-bench load --port 7700 --cmd 'GET {id}' --keyfile ids.txt \
#       --conns 64 --warmup 0 --duration 6 --quiet
#
# Prints the load's RESULT line, then: requests, store µs/request, gateway µs/request (utime +
# stime from /proc/PID/stat), and writes, fsyncs and writes per fsync from the store's STATS.
set -euo pipefail
[ $# -ge 5 ] && [ "$4" = "--" ] || { echo "usage: $0 STORE_PID GATEWAY_PID GATEWAY_PORT -- LOAD_COMMAND..." >&2; exit 2; }
store_pid=$1 gateway_pid=$2 port=$3
shift 4
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
stat() { printf 'STATS\n' | nc -q1 127.0.0.1 "$port" | awk -v k="store_$1" '$1 == k {print $2}'; }
store_before=$(cpu "$store_pid") gateway_before=$(cpu "$gateway_pid")
writes_before=$(stat writes) fsyncs_before=$(stat fsyncs)
output=$("$@")
printf '%s\n' "$output"
result=$(printf '%s\n' "$output" | sed -n 's/^RESULT //p')
store_after=$(cpu "$store_pid") gateway_after=$(cpu "$gateway_pid")
writes_after=$(stat writes) fsyncs_after=$(stat fsyncs)
ops=$(printf '%s' "$result" | python3 -c 'import json, sys; print(json.load(sys.stdin)["ops"])')
python3 - "$ops" "$ticks" "$store_before" "$store_after" "$gateway_before" "$gateway_after" \
    "$writes_before" "$writes_after" "$fsyncs_before" "$fsyncs_after" <<'PY'
import sys
ops, ticks, sb, sa, gb, ga, wb, wa, fb, fa = (float(x or 0) for x in sys.argv[1:])
per = lambda before, after: (after - before) / ticks / max(ops, 1) * 1e6
writes, fsyncs = wa - wb, fa - fb
print(f"requests {int(ops)}; store {per(sb, sa):.1f} µs CPU/request; gateway {per(gb, ga):.1f} µs CPU/request; "
      f"writes {int(writes)}, fsyncs {int(fsyncs)}, writes per fsync {writes / fsyncs if fsyncs else float('nan'):.1f}")
PY
