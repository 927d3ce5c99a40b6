// test_engines.c — the farm's two training-free engines against independent
// references.
//
// Synthetic law (synth_law.h): its exact survival against the closed form of
// the unperturbed law, against the QSS and restart formulas of docs/SCIENCE.md s4
// where they are exact, and against renewal sums for geometric timing; its
// generated runs against the exact law by Monte Carlo; determinism and the
// common random numbers of perturbed and unperturbed runs.
//
// Replay (replay.h): the study's file read independently here with sscanf,
// the documented permutation recomputed here, and file:line errors.
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "analysis/first_passage.h"
#include "base/hash.h"
#include "train/replay.h"
#include "base/rng.h"
#include "train/run.h"
#include "study_data.h"
#include "train/synth_law.h"
#include "tmpdir.h"

static char g_dir[64];

static void make_dir(void) { tmpdir_make(g_dir, sizeof g_dir, "engines"); }
static void remove_dir(void) { tmpdir_remove(g_dir); }

TestSuite(engines, .init = make_dir, .fini = remove_dir);

// ---- the synthetic law: exact survival ------------------------------------

// fpt_synth_survival's restricted mean (S filled as it fills it), the call
// itself required to succeed: it fails only when out of memory.
static double synth_mean(const fpt_synth_law *law, fpt_protocol_kind kind, fpt_timing timing,
                         double freq, int horizon, double *S) {
    fpt_err err = {{0}};
    double mean = NAN;
    cr_assert_eq(fpt_synth_survival(law, kind, timing, freq, horizon, S, &mean, &err), 0, "%s",
                 err.msg);
    return mean;
}

// A law whose three "after" hazards differ, so a mixed-up index shows, and
// whose burn-in 8 gives the periods 2, 5, 12 different first effective
// events (after epochs 8, 10, 12).
static fpt_synth_law test_law(void) {
    fpt_synth_law law = fpt_synth_law_default;   // q 0.3, hf 0.3, hs 0.01
    law.burn_in = 8;
    law.after[FPT_PROTO_PARTIAL_RESET] = 0.05;
    law.after[FPT_PROTO_SHRINK_PERTURB] = 0.15;
    law.after[FPT_PROTO_WARM_RESTART] = 0.08;
    return law;
}

// Unperturbed: T = b - 1 + Geometric(h) given the plateau, so
//   S0(t) = 1                                               t <= b - 1
//   S0(t) = q (1-hf)^(t-b+1) + (1-q) (1-hs)^(t-b+1)         t >= b - 1
static double S0(const fpt_synth_law *law, int t) {
    const int k = t - (law->burn_in - 1);
    if (k <= 0) return 1.0;
    return law->fast_share * pow(1.0 - law->fast_hazard, k) +
           (1.0 - law->fast_share) * pow(1.0 - law->slow_hazard, k);
}

// sum_{t<n} S0(t) = E[min(T0, n)].
static double S0_sum(const fpt_synth_law *law, int n) {
    double s = 0.0;
    for (int t = 0; t < n; t++) s += S0(law, t);
    return s;
}

Test(engines, synth_unperturbed_closed_form) {
    fpt_synth_law laws[3] = {fpt_synth_law_default, test_law(), fpt_synth_law_default};
    laws[2].burn_in = 1;   // no burn-in: T is a mixture of two geometrics
    laws[2].fast_share = 0.55;
    laws[2].slow_hazard = 0.0;   // slow runs never arrive unperturbed
    enum { H = 400 };
    double S[H + 1];
    for (int i = 0; i < 3; i++) {
        const fpt_synth_law *law = &laws[i];
        fpt_err err = {{0}};
        cr_assert_eq(fpt_synth_law_check(law, &err), 0, "%s", err.msg);
        const double mean = synth_mean(law, FPT_PROTO_NONE, FPT_TIMING_PERIODIC, 0, H, S);
        double worst = 0.0;
        for (int t = 0; t <= H; t++) {
            cr_expect(fabs(S[t] - S0(law, t)) < 1e-12, "law %d: S(%d) = %.15g, closed form %.15g",
                      i, t, S[t], S0(law, t));
            worst = fmax(worst, fabs(S[t] - S0(law, t)));
        }
        for (int t = 0; t < law->burn_in; t++)
            cr_expect_eq(S[t], 1.0, "law %d: no first passage before epoch b", i);
        cr_expect(fabs(mean - S0_sum(law, H)) < 1e-9, "law %d: mean %.12g, closed form %.12g", i,
                  mean, S0_sum(law, H));
        measured("synth law %d: max |S - closed form| %.3g over t = 0..%d; E[min(T,%d)] = %.6f", i,
                 worst, H, H, mean);
    }
    // A period beyond the horizon never fires within it: the same law.
    fpt_synth_law law = test_law();
    const double mean = synth_mean(&law, FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 500, H, S);
    cr_expect(fabs(mean - S0_sum(&law, H)) < 1e-9);
    cr_expect(synth_mean(&law, FPT_PROTO_NONE, FPT_TIMING_PERIODIC, 0, 0, S) == 0.0);
    cr_expect_eq(S[0], 1.0, "horizon 0: S(0) only");
}

