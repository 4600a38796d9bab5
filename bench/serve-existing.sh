#!/usr/bin/env bash
# GET and SEARCH through the gateway against an existing data directory (e.g. the 1M one written
# by `epilogue-bench populate`), with linebench: restart to serving, RSS, then 3 × 5 s of each cell.
#   bench/serve-existing.sh DATA_DIR IDS_FILE QUERIES_FILE [LINEBENCH]
# The directory is copied first (the store may compact it). Extra store flags: STORE_FLAGS
# (the 1M figures in docs/PERFORMANCE.md used --no-dictionary-training: that directory predates
# trained dictionaries, and training 1M records would run during the cells).
set -euo pipefail
data=$1; ids=$2; queries=$3; linebench=${4:-${LINEBENCH:-/tmp/linebench}}
bin=$(cd "$(dirname "$0")/.." && pwd)/.build/release
store_port=${STORE_PORT:-17811}; gateway_port=${GATEWAY_PORT:-17810}
copy=$(mktemp -d)/data
cp -r "$data" "$copy"
t0=$(date +%s.%N)
# shellcheck disable=SC2086
"$bin/epilogue-store" --port "$store_port" --data-dir "$copy" --fsync always --metrics-port 0 --log-level error ${STORE_FLAGS:-} &
store=$!
"$bin/epilogue-gateway" --port "$gateway_port" --store "127.0.0.1:$store_port" --metrics-port 0 --log-level error &
gateway=$!
trap 'kill -TERM $gateway $store 2>/dev/null; wait 2>/dev/null; rm -rf "$(dirname "$copy")"' EXIT
until [ "$(printf 'PING\r\n' | nc -q1 127.0.0.1 "$gateway_port" 2>/dev/null | head -n1 | tr -d '\r')" = "OK PONG" ]; do sleep 0.1; done
t1=$(date +%s.%N)
rss() { grep -E 'VmRSS|VmHWM' "/proc/$store/status" | tr -s ' \t' ' ' | tr '\n' ' '; }
echo "restart to serving (start -> PING through the gateway): $(python3 -c "print(round($t1 - $t0, 2))") s; store $(rss)"
searches=$(mktemp)
sed 's/^/SEARCH /; s/$/ limit=10/' "$queries" > "$searches"
for run in 1 2 3; do
    echo "run $run GET 64x1:    $("$linebench" --port "$gateway_port" --until-line . --cmd 'GET {k}' --keyfile "$ids" --conns 64 --duration 5 --quiet)"
    echo "run $run SEARCH 16x1: $("$linebench" --port "$gateway_port" --until-line . --cmd '{k}' --keyfile "$searches" --conns 16 --duration 5 --quiet)"
done
echo "store after the cells: $(rss)"
rm -f "$searches"
