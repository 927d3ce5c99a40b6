// test_survival.c — Kaplan-Meier, Greenwood and confidence intervals on a
// small censored sample worked out by hand, and on a large geometric sample
// whose survival is known in closed form.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "analysis/survival.h"

// Six runs: first passages at epochs 1, 3, 3, 5; censored at 2 and 4.
//   t = 1: n = 6, d = 1   S = 5/6             Greenwood sum 1/(6*5)       = 1/30
//   t = 2: one censored   S = 5/6
//   t = 3: n = 4, d = 2   S = 5/6 * 2/4 = 5/12  sum 1/30 + 2/(4*2)       = 0.28333...
//   t = 4: one censored   S = 5/12
//   t = 5: n = 1, d = 1   S = 0
// se S(3) = 5/12 * sqrt(0.28333) = 0.22178777.  95% intervals at t = 3
// (z = 1.959964), by hand and rechecked with Python's math module:
//   log-log ("exponential Greenwood", lifelines): S^exp(+-z sqrt(sum)/|ln S|)
//            = [0.05599186, 0.76652222]
//   log (R survfit): S exp(+-z sqrt(sum)) = [0.14679192, 1.18 -> capped at 1]
// Restricted mean to 5: S(0)+...+S(4) = 1 + 5/6 + 5/6 + 5/12 + 5/12 = 3.5.
// Median: the first t with S(t) <= 0.5 is 3.
static const int TIME[6] = {1, 2, 3, 3, 4, 5};
static const int EVENT[6] = {1, 0, 1, 1, 0, 1};

Test(survival, kaplan_meier_by_hand) {
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, TIME, EVENT, 6, &err), 0, "%s", err.msg);
    cr_expect_eq(km.n, 6);
    cr_expect_eq(km.n_events, 4);
    cr_assert_eq(km.n_steps, 3);
    cr_expect_eq(km.steps[1].t, 3);
    cr_expect_eq(km.steps[1].at_risk, 4);
    cr_expect_eq(km.steps[1].events, 2);
    const double want[7] = {1.0, 5.0 / 6, 5.0 / 6, 5.0 / 12, 5.0 / 12, 0.0, 0.0};
    for (int t = 0; t <= 6; t++)
        cr_expect(fabs(fpt_km_survival(&km, t) - want[t]) < 1e-12, "S(%d) = %.15g", t,
                  fpt_km_survival(&km, t));
    cr_expect(fabs(fpt_km_se(&km, 3) - 0.22178777) < 1e-7, "se %.9g", fpt_km_se(&km, 3));
    double lo, hi;
    fpt_km_ci(&km, 3, 0.95, FPT_CI_LOGLOG, &lo, &hi);
    cr_expect(fabs(lo - 0.05599186) < 1e-7 && fabs(hi - 0.76652222) < 1e-7, "loglog [%.9g, %.9g]",
              lo, hi);
    fpt_km_ci(&km, 3, 0.95, FPT_CI_LOG, &lo, &hi);
    cr_expect(fabs(lo - 0.14679192) < 1e-7 && hi == 1.0, "log [%.9g, %.9g]", lo, hi);
    fpt_km_ci(&km, 0, 0.95, FPT_CI_LOGLOG, &lo, &hi);
    cr_expect(lo == 1.0 && hi == 1.0, "S(0) = 1 exactly");
    cr_expect(fabs(fpt_km_restricted_mean(&km, 5) - 3.5) < 1e-12);
    cr_expect(fabs(fpt_km_restricted_mean(&km, 1) - 1.0) < 1e-12, "E[min(T,1)] = S(0) = 1");
    cr_expect_eq(fpt_km_median(&km), 3);
    fpt_km_free(&km);
}

Test(survival, all_censored_median_not_reached) {
    const int t[3] = {10, 10, 10}, e[3] = {0, 0, 0};
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, t, e, 3, &err), 0);
    cr_expect_eq(fpt_km_survival(&km, 10), 1.0);
    cr_expect_eq(fpt_km_median(&km), 0, "not reached");
    cr_expect(fabs(fpt_km_restricted_mean(&km, 10) - 10.0) < 1e-12);
    fpt_km_free(&km);
}

