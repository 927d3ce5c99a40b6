#!/usr/bin/env bash
# bench/farm_throughput.sh [BUILD] — the farm's own throughput: no-op jobs
# (`fptfarm run --noop`: workers send synthetic epoch records without
# training), 200 jobs x 20 epochs = 4000 records, at 2 to 64 MPI ranks
# (oversubscribed beyond the cores).  Prints jobs/s, epoch records/s and the
# coordinator's busy time per record, with wall time including MPI start-up.
# Every record is committed (synchronous=FULL) and acknowledged before the
# worker goes on, as in a real campaign.
set -euo pipefail
build=${1:-build}
ranks=${RANKS:-"2 4 8 16 32 64"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_MCA_btl=self,vader OMPI_MCA_orte_tmpdir_base=$tmp OMPI_MCA_btl_vader_backing_directory=$tmp
root=()
[[ $(id -u) == 0 ]] && root=(--allow-run-as-root)
cat > "$tmp/noop.ini" <<'INI'
[experiment]
name = noop
seeds = 1-200
epochs = 20
target = 10.5
[none]
INI
echo "farm throughput, no-op jobs: 200 jobs x 20 epochs, $(nproc) cores"
printf '%6s %10s %9s %12s %18s\n' ranks "wall s" "jobs/s" "records/s" "coord ms/record"
for n in $ranks; do
    rm -rf "$tmp"/noop.db*
    t0=$(date +%s.%N)
    log=$(timeout -k 5 300 mpirun "${root[@]}" --oversubscribe -n "$n" "$build/fptfarm" run \
          "$tmp/noop.ini" --db "$tmp/noop.db" --noop 2>&1)
    t1=$(date +%s.%N)
    per=$(sed -n 's/.* \([0-9.]*\) ms per epoch record.*/\1/p' <<<"$log")
    stored=$(sqlite3 "$tmp/noop.db" "SELECT count(*) FROM epochs")
    [[ $stored == 4000 ]] || { echo "ranks $n: $stored records stored, expected 4000"; exit 1; }
    awk -v n="$n" -v a="$t0" -v b="$t1" -v per="$per" \
        'BEGIN { w = b - a; printf "%6d %10.2f %9.1f %12.0f %18s\n", n, w, 200 / w, 4000 / w, per }'
done
