#!/usr/bin/env bash
# Restart to serving: starts the real epilogue-store on an existing data directory (filled by
# `epilogue-bench populate`), times until it answers PING, then prints its memory and CPU time.
#
# usage: bench/restart.sh DATA_DIR [STORE_BINARY] [PORT]
set -euo pipefail
dir=$1
store=${2:-.build/release/epilogue-store}
port=${3:-7791}
start=$(date +%s.%N)
"$store" --data-dir "$dir" --port "$port" --metrics-port 0 --log-level info >"/tmp/restart-$port.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
until "$store" --check --port "$port" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "store exited:"; cat "/tmp/restart-$port.log"; exit 1; }
    sleep 0.05
done
ready=$(date +%s.%N)
read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
ticks=$(getconf CLK_TCK)
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
records=$(grep -o 'records=[0-9]*' "/tmp/restart-$port.log" | head -1 | cut -d= -f2)
phases=$(grep -o 'from_snapshot=[a-z]* index_ms=[0-9]*.*snapshot_ms=[0-9]*' "/tmp/restart-$port.log" | head -1 || true)
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
wall=$(awk -v a="$start" -v b="$ready" 'BEGIN {print b - a}')
cpu=$(awk -v u="$utime" -v s="$stime" -v t="$ticks" 'BEGIN {print (u + s) / t}')
printf 'restart to serving: %.2f s wall, %.2f s CPU; RSS %d MiB, peak %d MiB; %s\n' "$wall" "$cpu" $((rss / 1024)) $((hwm / 1024)) "$phases"
printf 'RESULT bench=restart records=%s seconds=%.2f cpu_seconds=%.2f rss_kib=%d peak_rss_kib=%d\n' "${records:-?}" "$wall" "$cpu" "$rss" "$hwm"
