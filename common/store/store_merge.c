// store_merge.c — `fptfarm merge OUT.db IN.db [IN.db ...]`: results databases
// of the same experiment (the shards of a Slurm job array, each run into its
// own database, or one campaign run on several clusters) combined into OUT.
//
// The rules:
//
// 1. Inputs are never written.  Each is opened read-only by its own
//    connection (one at a time, so any number of shards can be merged),
//    read in one read transaction (a consistent snapshot), with foreign
//    keys on like every connection fptfarm opens, and checked
//    first: a file that is not an SQLite database, an SQLite database that
//    is not fptfarm's (user_version 0) and a newer schema version are
//    refused naming the file.  An older schema version (1) is read as it is
//    (the tables merged here are the same in every version) and is not
//    upgraded.  An input that is OUT itself, or the same file as an earlier
//    input, is refused (its attempts would be counted twice).
//
// 2. Experiments are matched by name.  The same name with a different
//    spec_hash in two inputs, or in an input and OUT, is refused:
//    "experiment 'x': IN2.db has a different spec (hash A) than IN1.db
//    (hash B); runs of different specs cannot be merged", naming the file the
//    experiment was first seen in (OUT when it already held it).  A new
//    experiment is copied from the first input holding it; created_at
//    becomes the earliest over OUT and the inputs.
//
// 3. Jobs are matched on (experiment, protocol, timing, frequency, seed):
//    a run is never duplicated.  Each job is a fold over its sources in
//    argument order, OUT's own row (if any) first.  The merged row is the
//    winner's: the most advanced state wins, done > diverged > failed >
//    running = pending.  Among sources in the same state:
//      - done or diverged: the trace (see 4) of the first source in
//        argument order is kept; among sources with that very trace, the
//        one that finished first (finished_at, then started_at, host,
//        worker; NULLs last);
//      - failed, running or pending: the one with the most epochs, then the
//        latest started_at, then finished_at, host, worker;
//      - a complete tie keeps the earlier source (the rows are then equal).
//    So the result does not depend on the order of the inputs unless there
//    are conflicts.  worker, host, started_at and finished_at come from the
//    winner.  The merged state is never 'running' (a running job's array
//    task was killed): it becomes 'pending', to be resumed by the farm.
//    attempts and crashes are summed over the inputs; OUT's own count is
//    kept when it is larger: max(OUT, sum of inputs).  That makes a merge
//    idempotent (OUT may be the result of merging the same inputs before),
//    and exact when OUT is new or did not hold the job.  (Merging shards
//    into OUT one command at a time therefore gives the max, not the sum,
//    for a job present in several of them: merge them in one command.)
//
// 4. The trace of a job is its epoch rows.  The winner's trace replaces
//    OUT's, with its first_passages (always from the same source as the
//    trace): one run's whole trace, never a mix of two.  Two traces are the
//    same when they have the same epochs with equal train_loss, test_loss,
//    test_acc, lr and perturbed (seconds, the wall time, may differ).
//    A job finished (done or diverged) in two sources with different traces
//    is a conflict: the same seed gave two runs.  Conflicts are counted per
//    job and reported; the merge goes on under rule 3 (the first in argument
//    order among the most advanced).  The same trace twice is not a conflict.
//
// 5. Fit tables are not merged: the fits of every merged experiment are
//    deleted from OUT (ON DELETE CASCADE takes the fit_* rows), and the
//    command says to run `fptfarm fit OUT.db` again.  Jobs of OUT that no
//    input holds, and experiments that no input holds, are left as they are.
//
// 6. An adaptive campaign's decisions (campaign_decisions, with its
//    campaign_summary; schema version 3) are carried.  A campaign's
//    decisions only grow, so of two sources holding the same experiment's,
//    one must be a prefix of the other (equal in every column but
//    created_at): the longer is kept, with its source's summary.  Two
//    different sequences (two runs of one adaptive campaign, which decides
//    as it goes and runs as one job) are refused, naming both files and the
//    first decision that differs.
//
// 7. Everything is one transaction on OUT: on any error (an input missing,
//    corrupt, not a database, at a newer version, or with a mismatched spec,
//    wherever it is found) OUT is exactly as it was.  Merging the same inputs
//    again leaves OUT unchanged; merging A and B gives the same OUT in either
//    order when there are no conflicts.
//
// Every statement is a constant with bound parameters; values are copied
// between the connections with sqlite3_bind_value, so they keep their exact
// types and NULLs.
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"

// ---- statements ----------------------------------------------------------------

// The columns of a job row, the same for OUT and the inputs.
// compute (schema version 4) is NULL from an input of an older version.
enum {
    C_ID, C_STATE, C_WORKER, C_HOST, C_STARTED, C_FINISHED, C_NEPOCHS, C_ATTEMPTS, C_CRASHES,
    C_PROTOCOL, C_TIMING, C_FREQUENCY, C_SEED, C_COMPUTE
};
#define JOB_COLUMNS_V3                                                                           \
    "j.id, j.state, j.worker, j.host, j.started_at, j.finished_at, "                            \
    "(SELECT count(*) FROM epochs p WHERE p.job_id = j.id), j.attempts, j.crashes, "            \
    "j.protocol, j.timing, j.frequency, j.seed"
