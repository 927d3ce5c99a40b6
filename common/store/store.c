// store.c — the SQLite results database (see store.h, results/schema.sql).
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
#define STR_(x) #x
#define STR(x) STR_(x)


// ---- prepared statements ------------------------------------------------------

enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_EXP_GET, ST_EXP_INS, ST_JOB_INS, ST_JOB_GET, ST_JOB_STATE,
    ST_JOB_START, ST_JOB_FINISH, ST_JOB_CRASH, ST_EPOCH_UP, ST_FP_UP, ST_COUNTS,
    ST_PROGRESS, ST_JOB_RELEASE, ST_LEASE_RENEW, ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT fpt_sp",
    [ST_RELEASE] = "RELEASE fpt_sp",
    [ST_ROLLBACK_TO] = "ROLLBACK TO fpt_sp",
    [ST_EXP_GET] = "SELECT id, spec_hash FROM experiments WHERE name = ?1",
    [ST_EXP_INS] = "INSERT INTO experiments (name, spec_text, spec_hash, source) "
                   "VALUES (?1, ?2, ?3, ?4)",
    [ST_JOB_INS] = "INSERT INTO jobs (experiment_id, protocol, timing, frequency, seed) "
                   "VALUES (?1, ?2, ?3, ?4, ?5) "
                   "ON CONFLICT (experiment_id, protocol, timing, frequency, seed) DO NOTHING",
    [ST_JOB_GET] = "SELECT id FROM jobs WHERE experiment_id = ?1 AND protocol = ?2 "
                   "AND timing = ?3 AND frequency = ?4 AND seed = ?5",
    [ST_JOB_STATE] = "SELECT state FROM jobs WHERE id = ?1",
    [ST_JOB_START] = "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?2, "
                     "host = ?3, compute = ?4, started_at = " NOW ", finished_at = NULL "
                     "WHERE id = ?1 AND state = 'pending'",
    [ST_JOB_FINISH] = "UPDATE jobs SET state = ?2, finished_at = " NOW " "
                      "WHERE id = ?1 AND state IN ('pending', 'running')",
    [ST_JOB_CRASH] = "UPDATE jobs SET crashes = crashes + 1, "
                     "state = CASE WHEN crashes + 1 >= ?2 THEN 'failed' ELSE 'pending' END, "
                     "finished_at = CASE WHEN crashes + 1 >= ?2 THEN " NOW " END "
                     "WHERE id = ?1 AND state = 'running' RETURNING state",
    [ST_EPOCH_UP] = "INSERT INTO epochs (job_id, epoch, train_loss, test_loss, test_acc, lr, "
                    "perturbed, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                    "ON CONFLICT (job_id, epoch) DO UPDATE SET train_loss = excluded.train_loss, "
                    "test_loss = excluded.test_loss, test_acc = excluded.test_acc, "
                    "lr = excluded.lr, perturbed = excluded.perturbed, seconds = excluded.seconds",
    [ST_FP_UP] = "INSERT INTO first_passages (job_id, target, epoch, censored_at) "
                 "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (job_id, target) DO UPDATE SET "
                 "epoch = excluded.epoch, censored_at = excluded.censored_at",
    [ST_COUNTS] = "SELECT state, count(*) FROM jobs WHERE experiment_id = ?1 GROUP BY state",
    [ST_JOB_RELEASE] = "UPDATE jobs SET state = 'pending' WHERE id = ?1 AND state = 'running'",
    [ST_LEASE_RENEW] = "UPDATE lease SET heartbeat = ?1 WHERE id = 1 AND boot_id = ?2 AND "
                       "pid = ?3 AND start_ticks = ?4",
    [ST_PROGRESS] = "SELECT experiment_id, experiment, jobs, pending, running, done, failed, "
                    "diverged, epochs_stored FROM v_progress ORDER BY experiment_id",
};

struct fpt_store {
    sqlite3 *db;
    char *path;
    int depth;   // open transaction levels (1 = BEGIN, more = savepoints)
    sqlite3_stmt *st[ST_COUNT];
    char database_id[33];
    // Waiting for other processes' locks (busy_handler).
    double busy_limit;   // seconds; < 0: for ever
    double wait_t0, wait_next_report;
    fpt_store_wait_fn on_wait;
    void *wait_ctx;
    // The lease, once taken: this process as the lease table names it.
    int leased;
    char boot_id[40];
    long long pid, start_ticks;
};

static const char *const state_names[FPT_JOB_NSTATES] = {
    "pending", "running", "done", "failed", "diverged",
};

const char *fpt_job_state_name(fpt_job_state st) {
    return (unsigned)st < FPT_JOB_NSTATES ? state_names[st] : "?";
}

const char *fpt_store_path(const fpt_store *s) { return s ? s->path : ""; }
sqlite3 *fpt_store_sqlite(fpt_store *s) { return s->db; }

// The error of the last failed call on db, with the path and what was done.
static int db_fail(fpt_store *s, const char *what, fpt_err *err) {
    return fpt_fail(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static void done_with(sqlite3_stmt *st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

// Steps a statement that returns no rows (or whose rows are ignored).
static int run(fpt_store *s, sqlite3_stmt *st, const char *what, fpt_err *err) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
        db_fail(s, what, err);
        done_with(st);
        return -1;
    }
    done_with(st);
    return 0;
}

static int fpt_sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st) {
    return sqlite3_prepare_v2(db, sql, -1, st, NULL);
}

