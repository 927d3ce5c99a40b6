// test_ks.c — the two-sample Kolmogorov-Smirnov test against statistics
// worked by hand, the Kolmogorov distribution against its classic table
// values, and the relaxation time on accuracy matrices with a known answer.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "analysis/ks.h"
#include "base/rng.h"

// ---- the statistic D -------------------------------------------------------

// Ties within and across samples.  x = {2, 1, 3, 2}, y = {3, 2, 5, 3, 4}.
// The CDFs after each distinct value of the pooled sample:
//   v:       1     2     3     4     5
//   F_x:    1/4   3/4    1     1     1
//   F_y:     0    1/5   3/5   4/5    1
//   |diff|: 0.25  0.55  0.40  0.20   0      D = 0.55 = 11/20
// (Stepping one element at a time instead of one distinct value would see
// F_x = 3/4 against F_y = 0 at v = 2 and report 0.75.)
Test(ks, ties_within_and_across_samples) {
    const double x[4] = {2, 1, 3, 2}, y[5] = {3, 2, 5, 3, 4};
    fpt_ks k;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_ks_2samp(x, 4, y, 5, &k, &err), 0, "%s", err.msg);
    cr_expect(fabs(k.d - 0.55) < 1e-15, "D = %.17g", k.d);
    cr_expect_eq(k.n, 4);
    cr_expect_eq(k.m, 5);
    // The statistic is symmetric in its samples.
    cr_assert_eq(fpt_ks_2samp(y, 5, x, 4, &k, &err), 0);
    cr_expect(fabs(k.d - 0.55) < 1e-15, "D = %.17g", k.d);
}

// Unequal sizes, given unsorted.  x = {3, 5, 8} (n = 3), y = {1, 2, 4, 6, 7,
// 9, 10} (m = 7).  F_x - F_y after each value, in 21sts:
//   1: 0-3 = -3   2: 0-6 = -6   3: 7-6 = 1    4: 7-9 = -2   5: 14-9 = 5
//   6: 14-12 = 2  7: 14-15 = -1 8: 21-15 = 6  9: 21-18 = 3  10: 21-21 = 0
// D = 6/21 = 2/7, reached twice (v = 2 and v = 8).
Test(ks, unequal_sizes_unsorted_input_untouched) {
    double x[3] = {8, 3, 5}, y[7] = {10, 1, 7, 4, 9, 2, 6};
    const double x0[3] = {8, 3, 5}, y0[7] = {10, 1, 7, 4, 9, 2, 6};
    fpt_ks k;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_ks_2samp(x, 3, y, 7, &k, &err), 0, "%s", err.msg);
    cr_expect(fabs(k.d - 2.0 / 7.0) < 1e-15, "D = %.17g", k.d);
    cr_expect(memcmp(x, x0, sizeof x) == 0 && memcmp(y, y0, sizeof y) == 0,
              "inputs must not be sorted in place");
}

// Identical samples (in another order): the CDFs agree everywhere, D = 0,
// and Q_KS(0) = 1.  Samples of different sizes with the same CDF (each value
// of x twice in y) also give D = 0 exactly.
Test(ks, identical_samples_give_zero) {
    const double x[5] = {0.3, 0.1, 0.2, 0.2, 0.5}, y[5] = {0.5, 0.2, 0.1, 0.3, 0.2};
    const double x2[3] = {1, 2, 3}, y2[6] = {3, 1, 2, 2, 3, 1};
    fpt_ks k;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_ks_2samp(x, 5, y, 5, &k, &err), 0);
    cr_expect_eq(k.d, 0.0);
    cr_expect_eq(k.p, 1.0);
    cr_assert_eq(fpt_ks_2samp(x2, 3, y2, 6, &k, &err), 0);
    cr_expect_eq(k.d, 0.0, "D = %.17g", k.d);
    cr_expect_eq(k.p, 1.0);
    // One value each: equal values D = 0, different values D = 1.
    const double a = 1.0, b = 2.0;
    cr_assert_eq(fpt_ks_2samp(&a, 1, &a, 1, &k, &err), 0);
    cr_expect_eq(k.d, 0.0);
    cr_assert_eq(fpt_ks_2samp(&a, 1, &b, 1, &k, &err), 0);
    cr_expect_eq(k.d, 1.0);
}

