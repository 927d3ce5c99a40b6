# deploy/slurm/lib.sh — shared by fptfarm.sbatch, fptfarm-array.sbatch and
# fptfarm-merge.sbatch (sourced, never run).  It holds everything the three
# scripts have in common: finding fptfarm, reading the spec, the safe database
# copy, staging the database on node-local disk, launching the farm, turning
# Slurm's time-limit signal into an orderly stop, and requeueing.
#
# Knobs: environment variables, read when the job starts.  sbatch exports the
# submitting shell's environment to the job (--export=ALL, the default) and a
# requeued job keeps it, so `FPTFARM_X=... sbatch ...` sets a knob for every
# restart of that job.  Each knob and its default:
#
#   FPTFARM_HOME        the fptfarm source tree (for build/fptfarm and this
#                       file).  Default: found from the submitted script's
#                       path (`scontrol show job`: Slurm runs a copy of the
#                       script from its spool directory, so $0 is no help),
#                       else $SLURM_SUBMIT_DIR.
#   FPTFARM_BIN         the fptfarm binary.  Default: $FPTFARM_HOME/build/fptfarm,
#                       else `fptfarm` on PATH.  Every node must be able to run it.
#   FPTFARM_DB          the final results database: where it lives between
#                       jobs and where the results end up.  Default:
#                       results/<experiment name>.db under $SLURM_SUBMIT_DIR
#                       (the same default as `fptfarm run`).  An array task
#                       uses <FPTFARM_DB minus .db>.shard-<i>-of-<n>.db.
#   FPTFARM_COPY        1 (default): run on a copy of the database on node-local
#                       disk (SQLite's locks are unreliable on NFS/Lustre/GPFS)
#                       and copy it back safely at the end, on a stop, and every
#                       FPTFARM_BACKUP_EVERY seconds.  0: run directly on
#                       FPTFARM_DB, for sites whose shared filesystem has working
#                       POSIX locks.
#   FPTFARM_LOCAL_DIR   node-local directory under which the job makes
#                       fptfarm-<job id>/ for its working copy (and the srun
#                       host file).  Default: $SLURM_TMPDIR, else $TMPDIR,
#                       else /tmp.  Removed after a successful copy back.
#   FPTFARM_CKPT_DIR    where workers keep their runs' checkpoints
#                       (--checkpoint-dir).  Default: <FPTFARM_DB>.ckpt, beside
#                       the final database: on several nodes it must be a
#                       directory every node sees, or a resumed run restarts
#                       from epoch 1 (still correct, only slower).
#   FPTFARM_BACKUP_EVERY seconds between safe copies of the working database to
#                       FPTFARM_DB while the farm runs (default 1800; 0 = off).
#                       They bound what a hard kill (node failure, a limit
#                       enforced before the farm could stop) loses.
#   FPTFARM_MAX_REQUEUES most restarts (SLURM_RESTART_COUNT) after which a
#                       stopped campaign is no longer requeued (default 20).
#   FPTFARM_LAUNCHER    srun (default) or mpirun: how the ranks are started.
#   FPTFARM_SRUN_MPI    srun's --mpi plugin (default pmix: the only one that
#                       works with Debian's Open MPI).
#   FPTFARM_SRUN_ARGS   extra srun arguments (word-split), e.g. "--cpu-bind=cores".
#   FPTFARM_MPIRUN_ARGS extra mpirun arguments (word-split), e.g. "--mca btl self,vader".
#   FPTFARM_RUN_ARGS    extra `fptfarm run` arguments (word-split), e.g.
#                       "--max-crashes 5".
#
# Ranks and threads.  Ask Slurm for one task per worker with the worker's
# threads as --cpus-per-task (-n W -c T; several nodes: -N K -n W -c T, or
# --ntasks-per-node).  The farm is started with W+1 ranks: rank 0, the
# coordinator, is an extra task on the batch host (the first node) beside
# that node's workers.  srun gets --overcommit for that one extra task (the
# coordinator sleeps 1 ms between polls: about 4% of a core in `ps` on 2
# workers here, and "coordinator busy 0.3 s" in a 26 s run); the allocation
# itself asks for no CPU it does not use.  With srun the layout is
# explicit (--distribution=arbitrary and a host file): rank 0 on the batch
# host, where the working database is, then each node's workers.  With
# mpirun (--oversubscribe), Open MPI fills the nodes' slots in order, rank 0
# first, and the one extra rank lands on the first node again.
#
# OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are set to --cpus-per-task for
# every rank, so no library starts more threads than the task has CPUs.  What
# a worker actually trains with is the spec's `threads` key (default 2):
# fptfarm sets OpenMP's and OpenBLAS's thread count to it, overriding the
# environment.  Keep `threads = T` in the spec equal to -c T; the job warns
# when they differ (more threads than CPUs oversubscribes the node; fewer
# leaves CPUs idle).  `threads` is part of the spec, so it cannot change
# between restarts of a campaign.
#
# Stopping.  `#SBATCH --signal=B:TERM@N` sends SIGTERM to this batch shell
# alone N seconds before the limit.  The shell forwards it as SIGUSR1 to srun
# or mpirun, which both pass SIGUSR1 on to every rank: the coordinator stops
# in order (workers finish their epoch, checkpoint, hand their jobs back) and
# fptfarm exits 3; workers ignore the signal.  Never SIGTERM to srun: srun
# answers it with "forcing job termination" and SIGKILLs the tasks (measured);
# mpirun answers SIGTERM by killing the job too.  Choose N longer than the
# slowest epoch plus the copy back.  Other signals to the batch shell
# (`scancel --batch --signal=...`): TERM, INT, USR1, XCPU stop and requeue;
# USR2 stops without requeueing (resubmit the same command to resume).  A
# plain `scancel JOBID` also stops the farm in order when it can (the
# coordinator gets SIGTERM; within KillWait), copies back, and is final:
# only a job that Slurm still has RUNNING is requeued.
#
# Exit statuses of the farm, and what the job does after copying back:
#   0  campaign complete (the report is in the job's output): exit 0.
#   3  stopped: `scontrol requeue` this job (same script, same arguments, same
#      environment), unless FPTFARM_MAX_REQUEUES restarts were made, the
#      stop came from SIGUSR2, or the job is no longer RUNNING (cancelled,
#      timed out, preempted); then exit 3.
#   4  complete, but jobs are marked failed (their workers died
#      --max-crashes times): exit 4, no requeue; resubmit with
#      FPTFARM_RUN_ARGS=--retry-failed once the cause is known.
#   else  an error: exit with it, no requeue (running the same job again
#      resumes once the cause is fixed).
#
# Checkpoints and the working copy.  A worker checkpoints only after the
# coordinator committed the epoch to the WORKING database, so checkpoints may
# be ahead of the final database until the copy back.  If a job dies before
# copying back (node failure, SIGKILL), resuming from the older final
# database with those checkpoints would skip epochs.  So the job writes a
# marker (.fptfarm-job in the checkpoint directory) before starting and
# removes it after the copy back; a job that finds a marker left by a job
# no longer running discards the checkpoints first (the runs that were going
# restart from epoch 1; their stored epochs are upserted, never doubled).  A
# marker of a job still running means two jobs on one database: refused.

