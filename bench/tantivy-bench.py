#!/usr/bin/env python3
"""Tantivy (pip install tantivy) on the same corpus and queries as `epilogue-bench search`: index
film, subject, reading and source with Tantivy's default tokenizer on disk, one indexing thread;
then conjunctive top-10 queries in process, one thread, with SnippetGenerator snippets of the
reading and without. Prints one RESULT line per query set.

usage: tantivy-bench.py CORPUS.jsonl COUNT SECONDS NAME=QUERIES.txt [NAME=QUERIES.txt ...]
"""
import json, os, resource, shutil, sys, tempfile, time
import tantivy

corpus, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sets = [a.split("=", 1) for a in sys.argv[4:]]
fields = ["film", "subject", "reading", "source"]
builder = tantivy.SchemaBuilder()
for name in fields:
    builder.add_text_field(name, stored=True)
schema = builder.build()
directory = tempfile.mkdtemp(prefix="epilogue-tantivy-")
try:
    index = tantivy.Index(schema, path=directory)
    docs = []
    with open(corpus) as f:
        for i, line in enumerate(f):
            if i >= count:
                break
            r = json.loads(line)
            docs.append({k: r[k] for k in fields})
    t0 = time.time()
    writer = index.writer(heap_size=256_000_000, num_threads=1)
    for d in docs:
        writer.add_document(tantivy.Document(**{k: [v] for k, v in d.items()}))
    writer.commit()
    writer.wait_merging_threads()
    build = time.time() - t0
    index.reload()
    size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
    searcher = index.searcher()
    print(f"tantivy: indexed {len(docs)} records in {build:.2f}s ({len(docs) / build:.0f}/s, one thread); index {size / 2**20:.1f} MiB on disk")
    for name, path in sets:
        queries = [l.strip() for l in open(path) if l.strip()]
        for snippets in (True, False):
            parsed = [index.parse_query(q, fields, conjunction_by_default=True) for q in queries]
            generators = [tantivy.SnippetGenerator.create(searcher, p, schema, "reading") for p in parsed] if snippets else None
            done = hits = 0
            lat = []
            cpu = time.process_time()
            start = time.time()
            end = start + seconds
            while time.time() < end:
                for i, q in enumerate(parsed):
                    a = time.perf_counter()
                    result = searcher.search(q, 10)
                    for _, address in result.hits:
                        if snippets:
                            generators[i].snippet_from_doc(searcher.doc(address)).to_html()
                        else:
                            searcher.doc(address)
                    hits += len(result.hits)
                    lat.append((time.perf_counter() - a) * 1e6)
                    done += 1
            elapsed = time.time() - start
            cpu = time.process_time() - cpu
            lat.sort()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            tag = "snippets" if snippets else "no-snippets"
            print(f"tantivy {name} {tag}: {done / elapsed:.0f} q/s, p50 {lat[len(lat) // 2]:.0f} us, p99 {lat[len(lat) * 99 // 100]:.0f} us, {hits} hits")
            print(f"RESULT bench=search engine=tantivy set={name} snippets={int(snippets)} records={len(docs)} qps={done / elapsed:.0f} "
                  f"cpu_qps={done / cpu:.0f} p50_us={lat[len(lat) // 2]:.0f} p99_us={lat[len(lat) * 99 // 100]:.0f} build_s={build:.2f} "
                  f"build_rate={len(docs) / build:.0f} index_mib={size / 2**20:.1f} peak_rss_mib={rss}")
finally:
    shutil.rmtree(directory, ignore_errors=True)
