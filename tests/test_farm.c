// test_farm.c — the MPI farm for real: `mpirun -n N build/fptfarm run` with
// 2, 3 and 8 ranks (oversubscribed), the database checked row by row; the
// coordinator killed with SIGKILL mid-run and restarted; an orderly stop by
// SIGUSR1 to mpirun (exit 3) and its resume; a changed spec refused.
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/backend.h"
#include "test_env.h"

static char dir[] = "/tmp/fpt_farm_XXXXXX";
static const char *bin = "build/fptfarm";

static void setup(void) {
    cr_assert_not_null(mkdtemp(dir));
    if (getenv("FPTFARM")) bin = getenv("FPTFARM");   // make test-asan: build-asan/fptfarm
    cr_assert_eq(access(bin, X_OK), 0, "%s not built", bin);
    test_mpi_env(dir);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(farm, .init = setup, .fini = teardown, .timeout = 240);

static void write_spec(const char *name, int epochs, const char *path) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[experiment]\nname = %s\nseeds = 1-3\ndataset = synthetic\nsynth_train = 200\n"
               "synth_test = 100\nwidth = 2\nepochs = %d\nbatch = 50\ntarget = 20, 30\n"
               "threads = 1\n[none]\n[shrink_perturb]\nperiods = 2\n", name, epochs);
    fclose(f);
}

// Starts `mpirun -n ranks build/fptfarm run spec --db db [extra...]` in the
// background; extra is NULL or a NULL-terminated list of up to 4 arguments.
static pid_t start_with(int ranks, const char *spec, const char *db, const char *const *extra) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", ranks);
        char log[300];
        snprintf(log, sizeof log, "%s/mpirun.log", dir);
        if (!freopen(log, "a", stderr) || !freopen(log, "a", stdout)) _exit(126);
        const char *e[5] = {0};
        for (int i = 0; extra && extra[i] && i < 4; i++) e[i] = extra[i];
        execlp("mpirun", "mpirun", "--oversubscribe", "-n", n, bin, "run", spec, "--db", db,
               e[0], e[1], e[2], e[3], (char *)NULL);
        _exit(127);
    }
    return pid;
}

static pid_t start(int ranks, const char *spec, const char *db) {
    return start_with(ranks, spec, db, NULL);
}

// Waits for it (at most `secs`, then kills it); returns the exit code.
static int finish(pid_t pid, int secs) {
    for (int i = 0; i < secs * 10; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("mpirun did not finish within %d s", secs);
    return -1;
}

static long long q1(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

static sqlite3 *open_ro(const char *path) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

// Every job done, each with epochs 1..E exactly once, and one first-passage
// row per target (reached at a recorded epoch, or censored at E).
static void check_complete(const char *path, int jobs, int epochs) {
    sqlite3 *db = open_ro(path);
    cr_expect_eq(q1(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), jobs);
    cr_expect_eq(q1(db, "SELECT count(*) FROM jobs"), jobs);
    cr_expect_eq(q1(db, "SELECT count(*) FROM epochs"), (long long)jobs * epochs);
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT job_id FROM epochs GROUP BY job_id "
                              "HAVING min(epoch) = 1 AND max(epoch) = %d AND count(*) = %d)",
             epochs, epochs);
    cr_expect_eq(q1(db, sql), jobs, "some job lacks an epoch or has one twice");
    cr_expect_eq(q1(db, "SELECT count(*) FROM first_passages"), 2LL * jobs);
    // A reached first passage is the first recorded epoch at or above the target.
    cr_expect_eq(q1(db, "SELECT count(*) FROM first_passages f WHERE f.epoch IS NOT NULL AND "
                        "f.epoch != (SELECT min(e.epoch) FROM epochs e WHERE e.job_id = f.job_id "
                        "AND e.test_acc >= f.target)"), 0);
    cr_expect_eq(q1(db, "SELECT count(*) FROM first_passages f WHERE f.epoch IS NULL AND "
                        "EXISTS (SELECT 1 FROM epochs e WHERE e.job_id = f.job_id "
                        "AND e.test_acc >= f.target)"), 0);
    // Each trained job says what computed it: the workers' default backend.
    char want[200];
    snprintf(want, sizeof want, "SELECT count(*) FROM jobs WHERE compute = '%s'",
             fpt_backend_describe(FPT_BACKEND_DEFAULT, FPT_PRECISION_FP32));
    cr_expect_eq(q1(db, want), jobs, "jobs.compute: expected '%s' on every job",
                 fpt_backend_describe(FPT_BACKEND_DEFAULT, FPT_PRECISION_FP32));
    sqlite3_stmt *ic;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &ic, NULL);
    cr_expect_eq(sqlite3_step(ic), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(ic, 0), "ok");
    sqlite3_finalize(ic);
    sqlite3_close(db);
}

