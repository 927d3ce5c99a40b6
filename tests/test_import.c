// test_import.c — importing long-format trace CSVs: exact jobs, epochs and
// first passages (reached and censored) of a small file written here, one
// file:line error per kind of malformed input (unknown protocols included)
// with the database left without the experiment, a failed `fptfarm import`
// leaving no database it created (and every file that existed before), and
// the counts of the published CIFAR-10 traces (tests/data).
//
// Every test works in its own mkdtemp directory, removed by the fixture.
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/import_csv.h"
#include "store/store.h"
#include "study_data.h"
#include "tmpdir.h"

static char g_dir[64];
static char g_db[128];
static char g_csv[128];

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "import");
    snprintf(g_db, sizeof g_db, "%s/results.db", g_dir);
    snprintf(g_csv, sizeof g_csv, "%s/traces.csv", g_dir);
}

static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(import_csv, .init = make_dir, .fini = remove_dir);

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static fpt_store *open_store(void) {
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), 0, "%s", err.msg);
    return s;
}

static long long count_in(const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(db));
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

// ---- a small file with known answers -------------------------------------------

#define NRUNS 6
#define NEP 4
static const struct {
    const char *protocol;
    int period, seed;
    double acc[NEP];
} runs[NRUNS] = {
    {"none", 0, 0, {20, 40, 55, 72}},
    {"none", 0, 1, {30, 50, 60, 65}},
    {"none", 0, 2, {10, 20, 30, 40}},
    {"shrink_perturb", 2, 0, {60, 40, 80, 70}},
    {"shrink_perturb", 2, 1, {45, 49.99, 50, 10}},
    {"shrink_perturb", 2, 2, {70, 70, 70, 70}},
};

static const double targets[2] = {50, 70};

// Expected first passages, by hand: epoch reached, or 0 with censored at 4.
static const int want_fpt[NRUNS][2] = {
    {3, 4}, {2, 0}, {0, 0}, {1, 3}, {3, 0}, {1, 1},
};

static void write_small_csv(void) {
    FILE *f = fopen(g_csv, "w");
    cr_assert_not_null(f);
    fputs("protocol,period,seed,epoch,test_acc\n", f);
    for (int r = 0; r < NRUNS; r++)
        for (int e = 0; e < NEP; e++)
            fprintf(f, "%s,%d,%d,%d,%g\n", runs[r].protocol, runs[r].period, runs[r].seed, e + 1,
                    runs[r].acc[e]);
    fclose(f);
}