// Disjoint samples: every x below every y, so F_x reaches 1 before F_y leaves
// 0 and D = 1.  x = {1..4}, y = {5..8}: n = m = 4, ne = 16/8 = 2,
//   lambda = (sqrt 2 + 0.12 + 0.11/sqrt 2) * 1 = 1.41421356 + 0.12 + 0.07778175
//          = 1.61199531
//   p = 2 (exp(-2 l^2) - exp(-8 l^2) + ...) = 2 (5.53281e-3 - 9.4e-10) = 0.0110656
Test(ks, disjoint_samples_give_one) {
    const double x[4] = {4, 3, 2, 1}, y[4] = {5, 6, 7, 8};
    fpt_ks k;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_ks_2samp(x, 4, y, 4, &k, &err), 0);
    cr_expect_eq(k.d, 1.0);
    cr_expect(fabs(k.p - 0.0110656) < 1e-6, "p = %.9g", k.p);
}

// ---- the Kolmogorov distribution --------------------------------------------

// Classic table values of the Kolmogorov distribution K = lim sqrt(n) D_n
// (Smirnov 1948; the asymptotic critical values of every statistics table):
// P(K > 1.2238) = 0.10, P(K > 1.3581) = 0.05, P(K > 1.6276) = 0.01; the
// median 0.8276 (P = 0.50); P(K <= 1.0) = 0.7300 and P(K <= 0.5) = 0.0361,
// which test the small-lambda branch of the evaluation.  The table's lambdas
// are rounded to 4 digits; the density of K is at most 1.69 (near 0.74), so
// that moves Q by less than 1.69 * 5e-5 = 8.5e-5: compare to 1e-4.
Test(ks, kolmogorov_table_values) {
    static const struct {
        double lambda, q;
    } table[] = {
        {1.2238, 0.10}, {1.3581, 0.05}, {1.6276, 0.01}, {0.8276, 0.50}, {1.0, 0.2700},
        {0.5, 1.0 - 0.0361},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        double q = fpt_kolmogorov_q(table[i].lambda);
        cr_expect(fabs(q - table[i].q) < 1e-4, "Q(%g) = %.7f, table %.4f", table[i].lambda, q,
                  table[i].q);
    }
    cr_expect_eq(fpt_kolmogorov_q(0.0), 1.0, "Q(0) = 1");
    cr_expect_eq(fpt_kolmogorov_q(-1.0), 1.0);
    cr_expect(fabs(fpt_kolmogorov_q(0.2) - 1.0) < 1e-12, "Q(0.2) = 1 - 5e-13");
    cr_expect(fpt_kolmogorov_q(10.0) < 1e-80, "Q(10) = 2 exp(-200)");
    cr_expect(isnan(fpt_kolmogorov_q(NAN)));
    // Q is a survival function: non-increasing, including across the switch
    // between the two series at 1.18.
    double prev = 1.0;
    for (double l = 0.01; l < 3.0; l += 0.01) {
        double q = fpt_kolmogorov_q(l);
        cr_expect(q <= prev + 1e-15 && q >= 0.0, "Q(%g) = %.17g after %.17g", l, q, prev);
        prev = q;
    }
}

// ---- the p-value -----------------------------------------------------------

// The tied sample above: D = 0.55, n = 4, m = 5.  By hand:
//   ne = 20/9 = 2.2222222, sqrt(ne) = 1.4907120, 0.11/sqrt(ne) = 0.0737904
//   lambda = 0.55 * (1.4907120 + 0.12 + 0.0737904) = 0.55 * 1.6845024 = 0.9264763
//   lambda^2 = 0.8583584
//   p = 2 (exp(-1.7167168) - exp(-6.8668672) + exp(-15.450451))
//     = 2 (0.1796550 - 0.0010417 + 0.0000002) = 0.3572270
Test(ks, p_value_by_hand) {
    const double x[4] = {2, 1, 3, 2}, y[5] = {3, 2, 5, 3, 4};
    fpt_ks k;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_ks_2samp(x, 4, y, 5, &k, &err), 0);
    cr_expect(fabs(k.p - 0.3572271) < 2e-7, "p = %.9f", k.p);
}