// For tau >= b every perturbation hits a relaxed run, so (docs/SCIENCE.md s4) the
// QSS response model is exact: <T> = E[min(T0, tau)] + S0(tau) / after, and
// restart is the classic E[min(T0, tau)] / (1 - S0(tau)).  Horizon 5000 with
// these hazards leaves S(5000) < 1e-20: the restricted mean is the mean.
Test(engines, synth_qss_and_restart_formulas_exact_above_burn_in) {
    const fpt_synth_law law = test_law();
    enum { H = 5000 };
    static double S[H + 1];
    static const int taus[] = {8, 11, 25, 100};
    static const fpt_protocol_kind kinds[] = {FPT_PROTO_PARTIAL_RESET, FPT_PROTO_SHRINK_PERTURB,
                                              FPT_PROTO_WARM_RESTART};
    for (size_t i = 0; i < sizeof taus / sizeof *taus; i++) {
        const int tau = taus[i];
        for (size_t k = 0; k < 3; k++) {
            const double got = synth_mean(&law, kinds[k], FPT_TIMING_PERIODIC, tau, H, S);
            const double want = S0_sum(&law, tau) + S0(&law, tau) / law.after[kinds[k]];
            cr_expect(fabs(got - want) < 1e-9, "%s tau %d: %.12f, QSS %.12f",
                      fpt_protocol_name(kinds[k]), tau, got, want);
            cr_expect(S[H] < 1e-20, "S(%d) = %g", H, S[H]);
            measured("synth QSS %s tau %d: exact %.9f, QSS formula %.9f",
                     fpt_protocol_name(kinds[k]), tau, got, want);
        }
        const double got = synth_mean(&law, FPT_PROTO_RESET, FPT_TIMING_PERIODIC, tau, H, S);
        const double want = S0_sum(&law, tau) / (1.0 - S0(&law, tau));
        cr_expect(fabs(got - want) < 1e-9, "reset tau %d: %.12f, restart formula %.12f", tau, got,
                  want);
        measured("synth restart tau %d: exact %.9f, formula %.9f", tau, got, want);
    }
    // Below b the model is not exact: a perturbation at age < b does nothing,
    // so tau = 3 acts first after epoch 9 and the QSS formula is wrong.
    const double got = synth_mean(&law, FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 3, H, S);
    const double qss = S0_sum(&law, 3) + S0(&law, 3) / law.after[FPT_PROTO_SHRINK_PERTURB];
    const double first_effective = S0_sum(&law, 9) + S0(&law, 9) / 0.15;
    cr_expect(fabs(got - first_effective) < 1e-9, "tau 3: %.12f, first effective event at 9: %.12f",
              got, first_effective);
    cr_expect(fabs(got - qss) > 1.0, "tau 3: %.6f vs QSS %.6f", got, qss);
}

