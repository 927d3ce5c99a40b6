// test_store.c — the SQLite results store: schema and version checks,
// refusal of foreign files, insert-or-get keys, idempotent epoch upserts,
// all-or-nothing batches, job state and crash accounting, hostile strings,
// and the views against hand-computed values.  Every check reads the
// database through its own sqlite3 connection and prepared statements.
//
// Every test works in its own mkdtemp directory, removed by the fixture.
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "test_env.h"
#include "tmpdir.h"

// ---- fixture ---------------------------------------------------------------

static char g_dir[64];
static char g_db[128];

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "store");
    snprintf(g_db, sizeof g_db, "%s/results.db", g_dir);
}

static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(store_schema, .init = make_dir, .fini = remove_dir);
TestSuite(store_keys, .init = make_dir, .fini = remove_dir);
TestSuite(store_jobs, .init = make_dir, .fini = remove_dir);
TestSuite(store_views, .init = make_dir, .fini = remove_dir);

static fpt_store *open_store(const char *path) {
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, path, 1, NULL, &err), 0, "%s", err.msg);
    return s;
}

// ---- an independent connection -----------------------------------------------

static sqlite3 *raw_open(const char *path) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                 SQLITE_OK);
    return db;
}

// The single integer a query returns (-999 for NULL); text parameter ?1 optional.
static long long raw_int(sqlite3 *db, const char *sql, const char *p1) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    if (p1) sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    long long v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -999 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static long long count_in(const char *path, const char *sql) {
    sqlite3 *db = raw_open(path);
    long long n = raw_int(db, sql, NULL);
    sqlite3_close(db);
    return n;
}

static void raw_exec(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static void assert_contains(const char *msg, const char *part) {
    cr_assert_not_null(strstr(msg, part), "message '%s' lacks '%s'", msg, part);
}

static int64_t experiment(fpt_store *s, const char *name) {
    fpt_err err = {{0}};
    int64_t id = -1;
    cr_assert_eq(fpt_store_experiment(s, name, "spec", "h1", "farm", &id, NULL, &err), 0, "%s",
                 err.msg);
    return id;
}

static int64_t job(fpt_store *s, int64_t exp, const char *protocol, double freq, int64_t seed) {
    fpt_err err = {{0}};
    int64_t id = -1;
    const char *timing = freq == 0 ? "none" : "periodic";
    cr_assert_eq(fpt_store_job(s, exp, protocol, timing, freq, seed, &id, NULL, &err), 0, "%s",
                 err.msg);
    return id;
}

// ---- schema ------------------------------------------------------------------

// The text of results/schema.sql up to (not including) the line starting
// with `stop` ("" = all), read independently of the library's copy.
static char *schema_file_until(const char *stop) {
    FILE *f = fopen("results/schema.sql", "rb");
    cr_assert_not_null(f, "results/schema.sql: %s (tests run from the project root)",
                       strerror(errno));
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cr_assert_lt(n, sizeof buf - 1, "schema.sql larger than the test buffer");
    buf[n] = '\0';
    if (*stop) {
        char *cut = strstr(buf, stop);
        cr_assert_not_null(cut, "results/schema.sql has no '%s'", stop);
        *cut = '\0';
    }
    return buf;
}

// All schema objects as one string, to compare two databases.
static void schema_listing(sqlite3 *db, char *out, size_t cap) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name",
                                    -1, &st, NULL),
                 SQLITE_OK);
    size_t n = 0;
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW && n < cap) {
        const unsigned char *sql = sqlite3_column_text(st, 2);
        n += (size_t)snprintf(out + n, cap - n, "%s %s %s\n", sqlite3_column_text(st, 0),
                              sqlite3_column_text(st, 1), sql ? (const char *)sql : "");
    }
    sqlite3_finalize(st);
    cr_assert_lt(n, cap, "schema listing truncated");
}

Test(store_schema, library_schema_is_the_file) {
    const char *file = schema_file_until("");
    cr_assert_str_eq(fpt_store_schema_sql, file, "the compiled-in schema is not results/schema.sql");
    char first[96];
    snprintf(first, sizeof first, "schema version %d (PRAGMA user_version = %d)",
             FPT_STORE_SCHEMA_VERSION, FPT_STORE_SCHEMA_VERSION);
    assert_contains(file, first);
}


