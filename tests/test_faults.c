// test_faults.c — hardening: the farm's fault matrix, the coordinator under
// load, and hostile input (`--filter 'faults/*'`; FPT_KEEP=1 keeps each test's
// directory with the logs of the commands it ran).  Every fault is followed by checks of the database
// (check_db below): PRAGMA integrity_check, every stored trace a prefix
// 1..k without gaps, done jobs complete with their first passages, job states
// that tell the truth (no 'running' after a completed resume, crashes counted,
// failed only at the crash limit), no checkpoint ahead of the database, and
// the traces equal, value for value, to a run of the same campaign without
// faults.
//
//   the coordinator killed (SIGKILL) at random moments, several seeds: a
//     training campaign, and a no-op one whose coordinator does little but
//     commit (kills there land inside transactions), also killed from inside
//     COMMIT (FPTFARM_FAULT=commit:N:kill);
//   a worker killed (SIGKILL) mid-job, a worker aborting while it writes its
//     checkpoint (FPTFARM_FAULT=checkpoint:N:abort), crash counts and the
//     crash limit;
//   SIGTERM inside a COMMIT of the coordinator (FPTFARM_FAULT=commit:N:term),
//     SIGTERM to the coordinator while a worker writes its checkpoint,
//     SIGTERM and SIGKILL inside a checkpoint write of `fptfarm train`,
//     SIGTERM inside the commit of `fptfarm import`;
//   a full disk (a small tmpfs) under the database and under the checkpoints;
//   runs whose loss becomes NaN, including in their first epoch;
//   64 oversubscribed ranks sending no-op records for a bounded time;
//   hostile names and paths.
//
// FPTFARM_FAULT is read by common/store/store.c and common/train/checkpoint.c (their
// comments say what each fault does); nothing else reads it.  Every mpirun
// runs under `timeout -k 5 N`, with Open MPI's files in the test's own
// directory.  The tmpfs tests mount in a private mount namespace (root; they
// are skipped otherwise).
#define _GNU_SOURCE   // unshare(2), inotify
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "train/checkpoint.h"
#include "data/dataset.h"
#include "nn/resnet.h"
#include "nn/sgd.h"
#include "test_env.h"
#include "tmpdir.h"

// Image side of the runs' CIFAR-shaped (synthetic) data: the checkpoints'
// models are built for it.
#define IMG_HW 32

// ---- fixture -------------------------------------------------------------------

static char g_dir[96];
static char g_bin[4096];   // absolute: some commands run in g_dir
static char g_log[256];   // the log of the last command started
static int g_cmds;        // commands started (numbers the logs)
static char g_mounts[4][200];
static int g_n_mounts;

static void setup(void) {
    tmpdir_make(g_dir, sizeof g_dir, "faults");
    // make test-asan: FPTFARM=build-asan/fptfarm
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    cr_assert_not_null(realpath(bin, g_bin), "%s not built", bin);
    cr_assert_eq(access(g_bin, X_OK), 0, "%s not built", g_bin);
    test_mpi_env(g_dir);
    unsetenv("FPTFARM_FAULT");
    g_cmds = 0;
    g_n_mounts = 0;
}

static void teardown(void) {
    for (int i = g_n_mounts - 1; i >= 0; i--) umount2(g_mounts[i], MNT_DETACH);
    if (!getenv("FPT_KEEP")) tmpdir_remove(g_dir);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 240);

// ---- small helpers ---------------------------------------------------------------

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

// splitmix64: the tests' own seeded choices (kill moments, commit numbers).
static uint64_t g_rng;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rnd_in(double a, double b) {
    return a + (b - a) * (double)(rnd() >> 11) / 9007199254740992.0;
}
static long rnd_int(long a, long b) { return a + (long)(rnd() % (uint64_t)(b - a + 1)); }

// g_dir/name
static char *in_dir(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static void write_text(const char *path, const char *fmt, ...) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    cr_assert_eq(fclose(f), 0);
}

// The whole file (NUL-terminated; free it), or NULL.
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (cap - n < 2) b = realloc(b, cap *= 2);
    }
    fclose(f);
    if (b) b[n] = 0;
    if (len) *len = n;
    return b;
}

// Lines of file containing every one of the given strings (NULL-terminated).
static int count_lines(const char *path, ...) {
    char *text = slurp(path, NULL);
    if (!text) return 0;
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        va_list ap;
        va_start(ap, path);
        int all = 1;
        for (const char *s; (s = va_arg(ap, const char *));) all = all && strstr(line, s);
        va_end(ap);
        n += all;
    }
    free(text);
    return n;
}

static int copy_file(const char *from, const char *to) {
    size_t n;
    char *b = slurp(from, &n);
    if (!b) return -1;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(b, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    free(b);
    return ok ? 0 : -1;
}

// ---- commands ------------------------------------------------------------------

// Starts argv (NULL-terminated) as `timeout -k 5 secs argv...`, in directory
// cwd (NULL: here), with stdout and stderr in a fresh log (g_log) and
// FPTFARM_FAULT = fault (NULL: unset).  No shell is involved anywhere.
static pid_t spawn(const char *const *argv, const char *fault, int secs, const char *cwd) {
    snprintf(g_log, sizeof g_log, "%s/cmd-%02d.log", g_dir, ++g_cmds);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (!freopen(g_log, "w", stdout) || dup2(fileno(stdout), 2) < 0) _exit(126);
        if (fault) setenv("FPTFARM_FAULT", fault, 1);
        else unsetenv("FPTFARM_FAULT");
        if (cwd && chdir(cwd) != 0) _exit(126);
        char t[16];
        snprintf(t, sizeof t, "%d", secs);
        const char *a[48] = {"timeout", "-k", "5", t};
        int k = 4;
        for (int i = 0; argv[i] && k < 47; i++) a[k++] = argv[i];
        a[k] = NULL;
        execvp("timeout", (char *const *)a);
        _exit(127);
    }
    return pid;
}

// Non-blocking: 1 and *code (exit status, or 128 + signal) once pid ended.
static int ended(pid_t pid, int *code) {
    int st;
    if (waitpid(pid, &st, WNOHANG) != pid) return 0;
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 1;
}

// Waits at most secs for pid; its exit code.
static int wait_code(pid_t pid, int secs) {
    int code;
    for (double t0 = now_s(); now_s() - t0 < secs;) {
        if (ended(pid, &code)) return code;
        sleep_s(0.02);
    }
    kill(pid, SIGTERM);   // timeout passes it on
    sleep_s(6);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("%s did not end within %d s", g_log, secs);
    return -1;
}

static int run_cmd(const char *const *argv, const char *fault, int secs, const char *cwd) {
    return wait_code(spawn(argv, fault, secs, cwd), secs + 10);
}

// `mpirun --oversubscribe -n ranks fptfarm run spec --db db [args...]`
// (the arguments after fault end with NULL), bounded by 300 s.
static pid_t farm_start(int ranks, const char *spec, const char *db, const char *fault, ...) {
    char n[16];
    snprintf(n, sizeof n, "%d", ranks);
    const char *a[40] = {"mpirun", "--oversubscribe", "-n", n, g_bin, "run", spec, "--db", db};
    int k = 9;
    va_list ap;
    va_start(ap, fault);
    for (const char *s; k < 39 && (s = va_arg(ap, const char *));) a[k++] = s;
    va_end(ap);
    a[k] = NULL;
    return spawn(a, fault, 300, NULL);
}

// ---- processes -----------------------------------------------------------------

static ssize_t read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = 0, r;
    while ((size_t)n < cap - 1 && (r = read(fd, buf + n, cap - 1 - (size_t)n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return n;
}

// State letter and parent of pid from /proc/pid/stat (0 if gone).
static char proc_state(pid_t pid, pid_t *ppid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof buf) <= 0) return 0;
    const char *p = strrchr(buf, ')');   // the command name may hold anything
    int pp;
    char s;
    if (!p || sscanf(p + 1, " %c %d", &s, &pp) != 2) return 0;
    if (ppid) *ppid = pp;
    return s;
}

// The pid of MPI rank `rank` of this test's farm (0 is the coordinator): the
// live process whose environment holds OMPI_COMM_WORLD_RANK=rank and this
// test's own Open MPI directory; 0 if there is none (yet, or any more).
static pid_t rank_pid(int rank) {
    char want_rank[48], want_dir[160];
    snprintf(want_rank, sizeof want_rank, "OMPI_COMM_WORLD_RANK=%d", rank);
    snprintf(want_dir, sizeof want_dir, "OMPI_MCA_orte_tmpdir_base=%s", g_dir);
    static char env[1 << 17];
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    pid_t found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        ssize_t n = read_small(path, env, sizeof env);
        if (n <= 0) continue;
        int has_rank = 0, has_dir = 0;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(env + i) + 1) {
            has_rank |= !strcmp(env + i, want_rank);
            has_dir |= !strcmp(env + i, want_dir);
        }
        if (!has_rank || !has_dir) continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        char s = proc_state(pid, NULL);
        if (s && s != 'Z' && s != 'X') found = pid;   // dead ranks linger as zombies
    }
    closedir(d);
    return found;
}

// Waits (at most secs) for rank `rank` of the farm started as `farm` to
// exist; 0 if the farm ended first or it never appeared.
static pid_t await_rank(pid_t farm, int rank, double secs) {
    for (double t0 = now_s(); now_s() - t0 < secs;) {
        pid_t p = rank_pid(rank);
        if (p) return p;
        char s = proc_state(farm, NULL);
        if (!s || s == 'Z') return 0;
        sleep_s(0.01);
    }
    return 0;
}

// The child of `parent` (mpirun, under timeout), or 0.
static pid_t child_of(pid_t parent) {
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    pid_t found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        pid_t pid = (pid_t)atoi(e->d_name), pp = 0;
        char s = proc_state(pid, &pp);
        if (s && s != 'Z' && pp == parent) found = pid;
    }
    closedir(d);
    return found;
}

static long vm_rss_kb(pid_t pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_small(path, buf, sizeof buf) <= 0) return -1;
    const char *p = strstr(buf, "VmRSS:");
    return p ? atol(p + 6) : -1;
}

// ---- the database ---------------------------------------------------------------

static sqlite3 *db_open(const char *path, int readonly) {
    sqlite3 *db;
    int rc = sqlite3_open_v2(path, &db, readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
                             NULL);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    return db;
}

// The first column of the first row of sql, with ?1 bound to a if sql has it;
// -1 without a row.
static long long q1(sqlite3 *db, const char *sql, long long a) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, a);
    int rc = sqlite3_step(st);
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    long long v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

// Epochs a reader sees committed while the farm runs: 0 until the schema is.
static long long live_epochs(const char *path) {
    if (access(path, F_OK) != 0) return 0;
    sqlite3 *db;
    long long n = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM epochs", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return n;
}

// Copies a dead farm's database, with the rollback journal it may have left
// (then it died inside a write transaction) or its write-ahead log (WAL
// mode: committed transactions may live there until a checkpoint), to snap:
// the checks recover the copy and fptfarm recovers the original.  1: a
// rollback journal was left; 0: none; -1: no database yet.
static int snapshot(const char *db, const char *snap) {
    char j[300], sj[300], w[300], sw[300], sshm[300];
    snprintf(j, sizeof j, "%s-journal", db);
    snprintf(sj, sizeof sj, "%s-journal", snap);
    snprintf(w, sizeof w, "%s-wal", db);
    snprintf(sw, sizeof sw, "%s-wal", snap);
    snprintf(sshm, sizeof sshm, "%s-shm", snap);
    unlink(snap);
    unlink(sj);
    unlink(sw);
    unlink(sshm);
    if (access(db, F_OK) != 0) return -1;
    cr_assert_eq(copy_file(db, snap), 0, "copying %s", db);
    if (access(w, F_OK) == 0) cr_assert_eq(copy_file(w, sw), 0, "copying %s", w);
    if (access(j, F_OK) != 0) return 0;
    cr_assert_eq(copy_file(j, sj), 0, "copying %s", j);
    return 1;
}

// The epoch stored in a checkpoint's header (format: checkpoint.c), or -1.
static int ckpt_epoch(const char *path) {
    unsigned char h[28];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n != (ssize_t)sizeof h || memcmp(h, "FPTCKPT", 8) != 0) return -1;
    return (int)((uint32_t)h[24] | (uint32_t)h[25] << 8 | (uint32_t)h[26] << 16 |
                 (uint32_t)h[27] << 24);
}

// Loads a checkpoint of a width-`width`, 10-class model with the library:
// 0 and its epoch if it is whole and valid.
static int ckpt_load(const char *path, int width, int *epoch) {
    fpt_err err = {{0}};
    fpt_resnet *m = NULL;
    fpt_sgd opt = {0};
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = width, .num_classes = 10, .in_channels = 3, .image_hw = 32, .stage_norm = 0}, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_sgd_create(&opt, m->n_params, 0.9, 5e-4, &err), 0, "%s", err.msg);
    fpt_run_state st;
    int rc = fpt_checkpoint_load(path, &st, m, &opt, &err);
    if (rc) cr_log_error("%s", err.msg);
    else *epoch = st.epoch;
    fpt_sgd_free(&opt);
    fpt_resnet_free(m);
    return rc;
}

