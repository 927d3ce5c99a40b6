// test_merge.c — `fptfarm merge`: results databases of one experiment
// combined into one (common/store/store_merge.c has the rules).
//
// The inputs are built through the store API (experiment, job, start,
// epochs, first passage, finish); every expected value is recomputed here
// from the same formulas (trace(), first_passage_of()), and the output is read
// through this file's own sqlite3 connection.  Every test works in its own
// mkdtemp directory, removed by the fixture.
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "test_env.h"
#include "tmpdir.h"

// ---- fixture -----------------------------------------------------------------

static char g_dir[64];

static void make_dir(void) { tmpdir_make(g_dir, sizeof g_dir, "merge"); }
static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(merge, .init = make_dir, .fini = remove_dir);

// A path in the test's directory.  Each test runs in its own process, and
// no test asks for more paths than there are buffers.
static const char *at(const char *name) {
    static char bufs[1024][160];
    static int next;
    cr_assert_lt(next, 1024, "at(): out of path buffers");
    char *b = bufs[next++];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

// ---- the traces ----------------------------------------------------------------

// Epoch e (1-based) of a run with this seed and variant v.
static fpt_epoch_record trace(int seed, int e, double v, double sec) {
    fpt_epoch_record r = {0};
    r.epoch = e;
    r.train_loss = 2.0 / e + v;
    r.test_loss = 2.5 / e;
    r.test_acc = 20.0 + 6.0 * e + 0.5 * seed + v;
    r.lr = 0.05;
    r.perturbed = e % 2 == 0;
    r.seconds = 1.5 + sec;
    return r;
}

#define TARGET 50.0

// The first epoch whose accuracy reaches TARGET, or 0 (censored at n).
static int first_passage_of(int seed, int n, double v) {
    for (int e = 1; e <= n; e++)
        if (trace(seed, e, v, 0).test_acc >= TARGET) return e;
    return 0;
}

// ---- building inputs through the store -------------------------------------------

typedef struct jspec {
    const char *protocol;
    double freq;         // 0: timing none, else periodic
    int seed;
    const char *state;   // the job's last state: pending, running, done, diverged, failed
    int epochs;          // epochs stored (0 with pending: never started)
    double v;            // trace variant
    int worker;
    const char *host;
    double sec;          // added to every epoch's seconds
    int crashes;         // crashed attempts before the last one
} jspec;

static void ok(int rc, const fpt_err *err) { cr_assert_eq(rc, 0, "%s", err->msg); }

static fpt_store *open_store(const char *path) {
    fpt_err err = {{0}};
    fpt_store *s = NULL;
    ok(fpt_store_open(&s, path, 1, NULL, &err), &err);
    return s;
}

static int64_t add_experiment(fpt_store *s, const char *name, const char *hash) {
    fpt_err err = {{0}};
    char spec[64];
    snprintf(spec, sizeof spec, "[experiment]\nname = %s # %s", name, hash);
    int64_t id;
    ok(fpt_store_experiment(s, name, spec, hash, "farm", &id, NULL, &err), &err);
    return id;
}

static void add_job(fpt_store *s, int64_t exp, const jspec *j) {
    fpt_err err = {{0}};
    int64_t id;
    ok(fpt_store_job(s, exp, j->protocol, j->freq == 0 ? "none" : "periodic", j->freq, j->seed,
                     &id, NULL, &err),
       &err);
    for (int c = 0; c < j->crashes; c++) {
        ok(fpt_store_job_start(s, id, j->worker, j->host, NULL, &err), &err);
        ok(fpt_store_job_crash(s, id, 100, NULL, &err), &err);
    }
    if (!strcmp(j->state, "pending") && j->epochs == 0) return;
    ok(fpt_store_job_start(s, id, j->worker, j->host, NULL, &err), &err);
    fpt_epoch_record recs[64];
    cr_assert_leq(j->epochs, 64);
    for (int e = 1; e <= j->epochs; e++) recs[e - 1] = trace(j->seed, e, j->v, j->sec);
    ok(fpt_store_add_epochs(s, id, recs, j->epochs, &err), &err);
    if (j->epochs > 0)
        ok(fpt_store_first_passage(s, id, TARGET, first_passage_of(j->seed, j->epochs, j->v),
                                   j->epochs, &err),
           &err);
    fpt_job_state final = !strcmp(j->state, "done")       ? FPT_JOB_DONE
                          : !strcmp(j->state, "diverged") ? FPT_JOB_DIVERGED
                          : !strcmp(j->state, "failed")   ? FPT_JOB_FAILED
                                                          : FPT_JOB_NSTATES;
    if (final != FPT_JOB_NSTATES) ok(fpt_store_job_finish(s, id, final, &err), &err);
    else if (!strcmp(j->state, "pending")) ok(fpt_store_job_release(s, id, &err), &err);
    else cr_assert_str_eq(j->state, "running");
}

// A database holding experiment `name` (spec hash `hash`) with jobs js[0..n).
static void make_db(const char *path, const char *name, const char *hash, const jspec *js,
                    int n) {
    fpt_store *s = open_store(path);
    int64_t exp = add_experiment(s, name, hash);
    for (int i = 0; i < n; i++) add_job(s, exp, &js[i]);
    fpt_store_close(s);
}

// ---- merging -------------------------------------------------------------------

typedef struct merged {
    int rc;
    fpt_err err;
    fpt_merge_summary *sum;
    int n;
} merged;

static merged merge_into(const char *out, const char *const *inputs, int n_inputs) {
    merged m = {0};
    fpt_store *s = open_store(out);
    m.rc = fpt_store_merge(s, inputs, n_inputs, &m.sum, &m.n, &m.err);
    fpt_store_close(s);
    return m;
}

static merged merge_ok(const char *out, const char *const *inputs, int n_inputs) {
    merged m = merge_into(out, inputs, n_inputs);
    cr_assert_eq(m.rc, 0, "merge into %s: %s", out, m.err.msg);
    return m;
}

static const fpt_merge_summary *summary_of(const merged *m, const char *name) {
    for (int k = 0; k < m->n; k++)
        if (!strcmp(m->sum[k].experiment, name)) return &m->sum[k];
    cr_assert_fail("no summary for experiment '%s'", name);
    return NULL;
}

// ---- reading the output independently -------------------------------------------

static sqlite3 *raw_open(const char *path) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK, "%s", path);
    return db;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    return st;
}