#define JOB_COLUMNS JOB_COLUMNS_V3 ", j.compute"

// Read from every source (an input, or OUT).
enum { S_EXPS, S_JOBS, S_TRACE, S_FPS, S_COUNT };
static const char *const src_sql[S_COUNT] = {
    [S_EXPS] = "SELECT id, name, spec_text, spec_hash, source, created_at FROM experiments "
               "ORDER BY id",
    [S_JOBS] = "SELECT " JOB_COLUMNS " FROM jobs j WHERE j.experiment_id = ?1 ORDER BY j.id",
    // The columns compared by "the same trace" first; seconds last.
    [S_TRACE] = "SELECT epoch, train_loss, test_loss, test_acc, lr, perturbed, seconds "
                "FROM epochs WHERE job_id = ?1 ORDER BY epoch",
    [S_FPS] = "SELECT target, epoch, censored_at FROM first_passages WHERE job_id = ?1 "
              "ORDER BY target",
};
enum { TRACE_COMPARED = 6, TRACE_COLUMNS = 7 };

// Written to OUT.
enum {
    O_EXP_GET, O_EXP_INS, O_EXP_OLDEST, O_JOB_GET, O_JOB_INS, O_JOB_SET, O_EPOCHS_DEL, O_FPS_DEL,
    O_EPOCH_INS, O_FP_INS, O_TOUCH, O_FINAL, O_CONFLICTS, O_FITS_DEL, O_EPOCH_COUNT, O_COUNT
};
static const char *const out_sql[O_COUNT] = {
    [O_EXP_GET] = "SELECT id, spec_hash FROM experiments WHERE name = ?1",
    [O_EXP_INS] = "INSERT INTO experiments (name, spec_text, spec_hash, source, created_at) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)",
    [O_EXP_OLDEST] = "UPDATE experiments SET created_at = ?2 WHERE id = ?1 AND created_at > ?2",
    [O_JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs j WHERE j.experiment_id = ?1 "
                  "AND j.protocol = ?2 AND j.timing = ?3 AND j.frequency = ?4 AND j.seed = ?5",
    [O_JOB_INS] = "INSERT INTO jobs (experiment_id, protocol, timing, frequency, seed, state, "
                  "worker, host, started_at, finished_at, compute) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [O_JOB_SET] = "UPDATE jobs SET state = ?2, worker = ?3, host = ?4, started_at = ?5, "
                  "finished_at = ?6, compute = ?7 WHERE id = ?1",
    [O_EPOCHS_DEL] = "DELETE FROM epochs WHERE job_id = ?1",
    [O_FPS_DEL] = "DELETE FROM first_passages WHERE job_id = ?1",
    [O_EPOCH_INS] = "INSERT INTO epochs (job_id, epoch, train_loss, test_loss, test_acc, lr, "
                    "perturbed, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [O_FP_INS] = "INSERT INTO first_passages (job_id, target, epoch, censored_at) "
                 "VALUES (?1, ?2, ?3, ?4)",
    // Per OUT job touched: the inputs' summed counts and whether it conflicts.
    [O_TOUCH] = "INSERT INTO temp.fpt_merge_jobs (job_id, attempts, crashes, conflict) "
                "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (job_id) DO UPDATE SET "
                "attempts = attempts + excluded.attempts, crashes = crashes + excluded.crashes, "
                "conflict = max(conflict, excluded.conflict)",
    // jobs.attempts and crashes are still OUT's own (0 for new rows).
    [O_FINAL] = "UPDATE jobs SET attempts = max(jobs.attempts, t.attempts), "
                "crashes = max(jobs.crashes, t.crashes), "
                "state = CASE jobs.state WHEN 'running' THEN 'pending' ELSE jobs.state END "
                "FROM temp.fpt_merge_jobs t WHERE jobs.id = t.job_id",
    [O_CONFLICTS] = "SELECT count(*) FROM temp.fpt_merge_jobs t JOIN jobs j ON j.id = t.job_id "
                    "WHERE j.experiment_id = ?1 AND t.conflict",
    [O_FITS_DEL] = "DELETE FROM fits WHERE experiment_id = ?1",
    [O_EPOCH_COUNT] = "SELECT count(*) FROM epochs p JOIN jobs j ON j.id = p.job_id "
                      "WHERE j.experiment_id = ?1",
};

static const char TEMP_DROP[] = "DROP TABLE IF EXISTS temp.fpt_merge_jobs";
static const char TEMP_CREATE[] =
    "CREATE TEMP TABLE fpt_merge_jobs (job_id INTEGER PRIMARY KEY, attempts INTEGER NOT NULL, "
    "crashes INTEGER NOT NULL, conflict INTEGER NOT NULL)";

// One database being read: an input, or OUT.
typedef struct source {
    const char *path;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    int64_t version;   // schema version (OUT: the current one)
} source;

// An experiment of the merge, in order of first appearance in the inputs.
typedef struct merged_exp {
    char *name, *hash;
    const char *origin;   // the file its spec came from (OUT or an input)
    int64_t out_id;
    int inputs;
} merged_exp;

typedef struct merge {
    fpt_store *store;
    sqlite3 *odb;
    source out;   // OUT, read through the store's connection
    sqlite3_stmt *o[O_COUNT];
    merged_exp *exps;
    int n_exps, cap_exps;
} merge;

// ---- small helpers ---------------------------------------------------------------

static int src_fail(const source *s, const char *what, fpt_err *err) {
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    if (code == SQLITE_NOTADB)
        return fpt_fail(err, "%s: not an SQLite database (%s)", s->path, sqlite3_errmsg(s->db));
    return fpt_fail(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static void done_with(sqlite3_stmt *st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

// Steps a statement that returns no rows.
static int exec(const source *s, sqlite3_stmt *st, const char *what, fpt_err *err) {
    int rc = sqlite3_step(st);
    done_with(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : src_fail(s, what, err);
}

// Runs a constant statement once (no parameters, no rows wanted).
static int exec_once(const source *s, const char *sql, fpt_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return src_fail(s, "preparing a statement", err);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : src_fail(s, sql, err);
}

// The single integer of a one-row query with an optional int64 parameter.
static int query_int(const source *s, sqlite3_stmt *st, int64_t p1, int64_t *v, fpt_err *err) {
    sqlite3_bind_int64(st, 1, p1);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(st, 0);
    done_with(st);
    return rc == SQLITE_ROW ? 0 : src_fail(s, "counting", err);
}

static char *dup_text(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

static int prepare_all(const source *s, sqlite3_stmt **st, const char *const *sql, int n,
                       fpt_err *err) {
    for (int i = 0; i < n; i++)
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st[i], NULL) != SQLITE_OK)
            return fpt_fail(err, "%s: preparing '%.60s': %s", s->path, sql[i],
                            sqlite3_errmsg(s->db));
    return 0;
}

static void finalize_all(sqlite3_stmt **st, int n) {
    for (int i = 0; i < n; i++) {
        sqlite3_finalize(st[i]);
        st[i] = NULL;
    }
}

// ---- job states and preferences ------------------------------------------------------

static fpt_job_state state_of(sqlite3_stmt *st) {
    const char *t = (const char *)sqlite3_column_text(st, C_STATE);
    for (int k = 0; k < FPT_JOB_NSTATES; k++)
        if (t && !strcmp(t, fpt_job_state_name((fpt_job_state)k))) return (fpt_job_state)k;
    return FPT_JOB_PENDING;   // the schema's CHECK allows nothing else
}

// done > diverged > failed > running = pending.
static int rank_of(fpt_job_state s) {
    return s == FPT_JOB_DONE ? 4 : s == FPT_JOB_DIVERGED ? 3 : s == FPT_JOB_FAILED ? 2 : 1;
}

static int is_finished_run(fpt_job_state s) { return s == FPT_JOB_DONE || s == FPT_JOB_DIVERGED; }

// Compares column col of two rows, NULL after every value: text by bytes,
// numbers by value.  dir = -1 reverses the order of values (not of NULLs).
static int cmp_col(sqlite3_stmt *a, sqlite3_stmt *b, int col, int dir) {
    int na = sqlite3_column_type(a, col) == SQLITE_NULL;
    int nb = sqlite3_column_type(b, col) == SQLITE_NULL;
    if (na || nb) return na - nb;
    int c;
    if (sqlite3_column_type(a, col) == SQLITE_TEXT || sqlite3_column_type(b, col) == SQLITE_TEXT) {
        c = strcmp((const char *)sqlite3_column_text(a, col),
                   (const char *)sqlite3_column_text(b, col));
    } else {
        int64_t x = sqlite3_column_int64(a, col), y = sqlite3_column_int64(b, col);
        c = (x > y) - (x < y);
    }
    return dir * c;
}

// < 0: the input's row r is preferred over OUT's current winner w among rows
// of the same rank (rule 3); 0: a tie, which keeps w.
static int prefer(sqlite3_stmt *r, sqlite3_stmt *w, int finished_run) {
    static const int fin_cols[] = {C_FINISHED, C_STARTED, C_HOST, C_WORKER};
    static const int fin_dirs[] = {1, 1, 1, 1};
    static const int open_cols[] = {C_NEPOCHS, C_STARTED, C_FINISHED, C_HOST, C_WORKER};
    static const int open_dirs[] = {-1, -1, 1, 1, 1};
    const int *cols = finished_run ? fin_cols : open_cols;
    const int *dirs = finished_run ? fin_dirs : open_dirs;
    int n = finished_run ? 4 : 5;
    for (int i = 0; i < n; i++) {
        int c = cmp_col(r, w, cols[i], dirs[i]);
        if (c) return c;
    }
    return 0;
}

// ---- traces ------------------------------------------------------------------------

// Exactly equal values of one column (type and value; NULL equals NULL).
static int same_value(sqlite3_stmt *a, sqlite3_stmt *b, int col) {
    int t = sqlite3_column_type(a, col);
    if (t != sqlite3_column_type(b, col)) return 0;
    switch (t) {
    case SQLITE_NULL: return 1;
    case SQLITE_INTEGER: return sqlite3_column_int64(a, col) == sqlite3_column_int64(b, col);
    case SQLITE_FLOAT: return sqlite3_column_double(a, col) == sqlite3_column_double(b, col);
    default: {
        int n = sqlite3_column_bytes(a, col);
        const void *x = sqlite3_column_blob(a, col);
        const void *y = sqlite3_column_blob(b, col);
        return n == sqlite3_column_bytes(b, col) && (n == 0 || memcmp(x, y, (size_t)n) == 0);
    }
    }
}

// *same = 1 if job a_id of source a and job b_id of source b have the same
// trace (rule 4).
static int same_trace(const source *a, int64_t a_id, const source *b, int64_t b_id, int *same,
                      fpt_err *err) {
    sqlite3_stmt *x = a->st[S_TRACE], *y = b->st[S_TRACE];
    sqlite3_bind_int64(x, 1, a_id);
    sqlite3_bind_int64(y, 1, b_id);
    int rc = 0;
    *same = 1;
    for (;;) {
        int rx = sqlite3_step(x), ry = sqlite3_step(y);
        if (rx != SQLITE_ROW && rx != SQLITE_DONE) {
            rc = src_fail(a, "reading a trace", err);
            break;
        }
        if (ry != SQLITE_ROW && ry != SQLITE_DONE) {
            rc = src_fail(b, "reading a trace", err);
            break;
        }
        if (rx != ry) {
            *same = 0;
            break;
        }
        if (rx == SQLITE_DONE) break;
        for (int c = 0; c < TRACE_COMPARED && *same; c++) *same = same_value(x, y, c);
        if (!*same) break;
    }
    done_with(x);
    done_with(y);
    return rc;
}

// Copies the trace and first passages of job in_id of input `in` to OUT's
// job out_id, replacing OUT's.
static int copy_trace(merge *m, const source *in, int64_t in_id, int64_t out_id, fpt_err *err) {
    sqlite3_bind_int64(m->o[O_FPS_DEL], 1, out_id);
    if (exec(&m->out, m->o[O_FPS_DEL], "deleting first passages", err)) return -1;
    sqlite3_bind_int64(m->o[O_EPOCHS_DEL], 1, out_id);
    if (exec(&m->out, m->o[O_EPOCHS_DEL], "deleting epochs", err)) return -1;

    struct { int src, ins, ncols; const char *what; } copies[2] = {
        {S_TRACE, O_EPOCH_INS, TRACE_COLUMNS, "epochs"},
        {S_FPS, O_FP_INS, 3, "first passages"},
    };
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *q = in->st[copies[k].src], *ins = m->o[copies[k].ins];
        sqlite3_bind_int64(q, 1, in_id);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            sqlite3_bind_int64(ins, 1, out_id);
            for (int c = 0; c < copies[k].ncols; c++)
                sqlite3_bind_value(ins, c + 2, sqlite3_column_value(q, c));
            if (exec(&m->out, ins, copies[k].what, err)) {
                done_with(q);
                return fpt_err_prefix(err, "copying %s from %s: ", copies[k].what, in->path);
            }
        }
        done_with(q);
        if (rc != SQLITE_DONE) {
            char what[64];
            snprintf(what, sizeof what, "reading %s", copies[k].what);
            return src_fail(in, what, err);
        }
    }
    return 0;
}

// ---- sources -------------------------------------------------------------------------

static void close_source(source *s) {
    finalize_all(s->st, S_COUNT);
    if (s->db) {
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(s->db);
    }
    s->db = NULL;
}

// Opens input `path` read-only in a read transaction and checks that it is
// an fptfarm results database this fptfarm can read (rule 1).
static int open_input(source *s, const char *path, fpt_err *err) {
    memset(s, 0, sizeof *s);
    s->path = path;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fpt_fail(err, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    // Foreign keys on, as in every connection fptfarm opens: a read-only one
    // never enforces them, but nothing fptfarm runs should depend on which
    // connection it runs on.  Set before BEGIN: inside a transaction the
    // pragma does nothing.
    if (exec_once(s, "PRAGMA foreign_keys = ON", err) || exec_once(s, "BEGIN", err)) goto fail;
    sqlite3_stmt *q;
    int64_t version = 0, objects = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK) {
        src_fail(s, "reading the schema version", err);
        goto fail;
    }
    int rc = query_int(s, q, 0, &version, err);
    sqlite3_finalize(q);
    if (rc) goto fail;
    if (version > FPT_STORE_SCHEMA_VERSION || version < 0) {
        fpt_fail(err,
                 "%s: results database has schema version %lld, this fptfarm uses version %d "
                 "(written by a newer fptfarm); upgrade fptfarm to merge it",
                 path, (long long)version, FPT_STORE_SCHEMA_VERSION);
        goto fail;
    }
    if (version == 0) {
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema", -1, &q, NULL) !=
            SQLITE_OK) {
            src_fail(s, "reading the schema", err);
            goto fail;
        }
        rc = query_int(s, q, 0, &objects, err);
        sqlite3_finalize(q);
        if (rc) goto fail;
        fpt_fail(err, objects ? "%s: not an fptfarm results database (user_version 0 and %lld "
                                "schema objects of another application)"
                              : "%s: not an fptfarm results database (it is empty)",
                 path, (long long)objects);
        goto fail;
    }
    const char *sql[S_COUNT];
    memcpy(sql, src_sql, sizeof sql);
    if (version < 4)   // no jobs.compute yet: NULL in its place
        sql[S_JOBS] = "SELECT " JOB_COLUMNS_V3 ", NULL FROM jobs j WHERE j.experiment_id = ?1 "
                      "ORDER BY j.id";
    if (prepare_all(s, s->st, sql, S_COUNT, err)) goto fail;
    s->version = version;
    return 0;
fail:
    close_source(s);
    return -1;
}

// Refuses an input that is OUT or an earlier input (rule 1).
static int check_distinct(const char *const *inputs, int i, const char *out_path,
                          struct stat *ids, fpt_err *err) {
    if (stat(inputs[i], &ids[i]) != 0)
        return fpt_fail(err, "%s: cannot open: %s", inputs[i], strerror(errno));
    struct stat o;
    if (stat(out_path, &o) == 0 && o.st_dev == ids[i].st_dev && o.st_ino == ids[i].st_ino)
        return fpt_fail(err, "%s: is the output database %s itself; an input must be another file",
                        inputs[i], out_path);
    for (int k = 0; k < i; k++)
        if (ids[k].st_dev == ids[i].st_dev && ids[k].st_ino == ids[i].st_ino)
            return fpt_fail(err, "%s: the same file as input %s; give each input once", inputs[i],
                            inputs[k]);
    return 0;
}

// ---- experiments ---------------------------------------------------------------------

// OUT's experiment for the input's experiment at the current row of its
// S_EXPS statement: found or created, its spec checked (rule 2).
static int match_experiment(merge *m, const source *in, sqlite3_stmt *e, int *index,
                            fpt_err *err) {
    const char *name = (const char *)sqlite3_column_text(e, 1);
    const char *hash = (const char *)sqlite3_column_text(e, 3);
    name = name ? name : "";
    hash = hash ? hash : "";
    merged_exp *x = NULL;
    for (int k = 0; k < m->n_exps && !x; k++)
        if (!strcmp(m->exps[k].name, name)) x = &m->exps[k];
    if (!x) {
        if (m->n_exps == m->cap_exps) {
            int cap = m->cap_exps ? 2 * m->cap_exps : 8;
            merged_exp *nx = realloc(m->exps, (size_t)cap * sizeof *nx);
            if (!nx) return fpt_fail(err, "out of memory for %d experiments", cap);
            m->exps = nx;
            m->cap_exps = cap;
        }
        x = &m->exps[m->n_exps];
        memset(x, 0, sizeof *x);
        sqlite3_stmt *g = m->o[O_EXP_GET];
        sqlite3_bind_value(g, 1, sqlite3_column_value(e, 1));
        int rc = sqlite3_step(g);
        if (rc == SQLITE_ROW) {
            x->out_id = sqlite3_column_int64(g, 0);
            x->hash = dup_text(g, 1);
            x->origin = m->out.path;
        }
        done_with(g);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return src_fail(&m->out, "looking up an experiment", err);
        if (rc == SQLITE_DONE) {
            sqlite3_stmt *ins = m->o[O_EXP_INS];
            for (int c = 1; c <= 5; c++) sqlite3_bind_value(ins, c, sqlite3_column_value(e, c));
            if (exec(&m->out, ins, "inserting an experiment", err))
                return fpt_err_prefix(err, "experiment '%s': ", name);
            x->out_id = sqlite3_last_insert_rowid(m->odb);
            x->hash = strdup(hash);
            x->origin = in->path;
        }
        x->name = strdup(name);
        m->n_exps++;   // owns name and hash from here (freed with the merge)
        if (!x->name || !x->hash) return fpt_fail(err, "out of memory for experiment names");
    }
    if (strcmp(x->hash, hash) != 0)
        return fpt_fail(err,
                        "experiment '%s': %s has a different spec (hash %s) than %s (hash %s); "
                        "runs of different specs cannot be merged",
                        name, in->path, hash, x->origin, x->hash);
    sqlite3_stmt *old = m->o[O_EXP_OLDEST];
    sqlite3_bind_int64(old, 1, x->out_id);
    sqlite3_bind_value(old, 2, sqlite3_column_value(e, 5));
    if (exec(&m->out, old, "updating an experiment", err)) return -1;
    x->inputs++;
    *index = (int)(x - m->exps);
    return 0;
}

// ---- jobs ----------------------------------------------------------------------------

// Binds the merged state of input row r (running -> pending) and its
// worker, host, started_at, finished_at, compute to st's parameters
// first..first+5.
static void bind_outcome(sqlite3_stmt *st, int first, sqlite3_stmt *r) {
    fpt_job_state s = state_of(r);
    if (s == FPT_JOB_RUNNING) s = FPT_JOB_PENDING;
    sqlite3_bind_text(st, first, fpt_job_state_name(s), -1, SQLITE_STATIC);
    sqlite3_bind_value(st, first + 1, sqlite3_column_value(r, C_WORKER));
    sqlite3_bind_value(st, first + 2, sqlite3_column_value(r, C_HOST));
    sqlite3_bind_value(st, first + 3, sqlite3_column_value(r, C_STARTED));
    sqlite3_bind_value(st, first + 4, sqlite3_column_value(r, C_FINISHED));
    sqlite3_bind_value(st, first + 5, sqlite3_column_value(r, C_COMPUTE));
}

// Folds the input's job at the current row r of its S_JOBS statement into
// OUT's experiment out_exp (rules 3 and 4).
static int merge_job(merge *m, const source *in, sqlite3_stmt *r, int64_t out_exp, fpt_err *err) {
    int64_t r_id = sqlite3_column_int64(r, C_ID);
    sqlite3_stmt *g = m->o[O_JOB_GET];
    sqlite3_bind_int64(g, 1, out_exp);
    sqlite3_bind_value(g, 2, sqlite3_column_value(r, C_PROTOCOL));
    sqlite3_bind_value(g, 3, sqlite3_column_value(r, C_TIMING));
    sqlite3_bind_value(g, 4, sqlite3_column_value(r, C_FREQUENCY));
    sqlite3_bind_value(g, 5, sqlite3_column_value(r, C_SEED));
    int rc = sqlite3_step(g);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        done_with(g);
        return src_fail(&m->out, "looking up a job", err);
    }
    int64_t w_id = -1;
    int replace, conflict = 0;
    if (rc == SQLITE_DONE) {   // a job OUT does not have yet
        done_with(g);
        sqlite3_stmt *ins = m->o[O_JOB_INS];
        sqlite3_bind_int64(ins, 1, out_exp);
        for (int c = 0; c < 4; c++)   // protocol, timing, frequency, seed
            sqlite3_bind_value(ins, 2 + c, sqlite3_column_value(r, C_PROTOCOL + c));
        bind_outcome(ins, 6, r);
        if (exec(&m->out, ins, "inserting a job", err)) return -1;
        w_id = sqlite3_last_insert_rowid(m->odb);
        if (copy_trace(m, in, r_id, w_id, err)) return -1;
    } else {
        // OUT's current winner w against the input's row r.
        w_id = sqlite3_column_int64(g, C_ID);
        fpt_job_state sw = state_of(g), sr = state_of(r);
        int both_finished = is_finished_run(sw) && is_finished_run(sr);
        int pref = prefer(r, g, is_finished_run(sr));
        done_with(g);
        int same = 1;
        if (both_finished && same_trace(&m->out, w_id, in, r_id, &same, err)) return -1;
        conflict = both_finished && !same;
        if (rank_of(sr) != rank_of(sw))
            replace = rank_of(sr) > rank_of(sw);
        else
            replace = pref < 0 && (!is_finished_run(sr) || same);
        if (replace) {
            sqlite3_stmt *u = m->o[O_JOB_SET];
            sqlite3_bind_int64(u, 1, w_id);
            bind_outcome(u, 2, r);
            if (exec(&m->out, u, "updating a job", err)) return -1;
            if (copy_trace(m, in, r_id, w_id, err)) return -1;
        }
    }
    sqlite3_stmt *t = m->o[O_TOUCH];
    sqlite3_bind_int64(t, 1, w_id);
    sqlite3_bind_int64(t, 2, sqlite3_column_int64(r, C_ATTEMPTS));
    sqlite3_bind_int64(t, 3, sqlite3_column_int64(r, C_CRASHES));
    sqlite3_bind_int(t, 4, conflict);
    return exec(&m->out, t, "recording a job", err);
}

