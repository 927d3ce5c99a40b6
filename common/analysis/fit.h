// fit.h — the analysis of an experiment at one target accuracy (docs/SCIENCE.md
// s1, s2, s4): survival per condition, the relaxation time, the
// quasi-stationary response model with bootstrap intervals, and the
// recommendation.  Built by fpt_fit_run() from the runs of an experiment,
// stored in the database's fit tables (results/schema.sql, versions 2 and 6), read
// back by fptfarm plot.
//
// Units: every time is in epochs; accuracies in percent.  A "condition" is
// one (protocol, timing, frequency): frequency is the period tau in epochs
// for periodic timing, the per-epoch probability p for geometric timing, 0
// for the unperturbed baseline (protocol "none", timing "none").
#ifndef FPT_FIT_H
#define FPT_FIT_H

#include <stdint.h>
#include <stdio.h>

#include "analysis/condition.h"
#include "base/error.h"
#include "analysis/survival.h"

#define FPT_FIT_NAME 32

// The models that predict the mean FPT at a frequency (docs/SCIENCE.md s4).
typedef enum fpt_model {
    FPT_MODEL_QSS,       // E[min(T,tau)] + S(tau) <T_p>             (periodic)
    FPT_MODEL_RENEWAL,   // E[min(T,tau)] + S(tau) E[min(T_p,tau)] / P(T_p <= tau)
    FPT_MODEL_RESTART,   // E[min(T,tau)] / P(T <= tau), baseline runs only
    FPT_MODEL_LINEAR,    // <T> + r (<T><T_p*> - <T^2>/2), geometric timing, r = -ln(1-p)
    FPT_MODEL_COUNT
} fpt_model;

const char *fpt_model_name(fpt_model m);   // "qss", "renewal", "restart", "linear"

// How the data bear on the QSS model at a period (docs/SCIENCE.md s4.6), from
// the QSS check (qss_check.c): a measured period is confirmed when the model,
// fed by another period's runs, predicts its mean FPT within the tolerance;
// contradicted when the interval of that relative error lies wholly outside
// it; inconclusive otherwise (more runs would decide).  Periods between
// confirmed measured ones are confirmed; periods at or beyond a contradicted
// one, away from the confirmed block, are contradicted; the rest untested.
typedef enum fpt_support {
    FPT_SUPPORT_UNTESTED = 0,
    FPT_SUPPORT_CONFIRMED,
    FPT_SUPPORT_CONTRADICTED,
    FPT_SUPPORT_INCONCLUSIVE,
    FPT_SUPPORT_COUNT
} fpt_support;

// "untested", "confirmed", "contradicted", "inconclusive"; NULL if out of range.
const char *fpt_support_name(fpt_support s);
// The support named s; -1 if none.
int fpt_support_parse(const char *s);

// One point of a survival curve: S(epoch) with its pointwise interval.
typedef struct fpt_curve_point {
    int epoch;                      // 0..horizon
    int at_risk, events, censored;  // at this epoch (at_risk before its events)
    double s, lo, hi;               // S(epoch) = P(T > epoch) and its interval
} fpt_curve_point;

// The runs of one condition, summarised.
typedef struct fpt_fit_condition {
    char protocol[FPT_FIT_NAME];    // "none", "reset", "shrink_perturb", ...
    char timing[FPT_FIT_NAME];      // "none", "periodic", "geometric"
    double frequency;               // tau (epochs), p, or 0
    int runs;                       // finished runs used (reached + censored)
    int reached, censored;          // first passage within the run / not
    int diverged;                   // diverged before reaching: kept apart
    double rm, rm_lo, rm_hi;        // KM restricted mean E[min(T, horizon)] and
                                    // its bootstrap interval, epochs
    int median, median_lo, median_hi;   // KM median and interval; 0 = not reached
    int tail_t0;                    // exponential tail fitted past this epoch
    double tail_rate, tail_rate_se; // k per epoch (NAN when not estimable)
    double extrap_mean;             // restricted mean + tail (NAN when no tail)
    double final_acc;               // mean over runs of the mean test accuracy of
                                    // the last 10 epochs, percent (NAN: no runs)
    int n_curve;                    // = horizon + 1
    fpt_curve_point *curve;         // S at epochs 0..horizon
} fpt_fit_condition;

