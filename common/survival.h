// survival.h — Kaplan-Meier estimation for first-passage times (SCIENCE.md
// s1), with Greenwood variance and pointwise confidence intervals.
//
// Times are integer epochs >= 1.  Each observation is (time, event): event 1
// = first passage at `time`, event 0 = right-censored at `time` (still below
// the target at its last epoch).  S(t) = P(T > t), S(0) = 1, a step function
// that drops at event times:  S(t) = prod_{t_i <= t} (1 - d_i / n_i),
// n_i = number at risk at t_i (time >= t_i), d_i = events at t_i.
// Greenwood: Var S(t) = S(t)^2 sum_{t_i <= t} d_i / (n_i (n_i - d_i)).
#ifndef FPT_SURVIVAL_H
#define FPT_SURVIVAL_H

#include <stddef.h>

#include "error.h"

typedef struct fpt_km_step {
    int t;            // epoch of the step (an event time)
    int at_risk, events, censored;   // n_i, d_i, censored at t_i
    double s;         // S(t) just after t
    double gw;        // Greenwood sum up to t: sum d/(n(n-d)) (inf once S = 0)
} fpt_km_step;

typedef struct fpt_km {
    int n, n_events, last_time;   // observations, events, largest time observed
    int n_steps;
    fpt_km_step *steps;           // one per distinct event time, increasing
} fpt_km;

// time[i] >= 1, event[i] in {0, 1}.  Errors on bad input or no observations.
int fpt_km_fit(fpt_km *km, const int *time, const int *event, size_t n, fpt_err *err);
void fpt_km_free(fpt_km *km);

// S(t) for any t >= 0 (1 before the first event).
double fpt_km_survival(const fpt_km *km, int t);
// Greenwood standard error of S(t).
double fpt_km_se(const fpt_km *km, int t);

// Pointwise confidence interval for S(t) at level (e.g. 0.95):
//   FPT_CI_LOGLOG  the "exponential Greenwood" interval on log(-log S), as
//                  lifelines does by default;
//   FPT_CI_LOG     on log S, as R's survfit does by default.
typedef enum fpt_ci_kind { FPT_CI_LOGLOG, FPT_CI_LOG } fpt_ci_kind;
void fpt_km_ci(const fpt_km *km, int t, double level, fpt_ci_kind kind, double *lo, double *hi);

// Restricted mean to the horizon tau: E[min(T, tau)] = sum_{t=0}^{tau-1} S(t).
double fpt_km_restricted_mean(const fpt_km *km, int tau);
// The median: the first t with S(t) <= 0.5, or 0 when S never gets there
// ("not reached").
int fpt_km_median(const fpt_km *km);

#endif
