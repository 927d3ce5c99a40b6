// cmd_run.c — `mpirun -n N fptfarm run SPEC.ini [--db FILE] [--max-crashes K] ...`:
// its arguments.  The farm itself is farm/farm.h: rank 0 coordinates
// (farm/coordinator.c), ranks > 0 run jobs (farm/worker.c).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "farm/farm.h"
#include "store/store.h"

// "USR2" or "SIGUSR2" -> SIGUSR2; 0 if not one we accept as a stop signal.
static int signal_number(const char *name) {
    static const struct { const char *n; int s; } sigs[] = {
        {"TERM", SIGTERM}, {"INT", SIGINT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
        {"HUP", SIGHUP}, {"XCPU", SIGXCPU}, {"QUIT", SIGQUIT}, {"ALRM", SIGALRM},
    };
    if (!strncmp(name, "SIG", 3)) name += 3;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (!strcmp(name, sigs[i].n)) return sigs[i].s;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: mpirun -n N fptfarm run SPEC.ini [--db FILE] [--max-crashes K] "
               "[--retry-failed] [--stop-signal SIG] [--stop-grace S] [--shard I/N] "
               "[--checkpoint-dir DIR] [--journal auto|wal|delete]\n"
               "  --db FILE          results database (default results/<experiment name>.db)\n"
               "  --max-crashes K    a job whose worker died K times is marked failed (default\n"
               "                     3); failed jobs with fewer crashes than K are reopened\n"
               "  --retry-failed     reopen every failed job, its crashes reset to 0\n"
               "  --stop-grace S     on a stop, workers get S seconds (default 120, or three of\n"
               "                     the longest epochs if longer) to checkpoint; a worker that\n"
               "                     has not stopped by then is left, its job back to pending\n"
               "  --journal MODE     SQLite journal of the database: auto (default: WAL on a\n"
               "                     local filesystem, where readers never block the farm; the\n"
               "                     rollback journal on network filesystems), wal or delete\n"
               "  --stop-signal SIG  also stop cleanly on SIG (USR2, HUP, XCPU, ...); SIGTERM and\n"
               "                     SIGINT to rank 0 and SIGUSR1 to mpirun always do\n"
               "  --checkpoint-dir D where workers keep their runs' checkpoints (default\n"
               "                     FILE.ckpt beside the database); on several nodes, a\n"
               "                     directory every node sees, so a requeued job resumes\n"
               "                     its runs wherever its workers land\n"
               "  --shard I/N        run only the jobs whose index i (spec order, from 0) has\n"
               "                     i %% N == I: one shard of the campaign, for Slurm job arrays;\n"
               "                     combine the shards' databases with fptfarm merge\n"
               "  --noop             workers send synthetic epoch records without training:\n"
               "                     measures the farm itself (bench/farm_throughput.sh)\n");
}

// Every rank parses the same arguments; only rank 0 speaks (the help, a
// usage error), and the farm's signals are set before anything is parsed.
int fpt_cmd_run(int argc, char **argv, fpt_err *err) {
    const int rank = fpt_farm_start();
    const char *spec_path = NULL, *db_path = NULL, *ckpt_arg = NULL;
    long max_crashes = 3, shard = 0, shards = 1;
    int bad = 0, extra_signal = 0, noop = 0, retry_failed = 0;
    double grace = 120.0;
    fpt_journal journal = FPT_JOURNAL_AUTO;
    for (int i = 0; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
        else if (!strcmp(argv[i], "--noop")) noop = 1;
        else if (!strcmp(argv[i], "--retry-failed")) retry_failed = 1;
        else if (!strcmp(argv[i], "--stop-grace") && i + 1 < argc) {
            char *end;
            grace = strtod(argv[++i], &end);
            if (*end || !(grace >= 1 && grace <= 86400)) bad = 1;
        } else if (!strcmp(argv[i], "--journal") && i + 1 < argc) {
            const char *j = argv[++i];
            if (!strcmp(j, "auto")) journal = FPT_JOURNAL_AUTO;
            else if (!strcmp(j, "wal")) journal = FPT_JOURNAL_WAL;
            else if (!strcmp(j, "delete")) journal = FPT_JOURNAL_DELETE;
            else bad = 1;
        }
        else if (!strcmp(argv[i], "--checkpoint-dir") && i + 1 < argc) ckpt_arg = argv[++i];
        else if (!strcmp(argv[i], "--shard") && i + 1 < argc) {
            char *end;
            shard = strtol(argv[++i], &end, 10);
            if (*end != '/') bad = 1;
            else shards = strtol(end + 1, &end, 10);
            if (*end || shards < 1 || shards > 100000 || shard < 0 || shard >= shards) bad = 1;
        }
        else if (!strcmp(argv[i], "--stop-signal") && i + 1 < argc) {
            extra_signal = signal_number(argv[++i]);
            if (!extra_signal) bad = 1;
        }
        else if (!strcmp(argv[i], "--max-crashes") && i + 1 < argc) {
            char *end;
            max_crashes = strtol(argv[++i], &end, 10);
            if (*end || max_crashes < 1 || max_crashes > 1000) bad = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            if (rank == 0) usage(stdout);
            fpt_farm_end();
            return 0;
        } else if (argv[i][0] != '-' && !spec_path) spec_path = argv[i];
        else bad = 1;
    }
    if (extra_signal) fpt_farm_stop_signal(extra_signal);
    if (bad || !spec_path) {   // every rank ends; rank 0 says why
        if (rank == 0)
            fpt_fail(err, "usage: mpirun -n N fptfarm run SPEC.ini [--db FILE] [--max-crashes K] "
                          "[--retry-failed] [--stop-signal SIG] [--stop-grace S] [--shard I/N] "
                          "[--checkpoint-dir DIR] [--journal auto|wal|delete] (max-crashes "
                          "1..1000; SIG one of TERM, INT, USR1, USR2, HUP, XCPU, QUIT, ALRM; "
                          "stop-grace 1..86400 s; shard 0 <= I < N)");
        fpt_farm_end();
        return rank == 0 ? -1 : 0;   // workers did nothing wrong
    }
    const fpt_farm_options o = {
        .spec_path = spec_path, .db_path = db_path, .ckpt_dir = ckpt_arg,
        .max_crashes = max_crashes, .retry_failed = retry_failed, .stop_grace = grace,
        .shard = shard, .shards = shards, .journal = journal, .noop = noop,
    };
    return fpt_farm_run(&o, err);
}