Test(farm, two_three_and_eight_ranks_give_the_same_complete_results) {
    char spec[256], db[3][256];
    snprintf(spec, sizeof spec, "%s/tiny.ini", dir);
    write_spec("tiny", 3, spec);
    const int ranks[3] = {2, 3, 8};
    for (int k = 0; k < 3; k++) {
        snprintf(db[k], sizeof db[k], "%s/tiny-%d.db", dir, ranks[k]);
        int rc = finish(start(ranks[k], spec, db[k]), 120);
        cr_assert_eq(rc, 0, "%d ranks: exit %d (see %s/mpirun.log)", ranks[k], rc, dir);
        check_complete(db[k], 6, 3);
    }
    // Scheduling must not change results: the traces are the same whatever
    // the number of workers and the order in which they took the jobs.
    sqlite3 *a = open_ro(db[0]);
    char sql[600];
    for (int k = 1; k < 3; k++) {
        snprintf(sql, sizeof sql, "ATTACH '%s' AS other", db[k]);
        cr_assert_eq(sqlite3_exec(a, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(a));
        cr_expect_eq(q1(a, "SELECT count(*) FROM epochs e JOIN jobs j ON j.id = e.job_id "
                           "JOIN other.jobs j2 ON j2.protocol = j.protocol AND "
                           "j2.frequency = j.frequency AND j2.seed = j.seed "
                           "JOIN other.epochs e2 ON e2.job_id = j2.id AND e2.epoch = e.epoch "
                           "WHERE e2.test_acc = e.test_acc AND e2.train_loss = e.train_loss"), 18,
                     "traces differ between 2 and %d ranks", ranks[k]);
        sqlite3_exec(a, "DETACH other", NULL, NULL, NULL);
    }
    sqlite3_close(a);
}

// The pid of MPI rank 0 of THIS test's mpirun: the process whose environment
// has OMPI_COMM_WORLD_RANK=0 and this test's own Open MPI temporary
// directory (tests may run in parallel, each with its own directory).
static pid_t rank0_pid(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "for d in /proc/[0-9]*; do e=$( (tr '\\0' '\\n' < $d/environ) 2>/dev/null) || continue; "
             "echo \"$e\" | grep -qx OMPI_COMM_WORLD_RANK=0 && "
             "echo \"$e\" | grep -qx 'OMPI_MCA_orte_tmpdir_base=%s' && "
             "grep -q fptfarm $d/cmdline 2>/dev/null && basename $d; done", dir);
    FILE *p = popen(cmd, "r");
    int pid = 0;
    if (p) {
        if (fscanf(p, "%d", &pid) != 1) pid = 0;
        pclose(p);
    }
    return pid;
}

