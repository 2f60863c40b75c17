#!/usr/bin/env python3
# Usage: ci/ab-bench.py OLD_SHMRING NEW_SHMRING ROUNDS [bench args...] (see docs/benchmarks.md).
"""Paired A/B of `shmring bench` builds: alternate old/new runs, ratio (new/old) of each row's
ratio-to-floor per pair; report median and spread per row."""
import json, subprocess, sys, statistics, collections
old, new, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = sys.argv[4:]
def run(binary):
    out = subprocess.run([binary, "bench", "--quick", "--json", *args], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr); return {}
    d = json.loads(out.stdout)
    res = {}
    for r in d["rows"]:
        key = f'{r["row"]} @{r["size"]}'
        if r.get("rtt_us") and r["rtt_us"].get("ratio_to_floor"):
            res[key + " rtt"] = r["rtt_us"]["ratio_to_floor"]
        if r.get("throughput") and r["throughput"].get("ratio_to_floor"):
            res[key + " tput"] = r["throughput"]["ratio_to_floor"]
    return res
pairs = collections.defaultdict(list)
for i in range(rounds):
    order = [(old, "old"), (new, "new")] if i % 2 == 0 else [(new, "new"), (old, "old")]
    got = {}
    for b, tag in order:
        got[tag] = run(b)
    for k in got["old"]:
        if k in got["new"] and got["old"][k] > 0:
            pairs[k].append(got["new"][k] / got["old"][k])
    print(f"round {i+1} done", file=sys.stderr, flush=True)
for k in sorted(pairs):
    v = pairs[k]
    # rtt: lower is better (ratio new/old < 1 is faster); tput: higher is better
    print(f"{k:45s} new/old median {statistics.median(v):.3f}  min {min(v):.3f}  max {max(v):.3f}  n={len(v)}")
