#!/bin/bash
# tests/slurm/cluster.sh — a private Slurm 22.05 cluster on this machine,
# for tests/slurm/run.sh (which sources this file) and for trying the
# deploy/slurm scripts by hand:
#
#   bash tests/slurm/cluster.sh up DIR      # start; prints the environment to use
#   bash tests/slurm/cluster.sh down DIR    # stop what `up` started, by PID
#
# Everything lives in DIR: slurm.conf, state, spool, logs, and a private
# munged socket.  Nothing is written to /etc or /run and nothing of a system
# Slurm or munge is touched, so it can run beside a real cluster's daemons:
# the ports are picked free at start, munged has its own socket, and the
# daemons are stopped by the PIDs recorded in DIR/pids.
#
# Knobs (environment):
#   SLURM_TEST_NODES  nodes, n1..nN (default 2): one slurmd each, all on this
#                     host, so that multi-node layouts can be tried.  Single-
#                     node jobs land on any of them (it is the same machine).
#   SLURM_TEST_CPUS   CPUs each node declares (default 32).  More than the 2
#                     real ones, with SlurmdParameters=config_overrides, so an
#                     array's tasks and the coordinator's extra task fit;
#                     jobs still only ever use the CPUs they ask for.
#   SLURM_TEST_AUTH   munge (default) or none (auth/none + cred/none, for a
#                     machine where munged cannot start).
#
# Why each setting (measured on this machine class, /work/shared/HPC-NOTES.md):
#   - loopback only (NoCtldInAddrAny,NoInAddrAny; NodeAddr=127.0.0.1);
#   - SlurmUser=root, no accounting, no systemd: the daemons run in the
#     foreground (-D) under setsid, so their PIDs are ours to stop;
#   - cred_expire=10 and sched/bf intervals of 1-2 s: a requeued job restarts
#     after ~10 s instead of 120 s;
#   - ProctrackType=linuxproc, TaskPlugin=task/none: no cgroups needed;
#   - several slurmd on one host: each its own port, spool, pid and log file
#     (%n), and its own TmpFS, because srun's PMIx plugin makes
#     TmpFS/spmix_appdir_<uid>_<job>.<step> on every node of a step and the
#     second "node" found the first one's directory (measured: the step
#     failed to launch).  TmpFS lives in a per-node copy of slurm.conf, so
#     the controller is told not to compare configuration hashes.  MPI ranks
#     on two such "nodes" must not use shared memory with each other either
#     (Open MPI's vader segments are named by host and collide, measured: a
#     segfault): jobs that span nodes here run with OMPI_MCA_btl=self,tcp.

# Pick a TCP port nobody listens on (from a range away from Slurm's 6817-6819).
_slurm_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 20000))
        if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# slurm_cluster_up DIR: start munged (unless SLURM_TEST_AUTH=none), slurmctld