Test(store_schema, version_1_is_upgraded_in_place) {
    test_make_v1_database(g_db);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM sqlite_schema WHERE name = 'fits'"), 0);
    fpt_store_close(open_store(g_db));
    cr_assert_eq(count_in(g_db, "PRAGMA user_version"), FPT_STORE_SCHEMA_VERSION);
    // The data is still there.
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM epochs WHERE job_id = 1"), 2);
    cr_assert_eq(count_in(g_db, "SELECT seed FROM jobs WHERE state = 'done'"), 7);
    // And the schema is exactly that of a database created new.
    char fresh_db[160];
    snprintf(fresh_db, sizeof fresh_db, "%s/fresh.db", g_dir);
    fpt_store_close(open_store(fresh_db));
    static char a[1 << 15], b[1 << 15];
    sqlite3 *db = raw_open(g_db);
    schema_listing(db, a, sizeof a);
    sqlite3_close(db);
    db = raw_open(fresh_db);
    schema_listing(db, b, sizeof b);
    sqlite3_close(db);
    cr_assert_str_eq(a, b, "upgraded and new schemas differ");
}

// An upgrade that fails half-way (the file may not grow: RLIMIT_FSIZE, as a
// full disk or quota would) leaves the database at version 1, every object
// as it was.  (A version-1 database with an extra table is another
// program's, refused before any upgrade: test_store_guard.c.)
Test(store_schema, failed_upgrade_leaves_version_1) {
    test_make_v1_database(g_db);
    long long objects = count_in(g_db, "SELECT count(*) FROM sqlite_schema");
    struct stat sb;
    cr_assert_eq(stat(g_db, &sb), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        signal(SIGXFSZ, SIG_IGN);   // a write past the limit fails with EFBIG instead
        struct rlimit lim = {(rlim_t)sb.st_size + 4096, (rlim_t)sb.st_size + 4096};
        setrlimit(RLIMIT_FSIZE, &lim);
        fpt_err err = {{0}};
        fpt_store *s = NULL;
        int rc = fpt_store_open(&s, g_db, 1, NULL, &err);
        _exit(rc == -1 && strstr(err.msg, "upgrading the schema from version 1") ? 0 : 1);
    }
    int st;
    waitpid(child, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the upgrade did not fail as expected");
    cr_assert_eq(count_in(g_db, "PRAGMA user_version"), 1);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM sqlite_schema"), objects,
                 "half an upgrade was left behind");
    // Without the limit the same file upgrades.
    fpt_store_close(open_store(g_db));
    cr_assert_eq(count_in(g_db, "PRAGMA user_version"), FPT_STORE_SCHEMA_VERSION);
}

Test(store_schema, creates_tables_views_and_version) {
    fpt_store *s = open_store(g_db);
    fpt_store_close(s);
    sqlite3 *db = raw_open(g_db);
    cr_assert_eq(raw_int(db, "PRAGMA user_version", NULL), FPT_STORE_SCHEMA_VERSION);
    const char *objects[] = {"experiments",    "jobs",         "epochs",     "first_passages",
                             "v_progress",     "v_mfpt",       "v_survival", "jobs_experiment_state",
                             "fits",           "fit_conditions", "fit_survival", "fit_ks",
                             "fit_references", "fit_predictions", "v_fit_check",
                             "campaign_decisions", "campaign_summary", "farm", "lease",
                             "experiment_files", "fit_drift", "fit_qss"};
    for (size_t i = 0; i < sizeof objects / sizeof *objects; i++)
        cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = ?1", objects[i]),
                     1, "%s missing", objects[i]);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", NULL), 17);
    cr_assert_eq(raw_int(db, "PRAGMA application_id", NULL), 0x46505446, "\"FPTF\"");
    cr_assert_eq(raw_int(db, "SELECT length(database_id) FROM farm", NULL), 32);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'", NULL), 4);
    sqlite3_close(db);
    // The rollback journal is the default: no -wal file appears.
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", g_db);
    cr_assert_neq(access(wal, F_OK), 0, "unexpected %s", wal);
}

Test(store_schema, reopen_is_idempotent) {
    fpt_store *s = open_store(g_db);
    int64_t e1 = experiment(s, "exp");
    int64_t j1 = job(s, e1, "none", 0, 1);
    fpt_store_close(s);
    long long objects = count_in(g_db, "SELECT count(*) FROM sqlite_schema");
    for (int round = 0; round < 2; round++) {
        s = open_store(g_db);
        fpt_err err = {{0}};
        int64_t e2;
        int created = -1;
        cr_assert_eq(fpt_store_experiment(s, "exp", "spec", "h1", "farm", &e2, &created, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(e2, e1);
        cr_assert_eq(created, 0);
        cr_assert_eq(job(s, e2, "none", 0, 1), j1);
        fpt_store_close(s);
    }
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM experiments"), 1);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM jobs"), 1);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM sqlite_schema"), objects);
    cr_assert_eq(count_in(g_db, "PRAGMA user_version"), FPT_STORE_SCHEMA_VERSION);
}