// A checkpoint directory: checkpoints, stale temporary files, and whether
// any checkpoint is ahead of db (job id -> max stored epoch).
typedef struct ckpt_scan { int ckpts, temps, ahead; } ckpt_scan;

static ckpt_scan scan_ckpts(const char *dir, sqlite3 *db) {
    ckpt_scan s = {0};
    DIR *d = opendir(dir);
    if (!d) return s;
    for (struct dirent *e; (e = readdir(d));) {
        long long id;
        char rest[64], path[600];
        if (strstr(e->d_name, ".tmp.")) {
            s.temps++;
            continue;
        }
        if (sscanf(e->d_name, "job-%lld.ck%63s", &id, rest) != 2 || strcmp(rest, "pt")) continue;
        s.ckpts++;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int ep = ckpt_epoch(path);
        long long stored = q1(db, "SELECT coalesce(max(epoch), 0) FROM epochs WHERE job_id = ?1", id);
        cr_expect(ep >= 0 && ep <= stored, "%s: checkpoint of epoch %d, database has %lld: a "
                  "checkpoint may never be ahead of the database", path, ep, stored);
        s.ahead += !(ep >= 0 && ep <= stored);
    }
    closedir(d);
    return s;
}

typedef struct expect {
    int epochs;              // E of every job
    int n_targets;
    int allow_running;       // after a kill: jobs may be left 'running'
    int max_crashes;         // failed jobs must have reached it
    int noop;                // no-op records: test_acc = epoch
    int imported;            // fptfarm import: jobs never started, no losses
    const char *ref;         // the same campaign without faults: equal values (or NULL)
    const char *ckpt_dir;    // checkpoints never ahead of the database (or NULL)
} expect;

typedef struct facts {
    long long jobs, pending, running, done, failed, diverged, epochs, crashes;
    ckpt_scan ck;
} facts;

// What must not exist: a description and the query counting it (?1: E, the
// number of targets or the crash limit, as the description says).  Entries
// starting with '*' hold for the farm's own jobs only (imported ones are
// finished without ever being started, and carry accuracy alone).
static const char *const bad_rows[][2] = {
    {"a trace with a gap, or not starting at epoch 1",
     "SELECT count(*) FROM (SELECT count(*) AS n, min(epoch) AS lo, max(epoch) AS hi FROM "
     "epochs GROUP BY job_id) WHERE lo != 1 OR hi != n"},
    {"an epoch beyond E", "SELECT count(*) FROM epochs WHERE epoch > ?1"},
    {"a done job without all E epochs",
     "SELECT count(*) FROM jobs j WHERE state = 'done' AND "
     "(SELECT count(*) FROM epochs e WHERE e.job_id = j.id) != ?1"},
    {"a diverged job with all E epochs (its diverged epoch is never stored)",
     "SELECT count(*) FROM jobs j WHERE state = 'diverged' AND "
     "(SELECT count(*) FROM epochs e WHERE e.job_id = j.id) >= ?1"},
    {"a first passage of an unfinished job (they are stored with the final state)",
     "SELECT count(*) FROM first_passages f JOIN jobs j ON j.id = f.job_id "
     "WHERE j.state NOT IN ('done', 'diverged')"},
    {"a finished job with epochs but not one first passage per target",
     "SELECT count(*) FROM jobs j WHERE state IN ('done', 'diverged') AND "
     "EXISTS (SELECT 1 FROM epochs e WHERE e.job_id = j.id) AND "
     "(SELECT count(*) FROM first_passages f WHERE f.job_id = j.id) != ?1"},
    {"a first passage of a job without epochs",
     "SELECT count(*) FROM first_passages f WHERE NOT EXISTS "
     "(SELECT 1 FROM epochs e WHERE e.job_id = f.job_id)"},
    {"a reached first passage that is not the first epoch at or above the target",
     "SELECT count(*) FROM first_passages f WHERE f.epoch IS NOT NULL AND f.epoch IS NOT "
     "(SELECT min(e.epoch) FROM epochs e WHERE e.job_id = f.job_id AND e.test_acc >= f.target)"},
    {"a censored first passage of a run that reached the target, or not at its last epoch",
     "SELECT count(*) FROM first_passages f WHERE f.epoch IS NULL AND (EXISTS (SELECT 1 FROM "
     "epochs e WHERE e.job_id = f.job_id AND e.test_acc >= f.target) OR f.censored_at IS NOT "
     "(SELECT max(e.epoch) FROM epochs e WHERE e.job_id = f.job_id))"},
    {"more crashes than attempts", "SELECT count(*) FROM jobs WHERE crashes > attempts"},
    {"*a finished or running job never started",
     "SELECT count(*) FROM jobs WHERE state IN ('running', 'done', 'diverged') AND attempts < 1"},
    {"*epochs of a job never started",
     "SELECT count(*) FROM jobs j WHERE attempts = 0 AND "
     "EXISTS (SELECT 1 FROM epochs e WHERE e.job_id = j.id)"},
    {"a failed job below the crash limit",
     "SELECT count(*) FROM jobs WHERE state = 'failed' AND crashes < ?1"},
    {"*a recorded epoch with a training loss that is not a number",
     "SELECT count(*) FROM epochs e JOIN jobs j ON j.id = e.job_id WHERE "
     "j.attempts > 0 AND (e.train_loss IS NULL OR e.train_loss != e.train_loss)"},
};

// Checks the invariants of a farm's database (see the top of the file) and
// returns its counts; `when` names the moment in messages.
static facts check_db(const char *path, const expect *x, const char *when) {
    facts f = {0};
    sqlite3 *db = db_open(path, 0);   // read-write: recovers a hot journal, as fptfarm would
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: integrity_check: %s", when, sqlite3_errmsg(db));
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "ok", "%s: integrity_check", when);
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL), SQLITE_OK);
    cr_expect_eq(sqlite3_step(st), SQLITE_DONE, "%s: foreign_key_check finds rows", when);
    sqlite3_finalize(st);

    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        if (bad_rows[i][0][0] == '*' && x->imported) continue;
        long long arg = strstr(bad_rows[i][0], "first passage per target") ? x->n_targets
                        : strstr(bad_rows[i][0], "crash limit")             ? x->max_crashes
                                                                            : x->epochs;
        long long n = q1(db, bad_rows[i][1], arg);
        cr_expect_eq(n, 0, "%s: %lld rows of %s", when, n, bad_rows[i][0]);
    }
    if (x->noop)
        cr_expect_eq(q1(db, "SELECT count(*) FROM epochs WHERE test_acc != epoch", 0), 0,
                     "%s: a no-op record changed on its way", when);
    f.jobs = q1(db, "SELECT count(*) FROM jobs", 0);
    f.pending = q1(db, "SELECT count(*) FROM jobs WHERE state = 'pending'", 0);
    f.running = q1(db, "SELECT count(*) FROM jobs WHERE state = 'running'", 0);
    f.done = q1(db, "SELECT count(*) FROM jobs WHERE state = 'done'", 0);
    f.failed = q1(db, "SELECT count(*) FROM jobs WHERE state = 'failed'", 0);
    f.diverged = q1(db, "SELECT count(*) FROM jobs WHERE state = 'diverged'", 0);
    f.epochs = q1(db, "SELECT count(*) FROM epochs", 0);
    f.crashes = q1(db, "SELECT coalesce(sum(crashes), 0) FROM jobs", 0);
    if (!x->allow_running)
        cr_expect_eq(f.running, 0, "%s: %lld jobs left 'running'", when, f.running);

    if (x->ref) {
        sqlite3_stmt *a;
        cr_assert_eq(sqlite3_prepare_v2(db, "ATTACH ?1 AS ref", -1, &a, NULL), SQLITE_OK);
        sqlite3_bind_text(a, 1, x->ref, -1, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(a), SQLITE_DONE, "attach %s: %s", x->ref, sqlite3_errmsg(db));
        sqlite3_finalize(a);
        long long diff = q1(db,
            "SELECT count(*) FROM epochs e JOIN jobs j ON j.id = e.job_id "
            "LEFT JOIN ref.jobs r ON r.protocol = j.protocol AND r.timing = j.timing AND "
            "r.frequency = j.frequency AND r.seed = j.seed "
            "LEFT JOIN ref.epochs re ON re.job_id = r.id AND re.epoch = e.epoch "
            "WHERE re.epoch IS NULL OR re.test_acc IS NOT e.test_acc OR "
            "re.train_loss IS NOT e.train_loss OR re.test_loss IS NOT e.test_loss OR "
            "re.lr IS NOT e.lr OR re.perturbed IS NOT e.perturbed", 0);
        cr_expect_eq(diff, 0, "%s: %lld epoch records differ from the run without faults", when,
                     diff);
        long long fdiff = q1(db,
            "SELECT count(*) FROM first_passages f JOIN jobs j ON j.id = f.job_id "
            "LEFT JOIN ref.jobs r ON r.protocol = j.protocol AND r.timing = j.timing AND "
            "r.frequency = j.frequency AND r.seed = j.seed "
            "LEFT JOIN ref.first_passages rf ON rf.job_id = r.id AND rf.target = f.target "
            "WHERE rf.job_id IS NULL OR rf.epoch IS NOT f.epoch OR "
            "rf.censored_at IS NOT f.censored_at", 0);
        cr_expect_eq(fdiff, 0, "%s: %lld first passages differ from the run without faults",
                     when, fdiff);
        if (f.done == f.jobs)
            cr_expect_eq(f.epochs, q1(db, "SELECT count(*) FROM ref.epochs", 0),
                         "%s: complete, yet not as many epochs as the run without faults", when);
    }
    if (x->ckpt_dir) f.ck = scan_ckpts(x->ckpt_dir, db);
    sqlite3_close(db);
    cr_log_info("%s: %lld jobs (%lld done, %lld pending, %lld running, %lld failed, %lld "
                "diverged), %lld epochs, %lld crashes; %d checkpoints, %d stale temporary files",
                when, f.jobs, f.done, f.pending, f.running, f.failed, f.diverged, f.epochs,
                f.crashes, f.ck.ckpts, f.ck.temps);
    return f;
}

// Per job id (1..n): its state letter and crash count.
typedef struct jobs_now { int n; char state[64]; long long crashes[64]; } jobs_now;

static jobs_now read_jobs(const char *path) {
    jobs_now j = {0};
    sqlite3 *db = db_open(path, 0);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id, state, crashes FROM jobs ORDER BY id", -1,
                                    &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        cr_assert(id >= 1 && id < 64);
        j.state[id] = (char)sqlite3_column_text(st, 1)[0];
        j.crashes[id] = sqlite3_column_int64(st, 2);
        if (id > j.n) j.n = id;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return j;
}

// ---- campaigns ---------------------------------------------------------------------

// A training campaign: width-2 ResNet-18, 200 synthetic training and 100 test
// images, batch 50, targets 20 and 30%, one thread per worker; [none] and,
// if perturbed, [shrink_perturb] every 2 epochs.
static void training_spec(const char *path, const char *name, const char *seeds, int epochs,
                          int perturbed) {
    write_text(path,
               "[experiment]\nname = %s\nseeds = %s\ndataset = synthetic\nsynth_train = 200\n"
               "synth_test = 100\nwidth = 2\nepochs = %d\nbatch = 50\ntarget = 20, 30\n"
               "threads = 1\n[none]\n%s",
               name, seeds, epochs, perturbed ? "[shrink_perturb]\nperiods = 2\n" : "");
}

// No-op jobs (`run --noop`): `jobs` seeds of [none], `epochs` records each.
static void noop_spec(const char *path, const char *name, int jobs, int epochs) {
    write_text(path, "[experiment]\nname = %s\nseeds = 1-%d\nepochs = %d\ntarget = 10.5\n"
                     "threads = 1\n[none]\n", name, jobs, epochs);
}

// Runs the campaign without faults into ref; its wall time.
static double reference_run(int ranks, const char *spec, const char *ref, int noop) {
    double t0 = now_s();
    pid_t p = noop ? farm_start(ranks, spec, ref, NULL, "--noop", NULL)
                   : farm_start(ranks, spec, ref, NULL, NULL);
    int rc = wait_code(p, 200);
    cr_assert_eq(rc, 0, "run without faults: exit %d (see %s)", rc, g_log);
    return now_s() - t0;
}

// ---- 1. the coordinator killed at random moments ------------------------------------------