# and the slurmds with a configuration in DIR; wait until every node is idle.
# Exports SLURM_CONF; returns non-zero (with the logs' tails) on failure.
slurm_cluster_up() {
    local d=$1 cpus=${SLURM_TEST_CPUS:-32} auth=${SLURM_TEST_AUTH:-munge}
    local nn=${SLURM_TEST_NODES:-2} host k nodes="" port
    host=$(hostname)
    mkdir -p "$d"/{state,spool,log,munge,tmp}
    : >"$d/pids"
    # munged refuses to run unless every directory on its paths is
    # inaccessible to others for writing and its own dirs belong to it.
    chmod 755 "$d"
    local cport dport authinfo
    cport=$(_slurm_free_port) && dport=$(_slurm_free_port) || {
        echo "slurm cluster: no free TCP port" >&2
        return 1
    }
    [ "$cport" != "$dport" ] || dport=$((cport + 1))
    if [ "$auth" = munge ]; then
        chown munge:munge "$d/munge"
        chmod 755 "$d/munge"   # like /run/munge: clients need x to reach the socket
        if [ ! -s /etc/munge/munge.key ]; then
            # The munge package makes the key at install; make one if not.
            mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 ||
                dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 2>/dev/null
            chown munge:munge /etc/munge/munge.key
            chmod 600 /etc/munge/munge.key
        fi
        setsid runuser -u munge -- /usr/sbin/munged -F \
            --socket="$d/munge/munge.socket" --pid-file="$d/munge/munged.pid" \
            --log-file="$d/munge/munged.log" --seed-file="$d/munge/munged.seed" \
            </dev/null >>"$d/log/munged.out" 2>&1 &
        echo "munged $!" >>"$d/pids"
        for _ in $(seq 1 50); do
            [ -S "$d/munge/munge.socket" ] && break
            sleep 0.1
        done
        if ! munge -n -S "$d/munge/munge.socket" | unmunge -S "$d/munge/munge.socket" >/dev/null 2>&1; then
            echo "slurm cluster: munged did not start:" >&2
            tail -5 "$d/log/munged.out" "$d/munge/munged.log" >&2 2>/dev/null
            return 1
        fi
        authinfo="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10"
    else
        authinfo="AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=10"
    fi
    cat >"$d/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a private single-node test cluster.
ClusterName=fpttest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$cport
SlurmdPort=$dport
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
$authinfo
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
DebugFlags=NO_CONF_HASH
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=30
MinJobAge=600
SlurmdParameters=config_overrides
EOF
    for ((k = 1; k <= nn; k++)); do
        port=$dport
        ((k == 1)) || port=$(_slurm_free_port) || return 1
        echo "NodeName=n$k NodeHostname=$host NodeAddr=127.0.0.1 Port=$port CPUs=$cpus RealMemory=1000 State=UNKNOWN" >>"$d/slurm.conf"
        nodes+=${nodes:+,}n$k
    done
    echo "PartitionName=test Nodes=$nodes Default=YES MaxTime=INFINITE State=UP" >>"$d/slurm.conf"
    export SLURM_CONF=$d/slurm.conf
    setsid /usr/sbin/slurmctld -D -i -f "$d/slurm.conf" </dev/null >>"$d/log/slurmctld.out" 2>&1 &
    echo "slurmctld $!" >>"$d/pids"
    for ((k = 1; k <= nn; k++)); do
        mkdir -p "$d/spool/n$k" "$d/tmp/n$k"
        { cat "$d/slurm.conf"; echo "TmpFS=$d/tmp/n$k"; } >"$d/slurm-n$k.conf"
        setsid /usr/sbin/slurmd -D -N "n$k" -f "$d/slurm-n$k.conf" </dev/null >>"$d/log/slurmd-n$k.out" 2>&1 &
        echo "slurmd-n$k $!" >>"$d/pids"
    done
    local state=""
    for _ in $(seq 1 60); do
        state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | sort -u | paste -sd,) || true
        [ "$state" = idle ] && return 0
        sleep 0.5
    done
    echo "slurm cluster: nodes not idle after 30 s (states '$state'):" >&2
    tail -5 "$d"/log/*.log "$d"/log/*.out >&2 2>/dev/null
    return 1
}

# slurm_cluster_down DIR: cancel the jobs of this cluster and wait for them
# to go (their steps end with them), stop the daemons recorded in DIR/pids
# (TERM, then KILL after 10 s), then kill any process still carrying this
# cluster's SLURM_CONF in its environment (a job step orphaned by a failed
# test): those are ours by construction, since the path is private to DIR.
slurm_cluster_down() {
    local d=$1 name pid conf=$1/slurm.conf
    [ -f "$d/pids" ] || return 0
    if [ -f "$conf" ]; then
        local ids
        ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o %i 2>/dev/null) || ids=""
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$conf timeout 10 scancel $ids 2>/dev/null || true
            for _ in $(seq 1 45); do
                [ -z "$(SLURM_CONF=$conf timeout 10 squeue -h -o %i 2>/dev/null)" ] && break
                sleep 1
            done
        fi
    fi
    for name in slurmd slurmctld munged; do
        for pid in $(awk -v n="$name" '$1 == n || index($1, n "-") == 1 { print $2 }' "$d/pids"); do
            kill -TERM "$pid" 2>/dev/null || continue
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    (
        unset SLURM_CONF
        # Never this shell or its ancestors (flock, a caller that exported
        # SLURM_CONF before starting us).
        local keep=" " p=$BASHPID
        while [ -n "$p" ] && [ "$p" != 0 ]; do
            keep+="$p "
            p=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $2 }')   # ppid (after "(comm) state")
        done
        for f in /proc/[0-9]*/environ; do
            pid=${f#/proc/}
            pid=${pid%/environ}
            case $keep in *" $pid "*) continue ;; esac
            # (2>/dev/null first: kernel threads' environ cannot be read)
            if tr '\0' '\n' 2>/dev/null <"$f" | grep -qxF "SLURM_CONF=$conf"; then
                echo "slurm cluster: killing leftover process $pid ($(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-80))" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
    )
    rm -f "$d/pids"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-} ${2:-}" in
    up\ ?*)
        slurm_cluster_up "$2"
        echo "export SLURM_CONF=$2/slurm.conf"
        ;;
    down\ ?*) slurm_cluster_down "$2" ;;
    *)
        echo "usage: $0 up|down DIR" >&2
        exit 2
        ;;
    esac
fi
