#!/bin/bash
# Data in and out (issue 18): bulk import (epilogue-store import, and IMPORT through the gateway) vs
# pipelined PUT vs `redis-cli --pipe` of the same bytes, online backup time and size, EXPORT rate
# (binary, and through the gateway), and restore to serving from the backup, with its index snapshot
# and without (as before backups carried one: the first start rebuilds the indexes). Figures are
# printed, never asserted.
# usage: bench/data-in-out.sh [COUNT] [BUILD]   COUNT records (default 10000), BUILD debug|release (default release)
# env:   CORPUS=FILE   use the first COUNT lines of this JSON-lines corpus (e.g. bench/make-corpus.py's)
#                      instead of generating one;  REPS=N  repetitions (default 1; medians are printed)
#        SKIP=put,redis,...  leave steps out (import, gateway-import, put, redis, backup, restore, export)
#        RESTORE_PORT=N  the restore step's stores listen on N + repetition (default 7790; bench/restart.sh
#                        needs a fixed port): set it apart when two runs overlap
# Starts its own stores (port 0, --no-dataset, --fsync always), gateways and Redis in a temporary
# directory and stops them. On a shared 2-core machine keep COUNT small, or read the load average
# printed with the figures.
set -euo pipefail
count=${1:-10000}; build=${2:-release}; reps=${REPS:-1}; skip=",${SKIP:-},"
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/.build/$build}
base=$(mktemp -d /tmp/epilogue-data-in-out.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap 'cleanup; rm -rf "$base"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
wanted() { [[ "$skip" != *",$1,"* ]]; }
# figure NAME VALUE UNIT NOTE: one measured figure of this repetition
figure() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$base/figures.tsv"; printf '  %-22s %12s %-10s %s\n' "$1" "$2" "$3" "$4"; }

start_store() {  # DIR NAME: a store on DIR in the background, its port in $work/NAME.port
  "$bin/epilogue-store" --data-dir "$1" --port 0 --metrics-port 0 --no-dataset --log-level error \
      --port-file "$work/$2.port" > /dev/null 2> "$work/$2.log" & pids+=($!)
  for _ in $(seq 1 600); do [ -s "$work/$2.port" ] && break; sleep 0.1; done
}
start_gateway() {  # NAME STORE-PORT: a gateway in the background, its port in $work/NAME.port
  "$bin/epilogue-gateway" --store "127.0.0.1:$2" --port 0 --metrics-port 0 --log-level error --port-file "$work/$1.port" \
      --request-timeout-ms 60000 --max-line 1048576 > /dev/null 2> "$work/$1.log" & pids+=($!)
  for _ in $(seq 1 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
  sleep 0.5  # its store connections
}
port_of() { sed -n 's/^port=//p' "$work/$1.port"; }

records="$base/records.jsonl"
if [ -n "${CORPUS:-}" ]; then
  head -n "$count" "$CORPUS" > "$records"
else
  python3 - "$count" > "$records" <<'PY'
import json, random, sys
random.seed(18)
words = "dream sacrifice love jazz paris montage ending grief memory choice city light door kiss song".split()
for i in range(int(sys.argv[1])):
    reading = " ".join(random.choice(words) for _ in range(random.randint(40, 160))).capitalize() + "."
    print(json.dumps({"id": f"bench/{i:07d}", "film": random.choice(["La La Land", "A Real Pain", "Past Lives"]),
                      "year": 2016, "director": "Damien Chazelle", "subject": "epilogue", "reading": reading,
                      "source": "bench", "sourceKind": "critic", "themes": ["what-if"]}, separators=(",", ":")))
PY
fi
count=$(wc -l < "$records")
bytes=$(stat -c %s "$records")
python3 - "$records" > "$base/puts.txt" <<'PY'
import json, sys
def q(s): return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
for line in open(sys.argv[1]):
    r = json.loads(line)
    themes = ",".join(r["themes"])
    print(f'PUT {r["id"]} film={q(r["film"])} year={r["year"]} director={q(r["director"])} subject={q(r["subject"])} '
          f'reading={q(r["reading"])} source={q(r["source"])} sourceKind={r["sourceKind"]} themes={themes}')
print("QUIT")
PY
python3 - "$records" > "$base/redis.resp" <<'PY'
import json, sys
out = sys.stdout.buffer
for line in open(sys.argv[1], "rb"):
    line = line.rstrip(b"\n"); key = json.loads(line)["id"].encode()
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(line), line))
PY
echo "records: $count, $bytes bytes of JSON lines ($build build at $(git -C "$root" rev-parse --short HEAD), --fsync always, $reps repetition(s))"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

