// survival.h — Kaplan-Meier estimation for first-passage times (docs/SCIENCE.md
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

#include "base/error.h"

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

// The same product on counts, for resampling loops that cannot afford the
// bookkeeping: S[0..h] from events d[t] and censorings c[t] (t = 1..h; index
// 0 unused) over n runs, each run counted once at its time (clamped to h).
void fpt_km_counts(const int *d, const int *c, int n, int h, double *S);

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

// Median interval as R's survfit reports it (Brookmeyer-Crowley style, from
// the pointwise band at `level`, see fpt_km_ci): lo = the first event time
// where the band's LOWER limit is <= 0.5, hi = the first event time where its
// UPPER limit is <= 0.5, so lo <= median <= hi; epochs, 0 = not reached.
// Where S = 0 the band is undefined (infinite Greenwood variance) and, as in
// R, that step is skipped.
void fpt_km_median_ci(const fpt_km *km, double level, fpt_ci_kind kind, int *lo, int *hi);

// Exponential tail past epoch t0 (docs/SCIENCE.md s1), fitted by maximum
// likelihood with right-censoring.  T is a whole number of epochs, so the tail
// is geometric: P(T = t0 + j | T > t0) = h (1-h)^(j-1).  Each run with
// time > t0 has (time - t0) epochs at risk; events d = first passages after
// t0, exposure X = sum (time - t0), and the likelihood is h^d (1-h)^(X-d):
//   h = d / X (per epoch),  k = -ln(1 - h), so S(t) ~ S(t0) exp(-k (t - t0)).
// Standard error by the delta method from the observed information
// I(h) = d/h^2 + (X-d)/(1-h)^2 = X^3 / (d (X-d)):
//   se_h = 1/sqrt(I) = sqrt(h (1-h) / X),  se_k = se_h / (1 - h).
typedef struct fpt_tail {
    int t0;             // epochs
    int n_at_risk;      // runs with time > t0
    int events;         // d
    double exposure;    // X, epochs
    double h, k, k_se;  // per epoch
} fpt_tail;

// time[i] >= 1, event[i] in {0, 1}, t0 >= 0.  Errors when no run is at risk
// past t0, or no first passage happens past t0 (rate 0: no finite
// extrapolated mean).  h = 1 (every run at risk ends at t0 + 1) is allowed:
// k = INFINITY, k_se = 0.
int fpt_tail_fit(const int *time, const int *event, size_t n, int t0, fpt_tail *out, fpt_err *err);

// Extrapolated mean (label it "extrapolated"): the KM curve up to horizon - 1,
// then the geometric tail S(t) = S_KM(horizon) (1-h)^(t - horizon) for
// t >= horizon, summed exactly:
//   <T> = sum_{t<horizon} S_KM(t) + S_KM(horizon) / h          (epochs)
// NAN when horizon < 0 or h is not in (0, 1].
// The geometric tail's sums beyond the horizon, per unit of S(horizon), for
// S(t) = S(horizon) q^(t - horizon), q = 1 - h:
//   *s1 = sum_{j>=0} q^j = 1/h                          (its part of E[T])
//   *s2 = sum_{j>=0} (2(horizon+j)+1) q^j
//       = (2 horizon + 1)/h + 2 q/h^2                   (its part of E[T^2])
void fpt_geometric_tail_sums(int horizon, double h, double *s1, double *s2);
double fpt_km_extrapolated_mean(const fpt_km *km, int horizon, const fpt_tail *tail);
// The second moment likewise, E[T^2] = sum_{t>=0} (2t+1) S(t), with the tail
//   sum_{t>=H} (2t+1) S(H) q^(t-H) = S(H) ((2H+1)/h + 2q/h^2),  q = 1 - h
// (epochs^2).  NAN as above.
double fpt_km_extrapolated_second_moment(const fpt_km *km, int horizon, const fpt_tail *tail);

#endif
