#!/usr/bin/env python3
"""SQLite as a durable record store, the peer issue 15 names for PUT: a table plus an FTS5 index
over the same fields, WAL journal, synchronous=FULL, one record per transaction (each commit is
fsync'ed before the next write starts). One writer, in-process: no network, no client.

usage: sqlite-put-bench.py CORPUS.jsonl COUNT DIR
"""
import json, os, sqlite3, sys, time
corpus, count, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(directory, exist_ok=True)
path = os.path.join(directory, "records.db")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(path + suffix): os.remove(path + suffix)
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE records (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
db.execute("CREATE VIRTUAL TABLE search USING fts5(film, subject, reading, source, tokenize='porter unicode61 remove_diacritics 1')")
rows = []
with open(corpus) as f:
    for i, line in enumerate(f):
        if i >= count: break
        r = json.loads(line)
        rows.append((r["id"], line.strip(), r["film"], r["subject"], r["reading"], r["source"]))
lat = []
start = time.time(); cpu = time.process_time()
for id, body, film, subject, reading, source in rows:
    a = time.perf_counter()
    db.execute("BEGIN")
    cur = db.execute("INSERT OR REPLACE INTO records(id, body) VALUES (?, ?)", (id, body))
    db.execute("INSERT INTO search(rowid, film, subject, reading, source) VALUES (?,?,?,?,?)",
               (cur.lastrowid, film, subject, reading, source))
    db.execute("COMMIT")
    lat.append((time.perf_counter() - a) * 1e6)
el = time.time() - start; cpu = time.process_time() - cpu; lat.sort(); n = len(lat)
db.close()
print(f"sqlite durable put: {n} records, one per transaction, {n/el:.0f} writes/s p50 {lat[n//2]:.0f}us p99 {lat[n*99//100]:.0f}us, "
      f"{cpu/n*1e6:.0f}us CPU/write")
print(f"RESULT bench=put engine=sqlite records={n} ops_per_s={n/el:.0f} p50_us={lat[n//2]:.0f} p99_us={lat[n*99//100]:.0f} cpu_us_per_write={cpu/n*1e6:.0f}")