// wait_code for a farm whose rank 0 was just SIGKILLed.  Open MPI 4.1's
// mpirun sometimes never exits when a rank dies during start-up: every rank
// is gone (zombies at most), it logs "PMIX ERROR: UNREACHABLE", and waits
// forever (seen about once in 18 kills at random moments).  That is mpirun's
// hang, not the farm's: once mpirun has had no live rank for 10 s it is
// killed here, logged, and the kill counts as a kill (exit 128 + 9).
static int wait_after_kill(pid_t p, int secs) {
    int code;
    double since_empty = -1.0;
    for (double t0 = now_s(); now_s() - t0 < secs;) {
        if (ended(p, &code)) return code;
        const pid_t mpirun = child_of(p);
        if (mpirun && !child_of(mpirun)) {
            if (since_empty < 0) since_empty = now_s();
            if (now_s() - since_empty > 10.0) {
                cr_log_warn("mpirun %d had no live rank for 10 s after the kill and did not "
                            "exit (Open MPI's start-up hang, see %s): killed", (int)mpirun, g_log);
                kill(mpirun, SIGKILL);
                wait_code(p, 30);
                return 128 + SIGKILL;
            }
        } else {
            since_empty = -1.0;
        }
        sleep_s(0.05);
    }
    return wait_code(p, 1);   // reports the timeout
}

// Kills rank 0 of the farm `p` at `delay` seconds after its start (or as soon
// as it exists, if later) and waits for mpirun to end.  Returns 1 if killed,
// 0 if the farm ended by itself first (its exit code must then be 0).
// *seen: epochs a reader saw committed just before the kill.
static int kill_coordinator_at(pid_t p, double t_start, double delay, long long *seen,
                               const char *db) {
    int code;
    while (now_s() - t_start < delay) {
        if (ended(p, &code)) {
            cr_assert_eq(code, 0, "ended with %d before the kill (see %s)", code, g_log);
            return 0;
        }
        sleep_s(0.005);
    }
    pid_t r0 = await_rank(p, 0, 30);
    *seen = live_epochs(db);
    int killed = r0 > 0 && kill(r0, SIGKILL) == 0;
    code = wait_after_kill(p, 60);
    if (code == 0) return 0;   // it had finished its work when the signal came
    cr_assert(killed, "the farm failed with %d by itself (see %s)", code, g_log);
    return 1;
}

// Crash accounting across kills of the coordinator: the farm failed, not
// its jobs, so no job may ever carry a crash (jobs it left running resume
// without one).
static void expect_no_crash(const jobs_now *j, const char *when) {
    for (int id = 1; id <= j->n; id++)
        cr_expect_eq(j->crashes[id], 0, "%s: job %d has %lld crashes; a dead coordinator blames "
                     "no job", when, id, j->crashes[id]);
}

Test(faults, coordinator_sigkill_at_random_moments_then_resume) {
    char spec[256], ref[256], db[256], snap[256], ck[300];
    training_spec(in_dir(spec, sizeof spec, "rk.ini"), "rk", "1-3", 10, 1);
    double t_ref = reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    cr_log_info("run without faults: %.1f s", t_ref);
    const int jobs = 6;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        g_rng = seed * 1000003u;
        char name[64];
        snprintf(name, sizeof name, "rk-%d.db", (int)seed);
        in_dir(db, sizeof db, name);
        snprintf(ck, sizeof ck, "%s.ckpt", db);
        int kills = 0;
        for (int k = 0; k < 2; k++) {
            double delay = rnd_in(0.02, 0.9) * t_ref;
            double t0 = now_s();
            long long seen = 0;
            pid_t p = farm_start(3, spec, db, NULL, "--max-crashes", "100", NULL);
            if (!kill_coordinator_at(p, t0, delay, &seen, db)) break;
            kills++;
            char when[128];
            snprintf(when, sizeof when, "seed %d: rank 0 killed at %.2f s", (int)seed, delay);
            int journal = snapshot(db, in_dir(snap, sizeof snap, "snap.db"));
            if (journal < 0) {   // killed before it created the database
                cr_log_info("%s, before the database existed", when);
                continue;
            }
            expect x = {.epochs = 10, .n_targets = 2, .allow_running = 1, .max_crashes = 100,
                        .ref = ref, .ckpt_dir = ck};
            facts f = check_db(snap, &x, when);
            cr_expect_geq(f.epochs, seen, "%s: a reader saw %lld epochs committed, %lld remain",
                          when, seen, f.epochs);
            jobs_now j = read_jobs(snap);
            expect_no_crash(&j, when);
        }
        pid_t p = farm_start(3, spec, db, NULL, "--max-crashes", "100", NULL);
        int rc = wait_code(p, 200);
        cr_assert_eq(rc, 0, "seed %d: resume: exit %d (see %s)", (int)seed, rc, g_log);
        char when[64];
        snprintf(when, sizeof when, "seed %d: after %d kills and the resume", (int)seed, kills);
        expect x = {.epochs = 10, .n_targets = 2, .max_crashes = 100, .ref = ref, .ckpt_dir = ck};
        facts f = check_db(db, &x, when);
        cr_expect_eq(f.done, jobs, "%s: %lld of %d jobs done", when, f.done, jobs);
        jobs_now j = read_jobs(db);
        expect_no_crash(&j, when);
    }
}

// A no-op campaign: the coordinator does little but commit, so a kill at a
// random moment often lands inside a transaction (it leaves a journal).  Each
// seed: a kill at a random moment, then a resume killed from inside its Nth
// COMMIT (random N), then the resume that completes.  Seeds 1 and 2 use the
// rollback journal (--journal delete, as on a network filesystem), 3 and 4
// WAL (the default on a local one).
Test(faults, coordinator_sigkill_inside_transactions_then_resume) {
    char spec[256], db[256], snap[256], when[128];
    noop_spec(in_dir(spec, sizeof spec, "nk.ini"), "nk", 40, 30);
    const int jobs = 40, epochs = 30;
    int journals = 0, kills = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        g_rng = seed * 7919u;
        char name[64];
        snprintf(name, sizeof name, "nk-%d.db", (int)seed);
        in_dir(db, sizeof db, name);
        const char *jmode = seed <= 2 ? "delete" : "wal";
        for (int k = 0; k < 2; k++) {
            char fault[64] = "";
            pid_t p;
            long long seen = 0;
            int killed;
            if (k == 0) {
                double delay = rnd_in(0.6, 2.6), t0 = now_s();
                p = farm_start(3, spec, db, NULL, "--noop", "--max-crashes", "100", "--journal",
                               jmode, NULL);
                killed = kill_coordinator_at(p, t0, delay, &seen, db);
                snprintf(when, sizeof when, "seed %d: rank 0 killed at %.2f s", (int)seed, delay);
            } else {
                snprintf(fault, sizeof fault, "commit:%ld:kill", rnd_int(1, 400));
                p = farm_start(3, spec, db, fault, "--noop", "--max-crashes", "100", "--journal",
                               jmode, NULL);
                int rc = wait_code(p, 120);
                killed = rc != 0;
                if (killed)
                    cr_expect_eq(count_lines(g_log, "exited on signal 9", NULL), 1,
                                 "mpirun names the killed rank (see %s)", g_log);
                snprintf(when, sizeof when, "seed %d: rank 0 killed inside COMMIT (%s)",
                         (int)seed, fault);
            }
            if (!killed) break;
            kills++;
            int journal = snapshot(db, in_dir(snap, sizeof snap, "snap.db"));
            if (journal < 0) continue;
            journals += journal;
            expect x = {.epochs = epochs, .n_targets = 1, .allow_running = 1, .max_crashes = 100,
                        .noop = 1};
            facts f = check_db(snap, &x, when);
            cr_expect_geq(f.epochs, seen, "%s: a reader saw %lld epochs committed, %lld remain",
                          when, seen, f.epochs);
            cr_log_info("%s: %s", when, journal ? "died inside a transaction (journal left)"
                                                : "no transaction open");
            jobs_now j = read_jobs(snap);
            expect_no_crash(&j, when);
        }
        int rc = wait_code(farm_start(3, spec, db, NULL, "--noop", "--max-crashes", "100",
                                      "--journal", jmode, NULL), 120);
        cr_assert_eq(rc, 0, "seed %d: resume: exit %d (see %s)", (int)seed, rc, g_log);
        snprintf(when, sizeof when, "seed %d: after the resume", (int)seed);
        expect x = {.epochs = epochs, .n_targets = 1, .max_crashes = 100, .noop = 1};
        facts f = check_db(db, &x, when);
        cr_expect_eq(f.done, jobs);
        cr_expect_eq(f.epochs, (long long)jobs * epochs);
        jobs_now j = read_jobs(db);
        expect_no_crash(&j, when);
    }
    cr_log_info("%d kills, %d of them inside a transaction (journal left)", kills, journals);
    cr_expect_gt(journals, 0, "no kill landed inside a transaction");
}

// ---- 2. a worker dies --------------------------------------------------------------

// SIGKILL to a worker in the middle of a job: mpirun ends the whole job
// (SIGTERM to every rank first); the coordinator finds the job whose worker
// died (its lock file is free) and counts one crash against that job alone,
// before it ends.  The resume completes the campaign with the same values.
Test(faults, worker_sigkill_mid_job_counts_a_crash_and_resumes) {
    char spec[256], ref[256], db[256], snap[256], ck[300];
    training_spec(in_dir(spec, sizeof spec, "wk.ini"), "wk", "1-2", 8, 1);
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    in_dir(db, sizeof db, "wk.db");
    snprintf(ck, sizeof ck, "%s.ckpt", db);
    g_rng = 4242;
    long long after = rnd_int(3, 20);
    int victim = (int)rnd_int(1, 2);
    pid_t p = farm_start(3, spec, db, NULL, NULL);
    for (double t0 = now_s(); live_epochs(db) < after && now_s() - t0 < 120;) sleep_s(0.01);
    pid_t w = rank_pid(victim);
    cr_assert_gt(w, 0, "rank %d not found (see %s)", victim, g_log);
    cr_assert_eq(kill(w, SIGKILL), 0);
    double t_kill = now_s();
    int rc = wait_code(p, 60);
    cr_expect_neq(rc, 0, "mpirun must fail when a rank is killed");
    cr_log_info("rank %d killed after %lld epochs stored; mpirun ended %.1f s later with %d",
                victim, after, now_s() - t_kill, rc);
    cr_expect_eq(count_lines(g_log, "died running job", NULL), 1, "see %s", g_log);
    cr_assert_geq(snapshot(db, in_dir(snap, sizeof snap, "snap.db")), 0);
    expect x = {.epochs = 8, .n_targets = 2, .allow_running = 1, .max_crashes = 3, .ref = ref,
                .ckpt_dir = ck};
    facts f = check_db(snap, &x, "after a worker was killed");
    cr_expect_eq(f.crashes, 1, "one crash, the dead worker's job's");
    sqlite3 *d = db_open(snap, 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM jobs WHERE crashes = 1 AND state = 'pending' AND "
                       "worker = ?1", victim), 1, "the crash is the killed rank's job's");
    sqlite3_close(d);
    jobs_now before = read_jobs(snap);

    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "resume: exit %d (see %s)", rc, g_log);
    x.allow_running = 0;
    f = check_db(db, &x, "after the resume");
    cr_expect_eq(f.done, 4);
    jobs_now j = read_jobs(db);
    for (int id = 1; id <= j.n; id++)
        cr_expect_eq(j.crashes[id], before.crashes[id], "job %d: %lld crashes, %lld before the "
                     "resume", id, j.crashes[id], before.crashes[id]);
}

