#!/usr/bin/env python3
"""The tables (and plots) of bench/run.sh: medians of the repeated runs, ratios to the peers, the
issue 14/15 targets with met or missed.

usage: report.py RESULTS.jsonl [--plots DIR] > latest.md

--plots DIR writes DIR/perf-ratio.png (throughput ratio to Redis per cell), DIR/perf-latency.png
(latency percentiles) and DIR/perf-cost-curve.png (GET, SEARCH, restart and memory against the
record count) with matplotlib; without matplotlib the tables are printed all the same and the
plots are skipped with a message on stderr. A benchmark prints figures; nothing here fails a build.
"""
import json, statistics, sys
from collections import defaultdict

# The throughput targets, to Redis in the same run: cell, what, ratio target, p99 bound (× Redis's).
RATIO_TARGETS = [
    ("get-64x1", "GET by random id, 64 conns × 1", 0.6, 2.0),
    ("get-16x16", "GET by random id, 16 conns × 16 pipelined", 0.5, None),
    ("mix-64x1", "90 % GET / 10 % PUT, 64 × 1", 0.5, None),
    ("put-64x1", "durable PUT 64 × 1 (`--fsync always`; Redis `appendfsync always`)", 0.5, None),
]
CELLS = [
    ("get-64x1", "GET, 64 × 1"), ("get-16x16", "GET, 16 × 16 pipelined"), ("mix-64x1", "90/10 GET/PUT, 64 × 1"),
    ("put-64x1", "durable PUT / SET, 64 × 1"), ("find-16x1", "FIND film=… limit=10, 16 × 1"),
    ("search-16x1", "SEARCH 1–3 words limit=10, 16 × 1"),
]
SYSTEMS = ["epilogue", "epilogue+cache", "redis", "memcached"]
SEARCH_SETS = ["plain", "stemmed", "phrase", "prefix"]
BIG = 1_000_000  # the size the 1M targets apply to