// ---- adaptive campaigns (rule 6) -------------------------------------------------------

// The columns of a decision compared between sources (all but created_at,
// which comes last).
#define DECISION_COLUMNS                                                                         \
    "seq, phase, action, protocol, timing, frequency, runs, basis, estimate, lo, hi, "        \
    "runs_used, epochs_used, reason, created_at"
enum { DECISION_COMPARED = 14, DECISION_ALL = 15 };
#define SUMMARY_COLUMNS                                                                          \
    "phase, stopped, protocol, timing, frequency, estimate, lo, hi, runs_used, epochs_used, "   \
    "sweep_runs, sweep_epochs, reason"
enum { SUMMARY_ALL = 13 };

static int prep(const source *s, const char *sql, sqlite3_stmt **st, fpt_err *err) {
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return fpt_fail(err, "%s: preparing '%.60s': %s", s->path, sql, sqlite3_errmsg(s->db));
    return 0;
}

// Carries the decisions of the input's experiment in_exp to OUT's out_exp.
static int merge_decisions(merge *m, const source *in, int64_t in_exp, int64_t out_exp,
                           const char *name, fpt_err *err) {
    if (in->version < 3) return 0;   // no adaptive campaigns before version 3
    sqlite3_stmt *a = NULL, *b = NULL, *ins = NULL, *sum = NULL, *put = NULL;
    int rc = -1, ra, rb;
    int64_t differs = 0;
    static const char q[] = "SELECT " DECISION_COLUMNS " FROM campaign_decisions "
                            "WHERE experiment_id = ?1 ORDER BY seq";
    if (prep(in, q, &a, err) || prep(&m->out, q, &b, err)) goto out;
    sqlite3_bind_int64(a, 1, in_exp);
    sqlite3_bind_int64(b, 1, out_exp);
    // Walk both in step: the common part must agree.
    for (;;) {
        ra = sqlite3_step(a);
        rb = ra == SQLITE_ROW ? sqlite3_step(b) : SQLITE_DONE;
        if (ra != SQLITE_ROW && ra != SQLITE_DONE) {
            src_fail(in, "reading campaign decisions", err);
            goto out;
        }
        if (rb != SQLITE_ROW && rb != SQLITE_DONE) {
            src_fail(&m->out, "reading campaign decisions", err);
            goto out;
        }
        if (ra == SQLITE_DONE) break;
        if (rb == SQLITE_DONE) break;   // OUT's are a prefix of the input's
        for (int c = 0; c < DECISION_COMPARED && !differs; c++)
            if (!same_value(a, b, c)) differs = sqlite3_column_int64(a, 0);
        if (differs) {
            fpt_fail(err, "experiment '%s': %s holds other adaptive-campaign decisions than %s "
                          "(decision %lld differs); an adaptive campaign decides as its runs "
                          "finish and runs as one job, so two runs of it cannot be merged",
                     name, in->path, m->out.path, (long long)differs);
            goto out;
        }
    }
    if (ra == SQLITE_ROW) {   // the input's go further: copy the rest and its summary
        if (prep(&m->out,
                 "INSERT INTO campaign_decisions (experiment_id, " DECISION_COLUMNS ") VALUES "
                 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                 &ins, err))
            goto out;
        do {
            sqlite3_bind_int64(ins, 1, out_exp);
            for (int c = 0; c < DECISION_ALL; c++)
                sqlite3_bind_value(ins, c + 2, sqlite3_column_value(a, c));
            if (exec(&m->out, ins, "copying a campaign decision", err)) goto out;
        } while ((ra = sqlite3_step(a)) == SQLITE_ROW);
        if (ra != SQLITE_DONE) {
            src_fail(in, "reading campaign decisions", err);
            goto out;
        }
        if (prep(in, "SELECT " SUMMARY_COLUMNS " FROM campaign_summary WHERE experiment_id = ?1",
                 &sum, err) ||
            prep(&m->out,
                 "INSERT OR REPLACE INTO campaign_summary (experiment_id, " SUMMARY_COLUMNS
                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                 &put, err))
            goto out;
        sqlite3_bind_int64(sum, 1, in_exp);
        int rs = sqlite3_step(sum);
        if (rs == SQLITE_ROW) {
            sqlite3_bind_int64(put, 1, out_exp);
            for (int c = 0; c < SUMMARY_ALL; c++)
                sqlite3_bind_value(put, c + 2, sqlite3_column_value(sum, c));
            if (exec(&m->out, put, "copying a campaign summary", err)) goto out;
        } else if (rs != SQLITE_DONE) {
            src_fail(in, "reading a campaign summary", err);
            goto out;
        }
    }
    rc = 0;
out:
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    sqlite3_finalize(ins);
    sqlite3_finalize(sum);
    sqlite3_finalize(put);
    return rc;
}

