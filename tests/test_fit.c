// test_fit.c — the analysis end to end (common/analysis/fit.c, store_fit.c):
//
//   * a synthetic first-passage process whose mean FPT under every protocol
//     is known in closed form (below), fitted from sampled runs;
//   * the study's published CIFAR-10 traces (tests/data), against facts
//     computed independently in plain Python (tests/data/README.md);
//   * what the fit says when data are missing, diverged runs kept apart,
//     bootstrap reproducibility, and the round trip through the database.
//
// The synthetic law.  Unperturbed T (epochs) is a mixture of two geometric
// laws: with probability W hazard H1 per epoch, else H2, so
//     S(t) = W q1^t + (1 - W) q2^t,            q = 1 - h,
//     E[min(T, tau)] = W (1 - q1^tau)/H1 + (1 - W)(1 - q2^tau)/H2,
//     E[T] = W/H1 + (1-W)/H2,   E[T^2] = W (2-H1)/H1^2 + (1-W)(2-H2)/H2^2.
// A "shrink_perturb" perturbation puts the run in a state whose remaining
// time is geometric with hazard HP whenever it comes (memoryless, so later
// perturbations change nothing): T_tau = T if T <= tau, else tau + G_HP, and
//     <T_tau> = E[min(T, tau)] + S(tau) / HP             exactly,
// which is the QSS model with <T_p> = 1/HP (and the renewal form equals it).
// A "reset" restarts T afresh every tau epochs: <T_tau> = E[min(T,tau)] / (1 - S(tau)).
// With geometric timing (probability p per epoch) the linear response is
//     <T_r> = E[T] + r (E[T]/HP - E[T^2]/2) + O(r^2).
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/fit.h"
#include "store/import_csv.h"
#include "base/rng.h"
#include "analysis/runs.h"
#include "store/store.h"
#include "study_data.h"
#include "tmpdir.h"

// ---- fixture -----------------------------------------------------------------

static char g_dir[64];
static char g_db[128];

static void make_dir(void) {
    tmpdir_make(g_dir, sizeof g_dir, "fit");
    snprintf(g_db, sizeof g_db, "%s/results.db", g_dir);
}

static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(fit, .init = make_dir, .fini = remove_dir);

// ---- synthetic runs ------------------------------------------------------------

#define HORIZON 200
#define W 0.6
#define H1 0.15
#define H2 0.01
#define HP 0.25
#define TARGET 72.0

static double S_exact(int t) { return W * pow(1 - H1, t) + (1 - W) * pow(1 - H2, t); }
static double em_exact(int tau) {
    return W * (1 - pow(1 - H1, tau)) / H1 + (1 - W) * (1 - pow(1 - H2, tau)) / H2;
}
static double qss_exact(int tau) { return em_exact(tau) + S_exact(tau) / HP; }
static double restart_exact(int tau) { return em_exact(tau) / (1 - S_exact(tau)); }
static const double MEAN_T = W / H1 + (1 - W) / H2;
static double mean_t2(void) {
    return W * (2 - H1) / (H1 * H1) + (1 - W) * (2 - H2) / (H2 * H2);
}

typedef struct synth {
    fpt_runs r;
    int cap;
    size_t used;
    fpt_rng rng;
} synth;

// Geometric on {1, 2, ...} with hazard h, by inversion.
static int geometric(fpt_rng *g, double h) {
    double u = 1.0 - fpt_rng_uniform(g);   // (0, 1]
    int k = (int)ceil(log(u) / log1p(-h));
    return k < 1 ? 1 : k;
}

static int draw_t(synth *s) { return geometric(&s->rng, fpt_rng_uniform(&s->rng) < W ? H1 : H2); }

// A run that first reaches the target at `fpt` (0: never within n epochs):
// accuracy 50% before, 80% from then on.
static void add_run(synth *s, const char *protocol, const char *timing, double freq, int fpt,
                    int n, int first_perturbed, int diverged) {
    if (s->r.n_runs == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->r.runs = realloc(s->r.runs, (size_t)s->cap * sizeof *s->r.runs);
        s->r.acc_pool = realloc(s->r.acc_pool, (size_t)s->cap * HORIZON * sizeof *s->r.acc_pool);
        cr_assert(s->r.runs && s->r.acc_pool);
    }
    fpt_run_trace *r = &s->r.runs[s->r.n_runs++];
    memset(r, 0, sizeof *r);
    snprintf(r->protocol, sizeof r->protocol, "%s", protocol);
    snprintf(r->timing, sizeof r->timing, "%s", timing);
    r->frequency = freq;
    r->seed = s->r.n_runs;
    r->n_epochs = n;
    r->first_perturbed = first_perturbed;
    r->diverged = diverged;
    for (int e = 1; e <= n; e++)
        s->r.acc_pool[s->used + (size_t)e - 1] = (fpt > 0 && e >= fpt) ? 80.0 : 50.0;
    r->acc = NULL;
    s->used += HORIZON;
}

// Points every run at its trace (the pool may have moved while growing).
static void finish(synth *s) {
    for (int i = 0; i < s->r.n_runs; i++) s->r.runs[i].acc = s->r.acc_pool + (size_t)i * HORIZON;
    snprintf(s->r.experiment, sizeof s->r.experiment, "synthetic");
}

static int capped(int t) { return t <= HORIZON ? t : 0; }

static void add_baseline(synth *s, int n) {
    for (int i = 0; i < n; i++) add_run(s, "none", "none", 0, capped(draw_t(s)), HORIZON, 0, 0);
}

// Periodic shrink_perturb at tau: T if T <= tau, else tau + G_HP.
static void add_shrink(synth *s, int tau, int n) {
    for (int i = 0; i < n; i++) {
        int t = draw_t(s);
        if (t > tau) t = tau + geometric(&s->rng, HP);
        add_run(s, "shrink_perturb", "periodic", tau, capped(t), HORIZON, tau, 0);
    }
}

// Periodic reset at tau: a fresh T every tau epochs.
static void add_reset(synth *s, int tau, int n) {
    for (int i = 0; i < n; i++) {
        int start = 0, t;
        while ((t = draw_t(s)) > tau && start < 10 * HORIZON) start += tau;
        add_run(s, "reset", "periodic", tau, capped(start + t), HORIZON, tau, 0);
    }
}

// Geometric shrink_perturb with probability p after each epoch.
static void add_shrink_geometric(synth *s, double p, int n) {
    for (int i = 0; i < n; i++) {
        int t = draw_t(s), g = geometric(&s->rng, p);
        if (t > g) t = g + geometric(&s->rng, HP);
        add_run(s, "shrink_perturb", "geometric", p, capped(t), HORIZON, g <= HORIZON ? g : 0, 0);
    }
}

