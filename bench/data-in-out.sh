#!/bin/bash
# Data in and out (issue 18): bulk import vs pipelined PUT vs `redis-cli --pipe` of the same bytes,
# online backup time and size, EXPORT rate. Figures are printed, never asserted.
# usage: bench/data-in-out.sh [COUNT] [BUILD]   COUNT records (default 10000), BUILD debug|release (default release)
# Starts its own stores (port 0, --no-dataset, --fsync always) and a gateway in a temporary directory.
# On a shared 2-core machine keep COUNT small; the issue's 100k/1M figures need a quiet machine.
set -euo pipefail
count=${1:-10000}; build=${2:-release}
bin=$(cd "$(dirname "$0")/.." && pwd)/.build/$build
work=$(mktemp -d /tmp/epilogue-data-in-out.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

start_store() {  # name: starts it in the background (not in a subshell: its pid is kept), port in $work/name.port
  "$bin/epilogue-store" --data-dir "$work/$1" --port 0 --metrics-port 0 --no-dataset --log-level error \
      --port-file "$work/$1.port" > /dev/null 2> "$work/$1.log" & pids+=($!)
  for _ in $(seq 1 300); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
}
port_of() { sed -n 's/^port=//p' "$work/$1.port"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f s, %d records/s", b - a, n / (b - a) }'; }

python3 - "$count" > "$work/records.jsonl" <<'PY'
import json, random, sys
random.seed(18)
words = "dream sacrifice love jazz paris montage ending grief memory choice city light door kiss song".split()
for i in range(int(sys.argv[1])):
    reading = " ".join(random.choice(words) for _ in range(random.randint(40, 160))).capitalize() + "."
    print(json.dumps({"id": f"bench/{i:07d}", "film": random.choice(["La La Land", "A Real Pain", "Past Lives"]),
                      "year": 2016, "director": "Damien Chazelle", "subject": "epilogue", "reading": reading,
                      "source": "bench", "sourceKind": "critic", "themes": ["what-if"]}, separators=(",", ":")))
PY
bytes=$(stat -c %s "$work/records.jsonl")
echo "records: $count, $bytes bytes of JSON lines ($build build, --fsync always)"

# 1. Bulk import (IMPORT batches of 1000, one fsync each).
start_store import; a=$(port_of import)
t0=$(now); "$bin/epilogue-store" import "$work/records.jsonl" --store "127.0.0.1:$a" > "$work/import.out"; t1=$(now)
echo "import:         $(rate "$count" "$t0" "$t1")   ($(cat "$work/import.out"))"

# 2. Pipelined PUT of the same records through the gateway's text protocol (one PUT line each, all sent at once).
start_store put; b=$(port_of put)
"$bin/epilogue-gateway" --store "127.0.0.1:$b" --port 0 --metrics-port 0 --log-level error --port-file "$work/gw.port" \
    --request-timeout-ms 60000 > /dev/null 2> "$work/gw.log" & pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/gw.port" ] && break; sleep 0.1; done
g=$(sed -n 's/^port=//p' "$work/gw.port")
python3 - "$work/records.jsonl" > "$work/puts.txt" <<'PY'
import json, sys
def q(s): return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
for line in open(sys.argv[1]):
    r = json.loads(line)
    themes = ",".join(r["themes"])
    print(f'PUT {r["id"]} film={q(r["film"])} year={r["year"]} director={q(r["director"])} subject={q(r["subject"])} '
          f'reading={q(r["reading"])} source={q(r["source"])} sourceKind={r["sourceKind"]} themes={themes}')
print("QUIT")
PY
t0=$(now); nc -q 120 127.0.0.1 "$g" < "$work/puts.txt" > "$work/puts.out" || echo "nc failed (status $?)"; t1=$(now)
ok=$(grep -c '^OK .* version ' "$work/puts.out" || true)
echo "pipelined PUT:  $(rate "$count" "$t0" "$t1")   ($ok acknowledged, through the gateway)"

# 3. redis-cli --pipe of the same bytes (SET id json), when Redis is installed.
if command -v redis-server > /dev/null && command -v redis-cli > /dev/null; then
  redis-server --port 0 --unixsocket "$work/redis.sock" --appendonly yes --appendfsync always --dir "$work" --save '' > /dev/null & pids+=($!)
  sleep 0.5
  python3 - "$work/records.jsonl" > "$work/redis.resp" <<'PY'
import json, sys
out = sys.stdout.buffer
for line in open(sys.argv[1], "rb"):
    line = line.rstrip(b"\n"); key = json.loads(line)["id"].encode()
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(line), line))
PY
  t0=$(now); redis-cli -s "$work/redis.sock" --pipe < "$work/redis.resp" > /dev/null; t1=$(now)
  echo "redis --pipe:   $(rate "$count" "$t0" "$t1")   (appendfsync always)"
else
  echo "redis --pipe:   skipped: redis-server/redis-cli not installed here"
fi

# 4. Online backup of the imported store.
t0=$(now); "$bin/epilogue-store" backup --store "127.0.0.1:$a" --to "$work/backup" > "$work/backup.out"; t1=$(now)
echo "backup:         $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s", b - a }') wall   ($(cat "$work/backup.out"))"

# 5. EXPORT through the gateway (in front of the PUT store, which holds the same records).
t0=$(now); printf 'EXPORT\nQUIT\n' | nc -q 120 127.0.0.1 "$g" > "$work/export.out" || echo "nc failed (status $?)"; t1=$(now)
lines=$(grep -c '^{' "$work/export.out" || true)
echo "export:         $(rate "$lines" "$t0" "$t1")   ($lines JSON lines, $(stat -c %s "$work/export.out") bytes, through the gateway)"
