#!/usr/bin/env python3
"""Per-query store CPU through a gateway: each query REPS times on one connection, the store's
utime+stime (/proc) before and after, and the total matches from the status line.
usage: bench/search-cost-per-query.py GATEWAY_PORT STORE_PID QUERIES REPS OUT.tsv
(a store and gateway as bench/search-served.sh starts them; CPU resolution is 10 ms / REPS)"""
import socket, sys, time, re
port, pid, queries, reps, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
s = socket.create_connection(("127.0.0.1", port)); buf = b""
def ask(line):
    global buf
    s.sendall(line.encode() + b"\r\n")
    lines = []
    while True:
        while b"\n" not in buf: buf += s.recv(65536)
        l, buf = buf.split(b"\n", 1); l = l.rstrip(b"\r").decode()
        if l == ".": return lines
        lines.append(l)
with open(out, "w") as o:
    o.write("query\ttotal\tstore_cpu_us\twall_us\n")
    for q in [l.strip() for l in open(queries) if l.strip()]:
        first = ask(f"SEARCH {q} limit=10")[0]
        m = re.search(r"of (\d+) hits", first); total = int(m[1]) if m else 0
        c0 = cpu(); t0 = time.perf_counter()
        for _ in range(reps): ask(f"SEARCH {q} limit=10")
        t1 = time.perf_counter(); c1 = cpu()
        o.write(f"{q}\t{total}\t{(c1 - c0) * 1e6 / reps:.0f}\t{(t1 - t0) * 1e6 / reps:.0f}\n"); o.flush()