// The response model's reference for one perturbing protocol and timing.
typedef struct fpt_fit_protocol {
    char protocol[FPT_FIT_NAME];
    char timing[FPT_FIT_NAME];
    double reference;               // tau0 (periodic) or p0 (geometric); 0 = none usable
    int tp_runs;                    // runs at the reference with T > tau0
    double tp_mean, tp_lo, tp_hi;   // <T_p> (KM restricted to horizon - tau0) and interval
    double tp_tail;                 // S_p at the end of the T_p horizon: > 0 means <T_p>
                                    // is a restricted mean (some runs never reached)
    char why[400];                  // reference == 0: what is missing
    // The QSS check's verdict on this protocol's periods (periodic timing
    // with a reference; all 0 otherwise).  Measured periods bounding the
    // longest run of confirmed ones (the model holds between them), and the
    // contradicted periods nearest to it below and above (the model fails
    // at and beyond them); 0 = none.
    double confirmed_lo, confirmed_hi;
    double contradicted_below, contradicted_above;
} fpt_fit_protocol;

// One comparison of the QSS check (qss_check.c), periodic timing.
typedef enum fpt_qss_kind {
    FPT_QSS_LOO,   // the mean FPT at tau predicted from the runs at `from`
    FPT_QSS_LAW,   // the post-perturbation laws after `from` and after tau
} fpt_qss_kind;

typedef struct fpt_qss_test {
    char protocol[FPT_FIT_NAME];
    fpt_qss_kind kind;
    double tau, from;               // periods, epochs (LAW: from < tau)
    int horizon;                    // epochs the means are restricted to:
                                    // LOO the fit's horizon H, LAW H - tau
    double predicted, measured;     // LOO: E[min(T, H)] predicted from `from`'s
                                    // post-perturbation law and measured at tau;
                                    // LAW: <T_p> restricted to `horizon` after
                                    // `from` and after tau (epochs)
    double distance;                // LAW: sup_t |S_p,from(t) - S_p,tau(t)|, t <= horizon
                                    // (a KS distance between KM curves); LOO: NAN
    double rel, rel_lo, rel_hi;     // (predicted - measured) / measured, interval
    fpt_support verdict;            // confirmed, contradicted or inconclusive
    int decisive;                   // LOO: the comparison tau's verdict rests on
} fpt_qss_test;

// A prediction of the mean FPT at one frequency by one model.
typedef struct fpt_fit_prediction {
    char protocol[FPT_FIT_NAME];
    char timing[FPT_FIT_NAME];
    double frequency;
    fpt_model model;
    double predicted, lo, hi;       // epochs; INFINITY if never reached (S = 1)
    int has_measured;               // runs exist at this frequency:
    double measured, measured_lo, measured_hi;   // their KM restricted mean
    double rel_error;               // (predicted - measured) / measured
    fpt_support support;            // the QSS check's verdict at this frequency
    int valid;                      // 1: inside the model's domain: confirmed, or
                                    // untested/inconclusive with period >= t_rel
                                    // (geometric: 1/p >= t_rel)
} fpt_fit_prediction;

// Settings of a fit (fpt_fit_options_default gives the defaults).
typedef struct fpt_fit_options {
    double target;                  // percent; NAN: the experiment's only target
    double reference;               // tau0 of every periodic protocol; 0 = automatic
    double reference_p;             // p0 of every geometric protocol; 0 = automatic
    int ks_reference;               // KS reference epoch; 0 = horizon / 2
    double alpha;                   // KS significance level (0.05)
    int ks_window;                  // W: epochs that must all stop rejecting, and the
                                    // lag of the drift criterion (5)
    double relax_tolerance;         // t_rel: drift D(t) at most its late floor plus
                                    // this (0.05; ks.h, fpt_relaxation_drift)
    int tail_t0;                    // tail fit start; 0 = max(t_rel, horizon / 2)
    int bootstrap;                  // resamples (1000); 0 = no intervals
    uint64_t seed;                  // bootstrap seed
    double level;                   // interval level (0.95)
    fpt_ci_kind ci;                 // survival interval transform (log-log)
    int min_runs;                   // fewest runs for a condition to be used (10)
    double qss_tolerance;           // the QSS check: |relative error| the model may
                                    // make at a measured period (0.10)
    // The protocol whose mean FPT is predicted from the baseline alone, as
    // a full restart at every period: its predictions carry its name.  The
    // analysis knows no protocols; the default is the protocol table's
    // restart entry ("reset", fpt_protocol_restart_name: a test checks the
    // two agree) and the campaign layer passes the table's.  NULL: none.
    const char *restart_protocol;
} fpt_fit_options;

extern const fpt_fit_options fpt_fit_options_default;

