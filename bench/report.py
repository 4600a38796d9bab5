#!/usr/bin/env python3
"""The results table of bench/run.sh: medians of the repeated runs, ratios to the peer, targets.

usage: report.py RESULTS.jsonl > latest.md
"""
import json, statistics, sys
from collections import defaultdict

# cell, what, peer, target on ops/s ratio (None: no target), p99 bound in µs (None: none)
LOAD_ROWS = [
    ("get-64x1", "GET by random id, 64 conns × 1", "redis", 0.6, "2×peer"),
    ("get-16x16", "GET by random id, 16 conns × 16 pipelined", "redis", 0.5, "2×peer"),
    ("get-64x1", "GET by random id, 64 conns × 1", "memcached", None, None),
    ("get-16x16", "GET by random id, 16 conns × 16 pipelined", "memcached", None, None),
    ("put-64x1", "PUT a new version / Redis SET, 64 × 1, fsync always", "redis", 1.0, None),
    ("mix-64x1", "90 % GET / 10 % PUT, 64 × 1", "redis", None, None),
    ("find-16x1", "FIND film=… limit=10, 16 × 1", None, None, None),
    ("search-16x1", "SEARCH 1–3 words limit=10, 16 × 1", None, None, 10_000),
]

def main():
    runs = defaultdict(list)
    meta = {}
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        if row["cell"] == "run":
            meta = row["result"]
            continue
        runs[(row["size"], row["cell"], row["system"])].append(row["result"])
    sizes = sorted({size for size, _, _ in runs})
    med = lambda key, cell: statistics.median(r.get(key, 0) for r in cell)
    out = []
    out.append(f"Commit `{meta.get('commit')}`, {meta.get('date')}, {meta.get('cpus')} CPUs; each load cell "
               f"{meta.get('repeat')}× {meta.get('seconds')} s after {meta.get('warmup')} s warm-up, median shown"
               + (" (QUICK smoke run)" if meta.get("quick") else "") + ".\n")
    out.append("| records | workload | Epilogue ops/s | p50 / p99 ms | peer | peer ops/s | peer p99 ms | ratio | target |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    flagged = []
    for size in sizes:
        for cell, what, peer, target, p99_bound in LOAD_ROWS:
            ours = runs.get((size, cell, "epilogue"))
            if not ours:
                continue
            errors = sum(r.get("errors", 0) + r.get("conn_errors", 0) for r in ours)
            if errors:
                flagged.append(f"{size} {cell} epilogue: {errors} errors")
            for system in ("epilogue", peer):
                empty = sum(r.get("empty", 0) for r in runs.get((size, cell, system), []))
                if system and empty:
                    flagged.append(f"{size} {cell} {system}: {empty} empty replies (misses)")
            ops, p50, p99 = med("ops_per_s", ours), med("p50_us", ours) / 1000, med("p99_us", ours) / 1000
            ops_text = f"{ops:,.0f}" + (f" **({errors} errors)**" if errors else "")
            cells = [f"{size:,}", what, ops_text, f"{p50:.2f} / {p99:.2f}"]
            verdict = ""
            if peer and runs.get((size, cell, peer)):
                theirs = runs[(size, cell, peer)]
                perr = sum(r.get("errors", 0) + r.get("conn_errors", 0) for r in theirs)
                if perr:
                    flagged.append(f"{size} {cell} {peer}: {perr} errors")
                pops, pp99 = med("ops_per_s", theirs), med("p99_us", theirs) / 1000
                ratio = ops / pops if pops else 0
                if target is not None:
                    verdict = f"≥ {target}× — " + ("met" if ratio >= target else f"**missed** ({ratio / target:.0%} of it)")
                    if p99_bound == "2×peer":
                        verdict += f"; p99 ≤ 2× ({p99 / pp99:.1f}×)" if pp99 else ""
                cells += [peer, f"{pops:,.0f}", f"{pp99:.2f}", f"{ratio:.2f}×", verdict]
            else:
                if isinstance(p99_bound, int):
                    verdict = f"p99 ≤ {p99_bound / 1000:.0f} ms — " + ("met" if p99 * 1000 <= p99_bound else "**missed**")
                cells += ["", "", "", "", verdict]
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("| records | figure | Epilogue | peer | ratio | target |")
    out.append("|---|---|---|---|---|---|")
    for size in sizes:
        ours, fts = runs.get((size, "search-inproc", "epilogue")), runs.get((size, "search-inproc", "fts5"))
        if ours and fts:
            q, f = med("qps", ours), med("qps", fts)
            out.append(f"| {size:,} | SEARCH in-process, queries/s (p99 µs) | {q:,.0f} ({med('p99_us', ours):,.0f}) | "
                       f"SQLite FTS5 {f:,.0f} ({med('p99_us', fts):,.0f}) | {q / f:.1f}× | ≥ 1.0× — {'met' if q >= f else '**missed**'} |")
        sqlite, put = runs.get((size, "put-durable", "sqlite")), runs.get((size, "put-64x1", "epilogue"))
        if sqlite and put:
            ours, theirs = med("ops_per_s", put), med("ops_per_s", sqlite)
            out.append(f"| {size:,} | durable PUT, writes/s (Epilogue 64 × 1 `--fsync always`; SQLite table + FTS5, WAL, "
                       f"synchronous=FULL, one writer, a transaction per record) | {ours:,.0f} | SQLite {theirs:,.0f} | "
                       f"{ours / theirs:.1f}× | ≥ 5× — {'met' if ours >= 5 * theirs else '**missed**'} |")
        storage = runs.get((size, "storage", "epilogue"))
        if storage:
            s = storage[0]
            raw = s.get("raw_bytes") or 0
            ratio = raw / s["disk_bytes"] if raw else 0
            out.append(f"| {size:,} | bytes on disk (whole data dir) | {s['disk_bytes']:,} | raw record bytes {raw:,} "
                       f"(JSON {s['json_bytes']:,}) | raw / {ratio:.2f} | raw / 2.6 — {'met' if ratio >= 2.6 else '**missed**'} |")
        load = runs.get((size, "load", "epilogue"))
        if load and load[0]:
            l = load[0]
            out.append(f"| {size:,} | initial load through the gateway (PUT, 64 × 1) | {l['ops_per_s']:,.0f} records/s, "
                       f"{l['errors']} errors | | | |")
        restart = runs.get((size, "restart", "epilogue"))
        if restart:
            r = restart[0]
            raw = (storage[0].get("raw_bytes") if storage else 0) or 0
            rss = r["after_restart"].get("VmRSS", 0)
            out.append(f"| {size:,} | restart to serving (SIGTERM, start, first PING) | {r['seconds']:.2f} s | | | ≤ 10 s — "
                       f"{'met' if r['seconds'] <= 10 else '**missed**'} |")
            out.append(f"| {size:,} | store RSS after restart (VmRSS; VmHWM) | {rss / 1e6:,.0f} MB; {r['after_restart'].get('VmHWM', 0) / 1e6:,.0f} MB "
                       f"(after the run: {r['after_load'].get('VmRSS', 0) / 1e6:,.0f} MB) | raw {raw / 1e6:,.0f} MB | "
                       f"{rss / raw if raw else 0:.2f}× raw | ≤ 1.0× raw — {'met' if raw and rss <= raw else '**missed**'} |")
    cross = [(size, cell, system) for size, cell, system in runs if system.startswith("linebench-")]
    if cross:
        out.append("")
        out.append("Cross-check, the same cell with `../shared/tools/linebench` (C, epoll), each repetition run right after the matching `load` one, medians:\n")
        out.append("| records | cell | target | epilogue-bench load ops/s (p99 ms) | linebench ops/s (p99 ms) | load / linebench |")
        out.append("|---|---|---|---|---|---|")
        for size, cell, system in sorted(cross):
            lb = runs[(size, cell, system)]
            mine = runs.get((size, cell, system.removeprefix("linebench-")))
            if mine:
                ops, lops = med("ops_per_s", mine), med("ops", lb)
                out.append(f"| {size:,} | {cell} | {system.removeprefix('linebench-')} | {ops:,.0f} ({med('p99_us', mine) / 1000:.2f}) | "
                           f"{lops:,.0f} ({med('p99_us', lb) / 1000:.2f}) | {ops / lops:.2f} |")
    if flagged:
        out.append("")
        out.append("**Runs with errors or misses** (their figures are not the happy path): " + "; ".join(sorted(set(flagged))))
    print("\n".join(out))

if __name__ == "__main__":
    main()
