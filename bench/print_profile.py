#!/usr/bin/env python3
"""Prints the --profile JSON line of bench_train (on stdin) as a table of
time and GFLOP/s by layer type, and, given the machine's measured peak in
GFLOP/s for the run's precision (bench/peak.c) as the first argument, each
layer type's share of it."""
import json
import sys

d = json.load(sys.stdin)
peak = float(sys.argv[1]) if len(sys.argv) > 1 and float(sys.argv[1]) > 0 else None
print(f"{'layer type':28s} {'ms/step':>8s} {'GFLOP/step':>10s} {'GFLOP/s':>8s} {'of peak':>8s}")
for p in d["profile"]:
    has = p["gflop_per_step"] > 0
    rate = f"{p['gflop_per_s']:8.1f}" if has else "       -"
    share = f"{100 * p['gflop_per_s'] / peak:7.0f}%" if has and peak else "       -"
    print(f"{p['layer']:28s} {p['ms_per_step']:8.1f} {p['gflop_per_step']:10.2f} {rate} {share}")
print(f"total: {d['img_per_s']:.1f} img/s, peak RSS {d['peak_rss_mib']:.0f} MiB ({d['kernels']})")
