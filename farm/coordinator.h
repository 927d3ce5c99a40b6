// coordinator.h — rank 0 of the farm (coordinator.c): it sets up the
// database and the jobs, hands jobs to the workers (worker.h) and commits
// what they send (proto.h).  farm.c starts it; nothing else does.
#ifndef FPT_COORDINATOR_H
#define FPT_COORDINATOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "campaign/job_spec.h"
#include "data/dataset.h"
#include "farm/proto.h"
#include "store/store.h"

// The coordinator's state.  The caller zeroes it, sets the fields marked
// "caller" before fpt_coord_setup, and may read the fields marked "result"
// after fpt_coord_run; the rest belongs to coordinator.c.
typedef struct fpt_coord {
    const volatile sig_atomic_t *stop;   // caller: nonzero once a stop signal arrived
    int noop;                // caller: --noop: workers send synthetic records, no training
    long shard, shards;      // caller: --shard I/N: this campaign runs jobs i with i % N == I
    int max_crashes;         // caller: --max-crashes
    double stop_grace;       // caller: seconds workers get to stop (--stop-grace)
    const fpt_job_spec *spec;
    fpt_store *db;           // result: the open database (the caller closes it)
    int64_t *job_ids;        // (n_jobs) database ids, in spec order
    size_t *queue;           // job indices still to hand out
    size_t n_queue, next;
    int64_t *worker_job;     // (size) job index each worker runs, -1 idle
    int *worker_epoch;       // (size) last epoch it reported for that job
    struct pending_ack *buf;   // records received, not yet committed
    int n_buf;
    double first_buffered;
    long epochs_done, jobs_done, jobs_total;
    long jobs_failed;        // result: of jobs_done, marked failed (crash limit)
    double busy;             // seconds spent handling messages and committing
    double t_start, last_progress;
    // Adaptive campaigns (campaign.h): jobs come from planning steps, taken
    // when every issued job has finished; workers asking meanwhile wait.
    int adaptive, campaign_done;   // result: adaptive
    int64_t exp_id;          // result: the experiment's id in the database
    char *parked;            // (size) 1: the worker asked and waits for a job
    char phase[16];          // for the status line
    msg_request *hosts;      // (size) each worker's last request
    const char *ckpt_dir;
    double lock_wait;        // seconds the current statement has waited for a lock
    double last_renew;       // when the lease was last renewed
    double stop_since;       // when the stop was first seen (0: not yet)
    double longest_epoch;    // seconds, the longest epoch reported
    fpt_dataset data;        // setup: the training data, for its fingerprint (then freed)
} fpt_coord;

// Rank 0 before any worker starts: loads and checks the data (one training
// step's memory too) and a replay table, makes the checkpoint directory,
// opens the database at db_path with `journal` and takes its lease, then
// records the experiment and its jobs (those of this shard; failed jobs
// reopened per max_crashes and retry_failed) and queues the unfinished.
// size: the number of MPI ranks.  A bad dataset leaves an existing database
// untouched.  On failure c->db may be open: close it, then fpt_coord_free.
int fpt_coord_setup(fpt_coord *c, const fpt_job_spec *spec, const char *db_path,
                    const char *ckpt_dir, int size, int max_crashes, int retry_failed,
                    fpt_journal journal, fpt_err *err);

// Once every worker's setup agreed: says what the farm will do, serves the
// workers until every one has ended (finished, no more jobs, or stopped),
// then draws the last status line.  A stop (*c->stop) ends the jobs at their
// next epoch; a worker that does not stop within the grace is left and the
// MPI job aborted with FPT_FARM_EXIT_STOPPED (farm.h).  -1 with err set on
// an error (the database, a worker's TAG_ERROR): what is committed stays,
// the caller ends the farm.
int fpt_coord_run(fpt_coord *c, int size, const char *db_path, fpt_err *err);

// Frees what fpt_coord_setup allocated (not the database: fpt_store_close).
void fpt_coord_free(fpt_coord *c);

#endif
