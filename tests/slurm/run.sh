#!/bin/bash
# tests/slurm/run.sh — the deploy/slurm scripts against a real Slurm 22.05.
#
#   bash tests/slurm/run.sh        # from the project root, as root, after `make`
#
# It installs Debian's slurmctld, slurmd, slurm-client and munge if they are
# missing, starts a private single-node cluster (tests/slurm/cluster.sh: its
# own config, state, ports and munged socket in a temporary directory; no
# systemd, no accounting), runs the tests below on tiny campaigns, stops every
# daemon it started and removes its directory, whatever happens (trap EXIT).
# Each check prints PASS or FAIL; the exit status is 1 if any failed.  When
# the packages cannot be installed (no network, no apt, not root) it prints
# one "SKIPPED: ..." line and exits 0.  About 5 minutes on 2 cores.
#
#   t1  fptfarm.sbatch, srun launcher, working copy on node-local disk: the
#       campaign completes; the database is complete and consistent; the
#       output has the fit line; nothing is left behind.
#   t2  the same with the mpirun launcher, directly on the final database
#       (FPTFARM_COPY=0).
#   t3  the time limit: --time=1 with --signal=B:TERM@45 on an ~80 s
#       campaign: the farm stops in order (exit 3), the database is copied
#       back, the job requeues itself, and again, until the campaign is done;
#       every job done exactly once, no crash counted.  Periodic backups run
#       meanwhile (FPTFARM_BACKUP_EVERY=5).
#   t4  a hard kill (SIGKILL to the batch shell) then the same job submitted
#       again: the new job finds the old one's marker, discards checkpoints
#       that may be ahead of the final database, and completes every job
#       with every epoch exactly once.
#   t5  scancel --batch --signal=USR2: stops, copies back, NOT requeued
#       (exit 3); the same submission again completes the campaign.
#   t6  the job array (3 shards) with a stop-and-requeue of every task
#       (SIGTERM to each batch shell), then the merge job submitted by task 0
#       (afterok on the array): the merged database is the whole campaign,
#       each run exactly once, and it is fitted.
#   t7  two nodes (two slurmd on this host), with srun and with mpirun: 4
#       workers from -N 2 --ntasks-per-node=2, the coordinator and 2 workers
#       on the batch node, 2 workers on the other.
#   t8  a second job on a campaign that a running job works on is refused;
#       FPTFARM_MAX_REQUEUES=0 stops without requeueing.
#   t9  a plain `scancel JOBID` saves the database and is not undone by a
#       requeue (the script requeues only a job Slurm still has RUNNING).
#
# Knobs: SLURM_TEST_KEEP=1 keeps the temporary directory (logs, databases)
# for a post-mortem; the cluster knobs of tests/slurm/cluster.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/fptfarm
# Hermetic: no knob of the caller's reaches the jobs (they inherit the env).
unset "${!FPTFARM_@}" SLURM_CONF 2>/dev/null || true

skip() {
    echo "SKIPPED: $*"
    exit 0
}

# ---- packages ----------------------------------------------------------------
PKGS=(slurmctld slurmd slurm-client munge sqlite3)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
if command -v dpkg-query >/dev/null; then
    for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
else
    for c in slurmctld slurmd sbatch munged sqlite3; do command -v "$c" >/dev/null || missing+=("$c"); done