static void raw_exec(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = prep(db, sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

// The integer a one-row query returns (-999 for NULL), in the file `path`.
static long long int_in(const char *path, const char *sql) {
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = prep(db, sql);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    long long v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -999 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

typedef struct jobrow {
    char state[16], host[32];
    long long attempts, crashes, worker, epochs;
} jobrow;

#define JOB_WHERE                                                                              \
    "JOIN experiments e ON e.id = j.experiment_id WHERE e.name = ?1 AND j.protocol = ?2 "      \
    "AND j.frequency = ?3 AND j.seed = ?4"

static void bind_key(sqlite3_stmt *st, const char *exp, const char *protocol, double freq,
                     int seed) {
    sqlite3_bind_text(st, 1, exp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, protocol, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, freq);
    sqlite3_bind_int(st, 4, seed);
}

// The job of OUT with this key (which must exist exactly once).
static jobrow job_in(const char *path, const char *exp, const char *protocol, double freq,
                     int seed) {
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = prep(db, "SELECT j.state, j.host, j.attempts, j.crashes, j.worker, "
                                "(SELECT count(*) FROM epochs p WHERE p.job_id = j.id) "
                                "FROM jobs j " JOB_WHERE);
    bind_key(st, exp, protocol, freq, seed);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "no job %s %s %g seed %d in %s", exp, protocol,
                 freq, seed, path);
    jobrow r;
    snprintf(r.state, sizeof r.state, "%s", sqlite3_column_text(st, 0));
    const unsigned char *h = sqlite3_column_text(st, 1);
    snprintf(r.host, sizeof r.host, "%s", h ? (const char *)h : "(null)");
    r.attempts = sqlite3_column_int64(st, 2);
    r.crashes = sqlite3_column_int64(st, 3);
    r.worker = sqlite3_column_type(st, 4) == SQLITE_NULL ? -999 : sqlite3_column_int64(st, 4);
    r.epochs = sqlite3_column_int64(st, 5);
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "job %s seed %d twice", protocol, seed);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}

static void expect_job(const char *path, const jspec *j, const char *state, long long attempts,
                       long long crashes, const char *host, int worker) {
    jobrow r = job_in(path, "demo", j->protocol, j->freq, j->seed);
    cr_expect_str_eq(r.state, state, "%s seed %d", j->protocol, j->seed);
    cr_expect_eq(r.attempts, attempts, "%s seed %d attempts %lld", j->protocol, j->seed,
                 r.attempts);
    cr_expect_eq(r.crashes, crashes, "%s seed %d crashes %lld", j->protocol, j->seed, r.crashes);
    cr_expect_str_eq(r.host, host, "%s seed %d", j->protocol, j->seed);
    cr_expect_eq(r.worker, worker, "%s seed %d worker", j->protocol, j->seed);
}

// The job's trace in OUT is exactly j's (all columns) and so is its first
// passage.
static void expect_trace(const char *path, const char *exp, const jspec *j) {
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = prep(db, "SELECT p.epoch, p.train_loss, p.test_loss, p.test_acc, p.lr, "
                                "p.perturbed, p.seconds FROM epochs p "
                                "JOIN jobs j ON j.id = p.job_id " JOB_WHERE " ORDER BY p.epoch");
    bind_key(st, exp, j->protocol, j->freq, j->seed);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        fpt_epoch_record want = trace(j->seed, n, j->v, j->sec);
        cr_expect_eq(sqlite3_column_int(st, 0), n);
        cr_expect_eq(sqlite3_column_double(st, 1), want.train_loss, "seed %d epoch %d", j->seed, n);
        cr_expect_eq(sqlite3_column_double(st, 2), want.test_loss);
        cr_expect_eq(sqlite3_column_double(st, 3), want.test_acc, "seed %d epoch %d acc %.17g",
                     j->seed, n, sqlite3_column_double(st, 3));
        cr_expect_eq(sqlite3_column_double(st, 4), want.lr);
        cr_expect_eq(sqlite3_column_int(st, 5), want.perturbed);
        cr_expect_eq(sqlite3_column_double(st, 6), want.seconds, "seed %d epoch %d seconds",
                     j->seed, n);
    }
    sqlite3_finalize(st);
    cr_expect_eq(n, j->epochs, "%s seed %d: %d epochs, expected %d", j->protocol, j->seed, n,
                 j->epochs);
    st = prep(db, "SELECT f.target, f.epoch, f.censored_at FROM first_passages f "
                  "JOIN jobs j ON j.id = f.job_id " JOB_WHERE);
    bind_key(st, exp, j->protocol, j->freq, j->seed);
    if (j->epochs == 0) {
        cr_expect_eq(sqlite3_step(st), SQLITE_DONE, "seed %d: a first passage without epochs",
                     j->seed);
    } else {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "seed %d: no first passage", j->seed);
        int fp = first_passage_of(j->seed, j->epochs, j->v);
        cr_expect_eq(sqlite3_column_double(st, 0), TARGET);
        if (fp) {
            cr_expect_eq(sqlite3_column_int(st, 1), fp, "seed %d first passage", j->seed);
            cr_expect_eq(sqlite3_column_type(st, 2), SQLITE_NULL);
        } else {
            cr_expect_eq(sqlite3_column_type(st, 1), SQLITE_NULL);
            cr_expect_eq(sqlite3_column_int(st, 2), j->epochs, "seed %d censored", j->seed);
        }
        cr_expect_eq(sqlite3_step(st), SQLITE_DONE, "seed %d: two first passages", j->seed);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

// Everything a results database holds, by natural keys (no row ids), as
// text: experiments, jobs, epochs, first passages, and the fit tables' sizes.
static char *dump(const char *path) {
    static const char *const queries[] = {
        "SELECT name, spec_text, spec_hash, source, created_at FROM experiments ORDER BY name",
        "SELECT e.name, j.protocol, j.timing, j.frequency, j.seed, j.state, j.attempts, "
        "j.crashes, j.worker, j.host, j.started_at, j.finished_at FROM jobs j "
        "JOIN experiments e ON e.id = j.experiment_id ORDER BY 1, 2, 3, 4, 5",
        "SELECT e.name, j.protocol, j.timing, j.frequency, j.seed, p.epoch, p.train_loss, "
        "p.test_loss, p.test_acc, p.lr, p.perturbed, p.seconds FROM epochs p "
        "JOIN jobs j ON j.id = p.job_id JOIN experiments e ON e.id = j.experiment_id "
        "ORDER BY 1, 2, 3, 4, 5, 6",
        "SELECT e.name, j.protocol, j.timing, j.frequency, j.seed, f.target, f.epoch, "
        "f.censored_at FROM first_passages f JOIN jobs j ON j.id = f.job_id "
        "JOIN experiments e ON e.id = j.experiment_id ORDER BY 1, 2, 3, 4, 5, 6",
        "SELECT (SELECT count(*) FROM fits), (SELECT count(*) FROM fit_ks)",
    };
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    out[0] = '\0';
    sqlite3 *db = raw_open(path);
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        sqlite3_stmt *st = prep(db, queries[q]);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                char cell[256];
                switch (sqlite3_column_type(st, c)) {
                case SQLITE_NULL: snprintf(cell, sizeof cell, "NULL|"); break;
                case SQLITE_INTEGER:
                    snprintf(cell, sizeof cell, "%lld|", (long long)sqlite3_column_int64(st, c));
                    break;
                case SQLITE_FLOAT:   // exact: hexadecimal
                    snprintf(cell, sizeof cell, "%a|", sqlite3_column_double(st, c));
                    break;
                default: snprintf(cell, sizeof cell, "'%s'|", sqlite3_column_text(st, c));
                }
                size_t len = strlen(cell);
                if (n + len + 2 >= cap) {
                    cap *= 2;
                    out = realloc(out, cap);
                    cr_assert_not_null(out);
                }
                memcpy(out + n, cell, len + 1);
                n += len;
            }
            out[n++] = '\n';
            out[n] = '\0';
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

static void expect_same_dump(const char *a, const char *b) {
    char *x = dump(a), *y = dump(b);
    cr_expect_str_eq(x, y, "%s and %s differ", a, b);
    free(x);
    free(y);
}

// FNV-1a of a file's bytes (and its size), to prove it was not written.
static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    uint64_t h = 0xcbf29ce484222325ull;
    int c;
    long n = 0;
    while ((c = fgetc(f)) != EOF) {
        h = (h ^ (unsigned char)c) * 0x100000001b3ull;
        n++;
    }
    fclose(f);
    return h ^ (uint64_t)n;
}