// Geometric timing, renewal sums over the time of the event (p exact as
// fpt_protocol_fires draws it).  R = the epoch after which the protocol
// fires, P(R = r) = p (1-p)^(r-1); the passage at epoch R counts first.
//   reset:   <T> = E[min(T0, R)] / P(T0 <= R)
//            E[min(T0, R)] = sum_t S0(t) (1-p)^t, P(T0 > R) = sum_r p (1-p)^(r-1) S0(r)
//   others:  the first event at age >= b (epoch r >= b) sets the hazard:
//            <T> = sum_t S0(t) (1-p)^max(0, t-b+1) + sum_{r>=b} p (1-p)^(r-b) S0(r) / after
Test(engines, synth_geometric_timing_renewal_sums) {
    const fpt_synth_law law = test_law();
    const int b = law.burn_in;
    enum { H = 20000, TERMS = 40000 };   // S(H) < 1e-20 at p 0.3 (reset: <T> ~ 400)
    static double S[H + 1];
    static const double ps[] = {0.01, 0.05, 0.3};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        const double p = ceil(ps[i] * 4294967296.0) / 4294967296.0;
        double num = 0.0, over = 0.0, before = 0.0, after_sum = 0.0;
        for (int t = 0; t < TERMS; t++) {
            num += S0(&law, t) * pow(1.0 - p, t);
            if (t >= 1) over += p * pow(1.0 - p, t - 1) * S0(&law, t);
            before += S0(&law, t) * pow(1.0 - p, t >= b - 1 ? t - b + 1 : 0);
            if (t >= b) after_sum += p * pow(1.0 - p, t - b) * S0(&law, t);
        }
        double got = synth_mean(&law, FPT_PROTO_RESET, FPT_TIMING_GEOMETRIC, ps[i], H, S);
        double want = num / (1.0 - over);
        cr_expect(fabs(got - want) < 1e-8, "reset p %g: %.12f, renewal %.12f", ps[i], got, want);
        measured("synth geometric reset p %g: exact %.9f, renewal %.9f", ps[i], got, want);
        for (int k = FPT_PROTO_PARTIAL_RESET; k <= FPT_PROTO_WARM_RESTART; k++) {
            got = synth_mean(&law, (fpt_protocol_kind)k, FPT_TIMING_GEOMETRIC, ps[i], H, S);
            want = before + after_sum / law.after[k];
            cr_expect(fabs(got - want) < 1e-8, "%s p %g: %.12f, renewal %.12f",
                      fpt_protocol_name((fpt_protocol_kind)k), ps[i], got, want);
        }
    }
}

