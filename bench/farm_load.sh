#!/usr/bin/env bash
# bench/farm_load.sh [BUILD] — the coordinator under load.  RANKS (default 64)
# oversubscribed MPI ranks run no-op jobs (`fptfarm run --noop`: workers send
# synthetic epoch records as fast as the coordinator commits and acknowledges
# them) for LOAD_SECONDS (default 30) after the first record is stored; then
# SIGUSR1 to mpirun, the orderly stop (exit 3).  Prints the coordinator's
# resident memory (VmRSS, once a second), the records stored and records/s,
# and checks that nothing was lost: the database holds exactly the records the
# coordinator counted as committed, every trace is 1..k without gaps, done
# jobs have all their epochs, and no job is left running.  Exits 1 if a check
# fails or the memory of the second half of the run exceeds the first half's
# by more than 10% + 1 MiB.  tests/test_faults.c (faults/load_*) runs the
# same for 20 s in the test suite.
set -euo pipefail
build=${1:-build}
ranks=${RANKS:-64}
secs=${LOAD_SECONDS:-30}
jobs=${LOAD_JOBS:-20000}
epochs=${LOAD_EPOCHS:-100}
tmp=$(mktemp -d)
tpid=
cleanup() {
    [[ -n $tpid ]] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
export OMPI_MCA_btl=self,vader OMPI_MCA_orte_tmpdir_base=$tmp
export OMPI_MCA_btl_vader_backing_directory=$tmp OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
root=()
[[ $(id -u) == 0 ]] && root=(--allow-run-as-root)
cat > "$tmp/load.ini" <<INI
[experiment]
name = load
seeds = 1-$jobs
epochs = $epochs
target = 10.5
threads = 1
[none]
INI
db=$tmp/load.db
q() { sqlite3 -cmd '.timeout 10000' "$db" "$1" 2>/dev/null || echo 0; }

# Rank 0 of this run: its environment holds OMPI_COMM_WORLD_RANK=0 and this
# run's own Open MPI directory (other farms may be running); zombies skipped.
rank0() {
    local d
    for d in /proc/[0-9]*; do
        { tr '\0' '\n' < "$d/environ" | grep -qx OMPI_COMM_WORLD_RANK=0 &&
          tr '\0' '\n' < "$d/environ" | grep -qxF "OMPI_MCA_orte_tmpdir_base=$tmp" &&
          ! grep -q '^State:[[:space:]]*Z' "$d/status"; } 2>/dev/null && { echo "${d#/proc/}"; return; }
    done
    return 0
}

echo "farm load: $ranks ranks ($((ranks - 1)) workers) on $(getconf _NPROCESSORS_ONLN) cores, no-op jobs" \
     "($jobs x $epochs records available), ${secs} s"
t_launch=$(date +%s.%N)
timeout -k 5 $((secs + 180)) mpirun "${root[@]}" --oversubscribe -n "$ranks" "$build/fptfarm" \
    run "$tmp/load.ini" --db "$db" --noop > "$tmp/log" 2>&1 &
tpid=$!
r0=
for _ in $(seq 600); do
    [[ -z $r0 ]] && r0=$(rank0)
    [[ -n $r0 && $(q 'SELECT count(*) FROM epochs') != 0 ]] && break
    kill -0 "$tpid" 2>/dev/null || { cat "$tmp/log"; echo "the farm ended early"; exit 1; }
    sleep 0.2
done
[[ -n $r0 ]] || { echo "rank 0 not found"; exit 1; }
t0=$(date +%s.%N)
echo "first record stored $(awk -v a="$t_launch" -v b="$t0" 'BEGIN { printf "%.1f", b - a }') s after the launch"
rss=()
for i in $(seq 0 "$secs"); do
    rss+=("$(awk '/^VmRSS/ { print $2 }' "/proc/$r0/status")")
    [[ $i == "$secs" ]] && break
    sleep "$(awk -v t0="$t0" -v i="$i" -v now="$(date +%s.%N)" 'BEGIN { d = t0 + i + 1 - now; print (d > 0 ? d : 0) }')"
done
t1=$(date +%s.%N)
mpirun_pid=$(ps -o pid= --ppid "$tpid" | tr -d ' ')
kill -USR1 "$mpirun_pid"
rc=0
wait "$tpid" || rc=$?
tpid=
t2=$(date +%s.%N)
echo "coordinator VmRSS kB, once a second: ${rss[*]}"

stored=$(q 'SELECT count(*) FROM epochs')
said=$(sed -n 's/.* \([0-9][0-9]*\) epochs stored this session.*/\1/p' "$tmp/log" | tail -1)
per=$(sed -n 's/.* \([0-9.]*\) ms per epoch record.*/\1/p' "$tmp/log")
gaps=$(q 'SELECT count(*) FROM (SELECT count(*) n, min(epoch) lo, max(epoch) hi FROM epochs GROUP BY job_id) WHERE lo != 1 OR hi != n')
short=$(q "SELECT count(*) FROM jobs j WHERE state = 'done' AND (SELECT count(*) FROM epochs e WHERE e.job_id = j.id) != $epochs")
running=$(q "SELECT count(*) FROM jobs WHERE state = 'running'")
done_jobs=$(q "SELECT count(*) FROM jobs WHERE state = 'done'")
half=$(( (${#rss[@]} + 1) / 2 ))
first=$(printf '%s\n' "${rss[@]:2:$((half - 2))}" | sort -n | tail -1)
second=$(printf '%s\n' "${rss[@]:$half}" | sort -n | tail -1)
awk -v n="$stored" -v a="$t0" -v b="$t1" -v c="$t2" -v per="$per" -v d="$done_jobs" 'BEGIN {
    printf "records stored: %d in %.1f s from the first record to the end of the stop: %.0f records/s, %d jobs done; the stop took %.1f s; coordinator busy %s ms per record\n",
           n, c - a, n / (c - a), d, c - b, per }'
echo "checks: exit $rc (3 = orderly stop); coordinator counted $said, database holds $stored;" \
     "$gaps traces with gaps, $short done jobs short of $epochs epochs, $running jobs left running;" \
     "VmRSS max $first kB (seconds 2-$((half - 1))), $second kB (seconds $half-$secs)"
ok=1
[[ $rc == 3 ]] || ok=0
[[ $said == "$stored" && $gaps == 0 && $short == 0 && $running == 0 ]] || ok=0
(( second <= first + first / 10 + 1024 )) || { echo "memory grew"; ok=0; }
[[ $ok == 1 ]] && echo "OK" || { echo "FAILED (log: kept below)"; tail -20 "$tmp/log"; exit 1; }