static void expect_no_journal(const char *db) {
    char j[200];
    snprintf(j, sizeof j, "%s-journal", db);
    cr_expect_neq(access(j, F_OK), 0, "%s left behind", j);
}

static void expect_contains(const char *msg, const char *part) {
    cr_expect_not_null(strstr(msg, part), "message '%s' lacks '%s'", msg, part);
}

// An OUT with content: experiment demo (hash h1) with a done job and a
// pending one, experiment 'keep' with a done job.
static void make_existing_out(const char *path) {
    const jspec demo[] = {
        {"none", 0, 1, "done", 6, 0, 9, "o", 0, 0},
        {"none", 0, 9, "pending", 0, 0, 0, NULL, 0, 0},
    };
    make_db(path, "demo", "h1", demo, 2);
    fpt_store *s = open_store(path);
    int64_t keep = add_experiment(s, "keep", "hk");
    const jspec kj = {"reset", 5, 3, "done", 4, 0, 1, "k", 0, 0};
    add_job(s, keep, &kj);
    fpt_store_close(s);
}

// ---- tests ----------------------------------------------------------------------

Test(merge, two_disjoint_shards_make_the_union) {
    const jspec a[] = {
        {"none", 0, 1, "done", 6, 0, 1, "node-a", 0, 0},
        {"none", 0, 3, "done", 6, 0, 2, "node-a", 0, 0},
        {"shrink_perturb", 2, 1, "done", 6, 0.25, 1, "node-a", 0, 0},
    };
    const jspec b[] = {
        {"none", 0, 2, "done", 6, 0, 1, "node-b", 0.5, 0},
        {"shrink_perturb", 2, 2, "done", 3, 0.25, 2, "node-b", 0, 1},
        {"shrink_perturb", 2, 4, "pending", 0, 0, 0, NULL, 0, 0},
    };
    make_db(at("a.db"), "demo", "h1", a, 3);
    make_db(at("b.db"), "demo", "h1", b, 3);
    uint64_t ha = file_hash(at("a.db")), hb = file_hash(at("b.db"));
    const char *in[] = {at("a.db"), at("b.db")};
    merged m = merge_ok(at("out.db"), in, 2);

    cr_assert_eq(m.n, 1);
    const fpt_merge_summary *s = summary_of(&m, "demo");
    cr_expect_eq(s->inputs, 2);
    cr_expect_eq(s->jobs, 6);
    cr_expect_eq(s->by_state[FPT_JOB_DONE], 5);
    cr_expect_eq(s->by_state[FPT_JOB_PENDING], 1);
    cr_expect_eq(s->epochs, 6 + 6 + 6 + 6 + 3);
    cr_expect_eq(s->conflicts, 0);
    free(m.sum);

    const char *out = at("out.db");
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs"), 6);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM epochs"), 27);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM first_passages"), 5);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM experiments WHERE name = 'demo' AND "
                             "spec_hash = 'h1' AND source = 'farm' AND spec_text = "
                             "'[experiment]\nname = demo # h1'"),
                 1);
    for (int i = 0; i < 3; i++) {
        expect_trace(out, "demo", &a[i]);
        expect_trace(out, "demo", &b[i]);
        expect_job(out, &a[i], "done", 1, 0, "node-a", a[i].worker);
    }
    expect_job(out, &b[0], "done", 1, 0, "node-b", 1);
    expect_job(out, &b[1], "done", 2, 1, "node-b", 2);   // one crash, then done
    expect_job(out, &b[2], "pending", 0, 0, "(null)", -999);
    // The inputs were only read.
    cr_expect_eq(file_hash(at("a.db")), ha);
    cr_expect_eq(file_hash(at("b.db")), hb);
    expect_no_journal(out);
}