Test(survival, bad_input_is_refused) {
    fpt_km km;
    fpt_err err = {{0}};
    const int t[2] = {1, 0}, e[2] = {1, 1};
    cr_expect_eq(fpt_km_fit(&km, t, e, 2, &err), -1);
    cr_expect(strstr(err.msg, "observation 1 has time 0"), "%s", err.msg);
    const int t2[1] = {3}, e2[1] = {2};
    cr_expect_eq(fpt_km_fit(&km, t2, e2, 1, &err), -1);
    cr_expect(strstr(err.msg, "event 2"), "%s", err.msg);
    cr_expect_eq(fpt_km_fit(&km, t2, e2, 0, &err), -1);
}

// Geometric first passages, P(T = t) = p (1-p)^(t-1), censored at 12:
// S(t) = (1-p)^t exactly, E[min(T, 12)] = (1 - (1-p)^12) / p.  The estimate
// must be within 4 Greenwood standard errors, and the 95% log-log interval
// must cover the truth at (almost) every t.
Test(survival, geometric_sample_matches_closed_form) {
    enum { N = 20000, HORIZON = 12 };
    const double p = 0.2;
    static int t[N], e[N];
    fpt_rng r;
    fpt_rng_init(&r, 5, FPT_RNG_TEST, 0);
    for (int i = 0; i < N; i++) {
        int k = 1;
        while (fpt_rng_uniform(&r) >= p) k++;
        t[i] = k <= HORIZON ? k : HORIZON;
        e[i] = k <= HORIZON;
    }
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, t, e, N, &err), 0);
    int covered = 0;
    for (int s = 1; s <= HORIZON; s++) {
        double truth = pow(1 - p, s), est = fpt_km_survival(&km, s), se = fpt_km_se(&km, s), lo,
               hi;
        cr_expect(fabs(est - truth) < 4 * se, "S(%d) = %.5f, truth %.5f, se %.5f", s, est, truth,
                  se);
        fpt_km_ci(&km, s, 0.95, FPT_CI_LOGLOG, &lo, &hi);
        covered += lo <= truth && truth <= hi;
    }
    cr_expect_geq(covered, HORIZON - 2, "95%% intervals covered the truth at %d of %d epochs",
                  covered, HORIZON);
    double rm = (1 - pow(1 - p, HORIZON)) / p;
    cr_expect(fabs(fpt_km_restricted_mean(&km, HORIZON) - rm) < 0.05, "restricted mean %.4f vs %.4f",
              fpt_km_restricted_mean(&km, HORIZON), rm);
    cr_expect_eq(fpt_km_median(&km), 4, "first t with 0.8^t <= 0.5 is 4 (0.8^3 = 0.512)");
    fpt_km_free(&km);
}

// ---- median interval ---------------------------------------------------------

// The six runs above, 95% bands at their event times.  From the comment's
// values, plus t = 1 (S = 5/6, Greenwood sum 1/30, sqrt = 0.1825742,
// |ln S| = 0.1823216):
//   log-log: w = 1.959964 * 0.1825742 / 0.1823216 = 1.962680, e^w = 7.117412
//            band (5/6)^e^(+-w) = [0.2731228, 0.9747124]
//   log:     (5/6) e^(-+1.959964 * 0.1825742) = (5/6) [0.6991858, 1.430235]
//            = [0.5826548, 1.19 -> 1]
//   t = 3:   log-log [0.0559919, 0.7665222], log [0.1467919, 1]
//   t = 5:   S = 0, no band (R gives NA there).
// Log-log: the lower limit is below 0.5 already at t = 1, the upper limit
// never is: [1, not reached].  Log: the lower limit first at t = 3: [3, not
// reached].  The median, 3, lies inside both.
Test(survival, median_ci_by_hand) {
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, TIME, EVENT, 6, &err), 0);
    int lo = -1, hi = -1;
    fpt_km_median_ci(&km, 0.95, FPT_CI_LOGLOG, &lo, &hi);
    cr_expect(lo == 1 && hi == 0, "log-log [%d, %d]", lo, hi);
    fpt_km_median_ci(&km, 0.95, FPT_CI_LOG, &lo, &hi);
    cr_expect(lo == 3 && hi == 0, "log [%d, %d]", lo, hi);
    fpt_km_free(&km);
}

