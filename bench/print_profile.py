#!/usr/bin/env python3
"""Prints the --profile JSON line of bench_train (on stdin) as a table of
time and GFLOP/s by layer type."""
import json
import sys

d = json.load(sys.stdin)
print(f"{'layer type':28s} {'ms/step':>8s} {'GFLOP/step':>10s} {'GFLOP/s':>8s}")
for p in d["profile"]:
    rate = f"{p['gflop_per_s']:8.1f}" if p["gflop_per_step"] > 0 else "       -"
    print(f"{p['layer']:28s} {p['ms_per_step']:8.1f} {p['gflop_per_step']:10.2f} {rate}")
print(f"total: {d['img_per_s']:.1f} img/s, peak RSS {d['peak_rss_mib']:.0f} MiB")