Test(engines, synth_law_check_ranges) {
    fpt_err err = {{0}};
    cr_expect_eq(fpt_synth_law_check(&fpt_synth_law_default, &err), 0, "%s", err.msg);
    static const struct {
        const char *field;
        double value;
        const char *msg;
    } bad[] = {
        {"burn_in", 0, "[synthetic] burn_in 0 out of range (expected 1..100000"},
        {"burn_in", 100001, "burn_in 100001 out of range"},
        {"fast_share", -0.1, "[synthetic] fast_share -0.1 is not a probability in [0, 1]"},
        {"fast_hazard", 1.5, "[synthetic] fast_hazard 1.5 is not a probability in [0, 1]"},
        {"fast_hazard", 0, "[synthetic] fast_hazard 0: the fast plateau must reach"},
        {"fast_hazard", NAN, "fast_hazard nan is not a probability"},
        {"slow_hazard", 2, "[synthetic] slow_hazard 2 is not a probability"},
        {"after_shrink_perturb", -1, "[synthetic] after_shrink_perturb -1 is not a probability"},
        {"after_warm_restart", 1.01, "[synthetic] after_warm_restart 1.01 is not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fpt_synth_law law = fpt_synth_law_default;
        const char *f = bad[i].field;
        if (!strcmp(f, "burn_in")) law.burn_in = (int)bad[i].value;
        if (!strcmp(f, "fast_share")) law.fast_share = bad[i].value;
        if (!strcmp(f, "fast_hazard")) law.fast_hazard = bad[i].value;
        if (!strcmp(f, "slow_hazard")) law.slow_hazard = bad[i].value;
        if (!strcmp(f, "after_shrink_perturb")) law.after[FPT_PROTO_SHRINK_PERTURB] = bad[i].value;
        if (!strcmp(f, "after_warm_restart")) law.after[FPT_PROTO_WARM_RESTART] = bad[i].value;
        cr_expect_eq(fpt_synth_law_check(&law, &err), -1, "case %zu accepted", i);
        cr_expect(strstr(err.msg, bad[i].msg), "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
    }
    // The edges are fine, as are the unused after[] entries.
    fpt_synth_law law = fpt_synth_law_default;
    law.burn_in = 100000;
    law.fast_share = 1.0;
    law.slow_hazard = 0.0;
    law.after[FPT_PROTO_NONE] = law.after[FPT_PROTO_RESET] = -5;
    law.after[FPT_PROTO_PARTIAL_RESET] = 0.0;
    cr_expect_eq(fpt_synth_law_check(&law, &err), 0, "%s", err.msg);
}

// ---- the synthetic law: generated runs ------------------------------------

static fpt_run_config synth_config(fpt_protocol_kind kind, fpt_timing timing, double freq,
                                   int epochs, uint64_t seed) {
    fpt_run_config c;
    fpt_run_config_defaults(&c);
    c.epochs = epochs;
    c.targets[0] = 72.0;
    c.lr.base = 0.05;
    c.seed = seed;
    c.protocol.kind = kind;
    c.protocol.timing = timing;
    if (timing == FPT_TIMING_PERIODIC)
        c.protocol.period = (int)freq;
    else
        c.protocol.prob = freq;
    return c;
}

static void acc_of(const fpt_epoch_record *recs, int n, double *acc) {
    for (int e = 0; e < n; e++) acc[e] = recs[e].test_acc;
}

// N runs of each condition, seeds 1..N, H epochs: the empirical survival
// at several t within 4 binomial standard errors of the exact one (equal
// where the exact one is 0 or 1), and the mean of min(T, H) within 4 of its
// standard errors of the exact restricted mean.
Test(engines, synth_runs_follow_the_exact_law, .timeout = 300) {
    const fpt_synth_law law = test_law();
    enum { N = 20000, H = 120 };
    static const struct {
        fpt_protocol_kind kind;
        fpt_timing timing;
        double freq;
    } cases[] = {
        {FPT_PROTO_NONE, FPT_TIMING_PERIODIC, 0},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 2},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 5},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 12},
        {FPT_PROTO_SHRINK_PERTURB, FPT_TIMING_PERIODIC, 30},
        {FPT_PROTO_RESET, FPT_TIMING_PERIODIC, 15},
        {FPT_PROTO_RESET, FPT_TIMING_PERIODIC, 40},
        {FPT_PROTO_PARTIAL_RESET, FPT_TIMING_GEOMETRIC, 0.05},
        {FPT_PROTO_WARM_RESTART, FPT_TIMING_PERIODIC, 7},
    };
    static const int ts[] = {1, 7, 8, 9, 10, 12, 16, 20, 31, 45, 60, 90, 120};   // b = 8
    fpt_epoch_record recs[H];
    double acc[H], S[H + 1];
    static int T[N];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *name = fpt_protocol_name(cases[i].kind);
        const double exact_mean =
            synth_mean(&law, cases[i].kind, cases[i].timing, cases[i].freq, H, S);
        double sum = 0.0, sum2 = 0.0;
        for (int s = 0; s < N; s++) {
            fpt_run_config c = synth_config(cases[i].kind, cases[i].timing, cases[i].freq, H,
                                            (uint64_t)s + 1);
            fpt_synth_run(&law, &c, recs);
            acc_of(recs, H, acc);
            T[s] = fpt_first_passage(acc, H, c.targets[0]);   // 0: censored at H
            const double m = T[s] ? T[s] : H;
            sum += m;
            sum2 += m * m;
        }
        double worst_z = 0.0;
        for (size_t j = 0; j < sizeof ts / sizeof *ts; j++) {
            const int t = ts[j];
            int alive = 0;
            for (int s = 0; s < N; s++) alive += T[s] == 0 || T[s] > t;
            const double emp = (double)alive / N, se = sqrt(S[t] * (1.0 - S[t]) / N);
            if (se == 0.0) {
                cr_expect(fabs(emp - S[t]) < 1e-12, "%s %g: S(%d) empirical %.5f, exact %.5f", name,
                          cases[i].freq, t, emp, S[t]);
                continue;
            }
            const double z = (emp - S[t]) / se;
            worst_z = fmax(worst_z, fabs(z));
            cr_expect(fabs(z) < 4.0, "%s %g: S(%d) empirical %.5f, exact %.5f (%.2f se)", name,
                      cases[i].freq, t, emp, S[t], z);
        }
        const double mean = sum / N, se = sqrt((sum2 / N - mean * mean) / (N - 1));
        const double z = (mean - exact_mean) / se;
        cr_expect(fabs(z) < 4.0, "%s %g: mean min(T,%d) empirical %.4f, exact %.4f (%.2f se)", name,
                  cases[i].freq, H, mean, exact_mean, z);
        measured("synth MC %s %s %g: E[min(T,%d)] empirical %.4f +- %.4f, exact %.4f (%.2f se); "
                 "S(30) exact %.4f; worst S(t) deviation %.2f se",
                 name, fpt_timing_name(cases[i].timing), cases[i].freq, H, mean, se, exact_mean, z,
                 S[30], worst_z);
    }
}

