// test_survival.c — Kaplan-Meier, Greenwood and confidence intervals on a
// small censored sample worked out by hand, and on a large geometric sample
// whose survival is known in closed form.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "rng.h"
#include "survival.h"

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
