#!/usr/bin/env bash
# Two gateway builds side by side on one store ("Gateway text path" in docs/PERFORMANCE.md):
# GET 64 x 1 through each (--cache-mb 0, and 256 after a warm-up) with the gateway's and the store's
# CPU per GET (utime + stime from /proc, as bench/cpu-per-request.sh), Redis GET beside them, and
# each gateway's EXPORT of a larger directory (records/s, gateway CPU per record; outputs compared
# byte for byte). Before the timed cells, 300 GETs in text and JSON, a FIND, FILMS and THEMES are
# sent to both gateways and their answers compared.
#
#   bench/gateway-ab.sh BEFORE_BIN AFTER_BIN GET_DIR IDS_FILE CORPUS EXPORT_DIR [REPS] [SECONDS]
#
# BEFORE_BIN holds epilogue-store, epilogue-gateway and epilogue-bench (the store and the binary
# export run from it); AFTER_BIN an epilogue-gateway. GET_DIR and EXPORT_DIR are data directories
# (`epilogue-bench populate`; copied first), IDS_FILE their ids, CORPUS the JSON lines loaded into
# Redis. LINEBENCH: a linebench binary (default /tmp/epilogue-bench-cache/linebench, as bench/run.sh
# builds it). Ports 17940-17963.
set -euo pipefail
[ $# -ge 6 ] || { sed -n 2,18p "$0" >&2; exit 2; }
before=$1 after=$2 getdir=$3 ids=$4 corpus=$5 exportdir=$6 reps=${7:-2} secs=${8:-4}
lb=${LINEBENCH:-/tmp/epilogue-bench-cache/linebench}
work=$(mktemp -d /tmp/gateway-ab.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)
per() { awk -v c="$1" -v n="$2" -v t="$ticks" 'BEGIN { printf "%.1f", c * 1e6 / t / n }'; }  # CPU ticks per request, in µs
start_store() {  # DIR PORT
  "$before/epilogue-store" --port "$2" --data-dir "$1" --fsync always --metrics-port 0 --log-level error \
      --no-dictionary-training --no-dataset & store=$!; pids+=("$store")
  until (exec 3<>/dev/tcp/127.0.0.1/"$2") 2>/dev/null; do sleep 0.2; done
}
declare -A gw port
start_gateway() {  # NAME BIN PORT STORE_PORT CACHE_MB
  "$2/epilogue-gateway" --port "$3" --store "127.0.0.1:$4" --metrics-port 0 --log-level error --cache-mb "$5" \
      --request-timeout-ms 60000 & gw[$1]=$!; port[$1]=$3; pids+=($!)
  until [ "$(printf 'PING\r\n' | nc -q1 127.0.0.1 "$3" 2>/dev/null | head -n1 | tr -d '\r')" = "OK PONG" ]; do sleep 0.2; done
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# GET
cp -a "$getdir" "$work/get"
start_store "$work/get" 17941
start_gateway before "$before" 17942 17941 0; start_gateway after "$after" 17943 17941 0
start_gateway before-cache "$before" 17944 17941 256; start_gateway after-cache "$after" 17945 17941 256
redis-server --port 17946 --save '' --appendonly no > /dev/null & pids+=($!)
until redis-cli -p 17946 ping > /dev/null 2>&1; do sleep 0.1; done
python3 - "$corpus" > "$work/redis.resp" <<'PY'
import json, sys
out = sys.stdout.buffer
for line in open(sys.argv[1], "rb"):
    line = line.rstrip(b"\n"); key = json.loads(line)["id"].encode()
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(line), line))
PY
redis-cli -p 17946 --pipe < "$work/redis.resp" > /dev/null
{ head -300 "$ids" | sed 's/^/GET /'; echo 'FORMAT json'; head -300 "$ids" | sed 's/^/GET /'
  echo 'FIND limit=50'; echo FILMS; echo THEMES; echo QUIT; } > "$work/commands"
nc -N 127.0.0.1 17942 < "$work/commands" > "$work/before.answers"
nc -N 127.0.0.1 17943 < "$work/commands" > "$work/after.answers"
if cmp -s "$work/before.answers" "$work/after.answers"; then echo "answers: the same bytes ($(wc -c < "$work/after.answers"))"
else echo "answers DIFFER: $(cmp "$work/before.answers" "$work/after.answers" || true)"; fi
for name in before-cache after-cache; do
  "$lb" --port "${port[$name]}" --until-line . --cmd 'GET {k}' --keyfile "$ids" --conns 8 --duration 2 --warmup 0 --quiet > /dev/null
done
for rep in $(seq 1 "$reps"); do
  for name in before after before-cache after-cache; do
    s0=$(cpu "$store"); g0=$(cpu "${gw[$name]}")
    out=$("$lb" --port "${port[$name]}" --until-line . --cmd 'GET {k}' --keyfile "$ids" --conns 64 --duration "$secs" --warmup 0 --quiet)
    s1=$(cpu "$store"); g1=$(cpu "${gw[$name]}")
    n=$(echo "$out" | grep -o 'requests=[0-9]*' | cut -d= -f2)
    echo "GET rep $rep $name: $(echo "$out" | grep -o 'ops=[0-9.]*\|p99_us=[0-9.]*' | tr '\n' ' ')gateway $(per $((g1 - g0)) "$n") µs/GET, store $(per $((s1 - s0)) "$n") µs/GET, load $(cut -d' ' -f1 /proc/loadavg)"
  done
  echo "GET rep $rep redis: $("$lb" --port 17946 --redis --cmd 'GET {k}' --keyfile "$ids" --conns 64 --duration "$secs" --warmup 1 --quiet | grep -o 'ops=[0-9.]*') load $(cut -d' ' -f1 /proc/loadavg)"
done
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null || true; pids=()

# EXPORT
cp -a "$exportdir" "$work/export"
start_store "$work/export" 17961
start_gateway before "$before" 17962 17961 0; start_gateway after "$after" 17963 17961 0
for rep in $(seq 1 "$reps"); do
  echo "EXPORT rep $rep binary: $("$before/epilogue-bench" export --store 127.0.0.1:17961 2>&1 | tail -1)"
  for name in before after; do
    g0=$(cpu "${gw[$name]}"); t0=$(date +%s.%N)
    printf 'EXPORT\nQUIT\n' | nc -N 127.0.0.1 "${port[$name]}" > "$work/$name.export"
    t1=$(date +%s.%N); g1=$(cpu "${gw[$name]}")
    n=$(grep -c '^{' "$work/$name.export")
    echo "EXPORT rep $rep $name: $n records, $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s, %.0f records/s", b - a, n / (b - a) }'), gateway $(per $((g1 - g0)) "$n") µs/record, load $(cut -d' ' -f1 /proc/loadavg)"
  done
  if cmp -s "$work/before.export" "$work/after.export"; then echo "EXPORT rep $rep: the same bytes ($(wc -c < "$work/after.export"))"; else echo "EXPORT rep $rep: outputs DIFFER"; fi
done
