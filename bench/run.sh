#!/usr/bin/env bash
# Reproduces docs/PERFORMANCE.md's tables in one command: Epilogue (gateway → store) next to Redis,
# memcached, SQLite and Tantivy, all on loopback, same record bytes.
#
#   bench/run.sh [--quick] [--sizes 10000,100000] [--repeat 3] [--seconds 5] [--warmup 1]
#                [--data N=DIR] [--cache-mb MB] [--no-tantivy]
#
# The headline cells (GET 64 × 1, GET 16 × 16, the 90/10 GET/PUT mix, durable PUT 64 × 1, SEARCH and
# FIND 16 × 1) run under linebench (../shared/tools/linebench, C and epoll: built into the cache
# directory when missing), against every system in turn within each repetition, so the ratios
# compare figures taken a few seconds apart. `epilogue-bench load` (HDR histogram) gives the latency
# percentiles of GET and PUT 64 × 1. Each cell runs --repeat times; medians are reported.
# --quick: 10k records, 1 repetition, 2 s cells, no Tantivy (a smoke run).
# --data N=DIR: serve size N from a copy of DIR (a directory `epilogue-bench populate` wrote from
# the same corpus) instead of loading it; above 100k records a populated directory is otherwise
# made once per commit and kept in the cache directory.
# --cache-mb MB: when the gateway has a record cache (`epilogue-gateway --cache-mb`), the GET and
# mix cells also run through a second gateway with that much cache (default 256): rows
# "epilogue+cache"; the plain gateway runs with --cache-mb 0.
# Writes bench/results/latest.jsonl (every run) and bench/results/latest.md (bench/report.py's
# tables) and docs/perf-*.png (its plots, when matplotlib is installed). Installs redis-server,
# memcached and debian-handbook when missing. Stops everything it started.
# Env: EPILOGUE_BENCH_PORT_BASE (17800), EPILOGUE_BENCH_CACHE (corpora, request files, linebench,
# populated directories: /tmp/epilogue-bench-cache), LINEBENCH (a linebench binary to use).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=10000,100000 REPEAT=3 SECS=5 WARMUP=1 QUICK=0 CACHE_MB=256 TANTIVY=1
declare -A DATA_FOR=()
usage() { echo "usage: bench/run.sh [--quick] [--sizes N,N] [--repeat N] [--seconds S] [--warmup S] [--data N=DIR] [--cache-mb MB] [--no-tantivy]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 SIZES=10000 REPEAT=1 SECS=2 WARMUP=0.5 TANTIVY=0 ;;
        --sizes) SIZES=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        --seconds) SECS=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --data) [[ "$2" == *=* ]] || usage; DATA_FOR[${2%%=*}]=${2#*=}; shift ;;
        --cache-mb) CACHE_MB=$2; shift ;;
        --no-tantivy) TANTIVY=0 ;;
        *) usage ;;
    esac
    shift
done

BASE=${EPILOGUE_BENCH_PORT_BASE:-17800}
GW_PORT=$BASE STORE_PORT=$((BASE + 1)) REDIS_PORT=$((BASE + 2)) MC_PORT=$((BASE + 3)) GW_CACHE_PORT=$((BASE + 4))
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
command -v cc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
for port in $GW_PORT $STORE_PORT $REDIS_PORT $MC_PORT $GW_CACHE_PORT; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "port $port is in use; set EPILOGUE_BENCH_PORT_BASE" >&2; exit 2; fi
done
if [ -z "${LINEBENCH:-}" ]; then
    LINEBENCH=$CACHE/linebench
    [ -x "$LINEBENCH" ] || sh "$ROOT/../shared/tools/linebench/build.sh" "$LINEBENCH" >&2
fi
if [ "$TANTIVY" = 1 ] && ! python3 -c 'import tantivy' 2>/dev/null; then
    echo "no tantivy Python package (pip install tantivy): the Tantivy comparison is skipped" >&2
    TANTIVY=0
fi

log "release build"
swift build -c release 2>&1 | grep -E 'error|warning: |Compiling|Build' | tail -5
BIN=$(swift build -c release --show-bin-path)
HAS_CACHE=0
"$BIN/epilogue-gateway" --help 2>&1 | grep -q -- '--cache-mb' && HAS_CACHE=1