FPT_LAUNCH_GRACE=10   # s: a stop signal is not forwarded sooner after launch
                      # (ranks ignore SIGUSR1 only from just after MPI_Init)

fpt_log() { printf 'fptfarm-slurm: %(%F %T)T %s\n' -1 "$*" >&2; }
fpt_die() {
    fpt_log "error: $*"
    exit 1
}

# fpt_spec_value SPEC KEY: the value of KEY in the spec's [experiment]
# section (comments and blanks stripped), empty if absent.
fpt_spec_value() {
    awk -v key="$2" '
        { sub(/[;#].*/, "") }
        /^[ \t]*\[/ { s = $0; gsub(/[ \t\[\]]/, "", s); sec = s; next }
        sec == "experiment" {
            i = index($0, "=")
            if (i == 0) next
            k = substr($0, 1, i - 1); v = substr($0, i + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (k == key) { print v; exit }
        }' "$1"
}

# fpt_abs PATH: PATH made absolute against the current directory.
fpt_abs() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
    esac
}

# fpt_init SPEC: checks the tools and the spec; sets FPT_SPEC (absolute),
# FPT_NAME, FPT_BIN, FPT_FINAL (the final database, absolute).
fpt_init() {
    [ $# -ge 1 ] && [ -n "$1" ] || fpt_die "usage: sbatch $FPT_SCRIPT SPEC.ini (see the comments at the top of $FPT_SCRIPT)"
    [ -r "$1" ] || fpt_die "$1: no such spec file (relative paths are taken from $PWD)"
    FPT_SPEC=$(fpt_abs "$1")
    FPT_NAME=$(fpt_spec_value "$FPT_SPEC" name)
    [ -n "$FPT_NAME" ] || fpt_die "$FPT_SPEC: no 'name' in [experiment]"
    if [ -n "${FPTFARM_BIN:-}" ]; then
        FPT_BIN=$FPTFARM_BIN
    elif [ -x "$FPTFARM_HOME/build/fptfarm" ]; then
        FPT_BIN=$FPTFARM_HOME/build/fptfarm
    else
        FPT_BIN=$(command -v fptfarm) || fpt_die "no fptfarm: build it (make) or set FPTFARM_BIN"
    fi
    [ -x "$FPT_BIN" ] || fpt_die "$FPT_BIN: not an executable (FPTFARM_BIN)"
    FPT_BIN=$(fpt_abs "$FPT_BIN")
    FPT_FINAL=$(fpt_abs "${FPTFARM_DB:-${SLURM_SUBMIT_DIR:-$PWD}/results/$FPT_NAME.db}")
    if [ "${FPTFARM_COPY:-1}" != 0 ]; then
        command -v sqlite3 >/dev/null ||
            fpt_die "sqlite3 (the command-line shell) is needed to copy the database safely: install it (Debian: sqlite3) or set FPTFARM_COPY=0"
    fi
    case $FPT_FINAL in *"'"*) fpt_die "$FPT_FINAL: a database path may not contain a single quote" ;; esac
    mkdir -p "$(dirname "$FPT_FINAL")" || fpt_die "cannot create the directory of $FPT_FINAL"
}

# fpt_safe_copy SRC DST: DST becomes a complete, consistent copy of the
# SQLite database SRC, or stays as it was.  SQLite's backup API (sqlite3
# .backup) reads SRC in consistent snapshots even while the farm writes it
# (a copy with cp could catch a half-written transaction), into a temporary
# file beside DST; the copy is checked (PRAGMA quick_check), synced, and
# renamed over DST, which is atomic on one filesystem: DST is never partial.
fpt_safe_copy() {
    local src=$1 dst=$2 tmp out
    [ -f "$src" ] || {
        fpt_log "copy: $src does not exist"
        return 1
    }
    tmp="$(dirname "$dst")/.$(basename "$dst").tmp-$BASHPID-$RANDOM"
    case $src$tmp in *"'"*) fpt_log "copy: paths may not contain a single quote" && return 1 ;; esac
    # .timeout: wait (up to 60 s) for the farm's commit to finish instead of
    # failing on a locked database; the farm waits for ours as long as it takes.
    if ! out=$(sqlite3 -bail "$src" ".timeout 60000" ".backup '$tmp'" 2>&1); then
        fpt_log "copy: backup of $src failed: $out"
        rm -f "$tmp" "$tmp-journal"
        return 1
    fi
    if ! out=$(sqlite3 -bail "$tmp" "PRAGMA quick_check" 2>&1) || [ "$out" != ok ]; then
        fpt_log "copy: the copy of $src fails its check: $out"
        rm -f "$tmp" "$tmp-journal"
        return 1
    fi
    # A copy has no writer: the live database's lease (fptfarm >= schema 5)
    # is not the copy's.  And the copy gets the rollback journal: it may
    # live on a network filesystem, where WAL cannot work.
    if ! out=$(sqlite3 -bail "$tmp" "PRAGMA journal_mode = DELETE" 2>&1) ||
        { [ "$(sqlite3 -bail "$tmp" "SELECT count(*) FROM sqlite_schema WHERE name = 'lease'")" = 1 ] &&
            ! out=$(sqlite3 -bail "$tmp" "DELETE FROM lease" 2>&1); }; then
        fpt_log "copy: cannot finish the copy of $src: $out"
        rm -f "$tmp" "$tmp-journal" "$tmp-wal" "$tmp-shm"
        return 1
    fi
    sync "$tmp" 2>/dev/null || true
    mv -f "$tmp" "$dst" || {
        rm -f "$tmp"
        return 1
    }
    sync "$(dirname "$dst")" 2>/dev/null || true
}

# fpt_copy_retry SRC DST: fpt_safe_copy, three tries (a shared filesystem
# may hiccup).
fpt_copy_retry() {
    local i
    for i in 1 2 3; do
        fpt_safe_copy "$1" "$2" && return 0
        sleep $((i * 5))
    done
    return 1
}

# fpt_tasks_per_node: SLURM_TASKS_PER_NODE ("2(x3),1") as one count per
# node ("2 2 2 1"), in the order of SLURM_JOB_NODELIST.
fpt_tasks_per_node() {
    local part n k parts out=()
    IFS=, read -ra parts <<<"${SLURM_TASKS_PER_NODE:-${SLURM_NTASKS:-1}}"
    for part in "${parts[@]}"; do
        if [[ $part =~ ^([0-9]+)\(x([0-9]+)\)$ ]]; then
            n=${BASH_REMATCH[1]}
            for ((k = 0; k < BASH_REMATCH[2]; k++)); do out+=("$n"); done
        else
            out+=("$part")
        fi
    done
    echo "${out[@]}"
}

# fpt_job_ref: this job as scontrol and squeue name it alone.  An array
# task's own SLURM_JOB_ID is no good: when it equals the array's job id,
# `scontrol requeue` of it requeues EVERY task of the array (measured: it
# killed a sibling task in the middle of its stop).
fpt_job_ref() {
    if [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
        echo "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    else
        echo "${SLURM_JOB_ID:-}"
    fi
}

# fpt_job_state: this job's state as Slurm's controller sees it (RUNNING,
# CANCELLED, ...; "unknown" if it cannot be asked).
fpt_job_state() {
    local st="" i
    for i in 1 2 3; do
        st=$(scontrol show job "$(fpt_job_ref)" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1)
        [ -n "$st" ] && break
        sleep $((2 * i))
    done
    echo "${st:-unknown}"
}

# fpt_marker_check CKPT FINAL: handles a marker left in the checkpoint
# directory (see "Checkpoints and the working copy" above).
fpt_marker_check() {
    local ck=$1 final=$2 m=$1/.fptfarm-job job mode state n
    [ -f "$m" ] || return 0
    job=$(sed -n 's/^job=//p' "$m")
    mode=$(sed -n 's/^mode=//p' "$m")
    if [ -n "$job" ] && [ "$job" != "$(fpt_job_ref)" ] && command -v squeue >/dev/null; then
        state=$(squeue -h -j "$job" -o %T 2>/dev/null | head -1) || state=""
        case $state in
        RUNNING | COMPLETING | SUSPENDED | STOPPED | CONFIGURING)
            fpt_die "job $job ($state) is working on the same campaign ($m); two jobs on one database would collide: cancel one"
            ;;
        esac
    fi
    if [ "$mode" = copy ]; then
        n=$(find "$ck" -maxdepth 1 -name 'job-*.ckpt*' | wc -l)
        find "$ck" -maxdepth 1 -name 'job-*.ckpt*' -delete
        fpt_log "job ${job:-?} ended without copying its database back (hard kill or node failure?): discarded $n checkpoint file(s) that may be ahead of $final; the runs that were going restart from epoch 1"
    else
        fpt_log "job ${job:-?} (direct mode) ended without cleaning up; its checkpoints match the database and are kept"
    fi
    rm -f "$m"
}

# The signal handler of the batch shell (see "Stopping" above).
fpt_on_signal() {
    local sig=$1 now
    FPT_TRAPPED=1
    [ "$sig" = USR2 ] && FPT_NO_REQUEUE=1
    case $FPT_PHASE in
    setup)
        FPT_STOP_EARLY=1
        fpt_log "SIG$sig before the farm started: it will not be started"
        ;;
    run)
        if [ "$FPT_STOP_SENT" = 1 ]; then
            fpt_log "SIG$sig again: the farm is already stopping"
            return
        fi
        FPT_STOP_SENT=1
        now=$(date +%s)
        if ((now - FPT_LAUNCH_TIME < FPT_LAUNCH_GRACE)); then
            # The ranks may still be in MPI_Init, before they handle SIGUSR1
            # (its default action kills them): give them the grace.
            sleep $((FPT_LAUNCH_GRACE - (now - FPT_LAUNCH_TIME)))
        fi
        fpt_log "SIG$sig: asking the farm to stop (SIGUSR1 to $FPT_LAUNCHER, pid $FPT_LAUNCHER_PID): workers finish their epoch and checkpoint"
        kill -USR1 "$FPT_LAUNCHER_PID" 2>/dev/null || true
        ;;
    *)
        # After the farm ended, e.g. the SIGTERM that Slurm sends to a job
        # that requeues itself: nothing left to stop.
        fpt_log "SIG$sig after the farm ended: ignored"
        ;;
    esac
}