// Twenty runs with first passages at epochs 1, 2, ..., 20: S(t) = (20-t)/20
// and the Greenwood sum telescopes, sum_{i<=t} 1/((21-i)(20-i)) = 1/(20-t) -
// 1/20.  Median: S(10) = 0.5, so 10.  95% log band S e^(-+z sqrt(sum)):
//   t = 6:  S = 0.70, sum = 1/14 - 1/20 = 0.0214286, z sqrt = 0.2869093,
//           lower = 0.70 * 0.7505798 = 0.5254     (> 0.5)
//   t = 7:  S = 0.65, sum = 0.0269231, z sqrt = 0.3215959,
//           lower = 0.65 * 0.7249911 = 0.4712     (<= 0.5: lo = 7)
//   t = 15: S = 0.25, sum = 0.15, z sqrt = 0.7590908,
//           upper = 0.25 * 2.1363330 = 0.5341     (> 0.5)
//   t = 16: S = 0.20, sum = 0.20, z sqrt = 0.8765225,
//           upper = 0.20 * 2.4025305 = 0.4805     (<= 0.5: hi = 16)
// 95% log-log band S^e^(+-w), w = z sqrt(sum) / |ln S|:
//   t = 4:  S = 0.8, sum = 1/80, w = 0.9798, lower = 0.8^2.6640 = 0.5511
//   t = 5:  S = 0.75, sum = 1/60, sqrt = 0.1290994, |ln S| = 0.2876821,
//           w = 0.8795482, e^w = 2.4098108, lower = 0.75^2.4098108 = 0.49994
//           (just <= 0.5: lo = 5)
//   t = 14: S = 0.30, sum = 0.1166667, w = 0.5560384, e^-w = 0.5734764,
//           upper = 0.3^0.5734764 = 0.50135 (> 0.5)
//   t = 15: S = 0.25, w = 0.5475683, e^-w = 0.5783545,
//           upper = 0.25^0.5783545 = 0.44853 (<= 0.5: hi = 15)
Test(survival, median_ci_reached_both_ends) {
    int t[20], e[20];
    for (int i = 0; i < 20; i++) t[i] = i + 1, e[i] = 1;
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, t, e, 20, &err), 0);
    cr_expect_eq(fpt_km_median(&km), 10);
    int lo, hi;
    fpt_km_median_ci(&km, 0.95, FPT_CI_LOG, &lo, &hi);
    cr_expect(lo == 7 && hi == 16, "log [%d, %d]", lo, hi);
    fpt_km_median_ci(&km, 0.95, FPT_CI_LOGLOG, &lo, &hi);
    cr_expect(lo == 5 && hi == 15, "log-log [%d, %d]", lo, hi);
    fpt_km_free(&km);
}

// No run reaches the target: S = 1 throughout, no event time, nothing reached.
Test(survival, median_ci_not_reached) {
    const int t[3] = {10, 10, 10}, e[3] = {0, 0, 0};
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, t, e, 3, &err), 0);
    int lo = -1, hi = -1;
    fpt_km_median_ci(&km, 0.95, FPT_CI_LOGLOG, &lo, &hi);
    cr_expect(lo == 0 && hi == 0, "[%d, %d]", lo, hi);
    fpt_km_free(&km);
}

// ---- geometric tail --------------------------------------------------------

// The censored geometric log-likelihood written epoch by epoch, independent
// of the d / X bookkeeping: a run at risk past t0 survives each epoch
// t0+1 .. time-1 (log(1-h) each) and at its last epoch either passes (log h)
// or is censored, still below the target (log(1-h)).
static double tail_loglik(const int *time, const int *event, int n, int t0, double h) {
    double ll = 0.0;
    for (int i = 0; i < n; i++)
        for (int t = t0 + 1; t <= time[i]; t++)
            ll += t == time[i] && event[i] ? log(h) : log(1.0 - h);
    return ll;
}

