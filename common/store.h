// store.h — the SQLite results database (results/schema.sql, version 3).
//
// One fpt_store wraps one connection with every statement prepared once.
// Settings: PRAGMA foreign_keys=ON, synchronous=FULL, busy_timeout, and a
// rollback journal (journal_mode=DELETE) unless the options ask for WAL with
// locking_mode=EXCLUSIVE (one writer process, e.g. the farm's coordinator).
//
// Every write runs in a transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on
// error).  Calls nest: inside fpt_store_begin/commit the functions below use
// a savepoint instead, so a caller can make many calls all-or-nothing.
//
// Idempotence (see results/schema.sql): experiments and jobs are
// insert-or-get; epochs and first passages are upserts on their keys, so
// storing the same record twice leaves one row with the same values.
//
// Errors name the database path and carry sqlite3_errmsg.  Nothing prints.
#ifndef FPT_STORE_H
#define FPT_STORE_H

#include <stdint.h>

#include "error.h"
#include "run.h"

#define FPT_STORE_SCHEMA_VERSION 4

// The schema: results/schema.sql, compiled in by the Makefile.
extern const char fpt_store_schema_sql[];

typedef struct fpt_store fpt_store;

typedef struct fpt_store_options {
    int wal_exclusive;     // 1: journal_mode=WAL + locking_mode=EXCLUSIVE
    int busy_timeout_ms;   // <= 0: 5000
} fpt_store_options;

// Opens path.  create=1: create the file if missing and the schema if the
// database is empty.  create=0: the file must exist and hold the schema.
// Refuses files that are not SQLite databases, SQLite databases that are not
// fptfarm's, and newer schema versions; upgrades older ones in place (one
// transaction: either the new version or the database as it was).
// o may be NULL (defaults).
int fpt_store_open(fpt_store **out, const char *path, int create, const fpt_store_options *o,
                   fpt_err *err);
void fpt_store_close(fpt_store *s);   // NULL is fine; rolls back an open transaction
const char *fpt_store_path(const fpt_store *s);
// The connection, for the store's own modules (store_fit.c) only.
struct sqlite3;
struct sqlite3 *fpt_store_sqlite(fpt_store *s);

// Explicit transaction around several calls (nestable: inner levels are
// savepoints).  rollback undoes the innermost level and never fails.
int fpt_store_begin(fpt_store *s, fpt_err *err);
int fpt_store_commit(fpt_store *s, fpt_err *err);
void fpt_store_rollback(fpt_store *s);

// Insert-or-get by name.  source is "farm" or "import".  An existing name
// with a different spec_hash is an error.  *created (may be NULL) is 1 if the
// row was inserted.
int fpt_store_experiment(fpt_store *s, const char *name, const char *spec_text,
                         const char *spec_hash, const char *source, int64_t *id, int *created,
                         fpt_err *err);

// Insert-or-get on (experiment, protocol, timing, frequency, seed); a new
// job is 'pending'.  timing: "none", "periodic" or "geometric".
int fpt_store_job(fpt_store *s, int64_t experiment_id, const char *protocol, const char *timing,
                  double frequency, int64_t seed, int64_t *id, int *created, fpt_err *err);

// The job's id, or 0 in *id when there is none (nothing is written).
int fpt_store_job_find(fpt_store *s, int64_t experiment_id, const char *protocol,
                       const char *timing, double frequency, int64_t seed, int64_t *id,
                       fpt_err *err);

typedef enum fpt_job_state {
    FPT_JOB_PENDING,
    FPT_JOB_RUNNING,
    FPT_JOB_DONE,
    FPT_JOB_FAILED,
    FPT_JOB_DIVERGED,
    FPT_JOB_NSTATES
} fpt_job_state;

const char *fpt_job_state_name(fpt_job_state st);

// pending -> running: attempts+1, worker, host and compute (the worker's
// fpt_backend_describe(); each may be NULL), started_at.
int fpt_store_job_start(fpt_store *s, int64_t job_id, int worker, const char *host,
                        const char *compute, fpt_err *err);