static void synth_free(synth *s) { fpt_runs_free(&s->r); }

static const fpt_fit_prediction *prediction(const fpt_fit *f, const char *protocol,
                                            const char *timing, double freq, fpt_model m) {
    const fpt_fit_prediction *x = fpt_fit_prediction_of(f, protocol, timing, freq, m);
    cr_assert_not_null(x, "no %s prediction for %s %s %g", fpt_model_name(m), protocol, timing,
                       freq);
    return x;
}

static const fpt_fit_condition *condition(const fpt_fit *f, const char *protocol,
                                          const char *timing, double freq) {
    const fpt_fit_condition *c = fpt_fit_condition_of(f, protocol, timing, freq);
    cr_assert_not_null(c, "no condition %s %s %g", protocol, timing, freq);
    return c;
}

// |got - want| within k bootstrap standard errors (half-width of the 95%
// interval / 1.96), the interval being the fit's own for `got`.
static void expect_close(double got, double lo, double hi, double want, double k,
                         const char *what) {
    cr_assert(isfinite(lo) && isfinite(hi) && lo <= got && got <= hi, "%s: %g not in [%g, %g]",
              what, got, lo, hi);
    double se = (hi - lo) / (2 * 1.96);
    cr_expect(fabs(got - want) <= k * se, "%s: %.4f, closed form %.4f (se %.3f)", what, got, want,
              se);
}

static fpt_fit_options options(double reference) {
    fpt_fit_options o = fpt_fit_options_default;
    o.target = TARGET;
    o.reference = reference;
    o.bootstrap = 400;
    o.seed = 7;
    return o;
}

Test(fit, synthetic_law_closed_forms, .timeout = 60) {
    synth s = {0};
    fpt_rng_init(&s.rng, 2025, FPT_RNG_TEST, 1);
    add_baseline(&s, 3000);
    add_shrink(&s, 5, 800);
    add_shrink(&s, 20, 800);
    add_shrink(&s, 50, 800);
    add_reset(&s, 20, 800);
    add_reset(&s, 50, 800);
    add_shrink_geometric(&s, 0.02, 1500);
    finish(&s);
    fpt_fit_options o = options(20);
    o.reference_p = 0.02;
    fpt_fit f;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.horizon, HORIZON);

    // The baseline: KM against S(t), restricted mean, extrapolated mean.
    const fpt_fit_condition *b = condition(&f, "none", "none", 0);
    cr_expect_eq(b->runs, 3000);
    for (int t = 0; t <= HORIZON; t += 10) {
        const fpt_curve_point *p = &b->curve[t];
        cr_expect(p->lo <= S_exact(t) + 0.01 && S_exact(t) - 0.01 <= p->hi,
                  "S(%d) = %.4f, band [%.4f, %.4f], exact %.4f", t, p->s, p->lo, p->hi,
                  S_exact(t));
    }
    expect_close(b->rm, b->rm_lo, b->rm_hi, em_exact(HORIZON), 3.5, "baseline E[min(T,200)]");
    // Past epoch 100 the fast component is gone (0.85^100 ~ 1e-7): a clean
    // geometric tail of hazard H2, so k = -ln(1 - H2) and E[T] is recovered.
    cr_expect(fabs(b->tail_rate + log1p(-H2)) < 4 * b->tail_rate_se,
              "tail k %.5f +- %.5f, exact %.5f", b->tail_rate, b->tail_rate_se, -log1p(-H2));
    cr_expect(fabs(b->extrap_mean - MEAN_T) / MEAN_T < 0.08, "extrapolated mean %.2f, exact %.2f",
              b->extrap_mean, MEAN_T);

    // <T_p> = 1/HP from the runs at the reference period.
    const fpt_fit_protocol *P = NULL;
    for (int p = 0; p < f.n_protocols; p++)
        if (!strcmp(f.protocols[p].protocol, "shrink_perturb") &&
            !strcmp(f.protocols[p].timing, "periodic"))
            P = &f.protocols[p];
    cr_assert_not_null(P);
    cr_expect_eq(P->reference, 20);
    expect_close(P->tp_mean, P->tp_lo, P->tp_hi, 1 / HP, 3.5, "<T_p>");

    // QSS and renewal predictions at every period against the closed form,
    // and the measured means where runs exist.
    for (int tau = 1; tau <= 120; tau++) {
        const fpt_fit_prediction *q =
            prediction(&f, "shrink_perturb", "periodic", tau, FPT_MODEL_QSS);
        char what[64];
        snprintf(what, sizeof what, "QSS prediction at tau %d", tau);
        expect_close(q->predicted, q->lo, q->hi, qss_exact(tau), 3.5, what);
        const fpt_fit_prediction *r =
            prediction(&f, "shrink_perturb", "periodic", tau, FPT_MODEL_RENEWAL);
        cr_expect(fabs(r->predicted - qss_exact(tau)) / qss_exact(tau) < 0.05,
                  "renewal at tau %d: %.3f, exact %.3f", tau, r->predicted, qss_exact(tau));
        const fpt_fit_prediction *z = prediction(&f, "reset", "periodic", tau, FPT_MODEL_RESTART);
        snprintf(what, sizeof what, "restart prediction at tau %d", tau);
        expect_close(z->predicted, z->lo, z->hi, restart_exact(tau), 3.5, what);
    }
    static const int measured[] = {5, 20, 50};
    for (int i = 0; i < 3; i++) {
        const fpt_fit_prediction *q =
            prediction(&f, "shrink_perturb", "periodic", measured[i], FPT_MODEL_QSS);
        cr_assert(q->has_measured, "tau %d has runs", measured[i]);
        expect_close(q->measured, q->measured_lo, q->measured_hi, qss_exact(measured[i]), 3.5,
                     "measured shrink_perturb");
        cr_expect(fabs(q->rel_error - (q->predicted - q->measured) / q->measured) < 1e-12);
    }
    for (int tau = 20; tau <= 50; tau += 30) {
        const fpt_fit_prediction *z = prediction(&f, "reset", "periodic", tau, FPT_MODEL_RESTART);
        cr_assert(z->has_measured);
        expect_close(z->measured, z->measured_lo, z->measured_hi, restart_exact(tau), 3.5,
                     "measured reset");
    }

    // Geometric timing: the linear response's first-order coefficient.
    cr_expect(fabs(f.mean_t - MEAN_T) / MEAN_T < 0.08, "<T> %.3f, exact %.3f", f.mean_t, MEAN_T);
    cr_expect(fabs(f.mean_t2 - mean_t2()) / mean_t2() < 0.15, "<T^2> %.1f, exact %.1f", f.mean_t2,
              mean_t2());
    // The smallest p on the prediction grid: the first-order term dominates.
    const fpt_fit_prediction *lin = NULL;
    for (int i = 0; i < f.n_predictions; i++)
        if (f.predictions[i].model == FPT_MODEL_LINEAR &&
            (!lin || f.predictions[i].frequency < lin->frequency))
            lin = &f.predictions[i];
    cr_assert_not_null(lin, "no linear-response prediction");
    cr_assert_lt(lin->frequency, 0.001);
    double coef = (lin->predicted - f.mean_t) / -log1p(-lin->frequency);
    double coef_exact = MEAN_T / HP - mean_t2() / 2;
    cr_expect(fabs(coef - coef_exact) / fabs(coef_exact) < 0.2,
              "linear response d<T>/dr = %.1f, closed form %.1f", coef, coef_exact);
    fpt_fit_free(&f);
    synth_free(&s);
}