Test(merge, most_advanced_state_wins_with_its_whole_trace) {
    const jspec x_a = {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0};
    const jspec x_b = {"none", 0, 1, "running", 2, 0.5, 7, "b", 0, 1};   // killed array task
    const jspec y_a = {"none", 0, 2, "running", 3, 0.25, 2, "a", 0, 0};
    const jspec y_b = {"none", 0, 2, "pending", 0, 0, 0, NULL, 0, 0};
    const jspec z_a = {"none", 0, 3, "failed", 2, 0.125, 3, "a", 0, 2};
    const jspec z_b = {"none", 0, 3, "done", 6, 0.75, 3, "b", 0, 0};
    const jspec d_a = {"none", 0, 4, "diverged", 4, 0, 4, "a", 0, 0};
    const jspec d_b = {"none", 0, 4, "failed", 1, 0.5, 4, "b", 0, 0};
    const jspec w_b = {"none", 0, 5, "running", 2, 0, 5, "b", 0, 0};
    const jspec a[] = {x_a, y_a, z_a, d_a}, b[] = {x_b, y_b, z_b, d_b, w_b};
    make_db(at("a.db"), "demo", "h1", a, 4);
    make_db(at("b.db"), "demo", "h1", b, 5);
    const char *in[] = {at("a.db"), at("b.db")};
    merged m = merge_ok(at("out.db"), in, 2);
    const fpt_merge_summary *s = summary_of(&m, "demo");
    cr_expect_eq(s->jobs, 5);
    cr_expect_eq(s->by_state[FPT_JOB_DONE], 2);
    cr_expect_eq(s->by_state[FPT_JOB_DIVERGED], 1);
    cr_expect_eq(s->by_state[FPT_JOB_PENDING], 2);
    cr_expect_eq(s->by_state[FPT_JOB_RUNNING], 0);
    cr_expect_eq(s->conflicts, 0);
    cr_expect_eq(s->epochs, 6 + 3 + 6 + 4 + 2);
    free(m.sum);
    const char *out = at("out.db");
    // done beats running: A's 6 epochs only (none of B's 2), A's worker and
    // host; attempts 1 + 2 and crashes 0 + 1 summed.
    expect_job(out, &x_a, "done", 3, 1, "a", 1);
    expect_trace(out, "demo", &x_a);
    // running (3 epochs) against pending (never started): pending, with the
    // killed task's epochs, worker and host.
    expect_job(out, &y_a, "pending", 1, 0, "a", 2);
    expect_trace(out, "demo", &y_a);
    // done beats failed, whichever input comes first.
    expect_job(out, &z_b, "done", 3 + 1, 2, "b", 3);
    expect_trace(out, "demo", &z_b);
    // diverged beats failed.
    expect_job(out, &d_a, "diverged", 2, 0, "a", 4);
    expect_trace(out, "demo", &d_a);
    // running in its only input: pending.
    expect_job(out, &w_b, "pending", 1, 0, "b", 5);
    expect_trace(out, "demo", &w_b);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs WHERE state = 'running'"), 0);
}

Test(merge, different_finished_traces_are_a_conflict) {
    const jspec x_a = {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0};
    const jspec x_b = {"none", 0, 1, "done", 6, 0.5, 2, "b", 0, 0};   // the same seed, rerun
    const jspec q_a = {"none", 0, 2, "done", 5, 0, 1, "a", 0, 0};
    const jspec q_b = {"none", 0, 2, "diverged", 3, 0.25, 2, "b", 0, 0};
    const jspec same = {"reset", 4, 3, "done", 6, 0, 1, "a", 0, 0};
    const jspec a[] = {x_a, q_a, same}, b[] = {x_b, q_b, same};
    make_db(at("a.db"), "demo", "h1", a, 3);
    make_db(at("b.db"), "demo", "h1", b, 3);

    const char *ab[] = {at("a.db"), at("b.db")}, *ba[] = {at("b.db"), at("a.db")};
    merged m = merge_ok(at("ab.db"), ab, 2);
    cr_expect_eq(summary_of(&m, "demo")->conflicts, 2);
    free(m.sum);
    m = merge_ok(at("ba.db"), ba, 2);
    cr_expect_eq(summary_of(&m, "demo")->conflicts, 2);
    free(m.sum);
    // The first input in argument order keeps its run, trace and first passage.
    expect_job(at("ab.db"), &x_a, "done", 2, 0, "a", 1);
    expect_trace(at("ab.db"), "demo", &x_a);
    expect_job(at("ba.db"), &x_b, "done", 2, 0, "b", 2);
    expect_trace(at("ba.db"), "demo", &x_b);
    // done against diverged: done wins in either order, and it is counted.
    expect_job(at("ab.db"), &q_a, "done", 2, 0, "a", 1);
    expect_trace(at("ab.db"), "demo", &q_a);
    expect_job(at("ba.db"), &q_a, "done", 2, 0, "a", 1);
    expect_trace(at("ba.db"), "demo", &q_a);
    cr_expect_eq(int_in(at("ab.db"), "SELECT count(*) FROM epochs"), 6 + 5 + 6);
}

Test(merge, identical_duplicate_is_not_a_conflict) {
    // The same run stored twice, on hosts with other wall times.
    const jspec x_a = {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0};
    const jspec x_b = {"none", 0, 1, "done", 6, 0, 2, "b", 0.25, 0};
    make_db(at("a.db"), "demo", "h1", &x_a, 1);
    make_db(at("b.db"), "demo", "h1", &x_b, 1);
    const char *ab[] = {at("a.db"), at("b.db")}, *ba[] = {at("b.db"), at("a.db")};
    merged m = merge_ok(at("ab.db"), ab, 2);
    const fpt_merge_summary *s = summary_of(&m, "demo");
    cr_expect_eq(s->conflicts, 0);
    cr_expect_eq(s->jobs, 1);
    cr_expect_eq(s->epochs, 6);
    free(m.sum);
    // The run that finished first (a's) provides the row in either order.
    expect_job(at("ab.db"), &x_a, "done", 2, 0, "a", 1);
    expect_trace(at("ab.db"), "demo", &x_a);
    m = merge_ok(at("ba.db"), ba, 2);
    cr_expect_eq(summary_of(&m, "demo")->conflicts, 0);
    free(m.sum);
    expect_same_dump(at("ab.db"), at("ba.db"));
}