// A realistic size: 1000 runs against 1000, ne = 500.  The textbook 5%
// critical value is 1.358 sqrt((n + m)/(n m)) = 0.0607; with Stephens'
// correction lambda = (22.36068 + 0.12 + 0.00492) D, so
//   D = 0.0607: lambda = 1.364876, p = 2 (e^-3.725773 - e^-14.90309) = 0.04819
// Samples x = {0, ..., 999} and y = x + s - 0.5 give D = s / 1000 exactly
// (F_x leads F_y by s values everywhere in the overlap), so D = 0.060 and
// 0.061 bracket the critical value: p > 0.05 and p < 0.05.
Test(ks, realistic_size_near_five_percent) {
    enum { N = 1000 };
    static double x[N], y[N];
    cr_expect(fabs(fpt_kolmogorov_q((sqrt(500.0) + 0.12 + 0.11 / sqrt(500.0)) * 0.0607) - 0.04819) <
                  1e-5,
              "p(D = 0.0607) = 0.04819");
    fpt_ks k;
    fpt_err err = {{0}};
    for (int s = 60; s <= 61; s++) {
        for (int i = 0; i < N; i++) x[i] = i, y[i] = i + s - 0.5;
        cr_assert_eq(fpt_ks_2samp(x, N, y, N, &k, &err), 0);
        cr_expect(fabs(k.d - s / 1000.0) < 1e-15, "D = %.17g", k.d);
        if (s == 60) cr_expect(k.p > 0.05 && k.p < 0.06, "D = 0.060: p = %.5f", k.p);
        else cr_expect(k.p < 0.05 && k.p > 0.04, "D = 0.061: p = %.5f", k.p);
    }
}

// What a p-value means: under the null (both samples from one law) it is
// about uniform, so P(p < 0.05) is about 0.05.  400 pairs of normal samples
// of 100.  D moves in steps of 0.01 and p < 0.05 means D >= 0.19 here
// (lambda = 7.2067 D); the exact null P(D >= 0.19) for n = m = 100 is 0.0539
// (Hodges' lattice-path count: the paths of 100 x- and 100 y-steps that keep
// |i - j| < 19, over C(200, 100)).  So the count of rejections is
// Binomial(400, 0.0539), mean 21.6, sd 4.5: allow 8..36 (-+ 3 sd).
Test(ks, p_value_calibrated_under_null) {
    enum { PAIRS = 400, N = 100 };
    static float fx[N], fy[N];
    static double x[N], y[N];
    int rejected = 0;
    for (int i = 0; i < PAIRS; i++) {
        fpt_rng_fill_normal(11, FPT_RNG_TEST, 2 * i, fx, N, 0.0f, 1.0f);
        fpt_rng_fill_normal(11, FPT_RNG_TEST, 2 * i + 1, fy, N, 0.0f, 1.0f);
        for (int j = 0; j < N; j++) x[j] = fx[j], y[j] = fy[j];
        fpt_ks k;
        fpt_err err = {{0}};
        cr_assert_eq(fpt_ks_2samp(x, N, y, N, &k, &err), 0);
        rejected += k.p < 0.05;
    }
    cr_expect(rejected >= 8 && rejected <= 36, "%d of %d rejected at 5%%", rejected, PAIRS);
}

Test(ks, bad_input_is_refused) {
    const double x[3] = {1, NAN, 3}, y[2] = {1, 2};
    fpt_ks k;
    fpt_err err = {{0}};
    cr_expect_eq(fpt_ks_2samp(x, 3, y, 2, &k, &err), -1);
    cr_expect(strstr(err.msg, "first sample has NaN at index 1"), "%s", err.msg);
    cr_expect_eq(fpt_ks_2samp(y, 2, x, 3, &k, &err), -1);
    cr_expect(strstr(err.msg, "second sample has NaN at index 1"), "%s", err.msg);
    cr_expect_eq(fpt_ks_2samp(y, 0, y, 2, &k, &err), -1);
    cr_expect(strstr(err.msg, "expected at least 1 each"), "%s", err.msg);
}

// ---- relaxation time ---------------------------------------------------------