Test(store_schema, newer_version_refused) {
    fpt_store_close(open_store(g_db));
    sqlite3 *db = raw_open(g_db);
    raw_exec(db, "PRAGMA user_version = 7");
    sqlite3_close(db);
    fpt_err err = {{0}};
    fpt_store *s = (fpt_store *)1;
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), -1);
    cr_assert_null(s);
    assert_contains(err.msg, g_db);
    assert_contains(err.msg, "schema version 7");
    assert_contains(err.msg, "version 6");
    assert_contains(err.msg, "newer");
    cr_assert_eq(count_in(g_db, "PRAGMA user_version"), 7, "the refused database was changed");
}

Test(store_schema, foreign_sqlite_database_refused) {
    sqlite3 *db = raw_open(g_db);
    raw_exec(db, "CREATE TABLE other (x)");
    sqlite3_close(db);
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), -1);
    assert_contains(err.msg, g_db);
    assert_contains(err.msg, "not an fptfarm results database");
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM sqlite_schema"), 1);
}

Test(store_schema, non_database_file_refused) {
    FILE *f = fopen(g_db, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 200; i++) fputs("protocol,period,seed,epoch,test_acc\n", f);
    fclose(f);
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), -1);
    cr_assert_null(s);
    assert_contains(err.msg, g_db);
    assert_contains(err.msg, "not an SQLite database");
}

Test(store_schema, missing_file_without_create_refused) {
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, g_db, 0, NULL, &err), -1);
    assert_contains(err.msg, g_db);
    cr_assert_neq(access(g_db, F_OK), 0, "open without create made the file");
}

Test(store_schema, wal_exclusive_option) {
    fpt_store_options o = {.wal_exclusive = 1, .busy_timeout_ms = 100};
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, g_db, 1, &o, &err), 0, "%s", err.msg);
    experiment(s, "w");
    fpt_store_close(s);
    sqlite3 *db = raw_open(g_db);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM experiments", NULL), 1);
    sqlite3_close(db);
}

// ---- keys ----------------------------------------------------------------------

Test(store_keys, experiment_hash_mismatch_refused) {
    fpt_store *s = open_store(g_db);
    experiment(s, "sweep");
    fpt_err err = {{0}};
    int64_t id;
    cr_assert_eq(fpt_store_experiment(s, "sweep", "other spec", "h2", "farm", &id, NULL, &err), -1);
    char want[512];
    snprintf(want, sizeof want,
             "%s: experiment 'sweep' exists with a different spec (hash h1 vs h2); use a new "
             "database or name",
             g_db);
    cr_assert_str_eq(err.msg, want);
    fpt_store_close(s);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM experiments"), 1);
}

Test(store_keys, job_unique_key) {
    fpt_store *s = open_store(g_db);
    int64_t e = experiment(s, "x");
    fpt_err err = {{0}};
    int64_t a, b, c, d;
    int created;
    cr_assert_eq(fpt_store_job(s, e, "shrink_perturb", "periodic", 5, 7, &a, &created, &err), 0);
    cr_assert_eq(created, 1);
    cr_assert_eq(fpt_store_job(s, e, "shrink_perturb", "periodic", 5, 7, &b, &created, &err), 0);
    cr_assert_eq(created, 0);
    cr_assert_eq(a, b);
    cr_assert_eq(fpt_store_job(s, e, "shrink_perturb", "periodic", 5, 8, &c, &created, &err), 0);
    cr_assert_eq(fpt_store_job(s, e, "shrink_perturb", "geometric", 0.2, 7, &d, &created, &err), 0);
    cr_assert(c != a && d != a && d != c);
    // A job of an experiment that does not exist violates the foreign key.
    int64_t z;
    cr_assert_eq(fpt_store_job(s, e + 100, "none", "none", 0, 1, &z, NULL, &err), -1);
    assert_contains(err.msg, "FOREIGN KEY");
    assert_contains(err.msg, g_db);
    fpt_store_close(s);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM jobs"), 3);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM jobs WHERE state = 'pending' AND attempts = 0"),
                 3);
}

static fpt_epoch_record rec(int epoch, double acc) {
    fpt_epoch_record r = {epoch, 2.0 / epoch, 1.5 / epoch, acc, 0.05, epoch % 2, 0.25 * epoch};
    return r;
}