Test(merge, spec_mismatch_refused_out_unchanged) {
    const jspec ja = {"none", 0, 5, "done", 6, 0, 1, "a", 0, 0};
    const jspec jb = {"none", 0, 6, "done", 6, 0, 1, "b", 0, 0};
    make_existing_out(at("out.db"));
    make_db(at("a.db"), "demo", "h1", &ja, 1);   // would merge: it comes first
    make_db(at("b.db"), "demo", "h2", &jb, 1);
    uint64_t before = file_hash(at("out.db"));
    char *dump_before = dump(at("out.db"));

    const char *in[] = {at("a.db"), at("b.db")};
    merged m = merge_into(at("out.db"), in, 2);
    cr_assert_eq(m.rc, -1);
    char want[512];
    snprintf(want, sizeof want,
             "experiment 'demo': %s has a different spec (hash h2) than %s (hash h1); runs of "
             "different specs cannot be merged",
             at("b.db"), at("out.db"));
    cr_expect_str_eq(m.err.msg, want);
    cr_expect_null(m.sum);
    cr_expect_eq(file_hash(at("out.db")), before, "OUT was written");
    char *dump_after = dump(at("out.db"));
    cr_expect_str_eq(dump_after, dump_before);
    free(dump_before);
    free(dump_after);
    expect_no_journal(at("out.db"));

    // Between two inputs, into an OUT without the experiment: the message
    // names the input the spec came from.
    fpt_store_close(open_store(at("new.db")));
    before = file_hash(at("new.db"));
    m = merge_into(at("new.db"), in, 2);
    cr_assert_eq(m.rc, -1);
    snprintf(want, sizeof want,
             "experiment 'demo': %s has a different spec (hash h2) than %s (hash h1); runs of "
             "different specs cannot be merged",
             at("b.db"), at("a.db"));
    cr_expect_str_eq(m.err.msg, want);
    cr_expect_eq(file_hash(at("new.db")), before, "OUT was written");
    cr_expect_eq(int_in(at("new.db"), "SELECT count(*) FROM experiments"), 0);
}

Test(merge, bad_inputs_refused_out_unchanged) {
    const jspec ja = {"none", 0, 5, "done", 6, 0, 1, "a", 0, 0};
    make_existing_out(at("out.db"));
    make_db(at("a.db"), "demo", "h1", &ja, 1);
    FILE *f = fopen(at("text.db"), "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 100; i++) fputs("protocol,period,seed,epoch,test_acc\n", f);
    fclose(f);
    fclose(fopen(at("empty.db"), "w"));
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(at("other.db"), &db), SQLITE_OK);   // someone else's database
    raw_exec(db, "CREATE TABLE t (x)");
    sqlite3_close(db);
    // A newer fptfarm's database.
    make_db(at("newer.db"), "demo", "h1", &ja, 1);
    db = raw_open(at("newer.db"));
    raw_exec(db, "PRAGMA user_version = 7");
    sqlite3_close(db);

    struct { const char *file, *says; } bad[] = {
        {"text.db", "not an SQLite database"},
        {"empty.db", "not an fptfarm results database"},
        {"other.db", "not an fptfarm results database"},
        {"newer.db", "schema version 7, this fptfarm uses version 6"},
        {"missing.db", "cannot open"},
        {"out.db", "is the output database"},
        {"a.db", "the same file as input"},
    };
    uint64_t before = file_hash(at("out.db"));
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        uint64_t bad_before = access(at(bad[k].file), F_OK) == 0 ? file_hash(at(bad[k].file)) : 0;
        const char *in[] = {at("a.db"), at(bad[k].file)};
        merged m = merge_into(at("out.db"), in, 2);
        cr_expect_eq(m.rc, -1, "%s accepted", bad[k].file);
        char head[200];
        snprintf(head, sizeof head, "%s: ", at(bad[k].file));
        cr_expect_eq(strncmp(m.err.msg, head, strlen(head)), 0, "'%s' does not start with '%s'",
                     m.err.msg, head);
        expect_contains(m.err.msg, bad[k].says);
        cr_expect_eq(file_hash(at("out.db")), before, "OUT was written (%s)", bad[k].file);
        if (bad_before)
            cr_expect_eq(file_hash(at(bad[k].file)), bad_before, "%s was written", bad[k].file);
    }
    expect_no_journal(at("out.db"));
}

// The first_passages table of `path` made unreadable (its root page
// overwritten), everything else intact.
static void corrupt_first_passages(const char *path) {
    sqlite3 *db = raw_open(path);
    long long page = 0, size = 0;
    sqlite3_stmt *st = prep(db, "SELECT rootpage FROM sqlite_schema WHERE name = 'first_passages'");
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = prep(db, "PRAGMA page_size");
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    size = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    cr_assert_gt(page, 1);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)((page - 1) * size), SEEK_SET), 0);
    for (long long i = 0; i < size; i++) fputc(0xff, f);
    fclose(f);
}

Test(merge, corrupt_input_rolls_everything_back) {
    const jspec a[] = {
        {"none", 0, 5, "done", 6, 0, 1, "a", 0, 0},
        {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0},   // the same run as OUT's own
    };
    const jspec b[] = {{"none", 0, 7, "done", 6, 0, 1, "b", 0, 0}};
    make_existing_out(at("out.db"));
    make_db(at("a.db"), "demo", "h1", a, 2);
    make_db(at("b.db"), "demo", "h1", b, 1);
    corrupt_first_passages(at("b.db"));
    uint64_t before = file_hash(at("out.db"));
    char *dump_before = dump(at("out.db"));
    const char *in[] = {at("a.db"), at("b.db")};
    merged m = merge_into(at("out.db"), in, 2);
    cr_assert_eq(m.rc, -1);
    // The error comes while copying b's first passages: after a's jobs and
    // b's job and epochs were written in the transaction.
    expect_contains(m.err.msg, at("b.db"));
    expect_contains(m.err.msg, "reading first passages");
    expect_contains(m.err.msg, "malformed");
    cr_expect_eq(file_hash(at("out.db")), before, "OUT was written");
    char *dump_after = dump(at("out.db"));
    cr_expect_str_eq(dump_after, dump_before);
    free(dump_before);
    free(dump_after);
    expect_no_journal(at("out.db"));
}