// Prepares, runs and finalizes one constant statement (pragmas, schema).
// *row_text receives the first column of the first row, if asked for.
static int run_once(fpt_store *s, const char *sql, const char **tail, char *row_text,
                    size_t row_cap, fpt_err *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, tail);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB)
            return fpt_fail(err, "%s: not an SQLite database (%s)", s->path, sqlite3_errmsg(s->db));
        return db_fail(s, "preparing a statement", err);
    }
    if (!st) return 0;   // only whitespace or comments
    if (row_text && row_cap) row_text[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (row_text && row_cap && !row_text[0]) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            snprintf(row_text, row_cap, "%s", t ? (const char *)t : "");
        }
    }
    if (rc != SQLITE_DONE) {
        if ((rc & 0xff) == SQLITE_NOTADB)
            fpt_fail(err, "%s: not an SQLite database (%s)", s->path, sqlite3_errmsg(s->db));
        else
            fpt_fail(err, "%s: '%.60s': %s", s->path, sqlite3_sql(st), sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int query_int(fpt_store *s, const char *sql, long long *v, fpt_err *err) {
    char buf[64];
    if (run_once(s, sql, NULL, buf, sizeof buf, err)) return -1;
    *v = strtoll(buf, NULL, 10);
    return 0;
}

// ---- transactions -------------------------------------------------------------

int fpt_store_begin(fpt_store *s, fpt_err *err) {
    if (run(s, s->st[s->depth == 0 ? ST_BEGIN : ST_SAVEPOINT], "beginning a transaction", err))
        return -1;
    s->depth++;
    return 0;
}

void fpt_store_rollback(fpt_store *s) {
    if (s->depth <= 0) return;
    if (s->depth == 1) {
        if (sqlite3_get_autocommit(s->db) == 0) run(s, s->st[ST_ROLLBACK], "rollback", NULL);
    } else {
        run(s, s->st[ST_ROLLBACK_TO], "rollback to savepoint", NULL);
        run(s, s->st[ST_RELEASE], "releasing savepoint", NULL);
    }
    s->depth--;
}

int fpt_store_commit(fpt_store *s, fpt_err *err) {
    if (s->depth <= 0) return fpt_fail(err, "%s: commit without a transaction", s->path);
    if (run(s, s->st[s->depth == 1 ? ST_COMMIT : ST_RELEASE], "committing", err)) {
        fpt_store_rollback(s);
        return -1;
    }
    s->depth--;
    return 0;
}

// ---- fault injection (tests/test_faults.c only) --------------------------------

// FPTFARM_FAULT=commit:N:ACTION makes the Nth write transaction that this
// process commits (counted over all its connections) meet ACTION inside
// COMMIT, from SQLite's commit hook: after the transaction's statements, before
// its pages reach the database file.  ACTION: term (raise SIGTERM: the farm's
// coordinator turns it into an orderly stop; other commands die), kill
// (SIGKILL) or abort (abort()).  Read once per process; when the variable is
// unset or names another fault (always, outside the tests) no hook is
// installed and nothing changes.
static long fault_commit_at;   // N; 0: no fault
static int fault_commit_sig;

static void fault_commit_parse(void) {
    static int parsed;
    if (parsed) return;
    parsed = 1;
    const char *f = getenv("FPTFARM_FAULT");
    long n;
    char act[8];
    if (!f || sscanf(f, "commit:%ld:%7s", &n, act) != 2 || n < 1) return;
    fault_commit_sig = !strcmp(act, "term") ? SIGTERM : !strcmp(act, "kill") ? SIGKILL
                       : !strcmp(act, "abort") ? SIGABRT : 0;
    if (fault_commit_sig) fault_commit_at = n;
}

static int fault_commit_hook(void *arg) {
    static long commits;
    (void)arg;
    if (++commits == fault_commit_at) {
        if (fault_commit_sig == SIGABRT) abort();
        raise(fault_commit_sig);
    }
    return 0;   // go on with the commit
}

// ---- open / close -------------------------------------------------------------

// Runs every statement of sql[0..len).
static int run_script(fpt_store *s, const char *sql, size_t len, fpt_err *err) {
    char *copy = strndup(sql, len);
    if (!copy) return fpt_fail(err, "%s: out of memory for the schema", s->path);
    const char *p = copy;
    int rc = 0;
    while (p && *p && rc == 0) {
        const char *tail = NULL;
        rc = run_once(s, p, &tail, NULL, 0, err);
        p = tail;
    }
    free(copy);
    return rc;
}

// The section of results/schema.sql that creates version v from version
// v - 1: from its "-- ==== version v:" line to the next section or the end.
static int schema_section(int v, const char **start, size_t *len) {
    char mark[48];
    snprintf(mark, sizeof mark, "\n-- ==== version %d:", v);
    const char *a = strstr(fpt_store_schema_sql, mark);
    if (!a) return -1;
    snprintf(mark, sizeof mark, "\n-- ==== version %d:", v + 1);
    const char *b = strstr(a, mark);
    *start = a + 1;
    *len = b ? (size_t)(b - a) : strlen(a + 1);
    return 0;
}

// Brings a database at schema version `from` (0 = empty) to the current one
// by running the sections it lacks; the caller holds a write transaction.
static int upgrade_schema(fpt_store *s, long long from, fpt_err *err) {
    for (int v = (int)from + 1; v <= FPT_STORE_SCHEMA_VERSION; v++) {
        const char *sql;
        size_t len;
        if (schema_section(v, &sql, &len))
            return fpt_fail(err, "%s: the built-in schema has no section for version %d", s->path,
                            v);
        if (run_script(s, sql, len, err)) return fpt_err_prefix(err, "schema version %d: ", v);
    }
    return run_once(s, "PRAGMA user_version = " STR(FPT_STORE_SCHEMA_VERSION), NULL, NULL, 0,
                    err);
}

// ---- recognising fptfarm's databases ---------------------------------------------

// The shape of a database's schema as text: every object (type, name) and
// each table's or view's columns (name, declared type, NOT NULL, key
// position), in a fixed order.  Comments and spacing in the CREATE
// statements do not enter, so a database is recognised by what it holds.
static int schema_shape(sqlite3 *db, char **out) {
    static const char sql[] =
        "SELECT m.type, m.name, p.name, p.type, p.\"notnull\", p.pk FROM sqlite_schema m "
        "LEFT JOIN pragma_table_info(m.name) p WHERE m.name NOT LIKE 'sqlite_%' "
        "ORDER BY m.type, m.name, p.cid";
    sqlite3_stmt *st;
    *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_str *t = sqlite3_str_new(db);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < 6; i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            sqlite3_str_appendf(t, "%s%s", v ? (const char *)v : "-", i < 5 ? "|" : "\n");
        }
    }
    sqlite3_finalize(st);
    char *text = sqlite3_str_finish(t);
    if (rc != SQLITE_DONE || !text) {
        sqlite3_free(text);
        return -1;
    }
    *out = text;
    return 0;
}