// A worker aborting while it writes a checkpoint (FPTFARM_FAULT=checkpoint:N:
// abort), twice in the same job, with --max-crashes 2: the first crash sends
// the job back to pending (resumed from the checkpoint before the torn one),
// the second marks it failed, and the campaign completes the other jobs.
// Then a run with the default limit (3) reopens it, and --retry-failed
// reopens a job failed at its limit.
Test(faults, worker_abort_in_checkpoint_write_honours_the_crash_limit) {
    char spec[256], ref[256], db[256], snap[256], ck[300], path[400];
    training_spec(in_dir(spec, sizeof spec, "wa.ini"), "wa", "1-3", 6, 0);
    reference_run(2, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    in_dir(db, sizeof db, "wa.db");
    snprintf(ck, sizeof ck, "%s.ckpt", db);
    expect x = {.epochs = 6, .n_targets = 2, .allow_running = 1, .max_crashes = 2, .ref = ref,
                .ckpt_dir = ck};
    // One worker: job 1 saves checkpoints 1..6, job 2 its epoch 3 as the 9th.
    int rc = wait_code(farm_start(2, spec, db, "checkpoint:9:abort", "--max-crashes", "2", NULL),
                       120);
    cr_expect_neq(rc, 0);
    cr_expect_eq(count_lines(g_log, "exited on signal 6", NULL), 1, "see %s", g_log);
    snapshot(db, in_dir(snap, sizeof snap, "snap.db"));
    facts f = check_db(snap, &x, "worker aborted in job 2's 3rd checkpoint");
    jobs_now j = read_jobs(snap);
    cr_expect(j.state[1] == 'd' && j.state[2] == 'p' && j.state[3] == 'p', "states %c%c%c",
              j.state[1], j.state[2], j.state[3]);
    cr_expect_eq(j.crashes[2], 1, "the crash is counted when the worker dies");
    sqlite3 *d = db_open(snap, 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM epochs WHERE job_id = 2", 0), 3);
    sqlite3_close(d);
    int ep = -1;
    snprintf(path, sizeof path, "%s/job-2.ckpt", ck);
    cr_expect_eq(ckpt_load(path, 2, &ep), 0, "the previous checkpoint must be intact");
    cr_expect_eq(ep, 2, "the previous checkpoint is epoch 2's");
    cr_expect_eq(f.ck.temps, 1, "the torn temporary file of the dead worker");

    // Resume: job 2 (1 crash) continues from epoch 2; the worker aborts in its
    // 2nd checkpoint again (epoch 4): the second crash reaches the limit.
    rc = wait_code(farm_start(2, spec, db, "checkpoint:2:abort", "--max-crashes", "2", NULL), 120);
    cr_expect_neq(rc, 0);
    snapshot(db, snap);
    check_db(snap, &x, "aborted again, in job 2's epoch 4 checkpoint");
    j = read_jobs(snap);
    cr_expect(j.state[2] == 'f' && j.crashes[2] == 2, "job 2: %c, %lld crashes", j.state[2],
              j.crashes[2]);
    cr_expect_eq(ckpt_load(path, 2, &ep), 0);
    cr_expect_eq(ep, 3);

    // At the same limit job 2 stays failed, job 3 runs; the campaign ends
    // saying so, with exit code 4 (complete, with failed jobs).
    rc = wait_code(farm_start(2, spec, db, NULL, "--max-crashes", "2", NULL), 120);
    cr_assert_eq(rc, 4, "exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: 1 jobs are marked failed", "--retry-failed", NULL),
                 1, "see %s", g_log);
    cr_expect_geq(count_lines(g_log, "3/3 jobs done (1 failed)", NULL), 1, "see %s", g_log);
    x.allow_running = 0;
    f = check_db(db, &x, "after the resume at the crash limit");
    j = read_jobs(db);
    cr_expect(j.state[1] == 'd' && j.state[2] == 'f' && j.state[3] == 'd', "states %c%c%c",
              j.state[1], j.state[2], j.state[3]);
    cr_expect_eq(j.crashes[2], 2);
    cr_expect_eq(j.crashes[1] + j.crashes[3], 0);
    d = db_open(db, 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM epochs WHERE job_id = 2", 0), 4,
                 "a failed job keeps the epochs it stored");
    cr_expect_eq(q1(d, "SELECT attempts FROM jobs WHERE id = 2", 0), 2);
    sqlite3_close(d);
    // A higher limit (the default 3) reopens it: it completes from its
    // checkpoint, with the values of the run without faults.
    rc = wait_code(farm_start(2, spec, db, NULL, NULL), 120);
    cr_assert_eq(rc, 0, "exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "1 failed jobs reopened", NULL), 1, "see %s", g_log);
    x.max_crashes = 3;
    f = check_db(db, &x, "after a run with a raised limit");
    cr_expect_eq(f.done, 3);
    // --retry-failed reopens jobs at their limit (crashes reset): job 1
    // marked failed by hand at 3 crashes runs again, identically.
    d = db_open(db, 0);
    q1(d, "UPDATE jobs SET state = 'failed', crashes = 3 WHERE id = 1", 0);
    q1(d, "DELETE FROM first_passages WHERE job_id = 1", 0);
    sqlite3_close(d);
    rc = wait_code(farm_start(2, spec, db, NULL, NULL), 120);
    cr_assert_eq(rc, 4);
    cr_expect_eq(count_lines(g_log, "3 jobs, 3 already finished, 0 to run", NULL), 1,
                 "at its limit it stays failed (see %s)", g_log);
    rc = wait_code(farm_start(2, spec, db, NULL, "--retry-failed", NULL), 120);
    cr_assert_eq(rc, 0);
    cr_expect_eq(count_lines(g_log, "1 failed jobs reopened (--retry-failed)", NULL), 1, "see %s",
                 g_log);
    f = check_db(db, &x, "after --retry-failed");
    cr_expect_eq(f.done, 3);
    j = read_jobs(db);
    cr_expect_eq(j.crashes[1], 0);
}

// ---- 3. SIGTERM inside a database write and during a checkpoint write ------------------

Test(faults, sigterm_inside_a_commit_or_a_checkpoint_write_stops_cleanly) {
    char spec[256], ref[256], db[256], ck[300], fault[64], when[128];
    training_spec(in_dir(spec, sizeof spec, "st.ini"), "st", "1-3", 8, 1);
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    expect x = {.epochs = 8, .n_targets = 2, .max_crashes = 3, .ref = ref};

    // (a) SIGTERM raised inside the coordinator's Nth COMMIT: N = 1 is the
    // schema's creation, then the experiment, job starts, epoch batches.
    g_rng = 77;
    const long at[2] = {1, rnd_int(5, 40)};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "st-%d.db", k);
        in_dir(db, sizeof db, name);
        snprintf(ck, sizeof ck, "%s.ckpt", db);
        x.ckpt_dir = ck;
        snprintf(fault, sizeof fault, "commit:%ld:term", at[k]);
        int rc = wait_code(farm_start(3, spec, db, fault, NULL), 120);
        snprintf(when, sizeof when, "SIGTERM inside COMMIT %ld", at[k]);
        cr_expect_eq(rc, 3, "%s: an orderly stop exits 3, got %d (see %s)", when, rc, g_log);
        cr_expect_eq(count_lines(g_log, "stopped by signal", NULL), 1, "see %s", g_log);
        facts f = check_db(db, &x, when);
        cr_expect_eq(f.crashes, 0, "%s: a clean stop is not a crash", when);
        cr_expect_lt(f.done, 6, "%s: stopped before the end", when);
        // The resume raises SIGTERM inside the workers' checkpoint writes:
        // they ignore it (stops are the coordinator's to decide).
        rc = wait_code(farm_start(3, spec, db, "checkpoint:3:term", NULL), 200);
        cr_assert_eq(rc, 0, "resume: exit %d (see %s)", rc, g_log);
        snprintf(when, sizeof when, "after SIGTERM inside COMMIT %ld and the resume", at[k]);
        f = check_db(db, &x, when);
        cr_expect_eq(f.done, 6);
        cr_expect_eq(f.crashes, 0);
    }

    // (b) SIGTERM to the coordinator while a worker writes a checkpoint: the
    // moment the temporary file appears (inotify), checked still there after.
    in_dir(db, sizeof db, "st-ck.db");
    snprintf(ck, sizeof ck, "%s.ckpt", db);
    x.ckpt_dir = ck;
    pid_t p = farm_start(3, spec, db, NULL, NULL);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    cr_assert_geq(in, 0);
    for (double t0 = now_s(); access(ck, F_OK) != 0 && now_s() - t0 < 60;) sleep_s(0.005);
    cr_assert_geq(inotify_add_watch(in, ck, IN_CREATE), 0, "%s: %s", ck, strerror(errno));
    pid_t r0 = await_rank(p, 0, 30);
    cr_assert_gt(r0, 0);
    int landed = 0, sent = 0;
    for (double t0 = now_s(); !sent && now_s() - t0 < 60;) {
        char buf[4096] __attribute__((aligned(8)));
        ssize_t n = read(in, buf, sizeof buf);
        if (n <= 0) {
            sleep_s(0.0005);
            continue;
        }
        for (char *q = buf; q < buf + n && !sent;) {
            const struct inotify_event *e = (const struct inotify_event *)q;
            q += sizeof *e + e->len;
            if (!e->len || !strstr(e->name, ".tmp.") || live_epochs(db) < 10) continue;
            char tmp[600];
            snprintf(tmp, sizeof tmp, "%s/%s", ck, e->name);
            cr_assert_eq(kill(r0, SIGTERM), 0);
            sent = 1;
            landed = access(tmp, F_OK) == 0;
        }
    }
    close(in);
    cr_assert(sent, "no checkpoint write seen");
    int rc = wait_code(p, 120);
    cr_log_info("SIGTERM sent to rank 0 %s the worker's checkpoint write", landed ? "during"
                                                                                 : "just after");
    cr_expect_eq(rc, 3, "an orderly stop exits 3, got %d (see %s)", rc, g_log);
    facts f = check_db(db, &x, "SIGTERM during a checkpoint write");
    cr_expect_eq(f.crashes, 0);
    cr_expect_eq(f.ck.temps, 0, "a stop leaves no temporary file");
    cr_expect_geq(f.ck.ckpts, 1, "the stopped jobs keep their checkpoints");
    char path[700];
    DIR *dd = opendir(ck);
    for (struct dirent *e; dd && (e = readdir(dd));) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".lock"))
            continue;
        int ep;
        snprintf(path, sizeof path, "%s/%s", ck, e->d_name);
        cr_expect_eq(ckpt_load(path, 2, &ep), 0, "%s must load", path);
    }
    if (dd) closedir(dd);
    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "resume: exit %d (see %s)", rc, g_log);
    f = check_db(db, &x, "after SIGTERM during a checkpoint write and the resume");
    cr_expect_eq(f.done, 6);
}

// One line per epoch of `fptfarm train`: "epoch train_loss test_loss test_acc"
// as printed (the seconds column left out), appended to out.
static int train_lines(const char *log, char *out, size_t cap) {
    char *text = slurp(log, NULL);
    cr_assert_not_null(text);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int e;
        char a[64], b[64], c[64];
        if (sscanf(line, "%d %63s %63s %63s", &e, a, b, c) == 4 && strchr(c, '%')) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "%d %s %s %s\n", e, a, b, c);
            n++;
        }
    }
    free(text);
    return n;
}

// `fptfarm train` (one process, its own SIGTERM handler): SIGTERM raised in
// the middle of its 2nd checkpoint write finishes that write, trains one more
// epoch, checkpoints and exits 3; SIGKILL there leaves the previous
// checkpoint.  Either way --resume gives the trace of an uninterrupted run.
Test(faults, train_sigterm_or_sigkill_inside_a_checkpoint_write) {
    char ckp[256], want[4096] = "", got[4096] = "";
    in_dir(ckp, sizeof ckp, "run.ckpt");
    const char *base[] = {g_bin, "train", "--width", "2", "--synth-train", "200", "--synth-test",
                          "100", "--batch", "50", "--epochs", "6", "--threads", "1",
                          "--target", "20", NULL, NULL, NULL, NULL, NULL, NULL};
    cr_assert_eq(run_cmd(base, NULL, 120, NULL), 0, "see %s", g_log);
    cr_assert_eq(train_lines(g_log, want, sizeof want), 6);
    const char *const faults_[2] = {"checkpoint:2:term", "checkpoint:2:kill"};
    for (int k = 0; k < 2; k++) {
        unlink(ckp);
        const char **a = base;   // the same array, with checkpoint options
        a[16] = "--checkpoint", a[17] = ckp, a[18] = "--checkpoint-every", a[19] = "1";
        a[20] = NULL;
        int rc = run_cmd(a, faults_[k], 120, NULL);
        got[0] = 0;
        int n = train_lines(g_log, got, sizeof got);
        int ep = -1;
        if (k == 0) {
            cr_expect_eq(rc, 3, "SIGTERM: exit %d (see %s)", rc, g_log);
            cr_expect_eq(n, 3, "the epoch in progress is finished, then the run stops");
            cr_expect_eq(ckpt_load(ckp, 2, &ep), 0);
            cr_expect_eq(ep, 3);
        } else {
            cr_expect_eq(rc, 128 + SIGKILL, "SIGKILL: exit %d (see %s)", rc, g_log);
            cr_expect_eq(n, 2);
            cr_expect_eq(ckpt_load(ckp, 2, &ep), 0, "the previous checkpoint is intact");
            cr_expect_eq(ep, 1);
        }
        a[20] = "--resume";
        a[21] = NULL;
        rc = run_cmd(a, NULL, 120, NULL);
        cr_expect_eq(rc, 0, "resume: exit %d (see %s)", rc, g_log);
        // The trace: the epochs before the fault's checkpoint, then the resume's.
        char joined[4096] = "";
        for (char *line = strtok(got, "\n"); line; line = strtok(NULL, "\n"))
            if (atoi(line) <= ep) {
                strcat(joined, line);
                strcat(joined, "\n");
            }
        train_lines(g_log, joined, sizeof joined);
        cr_expect_str_eq(joined, want, "%s then --resume differs from an uninterrupted run",
                         faults_[k]);
    }
}