PIDS=()
STORE_PID="" GW_PID="" GW_CACHE_PID=""
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
# The plain gateway (no record cache) and, when the gateway has one, a second gateway with it.
start_gateways() {
    local flags=()
    [ "$HAS_CACHE" = 1 ] && flags=(--cache-mb 0)
    "$BIN/epilogue-gateway" --host 127.0.0.1 --port "$GW_PORT" --store "127.0.0.1:$STORE_PORT" --metrics-port 0 \
        --log-level warning "${flags[@]}" >>"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_for 30 "$BIN/epilogue-gateway" --check --host 127.0.0.1 --port "$GW_PORT"
    if [ "$HAS_CACHE" = 1 ]; then
        "$BIN/epilogue-gateway" --host 127.0.0.1 --port "$GW_CACHE_PORT" --store "127.0.0.1:$STORE_PORT" --metrics-port 0 \
            --log-level warning --cache-mb "$CACHE_MB" >>"$WORK/gateway-cache.log" 2>&1 &
        GW_CACHE_PID=$!
        PIDS+=("$GW_CACHE_PID")
        wait_for 30 "$BIN/epilogue-gateway" --check --host 127.0.0.1 --port "$GW_CACHE_PORT"
        # The cache serves once the store has answered its TRACK.
        wait_for 30 cache_serving
    fi
}
cache_serving() { [ "$(stat_value gateway_cache "$GW_CACHE_PORT")" = serving ]; }
stop_gateways() {
    kill -TERM "$GW_PID" ${GW_CACHE_PID:+"$GW_CACHE_PID"} 2>/dev/null || true
    wait "$GW_PID" ${GW_CACHE_PID:+"$GW_CACHE_PID"} 2>/dev/null || true
    GW_CACHE_PID=""
}
# Appends one figure line to the results: size, cell, system, client, repetition, then a JSON object.
record() { printf '{"size":%s,"cell":"%s","system":"%s","client":"%s","rep":%s,"result":%s}\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$RESULTS"; }
# A `RESULT k=v k=v` payload (linebench, epilogue-bench search, fts5-bench.py) as JSON.
kv_json() { python3 -c 'import json, sys; print(json.dumps({k: (float(v) if v.replace(".", "", 1).isdigit() else v) for k, v in (p.split("=", 1) for p in sys.argv[1].split())}))' "$1"; }
gateway_stats() {  # STATS through the gateway (on port $1, the plain one without) as name value lines
    exec 3<>/dev/tcp/127.0.0.1/${1:-$GW_PORT}
    printf 'STATS\r\nQUIT\r\n' >&3
    tr -d '\r' <&3
    exec 3<&-
}
stat_value() { gateway_stats "${2:-}" | awk -v n="$1" '$1 == n || $1 == n":" { print $2; exit }'; }
rss_json() { python3 -c 'import json, sys; print(json.dumps({l.split(":")[0]: int(l.split()[1]) * 1024 for l in open(f"/proc/{sys.argv[1]}/status") if l.startswith(("VmHWM", "VmRSS"))}))' "$1"; }

# linebench's arguments for one cell on one system (LB), or nothing when that pair is not run.
lb_args() {
    local cell=$1 system=$2 port=$GW_PORT
    [ "$system" = epilogue+cache ] && port=$GW_CACHE_PORT
    LB=()
    case "$cell/$system" in
        get-*/epilogue*) LB=(--port "$port" --until-line . --cmd 'GET {k}' --keyfile "$IDS") ;;
        get-*/redis) LB=(--port "$REDIS_PORT" --redis --cmd 'GET {k}' --keyfile "$IDS") ;;
        get-*/memcached) LB=(--port "$MC_PORT" --until-line END --cmd 'get {k}' --keyfile "$IDS") ;;
        mix-*/epilogue*) LB=(--port "$port" --until-line . --cmd '{k}' --keyfile "$REQS/mix-epilogue.txt") ;;
        mix-*/redis) LB=(--port "$REDIS_PORT" --redis --cmd '{k}' --keyfile "$REQS/mix-redis.txt") ;;
        put-*/epilogue) LB=(--port "$port" --until-line . --cmd '{k}' --keyfile "$REQS/put-epilogue.txt") ;;
        put-*/redis) LB=(--port "$REDIS_PORT" --redis --cmd '{k}' --keyfile "$REQS/put-redis.txt") ;;
        search-*/epilogue) LB=(--port "$port" --until-line . --cmd '{k}' --keyfile "$REQS/search-epilogue.txt") ;;
        find-*/epilogue) LB=(--port "$port" --until-line . --cmd 'FIND film=Whiplash limit=10' --keys 1) ;;
        *) return 0 ;;
    esac
    case "$cell" in
        *-64x1) LB+=(--conns 64) ;;
        *-16x16) LB+=(--conns 16 --pipeline 16) ;;
        *-16x1) LB+=(--conns 16) ;;
    esac
}
# One cell for several systems, --repeat times, the systems taking turns within each repetition:
# matrix SIZE CELL SYSTEM…
matrix() {
    local size=$1 cell=$2; shift 2
    local rep system line status
    for rep in $(seq 1 "$REPEAT"); do
        for system in "$@"; do
            lb_args "$cell" "$system"
            [ ${#LB[@]} -gt 0 ] || continue
            status=0
            line=$("$LINEBENCH" --warmup "$WARMUP" --duration "$SECS" --quiet "${LB[@]}" | sed -n 's/^RESULT //p') || status=$?
            [ $status -eq 0 ] || echo "!!! $size $cell $system run $rep: linebench exited $status" >&2
            if [ -n "$line" ]; then
                echo "$size $cell $system #$rep: $line" >&2
                record "$size" "$cell" "$system" linebench "$rep" "$(kv_json "$line")"
            fi
        done
    done
}
# Latency percentiles from `epilogue-bench load` (HDR histogram, p50 to max) of GET and PUT
# 64 × 1, Epilogue and Redis taking turns: percentiles SIZE
percentiles() {
    local size=$1 rep line status
    for rep in $(seq 1 "$REPEAT"); do
        for spec in "get-64x1 epilogue" "get-64x1 redis" "put-64x1 epilogue" "put-64x1 redis"; do
            set -- $spec
            local args=()
            case "$1/$2" in
                get-64x1/epilogue) args=(--port "$GW_PORT" --cmd 'GET {id}' --keyfile "$IDS") ;;
                get-64x1/redis) args=(--protocol redis --port "$REDIS_PORT" --cmd 'GET {id}' --keyfile "$IDS") ;;
                put-64x1/epilogue) args=(--port "$GW_PORT" --cmd 'PUT {record}' --corpus "$PUT_CORPUS" --corpus-records "$PUT_RECORDS") ;;
                put-64x1/redis) args=(--protocol redis --port "$REDIS_PORT" --cmd 'SET {id} {json}' --corpus "$PUT_CORPUS" --corpus-records "$PUT_RECORDS") ;;
            esac
            status=0
            line=$(result_of "$BIN/epilogue-bench" load --warmup "$WARMUP" --duration "$SECS" --conns 64 \
                --label "$size/$1/$2/$rep" "${args[@]}") || status=$?
            [ $status -eq 0 ] || echo "!!! $size $1 $2 load run $rep exited $status (errors are in its RESULT line)" >&2
            [ -n "$line" ] && record "$size" "$1" "$2" load "$rep" "$line"
        done
    done
}
# Waits (at most $1 s) until the store's log stops changing for 3 s: training and its re-compression
# done, so the storage figures are the store's settled state.
wait_settled() {
    local deadline=$((SECONDS + $1)) last="" now same=0
    while [ $SECONDS -lt $deadline ] && [ $same -lt 3 ]; do
        now=$(stat_value store_log_bytes)
        if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
        sleep 1
    done
}