fi
if ((${#missing[@]})); then
    [ "$(id -u)" = 0 ] || skip "Slurm tests need root to install ${missing[*]} (apt-get)"
    command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
    echo "installing ${missing[*]} ..."
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
            --no-install-recommends "${missing[@]}" >/tmp/fptfarm-slurm-apt.log 2>&1
    }
    if ! apt_install; then
        apt-get -o DPkg::Lock::Timeout=300 update >>/tmp/fptfarm-slurm-apt.log 2>&1 || true
        apt_install || skip "cannot install ${missing[*]} (no network?): $(tail -1 /tmp/fptfarm-slurm-apt.log)"
    fi
fi
[ "$(id -u)" = 0 ] || skip "Slurm tests start slurmd, which needs root"
[ -x "$BIN" ] || {
    echo "FAIL: $BIN is not built (make build/fptfarm)"
    exit 1
}
command -v mpirun >/dev/null || {
    echo "FAIL: mpirun not found (deploy/install-deps.sh)"
    exit 1
}

# ---- the cluster ---------------------------------------------------------------
# shellcheck source=tests/slurm/cluster.sh
. "$ROOT/tests/slurm/cluster.sh"
T=$(mktemp -d /tmp/fptfarm-slurm-test.XXXXXX)
chmod 755 "$T"
cleanup() {
    local rc=$?
    slurm_cluster_down "$T/cluster" || true
    if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then
        echo "kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T0=$SECONDS
slurm_cluster_up "$T/cluster" || {
    echo "FAIL: the test cluster did not start"
    exit 1
}
echo "cluster up in $((SECONDS - T0)) s ($SLURM_CONF)"

# What every job inherits (sbatch exports the environment).
mkdir -p "$T/local" "$T/ompi"
export FPTFARM_LOCAL_DIR=$T/local
export OMPI_MCA_btl=self,vader   # one node: shared memory, no TCP listeners
export OMPI_MCA_orte_tmpdir_base=$T/ompi OMPI_MCA_btl_vader_backing_directory=$T/ompi

FAILS=0
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}
check() { # check LABEL GOT WANT
    if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}
check_ge() { # check_ge LABEL GOT MIN
    if [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3)); then pass "$1 ($2)"; else fail "$1: got '$2', want >= $3"; fi
}
check_grep() { # check_grep LABEL FILE PATTERN
    if grep -Eq -- "$3" "$2" 2>/dev/null; then pass "$1"; else fail "$1: no /$3/ in $2"; fi
}
q() { sqlite3 -readonly "$1" "$2" 2>&1; }

# A spec: spec FILE NAME EPOCHS TRAIN_IMAGES.  6 jobs (3 seeds, [none] and
# [shrink_perturb] every 2 epochs) of a width-2 ResNet, like tests/test_farm.c.
spec() {
    cat >"$1" <<EOF
[experiment]
name = $2
seeds = 1-3
dataset = synthetic
synth_train = $4
synth_test = 100
width = 2
epochs = $3
batch = 50
target = 20, 30
threads = 1
[none]
[shrink_perturb]
periods = 2
EOF
}

# check_db LABEL DB JOBS EPOCHS: every job done, epochs 1..E each exactly
# once, one first passage per target, no run twice, integrity ok.
check_db() {
    local l=$1 db=$2 n=$3 e=$4
    if [ ! -f "$db" ]; then
        fail "$l: no database $db"
        return
    fi
    check "$l: jobs" "$(q "$db" "SELECT count(*) FROM jobs")" "$n"
    check "$l: jobs done" "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'done'")" "$n"
    check "$l: distinct runs" "$(q "$db" "SELECT count(DISTINCT protocol || frequency || ':' || seed) FROM jobs")" "$n"
    check "$l: epoch rows = jobs x $e" "$(q "$db" "SELECT count(*) FROM epochs")" "$((n * e))"
    check "$l: jobs with epochs 1..$e exactly once" "$(q "$db" "SELECT count(*) FROM (SELECT job_id FROM epochs GROUP BY job_id HAVING min(epoch) = 1 AND max(epoch) = $e AND count(*) = $e)")" "$n"
    check "$l: first passages" "$(q "$db" "SELECT count(*) FROM first_passages")" "$((2 * n))"
    check "$l: integrity_check" "$(q "$db" "PRAGMA integrity_check")" ok
}

