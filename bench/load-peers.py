#!/usr/bin/env python3
"""Loads the first COUNT records of a corpus into Redis (`SET id json`, RESP) and memcached
(`set id 0 0 len`), each record's JSON line byte for byte, pipelined 1,000 requests at a time,
every reply checked. Loading is not measured; this only has to be quick (parsing a 1M-record corpus
in `epilogue-bench load --once` takes minutes).

usage: load-peers.py CORPUS.jsonl COUNT REDIS_PORT MEMCACHED_PORT
"""
import json, socket, sys

BATCH = 1000


def requests(corpus, count):
    """(id, json bytes) of the first count lines."""
    with open(corpus, "rb") as f:
        for i, line in enumerate(f):
            if i >= count:
                break
            line = line.rstrip(b"\n")
            yield json.loads(line)["id"].encode(), line


def load(port, render, reply, corpus, count):
    """Sends rendered requests in batches; each answer must be exactly `reply`."""
    sock = socket.create_connection(("127.0.0.1", port))
    sent = 0

    def drain(n):
        want, got = len(reply) * n, b""
        while len(got) < want:
            chunk = sock.recv(max(65536, want - len(got)))
            if not chunk:
                sys.exit(f"port {port}: connection closed after {sent} requests")
            got += chunk
        if got != reply * n:
            sys.exit(f"port {port}: unexpected reply {got[:200]!r}")

    batch = []
    for key, value in requests(corpus, count):
        batch.append(render(key, value))
        if len(batch) == BATCH:
            sock.sendall(b"".join(batch))
            sent += len(batch)
            drain(len(batch))
            batch = []
    if batch:
        sock.sendall(b"".join(batch))
        sent += len(batch)
        drain(len(batch))
    sock.close()
    return sent


def main():
    corpus, count, redis_port, memcached_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    n = load(redis_port, lambda k, v: b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v), b"+OK\r\n", corpus, count)
    m = load(memcached_port, lambda k, v: b"set %s 0 0 %d\r\n%s\r\n" % (k, len(v), v), b"STORED\r\n", corpus, count)
    print(f"loaded {n} records into Redis (port {redis_port}) and {m} into memcached (port {memcached_port})")


if __name__ == "__main__":
    main()