// Polled while the farm starts: the file may exist before the coordinator
// has committed the schema, so "no such table" (or a busy database) is 0.
static long long epochs_stored(const char *path) {
    if (access(path, F_OK) != 0) return 0;
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    long long n = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM epochs", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

// Starts a 25-epoch campaign `name` on 3 ranks and returns mpirun's pid once
// at least 20 epoch records are stored (the farm is well under way).
static pid_t start_running(const char *name, char *spec, char *db) {
    snprintf(spec, 256, "%s/%s.ini", dir, name);
    snprintf(db, 256, "%s/%s.db", dir, name);
    write_spec(name, 25, spec);
    pid_t m = start(3, spec, db);
    for (int i = 0; i < 300 && epochs_stored(db) < 20; i++) usleep(100000);
    cr_assert_geq(epochs_stored(db), 20, "the farm never got going (see %s/mpirun.log)", dir);
    return m;
}

// After an orderly stop: no job left running, and no crash counted.
static void expect_released(const char *db) {
    sqlite3 *d = open_ro(db);
    cr_expect_eq(q1(d, "SELECT count(*) FROM jobs WHERE state = 'running'"), 0,
                 "stopped jobs must be released");
    cr_expect_eq(q1(d, "SELECT sum(crashes) FROM jobs"), 0, "a clean stop is not a crash");
    sqlite3_close(d);
}

Test(farm, coordinator_killed_then_resumed_finishes_every_job_once) {
    char spec[256], db[256];
    pid_t m = start_running("long", spec, db);
    pid_t r0 = rank0_pid();
    cr_assert_gt(r0, 0, "rank 0 not found");
    kill(r0, SIGKILL);
    int rc = finish(m, 60);
    cr_assert_neq(rc, 0, "mpirun should fail when rank 0 is killed");
    long long before = epochs_stored(db);
    cr_assert_lt(before, 150, "the run finished before the kill");
    rc = finish(start(3, spec, db), 180);
    cr_assert_eq(rc, 0, "resume: exit %d (see %s/mpirun.log)", rc, dir);
    check_complete(db, 6, 25);
    sqlite3 *d = open_ro(db);
    cr_expect_eq(q1(d, "SELECT sum(crashes) FROM jobs"), 0,
                 "a dead coordinator is the farm's fault, not its jobs'");
    sqlite3_close(d);
}

Test(farm, sigusr1_to_mpirun_stops_cleanly_and_resumes) {
    char spec[256], db[256];
    pid_t m = start_running("stop", spec, db);
    kill(m, SIGUSR1);
    int rc = finish(m, 60);
    cr_assert_eq(rc, 3, "an orderly stop exits 3, got %d (see %s/mpirun.log)", rc, dir);
    expect_released(db);
    sqlite3 *d = open_ro(db);
    cr_expect_gt(q1(d, "SELECT count(*) FROM jobs WHERE state = 'pending'"), 0);
    sqlite3_close(d);
    rc = finish(start(3, spec, db), 180);
    cr_assert_eq(rc, 0, "resume: exit %d", rc);
    check_complete(db, 6, 25);
}

Test(farm, changed_spec_is_refused_and_database_untouched) {
    char spec[256], db[256];
    snprintf(spec, sizeof spec, "%s/a.ini", dir);
    snprintf(db, sizeof db, "%s/a.db", dir);
    write_spec("same", 2, spec);
    cr_assert_eq(finish(start(2, spec, db), 120), 0);
    write_spec("same", 3, spec);   // same name, other epochs
    cr_assert_eq(finish(start(2, spec, db), 60), 1);
    check_complete(db, 6, 2);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -q \"experiment 'same' exists with a different spec\" %s/mpirun.log",
             dir);
    cr_expect_eq(system(cmd), 0, "the refusal names the experiment");
}

Test(farm, sigterm_to_the_coordinator_stops_cleanly_and_resumes) {
    char spec[256], db[256];
    pid_t m = start_running("term", spec, db);
    pid_t r0 = rank0_pid();
    cr_assert_gt(r0, 0, "rank 0 not found");
    kill(r0, SIGTERM);   // what Slurm's --signal=TERM or a kill of the coordinator sends
    int rc = finish(m, 60);
    cr_assert_eq(rc, 3, "an orderly stop exits 3, got %d (see %s/mpirun.log)", rc, dir);
    expect_released(db);
    rc = finish(start(3, spec, db), 180);
    cr_assert_eq(rc, 0, "resume: exit %d", rc);
    check_complete(db, 6, 25);
}

Test(farm, missing_dataset_leaves_the_database_untouched) {
    char spec[256], db[256];
    snprintf(spec, sizeof spec, "%s/ok.ini", dir);
    snprintf(db, sizeof db, "%s/ok.db", dir);
    write_spec("ok", 2, spec);
    cr_assert_eq(finish(start(2, spec, db), 120), 0);
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.ini", dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "[experiment]\nname = other\nseeds = 1\ndataset = cifar10\n"
               "data_path = %s/no-such-dir\n[none]\n", dir);
    fclose(f);
    cr_assert_eq(finish(start(2, bad, db), 60), 1);
    sqlite3 *d = open_ro(db);
    cr_expect_eq(q1(d, "SELECT count(*) FROM experiments"), 1, "no experiment may be added");
    sqlite3_close(d);
    check_complete(db, 6, 2);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -q 'no-such-dir' %s/mpirun.log", dir);
    cr_expect_eq(system(cmd), 0, "the error names the missing directory");
}

