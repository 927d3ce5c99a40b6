#!/usr/bin/env bash
# regenerate.sh — redraws the example figures in results/examples/ from the
# study's CIFAR-10 traces, as `make demo` analyses them: import at 72%, fit
# with the reference period 20, plot; each PNG copied as meir2025-<figure>.png.
#   bash results/examples/regenerate.sh [BUILD]     (BUILD: build directory, default build)
# Works in a temporary directory, removed at the end; needs xz and gnuplot.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bin=$build/fptfarm
[[ -x $bin ]] || { echo "regenerate.sh: $bin not found: build it first (make BUILD=$build)" >&2; exit 1; }
work=$(mktemp -d /tmp/fpt_examples_XXXXXX)
trap 'rm -rf "$work"' EXIT
xz -dc tests/data/meir2025-cifar10_traces.csv.xz > "$work/traces.csv"
"$bin" import "$work/meir2025.db" "$work/traces.csv" --name meir2025 --target 72 > /dev/null
"$bin" fit "$work/meir2025.db" --reference 20 --quiet
"$bin" plot "$work/meir2025.db" --out "$work/figures" --format png
for png in "$work"/figures/target-72/*.png; do
  name=$(basename "$png")
  cp "$png" "results/examples/meir2025-$name"
  echo "results/examples/meir2025-$name"
done