Test(merge, older_schema_input_merges_and_is_not_modified) {
    test_make_v1_database(at("v1.db"));
    uint64_t before = file_hash(at("v1.db"));
    // A current database of the same experiment (spec hash 'h') with another job.
    fpt_store *s = open_store(at("v2.db"));
    fpt_err err = {{0}};
    int64_t exp;
    ok(fpt_store_experiment(s, "old", "spec", "h", "farm", &exp, NULL, &err), &err);
    const jspec j = {"none", 0, 8, "done", 6, 0, 1, "n", 0, 0};
    add_job(s, exp, &j);
    fpt_store_close(s);

    const char *in[] = {at("v1.db"), at("v2.db")};
    merged m = merge_ok(at("out.db"), in, 2);
    const fpt_merge_summary *sum = summary_of(&m, "old");
    cr_expect_eq(sum->inputs, 2);
    cr_expect_eq(sum->jobs, 2);
    cr_expect_eq(sum->by_state[FPT_JOB_DONE], 2);
    cr_expect_eq(sum->epochs, 2 + 6);
    free(m.sum);
    const char *out = at("out.db");
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs j JOIN epochs p ON p.job_id = j.id "
                             "WHERE j.seed = 7 AND p.epoch = 1 AND p.test_acc = 41.5 "
                             "AND p.train_loss IS NULL AND p.seconds IS NULL"),
                 1);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs j JOIN epochs p ON p.job_id = j.id "
                             "WHERE j.seed = 7 AND p.epoch = 2 AND p.test_acc = 60.25"),
                 1);
    cr_expect_eq(int_in(out, "SELECT f.epoch FROM first_passages f JOIN jobs j ON j.id = f.job_id "
                             "WHERE j.seed = 7 AND f.target = 50"),
                 2);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs WHERE seed = 7 AND state = 'done' "
                             "AND worker IS NULL AND attempts = 0"),
                 1);
    // Input not touched: still version 1, same bytes, no fit tables.
    cr_expect_eq(int_in(at("v1.db"), "PRAGMA user_version"), 1);
    cr_expect_eq(file_hash(at("v1.db")), before, "the version-1 input was written");
    cr_expect_eq(int_in(at("v1.db"), "SELECT count(*) FROM sqlite_schema WHERE name = 'fits'"), 0);
}

// Three inputs overlapping in every way but without conflicts.
static void make_overlapping_inputs(void) {
    const jspec a[] = {
        {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0},
        {"none", 0, 2, "running", 3, 0.25, 2, "a", 0, 0},
        {"shrink_perturb", 2, 1, "done", 6, 0, 1, "a", 0, 0},
        {"none", 0, 3, "failed", 2, 0, 3, "a", 0, 1},
        {"none", 0, 6, "running", 2, 0, 6, "a", 0, 0},
    };
    const jspec b[] = {
        {"none", 0, 1, "done", 6, 0, 5, "b", 0.5, 0},   // the same run as a's
        {"none", 0, 2, "pending", 0, 0, 0, NULL, 0, 0},
        {"shrink_perturb", 2, 1, "running", 2, 0, 2, "b", 0, 0},
        {"none", 0, 3, "failed", 3, 0.125, 3, "b", 0, 1},
        {"none", 0, 4, "done", 6, 0, 4, "b", 0, 0},
        {"none", 0, 6, "running", 2, 0.25, 6, "b", 0, 0},
    };
    const jspec c[] = {
        {"none", 0, 2, "done", 6, 0, 1, "c", 0, 2},
        {"none", 0, 5, "running", 1, 0, 5, "c", 0, 0},
        {"none", 0, 3, "diverged", 4, 0.375, 3, "c", 0, 0},
    };
    make_db(at("a.db"), "demo", "h1", a, 5);
    make_db(at("b.db"), "demo", "h1", b, 6);
    make_db(at("c.db"), "demo", "h1", c, 3);
    // c also holds a second experiment.
    fpt_store *s = open_store(at("c.db"));
    int64_t e = add_experiment(s, "other", "h9");
    const jspec o = {"reset", 3, 1, "done", 5, 0, 1, "c", 0, 0};
    add_job(s, e, &o);
    fpt_store_close(s);
}

Test(merge, merging_again_changes_nothing) {
    make_existing_out(at("out.db"));   // first: its seed-1 run finished before the inputs'
    make_overlapping_inputs();
    const jspec x_d = {"none", 0, 1, "done", 6, 0.5, 8, "d", 0, 0};   // a conflict
    make_db(at("d.db"), "demo", "h1", &x_d, 1);
    const char *in[] = {at("a.db"), at("b.db"), at("c.db"), at("d.db")};
    merged m1 = merge_ok(at("out.db"), in, 4);
    char *first = dump(at("out.db"));
    merged m2 = merge_ok(at("out.db"), in, 4);
    char *second = dump(at("out.db"));
    cr_expect_str_eq(second, first);
    cr_assert_eq(m1.n, 2);
    cr_assert_eq(m2.n, 2);
    for (int k = 0; k < 2; k++) {
        cr_expect_str_eq(m1.sum[k].experiment, m2.sum[k].experiment);
        cr_expect_eq(m1.sum[k].jobs, m2.sum[k].jobs);
        cr_expect_eq(m1.sum[k].epochs, m2.sum[k].epochs);
        cr_expect_eq(m1.sum[k].conflicts, m2.sum[k].conflicts);
    }
    cr_expect_str_eq(m1.sum[0].experiment, "demo");
    cr_expect_eq(m1.sum[0].conflicts, 1);   // seed 1: OUT's run against d's
    cr_expect_eq(m1.sum[0].inputs, 4);
    cr_expect_str_eq(m1.sum[1].experiment, "other");
    cr_expect_eq(m1.sum[1].inputs, 1);
    free(m1.sum);
    free(m2.sum);
    // OUT's own seed-1 run comes first in argument order and finished
    // first among the runs with its trace (a's, b's): it stays.
    const jspec x_out = {"none", 0, 1, "done", 6, 0, 9, "o", 0, 0};
    expect_trace(at("out.db"), "demo", &x_out);
    expect_job(at("out.db"), &x_out, "done", 3, 0, "o", 9);   // max(1, 1 + 1 + 1)
    // What no input holds is untouched.
    const jspec kept = {"none", 0, 9, "pending", 0, 0, 0, NULL, 0, 0};
    expect_job(at("out.db"), &kept, "pending", 0, 0, "(null)", -999);
    cr_expect_eq(int_in(at("out.db"), "SELECT count(*) FROM jobs j JOIN experiments e ON "
                                      "e.id = j.experiment_id WHERE e.name = 'keep'"),
                 1);
    free(first);
    free(second);
}