// The rate form: h = 1 - e^-k.
static double tail_loglik_k(const int *time, const int *event, int n, int t0, double k) {
    return tail_loglik(time, event, n, t0, -expm1(-k));
}

// Golden-section search for the maximum of f on [a, b] (f unimodal).
static double golden_max(double (*f)(const int *, const int *, int, int, double), const int *time,
                         const int *event, int n, int t0, double a, double b) {
    const double g = (sqrt(5.0) - 1.0) / 2.0;
    double c = b - g * (b - a), d = a + g * (b - a);
    for (int i = 0; i < 200 && b - a > 1e-13; i++) {
        if (f(time, event, n, t0, c) > f(time, event, n, t0, d)) b = d;
        else a = c;
        c = b - g * (b - a), d = a + g * (b - a);
    }
    return (a + b) / 2.0;
}

// Observed information -f''(x) by the central second difference.
static double info_at(double (*f)(const int *, const int *, int, int, double), const int *time,
                      const int *event, int n, int t0, double x, double step) {
    return -(f(time, event, n, t0, x + step) - 2.0 * f(time, event, n, t0, x) +
             f(time, event, n, t0, x - step)) /
           (step * step);
}

// Six runs, tail past t0 = 2.  Runs with time > 2: 3 (passes), 4
// (censored), 5 (passes), 6 (censored); the runs at 1 and 2 are not at risk.
//   exposure X = 1 + 2 + 3 + 4 = 10 epochs, events d = 2
//   h = 2/10 = 0.2, k = -ln 0.8 = 0.22314355
//   I(h) = d/h^2 + (X-d)/(1-h)^2 = 2/0.04 + 8/0.64 = 50 + 12.5 = 62.5
//   se_h = 1/sqrt(62.5) = 0.12649111, se_k = se_h / 0.8 = 0.15811388
Test(survival, tail_fit_by_hand) {
    const int t[6] = {1, 3, 4, 5, 6, 2}, e[6] = {1, 1, 0, 1, 0, 1};
    fpt_tail tail;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_tail_fit(t, e, 6, 2, &tail, &err), 0, "%s", err.msg);
    cr_expect_eq(tail.t0, 2);
    cr_expect_eq(tail.n_at_risk, 4);
    cr_expect_eq(tail.events, 2);
    cr_expect_eq(tail.exposure, 10.0);
    cr_expect(fabs(tail.h - 0.2) < 1e-15, "h = %.17g", tail.h);
    cr_expect(fabs(tail.k - 0.22314355) < 1e-8, "k = %.10f", tail.k);
    cr_expect(fabs(tail.k_se - 0.15811388) < 1e-8, "k_se = %.10f", tail.k_se);

    // The same by brute force: maximise the epoch-by-epoch likelihood over h
    // and over k, and take the standard errors from its numerical curvature.
    double h = golden_max(tail_loglik, t, e, 6, 2, 1e-9, 1.0 - 1e-9);
    double se_h = 1.0 / sqrt(info_at(tail_loglik, t, e, 6, 2, h, 1e-4));
    double k = golden_max(tail_loglik_k, t, e, 6, 2, 1e-9, 20.0);
    double se_k = 1.0 / sqrt(info_at(tail_loglik_k, t, e, 6, 2, k, 1e-4));
    cr_expect(fabs(h - tail.h) < 1e-6, "brute-force h = %.9f", h);
    cr_expect(fabs(k - tail.k) < 1e-6, "brute-force k = %.9f", k);
    cr_expect(fabs(se_h - 0.12649111) < 1e-5, "brute-force se_h = %.9f", se_h);
    cr_expect(fabs(se_k - tail.k_se) < 1e-5, "brute-force se_k = %.9f vs %.9f", se_k, tail.k_se);
}