// `fptfarm import` has no SIGTERM handler: SIGTERM inside its COMMIT ends it
// with the database as it was (one transaction), and a second import works.
Test(faults, import_sigterm_inside_its_commit_leaves_the_database_as_it_was) {
    char db[256], csv[256];
    in_dir(db, sizeof db, "imp.db");
    in_dir(csv, sizeof csv, "a.csv");
    FILE *f = fopen(csv, "w");
    fprintf(f, "protocol,period,seed,epoch,test_acc\n");
    for (int s = 0; s < 50; s++)
        for (int e = 1; e <= 20; e++) fprintf(f, "none,0,%d,%d,%d\n", s, e, 3 * e);
    fclose(f);
    const char *first[] = {g_bin, "import", db, csv, "--name", "first", NULL};
    cr_assert_eq(run_cmd(first, NULL, 60, NULL), 0, "see %s", g_log);
    const char *second[] = {g_bin, "import", db, csv, "--name", "second", NULL};
    int rc = run_cmd(second, "commit:1:term", 60, NULL);
    cr_expect_eq(rc, 128 + SIGTERM, "exit %d (see %s)", rc, g_log);
    sqlite3 *d = db_open(db, 0);
    cr_expect_eq(q1(d, "SELECT count(*) FROM experiments", 0), 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM jobs", 0), 50);
    cr_expect_eq(q1(d, "SELECT count(*) FROM epochs", 0), 1000);
    cr_expect_eq(q1(d, "SELECT count(*) FROM first_passages", 0), 50);
    sqlite3_close(d);
    expect x = {.epochs = 20, .n_targets = 1, .max_crashes = 3, .imported = 1};
    check_db(db, &x, "import killed by SIGTERM inside its commit");
    cr_assert_eq(run_cmd(second, NULL, 60, NULL), 0, "see %s", g_log);
    d = db_open(db, 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM epochs", 0), 2000);
    sqlite3_close(d);
}

// ---- 4. a full disk ----------------------------------------------------------------

// A tmpfs of `kib` KiB on g_dir/name, in a private mount namespace of this
// test process (and its children); skips the test without the privilege.
static void mount_small(const char *name, long kib, char *path, size_t cap) {
    in_dir(path, cap, name);
    cr_assert_eq(mkdir(path, 0755), 0);
    if (unshare(CLONE_NEWNS) != 0)
        cr_skip_test("no private mount namespace (%s): the full-disk tests need root",
                     strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        cr_skip_test("cannot make mounts private (%s)", strerror(errno));
    char opt[32];
    snprintf(opt, sizeof opt, "size=%ldk", kib);
    if (mount("tmpfs", path, "tmpfs", 0, opt) != 0)
        cr_skip_test("cannot mount a tmpfs on %s (%s)", path, strerror(errno));
    snprintf(g_mounts[g_n_mounts++], sizeof g_mounts[0], "%s", path);
}

static void grow(const char *path, long kib) {
    char opt[32];
    snprintf(opt, sizeof opt, "size=%ldk", kib);
    cr_assert_eq(mount(NULL, path, NULL, MS_REMOUNT, opt), 0, "remount %s: %s", path,
                 strerror(errno));
}

// The database on a 192 KiB tmpfs under a no-op campaign that needs about
// 400 KiB: SQLITE_FULL mid-campaign.  One clear error line, exit 1; the
// database intact with everything a reader saw committed; with room again
// (remounted larger) the same command completes the campaign.
// In both journal modes: the rollback journal on 192 KiB, WAL (whose log
// grows until a checkpoint) on 384 KiB, so that some epochs commit first.
Test(faults, database_disk_full_is_one_clear_error_and_resumes) {
    const char *modes[2] = {"delete", "wal"};
    const long kib[2] = {192, 384};
    for (int m = 0; m < 2; m++) {
        char small[256], db[300], spec[256], copy[256], name[32], when[96];
        snprintf(name, sizeof name, "small-%s", modes[m]);
        mount_small(name, kib[m], small, sizeof small);
        snprintf(db, sizeof db, "%s/full.db", small);
        noop_spec(in_dir(spec, sizeof spec, "full.ini"), "full", 120, 40);
        pid_t p = farm_start(3, spec, db, NULL, "--noop", "--journal", modes[m], NULL);
        long long seen = 0;
        int rc;
        while (!ended(p, &rc)) {
            long long n = live_epochs(db);
            if (n > seen) seen = n;
            sleep_s(0.05);
        }
        cr_expect_eq(rc, 1, "%s: exit %d (see %s)", modes[m], rc, g_log);
        cr_expect_eq(count_lines(g_log, "fptfarm: ", "full.db", "database or disk is full", NULL),
                     1, "one error line naming the database and the full disk (see %s)", g_log);
        snapshot(db, in_dir(copy, sizeof copy, "copy.db"));
        snprintf(when, sizeof when, "%s: after the disk filled (a copy)", modes[m]);
        expect x = {.epochs = 40, .n_targets = 1, .allow_running = 1, .max_crashes = 3,
                    .noop = 1};
        facts f = check_db(copy, &x, when);
        cr_expect_geq(f.epochs, seen, "a reader saw %lld epochs committed, %lld remain", seen,
                      f.epochs);
        cr_expect_gt(f.epochs, 0, "%s: nothing committed before the disk filled", modes[m]);
        cr_expect_lt(f.epochs, 120 * 40, "%s: the disk never filled", modes[m]);
        cr_expect_eq(f.crashes, 0, "a full disk is not the jobs' fault");
        grow(small, 8192);
        rc = wait_code(farm_start(3, spec, db, NULL, "--noop", "--journal", modes[m], NULL), 200);
        cr_assert_eq(rc, 0, "%s: resume: exit %d (see %s)", modes[m], rc, g_log);
        x.allow_running = 0;
        snprintf(when, sizeof when, "%s: after the resume with room", modes[m]);
        f = check_db(db, &x, when);
        cr_expect_eq(f.done, 120);
        cr_expect_eq(f.epochs, 120 * 40);
        cr_expect_eq(f.crashes, 0);
    }
}

// The checkpoints on a tmpfs that holds two and a half: the third needed at
// once fails with ENOSPC.  One clear error line per failing worker, exit 1,
// the previous checkpoints whole and never ahead of the database, no
// temporary file left, the database intact; with room the campaign completes
// with the values of a run without faults.
Test(faults, checkpoint_disk_full_is_a_clear_error_and_resumes) {
    char small[256], db[256], spec[256], ref[256];
    fpt_err err = {{0}};
    fpt_resnet *m;
    cr_assert_eq(fpt_resnet_create(&m, &(fpt_resnet_arch){.width = 2, .num_classes = 10, .in_channels = 3, .image_hw = 32, .stage_norm = 0}, &err), 0);
    const long bytes = 16 + 112 + 4 * (2 * (long)m->n_params + (long)m->n_buffers) + 8;
    fpt_resnet_free(m);
    mount_small("ck", (5 * bytes / 2) / 1024, small, sizeof small);
    training_spec(in_dir(spec, sizeof spec, "ckf.ini"), "ckf", "1-2", 6, 1);
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    in_dir(db, sizeof db, "ckf.db");
    int rc = wait_code(farm_start(3, spec, db, NULL, "--checkpoint-dir", small, NULL), 120);
    cr_expect_eq(rc, 1, "exit %d (see %s)", rc, g_log);
    int lines = count_lines(g_log, "fptfarm: rank ", ".ckpt: write failed: No space left on device "
                            "(previous checkpoint, if any, left unchanged)", NULL);
    cr_expect(lines == 1 || lines == 2, "%d error lines (see %s)", lines, g_log);
    cr_log_info("checkpoint disk full: %d error line%s, exit %d", lines, lines == 1 ? "" : "s",
                rc);
    expect x = {.epochs = 6, .n_targets = 2, .allow_running = 1, .max_crashes = 3, .ref = ref,
                .ckpt_dir = small};
    facts f = check_db(db, &x, "after the checkpoint disk filled");
    // A failed save removes its temporary file; a worker that mpirun killed
    // in the middle of its own save leaves one.
    cr_expect_leq(f.ck.temps, 1, "%d temporary files", f.ck.temps);
    cr_expect_geq(f.ck.ckpts, 1);
    DIR *dd = opendir(small);
    for (struct dirent *e; dd && (e = readdir(dd));) {
        // job-N.lock: a worker's lock while it runs job N (farm_proto.h).
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".lock"))
            continue;
        char path[600];
        int ep;
        snprintf(path, sizeof path, "%s/%s", small, e->d_name);
        cr_expect_eq(ckpt_load(path, 2, &ep), 0, "%s must be whole", path);
    }
    if (dd) closedir(dd);
    grow(small, 4096);
    rc = wait_code(farm_start(3, spec, db, NULL, "--checkpoint-dir", small, NULL), 200);
    cr_assert_eq(rc, 0, "resume: exit %d (see %s)", rc, g_log);
    x.allow_running = 0;
    f = check_db(db, &x, "after the resume with room");
    cr_expect_eq(f.done, 4);
}

// ---- 5. NaN ---------------------------------------------------------------------------

// Absurd learning rates (momentum 0, weight decay 0.9: each step multiplies
// the weights by about 1 - lr * 0.9): at lr 2 some seeds blow up within a
// few epochs and others not; at lr 10 every run's loss is NaN/Inf in its
// first epoch, with nothing to record.  Diverged jobs are 'diverged', the
// others 'done', the farm exits 0 both times.  On the blas backend: when
// overflow turns into NaN depends on the kernels (oneDNN's fp32 BatchNorm
// maps overflowing activations to finite outputs for longer: its runs at
// lr 10 record an epoch or two, with a train loss of 1e33, before the NaN),
// and this tests the farm, which must see a first-epoch divergence too.
Test(faults, diverging_runs_are_recorded_and_the_farm_goes_on) {
    char spec[256], db[256];
    in_dir(db, sizeof db, "nan.db");
    const char *const specs[2][2] = {{"nan-mixed", "1-8"}, {"nan-first", "1-3"}};
    const double lr[2] = {2, 10};
    for (int k = 0; k < 2; k++) {
        write_text(in_dir(spec, sizeof spec, "nan.ini"),
                   "[experiment]\nname = %s\nseeds = %s\ndataset = synthetic\nsynth_train = 200\n"
                   "synth_test = 100\nwidth = 2\nepochs = 4\nbatch = 10\nlr = %g\n"
                   "weight_decay = 0.9\nmomentum = 0\ntarget = 20, 30\nthreads = 1\n"
                   "backend = blas\n[none]\n",
                   specs[k][0], specs[k][1], lr[k]);
        int rc = wait_code(farm_start(3, spec, db, NULL, NULL), 120);
        cr_assert_eq(rc, 0, "%s: exit %d (see %s)", specs[k][0], rc, g_log);
    }
    expect x = {.epochs = 4, .n_targets = 2, .max_crashes = 3};
    facts f = check_db(db, &x, "after two diverging campaigns");
    cr_expect_eq(f.done + f.diverged, 11, "every job done or diverged");
    cr_expect_eq(f.crashes, 0);
    sqlite3 *d = db_open(db, 1);
    long long mixed_div = q1(d, "SELECT count(*) FROM jobs WHERE experiment_id = 1 AND "
                                "state = 'diverged'", 0);
    cr_log_info("lr 2: %lld of 8 diverged; lr 10: %lld of 3 diverged, %lld in the first epoch",
                mixed_div,
                q1(d, "SELECT count(*) FROM jobs WHERE experiment_id = 2 AND state = 'diverged'",
                   0),
                q1(d, "SELECT count(*) FROM jobs j WHERE state = 'diverged' AND NOT EXISTS "
                      "(SELECT 1 FROM epochs e WHERE e.job_id = j.id)", 0));
    cr_expect(mixed_div > 0 && mixed_div < 8, "lr 2: %lld of 8 diverged: expected a mix",
              mixed_div);
    cr_expect_eq(q1(d, "SELECT count(*) FROM jobs WHERE experiment_id = 2 AND state != 'diverged'",
                    0), 0, "lr 10: every run diverges");
    cr_expect_gt(q1(d, "SELECT count(*) FROM jobs j WHERE state = 'diverged' AND NOT EXISTS "
                       "(SELECT 1 FROM epochs e WHERE e.job_id = j.id)", 0), 0,
                 "some run diverged in its first epoch");
    sqlite3_close(d);
}

// ---- load ----------------------------------------------------------------------------

// 64 oversubscribed ranks (63 workers) sending no-op records as fast as the
// coordinator acknowledges them, for 20 s, then SIGUSR1 to mpirun: exit 3,
// every record the coordinator counted is in the database, traces without
// gaps, no job left running, and the coordinator's resident memory flat
// (sampled every second; bench/farm_load.sh is the longer version).
Test(faults, load_64_ranks_no_record_lost_memory_flat) {
    char spec[256], db[256];
    noop_spec(in_dir(spec, sizeof spec, "load.ini"), "load", 5000, 100);
    in_dir(db, sizeof db, "load.db");
    pid_t p = farm_start(64, spec, db, NULL, "--noop", NULL);
    double t0 = now_s();
    pid_t r0 = 0;
    while (now_s() - t0 < 90 && (!r0 || live_epochs(db) == 0)) {
        if (!r0) r0 = rank_pid(0);
        sleep_s(0.2);
    }
    cr_assert(r0 > 0 && live_epochs(db) > 0, "the farm never got going (see %s)", g_log);
    double t_start = now_s();
    cr_log_info("64 ranks: first records after %.1f s", t_start - t0);
    enum { WINDOW = 20 };
    long rss[WINDOW + 1];
    for (int i = 0; i <= WINDOW; i++) {
        rss[i] = vm_rss_kb(r0);
        if (i < WINDOW) sleep_s(t_start + i + 1 - now_s());
    }
    pid_t mpirun = child_of(p);
    cr_assert_gt(mpirun, 0);
    double t_stop = now_s();
    cr_assert_eq(kill(mpirun, SIGUSR1), 0);
    int rc = wait_code(p, 90);
    cr_expect_eq(rc, 3, "an orderly stop exits 3, got %d (see %s)", rc, g_log);
    cr_log_info("stopped in %.1f s", now_s() - t_stop);

    expect x = {.epochs = 100, .n_targets = 1, .max_crashes = 3, .noop = 1};
    facts f = check_db(db, &x, "64 ranks stopped after 20 s");
    cr_expect_eq(f.crashes, 0, "a clean stop is not a crash");
    // The coordinator's own count of committed records (its last status line).
    char *text = slurp(g_log, NULL);
    long long said = -1;
    for (char *q = text; q && (q = strstr(q, " epochs stored this session")); q++) {
        char *s = q;
        while (s > text && isdigit((unsigned char)s[-1])) s--;
        said = atoll(s);
    }
    free(text);
    cr_expect_eq(said, f.epochs, "the coordinator committed %lld records, the database holds %lld",
                 said, f.epochs);
    char series[512] = "";
    long first = 0, second = 0;
    for (int i = 0; i <= WINDOW; i++) {
        size_t len = strlen(series);
        snprintf(series + len, sizeof series - len, " %ld", rss[i]);
        cr_expect_gt(rss[i], 0, "rank 0 gone at second %d", i);
        if (i >= 2 && i <= WINDOW / 2 && rss[i] > first) first = rss[i];
        if (i > WINDOW / 2 && rss[i] > second) second = rss[i];
    }
    fprintf(stderr, "load: 63 workers, %lld records, ~%.0f records/s; coordinator VmRSS kB:%s\n",
            f.epochs, (double)f.epochs / (t_stop - t_start), series);
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's quarantine holds freed memory back: the resident
    // memory of an ASan build grows by design.
    cr_log_info("ASan build: coordinator memory %ld kB, then %ld kB (not checked)", first, second);
#else
    cr_expect_leq(second, first + first / 10 + 1024,
                  "coordinator memory grew: max %ld kB in seconds 2-%d, %ld kB after", first,
                  WINDOW / 2, second);
#endif
}

// ---- security ---------------------------------------------------------------------------

// Hostile names (quotes, semicolons, SQL, control characters, shell and
// gnuplot syntax, format directives, very long) in an imported CSV and as the
// experiment's name: stored and read back byte for byte, the schema
// untouched; then fit and plot on the study's data with one protocol renamed
// to such a name, figures in a directory whose name is shell syntax: nothing
// executed (the commands run in g_dir, where touch would leave its files),
// and the figures private under umask 077.
Test(faults, security_hostile_names_through_import_fit_and_plot) {
    char db[256], csv[256];
    in_dir(db, sizeof db, "hostile.db");
    in_dir(csv, sizeof csv, "hostile.csv");
    static char long_name[6001];
    memset(long_name, 'x', sizeof long_name - 1);
    const char *const names[] = {
        "it's \"quoted\"; DROP TABLE jobs; --",
        "'); DELETE FROM epochs; --",
        "Robert'); DROP TABLE experiments;--",
        "SELECT * FROM jobs WHERE 1=1 OR ''=''",
        "tab\there\x01\x02\x1b[31mred\x7f\rCR inside",
        "`touch pwned1` $(touch pwned2) @macro",
        "%s%n%x%p%%",
        "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9 \xe2\x98\x83",   // UTF-8
        long_name,
    };
    const int n = sizeof names / sizeof names[0];
    const char *exp_name = "e'`touch pwned3`$(touch pwned4); DROP TABLE fits; --%n";
    // Import refuses protocols it does not know, in one escaped line, and
    // leaves no database behind.
    FILE *f = fopen(csv, "w");
    fprintf(f, "protocol,period,seed,epoch,test_acc\n");
    for (int e = 1; e <= 3; e++) fprintf(f, "%s,1,7,%d,%d.5\n", names[4], e, 10 * e);
    fclose(f);
    const char *imp[] = {g_bin, "import", db, csv, "--name", exp_name, "--target", "15", NULL};
    cr_expect_eq(run_cmd(imp, NULL, 60, g_dir), 1, "see %s", g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "unknown protocol 'tab\\x09here\\x01\\x02"
                             "\\x1b[31mred\\x7f\\x0dCR inside'", NULL), 1,
                 "one line, its control bytes escaped (see %s)", g_log);
    cr_expect_neq(access(db, F_OK), 0, "a failed import left a database");
    // The hostile names then go into the jobs table as another program (or
    // a user's sqlite3 session) could write them: runs imported as reset
    // at periods 1..n, renamed with bound parameters.
    f = fopen(csv, "w");
    fprintf(f, "protocol,period,seed,epoch,test_acc\n");
    for (int i = 0; i < n; i++)
        for (int e = 1; e <= 3; e++) fprintf(f, "reset,%d,7,%d,%d.5\n", i + 1, e, 10 * e);
    fclose(f);
    cr_assert_eq(run_cmd(imp, NULL, 60, g_dir), 0, "see %s", g_log);
    {
        sqlite3 *w = db_open(db, 0);
        sqlite3_stmt *u;
        cr_assert_eq(sqlite3_prepare_v2(w, "UPDATE jobs SET protocol = ?1 WHERE frequency = ?2",
                                        -1, &u, NULL), SQLITE_OK);
        for (int i = 0; i < n; i++) {
            sqlite3_bind_text(u, 1, names[i], -1, SQLITE_STATIC);
            sqlite3_bind_int(u, 2, i + 1);
            cr_assert_eq(sqlite3_step(u), SQLITE_DONE, "%s", sqlite3_errmsg(w));
            sqlite3_reset(u);
        }
        sqlite3_finalize(u);
        sqlite3_close(w);
    }
    const char *status[] = {g_bin, "status", db, NULL};
    cr_assert_eq(run_cmd(status, NULL, 60, g_dir), 0, "see %s", g_log);
    sqlite3 *d = db_open(db, 1);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(d, "SELECT protocol FROM jobs ORDER BY frequency", -1, &st,
                                    NULL), SQLITE_OK);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        const void *t = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        cr_expect(len == strlen(names[i]) && memcmp(t, names[i], len) == 0,
                  "name %d not read back exactly (%zu bytes)", i, len);
    }
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(d, "SELECT name FROM experiments", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), exp_name);
    sqlite3_finalize(st);
    cr_expect_eq(q1(d, "SELECT count(*) FROM epochs", 0), 3 * n);
    cr_expect_eq(q1(d, "SELECT count(*) FROM sqlite_schema WHERE name IN ('jobs', 'epochs', "
                       "'experiments', 'fits')", 0), 4, "a table was dropped");
    sqlite3_close(d);
    // The analysis keeps protocol names in 32-byte fields: a longer name is
    // refused by name, never cut (two names equal in their first 31 bytes
    // were merged into one condition).
    const char *fit0[] = {g_bin, "fit", db, NULL};
    cr_expect_eq(run_cmd(fit0, NULL, 60, g_dir), 1, "see %s", g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "protocol name '", "the analysis takes names of "
                             "at most 31 bytes", NULL), 1, "see %s", g_log);

    // The study's traces with shrink_perturb renamed (as above): fit and plot.
    char csv2[256], db2[256];
    in_dir(csv2, sizeof csv2, "study.csv");
    in_dir(db2, sizeof db2, "study.db");
    const char *hostile = "s'`touch pw5`$(touch pw6)\"@m;--";
    cr_assert_leq(strlen(hostile), 31);
    FILE *in = popen("xz -dc tests/data/meir2025-cifar10_traces.csv.xz", "r");
    cr_assert_not_null(in);
    FILE *out = fopen(csv2, "w");
    char line[256];
    while (fgets(line, sizeof line, in)) fputs(line, out);
    cr_assert_eq(pclose(in), 0);
    fclose(out);
    mode_t old = umask(077);
    const char *imp2[] = {g_bin, "import", db2, csv2, "--name", exp_name, "--target", "72", NULL};
    cr_assert_eq(run_cmd(imp2, NULL, 120, g_dir), 0, "see %s", g_log);
    {
        sqlite3 *w = db_open(db2, 0);
        sqlite3_stmt *u;
        cr_assert_eq(sqlite3_prepare_v2(w, "UPDATE jobs SET protocol = ?1 WHERE protocol = "
                                           "'shrink_perturb'", -1, &u, NULL), SQLITE_OK);
        sqlite3_bind_text(u, 1, hostile, -1, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(u), SQLITE_DONE, "%s", sqlite3_errmsg(w));
        cr_assert_gt(sqlite3_changes(w), 0);
        sqlite3_finalize(u);
        sqlite3_close(w);
    }
    const char *fit[] = {g_bin, "fit", db2, "--reference", "20", "--bootstrap", "20", NULL};
    cr_assert_eq(run_cmd(fit, NULL, 120, g_dir), 0, "see %s", g_log);
    cr_expect_geq(count_lines(g_log, hostile, NULL), 1, "the report names the protocol exactly");
    const char *outdir = "fig'`touch pw7`$(touch pw8);|&<>";
    const char *plot[] = {g_bin, "plot", db2, "--out", outdir, NULL};
    int rc = run_cmd(plot, NULL, 120, g_dir);
    umask(old);
    cr_assert_eq(rc, 0, "see %s", g_log);
    char figs[600], path[900];
    snprintf(figs, sizeof figs, "%s/%s/target-72", g_dir, outdir);
    int n_figs = 0;
    DIR *dd = opendir(figs);
    cr_assert_not_null(dd, "%s: %s", figs, strerror(errno));
    for (struct dirent *e; (e = readdir(dd));) {
        if (e->d_name[0] == '.') continue;
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", figs, e->d_name);
        cr_assert_eq(stat(path, &sb), 0);
        cr_expect_eq(sb.st_mode & 077, 0, "%s: mode %o under umask 077", path,
                     (unsigned)sb.st_mode & 0777);
        n_figs++;
    }
    closedir(dd);
    cr_expect_eq(n_figs, 15, "survival, mfpt, predicted_vs_measured, accuracy and ks, each as "
                             ".png, .svg and its gnuplot script .gp");
    struct stat sb;
    cr_expect_eq(stat(db2, &sb), 0);
    cr_expect_eq(sb.st_mode & 077, 0, "the database: mode %o under umask 077",
                 (unsigned)sb.st_mode & 0777);
    for (int i = 1; i <= 8; i++) {
        snprintf(path, sizeof path, "%s/pw%s%d", g_dir, i <= 4 ? "ned" : "", i);
        cr_expect_neq(access(path, F_OK), 0, "%s exists: a name was executed", path);
    }
}