Test(merge, order_of_inputs_does_not_matter) {
    make_overlapping_inputs();
    const char *abc[] = {at("a.db"), at("b.db"), at("c.db")};
    const char *cba[] = {at("c.db"), at("b.db"), at("a.db")};
    const char *bac[] = {at("b.db"), at("a.db"), at("c.db")};
    merged m = merge_ok(at("abc.db"), abc, 3);
    cr_expect_eq(summary_of(&m, "demo")->conflicts, 0);
    free(m.sum);
    free(merge_ok(at("cba.db"), cba, 3).sum);
    free(merge_ok(at("bac.db"), bac, 3).sum);
    expect_same_dump(at("abc.db"), at("cba.db"));
    expect_same_dump(at("abc.db"), at("bac.db"));
    // One input at a time, in either order.
    for (int k = 0; k < 3; k++) {
        free(merge_ok(at("seq1.db"), &abc[k], 1).sum);
        free(merge_ok(at("seq2.db"), &cba[k], 1).sum);
    }
    expect_same_dump(at("seq1.db"), at("seq2.db"));

    // And the merged values, computed from the rules.
    const char *out = at("abc.db");
    const jspec x = {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0};   // a finished first
    expect_job(out, &x, "done", 2, 0, "a", 1);
    expect_trace(out, "demo", &x);
    const jspec y = {"none", 0, 2, "done", 6, 0, 1, "c", 0, 2};
    expect_job(out, &y, "done", 1 + 0 + 3, 2, "c", 1);
    expect_trace(out, "demo", &y);
    const jspec sp = {"shrink_perturb", 2, 1, "done", 6, 0, 1, "a", 0, 0};
    expect_job(out, &sp, "done", 2, 0, "a", 1);
    expect_trace(out, "demo", &sp);
    const jspec z = {"none", 0, 3, "diverged", 4, 0.375, 3, "c", 0, 0};
    expect_job(out, &z, "diverged", 2 + 2 + 1, 2, "c", 3);
    expect_trace(out, "demo", &z);
    const jspec w = {"none", 0, 5, "pending", 1, 0, 5, "c", 0, 0};
    expect_job(out, &w, "pending", 1, 0, "c", 5);
    expect_trace(out, "demo", &w);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs"), 8);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM jobs WHERE state = 'running'"), 0);
}

Test(merge, stale_fits_of_the_experiment_deleted) {
    make_existing_out(at("out.db"));
    sqlite3 *db = raw_open(at("out.db"));
    raw_exec(db, "PRAGMA foreign_keys = ON");
    raw_exec(db, "INSERT INTO fits (experiment_id, target, horizon, level, survival_ci, bootstrap, "
                 "seed, alpha, unfinished_runs) SELECT id, 50, 6, 0.95, 'log-log', 0, 1, 0.05, 0 "
                 "FROM experiments");   // demo and keep
    raw_exec(db, "INSERT INTO fit_ks (fit_id, epoch, statistic, p_value) "
                 "SELECT id, 3, 0.5, 0.1 FROM fits");
    sqlite3_close(db);
    const jspec j = {"none", 0, 5, "done", 6, 0, 1, "a", 0, 0};
    make_db(at("a.db"), "demo", "h1", &j, 1);
    const char *in[] = {at("a.db")};
    merged m = merge_ok(at("out.db"), in, 1);
    cr_expect_eq(summary_of(&m, "demo")->fits_deleted, 1);
    free(m.sum);
    const char *out = at("out.db");
    cr_expect_eq(int_in(out, "SELECT count(*) FROM fits f JOIN experiments e ON "
                             "e.id = f.experiment_id WHERE e.name = 'demo'"),
                 0);
    // keep's fit stays, with its rows; demo's fit_ks rows went with its fit.
    cr_expect_eq(int_in(out, "SELECT count(*) FROM fits f JOIN experiments e ON "
                             "e.id = f.experiment_id WHERE e.name = 'keep'"),
                 1);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM fit_ks"), 1);
    cr_expect_eq(int_in(out, "SELECT count(*) FROM fit_ks k JOIN fits f ON f.id = k.fit_id "
                             "JOIN experiments e ON e.id = f.experiment_id WHERE e.name = 'keep'"),
                 1);
}

// ---- the command -----------------------------------------------------------------

