#!/bin/bash
# Bytes on disk vs raw for a data directory populated through the store.
# usage: bench/storage-ratio.sh CORPUS.jsonl COUNT [DATA_DIR]   (release build of epilogue-bench and epilogue-store)
# Populates DATA_DIR through RecordStore (dictionary training on, as deployed), starts
# epilogue-store on it once so a re-compression pending from training runs, stops it, then
# prints raw body bytes against records.log + dictionary files (and the whole directory), and
# both against issue 15's targets (log + dictionaries <= raw / 2.6, whole directory <= raw / 2.0).
set -euo pipefail
corpus=$1; count=$2; dir=${3:-/tmp/epilogue-storage-ratio}
bin=$(dirname "$0")/../.build/release
rm -rf "$dir"
raw=$("$bin/epilogue-bench" populate --corpus "$corpus" --count "$count" --data-dir "$dir" | sed -n 's/.*RESULT.* raw_bytes=\([0-9]*\).*/\1/p')
"$bin/epilogue-store" --data-dir "$dir" --port 0 --metrics-port 0 --no-dataset > "$dir.log" 2>&1 &
pid=$!
for _ in $(seq 1 30); do grep -q "compacted the record log" "$dir.log" && break; sleep 1; done
kill "$pid"; wait "$pid" || true
records=$(stat -c %s "$dir/records.log")
dictionaries=$(cat "$dir"/dictionary-*.zdict 2>/dev/null | wc -c)
total=$(du -b -s "$dir" | cut -f1)
awk -v r="$raw" -v l="$records" -v d="$dictionaries" -v t="$total" -v n="$count" 'BEGIN {
  printf "records %d: raw %d bytes, records.log %d + dictionaries %d = %d bytes: raw / %.2f; whole directory (index snapshot included) %d: raw / %.2f\n", n, r, l, d, l + d, r / (l + d), t, r / t
  printf "targets: records.log + dictionaries <= raw / 2.6: %s; whole directory <= raw / 2.0: %s\n", (r / (l + d) >= 2.6 ? "met" : "MISSED"), (r / t >= 2.0 ? "met" : "MISSED")
  printf "RESULT bench=storage records=%d raw=%d log=%d dictionaries=%d ratio=%.3f directory=%d\n", n, r, l, d, r / (l + d), t }'