// Spec names are restricted to [A-Za-z0-9_.-]{1,64}: anything else is refused
// with the reason, before any database exists.
Test(faults, security_spec_names_are_restricted) {
    const char *const bad[] = {"x'; DROP TABLE jobs; --", "a b", "$(touch pwned)", "../up",
                               "0123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char spec[256], db[256];
        in_dir(spec, sizeof spec, "bad.ini");
        in_dir(db, sizeof db, "bad.db");
        write_text(spec, "[experiment]\nname = %s\nseeds = 1\nepochs = 1\n[none]\n", bad[i]);
        int rc = wait_code(farm_start(2, spec, db, NULL, "--noop", NULL), 60);
        cr_expect_eq(rc, 1, "'%s': exit %d", bad[i], rc);
        cr_expect_eq(count_lines(g_log, "is not a name (1..64 characters of A-Z a-z 0-9 _ . -)",
                                 NULL), 1, "'%s' (see %s)", bad[i], g_log);
        cr_expect_neq(access(db, F_OK), 0, "'%s': a database was created", bad[i]);
    }
    char pw[256];
    cr_expect_neq(access(in_dir(pw, sizeof pw, "pwned"), F_OK), 0);
}

// Files the farm and `fptfarm train` create honour the umask and are never
// world-writable: the database, the checkpoint directory, checkpoints and
// their temporary files (a worker killed in its 2nd write leaves one).
Test(faults, security_created_files_honour_the_umask) {
    const mode_t masks[2] = {022, 077};
    for (int k = 0; k < 2; k++) {
        char spec[256], db[256], ck[300], name[32];
        snprintf(name, sizeof name, "perm%d.db", k);
        in_dir(db, sizeof db, name);
        snprintf(ck, sizeof ck, "%s.ckpt", db);
        training_spec(in_dir(spec, sizeof spec, "perm.ini"), "perm", "1", 3, 0);
        mode_t old = umask(masks[k]);
        int rc = wait_code(farm_start(2, spec, db, "checkpoint:2:kill", NULL), 120);
        char ckp[300];
        in_dir(ckp, sizeof ckp, "train.ckpt");
        unlink(ckp);
        const char *train[] = {g_bin, "train", "--width", "2", "--synth-train", "200",
                               "--synth-test", "100", "--batch", "50", "--epochs", "1",
                               "--threads", "1", "--checkpoint", ckp, "--checkpoint-every", "1",
                               NULL};
        int rc2 = run_cmd(train, NULL, 60, NULL);
        umask(old);
        cr_expect_neq(rc, 0);
        cr_expect_eq(rc2, 0, "see %s", g_log);
        char journal[320], wal[320], shm[320];   // if the kill left them
        snprintf(journal, sizeof journal, "%s-journal", db);
        snprintf(wal, sizeof wal, "%s-wal", db);
        snprintf(shm, sizeof shm, "%s-shm", db);
        const char *paths[6] = {db, ck, ckp, journal, wal, shm};
        int n = 0;
        for (int i = 0; i < 6; i++) {
            struct stat sb;
            if (i >= 3 && access(paths[i], F_OK) != 0) continue;
            cr_assert_eq(stat(paths[i], &sb), 0, "%s: %s", paths[i], strerror(errno));
            cr_expect_eq(sb.st_mode & masks[k], 0, "%s: mode %o under umask %03o", paths[i],
                         (unsigned)sb.st_mode & 0777, (unsigned)masks[k]);
            cr_expect_eq(sb.st_mode & S_IWOTH, 0, "%s is world-writable", paths[i]);
        }
        DIR *d = opendir(ck);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char p[700];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", ck, e->d_name);
            cr_assert_eq(stat(p, &sb), 0);
            cr_expect_eq(sb.st_mode & masks[k], 0, "%s: mode %o under umask %03o", p,
                         (unsigned)sb.st_mode & 0777, (unsigned)masks[k]);
            n++;
        }
        if (d) closedir(d);
        cr_expect_eq(n, 3, "a checkpoint, the killed worker's temporary file and its job's lock "
                     "file in %s", ck);
    }
}