def load(path):
    runs, meta = defaultdict(list), {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        if row["cell"] == "run":
            meta = row["result"]
            continue
        # Rows written before the client field were all `epilogue-bench load`.
        runs[(row["size"], row["cell"], row["system"], row.get("client", "load"))].append(row["result"])
    return runs, meta


def ops(result):
    """ops/s: linebench's RESULT says `ops`, epilogue-bench load's says `ops_per_s` (its `ops` is a count)."""
    return result["ops_per_s"] if "ops_per_s" in result else result.get("ops", 0)


class Figures:
    def __init__(self, runs):
        self.runs = runs
        self.sizes = sorted({key[0] for key in runs})

    def get(self, size, cell, system, client="linebench"):
        return self.runs.get((size, cell, system, client))

    def median(self, size, cell, system, key="ops", client="linebench"):
        rows = self.get(size, cell, system, client)
        if not rows:
            return None
        return statistics.median(ops(r) if key == "ops" else r.get(key, 0) for r in rows)

    def one(self, size, cell, system="epilogue", client="none"):
        rows = self.get(size, cell, system, client)
        return rows[0] if rows else None

    def errors(self, size, cell, system, client="linebench"):
        rows = self.get(size, cell, system, client) or []
        return sum(int(r.get("errors", 0)) + int(r.get("conn_errors", 0)) for r in rows), sum(int(r.get("empty", 0)) for r in rows)


def verdict(met, detail=""):
    return ("met" if met else "**missed**") + (f" ({detail})" if detail else "")


def fmt_ops(value):
    return "—" if value is None else f"{value:,.0f}"


def fmt_ms(us):
    return "—" if us is None else f"{us / 1000:.2f}"


def cache_note(f, size):
    """The record cache's size and hit rate over the GET cells, as its gateway's STATS counted them."""
    stats = f.one(size, "cache-stats", "epilogue+cache")
    if not stats:
        return ""
    lookups = stats["hits"] + stats["misses"]
    return (f" ({stats['cache_mb']} MB, {stats['records']:,} records held, "
            f"{stats['hits'] / lookups if lookups else 0:.0%} of GETs hit)")


def targets_table(f, out):
    """One row per target and size: the figure, the peer's, the ratio, met or missed."""
    out.append("| records | target | Epilogue | peer | ratio | met? |")
    out.append("|---|---|---|---|---|---|")
    smallest = f.sizes[0] if f.sizes else None
    for size in f.sizes:
        for cell, what, target, p99_bound in RATIO_TARGETS:
            peer = f.median(size, cell, "redis")
            for system in ("epilogue", "epilogue+cache"):
                ours = f.median(size, cell, system)
                if ours is None or not peer:
                    continue
                ratio = ours / peer
                p99, peer_p99 = f.median(size, cell, system, "p99_us"), f.median(size, cell, "redis", "p99_us")
                label = what + (" — record cache on" + cache_note(f, size) if system == "epilogue+cache" else "")
                text = f"≥ {target}×: " + verdict(ratio >= target)
                if p99_bound and peer_p99:
                    text += f"; p99 ≤ {p99_bound:g}× Redis's: " + verdict(p99 <= p99_bound * peer_p99, f"{p99 / peer_p99:.1f}×")
                out.append(f"| {size:,} | {label} | {ours:,.0f} ops/s, p99 {fmt_ms(p99)} ms | Redis {peer:,.0f}, p99 {fmt_ms(peer_p99)} ms | "
                           f"{ratio:.2f}× | {text} |")
        put, sqlite = f.median(size, "put-64x1", "epilogue"), f.one(size, "put-durable", "sqlite")
        if put and sqlite:
            theirs = sqlite.get("ops_per_s", 0)
            out.append(f"| {size:,} | durable PUT ≥ 5× SQLite (table + FTS5, WAL, synchronous=FULL, a transaction per record) | "
                       f"{put:,.0f} writes/s | SQLite {theirs:,.0f} | {put / theirs:.1f}× | ≥ 5×: {verdict(put >= 5 * theirs)} |")
        storage = f.one(size, "storage")
        if storage and storage.get("raw_bytes"):
            raw = storage["raw_bytes"]
            whole, data = raw / storage["disk_bytes"], raw / (storage["log_bytes"] + storage["dictionary_bytes"])
            out.append(f"| {size:,} | whole data directory ≤ raw / 2.0 | {storage['disk_bytes']:,} bytes | raw {raw:,} | raw / {whole:.2f} | "
                       f"{verdict(whole >= 2.0)} |")
            out.append(f"| {size:,} | records.log + dictionaries ≤ raw / 2.6 | {storage['log_bytes'] + storage['dictionary_bytes']:,} bytes | "
                       f"raw {raw:,} | raw / {data:.2f} | {verdict(data >= 2.6)} |")
        restart = f.one(size, "restart")
        if restart and size >= BIG:
            cpu = f" ({restart['cpu_seconds']:.2f} s CPU)" if "cpu_seconds" in restart else ""
            out.append(f"| {size:,} | restart to serving ≤ 5 s (SIGTERM, start, first PING) | {restart['seconds']:.2f} s{cpu} | | | "
                       f"{verdict(restart['seconds'] <= 5)} |")
        if restart and storage and storage.get("raw_bytes") and size >= BIG:
            rss, raw = restart["after_restart"].get("VmRSS", 0), storage["raw_bytes"]
            out.append(f"| {size:,} | store RSS after restart ≤ 0.8× raw | {rss / 2**20:,.0f} MiB | raw {raw / 2**20:,.0f} MiB | "
                       f"{rss / raw:.2f}× | {verdict(rss <= 0.8 * raw)} |")
        if size != smallest and size >= BIG:
            here, there = f.median(size, "get-64x1", "epilogue"), f.median(smallest, "get-64x1", "epilogue")
            if here and there:
                out.append(f"| {size:,} | GET 64 × 1 through the gateway at least as fast as at {smallest:,} | {here:,.0f} ops/s | "
                           f"{there:,.0f} at {smallest:,} | {here / there:.2f}× | ≥ 1.0×: {verdict(here >= there)} |")
        p99 = f.median(size, "search-16x1", "epilogue", "p99_us")
        if p99 is not None and size >= BIG:
            out.append(f"| {size:,} | SEARCH through the gateway, 16 clients: p99 ≤ 10 ms | "
                       f"{f.median(size, 'search-16x1', 'epilogue'):,.0f} q/s, p99 {fmt_ms(p99)} ms | | | {verdict(p99 <= 10_000)} |")
        if size >= 100_000:
            for name in SEARCH_SETS:
                ours, theirs = f.one(size, f"search-{name}", "epilogue"), f.one(size, f"search-{name}", "tantivy")
                if ours and theirs and theirs.get("qps"):
                    ratio = ours["qps"] / theirs["qps"]
                    out.append(f"| {size:,} | SEARCH in-process, {name}: ≥ 1.0× Tantivy with snippets | {ours['qps']:,.0f} q/s | "
                               f"Tantivy {theirs['qps']:,.0f} | {ratio:.2f}× | {verdict(ratio >= 1.0)} |")
            ours, theirs = f.one(size, "search-plain", "epilogue"), f.one(size, "search-plain", "tantivy")
            load_row = f.one(size, "load", "epilogue", "load")
            if theirs and load_row:
                rate = ops(load_row)
                out.append(f"| {size:,} | bulk load ≥ 0.5× Tantivy's one-thread indexing rate | {rate:,.0f} records/s (PUT through the gateway) | "
                           f"Tantivy {theirs['build_rate']:,.0f}/s | {rate / theirs['build_rate']:.2f}× | {verdict(rate >= 0.5 * theirs['build_rate'])} |")


def cells_table(f, out):
    out.append("| records | workload | system | ops/s | p50 / p99 / p99.9 ms | ratio to Redis |")
    out.append("|---|---|---|---|---|---|")
    for size in f.sizes:
        for cell, what in CELLS:
            peer = f.median(size, cell, "redis")
            for system in SYSTEMS:
                value = f.median(size, cell, system)
                if value is None:
                    continue
                errors, empty = f.errors(size, cell, system)
                flag = (f" **({errors} errors)**" if errors else "") + (f" ({empty} empty)" if empty else "")
                lat = " / ".join(fmt_ms(f.median(size, cell, system, k)) for k in ("p50_us", "p99_us", "p999_us"))
                ratio = f"{value / peer:.2f}×" if peer and system != "redis" else ""
                note = cache_note(f, size) if system == "epilogue+cache" and cell.startswith("get-") else ""
                out.append(f"| {size:,} | {what} | {system}{note} | {value:,.0f}{flag} | {lat} | {ratio} |")


def percentiles_table(f, out):
    rows = [(size, cell, system) for size in f.sizes for cell in ("get-64x1", "put-64x1") for system in ("epilogue", "redis")
            if f.get(size, cell, system, "load")]
    if not rows:
        return
    # The last column cross-checks the two clients on the same cell: the Swift client spends more CPU
    # per request than linebench, CPU a server on the same two cores then does not get.
    out.append("| records | workload | system | ops/s | p50 | p90 | p99 | p99.9 | max (ms) | ops/s ÷ linebench's |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for size, cell, system in rows:
        m = lambda key: f.median(size, cell, system, key, "load")
        lb = f.median(size, cell, system)
        out.append(f"| {size:,} | {dict(CELLS)[cell]} | {system} | {m('ops'):,.0f} | "
                   + " | ".join(fmt_ms(m(k)) for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us"))
                   + (f" | {m('ops') / lb:.2f} |" if lb else " | |"))


def search_table(f, out):
    out.append("| records | SEARCH in-process, one thread, top 10 | Epilogue q/s (p99 µs) | peer q/s (p99 µs) | ratio |")
    out.append("|---|---|---|---|---|")
    for size in f.sizes:
        ours, fts = f.one(size, "search-inproc"), f.one(size, "search-inproc", "fts5")
        if ours and fts:
            out.append(f"| {size:,} | 200 queries of 1–3 words, with snippets | {ours['qps']:,.0f} ({ours['p99_us']:,.0f}) | "
                       f"SQLite FTS5 {fts['qps']:,.0f} ({fts['p99_us']:,.0f}) | {ours['qps'] / fts['qps']:.1f}× |")
        for name in SEARCH_SETS:
            e, t, tn = (f.one(size, f"search-{name}", engine) for engine in ("epilogue", "tantivy", "tantivy-nosnippets"))
            if e and t:
                out.append(f"| {size:,} | {name}, with snippets (Tantivy without: {tn['qps']:,.0f} q/s) | {e['qps']:,.0f} ({e['p99_us']:,.0f}) | "
                           f"Tantivy {t['qps']:,.0f} ({t['p99_us']:,.0f}) | {e['qps'] / t['qps']:.2f}× |" if tn else
                           f"| {size:,} | {name}, with snippets | {e['qps']:,.0f} ({e['p99_us']:,.0f}) | Tantivy {t['qps']:,.0f} ({t['p99_us']:,.0f}) | "
                           f"{e['qps'] / t['qps']:.2f}× |")
        t, e = f.one(size, "search-plain", "tantivy"), f.one(size, "search-plain", "epilogue")
        if t and e:
            out.append(f"| {size:,} | memory and index | Epilogue peak RSS {e.get('peak_rss_mib', 0):,.0f} MiB | Tantivy peak RSS "
                       f"{t['peak_rss_mib']:,.0f} MiB, index {t['index_mib']} MiB on disk, built at {t['build_rate']:,.0f} records/s | |")


def cost_curve_table(f, out):
    out.append("| records | GET 64 × 1 ops/s | SEARCH 16 × 1 q/s, p99 ms | restart to serving s (CPU s) | store RSS after restart (× raw) | "
               "raw / whole directory | raw / (log + dictionaries) |")
    out.append("|---|---|---|---|---|---|---|")
    for size in f.sizes:
        restart, storage = f.one(size, "restart"), f.one(size, "storage")
        if not restart or not storage:
            continue
        raw = storage.get("raw_bytes") or 0
        rss = restart["after_restart"].get("VmRSS", 0)
        out.append(f"| {size:,} | {fmt_ops(f.median(size, 'get-64x1', 'epilogue'))} | {fmt_ops(f.median(size, 'search-16x1', 'epilogue'))}, "
                   f"{fmt_ms(f.median(size, 'search-16x1', 'epilogue', 'p99_us'))} | {restart['seconds']:.2f} ({restart.get('cpu_seconds', 0):.2f} CPU) | {rss / 2**20:,.0f} MiB "
                   f"({rss / raw if raw else 0:.2f}×) | {raw / storage['disk_bytes'] if raw else 0:.2f} | "
                   f"{raw / (storage['log_bytes'] + storage['dictionary_bytes']) if raw else 0:.2f} |")


def flagged(f):
    notes = []
    for (size, cell, system, client), rows in f.runs.items():
        if client not in ("linebench", "load"):
            continue
        errors, empty = f.errors(size, cell, system, client)
        if errors:
            notes.append(f"{size} {cell} {system} ({client}): {errors} errors")
        if empty:
            notes.append(f"{size} {cell} {system} ({client}): {empty} empty replies (misses)")
    return sorted(notes)


def plots(f, directory):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib is not installed (apt-get install python3-matplotlib): plots skipped", file=sys.stderr)
        return
    # Throughput ratio to Redis, per cell, one bar per size (and cache setting), target marked.
    cells = [c for c in RATIO_TARGETS if any(f.median(s, c[0], "redis") for s in f.sizes)]
    series = [(size, system) for size in f.sizes for system in ("epilogue", "epilogue+cache")
              if any(f.median(size, c[0], system) for c in cells)]
    if cells and series:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        width = 0.8 / len(series)
        for i, (size, system) in enumerate(series):
            # A cell not run for this system (the cache gateway takes no PUT cell) has no bar and no label.
            values = [(f.median(size, c[0], system) or 0) / (f.median(size, c[0], "redis") or 1) for c in cells]
            bars = ax.bar([x + i * width for x in range(len(cells))], values, width,
                          label=f"{size:,} records" + (", record cache" if system == "epilogue+cache" else ""))
            ax.bar_label(bars, labels=[f"{v:.2f}" if v else "" for v in values], fontsize=7)
        for x, (_, _, target, _) in enumerate(cells):  # over the group of bars at x
            ax.hlines(target, x - width / 2, x - width / 2 + 0.8, colors="red", linestyles="dashed", label="target" if x == 0 else None)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cells))], [c[0] for c in cells])
        ax.set_ylabel("Epilogue ops/s ÷ Redis ops/s (same run)")
        ax.set_title("Throughput ratio to Redis (linebench, medians)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{directory}/perf-ratio.png", dpi=100)
        plt.close(fig)
    # Latency percentiles of every linebench cell at the smallest size, Epilogue vs Redis, log scale.
    size = f.sizes[0] if f.sizes else None
    keys = [("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p999_us", "p99.9")]
    pairs = [(cell, system) for cell, _ in CELLS for system in SYSTEMS if size is not None and f.get(size, cell, system)]
    if pairs:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        width = 0.8 / len(keys)
        for i, (key, label) in enumerate(keys):
            ax.bar([x + i * width for x in range(len(pairs))], [f.median(size, c, s, key) / 1000 for c, s in pairs], width, label=label)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(pairs))], [f"{c}\n{s}" for c, s in pairs], fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms (log)")
        ax.set_title(f"Latency percentiles at {size:,} records (linebench, medians)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{directory}/perf-latency.png", dpi=100)
        plt.close(fig)
    # The cost curve: what grows with the record count.
    sizes = [s for s in f.sizes if f.one(s, "restart") and f.one(s, "storage")]
    if sizes:
        fig, axes = plt.subplots(2, 2, figsize=(9, 6))
        curves = [
            (axes[0][0], "GET 64 × 1, ops/s", [f.median(s, "get-64x1", "epilogue") for s in sizes], None),
            (axes[0][1], "SEARCH 16 × 1 through the gateway, p99 ms", [(f.median(s, "search-16x1", "epilogue", "p99_us") or 0) / 1000 for s in sizes], 10),
            (axes[1][0], "restart to serving, s", [f.one(s, "restart")["seconds"] for s in sizes], 5),
            (axes[1][1], "store RSS after restart ÷ raw bytes",
             [f.one(s, "restart")["after_restart"].get("VmRSS", 0) / max(1, f.one(s, "storage").get("raw_bytes") or 0) for s in sizes], 0.8),
        ]
        for ax, title, values, target in curves:
            ax.plot(sizes, [v or 0 for v in values], marker="o")
            if target is not None:
                ax.axhline(target, color="red", linestyle="dashed", linewidth=1)
            ax.set_xscale("log")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("records", fontsize=8)
        fig.suptitle("Cost curve (red: the target, set for 1M records)")
        fig.tight_layout()
        fig.savefig(f"{directory}/perf-cost-curve.png", dpi=100)
        plt.close(fig)
    print(f"report.py: plots written to {directory}/perf-ratio.png, perf-latency.png, perf-cost-curve.png", file=sys.stderr)


