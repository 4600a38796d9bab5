#!/usr/bin/env bash
# SEARCH as served: an existing data directory behind a real store and gateway (record cache off),
# then linebench SEARCH 16 x 1 (the bench/run.sh cell), REPS x SECS s, with the store's and the
# gateway's CPU per SEARCH from /proc; then SEARCH 16 x 1 and GET 16 x 1 at the same time (two
# linebench), for what a SEARCH costs the GETs beside it. Prints one line per run with the load.
#
# usage: bench/search-served.sh BIN_DIR DATA_DIR REQUESTS IDS [REPS] [SECS]
#   REQUESTS: one SEARCH line per line (bench/run.sh writes $CACHE/requests-N/search-epilogue.txt)
#   IDS: one record id per line ($CACHE/ids-N.txt); LINEBENCH=… another linebench binary
set -euo pipefail
bin=$1; data=$2; reqs=$3; ids=$4; reps=${5:-2}; secs=${6:-10}
lb=${LINEBENCH:-/tmp/epilogue-bench-cache/linebench}
sp=${PORT_BASE:-17870}; gp=$((sp + 1))
"$bin/epilogue-store" --port "$sp" --data-dir "$data" --fsync always --metrics-port 0 --log-level error --no-dictionary-training &
store=$!
trap 'kill -TERM ${gateway:-} $store 2>/dev/null; wait 2>/dev/null' EXIT
until "$bin/epilogue-store" --check --port "$sp" >/dev/null 2>&1; do sleep 0.5; done
"$bin/epilogue-gateway" --port "$gp" --store "127.0.0.1:$sp" --metrics-port 0 --log-level error --cache-mb 0 &
gateway=$!
until [ "$(printf 'PING\r\n' | nc -q1 127.0.0.1 "$gp" 2>/dev/null | head -n1 | tr -d '\r')" = "OK PONG" ]; do sleep 0.5; done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { grep -o 'ops=[0-9.]* p50_us=[0-9.]* p99_us=[0-9.]*' <<<"$1"; }
"$lb" --port "$gp" --until-line . --cmd '{k}' --keyfile "$reqs" --conns 4 --duration 5 --quiet >/dev/null   # warm-up
for run in $(seq 1 "$reps"); do
    load=$(cut -d' ' -f1 /proc/loadavg); s0=$(cpu $store); g0=$(cpu $gateway)
    out=$("$lb" --port "$gp" --until-line . --cmd '{k}' --keyfile "$reqs" --conns 16 --duration "$secs" --quiet)
    s1=$(cpu $store); g1=$(cpu $gateway)
    n=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
    ticks=$(getconf CLK_TCK)
    echo "run $run SEARCH 16x1: $(field "$out") requests=$n store_cpu_us_per_search=$(( (s1 - s0) * 1000000 / ticks / n )) gateway_cpu_us_per_search=$(( (g1 - g0) * 1000000 / ticks / n )) load=$load"
done
for run in $(seq 1 "$reps"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    tmp=$(mktemp)
    "$lb" --port "$gp" --until-line . --cmd '{k}' --keyfile "$reqs" --conns 16 --duration "$secs" --quiet >"$tmp" &
    searches=$!
    gets=$("$lb" --port "$gp" --until-line . --cmd 'GET {k}' --keyfile "$ids" --conns 16 --duration "$secs" --quiet)
    wait $searches
    echo "run $run SEARCH 16x1 + GET 16x1 at once: SEARCH $(field "$(cat "$tmp")"); GET $(field "$gets") load=$load"
    rm -f "$tmp"
done