job_field() { # job_field ID FIELD: from scontrol show job
    scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
# wait_job ID SECONDS: until the job has ended for good (a requeued job
# passes through PENDING again); prints its final state.
wait_job() {
    local end=$((SECONDS + $2)) st=""
    while ((SECONDS < end)); do
        st=$(job_field "$1" JobState)
        case $st in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
            echo "$st"
            return 0
            ;;
        esac
        sleep 1
    done
    scancel "$1" 2>/dev/null || true
    echo "STILL-$st-AFTER-$2s"
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while ((SECONDS < end)); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}
show_log() { # on failure: the end of a job's output
    echo "---- $1 (last 25 lines)"
    tail -25 "$1" 2>/dev/null || true
    echo "----"
}
submit() { # submit DIR sbatch-args...: prints the job id
    local d=$1
    shift
    (cd "$d" && sbatch --parsable "$@") | cut -d';' -f1
}
SB=$ROOT/deploy/slurm/fptfarm.sbatch
SBA=$ROOT/deploy/slurm/fptfarm-array.sbatch

# ---- t1: srun, node-local working copy ------------------------------------------
t=$SECONDS
W=$T/t1 && mkdir -p "$W" && spec "$W/t1.ini" t1 3 200
id=$(submit "$W" "$SB" t1.ini)
st=$(wait_job "$id" 120)
out=$W/fptfarm-$id.out
check "t1: job state" "$st" COMPLETED
check "t1: exit code" "$(job_field "$id" ExitCode)" 0:0
check_db t1 "$W/results/t1.db" 6 3
check_grep "t1: srun launcher, 2 workers + coordinator" "$out" "launching: srun --mpi=pmix --ntasks=3 --cpus-per-task=1 --overcommit --distribution=arbitrary"
check_grep "t1: fit line in the output" "$out" "fptfarm: (no analysis yet|analysis stored)"
check_grep "t1: campaign complete" "$out" "campaign complete \(SLURM_RESTART_COUNT=0\)"
check "t1: working copy removed" "$(find "$T/local" -maxdepth 1 -name "fptfarm-$id" | wc -l)" 0
check "t1: marker removed, no checkpoint left" "$(find "$W/results/t1.db.ckpt" -mindepth 1 | wc -l)" 0
check "t1: no temporary copies left" "$(find "$W/results" -name '.*tmp-*' | wc -l)" 0
[ "$FAILS" = 0 ] || show_log "$out"
echo "t1: $((SECONDS - t)) s"

# ---- t2: mpirun, directly on the final database ----------------------------------
t=$SECONDS
W=$T/t2 && mkdir -p "$W/db" && spec "$W/t2.ini" t2 3 200
f0=$FAILS
id=$(FPTFARM_LAUNCHER=mpirun FPTFARM_COPY=0 FPTFARM_DB=db/t2-direct.db submit "$W" "$SB" t2.ini)
st=$(wait_job "$id" 120)
out=$W/fptfarm-$id.out
check "t2: job state" "$st" COMPLETED
check_db t2 "$W/db/t2-direct.db" 6 3
check_grep "t2: mpirun launcher" "$out" "launching: mpirun -n 3 --oversubscribe"
check_grep "t2: direct mode" "$out" "working directly on $W/db/t2-direct.db"
check_grep "t2: fit line in the output" "$out" "fptfarm: (no analysis yet|analysis stored)"
[ "$FAILS" = "$f0" ] || show_log "$out"
echo "t2: $((SECONDS - t)) s"

# ---- t3: the time limit: stop, copy back, requeue, until done ----------------------
t=$SECONDS
W=$T/t3 && mkdir -p "$W" && spec "$W/t3.ini" t3 40 1000
f0=$FAILS
id=$(FPTFARM_BACKUP_EVERY=5 submit "$W" --time=1 --signal=B:TERM@45 "$SB" t3.ini)
st=$(wait_job "$id" 420)
out=$W/fptfarm-$id.out
restarts=$(job_field "$id" Restarts)
check "t3: job state" "$st" COMPLETED
check "t3: exit code" "$(job_field "$id" ExitCode)" 0:0
check_ge "t3: restarts (scontrol)" "$restarts" 1
check "t3: orderly stops (fptfarm 'stopped by signal')" "$(grep -c 'stopped by signal' "$out" || true)" "$restarts"
check "t3: farm exits with status 3" "$(grep -c 'the farm exited with status 3' "$out" || true)" "$restarts"
check "t3: copies back after a stop" "$(grep -c 'database copied back' "$out" || true)" "$((restarts + 1))"
check "t3: self-requeues" "$(grep -c 'fptfarm-slurm: .* requeued$' "$out" || true)" "$restarts"
check "t3: SLURM_RESTART_COUNT seen 0..$restarts" "$(grep -o 'SLURM_RESTART_COUNT=[0-9]* (at most' "$out" | tr -dc '0-9\n' | paste -sd,)" "$(seq -s, 0 "$restarts")"
check_grep "t3: completes at the last restart" "$out" "campaign complete \(SLURM_RESTART_COUNT=$restarts\)"
check_grep "t3: periodic backups" "$out" "periodic backup: "
check "t3: no SIGKILLed step" "$(grep -c 'Killed\|forcing job termination' "$out" || true)" 0
check_db t3 "$W/results/t3.db" 6 40
check "t3: crashes counted" "$(q "$W/results/t3.db" "SELECT sum(crashes) FROM jobs")" 0
check_ge "t3: attempts (resumed jobs start again)" "$(q "$W/results/t3.db" "SELECT sum(attempts) FROM jobs")" 7
# When did the warning come?  Seconds from each start to its SIGTERM.
gaps=$(awk '/SLURM_RESTART_COUNT=/ { split($3, a, ":"); s = a[1]*3600 + a[2]*60 + a[3] }
            /SIGTERM: asking the farm to stop/ { split($3, a, ":"); printf "%s%d", sep, a[1]*3600 + a[2]*60 + a[3] - s; sep = "," }' "$out")
echo "t3: $restarts restarts; seconds from start to SIGTERM in each cut run: $gaps (--time=1, @45)"
[ "$FAILS" = "$f0" ] || show_log "$out"
echo "t3: $((SECONDS - t)) s"

# ---- t4: hard kill, then the same job again -----------------------------------------
t=$SECONDS
W=$T/t4 && mkdir -p "$W" && spec "$W/t4.ini" t4 20 600
f0=$FAILS
id=$(FPTFARM_BACKUP_EVERY=2 submit "$W" "$SB" t4.ini)
db=$W/results/t4.db
has_epochs() {
    local n
    n=$(q "$db" "SELECT count(*) FROM epochs" 2>/dev/null) || return 1
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 15))
}
if wait_for 90 has_epochs; then
    sleep 1
    # SIGKILL to the batch shell: no trap, no copy back; Slurm then ends the
    # job's step (the farm gets SIGTERM and stops) as when a node is lost.
    scancel --batch --signal=KILL "$id"
    st=$(wait_job "$id" 60)
    case $st in FAILED | CANCELLED) pass "t4: killed job ended ($st)" ;; *) fail "t4: killed job: state $st" ;; esac
    check "t4: marker left by the killed job" "$(sed -n 's/^job=//p' "$W/results/t4.db.ckpt/.fptfarm-job" 2>/dev/null)" "$id"
    echo "t4: killed with $(q "$db" "SELECT count(*) FROM epochs") epochs in the final database and $(find "$W/results/t4.db.ckpt" -name 'job-*.ckpt' | wc -l) checkpoint(s)"
    # The periodic-backup loop must not outlive its shell (it would copy a
    # stale database over later results).
    sleep 3
    check "t4: no process of the killed job left" "$(pgrep -fc "spool/job$(printf %05d "$id")/slurm_script" || true)" 0
    id2=$(submit "$W" "$SB" t4.ini)
    st=$(wait_job "$id2" 180)
    out=$W/fptfarm-$id2.out
    check "t4: resubmitted job's state" "$st" COMPLETED
    check_grep "t4: stale checkpoints discarded" "$out" "job $id ended without copying its database back .*discarded [1-9][0-9]* checkpoint"
    check_db t4 "$db" 6 20
    [ "$FAILS" = "$f0" ] || show_log "$out"
