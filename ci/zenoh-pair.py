#!/usr/bin/env python3
# Usage: ci/zenoh-pair.py RUNS (from the repository root, after cargo build --release -p shmring-cli
# --features zenoh): runs `shmring bench --quick --rows zenoh` RUNS times and, per run, divides
# the zenoh: endpoint by raw zenoh publish/subscribe measured beside it (round trip p50s, message
# rates): the slowdown of the endpoint, median and spread over the runs.
import json, subprocess, statistics, sys
runs = int(sys.argv[1])
res = {}
for i in range(runs):
    out = subprocess.run(["./target/release/shmring", "bench", "--quick", "--rows", "zenoh", "--json"], capture_output=True, text=True, timeout=600)
    d = json.loads(out.stdout)
    rows = {}
    for r in d["rows"]:
        if "zenoh" not in r["row"]: continue
        if r.get("rtt_us"): rows[(r["row"], r["size"], "rtt")] = r["rtt_us"]["p50"]
        if r.get("throughput"): rows[(r["row"], r["size"], "tput")] = r["throughput"]["msgs_per_s"] if "msgs_per_s" in r["throughput"] else r["throughput"].get("m_msgs_per_s")
    for size in sorted({k[1] for k in rows}):
        for kind in ("rtt", "tput"):
            a = rows.get(("shmring-ipc zenoh:", size, kind)); b = rows.get(("raw zenoh pub/sub", size, kind))
            if a and b:
                ratio = a / b if kind == "rtt" else b / a   # >1: the endpoint is slower
                res.setdefault((size, kind), []).append(ratio)
    print("run", i + 1, file=sys.stderr, flush=True)
for k, v in sorted(res.items()):
    print(f"{k[0]} {k[1]}: endpoint/raw (slowdown) median {statistics.median(v):.3f} spread {min(v):.3f}-{max(v):.3f} n={len(v)}")