Test(store_keys, add_epochs_twice_is_idempotent) {
    fpt_store *s = open_store(g_db);
    int64_t j = job(s, experiment(s, "x"), "none", 0, 1);
    fpt_epoch_record r[5];
    for (int i = 0; i < 5; i++) r[i] = rec(i + 1, 10.0 * (i + 1));
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_add_epochs(s, j, r, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_add_epochs(s, j, r, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM epochs"), 5);
    cr_assert_eq(count_in(g_db, "SELECT sum(test_acc) FROM epochs"), 150);
    cr_assert_eq(count_in(g_db, "SELECT sum(perturbed) FROM epochs"), 3);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM epochs WHERE lr = 0.05 AND "
                                "seconds = 0.25 * epoch AND train_loss = 2.0 / epoch"),
                 5);
    // New values for stored epochs replace them (last write wins), still 5 rows.
    r[2].test_acc = 99;
    r[3].lr = NAN;   // stored as NULL
    cr_assert_eq(fpt_store_add_epochs(s, j, r + 2, 2, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM epochs"), 5);
    cr_assert_eq(count_in(g_db, "SELECT test_acc FROM epochs WHERE epoch = 3"), 99);
    cr_assert_eq(count_in(g_db, "SELECT lr FROM epochs WHERE epoch = 4"), -999);
}

Test(store_keys, failing_batch_rolls_back) {
    fpt_store *s = open_store(g_db);
    int64_t j = job(s, experiment(s, "x"), "none", 0, 1);
    fpt_epoch_record first[2] = {rec(1, 10), rec(2, 20)};
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_add_epochs(s, j, first, 2, &err), 0, "%s", err.msg);
    fpt_epoch_record bad[4] = {rec(3, 30), rec(4, 40), rec(0, 50), rec(5, 60)};
    cr_assert_eq(fpt_store_add_epochs(s, j, bad, 4, &err), -1);
    assert_contains(err.msg, g_db);
    assert_contains(err.msg, "CHECK constraint failed");
    assert_contains(err.msg, "epoch 0");
    // The store is still usable after the rollback.
    fpt_epoch_record ok[1] = {rec(3, 33)};
    cr_assert_eq(fpt_store_add_epochs(s, j, ok, 1, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM epochs"), 3);
    cr_assert_eq(count_in(g_db, "SELECT max(epoch) FROM epochs"), 3);
    cr_assert_eq(count_in(g_db, "SELECT test_acc FROM epochs WHERE epoch = 3"), 33);
}

Test(store_keys, hostile_names_stored_verbatim) {
    const char *name = "it's \"quoted\"; x'); DROP TABLE jobs; --";
    const char *protocol = "'); DROP TABLE jobs; --";
    fpt_store *s = open_store(g_db);
    int64_t e = experiment(s, name);
    int64_t j = job(s, e, protocol, 3, 1);
    cr_assert_eq(experiment(s, name), e);
    cr_assert_eq(job(s, e, protocol, 3, 1), j);
    fpt_store_close(s);
    sqlite3 *db = raw_open(g_db);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM experiments WHERE name = ?1", name), 1);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM jobs WHERE protocol = ?1", protocol), 1);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT e.name, j.protocol FROM jobs j JOIN experiments e "
                                        "ON e.id = j.experiment_id", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), name);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), protocol);
    sqlite3_finalize(st);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'jobs'", NULL), 1);
    sqlite3_close(db);
}

// ---- job states ------------------------------------------------------------------

