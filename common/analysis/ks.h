// ks.h — two-sample Kolmogorov-Smirnov test, and the relaxation time of
// training it measures (docs/SCIENCE.md s2).
//
// The test compares two samples' empirical CDFs F_x, F_y by
//     D = sup_v |F_x(v) - F_y(v)|,
// evaluated after every distinct value of the pooled sample, so tied values
// (within or across samples) move both CDFs at once.  The p-value is the
// asymptotic one with Stephens' (1970) small-sample correction, as in
// Numerical Recipes' kstwo:
//     p = Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D),   ne = n m / (n + m),
//     Q_KS(l) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 l^2).
// Numerical Recipes calls it good for ne >= 4; it is asymptotic, and at small
// sizes the exact null law of the discrete D differs from it.
#ifndef FPT_KS_H
#define FPT_KS_H

#include <stddef.h>

#include "base/error.h"

typedef struct fpt_ks {
    double d;   // the KS statistic, in [0, 1]
    double p;   // asymptotic p-value, in [0, 1]
    int n, m;   // sample sizes
} fpt_ks;

// x (n values) against y (m values), n, m >= 1; the inputs are not modified
// (sorted copies are used).  A NaN in either sample is an error.
int fpt_ks_2samp(const double *x, size_t n, const double *y, size_t m, fpt_ks *out, fpt_err *err);

// The Kolmogorov survival function Q_KS(l) = P(K > l); 1 for l <= 0, NaN for
// NaN.
double fpt_kolmogorov_q(double lambda);

// Relaxation time (docs/SCIENCE.md s2): the across-run distribution of test
// accuracy at epoch t is compared with that at a late reference epoch, for
// t = 1 .. ref_epoch - 1.
typedef struct fpt_relax {
    int ref_epoch;   // epochs
    int t_rel;       // epochs: the smallest t such that p(t') >= alpha for every
                     // t' in [t, t + window) clipped to t' < ref_epoch; 0 if
                     // there is none (the test never stops rejecting)
    int n;           // = ref_epoch - 1
    double *d, *p;   // KS statistic and p-value of epoch t at index t - 1 (malloc'd)
} fpt_relax;

// acc is (runs, stride) row-major: acc[r * stride + (e - 1)] is the test
// accuracy of run r after epoch e.  Only epochs 1 .. ref_epoch are read.
// Needs runs >= 2, 2 <= ref_epoch <= stride, 0 < alpha < 1, window >= 1.
// On success free out with fpt_relax_free; on failure nothing is allocated.
//
// Caveats for the caller: epoch t and the reference come from the same runs,
// so the samples are paired, not independent as the test assumes; and the
// window is clipped at the reference, so a t close to ref_epoch needs fewer
// non-rejections.  Choose ref_epoch well past the expected t_rel.
int fpt_relaxation_time(const double *acc, size_t runs, int stride, int ref_epoch, double alpha,
                        int window, fpt_relax *out, fpt_err *err);
void fpt_relax_free(fpt_relax *r);

// Relaxation by effect size (docs/SCIENCE.md s2), the fit's t_rel.  The
// across-run distribution of test accuracy at epoch t is compared with the
// one `window` epochs later by their KS distance
//     D(t) = sup_v |F_t(v) - F_{t+W}(v)|,   t = 1 .. H - W,
// an effect size in [0, 1] (the largest difference in the fraction of runs
// below any accuracy), not a p-value: a p-value threshold rejects ever
// smaller drifts as runs are added, so a test-based t_rel moves later with
// the ensemble.  D(t) of a finite ensemble does not fall to 0 once the law
// stops changing: sampling noise (about 1/sqrt(runs)) and any slow creep of
// the plateau leave a floor, measured from the data as the median of D(t)
// over the late epochs t in [H/2, H - W].  Relaxed means no more drift than
// that floor plus `tolerance`:
//     t_rel = the first t with D(t') <= floor + tolerance for every t' in
//             [t, t + W) (clipped at H - W); 0 if there is none.
// Measuring the floor at the ensemble's own size and horizon is what keeps
// t_rel where the law settles when runs are added (the floor falls with
// them) or the horizon is cut (the late half of a shorter run is still the
// plateau), where a fixed reference epoch at H/2 moved it.
typedef struct fpt_drift {
    int horizon, window;   // H and W, epochs
    double tolerance;      // on D, in [0, 1]
    double floor;          // the late median of D
    int t_rel;             // epochs; 0: none
    int n;                 // = H - W
    double *d;             // D(t) at index t - 1 (malloc'd)
} fpt_drift;

// acc is (runs, stride) row-major as for fpt_relaxation_time; epochs
// 1 .. horizon are read.  Needs runs >= 1, 1 <= window, 2 window < horizon <=
// stride, 0 <= tolerance <= 1.  On success free out with fpt_drift_free; on
// failure nothing is allocated.
int fpt_relaxation_drift(const double *acc, size_t runs, int stride, int horizon, int window,
                         double tolerance, fpt_drift *out, fpt_err *err);
void fpt_drift_free(fpt_drift *d);

// The same for many resamples of the runs (the fit's bootstrap) without
// sorting again: every epoch's accuracies sorted once, each with its run.
typedef struct fpt_drift_data {
    int runs, horizon;
    double *val;   // (horizon, runs): epoch e's accuracies ascending, row e - 1
    int *run;      // (horizon, runs): the run each of them came from
} fpt_drift_data;
int fpt_drift_data_make(const double *acc, size_t runs, int stride, int horizon,
                        fpt_drift_data *out, fpt_err *err);
void fpt_drift_data_free(fpt_drift_data *d);
// fpt_relaxation_drift of the resample holding count[r] copies of run r
// (counts summing to d->runs); count NULL: every run once.  Same checks and
// results as fpt_relaxation_drift on that resample's matrix.
int fpt_drift_compute(const fpt_drift_data *d, const int *count, int window, double tolerance,
                      fpt_drift *out, fpt_err *err);

#endif
