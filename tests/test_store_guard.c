// test_store_guard.c — what the results store refuses and guards (issue
// "nothing stale, nothing shared, nothing lost"): names that would give a
// temporary database, other programs' SQLite files (by application_id, and
// by their tables when they carry a user_version like fptfarm's before
// version 5), damaged databases (PRAGMA quick_check), the database's
// identity, the writer's lease (live holders refused, dead ones taken over,
// on this machine by pid and start time, from another by heartbeat), failed
// jobs reopened, and data files fingerprinted.  Every check reads the files
// through its own sqlite3 connection, and "unchanged" means byte for byte.
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test_env.h"
#include "tmpdir.h"

static char g_dir[64];
static char g_db[128];

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "guard");
    snprintf(g_db, sizeof g_db, "%s/results.db", g_dir);
}

static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(store_guard, .init = make_dir, .fini = remove_dir);
TestSuite(store_lease, .init = make_dir, .fini = remove_dir);

// ---- helpers ---------------------------------------------------------------------

static sqlite3 *raw_open(const char *path) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                 SQLITE_OK);
    return db;
}

static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db = raw_open(path);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql,
                 msg ? msg : "");
    sqlite3_close(db);
}

static long long raw_int(const char *path, const char *sql) {
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    long long v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -999 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void assert_contains(const char *msg, const char *part) {
    cr_assert_not_null(strstr(msg, part), "message '%s' lacks '%s'", msg, part);
}

static fpt_store *open_ok(const char *path) {
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    cr_assert_eq(fpt_store_open(&s, path, 1, NULL, &err), 0, "%s", err.msg);
    return s;
}

// Opening path must fail with `part` in the message and leave the file's
// bytes as they were.
static void refused_unchanged(const char *path, const char *part) {
    size_t n0, n1;
    char *before = slurp(path, &n0);
    fpt_err err = {{0}};
    fpt_store *s = (fpt_store *)1;
    cr_assert_eq(fpt_store_open(&s, path, 1, NULL, &err), -1, "%s was opened", path);
    cr_assert_null(s);
    assert_contains(err.msg, part);
    char *after = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "%s was modified", path);
    free(before);
    free(after);
}

// ---- refusals --------------------------------------------------------------------------

Test(store_guard, names_that_give_a_temporary_database_are_refused) {
    const char *names[] = {"", ":memory:", "file:x.db?mode=memory"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        fpt_err err = {{0}};
        fpt_store *s = (fpt_store *)1;
        cr_assert_eq(fpt_store_open(&s, names[i], 1, NULL, &err), -1, "'%s' accepted", names[i]);
        cr_assert_null(s);
        assert_contains(err.msg, "not a database file name");
    }
}

// Another program's SQLite file with user_version 1 or 2 (the versions
// fptfarm had before it set an application_id) keeps every byte, even when
// some of its table names are fptfarm's.
Test(store_guard, other_programs_databases_are_never_modified) {
    const char *schemas[] = {
        "CREATE TABLE notes (x); PRAGMA user_version = 1;",
        "CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT); "
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY); PRAGMA user_version = 2;",
        "CREATE TABLE t (x); PRAGMA application_id = 1234; PRAGMA user_version = 5;",
        "PRAGMA application_id = 99;",
    };
    const char *part[] = {"not an fptfarm results database", "not an fptfarm results database",
                          "application_id 0x000004d2", "application_id 0x00000063"};
    for (size_t i = 0; i < sizeof schemas / sizeof *schemas; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/other-%zu.db", g_dir, i);
        raw_exec(path, schemas[i]);
        refused_unchanged(path, part[i]);
    }
}

// A database of fptfarm at version 1 (no application_id) is recognised by
// its tables, upgraded, and gets the identity and application_id.
Test(store_guard, fptfarm_version_1_is_recognised_and_gets_an_identity) {
    test_make_v1_database(g_db);
    fpt_store *s = open_ok(g_db);
    char id[33];
    snprintf(id, sizeof id, "%s", fpt_store_database_id(s));
    fpt_store_close(s);
    cr_assert_eq(raw_int(g_db, "PRAGMA application_id"), FPT_STORE_APPLICATION_ID);
    cr_assert_eq(strlen(id), 32);
    for (int i = 0; i < 32; i++) cr_assert(strchr("0123456789abcdef", id[i]), "%s", id);
    // The identity is made once: a reopen sees the same.
    s = open_ok(g_db);
    cr_assert_str_eq(fpt_store_database_id(s), id);
    fpt_store_close(s);
    // Two databases never share one (128 random bits).
    char other[160];
    snprintf(other, sizeof other, "%s/other.db", g_dir);
    s = open_ok(other);
    cr_assert_str_neq(fpt_store_database_id(s), id);
    fpt_store_close(s);
}

