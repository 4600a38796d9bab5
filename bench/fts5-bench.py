#!/usr/bin/env python3
"""SQLite FTS5 on the same corpus and queries as `epilogue-bench search`, timed in-process.

usage: fts5-bench.py CORPUS.jsonl COUNT QUERIES.txt SECONDS
"""
import json, sqlite3, sys, time
corpus, count, queries, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
db = sqlite3.connect(":memory:")
db.execute("CREATE VIRTUAL TABLE t USING fts5(film, subject, reading, source, tokenize='porter unicode61 remove_diacritics 1')")  # as the store's index
rows = []
with open(corpus) as f:
    for i, line in enumerate(f):
        if i >= count: break
        r = json.loads(line)
        rows.append((i + 1, r["film"], r["subject"], r["reading"], r["source"]))
t0 = time.time(); db.executemany("INSERT INTO t(rowid, film, subject, reading, source) VALUES (?,?,?,?,?)", rows); db.commit(); load = time.time() - t0
qs = [l.strip() for l in open(queries) if l.strip()]
lat = []; done = 0; end = time.time() + seconds; start = time.time(); cpu = time.process_time()
while time.time() < end:
    for q in qs:
        m = " ".join('"' + w + '"' for w in q.split())
        a = time.perf_counter()
        db.execute("SELECT rowid, bm25(t), snippet(t, 2, '[', ']', '…', 12) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10", (m,)).fetchall()
        lat.append((time.perf_counter() - a) * 1e6); done += 1
el = time.time() - start; cpu = time.process_time() - cpu; lat.sort()
print(f"fts5: loaded {count} in {load:.1f}s; {done} queries {done/el:.0f} q/s p50 {lat[len(lat)//2]:.0f}us p99 {lat[len(lat)*99//100]:.0f}us")
print(f"RESULT bench=search engine=fts5 records={count} qps={done/el:.0f} p50_us={lat[len(lat)//2]:.0f} p99_us={lat[len(lat)*99//100]:.0f} cpu_qps={done/cpu:.0f}")