static int same_records(const fpt_epoch_record *a, const fpt_epoch_record *b, int n) {
    for (int e = 0; e < n; e++)
        if (a[e].epoch != b[e].epoch || a[e].test_acc != b[e].test_acc ||
            a[e].train_loss != b[e].train_loss || a[e].test_loss != b[e].test_loss ||
            a[e].lr != b[e].lr || a[e].perturbed != b[e].perturbed ||
            a[e].seconds != b[e].seconds)
            return 0;
    return 1;
}

Test(engines, synth_runs_deterministic_and_well_formed) {
    const fpt_synth_law law = test_law();
    enum { E = 200 };
    fpt_epoch_record a[E], b[E];
    const fpt_run_config c = synth_config(FPT_PROTO_RESET, FPT_TIMING_PERIODIC, 25, E, 7);
    fpt_synth_run(&law, &c, a);
    fpt_synth_run(&law, &c, b);
    cr_expect(same_records(a, b, E), "the same run twice differs");
    fpt_run_config c2 = c;
    c2.seed = 8;
    fpt_synth_run(&law, &c2, b);
    int differ = 0;
    for (int e = 0; e < E; e++) differ += a[e].test_acc != b[e].test_acc;
    cr_expect_gt(differ, E / 2, "seeds 7 and 8 share %d of %d accuracies", E - differ, E);

    // Fields: epochs 1..E, lr the base rate, no time, flags after e % tau == 0,
    // accuracies in [0, 100] below A while relaxing, losses falling with accuracy.
    for (int e = 0; e < E; e++) {
        cr_expect_eq(a[e].epoch, e + 1);
        cr_expect_eq(a[e].lr, 0.05);
        cr_expect_eq(a[e].seconds, 0.0);
        cr_expect_eq(a[e].perturbed, (e + 1) % 25 == 0, "epoch %d", e + 1);
        cr_expect(a[e].test_acc >= 0.0 && a[e].test_acc <= 100.0);
        cr_expect(isfinite(a[e].train_loss) && a[e].train_loss >= 0.0);
        // Ages 1..b-1 after each (re)start: epochs 25k + 1 .. 25k + b - 1.
        if (e % 25 < law.burn_in - 1)
            cr_expect_lt(a[e].test_acc, 72.0, "epoch %d while relaxing", e + 1);
    }
    int rising = 0;   // pairs whose losses do not fall as the accuracy rises
    for (int e = 0; e < E; e++)
        for (int f = 0; f < E; f++)
            rising += a[f].test_acc < a[e].test_acc &&
                      !(a[f].train_loss > a[e].train_loss && a[f].test_loss > a[e].test_loss);
    cr_expect_eq(rising, 0, "losses do not fall with accuracy");
    // Relaxing, the accuracy ramps up with the age: at age b-1 it is well
    // above age 1 (x 0.925 of ~68% against x 0.475).
    double young = 0.0, old = 0.0;
    for (int k = 0; k < E / 25; k++) {
        young += a[25 * k].test_acc;
        old += a[25 * k + law.burn_in - 2].test_acc;
    }
    cr_expect_gt(old, young + 20.0 * (E / 25), "ramp: mean %.2f at age 1, %.2f at age b-1",
                 young / (E / 25), old / (E / 25));
}