Test(import_csv, small_file_exact_rows) {
    write_small_csv();
    fpt_store *s = open_store();
    fpt_err err = {{0}};
    cr_assert_eq(fpt_import_csv(s, g_csv, "small", targets, 2, &err), 0, "%s", err.msg);
    fpt_store_close(s);

    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    // The experiment.
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT name, source, spec_text FROM experiments", -1, &st,
                                    NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "small");
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), "import");
    const char *spec = (const char *)sqlite3_column_text(st, 2);
    cr_assert_not_null(strstr(spec, "traces.csv"), "%s", spec);
    cr_assert_not_null(strstr(spec, "50,70"), "%s", spec);
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    // Jobs, in file order.
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT protocol, timing, frequency, seed, state, attempts, "
                                    "crashes, finished_at IS NOT NULL FROM jobs ORDER BY id",
                                    -1, &st, NULL),
                 SQLITE_OK);
    for (int r = 0; r < NRUNS; r++) {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "job %d", r);
        cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), runs[r].protocol);
        cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), r < 3 ? "none" : "periodic");
        cr_assert_eq(sqlite3_column_double(st, 2), r < 3 ? 0.0 : 2.0);
        cr_assert_eq(sqlite3_column_int(st, 3), runs[r].seed);
        cr_assert_str_eq((const char *)sqlite3_column_text(st, 4), "done");
        cr_assert_eq(sqlite3_column_int(st, 5), 0);
        cr_assert_eq(sqlite3_column_int(st, 6), 0);
        cr_assert_eq(sqlite3_column_int(st, 7), 1);
    }
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "more jobs than runs");
    sqlite3_finalize(st);

    // Epochs: test_acc only, the rest NULL, perturbed 0.
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT epoch, test_acc, train_loss IS NULL AND test_loss IS "
                                    "NULL AND lr IS NULL AND seconds IS NULL AND perturbed = 0 "
                                    "FROM epochs ORDER BY job_id, epoch",
                                    -1, &st, NULL),
                 SQLITE_OK);
    for (int r = 0; r < NRUNS; r++)
        for (int e = 0; e < NEP; e++) {
            cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
            cr_assert_eq(sqlite3_column_int(st, 0), e + 1);
            cr_assert_eq(sqlite3_column_double(st, 1), runs[r].acc[e], "run %d epoch %d", r, e + 1);
            cr_assert_eq(sqlite3_column_int(st, 2), 1);
        }
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "more epochs than written");
    sqlite3_finalize(st);

    // First passages.
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT target, coalesce(epoch, 0), coalesce(censored_at, 0) "
                                    "FROM first_passages ORDER BY job_id, target",
                                    -1, &st, NULL),
                 SQLITE_OK);
    for (int r = 0; r < NRUNS; r++)
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
            cr_assert_eq(sqlite3_column_double(st, 0), targets[k]);
            cr_assert_eq(sqlite3_column_int(st, 1), want_fpt[r][k], "run %d target %g", r,
                         targets[k]);
            cr_assert_eq(sqlite3_column_int(st, 2), want_fpt[r][k] ? 0 : NEP, "run %d target %g",
                         r, targets[k]);
        }
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(import_csv, existing_experiment_refused) {
    write_small_csv();
    fpt_store *s = open_store();
    fpt_err err = {{0}};
    cr_assert_eq(fpt_import_csv(s, g_csv, "small", targets, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_import_csv(s, g_csv, "small", targets, 2, &err), -1);
    cr_assert_not_null(strstr(err.msg, "experiment 'small' already exists"), "%s", err.msg);
    fpt_store_close(s);
    cr_assert_eq(count_in("SELECT count(*) FROM jobs"), NRUNS);
    cr_assert_eq(count_in("SELECT count(*) FROM epochs"), NRUNS * NEP);
}

// ---- malformed files: file:line errors, nothing stored --------------------------

#define H "protocol,period,seed,epoch,test_acc\n"
#define OK_RUN "none,0,0,1,10\nnone,0,0,2,20\n"   // lines 2-3

static const struct {
    const char *text;
    int line;
    const char *problem;
} bad[] = {
    {"", 1, "empty file"},
    {"protocol,period,seed,epoch,acc\n", 1, "expected the header"},
    {H OK_RUN "none,0,1,1\n", 4, "expected 5 comma-separated fields protocol,period,seed,epoch,test_acc"},
    {H OK_RUN "none,0,1,1,5,6\n", 4, "expected 5 comma-separated fields"},
    {H OK_RUN "\n", 4, "expected 5 comma-separated fields"},
    {H OK_RUN "none,0,1,1,abc\n", 4, "bad number 'abc' for test_acc"},
    {H OK_RUN "none,0,1,1,\n", 4, "bad number '' for test_acc"},
    {H OK_RUN "none,0,1,1,100.5\n", 4, "test_acc 100.5 outside [0, 100]"},
    {H OK_RUN "none,0,1,1,-1\n", 4, "test_acc -1 outside [0, 100]"},
    {H OK_RUN "none,0,1,0,50\n", 4, "epoch 0 < 1"},
    {H OK_RUN "none,0,1,x,50\n", 4, "bad epoch 'x'"},
    {H OK_RUN "none,zero,1,1,50\n", 4, "bad period 'zero'"},
    {H OK_RUN "none,0,1.5,1,50\n", 4, "bad seed '1.5'"},
    {H OK_RUN "none,3,1,1,50\n", 4, "protocol none needs period 0"},
    {H OK_RUN "sp,0,1,1,50\n", 4, "protocol sp needs a period >= 1"},
    {H OK_RUN "none,0,0,2,30\n", 4, "duplicate epoch 2"},
    {H OK_RUN "none,0,0,4,30\n", 4, "epoch 4 after epoch 2"},
    {H OK_RUN "none,0,1,2,30\n", 4, "starts at epoch 2, not 1"},
    {H OK_RUN "none,0,1,1,30\nnone,0,0,1,30\n", 5, "appears again"},
    // Protocols fptfarm does not know, refused at the run's first line with
    // the accepted names: `fptfarm fit` would refuse the long one later, and
    // take the others as conditions of their own.
    {H OK_RUN "Shrink_Perturb,2,1,1,30\nShrink_Perturb,2,1,2,40\n", 4,
     "unknown protocol 'Shrink_Perturb' (expected: none, reset, partial_reset, shrink_perturb, "
     "warm_restart)"},
    {H "sp,2,1,1,30\n" OK_RUN, 2, "unknown protocol 'sp' (expected: none, reset, partial_reset, "
     "shrink_perturb, warm_restart)"},
    {H OK_RUN "None,3,1,1,30\n", 4, "unknown protocol 'None'"},
    {H OK_RUN "shrink_perturb ,2,1,1,30\n", 4, "unknown protocol 'shrink_perturb '"},
    {H OK_RUN "shrink_perturb_with_a_name_of_more_than_31_bytes,2,1,1,30\n", 4,
     "unknown protocol 'shrink_perturb_with_a_name_of_more_than_31_bytes'"},
};

Test(import_csv, malformed_files_rolled_back) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(g_csv, bad[i].text);
        fpt_store *s = open_store();
        fpt_err err = {{0}};
        cr_assert_eq(fpt_import_csv(s, g_csv, "bad", targets, 2, &err), -1, "case %zu", i);
        fpt_store_close(s);
        char head[192];
        snprintf(head, sizeof head, "%s:%d: ", g_csv, bad[i].line);
        cr_assert_eq(strncmp(err.msg, head, strlen(head)), 0, "case %zu: '%s' does not start with '%s'",
                     i, err.msg, head);
        cr_assert_not_null(strstr(err.msg, bad[i].problem), "case %zu: '%s' lacks '%s'", i,
                           err.msg, bad[i].problem);
        cr_assert_eq(count_in("SELECT count(*) FROM experiments"), 0, "case %zu", i);
        cr_assert_eq(count_in("SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM epochs) "
                              "+ (SELECT count(*) FROM first_passages)"),
                     0, "case %zu", i);
    }
}