else
    fail "t4: no periodic backup with 15 epochs within 90 s"
    show_log "$W/fptfarm-$id.out"
fi
echo "t4: $((SECONDS - t)) s"

# ---- t5: SIGUSR2: stop without requeue; resubmit to finish ----------------------------
t=$SECONDS
W=$T/t5 && mkdir -p "$W" && spec "$W/t5.ini" t5 20 600
f0=$FAILS
id=$(submit "$W" "$SB" t5.ini)
out=$W/fptfarm-$id.out
if wait_for 60 grep -qs "launching:" "$out"; then
    sleep 5
    scancel --batch --signal=USR2 "$id"
    st=$(wait_job "$id" 90)
    check "t5: state after SIGUSR2" "$st" FAILED
    check "t5: exit code" "$(job_field "$id" ExitCode)" 3:0
    check "t5: restarts" "$(job_field "$id" Restarts)" 0
    check_grep "t5: not requeued" "$out" "stopped by SIGUSR2: not requeued"
    check_grep "t5: copied back" "$out" "database copied back"
    db=$W/results/t5.db
    check "t5: integrity after the stop" "$(q "$db" "PRAGMA integrity_check")" ok
    check "t5: no epoch twice" "$(q "$db" "SELECT count(*) FROM (SELECT job_id, epoch FROM epochs GROUP BY 1, 2 HAVING count(*) > 1)")" 0
    echo "t5: stopped with $(q "$db" "SELECT count(*) FROM epochs") of 120 epochs"
    id2=$(submit "$W" "$SB" t5.ini)
    st=$(wait_job "$id2" 180)
    check "t5: resubmitted job's state" "$st" COMPLETED
    check_db t5 "$db" 6 20
    [ "$FAILS" = "$f0" ] || show_log "$W/fptfarm-$id2.out"