// Whether the database of s has exactly the schema fptfarm's version v
// (1 <= v < 5, before databases carried an application_id) created: its
// shape against an in-memory database made from the built-in sections.
static int is_fptfarm_schema(fpt_store *s, int v, int *yes, fpt_err *err) {
    sqlite3 *ref = NULL;
    char *want = NULL, *have = NULL;
    int rc = -1;
    *yes = 0;
    if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fpt_fail(err, "%s: out of memory checking the schema", s->path);
        goto out;
    }
    // Every connection fptfarm opens has foreign keys on, this one too.
    sqlite3_exec(ref, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    for (int k = 1; k <= v; k++) {
        const char *sql;
        size_t len;
        char *copy;
        if (schema_section(k, &sql, &len) || !(copy = strndup(sql, len))) {
            fpt_fail(err, "%s: the built-in schema has no section for version %d", s->path, k);
            goto out;
        }
        int e = sqlite3_exec(ref, copy, NULL, NULL, NULL);
        free(copy);
        if (e != SQLITE_OK) {
            fpt_fail(err, "internal: built-in schema version %d: %s", k, sqlite3_errmsg(ref));
            goto out;
        }
    }
    if (schema_shape(ref, &want) || schema_shape(s->db, &have)) {
        db_fail(s, "reading the schema", err);
        goto out;
    }
    *yes = strcmp(want, have) == 0;
    rc = 0;
out:
    sqlite3_free(want);
    sqlite3_free(have);
    sqlite3_close(ref);
    return rc;
}

// Refuses a database that SQLite finds damaged, before anything is written
// to it (a resume would add to a file whose tables can no longer be read).
static int quick_check(fpt_store *s, fpt_err *err) {
    char first[256];
    fpt_err e = {{0}};
    int rc = run_once(s, "PRAGMA quick_check", NULL, first, sizeof first, &e);
    if (rc == 0 && strcmp(first, "ok") == 0) return 0;
    // The recipe keeps the identity (table farm), sets the header fields a
    // dump does not carry, and commits what could be read (a dump that met
    // damage ends with ROLLBACK).  The shell's .recover fails on every
    // database in SQLite 3.40's shell.  Tested: test_store_guard.c.
    return fpt_fail(err,
                    "%s: the database is damaged (PRAGMA quick_check: %s); nothing was written. "
                    "Keep a copy, rebuild what SQLite can still read with `(echo 'PRAGMA "
                    "user_version = %d; PRAGMA application_id = %d;'; sqlite3 %s .dump | sed "
                    "'s/^ROLLBACK; -- due to errors$/COMMIT;/') | sqlite3 RECOVERED.db`, and go on "
                    "with --db RECOVERED.db",
                    s->path, rc == 0 ? first : e.msg, FPT_STORE_SCHEMA_VERSION,
                    FPT_STORE_APPLICATION_ID, s->path);
}

// Checks the schema version: creates the schema in an empty database,
// upgrades one written by an older fptfarm, refuses one from a newer, and
// any SQLite database that is not fptfarm's (changing nothing in it).
static int check_schema(fpt_store *s, int create, fpt_err *err) {
    long long version, app, tables;
    if (query_int(s, "PRAGMA user_version", &version, err) ||
        query_int(s, "PRAGMA application_id", &app, err) ||
        query_int(s, "SELECT count(*) FROM sqlite_schema", &tables, err))
        return -1;
    if (app != 0 && app != FPT_STORE_APPLICATION_ID)
        return fpt_fail(err,
                        "%s: not an fptfarm results database (application_id 0x%08llx: another "
                        "program's); nothing was changed",
                        s->path, (unsigned long long)(uint32_t)app);
    if (app == 0 && version == 0 && tables != 0)
        return fpt_fail(err,
                        "%s: not an fptfarm results database (user_version 0 and %lld schema "
                        "objects of another application)",
                        s->path, tables);
    if (app == FPT_STORE_APPLICATION_ID && version > FPT_STORE_SCHEMA_VERSION)
        return fpt_fail(err,
                        "%s: results database has schema version %lld, this fptfarm uses "
                        "version %d (written by a newer fptfarm); upgrade fptfarm to read it",
                        s->path, version, FPT_STORE_SCHEMA_VERSION);
    if (app == 0 && version != 0) {
        // Before version 5 fptfarm set no application_id: recognise its
        // databases by their tables.  Anything else with a user_version is
        // another program's, and stays untouched.
        int ours = 0;
        if (version >= 1 && version < 5 && is_fptfarm_schema(s, (int)version, &ours, err))
            return -1;
        if (!ours)
            return fpt_fail(err,
                            "%s: not an fptfarm results database (user_version %lld, but not the "
                            "tables of fptfarm's schema version %lld, and no fptfarm "
                            "application_id); nothing was changed",
                            s->path, version, version);
    }
    if (app == FPT_STORE_APPLICATION_ID && version < 5)
        return fpt_fail(err, "%s: fptfarm application_id with schema version %lld: damaged header",
                        s->path, version);
    if (version == 0 && !create)
        return fpt_fail(err, "%s: database is empty (no fptfarm schema); create it first",
                        s->path);
    if (quick_check(s, err)) return -1;
    if (version == FPT_STORE_SCHEMA_VERSION) return 0;
    // Another process may create or upgrade it at the same time: decide
    // under the write lock, all or nothing.
    long long from;
    if (run_once(s, "BEGIN IMMEDIATE", NULL, NULL, 0, err)) return -1;
    if (query_int(s, "PRAGMA user_version", &from, err)) goto fail;
    if (from < FPT_STORE_SCHEMA_VERSION && upgrade_schema(s, from, err)) goto fail;
    if (run_once(s, "COMMIT", NULL, NULL, 0, err)) goto fail;
    return from <= FPT_STORE_SCHEMA_VERSION
               ? 0
               : fpt_fail(err, "%s: schema version %lld appeared while creating version %d",
                          s->path, from, FPT_STORE_SCHEMA_VERSION);
fail:
    if (!sqlite3_get_autocommit(s->db)) run_once(s, "ROLLBACK", NULL, NULL, 0, NULL);
    fpt_err_prefix(err, version == 0 ? "creating the schema: " : "upgrading the schema from "
                                                                 "version %lld: ", version);
    return -1;
}