// pending|running -> done, diverged or failed, with finished_at.
int fpt_store_job_finish(fpt_store *s, int64_t job_id, fpt_job_state final, fpt_err *err);
// running -> crashes+1 and pending, or failed (with finished_at) once crashes
// reaches max_crashes (>= 1).  *failed (may be NULL) tells which.
int fpt_store_job_crash(fpt_store *s, int64_t job_id, int max_crashes, int *failed, fpt_err *err);

// Upserts n epoch records of a job in one transaction: all or none.  NaN in
// train_loss, test_loss, lr or seconds is stored as NULL (test_acc must be a
// number).
int fpt_store_add_epochs(fpt_store *s, int64_t job_id, const fpt_epoch_record *recs, int n,
                         fpt_err *err);

// Upserts a first passage: epoch >= 1 if reached; epoch == 0 for censored at
// last_epoch (>= 1).
int fpt_store_first_passage(fpt_store *s, int64_t job_id, double target, int epoch,
                            int last_epoch, fpt_err *err);

typedef struct fpt_job_counts {
    int64_t by_state[FPT_JOB_NSTATES];   // indexed by fpt_job_state
    int64_t total;
} fpt_job_counts;

// Jobs of an experiment by state.
int fpt_store_job_counts(fpt_store *s, int64_t experiment_id, fpt_job_counts *c, fpt_err *err);

// running -> pending without counting a crash (a clean stop on a signal).
int fpt_store_job_release(fpt_store *s, int64_t job_id, fpt_err *err);
int fpt_store_job_state(fpt_store *s, int64_t job_id, fpt_job_state *state, fpt_err *err);

// One row of the v_progress view: an experiment's jobs by state.
typedef struct fpt_progress_row {
    int64_t experiment_id;
    char experiment[256];
    int64_t jobs, epochs;
    int64_t by_state[FPT_JOB_NSTATES];   // indexed by fpt_job_state
} fpt_progress_row;

// Calls fn for each experiment, in creation order; fn returns non-zero to stop.
typedef int (*fpt_progress_fn)(const fpt_progress_row *row, void *ctx);
int fpt_store_progress(fpt_store *s, fpt_progress_fn fn, void *ctx, fpt_err *err);

// ---- the analysis (store_fit.c) ----------------------------------------------
struct fpt_runs;
struct fpt_fit;

// The finished runs of experiment `name` (NULL: the database's only
// experiment; an error lists the names when there are several).
int fpt_store_load_runs(fpt_store *s, const char *name, struct fpt_runs *out, fpt_err *err);
// Stores a fit, replacing the experiment's earlier fit at the same target,
// in one transaction.
int fpt_store_save_fit(fpt_store *s, const struct fpt_fit *f, fpt_err *err);
// The stored fits of experiment `name` (NULL: the only one), by target:
// *fits is an array of *n (free each with fpt_fit_free, then the array).
int fpt_store_load_fits(fpt_store *s, const char *name, struct fpt_fit **fits, int *n,
                        fpt_err *err);

// ---- merging databases (store_merge.c) -----------------------------------------

// One experiment of a merge, as it stands in the output afterwards.
typedef struct fpt_merge_summary {
    char experiment[256];
    int inputs;                          // inputs that hold the experiment
    int64_t jobs, epochs;                // the output's
    int64_t by_state[FPT_JOB_NSTATES];   // the output's jobs, indexed by fpt_job_state
    int64_t conflicts;                   // jobs finished with different traces in two sources
    int64_t fits_deleted;                // stale fits removed: run `fptfarm fit` again
} fpt_merge_summary;

// Merges the results databases inputs[0..n_inputs) into out, in one
// transaction (the rules: store_merge.c).  Inputs are opened read-only and
// never written.  On success *summary is an array of *n_summary entries (one
// per experiment found in the inputs, in order of first appearance), to be
// released with free(); on error out is as it was.
int fpt_store_merge(fpt_store *out, const char *const *inputs, int n_inputs,
                    fpt_merge_summary **summary, int *n_summary, fpt_err *err);

#endif
