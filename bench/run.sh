#!/usr/bin/env bash
# Reproduces docs/PERFORMANCE.md's table in one command: Epilogue (gateway → store) next to Redis,
# memcached and SQLite FTS5, all on loopback, same record bytes, same client (`epilogue-bench load`).
#
#   bench/run.sh [--quick] [--sizes 10000,100000] [--repeat 3] [--seconds 5] [--warmup 1]
#
# --quick: 10k records, 1 repetition, 2 s cells (a smoke run). Each cell is run --repeat times and
# the median is reported. Writes bench/results/latest.jsonl (every run) and bench/results/latest.md
# (the table). Installs redis-server, memcached and debian-handbook (the corpus prose) when
# missing. Stops everything it started. Env: EPILOGUE_BENCH_PORT_BASE (17800),
# EPILOGUE_BENCH_CACHE (corpora, /tmp/epilogue-bench-cache), LINEBENCH (a built
# ../shared/tools/linebench: adds the cross-check cells).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=10000,100000 REPEAT=3 SECS=5 WARMUP=1 QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 SIZES=10000 REPEAT=1 SECS=2 WARMUP=0.5 ;;
        --sizes) SIZES=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        --seconds) SECS=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        *) echo "usage: bench/run.sh [--quick] [--sizes N,N] [--repeat N] [--seconds S] [--warmup S]" >&2; exit 2 ;;
    esac
    shift
done

BASE=${EPILOGUE_BENCH_PORT_BASE:-17800}
GW_PORT=$BASE STORE_PORT=$((BASE + 1)) REDIS_PORT=$((BASE + 2)) MC_PORT=$((BASE + 3))
CACHE=${EPILOGUE_BENCH_CACHE:-/tmp/epilogue-bench-cache}
WORK=$(mktemp -d /tmp/epilogue-bench-run.XXXXXX)
OUT=$ROOT/bench/results
mkdir -p "$CACHE" "$OUT"
RESULTS=$OUT/latest.jsonl
: > "$RESULTS"
log() { printf '\n== %s  %s\n' "$(date +%H:%M:%S)" "$*"; }
# Runs a command, shows its output, prints its RESULT line's payload; keeps the exit status.
# (Not `tee /dev/stderr`: that reopens stderr and truncates a log file it is redirected to.)
result_of() {
    local status=0
    "$@" >"$WORK/out" 2>&1 || status=$?
    cat "$WORK/out" >&2
    sed -n 's/^RESULT //p' "$WORK/out"
    return $status
}

# --- what it needs --------------------------------------------------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v memcached >/dev/null || missing+=(memcached)
[ -d /usr/share/doc/debian-handbook/html/en-US ] || missing+=(debian-handbook)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
for port in $GW_PORT $STORE_PORT $REDIS_PORT $MC_PORT; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "port $port is in use; set EPILOGUE_BENCH_PORT_BASE" >&2; exit 2; fi
done

log "release build"
swift build -c release 2>&1 | grep -E 'error|warning: |Compiling|Build' | tail -5
BIN=$(swift build -c release --show-bin-path)

PIDS=()
STORE_PID="" GW_PID=""
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until a command succeeds (a health check), at most $1 seconds.
wait_for() {
    local limit=$1; shift
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
        sleep 0.05
    done
}
start_store() {  # $1 data dir
    "$BIN/epilogue-store" --host 127.0.0.1 --port "$STORE_PORT" --data-dir "$1" --fsync always --no-dataset \
        --metrics-port 0 --log-level warning >>"$WORK/store.log" 2>&1 &
    STORE_PID=$!
    PIDS+=("$STORE_PID")
    # Listening first (a refused connect fails at once; --check against a closed port waits
    # seconds before giving up), then answering PING.
    wait_for 600 bash -c "exec 3<>/dev/tcp/127.0.0.1/$STORE_PORT"
    wait_for 60 "$BIN/epilogue-store" --check --host 127.0.0.1 --port "$STORE_PORT"
}
stop_store() {
    kill -TERM "$STORE_PID" 2>/dev/null || true
    wait "$STORE_PID" 2>/dev/null || true
}
start_gateway() {
    "$BIN/epilogue-gateway" --host 127.0.0.1 --port "$GW_PORT" --store "127.0.0.1:$STORE_PORT" --metrics-port 0 \
        --log-level warning >>"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_for 30 "$BIN/epilogue-gateway" --check --host 127.0.0.1 --port "$GW_PORT"
}
stop_gateway() {
    kill -TERM "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || true
}
# Appends one figure line to the results: size, cell, system, then a JSON object.
record() { printf '{"size":%s,"cell":"%s","system":"%s","rep":%s,"result":%s}\n' "$1" "$2" "$3" "${4:-1}" "$5" >>"$RESULTS"; }