HAS_POPULATE=0
"$BIN/epilogue-bench" populate --help >/dev/null 2>&1 && HAS_POPULATE=1

# Redis (append-only, fsync every write: the durable-SET peer) and memcached, once for all sizes.
mkdir -p "$WORK/redis"
# No automatic AOF rewrite: a background rewrite of the whole data set would land in some cells.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
    --auto-aof-rewrite-percentage 0 --dir "$WORK/redis" --daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
memcached -p "$MC_PORT" -l 127.0.0.1 -U 0 -m 8192 -u root >"$WORK/memcached.log" 2>&1 &
PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MC_PORT"

IFS=, read -ra SIZE_LIST <<<"$SIZES"
MAIN_COMMIT=$(git rev-parse --short HEAD)
record 0 run machine none 1 "$(python3 -c 'import json,os,sys; print(json.dumps({"commit": sys.argv[1], "date": sys.argv[2], "cpus": os.cpu_count(), "repeat": int(sys.argv[3]), "seconds": float(sys.argv[4]), "warmup": float(sys.argv[5]), "quick": sys.argv[6] == "1", "load_average": open("/proc/loadavg").read().split()[:3], "cache_mb": int(sys.argv[7]) if sys.argv[8] == "1" else None}))' "$MAIN_COMMIT" "$(date -u +%FT%TZ)" "$REPEAT" "$SECS" "$WARMUP" "$QUICK" "$CACHE_MB" "$HAS_CACHE")"

