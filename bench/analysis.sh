#!/usr/bin/env bash
# bench/analysis.sh [BUILD] — the analysis on the study's data (598,400 rows,
# tests/data): import, fit with a 1000-resample bootstrap, plots, each timed;
# beside it, the plain-Python reference (tests/ref/study_facts.py: the point
# estimates only, no bootstrap, no intervals, no database) on the same
# machine at the same moment, as the ratio to compare across machines.
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
xz -dc tests/data/meir2025-cifar10_traces.csv.xz > "$tmp/traces.csv"
t0=$(now)
"$build/fptfarm" import "$tmp/study.db" "$tmp/traces.csv" --name meir2025 --target 72 >/dev/null
t1=$(now)
"$build/fptfarm" fit "$tmp/study.db" --reference 20 --bootstrap 1000 --quiet
t2=$(now)
"$build/fptfarm" plot "$tmp/study.db" --out "$tmp/figures" >/dev/null
t3=$(now)
python3 tests/ref/study_facts.py "$tmp/traces.csv" >/dev/null
t4=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v cores="$(nproc)" 'BEGIN {
    printf "analysis of the study data (598,400 rows, 2992 runs), %d cores, OMP_NUM_THREADS=%s\n",
           cores, ENVIRON["OMP_NUM_THREADS"] == "" ? "unset" : ENVIRON["OMP_NUM_THREADS"]
    printf "  %-44s %8.2f s\n", "import (CSV -> SQLite)", b - a
    printf "  %-44s %8.2f s\n", "fit, 1000 bootstrap resamples, store", c - b
    printf "  %-44s %8.2f s\n", "plots (15 files, gnuplot)", d - c
    printf "  %-44s %8.2f s\n", "total", d - a
    printf "  %-44s %8.2f s\n", "reference: plain Python, point estimates only", e - d
    printf "  ratio fptfarm total / Python reference: %.2f\n", (d - a) / (e - d)
}'