# Runs one load cell --repeat times: cell SIZE NAME SYSTEM load-args…
cell() {
    local size=$1 name=$2 system=$3; shift 3
    local rep line status
    for rep in $(seq 1 "$REPEAT"); do
        status=0
        line=$(result_of "$BIN/epilogue-bench" load --warmup "$WARMUP" --duration "$SECS" --label "$size/$name/$system/$rep" "$@") || status=$?
        [ $status -eq 0 ] || echo "!!! $name/$system run $rep exited $status (errors are in its RESULT line)" >&2
        [ -n "$line" ] && record "$size" "$name" "$system" "$rep" "$line"
    done
}
# A `RESULT k=v k=v` payload (linebench, epilogue-bench search, fts5-bench.py) as JSON.
kv_json() { python3 -c 'import json, sys; print(json.dumps({k: (float(v) if v.replace(".", "", 1).isdigit() else v) for k, v in (p.split("=", 1) for p in sys.argv[1].split())}))' "$1"; }
# The cross-check: the same cell with linebench (whose RESULT is key=value), --repeat times.
linebench_cell() {
    local size=$1 name=$2 system=$3; shift 3
    [ -n "${LINEBENCH:-}" ] || return 0
    local rep line
    for rep in $(seq 1 "$REPEAT"); do
        line=$("$LINEBENCH" --warmup "$WARMUP" --duration "$SECS" --quiet "$@" | sed -n 's/^RESULT //p') || true
        [ -n "$line" ] && record "$size" "$name" "$system" "$rep" "$(kv_json "$line")"
    done
}
# The same without the cross-check (sizes after the first).
noxcell() {
    local size=$1 name=$2 system=$3; shift 3
    while [ "$1" != "--" ]; do shift; done
    shift
    cell "$size" "$name" "$system" "$@"
}
# A cell whose every repetition is followed at once by the same cell under linebench, so the two
# clients see the same machine: xcell SIZE NAME SYSTEM LINEBENCH-ARGS… -- LOAD-ARGS…
xcell() {
    local size=$1 name=$2 system=$3; shift 3
    local lb=()
    while [ "$1" != "--" ]; do lb+=("$1"); shift; done
    shift
    local repeat=$REPEAT rep
    for rep in $(seq 1 "$repeat"); do
        REPEAT=1 cell "$size" "$name" "$system" "$@"
        REPEAT=1 linebench_cell "$size" "$name" "linebench-$system" "${lb[@]}"
    done
}
gateway_stats() {  # STATS through the gateway as name value lines
    exec 3<>/dev/tcp/127.0.0.1/$GW_PORT
    printf 'STATS\r\nQUIT\r\n' >&3
    tr -d '\r' <&3
    exec 3<&-
}
stat_value() { gateway_stats | awk -v n="$1" '$1 == n || $1 == n":" { print $2; exit }'; }

HAS_POPULATE=0
"$BIN/epilogue-bench" populate --help >/dev/null 2>&1 && HAS_POPULATE=1

# Redis (append-only, fsync every write: the durable-SET peer) and memcached, once for all sizes.
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
    --dir "$WORK/redis" --daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
memcached -p "$MC_PORT" -l 127.0.0.1 -U 0 -m 8192 -u root >"$WORK/memcached.log" 2>&1 &
PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MC_PORT"