// Paths are used as given, never handed to a shell: a data_path, a spec
// path, --db, --checkpoint-dir and --data-path full of shell syntax name
// exactly those files, and nothing they spell is executed.
Test(faults, security_paths_are_literal_never_a_shell) {
    char spec[300], db[300], ck[300], pw[300];
    // A CIFAR data_path that is shell syntax: refused as a missing directory.
    snprintf(spec, sizeof spec, "%s/cifar.ini", g_dir);
    write_text(spec, "[experiment]\nname = lit\nseeds = 1\ndataset = cifar10\n"
                     "data_path = %s/d;$(touch %s/pwned1)`touch %s/pwned2`|touch %s/pwned3\n"
                     "[none]\n", g_dir, g_dir, g_dir, g_dir);
    in_dir(db, sizeof db, "lit.db");
    int rc = wait_code(farm_start(2, spec, db, NULL, NULL), 60);
    cr_expect_eq(rc, 1);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "/d;$(touch ", "`touch ", NULL), 1,
                 "the error names the path as written (see %s)", g_log);
    const char *train[] = {g_bin, "train", "--dataset", "cifar10", "--data-path",
                           "$(touch pwned4);`touch pwned5`", NULL};
    rc = run_cmd(train, NULL, 60, g_dir);
    cr_expect_eq(rc, 1);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "$(touch pwned4);`touch pwned5`", NULL), 1,
                 "see %s", g_log);
    // A campaign whose spec, database and checkpoint directory have such names.
    snprintf(spec, sizeof spec, "%s/s p;$(touch pwned6).ini", g_dir);
    snprintf(db, sizeof db, "%s/d b'`touch pwned7`\".db", g_dir);
    snprintf(ck, sizeof ck, "%s/c|touch pwned8&;x", g_dir);
    training_spec(spec, "lit", "1", 1, 0);
    rc = wait_code(farm_start(2, spec, db, NULL, "--checkpoint-dir", ck, NULL), 120);
    cr_expect_eq(rc, 0, "see %s", g_log);
    struct stat sb;
    cr_expect(stat(db, &sb) == 0 && S_ISREG(sb.st_mode), "%s not created as named", db);
    cr_expect(stat(ck, &sb) == 0 && S_ISDIR(sb.st_mode), "%s not created as named", ck);
    for (int i = 1; i <= 8; i++) {
        snprintf(pw, sizeof pw, "%s/pwned%d", g_dir, i);
        cr_expect_neq(access(pw, F_OK), 0, "%s exists: a path was executed", pw);
    }
}

// ---- 7. the mistakes users make ---------------------------------------------------------
//
// Stale or damaged state, a second process, odd names: each case below was
// seen to lose, duplicate or corrupt data before fptfarm guarded it (the
// README's Reliability table lists them).

// A longer training campaign (2 seeds x [none] + [shrink_perturb], 30
// epochs: about 20 s on 2 workers), for faults that need it live.
static void long_spec(const char *path, const char *name) {
    training_spec(path, name, "1-2", 30, 1);
}

// Waits until the farm has stored n epochs; fails if it ended first.
static void await_epochs(pid_t farm, const char *db, long long n) {
    int code;
    for (double t0 = now_s(); live_epochs(db) < n; sleep_s(0.02)) {
        cr_assert(!ended(farm, &code), "the farm ended (%d) before %lld epochs (see %s)", code, n,
                  g_log);
        cr_assert_lt(now_s() - t0, 120, "no %lld epochs after 120 s (see %s)", n, g_log);
    }
}

// SIGTERM to rank 0 once n epochs are stored: the orderly stop (exit 3).
static void stop_after(const char *spec, const char *db, long long n, const char *extra) {
    pid_t p = extra ? farm_start(3, spec, db, NULL, "--checkpoint-dir", extra, NULL)
                    : farm_start(3, spec, db, NULL, NULL);
    await_epochs(p, db, n);
    pid_t r0 = rank_pid(0);
    cr_assert_gt(r0, 0);
    kill(r0, SIGTERM);
    int rc = wait_code(p, 120);
    cr_assert_eq(rc, 3, "the stop exits 3, got %d (see %s)", rc, g_log);
}

static void remove_db(const char *db) {
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[400];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
}

static int count_files(const char *dir, const char *part) {
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

// Case 1.  Checkpoints that do not belong to the database, or are ahead of
// it, or are damaged, are discarded with one line each and the job starts
// over; the campaign ends with every epoch stored, equal to a run without
// faults, and no crash.
Test(faults, stale_foreign_ahead_or_damaged_checkpoints_are_never_resumed) {
    char spec[256], ref[256], db[256], ck[300], old[256], when[96];
    training_spec(in_dir(spec, sizeof spec, "sc.ini"), "sc", "1-2", 8, 1);
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    in_dir(db, sizeof db, "sc.db");
    snprintf(ck, sizeof ck, "%s.ckpt", db);
    expect x = {.epochs = 8, .n_targets = 2, .max_crashes = 3, .ref = ref, .ckpt_dir = ck};

    // (a) "delete results/sc.db* to start afresh" that left the directory
    // sc.db.ckpt/: the new database's jobs get the same ids.
    stop_after(spec, db, 6, NULL);
    cr_assert_gt(count_files(ck, ".ckpt"), 0, "the stop left checkpoints");
    remove_db(db);
    int rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "exit %d (see %s)", rc, g_log);
    int n = count_lines(g_log, "checkpoint discarded", "belongs to another database", NULL);
    cr_expect_gt(n, 0, "no foreign checkpoint discarded (see %s)", g_log);
    facts f = check_db(db, &x, "a new database over an old checkpoint directory");
    cr_expect_eq(f.done, 4);
    cr_expect_eq(f.crashes, 0);
    cr_log_info("(a) %d foreign checkpoints discarded", n);

    // (b) A database restored from an older copy: its checkpoints are ahead.
    remove_db(db);
    stop_after(spec, db, 4, NULL);
    in_dir(old, sizeof old, "sc-old.db");
    cr_assert_eq(snapshot(db, old), 0);
    // Resumed until a later stop (SIGTERM inside its 20th commit), then the
    // older copy put back.
    rc = wait_code(farm_start(3, spec, db, "commit:20:term", NULL), 200);
    cr_assert_eq(rc, 3, "exit %d (see %s)", rc, g_log);
    remove_db(db);
    cr_assert_eq(copy_file(old, db), 0);
    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "exit %d (see %s)", rc, g_log);
    n = count_lines(g_log, "checkpoint discarded", "ahead of the", NULL);
    cr_expect_gt(n, 0, "no checkpoint ahead of the restored database discarded (see %s)", g_log);
    f = check_db(db, &x, "an older copy of the database restored");
    cr_expect_eq(f.done, 4);
    cr_expect_eq(f.crashes, 0);
    cr_log_info("(b) %d checkpoints ahead of the database discarded", n);

    // (c) Damaged checkpoints: one truncated, one with a flipped bit.
    remove_db(db);
    stop_after(spec, db, 6, NULL);
    int damaged = 0;
    DIR *d = opendir(ck);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strstr(e->d_name, ".ckpt")) continue;
        char p[700];
        snprintf(p, sizeof p, "%s/%s", ck, e->d_name);
        size_t len;
        char *b = slurp(p, &len);
        cr_assert_not_null(b);
        if (damaged == 0) len -= 100;
        else b[len / 2] ^= 0x10;
        FILE *fo = fopen(p, "wb");
        cr_assert_eq(fwrite(b, 1, len, fo), len);
        fclose(fo);
        free(b);
        damaged++;
    }
    if (d) closedir(d);
    cr_assert_geq(damaged, 1);
    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "damaged checkpoints must not stop the farm: exit %d (see %s)", rc, g_log);
    n = count_lines(g_log, "checkpoint discarded", NULL);
    cr_expect_eq(n, damaged, "%d damaged, %d discarded (see %s)", damaged, n, g_log);
    snprintf(when, sizeof when, "%d damaged checkpoints", damaged);
    f = check_db(db, &x, when);
    cr_expect_eq(f.done, 4);
    cr_expect_eq(f.crashes, 0, "a damaged checkpoint is not the job's fault");
}

// Case 2.  While a campaign runs, a second `run`, a `merge` into its database
// and an `import` into it are refused with one line naming the holder; the
// campaign is untouched.  A killed coordinator's lease is taken over.
Test(faults, a_second_writer_is_refused_while_a_campaign_runs) {
    char spec[256], ref[256], db[256], csv[256], other[256];
    long_spec(in_dir(spec, sizeof spec, "sw.ini"), "sw");
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    in_dir(db, sizeof db, "sw.db");
    pid_t p = farm_start(3, spec, db, NULL, NULL);
    char first_log[256];
    snprintf(first_log, sizeof first_log, "%s", g_log);
    await_epochs(p, db, 3);
    int rc = run_cmd((const char *const[]){"mpirun", "--oversubscribe", "-n", "3", g_bin, "run",
                                           spec, "--db", db, NULL}, NULL, 60, NULL);
    cr_expect_eq(rc, 1, "a second run: exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "in use by fptfarm run on host", "pid", "since",
                             NULL), 1, "see %s", g_log);
    in_dir(other, sizeof other, "other.db");
    noop_spec(in_dir(csv, sizeof csv, "o.ini"), "o", 2, 3);
    cr_assert_eq(wait_code(farm_start(3, csv, other, NULL, "--noop", NULL), 60), 0);
    rc = run_cmd((const char *const[]){g_bin, "merge", db, other, NULL}, NULL, 60, NULL);
    cr_expect_eq(rc, 1, "merge into the live database: exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "in use by fptfarm run", NULL), 1, "see %s",
                 g_log);
    write_text(csv, "protocol,period,seed,epoch,test_acc\nnone,0,1,1,10\n");
    rc = run_cmd((const char *const[]){g_bin, "import", db, csv, "--name", "imp", NULL}, NULL, 60,
                 NULL);
    cr_expect_eq(rc, 1, "import into the live database: exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "in use by fptfarm run", NULL), 1, "see %s",
                 g_log);
    rc = wait_code(p, 200);
    cr_assert_eq(rc, 0, "the campaign: exit %d (see %s)", rc, first_log);
    expect x = {.epochs = 30, .n_targets = 2, .max_crashes = 3, .ref = ref};
    facts f = check_db(db, &x, "after a second run, a merge and an import were refused");
    cr_expect_eq(f.done, 4);
    cr_expect_eq(f.crashes, 0);
    sqlite3 *d = db_open(db, 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM lease", 0), 0, "the lease is released at the end");
    cr_expect_eq(q1(d, "SELECT count(*) FROM experiments", 0), 1, "nothing merged or imported");
    sqlite3_close(d);

    // A coordinator killed holding the lease: the next run takes it over.
    remove_db(db);
    p = farm_start(3, spec, db, NULL, NULL);
    await_epochs(p, db, 3);
    kill(rank_pid(0), SIGKILL);
    wait_after_kill(p, 60);
    d = db_open(db, 1);
    cr_expect_eq(q1(d, "SELECT count(*) FROM lease", 0), 1, "the dead coordinator's lease");
    sqlite3_close(d);
    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "taken over from fptfarm run on host", "is gone", NULL), 1,
                 "see %s", g_log);
    f = check_db(db, &x, "after the dead coordinator's lease was taken over");
    cr_expect_eq(f.done, 4);
    cr_expect_eq(f.crashes, 0);
}

