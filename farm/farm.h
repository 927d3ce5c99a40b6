// farm.h — the MPI farm, as `fptfarm run` starts it (farm.c): every rank
// calls fpt_farm_start, then fpt_farm_run (or fpt_farm_end to stop early);
// rank 0 becomes the coordinator (coordinator.h), the others workers
// (worker.h).
#ifndef FPT_FARM_H
#define FPT_FARM_H

#include "base/error.h"
#include "store/store.h"

#define FPT_FARM_EXIT_STOPPED 3       // stopped by a signal: the same command resumes
#define FPT_FARM_EXIT_FAILED_JOBS 4   // complete, but jobs are marked failed: a person must look

typedef struct fpt_farm_options {
    const char *spec_path;   // the job spec (required)
    const char *db_path;     // the results database; NULL: results/<experiment name>.db
    const char *ckpt_dir;    // the checkpoint directory; NULL: <database>.ckpt
    long max_crashes;        // a job whose worker died this often is marked failed (1..1000)
    int retry_failed;        // reopen every failed job, its crashes reset
    double stop_grace;       // seconds workers get to stop (1..86400)
    long shard, shards;      // run only jobs i with i % shards == shard
    fpt_journal journal;     // the database's journal (FPT_JOURNAL_AUTO, _WAL, _DELETE)
    int noop;                // workers send synthetic records without training
} fpt_farm_options;

// Starts MPI and the stop signals: SIGTERM or SIGINT sent to rank 0, or
// SIGUSR1 sent to mpirun (which forwards it to every rank), stop the farm
// cleanly; workers ignore them.  Returns this process's rank.
int fpt_farm_start(void);

// One more stop signal (--stop-signal), handled as the ones above.
void fpt_farm_stop_signal(int sig);

// Ends MPI, for a command that stops before fpt_farm_run (help, usage).
void fpt_farm_end(void);

// Runs the farm (after fpt_farm_start; ends MPI).  Rank 0 loads the spec and
// sets up the database and the jobs, tells every rank whether to go and
// hands them the spec; every worker checks its setup; then rank 0
// coordinates while the others run jobs.  When the campaign is complete
// (not stopped, not a shard, not --noop) rank 0 fits it into the database
// and reports the fit on stdout.  Rank 0 returns 0, FPT_FARM_EXIT_STOPPED,
// FPT_FARM_EXIT_FAILED_JOBS, or -1 with err set (a setup error on any rank:
// then no job was started); workers return 0, and an error while the farm
// runs aborts the MPI job with one line.
int fpt_farm_run(const fpt_farm_options *o, fpt_err *err);

#endif