// A backend or precision that cannot run is refused by the coordinator
// before the database or the checkpoint directory exists: one line naming
// the spec, exit 1.
Test(farm, impossible_backend_or_precision_writes_nothing) {
    char bad[256], db[256], cmd[700];
    snprintf(bad, sizeof bad, "%s/bf16.ini", dir);
    snprintf(db, sizeof db, "%s/bf16.db", dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "[experiment]\nname = bf16\nseeds = 1\ndataset = synthetic\nwidth = 2\n"
               "epochs = 1\nbackend = blas\nprecision = bf16\n[none]\n");
    fclose(f);
    cr_assert_eq(finish(start(2, bad, db), 60), 1);
    cr_expect_neq(access(db, F_OK), 0, "%s was created", db);
    snprintf(cmd, sizeof cmd, "%s.ckpt", db);
    cr_expect_neq(access(cmd, F_OK), 0, "%s was created", cmd);
    snprintf(cmd, sizeof cmd,
             "test $(grep -c '^fptfarm: ' %s/mpirun.log) -eq 1 && "
             "grep -q '%s: precision bf16 needs the onednn backend' %s/mpirun.log", dir, bad, dir);
    cr_expect_eq(system(cmd), 0, "expected one line naming the spec (see %s/mpirun.log)", dir);
}

// --shard I/N: the shards run disjoint jobs (index i % N == I, spec order)
// that together, merged by `fptfarm merge`, are the whole campaign.
Test(farm, shards_run_disjoint_jobs_that_cover_the_campaign) {
    char spec[200], db0[200], db1[200];
    snprintf(spec, sizeof spec, "%s/shard.ini", dir);
    snprintf(db0, sizeof db0, "%s/shard0.db", dir);
    snprintf(db1, sizeof db1, "%s/shard1.db", dir);
    write_spec("shard", 2, spec);
    // Shard 1 also keeps its checkpoints in a directory of its own.
    char ck[200];
    snprintf(ck, sizeof ck, "%s/elsewhere", dir);
    cr_assert_eq(mkdir(ck, 0755), 0);
    snprintf(ck, sizeof ck, "%s/elsewhere/ck", dir);
    const char *const a0[] = {"--shard", "0/2", NULL};
    const char *const a1[] = {"--shard", "1/2", "--checkpoint-dir", ck, NULL};
    cr_assert_eq(finish(start_with(3, spec, db0, a0), 180), 0);
    cr_assert_eq(finish(start_with(3, spec, db1, a1), 180), 0);
    struct stat sb;
    cr_expect(stat(ck, &sb) == 0 && S_ISDIR(sb.st_mode), "--checkpoint-dir not made");
    char def[220];
    snprintf(def, sizeof def, "%s.ckpt", db1);
    cr_expect_neq(access(def, F_OK), 0, "%s made despite --checkpoint-dir", def);
    check_complete(db0, 3, 2);
    check_complete(db1, 3, 2);
    // Jobs in spec order: none seeds 1, 2, 3, then shrink_perturb seeds 1, 2, 3.
    static const char *const keys[2] = {"none 1,none 3,shrink_perturb 2",
                                        "none 2,shrink_perturb 1,shrink_perturb 3"};
    const char *dbs[2] = {db0, db1};
    for (int k = 0; k < 2; k++) {
        sqlite3 *db = open_ro(dbs[k]);
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, "SELECT group_concat(protocol || ' ' || seed, ',') "
                                            "FROM (SELECT protocol, seed FROM jobs "
                                            "ORDER BY protocol, seed)",
                                        -1, &st, NULL),
                     SQLITE_OK);
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), keys[k], "shard %d", k);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    // Merged, the shards are the whole campaign, each run once.
    char all[200], cmd0[700];
    snprintf(all, sizeof all, "%s/all.db", dir);
    snprintf(cmd0, sizeof cmd0, "%s merge %s %s %s > %s/merge.log 2>&1", bin, all, db0, db1, dir);
    cr_assert_eq(system(cmd0), 0, "%s", cmd0);
    check_complete(all, 6, 2);
    // A bad shard is refused before anything runs.
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mpirun --oversubscribe -n 2 %s run %s --db %s/x.db --shard 2/2 "
                              ">%s/bad.log 2>&1", bin, spec, dir, dir);
    cr_expect_neq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/x.db", dir);
    cr_expect_neq(access(cmd, F_OK), 0, "a refused shard created its database");
}