// ---- missing data ---------------------------------------------------------------

Test(fit, no_baseline_explains) {
    synth s = {0};
    fpt_rng_init(&s.rng, 1, FPT_RNG_TEST, 2);
    add_shrink(&s, 20, 50);
    finish(&s);
    fpt_fit_options o = options(0);
    fpt_fit f;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), -1);
    cr_expect(strstr(err.msg, "no unperturbed runs (protocol none)") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "[none]") != NULL, "%s", err.msg);
    synth_free(&s);
}

Test(fit, too_few_runs_explains) {
    synth s = {0};
    fpt_rng_init(&s.rng, 1, FPT_RNG_TEST, 3);
    add_baseline(&s, 3);
    add_run(&s, "none", "none", 0, 0, 40, 0, 1);   // diverged: not counted as a run
    add_shrink(&s, 20, 50);
    finish(&s);
    fpt_fit_options o = options(0);
    fpt_fit f;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), -1);
    cr_expect(strstr(err.msg, "only 3 finished unperturbed runs (1 diverged)") != NULL, "%s",
              err.msg);
    cr_expect(strstr(err.msg, "at least 10 (--min-runs)") != NULL, "%s", err.msg);
    synth_free(&s);
}

Test(fit, missing_reference_period_explains_and_predicts_nothing) {
    synth s = {0};
    fpt_rng_init(&s.rng, 1, FPT_RNG_TEST, 4);
    add_baseline(&s, 200);
    add_shrink(&s, 5, 40);
    add_shrink(&s, 20, 40);
    finish(&s);
    fpt_fit_options o = options(30);   // no runs at 30
    fpt_fit f;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.n_protocols, 1);
    cr_expect(f.protocols[0].reference == 0);
    cr_expect(strstr(f.protocols[0].why, "no runs at the reference period 30") != NULL, "%s",
              f.protocols[0].why);
    cr_expect(strstr(f.protocols[0].why, "5 (40 runs), 20 (40 runs)") != NULL, "%s",
              f.protocols[0].why);
    for (int i = 0; i < f.n_predictions; i++)
        cr_expect(strcmp(f.predictions[i].protocol, "shrink_perturb") != 0,
                  "a prediction without a reference");
    // The report says so instead of printing predictions.
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    fpt_fit_report(&f, m);
    fclose(m);
    cr_expect(strstr(text, "Response model, shrink_perturb (periodic): not fitted: no runs at the "
                           "reference period 30") != NULL,
              "%s", text);
    cr_expect(strstr(text, "QSS prediction") == NULL, "%s", text);
    free(text);
    fpt_fit_free(&f);
    synth_free(&s);
}

// ---- diverged runs, reproducibility ---------------------------------------------

Test(fit, diverged_runs_kept_apart) {
    synth s = {0};
    fpt_rng_init(&s.rng, 1, FPT_RNG_TEST, 5);
    add_baseline(&s, 100);
    add_run(&s, "none", "none", 0, 0, 30, 0, 1);     // diverged before reaching: apart
    add_run(&s, "none", "none", 0, 0, 12, 0, 1);
    add_run(&s, "none", "none", 0, 7, 30, 0, 1);     // reached at 7, then diverged: a passage
    finish(&s);
    fpt_fit_options o = options(0);
    fpt_fit f;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), 0, "%s", err.msg);
    const fpt_fit_condition *b = condition(&f, "none", "none", 0);
    cr_expect_eq(b->diverged, 2);
    cr_expect_eq(b->runs, 101);
    // The KM at risk count: diverged runs are not in it, the passage at 7 is.
    cr_expect_eq(b->curve[0].at_risk, 101);
    fpt_fit_free(&f);
    synth_free(&s);
}