// A perturbed run equals the unperturbed run of its seed through its first
// event (the accuracy draws depend on the epoch, not on what happened), and
// geometric timing fires with probability p.
Test(engines, synth_common_random_numbers_and_timing, .timeout = 60) {
    const fpt_synth_law law = test_law();
    enum { E = 100, N = 2000 };
    fpt_epoch_record base[E], pert[E];
    long fired = 0, differ_after = 0, base_fired = 0;
    for (uint64_t seed = 1; seed <= N; seed++) {
        const fpt_run_config c0 = synth_config(FPT_PROTO_NONE, FPT_TIMING_PERIODIC, 0, E, seed);
        fpt_synth_run(&law, &c0, base);
        const fpt_protocol_kind kind = seed % 2 ? FPT_PROTO_RESET : FPT_PROTO_SHRINK_PERTURB;
        const fpt_run_config c = synth_config(kind, FPT_TIMING_GEOMETRIC, 0.05, E, seed);
        fpt_synth_run(&law, &c, pert);
        int first = E;
        for (int e = 0; e < E; e++) {
            fired += pert[e].perturbed;
            base_fired += base[e].perturbed;
            if (pert[e].perturbed && first == E) first = e;
        }
        for (int e = 0; e <= first && e < E; e++)
            if (pert[e].test_acc != base[e].test_acc)
                cr_assert_fail("seed %llu epoch %d: differs before the first event at %d",
                               (unsigned long long)seed, e + 1, first + 1);
        for (int e = first + 1; e < E; e++) differ_after += pert[e].test_acc != base[e].test_acc;
    }
    cr_expect_eq(base_fired, 0, "protocol none fired");
    const double n = (double)N * E, share = fired / n, se = sqrt(0.05 * 0.95 / n);
    cr_expect(fabs(share - 0.05) < 4 * se, "geometric p 0.05 fired after %.5f of the epochs",
              share);
    cr_expect_gt(differ_after, 0, "perturbations change nothing");
    measured("synth geometric timing: fired after %.5f of %ld epochs (p 0.05, se %.5f)", share,
             (long)n, se);
}

// ---- replay -----------------------------------------------------------------

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

// One run of the file, read here with sscanf.
typedef struct file_run {
    char protocol[32];
    long period;
    long long seed;
    int n;
    double acc[200];
} file_run;

// Reads the study's file independently of traces_csv.c: runs in file order.
static file_run *read_runs(const char *path, int *n_runs) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    int cap = 4096, n = 0;
    file_run *runs = malloc((size_t)cap * sizeof *runs);
    cr_assert_not_null(runs);
    char protocol[32];
    long period;
    long long seed;
    int epoch;
    double acc;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%31[^,],%ld,%lld,%d,%lf", protocol, &period, &seed, &epoch, &acc) != 5)
            cr_assert_fail("%s", line);
        if (epoch == 1) {
            if (n == cap) cr_assert_fail("more than %d runs", cap);
            file_run *r = &runs[n++];
            snprintf(r->protocol, sizeof r->protocol, "%s", protocol);
            r->period = period;
            r->seed = seed;
            r->n = 0;
        }
        file_run *r = &runs[n - 1];
        if (epoch != r->n + 1 || r->n == 200) cr_assert_fail("unexpected row %s", line);
        r->acc[r->n++] = acc;
    }
    fclose(f);
    *n_runs = n;
    return runs;
}