// Merges every experiment of input `in` into OUT.
static int merge_input(merge *m, source *in, fpt_err *err) {
    // Match (and check) all of the input's experiments before its jobs.
    int n = 0, cap = 0, rc;
    int *mine = NULL;   // indices into m->exps (which may move as it grows)
    int64_t *ids = NULL;
    sqlite3_stmt *e = in->st[S_EXPS];
    while ((rc = sqlite3_step(e)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            int *nm = realloc(mine, (size_t)cap * sizeof *nm);
            int64_t *ni = nm ? realloc(ids, (size_t)cap * sizeof *ni) : NULL;
            if (nm) mine = nm;
            if (ni) ids = ni;
            if (!nm || !ni) {
                fpt_fail(err, "out of memory for %d experiments", cap);
                goto fail;
            }
        }
        ids[n] = sqlite3_column_int64(e, 0);
        if (match_experiment(m, in, e, &mine[n], err)) goto fail;
        n++;
    }
    if (rc != SQLITE_DONE) {
        src_fail(in, "reading experiments", err);
        goto fail;
    }
    done_with(e);
    for (int k = 0; k < n; k++) {
        const merged_exp *x = &m->exps[mine[k]];
        sqlite3_stmt *j = in->st[S_JOBS];
        sqlite3_bind_int64(j, 1, ids[k]);
        while ((rc = sqlite3_step(j)) == SQLITE_ROW)
            if (merge_job(m, in, j, x->out_id, err)) {
                done_with(j);
                fpt_err_prefix(err, "experiment '%s': ", x->name);
                goto fail;
            }
        done_with(j);
        if (rc != SQLITE_DONE) {
            src_fail(in, "reading jobs", err);
            goto fail;
        }
        if (merge_decisions(m, in, ids[k], x->out_id, x->name, err)) goto fail;
    }
    free(mine);
    free(ids);
    return 0;
fail:
    done_with(e);
    free(mine);
    free(ids);
    return -1;
}