// A page of the epochs table overwritten: quick_check fails, the open is
// refused with the way to recover, and the file is not touched.  The recipe
// the message gives, run as given, makes a database fptfarm opens, with the
// same identity (so the campaign's checkpoints still belong to it).
Test(store_guard, damaged_database_is_refused_untouched) {
    fpt_store *s = open_ok(g_db);
    fpt_err err = {{0}};
    int64_t e, j;
    cr_assert_eq(fpt_store_experiment(s, "x", "spec", "h", "farm", &e, NULL, &err), 0);
    cr_assert_eq(fpt_store_job(s, e, "none", "none", 0, 1, &j, NULL, &err), 0);
    fpt_epoch_record r[400];
    for (int i = 0; i < 400; i++) r[i] = (fpt_epoch_record){.epoch = i + 1, .test_acc = i * 0.1};
    cr_assert_eq(fpt_store_add_epochs(s, j, r, 400, &err), 0, "%s", err.msg);
    char id[33];
    snprintf(id, sizeof id, "%s", fpt_store_database_id(s));
    fpt_store_close(s);
    // The last page of the file belongs to the epochs table's b-tree.
    size_t n;
    char *b = slurp(g_db, &n);
    long page = raw_int(g_db, "PRAGMA page_size");
    cr_assert_gt(n, 4 * (size_t)page);
    memset(b + n - (size_t)page + 8, 0x5a, (size_t)page / 2);
    FILE *f = fopen(g_db, "wb");
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
    refused_unchanged(g_db, "damaged (PRAGMA quick_check");
    refused_unchanged(g_db, ") | sqlite3 RECOVERED.db");
    fpt_store *t = NULL;
    cr_assert_eq(fpt_store_open(&t, g_db, 1, NULL, &err), -1);
    const char *a = strchr(err.msg, '`'), *z = a ? strchr(a + 1, '`') : NULL;
    cr_assert(a && z, "no command in '%s'", err.msg);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %.*s 2>/dev/null", g_dir, (int)(z - a - 1), a + 1);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char rec[160];
    snprintf(rec, sizeof rec, "%s/RECOVERED.db", g_dir);
    t = open_ok(rec);
    cr_expect_str_eq(fpt_store_database_id(t), id, "the recovered database's identity");
    fpt_store_close(t);
    cr_expect_gt(raw_int(rec, "SELECT count(*) FROM epochs"), 0, "nothing recovered");
}

// ---- the lease -------------------------------------------------------------------------

static void boot_id(char *out, size_t cap) {
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(out, (int)cap, f));
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

// Start time of pid (field 22 of /proc/PID/stat), read here independently.
static long long ticks_of(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')') + 2;   // field 3
    for (int field = 3; field < 22; field++) p = strchr(p, ' ') + 1;
    return atoll(p);
}

// Writes the lease row as another holder would have.
static void set_holder(const char *boot, long long pid, long long ticks, long long heartbeat) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO lease (id, command, host, boot_id, pid, start_ticks, since, "
             "heartbeat) VALUES (1, 'run', 'nodeX', '%s', %lld, %lld, '2026-01-02T03:04:05Z', "
             "%lld)", boot, pid, ticks, heartbeat);
    raw_exec(g_db, sql);
}

static int take(fpt_store *s, char *taken, size_t cap, fpt_err *err) {
    return fpt_store_lease_take(s, "run", taken, cap, err);
}

Test(store_lease, a_live_holder_on_this_machine_is_refused_by_name) {
    fpt_store_close(open_ok(g_db));
    char boot[64];
    boot_id(boot, sizeof boot);
    const pid_t parent = getppid();   // alive for the whole test
    set_holder(boot, parent, ticks_of(parent), 0);
    fpt_store *s = open_ok(g_db);
    fpt_err err = {{0}};
    char taken[512];
    cr_assert_eq(take(s, taken, sizeof taken, &err), -1, "a live holder's lease was taken");
    assert_contains(err.msg, "in use by fptfarm run on host nodeX");
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)parent);
    assert_contains(err.msg, pid);
    assert_contains(err.msg, "since 2026-01-02T03:04:05Z");
    fpt_store_close(s);
    cr_assert_eq(raw_int(g_db, "SELECT pid FROM lease"), parent, "the holder's row changed");
}

