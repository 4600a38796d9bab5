#!/usr/bin/env bash
# Epilogue's in-process SEARCH (`epilogue-bench search`: ranking, filter, snippets) next to Tantivy
# (bench/tantivy-bench.py, `pip install tantivy`) on the same corpus and query sets (plain,
# stemmed, phrase, prefix: bench/make-query-sets.py), one thread each. Prints each figure and the
# Epilogue/Tantivy ratio. A benchmark, not a test: on a shared machine, read the ratios, not the
# absolute rates.
#
#   bench/search-compare.sh [--count 10000] [--seconds 3] [--bin .build/release] [--data-dir DIR] [--results FILE]
#
# --data-dir: Epilogue opens this populated directory (`epilogue-bench populate` of the same
# corpus's first --count records) instead of loading the corpus through PUT first (at 1M records
# that load alone takes minutes). --results: also append every RESULT line (set=… engine=…) to FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=10000 SECS=3 BIN="" DATA_DIR="" RESULTS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --count) COUNT=$2; shift ;;
        --seconds) SECS=$2; shift ;;
        --bin) BIN=$2; shift ;;
        --data-dir) DATA_DIR=$2; shift ;;
        --results) RESULTS=$2; shift ;;
        *) echo "usage: bench/search-compare.sh [--count N] [--seconds S] [--bin DIR] [--data-dir DIR] [--results FILE]" >&2; exit 2 ;;
    esac
    shift
done
python3 -c 'import tantivy' 2>/dev/null || { echo "needs the tantivy Python package: pip install tantivy" >&2; exit 2; }
[ -d /usr/share/doc/debian-handbook/html/en-US ] || { echo "needs debian-handbook (the corpus prose): apt-get install debian-handbook" >&2; exit 2; }
if [ -z "$BIN" ]; then
    swift build -c release --product epilogue-bench 2>&1 | grep -E 'error|warning: ' || true
    BIN=$(swift build -c release --show-bin-path)
fi
CACHE=${EPILOGUE_BENCH_CACHE:-/tmp/epilogue-bench-cache}
mkdir -p "$CACHE"
CORPUS=$CACHE/corpus-$COUNT.jsonl QUERIES=$CACHE/queries-$COUNT.txt SETS=$CACHE/query-sets-$COUNT
[ -s "$CORPUS" ] || python3 bench/make-corpus.py "$COUNT" "$CORPUS"
[ -s "$QUERIES" ] || python3 bench/make-keys.py "$CORPUS" "$CACHE/ids-$COUNT.txt" "$QUERIES"
python3 bench/make-query-sets.py "$CORPUS" "$QUERIES" "$SETS"
OUT=$(mktemp /tmp/epilogue-search-compare.XXXXXX)
trap 'rm -f "$OUT" "$OUT.one"' EXIT
if [ -n "$DATA_DIR" ]; then FROM=(--data-dir "$DATA_DIR"); else FROM=(--corpus "$CORPUS" --count "$COUNT"); fi
for set in plain stemmed phrase prefix; do
    echo "== epilogue $set" >&2
    # (Not `tee /dev/stderr`: that reopens stderr and truncates a log file it is redirected to.)
    "$BIN/epilogue-bench" search "${FROM[@]}" --queries "$SETS/$set.txt" --seconds "$SECS" >"$OUT.one"
    cat "$OUT.one" >&2
    sed -n "s/^RESULT /RESULT set=$set snippets=1 /p" "$OUT.one" >>"$OUT"
done
echo "== tantivy" >&2
python3 bench/tantivy-bench.py "$CORPUS" "$COUNT" "$SECS" plain="$SETS/plain.txt" stemmed="$SETS/stemmed.txt" \
    phrase="$SETS/phrase.txt" prefix="$SETS/prefix.txt" >"$OUT.one"
cat "$OUT.one" >&2
grep '^RESULT ' "$OUT.one" >>"$OUT"
[ -z "$RESULTS" ] || cat "$OUT" >>"$RESULTS"
python3 - "$OUT" "$COUNT" <<'EOF'
import sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(sys.argv[1])]
def get(engine, s, snippets):
    return next((r for r in rows if r["engine"] == engine and r["set"] == s and r["snippets"] == snippets), None)
print(f"\nsearch, {sys.argv[2]} records, top 10, one thread in process (q/s; Epilogue always makes snippets)")
print(f"{'set':8} {'epilogue':>9} {'tantivy+snip':>13} {'tantivy':>8} {'ratio vs +snip':>15}")
for s in ("plain", "stemmed", "phrase", "prefix"):
    e, ts, tn = get("epilogue", s, "1"), get("tantivy", s, "1"), get("tantivy", s, "0")
    if e and ts and tn:
        print(f"{s:8} {e['qps']:>9} {ts['qps']:>13} {tn['qps']:>8} {int(e['qps']) / max(1, int(ts['qps'])):>14.2f}x")
t = get("tantivy", "plain", "1")
e = get("epilogue", "plain", "1")
if t and e:
    print(f"tantivy: build {t['build_rate']} records/s (one thread), index {t['index_mib']} MiB on disk, peak RSS {t['peak_rss_mib']} MiB")
    print(f"epilogue: peak RSS {e.get('peak_rss_mib', '?')} MiB (its load goes through PUT; see the 'loaded … in' line above)")
EOF