def main():
    args = sys.argv[1:]
    plot_dir = None
    if "--plots" in args:
        i = args.index("--plots")
        plot_dir = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    runs, meta = load(args[0])
    f = Figures(runs)
    out = [f"Commit `{meta.get('commit')}`, {meta.get('date')}, {meta.get('cpus')} CPUs, load average "
           f"{' '.join(meta.get('load_average', ['?']))} at the start; each cell {meta.get('repeat')}× {meta.get('seconds')} s "
           f"after {meta.get('warmup')} s warm-up, median shown; throughput cells with linebench, the systems taking turns"
           + (f"; record cache {meta['cache_mb']} MB on the `epilogue+cache` rows" if meta.get("cache_mb") else "")
           + (" (QUICK smoke run)" if meta.get("quick") else "") + ".\n"]
    loads = [(size, f.one(size, "loadavg", "machine")) for size in f.sizes]
    loads = [f"{size:,}: {' '.join(row['load_average'])}" for size, row in loads if row]
    if loads:
        out.append("Load average (1, 5, 15 min) as each size's cells began: " + "; ".join(loads) + ".\n")
    out.append("### Targets (issues 14 and 15)\n")
    targets_table(f, out)
    out.append("\n### Every cell (linebench)\n")
    cells_table(f, out)
    out.append("\n### Latency percentiles (`epilogue-bench load`, HDR histogram)\n")
    percentiles_table(f, out)
    out.append("\n### Search in-process\n")
    search_table(f, out)
    out.append("\n### Cost curve\n")
    cost_curve_table(f, out)
    notes = flagged(f)
    if notes:
        out.append("\n**Runs with errors or misses** (their figures are not the happy path): " + "; ".join(notes))
    print("\n".join(out))
    if plot_dir:
        plots(f, plot_dir)


if __name__ == "__main__":
    main()