Test(store_jobs, start_finish_and_counts) {
    fpt_store *s = open_store(g_db);
    int64_t e = experiment(s, "x"), other = experiment(s, "y");
    int64_t j[6];
    for (int i = 0; i < 6; i++) j[i] = job(s, e, "none", 0, i);
    job(s, other, "none", 0, 0);   // another experiment's job: not counted
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_job_start(s, j[0], 3, "node-a", NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_job_start(s, j[1], 4, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_job_start(s, j[2], 5, "node-b", NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_job_finish(s, j[1], FPT_JOB_DONE, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_job_finish(s, j[2], FPT_JOB_DIVERGED, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_job_finish(s, j[3], FPT_JOB_FAILED, &err), 0, "%s", err.msg);
    // Wrong transitions are refused with the job's state in the message.
    cr_assert_eq(fpt_store_job_start(s, j[1], 1, "n", NULL, &err), -1);
    assert_contains(err.msg, "is 'done', not pending");
    cr_assert_eq(fpt_store_job_finish(s, j[1], FPT_JOB_DONE, &err), -1);
    cr_assert_eq(fpt_store_job_finish(s, j[4], FPT_JOB_RUNNING, &err), -1);
    cr_assert_eq(fpt_store_job_start(s, 9999, 1, "n", NULL, &err), -1);
    assert_contains(err.msg, "no such job");

    fpt_job_counts c;
    cr_assert_eq(fpt_store_job_counts(s, e, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.total, 6);
    cr_assert_eq(c.by_state[FPT_JOB_PENDING], 2);
    cr_assert_eq(c.by_state[FPT_JOB_RUNNING], 1);
    cr_assert_eq(c.by_state[FPT_JOB_DONE], 1);
    cr_assert_eq(c.by_state[FPT_JOB_DIVERGED], 1);
    cr_assert_eq(c.by_state[FPT_JOB_FAILED], 1);
    fpt_store_close(s);

    sqlite3 *db = raw_open(g_db);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM jobs WHERE worker = 3 AND host = 'node-a' AND "
                             "attempts = 1 AND started_at IS NOT NULL AND finished_at IS NULL",
                         NULL),
                 1);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM jobs WHERE worker = 4 AND host IS NULL AND "
                             "state = 'done' AND finished_at >= started_at",
                         NULL),
                 1);
    sqlite3_close(db);
}

Test(store_jobs, crashes_reach_failed_at_limit) {
    fpt_store *s = open_store(g_db);
    int64_t j = job(s, experiment(s, "x"), "none", 0, 1);
    fpt_err err = {{0}};
    const int limit = 3;
    for (int k = 1; k <= limit; k++) {
        int failed = -1;
        cr_assert_eq(fpt_store_job_start(s, j, k, "h", NULL, &err), 0, "crash %d: %s", k, err.msg);
        cr_assert_eq(fpt_store_job_crash(s, j, limit, &failed, &err), 0, "%s", err.msg);
        cr_assert_eq(failed, k == limit, "crash %d", k);
        char q[160];
        snprintf(q, sizeof q,
                 "SELECT count(*) FROM jobs WHERE crashes = %d AND attempts = %d AND state = '%s'",
                 k, k, k == limit ? "failed" : "pending");
        cr_assert_eq(count_in(g_db, q), 1, "after crash %d", k);
    }
    // A failed job cannot be restarted or crash again.
    cr_assert_eq(fpt_store_job_start(s, j, 1, "h", NULL, &err), -1);
    cr_assert_eq(fpt_store_job_crash(s, j, limit, NULL, &err), -1);
    assert_contains(err.msg, "is 'failed', not running");
    fpt_store_close(s);
    cr_assert_eq(count_in(g_db, "SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL"), 1);
}

// ---- first passages and views ------------------------------------------------------

Test(store_views, first_passages_mfpt_and_survival) {
    fpt_store *s = open_store(g_db);
    int64_t e = experiment(s, "x");
    fpt_err err = {{0}};
    // Four runs, target 50: reached at 3, censored at 3, reached at 5, reached at 5.
    int64_t j[4];
    for (int i = 0; i < 4; i++) j[i] = job(s, e, "none", 0, i);
    cr_assert_eq(fpt_store_first_passage(s, j[0], 50, 3, 10, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_first_passage(s, j[1], 50, 0, 3, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_first_passage(s, j[2], 50, 5, 10, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_first_passage(s, j[3], 50, 0, 4, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_first_passage(s, j[3], 50, 5, 10, &err), 0, "%s", err.msg);   // upsert
    cr_assert_eq(fpt_store_first_passage(s, j[0], 50, 0, 0, &err), -1);
    fpt_store_close(s);
    sqlite3 *db = raw_open(g_db);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM first_passages", NULL), 4);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM first_passages WHERE epoch IS NULL AND "
                             "censored_at = 3", NULL), 1);
    cr_assert_eq(raw_int(db, "SELECT runs * 1000000 + reached * 10000 + censored * 100 + "
                             "CAST(round(mean_fpt_reached_only * 3) AS INT) FROM v_mfpt", NULL),
                 4 * 1000000 + 3 * 10000 + 1 * 100 + 13);   // mean (3+5+5)/3
    // Kaplan-Meier: t=3: 4 at risk, 1 event, 1 censored, S=3/4; t=5: 2 at risk, 2 events, S=0.
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM v_survival", NULL), 2);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM v_survival WHERE epoch = 3 AND at_risk = 4 AND "
                             "events = 1 AND censored = 1 AND abs(km_survival - 0.75) < 1e-12",
                         NULL),
                 1);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM v_survival WHERE epoch = 5 AND at_risk = 2 AND "
                             "events = 2 AND censored = 0 AND km_survival = 0", NULL),
                 1);
    cr_assert_eq(raw_int(db, "SELECT jobs * 100 + pending FROM v_progress", NULL), 404);
    sqlite3_close(db);
}
