#!/usr/bin/env bash
# tests/fuzz/run.sh MODE SECONDS TARGET... — runs the libFuzzer harnesses
# (built by `make fuzz-build` into $FUZZ_BUILD), called by `make fuzz` and
# `make fuzz-smoke`; see tests/fuzz/README.md.
#
#   MODE     campaign | smoke (the same steps; the name only labels the output)
#   SECONDS  fuzzing time per target (libFuzzer's -max_total_time)
#
# For each target, in order:
#   1. every file in tests/fuzz/regressions/TARGET/ is run once;
#   2. the fuzzer runs for SECONDS from the committed seeds
#      (tests/fuzz/corpus/TARGET/) plus the scratch corpus of earlier runs
#      ($FUZZ_OUT/corpus/TARGET/, where new entries go: tests/ is only read),
#      with the target's dictionary (tests/fuzz/dict/TARGET.dict).
# Crash, leak, timeout and OOM inputs land in $FUZZ_OUT/artifacts/TARGET/;
# full logs in $FUZZ_OUT/logs/.  Every target runs even after a failure; the
# exit status is non-zero if any step failed.  Run from the project root.
set -uo pipefail

if (($# < 3)); then
    echo "usage: $0 campaign|smoke SECONDS TARGET..." >&2
    exit 2
fi
mode=$1 secs=$2
shift 2
build=${FUZZ_BUILD:-build-fuzz}
out=${FUZZ_OUT:-$build/out}
here=tests/fuzz

# One thread: the harnesses are serial, and the machine is shared.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Longest input per target: a spec or CSV of a few KB; CIFAR inputs of a few
# one-record files; IDX inputs of a few dozen 784-byte images; a checkpoint
# of the 24 KB model (fuzz_common.h).
max_len() {
    case $1 in
        job_spec) echo 4096 ;;
        import_csv) echo 8192 ;;
        cifar | idx | checkpoint) echo 32768 ;;
        *) echo 4096 ;;
    esac
}

common=(-timeout=10 -rss_limit_mb=2048)
failed=()
summary=()
start=$SECONDS
for t in "$@"; do
    bin=$build/fuzz_$t
    if [[ ! -x $bin ]]; then
        echo "fuzz: $bin is missing (make fuzz-build)" >&2
        failed+=("$t: no binary")
        continue
    fi
    corpus=$out/corpus/$t
    art=$out/artifacts/$t
    logs=$out/logs
    mkdir -p "$corpus" "$art" "$logs"

    # 1. Regression inputs, each executed once.
    regs=()
    if [[ -d $here/regressions/$t ]]; then
        while IFS= read -r -d '' f; do regs+=("$f"); done \
            < <(find "$here/regressions/$t" -maxdepth 1 -type f ! -name '*.md' -print0 | sort -z)
    fi
    if ((${#regs[@]})); then
        log=$logs/$t-regressions.log
        if "$bin" "${common[@]}" -artifact_prefix="$art/" "${regs[@]}" >"$log" 2>&1; then
            echo "fuzz: $t: ${#regs[@]} regression inputs pass"
        else
            echo "fuzz: $t: a regression input FAILED; the end of $log:" >&2
            tail -n 40 "$log" >&2
            failed+=("$t: regression")
        fi
    fi

    # 2. Fuzzing.
    log=$logs/$t.log
    dict=()
    [[ -f $here/dict/$t.dict ]] && dict=(-dict="$here/dict/$t.dict")
    echo "fuzz: $t: fuzzing for ${secs}s (-max_len=$(max_len "$t"), log $log)"
    "$bin" "${common[@]}" -max_len="$(max_len "$t")" -max_total_time="$secs" \
        -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
        "$corpus" "$here/corpus/$t" >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    [[ -z $done_line ]] && done_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done_line")
    line=$(printf '%-11s %8s execs %6s exec/s  cov %5s  ft %6s  corpus %s' "$t" "${execs:-?}" \
        "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
    if ((rc != 0)); then
        echo "fuzz: $t: FAILED (exit $rc); inputs in $art/; the end of $log:" >&2
        tail -n 60 "$log" >&2
        failed+=("$t: fuzzing (exit $rc)")
        line+="  FAILED"
    fi
    summary+=("$line")
done

echo "fuzz: $mode summary (${secs}s per target, $((SECONDS - start))s in all):"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all targets pass"
