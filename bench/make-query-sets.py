#!/usr/bin/env python3
"""Query sets for the search comparison, from make-keys.py's queries and the corpus, deterministic:
plain (the queries as they are), stemmed (each word in another English form: +s, or -s), phrase
(two adjacent words of a reading, quoted) and prefix (the first word cut to 4 letters + `*`, the
others as they are). Same syntax for Epilogue and Tantivy.

usage: make-query-sets.py CORPUS.jsonl QUERIES.txt OUTDIR
"""
import json, os, random, re, sys

corpus, queries, out = sys.argv[1:4]
rng = random.Random(14)
plain = [l.strip() for l in open(queries) if l.strip()]
readings = []
with open(corpus) as f:
    for i, line in enumerate(f):
        if i >= 5000:
            break
        readings.append(json.loads(line)["reading"].lower())

def other_form(word):
    return word[:-1] if word.endswith("s") and len(word) > 4 else word + "s"

phrases = []
while len(phrases) < len(plain):
    words = re.findall(r"[a-z]{4,}", rng.choice(readings))
    text = rng.choice(readings)
    pairs = re.findall(r"\b([a-z]{4,}) ([a-z]{4,})\b", text)
    if pairs:
        a, b = rng.choice(pairs)
        phrases.append(f'"{a} {b}"')
sets = {
    "plain": plain,
    "stemmed": [" ".join(other_form(w) for w in q.split()) for q in plain],
    "phrase": phrases,
    "prefix": [" ".join([q.split()[0][:4] + "*"] + q.split()[1:]) for q in plain],
}
os.makedirs(out, exist_ok=True)
for name, lines in sets.items():
    with open(os.path.join(out, name + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