// Every run at risk passes at t0 + 1: h = 1, the law past t0 is a point
// mass, k = infinity with no spread.  Runs {1, 3, 3}, all passing, t0 = 2.
// The extrapolated moments are then exact: S = 1, 2/3, 2/3, 0, so
//   <T> = 1 + 2/3 + S(2)/1 = 7/3 = (1 + 3 + 3)/3
//   <T^2> = 1 + 3 (2/3) + S(2) (5/1 + 0) = 19/3 = (1 + 9 + 9)/3
Test(survival, tail_fit_all_pass_at_once) {
    const int t[3] = {1, 3, 3}, e[3] = {1, 1, 1};
    fpt_tail tail;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_tail_fit(t, e, 3, 2, &tail, &err), 0, "%s", err.msg);
    cr_expect_eq(tail.h, 1.0);
    cr_expect(isinf(tail.k) && tail.k > 0, "k = %g", tail.k);
    cr_expect_eq(tail.k_se, 0.0);
    fpt_km km;
    cr_assert_eq(fpt_km_fit(&km, t, e, 3, &err), 0);
    cr_expect(fabs(fpt_km_extrapolated_mean(&km, 2, &tail) - 7.0 / 3) < 1e-12);
    cr_expect(fabs(fpt_km_extrapolated_second_moment(&km, 2, &tail) - 19.0 / 3) < 1e-12);
    fpt_km_free(&km);
}

// The six-run sample of the top of the file, tail past t0 = 2: at risk
// 3, 3 (pass), 4 (censored), 5 (pass): X = 1 + 1 + 2 + 3 = 7, d = 3, h = 3/7.
// To the horizon 4 the KM curve gives S(0..3) = 1, 5/6, 5/6, 5/12 and
// S(4) = 5/12, so
//   <T>   = 1 + 5/6 + 5/6 + 5/12 + (5/12) / (3/7) = 37/12 + 35/36 = 146/36
//         = 4.0555556
//   <T^2> = 1 + 3 (5/6) + 5 (5/6) + 7 (5/12)            = 127/12
//         + (5/12) (9 / (3/7) + 2 (4/7) / (9/49))       = (5/12)(21 + 56/9)
//                                                       = 1225/108
//         = 2368/108 = 21.925926
// And with horizon 0 the curve is the geometric law itself: <T> = 1/h = 7/3,
// <T^2> = (2-h)/h^2 = (11/7)/(9/49) = 77/9, the textbook moments.
Test(survival, extrapolated_moments_by_hand) {
    fpt_km km;
    fpt_tail tail;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_km_fit(&km, TIME, EVENT, 6, &err), 0);
    cr_assert_eq(fpt_tail_fit(TIME, EVENT, 6, 2, &tail, &err), 0, "%s", err.msg);
    cr_expect(tail.events == 3 && tail.exposure == 7.0, "d = %d, X = %g", tail.events,
              tail.exposure);
    double m = fpt_km_extrapolated_mean(&km, 4, &tail);
    double m2 = fpt_km_extrapolated_second_moment(&km, 4, &tail);
    cr_expect(fabs(m - 146.0 / 36) < 1e-12, "mean %.15g", m);
    cr_expect(fabs(m2 - 2368.0 / 108) < 1e-12, "second moment %.15g", m2);
    cr_expect(fabs(fpt_km_extrapolated_mean(&km, 0, &tail) - 7.0 / 3) < 1e-12);
    cr_expect(fabs(fpt_km_extrapolated_second_moment(&km, 0, &tail) - 77.0 / 9) < 1e-12);
    fpt_tail bad = tail;
    bad.h = 0.0;
    cr_expect(isnan(fpt_km_extrapolated_mean(&km, 4, &bad)), "h = 0: no finite mean");
    cr_expect(isnan(fpt_km_extrapolated_mean(&km, -1, &tail)));
    cr_expect(isnan(fpt_km_extrapolated_second_moment(&km, 4, &bad)));
    fpt_km_free(&km);
}

