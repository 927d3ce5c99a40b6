// store.h — the SQLite results database (results/schema.sql, version 6).
//
// One fpt_store wraps one connection with every statement prepared once.
// Settings: PRAGMA foreign_keys=ON, synchronous=FULL, a busy handler that
// backs off and retries, and the journal mode the options ask for (readers
// leave it as the database has it).
//
// What is refused on open, with one line and nothing written: an empty path
// or ":memory:" (SQLite would give a temporary database and discard it),
// files that are not SQLite databases, SQLite databases of another program
// (application_id, or for databases of fptfarm before version 5 their tables
// compared with the schema that version had), newer schema versions, and a
// database that fails PRAGMA quick_check.  Older fptfarm databases are
// upgraded in place (one transaction: the new version or the database as it
// was).
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

#include "base/error.h"
#include "train/run.h"

#define FPT_STORE_SCHEMA_VERSION 6
// PRAGMA application_id of fptfarm's databases from version 5 on: "FPTF".
#define FPT_STORE_APPLICATION_ID 0x46505446

// The schema: results/schema.sql, compiled in by the Makefile.
extern const char fpt_store_schema_sql[];

typedef struct fpt_store fpt_store;

// The journal: WAL lets readers (the sqlite3 shell, a notebook, fptfarm
// status/fit/plot) read a live database without ever blocking its writer,
// but needs shared memory between the processes, which network filesystems
// (NFS, Lustre, GPFS, CIFS, ...) do not give: there the rollback journal is
// used, and a reader's open transaction makes the writer wait (it waits and
// retries; it never fails for a reader).  See README "Reliability".
typedef enum fpt_journal {
    FPT_JOURNAL_KEEP,     // leave the database's mode (readers, import, merge)
    FPT_JOURNAL_AUTO,     // WAL on a local filesystem, rollback elsewhere
    FPT_JOURNAL_WAL,
    FPT_JOURNAL_DELETE,   // the rollback journal
} fpt_journal;

// Called while a statement waits for another process's lock, about once a
// second: waited is the seconds so far.  Returns 0 to keep waiting.
typedef int (*fpt_store_wait_fn)(void *ctx, double waited);

typedef struct fpt_store_options {
    int wal_exclusive;     // 1: journal_mode=WAL + locking_mode=EXCLUSIVE (one process)
    int busy_timeout_ms;   // how long to wait for a lock: 0: 30000; < 0: for ever
    fpt_journal journal;
    fpt_store_wait_fn on_wait;   // may be NULL
    void *wait_ctx;
} fpt_store_options;

// The journal mode AUTO picks for a database at path (in the directory that
// will hold it): FPT_JOURNAL_WAL or FPT_JOURNAL_DELETE, and *fs (may be NULL)
// names the filesystem type ("nfs", "ext4/xfs/...: local", ...).
fpt_journal fpt_store_journal_for(const char *path, const char **fs);
const char *fpt_store_journal_name(fpt_journal j);

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

// The database's identity (results/schema.sql, table farm): 32 hex digits.
const char *fpt_store_database_id(const fpt_store *s);

// A read transaction: every read until fpt_store_snapshot_end sees the
// database as it was at the first one (a live campaign's commits wait, in
// rollback mode, or go on beside it, in WAL mode).  Not inside a write.
int fpt_store_snapshot_begin(fpt_store *s, fpt_err *err);
void fpt_store_snapshot_end(fpt_store *s);

// ---- the writer's lease (table lease) ----------------------------------------
// One process writes a database at a time: `fptfarm run`'s coordinator for
// its whole session, import and merge for their transaction.  Take refuses,
// naming the holder (command, host, pid, since when), while the holder lives:
// on this machine (same /proc/sys/kernel/random/boot_id) while its pid runs
// with the same start time; from another machine while its heartbeat is
// younger than FPT_LEASE_STALE_S.  A holder that is gone is taken over and
// *taken_over (may be NULL) describes it.  Renew (inside a write
// transaction, or in one of its own) proves the lease is still this
// process's and refreshes its heartbeat: it fails if another process took it.
#define FPT_LEASE_HEARTBEAT_S 10
#define FPT_LEASE_STALE_S 60
int fpt_store_lease_take(fpt_store *s, const char *command, char *taken_over, size_t cap,
                         fpt_err *err);
// Refuses, as take does, while a live holder has the lease, but writes
// nothing: for import and merge, whose own transaction keeps other writers
// out while it lasts, and which must leave a database they refuse as it was.
int fpt_store_lease_check(fpt_store *s, fpt_err *err);
int fpt_store_lease_renew(fpt_store *s, fpt_err *err);
void fpt_store_lease_release(fpt_store *s);   // no-op when not held

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
// Reopens an experiment's failed jobs: with retry_all, every failed job
// (crashes reset to 0); otherwise those with fewer than max_crashes crashes
// (the limit was raised).  *n (may be NULL): jobs reopened.
int fpt_store_jobs_reopen(fpt_store *s, int64_t experiment_id, int max_crashes, int retry_all,
                          int64_t *n, fpt_err *err);
// The highest epoch stored for job_id (0 if none).
int fpt_store_job_last_epoch(fpt_store *s, int64_t job_id, int *epoch, fpt_err *err);

// A file an experiment depends on, by content.  Records it for the
// experiment the first time; later, a different size or hash is an error
// that names the file and what changed.
typedef struct fpt_store_file {
    const char *role;   // "replay", "train images", ...
    const char *path;
    int64_t bytes;
    uint64_t hash;      // FNV-1a 64 of the content
} fpt_store_file;
int fpt_store_experiment_file(fpt_store *s, int64_t experiment_id, const fpt_store_file *f,
                              fpt_err *err);

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