// ---- waiting for other processes' locks ----------------------------------------

static double now_mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// SQLite's busy handler: another process holds a lock this statement needs
// (a reader's open transaction in rollback mode, another writer).  Sleeps
// 1 ms, doubling up to 250 ms, and retries until the store's limit, telling
// on_wait about once a second.  Returning 0 makes the statement fail with
// SQLITE_BUSY ("database is locked").
static int busy_handler(void *arg, int count) {
    fpt_store *s = arg;
    const double t = now_mono();
    if (count == 0) s->wait_t0 = t, s->wait_next_report = 1.0;
    const double waited = t - s->wait_t0;
    if (s->busy_limit >= 0 && waited >= s->busy_limit) return 0;
    if (s->on_wait && waited >= s->wait_next_report) {
        s->wait_next_report = waited + 1.0;
        if (s->on_wait(s->wait_ctx, waited)) return 0;
    }
    long ms = count < 8 ? 1L << count : 250;
    struct timespec d = {0, ms * 1000000L};
    nanosleep(&d, NULL);
    return 1;
}

// ---- the journal, by filesystem -------------------------------------------------

// Filesystems whose processes on different machines can open one database:
// SQLite's WAL needs a shared-memory index that they cannot share, so these
// get the rollback journal (statfs(2) f_type values, linux/magic.h and the
// filesystems' sources).
static const struct { long magic; const char *name; } network_fs[] = {
    {0x6969, "nfs"},           {0xFF534D42, "cifs"},       {0xFE534D42, "smb2"},
    {0x517B, "smb"},           {0x0BD00BD0, "lustre"},     {0x47504653, "gpfs"},
    {0x00C36400, "ceph"},      {0x19830326, "beegfs"},     {0x65735546, "fuse"},
    {0x5346414F, "afs"},       {0x01021997, "9p"},         {0x20030528, "orangefs"},
    {0x013111A8, "ibrix"},     {0x73717368, "squashfs"},   {0x6B414653, "kafs"},
};

fpt_journal fpt_store_journal_for(const char *path, const char **fs) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct statfs sf;
    if (statfs(dir, &sf) != 0) {
        if (fs) *fs = "unknown (statfs failed)";
        return FPT_JOURNAL_DELETE;   // the journal that works everywhere
    }
    for (size_t i = 0; i < sizeof network_fs / sizeof network_fs[0]; i++)
        if ((long)(uint32_t)sf.f_type == network_fs[i].magic) {
            if (fs) *fs = network_fs[i].name;
            return FPT_JOURNAL_DELETE;
        }
    if (fs) *fs = "local";
    return FPT_JOURNAL_WAL;
}

const char *fpt_store_journal_name(fpt_journal j) {
    switch (j) {
    case FPT_JOURNAL_KEEP: return "keep";
    case FPT_JOURNAL_AUTO: return "auto";
    case FPT_JOURNAL_WAL: return "wal";
    case FPT_JOURNAL_DELETE: return "delete";
    }
    return "?";
}

static int set_journal(fpt_store *s, const fpt_store_options *o, fpt_err *err) {
    char mode[32];
    fpt_journal j = o->journal;
    if (o->wal_exclusive) {
        if (run_once(s, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, 0, err)) return -1;
        j = FPT_JOURNAL_WAL;
    }
    if (j == FPT_JOURNAL_AUTO) j = fpt_store_journal_for(s->path, NULL);
    if (j == FPT_JOURNAL_KEEP) return 0;
    const char *want = j == FPT_JOURNAL_WAL ? "wal" : "delete";
    if (run_once(s, j == FPT_JOURNAL_WAL ? "PRAGMA journal_mode = WAL"
                                         : "PRAGMA journal_mode = DELETE",
                 NULL, mode, sizeof mode, err))
        return -1;
    if (strcmp(mode, want) != 0)
        return fpt_fail(err, "%s: cannot set journal_mode to %s (it stays '%s')", s->path, want,
                        mode);
    return 0;
}