// An adaptive campaign ([campaign] mode = adaptive, campaign.h) on the
// [synthetic] law, killed inside write transactions (FPTFARM_FAULT, see
// common/store/store.c) at several points and resumed each time, makes exactly the
// decisions, with the same estimates, as the same campaign uninterrupted; and
// every job it decided on is stored once.
static const char *decisions(const char *path, char *out, size_t cap) {
    sqlite3 *db = open_ro(path);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT group_concat(seq || ' ' || phase || ' ' || action || ' ' "
                                    "|| ifnull(protocol, '') || ' ' || ifnull(frequency, '') || ' ' "
                                    "|| runs || ' ' || ifnull(estimate, '') || ' ' || reason, "
                                    "char(10)) FROM (SELECT * FROM campaign_decisions ORDER BY seq)",
                                    -1, &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, cap, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
                                                        : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

Test(farm, adaptive_campaign_killed_and_resumed_decides_the_same, .timeout = 600) {
    char spec[200], whole[200];
    snprintf(spec, sizeof spec, "%s/adaptive.ini", dir);
    snprintf(whole, sizeof whole, "%s/whole.db", dir);
    FILE *f = fopen(spec, "w");
    cr_assert_not_null(f);
    fputs("[experiment]\nname = adaptive\nseeds = 1-60\nepochs = 60\ntarget = 70\n"
          "[campaign]\nmode = adaptive\nbudget_runs = 400\n"
          "[synthetic]\nburn_in = 6\nfast_share = 0.6\nfast_hazard = 0.2\nslow_hazard = 0.01\n"
          "after_shrink_perturb = 0.1\n"
          "[none]\n[shrink_perturb]\nperiods = 1, 3, 6, 10, 20, 40\n[reset]\nperiods = 10, 20\n",
          f);
    fclose(f);
    cr_assert_eq(finish(start(3, spec, whole), 300), 0);
    static char want[1 << 16], got[1 << 16];
    decisions(whole, want, sizeof want);
    cr_assert(strstr(want, " stop ") != NULL, "the campaign did not stop:\n%s", want);
    sqlite3 *db = open_ro(whole);
    long long jobs = q1(db, "SELECT count(*) FROM jobs"),
              used = q1(db, "SELECT runs_used FROM campaign_summary");
    sqlite3_close(db);
    cr_expect_eq(jobs, used);
    cr_expect_lt(jobs, 60 * 9, "an adaptive campaign ran the whole grid");
    static const int kill_at[] = {2, 9, 40};
    for (size_t k = 0; k < sizeof kill_at / sizeof *kill_at; k++) {
        char path[200], fault[64];
        snprintf(path, sizeof path, "%s/killed-%d.db", dir, kill_at[k]);
        snprintf(fault, sizeof fault, "commit:%d:kill", kill_at[k]);
        setenv("FPTFARM_FAULT", fault, 1);
        int rc = finish(start(3, spec, path), 300);
        unsetenv("FPTFARM_FAULT");
        cr_expect_neq(rc, 0, "%s: the fault did not fire", fault);
        cr_assert_eq(finish(start(3, spec, path), 300), 0, "%s: the resume failed", fault);
        cr_expect_str_eq(decisions(path, got, sizeof got), want, "%s: other decisions", fault);
        db = open_ro(path);
        cr_expect_eq(q1(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), jobs, "%s", fault);
        cr_expect_eq(q1(db, "SELECT count(*) FROM epochs"), jobs * 60, "%s", fault);
        cr_expect_eq(q1(db, "SELECT count(*) FROM (SELECT job_id FROM epochs GROUP BY job_id "
                            "HAVING count(*) != 60)"), 0, "%s", fault);
        sqlite3_close(db);
    }
}