Test(fit, bootstrap_is_seeded_and_thread_count_free, .timeout = 60) {
    synth s = {0};
    fpt_rng_init(&s.rng, 3, FPT_RNG_TEST, 6);
    add_baseline(&s, 500);
    add_shrink(&s, 20, 200);
    finish(&s);
    fpt_fit_options o = options(20);
    fpt_fit a, b, c;
    fpt_err err = {{0}};
    omp_set_num_threads(1);
    cr_assert_eq(fpt_fit_run(&s.r, &o, &a, &err), 0, "%s", err.msg);
    omp_set_num_threads(2);
    cr_assert_eq(fpt_fit_run(&s.r, &o, &b, &err), 0, "%s", err.msg);
    o.seed = 8;
    cr_assert_eq(fpt_fit_run(&s.r, &o, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n_predictions, b.n_predictions);
    int differ = 0;
    for (int i = 0; i < a.n_predictions; i++) {
        cr_expect(a.predictions[i].lo == b.predictions[i].lo &&
                      a.predictions[i].hi == b.predictions[i].hi,
                  "prediction %d: 1 thread [%g, %g], 2 threads [%g, %g]", i,
                  a.predictions[i].lo, a.predictions[i].hi, b.predictions[i].lo,
                  b.predictions[i].hi);
        differ += a.predictions[i].lo != c.predictions[i].lo;
    }
    cr_expect(differ > 0, "another seed gave the same intervals");
    fpt_fit_free(&a);
    fpt_fit_free(&b);
    fpt_fit_free(&c);
    synth_free(&s);
}

// ---- the database round trip -------------------------------------------------------

static long long count_in(const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static double real_in(const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void near(double got, double want, double tol, const char *what) {
    cr_expect(fabs(got - want) <= tol, "%s: %.4f, expected %.4f +- %g", what, got, want, tol);
}

// The facts of tests/data/README.md, through the library and the database.
Test(fit, study_traces_reproduce_the_published_facts, .timeout = 120) {
    char csv[160];
    study_csv(g_dir, csv, sizeof csv);
    fpt_store *s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), 0, "%s", err.msg);
    const double t72 = 72;
    cr_assert_eq(fpt_import_csv(s, csv, "meir2025", &t72, 1, &err), 0, "%s", err.msg);
    fpt_runs runs;
    cr_assert_eq(fpt_store_load_runs(s, NULL, &runs, &err), 0, "%s", err.msg);
    cr_assert_eq(runs.n_runs, 2992);
    cr_assert_eq(runs.n_targets, 1);
    fpt_fit_options o = fpt_fit_options_default;
    o.target = 72;
    o.reference = 20;
    fpt_fit f;
    cr_assert_eq(fpt_fit_run(&runs, &o, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_save_fit(s, &f, &err), 0, "%s", err.msg);
    fpt_store_close(s);

    const fpt_fit_condition *b = condition(&f, "none", "none", 0);
    cr_expect_eq(b->runs, 1000);
    cr_expect_eq(b->censored, 293);
    near(b->rm, 76.963, 0.001, "baseline restricted mean to 200");
    cr_expect(f.t_rel >= 13 && f.t_rel <= 17, "t_rel %d (mid-teens expected)", f.t_rel);
    near(f.protocols[0].tp_mean, 4.0992, 0.0005, "<T_p> at tau0 = 20");
    near(prediction(&f, "shrink_perturb", "periodic", 15, FPT_MODEL_QSS)->predicted, 16.61, 0.005,
         "QSS at 15");
    near(prediction(&f, "shrink_perturb", "periodic", 50, FPT_MODEL_QSS)->predicted, 30.07, 0.005,
         "QSS at 50");
    near(prediction(&f, "shrink_perturb", "periodic", 15, FPT_MODEL_QSS)->measured, 16.54, 0.005,
         "measured at 15");
    near(prediction(&f, "shrink_perturb", "periodic", 50, FPT_MODEL_QSS)->measured, 29.74, 0.005,
         "measured at 50");
    static const int periods[] = {1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100};
    for (int i = 0; i < 12; i++) {
        const fpt_fit_prediction *x =
            prediction(&f, "shrink_perturb", "periodic", periods[i], FPT_MODEL_QSS);
        cr_assert(x->has_measured, "tau %d measured", periods[i]);
        if (periods[i] >= 10)
            cr_expect(fabs(x->rel_error) < 0.07, "tau %d: predicted %.2f, measured %.2f (%+.1f%%)",
                      periods[i], x->predicted, x->measured, 100 * x->rel_error);
        // The QSS check decides validity where runs are measured (tolerance
        // 10%): 1 is contradicted (-33%, its interval far outside), 3 and 5
        // inconclusive (+12.3%, +11.3%: outside the tolerance, intervals
        // reaching into it), the others confirmed; below t_rel only the
        // confirmed ones are valid.
        int want_valid = periods[i] != 1 && periods[i] != 3 && periods[i] != 5;
        cr_expect_eq(x->valid, want_valid, "tau %d: valid %d (support %s)", periods[i], x->valid,
                     fpt_support_name(x->support));
    }
    cr_expect_eq(prediction(&f, "shrink_perturb", "periodic", 1, FPT_MODEL_QSS)->support,
                 FPT_SUPPORT_CONTRADICTED);
    cr_expect_eq(prediction(&f, "shrink_perturb", "periodic", 3, FPT_MODEL_QSS)->support,
                 FPT_SUPPORT_INCONCLUSIVE);
    // Unmeasured periods: inside the confirmed block 7..100 confirmed (8,
    // below t_rel, so made valid by the data), beyond it untested.
    cr_expect_eq(prediction(&f, "shrink_perturb", "periodic", 8, FPT_MODEL_QSS)->support,
                 FPT_SUPPORT_CONFIRMED);
    cr_expect(prediction(&f, "shrink_perturb", "periodic", 8, FPT_MODEL_QSS)->valid);
    cr_expect_eq(prediction(&f, "shrink_perturb", "periodic", 150, FPT_MODEL_QSS)->support,
                 FPT_SUPPORT_UNTESTED);
    cr_expect_eq(prediction(&f, "shrink_perturb", "periodic", 6, FPT_MODEL_QSS)->support,
                 FPT_SUPPORT_UNTESTED);
    cr_expect(!prediction(&f, "shrink_perturb", "periodic", 6, FPT_MODEL_QSS)->valid);
    near(f.protocols[0].confirmed_lo, 7, 0, "confirmed from tau 7");
    near(f.protocols[0].confirmed_hi, 100, 0, "confirmed to tau 100");
    near(f.protocols[0].contradicted_below, 1, 0, "contradicted at tau 1");
    near(f.protocols[0].contradicted_above, 0, 0, "nothing contradicted above");
    // Leave-one-out values and post-perturbation laws against plain Python
    // (numpy Kaplan-Meier on the same traces; tests/data/README.md):
    // (tau, from): predicted, measured restricted to 200 epochs.
    static const struct { double tau, from, pred, meas; } loo[] = {
        {1, 20, 5.0992, 7.6404},  {3, 20, 7.0992, 6.3191},   {7, 20, 11.0992, 10.2723},
        {20, 30, 18.562, 18.9217}, {100, 50, 47.062, 44.328}, {2, 30, 5.8505, 5.8276},
    };
    for (size_t i = 0; i < sizeof loo / sizeof loo[0]; i++) {
        const fpt_qss_test *x = NULL;
        for (int j = 0; j < f.n_qss && !x; j++)
            if (f.qss[j].kind == FPT_QSS_LOO && f.qss[j].tau == loo[i].tau &&
                f.qss[j].from == loo[i].from)
                x = &f.qss[j];
        cr_assert_not_null(x, "LOO tau %g from %g", loo[i].tau, loo[i].from);
        near(x->predicted, loo[i].pred, 5e-4, "LOO prediction");
        near(x->measured, loo[i].meas, 5e-4, "LOO measured");
        cr_expect(x->rel_lo <= x->rel && x->rel <= x->rel_hi, "rel %g in [%g, %g]", x->rel,
                  x->rel_lo, x->rel_hi);
        cr_expect_eq(x->decisive, loo[i].from == 20 || loo[i].tau == 20);
    }
    static const struct { double from, tau, d, a, b; } law[] = {
        {20, 30, 0.13113, 4.0992, 3.8505}, {30, 50, 0.15272, 3.8505, 4.0122},
        {50, 100, 0.11988, 4.0122, 4.1702}};
    int n_law = 0;
    for (int j = 0; j < f.n_qss; j++) {
        const fpt_qss_test *x = &f.qss[j];
        if (x->kind != FPT_QSS_LAW) continue;
        cr_assert_lt(n_law, 3);
        near(x->from, law[n_law].from, 0, "law from");
        near(x->tau, law[n_law].tau, 0, "law tau");
        near(x->distance, law[n_law].d, 5e-5, "law KS distance");
        near(x->predicted, law[n_law].a, 5e-4, "law <T_p> after from");
        near(x->measured, law[n_law].b, 5e-4, "law <T_p> after tau");
        n_law++;
    }
    cr_expect_eq(n_law, 3, "laws compared between the reference periods 20, 30, 50, 100");
    near(prediction(&f, "shrink_perturb", "periodic", 1, FPT_MODEL_QSS)->rel_error, -0.333, 0.005,
         "error at tau 1 (docs/SCIENCE.md: -33%)");

    // The database holds the same numbers.
    near(real_in("SELECT restricted_mean FROM fit_conditions WHERE protocol = 'none'"), b->rm,
         1e-9, "stored restricted mean");
    near(real_in("SELECT tp_mean FROM fit_references"), f.protocols[0].tp_mean, 1e-9,
         "stored <T_p>");
    near(real_in("SELECT predicted FROM v_fit_check WHERE model = 'qss' AND frequency = 50"),
         30.07, 0.005, "v_fit_check at 50");
    cr_expect_eq(count_in("SELECT count(*) FROM fit_predictions WHERE model = 'qss' AND valid = 0 "
                          "AND frequency < 10 AND measured IS NOT NULL"),
                 3);
    cr_expect_eq(count_in("SELECT count(*) FROM fit_predictions WHERE model = 'qss' AND "
                          "support = 'contradicted'"),
                 1);
    cr_expect_eq(count_in("SELECT count(*) FROM fit_qss WHERE kind = 'loo' AND decisive = 1"), 12);
    cr_expect_eq(count_in("SELECT count(*) FROM fit_qss WHERE kind = 'law'"), 3);
    near(real_in("SELECT confirmed_lo FROM fit_references"), 7, 0, "stored confirmed range");
    cr_expect_eq(count_in("SELECT t_rel FROM fits"), f.t_rel);
    cr_expect_eq(count_in("SELECT count(*) FROM fit_survival WHERE protocol = 'none'"), 201);
    near(real_in("SELECT survival FROM fit_survival WHERE protocol = 'none' AND epoch = 200"),
         0.293, 1e-9, "S(200)");
    fpt_fit_free(&f);

    // Re-fitting replaces the fit; reading it back gives the stored values.
    long long rows = count_in("SELECT count(*) FROM fit_predictions");
    cr_assert_eq(fpt_store_open(&s, g_db, 0, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_fit_run(&runs, &o, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_save_fit(s, &f, &err), 0, "%s", err.msg);
    fpt_fit *back;
    int n;
    cr_assert_eq(fpt_store_load_fits(s, "meir2025", &back, &n, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    cr_expect_eq(count_in("SELECT count(*) FROM fits"), 1);
    cr_expect_eq(count_in("SELECT count(*) FROM fit_predictions"), rows);
    cr_assert_eq(n, 1);
    cr_expect_eq(back[0].n_conditions, f.n_conditions);
    cr_expect_eq(back[0].n_predictions, f.n_predictions);
    cr_expect_eq(back[0].t_rel, f.t_rel);
    cr_expect_eq(back[0].n_ks, f.n_ks);
    cr_expect_eq(back[0].n_qss, f.n_qss);
    for (int j = 0; j < f.n_qss; j++) {
        near(back[0].qss[j].rel, f.qss[j].rel, 1e-12, "QSS check read back");
        cr_expect_eq(back[0].qss[j].verdict, f.qss[j].verdict);
    }
    near(back[0].protocols[0].confirmed_lo, 7, 0, "confirmed range read back");
    near(back[0].conditions[0].curve[100].s, f.conditions[0].curve[100].s, 0, "S(100) read back");
    fpt_fit_free(&back[0]);
    free(back);
    fpt_fit_free(&f);
    fpt_runs_free(&runs);

    // And the command prints the report with the flags.
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    char cmd[512], out[256];
    snprintf(out, sizeof out, "%s/report.txt", g_dir);
    snprintf(cmd, sizeof cmd, "%s fit %s --target 72 --reference 20 > %s 2>&1", bin, g_db, out);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    FILE *rf = fopen(out, "r");
    cr_assert_not_null(rf);
    static char text[1 << 16];
    text[fread(text, 1, sizeof text - 1, rf)] = '\0';
    fclose(rf);
    cr_expect(strstr(text, "<T_p> = 4.10 [") != NULL, "%s", text);
    cr_expect(strstr(text, "t_rel = 16 ") != NULL, "%s", text);
    cr_expect(strstr(text, "(EXTRAPOLATED") != NULL, "%s", text);
    cr_expect(strstr(text, "Recommendation: shrink_perturb tau=2") != NULL, "%s", text);
    cr_expect(strstr(text, "the model holds for tau 7..100") != NULL, "%s", text);
    cr_expect(strstr(text, "fails at tau <= 1.") != NULL, "%s", text);
    cr_expect(strstr(text, "inconclusive (more runs would decide) 3, 5.") != NULL, "%s", text);
    cr_expect(strstr(text, "contradicted: outside the model") != NULL, "%s", text);
}

Test(fit, command_explains_missing_things) {
    const char *bin = getenv("FPTFARM") ? getenv("FPTFARM") : "build/fptfarm";
    char cmd[512], out[256];
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    // Two experiments, no --experiment.
    fpt_store *s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), 0, "%s", err.msg);
    int64_t e;
    cr_assert_eq(fpt_store_experiment(s, "alpha", "x", "h", "farm", &e, NULL, &err), 0);
    cr_assert_eq(fpt_store_experiment(s, "beta", "y", "h", "farm", &e, NULL, &err), 0);
    fpt_store_close(s);
    snprintf(cmd, sizeof cmd, "%s fit %s > %s 2>&1", bin, g_db, out);
    cr_assert_neq(system(cmd), 0);
    FILE *rf = fopen(out, "r");
    char line[512] = "";
    cr_assert_not_null(fgets(line, sizeof line, rf));
    fclose(rf);
    cr_expect(strstr(line, "2 experiments (alpha, beta); choose one with --experiment NAME"), "%s",
              line);
    // An experiment with no runs yet.
    snprintf(cmd, sizeof cmd, "%s fit %s --experiment beta --target 70 > %s 2>&1", bin, g_db, out);
    cr_assert_neq(system(cmd), 0);
    rf = fopen(out, "r");
    cr_assert_not_null(fgets(line, sizeof line, rf));
    fclose(rf);
    cr_expect(strstr(line, "fptfarm: ") == line && strstr(line, "no finished runs to fit"), "%s",
              line);
    // Bad options name what was expected.
    snprintf(cmd, sizeof cmd, "%s fit %s --ci loglog > %s 2>&1", bin, g_db, out);
    cr_assert_neq(system(cmd), 0);
    rf = fopen(out, "r");
    cr_assert_not_null(fgets(line, sizeof line, rf));
    fclose(rf);
    cr_expect(strstr(line, "--ci 'loglog': expected log-log or log"), "%s", line);
}

// A fit deleted in a connection with foreign keys off (the stock sqlite3
// shell's default) leaves its fit_* rows behind; the next fit, which may get
// the same id, replaces rows by key and leaves no orphan.
Test(fit, orphans_of_a_deleted_fit_do_not_block_the_next, .timeout = 120) {
    char csv[160];
    study_csv(g_dir, csv, sizeof csv);
    fpt_store *s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), 0, "%s", err.msg);
    const double t72 = 72;
    cr_assert_eq(fpt_import_csv(s, csv, "meir2025", &t72, 1, &err), 0, "%s", err.msg);
    fpt_runs runs;
    cr_assert_eq(fpt_store_load_runs(s, NULL, &runs, &err), 0, "%s", err.msg);
    fpt_fit_options o = fpt_fit_options_default;
    o.target = 72;
    o.reference = 20;
    o.bootstrap = 20;
    fpt_fit f;
    cr_assert_eq(fpt_fit_run(&runs, &o, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_save_fit(s, &f, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    const long long rows = count_in("SELECT count(*) FROM fit_survival");
    cr_assert_gt(rows, 0);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(g_db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA foreign_keys = OFF; DELETE FROM fits", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(count_in("SELECT count(*) FROM fit_survival"), rows, "orphans left behind");
    cr_assert_eq(fpt_store_open(&s, g_db, 0, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fpt_store_save_fit(s, &f, &err), 0, "the next fit: %s", err.msg);
    fpt_store_close(s);
    cr_expect_eq(count_in("SELECT count(*) FROM fit_survival"), rows);
    static const char *const children[] = {"fit_conditions", "fit_survival", "fit_ks",
                                           "fit_references", "fit_predictions"};
    for (size_t i = 0; i < sizeof children / sizeof *children; i++) {
        char q[160];
        snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE fit_id NOT IN (SELECT id FROM fits)",
                 children[i]);
        cr_expect_eq(count_in(q), 0, "%s has orphans", children[i]);
    }
    fpt_fit_free(&f);
    fpt_runs_free(&runs);
}

// Targets too few runs reach are refused (fpt_fit_reachable, which `fptfarm
// fit` asks before storing) in one line that says how many do;
// a condition no run of which reaches the target has no mean FPT and takes
// no part in the recommendation.  The counts are made here by scanning the
// traces for the first epoch at or above the target, independently of the
// fit; the study's runs end near 72% unperturbed and below 88% in every
// condition, so 99% is reached by none and 80% by no unperturbed run.
Test(fit, unreachable_targets_are_refused, .timeout = 120) {
    char csv[160];
    study_csv(g_dir, csv, sizeof csv);
    fpt_store *s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), 0, "%s", err.msg);
    const double t72 = 72;
    cr_assert_eq(fpt_import_csv(s, csv, "meir2025", &t72, 1, &err), 0, "%s", err.msg);
    fpt_runs runs;
    cr_assert_eq(fpt_store_load_runs(s, NULL, &runs, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    const double targets[] = {99, 95, 92, 90, 89, 88, 80};
    int refused = 0, accepted = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        // Per condition (protocol, frequency): runs reaching the target.
        int total = 0, base = 0, base_runs = 0, most = 0;
        double freqs[64];
        int reach[64] = {0}, n_freq = 0;
        for (int i = 0; i < runs.n_runs; i++) {
            const fpt_run_trace *r = &runs.runs[i];
            int hit = 0;
            for (int e = 0; e < r->n_epochs && !hit; e++) hit = r->acc[e] >= targets[t];
            const int is_base = !strcmp(r->protocol, "none");
            base_runs += is_base;
            base += is_base && hit;
            total += hit;
            int k = 0;
            while (k < n_freq && freqs[k] != r->frequency) k++;
            if (k == n_freq) freqs[n_freq++] = r->frequency;
            reach[k] += hit;
            if (reach[k] > most) most = reach[k];
        }
        fpt_fit_options o = fpt_fit_options_default;
        o.target = targets[t];
        o.reference = 20;
        o.bootstrap = 50;
        fpt_fit f;
        cr_assert_eq(fpt_fit_run(&runs, &o, &f, &err), 0, "target %g: %s", targets[t], err.msg);
        const int rc = fpt_fit_reachable(&f, &err);
        if (most < o.min_runs) {
            refused++;
            fpt_fit_free(&f);
            cr_expect_eq(rc, -1, "target %g: %d runs at most in one condition, yet fitted",
                         targets[t], most);
            char want[160];
            snprintf(want, sizeof want, "%d of %d runs reach target %g%% (%d of %d unperturbed; "
                                        "at most %d in one condition)",
                     total, runs.n_runs, targets[t], base, base_runs, most);
            cr_expect(strstr(err.msg, want), "target %g: '%s' lacks '%s'", targets[t], err.msg,
                      want);
            cr_expect(strstr(err.msg, "needs at least 10 runs of one condition"), "%s", err.msg);
            cr_expect(!strchr(err.msg, '\n'), "one line: %s", err.msg);
            continue;
        }
        accepted++;
        cr_assert_eq(rc, 0, "target %g: %s", targets[t], err.msg);
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        fpt_fit_report(&f, m);
        fclose(m);
        if (base == 0) {   // no unperturbed FPT: no mean, no speed-up
            cr_expect(strstr(text, "none (unperturbed)                  1000       0     1000"),
                      "%s", text);
            cr_expect(strstr(text, "not reached by 200"), "%s", text);
            char line[96];
            snprintf(line, sizeof line, "no unperturbed run reaches %g%% within 200 epochs",
                     targets[t]);
            cr_expect(strstr(text, line), "target %g: %s", targets[t], text);
            cr_expect(!strstr(text, "faster"), "target %g claims a speed-up: %s", targets[t], text);
        }
        // Every condition without a first passage is out of the ranking.
        for (int k = 0; k < f.n_conditions; k++)
            if (f.conditions[k].reached == 0 && strstr(text, "Best measured: ")) {
                char name[96];
                fpt_condition_label(f.conditions[k].protocol, f.conditions[k].timing,
                                    f.conditions[k].frequency, name, sizeof name);
                char best[160];
                snprintf(best, sizeof best, "Best measured: %s:", name);
                cr_expect(!strstr(text, best), "%s never reaches %g%% yet is best", name,
                          targets[t]);
            }
        free(text);
        fpt_fit_free(&f);
    }
    cr_expect_geq(refused, 3, "refused %d targets", refused);
    cr_expect_geq(accepted, 1, "accepted %d targets", accepted);
    fpt_runs_free(&runs);
}

// The relaxation time is an effect size measured against the ensemble's own
// late drift (ks.h, fpt_relaxation_drift), so it stays where the study's
// unperturbed accuracies settle (the model is measured to hold from tau of
// about 7 to 16 on these runs: docs/SCIENCE.md s5) when runs are taken
// away or the horizon is cut: the stated spread is 13..19 epochs (16 with
// all 1000 runs and 200 epochs) for 100, 300 and 1000 runs drawn without
// replacement (5 draws each, seeded), and for the runs cut to 100 epochs,
// where the KS tests against half the horizon put it next to epoch 50.
Test(fit, relaxation_time_is_stable_under_ensemble_size_and_horizon, .timeout = 300) {
    char csv[160];
    study_csv(g_dir, csv, sizeof csv);
    fpt_store *s;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_store_open(&s, g_db, 1, NULL, &err), 0, "%s", err.msg);
    const double t72 = 72;
    cr_assert_eq(fpt_import_csv(s, csv, "meir2025", &t72, 1, &err), 0, "%s", err.msg);
    fpt_runs all;
    cr_assert_eq(fpt_store_load_runs(s, NULL, &all, &err), 0, "%s", err.msg);
    fpt_store_close(s);
    int n_base = 0;
    fpt_run_trace *base = malloc((size_t)all.n_runs * sizeof *base);
    for (int i = 0; i < all.n_runs; i++)
        if (!strcmp(all.runs[i].protocol, "none")) base[n_base++] = all.runs[i];
    cr_assert_eq(n_base, 1000);
    fpt_run_trace *pick = malloc((size_t)n_base * sizeof *pick);
    const int sizes[3] = {100, 300, 1000};
    for (int horizon = 200; horizon >= 100; horizon -= 100)
        for (int z = 0; z < 3; z++)
            for (int draw = 0; draw < (sizes[z] == 1000 ? 1 : 5); draw++) {
                // A seeded partial Fisher-Yates draw of sizes[z] runs.
                fpt_run_trace *pool = malloc((size_t)n_base * sizeof *pool);
                memcpy(pool, base, (size_t)n_base * sizeof *pool);
                fpt_rng g;
                fpt_rng_init(&g, 1000u * (uint64_t)sizes[z] + (uint64_t)draw, FPT_RNG_TEST, 7);
                for (int i = 0; i < sizes[z]; i++) {
                    int j = i + (int)fpt_rng_below(&g, (uint32_t)(n_base - i));
                    fpt_run_trace t = pool[i];
                    pool[i] = pool[j], pool[j] = t;
                    pick[i] = pool[i];
                    if (pick[i].n_epochs > horizon) pick[i].n_epochs = horizon;
                }
                free(pool);
                fpt_runs sub = all;   // shallow: the traces stay all's
                sub.runs = pick;
                sub.n_runs = sizes[z];
                fpt_fit_options o = fpt_fit_options_default;
                o.target = 72;
                o.bootstrap = 0;
                fpt_fit f;
                cr_assert_eq(fpt_fit_run(&sub, &o, &f, &err), 0, "%s", err.msg);
                cr_log_info("t_rel %d with %d runs, %d epochs (draw %d)", f.t_rel, sizes[z],
                            horizon, draw);
                cr_expect(f.t_rel >= 13 && f.t_rel <= 19,
                          "t_rel %d with %d runs of %d epochs (draw %d): outside 13..19",
                          f.t_rel, sizes[z], horizon, draw);
                if (sizes[z] == 1000 && horizon == 200)
                    cr_expect_eq(f.t_rel, 16, "all the runs: t_rel %d", f.t_rel);
                fpt_fit_free(&f);
            }
    // The interval: a bootstrap over the 1000 runs brackets the estimate.
    fpt_runs sub = all;
    sub.runs = base;
    sub.n_runs = n_base;
    fpt_fit_options o = fpt_fit_options_default;
    o.target = 72;
    o.bootstrap = 200;
    fpt_fit f;
    cr_assert_eq(fpt_fit_run(&sub, &o, &f, &err), 0, "%s", err.msg);
    cr_expect(f.t_rel_lo <= f.t_rel && f.t_rel <= f.t_rel_hi && f.t_rel_lo >= 13 &&
                  f.t_rel_hi <= 19,
              "t_rel %d [%d, %d]", f.t_rel, f.t_rel_lo, f.t_rel_hi);
    fpt_fit_free(&f);
    free(pick), free(base);
    fpt_runs_free(&all);
}

// The QSS check (docs/SCIENCE.md s4.6) on runs made so that every number is
// a hand sum.  Horizon 20 epochs; the unperturbed runs never reach the target
// (S = 1 throughout), so a prediction at tau is tau + sum_{t<20-tau} S_p(t).
// Periods and first passages (20 runs each):
//   3: all at 12        (T_p = 9: a perturbation this early costs time)
//   5: 10 at 7, 10 at 9 (T_p = 2 or 4)
//  10: 10 at 12, 10 at 14 (the same law after the perturbation: QSS holds)
//  15: all at 19        (T_p = 4)
// Measured restricted means: 12, 8, 13, 19.  From tau0 = 5 (sum of S_p,5 over
// t < 5 = 1 + 1 + .5 + .5 = 3): 3 -> 6 (-50%), 10 -> 13 (0), 15 -> 18
// (-1/19); tau0 itself from the next reference above, 10: 5 + 3 = 8 (0).
// In a resample the share of 9s at tau 5 moves that 3 within [2, 4], so the
// -50% has its interval within [-7/12, -5/12]: contradicted at 10%.
static void qss_check_runs(synth *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 20; i++) add_run(s, "none", "none", 0, 0, 20, 0, 0);
    for (int i = 0; i < 20; i++) {
        add_run(s, "shrink_perturb", "periodic", 3, 12, 20, 3, 0);
        add_run(s, "shrink_perturb", "periodic", 5, i < 10 ? 7 : 9, 20, 5, 0);
        add_run(s, "shrink_perturb", "periodic", 10, i < 10 ? 12 : 14, 20, 10, 0);
        add_run(s, "shrink_perturb", "periodic", 15, 19, 20, 15, 0);
    }
    finish(s);
}

static const fpt_qss_test *qss_test(const fpt_fit *f, fpt_qss_kind kind, double tau,
                                    double from) {
    for (int i = 0; i < f->n_qss; i++)
        if (f->qss[i].kind == kind && f->qss[i].tau == tau && f->qss[i].from == from)
            return &f->qss[i];
    cr_assert_fail("no QSS comparison (%d, tau %g, from %g)", kind, tau, from);
    return NULL;
}

Test(fit, qss_check_hand_sums_verdicts_and_ranges) {
    synth s;
    qss_check_runs(&s);
    fpt_fit_options o = fpt_fit_options_default;
    o.target = TARGET;
    o.reference = 5;
    o.bootstrap = 200;
    fpt_fit f;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.t_rel, 1, "flat unperturbed accuracies: relaxed from epoch 1 (%d)", f.t_rel);
    static const struct { double tau, from, pred, meas; int decisive; fpt_support v; } loo[] = {
        {3, 5, 6, 12, 1, FPT_SUPPORT_CONTRADICTED},  {5, 10, 8, 8, 1, FPT_SUPPORT_CONFIRMED},
        {10, 5, 13, 13, 1, FPT_SUPPORT_CONFIRMED},   {15, 5, 18, 19, 1, FPT_SUPPORT_CONFIRMED},
        {5, 3, 14, 8, 0, FPT_SUPPORT_CONTRADICTED},  {5, 15, 9, 8, 0, FPT_SUPPORT_INCONCLUSIVE},
    };
    for (size_t i = 0; i < sizeof loo / sizeof loo[0]; i++) {
        const fpt_qss_test *x = qss_test(&f, FPT_QSS_LOO, loo[i].tau, loo[i].from);
        near(x->predicted, loo[i].pred, 1e-12, "LOO predicted");
        near(x->measured, loo[i].meas, 1e-12, "LOO measured");
        near(x->rel, (loo[i].pred - loo[i].meas) / loo[i].meas, 1e-12, "LOO rel");
        cr_expect_eq(x->decisive, loo[i].decisive, "tau %g from %g", loo[i].tau, loo[i].from);
        cr_expect_eq(x->horizon, 20);
        if (loo[i].v != FPT_SUPPORT_INCONCLUSIVE)   // (+12.5%: its interval decides)
            cr_expect_eq(x->verdict, loo[i].v, "tau %g from %g: %s", loo[i].tau, loo[i].from,
                         fpt_support_name(x->verdict));
    }
    const fpt_qss_test *c3 = qss_test(&f, FPT_QSS_LOO, 3, 5);
    cr_expect(c3->rel_lo >= -7.0 / 12 - 1e-12 && c3->rel_hi <= -5.0 / 12 + 1e-12,
              "[%g, %g] within [-7/12, -5/12]", c3->rel_lo, c3->rel_hi);
    // The laws of neighbouring reference periods over the horizon both see.
    static const struct { double from, tau; int h; double d, a, b; } law[] = {
        {3, 5, 15, 1.0, 9, 3}, {5, 10, 10, 0.0, 3, 3}, {10, 15, 5, 0.5, 3, 4}};
    for (size_t i = 0; i < 3; i++) {
        const fpt_qss_test *x = qss_test(&f, FPT_QSS_LAW, law[i].tau, law[i].from);
        cr_expect_eq(x->horizon, law[i].h);
        near(x->distance, law[i].d, 1e-12, "law KS distance");
        near(x->predicted, law[i].a, 1e-12, "<T_p> after the earlier period");
        near(x->measured, law[i].b, 1e-12, "<T_p> after the later period");
    }
    const fpt_fit_protocol *P = &f.protocols[0];
    near(P->confirmed_lo, 5, 0, "confirmed from 5");
    near(P->confirmed_hi, 15, 0, "confirmed to 15");
    near(P->contradicted_below, 3, 0, "contradicted at and below 3");
    near(P->contradicted_above, 0, 0, "nothing contradicted above");
    static const struct { int tau; fpt_support s; int valid; } sup[] = {
        {2, FPT_SUPPORT_CONTRADICTED, 0}, {3, FPT_SUPPORT_CONTRADICTED, 0},
        {4, FPT_SUPPORT_UNTESTED, 1},     {12, FPT_SUPPORT_CONFIRMED, 1},
        {18, FPT_SUPPORT_UNTESTED, 1}};
    for (size_t i = 0; i < sizeof sup / sizeof sup[0]; i++) {
        const fpt_fit_prediction *x =
            prediction(&f, "shrink_perturb", "periodic", sup[i].tau, FPT_MODEL_QSS);
        cr_expect_eq(x->support, sup[i].s, "tau %d: %s", sup[i].tau, fpt_support_name(x->support));
        cr_expect_eq(x->valid, sup[i].valid, "tau %d valid", sup[i].tau);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cr_assert_not_null(mem);
    fpt_fit_report(&f, mem);
    fclose(mem);
    cr_expect(strstr(text, "the model holds for tau 5..15") != NULL, "%s", text);
    cr_expect(strstr(text, "fails at tau <= 3.") != NULL, "%s", text);
    free(text);
    fpt_fit_free(&f);

    // Without a bootstrap the point values decide: -50% is contradicted.
    o.bootstrap = 0;
    cr_assert_eq(fpt_fit_run(&s.r, &o, &f, &err), 0, "%s", err.msg);
    c3 = qss_test(&f, FPT_QSS_LOO, 3, 5);
    cr_expect(isnan(c3->rel_lo) && isnan(c3->rel_hi));
    cr_expect_eq(c3->verdict, FPT_SUPPORT_CONTRADICTED);
    near(f.protocols[0].contradicted_below, 3, 0, "contradicted without intervals");
    fpt_fit_free(&f);
    synth_free(&s);
}