int fpt_store_open(fpt_store **out, const char *path, int create, const fpt_store_options *o,
                   fpt_err *err) {
    *out = NULL;
    fpt_store_options opt = {0};
    if (o) opt = *o;
    // SQLite reads "" as a temporary database and ":memory:" as one in
    // memory: everything written would be discarded on close.
    if (!path[0] || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
        return fpt_fail(err, "'%s': not a database file name (SQLite would keep nothing of it); "
                             "name a file, e.g. results/NAME.db", path);

    fpt_store *s = calloc(1, sizeof *s);
    if (!s) return fpt_fail(err, "%s: out of memory opening the results database", path);
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return fpt_fail(err, "%s: out of memory opening the results database", path);
    }
    s->busy_limit = opt.busy_timeout_ms == 0 ? 30.0
                    : opt.busy_timeout_ms < 0 ? -1.0 : opt.busy_timeout_ms / 1000.0;
    s->on_wait = opt.on_wait;
    s->wait_ctx = opt.wait_ctx;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        fpt_fail(err, "%s: cannot open results database: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_handler(s->db, busy_handler, s);
    fault_commit_parse();
    if (fault_commit_at) sqlite3_commit_hook(s->db, fault_commit_hook, NULL);

    long long v;
    // The first read also tells whether the file is a database at all.
    if (query_int(s, "PRAGMA user_version", &v, err)) goto fail;
    if (run_once(s, "PRAGMA foreign_keys = ON", NULL, NULL, 0, err)) goto fail;
    if (run_once(s, "PRAGMA synchronous = FULL", NULL, NULL, 0, err)) goto fail;
    // Whose database it is, before anything (a journal mode too) is written.
    if (check_schema(s, create, err)) goto fail;
    if (set_journal(s, &opt, err)) goto fail;
    if (run_once(s, "SELECT database_id FROM farm WHERE id = 1", NULL, s->database_id,
                 sizeof s->database_id, err))
        goto fail;
    if (strlen(s->database_id) != 32) {
        fpt_fail(err, "%s: the database has no identity (table farm is empty)", path);
        goto fail;
    }

    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            fpt_fail(err, "%s: preparing '%.60s': %s", path, stmt_sql[i], sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    fpt_store_close(s);
    return -1;
}

const char *fpt_store_database_id(const fpt_store *s) { return s->database_id; }

int fpt_store_snapshot_begin(fpt_store *s, fpt_err *err) {
    if (s->depth != 0) return fpt_fail(err, "%s: a snapshot inside a transaction", s->path);
    // BEGIN is deferred: the first read takes the snapshot.
    if (run_once(s, "BEGIN", NULL, NULL, 0, err) ||
        run_once(s, "SELECT count(*) FROM sqlite_schema", NULL, NULL, 0, err)) {
        if (!sqlite3_get_autocommit(s->db)) run_once(s, "ROLLBACK", NULL, NULL, 0, NULL);
        return -1;
    }
    s->depth = 1;
    return 0;
}

void fpt_store_snapshot_end(fpt_store *s) {
    if (s->depth != 1) return;
    if (!sqlite3_get_autocommit(s->db)) run_once(s, "COMMIT", NULL, NULL, 0, NULL);
    s->depth = 0;
}

// ---- the lease -------------------------------------------------------------------

// This machine's boot id (36 characters), or "" if unknown.
static void read_boot_id(char *out, size_t cap) {
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return;
    if (!fgets(out, (int)cap, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

// Field 22 of /proc/PID/stat (start time, clock ticks after boot); -1 if the
// process does not exist or is a zombie (it has ended).
static long long start_ticks_of(long long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');   // the command name may hold spaces and ')'
    if (!p) return -1;
    char state;
    unsigned long long ticks;
    // After ")": state (field 3), then fields 4..21, then starttime (22).
    if (sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                      "%*s %*s %llu", &state, &ticks) != 2)
        return -1;
    if (state == 'Z' || state == 'X') return -1;
    return (long long)ticks;
}

// Reads the lease and refuses a live holder (see store.h).  take = 0: only
// that (nothing is written); take = 1: then the lease becomes this
// process's, in the same transaction.
static int lease(fpt_store *s, const char *command, int take, char *taken_over, size_t cap,
                 fpt_err *err) {
    if (taken_over && cap) taken_over[0] = '\0';
    if (!s->boot_id[0]) {
        read_boot_id(s->boot_id, sizeof s->boot_id);
        if (!s->boot_id[0]) snprintf(s->boot_id, sizeof s->boot_id, "unknown");
        s->pid = (long long)getpid();
        s->start_ticks = start_ticks_of(s->pid);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT command, host, boot_id, pid, start_ticks, since, heartbeat "
                           "FROM lease WHERE id = 1", -1, &q, NULL) != SQLITE_OK) {
        db_fail(s, "reading the lease", err);
        goto fail;
    }
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *h_cmd = (const char *)sqlite3_column_text(q, 0);
        const char *h_host = (const char *)sqlite3_column_text(q, 1);
        const char *h_boot = (const char *)sqlite3_column_text(q, 2);
        long long h_pid = sqlite3_column_int64(q, 3), h_ticks = sqlite3_column_int64(q, 4);
        const char *h_since = (const char *)sqlite3_column_text(q, 5);
        long long age = (long long)time(NULL) - sqlite3_column_int64(q, 6);
        int same_machine = h_boot && strcmp(h_boot, s->boot_id) == 0 && strcmp(h_boot, "unknown");
        int alive, mine = same_machine && h_pid == s->pid && h_ticks == s->start_ticks;
        char why[160];
        if (mine) {
            alive = 0;   // this process's own (taken twice): renewed below
            why[0] = '\0';
        } else if (same_machine) {
            alive = start_ticks_of(h_pid) == h_ticks;
            snprintf(why, sizeof why, "its process %lld is gone", h_pid);
        } else {
            alive = age < FPT_LEASE_STALE_S;
            snprintf(why, sizeof why, "no heartbeat for %lld s", age);
        }
        if (alive) {
            fpt_fail(err,
                     "%s: in use by fptfarm %s on host %s (pid %lld) since %s%s; one process "
                     "writes a database at a time: wait for it, or stop it first",
                     s->path, h_cmd ? h_cmd : "?", h_host ? h_host : "?", h_pid,
                     h_since ? h_since : "?",
                     same_machine ? "" : " (another machine: its lease lapses 60 s after its "
                                         "last heartbeat)");
            sqlite3_finalize(q);
            goto fail;
        }
        if (!mine && taken_over && cap)
            snprintf(taken_over, cap, "fptfarm %s on host %s (pid %lld, since %s): %s",
                     h_cmd ? h_cmd : "?", h_host ? h_host : "?", h_pid, h_since ? h_since : "?",
                     why);
    } else if (rc != SQLITE_DONE) {
        db_fail(s, "reading the lease", err);
        sqlite3_finalize(q);
        goto fail;
    }
    sqlite3_finalize(q);
    if (!take) return fpt_store_commit(s, err);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO lease (id, command, host, boot_id, pid, "
                           "start_ticks, heartbeat) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &q, NULL) != SQLITE_OK) {
        db_fail(s, "taking the lease", err);
        goto fail;
    }
    sqlite3_bind_text(q, 1, command, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, host, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, s->boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, s->pid);
    sqlite3_bind_int64(q, 5, s->start_ticks);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        db_fail(s, "taking the lease", err);
        goto fail;
    }
    if (fpt_store_commit(s, err)) return -1;
    s->leased = 1;
    return 0;
fail:
    fpt_store_rollback(s);
    return -1;
}

int fpt_store_lease_take(fpt_store *s, const char *command, char *taken_over, size_t cap,
                         fpt_err *err) {
    return lease(s, command, 1, taken_over, cap, err);
}

int fpt_store_lease_check(fpt_store *s, fpt_err *err) { return lease(s, NULL, 0, NULL, 0, err); }