// Case 3.  An empty database name (SQLite: a temporary database, discarded)
// is refused by every command that writes, and no file appears.
Test(faults, an_empty_database_name_is_refused) {
    char spec[256], csv[256], other[256];
    noop_spec(in_dir(spec, sizeof spec, "e.ini"), "e", 2, 3);
    write_text(in_dir(csv, sizeof csv, "e.csv"), "protocol,period,seed,epoch,test_acc\n"
                                                "none,0,1,1,10\n");
    in_dir(other, sizeof other, "other.db");
    cr_assert_eq(wait_code(farm_start(3, spec, other, NULL, "--noop", NULL), 60), 0);
    int before = count_files(g_dir, ".db");
    const char *const cmds[][9] = {
        {"mpirun", "--oversubscribe", "-n", "3", g_bin, "run", spec, "--db", ""},
        {g_bin, "import", "", csv, "--name", "x"},
        {g_bin, "merge", "", other},
        {g_bin, "status", ""},
        {g_bin, "fit", ""},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *argv[10] = {0};
        for (int k = 0; k < 9 && cmds[i][k]; k++) argv[k] = cmds[i][k];
        int rc = run_cmd(argv, NULL, 60, g_dir);
        cr_expect_eq(rc, 1, "%s %s: exit %d (see %s)", argv[0], argv[1], rc, g_log);
        cr_expect_geq(count_lines(g_log, "fptfarm: ", "not a database file name", NULL) +
                          count_lines(g_log, "fptfarm: ", "usage", NULL), 1, "see %s", g_log);
        cr_expect_eq(count_lines(g_log, "stored", NULL), 0, "see %s", g_log);
    }
    cr_expect_eq(count_files(g_dir, ".db"), before, "a command created a database file");
}

// Case 4.  Another program's SQLite file whose user_version is one fptfarm
// used (1 and 2) is refused by every command, byte for byte untouched.
Test(faults, another_programs_database_is_never_modified) {
    char db[256], spec[256], csv[256], other[256];
    for (int v = 1; v <= 2; v++) {
        char name[32];
        snprintf(name, sizeof name, "theirs-%d.db", v);
        in_dir(db, sizeof db, name);
        sqlite3 *d = NULL;
        cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
        char sql[200];
        snprintf(sql, sizeof sql, "CREATE TABLE experiments (id INTEGER PRIMARY KEY, x); "
                                  "CREATE TABLE notes (t TEXT); PRAGMA user_version = %d;", v);
        cr_assert_eq(sqlite3_exec(d, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(d);
        size_t n0;
        char *b0 = slurp(db, &n0);
        noop_spec(in_dir(spec, sizeof spec, "t.ini"), "t", 2, 3);
        write_text(in_dir(csv, sizeof csv, "t.csv"), "protocol,period,seed,epoch,test_acc\n"
                                                    "none,0,1,1,10\n");
        in_dir(other, sizeof other, "other.db");
        remove_db(other);
        cr_assert_eq(wait_code(farm_start(3, spec, other, NULL, "--noop", NULL), 60), 0);
        const char *const cmds[][9] = {
            {g_bin, "status", db},
            {g_bin, "fit", db},
            {g_bin, "plot", db},
            {g_bin, "import", db, csv, "--name", "x"},
            {g_bin, "merge", db, other},
            {"mpirun", "--oversubscribe", "-n", "3", g_bin, "run", spec, "--db", db},
        };
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
            const char *argv[10] = {0};
            for (int k = 0; k < 9 && cmds[i][k]; k++) argv[k] = cmds[i][k];
            int rc = run_cmd(argv, NULL, 60, NULL);
            cr_expect_eq(rc, 1, "user_version %d, %s: exit %d (see %s)", v, argv[1], rc, g_log);
            cr_expect_eq(count_lines(g_log, "fptfarm: ", "not an fptfarm results database",
                                     NULL), 1, "see %s", g_log);
            size_t n1;
            char *b1 = slurp(db, &n1);
            cr_expect(n0 == n1 && memcmp(b0, b1, n0) == 0, "user_version %d: %s modified %s", v,
                      argv[1], db);
            free(b1);
        }
        free(b0);
    }
}

// Case 5.  Readers never break a campaign: a read transaction held open for
// 8 s (the sqlite3 shell, a notebook), with WAL (the default here) and with
// the rollback journal (a network filesystem's), and `fptfarm fit` run
// against the live database.
Test(faults, readers_never_break_a_campaign) {
    char spec[256], ref[256], db[256];
    long_spec(in_dir(spec, sizeof spec, "rd.ini"), "rd");
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    const char *modes[] = {"wal", "delete"};
    for (int m = 0; m < 2; m++) {
        char name[32];
        snprintf(name, sizeof name, "rd-%s.db", modes[m]);
        in_dir(db, sizeof db, name);
        pid_t p = farm_start(3, spec, db, NULL, "--journal", modes[m], NULL);
        char farm_log[256];
        snprintf(farm_log, sizeof farm_log, "%s", g_log);
        await_epochs(p, db, 3);
        sqlite3 *r = db_open(db, 1);
        cr_assert_eq(sqlite3_exec(r, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        long long seen = q1(r, "SELECT count(*) FROM epochs", 0);
        sleep_s(8);
        cr_expect_eq(q1(r, "SELECT count(*) FROM epochs", 0), seen, "the reader's snapshot");
        cr_assert_eq(sqlite3_exec(r, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(r);
        int torn = 0, fits = 0;
        for (int k = 0; k < 6; k++) {
            run_cmd((const char *const[]){g_bin, "fit", db, "--quiet", NULL}, NULL, 60, NULL);
            torn += count_lines(g_log, "changed while being read", NULL);
            fits++;
        }
        int rc = wait_code(p, 200);
        cr_assert_eq(rc, 0, "%s: the campaign: exit %d (see %s)", modes[m], rc, farm_log);
        if (m == 1)
            cr_expect_geq(count_lines(farm_log, "waiting", "for a lock another process holds",
                                      NULL), 1, "the wait is on the status line (see %s)",
                          farm_log);
        cr_expect_eq(torn, 0, "%d of %d fits saw a torn read", torn, fits);
        expect x = {.epochs = 30, .n_targets = 2, .max_crashes = 3, .ref = ref};
        facts f = check_db(db, &x, modes[m]);
        cr_expect_eq(f.done, 4);
        cr_expect_eq(f.crashes, 0);
    }
}

// Case 6.  Setup errors end the farm before any job starts and blame none:
// a memory limit too small for the spec, a checkpoint "directory" that is a
// file.  Nothing is written.
Test(faults, setup_errors_stop_the_farm_before_any_job) {
    char spec[256], db[256], file[256];
    training_spec(in_dir(spec, sizeof spec, "su.ini"), "su", "1-2", 4, 0);
    in_dir(db, sizeof db, "su.db");
    setenv("FPTFARM_MEMORY_LIMIT", "3M", 1);
    int rc = wait_code(farm_start(3, spec, db, NULL, NULL), 60);
    unsetenv("FPTFARM_MEMORY_LIMIT");
    cr_expect_eq(rc, 1, "exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "FPTFARM_MEMORY_LIMIT", NULL), 1, "see %s",
                 g_log);
    cr_expect_neq(access(db, F_OK), 0, "a database was created");
    write_text(in_dir(file, sizeof file, "not-a-dir"), "x\n");
    rc = wait_code(farm_start(3, spec, db, NULL, "--checkpoint-dir", file, NULL), 60);
    cr_expect_eq(rc, 1);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "not a directory", NULL), 1, "see %s", g_log);
    cr_expect_neq(access(db, F_OK), 0, "a database was created");
}

// Case 8.  The data a spec names is part of the campaign's identity: a
// changed replay table is refused on resume, naming the file.
Test(faults, a_changed_replay_table_is_refused) {
    char spec[256], db[256], csv[256];
    in_dir(csv, sizeof csv, "runs.csv");
    write_text(csv, "protocol,period,seed,epoch,test_acc\n"
                    "none,0,1,1,10\nnone,0,1,2,30\nnone,0,2,1,20\nnone,0,2,2,40\n");
    write_text(in_dir(spec, sizeof spec, "rp.ini"),
               "[experiment]\nname = rp\nseeds = 1-2\nepochs = 2\ntarget = 25\n"
               "[replay]\ndata = %s\n[none]\n", csv);
    in_dir(db, sizeof db, "rp.db");
    int rc = wait_code(farm_start(3, spec, db, NULL, NULL), 60);
    cr_assert_eq(rc, 0, "exit %d (see %s)", rc, g_log);
    size_t n0;
    char *b0 = slurp(db, &n0);
    write_text(csv, "protocol,period,seed,epoch,test_acc\n"
                    "none,0,1,1,10\nnone,0,1,2,31\nnone,0,2,1,20\nnone,0,2,2,40\n");
    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 60);
    cr_expect_eq(rc, 1, "exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "fptfarm: ", "replay table file", "runs.csv",
                             "changed since the campaign started", NULL), 1, "see %s", g_log);
    size_t n1;
    char *b1 = slurp(db, &n1);
    cr_expect(n0 == n1 && memcmp(b0, b1, n0) == 0, "the refused resume changed the database");
    free(b0);
    free(b1);
}

// Case 9.  A database that fails PRAGMA quick_check is refused, untouched,
// with the way to recover.
Test(faults, a_damaged_database_is_refused_untouched) {
    char spec[256], db[256];
    noop_spec(in_dir(spec, sizeof spec, "dm.ini"), "dm", 40, 30);
    in_dir(db, sizeof db, "dm.db");
    cr_assert_eq(wait_code(farm_start(3, spec, db, NULL, "--noop", NULL), 120), 0);
    size_t n;
    char *b = slurp(db, &n);
    sqlite3 *d = db_open(db, 1);
    long long page = q1(d, "PRAGMA page_size", 0);
    sqlite3_close(d);
    cr_assert_gt(n, 8 * (size_t)page);
    memset(b + n - 3 * (size_t)page + 16, 0xA5, (size_t)page / 2);
    FILE *f = fopen(db, "wb");
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    const char *const cmds[][9] = {
        {"mpirun", "--oversubscribe", "-n", "3", g_bin, "run", spec, "--db", db},
        {g_bin, "status", db},
        {g_bin, "fit", db},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *argv[10] = {0};
        for (int k = 0; k < 9 && cmds[i][k]; k++) argv[k] = cmds[i][k];
        int rc = run_cmd(argv, NULL, 60, NULL);
        cr_expect_eq(rc, 1, "%s: exit %d (see %s)", argv[1], rc, g_log);
        cr_expect_eq(count_lines(g_log, "fptfarm: ", "damaged", "quick_check", ".dump", NULL),
                     1, "see %s", g_log);
        size_t n1;
        char *b1 = slurp(db, &n1);
        cr_expect(n == n1 && memcmp(b, b1, n) == 0, "%s modified the damaged database",
                  argv[1]);
        free(b1);
    }
    free(b);
}

// Case 11.  A worker that has stalled (SIGSTOP) does not hold a stop
// forever: after --stop-grace its job goes back to pending, without a crash,
// and the farm ends with the stop's exit code; the resume completes it.
Test(faults, a_stalled_worker_does_not_block_a_stop) {
    char spec[256], ref[256], db[256];
    long_spec(in_dir(spec, sizeof spec, "sl.ini"), "sl");
    reference_run(3, spec, in_dir(ref, sizeof ref, "ref.db"), 0);
    in_dir(db, sizeof db, "sl.db");
    pid_t p = farm_start(3, spec, db, NULL, "--stop-grace", "3", NULL);
    await_epochs(p, db, 3);
    pid_t w = rank_pid(1), r0 = rank_pid(0);
    cr_assert(w > 0 && r0 > 0);
    cr_assert_eq(kill(w, SIGSTOP), 0);
    double t0 = now_s();
    cr_assert_eq(kill(r0, SIGTERM), 0);
    int rc = wait_code(p, 60);
    cr_log_info("a stalled worker: the stop took %.1f s (grace 3 s)", now_s() - t0);
    cr_expect_eq(rc, 3, "exit %d (see %s)", rc, g_log);
    cr_expect_eq(count_lines(g_log, "rank 1 did not stop within", NULL), 1, "see %s", g_log);
    expect x = {.epochs = 30, .n_targets = 2, .max_crashes = 3, .ref = ref};
    facts f = check_db(db, &x, "a stop with a stalled worker");
    cr_expect_eq(f.crashes, 0);
    rc = wait_code(farm_start(3, spec, db, NULL, NULL), 200);
    cr_assert_eq(rc, 0, "resume: exit %d (see %s)", rc, g_log);
    f = check_db(db, &x, "the resume after a stalled stop");
    cr_expect_eq(f.done, 4);
    cr_expect_eq(f.crashes, 0);
}