// A deterministic matrix: R runs, the accuracy of run r at a stationary epoch
// is a permutation (rotated by the epoch) of {60.0, 60.1, ...}, so its
// distribution is exactly that of the reference (D = 0, p = 1); a "shifted"
// epoch is that set minus 50, wholly below the reference (D = 1).  With
// R = 10: ne = 5, lambda = (2.2360680 + 0.12 + 0.0491935) * 1 = 2.4052615,
// p = 2 exp(-2 * 5.7852830) = 1.888e-5 (the next term, e^-46, is nothing).
enum { R = 10, STRIDE = 25, REF = 20 };

static void fill_matrix(double *acc, const int *shifted, int n_shifted) {
    for (int r = 0; r < R; r++)
        for (int e = 1; e <= STRIDE; e++) {
            double v = 60.0 + 0.1 * ((r + e) % R);
            for (int i = 0; i < n_shifted; i++)
                if (shifted[i] == e) v -= 50.0;
            // Epochs past the reference must not be read.
            acc[r * STRIDE + e - 1] = e > REF ? NAN : v;
        }
}

static int t_rel_of(const int *shifted, int n_shifted, int window) {
    double acc[R * STRIDE];
    fill_matrix(acc, shifted, n_shifted);
    fpt_relax rel;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_relaxation_time(acc, R, STRIDE, REF, 0.05, window, &rel, &err), 0, "%s",
                 err.msg);
    int t = rel.t_rel;
    fpt_relax_free(&rel);
    return t;
}

// Shifted epochs 1..11: the distribution stops changing at 12.
Test(ks, relaxation_deterministic_shift) {
    const int shifted[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    double acc[R * STRIDE];
    fill_matrix(acc, shifted, 11);
    fpt_relax rel;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_relaxation_time(acc, R, STRIDE, REF, 0.05, 5, &rel, &err), 0, "%s", err.msg);
    cr_expect_eq(rel.ref_epoch, REF);
    cr_expect_eq(rel.n, REF - 1);
    cr_expect_eq(rel.t_rel, 12);
    for (int t = 1; t < REF; t++) {
        double want_d = t < 12 ? 1.0 : 0.0, want_p = t < 12 ? 1.888e-5 : 1.0;
        cr_expect_eq(rel.d[t - 1], want_d, "D at epoch %d = %g", t, rel.d[t - 1]);
        cr_expect(fabs(rel.p[t - 1] - want_p) < 1e-8, "p at epoch %d = %.6g", t, rel.p[t - 1]);
    }
    fpt_relax_free(&rel);
    cr_expect(rel.d == NULL && rel.p == NULL);
}

// Window semantics on rejecting epochs {1..5, 8, 14} with the reference at 20
// (epochs compared: 1..19).  t_rel is the first t whose window [t, t+w),
// clipped to < 20, holds no rejection:
//   w = 1, 2: 6 ({6}, {6,7})          w = 3: 9 (6..8 and 7..9 hold 8)
//   w = 6: 15 (9..14 holds 14; 15..20 clips to 15..19)   w = 100: 15
// Rejections at the odd epochs 1, 3, ..., 19: with w = 1 the first even
// epoch, 2, qualifies; with w >= 2 every window holds an odd epoch (t = 19's
// clipped window is {19} itself), so there is no t: t_rel = 0, as when every
// epoch rejects.  Rejections at 1..18 leave only t = 19, whose clipped window
// is {19} alone: t_rel = 19 whatever the window.
Test(ks, relaxation_window_semantics) {
    const int s[7] = {1, 2, 3, 4, 5, 8, 14};
    cr_expect_eq(t_rel_of(s, 7, 1), 6);
    cr_expect_eq(t_rel_of(s, 7, 2), 6);
    cr_expect_eq(t_rel_of(s, 7, 3), 9);
    cr_expect_eq(t_rel_of(s, 7, 6), 15);
    cr_expect_eq(t_rel_of(s, 7, 100), 15);
    int odd[10], all[19];
    for (int i = 0; i < 10; i++) odd[i] = 2 * i + 1;
    for (int i = 0; i < 19; i++) all[i] = i + 1;
    cr_expect_eq(t_rel_of(odd, 10, 1), 2);
    cr_expect_eq(t_rel_of(odd, 10, 2), 0, "never stops rejecting for two epochs");
    cr_expect_eq(t_rel_of(odd, 10, 5), 0);
    cr_expect_eq(t_rel_of(all, 19, 1), 0, "never stops rejecting");
    cr_expect_eq(t_rel_of(all, 18, 5), 19);
    cr_expect_eq(t_rel_of(NULL, 0, 5), 1, "stationary from the start");
}