// ---- the merge ---------------------------------------------------------------------

// The summary of each merged experiment, after deleting its stale fits.
static int summarize(merge *m, fpt_merge_summary *sum, fpt_err *err) {
    for (int k = 0; k < m->n_exps; k++) {
        const merged_exp *x = &m->exps[k];
        fpt_merge_summary *s = &sum[k];
        memset(s, 0, sizeof *s);
        snprintf(s->experiment, sizeof s->experiment, "%s", x->name);
        s->inputs = x->inputs;
        sqlite3_bind_int64(m->o[O_FITS_DEL], 1, x->out_id);
        if (exec(&m->out, m->o[O_FITS_DEL], "deleting stale fits", err)) return -1;
        s->fits_deleted = sqlite3_changes(m->odb);
        fpt_job_counts c;
        if (fpt_store_job_counts(m->store, x->out_id, &c, err)) return -1;
        memcpy(s->by_state, c.by_state, sizeof s->by_state);
        s->jobs = c.total;
        if (query_int(&m->out, m->o[O_EPOCH_COUNT], x->out_id, &s->epochs, err) ||
            query_int(&m->out, m->o[O_CONFLICTS], x->out_id, &s->conflicts, err))
            return -1;
    }
    return 0;
}

int fpt_store_merge(fpt_store *out, const char *const *inputs, int n_inputs,
                    fpt_merge_summary **summary, int *n_summary, fpt_err *err) {
    *summary = NULL;
    *n_summary = 0;
    if (n_inputs < 1) return fpt_fail(err, "%s: nothing to merge (no inputs)", fpt_store_path(out));
    merge m = {0};
    m.store = out;
    m.odb = fpt_store_sqlite(out);
    m.out.path = fpt_store_path(out);
    m.out.db = m.odb;
    m.out.version = FPT_STORE_SCHEMA_VERSION;
    source in = {0};
    fpt_merge_summary *sum = NULL;
    struct stat *file_ids = calloc((size_t)n_inputs, sizeof *file_ids);
    if (!file_ids) return fpt_fail(err, "out of memory for %d inputs", n_inputs);
    int rc = -1, began = 0;

    if (fpt_store_begin(out, err)) goto end;
    began = 1;
    if (exec_once(&m.out, TEMP_DROP, err) || exec_once(&m.out, TEMP_CREATE, err) ||
        prepare_all(&m.out, m.out.st, src_sql, S_COUNT, err) ||
        prepare_all(&m.out, m.o, out_sql, O_COUNT, err))
        goto end;
    for (int i = 0; i < n_inputs; i++) {
        if (check_distinct(inputs, i, m.out.path, file_ids, err) ||
            open_input(&in, inputs[i], err) || merge_input(&m, &in, err))
            goto end;
        close_source(&in);
    }
    if (exec(&m.out, m.o[O_FINAL], "summing attempts", err)) goto end;
    sum = calloc((size_t)m.n_exps + 1, sizeof *sum);
    if (!sum) {
        fpt_fail(err, "out of memory for %d summaries", m.n_exps);
        goto end;
    }
    if (summarize(&m, sum, err)) goto end;
    finalize_all(m.o, O_COUNT);
    finalize_all(m.out.st, S_COUNT);
    if (exec_once(&m.out, "DROP TABLE temp.fpt_merge_jobs", err)) goto end;
    began = 0;   // commit rolls back by itself when it fails
    if (fpt_store_commit(out, err)) goto end;
    *summary = sum;
    *n_summary = m.n_exps;
    sum = NULL;
    rc = 0;
end:
    close_source(&in);
    finalize_all(m.o, O_COUNT);
    finalize_all(m.out.st, S_COUNT);
    if (began) fpt_store_rollback(out);
    for (int k = 0; k < m.n_exps; k++) {
        free(m.exps[k].name);
        free(m.exps[k].hash);
    }
    free(m.exps);
    free(sum);
    free(file_ids);
    return rc;
}