# fpt_backup_loop WORK FINAL: every FPTFARM_BACKUP_EVERY seconds a safe copy
# (run in the background; stopped with SIGTERM before the final copy back).
# It ends as soon as the batch shell is gone: a shell killed outright
# (scancel --batch --signal=KILL, measured) leaves it reparented to init,
# where proctrack/linuxproc no longer sees it, and a stray loop would copy a
# stale working database over the results of a later job.
fpt_backup_loop() {
    local sp="" shell=$$ me=$BASHPID   # $$ in a subshell: the batch shell's pid
    trap '[ -n "$sp" ] && kill "$sp" 2>/dev/null; exit 0' TERM
    trap '' INT USR1 USR2 XCPU   # the job's stop signals are the main shell's
    while :; do
        sleep "$FPTFARM_BACKUP_EVERY" &
        sp=$!
        wait "$sp"
        sp=""
        # Still the batch shell's child?  ($PPID is not updated in a subshell.)
        [ "$(sed 's/.*) //' "/proc/$me/stat" 2>/dev/null | cut -d' ' -f2)" = "$shell" ] || exit 0
        if fpt_safe_copy "$1" "$2"; then
            fpt_log "periodic backup: $1 -> $2"
        else
            fpt_log "periodic backup failed; retrying in $FPTFARM_BACKUP_EVERY s"
        fi
    done
}