// Runs `$FPTFARM args`, stdout and stderr into files; the exit status.
static int run_fptfarm(const char *args, char *out, size_t out_cap, char *err, size_t err_cap) {
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s > %s 2> %s", bin, args, at("stdout.txt"), at("stderr.txt"));
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    const char *files[2] = {at("stdout.txt"), at("stderr.txt")};
    char *bufs[2] = {out, err};
    size_t caps[2] = {out_cap, err_cap};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(files[k], "r");
        cr_assert_not_null(f);
        bufs[k][fread(bufs[k], 1, caps[k] - 1, f)] = '\0';
        fclose(f);
    }
    return WEXITSTATUS(st);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(merge, command_prints_summary_and_exit_codes) {
    const jspec a[] = {
        {"none", 0, 1, "done", 6, 0, 1, "a", 0, 0},
        {"none", 0, 2, "done", 6, 0, 1, "a", 0, 0},
        {"none", 0, 3, "running", 2, 0, 1, "a", 0, 0},
    };
    const jspec b[] = {
        {"none", 0, 3, "done", 6, 0, 1, "b", 0, 0},
        {"none", 0, 4, "done", 6, 0, 1, "b", 0, 0},
        {"none", 0, 5, "pending", 0, 0, 0, NULL, 0, 0},
    };
    make_db(at("a.db"), "demo", "h1", a, 3);
    make_db(at("b.db"), "demo", "h1", b, 3);
    make_db(at("bad.db"), "demo", "h2", b, 1);
    char out[4096], err[4096], args[1024], want[1024];

    snprintf(args, sizeof args, "merge %s %s %s", at("out.db"), at("a.db"), at("b.db"));
    cr_expect_eq(run_fptfarm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    snprintf(want, sizeof want,
             "merge: demo: 2 inputs, 5 jobs (4 done, 1 pending), 24 epochs; 0 conflicts; refit "
             "with: fptfarm fit %s\n",
             at("out.db"));
    cr_expect_str_eq(out, want);
    cr_expect_str_eq(err, "");

    // A failed merge into a new file: one line, exit 1, no file left behind.
    snprintf(args, sizeof args, "merge %s %s %s", at("new.db"), at("a.db"), at("bad.db"));
    cr_expect_eq(run_fptfarm(args, out, sizeof out, err, sizeof err), 1);
    cr_expect_str_eq(out, "");
    cr_expect_eq(count_lines(err), 1, "%s", err);
    cr_expect_eq(strncmp(err, "fptfarm: merge: experiment 'demo': ", 35), 0, "%s", err);
    expect_contains(err, at("bad.db"));
    cr_expect_neq(access(at("new.db"), F_OK), 0, "a failed merge created its output");
    // Into the existing one: unchanged.
    uint64_t before = file_hash(at("out.db"));
    snprintf(args, sizeof args, "merge %s %s", at("out.db"), at("bad.db"));
    cr_expect_eq(run_fptfarm(args, out, sizeof out, err, sizeof err), 1);
    cr_expect_eq(count_lines(err), 1, "%s", err);
    cr_expect_eq(file_hash(at("out.db")), before);
    // A missing input.
    snprintf(args, sizeof args, "merge %s %s", at("out.db"), at("nope.db"));
    cr_expect_eq(run_fptfarm(args, out, sizeof out, err, sizeof err), 1);
    snprintf(want, sizeof want, "fptfarm: merge: %s: cannot open: No such file or directory\n",
             at("nope.db"));
    cr_expect_str_eq(err, want);

    // Bad usage: exit 2, one line.
    const char *usage[] = {"merge", "merge x.db", "merge --force x.db y.db"};
    for (size_t k = 0; k < sizeof usage / sizeof *usage; k++) {
        cr_expect_eq(run_fptfarm(usage[k], out, sizeof out, err, sizeof err), 2, "%s", usage[k]);
        cr_expect_eq(count_lines(err), 1, "%s: %s", usage[k], err);
        cr_expect_eq(strncmp(err, "fptfarm: merge: ", 16), 0, "%s", err);
        expect_contains(err, "usage: fptfarm merge OUT.db IN.db [IN.db ...]");
    }
    cr_expect_eq(run_fptfarm("merge --help", out, sizeof out, err, sizeof err), 0);
    expect_contains(out, "usage: fptfarm merge OUT.db IN.db [IN.db ...]");

    // Several experiments in OUT: the refit line names the experiment.
    fpt_store *s = open_store(at("out.db"));
    add_experiment(s, "zzz", "hz");
    fpt_store_close(s);
    snprintf(args, sizeof args, "merge %s %s", at("out.db"), at("a.db"));
    cr_expect_eq(run_fptfarm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    snprintf(want, sizeof want,
             "merge: demo: 1 input, 5 jobs (4 done, 1 pending), 24 epochs; 0 conflicts; refit "
             "with: fptfarm fit %s --experiment demo\n",
             at("out.db"));
    cr_expect_str_eq(out, want);
}

// ---- foreign keys ----------------------------------------------------------------

// Every statement fptfarm runs while a test watches, and those that ran on a
// connection with foreign keys off (PRAGMAs aside: they are how a connection
// is set up).  The state is read from SQLite itself, per statement, through
// a trace installed on every connection opened meanwhile.
static int g_statements, g_fk_off;
static char g_fk_off_sql[160];

static int trace_statement(unsigned type, void *ctx, void *p, void *x) {
    (void)ctx, (void)x;
    if (type != SQLITE_TRACE_STMT) return 0;
    sqlite3_stmt *st = p;
    const char *sql = sqlite3_sql(st);
    if (!sql || !strncmp(sql, "PRAGMA", 6)) return 0;
    int on = -1;
    sqlite3_db_config(sqlite3_db_handle(st), SQLITE_DBCONFIG_ENABLE_FKEY, -1, &on);
    g_statements++;
    if (on != 1 && g_fk_off++ == 0) snprintf(g_fk_off_sql, sizeof g_fk_off_sql, "%s", sql);
    return 0;
}

static int trace_connection(sqlite3 *db, char **errmsg, const struct sqlite3_api_routines *api) {
    (void)errmsg, (void)api;
    return sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_statement, NULL);
}

// A merge reads its inputs on connections of its own: they run with
// foreign keys on too, like every connection fptfarm opens (and so does
// OUT's, the store's).
Test(merge, every_connection_runs_with_foreign_keys_on) {
    // void (*)(void) is the generic function pointer SQLite's API takes.
    cr_assert_eq(sqlite3_auto_extension((void (*)(void))trace_connection), SQLITE_OK);
    make_overlapping_inputs();
    const char *in[] = {at("a.db"), at("b.db"), at("c.db")};
    merged m = merge_ok(at("out.db"), in, 3);
    free(m.sum);
    sqlite3_reset_auto_extension();
    cr_assert_gt(g_statements, 100, "the trace saw %d statements", g_statements);
    cr_expect_eq(g_fk_off, 0, "%d of %d statements ran with foreign keys off, the first: %s",
                 g_fk_off, g_statements, g_fk_off_sql);
}