EPILOGUE=(epilogue)
[ "$HAS_CACHE" = 1 ] && EPILOGUE+=(epilogue+cache)

for N in "${SIZE_LIST[@]}"; do
    CORPUS=$CACHE/corpus-$N.jsonl IDS=$CACHE/ids-$N.txt QUERIES=$CACHE/queries-$N.txt
    if [ ! -s "$CORPUS" ]; then log "corpus $N"; python3 bench/make-corpus.py "$N" "$CORPUS"; fi
    [ -s "$QUERIES" ] || python3 bench/make-keys.py "$CORPUS" "$IDS" "$QUERIES"
    JSON_BYTES=$(head -n "$N" "$CORPUS" | wc -c)
    DATA=$WORK/store-$N
    # PUT cells write a new version of a random one of the first 20k records (the request files
    # hold them; the mix's GETs draw from every id).
    PUT_RECORDS=$((N < 20000 ? N : 20000))
    # SQLite writes ~200-1,500 records/s here: 2,000 of them are enough for its rate.
    SQLITE_RECORDS=2000
    REQS=$CACHE/requests-$N
    [ -s "$REQS/mix-redis.txt" ] || python3 bench/make-requests.py "$CORPUS" "$IDS" "$PUT_RECORDS" "$REQS"
    # epilogue-bench load reads its whole --corpus file (a minute at 1M): its PUT cells get the head.
    PUT_CORPUS=$REQS/corpus-head.jsonl
    [ -s "$PUT_CORPUS" ] || head -n "$PUT_RECORDS" "$CORPUS" >"$PUT_CORPUS"
    sed 's/^/SEARCH /; s/$/ limit=10/' "$QUERIES" >"$REQS/search-epilogue.txt"
    rm -rf "$DATA"

    log "$N records: loading the store"
    SOURCE=${DATA_FOR[$N]:-}
    if [ -z "$SOURCE" ] && [ "$HAS_POPULATE" = 1 ] && [ "$N" -gt 100000 ]; then
        # Per commit: a directory written by other code may not be what this build reads fastest
        # (a snapshot it does not accept is rebuilt at start, which the restart figure would count).
        SOURCE=$CACHE/data-$N-$MAIN_COMMIT
        if [ ! -s "$SOURCE/records.log" ]; then
            log "populating $SOURCE once (kept for later runs)"
            rm -rf "$SOURCE.partial"
            "$BIN/epilogue-bench" populate --corpus "$CORPUS" --count "$N" --data-dir "$SOURCE.partial"
            mv "$SOURCE.partial" "$SOURCE"
        fi
    fi
    if [ -n "$SOURCE" ]; then
        cp -r "$SOURCE" "$DATA"
        start_store "$DATA"; start_gateways
    else
        start_store "$DATA"; start_gateways
        line=$(result_of "$BIN/epilogue-bench" load --port "$GW_PORT" --once --cmd 'PUT {record}' --corpus "$CORPUS" \
            --corpus-records "$N" --conns 64 --label "$N/load/epilogue") || true
        record "$N" load epilogue load 1 "$line"
    fi
    log "$N records: loading Redis and memcached"
    # Loading is not measured: Redis fsyncs only from the cells on.
    redis-cli -p "$REDIS_PORT" CONFIG SET appendfsync no >/dev/null
    python3 bench/load-peers.py "$CORPUS" "$N" "$REDIS_PORT" "$MC_PORT"
    redis-cli -p "$REDIS_PORT" CONFIG SET appendfsync always >/dev/null

    # Restart to serving and memory, then storage, before the PUT cells add versions.
    log "$N records: settle, restart to serving, storage"
    wait_settled 120
    before=$(rss_json "$STORE_PID")
    stop_gateways
    stop_store
    t0=$(date +%s.%N)
    start_store "$DATA"
    t1=$(date +%s.%N)
    # Its CPU time too: on a loaded machine wall time is mostly the neighbours.
    cpu=$(awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$STORE_PID/stat")
    after=$(rss_json "$STORE_PID")
    start_gateways
    RAW=$(stat_value store_raw_bytes)
    LOG=$(stat -c %s "$DATA/records.log")
    DICTS=$(cat "$DATA"/dictionary-*.zdict 2>/dev/null | wc -c)
    record "$N" restart epilogue none 1 "{\"seconds\":$(python3 -c "print(round($t1 - $t0, 3))"),\"cpu_seconds\":$cpu,\"after_load\":$before,\"after_restart\":$after}"
    record "$N" storage epilogue none 1 "{\"disk_bytes\":$(du -sb "$DATA" | cut -f1),\"log_bytes\":$LOG,\"dictionary_bytes\":$DICTS,\"raw_bytes\":$RAW,\"json_bytes\":$JSON_BYTES,\"records\":$(stat_value store_records)}"

    record "$N" loadavg machine none 1 "$(python3 -c 'import json; print(json.dumps({"load_average": open("/proc/loadavg").read().split()[:3]}))')"
    log "$N records: GET (linebench)"
    matrix "$N" get-64x1 "${EPILOGUE[@]}" redis memcached
    matrix "$N" get-16x16 "${EPILOGUE[@]}" redis memcached
    if [ "$HAS_CACHE" = 1 ]; then
        # How much the GET cells above found in the cache (uniform random ids: a cache smaller
        # than the records holds only a share of them).
        record "$N" cache-stats epilogue+cache none 1 "$(python3 -c 'import json, sys; print(json.dumps(dict(zip(("hits", "misses", "records", "bytes", "cache_mb"), map(int, sys.argv[1:])))))' \
            "$(stat_value gateway_cache_hits "$GW_CACHE_PORT")" "$(stat_value gateway_cache_misses "$GW_CACHE_PORT")" \
            "$(stat_value gateway_cache_records "$GW_CACHE_PORT")" "$(stat_value gateway_cache_bytes "$GW_CACHE_PORT")" "$CACHE_MB")"
    fi
    log "$N records: FIND, SEARCH (linebench)"
    matrix "$N" find-16x1 epilogue
    matrix "$N" search-16x1 epilogue
    log "$N records: the 90/10 mix and durable PUT (linebench; fsync always, Redis appendfsync always)"
    matrix "$N" mix-64x1 "${EPILOGUE[@]}" redis
    matrix "$N" put-64x1 epilogue redis
    # SQLite's durable write (table + FTS5, WAL, synchronous=FULL, a transaction per record), the
    # second peer of the durable-PUT target; printed, never asserted.
    line=$(result_of python3 bench/sqlite-put-bench.py "$CORPUS" "$SQLITE_RECORDS" "$WORK/sqlite") || true
    [ -n "$line" ] && record "$N" put-durable sqlite none 1 "$(kv_json "$line")"
    rm -rf "$WORK/sqlite"
    log "$N records: latency percentiles (epilogue-bench load)"
    percentiles "$N"
    record "$N" rss epilogue none 1 "$(rss_json "$STORE_PID")"
    stop_gateways
    stop_store

    # In-process search opens the store's directory (the corpus, with new versions of the same
    # records from the PUT cells) rather than loading the corpus again.
    log "$N records: search in-process"
    line=$(result_of "$BIN/epilogue-bench" search --data-dir "$DATA" --queries "$QUERIES" --seconds "$SECS") || true
    [ -n "$line" ] && record "$N" search-inproc epilogue none 1 "$(kv_json "$line")"
    if [ "$N" -le 100000 ]; then
        line=$(result_of python3 bench/fts5-bench.py "$CORPUS" "$N" "$QUERIES" "$SECS") || true
        [ -n "$line" ] && record "$N" search-inproc fts5 none 1 "$(kv_json "$line")"
    fi
    if [ "$TANTIVY" = 1 ] && [ "$N" -ge 100000 ]; then  # the targets are set at 100k and 1M
        log "$N records: search in-process by query set, Epilogue vs Tantivy"
        : >"$WORK/search-sets"
        bench/search-compare.sh --count "$N" --seconds "$SECS" --bin "$BIN" --data-dir "$DATA" --results "$WORK/search-sets" >&2 \
            || echo "!!! search-compare.sh at $N failed" >&2
        while read -r line; do
            set_json=$(kv_json "${line#RESULT }")
            engine=$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["engine"] + ("" if r.get("snippets", 1) in (1, "1") else "-nosnippets"))' "$set_json")
            record "$N" "search-$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["set"])' "$set_json")" "$engine" none 1 "$set_json"
        done <"$WORK/search-sets"
    fi
    rm -rf "$DATA"
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null 2>&1 || true
    printf 'flush_all\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MC_PORT; cat >&3; head -1 <&3" >/dev/null || true
done

PLOT_PY=python3
python3 -c 'import matplotlib' 2>/dev/null || { /usr/bin/python3 -c 'import matplotlib' 2>/dev/null && PLOT_PY=/usr/bin/python3; }
"$PLOT_PY" bench/report.py "$RESULTS" --plots docs >"$OUT/latest.md"
log "done: $OUT/latest.md, plots docs/perf-*.png"
cat "$OUT/latest.md"