Test(import_csv, bad_arguments) {
    write_small_csv();
    fpt_store *s = open_store();
    fpt_err err = {{0}};
    double t[1] = {101};
    cr_assert_eq(fpt_import_csv(s, g_csv, "a", t, 1, &err), -1);
    cr_assert_not_null(strstr(err.msg, "target 101 outside"), "%s", err.msg);
    cr_assert_eq(fpt_import_csv(s, g_csv, "a", targets, 0, &err), -1);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.csv", g_dir);
    cr_assert_eq(fpt_import_csv(s, missing, "a", targets, 2, &err), -1);
    cr_assert_not_null(strstr(err.msg, "nope.csv: cannot open"), "%s", err.msg);
    fpt_store_close(s);
    cr_assert_eq(count_in("SELECT count(*) FROM experiments"), 0);
}

// ---- the study's file (tests/data, see its README) ---------------------------------

Test(import_csv, study_traces_counts, .timeout = 60) {
    char study[160];
    study_csv(g_dir, study, sizeof study);
    fpt_store *s = open_store();
    fpt_err err = {{0}};
    const double t72[1] = {72};
    cr_assert_eq(fpt_import_csv(s, study, "meir2025", t72, 1, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    cr_assert_eq(count_in("SELECT count(*) FROM epochs"), 598400);
    cr_assert_eq(count_in("SELECT count(*) FROM jobs WHERE protocol = 'none' AND timing = 'none' "
                          "AND frequency = 0"), 1000);
    cr_assert_eq(count_in("SELECT count(*) FROM jobs WHERE state <> 'done'"), 0);
    cr_assert_eq(count_in("SELECT count(*) FROM (SELECT job_id FROM epochs GROUP BY job_id "
                          "HAVING count(*) = 200 AND min(epoch) = 1 AND max(epoch) = 200)"),
                 count_in("SELECT count(*) FROM jobs"));
    // The perturbed periods of the study.
    static const int periods[] = {1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100};
    long long perturbed = 0;
    for (size_t i = 0; i < sizeof periods / sizeof *periods; i++) {
        char q[160];
        snprintf(q, sizeof q, "SELECT count(*) FROM jobs WHERE timing = 'periodic' AND frequency = %d",
                 periods[i]);
        long long n = count_in(q);
        cr_assert_geq(n, 77, "period %d: %lld runs", periods[i], n);
        perturbed += n;
    }
    cr_assert_eq(count_in("SELECT count(*) FROM jobs WHERE timing = 'periodic'"), perturbed,
                 "runs at periods outside the study's list");
    cr_assert_eq((1000 + perturbed) * 200, 598400);
    // A fact of the study's data: 293 of the 1000 unperturbed runs never reach 72%.
    cr_assert_eq(count_in("SELECT count(*) FROM first_passages fp JOIN jobs j ON j.id = fp.job_id "
                          "WHERE j.protocol = 'none' AND fp.target = 72 AND fp.epoch IS NULL "
                          "AND fp.censored_at = 200"),
                 293);
}

// Every protocol name fptfarm knows is imported, under its own name.
Test(import_csv, every_known_protocol_is_accepted) {
    static const char *const names[] = {"none", "reset", "partial_reset", "shrink_perturb",
                                        "warm_restart"};
    FILE *f = fopen(g_csv, "w");
    cr_assert_not_null(f);
    fputs(H, f);
    for (int i = 0; i < 5; i++) fprintf(f, "%s,%d,1,1,60\n", names[i], i == 0 ? 0 : 3);
    fclose(f);
    fpt_store *s = open_store();
    fpt_err err = {{0}};
    cr_assert_eq(fpt_import_csv(s, g_csv, "known", targets, 2, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    for (int i = 0; i < 5; i++) {
        char q[160];
        snprintf(q, sizeof q, "SELECT count(*) FROM jobs WHERE protocol = '%s'", names[i]);
        cr_expect_eq(count_in(q), 1, "%s", names[i]);
    }
}

// ---- a failed `fptfarm import` leaves no database it created ----------------------

// Runs `$FPTFARM import DB CSV --name NAME`; its exit status, stderr in err.
static int import_cmd(const char *db, const char *csv, const char *name, char *err, size_t cap) {
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    char cmd[1024], err_path[160];
    snprintf(err_path, sizeof err_path, "%s/err.txt", g_dir);
    snprintf(cmd, sizeof cmd, "%s import %s %s --name %s > /dev/null 2> %s", bin, db, csv, name,
             err_path);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    FILE *f = fopen(err_path, "r");
    cr_assert_not_null(f);
    err[fread(err, 1, cap - 1, f)] = '\0';
    fclose(f);
    return WEXITSTATUS(st);
}

// The files in g_dir whose names start with "results.db", as "a b c".
static void db_files(char *out, size_t cap) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cd %s && ls -A | grep '^results\\.db' | tr '\\n' ' '", g_dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    out[fread(out, 1, cap - 1, p)] = '\0';
    pclose(p);
}

// FNV-1a of a file's bytes and size (0: no such file).
static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    int c;
    long n = 0;
    while ((c = fgetc(f)) != EOF) h = (h ^ (unsigned char)c) * 0x100000001b3ull, n++;
    fclose(f);
    return h ^ (uint64_t)n;
}

Test(import_csv, failed_import_removes_only_the_database_it_created) {
    char err[1024], files[512];
    // A malformed file (line 4), and a protocol fptfarm does not know.
    write_file(g_csv, H OK_RUN "none,0,0,4,30\n");
    char unknown[160];
    snprintf(unknown, sizeof unknown, "%s/unknown.csv", g_dir);
    write_file(unknown, H OK_RUN "Shrink,2,1,1,30\n");
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.csv", g_dir);
    const char *const csvs[] = {g_csv, unknown, missing};
    for (int k = 0; k < 3; k++) {
        cr_expect_eq(import_cmd(g_db, csvs[k], "x", err, sizeof err), 1, "%s", err);
        cr_expect_eq(strncmp(err, "fptfarm: ", 9), 0, "%s", err);
        db_files(files, sizeof files);
        cr_expect_str_eq(files, "", "left behind by a failed import of %s: %s", csvs[k], files);
    }

    // A database that existed before is kept, unchanged: a good import
    // first, then failing ones into it.
    write_small_csv();
    cr_assert_eq(import_cmd(g_db, g_csv, "small", err, sizeof err), 0, "%s", err);
    const uint64_t before = file_hash(g_db);
    cr_assert_neq(before, 0);
    const char *const bad_csvs[] = {unknown, missing};
    for (int k = 0; k < 2; k++) {
        cr_expect_eq(import_cmd(g_db, bad_csvs[k], "y", err, sizeof err), 1, "%s", err);
        cr_expect_eq(file_hash(g_db), before, "%s: the existing database was changed", bad_csvs[k]);
        db_files(files, sizeof files);
        cr_expect_str_eq(files, "results.db ", "%s", files);
    }
    cr_expect_eq(count_in("SELECT count(*) FROM jobs"), NRUNS);

    // An empty file that existed before (made by the user, or left by a
    // crash) is not fptfarm's to remove either.
    cr_assert_eq(remove(g_db), 0);
    write_file(g_db, "");
    cr_expect_eq(import_cmd(g_db, missing, "x", err, sizeof err), 1, "%s", err);
    cr_expect_eq(access(g_db, F_OK), 0, "a file that existed before was removed");
}