else
    fail "t5: the farm never launched"
    show_log "$out"
fi
echo "t5: $((SECONDS - t)) s"

# ---- t6: job array, every task stopped and requeued once, then the merge ---------------
t=$SECONDS
W=$T/t6 && mkdir -p "$W" && spec "$W/t6.ini" t6 20 600
f0=$FAILS
aid=$(submit "$W" --array=0-2 "$SBA" t6.ini)
launched() { (($(cat "$W"/fptfarm-"${aid}"_*.out 2>/dev/null | grep -c "launching:") >= 3)); }
if wait_for 90 launched; then
    sleep 4
    scancel --batch --signal=TERM "$aid"   # every task's batch shell
    for i in 0 1 2; do
        st=$(wait_job "${aid}_$i" 240)
        check "t6: task $i state" "$st" COMPLETED
        check_ge "t6: task $i restarts" "$(job_field "${aid}_$i" Restarts)" 1
        check_grep "t6: task $i requeued itself" "$W/fptfarm-${aid}_$i.out" "requeueing job ${aid}_$i "
        check "t6: task $i never SIGKILLed" "$(grep -c 'DUE TO JOB REQUEUE\|forcing job termination' "$W/fptfarm-${aid}_$i.out" || true)" 0
        check_db "t6: shard $i" "$W/results/t6.shard-$i-of-3.db" 2 20
    done
    mid=$(sed -n 's/.*merge job \([0-9]*\) submitted.*/\1/p' "$W/fptfarm-${aid}_0.out" | head -1)
    if [ -n "$mid" ]; then
        st=$(wait_job "$mid" 120)
        check "t6: merge job state" "$st" COMPLETED
        mout=$W/fptfarm-merge-$mid.out
        check_grep "t6: fptfarm merge ran" "$mout" "^merge: t6: 3 inputs, 6 jobs \(6 done\), 120 epochs; 0 conflicts"
        check_grep "t6: fit line" "$mout" "(no analysis yet|fit stored)"
        check_grep "t6: merge complete" "$mout" "merged: every job of 't6' is finished"
        check_db "t6: merged" "$W/results/t6.db" 6 20
        check "t6: crashes counted" "$(q "$W/results/t6.db" "SELECT sum(crashes) FROM jobs")" 0
        [ "$FAILS" = "$f0" ] || show_log "$mout"
    else
        fail "t6: task 0 did not submit the merge job"
    fi
    [ "$FAILS" = "$f0" ] || show_log "$W/fptfarm-${aid}_0.out"
else
    fail "t6: the array's farms never launched"
    show_log "$W/fptfarm-${aid}_0.out"
fi
echo "t6: $((SECONDS - t)) s"