// Random accuracies: epoch e of run r is 70 + N(0, 1) + 0.5 (12 - e) for
// e < 12 and 70 + N(0, 1) from 12 on, drawn independently for every epoch.
// 400 runs: at e = 11 the shift is half a standard deviation, so the
// population D is 2 Phi(0.25) - 1 = 0.197 and lambda = 14.27 * 0.197 = 2.8,
// p ~ 3e-7: every epoch before 12 rejects.  From 12 on the null holds; with
// this seed no epoch in 12..16 rejects at 1%, so t_rel = 12 (window 5).
Test(ks, relaxation_random_shift) {
    enum { RUNS = 400, E = 40, REFR = 35 };
    static double acc[RUNS * E];
    static float z[RUNS];
    for (int e = 1; e <= E; e++) {
        fpt_rng_fill_normal(7, FPT_RNG_TEST, e, z, RUNS, 0.0f, 1.0f);
        double shift = e < 12 ? 0.5 * (12 - e) : 0.0;
        for (int r = 0; r < RUNS; r++) acc[r * E + e - 1] = 70.0 + z[r] + shift;
    }
    fpt_relax rel;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_relaxation_time(acc, RUNS, E, REFR, 0.01, 5, &rel, &err), 0, "%s", err.msg);
    for (int t = 1; t < 12; t++)
        cr_expect(rel.p[t - 1] < 1e-4, "epoch %d: D = %.4f p = %.3g", t, rel.d[t - 1],
                  rel.p[t - 1]);
    cr_expect_eq(rel.t_rel, 12);
    // Under the null most epochs do not reject at 1%.
    int ok = 0;
    for (int t = 12; t < REFR; t++) ok += rel.p[t - 1] >= 0.01;
    cr_expect_geq(ok, REFR - 12 - 2, "%d of %d stationary epochs not rejected", ok, REFR - 12);
    fpt_relax_free(&rel);
}

Test(ks, relaxation_bad_input_is_refused) {
    double acc[R * STRIDE];
    fill_matrix(acc, NULL, 0);
    fpt_relax rel;
    fpt_err err = {{0}};
    cr_expect_eq(fpt_relaxation_time(acc, 1, STRIDE, REF, 0.05, 5, &rel, &err), -1);
    cr_expect(strstr(err.msg, "1 runs (expected at least 2)"), "%s", err.msg);
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, 1, 0.05, 5, &rel, &err), -1);
    cr_expect(strstr(err.msg, "reference epoch 1 out of range (expected 2 <= ref_epoch <= 25"),
              "%s", err.msg);
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, 26, 0.05, 5, &rel, &err), -1);
    cr_expect(strstr(err.msg, "reference epoch 26 out of range"), "%s", err.msg);
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, REF, 0.0, 5, &rel, &err), -1);
    cr_expect(strstr(err.msg, "expected 0 < alpha < 1"), "%s", err.msg);
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, REF, 1.0, 5, &rel, &err), -1);
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, REF, 0.05, 0, &rel, &err), -1);
    cr_expect(strstr(err.msg, "window of 0 epochs (expected >= 1)"), "%s", err.msg);
    // The reference epoch is read: with REF = 21 it is NaN.
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, 21, 0.05, 5, &rel, &err), -1);
    cr_expect(strstr(err.msg, "run 0 has NaN test accuracy at epoch 21"), "%s", err.msg);
    // A NaN at an epoch before the reference.
    acc[3 * STRIDE + 6] = NAN;
    cr_expect_eq(fpt_relaxation_time(acc, R, STRIDE, REF, 0.05, 5, &rel, &err), -1);
    cr_expect(strstr(err.msg, "run 3 has NaN test accuracy at epoch 7"), "%s", err.msg);
    cr_expect(rel.d == NULL && rel.p == NULL, "nothing allocated on failure");
}

