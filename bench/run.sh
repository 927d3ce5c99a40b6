#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — fptfarm against PyTorch, side by side.
#
# For every configuration (width 64/16, batch 32/128, threads 1/2, training
# step or inference) runs build/bench/bench_train and bench/bench_torch.py
# back to back, each in its own process (so peak RSS is per configuration),
# and prints images/s, peak RSS and the ratio ours/PyTorch.  The machines
# this runs on are shared and noisy: only the ratio of two runs made side by
# side means anything, so each pair is run REPEAT times (default 2),
# alternating the order, and the best of each is kept.
# Then prints GFLOP/s by layer type for the headline configuration.
#
# Environment: REPEAT (2), STEPS (3 timed steps after 1 warm-up),
#              CONFIGS ("64:128:2:train ..." to run a subset), PYTHON (/usr/bin/python3)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
ours="$build/bench/bench_train"
py=${PYTHON:-/usr/bin/python3}
repeat=${REPEAT:-2}
steps=${STEPS:-3}
configs=${CONFIGS:-"64:128:2:train 64:128:1:train 64:32:2:train 64:32:1:train
16:128:2:train 16:128:1:train 16:32:2:train 16:32:1:train
64:128:2:infer 64:128:1:infer 64:32:2:infer 64:32:1:infer
16:128:2:infer 16:128:1:infer 16:32:2:infer 16:32:1:infer"}

have_torch=1
if ! "$py" -c 'import torch' 2>/dev/null; then
    have_torch=0
    echo "bench: PyTorch not found for $py (install python3-torch: deploy/install-deps.sh --with-torch);"
    echo "bench: printing fptfarm's figures only, without ratios."
fi

field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
best() { "$py" -c 'import sys; print(max(float(a) for a in sys.argv[1:]))' "$@"; }

echo "fptfarm vs PyTorch — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -m)"
echo "OpenBLAS kernels: $("$ours" --width 1 --batch 1 --steps 1 --warmup 0 --mode infer 2>/dev/null | sed 's/.*"blas_core":"\([^"]*\)".*/\1/')"
printf '%-6s %-6s %-5s %-7s | %10s %9s | %10s %9s | %6s\n' width batch thr mode \
    "ours img/s" "ours MiB" "torch img/s" "torch MiB" ratio
for cfg in $configs; do
    IFS=: read -r w b t mode <<<"$cfg"
    args=(--width "$w" --batch "$b" --threads "$t" --mode "$mode" --steps "$steps")
    o_ips=() o_rss=() p_ips=() p_rss=()
    for ((r = 0; r < repeat; r++)); do
        run_ours() { j=$("$ours" "${args[@]}" 2>/dev/null); o_ips+=("$(field "$j" img_per_s)"); o_rss+=("$(field "$j" peak_rss_mib)"); }
        run_torch() { j=$(OMP_NUM_THREADS=$t "$py" "$here/bench_torch.py" "${args[@]}"); p_ips+=("$(field "$j" img_per_s)"); p_rss+=("$(field "$j" peak_rss_mib)"); }
        if ((r % 2 == 0)); then run_ours; ((have_torch)) && run_torch; else ((have_torch)) && run_torch; run_ours; fi
    done
    oi=$(best "${o_ips[@]}"); orss=${o_rss[0]}
    if ((have_torch)); then
        pi=$(best "${p_ips[@]}"); prss=${p_rss[0]}
        ratio=$("$py" -c "print(f'{$oi/$pi:.2f}')")
    else pi=-; prss=-; ratio=-; fi
    printf '%-6s %-6s %-5s %-7s | %10.1f %9s | %10s %9s | %6s\n' "$w" "$b" "$t" "$mode" "$oi" "$orss" "$pi" "$prss" "$ratio"
done

echo
echo "fptfarm by layer type, width 64, batch 128, 2 threads, training step"
"$ours" --width 64 --batch 128 --threads 2 --mode train --steps "$steps" --profile 2>/dev/null |
    "$py" "$here/print_profile.py"