IFS=, read -ra SIZE_LIST <<<"$SIZES"
LARGEST=$(printf '%s\n' "${SIZE_LIST[@]}" | sort -n | tail -1)
MAIN_COMMIT=$(git rev-parse --short HEAD)
record 0 run machine 1 "$(python3 -c 'import json,os,sys; print(json.dumps({"commit": sys.argv[1], "date": sys.argv[2], "cpus": os.cpu_count(), "repeat": int(sys.argv[3]), "seconds": float(sys.argv[4]), "warmup": float(sys.argv[5]), "quick": sys.argv[6] == "1", "populate": sys.argv[7] == "1"}))' "$MAIN_COMMIT" "$(date -u +%FT%TZ)" "$REPEAT" "$SECS" "$WARMUP" "$QUICK" "$HAS_POPULATE")"

for N in "${SIZE_LIST[@]}"; do
    CORPUS=$CACHE/corpus-$N.jsonl IDS=$CACHE/ids-$N.txt QUERIES=$CACHE/queries-$N.txt
    if [ ! -s "$CORPUS" ]; then log "corpus $N"; python3 bench/make-corpus.py "$N" "$CORPUS"; fi
    [ -s "$QUERIES" ] || python3 bench/make-keys.py "$CORPUS" "$IDS" "$QUERIES"
    JSON_BYTES=$(head -n "$N" "$CORPUS" | wc -c)
    DATA=$WORK/store-$N
    # PUT cells draw their "new version of a random record" from the first 20k (parsing the whole
    # corpus per run would cost more than the run).
    PUT_RECORDS=$((N < 20000 ? N : 20000))
    rm -rf "$DATA"

    log "$N records: loading the store"
    if [ "$HAS_POPULATE" = 1 ] && [ "$N" -gt 100000 ]; then
        "$BIN/epilogue-bench" populate --corpus "$CORPUS" --count "$N" --data-dir "$DATA"
        start_store "$DATA"; start_gateway
    else
        start_store "$DATA"; start_gateway
        line=$(result_of "$BIN/epilogue-bench" load --port "$GW_PORT" --once --cmd 'PUT {record}' --corpus "$CORPUS" \
            --corpus-records "$N" --conns 64 --label "$N/load/epilogue") || true
        record "$N" load epilogue 1 "$line"
    fi
    log "$N records: loading Redis and memcached"
    "$BIN/epilogue-bench" load --protocol redis --port "$REDIS_PORT" --once --cmd 'SET {id} {json}' --corpus "$CORPUS" \
        --corpus-records "$N" --conns 16 --pipeline 16 --quiet >/dev/null
    "$BIN/epilogue-bench" load --protocol memcached --port "$MC_PORT" --once --cmd 'set {id} 0 0 {jsonlen}\r\n{json}' \
        --corpus "$CORPUS" --corpus-records "$N" --conns 16 --pipeline 16 --quiet >/dev/null

    # Storage before the PUT cells add versions: the whole data directory vs the raw record bytes.
    sleep 1
    record "$N" storage epilogue 1 "{\"disk_bytes\":$(du -sb "$DATA" | cut -f1),\"raw_bytes\":$(stat_value store_raw_bytes),\"json_bytes\":$JSON_BYTES,\"records\":$(stat_value store_records)}"

    log "$N records: GET"
    if [ "$N" = "${SIZE_LIST[0]}" ]; then X=xcell; else X=noxcell; fi
    $X "$N" get-64x1 epilogue --port "$GW_PORT" --until-line . --cmd 'GET {k}' --keyfile "$IDS" --conns 64 \
        -- --port "$GW_PORT" --cmd 'GET {id}' --keyfile "$IDS" --conns 64
    $X "$N" get-64x1 redis --port "$REDIS_PORT" --redis --cmd 'GET {k}' --keyfile "$IDS" --conns 64 \
        -- --protocol redis --port "$REDIS_PORT" --cmd 'GET {id}' --keyfile "$IDS" --conns 64
    cell "$N" get-64x1 memcached --protocol memcached --port "$MC_PORT" --cmd 'get {id}' --keyfile "$IDS" --conns 64
    cell "$N" get-16x16 epilogue --port "$GW_PORT" --cmd 'GET {id}' --keyfile "$IDS" --conns 16 --pipeline 16
    $X "$N" get-16x16 redis --port "$REDIS_PORT" --redis --cmd 'GET {k}' --keyfile "$IDS" --conns 16 --pipeline 16 \
        -- --protocol redis --port "$REDIS_PORT" --cmd 'GET {id}' --keyfile "$IDS" --conns 16 --pipeline 16
    cell "$N" get-16x16 memcached --protocol memcached --port "$MC_PORT" --cmd 'get {id}' --keyfile "$IDS" --conns 16 --pipeline 16
    log "$N records: FIND, SEARCH"
    cell "$N" find-16x1 epilogue --port "$GW_PORT" --cmd 'FIND film=Whiplash limit=10' --conns 16
    cell "$N" search-16x1 epilogue --port "$GW_PORT" --cmd 'SEARCH {query} limit=10' --queries "$QUERIES" --conns 16
    log "$N records: PUT (fsync always) and the 90/10 mix"
    cell "$N" put-64x1 epilogue --port "$GW_PORT" --cmd 'PUT {record}' --corpus "$CORPUS" --corpus-records "$PUT_RECORDS" --conns 64
    cell "$N" put-64x1 redis --protocol redis --port "$REDIS_PORT" --cmd 'SET {id} {json}' --corpus "$CORPUS" --corpus-records "$PUT_RECORDS" --conns 64
    # SQLite's durable write (table + FTS5, WAL, synchronous=FULL, a transaction per record), the
    # second peer of the durable-PUT target; printed, never asserted.
    line=$(result_of python3 bench/sqlite-put-bench.py "$CORPUS" "$PUT_RECORDS" "$WORK/sqlite") || true
    [ -n "$line" ] && record "$N" put-durable sqlite 1 "$(kv_json "$line")"
    rm -rf "$WORK/sqlite"
    cell "$N" mix-64x1 epilogue --port "$GW_PORT" --cmd 'GET {id}' --cmd 'PUT {record}' --weights 90,10 --keyfile "$IDS" \
        --corpus "$CORPUS" --corpus-records "$PUT_RECORDS" --conns 64
    cell "$N" mix-64x1 redis --protocol redis --port "$REDIS_PORT" --cmd 'GET {id}' --cmd 'SET {id} {json}' --weights 90,10 \
        --keyfile "$IDS" --corpus "$CORPUS" --corpus-records "$PUT_RECORDS" --conns 64

    if [ "$N" = "$LARGEST" ]; then
        log "$N records: store RSS, restart to serving"
        rss() { python3 -c 'import json, sys; print(json.dumps({l.split(":")[0]: int(l.split()[1]) * 1024 for l in open(f"/proc/{sys.argv[1]}/status") if l.startswith(("VmHWM", "VmRSS"))}))' "$STORE_PID"; }
        before=$(rss)
        stop_gateway
        stop_store
        t0=$(date +%s.%N)
        start_store "$DATA"
        t1=$(date +%s.%N)
        record "$N" restart epilogue 1 "{\"seconds\":$(python3 -c "print(round($t1 - $t0, 3))"),\"disk_bytes\":$(du -sb "$DATA" | cut -f1),\"after_load\":$before,\"after_restart\":$(rss)}"
        stop_store
    else
        stop_gateway
        stop_store
    fi
    rm -rf "$DATA"

    log "$N records: search in-process, the store's path vs SQLite FTS5"
    line=$(result_of "$BIN/epilogue-bench" search --corpus "$CORPUS" --count "$N" --queries "$QUERIES" --seconds "$SECS")
    record "$N" search-inproc epilogue 1 "$(kv_json "$line")"
    line=$(result_of python3 bench/fts5-bench.py "$CORPUS" "$N" "$QUERIES" "$SECS")
    record "$N" search-inproc fts5 1 "$(kv_json "$line")"
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null 2>&1 || true
    printf 'flush_all\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MC_PORT; cat >&3; head -1 <&3" >/dev/null || true
done

python3 bench/report.py "$RESULTS" >"$OUT/latest.md"
log "done: $OUT/latest.md"
cat "$OUT/latest.md"