# ---- t7: two nodes (two slurmd on this host), srun and mpirun ----------------------
# -N 2 --ntasks-per-node=2 against the script's own --ntasks=2: Slurm gives
# 2 task slots on each node but SLURM_NTASKS=2; the script must run 4
# workers, rank 0 (the coordinator, beside the working copy) on the batch
# node with 2 workers, and 2 workers on the other node.  A wrapper records
# where each rank runs.  Ranks on the two "nodes" talk over TCP (see
# tests/slurm/cluster.sh: shared memory across fake nodes collides).
cat >"$T/wrap.sh" <<EOF
#!/bin/bash
[ "\${1:-}" = run ] && echo "fptfarm-rank: rank=\${OMPI_COMM_WORLD_RANK:-\${PMIX_RANK:-\${SLURM_PROCID:-?}}} node=\${SLURMD_NODENAME:-?}" >&2
exec "$BIN" "\$@"
EOF
chmod +x "$T/wrap.sh"
for launcher in srun mpirun; do
    t=$SECONDS
    W=$T/t7-$launcher && mkdir -p "$W" && spec "$W/t7.ini" t7 3 200
    f0=$FAILS
    id=$(OMPI_MCA_btl=self,tcp FPTFARM_BIN=$T/wrap.sh FPTFARM_LAUNCHER=$launcher submit "$W" -N 2 --ntasks-per-node=2 "$SB" t7.ini)
    st=$(wait_job "$id" 120)
    out=$W/fptfarm-$id.out
    check "t7 $launcher: job state" "$st" COMPLETED
    check_db "t7 $launcher" "$W/results/t7.db" 6 3
    check_grep "t7 $launcher: 4 workers from 2 slots x 2 nodes" "$out" "6 to run on 4 workers"
    bnode=$(sed -n 's/.* job [0-9_]* on \(n[0-9]*\): SLURM_RESTART_COUNT.*/\1/p' "$out" | head -1)
    check "t7 $launcher: rank 0 on the batch node" "$(sed -n 's/^fptfarm-rank: rank=0 node=//p' "$out" | head -1)" "$bnode"
    check "t7 $launcher: ranks on the batch node" "$(grep -c "^fptfarm-rank: rank=[0-9]* node=$bnode\$" "$out" || true)" 3
    check "t7 $launcher: ranks on the other node" "$(grep '^fptfarm-rank: ' "$out" | grep -vc "node=$bnode\$" || true)" 2
    [ "$FAILS" = "$f0" ] || show_log "$out"
    echo "t7 $launcher: $((SECONDS - t)) s"
done

# ---- t8: a second job on a running campaign is refused; FPTFARM_MAX_REQUEUES ------------
t=$SECONDS
W=$T/t8 && mkdir -p "$W" && spec "$W/t8.ini" t8 20 600
f0=$FAILS
id=$(FPTFARM_MAX_REQUEUES=0 submit "$W" "$SB" t8.ini)
out=$W/fptfarm-$id.out
if wait_for 60 grep -qs "launching:" "$out"; then
    id2=$(submit "$W" "$SB" t8.ini)
    st=$(wait_job "$id2" 60)
    check "t8: second job refused" "$st/$(job_field "$id2" ExitCode)" FAILED/1:0
    check_grep "t8: refusal names the running job" "$W/fptfarm-$id2.out" "job $id \(RUNNING\) is working on the same campaign"
    sleep 2
    scancel --batch --signal=TERM "$id"
    st=$(wait_job "$id" 90)
    check "t8: stopped, not requeued (FPTFARM_MAX_REQUEUES=0)" "$st/$(job_field "$id" ExitCode)/$(job_field "$id" Restarts)" FAILED/3:0/0
    check_grep "t8: says why" "$out" "FPTFARM_MAX_REQUEUES=0\): not requeued"
    check "t8: integrity" "$(q "$W/results/t8.db" "PRAGMA integrity_check")" ok
    check "t8: marker removed after the copy back" "$(find "$W/results/t8.db.ckpt" -name .fptfarm-job | wc -l)" 0
    [ "$FAILS" = "$f0" ] || show_log "$out"
else
    fail "t8: the farm never launched"
    show_log "$out"
fi
echo "t8: $((SECONDS - t)) s"

# ---- t9: a plain scancel is not undone by a requeue ---------------------------------
t=$SECONDS
W=$T/t9 && mkdir -p "$W" && spec "$W/t9.ini" t9 20 600
f0=$FAILS
id=$(submit "$W" "$SB" t9.ini)
out=$W/fptfarm-$id.out
if wait_for 60 grep -qs "launching:" "$out"; then
    sleep 4
    scancel "$id"
    st=$(wait_job "$id" 90)
    sleep 3   # a wrongly requeued job would be PENDING by now
    check "t9: cancelled for good" "$(job_field "$id" JobState)/$(job_field "$id" Restarts)" CANCELLED/0
    check_grep "t9: not requeued" "$out" "stopped; the job is [A-Z]+ .*not requeued"
    check_grep "t9: copied back" "$out" "database copied back"
    check "t9: integrity" "$(q "$W/results/t9.db" "PRAGMA integrity_check")" ok
    [ "$FAILS" = "$f0" ] || show_log "$out"
else
    fail "t9: the farm never launched"
    show_log "$out"
fi
echo "t9: $((SECONDS - t)) s"

echo "Slurm tests: $FAILS failure(s) in $((SECONDS - T0)) s"
[ "$FAILS" = 0 ]