# fpt_campaign FINAL [fptfarm run options...]: runs (or resumes) the
# campaign whose final database is FINAL; exits the job (never returns).
fpt_campaign() {
    local final=$1
    shift
    local copy=${FPTFARM_COPY:-1} every=${FPTFARM_BACKUP_EVERY:-1800}
    local maxrq=${FPTFARM_MAX_REQUEUES:-20} restarts=${SLURM_RESTART_COUNT:-0}
    local ck=${FPTFARM_CKPT_DIR:-$final.ckpt}
    local cpt=${SLURM_CPUS_PER_TASK:-1} ntasks=0 counts c
    # Workers: one per task slot Slurm allocated on each node.  That is
    # SLURM_NTASKS, except when --ntasks-per-node on the command line meets
    # the script's --ntasks: then Slurm allocates ntasks-per-node slots (and
    # their CPUs) on every node but leaves SLURM_NTASKS as it was (measured:
    # -N 2 --ntasks-per-node=2 with --ntasks=2 gives SLURM_NTASKS=2,
    # SLURM_TASKS_PER_NODE=2(x2)); the slots are what was paid for.
    read -ra counts <<<"$(fpt_tasks_per_node)"
    for c in "${counts[@]}"; do ntasks=$((ntasks + c)); done
    local spec_threads jobdir work rc=0 bpid="" saved=1
    FPT_LAUNCHER=${FPTFARM_LAUNCHER:-srun}
    case $FPT_LAUNCHER in srun | mpirun) ;; *) fpt_die "FPTFARM_LAUNCHER must be srun or mpirun, not '$FPT_LAUNCHER'" ;; esac
    [[ $every =~ ^[0-9]+$ ]] || fpt_die "FPTFARM_BACKUP_EVERY must be a number of seconds"
    [[ $maxrq =~ ^[0-9]+$ ]] || fpt_die "FPTFARM_MAX_REQUEUES must be a number"
    ck=$(fpt_abs "$ck")
    FPT_PHASE=setup FPT_STOP_SENT=0 FPT_STOP_EARLY=0 FPT_NO_REQUEUE=0 FPT_TRAPPED=0
    trap 'fpt_on_signal TERM' TERM
    trap 'fpt_on_signal INT' INT
    trap 'fpt_on_signal USR1' USR1
    trap 'fpt_on_signal XCPU' XCPU
    trap 'fpt_on_signal USR2' USR2

    spec_threads=$(fpt_spec_value "$FPT_SPEC" threads)
    if [ -n "${SLURM_NTASKS:-}" ] && [ "$ntasks" != "$SLURM_NTASKS" ]; then
        fpt_log "note: $ntasks task slots allocated (SLURM_TASKS_PER_NODE=$SLURM_TASKS_PER_NODE) for SLURM_NTASKS=$SLURM_NTASKS: running $ntasks workers"
    fi
    fpt_log "job $(fpt_job_ref) on ${SLURMD_NODENAME:-$(hostname)}: SLURM_RESTART_COUNT=$restarts (at most $maxrq requeues); spec $FPT_SPEC ($FPT_NAME); $ntasks worker(s) x $cpt CPU(s) on ${SLURM_JOB_NUM_NODES:-1} node(s) [${SLURM_JOB_NODELIST:-}] + the coordinator; launcher $FPT_LAUNCHER"
    if [ "${spec_threads:-2}" != "$cpt" ]; then
        fpt_log "warning: the spec's threads = ${spec_threads:-2 (default)} but --cpus-per-task = $cpt: each worker trains with ${spec_threads:-2} threads on $cpt CPU(s); make them equal"
    fi

    # First (before touching anything): another job on this campaign?  A
    # job that died without copying back?
    fpt_marker_check "$ck" "$final"
    jobdir=${FPTFARM_LOCAL_DIR:-${SLURM_TMPDIR:-${TMPDIR:-/tmp}}}/fptfarm-${SLURM_JOB_ID:-$$}
    mkdir -p "$jobdir" "$ck" || fpt_die "cannot create $jobdir or $ck"
    # Leftovers of copies interrupted by a kill (never a complete database).
    find "$(dirname "$final")" -maxdepth 1 -name ".$(basename "$final").tmp-*" -delete 2>/dev/null || true

    if [ "$copy" != 0 ]; then
        work=$jobdir/$(basename "$final")
        rm -f "$work" "$work-journal" "$work-wal" "$work-shm"
        if [ -f "$final" ]; then
            fpt_copy_retry "$final" "$work" || fpt_die "cannot copy $final to $work"
            fpt_log "working on a copy: $final -> $work"
        else
            fpt_log "new campaign: working database $work, copied to $final when the job ends"
        fi
    else
        work=$final
        fpt_log "working directly on $final (FPTFARM_COPY=0)"
    fi
    printf 'job=%s\nmode=%s\nhost=%s\nworking=%s\nsince=%(%F %T)T\n' "$(fpt_job_ref)" \
        "$([ "$copy" != 0 ] && echo copy || echo direct)" "$(hostname)" "$work" -1 >"$ck/.fptfarm-job"

    export OMP_NUM_THREADS=$cpt OPENBLAS_NUM_THREADS=$cpt
    local cmd=("$FPT_BIN" run "$FPT_SPEC" --db "$work" --checkpoint-dir "$ck" "$@")
    # shellcheck disable=SC2206   # the *_ARGS knobs are word-split on purpose
    cmd+=(${FPTFARM_RUN_ARGS:-})
    local launch=()
    if [ "$FPT_LAUNCHER" = srun ]; then
        # Rank 0 on this (the batch) host, then each node's workers.
        local hf=$jobdir/hostfile nodes i k
        mapfile -t nodes < <(scontrol show hostnames "${SLURM_JOB_NODELIST:-$(hostname)}")
        {
            echo "${SLURMD_NODENAME:-${nodes[0]}}"
            for i in "${!nodes[@]}"; do
                for ((k = 0; k < ${counts[i]:-0}; k++)); do echo "${nodes[i]}"; done
            done
        } >"$hf"
        export SLURM_HOSTFILE=$hf
        # shellcheck disable=SC2206
        launch=(srun --mpi="${FPTFARM_SRUN_MPI:-pmix}" --ntasks=$((ntasks + 1)) --cpus-per-task="$cpt"
            --overcommit --distribution=arbitrary --kill-on-bad-exit=1 ${FPTFARM_SRUN_ARGS:-})
    else
        launch=(mpirun -n $((ntasks + 1)) --oversubscribe --bind-to none
            -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
        [ "$(id -u)" = 0 ] && launch+=(--allow-run-as-root)
        # shellcheck disable=SC2206
        launch+=(${FPTFARM_MPIRUN_ARGS:-})
    fi

    if [ "$FPT_STOP_EARLY" = 1 ]; then
        rc=3
        fpt_log "not started (stop signal during setup)"
    else
        if [ "$copy" != 0 ] && [ "$every" -gt 0 ]; then
            FPTFARM_BACKUP_EVERY=$every fpt_backup_loop "$work" "$final" &
            bpid=$!
        fi
        fpt_log "launching: ${launch[*]} ${cmd[*]}"
        FPT_LAUNCH_TIME=$(date +%s)
        "${launch[@]}" "${cmd[@]}" </dev/null &
        FPT_LAUNCHER_PID=$!
        FPT_PHASE=run
        [ "$FPT_STOP_EARLY" = 1 ] && fpt_on_signal TERM
        # A trapped signal makes `wait` return 128+signal at once, whether or
        # not the farm has exited: wait again after every trap.  Bash keeps
        # the status of a child it has already reaped, so the second wait
        # returns the farm's own status even when the farm ended during the
        # trap (measured: a scancel in the launch grace gave 143 instead of
        # fptfarm's 3 when judged by kill -0).
        while :; do
            rc=0 FPT_TRAPPED=0
            wait "$FPT_LAUNCHER_PID" || rc=$?
            ((rc > 128)) && [ "$FPT_TRAPPED" = 1 ] && continue
            break
        done
        FPT_PHASE=after
        fpt_log "the farm exited with status $rc"
        if [ -n "$bpid" ]; then
            kill -TERM "$bpid" 2>/dev/null || true
            wait "$bpid" 2>/dev/null || true
        fi
    fi

    # Copy back: after any exit of the farm (it has closed the database; after
    # a crash SQLite rolls back the unfinished transaction while reading it).
    if [ "$copy" != 0 ] && [ -f "$work" ]; then
        if fpt_copy_retry "$work" "$final"; then
            fpt_log "database copied back: $work -> $final"
        else
            saved=0
            fpt_log "error: could not copy $work back to $final; the working copy is kept at $(hostname):$work, copy it by hand"
        fi
    fi
    if [ "$saved" = 1 ]; then
        rm -f "$ck/.fptfarm-job"
        rm -rf "$jobdir"   # ours: the working copy (now saved) and the host file
    fi
    if [ -f "$final" ]; then "$FPT_BIN" status "$final" >&2 || true; fi

    if [ "$saved" != 1 ]; then
        exit $((rc == 0 || rc == 3 ? 1 : rc))
    fi
    case $rc in
    0)
        fpt_log "campaign complete (SLURM_RESTART_COUNT=$restarts); results in $final"
        exit 0
        ;;
    3)
        if [ "$FPT_NO_REQUEUE" = 1 ]; then
            fpt_log "stopped by SIGUSR2: not requeued; submit the same command again to resume"
            exit 3
        fi
        if [ -z "${SLURM_JOB_ID:-}" ]; then
            fpt_log "stopped (not under Slurm): run the same command again to resume"
            exit 3
        fi
        # A stop is not always the time-limit warning: `scancel JOBID` sends
        # SIGTERM to the batch shell as well (and to everything else), and
        # `scontrol requeue` of a job being cancelled succeeds (measured: the
        # cancelled campaign came back).  So requeue only a job Slurm still
        # has RUNNING; CANCELLED, TIMEOUT (the limit itself), PREEMPTED, ...
        # mean someone else decides what happens next.
        local state
        state=$(fpt_job_state)
        if [ "$state" != RUNNING ]; then
            fpt_log "stopped; the job is $state (scancel, the limit itself, preemption?): not requeued; submit the same command again to resume"
            exit 3
        fi
        if ((restarts >= maxrq)); then
            fpt_log "stopped, but this job has been restarted $restarts times (FPTFARM_MAX_REQUEUES=$maxrq): not requeued; submit again to resume"
            exit 3
        fi
        local ref
        ref=$(fpt_job_ref)
        fpt_log "stopped; requeueing job $ref (restart $((restarts + 1)) of at most $maxrq)"
        # Slurm answers with SIGTERM to this shell, which the trap ignores
        # now (FPT_PHASE=after); exit before it follows up with SIGKILL.
        if scontrol requeue "$ref"; then
            fpt_log "requeued"
            exit 0
        fi
        fpt_log "error: scontrol requeue $ref failed; submit the same command again to resume"
        exit 3
        ;;
    4)
        fpt_log "campaign complete except its failed jobs (see above); not requeued: resubmit with FPTFARM_RUN_ARGS=--retry-failed to try them again"
        exit 4
        ;;
    *)
        fpt_log "error: the farm failed (status $rc; its message is above); not requeued"
        exit "$rc"
        ;;
    esac
}