// The permutation replay.h documents, recomputed: Fisher-Yates over the
// condition's runs in file order, FPT_RNG_REPLAY seeded by FNV-1a of
// "protocol/period".
static void documented_perm(const char *protocol, long period, int n, int *perm) {
    char key[64];
    snprintf(key, sizeof key, "%s/%ld", protocol, period);
    fpt_rng g;
    fpt_rng_init(&g, fpt_fnv1a(FPT_FNV1A_INIT, key, strlen(key)), FPT_RNG_REPLAY, 0);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)fpt_rng_below(&g, (uint32_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

Test(engines, replay_study_traces, .timeout = 180) {
    char study[160];
    study_csv(g_dir, study, sizeof study);
    int n_runs;
    file_run *runs = read_runs(study, &n_runs);
    cr_assert_eq(n_runs, 2992);

    fpt_replay *r = NULL;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_replay_load(&r, study, &err), 0, "%s", err.msg);
    cr_expect_eq(fpt_replay_count(r, "none", 0), 1000);
    cr_expect_eq(fpt_replay_count(r, "none", 1), 0);
    cr_expect_eq(fpt_replay_count(r, "reset", 20), 0);
    cr_expect_eq(fpt_replay_count(r, "shrink_perturb", 6), 0);
    cr_expect_eq(fpt_replay_count(r, "shrink_perturb", 20.5), 0);

    // Every condition of the file: its count, and seeds 1..n are exactly its
    // runs, each once, in the documented order; seeds beyond n wrap.
    int *idx = malloc(sizeof(int) * (size_t)n_runs), *perm = malloc(sizeof(int) * (size_t)n_runs);
    cr_assert(idx && perm);
    int conditions = 0, checked = 0;
    for (int i = 0; i < n_runs; i++) {
        int seen_before = 0;
        for (int j = 0; j < i && !seen_before; j++)
            seen_before = runs[j].period == runs[i].period &&
                          strcmp(runs[j].protocol, runs[i].protocol) == 0;
        if (seen_before) continue;
        conditions++;
        int n = 0;   // the condition's runs, in file order
        for (int j = i; j < n_runs; j++)
            if (runs[j].period == runs[i].period && strcmp(runs[j].protocol, runs[i].protocol) == 0)
                idx[n++] = j;
        cr_expect_eq(fpt_replay_count(r, runs[i].protocol, (double)runs[i].period), n, "%s %ld",
                     runs[i].protocol, runs[i].period);
        documented_perm(runs[i].protocol, runs[i].period, n, perm);
        int identity = 1;
        for (uint64_t s = 1; s <= (uint64_t)n + 2; s++) {
            const double *acc;
            int ne;
            if (fpt_replay_trace(r, runs[i].protocol, (double)runs[i].period, s, &acc, &ne, &err))
                cr_assert_fail("%s", err.msg);
            const file_run *want = &runs[idx[perm[s % (uint64_t)n]]];
            if (ne != want->n || memcmp(acc, want->acc, sizeof(double) * (size_t)ne))
                cr_assert_fail("%s %ld seed %llu: not the file's run (seed %lld)", runs[i].protocol,
                               runs[i].period, (unsigned long long)s, want->seed);
            if (s <= (uint64_t)n) identity &= perm[s % (uint64_t)n] == (int)(s - 1);
            checked++;
        }
        cr_expect(!identity, "%s %ld: seeds take the runs in file order", runs[i].protocol,
                  runs[i].period);
        // The permutation is one: every run of the condition exactly once.
        memset(perm, 0, sizeof(int) * (size_t)n);
        for (uint64_t s = 1; s <= (uint64_t)n; s++) {
            const double *acc;
            int ne;
            fpt_replay_trace(r, runs[i].protocol, (double)runs[i].period, s, &acc, &ne, &err);
            int hit = -1;
            for (int k = 0; k < n && hit < 0; k++)
                if (!perm[k] && !memcmp(acc, runs[idx[k]].acc, sizeof(double) * 200)) hit = k;
            if (hit < 0)
                cr_assert_fail("%s %ld seed %llu: no unused run of the file matches",
                               runs[i].protocol, runs[i].period, (unsigned long long)s);
            perm[hit] = 1;
        }
    }
    cr_expect_eq(conditions, 13);
    measured("replay: %d runs in %d conditions, %d traces compared with the file", n_runs,
             conditions, checked);

    // An absent condition names the file, the condition and what there is.
    const double *acc;
    int ne;
    cr_assert_eq(fpt_replay_trace(r, "shrink_perturb", 6, 1, &acc, &ne, &err), -1);
    char head[320];
    snprintf(head, sizeof head, "%s: no recorded runs for shrink_perturb period 6 (it holds: "
                                "none 0 (1000 runs), shrink_perturb 1 (114 runs), ", study);
    cr_expect_eq(strncmp(err.msg, head, strlen(head)), 0, "%s", err.msg);
    cr_expect(strstr(err.msg, "shrink_perturb 2 (87 runs), shrink_perturb 3 (94 runs), "),
              "sorted by period: %s", err.msg);
    cr_expect(strstr(err.msg, "shrink_perturb 50 (238 runs), shrink_perturb 100 (311 runs))"), "%s",
              err.msg);
    measured("replay: %s", err.msg);
    fpt_replay_free(r);
    free(idx);
    free(perm);
    free(runs);
}

Test(engines, replay_small_file_and_errors) {
    char csv[160];
    snprintf(csv, sizeof csv, "%s/small.csv", g_dir);
    write_file(csv, "protocol,period,seed,epoch,test_acc\n"
                    "none,0,5,1,10\nnone,0,5,2,20\n"
                    "reset,3,1,1,30\nreset,3,1,2,40\nreset,3,1,3,50\n"
                    "none,0,6,1,11\nnone,0,6,2,21\n");
    fpt_replay *r = NULL;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_replay_load(&r, csv, &err), 0, "%s", err.msg);
    cr_expect_eq(fpt_replay_count(r, "none", 0), 2);
    cr_expect_eq(fpt_replay_count(r, "reset", 3), 1);
    const double *acc;
    int n;
    for (uint64_t s = 0; s < 4; s++) {   // one run: every seed replays it
        cr_assert_eq(fpt_replay_trace(r, "reset", 3, s, &acc, &n, &err), 0, "%s", err.msg);
        cr_expect(n == 3 && acc[0] == 30 && acc[1] == 40 && acc[2] == 50);
    }
    int got11 = 0;
    for (uint64_t s = 1; s <= 2; s++) {
        cr_assert_eq(fpt_replay_trace(r, "none", 0, s, &acc, &n, &err), 0, "%s", err.msg);
        cr_expect_eq(n, 2);
        got11 += acc[0] == 11 && acc[1] == 21;
        cr_expect((acc[0] == 10 && acc[1] == 20) || (acc[0] == 11 && acc[1] == 21));
    }
    cr_expect_eq(got11, 1, "seeds 1 and 2 replay both runs");
    cr_assert_eq(fpt_replay_trace(r, "reset", 4, 1, &acc, &n, &err), -1);
    char want[320];
    snprintf(want, sizeof want,
             "%s: no recorded runs for reset period 4 (it holds: none 0 (2 runs), "
             "reset 3 (1 runs))", csv);
    cr_expect_str_eq(err.msg, want);
    fpt_replay_free(r);
    fpt_replay_free(NULL);

    // Malformed tables: "path:LINE: problem", as the import.
    static const struct {
        const char *text;
        int line;
        const char *problem;
    } bad[] = {
        {"", 1, "empty file"},
        {"protocol,period,seed,epoch\n", 1, "expected the header"},
        {"protocol,period,seed,epoch,test_acc\nnone,0,1,1,10\nnone,0,1,2,x\n", 3,
         "bad number 'x' for test_acc"},
        {"protocol,period,seed,epoch,test_acc\nnone,0,1,1,10\nnone,0,2,1,10\nnone,0,1,1,10\n", 4,
         "run (none, period 0, seed 1) appears again"},
        {"protocol,period,seed,epoch,test_acc\nnone,0,1,1,10\nnone,0,1,3,10\n", 3,
         "epoch 3 after epoch 1"},
        {"protocol,period,seed,epoch,test_acc\nreset,0,1,1,10\n", 2, "needs a period >= 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(csv, bad[i].text);
        static int sentinel;
        r = (fpt_replay *)&sentinel;   // not a table: must come back NULL
        cr_assert_eq(fpt_replay_load(&r, csv, &err), -1, "case %zu", i);
        cr_expect_null(r, "case %zu", i);
        char head[200];
        snprintf(head, sizeof head, "%s:%d: ", csv, bad[i].line);
        cr_expect_eq(strncmp(err.msg, head, strlen(head)), 0, "case %zu: '%s' does not start '%s'",
                     i, err.msg, head);
        cr_expect(strstr(err.msg, bad[i].problem), "case %zu: '%s' lacks '%s'", i, err.msg,
                  bad[i].problem);
    }
    snprintf(csv, sizeof csv, "%s/none.csv", g_dir);
    cr_assert_eq(fpt_replay_load(&r, csv, &err), -1);
    cr_expect(strstr(err.msg, "none.csv: cannot open"), "%s", err.msg);
}