int fpt_store_lease_renew(fpt_store *s, fpt_err *err) {
    if (!s->leased) return fpt_fail(err, "%s: internal: renewing a lease never taken", s->path);
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *u = s->st[ST_LEASE_RENEW];
    sqlite3_bind_int64(u, 1, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(u, 2, s->boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(u, 3, s->pid);
    sqlite3_bind_int64(u, 4, s->start_ticks);
    if (run(s, u, "renewing the lease", err)) goto fail;
    if (sqlite3_changes(s->db) != 1) {
        fpt_fail(err, "%s: another process took over this database (table lease); this one "
                      "stops writing to it", s->path);
        s->leased = 0;
        goto fail;
    }
    return fpt_store_commit(s, err);
fail:
    fpt_store_rollback(s);
    return -1;
}

void fpt_store_lease_release(fpt_store *s) {
    if (!s || !s->leased) return;
    sqlite3_stmt *d = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM lease WHERE id = 1 AND boot_id = ?1 AND pid = ?2 AND "
                           "start_ticks = ?3", -1, &d, NULL) == SQLITE_OK) {
        sqlite3_bind_text(d, 1, s->boot_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(d, 2, s->pid);
        sqlite3_bind_int64(d, 3, s->start_ticks);
        sqlite3_step(d);   // autocommit; left for the next taker if it fails
    }
    sqlite3_finalize(d);
    s->leased = 0;
}

void fpt_store_close(fpt_store *s) {
    if (!s) return;
    while (s->depth > 0 && s->st[ST_ROLLBACK]) fpt_store_rollback(s);
    fpt_store_lease_release(s);
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

// ---- experiments and jobs -----------------------------------------------------

static int bind_text(sqlite3_stmt *st, int i, const char *t) {
    return sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

int fpt_store_experiment(fpt_store *s, const char *name, const char *spec_text,
                         const char *spec_hash, const char *source, int64_t *id, int *created,
                         fpt_err *err) {
    if (created) *created = 0;
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *g = s->st[ST_EXP_GET];
    bind_text(g, 1, name);
    int rc = sqlite3_step(g);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(g, 0);
        const char *h = (const char *)sqlite3_column_text(g, 1);
        if (strcmp(h ? h : "", spec_hash) != 0) {
            fpt_fail(err,
                     "%s: experiment '%s' exists with a different spec (hash %s vs %s); use a "
                     "new database or name",
                     s->path, name, h ? h : "", spec_hash);
            done_with(g);
            goto fail;
        }
        done_with(g);
        return fpt_store_commit(s, err);
    }
    if (rc != SQLITE_DONE) {
        db_fail(s, "looking up an experiment", err);
        done_with(g);
        goto fail;
    }
    done_with(g);
    sqlite3_stmt *ins = s->st[ST_EXP_INS];
    bind_text(ins, 1, name);
    bind_text(ins, 2, spec_text);
    bind_text(ins, 3, spec_hash);
    bind_text(ins, 4, source);
    if (run(s, ins, "inserting an experiment", err)) {
        fpt_err_prefix(err, "experiment '%s': ", name);
        goto fail;
    }
    *id = sqlite3_last_insert_rowid(s->db);
    if (created) *created = 1;
    return fpt_store_commit(s, err);
fail:
    fpt_store_rollback(s);
    return -1;
}

static void bind_job_key(sqlite3_stmt *st, int64_t experiment_id, const char *protocol,
                         const char *timing, double frequency, int64_t seed) {
    sqlite3_bind_int64(st, 1, experiment_id);
    bind_text(st, 2, protocol);
    bind_text(st, 3, timing);
    sqlite3_bind_double(st, 4, frequency);
    sqlite3_bind_int64(st, 5, seed);
}

int fpt_store_job(fpt_store *s, int64_t experiment_id, const char *protocol, const char *timing,
                  double frequency, int64_t seed, int64_t *id, int *created, fpt_err *err) {
    if (created) *created = 0;
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *ins = s->st[ST_JOB_INS], *g = s->st[ST_JOB_GET];
    bind_job_key(ins, experiment_id, protocol, timing, frequency, seed);
    if (run(s, ins, "inserting a job", err)) goto fail;
    int inserted = sqlite3_changes(s->db) > 0;
    bind_job_key(g, experiment_id, protocol, timing, frequency, seed);
    int rc = sqlite3_step(g);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            fpt_fail(err, "%s: job vanished after insert", s->path);
        else
            db_fail(s, "looking up a job", err);
        done_with(g);
        goto fail;
    }
    *id = sqlite3_column_int64(g, 0);
    done_with(g);
    if (created) *created = inserted;
    return fpt_store_commit(s, err);
fail:
    fpt_err_prefix(err, "job (experiment %lld, %s, %s %g, seed %lld): ", (long long)experiment_id,
                   protocol, timing, frequency, (long long)seed);
    fpt_store_rollback(s);
    return -1;
}

int fpt_store_job_find(fpt_store *s, int64_t experiment_id, const char *protocol,
                       const char *timing, double frequency, int64_t seed, int64_t *id,
                       fpt_err *err) {
    sqlite3_stmt *g = s->st[ST_JOB_GET];
    bind_job_key(g, experiment_id, protocol, timing, frequency, seed);
    int rc = sqlite3_step(g);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(g, 0) : 0;
    done_with(g);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(s, "looking up a job", err);
    return 0;
}

// Why an update of job_id changed nothing: it does not exist or is in the
// wrong state.
static int job_not_in(fpt_store *s, int64_t job_id, const char *action, const char *wanted,
                      fpt_err *err) {
    sqlite3_stmt *q = s->st[ST_JOB_STATE];
    sqlite3_bind_int64(q, 1, job_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        fpt_fail(err, "%s: cannot %s job %lld: it is '%s', not %s", s->path, action,
                 (long long)job_id, (const char *)sqlite3_column_text(q, 0), wanted);
    else if (rc == SQLITE_DONE)
        fpt_fail(err, "%s: cannot %s job %lld: no such job", s->path, action, (long long)job_id);
    else
        db_fail(s, "looking up a job's state", err);
    done_with(q);
    return -1;
}

int fpt_store_job_start(fpt_store *s, int64_t job_id, int worker, const char *host,
                        const char *compute, fpt_err *err) {
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *u = s->st[ST_JOB_START];
    sqlite3_bind_int64(u, 1, job_id);
    sqlite3_bind_int(u, 2, worker);
    if (host)
        bind_text(u, 3, host);
    else
        sqlite3_bind_null(u, 3);
    if (compute)
        bind_text(u, 4, compute);
    else
        sqlite3_bind_null(u, 4);
    if (run(s, u, "starting a job", err)) goto fail;
    if (sqlite3_changes(s->db) == 0) {
        job_not_in(s, job_id, "start", "pending", err);
        goto fail;
    }
    return fpt_store_commit(s, err);
fail:
    fpt_store_rollback(s);
    return -1;
}

int fpt_store_job_finish(fpt_store *s, int64_t job_id, fpt_job_state final, fpt_err *err) {
    if (final != FPT_JOB_DONE && final != FPT_JOB_FAILED && final != FPT_JOB_DIVERGED)
        return fpt_fail(err, "%s: job %lld cannot finish as '%s' (done, failed or diverged)",
                        s->path, (long long)job_id, fpt_job_state_name(final));
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *u = s->st[ST_JOB_FINISH];
    sqlite3_bind_int64(u, 1, job_id);
    bind_text(u, 2, state_names[final]);
    if (run(s, u, "finishing a job", err)) goto fail;
    if (sqlite3_changes(s->db) == 0) {
        job_not_in(s, job_id, "finish", "pending or running", err);
        goto fail;
    }
    return fpt_store_commit(s, err);
fail:
    fpt_store_rollback(s);
    return -1;
}

int fpt_store_job_crash(fpt_store *s, int64_t job_id, int max_crashes, int *failed,
                        fpt_err *err) {
    if (max_crashes < 1)
        return fpt_fail(err, "%s: crash limit %d for job %lld must be at least 1", s->path,
                        max_crashes, (long long)job_id);
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *u = s->st[ST_JOB_CRASH];
    sqlite3_bind_int64(u, 1, job_id);
    sqlite3_bind_int(u, 2, max_crashes);
    int rc = sqlite3_step(u);
    if (rc == SQLITE_ROW) {
        const char *st = (const char *)sqlite3_column_text(u, 0);
        if (failed) *failed = st && strcmp(st, "failed") == 0;
        rc = sqlite3_step(u);
        if (rc != SQLITE_DONE) {
            db_fail(s, "recording a crash", err);
            done_with(u);
            goto fail;
        }
        done_with(u);
        return fpt_store_commit(s, err);
    }
    if (rc == SQLITE_DONE) {
        done_with(u);
        job_not_in(s, job_id, "record a crash of", "running", err);
    } else {
        db_fail(s, "recording a crash", err);
        done_with(u);
    }
fail:
    fpt_store_rollback(s);
    return -1;
}

// ---- epochs and first passages ------------------------------------------------

static void bind_real_or_null(sqlite3_stmt *st, int i, double v) {
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

int fpt_store_add_epochs(fpt_store *s, int64_t job_id, const fpt_epoch_record *recs, int n,
                         fpt_err *err) {
    if (n < 0) return fpt_fail(err, "%s: job %lld: %d epoch records", s->path, (long long)job_id, n);
    if (n == 0) return 0;
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *u = s->st[ST_EPOCH_UP];
    for (int i = 0; i < n; i++) {
        const fpt_epoch_record *r = &recs[i];
        if (!isfinite(r->test_acc)) {
            fpt_fail(err, "%s: job %lld epoch %d: test_acc is %g, not a number", s->path,
                     (long long)job_id, r->epoch, r->test_acc);
            goto fail;
        }
        sqlite3_bind_int64(u, 1, job_id);
        sqlite3_bind_int(u, 2, r->epoch);
        bind_real_or_null(u, 3, r->train_loss);
        bind_real_or_null(u, 4, r->test_loss);
        sqlite3_bind_double(u, 5, r->test_acc);
        bind_real_or_null(u, 6, r->lr);
        sqlite3_bind_int(u, 7, r->perturbed != 0);
        bind_real_or_null(u, 8, r->seconds);
        if (run(s, u, "storing an epoch", err)) {
            fpt_err_prefix(err, "job %lld epoch %d: ", (long long)job_id, r->epoch);
            goto fail;
        }
    }
    return fpt_store_commit(s, err);
fail:
    fpt_store_rollback(s);
    return -1;
}

int fpt_store_first_passage(fpt_store *s, int64_t job_id, double target, int epoch,
                            int last_epoch, fpt_err *err) {
    if (epoch < 0 || (epoch == 0 && last_epoch < 1))
        return fpt_fail(err, "%s: job %lld target %g: first passage %d (censored at %d) is invalid",
                        s->path, (long long)job_id, target, epoch, last_epoch);
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *u = s->st[ST_FP_UP];
    sqlite3_bind_int64(u, 1, job_id);
    sqlite3_bind_double(u, 2, target);
    if (epoch > 0) {
        sqlite3_bind_int(u, 3, epoch);
        sqlite3_bind_null(u, 4);
    } else {
        sqlite3_bind_null(u, 3);
        sqlite3_bind_int(u, 4, last_epoch);
    }
    if (run(s, u, "storing a first passage", err)) {
        fpt_err_prefix(err, "job %lld target %g: ", (long long)job_id, target);
        fpt_store_rollback(s);
        return -1;
    }
    return fpt_store_commit(s, err);
}

int fpt_store_job_counts(fpt_store *s, int64_t experiment_id, fpt_job_counts *c, fpt_err *err) {
    memset(c, 0, sizeof *c);
    sqlite3_stmt *q = s->st[ST_COUNTS];
    sqlite3_bind_int64(q, 1, experiment_id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *st = (const char *)sqlite3_column_text(q, 0);
        int64_t k = sqlite3_column_int64(q, 1);
        for (int i = 0; i < FPT_JOB_NSTATES; i++)
            if (st && strcmp(st, state_names[i]) == 0) c->by_state[i] = k;
        c->total += k;
    }
    if (rc != SQLITE_DONE) {
        db_fail(s, "counting jobs", err);
        done_with(q);
        return -1;
    }
    done_with(q);
    return 0;
}

int fpt_store_progress(fpt_store *s, fpt_progress_fn fn, void *ctx, fpt_err *err) {
    sqlite3_stmt *q = s->st[ST_PROGRESS];
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        fpt_progress_row r = {0};
        r.experiment_id = sqlite3_column_int64(q, 0);
        const char *name = (const char *)sqlite3_column_text(q, 1);
        snprintf(r.experiment, sizeof r.experiment, "%s", name ? name : "");
        r.jobs = sqlite3_column_int64(q, 2);
        for (int k = 0; k < FPT_JOB_NSTATES; k++) r.by_state[k] = 0;
        r.by_state[FPT_JOB_PENDING] = sqlite3_column_int64(q, 3);
        r.by_state[FPT_JOB_RUNNING] = sqlite3_column_int64(q, 4);
        r.by_state[FPT_JOB_DONE] = sqlite3_column_int64(q, 5);
        r.by_state[FPT_JOB_FAILED] = sqlite3_column_int64(q, 6);
        r.by_state[FPT_JOB_DIVERGED] = sqlite3_column_int64(q, 7);
        r.epochs = sqlite3_column_int64(q, 8);
        if (fn(&r, ctx)) break;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        db_fail(s, "reading progress", err);
        done_with(q);
        return -1;
    }
    done_with(q);
    return 0;
}

int fpt_store_job_release(fpt_store *s, int64_t job_id, fpt_err *err) {
    sqlite3_stmt *u = s->st[ST_JOB_RELEASE];
    sqlite3_bind_int64(u, 1, job_id);
    return run(s, u, "releasing a job", err);
}

int fpt_store_job_state(fpt_store *s, int64_t job_id, fpt_job_state *state, fpt_err *err) {
    sqlite3_stmt *q = s->st[ST_JOB_STATE];
    sqlite3_bind_int64(q, 1, job_id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) fpt_fail(err, "%s: no job %lld", s->path, (long long)job_id);
        else db_fail(s, "reading a job's state", err);
        done_with(q);
        return -1;
    }
    const char *st = (const char *)sqlite3_column_text(q, 0);
    int found = -1;
    for (int i = 0; i < FPT_JOB_NSTATES; i++)
        if (st && strcmp(st, state_names[i]) == 0) found = i;
    done_with(q);
    if (found < 0) return fpt_fail(err, "%s: job %lld has unknown state", s->path, (long long)job_id);
    *state = (fpt_job_state)found;
    return 0;
}

int fpt_store_jobs_reopen(fpt_store *s, int64_t experiment_id, int max_crashes, int retry_all,
                          int64_t *n, fpt_err *err) {
    if (n) *n = 0;
    sqlite3_stmt *u;
    if (fpt_sql_prepare(s->db,
                        retry_all
                            ? "UPDATE jobs SET state = 'pending', crashes = 0, finished_at = NULL "
                              "WHERE experiment_id = ?1 AND state = 'failed'"
                            : "UPDATE jobs SET state = 'pending', finished_at = NULL "
                              "WHERE experiment_id = ?1 AND state = 'failed' AND crashes < ?2",
                        &u) != SQLITE_OK)
        return db_fail(s, "reopening failed jobs", err);
    sqlite3_bind_int64(u, 1, experiment_id);
    if (!retry_all) sqlite3_bind_int(u, 2, max_crashes);
    int rc = sqlite3_step(u);
    sqlite3_finalize(u);
    if (rc != SQLITE_DONE) return db_fail(s, "reopening failed jobs", err);
    if (n) *n = sqlite3_changes(s->db);
    return 0;
}

int fpt_store_job_last_epoch(fpt_store *s, int64_t job_id, int *epoch, fpt_err *err) {
    sqlite3_stmt *q;
    if (fpt_sql_prepare(s->db, "SELECT coalesce(max(epoch), 0) FROM epochs WHERE job_id = ?1",
                        &q) != SQLITE_OK)
        return db_fail(s, "reading a job's epochs", err);
    sqlite3_bind_int64(q, 1, job_id);
    int rc = sqlite3_step(q);
    *epoch = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : db_fail(s, "reading a job's epochs", err);
}

int fpt_store_experiment_file(fpt_store *s, int64_t experiment_id, const fpt_store_file *f,
                              fpt_err *err) {
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)f->hash);
    sqlite3_stmt *q;
    if (fpt_sql_prepare(s->db,
                        "SELECT path, bytes, hash FROM experiment_files "
                        "WHERE experiment_id = ?1 AND role = ?2", &q) != SQLITE_OK)
        return db_fail(s, "reading the experiment's files", err);
    sqlite3_bind_int64(q, 1, experiment_id);
    sqlite3_bind_text(q, 2, f->role, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        char path[1024];
        snprintf(path, sizeof path, "%s", (const char *)sqlite3_column_text(q, 0));
        long long bytes = sqlite3_column_int64(q, 1);
        int same = bytes == f->bytes && !strcmp((const char *)sqlite3_column_text(q, 2), hash);
        char was[17];
        snprintf(was, sizeof was, "%s", (const char *)sqlite3_column_text(q, 2));
        sqlite3_finalize(q);
        if (same) return 0;
        return fpt_fail(err,
                        "%s: the %s file %s changed since the campaign started (was %s: %lld "
                        "bytes, hash %s; now %lld bytes, hash %s): the stored runs used the "
                        "old one; restore it, or start a new database",
                        s->path, f->role, f->path, path, bytes, was, (long long)f->bytes, hash);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return db_fail(s, "reading the experiment's files", err);
    if (fpt_store_begin(s, err)) return -1;
    sqlite3_stmt *ins;
    if (fpt_sql_prepare(s->db,
                        "INSERT INTO experiment_files (experiment_id, role, path, bytes, hash) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)", &ins) != SQLITE_OK) {
        db_fail(s, "recording the experiment's files", err);
        fpt_store_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(ins, 1, experiment_id);
    sqlite3_bind_text(ins, 2, f->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, f->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 4, f->bytes);
    sqlite3_bind_text(ins, 5, hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(ins);
    sqlite3_finalize(ins);
    if (rc != SQLITE_DONE) {
        db_fail(s, "recording the experiment's files", err);
        fpt_store_rollback(s);
        return -1;
    }
    return fpt_store_commit(s, err);
}
