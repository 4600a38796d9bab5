#!/usr/bin/env python3
"""Key and query files for a corpus: every record id (one per line), and 200 queries of 1–3 words
taken from the readings themselves, so each query has hits. Deterministic.

usage: make-keys.py CORPUS.jsonl IDS.txt QUERIES.txt
"""
import json, random, re, sys

STOP = set("that this with from have will which their there about when where what into than then they them these those your been were also only more such some most other each same very".split())

def main():
    corpus, ids_path, queries_path = sys.argv[1:4]
    rng = random.Random(6)
    sample = []
    with open(corpus) as f, open(ids_path, "w") as ids:
        for i, line in enumerate(f):
            record = json.loads(line)
            ids.write(record["id"] + "\n")
            if i < 5000:
                sample.append(record["reading"])
    with open(queries_path, "w") as out:
        for _ in range(200):
            words = [w for w in re.findall(r"[a-z]{4,}", rng.choice(sample).lower()) if w not in STOP]
            start = rng.randrange(max(1, len(words) - 6))
            out.write(" ".join(rng.sample(words[start:start + 6], rng.randint(1, 3))) + "\n")

if __name__ == "__main__":
    main()
