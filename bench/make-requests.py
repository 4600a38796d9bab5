#!/usr/bin/env python3
"""Whole request lines for linebench (one per line; run it with `--cmd '{k}' --keyfile FILE`), so
the C client can send PUTs and a GET/PUT mix carrying the same record bytes as the other cells:

  put-epilogue.txt  `PUT <id> film="…" …` (the text protocol's quoting, as epilogue-bench's {record})
  put-redis.txt     `SET <id> "<the record's JSON>"` (a Redis inline command; the quotes and
                    backslashes escaped, so Redis stores the JSON line byte for byte)
  mix-epilogue.txt  9 `GET <random id>` lines per PUT line above: drawn uniformly, a 90/10 mix
  mix-redis.txt     the same with `GET` / `SET`

PUTs are new versions of the first PUT_COUNT records; the GETs draw from every id. Deterministic.

usage: make-requests.py CORPUS.jsonl IDS.txt PUT_COUNT OUT_DIR
"""
import json, os, random, sys

def quoted(value):
    """The text protocol's double-quoted value (TextPutArguments.quoted): `"` and `\\` escaped,
    line breaks as `\\n`, CR dropped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n") + '"'

def put_line(record):
    fields = [("film", record["film"]), ("year", str(record["year"])), ("director", record["director"]),
              ("subject", record["subject"]), ("reading", record["reading"]), ("source", record["source"]),
              ("sourceKind", record["sourceKind"]), ("themes", ",".join(record["themes"]))]
    return "PUT " + record["id"] + " " + " ".join(f"{name}={quoted(value)}" for name, value in fields)

def set_line(record_id, json_line):
    # Redis's inline parser (sdssplitargs) unescapes \" and \\ inside double quotes; the corpus's
    # JSON has no raw line breaks.
    return f'SET {record_id} "' + json_line.replace("\\", "\\\\").replace('"', '\\"') + '"'

def main():
    corpus, ids_path, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    os.makedirs(out, exist_ok=True)
    ids = [line.strip() for line in open(ids_path) if line.strip()]
    rng = random.Random(15)
    files = {name: open(os.path.join(out, name + ".tmp"), "w")
             for name in ("put-epilogue.txt", "put-redis.txt", "mix-epilogue.txt", "mix-redis.txt")}
    with open(corpus) as f:
        for i, line in enumerate(f):
            if i >= count:
                break
            json_line = line.rstrip("\n")
            record = json.loads(json_line)
            put, put_redis = put_line(record), set_line(record["id"], json_line)
            files["put-epilogue.txt"].write(put + "\n")
            files["put-redis.txt"].write(put_redis + "\n")
            files["mix-epilogue.txt"].write(put + "\n")
            files["mix-redis.txt"].write(put_redis + "\n")
            for _ in range(9):
                get = "GET " + rng.choice(ids) + "\n"
                files["mix-epilogue.txt"].write(get)
                files["mix-redis.txt"].write(get)
    for name, handle in files.items():
        handle.close()
        os.replace(os.path.join(out, name + ".tmp"), os.path.join(out, name))

if __name__ == "__main__":
    main()
