#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — fptfarm's training step against PyTorch's, side by
# side, per compute backend and precision.
#
# For every configuration (default: width 64, batch 32, 125 and 128, 2 and 1
# threads, a training step; one inference row) runs, each in its own process
# (so peak RSS is per run):
#   fptfarm   blas fp32, onednn fp32, onednn bf16   (those this build and CPU have)
#   PyTorch   fp32 NCHW, fp32 channels_last, bf16 autocast channels_last
# and prints images/s, peak RSS, and each fptfarm row's ratio to PyTorch's
# BEST variant of the same precision.  The machines this runs on are shared
# and noisy: only ratios of runs made side by side mean anything, so every
# run is repeated REPEAT times (default 2), the order reversed each round,
# and the best of each kept.
# Then the machine's measured arithmetic peak (bench/peak.c) and, for the
# headline configuration (width 64, batch 128, 2 threads), GFLOP/s by layer
# type for each fptfarm backend and precision, as a share of that peak.
#
# Environment: REPEAT (2), STEPS (3 timed steps after 1 warm-up),
#              CONFIGS ("64:128:2:train ..." to run a subset), PYTHON (/usr/bin/python3)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
ours="$build/bench/bench_train"
peak="$build/bench/peak"
py=${PYTHON:-/usr/bin/python3}
repeat=${REPEAT:-2}
steps=${STEPS:-3}
configs=${CONFIGS:-"64:32:2:train 64:125:2:train 64:128:2:train
64:32:1:train 64:125:1:train 64:128:1:train 64:128:2:infer"}

have_torch=1
if ! "$py" -c 'import torch' 2>/dev/null; then
    have_torch=0
    echo "bench: PyTorch not found for $py (install python3-torch: deploy/install-deps.sh --with-torch);"
    echo "bench: printing fptfarm's figures only, without ratios."
fi

# fptfarm variants this build and CPU can run: "backend:precision".
variants=()
for v in blas:fp32 onednn:fp32 onednn:bf16; do
    if "$ours" --width 1 --batch 1 --steps 1 --warmup 0 --mode infer --backend "${v%%:*}" \
        --precision "${v##*:}" >/dev/null 2>&1; then
        variants+=("$v")
    else
        echo "bench: fptfarm $v cannot run here: $("$ours" --width 1 --batch 1 --steps 1 --warmup 0 \
            --mode infer --backend "${v%%:*}" --precision "${v##*:}" 2>&1 | head -1)"
    fi
done
torch_variants=(fp32:nchw fp32:channels_last bf16:channels_last)

field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "fptfarm vs PyTorch — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs: $cpu"
info=$("$ours" --width 1 --batch 1 --steps 1 --warmup 0 --mode infer 2>/dev/null)
echo "OpenBLAS kernels: $(field "$info" blas_core); default backend: $(field "$info" kernels)"
((have_torch)) && echo "PyTorch $("$py" -c 'import torch; print(torch.__version__)')"

declare -A pk
for t in 1 2; do
    j=$("$peak" --threads "$t")
    pk[fp32:$t]=$(field "$j" fp32_gflops)
    pk[bf16:$t]=$(field "$j" bf16_gflops)
    echo "measured peak, $t thread(s): fp32 ${pk[fp32:$t]} GFLOP/s, bf16 ${pk[bf16:$t]} GFLOP/s ($(field "$j" isa))"
done
echo

printf '%-5s %-6s %-4s %-6s %-30s | %9s %8s | %s\n' width batch thr mode run img/s MiB \
    "ratio to PyTorch's best of the same precision"
for cfg in $configs; do
    IFS=: read -r w b t mode <<<"$cfg"
    args=(--width "$w" --batch "$b" --threads "$t" --mode "$mode" --steps "$steps")
    declare -A ips=() rss=()
    runs=()
    for v in "${variants[@]}"; do runs+=("fptfarm:$v"); done
    if ((have_torch)); then for v in "${torch_variants[@]}"; do runs+=("pytorch:$v"); done; fi
    for ((r = 0; r < repeat; r++)); do
        order=("${runs[@]}")
        if ((r % 2 == 1)); then   # reversed
            order=(); for ((i = ${#runs[@]} - 1; i >= 0; i--)); do order+=("${runs[i]}"); done
        fi
        for run in "${order[@]}"; do
            IFS=: read -r impl a1 a2 <<<"$run"
            if [[ $impl == fptfarm ]]; then
                j=$("$ours" "${args[@]}" --backend "$a1" --precision "$a2" 2>/dev/null)
            else
                j=$(OMP_NUM_THREADS=$t "$py" "$here/bench_torch.py" "${args[@]}" --precision "$a1" \
                    --layout "$a2")
            fi
            i=$(field "$j" img_per_s)
            if [[ -z ${ips[$run]:-} ]] || "$py" -c "import sys; sys.exit(not $i > ${ips[$run]})"; then
                ips[$run]=$i
            fi
            rss[$run]=$(field "$j" peak_rss_mib)
        done
    done
    declare -A best=([fp32]=0 [bf16]=0)
    for v in "${torch_variants[@]}"; do
        [[ -n ${ips[pytorch:$v]:-} ]] || continue
        p=${v%%:*}
        best[$p]=$("$py" -c "print(max(${best[$p]}, ${ips[pytorch:$v]}))")
    done
    for run in "${runs[@]}"; do
        IFS=: read -r impl a1 a2 <<<"$run"
        if [[ $impl == fptfarm ]]; then label="fptfarm $a1 $a2"; prec=$a2
        else label="pytorch $a1 $a2"; prec=$a1; fi
        ratio=""
        if [[ $impl == fptfarm && ${best[$prec]} != 0 ]]; then
            ratio=$("$py" -c "print(f'{${ips[$run]} / ${best[$prec]}:.2f}x')")
        fi
        printf '%-5s %-6s %-4s %-6s %-30s | %9.1f %8.0f | %s\n' "$w" "$b" "$t" "$mode" "$label" \
            "${ips[$run]}" "${rss[$run]}" "$ratio"
    done
    unset ips rss best
done

echo
for v in "${variants[@]}"; do
    echo "fptfarm ${v%%:*} ${v##*:} by layer type, width 64, batch 128, 2 threads, training step"
    "$ours" --width 64 --batch 128 --threads 2 --mode train --steps "$steps" --profile \
        --backend "${v%%:*}" --precision "${v##*:}" 2>/dev/null |
        "$py" "$here/print_profile.py" "${pk[${v##*:}:2]}"
    echo
done
