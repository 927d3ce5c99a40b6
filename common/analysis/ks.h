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

#endif