// A large geometric sample, P(T = t) = p (1-p)^(t-1) with p = 0.1, censored
// at 30 epochs (S(30) = 0.9^30 = 4.2% still running).  The tail past t0 = 10
// must recover h = p within 4 standard errors, k = -ln 0.9 = 0.1053605 within
// 4 of its own; and the KM curve to 30 plus the fitted tail must give the
// geometric moments <T> = 1/p = 10 and <T^2> = (2-p)/p^2 = 190 within
// sampling error: sd(T) = sqrt(1-p)/p = 9.487 and sd(T^2) = 411.4 (from
// E[T^4] = 205390), so over 20000 runs the standard errors are 0.067 and
// 2.91; allow 4.5 of them.
Test(survival, tail_recovers_geometric_law) {
    enum { N = 20000, HORIZON = 30, T0 = 10 };
    const double p = 0.1;
    static int t[N], e[N];
    fpt_rng r;
    fpt_rng_init(&r, 9, FPT_RNG_TEST, 1);
    for (int i = 0; i < N; i++) {
        int k = 1;
        while (fpt_rng_uniform(&r) >= p) k++;
        t[i] = k <= HORIZON ? k : HORIZON;
        e[i] = k <= HORIZON;
    }
    fpt_tail tail;
    fpt_km km;
    fpt_err err = {{0}};
    cr_assert_eq(fpt_tail_fit(t, e, N, T0, &tail, &err), 0, "%s", err.msg);
    double se_h = tail.k_se * (1.0 - tail.h);
    cr_expect(fabs(tail.h - p) < 4 * se_h, "h = %.5f, se %.5f", tail.h, se_h);
    cr_expect(fabs(tail.k - (-log(1 - p))) < 4 * tail.k_se, "k = %.5f, se %.5f", tail.k,
              tail.k_se);
    cr_assert_eq(fpt_km_fit(&km, t, e, N, &err), 0);
    double m = fpt_km_extrapolated_mean(&km, HORIZON, &tail);
    double m2 = fpt_km_extrapolated_second_moment(&km, HORIZON, &tail);
    cr_expect(fabs(m - 10.0) < 4.5 * 0.067, "extrapolated mean %.4f vs 10", m);
    cr_expect(fabs(m2 - 190.0) < 4.5 * 2.91, "extrapolated E[T^2] %.3f vs 190", m2);
    // Without the tail the restricted mean is biased low: E[min(T,30)] =
    // (1 - 0.9^30)/0.1 = 9.576.
    cr_expect(fpt_km_restricted_mean(&km, HORIZON) < 9.7);
    fpt_km_free(&km);
}

Test(survival, tail_fit_errors) {
    const int t[4] = {2, 3, 5, 5}, e[4] = {1, 1, 0, 0};
    fpt_tail tail;
    fpt_err err = {{0}};
    cr_expect_eq(fpt_tail_fit(t, e, 4, 5, &tail, &err), -1);
    cr_expect(strstr(err.msg, "no run is still at risk after epoch 5"), "%s", err.msg);
    cr_expect_eq(fpt_tail_fit(t, e, 4, 3, &tail, &err), -1);
    cr_expect(strstr(err.msg, "no first passage after epoch 3 among the 2 runs at risk"), "%s",
              err.msg);
    cr_expect(strstr(err.msg, "no finite extrapolated mean"), "%s", err.msg);
    cr_expect_eq(fpt_tail_fit(t, e, 4, -1, &tail, &err), -1);
    cr_expect(strstr(err.msg, "start epoch -1 (expected >= 0)"), "%s", err.msg);
    const int bad_e[2] = {1, 2}, bad_t[2] = {0, 3};
    cr_expect_eq(fpt_tail_fit(t, bad_e, 2, 1, &tail, &err), -1);
    cr_expect(strstr(err.msg, "observation 1 has event 2"), "%s", err.msg);
    cr_expect_eq(fpt_tail_fit(bad_t, e, 2, 1, &tail, &err), -1);
    cr_expect(strstr(err.msg, "observation 0 has time 0"), "%s", err.msg);
    cr_expect_eq(fpt_tail_fit(t, e, 0, 1, &tail, &err), -1, "no runs at all");
}