// ---- relaxation by effect size (fpt_relaxation_drift) ------------------------

// R runs, H epochs.  From epoch K on, every epoch's accuracies are a
// permutation of {60.0, 60.1, ..., 60.9} (D = 0 between any two of them);
// before K, epoch e is that set minus 5 (K - e), wholly below every later
// epoch (D = 1 against any other).  So D(t) = 1 for t < K and 0 from K on,
// the late floor is 0 and t_rel = K.  With `creep`, run 0's value is 99 at
// the even epochs from K on: two epochs W apart (W odd) then differ in one
// run of R, D = 1/R = 0.1 exactly, and that is the floor: a bound without it
// (tolerance 0.05 alone) would never be met.
enum { DR = 10, DH = 40, DK = 12 };

static void drift_matrix(double *acc, int creep) {
    for (int r = 0; r < DR; r++)
        for (int e = 1; e <= DH; e++) {
            double v = 60.0 + 0.1 * ((r + e) % DR);
            if (e < DK) v -= 5.0 * (DK - e);
            else if (creep && r == 0 && e % 2 == 0) v = 99.0;
            acc[r * DH + e - 1] = v;
        }
}

Test(ks, drift_deterministic_relaxation) {
    double acc[DR * DH];
    drift_matrix(acc, 0);
    fpt_drift dr;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_relaxation_drift(acc, DR, DH, DH, 5, 0.05, &dr, &err), 0, "%s", err.msg);
    cr_expect_eq(dr.n, DH - 5);
    cr_expect_eq(dr.floor, 0.0);
    cr_expect_eq(dr.t_rel, DK);
    for (int t = 1; t <= dr.n; t++)
        cr_expect_eq(dr.d[t - 1], t < DK ? 1.0 : 0.0, "D(%d) = %g", t, dr.d[t - 1]);
    fpt_drift_free(&dr);
    cr_expect(dr.d == NULL);
}

Test(ks, drift_floor_is_measured_from_the_late_epochs) {
    double acc[DR * DH];
    drift_matrix(acc, 1);
    fpt_drift dr;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_relaxation_drift(acc, DR, DH, DH, 5, 0.05, &dr, &err), 0, "%s", err.msg);
    cr_expect(fabs(dr.floor - 0.1) < 1e-15, "floor %g, expected 1/R = 0.1", dr.floor);
    cr_expect_eq(dr.t_rel, DK);
    for (int t = DK; t <= dr.n; t++)
        cr_expect(fabs(dr.d[t - 1] - 0.1) < 1e-15, "D(%d) = %g", t, dr.d[t - 1]);
    fpt_drift_free(&dr);
    // Horizon 30 instead of 40: the same late floor, the same t_rel.
    cr_assert_eq(fpt_relaxation_drift(acc, DR, DH, 30, 5, 0.05, &dr, &err), 0, "%s", err.msg);
    cr_expect_eq(dr.t_rel, DK);
    cr_expect(fabs(dr.floor - 0.1) < 1e-15, "floor %g", dr.floor);
    fpt_drift_free(&dr);
}

Test(ks, drift_rejects_what_it_cannot_measure) {
    double acc[DR * DH];
    drift_matrix(acc, 0);
    fpt_drift dr;
    fpt_err err = {{0}};
    cr_expect_eq(fpt_relaxation_drift(acc, DR, DH, 10, 5, 0.05, &dr, &err), -1);
    cr_expect(strstr(err.msg, "more than twice the window"), "%s", err.msg);
    cr_expect_eq(fpt_relaxation_drift(acc, DR, DH, DH + 1, 5, 0.05, &dr, &err), -1);
    cr_expect_eq(fpt_relaxation_drift(acc, DR, DH, DH, 5, 1.5, &dr, &err), -1);
    acc[3 * DH + 7] = NAN;
    cr_expect_eq(fpt_relaxation_drift(acc, DR, DH, DH, 5, 0.05, &dr, &err), -1);
    cr_expect(strstr(err.msg, "NaN"), "%s", err.msg);
}