typedef struct fpt_fit {
    int64_t experiment_id;
    char experiment[256];
    fpt_fit_options opt;            // as used (target, reference resolved)
    int horizon;                    // epochs: the longest run
    int excluded_unfinished;        // runs not done (pending, running, failed)
    // Relaxation (docs/SCIENCE.md s2), on the baseline runs.  t_rel is the
    // drift criterion's (ks.h, fpt_relaxation_drift), with a bootstrap
    // interval over runs; the KS tests against one reference epoch are kept
    // as a diagnostic (the report prints them; the fit no longer uses them).
    int t_rel;                      // epochs; 0 if the drift never settles
    int t_rel_lo, t_rel_hi;         // its interval at opt.level (0, 0: no bootstrap)
    double relax_floor;             // the late median of the drift D
    int n_drift;                    // D(t) for t = 1..n_drift
    double *drift;                  // D(t) at index t - 1
    int ks_reference;               // epoch
    int ks_t_rel;                   // where the KS tests stop rejecting (0: never)
    int n_ks;                       // epochs 1..n_ks
    double *ks_d, *ks_p;            // KS statistic and p-value at epoch t = i + 1
    // Per condition, baseline first.
    int n_conditions;
    fpt_fit_condition *conditions;
    int n_protocols;
    fpt_fit_protocol *protocols;
    int n_predictions;
    fpt_fit_prediction *predictions;
    int n_qss;                      // the QSS check's comparisons
    fpt_qss_test *qss;
    // Baseline moments for the linear response (tail-extrapolated, NAN if not).
    double mean_t, mean_t2;
    // What could not be done, one line each ("no geometric runs ...").
    int n_notes;
    char notes[8][200];
} fpt_fit;

#include "analysis/runs.h"

// Fits the finished runs at opt->target (which must be a number here).
// Fails, saying what is missing, when there are no unperturbed runs or fewer
// than opt->min_runs of them, or the target is out of range.  A protocol
// without a usable reference period gets no predictions and a `why`.  The
// QSS check (fpt_qss_check) runs last, so every prediction's support and
// validity are set on return.
int fpt_fit_run(const fpt_runs *runs, const fpt_fit_options *opt, fpt_fit *out, fpt_err *err);
void fpt_fit_free(fpt_fit *f);

// Whether the fit's target is reached often enough to estimate and
// recommend: at least opt.min_runs runs of one condition reach it.  With
// fewer in every condition, every mean FPT is the horizon or rests on a
// handful of passages, and a recommendation would only rank censoring: -1
// with one line saying how many runs reach it (in all, unperturbed, at most
// in one condition), how many the analysis needs, and what the runs do reach
// (final accuracies).  `fptfarm fit` and a campaign's final fit refuse such a
// target (campaign/fit_db.c); the adaptive planner's interim fits do not ask
// (their early batches are small by design).
int fpt_fit_reachable(const fpt_fit *f, fpt_err *err);

// The percentile bootstrap interval of v[0..n) at level (docs/SCIENCE.md
// s4.7): v is sorted in place, NAN entries left out (infinities kept); lo =
// v[floor(a (m - 1))], hi = v[ceil((1 - a)(m - 1))] over the m others, a =
// (1 - level) / 2; both NAN when m = 0.
void fpt_fit_percentile(double *v, int n, double level, double *lo, double *hi);

// The QSS check (qss_check.c, docs/SCIENCE.md s4.6), run by fpt_fit_run once
// the predictions and their intervals are made: for each periodic protocol
// with a reference, every measured period's mean FPT predicted from every
// other period that can serve as a reference (leave-one-out), the
// post-perturbation laws of neighbouring such periods compared, each
// measured period's verdict, the protocol's confirmed and contradicted
// ranges, and every prediction's support and validity.  Intervals from its
// own bootstrap over runs (min(opt.bootstrap, 400) resamples, stream
// FPT_RNG_QSS); with no bootstrap the verdicts rest on the point values.
int fpt_qss_check(const fpt_runs *runs, fpt_fit *f, fpt_err *err);

// Lookups by condition (NULL when absent; frequencies matched by their key,
// analysis/condition.h).
const fpt_fit_condition *fpt_fit_condition_of(const fpt_fit *f, const char *protocol,
                                              const char *timing, double frequency);
const fpt_fit_prediction *fpt_fit_prediction_of(const fpt_fit *f, const char *protocol,
                                                const char *timing, double frequency,
                                                fpt_model model);

// The short report on stdout (fit_report.c): relaxation, conditions,
// response model, measured against predicted, recommendation.
void fpt_fit_report(const fpt_fit *f, FILE *out);

#endif