Test(store_lease, dead_or_reused_pids_and_silent_machines_are_taken_over) {
    fpt_store_close(open_ok(g_db));
    char boot[64];
    boot_id(boot, sizeof boot);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) _exit(0);
    long long child_ticks = ticks_of(getpid()) + 1;   // any: the pid is gone after the wait
    waitpid(child, NULL, 0);
    const pid_t parent = getppid();
    const long long now = (long long)time(NULL);
    struct {
        const char *boot;
        long long pid, ticks, heartbeat;
        const char *why;
    } cases[] = {
        {boot, child, child_ticks, now, "is gone"},                    // dead pid
        {boot, parent, ticks_of(parent) + 7, now, "is gone"},          // pid reused since
        {"other-machine", 1, 1, now - FPT_LEASE_STALE_S - 5, "no heartbeat for"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        set_holder(cases[i].boot, cases[i].pid, cases[i].ticks, cases[i].heartbeat);
        fpt_store *s = open_ok(g_db);
        fpt_err err = {{0}};
        char taken[512] = "";
        cr_assert_eq(take(s, taken, sizeof taken, &err), 0, "case %zu: %s", i, err.msg);
        assert_contains(taken, "fptfarm run on host nodeX");
        assert_contains(taken, cases[i].why);
        cr_assert_eq(raw_int(g_db, "SELECT pid FROM lease"), getpid());
        fpt_store_close(s);
        cr_assert_eq(raw_int(g_db, "SELECT count(*) FROM lease"), 0, "close releases the lease");
    }
    // Another machine with a recent heartbeat is alive: refused.
    set_holder("other-machine", 1, 1, now - 5);
    fpt_store *s = open_ok(g_db);
    fpt_err err = {{0}};
    cr_assert_eq(take(s, NULL, 0, &err), -1);
    assert_contains(err.msg, "another machine");
    fpt_store_close(s);
}

Test(store_lease, renew_fails_once_another_process_took_over) {
    fpt_store *s = open_ok(g_db);
    fpt_err err = {{0}};
    cr_assert_eq(take(s, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_lease_renew(s, &err), 0, "%s", err.msg);
    set_holder("other-machine", 42, 42, (long long)time(NULL));
    cr_assert_eq(fpt_store_lease_renew(s, &err), -1);
    assert_contains(err.msg, "another process took over");
    fpt_store_close(s);
    cr_assert_eq(raw_int(g_db, "SELECT pid FROM lease"), 42, "the new holder's lease was freed");
}

// ---- failed jobs reopened, data files fingerprinted -----------------------------------

Test(store_guard, failed_jobs_reopen_above_their_crashes_or_all_on_request) {
    fpt_store *s = open_ok(g_db);
    fpt_err err = {{0}};
    int64_t e, j[3];
    cr_assert_eq(fpt_store_experiment(s, "x", "spec", "h", "farm", &e, NULL, &err), 0);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(fpt_store_job(s, e, "none", "none", 0, k + 1, &j[k], NULL, &err), 0);
    fpt_store_close(s);
    // Job 1 failed at 1 crash, job 2 at 3, job 3 done.
    raw_exec(g_db, "UPDATE jobs SET state = 'failed', crashes = 1 WHERE seed = 1;"
                   "UPDATE jobs SET state = 'failed', crashes = 3 WHERE seed = 2;"
                   "UPDATE jobs SET state = 'done' WHERE seed = 3;");
    s = open_ok(g_db);
    int64_t n = -1;
    cr_assert_eq(fpt_store_jobs_reopen(s, e, 3, 0, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(raw_int(g_db, "SELECT count(*) FROM jobs WHERE state = 'pending' AND crashes = 1 "
                               "AND seed = 1"), 1);
    cr_assert_eq(fpt_store_jobs_reopen(s, e, 3, 1, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(raw_int(g_db, "SELECT crashes FROM jobs WHERE seed = 2"), 0);
    cr_assert_eq(raw_int(g_db, "SELECT count(*) FROM jobs WHERE state = 'pending'"), 2);
    cr_assert_eq(raw_int(g_db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 1);
    fpt_store_close(s);
}

Test(store_guard, a_changed_data_file_is_named) {
    fpt_store *s = open_ok(g_db);
    fpt_err err = {{0}};
    int64_t e;
    cr_assert_eq(fpt_store_experiment(s, "x", "spec", "h", "farm", &e, NULL, &err), 0);
    fpt_store_file f = {.role = "replay table", .path = "runs.csv", .bytes = 100,
                        .hash = 0x1234};
    cr_assert_eq(fpt_store_experiment_file(s, e, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_experiment_file(s, e, &f, &err), 0, "%s", err.msg);
    f.hash = 0x1235;
    cr_assert_eq(fpt_store_experiment_file(s, e, &f, &err), -1);
    assert_contains(err.msg, "replay table file runs.csv changed");
    assert_contains(err.msg, "0000000000001234");
    f.hash = 0x1234, f.bytes = 101;
    cr_assert_eq(fpt_store_experiment_file(s, e, &f, &err), -1);
    assert_contains(err.msg, "101 bytes");
    fpt_store_close(s);
    cr_assert_eq(raw_int(g_db, "SELECT count(*) FROM experiment_files"), 1);
}