for rep in $(seq 1 "$reps"); do
  work="$base/rep$rep"; mkdir -p "$work"
  echo "repetition $rep:"
  # 1. epilogue-store import (IMPORT batches of 1000 records, one fsync each) into an empty store.
  start_store "$work/a" a; a=$(port_of a)
  if wanted import; then
    t0=$(now); "$bin/epilogue-store" import "$records" --store "127.0.0.1:$a" > "$work/import.out"; t1=$(now)
    figure import "$(rate "$count" "$t0" "$t1")" records/s "epilogue-store import FILE ($(secs "$t0" "$t1") s)"
  fi
  # 2. IMPORT through the gateway, from nc, into another empty store (the same batches).
  if wanted gateway-import; then
    start_store "$work/c" c; start_gateway gc "$(port_of c)"
    t0=$(now); (echo IMPORT; cat "$records"; echo .; echo QUIT) | nc -N 127.0.0.1 "$(port_of gc)" > "$work/gimport.out"; t1=$(now)
    grep -q '^OK imported' "$work/gimport.out" || { echo "gateway IMPORT failed: $(head -c 300 "$work/gimport.out")"; }
    figure gateway-import "$(rate "$count" "$t0" "$t1")" records/s "(echo IMPORT; cat FILE; echo .) | nc -N ($(secs "$t0" "$t1") s; $(head -1 "$work/gimport.out" | tr -d '\r'))"
  fi
  # 3. Pipelined PUT of the same records through a gateway (one PUT line each, all sent at once).
  start_store "$work/b" b; start_gateway gb "$(port_of b)"; g=$(port_of gb)
  if wanted put; then
    t0=$(now); nc -N 127.0.0.1 "$g" < "$base/puts.txt" > "$work/puts.out" || echo "nc failed (status $?)"; t1=$(now)
    ok=$(grep -c '^OK .* version ' "$work/puts.out" || true)
    figure pipelined-put "$(rate "$count" "$t0" "$t1")" records/s "nc < PUT lines ($(secs "$t0" "$t1") s, $ok acknowledged)"
  fi
  # 4. redis-cli --pipe of the same bytes (SET id json), appendfsync always.
  if wanted redis && command -v redis-server > /dev/null && command -v redis-cli > /dev/null; then
    redis-server --port 0 --unixsocket "$work/redis.sock" --appendonly yes --appendfsync always --dir "$work" --save '' > /dev/null & pids+=($!)
    for _ in $(seq 1 50); do [ -S "$work/redis.sock" ] && break; sleep 0.1; done
    t0=$(now); redis-cli -s "$work/redis.sock" --pipe < "$base/redis.resp" > /dev/null; t1=$(now)
    figure redis-pipe "$(rate "$count" "$t0" "$t1")" records/s "redis-cli --pipe, appendfsync always ($(secs "$t0" "$t1") s)"
  fi
  # 5. Online backup of the imported store.
  if wanted backup && wanted import; then
    t0=$(now); "$bin/epilogue-store" backup --store "127.0.0.1:$a" --to "$work/backup" > "$work/backup.out"; t1=$(now)
    figure backup-time "$(secs "$t0" "$t1")" s "epilogue-store backup ($(cat "$work/backup.out"))"
    figure backup-size "$(du -sm "$work/backup" | cut -f1)" MiB "du -sm of the backup directory (JSON lines: $((bytes / 1048576)) MiB)"
  fi
  # 5b. Restore to serving (bench/restart.sh: start the store on the copy, until it answers PING;
  # CPU seconds of the store process): the backup as taken (its manifest checked, then its index
  # snapshot loaded), and a second backup with its index.snapshot deleted (what a backup without
  # one costs: the manifest check, then a rebuild of the indexes from the log).
  if wanted restore && wanted backup && wanted import; then
    restore() {  # NAME DIR NOTE
      local out; out=$("$root/bench/restart.sh" "$2" "$bin/epilogue-store" "$((${RESTORE_PORT:-7790} + rep))" | tail -2)
      figure "$1" "$(echo "$out" | sed -n 's/.* cpu_seconds=\([0-9.]*\).*/\1/p')" "CPU s" \
             "$3: $(echo "$out" | head -1 | sed 's/^restart to serving: //')"
    }
    restore restore-snapshot "$work/backup" "from the backup with its index.snapshot"
    "$bin/epilogue-store" backup --store "127.0.0.1:$a" --to "$work/backup2" > /dev/null
    rm "$work/backup2/index.snapshot"
    restore restore-rebuild "$work/backup2" "the same without index.snapshot (rebuild)"
    rm -rf "$work/backup2"
  fi
  # 6. EXPORT: binary (epilogue-bench export: streamed, inflated, not written out) and through the gateway.
  if wanted export && wanted import; then
    out=$("$bin/epilogue-bench" export --store "127.0.0.1:$a")
    figure binary-export "$(echo "$out" | sed -n 's/.*s, \([0-9]*\) records\/s.*/\1/p')" records/s "epilogue-bench export ($out)"
    start_gateway ga "$a"
    t0=$(now); printf 'EXPORT\nQUIT\n' | nc -N 127.0.0.1 "$(port_of ga)" > "$work/export.out" || echo "nc failed (status $?)"; t1=$(now)
    lines=$(grep -c '^{' "$work/export.out" || true)
    figure gateway-export "$(rate "$lines" "$t0" "$t1")" records/s "printf 'EXPORT\\n' | nc -N ($(secs "$t0" "$t1") s, $lines lines, $(stat -c %s "$work/export.out") bytes)"
  fi
  cleanup; pids=()
  rm -rf "$work"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| figure | median | unit | each repetition |"
echo "|---|---|---|---|"
python3 - "$base/figures.tsv" <<'PY'
import statistics, sys
figures = {}
for line in open(sys.argv[1]):
    name, value, unit, _ = line.rstrip("\n").split("\t", 3)
    if value:
        figures.setdefault((name, unit), []).append(float(value))
for (name, unit), values in figures.items():
    print(f"| {name} | {statistics.median(values):g} | {unit} | {', '.join(f'{v:g}' for v in values)} |")
PY
